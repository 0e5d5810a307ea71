/* check_seq_scaled.c -- scaled formats on the sequence ops' dot products
 * (docs/semantics.md [scl-seq]): the precision roles (`ops: {linear:
 * mxfp8}`, operands_scaled, the errors), the linear weight's blocks along
 * its input features, and linear / matmul outputs in the emulator compared
 * with an independent computation: the test quantizes each operand line
 * itself (nr_scaled_quantize on the line it gathers, the library's group
 * conversion that check_scaled and tests/oracle check), then forms the dot
 * product of [scl-seq-dot] with host float sums and MPFR for the scaled
 * products (block-fp32) or the exact sum (block-exact).  Odd K (not a
 * multiple of the block), blocks down a column (V), NVFP4's tensor scale,
 * int8 per channel.  The emulator's fast and generic paths must agree. */
#include "emulator.h"
#include "model.h"
#include "testutil.h"

#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static nr_scaled sc_of(const char *name)
{
    nr_scaled s;
    nr_err e = {0};
    ck_assert_msg(nr_scaled_parse(name, &s, &e) == 0, "%s", e.msg);
    return s;
}

/* Both paths, every layer bit for bit; returns the generic one's. */
static double **run_both(const nr_model *m, const float *x)
{
    double **a = tu_emulate_layers(m, x, 1), **b = tu_emulate_layers(m, x, 0);
    for (int i = 0; i < m->nlayers; i++)
        for (size_t k = 0; k < nr_shape_count(m->layers[i].out_shape); k++)
            ck_assert_msg(memcmp(&a[i][k], &b[i][k], sizeof(double)) == 0,
                          "layer %s element %zu: generic %a, fast %a", m->layers[i].name, k,
                          a[i][k], b[i][k]);
    tu_free_layers(m, b);
    return a;
}

/* One operand line quantized by the test: K values at stride from x, in
 * blocks of `blk` (K for one group), element values to p[k], each term's
 * scale to X[k].  ts: NVFP4's tensor scale (else ignored). */
static void quant_line(const nr_scaled *s, const double *x, size_t stride, int K, int blk,
                       double ts, double *p, double *X)
{
    nr_scaled_ctx ctx = {.mode = NR_RND_RNE, .element_step = stride, .tensor_scale = ts};
    for (int k0 = 0; k0 < K; k0 += blk) {
        int n = K - k0 < blk ? K - k0 : blk;
        nr_scaled_group g;
        nr_err e = {0};
        ck_assert_msg(nr_scaled_quantize(s, x + (size_t)k0 * stride, (size_t)n, stride, &ctx,
                                         p + k0, &g, &e) == 0, "%s", e.msg);
        for (int i = 0; i < n; i++)
            X[k0 + i] = g.scale;
    }
}

/* round_fp32(s * xa * xb) with MPFR (exact product, one rounding). */
static float f32_scaled(float s, double xa, double xb)
{
    mpfr_t t;
    mpfr_init2(t, 200);
    mpfr_set_flt(t, s, MPFR_RNDN);
    mpfr_mul_d(t, t, xa, MPFR_RNDN); /* exact: 24 + 53 + 53 bits < 200 */
    mpfr_mul_d(t, t, xb, MPFR_RNDN);
    float r = mpfr_get_flt(t, MPFR_RNDN);
    mpfr_clear(t);
    return r;
}

/* [scl-dot-block-fp32] along one line: segments cut where k / ba or k / bb
 * changes; start = the bias as fp32. */
static float block_fp32(const double *pa, const double *xa, int ba, const double *pb,
                        const double *xb, int bb, int K, float start)
{
    float acc = start, s = 0;
    for (int k = 0; k < K; k++) {
        s = s + (float)(pa[k] * pb[k]); /* exact product, one rounding each */
        int end = k == K - 1 || (k + 1) / ba != k / ba || (k + 1) / bb != k / bb;
        if (end) {
            float t = f32_scaled(s, xa[k], xb[k]);
            acc = acc + t;
            s = 0;
        }
    }
    return acc;
}

/* [scl-dot-block-exact] with one segment per operand group: the exact sum
 * of the bias and every (pa xa)(pb xb), rounded once to fp32. */
static float block_exact(const double *pa, const double *xa, const double *pb, const double *xb,
                         int K, double start)
{
    mpfr_t acc, t;
    mpfr_init2(acc, 2000);
    mpfr_init2(t, 2000);
    mpfr_set_d(acc, start, MPFR_RNDN);
    for (int k = 0; k < K; k++) {
        mpfr_set_d(t, pa[k], MPFR_RNDN);
        mpfr_mul_d(t, t, xa[k], MPFR_RNDN);
        mpfr_mul_d(t, t, pb[k], MPFR_RNDN);
        mpfr_mul_d(t, t, xb[k], MPFR_RNDN);
        ck_assert(mpfr_add(acc, acc, t, MPFR_RNDN) == 0); /* exact */
    }
    float r = mpfr_get_flt(acc, MPFR_RNDN);
    mpfr_clear(acc);
    mpfr_clear(t);
    return r;
}

static float *rand_input(uint64_t seed, size_t n, double lo, double hi)
{
    uint64_t st = seed;
    return tu_uniform_floats(&st, n, lo, hi);
}

/* ---------------------------------------------------------------- roles */

static const char *tiny =
    "input: {shape: [1, 3, 8]}\nlayers:\n"
    "  - {name: l, op: linear, out: 8}\n"
    "  - {name: n, op: layernorm}\n"
    "  - {name: s, op: matmul, inputs: [n, l], transpose_b: true}\n";

START_TEST(roles)
{
    nr_model *m = tu_model_ok(tiny,
                              "default: {weights: bf16, activations: bf16}\n"
                              "ops: {linear: mxfp8, matmul: nvfp4, layernorm: bf16}\n", 3);
    const nr_layer_prec *l = &m->layers[0].prec, *n = &m->layers[1].prec,
                        *s = &m->layers[2].prec;
    nr_scaled mx = sc_of("mxfp8"), nv = sc_of("nvfp4");
    ck_assert(nr_scaled_equal(&l->weights_scaled, &mx));
    ck_assert(nr_scaled_equal(&l->operands_scaled, &mx));
    ck_assert_int_eq(l->activations_scaled.gran, NR_GRAN_NONE); /* the output is plain */
    ck_assert_int_eq(l->activations.width, 32);
    ck_assert_int_eq(l->mac, NR_MAC_BLOCK_FP32);
    ck_assert(nr_scaled_equal(&s->operands_scaled, &nv));
    ck_assert_int_eq(s->weights_scaled.gran, NR_GRAN_NONE);
    ck_assert_int_eq(n->activations_scaled.gran, NR_GRAN_NONE);
    ck_assert_int_eq(n->operands_scaled.gran, NR_GRAN_NONE);
    ck_assert_int_eq(n->activations.width, 16);
    nr_model_free(m);
    /* int8@channel: per-tensor operands, block-exact ([scl-dot-preset]) */
    m = tu_model_ok(tiny, "default: {weights: bf16}\nops: {linear: int8@channel}\n", 3);
    l = &m->layers[0].prec;
    ck_assert_int_eq(l->weights_scaled.gran, NR_GRAN_CHANNEL);
    ck_assert_int_eq(l->operands_scaled.gran, NR_GRAN_TENSOR);
    ck_assert_int_eq(l->mac, NR_MAC_BLOCK_EXACT);
    nr_model_free(m);
}
END_TEST

START_TEST(errors)
{
    tu_model_bad(tiny,
                 "default: {weights: fp32}\nlayers: {l: {activations: int8@tensor:fp32:static}}\n", 3,
                 "dynamically", 0);
    tu_model_bad(tiny, "default: {weights: fp32}\nlayers: {s: {weights: mxfp8, activations: fp32, mac: block-fp32}}\n", 3,
                 "needs scaled operands", 0);
    tu_model_bad(tiny, "default: {weights: fp32}\nops: {linear: mxfp9}\n", 3, "mxfp9", 2);
    /* the model builds; the emulator refuses a scaled layernorm, naming it */
    nr_model *m = tu_model_ok(tiny, "default: {weights: fp32}\nops: {layernorm: mxfp8}\n", 3);
    float x[24] = {0}, out[24];
    nr_err e = {0};
    ck_assert_int_eq(nr_emulate(m, x, 1, out, NULL, NULL, &e), -NR_EUNSUP);
    ck_assert_msg(strstr(e.msg, "only linear and matmul") && !strcmp(e.where, "n"), "%s",
                  tu_errstr(&e));
    nr_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- linear */

/* A linear of K = 37 inputs (blocks of 32 and a short one of 5) and 4
 * outputs with a bias, on 3 tokens, in block-fp32: every output equals the
 * test's own quantization and dot product. */
static void check_linear(const char *fmt, int exact)
{
    const int T = 3, K = 37, O = 4;
    char prec[256];
    snprintf(prec, sizeof prec, "default: {weights: fp32}\nops: {linear: %s}\n", fmt);
    nr_model *m = tu_model_ok("input: {shape: [1, 3, 37]}\nlayers:\n"
                              "  - {name: l, op: linear, out: 4}\n", prec, 11);
    const nr_layer *L = &m->layers[0];
    const nr_scaled ws = L->prec.weights_scaled, xs = L->prec.operands_scaled;
    float *x = rand_input(5, (size_t)T * K, -3, 3);
    x[4] = 0; /* tokens' blocks hold a zero, one token a large value (clipping rules) */
    x[K + 7] = 1000;
    double **out = run_both(m, x);
    double xd[3 * 37], pw[37], Xw[37], pa[37], Xa[37];
    for (int i = 0; i < T * K; i++)
        xd[i] = x[i];
    const int bw = ws.gran == NR_GRAN_BLOCK ? ws.block : K, ba = xs.gran == NR_GRAN_BLOCK ? xs.block : K;
    double wts = ws.scale == NR_SCALE_NV ? nr_scaled_tensor_scale(&ws, nr_scaled_amax(L->w, L->nw, 1)) : 1;
    double xts = xs.scale == NR_SCALE_NV ? nr_scaled_tensor_scale(&xs, nr_scaled_amax(xd, (size_t)T * K, 1)) : 1;
    for (int o = 0; o < O; o++) {
        if (ws.gran == NR_GRAN_TENSOR || xs.gran == NR_GRAN_TENSOR)
            ck_assert_msg(0, "the test quantizes lines or channels only");
        quant_line(&ws, L->w + (size_t)o * K, 1, K, bw, wts, pw, Xw);
        for (int k = 0; k < K; k++) /* the model's weights: the same values and scales */
            ck_assert_msg(pw[k] == L->wq[o * K + k] &&
                              Xw[k] == L->wscale[nr_model_layer_wgroup(L, o, k, 0, 0)],
                          "%s weight %d %d", fmt, o, k);
        for (int t = 0; t < T; t++) {
            quant_line(&xs, xd + (size_t)t * K, 1, K, ba, xts, pa, Xa);
            float want = exact ? block_exact(pw, Xw, pa, Xa, K, (float)L->b[o])
                               : block_fp32(pw, Xw, bw, pa, Xa, ba, K, (float)L->b[o]);
            double got = out[0][t * O + o];
            ck_assert_msg(got == (double)want, "%s token %d out %d: %a, want %a", fmt, t, o,
                          got, (double)want);
        }
    }
    tu_free_layers(m, out);
    free(x);
    nr_model_free(m);
}

START_TEST(linear_mx)
{
    check_linear("mxfp8", 0);
    check_linear("mxfp4", 0);
    check_linear("nvfp4", 0);
    check_linear("e4m3@b8", 0);
}
END_TEST

/* int8 per channel: one group per weight row, the input one group, exact.
 * (tensor granularity on the input: quant_line over all 3 x 37 values.) */
START_TEST(linear_int8_channel)
{
    const int T = 3, K = 37, O = 4;
    nr_model *m = tu_model_ok("input: {shape: [1, 3, 37]}\nlayers:\n"
                              "  - {name: l, op: linear, out: 4}\n",
                              "default: {weights: fp32}\nops: {linear: int8@channel}\n", 11);
    const nr_layer *L = &m->layers[0];
    float *x = rand_input(6, (size_t)T * K, -2, 2);
    double **out = run_both(m, x);
    double xd[3 * 37], pa[3 * 37], Xa[3 * 37], pw[37], Xw[37];
    for (int i = 0; i < T * K; i++)
        xd[i] = x[i];
    quant_line(&L->prec.operands_scaled, xd, 1, T * K, T * K, 1, pa, Xa);
    for (int o = 0; o < O; o++) {
        quant_line(&L->prec.weights_scaled, L->w + (size_t)o * K, 1, K, K, 1, pw, Xw);
        for (int t = 0; t < T; t++) {
            float want = block_exact(pw, Xw, pa + t * K, Xa + t * K, K, (float)L->b[o]);
            ck_assert_msg(out[0][t * O + o] == (double)want, "token %d out %d: %a want %a", t,
                          o, out[0][t * O + o], (double)want);
        }
    }
    tu_free_layers(m, out);
    free(x);
    nr_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- matmul */

/* s = Q K^T on [2, 5, 19] (head dimension 19: a block of 16 and one of 3),
 * then c = s V with V = the input: K = 5 along the key axis, blocks of 4 and
 * 1 running down V's columns. */
static void check_attention(const char *qk, const char *sv)
{
    char prec[256];
    snprintf(prec, sizeof prec,
             "default: {weights: fp32}\nlayers: {s: {activations: %s, mac: block-fp32}, "
             "c: {activations: %s, mac: block-fp32}}\n", qk, sv);
    nr_model *m = tu_model_ok("input: {shape: [2, 5, 19]}\nlayers:\n"
                              "  - {name: s, op: matmul, inputs: [input, input], transpose_b: true}\n"
                              "  - {name: c, op: matmul, inputs: [s, input]}\n", prec, 1);
    float *x = rand_input(9, 2 * 5 * 19, -4, 4);
    double **out = run_both(m, x);
    double xd[190], pa[19], Xa[19], pb[19], Xb[19];
    for (int i = 0; i < 190; i++)
        xd[i] = x[i];
    const nr_scaled s1 = m->layers[0].prec.operands_scaled, s2 = m->layers[1].prec.operands_scaled;
    const int b1 = s1.block, b2 = s2.block;
    double ts = s1.scale == NR_SCALE_NV ? nr_scaled_tensor_scale(&s1, nr_scaled_amax(xd, 190, 1)) : 1;
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) {
                quant_line(&s1, xd + (h * 5 + i) * 19, 1, 19, b1, ts, pa, Xa);
                quant_line(&s1, xd + (h * 5 + j) * 19, 1, 19, b1, ts, pb, Xb);
                float want = block_fp32(pa, Xa, b1, pb, Xb, b1, 19, 0.0f);
                ck_assert_msg(out[0][(h * 5 + i) * 5 + j] == (double)want, "%s s %d %d %d", qk,
                              h, i, j);
            }
    const double *S = out[0];
    double ts_a = s2.scale == NR_SCALE_NV ? nr_scaled_tensor_scale(&s2, nr_scaled_amax(S, 50, 1)) : 1;
    double ts_b = s2.scale == NR_SCALE_NV ? nr_scaled_tensor_scale(&s2, nr_scaled_amax(xd, 190, 1)) : 1;
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 5; i++)
            for (int n = 0; n < 19; n++) {
                quant_line(&s2, S + (h * 5 + i) * 5, 1, 5, b2, ts_a, pa, Xa);
                quant_line(&s2, xd + h * 95 + n, 19, 5, b2, ts_b, pb, Xb); /* a column of V */
                float want = block_fp32(pa, Xa, b2, pb, Xb, b2, 5, 0.0f);
                ck_assert_msg(out[1][(h * 5 + i) * 19 + n] == (double)want,
                              "%s c %d %d %d: %a want %a", sv, h, i, n, out[1][(h * 5 + i) * 19 + n],
                              (double)want);
            }
    tu_free_layers(m, out);
    free(x);
    nr_model_free(m);
}

START_TEST(attention)
{
    check_attention("nvfp4", "e4m3@b4");
    check_attention("mxfp4", "e2m1@b2:nv");
    check_attention("mxfp8", "e5m2@b3:e8m0:rceil");
}
END_TEST

/* ---------------------------------------------------------------- a block */

/* A whole pre-norm block with every scaled preset on the dot products, the
 * rest bf16: the fast and generic paths agree on every layer, the
 * operands' groups are counted, and a NaN input makes NaN blocks, not a
 * crash. */
static const char *block =
    "input: {shape: [1, 7, 12]}\nlayers:\n"
    "  - {name: n1, op: layernorm}\n"
    "  - {name: qkv, op: linear, out: 36}\n"
    "  - {name: q, op: slice, w: [0, 12]}\n  - {name: qh, op: heads, heads: 2}\n"
    "  - {name: k, op: slice, input: qkv, w: [12, 24]}\n  - {name: kh, op: heads, heads: 2}\n"
    "  - {name: v, op: slice, input: qkv, w: [24, 36]}\n  - {name: vh, op: heads, heads: 2}\n"
    "  - {name: s, op: matmul, inputs: [qh, kh], transpose_b: true}\n"
    "  - {name: sc, op: scale, by: 0.4}\n"
    "  - {name: a, op: softmax_axis, axis: 2}\n"
    "  - {name: ctx, op: matmul, inputs: [a, vh]}\n"
    "  - {name: m, op: merge_heads}\n"
    "  - {name: o, op: linear, out: 12}\n"
    "  - {name: r, op: add, inputs: [input, o]}\n";

START_TEST(block_presets)
{
    static const char *fmts[] = {"mxfp8", "mxfp4", "nvfp4", "int8@channel", "mxfp6e2m3",
                                 "int4@b32:fp32"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        char prec[400];
        snprintf(prec, sizeof prec,
                 "default: {weights: bf16, activations: bf16, products: fp32, accumulator: "
                 "fp32, nonlinear: bf16}\nops: {linear: %s, matmul: %s, softmax_axis: bf16, "
                 "layernorm: bf16}\n", fmts[i], fmts[i]);
        nr_model *m = tu_model_ok(block, prec, 4);
        float *x = rand_input(2 + i, 84, -2, 2);
        tu_free_layers(m, run_both(m, x));
        nr_emu_stats st;
        nr_err e = {0};
        float out[84];
        ck_assert(nr_emu_stats_init(&st, m, &e) == 0);
        x[5] = NAN;
        ck_assert_msg(nr_emulate(m, x, 1, out, &st, NULL, &e) == 0, "%s", tu_errstr(&e));
        int qkv = nr_model_find(m, "qkv"), ctx = nr_model_find(m, "ctx");
        ck_assert_msg(st.layer[qkv].aq.groups > 0 && st.layer[ctx].aq.groups > 0, "%s", fmts[i]);
        ck_assert_msg(st.layer[qkv].aq.nan > 0, "%s: the NaN's group", fmts[i]);
        nr_emu_stats_free(&st);
        free(x);
        nr_model_free(m);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seq_scaled");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, roles);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, linear_mx);
    tcase_add_test(tc, linear_int8_channel);
    tcase_add_test(tc, attention);
    tcase_add_test(tc, block_presets);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
