/* rt.h -- what generated model code links against (the JIT binds these as
 * absolute symbols, AOT executables link libnumrep): running samples in
 * parallel on a thread pool with one preallocated arena per thread, the
 * double-precision LRN/softmax of [net-8], and the exact (Kulisch)
 * accumulator of the `exact` MAC mode.  Nothing here allocates on the
 * per-sample path. */
#ifndef NUMREP_RT_H
#define NUMREP_RT_H

/* Table of contents of runtime/rt/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   nlrt.c        numrep's own nonlinear functions: special values, dispatch [nlrt.h]
 *   nlrt_alg.c    sqrt, rsqrt, reciprocal, pow by exact integer arithmetic [nlrt_internal.h]
 *   nlrt_erf.c    enclosures of erf and gelu in double-double [nlrt_internal.h]
 *   nlrt_exp.c    enclosures of exp, log, tanh, sigmoid, silu, gelu_tanh [nlrt_internal.h]
 *   nlrt_gen.c    what generated sequence-op code calls: nonlinear functions, division
 *                 [nlrt.h]
 *   nlrt_table.c  a nonlinear function of a <= 16-bit format as a lookup table [nlrt.h]
 *   nlrt_test.c   the rounding test of an enclosure [nlrt_internal.h]
 *   rt.c          what generated model code calls at run time [rt.h]
 */

#include <stdint.h>

/* A run context: a pool of `threads` threads and one arena of arena_size
 * bytes (64-byte aligned) per thread, allocated once. */
typedef struct nr_rt nr_rt;
nr_rt *nr_rt_new(int threads, uint64_t arena_size); /* NULL when out of memory */
int nr_rt_threads(const nr_rt *rt);
void nr_rt_free(nr_rt *rt);

/* One sample: in -> out, using arena (arena_size bytes) as scratch. */
typedef void (*nr_rt_sample_fn)(const float *in, float *out, void *arena);

/* Run n samples across the pool; sample s reads in + s*in_size and writes
 * out + s*out_size.  Samples are independent, so results do not depend on
 * the thread count or the split.  Returns 0, or -1 when rt is NULL.  Calls
 * on one rt must not overlap (its arenas are shared). */
int nr_rt_run(nr_rt *rt, nr_rt_sample_fn fn, const float *in, float *out, int n,
              uint64_t in_size, uint64_t out_size);

/* [net-8] thin wrappers over nr_emu_math_lrn / nr_emu_math_softmax (the one
 * implementation, so generated code and the emulator agree bit for bit). */
void nr_rt_lrn(const double *in, double *out, int C, int HW, int size, double alpha,
               double beta, double k);
void nr_rt_softmax(const double *in, double *out, int C, int HW);

/* [net-5] exact MAC mode: a two's-complement fixed-point accumulator of
 * `limbs` 64-bit limbs whose bit 0 weighs 2^lsb, in caller memory st of
 * (8 + 2 * limbs) words (header, limbs, scratch).  get writes the exact sum
 * as {cls (nr_class), sign, exp, sig low 64, sig high 64, sticky} (six
 * 64-bit words) for generated code to round. */
void nr_rt_kacc_init(uint64_t *st, int limbs, int lsb);
void nr_rt_kacc_add(uint64_t *st, double a, double b);
void nr_rt_kacc_get(uint64_t *st, int mode_rd, uint64_t out[6]);

#endif
