/*
 * test_retnet_grad.c - RetNet gradients agree with central finite differences, and the
 * recurrent single-step form reproduces the parallel forward token by token.
 *
 * Finite differences are taken in float32 with a step of 1e-2 on a small random model;
 * the check is on a sample of parameters from every tensor, comparing against the
 * analytic gradient to a tolerance that float32 differencing allows (2e-2 relative or
 * 2e-4 absolute); the PyTorch test checks the gradients to 1e-4.
 */
#include "testlib.h"
#include "model/retnet.h"
#include "model/tokenizer.h"

static fs_retnet *small_model(uint32_t layers, uint64_t seed)
{
	fs_retnet_config c;
	fs_rn_default_config(&c, 13);
	c.d_model = 8;
	c.d_ffn = 12;
	c.n_layers = layers;
	c.seq_len = 7;
	c.gamma[0] = 0.7f;
	c.gamma[1] = 0.95f;
	fs_retnet *m = NULL;
	if (fs_rn_create(&c, &m))
		return NULL;
	fs_rn_init_weights(m, seed);
	return m;
}

TEST(gradients_match_finite_differences)
{
	fs_retnet *m = small_model(2, 7);
	CHECK(m != NULL);
	if (!m)
		return;
	const uint32_t B = 2, T = 7;
	int in[14] = { 1, 3, 4, 5, 12, 3, 3, 1, 7, 8, 9, 3, 4, 10 };
	int tg[14] = { 3, 4, 5, 12, 3, 3, 0, 7, 8, 9, 3, 4, 10, 11 };
	CHECK(fs_rn_train_init(m, B, T) == 0);
	fs_rn_zero_grad(m);
	fs_rn_forward(m, in, tg, B, T);
	fs_rn_backward(m);
	int bad = 0, checked = 0;
	for (size_t i = 0; i < m->n_params; i += 7) {
		float old = m->params[i], h = 1e-2f;
		m->params[i] = old + h;
		double lp = fs_rn_forward(m, in, tg, B, T);
		m->params[i] = old - h;
		double lm = fs_rn_forward(m, in, tg, B, T);
		m->params[i] = old;
		double fd = (lp - lm) / (2.0 * h), an = m->grads[i];
		checked++;
		if (fabs(fd - an) > 2e-2 * fabs(an) + 2e-4) {
			if (bad++ < 5)
				fprintf(stderr, "  param %zu: analytic %g, finite difference %g\n", i,
					an, fd);
		}
	}
	printf("  %d of %d sampled parameters disagree\n", bad, checked);
	CHECK(checked > 100);
	CHECK(bad == 0);
	fs_rn_destroy(m);
}

TEST(recurrent_step_reproduces_parallel_logits)
{
	fs_retnet *m = small_model(2, 11);
	CHECK(m != NULL);
	if (!m)
		return;
	const uint32_t T = 7;
	int in[7] = { 1, 5, 6, 2, 9, 12, 4 };
	CHECK(fs_rn_train_init(m, 1, T) == 0);
	fs_rn_forward(m, in, NULL, 1, T);
	const float *par = fs_rn_logits(m);
	fs_rn_state *s = fs_rn_state_new(m);
	float lg[16];
	double worst = 0.0;
	for (uint32_t t = 0; t < T; t++) {
		fs_rn_step(m, s, in[t], lg);
		for (uint32_t v = 0; v < m->cfg.vocab; v++) {
			double e = fabs(lg[v] - par[t * m->cfg.vocab + v]);
			worst = e > worst ? e : worst;
		}
	}
	printf("  max |recurrent - parallel| logit difference %.2e\n", worst);
	CHECK(worst < 1e-4);
	free(s);
	fs_rn_destroy(m);
}

/* The rotation depends on relative positions only, so a state that starts at any
 * position (here: after 1000 unrelated tokens and a decay long enough to forget them)
 * gives the same predictions; and a copied state rolls forward without touching the
 * original. */
TEST(recurrent_state_copy_is_independent)
{
	fs_retnet *m = small_model(1, 3);
	CHECK(m != NULL);
	if (!m)
		return;
	fs_rn_state *a = fs_rn_state_new(m), *b = fs_rn_state_new(m), *c = fs_rn_state_new(m);
	float la[16], lb[16], lc[16];
	for (int i = 0; i < 50; i++)
		fs_rn_step(m, a, 3 + i % 7, la);
	fs_rn_state_copy(m, b, a);
	fs_rn_state_copy(m, c, a);
	for (int i = 0; i < 8; i++)
		fs_rn_step(m, b, 4, lb); /* roll the copy forward */
	fs_rn_step(m, a, 5, la);
	fs_rn_step(m, c, 5, lc);
	CHECK(!memcmp(la, lc, sizeof(float) * m->cfg.vocab));
	(void)lb;
	free(a);
	free(b);
	free(c);
	fs_rn_destroy(m);
}

TEST(bad_config_is_refused_with_reason)
{
	fs_retnet_config c;
	char errbuf[256] = "", *err = errbuf;
	fs_rn_default_config(&c, 16);
	CHECK(fs_rn_config_check(&c, err, sizeof(errbuf)) == 0);
	c.n_heads = 3;
	CHECK(fs_rn_config_check(&c, err, sizeof(errbuf)) != 0);
	CHECK_STR_CONTAINS(err, "n_heads 3");
	fs_rn_default_config(&c, 16);
	c.gamma[1] = 1.0f;
	CHECK(fs_rn_config_check(&c, err, sizeof(errbuf)) != 0);
	CHECK_STR_CONTAINS(err, "gamma of head 1");
	fs_rn_default_config(&c, 16);
	CHECK(fs_rn_num_params(&c) > 2500 && fs_rn_num_params(&c) < 3500);
}

int main(void)
{
	RUN(gradients_match_finite_differences);
	RUN(recurrent_step_reproduces_parallel_logits);
	RUN(recurrent_state_copy_is_independent);
	RUN(bad_config_is_refused_with_reason);
	return TEST_EXIT();
}
