/* onnx_seq_fuse.c -- multi-node patterns that exporters write for one
 * mathematical function, recognised before the graph walk and converted
 * as one spec layer at the pattern's first node ([onnx-fuse] in
 * docs/semantics.md):
 *
 *   GELU (erf)  Div(x, sqrt 2) | Mul(x, 1/sqrt 2) -> Erf -> Add 1 -> Mul x -> Mul 0.5   gelu
 *   GELU (tanh) Mul(x, x) -> Mul x -> Mul 0.044715 -> Add x -> Mul sqrt(2/pi) -> Tanh
 *               -> Add 1 -> Mul x -> Mul 0.5                    gelu, approximate: tanh
 *   LayerNorm   ReduceMean(x) -> Sub -> Pow 2 -> ReduceMean -> Add eps -> Sqrt -> Div
 *               [-> Mul gamma [-> Add beta]]                                layernorm
 *   RMSNorm     Pow(x, 2) -> ReduceMean -> Add eps -> Sqrt -> Reciprocal -> Mul x
 *               [-> Mul g]                                                  rmsnorm
 *   SiLU        Sigmoid(x) -> Mul x                                         silu
 *   rotary      Mul(x, cos) + Mul(Concat(Neg(Slice(x, h:)), Slice(x, :h)), sin)
 *               with cos, sin constants whose two halves agree              rope
 *   causal      Where(mask, -inf, s) -> Softmax(last axis), mask[t][j] = j > t
 *                                                                           causal_softmax
 *
 * A pattern matches only when every intermediate value is read by the next
 * node of the pattern alone (not by any other node or graph output), the
 * constants are exactly the function's (float32 sqrt 2, 1, 0.5, exponent
 * 2), and the reductions run over the last axis; anything else is left to
 * the node-by-node conversion (which then refuses what it cannot express). */
#include "onnx_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { FZ_NONE, FZ_GELU_TANH, FZ_GELU, FZ_LN, FZ_RMS, FZ_SILU, FZ_ROPE, FZ_CAUSAL };

struct onnx_fused {
    int kind;                 /* at the head node; FZ_NONE elsewhere             */
    int skip;                 /* 1: inside a pattern, converted at its head      */
    int axis;                 /* the reductions' axis (LN, RMS)                  */
    double eps;
    const char *x, *out;      /* names in the graph (owned by the model)         */
    const char *g, *b;        /* the gamma / beta inputs, NULL when absent       */
                              /* rope: cos, sin; causal: the mask               */
    int64_t half, end;        /* rope: the split point h, the 2nd slice's end    */
    int s1, s2;               /* rope: the two Slice nodes                       */
};

#define WINDOW 64 /* consumers are searched this many nodes ahead */

static const Onnx__GraphProto *G(const ctx *c) { return c->g; }

static int is_op(const ctx *c, int j, const char *op)
{
    return j >= 0 && j < (int)G(c)->n_node && G(c)->node[j]->op_type &&
           !strcmp(G(c)->node[j]->op_type, op) && G(c)->node[j]->n_output >= 1;
}

static int uses(const ctx *c, const char *name)
{
    int u = onnx_map_get(&c->uses, name);
    return u < 0 ? 0 : u;
}

/* The k-th node after `from` reading `name` (k = 0, 1), -1 when none. */
static int consumer(const ctx *c, const char *name, int from, int k)
{
    int end = from + WINDOW < (int)G(c)->n_node ? from + WINDOW : (int)G(c)->n_node;
    for (int j = from + 1; j < end; j++) {
        node *n = G(c)->node[j];
        for (size_t i = 0; i < n->n_input; i++)
            if (!strcmp(n->input[i], name)) {
                if (!k--)
                    return j;
                break;
            }
    }
    return -1;
}

/* The only reader of node j's output 0, of type op, or -1. */
static int next(const ctx *c, int j, const char *op)
{
    const char *o = G(c)->node[j]->output[0];
    if (uses(c, o) != 1 || G(c)->node[j]->n_output != 1)
        return -1;
    int k = consumer(c, o, j, 0);
    return is_op(c, k, op) ? k : -1;
}

/* The input of binary node j other than `name`, NULL when j is not binary
 * or does not read name. */
static const char *other(const ctx *c, int j, const char *name)
{
    node *n = G(c)->node[j];
    if (n->n_input != 2)
        return NULL;
    if (!strcmp(n->input[0], name))
        return n->input[1];
    return !strcmp(n->input[1], name) ? n->input[0] : NULL;
}

/* The value of a one-element float constant `name` known before the walk
 * (an initializer or a Constant node): 0, or -1 when it is not one. */
static int scalar(ctx *c, const char *name, double *out)
{
    if (!name)
        return -1;
    int k = onnx_map_get(&c->vmap, name);
    if (k >= 0) {
        const val *v = &c->v[k];
        if (v->kind != V_CONST || v->count != 1)
            return -1;
        *out = v->isint ? (double)v->i[0] : v->f[0];
        return 0;
    }
    int p = onnx_map_get(&c->prod, name);
    if (!is_op(c, p, "Constant"))
        return -1;
    const Onnx__AttributeProto *a = onnx_attr(G(c)->node[p], "value");
    if (a && a->t) {
        val v = {0};
        nr_err keep = *c->err;
        int rc = onnx_tensor_decode(c, a->t, &v);
        *c->err = keep;
        int ok = !rc && v.count == 1;
        if (ok)
            *out = v.isint ? (double)v.i[0] : v.f[0];
        free(v.f);
        free(v.i);
        return ok ? 0 : -1;
    }
    if ((a = onnx_attr(G(c)->node[p], "value_float"))) {
        *out = a->f;
        return 0;
    }
    return -1;
}

static int is_scalar(ctx *c, const char *name, double want)
{
    double v;
    return !scalar(c, name, &v) && v == want;
}

/* The single reduction axis of ReduceMean node j, keepdims 1: the `axes`
 * attribute (opset < 18) or a one-element constant input 1 (opset 18). */
static int reduce_axis(ctx *c, int j, int *axis)
{
    node *n = G(c)->node[j];
    const Onnx__AttributeProto *a = onnx_attr(n, "axes"), *kd = onnx_attr(n, "keepdims"),
                               *ne = onnx_attr(n, "noop_with_empty_axes");
    double ax;
    if ((kd && kd->i != 1) || (ne && ne->i != 0))
        return -1;
    if (n->n_input == 1 && a && a->n_ints == 1)
        ax = (double)a->ints[0];
    else if (n->n_input != 2 || a || scalar(c, n->input[1], &ax))
        return -1;
    if (ax < -NR_TENSOR_MAXDIM || ax >= NR_TENSOR_MAXDIM || ax != (int)ax)
        return -1;
    *axis = (int)ax;
    return 0;
}

static void mark(struct onnx_fused *f, const int *js, int n)
{
    for (int i = 0; i < n; i++)
        if (js[i] >= 0)
            f[js[i]].skip = 1;
}

static int match_gelu(ctx *c, int h)
{
    node *n = G(c)->node[h];
    if (n->n_input != 2)
        return 0;
    const char *x = n->input[0];
    int div = is_op(c, h, "Div");
    if (!(div ? is_scalar(c, n->input[1], (float)M_SQRT2)
              : is_op(c, h, "Mul") && is_scalar(c, n->input[1], (float)M_SQRT1_2)))
        return 0;
    int e = next(c, h, "Erf"), a = e < 0 ? -1 : next(c, e, "Add");
    if (a < 0 || !is_scalar(c, other(c, a, G(c)->node[e]->output[0]), 1))
        return 0;
    int m = next(c, a, "Mul");
    const char *o = m < 0 ? NULL : other(c, m, G(c)->node[a]->output[0]);
    if (!o || strcmp(o, x))
        return 0;
    int k = next(c, m, "Mul");
    if (k < 0 || !is_scalar(c, other(c, k, G(c)->node[m]->output[0]), 0.5))
        return 0;
    int js[4] = {e, a, m, k};
    mark(c->fz, js, 4);
    c->fz[h] = (struct onnx_fused){.kind = FZ_GELU, .x = x, .out = G(c)->node[k]->output[0]};
    return 1;
}

/* The only reader of node j's output, a Mul or Add whose other input is
 * the constant want (float32), or -1. */
static int next_const(ctx *c, int j, const char *op, double want)
{
    int k = next(c, j, op);
    return k >= 0 && is_scalar(c, other(c, k, G(c)->node[j]->output[0]), (float)want) ? k : -1;
}

/* The only reader of node j's output, op(x, that output) in either order, or -1. */
static int next_x(ctx *c, int j, const char *op, const char *x)
{
    int k = next(c, j, op);
    const char *o = k < 0 ? NULL : other(c, k, G(c)->node[j]->output[0]);
    return o && !strcmp(o, x) ? k : -1;
}

static int match_gelu_tanh(ctx *c, int h)
{
    node *n = G(c)->node[h];
    if (n->n_input != 2 || strcmp(n->input[0], n->input[1]))
        return 0;
    const char *x = n->input[0];
    int js[8];
    js[0] = next_x(c, h, "Mul", x);
    js[1] = js[0] < 0 ? -1 : next_const(c, js[0], "Mul", 0.044715);
    js[2] = js[1] < 0 ? -1 : next_x(c, js[1], "Add", x);
    js[3] = js[2] < 0 ? -1 : next_const(c, js[2], "Mul", sqrt(2 / M_PI));
    js[4] = js[3] < 0 ? -1 : next(c, js[3], "Tanh");
    js[5] = js[4] < 0 ? -1 : next_const(c, js[4], "Add", 1);
    js[6] = js[5] < 0 ? -1 : next_x(c, js[5], "Mul", x);
    js[7] = js[6] < 0 ? -1 : next_const(c, js[6], "Mul", 0.5);
    if (js[7] < 0)
        return 0;
    mark(c->fz, js, 8);
    c->fz[h] = (struct onnx_fused){.kind = FZ_GELU_TANH, .x = x, .out = G(c)->node[js[7]]->output[0]};
    return 1;
}

/* The optional Mul gamma [, Add beta] after node j; updates *last. */
static void affine(ctx *c, int j, struct onnx_fused *f, int *js, int bias)
{
    const char *o = G(c)->node[j]->output[0];
    int m = next(c, j, "Mul");
    if (m < 0)
        return;
    js[0] = m;
    f->g = other(c, m, o);
    f->out = G(c)->node[m]->output[0];
    int a = bias ? next(c, m, "Add") : -1;
    if (a < 0)
        return;
    js[1] = a;
    f->b = other(c, a, f->out);
    f->out = G(c)->node[a]->output[0];
}

static int match_ln(ctx *c, int h)
{
    node *n = G(c)->node[h];
    if (n->n_input != 1)
        return 0;
    struct onnx_fused f = {.kind = FZ_LN, .x = n->input[0]};
    int ax2, s = next(c, h, "Sub");
    if (s < 0 || reduce_axis(c, h, &f.axis) || G(c)->node[s]->n_input != 2 ||
        strcmp(G(c)->node[s]->input[0], f.x) || strcmp(G(c)->node[s]->input[1], n->output[0]))
        return 0;
    const char *d = G(c)->node[s]->output[0];
    int p = consumer(c, d, s, 0), q = consumer(c, d, s, 1);
    if (uses(c, d) != 2 || !is_op(c, p, "Pow") || !is_op(c, q, "Div") ||
        strcmp(G(c)->node[p]->input[0], d) || !is_scalar(c, other(c, p, d), 2))
        return 0;
    int r = next(c, p, "ReduceMean"), a = r < 0 ? -1 : next(c, r, "Add");
    if (a < 0 || reduce_axis(c, r, &ax2) || ax2 != f.axis ||
        scalar(c, other(c, a, G(c)->node[r]->output[0]), &f.eps))
        return 0;
    int sq = next(c, a, "Sqrt"), dv = sq < 0 ? -1 : next(c, sq, "Div");
    if (dv != q || G(c)->node[q]->n_input != 2 || strcmp(G(c)->node[q]->input[0], d))
        return 0;
    f.out = G(c)->node[q]->output[0];
    int js[9] = {s, p, r, a, sq, q, -1, -1};
    affine(c, q, &f, js + 6, 1);
    mark(c->fz, js, 8);
    c->fz[h] = f;
    return 1;
}

static int match_rms(ctx *c, int h)
{
    node *n = G(c)->node[h];
    if (n->n_input != 2 || !is_scalar(c, n->input[1], 2))
        return 0;
    struct onnx_fused f = {.kind = FZ_RMS, .x = n->input[0]};
    int r = next(c, h, "ReduceMean"), a = r < 0 ? -1 : next(c, r, "Add");
    if (a < 0 || reduce_axis(c, r, &f.axis) || scalar(c, other(c, a, G(c)->node[r]->output[0]), &f.eps))
        return 0;
    int sq = next(c, a, "Sqrt"), rc = sq < 0 ? -1 : next(c, sq, "Reciprocal");
    if (sq >= 0 && rc < 0) { /* 1 / sqrt as Div(1, s) */
        rc = next(c, sq, "Div");
        if (rc >= 0 && (G(c)->node[rc]->n_input != 2 ||
                        strcmp(G(c)->node[rc]->input[1], G(c)->node[sq]->output[0]) ||
                        !is_scalar(c, G(c)->node[rc]->input[0], 1)))
            rc = -1;
    }
    int m = rc < 0 ? -1 : next(c, rc, "Mul");
    const char *o = m < 0 ? NULL : other(c, m, G(c)->node[rc]->output[0]);
    if (!o || strcmp(o, f.x))
        return 0;
    f.out = G(c)->node[m]->output[0];
    int js[7] = {r, a, sq, rc, m, -1, -1};
    affine(c, m, &f, js + 5, 0);
    mark(c->fz, js, 6);
    c->fz[h] = f;
    return 1;
}

static int match_silu(ctx *c, int h)
{
    node *n = G(c)->node[h];
    int m = n->n_input == 1 ? next(c, h, "Mul") : -1;
    const char *o = m < 0 ? NULL : other(c, m, n->output[0]);
    if (!o || strcmp(o, n->input[0]))
        return 0;
    c->fz[m].skip = 1;
    c->fz[h] = (struct onnx_fused){.kind = FZ_SILU, .x = n->input[0], .out = G(c)->node[m]->output[0]};
    return 1;
}

/* Slice node j of x's axis *axis, [lo, hi) (the axis checked at the
 * emission, when x's rank is known): 0, or -1 when it is not one. */
static int last_slice(ctx *c, int j, const char *x, int64_t *lo, int64_t *hi, int *axis)
{
    node *n = G(c)->node[j];
    double a, b, ax, st = 1;
    if (!is_op(c, j, "Slice") || n->n_input < 4 || strcmp(n->input[0], x) ||
        scalar(c, n->input[1], &a) || scalar(c, n->input[2], &b) || scalar(c, n->input[3], &ax) ||
        !(ax >= -1 && ax < NR_TENSOR_MAXDIM) || (n->n_input > 4 && scalar(c, n->input[4], &st)) ||
        st != 1 || !(a >= 0 && a <= 1e15) || !(b >= 0))
        return -1;
    *axis = (int)ax;
    *lo = (int64_t)a;
    *hi = b > 1e15 ? INT64_MAX : (int64_t)b;
    return 0;
}

/* Anchored at the Neg; the pattern's first node is its head. */
static int match_rope(ctx *c, int ng)
{
    node *n = G(c)->node[ng];
    int p2 = onnx_map_get(&c->prod, n->input[0]);
    if (n->n_input != 1 || p2 < 0 || !is_op(c, p2, "Slice") || G(c)->node[p2]->n_input < 1)
        return 0;
    const char *x = G(c)->node[p2]->input[0];
    int64_t lo2, hi2, lo1, hi1;
    int ax1, ax2;
    int cc = next(c, ng, "Concat");
    if (last_slice(c, p2, x, &lo2, &hi2, &ax2) || uses(c, G(c)->node[p2]->output[0]) != 1 || cc < 0 ||
        G(c)->node[cc]->n_input != 2 || strcmp(G(c)->node[cc]->input[0], n->output[0]))
        return 0;
    const Onnx__AttributeProto *ax = onnx_attr(G(c)->node[cc], "axis");
    int p1 = onnx_map_get(&c->prod, G(c)->node[cc]->input[1]);
    if (!ax || ax->i != -1 || p1 < 0 || last_slice(c, p1, x, &lo1, &hi1, &ax1) || ax1 != ax2 || lo1 != 0 ||
        hi1 != lo2 || uses(c, G(c)->node[p1]->output[0]) != 1)
        return 0;
    int m2 = next(c, cc, "Mul"), ad = m2 < 0 ? -1 : next(c, m2, "Add");
    const char *sin = m2 < 0 ? NULL : other(c, m2, G(c)->node[cc]->output[0]);
    const char *mo = ad < 0 ? NULL : other(c, ad, G(c)->node[m2]->output[0]);
    int m1 = mo ? onnx_map_get(&c->prod, mo) : -1;
    if (!sin || m1 < 0 || !is_op(c, m1, "Mul") || uses(c, mo) != 1 || !other(c, m1, x))
        return 0;
    int js[7] = {p1, p2, m1, ng, cc, m2, ad}, h = p1;
    for (int k = 0; k < 7; k++)
        h = js[k] < h ? js[k] : h;
    mark(c->fz, js, 7);
    c->fz[h] = (struct onnx_fused){.kind = FZ_ROPE, .x = x, .out = G(c)->node[ad]->output[0],
                                   .g = other(c, m1, x), .b = sin, .half = lo2, .end = hi2, .axis = ax1, .s1 = p1,
                                   .s2 = p2};
    c->fz[h].skip = 0;
    return 1;
}

static int match_causal(ctx *c, int w)
{
    node *n = G(c)->node[w];
    double v;
    int sm = next(c, w, "Softmax");
    if (n->n_input != 3 || sm < 0 || scalar(c, n->input[1], &v) || !(isinf(v) && v < 0))
        return 0;
    c->fz[sm].skip = 1;
    c->fz[w] = (struct onnx_fused){.kind = FZ_CAUSAL, .x = n->input[2], .g = n->input[0],
                                   .out = G(c)->node[sm]->output[0], .s1 = sm};
    return 1;
}

int onnx_fuse_scan(ctx *c)
{
    size_t nn = G(c)->n_node;
    if (!(c->fz = calloc(nn ? nn : 1, sizeof *c->fz)))
        return onnx_err(c, NR_ENOMEM, "out of memory");
    for (size_t i = 0; i < nn; i++) {
        node *n = G(c)->node[i];
        for (size_t k = 0; k < n->n_output; k++)
            if (n->output[k][0] && onnx_map_put(&c->prod, n->output[k], (int)i))
                return onnx_err(c, NR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nn; i++) {
        node *n = G(c)->node[i];
        int h = (int)i;
        if (!n->op_type || c->fz[i].skip || n->n_output != 1 || (n->domain && *n->domain))
            continue;
        if (is_op(c, h, "Div") || is_op(c, h, "Mul"))
            (void)(match_gelu(c, h) || match_gelu_tanh(c, h));
        else if (is_op(c, h, "ReduceMean"))
            match_ln(c, h);
        else if (is_op(c, h, "Pow"))
            match_rms(c, h);
        else if (is_op(c, h, "Sigmoid"))
            match_silu(c, h);
        else if (is_op(c, h, "Neg"))
            match_rope(c, h);
        else if (is_op(c, h, "Where"))
            match_causal(c, h);
    }
    return 0;
}

int onnx_fuse_skip(const ctx *c, int i)
{
    return c->fz && c->fz[i].skip;
}

static int find(ctx *c, const char *name, val **out)
{
    int k = name ? onnx_map_get(&c->vmap, name) : -1;
    if (k < 0)
        return onnx_err(c, NR_ECORRUPT, "a recognised pattern reads an undefined value");
    *out = &c->v[k];
    return 0;
}

int onnx_fuse_emit(ctx *c, int i)
{
    struct onnx_fused *f = c->fz ? &c->fz[i] : NULL;
    if (!f || f->kind == FZ_NONE)
        return 1;
    node *n = G(c)->node[i];
    val *x = NULL, *g = NULL, *b = NULL;
    int rc = find(c, f->x, &x);
    if (!rc && f->g) rc = find(c, f->g, &g);
    if (!rc && f->b) rc = find(c, f->b, &b);
    if (rc)
        return rc;
    if (x->kind != V_ACT)
        return onnx_err(c, NR_EUNSUP, "a %s pattern on a constant", n->op_type);
    if (f->kind == FZ_ROPE && f->axis != -1 && (!x->seq || f->axis != x->nd - 1))
        return onnx_err(c, NR_EUNSUP, "a rotary pattern slicing axis %d, not the last", f->axis);
    if (f->kind == FZ_ROPE)
        return onnx_seq_rope(c, n, x, g, b, f->half, f->end, f->out);
    if (f->kind == FZ_CAUSAL) {
        int64_t axis;
        node *sm = G(c)->node[f->s1];
        int rc2 = onnx_attr_int(c, sm, "axis", c->opset < 13 ? 1 : -1, &axis);
        if (!rc2 && (sm->n_attribute > 1 || (axis != -1 && axis != x->nd - 1)))
            rc2 = onnx_err(c, NR_EUNSUP, "a causal mask before a Softmax that is not along the "
                           "last axis");
        return rc2 ? rc2 : onnx_seq_causal(c, n, x, g, f->out);
    }
    if (f->kind == FZ_GELU_TANH) {
        int li, rc2 = onnx_seq_unary(c, n, "gelu", x, f->out, &li);
        return rc2 ? rc2 : onnx_lfield(c, &c->L[li], ", approximate: tanh");
    }
    if (f->kind == FZ_GELU || f->kind == FZ_SILU)
        return onnx_seq_unary(c, n, f->kind == FZ_GELU ? "gelu" : "silu", x, f->out, NULL);
    val v;
    onnx_seq_view(x, &v);
    int ax = f->axis < 0 ? f->axis + v.nd : f->axis;
    if (ax != v.nd - 1)
        return onnx_err(c, NR_EUNSUP, "a %s pattern reducing axis %d of rank %d; only the last "
                        "axis is supported", f->kind == FZ_LN ? "LayerNorm" : "RMSNorm", f->axis,
                        v.nd);
    return onnx_seq_norm(c, n, x, f->kind == FZ_LN ? "layernorm" : "rmsnorm", g, b, f->eps, f->out);
}

void onnx_fuse_free(ctx *c)
{
    free(c->fz);
    c->fz = NULL;
}
