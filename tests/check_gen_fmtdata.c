/* check_gen_fmtdata.c -- the differential harness of the format-as-data
 * rounding (gen/ir/emit_num_rt.c): ONE JIT-compiled function per operation,
 * its format a run-time parameter block, against the library's rounding
 * (nr_round; nr_arith_exact_add + nr_round_exact for sums), bit for bit, for the
 * search's whole default grid (eXmY-nosub-finite-sat, e2..e8 x m1..m23, and
 * qI.F, I 1..12, F 0..15) and other float variants and fixed formats, on
 * boundary values (overflow, the subnormal range, saturation, signed zeros,
 * infinities, NaN) and random ones, scalar and 8-wide vector code; and that
 * what is out of scope (other modes, wrapping or wide fixed point, fp64's
 * range) is refused. */
#include "testutil.h"
#include "testutil_gen.h"
#include "emit_num_rt.h"
#include "emulator.h"
#include "fmtdata.h"
#include "fmtdata_engine.h"
#include "model.h"
#include "plan.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double bits_d(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static uint64_t d_bits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }

/* The functions under test, compiled once for every format. */
typedef struct {
    gen_jit *jit;
    double (*rnd)(double, const gen_rtfmt *);
    double (*sum)(double, double, const gen_rtfmt *);
    void (*vrnd)(const double *, double *, const gen_rtfmt *); /* 8 lanes */
    /* the shortcuts by kind: scalar round, 8-lane sum */
    double (*rndk[GEN_RT_KINDS])(double, const gen_rtfmt *);
    void (*vsumk[GEN_RT_KINDS])(const double *, const double *, double *, const gen_rtfmt *);
} jfns;

/* vrnd(in, out, p): out[0..8) = round(in[0..8)) as one <8 x double>. */
static void emit_vector(gen_ctx *g)
{
    LLVMTypeRef ptr = LLVMPointerTypeInContext(g->ctx, 0), vt = LLVMVectorType(g->f64, 8);
    LLVMTypeRef args[3] = {ptr, ptr, ptr};
    LLVMValueRef fn = gen_emit_function(g, "vrnd", LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), args, 3, 0), 0);
    gen_numrt p;
    gen_numrt_load(g, LLVMGetParam(fn, 2), &p);
    LLVMValueRef x = LLVMBuildLoad2(g->b, vt, LLVMGetParam(fn, 0), "");
    LLVMSetAlignment(x, 8);
    LLVMValueRef st = LLVMBuildStore(g->b, gen_numrt_round(g, &p, x), LLVMGetParam(fn, 1));
    LLVMSetAlignment(st, 8);
    LLVMBuildRetVoid(g->b);
}

/* rndk<K>(x, p) and vsumk<K>(a, b, out, p) */
static void emit_kinds(gen_ctx *g)
{
    LLVMTypeRef ptr = LLVMPointerTypeInContext(g->ctx, 0), vt = LLVMVectorType(g->f64, 8);
    char nm[32];
    for (int k = 0; k < GEN_RT_KINDS; k++) {
        LLVMTypeRef a1[2] = {g->f64, ptr};
        snprintf(nm, sizeof nm, "rndk%d", k);
        LLVMValueRef fn = gen_emit_function(g, nm, LLVMFunctionType(g->f64, a1, 2, 0), 0);
        gen_numrt p;
        gen_numrt_load(g, LLVMGetParam(fn, 1), &p);
        LLVMBuildRet(g->b, gen_numrt_round_kind(g, &p, LLVMGetParam(fn, 0), k));
        LLVMTypeRef a2[4] = {ptr, ptr, ptr, ptr};
        snprintf(nm, sizeof nm, "vsumk%d", k);
        fn = gen_emit_function(g, nm, LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), a2, 4, 0), 0);
        gen_numrt_load(g, LLVMGetParam(fn, 3), &p);
        LLVMValueRef a = LLVMBuildLoad2(g->b, vt, LLVMGetParam(fn, 0), "");
        LLVMValueRef b = LLVMBuildLoad2(g->b, vt, LLVMGetParam(fn, 1), "");
        LLVMSetAlignment(a, 8), LLVMSetAlignment(b, 8);
        LLVMValueRef st = LLVMBuildStore(g->b, gen_numrt_round_sum_kind(g, &p, a, b, k),
                                         LLVMGetParam(fn, 2));
        LLVMSetAlignment(st, 8);
        LLVMBuildRetVoid(g->b);
    }
}

static void build(jfns *J, int opt)
{
    nr_err err = {0};
    gen_ctx *g = NULL;
    ck_assert_msg(gen_emit_new("fmtdata", &g, &err) == 0, "%s", err.msg);
    LLVMValueRef r = gen_numrt_fn_round(g, "rnd"), s = gen_numrt_fn_round_sum(g, "sum");
    /* externally callable: not inlined away */
    LLVMRemoveEnumAttributeAtIndex(r, LLVMAttributeFunctionIndex, g->kind_alwaysinline);
    LLVMRemoveEnumAttributeAtIndex(s, LLVMAttributeFunctionIndex, g->kind_alwaysinline);
    emit_vector(g);
    emit_kinds(g);
    ck_assert_msg(gen_emit_verify(g, &err) == 0, "%s", err.msg);
    ck_assert_msg(gen_emit_optimize(g, opt, &err) == 0, "%s", err.msg);
    ck_assert_msg(gen_jit_new(&J->jit, &err) == 0, "%s", err.msg);
    ck_assert_msg(gen_jit_add(J->jit, g, &err) == 0, "%s", err.msg);
    gen_emit_free(g);
    J->rnd = (double (*)(double, const gen_rtfmt *))tu_jit_look(J->jit, "rnd");
    J->sum = (double (*)(double, double, const gen_rtfmt *))tu_jit_look(J->jit, "sum");
    J->vrnd = (void (*)(const double *, double *, const gen_rtfmt *))tu_jit_look(J->jit, "vrnd");
    char nm[32];
    for (int k = 0; k < GEN_RT_KINDS; k++) {
        snprintf(nm, sizeof nm, "rndk%d", k);
        J->rndk[k] = (double (*)(double, const gen_rtfmt *))tu_jit_look(J->jit, nm);
        snprintf(nm, sizeof nm, "vsumk%d", k);
        J->vsumk[k] = (void (*)(const double *, const double *, double *, const gen_rtfmt *))tu_jit_look(J->jit, nm);
    }
}

/* ---------------------------------------------------------------- references */

static double ref_round(const nr_format *f, double x) { return nr_round(f, NR_RND_RZ, x, 0, NULL); }

static double ref_sum(const nr_format *f, double a, double b)
{
    nr_exact x, y, s;
    nr_exact_from_double(a, &x);
    nr_exact_from_double(b, &y);
    nr_arith_exact_add(&x, &y, NR_RND_RZ, &s);
    return nr_decode(f, nr_round_exact(f, NR_RND_RZ, &s, 0, NULL));
}

/* Same bits, or both NaN. */
static int same(double a, double b) { return d_bits(a) == d_bits(b) || (isnan(a) && isnan(b)); }

/* ---------------------------------------------------------------- inputs */

/* A random value of f (finite), from a random encoding. */
static double rand_value(const nr_format *f, uint64_t *st)
{
    for (;;) {
        uint64_t e = tu_rand(st) & (f->width == 64 ? ~0ull : (1ull << f->width) - 1);
        double v = nr_decode(f, e);
        if (isfinite(v))
            return v;
    }
}

/* A random double: raw bits, near f's binades, a value of f nudged, or a
 * midpoint of two values. */
static double rand_double(const nr_format *f, uint64_t *st)
{
    uint64_t r = tu_rand(st);
    switch (r % 4) {
    case 0: return bits_d(tu_rand(st));
    case 1: {
        int lo = f->kind == NR_FLOAT ? f->emin - f->man_bits - 4 : -f->frac_bits - 4;
        int hi = (int)ilogb(f->max_finite) + 3;
        int e = lo + (int)(tu_rand(st) % (uint64_t)(hi - lo + 1));
        double v = ldexp(1.0 + ldexp((double)(tu_rand(st) >> 11), -53), e);
        return (r >> 8) & 1 ? -v : v;
    }
    case 2: {
        double v = rand_value(f, st);
        int k = (int)(tu_rand(st) % 5) - 2;
        for (; k > 0; k--) v = nextafter(v, INFINITY);
        for (; k < 0; k++) v = nextafter(v, -INFINITY);
        return v;
    }
    default: {
        double v = rand_value(f, st), w = rand_value(f, st);
        return v / 2 + w / 2;
    }
    }
}

/* Boundary and special doubles for f, with their neighbours and negatives. */
static int boundary_doubles(const nr_format *f, double *out, int cap)
{
    int n = 0;
    double base[] = {0.0, INFINITY, NAN, DBL_MAX, DBL_MIN, DBL_TRUE_MIN, 1.0, f->max_finite,
                     f->min_normal, f->min_subnormal, f->epsilon, -f->lowest,
                     f->max_finite + ldexp(f->max_finite, -f->prec - 1),
                     f->max_finite + ldexp(f->max_finite, -f->prec), 2 * f->max_finite,
                     f->min_normal / 2, f->min_subnormal / 2, f->min_subnormal * 1.5,
                     f->min_subnormal * 0.75, f->min_normal * 0.75,
                     f->min_normal - f->min_subnormal / 2, ldexp(1.0, 1023) * 1.9999999};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        double v = base[i];
        double c[] = {v, nextafter(v, INFINITY), nextafter(v, 0)};
        for (int j = 0; j < 3 && n + 2 <= cap; j++)
            out[n++] = c[j], out[n++] = -c[j];
    }
    return n;
}

/* ---------------------------------------------------------------- one format */

typedef struct { long n, fails; } tally;

static void report(tally *t, const char *what, const char *fmt, double a, double b, double exp,
                   double got)
{
    if (t->fails++ < 12)
        fprintf(stderr, "MISMATCH %s %s: %a %a -> expected %a got %a\n", what, fmt, a, b, exp,
                got);
}

/* round and sum into f (sums of a value of f and a value of g, the MAC's
 * accumulator + product), scalar and vector. */
static void check_format(const jfns *J, const char *name, const char *other, int nrand,
                         tally *t)
{
    nr_format f = tu_fmt(name), o = tu_fmt(other);
    gen_rtfmt p;
    nr_err err = {0};
    ck_assert_msg(gen_numrt_fmt_make(&f, NR_RND_RZ, &p, &err) == 0, "%s: %s", name, err.msg);
    uint64_t st = 0x9e3779b97f4a7c15ull ^ (uint64_t)f.width * 7919u ^ (uint64_t)f.prec;
    double xs[200];
    int nb = boundary_doubles(&f, xs, 200);
    for (int i = 0; i < nb + nrand; i++) {
        double x = i < nb ? xs[i] : rand_double(&f, &st);
        double e = ref_round(&f, x), g = J->rnd(x, &p);
        t->n++;
        if (!same(e, g))
            report(t, "round", name, x, 0, e, g);
        if (isfinite(x)) { /* the shortcut: finite operands */
            g = J->rndk[p.kind](x, &p);
            t->n++;
            if (!same(e, g))
                report(t, "round-kind", name, x, 0, e, g);
        }
    }
    for (int i = 0; i + 8 <= nb + nrand; i += 8) {
        double in[8], out[8];
        for (int l = 0; l < 8; l++)
            in[l] = i + l < nb ? xs[i + l] : rand_double(&f, &st);
        J->vrnd(in, out, &p);
        for (int l = 0; l < 8; l++) {
            double e = ref_round(&f, in[l]);
            t->n++;
            if (!same(e, out[l]))
                report(t, "vround", name, in[l], 0, e, out[l]);
        }
    }
    /* sums: values of f and of o, incl. the extremes and signed zeros */
    double edge[] = {0.0, -0.0, f.max_finite, -f.max_finite, f.min_subnormal, -f.min_subnormal,
                     f.lowest, o.max_finite, -o.max_finite, o.min_subnormal, -o.min_subnormal};
    const int ne = (int)(sizeof edge / sizeof edge[0]);
    double sa[8], sb[8], se[8];
    int ns = 0;
    for (int i = 0; i < ne * ne + nrand; i++) {
        double a, b;
        if (i < ne * ne)
            a = edge[i / ne], b = edge[i % ne];
        else
            a = rand_value(&f, &st), b = rand_value(&o, &st);
        a = ref_round(&f, a), b = ref_round(&o, b);
        double e = ref_sum(&f, a, b), g = J->sum(a, b, &p);
        t->n++;
        if (!same(e, g))
            report(t, "sum", name, a, b, e, g);
        sa[ns % 8] = a, sb[ns % 8] = b, se[ns % 8] = e;
        if (++ns % 8 == 0) { /* 8 lanes at once: AVX-512's rz add where there is one */
            double got[8];
            J->vsumk[p.kind](sa, sb, got, &p);
            for (int l = 0; l < 8; l++) {
                t->n++;
                if (!same(se[l], got[l]))
                    report(t, "vsum-kind", name, sa[l], sb[l], se[l], got[l]);
            }
        }
    }
}

/* The search's default grid and other formats in scope; every format is
 * checked against its partner formats as the other summand. */
static const char *const EXTRA[] = {
    "e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "fp16", "bf16", "tf32", "fp32", "e8m23-nosub",
    "e4m3-fnuz", "e4m3-fn", "e4m3-ieee", "e5m10-sat", "e3m4-b-2", "e5m2-b5-nosub",
    "e6m7-finite-nosub-sat", "e3m0-finite", "q7.8", "q3.12", "uq8.0", "uq4.4", "int8", "int16",
    "q0.7", "q31.0", "q20.33", "uq0.53", "q0.0",
};

START_TEST(grid_and_variants)
{
    jfns J;
    build(&J, 2);
    tally t = {0};
    char name[64], other[64];
    for (int e = 2; e <= 8; e++)
        for (int m = 1; m <= 23; m++) {
            snprintf(name, sizeof name, "e%dm%d-nosub-finite-sat", e, m);
            snprintf(other, sizeof other, "e%dm%d-nosub-finite-sat", e + (m & 1), m < 23 ? m + 1 : m);
            check_format(&J, name, other, 400, &t);
        }
    for (int i = 1; i <= 12; i++)
        for (int f = 0; f <= 15; f++) {
            snprintf(name, sizeof name, "q%d.%d", i, f);
            snprintf(other, sizeof other, "q%d.%d", i < 12 ? i + 1 : i, f);
            check_format(&J, name, other, 400, &t);
        }
    for (size_t i = 0; i < sizeof EXTRA / sizeof EXTRA[0]; i++)
        check_format(&J, EXTRA[i], EXTRA[(i + 3) % (sizeof EXTRA / sizeof EXTRA[0])], 4000, &t);
    fprintf(stderr, "format as data: %ld comparisons, %ld mismatches\n", t.n, t.fails);
    ck_assert_msg(t.fails == 0, "%ld of %ld differ", t.fails, t.n);
    gen_jit_free(J.jit);
}
END_TEST

/* -O0 code (what a sweep compiles) gives the same bits. */
START_TEST(unoptimised)
{
    jfns J;
    build(&J, 0);
    tally t = {0};
    const char *const some[] = {"e5m2-nosub-finite-sat", "e8m23-nosub-finite-sat", "q7.9",
                                "e4m3", "uq4.4", "e3m4-b-2"};
    for (int i = 0; i < 6; i++)
        check_format(&J, some[i], some[(i + 1) % 6], 2000, &t);
    ck_assert_msg(t.fails == 0, "%ld of %ld differ", t.fails, t.n);
    gen_jit_free(J.jit);
}
END_TEST


/* ---------------------------------------------------------------- MAC layers */

/* Small networks of MAC layers (conv with stride, padding, dilation and
 * groups, dense, batchnorm) under one precision: every MAC layer run by
 * its format-as-data function on the emulator's input to it must give the
 * emulator's output, bit for bit.  The functions are compiled once per
 * network and run for every precision. */
static const char *const NET =
    "name: fd\ninput: {shape: [3, 11, 9]}\nlayers:\n"
    "  - {name: r0, op: relu}\n"
    "  - {name: c1, op: conv, out: 6, kernel: 3, stride: 1, pad: 1}\n"
    "  - {name: c2, op: conv, out: 4, kernel: 3, stride: 2, pad: 2, dilation: 2, groups: 2}\n"
    "  - {name: bn, op: batchnorm, eps: 1.0e-5}\n"
    "  - {name: c3, op: conv, out: 5, kernel: [1, 3], stride: [1, 1], pad: [0, 1]}\n"
    "  - {name: fc, op: dense, out: 7}\n";

/* per role: weights activations products accumulator */
static const char *const PRECS[][4] = {
    {"e5m2-nosub-finite-sat", "same", "same", "same"},
    {"e4m3-nosub-finite-sat", "same", "same", "same"},
    {"e8m23-nosub-finite-sat", "same", "same", "same"},
    {"e3m1-nosub-finite-sat", "same", "same", "same"},
    {"e2m7-nosub-finite-sat", "same", "same", "same"},
    {"q7.9", "same", "same", "same"},
    {"q1.5", "same", "same", "same"},
    {"q3.12", "same", "same", "same"},
    {"q12.0", "same", "same", "same"},
    {"e4m3", "e5m2", "e6m7", "e8m10"},
    {"e4m3-fnuz", "e4m3", "fp16", "bf16"},
    {"e5m2", "e3m2", "e3m2", "e5m2"},
    {"uq4.4", "q3.4", "q7.8", "q12.10"},
    {"e3m4-b-2", "e4m3", "e5m10-sat", "fp32"},
};
#define NPREC (int)(sizeof PRECS / sizeof PRECS[0])

/* precision pi of PRECS as YAML, rz and unfused */
static void prec_text(int pi, char *buf, size_t n)
{
    snprintf(buf, n,
             "default: {weights: %s, activations: %s, products: %s, accumulator: %s, "
             "rounding: rz, mac: unfused}\n",
             PRECS[pi][0], PRECS[pi][1], PRECS[pi][2], PRECS[pi][3]);
}

typedef void (*mac_fn)(const double *, const double *, const double *, double *,
                       const gen_fd_fmts *);

START_TEST(mac_layers)
{
    nr_model *m0 = tu_model_ok(NET, "default: {weights: fp32}\n", 11);
    /* compile every MAC layer once, with the shapes of the network */
    nr_err err = {0};
    gen_ctx *g = NULL;
    ck_assert_msg(gen_emit_new("fd_mac", &g, &err) == 0, "%s", err.msg);
    char nm[64];
    for (int li = 0; li < m0->nlayers; li++) {
        const nr_layer *L = &m0->layers[li];
        nr_mac_geom gm;
        if (L->op != NR_OP_CONV && L->op != NR_OP_DENSE && L->op != NR_OP_BATCHNORM)
            continue;
        ck_assert_msg(nr_mac_geom_check(L, &gm, &err) == 0, "%s", err.msg);
        for (int k = 0; k < GEN_RT_KINDS; k++) {
            snprintf(nm, sizeof nm, "mac%d_%d", li, k);
            gen_fmtdata_emit_mac(g, nm, &gm, L->b != NULL, k);
        }
    }
    ck_assert_msg(gen_emit_verify(g, &err) == 0, "%s", err.msg);
    ck_assert_msg(gen_emit_optimize(g, 2, &err) == 0, "%s", err.msg);
    gen_jit *j = NULL;
    ck_assert_msg(gen_jit_new(&j, &err) == 0, "%s", err.msg);
    ck_assert_msg(gen_jit_add(j, g, &err) == 0, "%s", err.msg);
    gen_emit_free(g);
    nr_model_free(m0);

    uint64_t st = 77;
    long n = 0, fails = 0, interior = 0;
    for (int pi = 0; pi < NPREC; pi++) {
        char prec[512];
        prec_text(pi, prec, sizeof prec);
        nr_model *m = tu_model_ok(NET, prec, 11);
        const int nin = 3 * 11 * 9;
        float *in = tu_uniform_floats(&st, (size_t)nin, -4.0, 4.0);
        for (int i = 0; i < nin; i++) /* saturation, underflow, zeros */
            in[i] = i % 7 == 0 ? in[i] * 1e4f : i % 7 == 1 ? in[i] * 1e-6f : i % 11 == 0 ? 0.0f : in[i];
        double *lo[64] = {0};
        for (int li = 0; li < m->nlayers; li++) {
            const int *s = m->layers[li].out_shape;
            lo[li] = malloc((size_t)s[0] * (size_t)s[1] * (size_t)s[2] * sizeof(double));
        }
        float *out = malloc(64 * sizeof *out);
        ck_assert_msg(nr_emulate_layers(m, in, 1, out, lo, NULL, NULL, &err) == 0, "%s", err.msg);
        for (int li = 0; li < m->nlayers; li++) {
            const nr_layer *L = &m->layers[li];
            if (L->op != NR_OP_CONV && L->op != NR_OP_DENSE && L->op != NR_OP_BATCHNORM)
                continue;
            const nr_layer *X = &m->layers[L->inputs[0]];
            ck_assert_int_ge(L->inputs[0], 0);
            ck_assert_msg(gen_fmtdata_mac_ok(L, &L->prec.weights, &X->prec.activations, &err) == 0,
                          "%s: %s", prec, err.msg);
            gen_fd_fmts f;
            ck_assert(gen_fmtdata_fmts_make(&L->prec, &f, &err) == 0);
            double *w = malloc(L->nw * sizeof *w), *b = malloc((L->nb + 1) * sizeof *b);
            for (size_t i = 0; i < L->nw; i++) /* [net-1] */
                w[i] = nr_round(&L->prec.weights, NR_RND_RZ, L->w[i], 0, NULL);
            for (size_t i = 0; L->b && i < L->nb; i++)
                b[i] = nr_round(&L->prec.weights, NR_RND_RZ, L->b[i], 0, NULL);
            size_t no = (size_t)L->out_shape[0] * (size_t)L->out_shape[1] * (size_t)L->out_shape[2];
            double *got = malloc(no * sizeof *got);
            /* the shortcut the formats admit, and the generic code */
            for (int k = gen_fmtdata_kind(&f); k >= 0; k = k ? 0 : -1) {
            snprintf(nm, sizeof nm, "mac%d_%d", li, k);
            ((mac_fn)tu_jit_look(j, nm))(lo[L->inputs[0]], w, b, got, &f);
            for (size_t i = 0; i < no; i++) {
                n++;
                interior += got[i] != 0 && fabs(got[i]) < L->prec.activations.max_finite;
                if (!same(lo[li][i], got[i]) && fails++ < 12)
                    fprintf(stderr, "MISMATCH mac %s layer %s kind %d [%zu]: expected %a got %a\n",
                            prec, L->name, k, i, lo[li][i], got[i]);
            }
            }
            free(w), free(b), free(got);
        }
        for (int li = 0; li < m->nlayers; li++)
            free(lo[li]);
        free(in), free(out);
        nr_model_free(m);
    }
    fprintf(stderr, "format-as-data MAC layers: %ld outputs (%ld neither 0 nor +-max), %ld mismatches\n",
            n, interior, fails);
    ck_assert_msg(fails == 0, "%ld of %ld differ", fails, n);
    ck_assert_msg(interior > n / 2, "only %ld of %ld outputs are neither 0 nor +-max", interior, n);
    gen_jit_free(j);
}
END_TEST

/* ---------------------------------------------------------------- networks */

/* Whole networks on the format-as-data engine, compiled once per network
 * and run under every precision, against the emulator (float outputs and
 * bits): a LeNet-like net (conv, maxpool, flatten, dense) and a ResNet-like
 * one (folded batchnorm, add, slice, pad, global average pool). */
static const char *const NETS[] = {
    "name: l\ninput: {shape: [1, 12, 12]}\nlayers:\n"
    "  - {name: c1, op: conv, out: 4, kernel: 3}\n"
    "  - {name: r1, op: relu}\n"
    "  - {name: p1, op: maxpool, kernel: 2, stride: 2}\n"
    "  - {name: c2, op: conv, out: 6, kernel: 3, pad: 1}\n"
    "  - {name: r2, op: relu}\n"
    "  - {name: p2, op: maxpool, kernel: 3, stride: 2, pad: 1}\n"
    "  - {name: f, op: flatten}\n"
    "  - {name: d1, op: dense, out: 12}\n"
    "  - {name: r3, op: relu}\n"
    "  - {name: d2, op: dense, out: 10}\n",
    "name: r\ninput: {shape: [3, 8, 8]}\nlayers:\n"
    "  - {name: c0, op: conv, out: 4, kernel: 3, pad: 1}\n"
    "  - {name: b0, op: batchnorm, eps: 1.0e-5}\n"
    "  - {name: r0, op: relu}\n"
    "  - {name: c1, op: conv, out: 8, kernel: 3, stride: 2, pad: 1}\n"
    "  - {name: b1, op: batchnorm, eps: 1.0e-5}\n"
    "  - {name: s, op: slice, input: r0, h: [0, end, 2], w: [0, end, 2]}\n"
    "  - {name: p, op: pad, c: [2, 2]}\n"
    "  - {name: a, op: add, inputs: [b1, p]}\n"
    "  - {name: r1, op: relu}\n"
    "  - {name: g, op: global_avgpool}\n"
    "  - {name: fc, op: dense, out: 10}\n",
};

START_TEST(networks)
{
    uint64_t st = 99;
    long n = 0, fails = 0, nonzero = 0;
    for (int ni = 0; ni < 2; ni++) {
        gen_fdnet *fd = NULL;
        nr_err err = {0};
        for (int pi = 0; pi < NPREC; pi++) {
            char prec[512];
            prec_text(pi, prec, sizeof prec);
            nr_model *m = tu_model_ok(NETS[ni], prec, 5 + (uint64_t)ni);
            ck_assert_msg(gen_fmtdata_net_check(m, &err) == 0, "%s", err.msg);
            if (!fd)
                ck_assert_msg(gen_fmtdata_net_new(m, &fd, &err) == 0, "%s", err.msg);
            ck_assert(gen_fmtdata_net_fits(fd, m));
            const int ns = 3, nin = (int)nr_shape_count(m->in_shape), k = 10;
            float *in = tu_uniform_floats(&st, (size_t)(ns * nin), -3.0, 3.0);
            for (int i = 0; i < ns * nin; i++)
                in[i] = i % 13 == 0 ? in[i] * 1e3f : i % 13 == 1 ? in[i] * 1e-5f : in[i];
            float ref[30], got[30];
            ck_assert_msg(nr_emulate(m, in, ns, ref, NULL, NULL, &err) == 0, "%s", err.msg);
            nr_engine e;
            ck_assert(gen_fmtdata_net_engine(fd, m, &e, &err) == 0);
            ck_assert_msg(e.run(e.impl, in, ns, got, &err) == 0, "%s", err.msg);
            nr_engine_close(&e);
            for (int i = 0; i < ns * k; i++) {
                n++;
                nonzero += got[i] != 0;
                if (memcmp(&ref[i], &got[i], sizeof(float)) && fails++ < 12)
                    fprintf(stderr, "MISMATCH net %d %s [%d]: expected %a got %a\n", ni, prec, i,
                            ref[i], got[i]);
            }
            free(in);
            nr_model_free(m);
        }
        gen_fmtdata_net_free(fd);
    }
    fprintf(stderr, "format-as-data networks: %ld outputs (%ld non-zero), %ld mismatches\n", n,
            nonzero, fails);
    ck_assert_msg(fails == 0, "%ld of %ld differ", fails, n);
    ck_assert_msg(nonzero > n / 2, "only %ld of %ld outputs are non-zero", nonzero, n);
}
END_TEST

/* The sweep's other engine, code compiled per configuration at -O0, plans
 * the compact vector kernel (GEN_VMAC_COMPACT: at most 4 accumulator
 * vectors a block, the same rows and scratch; ResNet-20's -O0 modules were
 * 40 % larger with 16, and compiling them is the sweep's cost), and it
 * computes the emulator's bits. */
START_TEST(compact_at_O0)
{
    const char *spec = "name: c\ninput: {shape: [16, 32, 32]}\nlayers:\n"
                       "  - {name: t, op: conv, out: 16, kernel: 3, pad: 1}\n"
                       "  - {name: r, op: relu}\n"
                       "  - {name: u, op: conv, out: 8, kernel: 3, stride: 2, pad: 1}\n";
    const char *const precs[] = {
        "default: {weights: e5m7-nosub-finite-sat, rounding: rz, mac: unfused}\n",
        "default: {weights: q4.4, rounding: rz, mac: unfused}\n"};
    for (int pi = 0; pi < 2; pi++) {
        nr_model *m = tu_model_ok(spec, precs[pi], 3);
        for (int li = 0; li < m->nlayers; li++) {
            if (m->layers[li].op != NR_OP_CONV)
                continue;
            gen_vmac full, compact;
            gen_emit_vmac_plan(m, li, 1, &full);
            gen_emit_vmac_plan(m, li, GEN_VMAC_COMPACT, &compact);
            ck_assert_msg(full.ok && full.f32 && compact.ok, "%s layer %d: no float-lane kernel",
                          precs[pi], li);
            ck_assert_msg(full.co * full.nv > 4, "%s layer %d: %d x %d vectors", precs[pi], li,
                          full.co, full.nv);
            ck_assert_msg(compact.co * compact.nv <= 4, "%s layer %d: compact %d x %d vectors",
                          precs[pi], li, compact.co, compact.nv);
            ck_assert(compact.nv == full.nv && compact.vl == full.vl && compact.rpv == full.rpv &&
                      compact.scratch == full.scratch && compact.f32 == full.f32);
        }
        uint64_t st = 17;
        const int n = 2, nin = (int)nr_shape_count(m->in_shape);
        float *x = tu_uniform_floats(&st, (size_t)(n * nin), -4.0, 4.0);
        gen_model_opts o0 = {.opt_level = 0};
        tu_gen_cmp cmp = {.opts = &o0, .check_arena = 1};
        ck_assert_int_eq(tu_gen_compare(m, x, n, &cmp, precs[pi]), 0);
        free(x);
        nr_model_free(m);
    }
}
END_TEST

/* Models outside the scope are refused with a reason (the search then
 * compiles them as before). */
START_TEST(networks_refused)
{
    const char *const prec[] = {
        "default: {weights: e4m3, rounding: rne, mac: unfused}\n",
        "default: {weights: e4m3, rounding: rz, mac: fused}\n",
        "default: {weights: q15.16-wrap, rounding: rz, mac: unfused}\n",
        "default: {weights: fp64, rounding: rz, mac: unfused}\n",
    };
    for (int i = 0; i < 4; i++) {
        nr_model *m = tu_model_ok(NETS[0], prec[i], 5);
        nr_err err = {0};
        ck_assert_msg(gen_fmtdata_net_check(m, &err) == -NR_EUNSUP, "%s accepted", prec[i]);
        ck_assert(err.msg[0]);
        nr_model_free(m);
    }
    /* an input that stays infinite (e4m3-ieee has infinities) is refused at run time */
    nr_model *m = tu_model_ok(NETS[0], "default: {weights: e4m3-ieee, rounding: rz, mac: unfused}\n", 5);
    nr_err err = {0};
    gen_fdnet *fd = NULL;
    ck_assert_msg(gen_fmtdata_net_check(m, &err) == 0, "%s", err.msg);
    ck_assert_msg(gen_fmtdata_net_new(m, &fd, &err) == 0, "%s", err.msg);
    float in[144] = {0}, out[10];
    in[7] = INFINITY;
    nr_engine e;
    ck_assert(gen_fmtdata_net_engine(fd, m, &e, &err) == 0);
    ck_assert_int_eq(e.run(e.impl, in, 1, out, &err), -NR_EUNSUP);
    nr_engine_close(&e);
    gen_fmtdata_net_free(fd);
    nr_model_free(m);
}
END_TEST

START_TEST(refuses_out_of_scope)
{
    gen_rtfmt p;
    nr_err err = {0};
    nr_format f = tu_fmt("e4m3");
    for (int m = 0; m < NR_RND_COUNT; m++)
        if (m != NR_RND_RZ)
            ck_assert_int_eq(gen_numrt_fmt_make(&f, (nr_rounding)m, &p, &err), -NR_EUNSUP);
    const char *const out[] = {"q15.16-wrap", "uq4.4-wrap", "fp64", "e11m10", "q40.20"};
    for (int i = 0; i < 5; i++) {
        f = tu_fmt(out[i]);
        memset(&err, 0, sizeof err);
        ck_assert_msg(gen_numrt_fmt_make(&f, NR_RND_RZ, &p, &err) == -NR_EUNSUP, "%s accepted", out[i]);
        ck_assert_msg(err.msg[0] != 0, "%s: no message", out[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gen_fmtdata");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, grid_and_variants);
    tcase_add_test(tc, unoptimised);
    tcase_add_test(tc, mac_layers);
    tcase_add_test(tc, networks);
    tcase_add_test(tc, networks_refused);
    tcase_add_test(tc, compact_at_O0);
    tcase_add_test(tc, refuses_out_of_scope);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
