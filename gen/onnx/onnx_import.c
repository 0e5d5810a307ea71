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
 *   a rank-3 input [N, T, F] and everything computed from it (transformers):
 *                              onnx_seq*.c, docs/semantics.md [onnx-seq], [onnx-fuse]
 *
 * ONNX pads [x1_begin, x2_begin, x1_end, x2_end] are the spec's [top, left,
 * bottom, right]; SAME_UPPER is the spec's `same`, SAME_LOWER becomes
 * explicit pads (the odd pixel at the top/left).  Every computed shape is
 * checked against the shapes the file itself declares (value_info, graph
 * outputs), so a disagreement is reported at the node that causes it.
 *
 * This file holds the entry points, the graph walk and the writing of the
 * spec text; onnx_internal.h lists the files that do the rest. */
#include "onnx_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

static void set_where(ctx *c, const char *kind, int index, const char *name)
{
    char p[64];
    onnx_printable(p, sizeof p, name);
    if (index >= 0)
        snprintf(c->where, sizeof c->where, "%s %d \"%s\"", kind, index, p);
    else
        snprintf(c->where, sizeof c->where, "%s \"%s\"", kind, p);
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

/* ---------------------------------------------------------------- the graph */

/* An integer input: token ids [N, T] (onnx_seq_ids.c). */
static int ids_input(ctx *c, const Onnx__ValueInfoProto *in)
{
    const Onnx__TensorShapeProto *s = in->type->tensor_type->shape;
    if (!s || s->n_dim != 2)
        return onnx_err(c, NR_EUNSUP, "an integer input must be token ids [N, T], got rank %d",
                        s ? (int)s->n_dim : -1);
    const Onnx__TensorShapeProto__Dimension *d = s->dim[1];
    if (d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
        d->dim_value < 1 || d->dim_value > MAX_DIM)
        return onnx_err(c, NR_EUNSUP, "token ids [N, T]: T must be a fixed size 1 .. %lld",
                        (long long)MAX_DIM);
    d = s->dim[0];
    c->batch = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                       d->dim_value > 0 ? d->dim_value : -1;
    return onnx_seq_ids_input(c, in->name, (int)s->dim[1]->dim_value);
}

static int graph_input(ctx *c, const Onnx__ValueInfoProto *in)
{
    set_where(c, "graph input", -1, in->name);
    const Onnx__TypeProto *t = in->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return onnx_err(c, NR_EUNSUP, "not a tensor");
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    if (tt->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ||
        tt->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
        return ids_input(c, in);
    if (tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return onnx_err(c, NR_EUNSUP, "element type %s, expected FLOAT", onnx_dtype_name(tt->elem_type));
    const Onnx__TensorShapeProto *s = tt->shape;
    if (!s || (s->n_dim != 4 && s->n_dim != 3 && s->n_dim != 2))
        return onnx_err(c, NR_EUNSUP, "expected shape [N, C, H, W], [N, T, F] or [N, F], got rank %d",
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
            return onnx_err(c, NR_EUNSUP, "dimension %zu must be a fixed size 1 .. %lld", i,
                            (long long)MAX_DIM);
        sh[i - 1] = (int)d->dim_value;
    }
    val a = {.kind = V_ACT, .layer = -1, .rank = (int)s->n_dim, .shape = {sh[0], sh[1], sh[2]}};
    if ((int64_t)sh[0] * sh[1] * sh[2] > MAX_ACT)
        return onnx_err(c, NR_ESHAPE, "too large");
    if (s->n_dim == 3) /* a sequence [N, T, F] (onnx_seq.c) */
        return onnx_seq_input(c, in->name, sh[0], sh[1]);
    return onnx_def_val(c, in->name, &a);
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
        return onnx_err(c, NR_ECORRUPT, "the model imports no version of the default (ai.onnx) "
                        "operator set");
    /* value table: every value is defined once, so its size is known */
    size_t cap = g->n_initializer + g->n_input;
    for (size_t i = 0; i < g->n_node; i++)
        cap += g->node[i]->n_output;
    if (cap > (size_t)1 << 26)
        return onnx_err(c, NR_ERANGE, "too many values (%zu)", cap);
    if (!(c->v = calloc(cap ? cap : 1, sizeof *c->v)))
        return onnx_err(c, NR_ENOMEM, "out of memory");
    c->capv = (int)cap;
    /* how often each name is read: bias folding needs "read only once" */
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t j = 0; j < g->node[i]->n_input; j++) {
            const char *s = g->node[i]->input[j];
            int u = onnx_map_get(&c->uses, s);
            if (s[0] && onnx_map_put(&c->uses, s, u < 0 ? 1 : u + 1))
                return onnx_err(c, NR_ENOMEM, "out of memory");
        }
    for (size_t i = 0; i < g->n_output; i++) {
        const char *s = g->output[i]->name ? g->output[i]->name : "";
        int u = onnx_map_get(&c->uses, s);
        if (onnx_map_put(&c->uses, s, u < 0 ? 1 : u + 1))
            return onnx_err(c, NR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->n_value_info + g->n_output; i++) {
        const Onnx__ValueInfoProto *vi =
            i < g->n_value_info ? g->value_info[i] : g->output[i - g->n_value_info];
        /* a graph output without a shape must not hide a value_info with one */
        if (vi->name && (i < g->n_value_info || onnx_map_get(&c->vinfo, vi->name) < 0) &&
            onnx_map_put(&c->vinfo, vi->name, (int)i))
            return onnx_err(c, NR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        set_where(c, "initializer", -1, t->name ? t->name : "");
        val v = {0};
        if ((rc = onnx_tensor_decode(c, t, &v)) || (rc = onnx_def_val(c, t->name, &v))) {
            free(v.f);
            free(v.i);
            return rc;
        }
    }
    int ninputs = 0;
    for (size_t i = 0; i < g->n_input; i++) {
        const char *name = g->input[i]->name ? g->input[i]->name : "";
        int k = onnx_map_get(&c->vmap, name);
        if (k >= 0 && c->v[k].kind == V_CONST)
            continue; /* older exporters list the initializers as inputs too */
        if (ninputs++) {
            set_where(c, "graph input", -1, name);
            return onnx_err(c, NR_EUNSUP, "a second network input; numrep networks have one");
        }
        if ((rc = graph_input(c, g->input[i])))
            return rc;
    }
    c->where[0] = 0;
    if (!ninputs)
        return onnx_err(c, NR_ECORRUPT, "the graph has no input (besides initializers)");
    if ((rc = onnx_fuse_scan(c)))
        return rc;
    for (size_t i = 0; i < g->n_node; i++) {
        node *n = g->node[i];
        c->node = (int)i;
        if (!n->op_type)
            return onnx_err(c, NR_ECORRUPT, "node %zu has no op_type", i);
        set_where(c, "node", (int)i, n->name ? n->name : "");
        if (onnx_fuse_skip(c, (int)i))
            continue; /* inside a recognised pattern, converted at its head */
        c->optag = n->op_type; /* the sequence converters name the operator */
        if ((rc = onnx_fuse_emit(c, (int)i)) <= 0) {
            if (rc)
                return rc;
            c->optag = NULL;
            continue;
        }
        c->optag = NULL;
        const char *d = n->domain;
        char op[64];
        onnx_printable(op, sizeof op, n->op_type);
        if (d && *d && strcmp(d, "ai.onnx")) {
            char dp[64];
            onnx_printable(dp, sizeof dp, d);
            return onnx_err(c, NR_EUNSUP, "unsupported operator %s (domain %s)", op, dp);
        }
        if (onnx_seq_wants(c, n)) {
            if (n->n_output < 1 || !n->output[0][0])
                return onnx_err(c, NR_ECORRUPT, "the node has no output");
            c->optag = n->op_type;
            if ((rc = onnx_seq_convert(c, n)))
                return rc;
            c->optag = NULL;
            continue;
        }
        onnx_op_fn fn = onnx_ops_find(n->op_type);
        if (!fn)
            return onnx_err(c, NR_EUNSUP, "unsupported operator %s", op);
        if (n->n_output < 1 || !n->output[0][0]) /* every operator defines output 0 */
            return onnx_err(c, NR_ECORRUPT, "the node has no output");
        if ((rc = fn(c, n)))
            return rc;
    }
    c->node = -1;
    c->where[0] = 0;
    if (g->n_output != 1)
        return onnx_err(c, NR_EUNSUP, "the graph has %zu outputs; numrep networks have one",
                        g->n_output);
    set_where(c, "graph output", -1, g->output[0]->name ? g->output[0]->name : "");
    int k = g->output[0]->name ? onnx_map_get(&c->vmap, g->output[0]->name) : -1;
    if (k < 0)
        return onnx_err(c, NR_ECORRUPT, "not computed by any node");
    if (c->v[k].kind != V_ACT || c->v[k].layer < 0)
        return onnx_err(c, NR_EUNSUP, "the output must be computed by at least one layer from the "
                        "network input");
    return onnx_seq_finish(c, &c->v[k]);
}

static int write_spec(ctx *c, const Onnx__ModelProto *m, const char *path,
                      const nr_onnx_import_opts *o, int outl, char **out)
{
    const char *name = o->name, *weights_file = o->weights_file;
    sbuf b = {0};
    char base[128], prod[64], pver[64];
    const char *slash = strrchr(path, '/');
    onnx_printable(base, sizeof base, slash ? slash + 1 : path);
    onnx_printable(prod, sizeof prod, m->producer_name ? m->producer_name : "");
    onnx_printable(pver, sizeof pver, m->producer_version ? m->producer_version : "");
    const val *in = NULL;
    for (int i = 0; i < c->nv; i++)
        if (c->v[i].kind == V_ACT && c->v[i].layer == -1) {
            in = &c->v[i];
            break;
        }
    sb_printf(&b, "# Imported by `numrep import` from %s (producer: %s %s, ONNX opset %lld).\n",
              base, prod[0] ? prod : "unknown", pver, (long long)c->opset);
    sb_printf(&b, "name: '%s'\n", name);
    char input[1024 + 2 * PATH_MAX];
    if (gen_onnx_input_yaml(&o->input, in->shape, input, sizeof input, c->err)) {
        free(b.s);
        return -NR_ERANGE;
    }
    sb_printf(&b, "%s", input);
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
        return onnx_err(c, NR_ENOMEM, "out of memory");
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

int gen_onnx_import_buffer(const void *buf, size_t len, const char *path,
                          const nr_onnx_import_opts *o, nr_onnx_import *out, nr_err *err)
{
    memset(out, 0, sizeof *out);
    const char *name = o->name, *weights_file = o->weights_file;
    int rc = gen_onnx_input_check(&o->input, err);
    if (rc)
        return rc;
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
    if (!m->graph)
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, "", "the model has no graph");
    else
        rc = walk(&c, m);
    if (!rc) {
        int k = onnx_map_get(&c.vmap, m->graph->output[0]->name);
        rc = write_spec(&c, m, path, o, c.v[k].layer, &out->spec);
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
    onnx_map_free(&c.vmap);
    onnx_map_free(&c.uses);
    onnx_map_free(&c.vinfo);
    onnx_map_free(&c.lnames);
    onnx_map_free(&c.prod);
    onnx_fuse_free(&c);
    onnx__model_proto__free_unpacked(m, NULL);
    return rc;
}

int gen_onnx_import_file(const char *path, const nr_onnx_import_opts *o, nr_onnx_import *out,
                        nr_err *err)
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
    int rc = gen_onnx_import_buffer(buf, (size_t)size, path, o, out, err);
    free(buf);
    return rc;
}

void gen_onnx_import_free(nr_onnx_import *r)
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
