/* nlfn.c -- the nonlinear functions' names and the checks both
 * implementations share (nlfn.h, [nl-*] in docs/semantics.md). */
#include "nlfn.h"

#include <strings.h>

static const char *const names[] = {
#define X(e, n) n,
    NR_NLFN_LIST(X)
#undef X
};

const char *nr_nl_name(nr_nlfn fn)
{
    return (unsigned)fn < NR_NL_COUNT ? names[fn] : "?";
}

int nr_nl_parse(const char *s, nr_nlfn *out, nr_err *err)
{
    for (int i = 0; i < NR_NL_COUNT; i++)
        if (s && !strcasecmp(s, names[i])) {
            *out = (nr_nlfn)i;
            return 0;
        }
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "function",
                      "unknown nonlinear function '%s' (expected exp log erf tanh sigmoid sqrt "
                      "rsqrt reciprocal pow gelu gelu_tanh silu)",
                      s ? s : "");
}

int nr_nl_check(const nr_nl *f, nr_err *err)
{
    if ((unsigned)f->fn >= NR_NL_COUNT)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "function", "unknown function %d",
                          (int)f->fn);
    if (f->fn != NR_NL_POW)
        return 0;
    double t = 2.0 * f->p; /* exact: p is a double */
    if (!(t >= -2 * NR_NL_POW_MAX && t <= 2 * NR_NL_POW_MAX) || t != (double)(long)t)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "pow.exponent",
                          "pow's exponent %g is not an integer or half-integer in [-%d, %d] "
                          "([nl-pow])",
                          f->p, NR_NL_POW_MAX, NR_NL_POW_MAX);
    return 0;
}

const nr_format *nr_nl_target(const nr_format *f, nr_format *tmp)
{
    if (f->kind != NR_FIXED || f->saturate)
        return f;
    *tmp = *f;
    tmp->saturate = 1;
    return tmp;
}

uint64_t nr_nl_round(int x_is_nan, const nr_exact *y, const nr_format *out, nr_rounding mode,
                     uint32_t sr_bits, unsigned *flags)
{
    unsigned dummy = 0, *fl = flags ? flags : &dummy;
    if (y->cls == NR_CLS_NAN && !x_is_nan)
        *fl |= NR_FLAG_INVALID;
    nr_format tmp;
    return nr_round_exact(nr_nl_target(out, &tmp), mode, y, sr_bits, fl);
}

void nr_nl_exact_special(nr_exact *o, nr_class cls, int sign)
{
    o->cls = cls;
    o->sign = sign;
    o->exp = 0;
    o->sig = nr_u128_from(0);
    o->sticky = 0;
}

void nr_nl_exact_tiny(nr_exact *o, int sign)
{
    nr_nl_exact_special(o, NR_CLS_FINITE, sign);
    o->exp = -(1 << 30);
    o->sticky = 1;
}

void nr_nl_exact_huge(nr_exact *o, int sign)
{
    nr_nl_exact_special(o, NR_CLS_FINITE, sign);
    o->sig = nr_u128_from(1);
    o->exp = 1 << 30;
    o->sticky = 1;
}
