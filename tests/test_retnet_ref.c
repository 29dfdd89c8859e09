/*
 * test_retnet_ref.c - the C RetNet computes what the PyTorch reference computes.
 *
 * tests/data/retnet_ref.bin (written by tools/retnet_ref.py, float64 reference) holds
 * a fixed 2-layer model, inputs and targets with pad positions, and the reference
 * logits, loss, gradients of every parameter and parameters after one AdamW step.
 * Each is compared to ~1e-4 relative.  tests/data/retnet_ref_default.bin holds the
 * same for the project's default sizes (V=16, D=16, 1 layer, 2 heads, F=32, T=64),
 * and every inference kernel the CPU has (model/kernels.h: generic, portable, avx2,
 * avx512) is stepped token by token through its inputs: its logits and probabilities
 * must match the reference's at every position.
 */
#include "testlib.h"
#include "model/kernels.h"
#include "model/retnet.h"

#include <stdint.h>


static unsigned char *buf;
static size_t len, off;

static int rd(void *dst, size_t n)
{
	if (off + n > len)
		return -1;
	memcpy(dst, buf + off, n);
	off += n;
	return 0;
}

/* max over i of |a-b| / (|b| + floor), floor = 1e-2 * max|b| (so near-zero entries of
 * a large array are judged against the array's scale, not their own) */
static double max_rel_err(const float *a, const float *b, size_t n)
{
	double mx = 0.0, worst = 0.0;
	for (size_t i = 0; i < n; i++)
		mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
	double floor = 1e-2 * mx + 1e-12;
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]) / (fabs(b[i]) + floor);
		worst = e > worst ? e : worst;
	}
	return worst;
}

static void check_kernels(const fs_retnet *m, const int *in, const float *ref, uint32_t B,
			  uint32_t T)
{
	const size_t V = m->cfg.vocab;
	int ran = 0;
	for (int k = FS_RN_K_GENERIC; k < FS_RN_K_COUNT; k++) {
		if (!fs_rn_kernel_ok(m, k)) {
			printf("  kernel %s: not available here (shape or CPU)\n", fs_rn_kernel_name(k));
			continue;
		}
		fs_rn_packed *pk = NULL;
		CHECK(fs_rn_pack(m, k, &pk) == 0);
		if (!pk)
			continue;
		CHECK(pk->kernel == k);
		ran++;
		fs_rn_state *s = fs_rn_state_new(m);
		float z[FS_RN_MAX_V], p[FS_RN_MAX_V], *all = malloc((size_t)B * T * V * sizeof(float));
		double ep = 0.0;
		for (uint32_t b = 0; b < B; b++) {
			fs_rn_state_reset(m, s);
			for (uint32_t t = 0; t < T; t++) {
				fs_rn_kstep(pk, s, in[b * T + t], z, p);
				memcpy(all + ((size_t)b * T + t) * V, z, V * sizeof(float));
				/* probabilities: softmax of the reference's logits */
				const float *r = ref + ((size_t)b * T + t) * V;
				double mx = r[0], sum = 0.0;
				for (size_t v = 1; v < V; v++)
					mx = r[v] > mx ? r[v] : mx;
				for (size_t v = 0; v < V; v++)
					sum += exp(r[v] - mx);
				for (size_t v = 0; v < V; v++) {
					double e = fabs(p[v] - exp(r[v] - mx) / sum);
					ep = e > ep ? e : ep;
				}
			}
		}
		double el = max_rel_err(all, ref, (size_t)B * T * V);
		printf("  kernel %-8s: step by step, logits max rel err %.2e, probabilities max abs "
		       "err %.2e\n", fs_rn_kernel_name(k), el, ep);
		CHECK(el < 1e-4);
		CHECK(ep < 1e-5);
		free(all);
		free(s);
		fs_rn_packed_free(pk);
	}
	CHECK(ran >= 1);
}

static void check_file(const char *path, int kernels)
{
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	if (!f)
		return;
	off = 0;
	buf = malloc(1 << 20);
	len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	char magic[8];
	uint32_t hdr[7], n;
	rd(magic, 8);
	CHECK(!memcmp(magic, "FSRNREF1", 8));
	rd(hdr, sizeof(hdr));
	fs_retnet_config c;
	memset(&c, 0, sizeof(c));
	c.vocab = hdr[0];
	c.d_model = hdr[1];
	c.n_layers = hdr[2];
	c.n_heads = hdr[3];
	c.d_ffn = hdr[4];
	c.seq_len = hdr[5];
	uint32_t B = hdr[6], T = hdr[5];
	rd(c.gamma, c.n_heads * sizeof(float));
	rd(&c.rope_base, 4);
	rd(&c.eps, 4);
	rd(&n, 4);
	fs_retnet *m = NULL;
	CHECK(fs_rn_create(&c, &m) == 0);
	if (!m)
		return;
	CHECK_EQ_U64(m->n_params, n);
	size_t N = (size_t)B * T, V = c.vocab;
	int *in = malloc(N * sizeof(int)), *tg = malloc(N * sizeof(int));
	float *logits = malloc(N * V * sizeof(float)), *grads = malloc(n * sizeof(float));
	float *after = malloc(n * sizeof(float)), loss, hp[5];
	rd(m->params, n * sizeof(float));
	float *params0 = malloc(n * sizeof(float));
	memcpy(params0, m->params, n * sizeof(float));
	rd(in, N * 4);
	rd(tg, N * 4);
	rd(logits, N * V * 4);
	rd(&loss, 4);
	rd(grads, n * 4);
	rd(hp, sizeof(hp));
	CHECK(rd(after, n * 4) == 0);
	CHECK_EQ_U64(off, len);

	CHECK(fs_rn_train_init(m, B, T) == 0);
	float l = fs_rn_forward(m, in, tg, B, T);
	CHECK_NEAR(l, loss, 1e-4 * fabs(loss));
	double el = max_rel_err(fs_rn_logits(m), logits, N * V);
	printf("  logits max rel err %.2e, loss %.6f vs %.6f\n", el, l, loss);
	CHECK(el < 1e-4);
	fs_rn_zero_grad(m);
	fs_rn_backward(m);
	double eg = max_rel_err(m->grads, grads, n);
	printf("  grads max rel err %.2e\n", eg);
	CHECK(eg < 1e-4);
	/* per-tensor check, so a failure names the layer */
	double ew = max_rel_err(m->g.wte, grads, c.vocab * c.d_model);
	CHECK(ew < 1e-4);
	fs_rn_adamw(m, hp[0], hp[1], hp[2], hp[3], hp[4]);
	double ea = max_rel_err(m->params, after, n);
	printf("  adamw params max rel err %.2e\n", ea);
	CHECK(ea < 1e-4);
	if (kernels) {
		memcpy(m->params, params0, n * sizeof(float));
		check_kernels(m, in, logits, B, T);
	}
	free(params0);
	fs_rn_destroy(m);
	free(in);
	free(tg);
	free(logits);
	free(grads);
	free(after);
	free(buf);
}

TEST(matches_pytorch_reference)
{
	check_file("tests/data/retnet_ref.bin", 0);
}

TEST(default_sizes_and_every_kernel_match_pytorch_reference)
{
	check_file("tests/data/retnet_ref_default.bin", 1);
}

int main(void)
{
	RUN(matches_pytorch_reference);
	RUN(default_sizes_and_every_kernel_match_pytorch_reference);
	return TEST_EXIT();
}
