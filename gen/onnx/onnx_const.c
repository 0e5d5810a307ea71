/* onnx_const.c -- operators evaluated at import time.  Exporters compute
 * shapes and pads with small integer tensor programs (`x.view(x.size(0),
 * -1)`: Shape, Gather, Unsqueeze, Concat; torch's F.pad: ConstantOfShape,
 * Reshape, Slice with step -1, Transpose, Cast); their results are CONST
 * values that later nodes read as shapes, pads or weights. */
#include "onnx_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- values
 * Sizes are bounded by MAX_ELEMS. */

static int const_alloc(ctx *c, val *r, int isint, int ndim, const int64_t *dims)
{
    uint64_t count = 1;
    memset(r, 0, sizeof *r);
    r->kind = V_CONST;
    r->isint = isint;
    r->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > MAX_DIM)
            return onnx_err(c, NR_ERANGE, "constant dimension %lld out of range", (long long)dims[i]);
        r->dims[i] = dims[i];
        count *= (uint64_t)dims[i];
        if (count > MAX_ELEMS)
            return onnx_err(c, NR_ERANGE, "constant with more than %llu elements",
                            (unsigned long long)MAX_ELEMS);
    }
    r->count = (size_t)count;
    size_t n = count ? (size_t)count : 1;
    if (isint ? !(r->i = calloc(n, sizeof *r->i)) : !(r->f = calloc(n, sizeof *r->f)))
        return onnx_err(c, NR_ENOMEM, "out of memory");
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
    int rc = onnx_def_val(c, name, r);
    if (rc) {
        free(r->f);
        free(r->i);
    }
    return rc;
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

/* ---------------------------------------------------------------- constants */

int onnx_op_constant(ctx *c, node *n)
{
    int rc = onnx_check_attrs(c, n, "value value_float value_floats value_int value_ints");
    if (!rc) rc = onnx_check_inputs(c, n, 0, 0);
    if (rc)
        return rc;
    if (n->n_attribute != 1)
        return onnx_err(c, NR_ECORRUPT, "expected exactly one value attribute");
    const Onnx__AttributeProto *a = n->attribute[0];
    val r = {.kind = V_CONST};
    if (!strcmp(a->name, "value")) {
        if ((rc = onnx_attr_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR, "TENSOR")))
            return rc;
        if (!a->t)
            return onnx_err(c, NR_ECORRUPT, "attribute value holds no tensor");
        rc = onnx_tensor_decode(c, a->t, &r);
    } else {
        int isint = strstr(a->name, "int") != NULL, list = a->name[strlen(a->name) - 1] == 's';
        size_t cnt = list ? (isint ? a->n_ints : a->n_floats) : 1;
        int want = isint ? (list ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
                                 : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
                         : (list ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS
                                 : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        if ((rc = onnx_attr_type(c, a, want, "the attribute's own type")))
            return rc;
        r.isint = isint;
        r.count = cnt;
        r.ndim = list;
        r.dims[0] = (int64_t)cnt;
        if (isint ? !(r.i = malloc((cnt ? cnt : 1) * sizeof *r.i))
                  : !(r.f = malloc((cnt ? cnt : 1) * sizeof *r.f)))
            return onnx_err(c, NR_ENOMEM, "out of memory");
        for (size_t k = 0; k < cnt; k++) {
            if (isint)
                r.i[k] = list ? a->ints[k] : a->i;
            else
                r.f[k] = list ? a->floats[k] : a->f;
        }
    }
    if (!rc)
        rc = onnx_def_val(c, n->output[0], &r);
    if (rc) {
        free(r.f);
        free(r.i);
    }
    return rc;
}

int onnx_op_constant_of_shape(ctx *c, node *n)
{
    val *s, v = {0};
    int rc = onnx_check_attrs(c, n, "value");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_in_const(c, n, 0, "input", 1, &s);
    if (rc)
        return rc;
    if (s->ndim != 1 || s->count > NR_TENSOR_MAXDIM)
        return onnx_err(c, NR_EUNSUP, "the shape must be a 1-D list of at most %d values",
                        NR_TENSOR_MAXDIM);
    const Onnx__AttributeProto *a = onnx_attr(n, "value");
    if (a) {
        if ((rc = onnx_attr_type(c, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR, "TENSOR")))
            return rc;
        if (!a->t)
            return onnx_err(c, NR_ECORRUPT, "attribute value holds no tensor");
        if ((rc = onnx_tensor_decode(c, a->t, &v)) || (v.count != 1 &&
             (rc = onnx_err(c, NR_ESHAPE, "attribute value must hold one element")))) {
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

/* ---------------------------------------------------------------- shape arithmetic */

/* Shape of an activation: [N, C, H, W] with N = the declared batch (1 when
 * it is symbolic: the spec is per sample, and Reshape accepts N as 0/-1/N). */
int onnx_op_shape(ctx *c, node *n)
{
    val *x;
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_get_in(c, n, 0, &x);
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
        return onnx_err(c, NR_ENOMEM, "out of memory");
    r.i[0] = c->batch > 0 ? c->batch : 1;
    for (int i = 1; i < x->rank; i++)
        r.i[i] = x->shape[i - 1];
    if ((rc = onnx_def_val(c, n->output[0], &r)))
        free(r.i);
    return rc;
}

/* Checks that Gather, Unsqueeze, Squeeze and Cast share: the input *x is a
 * small integer constant, and *r starts as its copy with room for 8 values. */
static int small_int(ctx *c, node *n, const char *attrs, val **x, val *r)
{
    int rc = onnx_check_attrs(c, n, attrs);
    if (!rc) rc = onnx_check_inputs(c, n, 1, 2);
    if (!rc) rc = onnx_in_const(c, n, 0, "input", -1, x);
    if (rc)
        return rc;
    const val *v = *x;
    if (!v->isint || v->ndim > 1 || v->count > 8)
        return onnx_err(c, NR_EUNSUP, "%s is supported only on small integer constants (shape "
                        "arithmetic)", n->op_type);
    *r = (val){.kind = V_CONST, .isint = 1, .ndim = v->ndim, .dims = {v->dims[0]},
               .count = v->count};
    if (!(r->i = malloc(8 * sizeof *r->i)))
        return onnx_err(c, NR_ENOMEM, "out of memory");
    if (v->count)
        memcpy(r->i, v->i, v->count * sizeof *r->i);
    return 0;
}

/* Define the node's output as *r, or drop *r when rc is an error. */
static int small_int_end(ctx *c, node *n, val *r, int rc)
{
    if (rc) {
        free(r->i);
        return rc;
    }
    return const_def(c, n->output[0], r);
}

int onnx_op_gather(ctx *c, node *n)
{
    val *x, *idx, r;
    int64_t axis;
    int rc = small_int(c, n, "axis", &x, &r);
    if (rc)
        return rc;
    if (!(rc = onnx_attr_int(c, n, "axis", 0, &axis)) &&
        !(rc = onnx_in_const(c, n, 1, "indices", 1, &idx))) {
        if (axis != 0 || x->ndim != 1 || idx->ndim > 1 || idx->count > 8)
            rc = onnx_err(c, NR_EUNSUP, "Gather is supported only on 1-D integer constants");
        for (size_t k = 0; !rc && k < idx->count; k++) {
            int64_t j = idx->i[k] < 0 ? idx->i[k] + (int64_t)x->count : idx->i[k];
            if (j < 0 || j >= (int64_t)x->count)
                rc = onnx_err(c, NR_ERANGE, "index %lld out of range", (long long)idx->i[k]);
            else
                r.i[k] = x->i[j];
        }
        r.count = idx->count;
        r.ndim = idx->ndim;
        r.dims[0] = (int64_t)idx->count;
    }
    return small_int_end(c, n, &r, rc);
}

int onnx_op_unsqueeze(ctx *c, node *n) /* scalar -> [1] */
{
    val *x, r;
    int rc = small_int(c, n, "axes", &x, &r);
    if (rc)
        return rc;
    if (x->ndim != 0)
        rc = onnx_err(c, NR_EUNSUP, "Unsqueeze is supported only on integer scalars");
    r.ndim = 1;
    r.dims[0] = 1;
    return small_int_end(c, n, &r, rc);
}

int onnx_op_squeeze(ctx *c, node *n) /* [1] -> scalar */
{
    val *x, r;
    int rc = small_int(c, n, "axes", &x, &r);
    if (rc)
        return rc;
    if (x->count != 1)
        rc = onnx_err(c, NR_EUNSUP, "Squeeze is supported only on one-element integer constants");
    r.ndim = 0;
    return small_int_end(c, n, &r, rc);
}

int onnx_op_cast(ctx *c, node *n) /* between integer types */
{
    val *x, r;
    int64_t to;
    int rc = small_int(c, n, "to saturate", &x, &r);
    if (rc)
        return rc;
    if (!(rc = onnx_attr_int(c, n, "to", 0, &to)) && to != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 &&
        to != ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
        rc = onnx_err(c, NR_EUNSUP, "Cast to %s is supported only for shape arithmetic (INT64)",
                      onnx_dtype_name((int)to));
    return small_int_end(c, n, &r, rc);
}

/* Add/Sub/Mul/Div of integer constants (shape arithmetic); one side may be
 * a one-element tensor.  Division truncates toward zero as ONNX's integer Div. */
int onnx_const_arith(ctx *c, node *n, const val *a, const val *b)
{
    if (a->kind != V_CONST || b->kind != V_CONST || !a->isint || !b->isint ||
        (a->count != b->count && a->count != 1 && b->count != 1))
        return onnx_err(c, NR_EUNSUP, "%s of constants is supported only for integer shape "
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
            return onnx_err(c, NR_ERANGE, "integer division %lld / %lld", (long long)x, (long long)y);
        }
        /* wrap like the two's-complement int64 arithmetic of runtimes, without UB */
        r.i[k] = op == 'A'   ? (int64_t)((uint64_t)x + (uint64_t)y)
                 : op == 'S' ? (int64_t)((uint64_t)x - (uint64_t)y)
                 : op == 'M' ? (int64_t)((uint64_t)x * (uint64_t)y)
                             : x / y;
    }
    return const_def(c, n->output[0], &r);
}

int onnx_op_arith(ctx *c, node *n)
{
    val *a, *b;
    int rc = onnx_two_inputs(c, n, &a, &b);
    return rc ? rc : onnx_const_arith(c, n, a, b);
}

/* ---------------------------------------------------------------- tensor programs */

/* Concat of constants: shape arithmetic (1-D integer tensors) */
int onnx_const_concat(ctx *c, node *n)
{
    size_t total = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        val *v;
        int rc = onnx_in_const(c, n, i, "every input", 1, &v);
        if (rc)
            return rc;
        if (v->ndim != 1)
            return onnx_err(c, NR_EUNSUP, "constant Concat is supported for 1-D INT64 tensors only");
        total += v->count;
    }
    val r = {.kind = V_CONST, .isint = 1, .ndim = 1, .dims = {(int64_t)total}, .count = total};
    if (!(r.i = malloc((total ? total : 1) * sizeof *r.i)))
        return onnx_err(c, NR_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        val *v = onnx_opt_in(c, n, i);
        if (v->count)
            memcpy(r.i + k, v->i, v->count * sizeof *r.i);
        k += v->count;
    }
    int rc = onnx_def_val(c, n->output[0], &r);
    if (rc)
        free(r.i);
    return rc;
}

int onnx_const_reshape(ctx *c, node *n, const val *x, const val *s, int allowzero)
{
    int64_t d[NR_TENSOR_MAXDIM], known = 1;
    int infer = -1;
    if (s->ndim != 1 || s->count > NR_TENSOR_MAXDIM)
        return onnx_err(c, NR_EUNSUP, "shape must be a 1-D list of at most %d values", NR_TENSOR_MAXDIM);
    for (size_t k = 0; k < s->count; k++) {
        d[k] = s->i[k];
        if (d[k] == 0 && !allowzero) {
            if ((int)k >= x->ndim)
                return onnx_err(c, NR_ESHAPE, "shape entry %zu is 0 but the input has rank %d", k, x->ndim);
            d[k] = x->dims[k];
        }
        if (d[k] == -1 && infer < 0)
            infer = (int)k;
        else if (d[k] < 0 || d[k] > MAX_DIM)
            return onnx_err(c, NR_ESHAPE, "invalid shape entry %lld", (long long)s->i[k]);
        else
            known *= d[k];
    }
    if (infer >= 0)
        d[infer] = known ? (int64_t)x->count / known : 0;
    uint64_t total = 1;
    for (size_t k = 0; k < s->count; k++)
        total *= (uint64_t)d[k];
    if (total != x->count)
        return onnx_err(c, NR_ESHAPE, "cannot reshape %zu values to the requested shape", x->count);
    val r;
    int rc = const_alloc(c, &r, x->isint, (int)s->count, d);
    if (rc)
        return rc;
    for (size_t k = 0; k < x->count; k++)
        const_copy(&r, k, x, k);
    return const_def(c, n->output[0], &r);
}

int onnx_const_slice(ctx *c, const val *x, const int64_t *st, const int64_t *en,
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
        if ((rc = onnx_norm_axis(c, axes ? axes[k] : k, nd, &a)))
            return rc;
        int64_t s = steps ? steps[k] : 1, dim = x->dims[a];
        if (s == 0)
            return onnx_err(c, NR_ERANGE, "slice step 0");
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

int onnx_op_transpose(ctx *c, node *n)
{
    val *x;
    int64_t perm[NR_TENSOR_MAXDIM];
    int np;
    int rc = onnx_check_attrs(c, n, "perm");
    if (!rc) rc = onnx_check_inputs(c, n, 1, 1);
    if (!rc) rc = onnx_attr_ints(c, n, "perm", perm, NR_TENSOR_MAXDIM, &np);
    if (!rc) rc = onnx_in_const(c, n, 0, "input (Transpose is supported only on constants)", -1, &x);
    if (rc)
        return rc;
    int nd = x->ndim, seen = 0;
    if (np < 0)
        for (int a = 0; a < nd; a++)
            perm[a] = nd - 1 - a;
    else if (np != nd)
        return onnx_err(c, NR_ESHAPE, "perm has %d entries for rank %d", np, nd);
    int64_t od[NR_TENSOR_MAXDIM], idx[NR_TENSOR_MAXDIM], sidx[NR_TENSOR_MAXDIM];
    for (int a = 0; a < nd; a++) {
        if (perm[a] < 0 || perm[a] >= nd || (seen & (1 << perm[a])))
            return onnx_err(c, NR_ECORRUPT, "perm is not a permutation of 0 .. %d", nd - 1);
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

/* ---------------------------------------------------------------- broadcasting (Equal, Where, Expand) */

/* NumPy broadcast of the shapes of a[0..n) into out/nd: 0 or an error. */
static int bshape(ctx *c, const val *const *a, int n, int *nd, int64_t *out)
{
    *nd = 0;
    for (int k = 0; k < n; k++)
        if (a[k]->ndim > *nd)
            *nd = a[k]->ndim;
    for (int i = 0; i < *nd; i++) {
        out[i] = 1;
        for (int k = 0; k < n; k++) {
            int j = i - (*nd - a[k]->ndim);
            int64_t d = j < 0 ? 1 : a[k]->dims[j];
            if (d != 1 && out[i] != 1 && d != out[i])
                return onnx_err(c, NR_ESHAPE, "constant shapes do not broadcast");
            if (d != 1)
                out[i] = d;
        }
    }
    /* masks and expanded tokens, not weights: a cheap bound before the work */
    int64_t total = 1;
    for (int i = 0; i < *nd; i++)
        if ((total *= out[i]) > ((int64_t)1 << 22))
            return onnx_err(c, NR_ERANGE, "a broadcast constant of more than 2^22 values");
    return 0;
}

/* Index into a of the broadcast multi-index idx over nd dims. */
static size_t bindex(const val *a, int nd, const int64_t *idx)
{
    size_t k = 0;
    for (int j = 0; j < a->ndim; j++) {
        int64_t d = a->dims[j];
        k = k * (size_t)d + (size_t)(d == 1 ? 0 : idx[j + nd - a->ndim]);
    }
    return k;
}

static double num(const val *v, size_t k)
{
    return v->isint ? (double)v->i[k] : v->f[k];
}

int onnx_op_equal(ctx *c, node *n)
{
    val *a = NULL, *b = NULL, r;
    int nd;
    int64_t od[NR_TENSOR_MAXDIM], idx[NR_TENSOR_MAXDIM];
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 2);
    if (!rc) rc = onnx_in_const(c, n, 0, "input A (Equal is supported on constants)", -1, &a);
    if (!rc) rc = onnx_in_const(c, n, 1, "input B (Equal is supported on constants)", -1, &b);
    const val *ab[2] = {a, b};
    if (!rc) rc = bshape(c, ab, 2, &nd, od);
    if (!rc) rc = const_alloc(c, &r, 1, nd, od);
    if (rc)
        return rc;
    for (size_t k = 0; k < r.count; k++) {
        unflat(k, nd, od, idx);
        r.i[k] = num(a, bindex(a, nd, idx)) == num(b, bindex(b, nd, idx));
    }
    return const_def(c, n->output[0], &r);
}

int onnx_op_where(ctx *c, node *n)
{
    val *v[3] = {NULL, NULL, NULL}, r;
    int nd;
    int64_t od[NR_TENSOR_MAXDIM], idx[NR_TENSOR_MAXDIM];
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 3, 3);
    for (int k = 0; !rc && k < 3; k++)
        rc = onnx_in_const(c, n, (size_t)k, "every input (Where is supported on constants)", -1, &v[k]);
    if (!rc && (!v[0]->isint || v[1]->isint != v[2]->isint))
        rc = onnx_err(c, NR_EUNSUP, "Where needs a boolean condition and two values of one type");
    const val *vs[3] = {v[0], v[1], v[2]};
    if (!rc) rc = bshape(c, vs, 3, &nd, od);
    if (!rc) rc = const_alloc(c, &r, v[1]->isint, nd, od);
    if (rc)
        return rc;
    for (size_t k = 0; k < r.count; k++) {
        unflat(k, nd, od, idx);
        const val *s = v[0]->i[bindex(v[0], nd, idx)] ? v[1] : v[2];
        const_copy(&r, k, s, bindex(s, nd, idx));
    }
    return const_def(c, n->output[0], &r);
}

int onnx_op_expand(ctx *c, node *n)
{
    val *x, *s, r;
    int nd;
    int64_t od[NR_TENSOR_MAXDIM], idx[NR_TENSOR_MAXDIM];
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 2);
    if (!rc) rc = onnx_in_const(c, n, 0, "input (Expand is supported on constants)", -1, &x);
    if (!rc) rc = onnx_in_const(c, n, 1, "shape", 1, &s);
    if (rc)
        return rc;
    if (s->ndim != 1 || s->count > NR_TENSOR_MAXDIM)
        return onnx_err(c, NR_EUNSUP, "shape must be a 1-D list of at most %d values", NR_TENSOR_MAXDIM);
    val sh = {.kind = V_CONST, .ndim = (int)s->count};
    for (size_t k = 0; k < s->count; k++) {
        if (s->i[k] < 1 || s->i[k] > MAX_DIM)
            return onnx_err(c, NR_ESHAPE, "shape entry %lld", (long long)s->i[k]);
        sh.dims[k] = s->i[k];
    }
    const val *xs[2] = {x, &sh};
    if ((rc = bshape(c, xs, 2, &nd, od)) || (rc = const_alloc(c, &r, x->isint, nd, od)))
        return rc;
    for (size_t k = 0; k < r.count; k++) {
        unflat(k, nd, od, idx);
        const_copy(&r, k, x, bindex(x, nd, idx));
    }
    return const_def(c, n->output[0], &r);
}
