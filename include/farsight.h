/*
 * farsight.h - the one public header of libfarsight.
 *
 * libfarsight is a user-space far-memory runtime: memory obtained from it lives in a
 * far-memory arena (a memfd registered with userfaultfd); only a budget of its pages is
 * kept local, the rest is held by a backend (an embedded emulated store, or a memory
 * server over TCP), and a prefetcher policy fetches pages before they are touched.
 *
 * Every public name starts with fs_ (FS_ for constants).  Functions return 0 or a
 * negative FS_E* code; fs_strerror() turns a code into a sentence.  No call returns
 * by exit(), with one exception, on purpose: when the backend fails while the program
 * runs (a server lost, a read refused), the pager thread prints what failed and ends
 * the process with _exit(70).  A thread waiting in a fault cannot be handed an error,
 * and a zero page in place of its data would be silent corruption.
 */
#ifndef FARSIGHT_H
#define FARSIGHT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FS_VERSION_STRING "0.1.0"
#define FS_PAGE_SIZE 4096u
#define FS_PAGE_SHIFT 12

/* ---- errors ------------------------------------------------------------------ */
enum {
	FS_OK = 0,
	FS_EINVAL = -1,   /* a bad argument or setting */
	FS_ENOMEM = -2,   /* local allocation failed */
	FS_ENOSYS = -3,   /* the kernel lacks a feature we need */
	FS_EBACKEND = -4, /* the far-memory backend failed (I/O, connection) */
	FS_EFULL = -5,    /* far memory is full */
	FS_EFORMAT = -6,  /* a file is damaged or of the wrong kind/version */
	FS_EIO = -7,      /* a local file could not be read or written */
	FS_EAUTH = -8,    /* the memory server refused our credentials */
	FS_ERANGE = -9,   /* an address or size outside what was set up */
	FS_EAGAIN = -10,  /* not now (a fork is under way): try again */
};
const char *fs_strerror(int err);

/* ---- settings -----------------------------------------------------------------
 * All settings live in one table (src/common/settings.c): name, type, default,
 * environment variable, command-line flag, the accepted values (an enum's names, a
 * number's range) and help text.  `farsight --help`, the README's settings table and
 * the runtime all read it.  fs_config holds the parsed values (enum settings as the
 * enums below); fs_config_from_env() fills it from defaults and FARSIGHT_* variables,
 * fs_config_check() checks what one setting alone cannot (local_mem against the arena
 * and the machine, the watermarks' order) and the enums' ranges of a hand-filled one.
 */
typedef enum fs_prefetch_kind { /* the prefetch setting; src/prefetch/registry.c's order */
	FS_PREFETCH_NONE, FS_PREFETCH_READAHEAD, FS_PREFETCH_LEAP, FS_PREFETCH_HERMIT,
	FS_PREFETCH_ORACLE, FS_PREFETCH_FARSIGHT, FS_PREFETCH_COUNT
} fs_prefetch_kind;
typedef enum fs_prefetch_map_kind { /* the prefetch_map setting */
	FS_MAP_AUTO, FS_MAP_FAULT, FS_MAP_DIRECT
} fs_prefetch_map_kind;
typedef enum fs_arrival_place_kind { FS_PLACE_FRONT, FS_PLACE_BACK } fs_arrival_place_kind;
typedef enum fs_reclaim_kind { FS_RECLAIM_CLOCK, FS_RECLAIM_FIFO } fs_reclaim_kind;
typedef enum fs_cpus_kind { FS_CPUS_AUTO, FS_CPUS_ALL, FS_CPUS_LIST } fs_cpus_kind;

typedef struct fs_config {
	uint64_t local_mem;        /* local budget for far-memory pages, bytes */
	uint32_t prefetch;         /* prefetcher policy, fs_prefetch_kind */
	char backend[256];         /* "mem", "zmem", "tcp://HOST:PORT", "redis://..." */
	double mem_latency_us;     /* mem backend: per-request latency */
	double mem_bandwidth_gbps; /* mem backend: link bandwidth, Gbit/s */
	char stats_json[512];      /* write stats JSON here at exit ("" = no) */
	char record[512];          /* record the event trace here ("" = no) */
	char trace[512];           /* trace to replay (oracle policy) */
	char model[512];           /* model file (farsight policy) */
	uint64_t map_bytes;  /* farsight: future-map memory budget, bytes */
	double min_prob;     /* farsight: confidence threshold of a prefetched token */
	uint32_t candidates; /* farsight: pages from the first prediction step */
	uint32_t fallback;   /* farsight: policy used when the model is unsure, fs_prefetch_kind */
	uint32_t model_lookahead; /* farsight: model steps per event (chain length) */
	char model_kernel[16];    /* farsight: step kernel (auto, avx512, avx2, portable, generic) */
	char secret_file[512];     /* shared secret for the tcp backend */
	uint32_t backend_timeout_ms; /* remote backends: silence that declares a server dead */
	uint64_t local_threshold;  /* preload: allocations smaller than this stay local */
	uint64_t arena_size;       /* virtual size of the far-memory arena */
	uint64_t arena_base;       /* fixed address of the arena (0 = let the kernel pick) */
	uint32_t free_low_pages;   /* reclaim starts when free pages < this */
	uint32_t free_high_pages;  /* ... and stops when free pages >= this */
	uint32_t reclaim_batch;    /* pages evicted per reclaim step */
	uint32_t arrival_place;    /* pages mapped on arrival: fs_arrival_place_kind */
	uint32_t reclaim;          /* victim choice: fs_reclaim_kind */
	uint32_t prefetch_map;     /* prefetched pages: fs_prefetch_map_kind */
	uint32_t readahead_max;    /* readahead window cap, pages */
	uint32_t stream_max;       /* longest run a followed stream grows to, pages */
	uint32_t lookahead;        /* oracle: recorded events it prefetches ahead */
	uint32_t chain_depth;      /* assumed hits a prediction chain runs past a real event */
	uint32_t spin_us;          /* pager spins this long for work before sleeping */
	char cpus[64];             /* CPU placement of program and pager, as given ... */
	uint32_t cpus_kind;        /* ... parsed: fs_cpus_kind */
	uint64_t cpus_mask[16];    /* FS_CPUS_LIST: bit c of word c/64 = CPU c (0-1023) */
	int32_t pager_cpu;         /* pin the pager thread to this CPU (-1 = no pinning) */
	uint32_t quiet;            /* 1 = no summary on stderr */
	uint32_t stats_children;   /* 1 = child processes also print their summary */
} fs_config;

/* Fill *cfg with the defaults, then apply FARSIGHT_* environment variables.  On a bad
 * value returns FS_EINVAL and writes a one-line message (naming the variable, the value
 * and the accepted forms) into err.  It does not call fs_config_check. */
int fs_config_from_env(fs_config *cfg, char *err, size_t errlen);
/* Set one setting by table name ("local_mem") from text; same error contract. */
int fs_config_set(fs_config *cfg, const char *name, const char *value, char *err, size_t errlen);
/* What a whole configuration must satisfy beyond each value's own form: enum values
 * in range, local_mem of at least 64K and at most the arena and this machine's RAM,
 * the arena's size and base, free_low_pages below free_high_pages.  FS_EINVAL with a
 * line naming the setting, the value and what is accepted. */
int fs_config_check(const fs_config *cfg, char *err, size_t errlen);
/* Parse a size: "4096", "64K", "1.5G" (binary units).  Returns FS_EINVAL on junk, a
 * negative number or an overflow. */
int fs_parse_size(const char *text, uint64_t *out);

/* One row of the settings table, for --help and docs generation. */
typedef struct fs_setting_info {
	const char *name;    /* table name, e.g. "local_mem" */
	const char *type;    /* "size", "string", "int", "float", "bool", "enum" */
	const char *def;     /* default, as text */
	const char *env;     /* environment variable */
	const char *flag;    /* command-line flag of `farsight run`, or NULL */
	const char *help;    /* one line (an enum's values and their meaning included) */
	const char *arg;     /* the flag's argument in usage texts: SIZE, FILE, N, a|b|c... */
	const char *const *values; /* an enum's value names, NULL-terminated; else NULL */
} fs_setting_info;
const fs_setting_info *fs_settings_table(size_t *count);
/* The row whose name (by_flag: whose `farsight run` flag, e.g. "--local-mem") is the
 * first len characters of key; NULL if there is none. */
const fs_setting_info *fs_setting_find(const char *key, size_t len, int by_flag);
/* The name of value v of enum setting `setting` ("reclaim", 1 -> "fifo"); "?" if none. */
const char *fs_setting_value_name(const char *setting, uint32_t v);

/* ---- runtime ------------------------------------------------------------------ */
typedef struct fs_runtime fs_runtime;

/* Start a runtime: reserve the arena, register it with userfaultfd, open the backend,
 * start the pager thread.  err receives a one-line reason on failure. */
int fs_runtime_start(const fs_config *cfg, fs_runtime **out, char *err, size_t errlen);
/* Stop the pager, close the backend, unmap the arena.  Memory from fs_alloc becomes
 * invalid.  Only for programs that own the runtime (tests, tools): a preloaded program
 * never stops it, since other threads may still touch far memory during exit. */
void fs_runtime_stop(fs_runtime *rt);

/* Far memory: page-aligned blocks carved from the arena, zero-filled on first touch.
 * Thread-safe.  fs_alloc returns NULL (and errno ENOMEM) when the arena is exhausted;
 * fs_alloc_aligned takes a power-of-two alignment of at least a page. */
void *fs_alloc(fs_runtime *rt, size_t bytes);
void *fs_alloc_aligned(fs_runtime *rt, size_t bytes, size_t align);
/* Return a block (or any page range inside one) to the arena; its contents are dropped. */
int fs_free(fs_runtime *rt, void *addr, size_t bytes);
/* MADV_DONTNEED semantics: the range reads as zeros afterwards, far copies are dropped. */
int fs_discard(fs_runtime *rt, void *addr, size_t bytes);
/* Is addr inside this runtime's arena? */
int fs_contains(const fs_runtime *rt, const void *addr);
/* The arena's address range (for fork handling in the preload shim). */
void fs_arena_range(const fs_runtime *rt, void **base, size_t *size);
/* The configuration the runtime runs with. */
const fs_config *fs_runtime_config(const fs_runtime *rt);

/* The program started a second thread: with cpus=auto, every thread (the pager too)
 * gets back all the CPUs the process had, so a multi-threaded program is not confined
 * to one.  The preload shim calls it from pthread_create. */
void fs_runtime_threads_started(fs_runtime *rt);
/* Under `farsight run` (FARSIGHT_REPORT_FD): publish this process's statistics where
 * `farsight run` reads them after the program ends.  root: this process is the one
 * `farsight run` started (or what it exec'd into), whose summary is printed. */
void fs_runtime_attach_report(fs_runtime *rt, int root);

/* At exit: close the trace being recorded, then print the summary to `summary`
 * (unless quiet or summary is NULL) and write the stats JSON if configured, both from
 * one snapshot (their numbers are equal).  Returns the first error. */
int fs_runtime_report(fs_runtime *rt, FILE *summary);

/* ---- statistics --------------------------------------------------------------- */
#define FS_BACKEND_STATS_MAX 24
/* One counter a backend reports about itself (zmem: pages held, compression ratio;
 * redis: servers lost, reads served by a replica).  name lives as long as the runtime
 * (or the `farsight run` report) the fs_stats came from. */
typedef struct fs_named_stat {
	const char *name;
	double value;
} fs_named_stat;

/* The counts of a run.  Each is defined once, in the table of src/runtime/stats.c,
 * which writes both the summary lines and the JSON keys (`farsight settings --stats`
 * prints the definitions).  faults = demand_fetches + prefetch_hits + zero_fills +
 * reactivations + wp_faults + other_faults. */
typedef struct fs_stats {
	uint64_t faults;             /* all userfaultfd faults taken: the sum of the six below */
	uint64_t demand_fetches;     /* misses served by a backend read */
	uint64_t zero_fills;         /* first touches of never-written pages (no backend trip) */
	uint64_t wp_faults;          /* first writes to clean mapped pages (dirty tracking) */
	uint64_t other_faults;       /* faults on pages already being fetched or mapped */
	uint64_t prefetches_issued;  /* pages requested by the prefetcher and fetched */
	uint64_t prefetch_hits;      /* prefetched pages touched before eviction */
	uint64_t late_hits;          /* ... of which touched while still in flight */
	uint64_t promotions;         /* late hits whose read the backend moved ahead of the
				      * prefetches queued before it */
	uint64_t wasted_prefetches;  /* prefetched pages evicted or dropped untouched */
	uint64_t evictions;          /* pages released by reclaim */
	uint64_t reactivations;      /* pages touched again after the clock unmapped them */
	uint64_t prefetches_mapped;  /* prefetched pages mapped at landing (prefetch_map=direct):
				      * their touches are invisible, not counted as hits */
	uint64_t writebacks;         /* dirty pages written to the backend */
	uint64_t local_mem_budget_bytes;
	uint64_t local_mem_peak_bytes;   /* peak bytes of far-memory pages held locally */
	uint64_t maxrss_bytes;           /* the whole process's peak RSS so far (getrusage) */
	uint64_t far_bytes_read;
	uint64_t far_bytes_written;
	double fetch_latency_us_p50;     /* demand fault to page installed */
	double fetch_latency_us_p99;
	double hit_latency_us_p50;       /* prefetch-hit fault to page installed */
	double inference_ns_per_event;   /* prefetcher time per event */
	uint64_t future_map_bytes;       /* predictor future-map memory (farsight policy) */
	double accuracy;  /* prefetch_hits / (prefetches_issued - prefetches_mapped); NaN: none */
	double coverage;  /* prefetch_hits / (prefetch_hits + demand_fetches); NaN: none */
	double wall_seconds;             /* runtime start to snapshot */
	double pager_cpu_seconds;        /* CPU time of the pager thread */
	char placement[256];             /* CPU placement of the program and its pager */
	/* The whole process tree of a `farsight run` (the program and every process it
	 * forked or exec'd that ran with far memory), when known; 0 otherwise. */
	uint64_t processes;
	uint64_t tree_faults, tree_demand_fetches, tree_zero_fills, tree_evictions;
	uint64_t tree_far_bytes_read, tree_far_bytes_written;
	uint64_t tree_local_peak_bytes;  /* the largest peak of any one process */
	/* The backend's own counters, as the stats JSON's "backend_stats" object. */
	uint32_t n_backend_stats;
	fs_named_stat backend_stats[FS_BACKEND_STATS_MAX];
} fs_stats;

int fs_stats_get(fs_runtime *rt, fs_stats *out);
/* Human-readable summary (a few lines) and one JSON object, both from stats.c's table. */
void fs_stats_print(const fs_stats *s, const fs_config *cfg, FILE *f);
/* The definitions of the counts: key, the words of the summary, meaning (markdown:
 * a table).  `farsight settings --stats`. */
void fs_stats_describe(FILE *f, int markdown);
int fs_stats_write_json(const fs_stats *s, const fs_config *cfg, const char *path);

/* ---- traces ------------------------------------------------------------------
 * The event stream the prefetcher sees, as recorded by `farsight run --record`.
 * Format: docs/TRACE_FORMAT.md.  Page numbers are arena page indices, stable across
 * runs of a deterministic program.
 */
enum { FS_EV_MISS = 0, FS_EV_HIT = 1 };
/* FS_EVF_ASSUMED: a hit the program did not raise: the page was mapped on arrival
 * (prefetch_map direct) and is assumed touched.  Never in a recorded trace. */
enum { FS_EVF_WRITE = 1, FS_EVF_ASSUMED = 2 };

typedef struct fs_event {
	uint64_t page;    /* arena page index */
	uint64_t time_ns; /* since runtime start */
	uint16_t thread;  /* small per-runtime thread index, in order of first fault */
	uint8_t kind;     /* FS_EV_MISS or FS_EV_HIT (first touch of a prefetched page) */
	uint8_t flags;    /* FS_EVF_WRITE, FS_EVF_ASSUMED */
} fs_event;

typedef struct fs_trace_info {
	uint32_t version;
	uint64_t n_events;
	uint64_t local_mem;     /* budget of the recorded run, bytes */
	char prefetch[32];      /* policy of the recorded run */
	char command[1024];     /* program and arguments, space-separated */
	uint64_t command_hash;  /* FNV-1a of argv (NUL-separated), for oracle matching */
} fs_trace_info;

typedef struct fs_trace_writer fs_trace_writer;
int fs_trace_create(const char *path, const fs_trace_info *info, fs_trace_writer **out);
int fs_trace_append(fs_trace_writer *w, const fs_event *ev);
int fs_trace_close(fs_trace_writer *w); /* writes count and checksum; frees w */

/* Read a whole trace, verifying header, length and checksum.  *events is malloc'd.
 * On a damaged file returns FS_EFORMAT with a sentence in err. */
int fs_trace_read(const char *path, fs_trace_info *info, fs_event **events, size_t *n,
		  char *err, size_t errlen);

uint64_t fs_fnv1a(const void *data, size_t len, uint64_t seed);
#define FS_FNV_SEED 0xcbf29ce484222325ull

#ifdef __cplusplus
}
#endif
#endif
