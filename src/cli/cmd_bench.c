/* cmd_bench.c - `farsight bench`: not built yet (its issue is open). */
#include "cli.h"
int fs_cmd_bench(int argc, char **argv)
{
	return fs_cli_usage_error("'bench' is not built yet");
}
