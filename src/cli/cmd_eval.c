/* cmd_eval.c - `farsight eval`: not built yet (its issue is open). */
#include "cli.h"
int fs_cmd_eval(int argc, char **argv)
{
	return fs_cli_usage_error("'eval' is not built yet");
}
