/* emit_num_rt.h -- rounding with run-time format parameters ("format as
 * data", issue 15): the exports of gen/ir/emit_num_rt.c.
 *
 * emit_num.c emits rounding for a format known when the IR is built; here
 * the format is a small parameter block (gen_rtfmt) read when the code runs,
 * so one compiled function serves every format of a search's grid.  Rounding
 * to a float eXmY toward zero keeps the top bits of a double's significand:
 * an AND with a mask whose width depends on the format (and, below the
 * smallest normal, on the value's exponent); a fixed-point qI.F is the same
 * with every value "subnormal" (one quantum 2^-F); both then clamp to the
 * format's finite range.  A run-time mask costs what a constant one does.
 *
 * Scope (gen_numrt_fmt_make refuses the rest with NR_EUNSUP, and callers then
 * use the specialised emitters): rounding mode rz; float formats whose
 * every value and quantum is a normal double (emin - man_bits >= -1000,
 * emax <= 1000), any bias, subnormals or not, any specials variant, any
 * overflow flag (rz never rounds up to infinity); fixed point that
 * saturates, signed or unsigned, up to 53 magnitude bits.  Values are
 * doubles holding values of the format (decode(encode(x)) = nr_round). */
#ifndef NUMREP_EMIT_NUM_RT_H
#define NUMREP_EMIT_NUM_RT_H

#include "gen.h"

/* The parameter block of one format, as the generated code reads it
 * (gen_numrt_type mirrors this layout: 13 fields of 8 bytes). */
typedef struct gen_rtfmt {
    int64_t cap;     /* significand bits kept below the leading bit: man_bits
                      * (float), 52 (fixed point: only the quantum limits)   */
    int64_t qmin;    /* exponent of the smallest quantum: emin - man_bits
                      * (float), -frac_bits (fixed)                           */
    double ftz;      /* |x| < ftz rounds to zero: 2^emin without subnormals,
                      * else 0                                                */
    double hi, lo;   /* the largest and the most negative finite value      */
    double pinf, ninf, nan; /* what +inf, -inf and NaN round to (nr_round's
                             * answer: NaN, +-inf, +-max or 0 by variant)  */
    int64_t negzero; /* 1: -0 is a value of the format; 0: -0 becomes +0    */
    /* the shortcuts of gen_numrt_round_kind */
    int64_t kind;    /* GEN_RT_FLOAT_NOSUB, GEN_RT_FIXED or GEN_RT_GENERIC     */
    int64_t mask;    /* float: the double's bits kept in the normal range     */
    double scale, quantum; /* fixed: 2^frac_bits and 2^-frac_bits             */
} gen_rtfmt;

/* Which rounding formula a gen_rtfmt admits besides the generic one. */
enum { GEN_RT_GENERIC = 0, GEN_RT_FLOAT_NOSUB = 1, GEN_RT_FIXED = 2 };

/* The parameters of f for rounding mode `mode`; NR_EUNSUP (err says why)
 * outside the scope above. */
int gen_numrt_fmt_make(const nr_format *f, nr_rounding mode, gen_rtfmt *out, nr_err *err);

/* The IR struct type of gen_rtfmt. */
LLVMTypeRef gen_numrt_type(gen_ctx *g);

/* A gen_rtfmt's fields as IR values (loaded once, e.g. per layer). */
typedef struct gen_numrt {
    LLVMValueRef cap, qmin;          /* i64 */
    LLVMValueRef ftz, hi, lo, pinf, ninf, nan; /* double */
    LLVMValueRef negzero;            /* i1 */
    LLVMValueRef mask;               /* i64 */
    LLVMValueRef scale, quantum;     /* double */
} gen_numrt;

/* Load the block at ptr (a pointer to gen_numrt_type) at g->b's position. */
void gen_numrt_load(gen_ctx *g, LLVMValueRef ptr, gen_numrt *out);

/* rz(x) into the format of p: x is a double or a vector of doubles (the
 * parameters are splatted), any double. */
LLVMValueRef gen_numrt_round(gen_ctx *g, const gen_numrt *p, LLVMValueRef x);
/* The same for finite x when p's kind is `kind` (not checked): a float
 * without subnormals keeps mask's bits and flushes below 2^emin; fixed
 * point truncates x * 2^F; both then clamp.  GEN_RT_GENERIC: as above. */
LLVMValueRef gen_numrt_round_kind(gen_ctx *g, const gen_numrt *p, LLVMValueRef x, int kind);
/* rz(a + b) of the exact sum into the format of p, for finite doubles a, b
 * whose sum does not overflow double (TwoSum: the double nearest below in
 * magnitude, then gen_numrt_round; rz twice is rz once because the
 * format's values are doubles). */
LLVMValueRef gen_numrt_round_sum(gen_ctx *g, const gen_numrt *p, LLVMValueRef a,
                                 LLVMValueRef b);
/* The same with gen_numrt_round_kind; an <8 x double> sum on a target with
 * AVX-512F is one add rounded toward zero (embedded rounding). */
LLVMValueRef gen_numrt_round_sum_kind(gen_ctx *g, const gen_numrt *p, LLVMValueRef a,
                                      LLVMValueRef b, int kind);

/* Whole alwaysinline functions for tests and call targets:
 *   round:     double, ptr -> double
 *   round_sum: double, double, ptr -> double */
LLVMValueRef gen_numrt_fn_round(gen_ctx *g, const char *name);
LLVMValueRef gen_numrt_fn_round_sum(gen_ctx *g, const char *name);

#endif
