/*
 * xgboost.c - the `xgboost` workload: gradient-boosted tree training with Debian's
 * libxgboost (C API, 1.7), in this process, so that under `farsight run` the training
 * data, the quantised histogram index and the gradient buffers all live in far memory.
 *
 * Input: a HIGGS-like dataset generated from --seed.  HIGGS (UCI) has 28 features per
 * collision event: 21 low-level kinematic ones (transverse momenta, pseudorapidities,
 * azimuths, b-tags of a lepton and four jets, missing energy) and 7 high-level ones
 * (invariant masses computed from the low-level ones), and a binary label (signal, a
 * Higgs decay, or background).  The generator draws the low-level features from the
 * shapes those have (exponential momenta, normal pseudorapidities, uniform angles,
 * discrete b-tags), shifted for signal events, and computes the high-level ones as
 * nonlinear functions of them plus noise, so that trees have real structure to learn.
 *
 * Training: tree_method=hist, max_depth 8, eta 0.1, binary:logistic, nthread from
 * --threads (default 1).  Checksum: predictions on a fixed held-out set of 10,000
 * generated rows, rounded to 1e-6, FNV-1a.
 */
#include "wl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <xgboost/c_api.h>

#define N_FEATURES 28
#define N_TEST 10000

#define XGB_CHECK(call)                                                                   \
	do {                                                                              \
		if ((call) != 0) {                                                        \
			fprintf(stderr, "farsight-workloads: xgboost: %s failed: %s\n", #call, \
				XGBGetLastError());                                       \
			return 1;                                                         \
		}                                                                         \
	} while (0)

static double normal(wl_rng *r)
{
	/* Box-Muller; one value per call is plenty fast next to training. */
	double u = wl_rng_double(r), v = wl_rng_double(r);
	return sqrt(-2.0 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static void higgs_row(wl_rng *r, float *x, float *label)
{
	int signal = wl_rng_double(r) < 0.53;
	double s = signal ? 1.0 : 0.0;
	double pt[5], eta[5], phi[5];
	int k = 0;
	/* lepton, missing energy, then four jets: pt (exponential), eta, phi, b-tag */
	for (int obj = 0; obj < 5; obj++) {
		pt[obj] = -log(1.0 - wl_rng_double(r)) * (signal ? 1.15 : 1.0) + 0.2 * s * (obj == 1);
		eta[obj] = normal(r) * (signal ? 0.9 : 1.1);
		phi[obj] = (wl_rng_double(r) * 2 - 1) * M_PI;
		x[k++] = (float)pt[obj];
		if (obj == 1) { /* missing energy has pt and phi only */
			x[k++] = (float)phi[obj];
			continue;
		}
		x[k++] = (float)eta[obj];
		x[k++] = (float)phi[obj];
		if (obj >= 2) { /* jets carry a b-tag 0, 1.1 or 2.2 as in HIGGS */
			double u = wl_rng_double(r) + 0.15 * s;
			x[k++] = u < 0.55 ? 0.0f : u < 0.85 ? 1.1f : 2.2f;
		}
	}
	/* k == 21: high-level features, invariant-mass-like combinations */
	for (int h = 0; h < 7; h++) {
		int i = h % 5, j = (h + 2) % 5;
		double m2 = 2 * pt[i] * pt[j] * (cosh(eta[i] - eta[j]) - cos(phi[i] - phi[j]));
		double m = sqrt(fabs(m2)) * (1.0 + 0.05 * normal(r));
		if (signal && h == 3)
			m = 0.5 * m + 0.6 + 0.1 * normal(r); /* a mass peak, as m_bb has */
		x[k++] = (float)m;
	}
	*label = (float)signal;
}

static void make_rows(uint64_t seed, uint64_t stream, size_t n, float *x, float *y)
{
	wl_rng r;
	wl_rng_seed(&r, seed, stream);
	for (size_t i = 0; i < n; i++)
		higgs_row(&r, x + i * N_FEATURES, y + i);
}

int wl_xgboost(const wl_args *a)
{
	static const struct {
		size_t rows;
		int rounds;
	} sizes[] = { { 20000, 10 }, { 750000, 16 }, { 3000000, 30 } };
	size_t rows = sizes[a->size].rows;
	int rounds = sizes[a->size].rounds;
	char nthread[16];
	snprintf(nthread, sizeof nthread, "%d", a->threads);

	double t0 = wl_now();
	float *x = wl_alloc(rows * N_FEATURES * sizeof *x, "the training data");
	float *y = wl_alloc(rows * sizeof *y, "the training labels");
	float *tx = wl_alloc((size_t)N_TEST * N_FEATURES * sizeof *tx, "the test data");
	float *ty = wl_alloc((size_t)N_TEST * sizeof *ty, "the test labels");
	make_rows(a->seed, 1, rows, x, y);
	make_rows(a->seed, 2, N_TEST, tx, ty);

	DMatrixHandle dtrain, dtest;
	XGB_CHECK(XGDMatrixCreateFromMat_omp(x, rows, N_FEATURES, NAN, &dtrain, a->threads));
	XGB_CHECK(XGDMatrixSetFloatInfo(dtrain, "label", y, rows));
	XGB_CHECK(XGDMatrixCreateFromMat(tx, N_TEST, N_FEATURES, NAN, &dtest));
	double t1 = wl_now();

	BoosterHandle booster;
	XGB_CHECK(XGBoosterCreate(&dtrain, 1, &booster));
	XGB_CHECK(XGBoosterSetParam(booster, "tree_method", "hist"));
	XGB_CHECK(XGBoosterSetParam(booster, "objective", "binary:logistic"));
	XGB_CHECK(XGBoosterSetParam(booster, "max_depth", "8"));
	XGB_CHECK(XGBoosterSetParam(booster, "eta", "0.1"));
	XGB_CHECK(XGBoosterSetParam(booster, "max_bin", "256"));
	XGB_CHECK(XGBoosterSetParam(booster, "nthread", nthread));
	XGB_CHECK(XGBoosterSetParam(booster, "seed", "0"));
	XGB_CHECK(XGBoosterSetParam(booster, "verbosity", "0"));
	for (int it = 0; it < rounds; it++)
		XGB_CHECK(XGBoosterUpdateOneIter(booster, it, dtrain));
	double t2 = wl_now();

	bst_ulong n_pred;
	const float *pred;
	XGB_CHECK(XGBoosterPredict(booster, dtest, 0, 0, 0, &n_pred, &pred));
	uint64_t h = WL_FNV_SEED;
	size_t correct = 0;
	for (bst_ulong i = 0; i < n_pred; i++) {
		h = wl_fnv_u64(h, (uint64_t)llround(pred[i] * 1e6));
		correct += (pred[i] > 0.5f) == (ty[i] > 0.5f);
	}
	printf("xgboost: %zu rows x %d features, %d rounds, hist, max_depth 8, nthread %d\n", rows,
	       N_FEATURES, rounds, a->threads);
	printf("held-out accuracy %.4f on %d rows\n", (double)correct / n_pred, N_TEST);
	XGBoosterFree(booster);
	XGDMatrixFree(dtrain);
	XGDMatrixFree(dtest);
	free(x);
	free(y);
	free(tx);
	free(ty);
	wl_report(a, t1 - t0, t2 - t1, h);
	return 0;
}
