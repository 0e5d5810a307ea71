/* emit_num.c -- LLVM IR for narrow-number arithmetic: decode, round,
 * exact sums, products and fused multiply-adds, bit-exact with
 * runtime/num/round.c and runtime/num/codec.c.
 *
 * The format and the rounding mode are compile-time constants: every
 * format fact is read from nr_format's derived fields (never re-derived),
 * and the mode picks which IR is emitted.  The IR is straight-line (selects,
 * no branches) and works on scalars, so the inliner and vectorisers can
 * treat it like any arithmetic.  Steps carry the [rnd-N] labels of
 * round.c's comments and of docs/semantics.md. */
#include "gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef LLVMValueRef V;
typedef LLVMTypeRef T;

/* ---------------------------------------------------------- IR shorthands */

static V cst(T t, uint64_t v) { return LLVMConstInt(t, v, 0); }
static V cs32(gen_ctx *g, int64_t v) { return LLVMConstInt(g->i32, (uint64_t)v, 1); }
static V ctrue(gen_ctx *g) { return cst(g->i1, 1); }
static V cfalse(gen_ctx *g) { return cst(g->i1, 0); }
static unsigned width(V v) { return LLVMGetIntTypeWidth(LLVMTypeOf(v)); }
static V sel(gen_ctx *g, V c, V a, V b) { return LLVMBuildSelect(g->b, c, a, b, ""); }
static V and_(gen_ctx *g, V a, V b) { return LLVMBuildAnd(g->b, a, b, ""); }
static V or_(gen_ctx *g, V a, V b) { return LLVMBuildOr(g->b, a, b, ""); }
static V xor_(gen_ctx *g, V a, V b) { return LLVMBuildXor(g->b, a, b, ""); }
static V not_(gen_ctx *g, V a) { return LLVMBuildNot(g->b, a, ""); }
static V add(gen_ctx *g, V a, V b) { return LLVMBuildAdd(g->b, a, b, ""); }
static V sub(gen_ctx *g, V a, V b) { return LLVMBuildSub(g->b, a, b, ""); }
static V shl(gen_ctx *g, V a, V b) { return LLVMBuildShl(g->b, a, b, ""); }
static V lshr(gen_ctx *g, V a, V b) { return LLVMBuildLShr(g->b, a, b, ""); }
static V icmp(gen_ctx *g, LLVMIntPredicate p, V a, V b) { return LLVMBuildICmp(g->b, p, a, b, ""); }
static V eq0(gen_ctx *g, V a) { return icmp(g, LLVMIntEQ, a, cst(LLVMTypeOf(a), 0)); }
static V ne0(gen_ctx *g, V a) { return icmp(g, LLVMIntNE, a, cst(LLVMTypeOf(a), 0)); }

/* Integer resize: zext (unsigned) / trunc to t. */
static V resize(gen_ctx *g, V v, T t)
{
    unsigned from = width(v), to = LLVMGetIntTypeWidth(t);
    if (from == to)
        return v;
    return from < to ? LLVMBuildZExt(g->b, v, t, "") : LLVMBuildTrunc(g->b, v, t, "");
}

/* Shifts by an i32 amount n that may be negative or >= W: LLVM makes such
 * shifts poison, C makes them UB; here they are defined as "all bits out"
 * (n < 0 is treated like n >= W: callers only use n >= 0 or select the
 * result away). */
static V shift_ok(gen_ctx *g, V x, V n, V *amt)
{
    T t = LLVMTypeOf(x);
    V ok = icmp(g, LLVMIntULT, n, cs32(g, width(x)));
    *amt = resize(g, sel(g, ok, n, cs32(g, 0)), t);
    return ok;
}
static V shl_sat(gen_ctx *g, V x, V n)
{
    V amt, ok = shift_ok(g, x, n, &amt);
    return sel(g, ok, shl(g, x, amt), cst(LLVMTypeOf(x), 0));
}
static V lshr_sat(gen_ctx *g, V x, V n)
{
    V amt, ok = shift_ok(g, x, n, &amt);
    return sel(g, ok, lshr(g, x, amt), cst(LLVMTypeOf(x), 0));
}
/* (1 << n) - 1 in x's type, all ones for n >= W (n >= 0). */
static V lowmask(gen_ctx *g, T t, V n)
{
    V one = cst(t, 1), amt, ok = shift_ok(g, one, n, &amt);
    return sel(g, ok, sub(g, shl(g, one, amt), one), LLVMConstAllOnes(t));
}
/* Number of leading zeros as i32 (W for 0). */
static V clz32(gen_ctx *g, V x)
{
    V args[2] = {x, cfalse(g)};
    return resize(g, gen_emit_intrinsic(g, "llvm.ctlz", LLVMTypeOf(x), args, 2), g->i32);
}
static V f64_bits(gen_ctx *g, V x) { return LLVMBuildBitCast(g->b, x, g->i64, ""); }
static V bits_f64(gen_ctx *g, V x) { return LLVMBuildBitCast(g->b, x, g->f64, ""); }

/* 2^n as a double for n in [-1074, 1023] (subnormal powers included);
 * other n give some power of two that the caller selects away. */
static V pow2(gen_ctx *g, V n)
{
    V normal = icmp(g, LLVMIntSGE, n, cs32(g, -1022));
    V en = resize(g, and_(g, add(g, n, cs32(g, 1023)), cs32(g, 0x7ff)), g->i64);
    V nb = shl(g, en, cst(g->i64, 52));
    V sn = and_(g, add(g, n, cs32(g, 1074)), cs32(g, 63));
    V sb = shl(g, cst(g->i64, 1), resize(g, sn, g->i64));
    return bits_f64(g, sel(g, normal, nb, sb));
}

/* ------------------------------------------------------------ round core */

/* The magnitude split at quantum 2^q, like round.c's split_at: k =
 * floor(|x| / 2^q) and what is needed to round it.  sh = q - exp is the
 * number of sig bits below the quantum.  R holds those bits left-aligned
 * in W bits (so the round bit is R's top bit and the sr fraction is R's
 * top 32 bits); `lost` says bits fell off R's bottom (sh > W). */
typedef struct {
    V k;              /* i64: low 64 bits of floor(|x| / 2^q) */
    V half, below_half, frac32, below32; /* i1, i1, i32, i1 */
} gsplit;

static void split_at(gen_ctx *g, const gen_exact *x, V q, gsplit *o)
{
    T t = LLVMTypeOf(x->sig);
    const int W = (int)width(x->sig);
    V sig = x->sig;
    V sh = sub(g, q, x->exp);
    V nonpos = icmp(g, LLVMIntSLE, sh, cs32(g, 0));
    V kW = sel(g, nonpos, shl_sat(g, sig, LLVMBuildNeg(g->b, sh, "")), lshr_sat(g, sig, sh));
    o->k = resize(g, kW, g->i64);
    V small = icmp(g, LLVMIntSLT, sh, cs32(g, W));
    V up_amt = sub(g, cs32(g, W), sh); /* in (0, W) when 0 < sh < W */
    V R_in = shl_sat(g, sig, up_amt);
    V over = sub(g, sh, cs32(g, W)); /* >= 0 when sh >= W */
    V R_out = lshr_sat(g, sig, over);
    V R = sel(g, nonpos, cst(t, 0), sel(g, small, R_in, R_out));
    V lost = and_(g, not_(g, small), ne0(g, and_(g, sig, lowmask(g, t, over))));
    V st = or_(g, lost, x->sticky);
    o->half = resize(g, lshr(g, R, cst(t, (uint64_t)W - 1)), g->i1);
    o->below_half = or_(g, ne0(g, shl(g, R, cst(t, 1))), st);
    o->frac32 = resize(g, lshr(g, R, cst(t, (uint64_t)W - 32)), g->i32);
    o->below32 = or_(g, ne0(g, and_(g, R, cst(t, (1ull << (W - 32 > 63 ? 63 : W - 32)) - 1))), st);
    if (W - 32 > 63) /* W = 128: the mask has 96 bits */
        o->below32 = or_(g, ne0(g, shl(g, R, cst(t, 32))), st);
}

/* [rnd-2] Does the magnitude go from lo = k*g up to hi = (k+1)*g? */
static V round_up(gen_ctx *g, nr_rounding mode, V sign, const gsplit *p, V sr_bits)
{
    V inexact = or_(g, p->half, p->below_half);
    V odd = resize(g, and_(g, p->k, cst(g->i64, 1)), g->i1);
    switch (mode) {
    case NR_RND_RNE: return and_(g, p->half, or_(g, p->below_half, odd));
    case NR_RND_RNA: return p->half;
    case NR_RND_RZ: return cfalse(g);
    case NR_RND_RU: return and_(g, inexact, not_(g, sign));
    case NR_RND_RD: return and_(g, inexact, sign);
    case NR_RND_RTO: return and_(g, inexact, not_(g, odd));
    case NR_RND_SR: { /* [rnd-sr] hi iff r < ceil(f * 2^32) */
        V lim = add(g, resize(g, p->frac32, g->i64), resize(g, p->below32, g->i64));
        return icmp(g, LLVMIntULT, resize(g, sr_bits, g->i64), lim);
    }
    default: return cfalse(g);
    }
}

/* [rnd-3] Does an overflowing result become infinity (else +-max)? */
static V overflow_to_inf(gen_ctx *g, nr_rounding mode, V sign)
{
    switch (mode) {
    case NR_RND_RNE: case NR_RND_RNA: case NR_RND_SR: return ctrue(g);
    case NR_RND_RU: return not_(g, sign);
    case NR_RND_RD: return sign;
    default: return cfalse(g); /* rz, rto */
    }
}

/* [rnd-4] sign onto a magnitude; fnuz has no -0. */
static V with_sign(gen_ctx *g, const nr_format *f, V sign, V mag)
{
    V neg = or_(g, mag, cst(g->i64, f->sign_mask));
    if (!f->has_negzero)
        neg = sel(g, eq0(g, mag), cst(g->i64, 0), neg);
    return sel(g, sign, neg, mag);
}

static V float_overflow(gen_ctx *g, const nr_format *f, nr_rounding mode, V sign)
{
    V max = with_sign(g, f, sign, cst(g->i64, f->max_bits));
    if (f->saturate)
        return max;
    V inf = f->has_inf ? with_sign(g, f, sign, cst(g->i64, f->inf_bits))
                       : cst(g->i64, f->nan_bits); /* [fmt-4] no infinity: NaN */
    return sel(g, overflow_to_inf(g, mode, sign), inf, max);
}

/* Exponent of sig's leading bit: |x| in [2^E, 2^(E+1)). */
static V lead_exp(gen_ctx *g, const gen_exact *x)
{
    return sub(g, add(g, x->exp, cs32(g, width(x->sig) - 1)), clz32(g, x->sig));
}

static V round_float(gen_ctx *g, const nr_format *f, nr_rounding mode, const gen_exact *x,
                     V sr_bits)
{
    const int Y = f->man_bits;
    V E = lead_exp(g, x);
    V big = icmp(g, LLVMIntSGT, E, cs32(g, f->emax)); /* beyond max before rounding */
    /* [rnd-2] the quantum (gap) around |x|; [fmt-2] nosub: 0 and 2^emin */
    V normal = icmp(g, LLVMIntSGE, E, cs32(g, f->emin));
    V qsub = cs32(g, f->subnormals ? f->emin - Y : f->emin);
    V q = sel(g, normal, sub(g, E, cs32(g, Y)), qsub);
    gsplit p;
    split_at(g, x, q, &p);
    V k = add(g, p.k, resize(g, round_up(g, mode, x->sign, &p, sr_bits), g->i64));
    /* Pack: normals: ((E+bias-1) << Y) + k, a carry out of the
     * significand bumps the exponent by itself; subnormals: k (k = 2^Y is
     * the smallest normal); nosub: k is 0 or 1, meaning 0 or 2^emin. */
    V ebits = resize(g, add(g, E, cs32(g, f->bias - 1)), g->i64);
    V mag_n = add(g, shl(g, ebits, cst(g->i64, (uint64_t)Y)), k);
    V mag_s = f->subnormals ? k : sel(g, eq0(g, k), cst(g->i64, 0), cst(g->i64, 1ull << Y));
    V mag = sel(g, normal, mag_n, mag_s);
    /* [rnd-3] rounded past max (or onto fn's NaN slot) */
    V ovf = or_(g, big, icmp(g, LLVMIntUGT, mag, cst(g->i64, f->max_bits)));
    return sel(g, ovf, float_overflow(g, f, mode, x->sign), with_sign(g, f, x->sign, mag));
}

static V round_fixed(gen_ctx *g, const nr_format *f, nr_rounding mode, const gen_exact *x,
                     V sr_bits)
{
    const int F = f->frac_bits;
    gsplit p;
    split_at(g, x, cs32(g, -F), &p);
    /* k needs E+F+1 bits; more than 64 is out of range whatever rounding does */
    V big = icmp(g, LLVMIntSGT, add(g, lead_exp(g, x), cs32(g, F + 1)), cs32(g, 64));
    V up = resize(g, round_up(g, mode, x->sign, &p, sr_bits), g->i64);
    V k = add(g, p.k, up);
    V carry = and_(g, ne0(g, up), icmp(g, LLVMIntEQ, p.k, LLVMConstAllOnes(g->i64)));
    /* the representable magnitudes: [0, maxpos] up, maxneg down */
    uint64_t maxpos = f->max_bits, maxneg = f->is_signed ? f->max_bits + 1 : 0;
    V outk = sel(g, x->sign, icmp(g, LLVMIntUGT, k, cst(g->i64, maxneg)),
                 icmp(g, LLVMIntUGT, k, cst(g->i64, maxpos)));
    V out = or_(g, or_(g, big, carry), outk);
    /* in range, and -wrap: two's complement modulo 2^width (k's low 64 bits are exact) */
    V val = and_(g, sel(g, x->sign, LLVMBuildNeg(g->b, k, ""), k), cst(g->i64, f->man_mask));
    if (!f->saturate)
        return val;
    V sat = sel(g, x->sign, cst(g->i64, f->min_bits), cst(g->i64, f->max_bits));
    return sel(g, out, sat, val);
}

V gen_num_round(gen_ctx *g, const nr_format *f, nr_rounding mode, const gen_exact *x,
                V sr_bits)
{
    V fin, nan_r, inf_r, zero_r;
    if (f->kind == NR_FIXED) {
        fin = round_fixed(g, f, mode, x, sr_bits);
        nan_r = zero_r = cst(g->i64, 0); /* [rnd-5] NaN into fixed: +0 */
        inf_r = sel(g, x->sign, cst(g->i64, f->min_bits), cst(g->i64, f->max_bits));
    } else {
        fin = round_float(g, f, mode, x, sr_bits);
        /* [rnd-5] NaN: canonical NaN, or +0 without NaN */
        nan_r = cst(g->i64, f->has_nan ? f->nan_bits : 0);
        if (f->has_inf)
            inf_r = with_sign(g, f, x->sign, cst(g->i64, f->inf_bits));
        else if (f->saturate)
            inf_r = with_sign(g, f, x->sign, cst(g->i64, f->max_bits));
        else
            inf_r = cst(g->i64, f->nan_bits);
        zero_r = with_sign(g, f, x->sign, cst(g->i64, 0)); /* [rnd-4] */
    }
    V r = sel(g, x->is_zero, zero_r, fin);
    r = sel(g, x->is_inf, inf_r, r);
    return sel(g, x->is_nan, nan_r, r);
}

/* ---------------------------------------------------------- exact values */

void gen_num_exact_f64(gen_ctx *g, V x, gen_exact *o)
{
    /* like nr_exact_from_double */
    V b = f64_bits(g, x);
    V Ed = and_(g, lshr(g, b, cst(g->i64, 52)), cst(g->i64, 0x7ff));
    V M = and_(g, b, cst(g->i64, (1ull << 52) - 1));
    V top = icmp(g, LLVMIntEQ, Ed, cst(g->i64, 0x7ff));
    V e0 = eq0(g, Ed);
    o->sign = resize(g, lshr(g, b, cst(g->i64, 63)), g->i1);
    o->is_nan = and_(g, top, ne0(g, M));
    o->is_inf = and_(g, top, eq0(g, M));
    o->is_zero = and_(g, e0, eq0(g, M));
    o->sig = or_(g, M, sel(g, e0, cst(g->i64, 0), cst(g->i64, 1ull << 52)));
    o->exp = sub(g, resize(g, sel(g, e0, cst(g->i64, 1), Ed), g->i32), cs32(g, 1075));
    o->sticky = cfalse(g);
}

#define GEN_MAX_SPLAT 64
V gen_num_splat_const(T t, uint64_t iv, double fv)
{
    int vec = LLVMGetTypeKind(t) == LLVMVectorTypeKind;
    T et = vec ? LLVMGetElementType(t) : t;
    V e = LLVMGetTypeKind(et) == LLVMIntegerTypeKind ? LLVMConstInt(et, iv, 0) : LLVMConstReal(et, fv);
    if (!vec)
        return e;
    unsigned n = LLVMGetVectorSize(t);
    V es[GEN_MAX_SPLAT];
    if (n > GEN_MAX_SPLAT) /* wider than any vector the generator makes */
        abort();
    for (unsigned i = 0; i < n; i++)
        es[i] = e;
    return LLVMConstVector(es, n);
}

V gen_num_is_nan(gen_ctx *g, const nr_format *f, V bits)
{
    T t = LLVMTypeOf(bits);
#define K(v) gen_num_splat_const(t, (uint64_t)(v), 0)
    V r = NULL;
    if (f->kind == NR_FLOAT)
        switch (f->specials) { /* [fmt-3] */
        case NR_SPECIALS_IEEE: /* exponent all ones, fraction not 0 */
            r = icmp(g, LLVMIntUGT, and_(g, bits, K(f->exp_mask | f->man_mask)), K(f->exp_mask));
            break;
        case NR_SPECIALS_FN: /* exponent and fraction all ones */
            r = icmp(g, LLVMIntEQ, and_(g, bits, K(f->exp_mask | f->man_mask)),
                     K(f->exp_mask | f->man_mask));
            break;
        case NR_SPECIALS_FNUZ: /* the -0 encoding */
            r = icmp(g, LLVMIntEQ, and_(g, bits, K(f->sign_mask | f->exp_mask | f->man_mask)),
                     K(f->sign_mask));
            break;
        default: break;
        }
#undef K
    return r;
}

int gen_num_decode_f32_ok(const nr_format *f)
{
    /* every value a float (subnormals too, after the scaling below); the
     * fields placed in a float give a finite float for every exponent field
     * that is not special (exp_bits < 8, or 8 with IEEE specials, where 255
     * is inf/NaN); the scale 2^(127-bias) a normal float */
    return f->kind == NR_FLOAT && f->exp_bits <= 8 && f->man_bits <= 23 && f->width <= 32 &&
           nr_format_fits_f32(f) && (f->exp_bits < 8 || f->specials == NR_SPECIALS_IEEE) &&
           f->bias >= 0 && f->bias <= 253;
}

V gen_num_decode_f32(gen_ctx *g, const nr_format *f, V bits)
{
    if (!gen_num_decode_f32_ok(f))
        return NULL;
    LLVMBuilderRef B = g->b;
    T bt = LLVMTypeOf(bits);
    int vec = LLVMGetTypeKind(bt) == LLVMVectorTypeKind;
    unsigned n = vec ? LLVMGetVectorSize(bt) : 1;
    T it = vec ? LLVMVectorType(g->i32, n) : g->i32;
    T flt = LLVMFloatTypeInContext(g->ctx);
    T ft = vec ? LLVMVectorType(flt, n) : flt;
    unsigned bw = LLVMGetIntTypeWidth(vec ? LLVMGetElementType(bt) : bt);
    if (bw != 32)
        bits = bw < 32 ? LLVMBuildZExt(B, bits, it, "") : LLVMBuildTrunc(B, bits, it, "");
#define K(v) gen_num_splat_const(it, (uint64_t)(v), 0)
    const int Y = f->man_bits;
    /* the exponent and fraction fields at a float's: exponent field E read
     * as a float's (bias 127, a subnormal for E = 0), then scaled by
     * 2^(127-bias) to the value of f (exact: the result is a float) */
    V ef = and_(g, bits, K(f->exp_mask));
    V mag = and_(g, bits, K(f->exp_mask | f->man_mask));
    V v = LLVMBuildBitCast(B, shl(g, mag, K(23 - Y)), ft, "");
    if (f->bias != 127)
        v = LLVMBuildFMul(B, v, gen_num_splat_const(ft, 0, ldexp(1.0, 127 - f->bias)), "");
    V vb = LLVMBuildBitCast(B, v, it, "");
    if (!f->subnormals) /* [fmt-2] exponent field 0 is +-0 */
        vb = sel(g, icmp(g, LLVMIntEQ, ef, K(0)), K(0), vb);
    if (f->specials == NR_SPECIALS_IEEE) /* [fmt-3] infinity: exponent all ones, fraction 0 */
        vb = sel(g, icmp(g, LLVMIntEQ, mag, K(f->exp_mask)), K(0x7f800000u), vb);
    V is_nan = gen_num_is_nan(g, f, bits);
    if (f->sign_mask) { /* the sign bit to bit 31 */
        int sp = 0;
        while (!((f->sign_mask >> sp) & 1))
            sp++;
        vb = or_(g, vb, shl(g, and_(g, bits, K(f->sign_mask)), K(31 - sp)));
    }
    if (is_nan) /* nr_decode's NaN: +qNaN */
        vb = sel(g, is_nan, K(0x7fc00000u), vb);
#undef K
    return LLVMBuildBitCast(B, vb, ft, "");
}

V gen_num_decode(gen_ctx *g, const nr_format *f, V bits)
{
    bits = resize(g, bits, g->i64);
    /* formats whose values are all floats: decoded as a float (16-bit
     * lanes of integer work where vectorised), widened exactly */
    V d32 = gen_num_decode_f32(g, f, bits);
    if (d32)
        return LLVMBuildFPExt(g->b, d32, g->f64, "");
    if (f->kind == NR_FIXED) {
        /* [fmt-6] a width-bit integer n, value n * 2^-F.  The integer to
         * double conversion is exact up to 53 magnitude bits and rounds to
         * nearest-even beyond, as nr_decode does; the scaling by a power of
         * two is exact (2^-64 <= scale, no underflow). */
        V n = and_(g, bits, cst(g->i64, f->man_mask));
        V d;
        if (f->is_signed) {
            V s = cst(g->i64, (uint64_t)(64 - f->width));
            d = LLVMBuildSIToFP(g->b, LLVMBuildAShr(g->b, shl(g, n, s), s, ""), g->f64, "");
        } else {
            d = LLVMBuildUIToFP(g->b, n, g->f64, "");
        }
        return LLVMBuildFMul(g->b, d, LLVMConstReal(g->f64, ldexp(1.0, -f->frac_bits)), "");
    }
    const int Y = f->man_bits;
    const uint64_t Eall = f->exp_mask >> Y;
    V sign = ne0(g, and_(g, bits, cst(g->i64, f->sign_mask)));
    V E = lshr(g, and_(g, bits, cst(g->i64, f->exp_mask)), cst(g->i64, (uint64_t)Y));
    V M = and_(g, bits, cst(g->i64, f->man_mask));
    V is_inf = cfalse(g), is_nan = gen_num_is_nan(g, f, bits); /* [fmt-3] */
    if (f->specials == NR_SPECIALS_IEEE)
        is_inf = and_(g, icmp(g, LLVMIntEQ, E, cst(g->i64, Eall)), eq0(g, M));
    if (!is_nan)
        is_nan = cfalse(g);
    /* value = sig * 2^n, sig < 2^53 converts exactly, and the product is a
     * format value, a double by [fmt-5], so the one multiply is exact.
     * [fmt-2] nosub: exp field 0 is +-0 (sig forced to 0). */
    V e0 = eq0(g, E);
    V sig = f->subnormals ? M : sel(g, e0, cst(g->i64, 0), M);
    sig = or_(g, sig, sel(g, e0, cst(g->i64, 0), cst(g->i64, 1ull << Y)));
    V n = sel(g, e0, cs32(g, f->emin - Y),
              sub(g, resize(g, E, g->i32), cs32(g, f->bias + Y)));
    V mag = LLVMBuildFMul(g->b, LLVMBuildUIToFP(g->b, sig, g->f64, ""), pow2(g, n), "");
    V mb = f64_bits(g, mag);
    mb = sel(g, is_inf, cst(g->i64, 0x7ffull << 52), mb);
    mb = or_(g, mb, sel(g, sign, cst(g->i64, 1ull << 63), cst(g->i64, 0)));
    mb = sel(g, is_nan, cst(g->i64, 0x7ff8ull << 48), mb); /* NAN, as nr_decode */
    return bits_f64(g, mb);
}

void gen_num_exact_mul(gen_ctx *g, V a, V b, gen_exact *o)
{
    /* Integer product of the significands: 53 x 53 -> at most 106 bits in
     * i128, exact for every pair of doubles (no double under/overflow). */
    gen_exact x, y;
    gen_num_exact_f64(g, a, &x);
    gen_num_exact_f64(g, b, &y);
    o->sign = xor_(g, x.sign, y.sign);
    o->sig = LLVMBuildMul(g->b, resize(g, x.sig, g->i128), resize(g, y.sig, g->i128), "");
    o->exp = add(g, x.exp, y.exp);
    o->sticky = cfalse(g);
    /* [op-1] 0 * inf is NaN */
    V zi = or_(g, and_(g, x.is_zero, y.is_inf), and_(g, x.is_inf, y.is_zero));
    o->is_nan = or_(g, or_(g, x.is_nan, y.is_nan), zi);
    o->is_inf = and_(g, not_(g, o->is_nan), or_(g, x.is_inf, y.is_inf));
    o->is_zero = and_(g, not_(g, or_(g, o->is_nan, o->is_inf)), or_(g, x.is_zero, y.is_zero));
}

/* Exact x + y into W bits plus sticky: the classic aligned adder.
 *
 * Each operand (at most 106 bits) is normalised so its leading bit sits at
 * W-2 (one bit of headroom for the carry), the smaller exponent is shifted
 * right by d = Eb - Es, and bits shifted below bit 0 become sticky.  Why
 * that is exact enough for every mode, sr included:
 *  - nothing is lost unless d > W-2-(n-1) where n is the smaller operand's
 *    width (n <= 53 for doubles, <= 106 for products), so d >= 2 whenever
 *    bits are lost, and then |big| - |small| > 2^(W-2) - 2^(W-3): the
 *    result's leading bit is at W-3 or above;
 *  - the rounding quantum is then at or above bit W-3-(prec-1) >= W-55 and
 *    round.c needs the exact bits down to 32 below the quantum for [rnd-sr]
 *    (only half/below-half for the other modes), i.e. down to W-87 >= 0
 *    for W = 128 (prec <= 53) and down to 29-prec >= 0 for W = 64 when
 *    prec <= 29: everything lower only needs to be "nonzero", which sticky
 *    says;
 *  - subtracting a truncated small operand S + t (0 < t < 1 unit of bit
 *    0): B - S - t = (B - S - 1) + (1 - t) with 0 < 1 - t < 1, so the
 *    integer part is B - S - 1 and sticky stays set.
 * Fixed-point -wrap keeps k's low integer bits and so also needs bits
 * above the quantum, however large the other operand: it uses W = 256 and
 * the emulator's 128-bit narrowing (exact_add_wrap). */
void gen_num_exact_add(gen_ctx *g, const gen_exact *x, const gen_exact *y, int W,
                       int zero_rd_neg, gen_exact *o)
{
    T t = gen_emit_int_type(g, W);
    V sx = resize(g, x->sig, t), sy = resize(g, y->sig, t);
    V lx = clz32(g, sx), ly = clz32(g, sy);
    V Ex = sub(g, add(g, x->exp, cs32(g, W - 1)), lx);
    V Ey = sub(g, add(g, y->exp, cs32(g, W - 1)), ly);
    /* a zero operand never wins the alignment: the other passes through */
    Ex = sel(g, x->is_zero, cs32(g, -100000), Ex);
    Ey = sel(g, y->is_zero, cs32(g, -100000), Ey);
    sx = shl_sat(g, sx, sub(g, lx, cs32(g, 1)));
    sy = shl_sat(g, sy, sub(g, ly, cs32(g, 1)));
    V swap = icmp(g, LLVMIntSGT, Ey, Ex);
    V Eb = sel(g, swap, Ey, Ex), Es = sel(g, swap, Ex, Ey);
    V Sb = sel(g, swap, sy, sx), Ss = sel(g, swap, sx, sy);
    V sgb = sel(g, swap, y->sign, x->sign), sgs = sel(g, swap, x->sign, y->sign);
    V d = sub(g, Eb, Es);
    V al = lshr_sat(g, Ss, d);
    V lost = ne0(g, and_(g, Ss, lowmask(g, t, d)));
    V same = icmp(g, LLVMIntEQ, sgb, sgs);
    V sum = add(g, Sb, al);
    V diff = sub(g, sub(g, Sb, al), resize(g, lost, t));
    /* only d = 0 can make the difference negative (nothing lost then) */
    V neg = icmp(g, LLVMIntSLT, diff, cst(t, 0));
    V mag = sel(g, same, sum, sel(g, neg, LLVMBuildNeg(g->b, diff, ""), diff));
    V sign = sel(g, same, sgb, sel(g, neg, sgs, sgb));
    /* [rnd-4] exact zero sums: +0, -0 under rd; -0 + -0 = -0 */
    V both_neg = and_(g, x->sign, y->sign), any_neg = or_(g, x->sign, y->sign);
    V zsign = zero_rd_neg ? any_neg : both_neg;
    V cancel = and_(g, eq0(g, mag), not_(g, lost));
    V both_zero = and_(g, x->is_zero, y->is_zero);
    o->is_nan = or_(g, or_(g, x->is_nan, y->is_nan),
                    and_(g, and_(g, x->is_inf, y->is_inf), xor_(g, x->sign, y->sign)));
    o->is_inf = and_(g, not_(g, o->is_nan), or_(g, x->is_inf, y->is_inf));
    V special = or_(g, o->is_nan, o->is_inf);
    o->is_zero = and_(g, not_(g, special), or_(g, both_zero, cancel));
    V inf_sign = sel(g, x->is_inf, x->sign, y->sign);
    o->sign = sel(g, o->is_inf, inf_sign, sel(g, o->is_zero, zsign, sign));
    o->sig = mag;
    o->exp = sub(g, Eb, cs32(g, W - 2));
    o->sticky = lost;
}

/* ---------------------------------------------------------------- sums */

/* TwoSum fast path, for float formats with prec <= 52 and modes other than
 * sr: s = fl(a+b) and e = (a+b) - s exactly (Knuth's TwoSum: exact for
 * every pair of finite doubles when s does not overflow; Boldo, Graillat
 * and Muller 2017 show the intermediate operations cannot overflow then).
 *
 * Why s and the sign of e are enough.  Let x = s + e, e != 0.  Then s is a
 * normal double (a nonzero e is at least 2^-1074 and at most ulp(s)/2) and
 * |x| lies strictly inside (|s| - u, |s| + u), u = ulp(s), and in fact in
 * (|s|, |s| + u/2] when e has the sign of s, in [|s| - u'/2, |s|) when not
 * (u' = ulp just below |s|: u/2 if |s| is a power of two, else u).  The
 * format's quantum around |x| is at least 2^(E(x) - Y) >= 2u' (prec <= 52;
 * the subnormal and nosub quanta are larger still), so every representable
 * value and every midpoint between two of them is a multiple of u' (of u
 * above |s|).  Hence no representable value or midpoint lies strictly
 * between |s| and |x|, nor at |x|, and every mode but sr (which needs the
 * fraction's bits) rounds |x| like any other point of the open interval
 * (|s|, |s| + u/2] or [|s| - u'/2, |s|).  We hand round the value
 * 4|s| +- 1 (in units of u/4) with sticky: a point of (|s|, |s| + u/2)
 * resp. (|s| - u/4, |s|) = (|s| - u'/2, |s|) when |s| is a power of two.
 * (4|s| +- 1 alone is already such a point, so sticky changes no result
 * here; it is set because the value is inexact, as nr_exact means it.)
 * Overflow: s = +-inf from finite a, b means |x| >= 2^1024 - 2^970, which
 * exceeds max + 3/4 of the top quantum of any format with prec <= 52, so
 * every non-sr mode gives what [rnd-3] gives for a value beyond max: we
 * pass 2^1024, which takes round's "beyond max before rounding" path. */
static V round_sum_twosum(gen_ctx *g, const nr_format *f, nr_rounding mode, V a, V b, V sr)
{
    LLVMBuilderRef B = g->b;
    V s = LLVMBuildFAdd(B, a, b, "s");
    V bb = LLVMBuildFSub(B, s, a, "");
    V e = LLVMBuildFAdd(B, LLVMBuildFSub(B, a, LLVMBuildFSub(B, s, bb, ""), ""),
                        LLVMBuildFSub(B, b, bb, ""), "e");
    gen_exact x;
    gen_num_exact_f64(g, s, &x);
    const uint64_t absm = ~(1ull << 63), infb = 0x7ffull << 52;
    V eb = f64_bits(g, e);
    V emag = and_(g, eb, cst(g->i64, absm));
    /* e != 0 and not NaN (e is NaN when s is inf or a NaN is involved) */
    V enz = and_(g, ne0(g, emag), icmp(g, LLVMIntULE, emag, cst(g->i64, infb)));
    V esign = resize(g, lshr(g, eb, cst(g->i64, 63)), g->i1);
    V adj = sel(g, enz, sel(g, icmp(g, LLVMIntEQ, esign, x.sign), cst(g->i64, 1),
                            LLVMConstAllOnes(g->i64)), cst(g->i64, 0));
    V ab = f64_bits(g, a), bbits = f64_bits(g, b);
    V fin_ab = and_(g, icmp(g, LLVMIntULT, and_(g, ab, cst(g->i64, absm)), cst(g->i64, infb)),
                    icmp(g, LLVMIntULT, and_(g, bbits, cst(g->i64, absm)), cst(g->i64, infb)));
    V ovf = and_(g, x.is_inf, fin_ab); /* the double sum overflowed */
    x.sig = sel(g, ovf, cst(g->i64, 1), add(g, shl(g, x.sig, cst(g->i64, 2)), adj));
    x.exp = sel(g, ovf, cs32(g, 1024), sub(g, x.exp, cs32(g, 2)));
    x.is_inf = and_(g, x.is_inf, not_(g, ovf));
    x.sticky = enz;
    if (mode == NR_RND_RD) { /* [rnd-4] the hardware sum rounded to nearest: +0 for x + (-x) */
        V any_neg = or_(g, resize(g, lshr(g, ab, cst(g->i64, 63)), g->i1),
                        resize(g, lshr(g, bbits, cst(g->i64, 63)), g->i1));
        x.sign = sel(g, x.is_zero, any_neg, x.sign);
    }
    return gen_num_round(g, f, mode, &x, sr);
}

/* round_sum_masked's formats: float without subnormals whose values are
 * normal doubles with at least two dropped fraction bits, overflowing to
 * +-max in rne and rz alike ([rnd-3]), with no infinity of their own: a
 * -finite format.  (A saturating format with IEEE specials keeps an
 * infinite operand infinite, which the clamp below would not.) */
static int masked_sum_ok(const nr_format *f, nr_rounding mode)
{
    return f->kind == NR_FLOAT && !f->subnormals && f->man_bits <= 50 && f->emin - 1 >= -1022 &&
           f->emax <= 1023 && f->specials == NR_SPECIALS_FINITE &&
           (mode == NR_RND_RNE || mode == NR_RND_RZ);
}

/* round_sum_twosum's argument with the rounding done on s's bits (no
 * gen_exact, no general rounder): every value and midpoint of f near |x|
 * is a multiple of 2^(sh-1) units of s (sh = 52 - Y >= 2 dropped bits),
 * and none lies strictly between |s| and |x| = |s + e| (see above), so
 *  - rz: trunc(|x|) = trunc(|s|) unless e points toward zero, then
 *    trunc(pred|s|) (|s| - 1 unit, below |s| but above the value under it);
 *  - rne: round(|x|) = round(|s|) unless |s| is a midpoint (a normal one,
 *    or 2^(emin-1) between 0 and 2^emin) and e != 0: then |s| +- 1 unit,
 *    on x's side of the midpoint and past no other, rounds like |x|.
 * The adjusted v is then rounded by masking (rne: add half - 1 plus the
 * kept lsb), a tiny v (< 2^emin) to 0 or 2^emin, anything above max
 * (inf included) to max; x's sign is s's (s != 0 when e != 0; an exact
 * zero sum has the hardware's sign, +0 unless both are -0, [rnd-4]).
 * NaN gives f's encoding of NaN ([rnd-5]).  The fields are then moved
 * into f's encoding. */
static V round_sum_masked(gen_ctx *g, const nr_format *f, nr_rounding mode, V a, V b)
{
    LLVMBuilderRef B = g->b;
    T t = g->i64;
    const int Y = f->man_bits, sh = 52 - Y;
    const uint64_t absm = ~(1ull << 63), infb = 0x7ffull << 52;
    const uint64_t low = (1ull << sh) - 1, half = 1ull << (sh - 1);
    uint64_t lo, mid, hi;
    double d = ldexp(1.0, f->emin), dm = ldexp(1.0, f->emin - 1), dx = f->max_finite;
    memcpy(&lo, &d, 8);
    memcpy(&mid, &dm, 8);
    memcpy(&hi, &dx, 8);
    V s = LLVMBuildFAdd(B, a, b, "s");
    V bb = LLVMBuildFSub(B, s, a, "");
    V e = LLVMBuildFAdd(B, LLVMBuildFSub(B, a, LLVMBuildFSub(B, s, bb, ""), ""),
                        LLVMBuildFSub(B, b, bb, ""), "e");
    V sb = f64_bits(g, s), eb = f64_bits(g, e);
    V as = and_(g, sb, cst(t, absm)), emag = and_(g, eb, cst(t, absm));
    /* e != 0 and not NaN (NaN when s is inf or NaN) */
    V enz = and_(g, ne0(g, emag), icmp(g, LLVMIntULE, emag, cst(t, infb)));
    V esame = icmp(g, LLVMIntSGE, xor_(g, sb, eb), cst(t, 0));
    V adj, v, r, tiny_r;
    if (mode == NR_RND_RZ) {
        adj = sel(g, and_(g, enz, not_(g, esame)), LLVMConstAllOnes(t), cst(t, 0));
        v = add(g, as, adj);
        r = and_(g, v, cst(t, ~low));
        tiny_r = cst(t, 0);
    } else {
        V tie = or_(g, icmp(g, LLVMIntEQ, and_(g, as, cst(t, low)), cst(t, half)),
                    icmp(g, LLVMIntEQ, as, cst(t, mid)));
        adj = sel(g, and_(g, enz, tie), sel(g, esame, cst(t, 1), LLVMConstAllOnes(t)), cst(t, 0));
        v = add(g, as, adj);
        V lsb = and_(g, lshr(g, v, cst(t, (uint64_t)sh)), cst(t, 1));
        r = and_(g, add(g, add(g, v, cst(t, half - 1)), lsb), cst(t, ~low));
        tiny_r = sel(g, icmp(g, LLVMIntUGT, v, cst(t, mid)), cst(t, lo), cst(t, 0));
    }
    r = sel(g, icmp(g, LLVMIntULT, v, cst(t, lo)), tiny_r, r);
    r = sel(g, icmp(g, LLVMIntUGT, r, cst(t, hi)), cst(t, hi), r); /* [rnd-3] */
    /* fields: exponent rebiased, the top Y fraction bits; 0 stays 0 */
    V ed = lshr(g, r, cst(t, 52));
    V mag = or_(g, shl(g, add(g, ed, cst(t, (uint64_t)(int64_t)(f->bias - 1023))), cst(t, (uint64_t)Y)),
                lshr(g, and_(g, r, cst(t, (1ull << 52) - 1)), cst(t, (uint64_t)sh)));
    mag = sel(g, eq0(g, r), cst(t, 0), mag);
    V neg = icmp(g, LLVMIntSLT, sb, cst(t, 0));
    if (!f->has_negzero)
        neg = and_(g, neg, ne0(g, mag));
    V enc = or_(g, mag, sel(g, neg, cst(t, f->sign_mask), cst(t, 0)));
    uint64_t nan_enc = nr_encode(f, mode, NAN, 0, NULL);
    return sel(g, icmp(g, LLVMIntUGT, as, cst(t, infb)), cst(t, nan_enc), enc);
}

/* -wrap fixed point: the sum exactly as the emulator rounds it.  A
 * wrapped result keeps the low integer bits of the exact value, so no
 * window narrower than the exact sum is "enough" the way it is for
 * saturating formats; the oracle (runtime/num/arith.c nr_arith_exact_add) computes
 * the exact sum (255-bit window), then keeps its top 128 significant bits
 * and jams the rest into sticky (wide_to).  Mirrored here:
 *  - the adder at W = 256 gives floor(|x+y| / 2^u) exactly with
 *    u = Eb - 254 (Eb: the larger operand's leading exponent), plus
 *    sticky: exact when nothing is lost, and when bits are lost the result
 *    is at or above 2^(Eb-1) (gen_num_exact_add), i.e. at least 253 bits
 *    above u;
 *  - narrowing floor(v / 2^u) to its top 128 bits (floor(v / 2^u') with
 *    u' = u + n, n = bitlen - 128 > 0) is floor(v / 2^u') of the exact v,
 *    with sticky = any bit below u' or the adder's sticky, which is
 *    wide_to's result: the same 128-bit sig, exponent and sticky as the
 *    emulator's whenever its window reaches below u' (it does: either the
 *    sum has at most 128 bits and both are exact, or both are the top 128
 *    bits of the same exact value).
 * A W = 128 adder kept one bit fewer (the sum's bits down to Eb - 126, the
 * emulator's down to T - 127 for a sum with leading bit T = Eb, further on
 * cancellation): 2^111 + 2^-16 wrapped to 0 in q15.16-wrap instead of
 * 2^-16. */
static int wraps(const nr_format *f) { return f->kind == NR_FIXED && !f->saturate; }

static void narrow_to_128(gen_ctx *g, gen_exact *x)
{
    T t = LLVMTypeOf(x->sig);
    V n = sub(g, cs32(g, (int64_t)width(x->sig)), clz32(g, x->sig)); /* bit length */
    n = sub(g, n, cs32(g, 128));
    n = sel(g, icmp(g, LLVMIntSGT, n, cs32(g, 0)), n, cs32(g, 0)); /* in [0, W-128] */
    V lost = ne0(g, and_(g, x->sig, lowmask(g, t, n)));
    x->sig = resize(g, lshr(g, x->sig, resize(g, n, t)), g->i128);
    x->exp = add(g, x->exp, n);
    x->sticky = or_(g, x->sticky, lost);
}

static void exact_add_wrap(gen_ctx *g, const gen_exact *x, const gen_exact *y, int zero_rd_neg,
                           gen_exact *o)
{
    gen_num_exact_add(g, x, y, 256, zero_rd_neg, o);
    narrow_to_128(g, o);
}

/* The width of the exact adder's result for rounding into f by mode: 64
 * bits are enough for prec <= 29 (see gen_num_exact_add), else 128.
 * Saturating fixed point: when bits are lost the result's leading bit is
 * at W-3 or above (gen_num_exact_add); an in-range result is below
 * 2^(I+1), so the quantum 2^-F is at most prec bits below the leading
 * bit, at W-3-prec or above, and round.c needs the bits down to 32 below
 * it for sr (W = 64: prec <= 29), one below it (the half bit) for the
 * other modes (prec <= 60; prec <= 53 here), lower ones only as sticky.
 * An out-of-range result only has to be seen as such: bits lost above
 * the quantum need a leading bit at 2^(61-F) or above, so k >= 2^61 (or
 * round_fixed's `big`) exceeds every range and saturates either way.
 * -wrap does not use it (exact_add_wrap). */
static int adder_width(const nr_format *f, nr_rounding mode)
{
    if (f->kind == NR_FIXED)
        return f->prec <= 29 || (mode != NR_RND_SR && f->prec <= 53) ? 64 : 128;
    return f->prec <= 29 ? 64 : 128;
}

V gen_num_round_sum(gen_ctx *g, const nr_format *f, nr_rounding mode, V a, V b, V sr)
{
    if (masked_sum_ok(f, mode))
        return round_sum_masked(g, f, mode, a, b);
    if (f->kind == NR_FLOAT && f->prec <= 52 && mode != NR_RND_SR)
        return round_sum_twosum(g, f, mode, a, b, sr);
    gen_exact x, y, s;
    gen_num_exact_f64(g, a, &x);
    gen_num_exact_f64(g, b, &y);
    if (wraps(f))
        exact_add_wrap(g, &x, &y, mode == NR_RND_RD, &s);
    else
        gen_num_exact_add(g, &x, &y, adder_width(f, mode), mode == NR_RND_RD, &s);
    return gen_num_round(g, f, mode, &s, sr);
}

/* ------------------------------------------------------------- products */

/* Exponent of the lowest bit any value of f can have, and of the highest. */
static int lsb_exp(const nr_format *f)
{
    return f->kind == NR_FIXED ? -f->frac_bits : f->emin - f->man_bits;
}
static int top_exp(const nr_format *f) { return ilogb(f->max_finite); }

/* The double product a*b of values of fa and fb is exact when
 *  - the significands fit: prec(a) + prec(b) <= 53 (a p-bit times a q-bit
 *    integer has at most p+q bits);
 *  - the product's lowest possible bit is a double's: lsb(a) + lsb(b) >=
 *    -1074 (the product is an integer multiple of 2^(lsb(a)+lsb(b)));
 *  - it cannot reach 2^1024: |a| < 2^(top(a)+1), |b| < 2^(top(b)+1), so
 *    top(a) + top(b) + 2 <= 1024 suffices.
 * Then the exact product is a double and fl(a*b) = a*b.  Fixed point with
 * prec > 53 does not decode exactly and is not covered (decode rounds). */
static int prod_exact_in_double(const nr_format *fa, const nr_format *fb)
{
    return fa->prec + fb->prec <= 53 && lsb_exp(fa) + lsb_exp(fb) >= -1074 &&
           top_exp(fa) + top_exp(fb) + 2 <= 1024;
}

V gen_num_round_prod(gen_ctx *g, const nr_format *fp, nr_rounding mode, const nr_format *fa,
                     const nr_format *fb, V a, V b, V sr)
{
    gen_exact x;
    if (prod_exact_in_double(fa, fb)) {
        gen_num_exact_f64(g, LLVMBuildFMul(g->b, a, b, "p"), &x);
    } else {
        gen_num_exact_mul(g, a, b, &x);
    }
    return gen_num_round(g, fp, mode, &x, sr);
}

V gen_num_round_fma(gen_ctx *g, const nr_format *f, nr_rounding mode, V a, V b, V c, V sr)
{
    /* Exact: the product is an exact i128 (gen_num_exact_mul), the sum is
     * the aligned adder at W = 128 whose argument covers a 106-bit operand
     * (loss needs d > 21, the result then keeps bits down to 41 below the
     * leading bit... see gen_num_exact_add); -wrap: exact_add_wrap. */
    gen_exact p, y, s;
    gen_num_exact_mul(g, a, b, &p);
    gen_num_exact_f64(g, c, &y);
    if (wraps(f))
        exact_add_wrap(g, &p, &y, mode == NR_RND_RD, &s);
    else
        gen_num_exact_add(g, &p, &y, 128, mode == NR_RND_RD, &s);
    return gen_num_round(g, f, mode, &s, sr);
}

/* ------------------------------------------------------------ sr bits */

static V mix64(gen_ctx *g, V z)
{
    LLVMBuilderRef B = g->b;
    z = LLVMBuildMul(B, xor_(g, z, lshr(g, z, cst(g->i64, 30))), cst(g->i64, 0xBF58476D1CE4E5B9ull), "");
    z = LLVMBuildMul(B, xor_(g, z, lshr(g, z, cst(g->i64, 27))), cst(g->i64, 0x94D049BB133111EBull), "");
    return xor_(g, z, lshr(g, z, cst(g->i64, 31)));
}

V gen_num_sr_bits(gen_ctx *g, V seed, V layer, V element, V term)
{
    /* [rnd-sr] the same three splitmix64 rounds as runtime/num/sr.c */
    V h = mix64(g, add(g, seed, cst(g->i64, 0x9E3779B97F4A7C15ull)));
    V lt = or_(g, shl(g, resize(g, layer, g->i64), cst(g->i64, 32)), resize(g, term, g->i64));
    h = mix64(g, xor_(g, h, lt));
    h = mix64(g, add(g, h, LLVMBuildMul(g->b, element, cst(g->i64, 0x9E3779B97F4A7C15ull), "")));
    return resize(g, lshr(g, h, cst(g->i64, 32)), g->i32);
}

/* ------------------------------------------------------ whole functions */

static V param(V fn, unsigned i, const char *name)
{
    V p = LLVMGetParam(fn, i);
    LLVMSetValueName2(p, name, strlen(name));
    return p;
}

V gen_num_fn_decode(gen_ctx *g, const char *name, const nr_format *f)
{
    T args[1] = {gen_emit_container_type(g, f)};
    V fn = gen_emit_function(g, name, LLVMFunctionType(g->f64, args, 1, 0), 1);
    LLVMBuildRet(g->b, gen_num_decode(g, f, param(fn, 0, "bits")));
    return fn;
}

V gen_num_fn_round_f64(gen_ctx *g, const char *name, const nr_format *f, nr_rounding mode)
{
    T ct = gen_emit_container_type(g, f), args[2] = {g->f64, g->i32};
    V fn = gen_emit_function(g, name, LLVMFunctionType(ct, args, 2, 0), 1);
    gen_exact x;
    gen_num_exact_f64(g, param(fn, 0, "x"), &x);
    V r = gen_num_round(g, f, mode, &x, param(fn, 1, "sr"));
    LLVMBuildRet(g->b, resize(g, r, ct));
    return fn;
}

V gen_num_fn_round_sum(gen_ctx *g, const char *name, const nr_format *f, nr_rounding mode)
{
    T ct = gen_emit_container_type(g, f), args[3] = {g->f64, g->f64, g->i32};
    V fn = gen_emit_function(g, name, LLVMFunctionType(ct, args, 3, 0), 1);
    V r = gen_num_round_sum(g, f, mode, param(fn, 0, "a"), param(fn, 1, "b"), param(fn, 2, "sr"));
    LLVMBuildRet(g->b, resize(g, r, ct));
    return fn;
}

V gen_num_fn_mul(gen_ctx *g, const char *name, const nr_format *fa, const nr_format *fb,
                 const nr_format *fp, nr_rounding mode)
{
    T ct = gen_emit_container_type(g, fp);
    T args[3] = {gen_emit_container_type(g, fa), gen_emit_container_type(g, fb), g->i32};
    V fn = gen_emit_function(g, name, LLVMFunctionType(ct, args, 3, 0), 1);
    V a = gen_num_decode(g, fa, param(fn, 0, "a"));
    V b = gen_num_decode(g, fb, param(fn, 1, "b"));
    V r = gen_num_round_prod(g, fp, mode, fa, fb, a, b, param(fn, 2, "sr"));
    LLVMBuildRet(g->b, resize(g, r, ct));
    return fn;
}

V gen_num_fn_fma(gen_ctx *g, const char *name, const nr_format *fa, const nr_format *fb,
                 const nr_format *fp, nr_rounding mode)
{
    T ct = gen_emit_container_type(g, fp);
    T args[4] = {gen_emit_container_type(g, fa), gen_emit_container_type(g, fb), ct, g->i32};
    V fn = gen_emit_function(g, name, LLVMFunctionType(ct, args, 4, 0), 1);
    V a = gen_num_decode(g, fa, param(fn, 0, "a"));
    V b = gen_num_decode(g, fb, param(fn, 1, "b"));
    V c = gen_num_decode(g, fp, param(fn, 2, "c"));
    V r = gen_num_round_fma(g, fp, mode, a, b, c, param(fn, 3, "sr"));
    LLVMBuildRet(g->b, resize(g, r, ct));
    return fn;
}

V gen_num_fn_sr_bits(gen_ctx *g, const char *name)
{
    T args[4] = {g->i64, g->i32, g->i64, g->i32};
    V fn = gen_emit_function(g, name, LLVMFunctionType(g->i32, args, 4, 0), 1);
    LLVMBuildRet(g->b, gen_num_sr_bits(g, param(fn, 0, "seed"), param(fn, 1, "layer"),
                                       param(fn, 2, "element"), param(fn, 3, "term")));
    return fn;
}
