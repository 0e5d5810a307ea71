/* onnx_import.c -- ONNX graph -> network spec text + float32 weights.
 *
 * The nodes are walked in file order (ONNX requires a topological order).
 * Every value name is one of
 *   ACT    an activation: the output of a spec layer or the network input,
 *          with its per-sample shape [C, H, W] and its ONNX rank (4: NCHW,
 *          2: NF, which the spec holds as [F, 1, 1]);
 *   CONST  a tensor known at import time: an initializer, a Constant node,
 *          or constant shape arithmetic (Shape/Gather/Unsqueeze/Concat/Cast
 *          on constants, as exporters emit for `x.view(x.size(0), -1)`).
 *
 *   ONNX operator              spec layer
 *   Conv                       conv (weight [M, C/g, kh, kw], bias [M])
 *   Gemm                       dense (transB honoured, alpha/beta folded into weight/bias)
 *   MatMul (+ Add of [M])      dense (B^T), the Add becoming its bias
 *   Add of a constant onto a bias-less Conv/Gemm/MatMul read by nothing else: its bias
 *   Relu / Clip                relu / relu6 (0..6) / relu (0..inf) / clip
 *   MaxPool / AveragePool      maxpool / avgpool (auto_pad, pads, ceil_mode,
 *                              count_include_pad written explicitly: ONNX's default is 0)
 *   GlobalAveragePool          global_avgpool
 *   BatchNormalization         batchnorm (weight, bias, running_mean, running_var)
 *   Add (two activations)      add;   Concat (axis 1)  concat
 *   Flatten (axis 1), Reshape to [N, C*H*W]   flatten
 *   Pad (constant 0)           pad;   Slice (step >= 1) slice, bounds resolved
 *   LRN (odd size)             lrn;   Softmax over channels  softmax
 *   Dropout, Identity          nothing: the output names the input
 *
 * ONNX pads [x1_begin, x2_begin, x1_end, x2_end] are the spec's [top, left,
 * bottom, right]; SAME_UPPER is the spec's `same`, SAME_LOWER becomes
 * explicit pads (the odd pixel at the top/left).  Every computed shape is
 * checked against the shapes the file itself declares (value_info, graph
 * outputs), so a disagreement is reported at the node that causes it. */
#include "onnx_import.h"
#include "model.h"
#include "onnx.pb-c.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
} ctx;

/* ---------------------------------------------------------------- errors */

/* Printable copy of a name from the file (which may hold any bytes). */
static void printable(char *dst, size_t n, const char *s)
{
    size_t k = 0;
    for (; s && *s && k + 1 < n; s++)
        dst[k++] = (*s >= 32 && *s < 127 && *s != '"') ? *s : '?';
    dst[k] = 0;
}

static int cerr(ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cerr(ctx *c, int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nr_err_set(c->err, code, c->path, 0, 0, c->where, "%s", msg);
}

static void set_where(ctx *c, const char *kind, int index, const char *name)
{
    char p[64];
    printable(p, sizeof p, name);
    if (index >= 0)
        snprintf(c->where, sizeof c->where, "%s %d \"%s\"", kind, index, p);
    else
        snprintf(c->where, sizeof c->where, "%s \"%s\"", kind, p);
}

/* ---------------------------------------------------------------- strmap */

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int strmap_get(const strmap *m, const char *key)
{
    if (!m->cap)
        return -1;
    for (size_t i = str_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return -1;
        if (!strcmp(m->keys[i], key))
            return m->vals[i];
    }
}

static int strmap_put(strmap *m, const char *key, int v) /* 0 or -1 (no memory) */
{
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        char **keys = calloc(cap, sizeof *keys);
        int *vals = calloc(cap, sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = str_hash(m->keys[i]) & (cap - 1);
                while (keys[j])
                    j = (j + 1) & (cap - 1);
                keys[j] = m->keys[i];
                vals[j] = m->vals[i];
            }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t i = str_hash(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key))
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) {
        if (!(m->keys[i] = strdup(key)))
            return -1;
        m->n++;
    }
    m->vals[i] = v;
    return 0;
}

static void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

/* ---------------------------------------------------------------- text */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0 || b->oom) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? 2 * b->cap : 4096) + (size_t)k;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* The shortest decimal that reads back as the same float32: ONNX float
 * attributes are float32, and eps 1e-5 should read "1e-05", not the
 * binary expansion of the nearest float. */
static void fmt_f32(char *out, size_t n, double v)
{
    float f = (float)v;
    if ((double)f != v) {  /* not a float32 (a double from an input tensor) */
        snprintf(out, n, "%.17g", v);
        return;
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if ((float)strtod(out, NULL) == f)
            return;
    }
}

static int lfield(ctx *c, layer *l, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lfield(ctx *c, layer *l, const char *fmt, ...)
{
    size_t n = strlen(l->fields);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->fields + n, sizeof l->fields - n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof l->fields - n)
        return cerr(c, NR_EINTERNAL, "layer fields too long");
    return 0;
}

static int lpair(ctx *c, layer *l, const char *key, const int v[2])
{
    return v[0] == v[1] ? lfield(c, l, ", %s: %d", key, v[0])
                        : lfield(c, l, ", %s: [%d, %d]", key, v[0], v[1]);
}

static const char *dims_str(char *buf, size_t n, const int64_t *d, int nd)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)d[i]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
    return buf;
}

/* An activation's shape as ONNX writes it: [N, C, H, W] or [N, F]. */
static const char *act_str(char *buf, size_t n, const val *v)
{
    if (v->rank == 2)
        snprintf(buf, n, "[N, %d]", v->shape[0]);
    else
        snprintf(buf, n, "[N, %d, %d, %d]", v->shape[0], v->shape[1], v->shape[2]);
    return buf;
}

/* ---------------------------------------------------------------- tensors */

static const char *dtype_name(int dt)
{
    static const char *const names[] = {"UNDEFINED", "FLOAT",  "UINT8",     "INT8",
                                        "UINT16",    "INT16",  "INT32",     "INT64",
                                        "STRING",    "BOOL",   "FLOAT16",   "DOUBLE",
                                        "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128",
                                        "BFLOAT16"};
    return dt >= 0 && dt < (int)(sizeof names / sizeof *names) ? names[dt] : "unknown";
}

static double half_to_double(unsigned h)
{
    int e = (h >> 10) & 31;
    unsigned m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

static double bf16_to_double(unsigned h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

/* Decode a TensorProto into a CONST value (dims, count, f or i). */
static int tensor_decode(ctx *c, const Onnx__TensorProto *t, val *out)
{
    int dt = t->has_data_type ? t->data_type : 0;
    if (t->n_external_data ||
        (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL))
        return cerr(c, NR_EUNSUP, "external tensor data is not supported (save the model with "
                                  "its weights inside the .onnx file)");
    if (t->n_dims > NR_TENSOR_MAXDIM)
        return cerr(c, NR_EUNSUP, "%zu dimensions, at most %d supported", t->n_dims,
                    NR_TENSOR_MAXDIM);
    uint64_t count = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || t->dims[i] > MAX_DIM)
            return cerr(c, NR_ECORRUPT, "dimension %zu is %lld (expected 0 .. %lld)", i,
                        (long long)t->dims[i], (long long)MAX_DIM);
        count *= (uint64_t)t->dims[i];
        if (count > MAX_ELEMS)
            return cerr(c, NR_ERANGE, "more than %llu elements",
                        (unsigned long long)MAX_ELEMS);
        out->dims[i] = t->dims[i];
    }
    out->ndim = (int)t->n_dims;
    out->count = (size_t)count;
    out->kind = V_CONST;
    int esz;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        esz = 4; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        esz = 8; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
        esz = 2; break;
    default:
        return cerr(c, NR_EUNSUP, "data type %s (%d) is not supported (expected FLOAT, DOUBLE, "
                    "FLOAT16, BFLOAT16, INT32 or INT64)", dtype_name(dt), dt);
    }
    out->isint = dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ||
                 dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    size_t have;
    const char *field;
    if (t->has_raw_data) {
        if (t->raw_data.len != count * (uint64_t)esz)
            return cerr(c, NR_ECORRUPT, "raw_data has %zu bytes, expected %llu (%llu %s values)",
                        t->raw_data.len, (unsigned long long)(count * (uint64_t)esz),
                        (unsigned long long)count, dtype_name(dt));
        have = count;
        field = "raw_data";
    } else {
        switch (dt) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: have = t->n_float_data; field = "float_data"; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: have = t->n_double_data; field = "double_data"; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: have = t->n_int64_data; field = "int64_data"; break;
        default: have = t->n_int32_data; field = "int32_data"; break;
        }
        if (have != count)
            return cerr(c, NR_ECORRUPT, "%zu values in %s, expected %llu", have, field,
                        (unsigned long long)count);
    }
    size_t nalloc = count ? count : 1;
    if (out->isint ? !(out->i = malloc(nalloc * sizeof *out->i))
                   : !(out->f = malloc(nalloc * sizeof *out->f)))
        return cerr(c, NR_ENOMEM, "out of memory for %llu values", (unsigned long long)count);
    const uint8_t *raw = t->has_raw_data ? t->raw_data.data : NULL;
    for (size_t k = 0; k < count; k++) {
        switch (dt) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
            float f;
            if (raw) {
                uint32_t u = (uint32_t)le(raw + 4 * k, 4);
                memcpy(&f, &u, 4);
            } else
                f = t->float_data[k];
            out->f[k] = f;
            break;
        }
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: {
            double d;
            if (raw) {
                uint64_t u = le(raw + 8 * k, 8);
                memcpy(&d, &u, 8);
            } else
                d = t->double_data[k];
            out->f[k] = d;
            break;
        }
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
            out->f[k] = half_to_double(raw ? (unsigned)le(raw + 2 * k, 2)
                                           : (unsigned)t->int32_data[k] & 0xFFFF);
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
            out->f[k] = bf16_to_double(raw ? (unsigned)le(raw + 2 * k, 2)
                                           : (unsigned)t->int32_data[k] & 0xFFFF);
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
            out->i[k] = raw ? (int32_t)(uint32_t)le(raw + 4 * k, 4) : t->int32_data[k];
            break;
        default:
            out->i[k] = raw ? (int64_t)le(raw + 8 * k, 8) : t->int64_data[k];
            break;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- values */

static int def_val(ctx *c, const char *name, const val *proto)
{
    if (!name || !*name)
        return cerr(c, NR_ECORRUPT, "a value without a name");
    if (strmap_get(&c->vmap, name) >= 0) {
        char p[64];
        printable(p, sizeof p, name);
        return cerr(c, NR_ECORRUPT, "value \"%s\" is defined twice", p);
    }
    if (c->nv == c->capv)
        return cerr(c, NR_EINTERNAL, "value table full");
    val *v = &c->v[c->nv];
    *v = *proto;
    v->name = strdup(name);
    if (!v->name || strmap_put(&c->vmap, name, c->nv))
        return cerr(c, NR_ENOMEM, "out of memory");
    int u = strmap_get(&c->uses, name);
    v->uses = u < 0 ? 0 : u;
    c->nv++;
    return 0;
}

/* The shape the file declares for a value (value_info / graph outputs),
 * compared with ours; the batch dimension is not compared. */
static int check_declared(ctx *c, const val *v, const char *name)
{
    int vi = strmap_get(&c->vinfo, name);
    if (vi < 0)
        return 0;
    const Onnx__ValueInfoProto *info =
        vi < (int)c->g->n_value_info ? c->g->value_info[vi] : c->g->output[vi - (int)c->g->n_value_info];
    if (!info->type || info->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !info->type->tensor_type || !info->type->tensor_type->shape)
        return 0;
    const Onnx__TensorShapeProto *s = info->type->tensor_type->shape;
    int64_t want[3] = {v->shape[0], v->shape[1], v->shape[2]};
    int ok = (int)s->n_dim == v->rank;
    for (int i = 1; ok && i < v->rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = s->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            d->dim_value != want[i - 1])
            ok = 0;
    }
    if (ok)
        return 0;
    char p[64], a[64], b[160];
    size_t k = 0;
    k += (size_t)snprintf(b, sizeof b, "[");
    for (size_t i = 0; i < s->n_dim && i < 8 && k < sizeof b; i++) {
        const Onnx__TensorShapeProto__Dimension *d = s->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            k += (size_t)snprintf(b + k, sizeof b - k, "%s%lld", i ? ", " : "", (long long)d->dim_value);
        else
            k += (size_t)snprintf(b + k, sizeof b - k, "%s?", i ? ", " : "");
    }
    if (k < sizeof b)
        snprintf(b + k, sizeof b - k, "]");
    printable(p, sizeof p, name);
    return cerr(c, NR_ESHAPE, "output \"%s\": the file declares shape %s, the imported layers "
                "give %s", p, b, act_str(a, sizeof a, v));
}

static int def_act(ctx *c, const char *name, int layer_idx, int rank, int64_t C, int64_t H,
                   int64_t W)
{
    if (C < 1 || H < 1 || W < 1 || C > MAX_ACT || H > MAX_ACT || W > MAX_ACT ||
        C * H > MAX_ACT || C * H * W > MAX_ACT)
        return cerr(c, NR_ESHAPE, "output shape [N, %lld, %lld, %lld] is empty or too large",
                    (long long)C, (long long)H, (long long)W);
    val a = {.kind = V_ACT, .layer = layer_idx, .rank = rank, .shape = {(int)C, (int)H, (int)W}};
    int rc = check_declared(c, &a, name);
    if (rc)
        return rc;
    if (layer_idx >= 0)
        c->L[layer_idx].out_val = c->nv;
    return def_val(c, name, &a);
}

static int alias(ctx *c, const char *name, const val *src)
{
    val a = *src;
    if (src->kind == V_CONST) { /* copy the data: each value owns its arrays */
        size_t n = src->count ? src->count : 1;
        a.f = NULL;
        a.i = NULL;
        if (src->isint ? !(a.i = malloc(n * sizeof *a.i)) : !(a.f = malloc(n * sizeof *a.f)))
            return cerr(c, NR_ENOMEM, "out of memory");
        if (src->isint)
            memcpy(a.i, src->i, src->count * sizeof *a.i);
        else
            memcpy(a.f, src->f, src->count * sizeof *a.f);
        int rc = def_val(c, name, &a);
        if (rc) {
            free(a.f);
            free(a.i);
        }
        return rc;
    }
    int rc = check_declared(c, &a, name);
    return rc ? rc : def_val(c, name, &a);
}

/* ---------------------------------------------------------------- node helpers */

typedef const Onnx__NodeProto node;

static val *opt_in(ctx *c, node *n, size_t i)
{
    if (i >= n->n_input || !n->input[i][0])
        return NULL;
    int k = strmap_get(&c->vmap, n->input[i]);
    return k < 0 ? NULL : &c->v[k];
}

static int get_in(ctx *c, node *n, size_t i, val **out)
{
    if (i >= n->n_input || !n->input[i][0])
        return cerr(c, NR_ECORRUPT, "input %zu is missing", i);
    int k = strmap_get(&c->vmap, n->input[i]);
    if (k < 0) {
        char p[64];
        printable(p, sizeof p, n->input[i]);
        return cerr(c, NR_ECORRUPT, "input %zu \"%s\" is not an initializer, a graph input or "
                    "the output of an earlier node", i, p);
    }
    *out = &c->v[k];
    return 0;
}

/* Every optional input that is named must exist. */
static int check_inputs(ctx *c, node *n, size_t lo, size_t hi)
{
    if (n->n_input < lo || n->n_input > hi) {
        if (lo == hi)
            return cerr(c, NR_ECORRUPT, "%zu inputs, expected %zu", n->n_input, lo);
        return cerr(c, NR_ECORRUPT, "%zu inputs, expected %zu to %zu", n->n_input, lo, hi);
    }
    for (size_t i = 0; i < n->n_input; i++) {
        val *v;
        int rc = n->input[i][0] ? get_in(c, n, i, &v) : 0;
        if (rc)
            return rc;
    }
    if (n->n_output < 1 || !n->output[0][0])
        return cerr(c, NR_ECORRUPT, "the node has no output");
    return 0;
}

/* Outputs after the first (MaxPool indices, Dropout mask, BatchNorm
 * training statistics) must not be read. */
static int only_first_output(ctx *c, node *n)
{
    for (size_t i = 1; i < n->n_output; i++)
        if (n->output[i][0] && strmap_get(&c->uses, n->output[i]) > 0) {
            char p[64];
            printable(p, sizeof p, n->output[i]);
            return cerr(c, NR_EUNSUP, "output %zu \"%s\" is read, but only the first output "
                        "is supported", i, p);
        }
    return 0;
}

static int need_act(ctx *c, const val *v, const char *what, int rank)
{
    if (v->kind != V_ACT)
        return cerr(c, NR_EUNSUP, "%s must be computed from the network input, not a constant", what);
    if (rank && v->rank != rank) {
        char a[64];
        return cerr(c, NR_ESHAPE, "%s has shape %s, expected a %d-D tensor", what,
                    act_str(a, sizeof a, v), rank);
    }
    return 0;
}

static int need_const(ctx *c, const val *v, const char *what, int isint)
{
    if (v->kind != V_CONST)
        return cerr(c, NR_EUNSUP, "%s must be a constant (an initializer or Constant node)", what);
    if (isint >= 0 && v->isint != isint)
        return cerr(c, NR_EUNSUP, "%s must be a %s tensor", what,
                    isint ? "integer (INT64)" : "floating-point");
    return 0;
}

/* ---------------------------------------------------------------- attributes */

static const Onnx__AttributeProto *attr(node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name))
            return n->attribute[i];
    return NULL;
}

/* allowed: blank-separated names.  An attribute we do not know could change
 * the meaning, so it is an error rather than silently ignored. */
static int check_attrs(ctx *c, node *n, const char *allowed)
{
    for (size_t i = 0; i < n->n_attribute; i++) {
        const char *a = n->attribute[i]->name ? n->attribute[i]->name : "";
        size_t len = strlen(a);
        const char *p = allowed;
        int ok = 0;
        while (len && (p = strstr(p, a))) {
            if ((p == allowed || p[-1] == ' ') && (p[len] == ' ' || !p[len])) {
                ok = 1;
                break;
            }
            p += len;
        }
        if (!ok) {
            char q[64];
            printable(q, sizeof q, a);
            return cerr(c, NR_EUNSUP, "attribute \"%s\" is not supported", q);
        }
        if (n->attribute[i]->ref_attr_name && n->attribute[i]->ref_attr_name[0])
            return cerr(c, NR_EUNSUP, "attribute \"%s\" refers to a function attribute", a);
    }
    return 0;
}

static int attr_type(ctx *c, const Onnx__AttributeProto *a, int want, const char *wname)
{
    if (a->has_type && (int)a->type != want)
        return cerr(c, NR_ECORRUPT, "attribute %s: type %d, expected %s", a->name, (int)a->type,
                    wname);
    return 0;
}

static int attr_int(ctx *c, node *n, const char *name, int64_t dflt, int64_t *out)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *out = dflt;
    if (!a)
        return 0;
    int rc = attr_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, "INT");
    if (!rc)
        *out = a->i;
    return rc;
}

static int attr_float(ctx *c, node *n, const char *name, double dflt, double *out)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *out = dflt;
    if (!a)
        return 0;
    int rc = attr_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, "FLOAT");
    if (!rc)
        *out = a->f;
    if (!rc && !isfinite(*out))
        return cerr(c, NR_ERANGE, "attribute %s: %g is not finite", name, *out);
    return rc;
}

/* *cnt = -1 when absent; more than max entries is an error. */
static int attr_ints(ctx *c, node *n, const char *name, int64_t *out, int max, int *cnt)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *cnt = -1;
    if (!a)
        return 0;
    int rc = attr_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, "INTS");
    if (rc)
        return rc;
    if (a->n_ints > (size_t)max)
        return cerr(c, NR_EUNSUP, "attribute %s has %zu entries, expected at most %d", name,
                    a->n_ints, max);
    memcpy(out, a->ints, a->n_ints * sizeof *out);
    *cnt = (int)a->n_ints;
    return 0;
}

static int attr_str(ctx *c, node *n, const char *name, const char *dflt, char *out, size_t cap)
{
    const Onnx__AttributeProto *a = attr(n, name);
    snprintf(out, cap, "%s", dflt);
    if (!a)
        return 0;
    int rc = attr_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, "STRING");
    if (rc)
        return rc;
    size_t k = a->s.len < cap - 1 ? a->s.len : cap - 1;
    memcpy(out, a->s.data, k);
    out[k] = 0;
    return 0;
}

/* An int attribute that must fit in [lo, hi]. */
static int attr_int_in(ctx *c, node *n, const char *name, int64_t dflt, int64_t lo, int64_t hi,
                       int *out)
{
    int64_t v;
    int rc = attr_int(c, n, name, dflt, &v);
    if (rc)
        return rc;
    if (v < lo || v > hi)
        return cerr(c, NR_EUNSUP, "attribute %s = %lld, expected %lld .. %lld", name,
                    (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return 0;
}

/* ---------------------------------------------------------------- layers and tensors */

static int sanitize_name(ctx *c, node *n, char out[NR_NAME_MAX])
{
    const char *src = n->name && n->name[0] ? n->name : NULL;
    char base[NR_NAME_MAX];
    size_t k = 0;
    if (src) {
        while (*src == '/') /* torch names nodes "/layer1/layer1.0/conv1/Conv" */
            src++;
        for (; *src && k < NR_NAME_MAX - 8; src++) {
            char ch = *src;
            int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-' || ch == '/';
            base[k++] = ok ? ch : '_';
        }
    }
    if (!k)
        k = (size_t)snprintf(base, sizeof base, "%.40s_%d", n->op_type, c->node);
    base[k] = 0;
    for (size_t i = 0; i < k; i++) /* op_type too may hold anything */
        if (!((base[i] >= 'a' && base[i] <= 'z') || (base[i] >= 'A' && base[i] <= 'Z') ||
              (base[i] >= '0' && base[i] <= '9') || strchr("_.-/", base[i])))
            base[i] = '_';
    snprintf(out, NR_NAME_MAX, "%s", strcmp(base, "input") ? base : "input_");
    for (int sfx = 2; strmap_get(&c->lnames, out) >= 0; sfx++) {
        if (sfx > 1000000)
            return cerr(c, NR_EINTERNAL, "cannot make a unique layer name");
        snprintf(out, NR_NAME_MAX, "%.80s_%d", base, sfx);
    }
    return 0;
}

static int new_layer(ctx *c, node *n, const char *op, val *const *ins, int nin)
{
    if (nin > 8)
        return cerr(c, NR_EUNSUP, "%d inputs, at most 8 supported", nin);
    if (c->nl == c->capl) {
        int cap = c->capl ? 2 * c->capl : 64;
        layer *L = realloc(c->L, (size_t)cap * sizeof *L);
        if (!L)
            return cerr(c, NR_ENOMEM, "out of memory");
        c->L = L;
        c->capl = cap;
    }
    layer *l = &c->L[c->nl];
    memset(l, 0, sizeof *l);
    int rc = sanitize_name(c, n, l->name);
    if (rc)
        return rc;
    if (strmap_put(&c->lnames, l->name, c->nl))
        return cerr(c, NR_ENOMEM, "out of memory");
    l->op = op;
    l->ninputs = nin;
    for (int i = 0; i < nin; i++)
        l->inputs[i] = ins[i]->layer;
    l->out_val = -1;
    return c->nl++;
}

/* Add tensor "<layer>.<suffix>"; takes ownership of data. */
static int add_tensor(ctx *c, const layer *l, const char *suffix, int ndim, const int64_t *shape,
                      float *data)
{
    if (c->nt == c->capt) {
        int cap = c->capt ? 2 * c->capt : 64;
        nr_tensor_out *T = realloc(c->T, (size_t)cap * sizeof *T);
        if (!T) {
            free(data);
            return cerr(c, NR_ENOMEM, "out of memory");
        }
        c->T = T;
        c->capt = cap;
    }
    char *name = malloc(strlen(l->name) + strlen(suffix) + 2);
    int64_t *sh = malloc((size_t)(ndim ? ndim : 1) * sizeof *sh);
    if (!name || !sh) {
        free(name);
        free(sh);
        free(data);
        return cerr(c, NR_ENOMEM, "out of memory");
    }
    sprintf(name, "%s.%s", l->name, suffix);
    memcpy(sh, shape, (size_t)ndim * sizeof *sh);
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= (uint64_t)shape[i];
    c->T[c->nt++] = (nr_tensor_out){.name = name, .ndim = ndim, .shape = sh, .data = data};
    c->nvalues += count;
    return 0;
}

/* float32 copy of a CONST's values, scaled by s; a finite value that does
 * not fit float32 is an error. */
static int to_f32(ctx *c, const val *v, double s, const char *what, float **out)
{
    float *d = malloc((v->count ? v->count : 1) * sizeof *d);
    if (!d)
        return cerr(c, NR_ENOMEM, "out of memory");
    for (size_t k = 0; k < v->count; k++) {
        double x = v->f[k] * s;
        d[k] = (float)x;
        if (isfinite(x) && !isfinite(d[k])) {
            free(d);
            return cerr(c, NR_ERANGE, "%s: value %g does not fit float32", what, x);
        }
    }
    *out = d;
    return 0;
}

static int add_vec(ctx *c, const layer *l, const char *suffix, const val *v, double scale)
{
    float *d;
    int rc = to_f32(c, v, scale, suffix, &d);
    if (rc)
        return rc;
    int64_t n = (int64_t)v->count;
    return add_tensor(c, l, suffix, 1, &n, d);
}

/* A per-channel vector: count C, at most one non-1 dimension. */
static int check_vec(ctx *c, const val *v, int C, const char *what)
{
    int ok = v->kind == V_CONST && !v->isint && (int64_t)v->count == C;
    for (int i = 0; ok && i < v->ndim; i++)
        ok = v->dims[i] == 1 || v->dims[i] == C;
    if (ok)
        return 0;
    if (v->kind != V_CONST || v->isint)
        return need_const(c, v, what, 0);
    char d[96];
    return cerr(c, NR_ESHAPE, "%s has shape %s, expected [%d]", what,
                dims_str(d, sizeof d, v->dims, v->ndim), C);
}

/* ---------------------------------------------------------------- windows */

typedef struct win {
    int k[2], s[2], d[2], p[4];
    int mode;                /* NR_PAD_EXPLICIT / SAME / VALID (spec's terms) */
    int out[2];
} win;

static int window(ctx *c, node *n, const val *x, int ispool, int ceil_mode, win *w)
{
    int64_t a[8];
    int cnt;
    char autopad[32];
    int rc = attr_str(c, n, "auto_pad", "NOTSET", autopad, sizeof autopad);
    if (rc)
        return rc;
    const char *names[2] = {"strides", "dilations"};
    int *dst[2] = {w->s, w->d};
    for (int j = 0; j < 2; j++) {
        dst[j][0] = dst[j][1] = 1;
        if ((rc = attr_ints(c, n, names[j], a, 8, &cnt)))
            return rc;
        if (cnt >= 0 && cnt != 2)
            return cerr(c, NR_EUNSUP, "attribute %s has %d entries, expected 2 (2-D only)",
                        names[j], cnt);
        for (int i = 0; i < cnt; i++) {
            if (a[i] < 1 || a[i] > 65536)
                return cerr(c, NR_EUNSUP, "attribute %s = %lld, expected 1 .. 65536",
                            names[j], (long long)a[i]);
            dst[j][i] = (int)a[i];
        }
    }
    if (ispool && (w->d[0] != 1 || w->d[1] != 1))
        return cerr(c, NR_EUNSUP, "dilated pooling is not supported");
    memset(w->p, 0, sizeof w->p);
    if ((rc = attr_ints(c, n, "pads", a, 8, &cnt)))
        return rc;
    if (cnt >= 0 && cnt != 4)
        return cerr(c, NR_EUNSUP, "attribute pads has %d entries, expected 4", cnt);
    for (int i = 0; i < cnt; i++) {
        if (a[i] < 0 || a[i] > 65536)
            return cerr(c, NR_EUNSUP, "attribute pads: %lld, expected 0 .. 65536", (long long)a[i]);
        w->p[i] = (int)a[i]; /* [x1_begin, x2_begin, x1_end, x2_end] = [top, left, bottom, right] */
    }
    int same_upper = !strcmp(autopad, "SAME_UPPER"), same_lower = !strcmp(autopad, "SAME_LOWER");
    if (!strcmp(autopad, "NOTSET"))
        w->mode = NR_PAD_EXPLICIT;
    else if (same_upper || same_lower)
        w->mode = same_upper ? NR_PAD_SAME : NR_PAD_EXPLICIT;
    else if (!strcmp(autopad, "VALID"))
        w->mode = NR_PAD_VALID;
    else {
        char p[40];
        printable(p, sizeof p, autopad);
        return cerr(c, NR_EUNSUP, "auto_pad \"%s\", expected NOTSET, SAME_UPPER, SAME_LOWER or "
                    "VALID", p);
    }
    if (strcmp(autopad, "NOTSET") && cnt > 0 && (w->p[0] | w->p[1] | w->p[2] | w->p[3]))
        return cerr(c, NR_ECORRUPT, "both auto_pad and pads are set");
    for (int ax = 0; ax < 2; ax++) {
        int in = x->shape[1 + ax], s = w->s[ax];
        int64_t ke = (int64_t)(w->k[ax] - 1) * w->d[ax] + 1;
        if (same_upper || same_lower) {
            int64_t o = (in + s - 1) / s;
            int64_t total = (o - 1) * s + ke - in;
            if (total < 0)
                total = 0;
            int64_t big = total - total / 2;
            w->p[ax] = (int)(same_lower ? big : total / 2);
            w->p[ax + 2] = (int)(same_lower ? total / 2 : big);
            w->out[ax] = (int)o;
            continue;
        }
        if (w->mode == NR_PAD_VALID)
            w->p[ax] = w->p[ax + 2] = 0;
        int64_t span = (int64_t)in + w->p[ax] + w->p[ax + 2] - ke;
        if (span < 0)
            return cerr(c, NR_ESHAPE, "kernel %lld (dilated) is larger than the padded input %lld",
                        (long long)ke, (long long)(in + w->p[ax] + w->p[ax + 2]));
        int64_t o = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
        if (ceil_mode && (o - 1) * s >= (int64_t)in + w->p[ax])
            o--; /* the last window must start inside the input or the left padding */
        w->out[ax] = (int)o;
    }
    if (ispool && w->mode != NR_PAD_SAME)
        for (int i = 0; i < 4; i++)
            if (w->p[i] > w->k[i % 2] / 2)
                return cerr(c, NR_EUNSUP, "pads [%d, %d, %d, %d] exceed half the kernel [%d, %d] "
                            "(numrep's pools follow PyTorch: pad <= kernel/2)",
                            w->p[0], w->p[1], w->p[2], w->p[3], w->k[0], w->k[1]);
    return 0;
}

static int write_window(ctx *c, layer *l, const win *w, int ispool, int conv)
{
    int rc = lpair(c, l, "kernel", w->k);
    if (!rc && (ispool || w->s[0] != 1 || w->s[1] != 1))
        rc = lpair(c, l, "stride", w->s);
    if (rc)
        return rc;
    if (w->mode == NR_PAD_SAME)
        rc = lfield(c, l, ", pad: same");
    else if (w->mode == NR_PAD_VALID)
        rc = lfield(c, l, ", pad: valid");
    else if (w->p[0] == w->p[1] && w->p[0] == w->p[2] && w->p[0] == w->p[3]) {
        if (w->p[0])
            rc = lfield(c, l, ", pad: %d", w->p[0]);
    } else
        rc = lfield(c, l, ", pad: [%d, %d, %d, %d]", w->p[0], w->p[1], w->p[2], w->p[3]);
    if (!rc && conv && (w->d[0] != 1 || w->d[1] != 1))
        rc = lpair(c, l, "dilation", w->d);
    return rc;
}

/* ---------------------------------------------------------------- operators */

static int const_reshape(ctx *c, node *n, const val *x, const val *s, int allowzero);
static int const_alloc(ctx *c, val *r, int isint, int ndim, const int64_t *dims);
static int const_def(ctx *c, const char *name, val *r);
static int const_arith(ctx *c, node *n, const val *a, const val *b);
static int const_slice(ctx *c, const val *x, const int64_t *st, const int64_t *en,
                       const int64_t *axes, const int64_t *steps, int ns, const char *out);

static int op_conv(ctx *c, node *n)
{
    val *x, *w, *b;
    int rc = check_attrs(c, n, "auto_pad kernel_shape strides pads dilations group");
    if (!rc) rc = check_inputs(c, n, 2, 3);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_act(c, x, "input X", 4);
    if (!rc) rc = get_in(c, n, 1, &w);
    if (!rc) rc = need_const(c, w, "weight W", 0);
    if (rc)
        return rc;
    b = opt_in(c, n, 2);
    char d[96];
    if (w->ndim != 4)
        return cerr(c, NR_EUNSUP, "weight W has shape %s; only 2-D convolutions (4-D weights) "
                    "are supported", dims_str(d, sizeof d, w->dims, w->ndim));
    int g, C = x->shape[0], M = (int)w->dims[0];
    if ((rc = attr_int_in(c, n, "group", 1, 1, 1 << 20, &g)))
        return rc;
    if (M < 1 || C % g || M % g || w->dims[1] != C / g)
        return cerr(c, NR_ESHAPE, "weight W has shape %s, expected [M, %d, kh, kw] with M a "
                    "multiple of group %d (input has %d channels)",
                    dims_str(d, sizeof d, w->dims, 4), g ? C / g : 0, g, C);
    win wi = {.k = {(int)w->dims[2], (int)w->dims[3]}};
    int64_t ks[8];
    int cnt;
    if ((rc = attr_ints(c, n, "kernel_shape", ks, 8, &cnt)))
        return rc;
    if (cnt >= 0 && (cnt != 2 || ks[0] != wi.k[0] || ks[1] != wi.k[1]))
        return cerr(c, NR_ESHAPE, "kernel_shape disagrees with weight W %s",
                    dims_str(d, sizeof d, w->dims, 4));
    if (wi.k[0] < 1 || wi.k[1] < 1)
        return cerr(c, NR_ESHAPE, "empty kernel %s", dims_str(d, sizeof d, w->dims, 4));
    if (b && (rc = check_vec(c, b, M, "bias B")))
        return rc;
    if ((rc = window(c, n, x, 0, 0, &wi)))
        return rc;
    int li = new_layer(c, n, "conv", &x, 1);
    if (li < 0)
        return li;
    layer *l = &c->L[li];
    l->mac = 1;
    l->out = M;
    if ((rc = lfield(c, l, ", out: %d", M)) || (rc = write_window(c, l, &wi, 0, 1)))
        return rc;
    if (g != 1 && (rc = lfield(c, l, ", groups: %d", g)))
        return rc;
    float *wd;
    if ((rc = to_f32(c, w, 1, "weight W", &wd)) || (rc = add_tensor(c, l, "weight", 4, w->dims, wd)))
        return rc;
    if (b) {
        if ((rc = add_vec(c, &c->L[li], "bias", b, 1)))
            return rc;
        c->L[li].has_bias = 1;
    }
    return def_act(c, n->output[0], li, 4, M, wi.out[0], wi.out[1]);
}

/* dense from a [M, K] row-major weight (already transposed), bias or NULL */
static int make_dense(ctx *c, node *n, val *x, int M, float *wt, float *bias)
{
    int li = new_layer(c, n, "dense", &x, 1);
    if (li < 0) {
        free(wt);
        free(bias);
        return li;
    }
    layer *l = &c->L[li];
    l->mac = 2;
    l->out = M;
    int64_t ws[2] = {M, x->shape[0]}, bs = M;
    int rc = lfield(c, l, ", out: %d", M);
    if (rc) {
        free(wt);
        free(bias);
        return rc;
    }
    rc = add_tensor(c, &c->L[li], "weight", 2, ws, wt);
    if (rc) {
        free(bias);
        return rc;
    }
    if (bias) {
        if ((rc = add_tensor(c, &c->L[li], "bias", 1, &bs, bias)))
            return rc;
        c->L[li].has_bias = 1;
    }
    return def_act(c, n->output[0], li, 2, M, 1, 1);
}

/* W[m][k] = alpha * B[k][m] (or B[m][k] when transB) */
static int dense_weight(ctx *c, const val *B, int transB, double alpha, int K, int M, float **out)
{
    float *wt = malloc((size_t)M * K * sizeof *wt + 1);
    if (!wt)
        return cerr(c, NR_ENOMEM, "out of memory");
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            double v = alpha * (transB ? B->f[(size_t)m * K + k] : B->f[(size_t)k * M + m]);
            wt[(size_t)m * K + k] = (float)v;
            if (isfinite(v) && !isfinite(wt[(size_t)m * K + k])) {
                free(wt);
                return cerr(c, NR_ERANGE, "weight value %g does not fit float32", v);
            }
        }
    *out = wt;
    return 0;
}

static int op_gemm(ctx *c, node *n)
{
    val *a, *B, *C;
    double alpha, beta;
    int ta, tb;
    int rc = check_attrs(c, n, "alpha beta transA transB broadcast");
    if (!rc) rc = check_inputs(c, n, 2, 3);
    if (!rc) rc = attr_float(c, n, "alpha", 1, &alpha);
    if (!rc) rc = attr_float(c, n, "beta", 1, &beta);
    if (!rc) rc = attr_int_in(c, n, "transA", 0, 0, 0, &ta);
    if (!rc) rc = attr_int_in(c, n, "transB", 0, 0, 1, &tb);
    if (!rc) rc = get_in(c, n, 0, &a);
    if (!rc) rc = need_act(c, a, "input A", 2);
    if (!rc) rc = get_in(c, n, 1, &B);
    if (!rc) rc = need_const(c, B, "input B", 0);
    if (rc)
        return rc;
    C = opt_in(c, n, 2);
    char d[96];
    int K = a->shape[0];
    if (B->ndim != 2 || B->dims[tb ? 1 : 0] != K || B->dims[tb ? 0 : 1] < 1)
        return cerr(c, NR_ESHAPE, "input B has shape %s, expected %s (A has %d features)",
                    dims_str(d, sizeof d, B->dims, B->ndim), tb ? "[M, K]" : "[K, M]", K);
    int M = (int)B->dims[tb ? 0 : 1];
    float *bias = NULL, *wt;
    if (C) {
        if ((rc = need_const(c, C, "input C", 0)))
            return rc;
        int vec = C->count == (size_t)M &&
                  (C->ndim == 1 || (C->ndim == 2 && C->dims[0] == 1));
        if (C->count != 1 && !vec)
            return cerr(c, NR_EUNSUP, "input C has shape %s, expected [%d], [1, %d] or a scalar",
                        dims_str(d, sizeof d, C->dims, C->ndim), M, M);
        if (!(bias = malloc((size_t)M * sizeof *bias)))
            return cerr(c, NR_ENOMEM, "out of memory");
        for (int m = 0; m < M; m++)
            bias[m] = (float)(beta * C->f[vec ? m : 0]);
    }
    if ((rc = dense_weight(c, B, tb, alpha, K, M, &wt))) {
        free(bias);
        return rc;
    }
    return make_dense(c, n, a, M, wt, bias);
}

static int op_matmul(ctx *c, node *n)
{
    val *a, *B;
    int rc = check_attrs(c, n, "");
    if (!rc) rc = check_inputs(c, n, 2, 2);
    if (!rc) rc = get_in(c, n, 0, &a);
    if (!rc) rc = need_act(c, a, "input A", 2);
    if (!rc) rc = get_in(c, n, 1, &B);
    if (!rc) rc = need_const(c, B, "input B", 0);
    if (rc)
        return rc;
    char d[96];
    if (B->ndim != 2 || B->dims[0] != a->shape[0] || B->dims[1] < 1)
        return cerr(c, NR_ESHAPE, "input B has shape %s, expected [%d, M]",
                    dims_str(d, sizeof d, B->dims, B->ndim), a->shape[0]);
    float *wt;
    if ((rc = dense_weight(c, B, 0, 1, a->shape[0], (int)B->dims[1], &wt)))
        return rc;
    return make_dense(c, n, a, (int)B->dims[1], wt, NULL);
}

static int op_add(ctx *c, node *n)
{
    val *a, *b;
    int rc = check_attrs(c, n, "");
    if (!rc) rc = check_inputs(c, n, 2, 2);
    if (!rc) rc = get_in(c, n, 0, &a);
    if (!rc) rc = get_in(c, n, 1, &b);
    if (rc)
        return rc;
    char s1[64], s2[64];
    if (a->kind == V_ACT && b->kind == V_ACT) {
        if (a->rank != b->rank || memcmp(a->shape, b->shape, sizeof a->shape))
            return cerr(c, NR_ESHAPE, "cannot add %s and %s (numrep's add needs equal shapes; "
                        "no broadcasting)", act_str(s1, sizeof s1, a), act_str(s2, sizeof s2, b));
        val *ins[2] = {a, b};
        int li = new_layer(c, n, "add", ins, 2);
        return li < 0 ? li : def_act(c, n->output[0], li, a->rank, a->shape[0], a->shape[1], a->shape[2]);
    }
    val *x = a->kind == V_ACT ? a : b, *k = a->kind == V_ACT ? b : a;
    if (x->kind != V_ACT)
        return const_arith(c, n, a, b);
    /* bias of the layer that produced x, when that layer has none and
     * nothing else reads it */
    layer *l = x->layer >= 0 ? &c->L[x->layer] : NULL;
    if (!l || !l->mac || l->has_bias || l->out_val != (int)(x - c->v) || x->uses != 1 || k->isint)
        return cerr(c, NR_EUNSUP, "adding a constant is supported only as the bias of a Conv, "
                    "Gemm or MatMul that has none and whose output nothing else reads");
    int M = l->out, ok = (int64_t)k->count == M;
    if (l->mac == 2)
        ok = ok && (k->ndim == 1 || (k->ndim == 2 && k->dims[0] == 1));
    else
        ok = ok && ((k->ndim == 3 && k->dims[1] == 1 && k->dims[2] == 1) ||
                    (k->ndim == 4 && k->dims[0] == 1 && k->dims[2] == 1 && k->dims[3] == 1));
    if (!ok)
        return cerr(c, NR_ESHAPE, "constant of shape %s cannot be the bias of %s (expected %s)",
                    dims_str(s1, sizeof s1, k->dims, k->ndim), act_str(s2, sizeof s2, x),
                    l->mac == 2 ? "[M] or [1, M]" : "[1, M, 1, 1] or [M, 1, 1]");
    if ((rc = add_vec(c, l, "bias", k, 1)))
        return rc;
    l->has_bias = 1;
    return alias(c, n->output[0], x);
}

static int unary_layer(ctx *c, node *n, const char *op, val *x, layer **out)
{
    int li = new_layer(c, n, op, &x, 1);
    if (li < 0)
        return li;
    *out = &c->L[li];
    return def_act(c, n->output[0], li, x->rank, x->shape[0], x->shape[1], x->shape[2]);
}

static int op_relu(ctx *c, node *n)
{
    val *x;
    layer *l;
    int rc = check_attrs(c, n, "");
    if (!rc) rc = check_inputs(c, n, 1, 1);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_act(c, x, "input X", 0);
    return rc ? rc : unary_layer(c, n, "relu", x, &l);
}

static int clip_bound(ctx *c, node *n, size_t i, double dflt, double *out)
{
    val *v = opt_in(c, n, i);
    *out = dflt;
    if (!v)
        return 0;
    const char *what = i == 1 ? "min" : "max";
    int rc = need_const(c, v, what, -1);
    if (rc)
        return rc;
    if (v->count != 1)
        return cerr(c, NR_ESHAPE, "%s must be a scalar, it has %zu values", what, v->count);
    *out = v->isint ? (double)v->i[0] : v->f[0];
    return 0;
}

static int op_clip(ctx *c, node *n)
{
    val *x;
    double lo, hi;
    int rc;
    if (c->opset < 11) { /* bounds are attributes, default the float range */
        rc = check_attrs(c, n, "min max");
        if (!rc) rc = check_inputs(c, n, 1, 1);
        if (!rc) rc = attr_float(c, n, "min", -FLT_MAX, &lo);
        if (!rc) rc = attr_float(c, n, "max", FLT_MAX, &hi);
    } else {             /* bounds are optional inputs; absent = unbounded */
        rc = check_attrs(c, n, "");
        if (!rc) rc = check_inputs(c, n, 1, 3);
        if (!rc) rc = clip_bound(c, n, 1, -INFINITY, &lo);
        if (!rc) rc = clip_bound(c, n, 2, INFINITY, &hi);
    }
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_act(c, x, "input X", 0);
    if (rc)
        return rc;
    if (isnan(lo) || isnan(hi) || lo > hi)
        return cerr(c, NR_ERANGE, "min %g > max %g", lo, hi);
    layer *l;
    if (lo == 0 && hi == 6)
        return unary_layer(c, n, "relu6", x, &l);
    if (lo == 0 && hi == INFINITY)
        return unary_layer(c, n, "relu", x, &l);
    if ((rc = unary_layer(c, n, "clip", x, &l)))
        return rc;
    /* the spec wants finite numbers: an open side becomes the double range,
     * which no activation format can exceed */
    char a[40], b[40];
    fmt_f32(a, sizeof a, isinf(lo) ? -DBL_MAX : lo);
    fmt_f32(b, sizeof b, isinf(hi) ? DBL_MAX : hi);
    return lfield(c, l, ", min: %s, max: %s", a, b);
}

static int pool(ctx *c, node *n, int avg)
{
    val *x;
    int ceil_mode = 0, cip = 0, so = 0;
    int rc = check_attrs(c, n, avg ? "auto_pad kernel_shape strides pads ceil_mode "
                                     "count_include_pad dilations"
                                   : "auto_pad kernel_shape strides pads ceil_mode "
                                     "dilations storage_order");
    if (!rc) rc = check_inputs(c, n, 1, 1);
    if (!rc) rc = only_first_output(c, n);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_act(c, x, "input X", 4);
    if (!rc) rc = attr_int_in(c, n, "ceil_mode", 0, 0, 1, &ceil_mode);
    if (!rc && avg) rc = attr_int_in(c, n, "count_include_pad", 0, 0, 1, &cip);
    if (!rc && !avg) rc = attr_int_in(c, n, "storage_order", 0, 0, 1, &so);
    if (rc)
        return rc;
    int64_t ks[8];
    int cnt;
    if ((rc = attr_ints(c, n, "kernel_shape", ks, 8, &cnt)))
        return rc;
    if (cnt != 2)
        return cerr(c, NR_EUNSUP, "kernel_shape must have 2 entries (2-D pooling)");
    win w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < 2; i++) {
        if (ks[i] < 1 || ks[i] > 65536)
            return cerr(c, NR_EUNSUP, "kernel_shape entry %lld, expected 1 .. 65536", (long long)ks[i]);
        w.k[i] = (int)ks[i];
    }
    if ((rc = window(c, n, x, 1, ceil_mode, &w)))
        return rc;
    int li = new_layer(c, n, avg ? "avgpool" : "maxpool", &x, 1);
    if (li < 0)
        return li;
    layer *l = &c->L[li];
    if ((rc = write_window(c, l, &w, 1, 0)))
        return rc;
    if (ceil_mode && (rc = lfield(c, l, ", ceil_mode: true")))
        return rc;
    if (avg && (rc = lfield(c, l, ", count_include_pad: %s", cip ? "true" : "false")))
        return rc;
    return def_act(c, n->output[0], li, 4, x->shape[0], w.out[0], w.out[1]);
}

static int op_maxpool(ctx *c, node *n) { return pool(c, n, 0); }
static int op_avgpool(ctx *c, node *n) { return pool(c, n, 1); }

static int op_gap(ctx *c, node *n)
{
    val *x;
    int rc = check_attrs(c, n, "");
    if (!rc) rc = check_inputs(c, n, 1, 1);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_act(c, x, "input X", 4);
    if (rc)
        return rc;
    int li = new_layer(c, n, "global_avgpool", &x, 1);
    return li < 0 ? li : def_act(c, n->output[0], li, 4, x->shape[0], 1, 1);
}

static int op_batchnorm(ctx *c, node *n)
{
    val *x, *p[4];
    double eps;
    int spatial, train;
    int rc = check_attrs(c, n, "epsilon momentum spatial training_mode is_test consumed_inputs");
    if (!rc) rc = check_inputs(c, n, 5, 5);
    if (!rc) rc = only_first_output(c, n);
    if (!rc) rc = attr_float(c, n, "epsilon", 1e-5, &eps);
    if (!rc) rc = attr_int_in(c, n, "spatial", 1, 1, 1, &spatial);
    if (!rc) rc = attr_int_in(c, n, "training_mode", 0, 0, 0, &train);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_act(c, x, "input X", 0);
    static const char *const what[4] = {"scale", "B", "input_mean", "input_var"};
    for (int i = 0; !rc && i < 4; i++)
        if (!(rc = get_in(c, n, (size_t)i + 1, &p[i])))
            rc = check_vec(c, p[i], x->shape[0], what[i]);
    if (rc)
        return rc;
    if (!(eps > 0))
        return cerr(c, NR_ERANGE, "epsilon %g, expected > 0", eps);
    layer *l;
    if ((rc = unary_layer(c, n, "batchnorm", x, &l)))
        return rc;
    char e[40];
    fmt_f32(e, sizeof e, eps);
    if ((rc = lfield(c, l, ", eps: %s", e)))
        return rc;
    static const char *const sfx[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++)
        if ((rc = add_vec(c, l, sfx[i], p[i], 1)))
            return rc;
    return 0;
}

static int norm_axis(ctx *c, int64_t axis, int rank, int *out)
{
    if (axis < -rank || axis >= rank)
        return cerr(c, NR_ERANGE, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

/* Concat of constants: shape arithmetic (1-D integer tensors) */
static int concat_const(ctx *c, node *n)
{
    size_t total = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        val *v;
        int rc = get_in(c, n, i, &v);
        if (!rc) rc = need_const(c, v, "every input", 1);
        if (rc)
            return rc;
        if (v->ndim != 1)
            return cerr(c, NR_EUNSUP, "constant Concat is supported for 1-D INT64 tensors only");
        total += v->count;
    }
    val r = {.kind = V_CONST, .isint = 1, .ndim = 1, .dims = {(int64_t)total}, .count = total};
    if (!(r.i = malloc((total ? total : 1) * sizeof *r.i)))
        return cerr(c, NR_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        val *v = opt_in(c, n, i);
        memcpy(r.i + k, v->i, v->count * sizeof *r.i);
        k += v->count;
    }
    int rc = def_val(c, n->output[0], &r);
    if (rc)
        free(r.i);
    return rc;
}

static int op_concat(ctx *c, node *n)
{
    int64_t axis;
    int rc = check_attrs(c, n, "axis");
    if (!rc) rc = attr_int(c, n, "axis", c->opset < 4 ? 1 : INT64_MIN, &axis);
    if (!rc && n->n_input < 1)
        rc = cerr(c, NR_ECORRUPT, "no inputs");
    if (rc)
        return rc;
    if (axis == INT64_MIN)
        return cerr(c, NR_ECORRUPT, "attribute axis is required");
    val *ins[8], *x0;
    if ((rc = get_in(c, n, 0, &x0)))
        return rc;
    if (x0->kind == V_CONST)
        return concat_const(c, n);
    if (n->n_input < 2 || n->n_input > 8)
        return cerr(c, NR_EUNSUP, "%zu inputs, expected 2 to 8", n->n_input);
    int ax = 0;
    if ((rc = norm_axis(c, axis, x0->rank, &ax)))
        return rc;
    if (ax != 1)
        return cerr(c, NR_EUNSUP, "concatenation along axis %lld; only channels (axis 1) are "
                    "supported", (long long)axis);
    int64_t C = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        char s1[64], s2[64];
        if ((rc = get_in(c, n, i, &ins[i])) || (rc = need_act(c, ins[i], "every input", x0->rank)))
            return rc;
        if (ins[i]->shape[1] != x0->shape[1] || ins[i]->shape[2] != x0->shape[2])
            return cerr(c, NR_ESHAPE, "inputs %s and %s differ in height or width",
                        act_str(s1, sizeof s1, x0), act_str(s2, sizeof s2, ins[i]));
        C += ins[i]->shape[0];
    }
    int li = new_layer(c, n, "concat", ins, (int)n->n_input);
    return li < 0 ? li : def_act(c, n->output[0], li, x0->rank, C, x0->shape[1], x0->shape[2]);
}

static int flatten_layer(ctx *c, node *n, val *x)
{
    if (x->rank == 2)
        return alias(c, n->output[0], x);
    int li = new_layer(c, n, "flatten", &x, 1);
    return li < 0 ? li : def_act(c, n->output[0], li, 2, (int64_t)x->shape[0] * x->shape[1] * x->shape[2], 1, 1);
}

static int op_flatten(ctx *c, node *n)
{
    val *x;
    int64_t axis;
    int rc = check_attrs(c, n, "axis");
    if (!rc) rc = check_inputs(c, n, 1, 1);
    if (!rc) rc = attr_int(c, n, "axis", 1, &axis);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_act(c, x, "input", 0);
    if (rc)
        return rc;
    int ax = 0;
    if ((rc = norm_axis(c, axis, x->rank, &ax)))
        return rc;
    if (ax != 1)
        return cerr(c, NR_EUNSUP, "Flatten with axis %lld; only axis 1 ([N, C*H*W]) is supported",
                    (long long)axis);
    return flatten_layer(c, n, x);
}

static int op_reshape(ctx *c, node *n)
{
    val *x, *s;
    int allowzero;
    int rc = check_attrs(c, n, "allowzero");
    if (!rc) rc = check_inputs(c, n, 2, 2);
    if (!rc) rc = attr_int_in(c, n, "allowzero", 0, 0, 1, &allowzero);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = get_in(c, n, 1, &s);
    if (!rc) rc = need_const(c, s, "input shape", 1);
    if (!rc && x->kind == V_CONST)
        return const_reshape(c, n, x, s, allowzero);
    if (!rc) rc = need_act(c, x, "input data", 0);
    if (rc)
        return rc;
    int64_t F = (int64_t)x->shape[0] * x->shape[1] * x->shape[2];
    int ok = s->ndim == 1 && s->count == 2;
    if (ok) {
        int64_t n0 = s->i[0], n1 = s->i[1];
        /* N is 0 (copy), -1, or the batch size; a symbolic batch reads as 1
         * through Shape, and the spec is per sample anyway */
        int batch_ok = (n0 == 0 && !allowzero) || n0 == -1 || n0 == (c->batch > 0 ? c->batch : 1);
        ok = batch_ok && (n1 == F || (n1 == -1 && n0 != -1) || (n1 == 0 && !allowzero && x->rank == 2));
    }
    if (!ok) {
        char d[96], a[64];
        snprintf(d, sizeof d, "(%zu values)", s->count);
        if (s->ndim == 1 && s->count <= 8)
            dims_str(d, sizeof d, s->i, (int)s->count);
        return cerr(c, NR_EUNSUP, "Reshape of %s to %s: only a flatten to [N, %lld] is supported",
                    act_str(a, sizeof a, x), d, (long long)F);
    }
    return flatten_layer(c, n, x);
}

/* Pads of one NCHW axis, or [N, F] */
static int op_pad(ctx *c, node *n)
{
    val *x;
    char mode[32];
    int64_t pads[16];
    int npads = -1;
    double value = 0;
    int rc = check_attrs(c, n, c->opset < 11 ? "mode pads value" : "mode");
    if (!rc) rc = check_inputs(c, n, 1, c->opset < 11 ? 1 : 4);
    if (!rc) rc = attr_str(c, n, "mode", "constant", mode, sizeof mode);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_act(c, x, "input data", 0);
    if (rc)
        return rc;
    if (strcmp(mode, "constant")) {
        char p[40];
        printable(p, sizeof p, mode);
        return cerr(c, NR_EUNSUP, "mode \"%s\"; only constant (zero) padding is supported", p);
    }
    if (c->opset < 11) {
        if ((rc = attr_ints(c, n, "pads", pads, 16, &npads)) ||
            (rc = attr_float(c, n, "value", 0, &value)))
            return rc;
    } else {
        val *p, *v = opt_in(c, n, 2);
        if ((rc = get_in(c, n, 1, &p)) || (rc = need_const(c, p, "pads", 1)))
            return rc;
        if (p->count > 16)
            return cerr(c, NR_ESHAPE, "pads has %zu values, expected %d", p->count, 2 * x->rank);
        npads = (int)p->count;
        memcpy(pads, p->i, p->count * sizeof *pads);
        if (v) {
            if ((rc = need_const(c, v, "constant_value", -1)))
                return rc;
            if (v->count != 1)
                return cerr(c, NR_ESHAPE, "constant_value must be a scalar");
            value = v->isint ? (double)v->i[0] : v->f[0];
        }
        if (opt_in(c, n, 3))
            return cerr(c, NR_EUNSUP, "the axes input is not supported");
    }
    if (npads != 2 * x->rank)
        return cerr(c, NR_ESHAPE, "pads has %d values, expected %d", npads, 2 * x->rank);
    if (value != 0)
        return cerr(c, NR_EUNSUP, "constant_value %g; only zero padding is supported", value);
    int r = x->rank, b[3] = {0}, a[3] = {0}, any = 0;
    for (int i = 0; i < r; i++) {
        int64_t pb = pads[i], pa = pads[i + r];
        if (pb < 0 || pa < 0 || pb > MAX_DIM || pa > MAX_DIM)
            return cerr(c, NR_EUNSUP, "pads [%lld, %lld] on axis %d; expected 0 .. %lld",
                        (long long)pb, (long long)pa, i, (long long)MAX_DIM);
        if (i == 0) {
            if (pb || pa)
                return cerr(c, NR_EUNSUP, "padding the batch axis is not supported");
            continue;
        }
        b[i - 1] = (int)pb;
        a[i - 1] = (int)pa;
        any |= pb || pa;
    }
    if (!any)
        return alias(c, n->output[0], x);
    layer *l;
    int li = new_layer(c, n, "pad", &x, 1);
    if (li < 0)
        return li;
    l = &c->L[li];
    static const char axn[3] = {'c', 'h', 'w'};
    for (int i = 0; i < 3; i++)
        if ((b[i] || a[i]) && (rc = lfield(c, l, ", %c: [%d, %d]", axn[i], b[i], a[i])))
            return rc;
    return def_act(c, n->output[0], li, r, (int64_t)x->shape[0] + b[0] + a[0],
                   (int64_t)x->shape[1] + b[1] + a[1], (int64_t)x->shape[2] + b[2] + a[2]);
}

/* Constant int64 list from input i (opset >= 10) */
static int int_list(ctx *c, node *n, size_t i, const char *what, int64_t *out, int *cnt)
{
    val *v = opt_in(c, n, i);
    *cnt = -1;
    if (!v)
        return 0;
    int rc = need_const(c, v, what, 1);
    if (rc)
        return rc;
    if (v->ndim != 1 || v->count > 8)
        return cerr(c, NR_EUNSUP, "%s must be a 1-D list of at most 8 values", what);
    memcpy(out, v->i, v->count * sizeof *out);
    *cnt = (int)v->count;
    return 0;
}

static int op_slice(ctx *c, node *n)
{
    val *x;
    int64_t st[8], en[8], ax[8], sp[8];
    int ns, ne, na, nsp = -1;
    int rc;
    if (c->opset < 10) {
        rc = check_attrs(c, n, "starts ends axes");
        if (!rc) rc = check_inputs(c, n, 1, 1);
        if (!rc) rc = attr_ints(c, n, "starts", st, 8, &ns);
        if (!rc) rc = attr_ints(c, n, "ends", en, 8, &ne);
        if (!rc) rc = attr_ints(c, n, "axes", ax, 8, &na);
    } else {
        rc = check_attrs(c, n, "");
        if (!rc) rc = check_inputs(c, n, 3, 5);
        if (!rc) rc = int_list(c, n, 1, "starts", st, &ns);
        if (!rc) rc = int_list(c, n, 2, "ends", en, &ne);
        if (!rc) rc = int_list(c, n, 3, "axes", ax, &na);
        if (!rc) rc = int_list(c, n, 4, "steps", sp, &nsp);
    }
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc && ns >= 0 && ns == ne && (na < 0 || na == ns) && (nsp < 0 || nsp == ns) &&
        x->kind == V_CONST)
        return const_slice(c, x, st, en, na >= 0 ? ax : NULL, nsp >= 0 ? sp : NULL, ns, n->output[0]);
    if (!rc) rc = need_act(c, x, "input data", 0);
    if (rc)
        return rc;
    if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (nsp >= 0 && nsp != ns))
        return cerr(c, NR_ECORRUPT, "starts, ends, axes and steps must have the same length");
    int r = x->rank;
    int64_t size[4] = {c->batch, x->shape[0], x->shape[1], x->shape[2]};
    int start[3] = {0, 0, 0}, stop[3] = {x->shape[0], x->shape[1], x->shape[2]}, step[3] = {1, 1, 1};
    int seen = 0;
    for (int k = 0; k < ns; k++) {
        int a = 0;
        if ((rc = norm_axis(c, na >= 0 ? ax[k] : k, r, &a)))
            return rc;
        if (seen & (1 << a))
            return cerr(c, NR_ECORRUPT, "axis %d is sliced twice", a);
        seen |= 1 << a;
        int64_t s = nsp >= 0 ? sp[k] : 1, dim = size[a];
        if (s < 1)
            return cerr(c, NR_EUNSUP, "step %lld on axis %d; only steps >= 1 are supported",
                        (long long)s, a);
        if (a == 0) { /* the batch: must be kept whole */
            if (st[k] == 0 && s == 1 && (en[k] >= INT32_MAX || (dim > 0 && en[k] >= dim)))
                continue;
            return cerr(c, NR_EUNSUP, "slicing the batch axis is not supported");
        }
        /* ONNX: negative counts from the end, then clamp to [0, dim] */
        int64_t b = st[k] < 0 ? st[k] + dim : st[k], e = en[k] < 0 ? en[k] + dim : en[k];
        b = b < 0 ? 0 : b > dim ? dim : b;
        e = e < 0 ? 0 : e > dim ? dim : e;
        if (b >= e)
            return cerr(c, NR_ESHAPE, "axis %d: slice [%lld, %lld) of %lld is empty", a,
                        (long long)st[k], (long long)en[k], (long long)dim);
        start[a - 1] = (int)b;
        stop[a - 1] = (int)e;
        step[a - 1] = (int)(s > dim ? dim : s);
    }
    int out[3], any = 0;
    for (int i = 0; i < 3; i++) {
        out[i] = (stop[i] - start[i] + step[i] - 1) / step[i];
        any |= out[i] != x->shape[i];
    }
    if (!any)
        return alias(c, n->output[0], x);
    int li = new_layer(c, n, "slice", &x, 1);
    if (li < 0)
        return li;
    layer *l = &c->L[li];
    static const char axn[3] = {'c', 'h', 'w'};
    for (int i = 0; i < 3; i++) {
        if (out[i] == x->shape[i])
            continue;
        char e[16];
        if (stop[i] == x->shape[i])
            snprintf(e, sizeof e, "end");
        else
            snprintf(e, sizeof e, "%d", stop[i]);
        if ((rc = lfield(c, l, ", %c: [%d, %s, %d]", axn[i], start[i], e, step[i])))
            return rc;
    }
    return def_act(c, n->output[0], li, r, out[0], out[1], out[2]);
}

static int op_lrn(ctx *c, node *n)
{
    val *x;
    int size;
    double alpha, beta, bias;
    int rc = check_attrs(c, n, "size alpha beta bias");
    if (!rc) rc = check_inputs(c, n, 1, 1);
    if (!rc) rc = attr_int_in(c, n, "size", 0, 1, 1 << 16, &size);
    if (!rc) rc = attr_float(c, n, "alpha", 1e-4, &alpha);
    if (!rc) rc = attr_float(c, n, "beta", 0.75, &beta);
    if (!rc) rc = attr_float(c, n, "bias", 1.0, &bias);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_act(c, x, "input X", 4);
    if (rc)
        return rc;
    /* ONNX's window is c - floor((size-1)/2) .. c + ceil((size-1)/2), the
     * spec's (PyTorch's) c - size/2 .. c + (size-1)/2: equal for odd sizes */
    if (size % 2 == 0)
        return cerr(c, NR_EUNSUP, "even size %d (ONNX and PyTorch place even windows "
                    "differently)", size);
    layer *l;
    if ((rc = unary_layer(c, n, "lrn", x, &l)))
        return rc;
    char a[40], b[40], k[40];
    fmt_f32(a, sizeof a, alpha);
    fmt_f32(b, sizeof b, beta);
    fmt_f32(k, sizeof k, bias);
    return lfield(c, l, ", size: %d, alpha: %s, beta: %s, k: %s", size, a, b, k);
}

static int op_softmax(ctx *c, node *n)
{
    val *x;
    int64_t axis;
    int rc = check_attrs(c, n, "axis");
    if (!rc) rc = check_inputs(c, n, 1, 1);
    if (!rc) rc = attr_int(c, n, "axis", c->opset < 13 ? 1 : -1, &axis);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_act(c, x, "input", 0);
    if (rc)
        return rc;
    int ax = 0;
    if ((rc = norm_axis(c, axis, x->rank, &ax)))
        return rc;
    /* before opset 13 the input is flattened to [N, rest] at axis; from 13
     * the softmax runs along axis alone.  Both are the spec's (over
     * channels) when they cover exactly the channels. */
    int ok = ax == 1 && (x->rank == 2 || c->opset >= 13 || (x->shape[1] == 1 && x->shape[2] == 1));
    if (!ok) {
        char a[64];
        return cerr(c, NR_EUNSUP, "softmax along axis %lld of %s (opset %lld); only over the "
                    "channels is supported", (long long)axis, act_str(a, sizeof a, x),
                    (long long)c->opset);
    }
    layer *l;
    return unary_layer(c, n, "softmax", x, &l);
}

static int op_identity(ctx *c, node *n)
{
    val *x;
    int rc = check_attrs(c, n, "");
    if (!rc) rc = check_inputs(c, n, 1, 1);
    if (!rc) rc = get_in(c, n, 0, &x);
    return rc ? rc : alias(c, n->output[0], x);
}

static int op_dropout(ctx *c, node *n)
{
    val *x, *t;
    int rc = check_attrs(c, n, "ratio seed is_test consumed_inputs");
    if (!rc) rc = check_inputs(c, n, 1, 3);
    if (!rc) rc = only_first_output(c, n);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (rc)
        return rc;
    if ((t = opt_in(c, n, 2)) &&
        (t->kind != V_CONST || t->count != 1 || (t->isint ? t->i[0] : t->f[0]) != 0))
        return cerr(c, NR_EUNSUP, "training_mode must be a constant false");
    return alias(c, n->output[0], x);
}

static int op_constant(ctx *c, node *n)
{
    int rc = check_attrs(c, n, "value value_float value_floats value_int value_ints");
    if (!rc) rc = check_inputs(c, n, 0, 0);
    if (rc)
        return rc;
    if (n->n_attribute != 1)
        return cerr(c, NR_ECORRUPT, "expected exactly one value attribute");
    const Onnx__AttributeProto *a = n->attribute[0];
    val r = {.kind = V_CONST};
    if (!strcmp(a->name, "value")) {
        if ((rc = attr_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR, "TENSOR")))
            return rc;
        if (!a->t)
            return cerr(c, NR_ECORRUPT, "attribute value holds no tensor");
        rc = tensor_decode(c, a->t, &r);
    } else {
        int isint = strstr(a->name, "int") != NULL, list = a->name[strlen(a->name) - 1] == 's';
        size_t cnt = list ? (isint ? a->n_ints : a->n_floats) : 1;
        int want = isint ? (list ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
                                 : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
                         : (list ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS
                                 : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        if ((rc = attr_type(c, a, want, "the attribute's own type")))
            return rc;
        r.isint = isint;
        r.count = cnt;
        r.ndim = list;
        r.dims[0] = (int64_t)cnt;
        if (isint ? !(r.i = malloc((cnt ? cnt : 1) * sizeof *r.i))
                  : !(r.f = malloc((cnt ? cnt : 1) * sizeof *r.f)))
            return cerr(c, NR_ENOMEM, "out of memory");
        for (size_t k = 0; k < cnt; k++) {
            if (isint)
                r.i[k] = list ? a->ints[k] : a->i;
            else
                r.f[k] = list ? a->floats[k] : a->f;
        }
    }
    if (!rc)
        rc = def_val(c, n->output[0], &r);
    if (rc) {
        free(r.f);
        free(r.i);
    }
    return rc;
}

/* Shape of an activation: [N, C, H, W] with N = the declared batch (1 when
 * it is symbolic: the spec is per sample, and Reshape accepts N as 0/-1/N). */
static int op_shape(ctx *c, node *n)
{
    val *x;
    int rc = check_attrs(c, n, "");
    if (!rc) rc = check_inputs(c, n, 1, 1);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (rc)
        return rc;
    if (x->kind == V_CONST) {
        val r;
        int64_t nd = x->ndim;
        if ((rc = const_alloc(c, &r, 1, 1, &nd)))
            return rc;
        memcpy(r.i, x->dims, (size_t)nd * sizeof *r.i);
        return const_def(c, n->output[0], &r);
    }
    val r = {.kind = V_CONST, .isint = 1, .ndim = 1, .dims = {x->rank}, .count = (size_t)x->rank};
    if (!(r.i = malloc(4 * sizeof *r.i)))
        return cerr(c, NR_ENOMEM, "out of memory");
    r.i[0] = c->batch > 0 ? c->batch : 1;
    for (int i = 1; i < x->rank; i++)
        r.i[i] = x->shape[i - 1];
    if ((rc = def_val(c, n->output[0], &r)))
        free(r.i);
    return rc;
}

/* Gather / Unsqueeze / Squeeze / Cast on small integer constants: the
 * shape arithmetic of `x.view(x.size(0), -1)`. */
static int op_shape_arith(ctx *c, node *n)
{
    val *x, *idx = NULL;
    const char *op = n->op_type;
    int gather = !strcmp(op, "Gather"), cast = !strcmp(op, "Cast");
    int rc = check_attrs(c, n, gather ? "axis" : cast ? "to saturate" : "axes");
    if (!rc) rc = check_inputs(c, n, 1, 2);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_const(c, x, "input", -1);
    if (rc)
        return rc;
    if (!x->isint || x->ndim > 1 || x->count > 8)
        return cerr(c, NR_EUNSUP, "%s is supported only on small integer constants (shape "
                    "arithmetic)", op);
    val r = {.kind = V_CONST, .isint = 1, .ndim = x->ndim, .dims = {x->dims[0]}, .count = x->count};
    if (!(r.i = malloc(8 * sizeof *r.i)))
        return cerr(c, NR_ENOMEM, "out of memory");
    memcpy(r.i, x->i, x->count * sizeof *r.i);
    if (gather) {
        int64_t axis;
        if (!(rc = attr_int(c, n, "axis", 0, &axis)) && !(rc = get_in(c, n, 1, &idx)) &&
            !(rc = need_const(c, idx, "indices", 1))) {
            if (axis != 0 || x->ndim != 1 || idx->ndim > 1 || idx->count > 8)
                rc = cerr(c, NR_EUNSUP, "Gather is supported only on 1-D integer constants");
            for (size_t k = 0; !rc && k < idx->count; k++) {
                int64_t j = idx->i[k] < 0 ? idx->i[k] + (int64_t)x->count : idx->i[k];
                if (j < 0 || j >= (int64_t)x->count)
                    rc = cerr(c, NR_ERANGE, "index %lld out of range", (long long)idx->i[k]);
                else
                    r.i[k] = x->i[j];
            }
            r.count = idx->count;
            r.ndim = idx->ndim;
            r.dims[0] = (int64_t)idx->count;
        }
    } else if (!strcmp(op, "Unsqueeze")) { /* scalar -> [1] */
        if (x->ndim != 0)
            rc = cerr(c, NR_EUNSUP, "Unsqueeze is supported only on integer scalars");
        r.ndim = 1;
        r.dims[0] = 1;
    } else if (!strcmp(op, "Squeeze")) {   /* [1] -> scalar */
        if (x->count != 1)
            rc = cerr(c, NR_EUNSUP, "Squeeze is supported only on one-element integer constants");
        r.ndim = 0;
    } else { /* Cast between integer types */
        int64_t to;
        if (!(rc = attr_int(c, n, "to", 0, &to)) && to != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 &&
            to != ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
            rc = cerr(c, NR_EUNSUP, "Cast to %s is supported only for shape arithmetic (INT64)",
                      dtype_name((int)to));
    }
    if (!rc)
        rc = def_val(c, n->output[0], &r);
    if (rc)
        free(r.i);
    return rc;
}

/* ---------------------------------------------------------------- constant folding
 * Exporters compute pads and shapes with small integer tensor programs
 * (torch's F.pad: ConstantOfShape, Concat, Reshape, Slice with step -1,
 * Transpose, Cast).  These evaluate them; sizes are bounded by MAX_ELEMS. */

static int const_alloc(ctx *c, val *r, int isint, int ndim, const int64_t *dims)
{
    uint64_t count = 1;
    memset(r, 0, sizeof *r);
    r->kind = V_CONST;
    r->isint = isint;
    r->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > MAX_DIM)
            return cerr(c, NR_ERANGE, "constant dimension %lld out of range", (long long)dims[i]);
        r->dims[i] = dims[i];
        count *= (uint64_t)dims[i];
        if (count > MAX_ELEMS)
            return cerr(c, NR_ERANGE, "constant with more than %llu elements",
                        (unsigned long long)MAX_ELEMS);
    }
    r->count = (size_t)count;
    size_t n = count ? (size_t)count : 1;
    if (isint ? !(r->i = calloc(n, sizeof *r->i)) : !(r->f = calloc(n, sizeof *r->f)))
        return cerr(c, NR_ENOMEM, "out of memory");
    return 0;
}

static void const_copy(val *d, size_t di, const val *s, size_t si)
{
    if (d->isint)
        d->i[di] = s->i[si];
    else
        d->f[di] = s->f[si];
}

static int const_def(ctx *c, const char *name, val *r)
{
    int rc = def_val(c, name, r);
    if (rc) {
        free(r->f);
        free(r->i);
    }
    return rc;
}

static int const_reshape(ctx *c, node *n, const val *x, const val *s, int allowzero)
{
    int64_t d[NR_TENSOR_MAXDIM], known = 1;
    int infer = -1;
    if (s->ndim != 1 || s->count > NR_TENSOR_MAXDIM)
        return cerr(c, NR_EUNSUP, "shape must be a 1-D list of at most %d values", NR_TENSOR_MAXDIM);
    for (size_t k = 0; k < s->count; k++) {
        d[k] = s->i[k];
        if (d[k] == 0 && !allowzero) {
            if ((int)k >= x->ndim)
                return cerr(c, NR_ESHAPE, "shape entry %zu is 0 but the input has rank %d", k, x->ndim);
            d[k] = x->dims[k];
        }
        if (d[k] == -1 && infer < 0)
            infer = (int)k;
        else if (d[k] < 0 || d[k] > MAX_DIM)
            return cerr(c, NR_ESHAPE, "invalid shape entry %lld", (long long)s->i[k]);
        else
            known *= d[k];
    }
    if (infer >= 0)
        d[infer] = known ? (int64_t)x->count / known : 0;
    uint64_t total = 1;
    for (size_t k = 0; k < s->count; k++)
        total *= (uint64_t)d[k];
    if (total != x->count)
        return cerr(c, NR_ESHAPE, "cannot reshape %zu values to the requested shape", x->count);
    val r;
    int rc = const_alloc(c, &r, x->isint, (int)s->count, d);
    if (rc)
        return rc;
    for (size_t k = 0; k < x->count; k++)
        const_copy(&r, k, x, k);
    return const_def(c, n->output[0], &r);
}

/* Decompose a flat index into a multi-index (row-major). */
static void unflat(size_t k, int nd, const int64_t *dims, int64_t *idx)
{
    for (int a = nd - 1; a >= 0; a--) {
        idx[a] = dims[a] ? (int64_t)(k % (size_t)dims[a]) : 0;
        k = dims[a] ? k / (size_t)dims[a] : 0;
    }
}

static size_t flat(int nd, const int64_t *dims, const int64_t *idx)
{
    size_t k = 0;
    for (int a = 0; a < nd; a++)
        k = k * (size_t)dims[a] + (size_t)idx[a];
    return k;
}

static int const_slice(ctx *c, const val *x, const int64_t *st, const int64_t *en,
                       const int64_t *axes, const int64_t *steps, int ns, const char *out)
{
    int nd = x->ndim, rc;
    int64_t b[NR_TENSOR_MAXDIM], step[NR_TENSOR_MAXDIM], od[NR_TENSOR_MAXDIM];
    for (int a = 0; a < nd; a++) {
        b[a] = 0;
        step[a] = 1;
        od[a] = x->dims[a];
    }
    for (int k = 0; k < ns; k++) {
        int a = 0;
        if ((rc = norm_axis(c, axes ? axes[k] : k, nd, &a)))
            return rc;
        int64_t s = steps ? steps[k] : 1, dim = x->dims[a];
        if (s == 0)
            return cerr(c, NR_ERANGE, "slice step 0");
        int64_t lo = st[k] < 0 ? st[k] + dim : st[k], hi = en[k] < 0 ? en[k] + dim : en[k];
        if (s > 0) { /* ONNX clamps: [0, dim] going up, [-1, dim-1] going down */
            lo = lo < 0 ? 0 : lo > dim ? dim : lo;
            hi = hi < 0 ? 0 : hi > dim ? dim : hi;
            od[a] = hi > lo ? (hi - lo + s - 1) / s : 0;
        } else {
            lo = lo < 0 ? 0 : lo > dim - 1 ? dim - 1 : lo;
            hi = hi < -1 ? -1 : hi > dim - 1 ? dim - 1 : hi;
            od[a] = lo > hi ? (lo - hi - s - 1) / -s : 0;
        }
        b[a] = lo;
        step[a] = s;
    }
    val r;
    if ((rc = const_alloc(c, &r, x->isint, nd, od)))
        return rc;
    int64_t idx[NR_TENSOR_MAXDIM];
    for (size_t k = 0; k < r.count; k++) {
        unflat(k, nd, od, idx);
        for (int a = 0; a < nd; a++)
            idx[a] = b[a] + idx[a] * step[a];
        const_copy(&r, k, x, flat(nd, x->dims, idx));
    }
    return const_def(c, out, &r);
}

/* Add/Sub/Mul/Div of integer constants (shape arithmetic); one side may be
 * a one-element tensor.  Division truncates toward zero as ONNX's integer Div. */
static int const_arith(ctx *c, node *n, const val *a, const val *b)
{
    if (a->kind != V_CONST || b->kind != V_CONST || !a->isint || !b->isint ||
        (a->count != b->count && a->count != 1 && b->count != 1))
        return cerr(c, NR_EUNSUP, "%s of constants is supported only for integer shape "
                    "arithmetic (equal shapes or a scalar)", n->op_type);
    /* the result takes the larger operand's shape ([1] over a scalar) */
    const val *big = a->count > b->count || (a->count == b->count && a->ndim >= b->ndim) ? a : b;
    val r;
    int rc = const_alloc(c, &r, 1, big->ndim, big->dims);
    if (rc)
        return rc;
    char op = n->op_type[0];
    for (size_t k = 0; k < r.count; k++) {
        int64_t x = a->i[a->count == 1 ? 0 : k], y = b->i[b->count == 1 ? 0 : k];
        if (op == 'D' && (y == 0 || (x == INT64_MIN && y == -1))) {
            free(r.i);
            return cerr(c, NR_ERANGE, "integer division %lld / %lld", (long long)x, (long long)y);
        }
        /* wrap like the two's-complement int64 arithmetic of runtimes, without UB */
        r.i[k] = op == 'A'   ? (int64_t)((uint64_t)x + (uint64_t)y)
                 : op == 'S' ? (int64_t)((uint64_t)x - (uint64_t)y)
                 : op == 'M' ? (int64_t)((uint64_t)x * (uint64_t)y)
                             : x / y;
    }
    return const_def(c, n->output[0], &r);
}

static int op_arith(ctx *c, node *n)
{
    val *a, *b;
    int rc = check_attrs(c, n, "");
    if (!rc) rc = check_inputs(c, n, 2, 2);
    if (!rc) rc = get_in(c, n, 0, &a);
    if (!rc) rc = get_in(c, n, 1, &b);
    return rc ? rc : const_arith(c, n, a, b);
}

static int op_transpose(ctx *c, node *n)
{
    val *x;
    int64_t perm[NR_TENSOR_MAXDIM];
    int np;
    int rc = check_attrs(c, n, "perm");
    if (!rc) rc = check_inputs(c, n, 1, 1);
    if (!rc) rc = attr_ints(c, n, "perm", perm, NR_TENSOR_MAXDIM, &np);
    if (!rc) rc = get_in(c, n, 0, &x);
    if (!rc) rc = need_const(c, x, "input (Transpose is supported only on constants)", -1);
    if (rc)
        return rc;
    int nd = x->ndim, seen = 0;
    if (np < 0)
        for (int a = 0; a < nd; a++)
            perm[a] = nd - 1 - a;
    else if (np != nd)
        return cerr(c, NR_ESHAPE, "perm has %d entries for rank %d", np, nd);
    int64_t od[NR_TENSOR_MAXDIM], idx[NR_TENSOR_MAXDIM], sidx[NR_TENSOR_MAXDIM];
    for (int a = 0; a < nd; a++) {
        if (perm[a] < 0 || perm[a] >= nd || (seen & (1 << perm[a])))
            return cerr(c, NR_ECORRUPT, "perm is not a permutation of 0 .. %d", nd - 1);
        seen |= 1 << perm[a];
        od[a] = x->dims[perm[a]];
    }
    val r;
    if ((rc = const_alloc(c, &r, x->isint, nd, od)))
        return rc;
    for (size_t k = 0; k < r.count; k++) {
        unflat(k, nd, od, idx);
        for (int a = 0; a < nd; a++)
            sidx[perm[a]] = idx[a];
        const_copy(&r, k, x, flat(nd, x->dims, sidx));
    }
    return const_def(c, n->output[0], &r);
}

static int op_constant_of_shape(ctx *c, node *n)
{
    val *s, v = {0};
    int rc = check_attrs(c, n, "value");
    if (!rc) rc = check_inputs(c, n, 1, 1);
    if (!rc) rc = get_in(c, n, 0, &s);
    if (!rc) rc = need_const(c, s, "input", 1);
    if (rc)
        return rc;
    if (s->ndim != 1 || s->count > NR_TENSOR_MAXDIM)
        return cerr(c, NR_EUNSUP, "the shape must be a 1-D list of at most %d values",
                    NR_TENSOR_MAXDIM);
    const Onnx__AttributeProto *a = attr(n, "value");
    if (a) {
        if ((rc = attr_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR, "TENSOR")))
            return rc;
        if (!a->t)
            return cerr(c, NR_ECORRUPT, "attribute value holds no tensor");
        if ((rc = tensor_decode(c, a->t, &v)) || (v.count != 1 &&
             (rc = cerr(c, NR_ESHAPE, "attribute value must hold one element")))) {
            free(v.f);
            free(v.i);
            return rc;
        }
    }
    val r;
    if ((rc = const_alloc(c, &r, a ? v.isint : 0, (int)s->count, s->i))) {
        free(v.f);
        free(v.i);
        return rc;
    }
    for (size_t k = 0; a && k < r.count; k++)
        const_copy(&r, k, &v, 0);
    free(v.f);
    free(v.i);
    return const_def(c, n->output[0], &r);
}

typedef int (*op_fn)(ctx *c, node *n);
static const struct {
    const char *name;
    op_fn fn;
} op_table[] = {
    {"Conv", op_conv},
    {"Gemm", op_gemm},
    {"MatMul", op_matmul},
    {"Add", op_add},
    {"Relu", op_relu},
    {"Clip", op_clip},
    {"MaxPool", op_maxpool},
    {"AveragePool", op_avgpool},
    {"GlobalAveragePool", op_gap},
    {"BatchNormalization", op_batchnorm},
    {"Concat", op_concat},
    {"Flatten", op_flatten},
    {"Reshape", op_reshape},
    {"Pad", op_pad},
    {"Slice", op_slice},
    {"LRN", op_lrn},
    {"Softmax", op_softmax},
    {"Dropout", op_dropout},
    {"Identity", op_identity},
    {"Constant", op_constant},
    {"Shape", op_shape},
    {"Gather", op_shape_arith},
    {"Unsqueeze", op_shape_arith},
    {"Squeeze", op_shape_arith},
    {"Cast", op_shape_arith},
    {"Transpose", op_transpose},
    {"Sub", op_arith},
    {"Mul", op_arith},
    {"Div", op_arith},
    {"ConstantOfShape", op_constant_of_shape},
};

/* ---------------------------------------------------------------- the graph */

static int graph_input(ctx *c, const Onnx__ValueInfoProto *in)
{
    set_where(c, "graph input", -1, in->name);
    const Onnx__TypeProto *t = in->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return cerr(c, NR_EUNSUP, "not a tensor");
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    if (tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return cerr(c, NR_EUNSUP, "element type %s, expected FLOAT", dtype_name(tt->elem_type));
    const Onnx__TensorShapeProto *s = tt->shape;
    if (!s || (s->n_dim != 4 && s->n_dim != 2))
        return cerr(c, NR_EUNSUP, "expected shape [N, C, H, W] or [N, F], got rank %d",
                    s ? (int)s->n_dim : -1);
    int sh[3] = {1, 1, 1};
    for (size_t i = 0; i < s->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = s->dim[i];
        int fixed = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        if (i == 0) {
            c->batch = fixed && d->dim_value > 0 ? d->dim_value : -1;
            continue;
        }
        if (!fixed || d->dim_value < 1 || d->dim_value > MAX_DIM)
            return cerr(c, NR_EUNSUP, "dimension %zu must be a fixed size 1 .. %lld", i,
                        (long long)MAX_DIM);
        sh[i - 1] = (int)d->dim_value;
    }
    val a = {.kind = V_ACT, .layer = -1, .rank = (int)s->n_dim, .shape = {sh[0], sh[1], sh[2]}};
    if ((int64_t)sh[0] * sh[1] * sh[2] > MAX_ACT)
        return cerr(c, NR_ESHAPE, "too large");
    return def_val(c, in->name, &a);
}

static int walk(ctx *c, const Onnx__ModelProto *m)
{
    const Onnx__GraphProto *g = m->graph;
    int rc;
    c->g = g;
    c->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = m->opset_import[i]->domain;
        if ((!d || !*d || !strcmp(d, "ai.onnx")) && m->opset_import[i]->has_version)
            c->opset = m->opset_import[i]->version;
    }
    if (c->opset < 1)
        return cerr(c, NR_ECORRUPT, "the model imports no version of the default (ai.onnx) "
                    "operator set");
    /* value table: every value is defined once, so its size is known */
    size_t cap = g->n_initializer + g->n_input;
    for (size_t i = 0; i < g->n_node; i++)
        cap += g->node[i]->n_output;
    if (cap > (size_t)1 << 26)
        return cerr(c, NR_ERANGE, "too many values (%zu)", cap);
    if (!(c->v = calloc(cap ? cap : 1, sizeof *c->v)))
        return cerr(c, NR_ENOMEM, "out of memory");
    c->capv = (int)cap;
    /* how often each name is read: bias folding needs "read only once" */
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t j = 0; j < g->node[i]->n_input; j++) {
            const char *s = g->node[i]->input[j];
            int u = strmap_get(&c->uses, s);
            if (s[0] && strmap_put(&c->uses, s, u < 0 ? 1 : u + 1))
                return cerr(c, NR_ENOMEM, "out of memory");
        }
    for (size_t i = 0; i < g->n_output; i++) {
        const char *s = g->output[i]->name ? g->output[i]->name : "";
        int u = strmap_get(&c->uses, s);
        if (strmap_put(&c->uses, s, u < 0 ? 1 : u + 1))
            return cerr(c, NR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->n_value_info + g->n_output; i++) {
        const Onnx__ValueInfoProto *vi =
            i < g->n_value_info ? g->value_info[i] : g->output[i - g->n_value_info];
        /* a graph output without a shape must not hide a value_info with one */
        if (vi->name && (i < g->n_value_info || strmap_get(&c->vinfo, vi->name) < 0) &&
            strmap_put(&c->vinfo, vi->name, (int)i))
            return cerr(c, NR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        set_where(c, "initializer", -1, t->name ? t->name : "");
        val v = {0};
        if ((rc = tensor_decode(c, t, &v)) || (rc = def_val(c, t->name, &v))) {
            free(v.f);
            free(v.i);
            return rc;
        }
    }
    int ninputs = 0;
    for (size_t i = 0; i < g->n_input; i++) {
        const char *name = g->input[i]->name ? g->input[i]->name : "";
        int k = strmap_get(&c->vmap, name);
        if (k >= 0 && c->v[k].kind == V_CONST)
            continue; /* older exporters list the initializers as inputs too */
        if (ninputs++) {
            set_where(c, "graph input", -1, name);
            return cerr(c, NR_EUNSUP, "a second network input; numrep networks have one");
        }
        if ((rc = graph_input(c, g->input[i])))
            return rc;
    }
    c->where[0] = 0;
    if (!ninputs)
        return cerr(c, NR_ECORRUPT, "the graph has no input (besides initializers)");
    for (size_t i = 0; i < g->n_node; i++) {
        node *n = g->node[i];
        c->node = (int)i;
        if (!n->op_type)
            return cerr(c, NR_ECORRUPT, "node %zu has no op_type", i);
        set_where(c, "node", (int)i, n->name ? n->name : "");
        const char *d = n->domain;
        char op[64];
        printable(op, sizeof op, n->op_type);
        if (d && *d && strcmp(d, "ai.onnx")) {
            char dp[64];
            printable(dp, sizeof dp, d);
            return cerr(c, NR_EUNSUP, "unsupported operator %s (domain %s)", op, dp);
        }
        op_fn fn = NULL;
        for (size_t k = 0; k < sizeof op_table / sizeof *op_table; k++)
            if (!strcmp(op_table[k].name, n->op_type))
                fn = op_table[k].fn;
        if (!fn)
            return cerr(c, NR_EUNSUP, "unsupported operator %s", op);
        if ((rc = fn(c, n)))
            return rc;
    }
    c->node = -1;
    c->where[0] = 0;
    if (g->n_output != 1)
        return cerr(c, NR_EUNSUP, "the graph has %zu outputs; numrep networks have one",
                    g->n_output);
    set_where(c, "graph output", -1, g->output[0]->name ? g->output[0]->name : "");
    int k = g->output[0]->name ? strmap_get(&c->vmap, g->output[0]->name) : -1;
    if (k < 0)
        return cerr(c, NR_ECORRUPT, "not computed by any node");
    if (c->v[k].kind != V_ACT || c->v[k].layer < 0)
        return cerr(c, NR_EUNSUP, "the output must be computed by at least one layer from the "
                    "network input");
    return 0;
}

static int write_spec(ctx *c, const Onnx__ModelProto *m, const char *path, const char *name,
                      const char *weights_file, int outl, char **out)
{
    sbuf b = {0};
    char base[128], prod[64], pver[64];
    const char *slash = strrchr(path, '/');
    printable(base, sizeof base, slash ? slash + 1 : path);
    printable(prod, sizeof prod, m->producer_name ? m->producer_name : "");
    printable(pver, sizeof pver, m->producer_version ? m->producer_version : "");
    const val *in = NULL;
    for (int i = 0; i < c->nv; i++)
        if (c->v[i].kind == V_ACT && c->v[i].layer == -1) {
            in = &c->v[i];
            break;
        }
    sb_printf(&b, "# Imported by `numrep import` from %s (producer: %s %s, ONNX opset %lld).\n",
              base, prod[0] ? prod : "unknown", pver, (long long)c->opset);
    sb_printf(&b, "name: '%s'\n", name);
    sb_printf(&b, "input: {shape: [%d, %d, %d]}\n", in->shape[0], in->shape[1], in->shape[2]);
    if (weights_file && c->nt)
        sb_printf(&b, "weights: '%s'\n", weights_file);
    sb_printf(&b, "layers:\n");
    for (int i = 0; i < c->nl; i++) {
        const layer *l = &c->L[i];
        sb_printf(&b, "  - {name: '%s', op: %s%s", l->name, l->op, l->fields);
        if (l->ninputs == 1) {
            int src = l->inputs[0];
            if (!(src == i - 1 || (i == 0 && src == -1)))
                sb_printf(&b, ", input: '%s'", src < 0 ? "input" : c->L[src].name);
        } else if (l->ninputs > 1) {
            sb_printf(&b, ", inputs: [");
            for (int j = 0; j < l->ninputs; j++)
                sb_printf(&b, "%s'%s'", j ? ", " : "", l->inputs[j] < 0 ? "input" : c->L[l->inputs[j]].name);
            sb_printf(&b, "]");
        }
        sb_printf(&b, "}\n");
    }
    sb_printf(&b, "output: '%s'\n", c->L[outl].name);
    if (b.oom) {
        free(b.s);
        return cerr(c, NR_ENOMEM, "out of memory");
    }
    *out = b.s;
    return 0;
}

static int valid_spec_name(const char *s)
{
    if (!*s || strlen(s) >= NR_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_.-", *s)))
            return 0;
    return 1;
}

int nr_onnx_import_buffer(const void *buf, size_t len, const char *path, const char *name,
                          const char *weights_file, nr_onnx_import *out, nr_err *err)
{
    memset(out, 0, sizeof *out);
    if (!valid_spec_name(name))
        return nr_err_set(err, NR_ERANGE, "", 0, 0, "name", "\"%s\": expected letters, digits, "
                          "_ . - (at most %d bytes)", name, NR_NAME_MAX - 1);
    if (weights_file && (strchr(weights_file, '\'') || strchr(weights_file, '\n')))
        return nr_err_set(err, NR_ERANGE, "", 0, 0, "weights", "file name must not contain "
                          "quotes or newlines");
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    if (!m)
        return nr_err_set(err, NR_ECORRUPT, path, 0, 0, "", "not a valid ONNX model (the "
                          "protobuf data is truncated or corrupt)");
    ctx c = {.path = path, .err = err, .node = -1, .batch = -1};
    int rc;
    if (!m->graph)
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, "", "the model has no graph");
    else
        rc = walk(&c, m);
    if (!rc) {
        int k = strmap_get(&c.vmap, m->graph->output[0]->name);
        rc = write_spec(&c, m, path, name, weights_file, c.v[k].layer, &out->spec);
    }
    if (!rc) {
        out->nlayers = c.nl;
        out->ntensors = c.nt;
        out->tensors = c.T;
        out->nvalues = c.nvalues;
        out->opset = c.opset;
        c.T = NULL;
        c.nt = 0;
    }
    for (int i = 0; i < c.nv; i++) {
        free(c.v[i].name);
        free(c.v[i].f);
        free(c.v[i].i);
    }
    free(c.v);
    for (int i = 0; i < c.nt; i++) {
        free((void *)c.T[i].name);
        free((void *)c.T[i].shape);
        free((void *)c.T[i].data);
    }
    free(c.T);
    free(c.L);
    strmap_free(&c.vmap);
    strmap_free(&c.uses);
    strmap_free(&c.vinfo);
    strmap_free(&c.lnames);
    onnx__model_proto__free_unpacked(m, NULL);
    return rc;
}

int nr_onnx_import_file(const char *path, const char *name, const char *weights_file,
                        nr_onnx_import *out, nr_err *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot open: %s", strerror(errno));
    /* protobuf messages are limited to 2 GiB */
    long size = -1;
    if (!fseek(f, 0, SEEK_END))
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET)) {
        fclose(f);
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot read (not a regular file?)");
    }
    if (size > 0x7fffffffL) {
        fclose(f);
        return nr_err_set(err, NR_EUNSUP, path, 0, 0, "", "%ld bytes; ONNX files are at most 2 GiB",
                          size);
    }
    void *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(f);
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, "", "out of memory for %ld bytes", size);
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(buf);
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "short read");
    }
    int rc = nr_onnx_import_buffer(buf, (size_t)size, path, name, weights_file, out, err);
    free(buf);
    return rc;
}

void nr_onnx_import_free(nr_onnx_import *r)
{
    for (int i = 0; i < r->ntensors; i++) {
        free((void *)r->tensors[i].name);
        free((void *)r->tensors[i].shape);
        free((void *)r->tensors[i].data);
    }
    free(r->tensors);
    free(r->spec);
    memset(r, 0, sizeof *r);
}
