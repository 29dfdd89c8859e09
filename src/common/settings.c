/*
 * settings.c - the single table of settings.
 *
 * Every tunable of the runtime is one row here: its name, type, default, environment
 * variable, `farsight run` flag and help line.  fs_config_from_env() applies defaults
 * and FARSIGHT_* variables; the CLI turns flags into the same variables before it
 * starts the program, so the preloaded runtime sees one source of truth; `farsight
 * --help` and `farsight settings --markdown` (the README's table) print this table.
 * Defaults are justified by the measurements in docs/TUNING.md.
 */
#include "farsight.h"
#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum stype { T_SIZE, T_STR, T_U32, T_I32, T_F64, T_BOOL };
#define type_name_SIZE "size"
#define type_name_STR "string"
#define type_name_U32 "int"
#define type_name_I32 "int"
#define type_name_F64 "float"
#define type_name_BOOL "bool"

struct setting {
	fs_setting_info info;
	enum stype type;
	size_t off;
	size_t cap; /* string capacity */
};

#define S(name, ty, def, flag, help)                                                     \
	{ { #name, type_name_##ty, def, "FARSIGHT_" #name, flag, help }, T_##ty,                     \
	  offsetof(fs_config, name), sizeof(((fs_config *)0)->name) }

/* Names of environment variables are upper case; see env_name(). */
static const struct setting table[] = {
	S(local_mem, SIZE, "1G", "--local-mem",
	  "local memory budget for far-memory pages (K/M/G suffixes)"),
	S(prefetch, STR, "readahead", "--prefetch",
	  "prefetcher policy: none, readahead, leap, hermit, oracle, farsight"),
	S(backend, STR, "mem", "--backend",
	  "far-memory backend: mem (emulated link, a full copy), zmem[?compressor=lz4|zstd] (compressed, in this process), tcp://HOST:PORT (farsight memd), redis://HOST:PORT,...[?replicas=N] (a pool of Redis servers); docs/BACKENDS.md"),
	S(mem_latency_us, F64, "5", "--mem-latency-us",
	  "mem backend: latency of every far read or write, microseconds"),
	S(mem_bandwidth_gbps, F64, "25", "--mem-bandwidth-gbps",
	  "mem backend: link bandwidth, Gbit/s (0 = unlimited)"),
	S(stats_json, STR, "", "--stats-json", "write the statistics as JSON to this file at exit"),
	S(record, STR, "", "--record", "record the prefetcher's event stream to this trace file"),
	S(trace, STR, "", "--trace", "trace replayed by the oracle policy"),
	S(model, STR, "", "--model", "model file of the farsight policy"),
	S(map_bytes, SIZE, "64M", "--map-bytes",
	  "farsight: future-map memory budget (maps of pages unused longest are dropped)"),
	S(min_prob, F64, "0.1", "--min-prob",
	  "farsight: a predicted page is prefetched only if its token's probability is at least this"),
	S(candidates, U32, "4", "--candidates",
	  "farsight: most pages taken from the first prediction step (top tokens that resolve to distinct pages)"),
	S(fallback, STR, "leap", "--fallback",
	  "farsight: policy whose pages are used when the model has no confident prediction: none, readahead, leap"),
	S(model_lookahead, U32, "3", "--model-lookahead",
	  "farsight: model steps per event: the best first-step page, then a chain of model_lookahead-1 more"),
	S(model_kernel, STR, "auto", "--model-kernel",
	  "farsight: the model's step kernel: auto (the fastest this CPU has), avx512, avx2, portable (fused, plain C) or generic (any model shape); docs/MODEL.md"),
	S(secret_file, STR, "", "--secret-file", "shared secret for the tcp backend (redis: the servers' requirepass)"),
	S(backend_timeout_ms, U32, "10000", "--backend-timeout-ms",
	  "remote backends: a server that sends nothing for this long while requests wait is dead: the program stops with a message naming it (0 = wait forever; docs/TUNING.md)"),
	S(local_threshold, SIZE, "0", "--local-threshold",
	  "preload: allocations smaller than this stay in local memory"),
	S(arena_size, SIZE, "64G", "--arena-size", "virtual size of the far-memory arena"),
	S(arena_base, SIZE, "0x500000000000", NULL,
	  "fixed arena address, so traces of a deterministic program repeat (0 = any)"),
	S(free_low_pages, U32, "64", "--free-low",
	  "reclaim starts when fewer local pages than this are free"),
	S(free_high_pages, U32, "128", "--free-high", "reclaim stops when this many are free"),
	S(reclaim_batch, U32, "32", NULL, "pages evicted per reclaim step"),
	S(prefetch_map, STR, "direct", "--prefetch-map",
	  "prefetched pages: direct (mapped on arrival: no fault; the prefetcher is told of an assumed hit), fault (mapped on first touch: a hit the prefetcher sees), or auto (direct for hermit and farsight, fault for the others); direct is faster for every policy (docs/TUNING.md section 7)"),
	S(arrival_place, STR, "back", "--arrival-place",
	  "pages mapped on arrival go to the clock's back (in use) or front (first in line for reclaim: Hermit's choice); the front has the clock unmap a stream's pages before the program reaches them (docs/TUNING.md section 7)"),
	S(reclaim, STR, "clock", "--reclaim",
	  "victim choice: clock (second chance: unmap, evict if not touched again) or fifo"),
	S(readahead_max, U32, "32", "--readahead-max", "readahead window cap, pages (docs/TUNING.md section 7)"),
	S(stream_max, U32, "64", "--stream-max",
	  "prefetched runs of 4+ contiguous pages are followed: touching a run's first page fetches the next run, twice as long up to this many pages (0 = off)"),
	S(lookahead, U32, "8", "--lookahead", "oracle: how many recorded events ahead it prefetches"),
	S(chain_depth, U32, "2", "--chain-depth",
	  "farsight with pages mapped on arrival: assumed hits a chain of predictions runs past the last real event (0-7; docs/MODEL.md)"),
	S(spin_us, U32, "0", "--spin-us",
	  "pager spins this long for new work before it sleeps (cross-vCPU wake-ups cost ~45 us)"),
	S(cpus, STR, "auto", "--cpus",
	  "CPUs of the program and its pager: auto (one CPU: faults never cross vCPUs), all, or a list like 0-1"),
	S(pager_cpu, I32, "-1", "--pager-cpu", "pin the pager thread to this CPU (-1 = no pin)"),
	S(quiet, BOOL, "0", "--quiet", "do not print the summary on stderr at exit"),
	S(stats_children, BOOL, "0", NULL,
	  "child processes (after exec) also print a summary"),
};

const fs_setting_info *fs_settings_table(size_t *count)
{
	/* fs_setting_info is the first member, so a stride walk is not possible; build a
	 * flat copy once. */
	static fs_setting_info flat[FS_ARRAY_SIZE(table)];
	static char envs[FS_ARRAY_SIZE(table)][64];
	if (!flat[0].name) {
		for (size_t i = 0; i < FS_ARRAY_SIZE(table); i++) {
			flat[i] = table[i].info;
			size_t j = 0;
			for (const char *p = table[i].info.env; *p && j < 63; p++)
				envs[i][j++] = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
			envs[i][j] = 0;
			flat[i].env = envs[i];
		}
	}
	*count = FS_ARRAY_SIZE(table);
	return flat;
}

int fs_parse_size(const char *text, uint64_t *out)
{
	if (!text || !*text)
		return FS_EINVAL;
	while (*text == ' ')
		text++;
	if (*text == '-')
		return FS_EINVAL;
	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(text, &end, 16);
		if (errno || end == text + 2 || *end)
			return FS_EINVAL;
		*out = v;
		return FS_OK;
	}
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || !isfinite(v) || v < 0)
		return FS_EINVAL;
	double mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1024.0; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end == 'i' && mul > 1)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return FS_EINVAL;
	v *= mul;
	if (v >= 18446744073709551615.0)
		return FS_EINVAL;
	*out = (uint64_t)v;
	return FS_OK;
}

/* Index of the row whose name (by_flag: `farsight run` flag) is key[0..len), or -1.
 * The one lookup of the table: fs_set here, flags in run, SETTING=VALUE in bench. */
static long find_index(const char *key, size_t len, int by_flag)
{
	for (size_t i = 0; i < FS_ARRAY_SIZE(table); i++) {
		const char *k = by_flag ? table[i].info.flag : table[i].info.name;
		if (k && strlen(k) == len && !strncmp(k, key, len))
			return (long)i;
	}
	return -1;
}

const fs_setting_info *fs_setting_find(const char *key, size_t len, int by_flag)
{
	size_t n;
	const fs_setting_info *flat = fs_settings_table(&n);
	long i = find_index(key, len, by_flag);
	return i < 0 ? NULL : &flat[i];
}

static const struct setting *find(const char *name)
{
	long i = find_index(name, strlen(name), 0);
	return i < 0 ? NULL : &table[i];
}

static int set_one(fs_config *cfg, const struct setting *s, const char *value, const char *from,
		   char *err, size_t errlen)
{
	char *field = (char *)cfg + s->off;
	char *end;
	errno = 0;
	switch (s->type) {
	case T_SIZE: {
		uint64_t v;
		if (fs_parse_size(value, &v)) {
			fs_errf(err, errlen,
				"%s: '%s' is not a size; use a number of bytes with an optional K, M or G suffix (e.g. 512M)",
				from, value);
			return FS_EINVAL;
		}
		*(uint64_t *)field = v;
		return FS_OK;
	}
	case T_STR:
		if (strlen(value) >= s->cap) {
			fs_errf(err, errlen, "%s: value is longer than %zu characters", from,
				s->cap - 1);
			return FS_EINVAL;
		}
		strcpy(field, value);
		return FS_OK;
	case T_U32: {
		unsigned long v = strtoul(value, &end, 10);
		if (errno || end == value || *end || value[0] == '-' || v > UINT32_MAX) {
			fs_errf(err, errlen, "%s: '%s' is not a whole number from 0 to 4294967295",
				from, value);
			return FS_EINVAL;
		}
		*(uint32_t *)field = (uint32_t)v;
		return FS_OK;
	}
	case T_I32: {
		long v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < INT32_MIN || v > INT32_MAX) {
			fs_errf(err, errlen, "%s: '%s' is not a whole number", from, value);
			return FS_EINVAL;
		}
		*(int32_t *)field = (int32_t)v;
		return FS_OK;
	}
	case T_F64: {
		double v = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(v) || v < 0) {
			fs_errf(err, errlen, "%s: '%s' is not a non-negative number", from, value);
			return FS_EINVAL;
		}
		*(double *)field = v;
		return FS_OK;
	}
	case T_BOOL:
		if (!strcmp(value, "1") || !strcasecmp(value, "true") || !strcasecmp(value, "yes"))
			*(uint32_t *)field = 1;
		else if (!strcmp(value, "0") || !strcasecmp(value, "false") ||
			 !strcasecmp(value, "no") || !*value)
			*(uint32_t *)field = 0;
		else {
			fs_errf(err, errlen, "%s: '%s' is not a boolean; use 1 or 0", from, value);
			return FS_EINVAL;
		}
		return FS_OK;
	}
	return FS_EINVAL;
}

int fs_config_set(fs_config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
	const struct setting *s = find(name);
	if (!s) {
		fs_errf(err, errlen, "unknown setting '%s'", name);
		return FS_EINVAL;
	}
	return set_one(cfg, s, value, name, err, errlen);
}

int fs_config_from_env(fs_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	size_t n;
	const fs_setting_info *info = fs_settings_table(&n);
	for (size_t i = 0; i < n; i++) {
		int rc = set_one(cfg, &table[i], table[i].info.def, table[i].info.name, err, errlen);
		if (rc)
			return rc; /* a bad default is a bug; tests catch it */
	}
	for (size_t i = 0; i < n; i++) {
		const char *v = getenv(info[i].env);
		if (v) {
			int rc = set_one(cfg, &table[i], v, info[i].env, err, errlen);
			if (rc)
				return rc;
		}
	}
	return FS_OK;
}
