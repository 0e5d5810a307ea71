/* emit_seq_fast.c -- inline fast paths of the sequence ops' nonlinear
 * functions ([nl-impl] in docs/semantics.md), for fp32 results in rne on
 * the host: the same screen as runtime/rt/nlrt_gen.c (an approximation y
 * with relative error below m; when y(1-m) and y(1+m) round to the same
 * float, that float is the correctly rounded value), emitted inline so the
 * common case costs no call and no format dispatch; every other case (the
 * screen fails, an input out of range, other formats or modes) calls
 * numrep's correctly rounded implementation as before.  The result is
 * therefore the same correctly rounded value, bit for bit. */
#include "emit_seq.h"

#include <math.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

/* fp32 (IEEE, subnormals) in rne: the screen is the host's conversion. */
static int fast_fmt(const gen_lctx *c, const nr_format *f, nr_rounding md)
{
    return !c->g->no_libm && !c->g->int_narrow && !c->g->f32_hw && md == NR_RND_RNE &&
           f->kind == NR_FLOAT && f->exp_bits == 8 && f->man_bits == 23 && f->bias == 127 &&
           f->subnormals && f->specials == NR_SPECIALS_IEEE;
}

static V cf(gen_ctx *g, double v) { return LLVMConstReal(g->f64, v); }

/* exp_approx of nlrt_gen.c, operation for operation (round to nearest
 * k, Cody-Waite reduction by ln 2 in two parts, Taylor to degree 14 by
 * Horner, times 2^k): relative error below 2^-36 for |x| <= 700. */
static V exp_approx(gen_ctx *g, V x)
{
    LLVMBuilderRef B = g->b;
    V t = LLVMBuildFMul(B, x, cf(g, 1.44269504088896338700e+00), "t");
    V neg = LLVMBuildFCmp(B, LLVMRealOLT, t, cf(g, 0), "");
    V tr = LLVMBuildSelect(B, neg, LLVMBuildFSub(B, t, cf(g, 0.5), ""),
                           LLVMBuildFAdd(B, t, cf(g, 0.5), ""), "");
    V k = LLVMBuildFPToSI(B, tr, g->i64, "k");
    V kd = LLVMBuildSIToFP(B, k, g->f64, "");
    V r = LLVMBuildFSub(B, LLVMBuildFSub(B, x, LLVMBuildFMul(B, kd, cf(g, 6.93147180369123816490e-01), ""), ""),
                        LLVMBuildFMul(B, kd, cf(g, 1.90821492927058770002e-10), ""), "r");
    static const double inv_fact[14] = {
        1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
        1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600,
        1.0 / 6227020800.0};
    V p = cf(g, 1.0 / 87178291200.0);
    for (int i = 13; i >= 0; i--)
        p = LLVMBuildFAdd(B, LLVMBuildFMul(B, p, r, ""), cf(g, inv_fact[i]), "");
    V bits = LLVMBuildShl(B, LLVMBuildAdd(B, k, LLVMConstInt(g->i64, 1023, 0), ""),
                          LLVMConstInt(g->i64, 52, 0), "");
    return LLVMBuildFMul(B, p, LLVMBuildBitCast(B, bits, g->f64, ""), "y");
}

/* The screen for fp32 rne: (ok, value) with ok when y(1-m) and y(1+m)
 * round to one finite nonzero float. */
static V screen(gen_ctx *g, V y, double m, V *ok)
{
    LLVMBuilderRef B = g->b;
    T f32 = LLVMFloatTypeInContext(g->ctx);
    V a = LLVMBuildFPTrunc(B, LLVMBuildFMul(B, y, cf(g, 1 - m), ""), f32, "a");
    V b = LLVMBuildFPTrunc(B, LLVMBuildFMul(B, y, cf(g, 1 + m), ""), f32, "b");
    V zero = LLVMConstReal(f32, 0);
    V same = LLVMBuildFCmp(B, LLVMRealOEQ, a, b, "");
    V nz = LLVMBuildFCmp(B, LLVMRealONE, a, zero, "");
    V fin = LLVMBuildFCmp(B, LLVMRealOEQ, LLVMBuildFSub(B, a, a, ""), zero, "");
    *ok = LLVMBuildAnd(B, same, LLVMBuildAnd(B, nz, fin, ""), "ok");
    return LLVMBuildFPExt(B, a, g->f64, "");
}

/* if (ok) fast else slow(): the slow call in a block of its own. */
typedef V (*slow_fn)(gen_lctx *c, const void *arg, V x, V elem);

static V branch(gen_lctx *c, V ok, V fast, slow_fn slow, const void *arg, V x, V elem)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    LLVMBasicBlockRef here = LLVMGetInsertBlock(B);
    LLVMValueRef fn = LLVMGetBasicBlockParent(here);
    LLVMBasicBlockRef bs = LLVMAppendBasicBlockInContext(g->ctx, fn, "nl.slow");
    LLVMBasicBlockRef bj = LLVMAppendBasicBlockInContext(g->ctx, fn, "nl.join");
    LLVMBuildCondBr(B, ok, bj, bs);
    LLVMPositionBuilderAtEnd(B, bs);
    V s = slow(c, arg, x, elem);
    LLVMBasicBlockRef send = LLVMGetInsertBlock(B);
    LLVMBuildBr(B, bj);
    LLVMPositionBuilderAtEnd(B, bj);
    V phi = LLVMBuildPhi(B, g->f64, "nl");
    V vals[2] = {fast, s};
    LLVMBasicBlockRef bbs[2] = {here, send};
    LLVMAddIncoming(phi, vals, bbs, 2);
    return phi;
}

static V slow_exp(gen_lctx *c, const void *L, V x, V elem)
{
    return gen_seq_nl(c, L, NR_NL_EXP, x, elem);
}

V gen_seq_exp(gen_lctx *c, const nr_layer *L, V x, V elem)
{
    if (!fast_fmt(c, &L->prec.nonlinear, L->prec.rounding))
        return gen_seq_nl(c, L, NR_NL_EXP, x, elem);
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    /* -700 <= x <= 700 as nlrt_gen.c (a NaN fails both); else exp(0), unused */
    V in = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOGE, x, cf(g, -700), ""),
                        LLVMBuildFCmp(B, LLVMRealOLE, x, cf(g, 700), ""), "in");
    V ok, y = screen(g, exp_approx(g, LLVMBuildSelect(B, in, x, cf(g, 0), "")), 0x1p-36, &ok);
    return branch(c, LLVMBuildAnd(B, ok, in, ""), y, slow_exp, L, x, elem);
}

/* 2^-900 <= |v| <= 2^900 (in_range of nlrt_gen.c) */
static V in_range(gen_ctx *g, V v)
{
    LLVMBuilderRef B = g->b;
    V a = gen_emit_intrinsic(g, "llvm.fabs", g->f64, &v, 1);
    return LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOGE, a, cf(g, 0x1p-900), ""),
                        LLVMBuildFCmp(B, LLVMRealOLE, a, cf(g, 0x1p900), ""), "");
}

typedef struct div_arg {
    const nr_format *f;
    nr_rounding md;
    V b;
    gen_seq_div_fn slow;
} div_arg;

static V slow_div(gen_lctx *c, const void *arg, V a, V elem)
{
    const div_arg *d = arg;
    return d->slow(c, d->f, d->md, a, d->b, elem);
}

/* div_fast of nlrt_gen.c for fp32 rne: q = fl(a / b), its remainder by
 * Dekker's exact product (Veltkamp splitting, no fma); q when the
 * remainder is zero or q and its neighbour toward the exact quotient
 * round to one float. */
V gen_seq_div(gen_lctx *c, const nr_format *f, nr_rounding md, V a, V b, V elem,
              gen_seq_div_fn slow)
{
    if (!fast_fmt(c, f, md))
        return slow(c, f, md, a, b, elem);
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    T f32 = LLVMFloatTypeInContext(g->ctx);
    V q = LLVMBuildFDiv(B, a, b, "q");
    V sp = cf(g, 134217729.0);
    V ca = LLVMBuildFMul(B, sp, q, ""), cb = LLVMBuildFMul(B, sp, b, "");
    V ah = LLVMBuildFSub(B, ca, LLVMBuildFSub(B, ca, q, ""), ""), al = LLVMBuildFSub(B, q, ah, "");
    V bh = LLVMBuildFSub(B, cb, LLVMBuildFSub(B, cb, b, ""), ""), bl = LLVMBuildFSub(B, b, bh, "");
    V hi = LLVMBuildFMul(B, q, b, "hi");
    V lo = LLVMBuildFAdd(B, LLVMBuildFAdd(B, LLVMBuildFAdd(B, LLVMBuildFSub(B, LLVMBuildFMul(B, ah, bh, ""), hi, ""),
                                                              LLVMBuildFMul(B, ah, bl, ""), ""),
                                          LLVMBuildFMul(B, al, bh, ""), ""),
                         LLVMBuildFMul(B, al, bl, ""), "lo");
    V rem = LLVMBuildFSub(B, LLVMBuildFSub(B, a, hi, ""), lo, "rem");
    V r1 = LLVMBuildFPTrunc(B, q, f32, "r1");
    V up = LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildFCmp(B, LLVMRealOGT, rem, cf(g, 0), ""),
                         LLVMBuildFCmp(B, LLVMRealOGT, b, cf(g, 0), ""), "up");
    V away = LLVMBuildICmp(B, LLVMIntEQ, up, LLVMBuildFCmp(B, LLVMRealOGT, q, cf(g, 0), ""), "");
    V bits = LLVMBuildBitCast(B, q, g->i64, "");
    V one = LLVMConstInt(g->i64, 1, 0);
    V q2 = LLVMBuildBitCast(B, LLVMBuildSelect(B, away, LLVMBuildAdd(B, bits, one, ""),
                                               LLVMBuildSub(B, bits, one, ""), ""), g->f64, "q2");
    V same = LLVMBuildFCmp(B, LLVMRealOEQ, LLVMBuildFPTrunc(B, q2, f32, ""), r1, "");
    V exact = LLVMBuildFCmp(B, LLVMRealOEQ, rem, cf(g, 0), "");
    V ok = LLVMBuildAnd(B, LLVMBuildAnd(B, in_range(g, a), in_range(g, b), ""),
                        LLVMBuildAnd(B, in_range(g, q), LLVMBuildOr(B, exact, same, ""), ""), "ok");
    div_arg d = {f, md, b, slow};
    return branch(c, ok, LLVMBuildFPExt(B, r1, g->f64, ""), slow_div, &d, a, elem);
}
