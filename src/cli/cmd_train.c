/* cmd_train.c - `farsight train`: not built yet (its issue is open). */
#include "cli.h"
int fs_cmd_train(int argc, char **argv)
{
	return fs_cli_usage_error("'train' is not built yet");
}
