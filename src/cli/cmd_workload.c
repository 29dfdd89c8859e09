/*
 * cmd_workload.c - `farsight workload NAME ...`: runs one of the bundled workloads.
 *
 * The workloads live in their own program, farsight-workloads (workloads/), because
 * they link C++ and large libraries (LEMON, libxgboost) the runtime must not depend
 * on.  This command finds that program next to the farsight binary and execs it with
 * the arguments unchanged.  exec, not fork: under `farsight run ... -- farsight
 * workload ...` the preload shim (LD_PRELOAD survives exec) then puts the workload's
 * heap in far memory, and the exit status and output are the workload's own.
 */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int fs_cmd_workload(int argc, char **argv)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/farsight-workloads", fs_cli_bindir());
	if (n < 0 || (size_t)n >= sizeof path)
		return fs_cli_usage_error("workload: the path of farsight-workloads is too long");
	if (access(path, X_OK) != 0)
		return fs_cli_usage_error("workload: cannot run %s (%s); build it with `make workloads`",
					  path, strerror(errno));
	/* argv[0] is "workload"; the program sees its own name there instead. */
	argv[0] = "farsight-workloads";
	(void)argc;
	execv(path, argv);
	fprintf(stderr, "farsight: workload: exec %s failed: %s\n", path, strerror(errno));
	return 1;
}
