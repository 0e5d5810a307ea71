/* check_transformer.c -- the sequence ops ([op-*] in docs/semantics.md):
 * spec errors, shapes, each op's arithmetic on small hand-checked cases,
 * the emulator's fast paths against its exact/oracle path (no_fast: every
 * nonlinear function from MPFR, every rounding through nr_round) bit for
 * bit on the real CCT-4/3x1 of specs/cct in several precisions, and the
 * CCT at fp32 against PyTorch's logits for the first 100 CIFAR-10 test
 * images (../shared/data; skipped when absent). */
#include "testutil.h"
#include "dataset.h"
#include "emulator.h"
#include "eval.h"
#include "model.h"
#include "nlfn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void expect_error(const char *net, const char *want)
{
    nr_model *m;
    char msg[1024];
    int rc = tu_model_msg(net, NULL, 1, &m, msg);
    nr_model_free(m);
    ck_assert_msg(rc != 0, "accepted: %s", net);
    ck_assert_msg(strstr(msg, want), "got: %s\nwant: %s", msg, want);
}

/* ---------------------------------------------------------------- spec errors */

START_TEST(bad_specs)
{
    const char *hdr = "input: {shape: [1, 4, 8]}\nlayers:\n";
    struct { const char *layers, *want; } c[] = {
        {"  - {name: h, op: heads, heads: 3}\n",
         "net.yaml:3:5: layers[0].heads: heads 3 must divide the features (8) (layer h)"},
        {"  - {name: h, op: heads}\n", "layers[0].heads: missing required field 'heads'"},
        {"  - {name: h, op: heads, heads: 0}\n", "layers[0].heads"},
        {"  - {name: s, op: softmax_axis}\n", "layers[0].axis: missing required field 'axis'"},
        {"  - {name: s, op: softmax_axis, axis: 3}\n", "layers[0].axis"},
        {"  - {name: s, op: softmax_axis, axis: 2, form: exp}\n",
         "layers[0].form: expected one of: max plain; got \"exp\""},
        {"  - {name: g, op: gelu, approximate: fast}\n",
         "layers[0].approximate: expected one of: none tanh; got \"fast\""},
        {"  - {name: g, op: scale}\n", "layers[0].by: missing required field 'by'"},
        {"  - {name: g, op: scale, by: .inf}\n", "layers[0].by"},
        {"  - {name: n, op: layernorm, eps: -1}\n",
         "layers[0].eps: expected a positive finite number, got -1"},
        {"  - {name: l, op: linear}\n", "layers[0].out: missing required field 'out'"},
        {"  - {name: l, op: linear, out: 2, kernel: 3}\n", "kernel"},
        {"  - {name: a, op: matmul, inputs: [input, input]}\n",
         "layers[0].inputs: matmul inner dimensions differ: a [1, 4, 8] has 8, b [1, 4, 8] has 4"},
        {"  - {name: a, op: matmul, inputs: [input]}\n", "matmul takes 2 inputs, got 1"},
        {"  - {name: a, op: matmul, inputs: [input, input], transpose_b: maybe}\n",
         "layers[0].transpose_b"},
        {"  - {name: h, op: heads, heads: 2}\n  - {name: x, op: heads, heads: 2}\n",
         "heads needs a [1, T, F] input, got [2, 4, 4]"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char net[1024];
        snprintf(net, sizeof net, "%s%s", hdr, c[i].layers);
        expect_error(net, c[i].want);
    }
}
END_TEST

/* A layernorm/add_const tensor of the wrong shape names the tensor. */
START_TEST(bad_weights)
{
    const char *net = "input: {shape: [1, 4, 8]}\nweights: /nonexistent/w.safetensors\n"
                      "layers:\n  - {name: n, op: layernorm}\n";
    nr_model *m;
    char msg[1024];
    ck_assert_int_ne(tu_model_msg(net, NULL, 0, &m, msg), 0);
    ck_assert_msg(strstr(msg, "/nonexistent/w.safetensors"), "%s", msg);
}
END_TEST

/* ---------------------------------------------------------------- shapes and moves */

static nr_model *build_ok(const char *net, const char *prec, uint64_t seed)
{
    nr_model *m;
    char msg[1024];
    ck_assert_msg(tu_model_msg(net, prec, seed, &m, msg) == 0, "build failed: %s", msg);
    return m;
}

START_TEST(moves)
{
    /* [2, 2, 3] map -> 6 tokens of 2; heads 2 of width 1; merged back */
    nr_model *m = build_ok("input: {shape: [2, 2, 3]}\nlayers:\n"
                           "  - {name: t, op: tokens}\n"
                           "  - {name: h, op: heads, heads: 2}\n"
                           "  - {name: g, op: merge_heads}\n",
                           NULL, 1);
    ck_assert_int_eq(m->layers[0].out_shape[0], 1);
    ck_assert_int_eq(m->layers[0].out_shape[1], 6);
    ck_assert_int_eq(m->layers[0].out_shape[2], 2);
    ck_assert_int_eq(m->layers[1].out_shape[0], 2);
    ck_assert_int_eq(m->layers[1].out_shape[2], 1);
    float in[12];
    for (int i = 0; i < 12; i++)
        in[i] = (float)i;
    double **L;
    L = tu_emulate_layers(m, in, 0);
    for (int c = 0; c < 2; c++)
        for (int p = 0; p < 6; p++) {
            ck_assert(L[0][p * 2 + c] == in[c * 6 + p]); /* y[0, p, c] = x[c, p] */
            ck_assert(L[1][c * 6 + p] == in[c * 6 + p]); /* head c, token p */
            ck_assert(L[2][p * 2 + c] == in[c * 6 + p]);
        }
    tu_free_layers(m, L);
    nr_model_free(m);
}
END_TEST

/* matmul with either transpose against a plain double computation at fp64
 * (every product and sum of small integers is exact). */
START_TEST(matmul_transposes)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            char net[512];
            /* a = input [2, 3, 4] read as [2, M, K] (ta: [2, K, M]); b likewise */
            snprintf(net, sizeof net,
                     "input: {shape: [2, 4, 4]}\nlayers:\n"
                     "  - {name: a, op: slice, h: [0, %d]}\n"
                     "  - {name: b, op: slice, input: input, h: [0, 4]}\n"
                     "  - {name: p, op: matmul, inputs: [a, b], transpose_a: %s, "
                     "transpose_b: %s}\n",
                     ta ? 4 : 3, ta ? "true" : "false", tb ? "true" : "false");
            nr_model *m = build_ok(net, "fp64", 1);
            float in[32];
            for (int i = 0; i < 32; i++)
                in[i] = (float)((i * 7) % 11 - 5);
            double **L;
            L = tu_emulate_layers(m, in, 0);
            const double *y = L[m->output];
            const int *sa = m->layers[0].out_shape, *sb = m->layers[1].out_shape,
                      *so = m->layers[2].out_shape;
            int K = ta ? sa[1] : sa[2];
            for (int bt = 0; bt < 2; bt++)
                for (int i = 0; i < so[1]; i++)
                    for (int j = 0; j < so[2]; j++) {
                        double s = 0;
                        for (int k = 0; k < K; k++) {
                            double av = ta ? L[0][(bt * sa[1] + k) * sa[2] + i]
                                           : L[0][(bt * sa[1] + i) * sa[2] + k];
                            double bv = tb ? L[1][(bt * sb[1] + j) * sb[2] + k]
                                           : L[1][(bt * sb[1] + k) * sb[2] + j];
                            s += av * bv;
                        }
                        ck_assert_msg(y[(bt * so[1] + i) * so[2] + j] == s,
                                      "ta %d tb %d [%d,%d,%d]", ta, tb, bt, i, j);
                    }
            tu_free_layers(m, L);
            nr_model_free(m);
        }
}
END_TEST

/* softmax rows sum to ~1 and are exp(x - max) / sum; layernorm rows have
 * mean ~0 and variance ~1 (random weights = gain/shift; checked against
 * the formula in double). */
START_TEST(softmax_layernorm_values)
{
    nr_model *m = build_ok("input: {shape: [1, 3, 5]}\nlayers:\n"
                           "  - {name: s, op: softmax_axis, axis: -1}\n"
                           "  - {name: t, op: softmax_axis, axis: 1, input: input}\n"
                           "  - {name: n, op: layernorm, input: input}\n",
                           "fp32", 7);
    float in[15];
    for (int i = 0; i < 15; i++)
        in[i] = (float)(0.37 * i - 2.0 + 0.1 * (i % 4));
    double **L;
    L = tu_emulate_layers(m, in, 0);
    for (int r = 0; r < 3; r++) {
        double mx = -INFINITY, s = 0;
        for (int f = 0; f < 5; f++)
            mx = fmax(mx, in[r * 5 + f]);
        for (int f = 0; f < 5; f++)
            s += exp(in[r * 5 + f] - mx);
        for (int f = 0; f < 5; f++)
            ck_assert_double_eq_tol(L[0][r * 5 + f], exp(in[r * 5 + f] - mx) / s, 1e-6);
    }
    for (int f = 0; f < 5; f++) {
        double mx = -INFINITY, s = 0;
        for (int t = 0; t < 3; t++)
            mx = fmax(mx, in[t * 5 + f]);
        for (int t = 0; t < 3; t++)
            s += exp(in[t * 5 + f] - mx);
        for (int t = 0; t < 3; t++)
            ck_assert_double_eq_tol(L[1][t * 5 + f], exp(in[t * 5 + f] - mx) / s, 1e-6);
    }
    const nr_layer *N = &m->layers[2];
    for (int r = 0; r < 3; r++) {
        double mean = 0, var = 0;
        for (int f = 0; f < 5; f++)
            mean += in[r * 5 + f] / 5.0;
        for (int f = 0; f < 5; f++)
            var += (in[r * 5 + f] - mean) * (in[r * 5 + f] - mean) / 5.0;
        for (int f = 0; f < 5; f++) {
            double want = (in[r * 5 + f] - mean) / sqrt(var + 1e-5) * (float)N->w[f] +
                          (float)N->b[f];
            ck_assert_double_eq_tol(L[2][r * 5 + f], want, 1e-5);
        }
    }
    tu_free_layers(m, L);
    nr_model_free(m);
}
END_TEST

/* gelu in bf16 equals the oracle's correctly rounded gelu of each input. */
START_TEST(gelu_correctly_rounded)
{
    nr_model *m = build_ok("input: {shape: [1, 1, 64]}\nlayers:\n  - {name: g, op: gelu}\n",
                           "bf16", 1);
    nr_format bf = tu_fmt("bf16");
    float in[64];
    for (int i = 0; i < 64; i++)
        in[i] = (float)nr_round(&bf, NR_RND_RNE, -6.0 + 0.19 * i, 0, NULL);
    double **L;
    L = tu_emulate_layers(m, in, 0);
    nr_nl g = {NR_NL_GELU, 0};
    for (int i = 0; i < 64; i++) {
        uint64_t x = nr_encode(&bf, NR_RND_RNE, in[i], 0, NULL);
        double want = nr_decode(&bf, nr_nl_mpfr(&g, &bf, x, &bf, NR_RND_RNE, 0, NULL));
        ck_assert_msg(L[0][i] == want, "gelu(%g): %.9g, oracle %.9g", in[i], L[0][i], want);
    }
    tu_free_layers(m, L);
    nr_model_free(m);
}
END_TEST


/* ---------------------------------------------------------------- precision */

static nr_precision *prec_ok(const char *text)
{
    nr_precision *p = NULL;
    nr_err e = {0};
    ck_assert_msg(nr_precision_parse_string(text, "prec.yaml", &p, &e) == 0, "%s", tu_errstr(&e));
    return p;
}

static void prec_bad(const char *text, const char *want)
{
    nr_precision *p = NULL;
    nr_err e = {0};
    ck_assert_msg(nr_precision_parse_string(text, "prec.yaml", &p, &e) != 0, "accepted: %s",
                  text);
    ck_assert_msg(strstr(tu_errstr(&e), want), "got: %s\nwant: %s", tu_errstr(&e), want);
}

static int fmt_is(const nr_format *f, const char *name)
{
    nr_format g = tu_fmt(name);
    return nr_format_equal(f, &g);
}

/* default, then the op type's override, then the layer's own; nonlinear
 * follows activations unless written. */
START_TEST(prec_roles)
{
    nr_precision *p = prec_ok("default: {weights: e4m3, activations: e5m2}\n"
                              "ops:\n  softmax_axis: bf16\n"
                              "  layernorm: {accumulator: fp32, nonlinear: fp16}\n"
                              "layers:\n  n2: {activations: e6m7}\n");
    nr_layer_prec l;
    nr_precision_layer_op(p, "x", NULL, NR_OP_LINEAR, &l);
    ck_assert(fmt_is(&l.weights, "e4m3") && fmt_is(&l.activations, "e5m2"));
    ck_assert(fmt_is(&l.nonlinear, "e5m2"));
    nr_precision_layer_op(p, "s", NULL, NR_OP_SOFTMAX_AXIS, &l);
    ck_assert(fmt_is(&l.activations, "bf16") && fmt_is(&l.accumulator, "bf16") &&
              fmt_is(&l.nonlinear, "bf16") && fmt_is(&l.weights, "bf16"));
    nr_precision_layer_op(p, "n1", NULL, NR_OP_LAYERNORM, &l);
    ck_assert(fmt_is(&l.accumulator, "fp32") && fmt_is(&l.nonlinear, "fp16") &&
              fmt_is(&l.activations, "e5m2"));
    nr_precision_layer_op(p, "n2", NULL, NR_OP_LAYERNORM, &l);
    ck_assert(fmt_is(&l.activations, "e6m7") && fmt_is(&l.nonlinear, "fp16"));
    nr_precision_free(p);
    p = prec_ok("default: {weights: fp32, nonlinear: bf16}\n");
    nr_precision_layer_op(p, "x", NULL, NR_OP_GELU, &l);
    ck_assert(fmt_is(&l.activations, "fp32") && fmt_is(&l.nonlinear, "bf16"));
    nr_precision_free(p);
    prec_bad("default: {nonlinear: e9m99}\n", "prec.yaml:1:22: default.nonlinear: expected a "
                                              "format name such as bf16 or fp32, got");
    prec_bad("default: {nonlinear: [bf16]}\n", "default.nonlinear");
    prec_bad("ops: {softmaks: bf16}\n", "prec.yaml:1:7: ops.softmaks: unknown op (expected "
                                        "one of: conv dense");
    prec_bad("ops: [bf16]\n", "ops: expected a mapping");
    prec_bad("ops: {gelu: e99m1}\n", "ops.gelu: expected a format name (every role)");
    prec_bad("ops: {gelu: {nonlin: bf16}}\n", "nonlin");
}
END_TEST

/* The nonlinear role is where exp lands: softmax with a bf16 nonlinear
 * role in an fp32 layer equals the oracle's bf16 exp, divided in fp32. */
START_TEST(nonlinear_role_used)
{
    nr_model *m = build_ok("input: {shape: [1, 1, 4]}\nlayers:\n"
                           "  - {name: s, op: softmax_axis, axis: 2, form: plain}\n",
                           NULL, 1);
    nr_model_free(m);
    nr_spec *s = NULL;
    nr_precision *p = prec_ok("default: {weights: fp32, nonlinear: bf16}\n");
    nr_err e = {0};
    ck_assert(nr_spec_parse_string("input: {shape: [1, 1, 4]}\nlayers:\n"
                                   "  - {name: s, op: softmax_axis, axis: 2, form: plain}\n",
                                   "net.yaml", &s, &e) == 0);
    ck_assert_msg(nr_model_build(s, p, NULL, 1, &m, &e) == 0, "%s", tu_errstr(&e));
    float in[4] = {0.1f, -1.3f, 2.2f, 0.7f};
    double **L;
    L = tu_emulate_layers(m, in, 0);
    nr_format bf = tu_fmt("bf16"), f32 = tu_fmt("fp32");
    nr_nl ex = {NR_NL_EXP, 0};
    double e4[4], sum = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t x = nr_encode(&f32, NR_RND_RNE, in[i], 0, NULL);
        e4[i] = nr_decode(&bf, nr_nl_mpfr(&ex, &f32, x, &bf, NR_RND_RNE, 0, NULL));
        sum = (float)(sum + e4[i]);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_msg(L[0][i] == (float)(e4[i] / sum), "%d: %.9g vs %.9g", i, L[0][i],
                      (double)(float)(e4[i] / sum));
    tu_free_layers(m, L);
    nr_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- the CCT */

static nr_model *load_cct(const char *prec)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/specs/cct/cct.yaml", tu_source_dir());
    nr_model *m = NULL;
    nr_err e = {0};
    ck_assert_msg(nr_model_load(path, prec, &m, &e) == 0, "%s", tu_errstr(&e));
    return m;
}

/* A CIFAR-like input: the spec's preprocessing range, deterministic. */
static void cct_input(float *x)
{
    uint64_t s = 42;
    for (int i = 0; i < 3 * 32 * 32; i++)
        x[i] = (float)(tu_unif(&s) * 4.0 - 2.0);
}

/* A small transformer with every sequence op (random weights): 2 x 4 x 4
 * map -> 16 tokens of 8, one pre-norm block with 2 heads, sequence
 * pooling, 3 logits. */
static const char *mini =
    "input: {shape: [2, 4, 4]}\nlayers:\n"
    "  - {name: c, op: conv, out: 8, kernel: 3, pad: 1}\n"
    "  - {name: t, op: tokens}\n"
    "  - {name: pe, op: add_const}\n"
    "  - {name: n1, op: layernorm}\n"
    "  - {name: qkv, op: linear, out: 24}\n"
    "  - {name: q, op: slice, w: [0, 8]}\n  - {name: qh, op: heads, heads: 2}\n"
    "  - {name: k, op: slice, input: qkv, w: [8, 16]}\n  - {name: kh, op: heads, heads: 2}\n"
    "  - {name: v, op: slice, input: qkv, w: [16, 24]}\n  - {name: vh, op: heads, heads: 2}\n"
    "  - {name: s, op: matmul, inputs: [qh, kh], transpose_b: true}\n"
    "  - {name: sc, op: scale, by: 0.5}\n"
    "  - {name: a, op: softmax_axis, axis: 2}\n"
    "  - {name: ctx, op: matmul, inputs: [a, vh]}\n"
    "  - {name: m, op: merge_heads}\n"
    "  - {name: o, op: linear, out: 8}\n"
    "  - {name: r, op: add, inputs: [pe, o]}\n"
    "  - {name: n2, op: layernorm}\n"
    "  - {name: f1, op: linear, out: 16}\n  - {name: g, op: gelu}\n"
    "  - {name: g2, op: gelu, approximate: tanh, input: f1}\n"
    "  - {name: gs, op: add, inputs: [g, g2]}\n"
    "  - {name: f2, op: linear, out: 8}\n"
    "  - {name: n3, op: layernorm}\n"
    "  - {name: p, op: linear, out: 1}\n"
    "  - {name: ps, op: softmax_axis, axis: 1, form: plain}\n"
    "  - {name: w, op: matmul, inputs: [ps, n3], transpose_a: true}\n"
    "  - {name: fc, op: linear, out: 3}\n";

/* Every layer's output of the fast paths equals the exact path's (no_fast:
 * MPFR for every nonlinear value, every rounding through the library). */
static void fast_equals_exact(nr_model *m, const float *x, const char *what)
{
    double **a, **b;
    a = tu_emulate_layers(m, x, 0);
    b = tu_emulate_layers(m, x, 1);
    for (int i = 0; i < m->nlayers; i++) {
        size_t n = nr_shape_count(m->layers[i].out_shape);
        for (size_t k = 0; k < n; k++)
            ck_assert_msg(a[i][k] == b[i][k] || (isnan(a[i][k]) && isnan(b[i][k])),
                          "%s layer %s element %zu: fast %.17g, exact %.17g", what,
                          m->layers[i].name, k, a[i][k], b[i][k]);
    }
    tu_free_layers(m, a);
    tu_free_layers(m, b);
}

START_TEST(mini_fast_exact)
{
    static const char *precs[] = {
        "fp32", "bf16", "e4m3", "fp16", "e6m7-finite-nosub-sat",
        "default: {weights: e4m3, activations: e4m3, products: fp32, accumulator: fp32, "
        "nonlinear: bf16}\nops: {softmax_axis: bf16, layernorm: bf16}\n",
        "default: {weights: fp32, rounding: rz}\n",
        "default: {weights: bf16, rounding: sr, mac: fused}\nseed: 3\n",
        "default: {weights: e5m2, mac: exact}\n"};
    for (size_t i = 0; i < sizeof precs / sizeof precs[0]; i++) {
        nr_spec *s = NULL;
        nr_precision *p = NULL;
        nr_model *m = NULL;
        nr_err e = {0};
        ck_assert(nr_spec_parse_string(mini, "mini.yaml", &s, &e) == 0);
        int rc = strchr(precs[i], ':') ? nr_precision_parse_string(precs[i], "p.yaml", &p, &e)
                                       : nr_precision_from_arg(precs[i], &p, &e);
        ck_assert_msg(rc == 0, "%s", tu_errstr(&e));
        ck_assert_msg(nr_model_build(s, p, NULL, 11 + i, &m, &e) == 0, "%s", tu_errstr(&e));
        uint64_t st = 5 + i;
        for (int rep = 0; rep < 4; rep++) {
            float x[32];
            for (int k = 0; k < 32; k++)
                x[k] = (float)(tu_unif(&st) * (2 + 3 * rep) - (1 + 1.5 * rep));
            fast_equals_exact(m, x, precs[i]);
        }
        nr_model_free(m);
    }
}
END_TEST

/* The same on the real CCT (every layer, one input; ~1 min of CPU, so
 * with NUMREP_EXHAUSTIVE=1 only). */
START_TEST(cct_fast_exact)
{
    if (!tu_exhaustive()) {
        tu_skip("CCT fast = exact: NUMREP_EXHAUSTIVE=1 runs it");
        return;
    }
    static const char *precs[] = {"fp32", "bf16"};
    for (int i = 0; i < 2; i++) {
        nr_model *m = load_cct(precs[i]);
        float x[3 * 32 * 32];
        cct_input(x);
        fast_equals_exact(m, x, precs[i]);
        nr_model_free(m);
    }
}
END_TEST

/* The first 100 test images at fp32 against PyTorch: within 1e-4 of the
 * row's largest logit, same argmax on every image. */
START_TEST(cct_reference)
{
    const char *data = tu_shared_data();
    if (!data) {
        tu_skip("no ../shared/data: CCT reference logits not checked");
        return;
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/reference/cct_4_3x1_cifar10_first100_logits.f32", data);
    FILE *f = fopen(path, "rb");
    if (!f) {
        tu_skip("no %s", path);
        return;
    }
    enum { N = 100, K = 10 };
    int n = tu_quick() ? 10 : N;
    float *ref = malloc(N * K * sizeof *ref);
    ck_assert_int_eq(fread(ref, sizeof *ref, N * K, f), N * K);
    fclose(f);
    nr_model *m = load_cct(NULL);
    nr_err e = {0};
    nr_dataset_opts o;
    nr_dataset_opts_init(&o);
    o.pp = m->spec->pp;
    nr_dataset *ds = NULL;
    snprintf(path, sizeof path, "%s/cifar10", data);
    ck_assert_msg(nr_dataset_open(path, &o, &ds, &e) == 0, "%s", tu_errstr(&e));
    float *x = malloc((size_t)n * 3072 * sizeof *x), *y = malloc((size_t)n * K * sizeof *y);
    int *lab = malloc((size_t)n * sizeof *lab);
    ck_assert_msg(nr_dataset_get(ds, 0, n, x, lab, &e) == 0, "%s", tu_errstr(&e));
    ck_assert_msg(nr_emulate(m, x, n, y, NULL, NULL, &e) == 0, "%s", tu_errstr(&e));
    double worst = 0;
    int correct = 0, ref_correct = 0;
    for (int s = 0; s < n; s++) {
        const float *r = ref + s * K, *g = y + s * K;
        double scale = 1;
        for (int k = 0; k < K; k++)
            scale = fmax(scale, fabs(r[k]));
        for (int k = 0; k < K; k++) {
            double d = fabs((double)g[k] - r[k]) / scale;
            worst = fmax(worst, d);
            ck_assert_msg(d <= 1e-4, "image %d logit %d: numrep %.9g, PyTorch %.9g", s, k,
                          (double)g[k], (double)r[k]);
        }
        ck_assert_int_eq(nr_eval_argmax(g, K), nr_eval_argmax(r, K));
        correct += nr_eval_argmax(g, K) == lab[s];
        ref_correct += nr_eval_argmax(r, K) == lab[s];
    }
    if (n == N)
        ck_assert_int_eq(ref_correct, 93); /* ../shared/data/README.md */
    ck_assert_int_eq(correct, ref_correct);
    printf("cct: %d images, %d correct, largest difference %.2e of the row's largest logit\n",
           n, correct, worst);
    free(x);
    free(y);
    free(lab);
    free(ref);
    nr_dataset_close(ds);
    nr_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("transformer");
    TCase *t = tcase_create("ops");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, bad_specs);
    tcase_add_test(t, bad_weights);
    tcase_add_test(t, moves);
    tcase_add_test(t, matmul_transposes);
    tcase_add_test(t, softmax_layernorm_values);
    tcase_add_test(t, gelu_correctly_rounded);
    tcase_add_test(t, prec_roles);
    tcase_add_test(t, nonlinear_role_used);
    tcase_add_test(t, mini_fast_exact);
    tcase_add_test(t, cct_fast_exact);
    tcase_add_test(t, cct_reference);
    suite_add_tcase(s, t);
    return tu_run(s);
}
