/* onnx_layer.c -- building spec layers: unique names, the "key: value"
 * field text, the weight tensors they own, and conv/pool windows (strides,
 * dilations, pads, auto_pad) resolved to the spec's terms. */
#include "onnx_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- fields */

/* The shortest decimal that reads back as the same float32: ONNX float
 * attributes are float32, and eps 1e-5 should read "1e-05", not the
 * binary expansion of the nearest float. */
void onnx_fmt_f32(char *out, size_t n, double v)
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

int onnx_lfield(ctx *c, layer *l, const char *fmt, ...)
{
    size_t n = strlen(l->fields);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->fields + n, sizeof l->fields - n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof l->fields - n)
        return onnx_err(c, NR_EINTERNAL, "layer fields too long");
    return 0;
}

static int lpair(ctx *c, layer *l, const char *key, const int v[2])
{
    return v[0] == v[1] ? onnx_lfield(c, l, ", %s: %d", key, v[0])
                        : onnx_lfield(c, l, ", %s: [%d, %d]", key, v[0], v[1]);
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
    for (int sfx = 2; onnx_map_get(&c->lnames, out) >= 0; sfx++) {
        if (sfx > 1000000)
            return onnx_err(c, NR_EINTERNAL, "cannot make a unique layer name");
        snprintf(out, NR_NAME_MAX, "%.80s_%d", base, sfx);
    }
    return 0;
}

int onnx_new_layer(ctx *c, node *n, const char *op, val *const *ins, int nin)
{
    if (nin > 8)
        return onnx_err(c, NR_EUNSUP, "%d inputs, at most 8 supported", nin);
    if (c->nl == c->capl) {
        int cap = c->capl ? 2 * c->capl : 64;
        layer *L = realloc(c->L, (size_t)cap * sizeof *L);
        if (!L)
            return onnx_err(c, NR_ENOMEM, "out of memory");
        c->L = L;
        c->capl = cap;
    }
    layer *l = &c->L[c->nl];
    memset(l, 0, sizeof *l);
    int rc = sanitize_name(c, n, l->name);
    if (rc)
        return rc;
    if (onnx_map_put(&c->lnames, l->name, c->nl))
        return onnx_err(c, NR_ENOMEM, "out of memory");
    l->op = op;
    l->ninputs = nin;
    for (int i = 0; i < nin; i++)
        l->inputs[i] = ins[i]->layer;
    l->out_val = -1;
    return c->nl++;
}

/* Add tensor "<layer>.<suffix>"; takes ownership of data. */
int onnx_add_tensor(ctx *c, const layer *l, const char *suffix, int ndim, const int64_t *shape,
                    float *data)
{
    if (c->nt == c->capt) {
        int cap = c->capt ? 2 * c->capt : 64;
        nr_tensor_out *T = realloc(c->T, (size_t)cap * sizeof *T);
        if (!T) {
            free(data);
            return onnx_err(c, NR_ENOMEM, "out of memory");
        }
        c->T = T;
        c->capt = cap;
    }
    size_t name_size = strlen(l->name) + strlen(suffix) + 2;
    char *name = malloc(name_size);
    int64_t *sh = malloc((size_t)(ndim ? ndim : 1) * sizeof *sh);
    if (!name || !sh) {
        free(name);
        free(sh);
        free(data);
        return onnx_err(c, NR_ENOMEM, "out of memory");
    }
    snprintf(name, name_size, "%s.%s", l->name, suffix);
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
int onnx_to_f32(ctx *c, const val *v, double s, const char *what, float **out)
{
    float *d = malloc((v->count ? v->count : 1) * sizeof *d);
    if (!d)
        return onnx_err(c, NR_ENOMEM, "out of memory");
    for (size_t k = 0; k < v->count; k++) {
        double x = v->f[k] * s;
        d[k] = (float)x;
        if (isfinite(x) && !isfinite(d[k])) {
            free(d);
            return onnx_err(c, NR_ERANGE, "%s: value %g does not fit float32", what, x);
        }
    }
    *out = d;
    return 0;
}

int onnx_add_vec(ctx *c, const layer *l, const char *suffix, const val *v, double scale)
{
    float *d;
    int rc = onnx_to_f32(c, v, scale, suffix, &d);
    if (rc)
        return rc;
    int64_t n = (int64_t)v->count;
    return onnx_add_tensor(c, l, suffix, 1, &n, d);
}

/* A per-channel vector: count C, at most one non-1 dimension. */
int onnx_check_vec(ctx *c, const val *v, int C, const char *what)
{
    int ok = v->kind == V_CONST && !v->isint && (int64_t)v->count == C;
    for (int i = 0; ok && i < v->ndim; i++)
        ok = v->dims[i] == 1 || v->dims[i] == C;
    if (ok)
        return 0;
    if (v->kind != V_CONST || v->isint)
        return onnx_need_const(c, v, what, 0);
    char d[96];
    return onnx_err(c, NR_ESHAPE, "%s has shape %s, expected [%d]", what,
                    onnx_dims_str(d, sizeof d, v->dims, v->ndim), C);
}

/* ---------------------------------------------------------------- windows */

int onnx_window(ctx *c, node *n, const val *x, int ispool, int ceil_mode, win *w)
{
    int64_t a[8];
    int cnt;
    char autopad[32];
    int rc = onnx_attr_str(c, n, "auto_pad", "NOTSET", autopad, sizeof autopad);
    if (rc)
        return rc;
    const char *names[2] = {"strides", "dilations"};
    int *dst[2] = {w->s, w->d};
    for (int j = 0; j < 2; j++) {
        dst[j][0] = dst[j][1] = 1;
        if ((rc = onnx_attr_ints(c, n, names[j], a, 8, &cnt)))
            return rc;
        if (cnt >= 0 && cnt != 2)
            return onnx_err(c, NR_EUNSUP, "attribute %s has %d entries, expected 2 (2-D only)",
                            names[j], cnt);
        for (int i = 0; i < cnt; i++) {
            if (a[i] < 1 || a[i] > 65536)
                return onnx_err(c, NR_EUNSUP, "attribute %s = %lld, expected 1 .. 65536",
                                names[j], (long long)a[i]);
            dst[j][i] = (int)a[i];
        }
    }
    if (ispool && (w->d[0] != 1 || w->d[1] != 1))
        return onnx_err(c, NR_EUNSUP, "dilated pooling is not supported");
    memset(w->p, 0, sizeof w->p);
    if ((rc = onnx_attr_ints(c, n, "pads", a, 8, &cnt)))
        return rc;
    if (cnt >= 0 && cnt != 4)
        return onnx_err(c, NR_EUNSUP, "attribute pads has %d entries, expected 4", cnt);
    for (int i = 0; i < cnt; i++) {
        if (a[i] < 0 || a[i] > 65536)
            return onnx_err(c, NR_EUNSUP, "attribute pads: %lld, expected 0 .. 65536", (long long)a[i]);
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
        onnx_printable(p, sizeof p, autopad);
        return onnx_err(c, NR_EUNSUP, "auto_pad \"%s\", expected NOTSET, SAME_UPPER, SAME_LOWER or "
                        "VALID", p);
    }
    if (strcmp(autopad, "NOTSET") && cnt > 0 && (w->p[0] | w->p[1] | w->p[2] | w->p[3]))
        return onnx_err(c, NR_ECORRUPT, "both auto_pad and pads are set");
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
            return onnx_err(c, NR_ESHAPE, "kernel %lld (dilated) is larger than the padded input %lld",
                            (long long)ke, (long long)(in + w->p[ax] + w->p[ax + 2]));
        int64_t o = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
        if (ceil_mode && (o - 1) * s >= (int64_t)in + w->p[ax])
            o--; /* the last window must start inside the input or the left padding */
        w->out[ax] = (int)o;
    }
    if (ispool && w->mode != NR_PAD_SAME)
        for (int i = 0; i < 4; i++)
            if (w->p[i] > w->k[i % 2] / 2)
                return onnx_err(c, NR_EUNSUP, "pads [%d, %d, %d, %d] exceed half the kernel [%d, %d] "
                                "(numrep's pools follow PyTorch: pad <= kernel/2)",
                            w->p[0], w->p[1], w->p[2], w->p[3], w->k[0], w->k[1]);
    return 0;
}

int onnx_write_window(ctx *c, layer *l, const win *w, int ispool, int conv)
{
    int rc = lpair(c, l, "kernel", w->k);
    if (!rc && (ispool || w->s[0] != 1 || w->s[1] != 1))
        rc = lpair(c, l, "stride", w->s);
    if (rc)
        return rc;
    if (w->mode == NR_PAD_SAME)
        rc = onnx_lfield(c, l, ", pad: same");
    else if (w->mode == NR_PAD_VALID)
        rc = onnx_lfield(c, l, ", pad: valid");
    else if (w->p[0] == w->p[1] && w->p[0] == w->p[2] && w->p[0] == w->p[3]) {
        if (w->p[0])
            rc = onnx_lfield(c, l, ", pad: %d", w->p[0]);
    } else
        rc = onnx_lfield(c, l, ", pad: [%d, %d, %d, %d]", w->p[0], w->p[1], w->p[2], w->p[3]);
    if (!rc && conv && (w->d[0] != 1 || w->d[1] != 1))
        rc = lpair(c, l, "dilation", w->d);
    return rc;
}
