/*
 * cmd_run.c - `farsight run [OPTIONS] -- PROGRAM [ARGS...]`: run an unmodified program
 * with its heap in far memory.
 *
 * Every option is a row of the settings table (src/common/settings.c).  The command
 * checks each value, turns it into the FARSIGHT_* environment variable the runtime
 * reads, puts libfarsight-preload.so into LD_PRELOAD and starts the program in a child
 * process.  The program's processes publish their statistics into a report block
 * (runtime/report.h) shared with this command, which prints the summary and writes the
 * JSON after the program has ended, however it ended (exit, _exit, a signal, a
 * timeout); signals sent to this command are forwarded to the program, and the program
 * gets SIGTERM if this command dies.  A program the preload library cannot reach
 * (static, set-user-ID) or whose memory stayed local gets one line saying so and why.
 * The program's exit status is passed through (128 + N when it was killed by signal
 * N).  Bad usage exits with status 2 and a one-line message. *
 * A budget may be a percentage of the program's footprint (--local-mem 50%): the
 * footprint is measured by a first, all-local run of the same command (output
 * discarded, prefetch none), whose stats JSON gives local_mem_peak_bytes; the program
 * then runs with that share.  It runs twice, so a percentage is refused when its
 * standard input is a pipe or a terminal (it cannot be read twice).
 */
#include "cli/cli.h"
#include "farsight.h"
#include "backend/backend.h"
#include "prefetch/policy.h"
#include "common/util.h"
#include "model/modelfile.h"
#include "runtime/report.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void run_usage(FILE *f)
{
	size_t n;
	const fs_setting_info *t = fs_settings_table(&n);
	fprintf(f, "usage: farsight run [OPTIONS] -- PROGRAM [ARGS...]\n\n"
		   "Runs PROGRAM with its heap (malloc and private anonymous mmap) in far memory:\n"
		   "only --local-mem bytes of it stay local, the rest is held by the backend,\n"
		   "and the prefetcher fetches pages ahead of use.  Prints a summary at exit.\n\n"
		   "options (each also an environment variable):\n");
	for (size_t i = 0; i < n; i++) {
		if (!t[i].flag)
			continue;
		char left[64];
		snprintf(left, sizeof(left), "%s%s%s", t[i].flag, t[i].arg ? " " : "", t[i].arg ? t[i].arg : "");
		const char *def = *t[i].def ? t[i].def : "none";
		if (!strcmp(t[i].name, "model"))
			def = fs_model_default_path(); /* found next to the binary or installed */
		fprintf(f, "  %-24s %s [%s; default %s]\n", left, t[i].help, t[i].env, def);
	}
	fprintf(f, "  %-24s this help\n\n", "--help");
	fprintf(f, "prefetchers:");
	for (const char *const *p = fs_policy_names(); *p; p++)
		fprintf(f, " %s", *p);
	fprintf(f, "\nexample: farsight run --local-mem 256M --prefetch readahead -- sort big.txt\n");
}

/* A flag's value, checked by the settings table (its form, its enum values or its
 * range); what depends on other settings is checked with the whole configuration. */
static int check_value(const fs_setting_info *s, const char *value)
{
	fs_config cfg;
	char err[512];
	memset(&cfg, 0, sizeof(cfg));
	if (fs_config_set(&cfg, s->name, value, err, sizeof(err)))
		return fs_cli_usage_error("%s: %s", s->flag, strchr(err, ':') ? strchr(err, ':') + 2 : err);
	return 0;
}

/* "50%", "12.5%" -> 50, 12.5; 0 if text is not a percentage from 0.1 to 100. */
static double parse_percent(const char *text)
{
	char *end;
	size_t n = strlen(text);
	if (!n || text[n - 1] != '%')
		return 0;
	errno = 0;
	double v = strtod(text, &end);
	return !errno && end == text + n - 1 && v >= 0.1 && v <= 100 ? v : 0;
}

/* The footprint of `farsight run -- argv` (bytes of far-memory pages it touched),
 * from a first run with a budget as large as the arena and this machine allow.
 * Returns 0, 2 after a usage error, or 1. */
static int measure_footprint(char **argv, const fs_config *cfg, double pct, uint64_t *bytes)
{
	struct stat st;
	if (fstat(0, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		return fs_cli_usage_error("--local-mem %g%%: a percentage needs a first all-local run to measure "
					  "the footprint, and the program's standard input (a pipe) cannot be read "
					  "twice; give a size (e.g. --local-mem 256M) or read the input from a file",
					  pct);
	if (S_ISCHR(st.st_mode) && isatty(0))
		return fs_cli_usage_error("--local-mem %g%%: a percentage needs a first all-local run, and the "
					  "program's standard input is a terminal, which cannot be read twice; give "
					  "a size (e.g. --local-mem 256M) or redirect the input (< FILE, < /dev/null)",
					  pct);
	char json[64];
	snprintf(json, sizeof json, "/tmp/farsight-footprint-%d.json", (int)getpid());
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
	uint64_t ram = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : cfg->arena_size;
	uint64_t big = FS_MIN(cfg->arena_size, ram);
	fprintf(stderr, "farsight: --local-mem %g%%: measuring the footprint with a first, all-local run "
			"(its output is discarded; the program runs twice)\n", pct);
	uint64_t t0 = fs_now_ns();
	pid_t pid = fork();
	if (pid < 0)
		return fs_cli_usage_error("run: fork: %s", strerror(errno));
	if (pid == 0) {
		char b[32];
		snprintf(b, sizeof b, "%llu", (unsigned long long)big);
		setenv("FARSIGHT_LOCAL_MEM", b, 1);
		setenv("FARSIGHT_PREFETCH", "none", 1);
		setenv("FARSIGHT_STATS_JSON", json, 1);
		setenv("FARSIGHT_QUIET", "1", 1);
		unsetenv("FARSIGHT_RECORD");
		/* its own root image, not part of an outer run's report */
		unsetenv("FARSIGHT_ROOT_PID");
		unsetenv("FARSIGHT_REPORT_FD");
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return fs_cli_usage_error("run: waitpid: %s", strerror(errno));
	if (S_ISREG(st.st_mode))
		lseek(0, 0, SEEK_SET); /* the real run reads its input from the start */
	double peak = NAN;
	FILE *f = fopen(json, "r");
	if (f) {
		char line[256];
		while (fgets(line, sizeof line, f))
			if (sscanf(line, " \"local_mem_peak_bytes\": %lf", &peak) == 1)
				break;
		fclose(f);
	}
	unlink(json);
	if (!WIFEXITED(status) || WEXITSTATUS(status) || isnan(peak)) {
		fprintf(stderr, "farsight: --local-mem %g%%: the all-local run that measures the footprint %s; "
				"give the budget as a size instead\n", pct,
			!WIFEXITED(status) ? "was killed" : WEXITSTATUS(status) ? "failed" : "left no statistics");
		return 1;
	}
	uint64_t want = (uint64_t)ceil(peak * pct / 100.0 / FS_PAGE_SIZE) * FS_PAGE_SIZE;
	*bytes = FS_MAX(want, (uint64_t)16 * FS_PAGE_SIZE);
	fprintf(stderr, "farsight: footprint %.1f MiB (measured in %.1f s): %g%% of it is a budget of %.1f MiB%s\n",
		peak / 1048576.0, (double)(fs_now_ns() - t0) / 1e9, pct, *bytes / 1048576.0,
		*bytes > want ? " (the least farsight takes)" : "");
	return 0;
}

/* The program's file, found as execvp would find it (into out; "" if not found). */
static void find_program(const char *name, char *out, size_t cap)
{
	out[0] = 0;
	if (strchr(name, '/')) {
		snprintf(out, cap, "%s", name);
		return;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		snprintf(out, cap, "%.*s/%s", (int)n, n ? path : ".", name);
		if (access(out, X_OK) == 0)
			return;
		path += n + (end ? 1 : 0);
	}
	out[0] = 0;
}

/* Why the preload library cannot reach into this program, if we can tell before it
 * runs: a statically linked ELF (no program interpreter, so nothing loads
 * LD_PRELOAD), or a set-user/group-ID file (the loader ignores LD_PRELOAD). */
static const char *preload_blocked(const char *file)
{
	struct stat st;
	if (!*file || stat(file, &st))
		return NULL;
	if (st.st_mode & (S_ISUID | S_ISGID))
		return "it is set-user-ID or set-group-ID, and the dynamic loader ignores LD_PRELOAD "
		       "for such programs";
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	Elf64_Ehdr eh;
	const char *why = NULL;
	if (pread(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) &&
	    !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	    eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 256) {
		int interp = 0;
		for (int i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
			    (ssize_t)sizeof(ph))
				break;
			interp |= ph.p_type == PT_INTERP;
		}
		if (!interp)
			why = "it is statically linked (Go programs usually are), so no preload library "
			      "can be loaded into it";
	}
	close(fd);
	return why;
}

/* cpus=auto: the program and its pager share the CPU we run on while the program has
 * one thread (the runtime gives the CPUs back when it starts a second).  Done here,
 * before exec, and named in FARSIGHT_CPUS_PINNED, so that every image the program
 * execs into knows which CPUs it really has. */
static void pin_for_auto(const fs_config *cfg)
{
	cpu_set_t all, one;
	if (cfg->cpus_kind != FS_CPUS_AUTO || sched_getaffinity(0, sizeof(all), &all) || CPU_COUNT(&all) < 2)
		return;
	int cpu = sched_getcpu();
	if (cpu < 0 || !CPU_ISSET(cpu, &all))
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	char list[64], note[96];
	fs_cpu_list(&all, list, sizeof(list));
	snprintf(note, sizeof(note), "%d:%s", cpu, list);
	if (sched_setaffinity(0, sizeof(one), &one) == 0)
		setenv("FARSIGHT_CPUS_PINNED", note, 1);
}

/* ---- signals: forwarded to the program ------------------------------------------ */

static volatile pid_t child_pid;
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

/* A signal sent to `farsight run` (kill, timeout, a supervisor) goes on to the program,
 * which then ends and is reported as usual.  Signals from the terminal (^C, ^\) reach
 * the program directly, as it is in the same foreground process group: forwarding
 * those too would deliver them twice. */
static void forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (si && si->si_code == SI_KERNEL)
		return;
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* ---- reporting ------------------------------------------------------------------- */

static void human(char *out, size_t cap, uint64_t b)
{
	snprintf(out, cap, "%.1f MiB", (double)b / (1 << 20));
}

/* The program ran with the shim, but its memory did not reach far memory: say why,
 * as far as the shim could tell (the mappings it left local, by reason). */
static void explain_local(const struct fs_report *r, const fs_stats *s, const struct rusage *ru,
			  const char *prog)
{
	uint64_t rss = (uint64_t)ru->ru_maxrss * 1024;
	uint64_t far = (s->tree_zero_fills + s->tree_demand_fetches) * FS_PAGE_SIZE;
	if (s->processes == 0)
		far = (s->zero_fills + s->demand_fetches) * FS_PAGE_SIZE;
	if (rss < (32u << 20) || far * 10 >= rss)
		return;
	static const char *why[FS_LOCAL_REASONS] = {
		[FS_LOCAL_THRESHOLD] = "its allocations are smaller than --local-threshold",
		[FS_LOCAL_FIXED] = "it maps its memory at addresses of its own choosing (MAP_FIXED)",
		[FS_LOCAL_SHARED] = "its memory is shared anonymous memory (MAP_SHARED)",
		[FS_LOCAL_RESERVE] = "it maps its memory with protections far memory does not take "
				     "(executable, or small PROT_NONE reservations)",
		[FS_LOCAL_HINT] = "it reserves its memory at addresses of its own choosing, which far "
				  "memory cannot give (a JVM with compressed oops: run java with "
				  "-XX:-UseCompressedOops; V8/Node)",
		[FS_LOCAL_FULL] = "far memory was full (--arena-size), so the rest of its memory "
				  "was local",
	};
	int best = -1;
	uint64_t most = 0;
	for (int i = 0; i < FS_LOCAL_REASONS; i++)
		if (atomic_load(&r->local_bytes[i]) > most)
			most = atomic_load(&r->local_bytes[best = i]);
	char a[32], b[32];
	human(a, sizeof(a), rss);
	human(b, sizeof(b), far);
	fprintf(stderr,
		"farsight: %s's memory stayed mostly local (peak resident %s, far-memory pages "
		"touched %s): %s\n",
		prog, a, b,
		best >= 0 && most * 4 >= rss
			? why[best]
			: "it does not get its memory from libc's malloc or mmap (raw system calls, or "
			  "a runtime with its own allocator), or got it before the preload library "
			  "started");
}

int fs_cmd_run(int argc, char **argv)
{
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			run_usage(stdout);
			return 0;
		}
		if (strncmp(a, "--", 2))
			break; /* the program */
		const char *eq = strchr(a, '=');
		const fs_setting_info *s = fs_setting_find(a, eq ? (size_t)(eq - a) : strlen(a), 1);
		if (!s)
			return fs_cli_usage_error("run: unknown option '%s'; see farsight run --help", a);
		const char *value;
		if (!strcmp(s->type, "bool") && !eq)
			value = "1";
		else if (eq)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else
			return fs_cli_usage_error("%s needs a value; see farsight run --help", s->flag);
		if (!strcmp(s->name, "local_mem") && strchr(value, '%')) {
			setenv(s->env, value, 1); /* a percentage: checked and measured below */
			continue;
		}
		int rc = check_value(s, value);
		if (rc)
			return rc;
		setenv(s->env, value, 1);
	}
	if (i >= argc)
		return fs_cli_usage_error("run: no program given; usage: farsight run [OPTIONS] -- "
					  "PROGRAM [ARGS...]");
	/* Values that came from the environment are checked too, before the program
	 * starts, so that a bad one is a usage error and not a failure inside it. */
	fs_config cfg;
	char err[512];
	const char *lm = getenv("FARSIGHT_LOCAL_MEM");
	double pct = lm ? parse_percent(lm) : 0;
	if (pct) { /* checked with a stand-in; the budget is measured once all else is */
		setenv("FARSIGHT_LOCAL_MEM", "64K", 1);
	} else if (lm && strchr(lm, '%'))
		return fs_cli_usage_error("--local-mem: '%s' is not a percentage from 0.1%% to 100%% (nor a size "
					  "like 512M)", lm);
	if (fs_config_from_env(&cfg, err, sizeof(err)))
		return fs_cli_usage_error("%s", err);
	if (fs_config_check(&cfg, err, sizeof(err))) {
		/* "local_mem: ..." as the user wrote it: "--local-mem: ..." */
		const fs_setting_info *s = fs_setting_find(err, strcspn(err, ": "), 0);
		return fs_cli_usage_error("%s%s", s && s->flag ? s->flag : "",
					  s && s->flag ? err + strcspn(err, ": ") : err);
	}
	if (cfg.model[0] && cfg.prefetch != FS_PREFETCH_FARSIGHT)
		return fs_cli_usage_error("--model %s is read only by --prefetch farsight (the prefetcher is %s); "
					  "drop --model or add --prefetch farsight", cfg.model,
					  fs_setting_value_name("prefetch", cfg.prefetch));

	char preload[4200];
	const char *over = getenv("FARSIGHT_PRELOAD");
	snprintf(preload, sizeof(preload), "%s", over && *over ? over : "");
	if (!*preload) {
		/* Next to the binary (a build tree), or PREFIX/lib/farsight when installed. */
		snprintf(preload, sizeof(preload), "%s/libfarsight-preload.so", fs_cli_bindir());
		if (access(preload, R_OK))
			snprintf(preload, sizeof(preload), "%s/../lib/farsight/libfarsight-preload.so",
				 fs_cli_bindir());
	}
	if (access(preload, R_OK))
		return fs_cli_usage_error("run: cannot find the preload library %s (%s); build it with "
					  "make, or set FARSIGHT_PRELOAD", preload, strerror(errno));
	const char *old = getenv("LD_PRELOAD");
	char ld[8400];
	snprintf(ld, sizeof(ld), "%s%s%s", preload, old && *old ? ":" : "", old ? old : "");
	setenv("LD_PRELOAD", ld, 1);
	const char *prog = argv[i];
	char file[4096];
	find_program(prog, file, sizeof(file));
	const char *blocked = preload_blocked(file);
	if (blocked)
		fprintf(stderr, "farsight: %s runs without far memory: %s; its memory stays local "
				"and there are no statistics\n", prog, blocked);

	if (pct) {
		uint64_t bytes = 0;
		int rc = measure_footprint(argv + i, &cfg, pct, &bytes);
		if (rc)
			return rc;
		char b[32];
		snprintf(b, sizeof b, "%llu", (unsigned long long)bytes);
		setenv("FARSIGHT_LOCAL_MEM", b, 1);
	}

	/* The report block: the program's processes publish their statistics there, and
	 * this process reports after the program ends, however it ends. */
	int report_fd = -1;
	struct fs_report *rep = fs_report_create(&report_fd);
	char fdtext[16];
	if (rep) {
		snprintf(fdtext, sizeof(fdtext), "%d", report_fd);
		setenv("FARSIGHT_REPORT_FD", fdtext, 1);
	} else {
		fprintf(stderr, "farsight: cannot create the report block (%s); the program will "
				"report at exit itself\n", strerror(errno));
	}

	sigset_t fwd, old_mask;
	sigemptyset(&fwd);
	for (size_t k = 0; k < FS_ARRAY_SIZE(forwarded); k++)
		sigaddset(&fwd, forwarded[k]);
	sigprocmask(SIG_BLOCK, &fwd, &old_mask); /* until child_pid is known */
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return fs_cli_usage_error("run: fork: %s", strerror(errno));
	if (pid == 0) {
		/* If `farsight run` is killed outright, the program must not live on as an
		 * orphan. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(128 + SIGTERM);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		char root[32];
		snprintf(root, sizeof(root), "%d", (int)getpid());
		setenv("FARSIGHT_ROOT_PID", root, 1);
		pin_for_auto(&cfg);
		execvp(prog, argv + i);
		fprintf(stderr, "farsight: cannot run %s: %s\n", prog, strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (rep)
		rep->root_pid = pid;
	child_pid = pid;
	struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < FS_ARRAY_SIZE(forwarded); k++)
		sigaction(forwarded[k], &sa, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);

	int status;
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return fs_cli_usage_error("run: waitpid: %s", strerror(errno));
	child_pid = 0;

	if (rep) {
		fs_stats s;
		fs_report_stats(rep, &s);
		s.maxrss_bytes = (uint64_t)ru.ru_maxrss * 1024; /* the program's peak RSS (wait4) */
		int started = atomic_load(&rep->root_started);
		int exec_failed = WIFEXITED(status) && (WEXITSTATUS(status) == 126 ||
							WEXITSTATUS(status) == 127);
		if (!started && !blocked && !exec_failed)
			fprintf(stderr, "farsight: %s ran without far memory: the preload library was "
					"not loaded into it (it may clear LD_PRELOAD, or be a static "
					"binary started through a script); its memory stayed local\n",
				prog);
		if (started && !cfg.quiet)
			fs_stats_print(&s, &cfg, stderr);
		if (started && rep->note[0])
			fprintf(stderr, "farsight: %s\n", rep->note);
		if (started)
			explain_local(rep, &s, &ru, prog);
		if (cfg.stats_json[0] && fs_stats_write_json(&s, &cfg, cfg.stats_json))
			fprintf(stderr, "farsight: cannot write the statistics to %s: %s\n",
				cfg.stats_json, strerror(errno));
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "farsight: %s was killed by signal %d (%s)\n", prog,
			WTERMSIG(status), strsignal(WTERMSIG(status)));
		return 128 + WTERMSIG(status);
	}
	return 1;
}
