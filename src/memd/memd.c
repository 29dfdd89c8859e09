/* memd.c - `farsight memd`: not built yet (its issue is open). */
#include "cli.h"
int fs_cmd_memd(int argc, char **argv)
{
	return fs_cli_usage_error("'memd' is not built yet");
}
