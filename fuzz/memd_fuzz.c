/*
 * memd_fuzz.c - libFuzzer target for the memory server's input path without sockets:
 * the bytes are what one client sends after connecting.  The first FSP_HELLO_LEN go
 * to memd_parse_hello(); the rest are cut into requests by memd_parse_request() and
 * executed by memd_apply() against a session of a small-capacity store, exactly as
 * server.c does (src/memd/parse.c and store.c are compiled in).  Any crash, sanitizer
 * report, leak, or an invariant below failing is a bug.
 *
 *   make fuzz                 builds build/fuzz/memd_fuzz
 *   tools/fuzz-memd.sh [SECS] runs it for a bounded time (CI: 60 s)
 */
#include "memd/memd.h"

#include <stdlib.h>

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	memd_hello h;
	char why[160];
	if (size >= FSP_HELLO_LEN) {
		int r = memd_parse_hello(data, &h, why, sizeof(why));
		check(r == MEMD_PARSE_OK || (r == MEMD_PARSE_BAD && why[0]));
		/* Keep fuzzing requests even after a bad hello: more of the parser is
		 * reached that way. */
		data += FSP_HELLO_LEN;
		size -= FSP_HELLO_LEN;
	}
	memd_store store;
	memd_store_init(&store, 64); /* small, so FULL answers are reached */
	memd_session *ss = memd_session_new(&store);
	if (!ss)
		return 0;
	memd_session_get(ss);
	memd_buf out = { 0 };
	size_t off = 0;
	while (off < size) {
		fsp_hdr req;
		size_t need;
		why[0] = 0;
		int r = memd_parse_request(data + off, size - off, &req, &need, why, sizeof(why));
		check(need >= FSP_HDR_LEN && need <= FSP_MAX_MSG);
		if (r == MEMD_PARSE_BAD) {
			check(why[0] != 0);
			break;
		}
		if (r == MEMD_PARSE_MORE) {
			check(need > size - off);
			break;
		}
		check(need <= size - off);
		check(req.npages >= 1);
		size_t before = memd_buf_pending(&out);
		check(memd_apply(&store, ss, &req, data + off + FSP_HDR_LEN, &out) == 0);
		size_t grew = memd_buf_pending(&out) - before;
		/* One response per READ/WRITE (with data only for an OK READ), none for
		 * DISCARD; capacity never exceeded. */
		if (req.op == FSP_OP_DISCARD)
			check(grew == 0);
		else
			check(grew == FSP_HDR_LEN || grew == FSP_HDR_LEN + (size_t)req.npages * 4096);
		check(store.used_pages <= store.capacity_pages);
		check(memd_session_pages(ss) == store.used_pages);
		out.off = out.len = 0; /* "sent" */
		off += need;
	}
	memd_buf_free(&out);
	memd_session_put(&store, ss);
	check(store.used_pages == 0 && store.nsessions == 0);
	memd_store_destroy(&store);
	return 0;
}
