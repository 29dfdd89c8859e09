/*
 * modelfile.c - reading and writing FarSight model files.
 *
 * Layout (little-endian), version 1:
 *   0    magic "FSMODEL\0"                         8 bytes
 *   8    version u32, header_size u32 (= 384)
 *   16   model: vocab, d_model, n_layers, n_heads, d_ffn, seq_len    6 x u32
 *   40   gamma[8] f32, rope_base f32, eps f32                         10 x f32
 *   80   tokenizer: k, vocab_kind, replace, n_deltas                  4 x u32
 *   96   deltas[8] i32 (the hybrid delta table; checked against ours)
 *   128  n_params u64
 *   136  note[248] (how it was trained), NUL-padded
 *   384  weights: n_params x f32, in retnet.c's layout
 *   end  checksum u64: FNV-1a of every byte before it
 * The reader refuses anything but a regular file, reads the header alone and checks,
 * in order: magic, version, header size, the model and tokenizer configuration (each
 * value in range, vocab = the tokenizer's vocabulary, n_params = what the
 * configuration implies, the delta table), the exact file size; only then does it
 * read the weights (exactly the size the header implies) and check the checksum.  It
 * says which check failed.
 */
#include "model/modelfile.h"
#include "common/util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "FSMODEL\0"
#define HEADER_SIZE 384u

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}
static void putf(unsigned char *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	put32(p, u);
}
static float getf(const unsigned char *p)
{
	uint32_t u = get32(p);
	float f;
	memcpy(&f, &u, 4);
	return f;
}

int fs_model_save(const char *path, const fs_retnet *net, const fs_tok_config *tok,
		  const char *note, char *err, size_t errlen)
{
	const fs_retnet_config *c = &net->cfg;
	size_t total = HEADER_SIZE + net->n_params * 4 + 8;
	unsigned char *b = calloc(1, total);
	if (!b)
		return FS_ENOMEM;
	memcpy(b, MAGIC, 8);
	put32(b + 8, FS_MODEL_VERSION);
	put32(b + 12, HEADER_SIZE);
	uint32_t mc[6] = { c->vocab, c->d_model, c->n_layers, c->n_heads, c->d_ffn, c->seq_len };
	for (int i = 0; i < 6; i++)
		put32(b + 16 + 4 * i, mc[i]);
	for (int i = 0; i < 8; i++)
		putf(b + 40 + 4 * i, c->gamma[i]);
	putf(b + 72, c->rope_base);
	putf(b + 76, c->eps);
	put32(b + 80, tok->k);
	put32(b + 84, tok->vocab);
	put32(b + 88, tok->replace);
	put32(b + 92, FS_TOK_N_DELTAS);
	for (int i = 0; i < FS_TOK_N_DELTAS; i++)
		put32(b + 96 + 4 * i, (uint32_t)(int32_t)FS_TOK_DELTAS[i]);
	put64(b + 128, net->n_params);
	if (note)
		strncpy((char *)b + 136, note, 247);
	for (size_t i = 0; i < net->n_params; i++)
		putf(b + HEADER_SIZE + 4 * i, net->params[i]);
	put64(b + total - 8, fs_fnv1a(b, total - 8, FS_FNV_SEED));

	fs_outfile o; /* renamed into place, or written through to a device */
	if (fs_out_open(&o, path, FS_OUT_ATOMIC, err, errlen)) {
		free(b);
		return FS_EIO;
	}
	if (fwrite(b, 1, total, o.f) != total) {
		fs_errf(err, errlen, "cannot write model %s: %s", path, strerror(errno));
		fs_out_abort(&o);
		free(b);
		return FS_EIO;
	}
	free(b);
	if (fs_out_commit(&o, err, errlen))
		return FS_EIO;
	return FS_OK;
}

int fs_model_load(const char *path, fs_model *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	/* The header first, then exactly the size it implies: a huge or endless file (a
	 * 3 GiB trace given as a model, /dev/zero) costs nothing before it is refused. */
	uint64_t len;
	int rc;
	int fd = fs_in_open(path, "model", &len, &rc, err, errlen);
	if (fd < 0)
		return rc;
	unsigned char h[HEADER_SIZE];
	unsigned char *b = NULL;
	long got = fs_read_full(fd, h, sizeof(h));
	rc = FS_EFORMAT;
	if (got < 0) {
		fs_errf(err, errlen, "cannot read model %s: %s", path, strerror(errno));
		rc = FS_EIO;
		goto out;
	}
#define BAD(...)                                   \
	do {                                       \
		fs_errf(err, errlen, __VA_ARGS__); \
		goto out;                          \
	} while (0)
	if (got < 16 || memcmp(h, MAGIC, 8))
		BAD("%s is not a farsight model file (bad magic); train one with `farsight train`",
		    path);
	uint32_t ver = get32(h + 8);
	if (ver != FS_MODEL_VERSION)
		BAD("%s is model format version %u; this farsight reads version %u: retrain it "
		    "with this farsight's `farsight train`", path, ver, FS_MODEL_VERSION);
	if (got < (long)HEADER_SIZE || len < HEADER_SIZE + 8)
		BAD("%s is truncated: %llu bytes, shorter than the %u-byte header", path,
		    (unsigned long long)len, HEADER_SIZE + 8);
	if (get32(h + 12) != HEADER_SIZE)
		BAD("%s has header size %u, expected %u (damaged file?)", path, get32(h + 12),
		    HEADER_SIZE);
	fs_retnet_config c;
	memset(&c, 0, sizeof(c));
	c.vocab = get32(h + 16);
	c.d_model = get32(h + 20);
	c.n_layers = get32(h + 24);
	c.n_heads = get32(h + 28);
	c.d_ffn = get32(h + 32);
	c.seq_len = get32(h + 36);
	for (int i = 0; i < 8; i++)
		c.gamma[i] = getf(h + 40 + 4 * i);
	c.rope_base = getf(h + 72);
	c.eps = getf(h + 76);
	char why[200];
	if (fs_rn_config_check(&c, why, sizeof(why)))
		BAD("%s has an invalid model configuration: %s", path, why);
	fs_tok_config t = { get32(h + 80), get32(h + 84), get32(h + 88) };
	if (fs_tok_config_check(&t, why, sizeof(why)))
		BAD("%s has an invalid tokenizer configuration: %s", path, why);
	if (fs_tok_vocab_size(&t) != c.vocab)
		BAD("%s is inconsistent: the model has %u output tokens but its tokenizer "
		    "(K=%u, %s vocabulary) has %u", path, c.vocab, t.k,
		    t.vocab ? "hybrid" : "ordinal", fs_tok_vocab_size(&t));
	uint32_t nd = get32(h + 92);
	int deltas_ok = nd == FS_TOK_N_DELTAS;
	for (uint32_t i = 0; deltas_ok && i < nd; i++)
		deltas_ok = (int32_t)get32(h + 96 + 4 * i) == FS_TOK_DELTAS[i];
	if (!deltas_ok)
		BAD("%s was trained with a different delta table than this farsight's "
		    "(+1 +2 +3 +4 -1): retrain it", path);
	uint64_t n = get64(h + 128);
	if (n != fs_rn_num_params(&c))
		BAD("%s is inconsistent: it stores %llu weights but its configuration needs %zu",
		    path, (unsigned long long)n, fs_rn_num_params(&c));
	size_t want = HEADER_SIZE + (size_t)n * 4 + 8;
	if (len < want)
		BAD("%s is truncated: %llu bytes of %zu (an interrupted copy or write?)", path,
		    (unsigned long long)len, want);
	if (len > want)
		BAD("%s has %llu unexpected bytes after the checksum (damaged file?)", path,
		    (unsigned long long)(len - want));
	b = malloc(want);
	if (!b) {
		fs_errf(err, errlen, "out of memory reading the %zu-byte model %s", want, path);
		rc = FS_ENOMEM;
		goto out;
	}
	memcpy(b, h, HEADER_SIZE);
	got = fs_read_full(fd, b + HEADER_SIZE, want - HEADER_SIZE);
	if (got < 0) {
		fs_errf(err, errlen, "cannot read model %s: %s", path, strerror(errno));
		rc = FS_EIO;
		goto out;
	}
	if ((size_t)got != want - HEADER_SIZE)
		BAD("%s is truncated: it shrank to %zu bytes while being read", path,
		    HEADER_SIZE + (size_t)got);
	if (get64(b + want - 8) != fs_fnv1a(b, want - 8, FS_FNV_SEED))
		BAD("%s is damaged: checksum mismatch (the weights or header were altered)", path);
#undef BAD
	rc = fs_rn_create(&c, &out->net);
	if (rc) {
		fs_errf(err, errlen, "out of memory loading %s", path);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		out->net->params[i] = getf(b + HEADER_SIZE + 4 * i);
	out->tok = t;
	memcpy(out->note, b + 136, 247);
	out->note[247] = 0;
	rc = FS_OK;
out:
	free(b);
	close(fd);
	return rc;
}

void fs_model_free(fs_model *m)
{
	fs_rn_destroy(m->net);
	m->net = NULL;
}

#ifndef FS_DATADIR
#define FS_DATADIR "/usr/local/share/farsight"
#endif

const char *fs_model_default_path(void)
{
	static char found[PATH_MAX];
	if (found[0])
		return found;
	/* The directory of the object this code is in: build/ in a build tree,
	 * PREFIX/bin or PREFIX/lib/farsight when installed. */
	char dir[PATH_MAX] = "";
	Dl_info info;
	if (dladdr((void *)fs_model_default_path, &info) && info.dli_fname && info.dli_fname[0] == '/') {
		snprintf(dir, sizeof(dir), "%s", info.dli_fname);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
	} else {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
		dir[n > 0 ? n : 0] = 0;
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
	}
	static const char *const rel[] = { "/models/default.fsm", "/../models/default.fsm",
					   "/../share/farsight/models/default.fsm",
					   "/../../share/farsight/models/default.fsm" };
	char path[PATH_MAX + 64];
	for (size_t i = 0; dir[0] && i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, rel[i]);
		char *real = realpath(path, NULL);
		if (real) {
			snprintf(found, sizeof(found), "%s", real);
			free(real);
			return found;
		}
	}
	if (access(FS_DATADIR "/models/default.fsm", R_OK) == 0) {
		snprintf(found, sizeof(found), "%s", FS_DATADIR "/models/default.fsm");
		return found;
	}
	if (access(FS_MODEL_DEFAULT_PATH, R_OK) == 0)
		return FS_MODEL_DEFAULT_PATH;
	return FS_DATADIR "/models/default.fsm";
}
