/* round.c -- the one round-and-pack: an exact value -> an encoding.
 *
 * Every rounding in numrep (scalar ops, bulk kernels' reference, the
 * emulator) ends here, and the generator's IR mirrors these steps; the step
 * labels [rnd-N] refer to docs/semantics.md.
 *
 * The exact value is (-1)^sign * sig * 2^exp, plus "sticky": something
 * strictly between that and the next multiple of 2^exp in magnitude. */
#include "numrep.h"

typedef nr_u128 u128; /* u128.h: __int128 on hosts, two halves on 32-bit targets */

/* The magnitude split at quantum 2^q: k = floor(|x| / 2^q), plus what is
 * needed to round k: the round bit (the 1/2 place), whether anything below
 * it is nonzero, and the top 32 bits of the fraction for [rnd-sr]. */
typedef struct {
    u128 k;         /* integer multiple of 2^q (may be >= 2^64 only when big) */
    int big;        /* k does not fit in 128 bits (only possible far out of range) */
    int half;       /* fraction >= 1/2 */
    int below_half; /* fraction has bits below the 1/2 place */
    uint32_t frac32;/* floor(fraction * 2^32) */
    int below32;    /* fraction * 2^32 is not an integer */
} split;

static void split_at(const nr_exact *x, int64_t q, split *o)
{
    int64_t shift = q - (int64_t)x->exp; /* bits of sig below the quantum */
    o->big = 0;
    if (shift <= 0) {
        int s = (int)-shift;
        int len = nr_u128_bitlen(x->sig);
        if (-shift >= 128 || len + s > 127) {
            o->big = 1;
            o->k = s >= 128 ? nr_u128_from(0) : nr_u128_shl(x->sig, s); /* low bits, for wrap-around */
        } else {
            o->k = nr_u128_shl(x->sig, s);
        }
        o->half = 0;
        o->below_half = x->sticky;
        o->frac32 = 0;
        o->below32 = x->sticky;
        return;
    }
    int s = shift > 300 ? 300 : (int)shift;
    u128 rem = nr_u128_low(x->sig, s);
    o->k = nr_u128_shr_any(x->sig, s);
    o->half = s <= 128 ? (int)(nr_u128_lo(nr_u128_shr_any(rem, s - 1)) & 1) : 0;
    o->below_half = !nr_u128_is0(nr_u128_low(rem, s - 1)) || x->sticky;
    if (s <= 32) {
        o->frac32 = (uint32_t)(nr_u128_lo(rem) << (32 - s));
        o->below32 = x->sticky;
    } else {
        o->frac32 = (uint32_t)nr_u128_lo(nr_u128_shr_any(rem, s - 32));
        o->below32 = !nr_u128_is0(nr_u128_low(rem, s - 32)) || x->sticky;
    }
}

/* [rnd-2] Does the magnitude go from lo = k*g up to hi = (k+1)*g? */
static int round_up(nr_rounding mode, int sign, const split *p, uint32_t sr_bits)
{
    int inexact = p->half || p->below_half;
    int odd = (int)(nr_u128_lo(p->k) & 1);
    switch (mode) {
    case NR_RND_RNE: return p->half && (p->below_half || odd);
    case NR_RND_RNA: return p->half;
    case NR_RND_RZ: return 0;
    case NR_RND_RU: return inexact && !sign;
    case NR_RND_RD: return inexact && sign;
    case NR_RND_RTO: return inexact && !odd;
    case NR_RND_SR: /* [rnd-sr] hi iff r < ceil(f * 2^32) */
        return (uint64_t)sr_bits < (uint64_t)p->frac32 + (uint64_t)(p->below32 != 0);
    default: return 0;
    }
}

/* [rnd-3] Does an overflowing result become infinity (else +-max)? */
static int overflow_to_inf(nr_rounding mode, int sign)
{
    switch (mode) {
    case NR_RND_RNE: case NR_RND_RNA: case NR_RND_SR: return 1;
    case NR_RND_RU: return !sign;
    case NR_RND_RD: return sign;
    default: return 0; /* rz, rto */
    }
}

static uint64_t with_sign(const nr_format *f, int sign, uint64_t mag)
{
    if (!sign)
        return mag;
    if (mag == 0 && !f->has_negzero)
        return 0; /* [rnd-4] fnuz has no -0 */
    return f->sign_mask | mag;
}

static uint64_t float_overflow(const nr_format *f, nr_rounding mode, int sign, unsigned *fl)
{
    *fl |= NR_FLAG_OVERFLOW | NR_FLAG_INEXACT;
    if (!f->saturate && overflow_to_inf(mode, sign)) {
        if (f->has_inf)
            return with_sign(f, sign, f->inf_bits);
        *fl |= NR_FLAG_INVALID; /* [fmt-4] no infinity: NaN */
        return f->nan_bits;
    }
    if (f->saturate)
        *fl |= NR_FLAG_SATURATED;
    return with_sign(f, sign, f->max_bits);
}

static uint64_t round_float(const nr_format *f, nr_rounding mode, const nr_exact *x,
                            uint32_t sr_bits, unsigned *fl)
{
    const int Y = f->man_bits;
    int64_t E = (int64_t)x->exp + nr_u128_bitlen(x->sig) - 1; /* |x| in [2^E, 2^(E+1)) */
    if (E > f->emax)
        return float_overflow(f, mode, x->sign, fl); /* beyond max before rounding */
    /* [rnd-2] the quantum (gap) around |x| */
    int64_t q;
    if (E >= f->emin)
        q = E - Y;
    else
        q = f->subnormals ? (int64_t)f->emin - Y : f->emin; /* [fmt-2] 0 and 2^emin */
    split p;
    split_at(x, q, &p);
    int inexact = p.half || p.below_half;
    uint64_t k = nr_u128_lo(p.k) + (uint64_t)round_up(mode, x->sign, &p, sr_bits);
    /* Pack: for normals, k in [2^Y, 2^(Y+1)] and bits = ((E+bias-1) << Y) + k,
     * so a carry out of the significand bumps the exponent by itself.  For
     * subnormals (q = emin-Y) bits = k, and k = 2^Y is the smallest normal.
     * Without subnormals (q = emin) k is 0 or 1: 0 or 2^emin. */
    uint64_t mag;
    if (E >= f->emin)
        mag = ((uint64_t)(E + f->bias - 1) << Y) + k;
    else if (f->subnormals)
        mag = k;
    else
        mag = k ? (uint64_t)1 << Y : 0;
    if (inexact) {
        *fl |= NR_FLAG_INEXACT;
        if (E < f->emin)
            *fl |= NR_FLAG_UNDERFLOW; /* [rnd-6] tininess before rounding */
        if (mag == 0)
            *fl |= NR_FLAG_FLUSHED;
    }
    if (mag > f->max_bits) /* [rnd-3] rounded past max (or onto fn's NaN slot) */
        return float_overflow(f, mode, x->sign, fl);
    return with_sign(f, x->sign, mag);
}

static uint64_t fixed_saturate(const nr_format *f, int sign, unsigned *fl)
{
    *fl |= NR_FLAG_OVERFLOW | NR_FLAG_SATURATED | NR_FLAG_INEXACT;
    return sign ? f->min_bits : f->max_bits;
}

static uint64_t round_fixed(const nr_format *f, nr_rounding mode, const nr_exact *x,
                            uint32_t sr_bits, unsigned *fl)
{
    split p;
    split_at(x, -(int64_t)f->frac_bits, &p);
    if (p.half || p.below_half)
        *fl |= NR_FLAG_INEXACT;
    u128 k = nr_u128_add(p.k, nr_u128_from((uint64_t)round_up(mode, x->sign, &p, sr_bits)));
    if (nr_u128_is0(k) && !p.big) {
        if (p.half || p.below_half)
            *fl |= NR_FLAG_FLUSHED;
        return 0;
    }
    /* the representable magnitudes: [0, 2^(I+F)-1] up, 2^(I+F) down (signed) */
    u128 maxpos = nr_u128_sub(nr_u128_shl(nr_u128_from(1), f->int_bits + f->frac_bits),
                              nr_u128_from(1));
    u128 maxneg = f->is_signed ? nr_u128_add(maxpos, nr_u128_from(1)) : nr_u128_from(0);
    int out = p.big || nr_u128_lt(x->sign ? maxneg : maxpos, k);
    if (!out)
        return (x->sign ? (uint64_t)(-nr_u128_lo(k)) : nr_u128_lo(k)) & f->man_mask;
    if (f->saturate)
        return fixed_saturate(f, x->sign, fl);
    /* -wrap: two's complement modulo 2^width; k's low 64 bits are exact */
    *fl |= NR_FLAG_OVERFLOW | NR_FLAG_WRAPPED | NR_FLAG_INEXACT;
    uint64_t lo = nr_u128_lo(k);
    return (x->sign ? (uint64_t)0 - lo : lo) & f->man_mask;
}

uint64_t nr_round_exact(const nr_format *f, nr_rounding mode, const nr_exact *x,
                        uint32_t sr_bits, unsigned *flags)
{
    unsigned dummy = 0, *fl = flags ? flags : &dummy;
    int is_fixed = f->kind == NR_FIXED;
    switch (x->cls) {
    case NR_CLS_NAN: /* [rnd-5] */
        if (f->has_nan)
            return f->nan_bits;
        *fl |= NR_FLAG_INVALID;
        return 0;
    case NR_CLS_INF: /* [rnd-5] */
        if (f->has_inf)
            return with_sign(f, x->sign, f->inf_bits);
        *fl |= NR_FLAG_INVALID; /* an infinity with no encoding */
        if (is_fixed)
            return fixed_saturate(f, x->sign, fl);
        if (f->saturate) {
            *fl |= NR_FLAG_SATURATED;
            return with_sign(f, x->sign, f->max_bits);
        }
        *fl |= NR_FLAG_INVALID;
        return f->nan_bits;
    case NR_CLS_ZERO:
        return is_fixed ? 0 : with_sign(f, x->sign, 0);
    case NR_CLS_FINITE:
        break;
    }
    if (nr_u128_is0(x->sig)) { /* a finite class with no significand: only sticky */
        if (!x->sticky)
            return is_fixed ? 0 : with_sign(f, x->sign, 0);
        /* sig 0 + sticky: nonzero, below half of 2^exp (numrep.h); stand in
         * 2^(exp-2) + sticky, which rounds the same in every mode but sr */
        nr_exact t = *x;
        t.sig = nr_u128_from(1);
        t.exp = x->exp - 2;
        return is_fixed ? round_fixed(f, mode, &t, sr_bits, fl)
                        : round_float(f, mode, &t, sr_bits, fl);
    }
    return is_fixed ? round_fixed(f, mode, x, sr_bits, fl) : round_float(f, mode, x, sr_bits, fl);
}
