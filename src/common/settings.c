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
#include "backend/backend.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum stype { T_SIZE, T_STR, T_U32, T_I32, T_F64, T_BOOL, T_ENUM };
#define type_name_SIZE "size"
#define type_name_STR "string"
#define type_name_U32 "int"
#define type_name_I32 "int"
#define type_name_F64 "float"
#define type_name_BOOL "bool"
#define type_name_ENUM "enum"

/* One allowed value of an enum setting: its name, the number fs_config holds, and
 * what it means (joined into the setting's help text; NULL: the name says it). */
struct enum_value {
	const char *name;
	uint32_t value;
	const char *help;
};

struct setting {
	fs_setting_info info;
	enum stype type;
	size_t off;
	size_t cap; /* string capacity */
	const struct enum_value *values; /* T_ENUM: the allowed values, {NULL}-terminated */
	double lo, hi;                   /* numbers: the accepted range, if lo < hi */
	/* T_STR with a shape (cpus, backend): checks value and fills the parsed fields;
	 * on a bad value, what is wrong with it (the value named) into why */
	int (*parse)(fs_config *cfg, const char *value, char *why, size_t n);
};

static const struct enum_value prefetch_values[] = {
	{ "none", FS_PREFETCH_NONE, NULL },
	{ "readahead", FS_PREFETCH_READAHEAD, "Linux swap readahead" },
	{ "leap", FS_PREFETCH_LEAP, "Leap's majority trend" },
	{ "hermit", FS_PREFETCH_HERMIT, "readahead, pages mapped on arrival" },
	{ "oracle", FS_PREFETCH_ORACLE, "replays --trace" },
	{ "farsight", FS_PREFETCH_FARSIGHT, "the learned model of --model" },
	{ NULL, 0, NULL },
};
static const struct enum_value fallback_values[] = {
	{ "none", FS_PREFETCH_NONE, NULL },
	{ "readahead", FS_PREFETCH_READAHEAD, NULL },
	{ "leap", FS_PREFETCH_LEAP, NULL },
	{ NULL, 0, NULL },
};
static const struct enum_value prefetch_map_values[] = {
	{ "direct", FS_MAP_DIRECT, "mapped on arrival: no fault; the prefetcher is told of an assumed hit" },
	{ "fault", FS_MAP_FAULT, "mapped on first touch: a hit the prefetcher sees" },
	{ "auto", FS_MAP_AUTO, "direct for hermit and farsight, fault for the others" },
	{ NULL, 0, NULL },
};
static const struct enum_value arrival_place_values[] = {
	{ "back", FS_PLACE_BACK, "in use" },
	{ "front", FS_PLACE_FRONT, "first in line for reclaim: Hermit's choice" },
	{ NULL, 0, NULL },
};
static const struct enum_value reclaim_values[] = {
	{ "clock", FS_RECLAIM_CLOCK, "second chance: unmap, evict if not touched again" },
	{ "fifo", FS_RECLAIM_FIFO, NULL },
	{ NULL, 0, NULL },
};

static int parse_cpus(fs_config *cfg, const char *value, char *why, size_t n);
static int parse_backend(fs_config *cfg, const char *value, char *why, size_t n);

#define ROW(name, ty, def, flag, arg, help)                                               \
	.info = { #name, type_name_##ty, def, "FARSIGHT_" #name, flag, help, arg, NULL },  \
	.type = T_##ty, .off = offsetof(fs_config, name), .cap = sizeof(((fs_config *)0)->name)
/* a plain row */
#define S(name, ty, def, flag, arg, help) { ROW(name, ty, def, flag, arg, help) }
/* a number with an accepted range [lo, hi] */
#define R(name, ty, def, flag, arg, lo_, hi_, help) { ROW(name, ty, def, flag, arg, help), .lo = lo_, .hi = hi_ }
/* an enum: its values' names are its flag's argument */
#define E(name, def, flag, vals, help) { ROW(name, ENUM, def, flag, NULL, help), .values = vals }

/* Names of environment variables are upper case; see fs_settings_table(). */
static const struct setting table[] = {
	S(local_mem, SIZE, "1G", "--local-mem", "SIZE",
	  "local memory budget for far-memory pages (K/M/G suffixes; farsight run also takes a percentage of the program's footprint, e.g. 50%)"),
	E(prefetch, "readahead", "--prefetch", prefetch_values, "prefetcher policy"),
	{ ROW(backend, STR, "mem", "--backend", "URL",
	      "far-memory backend: mem (emulated link, a full copy in this process: it saves no RAM), zmem[?compressor=lz4|zstd] (compressed, in this process), tcp://HOST:PORT (farsight memd), redis://HOST:PORT,...[?replicas=N] (a pool of Redis servers); docs/BACKENDS.md"),
	  .parse = parse_backend },
	R(mem_latency_us, F64, "5", "--mem-latency-us", "US", 0, 1e6,
	  "mem backend: latency of every far read or write, microseconds"),
	R(mem_bandwidth_gbps, F64, "25", "--mem-bandwidth-gbps", "GBPS", 0, 1e4,
	  "mem backend: link bandwidth, Gbit/s (0 = unlimited)"),
	S(stats_json, STR, "", "--stats-json", "FILE", "write the statistics as JSON to this file at exit"),
	S(record, STR, "", "--record", "FILE", "record the prefetcher's event stream to this trace file"),
	S(trace, STR, "", "--trace", "FILE", "trace replayed by the oracle policy"),
	S(model, STR, "", "--model", "FILE", "model file of the farsight policy (only with --prefetch farsight)"),
	S(map_bytes, SIZE, "64M", "--map-bytes", "SIZE",
	  "farsight: future-map memory budget (maps of pages unused longest are dropped)"),
	R(min_prob, F64, "0.1", "--min-prob", "P", 0, 1,
	  "farsight: a predicted page is prefetched only if its token's probability is at least this (0-1)"),
	R(candidates, U32, "4", "--candidates", "N", 1, 32,
	  "farsight: most pages taken from the first prediction step (top tokens that resolve to distinct pages; 1-32)"),
	E(fallback, "leap", "--fallback", fallback_values,
	  "farsight: policy whose pages are used when the model has no confident prediction"),
	R(model_lookahead, U32, "3", "--model-lookahead", "N", 1, 32,
	  "farsight: model steps per event: the best first-step page, then a chain of model_lookahead-1 more (1-32)"),
	S(model_kernel, STR, "auto", "--model-kernel", "auto|avx512|avx2|portable|generic",
	  "farsight: the model's step kernel: auto (the fastest this CPU has), avx512, avx2, portable (fused, plain C) or generic (any model shape); docs/MODEL.md"),
	S(secret_file, STR, "", "--secret-file", "FILE",
	  "shared secret for the tcp backend (redis: the servers' requirepass)"),
	R(backend_timeout_ms, U32, "10000", "--backend-timeout-ms", "MS", 0, 86400000,
	  "remote backends: a server that sends nothing for this long while requests wait is dead: the program stops with a message naming it (0 = wait forever, at most 86400000 = a day; docs/TUNING.md)"),
	S(local_threshold, SIZE, "0", "--local-threshold", "SIZE",
	  "preload: allocations smaller than this stay in local memory"),
	S(arena_size, SIZE, "64G", "--arena-size", "SIZE",
	  "virtual size of the far-memory arena (a multiple of 4K, 1M-64T)"),
	S(arena_base, SIZE, "0x500000000000", "--arena-base", "ADDR",
	  "fixed arena address, so traces of a deterministic program repeat (0 = any)"),
	R(free_low_pages, U32, "64", "--free-low", "N", 1, 1 << 20,
	  "reclaim starts when fewer local pages than this are free"),
	R(free_high_pages, U32, "128", "--free-high", "N", 2, 1 << 20,
	  "reclaim stops when this many are free (more than free_low_pages)"),
	R(reclaim_batch, U32, "32", "--reclaim-batch", "N", 1, 4096, "pages evicted per reclaim step (1-4096)"),
	E(prefetch_map, "direct", "--prefetch-map", prefetch_map_values,
	  "prefetched pages (direct is faster for every policy, docs/TUNING.md section 7)"),
	E(arrival_place, "back", "--arrival-place", arrival_place_values,
	  "where pages mapped on arrival join the clock (the front has the clock unmap a stream's pages before the program reaches them, docs/TUNING.md section 7)"),
	E(reclaim, "clock", "--reclaim", reclaim_values, "victim choice"),
	R(readahead_max, U32, "32", "--readahead-max", "N", 1, 64,
	  "readahead window cap, pages (1-64; docs/TUNING.md section 7)"),
	R(stream_max, U32, "64", "--stream-max", "N", 0, 64,
	  "prefetched runs of 4+ contiguous pages are followed: touching a run's first page fetches the next run, twice as long up to this many pages (0 = off; at most 64, the most candidates one event gives)"),
	R(lookahead, U32, "8", "--lookahead", "N", 1, 64,
	  "oracle: how many recorded events ahead it prefetches (1-64)"),
	R(chain_depth, U32, "2", "--chain-depth", "N", 0, 7,
	  "farsight with pages mapped on arrival: assumed hits a chain of predictions runs past the last real event (0-7: the read tags carry 3 bits of it; docs/MODEL.md)"),
	R(spin_us, U32, "0", "--spin-us", "US", 0, 1000000,
	  "pager spins this long for new work before it sleeps (cross-vCPU wake-ups cost ~45 us)"),
	{ ROW(cpus, STR, "auto", "--cpus", "auto|all|LIST",
	      "CPUs of the program and its pager: auto (one CPU: faults never cross vCPUs), all, or a list like 0-1"),
	  .parse = parse_cpus },
	R(pager_cpu, I32, "-1", "--pager-cpu", "CPU", -1, 1023,
	  "pin the pager thread to this CPU (-1 = no pin)"),
	S(quiet, BOOL, "0", "--quiet", NULL, "do not print the summary on stderr at exit"),
	S(stats_children, BOOL, "0", "--stats-children", NULL,
	  "child processes (after exec) also print a summary"),
};

/* An enum's value names: "a, b or c" (words), or "a|b|c" (the flag's argument), with
 * their meanings in parentheses if with_help. */
static void join_values(const struct enum_value *v, int with_help, int words, char *out, size_t n)
{
	size_t len = 0;
	*out = 0;
	for (int i = 0; v[i].name && len < n; i++) {
		const char *sep = i == 0 ? "" : !words ? "|" : v[i + 1].name ? ", " : " or ";
		if (with_help && v[i].help)
			len += (size_t)snprintf(out + len, n - len, "%s%s (%s)", sep, v[i].name, v[i].help);
		else
			len += (size_t)snprintf(out + len, n - len, "%s%s", sep, v[i].name);
	}
}

const fs_setting_info *fs_settings_table(size_t *count)
{
	/* fs_setting_info is the first member, so a stride walk is not possible; build a
	 * flat copy once, with the environment names upper case and each enum's values
	 * in its help, its argument and its value list. */
	static fs_setting_info flat[FS_ARRAY_SIZE(table)];
	static char envs[FS_ARRAY_SIZE(table)][64];
	static char helps[FS_ARRAY_SIZE(table)][512], args[FS_ARRAY_SIZE(table)][96];
	static const char *names[FS_ARRAY_SIZE(table)][8];
	if (!flat[0].name) {
		for (size_t i = 0; i < FS_ARRAY_SIZE(table); i++) {
			flat[i] = table[i].info;
			size_t j = 0;
			for (const char *p = table[i].info.env; *p && j < 63; p++)
				envs[i][j++] = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
			envs[i][j] = 0;
			flat[i].env = envs[i];
			const struct enum_value *v = table[i].values;
			if (!v)
				continue;
			char list[400];
			join_values(v, 1, 1, list, sizeof list);
			snprintf(helps[i], sizeof helps[i], "%s: %s", table[i].info.help, list);
			flat[i].help = helps[i];
			join_values(v, 0, 0, args[i], sizeof args[i]);
			flat[i].arg = args[i];
			for (int k = 0; v[k].name && k < 7; k++)
				names[i][k] = v[k].name;
			flat[i].values = names[i];
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

/* "-1 to 1023", "0 to 1" */
static void range_text(const struct setting *s, char *out, size_t n)
{
	snprintf(out, n, s->type == T_F64 ? "a number from %g to %g" : "a whole number from %.0f to %.0f",
		 s->lo, s->hi);
}

static int set_one(fs_config *cfg, const struct setting *s, const char *value, const char *from,
		   char *err, size_t errlen)
{
	char *field = (char *)cfg + s->off;
	char *end, range[80];
	double num = 0;
	errno = 0;
	switch (s->type) {
	case T_SIZE: {
		uint64_t v;
		if (fs_parse_size(value, &v)) {
			fs_errf(err, errlen,
				"%s: '%s' is not a size; use a number of bytes with an optional K, M, G or T suffix (e.g. 512M)",
				from, value);
			return FS_EINVAL;
		}
		*(uint64_t *)field = v;
		return FS_OK;
	}
	case T_STR:
		if (strlen(value) >= s->cap) {
			fs_errf(err, errlen, "%s: '%.40s...' is longer than %zu characters", from, value,
				s->cap - 1);
			return FS_EINVAL;
		}
		if (s->parse) {
			char why[200];
			if (s->parse(cfg, value, why, sizeof why)) {
				fs_errf(err, errlen, "%s: %s", from, why);
				return FS_EINVAL;
			}
		}
		strcpy(field, value);
		return FS_OK;
	case T_ENUM:
		for (const struct enum_value *v = s->values; v->name; v++)
			if (!strcmp(v->name, value)) {
				*(uint32_t *)field = v->value;
				return FS_OK;
			}
		join_values(s->values, 0, 1, range, sizeof range);
		fs_errf(err, errlen, "%s: '%s' is not one of %s", from, value, range);
		return FS_EINVAL;
	case T_U32: {
		unsigned long v = strtoul(value, &end, 10);
		if (errno || end == value || *end || value[0] == '-' || v > UINT32_MAX) {
			fs_errf(err, errlen, "%s: '%s' is not a whole number from 0 to 4294967295",
				from, value);
			return FS_EINVAL;
		}
		*(uint32_t *)field = (uint32_t)v;
		num = (double)v;
		break;
	}
	case T_I32: {
		long v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < INT32_MIN || v > INT32_MAX) {
			fs_errf(err, errlen, "%s: '%s' is not a whole number", from, value);
			return FS_EINVAL;
		}
		*(int32_t *)field = (int32_t)v;
		num = (double)v;
		break;
	}
	case T_F64: {
		double v = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(v) || v < 0) {
			fs_errf(err, errlen, "%s: '%s' is not a non-negative number", from, value);
			return FS_EINVAL;
		}
		*(double *)field = v;
		num = v;
		break;
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
	if (s->lo < s->hi && (num < s->lo || num > s->hi)) {
		range_text(s, range, sizeof range);
		fs_errf(err, errlen, "%s: '%s' is out of range; use %s", from, value, range);
		return FS_EINVAL;
	}
	return FS_OK;
}

/* cpus: auto, all, or a list like 0-1,3 (CPUs below 1024; common/util.c parses it). */
static int parse_cpus(fs_config *cfg, const char *value, char *why, size_t n)
{
	memset(cfg->cpus_mask, 0, sizeof cfg->cpus_mask);
	if (!strcmp(value, "auto") || !strcmp(value, "all")) {
		cfg->cpus_kind = value[1] == 'u' ? FS_CPUS_AUTO : FS_CPUS_ALL;
		return FS_OK;
	}
	cpu_set_t set;
	if (fs_parse_cpus(value, &set)) {
		fs_errf(why, n, "'%s' is not auto, all, or a CPU list like 0-1,3 (CPUs 0-%d)", value,
			CPU_SETSIZE - 1);
		return FS_EINVAL;
	}
	for (int c = 0; c < CPU_SETSIZE && c < 64 * (int)FS_ARRAY_SIZE(cfg->cpus_mask); c++)
		if (CPU_ISSET(c, &set))
			cfg->cpus_mask[c / 64] |= 1ull << (c % 64);
	cfg->cpus_kind = FS_CPUS_LIST;
	return FS_OK;
}

/* backend: the backends' own check (src/backend/backend.c: their names, zmem's
 * options, the addresses' ports); the backend resolves a host only when it opens. */
static int parse_backend(fs_config *cfg, const char *value, char *why, size_t n)
{
	(void)cfg;
	return fs_backend_check(value, why, n);
}

const char *fs_setting_value_name(const char *setting, uint32_t v)
{
	const struct setting *s = find(setting);
	for (const struct enum_value *e = s ? s->values : NULL; e && e->name; e++)
		if (e->value == v)
			return e->name;
	return "?";
}

/* This machine's RAM in bytes (0 if unknown). */
static uint64_t machine_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

static void human(char *out, size_t n, uint64_t b)
{
	if (b >= (1ull << 40))
		snprintf(out, n, "%.1fT", b / 1099511627776.0);
	else if (b >= (1ull << 30))
		snprintf(out, n, "%.1fG", b / 1073741824.0);
	else
		snprintf(out, n, "%.0fM", b / 1048576.0);
}

int fs_config_check(const fs_config *cfg, char *err, size_t errlen)
{
	/* each value's own form, for a configuration filled by hand: enums and ranges */
	for (size_t i = 0; i < FS_ARRAY_SIZE(table); i++) {
		const struct setting *s = &table[i];
		const char *field = (const char *)cfg + s->off;
		char list[200];
		if (s->type == T_ENUM) {
			uint32_t v = *(const uint32_t *)field;
			if (!strcmp(fs_setting_value_name(s->info.name, v), "?")) {
				join_values(s->values, 0, 1, list, sizeof list);
				fs_errf(err, errlen, "%s: %u is not a value of this setting (%s)", s->info.name, v,
					list);
				return FS_EINVAL;
			}
			continue;
		}
		if (!(s->lo < s->hi))
			continue;
		double v = s->type == T_U32 ? *(const uint32_t *)field :
			   s->type == T_I32 ? *(const int32_t *)field : *(const double *)field;
		if (v < s->lo || v > s->hi) {
			range_text(s, list, sizeof list);
			fs_errf(err, errlen, "%s: %g is out of range; use %s", s->info.name, v, list);
			return FS_EINVAL;
		}
	}
	char a[32], b[32];
	if (cfg->arena_size < (1u << 20) || cfg->arena_size % 4096 || cfg->arena_size > (64ull << 40)) {
		fs_errf(err, errlen, "arena_size: %llu bytes is not a multiple of 4K from 1M to 64T",
			(unsigned long long)cfg->arena_size);
		return FS_EINVAL;
	}
	if (cfg->arena_base % 4096) {
		fs_errf(err, errlen, "arena_base: 0x%llx is not page-aligned (a multiple of 0x1000)",
			(unsigned long long)cfg->arena_base);
		return FS_EINVAL;
	}
	if (cfg->local_mem < 16 * 4096) {
		fs_errf(err, errlen, "local_mem: %llu bytes is too small; use at least 64K",
			(unsigned long long)cfg->local_mem);
		return FS_EINVAL;
	}
	if (cfg->local_mem > cfg->arena_size) {
		human(a, sizeof a, cfg->local_mem);
		human(b, sizeof b, cfg->arena_size);
		fs_errf(err, errlen, "local_mem: %s is more than the far-memory arena (arena_size %s); "
			"use at most %s", a, b, b);
		return FS_EINVAL;
	}
	uint64_t ram = machine_ram();
	if (ram && cfg->local_mem > ram) {
		human(a, sizeof a, cfg->local_mem);
		human(b, sizeof b, ram);
		fs_errf(err, errlen, "local_mem: %s is more than this machine's RAM (%s); use at most %s",
			a, b, b);
		return FS_EINVAL;
	}
	if (cfg->free_low_pages >= cfg->free_high_pages) {
		fs_errf(err, errlen, "free_low_pages: %u must be below free_high_pages (%u)",
			cfg->free_low_pages, cfg->free_high_pages);
		return FS_EINVAL;
	}
	if (cfg->pager_cpu >= 0 && sysconf(_SC_NPROCESSORS_CONF) > 0 &&
	    cfg->pager_cpu >= sysconf(_SC_NPROCESSORS_CONF)) {
		fs_errf(err, errlen, "pager_cpu: %d is not a CPU of this machine; use -1 or 0 to %ld",
			cfg->pager_cpu, sysconf(_SC_NPROCESSORS_CONF) - 1);
		return FS_EINVAL;
	}
	return FS_OK;
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
