/* check_gpt.c -- the causal language model ops ([op-lm] in docs/semantics.md):
 * spec and model errors, each op's arithmetic on a small random model at
 * fp32 against a double computation of its rule (embedding rows exact, the
 * causal mask's zeros exact), the emulator's fast paths against its exact
 * path (no_fast: MPFR for every nonlinear value) bit for bit in several
 * precisions, the token-id input check, and the metric of [lm-metric]. */
#include "testutil.h"
#include "emulator.h"
#include "eval_lm.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ops of a GPT block on 8 positions, 2 heads of 4, vocabulary 10. */
static const char *tiny =
    "input: {shape: [1, 1, 8]}\nlayers:\n"
    "  - {name: embed, op: embedding, vocab: 10, out: 8}\n"
    "  - {name: norm, op: rmsnorm, eps: 1.0e-5}\n"
    "  - {name: qkv, op: linear, out: 24, bias: false}\n"
    "  - {name: q, op: slice, input: qkv, w: [0, 8]}\n"
    "  - {name: qh, op: heads, heads: 2}\n"
    "  - {name: qr, op: rope}\n"
    "  - {name: k, op: slice, input: qkv, w: [8, 16]}\n"
    "  - {name: kh, op: heads, heads: 2}\n"
    "  - {name: kr, op: rope}\n"
    "  - {name: s, op: matmul, inputs: [qr, kr], transpose_b: true}\n"
    "  - {name: sm, op: causal_softmax}\n"
    "  - {name: w1, op: linear, out: 16, bias: false, input: norm}\n"
    "  - {name: act, op: silu}\n"
    "  - {name: w3, op: linear, out: 16, bias: false, input: norm}\n"
    "  - {name: glu, op: mul, inputs: [act, w3]}\n"
    "  - {name: head, op: linear, out: 10, bias: false}\n";

static const float ids[8] = {3, 1, 4, 1, 5, 9, 2, 6};

static nr_model *build_ok(const char *net, const char *prec, uint64_t seed)
{
    nr_model *m;
    char msg[1024];
    ck_assert_msg(tu_model_msg(net, prec, seed, &m, msg) == 0, "build failed: %s", msg);
    return m;
}

static double f32(double x)
{
    return (float)x;
}

START_TEST(bad_specs)
{
    struct { const char *net, *want; } c[] = {
        {"input: {shape: [1, 1, 8]}\nlayers:\n  - {name: e, op: embedding, out: 4}\n",
         "layers[0].vocab: missing required field 'vocab'"},
        {"input: {shape: [1, 1, 8]}\nlayers:\n  - {name: e, op: embedding, vocab: 4}\n",
         "layers[0].out: missing required field 'out'"},
        {"input: {shape: [1, 2, 8]}\nlayers:\n  - {name: e, op: embedding, vocab: 4, out: 4}\n",
         "embedding needs a [1, 1, T] input of token ids, got [1, 2, 8]"},
        {"input: {shape: [1, 4, 6]}\nlayers:\n  - {name: h, op: heads, heads: 2}\n"
         "  - {name: r, op: rope}\n",
         "rope needs an even number of features, got [2, 4, 3]"},
        {"input: {shape: [1, 4, 6]}\nlayers:\n  - {name: c, op: causal_softmax}\n",
         "causal_softmax needs square [H, T, T] scores, got [1, 4, 6]"},
        {"input: {shape: [1, 4, 6]}\nlayers:\n  - {name: a, op: linear, out: 5}\n"
         "  - {name: m, op: mul, inputs: [input, a]}\n",
         "mul needs equal shapes, got [1, 4, 6] and [1, 4, 5]"},
        {"input: {shape: [1, 4, 6]}\nlayers:\n  - {name: m, op: mul, inputs: [input]}\n",
         "mul takes 2 inputs, got 1"},
        {"input: {shape: [1, 4, 6]}\nlayers:\n  - {name: n, op: rmsnorm, eps: 0}\n",
         "layers[0].eps: expected a positive finite number, got 0"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        nr_model *m;
        char msg[1024];
        int rc = tu_model_msg(c[i].net, NULL, 1, &m, msg);
        nr_model_free(m);
        ck_assert_msg(rc != 0, "accepted: %s", c[i].net);
        ck_assert_msg(strstr(msg, c[i].want), "got: %s\nwant: %s", msg, c[i].want);
    }
}
END_TEST

/* The emulator refuses an embedding that does not read the network input,
 * and a network input read by an embedding and another op. */
static void emu_refuses(const char *net, const char *want)
{
    nr_model *m = build_ok(net, NULL, 3);
    float in[8] = {0}, out[256];
    nr_err e = {0};
    ck_assert_int_ne(nr_emulate(m, in, 1, out, NULL, NULL, &e), 0);
    ck_assert_msg(strstr(tu_errstr(&e), want), "got: %s\nwant: %s", tu_errstr(&e), want);
    nr_model_free(m);
}

START_TEST(bad_models)
{
    emu_refuses("input: {shape: [1, 1, 8]}\nlayers:\n  - {name: r, op: relu}\n"
                "  - {name: e, op: embedding, vocab: 4, out: 2}\n",
                "embedding: must read the network input, and only embeddings may");
    emu_refuses("input: {shape: [1, 1, 8]}\nlayers:\n"
                "  - {name: e, op: embedding, vocab: 4, out: 2}\n"
                "  - {name: r, op: relu, input: input}\n",
                "embedding: must read the network input, and only embeddings may");
    /* ids are checked: integer, in [0, vocab) */
    nr_model *m = build_ok(tiny, NULL, 3);
    float out[8 * 10];
    float bad[3][8] = {{3, 1, 4, 1, 5, 9, 2, 10}, {3, 1, 4, 1, 5, 9, 2, -1},
                       {3, 1, 4, 1.5f, 5, 9, 2, 6}};
    const char *want[3] = {"position 7: token id 10 is not an integer in [0, 10)",
                           "position 7: token id -1 is not", "position 3: token id 1.5 is not"};
    for (int i = 0; i < 3; i++) {
        nr_err e = {0};
        ck_assert_int_eq(nr_emulate(m, bad[i], 1, out, NULL, NULL, &e), -NR_ERANGE);
        ck_assert_msg(strstr(tu_errstr(&e), want[i]), "%s", tu_errstr(&e));
    }
    nr_model_free(m);
}
END_TEST

/* Each op at fp32 against a double evaluation of its rule. */
START_TEST(op_values)
{
    nr_model *m = build_ok(tiny, "fp32", 7);
    double **L = tu_emulate_layers(m, ids, 0);
    const nr_layer *E = &m->layers[0], *N = &m->layers[1], *Q = &m->layers[5];
    for (int t = 0; t < 8; t++) /* embedding: the rows, exact */
        for (int f = 0; f < 8; f++)
            ck_assert_double_eq(L[0][t * 8 + f], f32(E->w[(int)ids[t] * 8 + f]));
    for (int t = 0; t < 8; t++) { /* rmsnorm */
        double q = 0;
        for (int f = 0; f < 8; f++)
            q += L[0][t * 8 + f] * L[0][t * 8 + f];
        double r = 1 / sqrt(q / 8 + 1e-5);
        for (int f = 0; f < 8; f++)
            ck_assert_double_eq_tol(L[1][t * 8 + f], L[0][t * 8 + f] * r * f32(N->w[f]), 1e-5);
    }
    for (int h = 0; h < 2; h++) /* rope: rotate-half pairs (i, i + 2) */
        for (int t = 0; t < 8; t++)
            for (int i = 0; i < 2; i++) {
                const double *x = L[4] + (h * 8 + t) * 4;
                double c = f32(Q->w[t * 2 + i]), s = f32(Q->b[t * 2 + i]);
                const double *y = L[5] + (h * 8 + t) * 4;
                ck_assert_double_eq_tol(y[i], x[i] * c - x[i + 2] * s, 1e-6);
                ck_assert_double_eq_tol(y[i + 2], x[i + 2] * c + x[i] * s, 1e-6);
            }
    for (int h = 0; h < 2; h++) /* causal softmax: masked +0 exactly, rows sum to 1 */
        for (int t = 0; t < 8; t++) {
            const double *x = L[9] + (h * 8 + t) * 8, *y = L[10] + (h * 8 + t) * 8;
            double mx = -INFINITY, s = 0;
            for (int j = 0; j <= t; j++)
                mx = fmax(mx, x[j]);
            for (int j = 0; j <= t; j++)
                s += exp(x[j] - mx);
            for (int j = 0; j < 8; j++) {
                if (j > t)
                    ck_assert_msg(y[j] == 0 && !signbit(y[j]), "masked %d,%d: %g", t, j, y[j]);
                else
                    ck_assert_double_eq_tol(y[j], exp(x[j] - mx) / s, 1e-6);
            }
        }
    for (int i = 0; i < 8 * 16; i++) { /* silu, then the product */
        double x = L[11][i];
        ck_assert_double_eq_tol(L[12][i], x / (1 + exp(-x)), 1e-6 * (1 + fabs(x)));
        ck_assert_double_eq(L[14][i], f32(L[12][i] * L[13][i]));
    }
    tu_free_layers(m, L);
    nr_model_free(m);
}
END_TEST

/* Fast paths = exact path (MPFR), every layer, bit for bit. */
START_TEST(fast_exact)
{
    static const char *precs[] = {
        "fp32", "bf16", "e4m3", "e6m7", "fp16",
        "default: {weights: e4m3, activations: e4m3, products: fp32, accumulator: fp32, "
        "nonlinear: bf16}\nops: {causal_softmax: bf16, rmsnorm: bf16, rope: bf16, silu: bf16}\n",
        "default: {weights: bf16, rounding: sr}\nseed: 5\n",
        "default: {weights: fp32, rounding: rz}\n"};
    for (size_t i = 0; i < sizeof precs / sizeof precs[0]; i++) {
        nr_model *m = build_ok(tiny, precs[i], 11 + i);
        double **a = tu_emulate_layers(m, ids, 0), **b = tu_emulate_layers(m, ids, 1);
        for (int l = 0; l < m->nlayers; l++) {
            size_t n = nr_shape_count(m->layers[l].out_shape);
            for (size_t k = 0; k < n; k++)
                ck_assert_msg(a[l][k] == b[l][k] || (isnan(a[l][k]) && isnan(b[l][k])),
                              "%s layer %s element %zu: fast %.17g, exact %.17g", precs[i],
                              m->layers[l].name, k, a[l][k], b[l][k]);
        }
        tu_free_layers(m, a);
        tu_free_layers(m, b);
        nr_model_free(m);
    }
}
END_TEST

/* [lm-metric] the nll of a position; +inf for a NaN or infinite logit. */
START_TEST(metric)
{
    float l[3] = {0.0f, (float)log(2.0), 0.0f};
    int hit;
    ck_assert_double_eq_tol(nr_eval_lm_nll(l, 3, 1, &hit), log(4.0 / 2.0), 1e-7);
    ck_assert_int_eq(hit, 1);
    ck_assert_double_eq_tol(nr_eval_lm_nll(l, 3, 2, &hit), log(4.0), 1e-7);
    ck_assert_int_eq(hit, 0);
    float big[2] = {1000.0f, 0.0f}; /* the max subtraction: no overflow */
    ck_assert_double_eq_tol(nr_eval_lm_nll(big, 2, 0, &hit), 0.0, 1e-12);
    float bad[2] = {NAN, 1.0f};
    ck_assert(isinf(nr_eval_lm_nll(bad, 2, 1, &hit)));
    ck_assert_int_eq(hit, 1); /* NaN never wins the argmax */
    float inf[2] = {INFINITY, 1.0f};
    ck_assert(isinf(nr_eval_lm_nll(inf, 2, 0, &hit)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gpt");
    TCase *t = tcase_create("lm");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, bad_specs);
    tcase_add_test(t, bad_models);
    tcase_add_test(t, op_values);
    tcase_add_test(t, fast_exact);
    tcase_add_test(t, metric);
    suite_add_tcase(s, t);
    return tu_run(s);
}
