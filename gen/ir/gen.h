/* gen.h -- the generator's internal header: the LLVM handles every emitter
 * shares (gen_ctx), and the prototypes of the gen/ files grouped by file.
 * Only gen/ includes llvm-c; nothing here is public API. */
#ifndef NUMREP_GEN_H
#define NUMREP_GEN_H

/* Table of contents of gen/ir/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   emit.c          gen_ctx: context, module, builder, host target machine; optimise,
 *                   print [gen.h]
 *   emit_num.c      narrow-number arithmetic as IR: decode, round, exact sums and products
 *                   [gen.h]
 *   emit_num_int.c  the same in integer instructions only (no double hardware) [gen.h]
 *   emit_num_rt.c   rounding into a format given at run time (the format-as-data engine)
 *                   [emit_num_rt.h]
 */

#include "numrep.h"

#include <llvm-c/Core.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

/* ------------------------------------------------------------ emit.c --
 * One module under construction.  The context is a ThreadSafeContext's, so
 * the finished module can be handed to the JIT (jit.c) without copying. */
typedef struct gen_ctx {
    LLVMOrcThreadSafeContextRef tsc; /* owns ctx (shared with modules made from it) */
    LLVMContextRef ctx;
    LLVMModuleRef mod;               /* NULL once moved into a JIT */
    LLVMBuilderRef b;
    LLVMTargetMachineRef tm;         /* host machine: data layout, passes */
    LLVMTargetDataRef td;
    /* types used everywhere */
    LLVMTypeRef i1, i8, i16, i32, i64, i128, f64;
    unsigned kind_alwaysinline;      /* attribute kind id */
    int no_libm;                     /* bare-metal target: no libm calls (round/floor/...) */
    int avx512f;                     /* target has AVX-512F: 512-bit adds with a rounding
                                      * mode of their own (emit_vmac.c); host's by default */
    int int_narrow;                  /* no double-precision hardware: narrow formats in
                                      * integer instructions (emit_num_int.c) */
    int f32_hw;                      /* ... but a single-precision FPU (Cortex-M4/M7):
                                      * emit_facc.c */
} gen_ctx;

/* Create a context with an empty module named `name` for the host target
 * (native target initialised once per process by LLVM itself). */
int gen_emit_new(const char *name, gen_ctx **out, nr_err *err);
/* LLVMVerifyModule; an invalid module is NR_EINTERNAL with LLVM's message. */
int gen_emit_verify(gen_ctx *g, nr_err *err);
/* Run the new pass manager pipeline "default<O2>" (level 0..3). */
int gen_emit_optimize(gen_ctx *g, int level, nr_err *err);
/* Textual IR (caller frees with LLVMDisposeMessage), for debugging/--emit llvm. */
char *gen_emit_print(gen_ctx *g);
void gen_emit_free(gen_ctx *g);
/* Helpers for emitters. */
LLVMTypeRef gen_emit_int_type(gen_ctx *g, int bits);
LLVMTypeRef gen_emit_container_type(gen_ctx *g, const nr_format *f);
LLVMValueRef gen_emit_const(LLVMTypeRef t, uint64_t v);
/* Declare function `name` of type fty with the entry block selected;
 * alwaysinline when inl. */
LLVMValueRef gen_emit_function(gen_ctx *g, const char *name, LLVMTypeRef fty, int inl);
/* Call an intrinsic by name, e.g. "llvm.ctlz" overloaded on type t. */
LLVMValueRef gen_emit_intrinsic(gen_ctx *g, const char *name, LLVMTypeRef t,
                                LLVMValueRef *args, unsigned nargs);

/* -------------------------------------------------------- emit_num.c --
 * IR for narrow-number arithmetic, bit-exact with runtime/num/round.c and
 * codec.c.  The format and the mode are compile-time constants.  The
 * value-level emitters insert at g->b's position; the gen_num_fn_*
 * functions wrap them in a whole alwaysinline function (used by tests and
 * as call targets; the inliner removes the calls). */

/* An exact value in IR, like nr_exact: (-1)^sign * sig * 2^exp (+ sticky).
 * cls flags are i1; sig has any integer width (64 or 128). */
typedef struct gen_exact {
    LLVMValueRef is_nan, is_inf, is_zero; /* i1; none set: finite nonzero */
    LLVMValueRef sign;                    /* i1 */
    LLVMValueRef exp;                     /* i32: exponent of sig's bit 0 */
    LLVMValueRef sig;                     /* iW, nonzero when finite */
    LLVMValueRef sticky;                  /* i1 */
} gen_exact;

/* [rnd-*] exact value -> encoding (i64), mirrors nr_round_exact. */
LLVMValueRef gen_num_round(gen_ctx *g, const nr_format *f, nr_rounding mode,
                           const gen_exact *x, LLVMValueRef sr_bits);
/* A double's exact value (sig i64, like nr_exact_from_double). */
void gen_num_exact_f64(gen_ctx *g, LLVMValueRef x, gen_exact *out);
/* Encoding (i64) -> double, exact (mirrors nr_decode). */
LLVMValueRef gen_num_decode(gen_ctx *g, const nr_format *f, LLVMValueRef bits);
/* The same as a float, for formats whose values are all floats
 * (gen_num_decode_f32_ok): bits is iN or a vector of iN, the result float
 * or a vector of float; NULL when f does not qualify. */
/* i1 (or a vector of i1): the encoding bits (iN or a vector of iN) is a
 * NaN of f ([fmt-3]); NULL when f has no NaN. */
LLVMValueRef gen_num_is_nan(gen_ctx *g, const nr_format *f, LLVMValueRef bits);
/* A constant of integer or float type t (iv or fv, whichever t takes), or
 * its splat when t is a vector (of at most 64 lanes). */
LLVMValueRef gen_num_splat_const(LLVMTypeRef t, uint64_t iv, double fv);
int gen_num_decode_f32_ok(const nr_format *f);
LLVMValueRef gen_num_decode_f32(gen_ctx *g, const nr_format *f, LLVMValueRef bits);
/* Exact a*b of two doubles (sig i128). */
void gen_num_exact_mul(gen_ctx *g, LLVMValueRef a, LLVMValueRef b, gen_exact *out);
/* Exact x+y of two exact values into width W (64 or 128) with sticky;
 * zero_rd_neg: exact zero sums are -0 (mode rd), [rnd-4]. */
void gen_num_exact_add(gen_ctx *g, const gen_exact *x, const gen_exact *y, int W,
                       int zero_rd_neg, gen_exact *out);
/* round(a+b) for doubles a, b, exact (TwoSum fast path where it is valid). */
LLVMValueRef gen_num_round_sum(gen_ctx *g, const nr_format *f, nr_rounding mode,
                               LLVMValueRef a, LLVMValueRef b, LLVMValueRef sr_bits);
/* round(a*b) for doubles a, b holding values of formats fa, fb (exact). */
LLVMValueRef gen_num_round_prod(gen_ctx *g, const nr_format *fp, nr_rounding mode,
                                const nr_format *fa, const nr_format *fb, LLVMValueRef a,
                                LLVMValueRef b, LLVMValueRef sr_bits);
/* round(a*b + c) once, exact, for any doubles. */
LLVMValueRef gen_num_round_fma(gen_ctx *g, const nr_format *f, nr_rounding mode,
                               LLVMValueRef a, LLVMValueRef b, LLVMValueRef c,
                               LLVMValueRef sr_bits);
/* nr_sr_bits(seed, layer, element, term) in IR (i64, i32, i64, i32 -> i32). */
LLVMValueRef gen_num_sr_bits(gen_ctx *g, LLVMValueRef seed, LLVMValueRef layer,
                             LLVMValueRef element, LLVMValueRef term);

/* Whole functions (names are the caller's; each is alwaysinline):
 *   decode:    iC (bits)                 -> double
 *   round_f64: double, i32 sr            -> iC
 *   round_sum: double, double, i32 sr    -> iC
 *   mul:       iA, iB, i32 sr            -> iP     (rounded into fp)
 *   fma:       iA, iB, iP, i32 sr        -> iP     (a*b + c, one rounding)
 *   sr_bits:   i64, i32, i64, i32        -> i32 */
LLVMValueRef gen_num_fn_decode(gen_ctx *g, const char *name, const nr_format *f);
LLVMValueRef gen_num_fn_round_f64(gen_ctx *g, const char *name, const nr_format *f,
                                  nr_rounding mode);
LLVMValueRef gen_num_fn_round_sum(gen_ctx *g, const char *name, const nr_format *f,
                                  nr_rounding mode);
LLVMValueRef gen_num_fn_mul(gen_ctx *g, const char *name, const nr_format *fa,
                            const nr_format *fb, const nr_format *fp, nr_rounding mode);
LLVMValueRef gen_num_fn_fma(gen_ctx *g, const char *name, const nr_format *fa,
                            const nr_format *fb, const nr_format *fp, nr_rounding mode);
LLVMValueRef gen_num_fn_sr_bits(gen_ctx *g, const char *name);

/* ---------------------------------------------------- emit_num_int.c --
 * Narrow arithmetic in integer instructions only (targets without double
 * hardware, gen_ctx.int_narrow); bit-exact with emit_num.c's double path.
 * Encodings are i64 (or narrower) in, i64 out unless said otherwise. */
/* f's values unpack into 32/64-bit integers here (float prec <= 29,
 * saturating fixed point up to 30 bits). */
int gen_numi_fmt_ok(const nr_format *f);
/* An unfused (fused: 1, one rounding of acc + w*x) MAC with these formats
 * and mode can take the integer path (not sr). */
int gen_numi_ok(const nr_format *wf, const nr_format *xf, const nr_format *pf,
                const nr_format *sf, nr_rounding mode, int fused);
/* Encoding of f -> exact value with an integer significand. */
void gen_numi_unpack(gen_ctx *g, const nr_format *f, LLVMValueRef bits, gen_exact *out);
/* An encoding of `from` rounded into `to` (mode not sr). */
LLVMValueRef gen_numi_round(gen_ctx *g, const nr_format *from, const nr_format *to,
                            nr_rounding mode, LLVMValueRef bits);
/* The shared noinline step function i32 (acc, w, x) -> i32 new acc of a
 * MAC: unfused round_S(acc + round_P(w*x)), fused round_S(acc + w*x). */
LLVMValueRef gen_numi_fn_step(gen_ctx *g, const nr_format *wf, const nr_format *xf,
                              const nr_format *pf, const nr_format *sf, nr_rounding mode,
                              int fused);
/* The same function with a branchy 32-bit fast path for the common case
 * (finite operands, normal results) in front of it; the general step when
 * the formats are too wide for it. */
LLVMValueRef gen_numi_fn_fast_step(gen_ctx *g, const nr_format *wf, const nr_format *xf,
                                   const nr_format *pf, const nr_format *sf, nr_rounding mode,
                                   int fused);
/* float32 bits (i32) rounded into `to`; f's encoding as float32 bits (i32,
 * exact: gen_numi_to_f32_ok says every value of f is a float). */
LLVMValueRef gen_numi_from_f32(gen_ctx *g, const nr_format *to, nr_rounding mode,
                               LLVMValueRef fbits);
int gen_numi_to_f32_ok(const nr_format *f);
LLVMValueRef gen_numi_to_f32(gen_ctx *g, const nr_format *from, LLVMValueRef bits);

/* ------------------------------------------------------------- jit.c --
 * ORC LLJIT: compile once, run many. */
typedef struct gen_jit gen_jit;
int gen_jit_new(gen_jit **out, nr_err *err);
/* Move g's module into the JIT (g->mod becomes NULL even on failure: the
 * JIT consumes the module either way, see jit.c). */
int gen_jit_add(gen_jit *j, gen_ctx *g, nr_err *err);
/* Address of a defined symbol (compiles on first lookup). */
int gen_jit_lookup(gen_jit *j, const char *name, void **addr, nr_err *err);
/* The data layout string modules for this JIT must carry. */
const char *gen_jit_data_layout(gen_jit *j);
void gen_jit_free(gen_jit *j);

#endif
