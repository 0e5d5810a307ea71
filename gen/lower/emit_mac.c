/* emit_mac.c -- conv, dense and unfolded batchnorm ([net-4], [net-5]) as
 * IR loops specialised to the layer: shapes, strides, pads, formats and the
 * rounding mode are constants.  Like the emulator (emu_mac.c) all three ops
 * are one loop nest: dense is a 1x1 conv over a 1x1 map of N channels,
 * batchnorm a depthwise 1x1 conv with weight = scale and bias = shift.
 *
 * Every value is held as the double it exactly is (decode of its encoding,
 * [fmt-5], [net-2]).  Each rounding event of the emulator is one rounding
 * here: fast_round (below) where the exact value is a double, else the
 * general IR of emit_num.c in a shared noinline function.
 *
 * Loop order: unfused/fused keep a row of accumulators (conv) or all
 * outputs (dense) in a stack array and apply each term to all of them in
 * the innermost loop, so iterations are independent (the per-element
 * rounding chains overlap) while every element still sees its terms in
 * canonical order k.  The kernel window is a loop, not unrolled: one copy
 * of the rounding IR per layer keeps LLVM's compile time down.  The exact
 * mode goes element by element through the runtime's Kulisch accumulator
 * (nr_rt_kacc_*, rt.c) and rounds the exact sum in IR. */
#include "plan.h"
#include "emulator.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

typedef nr_mac_geom geom; /* geom.c */

/* The state of one output element's MAC. */
typedef struct mac {
    gen_lctx *c;
    const nr_layer *L;
    const gen_plan_layer *pl;
    geom g;
    const nr_format *wf, *xf, *pf, *sf;
    nr_rounding mode;
    nr_mac_mode mac;
    uint32_t li;
    V xbuf;       /* the input buffer */
    V acc;        /* alloca of acct: the accumulator's value */
    T acct;       /* the accumulators' memory type: double, or float where
                   * fast32 holds on a target without double hardware
                   * (the value is an fp32 value either way: same bits, no
                   * double conversions per term; acc_load/acc_store) */
    V kst;        /* exact: accumulator state (arena scratch) */
    V o, oh, ow, elem, ci0, ci;
    V kadd;
    T kadd_ty;
    int fast32;   /* [net-12] host float arithmetic gives the same bits */
    int fast_p, fast_s, fast_fma; /* fast_round applies (see there) */
    int all_fast; /* mac_fast covers this layer's terms */
    int dense;    /* term_operands: dense (x fixed) or conv row (w fixed) */
    int slow_only; /* every term by the shared general functions: the vector
                    * kernel's rare fallback, in the least code */
    V wconst, xconst, xbase, kcur;
    /* the sequence ops (gen_emit_mac_seq): term k of output i reads its
     * weight at wbase + i*wsn + k*wsk, of the blob or (wact) of an
     * activation buffer (matmul's second operand) */
    int seq;
    V wact, wbase;
    uint64_t wsn, wsk;
} mac;

static V c32(gen_ctx *g, uint64_t v) { return LLVMConstInt(g->i32, v, 0); }

/* ------------------------------------------------------------ fast rounding
 * Rounding a double v that IS the exact value (a product exact in double,
 * or a sum whose TwoSum error is zero), normal as a double, into a float
 * format, with the result as a double value rather than an encoding.
 * Why this is [rnd-2]/[rnd-3] exactly: with E = floor(log2|v|) the quantum
 * is g = 2^qe, qe = max(E, emin) - Y (nosub below 2^emin: qe = emin, so k is
 * 0 or 1); t = v * 2^-qe is exact (a power-of-two scaling whose result is a
 * normal double below 2^(Y+1)), lo and hi are floor|t| and floor|t|+1
 * times g, and the modes are the exact double operations trunc (rz),
 * roundeven (rne: the even multiple of g on a tie; nosub's 0-vs-2^emin tie
 * gives 0), round (rna), floor/ceil (rd/ru), trunc-then-odd (rto), and for
 * sr: up iff r < ceil(frac|t| * 2^32), frac and the scaling exact.  r * 2^qe
 * is exact (a carry to 2^(Y+1) is the next binade's first value), and a
 * result beyond max_finite takes [rnd-3]'s value for the mode and sign.
 * Valid when 2^qe and 2^-qe are doubles: qe in [-1023, 1023] for every
 * possible qe, which fast_fmt checks. */
static int fast_fmt(const nr_format *f)
{
    if (f->kind == NR_FIXED) /* see fixed_round */
        return f->saturate && f->prec <= 53;
    int qmin = f->subnormals ? f->emin - f->man_bits : f->emin;
    return qmin >= -1000 && f->emax <= 1000;
}

/* 2^n for n in [-1074, 1023] */
static V pow2v(gen_ctx *g, V n)
{
    LLVMBuilderRef B = g->b;
    V normal = LLVMBuildICmp(B, LLVMIntSGE, n, LLVMConstInt(g->i64, (uint64_t)-1022, 1), "");
    V nb = LLVMBuildShl(B, LLVMBuildAdd(B, n, LLVMConstInt(g->i64, 1023, 0), ""), LLVMConstInt(g->i64, 52, 0), "");
    V sb = LLVMBuildShl(B, LLVMConstInt(g->i64, 1, 0),
                        LLVMBuildAnd(B, LLVMBuildAdd(B, n, LLVMConstInt(g->i64, 1074, 0), ""), LLVMConstInt(g->i64, 63, 0), ""), "");
    return LLVMBuildBitCast(B, LLVMBuildSelect(B, normal, nb, sb, ""), g->f64, "");
}

static V fcall1(gen_ctx *g, const char *name, V x)
{
    return gen_emit_intrinsic(g, name, g->f64, &x, 1);
}

/* The rounding of t to an integer by mode, like the intrinsics in
 * fast_round but with integer conversions only (bare-metal targets have no
 * libm).  |t| < 2^(Y+1) <= 2^53 in the domain, so fptoui(|t|) = floor|t| is
 * exact, and fr = |t| - floor|t| is exact (Sterbenz for floor|t| >= 1,
 * fr = |t| otherwise); the modes then only compare fr with 0 and 1/2.  The
 * guard keeps fptoui defined outside the domain (results discarded). */
static V int_round(gen_ctx *g, nr_rounding mode, V t, V sr)
{
    LLVMBuilderRef B = g->b;
    V at = fcall1(g, "llvm.fabs", t);
    V in_dom = LLVMBuildFCmp(B, LLVMRealOLT, at, LLVMConstReal(g->f64, 0x1p62), "");
    V ats = LLVMBuildSelect(B, in_dom, at, LLVMConstReal(g->f64, 0.0), "");
    V ti = LLVMBuildFPToUI(B, ats, g->i64, "ti");
    V fr = LLVMBuildFSub(B, ats, LLVMBuildUIToFP(B, ti, g->f64, ""), "fr");
    V neg = LLVMBuildICmp(B, LLVMIntSLT, LLVMBuildBitCast(B, t, g->i64, ""), LLVMConstInt(g->i64, 0, 0), "");
    V nz = LLVMBuildFCmp(B, LLVMRealONE, fr, LLVMConstReal(g->f64, 0.0), "");
    V half = LLVMConstReal(g->f64, 0.5);
    V odd = LLVMBuildTrunc(B, ti, g->i1, "");
    V up;
    switch (mode) {
    case NR_RND_RNE:
        up = LLVMBuildOr(B, LLVMBuildFCmp(B, LLVMRealOGT, fr, half, ""),
                         LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOEQ, fr, half, ""), odd, ""), "");
        break;
    case NR_RND_RNA: up = LLVMBuildFCmp(B, LLVMRealOGE, fr, half, ""); break;
    case NR_RND_RU: up = LLVMBuildAnd(B, nz, LLVMBuildNot(B, neg, ""), ""); break;
    case NR_RND_RD: up = LLVMBuildAnd(B, nz, neg, ""); break;
    case NR_RND_RTO: up = LLVMBuildAnd(B, nz, LLVMBuildNot(B, odd, ""), ""); break;
    case NR_RND_SR: { /* up iff r < ceil(fr * 2^32); fr * 2^32 < 2^32 is exact */
        V s = LLVMBuildFMul(B, fr, LLVMConstReal(g->f64, 4294967296.0), "");
        V si = LLVMBuildFPToUI(B, s, g->i64, "");
        V ceil = LLVMBuildAdd(B, si, LLVMBuildZExt(B, LLVMBuildFCmp(B, LLVMRealONE, s,
                              LLVMBuildUIToFP(B, si, g->f64, ""), ""), g->i64, ""), "");
        up = LLVMBuildICmp(B, LLVMIntULT, LLVMBuildZExt(B, sr, g->i64, ""), ceil, "");
        break;
    }
    default: up = LLVMConstInt(g->i1, 0, 0); break; /* rz */
    }
    V m = LLVMBuildAdd(B, ti, LLVMBuildZExt(B, up, g->i64, ""), "");
    V a2[2] = {LLVMBuildUIToFP(B, m, g->f64, ""), t};
    return gen_emit_intrinsic(g, "llvm.copysign", g->f64, a2, 2);
}

/* t rounded to an integer by mode (the value, as a double; sr: the draw).
 * Exact for |t| < 2^53: the intrinsics are exact double operations, the
 * rest as described at fast_round and int_round. */
static V round_int(gen_ctx *g, nr_rounding mode, V t, V sr)
{
    LLVMBuilderRef B = g->b;
    V r;
    switch (g->no_libm ? NR_RND_COUNT : mode) {
    case NR_RND_COUNT: r = int_round(g, mode, t, sr); break;
    case NR_RND_RNE: r = fcall1(g, "llvm.roundeven", t); break;
    case NR_RND_RNA: r = fcall1(g, "llvm.round", t); break;
    case NR_RND_RU: r = fcall1(g, "llvm.ceil", t); break;
    case NR_RND_RD: r = fcall1(g, "llvm.floor", t); break;
    case NR_RND_RTO: {
        V tr = fcall1(g, "llvm.trunc", t);
        V inexact = LLVMBuildFCmp(B, LLVMRealONE, tr, t, "");
        /* |tr| < 2^(Y+1) here; the guard keeps fptosi defined for operands
         * outside the domain, whose results are discarded anyway */
        V trs = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOLT, fcall1(g, "llvm.fabs", tr), LLVMConstReal(g->f64, 0x1p62), ""),
                                tr, LLVMConstReal(g->f64, 0.0), "");
        V even = LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildAnd(B, LLVMBuildFPToSI(B, trs, g->i64, ""), LLVMConstInt(g->i64, 1, 0), ""),
                               LLVMConstInt(g->i64, 0, 0), "");
        V one[2] = {LLVMConstReal(g->f64, 1.0), t};
        V step = gen_emit_intrinsic(g, "llvm.copysign", g->f64, one, 2);
        r = LLVMBuildSelect(B, LLVMBuildAnd(B, inexact, even, ""), LLVMBuildFAdd(B, tr, step, ""), tr, "");
        break;
    }
    case NR_RND_SR: {
        V at = fcall1(g, "llvm.fabs", t);
        V fl = fcall1(g, "llvm.floor", at);
        V lim = fcall1(g, "llvm.ceil", LLVMBuildFMul(B, LLVMBuildFSub(B, at, fl, ""), LLVMConstReal(g->f64, 4294967296.0), ""));
        V up = LLVMBuildFCmp(B, LLVMRealOLT, LLVMBuildUIToFP(B, sr, g->f64, ""), lim, "");
        V m = LLVMBuildSelect(B, up, LLVMBuildFAdd(B, fl, LLVMConstReal(g->f64, 1.0), ""), fl, "");
        V a2[2] = {m, t};
        r = gen_emit_intrinsic(g, "llvm.copysign", g->f64, a2, 2);
        break;
    }
    default: r = fcall1(g, "llvm.trunc", t); break; /* rz */
    }
    return r;
}

/* Rounding a finite double v that IS the exact value into a saturating
 * fixed-point format qI.F / uqI.F with prec = I+F <= 53 (fast_fmt), as the
 * double value of the result.  Why this is round_fixed (runtime/num/round.c):
 *  - t = v * 2^F is exact (a power-of-two scaling up, F >= 0, subnormal v
 *    included; if it overflows to +-inf, |v| is far beyond the range and
 *    the clamp below gives the saturated end, as [rnd-3] does for a
 *    finite |v| out of range);
 *  - the integers n of the format are [lo, hi] = [-2^prec, 2^prec - 1]
 *    signed, [0, 2^prec - 1] unsigned, both exact doubles (prec <= 53);
 *    round_fixed rounds |t| to k by the mode, then saturates when the
 *    signed k leaves [lo, hi].  Clamping t to [lo, hi] first gives the same:
 *    every mode's rounding (sr too, for a fixed draw) is monotone in t and
 *    leaves integers unchanged, so for t in [lo, hi] the rounded value
 *    stays in [lo, hi] (no saturation either way), and for t > hi it is
 *    >= hi, saturating to hi exactly like the clamp (t < lo likewise; an
 *    unsigned t in (-1, 0) rounds to 0 or -1, both giving 0 = lo);
 *  - round_int is exact on the clamped |t| <= 2^53, and r * 2^-F is exact
 *    (|r| <= 2^53, F <= 64);
 *  - fixed point has no -0 ([rnd-4]): -0 + +0 = +0, other values unchanged.
 * NaN is not in the domain (the callers' ok flags send it to the general
 * path, [rnd-5]); -wrap formats are not fast_fmt. */
static V fixed_round(gen_ctx *g, const nr_format *f, nr_rounding mode, V v, V sr)
{
    LLVMBuilderRef B = g->b;
    double hi = ldexp(1.0, f->prec) - 1, lo = f->is_signed ? -ldexp(1.0, f->prec) : 0.0;
    V t = LLVMBuildFMul(B, v, LLVMConstReal(g->f64, ldexp(1.0, f->frac_bits)), "t");
    t = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGT, t, LLVMConstReal(g->f64, hi), ""),
                        LLVMConstReal(g->f64, hi), t, "");
    t = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOLT, t, LLVMConstReal(g->f64, lo), ""),
                        LLVMConstReal(g->f64, lo), t, "tc");
    V r = round_int(g, mode, t, sr);
    r = LLVMBuildFMul(B, r, LLVMConstReal(g->f64, ldexp(1.0, -f->frac_bits)), "");
    return LLVMBuildFAdd(B, r, LLVMConstReal(g->f64, 0.0), "");
}

static V fast_round(gen_ctx *g, const nr_format *f, nr_rounding mode, V v, V sr)
{
    if (f->kind == NR_FIXED)
        return fixed_round(g, f, mode, v, sr);
    LLVMBuilderRef B = g->b;
    const int Y = f->man_bits;
    V bits = LLVMBuildBitCast(B, v, g->i64, "");
    V E = LLVMBuildSub(B, LLVMBuildAnd(B, LLVMBuildLShr(B, bits, LLVMConstInt(g->i64, 52, 0), ""), LLVMConstInt(g->i64, 0x7ff, 0), ""),
                       LLVMConstInt(g->i64, 1023, 0), "E");
    V emin = LLVMConstInt(g->i64, (uint64_t)(int64_t)f->emin, 1);
    V small = LLVMBuildICmp(B, LLVMIntSLT, E, emin, "");
    V qn = LLVMBuildSub(B, E, LLVMConstInt(g->i64, (uint64_t)Y, 0), "");
    V qs = LLVMConstInt(g->i64, (uint64_t)(int64_t)(f->subnormals ? f->emin - Y : f->emin), 1);
    V qe = LLVMBuildSelect(B, small, qs, qn, "qe");
    V t = LLVMBuildFMul(B, v, pow2v(g, LLVMBuildNeg(B, qe, "")), "t");
    V r = round_int(g, mode, t, sr);
    V res = LLVMBuildFMul(B, r, pow2v(g, qe), "");
    if (!f->has_negzero) /* -0 + +0 = +0 (round to nearest), other values unchanged */
        res = LLVMBuildFAdd(B, res, LLVMConstReal(g->f64, 0.0), "");
    /* [rnd-3] overflow, value per mode and sign */
    V neg = LLVMBuildICmp(B, LLVMIntSLT, bits, LLVMConstInt(g->i64, 0, 0), "");
    V ovf = LLVMBuildFCmp(B, LLVMRealOGT, fcall1(g, "llvm.fabs", res), LLVMConstReal(g->f64, f->max_finite), "ovf");
    double big = f->has_inf ? INFINITY : NAN;
    V pmax = LLVMConstReal(g->f64, f->max_finite), nmax = LLVMConstReal(g->f64, -f->max_finite);
    V pinf = LLVMConstReal(g->f64, big), ninf = LLVMConstReal(g->f64, f->has_inf ? -INFINITY : NAN);
    V pos_o, neg_o;
    if (f->saturate) {
        pos_o = pmax, neg_o = nmax;
    } else {
        switch (mode) {
        case NR_RND_RNE: case NR_RND_RNA: case NR_RND_SR: pos_o = pinf, neg_o = ninf; break;
        case NR_RND_RU: pos_o = pinf, neg_o = nmax; break;
        case NR_RND_RD: pos_o = pmax, neg_o = ninf; break;
        default: pos_o = pmax, neg_o = nmax; break;
        }
    }
    return LLVMBuildSelect(B, ovf, LLVMBuildSelect(B, neg, neg_o, pos_o, ""), res, "");
}

/* Is v a normal double (fast_round's domain)? */
static V is_normal(gen_ctx *g, V v)
{
    LLVMBuilderRef B = g->b;
    V e = LLVMBuildAnd(B, LLVMBuildLShr(B, LLVMBuildBitCast(B, v, g->i64, ""), LLVMConstInt(g->i64, 52, 0), ""),
                       LLVMConstInt(g->i64, 0x7ff, 0), "");
    return LLVMBuildICmp(B, LLVMIntULT, LLVMBuildSub(B, e, LLVMConstInt(g->i64, 1, 0), ""), LLVMConstInt(g->i64, 2046, 0), "");
}

/* Is v +-0 (fast_round keeps its sign; fnuz's -0 becomes +0)? */
static V is_zero(gen_ctx *g, V v)
{
    return LLVMBuildFCmp(g->b, LLVMRealOEQ, v, LLVMConstReal(g->f64, 0.0), "");
}

/* Is the exact double v in fast_round's domain for f: normal or +-0 for a
 * float format, any finite value for fixed point (fixed_round)? */
static V in_domain(gen_ctx *g, const nr_format *f, V v)
{
    LLVMBuilderRef B = g->b;
    if (f->kind == NR_FIXED)
        return LLVMBuildFCmp(B, LLVMRealOLT, fcall1(g, "llvm.fabs", v), LLVMConstReal(g->f64, INFINITY), "");
    return LLVMBuildOr(B, is_normal(g, v), is_zero(g, v), "");
}

/* cond ? fast value : slow value, each computed on its own branch (the
 * slow path is the general exact IR, rarely taken). */
typedef struct fork { LLVMBasicBlockRef slow, join, fast_end; V fast_v; } fork_t;
static void fork_begin(gen_lctx *c, fork_t *f, V cond)
{
    gen_ctx *g = c->g;
    LLVMBasicBlockRef fast = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "fast");
    f->slow = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "slow");
    f->join = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "join");
    LLVMBuildCondBr(g->b, cond, fast, f->slow);
    LLVMPositionBuilderAtEnd(g->b, fast);
}
static void fork_else(gen_lctx *c, fork_t *f, V fast_v)
{
    f->fast_v = fast_v;
    f->fast_end = LLVMGetInsertBlock(c->g->b);
    LLVMBuildBr(c->g->b, f->join);
    LLVMPositionBuilderAtEnd(c->g->b, f->slow);
}
static V fork_end(gen_lctx *c, fork_t *f, V slow_v)
{
    gen_ctx *g = c->g;
    LLVMBasicBlockRef sb = LLVMGetInsertBlock(g->b);
    LLVMBuildBr(g->b, f->join);
    LLVMPositionBuilderAtEnd(g->b, f->join);
    V phi = LLVMBuildPhi(g->b, g->f64, "");
    V vals[2] = {f->fast_v, slow_v};
    LLVMBasicBlockRef bbs[2] = {f->fast_end, sb};
    LLVMAddIncoming(phi, vals, bbs, 2);
    return phi;
}

/* TwoSum's error of s = fl(a + b) is zero (s is then the exact sum). */
static V sum_exact(gen_ctx *g, V a, V b, V s)
{
    LLVMBuilderRef B = g->b;
    V bb = LLVMBuildFSub(B, s, a, "");
    V e = LLVMBuildFAdd(B, LLVMBuildFSub(B, a, LLVMBuildFSub(B, s, bb, ""), ""), LLVMBuildFSub(B, b, bb, ""), "e");
    return LLVMBuildFCmp(B, LLVMRealOEQ, e, LLVMConstReal(g->f64, 0.0), "");
}

/* The general exact IR as a shared, noinline function per (formats,
 * mode): called only off the fast path (or for formats fast_round does not
 * cover), it keeps the hot loops small, vectorisable code out of LLVM's
 * reach for if-conversion, and compile time low (one body per network
 * rather than per layer).  kind: 0 product (w, x), 1 sum (a, b), 2 fma
 * (w, x, acc). */
static V slow_fn(mac *s, int kind)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    const nr_format *rf = kind == 0 ? s->pf : s->sf;
    char n1[64], n2[64], n3[64], name[256];
    nr_format_name(rf, n1, sizeof n1);
    nr_format_name(s->wf, n2, sizeof n2);
    nr_format_name(s->xf, n3, sizeof n3);
    if (kind == 0)
        snprintf(name, sizeof name, "num.mul.%s.%s.%s.%s", n1, nr_format_rounding_name(s->mode), n2, n3);
    else
        snprintf(name, sizeof name, "num.%s.%s.%s", kind == 1 ? "add" : "fma", n1, nr_format_rounding_name(s->mode));
    V fn = LLVMGetNamedFunction(g->mod, name);
    if (fn)
        return fn;
    unsigned na = kind == 2 ? 4 : 3;
    T args[4] = {g->f64, g->f64, kind == 2 ? g->f64 : g->i32, g->i32};
    fn = LLVMAddFunction(g->mod, name, LLVMFunctionType(g->f64, args, na, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(g->ctx, LLVMGetEnumAttributeKindForName("noinline", 8), 0));
    LLVMBasicBlockRef here = LLVMGetInsertBlock(g->b);
    LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, fn, "entry"));
    V a = LLVMGetParam(fn, 0), b = LLVMGetParam(fn, 1), sr = LLVMGetParam(fn, na - 1), r;
    if (kind == 0)
        r = gen_num_round_prod(g, rf, s->mode, s->wf, s->xf, a, b, sr);
    else if (kind == 1)
        r = gen_num_round_sum(g, rf, s->mode, a, b, sr);
    else
        r = gen_num_round_fma(g, rf, s->mode, a, b, LLVMGetParam(fn, 2), sr);
    LLVMBuildRet(g->b, gen_num_decode(g, rf, r));
    LLVMPositionBuilderAtEnd(g->b, here);
    return fn;
}

/* A sum s = fl(a + b) whose TwoSum error is zero is in fast_round's
 * domain when normal, or when zero outside rd: the host's round-to-nearest
 * addition then gives the [rnd-4] sign (x + (-x) = +0, -0 + -0 = -0); under
 * rd an exact zero sum is -0, which the general path does. */
static V sum_ok(mac *s, V sd)
{
    gen_ctx *g = s->c->g;
    /* fixed point: every finite sum (a zero one is +0 there, whatever its
     * sign), and sum_exact already fails for an infinite or NaN s (its
     * TwoSum error is then NaN) */
    if (s->sf->kind == NR_FIXED)
        return LLVMConstInt(g->i1, 1, 0);
    V ok = is_normal(g, sd);
    if (s->mode != NR_RND_RD)
        ok = LLVMBuildOr(g->b, ok, is_zero(g, sd), "");
    return ok;
}

static V slow_call(mac *s, int kind, V a, V b, V c3, V sr)
{
    gen_ctx *g = s->c->g;
    V fn = slow_fn(s, kind);
    V args[4] = {a, b, kind == 2 ? c3 : sr, sr};
    return LLVMBuildCall2(g->b, LLVMGlobalGetValueType(fn), fn, args, kind == 2 ? 4 : 3, "");
}

/* The accumulator at p as a double value, and v (a double value) into it. */
static V acc_load(mac *s, V p)
{
    gen_ctx *g = s->c->g;
    V v = LLVMBuildLoad2(g->b, s->acct, p, "acc");
    return s->acct == g->f64 ? v : LLVMBuildFPExt(g->b, v, g->f64, "");
}

static void acc_store(mac *s, V v, V p)
{
    gen_ctx *g = s->c->g;
    LLVMBuildStore(g->b, s->acct == g->f64 ? v : LLVMBuildFPTrunc(g->b, v, s->acct, ""), p);
}

/* [net-5] one term w*x (term number k, i64) into the accumulator at accp
 * (a double slot) of output element elem. */
static void mac_step(mac *s, V accp, V w, V x, V k, V elem)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    V k32 = LLVMBuildTrunc(B, k, g->i32, "");
    V two_k = LLVMBuildShl(B, k32, c32(g, 1), "");
    V acc = acc_load(s, accp);
    if (s->fast32 && s->mac != NR_MAC_EXACT) {
        /* [net-12] P = S = fp32, rne, operands fp32 values: one IEEE float
         * operation is exactly one rne rounding to fp32 (NaN payloads differ,
         * but every NaN becomes the canonical one at the output rounding) */
        T f32 = LLVMFloatTypeInContext(g->ctx);
        V wf = LLVMBuildFPTrunc(B, w, f32, ""), xf = LLVMBuildFPTrunc(B, x, f32, "");
        V af = LLVMBuildFPTrunc(B, acc, f32, ""), r;
        if (s->mac == NR_MAC_FUSED) {
            V args[3] = {wf, xf, af};
            r = gen_emit_intrinsic(g, "llvm.fma", f32, args, 3);
        } else {
            r = LLVMBuildFAdd(B, af, LLVMBuildFMul(B, wf, xf, ""), "");
        }
        acc_store(s, LLVMBuildFPExt(B, r, g->f64, ""), accp);
        return;
    }
    switch (s->mac) {
    case NR_MAC_UNFUSED: { /* p = round_P(w*x) (PRODUCT(k)); acc = round_S(acc + p) (SUM(k)) */
        V srp = gen_ir_sr(c, s->mode, elem, LLVMBuildAdd(B, two_k, c32(g, 1), ""));
        V p;
        if (s->fast_p && !s->slow_only) { /* w*x is exact in double */
            V pd = LLVMBuildFMul(B, w, x, "wx");
            fork_t f;
            fork_begin(c, &f, in_domain(g, s->pf, pd));
            fork_else(c, &f, fast_round(g, s->pf, s->mode, pd, srp));
            p = fork_end(c, &f, slow_call(s, 0, w, x, NULL, srp));
        } else {
            p = slow_call(s, 0, w, x, NULL, srp);
        }
        V srs = gen_ir_sr(c, s->mode, elem, LLVMBuildAdd(B, two_k, c32(g, 2), ""));
        V r;
        if (s->fast_s && !s->slow_only) {
            V sd = LLVMBuildFAdd(B, acc, p, "s");
            fork_t f;
            fork_begin(c, &f, LLVMBuildAnd(B, sum_ok(s, sd), sum_exact(g, acc, p, sd), ""));
            fork_else(c, &f, fast_round(g, s->sf, s->mode, sd, srs));
            r = fork_end(c, &f, slow_call(s, 1, acc, p, NULL, srs));
        } else {
            r = slow_call(s, 1, acc, p, NULL, srs);
        }
        acc_store(s, r, accp);
        break;
    }
    case NR_MAC_FUSED: { /* acc = round_S(w*x + acc), one rounding (SUM(k)) */
        V srs = gen_ir_sr(c, s->mode, elem, LLVMBuildAdd(B, two_k, c32(g, 2), ""));
        V r;
        if (s->fast_fma && !s->slow_only) { /* w*x exact in double; then one exact sum */
            V pd = LLVMBuildFMul(B, w, x, "wx");
            V sd = LLVMBuildFAdd(B, acc, pd, "s");
            fork_t f;
            fork_begin(c, &f, LLVMBuildAnd(B, sum_ok(s, sd), sum_exact(g, acc, pd, sd), ""));
            fork_else(c, &f, fast_round(g, s->sf, s->mode, sd, srs));
            r = fork_end(c, &f, slow_call(s, 2, w, x, acc, srs));
        } else {
            r = slow_call(s, 2, w, x, acc, srs);
        }
        acc_store(s, r, accp);
        break;
    }
    case NR_MAC_EXACT: {
        V args[3] = {s->kst, w, x};
        LLVMBuildCall2(B, s->kadd_ty, s->kadd, args, 3, "");
        break;
    }
    default: /* block macs: refused by gen_plan_build */
        break;
    }
}

static V slot(mac *s, V buf, T at, V i);

/* The fast path of one term without branches: the new accumulator value
 * if *ok, else garbage (the caller then redoes the term with mac_step).
 * Only for layers where all_fast holds. */
static V mac_fast(mac *s, V acc, V w, V x, V k, V elem, V *ok)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    V two_k = LLVMBuildShl(B, LLVMBuildTrunc(B, k, g->i32, ""), c32(g, 1), "");
    if (s->fast32) { /* always exact, see mac_step */
        T f32 = LLVMFloatTypeInContext(g->ctx);
        V wf = LLVMBuildFPTrunc(B, w, f32, ""), xf = LLVMBuildFPTrunc(B, x, f32, "");
        V af = LLVMBuildFPTrunc(B, acc, f32, ""), r;
        if (s->mac == NR_MAC_FUSED) {
            V args[3] = {wf, xf, af};
            r = gen_emit_intrinsic(g, "llvm.fma", f32, args, 3);
        } else {
            r = LLVMBuildFAdd(B, af, LLVMBuildFMul(B, wf, xf, ""), "");
        }
        *ok = LLVMConstInt(g->i1, 1, 0);
        return LLVMBuildFPExt(B, r, g->f64, "");
    }
    V srs = gen_ir_sr(c, s->mode, elem, LLVMBuildAdd(B, two_k, c32(g, 2), ""));
    V pd = LLVMBuildFMul(B, w, x, "wx");
    if (s->mac == NR_MAC_FUSED) {
        V sd = LLVMBuildFAdd(B, acc, pd, "s");
        *ok = LLVMBuildAnd(B, sum_ok(s, sd), sum_exact(g, acc, pd, sd), "ok");
        return fast_round(g, s->sf, s->mode, sd, srs);
    }
    V srp = gen_ir_sr(c, s->mode, elem, LLVMBuildAdd(B, two_k, c32(g, 1), ""));
    V okp = in_domain(g, s->pf, pd);
    V p = fast_round(g, s->pf, s->mode, pd, srp);
    V sd = LLVMBuildFAdd(B, acc, p, "s");
    *ok = LLVMBuildAnd(B, okp, LLVMBuildAnd(B, sum_ok(s, sd), sum_exact(g, acc, p, sd), ""), "ok");
    return fast_round(g, s->sf, s->mode, sd, srs);
}

/* The operands of term k for element i of the innermost loop: conv rows
 * have one weight and read x at xbase + i*sw; dense has one x and reads
 * the weight of output i. */
static void term_operands(mac *s, V i, V *w, V *x)
{
    gen_lctx *c = s->c;
    LLVMBuilderRef B = c->g->b;
    if (s->seq) {
        *x = s->xconst;
        V wi = LLVMBuildAdd(B, s->wbase, LLVMBuildAdd(B, LLVMBuildMul(B, i, gen_ir_i64(c, s->wsn), ""),
                                                      LLVMBuildMul(B, s->kcur, gen_ir_i64(c, s->wsk), ""), ""), "wi");
        *w = s->wact ? gen_ir_load_dec(c, s->wf, s->wact, wi)
                     : gen_ir_decode(c, s->wf, gen_ir_load_w(c, s->wf, c->w, wi));
    } else if (s->dense) {
        *x = s->xconst;
        V wi = LLVMBuildAdd(B, LLVMBuildMul(B, i, gen_ir_i64(c, (uint64_t)s->g.K), ""), s->kcur, "wi");
        *w = gen_ir_decode(c, s->wf, gen_ir_load_w(c, s->wf, c->w, wi));
    } else {
        *w = s->wconst;
        V xi = LLVMBuildAdd(B, s->xbase, LLVMBuildMul(B, i, gen_ir_i64(c, (uint64_t)s->g.sw), ""), "xi");
        *x = gen_ir_load_dec(c, s->xf, s->xbuf, xi);
    }
}

/* The innermost loop over [from, to): term s->kcur into buf[i], element
 * elem0 + i.  When the layer is all_fast, a first branch-free pass (which
 * LLVM can vectorise) computes every element's fast result into tmp and
 * whether any element left the fast domain; only then is the range redone
 * element by element with mac_step from the untouched buf. */
static void term_range(mac *s, V buf, V tmp, T at, V from, V to, V elem0)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    gen_loop l;
    V w, x;
    if (!s->all_fast) {
        gen_ir_loop_range(c, &l, from, to, "ow");
        term_operands(s, l.i, &w, &x);
        mac_step(s, slot(s, buf, at, l.i), w, x, s->kcur, LLVMBuildAdd(B, elem0, l.i, "elem"));
        gen_ir_loop_end(c, &l);
        return;
    }
    V flag = gen_ir_alloca(c, g->i1, "slow.any");
    LLVMBuildStore(B, LLVMConstInt(g->i1, 0, 0), flag);
    gen_ir_loop_range(c, &l, from, to, "ow");
    term_operands(s, l.i, &w, &x);
    V ok;
    V r = mac_fast(s, acc_load(s, slot(s, buf, at, l.i)), w, x, s->kcur,
                   LLVMBuildAdd(B, elem0, l.i, "elem"), &ok);
    acc_store(s, r, slot(s, tmp, at, l.i));
    LLVMBuildStore(B, LLVMBuildOr(B, LLVMBuildLoad2(B, g->i1, flag, ""), LLVMBuildNot(B, ok, ""), ""), flag);
    gen_ir_loop_end(c, &l);
    LLVMBasicBlockRef copy = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "allfast");
    LLVMBasicBlockRef redo = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "redo");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "termdone");
    LLVMBuildCondBr(B, LLVMBuildLoad2(B, g->i1, flag, ""), redo, copy);
    LLVMPositionBuilderAtEnd(B, copy);
    gen_ir_loop_range(c, &l, from, to, "cp");
    LLVMBuildStore(B, LLVMBuildLoad2(B, s->acct, slot(s, tmp, at, l.i), ""), slot(s, buf, at, l.i));
    gen_ir_loop_end(c, &l);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, redo);
    gen_ir_loop_range(c, &l, from, to, "ow.slow");
    term_operands(s, l.i, &w, &x);
    mac_step(s, slot(s, buf, at, l.i), w, x, s->kcur, LLVMBuildAdd(B, elem0, l.i, "elem"));
    gen_ir_loop_end(c, &l);
    LLVMBuildBr(B, done);
    LLVMPositionBuilderAtEnd(B, done);
}

/* One term (ci, r, col): w*x into the accumulator by the MAC mode. */
static void emit_term(mac *s, V r, V col, int check_r, int check_c)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const geom *G = &s->g;
    V ih = LLVMBuildAdd(B, LLVMBuildMul(B, s->oh, gen_ir_i64(c, (uint64_t)G->sh), ""),
                        LLVMBuildSub(B, LLVMBuildMul(B, r, gen_ir_i64(c, (uint64_t)G->dh), ""),
                                     gen_ir_i64(c, (uint64_t)G->pt), ""), "ih");
    V iw = LLVMBuildAdd(B, LLVMBuildMul(B, s->ow, gen_ir_i64(c, (uint64_t)G->sw), ""),
                        LLVMBuildSub(B, LLVMBuildMul(B, col, gen_ir_i64(c, (uint64_t)G->dw), ""),
                                     gen_ir_i64(c, (uint64_t)G->pl), ""), "iw");
    LLVMBasicBlockRef next = NULL;
    if (check_r || check_c) { /* [net-4] a padding position is skipped: no term at all */
        V ok = NULL;
        if (check_r)
            ok = LLVMBuildICmp(B, LLVMIntULT, ih, gen_ir_i64(c, (uint64_t)G->H), "");
        if (check_c) {
            V okc = LLVMBuildICmp(B, LLVMIntULT, iw, gen_ir_i64(c, (uint64_t)G->W), "");
            ok = ok ? LLVMBuildAnd(B, ok, okc, "") : okc;
        }
        LLVMBasicBlockRef t = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "term");
        next = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "next");
        LLVMBuildCondBr(B, ok, t, next);
        LLVMPositionBuilderAtEnd(B, t);
    }
    V ch = LLVMBuildAdd(B, s->ci0, s->ci, "");
    V xi = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, ch, gen_ir_i64(c, (uint64_t)G->H), ""), ih, ""),
                                        gen_ir_i64(c, (uint64_t)G->W), ""),
                        iw, "xi");
    /* k = (ci*kh + r)*kw + col, counted over the full kernel */
    V k = LLVMBuildAdd(B, LLVMBuildMul(B, s->ci, gen_ir_i64(c, (uint64_t)G->kh * G->kw), ""),
                       LLVMBuildAdd(B, LLVMBuildMul(B, r, gen_ir_i64(c, (uint64_t)G->kw), ""), col, ""),
                       "k");
    V wi = LLVMBuildAdd(B, LLVMBuildMul(B, s->o, gen_ir_i64(c, (uint64_t)G->K), ""), k, "wi");
    V x = gen_ir_load_dec(c, s->xf, s->xbuf, xi);
    V w = gen_ir_decode(c, s->wf, gen_ir_load_w(c, s->wf, c->w, wi));
    mac_step(s, s->acc, w, x, k, s->elem);
    if (next) {
        LLVMBuildBr(B, next);
        LLVMPositionBuilderAtEnd(B, next);
    }
}

/* exact mode: the exact sum of the Kulisch accumulator at kst (rt.h's
 * nr_rt_kacc_get layout) as a gen_exact, read for rounding mode mode. */
void gen_emit_kacc_result(gen_lctx *c, V kst, nr_rounding mode, gen_exact *x)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    T arr = LLVMArrayType(g->i64, 6);
    V res = gen_ir_alloca(c, arr, "kres");
    T gargs[3] = {c->ptr, g->i32, c->ptr};
    T gty = LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), gargs, 3, 0);
    V args[3] = {kst, c32(g, mode == NR_RND_RD), res};
    LLVMBuildCall2(B, gty, gen_ir_rt_fn(c, "nr_rt_kacc_get", gty), args, 3, "");
    V w[6];
    for (int i = 0; i < 6; i++) {
        V idx = gen_ir_i64(c, (uint64_t)i);
        w[i] = LLVMBuildLoad2(B, g->i64, LLVMBuildGEP2(B, g->i64, res, &idx, 1, ""), "");
    }
    x->is_nan = LLVMBuildICmp(B, LLVMIntEQ, w[0], gen_ir_i64(c, NR_CLS_NAN), "");
    x->is_inf = LLVMBuildICmp(B, LLVMIntEQ, w[0], gen_ir_i64(c, NR_CLS_INF), "");
    x->is_zero = LLVMBuildICmp(B, LLVMIntEQ, w[0], gen_ir_i64(c, NR_CLS_ZERO), "");
    x->sign = LLVMBuildTrunc(B, w[1], g->i1, "");
    x->exp = LLVMBuildTrunc(B, w[2], g->i32, "");
    V lo = LLVMBuildZExt(B, w[3], g->i128, ""), hi = LLVMBuildZExt(B, w[4], g->i128, "");
    V sig = LLVMBuildOr(B, lo, LLVMBuildShl(B, hi, LLVMConstInt(g->i128, 64, 0), ""), "");
    /* a finite sum's sig is nonzero; elsewhere give gen_num_round a harmless 1 */
    V fin = LLVMBuildICmp(B, LLVMIntEQ, w[0], gen_ir_i64(c, NR_CLS_FINITE), "");
    x->sig = LLVMBuildSelect(B, fin, sig, LLVMConstInt(g->i128, 1, 0), "");
    x->sticky = LLVMBuildICmp(B, LLVMIntNE, w[5], gen_ir_i64(c, 0), "");
}

static V slot(mac *s, V buf, T at, V i)
{
    gen_ctx *g = s->c->g;
    V idx[2] = {gen_ir_i64(s->c, 0), i};
    return LLVMBuildGEP2(g->b, at, buf, idx, 2, "");
}

/* [net-4] the start value of element elem: the bias (a W value) rounded to
 * S (term BIAS), or +0. */
static V start_value(mac *s, V bias, V elem)
{
    gen_ctx *g = s->c->g;
    if (!bias)
        return LLVMConstReal(g->f64, 0.0);
    return gen_num_decode(g, s->sf, gen_ir_round_val(s->c, s->sf, s->mode, bias, elem,
                                                  NR_EMU_TERM_BIAS));
}

/* [net-5] the output: round_A(acc), term OUT. */
static void store_out(mac *s, V acc, V elem)
{
    gen_ir_store_out(s->c, s->li, acc, elem);
}

/* Row order (conv, batchnorm; unfused/fused): for each output row the OW
 * accumulators live in a stack array and every term is applied to the
 * whole row in the innermost loop.  Each element still sees its terms in
 * canonical order, but consecutive iterations are independent, so the
 * rounding chains overlap (and the weight is decoded once per row).  The
 * padding is skipped by clipping the ow range: iw = ow*sw + off is an input
 * column iff ceil(-off/sw) <= ow <= floor((W-1-off)/sw).  row_body emits
 * output row oh of channel o (both i64 values). */
static void row_body(mac *s, V o, V oh, int any_r, int any_c, V buf, V tmp, T at)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const geom *G = &s->g;
    const nr_layer *L = s->L;
    gen_loop lw, lc, lr, lq;
    s->o = o;
    s->ci0 = LLVMBuildMul(B, LLVMBuildUDiv(B, s->o, gen_ir_i64(c, (uint64_t)G->cout_g), ""),
                          gen_ir_i64(c, (uint64_t)G->cin_g), "ci0");
    V bias = L->b ? gen_ir_decode(c, s->wf, gen_ir_load_w(c, s->wf, c->b, s->o)) : NULL;
    V rowbase = LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, s->o, gen_ir_i64(c, (uint64_t)G->OH), ""), oh, ""),
                             gen_ir_i64(c, (uint64_t)G->OW), "rowbase");
    gen_ir_loop_begin(c, &lw, (uint64_t)G->OW, "ow0");
    acc_store(s, start_value(s, bias, LLVMBuildAdd(B, rowbase, lw.i, "")), slot(s, buf, at, lw.i));
    gen_ir_loop_end(c, &lw);
    gen_ir_loop_begin(c, &lc, (uint64_t)G->cin_g, "ci");
    gen_ir_loop_begin(c, &lr, (uint64_t)G->kh, "r");
    V ih = LLVMBuildAdd(B, LLVMBuildMul(B, oh, gen_ir_i64(c, (uint64_t)G->sh), ""),
                        LLVMBuildSub(B, LLVMBuildMul(B, lr.i, gen_ir_i64(c, (uint64_t)G->dh), ""),
                                     gen_ir_i64(c, (uint64_t)G->pt), ""), "ih");
    LLVMBasicBlockRef skip = NULL;
    if (any_r) { /* [net-4] a padding row: no terms */
        LLVMBasicBlockRef t = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "row");
        skip = LLVMAppendBasicBlockInContext(g->ctx, c->fn, "rowskip");
        LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntULT, ih, gen_ir_i64(c, (uint64_t)G->H), ""), t, skip);
        LLVMPositionBuilderAtEnd(B, t);
    }
    V xrow = LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, s->ci0, lc.i, ""), gen_ir_i64(c, (uint64_t)G->H), ""), ih, ""),
                          gen_ir_i64(c, (uint64_t)G->W), "xrow");
    gen_ir_loop_begin(c, &lq, (uint64_t)G->kw, "q");
    V k = LLVMBuildAdd(B, LLVMBuildMul(B, lc.i, gen_ir_i64(c, (uint64_t)G->kh * G->kw), ""),
                       LLVMBuildAdd(B, LLVMBuildMul(B, lr.i, gen_ir_i64(c, (uint64_t)G->kw), ""), lq.i, ""), "k");
    V w = gen_ir_decode(c, s->wf, gen_ir_load_w(c, s->wf, c->w,
                                              LLVMBuildAdd(B, LLVMBuildMul(B, s->o, gen_ir_i64(c, (uint64_t)G->K), ""), k, "")));
    V off = LLVMBuildSub(B, LLVMBuildMul(B, lq.i, gen_ir_i64(c, (uint64_t)G->dw), ""), gen_ir_i64(c, (uint64_t)G->pl), "off");
    V from = gen_ir_i64(c, 0), to = gen_ir_i64(c, (uint64_t)G->OW);
    if (any_c) {
        V zero = gen_ir_i64(c, 0), sw = gen_ir_i64(c, (uint64_t)G->sw);
        V neg = LLVMBuildSub(B, zero, off, "");
        V negc = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, neg, zero, ""), neg, zero, "");
        from = LLVMBuildUDiv(B, LLVMBuildAdd(B, negc, gen_ir_i64(c, (uint64_t)G->sw - 1), ""), sw, "from");
        V t = LLVMBuildSub(B, gen_ir_i64(c, (uint64_t)G->W - 1), off, "");
        V tc = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, t, zero, ""), zero,
                               LLVMBuildAdd(B, LLVMBuildUDiv(B, t, sw, ""), gen_ir_i64(c, 1), ""), "");
        to = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, tc, to, ""), tc, to, "to");
    }
    s->wconst = w, s->kcur = k, s->xbase = LLVMBuildAdd(B, xrow, off, "xbase");
    term_range(s, buf, tmp, at, from, to, rowbase);
    gen_ir_loop_end(c, &lq);
    if (skip) {
        LLVMBuildBr(B, skip);
        LLVMPositionBuilderAtEnd(B, skip);
    }
    gen_ir_loop_end(c, &lr);
    gen_ir_loop_end(c, &lc);
    gen_ir_loop_begin(c, &lw, (uint64_t)G->OW, "ow1");
    store_out(s, acc_load(s, slot(s, buf, at, lw.i)), LLVMBuildAdd(B, rowbase, lw.i, ""));
    gen_ir_loop_end(c, &lw);
}

static void emit_rows(mac *s, int any_r, int any_c)
{
    gen_lctx *c = s->c;
    const geom *G = &s->g;
    T at = LLVMArrayType(s->acct, (unsigned)G->OW);
    V buf = gen_ir_alloca(c, at, "row.acc"), tmp = gen_ir_alloca(c, at, "row.new");
    gen_loop lo, lh;
    gen_ir_loop_begin(c, &lo, (uint64_t)G->O, "o");
    gen_ir_loop_begin(c, &lh, (uint64_t)G->OH, "oh");
    row_body(s, lo.i, lh.i, any_r, any_c, buf, tmp, at);
    gen_ir_loop_end(c, &lh);
    gen_ir_loop_end(c, &lo);
}

/* Dense (unfused/fused): the O accumulators in a stack array, terms in
 * order k, each applied to every output in the inner loop (independent
 * iterations again; x is decoded once per term). */
static void emit_dense(mac *s)
{
    gen_lctx *c = s->c;
    const geom *G = &s->g;
    T at = LLVMArrayType(s->acct, (unsigned)G->O);
    V buf = gen_ir_alloca(c, at, "acc"), tmp = gen_ir_alloca(c, at, "acc.new");
    gen_loop lo, lk;
    gen_ir_loop_begin(c, &lo, (uint64_t)G->O, "o0");
    V bias = s->L->b ? gen_ir_decode(c, s->wf, gen_ir_load_w(c, s->wf, c->b, lo.i)) : NULL;
    acc_store(s, start_value(s, bias, lo.i), slot(s, buf, at, lo.i));
    gen_ir_loop_end(c, &lo);
    gen_ir_loop_begin(c, &lk, (uint64_t)G->K, "k");
    V x = gen_ir_load_dec(c, s->xf, s->xbuf, lk.i);
    s->dense = 1, s->xconst = x, s->kcur = lk.i;
    term_range(s, buf, tmp, at, gen_ir_i64(c, 0), gen_ir_i64(c, (uint64_t)G->O), gen_ir_i64(c, 0));
    gen_ir_loop_end(c, &lk);
    gen_ir_loop_begin(c, &lo, (uint64_t)G->O, "o1");
    store_out(s, acc_load(s, slot(s, buf, at, lo.i)), lo.i);
    gen_ir_loop_end(c, &lo);
}

/* The fast-path flags of s (formats, mode and fast32 set). */
static void fast_flags(mac *s)
{
    /* w*x exact in double: same test as emit_num.c's prod_exact_in_double */
    int lsw = s->wf->kind == NR_FIXED ? -s->wf->frac_bits : s->wf->emin - s->wf->man_bits;
    int lsx = s->xf->kind == NR_FIXED ? -s->xf->frac_bits : s->xf->emin - s->xf->man_bits;
    int prod_exact = s->wf->prec + s->xf->prec <= 53 && lsw + lsx >= -1074 &&
                     ilogb(s->wf->max_finite) + ilogb(s->xf->max_finite) + 2 <= 1024;
    s->fast_p = prod_exact && fast_fmt(s->pf);
    s->fast_s = fast_fmt(s->sf);
    s->fast_fma = prod_exact && fast_fmt(s->sf);
    s->all_fast = s->fast32 || (s->mac == NR_MAC_UNFUSED && s->fast_p && s->fast_s) ||
                  (s->mac == NR_MAC_FUSED && s->fast_fma);
    gen_ctx *g = s->c->g;
    s->acct = s->fast32 && s->mac != NR_MAC_EXACT && g->int_narrow ? LLVMFloatTypeInContext(g->ctx)
                                                                   : g->f64;
    s->acc = gen_ir_alloca(s->c, s->acct, "acc.slot");
}

/* The layer's roles, mode, MAC mode, input buffer and accumulator slot
 * (and the exact mode's state) into s (s->c, s->L set); wf: the format
 * of the weight operand. */
static void mac_roles(mac *s, const nr_format *wf)
{
    gen_lctx *c = s->c;
    gen_ctx *g = c->g;
    const nr_layer *L = s->L;
    s->wf = wf;
    s->xf = gen_ir_in_fmt(c, (int)s->li, 0);
    s->pf = &L->prec.products;
    s->sf = &L->prec.accumulator;
    s->mode = L->prec.rounding;
    s->mac = L->prec.mac;
    s->xbuf = c->in[0];
    if (s->mac == NR_MAC_EXACT) {
        s->kst = c->scratch;
        T aargs[3] = {c->ptr, g->f64, g->f64};
        s->kadd_ty = LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), aargs, 3, 0);
        s->kadd = gen_ir_rt_fn(c, "nr_rt_kacc_add", s->kadd_ty);
    }
}

/* The layer's formats, modes, geometry and fast-path flags; *any_r /
 * *any_c: can some kernel row/column fall into the padding (for any
 * output)? */
static int mac_setup(gen_lctx *c, int li, mac *sp, int *any_r_, int *any_c_, nr_err *err)
{
    const nr_layer *L = &c->m->layers[li];
    mac s = {.c = c, .L = L, .pl = &c->p->ly[li], .li = (uint32_t)li};
    int rc = nr_mac_geom_check(L, &s.g, err);
    if (rc)
        return rc;
    const geom *G = &s.g;
    mac_roles(&s, &L->prec.weights);
    int kh = G->kh, kw = G->kw, any_r = 0, any_c = 0;
    for (int r = 0; r < kh; r++) {
        long lo = (long)r * G->dh - G->pt, hi = (long)(G->OH - 1) * G->sh + lo;
        any_r |= lo < 0 || hi >= G->H;
    }
    for (int q = 0; q < kw; q++) {
        long lo = (long)q * G->dw - G->pl, hi = (long)(G->OW - 1) * G->sw + lo;
        any_c |= lo < 0 || hi >= G->W;
    }
    s.fast32 = gen_ir_mac_fast32(L, s.xf);
    fast_flags(&s);
    *sp = s;
    *any_r_ = any_r, *any_c_ = any_c;
    return 0;
}

int gen_emit_mac_row(gen_lctx *c, int li, V o, V oh, nr_err *err)
{
    mac s;
    int any_r, any_c, rc = mac_setup(c, li, &s, &any_r, &any_c, err);
    if (rc)
        return rc;
    s.slow_only = 1, s.all_fast = 0;
    T at = LLVMArrayType(s.acct, (unsigned)s.g.OW);
    V buf = gen_ir_alloca(c, at, "row.acc"), tmp = gen_ir_alloca(c, at, "row.new");
    row_body(&s, o, oh, any_r, any_c, buf, tmp, at);
    return 0;
}

int gen_emit_mac(gen_lctx *c, int li, nr_err *err)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    if (gen_emit_mac_int_applies(c, li)) /* no double hardware: integer code */
        return gen_emit_mac_int(c, li, err);
    mac s;
    int any_r, any_c, rc = mac_setup(c, li, &s, &any_r, &any_c, err);
    if (rc)
        return rc;
    const geom *G = &s.g;
    const nr_format *af = &L->prec.activations;
    int kh = G->kh, kw = G->kw;
    if (s.mac != NR_MAC_EXACT && L->op == NR_OP_DENSE && G->O <= 65536) {
        emit_dense(&s);
        return 0;
    }
    if (s.mac != NR_MAC_EXACT && G->OW <= 65536) {
        emit_rows(&s, any_r, any_c);
        return 0;
    }
    /* exact mode (and huge rows): element by element */
    gen_loop lo, lh, lw, lc;
    gen_ir_loop_begin(c, &lo, (uint64_t)G->O, "o");
    s.o = lo.i;
    s.ci0 = LLVMBuildMul(B, LLVMBuildUDiv(B, s.o, gen_ir_i64(c, (uint64_t)G->cout_g), ""),
                         gen_ir_i64(c, (uint64_t)G->cin_g), "ci0");
    V bias = NULL;
    if (L->b) /* a W value; rounded to S per element below (SR term BIAS) */
        bias = gen_num_decode(g, s.wf, gen_ir_load_w(c, s.wf, c->b, s.o));
    gen_ir_loop_begin(c, &lh, (uint64_t)G->OH, "oh");
    s.oh = lh.i;
    gen_ir_loop_begin(c, &lw, (uint64_t)G->OW, "ow");
    s.ow = lw.i;
    s.elem = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, s.o, gen_ir_i64(c, (uint64_t)G->OH), ""), s.oh, ""),
                                          gen_ir_i64(c, (uint64_t)G->OW), ""),
                          s.ow, "elem");
    /* [net-4] start: the bias rounded to S, or +0 */
    V start = LLVMConstReal(g->f64, 0.0);
    if (bias)
        start = gen_num_decode(g, s.sf, gen_ir_round_val(c, s.sf, s.mode, bias, s.elem,
                                                       NR_EMU_TERM_BIAS));
    acc_store(&s, start, s.acc);
    T iargs[3] = {c->ptr, g->i32, g->i32};
    T ity = LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), iargs, 3, 0);
    if (s.mac == NR_MAC_EXACT) {
        V a[3] = {s.kst, c32(g, (uint64_t)s.pl->klimbs), LLVMConstInt(g->i32, (uint64_t)(int64_t)s.pl->klsb, 1)};
        LLVMBuildCall2(B, ity, gen_ir_rt_fn(c, "nr_rt_kacc_init", ity), a, 3, "");
        V b[3] = {s.kst, start, LLVMConstReal(g->f64, 1.0)};
        LLVMBuildCall2(B, s.kadd_ty, s.kadd, b, 3, "");
    }
    gen_ir_loop_begin(c, &lc, (uint64_t)G->cin_g, "ci");
    s.ci = lc.i;
    /* the padding test only when some row/column can reach the padding */
    gen_loop lr, lq;
    gen_ir_loop_begin(c, &lr, (uint64_t)kh, "r");
    gen_ir_loop_begin(c, &lq, (uint64_t)kw, "q");
    emit_term(&s, lr.i, lq.i, any_r, any_c);
    gen_ir_loop_end(c, &lq);
    gen_ir_loop_end(c, &lr);
    gen_ir_loop_end(c, &lc);
    V acc;
    if (s.mac == NR_MAC_EXACT) { /* [net-5] the exact sum rounded once (term EXACT) */
        gen_exact x;
        gen_emit_kacc_result(c, s.kst, s.mode, &x);
        V sr = gen_ir_sr(c, s.mode, s.elem, c32(g, NR_EMU_TERM_EXACT));
        acc = gen_num_decode(g, s.sf, gen_num_round(g, s.sf, s.mode, &x, sr));
    } else {
        acc = acc_load(&s, s.acc);
    }
    /* [net-5] the output: round_A(acc), term OUT */
    V y = gen_ir_round_val(c, af, s.mode, acc, s.elem, NR_EMU_TERM_OUT);
    gen_ir_store_enc(c, af, c->out, s.elem, y);
    gen_ir_loop_end(c, &lw);
    gen_ir_loop_end(c, &lh);
    gen_ir_loop_end(c, &lo);
    return 0;
}

/* ------------------------------------------------------------ sequence ops
 * linear ([op-linear]) and matmul ([op-matmul]): for each row (b, m) the N
 * outputs y[b, m, n] = start + sum_k x(k) w(n, k), terms k ascending, by
 * the same mac_step/term_range as dense (the row's N accumulators advance
 * together), or element by element in the exact mode.  x(k) = a[b, m, k]
 * (stored transposed with transpose_a); w(n, k) = the weight [n, k], which
 * plan.c packs transposed ([k, n], gen_seq_wpos), or b[b, k, n] (stored
 * transposed with transpose_b).  Operands of batch 1 broadcast. */
int gen_emit_mac_seq(gen_lctx *c, int li, nr_err *err)
{
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    const nr_layer *L = &c->m->layers[li];
    const int lin = L->op == NR_OP_LINEAR;
    const int *a = L->in_shape[0], *bs = L->in_shape[1], *o = L->out_shape;
    const int Bn = o[0], M = o[1], N = o[2];
    const int K = lin ? a[2] : L->spec->trans_a ? a[1] : a[2];
    const int ta = !lin && L->spec->trans_a, tb = !lin && L->spec->trans_b;
    mac s = {.c = c, .L = L, .pl = &c->p->ly[li], .li = (uint32_t)li, .seq = 1};
    if (L->prec.mac != NR_MAC_UNFUSED && L->prec.mac != NR_MAC_FUSED && L->prec.mac != NR_MAC_EXACT)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name, "%s: mac %s is not supported for "
                          "sequence ops", nr_spec_op_name(L->op), nr_prec_mac_name(L->prec.mac));
    mac_roles(&s, lin ? &L->prec.weights : gen_ir_in_fmt(c, li, 1));
    s.wact = lin ? NULL : c->in[1];
    s.wsn = lin || !tb ? 1 : (uint64_t)K;
    s.wsk = lin || !tb ? (uint64_t)N : 1;
    s.fast32 = !lin ? gen_ir_fmt_is(s.pf, "fp32") && gen_ir_fmt_is(s.sf, "fp32") &&
                          s.mode == NR_RND_RNE && nr_format_fits_f32(s.wf) &&
                          nr_format_fits_f32(s.xf)
                    : gen_ir_mac_fast32(L, s.xf);
    fast_flags(&s);
    const int rowwise = s.mac != NR_MAC_EXACT && N <= 65536;
    T at = LLVMArrayType(s.acct, (unsigned)(rowwise ? N : 1));
    V buf = rowwise ? gen_ir_alloca(c, at, "acc") : NULL, tmp = rowwise ? gen_ir_alloca(c, at, "acc.new") : NULL;
    gen_loop lb, lm, ln, lk;
    gen_ir_loop_begin(c, &lb, (uint64_t)Bn, "b");
    V ba = lin || a[0] > 1 ? lb.i : gen_ir_i64(c, 0);
    V A0 = LLVMBuildMul(B, ba, gen_ir_i64(c, (uint64_t)a[1] * a[2]), "");
    s.wbase = lin || bs[0] == 1 ? gen_ir_i64(c, 0) : LLVMBuildMul(B, lb.i, gen_ir_i64(c, (uint64_t)K * N), "");
    gen_ir_loop_begin(c, &lm, (uint64_t)M, "m");
    V xbase = LLVMBuildAdd(B, A0, ta ? lm.i : LLVMBuildMul(B, lm.i, gen_ir_i64(c, (uint64_t)K), ""), "xbase");
    V xsk = gen_ir_i64(c, ta ? (uint64_t)M : 1);
    V elem0 = LLVMBuildMul(B, LLVMBuildAdd(B, LLVMBuildMul(B, lb.i, gen_ir_i64(c, (uint64_t)M), ""), lm.i, ""),
                           gen_ir_i64(c, (uint64_t)N), "elem0");
    if (rowwise) {
        gen_ir_loop_begin(c, &ln, (uint64_t)N, "n0");
        V bias = lin && L->b ? gen_ir_decode(c, s.wf, gen_ir_load_w(c, s.wf, c->b, ln.i)) : NULL;
        acc_store(&s, start_value(&s, bias, LLVMBuildAdd(B, elem0, ln.i, "")), slot(&s, buf, at, ln.i));
        gen_ir_loop_end(c, &ln);
        gen_ir_loop_begin(c, &lk, (uint64_t)K, "k");
        s.xconst = gen_ir_load_dec(c, s.xf, s.xbuf, LLVMBuildAdd(B, xbase, LLVMBuildMul(B, lk.i, xsk, ""), ""));
        s.kcur = lk.i;
        term_range(&s, buf, tmp, at, gen_ir_i64(c, 0), gen_ir_i64(c, (uint64_t)N), elem0);
        gen_ir_loop_end(c, &lk);
        gen_ir_loop_begin(c, &ln, (uint64_t)N, "n1");
        store_out(&s, acc_load(&s, slot(&s, buf, at, ln.i)), LLVMBuildAdd(B, elem0, ln.i, ""));
        gen_ir_loop_end(c, &ln);
    } else { /* element by element (exact mode, huge rows) */
        gen_ir_loop_begin(c, &ln, (uint64_t)N, "n");
        V elem = LLVMBuildAdd(B, elem0, ln.i, "elem");
        V bias = lin && L->b ? gen_ir_decode(c, s.wf, gen_ir_load_w(c, s.wf, c->b, ln.i)) : NULL;
        V start = start_value(&s, bias, elem);
        acc_store(&s, start, s.acc);
        if (s.mac == NR_MAC_EXACT) {
            T iargs[3] = {c->ptr, g->i32, g->i32};
            T ity = LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), iargs, 3, 0);
            V ia[3] = {s.kst, c32(g, (uint64_t)s.pl->klimbs), LLVMConstInt(g->i32, (uint64_t)(int64_t)s.pl->klsb, 1)};
            LLVMBuildCall2(B, ity, gen_ir_rt_fn(c, "nr_rt_kacc_init", ity), ia, 3, "");
            V ka[3] = {s.kst, start, LLVMConstReal(g->f64, 1.0)};
            LLVMBuildCall2(B, s.kadd_ty, s.kadd, ka, 3, "");
        }
        gen_ir_loop_begin(c, &lk, (uint64_t)K, "k");
        s.xconst = gen_ir_load_dec(c, s.xf, s.xbuf, LLVMBuildAdd(B, xbase, LLVMBuildMul(B, lk.i, xsk, ""), ""));
        s.kcur = lk.i;
        V w, x;
        term_operands(&s, ln.i, &w, &x);
        mac_step(&s, s.acc, w, x, lk.i, elem);
        gen_ir_loop_end(c, &lk);
        V acc;
        if (s.mac == NR_MAC_EXACT) { /* [net-5] the exact sum rounded once (term EXACT) */
            gen_exact ex;
            gen_emit_kacc_result(c, s.kst, s.mode, &ex);
            V sr = gen_ir_sr(c, s.mode, elem, c32(g, NR_EMU_TERM_EXACT));
            acc = gen_num_decode(g, s.sf, gen_num_round(g, s.sf, s.mode, &ex, sr));
        } else {
            acc = acc_load(&s, s.acc);
        }
        store_out(&s, acc, elem);
        gen_ir_loop_end(c, &ln);
    }
    gen_ir_loop_end(c, &lm);
    gen_ir_loop_end(c, &lb);
    return 0;
}
