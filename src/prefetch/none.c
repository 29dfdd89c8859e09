/*
 * none.c - the "none" policy: no prefetching; every far page is a demand miss.
 * The baseline that shows what prefetching is worth.
 */
#include "prefetch/policy.h"

#include <stdlib.h>

static int none_create(const fs_config *cfg, fs_policy **out, char *err, size_t errlen)
{
	static fs_policy instance;
	extern const fs_policy_ops fs_policy_none;
	instance.ops = &fs_policy_none;
	*out = &instance;
	return FS_OK;
}

static int none_on_event(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	return 0;
}

static void none_destroy(fs_policy *p) {}

const fs_policy_ops fs_policy_none = {
	.name = "none",
	.help = "no prefetching: every far page is a demand miss",
	.create = none_create,
	.on_event = none_on_event,
	.destroy = none_destroy,
};
