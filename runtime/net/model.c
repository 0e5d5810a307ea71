/* model.c -- nr_spec + nr_precision + weights -> nr_model: inputs
 * resolved to layers, topological order (cycles reported), shapes inferred
 * and checked, pads resolved, weights bound from safetensors (or random
 * from a seed) with batchnorm folded in double, and a precision on every
 * layer.  After nr_model_build the model is immutable; the emulator and
 * the generator only read it.  Errors name the spec file with the layer's
 * line:col and field, or the weights file with the tensor. */
#include "model.h"
#include "tensorio.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    nr_model *m;
    nr_spec *s;
    nr_err *err;
    int S;             /* spec layers                                     */
    int (*src)[8];     /* spec inputs: spec index, -1 = network input     */
    int *nsrc;
    int *order;        /* spec indices in topological order               */
    int *fold_into;    /* batchnorm spec index -> conv/dense spec index, or -1 */
    int *bn_of;        /* conv/dense spec index -> folded batchnorm, or -1 */
    int *mi;           /* spec index -> model layer index                 */
    /* weights */
    const char *wpath;
    nr_safetensors *st;
    unsigned char *used;
    uint64_t seed;
    uint64_t max_memory; /* bytes; UINT64_MAX: no limit */
} build;

/* ---------------------------------------------------------------- errors */

static int layer_err(build *b, int si, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int layer_err(build *b, int si, int code, const char *field, const char *fmt, ...)
{
    const nr_layer_spec *L = &b->s->layers[si];
    char where[96], msg[256];
    snprintf(where, sizeof where, "layers[%d]%s%s", si, field ? "." : "", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nr_err_set(b->err, code, b->s->path, L->line, L->col, where, "%s (layer %s)", msg,
                      L->name);
}

static void shape_str(const int sh[3], char *buf, size_t n)
{
    snprintf(buf, n, "[%d, %d, %d]", sh[0], sh[1], sh[2]);
}

size_t nr_shape_count(const int shape[3])
{
    return (size_t)shape[0] * (size_t)shape[1] * (size_t)shape[2];
}

/* ---------------------------------------------------------------- graph */

static int spec_find(const nr_spec *s, const char *name)
{
    for (int i = 0; i < s->nlayers; i++)
        if (!strcmp(s->layers[i].name, name))
            return i;
    return -1;
}

static int resolve_inputs(build *b)
{
    for (int i = 0; i < b->S; i++) {
        const nr_layer_spec *L = &b->s->layers[i];
        if (L->ninputs == 0) {
            b->nsrc[i] = 1;
            b->src[i][0] = i - 1;   /* the previous layer; -1 = network input */
            continue;
        }
        if (L->ninputs < 0 || L->ninputs > 8)
            return layer_err(b, i, NR_ERANGE, "inputs", "expected 1 to 8 inputs, got %d",
                             L->ninputs);
        b->nsrc[i] = L->ninputs;
        for (int k = 0; k < L->ninputs; k++) {
            int j = strcmp(L->inputs[k], "input") ? spec_find(b->s, L->inputs[k]) : -1;
            if (j == -1 && strcmp(L->inputs[k], "input"))
                return layer_err(b, i, NR_ESYNTAX, "inputs",
                                 "unknown input \"%s\" (expected a layer name or input)",
                                 L->inputs[k]);
            b->src[i][k] = j;
        }
    }
    return 0;
}

/* Stable topological sort: among ready layers the earliest in the text goes
 * first, so a spec written in order keeps its order. */
static int topo_sort(build *b)
{
    unsigned char *placed = calloc((size_t)b->S, 1);
    if (!placed)
        return nr_err_set(b->err, NR_ENOMEM, b->s->path, 0, 0, "", "out of memory");
    int n = 0, progress = 1;
    while (n < b->S && progress) {
        progress = 0;
        for (int i = 0; i < b->S; i++) {
            if (placed[i])
                continue;
            int ready = 1;
            for (int k = 0; k < b->nsrc[i] && ready; k++)
                ready = b->src[i][k] < 0 || placed[b->src[i][k]];
            if (ready) {
                placed[i] = 1;
                b->order[n++] = i;
                progress = 1;
                break;   /* restart: keeps the earliest-ready-first order */
            }
        }
    }
    if (n == b->S) {
        free(placed);
        return 0;
    }
    /* Every unplaced layer waits for an unplaced input: walk those links
     * until a layer repeats, then print the cycle from that layer. */
    int start = 0;
    while (placed[start])
        start++;
    int *seen = calloc((size_t)b->S, sizeof *seen), cur = start, step = 1;
    if (!seen) {
        free(placed);
        return nr_err_set(b->err, NR_ENOMEM, b->s->path, 0, 0, "", "out of memory");
    }
    while (!seen[cur]) {
        seen[cur] = step++;
        int next = -1;
        for (int k = 0; k < b->nsrc[cur] && next < 0; k++)
            if (b->src[cur][k] >= 0 && !placed[b->src[cur][k]])
                next = b->src[cur][k];
        cur = next;
    }
    char path[200] = "";
    int c = cur;
    do {
        size_t k = strlen(path);
        snprintf(path + k, sizeof path - k, "%s <- ", b->s->layers[c].name);
        int next = -1;
        for (int j = 0; j < b->nsrc[c] && next < 0; j++)
            if (b->src[c][j] >= 0 && !placed[b->src[c][j]] && seen[b->src[c][j]])
                next = b->src[c][j];
        c = next;
    } while (c != cur && c >= 0);
    size_t k = strlen(path);
    snprintf(path + k, sizeof path - k, "%s", b->s->layers[cur].name);
    free(seen);
    free(placed);
    return layer_err(b, cur, NR_ESYNTAX, "inputs",
                     "the layers form a cycle: %s (each reads the next)", path);
}

/* A batchnorm folds into the conv/dense it reads when nothing else reads
 * that layer's output (and it is not the network output). */
static void plan_folding(build *b, int out_si)
{
    int *cons = calloc((size_t)b->S, sizeof *cons);
    for (int i = 0; i < b->S; i++)
        b->fold_into[i] = b->bn_of[i] = -1;
    if (!cons)
        return; /* no folding: still correct, batchnorm stays a layer */
    for (int i = 0; i < b->S; i++)
        for (int k = 0; k < b->nsrc[i]; k++)
            if (b->src[i][k] >= 0)
                cons[b->src[i][k]]++;
    cons[out_si]++;
    for (int i = 0; i < b->S; i++) {
        int p = b->src[i][0];
        if (b->s->layers[i].op != NR_OP_BATCHNORM || p < 0 || cons[p] != 1)
            continue;
        nr_op pop = b->s->layers[p].op;
        if (pop == NR_OP_CONV || pop == NR_OP_DENSE) {
            b->fold_into[i] = p;
            b->bn_of[p] = i;
        }
    }
    free(cons);
}

/* ---------------------------------------------------------------- shapes */

/* Output size along one axis of a window op; -1 if the window does not fit. */
static int window_out(int in, int k_eff, int stride, int p0, int p1, int ceil_mode)
{
    long long span = (long long)in + p0 + p1 - k_eff;
    if (span < 0)
        return -1;
    long long o = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    /* PyTorch: with ceil_mode the last window must start inside the input
     * or the left padding */
    if (ceil_mode && (o - 1) * stride >= (long long)in + p0)
        o--;
    return o > INT_MAX ? -1 : (int)o;
}

static void resolve_pad(const nr_layer_spec *L, const int in[3], const int k_eff[2], int pad[4])
{
    if (L->pad_mode == NR_PAD_EXPLICIT) {
        memcpy(pad, L->pad, 4 * sizeof *pad);
        return;
    }
    for (int a = 0; a < 2; a++) {
        int total = 0;
        if (L->pad_mode == NR_PAD_SAME) {
            /* TensorFlow: output ceil(in / stride), the extra pad at the end */
            long long n = in[1 + a], s = L->stride[a];
            long long t = ((n + s - 1) / s - 1) * s + k_eff[a] - n;
            total = t > 0 ? (int)t : 0;
        }
        pad[a] = total / 2;
        pad[a + 2] = total - total / 2;
    }
}

static int infer_window(build *b, int si, nr_layer *L, const int *in, int dilated)
{
    const nr_layer_spec *P = &b->s->layers[si];
    int k_eff[2];
    for (int a = 0; a < 2; a++)
        k_eff[a] = dilated ? (P->kernel[a] - 1) * P->dilation[a] + 1 : P->kernel[a];
    resolve_pad(P, in, k_eff, L->pad);
    if (!dilated && P->pad_mode == NR_PAD_EXPLICIT)
        for (int a = 0; a < 4; a++)
            if (2 * L->pad[a] > P->kernel[a % 2])
                return layer_err(b, si, NR_ERANGE, "pad",
                                 "pad %d is more than half the kernel (%d)", L->pad[a],
                                 P->kernel[a % 2]);
    for (int a = 0; a < 2; a++) {
        int o = window_out(in[1 + a], k_eff[a], P->stride[a], L->pad[a], L->pad[a + 2],
                           dilated ? 0 : P->ceil_mode);
        if (o < 1)
            return layer_err(b, si, NR_ESHAPE, "kernel",
                             "%s kernel %d%s is larger than the padded input %s %d (%d + %d + %d)",
                             a ? "width" : "height", k_eff[a], dilated ? " (dilated)" : "",
                             a ? "width" : "height", in[1 + a] + L->pad[a] + L->pad[a + 2],
                             in[1 + a], L->pad[a], L->pad[a + 2]);
        L->out_shape[1 + a] = o;
    }
    return 0;
}

static int infer_slice(build *b, int si, nr_layer *L, const int *in)
{
    static const char *const ax[3] = {"c", "h", "w"};
    nr_layer_spec *P = &b->s->layers[si];
    for (int a = 0; a < 3; a++) {
        long long n = in[a], lo = P->slice_start[a], hi = P->slice_stop[a];
        if (lo < 0)
            lo += n;
        if (hi == INT32_MAX)
            hi = n;
        else if (hi < 0)
            hi += n;
        if (lo < 0 || hi > n || lo >= hi)
            return layer_err(b, si, NR_ESHAPE, ax[a],
                             "slice [%d, %d) is empty or outside the axis of size %lld",
                             P->slice_start[a], P->slice_stop[a], n);
        /* the model owns the spec: store the bounds resolved, 0 <= start < stop <= n */
        P->slice_start[a] = (int)lo;
        P->slice_stop[a] = (int)hi;
        L->out_shape[a] = (int)((hi - lo + P->slice_step[a] - 1) / P->slice_step[a]);
    }
    return 0;
}

static int infer(build *b, int si, nr_layer *L)
{
    const nr_layer_spec *P = &b->s->layers[si];
    const int *in = L->in_shape[0];
    char s1[48], s2[48];
    memcpy(L->out_shape, in, sizeof L->out_shape);
    long long cnt = (long long)in[0] * in[1] * in[2];
    switch (P->op) {
    case NR_OP_CONV: {
        if (in[0] % P->groups || P->out % P->groups)
            return layer_err(b, si, NR_ESHAPE, "groups",
                             "groups %d must divide the input channels (%d) and out (%d)",
                             P->groups, in[0], P->out);
        int rc = infer_window(b, si, L, in, 1);
        if (rc)
            return rc;
        L->out_shape[0] = P->out;
        L->macs = (long long)P->out * L->out_shape[1] * L->out_shape[2] * (in[0] / P->groups) *
                  P->kernel[0] * P->kernel[1];
        break;
    }
    case NR_OP_DENSE:
        L->out_shape[0] = P->out;
        L->out_shape[1] = L->out_shape[2] = 1;
        L->macs = (long long)P->out * cnt;
        break;
    case NR_OP_MAXPOOL:
    case NR_OP_AVGPOOL:
        return infer_window(b, si, L, in, 0);
    case NR_OP_GLOBAL_AVGPOOL:
        L->out_shape[1] = L->out_shape[2] = 1;
        break;
    case NR_OP_BATCHNORM:
        L->macs = cnt;
        break;
    case NR_OP_ADD:
        if (memcmp(L->in_shape[0], L->in_shape[1], sizeof L->in_shape[0])) {
            shape_str(L->in_shape[0], s1, sizeof s1);
            shape_str(L->in_shape[1], s2, sizeof s2);
            return layer_err(b, si, NR_ESHAPE, "inputs",
                             "add needs equal shapes, got %s and %s", s1, s2);
        }
        break;
    case NR_OP_CONCAT: {
        long long c = 0;
        for (int k = 0; k < L->ninputs; k++) {
            if (L->in_shape[k][1] != in[1] || L->in_shape[k][2] != in[2]) {
                shape_str(L->in_shape[0], s1, sizeof s1);
                shape_str(L->in_shape[k], s2, sizeof s2);
                return layer_err(b, si, NR_ESHAPE, "inputs",
                                 "concat needs equal height and width, got %s (input 0) and "
                                 "%s (input %d)",
                                 s1, s2, k);
            }
            c += L->in_shape[k][0];
        }
        if (c > INT_MAX)
            return layer_err(b, si, NR_ERANGE, "inputs", "too many channels");
        L->out_shape[0] = (int)c;
        break;
    }
    case NR_OP_SLICE:
        return infer_slice(b, si, L, in);
    case NR_OP_PAD:
        for (int a = 0; a < 3; a++) {
            long long n = (long long)in[a] + P->pad_before[a] + P->pad_after[a];
            if (n > INT_MAX)
                return layer_err(b, si, NR_ERANGE, "c", "padded size too large");
            L->out_shape[a] = (int)n;
        }
        break;
    case NR_OP_FLATTEN:
        L->out_shape[0] = (int)cnt;   /* bounded by the total-size check */
        L->out_shape[1] = L->out_shape[2] = 1;
        break;
    default: { /* relu relu6 clip lrn softmax dropout: shape unchanged */
        if (!nr_model_op_is_seq(P->op))
            break;
        const char *field;
        char msg[200];
        int rc = nr_model_seq_infer(P, L, &field, msg, sizeof msg);
        if (rc)
            return layer_err(b, si, rc, field, "%s", msg);
        break;
    }
    }
    return 0;
}

/* ---------------------------------------------------------------- layers */

static int build_layers(build *b)
{
    nr_model *m = b->m;
    int n = 0;
    for (int t = 0; t < b->S; t++)
        n += b->fold_into[b->order[t]] < 0;
    m->layers = calloc((size_t)n, sizeof *m->layers);
    if (!m->layers)
        return nr_err_set(b->err, NR_ENOMEM, b->s->path, 0, 0, "", "out of memory");
    for (int t = 0; t < b->S; t++) {
        int si = b->order[t];
        if (b->fold_into[si] >= 0) {
            b->mi[si] = b->mi[b->fold_into[si]];  /* reading the BN reads the folded layer */
            continue;
        }
        nr_layer *L = &m->layers[m->nlayers];
        const nr_layer_spec *P = &b->s->layers[si];
        b->mi[si] = L->index = m->nlayers++;
        snprintf(L->name, sizeof L->name, "%s", P->name);
        L->op = P->op;
        L->spec = P;
        L->ninputs = b->nsrc[si];
        for (int k = 0; k < L->ninputs; k++) {
            int j = b->src[si][k];
            L->inputs[k] = j < 0 ? -1 : b->mi[j];
            memcpy(L->in_shape[k], j < 0 ? m->in_shape : m->layers[b->mi[j]].out_shape,
                   sizeof L->in_shape[k]);
        }
        if (b->bn_of[si] >= 0)
            snprintf(L->folded_bn, sizeof L->folded_bn, "%s", b->s->layers[b->bn_of[si]].name);
        int rc = infer(b, si, L);
        if (rc)
            return rc;
        if ((long long)L->out_shape[0] * L->out_shape[1] * L->out_shape[2] > INT_MAX)
            return layer_err(b, si, NR_ERANGE, NULL, "output has more than 2^31-1 elements");
    }
    return 0;
}

/* ---------------------------------------------------------------- weights */

/* Deterministic pseudo-random weights (splitmix64), float32-representable
 * so that an fp32 run sees them exactly. */

static void fill_random(uint64_t seed, int si, int tensor, double lo, double hi, double *x,
                        size_t n)
{
    uint64_t s = seed ^ ((uint64_t)(si + 1) * 0xD1B54A32D192ED03ull) ^
                 ((uint64_t)(tensor + 1) * 0xABC98388FB8FAC03ull);
    for (size_t i = 0; i < n; i++) {
        double u = (double)(nr_hash_next(&s) >> 11) * 0x1p-53;
        x[i] = (double)(float)(lo + (hi - lo) * u);
    }
}

/* Bind tensor "<layer>.<suffix>" of the given shape into *dst (malloc'ed).
 * required = 0: absent is fine (*dst stays NULL). */
static int bind(build *b, int si, const char *suffix, int tensor_id, int ndim,
                const int64_t *shape, double lo, double hi, int required, double **dst)
{
    const nr_layer_spec *P = &b->s->layers[si];
    size_t count = 1;
    char want[96], tname[160];
    nr_strbuf ws = nr_strbuf_on(want, sizeof want);
    nr_strbuf_add(&ws, "[");
    nr_strbuf_dims(&ws, shape, ndim, ", ");
    nr_strbuf_add(&ws, "]");
    for (int d = 0; d < ndim; d++)
        if (__builtin_mul_overflow(count, (size_t)shape[d], &count) || count > SIZE_MAX / 8)
            return nr_err_set(b->err, NR_ERANGE, b->s->path, P->line, P->col, P->name,
                              "tensor %s.%s %s has too many elements", P->name, suffix, want);
    snprintf(tname, sizeof tname, "%s.%s", P->name, suffix);
    char where[200];
    snprintf(where, sizeof where, "tensor %s", tname);
    *dst = NULL;
    int i = -1;
    if (!b->seed) {
        i = nr_safetensors_find(b->st, tname);
        if (i < 0) {
            if (!required)
                return 0;
            return nr_err_set(b->err, NR_ESHAPE, b->wpath, 0, 0, where,
                              "missing: layer %s (%s:%d:%d) needs %s %s", P->name, b->s->path,
                              P->line, P->col, nr_spec_op_name(P->op), want);
        }
        const nr_tensor_info *ti = nr_safetensors_info(b->st, i);
        int ok = ti->ndim == ndim;
        for (int d = 0; ok && d < ndim; d++)
            ok = ti->shape[d] == shape[d];
        if (!ok) {
            char got[96];
            nr_strbuf gs = nr_strbuf_on(got, sizeof got);
            nr_strbuf_add(&gs, "[");
            nr_strbuf_dims(&gs, ti->shape, ti->ndim < NR_TENSOR_MAXDIM ? ti->ndim : NR_TENSOR_MAXDIM,
                           ", ");
            nr_strbuf_add(&gs, "]");
            return nr_err_set(b->err, NR_ESHAPE, b->wpath, 0, 0, where,
                              "expected shape %s for %s layer %s, got %s", want,
                              nr_spec_op_name(P->op), P->name, got);
        }
    }
    double *x = malloc((count ? count : 1) * sizeof *x);
    if (!x)
        return nr_err_set(b->err, NR_ENOMEM, b->wpath, 0, 0, where, "out of memory");
    if (b->seed) {
        fill_random(b->seed, si, tensor_id, lo, hi, x, count);
    } else {
        int rc = nr_safetensors_read_f64(b->st, i, x, b->err);
        if (rc) {
            free(x);
            return rc;
        }
        b->used[i] = 1;
    }
    *dst = x;
    return 0;
}

/* The weight tensor's shape of conv/dense layer L (spec layer P); returns
 * its dimension count (4 for conv, 2 for dense). */
static int mac_weight_shape(const nr_layer_spec *P, const nr_layer *L, int64_t ws[4])
{
    ws[0] = P->out;
    if (P->op == NR_OP_CONV) {
        ws[1] = L->in_shape[0][0] / P->groups;
        ws[2] = P->kernel[0];
        ws[3] = P->kernel[1];
        return 4;
    }
    if (P->op == NR_OP_LINEAR) { /* [op-linear] per token over the features */
        ws[1] = L->in_shape[0][2];
        return 2;
    }
    ws[1] = (int64_t)nr_shape_count(L->in_shape[0]);  /* C, H, W order (flatten) */
    return 2;
}

/* conv/dense weights and bias. */
static int bind_mac(build *b, int si, nr_layer *L)
{
    const nr_layer_spec *P = &b->s->layers[si];
    int64_t ws[4], bs[1] = {P->out};
    int ndim = mac_weight_shape(P, L, ws);
    double fan_in = (double)ws[1] * (ndim == 4 ? (double)ws[2] * (double)ws[3] : 1.0);
    double a = sqrt(6.0 / fan_in), ab = 1.0 / sqrt(fan_in);
    int rc = bind(b, si, "weight", 0, ndim, ws, -a, a, 1, &L->w);
    if (rc)
        return rc;
    L->nw = (size_t)ws[0] * (size_t)ws[1] * (ndim == 4 ? (size_t)ws[2] * (size_t)ws[3] : 1);
    if (P->bias == 0) {
        char tname[160], where[200];
        snprintf(tname, sizeof tname, "%s.bias", P->name);
        snprintf(where, sizeof where, "tensor %s", tname);
        if (!b->seed && nr_safetensors_find(b->st, tname) >= 0)
            return nr_err_set(b->err, NR_ESHAPE, b->wpath, 0, 0, where,
                              "present, but layer %s (%s:%d:%d) says bias: false", P->name,
                              b->s->path, P->line, P->col);
        return 0;
    }
    if ((rc = bind(b, si, "bias", 1, 1, bs, -ab, ab, P->bias == 1, &L->b)))
        return rc;
    L->nb = L->b ? (size_t)P->out : 0;
    return 0;
}

/* Batchnorm si over C channels: x[0] = s = gamma / sqrt(var + eps),
 * x[1] = beta, x[2] = mean (malloc'ed; the caller frees all three). */
static int bn_params(build *b, int si, int C, double *x[3])
{
    static const char *const names[4] = {"weight", "bias", "running_mean", "running_var"};
    static const double lo[4] = {0.5, -0.5, -0.5, 0.5}, hi[4] = {1.5, 0.5, 0.5, 1.5};
    double *t[4] = {0};
    int64_t sh[1] = {C};
    int rc = 0;
    for (int k = 0; k < 4 && !rc; k++)
        rc = bind(b, si, names[k], k, 1, sh, lo[k], hi[k], 1, &t[k]);
    double eps = b->s->layers[si].eps;
    for (int c = 0; c < C && !rc; c++) {
        if (!(t[3][c] + eps > 0))
            rc = nr_err_set(b->err, NR_ERANGE, b->wpath, 0, 0, "",
                            "tensor %s.running_var: element %d is %g; var + eps must be "
                            "positive",
                            b->s->layers[si].name, c, t[3][c]);
        else
            t[0][c] = t[0][c] / sqrt(t[3][c] + eps);
    }
    free(t[3]);
    if (rc) {
        for (int k = 0; k < 3; k++)
            free(t[k]);
        return rc;
    }
    memcpy(x, t, 3 * sizeof *x);
    return 0;
}

/* [net] rule, in double: w' = w*s,  b' = (b - mean)*s + beta. */
static int fold(build *b, int bn, nr_layer *L)
{
    int C = L->out_shape[0];
    double *x[3];
    int rc = bn_params(b, bn, C, x);
    if (rc)
        return rc;
    size_t per = L->nw / (size_t)C;
    for (int c = 0; c < C; c++) {
        for (size_t j = 0; j < per; j++)
            L->w[(size_t)c * per + j] *= x[0][c];
        x[1][c] = ((L->b ? L->b[c] : 0.0) - x[2][c]) * x[0][c] + x[1][c];
    }
    free(L->b);
    L->b = x[1];
    L->nb = (size_t)C;
    free(x[0]);
    free(x[2]);
    return 0;
}

/* A batchnorm that cannot be folded: y = x*w + b with w = s, b = beta - mean*s. */
static int scale_shift(build *b, int si, nr_layer *L)
{
    int C = L->out_shape[0];
    double *x[3];
    int rc = bn_params(b, si, C, x);
    if (rc)
        return rc;
    for (int c = 0; c < C; c++)
        x[1][c] = x[1][c] - x[2][c] * x[0][c];
    L->w = x[0];
    L->b = x[1];
    L->nw = L->nb = (size_t)C;
    free(x[2]);
    return 0;
}

/* layernorm / add_const tensors ([op-layernorm], [op-add-const]): L->w,
 * and L->b for the second one. */
static int bind_seq(build *b, int si, nr_layer *L)
{
    const char *sfx[2];
    int nd[2];
    int64_t sh[2][3];
    int n = nr_model_seq_tensors(L, sfx, nd, sh);
    for (int k = 0; k < n; k++) {
        size_t cnt = 1;
        for (int d = 0; d < nd[k]; d++)
            cnt *= (size_t)sh[k][d]; /* bounded by the activation size */
        double lo = (L->op == NR_OP_LAYERNORM || L->op == NR_OP_RMSNORM) && !k ? 0.5 : -0.5;
        int rc = bind(b, si, sfx[k], k, nd[k], sh[k], lo, lo + 1.0, 1, k ? &L->b : &L->w);
        if (rc)
            return rc;
        if (k)
            L->nb = cnt;
        else
            L->nw = cnt;
    }
    return 0;
}

static int bind_weights(build *b)
{
    nr_model *m = b->m;
    int rc = 0;
    for (int li = 0; li < m->nlayers && !rc; li++) {
        nr_layer *L = &m->layers[li];
        int si = (int)(L->spec - b->s->layers);
        if (L->op == NR_OP_CONV || L->op == NR_OP_DENSE || L->op == NR_OP_LINEAR) {
            rc = bind_mac(b, si, L);
            if (!rc && b->bn_of[si] >= 0)
                rc = fold(b, b->bn_of[si], L);
        } else if (L->op == NR_OP_BATCHNORM) {
            rc = scale_shift(b, si, L);
        } else {
            rc = bind_seq(b, si, L);
        }
    }
    if (rc || b->seed || !b->st)
        return rc;
    int n = nr_safetensors_count(b->st);
    for (int i = 0; i < n; i++) {
        const nr_tensor_info *ti = nr_safetensors_info(b->st, i);
        size_t k = strlen(ti->name), sfx = strlen(".num_batches_tracked");
        /* PyTorch's batchnorm counter is bookkeeping, not a weight */
        if (b->used[i] || (k > sfx && !strcmp(ti->name + k - sfx, ".num_batches_tracked")))
            continue;
        char where[200];
        snprintf(where, sizeof where, "tensor %s", ti->name);
        return nr_err_set(b->err, NR_ESHAPE, b->wpath, 0, 0, where,
                          "not used by any layer of %s (expected only <layer>.weight/.bias "
                          "and batchnorm tensors of layers in the spec)",
                          b->s->path);
    }
    return 0;
}

static int open_weights(build *b, const char *weights_path)
{
    int need = 0;
    for (int i = 0; i < b->S; i++)
        need |= b->s->layers[i].op == NR_OP_CONV || b->s->layers[i].op == NR_OP_DENSE ||
                b->s->layers[i].op == NR_OP_BATCHNORM || b->s->layers[i].op == NR_OP_LINEAR ||
                b->s->layers[i].op == NR_OP_LAYERNORM || b->s->layers[i].op == NR_OP_ADD_CONST ||
                b->s->layers[i].op == NR_OP_EMBEDDING || b->s->layers[i].op == NR_OP_RMSNORM ||
                b->s->layers[i].op == NR_OP_ROPE;
    b->wpath = weights_path && *weights_path ? weights_path : b->s->weights;
    if (b->seed)
        return 0;
    if (!b->wpath[0]) {
        if (!need)
            return 0;
        return nr_err_set(b->err, NR_ESYNTAX, b->s->path, 0, 0, "weights",
                          "the network has conv/dense/batchnorm layers but no weights file "
                          "(weights: in the spec, or pass one)");
    }
    int rc = nr_safetensors_open(b->wpath, &b->st, b->err);
    if (rc)
        return rc;
    int n = nr_safetensors_count(b->st);
    b->used = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!b->used)
        return nr_err_set(b->err, NR_ENOMEM, b->wpath, 0, 0, "", "out of memory");
    return 0;
}

/* ---------------------------------------------------------------- memory */

/* a * b, saturating at UINT64_MAX */
static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Bytes the model's weights (double, with batchnorm temporaries) and the
 * emulator's activations for one sample (double, every layer's output and
 * the input) take, from the shapes alone: computed before anything large
 * is allocated or read. */
static void model_memory(const build *b, uint64_t *weights, uint64_t *acts)
{
    const nr_model *m = b->m;
    uint64_t w = 0, a = nr_shape_count(m->in_shape) + 1;
    for (int li = 0; li < m->nlayers; li++) {
        const nr_layer *L = &m->layers[li];
        const nr_layer_spec *P = L->spec;
        a = sat_add(a, (uint64_t)nr_shape_count(L->out_shape) + 1);
        if (L->op == NR_OP_LAYERNORM || L->op == NR_OP_ADD_CONST)
            w = sat_add(w, sat_mul(2, (uint64_t)nr_shape_count(L->in_shape[0])));
        w = sat_add(w, sat_mul(2, nr_model_seq_lm_weight_count(L)));
        if (L->op == NR_OP_CONV || L->op == NR_OP_DENSE || L->op == NR_OP_LINEAR) {
            int64_t ws[4];
            int nd = mac_weight_shape(P, L, ws);
            uint64_t n = 1;
            for (int d = 0; d < nd; d++)
                n = sat_mul(n, (uint64_t)ws[d]);
            w = sat_add(w, sat_add(n, (uint64_t)P->out));
        }
        if (L->op == NR_OP_BATCHNORM || L->folded_bn[0])
            w = sat_add(w, 5 * (uint64_t)L->out_shape[0]); /* 4 tensors read, 1 kept */
    }
    *weights = sat_mul(w, sizeof(double));
    *acts = sat_mul(a, sizeof(double));
}

/* "3.38 GiB" */
static void show_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 6)
        v /= 1024, u++;
    if (u == 0)
        snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
    else
        snprintf(buf, cap, "%.2f %s", v, unit[u]);
}

static int check_memory(build *b)
{
    uint64_t w, a;
    model_memory(b, &w, &a);
    uint64_t total = sat_add(w, a);
    if (total <= b->max_memory)
        return 0;
    char tw[32], ta[32], tt[32], tl[32];
    show_bytes(w, tw, sizeof tw);
    show_bytes(a, ta, sizeof ta);
    show_bytes(total, tt, sizeof tt);
    show_bytes(b->max_memory, tl, sizeof tl);
    return nr_err_set(b->err, NR_ERANGE, b->s->path, 0, 0, "",
                      "the model needs %s (weights %s + activations %s per sample), more than "
                      "the memory limit %s (--max-memory)",
                      tt, tw, ta, tl);
}

/* [C,H,W] or [N,C,H,W] with N in 1..2^31-1 against the spec's input. */
static int check_input(const nr_spec *s, const nr_model_opts *o, nr_err *err)
{
    const int64_t *sh = o->input_shape;
    int nd = o->input_ndim;
    const int64_t *chw = nd == 4 ? sh + 1 : sh;
    if ((nd == 3 || nd == 4) && chw[0] == s->in_shape[0] && chw[1] == s->in_shape[1] &&
        chw[2] == s->in_shape[2] && (nd == 3 || (sh[0] >= 1 && sh[0] <= 0x7fffffff)))
        return 0;
    char got[96];
    nr_strbuf gs = nr_strbuf_on(got, sizeof got);
    nr_strbuf_dims(&gs, sh, nd, ",");
    return nr_err_set(err, NR_ESHAPE, o->input_path, 0, 0, "shape",
                      "expected [N,%d,%d,%d] or [%d,%d,%d] (the network input), got [%s]",
                      s->in_shape[0], s->in_shape[1], s->in_shape[2], s->in_shape[0],
                      s->in_shape[1], s->in_shape[2], got);
}

uint64_t nr_model_memory_default(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || size <= 0)
        return UINT64_MAX;
    return (uint64_t)pages / 2 * (uint64_t)size;
}

/* ---------------------------------------------------------------- precision */

static int bind_precision(build *b)
{
    nr_model *m = b->m;
    const nr_precision *p = m->prec;
    for (int i = 0; i < p->noverrides; i++)
        if (nr_model_find(m, p->overrides[i].layer) < 0) {
            char where[128];
            snprintf(where, sizeof where, "layers.%s", p->overrides[i].layer);
            return nr_err_set(b->err, NR_ESYNTAX, p->path, p->overrides[i].line,
                              p->overrides[i].col, where, "no layer of that name in %s",
                              b->s->path);
        }
    for (int li = 0; li < m->nlayers; li++) {
        nr_layer *L = &m->layers[li];
        nr_precision_layer_op(p, L->name, L->folded_bn, L->op, &L->prec);
        char msg[256];
        if (nr_prec_check(&L->prec, msg, sizeof msg) ||
            nr_precision_seq_scaled(&L->prec, L->op, msg, sizeof msg)) {
            /* name the override that made the combination, else `default` */
            int line = p->dflt_line, col = p->dflt_col;
            char where[128] = "default";
            for (int i = 0; i < p->noverrides; i++)
                if (!strcmp(p->overrides[i].layer, L->name) ||
                    (L->folded_bn[0] && !strcmp(p->overrides[i].layer, L->folded_bn))) {
                    line = p->overrides[i].line, col = p->overrides[i].col;
                    snprintf(where, sizeof where, "layers.%s", p->overrides[i].layer);
                }
            return nr_err_set(b->err, NR_ESYNTAX, p->path[0] ? p->path : "-p", line, col, where,
                              "%s (layer %s)", msg, L->name);
        }
    }
    /* [scl-dot-check] a block mac needs a scaled operand: its own weights or
     * the activations it reads (the producer's) */
    for (int li = 0; li < m->nlayers; li++) {
        const nr_layer *L = &m->layers[li];
        const nr_layer_prec *in = &m->layers[L->inputs[0] < 0 ? 0 : L->inputs[0]].prec;
        if ((L->prec.mac == NR_MAC_BLOCK_FP32 || L->prec.mac == NR_MAC_BLOCK_EXACT) &&
            (L->op == NR_OP_CONV || L->op == NR_OP_DENSE || L->op == NR_OP_BATCHNORM) &&
            L->prec.weights_scaled.gran == NR_GRAN_NONE &&
            in->activations_scaled.gran == NR_GRAN_NONE) {
            int line = p->dflt_line, col = p->dflt_col;
            for (int i = 0; i < p->noverrides; i++)
                if (!strcmp(p->overrides[i].layer, L->name))
                    line = p->overrides[i].line, col = p->overrides[i].col;
            return nr_err_set(b->err, NR_ESYNTAX, p->path[0] ? p->path : "-p", line, col, "mac",
                              "layer %s: mac %s needs scaled weights or scaled input "
                              "activations (its input %s is not scaled); use unfused, fused "
                              "or exact",
                              L->name, nr_prec_mac_name(L->prec.mac),
                              L->inputs[0] < 0 ? "input" : m->layers[L->inputs[0]].name);
        }
    }
    /* [net-1]: the network input is rounded to the activation format of the
     * first layer (in topological order, it reads only the network input) */
    m->in_format = m->layers[0].prec.activations;
    m->seed = p->seed;
    return 0;
}

/* ---------------------------------------------------------------- build */

void nr_model_opts_init(nr_model_opts *o)
{
    memset(o, 0, sizeof *o);
}

int nr_model_build(nr_spec *spec, nr_precision *prec, const char *weights_path,
                   uint64_t random_seed, nr_model **out, nr_err *err)
{
    nr_model_opts o;
    nr_model_opts_init(&o);
    o.weights_path = weights_path;
    o.random_seed = random_seed;
    return nr_model_build_opts(spec, prec, &o, out, err);
}

int nr_model_build_opts(nr_spec *spec, nr_precision *prec, const nr_model_opts *o,
                        nr_model **out, nr_err *err)
{
    const char *weights_path = o->weights_path;
    *out = NULL;
    nr_model *m = calloc(1, sizeof *m);
    if (!m) {
        nr_spec_free(spec);
        nr_precision_free(prec);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "", "out of memory");
    }
    m->spec = spec;   /* the model owns both from here on, success or not */
    m->prec = prec;
    build b = {.m = m, .s = spec, .err = err, .S = spec ? spec->nlayers : 0,
               .seed = o->random_seed,
               .max_memory = o->max_memory ? o->max_memory : nr_model_memory_default()};
    int rc = 0;
    if (!spec || spec->nlayers < 1) {
        rc = nr_err_set(err, NR_ESYNTAX, spec ? spec->path : NULL, 0, 0, "layers",
                        "the network has no layers");
        goto done;
    }
    if (o->input_shape && (rc = check_input(spec, o, err)))
        goto done;
    if (!prec) {
        nr_format f32;
        if ((rc = nr_format_parse("fp32", &f32, err)) ||
            (rc = nr_precision_uniform(&f32, &m->prec, err)))
            goto done;
    }
    memcpy(m->in_shape, spec->in_shape, sizeof m->in_shape);
    size_t S = (size_t)b.S;
    b.src = calloc(S, sizeof *b.src);
    b.nsrc = calloc(S, sizeof *b.nsrc);
    b.order = calloc(S, sizeof *b.order);
    b.fold_into = calloc(S, sizeof *b.fold_into);
    b.bn_of = calloc(S, sizeof *b.bn_of);
    b.mi = calloc(S, sizeof *b.mi);
    if (!b.src || !b.nsrc || !b.order || !b.fold_into || !b.bn_of || !b.mi) {
        rc = nr_err_set(err, NR_ENOMEM, spec->path, 0, 0, "", "out of memory");
        goto done;
    }
    int out_si = spec->output[0] ? spec_find(spec, spec->output) : b.S - 1;
    if (out_si < 0) {
        rc = nr_err_set(err, NR_ESYNTAX, spec->path, 0, 0, "output", "unknown layer \"%s\"",
                        spec->output);
        goto done;
    }
    if ((rc = resolve_inputs(&b)) || (rc = topo_sort(&b)))
        goto done;
    plan_folding(&b, out_si);
    if ((rc = build_layers(&b)) || (rc = check_memory(&b)) ||
        (rc = open_weights(&b, weights_path)) || (rc = bind_weights(&b)) ||
        (rc = bind_precision(&b)) || (rc = nr_model_quantize_weights(m, err)) ||
        (rc = nr_model_bind_scales(m, err)))
        goto done;
    m->output = b.mi[out_si];
done:
    free(b.src);
    free(b.nsrc);
    free(b.order);
    free(b.fold_into);
    free(b.bn_of);
    free(b.mi);
    free(b.used);
    nr_safetensors_close(b.st);
    if (rc) {
        nr_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int nr_model_load(const char *net_path, const char *prec_arg, nr_model **out, nr_err *err)
{
    return nr_model_load_seeded(net_path, prec_arg, 0, out, err);
}

int nr_model_load_seeded(const char *net_path, const char *prec_arg, uint64_t random_seed,
                         nr_model **out, nr_err *err)
{
    nr_model_opts o;
    nr_model_opts_init(&o);
    o.random_seed = random_seed;
    return nr_model_load_opts(net_path, prec_arg, &o, out, err);
}

int nr_model_load_opts(const char *net_path, const char *prec_arg, const nr_model_opts *o,
                       nr_model **out, nr_err *err)
{
    *out = NULL;
    nr_spec *s = NULL;
    nr_precision *p = NULL;
    int rc = nr_spec_load(net_path, &s, err);
    if (rc)
        return rc;
    int modes = o && (o->set_rounding || o->set_mac);
    if ((prec_arg || modes) && (rc = nr_precision_from_arg(prec_arg ? prec_arg : "fp32", &p, err))) {
        nr_spec_free(s);
        return rc;
    }
    if (modes)
        nr_precision_set_mode(p, o->set_rounding ? &o->rounding : NULL, o->set_mac ? &o->mac : NULL);
    return nr_model_build_opts(s, p, o, out, err); /* takes s and p */
}

void nr_model_free(nr_model *m)
{
    if (!m)
        return;
    for (int i = 0; m->layers && i < m->nlayers; i++) {
        free(m->layers[i].w);
        free(m->layers[i].b);
        free(m->layers[i].wq);
        free(m->layers[i].wscale);
    }
    free(m->layers);
    nr_spec_free(m->spec);
    nr_precision_free(m->prec);
    free(m);
}

int nr_model_find(const nr_model *m, const char *layer_name)
{
    for (int i = 0; i < m->nlayers; i++)
        if (!strcmp(m->layers[i].name, layer_name) || !strcmp(m->layers[i].folded_bn, layer_name))
            return i;
    return -1;
}
