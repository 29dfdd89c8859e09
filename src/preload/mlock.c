/*
 * mlock.c - memory locks are refused where they would pin far memory.
 *
 * A locked page cannot be unmapped or punched: with the arena locked (mlockall, as gpg
 * or a database calls it), the clock's unmap and the release of evicted pages failed
 * with EINVAL and the pager had to stop the program (exit status 70); and locking the
 * current mappings populates them, which for the runtime's sparse mappings (the arena,
 * the mem backend's store) means gigabytes.  Far memory is, by its nature, memory
 * farsight pages out, so:
 *   mlockall(...)                     -> -1 ENOMEM, nothing locked (the answer a too-small
 *                                        RLIMIT_MEMLOCK gives; programs carry on unlocked);
 *   mlock/mlock2 of a range with far pages -> -1 EAGAIN ("some of the range could not be
 *                                        locked"), nothing locked;
 *   mlock/mlock2 of local memory only -> locked, as asked.
 * One notice names the call, unless quiet.  The stats stay true: far pages are never
 * resident beyond the budget.  Raw system calls bypass this (the pager then stops the
 * program with exit status 70 and the reason, never a wrong byte).
 */
#include "preload/shim.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int refuse(const char *call, int err)
{
	static _Atomic int said;
	if (!fs_shim.quiet && !atomic_exchange(&said, 1))
		shim_say(call, " refused: far memory cannot be locked (farsight pages it out "
			       "under the local budget); the program runs with it unlocked", NULL);
	errno = err;
	return -1;
}

static int do_mlock(const void *addr, size_t len, unsigned flags, const char *call)
{
	uintptr_t a = (uintptr_t)addr, fa = fs_shim.base;
	if (fs_shim.size && len && a < fa + fs_shim.size && a + len > fa)
		return refuse(call, EAGAIN);
	return (int)syscall(SYS_mlock2, addr, len, flags);
}

int mlock(const void *addr, size_t len)
{
	return do_mlock(addr, len, 0, "mlock");
}

int mlock2(const void *addr, size_t len, unsigned int flags)
{
	return do_mlock(addr, len, flags, "mlock2");
}

int mlockall(int flags)
{
	if (!fs_shim.size)
		return (int)syscall(SYS_mlockall, flags);
	return refuse("mlockall", ENOMEM);
}
