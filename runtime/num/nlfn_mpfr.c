/* nlfn_mpfr.c -- the oracle of the nonlinear functions ([nl-oracle]): MPFR
 * computes the exact function value truncated to NR_NL_MPFR_BITS bits plus a
 * sticky bit (round toward zero and MPFR's ternary value), which
 * nr_round_exact rounds into any format and mode.
 *
 * exp log erf tanh sqrt rsqrt reciprocal pow are MPFR's own correctly
 * rounded functions (rsqrt(-0) is the one special value where MPFR differs
 * from IEEE 754 rSqrt).  sigmoid, silu, gelu and gelu_tanh are composed:
 * Ziv's loop evaluates them in interval arithmetic (directed roundings of
 * monotone pieces) at increasing precision w until all of [lo, hi) truncates
 * to the same NR_NL_MPFR_BITS-bit number.  Their only dyadic values are at
 * x = +-0 (handled first): elsewhere they are transcendental (built from
 * e^t at algebraic t != 0, Lindemann-Weierstrass; for gelu we take erfc at
 * nonzero dyadic points to be irrational, a classical conjecture), so
 * lo < f(x) < hi strictly and f(x) truncates like the bounds.  MPFR's exponent
 * range is widened to its limits for the call, and a value below
 * 2^-2^40 is reported as "nonzero, below every format" ([nl-tiny]). */
#include "nlfn.h"

#include <limits.h>
#include <mpfr.h>

#define P NR_NL_MPFR_BITS
#define HUGE_EXP (1 << 30) /* exponents beyond every format (nr_nl_exact_huge) */

typedef unsigned __int128 u128;

static void exact_to_mpfr(const nr_exact *x, mpfr_t m)
{
    mpfr_set_uj(m, (uintmax_t)(uint64_t)(x->sig >> 64), MPFR_RNDN);
    mpfr_mul_2ui(m, m, 64, MPFR_RNDN);
    mpfr_t lo;
    mpfr_init2(lo, 64);
    mpfr_set_uj(lo, (uintmax_t)(uint64_t)x->sig, MPFR_RNDN);
    mpfr_add(m, m, lo, MPFR_RNDN); /* exact: m has 192 bits */
    mpfr_clear(lo);
    mpfr_mul_2si(m, m, x->exp, MPFR_RNDN);
    if (x->sign)
        mpfr_neg(m, m, MPFR_RNDN);
}

/* A finite nonzero P-bit MPFR number (already truncated) + sticky. */
static void mpfr_to_exact(mpfr_t t, int sticky, nr_exact *o)
{
    mpz_t z;
    mpz_init(z);
    mpfr_exp_t e = mpfr_get_z_2exp(z, t);
    int sign = mpz_sgn(z) < 0;
    mpz_abs(z, z);
    u128 sig = 0;
    size_t nl = mpz_size(z);
    for (size_t i = nl; i-- > 0;)
        sig = (sig << 64) | (uint64_t)mpz_getlimbn(z, i); /* P <= 128 bits */
    mpz_clear(z);
    nr_nl_exact_special(o, NR_CLS_FINITE, sign);
    if (e > HUGE_EXP) {
        nr_nl_exact_huge(o, sign);
        return;
    }
    if (e < -HUGE_EXP) {
        nr_nl_exact_tiny(o, sign);
        return;
    }
    o->sig = sig;
    o->exp = (int32_t)e;
    o->sticky = sticky;
}

typedef int (*mpfr_fn1)(mpfr_ptr, mpfr_srcptr, mpfr_rnd_t);

/* MPFR's own correctly rounded function: truncate (RNDZ) to P bits; the
 * ternary value says whether anything was cut off. */
static int direct(const nr_nl *f, mpfr_t x, nr_exact *o)
{
    mpfr_t y;
    mpfr_init2(y, P);
    mpfr_clear_flags();
    int t = 0;
    switch (f->fn) {
    case NR_NL_EXP: t = mpfr_exp(y, x, MPFR_RNDZ); break;
    case NR_NL_LOG: t = mpfr_log(y, x, MPFR_RNDZ); break;
    case NR_NL_ERF: t = mpfr_erf(y, x, MPFR_RNDZ); break;
    case NR_NL_TANH: t = mpfr_tanh(y, x, MPFR_RNDZ); break;
    case NR_NL_SQRT: t = mpfr_sqrt(y, x, MPFR_RNDZ); break;
    case NR_NL_RSQRT:
        if (mpfr_zero_p(x)) { /* IEEE 754 rSqrt(+-0) = +-inf; MPFR gives +inf */
            nr_nl_exact_special(o, NR_CLS_INF, mpfr_signbit(x) != 0);
            mpfr_clear(y);
            return 0;
        }
        t = mpfr_rec_sqrt(y, x, MPFR_RNDZ);
        break;
    case NR_NL_RECIP: t = mpfr_ui_div(y, 1, x, MPFR_RNDZ); break;
    case NR_NL_POW: {
        mpfr_t p;
        mpfr_init2(p, 64);
        mpfr_set_d(p, f->p, MPFR_RNDN);
        t = mpfr_pow(y, x, p, MPFR_RNDZ);
        mpfr_clear(p);
        break;
    }
    default: break;
    }
    int sign = mpfr_signbit(y) != 0;
    if (mpfr_nan_p(y))
        nr_nl_exact_special(o, NR_CLS_NAN, 0);
    else if (mpfr_overflow_p())
        nr_nl_exact_huge(o, sign); /* RNDZ gave the largest MPFR number */
    else if (mpfr_underflow_p())
        nr_nl_exact_tiny(o, sign);
    else if (mpfr_inf_p(y))
        nr_nl_exact_special(o, NR_CLS_INF, sign); /* an exact infinity (log 0, 1/0, ...) */
    else if (mpfr_zero_p(y))
        nr_nl_exact_special(o, NR_CLS_ZERO, sign);
    else
        mpfr_to_exact(y, t != 0, o);
    mpfr_clear(y);
    return 0;
}

/* ---------------------------------------------------------------- composed */

typedef struct {
    mpfr_t lo, hi; /* 0 <= lo <= |f(x)| <= hi */
    mpfr_t a, b, c;
} ival;

/* sigmoid(t) bounds for t in [tl, th]: increasing in t. */
static void sigmoid_bounds(ival *v, mpfr_t tl, mpfr_t th, mpfr_t lo, mpfr_t hi)
{
    mpfr_neg(v->a, tl, MPFR_RNDN); /* exact */
    mpfr_exp(v->a, v->a, MPFR_RNDU);
    mpfr_add_ui(v->a, v->a, 1, MPFR_RNDU);
    mpfr_ui_div(lo, 1, v->a, MPFR_RNDD);
    mpfr_neg(v->a, th, MPFR_RNDN);
    mpfr_exp(v->a, v->a, MPFR_RNDD);
    mpfr_add_ui(v->a, v->a, 1, MPFR_RNDD);
    mpfr_ui_div(hi, 1, v->a, MPFR_RNDU);
}

/* Bounds on |f(x)| for x finite and nonzero at the working precision. */
static void composed_bounds(nr_nlfn fn, mpfr_t x, ival *v)
{
    mpfr_prec_t w = mpfr_get_prec(v->lo);
    int neg = mpfr_sgn(x) < 0;
    mpfr_t ax, tl, th;
    mpfr_inits2(w, ax, tl, th, (mpfr_ptr)0);
    mpfr_abs(ax, x, MPFR_RNDN); /* exact: x has 192 bits, w > 192 */
    switch (fn) {
    case NR_NL_SIGMOID:
    case NR_NL_SILU:
        mpfr_set(tl, x, MPFR_RNDD);
        mpfr_set(th, x, MPFR_RNDU);
        sigmoid_bounds(v, tl, th, v->lo, v->hi);
        break;
    case NR_NL_GELU_TANH: {
        /* x * sigmoid(t), t = sqrt(8/pi) (x + 0.044715 x^3); |t| bounds from
         * |x|(1 + a x^2) sqrt(8/pi), then t = sign(x) |t|. */
        mpfr_t k;
        mpfr_init2(k, w);
        mpfr_rnd_t dn = MPFR_RNDD, up = MPFR_RNDU;
        for (int side = 0; side < 2; side++) {
            mpfr_rnd_t r = side ? up : dn, rr = side ? dn : up;
            mpfr_set_str(v->b, "0.044715", 10, r);
            mpfr_sqr(v->a, ax, r);
            mpfr_mul(v->a, v->a, v->b, r);
            mpfr_add_ui(v->a, v->a, 1, r);
            mpfr_mul(v->a, v->a, ax, r);
            mpfr_const_pi(k, rr);
            mpfr_ui_div(k, 8, k, r);
            mpfr_sqrt(k, k, r);
            mpfr_mul(side ? th : tl, v->a, k, r); /* |t| lower / upper */
        }
        mpfr_clear(k);
        if (neg) { /* t = -|t|: [-hi, -lo] */
            mpfr_neg(v->a, th, MPFR_RNDN);
            mpfr_neg(th, tl, MPFR_RNDN);
            mpfr_set(tl, v->a, MPFR_RNDN);
        }
        sigmoid_bounds(v, tl, th, v->lo, v->hi);
        break;
    }
    case NR_NL_GELU: {
        /* x * Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2, erfc decreasing. */
        mpfr_t s;
        mpfr_init2(s, w);
        mpfr_neg(v->c, x, MPFR_RNDN); /* -x */
        /* z lower bound: -x / sqrt2 rounded down */
        mpfr_sqrt_ui(s, 2, neg ? MPFR_RNDU : MPFR_RNDD);
        mpfr_div(tl, v->c, s, MPFR_RNDD);
        mpfr_sqrt_ui(s, 2, neg ? MPFR_RNDD : MPFR_RNDU);
        mpfr_div(th, v->c, s, MPFR_RNDU);
        mpfr_erfc(v->lo, th, MPFR_RNDD);
        mpfr_erfc(v->hi, tl, MPFR_RNDU);
        mpfr_div_2ui(v->lo, v->lo, 1, MPFR_RNDD);
        mpfr_div_2ui(v->hi, v->hi, 1, MPFR_RNDU);
        mpfr_clear(s);
        break;
    }
    default: break;
    }
    if (fn != NR_NL_SIGMOID) { /* times |x| */
        mpfr_mul(v->lo, v->lo, ax, MPFR_RNDD);
        mpfr_mul(v->hi, v->hi, ax, MPFR_RNDU);
    }
    mpfr_clears(ax, tl, th, (mpfr_ptr)0);
}

static int composed(const nr_nl *f, mpfr_t x, nr_exact *o, nr_err *err)
{
    int neg = mpfr_signbit(x) != 0;
    int sign = f->fn == NR_NL_SIGMOID ? 0 : neg;
    if (mpfr_nan_p(x)) {
        nr_nl_exact_special(o, NR_CLS_NAN, 0);
        return 0;
    }
    if (mpfr_inf_p(x)) { /* [nl-sigmoid] [nl-silu] [nl-gelu] */
        if (f->fn == NR_NL_SIGMOID) {
            if (neg)
                nr_nl_exact_special(o, NR_CLS_ZERO, 0);
            else
                nr_exact_from_double(1.0, o);
        } else {
            nr_nl_exact_special(o, neg ? NR_CLS_ZERO : NR_CLS_INF, neg);
        }
        return 0;
    }
    if (mpfr_zero_p(x)) {
        if (f->fn == NR_NL_SIGMOID)
            nr_exact_from_double(0.5, o);
        else
            nr_nl_exact_special(o, NR_CLS_ZERO, neg);
        return 0;
    }
    if (f->fn == NR_NL_GELU && mpfr_cmp_si(x, -40) < 0) {
        /* |x Phi(x)| < phi(x) = e^(-x^2/2)/sqrt(2 pi) < 2^-1154 (Mills'
         * ratio): below every format, and MPFR's erfc is slow out there */
        nr_nl_exact_tiny(o, 1);
        return 0;
    }
    for (mpfr_prec_t w = 2 * P + 64; w <= 1 << 16; w *= 2) {
        ival v;
        mpfr_inits2(w, v.lo, v.hi, v.a, v.b, v.c, (mpfr_ptr)0);
        composed_bounds(f->fn, x, &v);
        int done = 0;
        if (mpfr_zero_p(v.hi) || mpfr_get_exp(v.hi) < -((mpfr_exp_t)1 << 40)) {
            nr_nl_exact_tiny(o, sign); /* the value is nonzero: below every format */
            done = 1;
        } else if (!mpfr_zero_p(v.lo)) {
            mpfr_t tl, th;
            mpfr_inits2(P, tl, th, (mpfr_ptr)0);
            /* lo < |f(x)| < hi strictly ([nl-oracle]: f(x) is not a dyadic
             * number), so |f(x)| truncates like some number in [lo,
             * nextbelow(hi)], w > P */
            mpfr_set(tl, v.lo, MPFR_RNDZ);
            mpfr_nextbelow(v.hi);
            mpfr_set(th, v.hi, MPFR_RNDZ);
            if (mpfr_equal_p(tl, th)) {
                if (sign)
                    mpfr_neg(tl, tl, MPFR_RNDN);
                mpfr_to_exact(tl, 1, o);
                done = 1;
            }
            mpfr_clears(tl, th, (mpfr_ptr)0);
        }
        mpfr_clears(v.lo, v.hi, v.a, v.b, v.c, (mpfr_ptr)0);
        if (done)
            return 0;
    }
    return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, nr_nl_name(f->fn),
                      "Ziv's loop did not settle at 65536 bits");
}

int nr_nl_exact_mpfr(const nr_nl *f, const nr_exact *x, nr_exact *out, nr_err *err)
{
    int rc = nr_nl_check(f, err);
    if (rc)
        return rc;
    if (x->cls == NR_CLS_FINITE && x->sticky)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, nr_nl_name(f->fn),
                          "input carries sticky (not a format value)");
    mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_set_emax(mpfr_get_emax_max());
    mpfr_t m;
    mpfr_init2(m, 192);
    switch (x->cls) {
    case NR_CLS_NAN: mpfr_set_nan(m); break;
    case NR_CLS_INF: mpfr_set_inf(m, x->sign ? -1 : 1); break;
    case NR_CLS_ZERO: mpfr_set_zero(m, x->sign ? -1 : 1); break;
    case NR_CLS_FINITE: exact_to_mpfr(x, m); break;
    }
    switch (f->fn) {
    case NR_NL_SIGMOID: case NR_NL_SILU: case NR_NL_GELU: case NR_NL_GELU_TANH:
        rc = composed(f, m, out, err);
        break;
    default:
        rc = direct(f, m, out);
        break;
    }
    mpfr_clear(m);
    mpfr_set_emin(emin);
    mpfr_set_emax(emax);
    return rc;
}

uint64_t nr_nl_mpfr(const nr_nl *f, const nr_format *in, uint64_t x, const nr_format *out,
                    nr_rounding mode, uint32_t sr_bits, unsigned *flags)
{
    nr_exact xe, ye;
    nr_codec_decode_exact(in, x, &xe);
    nr_err e = {0};
    unsigned dummy = 0, *fl = flags ? flags : &dummy;
    if (nr_nl_exact_mpfr(f, &xe, &ye, &e) < 0) {
        *fl |= NR_FLAG_INVALID;
        return out->has_nan ? out->nan_bits : 0;
    }
    return nr_nl_round(xe.cls == NR_CLS_NAN, &ye, out, mode, sr_bits, fl);
}
