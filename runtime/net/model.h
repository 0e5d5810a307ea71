/* model.h -- network specs, precision specs, and the validated model.
 *
 * Data flows one way:
 *   NET.yaml  --nr_spec_load-->       nr_spec       (what the text says, with line:col)
 *   PREC.yaml --nr_precision_load-->  nr_precision  (or nr_precision_uniform for -p FMT)
 *   spec + precision + safetensors --nr_model_build--> nr_model
 *        (topological order, shapes, weights bound and batchnorm folded, a
 *         format on every value; immutable afterwards)
 *   nr_model --> emulator (runtime/emu/emulator.c) | generator (gen/)
 *
 * Files: spec.c, precision.c, precision_scales.c (calibrated activation
 * scales, [scl-cal-file]), model.c (build), model_scaled.c (scaled
 * weights quantized at build, [scl-dot-wq]; static scales bound).
 *
 * Tensors are float32 C-order; activations of one sample are [C, H, W]
 * (dense/flatten outputs are [N, 1, 1]). */
#ifndef NUMREP_MODEL_H
#define NUMREP_MODEL_H

/* Table of contents of runtime/net/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   geom.c              the loop geometry of a MAC layer, once for every engine [model.h]
 *   model.c             spec + precision + weights -> the immutable nr_model [model.h]
 *   model_scaled.c      scaled weights quantized once at build, static activation scales
 *                       [model.h]
 *   model_seq.c         shapes and weight tensors of the sequence ops [model.h]
 *   model_seq_lm.c      shapes and weight tensors of the language model ops [model.h]
 *   precision.c         precision YAML (or -p FMT) -> nr_precision [model.h]
 *   precision_scales.c  the `scales:` section of a precision file [model.h]
 *   precision_seq.c     the precision roles and overrides of the sequence ops [model.h]
 *   spec.c              network YAML -> nr_spec [model.h]
 */

#include "dataset.h"
#include "numrep.h"
#include "ops.h"
#include "scaled.h"

#define NR_NAME_MAX 96

const char *nr_spec_op_name(nr_op op);
int nr_spec_op_parse(const char *s, nr_op *out); /* 0 or -1 */

/* ---------------------------------------------------------------- spec */

typedef enum { NR_PAD_EXPLICIT = 0, NR_PAD_SAME, NR_PAD_VALID } nr_pad_mode;

typedef struct nr_layer_spec {
    char name[NR_NAME_MAX];
    nr_op op;
    int line, col;                 /* of the layer's mapping in the YAML  */
    int ninputs;                   /* 0: the previous layer (or the net input for layer 0) */
    char inputs[8][NR_NAME_MAX];   /* names; "input" is the network input */
    /* conv / dense */
    int out;                       /* output channels / features          */
    int kernel[2];                 /* kh, kw (conv, pools)                */
    int stride[2];                 /* default 1 (pools: default = kernel) */
    int pad[4];                    /* top, left, bottom, right (explicit) */
    nr_pad_mode pad_mode;
    int dilation[2];               /* default 1                           */
    int groups;                    /* default 1                           */
    int bias;                      /* conv/dense: 1 if a bias tensor is expected (default: 1 if present in weights) ; -1 = auto */
    int ceil_mode;                 /* pools                               */
    int count_include_pad;         /* avgpool, default 1 (PyTorch default) */
    /* batchnorm / lrn */
    double eps;                    /* default 1e-5                        */
    int lrn_size; double lrn_alpha, lrn_beta, lrn_k;
    /* clip / relu6 */
    double clip_lo, clip_hi;
    /* slice / pad: per axis C, H, W */
    int slice_start[3], slice_stop[3], slice_step[3]; /* stop: INT32_MAX = to end */
    int pad_before[3], pad_after[3];
    /* concat */
    int axis;                      /* concat: only 0 (channels) for now; softmax_axis: 0..2 */
    /* sequence ops ([op-seq], model_seq.c) */
    int heads;                     /* heads: number of heads              */
    int trans_a, trans_b;          /* matmul: operand stored transposed   */
    int sm_plain;                  /* softmax_axis form: 1 = plain (no max subtraction) */
    int gelu_tanh;                 /* gelu approximate: 1 = tanh form     */
    double scale_by;               /* scale: the constant factor          */
    int vocab;                     /* embedding: number of token ids ([op-embedding]) */
} nr_layer_spec;

typedef struct nr_spec {
    char path[512];                /* the YAML file (for messages)        */
    char name[NR_NAME_MAX];
    int in_shape[3];               /* C, H, W                             */
    char weights[512];             /* resolved relative to the spec's dir; "" if none */
    int nlayers;
    nr_layer_spec *layers;
    char output[NR_NAME_MAX];      /* default: the last layer             */
    /* Declared input preprocessing (`input:` fields besides shape): how
     * `numrep eval` turns a stored uint8 image into the [C, H, W] float
     * input.  has_pp = 0 when none of those fields is written (pp then
     * holds the defaults: pixel/255, mean 0, std 1). */
    int has_pp;
    nr_preprocess pp;
    char dataset[512];             /* `dataset:` default data, resolved like weights; "" if none */
} nr_spec;

int nr_spec_load(const char *path, nr_spec **out, nr_err *err);
int nr_spec_parse_string(const char *text, const char *path_for_messages, nr_spec **out,
                         nr_err *err);
void nr_spec_free(nr_spec *s);

/* ---------------------------------------------------------------- precision */

/* MAC modes ([net-5]): enum and name, one row each. */
/* block-fp32 / block-exact: [scl-dot-*] in docs/semantics.md. */
#define NR_MAC_MODES(X)                                                                    \
    X(UNFUSED, "unfused") X(FUSED, "fused") X(EXACT, "exact") X(BLOCK_FP32, "block-fp32") \
    X(BLOCK_EXACT, "block-exact")
typedef enum {
#define X(e, name) NR_MAC_##e,
    NR_MAC_MODES(X)
#undef X
} nr_mac_mode;
enum { /* (not an nr_mac_mode: switches need not name it) */
#define X(e, name) +1
    NR_MAC_COUNT = 0 NR_MAC_MODES(X)
#undef X
};
const char *nr_prec_mac_name(nr_mac_mode m);
int nr_prec_mac_parse(const char *s, nr_mac_mode *out); /* 0, or -1 for an unknown name */

/* Precision of one layer: a format for each role.  A scaled weights or
 * activations role ([scl-*]) has its scaled format in weights_scaled /
 * activations_scaled (gran NR_GRAN_NONE = unscaled, and every path is the
 * unscaled one); the plain format of that role is then the element format
 * (weights) or fp32, the carrier a layer output is rounded to before it is
 * quantized (activations, [scl-dot-act]). */
typedef struct nr_layer_prec {
    nr_format weights;      /* weights and biases, rounded at load          */
    nr_format activations;  /* every layer output (and the network input)   */
    nr_format products;     /* unfused: each product                        */
    nr_format accumulator;  /* each partial sum                             */
    nr_rounding rounding;
    nr_mac_mode mac;
    unsigned same;          /* NR_ROLE_* bits written as `same`: after an override is
                             * merged they take the layer's weights format */
    nr_scaled weights_scaled;     /* gran NONE: weights are not scaled     */
    nr_scaled activations_scaled; /* gran NONE: activations are not scaled */
    nr_scaled operands_scaled;    /* linear, matmul ([scl-seq]): the dynamic scaled
                                   * format of the activation operands (moved here from
                                   * activations_scaled at build); gran NONE: none */
    int promote;            /* > 0: `promote: K` ([scl-dot-promote]); 0: off */
    nr_format nonlinear;    /* [op-nl] results of exp, rsqrt, gelu, ...; resolved:
                             * the activations format unless written */
    int nl_set;             /* nonlinear was written (else it follows activations) */
} nr_layer_prec;

typedef struct nr_precision {
    char path[512];          /* "" for -p FMT                               */
    nr_layer_prec dflt;
    int dflt_line, dflt_col; /* of `default:` (0 for -p FMT), for messages  */
    int noverrides;
    struct nr_prec_override {
        char layer[NR_NAME_MAX];
        int line, col;
        unsigned set;        /* bit per role that the override sets (NR_ROLE_*) */
        nr_layer_prec p;
    } *overrides;
    /* per-op-type overrides (`ops:`, [op-prec]): layer holds the op name;
     * applied after the default, before the layer's own override */
    struct nr_prec_override *ops;
    int nops;
    uint64_t seed;           /* for sr; `seed:` in the YAML, default 0      */
    /* `scales:` calibrated activation scales ([scl-cal-file]): one per
     * tensor (a layer name, its folded batchnorm's, or `input`), as
     * written; model_scaled.c binds them to the tensors whose activations
     * rule is static ([scl-cal-use]). */
    int nscales;
    struct nr_prec_scale {
        char name[NR_NAME_MAX];
        double value;        /* the text read as a double (strtod)          */
        float value_f32;     /* the text read as an fp32 (strtof)           */
        int line, col;
    } *scales;
} nr_precision;

enum { NR_ROLE_WEIGHTS = 1, NR_ROLE_ACTIVATIONS = 2, NR_ROLE_PRODUCTS = 4,
       NR_ROLE_ACCUMULATOR = 8, NR_ROLE_ROUNDING = 16, NR_ROLE_MAC = 32, NR_ROLE_PROMOTE = 64,
       NR_ROLE_NONLINEAR = 128 };

int nr_precision_load(const char *path, nr_precision **out, nr_err *err);
int nr_precision_parse_string(const char *text, const char *path_for_messages,
                              nr_precision **out, nr_err *err);
/* -p ARG: a YAML file if ARG names an existing file / ends in .yaml/.yml,
 * else one format for every role with rne. */
int nr_precision_from_arg(const char *arg, nr_precision **out, nr_err *err);
int nr_precision_uniform(const nr_format *f, nr_precision **out, nr_err *err);
void nr_precision_free(nr_precision *p);
/* precision_scales.c: the `scales:` mapping of a precision file
 * ([scl-cal-file]) into P->scales (parse_doc calls it). */
struct nr_yaml_doc;
struct nr_yaml_node;
int nr_precision_parse_scales(const struct nr_yaml_doc *d, const struct nr_yaml_node *n,
                              nr_precision *P, nr_err *err);
/* The scale written for tensor name, or NULL. */
const struct nr_prec_scale *nr_precision_find_scale(const nr_precision *P, const char *name);
/* Set the rounding mode and/or MAC mode (NULL: keep) of the default and of
 * every override: `--rounding`/`--mac` beside `-p`. */
void nr_precision_set_mode(nr_precision *p, const nr_rounding *rounding, const nr_mac_mode *mac);
/* The precision of the layer called name (alias: a batchnorm folded into it,
 * or NULL): the default, then the override for name, then the one for
 * alias, each role written as `same` following the merged weights format. */
void nr_precision_layer(const nr_precision *p, const char *name, const char *alias,
                        nr_layer_prec *out);
/* precision_seq.c: nr_precision_layer with the per-op-type overrides
 * (`ops:`) applied between the default and the layer's own override, and
 * the nonlinear role resolved ([op-prec]). */
void nr_precision_layer_op(const nr_precision *p, const char *name, const char *alias, nr_op op,
                           nr_layer_prec *out);
/* precision.c, for precision_seq.c: one override merged into p; one role
 * mapping parsed (the `default:` / `layers:` reader). */
void nr_precision_apply(const struct nr_prec_override *o, nr_layer_prec *p);
struct nr_yaml_doc;
struct nr_yaml_node;
int nr_precision_parse_roles(const struct nr_yaml_doc *d, const struct nr_yaml_node *m,
                             const char *where, nr_layer_prec *p, unsigned *set, nr_err *err);
/* precision_seq.c: `nonlinear:` of a role mapping; the `ops:` mapping. */
int nr_precision_parse_nonlinear(const struct nr_yaml_doc *d, const struct nr_yaml_node *m,
                                 const char *where, nr_layer_prec *p, unsigned *set,
                                 nr_err *err);
/* precision_seq.c ([scl-seq]): a linear or matmul layer's scaled
 * activations role becomes its operands' format (operands_scaled; its
 * output stays the fp32 carrier, not quantized); the combinations that
 * are errors there.  0, or -NR_ESYNTAX with msg set. */
int nr_precision_seq_scaled(nr_layer_prec *p, nr_op op, char *msg, size_t n);
int nr_precision_parse_ops(const struct nr_yaml_doc *d, const struct nr_yaml_node *ops,
                           nr_precision *P, nr_err *err);
/* -p FMT with a scaled format ([scl-dot-preset]): weights and activations
 * scaled (channel: activations per tensor), products and accumulator fp32,
 * mac block-fp32 (channel granularity: block-exact). */
int nr_precision_uniform_scaled(const nr_scaled *s, nr_precision **out, nr_err *err);
/* 1 when the layer precision has a scaled role, a block mac or promote:
 * what only the emulator runs for now. */
int nr_prec_is_scaled(const nr_layer_prec *p);
/* The combination rules of [scl-dot-check]: 0, or -NR_ESYNTAX with msg
 * saying what is wrong and what is allowed. */
int nr_prec_check(const nr_layer_prec *p, char *msg, size_t n);
const char *nr_prec_mac_name(nr_mac_mode m);

/* ---------------------------------------------------------------- model */

typedef struct nr_layer {
    char name[NR_NAME_MAX];
    nr_op op;
    const nr_layer_spec *spec;     /* the parameters as written            */
    int index;                     /* position in topological order        */
    int ninputs;
    int inputs[8];                 /* layer indices; -1 = network input    */
    int in_shape[8][3];            /* C, H, W of each input                */
    int out_shape[3];
    int pad[4];                    /* resolved: top, left, bottom, right   */
    /* MAC layers: weights in PyTorch layout, batchnorm folded in double,
     * NOT yet rounded (rounding to prec.weights happens in the consumer
     * with nr_encode, [net-1]).  Batchnorm (not folded): w = scale, b = shift. */
    double *w;  size_t nw;
    double *b;  size_t nb;         /* NULL when there is no bias           */
    char folded_bn[NR_NAME_MAX];   /* name of a batchnorm folded into this layer, or "" */
    nr_layer_prec prec;            /* resolved precision                   */
    /* Scaled weights ([scl-dot-wq]), quantized once at build when
     * prec.weights_scaled is set (else NULL): wq[i] the element value of
     * w[i] (same layout), wscale[g] the scale of group g (nr_model_layer_wgroup). */
    double *wq, *wscale;
    size_t nwscale;
    uint64_t wq_clipped, wq_zero, wq_nan; /* over the weight groups       */
    double act_scale;              /* static activation scale ([scl-cal-use]), 0: dynamic */
    long long macs;                /* multiply-accumulates per sample      */
} nr_layer;

typedef struct nr_model {
    nr_spec *spec;                 /* owned                                */
    nr_precision *prec;            /* owned                                */
    int in_shape[3];
    nr_format in_format;           /* network input is rounded to this ([net-1]) */
    double in_scale;               /* its static scale ([scl-cal-use]), 0: dynamic */
    int nlayers;
    nr_layer *layers;              /* topological order                    */
    int output;                    /* index of the output layer            */
    uint64_t seed;
} nr_model;

/* Takes ownership of spec and prec on success AND on failure. weights may be
 * NULL to use spec->weights; random_seed != 0 fills weights with
 * deterministic random values instead of reading a file.  The memory limit
 * is the default one (nr_model_opts). */
int nr_model_build(nr_spec *spec, nr_precision *prec, const char *weights_path,
                   uint64_t random_seed, nr_model **out, nr_err *err);
/* How nr_model_build_opts builds (nr_model_opts_init: all defaults). */
typedef struct nr_model_opts {
    const char *weights_path; /* NULL: spec->weights                          */
    uint64_t random_seed;     /* != 0: deterministic random weights, no file  */
    /* Bytes the model may take: weights and the emulator's activations for
     * one sample (as doubles), computed from the shapes before anything
     * large is allocated; a model above it is refused with NR_ERANGE.
     * 0: nr_model_memory_default(); UINT64_MAX: no limit. */
    uint64_t max_memory;
    /* When set: the shape of the data the model will be run on ([C,H,W] or
     * [N,C,H,W], from input_path, named in the message), checked against
     * the spec's input before anything else (NR_ESHAPE). */
    const int64_t *input_shape;
    int input_ndim;
    const char *input_path;
    /* nr_model_load_opts: the rounding and/or MAC mode of every layer
     * (nr_precision_set_mode; `--rounding`/`--mac` beside `-p`) */
    int set_rounding, set_mac;
    nr_rounding rounding;
    nr_mac_mode mac;
} nr_model_opts;
void nr_model_opts_init(nr_model_opts *o);
int nr_model_build_opts(nr_spec *spec, nr_precision *prec, const nr_model_opts *o,
                        nr_model **out, nr_err *err);
/* Half the physical memory (sysconf); UINT64_MAX when unknown. */
uint64_t nr_model_memory_default(void);
/* Convenience: load both files and build. prec_arg as for nr_precision_from_arg. */
int nr_model_load(const char *net_path, const char *prec_arg, nr_model **out, nr_err *err);
/* The same with deterministic random weights when random_seed != 0 (the
 * spec's weights file is then not read). */
int nr_model_load_seeded(const char *net_path, const char *prec_arg, uint64_t random_seed,
                         nr_model **out, nr_err *err);
/* The same with every option (the spec's file is read before anything large). */
int nr_model_load_opts(const char *net_path, const char *prec_arg, const nr_model_opts *o,
                       nr_model **out, nr_err *err);
void nr_model_free(nr_model *m);
int nr_model_find(const nr_model *m, const char *layer_name); /* index or -1 */
/* model_scaled.c: quantize every scaled weight tensor once ([scl-dot-wq]);
 * nr_model_build calls it. */
int nr_model_quantize_weights(nr_model *m, nr_err *err);
/* model_scaled.c: give every tensor whose activations rule is static its
 * calibrated scale from the precision's `scales:` ([scl-cal-use]); errors
 * name the precision file's line: a missing scale, an unknown tensor, a
 * scale for a dynamic tensor, a value the scale format cannot hold. */
int nr_model_bind_scales(nr_model *m, nr_err *err);
/* The scaled activations format of tensor li (-1: the network input, which
 * layer 0's activations role quantizes), and its static scale (0: dynamic). */
const nr_scaled *nr_model_act_scaled(const nr_model *m, int li);
double nr_model_act_scale(const nr_model *m, int li);
/* 1 when a layer has a scaled role, a block mac or promote (emulator only). */
int nr_model_is_scaled(const nr_model *m);
/* The scale group of weight (o, ci, r, c) ([scl-group], [scl-dot-wq]): ci
 * within the output channel's group; dense: r = c = 0, ci the input index;
 * batchnorm: ci = 0. */
size_t nr_model_layer_wgroup(const nr_layer *L, int o, int ci, int r, int c);
size_t nr_shape_count(const int shape[3]);

/* model_seq.c: the sequence ops ([op-seq]). */
/* 1 for tokens, linear, matmul, heads, merge_heads, layernorm,
 * softmax_axis, gelu, scale, add_const. */
int nr_model_op_is_seq(nr_op op);
/* Output shape and MACs of a sequence op L (spec P) from L->in_shape;
 * 0, or an NR_E* code with the offending field and a message. */
int nr_model_seq_infer(const nr_layer_spec *P, nr_layer *L, const char **field, char *msg, size_t n);
/* The weight tensors of a layernorm / add_const layer: count (0..2),
 * suffixes and shapes. */
int nr_model_seq_tensors(const nr_layer *L, const char *suffix[2], int ndim[2], int64_t shape[2][3]);

/* model_seq_lm.c: the causal language model ops ([op-lm]): embedding,
 * rmsnorm, rope, silu, mul, causal_softmax. */
int nr_model_seq_lm_is(nr_op op);
/* nr_model_seq_infer's part for those ops (same contract). */
int nr_model_seq_lm_infer(const nr_layer_spec *P, nr_layer *L, const char **field, char *msg,
                    size_t n);
/* nr_model_seq_tensors's part for those ops: count, suffixes and shapes. */
int nr_model_seq_lm_tensors(const nr_layer *L, const char *suffix[2], int ndim[2],
                      int64_t shape[2][3]);
/* Values of the weight tensors of layer L of those ops (for the memory bound). */
uint64_t nr_model_seq_lm_weight_count(const nr_layer *L);
/* 1 when the network input of m holds token ids: it feeds an embedding
 * layer ([op-embedding]); then it is not rounded ([net-1] does not apply). */
int nr_model_takes_ids(const nr_model *m);
/* [op-embedding] the smallest vocabulary of the embeddings that read the
 * network input; 0 when a layer other than an embedding reads it too. */
int nr_model_lm_ids_vocab(const nr_model *m);
/* 0 when each of the n samples at in (nr_shape_count(in_shape) values each)
 * holds integer token ids in [0, nr_model_lm_ids_vocab(m)), else NR_ERANGE
 * naming sample first + i and the position.  Every engine checks before it
 * runs (the emulator, `numrep run`, the JIT engine). */
int nr_model_lm_check_ids(const nr_model *m, const float *in, int n, int first, nr_err *err);

/* ---------------------------------------------------------------- geom.c */

/* The loop bounds of a MAC layer (conv, dense, batchnorm; [net-4]): dense
 * is a 1x1 conv over a 1x1 map, batchnorm a depthwise 1x1 conv. */
typedef struct nr_mac_geom {
    int C, H, W;          /* input                                          */
    int O, OH, OW;        /* output                                         */
    int kh, kw, sh, sw, dh, dw, pt, pl;
    int cin_g, cout_g;    /* channels per group                             */
    int K;                /* canonical terms per output: cin_g * kh * kw     */
} nr_mac_geom;

/* Fill g; 0 when the layer's shapes, weights and bias agree with it
 * ([net-13]), -1 when not. */
int nr_mac_geom_of(const nr_layer *L, nr_mac_geom *g);
/* The same, an NR_EINTERNAL error naming the layer when they disagree. */
int nr_mac_geom_check(const nr_layer *L, nr_mac_geom *g, nr_err *err);

#endif
