/* spec.c -- network YAML -> nr_spec.  This file checks what can be checked
 * from the text alone (fields, types, ranges, names, input counts); the
 * graph-level checks (cycles, shapes, weights) are model.c's.  Every error
 * names the file, the line:col of the offending node and the field
 * ("layers[3].stride").  The schema is documented in specs/README.md. */
#include "model.h"
#include "yaml_doc.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
#define X(e, name, nin, w, mac) name,
    NR_OP_LIST(X)
#undef X
};
static const int op_nin[] = {
#define X(e, name, nin, w, mac) nin,
    NR_OP_LIST(X)
#undef X
};

const char *nr_spec_op_name(nr_op op)
{
    return (unsigned)op < NR_OP_COUNT ? op_names[op] : "?";
}

int nr_spec_op_parse(const char *s, nr_op *out)
{
    for (int i = 0; i < NR_OP_COUNT; i++)
        if (!strcmp(s, op_names[i])) {
            *out = (nr_op)i;
            return 0;
        }
    return -1;
}

/* Fields each op accepts besides name/op/input/inputs (space-separated). */
static const char *op_fields(nr_op op)
{
    switch (op) {
    case NR_OP_CONV: return "out kernel stride pad dilation groups bias";
    case NR_OP_DENSE: return "out bias";
    case NR_OP_CLIP: return "min max";
    case NR_OP_MAXPOOL: return "kernel stride pad ceil_mode";
    case NR_OP_AVGPOOL: return "kernel stride pad ceil_mode count_include_pad";
    case NR_OP_BATCHNORM: return "eps";
    case NR_OP_SLICE:
    case NR_OP_PAD: return "c h w";
    case NR_OP_LRN: return "size alpha beta k";
    case NR_OP_LINEAR: return "out bias";
    case NR_OP_MATMUL: return "transpose_a transpose_b";
    case NR_OP_HEADS: return "heads";
    case NR_OP_LAYERNORM: return "eps";
    case NR_OP_SOFTMAX_AXIS: return "axis form";
    case NR_OP_GELU: return "approximate";
    case NR_OP_SCALE: return "by";
    case NR_OP_EMBEDDING: return "vocab out";
    case NR_OP_RMSNORM: return "eps";
    default: return "";
    }
}

#define BIG (1L << 24)   /* bound on every size parameter: keeps products in range */

typedef struct {
    const nr_yaml_doc *d;
    nr_err *err;
    char where[96];      /* "layers[3]" */
} ctx;

static const char *fld(ctx *c, const char *field, char buf[96])
{
    snprintf(buf, 96, "%.60s.%.30s", c->where, field);
    return buf;
}

/* An integer or [a, b]. */
static int get_pair(ctx *c, const nr_yaml_node *m, const char *field, long lo, long hi,
                    int out[2])
{
    const nr_yaml_node *n = nr_yaml_get(m, field);
    char w[96];
    fld(c, field, w);
    if (n->kind == NR_YAML_SCALAR) {
        char got[64];
        nr_yaml_describe(n, got, sizeof got);
        int rc = nr_yaml_int(c->d, n, w, lo, hi, &out[0], c->err);
        if (rc == -NR_ESYNTAX) {
            nr_err_clear(c->err);
            return nr_yaml_err(c->d, n, NR_ESYNTAX, w, c->err,
                               "expected an integer or [h, w], got %s", got);
        }
        out[1] = out[0];
        return rc;
    }
    if (n->kind == NR_YAML_SEQ && n->n == 2) {
        for (int i = 0; i < 2; i++) {
            int rc = nr_yaml_int(c->d, n->items[i], w, lo, hi, &out[i], c->err);
            if (rc)
                return rc;
        }
        return 0;
    }
    char got[64];
    nr_yaml_describe(n, got, sizeof got);
    return nr_yaml_err(c->d, n, NR_ESYNTAX, w, c->err, "expected an integer or [h, w], got %s",
                       got);
}

static int get_int(ctx *c, const nr_yaml_node *m, const char *field, long lo, long hi,
                   int *out)
{
    char w[96];
    return nr_yaml_int(c->d, nr_yaml_get(m, field), fld(c, field, w), lo, hi, out, c->err);
}

static int get_double(ctx *c, const nr_yaml_node *m, const char *field, double *out)
{
    char w[96];
    return nr_yaml_double(c->d, nr_yaml_get(m, field), fld(c, field, w), out, c->err);
}

static int get_bool(ctx *c, const nr_yaml_node *m, const char *field, int *out)
{
    char w[96];
    return nr_yaml_bool(c->d, nr_yaml_get(m, field), fld(c, field, w), out, c->err);
}

static int need(ctx *c, const nr_yaml_node *m, const char *field)
{
    if (nr_yaml_get(m, field))
        return 0;
    char w[96];
    return nr_yaml_err(c->d, m, NR_ESYNTAX, fld(c, field, w), c->err,
                       "missing required field '%s'", field);
}

/* A word out of a list: *out = its index in the space-separated list. */
static int get_choice(ctx *c, const nr_yaml_node *m, const char *field, const char *list,
                      int *out)
{
    const nr_yaml_node *n = nr_yaml_get(m, field);
    char w[96], got[64];
    fld(c, field, w);
    if (n->kind == NR_YAML_SCALAR && !n->quoted) {
        const char *p = list;
        for (int i = 0; *p; i++) {
            size_t k = strcspn(p, " ");
            if (strlen(n->text) == k && !strncmp(n->text, p, k)) {
                *out = i;
                return 0;
            }
            p += k + (p[k] == ' ');
        }
    }
    nr_yaml_describe(n, got, sizeof got);
    return nr_yaml_err(c->d, n, NR_ESYNTAX, w, c->err, "expected one of: %s; got %s", list,
                       got);
}

/* pad: int | [h, w] | [top, left, bottom, right] | same | valid */
static int get_pad(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    const nr_yaml_node *n = nr_yaml_get(m, "pad");
    char w[96], got[64];
    fld(c, "pad", w);
    nr_yaml_describe(n, got, sizeof got);
    if (n->kind == NR_YAML_SCALAR && !n->quoted && !strcmp(n->text, "same")) {
        L->pad_mode = NR_PAD_SAME;
        return 0;
    }
    if (n->kind == NR_YAML_SCALAR && !n->quoted && !strcmp(n->text, "valid")) {
        L->pad_mode = NR_PAD_VALID;
        return 0;
    }
    int v[4];
    if (n->kind == NR_YAML_SCALAR) {
        int rc = nr_yaml_int(c->d, n, w, 0, BIG, &v[0], c->err);
        if (rc == -NR_ESYNTAX) {
            nr_err_clear(c->err);
            goto bad;
        }
        if (rc)
            return rc;
        for (int i = 0; i < 4; i++)
            L->pad[i] = v[0];
        return 0;
    }
    if (n->kind != NR_YAML_SEQ || (n->n != 2 && n->n != 4))
        goto bad;
    for (int i = 0; i < n->n; i++) {
        int rc = nr_yaml_int(c->d, n->items[i], w, 0, BIG, &v[i], c->err);
        if (rc)
            return rc;
    }
    if (n->n == 2) { /* [h, w]: symmetric, like PyTorch padding=(h, w) */
        L->pad[0] = L->pad[2] = v[0];
        L->pad[1] = L->pad[3] = v[1];
    } else {
        memcpy(L->pad, v, sizeof v);
    }
    return 0;
bad:
    return nr_yaml_err(c->d, n, NR_ESYNTAX, w, c->err,
                       "expected an integer, [h, w], [top, left, bottom, right], same or "
                       "valid, got %s",
                       got);
}

/* slice: axis: [start] | [start, stop] | [start, stop, step]; stop may be `end`. */
static int get_slice_axis(ctx *c, const nr_yaml_node *n, const char *w, int ax,
                          nr_layer_spec *L)
{
    char got[64];
    nr_yaml_describe(n, got, sizeof got);
    if (n->kind != NR_YAML_SEQ || n->n < 1 || n->n > 3)
        return nr_yaml_err(c->d, n, NR_ESYNTAX, w, c->err,
                           "expected [start, stop] or [start, stop, step], got %s", got);
    int rc = nr_yaml_int(c->d, n->items[0], w, -BIG, BIG, &L->slice_start[ax], c->err);
    if (rc)
        return rc;
    if (n->n >= 2) {
        const nr_yaml_node *s = n->items[1];
        if (nr_yaml_is_null(s) || (s->kind == NR_YAML_SCALAR && !strcmp(s->text, "end")))
            L->slice_stop[ax] = INT32_MAX;
        else if ((rc = nr_yaml_int(c->d, s, w, -BIG, BIG, &L->slice_stop[ax], c->err))) {
            if (rc == -NR_ESYNTAX) {
                nr_yaml_describe(s, got, sizeof got);
                nr_err_clear(c->err);
                return nr_yaml_err(c->d, s, NR_ESYNTAX, w, c->err,
                                   "expected an integer or end for stop, got %s", got);
            }
            return rc;
        }
    }
    if (n->n == 3)
        return nr_yaml_int(c->d, n->items[2], w, 1, BIG, &L->slice_step[ax], c->err);
    return 0;
}

/* pad op: axis: n | [before, after] */
static int get_pad_axis(ctx *c, const nr_yaml_node *n, const char *w, int ax, nr_layer_spec *L)
{
    if (n->kind == NR_YAML_SCALAR) {
        int rc = nr_yaml_int(c->d, n, w, 0, BIG, &L->pad_before[ax], c->err);
        L->pad_after[ax] = L->pad_before[ax];
        return rc;
    }
    if (n->kind == NR_YAML_SEQ && n->n == 2) {
        int rc = nr_yaml_int(c->d, n->items[0], w, 0, BIG, &L->pad_before[ax], c->err);
        return rc ? rc : nr_yaml_int(c->d, n->items[1], w, 0, BIG, &L->pad_after[ax], c->err);
    }
    char got[64];
    nr_yaml_describe(n, got, sizeof got);
    return nr_yaml_err(c->d, n, NR_ESYNTAX, w, c->err,
                       "expected an integer or [before, after], got %s", got);
}

static int get_axes(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    static const char axes[3][2] = {"c", "h", "w"};
    int any = 0;
    for (int ax = 0; ax < 3; ax++) {
        const nr_yaml_node *n = nr_yaml_get(m, axes[ax]);
        if (!n)
            continue;
        any = 1;
        char w[96];
        fld(c, axes[ax], w);
        int rc = L->op == NR_OP_SLICE ? get_slice_axis(c, n, w, ax, L)
                                      : get_pad_axis(c, n, w, ax, L);
        if (rc)
            return rc;
    }
    if (!any)
        return nr_yaml_err(c->d, m, NR_ESYNTAX, c->where, c->err,
                           "%s needs at least one of the fields c, h, w", nr_spec_op_name(L->op));
    return 0;
}

static int valid_name(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-' || *s == '/'))
            return 0;
    return 1;
}

static int get_name(ctx *c, const nr_yaml_node *n, const char *w, char out[NR_NAME_MAX])
{
    int rc = nr_yaml_string(c->d, n, w, out, NR_NAME_MAX, c->err);
    if (rc)
        return rc;
    if (!valid_name(out))
        return nr_yaml_err(c->d, n, NR_ESYNTAX, w, c->err,
                           "expected a name of letters, digits and _ . - /, got \"%s\"", out);
    return 0;
}

static int parse_inputs(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    const nr_yaml_node *one = nr_yaml_get(m, "input"), *many = nr_yaml_get(m, "inputs");
    char w[96];
    if (one && many)
        return nr_yaml_err(c->d, one, NR_ESYNTAX, fld(c, "input", w), c->err,
                           "give either input or inputs, not both");
    int rc;
    if (one) {
        L->ninputs = 1;
        if ((rc = get_name(c, one, fld(c, "input", w), L->inputs[0])))
            return rc;
    }
    if (many) {
        fld(c, "inputs", w);
        if (many->kind != NR_YAML_SEQ || many->n < 1 || many->n > 8) {
            char got[64];
            nr_yaml_describe(many, got, sizeof got);
            return nr_yaml_err(c->d, many, NR_ESYNTAX, w, c->err,
                               "expected a list of 1 to 8 layer names, got %s", got);
        }
        L->ninputs = many->n;
        for (int i = 0; i < many->n; i++)
            if ((rc = get_name(c, many->items[i], w, L->inputs[i])))
                return rc;
    }
    int nin = op_nin[L->op], have = L->ninputs ? L->ninputs : 1;
    if ((nin > 0 && have != nin) || (nin < 0 && have < 2)) {
        const nr_yaml_node *at = many ? many : one ? one : m;
        return nr_yaml_err(c->d, at, NR_ESYNTAX, fld(c, many ? "inputs" : "input", w), c->err,
                           "%s takes %s input%s, got %d", nr_spec_op_name(L->op),
                           nin == 1 ? "1" : nin == 2 ? "2" : "2 or more", nin == 1 ? "" : "s",
                           have);
    }
    return 0;
}

/* The op-specific fields: parse_params hands each op to one of the
 * params_* steps below, which read its fields in a fixed order (the first
 * error found is the one reported). */
#define HAS(f) (nr_yaml_get(m, f) != NULL)
#define TRY(x)                                                                                 \
    do {                                                                                       \
        int rc_ = (x);                                                                         \
        if (rc_)                                                                               \
            return rc_;                                                                        \
    } while (0)

/* dense, linear, and conv after its own fields: out, bias */
static int params_out(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    TRY(need(c, m, "out"));
    TRY(get_int(c, m, "out", 1, BIG, &L->out));
    if (HAS("bias"))
        TRY(get_bool(c, m, "bias", &L->bias));
    return 0;
}

static int params_conv(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    TRY(need(c, m, "out"));
    TRY(need(c, m, "kernel"));
    TRY(get_pair(c, m, "kernel", 1, 1 << 16, L->kernel));
    if (HAS("stride"))
        TRY(get_pair(c, m, "stride", 1, 1 << 16, L->stride));
    if (HAS("dilation"))
        TRY(get_pair(c, m, "dilation", 1, 1 << 16, L->dilation));
    if (HAS("groups"))
        TRY(get_int(c, m, "groups", 1, BIG, &L->groups));
    if (HAS("pad"))
        TRY(get_pad(c, m, L));
    return params_out(c, m, L); /* out and bias as for dense */
}

static int params_clip(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    TRY(need(c, m, "min"));
    TRY(need(c, m, "max"));
    TRY(get_double(c, m, "min", &L->clip_lo));
    TRY(get_double(c, m, "max", &L->clip_hi));
    if (L->clip_lo > L->clip_hi) {
        char w[96];
        return nr_yaml_err(c->d, nr_yaml_get(m, "max"), NR_ERANGE, fld(c, "max", w), c->err,
                           "expected max >= min (%g), got %g", L->clip_lo, L->clip_hi);
    }
    return 0;
}

/* maxpool, avgpool: stride defaults to the kernel */
static int params_pool(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    TRY(need(c, m, "kernel"));
    TRY(get_pair(c, m, "kernel", 1, 1 << 16, L->kernel));
    L->stride[0] = L->kernel[0];
    L->stride[1] = L->kernel[1];
    if (HAS("stride"))
        TRY(get_pair(c, m, "stride", 1, 1 << 16, L->stride));
    if (HAS("pad"))
        TRY(get_pad(c, m, L));
    if (HAS("ceil_mode"))
        TRY(get_bool(c, m, "ceil_mode", &L->ceil_mode));
    if (HAS("count_include_pad"))
        TRY(get_bool(c, m, "count_include_pad", &L->count_include_pad));
    return 0;
}

/* batchnorm (eps > 0), layernorm and rmsnorm (eps > 0 and finite) */
static int params_eps(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    if (HAS("eps"))
        TRY(get_double(c, m, "eps", &L->eps));
    const int bn = L->op == NR_OP_BATCHNORM;
    if (bn ? L->eps <= 0 : !(L->eps > 0) || !isfinite(L->eps)) {
        char w[96];
        return nr_yaml_err(c->d, nr_yaml_get(m, "eps"), NR_ERANGE, fld(c, "eps", w), c->err,
                           "expected a positive %snumber, got %g", bn ? "" : "finite ", L->eps);
    }
    return 0;
}

static int params_lrn(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    TRY(need(c, m, "size"));
    TRY(get_int(c, m, "size", 1, 1 << 16, &L->lrn_size));
    if (HAS("alpha"))
        TRY(get_double(c, m, "alpha", &L->lrn_alpha));
    if (HAS("beta"))
        TRY(get_double(c, m, "beta", &L->lrn_beta));
    if (HAS("k"))
        TRY(get_double(c, m, "k", &L->lrn_k));
    return 0;
}

/* the sequence ops' own fields ([op-matmul], [op-heads], [op-embedding],
 * [op-softmax], [op-gelu], [op-scale]) */
static int params_seq(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    switch (L->op) {
    case NR_OP_MATMUL:
        if (HAS("transpose_a"))
            TRY(get_bool(c, m, "transpose_a", &L->trans_a));
        if (HAS("transpose_b"))
            TRY(get_bool(c, m, "transpose_b", &L->trans_b));
        return 0;
    case NR_OP_HEADS:
        TRY(need(c, m, "heads"));
        return get_int(c, m, "heads", 1, 1 << 16, &L->heads);
    case NR_OP_EMBEDDING:
        TRY(need(c, m, "vocab"));
        TRY(get_int(c, m, "vocab", 1, BIG, &L->vocab));
        TRY(need(c, m, "out"));
        return get_int(c, m, "out", 1, BIG, &L->out);
    case NR_OP_SOFTMAX_AXIS:
        TRY(need(c, m, "axis"));
        TRY(get_int(c, m, "axis", -3, 2, &L->axis));
        if (L->axis < 0)
            L->axis += 3;
        if (HAS("form"))
            TRY(get_choice(c, m, "form", "max plain", &L->sm_plain));
        return 0;
    case NR_OP_GELU:
        if (HAS("approximate"))
            TRY(get_choice(c, m, "approximate", "none tanh", &L->gelu_tanh));
        return 0;
    case NR_OP_SCALE:
        TRY(need(c, m, "by"));
        TRY(get_double(c, m, "by", &L->scale_by));
        if (!isfinite(L->scale_by)) {
            char w[96];
            return nr_yaml_err(c->d, nr_yaml_get(m, "by"), NR_ERANGE, fld(c, "by", w), c->err,
                               "expected a finite number, got %g", L->scale_by);
        }
        return 0;
    default:
        return 0;
    }
}
#undef HAS
#undef TRY

static int parse_params(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    switch (L->op) {
    case NR_OP_CONV: return params_conv(c, m, L);
    case NR_OP_DENSE:
    case NR_OP_LINEAR: /* [op-linear] */
        return params_out(c, m, L);
    case NR_OP_RELU6:
        L->clip_lo = 0;
        L->clip_hi = 6;
        return 0;
    case NR_OP_CLIP: return params_clip(c, m, L);
    case NR_OP_MAXPOOL:
    case NR_OP_AVGPOOL: return params_pool(c, m, L);
    case NR_OP_BATCHNORM:
    case NR_OP_RMSNORM:   /* [op-rmsnorm] */
    case NR_OP_LAYERNORM: /* [op-layernorm] */
        return params_eps(c, m, L);
    case NR_OP_LRN: return params_lrn(c, m, L);
    case NR_OP_SLICE:
    case NR_OP_PAD: return get_axes(c, m, L);
    default: return params_seq(c, m, L);
    }
}

static void layer_defaults(nr_layer_spec *L)
{
    memset(L, 0, sizeof *L);
    for (int i = 0; i < 2; i++)
        L->kernel[i] = L->stride[i] = L->dilation[i] = 1;
    L->groups = 1;
    L->bias = -1;
    L->count_include_pad = 1;
    L->eps = 1e-5;
    L->lrn_alpha = 1e-4;
    L->lrn_beta = 0.75;
    L->lrn_k = 1.0;
    for (int i = 0; i < 3; i++) {
        L->slice_stop[i] = INT32_MAX;
        L->slice_step[i] = 1;
    }
}

static int parse_layer(ctx *c, const nr_yaml_node *m, nr_layer_spec *L)
{
    layer_defaults(L);
    char w[96];
    if (!m || m->kind != NR_YAML_MAP) {
        char got[64];
        nr_yaml_describe(m, got, sizeof got);
        return nr_yaml_err(c->d, m, NR_ESYNTAX, c->where, c->err,
                           "expected a mapping {name: ..., op: ...}, got %s", got);
    }
    L->line = m->line;
    L->col = m->col;
    int rc;
    if ((rc = need(c, m, "name")) || (rc = need(c, m, "op")))
        return rc;
    if ((rc = get_name(c, nr_yaml_get(m, "name"), fld(c, "name", w), L->name)))
        return rc;
    if (!strcmp(L->name, "input"))
        return nr_yaml_err(c->d, nr_yaml_get(m, "name"), NR_ESYNTAX, w, c->err,
                           "'input' is reserved for the network input");
    const nr_yaml_node *op = nr_yaml_get(m, "op");
    if (op->kind != NR_YAML_SCALAR || nr_spec_op_parse(op->text, &L->op)) {
        char got[64], list[256];
        nr_strbuf ls = nr_strbuf_on(list, sizeof list);
        nr_yaml_describe(op, got, sizeof got);
        for (int i = 0; i < NR_OP_COUNT; i++)
            nr_strbuf_add(&ls, "%s%s", i ? " " : "", op_names[i]);
        return nr_yaml_err(c->d, op, NR_ESYNTAX, fld(c, "op", w), c->err,
                           "unknown op %s (expected one of: %s)", got, list);
    }
    char allowed[160];
    snprintf(allowed, sizeof allowed, "name op input inputs%s%s", op_fields(L->op)[0] ? " " : "",
             op_fields(L->op));
    if ((rc = nr_yaml_check_map(c->d, m, c->where, allowed, c->err)))
        return rc;
    if ((rc = parse_inputs(c, m, L)))
        return rc;
    return parse_params(c, m, L);
}

static int find_layer(const nr_spec *s, int upto, const char *name)
{
    for (int i = 0; i < upto; i++)
        if (!strcmp(s->layers[i].name, name))
            return i;
    return -1;
}

/* Names: unique layer names; every input and the output name a layer or `input`. */
static int check_names(ctx *c, const nr_yaml_node *layers, nr_spec *s, const nr_yaml_node *root)
{
    for (int i = 0; i < s->nlayers; i++) {
        const nr_yaml_node *m = layers->items[i];
        snprintf(c->where, sizeof c->where, "layers[%d]", i);
        char w[96];
        int j = find_layer(s, i, s->layers[i].name);
        if (j >= 0)
            return nr_yaml_err(c->d, nr_yaml_get(m, "name"), NR_ESYNTAX, fld(c, "name", w),
                               c->err, "duplicate layer name \"%s\" (first at %d:%d)",
                               s->layers[i].name, s->layers[j].line, s->layers[j].col);
    }
    for (int i = 0; i < s->nlayers; i++) {
        const nr_yaml_node *m = layers->items[i];
        const nr_layer_spec *L = &s->layers[i];
        snprintf(c->where, sizeof c->where, "layers[%d]", i);
        for (int k = 0; k < L->ninputs; k++) {
            if (!strcmp(L->inputs[k], "input") || find_layer(s, s->nlayers, L->inputs[k]) >= 0)
                continue;
            const nr_yaml_node *at = nr_yaml_get(m, "input");
            char w[96];
            fld(c, at ? "input" : "inputs", w);
            if (!at)
                at = nr_yaml_get(m, "inputs")->items[k];
            return nr_yaml_err(c->d, at, NR_ESYNTAX, w, c->err,
                               "unknown input \"%s\" (expected the name of a layer or input)",
                               L->inputs[k]);
        }
    }
    const nr_yaml_node *out = nr_yaml_get(root, "output");
    if (out && find_layer(s, s->nlayers, s->output) < 0)
        return nr_yaml_err(c->d, out, NR_ESYNTAX, "output", c->err,
                           "unknown layer \"%s\"", s->output);
    if (!out)
        snprintf(s->output, sizeof s->output, "%s", s->layers[s->nlayers - 1].name);
    return 0;
}

/* mean / std: one number (every channel) or a list of C numbers. */
static int get_per_channel(ctx *c, const nr_yaml_node *in, const char *field, int C,
                           int nonzero, float out[3])
{
    const nr_yaml_node *n = nr_yaml_get(in, field);
    if (!n)
        return 0;
    char w[96], got[64];
    snprintf(w, sizeof w, "input.%s", field);
    nr_yaml_describe(n, got, sizeof got);
    int k = n->kind == NR_YAML_SEQ ? n->n : 1;
    if ((n->kind != NR_YAML_SCALAR && n->kind != NR_YAML_SEQ) ||
        (n->kind == NR_YAML_SEQ && n->n != C))
        return nr_yaml_err(c->d, n, NR_ESYNTAX, w, c->err,
                           "expected a number or a list of %d numbers (one per channel), got %s",
                           C, got);
    for (int i = 0; i < k; i++) {
        const nr_yaml_node *v = n->kind == NR_YAML_SEQ ? n->items[i] : n;
        double d;
        int rc = nr_yaml_double(c->d, v, w, &d, c->err);
        if (rc)
            return rc;
        float f = (float)d; /* torchvision keeps mean/std as float32 tensors */
        if (!isfinite(f) || (nonzero && f == 0))
            return nr_yaml_err(c->d, v, NR_ERANGE, w, c->err,
                               "expected a finite%s number that fits float32, got %g",
                               nonzero ? " nonzero" : "", d);
        for (int j = 0; j < 3; j++)
            if (n->kind == NR_YAML_SEQ ? j == i : 1)
                out[j] = f;
    }
    return 0;
}

/* input.shape: [C, H, W], at most 2^31-1 elements */
static int input_shape(ctx *c, const nr_yaml_node *in, nr_spec *s)
{
    const nr_yaml_node *sh = nr_yaml_get(in, "shape");
    if (!sh || sh->kind != NR_YAML_SEQ || sh->n != 3) {
        char got[64];
        nr_yaml_describe(sh, got, sizeof got);
        return nr_yaml_err(c->d, sh ? sh : in, NR_ESYNTAX, "input.shape", c->err,
                           "expected [C, H, W], got %s", got);
    }
    int rc;
    for (int i = 0; i < 3; i++)
        if ((rc = nr_yaml_int(c->d, sh->items[i], "input.shape", 1, BIG, &s->in_shape[i],
                              c->err)))
            return rc;
    if ((long long)s->in_shape[0] * s->in_shape[1] * s->in_shape[2] > INT_MAX)
        return nr_yaml_err(c->d, sh, NR_ERANGE, "input.shape", c->err,
                           "more than 2^31-1 elements");
    return 0;
}

/* input.layout (chw only), channel_order, divisor: into pp (C channels) */
static int input_pixels(ctx *c, const nr_yaml_node *in, int C, nr_preprocess *pp)
{
    const nr_yaml_node *n;
    int rc;
    if ((n = nr_yaml_get(in, "layout"))) {
        char got[64];
        nr_yaml_describe(n, got, sizeof got);
        if (n->kind != NR_YAML_SCALAR || strcmp(n->text, "chw"))
            return nr_yaml_err(c->d, n, NR_EUNSUP, "input.layout", c->err,
                               "expected chw (numrep networks take [C, H, W] input), got %s",
                               got);
    }
    if ((n = nr_yaml_get(in, "channel_order"))) {
        char got[64];
        nr_yaml_describe(n, got, sizeof got);
        int rgb = n->kind == NR_YAML_SCALAR && !strcmp(n->text, "rgb");
        int bgr = n->kind == NR_YAML_SCALAR && !strcmp(n->text, "bgr");
        if (!rgb && !bgr)
            return nr_yaml_err(c->d, n, NR_ESYNTAX, "input.channel_order", c->err,
                               "expected rgb or bgr, got %s", got);
        if (bgr && C != 3)
            return nr_yaml_err(c->d, n, NR_ESHAPE, "input.channel_order", c->err,
                               "bgr needs 3 channels, but shape has %d", C);
        pp->bgr = bgr;
    }
    if ((n = nr_yaml_get(in, "divisor"))) {
        double d;
        if ((rc = nr_yaml_double(c->d, n, "input.divisor", &d, c->err)))
            return rc;
        if (!(d > 0 && (float)d > 0 && isfinite((float)d)))
            return nr_yaml_err(c->d, n, NR_ERANGE, "input.divisor", c->err,
                               "expected a positive number that fits float32 (x = pixel / "
                               "divisor), got %g",
                               d);
        pp->divisor = (float)d;
    }
    return 0;
}

/* input.resize: the shorter side (an integer) or an exact [h, w] */
static int input_resize(ctx *c, const nr_yaml_node *in, const nr_yaml_node *rs, nr_preprocess *pp)
{
    int rc;
    if (rs && rs->kind == NR_YAML_SEQ) { /* exact [h, w], aspect ignored */
        int hw[2];
        snprintf(c->where, sizeof c->where, "input");
        if ((rc = get_pair(c, in, "resize", 1, 65536, hw)))
            return rc;
        pp->resize_h = hw[0];
        pp->resize_w = hw[1];
    } else if (rs &&
               (rc = nr_yaml_int(c->d, rs, "input.resize", 1, 65536, &pp->resize_short, c->err))) {
        if (rc == -NR_ESYNTAX) {
            char got[64];
            nr_yaml_describe(rs, got, sizeof got);
            nr_err_clear(c->err);
            return nr_yaml_err(c->d, rs, NR_ESYNTAX, "input.resize", c->err,
                               "expected an integer (the shorter side) or [h, w] (the exact "
                               "size), got %s",
                               got);
        }
        return rc;
    }
    return 0;
}

/* input.crop (the shape's H, W), and resize and crop agreeing with it and
 * with each other */
static int input_crop(ctx *c, const nr_yaml_node *in, const nr_yaml_node *rs, nr_spec *s)
{
    nr_preprocess *pp = &s->pp;
    int rc;
    const nr_yaml_node *crop = nr_yaml_get(in, "crop");
    if (crop) {
        int hw[2];
        snprintf(c->where, sizeof c->where, "input");
        if ((rc = get_pair(c, in, "crop", 1, 65536, hw)))
            return rc;
        if (hw[0] != s->in_shape[1] || hw[1] != s->in_shape[2])
            return nr_yaml_err(c->d, crop, NR_ESHAPE, "input.crop", c->err,
                               "expected the input shape's H, W (%d, %d), got %d, %d",
                               s->in_shape[1], s->in_shape[2], hw[0], hw[1]);
        pp->crop_h = hw[0];
        pp->crop_w = hw[1];
    } else if (pp->resize_h) {
        if (pp->resize_h != s->in_shape[1] || pp->resize_w != s->in_shape[2])
            return nr_yaml_err(c->d, rs, NR_ESHAPE, "input.resize", c->err,
                               "without crop, expected the input shape's H, W (%d, %d), got "
                               "%d, %d",
                               s->in_shape[1], s->in_shape[2], pp->resize_h, pp->resize_w);
    } else if (rs) {
        return nr_yaml_err(c->d, rs, NR_ESYNTAX, "input.resize", c->err,
                           "resize needs crop: [%d, %d] too (resized images vary in shape)",
                           s->in_shape[1], s->in_shape[2]);
    }
    if (pp->resize_short && pp->resize_short < (pp->crop_h < pp->crop_w ? pp->crop_h : pp->crop_w))
        return nr_yaml_err(c->d, rs, NR_ERANGE, "input.resize", c->err,
                           "the shorter side after resizing (%d) is smaller than the crop "
                           "%dx%d",
                           pp->resize_short, pp->crop_h, pp->crop_w);
    if (pp->resize_h && (pp->resize_h < pp->crop_h || pp->resize_w < pp->crop_w))
        return nr_yaml_err(c->d, rs, NR_ERANGE, "input.resize", c->err,
                           "the resized image (%d, %d) is smaller than the crop (%d, %d)",
                           pp->resize_h, pp->resize_w, pp->crop_h, pp->crop_w);
    return 0;
}

/* input: {shape: [C, H, W], layout, channel_order, divisor, mean, std,
 * resize, crop}.  Everything but shape declares the preprocessing `numrep
 * eval` applies to stored uint8 images (dataset.h's order: resize, crop,
 * channels, scale).  resize is the shorter side (an integer) or an exact
 * [h, w] that ignores the aspect ratio (Caffe). */
static int parse_input(ctx *c, const nr_yaml_node *root, nr_spec *s)
{
    const nr_yaml_node *in = nr_yaml_get(root, "input");
    if (!in)
        return nr_yaml_err(c->d, root, NR_ESYNTAX, "input", c->err,
                           "missing required field 'input' ({shape: [C, H, W]})");
    int rc = nr_yaml_check_map(c->d, in, "input",
                               "shape layout channel_order divisor mean std resize crop",
                               c->err);
    if (rc || (rc = input_shape(c, in, s)))
        return rc;

    nr_preprocess *pp = &s->pp;
    nr_preprocess_init(pp);
    s->has_pp = in->kind == NR_YAML_MAP && in->n > 1;
    if (!s->has_pp)
        return 0;
    const int C = s->in_shape[0];
    if (C != 1 && C != 3)
        return nr_yaml_err(c->d, in, NR_EUNSUP, "input", c->err,
                           "preprocessing is declared for images with 1 or 3 channels, but "
                           "shape has %d",
                           C);
    pp->channels = C; /* a gray image becomes RGB (or RGB gray) as the shape asks */
    const nr_yaml_node *rs = nr_yaml_get(in, "resize");
    if ((rc = input_pixels(c, in, C, pp)) ||
        (rc = get_per_channel(c, in, "mean", C, 0, pp->mean)) ||
        (rc = get_per_channel(c, in, "std", C, 1, pp->std)) ||
        (rc = input_resize(c, in, rs, pp)) || (rc = input_crop(c, in, rs, s)))
        return rc;
    nr_err e = {0};
    if (nr_preprocess_check(pp, &e)) /* belt and braces: dataset.h's own rules */
        return nr_yaml_err(c->d, in, e.code, "input", c->err, "%s: %s", e.where, e.msg);
    return 0;
}

/* A path relative to the directory of the spec file. */
static int resolve_path(ctx *c, const nr_yaml_node *n, const char *field, const char *path,
                        char out[512])
{
    char file[512];
    int rc = nr_yaml_string(c->d, n, field, file, sizeof file, c->err);
    if (rc)
        return rc;
    const char *slash = path ? strrchr(path, '/') : NULL;
    int dirlen = file[0] == '/' || !slash ? 0 : (int)(slash - path) + 1;
    if ((size_t)dirlen + strlen(file) >= 512)
        return nr_yaml_err(c->d, n, NR_ERANGE, field, c->err, "path too long");
    if (dirlen)
        memcpy(out, path, (size_t)dirlen);   /* lengths checked above */
    memcpy(out + dirlen, file, strlen(file) + 1);
    return 0;
}

/* weights and dataset: relative to the directory of the spec file. */
static int resolve_files(ctx *c, const nr_yaml_node *root, nr_spec *s, const char *path)
{
    const nr_yaml_node *n;
    int rc;
    if ((n = nr_yaml_get(root, "weights")) &&
        (rc = resolve_path(c, n, "weights", path, s->weights)))
        return rc;
    if ((n = nr_yaml_get(root, "dataset")) &&
        (rc = resolve_path(c, n, "dataset", path, s->dataset)))
        return rc;
    return 0;
}

static int parse_doc(const nr_yaml_doc *d, const char *path, nr_spec *s, nr_err *err)
{
    ctx c = {.d = d, .err = err};
    const nr_yaml_node *root = d->root;
    int rc = nr_yaml_check_map(d, root, "", "name input weights dataset layers output", err);
    if (rc)
        return rc;
    const nr_yaml_node *n;
    if ((n = nr_yaml_get(root, "name")) &&
        (rc = nr_yaml_string(d, n, "name", s->name, sizeof s->name, err)))
        return rc;
    if ((rc = parse_input(&c, root, s)) || (rc = resolve_files(&c, root, s, path)))
        return rc;
    if ((n = nr_yaml_get(root, "output")) &&
        (rc = get_name(&c, n, "output", s->output)))
        return rc;
    const nr_yaml_node *layers = nr_yaml_get(root, "layers");
    if (!layers || layers->kind != NR_YAML_SEQ || layers->n == 0) {
        char got[64];
        nr_yaml_describe(layers, got, sizeof got);
        return nr_yaml_err(d, layers ? layers : root, NR_ESYNTAX, "layers", err,
                           "expected a non-empty list of layers, got %s", got);
    }
    s->layers = calloc((size_t)layers->n, sizeof *s->layers);
    if (!s->layers)
        return nr_err_set(err, NR_ENOMEM, d->path, 0, 0, "layers", "out of memory");
    for (int i = 0; i < layers->n; i++) {
        snprintf(c.where, sizeof c.where, "layers[%d]", i);
        s->nlayers = i + 1;
        if ((rc = parse_layer(&c, layers->items[i], &s->layers[i])))
            return rc;
    }
    return check_names(&c, layers, s, root);
}

static void default_name(nr_spec *s, const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strcspn(b, ".");
    snprintf(s->name, sizeof s->name, "%.*s", (int)(n < NR_NAME_MAX ? n : NR_NAME_MAX - 1), b);
}

static int from_doc(nr_yaml_doc *d, const char *path, nr_spec **out, nr_err *err)
{
    nr_spec *s = calloc(1, sizeof *s);
    if (!s) {
        nr_yaml_free(d);
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, "", "out of memory");
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    int rc = parse_doc(d, path, s, err);
    nr_yaml_free(d);
    if (rc) {
        nr_spec_free(s);
        return rc;
    }
    if (!s->name[0])
        default_name(s, path);
    *out = s;
    return 0;
}

int nr_spec_parse_string(const char *text, const char *path_for_messages, nr_spec **out,
                         nr_err *err)
{
    *out = NULL;
    const char *path = path_for_messages ? path_for_messages : "<string>";
    nr_yaml_doc *d;
    int rc = nr_yaml_parse(text, strlen(text), path, &d, err);
    return rc ? rc : from_doc(d, path, out, err);
}

int nr_spec_load(const char *path, nr_spec **out, nr_err *err)
{
    *out = NULL;
    nr_yaml_doc *d;
    int rc = nr_yaml_load(path, &d, err);
    return rc ? rc : from_doc(d, path, out, err);
}

void nr_spec_free(nr_spec *s)
{
    if (!s)
        return;
    free(s->layers);
    free(s);
}
