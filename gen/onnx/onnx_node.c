/* onnx_node.c -- reading one ONNX node: its inputs (present, of the right
 * kind: activation or constant) and its attributes (known names, declared
 * types, ranges).  Every operator converter starts with these checks. */
#include "onnx_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- inputs */

val *onnx_opt_in(ctx *c, node *n, size_t i)
{
    if (i >= n->n_input || !n->input[i][0])
        return NULL;
    int k = onnx_map_get(&c->vmap, n->input[i]);
    return k < 0 ? NULL : &c->v[k];
}

int onnx_get_in(ctx *c, node *n, size_t i, val **out)
{
    if (i >= n->n_input || !n->input[i][0])
        return onnx_err(c, NR_ECORRUPT, "input %zu is missing", i);
    int k = onnx_map_get(&c->vmap, n->input[i]);
    if (k < 0) {
        char p[64];
        onnx_printable(p, sizeof p, n->input[i]);
        return onnx_err(c, NR_ECORRUPT, "input %zu \"%s\" is not an initializer, a graph input or "
                        "the output of an earlier node", i, p);
    }
    *out = &c->v[k];
    return 0;
}

/* Every optional input that is named must exist. */
int onnx_check_inputs(ctx *c, node *n, size_t lo, size_t hi)
{
    if (n->n_input < lo || n->n_input > hi) {
        if (lo == hi)
            return onnx_err(c, NR_ECORRUPT, "%zu inputs, expected %zu", n->n_input, lo);
        return onnx_err(c, NR_ECORRUPT, "%zu inputs, expected %zu to %zu", n->n_input, lo, hi);
    }
    for (size_t i = 0; i < n->n_input; i++) {
        val *v;
        int rc = n->input[i][0] ? onnx_get_in(c, n, i, &v) : 0;
        if (rc)
            return rc;
    }
    return 0; /* output 0 is checked for every node (onnx_import.c) */
}

/* Outputs after the first (MaxPool indices, Dropout mask, BatchNorm
 * training statistics) must not be read. */
int onnx_only_first_output(ctx *c, node *n)
{
    for (size_t i = 1; i < n->n_output; i++)
        if (n->output[i][0] && onnx_map_get(&c->uses, n->output[i]) > 0) {
            char p[64];
            onnx_printable(p, sizeof p, n->output[i]);
            return onnx_err(c, NR_EUNSUP, "output %zu \"%s\" is read, but only the first output "
                            "is supported", i, p);
        }
    return 0;
}

/* Input i, which must be an activation of rank `rank` (0: any). */
int onnx_in_act(ctx *c, node *n, size_t i, const char *what, int rank, val **out)
{
    int rc = onnx_get_in(c, n, i, out);
    return rc ? rc : onnx_need_act(c, *out, what, rank);
}

/* Input i, which must be a constant (isint: 1 integer, 0 float, -1 either). */
int onnx_in_const(ctx *c, node *n, size_t i, const char *what, int isint, val **out)
{
    int rc = onnx_get_in(c, n, i, out);
    return rc ? rc : onnx_need_const(c, *out, what, isint);
}

int onnx_need_act(ctx *c, const val *v, const char *what, int rank)
{
    if (v->kind != V_ACT)
        return onnx_err(c, NR_EUNSUP, "%s must be computed from the network input, not a constant", what);
    if (rank && v->rank != rank) {
        char a[64];
        return onnx_err(c, NR_ESHAPE, "%s has shape %s, expected a %d-D tensor", what,
                        onnx_act_str(a, sizeof a, v), rank);
    }
    return 0;
}

int onnx_need_const(ctx *c, const val *v, const char *what, int isint)
{
    if (v->kind != V_CONST)
        return onnx_err(c, NR_EUNSUP, "%s must be a constant (an initializer or Constant node)", what);
    if (isint >= 0 && v->isint != isint)
        return onnx_err(c, NR_EUNSUP, "%s must be a %s tensor", what,
                        isint ? "integer (INT64)" : "floating-point");
    return 0;
}

/* ---------------------------------------------------------------- attributes */

const Onnx__AttributeProto *onnx_attr(node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name))
            return n->attribute[i];
    return NULL;
}

/* allowed: blank-separated names.  An attribute we do not know could change
 * the meaning, so it is an error rather than silently ignored. */
int onnx_check_attrs(ctx *c, node *n, const char *allowed)
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
            onnx_printable(q, sizeof q, a);
            return onnx_err(c, NR_EUNSUP, "attribute \"%s\" is not supported", q);
        }
        if (n->attribute[i]->ref_attr_name && n->attribute[i]->ref_attr_name[0])
            return onnx_err(c, NR_EUNSUP, "attribute \"%s\" refers to a function attribute", a);
    }
    return 0;
}

int onnx_attr_type(ctx *c, const Onnx__AttributeProto *a, int want, const char *wname)
{
    if (a->has_type && (int)a->type != want)
        return onnx_err(c, NR_ECORRUPT, "attribute %s: type %d, expected %s", a->name, (int)a->type,
                        wname);
    return 0;
}

/* Attribute `name` in *a, NULL when absent; present with a type other than
 * want, it is an error. */
static int typed_attr(ctx *c, node *n, const char *name, int want, const char *wname,
                      const Onnx__AttributeProto **a)
{
    *a = onnx_attr(n, name);
    return *a ? onnx_attr_type(c, *a, want, wname) : 0;
}

int onnx_attr_int(ctx *c, node *n, const char *name, int64_t dflt, int64_t *out)
{
    const Onnx__AttributeProto *a;
    int rc = typed_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, "INT", &a);
    *out = !rc && a ? a->i : dflt;
    return rc;
}

int onnx_attr_float(ctx *c, node *n, const char *name, double dflt, double *out)
{
    const Onnx__AttributeProto *a;
    int rc = typed_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, "FLOAT", &a);
    *out = !rc && a ? a->f : dflt;
    if (!rc && a && !isfinite(*out))
        return onnx_err(c, NR_ERANGE, "attribute %s: %g is not finite", name, *out);
    return rc;
}

/* *cnt = -1 when absent; more than max entries is an error. */
int onnx_attr_ints(ctx *c, node *n, const char *name, int64_t *out, int max, int *cnt)
{
    const Onnx__AttributeProto *a;
    int rc = typed_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, "INTS", &a);
    *cnt = -1;
    if (rc || !a)
        return rc;
    if (a->n_ints > (size_t)max)
        return onnx_err(c, NR_EUNSUP, "attribute %s has %zu entries, expected at most %d", name,
                        a->n_ints, max);
    if (a->n_ints) /* protobuf-c leaves ints NULL when the list is empty */
        memcpy(out, a->ints, a->n_ints * sizeof *out);
    *cnt = (int)a->n_ints;
    return 0;
}

int onnx_attr_str(ctx *c, node *n, const char *name, const char *dflt, char *out, size_t cap)
{
    const Onnx__AttributeProto *a;
    int rc = typed_attr(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, "STRING", &a);
    snprintf(out, cap, "%s", dflt);
    if (rc || !a)
        return rc;
    size_t k = a->s.len < cap - 1 ? a->s.len : cap - 1;
    if (k) /* s.data is NULL for an empty string */
        memcpy(out, a->s.data, k);
    out[k] = 0;
    return 0;
}

/* An int attribute that must fit in [lo, hi]. */
int onnx_attr_int_in(ctx *c, node *n, const char *name, int64_t dflt, int64_t lo, int64_t hi,
                     int *out)
{
    int64_t v;
    int rc = onnx_attr_int(c, n, name, dflt, &v);
    if (rc)
        return rc;
    if (v < lo || v > hi)
        return onnx_err(c, NR_EUNSUP, "attribute %s = %lld, expected %lld .. %lld", name,
                        (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return 0;
}

/* An axis attribute in [-rank, rank) -> [0, rank). */
int onnx_norm_axis(ctx *c, int64_t axis, int rank, int *out)
{
    if (axis < -rank || axis >= rank)
        return onnx_err(c, NR_ERANGE, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}


/* A binary elementwise node without attributes: its two inputs. */
int onnx_two_inputs(ctx *c, node *n, val **a, val **b)
{
    int rc = onnx_check_attrs(c, n, "");
    if (!rc) rc = onnx_check_inputs(c, n, 2, 2);
    if (!rc) rc = onnx_get_in(c, n, 0, a);
    if (!rc) rc = onnx_get_in(c, n, 1, b);
    return rc;
}
