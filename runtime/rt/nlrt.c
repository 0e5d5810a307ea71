/* nlrt.c -- numrep's own nonlinear functions: the special values of every
 * function ([nl-*]: IEEE 754-2019 9.2 where it defines the function), then
 * the exact integer path (sqrt, rsqrt, reciprocal, pow: nlrt_alg.c) or a
 * double-double enclosure (nlrt_exp.c, nlrt_erf.c) and the rounding test
 * (nlrt_test.c). */
#include "nlrt_internal.h"

static int is_nan(double x) { return x != x; }
static int is_inf(double x) { return x - x != 0 && x == x; }
static int sign_of(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return (int)(b >> 63);
}

static void set_double(nr_exact *o, double d) { nr_exact_from_double(d, o); }

/* [nl-pow] and sqrt, rsqrt, reciprocal as x^(n/2): special values, then
 * the exact path (always exact). */
static void alg(int n, int fn, double x, nr_exact *o)
{
    int neg = sign_of(x);
    int odd_int = n % 4 == 2 || n % 4 == -2; /* n/2 an odd integer */
    int half = n % 2 != 0;
    if (is_nan(x) || (neg && half && x != 0 && (fn != NR_NL_POW || !is_inf(x)))) {
        /* NaN; sqrt/rsqrt of x < 0 (-inf too); pow(x < 0 finite, half-integer) */
        nr_nl_exact_special(o, NR_CLS_NAN, 0);
    } else if (x == 0 && fn == NR_NL_SQRT) {
        nr_nl_exact_special(o, NR_CLS_ZERO, neg); /* sqrt(-0) = -0 */
    } else if (x == 0 && fn == NR_NL_RSQRT) {
        nr_nl_exact_special(o, NR_CLS_INF, neg); /* rSqrt(+-0) = +-inf */
    } else if (x == 0) { /* pow(+-0, p): +-0 / +-inf for odd integers p, else +0 / +inf */
        nr_nl_exact_special(o, n > 0 ? NR_CLS_ZERO : NR_CLS_INF, odd_int && neg);
    } else if (is_inf(x)) { /* pow(-inf, p) = pow(-0, -p) */
        nr_nl_exact_special(o, n > 0 ? NR_CLS_INF : NR_CLS_ZERO, odd_int && neg);
    } else {
        uint64_t m;
        int q;
        nl_split(x, &m, &q);
        nl_alg_pow_half(m, q, n, neg && odd_int, o);
    }
}

/* The special values of the transcendental functions; 1 when *o is set. */
static int special(nr_nlfn fn, double x, nr_exact *o)
{
    int neg = sign_of(x);
    if (is_nan(x)) {
        nr_nl_exact_special(o, NR_CLS_NAN, 0);
        return 1;
    }
    if (fn == NR_NL_LOG) {
        if (x == 0)
            nr_nl_exact_special(o, NR_CLS_INF, 1); /* log(+-0) = -inf */
        else if (neg)
            nr_nl_exact_special(o, NR_CLS_NAN, 0);
        else if (is_inf(x))
            nr_nl_exact_special(o, NR_CLS_INF, 0);
        else if (x == 1)
            nr_nl_exact_special(o, NR_CLS_ZERO, 0);
        else
            return 0;
        return 1;
    }
    if (x == 0) {
        if (fn == NR_NL_EXP)
            set_double(o, 1.0);
        else if (fn == NR_NL_SIGMOID)
            set_double(o, 0.5);
        else
            nr_nl_exact_special(o, NR_CLS_ZERO, neg); /* erf tanh silu gelu: odd at 0 */
        return 1;
    }
    if (!is_inf(x))
        return 0;
    switch (fn) {
    case NR_NL_EXP: case NR_NL_SIGMOID:
        if (neg)
            nr_nl_exact_special(o, NR_CLS_ZERO, 0);
        else if (fn == NR_NL_EXP)
            nr_nl_exact_special(o, NR_CLS_INF, 0);
        else
            set_double(o, 1.0);
        break;
    case NR_NL_ERF: case NR_NL_TANH:
        set_double(o, neg ? -1.0 : 1.0);
        break;
    default: /* silu, gelu, gelu_tanh: +inf, and -0 at -inf */
        nr_nl_exact_special(o, neg ? NR_CLS_ZERO : NR_CLS_INF, neg);
        break;
    }
    return 1;
}

int nr_nlrt_exact(const nr_nl *f, double x, const nr_format *out, nr_rounding mode,
                  nr_exact *res)
{
    switch (f->fn) {
    case NR_NL_SQRT: alg(1, f->fn, x, res); return 0;
    case NR_NL_RSQRT: alg(-1, f->fn, x, res); return 0;
    case NR_NL_RECIP: alg(-2, f->fn, x, res); return 0;
    case NR_NL_POW: {
        int n = (int)(2 * f->p);
        if (n == 0 || x == 1) { /* pow(x, +-0) = 1 even for NaN; pow(1, y) = 1 */
            set_double(res, 1.0);
            return 0;
        }
        alg(n, f->fn, x, res);
        return 0;
    }
    default: break;
    }
    nl_val v;
    if (nl_enclose(f->fn, x, &v, res))
        return 0;
    return nl_round_test(&v, out, mode, res);
}

int nl_enclose(nr_nlfn fn, double x, nl_val *v, nr_exact *ex)
{
    if (special(fn, x, ex))
        return 1;
    switch (fn) {
    case NR_NL_EXP: return nl_exp(x, v, ex);
    case NR_NL_LOG: return nl_log(x, v, ex);
    case NR_NL_ERF: return nl_erf(x, v, ex);
    case NR_NL_TANH: return nl_tanh(x, v, ex);
    case NR_NL_SIGMOID: return nl_sigmoid(x, v, ex);
    case NR_NL_SILU: return nl_silu(x, v, ex);
    case NR_NL_GELU: return nl_gelu(x, v, ex);
    case NR_NL_GELU_TANH: return nl_gelu_tanh(x, v, ex);
    default: nr_nl_exact_special(ex, NR_CLS_NAN, 0); return 1;
    }
}

int nr_nlrt_supported(const nr_nl *f, const nr_format *in, const nr_format *out, nr_err *err)
{
    int rc = nr_nl_check(f, err);
    if (rc)
        return rc;
    if (in->width > 32 || out->width > 32)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, nr_nl_name(f->fn),
                          "numrep's own nonlinear functions take formats of at most 32 bits "
                          "(input %d, output %d bits); the MPFR oracle takes any",
                          in->width, out->width);
    return 0;
}

uint64_t nr_nlrt(const nr_nl *f, const nr_format *in, uint64_t x, const nr_format *out,
                 nr_rounding mode, uint32_t sr_bits, unsigned *flags)
{
    double xd = nr_decode(in, x); /* exact: a value of a <= 32-bit format */
    nr_exact y;
    nr_nlrt_exact(f, xd, out, mode, &y);
    return nr_nl_round(is_nan(xd), &y, out, mode, sr_bits, flags);
}
