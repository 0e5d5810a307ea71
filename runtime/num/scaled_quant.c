/* scaled_quant.c -- converting one group of a scaled format: its scale X
 * from the group's amax by the format's rule, then each element
 * P_i = round(V_i / X) of the exact quotient ([scl-scale], [scl-nv],
 * [scl-elem], [scl-special] in docs/semantics.md).  This is the oracle's
 * code: plain, exact (nr_exact_div, nr_round_exact), one group at a time. */
#include "scaled.h"

#include <math.h>
#include <string.h>

#define E8M0_EMIN (-127)
#define E8M0_EMAX 127

/* ---------------------------------------------------------------- helpers */

static int bitlen(unsigned __int128 x) /* position of the top set bit + 1; 0 for 0 */
{
    uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;
    if (hi)
        return 128 - __builtin_clzll(hi);
    return lo ? 64 - __builtin_clzll(lo) : 0;
}

/* Compare the magnitudes of two finite nonzero exact values: -1, 0, 1. */
static int mag_cmp(const nr_exact *a, const nr_exact *b)
{
    int64_t ta = (int64_t)a->exp + bitlen(a->sig), tb = (int64_t)b->exp + bitlen(b->sig);
    if (ta != tb)
        return ta < tb ? -1 : 1;
    /* same top bit: shift the coarser one left to the finer one's unit; it
     * still fits 128 bits because both tops are equal */
    unsigned __int128 sa = a->sig, sb = b->sig;
    if (a->exp > b->exp)
        sa <<= (a->exp - b->exp);
    else
        sb <<= (b->exp - a->exp);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    /* a sticky unit lies strictly above its significand; both sticky:
     * unknown, call it equal (only a quotient is sticky, max never is) */
    return a->sticky == b->sticky ? 0 : a->sticky ? 1 : -1;
}

/* Exact q = a / b of two doubles (b finite nonzero). */
static void div_exact(double a, double b, nr_exact *q)
{
    nr_exact ea, eb;
    nr_exact_from_double(a, &ea);
    nr_exact_from_double(b, &eb);
    nr_exact_div(&ea, &eb, q);
}

/* Round an exact nonnegative value into the scale format sf (fp32 or
 * ue4m3) in mode, clamped into [smallest positive, max]: a scale is never
 * zero, infinite or NaN ([scl-scale]). */
static double round_scale(const nr_format *sf, nr_rounding mode, const nr_exact *q,
                          uint64_t *bits)
{
    nr_format sat = *sf;
    sat.saturate = 1;
    nr_format_finish(&sat, NULL);
    uint64_t b = nr_round_exact(&sat, mode, q, 0, NULL);
    if (b == 0) /* rounded to zero: the smallest subnormal (encoding 1) */
        b = 1;
    *bits = b;
    return nr_decode(sf, b);
}

static nr_rounding amax_mode(nr_scale_rule r) { return r == NR_RULE_AMAX_UP ? NR_RND_RU : NR_RND_RNE; }

/* ---------------------------------------------------------------- e8m0 rules */

/* [scl-scale] the unbiased e8m0 exponent of a group with amax > 0. */
static int e8m0_exponent(const nr_scaled *s, double amax)
{
    int emax = nr_scaled_emax_elem(s);
    int E = ilogb(amax); /* floor(log2 amax), exact also for subnormals */
    double m = scalbn(amax, -E); /* amax / 2^E in [1, 2), exact */
    switch (s->rule) {
    case NR_RULE_FLOOR: return E - emax;
    case NR_RULE_CEIL: return E + (m != 1.0) - emax;
    case NR_RULE_EVEN: {
        /* amax rounded to the element's precision p (ties to even) reaches
         * 2^(E+1) iff m >= 2 - 2^-p: the midpoint between the binade's
         * largest p-bit value 2 - 2^(1-p) and 2, a tie going to 2 (even) */
        int p = nr_scaled_elem_prec(s);
        return E + (m >= 2.0 - ldexp(1.0, -p)) - emax;
    }
    case NR_RULE_RCEIL: {
        /* smallest e with 2^e >= amax / elem_max: amax = fa 2^ga and
         * max = fm 2^gm with fa, fm in [1/2, 1) give amax / max in
         * (2^(ga-gm-1), 2^(ga-gm)] when fa <= fm, else (2^(ga-gm), 2^(ga-gm+1)) */
        int ga, gm;
        double fa = frexp(amax, &ga), fm = frexp(s->elem.max_finite, &gm);
        return ga - gm + (fa > fm);
    }
    default: return 0;
    }
}

static double e8m0_scale(const nr_scaled *s, double amax, uint64_t *bits)
{
    int e = amax > 0 ? e8m0_exponent(s, amax) : E8M0_EMIN;
    if (e < E8M0_EMIN)
        e = E8M0_EMIN;
    if (e > E8M0_EMAX)
        e = E8M0_EMAX;
    *bits = (uint64_t)(e + 127);
    return ldexp(1.0, e);
}

/* ---------------------------------------------------------------- scales */

/* [scl-nv] s_block = (amax / elem_max) / s_tensor, exact, rounded once to
 * ue4m3 (rne; ru for amax-up), clamped into [2^-9, 448]. */
static double nv_scale(const nr_scaled *s, double amax, double s_tensor, uint64_t *bits)
{
    nr_exact q1, q;
    div_exact(amax, s->elem.max_finite, &q1);
    nr_exact t;
    nr_exact_from_double(s_tensor, &t);
    nr_exact_div(&q1, &t, &q);
    double sb = round_scale(nr_scaled_scale_format(NR_SCALE_UE4M3), amax_mode(s->rule), &q, bits);
    return s_tensor * sb; /* exact: 24 x 4 significant bits, >= 2^-158 */
}

/* Is x a positive finite value of the scale format f? */
static int scale_valid(nr_scale_fmt f, double x, uint64_t *bits)
{
    if (!(x > 0) || isinf(x))
        return 0;
    if (f == NR_SCALE_E8M0) {
        int e = ilogb(x);
        if (scalbn(x, -e) != 1.0 || e < E8M0_EMIN || e > E8M0_EMAX)
            return 0;
        *bits = (uint64_t)(e + 127);
        return 1;
    }
    const nr_format *sf = nr_scaled_scale_format(f);
    unsigned fl = 0;
    *bits = nr_encode(sf, NR_RND_RNE, x, 0, &fl);
    return !(fl & NR_FLAG_INEXACT) && nr_decode(sf, *bits) == x;
}

/* The group's scale from its amax (finite, >= 0). */
static int group_scale(const nr_scaled *s, double amax, const nr_scaled_ctx *ctx, double *X,
                       uint64_t *bits, nr_err *err)
{
    double ts = ctx ? ctx->tensor_scale : 0;
    if (s->rule == NR_RULE_STATIC && s->scale != NR_SCALE_NV) { /* nv: ts is the static s_t */
        if (!scale_valid(s->scale, ts, bits))
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "static scale",
                              "%g is not a positive finite %s value", ts,
                              nr_scaled_scale_name(s->scale));
        *X = ts;
        return 0;
    }
    switch (s->scale) {
    case NR_SCALE_E8M0:
        *X = e8m0_scale(s, amax, bits);
        return 0;
    case NR_SCALE_NV:
        if (!scale_valid(NR_SCALE_FP32, ts, bits))
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "tensor scale",
                              "%g is not a positive finite fp32 value (nvfp4's tensor scale, "
                              "see nr_scaled_tensor_scale)", ts);
        *X = nv_scale(s, amax, ts, bits);
        return 0;
    default: {
        nr_exact q;
        div_exact(amax, s->elem.max_finite, &q);
        *X = round_scale(nr_scaled_scale_format(s->scale), amax_mode(s->rule), &q, bits);
        return 0;
    }
    }
}

double nr_scaled_amax(const double *x, size_t n, size_t stride)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(x[i * stride]);
        if (isfinite(a) && a > m)
            m = a;
    }
    return m;
}

double nr_scaled_tensor_scale(const nr_scaled *s, double amax)
{
    amax = fabs(amax);
    if (!isfinite(amax))
        return NAN;
    uint64_t bits;
    if (s->scale == NR_SCALE_NV) {
        /* [scl-nv] amax / (448 * elem_max) in fp32, clamped like every scale */
        nr_exact q1, q, m;
        div_exact(amax, s->elem.max_finite, &q1);
        nr_exact_from_double(448.0, &m);
        nr_exact_div(&q1, &m, &q);
        return round_scale(nr_scaled_scale_format(NR_SCALE_FP32), amax_mode(s->rule), &q, &bits);
    }
    nr_scaled t = *s;
    if (t.rule == NR_RULE_STATIC) /* the dynamic rule of the same scale format */
        t.rule = t.scale == NR_SCALE_E8M0 ? NR_RULE_FLOOR : NR_RULE_AMAX;
    double X;
    return group_scale(&t, amax, NULL, &X, &bits, NULL) ? NAN : X;
}

/* ---------------------------------------------------------------- elements */

/* V / X as an exact value, the same as div_exact gives for every element
 * rounding ([net-12]-style shortcut, checked bit for bit by the oracle
 * tests): d = v / X in host double and the exact residual r = v - d X
 * (one fma, exact away from underflow).  r = 0: d is the quotient.  Else
 * the quotient lies strictly within half an ulp of d, on r's side; as an
 * nr_exact it is d (or the double below d) plus sticky: no element value or
 * midpoint (at most 16 bits) lies strictly inside that ulp, so it rounds,
 * clips and draws sr thresholds exactly as the exact quotient does. */
static void elem_quotient(double v, double X, nr_exact *q)
{
    double d = v / X;
    if (!(fabs(d) > 0x1p-900 && fabs(d) < 0x1p900 && fabs(v) > 0x1p-900)) {
        div_exact(v, X, q); /* zeros, specials, extreme ranges */
        return;
    }
    double r = fma(-d, X, v);
    nr_exact_from_double(d, q); /* normal: 53-bit significand, unit = ulp(d) */
    if (r == 0)
        return;
    q->sticky = 1;
    if ((r > 0) != (d > 0)) { /* |V / X| < |d|: start from the double below |d| */
        if (q->sig == (unsigned __int128)1 << 52) {
            q->sig = ((unsigned __int128)1 << 53) - 1;
            q->exp -= 1;
        } else {
            q->sig -= 1;
        }
    }
}

/* [scl-elem] P = round(V / X): the exact quotient, clamped to [-max, max]
 * ([0, max] for unsigned elements) when beyond it (counted in *clipped),
 * else rounded once in mode. */
static double convert_elem(const nr_format *ef, double v, double X, nr_rounding mode,
                           uint32_t sr, int *clipped)
{
    nr_exact q;
    elem_quotient(v, X, &q);
    if (q.cls == NR_CLS_FINITE) {
        int below = ef->kind == NR_FIXED && !ef->is_signed && q.sign;
        nr_exact mx;
        nr_exact_from_double(ef->max_finite, &mx);
        if (below || mag_cmp(&q, &mx) > 0) {
            (*clipped)++;
            double c = below ? 0.0 : q.sign ? -ef->max_finite : ef->max_finite;
            return c;
        }
    }
    return nr_decode(ef, nr_round_exact(ef, mode, &q, sr, NULL));
}

int nr_scaled_quantize(const nr_scaled *s, const double *x, size_t n, size_t stride,
                       const nr_scaled_ctx *ctx, double *p, nr_scaled_group *g, nr_err *err)
{
    int rc = nr_scaled_check(s, "scaled format", err);
    if (rc)
        return rc;
    if (n == 0 || (s->gran == NR_GRAN_BLOCK && n > (size_t)s->block))
        return nr_err_set(err, NR_ESHAPE, NULL, 0, 0, "scaled group",
                          "%zu elements; a group has 1..%d", n,
                          s->gran == NR_GRAN_BLOCK ? s->block : 0x7fffffff);
    memset(g, 0, sizeof *g);
    double amax = 0;
    int special = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(x[i * stride]);
        if (!isfinite(a))
            special = 1;
        else if (a > amax)
            amax = a;
    }
    if (special) { /* [scl-special] NaN or infinity: NaN scale, NaN block */
        g->nan = 1;
        g->scale = NAN;
        const nr_format *sf = nr_scaled_scale_format(s->scale);
        g->scale_bits = sf ? sf->nan_bits : 0xFF;
        for (size_t i = 0; i < n; i++)
            p[i] = NAN;
        return 0;
    }
    double X;
    rc = group_scale(s, amax, ctx, &X, &g->scale_bits, err);
    if (rc)
        return rc;
    g->scale = X;
    g->zero = amax == 0;
    nr_rounding mode = ctx ? ctx->mode : NR_RND_RNE;
    for (size_t i = 0; i < n; i++) {
        uint32_t sr = 0;
        if (mode == NR_RND_SR)
            sr = nr_sr_bits(ctx->seed, ctx->layer, ctx->element0 + i * ctx->element_step,
                            ctx->term);
        p[i] = convert_elem(&s->elem, x[i * stride], X, mode, sr, &g->clipped);
    }
    return 0;
}
