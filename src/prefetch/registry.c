/*
 * registry.c - the table of prefetcher policies, looked up by name (the bench's
 * entries) or by the prefetch setting's value (its index: fs_prefetch_kind, whose
 * names the settings table holds; test_policies checks the two agree).
 * A new policy is one file in src/prefetch/, one line here and one value there.
 */
#include "prefetch/policy.h"
#include "common/util.h"

#include <string.h>

extern const fs_policy_ops fs_policy_none;
extern const fs_policy_ops fs_policy_readahead;
extern const fs_policy_ops fs_policy_leap;
extern const fs_policy_ops fs_policy_hermit;
extern const fs_policy_ops fs_policy_oracle;
extern const fs_policy_ops fs_policy_farsight;

static const fs_policy_ops *const policies[FS_PREFETCH_COUNT] = {
	[FS_PREFETCH_NONE] = &fs_policy_none,
	[FS_PREFETCH_READAHEAD] = &fs_policy_readahead,
	[FS_PREFETCH_LEAP] = &fs_policy_leap,
	[FS_PREFETCH_HERMIT] = &fs_policy_hermit,
	[FS_PREFETCH_ORACLE] = &fs_policy_oracle,
	[FS_PREFETCH_FARSIGHT] = &fs_policy_farsight,
};

uint64_t fs_policy_live_command_hash;

const fs_policy_ops *fs_policy_get(uint32_t kind)
{
	return kind < FS_PREFETCH_COUNT ? policies[kind] : NULL;
}

const fs_policy_ops *fs_policy_find(const char *name)
{
	for (size_t i = 0; i < FS_ARRAY_SIZE(policies); i++)
		if (!strcmp(policies[i]->name, name))
			return policies[i];
	return NULL;
}

const char *const *fs_policy_names(void)
{
	static const char *names[FS_ARRAY_SIZE(policies) + 1];
	for (size_t i = 0; i < FS_ARRAY_SIZE(policies); i++)
		names[i] = policies[i]->name;
	return names;
}

int fs_policy_create(const fs_config *cfg, fs_policy **out, char *err, size_t errlen)
{
	const fs_policy_ops *ops = fs_policy_get(cfg->prefetch);
	if (!ops) {
		fs_errf(err, errlen, "prefetch: %u is not a prefetcher (fs_prefetch_kind)", cfg->prefetch);
		return FS_EINVAL;
	}
	return ops->create(cfg, out, err, errlen);
}

/* The settings were checked by the settings table (their values, and chain_depth's
 * range 0-7: the read tags carry 3 bits of it; fs_config_check for a configuration
 * filled by hand, as the runtime does); here they are only read. */
int fs_policy_arrival(const fs_config *cfg, const fs_policy_ops *ops, fs_arrival *a,
		      char *err, size_t errlen)
{
	/* prefetch_map auto: as the policy asks (hermit and farsight map on arrival); the
	 * default is direct for every policy (docs/TUNING.md section 7). */
	a->map = cfg->prefetch_map == FS_MAP_DIRECT ||
		 (cfg->prefetch_map == FS_MAP_AUTO && (ops->runtime_flags & FS_POLICY_RT_MAP_PREFETCHED));
	a->chain = (ops->runtime_flags & FS_POLICY_RT_CHAIN) != 0;
	/* Back (in use) by default.  The front (first in line, as the kernel's readahead
	 * pages on its inactive list) has the clock unmap the pages a stream brought
	 * ahead of the program before it reaches them: every one then costs a
	 * reactivation fault (pagerank at 50%: 844k of them, 0.16 against 0.34 at the
	 * back; docs/TUNING.md section 7). */
	a->front = cfg->arrival_place == FS_PLACE_FRONT;
	a->chain_depth = a->map && a->chain ? cfg->chain_depth : 0;
	/* The table's range of stream_max (0-64) is this bound; checked again here, as
	 * replay's configurations need not pass fs_config_check, because it sizes the
	 * driver's candidate arrays. */
	if (cfg->stream_max > FS_POLICY_MAX_CANDIDATES) {
		fs_errf(err, errlen, "stream_max %u is more than %d (the most candidates one "
			"event gives); use 0-%d", cfg->stream_max, FS_POLICY_MAX_CANDIDATES,
			FS_POLICY_MAX_CANDIDATES);
		return FS_EINVAL;
	}
	a->stream_max = cfg->stream_max;
	return FS_OK;
}
