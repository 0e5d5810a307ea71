/* oracle_scaled.c -- the independent MPFR reading of scaled formats
 * (docs/semantics.md [scl-scale], [scl-nv], [scl-elem], [scl-special]):
 * the scale of a group and the conversion of its elements, from the
 * user-facing fields of nr_scaled alone.  Like the rest of the oracle it
 * never calls libnumrep: formats are or_fmt (oracle.c), quotients are MPFR
 * numbers at 320 bits plus a sticky bit, roundings are or_round, and the
 * e8m0 rules are written as the document states them (exponents of MPFR
 * numbers and exact comparisons, not frexp tricks). */
#include "oracle.h"

#include <math.h>
#include <string.h>

#define QPREC 320 /* quotients: far beyond every format's precision + 2 */

/* The scale formats' user-facing fields, written out here ([scl-scale]). */
static void fields_float(nr_format *f, int X, int Y, int bias, nr_specials sp)
{
    memset(f, 0, sizeof *f);
    f->kind = NR_FLOAT;
    f->exp_bits = X;
    f->man_bits = Y;
    f->bias = bias;
    f->subnormals = 1;
    f->specials = sp;
    f->saturate = 1; /* scales clamp at the largest value */
}

static void scale_fmt(nr_scale_fmt sf, or_fmt *o)
{
    nr_format f;
    if (sf == NR_SCALE_FP32)
        fields_float(&f, 8, 23, 127, NR_SPECIALS_IEEE);
    else /* ue4m3, nv's block scale: OCP E4M3, sign bit 0 */
        fields_float(&f, 4, 3, 7, NR_SPECIALS_FN);
    or_fmt_init(o, &f);
}

/* v = a / b (doubles, b nonzero finite) as an or_val: truncated to QPREC
 * bits, sticky when inexact. */
static void quotient(or_val *v, const mpfr_t a, const mpfr_t b)
{
    int t = mpfr_div(v->mag, a, b, MPFR_RNDZ);
    v->sign = mpfr_signbit(a) != mpfr_signbit(b);
    mpfr_abs(v->mag, v->mag, MPFR_RNDN);
    v->sticky = t != 0;
    v->cls = mpfr_zero_p(v->mag) && !v->sticky ? NR_CLS_ZERO : NR_CLS_FINITE;
}

static double value_of(const or_fmt *o, uint64_t bits)
{
    or_val v;
    or_val_init(&v, 128);
    or_decode(o, bits, &v);
    double d = v.cls == NR_CLS_NAN ? NAN : mpfr_get_d(v.mag, MPFR_RNDN);
    if (v.sign)
        d = -d;
    or_val_clear(&v);
    return d;
}

/* Round q (>= 0) into the scale format in mode; a zero result becomes the
 * smallest positive value, encoding 1 (scales are never zero). */
static double round_scale(nr_scale_fmt sf, nr_rounding mode, const or_val *q, uint64_t *bits)
{
    or_fmt o;
    scale_fmt(sf, &o);
    or_res r;
    or_round(&o, mode, q, 0, &r);
    *bits = r.bits ? r.bits : 1;
    double d = value_of(&o, *bits);
    or_fmt_clear(&o);
    return d;
}

static nr_rounding rule_mode(nr_scale_rule r) { return r == NR_RULE_AMAX_UP ? NR_RND_RU : NR_RND_RNE; }

/* Is x a positive finite value of scale format sf?  Its encoding in *bits. */
static int scale_value(nr_scale_fmt sf, double x, uint64_t *bits)
{
    if (!(x > 0) || isinf(x))
        return 0;
    if (sf == NR_SCALE_E8M0) {
        for (int e = -127; e <= 127; e++)
            if (x == ldexp(1.0, e)) {
                *bits = (uint64_t)(e + 127);
                return 1;
            }
        return 0;
    }
    or_fmt o;
    scale_fmt(sf, &o);
    or_val v;
    or_val_init(&v, 128);
    mpfr_set_d(v.mag, x, MPFR_RNDN);
    v.cls = NR_CLS_FINITE;
    or_res r;
    or_round(&o, NR_RND_RNE, &v, 0, &r);
    int ok = !(r.flags & NR_FLAG_INEXACT) && value_of(&o, r.bits) == x;
    *bits = r.bits;
    or_val_clear(&v);
    or_fmt_clear(&o);
    return ok;
}

/* ---------------------------------------------------------------- e8m0 */

static double e8m0(const nr_scaled *s, const or_fmt *oe, double amax, uint64_t *bits)
{
    int emax_elem = (int)mpfr_get_exp(oe->max) - 1; /* max in [2^emax, 2^(emax+1)) */
    int prec = oe->fixed ? oe->I + oe->F : oe->Y + 1;
    long e = -127;
    if (amax > 0) {
        mpfr_t a, r, t;
        mpfr_inits2(128, a, t, (mpfr_ptr)0);
        mpfr_init2(r, prec);
        mpfr_set_d(a, amax, MPFR_RNDN);
        long E = (long)mpfr_get_exp(a) - 1; /* amax in [2^E, 2^(E+1)) */
        switch (s->rule) {
        case NR_RULE_FLOOR: e = E - emax_elem; break;
        case NR_RULE_CEIL: /* ceil(log2 amax): E, or E + 1 unless a power of two */
            mpfr_set_ui_2exp(t, 1, E, MPFR_RNDN);
            e = E + (mpfr_cmp(a, t) != 0) - emax_elem;
            break;
        case NR_RULE_EVEN: /* amax rounded to the element's precision, ties to even */
            mpfr_set(r, a, MPFR_RNDN);
            e = (long)mpfr_get_exp(r) - 1 - emax_elem;
            break;
        case NR_RULE_RCEIL: /* smallest e with max * 2^e >= amax */
            e = E - emax_elem - 3;
            for (;;) {
                mpfr_mul_2si(t, oe->max, e, MPFR_RNDN);
                if (mpfr_cmp(t, a) >= 0)
                    break;
                e++;
            }
            break;
        default: break;
        }
        mpfr_clears(a, r, t, (mpfr_ptr)0);
    }
    if (e < -127)
        e = -127;
    if (e > 127)
        e = 127;
    *bits = (uint64_t)(e + 127);
    return ldexp(1.0, (int)e);
}

/* ---------------------------------------------------------------- scales */

double or_scaled_tensor_scale(const nr_scaled *s, double amax)
{
    amax = fabs(amax);
    if (!isfinite(amax))
        return NAN;
    or_fmt oe;
    or_fmt_init(&oe, &s->elem);
    mpfr_t a, den;
    mpfr_inits2(128, a, den, (mpfr_ptr)0);
    mpfr_set_d(a, amax, MPFR_RNDN);
    mpfr_mul_ui(den, oe.max, 448, MPFR_RNDN); /* exact: <= 64 + 9 bits */
    or_val q;
    or_val_init(&q, QPREC);
    quotient(&q, a, den);
    uint64_t bits;
    double d = round_scale(NR_SCALE_FP32, rule_mode(s->rule), &q, &bits);
    or_val_clear(&q);
    mpfr_clears(a, den, (mpfr_ptr)0);
    or_fmt_clear(&oe);
    return d;
}

/* The group scale from amax (finite, >= 0); -1 if a given scale is invalid. */
static int group_scale(const nr_scaled *s, const or_fmt *oe, double amax, double ts,
                       double *X, uint64_t *bits)
{
    if (s->rule == NR_RULE_STATIC && s->scale != NR_SCALE_NV) { /* nv: ts is the static s_t */
        if (!scale_value(s->scale, ts, bits))
            return -1;
        *X = ts;
        return 0;
    }
    if (s->scale == NR_SCALE_E8M0) {
        *X = e8m0(s, oe, amax, bits);
        return 0;
    }
    mpfr_t a, den;
    mpfr_inits2(128, a, den, (mpfr_ptr)0);
    mpfr_set_d(a, amax, MPFR_RNDN);
    mpfr_set(den, oe->max, MPFR_RNDN);
    if (s->scale == NR_SCALE_NV) {
        uint64_t tb;
        if (!scale_value(NR_SCALE_FP32, ts, &tb)) {
            mpfr_clears(a, den, (mpfr_ptr)0);
            return -1;
        }
        mpfr_mul_d(den, den, ts, MPFR_RNDN); /* exact: 16 x 24 bits in 128 */
    }
    or_val q;
    or_val_init(&q, QPREC);
    quotient(&q, a, den);
    nr_scale_fmt sf = s->scale == NR_SCALE_NV ? NR_SCALE_UE4M3 : s->scale;
    double sb = round_scale(sf, rule_mode(s->rule), &q, bits);
    *X = s->scale == NR_SCALE_NV ? sb * ts : sb; /* exact in double: 4 x 24 bits */
    or_val_clear(&q);
    mpfr_clears(a, den, (mpfr_ptr)0);
    return 0;
}

/* ---------------------------------------------------------------- elements */

static double element(const or_fmt *oe, nr_rounding mode, double v, double X, uint32_t sr,
                      int *clipped)
{
    mpfr_t a, b;
    mpfr_inits2(64, a, b, (mpfr_ptr)0);
    mpfr_set_d(a, v, MPFR_RNDN);
    mpfr_set_d(b, X, MPFR_RNDN);
    or_val q;
    or_val_init(&q, QPREC);
    quotient(&q, a, b);
    mpfr_clears(a, b, (mpfr_ptr)0);
    double r;
    if (q.cls == NR_CLS_ZERO) {
        or_res res;
        or_round(oe, mode, &q, sr, &res);
        r = value_of(oe, res.bits); /* +-0 as [rnd-4] says */
    } else {
        int c = mpfr_cmp(q.mag, oe->max);
        int beyond = c > 0 || (c == 0 && q.sticky);
        if (oe->fixed && !oe->sgn && q.sign) {
            (*clipped)++;
            r = 0.0;
        } else if (beyond) {
            (*clipped)++;
            r = mpfr_get_d(oe->max, MPFR_RNDN);
            if (q.sign)
                r = -r;
        } else {
            or_res res;
            or_round(oe, mode, &q, sr, &res);
            r = value_of(oe, res.bits);
        }
    }
    or_val_clear(&q);
    return r;
}

int or_scaled_quantize(const nr_scaled *s, const double *x, size_t n, nr_rounding mode,
                       const uint32_t *sr, double tensor_scale, double *p, or_scaled_group *g)
{
    memset(g, 0, sizeof *g);
    double amax = 0;
    int special = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]) || isinf(x[i]))
            special = 1;
        else if (fabs(x[i]) > amax)
            amax = fabs(x[i]);
    }
    if (special) { /* [scl-special] */
        g->nan = 1;
        g->scale = NAN;
        if (s->scale == NR_SCALE_E8M0) {
            g->scale_bits = 0xFF;
        } else {
            or_fmt o;
            scale_fmt(s->scale == NR_SCALE_NV ? NR_SCALE_UE4M3 : s->scale, &o);
            g->scale_bits = o.nan_bits;
            or_fmt_clear(&o);
        }
        for (size_t i = 0; i < n; i++)
            p[i] = NAN;
        return 0;
    }
    or_fmt oe;
    if (or_fmt_init(&oe, &s->elem)) {
        or_fmt_clear(&oe);
        return -1;
    }
    int rc = group_scale(s, &oe, amax, tensor_scale, &g->scale, &g->scale_bits);
    if (rc == 0) {
        g->zero = amax == 0;
        for (size_t i = 0; i < n; i++)
            p[i] = element(&oe, mode, x[i], g->scale, sr ? sr[i] : 0, &g->clipped);
    }
    or_fmt_clear(&oe);
    return rc;
}
