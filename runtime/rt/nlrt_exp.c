/* nlrt_exp.c -- enclosures of exp, log, tanh, sigmoid, silu and gelu_tanh
 * in double-double ([nl-impl]); each kernel's error bound is argued in its
 * comment with the per-operation bounds of nlrt_dd.h (u = 2^-53, dd ops
 * < 2^-102), and tests/check_nlfn.c checks the bounds against MPFR.
 *
 * Near a point where the function is close to a dyadic expression (1 + x
 * for exp, a - a^3/3 for tanh, 1/2 + x/4 for sigmoid, x/2 + x^2/4 for silu,
 * x/2 for gelu_tanh) the enclosure keeps that expression as exact terms and
 * bounds only the small rest, so the rounding test can still decide.  Far
 * tails (a result beyond every format, or within 2^-860 of 1 or x) are
 * stated as one-sided enclosures or exact "tiny"/"huge" values. */
#include "nlrt_internal.h"

dd nl_ldexp_dd(dd a, int k)
{
    while (k > 1000) {
        a = (dd){a.h * 0x1p1000, a.l * 0x1p1000};
        k -= 1000;
    }
    while (k < -1000) {
        a = (dd){a.h * 0x1p-1000, a.l * 0x1p-1000};
        k += 1000;
    }
    double s = nl_pow2(k);
    return (dd){a.h * s, a.l * s};
}

void nlv_negate(nl_val *v)
{
    for (int i = 0; i < v->n; i++)
        v->t[i] = -v->t[i];
    double t = v->elo;
    v->elo = v->ehi;
    v->ehi = t;
}

/* e^r - 1 for |r| <= 0.36 by its Taylor series.  Term n carries a relative
 * error <= n 2^-101 (one dd_mul, one dd_div each); with |r| <= 0.36 the
 * weighted sum is <= |r| e^|r| 2^-101 <= 1.8 |e^r - 1| 2^-101; at most 30
 * dd_add, each < 2^-102 of a partial sum <= 1.25 |e^r - 1|: 2^-96.7; the
 * tail after stopping < 2^-111.  Total < 2^-96.  r's own error dr adds
 * e^r dr. */
static dd expm1_taylor(dd r)
{
    dd t = r, s = r;
    for (int n = 2; n <= 40; n++) {
        t = dd_div_d(dd_mul(t, r), n);
        s = dd_add(s, t);
        if (nl_fabs(t.h) < 0x1p-112 * nl_fabs(s.h))
            break;
    }
    return s;
}

/* x = k ln2 + r, |r| <= 0.35: r = x - k (L0 + L1 + L2) with k L0, k L1
 * exact two_prods, x.h - (k L0).h exact (Sterbenz, or k = 0): three dd_add
 * of magnitude ~|r|: error <= 2^-100 |r| + |k| 2^-160 (ln2's tail).
 * m = 1 + expm1(r): relative error <= 2^-96 * 0.6 + 2^-100 * 0.36 +
 * 2^-150 + 2^-102 < NL_REL_EXP. */
dd nl_exp_dd(dd x, int *k)
{
    double y = x.h * NL_INV_LN2;
    int kk = (int)(y + (y >= 0 ? 0.5 : -0.5));
    dd r;
    if (kk == 0) {
        r = x;
    } else {
        dd p0 = two_prod((double)kk, NL_LN2_0);
        r = two_sum(x.h, -p0.h);
        r = dd_add(r, two_sum(x.l, -p0.l));
        r = dd_sub(r, two_prod((double)kk, NL_LN2_1));
        r = dd_sub(r, dd_d((double)kk * NL_LN2_2));
    }
    *k = kk;
    return dd_add(dd_d(1.0), expm1_taylor(r));
}

int nl_exp(double x, nl_val *v, nr_exact *ex)
{
    double a = nl_fabs(x);
    if (x > 710) { /* > 2^1024: beyond every format */
        nr_nl_exact_huge(ex, 0);
        return 1;
    }
    if (x < -780) { /* < 2^-1125: below every format */
        nr_nl_exact_tiny(ex, 0);
        return 1;
    }
    if (a < 0x1p-60) { /* 1 + x < e^x < 1 + x + x^2 */
        nlv_set(v, 0, 0, a * 0x1p-59 + 0x1p-1074);
        nlv_add(v, 1.0);
        nlv_add(v, x);
        return 0;
    }
    if (a < 0x1p-20) { /* 1 + x + (x^2/2 + x^3/6 + ...), the rest as expm1 */
        dd t = two_prod(x, x);
        t = (dd){t.h * 0.5, t.l * 0.5};
        dd s = t;
        for (int n = 3; n <= 12; n++) {
            t = dd_div_d(dd_mul_d(t, x), n);
            s = dd_add(s, t);
        }
        double e = nl_fabs(s.h) * 0x1p-96; /* 10 terms, each < 2^-100; tail < x^13 */
        nlv_set(v, 0, e, e);
        nlv_add(v, 1.0);
        nlv_add(v, x);
        nlv_add_dd(v, s);
        return 0;
    }
    int k;
    dd m = nl_exp_dd(dd_d(x), &k);
    double e = nl_fabs(m.h) * 0x1p-94;
    nlv_set(v, k, e, e);
    nlv_add_dd(v, m);
    return 0;
}

/* log x = E ln2 + 2 atanh(s), s = (f - 1)/(f + 1), f in [sqrt(1/2), sqrt 2)
 * (|s| <= 0.1716).  s: one dd_div (2^-102, amplified by <= 1.03 through
 * atanh); series of positive-ratio terms t_j = s^(2j+1)/(2j+1): term j has
 * <= 3j ops, relative error <= 3j 2^-102, j <= 22: 2^-96; 22 dd_add:
 * 2^-97.5; total for 2 atanh(s) < 2^-95.3.  E ln2: < 2^-101.  The sum
 * E ln2 + log f is >= |E ln2| / 2 when E != 0: relative < 2^-94.9. */
int nl_log(double x, nl_val *v, nr_exact *ex)
{
    (void)ex;
    int E = 0;
    if (x < 0x1p-1000) { /* subnormal or tiny: scale into the normal range */
        x *= 0x1p200;
        E = -200;
    }
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    E += (int)((b >> 52) & 0x7ff) - 1023;
    b = (b & ((1ull << 52) - 1)) | (1023ull << 52);
    double f;
    memcpy(&f, &b, sizeof f);
    if (f > 0x1.6a09e667f3bcdp+0) {
        f *= 0.5;
        E++;
    }
    dd s = dd_div(dd_d(f - 1.0), two_sum(f, 1.0));
    dd s2 = dd_mul(s, s), t = s, sum = s;
    for (int j = 1; j <= 40; j++) {
        t = dd_mul(t, s2);
        dd term = dd_div_d(t, 2 * j + 1);
        sum = dd_add(sum, term);
        if (nl_fabs(term.h) < 0x1p-112 * nl_fabs(sum.h))
            break;
    }
    dd lg = {2 * sum.h, 2 * sum.l};
    if (E != 0) {
        dd el = two_prod((double)E, NL_LN2_0);
        el = dd_add(el, two_prod((double)E, NL_LN2_1));
        el = dd_add(el, dd_d((double)E * NL_LN2_2));
        lg = dd_add(el, lg);
    }
    double e = nl_fabs(lg.h) * 0x1p-94;
    nlv_set(v, 0, e, e);
    nlv_add_dd(v, lg);
    return 0;
}

/* tanh(a), a > 0. */
static int tanh_pos(double a, nl_val *v)
{
    if (a < 0x1p-50) { /* a - a^3/3 < tanh a < a; scaled by 2^200 */
        nlv_set(v, -200, a * 0x1p100, 0);
        nlv_add(v, a * 0x1p200);
        return 0;
    }
    if (a < 0x1p-20) {
        /* a + a^3 (-1/3 + a^2 (2/15 + a^2 (-17/315 + a^2 62/2835))),
         * the rest < a^11 <= a 2^-200; the dd polynomial < 2^-98 */
        dd a2 = two_prod(a, a);
        dd p = dd_add(dd_ratio(-17, 315), dd_mul(a2, dd_ratio(62, 2835)));
        p = dd_add(dd_ratio(2, 15), dd_mul(a2, p));
        p = dd_add(dd_ratio(-1, 3), dd_mul(a2, p));
        dd dev = dd_mul(dd_mul_d(a2, a), p);
        double e = nl_fabs(dev.h) * 0x1p-98 + a * 0x1p-200;
        nlv_set(v, 0, e, e);
        nlv_add(v, a);
        nlv_add_dd(v, dev);
        return 0;
    }
    if (a <= 0.18) { /* em / (em + 2), em = e^(2a) - 1: < 2^-96 + 2 2^-102 */
        dd em = expm1_taylor(dd_d(2 * a));
        dd q = dd_div(em, dd_add(em, dd_d(2.0)));
        double e = nl_fabs(q.h) * 0x1p-94;
        nlv_set(v, 0, e, e);
        nlv_add_dd(v, q);
        return 0;
    }
    if (a > 330) { /* 1 - tanh a = 2/(e^2a + 1) < 2^-950 (and e^2a < 2^953
                    * keeps two_prod's split from overflowing below) */
        nlv_set(v, 0, 0x1p-940, 0);
        nlv_add(v, 1.0);
        return 0;
    }
    /* 1 - d, d = 2 / (e^2a + 1): e^2a to NL_REL_EXP, +1 and / add 2^-101 */
    int k;
    dd m = nl_exp_dd(dd_d(2 * a), &k);
    dd d = dd_div(dd_d(2.0), dd_add(nl_ldexp_dd(m, k), dd_d(1.0)));
    double e = nl_fabs(d.h) * 0x1p-94;
    nlv_set(v, 0, e, e);
    nlv_add(v, 1.0);
    nlv_add(v, -d.h);
    nlv_add(v, -d.l);
    return 0;
}

int nl_tanh(double x, nl_val *v, nr_exact *ex)
{
    (void)ex;
    tanh_pos(nl_fabs(x), v);
    if (x < 0)
        nlv_negate(v);
    return 0;
}

/* sigmoid(-a) = E / (1 + E), E = e^-a.  a's relative error da (< 2^-100)
 * changes E by a da relatively.  E < 2^-110: E/(1+E) = E (1 - E + ..),
 * relative 2^-109; else +1 and / add 2 2^-102. */
dd nl_sigmoid_neg(dd a, int *k, double *rel)
{
    dd m = nl_exp_dd(dd_neg(a), k);
    *rel = 0x1p-93 + nl_fabs(a.h) * 0x1p-99;
    if (*k < -110)
        return m;
    dd E = nl_ldexp_dd(m, *k);
    *k = 0;
    return dd_div(E, dd_add(dd_d(1.0), E));
}

void nl_just_below(double c, nl_val *v)
{
    nlv_set(v, 0, c * 0x1p-860, 0);
    nlv_add(v, c);
}

/* The enclosure c (1 - D) = c - c D for c > 0 exact and D = sigmoid(-a)
 * (a > 0; a.h <= 600: D >= 2^-866, normal with its low part), or for
 * a > 600 (D < 2^-865) just below c. */
static void one_minus_sigmoid(double c, dd a, nl_val *v)
{
    if (a.h > 600) {
        nl_just_below(c, v);
        return;
    }
    int k;
    double rel;
    dd D = nl_sigmoid_neg(a, &k, &rel);
    dd cD = dd_mul_d(nl_ldexp_dd(D, k), c);
    double e = nl_fabs(cD.h) * (rel + 0x1p-100);
    nlv_set(v, 0, e, e);
    nlv_add(v, c);
    nlv_add(v, -cD.h);
    nlv_add(v, -cD.l);
}

int nl_sigmoid(double x, nl_val *v, nr_exact *ex)
{
    double a = nl_fabs(x);
    if (a < 0x1p-60) { /* 1/2 + x/4 - x^3/48 ..: the rest opposes x, < |x| 2^-120 */
        nlv_set(v, -200, x > 0 ? a * 0x1p98 : 0, x > 0 ? 0 : a * 0x1p98);
        nlv_add(v, 0x1p199);
        nlv_add(v, x * 0x1p198);
        return 0;
    }
    if (a < 0x1p-20) { /* 1/2 + x/4 + x^3 (-1/48 + x^2 (1/480 - x^2 17/80640)) */
        dd x2 = two_prod(x, x);
        dd p = dd_add(dd_ratio(1, 480), dd_mul(x2, dd_ratio(-17, 80640)));
        p = dd_add(dd_ratio(-1, 48), dd_mul(x2, p));
        dd dev = dd_mul(dd_mul_d(x2, x), p);
        double e = nl_fabs(dev.h) * 0x1p-98 + a * 0x1p-160; /* rest < |x|^9 */
        nlv_set(v, 0, e, e);
        nlv_add(v, 0.5);
        nlv_add(v, x * 0.25);
        nlv_add_dd(v, dev);
        return 0;
    }
    if (x > 0) {
        one_minus_sigmoid(1.0, dd_d(x), v);
        return 0;
    }
    if (a > 780) {
        nr_nl_exact_tiny(ex, 0);
        return 1;
    }
    int k;
    double rel;
    dd s = nl_sigmoid_neg(dd_d(a), &k, &rel);
    double e = nl_fabs(s.h) * rel;
    nlv_set(v, k, e, e);
    nlv_add_dd(v, s);
    return 0;
}

int nl_silu(double x, nl_val *v, nr_exact *ex)
{
    double a = nl_fabs(x);
    if (a < 0x1p-500) { /* x/2 < .. < x/2 + x^2/2 < x/2 + 2^-1000 (scaled by 2^200) */
        nlv_set(v, -200, 0, 0x1p-800);
        nlv_add(v, x * 0x1p199);
        return 0;
    }
    if (a < 0x1p-20) { /* x/2 + x^2/4 + x^4 (-1/48 + x^2 (1/480 - x^2 17/80640)) */
        dd x2 = two_prod(x, x);
        dd p = dd_add(dd_ratio(1, 480), dd_mul(x2, dd_ratio(-17, 80640)));
        p = dd_add(dd_ratio(-1, 48), dd_mul(x2, p));
        dd dev = dd_mul(dd_mul(x2, x2), p);
        /* rest < x^10; x^2's low part may be subnormal (error < 2^-1075) */
        double e = nl_fabs(dev.h) * 0x1p-98 + x2.h * x2.h * 0x1p-119 + 0x1p-1072;
        nlv_set(v, 0, e, e);
        nlv_add(v, x * 0.5);
        nlv_add(v, x2.h * 0.25);
        nlv_add(v, x2.l * 0.25);
        nlv_add_dd(v, dev);
        return 0;
    }
    if (x > 0) {
        one_minus_sigmoid(x, dd_d(x), v);
        return 0;
    }
    if (a > 780) {
        nr_nl_exact_tiny(ex, 1);
        return 1;
    }
    int k;
    double rel;
    dd s = dd_mul_d(nl_sigmoid_neg(dd_d(a), &k, &rel), x);
    double e = nl_fabs(s.h) * (rel + 0x1p-101);
    nlv_set(v, k, e, e);
    nlv_add_dd(v, s);
    return 0;
}

/* gelu_tanh(x) = x sigmoid(t), t = sqrt(8/pi) (x + 0.044715 x^3) (x/2 (1 +
 * tanh(t/2)) without cancellation).  t in dd: 4 ops, relative < 2^-100. */
int nl_gelu_tanh(double x, nl_val *v, nr_exact *ex)
{
    double a = nl_fabs(x);
    if (a < 0x1p-500) { /* x/2 < .. < x/2 + 0.41 x^2 < x/2 + 2^-1000 (scaled by 2^200) */
        nlv_set(v, -200, 0, 0x1p-800);
        nlv_add(v, x * 0x1p199);
        return 0;
    }
    if (x < -23) { /* |t| > 900: below every format */
        nr_nl_exact_tiny(ex, 1);
        return 1;
    }
    if (x > 20) { /* t > 600: x sigmoid(-t) < x 2^-865 */
        nl_just_below(x, v);
        return 0;
    }
    dd x2 = two_prod(x, x);
    dd t = dd_mul(dd_mul_d(dd_add(dd_d(1.0), dd_mul(x2, NL_GELU_A)), x), NL_SQRT_8_OVER_PI);
    if (a < 0x1p-20) {
        /* x (sigmoid(t) - 1/2) = x t (1/4 + t^2 (-1/48 + t^2 (1/480 - t^2
         * 17/80640))), rest < |x| |t|^9 < x^2 2^-154 */
        dd t2 = dd_mul(t, t);
        dd p = dd_add(dd_ratio(1, 480), dd_mul(t2, dd_ratio(-17, 80640)));
        p = dd_add(dd_ratio(-1, 48), dd_mul(t2, p));
        p = dd_add(dd_d(0.25), dd_mul(t2, p));
        dd dev = dd_mul(dd_mul_d(t, x), p);
        double e = nl_fabs(dev.h) * 0x1p-97 + x2.h * 0x1p-150 + 0x1p-1072;
        nlv_set(v, 0, e, e);
        nlv_add(v, x * 0.5);
        nlv_add_dd(v, dev);
        return 0;
    }
    if (x > 0) {
        one_minus_sigmoid(x, t, v);
        return 0;
    }
    int k;
    double rel;
    dd s = dd_mul_d(nl_sigmoid_neg(dd_neg(t), &k, &rel), x);
    double e = nl_fabs(s.h) * (rel + 0x1p-101);
    nlv_set(v, k, e, e);
    nlv_add_dd(v, s);
    return 0;
}
