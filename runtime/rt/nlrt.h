/* nlrt.h -- numrep's own correctly rounded nonlinear functions, for
 * generated code ([nl-impl] in docs/semantics.md): pure C on integers and
 * IEEE doubles (+ - * / only, no libm, no fma), so every platform computes
 * the same bits (128-bit integers are u128.h's nr_u128, as in nr_exact: two
 * uint64_t halves on 32-bit targets such as Cortex-M).  The functions and their semantics are
 * those of nlfn.h; the results equal the MPFR oracle's bit for bit
 * (tests/check_nlfn.c).  Inputs and targets: formats of at most 32 bits. */
#ifndef NUMREP_NLRT_H
#define NUMREP_NLRT_H

#include <stddef.h>
#include <stdint.h>
#include "nlfn.h"

/* ---- nlrt.c */
/* 0 if (b) handles f from `in` into `out` (both at most 32 bits wide, a
 * supported exponent), else NR_EUNSUP. */
int nr_nlrt_supported(const nr_nl *f, const nr_format *in, const nr_format *out, nr_err *err);
/* The exact value of f(x) for x a value of a <= 32-bit format, as an
 * nr_exact fit for rounding into `out` in `mode` ([nl-impl]).  Returns 0;
 * returns 1 when the fast evaluation could not decide the rounding (the
 * enclosure straddles a rounding boundary, never observed in the tests; see
 * [nl-impl]): *res then holds the approximation's nearest truncation. */
int nr_nlrt_exact(const nr_nl *f, double x, const nr_format *out, nr_rounding mode,
                  nr_exact *res);
/* f(x) for the encoding x of `in`, rounded into `out`. */
uint64_t nr_nlrt(const nr_nl *f, const nr_format *in, uint64_t x, const nr_format *out,
                 nr_rounding mode, uint32_t sr_bits, unsigned *flags);

/* ---- nlrt_table.c: one (function, input format <= 16 bits, output
 * format, mode other than sr) as a table of every input's result and flags,
 * built once with nr_nlrt; then a lookup per element. */
typedef struct nr_nltab nr_nltab;
int nr_nltab_new(const nr_nl *f, const nr_format *in, const nr_format *out, nr_rounding mode,
                 nr_nltab **tab, nr_err *err);
void nr_nltab_free(nr_nltab *t);
/* The result of one encoding (flags or-ed into *flags when not NULL). */
uint64_t nr_nltab_get(const nr_nltab *t, uint64_t x, unsigned *flags);
/* n packed encodings of `in` (its container, little-endian) -> n of `out`. */
void nr_nltab_apply(const nr_nltab *t, const void *in, void *out, size_t n);

/* ---- nlrt_gen.c: called by generated code (emit_seq.c): f (an nr_nlfn,
 * no pow) of the value x correctly rounded into out, or the exact a / b
 * rounded once into out; the result as its double value. */
double nr_nlrt_gen(int fn, double x, const nr_format *out, int mode, uint32_t sr_bits);
double nr_nlrt_gen_div(double a, double b, const nr_format *out, int mode, uint32_t sr_bits);

#endif
