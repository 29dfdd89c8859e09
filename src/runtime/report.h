/*
 * report.h - the report block: a small shared mapping in which every process of one
 * `farsight run` publishes its statistics, so that `farsight run` itself prints the
 * summary and writes the stats file after the program has ended, however it ended
 * (exit, _exit, a signal, a timeout, a crash).  Internal (runtime, preload shim, CLI).
 *
 * `farsight run` creates it (a memfd, inherited by the program as FARSIGHT_REPORT_FD)
 * and reads it after waitpid.  Each process image that starts a runtime claims a
 * slot (its pid) and publishes a few counters into it; the root image (the program
 * `farsight run` started, or whatever it exec'd into: a wrapper launcher's workload)
 * also publishes everything the summary needs.  The pager publishes every
 * FS_REPORT_PERIOD_NS of activity, and the shim once more at exit and _exit; a process
 * killed by a signal leaves its last publication (at most one period old).  Ended
 * processes fold their counters into `done` and free their slot, so a long shell
 * script does not run out of slots.
 */
#ifndef FS_REPORT_H
#define FS_REPORT_H

#include "runtime/runtime.h"

#define FS_REPORT_MAGIC 0x3174726f70657246ull /* "Freport1" */
#define FS_REPORT_PROCS 1024
#define FS_REPORT_PERIOD_NS 20000000ull /* 20 ms */

/* Why the shim left an anonymous mapping local (what `farsight run` reports when a
 * program's memory did not reach far memory). */
enum {
	FS_LOCAL_THRESHOLD, /* smaller than local_threshold */
	FS_LOCAL_FIXED,     /* MAP_FIXED at an address the program chose */
	FS_LOCAL_SHARED,    /* MAP_SHARED anonymous (shared with other processes) */
	FS_LOCAL_RESERVE,   /* small PROT_NONE reservations, executable or other protections */
	FS_LOCAL_HINT,      /* reservations at an address the program asked for */
	FS_LOCAL_FULL,      /* far memory was full (arena_size): local instead */
	FS_LOCAL_REASONS
};

struct fs_report_proc {
	_Atomic int32_t pid; /* 0 = free */
	uint32_t pad;
	_Atomic uint64_t faults, demand_fetches, zero_fills, evictions, far_bytes_read,
		far_bytes_written, peak_pages;
};

struct fs_report {
	uint64_t magic;
	int32_t root_pid;               /* set by farsight run */
	_Atomic uint32_t root_started;  /* the root image started a runtime */
	/* The root image's statistics. */
	struct fs_counters c;
	struct fs_latency lat_demand, lat_hit;
	_Atomic uint64_t budget_pages, start_ns, published_ns;
	char placement[256];            /* CPU placement, as the summary prints it */
	char note[512];                 /* a sentence for the user (e.g. an unmatched trace) */
	char command[256];              /* the root image's command line */
	_Atomic uint64_t local_bytes[FS_LOCAL_REASONS]; /* all processes */
	/* The root image's backend counters (fs_stats.backend_stats) and peak RSS. */
	_Atomic uint32_t n_backend_stats;
	char backend_stat_name[FS_BACKEND_STATS_MAX][32];
	_Atomic uint64_t backend_stat_bits[FS_BACKEND_STATS_MAX]; /* the doubles' bits */
	_Atomic uint64_t maxrss_bytes;
	_Atomic uint32_t processes;     /* process images that started a runtime */
	_Atomic uint32_t untracked;     /* ... that found no free slot */
	struct fs_report_proc done;     /* sums of ended processes */
	struct fs_report_proc proc[FS_REPORT_PROCS];
};

/* farsight run: a new report block in a memfd (its descriptor in *fd, not close-on-exec
 * so the program inherits it).  NULL on failure. */
struct fs_report *fs_report_create(int *fd);
/* The runtime: attach to the block named by FARSIGHT_REPORT_FD, if any (root = this
 * process is the root image).  Silent when there is none. */
void fs_report_attach(fs_runtime *rt, int root);
/* A forked child (fork.c): a slot of its own in the block it inherited. */
void fs_report_attach_forked(fs_runtime *rt);
/* Publish this process's statistics now (final: the process is ending; only once). */
void fs_report_publish(fs_runtime *rt, int final);
/* The pager, once per loop: publish when a period has passed since the last time.
 * Returns the poll timeout (ms) the pager may sleep before publishing again, -1 none. */
int fs_report_tick(fs_runtime *rt);
/* A sentence for the user, shown after the summary. */
void fs_report_note(fs_runtime *rt, const char *text);
/* The shim: count bytes it left local, by reason. */
void fs_report_local(fs_runtime *rt, int reason, uint64_t bytes);
/* farsight run: the root's statistics and the whole process tree's, from the block. */
void fs_report_stats(const struct fs_report *r, fs_stats *s);

#endif
