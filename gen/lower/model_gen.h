/* model_gen.h -- from a validated nr_model to an LLVM module, and the
 * contract between the module builder (plan.c, emit_layer.c, emit_mac.c,
 * emit_ops.c), the JIT path (model_jit.c) and the AOT path (aot.c).
 *
 * The module defines (C ABI, names fixed, documented in templates/model.h.in):
 *   int      numrep_model_run(const float *in, float *out, int n);
 *            n samples, in/out float32 C-order; uses the runtime thread pool;
 *            returns 0.  The arena comes from a static buffer (AOT) or the
 *            JIT's allocation: no heap inside.
 *   int      numrep_model_run_arena(const float *in, float *out, int n, void *arena);
 *            single-threaded, caller-supplied arena of numrep_model_arena_size() bytes
 *            (the heap-free entry point for microcontrollers).
 *   uint64_t numrep_model_input_size(void);   floats per sample
 *   uint64_t numrep_model_output_size(void);  floats per sample
 *   uint64_t numrep_model_arena_size(void);   bytes, planned by liveness
 *   void     numrep_model_input_shape(int shape[3]);  / _output_shape
 * Weights are NOT LLVM constants: the module references an external
 * `numrep_weights` byte array (align 64).  The JIT defines it as an
 * absolute symbol at the packed blob's address; the AOT path emits the blob
 * as a separate object (.incbin), so hundreds of MB never pass through LLVM.
 * Runtime helpers the module calls (thread pool, lrn/softmax) are declared
 * in runtime/rt/rt.h; the JIT binds them as absolute symbols, AOT links them. */
#ifndef NUMREP_MODEL_GEN_H
#define NUMREP_MODEL_GEN_H

#include "gen.h"
#include "model.h"

typedef struct gen_model_opts {
    int opt_level;       /* 0..3, default 2 */
    int pack_dense;      /* 1: odd widths bit-packed back to back ([--pack dense]) */
    const char *triple;  /* NULL: host */
    const char *cpu;     /* NULL: host ("generic" for cross targets) */
    const char *features;/* NULL: host's */
    int portable;        /* round without libm calls even on the host (tests the
                          * bare-metal path; implied by "-none" triples) */
} gen_model_opts;

/* The packed weights blob that goes with a module. */
typedef struct gen_weights {
    uint8_t *data;       /* malloc'ed, 64-byte aligned */
    size_t size;         /* the blob's bytes: tensors, alignment, pad (plan.h) */
    size_t values;       /* the tensors' bytes alone, summed */
} gen_weights;

/* Build (and verify) the module for m. On success *out owns the module. */
int gen_emit_model(const nr_model *m, const gen_model_opts *o, gen_ctx **out,
                   gen_weights *w, nr_err *err);
void gen_plan_weights_free(gen_weights *w);

/* 0 when the generator can compile m, else NR_EUNSUP naming the layer and
 * what it does not do yet (scaled formats' limits, emit_scaled.c). */
int gen_plan_model_check(const nr_model *m, nr_err *err);

/* Compile once, run many (model_jit.c): what eval and search use. */
typedef struct gen_compiled gen_compiled;
int gen_model_compile(const nr_model *m, const gen_model_opts *o, gen_compiled **out,
                      nr_err *err);
int gen_compiled_run(gen_compiled *c, const float *in, float *out, int n, nr_err *err);
uint64_t gen_compiled_input_size(const gen_compiled *c);
uint64_t gen_compiled_output_size(const gen_compiled *c);
/* Threads of the run pool (default nr_threads_default()). */
int gen_compiled_set_threads(gen_compiled *c, int threads, nr_err *err);
/* Single-threaded run in a caller's arena of gen_compiled_arena_size()
 * bytes: safe from several threads at once with one arena each (the plain
 * gen_compiled_run shares the compiled model's arenas: one caller at a time). */
int gen_compiled_run_arena(gen_compiled *c, const float *in, float *out, int n, void *arena);
uint64_t gen_compiled_arena_size(const gen_compiled *c);
void gen_compiled_free(gen_compiled *c);

#endif
