/* check_gen_diff.c -- the differential harness of the generator: JIT-compiled
 * networks (gen/back/model_jit.c) against the reference emulator, bit for bit.
 *
 * Small random networks built from spec text (every layer kind, random
 * shapes: stride, asymmetric pad, dilation, groups incl. depthwise, odd
 * sizes) under random precisions (a format per role from FORMATS, every
 * rounding mode, the three MAC modes), with inputs and weights that include
 * overflow, underflow, subnormals, signed zeros, infinities and NaN.  Both
 * the float32 results and the output layer's values themselves (the
 * encodings the JIT leaves in its arena vs the emulator's exact doubles;
 * this also covers formats wider than float32) must agree exactly.
 * Each failure prints the case number and seed; NUMREP_DIFF_CASE=N replays
 * one case.  Whole networks: LeNet-5 and ResNet-20 at several formats.
 * Shared layer functions: identical layers call one function (emit_layer.c),
 * each with its own data, SR stream and weight-derived bounds.
 * Speed figures (compile time, JIT vs emulator) are printed, not asserted. */
#include "testutil.h"
#include "testutil_gen.h"
#include "emulator.h"
#include "plan.h"
#include "tensorio.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const FORMATS[] = {
    "e6m7-finite-nosub-sat", "e5m7-finite-nosub-sat", "e4m3", "e5m2", "e3m2", "e2m3", "e2m1",
    "fp16", "bf16", "tf32", "fp32", "e8m23-nosub", "e4m3-fnuz", "e5m10-sat", "q7.8", "q3.12",
    "int8", "uq8.0", "q15.16-wrap", "fp64", "e11m10", "e3m4-b-2", "uq4.4-wrap", "e4m3-ieee",
};
#define NFMT (int)(sizeof FORMATS / sizeof FORMATS[0])
static const char *const MACS[] = {"unfused", "fused", "exact"};

enum { K_CONV, K_CONV_DW, K_DENSE, K_BN, K_RELU, K_RELU6, K_CLIP, K_MAXPOOL, K_AVGPOOL,
       K_GAP, K_ADD, K_CONCAT, K_SLICE, K_PAD, K_FLATTEN, K_LRN, K_SOFTMAX, K_DROPOUT, K_COUNT };
static const char *const KIND[] = {"conv", "conv-depthwise", "dense", "batchnorm", "relu",
                                   "relu6", "clip", "maxpool", "avgpool", "global_avgpool",
                                   "add", "concat", "slice", "pad", "flatten", "lrn",
                                   "softmax", "dropout"};

static double now(void) { return nr_clock_wall(); }

static int rnd(uint64_t *s, int n) { return (int)(tu_rand(s) % (uint64_t)n); }

/* A value that is usually ordinary and sometimes an edge case. */
static float edge_value(uint64_t *s, double scale)
{
    int k = rnd(s, 90);
    switch (k) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return NAN;
    case 3: return (rnd(s, 2) ? 1 : -1) * INFINITY;
    case 4: return (float)((rnd(s, 2) ? 1 : -1) * ldexp(1 + tu_unif(s), 20 + rnd(s, 100))); /* overflow */
    case 5: return (float)((rnd(s, 2) ? 1 : -1) * ldexp(1 + tu_unif(s), -10 - rnd(s, 120))); /* underflow */
    case 6: return (float)((rnd(s, 2) ? 1 : -1) * ldexp(tu_unif(s), -126)); /* f32 subnormal */
    case 7: return (float)((rnd(s, 2) ? 1 : -1) * ldexp(1.0, rnd(s, 20) - 10)); /* powers of two */
    case 8: return (float)((rnd(s, 2) ? 1 : -1) * (rnd(s, 64) + 0.5)); /* ties for fixed point */
    default: return (float)((2 * tu_unif(s) - 1) * scale);
    }
}

typedef struct tcase {
    int kind;
    const char *fmt[4];   /* weights activations products accumulator of the tested layer */
    const char *dflt;     /* every other layer */
    nr_rounding mode;
    nr_mac_mode mac;
    uint64_t seed;
    int big;              /* larger shapes (conv: up to 8 x 20 x 42 in, 16 out) and inputs */
} tcase;

static int appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k > 0)
        *len += (size_t)k < cap - *len ? (size_t)k : cap - *len - 1;
    return k;
}

/* The spec of one case: a `pre` layer (so the tested layer's input may
 * have another format), a second branch `pre2` for add/concat, and `t`. */
static void make_spec(const tcase *tc, uint64_t *s, char *buf, size_t cap)
{
    size_t n = 0;
    int C = 1 + rnd(s, 5), H = 1 + rnd(s, 9), W = 1 + rnd(s, 9);
    int kh = 1 + rnd(s, 3), kw = 1 + rnd(s, 3);
    if (tc->kind == K_CONV_DW)
        C = 1 + rnd(s, 6);
    if (tc->big) /* several vectors per row, blocks of channels, short rows */
        C = 1 + rnd(s, 8), H = 3 + rnd(s, 18), W = 3 + rnd(s, 40);
    if (tc->kind == K_CONV || tc->kind == K_CONV_DW || tc->kind == K_MAXPOOL ||
        tc->kind == K_AVGPOOL) {
        if (H < kh + 1)
            H = kh + 1 + rnd(s, 4);
        if (W < kw + 2)
            W = kw + 2 + rnd(s, 4);
    }
    appendf(buf, cap, &n, "name: t%d\ninput: {shape: [%d, %d, %d]}\nlayers:\n", tc->kind, C, H, W);
    appendf(buf, cap, &n, "  - {name: pre, op: dropout}\n");
    switch (tc->kind) {
    case K_CONV: {
        int groups = 1;
        int out = 1 + rnd(s, tc->big ? 16 : 4);
        if (rnd(s, 3) == 0 && C % 2 == 0) {
            groups = 2;
            out = 2 * (1 + rnd(s, 2));
        }
        int dh = 1 + (rnd(s, 3) == 0), dw = 1 + (rnd(s, 3) == 0);
        int ekh = (kh - 1) * dh + 1, ekw = (kw - 1) * dw + 1;
        if (H < ekh)
            dh = 1, ekh = kh;
        if (W < ekw)
            dw = 1, ekw = kw;
        int pt = rnd(s, 3), pl = rnd(s, 3), pb = rnd(s, 3), pr = rnd(s, 2);
        appendf(buf, cap, &n,
                "  - {name: t, op: conv, out: %d, kernel: [%d, %d], stride: [%d, %d], "
                "pad: [%d, %d, %d, %d], dilation: [%d, %d], groups: %d%s}\n",
                out, kh, kw, 1 + rnd(s, 2), 1 + rnd(s, 3), pt, pl, pb, pr, dh, dw, groups,
                rnd(s, 4) == 0 ? ", bias: false" : "");
        break;
    }
    case K_CONV_DW:
        appendf(buf, cap, &n,
                "  - {name: t, op: conv, out: %d, kernel: [%d, %d], stride: %d, pad: same, groups: %d}\n",
                C, kh, kw, 1 + rnd(s, 2), C);
        break;
    case K_DENSE:
        appendf(buf, cap, &n, "  - {name: t, op: dense, out: %d%s}\n", 1 + rnd(s, 7),
                rnd(s, 4) == 0 ? ", bias: false" : "");
        break;
    case K_BN: /* after dropout: not folded, a per-channel 1-term MAC */
        appendf(buf, cap, &n, "  - {name: t, op: batchnorm}\n");
        break;
    case K_RELU: appendf(buf, cap, &n, "  - {name: t, op: relu}\n"); break;
    case K_RELU6: appendf(buf, cap, &n, "  - {name: t, op: relu6}\n"); break;
    case K_CLIP: appendf(buf, cap, &n, "  - {name: t, op: clip, min: -1.3, max: 2.7}\n"); break;
    case K_MAXPOOL: case K_AVGPOOL: {
        int ph = rnd(s, kh / 2 + 1), pw = rnd(s, kw / 2 + 1);
        appendf(buf, cap, &n,
                "  - {name: t, op: %s, kernel: [%d, %d], stride: [%d, %d], pad: [%d, %d], "
                "ceil_mode: %s%s}\n",
                tc->kind == K_MAXPOOL ? "maxpool" : "avgpool", kh, kw, 1 + rnd(s, 2),
                1 + rnd(s, 3), ph, pw, rnd(s, 2) ? "true" : "false",
                tc->kind == K_AVGPOOL && rnd(s, 2) ? ", count_include_pad: false" : "");
        break;
    }
    case K_GAP: appendf(buf, cap, &n, "  - {name: t, op: global_avgpool}\n"); break;
    case K_ADD:
        appendf(buf, cap, &n, "  - {name: pre2, op: clip, min: -3, max: 5, input: input}\n");
        appendf(buf, cap, &n, "  - {name: t, op: add, inputs: [pre, pre2]}\n");
        break;
    case K_CONCAT:
        appendf(buf, cap, &n, "  - {name: pre2, op: relu, input: input}\n");
        appendf(buf, cap, &n, "  - {name: t, op: concat, inputs: [pre, pre2, pre]}\n");
        break;
    case K_SLICE:
        appendf(buf, cap, &n, "  - {name: t, op: slice, c: [%d, end], h: [0, end, 2], w: [-%d, end, %d]}\n",
                rnd(s, C), 1 + rnd(s, W), 1 + rnd(s, 2));
        break;
    case K_PAD:
        appendf(buf, cap, &n, "  - {name: t, op: pad, c: [%d, %d], h: %d, w: [0, %d]}\n", rnd(s, 3),
                rnd(s, 2), rnd(s, 2), rnd(s, 3));
        break;
    case K_FLATTEN: appendf(buf, cap, &n, "  - {name: t, op: flatten}\n"); break;
    case K_LRN: appendf(buf, cap, &n, "  - {name: t, op: lrn, size: %d, alpha: 0.01}\n", 1 + rnd(s, 4)); break;
    case K_SOFTMAX: appendf(buf, cap, &n, "  - {name: t, op: softmax}\n"); break;
    case K_DROPOUT: appendf(buf, cap, &n, "  - {name: t, op: dropout}\n"); break;
    }
}

static void make_prec(const tcase *tc, char *buf, size_t cap)
{
    size_t n = 0;
    const char *mode = nr_format_rounding_name(tc->mode);
    appendf(buf, cap, &n,
            "default: {weights: %s, activations: same, products: same, accumulator: same, "
            "rounding: %s, mac: %s}\n",
            tc->dflt, mode, MACS[tc->mac]);
    appendf(buf, cap, &n,
            "layers:\n  t: {weights: %s, activations: %s, products: %s, accumulator: %s, "
            "rounding: %s, mac: %s}\n",
            tc->fmt[0], tc->fmt[1], tc->fmt[2], tc->fmt[3], mode, MACS[tc->mac]);
    appendf(buf, cap, &n, "seed: %llu\n", (unsigned long long)(tc->seed * 2654435761u));
}

static void describe(const tcase *tc, int id, char *buf, size_t cap)
{
    snprintf(buf, cap, "case %d (NUMREP_DIFF_CASE=%d): %s W=%s A=%s P=%s S=%s default=%s %s %s seed=%llu",
             id, id, KIND[tc->kind], tc->fmt[0], tc->fmt[1], tc->fmt[2], tc->fmt[3], tc->dflt,
             nr_format_rounding_name(tc->mode), MACS[tc->mac], (unsigned long long)tc->seed);
}


/* Emulator vs JIT on n samples of m: float outputs, and the last sample's
 * output-layer values (JIT arena encodings decoded vs emulator doubles).
 * Returns the number of mismatches (first few printed). */
typedef struct tu_gen_times timing; /* wall and process CPU seconds (testutil_gen.h) */

/* 1: compile with gen_model_opts.portable (the bare-metal rounding path) */
static int portable_rounding;
/* 1: compile with gen_model_opts.pack_dense (weights bit-packed) */
static int pack_dense;
/* gen_model_opts.features: "+avx2" makes the generator take the host for a
 * target without AVX-512F (no rounding-mode adds: the TwoSum fallbacks);
 * the JIT still runs on the host */
static const char *jit_features;

static int compare_model(nr_model *m, const float *x, int n, int opt, const char *what,
                         timing *tm)
{
    gen_model_opts o = {.opt_level = opt, .portable = portable_rounding, .pack_dense = pack_dense,
                        .features = jit_features};
    const char *one = getenv("NUMREP_DIFF_CASE");
    tu_gen_cmp c = {.opts = &o, .check_arena = 1, .print_out = one && *one, .times = tm};
    return tu_gen_compare(m, x, n, &c, what);
}

/* compare_model at -O2, the case's spec and precision printed when it
 * fails; frees x and m.  Returns the mismatches. */
static int compare_free(nr_model *m, float *x, int n, const char *what, const char *spec,
                        const char *prec)
{
    int bad = compare_model(m, x, n, 2, what, NULL);
    if (bad)
        fprintf(stderr, "%s: %d mismatches\nspec:\n%sprecision:\n%s", what, bad, spec, prec);
    free(x);
    nr_model_free(m);
    return bad;
}

/* Cases whose tested layer ran in the vector conv kernel (emit_vmac.c)
 * with checked lanes (not the fp32 host path), and of those with float
 * lanes: the fixed-point test asserts its cases reach it. */
static int vec_cases, vec_f32_cases;

/* Build and compare one case; returns mismatches. */
static int run_case(const tcase *tc, int id)
{
    char what[512], spec[2048], prec[1024];
    describe(tc, id, what, sizeof what);
    uint64_t s = tc->seed * 0x9E3779B97F4A7C15ull + 17;
    make_spec(tc, &s, spec, sizeof spec);
    make_prec(tc, prec, sizeof prec);
    nr_err err = {0};
    nr_spec *sp = NULL;
    nr_precision *pr = NULL;
    ck_assert_msg(nr_spec_parse_string(spec, "case.yaml", &sp, &err) == 0, "%s: spec: %s\n%s",
                  what, err.msg, spec);
    ck_assert_msg(nr_precision_parse_string(prec, "prec.yaml", &pr, &err) == 0,
                  "%s: prec: %s\n%s", what, err.msg, prec);
    nr_model *m = NULL;
    int rc = nr_model_build(sp, pr, NULL, tc->seed + 1, &m, &err);
    ck_assert_msg(rc == 0, "%s: build: %s (%s)\n%s", what, err.msg, err.where, spec);
    /* edge cases among the weights too */
    for (int i = 0; i < m->nlayers; i++) {
        nr_layer *L = &m->layers[i];
        for (size_t k = 0; k < L->nw; k++)
            if (rnd(&s, 6) == 0)
                L->w[k] = (double)edge_value(&s, 2.0);
        for (size_t k = 0; L->b && k < L->nb; k++)
            if (rnd(&s, 6) == 0)
                L->b[k] = (double)edge_value(&s, 2.0);
    }
    for (int i = 0; i < m->nlayers; i++) {
        gen_vmac v;
        gen_emit_vmac_plan(m, i, !portable_rounding, &v);
        if (!strcmp(m->layers[i].name, "t") && v.ok && !v.host)
            vec_cases++, vec_f32_cases += v.f32;
    }
    int n = 3;
    size_t nin = nr_shape_count(m->in_shape);
    float *x = malloc((size_t)n * nin * sizeof *x);
    ck_assert(x);
    double scale = ldexp(1.0, rnd(&s, tc->big ? 10 : 6) - 3);
    for (size_t i = 0; i < (size_t)n * nin; i++)
        x[i] = edge_value(&s, scale);
    const char *one = getenv("NUMREP_DIFF_CASE");
    if (one && *one) /* replaying one case: say what it is */
        printf("%s\nspec:\n%sprecision:\n%s", what, spec, prec);
    /* -O0 too: the search's R^2 runs compile there (IR and machine code) */
    static const int opts[3] = {1, 2, 0};
    int bad = compare_model(m, x, n, opts[rnd(&s, 3)], what, NULL);
    if (bad)
        fprintf(stderr, "%s: %d mismatches\nspec:\n%sprecision:\n%s", what, bad, spec, prec);
    free(x);
    nr_model_free(m);
    return bad;
}

/* NUMREP_DIFF_MATCH=TEXT: run only the cases whose description (kind,
 * formats, mode, MAC mode, as describe() prints it) contains TEXT, e.g.
 * "wrap" for the wrap-around formats' slice of an exhaustive run. */
static int case_selected(const tcase *tc, int id)
{
    const char *want = getenv("NUMREP_DIFF_MATCH");
    char what[512];
    if (!want || !*want)
        return 1;
    describe(tc, id, what, sizeof what);
    return strstr(what, want) != NULL;
}

/* Case id -> configuration.  One round of NROUND cases covers every
 * (kind, mode) pair, and for the four MAC kinds every MAC mode too; the
 * formats rotate with the case id (co-prime with the round), sometimes
 * different per role and for the surrounding layers, so successive
 * rounds see other formats for the same pair. */
#define NMACK 4 /* K_CONV .. K_BN */
#define NROUND (NMACK * NR_RND_COUNT * 3 + (K_COUNT - NMACK) * NR_RND_COUNT)
static void case_of(int id, tcase *tc)
{
    uint64_t s = (uint64_t)id * 0xD1B54A32D192ED03ull + 99;
    int j = id % NROUND;
    if (j < NMACK * NR_RND_COUNT * 3) {
        tc->kind = j % NMACK;
        tc->mode = (nr_rounding)(j / NMACK % NR_RND_COUNT);
        tc->mac = (nr_mac_mode)(j / (NMACK * NR_RND_COUNT));
    } else {
        j -= NMACK * NR_RND_COUNT * 3;
        tc->kind = NMACK + j % (K_COUNT - NMACK);
        tc->mode = (nr_rounding)(j / (K_COUNT - NMACK));
        tc->mac = (nr_mac_mode)rnd(&s, 3);
    }
    int f = (id * 7 + id / NROUND) % NFMT;
    tc->fmt[1] = FORMATS[f];
    int mixed = rnd(&s, 2); /* half the cases: one format for every role */
    for (int r = 0; r < 4; r++)
        tc->fmt[r] = mixed && rnd(&s, 2) ? FORMATS[rnd(&s, NFMT)] : FORMATS[f];
    tc->dflt = rnd(&s, 3) == 0 ? FORMATS[rnd(&s, NFMT)] : tc->fmt[1];
    tc->seed = (uint64_t)id + 1;
    tc->big = 0;
}

START_TEST(test_layers)
{
    const char *one = getenv("NUMREP_DIFF_CASE");
    int first = 0, ncases = tu_exhaustive() ? 24 * NROUND : tu_quick() ? NROUND / 3 : NROUND;
    if (one && *one) {
        first = atoi(one);
        ncases = 1;
    }
    int bad = 0, failed = 0;
    double t0 = now();
    int ran = 0;
    for (int id = first; id < first + ncases; id++) {
        tcase tc;
        case_of(id, &tc);
        if (!case_selected(&tc, id))
            continue;
        int b = run_case(&tc, id);
        ran++;
        bad += b;
        failed += b != 0;
    }
    printf("gen diff: %d cases (%d kinds x %d modes (x 3 MAC modes for MAC layers) per round "
           "of %d, %d formats rotating), %.1f s, %d failed\n",
           ran, K_COUNT, NR_RND_COUNT, NROUND, NFMT, now() - t0, failed);
    ck_assert_msg(bad == 0, "%d cases differ (%d values); see stderr", failed, bad);
}
END_TEST

/* The same harness with the bare-metal rounding path (no libm calls):
 * a different slice of cases, so together they cover more. */
START_TEST(test_layers_portable)
{
    int ncases = tu_exhaustive() ? 4 * NROUND : tu_quick() ? NROUND / 6 : NROUND / 2;
    int bad = 0, failed = 0;
    portable_rounding = 1;
    int ran = 0;
    for (int id = 7 * NROUND + 1; id < 7 * NROUND + 1 + ncases; id++) {
        tcase tc;
        case_of(id, &tc);
        if (!case_selected(&tc, id))
            continue;
        int b = run_case(&tc, id);
        ran++;
        bad += b;
        failed += b != 0;
    }
    portable_rounding = 0;
    printf("gen diff (portable rounding): %d cases, %d failed\n", ran, failed);
    ck_assert_msg(bad == 0, "%d cases differ (%d values); see stderr", failed, bad);
}
END_TEST

/* Fixed point in the MAC layers: emit_mac.c's fast rounding to fixed
 * point (every mode) and the vector conv kernel's fixed-point lanes (rz,
 * rne; float lanes for narrow formats), against the emulator.  Every role
 * fixed point, or one role a float format; the layer's input is sometimes
 * a float format with infinities and NaN (the `pre` layer's format);
 * large shapes and inputs (saturation) in half the cases. */
static const char *const FIXED[] = {"q7.8", "q3.8", "q5.10", "q3.12", "uq4.4", "int8", "uq8.0",
                                    "q15.16", "q1.6", "uq2.10", "q0.7", "q11.4"};
#define NFIXED (int)(sizeof FIXED / sizeof FIXED[0])
static const char *const FLOATS[] = {"e6m7-finite-nosub-sat", "e5m2", "fp16", "bf16", "e4m3",
                                     "fp32", "e3m2"};
#define NFLOATS (int)(sizeof FLOATS / sizeof FLOATS[0])

static void fixed_case_of(int id, tcase *tc)
{
    uint64_t s = (uint64_t)id * 0x9E3779B97F4A7C15ull + 12345;
    static const int kinds[] = {K_CONV, K_CONV, K_CONV, K_CONV_DW, K_DENSE, K_BN};
    tc->kind = kinds[id % 6];
    /* rz and rne (the vector kernel's modes) twice as often as the others */
    static const nr_rounding modes[] = {NR_RND_RZ, NR_RND_RNE, NR_RND_RZ, NR_RND_RNE, NR_RND_RNA,
                                        NR_RND_RU, NR_RND_RD, NR_RND_RTO, NR_RND_SR};
    tc->mode = modes[id / 6 % 9];
    tc->mac = (nr_mac_mode)(id / 54 % 3);
    const char *f = FIXED[rnd(&s, NFIXED)];
    for (int r = 0; r < 4; r++)
        tc->fmt[r] = rnd(&s, 3) == 0 ? FIXED[rnd(&s, NFIXED)] : f;
    int mix = rnd(&s, 10); /* 5..9: every role fixed point */
    if (mix <= 1) { /* mixed: one role a float format */
        tc->fmt[rnd(&s, 4)] = FLOATS[rnd(&s, NFLOATS)];
    } else if (mix == 2) { /* P finer than S, A a float with -0: zero signs */
        tc->fmt[2] = "q3.12", tc->fmt[3] = rnd(&s, 2) ? "q7.8" : "uq4.4";
        tc->fmt[1] = rnd(&s, 2) ? "fp16" : "e5m2";
    } else if (mix == 3) { /* fixed P into a float S */
        tc->fmt[3] = rnd(&s, 2) ? "fp16" : "bf16";
    } else if (mix == 4) { /* a float P into a fixed S, A a float: signs of zero sums */
        tc->fmt[2] = rnd(&s, 2) ? "fp16" : "bf16", tc->fmt[1] = rnd(&s, 2) ? "fp16" : "e6m7-finite-nosub-sat";
    }
    int k = rnd(&s, 6); /* the input: a float format (inf, NaN, huge), or fixed */
    tc->dflt = k == 0 ? FLOATS[rnd(&s, NFLOATS)] : k == 1 ? "e5m2" : k == 2 ? FIXED[rnd(&s, NFIXED)]
                                                                              : tc->fmt[1];
    tc->seed = (uint64_t)id + 1000001;
    tc->big = rnd(&s, 2);
}

START_TEST(test_fixed_mac)
{
    const char *one = getenv("NUMREP_FIXED_CASE");
    int first = 0, ncases = tu_exhaustive() ? 20 * 162 : tu_quick() ? 54 : 162;
    if (one && *one)
        first = atoi(one), ncases = 1;
    int bad = 0, failed = 0;
    vec_cases = vec_f32_cases = 0;
    for (int id = first; id < first + ncases; id++) {
        tcase tc;
        fixed_case_of(id, &tc);
        int b = run_case(&tc, id);
        if (b) /* describe() names NUMREP_DIFF_CASE, which replays test_layers' case */
            fprintf(stderr, "  that was fixed-point case %d: replay with NUMREP_FIXED_CASE=%d\n", id, id);
        bad += b;
        failed += b != 0;
    }
    printf("gen diff (fixed point): %d cases, %d in the vector kernel (%d float lanes), %d failed\n",
           ncases, vec_cases, vec_f32_cases, failed);
    ck_assert_msg(bad == 0, "%d cases differ (%d values); see stderr", failed, bad);
    /* the vector kernel's fixed-point paths were exercised */
    if (ncases > 1)
        ck_assert_msg(vec_cases >= ncases / 10 && vec_f32_cases > 0,
                      "%d vector cases, %d float lanes", vec_cases, vec_f32_cases);
}
END_TEST

/* -wrap accumulators with huge terms.  A wrapped sum keeps the exact
 * sum's low integer bits, so adding a term of 2^100 or more to an
 * accumulator with bits down to 2^-F needs 128 and more significant bits:
 * the emulator (nr_arith_exact_add) keeps the top 128 bits of the exact sum and
 * jams the rest into sticky; the generated code must keep the same window
 * (the 2^111 + 2^-16 kind of sum, and 2^111 - 2^-16, used to lose a bit).
 * Terms: products (fp64, exact: fp32 x fp32) of weights and inputs that
 * are small (fine fraction bits) or huge (2^20..2^90 each), avgpool /
 * global_avgpool inputs up to 2^127 (float32), add inputs up to 2^124.  Every mode, every
 * MAC mode, several wrap formats.  NUMREP_WRAP_CASE=N replays one case. */
static const char *const WRAP_FMTS[] = {"q15.16-wrap", "uq4.4-wrap", "q7.8-wrap", "q0.31-wrap",
                                        "uq32.0-wrap"};
#define NWRAP (int)(sizeof WRAP_FMTS / sizeof WRAP_FMTS[0])
enum { W_DENSE, W_CONV, W_AVGPOOL, W_GAP, W_ADD, W_KINDS };

/* small: |v| < 2^13 with bits down to 2^-24; huge: 24 random bits at
 * 2^lo .. 2^(lo+span) */
static float wrap_value(uint64_t *s, int lo, int span)
{
    double sign = rnd(s, 2) ? 1 : -1;
    if (rnd(s, 2))
        return (float)(sign * ldexp(1 + tu_unif(s), rnd(s, 14)));
    return (float)(sign * ldexp(1 + tu_unif(s), lo + rnd(s, span)));
}

static int run_wrap_case(int id)
{
    uint64_t s = (uint64_t)id * 0xA0761D6478BD642Full + 7;
    int kind = id % W_KINDS;
    nr_rounding mode = (nr_rounding)(id / W_KINDS % NR_RND_COUNT);
    int mac = id / (W_KINDS * NR_RND_COUNT) % 3;
    /* the format rotates with the mode, not with the kind */
    const char *sf = WRAP_FMTS[(id / W_KINDS + id / (W_KINDS * NR_RND_COUNT * 3)) % NWRAP];
    char spec[1024], prec[1024], what[256];
    size_t n = 0;
    int C = 1 + rnd(&s, 4), H = 2 + rnd(&s, 6), W = 2 + rnd(&s, 6);
    appendf(spec, sizeof spec, &n, "name: w%d\ninput: {shape: [%d, %d, %d]}\nlayers:\n", kind, C, H, W);
    appendf(spec, sizeof spec, &n, "  - {name: pre, op: dropout}\n");
    switch (kind) {
    case W_DENSE: appendf(spec, sizeof spec, &n, "  - {name: t, op: dense, out: %d}\n", 1 + rnd(&s, 4)); break;
    case W_CONV:
        appendf(spec, sizeof spec, &n, "  - {name: t, op: conv, out: %d, kernel: [2, 2], pad: same}\n",
                1 + rnd(&s, 4));
        break;
    case W_AVGPOOL:
        appendf(spec, sizeof spec, &n, "  - {name: t, op: avgpool, kernel: [2, 2], stride: 1}\n");
        break;
    case W_GAP: appendf(spec, sizeof spec, &n, "  - {name: t, op: global_avgpool}\n"); break;
    case W_ADD:
        /* a 1x1 conv mixes channels: small and huge addends meet */
        appendf(spec, sizeof spec, &n, "  - {name: pre2, op: conv, out: %d, kernel: 1, bias: false, "
                "input: input}\n", C);
        appendf(spec, sizeof spec, &n, "  - {name: t, op: add, inputs: [pre, pre2]}\n");
        break;
    }
    /* the tested layer's output in fp64 (add: the wrap format itself) so
     * the comparison sees every bit of the accumulator */
    snprintf(prec, sizeof prec,
             "default: {weights: fp32, activations: fp32, products: fp32, accumulator: fp32, "
             "rounding: %s, mac: %s}\n"
             "layers:\n  t: {weights: fp32, activations: %s, products: fp64, accumulator: %s, "
             "rounding: %s, mac: %s}\nseed: %d\n",
             nr_format_rounding_name(mode), MACS[mac], kind == W_ADD ? sf : "fp64", sf,
             nr_format_rounding_name(mode), MACS[mac], id + 1);
    snprintf(what, sizeof what, "wrap case %d (NUMREP_WRAP_CASE=%d): %s S=%s %s %s", id, id,
             kind == W_DENSE ? "dense" : kind == W_CONV ? "conv" : kind == W_AVGPOOL ? "avgpool"
             : kind == W_GAP ? "global_avgpool" : "add", sf, nr_format_rounding_name(mode), MACS[mac]);
    nr_err err = {0};
    nr_spec *sp = NULL;
    nr_precision *pr = NULL;
    ck_assert_msg(nr_spec_parse_string(spec, "wrap.yaml", &sp, &err) == 0, "%s: %s", what, err.msg);
    ck_assert_msg(nr_precision_parse_string(prec, "wprec.yaml", &pr, &err) == 0, "%s: %s\n%s",
                  what, err.msg, prec);
    nr_model *m = NULL;
    ck_assert_msg(nr_model_build(sp, pr, NULL, (uint64_t)id + 1, &m, &err) == 0, "%s: build: %s",
                  what, err.msg);
    int mac_kind = kind == W_DENSE || kind == W_CONV;
    for (int i = 0; i < m->nlayers; i++) {
        nr_layer *L = &m->layers[i];
        int pre2 = !strcmp(L->name, "pre2"); /* |w| < 2^14: no fp32 overflow */
        for (size_t k = 0; k < L->nw; k++)
            L->w[k] = pre2 ? wrap_value(&s, -8, 8) : wrap_value(&s, 20, 50);
        for (size_t k = 0; L->b && k < L->nb; k++)
            L->b[k] = wrap_value(&s, 0, 14);
    }
    int ns = 3;
    size_t nin = nr_shape_count(m->in_shape);
    float *x = malloc((size_t)ns * nin * sizeof *x);
    ck_assert(x);
    for (size_t i = 0; i < (size_t)ns * nin; i++)
        x[i] = mac_kind ? wrap_value(&s, 20, 71) : kind == W_ADD ? wrap_value(&s, 80, 30)
                                                                 : wrap_value(&s, 90, 38);
    if (getenv("NUMREP_WRAP_CASE"))
        printf("%s\nspec:\n%sprecision:\n%s", what, spec, prec);
    return compare_free(m, x, ns, what, spec, prec);
}

START_TEST(test_wrap_huge)
{
    const char *one = getenv("NUMREP_WRAP_CASE");
    int first = 0, ncases = W_KINDS * NR_RND_COUNT * 3 * (tu_exhaustive() ? 2 * NWRAP : 1);
    if (one && *one)
        first = atoi(one), ncases = 1;
    int bad = 0, failed = 0;
    for (int id = first; id < first + ncases; id++) {
        int b = run_wrap_case(id);
        bad += b;
        failed += b != 0;
    }
    printf("gen diff (wrap, huge terms): %d cases, %d failed\n", ncases, failed);
    ck_assert_msg(bad == 0, "%d cases differ (%d values); see stderr", failed, bad);
}
END_TEST

/* ---------------------------------------------------------------- whole networks */

static void net_case_opt(const char *net, const char *prec, int nimg, const char *label, int opt)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/specs/%s/%s.yaml", tu_source_dir(), net, net);
    nr_model *m = NULL;
    nr_err err = {0};
    ck_assert_msg(nr_model_load(path, prec, &m, &err) == 0, "%s: %s", path, err.msg);
    int n = nimg;
    float *x = tu_load_sample(net, &n, m);
    char what[256];
    snprintf(what, sizeof what, "%s %s", net, label);
    timing t;
    int bad = compare_model(m, x, n, opt, what, &t);
    /* wall times suffer from other load on the machine; CPU times (the
     * emulator and the compile are single-threaded) do not */
    printf("%-42s %3d image(s): emulator %.3f s (cpu %.3f); JIT -O%d compile %.3f s (cpu %.3f); "
           "JIT run %.4f s (cpu %.4f); emulator/JIT wall %.1fx, cpu %.1fx\n",
           what, n, t.emu, t.emu_cpu, opt, t.compile, t.compile_cpu, t.jit, t.jit_cpu,
           t.jit > 0 ? t.emu / t.jit : 0.0, t.jit_cpu > 0 ? t.emu_cpu / t.jit_cpu : 0.0);
    ck_assert_msg(bad == 0, "%s: %d values differ", what, bad);
    free(x);
    nr_model_free(m);
}

static void net_case(const char *net, const char *prec, int nimg, const char *label)
{
    net_case_opt(net, prec, nimg, label, 2);
}

static const char *prec_file(const char *body)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/numrep_gen_diff_%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fputs(body, f);
    fclose(f);
    return path;
}

START_TEST(test_lenet5)
{
    int n = tu_quick() ? 2 : 8;
    net_case("lenet5", "fp32", n, "fp32");
    net_case("lenet5", "e4m3", n, "e4m3 rne");
    net_case("lenet5", "bf16", n, "bf16 rne");
    net_case("lenet5",
             prec_file("default: {weights: e6m7-finite-nosub-sat, rounding: rz, mac: unfused}\n"),
             n, "e6m7-finite-nosub-sat rz unfused");
    net_case("lenet5", prec_file("default: {weights: fp16, rounding: sr, mac: fused}\nseed: 7\n"),
             n, "fp16 sr fused");
    net_case("lenet5", prec_file("default: {weights: e5m2, accumulator: fp32, rounding: rne, mac: exact}\n"),
             n, "e5m2 acc fp32 exact");
    /* the search's R^2 runs compile at -O0 (IR and machine code) */
    net_case_opt("lenet5", prec_file("default: {weights: q2.5, rounding: rz, mac: unfused}\n"), n,
                 "q2.5 rz unfused -O0", 0);
    net_case_opt("lenet5",
                 prec_file("default: {weights: e3m4-nosub-finite-sat, rounding: rz, mac: unfused}\n"),
                 n, "e3m4-nosub-finite-sat rz unfused -O0", 0);
    unlink(prec_file(""));
}
END_TEST

START_TEST(test_resnet20)
{
    int n = tu_exhaustive() ? 8 : 1;
    net_case("resnet20", "fp32", tu_exhaustive() ? 100 : 4, "fp32");
    net_case("resnet20",
             prec_file("default: {weights: e6m7-finite-nosub-sat, rounding: rz, mac: unfused}\n"),
             n, "e6m7-finite-nosub-sat rz unfused");
    net_case("resnet20", "q3.8", n, "q3.8 rne");
    net_case("resnet20",
             prec_file("default: {weights: q5.10, rounding: rz, mac: unfused}\n"), n,
             "q5.10 rz unfused");
    net_case_opt("resnet20", prec_file("default: {weights: q7.9, rounding: rz, mac: unfused}\n"),
                 n, "q7.9 rz unfused -O0", 0);
    net_case_opt("resnet20",
                 prec_file("default: {weights: e5m7-nosub-finite-sat, rounding: rz, mac: unfused}\n"),
                 n, "e5m7-nosub-finite-sat rz unfused -O0", 0);
    if (tu_exhaustive()) {
        net_case("resnet20", "q7.8", n, "q7.8 rne");
        net_case("resnet20", "e4m3", n, "e4m3 rne");
        net_case("resnet20", "bf16", n, "bf16 rne");
    }
    unlink(prec_file(""));
}
END_TEST

/* Results do not depend on the thread count or on how a batch is split. */
START_TEST(test_threads)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/specs/lenet5/lenet5.yaml", tu_source_dir());
    nr_model *m = NULL;
    nr_err err = {0};
    const char *pf = prec_file("default: {weights: e4m3, accumulator: fp16, rounding: sr}\nseed: 3\n");
    ck_assert_msg(nr_model_load(path, pf, &m, &err) == 0, "%s", err.msg);
    unlink(pf);
    int n = 9;
    float *x = tu_load_sample("lenet5", &n, m);
    size_t nin = nr_shape_count(m->in_shape), nout = nr_shape_count(m->layers[m->output].out_shape);
    gen_compiled *c = NULL;
    ck_assert_msg(gen_model_compile(m, NULL, &c, &err) == 0, "%s", err.msg);
    float *ref = malloc((size_t)n * nout * sizeof *ref), *y = malloc((size_t)n * nout * sizeof *y);
    ck_assert(ref && y);
    ck_assert(gen_compiled_set_threads(c, 1, &err) == 0);
    ck_assert(gen_compiled_run(c, x, ref, n, &err) == 0);
    for (int t = 2; t <= 5; t++) {
        ck_assert(gen_compiled_set_threads(c, t, &err) == 0);
        memset(y, 0, (size_t)n * nout * sizeof *y);
        ck_assert(gen_compiled_run(c, x, y, n, &err) == 0);
        ck_assert_msg(!memcmp(ref, y, (size_t)n * nout * sizeof *y), "%d threads differ", t);
        /* the batch split into pieces */
        memset(y, 0, (size_t)n * nout * sizeof *y);
        for (int s = 0; s < n; s += t)
            ck_assert(gen_compiled_run(c, x + (size_t)s * nin, y + (size_t)s * nout,
                                       s + t <= n ? t : n - s, &err) == 0);
        ck_assert_msg(!memcmp(ref, y, (size_t)n * nout * sizeof *y), "split by %d differs", t);
    }
    free(ref);
    free(y);
    free(x);
    gen_compiled_free(c);
    nr_model_free(m);
}
END_TEST

/* Error paths: formats the generator cannot hold exactly. */
START_TEST(test_unsupported)
{
    nr_spec *sp = NULL;
    nr_precision *pr = NULL;
    nr_err err = {0};
    ck_assert(nr_spec_parse_string("input: {shape: [1, 2, 2]}\nlayers:\n  - {name: r, op: relu}\n",
                                   "u.yaml", &sp, &err) == 0);
    ck_assert(nr_precision_from_arg("q40.20", &pr, &err) == 0);
    nr_model *m = NULL;
    ck_assert_msg(nr_model_build(sp, pr, NULL, 1, &m, &err) == 0, "%s", err.msg);
    gen_compiled *c = NULL;
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(gen_model_compile(m, NULL, &c, &err), -NR_EUNSUP);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err.msg, "at most 53"), "%s", err.msg);
    nr_model_free(m);
}
END_TEST

/* The vector conv kernel's rz sums (emit_vmac.c: the rounding-mode add,
 * and sum_xlim, which drops the per-term overflow check of S when a call's
 * max|x| bounds every sum): positive weights and inputs make the sums of a
 * 3x3 conv grow to about 36 * max|w| * max|x|, so with max|x| around and
 * above max_S / (36 * max|w|) some sums overflow S (saturating: max_S)
 * while no product overflows P; smaller inputs stay in range.  The random
 * cases rarely get there (their edge values make a call's max|x| hit X's
 * overflow, which the products' own bound already sends to the scalar
 * code). */
static int rz_sum_case(const char *fmt, const char *mac, nr_rounding mode, double xscale,
                       uint64_t seed, int tiny)
{
    char spec[512], prec[512], what[256];
    snprintf(spec, sizeof spec,
             "name: rzsum\ninput: {shape: [4, 5, 20]}\nlayers:\n"
             "  - {name: pre, op: dropout}\n"
             "  - {name: t, op: conv, out: 4, kernel: [3, 3], stride: 1, pad: [1, 1, 1, 1]}\n");
    snprintf(prec, sizeof prec,
             "default: {weights: %s, activations: same, products: same, accumulator: same, "
             "rounding: %s, mac: %s}\n", fmt, nr_format_rounding_name(mode), mac);
    snprintf(what, sizeof what, "%s sums %s %s max|x| ~ 2^%d%s", nr_format_rounding_name(mode), fmt, mac,
             ilogb(xscale), tiny ? " tiny" : "");
    nr_err err = {0};
    nr_spec *sp = NULL;
    nr_precision *pr = NULL;
    ck_assert_msg(nr_spec_parse_string(spec, "rzsum.yaml", &sp, &err) == 0, "%s", err.msg);
    ck_assert_msg(nr_precision_parse_string(prec, "rzsum-prec.yaml", &pr, &err) == 0, "%s", err.msg);
    nr_model *m = NULL;
    ck_assert_msg(nr_model_build(sp, pr, NULL, seed, &m, &err) == 0, "%s: %s", what, err.msg);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 5;
    for (int i = 0; i < m->nlayers; i++) {
        nr_layer *L = &m->layers[i];
        for (size_t k = 0; k < L->nw; k++) /* mostly positive, in [0.25, 2); tiny: see test_ftz */
            L->w[k] = tiny ? (rnd(&s, 2) ? 1 : -1) * (1 + rnd(&s, 8) / 8.0) * ldexp(xscale, -rnd(&s, 5))
                           : (rnd(&s, 8) ? 1 : -1) * (0.25 + 1.75 * tu_unif(&s));
        for (size_t k = 0; L->b && k < L->nb; k++)
            L->b[k] = 2 * tu_unif(&s) - 1;
        gen_vmac v;
        gen_emit_vmac_plan(m, i, 1, &v);
        if (!strcmp(L->name, "t"))
            ck_assert_msg(v.ok && !v.host, "%s: not the vector kernel's checked lanes", what);
    }
    int n = 2;
    size_t nin = nr_shape_count(m->in_shape);
    float *x = malloc((size_t)n * nin * sizeof *x);
    ck_assert(x);
    for (size_t i = 0; i < (size_t)n * nin; i++) /* mostly positive, up to xscale */
        x[i] = (float)(tiny ? (rnd(&s, 2) ? 1 : -1) * (1 + rnd(&s, 8) / 8.0) * ldexp(xscale, -rnd(&s, 5))
                            : (rnd(&s, 8) ? 1 : -1) * xscale * tu_unif(&s));
    int bad = compare_model(m, x, n, 2, what, NULL);
    free(x);
    nr_model_free(m);
    return bad;
}

START_TEST(test_rz_sums)
{
    /* and fp16 rne: sums rounded by F16C with no per-term key, an
     * overflow caught from the accumulator's inf at the block's end
     * (emit_vmac.c, vk.sfin) */
    static const char *const fmts[] = {"e6m7-finite-nosub-sat", "e5m7-finite-nosub-sat", "bf16", "fp16"};
    int failed = 0, ncases = 0;
    for (int f = 0; f < 4; f++) {
        nr_format F;
        nr_err err = {0};
        ck_assert(nr_format_parse(fmts[f], &F, &err) == 0);
        /* max_S / (36 * 2): the sums' scale where overflow starts */
        double edge = F.max_finite / 72;
        for (int mac = 0; mac < 2; mac++)
            for (int e = -12; e <= 3; e += 3) {
                failed += rz_sum_case(fmts[f], MACS[mac], f == 3 ? NR_RND_RNE : NR_RND_RZ,
                                      ldexp(edge, e), (uint64_t)(ncases + 1), 0) != 0;
                ncases++;
            }
    }
    printf("gen diff (rz sums, fp16 rne sums): %d cases, %d failed\n", ncases, failed);
    ck_assert_int_eq(failed, 0);
}
END_TEST

/* rz to formats without subnormals by flushing (emit_vmac.c, ftz_ok):
 * weights and inputs of either sign near 2^(emin/2), few significant
 * bits, so that products fall below 2^emin (flushed to a zero of their
 * sign) or just above it, and sums cancel to below it. */
START_TEST(test_ftz)
{
    static const char *const fmts[] = {"e6m7-finite-nosub-sat", "e5m7-finite-nosub-sat",
                                       "e3m4-nosub-finite-sat"};
    int failed = 0, ncases = 0;
    for (int f = 0; f < 3; f++) {
        nr_format F;
        nr_err err = {0};
        ck_assert(nr_format_parse(fmts[f], &F, &err) == 0);
        for (int r = 0; r < 4; r++, ncases++)
            failed += rz_sum_case(fmts[f], "unfused", NR_RND_RZ, ldexp(1.0, F.emin / 2 + 2),
                                  (uint64_t)(100 + ncases), 1) != 0;
    }
    printf("gen diff (rz flushed to zero): %d cases, %d failed\n", ncases, failed);
    ck_assert_int_eq(failed, 0);
}
END_TEST

/* The vector conv kernel's rounding of sums by masking in other modes than
 * rz (emit_vmac.c: sum_ro, rounding to odd, then mround): random conv
 * shapes (make_spec's: strides, pads, dilation, groups, odd widths) under
 * one format for every role, with weights and inputs whose magnitudes
 * spread over 2^-E .. 2^E (sums inexact in the lanes, float and double,
 * often) or are small multiples of powers of two (exact ties of the
 * format), signed zeros, and tiny and huge values (the tiny ranges,
 * subnormals and overflow).  vec: some of the format's cases must run in
 * the vector kernel's checked lanes (f32: in float lanes; not all: rows
 * too long for the kernel's registers are left to the scalar code). */
typedef struct vround_fmt { const char *fmt; int vec, f32; } vround_fmt;
static const vround_fmt VROUND_FMTS[] = {
    {"e6m7-finite-nosub-sat", 1, 1}, {"e5m7-finite-nosub-sat", 1, 1}, {"e4m3", 1, 1},
    {"e5m2", 1, 1}, {"fp16", 1, 1}, {"bf16", 1, 1}, {"e3m2", 1, 1}, {"e2m1", 1, 1},
    {"e5m10-sat", 1, 1}, {"e4m3-ieee", 1, 1}, {"e3m4-b-2", 1, 1}, {"e6m7-nosub", 1, 1},
    {"e4m3-finite", 1, 1}, {"tf32", 1, 0}, {"e11m10", 0, 0}, {"e8m23-nosub", 1, 0},
    {"e5m20", 1, 0}, {"e4m3-fnuz", 0, 0}, {"q3.12", 1, 0},
};
#define NVROUND (int)(sizeof VROUND_FMTS / sizeof VROUND_FMTS[0])

static double vround_value(uint64_t *s, int spread)
{
    double sg = rnd(s, 2) ? 1 : -1;
    switch (spread < 0 ? 4 + rnd(s, 8) : rnd(s, 12)) { /* < 0: |spread|, none tiny or huge */
    case 0: return sg * 0.0;
    case 1: return sg * (1 + rnd(s, 15)) * ldexp(1.0, rnd(s, 9) - 4); /* ties */
    case 2: return sg * ldexp(1 + tu_unif(s), -20 - rnd(s, 120));     /* tiny */
    case 3: return sg * ldexp(1 + tu_unif(s), 5 + rnd(s, 40));        /* huge */
    default: return sg * ldexp(1 + tu_unif(s), rnd(s, 2 * abs(spread) + 1) - abs(spread));
    }
}

/* zsign 1: the signs of zero results (2: tame values, vround_value).  Weights -t, inputs +t and biases -0
 * with t = 2^(lsb/2 - 2) (lsb: the exponent of the format's smallest
 * value; 2^lsb when lsb >= -4), so every product w*x is a negative value
 * at most half the smallest value: it rounds to -0 (rne: the tie goes to
 * the even 0; rz; [rnd-4]), every sum is -0 + -0
 * = -0, and every output is -0: a rounding that loses a zero's sign gives
 * +0 somewhere. */
static double zsign_value(const char *fmt, int weight)
{
    nr_format f;
    nr_err err = {0};
    ck_assert(nr_format_parse(fmt, &f, &err) == 0);
    int lsb = f.emin - f.man_bits; /* 2^lsb * 2^lsb <= 2^(lsb-1): a tie to 0 at worst */
    return (weight ? -1.0 : 1.0) * ldexp(1.0, lsb < -4 ? lsb / 2 - 2 : lsb);
}

static int vround_case(const vround_fmt *F, int mac, nr_rounding mode, uint64_t seed, int *vec,
                       int *f32, int zsign)
{
    tcase tc = {.kind = K_CONV, .mode = mode, .mac = (nr_mac_mode)mac, .seed = seed, .big = 1,
                .dflt = F->fmt};
    for (int r = 0; r < 4; r++)
        tc.fmt[r] = F->fmt;
    char what[512], spec[2048], prec[1024];
    describe(&tc, (int)seed, what, sizeof what);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 3;
    make_spec(&tc, &s, spec, sizeof spec);
    make_prec(&tc, prec, sizeof prec);
    nr_err err = {0};
    nr_spec *sp = NULL;
    nr_precision *pr = NULL;
    ck_assert_msg(nr_spec_parse_string(spec, "vround.yaml", &sp, &err) == 0, "%s", err.msg);
    ck_assert_msg(nr_precision_parse_string(prec, "vround-prec.yaml", &pr, &err) == 0, "%s", err.msg);
    nr_model *m = NULL;
    ck_assert_msg(nr_model_build(sp, pr, NULL, seed, &m, &err) == 0, "%s: %s", what, err.msg);
    int spread = 4 + rnd(&s, 3) * 20; /* 4, 24, 44: inexact in float, then double lanes */
    if (zsign == 2) /* tame: no call-wide bound fails (pbound, ptiny), every row in the lanes */
        spread = -4;
    for (int i = 0; i < m->nlayers; i++) {
        nr_layer *L = &m->layers[i];
        for (size_t k = 0; k < L->nw; k++)
            L->w[k] = zsign == 1 ? zsign_value(F->fmt, 1) : vround_value(&s, spread);
        for (size_t k = 0; L->b && k < L->nb; k++)
            L->b[k] = zsign == 1 ? -0.0 : vround_value(&s, spread);
        gen_vmac v;
        gen_emit_vmac_plan(m, i, 1, &v);
        if (!strcmp(L->name, "t"))
            *vec = v.ok && !v.host, *f32 = *vec && v.f32;
    }
    int n = 2;
    size_t nin = nr_shape_count(m->in_shape);
    float *x = malloc((size_t)n * nin * sizeof *x);
    ck_assert(x);
    for (size_t i = 0; i < (size_t)n * nin; i++)
        x[i] = (float)(zsign == 1 ? zsign_value(F->fmt, 0) : vround_value(&s, spread));
    return compare_free(m, x, n, what, spec, prec);
}

/* Every format of VROUND_FMTS, unfused and fused, in each mode the vector
 * kernel rounds by masking (rz as well: the same shapes and values).
 * Four runs (each its own timeout): _i / 2 picks half of the formats,
 * _i % 2 = 1 compiles for a target without AVX-512F. */
START_TEST(test_vround)
{
    static const nr_rounding modes[] = {NR_RND_RNE, NR_RND_RZ, NR_RND_RNA, NR_RND_RU, NR_RND_RD};
    const int nmodes = (int)(sizeof modes / sizeof modes[0]);
    const int noavx = _i % 2, half = _i / 2;
    int reps = tu_exhaustive() ? 12 : tu_quick() || noavx ? 1 : 3;
    jit_features = noavx ? "+avx2" : NULL;
    int failed = 0, ncases = 0, nvec = 0, nf32 = 0;
    for (int f = half; f < NVROUND; f += 2)
        for (int mi = 0; mi < nmodes; mi++) {
            int fvec = 0, ff32 = 0;
            for (int mac = 0; mac < 2; mac++)
                for (int r = 0; r < (mi < 2 ? reps : 1); r++) { /* rna ru rd: one random case */
                    int vec = 0, f32 = 0;
                    ncases++;
                    failed += vround_case(&VROUND_FMTS[f], mac, modes[mi], (uint64_t)(1000 + 500 * _i + 20 * f + ncases), &vec, &f32, 0) != 0;
                    fvec += vec, ff32 += f32;
                    if (r == 0 && strncmp(VROUND_FMTS[f].fmt, "q", 1)) { /* a float format: zero signs */
                        ncases++;
                        failed += vround_case(&VROUND_FMTS[f], mac, modes[mi], (uint64_t)(7000 + 500 * _i + 20 * f + ncases), &vec, &f32, 1) != 0;
                        fvec += vec, ff32 += f32;
                    }
                    if (r == 0) { /* tame values */
                        ncases++;
                        failed += vround_case(&VROUND_FMTS[f], mac, modes[mi], (uint64_t)(9000 + 500 * _i + 20 * f + ncases), &vec, &f32, 2) != 0;
                        fvec += vec, ff32 += f32;
                    }
                }
            const char *fmt = VROUND_FMTS[f].fmt, *mode = nr_format_rounding_name(modes[mi]);
            ck_assert_msg(!VROUND_FMTS[f].vec || fvec, "%s %s: no case in the vector kernel", fmt, mode);
            ck_assert_msg(!VROUND_FMTS[f].f32 || ff32, "%s %s: no case in float lanes", fmt, mode);
            ck_assert_msg(VROUND_FMTS[f].vec || !fvec, "%s %s: in the vector kernel", fmt, mode);
            nvec += fvec, nf32 += ff32;
        }
    jit_features = NULL;
    printf("gen diff (vector rounding, formats %d of every 2%s): %d cases, %d in the vector kernel "
           "(%d float lanes), %d failed\n", half, noavx ? ", no AVX-512F" : "", ncases, nvec, nf32, failed);
    ck_assert_int_eq(failed, 0);
}
END_TEST

/* ---------------------------------------------------------------- shared layer functions */

/* The function numrep_sample calls for each layer, in order; returns how
 * many (one per layer: nothing else it calls is named layer.*). */
static int layer_calls(gen_ctx *g, LLVMValueRef *fn, int cap)
{
    LLVMValueRef s = LLVMGetNamedFunction(g->mod, "numrep_sample");
    ck_assert(s);
    int n = 0;
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(s); b; b = LLVMGetNextBasicBlock(b))
        for (LLVMValueRef i = LLVMGetFirstInstruction(b); i; i = LLVMGetNextInstruction(i)) {
            LLVMValueRef f = LLVMIsACallInst(i) ? LLVMGetCalledValue(i) : NULL;
            size_t len;
            const char *name = f ? LLVMGetValueName2(f, &len) : "";
            if (!strncmp(name, "layer.", 6) && n < cap)
                fn[n++] = f;
        }
    return n;
}

/* The layer names of fn's !numrep.layers, comma-separated into buf ("" if none). */
static void shared_list(gen_ctx *g, LLVMValueRef fn, char *buf, size_t cap)
{
    size_t len = 0, nmd = 0;
    buf[0] = 0;
    unsigned kind = LLVMGetMDKindIDInContext(g->ctx, "numrep.layers", 13);
    LLVMValueMetadataEntry *md = LLVMGlobalCopyAllMetadata(fn, &nmd);
    for (unsigned e = 0; e < nmd; e++) {
        if (LLVMValueMetadataEntriesGetKind(md, e) != kind)
            continue;
        LLVMValueRef node = LLVMMetadataAsValue(g->ctx, LLVMValueMetadataEntriesGetMetadata(md, e));
        unsigned nop = LLVMGetMDNodeNumOperands(node);
        LLVMValueRef *ops = calloc(nop, sizeof *ops);
        ck_assert(ops);
        LLVMGetMDNodeOperands(node, ops);
        for (unsigned k = 0; k < nop; k++) {
            unsigned sl;
            const char *str = LLVMGetMDString(ops[k], &sl);
            appendf(buf, cap, &len, "%s%.*s", k ? "," : "", (int)sl, str ? str : "?");
        }
        free(ops);
    }
    if (md)
        LLVMDisposeValueMetadataEntries(md);
}

/* Emit m's module (-O2, as compiled) and check how layers share functions:
 * each layer calls layer.<first layer with that code>, of the same op and
 * output shape, and a shared function's !numrep.layers names exactly the
 * layers that call it.  Returns the number of distinct layer functions;
 * fn_of[i] (if given) gets the first layer whose function layer i calls. */
static int check_sharing(const nr_model *m, const char *what, int *fn_of)
{
    gen_model_opts o = {.opt_level = 2, .portable = portable_rounding, .pack_dense = pack_dense};
    gen_ctx *g = NULL;
    gen_weights w;
    nr_err err = {0};
    ck_assert_msg(gen_emit_model(m, &o, &g, &w, &err) == 0, "%s: emit: %s", what, err.msg);
    const int n = m->nlayers;
    LLVMValueRef *fn = calloc((size_t)n + 1, sizeof *fn);
    int *first = calloc((size_t)n, sizeof *first);
    ck_assert(fn && first);
    ck_assert_int_eq(layer_calls(g, fn, n + 1), n);
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (fn[j] != fn[i])
            j++;
        first[i] = j;
        distinct += j == i;
        const nr_layer *L = &m->layers[i], *F = &m->layers[j];
        char want[NR_NAME_MAX + 8];
        snprintf(want, sizeof want, "layer.%s", F->name);
        size_t len;
        ck_assert_msg(!strcmp(LLVMGetValueName2(fn[i], &len), want), "%s: %s calls %s, not %s",
                      what, L->name, LLVMGetValueName2(fn[i], &len), want);
        ck_assert_msg(L->op == F->op && !memcmp(L->out_shape, F->out_shape, sizeof L->out_shape),
                      "%s: %s shares %s's function", what, L->name, F->name);
    }
    for (int j = 0; j < n; j++) {
        if (first[j] != j)
            continue;
        char want[4096], got[4096];
        size_t len = 0;
        int users = 0;
        want[0] = 0;
        for (int i = j; i < n; i++)
            if (first[i] == j)
                appendf(want, sizeof want, &len, "%s%s", users++ ? "," : "", m->layers[i].name);
        shared_list(g, fn[j], got, sizeof got);
        ck_assert_msg(!strcmp(got, users > 1 ? want : ""), "%s: %s's !numrep.layers is \"%s\", expected \"%s\"",
                      what, m->layers[j].name, got, users > 1 ? want : "");
    }
    if (fn_of)
        memcpy(fn_of, first, (size_t)n * sizeof *first);
    free(first);
    free(fn);
    gen_emit_free(g);
    gen_plan_weights_free(&w);
    return distinct;
}

/* ResNet-20's repeated blocks share their functions, convolutions included,
 * in the float, the checked-lane vector (its overflow bound, from each
 * layer's weights, is an argument) and the SR (the layer index is an
 * argument) code; the shared code is exact (also test_resnet20). */
START_TEST(test_share_resnet20)
{
    static const char *const precs[][2] = {
        {"fp32", "fp32"},
        {"default: {weights: e6m7-finite-nosub-sat, rounding: rz, mac: unfused}\n", "e6m7 rz unfused"},
        {"default: {weights: e6m7-finite-nosub-sat, rounding: sr, mac: unfused}\nseed: 5\n", "e6m7 sr unfused"},
    };
    char path[1024];
    snprintf(path, sizeof path, "%s/specs/resnet20/resnet20.yaml", tu_source_dir());
    for (int k = 0; k < 3; k++) {
        const char *prec = k ? prec_file(precs[k][0]) : precs[k][0];
        nr_model *m = NULL;
        nr_err err = {0};
        ck_assert_msg(nr_model_load(path, prec, &m, &err) == 0, "%s: %s", path, err.msg);
        int *first = calloc((size_t)m->nlayers, sizeof *first);
        ck_assert(first);
        int distinct = check_sharing(m, precs[k][1], first);
        int convs = 0, conv_fns = 0;
        for (int i = 0; i < m->nlayers; i++)
            if (m->layers[i].op == NR_OP_CONV)
                convs++, conv_fns += first[i] == i;
        printf("resnet20 %-16s %d layers, %d functions; %d convs, %d functions\n", precs[k][1],
               m->nlayers, distinct, convs, conv_fns);
        /* conv1, and per stage block 0's first conv (the stage's stride or
         * width change) and one for its other five */
        ck_assert_msg(convs == 19 && conv_fns == 6, "%s: %d conv functions for %d convs",
                      precs[k][1], conv_fns, convs);
        ck_assert_msg(2 * distinct < m->nlayers, "%s: %d functions for %d layers", precs[k][1],
                      distinct, m->nlayers);
        free(first);
        nr_model_free(m);
    }
    /* the SR stream of a shared function is its caller's */
    net_case("resnet20", prec_file(precs[2][0]), 1, "e6m7 sr unfused");
    unlink(prec_file(""));
}
END_TEST

/* Twin layers (c1/c2, a1/a2, r1/r2: same code, different weights and
 * inputs) share a function, and both twins' outputs (the concat) are the
 * emulator's bit for bit, in every kind of layer code. */
START_TEST(test_share_twins)
{
    static const char spec[] =
        "name: twins\ninput: {shape: [3, 9, 7]}\nlayers:\n"
        "  - {name: c0, op: conv, out: 4, kernel: 3, pad: 1}\n"
        "  - {name: c1, op: conv, out: 4, kernel: 3, pad: 1}\n"
        "  - {name: c2, op: conv, out: 4, kernel: 3, pad: 1}\n"
        "  - {name: a1, op: add, inputs: [c0, c1]}\n"
        "  - {name: a2, op: add, inputs: [c1, c2]}\n"
        "  - {name: r1, op: relu, input: a1}\n"
        "  - {name: r2, op: relu, input: a2}\n"
        "  - {name: cat, op: concat, inputs: [r1, r2]}\n";
    static const struct { const char *prec; int dense, portable; } cases[] = {
        {"default: {weights: fp32}\n", 0, 0},
        {"default: {weights: e6m7-finite-nosub-sat, rounding: rz, mac: unfused}\n", 1, 0},
        {"default: {weights: e6m7-finite-nosub-sat, rounding: rz, mac: unfused}\n", 0, 1},
        {"default: {weights: e4m3, rounding: rne, mac: fused}\n", 0, 0},
        {"default: {weights: fp16, rounding: sr, mac: fused}\nseed: 11\n", 0, 0},
        {"default: {weights: e5m2, accumulator: fp32, rounding: rne, mac: exact}\n", 1, 0},
        {"default: {weights: q3.12, rounding: rne, mac: unfused}\n", 0, 0},
        {"default: {weights: bf16, rounding: sr, mac: exact}\nseed: 3\n", 0, 0},
    };
    int failed = 0;
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        char what[256];
        snprintf(what, sizeof what, "twins %s%s%s", cases[k].prec, cases[k].dense ? " (pack dense)" : "",
                 cases[k].portable ? " (portable)" : "");
        nr_err err = {0};
        nr_spec *sp = NULL;
        nr_precision *pr = NULL;
        ck_assert_msg(nr_spec_parse_string(spec, "twins.yaml", &sp, &err) == 0, "%s", err.msg);
        ck_assert_msg(nr_precision_parse_string(cases[k].prec, "twins-prec.yaml", &pr, &err) == 0,
                      "%s: %s", what, err.msg);
        nr_model *m = NULL;
        ck_assert_msg(nr_model_build(sp, pr, NULL, (uint64_t)k + 1, &m, &err) == 0, "%s: %s", what,
                      err.msg);
        pack_dense = cases[k].dense, portable_rounding = cases[k].portable;
        int first[16];
        ck_assert(m->nlayers == 8);
        check_sharing(m, what, first);
        static const char *const twins[][2] = {{"c1", "c2"}, {"a1", "a2"}, {"r1", "r2"}};
        for (int t = 0; t < 3; t++) {
            int i1 = -1, i2 = -1;
            for (int i = 0; i < m->nlayers; i++) {
                if (!strcmp(m->layers[i].name, twins[t][0]))
                    i1 = i;
                if (!strcmp(m->layers[i].name, twins[t][1]))
                    i2 = i;
            }
            ck_assert(i1 >= 0 && i2 >= 0);
            ck_assert_msg(first[i2] == i1, "%s: %s does not share %s's function", what, twins[t][1],
                          twins[t][0]);
        }
        ck_assert_msg(first[1] == 1, "%s: c1 shares c0's function (3 input channels, not 4)", what);
        uint64_t s = (uint64_t)k * 0x9E3779B97F4A7C15ull + 1;
        int n = 3;
        size_t nin = nr_shape_count(m->in_shape);
        float *x = tu_uniform_floats(&s, (size_t)n * nin, -2, 2);
        failed += compare_model(m, x, n, 2, what, NULL) != 0;
        pack_dense = portable_rounding = 0;
        free(x);
        nr_model_free(m);
    }
    ck_assert_int_eq(failed, 0);
}
END_TEST

static Suite *suite(void)
{
    /* one test case per group, so CK_RUN_CASE=layers (fixed, wrap, nets, share)
     * runs one group alone, e.g. to replay a case */
    Suite *s = suite_create("gen_diff");
    TCase *t = tcase_create("layers");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, test_unsupported);
    tcase_add_test(t, test_layers);
    tcase_add_test(t, test_layers_portable);
    tcase_add_test(t, test_rz_sums);
    suite_add_tcase(s, t);
    t = tcase_create("vround");
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, test_vround, 0, 4);
    suite_add_tcase(s, t);
    t = tcase_create("fixed");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, test_fixed_mac);
    suite_add_tcase(s, t);
    t = tcase_create("ftz");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, test_ftz);
    suite_add_tcase(s, t);
    t = tcase_create("wrap");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, test_wrap_huge);
    suite_add_tcase(s, t);
    t = tcase_create("nets");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, test_threads);
    tcase_add_test(t, test_lenet5);
    tcase_add_test(t, test_resnet20);
    suite_add_tcase(s, t);
    t = tcase_create("share");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, test_share_twins);
    tcase_add_test(t, test_share_resnet20);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()); }
