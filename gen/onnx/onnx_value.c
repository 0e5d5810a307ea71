/* onnx_value.c -- the importer's values: every name in the graph is an
 * activation (ACT) or a tensor known at import time (CONST), defined once.
 * Also the error reporter, the name -> index map, and the decoding of
 * TensorProtos (every dtype, raw or typed data, sizes checked). */
#include "onnx_internal.h"
#include "eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

/* Printable copy of a name from the file (which may hold any bytes). */
void onnx_printable(char *dst, size_t n, const char *s)
{
    size_t k = 0;
    for (; s && *s && k + 1 < n; s++)
        dst[k++] = (*s >= 32 && *s < 127 && *s != '"') ? *s : '?';
    dst[k] = 0;
}

int onnx_err(ctx *c, int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->optag) {
        char op[48];
        onnx_printable(op, sizeof op, c->optag);
        return nr_err_set(c->err, code, c->path, 0, 0, c->where, "%s: %s", op, msg);
    }
    return nr_err_set(c->err, code, c->path, 0, 0, c->where, "%s", msg);
}

/* ---------------------------------------------------------------- strmap */

static uint64_t str_hash(const char *s)
{
    return nr_hash_bytes(NR_HASH_INIT, s, strlen(s));
}

int onnx_map_get(const strmap *m, const char *key)
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

int onnx_map_put(strmap *m, const char *key, int v) /* 0 or -1 (no memory) */
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

void onnx_map_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

const char *onnx_dims_str(char *buf, size_t n, const int64_t *d, int nd)
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
const char *onnx_act_str(char *buf, size_t n, const val *v)
{
    if (v->rank == 2)
        snprintf(buf, n, "[N, %d]", v->shape[0]);
    else
        snprintf(buf, n, "[N, %d, %d, %d]", v->shape[0], v->shape[1], v->shape[2]);
    return buf;
}

/* ---------------------------------------------------------------- tensors */

const char *onnx_dtype_name(int dt)
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
int onnx_tensor_decode(ctx *c, const Onnx__TensorProto *t, val *out)
{
    int dt = t->has_data_type ? t->data_type : 0;
    if (t->n_external_data ||
        (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL))
        return onnx_err(c, NR_EUNSUP, "external tensor data is not supported (save the model with "
                                  "its weights inside the .onnx file)");
    if (t->n_dims > NR_TENSOR_MAXDIM)
        return onnx_err(c, NR_EUNSUP, "%zu dimensions, at most %d supported", t->n_dims,
                        NR_TENSOR_MAXDIM);
    uint64_t count = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || t->dims[i] > MAX_DIM)
            return onnx_err(c, NR_ECORRUPT, "dimension %zu is %lld (expected 0 .. %lld)", i,
                            (long long)t->dims[i], (long long)MAX_DIM);
        count *= (uint64_t)t->dims[i];
        if (count > MAX_ELEMS)
            return onnx_err(c, NR_ERANGE, "more than %llu elements",
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
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: /* masks: integers 0/1 */
        esz = 1; break;
    default:
        return onnx_err(c, NR_EUNSUP, "data type %s (%d) is not supported (expected FLOAT, DOUBLE, "
                        "FLOAT16, BFLOAT16, INT32, INT64 or BOOL)", onnx_dtype_name(dt), dt);
    }
    out->isint = dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ||
                 dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
    size_t have;
    const char *field;
    if (t->has_raw_data) {
        if (t->raw_data.len != count * (uint64_t)esz)
            return onnx_err(c, NR_ECORRUPT, "raw_data has %zu bytes, expected %llu (%llu %s values)",
                            t->raw_data.len, (unsigned long long)(count * (uint64_t)esz),
                        (unsigned long long)count, onnx_dtype_name(dt));
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
            return onnx_err(c, NR_ECORRUPT, "%zu values in %s, expected %llu", have, field,
                            (unsigned long long)count);
    }
    size_t nalloc = count ? count : 1;
    if (out->isint ? !(out->i = malloc(nalloc * sizeof *out->i))
                   : !(out->f = malloc(nalloc * sizeof *out->f)))
        return onnx_err(c, NR_ENOMEM, "out of memory for %llu values", (unsigned long long)count);
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
        case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
            out->i[k] = (raw ? raw[k] : t->int32_data[k]) != 0;
            break;
        default:
            out->i[k] = raw ? (int64_t)le(raw + 8 * k, 8) : t->int64_data[k];
            break;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- values */

int onnx_def_val(ctx *c, const char *name, const val *proto)
{
    if (!name || !*name)
        return onnx_err(c, NR_ECORRUPT, "a value without a name");
    if (onnx_map_get(&c->vmap, name) >= 0) {
        char p[64];
        onnx_printable(p, sizeof p, name);
        return onnx_err(c, NR_ECORRUPT, "value \"%s\" is defined twice", p);
    }
    if (c->nv == c->capv)
        return onnx_err(c, NR_EINTERNAL, "value table full");
    val *v = &c->v[c->nv];
    *v = *proto;
    v->name = strdup(name);
    if (!v->name || onnx_map_put(&c->vmap, name, c->nv))
        return onnx_err(c, NR_ENOMEM, "out of memory");
    int u = onnx_map_get(&c->uses, name);
    v->uses = u < 0 ? 0 : u;
    c->nv++;
    return 0;
}

/* The shape the file declares for a value (value_info / graph outputs),
 * compared with ours; the batch dimension is not compared. */
static int check_declared(ctx *c, const val *v, const char *name)
{
    int vi = onnx_map_get(&c->vinfo, name);
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
    onnx_printable(p, sizeof p, name);
    return onnx_err(c, NR_ESHAPE, "output \"%s\": the file declares shape %s, the imported layers "
                    "give %s", p, b, onnx_act_str(a, sizeof a, v));
}

int onnx_def_act(ctx *c, const char *name, int layer_idx, int rank, int64_t C, int64_t H,
                 int64_t W)
{
    if (C < 1 || H < 1 || W < 1 || C > MAX_ACT || H > MAX_ACT || W > MAX_ACT ||
        C * H > MAX_ACT || C * H * W > MAX_ACT)
        return onnx_err(c, NR_ESHAPE, "output shape [N, %lld, %lld, %lld] is empty or too large",
                        (long long)C, (long long)H, (long long)W);
    val a = {.kind = V_ACT, .layer = layer_idx, .rank = rank, .shape = {(int)C, (int)H, (int)W}};
    int rc = check_declared(c, &a, name);
    if (rc)
        return rc;
    if (layer_idx >= 0)
        c->L[layer_idx].out_val = c->nv;
    return onnx_def_val(c, name, &a);
}

int onnx_alias(ctx *c, const char *name, const val *src)
{
    val a = *src;
    if (src->kind == V_CONST) { /* copy the data: each value owns its arrays */
        size_t n = src->count ? src->count : 1;
        a.f = NULL;
        a.i = NULL;
        if (src->isint ? !(a.i = malloc(n * sizeof *a.i)) : !(a.f = malloc(n * sizeof *a.f)))
            return onnx_err(c, NR_ENOMEM, "out of memory");
        if (src->count && src->isint)
            memcpy(a.i, src->i, src->count * sizeof *a.i);
        else if (src->count)
            memcpy(a.f, src->f, src->count * sizeof *a.f);
        int rc = onnx_def_val(c, name, &a);
        if (rc) {
            free(a.f);
            free(a.i);
        }
        return rc;
    }
    int rc = src->seq ? onnx_seq_check_declared(c, &a, name) : check_declared(c, &a, name);
    return rc ? rc : onnx_def_val(c, name, &a);
}
