/* onnx_internal.h -- what the files of the ONNX importer share: the
 * importer's state (ctx), the values and layers it builds, and each file's
 * exports under its own heading.  Private to gen/onnx_*.c; the public entry
 * points are in onnx_import.h.
 *
 *   onnx_import.c  entry points, the graph walk, writing the spec text
 *   onnx_value.c   errors, the name table, tensors decoded into values
 *   onnx_node.c    a node's inputs and attributes, checked
 *   onnx_layer.c   spec layers, their fields and weight tensors, windows
 *   onnx_ops.c     each operator -> spec layers, and the table of operators
 *   onnx_const.c   operators evaluated at import time (shape arithmetic) */
#ifndef NUMREP_ONNX_INTERNAL_H
#define NUMREP_ONNX_INTERNAL_H

/* Table of contents of gen/onnx/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   onnx_const.c   operators evaluated at import time [onnx_internal.h]
 *   onnx_import.c  ONNX graph -> spec text + float32 weights [onnx_import.h]
 *   onnx_input.c   the input preprocessing and dataset lines of an imported spec
 *                  [onnx_import.h]
 *   onnx_layer.c   building spec layers: names, fields, weights [onnx_internal.h]
 *   onnx_node.c    reading one node: inputs and attributes, checked [onnx_internal.h]
 *   onnx_ops.c     one converter per operator on activations [onnx_internal.h]
 *   onnx_value.c   the importer's values: activations and known tensors [onnx_internal.h]
 *   onnx_write.c   an ONNX model into DIR/NAME.yaml + .safetensors [onnx_write.h]
 *   onnx_seq.c     sequence activations: N-d views over [B, T, F] layers [onnx_internal.h]
 *   onnx_seq_ops.c operators on sequence activations (transformers) [onnx_internal.h]
 *   onnx_seq_fuse.c recognised multi-node patterns (GELU, LayerNorm, ...) [onnx_internal.h]
 *   onnx_seq_ids.c token-id inputs and Gather as embedding [onnx_internal.h]
 */

#include <stddef.h>
#include <stdint.h>
#include "model.h"
#include "onnx.pb-c.h"
#include "onnx_import.h"

#define MAX_ELEMS ((uint64_t)1 << 28)    /* per tensor: 1 GiB of float32       */
#define MAX_ACT ((int64_t)1 << 30)       /* per-sample activation values       */
#define MAX_DIM ((int64_t)1 << 24)

enum { V_ACT = 1, V_CONST = 2 };

typedef struct val {
    char *name;                  /* owned                                        */
    int kind;
    int layer;                   /* ACT: producing layer, -1 = the network input */
    int rank;                    /* ACT: 4 or 2                                  */
    int shape[3];                /* ACT: C, H, W                                 */
    int ndim;                    /* CONST                                        */
    int64_t dims[NR_TENSOR_MAXDIM];
    size_t count;
    int isint;                   /* CONST: i holds the data, else f              */
    double *f;
    int64_t *i;
    int uses;                    /* node inputs and graph outputs naming it      */
    /* ACT with seq set (onnx_seq.c): the ONNX tensor is the view dims d[nd]
     * (batch included), element strides st[nd] and offset off into the
     * C-order storage shape[3] = [B, T, F] of layer `layer`; rank is 3 */
    int seq, nd;
    int64_t d[NR_TENSOR_MAXDIM], st[NR_TENSOR_MAXDIM], off;
    int ids;                     /* ACT: the integer token-id input (onnx_seq_ids.c) */
} val;

typedef struct layer {
    char name[NR_NAME_MAX];
    const char *op;
    char fields[512];            /* ", key: value" text after name and op        */
    int ninputs, inputs[8];      /* layer indices, -1 = network input            */
    int out_val;                 /* the value it defines                         */
    int mac;                     /* 1 conv, 2 dense, 0 other                     */
    int out;                     /* conv/dense output channels                   */
    int has_bias;
} layer;

typedef struct strmap {          /* open addressing: name -> int                 */
    char **keys;
    int *vals;
    size_t cap, n;
} strmap;

typedef struct ctx {
    const char *path;
    nr_err *err;
    const Onnx__GraphProto *g;
    int64_t opset;
    int64_t batch;               /* N of the network input, -1 when symbolic     */
    val *v;
    int nv, capv;
    strmap vmap, uses, vinfo, lnames;
    layer *L;
    int nl, capl;
    nr_tensor_out *T;
    int nt, capt;
    uint64_t nvalues;
    char where[96];
    int node;                    /* index of the node being converted, -1 none   */
    struct onnx_fused *fz;       /* per node: a recognised pattern (onnx_seq_fuse.c) */
    strmap prod;                 /* value name -> index of the node producing it */
    const char *optag;           /* set: errors start "OP: " (transformer nodes) */
} ctx;

typedef const Onnx__NodeProto node;

/* ------------------------------------------------------------ onnx_value.c */

/* Printable copy of a name from the file (which may hold any bytes). */
void onnx_printable(char *dst, size_t n, const char *s);
/* Record an error at c->where; returns the (negative) code. */
int onnx_err(ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int onnx_map_get(const strmap *m, const char *key);       /* -1 when absent       */
int onnx_map_put(strmap *m, const char *key, int v);      /* 0 or -1 (no memory)  */
void onnx_map_free(strmap *m);
const char *onnx_dims_str(char *buf, size_t n, const int64_t *d, int nd);
const char *onnx_act_str(char *buf, size_t n, const val *v);
const char *onnx_dtype_name(int dt);
/* Decode a TensorProto into a CONST value (dims, count, f or i). */
int onnx_tensor_decode(ctx *c, const Onnx__TensorProto *t, val *out);
/* Define value `name` from *proto; on success the table owns proto's arrays. */
int onnx_def_val(ctx *c, const char *name, const val *proto);
/* Define activation `name` [C, H, W] made by layer layer_idx (-1: input). */
int onnx_def_act(ctx *c, const char *name, int layer_idx, int rank, int64_t C, int64_t H,
                 int64_t W);
/* Define `name` as another name for *src (a constant's data is copied). */
int onnx_alias(ctx *c, const char *name, const val *src);

/* ------------------------------------------------------------- onnx_node.c */

val *onnx_opt_in(ctx *c, node *n, size_t i);              /* NULL when not named  */
int onnx_get_in(ctx *c, node *n, size_t i, val **out);
int onnx_check_inputs(ctx *c, node *n, size_t lo, size_t hi);
int onnx_two_inputs(ctx *c, node *n, val **a, val **b);   /* binary, no attributes */
int onnx_only_first_output(ctx *c, node *n);
int onnx_need_act(ctx *c, const val *v, const char *what, int rank);
int onnx_need_const(ctx *c, const val *v, const char *what, int isint);
int onnx_in_act(ctx *c, node *n, size_t i, const char *what, int rank, val **out);
int onnx_in_const(ctx *c, node *n, size_t i, const char *what, int isint, val **out);
const Onnx__AttributeProto *onnx_attr(node *n, const char *name);
int onnx_check_attrs(ctx *c, node *n, const char *allowed);
int onnx_attr_type(ctx *c, const Onnx__AttributeProto *a, int want, const char *wname);
int onnx_attr_int(ctx *c, node *n, const char *name, int64_t dflt, int64_t *out);
int onnx_attr_float(ctx *c, node *n, const char *name, double dflt, double *out);
int onnx_attr_ints(ctx *c, node *n, const char *name, int64_t *out, int max, int *cnt);
int onnx_attr_str(ctx *c, node *n, const char *name, const char *dflt, char *out, size_t cap);
int onnx_attr_int_in(ctx *c, node *n, const char *name, int64_t dflt, int64_t lo, int64_t hi,
                     int *out);
int onnx_norm_axis(ctx *c, int64_t axis, int rank, int *out);

/* ------------------------------------------------------------ onnx_layer.c */

typedef struct win {
    int k[2], s[2], d[2], p[4];
    int mode;                /* NR_PAD_EXPLICIT / SAME / VALID (spec's terms) */
    int out[2];
} win;

void onnx_fmt_f32(char *out, size_t n, double v);
int onnx_lfield(ctx *c, layer *l, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A new layer (its index, or a negative error) reading the values ins. */
int onnx_new_layer(ctx *c, node *n, const char *op, val *const *ins, int nin);
int onnx_add_tensor(ctx *c, const layer *l, const char *suffix, int ndim, const int64_t *shape,
                    float *data);
/* A layer op reading ins with M outputs, weight wt [M, K] and bias (or NULL),
 * both taken over: its index or a negative error (onnx_ops.c). */
int onnx_weighted_layer(ctx *c, node *n, const char *op, val *const *ins, int mac, int M, int K,
                        float *wt, float *bias);
int onnx_to_f32(ctx *c, const val *v, double s, const char *what, float **out);
int onnx_add_vec(ctx *c, const layer *l, const char *suffix, const val *v, double scale);
int onnx_check_vec(ctx *c, const val *v, int C, const char *what);
/* w->k set by the caller; the rest from the node's attributes and x's shape. */
int onnx_window(ctx *c, node *n, const val *x, int ispool, int ceil_mode, win *w);
int onnx_write_window(ctx *c, layer *l, const win *w, int ispool, int conv);

/* -------------------------------------------------------------- onnx_ops.c */

typedef int (*onnx_op_fn)(ctx *c, node *n);
/* The converter of ONNX operator op_type, NULL when unsupported. */
onnx_op_fn onnx_ops_find(const char *op_type);

/* ------------------------------------------------------------ onnx_const.c */

int onnx_op_constant(ctx *c, node *n);
int onnx_op_constant_of_shape(ctx *c, node *n);
int onnx_op_shape(ctx *c, node *n);
int onnx_op_gather(ctx *c, node *n);
int onnx_op_unsqueeze(ctx *c, node *n);
int onnx_op_squeeze(ctx *c, node *n);
int onnx_op_cast(ctx *c, node *n);
int onnx_op_transpose(ctx *c, node *n);
int onnx_op_arith(ctx *c, node *n);                       /* Sub, Mul, Div        */
int onnx_op_equal(ctx *c, node *n);                       /* NumPy broadcasting:  */
int onnx_op_where(ctx *c, node *n);
int onnx_op_expand(ctx *c, node *n);
/* The constant cases of operators that are layers on activations. */
int onnx_const_concat(ctx *c, node *n);
int onnx_const_reshape(ctx *c, node *n, const val *x, const val *s, int allowzero);
int onnx_const_arith(ctx *c, node *n, const val *a, const val *b);
int onnx_const_slice(ctx *c, const val *x, const int64_t *st, const int64_t *en,
                     const int64_t *axes, const int64_t *steps, int ns, const char *out);

/* -------------------------------------------------------------- onnx_ops.c */

/* Constant int64 list (at most 8) from input i: *cnt = -1 when absent. */
int onnx_int_list(ctx *c, node *n, size_t i, const char *what, int64_t *out, int *cnt);
/* W[m][k] = alpha * B[k][m] (or B[m][k] when transB), float32, malloc'ed. */
int onnx_dense_weight(ctx *c, const val *B, int transB, double alpha, int K, int M, float **out);

/* -------------------------------------------------------------- onnx_seq.c */

/* A graph input of rank 3 [N, T, F]: a sequence activation [1, T, F]. */
int onnx_seq_input(ctx *c, const char *name, int T, int F);
/* 1 when node n reads a sequence activation (or turns an NCHW one into one). */
int onnx_seq_wants(ctx *c, node *n);
/* A sequence activation's value after every node: made a layer's plain
 * storage (the graph output). */
int onnx_seq_finish(ctx *c, val *v);
/* The view of any activation (an NCHW or NF one: its C-order view). */
void onnx_seq_view(const val *v, val *out);
/* *out = v as a value whose view is its storage in C order, adding layers
 * (slice, heads, merge_heads, tokens) as needed; else an error. */
int onnx_seq_canon(ctx *c, node *n, const val *v, val *out);
/* Define name as a C-order view of dims[nd] over layer li of storage sh. */
int onnx_seq_def(ctx *c, const char *name, int li, const int sh[3], int nd, const int64_t *dims);
/* Define name as the view of v over layer li (same storage shape). */
int onnx_seq_def_like(ctx *c, const char *name, int li, const val *v);
/* Product of dims. */
int64_t onnx_seq_count(int nd, const int64_t *d);
const char *onnx_seq_str(char *buf, size_t n, const val *v);
/* Declared shape check (value_info) of a sequence value. */
int onnx_seq_check_declared(ctx *c, const val *v, const char *name);

/* ---------------------------------------------------------- onnx_seq_ops.c */

/* Convert node n, one of whose inputs is a sequence activation. */
int onnx_seq_convert(ctx *c, node *n);
/* A unary layer op (fields appended by the caller) on v: its output view is v's. */
int onnx_seq_unary(ctx *c, node *n, const char *op, const val *v, const char *out, int *li);
/* layernorm (gamma g, beta b) or rmsnorm (g) over v's last axis, named out;
 * g, b NULL: ones, zeros. */
int onnx_seq_norm(ctx *c, node *n, const val *v, const char *op, const val *g, const val *b,
                  double eps, const char *out);
/* rope on v [.., T, d] (d = 2 half, the second slice ending at end >= d)
 * with the tables cos, sin [.., T, d] whose halves agree. */
int onnx_seq_rope(ctx *c, node *n, const val *v, const val *cos, const val *sin, int64_t half,
                  int64_t end, const char *out);
/* causal_softmax of scores v [.., T, T] under the boolean mask (j > t). */
int onnx_seq_causal(ctx *c, node *n, const val *v, const val *mask, const char *out);

/* ---------------------------------------------------------- onnx_seq_ids.c */

/* Define the integer graph input `name` [N, T] as token ids (spec [1, 1, T]). */
int onnx_seq_ids_input(ctx *c, const char *name, int T);
/* A node reading the ids: *done = 1 and Gather -> embedding, else an error. */
int onnx_seq_ids_convert(ctx *c, node *n, int *done);

/* --------------------------------------------------------- onnx_seq_fuse.c */

/* Find the recognised patterns (c->fz) before the walk. */
int onnx_fuse_scan(ctx *c);
/* 1 when node i is inside a recognised pattern, not its head. */
int onnx_fuse_skip(const ctx *c, int i);
/* Node i heads a pattern: emit its layer (0 or an error); 1 when it heads none. */
int onnx_fuse_emit(ctx *c, int i);
void onnx_fuse_free(ctx *c);

#endif
