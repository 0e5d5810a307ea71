/* plan.h -- what the model emitters share (plan.c, emit_layer.c,
 * emit_mac.c, emit_ops.c, model_jit.c): the compile plan (where every
 * buffer lives in the per-sample arena, where every weight tensor lives in
 * the packed blob) and small IR helpers.  Internal to gen/.
 *
 * The blob ([--pack container], the default): each tensor (a layer's
 * weights, its biases) starts 64-byte aligned, each encoding in its
 * format's container (1/2/4/8 bytes, little-endian).
 * [--pack dense]: each tensor starts on a byte boundary and holds its
 * encodings LSB-first back to back, value k at bit k*width, so a tensor
 * takes ceil(count*width/8) bytes.  No padding between tensors: those whose
 * width fills a container (8/16/32/64 bits: plain little-endian arrays,
 * read as in container mode) come first, widest first, so each is
 * naturally aligned; the bit-packed ones follow.  The blob ends with
 * GEN_DENSE_PAD zero bytes (not counted as weight bytes) so gen_ir_load_w may
 * read 8 bytes at any value's first byte. */
#ifndef NUMREP_GEN_PLAN_H
#define NUMREP_GEN_PLAN_H

/* Table of contents of gen/lower/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   emit_layer.c       the module driver: one function per distinct layer, numrep_sample,
 *                      entry points [model_gen.h]
 *   emit_mac.c         conv, dense, unfolded batchnorm as scalar IR loops [plan.h]
 *   emit_mac_int.c     the same in integer instructions only [plan.h]
 *   emit_facc.c        a narrow dot product on a single-precision FPU (Cortex-M4) [iacc.h]
 *   emit_iacc.c        a dot product's accumulator in integer registers (Cortex-M) [iacc.h]
 *   emit_ops.c         every other op [plan.h]
 *   emit_ops_int.c     max pooling and the elementwise add in integer code [plan.h]
 *   emit_scaled.c      scaled formats in generated code (quantization, layouts) [emit_scaled.h]
 *   emit_scaled_mac.c  the dot product of a MAC layer with scaled operands [emit_scaled.h]
 *   emit_scaled_vmac.c the vector kernel of a conv with scaled operands [emit_scaled.h]
 *   emit_scaled_vquant.c the dynamic quantization of an activation as vector code
 *                      [emit_scaled.h]
 *   emit_seq.c         the sequence ops (transformers) [plan.h]
 *   emit_seq_lm.c      the causal language model ops [emit_seq.h]
 *   emit_seq_scaled.c  scaled formats on the sequence ops' dot products [emit_seq.h]
 *   emit_vmac.c        conv layers as explicit vector code [plan.h]
 *   fmtdata_mac.c      the format-as-data MAC layer (run-time formats) [fmtdata.h]
 *   ir_tools.c         the IR toolbox the emitters share (a leaf: calls only gen/ir and
 *                      runtime; what it needs from the plan is data on gen_plan) [plan.h]
 *   plan.c             the compile plan: arena, blob, vector-kernel choice;
 *                      gen_plan_model_check [plan.h, model_gen.h]
 */

#include "model_gen.h"

/* emit_vmac.c: conv layers as explicit vector code (see there).  Whether
 * a layer takes the kernel, and how: decided once by gen_plan_build
 * (gen_emit_vmac_plan, refused for scaled MACs) and stored on the planned
 * layer (gen_plan_layer.vmac), which the emitters read. */
typedef struct gen_vmac {
    int ok;            /* the vector kernel applies                        */
    int host;          /* [net-12] fp32 rne: host float arithmetic, no checks */
    int f32;           /* lanes are float, else double                      */
    int wdirect;       /* fp32 weights: read from the blob, not decoded     */
    int vl, nv, co;    /* lanes per vector, vectors per row, channels per block */
    int rpv;           /* output rows per vector (short rows), else 1       */
    int wp, padl;      /* decoded input: row length per stride phase, left pad */
    uint64_t wdec_off, xdec_off; /* scratch offsets of decoded weights, input */
    uint64_t scratch;  /* bytes                                              */
    int pbound, sbound; /* overflow checked once per call from max|x|: of the
                        * products, of the rz sums (emit_vmac.c)            */
    uint64_t xlim;     /* then the bound on |x|, a lane value's bits; it comes
                        * from the weights, so the layer function takes it
                        * as an argument (gen_lctx.xlim)                    */
    int ptiny;         /* float lanes whose products are exact unless tiny:
                        * checked per call from min|w|, min|x| (emit_vmac.c) */
} gen_vmac;

/* One layer's placement. */
typedef struct gen_plan_layer {
    uint64_t out_off;       /* arena offset of the output (encodings in containers) */
    uint64_t count;         /* values per sample                                  */
    uint64_t scratch_off;   /* arena scratch for lrn/softmax doubles or the exact
                             * accumulator's limbs (0 bytes when unused)           */
    uint64_t scratch_size;
    uint64_t w_off, b_off;  /* blob BYTE offsets of rounded weights / biases (W format) */
    int has_bias;
    int last_use;           /* index of the last layer that reads this output     */
    int klsb, klimbs;       /* exact MAC mode: accumulator bit 0 weight, limbs     */
    gen_vmac vmac;          /* the vector conv kernel (vmac.ok: the layer takes it) */
    /* answers the IR toolbox reads (ir_tools.c stays a leaf): */
    int wbits;              /* the weight/bias tensors (W format) are bit-packed:
                             * dense blob, and the width does not fill a container */
    const nr_format *in_fmt[8]; /* format of each input (nr_layer.inputs): a scaled
                             * tensor's carrier (gen_scaled_carrier), else its A
                             * format or the network input's; NULL when unused */
} gen_plan_layer;

typedef struct gen_plan {
    int nlayers;
    gen_plan_layer *ly;
    uint64_t in_off, in_count; /* the rounded network input                       */
    uint64_t arena_size;       /* bytes per sample                                */
    uint64_t out_count;
    int dense;                 /* weights packed densely ([--pack dense])          */
    uint64_t weight_bytes;     /* the tensors' bytes, summed: no alignment, no pad */
} gen_plan;

#define GEN_DENSE_PAD 8u

/* The alignment (bytes) every tensor of f has in p's blob. */
unsigned gen_plan_w_align(const gen_plan *p, const nr_format *f);

/* Plan buffers and pack the weights (rounded to each layer's W format,
 * [net-1]) into w; vector: 0 no vector kernels, 1 yes, GEN_VMAC_COMPACT
 * the compact one (gen_emit_vmac_plan) (w->size: the blob with its alignment or pad).  Fails with NR_EUNSUP for formats wider than a double
 * holds exactly (the emulator refuses them too, [net-2]). */
int gen_plan_build(const nr_model *m, int pack_dense, int vector, gen_plan *p, gen_weights *w,
                   nr_err *err);
void gen_plan_free(gen_plan *p);

/* ------------------------------------------------------------ IR helpers
 * (ir_tools.c, a leaf the emitters share)  Loops use an alloca'd counter (mem2reg makes it a phi). */
typedef struct gen_loop {
    LLVMValueRef var;           /* alloca i64 */
    LLVMValueRef i;             /* current index (i64) inside the body */
    LLVMBasicBlockRef head, body, exit;
} gen_loop;

/* Everything a layer emitter needs.  A layer function addresses its
 * buffers through its pointer arguments (out, in, scratch, w, b), never
 * through arena or blob offsets, and draws SR bits with the layer index
 * it is passed: so layers that differ only in where their data lives (the
 * repeated blocks of a deep network) generate the same function, which
 * emit_layer.c then emits once and calls for each of them. */
typedef struct gen_lctx {
    gen_ctx *g;
    const nr_model *m;
    const gen_plan *p;
    LLVMTypeRef ptr;
    LLVMValueRef fn;            /* the function being built */
    LLVMValueRef weights;       /* @numrep_weights                */
    LLVMBuilderRef ab;          /* positioned in the entry block: allocas */
    LLVMBasicBlockRef entry;
    int unaligned_ok;           /* unaligned integer loads are cheap (not ARMv6-M) */
    /* the layer function's arguments */
    LLVMValueRef out;           /* its output buffer (arena)              */
    LLVMValueRef in[8];         /* its input buffers (nr_layer.inputs)    */
    LLVMValueRef scratch;       /* its scratch (arena), NULL when none    */
    LLVMValueRef w, b;          /* its weight and bias tensors (blob)     */
    LLVMValueRef layer;         /* i32: the layer index of SR draws       */
    LLVMValueRef xlim;          /* the vector conv kernel's gen_vmac.xlim */
    int wbits;                  /* its weight tensors are bit-packed (gen_plan_layer.wbits) */
} gen_lctx;

void gen_ir_loop_begin(gen_lctx *c, gen_loop *l, uint64_t n, const char *name);
/* for (i = from; i < to; i++), signed i64 bounds */
void gen_ir_loop_range(gen_lctx *c, gen_loop *l, LLVMValueRef from, LLVMValueRef to, const char *name);
void gen_ir_loop_end(gen_lctx *c, gen_loop *l);
LLVMValueRef gen_ir_alloca(gen_lctx *c, LLVMTypeRef t, const char *name);
LLVMValueRef gen_ir_i64(gen_lctx *c, uint64_t v);
/* Encoding i of the arena buffer buf (a pointer), as i64 (zero-extended). */
LLVMValueRef gen_ir_load_enc(gen_lctx *c, const nr_format *f, LLVMValueRef buf, LLVMValueRef i);
void gen_ir_store_enc(gen_lctx *c, const nr_format *f, LLVMValueRef buf, LLVMValueRef i,
                   LLVMValueRef bits);
/* Weight/bias encoding i of the blob tensor t (c->w or c->b), f the
 * layer's W format: a container load, or a bit extraction when the plan
 * bit-packs the layer's tensors (c->wbits). */
LLVMValueRef gen_ir_load_w(gen_lctx *c, const nr_format *f, LLVMValueRef t, LLVMValueRef i);
/* Encoding (i64) -> exact double; fp32/bf16 by the hardware conversion. */
LLVMValueRef gen_ir_decode(gen_lctx *c, const nr_format *f, LLVMValueRef bits);
LLVMValueRef gen_ir_load_dec(gen_lctx *c, const nr_format *f, LLVMValueRef buf, LLVMValueRef i);
/* Round the double v (exact value) to f: SR draw (c->layer, elem, term)
 * when mode is sr.  Returns the encoding (i64). */
LLVMValueRef gen_ir_round_val(gen_lctx *c, const nr_format *f, nr_rounding mode,
                           LLVMValueRef v, LLVMValueRef elem, uint32_t term);
LLVMValueRef gen_ir_sr(gen_lctx *c, nr_rounding mode, LLVMValueRef elem, LLVMValueRef term);
/* [net-5] store the MAC/op result acc (an exact S value, double) of layer
 * li as round_A(acc) (term OUT) into its output c->out, element elem.
 * When every S value is an A value the rounding is the identity and only
 * the encoding is built (fp32: the hardware conversion). */
void gen_ir_store_out(gen_lctx *c, int li, LLVMValueRef acc, LLVMValueRef elem);
/* The encoding of v, a value of f (exactly): no rounding happens, so no
 * mode and no SR draw. */
LLVMValueRef gen_ir_encode_val(gen_lctx *c, const nr_format *f, LLVMValueRef v);
/* Declared runtime helper (runtime/rt/rt.h) by name and type. */
LLVMValueRef gen_ir_rt_fn(gen_lctx *c, const char *name, LLVMTypeRef fty);

/* emit_mac.c: conv, dense, unfolded batchnorm.  emit_ops.c: the rest. */
int gen_emit_mac(gen_lctx *c, int li, nr_err *err);
/* The exact sum of the Kulisch accumulator at kst (nr_rt_kacc_get) as a
 * gen_exact, for rounding mode mode (emit_mac.c; the scaled MAC too). */
void gen_emit_kacc_result(gen_lctx *c, LLVMValueRef kst, nr_rounding mode, gen_exact *x);
int gen_emit_ops(gen_lctx *c, int li, nr_err *err);
/* Output row oh of channel o (i64 values) of MAC layer li by the scalar
 * row code: the vector kernel's fallback (emit_vmac.c). */
int gen_emit_mac_row(gen_lctx *c, int li, LLVMValueRef o, LLVMValueRef oh, nr_err *err);

/* emit_seq.c: the sequence ops ([op-seq]).  check: 0 when the generator
 * runs layer li (a sequence op), else NR_EUNSUP naming it; has_w: the
 * layer has blob tensors (linear, layernorm, add_const); wpos: where
 * weight k goes in its blob tensor (linear's is packed transposed);
 * scratch: arena bytes the layer needs (pl's klimbs set). */
int gen_seq_check(const nr_model *m, int li, nr_err *err);
int gen_seq_has_w(const nr_layer *L);
uint64_t gen_seq_wpos(const nr_layer *L, uint64_t k);
uint64_t gen_seq_scratch(const nr_layer *L, const gen_plan_layer *pl);
int gen_emit_seq(gen_lctx *c, int li, nr_err *err);
/* emit_mac.c: linear and matmul, as MACs (emit_seq.c calls it). */
int gen_emit_mac_seq(gen_lctx *c, int li, nr_err *err);
/* emit_ops.c: [net-6] the exact a / n (i64 n >= 1) rounded once to f, SR
 * term term: the encoding. */
LLVMValueRef gen_emit_div_count(gen_lctx *c, const nr_format *f, nr_rounding mode, LLVMValueRef a,
                           LLVMValueRef n, LLVMValueRef elem, uint32_t term);

/* emit_mac_int.c: the same layers in integer instructions only, for
 * targets without double hardware (gen_ctx.int_narrow); gen_emit_mac
 * hands a layer over when gen_emit_mac_int_applies. */
int gen_emit_mac_int_applies(const gen_lctx *c, int li);
int gen_emit_mac_int(gen_lctx *c, int li, nr_err *err);
/* emit_ops_int.c: max pooling on encodings in integer code (the same
 * targets); gen_emit_ops hands a layer over when gen_emit_maxpool_int_applies. */
int gen_emit_maxpool_int_applies(const gen_lctx *c, int li);
void gen_emit_maxpool_int(gen_lctx *c, int li);
/* ... and the elementwise add of two tensors (residual connections). */
int gen_emit_add_int_applies(const gen_lctx *c, int li);
void gen_emit_add_int(gen_lctx *c, int li);

/* emit_vmac.c: the vector kernel's plan for layer li (gen_plan_build
 * stores it on the planned layer; emitters read gen_plan_layer.vmac).
 * allowed 0: never (bare-metal targets keep the compact scalar code: the
 * kernel's decoded copies would multiply a microcontroller's arena);
 * GEN_VMAC_COMPACT: the kernel with at most 4 accumulator vectors per
 * block (code at -O0, where compiling dominates: the search's R^2 runs). */
#define GEN_VMAC_COMPACT 2
void gen_emit_vmac_plan(const nr_model *m, int li, int allowed, gen_vmac *v);
int gen_emit_vmac(gen_lctx *c, int li, const gen_vmac *v, nr_err *err);
/* ir_tools.c: P = S = fp32, rne, W and A values all fp32 values: host
 * float arithmetic is the layer's arithmetic ([net-12]). */
int gen_ir_mac_fast32(const nr_layer *L, const nr_format *xf);
/* ir_tools.c: f equals the preset named name. */
int gen_ir_fmt_is(const nr_format *f, const char *name);
/* f is exactly IEEE binary32 (e8m23, bias 127, subnormals, inf/NaN). */
int gen_ir_fmt_ieee32(const nr_format *f);
/* Format of input i of layer li (gen_plan_layer.in_fmt). */
const nr_format *gen_ir_in_fmt(const gen_lctx *c, int li, int i);

#endif
