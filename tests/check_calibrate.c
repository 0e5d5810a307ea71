/* check_calibrate.c -- static activation scales and calibration
 * (docs/semantics.md [scl-cal-*]): `scales:` parsing and binding with every
 * bad input and its position; a static scale used by the emulator against
 * values worked out here; the histogram bins; the three methods on known
 * statistics; nr_calibrate_run's amax against the fp32 emulator's layer
 * values, independent of the thread count; and the written precision file
 * read back (every layer's precision and every scale the same). */
#include "calibrate.h"
#include "dataset.h"
#include "emulator.h"
#include "model.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Random weights, seed 7. */
static int model_try(const char *spec, const char *prec, nr_model **m, nr_err *e)
{
    return tu_model_try(spec, prec, 7, m, e);
}

static void model_bad(const char *spec, const char *prec, const char *want, int line)
{
    tu_model_bad(spec, prec, 7, want, line);
}

/* ---------------------------------------------------------------- static scales */

static const char *conv_spec = "name: t\ninput: {shape: [4, 2, 2]}\nlayers:\n"
                               "  - {name: c, op: conv, out: 4, kernel: 1, bias: false}\n"
                               "  - {name: r, op: relu}\n";

/* int8 symmetric: clamp(rne(v / X), +-127) * X (v / X exact or far from a tie here) */
static double q8(double v, double X)
{
    double k = nearbyint(v / X);
    k = k > 127 ? 127 : k < -127 ? -127 : k;
    return k * X;
}

START_TEST(test_static_use)
{
    nr_model *m = NULL;
    nr_err e = {0};
    int rc = model_try(conv_spec,
                       "default: {activations: int8@tensor:fp32:static}\n"
                       "scales: {input: 0x1p-5, c: 0.1, r: 0.05}\n",
                       &m, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert(m->in_scale == 0x1p-5);
    ck_assert(m->layers[0].act_scale == (double)0.1f); /* fp32: the nearest float */
    ck_assert(m->layers[1].act_scale == (double)0.05f);
    double w[16] = {0};
    for (int i = 0; i < 4; i++)
        w[i * 4 + i] = 3;
    memcpy(m->layers[0].w, w, sizeof w);
    float in[16], out[16];
    uint64_t st = 5;
    for (int i = 0; i < 16; i++) /* some beyond 127 * 2^-5 = 3.97: they clip */
        in[i] = (float)(tu_unif(&st) * 9 - 4.5);
    ck_assert_int_eq(nr_emulate(m, in, 1, out, NULL, NULL, &e), 0);
    for (int i = 0; i < 16; i++) {
        double a = q8(in[i], 0x1p-5) * 3, b = q8(a, (double)0.1f);
        double want = q8(b > 0 ? b : 0, (double)0.05f);
        ck_assert_msg(out[i] == (float)want, "element %d: %a want %a (in %a)", i, (double)out[i],
                      want, (double)in[i]);
    }
    nr_model_free(m);
}
END_TEST

/* [scl-nv-static]: NVFP4 over a [4, 2, 2] tensor (blocks of 16 along c:
 * one short block of 4 per position) with the given tensor scale S, each
 * block converted by nr_scaled_quantize (checked against the oracle in
 * check_scaled); returns the elements that clipped. */
static int nv_static_ref(double *v, double S)
{
    nr_scaled s;
    ck_assert_int_eq(nr_scaled_parse("e2m1@b16:nv:static", &s, NULL), 0);
    int clipped = 0;
    for (int hw = 0; hw < 4; hw++) {
        double p[4];
        nr_scaled_group g;
        nr_scaled_ctx ctx = {.mode = NR_RND_RNE, .tensor_scale = S, .element_step = 1};
        ck_assert_int_eq(nr_scaled_quantize(&s, v + hw, 4, 4, &ctx, p, &g, NULL), 0);
        for (int c = 0; c < 4; c++)
            v[c * 4 + hw] = p[c] * g.scale;
        clipped += g.clipped;
    }
    return clipped;
}

START_TEST(test_nv_static_use)
{
    /* power-of-two tensor scales keep every product and sum exact, so the
     * network is q(relu(q(3 q(x, S0), S1)), S2); S0 is so small that the
     * input's blocks exceed 448 * 6 * S0 = 2.625: s_b clamps to 448, clips */
    nr_model *m = NULL, *dyn = NULL;
    nr_err e = {0};
    int rc = model_try(conv_spec,
                       "default: {activations: {element: e2m1, block: 16, scale: nv, rule: static}}\n"
                       "scales: {input: 0x1p-10, c: 0x1p-6, r: 1}\n",
                       &m, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert(m->in_scale == 0x1p-10 && m->layers[0].act_scale == 0x1p-6);
    ck_assert_int_eq(model_try(conv_spec, "default: {activations: nvfp4}\n", &dyn, &e), 0);
    double w[16] = {0};
    for (int i = 0; i < 4; i++)
        w[i * 4 + i] = 3;
    memcpy(m->layers[0].w, w, sizeof w);
    memcpy(dyn->layers[0].w, w, sizeof w);
    float in[16], out[16], out_dyn[16];
    double v[16];
    uint64_t st = 9;
    for (int i = 0; i < 16; i++)
        v[i] = in[i] = (float)(tu_unif(&st) * 9 - 4.5);
    ck_assert_int_gt(nv_static_ref(v, 0x1p-10), 0);
    for (int i = 0; i < 16; i++)
        v[i] *= 3;
    nv_static_ref(v, 0x1p-6);
    for (int i = 0; i < 16; i++)
        v[i] = v[i] > 0 ? v[i] : 0;
    nv_static_ref(v, 1);
    ck_assert_int_eq(nr_emulate(m, in, 1, out, NULL, NULL, &e), 0);
    ck_assert_int_eq(nr_emulate(dyn, in, 1, out_dyn, NULL, NULL, &e), 0);
    int differ = 0;
    for (int i = 0; i < 16; i++) {
        ck_assert_msg(out[i] == (float)v[i], "element %d: %a want %a", i, (double)out[i], v[i]);
        differ += out[i] != out_dyn[i];
    }
    ck_assert_int_gt(differ, 0); /* the static scales are used, not the dynamic ones */
    nr_model_free(m);
    nr_model_free(dyn);
    /* bad input: a missing scale; the value is an fp32 (nearest), not a ue4m3 */
    model_bad(conv_spec, "default: {activations: e2m1@b16:nv:static}\nscales: {input: 1, c: 1}\n",
              "no scale for r", 1);
    model_bad(conv_spec,
              "default: {activations: e2m1@b16:nv:static}\nscales: {input: 1, c: 0, r: 1}\n",
              "positive and finite", 2);
    model_bad(conv_spec, "default: {weights: e2m1@b16:nv:static}\n", "static", 1);
    ck_assert_int_eq(model_try(conv_spec,
                               "default: {activations: e2m1@b16:nv:static}\n"
                               "scales: {input: 0.1, c: 1e-30, r: 1000}\n",
                               &m, &e),
                     0);
    ck_assert(m->in_scale == (double)0.1f && m->layers[1].act_scale == 1000);
    nr_model_free(m);
}
END_TEST

START_TEST(test_static_bad)
{
    const char *d = "default: {activations: int8@tensor:fp32:static}\n";
    char p[512];
#define BAD(extra, want, line)                                                                  \
    do {                                                                                        \
        snprintf(p, sizeof p, "%s%s", d, extra);                                                \
        model_bad(conv_spec, p, want, line);                                                    \
    } while (0)
    BAD("scales: {input: 0.5, c: 0.5}\n", "no scale for r", 1);
    BAD("scales: {input: 0.5, c: 0.5, r: 0.5, x: 1}\n", "no tensor of that name", 2);
    BAD("scales:\n  input: 0.5\n  c: -1\n  r: 1\n", "positive and finite", 4);
    BAD("scales:\n  input: 0.5\n  c: 1e999\n  r: 1\n", "positive and finite", 4);
    BAD("scales:\n  input: 0.5\n  c: zero\n  r: 1\n", "expected a positive number", 4);
    BAD("scales:\n  input: 0.5\n  c: \"1\"\n  r: 1\n", "expected a positive number", 4);
    BAD("scales:\n  input: 0.5\n  c: [1]\n  r: 1\n", "expected a positive number", 4);
    BAD("scales: [1, 2]\n", "expected a mapping", 2);
    BAD("scales: {input: 0.5, c: 0.5, r: 0.5}\nscale: {}\n", "scale", 3);
    /* a dynamic tensor given a scale; e8m0 and ue4m3 values that are not */
    model_bad(conv_spec,
              "default: {activations: int8@tensor:fp32:static}\nlayers:\n"
              "  r: {activations: int8@tensor:fp32}\nscales: {input: 1, c: 1, r: 1}\n",
              "a scale is used only with rule static", 4);
    model_bad(conv_spec,
              "default: {activations: int8@tensor:e8m0:static}\nscales: {input: 1, c: 0.3, r: 1}\n",
              "not a value of the e8m0", 2);
    model_bad(conv_spec,
              "default: {activations: int8@tensor:ue4m3:static}\nscales: {input: 1, c: 0.1, r: 1}\n",
              "not a value of the ue4m3", 2);
    model_bad(conv_spec,
              "default: {activations: int8@tensor:e8m0:static}\nscales: {input: 1, c: 0x1p-128, r: 1}\n",
              "not a value of the e8m0", 2);
    /* fine: e8m0 powers of two, ue4m3 values, hex floats */
    nr_model *m = NULL;
    nr_err e = {0};
    ck_assert_int_eq(model_try(conv_spec,
                               "default: {activations: int8@tensor:ue4m3:static}\n"
                               "scales: {input: 448, c: 0x1p-9, r: 1.125}\n",
                               &m, &e),
                     0);
    nr_model_free(m);
#undef BAD
}
END_TEST

/* ---------------------------------------------------------------- bins and methods */

START_TEST(test_bins)
{
    ck_assert_int_eq(nr_cal_bin(0.0f), 0);
    ck_assert_int_eq(nr_cal_bin(-0.0f), 0);
    ck_assert_int_eq(nr_cal_bin(0x1p-70f), 1);
    ck_assert_int_eq(nr_cal_bin(0x1p70f), NR_CAL_BINS - 1);
    uint64_t st = 3;
    for (int i = 0; i < 20000; i++) {
        float v = (float)ldexp(tu_unif(&st) + 0.5, (int)(tu_rand(&st) % 120) - 60);
        int b = nr_cal_bin(v);
        ck_assert_msg(b >= 2 && b < NR_CAL_BINS - 1, "%a bin %d", (double)v, b);
        ck_assert_msg(nr_cal_bin_lo(b) <= v && v < nr_cal_bin_hi(b), "%a not in bin %d [%a, %a)",
                      (double)v, b, nr_cal_bin_lo(b), nr_cal_bin_hi(b));
        ck_assert(nr_cal_bin(-v) == b);
        ck_assert(nr_cal_bin_hi(b) == nr_cal_bin_lo(b + 1));
    }
    ck_assert(nr_cal_bin_lo(nr_cal_bin(1.0f)) == 1.0);
    ck_assert(nr_cal_bin_hi(nr_cal_bin(1.0f)) == 1.0 + 1.0 / 256);
}
END_TEST

static void tensor_of(nr_cal_tensor *t, const char *fmt, const float *v, int n)
{
    memset(t, 0, sizeof *t);
    nr_err e = {0};
    ck_assert_int_eq(nr_scaled_parse(fmt, &t->fmt, &e), 0);
    t->hist = calloc(NR_CAL_BINS, sizeof *t->hist);
    for (int i = 0; i < n; i++) {
        t->hist[nr_cal_bin(v[i])]++;
        t->amax = fmax(t->amax, fabs(v[i]));
        t->count++;
    }
}

START_TEST(test_methods)
{
    /* 9999 values 1.0 and one outlier 100: amax 100; the 99.99th
     * percentile is the bin of 1.0 (9999 of 10000 values <= its upper edge) */
    static float v[10000];
    for (int i = 0; i < 10000; i++)
        v[i] = i == 77 ? 100.0f : (i % 2 ? 1.0f : -1.0f);
    nr_cal_tensor t;
    nr_err e = {0};
    tensor_of(&t, "int8@tensor:fp32", v, 10000);
    ck_assert_int_eq(nr_calibrate_choose(&t, NR_CAL_AMAX, 0, &e), 0);
    ck_assert(t.threshold == 100.0 && t.scale == (double)(100.0f / 127.0f));
    ck_assert_int_eq(nr_calibrate_choose(&t, NR_CAL_PERCENTILE, 99.99, &e), 0);
    ck_assert_msg(t.threshold == 1.0 + 1.0 / 256, "percentile T %a", t.threshold);
    ck_assert_int_eq(nr_calibrate_choose(&t, NR_CAL_PERCENTILE, 100, &e), 0);
    ck_assert(t.threshold == 100.0);
    /* mse: with amax's scale the 9999 ones round to 0.787 (error 0.21 each),
     * while clipping 100 to the next candidate costs 100 - 91.7: amax wins */
    ck_assert_int_eq(nr_calibrate_choose(&t, NR_CAL_MSE, 0, &e), 0);
    ck_assert_msg(t.threshold == 100 && t.scale == (double)(100.0f / 127.0f), "mse X %g T %g",
                  t.scale, t.threshold);
    free(t.hist);
    /* int4 (max 7): 10000 values uniform in [-1, 1] and one 4: amax's scale
     * 4/7 rounds most values badly (error ~ N X^2 / 12 = 272), a threshold
     * near 1 costs ~17 + the outlier's (4 - 1)^2 = 9: mse picks T in [0.8, 1.5] */
    uint64_t st = 11;
    for (int i = 0; i < 10000; i++)
        v[i] = i == 5 ? 4.0f : (float)(tu_unif(&st) * 2 - 1);
    tensor_of(&t, "int4@tensor:fp32", v, 10000);
    ck_assert_int_eq(nr_calibrate_choose(&t, NR_CAL_MSE, 0, &e), 0);
    ck_assert_msg(t.threshold >= 0.8 && t.threshold <= 1.5 && t.scale < 4.0 / 7, "mse X %g T %g",
                  t.scale, t.threshold);
    /* all zero: the smallest fp32 scale ([scl-scale]) */
    free(t.hist);
    static const float z[3] = {0, 0, 0};
    tensor_of(&t, "int8@tensor:fp32", z, 3);
    ck_assert_int_eq(nr_calibrate_choose(&t, NR_CAL_MSE, 0, &e), 0);
    ck_assert(t.scale == 0x1p-149);
    free(t.hist);
    /* method names */
    nr_cal_method m;
    double p;
    ck_assert_int_eq(nr_cal_method_parse("percentile:99.9", &m, &p, &e), 0);
    ck_assert(m == NR_CAL_PERCENTILE && p == 99.9);
    ck_assert_int_lt(nr_cal_method_parse("percentile:0", &m, &p, &e), 0);
    ck_assert_int_lt(nr_cal_method_parse("percentile:100.5", &m, &p, &e), 0);
    ck_assert_int_lt(nr_cal_method_parse("percentile:", &m, &p, &e), 0);
    ck_assert_int_lt(nr_cal_method_parse("max", &m, &p, &e), 0);
    ck_assert_int_lt(nr_cal_method_parse(NULL, &m, &p, &e), 0);
}
END_TEST

/* ---------------------------------------------------------------- a run */

static const char *cifar_spec =
    "name: t\ninput: {shape: [3, 32, 32]}\nlayers:\n"
    "  - {name: c1, op: conv, out: 4, kernel: 3, pad: 1}\n"
    "  - {name: bn, op: batchnorm}\n"
    "  - {name: r1, op: relu}\n"
    "  - {name: p, op: maxpool, kernel: 4}\n"
    "  - {name: f, op: flatten}\n"
    "  - {name: fc, op: dense, out: 10}\n";

static nr_model *build(const char *prec_text)
{
    nr_model *m = NULL;
    nr_err e = {0};
    int rc = model_try(cifar_spec, prec_text, &m, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    return m;
}

/* The shipped CIFAR-10 test file of tests/data. */
static nr_dataset *cifar_open(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/dataset/cifar/test_batch.bin", tu_source_dir());
    nr_dataset *ds = NULL;
    nr_err e = {0};
    nr_dataset_opts dopt;
    nr_dataset_opts_init(&dopt);
    ck_assert_msg(nr_dataset_open(path, &dopt, &ds, &e) == 0, "%s", e.msg);
    return ds;
}

START_TEST(test_run_and_write)
{
    nr_dataset *ds = cifar_open();
    nr_err e = {0};
    const int64_t n = nr_dataset_count(ds);
    ck_assert_int_ge(n, 2);
    /* the target: int8 per channel, activations per tensor (c1 holds bn) */
    nr_model *t = build("default: {weights: int8@channel}\nlayers:\n  fc: {activations: fp32}\n");
    nr_calibration c1, c2;
    ck_assert_int_eq(nr_calibrate_tensors(t, &c1, &e), 0);
    ck_assert_int_eq(c1.ntensors, 5); /* input c1 r1 p f (fc is fp32) */
    ck_assert_str_eq(c1.t[0].name, "input");
    ck_assert_int_eq(nr_calibrate_tensors(t, &c2, &e), 0);
    nr_cal_opts o;
    nr_cal_opts_init(&o);
    o.random_seed = 7;
    o.method = NR_CAL_MSE;
    ck_assert_msg(nr_calibrate_run(t, ds, &o, &c1, &e) == 0, "%s", e.msg);
    o.jobs = 3;
    ck_assert_msg(nr_calibrate_run(t, ds, &o, &c2, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(c1.samples, n);
    /* the fp32 model's values, sample by sample, from the emulator */
    nr_model *f = build("default: {weights: fp32}\n");
    float *x = malloc((size_t)nr_dataset_sample_size(ds) * sizeof *x), y[10];
    double *lo[8] = {0}, amax[8] = {0};
    for (int i = 0; i < f->nlayers; i++)
        lo[i] = malloc(nr_shape_count(f->layers[i].out_shape) * sizeof **lo);
    for (int64_t s = 0; s < n; s++) {
        ck_assert_int_eq(nr_dataset_get(ds, s, 1, x, NULL, &e), 0);
        ck_assert_int_eq(nr_emulate_layers(f, x, 1, y, lo, NULL, NULL, &e), 0);
        for (int k = 0; k < 3 * 32 * 32; k++)
            amax[0] = fmax(amax[0], fabs(x[k]));
        for (int ti = 1; ti < c1.ntensors; ti++) {
            int li = nr_model_find(f, c1.t[ti].name);
            ck_assert_int_ge(li, 0);
            for (size_t k = 0; k < nr_shape_count(f->layers[li].out_shape); k++)
                amax[ti] = fmax(amax[ti], fabs(lo[li][k]));
        }
    }
    for (int ti = 0; ti < c1.ntensors; ti++) {
        ck_assert_msg(c1.t[ti].amax == amax[ti], "%s amax %a want %a", c1.t[ti].name,
                      c1.t[ti].amax, amax[ti]);
        ck_assert(c2.t[ti].amax == c1.t[ti].amax && c2.t[ti].scale == c1.t[ti].scale);
        ck_assert(memcmp(c1.t[ti].hist, c2.t[ti].hist, NR_CAL_BINS * sizeof(uint64_t)) == 0);
        ck_assert(c1.t[ti].scale > 0 && c1.t[ti].threshold <= c1.t[ti].amax);
    }
    /* the file: every layer resolves as before, activations static, scales bound */
    char *text = nr_calibrate_yaml(t, &c1, "# test\n", &e);
    ck_assert_msg(text != NULL, "%s", e.msg);
    nr_model *back = build(text);
    for (int li = 0; li < t->nlayers; li++) {
        const nr_layer_prec *a = &t->layers[li].prec, *b = &back->layers[li].prec;
        ck_assert_int_eq(a->weights_scaled.gran, b->weights_scaled.gran);
        ck_assert_int_eq(a->activations_scaled.gran, b->activations_scaled.gran);
        ck_assert(a->mac == b->mac && a->rounding == b->rounding);
    }
    ck_assert(back->in_scale == c1.t[0].scale);
    for (int ti = 1; ti < c1.ntensors; ti++) {
        int li = nr_model_find(back, c1.t[ti].name);
        ck_assert_int_eq(back->layers[li].prec.activations_scaled.rule, NR_RULE_STATIC);
        ck_assert_msg(back->layers[li].act_scale == c1.t[ti].scale, "%s: %a want %a",
                      c1.t[ti].name, back->layers[li].act_scale, c1.t[ti].scale);
    }
    ck_assert_int_eq(nr_emulate(back, x, 1, y, NULL, NULL, &e), 0);
    /* out of range samples */
    o.first = n;
    ck_assert_int_lt(nr_calibrate_run(t, ds, &o, &c2, &e), 0);
    o.first = 0, o.samples = n + 1;
    ck_assert_int_lt(nr_calibrate_run(t, ds, &o, &c2, &e), 0);
    for (int i = 0; i < f->nlayers; i++)
        free(lo[i]);
    free(x);
    free(text);
    nr_model_free(back);
    nr_model_free(f);
    nr_model_free(t);
    nr_cal_calibration_free(&c1);
    nr_cal_calibration_free(&c2);
    nr_dataset_close(ds);
}
END_TEST

/* The statistics skip NaN and infinities and count -0, subnormals, values
 * beyond the bins and everything else ([scl-cal-stats]): a stand-in engine
 * writes a known pattern as the tap model's outputs, the expected amax,
 * count and histogram are worked out here with isfinite/fabs/nr_cal_bin. */
static const float SPECIAL[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1.5f, -7.0f,
                                0x1p-140f, 0x1p70f, -3e38f, 0x1.8p-3f, -0.0f, 0.0f};
#define NSPECIAL (int)(sizeof SPECIAL / sizeof *SPECIAL)

static float special_value(int64_t k) /* k: sample * size + i */
{
    return k % 7 == 3 ? SPECIAL[(k / 7) % NSPECIAL] : (float)(k % 1000) * 0.001f - 0.3f;
}

static int special_run(void *impl, const float *in, int n, float *out, nr_err *err)
{
    (void)err;
    size_t size = *(const size_t *)impl;
    for (int s = 0; s < n; s++) { /* the sample's index from its first pixel */
        int64_t k0 = (int64_t)lrintf(in[(size_t)s * 3 * 32 * 32] * 255.0f) * (int64_t)size;
        for (size_t i = 0; i < size; i++)
            out[(size_t)s * size + i] = special_value(k0 + (int64_t)i);
    }
    return 0;
}

static size_t special_size;
static int special_open(void *ctx, const char *name, const nr_model *m, nr_engine *out,
                        nr_err *err)
{
    (void)ctx, (void)name, (void)err;
    special_size = nr_shape_count(m->layers[m->output].out_shape);
    *out = (nr_engine){.name = "special", .impl = &special_size, .run = special_run};
    return 0;
}

START_TEST(test_stats_special_values)
{
    nr_dataset *ds = cifar_open();
    nr_err e = {0};
    const int64_t n = nr_dataset_count(ds);
    nr_model *t = build("default: {weights: int8@channel}\n");
    nr_calibration c;
    ck_assert_int_eq(nr_calibrate_tensors(t, &c, &e), 0);
    nr_cal_opts o;
    nr_cal_opts_init(&o);
    o.method = NR_CAL_PERCENTILE, o.percentile = 99;
    o.random_seed = 7;
    o.engine_open = special_open;
    o.jobs = 2;
    ck_assert_msg(nr_calibrate_run(t, ds, &o, &c, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(c.engine, "special");
    /* the first pixel of every sample: its index, as special_run reads it */
    float *x = malloc((size_t)nr_dataset_sample_size(ds) * sizeof *x);
    int64_t *first = malloc((size_t)n * sizeof *first);
    for (int64_t s = 0; s < n; s++) {
        ck_assert_int_eq(nr_dataset_get(ds, s, 1, x, NULL, &e), 0);
        first[s] = (int64_t)lrintf(x[0] * 255.0f);
    }
    uint64_t *h = calloc(NR_CAL_BINS, sizeof *h);
    size_t off = 0;
    for (int ti = 0; ti < c.ntensors; ti++) {
        const int li = c.t[ti].layer;
        const size_t len = nr_shape_count(li < 0 ? t->in_shape : t->layers[li].out_shape);
        double amax = 0;
        uint64_t count = 0;
        memset(h, 0, NR_CAL_BINS * sizeof *h);
        for (int64_t s = 0; s < n; s++)
            for (size_t i = 0; i < len; i++) {
                float v = special_value(first[s] * (int64_t)special_size + (int64_t)(off + i));
                if (!isfinite(v))
                    continue;
                amax = fmax(amax, fabs((double)v));
                count++;
                h[nr_cal_bin(v)]++;
            }
        ck_assert_msg(c.t[ti].amax == amax, "%s: amax %a want %a", c.t[ti].name, c.t[ti].amax,
                      amax);
        ck_assert_uint_eq(c.t[ti].count, count);
        ck_assert(memcmp(c.t[ti].hist, h, NR_CAL_BINS * sizeof *h) == 0);
        off += len;
    }
    ck_assert_uint_eq(off, special_size);
    free(h);
    free(first);
    free(x);
    nr_model_free(t);
    nr_cal_calibration_free(&c);
    nr_dataset_close(ds);
}
END_TEST

/* [scl-nv-static] nvfp4 activations calibrate to a static fp32 tensor
 * scale amax / (448 * 6): the file reads back as e2m1@b16:nv:static with
 * those scales and runs; mse is refused before the run. */
START_TEST(test_nv_calibrate)
{
    nr_dataset *ds = cifar_open();
    nr_err e = {0};
    nr_model *t = build("default: {weights: nvfp4}\n");
    nr_calibration c;
    ck_assert_int_eq(nr_calibrate_tensors(t, &c, &e), 0);
    ck_assert_int_eq(c.ntensors, 6); /* input c1 r1 p f fc */
    nr_cal_opts o;
    int rc;
    nr_cal_opts_init(&o);
    o.random_seed = 7;
    o.method = NR_CAL_MSE;
    ck_assert_int_eq(nr_calibrate_run(t, ds, &o, &c, &e), -NR_EUNSUP);
    ck_assert_ptr_nonnull(strstr(e.msg, "mse"));
    o.method = NR_CAL_AMAX;
    e = (nr_err){0};
    rc = nr_calibrate_run(t, ds, &o, &c, &e);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, e.msg);
    for (int ti = 0; ti < c.ntensors; ti++) {
        ck_assert(c.t[ti].amax > 0);
        ck_assert_msg(c.t[ti].scale == (double)(float)(c.t[ti].amax / 2688) ||
                          fabs(c.t[ti].scale - c.t[ti].amax / 2688) <= 0x1p-24 * c.t[ti].scale,
                      "%s: s_t %a for amax %a", c.t[ti].name, c.t[ti].scale, c.t[ti].amax);
        ck_assert(c.t[ti].scale == nr_scaled_tensor_scale(&c.t[ti].fmt, c.t[ti].amax));
    }
    char *text = nr_calibrate_yaml(t, &c, NULL, &e);
    ck_assert_msg(text != NULL, "%s", e.msg);
    ck_assert_ptr_nonnull(strstr(text, "e2m1@b16:nv:static"));
    nr_model *back = build(text);
    ck_assert(back->in_scale == c.t[0].scale);
    for (int ti = 1; ti < c.ntensors; ti++) {
        int li = nr_model_find(back, c.t[ti].name);
        const nr_scaled *a = &back->layers[li].prec.activations_scaled;
        ck_assert(a->scale == NR_SCALE_NV && a->rule == NR_RULE_STATIC && a->block == 16);
        ck_assert(back->layers[li].act_scale == c.t[ti].scale);
    }
    float *x = malloc((size_t)nr_dataset_sample_size(ds) * sizeof *x), y[10];
    ck_assert_int_eq(nr_dataset_get(ds, 0, 1, x, NULL, &e), 0);
    ck_assert_int_eq(nr_emulate(back, x, 1, y, NULL, NULL, &e), 0);
    for (int k = 0; k < 10; k++)
        ck_assert(isfinite(y[k]));
    free(x);
    free(text);
    nr_model_free(back);
    nr_model_free(t);
    nr_cal_calibration_free(&c);
    nr_dataset_close(ds);
}
END_TEST

START_TEST(test_nothing_to_calibrate)
{
    nr_err e = {0};
    nr_calibration c;
    const char *precs[] = {"default: {weights: fp32}\n", "default: {weights: mxfp8}\n",
                           "default: {weights: int4@b32:fp32}\n"};
    for (int i = 0; i < 3; i++) {
        nr_model *t = build(precs[i]);
        ck_assert_int_eq(nr_calibrate_tensors(t, &c, &e), -NR_EUNSUP);
        ck_assert_ptr_nonnull(strstr(e.msg, "nothing to calibrate"));
        nr_cal_calibration_free(&c);
        nr_model_free(t);
    }
    /* a calibrated file calibrates again: static turned dynamic, scales dropped */
    nr_precision *p = NULL;
    ck_assert_int_eq(nr_precision_parse_string("default: {activations: int8@tensor:e8m0:static}\n"
                                               "scales: {input: 1}\n",
                                               "p.yaml", &p, &e),
                     0);
    nr_calibrate_precision(p);
    ck_assert_int_eq(p->nscales, 0);
    ck_assert_int_eq(p->dflt.activations_scaled.rule, NR_RULE_FLOOR);
    nr_precision_free(p);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("calibrate");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_static_use);
    tcase_add_test(tc, test_static_bad);
    tcase_add_test(tc, test_nv_static_use);
    tcase_add_test(tc, test_nv_calibrate);
    tcase_add_test(tc, test_bins);
    tcase_add_test(tc, test_methods);
    tcase_add_test(tc, test_run_and_write);
    tcase_add_test(tc, test_stats_special_values);
    tcase_add_test(tc, test_nothing_to_calibrate);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
