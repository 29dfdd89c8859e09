/* cmd_run.c - placeholder until the runtime lands. */
#include "cli.h"
int fs_cmd_run(int argc, char **argv)
{
	return fs_cli_usage_error("'run' is not built yet");
}
