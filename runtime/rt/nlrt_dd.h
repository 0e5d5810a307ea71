/* nlrt_dd.h -- double-double arithmetic for runtime/rt/nlrt*.c (internal).
 *
 * Only IEEE binary64 +, -, *, / in round-to-nearest (no fma, no libm; the
 * build has -ffp-contract=off), so every platform computes the same bits.
 * A dd (h, l) stands for h + l with |l| <= ulp(h)/2.  Error bounds used in
 * nlrt.c (u = 2^-53): two_sum, fast_two_sum and two_prod are exact (no
 * overflow: |operands| < 2^995); dd_add, dd_mul_d and dd_mul have relative
 * errors <= 3u^2, 2u^2 and 5u^2 (Joldes, Muller, Popescu, "Tight and
 * rigorous error bounds for basic building blocks of double-word
 * arithmetic", ACM TOMS 2017: AccurateDWPlusDW, DWTimesFP3, DWTimesDW3
 * whose fma is replaced by the exact two_prod here, which only removes an
 * error); dd_div is a three-quotient long division whose remainders are
 * formed with those, relative error < 2^-102.  nlrt.c budgets 2^-102 per
 * operation; tests/check_nlfn.c measures every function's error against
 * MPFR and checks it stays inside the stated bound. */
#ifndef NUMREP_NLRT_DD_H
#define NUMREP_NLRT_DD_H

#include <stdint.h>
#include <string.h>

typedef struct {
    double h, l;
} dd;

static inline dd two_sum(double a, double b)
{
    double s = a + b, bb = s - a;
    return (dd){s, (a - (s - bb)) + (b - bb)};
}

static inline dd fast_two_sum(double a, double b) /* |a| >= |b| or a == 0 */
{
    double s = a + b;
    return (dd){s, b - (s - a)};
}

static inline dd two_prod(double a, double b)
{
    double p = a * b;
    double ca = 134217729.0 * a, cb = 134217729.0 * b; /* Veltkamp split, 2^27 + 1 */
    double ah = ca - (ca - a), al = a - ah;
    double bh = cb - (cb - b), bl = b - bh;
    return (dd){p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}

static inline dd dd_d(double a) { return (dd){a, 0.0}; }
static inline dd dd_neg(dd a) { return (dd){-a.h, -a.l}; }

static inline dd dd_add(dd x, dd y) /* AccurateDWPlusDW */
{
    dd s = two_sum(x.h, y.h), t = two_sum(x.l, y.l);
    s = fast_two_sum(s.h, s.l + t.h);
    return fast_two_sum(s.h, s.l + t.l);
}

static inline dd dd_sub(dd x, dd y) { return dd_add(x, dd_neg(y)); }

static inline dd dd_mul_d(dd x, double y) /* DWTimesFP3 */
{
    dd p = two_prod(x.h, y);
    return fast_two_sum(p.h, p.l + x.l * y);
}

static inline dd dd_mul(dd x, dd y) /* DWTimesDW3 (without fma) */
{
    dd p = two_prod(x.h, y.h);
    return fast_two_sum(p.h, p.l + (x.h * y.l + x.l * y.h));
}

static inline dd dd_div(dd x, dd y) /* DWDivDW2 */
{
    double q = x.h / y.h;
    dd r = dd_sub(x, dd_mul_d(y, q));
    double q2 = r.h / y.h;
    r = dd_sub(r, dd_mul_d(y, q2));
    double q3 = r.h / y.h;
    dd s = fast_two_sum(q, q2);
    return dd_add(s, dd_d(q3));
}

static inline dd dd_div_d(dd x, double y) /* DWDivFP3-like: < 2^-103 */
{
    double q = x.h / y;
    dd p = two_prod(q, y);
    double r = ((x.h - p.h) - p.l) + x.l; /* x.h - p.h is exact (Sterbenz) */
    return fast_two_sum(q, r / y);
}

/* 2^k for -1022 <= k <= 1023, from the bits. */
static inline double nl_pow2(int k)
{
    uint64_t b = (uint64_t)(k + 1023) << 52;
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static inline double nl_fabs(double a) { return a < 0 ? -a : a; }

/* d = (-1)^s * m * 2^k with m < 2^53 an integer (m = 0 for +-0); returns s. */
static inline int nl_split(double d, uint64_t *m, int *k)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    int ex = (int)((b >> 52) & 0x7ff);
    *m = b & ((1ull << 52) - 1);
    if (ex) {
        *m |= 1ull << 52;
        *k = ex - 1075;
    } else {
        *k = -1074;
    }
    return (int)(b >> 63);
}

/* p / q for small integers, as a dd */
static inline dd dd_ratio(double p, double q) { return dd_div(dd_d(p), dd_d(q)); }

#endif
