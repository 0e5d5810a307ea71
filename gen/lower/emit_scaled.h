/* emit_scaled.h -- scaled formats in generated code (docs/semantics.md
 * [scl-dot-*], [scl-dot-engines]): the hooks plan.c and emit_layer.c call
 * and what emit_scaled.c (activations, weights, layout) and
 * emit_scaled_mac.c (the dot product) export.  Internal to gen/.
 *
 * Layout of a scaled activation tensor in the arena (the buffer of the
 * producing layer, or the network input): the values P*X as doubles (what
 * every non-MAC consumer reads: exact, [scl-dot-act]; with an fp32 or nv
 * scale P*X has more significant bits than fp32's 24), then at p_off the
 * element values P as float, then at x_off one scale X per group as a
 * double (NVFP4's s_t * s_b has 28 significant bits and reaches 2^-158,
 * which no float holds).  The producer writes its fp32 output (rounded as
 * [scl-dot-act] says) into the P region, and the quantization replaces
 * each value by its P in place.
 *
 * Scaled weights in the blob: the weight tensor holds the element values
 * P (float, exact: elements have at most 16 bits and float's range, checked
 * by gen_scaled_check) and, 8-aligned after them, one scale per group
 * (double); the bias tensor holds doubles, each the bias already rounded
 * at load ([scl-dot-bias]).  Why floats and doubles rather than packed
 * encodings: the MAC loop then needs no decode at all (a float load and a
 * conversion), and the values are bit-identical to the model's wq/wscale
 * (model_scaled.c computed them once, the emulator reads the same). */
#ifndef NUMREP_EMIT_SCALED_H
#define NUMREP_EMIT_SCALED_H

#include "plan.h"

/* ------------------------------------------------------------ emit_scaled.c */

/* The scaled format of tensor src (-1: the network input, which takes
 * layer 0's activations role), or NULL when it is not scaled. */
const nr_scaled *gen_scaled_act(const nr_model *m, int src);
/* MAC layer li runs the scaled dot product (as the emulator's el->scaled:
 * scaled weights or input, a scaled role, a block mac or promote). */
int gen_scaled_mac(const nr_model *m, int li);
/* What the generator cannot do (yet) with scaled formats: NR_EUNSUP with
 * the layer's name and why (static activation scales, elements outside
 * float, a scale product too wide for the exact shortcut). */
int gen_scaled_check(const nr_model *m, nr_err *err);

typedef struct gen_scaled_layout {
    uint64_t p_off, x_off; /* byte offsets of P (float) and X (double)  */
    uint64_t groups;       /* scales                                      */
    uint64_t bytes;        /* the whole buffer                            */
} gen_scaled_layout;
/* Layout of a scaled tensor of shape sh. */
void gen_scaled_act_layout(const nr_scaled *s, const int sh[3], gen_scaled_layout *l);
/* The format consumers read tensor src (-1: input) in: fp64 (the exact
 * P*X) when it is scaled, else its activation (input) format. */
const nr_format *gen_scaled_carrier(const nr_model *m, int src);
const nr_format *gen_scaled_f64(void);
/* Arena bytes of tensor src (-1: input): carrier only when unscaled. */
uint64_t gen_scaled_tensor_bytes(const nr_model *m, int src, uint64_t carrier);
/* Blob bytes of a scaled-weights layer's weight tensor and bias tensor. */
uint64_t gen_scaled_w_bytes(const nr_layer *L);
uint64_t gen_scaled_b_bytes(const nr_layer *L);
/* Over the scaled-weight layers of m: the bytes the blob spends on
 * scales (doubles), and the format's own storage ([scl-bits]): elements at
 * their width, packed, and one scale of 1 byte (e8m0, ue4m3, nv) or 4
 * (fp32) per group.  For `numrep build --size-report`. */
void gen_scaled_sizes(const nr_model *m, uint64_t *blob_scales, uint64_t *elem_bytes,
                      uint64_t *scale_bytes);
/* Fill them (zeroed memory): P floats and scales; biases rounded at load
 * ([scl-dot-bias]: to fp32 for block-fp32/promote, else S; SR term
 * BIASLOAD).  Returns 0. */
void gen_scaled_pack(const nr_model *m, int li, uint8_t *w, uint8_t *b);
/* Emit the quantization of the tensor in buf (shape sh, scaled format s)
 * in place ([scl-dot-act]): the carrier becomes P*X, P and X are written
 * beside it.  SR draws use c->layer, term QUANT, element = flat index. */
void gen_emit_scaled_quant(gen_lctx *c, const nr_scaled *s, nr_rounding mode, LLVMValueRef buf,
                           const int sh[3]);
/* The format of the outer sum of a scaled MAC (fp32 for block-fp32 and
 * promote, else S) and of a segment's partial sum (fp32 for block-fp32). */
const nr_format *gen_scaled_outer_fmt(const nr_layer *L);
const nr_format *gen_scaled_f32(void);
/* Significant bits of a scale: e8m0 1, ue4m3 4, fp32 24, nv 28; NULL 1. */
int gen_scaled_scale_bits(const nr_scaled *s);

/* Blob layout of a scaled weight tensor (element values and block
 * scales): output channels in blocks of GEN_SCALED_VL (the last block
 * narrower, w = min(VL, O - o0)), each block holding its M entries per
 * channel entry-major: entry j of channel o is at
 *   o0*M + j*w + (o - o0),   o0 = o - o % VL,
 * so the w channels of one entry are adjacent (one vector load for the
 * vector kernel, emit_scaled_vmac.c).  Element entries are ordered taps
 * outer, input channel inner (j = (ky*kw + kx)*cin_g + ci, the order
 * [scl-dot-order] visits them); block scales j = tap*nblocks + b (as
 * nr_model_layer_wgroup); channel scales are the identity; a tensor scale is
 * one double. */
enum { GEN_SCALED_VL = 16 };
uint64_t gen_scaled_wblk(uint64_t O, uint64_t M, uint64_t o, uint64_t j);
LLVMValueRef gen_scaled_wblk_ir(gen_lctx *c, uint64_t O, uint64_t M, LLVMValueRef o,
                                LLVMValueRef j);

/* ------------------------------------------------------------ emit_scaled_mac.c */

/* What the scaled dot product of layer li may take as shortcuts (the
 * [net-12] host-arithmetic paths of emit_scaled_mac.c; no_libm: a
 * bare-metal target). */
typedef struct gen_scaled_vinfo {
    const nr_scaled *ws, *xs;   /* scaled weights, input (NULL: plain)      */
    const nr_format *wef, *xef; /* their element (or plain) formats         */
    const nr_format *of;        /* the outer sum's format                   */
    nr_rounding mode;
    nr_mac_mode mac;
    int promote;
    int wfirst;      /* part * Xw is exact in double (else part * Xa)        */
    int fast_bf32;   /* block-fp32 rne, products exact: host float sums      */
    int fast_pow2;   /* ... and both scales powers of two                    */
    int fast_bexact; /* block-exact with segment sums exact in double        */
} gen_scaled_vinfo;
void gen_scaled_vinfo_of(const nr_model *m, int li, int no_libm, gen_scaled_vinfo *v);

/* Arena scratch bytes of scaled MAC layer li (the exact accumulator, or
 * the vector kernel's input copy; vector: the target takes vector kernels,
 * i.e. has libm, as plan.c's `vector`). */
uint64_t gen_scaled_mac_scratch(const nr_model *m, int li, int vector);
int gen_emit_scaled_mac(gen_lctx *c, int li, nr_err *err);

/* [scl-seq] the same dot product along one line, for the sequence ops
 * (emit_seq_scaled.c): term k reads element value p[first + k*stride] (a
 * float when scaled; else a value of the plain format ef, of the arena or
 * with blob of a blob tensor) and scale sc[k / block] (s NULL: X = 1). */
typedef struct gen_scaled_opnd {
    const nr_scaled *s;
    const nr_format *ef;
    LLVMValueRef p, first, sc;
    uint64_t stride, block;
    int blob;
} gen_scaled_opnd;
typedef struct gen_scaled_dot gen_scaled_dot;
/* ops: ws, xs, wef, xef of the two operands (the rest is filled here);
 * the exact accumulator of klimbs limbs from 2^klsb at c->scratch.  NULL
 * when out of memory. */
gen_scaled_dot *gen_scaled_dot_new(gen_lctx *c, int li, const gen_scaled_vinfo *ops, uint64_t K,
                                   int klsb, int klimbs);
/* The outer sum (double) of output elem, starting at bias (a double
 * before its rounding to the outer format, or NULL). */
LLVMValueRef gen_scaled_dot_line(gen_scaled_dot *d, LLVMValueRef elem, LLVMValueRef bias,
                                 const gen_scaled_opnd *w, const gen_scaled_opnd *a);
void gen_scaled_dot_free(gen_scaled_dot *d);
/* The exact accumulator of a scaled dot product with operands ws/wef and
 * xs/xef (NULL: plain) into L's accumulator, sized as emu_mac_size. */
void gen_scaled_ksize(const nr_layer *L, const nr_scaled *ws, const nr_scaled *xs,
                      const nr_format *wef, const nr_format *xef, int *lsb, int *limbs);

/* ------------------------------------------------------------ emit_scaled_vmac.c */

/* The vector kernel runs conv layer li: block-fp32 (fast_bf32) or
 * block-exact (fast_bexact) without promote or SR, both operands scaled,
 * segments that are whole blocks of the input channels at each tap (or
 * the whole dot product), output-channel blocks within one group, a
 * target with libm. */
int gen_scaled_vmac_applies(const nr_model *m, int li, int no_libm);
int gen_emit_scaled_vmac(gen_lctx *c, int li, const gen_scaled_vinfo *v, nr_err *err);
/* Its scratch: the input's element values P copied channels-last (float
 * [H][W][C]), so that the channels of a tap are adjacent in memory. */
uint64_t gen_scaled_vmac_scratch(const nr_model *m, int li);

/* ------------------------------------------------------------ emit_scaled_vquant.c */

/* The vector quantization applies to format s in mode (rne; e8m0 rules,
 * fp32/ue4m3/nv amax, static; signed fixed point or floats with
 * subnormals as elements; a target with libm). */
int gen_scaled_vquant_applies(const gen_lctx *c, const nr_scaled *s, nr_rounding mode);
/* Block granularity: every group of the positions below HW - HW % 8
 * (st: nv's tensor scale or NULL).  Returns the groups done, which are
 * the first ones (group = hw * nblocks + b). */
uint64_t gen_emit_scaled_vquant_blocks(gen_lctx *c, const nr_scaled *s, LLVMValueRef pbuf,
                                       LLVMValueRef buf, LLVMValueRef xbuf, LLVMValueRef st,
                                       const int sh[3]);
/* amax of the finite values of the n floats at pbuf into the double
 * alloca amax, special (i8 alloca or NULL) set when one is not finite. */
void gen_emit_scaled_vamax(gen_lctx *c, LLVMValueRef pbuf, uint64_t n, LLVMValueRef amax,
                           LLVMValueRef special);
/* One group of n contiguous elements with scale X (finite) and bad (i1:
 * the group is NaN): elements [0, n - n % 8).  Returns how many. */
uint64_t gen_emit_scaled_vquant_elems(gen_lctx *c, const nr_scaled *s, LLVMValueRef pbuf,
                                      LLVMValueRef buf, LLVMValueRef X, LLVMValueRef bad,
                                      uint64_t n);

#endif
