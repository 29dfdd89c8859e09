/* cmd_settings.c - placeholder until the runtime lands. */
#include "cli.h"
int fs_cmd_settings(int argc, char **argv)
{
	return fs_cli_usage_error("'settings' is not built yet");
}
