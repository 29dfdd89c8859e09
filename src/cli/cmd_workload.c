/* cmd_workload.c - `farsight workload`: not built yet (its issue is open). */
#include "cli.h"
int fs_cmd_workload(int argc, char **argv)
{
	return fs_cli_usage_error("'workload' is not built yet");
}
