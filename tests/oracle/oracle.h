/* oracle.h -- an independent MPFR reference for numrep's formats, rounding and
 * arithmetic (docs/semantics.md [fmt-*], [rnd-*], [op-*]).
 *
 * Independence: the oracle reads only the user-facing fields of nr_format
 * (kind, exp_bits, man_bits, bias, subnormals, specials, saturate, int_bits,
 * frac_bits, is_signed) and derives everything else itself from the
 * semantics document.  It never calls libnumrep (the oracle library does not
 * even link it), so a wrong derived constant or a wrong rounding in the
 * runtime cannot hide here.  Values are MPFR numbers; rounding finds the two
 * neighbours lo/hi of [rnd-2] by explicit floor arithmetic on the gap and
 * applies each mode's rule literally. */
#ifndef NUMREP_ORACLE_H
#define NUMREP_ORACLE_H

#include <stdint.h>
#include <stdio.h> /* before mpfr.h: mpfr_fprintf */
#include <gmp.h>
#include <mpfr.h>

#include "numrep.h"
#include "scaled.h" /* types only */

/* The oracle's own reading of a format. */
typedef struct or_fmt {
    int fixed;
    int X, Y, bias;          /* float */
    int sub, sat;            /* subnormals; saturating (incl. -finite) */
    nr_specials sp;
    int I, F, sgn;           /* fixed */
    int width;
    int emin;                /* float: exponent of 2^emin, smallest normal */
    int has_inf, has_nan, has_negzero;
    uint64_t nan_bits, inf_bits, max_bits;
    mpfr_t max;              /* largest finite magnitude (exact)        */
    mpfr_t fmin;             /* fixed: most negative value's magnitude (2^I) */
} or_fmt;

/* Returns 0, or -1 when the oracle itself thinks the fields describe no valid
 * format (tests compare this with nr_format_finish's verdict). */
int or_fmt_init(or_fmt *o, const nr_format *f);
void or_fmt_clear(or_fmt *o);

/* An exact value: (-1)^sign * mag, plus an infinitesimal positive amount in
 * magnitude when sticky (the nr_exact meaning: strictly between mag and the
 * next multiple of a fine power of two). */
typedef struct or_val {
    nr_class cls;
    int sign;
    int sticky;
    mpfr_t mag; /* >= 0; meaningful for NR_CLS_FINITE */
} or_val;

void or_val_init(or_val *v, mpfr_prec_t prec);
void or_val_clear(or_val *v);
/* Exact copy of an nr_exact (sig up to 128 bits). */
void or_val_from_exact(or_val *v, const nr_exact *x);
/* nr_exact holding v's value (mag must fit 128 significant bits). */
void or_val_to_exact(const or_val *v, nr_exact *x);

/* [fmt-1..3,6] decode one encoding exactly into v (prec >= 70). */
void or_decode(const or_fmt *o, uint64_t bits, or_val *v);
/* 0 for encodings the semantics say are never produced: -nosub exponent-0
 * nonzero mantissa, and NaN encodings other than the canonical one. */
int or_canonical(const or_fmt *o, uint64_t bits);

/* A result: the bits, the flags, and which flags the semantics define
 * unambiguously for this case (compare (flags ^ lib) & care). */
typedef struct or_res {
    uint64_t bits;
    unsigned flags;
    unsigned care;
} or_res;

/* Everything about rounding one exact value, computed once for all modes. */
typedef struct or_plan {
    nr_class cls;
    int sign;
    int exact;            /* value is in the (unbounded) value set       */
    int tie;              /* exactly halfway between lo and hi           */
    int above_mid;        /* strictly nearer hi                          */
    int lo_even;          /* lo is an even multiple of the gap g          */
    uint64_t th;          /* SR: hi iff r < th = ceil(f * 2^32)           */
    int tiny;             /* nonzero and |x| < 2^emin (float)             */
    int special_invalid;  /* op set this: INVALID must be raised          */
    int zero_sum;         /* exact zero from cancellation: +0, -0 under rd */
    mpfr_t lo, hi;        /* magnitudes; lo == x when exact               */
} or_plan;

void or_plan_init(or_plan *p);
void or_plan_clear(or_plan *p);
/* Neighbours etc. of v in format o. */
void or_plan_make(const or_fmt *o, const or_val *v, or_plan *p);
/* Result of mode m with random draw r (used only by NR_RND_SR). */
void or_plan_pick(const or_fmt *o, const or_plan *p, nr_rounding m, uint32_t r, or_res *out);
/* Convenience: plan + pick. */
void or_round(const or_fmt *o, nr_rounding m, const or_val *v, uint32_t r, or_res *out);

/* ---------------------------------------------------------------- operations */
typedef enum { OR_ADD, OR_SUB, OR_MUL, OR_DIV, OR_FMA, OR_SQRT } or_op;
const char *or_op_name(or_op op);

/* Scratch values for or_op_plan (precision chosen for the format). */
typedef struct or_ops {
    mpfr_prec_t prec;
    or_val a, b, c, r;
    mpfr_t t;
} or_ops;

void or_ops_init(or_ops *s, const or_fmt *o);
void or_ops_clear(or_ops *s);
/* Exact result of op on encodings (c used only by FMA, b not by SQRT) as a
 * plan for every mode; invalid operations set p->special_invalid, exact zero
 * sums set p->zero_sum (their sign depends on the mode, [rnd-4]). */
void or_op_plan(const or_fmt *o, or_ops *s, or_op op, uint64_t a, uint64_t b, uint64_t c,
                or_plan *p);

/* ---------------------------------------------------------------- scaled formats
 * oracle_scaled.c: [scl-scale], [scl-nv], [scl-elem], [scl-special] from the
 * user-facing fields of nr_scaled (its element's too). */
typedef struct or_scaled_group {
    double scale;        /* X; NaN for a NaN group */
    uint64_t scale_bits; /* encoding (nv: the ue4m3 block scale) */
    int clipped, zero, nan;
} or_scaled_group;

/* NVFP4's fp32 tensor scale for a tensor amax. */
double or_scaled_tensor_scale(const nr_scaled *s, double amax);
/* One group x[0..n) in mode (sr[i]: element i's draw, NULL for none), with
 * the tensor scale for nv / the static scale.  Element values to p.
 * 0, or -1 when the given scale is not a value of its format. */
int or_scaled_quantize(const nr_scaled *s, const double *x, size_t n, nr_rounding mode,
                       const uint32_t *sr, double tensor_scale, double *p, or_scaled_group *g);

/* Printable flag names ("INEXACT|UNDERFLOW"), into buf. */
const char *or_flags_str(unsigned fl, char *buf, size_t n);

#endif
