/* check_gen_lm.c -- the generator's causal language model ops
 * (gen/lower/emit_seq_lm.c: embedding, rmsnorm, rope, silu, mul,
 * causal_softmax, [op-lm]) against the reference emulator, bit for bit:
 * every op alone and a whole GPT block (rmsnorm, rope, causal attention,
 * SwiGLU, the logits head), with deterministic random weights and inputs
 * (zeros, large values), under several precisions (fp32, bf16, e4m3, e6m7
 * with rz/rne/sr, a nonlinear format narrower than the activations, per-op
 * overrides, the three MAC modes); the ids checks; and the real GPT
 * (specs/gpt) on its shipped sample windows. */
#include "testutil.h"
#include "testutil_gen.h"
#include "emulator.h"
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inputs of m: token ids in [0, vocab) when it reads ids, else uniform in
 * [-scale, scale] with some zeros and large values. */
static float *inputs(const nr_model *m, uint64_t *s, int samples, double scale)
{
    size_t count = nr_shape_count(m->in_shape) * (size_t)samples;
    int vocab = nr_model_lm_ids_vocab(m);
    if (nr_model_takes_ids(m)) {
        float *x = malloc(count * sizeof *x);
        ck_assert(x && vocab > 0);
        for (size_t i = 0; i < count; i++)
            x[i] = (float)(tu_rand(s) % (uint64_t)vocab);
        return x;
    }
    float *x = tu_uniform_floats(s, count, -scale, scale);
    for (size_t i = 0; i < count; i++) {
        uint64_t r = tu_rand(s) % 64;
        if (r == 0)
            x[i] = 0.0f;
        else if (r == 1)
            x[i] = (float)(scale * 40 * (tu_unif(s) - 0.5));
    }
    return x;
}

/* Every op alone ([B, T, F] tensors in the C, H, W slots). */
static const char *const NETS[] = {
    /* embedding by ids */
    "input: {shape: [1, 1, 7]}\nlayers:\n  - {name: e, op: embedding, vocab: 11, out: 8}\n",
    /* rmsnorm, default eps and a large one */
    "input: {shape: [1, 6, 8]}\nlayers:\n  - {name: n, op: rmsnorm}\n",
    "input: {shape: [2, 5, 6]}\nlayers:\n  - {name: n, op: rmsnorm, eps: 0.25}\n",
    /* rope on [H, T, d] */
    "input: {shape: [2, 6, 8]}\nlayers:\n  - {name: r, op: rope}\n",
    /* silu, and mul (the SwiGLU product) */
    "input: {shape: [1, 6, 8]}\nlayers:\n  - {name: s, op: silu}\n",
    "input: {shape: [1, 6, 8]}\nlayers:\n  - {name: s, op: silu}\n"
    "  - {name: m, op: mul, inputs: [s, input]}\n",
    /* causal softmax of [H, T, T] scores */
    "input: {shape: [2, 6, 6]}\nlayers:\n  - {name: c, op: causal_softmax}\n",
    "input: {shape: [1, 1, 1]}\nlayers:\n  - {name: c, op: causal_softmax}\n",
};

/* A GPT: embedding, one pre-norm block (causal attention with rope,
 * SwiGLU), the final rmsnorm and the logits head. */
static const char *const GPT =
    "input: {shape: [1, 1, 7]}\nlayers:\n"
    "  - {name: embed, op: embedding, vocab: 13, out: 8}\n"
    "  - {name: an, op: rmsnorm, eps: 1e-05, input: embed}\n"
    "  - {name: qkv, op: linear, out: 24, bias: false}\n"
    "  - {name: q, op: slice, input: qkv, w: [0, 8]}\n  - {name: qh, op: heads, heads: 2}\n"
    "  - {name: qr, op: rope}\n"
    "  - {name: k, op: slice, input: qkv, w: [8, 16]}\n  - {name: kh, op: heads, heads: 2}\n"
    "  - {name: kr, op: rope}\n"
    "  - {name: v, op: slice, input: qkv, w: [16, 24]}\n  - {name: vh, op: heads, heads: 2}\n"
    "  - {name: sc, op: matmul, inputs: [qr, kr], transpose_b: true}\n"
    "  - {name: ss, op: scale, by: 0.5}\n"
    "  - {name: sm, op: causal_softmax}\n"
    "  - {name: cx, op: matmul, inputs: [sm, vh]}\n  - {name: mh, op: merge_heads}\n"
    "  - {name: o, op: linear, out: 8, bias: false}\n"
    "  - {name: r1, op: add, inputs: [embed, o]}\n"
    "  - {name: mn, op: rmsnorm}\n  - {name: w1, op: linear, out: 16, bias: false}\n"
    "  - {name: act, op: silu}\n"
    "  - {name: w3, op: linear, out: 16, bias: false, input: mn}\n"
    "  - {name: glu, op: mul, inputs: [act, w3]}\n"
    "  - {name: w2, op: linear, out: 8, bias: false}\n"
    "  - {name: r2, op: add, inputs: [r1, w2]}\n"
    "  - {name: fn, op: rmsnorm}\n  - {name: head, op: linear, out: 13, bias: false}\n";

#define E67 "e6m7-finite-nosub-sat"
static const char *const PRECS[] = {
    "default: {weights: fp32, activations: fp32, products: fp32, accumulator: fp32}\n",
    "default: {weights: bf16, activations: bf16, products: bf16, accumulator: bf16}\n",
    "default: {weights: e4m3, activations: e4m3, products: fp32, accumulator: fp32}\n",
    "default: {weights: e4m3, activations: e4m3, products: e4m3, accumulator: e4m3}\n",
    "default: {weights: e4m3, activations: e4m3, products: bf16, accumulator: bf16, "
    "nonlinear: bf16, mac: fused, rounding: rz}\n",
    "default: {weights: " E67 ", activations: " E67 ", products: " E67 ", accumulator: " E67
    ", rounding: rz}\n",
    "default: {weights: " E67 ", activations: " E67 ", products: " E67 ", accumulator: " E67
    ", rounding: rne, mac: exact}\n",
    "default: {weights: " E67 ", activations: " E67 ", products: " E67 ", accumulator: " E67
    ", rounding: sr}\n",
    /* nonlinear narrower than the activations */
    "default: {weights: bf16, activations: bf16, products: fp32, accumulator: fp32, "
    "nonlinear: e4m3}\n",
    "default: {weights: fp16, activations: fp16, products: fp32, accumulator: fp32, "
    "nonlinear: e5m2, mac: fused, rounding: sr}\n",
    /* per-op overrides: matmuls narrow, the rest wide */
    "default: {weights: e4m3, activations: e4m3, products: fp32, accumulator: fp32, "
    "nonlinear: bf16}\nops: {causal_softmax: bf16, rmsnorm: {accumulator: fp16, nonlinear: "
    "e5m2}, rope: bf16, silu: fp16, mul: {activations: e5m2}, embedding: {activations: bf16}}\n",
    "default: {weights: bf16, activations: e5m2, products: fp16, accumulator: fp32, "
    "rounding: ru, mac: exact}\n",
};
enum { NPRECS = sizeof PRECS / sizeof PRECS[0] };

static int run_net(const char *net, const char *prec, uint64_t seed, int samples, const char *what)
{
    nr_model *m = NULL;
    nr_err e = {0};
    ck_assert_msg(tu_model_try(net, prec, seed, &m, &e) == 0, "%s: %s", what, e.msg);
    uint64_t s = seed * 7919 + 1;
    float *x = inputs(m, &s, samples, 3.0);
    int bad = tu_gen_compare(m, x, samples, &(tu_gen_cmp){0}, what);
    free(x);
    nr_model_free(m);
    return bad;
}

START_TEST(each_op)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof NETS / sizeof NETS[0]; i++)
        for (int p = 0; p < NPRECS; p++) {
            char what[64];
            snprintf(what, sizeof what, "net %zu, precision %d", i, p);
            bad += run_net(NETS[i], PRECS[p], 17 + i * 31 + (uint64_t)p, 2, what) != 0;
        }
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(gpt_block)
{
    int bad = 0;
    for (int p = 0; p < NPRECS; p++) {
        char what[64];
        snprintf(what, sizeof what, "gpt block, precision %d", p);
        bad += run_net(GPT, PRECS[p], 201 + (uint64_t)p, 3, what) != 0;
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* Ids: the check every engine's caller makes, and the refusal of a layer
 * other than an embedding reading them. */
START_TEST(ids)
{
    nr_model *m = NULL;
    nr_err e = {0};
    ck_assert(tu_model_try(NETS[0], PRECS[0], 3, &m, &e) == 0);
    ck_assert_int_eq(nr_model_lm_ids_vocab(m), 11);
    float ok[7] = {0, 1, 2, 3, 10, 5, 0}, frac[7] = {0, 1, 2.5f, 3, 4, 5, 6},
          big[7] = {0, 1, 2, 3, 4, 11, 6}, neg[7] = {-1, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(nr_model_lm_check_ids(m, ok, 1, 0, &e), 0);
    ck_assert_int_eq(nr_model_lm_check_ids(m, frac, 1, 4, &e), -NR_ERANGE);
    ck_assert_msg(strstr(e.msg, "sample 4 position 2: token id 2.5"), "%s", e.msg);
    ck_assert_int_eq(nr_model_lm_check_ids(m, big, 1, 0, &e), -NR_ERANGE);
    ck_assert_int_eq(nr_model_lm_check_ids(m, neg, 1, 0, &e), -NR_ERANGE);
    nr_model_free(m);
    ck_assert(tu_model_try("input: {shape: [1, 1, 4]}\nlayers:\n"
                           "  - {name: e, op: embedding, vocab: 5, out: 4}\n"
                           "  - {name: bad, op: rmsnorm, input: input}\n",
                           PRECS[0], 3, &m, &e) == 0);
    e = (nr_err){0};
    ck_assert_int_eq(gen_plan_model_check(m, &e), -NR_EUNSUP);
    ck_assert_msg(strstr(e.where, "bad") && strstr(e.msg, "token ids"), "%s: %s", e.where, e.msg);
    nr_model_free(m);
}
END_TEST

/* The real GPT of specs/gpt on its shipped sample windows, JIT vs emulator:
 * fp32, its mixed precision, and every role e4m3 / e6m7 sr. */
START_TEST(gpt)
{
    char net[4096], mixed[4200];
    snprintf(net, sizeof net, "%s/specs/gpt/gpt.yaml", tu_source_dir());
    snprintf(mixed, sizeof mixed, "%s/specs/gpt/e4m3_bf16.yaml", tu_source_dir());
    const char *precs[] = {"fp32", mixed, "e4m3", E67};
    const int np = tu_quick() ? 2 : 4;
    for (int p = 0; p < np; p++) {
        nr_model *m = NULL;
        nr_err e = {0};
        ck_assert_msg(nr_model_load(net, precs[p], &m, &e) == 0, "%s", e.msg);
        if (p == 3) { /* stochastic rounding in every layer */
            for (int i = 0; i < m->nlayers; i++)
                m->layers[i].prec.rounding = NR_RND_SR;
        }
        int n = p < 2 ? 4 : 2;
        float *x = tu_load_sample("gpt", &n, m);
        ck_assert(x && n > 0);
        char what[64];
        snprintf(what, sizeof what, "gpt %s", p == 1 ? "e4m3_bf16" : precs[p]);
        ck_assert_int_eq(tu_gen_compare(m, x, n, &(tu_gen_cmp){0}, what), 0);
        free(x);
        nr_model_free(m);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gen_lm");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 1800);
    tcase_add_test(t, ids);
    tcase_add_test(t, each_op);
    tcase_add_test(t, gpt_block);
    tcase_add_test(t, gpt);
    suite_add_tcase(s, t);
    return tu_run(s);
}
