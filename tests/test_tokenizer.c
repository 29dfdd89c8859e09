/*
 * test_tokenizer.c - the tokenizer turns transitions into the documented tokens, per
 * thread, and resolve() inverts it; synthetic traces are deterministic per seed.
 */
#include "testlib.h"
#include "trace/synth.h"
#include "trace/trace.h"
#include "model/tokenizer.h"

static fs_event ev(uint64_t page, int thread)
{
	fs_event e = { .page = page, .thread = (uint16_t)thread };
	return e;
}

TEST(ordinal_vocabulary_tokens)
{
	fs_tok_config c = { .k = 4, .vocab = FS_VOCAB_ORDINAL, .replace = FS_FM_LRU };
	fs_tokenizer *t = NULL;
	CHECK_EQ_U64(fs_tok_vocab_size(&c), 7);
	CHECK(fs_tok_create(&c, 0, &t) == 0);
	fs_event a = ev(100, 0), b = ev(500, 0), b2 = ev(501, 0);
	CHECK(fs_tokenize(t, &a) == FS_TOK_START);
	CHECK(fs_tokenize(t, &b) == FS_TOK_NEW);   /* 100 -> 500 learned, ordinal 1 */
	CHECK(fs_tokenize(t, &a) == FS_TOK_NEW);   /* 500 -> 100 */
	CHECK(fs_tokenize(t, &b2) == FS_TOK_NEW);  /* 100 -> 501, ordinal 2 */
	CHECK(fs_tokenize(t, &a) == FS_TOK_NEW);   /* 501 -> 100 */
	CHECK(fs_tokenize(t, &b) == FS_TOK_ORD0);  /* 100 -> 500 = ordinal 1 */
	CHECK(fs_tokenize(t, &a) == FS_TOK_ORD0);
	CHECK(fs_tokenize(t, &b2) == FS_TOK_ORD0 + 1);
	CHECK_EQ_U64(fs_tok_resolve(t, 100, FS_TOK_ORD0), 500);
	CHECK_EQ_U64(fs_tok_resolve(t, 100, FS_TOK_ORD0 + 1), 501);
	CHECK_EQ_U64(fs_tok_resolve(t, 100, FS_TOK_NEW), FS_NOPAGE);
	CHECK_EQ_U64(fs_tok_resolve(t, 100, FS_TOK_ORD0 + 2), FS_NOPAGE);
	/* no deltas in the ordinal vocabulary */
	CHECK_EQ_U64(fs_tok_resolve(t, 100, FS_TOK_ORD0 + 4), FS_NOPAGE);
	/* another thread starts fresh and does not disturb thread 0's previous page */
	fs_event c1 = ev(100, 3);
	CHECK(fs_tokenize(t, &c1) == FS_TOK_START);
	CHECK(fs_tokenize(t, &a) == FS_TOK_ORD0); /* 501 -> 100: ordinal 1 of 501 */
	fs_tok_destroy(t);
}

TEST(hybrid_vocabulary_uses_deltas_first)
{
	fs_tok_config c = { .k = 4, .vocab = FS_VOCAB_HYBRID, .replace = FS_FM_LRU };
	fs_tokenizer *t = NULL;
	CHECK_EQ_U64(fs_tok_vocab_size(&c), 12);
	CHECK(fs_tok_create(&c, 0, &t) == 0);
	int d0 = FS_TOK_ORD0 + 4; /* +1 */
	fs_event e;
	e = ev(1000, 0);
	CHECK(fs_tokenize(t, &e) == FS_TOK_START);
	e = ev(1001, 0);
	CHECK(fs_tokenize(t, &e) == d0);
	e = ev(1003, 0);
	CHECK(fs_tokenize(t, &e) == d0 + 1); /* +2 */
	e = ev(1002, 0);
	CHECK(fs_tokenize(t, &e) == d0 + 4); /* -1 */
	e = ev(7, 0);
	CHECK(fs_tokenize(t, &e) == FS_TOK_NEW);
	CHECK_EQ_U64(fs_tok_resolve(t, 50, d0 + 3), 54);
	CHECK_EQ_U64(fs_tok_resolve(t, 0, d0 + 4), FS_NOPAGE); /* no page -1 */
	/* delta transitions are not stored in the maps */
	CHECK_EQ_U64(fs_tok_resolve(t, 1000, FS_TOK_ORD0), FS_NOPAGE);
	CHECK_EQ_U64(fs_tok_resolve(t, 1002, FS_TOK_ORD0), 7);
	fs_tok_stats st;
	fs_tok_get_stats(t, &st);
	CHECK_EQ_U64(st.delta, 3);
	CHECK_EQ_U64(st.new_, 1);
	char buf[16];
	CHECK(!strcmp(fs_tok_name(&c, d0 + 4, buf, sizeof(buf)), "-1"));
	CHECK(!strcmp(fs_tok_name(&c, FS_TOK_ORD0 + 2, buf, sizeof(buf)), "ord3"));
	fs_tok_destroy(t);
}

TEST(synthetic_traces_are_deterministic)
{
	fs_trace_info i1, i2;
	fs_event *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	char err[256];
	const char *kinds[] = { "synth:seq:1:5000", "synth:stride:1:5000", "synth:chase:2:5000",
				"synth:bfs:3:5000", "synth:mix:4:5000" };
	for (size_t k = 0; k < 5; k++) {
		CHECK(fs_trace_load(kinds[k], &i1, &a, &na, err, sizeof(err)) == 0);
		CHECK(fs_trace_load(kinds[k], &i2, &b, &nb, err, sizeof(err)) == 0);
		CHECK_EQ_U64(na, 5000);
		CHECK(na == nb && !memcmp(a, b, na * sizeof(*a)));
		free(a);
		free(b);
	}
	char *e = err;
	CHECK(fs_trace_load("synth:zigzag", &i1, &a, &na, err, sizeof(err)) == FS_EINVAL);
	CHECK_STR_CONTAINS(e, "unknown synthetic trace kind 'zigzag'");
}

int main(void)
{
	RUN(ordinal_vocabulary_tokens);
	RUN(hybrid_vocabulary_uses_deltas_first);
	RUN(synthetic_traces_are_deterministic);
	return TEST_EXIT();
}
