/* codec.c -- encodings <-> exact values: decode, classify, and encode
 * (which is nr_round_exact of an exact double).  Field layouts are
 * [fmt-1..6] in docs/semantics.md; every constant comes from nr_format. */
#include "numrep.h"

#include <math.h>
#include <string.h>

void nr_exact_from_double(double x, nr_exact *o)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    o->sign = (int)(b >> 63);
    o->sticky = 0;
    int E = (int)((b >> 52) & 0x7ff);
    uint64_t M = b & ((1ull << 52) - 1);
    if (E == 0x7ff) {
        o->cls = M ? NR_CLS_NAN : NR_CLS_INF;
        o->sig = nr_u128_from(0), o->exp = 0;
        if (M)
            o->sign = 0;
        return;
    }
    if (E == 0 && M == 0) {
        o->cls = NR_CLS_ZERO;
        o->sig = nr_u128_from(0), o->exp = 0;
        return;
    }
    o->cls = NR_CLS_FINITE;
    if (E == 0) {
        o->sig = nr_u128_from(M);
        o->exp = -1074;
    } else {
        o->sig = nr_u128_from(M | 1ull << 52);
        o->exp = E - 1075;
    }
}

void nr_codec_decode_exact(const nr_format *f, uint64_t bits, nr_exact *o)
{
    o->sticky = 0;
    o->exp = 0;
    o->sig = nr_u128_from(0);
    o->sign = 0;
    if (f->kind == NR_FIXED) {
        /* [fmt-6] a width-bit integer n, value n * 2^-F */
        bits &= f->man_mask;
        int neg = f->is_signed && (bits & f->sign_mask);
        uint64_t mag = neg ? (uint64_t)0 - (bits | ~f->man_mask) : bits;
        o->cls = mag ? NR_CLS_FINITE : NR_CLS_ZERO;
        o->sign = neg;
        o->sig = nr_u128_from(mag);
        o->exp = -f->frac_bits;
        return;
    }
    const int Y = f->man_bits;
    int sign = (bits & f->sign_mask) != 0;
    uint64_t E = (bits & f->exp_mask) >> Y;
    uint64_t M = bits & f->man_mask;
    uint64_t Eall = f->exp_mask >> Y;
    o->sign = sign;
    /* [fmt-3] specials */
    switch (f->specials) {
    case NR_SPECIALS_IEEE:
        if (E == Eall) {
            o->cls = M ? NR_CLS_NAN : NR_CLS_INF;
            if (M)
                o->sign = 0;
            return;
        }
        break;
    case NR_SPECIALS_FN:
        if (E == Eall && M == f->man_mask) {
            o->cls = NR_CLS_NAN;
            o->sign = 0;
            return;
        }
        break;
    case NR_SPECIALS_FNUZ:
        if ((bits & (f->sign_mask | f->exp_mask | f->man_mask)) == f->sign_mask) {
            o->cls = NR_CLS_NAN;
            o->sign = 0;
            return;
        }
        break;
    case NR_SPECIALS_FINITE:
        break;
    }
    if (E == 0) {
        if (M == 0 || !f->subnormals) { /* [fmt-2] nosub: exp field 0 is +-0 */
            o->cls = NR_CLS_ZERO;
            return;
        }
        o->cls = NR_CLS_FINITE;
        o->sig = nr_u128_from(M);
        o->exp = f->emin - Y;
        return;
    }
    o->cls = NR_CLS_FINITE;
    o->sig = nr_u128_from(M | 1ull << Y);
    o->exp = (int32_t)((int64_t)E - f->bias - Y);
}

double nr_codec_exact_to_double(const nr_exact *x)
{
    switch (x->cls) {
    case NR_CLS_NAN: return NAN;
    case NR_CLS_INF: return x->sign ? -INFINITY : INFINITY;
    case NR_CLS_ZERO: return x->sign ? -0.0 : 0.0;
    default: break;
    }
    static const nr_format fp64 = {
        /* nr_format_float(11, 52) with its derived fields, so that the
         * conversion is nr_round_exact itself (one rounding definition). */
        .kind = NR_FLOAT, .exp_bits = 11, .man_bits = 52, .bias = 1023, .subnormals = 1,
        .specials = NR_SPECIALS_IEEE, .width = 64, .container = 8, .prec = 53,
        .emin = -1022, .emax = 1023, .has_inf = 1, .has_nan = 1, .has_negzero = 1,
        .sign_mask = 1ull << 63, .exp_mask = 0x7ffull << 52, .man_mask = (1ull << 52) - 1,
        .max_bits = 0x7fefffffffffffffull, .inf_bits = 0x7ffull << 52,
        .nan_bits = 0x7ff8000000000000ull,
    };
    uint64_t b = nr_round_exact(&fp64, NR_RND_RNE, x, 0, NULL);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

double nr_decode(const nr_format *f, uint64_t bits)
{
    nr_exact x;
    nr_codec_decode_exact(f, bits, &x);
    if (x.cls == NR_CLS_FINITE && nr_u128_lt(x.sig, nr_u128_from(1ull << 53)))
        return ldexp((double)nr_u128_lo(x.sig) * (x.sign ? -1.0 : 1.0), x.exp); /* exact */
    return nr_codec_exact_to_double(&x);
}

nr_class nr_codec_classify(const nr_format *f, uint64_t bits)
{
    nr_exact x;
    nr_codec_decode_exact(f, bits, &x);
    return x.cls;
}

int nr_is_canonical(const nr_format *f, uint64_t bits)
{
    if (f->width < 64 && (bits >> f->width))
        return 0; /* bits beyond the width */
    if (f->kind == NR_FIXED)
        return 1;
    nr_exact x;
    nr_codec_decode_exact(f, bits, &x);
    if (x.cls == NR_CLS_NAN)
        return bits == f->nan_bits;
    if (x.cls == NR_CLS_ZERO)
        return (bits & ~f->sign_mask) == 0; /* not a -nosub exp-0 encoding */
    return 1;
}

uint64_t nr_encode(const nr_format *f, nr_rounding mode, double x, uint32_t sr_bits,
                   unsigned *flags)
{
    nr_exact e;
    nr_exact_from_double(x, &e);
    return nr_round_exact(f, mode, &e, sr_bits, flags);
}

uint64_t nr_codec_encode_f32(const nr_format *f, nr_rounding mode, float x, uint32_t sr_bits,
                       unsigned *flags)
{
    return nr_encode(f, mode, (double)x, sr_bits, flags); /* float -> double is exact */
}

double nr_round(const nr_format *f, nr_rounding mode, double x, uint32_t sr_bits,
                unsigned *flags)
{
    return nr_decode(f, nr_encode(f, mode, x, sr_bits, flags));
}
