/*
 * test_model_file.c - model files round-trip bit for bit, and a damaged, truncated,
 * wrong-version, foreign or inconsistent file is refused with a message that says
 * what is wrong.  Also: the farsight policy loads a model and predicts a learned
 * pointer chase through the replay, and refuses a missing model clearly.
 */
#include "testlib.h"
#include "farsight.h"
#include "model/modelfile.h"
#include "trace/replay.h"
#include "trace/synth.h"
#include "trace/trace.h"
#include "model/train.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[256];
static unsigned char *img;
static long img_len;

static void write_model(void)
{
	fs_tok_config tc = { .k = 4, .vocab = FS_VOCAB_HYBRID, .replace = FS_FM_LRU };
	fs_retnet_config c;
	fs_rn_default_config(&c, fs_tok_vocab_size(&tc));
	fs_retnet *m = NULL;
	fs_rn_create(&c, &m);
	fs_rn_init_weights(m, 5);
	char err[256];
	CHECK(fs_model_save(path, m, &tc, "test model", err, sizeof(err)) == 0);
	fs_rn_destroy(m);
	FILE *f = fopen(path, "rb");
	fseek(f, 0, SEEK_END);
	img_len = ftell(f);
	rewind(f);
	free(img);
	img = malloc((size_t)img_len);
	CHECK(fread(img, 1, (size_t)img_len, f) == (size_t)img_len);
	fclose(f);
}

static void put(const unsigned char *b, long n)
{
	FILE *f = fopen(path, "wb");
	fwrite(b, 1, (size_t)n, f);
	fclose(f);
}

/* Rewrite the checksum after a deliberate header edit, so the check that must fire
 * is the consistency check, not the checksum. */
static void reseal(unsigned char *b, long n)
{
	uint64_t h = fs_fnv1a(b, (size_t)n - 8, FS_FNV_SEED);
	for (int i = 0; i < 8; i++)
		b[n - 8 + i] = (unsigned char)(h >> (8 * i));
}

static void expect_refused(const char *what)
{
	fs_model m;
	char buf[512] = "", *err = buf;
	int rc = fs_model_load(path, &m, buf, sizeof(buf));
	CHECK(rc == FS_EFORMAT);
	CHECK_STR_CONTAINS(err, what);
	CHECK_STR_CONTAINS(err, path);
}

TEST(round_trip_is_exact)
{
	write_model();
	fs_model m;
	char err[256];
	CHECK(fs_model_load(path, &m, err, sizeof(err)) == 0);
	CHECK_EQ_U64(m.tok.k, 4);
	CHECK_EQ_U64(m.tok.vocab, FS_VOCAB_HYBRID);
	CHECK(!strcmp(m.note, "test model"));
	fs_retnet *ref = NULL;
	fs_rn_create(&m.net->cfg, &ref);
	fs_rn_init_weights(ref, 5);
	CHECK(!memcmp(ref->params, m.net->params, ref->n_params * sizeof(float)));
	fs_rn_destroy(ref);
	fs_model_free(&m);
}

TEST(damaged_files_are_refused_with_reason)
{
	unsigned char *b = malloc((size_t)img_len);
	memcpy(b, img, (size_t)img_len);
	b[img_len / 2] ^= 0x40; /* a weight bit flips */
	put(b, img_len);
	expect_refused("checksum mismatch");

	put(img, img_len - 100);
	expect_refused("truncated");

	memcpy(b, img, (size_t)img_len);
	b[8] = 7; /* version */
	put(b, img_len);
	expect_refused("version 7");

	put((const unsigned char *)"FSTRACE\0not a model at all.....", 32);
	expect_refused("not a farsight model file");

	memcpy(b, img, (size_t)img_len);
	b[80] = 9; /* tokenizer K=9 but the model's vocabulary was made for K=4 */
	reseal(b, img_len);
	put(b, img_len);
	expect_refused("inconsistent");

	memcpy(b, img, (size_t)img_len);
	b[20] = 17; /* d_model 17: not divisible into even heads */
	reseal(b, img_len);
	put(b, img_len);
	expect_refused("invalid model configuration");
	free(b);
	fs_model m;
	char err[256];
	CHECK(fs_model_load("/nonexistent/x.fsm", &m, err, sizeof(err)) == FS_EIO);
}

TEST(farsight_policy_predicts_a_learned_chase)
{
	/* Train briefly on one chase input, replay an unseen input through the policy and
	 * through `none`: the policy must turn misses into prefetch hits. */
	fs_trace_info info;
	fs_event *ev = NULL;
	size_t n = 0;
	char err[256];
	CHECK(fs_trace_load("synth:chase:1:20000", &info, &ev, &n, err, sizeof(err)) == 0);
	fs_tok_config tc = { .k = 4, .vocab = FS_VOCAB_HYBRID, .replace = FS_FM_LRU };
	fs_token_set ts = { 0 };
	CHECK(fs_token_set_add(&ts, &tc, 0, ev, n) == 0);
	free(ev);
	fs_retnet_config c;
	fs_rn_default_config(&c, fs_tok_vocab_size(&tc));
	fs_retnet *net = NULL;
	fs_rn_create(&c, &net);
	fs_rn_init_weights(net, 1);
	fs_train_opts o;
	fs_train_default_opts(&o);
	o.epochs = 1;
	fs_train_result res;
	CHECK(fs_train(net, &ts, &o, &res, err, sizeof(err)) == 0);
	CHECK(res.held_acc > 0.3f);
	fs_token_set_free(&ts);
	CHECK(fs_model_save(path, net, &tc, "", err, sizeof(err)) == 0);
	fs_rn_destroy(net);

	CHECK(fs_trace_load("synth:chase:2:10000", &info, &ev, &n, err, sizeof(err)) == 0);
	fs_config cfg;
	fs_config_from_env(&cfg, err, sizeof(err));
	cfg.prefetch = FS_PREFETCH_FARSIGHT;
	snprintf(cfg.model, sizeof(cfg.model), "%s", path);
	cfg.lookahead = 4;
	fs_policy *p = NULL;
	CHECK(fs_policy_create(&cfg, &p, err, sizeof(err)) == 0);
	fs_replay_opts ro = { .cache_pages = 1000, .delay_events = 1 };
	fs_replay_result r;
	if (p) {
		CHECK(fs_replay(p, ev, n, &ro, &r) == 0);
		CHECK(r.hits > 500);
		CHECK(r.hits + r.misses + r.resident == n);
		CHECK(p->ops->mem_bytes(p) > 0);
		p->ops->destroy(p);
	}
	/* Mapped on arrival (the runtime's default for farsight): touches of prefetched
	 * pages are unseen, and each arrival is an assumed hit; chained 2 deep, the
	 * predictions run further ahead of the chase than without a chain. */
	fs_replay_result rc0, rc2;
	for (uint32_t depth = 0; depth <= 2; depth += 2) {
		fs_replay_result *rr = depth ? &rc2 : &rc0;
		fs_replay_opts mo = ro;
		CHECK(fs_policy_create(&cfg, &p, err, sizeof(err)) == 0);
		if (!p)
			break;
		cfg.prefetch_map = FS_MAP_AUTO;
		cfg.chain_depth = depth;
		CHECK(fs_policy_arrival(&cfg, p->ops, &mo.arrival, err, sizeof(err)) == 0);
		CHECK(mo.arrival.map && mo.arrival.chain); /* the defaults */
		CHECK(fs_replay(p, ev, n, &mo, rr) == 0);
		CHECK_EQ_U64(rr->hits + rr->misses + rr->resident, n);
		fprintf(stderr, "  replay mapped on arrival, chain depth %u: %llu misses, %llu "
			"hits, %llu prefetches (faults on first touch: %llu misses)\n", depth,
			(unsigned long long)rr->misses, (unsigned long long)rr->hits,
			(unsigned long long)rr->prefetches, (unsigned long long)r.misses);
		p->ops->destroy(p);
	}
	CHECK(rc2.misses < rc0.misses);
	CHECK(rc2.prefetches > rc0.prefetches);
	/* the replay is deterministic */
	fs_replay_result r2;
	CHECK(fs_policy_create(&cfg, &p, err, sizeof(err)) == 0);
	if (p) {
		fs_replay(p, ev, n, &ro, &r2);
		CHECK(r2.hits == r.hits && r2.prefetches == r.prefetches && r2.wasted == r.wasted);
		p->ops->destroy(p);
	}
	snprintf(cfg.model, sizeof(cfg.model), "/nonexistent/m.fsm");
	char *e = err;
	CHECK(fs_policy_create(&cfg, &p, err, sizeof(err)) != 0);
	CHECK_STR_CONTAINS(e, "/nonexistent/m.fsm");
	free(ev);
}

/* Peak RSS so far, in MiB. */
static long peak_rss_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

/* Load path as a model in a child whose address space is capped (so a reader that
 * reads an endless file until memory runs out fails quickly instead of taking the
 * machine's memory; sanitizer builds cannot cap it and rely on the alarm), through
 * the farsight policy as `farsight run --model` does.  The child checks that it is
 * refused and that the message contains want. */
static void policy_refuses_in_child(const char *model, const char *want)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
		struct rlimit rl = { 1ull << 30, 1ull << 30 };
		setrlimit(RLIMIT_AS, &rl);
#endif
		fs_config cfg;
		char err[600];
		fs_config_from_env(&cfg, err, sizeof(err));
		cfg.prefetch = FS_PREFETCH_FARSIGHT;
		snprintf(cfg.model, sizeof(cfg.model), "%s", model);
		memset(err, 'A', sizeof(err) - 1); /* an unwritten message would show as AAAA */
		err[sizeof(err) - 1] = 0;
		fs_policy *p = NULL;
		int rc = fs_policy_create(&cfg, &p, err, sizeof(err));
		fprintf(stderr, "  %s as a model: rc %d: %.200s\n", model, rc, err);
		_exit(rc != 0 && strstr(err, want) && strstr(err, model) && !strstr(err, "AAAA") ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(model_reader_checks_the_header_first)
{
	if (!img)
		write_model();
	/* Not a regular file: refused before a byte is read. */
	policy_refuses_in_child("/dev/zero", "not a regular file");
	policy_refuses_in_child("/tmp", "is a directory");
	fs_model m;
	char err[512] = "";
	CHECK(fs_model_load("/tmp", &m, err, sizeof(err)) == FS_EFORMAT);
	CHECK_STR_CONTAINS(err, "is a directory");

	/* A 1 GiB file (sparse) is refused by its header: the reader never reads it. */
	long before = peak_rss_mib();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 1l << 30) == 0);
	close(fd);
	CHECK(fs_model_load(path, &m, err, sizeof(err)) == FS_EFORMAT);
	CHECK_STR_CONTAINS(err, "not a farsight model file");
	/* A good header followed by 1 GiB: refused by the size the header implies. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, img, 384) == 384 && ftruncate(fd, 1l << 30) == 0);
	close(fd);
	CHECK(fs_model_load(path, &m, err, sizeof(err)) == FS_EFORMAT);
	CHECK_STR_CONTAINS(err, "unexpected bytes");
	long grew = peak_rss_mib() - before;
	fprintf(stderr, "  peak RSS grew by %ld MiB reading two 1 GiB files\n", grew);
	CHECK(grew < 64);
	write_model(); /* the file other tests use */
}

static fs_retnet *train_once(uint64_t seed)
{
	fs_trace_info info;
	fs_event *ev = NULL;
	size_t n = 0;
	char err[256];
	fs_trace_load("synth:mix:3:4000", &info, &ev, &n, err, sizeof(err));
	fs_tok_config tc = { .k = 8, .vocab = FS_VOCAB_HYBRID, .replace = FS_FM_LRU };
	fs_token_set ts = { 0 };
	fs_token_set_add(&ts, &tc, 0, ev, n);
	free(ev);
	fs_retnet_config c;
	fs_rn_default_config(&c, fs_tok_vocab_size(&tc));
	fs_retnet *net = NULL;
	fs_rn_create(&c, &net);
	fs_rn_init_weights(net, seed);
	fs_train_opts o;
	fs_train_default_opts(&o);
	o.epochs = 2;
	o.seed = seed;
	fs_train_result res;
	fs_train(net, &ts, &o, &res, err, sizeof(err));
	fs_token_set_free(&ts);
	return net;
}

TEST(same_seed_gives_bitwise_same_model)
{
	fs_retnet *a = train_once(3), *b = train_once(3), *c = train_once(4);
	CHECK(!memcmp(a->params, b->params, a->n_params * sizeof(float)));
	CHECK(memcmp(a->params, c->params, a->n_params * sizeof(float)) != 0);
	fs_rn_destroy(a);
	fs_rn_destroy(b);
	fs_rn_destroy(c);
}

int main(void)
{
	snprintf(path, sizeof(path), "/tmp/fs_test_model_%d.fsm", (int)getpid());
	RUN(round_trip_is_exact);
	RUN(damaged_files_are_refused_with_reason);
	RUN(model_reader_checks_the_header_first);
	RUN(farsight_policy_predicts_a_learned_chase);
	RUN(same_seed_gives_bitwise_same_model);
	unlink(path);
	free(img);
	return TEST_EXIT();
}
