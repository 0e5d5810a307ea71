/* onnx_seq_ops.c -- ONNX operators on sequence activations ([onnx-seq] in
 * docs/semantics.md): views (Transpose, Reshape, Slice, Shape, Identity),
 * MatMul/Gemm with a constant weight (linear) or between two activations
 * (matmul), Add (add, a folded linear bias, add_const), Mul/Div by an
 * exact scalar (scale), Mul of two activations (mul), Softmax along the
 * last axis (softmax_axis), LayerNormalization (layernorm) and Relu.  Each
 * maps onto a spec op only where the op computes what the node does;
 * anything else is an error naming the node. */
#include "onnx_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- views */

static int seq_in(ctx *c, node *n, size_t i, val *out)
{
    val *v;
    int rc = onnx_get_in(c, n, i, &v);
    if (!rc && v->kind != V_ACT)
        return onnx_err(c, NR_EUNSUP, "input %zu must be an activation", i);
    if (!rc)
        onnx_seq_view(v, out);
    return rc;
}

static int op_transpose(ctx *c, node *n)
{
    val x, r;
    int64_t perm[NR_TENSOR_MAXDIM];
    int np, seen = 0;
    int rc = onnx_check_attrs(c, n, "perm");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = seq_in(c, n, 0, &x);
    if (!rc) rc = onnx_attr_ints(c, n, "perm", perm, NR_TENSOR_MAXDIM, &np);
    if (rc)
        return rc;
    if (np < 0)
        for (int a = 0; a < x.nd; a++)
            perm[a] = x.nd - 1 - a;
    else if (np != x.nd)
        return onnx_err(c, NR_ESHAPE, "perm has %d entries for rank %d", np, x.nd);
    r = x;
    for (int a = 0; a < x.nd; a++) {
        if (perm[a] < 0 || perm[a] >= x.nd || (seen & (1 << perm[a])))
            return onnx_err(c, NR_ECORRUPT, "perm is not a permutation of 0 .. %d", x.nd - 1);
        seen |= 1 << perm[a];
        r.d[a] = x.d[perm[a]];
        r.st[a] = x.st[perm[a]];
    }
    return onnx_seq_def_like(c, n->output[0], x.layer, &r);
}

/* Strides of x's values viewed as dims nd[]/t[] without moving them
 * (NumPy's no-copy reshape); 0 when they need moving. */
static int view_reshape(const val *x, int nn, const int64_t *t, int64_t *st)
{
    int64_t od[NR_TENSOR_MAXDIM], os[NR_TENSOR_MAXDIM], nd[NR_TENSOR_MAXDIM];
    int no = 0, nnz = 0, map[NR_TENSOR_MAXDIM];
    for (int i = 0; i < x->nd; i++)
        if (x->d[i] != 1) {
            od[no] = x->d[i];
            os[no++] = x->st[i];
        }
    for (int i = 0; i < nn; i++) {
        st[i] = 1;
        if (t[i] != 1) {
            map[nnz] = i;
            nd[nnz++] = t[i];
        }
    }
    int oi = 0, oj = 1, ni = 0, nj = 1;
    while (ni < nnz && oi < no) {
        int64_t np = nd[ni], op = od[oi];
        while (np != op) {
            if (np < op) {
                if (nj >= nnz)
                    return 0;
                np *= nd[nj++];
            } else {
                if (oj >= no)
                    return 0;
                op *= od[oj++];
            }
        }
        for (int k = oi; k < oj - 1; k++)
            if (os[k] != od[k + 1] * os[k + 1])
                return 0;
        st[map[nj - 1]] = os[oj - 1];
        for (int k = nj - 1; k > ni; k--)
            st[map[k - 1]] = st[map[k]] * nd[k];
        ni = nj++;
        oi = oj++;
    }
    return ni == nnz && oi == no;
}

static int op_reshape(ctx *c, node *n)
{
    val x, r, *s;
    int allowzero;
    int rc = onnx_check_attrs(c, n, "allowzero");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 2);
    if (!rc) rc = onnx_attr_int_in(c, n, "allowzero", 0, 0, 1, &allowzero);
    if (!rc) rc = seq_in(c, n, 0, &x);
    if (!rc) rc = onnx_in_const(c, n, 1, "input shape", 1, &s);
    if (rc)
        return rc;
    if (s->ndim != 1 || s->count < 1 || s->count > NR_TENSOR_MAXDIM)
        return onnx_err(c, NR_EUNSUP, "shape must be a 1-D list of 1 .. %d values", NR_TENSOR_MAXDIM);
    int64_t t[NR_TENSOR_MAXDIM], known = 1, total = onnx_seq_count(x.nd, x.d);
    int infer = -1, nn = (int)s->count;
    for (int k = 0; k < nn; k++) {
        t[k] = s->i[k];
        if (t[k] == 0 && !allowzero) {
            if (k >= x.nd)
                return onnx_err(c, NR_ESHAPE, "shape entry %d is 0 but the input has rank %d", k, x.nd);
            t[k] = x.d[k];
        }
        if (t[k] == -1 && infer < 0)
            infer = k;
        else if (t[k] < 1 || t[k] > MAX_DIM)
            return onnx_err(c, NR_ESHAPE, "shape entry %lld is not supported", (long long)s->i[k]);
        else
            known *= t[k];
    }
    if (infer >= 0)
        t[infer] = total / known;
    if (onnx_seq_count(nn, t) != total) {
        char a[96];
        return onnx_err(c, NR_ESHAPE, "cannot reshape %s (%lld values) to the requested shape",
                        onnx_seq_str(a, sizeof a, &x), (long long)total);
    }
    r = x;
    if (!view_reshape(&x, nn, t, r.st)) {
        if ((rc = onnx_seq_canon(c, n, &x, &r)))
            return rc;
        int64_t sv = 1;
        for (int k = nn - 1; k >= 0; k--) {
            r.st[k] = sv;
            sv *= t[k];
        }
    }
    r.nd = nn;
    memcpy(r.d, t, (size_t)nn * sizeof *t);
    return onnx_seq_def_like(c, n->output[0], r.layer, &r);
}

static int op_slice(ctx *c, node *n)
{
    val x, r;
    int64_t st[8], en[8], ax[8], sp[8];
    int ns, ne, na, nsp;
    int rc = onnx_check_attrs(c, n, "");
    if (!rc && c->opset < 10)
        rc = onnx_err(c, NR_EUNSUP, "Slice of a sequence needs opset >= 10");
    if (!rc) rc = onnx_check_inputs(c, n, 3, 5);
    if (!rc) rc = seq_in(c, n, 0, &x);
    if (!rc) rc = onnx_int_list(c, n, 1, "starts", st, &ns);
    if (!rc) rc = onnx_int_list(c, n, 2, "ends", en, &ne);
    if (!rc) rc = onnx_int_list(c, n, 3, "axes", ax, &na);
    if (!rc) rc = onnx_int_list(c, n, 4, "steps", sp, &nsp);
    if (rc)
        return rc;
    if (ns != ne || (na >= 0 && na != ns) || (nsp >= 0 && nsp != ns))
        return onnx_err(c, NR_ECORRUPT, "starts, ends, axes and steps must have the same length");
    r = x;
    int seen = 0;
    for (int k = 0; k < ns; k++) {
        int a;
        if ((rc = onnx_norm_axis(c, na >= 0 ? ax[k] : k, x.nd, &a)))
            return rc;
        if (seen & (1 << a))
            return onnx_err(c, NR_ECORRUPT, "axis %d is sliced twice", a);
        seen |= 1 << a;
        int64_t s = nsp >= 0 ? sp[k] : 1, dim = x.d[a];
        if (s < 1)
            return onnx_err(c, NR_EUNSUP, "step %lld; only steps >= 1 are supported", (long long)s);
        int64_t b = st[k] < 0 ? st[k] + dim : st[k], e = en[k] < 0 ? en[k] + dim : en[k];
        b = b < 0 ? 0 : b > dim ? dim : b;
        e = e < 0 ? 0 : e > dim ? dim : e;
        if (b >= e)
            return onnx_err(c, NR_ESHAPE, "axis %d: slice [%lld, %lld) of %lld is empty", a,
                            (long long)st[k], (long long)en[k], (long long)dim);
        r.off += b * x.st[a];
        r.d[a] = (e - b + s - 1) / s;
        r.st[a] = x.st[a] * (s > dim ? 1 : s);
    }
    return onnx_seq_def_like(c, n->output[0], x.layer, &r);
}

static int op_shape(ctx *c, node *n)
{
    val x;
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = seq_in(c, n, 0, &x);
    if (rc)
        return rc;
    val r = {.kind = V_CONST, .isint = 1, .ndim = 1, .dims = {x.nd}, .count = (size_t)x.nd};
    if (!(r.i = malloc((size_t)x.nd * sizeof *r.i)))
        return onnx_err(c, NR_ENOMEM, "out of memory");
    memcpy(r.i, x.d, (size_t)x.nd * sizeof *r.i);
    if ((rc = onnx_def_val(c, n->output[0], &r)))
        free(r.i);
    return rc;
}

static int op_identity(ctx *c, node *n)
{
    val x;
    int rc = onnx_check_inputs(c, n, 1, 3);
    if (!rc) rc = onnx_only_first_output(c, n);
    if (!rc) rc = seq_in(c, n, 0, &x);
    if (!rc && !strcmp(n->op_type, "Dropout")) {
        val *t = onnx_opt_in(c, n, 2);
        if (t && (t->kind != V_CONST || t->count != 1 || (t->isint ? t->i[0] : t->f[0]) != 0))
            return onnx_err(c, NR_EUNSUP, "training_mode must be a constant false");
    } else if (!rc && n->n_input != 1)
        return onnx_err(c, NR_ECORRUPT, "Identity has one input");
    return rc ? rc : onnx_seq_def_like(c, n->output[0], x.layer, &x);
}

/* ---------------------------------------------------------------- layers */

int onnx_seq_unary(ctx *c, node *n, const char *op, const val *v, const char *out, int *li)
{
    val x;
    onnx_seq_view(v, &x);
    if (onnx_seq_count(x.nd, x.d) != (int64_t)x.shape[0] * x.shape[1] * x.shape[2]) {
        int rc = onnx_seq_canon(c, n, v, &x); /* a part of its storage: move it first */
        if (rc)
            return rc;
    }
    val *ins[1] = {&x};
    int k = onnx_new_layer(c, n, op, ins, 1);
    if (k < 0)
        return k;
    if (li)
        *li = k;
    return onnx_seq_def_like(c, out, k, &x);
}

/* x made plain, with its features (the storage's F) its last axis. */
static int last_axis(ctx *c, node *n, const val *v, const char *what, val *x)
{
    int rc = onnx_seq_canon(c, n, v, x);
    if (rc)
        return rc;
    if (x->d[x->nd - 1] != x->shape[2]) {
        char a[96];
        return onnx_err(c, NR_EUNSUP, "%s of %s: its last axis is not one numrep's [B, T, F] "
                        "features", what, onnx_seq_str(a, sizeof a, x));
    }
    return 0;
}

/* linear: y = x W^T (+ b) over x's last axis; wt [M, K] taken over. */
static int make_linear(ctx *c, node *n, const val *v, int M, float *wt, float *bias)
{
    val x;
    int rc = last_axis(c, n, v, "a MatMul with a weight", &x);
    if (rc) {
        free(wt);
        free(bias);
        return rc;
    }
    val *ins[1] = {&x};
    int li = onnx_weighted_layer(c, n, "linear", ins, 3, M, (int)x.shape[2], wt, bias);
    if (li < 0)
        return li;
    int sh[3] = {x.shape[0], x.shape[1], M};
    x.d[x.nd - 1] = M;
    return onnx_seq_def(c, n->output[0], li, sh, x.nd, x.d);
}

/* One operand of a matmul: plain [Bt, R, K] (tr 0) or stored [Bt, K, R] (tr 1). */
static int mm_operand(ctx *c, node *n, const val *v, val *x, int *tr)
{
    val t = *v;
    int nd = v->nd, rc;
    *tr = v->st[nd - 1] != 1 && v->st[nd - 2] == 1 && v->d[nd - 1] > 1;
    if (*tr) { /* the view transposed is the stored layout */
        t.d[nd - 1] = v->d[nd - 2];
        t.d[nd - 2] = v->d[nd - 1];
        t.st[nd - 1] = v->st[nd - 2];
        t.st[nd - 2] = v->st[nd - 1];
    }
    if ((rc = onnx_seq_canon(c, n, &t, x)))
        return rc;
    if (x->shape[1] != x->d[nd - 2] || x->shape[2] != x->d[nd - 1]) {
        char a[96];
        return onnx_err(c, NR_EUNSUP, "MatMul operand %s is not stored as numrep's [B, rows, "
                        "columns]", onnx_seq_str(a, sizeof a, v));
    }
    return 0;
}

static int matmul_acts(ctx *c, node *n, const val *a, const val *b)
{
    char s1[96], s2[96];
    if (a->nd < 2 || b->nd < 2 || a->nd != b->nd)
        return onnx_err(c, NR_EUNSUP, "MatMul of %s and %s: numrep multiplies activations of equal "
                        "rank >= 2", onnx_seq_str(s1, sizeof s1, a), onnx_seq_str(s2, sizeof s2, b));
    int nd = a->nd;
    if (a->d[nd - 1] != b->d[nd - 2])
        return onnx_err(c, NR_ESHAPE, "MatMul of %s and %s: inner dimensions differ",
                        onnx_seq_str(s1, sizeof s1, a), onnx_seq_str(s2, sizeof s2, b));
    int64_t od[NR_TENSOR_MAXDIM], Ba = onnx_seq_count(nd - 2, a->d), Bb = onnx_seq_count(nd - 2, b->d);
    for (int i = 0; i < nd - 2; i++) {
        if (a->d[i] != b->d[i] && (Ba != 1 && Bb != 1))
            return onnx_err(c, NR_EUNSUP, "MatMul batch dimensions of %s and %s differ",
                            onnx_seq_str(s1, sizeof s1, a), onnx_seq_str(s2, sizeof s2, b));
        od[i] = a->d[i] > b->d[i] ? a->d[i] : b->d[i];
    }
    val x, y;
    int ta, tb;
    int rc = mm_operand(c, n, a, &x, &ta);
    if (!rc) rc = mm_operand(c, n, b, &y, &tb);
    if (rc)
        return rc;
    if (x.shape[0] != Ba || y.shape[0] != Bb)
        return onnx_err(c, NR_EUNSUP, "MatMul operands %s and %s: their batch is not numrep's B",
                        onnx_seq_str(s1, sizeof s1, a), onnx_seq_str(s2, sizeof s2, b));
    val *ins[2] = {&x, &y};
    int li = onnx_new_layer(c, n, "matmul", ins, 2);
    if (li < 0)
        return li;
    layer *l = &c->L[li];
    if ((ta && (rc = onnx_lfield(c, l, ", transpose_a: true"))) ||
        (tb && (rc = onnx_lfield(c, l, ", transpose_b: true"))))
        return rc;
    od[nd - 2] = a->d[nd - 2];
    od[nd - 1] = b->d[nd - 1];
    int sh[3] = {(int)(Ba > Bb ? Ba : Bb), (int)od[nd - 2], (int)od[nd - 1]};
    return onnx_seq_def(c, n->output[0], li, sh, nd, od);
}

static int op_matmul(ctx *c, node *n)
{
    val a, *B;
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 2);
    if (!rc) rc = seq_in(c, n, 0, &a);
    if (!rc) rc = onnx_get_in(c, n, 1, &B);
    if (rc)
        return rc;
    if (B->kind == V_ACT) {
        val b;
        onnx_seq_view(B, &b);
        return matmul_acts(c, n, &a, &b);
    }
    if ((rc = onnx_need_const(c, B, "input B", 0)))
        return rc;
    char d[96];
    int64_t K = a.d[a.nd - 1];
    if (B->ndim != 2 || B->dims[0] != K || B->dims[1] < 1)
        return onnx_err(c, NR_ESHAPE, "input B has shape %s, expected [%lld, M]",
                        onnx_dims_str(d, sizeof d, B->dims, B->ndim), (long long)K);
    float *wt;
    if ((rc = onnx_dense_weight(c, B, 0, 1, (int)K, (int)B->dims[1], &wt)))
        return rc;
    return make_linear(c, n, &a, (int)B->dims[1], wt, NULL);
}

static int op_gemm(ctx *c, node *n)
{
    val a, *B, *C;
    double alpha, beta;
    int ta, tb;
    int rc = onnx_check_attrs(c, n, "alpha beta transA transB");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 3);
    if (!rc) rc = onnx_attr_float(c, n, "alpha", 1, &alpha);
    if (!rc) rc = onnx_attr_float(c, n, "beta", 1, &beta);
    if (!rc) rc = onnx_attr_int_in(c, n, "transA", 0, 0, 0, &ta);
    if (!rc) rc = onnx_attr_int_in(c, n, "transB", 0, 0, 1, &tb);
    if (!rc) rc = seq_in(c, n, 0, &a);
    if (!rc) rc = onnx_in_const(c, n, 1, "input B", 0, &B);
    if (rc)
        return rc;
    if (alpha != 1 || beta != 1)
        return onnx_err(c, NR_EUNSUP, "Gemm on a sequence with alpha %g, beta %g (expected 1)",
                        alpha, beta);
    char d[96];
    int64_t K = a.d[a.nd - 1];
    if (a.nd != 2 || B->ndim != 2 || B->dims[tb ? 1 : 0] != K || B->dims[tb ? 0 : 1] < 1)
        return onnx_err(c, NR_ESHAPE, "input B has shape %s, expected %s over %lld features",
                        onnx_dims_str(d, sizeof d, B->dims, B->ndim), tb ? "[M, K]" : "[K, M]",
                        (long long)K);
    int M = (int)B->dims[tb ? 0 : 1];
    float *bias = NULL, *wt;
    if ((C = onnx_opt_in(c, n, 2))) {
        if ((rc = onnx_need_const(c, C, "input C", 0)))
            return rc;
        if (C->count != (size_t)M || C->dims[C->ndim ? C->ndim - 1 : 0] != M)
            return onnx_err(c, NR_EUNSUP, "input C has shape %s, expected [%d]",
                            onnx_dims_str(d, sizeof d, C->dims, C->ndim), M);
        if ((rc = onnx_to_f32(c, C, 1, "input C", &bias)))
            return rc;
    }
    if ((rc = onnx_dense_weight(c, B, tb, 1, (int)K, M, &wt))) {
        free(bias);
        return rc;
    }
    return make_linear(c, n, &a, M, wt, bias);
}

/* ---------------------------------------------------------------- elementwise */

/* The constant k broadcast (NumPy rules) over the plain view x, in x's
 * storage order: malloc'ed float32, or an error. */
static int broadcast(ctx *c, const val *k, const val *x, float **out)
{
    char a[96], b[96];
    if (k->ndim > x->nd)
        goto bad;
    for (int i = 0; i < k->ndim; i++) {
        int64_t kd = k->dims[k->ndim - 1 - i], xd = x->d[x->nd - 1 - i];
        if (kd != 1 && kd != xd)
            goto bad;
    }
    int64_t total = onnx_seq_count(x->nd, x->d), idx[NR_TENSOR_MAXDIM];
    float *f = malloc((size_t)total * sizeof *f + 1);
    if (!f)
        return onnx_err(c, NR_ENOMEM, "out of memory");
    for (int64_t e = 0; e < total; e++) {
        int64_t r = e, ki = 0, ks = 1;
        for (int i = x->nd - 1; i >= 0; i--) {
            idx[i] = r % x->d[i];
            r /= x->d[i];
        }
        for (int i = 0; i < k->ndim; i++) {
            int64_t kd = k->dims[k->ndim - 1 - i];
            ki += (kd == 1 ? 0 : idx[x->nd - 1 - i]) * ks;
            ks *= kd;
        }
        double v = k->f[ki];
        f[e] = (float)v;
        if (isfinite(v) && !isfinite(f[e])) {
            free(f);
            return onnx_err(c, NR_ERANGE, "constant %g does not fit float32", v);
        }
    }
    *out = f;
    return 0;
bad:
    return onnx_err(c, NR_ESHAPE, "constant of shape %s does not broadcast to %s",
                    onnx_dims_str(a, sizeof a, k->dims, k->ndim), onnx_seq_str(b, sizeof b, x));
}

static int add_const(ctx *c, node *n, val *xv, const val *k)
{
    if (k->isint)
        return onnx_err(c, NR_EUNSUP, "adding an integer constant to an activation");
    /* the bias of a linear that has none and whose output only this reads */
    layer *l = xv->layer >= 0 ? &c->L[xv->layer] : NULL;
    int64_t F = xv->seq ? xv->d[xv->nd - 1] : 0;
    int vec = k->count == (size_t)F && k->ndim >= 1 && k->dims[k->ndim - 1] == F;
    if (l && l->mac == 3 && !l->has_bias && l->out_val == (int)(xv - c->v) && xv->uses == 1 && vec) {
        int rc = onnx_add_vec(c, l, "bias", k, 1);
        if (rc)
            return rc;
        l->has_bias = 1;
        return onnx_alias(c, n->output[0], xv);
    }
    val x;
    int rc = onnx_seq_canon(c, n, xv, &x);
    float *f = NULL;
    if (!rc) rc = broadcast(c, k, &x, &f);
    if (rc)
        return rc;
    int li;
    if ((rc = onnx_seq_unary(c, n, "add_const", &x, n->output[0], &li))) {
        free(f);
        return rc;
    }
    int64_t sh[3] = {x.shape[0], x.shape[1], x.shape[2]};
    return onnx_add_tensor(c, &c->L[li], "weight", 3, sh, f);
}

static int two_acts(ctx *c, node *n, const char *op, const val *av, const val *bv)
{
    val a, b;
    int rc = onnx_seq_canon(c, n, av, &a);
    if (!rc) rc = onnx_seq_canon(c, n, bv, &b);
    if (rc)
        return rc;
    char s1[96], s2[96];
    int ok = a.nd == b.nd && !memcmp(a.d, b.d, (size_t)a.nd * sizeof *a.d) &&
             !memcmp(a.shape, b.shape, sizeof a.shape);
    if (!ok)
        return onnx_err(c, NR_EUNSUP, "%s of %s and %s: numrep's %s needs equal shapes "
                        "(no broadcasting)", n->op_type, onnx_seq_str(s1, sizeof s1, &a),
                        onnx_seq_str(s2, sizeof s2, &b), op);
    val *ins[2] = {&a, &b};
    int li = onnx_new_layer(c, n, op, ins, 2);
    return li < 0 ? li : onnx_seq_def(c, n->output[0], li, a.shape, a.nd, a.d);
}

static int op_add(ctx *c, node *n)
{
    val *a, *b;
    int rc = onnx_two_inputs(c, n, &a, &b);
    if (rc)
        return rc;
    if (a->kind == V_ACT && b->kind == V_ACT)
        return two_acts(c, n, "add", a, b);
    return a->kind == V_ACT ? add_const(c, n, a, b) : add_const(c, n, b, a);
}

/* Mul or Div by a scalar constant k: scale by k (Mul) or 1/k (Div, only
 * when 1/k is exact: k a power of two), one rounding as the node's. */
static int scale_by(ctx *c, node *n, const val *x, const val *k, int div)
{
    double v = k->isint ? (double)k->i[0] : k->f[0];
    int e;
    if (div && !(isfinite(v) && v != 0 && fabs(frexp(v, &e)) == 0.5))
        return onnx_err(c, NR_EUNSUP, "division by %.9g: numrep's scale multiplies, and x / %.9g "
                        "equals x * (1 / %.9g) for every x only when it is a power of two", v, v, v);
    if (!isfinite(v))
        return onnx_err(c, NR_ERANGE, "scale by %g", v);
    int li, rc = onnx_seq_unary(c, n, "scale", x, n->output[0], &li);
    return rc ? rc : onnx_lfield(c, &c->L[li], ", by: %.17g", div ? 1 / v : v);
}

static int op_muldiv(ctx *c, node *n)
{
    val *a, *b;
    int div = n->op_type[0] == 'D';
    int rc = onnx_two_inputs(c, n, &a, &b);
    if (rc)
        return rc;
    if (a->kind == V_ACT && b->kind == V_ACT) {
        if (div)
            return onnx_err(c, NR_EUNSUP, "Div of two activations is supported only inside a "
                            "recognised LayerNorm/RMSNorm pattern");
        return two_acts(c, n, "mul", a, b);
    }
    const val *x = a->kind == V_ACT ? a : b, *k = a->kind == V_ACT ? b : a;
    if (div && x != a)
        return onnx_err(c, NR_EUNSUP, "dividing a constant by an activation");
    if (k->count != 1)
        return onnx_err(c, NR_EUNSUP, "%s by a constant of %zu values: only a scalar (scale) or "
                        "a recognised LayerNorm/RMSNorm weight", n->op_type, k->count);
    return scale_by(c, n, x, k, div);
}

/* ---------------------------------------------------------------- rows */

/* The node's axis attribute must name the last axis of rank nd. */
static int need_last(ctx *c, int64_t axis, int nd)
{
    int ax, rc = onnx_norm_axis(c, axis, nd, &ax);
    if (!rc && ax != nd - 1)
        rc = onnx_err(c, NR_EUNSUP, "along axis %lld of rank %d; only the last axis is supported",
                      (long long)axis, nd);
    return rc;
}

static int op_softmax(ctx *c, node *n)
{
    val v, x;
    int64_t axis;
    int rc = onnx_check_attrs(c, n, "axis");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = seq_in(c, n, 0, &v);
    if (!rc) rc = onnx_attr_int(c, n, "axis", c->opset < 13 ? 1 : -1, &axis);
    if (rc)
        return rc;
    if ((rc = need_last(c, axis, v.nd)))
        return rc;
    if ((rc = last_axis(c, n, &v, "Softmax", &x)))
        return rc;
    int li;
    rc = onnx_seq_unary(c, n, "softmax_axis", &x, n->output[0], &li);
    return rc ? rc : onnx_lfield(c, &c->L[li], ", axis: 2");
}

/* A per-feature vector of F values from constant k (NULL: fill). */
static int feature_vec(ctx *c, const val *k, int64_t F, double fill, const char *what, float **out)
{
    char d[96];
    if (k && (k->kind != V_CONST || k->isint || k->count != (size_t)F))
        return k->kind != V_CONST || k->isint
                   ? onnx_need_const(c, k, what, 0)
                   : onnx_err(c, NR_ESHAPE, "%s has shape %s, expected [%lld]", what,
                              onnx_dims_str(d, sizeof d, k->dims, k->ndim), (long long)F);
    if (k)
        return onnx_to_f32(c, k, 1, what, out);
    float *f = malloc((size_t)F * sizeof *f);
    if (!f)
        return onnx_err(c, NR_ENOMEM, "out of memory");
    for (int64_t i = 0; i < F; i++)
        f[i] = (float)fill;
    *out = f;
    return 0;
}

int onnx_seq_norm(ctx *c, node *n, const val *v, const char *op, const val *g, const val *b,
                  double eps, const char *out)
{
    val x;
    float *gf = NULL, *bf = NULL;
    int rc = last_axis(c, n, v, op, &x), li;
    int64_t F = x.d[x.nd - 1];
    char e[40];
    if (!(eps > 0) || !isfinite(eps))
        return rc ? rc : onnx_err(c, NR_ERANGE, "epsilon %g, expected > 0", eps);
    if (!rc) rc = feature_vec(c, g, F, 1, "scale", &gf);
    if (!rc && strcmp(op, "rmsnorm")) rc = feature_vec(c, b, F, 0, "bias", &bf);
    if (!rc) rc = onnx_seq_unary(c, n, op, &x, out, &li);
    onnx_fmt_f32(e, sizeof e, eps);
    if (!rc) rc = onnx_lfield(c, &c->L[li], ", eps: %s", e);
    if (!rc) {
        rc = onnx_add_tensor(c, &c->L[li], "weight", 1, &F, gf);
        gf = NULL;
    }
    if (!rc && bf) {
        rc = onnx_add_tensor(c, &c->L[li], "bias", 1, &F, bf);
        bf = NULL;
    }
    free(gf);
    free(bf);
    return rc;
}

static int op_layernorm(ctx *c, node *n)
{
    val v;
    int64_t axis, stash;
    double eps;
    int rc = onnx_check_attrs(c, n, "axis epsilon stash_type");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 3);
    if (!rc) rc = onnx_only_first_output(c, n);
    if (!rc) rc = seq_in(c, n, 0, &v);
    if (!rc) rc = onnx_attr_int(c, n, "axis", -1, &axis);
    if (!rc) rc = onnx_attr_int(c, n, "stash_type", 1, &stash);
    if (!rc) rc = onnx_attr_float(c, n, "epsilon", 1e-5, &eps);
    if (rc)
        return rc;
    if ((rc = need_last(c, axis, v.nd)))
        return rc;
    return onnx_seq_norm(c, n, &v, "layernorm", onnx_opt_in(c, n, 1), onnx_opt_in(c, n, 2), eps,
                         n->output[0]);
}

static int op_relu(ctx *c, node *n)
{
    val *x;
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_get_in(c, n, 0, &x);
    return rc ? rc : onnx_seq_unary(c, n, "relu", x, n->output[0], NULL);
}

/* The [T, half] first half of a rotary table k broadcast as [.., T, 2 half]. */
static int rope_table(ctx *c, const val *k, int64_t T, int64_t half, const char *what, float **out)
{
    char a[96];
    int ok = k && k->kind == V_CONST && !k->isint && k->ndim >= 2 && k->dims[k->ndim - 2] == T &&
             k->dims[k->ndim - 1] == 2 * half && k->count == (size_t)(T * 2 * half);
    if (!ok)
        return k && k->kind == V_CONST && !k->isint
                   ? onnx_err(c, NR_ESHAPE, "rotary %s table has shape %s, expected [%lld, %lld]",
                              what, onnx_dims_str(a, sizeof a, k->dims, k->ndim), (long long)T,
                              (long long)(2 * half))
                   : onnx_err(c, NR_EUNSUP, "rotary %s table is not a float constant", what);
    float *f = malloc((size_t)(T * half) * sizeof *f);
    if (!f)
        return onnx_err(c, NR_ENOMEM, "out of memory");
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            double lo = k->f[t * 2 * half + i], hi = k->f[t * 2 * half + half + i];
            if (lo != hi || (float)lo != lo) {
                free(f);
                return onnx_err(c, NR_EUNSUP, "rotary %s table: position %lld, feature %lld: "
                                "the halves differ (%g, %g) or are not float32; numrep's rope "
                                "pairs features i and i + d/2 with one angle", what, (long long)t,
                                (long long)i, lo, hi);
            }
            f[t * half + i] = (float)lo;
        }
    *out = f;
    return 0;
}

int onnx_seq_rope(ctx *c, node *n, const val *v, const val *cos, const val *sin, int64_t half,
                  int64_t end, const char *out)
{
    val x;
    float *cf = NULL, *sf = NULL;
    int rc = last_axis(c, n, v, "a rotary embedding", &x), li;
    if (rc)
        return rc;
    int64_t T = x.shape[1], d = x.shape[2];
    if (d != 2 * half || end < d || x.d[x.nd - 2] != T)
        return onnx_err(c, NR_EUNSUP, "a rotary pattern splitting %lld features at %lld (numrep's "
                        "rope splits [.., T, d] at d/2)", (long long)d, (long long)half);
    if (!(rc = rope_table(c, cos, T, half, "cos", &cf)) && !(rc = rope_table(c, sin, T, half, "sin", &sf)))
        rc = onnx_seq_unary(c, n, "rope", &x, out, &li);
    int64_t sh[2] = {T, half};
    if (!rc) {
        rc = onnx_add_tensor(c, &c->L[li], "cos", 2, sh, cf);
        cf = NULL;
    }
    if (!rc) {
        rc = onnx_add_tensor(c, &c->L[li], "sin", 2, sh, sf);
        sf = NULL;
    }
    free(cf);
    free(sf);
    return rc;
}

int onnx_seq_causal(ctx *c, node *n, const val *v, const val *mask, const char *out)
{
    val x;
    int rc = last_axis(c, n, v, "a causal softmax", &x);
    if (rc)
        return rc;
    int64_t T = x.shape[2];
    if (x.shape[1] != T || x.d[x.nd - 2] != T)
        return onnx_err(c, NR_EUNSUP, "a causal mask on scores that are not [.., T, T]");
    if (mask->kind != V_CONST || !mask->isint || mask->count != (size_t)(T * T) || mask->ndim < 2 ||
        mask->dims[mask->ndim - 1] != T)
        return onnx_err(c, NR_EUNSUP, "the Where condition is not a constant [%lld, %lld] boolean "
                        "mask", (long long)T, (long long)T);
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < T; j++)
            if ((mask->i[t * T + j] != 0) != (j > t))
                return onnx_err(c, NR_EUNSUP, "the mask is not causal at [%lld, %lld] (numrep's "
                                "causal_softmax masks exactly the keys j > t)", (long long)t,
                                (long long)j);
    return onnx_seq_unary(c, n, "causal_softmax", &x, out, NULL);
}

/* Split of the last axis into views. */
static int op_split(ctx *c, node *n)
{
    val x;
    int64_t axis, sz[8];
    int ns = -1;
    int rc = onnx_check_attrs(c, n, "axis split num_outputs");
    if (!rc) rc = seq_in(c, n, 0, &x);
    if (!rc) rc = onnx_attr_int(c, n, "axis", 0, &axis);
    if (!rc && c->opset < 13) rc = onnx_attr_ints(c, n, "split", sz, 8, &ns);
    if (!rc && c->opset >= 13) rc = onnx_int_list(c, n, 1, "split", sz, &ns);
    if (rc)
        return rc;
    int ax;
    if ((rc = onnx_norm_axis(c, axis, x.nd, &ax)))
        return rc;
    if (n->n_output < 1 || n->n_output > 8)
        return onnx_err(c, NR_EUNSUP, "Split into %zu outputs (1 .. 8 supported)", n->n_output);
    int k = (int)n->n_output;
    if (ns < 0) { /* equal parts */
        if (x.d[ax] % k)
            return onnx_err(c, NR_EUNSUP, "Split of %lld into %d unequal parts", (long long)x.d[ax], k);
        for (int i = 0; i < k; i++)
            sz[i] = x.d[ax] / k;
    } else if (ns != k)
        return onnx_err(c, NR_ESHAPE, "split has %d sizes for %d outputs", ns, k);
    int64_t off = 0;
    for (int i = 0; i < k; i++) {
        if (sz[i] < 1 || off + sz[i] > x.d[ax])
            return onnx_err(c, NR_ESHAPE, "split sizes do not fit axis %d (%lld)", ax, (long long)x.d[ax]);
        off += sz[i];
    }
    if (off != x.d[ax])
        return onnx_err(c, NR_ESHAPE, "split sizes sum to %lld, axis %d has %lld", (long long)off, ax,
                        (long long)x.d[ax]);
    off = 0;
    for (int i = 0; i < k; i++) {
        val r = x;
        r.off = x.off + off * x.st[ax];
        r.d[ax] = sz[i];
        off += sz[i];
        if (!n->output[i][0])
            continue;
        if ((rc = onnx_seq_def_like(c, n->output[i], x.layer, &r)))
            return rc;
    }
    return 0;
}

/* Concat of one activation with constants along its token axis (a class
 * token): pad (zeros) then add_const of the constants in the new rows. */
static int op_concat(ctx *c, node *n)
{
    int64_t axis;
    int rc = onnx_check_attrs(c, n, "axis");
    if (!rc) rc = onnx_attr_int(c, n, "axis", 0, &axis);
    if (rc)
        return rc;
    int act = -1;
    val *in[8];
    if (n->n_input < 2 || n->n_input > 8)
        return onnx_err(c, NR_EUNSUP, "Concat of %zu inputs on a sequence (2 .. 8 supported)",
                        n->n_input);
    for (size_t i = 0; i < n->n_input; i++) {
        if ((rc = onnx_get_in(c, n, i, &in[i])))
            return rc;
        if (in[i]->kind == V_ACT) {
            if (act >= 0)
                return onnx_err(c, NR_EUNSUP, "Concat of two activations along a sequence axis "
                                "is not supported");
            act = (int)i;
        } else if (in[i]->isint)
            return onnx_err(c, NR_EUNSUP, "Concat of an integer constant with an activation");
    }
    val x;
    int ax;
    if ((rc = onnx_seq_canon(c, n, in[act], &x)) || (rc = onnx_norm_axis(c, axis, x.nd, &ax)))
        return rc;
    char a[96];
    if (x.shape[0] != 1 || x.shape[0] != onnx_seq_count(ax, x.d) || x.shape[1] != x.d[ax])
        return onnx_err(c, NR_EUNSUP, "Concat along axis %d of %s: only along the tokens T of "
                        "[1, T, F]", ax, onnx_seq_str(a, sizeof a, &x));
    int64_t before = 0, after = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        if ((int)i == act)
            continue;
        const val *k = in[i];
        int ok = k->ndim == x.nd;
        for (int j = 0; ok && j < x.nd; j++)
            ok = j == ax || k->dims[j] == x.d[j];
        char b[96];
        if (!ok)
            return onnx_err(c, NR_ESHAPE, "constant %s does not concatenate with %s on axis %d",
                            onnx_dims_str(a, sizeof a, k->dims, k->ndim), onnx_seq_str(b, sizeof b, &x), ax);
        *((int)i < act ? &before : &after) += k->dims[ax];
    }
    if (x.d[ax] + before + after > MAX_DIM)
        return onnx_err(c, NR_ESHAPE, "too many tokens");
    val *ins[1] = {&x};
    int li = onnx_new_layer(c, n, "pad", ins, 1);
    if (li < 0)
        return li;
    if ((rc = onnx_lfield(c, &c->L[li], ", h: [%d, %d]", (int)before, (int)after)))
        return rc;
    int T = (int)(x.d[ax] + before + after), F = x.shape[2];
    float *w = calloc((size_t)T * (size_t)F, sizeof *w);
    if (!w)
        return onnx_err(c, NR_ENOMEM, "out of memory");
    int64_t row = 0; /* rows of the output: each constant's, in order */
    for (size_t i = 0; i < n->n_input; i++) {
        int64_t rows = (int)i == act ? x.d[ax] : in[i]->dims[ax];
        for (int64_t r = 0; (int)i != act && r < rows; r++)
            for (int f = 0; f < F; f++) {
                w[(row + r) * F + f] = (float)in[i]->f[r * F + f];
                if (isfinite(in[i]->f[r * F + f]) && !isfinite(w[(row + r) * F + f])) {
                    free(w);
                    return onnx_err(c, NR_ERANGE, "constant does not fit float32");
                }
            }
        row += rows;
    }
    val p = x; /* the padded tensor, plain */
    p.layer = li;
    p.shape[1] = T;
    p.d[ax] = T;
    for (int j = x.nd - 1, s = 1; j >= 0; s *= (int)p.d[j--])
        p.st[j] = s;
    int lk;
    if ((rc = onnx_seq_unary(c, n, "add_const", &p, n->output[0], &lk))) {
        free(w);
        return rc;
    }
    int64_t ws[3] = {1, T, F};
    return onnx_add_tensor(c, &c->L[lk], "weight", 3, ws, w);
}

/* ---------------------------------------------------------------- dispatch */

static const struct {
    const char *op_type;
    int (*fn)(ctx *c, node *n);
} seq_table[] = {
    {"Transpose", op_transpose}, {"Reshape", op_reshape}, {"Slice", op_slice},
    {"Shape", op_shape},         {"Identity", op_identity}, {"Dropout", op_identity},
    {"MatMul", op_matmul},       {"Gemm", op_gemm},         {"Add", op_add},
    {"Mul", op_muldiv},          {"Div", op_muldiv},        {"Softmax", op_softmax},
    {"LayerNormalization", op_layernorm}, {"Relu", op_relu}, {"Concat", op_concat},
    {"Split", op_split},
};

int onnx_seq_convert(ctx *c, node *n)
{
    int done, rc = onnx_seq_ids_convert(c, n, &done);
    if (done)
        return rc;
    for (size_t k = 0; k < sizeof seq_table / sizeof *seq_table; k++)
        if (!strcmp(seq_table[k].op_type, n->op_type))
            return seq_table[k].fn(c, n);
    char op[64];
    onnx_printable(op, sizeof op, n->op_type);
    return onnx_err(c, NR_EUNSUP, "operator %s on a sequence activation is not supported (only "
                    "inside a recognised pattern, or not at all)", op);
}
