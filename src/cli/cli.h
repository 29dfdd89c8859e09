/*
 * cli.h - the subcommands of the `farsight` command (internal).  Each lives in its own
 * file src/cli/cmd_<name>.c (memd in src/memd/) and returns the process exit status:
 * 0 success, 1 failure of the work, 2 bad usage or input.
 */
#ifndef FS_CLI_H
#define FS_CLI_H

int fs_cmd_run(int argc, char **argv);
int fs_cmd_trace(int argc, char **argv);
int fs_cmd_workload(int argc, char **argv);
int fs_cmd_bench(int argc, char **argv);
int fs_cmd_train(int argc, char **argv);
int fs_cmd_eval(int argc, char **argv);
int fs_cmd_memd(int argc, char **argv);
int fs_cmd_settings(int argc, char **argv);

/* Directory holding the farsight binary (for finding the preload library, the
 * workloads binary and models next to it).  Never NULL. */
const char *fs_cli_bindir(void);
/* Print "farsight: <msg>" on stderr; usage errors return 2 through this. */
int fs_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
