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

/* The accumulator of emit_facc.c: the float32 bits of the S value (i32
 * alloca), and what the terms need. */
typedef struct gen_facc {
    const nr_format *wf, *xf, *pf, *sf;
    uint32_t lo_p, hi_p;   /* |w*x| bits rounded by integer code */
    uint32_t lo_s, hi_s;   /* |acc + p| bits rounded by integer code */
    int w_finite;          /* every weight of the layer is finite */
    LLVMValueRef acc;      /* alloca (i32) */
    LLVMValueRef tw, tx;   /* decode tables (formats up to 8 bits) or NULL */
    LLVMValueRef tof, fromf, slow; /* out-of-line helpers */
    LLVMTypeRef conv_ty, slow_ty;
} gen_facc;

/* emit_iacc.c */
/* f is a float format whose every magnitude in [smallest nonzero, max_bits]
 * is finite nonzero and whose smaller magnitudes are zeros (checked over
 * every encoding). */
int gen_iacc_range_proved(const nr_format *f);
/* A new internal noinline function (the out-of-line helpers); the builder
 * is left in its entry. */
LLVMValueRef gen_iacc_new_fn(gen_ctx *g, const char *name, LLVMTypeRef fty);
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

/* emit_facc.c (targets with a single-precision FPU, gen_ctx.f32_hw) */
int gen_facc_ok(const gen_ctx *g, const nr_format *wf, const nr_format *xf, const nr_format *pf,
                const nr_format *sf, nr_rounding mode, int fused);
void gen_facc_init(gen_lctx *c, gen_facc *fa, const nr_format *wf, const nr_format *xf,
                   const nr_format *pf, const nr_format *sf, int w_finite);
/* acc = the S encoding enc (i32) */
void gen_facc_set(gen_lctx *c, gen_facc *fa, LLVMValueRef enc);
/* acc = round_S(acc + round_P(w*x)), rne */
void gen_facc_term(gen_lctx *c, gen_facc *fa, LLVMValueRef w, LLVMValueRef x);
/* acc as an S encoding (i32) */
LLVMValueRef gen_facc_get(gen_lctx *c, gen_facc *fa);

#endif
