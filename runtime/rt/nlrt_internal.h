/* nlrt_internal.h -- what the files of numrep's own nonlinear functions
 * share (runtime/rt/nlrt*.c; the API is nlrt.h). */
#ifndef NUMREP_NLRT_INTERNAL_H
#define NUMREP_NLRT_INTERNAL_H

#include "nlrt.h"
#include "nlrt_dd.h"

/* An approximation with a rigorous enclosure: the exact value lies in the
 * OPEN interval ((S - elo) * 2^e, (S + ehi) * 2^e), S = t[0] + ... + t[n-1]
 * summed exactly.  Keeping exact leading terms apart (1 + x + ..., x/2 + ...)
 * lets the bound be relative to the small part only. */
typedef struct {
    double t[5];
    int n;
    double elo, ehi;
    int e;
} nl_val;

/* Helpers to fill one. */
static inline void nlv_set(nl_val *v, int e, double elo, double ehi)
{
    v->n = 0;
    v->e = e;
    v->elo = elo;
    v->ehi = ehi;
}
static inline void nlv_add(nl_val *v, double t) { v->t[v->n++] = t; }
static inline void nlv_add_dd(nl_val *v, dd a)
{
    v->t[v->n++] = a.h;
    v->t[v->n++] = a.l;
}

/* Constants as sums of doubles (MPFR-printed, 160+ bits). */
#define NL_LN2_0 0x1.62e42fefa39efp-1
#define NL_LN2_1 0x1.abc9e3b39803fp-56
#define NL_LN2_2 0x1.7b57a079a1934p-111
#define NL_INV_LN2 0x1.71547652b82fep+0
#define NL_TWO_OVER_SQRTPI ((dd){0x1.20dd750429b6dp+0, 0x1.1ae3a914fed8p-56})
#define NL_ONE_OVER_SQRTPI ((dd){0x1.20dd750429b6dp-1, 0x1.1ae3a914fed8p-57})
#define NL_SQRT_HALF ((dd){0x1.6a09e667f3bcdp-1, -0x1.bdd3413b26456p-55})
#define NL_ONE_OVER_SQRT2PI ((dd){0x1.9884533d43651p-2, -0x1.cbc0d30ebfd15p-56})
#define NL_SQRT_8_OVER_PI ((dd){0x1.9884533d43651p+0, -0x1.cbc0d30ebfd15p-54})
#define NL_GELU_A ((dd){0x1.6e4e26d4801f7p-5, 0x1.441355475a31ap-59}) /* 0.044715 */

/* Relative error budgets (see the functions' comments): a bound that holds
 * for the dd evaluation of each kernel. */
#define NL_REL_EXP 0x1p-95    /* nl_expm1 / nl_exp's mantissa, vs its value  */
#define NL_REL_LOG 0x1p-95
#define NL_REL_ERF 0x1p-95    /* series erf                                   */
#define NL_REL_ERFC 0x1p-88   /* continued-fraction erfc                      */

/* ---- nlrt.c: for a transcendental fn (not sqrt rsqrt reciprocal pow):
 * 1 and *ex for a special or tail value, else 0 and the enclosure *v
 * (tests/check_nlfn.c checks enclosures against MPFR). */
int nl_enclose(nr_nlfn fn, double x, nl_val *v, nr_exact *ex);

/* ---- nlrt_test.c: the rounding test ([nl-impl]) */
/* 0 and *out (truncation + sticky at the grid `out` and `mode` need) when
 * the enclosure lies strictly inside one grid cell; 1 if not decided. */
int nl_round_test(const nl_val *v, const nr_format *out, nr_rounding mode, nr_exact *res);

/* ---- nlrt_exp.c: kernels (x finite, the special values already handled).
 * Each returns 1 and fills *ex for an exactly known result (tails), or 0
 * and fills *v. */
/* e^x = m * 2^k, m a dd in [0.7, 1.42] with relative error NL_REL_EXP;
 * |x.h| <= 1000, x taken exactly as x.h + x.l. */
dd nl_exp_dd(dd x, int *k);
/* sigmoid(-a) for a > 0 (a.h <= 1000) as m * 2^k, relative error
 * 2^-93 + |a| 2^-101 (a's own relative error must be below 2^-100 and is
 * included). */
dd nl_sigmoid_neg(dd a, int *k, double *rel);
/* c (1 - d) for 0 < d < 2^-860, c > 0: the enclosure (c - c 2^-860, c). */
void nl_just_below(double c, nl_val *v);
/* Flip the sign of an enclosure. */
void nlv_negate(nl_val *v);
/* a * 2^k as a dd (exact when the result is normal). */
dd nl_ldexp_dd(dd a, int k);
int nl_exp(double x, nl_val *v, nr_exact *ex);
int nl_log(double x, nl_val *v, nr_exact *ex);
int nl_tanh(double x, nl_val *v, nr_exact *ex);
int nl_sigmoid(double x, nl_val *v, nr_exact *ex);
int nl_silu(double x, nl_val *v, nr_exact *ex);
int nl_gelu_tanh(double x, nl_val *v, nr_exact *ex);

/* ---- nlrt_erf.c */
int nl_erf(double x, nl_val *v, nr_exact *ex);
int nl_gelu(double x, nl_val *v, nr_exact *ex);

/* ---- nlrt_alg.c: sqrt, rsqrt, reciprocal, pow by exact integer
 * arithmetic: x^(n/2) for x = m * 2^q > 0 (m < 2^53), n != 0, |n| <= 2 *
 * NR_NL_POW_MAX + 1, truncated to >= 72 bits plus sticky. */
void nl_alg_pow_half(uint64_t m, int q, int n, int sign, nr_exact *o);

#endif
