/* emit_seq.h -- what the sequence-op emitters share (internal to gen/lower).
 *   emit_seq.c     [op-seq] .. [op-layernorm]: the helpers below, and the
 *                  planning hooks of plan.h (gen_seq_*)
 *   emit_seq_lm.c  [op-lm]: embedding, rmsnorm, rope, silu, mul,
 *                  causal_softmax (gen_lm_*), called by emit_seq.c
 *   emit_seq_scaled.c  [scl-seq]: linear and matmul with scaled formats, a
 *                  block mac or promote (gen_seq_scaled_*), called by emit_seq.c */
#ifndef NUMREP_GEN_EMIT_SEQ_H
#define NUMREP_GEN_EMIT_SEQ_H

#include "plan.h"
#include "nlfn.h"

/* SR terms of the rounding steps, as emu_seq.c and emu_seq_lm.c number
 * them ([op-nl], [op-softmax], [op-layernorm], [op-rmsnorm], [op-rope]). */
enum {
    T_NL = 1, T_SUB = 2, T_SUM = 3, T_MEAN = 4, T_DEV = 5, T_SQ = 6, T_VSUM = 7, T_VAR = 8,
    T_EPS = 9, T_NORM = 10, T_GAIN = 11, T_ROT_C = 12, T_ROT_S = 13
};

/* emit_seq.c */
/* 0 when the generator's nonlinear functions take values of xf into L's
 * nonlinear format (at most 32 bits each), else NR_EUNSUP naming L. */
int gen_seq_nl_ok(const nr_layer *L, const nr_format *xf, nr_err *err);
/* The layer's SR draw for (elem, term) (0 outside sr). */
LLVMValueRef gen_seq_draw(gen_lctx *c, nr_rounding mode, LLVMValueRef elem, uint32_t term);
/* round_f(a + b), round_f(a * b) (a, b values of fa, fb) as doubles. */
LLVMValueRef gen_seq_add_r(gen_lctx *c, const nr_format *f, nr_rounding md, LLVMValueRef a,
                           LLVMValueRef b, LLVMValueRef elem, uint32_t term);
LLVMValueRef gen_seq_mul_r(gen_lctx *c, const nr_format *f, nr_rounding md,
                           const nr_format *fa, const nr_format *fb, LLVMValueRef a,
                           LLVMValueRef b, LLVMValueRef elem, uint32_t term);
/* [op-nl] fn(x) correctly rounded into L's nonlinear format (term NL). */
LLVMValueRef gen_seq_nl(gen_lctx *c, const nr_layer *L, nr_nlfn fn, LLVMValueRef x,
                        LLVMValueRef elem);
/* The constant v rounded to layer li's weight format as the emulator's
 * load rounds it (element 0, term term). */
LLVMValueRef gen_seq_const_w(gen_lctx *c, int li, double v, uint32_t term);
/* [op-softmax] one line of layer li's input: n (i64) values at
 * base + i*stride; the scratch holds n doubles. */
void gen_seq_softmax_line(gen_lctx *c, int li, LLVMValueRef base, uint64_t stride,
                          LLVMValueRef n);

/* emit_seq_lm.c ([op-lm]): for an op nr_model_seq_lm_is names. */
int gen_seq_lm_check(const nr_model *m, int li, nr_err *err);
int gen_seq_lm_has_w(const nr_layer *L);
uint64_t gen_seq_lm_scratch(const nr_layer *L);
int gen_seq_lm_emit(gen_lctx *c, int li, nr_err *err);

/* emit_seq_scaled.c ([scl-seq]): the layer is a linear or matmul with
 * scaled weights or operands, a block mac or promote. */
int gen_seq_scaled(const nr_layer *L);
int gen_seq_scaled_check(const nr_model *m, int li, nr_err *err);
uint64_t gen_seq_scaled_scratch(const nr_layer *L);
int gen_emit_seq_scaled(gen_lctx *c, int li, nr_err *err);

#endif
