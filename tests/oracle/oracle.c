/* oracle.c -- formats, decoding and rounding of the independent MPFR oracle.
 * Written from docs/semantics.md alone: every derived constant is recomputed
 * here from the user-facing fields of nr_format, and rounding is the literal
 * [rnd-2] rule (neighbours lo/hi on the unbounded value set, gap g, mode
 * picks one), followed by [rnd-3] overflow and [rnd-4] signed zeros. */
#include "oracle.h"

#include <assert.h>
#include <string.h>

#define ALL_FLAGS                                                                        \
    (NR_FLAG_INEXACT | NR_FLAG_UNDERFLOW | NR_FLAG_FLUSHED | NR_FLAG_OVERFLOW |            \
     NR_FLAG_SATURATED | NR_FLAG_INVALID | NR_FLAG_WRAPPED)

/* ---------------------------------------------------------------- formats */

static uint64_t ones(int n) { return n >= 64 ? ~0ull : (1ull << n) - 1; }

int or_fmt_init(or_fmt *o, const nr_format *f)
{
    memset(o, 0, sizeof *o);
    mpfr_init2(o->max, 128);
    mpfr_init2(o->fmin, 128);
    mpfr_set_zero(o->max, 1);
    mpfr_set_zero(o->fmin, 1);
    if (f->kind == NR_FIXED) {
        o->fixed = 1;
        o->I = f->int_bits, o->F = f->frac_bits, o->sgn = !!f->is_signed;
        o->sat = !!f->saturate;
        if (o->I < 0 || o->F < 0)
            return -1;
        o->width = o->sgn + o->I + o->F;
        if (o->width < 1 || o->width > 64)
            return -1;
        /* [fmt-6] magnitudes n * 2^-F, n < 2^(I+F); signed min is -2^I */
        o->max_bits = ones(o->I + o->F);
        mpfr_set_uj(o->max, o->max_bits, MPFR_RNDN);
        mpfr_mul_2si(o->max, o->max, -o->F, MPFR_RNDN);
        if (o->sgn) {
            mpfr_set_ui(o->fmin, 1, MPFR_RNDN);
            mpfr_mul_2si(o->fmin, o->fmin, o->I, MPFR_RNDN);
        }
        return 0;
    }
    o->X = f->exp_bits, o->Y = f->man_bits, o->bias = f->bias;
    o->sub = !!f->subnormals, o->sp = f->specials;
    o->sat = !!f->saturate || f->specials == NR_SPECIALS_FINITE; /* [fmt-4] */
    if (o->X < 1 || o->X > 11 || o->Y < 0 || o->Y > 52 || (unsigned)o->sp > NR_SPECIALS_FINITE)
        return -1;
    if (o->sp == NR_SPECIALS_IEEE && (o->Y == 0 || o->X < 2))
        return -1; /* [fmt-3] ieee needs Y >= 1 for NaN, X >= 2 for normals */
    o->width = 1 + o->X + o->Y;
    o->emin = 1 - o->bias;
    o->has_inf = o->sp == NR_SPECIALS_IEEE;
    o->has_nan = o->sp != NR_SPECIALS_FINITE;
    o->has_negzero = o->sp != NR_SPECIALS_FNUZ;
    const uint64_t eall = ones(o->X), mall = ones(o->Y);
    switch (o->sp) {
    case NR_SPECIALS_IEEE:
        o->nan_bits = eall << o->Y | 1ull << (o->Y - 1); /* quiet bit: 0x7fc00000 */
        o->inf_bits = eall << o->Y;
        break;
    case NR_SPECIALS_FN: o->nan_bits = eall << o->Y | mall; break;
    case NR_SPECIALS_FNUZ: o->nan_bits = 1ull << (o->X + o->Y); break;
    default: break;
    }
    /* +max: the largest positive encoding that decodes to a finite value.
     * Positive encodings are ordered by value, and at most the all-ones
     * exponent binade is special, so step down over it. */
    uint64_t b = ones(o->X + o->Y);
    or_val v;
    or_val_init(&v, 80);
    for (;;) {
        or_decode(o, b, &v);
        if (v.cls == NR_CLS_FINITE || v.cls == NR_CLS_ZERO)
            break;
        if (o->sp == NR_SPECIALS_IEEE && (b >> o->Y) == eall)
            b = (eall << o->Y) - 1;
        else
            b--;
    }
    /* a format needs normal numbers: max must not be in the E = 0 binade */
    int ok = v.cls == NR_CLS_FINITE && (b >> o->Y & eall) != 0;
    if (ok) {
        o->max_bits = b;
        mpfr_set(o->max, v.mag, MPFR_RNDN);
        /* [fmt-5] every value a binary64: largest <= DBL_MAX, lowest bit
         * 2^(emin-Y) >= 2^-1074 (the first binade's spacing, with or without
         * subnormals). */
        if (mpfr_get_exp(o->max) > 1024 || o->emin - o->Y < -1074)
            ok = 0;
    }
    or_val_clear(&v);
    return ok ? 0 : -1;
}

void or_fmt_clear(or_fmt *o)
{
    mpfr_clear(o->max);
    mpfr_clear(o->fmin);
}

/* ---------------------------------------------------------------- values */

void or_val_init(or_val *v, mpfr_prec_t prec)
{
    memset(v, 0, sizeof *v);
    mpfr_init2(v->mag, prec);
    mpfr_set_zero(v->mag, 1);
    v->cls = NR_CLS_ZERO;
}

void or_val_clear(or_val *v) { mpfr_clear(v->mag); }

void or_val_from_exact(or_val *v, const nr_exact *x)
{
    v->cls = x->cls;
    v->sign = x->sign;
    v->sticky = 0;
    mpfr_set_zero(v->mag, 1);
    if (x->cls != NR_CLS_FINITE)
        return;
    assert(mpfr_get_prec(v->mag) >= 128);
    mpfr_set_uj(v->mag, (uint64_t)(x->sig >> 64), MPFR_RNDN);
    mpfr_mul_2ui(v->mag, v->mag, 64, MPFR_RNDN);
    {
        mpfr_t lo;
        mpfr_init2(lo, 64);
        mpfr_set_uj(lo, (uint64_t)x->sig, MPFR_RNDN);
        int t = mpfr_add(v->mag, v->mag, lo, MPFR_RNDN);
        assert(t == 0);
        (void)t;
        mpfr_clear(lo);
    }
    mpfr_mul_2si(v->mag, v->mag, x->exp, MPFR_RNDN);
    v->sticky = x->sticky;
    if (mpfr_zero_p(v->mag) && !x->sticky)
        v->cls = NR_CLS_ZERO; /* sig 0: the value is zero */
}

void or_val_to_exact(const or_val *v, nr_exact *x)
{
    memset(x, 0, sizeof *x);
    x->cls = v->cls;
    x->sign = v->sign;
    if (v->cls != NR_CLS_FINITE)
        return;
    x->sticky = v->sticky;
    if (mpfr_zero_p(v->mag)) {
        x->exp = -1100;
        return;
    }
    /* sig = mag * 2^-exp as an integer below 2^128 */
    long e = mpfr_get_exp(v->mag) - 128;
    mpfr_t t;
    mpz_t z;
    mpfr_init2(t, mpfr_get_prec(v->mag));
    mpz_init(z);
    mpfr_mul_2si(t, v->mag, -e, MPFR_RNDN);
    int ok = mpfr_integer_p(t);
    assert(ok && "value needs more than 128 significant bits");
    (void)ok;
    mpfr_get_z(z, t, MPFR_RNDN);
    unsigned __int128 sig = 0;
    for (int i = 1; i >= 0; i--) {
        mpz_t w;
        mpz_init(w);
        mpz_fdiv_q_2exp(w, z, 64 * i);
        mpz_fdiv_r_2exp(w, w, 64);
        sig = sig << 64 | (uint64_t)mpz_get_ui(w);
        mpz_clear(w);
    }
    x->sig = sig;
    x->exp = (int32_t)e;
    mpz_clear(z);
    mpfr_clear(t);
}

/* ---------------------------------------------------------------- decode */

void or_decode(const or_fmt *o, uint64_t bits, or_val *v)
{
    v->sticky = 0;
    v->sign = 0;
    mpfr_set_zero(v->mag, 1);
    if (o->fixed) {
        /* [fmt-6] two's complement (signed) or plain integer n; value n*2^-F */
        uint64_t n = bits & ones(o->width);
        int neg = o->sgn && (n >> (o->width - 1) & 1);
        uint64_t mag = neg ? -(n | ~ones(o->width)) : n; /* sign-extend, negate */
        v->sign = neg;
        v->cls = mag ? NR_CLS_FINITE : NR_CLS_ZERO;
        mpfr_set_uj(v->mag, mag, MPFR_RNDN);
        mpfr_mul_2si(v->mag, v->mag, -o->F, MPFR_RNDN);
        return;
    }
    const uint64_t eall = ones(o->X), mall = ones(o->Y);
    const int s = (int)(bits >> (o->X + o->Y) & 1);
    const uint64_t E = bits >> o->Y & eall, M = bits & mall;
    v->sign = s;
    if (o->sp == NR_SPECIALS_IEEE && E == eall) {
        v->cls = M ? NR_CLS_NAN : NR_CLS_INF;
        return;
    }
    if (o->sp == NR_SPECIALS_FN && E == eall && M == mall) {
        v->cls = NR_CLS_NAN;
        return;
    }
    if (o->sp == NR_SPECIALS_FNUZ && s && E == 0 && M == 0) {
        v->cls = NR_CLS_NAN;
        return;
    }
    if (E == 0) {
        /* [fmt-1] subnormal 0.M * 2^emin; [fmt-2] -nosub: only +-0 */
        if (!o->sub || M == 0) {
            v->cls = NR_CLS_ZERO;
            return;
        }
        v->cls = NR_CLS_FINITE;
        mpfr_set_uj(v->mag, M, MPFR_RNDN);
        mpfr_mul_2si(v->mag, v->mag, o->emin - o->Y, MPFR_RNDN);
        return;
    }
    v->cls = NR_CLS_FINITE;
    mpfr_set_uj(v->mag, (1ull << o->Y) | M, MPFR_RNDN);
    mpfr_mul_2si(v->mag, v->mag, (long)E - o->bias - o->Y, MPFR_RNDN);
}

int or_canonical(const or_fmt *o, uint64_t bits)
{
    if (o->fixed)
        return 1;
    or_val v;
    or_val_init(&v, 80);
    or_decode(o, bits, &v);
    int c = 1;
    if (v.cls == NR_CLS_NAN)
        c = bits == o->nan_bits;
    else if (!o->sub && (bits >> o->Y & ones(o->X)) == 0 && (bits & ones(o->Y)))
        c = 0;
    or_val_clear(&v);
    return c;
}

/* ---------------------------------------------------------------- rounding */

void or_plan_init(or_plan *p)
{
    memset(p, 0, sizeof *p);
    mpfr_init2(p->lo, 80);
    mpfr_init2(p->hi, 80);
}

void or_plan_clear(or_plan *p)
{
    mpfr_clear(p->lo);
    mpfr_clear(p->hi);
}

static void setprec(mpfr_t x, mpfr_prec_t p)
{
    if (mpfr_get_prec(x) != p)
        mpfr_set_prec(x, p);
}

void or_plan_make(const or_fmt *o, const or_val *v, or_plan *p)
{
    p->cls = v->cls;
    p->sign = v->sign;
    p->exact = 1;
    p->tie = p->above_mid = p->lo_even = 0;
    p->th = 0;
    p->tiny = 0;
    p->special_invalid = 0;
    p->zero_sum = 0;
    if (v->cls != NR_CLS_FINITE)
        return;
    const int zero_sticky = mpfr_zero_p(v->mag); /* infinitesimal: below everything */
    /* q = log2 of the gap g at |x| ([rnd-2], unbounded exponent above) */
    long q;
    if (o->fixed) {
        q = -o->F;
        p->tiny = zero_sticky || mpfr_cmp_ui_2exp(v->mag, 1, -o->F) < 0;
    } else if (zero_sticky || mpfr_cmp_ui_2exp(v->mag, 1, o->emin) < 0) {
        /* below 2^emin: subnormal spacing, or the one gap 0..2^emin (-nosub) */
        q = o->sub ? o->emin - o->Y : o->emin;
        p->tiny = 1;
    } else {
        q = mpfr_get_exp(v->mag) - 1 - o->Y;
    }
    mpfr_prec_t vp = mpfr_get_prec(v->mag);
    long span = zero_sticky ? 2 : mpfr_get_exp(v->mag) - q + 2; /* bits of k+1 */
    mpfr_prec_t kp = span > (long)vp ? (mpfr_prec_t)span : vp;
    if (kp < 80)
        kp = 80;
    mpfr_t t, k, fr;
    mpfr_inits2(kp, t, k, fr, (mpfr_ptr)0);
    mpfr_mul_2si(t, v->mag, -q, MPFR_RNDN); /* exact: power of two */
    mpfr_floor(k, t);                        /* exact: an integer of <= kp bits */
    mpfr_sub(fr, t, k, MPFR_RNDN);           /* exact: bits of t below the point */
    setprec(p->lo, kp);
    setprec(p->hi, kp);
    mpfr_mul_2si(p->lo, k, q, MPFR_RNDN);
    {
        int tern = mpfr_add_ui(p->hi, k, 1, MPFR_RNDN);
        assert(tern == 0);
        (void)tern;
    }
    mpfr_mul_2si(p->hi, p->hi, q, MPFR_RNDN);
    p->exact = mpfr_zero_p(fr) && !v->sticky;
    if (!p->exact) {
        int c = mpfr_cmp_ui_2exp(fr, 1, -1);
        p->tie = c == 0 && !v->sticky;
        p->above_mid = c > 0 || (c == 0 && v->sticky);
        mpfr_div_2ui(t, k, 1, MPFR_RNDN);
        p->lo_even = mpfr_integer_p(t) != 0;
        /* [rnd-sr] th = ceil(f * 2^32); with sticky f is infinitesimally more */
        mpfr_mul_2ui(fr, fr, 32, MPFR_RNDN);
        if (v->sticky && mpfr_integer_p(fr))
            mpfr_add_ui(fr, fr, 1, MPFR_RNDN);
        else
            mpfr_ceil(fr, fr);
        p->th = mpfr_get_uj(fr, MPFR_RNDN);
        assert(p->th <= (1ull << 32));
    }
    mpfr_clears(t, k, fr, (mpfr_ptr)0);
}

static uint64_t zero_bits(const or_fmt *o, int sign)
{
    return sign && !o->fixed && o->has_negzero ? 1ull << (o->X + o->Y) : 0;
}

/* Encoding of a representable magnitude m (0 < m <= max) with sign. */
static uint64_t encode_mag(const or_fmt *o, int sign, mpfr_srcptr m)
{
    mpfr_t t;
    mpfr_init2(t, mpfr_get_prec(m) + 8);
    uint64_t bits;
    if (o->fixed) {
        mpz_t z;
        mpz_init(z);
        mpfr_mul_2si(t, m, o->F, MPFR_RNDN);
        assert(mpfr_integer_p(t));
        mpfr_get_z(z, t, MPFR_RNDN);
        if (sign)
            mpz_neg(z, z);
        mpz_fdiv_r_2exp(z, z, (unsigned long)o->width); /* two's complement, and wrap */
        bits = (uint64_t)mpz_get_ui(z);
        mpz_clear(z);
    } else {
        uint64_t E, M;
        if (mpfr_cmp_ui_2exp(m, 1, o->emin) < 0) {
            E = 0;
            mpfr_mul_2si(t, m, o->Y - o->emin, MPFR_RNDN);
            M = mpfr_get_uj(t, MPFR_RNDN);
            assert(mpfr_integer_p(t) && M < (1ull << o->Y));
        } else {
            long e = mpfr_get_exp(m) - 1;
            E = (uint64_t)(e + o->bias);
            mpfr_mul_2si(t, m, o->Y - e, MPFR_RNDN);
            assert(mpfr_integer_p(t));
            M = mpfr_get_uj(t, MPFR_RNDN) - (1ull << o->Y);
            assert(E >= 1 && E <= ones(o->X) && M <= ones(o->Y));
        }
        bits = (uint64_t)sign << (o->X + o->Y) | E << o->Y | M;
    }
    mpfr_clear(t);
    return bits;
}

/* Fixed point: does the signed magnitude m lie outside the range? */
static int fixed_out(const or_fmt *o, int sign, mpfr_srcptr m)
{
    if (mpfr_zero_p(m))
        return 0;
    if (sign)
        return !o->sgn || mpfr_cmp(m, o->fmin) > 0;
    return mpfr_cmp(m, o->max) > 0;
}

static uint64_t fixed_min_bits(const or_fmt *o)
{
    return o->sgn ? 1ull << (o->width - 1) : 0;
}

static void pick_special(const or_fmt *o, const or_plan *p, nr_rounding m, or_res *out)
{
    switch (p->cls) {
    case NR_CLS_ZERO: {
        int s = p->zero_sum ? m == NR_RND_RD : p->sign;
        out->bits = zero_bits(o, s);
        out->flags = 0;
        out->care = ALL_FLAGS;
        return;
    }
    case NR_CLS_NAN:
        /* [rnd-5] canonical NaN; no NaN: +0 and INVALID */
        out->bits = o->has_nan ? o->nan_bits : 0;
        out->flags = o->has_nan && !p->special_invalid ? 0 : NR_FLAG_INVALID;
        out->care = o->has_nan && !p->special_invalid ? 0 : NR_FLAG_INVALID;
        return;
    default: /* INF */
        out->flags = 0;
        out->care = NR_FLAG_INVALID;
        if (o->has_inf) {
            out->bits = o->inf_bits | (uint64_t)p->sign << (o->X + o->Y);
        } else if (o->fixed) {
            out->bits = p->sign ? fixed_min_bits(o) : o->max_bits;
            out->flags = NR_FLAG_INVALID;
        } else if (o->sat) {
            out->bits = o->max_bits | (uint64_t)p->sign << (o->X + o->Y);
            out->flags = NR_FLAG_INVALID;
        } else {
            out->bits = o->nan_bits;
            out->flags = NR_FLAG_INVALID;
        }
        return;
    }
}

void or_plan_pick(const or_fmt *o, const or_plan *p, nr_rounding m, uint32_t r, or_res *out)
{
    if (p->cls != NR_CLS_FINITE) {
        pick_special(o, p, m, out);
        return;
    }
    const int neg = p->sign;
    int up; /* choose hi */
    if (p->exact)
        up = 0;
    else
        switch (m) {
        case NR_RND_RNE: up = p->above_mid || (p->tie && !p->lo_even); break;
        case NR_RND_RNA: up = p->above_mid || p->tie; break;
        case NR_RND_RZ: up = 0; break;
        case NR_RND_RU: up = !neg; break;
        case NR_RND_RD: up = neg; break;
        case NR_RND_RTO: up = p->lo_even; break; /* the odd multiple of g */
        default: up = (uint64_t)r < p->th; break;
        }
    mpfr_srcptr v = up ? p->hi : p->lo;
    const int inexact = !p->exact;
    unsigned fl = inexact ? NR_FLAG_INEXACT : 0;
    unsigned care = ALL_FLAGS;
    if (o->fixed) {
        /* OVERFLOW/UNDERFLOW are float notions the header leaves open for fixed */
        care &= ~(NR_FLAG_OVERFLOW | NR_FLAG_UNDERFLOW);
        if (fixed_out(o, neg, v)) {
            fl |= NR_FLAG_INEXACT;
            if (o->sat) {
                fl |= NR_FLAG_SATURATED;
                out->bits = neg ? fixed_min_bits(o) : o->max_bits;
                if (out->bits == 0)
                    care &= ~NR_FLAG_FLUSHED; /* uq clamped to 0: flushed? open */
            } else {
                fl |= NR_FLAG_WRAPPED;
                out->bits = encode_mag(o, neg, v);
            }
            out->flags = fl;
            out->care = care;
            return;
        }
        if (mpfr_zero_p(v)) {
            out->bits = 0;
            fl |= NR_FLAG_FLUSHED;
        } else {
            out->bits = encode_mag(o, neg, v);
        }
        if (p->tiny && inexact)
            fl |= NR_FLAG_UNDERFLOW;
        out->flags = fl;
        out->care = care;
        return;
    }
    if (p->tiny && inexact)
        fl |= NR_FLAG_UNDERFLOW; /* [rnd-6] before rounding */
    if (mpfr_cmp(v, o->max) > 0) {
        /* [rnd-3] */
        const uint64_t sbit = (uint64_t)neg << (o->X + o->Y);
        fl |= NR_FLAG_OVERFLOW | NR_FLAG_INEXACT;
        const int to_inf = m == NR_RND_RNE || m == NR_RND_RNA || m == NR_RND_SR ||
                           (m == NR_RND_RU && !neg) || (m == NR_RND_RD && neg);
        if (o->sat) {
            fl |= NR_FLAG_SATURATED;
            out->bits = o->max_bits | sbit;
        } else if (!to_inf) {
            out->bits = o->max_bits | sbit;
            care &= ~NR_FLAG_SATURATED; /* IEEE's max, not -sat: flag open */
        } else if (o->has_inf) {
            out->bits = o->inf_bits | sbit;
        } else {
            out->bits = o->nan_bits;
            fl |= NR_FLAG_INVALID; /* "NaN produced" */
            care &= ~NR_FLAG_INVALID;
        }
        out->flags = fl;
        out->care = care;
        return;
    }
    if (mpfr_zero_p(v)) {
        out->bits = zero_bits(o, neg); /* [rnd-4] sign of the exact value */
        fl |= NR_FLAG_FLUSHED;
    } else {
        out->bits = encode_mag(o, neg, v);
    }
    out->flags = fl;
    out->care = care;
}

void or_round(const or_fmt *o, nr_rounding m, const or_val *v, uint32_t r, or_res *out)
{
    or_plan p;
    or_plan_init(&p);
    or_plan_make(o, v, &p);
    or_plan_pick(o, &p, m, r, out);
    or_plan_clear(&p);
}

const char *or_flags_str(unsigned fl, char *buf, size_t n)
{
    static const char *const names[] = {"INEXACT", "UNDERFLOW", "FLUSHED", "OVERFLOW",
                                        "SATURATED", "INVALID", "WRAPPED"};
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < 7; i++)
        if (fl >> i & 1)
            k += (size_t)snprintf(buf + k, k < n ? n - k : 0, "%s%s", k ? "|" : "", names[i]);
    if (!k)
        snprintf(buf, n, "0");
    return buf;
}
