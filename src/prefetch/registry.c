/*
 * registry.c - the table of prefetcher policies, looked up by name.
 * A new policy is one file in src/prefetch/ and one line here.
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

static const fs_policy_ops *const policies[] = {
	&fs_policy_none,
	&fs_policy_readahead,
	&fs_policy_leap,
	&fs_policy_hermit,
	&fs_policy_oracle,
	&fs_policy_farsight,
};

uint64_t fs_policy_live_command_hash;

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
	const fs_policy_ops *ops = fs_policy_find(cfg->prefetch);
	if (!ops) {
		char list[256] = "";
		for (const char *const *n = fs_policy_names(); *n; n++) {
			strncat(list, *n, sizeof(list) - strlen(list) - 3);
			if (n[1])
				strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		}
		fs_errf(err, errlen, "unknown prefetcher '%s'; choose one of: %s", cfg->prefetch,
			list);
		return FS_EINVAL;
	}
	return ops->create(cfg, out, err, errlen);
}

int fs_policy_arrival(const fs_config *cfg, const fs_policy_ops *ops, fs_arrival *a,
		      char *err, size_t errlen)
{
	const char *map = cfg->prefetch_map, *place = cfg->arrival_place;
	if (strcmp(map, "auto") && strcmp(map, "fault") && strcmp(map, "direct")) {
		fs_errf(err, errlen, "unknown prefetch_map '%s'; use auto, fault or direct", map);
		return FS_EINVAL;
	}
	if (strcmp(place, "front") && strcmp(place, "back")) {
		fs_errf(err, errlen, "unknown arrival_place '%s'; use front or back", place);
		return FS_EINVAL;
	}
	if (cfg->chain_depth > 7) {
		fs_errf(err, errlen, "chain_depth %u is more than 7 (the read tags carry 3 bits "
			"of it); use 0-7", cfg->chain_depth);
		return FS_EINVAL;
	}
	/* prefetch_map auto: as the policy asks (hermit and farsight map on arrival); the
	 * default is direct for every policy (docs/TUNING.md section 7). */
	a->map = !strcmp(map, "direct") ||
		 (!strcmp(map, "auto") && (ops->runtime_flags & FS_POLICY_RT_MAP_PREFETCHED));
	a->chain = (ops->runtime_flags & FS_POLICY_RT_CHAIN) != 0;
	/* Back (in use) by default.  The front (first in line, as the kernel's readahead
	 * pages on its inactive list) has the clock unmap the pages a stream brought
	 * ahead of the program before it reaches them: every one then costs a
	 * reactivation fault (pagerank at 50%: 844k of them, 0.16 against 0.34 at the
	 * back; docs/TUNING.md section 7). */
	a->front = !strcmp(place, "front");
	a->chain_depth = a->map && a->chain ? cfg->chain_depth : 0;
	if (cfg->stream_max > FS_POLICY_MAX_CANDIDATES) {
		fs_errf(err, errlen, "stream_max %u is more than %d (the most candidates one "
			"event gives); use 0-%d", cfg->stream_max, FS_POLICY_MAX_CANDIDATES,
			FS_POLICY_MAX_CANDIDATES);
		return FS_EINVAL;
	}
	a->stream_max = cfg->stream_max;
	return FS_OK;
}
