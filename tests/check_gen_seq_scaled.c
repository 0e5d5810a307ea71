/* check_gen_seq_scaled.c -- scaled formats on the sequence ops in the
 * generator (gen/lower/emit_seq_scaled.c, [scl-seq]) against the reference
 * emulator, bit for bit: a pre-norm attention block and a GPT-style MLP
 * whose dot products have odd lengths (features 12 and 13, head dimension
 * 6, 7 tokens: blocks of 32, 16 and 4 leave short last blocks, and
 * attention x V's blocks run down V's columns), under MXFP8, MXFP4, NVFP4,
 * MXFP6, int8 per channel, int4 per block of 32 and e2m1 in blocks of 4,
 * each mac mode and promote, rz; the refusals; and the real CCT and GPT
 * with the shipped MXFP8/MXFP4/NVFP4 precision files on sample inputs. */
#include "testutil.h"
#include "testutil_gen.h"
#include "emulator.h"
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const nr_model *m, const float *x, int n, const char *what)
{
    gen_model_opts o = {.opt_level = 2};
    return tu_gen_compare(m, x, n, &(tu_gen_cmp){.opts = &o, .nan_equal = 0}, what);
}

static const char *const BLOCK =
    "input: {shape: [1, 7, 12]}\nlayers:\n"
    "  - {name: ln1, op: layernorm}\n"
    "  - {name: qkv, op: linear, out: 36}\n"
    "  - {name: q, op: slice, input: qkv, w: [0, 12]}\n  - {name: qh, op: heads, heads: 2}\n"
    "  - {name: k, op: slice, input: qkv, w: [12, 24]}\n  - {name: kh, op: heads, heads: 2}\n"
    "  - {name: v, op: slice, input: qkv, w: [24, 36]}\n  - {name: vh, op: heads, heads: 2}\n"
    "  - {name: s, op: matmul, inputs: [qh, kh], transpose_b: true}\n"
    "  - {name: sc, op: scale, by: 0.4}\n"
    "  - {name: a, op: softmax_axis, axis: 2}\n"
    "  - {name: ctx, op: matmul, inputs: [a, vh]}\n"
    "  - {name: m, op: merge_heads}\n"
    "  - {name: o, op: linear, out: 12}\n"
    "  - {name: r, op: add, inputs: [input, o]}\n"
    "  - {name: up, op: linear, out: 13, bias: false}\n"
    "  - {name: g, op: gelu}\n"
    "  - {name: down, op: linear, out: 12}\n"
    "  - {name: p, op: linear, out: 1}\n"
    "  - {name: ps, op: softmax_axis, axis: 1}\n"
    "  - {name: pool, op: matmul, inputs: [ps, down], transpose_a: true}\n";

static float *inputs(uint64_t seed, size_t n)
{
    uint64_t s = seed;
    float *x = tu_uniform_floats(&s, n, -2, 2);
    x[3] = 0, x[17] = 30; /* a zero, a large value (clipping) */
    return x;
}

START_TEST(block_formats)
{
    static const char *fmts[] = {"mxfp8",    "mxfp4",         "nvfp4",   "int8@channel",
                                 "mxfp6e2m3", "int4@b32:fp32", "e2m1@b4", "e4m3@b5:ue4m3"};
    float *x = inputs(3, 2 * 84);
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        char prec[512];
        snprintf(prec, sizeof prec,
                 "default: {weights: bf16, activations: bf16, products: fp32, accumulator: "
                 "fp32, nonlinear: bf16}\nops: {linear: %s, matmul: %s, softmax_axis: bf16, "
                 "layernorm: bf16, gelu: bf16}\n", fmts[i], fmts[i]);
        nr_model *m = tu_model_ok(BLOCK, prec, 5);
        ck_assert_int_eq(compare(m, x, 2, fmts[i]), 0);
        nr_model_free(m);
    }
    free(x);
}
END_TEST

/* Every mac mode, promote and another rounding mode on blocks of 4. */
START_TEST(block_macs)
{
    static const char *roles[] = {
        "{weights: e2m1@b4, activations: e2m1@b4, mac: block-exact}",
        "{weights: e2m1@b4, activations: e2m1@b4, products: bf16, accumulator: bf16, mac: unfused}",
        "{weights: e4m3@b4, activations: e4m3@b4, accumulator: fp16, mac: fused}",
        "{weights: e2m1@b4, activations: e2m1@b4, products: fp32, accumulator: fp32, mac: exact}",
        "{weights: e4m3@b4, activations: e4m3@b4, products: bf16, accumulator: bf16, mac: unfused, promote: 3}",
        "{weights: mxfp8, activations: mxfp8, mac: block-fp32, rounding: rz}",
        "{weights: nvfp4, activations: fp32, mac: block-fp32}",
        "{weights: fp32, activations: mxfp4, mac: block-exact}",
    };
    float *x = inputs(4, 84);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        char prec[512];
        snprintf(prec, sizeof prec,
                 "default: {weights: bf16, activations: bf16, products: fp32, accumulator: "
                 "fp32}\nops: {linear: %s%s%s}\n", roles[i],
                 strstr(roles[i], "activations: fp32") ? "" : ", matmul: ", /* no operands */
                 strstr(roles[i], "activations: fp32") ? "" : roles[i]);
        nr_model *m = tu_model_ok(BLOCK, prec, 6);
        ck_assert_int_eq(compare(m, x, 1, roles[i]), 0);
        nr_model_free(m);
    }
    free(x);
}
END_TEST

/* What the generator leaves to the emulator, named. */
START_TEST(refusals)
{
    nr_model *m = tu_model_ok(BLOCK,
                              "default: {weights: bf16, rounding: sr}\nops: {linear: mxfp8}\n", 5);
    nr_err e = {0};
    ck_assert_int_eq(gen_plan_model_check(m, &e), -NR_EUNSUP);
    ck_assert_msg(strstr(e.msg, "stochastic") && !strcmp(e.where, "qkv"), "%s", tu_errstr(&e));
    nr_model_free(m);
    m = tu_model_ok(BLOCK, "default: {weights: fp32}\nops: {gelu: mxfp8}\n", 5);
    e = (nr_err){0};
    ck_assert_int_eq(gen_plan_model_check(m, &e), -NR_EUNSUP);
    ck_assert_msg(strstr(e.msg, "only to linear and matmul"), "%s", tu_errstr(&e));
    nr_model_free(m);
}
END_TEST

/* The shipped models with the shipped precision files. */
static void real_model(const char *name, const char *fmt, int n)
{
    char net[4096], prec[4200];
    snprintf(net, sizeof net, "%s/specs/%s/%s.yaml", tu_source_dir(), name, name);
    snprintf(prec, sizeof prec, "%s/specs/%s/%s_bf16.yaml", tu_source_dir(), name, fmt);
    nr_model *m = NULL;
    nr_err e = {0};
    ck_assert_msg(nr_model_load(net, prec, &m, &e) == 0, "%s", tu_errstr(&e));
    float *x = tu_load_sample(name, &n, m);
    ck_assert(x && n > 0);
    char what[64];
    snprintf(what, sizeof what, "%s %s", name, fmt);
    ck_assert_int_eq(compare(m, x, n, what), 0);
    free(x);
    nr_model_free(m);
}

START_TEST(real_models)
{
    real_model("gpt", "mxfp8", 2);
    real_model("gpt", "nvfp4", 2);
    if (!tu_quick()) {
        real_model("gpt", "mxfp4", 2);
        real_model("cct", "nvfp4", 1);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gen_seq_scaled");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 1800);
    tcase_add_test(t, block_formats);
    tcase_add_test(t, block_macs);
    tcase_add_test(t, refusals);
    tcase_add_test(t, real_models);
    suite_add_tcase(s, t);
    return tu_run(s);
}
