/* oracle_ops.c -- exact add/sub/mul/fma and sticky div/sqrt for the MPFR
 * oracle ([op-1]).  Sums and products are computed exactly (precision large
 * enough for the format's whole exponent span, checked by MPFR's ternary
 * value); quotients and roots are truncated at a precision at least 40 bits
 * finer than any rounding decision (including the 32-bit SR threshold) and
 * the ternary value becomes the sticky bit. */
#include "oracle.h"

#include <assert.h>
#include <string.h>

const char *or_op_name(or_op op)
{
    static const char *const n[] = {"add", "sub", "mul", "div", "fma", "sqrt"};
    return n[op];
}

void or_ops_init(or_ops *s, const or_fmt *o)
{
    long top, lsb;
    if (o->fixed) {
        top = o->I + 1;
        lsb = -o->F;
    } else {
        top = mpfr_get_exp(o->max);       /* max < 2^top */
        lsb = o->emin - o->Y;             /* every value is a multiple of 2^lsb */
    }
    long hi = (2 * top > top ? 2 * top : top) + 2;
    long lo = 2 * lsb < lsb ? 2 * lsb : lsb;
    long P = hi - lo + 16;
    long need = (o->fixed ? o->I + 2 * o->F + 2 * o->width : 2 * (o->Y + 1)) + 80;
    if (P < need)
        P = need;
    s->prec = (mpfr_prec_t)P;
    or_val_init(&s->a, s->prec);
    or_val_init(&s->b, s->prec);
    or_val_init(&s->c, s->prec);
    or_val_init(&s->r, s->prec);
    mpfr_init2(s->t, s->prec);
}

void or_ops_clear(or_ops *s)
{
    or_val_clear(&s->a);
    or_val_clear(&s->b);
    or_val_clear(&s->c);
    or_val_clear(&s->r);
    mpfr_clear(s->t);
}

static void special(or_plan *p, nr_class cls, int sign, int invalid)
{
    p->cls = cls;
    p->sign = sign;
    p->exact = 1;
    p->special_invalid = invalid;
    p->zero_sum = 0;
    p->tiny = 0;
}

/* r = signed value of v (exact: r has the full precision) */
static void sval(mpfr_t r, const or_val *v)
{
    int t = mpfr_set(r, v->mag, MPFR_RNDN);
    assert(t == 0);
    (void)t;
    if (v->sign)
        mpfr_neg(r, r, MPFR_RNDN);
}

/* Finish a finite signed result t (exact unless sticky) into the plan. */
static void finish(const or_fmt *o, or_ops *s, int sticky, or_plan *p)
{
    if (mpfr_zero_p(s->t) && !sticky) {
        special(p, NR_CLS_ZERO, 0, 0);
        p->zero_sum = 1; /* cancellation: +0, or -0 under rd ([rnd-4]) */
        return;
    }
    s->r.cls = NR_CLS_FINITE;
    s->r.sign = mpfr_sgn(s->t) < 0;
    s->r.sticky = sticky;
    mpfr_abs(s->r.mag, s->t, MPFR_RNDN);
    or_plan_make(o, &s->r, p);
}

/* Zero-plus-zero: equal signs keep the sign, else the cancellation rule. */
static void zero_sum(or_plan *p, int sa, int sb)
{
    special(p, NR_CLS_ZERO, sa, 0);
    p->zero_sum = sa != sb;
}

static void addsub(const or_fmt *o, or_ops *s, int negb, or_plan *p)
{
    const or_val *a = &s->a, *b = &s->b;
    int sb = b->sign ^ negb;
    if (a->cls == NR_CLS_INF || b->cls == NR_CLS_INF) {
        if (a->cls == NR_CLS_INF && b->cls == NR_CLS_INF && a->sign != sb)
            special(p, NR_CLS_NAN, 0, 1); /* inf - inf */
        else
            special(p, NR_CLS_INF, a->cls == NR_CLS_INF ? a->sign : sb, 0);
        return;
    }
    if (a->cls == NR_CLS_ZERO && b->cls == NR_CLS_ZERO) {
        zero_sum(p, a->sign, sb);
        return;
    }
    mpfr_t bb;
    mpfr_init2(bb, s->prec);
    sval(s->t, a);
    sval(bb, b);
    if (negb)
        mpfr_neg(bb, bb, MPFR_RNDN);
    int tern = mpfr_add(s->t, s->t, bb, MPFR_RNDN);
    assert(tern == 0 && "oracle precision too small for an exact sum");
    (void)tern;
    mpfr_clear(bb);
    finish(o, s, 0, p);
}

static void mul(const or_fmt *o, or_ops *s, or_plan *p)
{
    const or_val *a = &s->a, *b = &s->b;
    int sg = a->sign ^ b->sign;
    if (a->cls == NR_CLS_INF || b->cls == NR_CLS_INF) {
        if (a->cls == NR_CLS_ZERO || b->cls == NR_CLS_ZERO)
            special(p, NR_CLS_NAN, 0, 1); /* 0 * inf */
        else
            special(p, NR_CLS_INF, sg, 0);
        return;
    }
    if (a->cls == NR_CLS_ZERO || b->cls == NR_CLS_ZERO) {
        special(p, NR_CLS_ZERO, sg, 0);
        return;
    }
    int tern = mpfr_mul(s->t, a->mag, b->mag, MPFR_RNDN);
    assert(tern == 0);
    (void)tern;
    if (sg)
        mpfr_neg(s->t, s->t, MPFR_RNDN);
    finish(o, s, 0, p);
}

static void fma3(const or_fmt *o, or_ops *s, or_plan *p)
{
    const or_val *a = &s->a, *b = &s->b, *c = &s->c;
    int sg = a->sign ^ b->sign;
    int pinf = a->cls == NR_CLS_INF || b->cls == NR_CLS_INF;
    int pzero = a->cls == NR_CLS_ZERO || b->cls == NR_CLS_ZERO;
    if (pinf && pzero) {
        special(p, NR_CLS_NAN, 0, 1);
        return;
    }
    if (pinf) {
        if (c->cls == NR_CLS_INF && c->sign != sg)
            special(p, NR_CLS_NAN, 0, 1);
        else
            special(p, NR_CLS_INF, sg, 0);
        return;
    }
    if (c->cls == NR_CLS_INF) {
        special(p, NR_CLS_INF, c->sign, 0);
        return;
    }
    if (pzero && c->cls == NR_CLS_ZERO) {
        zero_sum(p, sg, c->sign);
        return;
    }
    mpfr_t cc;
    mpfr_init2(cc, s->prec);
    sval(cc, c);
    if (pzero) {
        mpfr_set(s->t, cc, MPFR_RNDN);
    } else {
        mpfr_t aa;
        mpfr_init2(aa, s->prec);
        mpfr_set(aa, a->mag, MPFR_RNDN);
        if (sg)
            mpfr_neg(aa, aa, MPFR_RNDN);
        int tern = mpfr_fma(s->t, aa, b->mag, cc, MPFR_RNDN);
        assert(tern == 0 && "oracle precision too small for an exact fma");
        (void)tern;
        mpfr_clear(aa);
    }
    mpfr_clear(cc);
    finish(o, s, 0, p);
}

static void divide(const or_fmt *o, or_ops *s, or_plan *p)
{
    const or_val *a = &s->a, *b = &s->b;
    int sg = a->sign ^ b->sign;
    if (a->cls == NR_CLS_INF && b->cls == NR_CLS_INF) {
        special(p, NR_CLS_NAN, 0, 1);
        return;
    }
    if (a->cls == NR_CLS_ZERO && b->cls == NR_CLS_ZERO) {
        special(p, NR_CLS_NAN, 0, 1);
        return;
    }
    if (a->cls == NR_CLS_INF || b->cls == NR_CLS_ZERO) {
        special(p, NR_CLS_INF, sg, 0); /* x / 0 is a signed infinity */
        return;
    }
    if (a->cls == NR_CLS_ZERO || b->cls == NR_CLS_INF) {
        special(p, NR_CLS_ZERO, sg, 0);
        return;
    }
    /* truncated: the true quotient lies strictly between t and t + ulp(t) */
    int tern = mpfr_div(s->t, a->mag, b->mag, MPFR_RNDZ);
    if (sg)
        mpfr_neg(s->t, s->t, MPFR_RNDN);
    finish(o, s, tern != 0, p);
}

static void root(const or_fmt *o, or_ops *s, or_plan *p)
{
    const or_val *a = &s->a;
    if (a->cls == NR_CLS_ZERO) {
        special(p, NR_CLS_ZERO, a->sign, 0); /* sqrt(-0) = -0 */
        return;
    }
    if (a->sign) {
        special(p, NR_CLS_NAN, 0, 1);
        return;
    }
    if (a->cls == NR_CLS_INF) {
        special(p, NR_CLS_INF, 0, 0);
        return;
    }
    int tern = mpfr_sqrt(s->t, a->mag, MPFR_RNDZ);
    finish(o, s, tern != 0, p);
}

void or_op_plan(const or_fmt *o, or_ops *s, or_op op, uint64_t a, uint64_t b, uint64_t c,
                or_plan *p)
{
    or_decode(o, a, &s->a);
    int nan = s->a.cls == NR_CLS_NAN;
    if (op != OR_SQRT) {
        or_decode(o, b, &s->b);
        nan |= s->b.cls == NR_CLS_NAN;
    }
    if (op == OR_FMA) {
        or_decode(o, c, &s->c);
        nan |= s->c.cls == NR_CLS_NAN;
    }
    if (nan) {
        special(p, NR_CLS_NAN, 0, 0); /* quiet propagation: INVALID left open */
        return;
    }
    switch (op) {
    case OR_ADD: addsub(o, s, 0, p); break;
    case OR_SUB: addsub(o, s, 1, p); break;
    case OR_MUL: mul(o, s, p); break;
    case OR_DIV: divide(o, s, p); break;
    case OR_FMA: fma3(o, s, p); break;
    case OR_SQRT: root(o, s, p); break;
    }
}
