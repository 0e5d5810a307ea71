/* emulator.h -- the reference emulator: numrep's oracle.
 *
 * A plain interpreter of an nr_model under the arithmetic written down in
 * docs/semantics.md ([net-*]).  Every value is held as a double, which is
 * exact: every float format's values are binary64 values ([fmt-5]) and the
 * emulator refuses fixed-point formats wider than 53 magnitude bits
 * ([net-2]).  The generator must reproduce these results bit for bit, so the
 * stochastic-rounding term numbering below is part of the contract.
 *
 * Files: emulator.c walks the model; emu_mac.c is conv/dense/batchnorm in
 * the three MAC modes; emu_scaled.c scaled activations and block dot
 * products ([scl-dot-*]); emu_ops.c every other op; emu_math.c the double-
 * precision LRN and softmax that generated code calls too. */
#ifndef NUMREP_EMULATOR_H
#define NUMREP_EMULATOR_H

/* Table of contents of runtime/emu/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   emu_attn.c      the dot products of the sequence ops (linear, matmul) [emu_internal.h]
 *   emu_mac.c       conv, dense, unfolded batchnorm in the three MAC modes [emu_internal.h]
 *   emu_math.c      LRN and softmax in double precision [emulator.h]
 *   emu_ops.c       every other layer op [emu_internal.h]
 *   emu_scaled.c    scaled formats in the reference emulator [emu_internal.h]
 *   emu_seq.c       the sequence ops other than the dot products [emu_internal.h]
 *   emu_seq_fast.c  the host-float fast paths of the sequence ops [emu_internal.h]
 *   emu_seq_lm.c    the causal language model ops (embedding, rmsnorm, rope, ...) [emu_internal.h]
 *   emu_seq_scaled.c scaled formats on the sequence ops' dot products [emu_internal.h]
 *   emulator.c      the driver: layer by layer, sample by sample; statistics [emulator.h,
 *                   emu_internal.h]
 */

#include <stdint.h>
#include <stdio.h>
#include "model.h"

/* ---------------------------------------------------------------- SR draws
 * A rounding event draws r = nr_sr_bits(seed, layer, element, term) ([net-9]):
 * layer   = the layer's index in topological order (NR_EMU_LAYER_INPUT for
 *           the rounding of the network input);
 * element = flat index of the output value within one sample (C, H, W
 *           order), or of the weight / bias in its PyTorch layout;
 * term    = which rounding of that element, numbered below.  k is the
 *           canonical position of a MAC term in the full kernel
 *           ((ci * kh + r) * kw + c for conv, the input index for dense,
 *           r * kw + c for a pooling window), padding positions included, so
 *           the numbering does not depend on where the window sits. */
#define NR_EMU_LAYER_INPUT 0xFFFFFFFFu
#define NR_EMU_TERM_BIAS 0u                      /* bias -> accumulator format   */
#define NR_EMU_TERM_PRODUCT(k) (2u * (uint32_t)(k) + 1u) /* unfused product k   */
#define NR_EMU_TERM_SUM(k) (2u * (uint32_t)(k) + 2u)     /* addition of term k  */
#define NR_EMU_TERM_EXACT 2u                     /* exact mode's single rounding */
#define NR_EMU_TERM_OUT 0xFFFFFFFFu              /* the layer output rounding    */
#define NR_EMU_TERM_WEIGHT 0xFFFFFFFEu           /* weight -> weight format      */
#define NR_EMU_TERM_BIASLOAD 0xFFFFFFFDu         /* bias -> weight format        */
#define NR_EMU_TERM_QUANT 0xFFFFFFFCu            /* scaled output -> its elements */
/* Scaled dot products ([scl-dot-sr]), k = the last term of the segment: */
#define NR_EMU_TERM_SCALE(k) (0x80000000u + 2u * (uint32_t)(k))      /* block-fp32 sum x scales */
#define NR_EMU_TERM_ENTER(k) (0x80000000u + 2u * (uint32_t)(k) + 1u) /* segment -> accumulator */

/* ---------------------------------------------------------------- statistics */

/* Counts for one kind of rounding event.  overflow counts results whose
 * finite exact value overflowed (flags OVERFLOW, SATURATED or WRAPPED);
 * saturated the subset clamped to +-max; flushed non-zero exact values that
 * became zero (FLUSHED); nan results that are NaN. */
typedef struct nr_emu_counts {
    uint64_t events, overflow, saturated, flushed, nan;
} nr_emu_counts;

/* Scaled tensors ([scl-dot-stats]): groups converted, elements clipped to
 * the element format's max, groups that were all zero, groups with a NaN
 * scale. */
typedef struct nr_emu_scaled_counts {
    uint64_t groups, clipped, zero, nan;
} nr_emu_scaled_counts;

typedef struct nr_emu_layer_stats {
    nr_emu_counts weights; /* weights and biases rounded at load (once per run) */
    nr_emu_counts prod;    /* unfused products                              */
    nr_emu_counts sum;     /* accumulator roundings (bias, additions, fused, exact) */
    nr_emu_counts out;     /* layer outputs (events = values; nan = NaN outputs) */
    nr_emu_scaled_counts wq; /* scaled weights (once per run)           */
    nr_emu_scaled_counts aq; /* scaled outputs (every sample)           */
} nr_emu_layer_stats;

typedef struct nr_emu_stats {
    int nlayers;
    nr_emu_layer_stats *layer; /* [nlayers], topological order             */
    nr_emu_counts input;       /* network input rounding                    */
    nr_emu_scaled_counts input_q; /* scaled network input                   */
    uint64_t samples;
} nr_emu_stats;

/* Counters accumulate over every nr_emulate call that is given them. */
int nr_emu_stats_init(nr_emu_stats *s, const nr_model *m, nr_err *err);
void nr_emu_stats_free(nr_emu_stats *s);
/* One line per layer (only layers with something to report unless all). */
void nr_emu_stats_print(const nr_emu_stats *s, const nr_model *m, FILE *to, int all);

/* ---------------------------------------------------------------- running */

typedef struct nr_emu_opts {
    FILE *trace;          /* trace output, NULL for none                      */
    int trace_layer;      /* layer index to trace, -1 for none               */
    int64_t trace_index;  /* flat output element (C, H, W) of that layer      */
    int no_fast;          /* 1: never use the host-float fast paths (tests)  */
} nr_emu_opts;

/* Run n samples.  in: n * C*H*W float32 (the model's input shape); out: n *
 * (output layer's C*H*W) float32, the output layer's values converted to
 * float32 (exact when its activation format fits float32, else rounded to
 * nearest).  stats and opts may be NULL.  Returns 0 or -NR_E*. */
int nr_emulate(const nr_model *m, const float *in, int n, float *out, nr_emu_stats *stats,
               const nr_emu_opts *opts, nr_err *err);

/* Same, but also returns the values (double, exact) of every layer for the
 * last sample: layer_out[i] must hold nr_shape_count(layers[i].out_shape)
 * doubles, or be NULL to skip that layer.  For layer-by-layer comparisons. */
int nr_emulate_layers(const nr_model *m, const float *in, int n, float *out,
                      double *const *layer_out, nr_emu_stats *stats, const nr_emu_opts *opts,
                      nr_err *err);

/* ---------------------------------------------------------------- runtime math
 * The one double-precision implementation of LRN and softmax ([net-8]); the
 * generator's code calls these same functions, so results agree bit for bit.
 * Input and output are one sample, [C, H, W] (C*HW values), C-order. */
void nr_emu_math_lrn(const double *in, double *out, int C, int HW, int size, double alpha,
                     double beta, double k);
void nr_emu_math_softmax(const double *in, double *out, int C, int HW); /* over C */

#endif
