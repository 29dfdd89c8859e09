/*
 * bench.h - internals of `farsight bench`, in the order a bench goes:
 *   parse   cmd_bench.c: the command line into bench_opts and the plan's scalars
 *           (and --merge, which runs nothing);
 *   plan    bench_plan.c: the lists (workloads, ratios, prefetchers), the runs in
 *           order, the binaries they call;
 *   run     bench_run.c: each run's budget from its workload's baselines, its command
 *           line, its execution (bench_exec.c: one child with a timeout, and reading
 *           its checksum and stats JSON) and the progress line;
 *   report  bench_report.c: results.csv, report.md and the gnuplot plots.
 */
#ifndef FS_BENCH_H
#define FS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_KV 96

/* One flat key/value pair from the stats JSON (nested objects flattened "a.b"). */
typedef struct bench_kv {
	char key[64];
	char val[96];
} bench_kv;

/* Kinds of run: the plain all-local baseline, farsight with a huge budget (footprint
 * and runtime overhead), a trace recording for the oracle, a far-memory measurement.
 * The kernel baseline (prefetch "linux-swap", "linux-swap-ra0") is a RUN_FAR too: the
 * plain workload under tools/linux-swap-run.sh, so tables and plots treat it as one
 * more prefetcher (docs/BENCH.md). */
enum { RUN_PLAIN = 0, RUN_HUGE = 1, RUN_RECORD = 2, RUN_FAR = 3 };

typedef struct bench_run {
	int kind;
	const char *workload;
	int ratio;              /* percent of the footprint; 0 for plain/huge */
	const char *prefetch;   /* "" for plain */
	int rep;
	uint64_t budget;        /* --local-mem bytes (0 for plain) */
	/* results */
	int done;
	int status;             /* exit status, or 128+signal, or -1 timeout */
	double seconds;         /* the workload's kernel time ("time: ... kernel X s" on its
				 * stderr: the compute phase, without input generation, as
				 * GAP times its kernels); the wall time if it printed none */
	double wall_seconds;    /* wall time of the child */
	char checksum[24];
	int checksum_ok;        /* equals the plain run's checksum */
	double normalised;      /* plain median / seconds */
	long maxrss_kb;         /* the child's peak RSS (wait4); results.csv's peak_rss_bytes */
	int skipped;            /* not run: linux-swap unavailable here (plan.swap_skip) */
	int n_kv;
	bench_kv kv[BENCH_MAX_KV];
} bench_run;

/* Run argv (argv[0] a path) with stdout to out_path and stderr to err_path, pinned to
 * `cpu` (-1: not pinned), killed after timeout_s: with SIGKILL at once if term_grace_s
 * is 0, else SIGTERM first and SIGKILL term_grace_s later (linux-swap-run.sh tears its
 * swap device and cgroup down on SIGTERM, not on SIGKILL).  Returns the exit status
 * (0..255), 128+signal, or -1 on timeout / failure to start; *seconds gets the wall
 * time, *maxrss_kb (if not NULL) the child's peak RSS in KiB. */
int bench_exec(char *const argv[], const char *out_path, const char *err_path, int cpu,
	       double timeout_s, double term_grace_s, double *seconds, long *maxrss_kb);
/* The page-cluster of a kernel-baseline configuration name: 3 for "linux-swap", 0 for
 * "linux-swap-ra0" and "linux-swap-zram" (zram is read synchronously, without swap
 * readahead, and zram setups set page-cluster 0); -1 for a farsight prefetcher. */
int bench_linux_swap_cluster(const char *prefetch);
/* Its swap device: "zram" for "linux-swap-zram" (compressed RAM, lz4), else "file". */
const char *bench_linux_swap_device(const char *prefetch);
/* A prefetcher entry is a policy name, optionally with settings of `farsight run`:
 * "farsight+prefetch_map=fault" runs farsight with --prefetch-map fault, so two
 * configurations of one policy stand side by side in one bench.  bench_policy_is
 * compares the policy part; bench_variant_check says what is wrong with an entry
 * (0, or FS_EINVAL with a sentence); bench_variant_args appends the entry's flags and
 * values to av (pointing into buf, which must outlive av). */
int bench_policy_is(const char *entry, const char *policy);
int bench_variant_check(const char *entry, char *err, size_t errlen);
int bench_variant_args(const char *entry, char *buf, size_t buflen, char **av, int max);
/* The kernel time of a workload's "time: generate G s, kernel K s, ..." stderr line,
 * or NaN if the file has none. */
double bench_read_kernel_seconds(const char *path);
/* The last "checksum: HEX" line of a file, or "" if none. */
void bench_read_checksum(const char *path, char *out, size_t outlen);
/* Flatten a JSON object file into kv; returns the count, or -1 if unreadable. */
int bench_read_json(const char *path, bench_kv *kv, int max);
const char *bench_kv_get(const bench_run *r, const char *key);
double bench_kv_num(const bench_run *r, const char *key); /* NaN if absent */

/* What the command line asked for beyond the plan's scalars (parse -> plan). */
typedef struct bench_opts {
	char *workloads, *ratios, *prefetch; /* comma-separated lists; NULL: the defaults */
	char *merge;                         /* --merge LIST; NULL: a bench that runs */
	int quick, reps_given, size_given;
} bench_opts;

typedef struct bench_plan {
	const char *out_dir;
	const char *size;
	const char *seed;
	const char *graph;
	const char *backend;
	const char *command_line; /* how bench was invoked, for the report */
	const char *models;       /* --models DIR or FILE; NULL: no farsight runs */
	double timeout;           /* --timeout seconds; 0: from the plain time */
	int dry;                  /* --dry-run: print the commands, run nothing */
	int cpu;
	int reps;
	int n_workloads, n_ratios, n_prefetch;
	const char *workloads[8];
	int ratios[16];
	const char *prefetch[16];
	bench_run *runs;
	int n_runs;
	double started;           /* wall clock, for the report */
	char bin[1024];           /* the farsight binary the runs call */
	char wl_bin[1024];        /* farsight-workloads */
	char logs[1100];          /* out_dir/logs: every run's stdout, stderr and JSON */
	char swap_script_buf[1100];
	const char *swap_script;  /* tools/linux-swap-run.sh, if a linux-swap config is asked */
	char swap_skip[256];      /* why linux-swap was skipped here ("" if it ran) */
	/* --merge: the results.csv files read, for the report; NULL for a bench that ran */
	const char *merged_from;
	const char *merged_size;  /* the size name, owned (bench_merged_free) */
} bench_plan;

/* plan: the lists and the runs from o (defaults, --quick), and the binaries they need.
 * 0, or 2 after a usage error on stderr.  p->runs is freed by the caller. */
int bench_plan_make(bench_plan *p, const bench_opts *o);
/* run: every run of the plan in order (with --dry-run: print each command line);
 * results.csv rewritten after each.  Returns the number of failed runs, or -1 if the
 * output folder cannot be made. */
int bench_run_all(bench_plan *p);
/* mkdir -p */
int bench_mkdir_p(const char *path);
/* "42s", "3m05s", "1h02m" */
void bench_fmt_dur(double s, char *out, size_t n);
double bench_now(void);

double bench_median(double *v, int n);
/* Rewrites results.csv from every finished run (called after each run, so a crash
 * loses nothing). */
int bench_write_csv(const bench_plan *p);
/* report.md and the plots; returns the number of failed runs it listed. */
int bench_write_report(const bench_plan *p);
/* --merge: append the runs of a results.csv that bench_write_csv wrote to p->runs
 * (capacity *cap, grown as needed), interning workload and prefetcher names into p's
 * lists (first-seen order) and numbering repetitions on across files.  Refuses, with
 * a sentence in err, a file that is not such a results.csv, a damaged row, another
 * size, or all-local checksums that differ from the files before (other inputs).
 * bench_merged_free frees what it allocated. */
int bench_read_csv(bench_plan *p, int *cap, const char *path, char *err, size_t errlen);
void bench_merged_free(bench_plan *p);

#endif
