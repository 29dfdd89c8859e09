/*
 * cmd_train.c - `farsight train`: tokenize traces and train a FarSight model.
 *
 * Everything but argument parsing lives in src/model/train.c, so the runtime, the
 * tests and this command share one tokenizer and one training loop.
 */
#include "cli/cli.h"
#include "farsight.h"
#include "trace/synth.h"
#include "trace/trace.h"
#include "model/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: farsight train --trace F [--trace F2 ...] --out MODEL [options]\n\n"
		"Tokenizes each trace with fresh future maps (as at run time), holds out the\n"
		"last part of every thread's stream, trains the RetNet and writes MODEL.\n"
		"Prints one line per epoch: loss, top-1 accuracy on training and held-out\n"
		"tokens, tokens/s.  The same traces, options and seed give the same model, bit\n"
		"for bit.\n\n"
		"  --trace F        a trace from `farsight run --record` (repeatable), or\n"
		"                   synth:KIND[:SEED[:EVENTS]] with KIND seq|stride|chase|bfs|mix\n"
		"  --out MODEL      model file to write (.fsm)\n"
		"  --epochs N       passes over the data (default 4)\n"
		"  --seed S         weight init and shuffling (default 1)\n"
		"  --lr X           peak AdamW learning rate (default 0.005)\n"
		"  --batch N        windows per step (default 16)\n"
		"  --k K            future-map slots (default 8)\n"
		"  --vocab KIND     hybrid (ordinals + deltas +1..+4,-1; default) or ordinal\n"
		"  --replace RULE   future-map slot replacement: lru (default), lfu, fifo\n"
		"  --d N --layers N --heads N --ffn N --seq N   model sizes (default 16 1 2 32 64)\n"
		"  --held-out X     fraction held out (default 0.1)\n"
		"  --max-windows N  cap training windows per epoch (default all)\n");
}

int fs_cmd_train(int argc, char **argv)
{
	const char *traces[64], *out = NULL;
	int nt = 0;
	fs_train_opts o;
	fs_train_default_opts(&o);
	o.progress = stdout;
	fs_tok_config tc = { .k = 8, .vocab = FS_VOCAB_HYBRID, .replace = FS_FM_LRU };
	uint32_t d = 16, layers = 1, heads = 2, ffn = 32, seq = 64;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc)
			return fs_cli_usage_error("train: %s needs a value (see farsight train --help)",
						  a);
		const char *v = argv[++i];
		char *end = NULL;
		unsigned long long u = strtoull(v, &end, 10);
		int num_ok = *v && !*end;
		if (!strcmp(a, "--trace")) {
			if (nt == 64)
				return fs_cli_usage_error("train: at most 64 traces");
			traces[nt++] = v;
		} else if (!strcmp(a, "--out")) {
			out = v;
		} else if (!strcmp(a, "--lr") || !strcmp(a, "--held-out")) {
			float x = strtof(v, &end);
			if (!*v || *end || !(x >= 0.0f) || x >= 1.0f || (!strcmp(a, "--lr") && x == 0))
				return fs_cli_usage_error("train: %s '%s' must be a number in %s", a,
							  v, a[2] == 'l' ? "(0, 1)" : "[0, 1)");
			if (a[2] == 'l')
				o.lr = x;
			else
				o.held_out = x;
		} else if (!strcmp(a, "--vocab")) {
			if (!strcmp(v, "hybrid"))
				tc.vocab = FS_VOCAB_HYBRID;
			else if (!strcmp(v, "ordinal"))
				tc.vocab = FS_VOCAB_ORDINAL;
			else
				return fs_cli_usage_error("train: --vocab '%s': use hybrid or ordinal", v);
		} else if (!strcmp(a, "--replace")) {
			int r = fs_fm_replace_parse(v);
			if (r < 0)
				return fs_cli_usage_error("train: --replace '%s': use lru, lfu or fifo", v);
			tc.replace = (uint32_t)r;
		} else if (!num_ok) {
			return fs_cli_usage_error("train: unknown option %s, or '%s' is not a "
						  "number (see farsight train --help)", a, v);
		} else if (!strcmp(a, "--epochs")) {
			o.epochs = (uint32_t)u;
		} else if (!strcmp(a, "--seed")) {
			o.seed = u;
		} else if (!strcmp(a, "--batch")) {
			o.batch = (uint32_t)(u ? u : 1);
		} else if (!strcmp(a, "--k")) {
			tc.k = (uint32_t)u;
		} else if (!strcmp(a, "--d")) {
			d = (uint32_t)u;
		} else if (!strcmp(a, "--layers")) {
			layers = (uint32_t)u;
		} else if (!strcmp(a, "--heads")) {
			heads = (uint32_t)u;
		} else if (!strcmp(a, "--ffn")) {
			ffn = (uint32_t)u;
		} else if (!strcmp(a, "--seq")) {
			seq = (uint32_t)u;
		} else if (!strcmp(a, "--max-windows")) {
			o.max_windows = u;
		} else {
			return fs_cli_usage_error("train: unknown option %s (see farsight train --help)",
						  a);
		}
	}
	if (!nt || !out)
		return fs_cli_usage_error("train: needs --trace F and --out MODEL (see farsight "
					  "train --help)");
	char err[512];
	if (fs_tok_config_check(&tc, err, sizeof(err)))
		return fs_cli_usage_error("train: %s", err);
	fs_retnet_config rc;
	fs_rn_default_config(&rc, fs_tok_vocab_size(&tc));
	rc.d_model = d;
	rc.n_layers = layers;
	rc.n_heads = heads;
	rc.d_ffn = ffn;
	rc.seq_len = seq;
	for (uint32_t h = 2; h < FS_RN_MAX_HEADS; h++) /* more heads: longer decays */
		rc.gamma[h] = 1.0f - ldexpf(1.0f, -(int)(2 + 2 * h));
	if (fs_rn_config_check(&rc, err, sizeof(err)))
		return fs_cli_usage_error("train: model size: %s", err);

	fs_token_set ts = { 0 };
	for (int i = 0; i < nt; i++) {
		fs_trace_info info;
		fs_event *ev = NULL;
		size_t n = 0;
		int r = fs_trace_load(traces[i], &info, &ev, &n, err, sizeof(err));
		if (r) {
			fs_token_set_free(&ts);
			return fs_cli_usage_error("train: %s", err);
		}
		r = fs_token_set_add(&ts, &tc, o.map_budget, ev, n);
		free(ev);
		if (r) {
			fs_token_set_free(&ts);
			fprintf(stderr, "farsight: train: tokenizing %s: %s\n", traces[i],
				fs_strerror(r));
			return 1;
		}
		printf("trace %s: %zu events\n", traces[i], n);
	}
	const fs_tok_stats *s = &ts.stats;
	double ev = s->events ? (double)s->events : 1.0;
	printf("tokens: %llu (K=%u, %s vocabulary, %u tokens, %s slots): ordinal %.1f%%, delta "
	       "%.1f%%, new %.1f%%, start %.1f%%; future maps up to %.1f KiB per trace\n",
	       (unsigned long long)s->events, tc.k, tc.vocab ? "hybrid" : "ordinal",
	       fs_tok_vocab_size(&tc), fs_fm_replace_name((int)tc.replace),
	       100.0 * s->ordinal / ev, 100.0 * s->delta / ev, 100.0 * s->new_ / ev,
	       100.0 * s->start / ev, ts.map_bytes / 1024.0);
	fs_retnet *net = NULL;
	if (fs_rn_create(&rc, &net)) {
		fs_token_set_free(&ts);
		return 1;
	}
	fs_rn_init_weights(net, o.seed);
	printf("model: %zu parameters (V=%u D=%u L=%u H=%u F=%u T=%u)\n", net->n_params, rc.vocab,
	       rc.d_model, rc.n_layers, rc.n_heads, rc.d_ffn, rc.seq_len);
	fs_train_result res;
	int r = fs_train(net, &ts, &o, &res, err, sizeof(err));
	fs_token_set_free(&ts);
	if (r) {
		fs_rn_destroy(net);
		fprintf(stderr, "farsight: train: %s\n", r == FS_EINVAL ? err : fs_strerror(r));
		return 1;
	}
	char note[248];
	int len = snprintf(note, sizeof(note), "farsight train");
	for (int i = 1; i < argc && len < (int)sizeof(note); i++)
		len += snprintf(note + len, sizeof(note) - (size_t)len, " %s", argv[i]);
	r = fs_model_save(out, net, &tc, note, err, sizeof(err));
	fs_rn_destroy(net);
	if (r) {
		fprintf(stderr, "farsight: train: %s\n", err);
		return 1;
	}
	printf("wrote %s (held-out top-1 %.3f)\n", out, res.held_acc);
	return 0;
}
