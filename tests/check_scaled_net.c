/* check_scaled_net.c -- scaled formats in networks (docs/semantics.md
 * [scl-dot-*]): precision parsing (short and long forms, overrides, every
 * bad combination with its position), weight quantization layouts (channel,
 * blocks along ci with a short last block), dynamic activation scales on a
 * tiny conv, and block dot products in every mac mode compared with an
 * independent computation: the test builds operands whose element values
 * and scales it knows (the OCP floor rule worked out here), and computes the
 * expected dot product with MPFR, rounding to fp32 / bf16 as each rule says.
 * Nothing here calls the emulator's arithmetic for the expected values. */
#include "emulator.h"
#include "model.h"
#include "testutil.h"

#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* A model from spec text and precision text (random weights, seed 7). */
static int model_try(const char *spec, const char *prec, nr_model **m, nr_err *e)
{
    return tu_model_try(spec, prec, 7, m, e);
}

static nr_model *model_ok(const char *spec, const char *prec)
{
    return tu_model_ok(spec, prec, 7);
}

/* Replace layer li's weights (and bias, or none) and quantize them again. */
static void set_weights(nr_model *m, int li, const double *w, const double *b)
{
    nr_layer *L = &m->layers[li];
    memcpy(L->w, w, L->nw * sizeof *w);
    if (b && L->b)
        memcpy(L->b, b, L->nb * sizeof *b);
    for (int i = 0; i < m->nlayers; i++) {
        free(m->layers[i].wq);
        free(m->layers[i].wscale);
        m->layers[i].wq = m->layers[i].wscale = NULL;
        m->layers[i].wq_clipped = m->layers[i].wq_zero = m->layers[i].wq_nan = 0;
    }
    nr_err e = {0};
    ck_assert_msg(nr_model_quantize_weights(m, &e) == 0, "%s", e.msg);
}

/* Run one sample in the generic path and (when no_fast = 0) the fast one;
 * both must agree bit for bit; returns the output in out. */
static void run_both(const nr_model *m, const float *in, float *out, size_t nout)
{
    nr_err e = {0};
    nr_emu_opts o = {.trace_layer = -1, .no_fast = 1};
    ck_assert_msg(nr_emulate(m, in, 1, out, NULL, &o, &e) == 0, "%s", e.msg);
    float *f = malloc(nout * sizeof *f);
    o.no_fast = 0;
    ck_assert_msg(nr_emulate(m, in, 1, f, NULL, &o, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < nout; i++)
        ck_assert_msg(memcmp(&f[i], &out[i], sizeof *f) == 0, "fast %a != generic %a at %zu",
                      (double)f[i], (double)out[i], i);
    free(f);
}

/* ---------------------------------------------------------------- operands
 * A block of e4m3 elements whose OCP floor scale the test knows: values
 * m * 2^(j + eb), m in [-14, 14] (at most 4 significant bits, 14 = 1.75 *
 * 2^3 so nothing clips), j in [-6, 0], one element 14 * 2^eb; then amax =
 * 14 * 2^eb, X = 2^(floor(log2 amax) - emax_e4m3) = 2^(3 + eb - 8) and every
 * v / X = m * 2^(j + 5) is an e4m3 value. */
static void make_block(uint64_t *st, double *v, int n, int eb, double *X)
{
    for (int i = 0; i < n; i++) {
        int mm = (int)(tu_rand(st) % 29) - 14, j = -(int)(tu_rand(st) % 7);
        v[i] = ldexp(mm, j + eb);
    }
    v[tu_rand(st) % (uint64_t)n] = ldexp(tu_rand(st) & 1 ? 14 : -14, eb);
    *X = ldexp(1, eb - 5);
}

/* ---------------------------------------------------------------- MPFR reference */

#define HP 2048
static void rnd(mpfr_t x, int prec) /* one rne rounding to prec bits (normal range) */
{
    mpfr_t y;
    mpfr_init2(y, prec);
    mpfr_set(y, x, MPFR_RNDN);
    mpfr_set(x, y, MPFR_RNDN);
    mpfr_clear(y);
}

enum { M_BFP32, M_BEXACT, M_UNFUSED, M_FUSED, M_EXACT };

/* The dot product of [scl-dot-*] over segments of `seg` terms (promote:
 * also cut every `chunk`), element values pw, pa with per-segment scales
 * xw[s], xa[s].  sp: precision of S (and P); outer: of the outer sum. */
/* Terms in visiting order with their own scales and segment ids sid[k]
 * (a segment ends where the id changes). */
static double ref_terms(int mode, int K, const int *sid, int chunk, const double *pw,
                        const double *xw, const double *pa, const double *xa, double bias,
                        int sp, int outer)
{
    mpfr_t acc, part, p, t;
    mpfr_inits2(HP, acc, part, p, t, (mpfr_ptr)0);
    mpfr_set_d(acc, bias, MPFR_RNDN);
    rnd(acc, outer);
    mpfr_set_zero(part, 1);
    if (mode == M_EXACT) {
        for (int k = 0; k < K; k++) {
            mpfr_set_d(p, pw[k], MPFR_RNDN);
            mpfr_mul_d(p, p, xw[k], MPFR_RNDN);
            mpfr_mul_d(p, p, pa[k], MPFR_RNDN);
            mpfr_mul_d(p, p, xa[k], MPFR_RNDN);
            mpfr_add(acc, acc, p, MPFR_RNDN);
        }
        rnd(acc, sp);
    } else {
        int n = 0;
        for (int k = 0; k < K; k++) {
            mpfr_set_d(p, pw[k], MPFR_RNDN);
            mpfr_mul_d(p, p, pa[k], MPFR_RNDN);
            if (mode == M_BFP32 || mode == M_UNFUSED)
                rnd(p, mode == M_BFP32 ? 24 : sp);
            mpfr_add(part, part, p, MPFR_RNDN);
            if (mode != M_BEXACT)
                rnd(part, mode == M_BFP32 ? 24 : sp);
            n++;
            if (k + 1 == K || sid[k + 1] != sid[k] || (chunk && n == chunk)) {
                mpfr_mul_d(t, part, xw[k], MPFR_RNDN);
                mpfr_mul_d(t, t, xa[k], MPFR_RNDN);
                if (mode == M_BFP32)
                    rnd(t, 24);
                mpfr_add(acc, acc, t, MPFR_RNDN);
                rnd(acc, mode == M_BFP32 ? 24 : outer);
                mpfr_set_zero(part, 1);
                n = 0;
            }
        }
    }
    double r = mpfr_get_d(acc, MPFR_RNDN);
    mpfr_clears(acc, part, p, t, (mpfr_ptr)0);
    return r;
}

/* Segments of `seg` terms, scales per segment. */
static double ref_dot(int mode, int K, int seg, int chunk, const double *pw, const double *xw,
                      const double *pa, const double *xa, double bias, int sp, int outer)
{
    int sid[256];
    double w[256], a[256];
    ck_assert_int_le(K, 256);
    for (int k = 0; k < K; k++)
        sid[k] = k / seg, w[k] = xw[k / seg], a[k] = xa[k / seg];
    return ref_terms(mode, K, sid, chunk, pw, w, pa, a, bias, sp, outer);
}

/* ---------------------------------------------------------------- precision parsing */

START_TEST(test_parse_presets)
{
    nr_precision *p = NULL;
    nr_err e = {0};
    ck_assert_int_eq(nr_precision_from_arg("mxfp4", &p, &e), 0);
    const nr_layer_prec *d = &p->dflt;
    ck_assert_int_eq(d->weights_scaled.gran, NR_GRAN_BLOCK);
    ck_assert_int_eq(d->weights_scaled.block, 32);
    ck_assert_int_eq(d->activations_scaled.gran, NR_GRAN_BLOCK);
    ck_assert_int_eq(d->mac, NR_MAC_BLOCK_FP32);
    nr_format f32 = tu_fmt("fp32"), e2m1 = tu_fmt("e2m1");
    ck_assert(nr_format_equal(&d->products, &f32) && nr_format_equal(&d->accumulator, &f32));
    ck_assert(nr_format_equal(&d->activations, &f32)); /* the carrier */
    ck_assert(nr_format_equal(&d->weights, &e2m1));
    ck_assert(nr_prec_is_scaled(d));
    nr_precision_free(p);

    ck_assert_int_eq(nr_precision_from_arg("INT8@channel", &p, &e), 0);
    ck_assert_int_eq(p->dflt.weights_scaled.gran, NR_GRAN_CHANNEL);
    ck_assert_int_eq(p->dflt.activations_scaled.gran, NR_GRAN_TENSOR);
    ck_assert_int_eq(p->dflt.mac, NR_MAC_BLOCK_EXACT);
    nr_precision_free(p);

    ck_assert_int_eq(nr_precision_from_arg("e6m7", &p, &e), 0);
    ck_assert(!nr_prec_is_scaled(&p->dflt)); /* plain: untouched */
    nr_precision_free(p);

    ck_assert_int_lt(nr_precision_from_arg("e2m1@b0", &p, &e), 0);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_parse_yaml)
{
    /* the long form means the same as the name */
    nr_precision *a = tu_prec_ok("default: {weights: {element: e2m1, block: 32, scale: e8m0, "
                              "rule: floor}, activations: {element: e2m1, block: 32}, "
                              "mac: block-fp32}\n");
    nr_precision *b = NULL;
    nr_err e = {0};
    ck_assert_int_eq(nr_precision_from_arg("mxfp4", &b, &e), 0);
    ck_assert(nr_scaled_equal(&a->dflt.weights_scaled, &b->dflt.weights_scaled));
    ck_assert(nr_scaled_equal(&a->dflt.activations_scaled, &b->dflt.activations_scaled));
    ck_assert_int_eq(a->dflt.mac, NR_MAC_BLOCK_FP32);
    nr_precision_free(a);
    nr_precision_free(b);
    a = tu_prec_ok("default: {weights: {element: int8}}\n"); /* granularity tensor by default */
    ck_assert_int_eq(a->dflt.weights_scaled.gran, NR_GRAN_TENSOR);
    nr_precision_free(a);

    /* granularity, promote, overrides merged per layer */
    a = tu_prec_ok("default: {weights: {element: int8, granularity: channel}, mac: unfused, "
                "promote: 128}\n"
                "layers:\n  fc: {weights: fp32, activations: mxfp8, mac: block-exact, "
                "promote: 0}\n");
    ck_assert_int_eq(a->dflt.weights_scaled.gran, NR_GRAN_CHANNEL);
    ck_assert_int_eq(a->dflt.promote, 128);
    nr_layer_prec lp;
    nr_precision_layer(a, "fc", NULL, &lp);
    ck_assert_int_eq(lp.weights_scaled.gran, NR_GRAN_NONE);
    ck_assert_int_eq(lp.activations_scaled.gran, NR_GRAN_BLOCK);
    ck_assert_int_eq(lp.mac, NR_MAC_BLOCK_EXACT);
    ck_assert_int_eq(lp.promote, 0);
    nr_precision_layer(a, "other", NULL, &lp);
    ck_assert_int_eq(lp.weights_scaled.gran, NR_GRAN_CHANNEL);
    nr_precision_free(a);
}
END_TEST

START_TEST(test_parse_bad)
{
    tu_prec_bad("default: {activations: int8@channel}\n", "per channel", 1);
    tu_prec_bad("default: {activations: {element: int8, granularity: channel}}\n", "per channel",
             1);
    tu_prec_bad("default:\n  products: mxfp8\n", "cannot be a scaled format", 2);
    tu_prec_bad("default: {accumulator: nvfp4}\n", "cannot be a scaled format", 1);
    tu_prec_bad("default: {mac: block-fp32}\n", "needs scaled weights or activations", 1);
    tu_prec_bad("default: {mac: blocky}\n", "block-fp32 or block-exact", 1);
    tu_prec_bad("default: {weights: mxfp8, mac: block-fp32, accumulator: e5m10}\n",
             "must be fp32", 1);
    tu_prec_bad("default: {weights: mxfp8, mac: exact, promote: 4}\n", "promote", 1);
    tu_prec_bad("default: {promote: -3}\n", "products per chunk", 1);
    tu_prec_bad("default: {promote: many}\n", "products per chunk", 1);
    tu_prec_bad("default: {weights: {element: e2m1, block: 0}}\n", "block", 1);
    tu_prec_bad("default: {weights: {element: e2m1, block: 32, granularity: tensor}}\n",
             "contradicts", 1);
    tu_prec_bad("default: {weights: {element: e2m1, block: 32, colour: red}}\n", "unknown key", 1);
    tu_prec_bad("default: {weights: {element: [e2m1], block: 32}}\n", "single name", 1);
    tu_prec_bad("\n\ndefault: {weights: {element: e9m9x, block: 32}}\n", "", 3);
    tu_prec_bad("default: {weights: e2m1@b32:fp32:floor}\n", "", 1);
    tu_prec_bad("default: {weights: int8@tensor:fp32:static}\n", "static", 1);
    tu_prec_bad("default: {weights: mxfp9}\n", "", 1);
}
END_TEST

static const char *dense_spec(int K, int O, int bias, char *buf, size_t n)
{
    snprintf(buf, n,
             "name: t\ninput: {shape: [%d, 1, 1]}\nlayers:\n"
             "  - {name: q, op: flatten}\n"
             "  - {name: fc, op: dense, out: %d, bias: %s}\n",
             K, O, bias ? "true" : "false");
    return buf;
}

START_TEST(test_model_checks)
{
    char spec[512];
    nr_model *m = NULL;
    nr_err e = {0};
    /* a block mac whose operands are both plain: named at the override */
    int rc = model_try(dense_spec(8, 2, 0, spec, sizeof spec),
                       "default: {activations: mxfp8}\n"
                       "layers:\n  q: {activations: fp32}\n  fc: {mac: block-exact}\n",
                       &m, &e);
    ck_assert_int_lt(rc, 0);
    ck_assert_msg(strstr(e.msg, "needs scaled weights or scaled input"), "%s", e.msg);
    ck_assert_int_eq(e.line, 4);
    ck_assert_ptr_null(m);
    /* the same with scaled input activations is fine */
    m = model_ok(dense_spec(8, 2, 0, spec, sizeof spec),
                 "default: {activations: mxfp8}\nlayers:\n  fc: {mac: block-exact}\n");
    ck_assert(nr_model_is_scaled(m));
    nr_model_free(m);
    /* an override that makes a bad combination: line of the override */
    nr_err_clear(&e);
    rc = model_try(dense_spec(8, 2, 0, spec, sizeof spec),
                   "default: {weights: mxfp8, mac: block-fp32}\n"
                   "layers:\n  fc: {accumulator: bf16}\n",
                   &m, &e);
    ck_assert_int_lt(rc, 0);
    ck_assert_msg(strstr(e.msg, "must be fp32") && e.line == 3, "%s line %d", e.msg, e.line);
}
END_TEST

/* ---------------------------------------------------------------- weight layouts */

START_TEST(test_weight_blocks_conv)
{
    /* conv [co 3, ci 5, 2, 2], blocks of 2 along ci: {0,1} {2,3} {4} */
    const char *spec = "name: t\ninput: {shape: [5, 4, 4]}\nlayers:\n"
                       "  - {name: c, op: conv, out: 3, kernel: 2, bias: false}\n";
    nr_model *m = model_ok(spec, "default: {weights: e4m3@b2}\n");
    nr_layer *L = &m->layers[0];
    ck_assert_uint_eq(L->nwscale, 3 * 4 * 3);
    uint64_t st = 11;
    double w[60], X[36];
    for (int o = 0; o < 3; o++)
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 2; c++)
                for (int b = 0; b < 3; b++) {
                    int n = b < 2 ? 2 : 1;
                    double v[2];
                    int eb = (int)(tu_rand(&st) % 9) - 4;
                    make_block(&st, v, n, eb, &X[((o * 2 + r) * 2 + c) * 3 + b]);
                    for (int i = 0; i < n; i++)
                        w[((o * 5 + 2 * b + i) * 2 + r) * 2 + c] = v[i];
                }
    set_weights(m, 0, w, NULL);
    for (int o = 0; o < 3; o++)
        for (int ci = 0; ci < 5; ci++)
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 2; c++) {
                    size_t g = nr_model_layer_wgroup(L, o, ci, r, c), i = (size_t)((o * 5 + ci) * 2 + r) * 2 + c;
                    ck_assert_uint_eq(g, (size_t)((o * 2 + r) * 2 + c) * 3 + (size_t)(ci / 2));
                    ck_assert_msg(L->wscale[g] == X[g], "group %zu scale %a want %a", g,
                                  L->wscale[g], X[g]);
                    ck_assert_msg(L->wq[i] * L->wscale[g] == w[i], "weight %zu", i);
                    ck_assert_msg(fabs(L->wq[i]) <= 448, "element %g", L->wq[i]);
                }
    ck_assert_uint_eq(L->wq_clipped, 0);
    nr_model_free(m);
}
END_TEST

START_TEST(test_weight_channel_int8)
{
    /* per output channel, fp32 amax: X = fp32(amax / 127), P = round(w / X) */
    char spec[512];
    nr_model *m = model_ok(dense_spec(6, 3, 0, spec, sizeof spec),
                           "default: {weights: int8@channel}\n");
    nr_layer *L = &m->layers[1];
    double w[18] = {0.5, -0.25, 0.125, 1.0, -0.75, 0.3,      /* amax 1  */
                    -3.0, 2.0, 1.5, 0.1, -0.2, 0.0,          /* amax 3  */
                    0, 0, 0, 0, 0, 0};                       /* all zero */
    set_weights(m, 1, w, NULL);
    ck_assert_uint_eq(L->nwscale, 3);
    for (int o = 0; o < 2; o++) {
        double amax = o ? 3.0 : 1.0, X = (double)(float)(amax / 127.0);
        ck_assert_msg(L->wscale[o] == X, "channel %d scale %a want %a", o, L->wscale[o], X);
        for (int i = 0; i < 6; i++) {
            double P = nearbyint(w[o * 6 + i] / X);
            ck_assert_msg(L->wq[o * 6 + i] == P, "w[%d][%d] %g want %g", o, i, L->wq[o * 6 + i],
                          P);
        }
    }
    ck_assert_uint_eq(L->wq_zero, 1);
    for (int i = 12; i < 18; i++)
        ck_assert(L->wq[i] == 0);
    nr_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- dot products */

#define K 40 /* blocks of 32: one full, one short (8) */

typedef struct dotcase {
    double w[2 * K], x[K];         /* values                                     */
    double pw[2 * K], pa[K];       /* element values the test worked out         */
    double xw[2][2], xa[2];        /* scales: [o][block], [block]                */
    double bias[2];
} dotcase;

/* weights e4m3@b32 (known scales), activations e4m3@b32 or plain fp32. */
static void make_case(dotcase *d, uint64_t seed, int scaled_x)
{
    uint64_t st = seed;
    for (int o = 0; o < 2; o++)
        for (int b = 0; b < 2; b++) {
            int n = b ? K - 32 : 32, eb = (int)(tu_rand(&st) % 7) - 3;
            make_block(&st, d->w + o * K + 32 * b, n, eb, &d->xw[o][b]);
            for (int i = 0; i < n; i++)
                d->pw[o * K + 32 * b + i] = d->w[o * K + 32 * b + i] / d->xw[o][b];
        }
    for (int b = 0; b < 2; b++) {
        int n = b ? K - 32 : 32;
        if (scaled_x) {
            make_block(&st, d->x + 32 * b, n, (int)(tu_rand(&st) % 7) - 3, &d->xa[b]);
            for (int i = 0; i < n; i++)
                d->pa[32 * b + i] = d->x[32 * b + i] / d->xa[b];
        } else { /* 24-bit values: products round in fp32 */
            d->xa[b] = 1.0;
            for (int i = 0; i < n; i++)
                d->pa[32 * b + i] = d->x[32 * b + i] = (float)(tu_unif(&st) * 8 - 4);
        }
    }
    d->bias[0] = (float)0.3125;
    d->bias[1] = (float)-1.7;
}

static void check_dot(const dotcase *d, const char *prec, int mode, int chunk, int sp,
                      int outer, const char *what)
{
    char spec[512];
    nr_model *m = model_ok(dense_spec(K, 2, 1, spec, sizeof spec), prec);
    set_weights(m, 1, d->w, d->bias);
    float in[K], out[2];
    for (int i = 0; i < K; i++)
        in[i] = (float)d->x[i];
    run_both(m, in, out, 2);
    for (int o = 0; o < 2; o++) {
        double want = ref_dot(mode, K, 32, chunk, d->pw + o * K, d->xw[o], d->pa, d->xa,
                              d->bias[o], sp, outer);
        ck_assert_msg(out[o] == (float)want || (isnan(want) && isnan(out[o])),
                      "%s: output %d is %a, want %a", what, o, (double)out[o], want);
    }
    nr_model_free(m);
}

START_TEST(test_dot_modes)
{
    static const struct {
        const char *roles;
        int mode, chunk, sp, outer;
    } modes[] = {
        {"mac: block-fp32", M_BFP32, 0, 24, 24},
        {"mac: block-exact", M_BEXACT, 0, 24, 24},
        {"products: bf16, accumulator: bf16, mac: unfused", M_UNFUSED, 0, 8, 8},
        {"products: bf16, accumulator: bf16, mac: fused", M_FUSED, 0, 8, 8},
        {"products: bf16, accumulator: bf16, mac: exact", M_EXACT, 0, 8, 8},
        {"products: bf16, accumulator: bf16, mac: unfused, promote: 5", M_UNFUSED, 5, 8, 24},
    };
    for (int seed = 1; seed <= 6; seed++)
        for (int sx = 0; sx < 2; sx++) {
            dotcase d;
            make_case(&d, (uint64_t)seed * 977, sx);
            for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
                /* layer q (the input) carries the activation scales; fc's output is fp32 */
                char prec[512];
                snprintf(prec, sizeof prec,
                         "default: {weights: e4m3@b32, %s}\n"
                         "layers:\n  q: {activations: %s}\n  fc: {activations: fp32}\n",
                         modes[i].roles, sx ? "e4m3@b32" : "fp32");
                check_dot(&d, prec, modes[i].mode, modes[i].chunk, modes[i].sp, modes[i].outer,
                          modes[i].roles);
            }
        }
}
END_TEST

START_TEST(test_dot_special_blocks)
{
    const char *prec = "default: {weights: e4m3@b32, mac: block-fp32}\n"
                       "layers:\n  q: {activations: e4m3@b32}\n  fc: {activations: fp32}\n";
    dotcase d;
    /* an all-zero activation block: contributes +0 whatever its scale */
    make_case(&d, 4242, 1);
    for (int i = 0; i < 32; i++)
        d.x[i] = d.pa[i] = 0;
    d.xa[0] = 1.0; /* any finite scale gives the same reference */
    check_dot(&d, prec, M_BFP32, 0, 24, 24, "zero block");
    /* NaN or Inf in a block: its scale is NaN, so every output is NaN */
    for (int v = 0; v < 3; v++) {
        make_case(&d, 99, 1);
        d.x[35] = v == 0 ? NAN : v == 1 ? INFINITY : -INFINITY;
        d.pa[35] = NAN;
        check_dot(&d, prec, M_BFP32, 0, 24, 24, "NaN/Inf block");
    }
}
END_TEST

START_TEST(test_dot_blocks_of_one)
{
    /* b1: every element its own scale, X = 2^(ilogb(v) - 8) (OCP floor for
     * e4m3), P = v / X; a segment per term. */
    const char *prec = "default: {weights: e4m3@b1, mac: block-fp32}\n"
                       "layers:\n  q: {activations: e4m3@b1}\n  fc: {activations: fp32}\n";
    dotcase d;
    make_case(&d, 5150, 1);
    char spec[512];
    nr_model *m = model_ok(dense_spec(K, 2, 1, spec, sizeof spec), prec);
    set_weights(m, 1, d.w, d.bias);
    float in[K], out[2];
    for (int i = 0; i < K; i++)
        in[i] = (float)d.x[i];
    run_both(m, in, out, 2);
    double xw[K], xa[K], pw[K], pa[K];
    for (int o = 0; o < 2; o++) {
        for (int k = 0; k < K; k++) {
            double v = d.w[o * K + k], u = d.x[k];
            xw[k] = v == 0 ? 1 : ldexp(1, ilogb(v) - 8);
            xa[k] = u == 0 ? 1 : ldexp(1, ilogb(u) - 8);
            pw[k] = v / xw[k], pa[k] = u / xa[k];
        }
        double want = ref_dot(M_BFP32, K, 1, 0, pw, xw, pa, xa, d.bias[o], 24, 24);
        ck_assert_msg(out[o] == (float)want, "b1 output %d: %a want %a", o, (double)out[o], want);
    }
    nr_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- activations */

/* e4m3 rne, written out here: quantum 2^-9 below 2^-6, else 2^(e-3). */
static double e4m3_rne(double y)
{
    double a = fabs(y), q = a < 0x1p-6 ? 0x1p-9 : ldexp(1, ilogb(a) - 3);
    double r = nearbyint(a / q) * q;
    if (r > 448)
        r = 448; /* [scl-elem] clipped */
    return copysign(r, y);
}

/* Quantize a [C, H, W] tensor with e4m3@bB, e8m0 floor (OCP MX 6.3). */
static void quant_ref(const double *v, double *out, int C, int HW, int B)
{
    for (int hw = 0; hw < HW; hw++)
        for (int c0 = 0; c0 < C; c0 += B) {
            double amax = 0;
            for (int c = c0; c < C && c < c0 + B; c++)
                amax = fmax(amax, fabs(v[c * HW + hw]));
            double X = amax == 0 ? 0x1p-127 : ldexp(1, ilogb(amax) - 8);
            for (int c = c0; c < C && c < c0 + B; c++)
                out[c * HW + hw] = e4m3_rne(v[c * HW + hw] / X) * X;
        }
}

START_TEST(test_dynamic_act_conv)
{
    /* conv 1x1 with weight 3 on the diagonal over [20, 2, 3]: the input is
     * quantized (blocks of 8 along c at each (h, w), the last one 4 long),
     * multiplied by 3, and the output quantized again. */
    const char *spec = "name: t\ninput: {shape: [20, 2, 3]}\nlayers:\n"
                       "  - {name: c, op: conv, out: 20, kernel: 1, bias: false}\n";
    nr_model *m = model_ok(spec, "default: {activations: e4m3@b8}\n");
    double w[400] = {0};
    for (int i = 0; i < 20; i++)
        w[i * 20 + i] = 3;
    set_weights(m, 0, w, NULL);
    uint64_t st = 77;
    float in[120], out[120];
    double v[120], q1[120], q2[120];
    for (int i = 0; i < 120; i++)
        v[i] = in[i] = (float)((tu_unif(&st) * 8 - 4) * (i % 7 == 0 ? 1e-3 : 1));
    run_both(m, in, out, 120);
    quant_ref(v, q1, 20, 6, 8);
    for (int i = 0; i < 120; i++)
        q1[i] *= 3;
    quant_ref(q1, q2, 20, 6, 8);
    for (int i = 0; i < 120; i++)
        ck_assert_msg(out[i] == (float)q2[i], "element %d: %a want %a (in %a)", i,
                      (double)out[i], q2[i], v[i]);
    /* --stats counts the groups: input 6 positions x 3 blocks, output the same */
    nr_emu_stats s;
    nr_err e = {0};
    ck_assert_int_eq(nr_emu_stats_init(&s, m, &e), 0);
    ck_assert_int_eq(nr_emulate(m, in, 1, out, &s, NULL, &e), 0);
    ck_assert_uint_eq(s.input_q.groups, 18);
    ck_assert_uint_eq(s.layer[0].aq.groups, 18);
    nr_emu_stats_free(&s);
    nr_model_free(m);
}
END_TEST

START_TEST(test_conv_taps_outer)
{
    /* conv 3x3, pad 1, over [5, 3, 3], weights e4m3@b2 (blocks ci {0,1}
     * {2,3} {4} at each tap), plain fp32 input, block-fp32: terms taps
     * outer, ci inner, a segment per block per tap, padding taps skipped. */
    const char *spec = "name: t\ninput: {shape: [5, 3, 3]}\nlayers:\n"
                       "  - {name: c, op: conv, out: 2, kernel: 3, pad: 1}\n";
    nr_model *m = model_ok(spec, "default: {weights: e4m3@b2, activations: fp32, "
                                 "mac: block-fp32}\n");
    uint64_t st = 31;
    double w[90], X[2][9][3], bias[2] = {0.5, -0.25};
    for (int o = 0; o < 2; o++)
        for (int t = 0; t < 9; t++)
            for (int b = 0; b < 3; b++) {
                double v[2];
                int n = b < 2 ? 2 : 1;
                make_block(&st, v, n, (int)(tu_rand(&st) % 5) - 2, &X[o][t][b]);
                for (int i = 0; i < n; i++)
                    w[(o * 5 + 2 * b + i) * 9 + t] = v[i];
            }
    set_weights(m, 0, w, bias);
    float in[45], out[18];
    for (int i = 0; i < 45; i++)
        in[i] = (float)(tu_unif(&st) * 8 - 4);
    run_both(m, in, out, 18);
    for (int o = 0; o < 2; o++)
        for (int oh = 0; oh < 3; oh++)
            for (int ow = 0; ow < 3; ow++) {
                double pw[45], xw[45], pa[45], xa[45];
                int sid[45], n = 0;
                for (int r = 0; r < 3; r++)
                    for (int c = 0; c < 3; c++) {
                        int ih = oh - 1 + r, iw = ow - 1 + c;
                        if (ih < 0 || ih > 2 || iw < 0 || iw > 2)
                            continue;
                        for (int ci = 0; ci < 5; ci++, n++) {
                            int t = r * 3 + c;
                            xw[n] = X[o][t][ci / 2];
                            pw[n] = w[(o * 5 + ci) * 9 + t] / xw[n];
                            pa[n] = in[(ci * 3 + ih) * 3 + iw], xa[n] = 1;
                            sid[n] = t * 3 + ci / 2;
                        }
                    }
                double want = ref_terms(M_BFP32, n, sid, 0, pw, xw, pa, xa, bias[o], 24, 24);
                int e = (o * 3 + oh) * 3 + ow;
                ck_assert_msg(out[e] == (float)want, "output %d: %a want %a", e, (double)out[e],
                              want);
            }
    nr_model_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("scaled_net");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_parse_presets);
    tcase_add_test(tc, test_parse_yaml);
    tcase_add_test(tc, test_parse_bad);
    tcase_add_test(tc, test_model_checks);
    tcase_add_test(tc, test_weight_blocks_conv);
    tcase_add_test(tc, test_weight_channel_int8);
    tcase_add_test(tc, test_dot_modes);
    tcase_add_test(tc, test_dot_special_blocks);
    tcase_add_test(tc, test_dot_blocks_of_one);
    tcase_add_test(tc, test_dynamic_act_conv);
    tcase_add_test(tc, test_conv_taps_outer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
