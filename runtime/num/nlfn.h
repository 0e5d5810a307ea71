/* nlfn.h -- nonlinear functions (exp, log, erf, tanh, sigmoid, sqrt, rsqrt,
 * reciprocal, pow with a constant exponent, gelu, gelu_tanh, silu), each the
 * correctly rounded value of the exact real function in any format and any
 * rounding mode ([nl-*] in docs/semantics.md).
 *
 * Two implementations give the same bits:
 *   - the oracle here (nlfn_mpfr.c, MPFR), used by the emulator: any input
 *     and target format;
 *   - numrep's own libm-free one in runtime/rt/nlrt.h, for generated code:
 *     inputs and targets of at most 32 bits.
 * Both hand an exact value (nr_exact, with sticky) to nr_round_exact. */
#ifndef NUMREP_NLFN_H
#define NUMREP_NLFN_H

#include "numrep.h"

/* X-macro: enum suffix, name.  One list, used everywhere. */
#define NR_NLFN_LIST(X)                                                                       \
    X(EXP, "exp")                                                                             \
    X(LOG, "log")                                                                             \
    X(ERF, "erf")                                                                             \
    X(TANH, "tanh")                                                                           \
    X(SIGMOID, "sigmoid")                                                                     \
    X(SQRT, "sqrt")                                                                           \
    X(RSQRT, "rsqrt")                                                                         \
    X(RECIP, "reciprocal")                                                                    \
    X(POW, "pow")                                                                             \
    X(GELU, "gelu")                                                                           \
    X(GELU_TANH, "gelu_tanh")                                                                 \
    X(SILU, "silu")

typedef enum {
#define X(e, n) NR_NL_##e,
    NR_NLFN_LIST(X)
#undef X
    NR_NL_COUNT
} nr_nlfn;

/* A function with its constant: p is pow's exponent (ignored otherwise). */
typedef struct nr_nl {
    nr_nlfn fn;
    double p;
} nr_nl;

/* [nl-pow] pow's exponent: an integer or half-integer with |p| <= this. */
#define NR_NL_POW_MAX 16

/* ---- nlfn.c */
const char *nr_nl_name(nr_nlfn fn);
int nr_nl_parse(const char *s, nr_nlfn *out, nr_err *err);
/* 0 if fn is a known function with a supported constant, else NR_EUNSUP. */
int nr_nl_check(const nr_nl *f, nr_err *err);
/* [nl-wrap] The format a nonlinear result is rounded into: f itself, or
 * for a -wrap fixed-point format its saturating twin (copied into *tmp). */
const nr_format *nr_nl_target(const nr_format *f, nr_format *tmp);
/* Exact results: an infinity/NaN/zero of the given sign; "nonzero, below
 * every format" (sig 0 + sticky at 2^-2^30) and "beyond every format"
 * (2^2^30 + sticky), which round like any value that small or large
 * ([rnd-2], [rnd-3]). */
void nr_nl_exact_special(nr_exact *o, nr_class cls, int sign);
void nr_nl_exact_tiny(nr_exact *o, int sign);
void nr_nl_exact_huge(nr_exact *o, int sign);
/* Round y = f(x) into out ([nl-round]): NR_FLAG_INVALID for a NaN from a
 * non-NaN x ([rnd-7]), the [nl-wrap] target, then nr_round_exact. */
uint64_t nr_nl_round(int x_is_nan, const nr_exact *y, const nr_format *out, nr_rounding mode,
                     uint32_t sr_bits, unsigned *flags);

/* ---- nlfn_mpfr.c: the oracle
 * The exact function value of the exact input x as an nr_exact: the value
 * truncated to NR_NL_MPFR_BITS significant bits plus sticky (enough for
 * correct rounding into every format in every mode, sr included), or an
 * infinity, NaN or exact zero.  x must not carry sticky.  Returns 0, or
 * NR_EUNSUP for an unsupported exponent, NR_EINTERNAL if the Ziv loop of a
 * composed function did not settle (never observed; docs [nl-oracle]). */
#define NR_NL_MPFR_BITS 120
int nr_nl_exact_mpfr(const nr_nl *f, const nr_exact *x, nr_exact *out, nr_err *err);
/* f(x) for x an encoding of `in`, rounded into `out`: the encoding.  On an
 * error (see above) returns out's NaN (or 0) and sets NR_FLAG_INVALID. */
uint64_t nr_nl_mpfr(const nr_nl *f, const nr_format *in, uint64_t x, const nr_format *out,
                    nr_rounding mode, uint32_t sr_bits, unsigned *flags);

#endif
