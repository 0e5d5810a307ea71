/* format.c -- the format descriptor: validation, derived constants,
 * presets and canonical names.  This file alone knows what a format's
 * fields mean ([fmt-*] in docs/semantics.md); everything else reads the
 * constants nr_format_finish() derives.  Parsing names and YAML long forms
 * is in format_parse.c. */
#include "numrep.h"
#include "format_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int default_bias(int exp_bits, nr_specials sp)
{
    return sp == NR_SPECIALS_FNUZ ? 1 << (exp_bits - 1) : (1 << (exp_bits - 1)) - 1;
}

int nr_format_default_bias(int exp_bits, nr_specials sp)
{
    return default_bias(exp_bits, sp);
}

static int finish_float(nr_format *f, nr_err *err)
{
    const int X = f->exp_bits, Y = f->man_bits;
    if (X < 1 || X > 11)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "exponent bits",
                          "%d exponent bits; allowed 1..11", X);
    if (Y < 0 || Y > 52)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "mantissa bits",
                          "%d mantissa bits; allowed 0..52", Y);
    if ((unsigned)f->specials > NR_SPECIALS_FINITE)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "specials",
                          "unknown specials policy %d", (int)f->specials);
    if (f->specials == NR_SPECIALS_IEEE && Y == 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "specials",
                          "e%dm0 with IEEE specials has no NaN encoding; "
                          "use -fn, -fnuz or -finite", X);
    if (f->specials == NR_SPECIALS_FINITE)
        f->saturate = 1; /* [fmt-4] nothing to overflow to */
    f->subnormals = !!f->subnormals;
    f->saturate = !!f->saturate;

    const uint64_t emask_field = (1ull << X) - 1;   /* all-ones exponent field */
    const uint64_t mmax = Y ? (1ull << Y) - 1 : 0;  /* all-ones mantissa field */
    uint64_t etop, mtop; /* exponent and mantissa fields of +max finite */
    switch (f->specials) {
    case NR_SPECIALS_IEEE:
        etop = emask_field - 1, mtop = mmax;
        break;
    case NR_SPECIALS_FN: /* all-ones exp is finite except all-ones mantissa */
        if (Y >= 1)
            etop = emask_field, mtop = mmax - 1;
        else
            etop = emask_field - 1, mtop = 0;
        break;
    default: /* FNUZ, FINITE: the top binade is all finite */
        etop = emask_field, mtop = mmax;
        break;
    }
    /* With X = 1 and IEEE/FN specials, the only finite binade would be E = 0:
     * no normal numbers at all.  Such a format has no sensible emax. */
    if (etop == 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "format",
                          "e%dm%d with these specials has no normal numbers; "
                          "use -finite or more exponent bits", X, Y);
    if (f->bias < -100000 || f->bias > 100000)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "bias",
                          "bias %d is far outside binary64's range", f->bias);

    f->width = 1 + X + Y;
    f->prec = Y + 1;
    f->emin = 1 - f->bias;
    f->emax = (int)((int64_t)etop - f->bias);
    /* [fmt-5] every value must be exactly a binary64 value */
    if (f->emax > 1023)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "bias",
                          "bias %d puts the largest value at 2^%d, beyond binary64 "
                          "(exponent at most 1023); use a larger bias", f->bias, f->emax);
    if (f->emin - Y < -1074)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "bias",
                          "bias %d puts the smallest value at 2^%d, below binary64's "
                          "2^-1074; use a smaller bias", f->bias, f->emin - Y);

    f->has_inf = f->specials == NR_SPECIALS_IEEE;
    f->has_nan = f->specials != NR_SPECIALS_FINITE;
    f->has_negzero = f->specials != NR_SPECIALS_FNUZ;
    f->sign_mask = 1ull << (X + Y);
    f->exp_mask = emask_field << Y;
    f->man_mask = mmax;
    f->max_bits = etop << Y | mtop;
    f->min_bits = 0;
    f->inf_bits = f->has_inf ? f->exp_mask : 0;
    switch (f->specials) {
    case NR_SPECIALS_IEEE: f->nan_bits = f->exp_mask | 1ull << (Y - 1); break;
    case NR_SPECIALS_FN: f->nan_bits = f->exp_mask | mmax; break;
    case NR_SPECIALS_FNUZ: f->nan_bits = f->sign_mask; break;
    default: f->nan_bits = 0; break;
    }
    f->max_finite = ldexp(1.0 + ldexp((double)mtop, -Y), f->emax);
    f->min_normal = ldexp(1.0, f->emin);
    f->min_subnormal = ldexp(1.0, f->subnormals ? f->emin - Y : f->emin);
    f->epsilon = ldexp(1.0, -Y);
    f->lowest = -f->max_finite;
    /* positive nonzero finite magnitudes */
    double pos = f->subnormals ? (double)mmax : 0.0;
    pos += (double)(etop - 1) * ldexp(1.0, Y) + (double)mtop + 1;
    f->finite_count = 2 * pos + 1;
    return 0;
}

static int finish_fixed(nr_format *f, nr_err *err)
{
    const int I = f->int_bits, F = f->frac_bits;
    f->is_signed = !!f->is_signed;
    f->saturate = !!f->saturate;
    if (I < 0 || F < 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "fixed",
                          "integer and fraction bits must be >= 0 (got %d.%d)", I, F);
    int width = (f->is_signed ? 1 : 0) + I + F;
    if (width < 1 || width > 64)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "fixed",
                          "%sq%d.%d is %d bits wide; allowed 1..64 (%s)",
                          f->is_signed ? "" : "u", I, F, width,
                          f->is_signed ? "1+I+F <= 64" : "I+F <= 64");
    f->width = width;
    f->prec = I + F;
    f->emin = f->emax = 0;
    f->has_inf = f->has_nan = f->has_negzero = 0;
    f->sign_mask = f->is_signed ? 1ull << (width - 1) : 0;
    f->exp_mask = 0;
    f->man_mask = width == 64 ? ~0ull : (1ull << width) - 1;
    uint64_t mag = I + F == 64 ? ~0ull : (1ull << (I + F)) - 1; /* largest magnitude */
    f->max_bits = mag;
    f->min_bits = f->is_signed ? 1ull << (width - 1) : 0;
    f->inf_bits = f->nan_bits = 0;
    /* above 53 magnitude bits this double is rounded; saturation uses max_bits */
    f->max_finite = ldexp((double)mag, -F);
    f->lowest = f->is_signed ? -ldexp(1.0, I) : 0.0;
    f->min_normal = f->min_subnormal = f->epsilon = ldexp(1.0, -F);
    f->finite_count = ldexp(1.0, width);
    return 0;
}

int nr_format_finish(nr_format *f, nr_err *err)
{
    int rc = f->kind == NR_FIXED ? finish_fixed(f, err) : finish_float(f, err);
    if (rc)
        return rc;
    f->container = f->width <= 8 ? 1 : f->width <= 16 ? 2 : f->width <= 32 ? 4 : 8;
    return 0;
}

int nr_format_float(nr_format *f, int exp_bits, int man_bits, nr_err *err)
{
    memset(f, 0, sizeof *f);
    f->kind = NR_FLOAT;
    f->exp_bits = exp_bits;
    f->man_bits = man_bits;
    f->subnormals = 1;
    f->specials = NR_SPECIALS_IEEE;
    f->bias = exp_bits >= 1 && exp_bits <= 11 ? default_bias(exp_bits, f->specials) : 0;
    return nr_format_finish(f, err);
}

int nr_format_fixed(nr_format *f, int int_bits, int frac_bits, int is_signed, nr_err *err)
{
    memset(f, 0, sizeof *f);
    f->kind = NR_FIXED;
    f->int_bits = int_bits;
    f->frac_bits = frac_bits;
    f->is_signed = is_signed;
    f->saturate = 1;
    return nr_format_finish(f, err);
}

int nr_format_equal(const nr_format *a, const nr_format *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == NR_FIXED)
        return a->int_bits == b->int_bits && a->frac_bits == b->frac_bits &&
               a->is_signed == b->is_signed && a->saturate == b->saturate;
    return a->exp_bits == b->exp_bits && a->man_bits == b->man_bits && a->bias == b->bias &&
           a->subnormals == b->subnormals && a->specials == b->specials &&
           a->saturate == b->saturate;
}

int nr_format_fits_f32(const nr_format *f)
{
    /* fixed: n * 2^-F with |n| <= 2^(I+F), F <= 64: exact iff n fits 24 bits */
    if (f->kind == NR_FIXED)
        return f->prec <= 24;
    /* float: precision, largest exponent and lowest bit within float32's */
    return f->man_bits <= 23 && f->emax <= 127 && f->emin - f->man_bits >= -149;
}

/* ---------------------------------------------------------------- presets */

/* [fmt-7] */
static const struct nr_preset {
    const char *name;
    nr_kind kind;
    int a, b;          /* float: exp, man; fixed: int, frac */
    nr_specials sp;    /* float */
    int is_signed;     /* fixed */
} presets[] = {
    {"fp64", NR_FLOAT, 11, 52, NR_SPECIALS_IEEE, 0},
    {"fp32", NR_FLOAT, 8, 23, NR_SPECIALS_IEEE, 0},
    {"tf32", NR_FLOAT, 8, 10, NR_SPECIALS_IEEE, 0},
    {"fp16", NR_FLOAT, 5, 10, NR_SPECIALS_IEEE, 0},
    {"bf16", NR_FLOAT, 8, 7, NR_SPECIALS_IEEE, 0},
    {"e4m3", NR_FLOAT, 4, 3, NR_SPECIALS_FN, 0},
    {"e5m2", NR_FLOAT, 5, 2, NR_SPECIALS_IEEE, 0},
    {"e3m2", NR_FLOAT, 3, 2, NR_SPECIALS_FINITE, 0},
    {"e2m3", NR_FLOAT, 2, 3, NR_SPECIALS_FINITE, 0},
    {"e2m1", NR_FLOAT, 2, 1, NR_SPECIALS_FINITE, 0},
    {"int8", NR_FIXED, 7, 0, 0, 1},
    {"int16", NR_FIXED, 15, 0, 0, 1},
    {"int32", NR_FIXED, 31, 0, 0, 1},
    {"uint8", NR_FIXED, 8, 0, 0, 0},
    {"int4", NR_FIXED, 3, 0, 0, 1},   /* scaled int4 elements [scl-elem] */
    {"uint4", NR_FIXED, 4, 0, 0, 0},
};
#define NPRESETS (sizeof presets / sizeof presets[0])

int nr_format_preset_count(void) { return (int)NPRESETS; }
const char *nr_format_preset_name(int i) { return presets[i].name; }

/* Fill f from preset i (validated). Name matching is the caller's. */
int nr_format_preset(int i, nr_format *f, nr_err *err)
{
    const struct nr_preset *p = &presets[i];
    if (p->kind == NR_FIXED)
        return nr_format_fixed(f, p->a, p->b, p->is_signed, err);
    memset(f, 0, sizeof *f);
    f->kind = NR_FLOAT;
    f->exp_bits = p->a;
    f->man_bits = p->b;
    f->subnormals = 1;
    f->specials = p->sp;
    f->bias = default_bias(p->a, p->sp);
    return nr_format_finish(f, err);
}

void nr_format_name(const nr_format *f, char *buf, size_t n)
{
    for (size_t i = 0; i < NPRESETS; i++) {
        nr_format p;
        if (nr_format_preset((int)i, &p, NULL) == 0 && nr_format_equal(&p, f)) {
            snprintf(buf, n, "%s", presets[i].name);
            return;
        }
    }
    if (f->kind == NR_FIXED) {
        snprintf(buf, n, "%sq%d.%d%s", f->is_signed ? "" : "u", f->int_bits, f->frac_bits,
                 f->saturate ? "" : "-wrap");
        return;
    }
    char bias[24] = "";
    if (f->bias != default_bias(f->exp_bits, f->specials))
        snprintf(bias, sizeof bias, "-b%d", f->bias);
    static const char *const sp[] = {"", "-fn", "-fnuz", "-finite"};
    const char *spn = sp[f->specials];
    if (f->specials == NR_SPECIALS_IEEE) {
        /* "e4m3" alone is the fn preset, so an IEEE e4m3 must say -ieee */
        char base[24];
        snprintf(base, sizeof base, "e%dm%d", f->exp_bits, f->man_bits);
        for (size_t i = 0; i < NPRESETS; i++)
            if (presets[i].kind == NR_FLOAT && presets[i].sp != NR_SPECIALS_IEEE &&
                !strcmp(presets[i].name, base))
                spn = "-ieee";
    }
    snprintf(buf, n, "e%dm%d%s%s%s%s", f->exp_bits, f->man_bits, bias,
             f->subnormals ? "" : "-nosub", spn,
             f->saturate && f->specials != NR_SPECIALS_FINITE ? "-sat" : "");
}
