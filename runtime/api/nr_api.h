/* nr_api.h -- the stable-ABI layer over libnumrep for foreign callers
 * (python/numrep through ctypes): opaque pointers, plain arrays, no structs
 * by value.  Everything else the package calls is numrep.h / model.h /
 * cost.h / model_gen.h directly.  Exports of nr_api.c: */
#ifndef NUMREP_API_H
#define NUMREP_API_H

/* Table of contents of runtime/api/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   nr_api.c         the stable-ABI layer for foreign callers (Python, ctypes) [nr_api.h]
 *   nr_api_scaled.c  scaled formats for foreign callers [nr_api.h]
 */

#include "eval.h"
#include "model.h"
#include "scaled.h"

/* A parsed format on the heap (NULL and err filled on a bad name). */
nr_format *nr_api_format_new(const char *name, nr_err *err);
void nr_api_format_free(nr_format *f);
/* The descriptor's fields, in this order:
 * ints:  kind width container bias exp_bits man_bits int_bits frac_bits
 *        is_signed prec emin emax has_inf has_nan has_negzero subnormals
 *        specials saturate
 * reals: max_finite min_normal min_subnormal epsilon lowest finite_count */
#define NR_API_FMT_INTS 18
#define NR_API_FMT_REALS 6
int nr_api_format_info(const nr_format *f, int64_t ints[NR_API_FMT_INTS],
                       double reals[NR_API_FMT_REALS]);

/* float64 arrays, element i drawing nr_sr_bits(seed, 0, i, 0) under sr;
 * threads as for the bulk kernels.  Encodings are in the format's
 * container (1/2/4/8 bytes). */
void nr_api_round_f64(const nr_format *f, nr_rounding mode, uint64_t seed, const double *in,
                      double *out, size_t n, int threads);
void nr_api_encode_f64(const nr_format *f, nr_rounding mode, uint64_t seed, const double *in,
                       void *out, size_t n, int threads);
void nr_api_decode_f64(const nr_format *f, const void *in, double *out, size_t n, int threads);

/* Elementwise a op b (op c): operands rounded into f first (term k+1),
 * then one correctly rounded operation (term 0), as `numrep round --op`.
 * out: encodings.  0 or -NR_ERANGE for an unknown op / missing operand. */
enum { NR_API_ADD, NR_API_SUB, NR_API_MUL, NR_API_DIV, NR_API_FMA, NR_API_SQRT,
       NR_API_OP_COUNT };
int nr_api_arith(const nr_format *f, int op, nr_rounding mode, uint64_t seed, const double *a,
                 const double *b, const double *c, uint64_t *out, size_t n, nr_err *err);

/* ---------------------------------------------------------------- nr_api_scaled.c
 * Scaled formats (scaled.h): a descriptor on the heap (NULL and err filled
 * on a bad name), its element format, and its numbers: ints granularity
 * (nr_gran) block (0 unless blocks) scale (nr_scale_fmt) rule
 * (nr_scale_rule) emax_elem elem_prec; *bits the storage bits per element. */
#define NR_API_SCALED_INTS 6
nr_scaled *nr_api_scaled_new(const char *name, nr_err *err);
void nr_api_scaled_free(nr_scaled *s);
const nr_format *nr_api_scaled_element(const nr_scaled *s);
int nr_api_scaled_info(const nr_scaled *s, int64_t ints[NR_API_SCALED_INTS], double *bits);
/* Groups of an array of rows x len values (C order): tensor 1, channel one
 * per row (row = output channel), block ceil(len / block) per row (blocks
 * run along a row, the reduction axis; the last may be short). */
size_t nr_api_scaled_groups(const nr_scaled *s, size_t rows, size_t len);
/* Quantize x group by group (nr_scaled_quantize): out = P * X, exact
 * doubles; scales / scale_bits (may be NULL) one per group, in group order
 * (row-major); codes (may be NULL) the element encodings of P, x's layout.  tensor_scale: the static scale (rule static), or NVFP4's
 * fp32 tensor scale (<= 0: computed from the whole array's amax).  Group g
 * draws as line g+1 of `numrep round`: nr_sr_bits(seed, g, i, 0).
 * threads as for the bulk kernels.  0 or the first failing group's error. */
int nr_api_scaled_round(const nr_scaled *s, nr_rounding mode, uint64_t seed,
                        double tensor_scale, const double *x, size_t rows, size_t len,
                        double *out, double *scales, uint64_t *scale_bits, uint64_t *codes,
                        int threads, nr_err *err);
/* The inverse: out = P * X from the element encodings codes (x's layout)
 * and the groups' scale encodings; tensor_scale: NVFP4's fp32 tensor
 * scale (required there; else unused).  A NaN scale gives NaN values. */
int nr_api_scaled_decode(const nr_scaled *s, double tensor_scale, const uint64_t *codes,
                         const uint64_t *scale_bits, size_t rows, size_t len, double *out,
                         int threads, nr_err *err);

/* ---------------------------------------------------------------- models
 * Input and output shapes (C, H, W); returns the number of layers. */
int nr_api_model_info(const nr_model *m, int in_shape[3], int out_shape[3]);
const char *nr_api_model_layer_name(const nr_model *m, int i); /* NULL if out of range */
/* nr_emulate, with the statistics (counts NULL: none) as uint64 rows of
 * NR_API_COUNTS values (events overflow saturated flushed nan): the input
 * rounding, then for each layer weights, prod, sum, out; then one value,
 * the sample count: (1 + 4 * nlayers) * NR_API_COUNTS + 1 values. */
#define NR_API_COUNTS 5
int nr_api_emulate(const nr_model *m, const float *in, int n, float *out, uint64_t *counts,
                   nr_err *err);

/* Accuracy of engine e (nr_engine_open / gen_engine_open) on the labeled
 * data set at path, opened as `numrep eval` opens it (the spec's
 * preprocessing, labels below the output size): samples [first,
 * first+limit) (limit 0: to the end), jobs threads.  res: samples, top1,
 * top5, stopped, classes; *seconds the run's wall time. */
int nr_api_eval(const nr_model *m, const nr_engine *e, const char *path, int64_t first,
                int64_t limit, int jobs, int64_t res[5], double *seconds, nr_err *err);

#endif
