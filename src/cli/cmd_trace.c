/* cmd_trace.c - placeholder until the runtime lands. */
#include "cli.h"
int fs_cmd_trace(int argc, char **argv)
{
	return fs_cli_usage_error("'trace' is not built yet");
}
