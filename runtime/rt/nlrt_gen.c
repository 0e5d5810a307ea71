/* nlrt_gen.c -- what generated code of the sequence ops (gen/lower/
 * emit_seq.c) calls for the two roundings it does not emit inline: a
 * nonlinear function correctly rounded into the nonlinear format ([op-nl],
 * numrep's own implementation [nl-impl], never libm) and the exact quotient
 * of two values rounded once (softmax's division, [op-softmax]).  Values
 * in and out are the doubles they exactly are; the format is a constant
 * copy of its nr_format in the generated module.
 *
 * exp and gelu first try a screen (as the emulator's [op-fast] (c), but
 * with the approximations below instead of a libm): when the whole interval
 * y (1 +- m) around an approximation y of relative error below m/4 rounds
 * to one finite nonzero value without overflow, that value is the correct
 * rounding of f(x) (rounding is monotone); else, and for every other
 * function, the full evaluation with its rounding test ([nl-impl]).
 * tests/check_gen_seq.c compares both paths on random inputs. */
#include "nlrt.h"

#include <string.h>

/* e^x for |x| <= 700 using + - * / only.  x = k ln2 + r with k the nearest
 * integer of x/ln2 and r = (x - k*LN2_HI) - k*LN2_LO: LN2_HI has 32
 * significant bits, so k*LN2_HI is exact for |k| < 2^21 and the subtraction
 * exact (Sterbenz); |r| <= 0.35 with an absolute error below 2^-80.  e^r
 * by its Taylor polynomial of degree 14 (truncation below 0.35^15/15! <
 * 2^-64 relative) in Horner form: 15 steps, each a relative error of at
 * most 2^-53 on a sum of positive-dominated terms, below 2^-48 in all;
 * times 2^k exactly (a normal result).  So the relative error is below
 * 2^-46, far inside the 2^-36 the screen allows. */
static double exp_approx(double x)
{
    const double inv_ln2 = 1.44269504088896338700e+00;
    const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
    double t = x * inv_ln2;
    long k = (long)(t < 0 ? t - 0.5 : t + 0.5);
    double r = (x - (double)k * LN2_HI) - (double)k * LN2_LO;
    double p = 1.0 / 87178291200.0; /* 1/14! */
    static const double inv_fact[14] = {
        1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040,
        1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600,
        1.0 / 6227020800.0};
    for (int i = 13; i >= 0; i--)
        p = p * r + inv_fact[i];
    uint64_t b = (uint64_t)(k + 1023) << 52; /* 2^k, |k| <= 1011 */
    double s;
    memcpy(&s, &b, sizeof s);
    return p * s;
}

/* gelu(x) = x Phi(x) for 0 < |x| <= 4.2, with *rel a bound on its
 * relative error; 0 when the bound would exceed 2^-30 (then the full
 * path).  z = |x|/sqrt 2 (relative error <= 2^-52, which moves erf by at
 * most 2^-49 absolutely: erf' <= 1.13, z <= 3);
 * erf(z) = 2/sqrt(pi) e^-z^2 sum_n t_n, t_0 = z, t_n = t_(n-1) 2z^2/(2n+1):
 * positive terms each within 4n roundings of their value, summed until a
 * term falls below 2^-60 of the sum (n <= 90: at most 2^-44 relative),
 * e^-z^2 by exp_approx of the rounded z^2 (2^-46, and 9 * 2^-53 from z^2),
 * so |erf error| <= 2^-43.  Phi = (1 +- erf(z))/2: relative error at most
 * 2^-43 / (1 +- erf(z)) plus 2^-52 for the halving and the product by x.
 * The screen takes 4 times that. */
static int gelu_approx(double x, double *y, double *rel)
{
    const double inv_sqrt2 = 0.70710678118654752440, two_sqrtpi = 1.12837916709551257390;
    double ax = x < 0 ? -x : x;
    if (!(ax > 0 && ax <= 4.2))
        return 0;
    double z = ax * inv_sqrt2, z2 = z * z, t = z, sum = z;
    for (int n = 1; n < 90 && t > sum * 0x1p-60; n++) {
        t = t * (2 * z2) / (2 * n + 1);
        sum += t;
    }
    double erf = two_sqrtpi * exp_approx(-z2) * sum;
    double phi2 = x < 0 ? 1 - erf : 1 + erf; /* 2 Phi(x) */
    if (!(phi2 > 0x1p-12))
        return 0;
    *rel = 4 * (0x1p-43 / phi2 + 0x1p-52);
    *y = x * phi2 * 0.5;
    return 1;
}

/* The screen: 1 with *res when y (1 +- m) rounds to one value. */
static int is_f32(const nr_format *f)
{
    return f->kind == NR_FLOAT && f->exp_bits == 8 && f->man_bits == 23 && f->bias == 127 &&
           f->subnormals && f->specials == NR_SPECIALS_IEEE;
}

/* round_out(v) for finite v; fp32 in rne is the host's conversion. */
static double round_to(double v, const nr_format *out, nr_rounding mode, unsigned *fl)
{
    if (mode == NR_RND_RNE && is_f32(out))
        return (float)v;
    return nr_round(out, mode, v, 0, fl);
}

static int screen(double y, double m, const nr_format *out, nr_rounding mode, double *res)
{
    if (mode == NR_RND_RNE && is_f32(out)) { /* no flags to look at: finite, nonzero */
        float a = (float)(y * (1 - m)), b = (float)(y * (1 + m));
        if (a != b || a == 0 || a - a != 0)
            return 0;
        *res = a;
        return 1;
    }
    unsigned f1 = 0, f2 = 0;
    double a = nr_round(out, mode, y * (1 - m), 0, &f1);
    double b = nr_round(out, mode, y * (1 + m), 0, &f2);
    const unsigned bad = NR_FLAG_OVERFLOW | NR_FLAG_SATURATED | NR_FLAG_FLUSHED |
                         NR_FLAG_INVALID | NR_FLAG_WRAPPED;
    if (a != b || ((f1 | f2) & bad) || a == 0 || a - a != 0)
        return 0;
    *res = a;
    return 1;
}

double nr_nlrt_gen(int fn, double x, const nr_format *out, int mode, uint32_t sr_bits)
{
    const nr_nl f = {(nr_nlfn)fn, 0};
    double r, y, m;
    if (mode != NR_RND_SR && out->kind == NR_FLOAT && out->prec <= 30) {
        if (fn == NR_NL_EXP && x >= -700 && x <= 700 &&
            screen(exp_approx(x), 0x1p-36, out, (nr_rounding)mode, &r))
            return r;
        if (fn == NR_NL_GELU && gelu_approx(x, &y, &m) && screen(y, m, out, (nr_rounding)mode, &r))
            return r;
    }
    nr_exact ex;
    unsigned fl = 0;
    nr_nlrt_exact(&f, x, out, (nr_rounding)mode, &ex);
    return nr_decode(out, nr_nl_round(x != x, &ex, out, (nr_rounding)mode, sr_bits, &fl));
}

/* Dekker's exact product: hi + lo = a * b (no fma: Veltkamp splitting),
 * valid when no step overflows or underflows (the caller bounds a, b). */
static void two_prod(double a, double b, double *hi, double *lo)
{
    const double sp = 134217729.0; /* 2^27 + 1 */
    double ca = sp * a, cb = sp * b;
    double ah = ca - (ca - a), al = a - ah, bh = cb - (cb - b), bl = b - bh;
    *hi = a * b;
    *lo = ((ah * bh - *hi) + ah * bl + al * bh) + al * bl;
}

static int in_range(double v)
{
    double av = v < 0 ? -v : v;
    return av >= 0x1p-900 && av <= 0x1p900;
}

/* The fast quotient: q = fl(a / b) and its remainder a - q*b, exact by
 * Dekker (the remainder of a correctly rounded quotient is a double);
 * when it is zero q is the exact quotient; else the exact quotient lies
 * strictly between q and its neighbour toward it, and when both round
 * alike (a format of <= 52 significand bits has every rounding boundary
 * a double) that is its rounding (the emulator's near_round, emu_seq.c). */
static int div_fast(double a, double b, const nr_format *out, nr_rounding mode, double *res)
{
    /* a wrapping fixed format keeps the low bits of quotients far beyond
     * its range, which a double does not hold: the exact path */
    if (mode == NR_RND_SR || out->prec > 52 || !in_range(a) || !in_range(b) ||
        (out->kind == NR_FIXED && !out->saturate))
        return 0;
    double q = a / b, hi, lo;
    if (!in_range(q))
        return 0;
    two_prod(q, b, &hi, &lo);
    double rem = (a - hi) - lo;
    unsigned f1 = 0, f2 = 0;
    double r1 = round_to(q, out, mode, &f1);
    if (rem != 0) {
        uint64_t bits;
        memcpy(&bits, &q, sizeof bits);
        int up = (rem > 0) == (b > 0); /* the exact quotient is above q */
        bits = up == (q > 0) ? bits + 1 : bits - 1; /* away from or toward zero */
        double q2;
        memcpy(&q2, &bits, sizeof q2);
        if (round_to(q2, out, mode, &f2) != r1 || f1 != f2)
            return 0;
    }
    *res = r1;
    return 1;
}

/* The exact a / b of finite nonzero doubles, as arith.c's nr_exact_div
 * gives it (which generated code cannot link on 32-bit targets): the top
 * 128 bits of the quotient, the rest as sticky.  The significands are
 * aligned to bit 63 (A / B in [1/2, 2)), and 3 quotient limbs come from
 * 128/64 divisions (each dividend below the divisor). */
static void exact_quotient(double a, double b, nr_exact *q)
{
    nr_exact ea, eb;
    nr_exact_from_double(a, &ea);
    nr_exact_from_double(b, &eb);
    uint64_t A = nr_u128_lo(ea.sig), B = nr_u128_lo(eb.sig), r;
    int za = __builtin_clzll(A), zb = __builtin_clzll(B);
    A <<= za;
    B <<= zb;
    uint64_t q2 = nr_u128_div64(0, A, B, &r); /* 0 or 1 */
    uint64_t q1 = nr_u128_div64(r, 0, B, &r);
    uint64_t q0 = nr_u128_div64(r, 0, B, &r);
    int64_t e = (int64_t)ea.exp - za - ((int64_t)eb.exp - zb) - 128;
    q->cls = NR_CLS_FINITE;
    q->sign = ea.sign ^ eb.sign;
    q->sticky = r != 0;
    if (q2) { /* 129 bits: drop the last into sticky */
        q->sticky |= (int)(q0 & 1);
        q->sig = nr_u128_make(1ull << 63 | q1 >> 1, q1 << 63 | q0 >> 1);
        e += 1;
    } else {
        q->sig = nr_u128_make(q1, q0);
    }
    q->exp = (int32_t)e;
}

double nr_nlrt_gen_div(double a, double b, const nr_format *out, int mode, uint32_t sr_bits)
{
    double r;
    if (div_fast(a, b, out, (nr_rounding)mode, &r))
        return r;
    nr_exact ea, eb, q;
    unsigned fl = 0;
    if (a - a == 0 && b - b == 0 && a != 0 && b != 0) { /* finite, nonzero */
        exact_quotient(a, b, &q);
    } else { /* the special cases: arith.c's rules (0/0, x/0, inf/inf, x/inf) */
        nr_exact_from_double(a, &ea);
        nr_exact_from_double(b, &eb);
        int sign = ea.sign ^ eb.sign;
        if (a != a || b != b || (a - a != 0 && b - b != 0) || (a == 0 && b == 0))
            q = (nr_exact){.cls = NR_CLS_NAN};
        else if (a - a != 0 || b == 0)
            q = (nr_exact){.cls = NR_CLS_INF, .sign = sign};
        else
            q = (nr_exact){.cls = NR_CLS_ZERO, .sign = sign};
    }
    return nr_decode(out, nr_round_exact(out, (nr_rounding)mode, &q, sr_bits, &fl));
}
