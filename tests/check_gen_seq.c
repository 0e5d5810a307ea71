/* check_gen_seq.c -- the generator's sequence ops (gen/lower/emit_seq.c,
 * emit_mac.c's gen_emit_mac_seq, runtime/rt/nlrt_gen.c) against the
 * reference emulator, bit for bit: every op alone and a whole pre-norm
 * encoder block, with deterministic random weights and inputs (including
 * large values, zeros and a NaN), under several precisions (fp32, bf16,
 * e4m3, e6m7 with rne/rz/sr, a nonlinear format unlike the activations,
 * per-op overrides, the three MAC modes); the screens of nlrt_gen.c
 * against the full evaluation; the generator's refusals; and the real
 * CCT-4/3x1 (specs/cct) on its shipped sample images. */
#include "testutil.h"
#include "testutil_gen.h"
#include "emulator.h"
#include "nlrt.h"
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Emulate and JIT-compile m on n samples x; the number of differing
 * float32 outputs (the first few printed). */
static int compare(const nr_model *m, const float *x, int n, const char *what)
{
    gen_model_opts o = {.opt_level = 2};
    return tu_gen_compare(m, x, n, &(tu_gen_cmp){.opts = &o}, what);
}

/* Inputs: uniform in [-scale, scale], with some zeros, large values and
 * (special) one NaN. */
static float *inputs(uint64_t *s, size_t count, double scale, int special)
{
    float *x = tu_uniform_floats(s, count, -scale, scale);
    for (size_t i = 0; i < count; i++) {
        uint64_t r = tu_rand(s) % 64;
        if (r == 0)
            x[i] = 0.0f;
        else if (r == 1)
            x[i] = (float)(scale * 40 * (tu_unif(s) - 0.5));
    }
    if (special && count > 3)
        x[count / 3] = NAN;
    return x;
}

/* The nets: input [1, 6, 8] (a [B, T, F] tensor in the C, H, W slots). */
static const char *const NETS[] = {
    /* linear with and without bias */
    "input: {shape: [1, 6, 8]}\nlayers:\n  - {name: l, op: linear, out: 5}\n",
    "input: {shape: [1, 6, 8]}\nlayers:\n  - {name: l, op: linear, out: 7, bias: false}\n",
    /* tokens from a conv map, then add_const (position embeddings) */
    "input: {shape: [4, 3, 5]}\nlayers:\n  - {name: t, op: tokens}\n"
    "  - {name: p, op: add_const}\n",
    /* heads, scale, matmul Q K^T, softmax over keys, attention x V, merge */
    "input: {shape: [1, 6, 8]}\nlayers:\n  - {name: q, op: heads, heads: 2}\n"
    "  - {name: s, op: scale, by: 0.5}\n"
    "  - {name: qk, op: matmul, inputs: [s, q], transpose_b: true}\n"
    "  - {name: a, op: softmax_axis, axis: 2}\n"
    "  - {name: av, op: matmul, inputs: [a, q]}\n  - {name: m, op: merge_heads}\n",
    /* matmul with transpose_a and broadcast (sequence pooling) */
    "input: {shape: [1, 6, 8]}\nlayers:\n  - {name: w, op: linear, out: 1}\n"
    "  - {name: p, op: softmax_axis, axis: 1, form: plain}\n"
    "  - {name: o, op: matmul, inputs: [p, input], transpose_a: true}\n",
    /* softmax along axis 0 and gelu (both forms), layernorm */
    "input: {shape: [3, 4, 5]}\nlayers:\n  - {name: s, op: softmax_axis, axis: 0}\n"
    "  - {name: g, op: gelu, input: input}\n  - {name: a, op: add, inputs: [s, g]}\n"
    "  - {name: t, op: gelu, approximate: tanh}\n",
    "input: {shape: [1, 6, 8]}\nlayers:\n  - {name: n, op: layernorm}\n",
    "input: {shape: [1, 6, 8]}\nlayers:\n  - {name: n, op: layernorm, eps: 0.25}\n"
    "  - {name: g, op: gelu}\n",
};

/* A pre-norm encoder block: t + attn(LN(t)), then + mlp(LN(.)). */
static const char *const BLOCK =
    "input: {shape: [1, 7, 8]}\nlayers:\n"
    "  - {name: ln1, op: layernorm}\n"
    "  - {name: qkv, op: linear, out: 24}\n"
    "  - {name: q, op: slice, input: qkv, w: [0, 8]}\n  - {name: qh, op: heads, heads: 2}\n"
    "  - {name: k, op: slice, input: qkv, w: [8, 16]}\n  - {name: kh, op: heads, heads: 2}\n"
    "  - {name: v, op: slice, input: qkv, w: [16, 24]}\n  - {name: vh, op: heads, heads: 2}\n"
    "  - {name: qs, op: scale, input: qh, by: 0.5}\n"
    "  - {name: qk, op: matmul, inputs: [qs, kh], transpose_b: true}\n"
    "  - {name: sm, op: softmax_axis, axis: 2}\n"
    "  - {name: av, op: matmul, inputs: [sm, vh]}\n  - {name: mh, op: merge_heads}\n"
    "  - {name: proj, op: linear, out: 8}\n"
    "  - {name: r1, op: add, inputs: [proj, input]}\n"
    "  - {name: ln2, op: layernorm}\n  - {name: fc1, op: linear, out: 16}\n"
    "  - {name: act, op: gelu}\n  - {name: fc2, op: linear, out: 8}\n"
    "  - {name: r2, op: add, inputs: [fc2, r1]}\n";

static const char *const PRECS[] = {
    "default: {weights: fp32, activations: fp32, products: fp32, accumulator: fp32}\n",
    "default: {weights: bf16, activations: bf16, products: bf16, accumulator: bf16}\n",
    "default: {weights: e4m3, activations: e4m3, products: fp32, accumulator: fp32}\n",
    "default: {weights: e4m3, activations: e4m3, products: bf16, accumulator: bf16, "
    "nonlinear: bf16, mac: fused, rounding: rz}\n",
    "default: {weights: e6m7-finite-nosub-sat, activations: e6m7-finite-nosub-sat, products: e6m7-finite-nosub-sat, accumulator: e6m7-finite-nosub-sat, rounding: rz}\n",
    "default: {weights: e6m7-finite-nosub-sat, activations: e6m7-finite-nosub-sat, products: e6m7-finite-nosub-sat, accumulator: e6m7-finite-nosub-sat, rounding: rne, mac: exact}\n",
    "default: {weights: e6m7-finite-nosub-sat, activations: e6m7-finite-nosub-sat, products: e6m7-finite-nosub-sat, accumulator: e6m7-finite-nosub-sat, rounding: sr}\n",
    "default: {weights: fp16, activations: fp16, products: fp32, accumulator: fp32, "
    "nonlinear: e5m2, mac: fused}\nops: {softmax_axis: bf16, layernorm: {accumulator: fp16}}\n",
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
    size_t nin = nr_shape_count(m->in_shape);
    float *x = inputs(&s, nin * (size_t)samples, 3.0, 0);
    int bad = compare(m, x, samples, what);
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
            bad += run_net(NETS[i], PRECS[p], 11 + i * 31 + (uint64_t)p, 2, what) != 0;
        }
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(encoder_block)
{
    int bad = 0;
    for (int p = 0; p < NPRECS; p++) {
        char what[64];
        snprintf(what, sizeof what, "block, precision %d", p);
        bad += run_net(BLOCK, PRECS[p], 101 + (uint64_t)p, 3, what) != 0;
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* NaN and huge values through every op of the block (fp32 and bf16). */
START_TEST(specials)
{
    for (int p = 0; p < 2; p++) {
        nr_model *m = NULL;
        nr_err e = {0};
        ck_assert(tu_model_try(BLOCK, PRECS[p], 5, &m, &e) == 0);
        uint64_t s = 77;
        size_t nin = nr_shape_count(m->in_shape);
        float *x = inputs(&s, nin * 2, 1e3, 1);
        x[nin + 5] = INFINITY;
        x[nin + 9] = -3e38f;
        ck_assert_int_eq(compare(m, x, 2, p ? "specials bf16" : "specials fp32"), 0);
        free(x);
        nr_model_free(m);
    }
}
END_TEST

/* nlrt_gen.c's screens and fast quotient give the full evaluation's bits. */
START_TEST(screens)
{
    static const char *const OUT[] = {"fp32", "bf16", "e4m3", "e6m7-finite-nosub-sat", "fp16"};
    static const nr_rounding MODES[] = {NR_RND_RNE, NR_RND_RZ, NR_RND_RU, NR_RND_RD, NR_RND_RNA};
    const nr_nlfn FNS[] = {NR_NL_EXP, NR_NL_GELU};
    uint64_t s = 12345;
    long checked = 0;
    for (size_t o = 0; o < sizeof OUT / sizeof OUT[0]; o++) {
        nr_format of = tu_fmt(OUT[o]);
        for (size_t md = 0; md < sizeof MODES / sizeof MODES[0]; md++)
            for (int i = 0; i < 4000; i++) {
                /* random fp32 values of every magnitude that matters */
                double x = (float)ldexp(tu_unif(&s) - 0.5, (int)(tu_rand(&s) % 16) - 6);
                for (int f = 0; f < 2; f++) {
                    const nr_nl nl = {FNS[f], 0};
                    nr_format f32 = tu_fmt("fp32");
                    unsigned fl = 0;
                    uint64_t want = nr_nlrt(&nl, &f32, nr_encode(&f32, NR_RND_RNE, x, 0, NULL), &of,
                                            MODES[md], 0, &fl);
                    double got = nr_nlrt_gen(FNS[f], x, &of, MODES[md], 0);
                    ck_assert_msg(nr_encode(&of, NR_RND_RNE, got, 0, NULL) == want || (isnan(got) && nr_decode(&of, want) != nr_decode(&of, want)),
                                  "%s(%a) into %s mode %d: %a vs %a", nr_nl_name(FNS[f]), x,
                                  OUT[o], (int)MODES[md], got, nr_decode(&of, want));
                    checked++;
                }
                double a = (float)ldexp(tu_unif(&s), (int)(tu_rand(&s) % 20)), b = a + (float)tu_unif(&s);
                nr_exact ea, eb, q;
                nr_exact_from_double(a, &ea);
                nr_exact_from_double(b, &eb);
                nr_exact_div(&ea, &eb, &q);
                double want = nr_decode(&of, nr_round_exact(&of, MODES[md], &q, 0, NULL));
                ck_assert_msg(nr_nlrt_gen_div(a, b, &of, MODES[md], 0) == want, "%a / %a", a, b);
            }
    }
    ck_assert(checked > 100000);
}
END_TEST

/* What the generator does not run is refused with the layer named. */
START_TEST(refusals)
{
    nr_model *m = NULL;
    nr_err e = {0};
    ck_assert(tu_model_try("input: {shape: [1, 2, 4]}\nlayers:\n  - {name: gg, op: gelu}\n",
                           "default: {weights: fp32, activations: fp32, products: fp32, accumulator: fp32, nonlinear: fp64}\n", 1, &m, &e) == 0);
    ck_assert_int_eq(gen_plan_model_check(m, &e), -NR_EUNSUP);
    ck_assert_msg(strstr(e.where, "gg") && strstr(e.msg, "at most 32"), "%s: %s", e.where, e.msg);
    nr_model_free(m);
}
END_TEST

/* The real CCT-4/3x1 on the 8 images shipped with it, JIT vs emulator. */
START_TEST(cct)
{
    char net[4096];
    snprintf(net, sizeof net, "%s/specs/cct/cct.yaml", tu_source_dir());
    /* fp32, and e4m3 with softmax/layernorm/gelu in bf16: both take the
     * emulator's fast paths (every role narrow would take its generic path,
     * ~12 s of CPU per image: the small nets above cover those) */
    char mixed[4200];
    snprintf(mixed, sizeof mixed, "%s/specs/cct/e4m3_bf16.yaml", tu_source_dir());
    const char *precs[] = {"fp32", mixed};
    for (int p = 0; p < (tu_quick() ? 1 : 2); p++) {
        nr_model *m = NULL;
        nr_err e = {0};
        ck_assert_msg(nr_model_load(net, precs[p], &m, &e) == 0, "%s", e.msg);
        int n = 4;
        float *x = tu_load_sample("cct", &n, m);
        ck_assert(x && n > 0);
        const char *what = p ? "cct e4m3_bf16" : "cct fp32";
        ck_assert_int_eq(compare(m, x, n, what), 0);
        free(x);
        nr_model_free(m);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gen_seq");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 1800);
    tcase_add_test(t, screens);
    tcase_add_test(t, refusals);
    tcase_add_test(t, each_op);
    tcase_add_test(t, encoder_block);
    tcase_add_test(t, specials);
    tcase_add_test(t, cct);
    suite_add_tcase(s, t);
    return tu_run(s);
}
