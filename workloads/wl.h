/*
 * wl.h - shared pieces of farsight-workloads, the multi-call program that runs the
 * paper's four workloads (mcf, xgboost, pagerank, sssp).
 *
 * Design: every workload is one function `int wl_NAME(const wl_args *a)` that builds its
 * input from a deterministic generator (seeded by --seed), runs its kernel, and returns
 * the checksum of the result through wl_report().  Nothing here knows about far memory:
 * workloads allocate their big data with plain malloc/new, so that under `farsight run`
 * the preload shim places it in far memory like any other program's heap.
 *
 * Output contract (relied on by `farsight bench` and the tests):
 *   stdout: a few result lines, then the final line "checksum: <16 hex digits>";
 *   stderr: "time: ..." and "footprint: ..." lines (timings are not part of the result).
 */
#ifndef WL_H
#define WL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { WL_TINY = 0, WL_SMALL = 1, WL_FULL = 2 } wl_size;
typedef enum { WL_KRON = 0, WL_URAND = 1 } wl_graph_kind;

typedef struct wl_args {
	wl_size size;
	uint64_t seed;
	wl_graph_kind graph;
	int threads;          /* xgboost nthread */
	int scale;            /* graph scale override (0 = from size) */
	const char *name;
} wl_args;

/* ---- deterministic random numbers: splitmix64 seeding a xoshiro256** stream ---- */
typedef struct wl_rng {
	uint64_t s[4];
} wl_rng;
void wl_rng_seed(wl_rng *r, uint64_t seed, uint64_t stream);
static inline uint64_t wl_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static inline uint64_t wl_rng_next(wl_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = wl_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
	s[2] ^= t; s[3] = wl_rotl(s[3], 45);
	return result;
}
/* Uniform double in [0,1) from the top 53 bits. */
static inline double wl_rng_double(wl_rng *r) { return (wl_rng_next(r) >> 11) * 0x1.0p-53; }
/* Uniform integer in [0,n) (Lemire's multiply-shift; the tiny bias is irrelevant here). */
static inline uint64_t wl_rng_below(wl_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)wl_rng_next(r) * n) >> 64);
}

/* ---- checksums ---- */
#define WL_FNV_SEED 0xcbf29ce484222325ull
uint64_t wl_fnv1a(const void *data, size_t len, uint64_t h);
static inline uint64_t wl_fnv_u64(uint64_t h, uint64_t v) { return wl_fnv1a(&v, sizeof v, h); }

/* ---- timing and reporting ---- */
double wl_now(void);
/* Aborts with a message naming what could not be allocated (the workloads have no
 * useful way to continue without their data). */
void *wl_alloc(size_t bytes, const char *what);
/* Prints the phase times and the footprint (peak RSS) on stderr, and the checksum as
 * the final line on stdout. */
void wl_report(const wl_args *a, double gen_s, double kernel_s, uint64_t checksum);

int wl_pagerank(const wl_args *a);
int wl_sssp(const wl_args *a);
int wl_mcf(const wl_args *a);
int wl_xgboost(const wl_args *a);

#ifdef __cplusplus
}
#endif
#endif
