/* onnx_seq.c -- sequence activations of the ONNX importer ([onnx-seq] in
 * docs/semantics.md).  A transformer's ONNX tensors ([N, T, F], [T, N, F],
 * [N*H, T, d], ...) are held as views: dims, element strides and an offset
 * into the C-order [B, T, F] storage of the spec layer that made them, so
 * Transpose, Reshape and Slice cost nothing at import time.  A layer that
 * reads a view gets the view's elements in C order from onnx_seq_canon,
 * which adds the spec's exact data movers (slice, heads, merge_heads,
 * tokens) when the view is one of their layouts, and refuses any other
 * layout, naming the node. */
#include "onnx_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t onnx_seq_count(int nd, const int64_t *d)
{
    int64_t k = 1;
    for (int i = 0; i < nd; i++)
        k *= d[i];
    return k;
}

const char *onnx_seq_str(char *buf, size_t n, const val *v)
{
    return onnx_dims_str(buf, n, v->d, v->nd);
}

void onnx_seq_view(const val *v, val *out)
{
    *out = *v;
    if (v->seq)
        return;
    out->seq = 1;
    out->off = 0;
    if (v->rank == 2) { /* [N, F] over [F, 1, 1] */
        out->nd = 2;
        out->d[0] = 1;
        out->d[1] = v->shape[0];
        out->st[0] = v->shape[0];
        out->st[1] = 1;
        return;
    }
    out->nd = 4;
    out->d[0] = 1;
    for (int i = 0; i < 3; i++)
        out->d[i + 1] = v->shape[i];
    out->st[3] = 1;
    for (int i = 2; i >= 0; i--)
        out->st[i] = out->st[i + 1] * out->d[i + 1];
}

/* The dims of size > 1 with their strides; returns their number. */
static int squeeze(const val *v, int64_t *d, int64_t *st)
{
    int k = 0;
    for (int i = 0; i < v->nd; i++)
        if (v->d[i] != 1) {
            d[k] = v->d[i];
            st[k++] = v->st[i];
        }
    return k;
}

/* The view covers its storage whole, in C order. */
static int is_plain(const val *v)
{
    int64_t d[NR_TENSOR_MAXDIM], st[NR_TENSOR_MAXDIM], want = 1;
    int k = squeeze(v, d, st);
    if (v->off)
        return 0;
    for (int i = k - 1; i >= 0; i--) {
        if (st[i] != want)
            return 0;
        want *= d[i];
    }
    return want == (int64_t)v->shape[0] * v->shape[1] * v->shape[2];
}

static void set_plain(val *v, int li, const int sh[3])
{
    v->layer = li;
    memcpy(v->shape, sh, sizeof v->shape);
    v->off = 0;
    int64_t s = 1;
    for (int i = v->nd - 1; i >= 0; i--) {
        v->st[i] = s;
        s *= v->d[i];
    }
}

static int mover(ctx *c, node *n, val *v, const char *op, const int sh[3], const char *fmt,
                 int a, int b)
{
    val in = *v;
    val *ins[1] = {&in};
    int li = onnx_new_layer(c, n, op, ins, 1);
    if (li < 0)
        return li;
    int rc = fmt ? onnx_lfield(c, &c->L[li], fmt, a, b) : 0;
    if (rc)
        return rc;
    set_plain(v, li, sh);
    return 0;
}

/* One step toward a plain view: 1 when a layer was added, 0 when none fits. */
static int canon_step(ctx *c, node *n, val *v)
{
    int64_t d[NR_TENSOR_MAXDIM], st[NR_TENSOR_MAXDIM];
    int k = squeeze(v, d, st), rc;
    const int *S = v->shape;
    /* tokens: [C, H, W] read as [H*W, C] ([op-move]) */
    if (!v->off && k == 2 && st[0] == 1 && d[0] == (int64_t)S[1] * S[2] && d[1] == S[0] &&
        st[1] == d[0]) {
        int sh[3] = {1, S[1] * S[2], S[0]};
        return (rc = mover(c, n, v, "tokens", sh, NULL, 0, 0)) ? rc : 1;
    }
    /* heads: [1, T, H*dh] read as [H, T, dh] */
    if (!v->off && S[0] == 1 && k == 3 && st[2] == 1 && st[0] == d[2] && d[0] * d[2] == S[2] &&
        d[1] == S[1] && st[1] == S[2]) {
        int sh[3] = {(int)d[0], S[1], (int)d[2]};
        return (rc = mover(c, n, v, "heads", sh, ", heads: %d", (int)d[0], 0)) ? rc : 1;
    }
    /* merge_heads: [H, T, dh] read as [T, H, dh] */
    if (!v->off && k == 3 && st[2] == 1 && d[0] == S[1] && d[1] == S[0] && d[2] == S[2] &&
        st[0] == S[2] && st[1] == (int64_t)S[1] * S[2]) {
        int sh[3] = {1, S[1], S[0] * S[2]};
        return (rc = mover(c, n, v, "merge_heads", sh, NULL, 0, 0)) ? rc : 1;
    }
    /* slice of the features: [1, T, F], a window [off, off + w) of every token */
    if (S[0] == 1 && v->off < S[2]) {
        int64_t inner = 1, F = S[2], a = v->off;
        int ok = 1;
        for (int i = k - 1; i >= 0 && ok; i--) {
            if (st[i] % F == 0 && st[i] >= F)
                continue; /* a token dimension */
            ok = st[i] == inner;
            inner *= d[i];
        }
        if (!ok || a + inner > F || inner >= F)
            return 0;
        int64_t old[NR_TENSOR_MAXDIM];
        memcpy(old, v->st, sizeof old);
        int sh[3] = {1, S[1], (int)inner};
        if ((rc = mover(c, n, v, "slice", sh, ", w: [%d, %d]", (int)a, (int)(a + inner))))
            return rc;
        /* the same view of the window: token strides scale from F to w */
        for (int i = 0; i < v->nd; i++)
            v->st[i] = old[i] % F == 0 && old[i] >= F ? old[i] / F * inner : old[i];
        return 1;
    }
    return 0;
}

int onnx_seq_canon(ctx *c, node *n, const val *v, val *out)
{
    onnx_seq_view(v, out);
    for (int step = 0; step < 4; step++) {
        if (is_plain(out))
            return 0;
        int rc = canon_step(c, n, out);
        if (rc < 0)
            return rc;
        if (!rc)
            break;
    }
    if (is_plain(out))
        return 0;
    char a[96], b[96], s[64];
    snprintf(s, sizeof s, "[%d, %d, %d]", v->shape[0], v->shape[1], v->shape[2]);
    return onnx_err(c, NR_EUNSUP, "the tensor %s is a layout of the values of %s (strides %s, "
                    "offset %lld) that numrep's data movers (slice, heads, merge_heads, tokens) "
                    "cannot produce", onnx_seq_str(a, sizeof a, out), s,
                    onnx_dims_str(b, sizeof b, out->st, out->nd), (long long)out->off);
}

int onnx_seq_check_declared(ctx *c, const val *v, const char *name)
{
    int vi = name ? onnx_map_get(&c->vinfo, name) : -1; /* (def_val refuses no name) */
    if (vi < 0)
        return 0;
    const Onnx__ValueInfoProto *info = vi < (int)c->g->n_value_info
                                           ? c->g->value_info[vi]
                                           : c->g->output[vi - (int)c->g->n_value_info];
    if (!info->type || info->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !info->type->tensor_type || !info->type->tensor_type->shape)
        return 0;
    const Onnx__TensorShapeProto *s = info->type->tensor_type->shape;
    int ok = (int)s->n_dim == v->nd;
    for (int i = 0; ok && i < v->nd; i++)
        if (s->dim[i]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            s->dim[i]->dim_value != v->d[i])
            ok = 0;
    if (ok)
        return 0;
    char p[64], a[96];
    onnx_printable(p, sizeof p, name);
    return onnx_err(c, NR_ESHAPE, "output \"%s\": the file declares rank %zu, the imported layers "
                    "give %s", p, s->n_dim, onnx_seq_str(a, sizeof a, v));
}

/* direct: a's layer made it (its bias may be folded in, [onnx-seq]) */
static int def_view(ctx *c, const char *name, val *a, int direct)
{
    a->kind = V_ACT;
    a->seq = 1;
    a->rank = 3;
    if (onnx_seq_count(a->nd, a->d) > MAX_ACT)
        return onnx_err(c, NR_ESHAPE, "output too large");
    int rc = onnx_seq_check_declared(c, a, name);
    if (rc)
        return rc;
    if (a->layer >= 0 && direct)
        c->L[a->layer].out_val = c->nv;
    else if (a->layer >= 0 && c->L[a->layer].out_val >= 0)
        c->L[a->layer].out_val = -2; /* read through a view: no folding */
    return onnx_def_val(c, name, a);
}

int onnx_seq_def(ctx *c, const char *name, int li, const int sh[3], int nd, const int64_t *dims)
{
    val a = {.nd = nd};
    if (nd < 1 || nd > NR_TENSOR_MAXDIM)
        return onnx_err(c, NR_EUNSUP, "rank %d, expected 1 .. %d", nd, NR_TENSOR_MAXDIM);
    for (int i = 0; i < 3; i++)
        if (sh[i] < 1 || sh[i] > MAX_DIM)
            return onnx_err(c, NR_ESHAPE, "storage dimension %d out of range", sh[i]);
    memcpy(a.d, dims, (size_t)nd * sizeof *dims);
    set_plain(&a, li, sh);
    if (onnx_seq_count(nd, dims) != (int64_t)sh[0] * sh[1] * sh[2])
        return onnx_err(c, NR_EINTERNAL, "view and storage sizes differ");
    return def_view(c, name, &a, 1);
}

int onnx_seq_def_like(ctx *c, const char *name, int li, const val *v)
{
    val a;
    onnx_seq_view(v, &a);
    a.name = NULL;
    a.uses = 0;
    a.layer = li;
    return def_view(c, name, &a, 0);
}

int onnx_seq_input(ctx *c, const char *name, int T, int F)
{
    int sh[3] = {1, T, F};
    int64_t d[3] = {1, T, F};
    return onnx_seq_def(c, name, -1, sh, 3, d);
}

int onnx_seq_finish(ctx *c, val *v)
{
    if (!v->seq || v->layer < 0)
        return 0;
    val p;
    c->node = (int)c->g->n_node - 1;
    int rc = onnx_seq_canon(c, c->g->node[c->node], v, &p);
    if (!rc)
        v->layer = p.layer;
    return rc;
}

int onnx_seq_wants(ctx *c, node *n)
{
    for (size_t i = 0; i < n->n_input; i++) {
        int k = n->input[i][0] ? onnx_map_get(&c->vmap, n->input[i]) : -1;
        if (k >= 0 && c->v[k].kind == V_ACT && c->v[k].seq)
            return 1;
    }
    /* an NCHW activation reshaped to rank 3 ([N, C, H*W], a ViT's patches) */
    if (!strcmp(n->op_type, "Reshape") && n->n_input == 2) {
        int k = onnx_map_get(&c->vmap, n->input[0]), s = onnx_map_get(&c->vmap, n->input[1]);
        return k >= 0 && s >= 0 && c->v[k].kind == V_ACT && c->v[s].kind == V_CONST &&
               c->v[s].count != 2;
    }
    return 0;
}
