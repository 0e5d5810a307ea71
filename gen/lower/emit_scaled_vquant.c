/* emit_scaled_vquant.c -- the dynamic quantization of an activation tensor
 * ([scl-dot-act], [scl-scale], [scl-nv], [scl-elem], [scl-special]) as
 * vector code, for rne (every preset) and the scale rules whose result
 * is a plain rounding: e8m0 floor/ceil/even/rceil (exponent arithmetic on
 * amax's bits, as scaled_quant.c's e8m0_exponent), fp32/ue4m3/nv `amax`
 * and `static`.  emit_scaled.c's gen_emit_scaled_quant calls it for the
 * bulk of a tensor and finishes the rest (block: the last HW % 8
 * positions; tensor: the last n % 8 elements) with its scalar code, which
 * also does everything this file does not apply to.
 *
 * Lanes are 8 doubles: for block granularity 8 adjacent positions (h, w),
 * each lane one group (its channels are the loop), so amax, the scale and
 * the elements of 8 groups are computed at once; for a tensor scale 8
 * adjacent elements.  Rounding a value q (a double equal to the exact
 * value, or the exact value rounded to odd in double: ro below) to a
 * format with p = man_bits + 1 significant bits and smallest normal
 * exponent emin in rne is rint(q * 2^(m - e)) * 2^(e - m), e = max(E(q),
 * emin), m = man_bits (fixed point: e - m = -frac_bits): the scaling is
 * exact and rint rounds half to even.  A quotient V / X with X not a power
 * of two is a faithful d (from fl(1/X), one correction step: quot_ro)
 * moved to odd when the residual fma(-d, X, V) is not zero and d is even
 * (round to odd keeps every rounding to fewer than 52 bits correct); with
 * a power-of-two X, V / X is exact.  amax is an integer maximum of the
 * bits of |v| (amax_bits_step). */
#include "emit_scaled.h"

#include <math.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

enum { QL = 8 }; /* lanes */

typedef struct vq {
    gen_lctx *c;
    const nr_scaled *s;
    T vd, vi, vf;
} vq;

static V dsplat(vq *q, double d)
{
    V e[QL];
    for (int i = 0; i < QL; i++)
        e[i] = LLVMConstReal(q->c->g->f64, d);
    return LLVMConstVector(e, QL);
}
static V isplat(vq *q, int64_t v)
{
    V e[QL];
    for (int i = 0; i < QL; i++)
        e[i] = LLVMConstInt(q->c->g->i64, (uint64_t)v, 1);
    return LLVMConstVector(e, QL);
}
static V vsplat(vq *q, V s)
{
    gen_ctx *g = q->c->g;
    V u = LLVMGetUndef(q->vd);
    V one = LLVMBuildInsertElement(g->b, u, s, LLVMConstInt(g->i32, 0, 0), "");
    return LLVMBuildShuffleVector(g->b, one, u, LLVMConstNull(LLVMVectorType(g->i32, QL)), "");
}
static V intr(vq *q, const char *name, V *a, unsigned n) { return gen_emit_intrinsic(q->c->g, name, q->vd, a, n); }
static V vabs(vq *q, V x) { return intr(q, "llvm.fabs", &x, 1); }
static V intr_abs_scalar(gen_ctx *g, V x) { return gen_emit_intrinsic(g, "llvm.fabs", g->f64, &x, 1); }
static V bits(vq *q, V x) { return LLVMBuildBitCast(q->c->g->b, x, q->vi, ""); }
static V unbits(vq *q, V x) { return LLVMBuildBitCast(q->c->g->b, x, q->vd, ""); }
static V gep(gen_ctx *g, T t, V base, V i) { return LLVMBuildGEP2(g->b, t, base, &i, 1, ""); }
static V vload(gen_ctx *g, T t, V p)
{
    V l = LLVMBuildLoad2(g->b, t, p, "");
    LLVMSetAlignment(l, 4);
    return l;
}
static void vstore(gen_ctx *g, V v, V p)
{
    V s = LLVMBuildStore(g->b, v, p);
    LLVMSetAlignment(s, 4);
}

/* 2^k for i64 lanes k in the normal double range */
static V pow2(vq *q, V k)
{
    LLVMBuilderRef B = q->c->g->b;
    return unbits(q, LLVMBuildShl(B, LLVMBuildAdd(B, k, isplat(q, 1023), ""), isplat(q, 52), ""));
}
/* floor(log2 |x|) of normal doubles x (and -1023 for zero) */
static V expo(vq *q, V x)
{
    LLVMBuilderRef B = q->c->g->b;
    V e = LLVMBuildAnd(B, LLVMBuildLShr(B, bits(q, x), isplat(q, 52), ""), isplat(q, 0x7ff), "");
    return LLVMBuildSub(B, e, isplat(q, 1023), "");
}
static V imax(vq *q, V a, V b)
{
    LLVMBuilderRef B = q->c->g->b;
    return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, a, b, ""), a, b, "");
}
static V imin(vq *q, V a, V b)
{
    LLVMBuilderRef B = q->c->g->b;
    return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, a, b, ""), a, b, "");
}

/* a / b (b > 0) rounded to odd in double; exact when b is a power of two
 * (then rb = 1/b, exact), else rb = fl(1/b) (or NULL: a division).
 * Without a division: d0 = fl(a * rb) is within 3 ulps of q = a / b; the
 * residual a - d0 b is then exact in double (a has at most 24 significant
 * bits, b at most 28: the residual is a multiple of ulp(d0) ulp(b) below
 * 2^31 of them), so fma gives it, and d = fl(d0 + r0 rb) is q + (q - d0)
 * (rb b - 1) rounded once: within half an ulp plus 2^-50 ulp of q, a
 * neighbour of q (faithful).  A faithful d with its exact residual
 * fma(-d, b, a) moved to odd when the residual is not zero and d is even
 * is q rounded to odd (q lies strictly between d and its neighbour on the
 * residual's side, and one of the two is odd). */
static V quot_ro(vq *q, V a, V b, V rb, int pow2b)
{
    LLVMBuilderRef B = q->c->g->b;
    if (pow2b)
        return LLVMBuildFMul(B, a, rb, "d");
    V d;
    if (rb) {
        V d0 = LLVMBuildFMul(B, a, rb, "d0");
        V a0[3] = {LLVMBuildFNeg(B, d0, ""), b, a};
        V r0 = intr(q, "llvm.fma", a0, 3); /* a - d0 b, exact */
        V a1[3] = {r0, rb, d0};
        d = intr(q, "llvm.fma", a1, 3);
    } else {
        d = LLVMBuildFDiv(B, a, b, "d");
    }
    V args[3] = {LLVMBuildFNeg(B, d, ""), b, a};
    V r = intr(q, "llvm.fma", args, 3); /* a - d b, exact */
    V db = bits(q, d);
    V even = LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildAnd(B, db, isplat(q, 1), ""), isplat(q, 0), "");
    V inexact = LLVMBuildFCmp(B, LLVMRealONE, r, dsplat(q, 0.0), "");
    V up = LLVMBuildICmp(B, LLVMIntSGE, LLVMBuildXor(B, db, bits(q, r), ""), isplat(q, 0), "");
    V adj = LLVMBuildSelect(B, LLVMBuildAnd(B, even, inexact, ""),
                            LLVMBuildSelect(B, up, isplat(q, 1), isplat(q, -1), ""), isplat(q, 0), "");
    return unbits(q, LLVMBuildAdd(B, db, adj, ""));
}

/* rne of v (exact or rounded to odd) into the float or fixed format f,
 * without range limits (the caller clamps) */
static V round_to(vq *q, const nr_format *f, V v)
{
    LLVMBuilderRef B = q->c->g->b;
    V lo; /* e - m */
    if (f->kind == NR_FIXED)
        lo = isplat(q, -f->frac_bits);
    else
        lo = LLVMBuildSub(B, imax(q, expo(q, v), isplat(q, f->emin)), isplat(q, f->man_bits), "");
    V x = LLVMBuildFMul(B, v, pow2(q, LLVMBuildNeg(B, lo, "")), "");
    return LLVMBuildFMul(B, intr(q, "llvm.rint", &x, 1), pow2(q, lo), "");
}

int gen_scaled_vquant_applies(const gen_lctx *c, const nr_scaled *s, nr_rounding mode)
{
    const nr_format *e = &s->elem;
    if (c->g->no_libm || mode != NR_RND_RNE)
        return 0;
    if (e->kind == NR_FIXED ? !e->is_signed : !e->subnormals)
        return 0;
    if (s->rule == NR_RULE_STATIC)
        return 1;
    if (s->scale == NR_SCALE_E8M0)
        return 1;
    return s->rule == NR_RULE_AMAX; /* fp32, ue4m3, nv */
}

/* n lanes of the i32 constant v */
static V i32splat(gen_ctx *g, unsigned n, uint32_t v)
{
    V e[16];
    for (unsigned i = 0; i < n; i++)
        e[i] = LLVMConstInt(g->i32, v, 0);
    return LLVMConstVector(e, n);
}

/* One step of an amax as integers over the floats at p (vector type vi of
 * i32): the bits of |v| order as the magnitudes, a non-finite |v| has
 * bits >= 0x7f800000; *mf (alloca) keeps the finite maximum, *ma the
 * maximum of all (>= 0x7f800000: a NaN or infinity was seen). */
static void amax_bits_step(gen_ctx *g, T vi, unsigned n, V p, V mf, V ma)
{
    LLVMBuilderRef B = g->b;
    V a = LLVMBuildAnd(B, vload(g, vi, p), i32splat(g, n, 0x7fffffff), "absb");
    V fin = LLVMBuildICmp(B, LLVMIntULT, a, i32splat(g, n, 0x7f800000), "");
    V x2[2] = {LLVMBuildLoad2(B, vi, mf, ""), LLVMBuildSelect(B, fin, a, LLVMConstNull(vi), "")};
    LLVMBuildStore(B, gen_emit_intrinsic(g, "llvm.umax", vi, x2, 2), mf);
    V y2[2] = {LLVMBuildLoad2(B, vi, ma, ""), a};
    LLVMBuildStore(B, gen_emit_intrinsic(g, "llvm.umax", vi, y2, 2), ma);
}

/* [scl-scale] / [scl-nv] the scales of 8 groups from their amax (>= 0,
 * finite); st the nv tensor scale (double) or NULL. */
static V scales(vq *q, V amax, V st)
{
    gen_ctx *g = q->c->g;
    LLVMBuilderRef B = g->b;
    const nr_scaled *s = q->s;
    if (s->scale == NR_SCALE_E8M0) {
        V E = expo(q, amax), k;
        V frac = LLVMBuildAnd(B, bits(q, amax), isplat(q, (int64_t)((1ull << 52) - 1)), "");
        switch (s->rule) {
        case NR_RULE_CEIL:
            k = LLVMBuildAdd(B, E, LLVMBuildZExt(B, LLVMBuildICmp(B, LLVMIntNE, frac, isplat(q, 0), ""), q->vi, ""), "");
            break;
        case NR_RULE_EVEN: {
            int p = nr_scaled_elem_prec(s);
            int64_t t = (int64_t)((1ull << 52) - (1ull << (52 - p)));
            k = LLVMBuildAdd(B, E, LLVMBuildZExt(B, LLVMBuildICmp(B, LLVMIntUGE, frac, isplat(q, t), ""), q->vi, ""), "");
            break;
        }
        case NR_RULE_RCEIL: {
            double mx = s->elem.max_finite;
            uint64_t mb;
            memcpy(&mb, &mx, 8);
            int64_t fm = (int64_t)(mb & ((1ull << 52) - 1));
            k = LLVMBuildAdd(B, LLVMBuildSub(B, E, isplat(q, ilogb(mx)), ""),
                             LLVMBuildZExt(B, LLVMBuildICmp(B, LLVMIntUGT, frac, isplat(q, fm), ""), q->vi, ""), "");
            return pow2(q, imin(q, imax(q, LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOEQ, amax, dsplat(q, 0), ""),
                                                           isplat(q, -127), k, ""),
                                        isplat(q, -127)),
                                isplat(q, 127)));
        }
        default:
            k = E;
            break;
        }
        k = LLVMBuildSub(B, k, isplat(q, nr_scaled_emax_elem(s)), "");
        k = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOEQ, amax, dsplat(q, 0), ""), isplat(q, -127), k, "");
        return pow2(q, imin(q, imax(q, k, isplat(q, -127)), isplat(q, 127)));
    }
    const nr_format *sf = nr_scaled_scale_format(s->scale == NR_SCALE_NV ? NR_SCALE_UE4M3 : s->scale);
    V D = dsplat(q, s->elem.max_finite);
    if (s->scale == NR_SCALE_NV)
        D = LLVMBuildFMul(B, D, st, ""); /* exact: max has 2 bits */
    V x = round_to(q, sf, quot_ro(q, amax, D, NULL, 0));
    V a2[2] = {x, dsplat(q, sf->max_finite)};
    x = intr(q, "llvm.minnum", a2, 2);
    V b2[2] = {x, dsplat(q, sf->min_subnormal)};
    x = intr(q, "llvm.maxnum", b2, 2);
    return s->scale == NR_SCALE_NV ? LLVMBuildFMul(B, x, st, "") : x; /* exact */
}

/* [scl-elem] P = rne(v / X), clipped to +-max; v finite here (a NaN
 * group is replaced by the caller). */
static V element(vq *q, V v, V X, V rX)
{
    gen_ctx *g = q->c->g;
    LLVMBuilderRef B = g->b;
    const nr_format *f = &q->s->elem;
    V t = quot_ro(q, v, X, rX, q->s->scale == NR_SCALE_E8M0);
    V r = round_to(q, f, t);
    V over = LLVMBuildFCmp(B, LLVMRealOGT, vabs(q, t), dsplat(q, f->max_finite), "clip");
    V cs[2] = {dsplat(q, f->max_finite), t};
    r = LLVMBuildSelect(B, over, intr(q, "llvm.copysign", cs, 2), r, "");
    if (!f->has_negzero) /* -0 becomes +0 */
        r = LLVMBuildFAdd(B, r, dsplat(q, 0.0), "");
    return r;
}

/* Convert and store the 8 elements at idx (i64) of groups X / bad. */
static void store_elems(vq *q, V pbuf, V buf, V idx, V X, V rX, V bad)
{
    gen_ctx *g = q->c->g;
    LLVMBuilderRef B = g->b;
    T f32 = LLVMFloatTypeInContext(g->ctx);
    V pp = gep(g, f32, pbuf, idx);
    V v = LLVMBuildFPExt(B, vload(g, q->vf, pp), q->vd, "v");
    V vs = LLVMBuildSelect(B, bad, dsplat(q, 0.0), v, ""); /* keep it finite */
    V p = element(q, vs, X, rX);
    p = LLVMBuildSelect(B, bad, dsplat(q, NAN), p, "P");
    vstore(g, LLVMBuildFPTrunc(B, p, q->vf, ""), pp);
    vstore(g, LLVMBuildFMul(B, p, X, ""), gep(g, g->f64, buf, idx)); /* exact */
}

static void vq_init(vq *q, gen_lctx *c, const nr_scaled *s)
{
    q->c = c, q->s = s;
    q->vd = LLVMVectorType(c->g->f64, QL);
    q->vi = LLVMVectorType(c->g->i64, QL);
    q->vf = LLVMVectorType(LLVMFloatTypeInContext(c->g->ctx), QL);
}

/* 1/X (X finite, > 0): exact when X is a power of two (e8m0), else
 * rounded (quot_ro's reciprocal) */
static V recip(vq *q, V X) { return LLVMBuildFDiv(q->c->g->b, dsplat(q, 1.0), X, "rX"); }

uint64_t gen_emit_scaled_vquant_elems(gen_lctx *c, const nr_scaled *s, V pbuf, V buf, V X, V bad,
                                      uint64_t n)
{
    vq q;
    vq_init(&q, c, s);
    gen_ctx *g = c->g;
    const uint64_t nv = n - n % QL;
    if (!nv)
        return 0;
    V Xv = vsplat(&q, X);
    V u = LLVMGetUndef(LLVMVectorType(g->i1, QL));
    V b1 = LLVMBuildInsertElement(g->b, u, bad, LLVMConstInt(g->i32, 0, 0), "");
    V bsplat = LLVMBuildShuffleVector(g->b, b1, u, LLVMConstNull(LLVMVectorType(g->i32, QL)), "");
    gen_loop l;
    gen_ir_loop_begin(c, &l, nv / QL, "qv");
    store_elems(&q, pbuf, buf, LLVMBuildMul(g->b, l.i, gen_ir_i64(c, QL), ""), Xv, recip(&q, Xv), bsplat);
    gen_ir_loop_end(c, &l);
    return nv;
}

uint64_t gen_emit_scaled_vquant_blocks(gen_lctx *c, const nr_scaled *s, V pbuf, V buf, V xbuf,
                                       V st, const int sh[3])
{
    vq q;
    vq_init(&q, c, s);
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    T f32 = LLVMFloatTypeInContext(g->ctx);
    const uint64_t C = (uint64_t)sh[0], HW = (uint64_t)sh[1] * (uint64_t)sh[2];
    const uint64_t N = (uint64_t)s->block, nb = (C + N - 1) / N, HWv = HW - HW % QL;
    if (!HWv)
        return 0;
    T vi32 = LLVMVectorType(g->i32, QL);
    V mf = gen_ir_alloca(c, vi32, "vamf"), ma = gen_ir_alloca(c, vi32, "vama");
    V infb = i32splat(g, QL, 0x7f800000);
    V stv = st ? vsplat(&q, st) : NULL;
    gen_loop lp, lb, la, le;
    gen_ir_loop_begin(c, &lp, HWv / QL, "qpos");
    V hw0 = LLVMBuildMul(B, lp.i, gen_ir_i64(c, QL), "hw0");
    gen_ir_loop_begin(c, &lb, nb, "qblk");
    V c0 = LLVMBuildMul(B, lb.i, gen_ir_i64(c, N), "c0");
    V left = LLVMBuildSub(B, gen_ir_i64(c, C), c0, "");
    V k = LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntULT, left, gen_ir_i64(c, N), ""), left, gen_ir_i64(c, N), "k");
    LLVMBuildStore(B, LLVMConstNull(vi32), mf);
    LLVMBuildStore(B, LLVMConstNull(vi32), ma);
    /* amax of the finite |v| as integers; a NaN or infinity marks the group */
    gen_ir_loop_range(c, &la, gen_ir_i64(c, 0), k, "qamax");
    V idx = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, c0, la.i, ""), gen_ir_i64(c, HW), ""), hw0, "");
    amax_bits_step(g, vi32, QL, gep(g, f32, pbuf, idx), mf, ma);
    gen_ir_loop_end(c, &la);
    V bd = LLVMBuildICmp(B, LLVMIntUGE, LLVMBuildLoad2(B, vi32, ma, ""), infb, "bad");
    V am = LLVMBuildFPExt(B, LLVMBuildBitCast(B, LLVMBuildLoad2(B, vi32, mf, ""), q.vf, ""), q.vd, "amax");
    V X = LLVMBuildSelect(B, bd, dsplat(&q, NAN), scales(&q, am, stv), "X");
    for (int l = 0; l < QL; l++) { /* group (hw0 + l) nb + b */
        V gi = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, hw0, gen_ir_i64(c, (uint64_t)l), ""), gen_ir_i64(c, nb), ""),
                            lb.i, "");
        LLVMBuildStore(B, LLVMBuildExtractElement(B, X, LLVMConstInt(g->i32, (uint64_t)l, 0), ""),
                       gep(g, g->f64, xbuf, gi));
    }
    V Xs = LLVMBuildSelect(B, bd, dsplat(&q, 1.0), X, ""); /* keep it finite */
    V rX = recip(&q, Xs);
    gen_ir_loop_range(c, &le, gen_ir_i64(c, 0), k, "qel");
    V ei = LLVMBuildAdd(B, LLVMBuildMul(B, LLVMBuildAdd(B, c0, le.i, ""), gen_ir_i64(c, HW), ""), hw0, "");
    store_elems(&q, pbuf, buf, ei, Xs, rX, bd);
    gen_ir_loop_end(c, &le);
    gen_ir_loop_end(c, &lb);
    gen_ir_loop_end(c, &lp);
    return HWv * nb; /* groups done: those of positions < HWv (group = hw nb + b) */
}

/* max |v| over the finite float values v of pbuf[0, n) into *amax (double
 * alloca), *special (i8 alloca, or NULL) set when one is not finite: 16
 * at a time as integers (amax_bits_step), then the rest; max is exact
 * whatever the order. */
void gen_emit_scaled_vamax(gen_lctx *c, V pbuf, uint64_t n, V amax, V special)
{
    enum { AL = 16 };
    gen_ctx *g = c->g;
    LLVMBuilderRef B = g->b;
    T f32 = LLVMFloatTypeInContext(g->ctx), vi = LLVMVectorType(g->i32, AL);
    const uint64_t nv = n - n % AL;
    V mf = gen_ir_alloca(c, vi, "vamf"), ma = gen_ir_alloca(c, vi, "vama");
    LLVMBuildStore(B, LLVMConstNull(vi), mf);
    LLVMBuildStore(B, LLVMConstNull(vi), ma);
    if (nv) {
        gen_loop l;
        gen_ir_loop_begin(c, &l, nv / AL, "vamax");
        amax_bits_step(g, vi, AL, gep(g, f32, pbuf, LLVMBuildMul(B, l.i, gen_ir_i64(c, AL), "")), mf, ma);
        gen_ir_loop_end(c, &l);
    }
    V m = LLVMBuildLoad2(B, vi, mf, ""), all = LLVMBuildLoad2(B, vi, ma, "");
    V am = gen_emit_intrinsic(g, "llvm.vector.reduce.umax", vi, &m, 1);
    V top = gen_emit_intrinsic(g, "llvm.vector.reduce.umax", vi, &all, 1);
    LLVMBuildStore(B, LLVMBuildFPExt(B, LLVMBuildBitCast(B, am, f32, ""), g->f64, ""), amax);
    if (special)
        LLVMBuildStore(B, LLVMBuildZExt(B, LLVMBuildICmp(B, LLVMIntUGE, top, LLVMConstInt(g->i32, 0x7f800000, 0), ""), g->i8, ""),
                       special);
    if (nv == n)
        return;
    gen_loop l;
    gen_ir_loop_range(c, &l, gen_ir_i64(c, nv), gen_ir_i64(c, n), "amaxt");
    V a = intr_abs_scalar(g, LLVMBuildFPExt(B, LLVMBuildLoad2(B, f32, gep(g, f32, pbuf, l.i), ""), g->f64, ""));
    V fin = LLVMBuildFCmp(B, LLVMRealOLT, a, LLVMConstReal(g->f64, INFINITY), "");
    V cur = LLVMBuildLoad2(B, g->f64, amax, "");
    LLVMBuildStore(B, LLVMBuildSelect(B, LLVMBuildAnd(B, fin, LLVMBuildFCmp(B, LLVMRealOGT, a, cur, ""), ""), a, cur, ""), amax);
    if (special)
        LLVMBuildStore(B, LLVMBuildOr(B, LLVMBuildLoad2(B, g->i8, special, ""), LLVMBuildZExt(B, LLVMBuildNot(B, fin, ""), g->i8, ""), ""),
                       special);
    gen_ir_loop_end(c, &l);
}
