/* check_gen_scaled.c -- the differential harness of scaled formats in the
 * generator (#13, docs/semantics.md [scl-dot-engines]): JIT-compiled
 * networks with scaled weights and dynamically scaled activations against
 * the reference emulator, bit for bit (float32 outputs and the output
 * layer's values in the arena).
 *
 * Cases: small networks (a scaled input, a conv / depthwise conv / dense /
 * unfolded batchnorm with random shape, padding, stride, groups, then
 * relu) x every preset and general form (each e8m0 rule, fp32, ue4m3, nv,
 * int8/int4 per channel and per block, blocks of 1, 3, 5: K not a multiple
 * of the block) x rounding modes (rne, rz, sr, ru, rd, rna) x mac modes
 * (block-fp32, block-exact, unfused, fused, exact, promote: K), with inputs
 * that hold all-zero blocks, NaN and infinity, values at an element's
 * overflow edge (the E2M1 block with amax 7 under floor clips to 6), and
 * magnitudes that push e8m0 scales to both ends of its range.  Each
 * failure prints the case and its spec; NUMREP_SCALED_CASE=N replays one.
 * NUMREP_EXHAUSTIVE=1 runs 4800 cases (default 200).  Whole networks: LeNet-5 under
 * every preset. */
#include "testutil.h"
#include "testutil_gen.h"
#include "emulator.h"
#include "plan.h"
#include "emit_scaled.h"
#include "tensorio.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SFMTS[] = {
    "mxfp8", "mxfp8e5m2", "mxfp6e3m2", "mxfp6e2m3", "mxfp4", "mxint8", "nvfp4",
    "e2m1@b32:e8m0:floor", "e2m1@b3:e8m0:rceil", "e4m3@b5:e8m0:ceil", "e3m2@b4:e8m0:even",
    "e2m1@b1:e8m0:floor", "int8@channel", "int4@b32:fp32", "int4@b3:fp32:amax-up",
    "e4m3@tensor:fp32", "e4m3@b16:ue4m3:amax-up", "e2m1@b5:nv:amax-up", "int8@tensor:e8m0",
    "e5m2@b2:ue4m3", "uint8@tensor:fp32",
};
#define NSF (sizeof SFMTS / sizeof *SFMTS)
static const nr_rounding MODES[] = {NR_RND_RNE, NR_RND_RZ, NR_RND_SR, NR_RND_RU, NR_RND_RD,
                                    NR_RND_RNA};
/* mac, products/accumulator, promote */
typedef struct macv { const char *mac, *ps; int promote; } macv;
static const macv MACV[] = {
    {"block-fp32", "fp32", 0}, {"block-exact", "fp32", 0}, {"block-exact", "bf16", 0},
    {"unfused", "fp32", 0},    {"unfused", "bf16", 0},     {"fused", "e5m10", 0},
    {"exact", "fp32", 0},      {"unfused", "e5m10", 3},    {"fused", "bf16", 7},
};
#define NMAC (sizeof MACV / sizeof *MACV)
enum { K_CONV, K_DW, K_DENSE, K_BN, NKIND };
static const char *const KIND[] = {"conv", "conv-depthwise", "dense", "batchnorm"};

static int rnd(uint64_t *s, int n) { return (int)(tu_rand(s) % (uint64_t)n); }

static int appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k > 0 && (size_t)k < cap - *len)
        *len += (size_t)k;
    return k;
}

typedef struct scase {
    int kind, fmt, afmt, mode, mac;
    uint64_t seed;
} scase;

static void case_of(int id, scase *c)
{
    c->seed = (uint64_t)id * 7919u + 13;
    uint64_t s = c->seed;
    c->kind = id % NKIND;
    c->fmt = (id / NKIND) % (int)NSF;
    c->afmt = rnd(&s, 3) ? c->fmt : rnd(&s, (int)NSF);
    c->mode = rnd(&s, 2) ? 0 : rnd(&s, (int)(sizeof MODES / sizeof *MODES));
    c->mac = rnd(&s, (int)NMAC);
    if (!strcmp(SFMTS[c->afmt], "int8@channel")) /* activations: channel is an error */
        c->afmt = 0;
}

static void make_spec(const scase *c, uint64_t *s, char *buf, size_t cap)
{
    size_t n = 0;
    int C = 1 + rnd(s, 12), H = 1 + rnd(s, 6), W = 1 + rnd(s, 6);
    int kh = 1 + rnd(s, 3), kw = 1 + rnd(s, 3);
    if (H < kh)
        H = kh;
    if (W < kw)
        W = kw;
    appendf(buf, cap, &n, "name: s%d\ninput: {shape: [%d, %d, %d]}\nlayers:\n", c->kind, C, H, W);
    appendf(buf, cap, &n, "  - {name: pre, op: dropout}\n");
    switch (c->kind) {
    case K_CONV: {
        int groups = C % 2 == 0 && rnd(s, 3) == 0 ? 2 : 1;
        int out = groups * (1 + rnd(s, 4));
        appendf(buf, cap, &n,
                "  - {name: t, op: conv, out: %d, kernel: [%d, %d], stride: [%d, %d], "
                "pad: [%d, %d, %d, %d], groups: %d%s}\n",
                out, kh, kw, 1 + rnd(s, 2), 1 + rnd(s, 2), rnd(s, 2), rnd(s, 2), rnd(s, 2),
                rnd(s, 2), groups, rnd(s, 4) == 0 ? ", bias: false" : "");
        break;
    }
    case K_DW:
        appendf(buf, cap, &n,
                "  - {name: t, op: conv, out: %d, kernel: [%d, %d], stride: 1, pad: same, groups: %d}\n",
                C, kh, kw, C);
        break;
    case K_DENSE:
        appendf(buf, cap, &n, "  - {name: t, op: dense, out: %d%s}\n", 1 + rnd(s, 7),
                rnd(s, 4) == 0 ? ", bias: false" : "");
        break;
    default: /* after dropout: not folded, a per-channel 1-term MAC */
        appendf(buf, cap, &n, "  - {name: t, op: batchnorm}\n");
        break;
    }
    appendf(buf, cap, &n, "  - {name: post, op: relu}\n");
}

static void make_prec(const scase *c, char *buf, size_t cap)
{
    size_t n = 0;
    const macv *mv = &MACV[c->mac];
    const char *w = SFMTS[c->fmt], *a = SFMTS[c->afmt];
    const char *mode = nr_format_rounding_name(MODES[c->mode]);
    appendf(buf, cap, &n,
            "default: {weights: %s, activations: %s, products: %s, accumulator: %s, "
            "rounding: %s, mac: %s%s",
            w, a, mv->ps, mv->ps, mode, mv->mac, mv->promote ? ", promote: " : "");
    if (mv->promote)
        appendf(buf, cap, &n, "%d", mv->promote);
    appendf(buf, cap, &n, "}\nseed: %llu\n", (unsigned long long)(c->seed * 2654435761u));
}

/* Inputs with the edge cases of [scl-*]: per position a pattern. */
static void make_input(uint64_t *s, float *x, int C, int HW)
{
    for (int p = 0; p < HW; p++) {
        int pat = rnd(s, 12);
        double scale = ldexp(1.0, rnd(s, 8) - 4);
        for (int c = 0; c < C; c++) {
            float *v = &x[(size_t)c * HW + p];
            double u = 2 * tu_unif(s) - 1;
            switch (pat) {
            case 0: *v = 0.0f; break;                                   /* all-zero block */
            case 1: *v = c == C / 2 ? NAN : (float)(u * scale); break;  /* NaN block */
            case 2: *v = c == 0 ? -INFINITY : (float)(u * scale); break;
            case 3: *v = c == 0 ? 7.0f : (float)(u * 3); break;         /* E2M1 amax 7 */
            case 4: *v = c == 0 ? 448.0f : (float)(u * 448); break;     /* E4M3's max */
            case 5: *v = (float)(u * 0x1p120); break;                   /* e8m0 top */
            case 6: *v = (float)(u * 0x1p-140); break;                  /* e8m0 bottom */
            case 7: *v = c == 0 ? 0x1.8p2f : (float)(u * 6); break;     /* 6 = E2M1 max */
            case 8: *v = (float)ldexp(1.0, rnd(s, 10) - 5) * (rnd(s, 2) ? 1 : -1); break;
            default: *v = (float)(u * scale); break;
            }
        }
    }
}


/* Emulator vs JIT on n samples: float outputs and the output layer's
 * values in the arena.  Returns the mismatches (first few printed). */
static int compare(nr_model *m, const float *x, int n, const char *what)
{
    return tu_gen_compare(m, x, n, &(tu_gen_cmp){.nan_equal = 1, .check_arena = 1}, what);
}

/* Build case id (its spec and precision), compare; returns mismatches, or
 * -1 when the emulator refuses the combination (counted, not run). */
static int run_case(int id)
{
    scase c;
    case_of(id, &c);
    char spec[2048], prec[1024], what[256];
    uint64_t s = c.seed * 0x9E3779B97F4A7C15ull + 5;
    make_spec(&c, &s, spec, sizeof spec);
    make_prec(&c, prec, sizeof prec);
    snprintf(what, sizeof what, "case %d (NUMREP_SCALED_CASE=%d) %s W=%s A=%s %s %s/%s promote %d",
             id, id, KIND[c.kind], SFMTS[c.fmt], SFMTS[c.afmt], nr_format_rounding_name(MODES[c.mode]),
             MACV[c.mac].mac, MACV[c.mac].ps, MACV[c.mac].promote);
    nr_err err = {0};
    nr_spec *sp = NULL;
    nr_precision *pr = NULL;
    ck_assert_msg(nr_spec_parse_string(spec, "case.yaml", &sp, &err) == 0, "%s: %s", what, err.msg);
    if (nr_precision_parse_string(prec, "prec.yaml", &pr, &err)) {
        nr_spec_free(sp);
        return -1; /* an invalid combination ([scl-dot-check]) */
    }
    nr_model *m = NULL;
    int rc = nr_model_build(sp, pr, NULL, c.seed + 1, &m, &err); /* owns sp, pr */
    if (rc)
        return -1;
    int n = 2;
    size_t nin = nr_shape_count(m->in_shape);
    float *x = malloc((size_t)n * nin * sizeof *x);
    ck_assert(x);
    for (int k = 0; k < n; k++)
        make_input(&s, x + (size_t)k * nin, m->in_shape[0], m->in_shape[1] * m->in_shape[2]);
    /* weights at the edges too: a zero block, one at an element's max */
    nr_layer *L = &m->layers[1];
    if (L->nw > 2 && rnd(&s, 2)) {
        L->w[0] = 0x1p-100 * (rnd(&s, 2) ? 1 : -1);
        L->w[L->nw - 1] = 448.0;
    }
    const char *one = getenv("NUMREP_SCALED_CASE");
    if (one && *one)
        printf("%s\nspec:\n%sprecision:\n%s", what, spec, prec);
    /* the weights were quantized at build: edit before that is not possible
     * here, so rebuild the quantization from the edited weights */
    free(L->wq), L->wq = NULL;
    free(L->wscale), L->wscale = NULL;
    L->nwscale = 0, L->wq_clipped = L->wq_zero = L->wq_nan = 0;
    if (L->prec.weights_scaled.gran != NR_GRAN_NONE)
        ck_assert_msg(nr_model_quantize_weights(m, &err) == 0, "%s: %s", what, err.msg);
    int bad = compare(m, x, n, what);
    if (bad)
        fprintf(stderr, "%s: %d mismatches\nspec:\n%sprecision:\n%s", what, bad, spec, prec);
    free(x);
    nr_model_free(m);
    return bad;
}

START_TEST(test_random_cases)
{
    const char *one = getenv("NUMREP_SCALED_CASE");
    if (one && *one) {
        ck_assert_int_le(run_case(atoi(one)), 0);
        return;
    }
    int n = tu_exhaustive() ? 4800 : tu_quick() ? 60 : 200, bad = 0, skipped = 0, failed = 0;
    for (int id = 0; id < n; id++) {
        int r = run_case(id);
        if (r < 0)
            skipped++;
        else if (r > 0)
            bad += r, failed++;
    }
    printf("scaled diff: %d cases, %d invalid combinations skipped, %d failed\n", n, skipped,
           failed);
    ck_assert_msg(failed == 0, "%d cases differ (%d values)", failed, bad);
    ck_assert_msg(skipped < n / 2, "too many invalid combinations: %d of %d", skipped, n);
}
END_TEST

/* LeNet-5 (specs/lenet5, random weights when its safetensors is absent)
 * under every preset, as `numrep run -p NAME` builds it. */
START_TEST(test_lenet_presets)
{
    char net[1024];
    snprintf(net, sizeof net, "%s/specs/lenet5/lenet5.yaml", tu_source_dir());
    FILE *f = fopen(net, "r");
    if (!f) {
        tu_skip("no specs/lenet5");
        return;
    }
    fclose(f);
    nr_err err = {0};
    for (int i = 0; i < nr_scaled_preset_count() + 2; i++) {
        const char *name = i < nr_scaled_preset_count() ? nr_scaled_preset_name(i)
                           : i == nr_scaled_preset_count() ? "int8@channel"
                                                           : "int4@b32:fp32";
        nr_scaled sc;
        ck_assert(nr_scaled_parse(name, &sc, &err) == 0);
        nr_precision *pr = NULL;
        ck_assert(nr_precision_uniform_scaled(&sc, &pr, &err) == 0);
        nr_spec *sp = NULL;
        ck_assert_msg(nr_spec_load(net, &sp, &err) == 0, "%s", err.msg);
        nr_model *m = NULL;
        ck_assert_msg(nr_model_build(sp, pr, NULL, 0, &m, &err) == 0, "%s", err.msg);
        int n = 8;
        float *x = tu_load_sample("lenet5", &n, m);
        char what[64];
        snprintf(what, sizeof what, "lenet5 -p %s", name);
        ck_assert_int_eq(compare(m, x, n, what), 0);
        free(x);
        nr_model_free(m);
    }
}
END_TEST


/* The model of a spec and a precision given as text (assertions name what). */
static nr_model *model_of(const char *spec, const char *prec, uint64_t seed, const char *what)
{
    nr_err err = {0};
    nr_spec *sp = NULL;
    nr_precision *pr = NULL;
    ck_assert_msg(nr_spec_parse_string(spec, "spec.yaml", &sp, &err) == 0, "%s: %s", what, err.msg);
    ck_assert_msg(nr_precision_parse_string(prec, "p.yaml", &pr, &err) == 0, "%s: %s", what, err.msg);
    nr_model *m = NULL;
    ck_assert_msg(nr_model_build(sp, pr, NULL, seed, &m, &err) == 0, "%s: %s", what, err.msg);
    return m;
}

/* compare() on two samples of make_input's edge cases; frees m. */
static int compare_edges(nr_model *m, uint64_t seed, const char *what)
{
    uint64_t s = seed;
    int n = 2;
    size_t nin = nr_shape_count(m->in_shape);
    float *x = malloc((size_t)n * nin * sizeof *x);
    ck_assert(x);
    for (int k = 0; k < n; k++)
        make_input(&s, x + (size_t)k * nin, m->in_shape[0], m->in_shape[1] * m->in_shape[2]);
    int bad = compare(m, x, n, what);
    free(x);
    nr_model_free(m);
    return bad;
}

/* The vector kernel (emit_scaled_vmac.c) and quantization
 * (emit_scaled_vquant.c): convs wide enough for full 16-channel blocks and
 * a narrower last one, input channels that leave a short last block (and
 * blocks of one), odd output widths (a partial group of columns) and
 * position counts (the scalar quantization's tail), stride, padding, two
 * groups of 16, a pad of 2 (the zero-padded input copy); block-fp32 (power-of-two
 * and fp32/nv scales, the round-to-odd entry), block-exact per channel (one
 * segment) and per block, in rne and rz.  Each case asserts that the
 * kernel applies, then compares with the emulator bit for bit. */
typedef struct vcase { const char *w, *a, *mac, *rnd; } vcase;

/* Count one compared case (bad: its mismatches) and print a failing one. */
static void tally(int bad, const char *what, int *cases, int *failed)
{
    (*cases)++;
    if (bad)
        (*failed)++, fprintf(stderr, "%s: %d mismatches\n", what, bad);
}
static const vcase VCASES[] = {
    {"mxfp8", "mxfp8", "block-fp32", "rne"},
    {"nvfp4", "nvfp4", "block-fp32", "rne"},
    {"mxfp4", "mxfp4", "block-fp32", "rne"},
    {"mxfp6e2m3", "e2m3@b32:e8m0:rceil", "block-fp32", "rne"},
    {"e4m3@b16:ue4m3:amax-up", "e4m3@b16:ue4m3", "block-fp32", "rne"},
    {"e2m1@b5:nv:amax-up", "e2m1@b5:nv", "block-fp32", "rne"},
    {"e4m3@tensor:fp32", "e4m3@tensor:fp32", "block-fp32", "rne"},
    {"e4m3@channel:fp32", "e5m2@b1:e8m0", "block-fp32", "rne"},
    {"e4m3@b1:e8m0", "e4m3@tensor:e8m0", "block-fp32", "rne"},
    {"int8@channel", "int8@tensor:fp32", "block-exact", "rne"},
    {"int8@channel", "int8@tensor:fp32", "block-exact", "rz"},
    {"int4@b16:fp32", "int4@b16:fp32", "block-exact", "rne"},
    {"int4@b3:fp32", "int4@b3:fp32", "block-exact", "ru"},
};
#define NVC (sizeof VCASES / sizeof *VCASES)

START_TEST(test_vector_kernel)
{
    static const int shapes[][9] = {
        /* C, H, W, out, k, stride, pad, groups, bias */
        {17, 5, 6, 20, 3, 1, 1, 1, 1}, {40, 6, 5, 32, 3, 2, 1, 1, 0}, {64, 5, 5, 32, 3, 1, 0, 2, 1},
        {32, 4, 7, 16, 3, 1, 2, 1, 1}, /* pad 2: taps in the copy's padding on both sides */
    };
    const int nsh = (int)(sizeof shapes / sizeof *shapes);
    int cases = 0, failed = 0;
    for (int v = 0; v < (int)NVC; v++)
        for (int si = 0; si < nsh; si++) {
            const int *h = shapes[si];
            char spec[1024], prec[512], what[256];
            snprintf(spec, sizeof spec,
                     "name: v\ninput: {shape: [%d, %d, %d]}\nlayers:\n  - {name: pre, op: dropout}\n"
                     "  - {name: t, op: conv, out: %d, kernel: [%d, %d], stride: %d, pad: %d, groups: %d%s}\n"
                     "  - {name: post, op: relu}\n",
                     h[0], h[1], h[2], h[3], h[4], h[4], h[5], h[6], h[7], h[8] ? "" : ", bias: false");
            snprintf(prec, sizeof prec,
                     "default: {weights: %s, activations: %s, products: fp32, accumulator: fp32, "
                     "rounding: %s, mac: %s}\n",
                     VCASES[v].w, VCASES[v].a, VCASES[v].rnd, VCASES[v].mac);
            snprintf(what, sizeof what, "vector W=%s A=%s %s %s shape %d", VCASES[v].w, VCASES[v].a,
                     VCASES[v].mac, VCASES[v].rnd, si);
            nr_model *m = model_of(spec, prec, 7, what);
            /* with two groups an input block must divide the group's 32 channels */
            int bx = m->layers[0].prec.activations_scaled.gran == NR_GRAN_BLOCK
                         ? m->layers[0].prec.activations_scaled.block
                         : 1;
            if (h[7] == 1 || 32 % bx == 0)
                ck_assert_msg(gen_scaled_vmac_applies(m, 1, 0), "%s: the vector kernel does not apply",
                              what);
            tally(compare_edges(m, 99 + (uint64_t)(v * 31 + si), what), what, &cases, &failed);
        }
    printf("scaled vector kernel: %d cases, %d failed\n", cases, failed);
    ck_assert_int_eq(failed, 0);
}
END_TEST

/* Static (calibrated) activation scales ([scl-cal-use]) in the generator:
 * fp32, e8m0 and ue4m3 tensor scales and nv's static fp32 tensor scale
 * ([scl-nv-static]) from the precision file's scales:,
 * on a conv (the vector kernel where it applies, the scalar one in rz) and
 * a dense layer, against the emulator. */
START_TEST(test_static_scales)
{
    static const struct { const char *w, *a, *mac, *rnd, *sc; } cs[] = {
        {"int8@channel", "int8@tensor:fp32:static", "block-exact", "rne", "0.0123, pre: 0.0123, t: 0.07, post: 0.07"},
        {"int8@channel", "int8@tensor:fp32:static", "block-exact", "rz", "0.3, pre: 0.3, t: 1.5e-3, post: 2.5"},
        {"mxfp8", "e4m3@tensor:e8m0:static", "block-fp32", "rne", "0.015625, pre: 0.015625, t: 0.0625, post: 0.0625"},
        {"e4m3@b16:ue4m3", "e4m3@tensor:ue4m3:static", "block-fp32", "rne", "0.1015625, pre: 0.0625, t: 0.001953125, post: 448"},
        /* [scl-nv-static]: static fp32 tensor scales, dynamic ue4m3 block scales
         * (small ones clamp s_b at 448 and clip, large ones at 2^-9) */
        {"nvfp4", "e2m1@b16:nv:static", "block-fp32", "rne", "0.001, pre: 0.001, t: 2e-5, post: 0.003"},
        {"nvfp4", "e2m1@b16:nv:static", "block-fp32", "rz", "0.01, pre: 1e-4, t: 0.5, post: 3e-6"},
        {"int8@channel", "int4@b8:nv:static", "block-exact", "rne", "3e-4, pre: 0.02, t: 1e-3, post: 10"},
    };
    static const char *const layer[] = {
        "{name: t, op: conv, out: 20, kernel: [3, 3], pad: 1}", "{name: t, op: dense, out: 7}"};
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++)
        for (int d = 0; d < 2; d++) {
            char spec[512], prec[512], what[256];
            snprintf(spec, sizeof spec,
                     "name: st\ninput: {shape: [20, 5, 5]}\nlayers:\n  - {name: pre, op: dropout}\n"
                     "  - %s\n  - {name: post, op: relu}\n", layer[d]);
            snprintf(prec, sizeof prec,
                     "default: {weights: %s, activations: %s, products: fp32, accumulator: fp32, "
                     "rounding: %s, mac: %s}\nscales: {input: %s}\n",
                     cs[i].w, cs[i].a, cs[i].rnd, cs[i].mac, cs[i].sc);
            snprintf(what, sizeof what, "static W=%s A=%s %s %s %s", cs[i].w, cs[i].a, cs[i].mac,
                     cs[i].rnd, d ? "dense" : "conv");
            nr_model *m = model_of(spec, prec, 3, what);
            ck_assert(m->in_scale > 0 && m->layers[1].act_scale > 0);
            ck_assert_int_eq(compare_edges(m, 1234 + i, what), 0);
        }
}
END_TEST

/* The ops between MAC layers on scaled tensors (they read the exact
 * doubles P*X and round to the fp32 carrier, then their output is
 * quantized): a residual block as in ResNet-20 (conv, relu, conv, add of
 * two scaled tensors, relu, a strided slice and a channel pad as the
 * shortcut, then a second add), max and global average pooling and a
 * dense layer, with random weights, under every preset, int8 per channel
 * and a few general forms, in rne (the host-arithmetic paths) and rz;
 * inputs with make_input's edge cases. */
START_TEST(test_residual_ops)
{
    static const char *const spec =
        "name: res\ninput: {shape: [16, 8, 8]}\nlayers:\n"
        "  - {name: c1, op: conv, out: 16, kernel: 3, pad: 1}\n"
        "  - {name: r1, op: relu}\n"
        "  - {name: c2, op: conv, out: 16, kernel: 3, pad: 1}\n"
        "  - {name: a1, op: add, inputs: [c2, input]}\n"
        "  - {name: r2, op: relu}\n"
        "  - {name: c3, op: conv, out: 32, kernel: 3, stride: 2, pad: 1}\n"
        "  - {name: sl, op: slice, input: r2, h: [0, end, 2], w: [0, end, 2]}\n"
        "  - {name: pd, op: pad, c: [8, 8]}\n"
        "  - {name: a2, op: add, inputs: [c3, pd]}\n"
        "  - {name: mp, op: maxpool, kernel: 2, stride: 1}\n"
        "  - {name: gp, op: global_avgpool}\n"
        "  - {name: fc, op: dense, out: 10}\n"
        "output: fc\n";
    const char *fmts[16];
    int nf = 0;
    for (int i = 0; i < nr_scaled_preset_count() && nf < 12; i++)
        fmts[nf++] = nr_scaled_preset_name(i);
    fmts[nf++] = "int8@channel";
    fmts[nf++] = "int4@b32:fp32";
    fmts[nf++] = "e4m3@b16:ue4m3:amax-up";
    int failed = 0, cases = 0;
    for (int f = 0; f < nf; f++)
        for (int r = 0; r < 2; r++) {
            char prec[256], what[128];
            snprintf(prec, sizeof prec, "default: {weights: %s, rounding: %s}\n", fmts[f],
                     r ? "rz" : "rne");
            snprintf(what, sizeof what, "residual ops -p %s %s", fmts[f], r ? "rz" : "rne");
            nr_model *m = model_of(spec, prec, 11 + (uint64_t)f, what);
            tally(compare_edges(m, 555 + (uint64_t)(f * 2 + r), what), what, &cases, &failed);
        }
    printf("scaled residual ops: %d cases, %d failed\n", cases, failed);
    ck_assert_int_eq(failed, 0);
}
END_TEST

/* The quantization's quotients V / X at rounding boundaries: the vector
 * quantization (emit_scaled_vquant.c) divides by multiplying with the
 * rounded reciprocal and correcting with exact residuals, which must give
 * the exact quotient rounded to odd.  An unscaled layer feeds a relu whose
 * output is quantized ([scl-dot-act]) with a tensor or nv scale that is
 * known exactly (the tensor's amax is max * X0, NVFP4's blocks have amax
 * 6 * s_t * s_b), and the other values are element midpoints times the
 * scale (ties) and their float neighbours, plus random values; the second
 * sample holds make_input's edge cases (zero, NaN, infinite groups). */
static float tie_value(uint64_t *s, const nr_format *e, double X)
{
    double mid, step;
    if (e->kind == NR_FIXED) {
        step = ldexp(1.0, -e->frac_bits);
        mid = (rnd(s, (int)(e->max_finite / step)) + 0.5) * step;
    } else {
        int ex = e->emin + rnd(s, (int)ilogb(e->max_finite) - e->emin + 1);
        step = ldexp(1.0, ex - e->man_bits);
        mid = ldexp(1.0, ex) + (rnd(s, 1 << e->man_bits) + 0.5) * step;
        if (mid >= e->max_finite)
            mid = e->max_finite - step / 2;
    }
    float v = (float)(mid * X);
    switch (rnd(s, 4)) {
    case 0: return nextafterf(v, INFINITY);
    case 1: return nextafterf(v, 0.0f);
    case 2: return (float)(tu_unif(s) * e->max_finite * X);
    default: return v;
    }
}

START_TEST(test_quant_ties)
{
    static const char *const fmts[] = {"int8@tensor:fp32", "int4@tensor:fp32", "e4m3@tensor:fp32",
                                       "e2m1@tensor:fp32", "nvfp4", "e2m1@b8:nv", "e4m3@b16:ue4m3"};
    const int C = 32, H = 5, W = 5, HW = H * W;
    int cases = 0, failed = 0;
    for (size_t f = 0; f < sizeof fmts / sizeof *fmts; f++)
        for (int t = 0; t < 4; t++) {
            char spec[512], prec[256], what[128];
            snprintf(spec, sizeof spec,
                     "name: q\ninput: {shape: [%d, %d, %d]}\nlayers:\n  - {name: pre, op: dropout}\n"
                     "  - {name: post, op: relu}\n", C, H, W);
            snprintf(prec, sizeof prec, "default: {activations: fp32}\nlayers:\n  post: {activations: %s}\n",
                     fmts[f]);
            snprintf(what, sizeof what, "quotient ties -p %s, trial %d", fmts[f], t);
            nr_model *m = model_of(spec, prec, 5, what);
            const nr_scaled *sc = &m->layers[1].prec.activations_scaled;
            const nr_format *e = &sc->elem;
            uint64_t s = 777 + f * 16 + (uint64_t)t;
            float *x = malloc(2 * (size_t)C * HW * sizeof *x);
            ck_assert(x);
            /* a scale of 15 significant bits, so that max * X0 is a float */
            double X0 = ldexp(1.0 + (double)rnd(&s, 1 << 14) * 0x1p-14, rnd(&s, 40) - 30);
            int blk = sc->gran == NR_GRAN_BLOCK ? sc->block : 0, nv = sc->scale == NR_SCALE_NV;
            for (int p = 0; p < HW; p++)
                for (int c = 0; c < C; c++) {
                    double X = X0;
                    if (nv) /* X0 = s_t; a ue4m3 s_b per block (448 at position 0) */
                        X = X0 * (p == 0 ? 448.0 : ldexp(8 + (p * 7 + c / blk) % 8, (p + c / blk) % 12 - 9));
                    else if (blk) /* ue4m3 scales: X0 itself rounds, any X is fine */
                        X = ldexp(8 + (p * 5 + c / blk) % 8, (p + c / blk) % 10 - 8);
                    int first = blk ? c % blk == 0 : p == 0 && c == 0;
                    x[(size_t)c * HW + p] = first ? (float)(e->max_finite * X) : tie_value(&s, e, X);
                }
            make_input(&s, x + (size_t)C * HW, C, HW);
            tally(compare(m, x, 2, what), what, &cases, &failed);
            free(x);
            nr_model_free(m);
        }
    printf("scaled quotient ties: %d cases, %d failed\n", cases, failed);
    ck_assert_int_eq(failed, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gen_scaled");
    TCase *tc = tcase_create("diff");
    tcase_set_timeout(tc, 600);
    TCase *tv = tcase_create("vector");
    tcase_set_timeout(tv, 1200);
    tcase_add_test(tv, test_vector_kernel);
    tcase_add_test(tv, test_static_scales);
    suite_add_tcase(s, tv);
    TCase *tq = tcase_create("ties");
    tcase_set_timeout(tq, 600);
    tcase_add_test(tq, test_quant_ties);
    suite_add_tcase(s, tq);
    TCase *to = tcase_create("ops");
    tcase_set_timeout(to, 600);
    tcase_add_test(to, test_residual_ops);
    suite_add_tcase(s, to);
    tcase_add_test(tc, test_random_cases);
    tcase_add_test(tc, test_lenet_presets);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
