/*
 * parse.c - the memory server's request parser: pure functions over a byte buffer.
 *
 * Nothing here reads a socket or allocates, so the whole parser can be fuzzed
 * (fuzz/memd_fuzz.c) and a malformed message can never cost more than the bytes it
 * sent.  Every field is checked against the limits in proto/memd_proto.h before the caller
 * sizes a buffer from it: a header that claims an oversized payload is refused from
 * its 24 header bytes, before any payload is read.
 */
#include "memd/memd.h"
#include "common/util.h"

int memd_parse_request(const unsigned char *buf, size_t len, fsp_hdr *req, size_t *msglen,
		       char *why, size_t whylen)
{
	*msglen = FSP_HDR_LEN;
	if (len < FSP_HDR_LEN)
		return MEMD_PARSE_MORE;
	fsp_hdr_decode(buf, req);
	if (req->reserved != 0) {
		fs_errf(why, whylen, "malformed request header (reserved field is 0x%04x)",
			req->reserved);
		return MEMD_PARSE_BAD;
	}
	if (req->flags_or_status & ~FSP_REQ_DEMAND) {
		fs_errf(why, whylen, "malformed request header (unknown flags 0x%02x)",
			req->flags_or_status);
		return MEMD_PARSE_BAD;
	}
	switch (req->op) {
	case FSP_OP_READ:
	case FSP_OP_WRITE:
		if (req->npages == 0 || req->npages > FSP_MAX_PAGES) {
			fs_errf(why, whylen,
				"oversized or empty request (%u pages; 1..%u allowed)",
				req->npages, FSP_MAX_PAGES);
			return MEMD_PARSE_BAD;
		}
		break;
	case FSP_OP_DISCARD:
		if (req->npages == 0) {
			fs_errf(why, whylen, "malformed discard of 0 pages");
			return MEMD_PARSE_BAD;
		}
		break;
	default:
		fs_errf(why, whylen, "malformed request header (unknown op %u)", req->op);
		return MEMD_PARSE_BAD;
	}
	if (req->page > FSP_MAX_PAGE_INDEX || req->npages - 1 > FSP_MAX_PAGE_INDEX - req->page) {
		fs_errf(why, whylen, "request for pages %llu+%u is beyond the largest page index",
			(unsigned long long)req->page, req->npages);
		return MEMD_PARSE_BAD;
	}
	if (req->op == FSP_OP_WRITE)
		*msglen = FSP_HDR_LEN + (size_t)req->npages * 4096;
	return len >= *msglen ? MEMD_PARSE_OK : MEMD_PARSE_MORE;
}

int memd_parse_hello(const unsigned char *buf, memd_hello *h, char *why, size_t whylen)
{
	if (fsp_get32(buf) != FSP_MAGIC) {
		fs_errf(why, whylen, "not a farsight client (bad hello magic 0x%08x)",
			fsp_get32(buf));
		return MEMD_PARSE_BAD;
	}
	h->version = fsp_get16(buf + 4);
	h->flags = fsp_get16(buf + 6);
	if (h->flags & ~FSP_HELLO_FLAGS_ALL) {
		fs_errf(why, whylen, "malformed hello (unknown flags 0x%04x)", h->flags);
		return MEMD_PARSE_BAD;
	}
	for (int i = 56; i < FSP_HELLO_LEN; i++)
		if (buf[i]) {
			fs_errf(why, whylen, "malformed hello (reserved bytes are not zero)");
			return MEMD_PARSE_BAD;
		}
	memcpy(h->nonce, buf + FSP_HELLO_NONCE, FSP_NONCE_LEN);
	memcpy(h->session, buf + FSP_HELLO_SESSION, FSP_SESSION_LEN);
	return MEMD_PARSE_OK;
}
