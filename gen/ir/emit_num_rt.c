/* emit_num_rt.c -- rounding with run-time format parameters: IR that
 * rounds doubles toward zero into a format described by a gen_rtfmt block
 * read at run time (emit_num_rt.h says the scope), bit-exact with
 * runtime/num/round.c ([rnd-2] rz, [rnd-3] overflow, [fmt-2] subnormals)
 * for every format gen_numrt_fmt_make accepts.
 *
 * rz into a grid that is a subset of the doubles keeps the top `kept` bits
 * of the double's 53-bit significand: kept = min(cap + 1, E - qmin + 1)
 * for a double in [2^E, 2^(E+1)), zero when kept <= 0 or |x| < ftz; then
 * the magnitude is clamped to [lo, hi] (both values of the format, so
 * clamping commutes with truncating).  Straight-line integer and float IR
 * on scalars or vectors, no branches. */
#include "emit_num_rt.h"

#include <math.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

/* ---------------------------------------------------------------- parameters */

int gen_numrt_fmt_make(const nr_format *f, nr_rounding mode, gen_rtfmt *out, nr_err *err)
{
    char nm[64];
    nr_format_name(f, nm, sizeof nm);
    memset(out, 0, sizeof *out);
    if (mode != NR_RND_RZ)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "format as data",
                          "rounding %s: run-time formats round toward zero (rz) only",
                          nr_format_rounding_name(mode));
    if (f->kind == NR_FLOAT) {
        if (f->emin - f->man_bits < -1000 || f->emax > 1000)
            return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "format as data",
                              "%s: exponents beyond +-1000 are not run-time formats", nm);
        out->cap = f->man_bits;
        out->qmin = f->emin - f->man_bits;
        out->ftz = f->subnormals ? 0.0 : f->min_normal;
        out->kind = f->subnormals ? GEN_RT_GENERIC : GEN_RT_FLOAT_NOSUB;
        out->mask = (int64_t)~((1ull << (52 - f->man_bits)) - 1);
    } else {
        if (!f->saturate || f->prec > 53)
            return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "format as data",
                              "%s: run-time fixed point saturates and has at most 53 bits",
                              nm);
        out->cap = 52;
        out->qmin = -f->frac_bits;
        out->ftz = 0.0;
        out->kind = GEN_RT_FIXED;
        out->mask = -1;
        out->scale = ldexp(1.0, f->frac_bits);
        out->quantum = ldexp(1.0, -f->frac_bits);
    }
    out->hi = f->max_finite;
    out->lo = f->lowest;
    /* infinities: whatever the library's rounding makes of them */
    out->pinf = nr_round(f, mode, INFINITY, 0, NULL);
    out->ninf = nr_round(f, mode, -INFINITY, 0, NULL);
    out->nan = nr_round(f, mode, NAN, 0, NULL);
    out->negzero = f->has_negzero;
    return 0;
}

LLVMTypeRef gen_numrt_type(gen_ctx *g)
{
    T el[13] = {g->i64, g->i64, g->f64, g->f64, g->f64, g->f64, g->f64,
                g->f64, g->i64, g->i64, g->i64, g->f64, g->f64};
    return LLVMStructTypeInContext(g->ctx, el, 13, 0);
}

void gen_numrt_load(gen_ctx *g, LLVMValueRef ptr, gen_numrt *out)
{
    T st = gen_numrt_type(g);
    V f[13];
    for (unsigned i = 0; i < 13; i++) {
        V a = LLVMBuildStructGEP2(g->b, st, ptr, i, "");
        f[i] = LLVMBuildLoad2(g->b, LLVMStructGetTypeAtIndex(st, i), a, "");
    }
    out->cap = f[0], out->qmin = f[1], out->ftz = f[2], out->hi = f[3], out->lo = f[4];
    out->pinf = f[5], out->ninf = f[6], out->nan = f[7];
    out->negzero = LLVMBuildICmp(g->b, LLVMIntNE, f[8], LLVMConstInt(g->i64, 0, 0), "");
    out->mask = f[10], out->scale = f[11], out->quantum = f[12];
}

/* ---------------------------------------------------------------- IR helpers */

/* v (scalar) in the shape of like: itself, or its splat. */
static V shape(gen_ctx *g, V v, V like)
{
    T t = LLVMTypeOf(like);
    if (LLVMGetTypeKind(t) != LLVMVectorTypeKind)
        return v;
    unsigned n = LLVMGetVectorSize(t);
    T vt = LLVMVectorType(LLVMTypeOf(v), n);
    V ins = LLVMBuildInsertElement(g->b, LLVMGetUndef(vt), v, LLVMConstInt(g->i32, 0, 0), "");
    return LLVMBuildShuffleVector(g->b, ins, LLVMGetUndef(vt), LLVMConstNull(LLVMVectorType(g->i32, n)),
                                  "");
}

/* A constant of scalar type t, shaped like `like`. */
static V kst(gen_ctx *g, T t, uint64_t iv, double fv, V like)
{
    T lt = LLVMTypeOf(like);
    if (LLVMGetTypeKind(lt) == LLVMVectorTypeKind)
        t = LLVMVectorType(t, LLVMGetVectorSize(lt));
    return gen_num_splat_const(t, iv, fv);
}

/* The integer type shaped like x (i64 or <n x i64>). */
static T ity(gen_ctx *g, V x)
{
    T t = LLVMTypeOf(x);
    if (LLVMGetTypeKind(t) == LLVMVectorTypeKind)
        return LLVMVectorType(g->i64, LLVMGetVectorSize(t));
    return g->i64;
}

static V sel(gen_ctx *g, V c, V a, V b) { return LLVMBuildSelect(g->b, c, a, b, ""); }

/* ---------------------------------------------------------------- rounding */

static V rz_double_sum(gen_ctx *g, V a, V b);

LLVMValueRef gen_numrt_round(gen_ctx *g, const gen_numrt *p, LLVMValueRef x)
{
    T it = ity(g, x);
    V bits = LLVMBuildBitCast(g->b, x, it, "");
    V sgn = LLVMBuildAnd(g->b, bits, kst(g, g->i64, 1ull << 63, 0, x), "");
    V mag = LLVMBuildAnd(g->b, bits, kst(g, g->i64, ~(1ull << 63), 0, x), "");
    /* E: the double's unbiased exponent (-1023 for zeros and subnormals) */
    V E = LLVMBuildSub(g->b, LLVMBuildLShr(g->b, mag, kst(g, g->i64, 52, 0, x), ""),
                       kst(g, g->i64, 1023, 0, x), "");
    V one = kst(g, g->i64, 1, 0, x);
    V kept_q = LLVMBuildAdd(g->b, LLVMBuildSub(g->b, E, shape(g, p->qmin, x), ""), one, "");
    V kept_c = LLVMBuildAdd(g->b, shape(g, p->cap, x), one, "");
    V kept = sel(g, LLVMBuildICmp(g->b, LLVMIntSLT, kept_q, kept_c, ""), kept_q, kept_c);
    /* drop = 53 - kept, in [0, 52] when kept >= 1 */
    V drop = LLVMBuildSub(g->b, kst(g, g->i64, 53, 0, x), kept, "");
    V dropc = sel(g, LLVMBuildICmp(g->b, LLVMIntSLT, drop, kst(g, g->i64, 0, 0, x), ""),
                  kst(g, g->i64, 0, 0, x),
                  sel(g, LLVMBuildICmp(g->b, LLVMIntSGT, drop, kst(g, g->i64, 52, 0, x), ""),
                      kst(g, g->i64, 52, 0, x), drop));
    V mask = LLVMBuildShl(g->b, kst(g, g->i64, ~0ull, 0, x), dropc, "");
    V tmag = LLVMBuildAnd(g->b, mag, mask, "");
    /* [rnd-2] below the smallest quantum, [fmt-2] below 2^emin without subnormals */
    V ax = LLVMBuildBitCast(g->b, mag, LLVMTypeOf(x), "");
    V zero = LLVMBuildOr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, kept, one, ""),
                         LLVMBuildFCmp(g->b, LLVMRealOLT, ax, shape(g, p->ftz, x), ""), "");
    tmag = sel(g, zero, kst(g, g->i64, 0, 0, x), tmag);
    V r = LLVMBuildBitCast(g->b, LLVMBuildOr(g->b, sgn, tmag, ""), LLVMTypeOf(x), "");
    /* [rnd-3] rz: overflow gives +-max (the range's ends are values) */
    r = sel(g, LLVMBuildFCmp(g->b, LLVMRealOGT, r, shape(g, p->hi, x), ""), shape(g, p->hi, x), r);
    r = sel(g, LLVMBuildFCmp(g->b, LLVMRealOLT, r, shape(g, p->lo, x), ""), shape(g, p->lo, x), r);
    /* [rnd-4] formats without -0 */
    V z = LLVMBuildFCmp(g->b, LLVMRealOEQ, r, kst(g, g->f64, 0, 0.0, x), "");
    V dropz = LLVMBuildAnd(g->b, z, LLVMBuildNot(g->b, shape(g, p->negzero, x), ""), "");
    r = sel(g, dropz, kst(g, g->f64, 0, 0.0, x), r);
    /* infinities and NaN as the library rounds them */
    V inf = kst(g, g->f64, 0, INFINITY, x);
    r = sel(g, LLVMBuildFCmp(g->b, LLVMRealOEQ, x, inf, ""), shape(g, p->pinf, x), r);
    r = sel(g, LLVMBuildFCmp(g->b, LLVMRealOEQ, x, LLVMBuildFNeg(g->b, inf, ""), ""),
            shape(g, p->ninf, x), r);
    return sel(g, LLVMBuildFCmp(g->b, LLVMRealUNO, x, x, ""), shape(g, p->nan, x), r);
}

/* clamp to [lo, hi], then -0 to +0 for formats without -0 */
static V clamp_zero(gen_ctx *g, const gen_numrt *p, V r)
{
    r = sel(g, LLVMBuildFCmp(g->b, LLVMRealOGT, r, shape(g, p->hi, r), ""), shape(g, p->hi, r), r);
    r = sel(g, LLVMBuildFCmp(g->b, LLVMRealOLT, r, shape(g, p->lo, r), ""), shape(g, p->lo, r), r);
    V z = LLVMBuildFCmp(g->b, LLVMRealOEQ, r, kst(g, g->f64, 0, 0.0, r), "");
    V dropz = LLVMBuildAnd(g->b, z, LLVMBuildNot(g->b, shape(g, p->negzero, r), ""), "");
    return sel(g, dropz, kst(g, g->f64, 0, 0.0, r), r);
}

LLVMValueRef gen_numrt_round_kind(gen_ctx *g, const gen_numrt *p, LLVMValueRef x, int kind)
{
    if (kind == GEN_RT_FIXED) { /* trunc(x * 2^F) * 2^-F, exact steps */
        V t = LLVMBuildFMul(g->b, x, shape(g, p->scale, x), "");
        t = gen_emit_intrinsic(g, "llvm.trunc", LLVMTypeOf(t), &t, 1);
        return clamp_zero(g, p, LLVMBuildFMul(g->b, t, shape(g, p->quantum, x), ""));
    }
    if (kind != GEN_RT_FLOAT_NOSUB)
        return gen_numrt_round(g, p, x);
    T it = ity(g, x);
    V bits = LLVMBuildBitCast(g->b, x, it, "");
    V sgn = LLVMBuildAnd(g->b, bits, kst(g, g->i64, 1ull << 63, 0, x), "");
    V kept = LLVMBuildAnd(g->b, bits, shape(g, p->mask, x), "");
    V ax = LLVMBuildBitCast(g->b, LLVMBuildAnd(g->b, bits, kst(g, g->i64, ~(1ull << 63), 0, x), ""),
                            LLVMTypeOf(x), "");
    V tiny = LLVMBuildFCmp(g->b, LLVMRealOLT, ax, shape(g, p->ftz, x), "");
    V r = LLVMBuildBitCast(g->b, sel(g, tiny, sgn, kept), LLVMTypeOf(x), "");
    return clamp_zero(g, p, r);
}

LLVMValueRef gen_numrt_round_sum_kind(gen_ctx *g, const gen_numrt *p, LLVMValueRef a,
                                      LLVMValueRef b, int kind)
{
    T t = LLVMTypeOf(a);
    if (kind == GEN_RT_GENERIC || !g->avx512f || LLVMGetTypeKind(t) != LLVMVectorTypeKind ||
        LLVMGetVectorSize(t) != 8) {
        if (kind == GEN_RT_GENERIC)
            return gen_numrt_round_sum(g, p, a, b);
        /* TwoSum's double rz, then the shortcut */
        V s = rz_double_sum(g, a, b);
        return gen_numrt_round_kind(g, p, s, kind);
    }
    /* _mm512_add_round_pd(a, b, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC) */
    T ty[3] = {t, t, g->i32};
    V fn = LLVMGetNamedFunction(g->mod, "llvm.x86.avx512.add.pd.512");
    T fty = LLVMFunctionType(t, ty, 3, 0);
    if (!fn)
        fn = LLVMAddFunction(g->mod, "llvm.x86.avx512.add.pd.512", fty);
    V args[3] = {a, b, LLVMConstInt(g->i32, 11, 0)};
    return gen_numrt_round_kind(g, p, LLVMBuildCall2(g->b, fty, fn, args, 3, ""), kind);
}

LLVMValueRef gen_numrt_round_sum(gen_ctx *g, const gen_numrt *p, LLVMValueRef a,
                                 LLVMValueRef b)
{
    return gen_numrt_round(g, p, rz_double_sum(g, a, b));
}

/* a + b rounded toward zero in double, exactly (TwoSum) */
static V rz_double_sum(gen_ctx *g, V a, V b)
{
    /* TwoSum (Knuth): s + e = a + b exactly */
    V s = LLVMBuildFAdd(g->b, a, b, "");
    V bb = LLVMBuildFSub(g->b, s, a, "");
    V ab = LLVMBuildFSub(g->b, s, bb, "");
    V e = LLVMBuildFAdd(g->b, LLVMBuildFSub(g->b, a, ab, ""), LLVMBuildFSub(g->b, b, bb, ""), "");
    /* the exact sum lies strictly between s's predecessor toward zero and s
     * when e and s have opposite signs: rz in double is that predecessor */
    T it = ity(g, s);
    V zf = kst(g, g->f64, 0, 0.0, s);
    V s_pos = LLVMBuildFCmp(g->b, LLVMRealOGT, s, zf, "");
    V e_pos = LLVMBuildFCmp(g->b, LLVMRealOGT, e, zf, "");
    V e_neg = LLVMBuildFCmp(g->b, LLVMRealOLT, e, zf, "");
    V back = sel(g, s_pos, e_neg, e_pos);
    V sb = LLVMBuildBitCast(g->b, s, it, "");
    V dec = LLVMBuildSub(g->b, sb, LLVMBuildZExt(g->b, back, it, ""), "");
    return LLVMBuildBitCast(g->b, dec, LLVMTypeOf(s), "");
}

/* ---------------------------------------------------------------- functions */

static LLVMValueRef whole(gen_ctx *g, const char *name, int nargs)
{
    T ptr = LLVMPointerTypeInContext(g->ctx, 0);
    T args[3] = {g->f64, g->f64, ptr};
    if (nargs == 1)
        args[1] = ptr;
    V fn = gen_emit_function(g, name, LLVMFunctionType(g->f64, args, (unsigned)nargs + 1, 0), 1);
    gen_numrt p;
    gen_numrt_load(g, LLVMGetParam(fn, (unsigned)nargs), &p);
    V r = nargs == 1 ? gen_numrt_round(g, &p, LLVMGetParam(fn, 0))
                     : gen_numrt_round_sum(g, &p, LLVMGetParam(fn, 0), LLVMGetParam(fn, 1));
    LLVMBuildRet(g->b, r);
    return fn;
}

LLVMValueRef gen_numrt_fn_round(gen_ctx *g, const char *name) { return whole(g, name, 1); }
LLVMValueRef gen_numrt_fn_round_sum(gen_ctx *g, const char *name) { return whole(g, name, 2); }
