/* nlrt_erf.c -- enclosures of erf and gelu (x Phi(x), Phi(x) = erfc(-x /
 * sqrt 2) / 2) in double-double ([nl-impl]).
 *
 * erf(z) for z <= NL_ERF_CUT: erf(z) = 2/sqrt(pi) e^-z^2 sum_n 2^n
 * z^(2n+1) / (2n+1)!!, all terms positive (no cancellation).
 * erfc(z) for z > NL_ERF_CUT: the continued fraction erfc(z) = e^-z^2 /
 * sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))), whose positive
 * elements make consecutive convergents bracket the value, so the gap
 * between the last two bounds the truncation. */
#include "nlrt_internal.h"

#define NL_ERF_CUT 3.0

/* erf(z) = q * 2^k for 2^-20 <= z <= NL_ERF_CUT (dd z, relative error <
 * 2^-100).  Term n: 2 ops, relative n 2^-101, the terms peak at n ~ z^2 <=
 * 9 and the weighted error is < 2^-97; <= 80 dd_add of partial sums < S:
 * 2^-95.7; e^-z^2 NL_REL_EXP plus z^2's error 2^-100 z^2 < 2^-96.8; two
 * products 2^-101; z's error times d log erf / d log z <= 1: < 2^-100.
 * Total < NL_REL_ERF = 2^-93. */
static dd erf_series(dd z, int *k)
{
    dd z2 = dd_mul(z, z);
    dd tz = {2 * z2.h, 2 * z2.l};
    dd t = z, S = z;
    for (int n = 1; n <= 200; n++) {
        t = dd_div_d(dd_mul(t, tz), 2 * n + 1);
        S = dd_add(S, t);
        /* stop once the ratio 2z^2/(2n+3) < 1/2: the tail is < 2 t */
        if (2 * n + 3 > 4 * z2.h && t.h < 0x1p-112 * S.h)
            break;
    }
    dd m = nl_exp_dd(dd_neg(z2), k);
    return dd_mul(dd_mul(m, S), NL_TWO_OVER_SQRTPI);
}

/* erfc(z) = q * 2^k for z > NL_ERF_CUT (z.h <= 30), relative error *rel:
 * the bracket gap, plus n steps of positive recurrences (each A_n, B_n
 * relative n 3 2^-102, their ratio twice that), e^-z^2 (NL_REL_EXP +
 * z^2 2^-100), two products. */
static dd erfc_cf(dd z, int *k, double *rel)
{
    dd A2 = dd_d(1), A1 = dd_d(0), B2 = dd_d(0), B1 = dd_d(1); /* n = -1, 0 */
    dd C = dd_d(0);
    int n;
    double gap = 1;
    for (n = 1; n <= 4000; n++) {
        double an = n == 1 ? 1.0 : 0.5 * (n - 1);
        dd A = dd_add(dd_mul(z, A1), dd_mul_d(A2, an));
        dd B = dd_add(dd_mul(z, B1), dd_mul_d(B2, an));
        A2 = A1, A1 = A, B2 = B1, B1 = B;
        if (B.h > 0x1p500) { /* keep the ratios, not the sizes */
            A1 = (dd){A1.h * 0x1p-500, A1.l * 0x1p-500};
            B1 = (dd){B1.h * 0x1p-500, B1.l * 0x1p-500};
            A2 = (dd){A2.h * 0x1p-500, A2.l * 0x1p-500};
            B2 = (dd){B2.h * 0x1p-500, B2.l * 0x1p-500};
        }
        if (n % 8 == 0) { /* convergents n and n-1 bracket the value */
            C = dd_div(A1, B1);
            dd g = dd_sub(C, dd_div(A2, B2));
            gap = nl_fabs(g.h) * (1 + 0x1p-40) / C.h;
            if (gap < 0x1p-104)
                break;
        }
    }
    dd m = nl_exp_dd(dd_neg(dd_mul(z, z)), k);
    *rel = gap + n * 6 * 0x1p-102 + 0x1p-94 + z.h * z.h * 0x1p-99;
    return dd_mul(dd_mul(m, C), NL_ONE_OVER_SQRTPI);
}

int nl_erf(double x, nl_val *v, nr_exact *ex)
{
    (void)ex;
    double a = nl_fabs(x);
    if (a < 0x1p-20) {
        /* 2/sqrt(pi) a (1 - a^2/3 + a^4/10 - a^6/42 + a^8/216), rest
         * < a^10/1320 relative (<= 2^-200); a scaled by 2^200 */
        dd a2 = two_prod(a, a);
        dd p = dd_add(dd_ratio(-1, 42), dd_mul(a2, dd_ratio(1, 216)));
        p = dd_add(dd_ratio(1, 10), dd_mul(a2, p));
        p = dd_add(dd_ratio(-1, 3), dd_mul(a2, p));
        p = dd_add(dd_d(1), dd_mul(a2, p));
        dd q = dd_mul(dd_mul_d(p, a * 0x1p200), NL_TWO_OVER_SQRTPI);
        double e = nl_fabs(q.h) * 0x1p-97;
        nlv_set(v, -200, e, e);
        nlv_add_dd(v, q);
    } else if (a <= NL_ERF_CUT) {
        int k;
        dd q = erf_series(dd_d(a), &k);
        double e = nl_fabs(q.h) * NL_REL_ERF;
        nlv_set(v, k, e, e);
        nlv_add_dd(v, q);
    } else if (a > 26) { /* erfc(26) < 2^-975 */
        nlv_set(v, 0, 0x1p-970, 0);
        nlv_add(v, 1.0);
    } else { /* 1 - erfc(a), erfc(a) >= 2^-982 (normal with its low part) */
        int k;
        double rel;
        dd c = erfc_cf(dd_d(a), &k, &rel);
        c = nl_ldexp_dd(c, k);
        double e = nl_fabs(c.h) * rel;
        nlv_set(v, 0, e, e);
        nlv_add(v, 1.0);
        nlv_add(v, -c.h);
        nlv_add(v, -c.l);
    }
    if (x < 0)
        nlv_negate(v);
    return 0;
}

int nl_gelu(double x, nl_val *v, nr_exact *ex)
{
    double a = nl_fabs(x);
    if (a < 0x1p-500) { /* x/2 < .. < x/2 + 0.4 x^2 < x/2 + 2^-1000 (scaled by 2^200) */
        nlv_set(v, -200, 0, 0x1p-800);
        nlv_add(v, x * 0x1p199);
        return 0;
    }
    if (a < 0x1p-20) {
        /* x/2 + x^2/sqrt(2 pi) (1 - x^2/6 + x^4/40 - x^6/336 + x^8/3456),
         * rest < x^12 <= x^2 2^-200 */
        dd x2 = two_prod(x, x);
        dd p = dd_add(dd_ratio(-1, 336), dd_mul(x2, dd_ratio(1, 3456)));
        p = dd_add(dd_ratio(1, 40), dd_mul(x2, p));
        p = dd_add(dd_ratio(-1, 6), dd_mul(x2, p));
        p = dd_add(dd_d(1), dd_mul(x2, p));
        dd dev = dd_mul(dd_mul(p, x2), NL_ONE_OVER_SQRT2PI);
        double e = nl_fabs(dev.h) * 0x1p-97 + x2.h * 0x1p-190 + 0x1p-1072;
        nlv_set(v, 0, e, e);
        nlv_add(v, x * 0.5);
        nlv_add_dd(v, dev);
        return 0;
    }
    dd z = dd_mul_d(NL_SQRT_HALF, a); /* |x| / sqrt 2, relative 2^-101 */
    int k;
    double rel;
    if (z.h <= NL_ERF_CUT) {
        dd e = erf_series(z, &k);
        e = nl_ldexp_dd(e, k); /* k >= -13: normal */
        if (x > 0) { /* x/2 + x/2 erf(z) */
            dd w = dd_mul_d(e, 0.5 * x);
            double err = nl_fabs(w.h) * 0x1p-92;
            nlv_set(v, 0, err, err);
            nlv_add(v, 0.5 * x);
            nlv_add_dd(v, w);
            return 0;
        }
        /* x/2 (1 - erf(z)): erf's absolute error e 2^-92.9, 1 - erf and
         * the product 2^-101 of the result */
        dd c = dd_sub(dd_d(1), e);
        dd w = dd_mul_d(c, 0.5 * x);
        double err = 0.5 * a * (e.h * 0x1p-92 + nl_fabs(c.h) * 0x1p-100);
        nlv_set(v, 0, err, err);
        nlv_add_dd(v, w);
        return 0;
    }
    if (x > 0) {
        if (z.h > 26) { /* x erfc(z)/2 < x 2^-975 */
            nl_just_below(x, v);
            return 0;
        }
        dd c = erfc_cf(z, &k, &rel);
        c = nl_ldexp_dd(c, k); /* >= 2^-982 */
        dd w = dd_mul_d(c, 0.5 * x);
        double err = nl_fabs(w.h) * (rel + 0x1p-100);
        nlv_set(v, 0, err, err);
        nlv_add(v, x);
        nlv_add(v, -w.h);
        nlv_add(v, -w.l);
        return 0;
    }
    if (a > 40) { /* |x| erfc(28.2)/2 < 2^-1140 |x|, and e^-z^2 wins */
        nr_nl_exact_tiny(ex, 1);
        return 1;
    }
    dd w = dd_mul_d(erfc_cf(z, &k, &rel), 0.5 * x);
    double err = nl_fabs(w.h) * (rel + 0x1p-100);
    nlv_set(v, k, err, err);
    nlv_add_dd(v, w);
    return 0;
}
