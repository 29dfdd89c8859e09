/*
 * memd.c - `farsight memd`: the far-memory server of the tcp backend.
 *
 * This file is the command: flags, the secret file, then memd_serve() (server.c)
 * until SIGTERM/SIGINT.  It runs in the foreground and logs on stderr, so a service
 * manager or a test script owns its lifetime.  Protocol and design: docs/PROTOCOL.md.
 */
#include "cli/cli.h"
#include "farsight.h"
#include "memd/server.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: farsight memd [--listen ADDR:PORT] [--capacity SIZE] [--secret-file FILE]\n"
		"                     [--max-conns N] [--request-timeout SEC]\n"
		"                     [--pidfile FILE] [--port-file FILE]\n\n"
		"Serve far memory to `farsight run --backend tcp://HOST:PORT`.  Each client's\n"
		"pages are private to it and are freed when it disconnects.  Runs in the\n"
		"foreground, logs on stderr, stops cleanly on SIGTERM or SIGINT.\n\n"
		"  --listen ADDR:PORT   where to listen (default 127.0.0.1:7077; port 0 picks a\n"
		"                       free port, see --port-file).  An address beyond loopback\n"
		"                       needs --secret-file.\n"
		"  --capacity SIZE      most far memory to hold for all clients together\n"
		"                       (e.g. 8G; default: half of this machine's RAM).  A full\n"
		"                       server refuses writes; the client stops with\n"
		"                       \"far memory full\".\n"
		"  --secret-file FILE   shared secret: clients must prove they know it\n"
		"                       (HMAC-SHA256 challenge-response; it never crosses the\n"
		"                       wire).  Clients read it from FARSIGHT_SECRET_FILE or\n"
		"                       --secret-file.\n"
		"  --max-conns N        authenticated connections served at once (default 4096;\n"
		"                       a client uses two); more are told BUSY.  Connections\n"
		"                       still in their handshake have their own cap of 64.\n"
		"  --request-timeout SEC  close a connection that sent part of a request and\n"
		"                       nothing more for this long (default 60; 0 = never)\n"
		"  --pidfile FILE       write the process id here (removed at exit)\n"
		"  --port-file FILE     write the bound port here (removed at exit)\n\n"
		"Example:\n"
		"  terminal 1: farsight memd --listen 127.0.0.1:7077 --capacity 4G\n"
		"  terminal 2: farsight run --backend tcp://127.0.0.1:7077 --local-mem 256M -- sort big.txt\n");
}

/* A whole number in [lo, hi]: 0, or -1 for anything else. */
static int parse_count(const char *text, unsigned long lo, unsigned long hi, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int fs_cmd_memd(int argc, char **argv)
{
	static memd_options o;
	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1:7077";
	const char *secret_file = NULL, *capacity = NULL, *max_conns = "4096",
		   *request_timeout = "60";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		const char **dst = !strcmp(a, "--listen") ? &o.listen
				   : !strcmp(a, "--capacity") ? &capacity
				   : !strcmp(a, "--secret-file") ? &secret_file
				   : !strcmp(a, "--pidfile") ? &o.pidfile
				   : !strcmp(a, "--port-file") ? &o.portfile
				   : !strcmp(a, "--max-conns") ? &max_conns
				   : !strcmp(a, "--request-timeout") ? &request_timeout
				   : NULL;
		if (!dst) {
			usage(stderr);
			return fs_cli_usage_error("memd: unknown argument '%s'", a);
		}
		if (i + 1 >= argc)
			return fs_cli_usage_error("memd: %s needs a value", a);
		*dst = argv[++i];
	}
	if (capacity) {
		uint64_t bytes;
		if (fs_parse_size(capacity, &bytes) || bytes < FS_PAGE_SIZE)
			return fs_cli_usage_error("memd: --capacity '%s' is not a size of at least "
						  "4K (e.g. 512M, 8G)", capacity);
		o.capacity_pages = bytes / FS_PAGE_SIZE;
	} else {
		long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
		o.capacity_pages = pages > 0 && psz > 0
			? (uint64_t)pages * (uint64_t)psz / 2 / FS_PAGE_SIZE : 0;
	}
	if (parse_count(max_conns, 1, 1000000, &o.max_conns))
		return fs_cli_usage_error("memd: --max-conns '%s' is not a whole number from 1 to "
					  "1000000", max_conns);
	if (parse_count(request_timeout, 0, 86400, &o.request_timeout_s))
		return fs_cli_usage_error("memd: --request-timeout '%s' is not a number of seconds "
					  "from 0 to 86400", request_timeout);
	if (secret_file) {
		char err[256];
		if (fsp_secret_read(secret_file, o.secret, &o.secret_len, err, sizeof(err)))
			return fs_cli_usage_error("memd: %s", err);
	}
	return memd_serve(&o);
}
