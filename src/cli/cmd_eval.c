/*
 * cmd_eval.c - `farsight eval`: score a model's next-token and lookahead accuracy on a
 * trace, and replay the trace through prefetcher policies with a simulated local cache
 * (src/trace/replay.c), deterministically, so policies compare without timing noise.
 */
#include "cli/cli.h"
#include "common/util.h"
#include "farsight.h"
#include "trace/replay.h"
#include "trace/synth.h"
#include "trace/trace.h"
#include "model/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: farsight eval --trace F [--model MODEL] [--prefetch NAME[,NAME...]] [options]\n\n"
		"With --model: top-1 and top-3 next-token accuracy of the model on the trace, and\n"
		"what the farsight policy's predictor (the same code, the same settings:\n"
		"FARSIGHT_MIN_PROB, FARSIGHT_CANDIDATES, FARSIGHT_MODEL_LOOKAHEAD or\n"
		"--lookahead) gives: how often the next page is among its first-step candidates,\n"
		"and the accuracy of its lookahead chain at each step (page predicted j steps\n"
		"ahead = the thread's actual j-th next page).\n"
		"With --prefetch: replays the trace through each policy with an LRU local cache\n"
		"and reports misses, prefetch hits, late hits, wasted prefetches, precision,\n"
		"coverage and timeliness.  `farsight` uses --model (default: the shipped models/default.fsm);\n"
		"its other settings come from the environment as for `farsight run`\n"
		"(FARSIGHT_MIN_PROB, FARSIGHT_CANDIDATES, FARSIGHT_FALLBACK, FARSIGHT_MAP_BYTES).\n"
		"Prefetched pages are handled as at run time: FARSIGHT_PREFETCH_MAP (auto: hermit\n"
		"and farsight map them on arrival, their touches unseen; the policy is told of an\n"
		"assumed hit, and farsight's predictions chain FARSIGHT_CHAIN_DEPTH deep).\n"
		"The `map` column says which: fault (first touch seen) or arrival (mapped on\n"
		"arrival; queued at MRU whatever FARSIGHT_ARRIVAL_PLACE says: docs/MODEL.md).\n\n"
		"  --trace F         trace file, or synth:KIND[:SEED[:EVENTS]] (see farsight train --help)\n"
		"  --model MODEL     model file from farsight train\n"
		"  --lookahead L     sets model_lookahead, the predictor's chain length (default:\n"
		"                    the setting, 3), and the oracle's lookahead (default 8)\n"
		"  --prefetch LIST   policies to replay, comma-separated (e.g. readahead,farsight)\n"
		"  --local-mem SIZE  cache size: bytes (64M) or a percentage of the trace's\n"
		"                    footprint (25%%); default: the trace header's budget, else 25%%\n"
		"  --delay N         a prefetch arrives N events after it is issued (default 2);\n"
		"                    hits before that count as late\n"
		"  --json FILE       also write the results as JSON\n");
}

int fs_cmd_eval(int argc, char **argv)
{
	const char *trace = NULL, *model = NULL, *prefetch = NULL, *json = NULL, *local = NULL;
	uint32_t lookahead = 8, delay = 2;
	int lookahead_given = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc)
			return fs_cli_usage_error("eval: %s needs a value (see farsight eval --help)", a);
		const char *v = argv[++i];
		char *end;
		if (!strcmp(a, "--trace"))
			trace = v;
		else if (!strcmp(a, "--model"))
			model = v;
		else if (!strcmp(a, "--prefetch"))
			prefetch = v;
		else if (!strcmp(a, "--json"))
			json = v;
		else if (!strcmp(a, "--local-mem"))
			local = v;
		else if (!strcmp(a, "--lookahead") || !strcmp(a, "--delay")) {
			unsigned long u = strtoul(v, &end, 10);
			if (!*v || *end || u > FS_EVAL_MAX_LOOKAHEAD * 1000ul)
				return fs_cli_usage_error("eval: %s '%s' is not a small number", a, v);
			if (a[2] == 'l') {
				if (u < 1 || u > FS_EVAL_MAX_LOOKAHEAD)
					return fs_cli_usage_error("eval: --lookahead %lu: use 1..%d", u,
								  FS_EVAL_MAX_LOOKAHEAD);
				lookahead = (uint32_t)u;
				lookahead_given = 1;
			} else {
				delay = (uint32_t)u;
			}
		} else
			return fs_cli_usage_error("eval: unknown option %s (see farsight eval --help)", a);
	}
	if (!trace || (!model && !prefetch))
		return fs_cli_usage_error("eval: needs --trace F and --model MODEL and/or --prefetch "
					  "NAME (see farsight eval --help)");
	char err[600];
	fs_trace_info info;
	fs_event *ev = NULL;
	size_t n = 0;
	if (fs_trace_load(trace, &info, &ev, &n, err, sizeof(err)))
		return fs_cli_usage_error("eval: %s", err);
	FILE *jf = NULL;
	if (json && !(jf = fopen(json, "w"))) {
		free(ev);
		return fs_cli_usage_error("eval: cannot write %s", json);
	}
	if (jf) {
		fprintf(jf, "{\"trace\": ");
		fs_json_str(jf, trace);
		fprintf(jf, ", \"events\": %zu, \"lookahead\": %u", n, lookahead);
	}
	int status = 0;
	printf("trace %s: %zu events\n", trace, n);
	if (model) {
		fs_model m;
		if (fs_model_load(model, &m, err, sizeof(err))) {
			status = fs_cli_usage_error("eval: %s", err);
			goto out;
		}
		/* the predictor with the policy's settings, as `farsight run` reads them */
		fs_config cfg;
		if (fs_config_from_env(&cfg, err, sizeof(err))) {
			fs_model_free(&m);
			status = fs_cli_usage_error("eval: %s", err);
			goto out;
		}
		if (lookahead_given)
			cfg.model_lookahead = lookahead;
		fs_predict_opts po;
		fs_pred_opts_from_config(&cfg, &po);
		fs_eval_result r;
		int rc = fs_eval_model(&m, ev, n, &po, cfg.map_bytes, &r);
		fs_model_free(&m);
		if (rc) {
			fprintf(stderr, "farsight: eval: %s\n", fs_strerror(rc));
			status = 1;
			goto out;
		}
		double pd = r.predicted ? (double)r.predicted : 1.0;
		double ev_ = r.tok.events ? (double)r.tok.events : 1.0;
		printf("model %s (K=%u, %s vocabulary)\n", model, m.tok.k,
		       m.tok.vocab ? "hybrid" : "ordinal");
		printf("  tokens: ordinal %.1f%%  delta %.1f%%  new %.1f%%  start %.1f%%  "
		       "future maps %.1f KiB\n",
		       100.0 * r.tok.ordinal / ev_, 100.0 * r.tok.delta / ev_, 100.0 * r.tok.new_ / ev_,
		       100.0 * r.tok.start / ev_, r.map_bytes / 1024.0);
		printf("  next token: top-1 %.3f  top-3 %.3f  (%llu predictions)\n", r.top1 / pd,
		       r.top3 / pd, (unsigned long long)r.predicted);
		printf("  predictor (min_prob %g, candidates %u, model_lookahead %u): next page "
		       "among the first step's candidates %.3f (candidates given at %.3f of "
		       "events)\n", po.min_prob, po.width, r.lookahead, r.cand_hit / pd,
		       r.cand_made / pd);
		printf("  lookahead page accuracy (step: correct / events with a j-th next page; "
		       "chain reached):\n");
		for (uint32_t j = 0; j < r.lookahead; j++) {
			double t = r.page_total[j] ? (double)r.page_total[j] : 1.0;
			printf("    %2u: %.3f  (chain reached %.3f)\n", j + 1, r.page_hit[j] / t,
			       r.page_made[j] / t);
		}
		printf("  %.0f ns per event (the predictor: step, candidates, %u-step chain)\n",
		       r.ns_per_event, r.lookahead);
		if (jf) {
			fprintf(jf, ", \"model\": {\"path\": ");
			fs_json_str(jf, model);
			fprintf(jf, ", \"min_prob\": %g, \"candidates\": %u, \"model_lookahead\": %u, "
				    "\"next_page_in_candidates\": %.6f", po.min_prob, po.width,
				r.lookahead, r.cand_hit / pd);
			fprintf(jf, ", \"k\": %u, \"vocab\": \"%s\", \"top1\": %.6f, \"top3\": %.6f, "
				    "\"tokens\": {\"ordinal\": %llu, \"delta\": %llu, \"new\": %llu, "
				    "\"start\": %llu}, \"future_map_bytes\": %llu, \"lookahead_accuracy\": [",
				m.tok.k, m.tok.vocab ? "hybrid" : "ordinal", r.top1 / pd, r.top3 / pd,
				(unsigned long long)r.tok.ordinal, (unsigned long long)r.tok.delta,
				(unsigned long long)r.tok.new_, (unsigned long long)r.tok.start,
				(unsigned long long)r.map_bytes);
			for (uint32_t j = 0; j < r.lookahead; j++)
				fprintf(jf, "%s%.6f", j ? ", " : "",
					r.page_total[j] ? (double)r.page_hit[j] / r.page_total[j] : 0.0);
			fprintf(jf, "], \"ns_per_event\": %.1f}", r.ns_per_event);
		}
	}
	if (prefetch) {
		uint64_t foot = fs_trace_footprint(ev, n), pages;
		const char *how;
		if (local) {
			size_t l = strlen(local);
			if (l && local[l - 1] == '%') {
				char *end;
				double pct = strtod(local, &end);
				if (end != local + l - 1 || !(pct > 0 && pct <= 100)) {
					status = fs_cli_usage_error("eval: --local-mem '%s': use a size "
								    "(64M) or a percentage (25%%)", local);
					goto out;
				}
				pages = (uint64_t)(foot * pct / 100.0);
				how = "--local-mem percentage of the footprint";
			} else {
				uint64_t b;
				if (fs_parse_size(local, &b)) {
					status = fs_cli_usage_error("eval: --local-mem '%s': use a size "
								    "(64M) or a percentage (25%%)", local);
					goto out;
				}
				pages = b / FS_PAGE_SIZE;
				how = "--local-mem";
			}
		} else if (info.local_mem) {
			pages = info.local_mem / FS_PAGE_SIZE;
			how = "the trace header's budget";
		} else {
			pages = foot / 4;
			how = "default 25% of the footprint";
		}
		if (pages < 1)
			pages = 1;
		printf("replay: local cache %llu pages (%s; footprint %llu pages), LRU; prefetch "
		       "arrives %u events after issue\n", (unsigned long long)pages, how,
		       (unsigned long long)foot, delay);
		printf("  %-10s %-7s %9s %9s %9s %9s %9s %7s %7s %7s %9s\n", "policy", "map",
		       "misses", "pf_hits", "late", "prefetch", "wasted", "prec", "cover",
		       "timely", "ns/event");
		if (jf)
			fprintf(jf, ", \"replay\": {\"cache_pages\": %llu, \"footprint_pages\": %llu, "
				    "\"delay_events\": %u, \"policies\": [",
				(unsigned long long)pages, (unsigned long long)foot, delay);
		char list[256];
		snprintf(list, sizeof(list), "%s", prefetch);
		int first = 1;
		for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
		     name = strtok_r(NULL, ",", &save)) {
			fs_config cfg;
			if (fs_config_from_env(&cfg, err, sizeof(err))) {
				status = fs_cli_usage_error("eval: %s", err);
				goto out;
			}
			if (fs_config_set(&cfg, "prefetch", name, err, sizeof(err))) {
				status = fs_cli_usage_error("eval: %s", err);
				goto out;
			}
			if (model)
				snprintf(cfg.model, sizeof(cfg.model), "%s", model);
			cfg.lookahead = lookahead;
			if (lookahead_given) /* the farsight policy's own chain length */
				cfg.model_lookahead = lookahead;
			snprintf(cfg.trace, sizeof(cfg.trace), "%s", trace);
			fs_policy *p = NULL;
			if (fs_policy_create(&cfg, &p, err, sizeof(err))) {
				status = fs_cli_usage_error("eval: %s", err);
				goto out;
			}
			fs_replay_opts ro = { .cache_pages = pages, .delay_events = delay };
			if (fs_policy_arrival(&cfg, p->ops, &ro.arrival, err, sizeof(err))) {
				p->ops->destroy(p);
				status = fs_cli_usage_error("eval: %s", err);
				goto out;
			}
			const char *map = ro.arrival.map ? "arrival" : "fault";
			fs_replay_result r;
			int rc = fs_replay(p, ev, n, &ro, &r);
			p->ops->destroy(p);
			if (rc) {
				fprintf(stderr, "farsight: eval: replay with %s: %s\n", name,
					fs_strerror(rc));
				status = 1;
				goto out;
			}
			printf("  %-10s %-7s %9llu %9llu %9llu %9llu %9llu %7.3f %7.3f %7.3f %9.0f\n",
			       name, map, (unsigned long long)r.misses, (unsigned long long)r.hits,
			       (unsigned long long)r.late_hits, (unsigned long long)r.prefetches,
			       (unsigned long long)r.wasted, r.precision, r.coverage, r.timeliness,
			       r.policy_ns_per_event);
			if (jf) {
				fprintf(jf, "%s{\"policy\": ", first ? "" : ", ");
				fs_json_str(jf, name);
				fprintf(jf, ", \"prefetch_map\": \"%s\", \"chain_depth\": %u", map,
					ro.arrival.chain_depth);
				fprintf(jf, ", \"misses\": %llu, \"resident_hits\": %llu, "
					    "\"prefetch_hits\": %llu, \"late_hits\": %llu, "
					    "\"prefetches\": %llu, \"wasted\": %llu, \"unused_at_end\": %llu, "
					    "\"precision\": %.6f, \"coverage\": %.6f, \"timeliness\": %.6f, "
					    "\"policy_mem_bytes\": %llu, \"policy_ns_per_event\": %.1f}",
					(unsigned long long)r.misses, (unsigned long long)r.resident,
					(unsigned long long)r.hits, (unsigned long long)r.late_hits,
					(unsigned long long)r.prefetches, (unsigned long long)r.wasted,
					(unsigned long long)r.unused_at_end, r.precision, r.coverage,
					r.timeliness, (unsigned long long)r.policy_mem_bytes,
					r.policy_ns_per_event);
			}
			first = 0;
		}
		if (jf)
			fprintf(jf, "]}");
	}
out:
	if (jf) {
		fprintf(jf, "}\n");
		fclose(jf);
	}
	free(ev);
	return status;
}
