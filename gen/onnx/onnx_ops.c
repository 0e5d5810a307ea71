/* onnx_ops.c -- one converter per ONNX operator that computes on
 * activations, each checking its node and adding spec layers (the mapping
 * is listed at the top of onnx_import.c), and the table from op_type to
 * converter that the graph walk dispatches through. */
#include "onnx_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- layers */

static int op_conv(ctx *c, node *n)
{
    val *x, *w, *b;
    int rc = onnx_check_attrs(c, n, "auto_pad kernel_shape strides pads dilations group");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 3);
    if (!rc) rc = onnx_in_act(c, n, 0, "input X", 4, &x);
    if (!rc) rc = onnx_in_const(c, n, 1, "weight W", 0, &w);
    if (rc)
        return rc;
    b = onnx_opt_in(c, n, 2);
    char d[96];
    if (w->ndim != 4)
        return onnx_err(c, NR_EUNSUP, "weight W has shape %s; only 2-D convolutions (4-D weights) "
                        "are supported", onnx_dims_str(d, sizeof d, w->dims, w->ndim));
    int g, C = x->shape[0], M = (int)w->dims[0];
    if ((rc = onnx_attr_int_in(c, n, "group", 1, 1, 1 << 20, &g)))
        return rc;
    if (M < 1 || C % g || M % g || w->dims[1] != C / g)
        return onnx_err(c, NR_ESHAPE, "weight W has shape %s, expected [M, %d, kh, kw] with M a "
                        "multiple of group %d (input has %d channels)",
                    onnx_dims_str(d, sizeof d, w->dims, 4), g ? C / g : 0, g, C);
    win wi = {.k = {(int)w->dims[2], (int)w->dims[3]}};
    int64_t ks[8];
    int cnt;
    if ((rc = onnx_attr_ints(c, n, "kernel_shape", ks, 8, &cnt)))
        return rc;
    if (cnt >= 0 && (cnt != 2 || ks[0] != wi.k[0] || ks[1] != wi.k[1]))
        return onnx_err(c, NR_ESHAPE, "kernel_shape disagrees with weight W %s",
                        onnx_dims_str(d, sizeof d, w->dims, 4));
    if (wi.k[0] < 1 || wi.k[1] < 1)
        return onnx_err(c, NR_ESHAPE, "empty kernel %s", onnx_dims_str(d, sizeof d, w->dims, 4));
    if (b && (rc = onnx_check_vec(c, b, M, "bias B")))
        return rc;
    if ((rc = onnx_window(c, n, x, 0, 0, &wi)))
        return rc;
    int li = onnx_new_layer(c, n, "conv", &x, 1);
    if (li < 0)
        return li;
    layer *l = &c->L[li];
    l->mac = 1;
    l->out = M;
    if ((rc = onnx_lfield(c, l, ", out: %d", M)) || (rc = onnx_write_window(c, l, &wi, 0, 1)))
        return rc;
    if (g != 1 && (rc = onnx_lfield(c, l, ", groups: %d", g)))
        return rc;
    float *wd;
    if ((rc = onnx_to_f32(c, w, 1, "weight W", &wd)) ||
        (rc = onnx_add_tensor(c, l, "weight", 4, w->dims, wd)))
        return rc;
    if (b) {
        if ((rc = onnx_add_vec(c, &c->L[li], "bias", b, 1)))
            return rc;
        c->L[li].has_bias = 1;
    }
    return onnx_def_act(c, n->output[0], li, 4, M, wi.out[0], wi.out[1]);
}

/* A layer op (mac kind mac) reading ins with M outputs, weight wt [M, K] and
 * bias (or NULL), both taken over (onnx_internal.h) */
int onnx_weighted_layer(ctx *c, node *n, const char *op, val *const *ins, int mac, int M, int K,
                        float *wt, float *bias)
{
    int li = onnx_new_layer(c, n, op, ins, 1);
    int rc = li < 0 ? li : onnx_lfield(c, &c->L[li], ", out: %d", M);
    if (rc) {
        free(wt);
        free(bias);
        return rc;
    }
    c->L[li].mac = mac;
    c->L[li].out = M;
    int64_t ws[2] = {M, K}, bs = M;
    if ((rc = onnx_add_tensor(c, &c->L[li], "weight", 2, ws, wt))) {
        free(bias);
        return rc;
    }
    if (bias) {
        if ((rc = onnx_add_tensor(c, &c->L[li], "bias", 1, &bs, bias)))
            return rc;
        c->L[li].has_bias = 1;
    }
    return li;
}

/* dense from a [M, K] row-major weight (already transposed), bias or NULL */
static int make_dense(ctx *c, node *n, val *x, int M, float *wt, float *bias)
{
    int li = onnx_weighted_layer(c, n, "dense", &x, 2, M, (int)x->shape[0], wt, bias);
    return li < 0 ? li : onnx_def_act(c, n->output[0], li, 2, M, 1, 1);
}

/* W[m][k] = alpha * B[k][m] (or B[m][k] when transB) (onnx_internal.h) */
int onnx_dense_weight(ctx *c, const val *B, int transB, double alpha, int K, int M, float **out)
{
    float *wt = malloc((size_t)M * K * sizeof *wt + 1);
    if (!wt)
        return onnx_err(c, NR_ENOMEM, "out of memory");
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            double v = alpha * (transB ? B->f[(size_t)m * K + k] : B->f[(size_t)k * M + m]);
            wt[(size_t)m * K + k] = (float)v;
            if (isfinite(v) && !isfinite(wt[(size_t)m * K + k])) {
                free(wt);
                return onnx_err(c, NR_ERANGE, "weight value %g does not fit float32", v);
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
    int rc = onnx_check_attrs(c, n, "alpha beta transA transB broadcast");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 3);
    if (!rc) rc = onnx_attr_float(c, n, "alpha", 1, &alpha);
    if (!rc) rc = onnx_attr_float(c, n, "beta", 1, &beta);
    if (!rc) rc = onnx_attr_int_in(c, n, "transA", 0, 0, 0, &ta);
    if (!rc) rc = onnx_attr_int_in(c, n, "transB", 0, 0, 1, &tb);
    if (!rc) rc = onnx_in_act(c, n, 0, "input A", 2, &a);
    if (!rc) rc = onnx_in_const(c, n, 1, "input B", 0, &B);
    if (rc)
        return rc;
    C = onnx_opt_in(c, n, 2);
    char d[96];
    int K = a->shape[0];
    if (B->ndim != 2 || B->dims[tb ? 1 : 0] != K || B->dims[tb ? 0 : 1] < 1)
        return onnx_err(c, NR_ESHAPE, "input B has shape %s, expected %s (A has %d features)",
                        onnx_dims_str(d, sizeof d, B->dims, B->ndim), tb ? "[M, K]" : "[K, M]", K);
    int M = (int)B->dims[tb ? 0 : 1];
    float *bias = NULL, *wt;
    if (C) {
        if ((rc = onnx_need_const(c, C, "input C", 0)))
            return rc;
        int vec = C->count == (size_t)M &&
                  (C->ndim == 1 || (C->ndim == 2 && C->dims[0] == 1));
        if (C->count != 1 && !vec)
            return onnx_err(c, NR_EUNSUP, "input C has shape %s, expected [%d], [1, %d] or a scalar",
                            onnx_dims_str(d, sizeof d, C->dims, C->ndim), M, M);
        if (!(bias = malloc((size_t)M * sizeof *bias)))
            return onnx_err(c, NR_ENOMEM, "out of memory");
        for (int m = 0; m < M; m++)
            bias[m] = (float)(beta * C->f[vec ? m : 0]);
    }
    if ((rc = onnx_dense_weight(c, B, tb, alpha, K, M, &wt))) {
        free(bias);
        return rc;
    }
    return make_dense(c, n, a, M, wt, bias);
}

static int op_matmul(ctx *c, node *n)
{
    val *a, *B;
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 2);
    if (!rc) rc = onnx_in_act(c, n, 0, "input A", 2, &a);
    if (!rc) rc = onnx_in_const(c, n, 1, "input B", 0, &B);
    if (rc)
        return rc;
    char d[96];
    if (B->ndim != 2 || B->dims[0] != a->shape[0] || B->dims[1] < 1)
        return onnx_err(c, NR_ESHAPE, "input B has shape %s, expected [%d, M]",
                        onnx_dims_str(d, sizeof d, B->dims, B->ndim), a->shape[0]);
    float *wt;
    if ((rc = onnx_dense_weight(c, B, 0, 1, a->shape[0], (int)B->dims[1], &wt)))
        return rc;
    return make_dense(c, n, a, (int)B->dims[1], wt, NULL);
}

static int op_add(ctx *c, node *n)
{
    val *a, *b;
    int rc = onnx_two_inputs(c, n, &a, &b);
    if (rc)
        return rc;
    char s1[64], s2[64];
    if (a->kind == V_ACT && b->kind == V_ACT) {
        if (a->rank != b->rank || memcmp(a->shape, b->shape, sizeof a->shape))
            return onnx_err(c, NR_ESHAPE, "cannot add %s and %s (numrep's add needs equal shapes; "
                            "no broadcasting)", onnx_act_str(s1, sizeof s1, a),
                            onnx_act_str(s2, sizeof s2, b));
        val *ins[2] = {a, b};
        int li = onnx_new_layer(c, n, "add", ins, 2);
        return li < 0 ? li : onnx_def_act(c, n->output[0], li, a->rank, a->shape[0], a->shape[1],
                                          a->shape[2]);
    }
    val *x = a->kind == V_ACT ? a : b, *k = a->kind == V_ACT ? b : a;
    if (x->kind != V_ACT)
        return onnx_const_arith(c, n, a, b);
    /* bias of the layer that produced x, when that layer has none and
     * nothing else reads it */
    layer *l = x->layer >= 0 ? &c->L[x->layer] : NULL;
    if (!l || !l->mac || l->has_bias || l->out_val != (int)(x - c->v) || x->uses != 1 || k->isint)
        return onnx_err(c, NR_EUNSUP, "adding a constant is supported only as the bias of a Conv, "
                        "Gemm or MatMul that has none and whose output nothing else reads");
    int M = l->out, ok = (int64_t)k->count == M;
    if (l->mac == 2)
        ok = ok && (k->ndim == 1 || (k->ndim == 2 && k->dims[0] == 1));
    else
        ok = ok && ((k->ndim == 3 && k->dims[1] == 1 && k->dims[2] == 1) ||
                    (k->ndim == 4 && k->dims[0] == 1 && k->dims[2] == 1 && k->dims[3] == 1));
    if (!ok)
        return onnx_err(c, NR_ESHAPE, "constant of shape %s cannot be the bias of %s (expected %s)",
                        onnx_dims_str(s1, sizeof s1, k->dims, k->ndim), onnx_act_str(s2, sizeof s2, x),
                    l->mac == 2 ? "[M] or [1, M]" : "[1, M, 1, 1] or [M, 1, 1]");
    if ((rc = onnx_add_vec(c, l, "bias", k, 1)))
        return rc;
    l->has_bias = 1;
    return onnx_alias(c, n->output[0], x);
}

static int unary_layer(ctx *c, node *n, const char *op, val *x, layer **out)
{
    int li = onnx_new_layer(c, n, op, &x, 1);
    if (li < 0)
        return li;
    *out = &c->L[li];
    return onnx_def_act(c, n->output[0], li, x->rank, x->shape[0], x->shape[1], x->shape[2]);
}

static int op_relu(ctx *c, node *n)
{
    val *x;
    layer *l;
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_in_act(c, n, 0, "input X", 0, &x);
    return rc ? rc : unary_layer(c, n, "relu", x, &l);
}

static int clip_bound(ctx *c, node *n, size_t i, double dflt, double *out)
{
    val *v = onnx_opt_in(c, n, i);
    *out = dflt;
    if (!v)
        return 0;
    const char *what = i == 1 ? "min" : "max";
    int rc = onnx_need_const(c, v, what, -1);
    if (rc)
        return rc;
    if (v->count != 1)
        return onnx_err(c, NR_ESHAPE, "%s must be a scalar, it has %zu values", what, v->count);
    *out = v->isint ? (double)v->i[0] : v->f[0];
    return 0;
}

static int op_clip(ctx *c, node *n)
{
    val *x;
    double lo, hi;
    int rc;
    if (c->opset < 11) { /* bounds are attributes, default the float range */
        rc = onnx_check_attrs(c, n, "min max");
        if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
        if (!rc) rc = onnx_attr_float(c, n, "min", -FLT_MAX, &lo);
        if (!rc) rc = onnx_attr_float(c, n, "max", FLT_MAX, &hi);
    } else {             /* bounds are optional inputs; absent = unbounded */
        rc = onnx_check_attrs(c, n, "");
        if (!rc) rc = onnx_check_inputs(c, n, 1, 3);
        if (!rc) rc = clip_bound(c, n, 1, -INFINITY, &lo);
        if (!rc) rc = clip_bound(c, n, 2, INFINITY, &hi);
    }
    if (!rc) rc = onnx_in_act(c, n, 0, "input X", 0, &x);
    if (rc)
        return rc;
    if (isnan(lo) || isnan(hi) || lo > hi)
        return onnx_err(c, NR_ERANGE, "min %g > max %g", lo, hi);
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
    onnx_fmt_f32(a, sizeof a, isinf(lo) ? -DBL_MAX : lo);
    onnx_fmt_f32(b, sizeof b, isinf(hi) ? DBL_MAX : hi);
    return onnx_lfield(c, l, ", min: %s, max: %s", a, b);
}

static int pool(ctx *c, node *n, int avg)
{
    val *x;
    int ceil_mode = 0, cip = 0, so = 0;
    int rc = onnx_check_attrs(c, n, avg ? "auto_pad kernel_shape strides pads ceil_mode "
                                     "count_include_pad dilations"
                                   : "auto_pad kernel_shape strides pads ceil_mode "
                                     "dilations storage_order");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_only_first_output(c, n);
    if (!rc) rc = onnx_in_act(c, n, 0, "input X", 4, &x);
    if (!rc) rc = onnx_attr_int_in(c, n, "ceil_mode", 0, 0, 1, &ceil_mode);
    if (!rc && avg) rc = onnx_attr_int_in(c, n, "count_include_pad", 0, 0, 1, &cip);
    if (!rc && !avg) rc = onnx_attr_int_in(c, n, "storage_order", 0, 0, 1, &so);
    if (rc)
        return rc;
    int64_t ks[8];
    int cnt;
    if ((rc = onnx_attr_ints(c, n, "kernel_shape", ks, 8, &cnt)))
        return rc;
    if (cnt != 2)
        return onnx_err(c, NR_EUNSUP, "kernel_shape must have 2 entries (2-D pooling)");
    win w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < 2; i++) {
        if (ks[i] < 1 || ks[i] > 65536)
            return onnx_err(c, NR_EUNSUP, "kernel_shape entry %lld, expected 1 .. 65536", (long long)ks[i]);
        w.k[i] = (int)ks[i];
    }
    if ((rc = onnx_window(c, n, x, 1, ceil_mode, &w)))
        return rc;
    int li = onnx_new_layer(c, n, avg ? "avgpool" : "maxpool", &x, 1);
    if (li < 0)
        return li;
    layer *l = &c->L[li];
    if ((rc = onnx_write_window(c, l, &w, 1, 0)))
        return rc;
    if (ceil_mode && (rc = onnx_lfield(c, l, ", ceil_mode: true")))
        return rc;
    if (avg && (rc = onnx_lfield(c, l, ", count_include_pad: %s", cip ? "true" : "false")))
        return rc;
    return onnx_def_act(c, n->output[0], li, 4, x->shape[0], w.out[0], w.out[1]);
}

static int op_maxpool(ctx *c, node *n) { return pool(c, n, 0); }
static int op_avgpool(ctx *c, node *n) { return pool(c, n, 1); }

static int op_gap(ctx *c, node *n)
{
    val *x;
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_in_act(c, n, 0, "input X", 4, &x);
    if (rc)
        return rc;
    int li = onnx_new_layer(c, n, "global_avgpool", &x, 1);
    return li < 0 ? li : onnx_def_act(c, n->output[0], li, 4, x->shape[0], 1, 1);
}

static int op_batchnorm(ctx *c, node *n)
{
    val *x, *p[4];
    double eps;
    int spatial, train;
    int rc = onnx_check_attrs(c, n, "epsilon momentum spatial training_mode is_test consumed_inputs");
    if (!rc) rc = onnx_check_inputs(c, n, 5, 5);
    if (!rc) rc = onnx_only_first_output(c, n);
    if (!rc) rc = onnx_attr_float(c, n, "epsilon", 1e-5, &eps);
    if (!rc) rc = onnx_attr_int_in(c, n, "spatial", 1, 1, 1, &spatial);
    if (!rc) rc = onnx_attr_int_in(c, n, "training_mode", 0, 0, 0, &train);
    if (!rc) rc = onnx_in_act(c, n, 0, "input X", 0, &x);
    static const char *const what[4] = {"scale", "B", "input_mean", "input_var"};
    for (int i = 0; !rc && i < 4; i++)
        if (!(rc = onnx_get_in(c, n, (size_t)i + 1, &p[i])))
            rc = onnx_check_vec(c, p[i], x->shape[0], what[i]);
    if (rc)
        return rc;
    if (!(eps > 0))
        return onnx_err(c, NR_ERANGE, "epsilon %g, expected > 0", eps);
    layer *l;
    if ((rc = unary_layer(c, n, "batchnorm", x, &l)))
        return rc;
    char e[40];
    onnx_fmt_f32(e, sizeof e, eps);
    if ((rc = onnx_lfield(c, l, ", eps: %s", e)))
        return rc;
    static const char *const sfx[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++)
        if ((rc = onnx_add_vec(c, l, sfx[i], p[i], 1)))
            return rc;
    return 0;
}

static int op_concat(ctx *c, node *n)
{
    int64_t axis;
    int rc = onnx_check_attrs(c, n, "axis");
    if (!rc) rc = onnx_attr_int(c, n, "axis", c->opset < 4 ? 1 : INT64_MIN, &axis);
    if (!rc && n->n_input < 1)
        rc = onnx_err(c, NR_ECORRUPT, "no inputs");
    if (rc)
        return rc;
    if (axis == INT64_MIN)
        return onnx_err(c, NR_ECORRUPT, "attribute axis is required");
    val *ins[8], *x0;
    if ((rc = onnx_get_in(c, n, 0, &x0)))
        return rc;
    if (x0->kind == V_CONST)
        return onnx_const_concat(c, n);
    if (n->n_input < 2 || n->n_input > 8)
        return onnx_err(c, NR_EUNSUP, "%zu inputs, expected 2 to 8", n->n_input);
    int ax = 0;
    if ((rc = onnx_norm_axis(c, axis, x0->rank, &ax)))
        return rc;
    if (ax != 1)
        return onnx_err(c, NR_EUNSUP, "concatenation along axis %lld; only channels (axis 1) are "
                        "supported", (long long)axis);
    int64_t C = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        char s1[64], s2[64];
        if ((rc = onnx_in_act(c, n, i, "every input", x0->rank, &ins[i])))
            return rc;
        if (ins[i]->shape[1] != x0->shape[1] || ins[i]->shape[2] != x0->shape[2])
            return onnx_err(c, NR_ESHAPE, "inputs %s and %s differ in height or width",
                            onnx_act_str(s1, sizeof s1, x0), onnx_act_str(s2, sizeof s2, ins[i]));
        C += ins[i]->shape[0];
    }
    int li = onnx_new_layer(c, n, "concat", ins, (int)n->n_input);
    return li < 0 ? li : onnx_def_act(c, n->output[0], li, x0->rank, C, x0->shape[1], x0->shape[2]);
}

static int flatten_layer(ctx *c, node *n, val *x)
{
    if (x->rank == 2)
        return onnx_alias(c, n->output[0], x);
    int li = onnx_new_layer(c, n, "flatten", &x, 1);
    int64_t F = (int64_t)x->shape[0] * x->shape[1] * x->shape[2];
    return li < 0 ? li : onnx_def_act(c, n->output[0], li, 2, F, 1, 1);
}

static int op_flatten(ctx *c, node *n)
{
    val *x;
    int64_t axis;
    int rc = onnx_check_attrs(c, n, "axis");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_attr_int(c, n, "axis", 1, &axis);
    if (!rc) rc = onnx_in_act(c, n, 0, "input", 0, &x);
    if (rc)
        return rc;
    int ax = 0;
    if ((rc = onnx_norm_axis(c, axis, x->rank, &ax)))
        return rc;
    if (ax != 1)
        return onnx_err(c, NR_EUNSUP, "Flatten with axis %lld; only axis 1 ([N, C*H*W]) is supported",
                        (long long)axis);
    return flatten_layer(c, n, x);
}

static int op_reshape(ctx *c, node *n)
{
    val *x, *s;
    int allowzero;
    int rc = onnx_check_attrs(c, n, "allowzero");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 2);
    if (!rc) rc = onnx_attr_int_in(c, n, "allowzero", 0, 0, 1, &allowzero);
    if (!rc) rc = onnx_get_in(c, n, 0, &x);
    if (!rc) rc = onnx_in_const(c, n, 1, "input shape", 1, &s);
    if (!rc && x->kind == V_CONST)
        return onnx_const_reshape(c, n, x, s, allowzero);
    if (!rc) rc = onnx_need_act(c, x, "input data", 0);
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
            onnx_dims_str(d, sizeof d, s->i, (int)s->count);
        return onnx_err(c, NR_EUNSUP, "Reshape of %s to %s: only a flatten to [N, %lld] is supported",
                        onnx_act_str(a, sizeof a, x), d, (long long)F);
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
    int rc = onnx_check_attrs(c, n, c->opset < 11 ? "mode pads value" : "mode");
    if (!rc) rc = onnx_check_inputs(c, n, 1, c->opset < 11 ? 1 : 4);
    if (!rc) rc = onnx_attr_str(c, n, "mode", "constant", mode, sizeof mode);
    if (!rc) rc = onnx_in_act(c, n, 0, "input data", 0, &x);
    if (rc)
        return rc;
    if (strcmp(mode, "constant")) {
        char p[40];
        onnx_printable(p, sizeof p, mode);
        return onnx_err(c, NR_EUNSUP, "mode \"%s\"; only constant (zero) padding is supported", p);
    }
    if (c->opset < 11) {
        if ((rc = onnx_attr_ints(c, n, "pads", pads, 16, &npads)) ||
            (rc = onnx_attr_float(c, n, "value", 0, &value)))
            return rc;
    } else {
        val *p, *v = onnx_opt_in(c, n, 2);
        if ((rc = onnx_in_const(c, n, 1, "pads", 1, &p)))
            return rc;
        if (p->count > 16)
            return onnx_err(c, NR_ESHAPE, "pads has %zu values, expected %d", p->count, 2 * x->rank);
        npads = (int)p->count;
        if (p->count)
            memcpy(pads, p->i, p->count * sizeof *pads);
        if (v) {
            if ((rc = onnx_need_const(c, v, "constant_value", -1)))
                return rc;
            if (v->count != 1)
                return onnx_err(c, NR_ESHAPE, "constant_value must be a scalar");
            value = v->isint ? (double)v->i[0] : v->f[0];
        }
        if (onnx_opt_in(c, n, 3))
            return onnx_err(c, NR_EUNSUP, "the axes input is not supported");
    }
    if (npads != 2 * x->rank)
        return onnx_err(c, NR_ESHAPE, "pads has %d values, expected %d", npads, 2 * x->rank);
    if (value != 0)
        return onnx_err(c, NR_EUNSUP, "constant_value %g; only zero padding is supported", value);
    int r = x->rank, b[3] = {0}, a[3] = {0}, any = 0;
    for (int i = 0; i < r; i++) {
        int64_t pb = pads[i], pa = pads[i + r];
        if (pb < 0 || pa < 0 || pb > MAX_DIM || pa > MAX_DIM)
            return onnx_err(c, NR_EUNSUP, "pads [%lld, %lld] on axis %d; expected 0 .. %lld",
                            (long long)pb, (long long)pa, i, (long long)MAX_DIM);
        if (i == 0) {
            if (pb || pa)
                return onnx_err(c, NR_EUNSUP, "padding the batch axis is not supported");
            continue;
        }
        b[i - 1] = (int)pb;
        a[i - 1] = (int)pa;
        any |= pb || pa;
    }
    if (!any)
        return onnx_alias(c, n->output[0], x);
    layer *l;
    int li = onnx_new_layer(c, n, "pad", &x, 1);
    if (li < 0)
        return li;
    l = &c->L[li];
    static const char axn[3] = {'c', 'h', 'w'};
    for (int i = 0; i < 3; i++)
        if ((b[i] || a[i]) && (rc = onnx_lfield(c, l, ", %c: [%d, %d]", axn[i], b[i], a[i])))
            return rc;
    return onnx_def_act(c, n->output[0], li, r, (int64_t)x->shape[0] + b[0] + a[0],
                        (int64_t)x->shape[1] + b[1] + a[1], (int64_t)x->shape[2] + b[2] + a[2]);
}

/* Constant int64 list from input i (opset >= 10) (onnx_internal.h) */
int onnx_int_list(ctx *c, node *n, size_t i, const char *what, int64_t *out, int *cnt)
{
    val *v = onnx_opt_in(c, n, i);
    *cnt = -1;
    if (!v)
        return 0;
    int rc = onnx_need_const(c, v, what, 1);
    if (rc)
        return rc;
    if (v->ndim != 1 || v->count > 8)
        return onnx_err(c, NR_EUNSUP, "%s must be a 1-D list of at most 8 values", what);
    if (v->count)
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
        rc = onnx_check_attrs(c, n, "starts ends axes");
        if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
        if (!rc) rc = onnx_attr_ints(c, n, "starts", st, 8, &ns);
        if (!rc) rc = onnx_attr_ints(c, n, "ends", en, 8, &ne);
        if (!rc) rc = onnx_attr_ints(c, n, "axes", ax, 8, &na);
    } else {
        rc = onnx_check_attrs(c, n, "");
        if (!rc) rc = onnx_check_inputs(c, n, 3, 5);
        if (!rc) rc = onnx_int_list(c, n, 1, "starts", st, &ns);
        if (!rc) rc = onnx_int_list(c, n, 2, "ends", en, &ne);
        if (!rc) rc = onnx_int_list(c, n, 3, "axes", ax, &na);
        if (!rc) rc = onnx_int_list(c, n, 4, "steps", sp, &nsp);
    }
    if (!rc) rc = onnx_get_in(c, n, 0, &x);
    if (!rc && ns >= 0 && ns == ne && (na < 0 || na == ns) && (nsp < 0 || nsp == ns) &&
        x->kind == V_CONST)
        return onnx_const_slice(c, x, st, en, na >= 0 ? ax : NULL, nsp >= 0 ? sp : NULL, ns, n->output[0]);
    if (!rc) rc = onnx_need_act(c, x, "input data", 0);
    if (rc)
        return rc;
    if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (nsp >= 0 && nsp != ns))
        return onnx_err(c, NR_ECORRUPT, "starts, ends, axes and steps must have the same length");
    int r = x->rank;
    int64_t size[4] = {c->batch, x->shape[0], x->shape[1], x->shape[2]};
    int start[3] = {0, 0, 0}, stop[3] = {x->shape[0], x->shape[1], x->shape[2]}, step[3] = {1, 1, 1};
    int seen = 0;
    for (int k = 0; k < ns; k++) {
        int a = 0;
        if ((rc = onnx_norm_axis(c, na >= 0 ? ax[k] : k, r, &a)))
            return rc;
        if (seen & (1 << a))
            return onnx_err(c, NR_ECORRUPT, "axis %d is sliced twice", a);
        seen |= 1 << a;
        int64_t s = nsp >= 0 ? sp[k] : 1, dim = size[a];
        if (s < 1)
            return onnx_err(c, NR_EUNSUP, "step %lld on axis %d; only steps >= 1 are supported",
                            (long long)s, a);
        if (a == 0) { /* the batch: must be kept whole */
            if (st[k] == 0 && s == 1 && (en[k] >= INT32_MAX || (dim > 0 && en[k] >= dim)))
                continue;
            return onnx_err(c, NR_EUNSUP, "slicing the batch axis is not supported");
        }
        /* ONNX: negative counts from the end, then clamp to [0, dim] */
        int64_t b = st[k] < 0 ? st[k] + dim : st[k], e = en[k] < 0 ? en[k] + dim : en[k];
        b = b < 0 ? 0 : b > dim ? dim : b;
        e = e < 0 ? 0 : e > dim ? dim : e;
        if (b >= e)
            return onnx_err(c, NR_ESHAPE, "axis %d: slice [%lld, %lld) of %lld is empty", a,
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
        return onnx_alias(c, n->output[0], x);
    int li = onnx_new_layer(c, n, "slice", &x, 1);
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
        if ((rc = onnx_lfield(c, l, ", %c: [%d, %s, %d]", axn[i], start[i], e, step[i])))
            return rc;
    }
    return onnx_def_act(c, n->output[0], li, r, out[0], out[1], out[2]);
}

static int op_lrn(ctx *c, node *n)
{
    val *x;
    int size;
    double alpha, beta, bias;
    int rc = onnx_check_attrs(c, n, "size alpha beta bias");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_attr_int_in(c, n, "size", 0, 1, 1 << 16, &size);
    if (!rc) rc = onnx_attr_float(c, n, "alpha", 1e-4, &alpha);
    if (!rc) rc = onnx_attr_float(c, n, "beta", 0.75, &beta);
    if (!rc) rc = onnx_attr_float(c, n, "bias", 1.0, &bias);
    if (!rc) rc = onnx_in_act(c, n, 0, "input X", 4, &x);
    if (rc)
        return rc;
    /* ONNX's window is c - floor((size-1)/2) .. c + ceil((size-1)/2), the
     * spec's (PyTorch's) c - size/2 .. c + (size-1)/2: equal for odd sizes */
    if (size % 2 == 0)
        return onnx_err(c, NR_EUNSUP, "even size %d (ONNX and PyTorch place even windows "
                        "differently)", size);
    layer *l;
    if ((rc = unary_layer(c, n, "lrn", x, &l)))
        return rc;
    char a[40], b[40], k[40];
    onnx_fmt_f32(a, sizeof a, alpha);
    onnx_fmt_f32(b, sizeof b, beta);
    onnx_fmt_f32(k, sizeof k, bias);
    return onnx_lfield(c, l, ", size: %d, alpha: %s, beta: %s, k: %s", size, a, b, k);
}

static int op_softmax(ctx *c, node *n)
{
    val *x;
    int64_t axis;
    int rc = onnx_check_attrs(c, n, "axis");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_attr_int(c, n, "axis", c->opset < 13 ? 1 : -1, &axis);
    if (!rc) rc = onnx_in_act(c, n, 0, "input", 0, &x);
    if (rc)
        return rc;
    int ax = 0;
    if ((rc = onnx_norm_axis(c, axis, x->rank, &ax)))
        return rc;
    /* before opset 13 the input is flattened to [N, rest] at axis; from 13
     * the softmax runs along axis alone.  Both are the spec's (over
     * channels) when they cover exactly the channels. */
    int ok = ax == 1 && (x->rank == 2 || c->opset >= 13 || (x->shape[1] == 1 && x->shape[2] == 1));
    if (!ok) {
        char a[64];
        return onnx_err(c, NR_EUNSUP, "softmax along axis %lld of %s (opset %lld); only over the "
                        "channels is supported", (long long)axis, onnx_act_str(a, sizeof a, x),
                    (long long)c->opset);
    }
    layer *l;
    return unary_layer(c, n, "softmax", x, &l);
}

static int op_identity(ctx *c, node *n)
{
    val *x;
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_get_in(c, n, 0, &x);
    return rc ? rc : onnx_alias(c, n->output[0], x);
}

static int op_dropout(ctx *c, node *n)
{
    val *x, *t;
    int rc = onnx_check_attrs(c, n, "ratio seed is_test consumed_inputs");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 3);
    if (!rc) rc = onnx_only_first_output(c, n);
    if (!rc) rc = onnx_get_in(c, n, 0, &x);
    if (rc)
        return rc;
    if ((t = onnx_opt_in(c, n, 2)) &&
        (t->kind != V_CONST || t->count != 1 || (t->isint ? t->i[0] : t->f[0]) != 0))
        return onnx_err(c, NR_EUNSUP, "training_mode must be a constant false");
    return onnx_alias(c, n->output[0], x);
}

/* ---------------------------------------------------------------- the table */

/* Every supported operator of the default domain: the converters above make
 * layers, those of onnx_const.c evaluate constants. */
static const struct {
    const char *op_type;
    onnx_op_fn fn;
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
    {"Constant", onnx_op_constant},
    {"Shape", onnx_op_shape},
    {"Gather", onnx_op_gather},
    {"Unsqueeze", onnx_op_unsqueeze},
    {"Squeeze", onnx_op_squeeze},
    {"Cast", onnx_op_cast},
    {"Transpose", onnx_op_transpose},
    {"Sub", onnx_op_arith},
    {"Mul", onnx_op_arith},
    {"Div", onnx_op_arith},
    {"ConstantOfShape", onnx_op_constant_of_shape},
    {"Equal", onnx_op_equal},
    {"Where", onnx_op_where},
    {"Expand", onnx_op_expand},
};

onnx_op_fn onnx_ops_find(const char *op_type)
{
    for (size_t k = 0; k < sizeof op_table / sizeof *op_table; k++)
        if (!strcmp(op_table[k].op_type, op_type))
            return op_table[k].fn;
    return NULL;
}
