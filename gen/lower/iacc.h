/* iacc.h -- the unpacked integer accumulator of a dot product on targets
 * without double hardware (emit_iacc.c; used by emit_mac_int.c). */
#ifndef NUMREP_GEN_IACC_H
#define NUMREP_GEN_IACC_H

#include "plan.h"

/* The accumulator's state lives in two i32 allocas: A != 0: the S value
 * A * 2^Ae (A signed, |A| < 2^(prec(S)+1)); A == 0: Ae is the S encoding
 * (a zero, infinity or NaN). */
typedef struct gen_iacc {
    const nr_format *wf, *xf, *pf, *sf;
    nr_rounding mode;
    int fused;
    int D;                 /* alignment window of the fast sum (bits) */
    int grid;              /* A counts 2^qmin(S) units, Ae fixed (see grid_sum) */
    int far_keep;          /* acc + (product D bits below) is acc (rne/rna) */
    int shmax_p, shmax_s;  /* largest rounding shifts the fast roundings can meet */
    int eq_p, eq_s;        /* smallest exponents (of bit 0) they are given */
    LLVMValueRef A, Ae;    /* allocas (i32) */
    LLVMValueRef slow, state, enc; /* out-of-line helpers */
    LLVMTypeRef slow_ty, state_ty, enc_ty;
} gen_iacc;

/* emit_iacc.c */
int gen_iacc_ok(const nr_format *wf, const nr_format *xf, const nr_format *pf,
                const nr_format *sf, nr_rounding mode, int fused);
void gen_iacc_init(gen_lctx *c, gen_iacc *ia, const nr_format *wf, const nr_format *xf,
                   const nr_format *pf, const nr_format *sf, nr_rounding mode, int fused);
/* state = the S encoding enc (i32) */
void gen_iacc_set(gen_lctx *c, gen_iacc *ia, LLVMValueRef enc);
/* state = round_S(state + w*x) (fused) or round_S(state + round_P(w*x)) */
void gen_iacc_term(gen_lctx *c, gen_iacc *ia, LLVMValueRef w, LLVMValueRef x);
/* The state as an S encoding (i32). */
LLVMValueRef gen_iacc_get(gen_lctx *c, gen_iacc *ia);

#endif
