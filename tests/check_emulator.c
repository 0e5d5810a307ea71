/* check_emulator.c -- the reference emulator against independent
 * computations ([net-*] in docs/semantics.md).
 *
 * - Every op with odd shapes at fp32 and fp64, bit for bit against a plain
 *   host-arithmetic reference written here in the same canonical order
 *   (fp32 via double-then-float, which is one correct rounding for + - * /
 *   because 53 >= 2*24+2; fused via fmaf/fma), through both the host fast
 *   paths and the generic path.
 * - Narrow formats: hand-worked dense cases for each MAC mode.
 * - Exact MAC mode against MPFR.
 * - SR: reproducible, and the draw numbering of emulator.h.
 * - Statistics on crafted overflow and underflow, fast path == generic.
 * Models are built by hand (nr_layer filled directly), independent of the
 * spec parser. */
#include "testutil.h"
#include "emulator.h"

#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* ---------------------------------------------------------------- hand-built models */

#define TN_MAX 16
typedef struct tnet {
    nr_model m;
    nr_layer L[TN_MAX];
    nr_layer_spec S[TN_MAX];
    double *bufs[2 * TN_MAX];
    int nbufs;
    uint64_t rng;
} tnet;

static nr_layer_prec prec_of(const char *w, const char *a, const char *p, const char *s,
                             nr_rounding r, nr_mac_mode mac)
{
    nr_layer_prec P;
    memset(&P, 0, sizeof P);
    P.weights = tu_fmt(w);
    P.activations = tu_fmt(a);
    P.products = tu_fmt(p);
    P.accumulator = tu_fmt(s);
    P.rounding = r;
    P.mac = mac;
    return P;
}

static nr_layer_prec uniform(const char *f, nr_mac_mode mac)
{
    return prec_of(f, f, f, f, NR_RND_RNE, mac);
}

static void tn_init(tnet *t, int C, int H, int W, const char *infmt, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    t->m.in_shape[0] = C, t->m.in_shape[1] = H, t->m.in_shape[2] = W;
    t->m.in_format = tu_fmt(infmt);
    t->m.layers = t->L;
    t->rng = seed;
}

static void tn_free(tnet *t)
{
    for (int i = 0; i < t->nbufs; i++)
        free(t->bufs[i]);
    t->nbufs = 0;
}

static double urand(tnet *t, double lo, double hi)
{
    return lo + (hi - lo) * tu_unif(&t->rng);
}

static double *tn_buf(tnet *t, size_t n)
{
    ck_assert(t->nbufs < 2 * TN_MAX);
    double *b = calloc(n ? n : 1, sizeof *b);
    ck_assert(b);
    return t->bufs[t->nbufs++] = b;
}

static double *tn_rand(tnet *t, size_t n, double scale)
{
    double *b = tn_buf(t, n);
    for (size_t i = 0; i < n; i++)
        b[i] = urand(t, -scale, scale);
    return b;
}

/* Add a layer reading `src` (-1: network input, -2: previous layer). */
static nr_layer *tn_add(tnet *t, nr_op op, int src, nr_layer_prec p)
{
    ck_assert(t->m.nlayers < TN_MAX);
    int i = t->m.nlayers++;
    nr_layer *L = &t->L[i];
    nr_layer_spec *S = &t->S[i];
    snprintf(L->name, sizeof L->name, "l%d_%s", i, nr_spec_op_name(op));
    memcpy(S->name, L->name, sizeof S->name);
    L->op = S->op = op;
    L->spec = S;
    L->index = i;
    L->ninputs = 1;
    L->inputs[0] = src == -2 ? i - 1 : src;
    const int *sh = L->inputs[0] < 0 ? t->m.in_shape : t->L[L->inputs[0]].out_shape;
    memcpy(L->in_shape[0], sh, sizeof L->in_shape[0]);
    memcpy(L->out_shape, sh, sizeof L->out_shape);
    L->prec = p;
    S->kernel[0] = S->kernel[1] = 1;
    S->stride[0] = S->stride[1] = 1;
    S->dilation[0] = S->dilation[1] = 1;
    S->groups = 1;
    S->count_include_pad = 1;
    S->slice_step[0] = S->slice_step[1] = S->slice_step[2] = 1;
    t->m.output = i;
    return L;
}

static void add_input(tnet *t, nr_layer *L, int src)
{
    int k = L->ninputs++;
    L->inputs[k] = src;
    const int *sh = src < 0 ? t->m.in_shape : t->L[src].out_shape;
    memcpy(L->in_shape[k], sh, sizeof L->in_shape[k]);
}

typedef struct convp {
    int O, kh, kw, sh, sw, dh, dw, pad[4], groups, bias;
} convp;

static nr_layer *tn_conv(tnet *t, int src, nr_layer_prec p, convp c)
{
    nr_layer *L = tn_add(t, NR_OP_CONV, src, p);
    nr_layer_spec *S = (nr_layer_spec *)L->spec;
    S->out = c.O;
    S->kernel[0] = c.kh, S->kernel[1] = c.kw;
    S->stride[0] = c.sh, S->stride[1] = c.sw;
    S->dilation[0] = c.dh, S->dilation[1] = c.dw;
    S->groups = c.groups;
    memcpy(L->pad, c.pad, sizeof L->pad);
    const int *in = L->in_shape[0];
    L->out_shape[0] = c.O;
    L->out_shape[1] = (in[1] + c.pad[0] + c.pad[2] - c.dh * (c.kh - 1) - 1) / c.sh + 1;
    L->out_shape[2] = (in[2] + c.pad[1] + c.pad[3] - c.dw * (c.kw - 1) - 1) / c.sw + 1;
    L->nw = (size_t)c.O * (in[0] / c.groups) * c.kh * c.kw;
    L->w = tn_rand(t, L->nw, 0.5);
    if (c.bias) {
        L->nb = (size_t)c.O;
        L->b = tn_rand(t, L->nb, 0.5);
    }
    return L;
}

static nr_layer *tn_dense(tnet *t, int src, nr_layer_prec p, int O, int bias)
{
    nr_layer *L = tn_add(t, NR_OP_DENSE, src, p);
    ((nr_layer_spec *)L->spec)->out = O;
    size_t N = nr_shape_count(L->in_shape[0]);
    L->out_shape[0] = O, L->out_shape[1] = L->out_shape[2] = 1;
    L->nw = (size_t)O * N;
    L->w = tn_rand(t, L->nw, 0.5);
    if (bias) {
        L->nb = (size_t)O;
        L->b = tn_rand(t, L->nb, 0.5);
    }
    return L;
}

/* PyTorch's pool output size. */
static int pool_out(int n, int k, int s, int plo, int phi, int ceil_mode)
{
    int span = n + plo + phi - k;
    int o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= n + plo)
        o--;
    return o;
}

static nr_layer *tn_pool(tnet *t, nr_op op, int src, nr_layer_prec p, int kh, int kw, int sh,
                         int sw, const int pad[4], int ceil_mode, int cip)
{
    nr_layer *L = tn_add(t, op, src, p);
    nr_layer_spec *S = (nr_layer_spec *)L->spec;
    S->kernel[0] = kh, S->kernel[1] = kw, S->stride[0] = sh, S->stride[1] = sw;
    S->ceil_mode = ceil_mode;
    S->count_include_pad = cip;
    memcpy(L->pad, pad, sizeof L->pad);
    const int *in = L->in_shape[0];
    L->out_shape[1] = pool_out(in[1], kh, sh, pad[0], pad[2], ceil_mode);
    L->out_shape[2] = pool_out(in[2], kw, sw, pad[1], pad[3], ceil_mode);
    return L;
}

static float *rand_input(tnet *t, size_t n, double scale)
{
    float *x = malloc(n * sizeof *x);
    ck_assert(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)urand(t, -scale, scale);
    return x;
}

static int run(const tnet *t, const float *in, float *out, double **lay, nr_emu_stats *st,
               int no_fast)
{
    nr_err e = {0};
    nr_emu_opts o = {.trace_layer = -1, .no_fast = no_fast};
    int rc = nr_emulate_layers(&t->m, in, 1, out, lay, st, &o, &e);
    if (rc) {
        char buf[512];
        nr_err_format(&e, buf, sizeof buf);
        ck_abort_msg("nr_emulate failed: %s", buf);
    }
    return rc;
}

static double **alloc_layers(const tnet *t)
{
    double **lay = calloc(TN_MAX, sizeof *lay);
    for (int i = 0; i < t->m.nlayers; i++)
        lay[i] = calloc(nr_shape_count(t->L[i].out_shape) + 1, sizeof(double));
    return lay;
}

static void free_layers(double **lay)
{
    for (int i = 0; i < TN_MAX; i++)
        free(lay[i]);
    free(lay);
}

static uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* ---------------------------------------------------------------- host reference
 * fp32 or fp64 for every role, rne.  rnd() rounds an exact-or-double value
 * to the format. */

static int g_fp32;
static double rnd(double x) { return g_fp32 ? (double)(float)x : x; }

static double ref_fma(double w, double x, double acc)
{
    return g_fp32 ? (double)fmaf((float)w, (float)x, (float)acc) : fma(w, x, acc);
}

static void ref_mac(const nr_layer *L, const double *x, double *y, int fused)
{
    const int *in = L->in_shape[0];
    int C = in[0], H = in[1], W = in[2];
    int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, G = 1;
    if (L->op == NR_OP_CONV) {
        kh = L->spec->kernel[0], kw = L->spec->kernel[1];
        sh = L->spec->stride[0], sw = L->spec->stride[1];
        dh = L->spec->dilation[0], dw = L->spec->dilation[1];
        G = L->spec->groups;
    } else if (L->op == NR_OP_DENSE) {
        C = C * H * W, H = W = 1;
    } else {
        G = C;
    }
    int O = L->out_shape[0], OH = L->out_shape[1], OW = L->out_shape[2];
    int cg = C / G, og = O / G;
    for (int o = 0; o < O; o++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double acc = L->b ? rnd(rnd(L->b[o])) : 0.0;
                for (int ci = 0; ci < cg; ci++)
                    for (int r = 0; r < kh; r++)
                        for (int c = 0; c < kw; c++) {
                            int ih = oh * sh - L->pad[0] + r * dh, iw = ow * sw - L->pad[1] + c * dw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue;
                            double wv = rnd(L->w[((o * cg + ci) * kh + r) * kw + c]);
                            double xv = x[((o / og * cg + ci) * H + ih) * W + iw];
                            acc = fused ? ref_fma(wv, xv, acc) : rnd(acc + rnd(wv * xv));
                        }
                y[(o * OH + oh) * OW + ow] = rnd(acc);
            }
}

static void ref_pool(const nr_layer *L, const double *x, double *y)
{
    const int *in = L->in_shape[0], *out = L->out_shape;
    int glob = L->op == NR_OP_GLOBAL_AVGPOOL;
    int kh = glob ? in[1] : L->spec->kernel[0], kw = glob ? in[2] : L->spec->kernel[1];
    int sh = glob ? 1 : L->spec->stride[0], sw = glob ? 1 : L->spec->stride[1];
    int pt = glob ? 0 : L->pad[0], pl = glob ? 0 : L->pad[1];
    int pb = glob ? 0 : L->pad[2], pr = glob ? 0 : L->pad[3];
    for (int c = 0; c < out[0]; c++)
        for (int oh = 0; oh < out[1]; oh++)
            for (int ow = 0; ow < out[2]; ow++) {
                int h0 = oh * sh - pt, w0 = ow * sw - pl;
                int h1 = h0 + kh < in[1] + pb ? h0 + kh : in[1] + pb;
                int w1 = w0 + kw < in[2] + pr ? w0 + kw : in[2] + pr;
                int full = (h1 - h0) * (w1 - w0), cnt = 0;
                double acc = 0, mx = -INFINITY;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        if (ih < 0 || iw < 0 || ih >= in[1] || iw >= in[2])
                            continue;
                        double v = x[(c * in[1] + ih) * in[2] + iw];
                        acc = rnd(acc + v);
                        mx = v > mx ? v : mx;
                        cnt++;
                    }
                int n = glob || L->spec->count_include_pad ? full : cnt;
                /* acc/n in double is one correct rounding to double; to float it
                 * is innocuous double rounding (53 >= 2*24+2). */
                y[(c * out[1] + oh) * out[2] + ow] = L->op == NR_OP_MAXPOOL ? mx : rnd(acc / n);
            }
}

static void ref_layer(const tnet *t, int li, double *const *ref, const double *input, double *y,
                      int fused)
{
    const nr_layer *L = &t->L[li];
    const double *x = L->inputs[0] < 0 ? input : ref[L->inputs[0]];
    size_t n = nr_shape_count(L->out_shape);
    const int *in = L->in_shape[0];
    switch (L->op) {
    case NR_OP_CONV: case NR_OP_DENSE: case NR_OP_BATCHNORM:
        ref_mac(L, x, y, fused);
        break;
    case NR_OP_MAXPOOL: case NR_OP_AVGPOOL: case NR_OP_GLOBAL_AVGPOOL:
        ref_pool(L, x, y);
        break;
    case NR_OP_RELU:
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] > 0 ? x[i] : 0.0;
        break;
    case NR_OP_RELU6: case NR_OP_CLIP: {
        double lo = L->op == NR_OP_RELU6 ? 0 : rnd(L->spec->clip_lo);
        double hi = L->op == NR_OP_RELU6 ? 6 : rnd(L->spec->clip_hi);
        for (size_t i = 0; i < n; i++)
            y[i] = fmin(fmax(x[i], lo), hi);
        break;
    }
    case NR_OP_ADD: {
        const double *b = L->inputs[1] < 0 ? input : ref[L->inputs[1]];
        for (size_t i = 0; i < n; i++)
            y[i] = rnd(x[i] + b[i]);
        break;
    }
    case NR_OP_CONCAT: {
        size_t k = 0;
        for (int j = 0; j < L->ninputs; j++) {
            const double *s = L->inputs[j] < 0 ? input : ref[L->inputs[j]];
            for (size_t i = 0; i < nr_shape_count(L->in_shape[j]); i++)
                y[k++] = s[i];
        }
        break;
    }
    case NR_OP_SLICE: {
        const nr_layer_spec *S = L->spec;
        size_t k = 0;
        for (int c = S->slice_start[0]; c < in[0] && c < S->slice_stop[0]; c += S->slice_step[0])
            for (int h = S->slice_start[1]; h < in[1] && h < S->slice_stop[1]; h += S->slice_step[1])
                for (int w = S->slice_start[2]; w < in[2] && w < S->slice_stop[2];
                     w += S->slice_step[2])
                    y[k++] = x[(c * in[1] + h) * in[2] + w];
        ck_assert_uint_eq(k, n);
        break;
    }
    case NR_OP_PAD: {
        const nr_layer_spec *S = L->spec;
        const int *o = L->out_shape;
        for (size_t i = 0; i < n; i++)
            y[i] = 0;
        for (int c = 0; c < in[0]; c++)
            for (int h = 0; h < in[1]; h++)
                for (int w = 0; w < in[2]; w++)
                    y[((c + S->pad_before[0]) * o[1] + h + S->pad_before[1]) * o[2] + w +
                      S->pad_before[2]] = x[(c * in[1] + h) * in[2] + w];
        break;
    }
    case NR_OP_FLATTEN: case NR_OP_DROPOUT:
        memcpy(y, x, n * sizeof *y);
        break;
    case NR_OP_LRN: {
        const nr_layer_spec *S = L->spec;
        int C = in[0], HW = in[1] * in[2];
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++) {
                double s = 0;
                for (int j = c - S->lrn_size / 2; j <= c + (S->lrn_size - 1) / 2; j++)
                    if (j >= 0 && j < C)
                        s += x[j * HW + p] * x[j * HW + p];
                y[c * HW + p] = rnd(x[c * HW + p] / pow(s / S->lrn_size * S->lrn_alpha + S->lrn_k,
                                                        S->lrn_beta));
            }
        break;
    }
    case NR_OP_SOFTMAX: {
        int C = in[0], HW = in[1] * in[2];
        for (int p = 0; p < HW; p++) {
            double m = -INFINITY, s = 0;
            for (int c = 0; c < C; c++)
                m = fmax(m, x[c * HW + p]);
            for (int c = 0; c < C; c++)
                s += exp(x[c * HW + p] - m);
            for (int c = 0; c < C; c++)
                y[c * HW + p] = rnd(exp(x[c * HW + p] - m) / s);
        }
        break;
    }
    default:
        ck_abort_msg("no reference for op %d", (int)L->op);
    }
}

/* Run t at its (uniform fp32 or fp64) precision through the fast and the
 * generic path, and compare every layer with the reference bit for bit. */
static void check_vs_ref(const tnet *t, int fp32, int fused, const char *what)
{
    g_fp32 = fp32;
    size_t nin = nr_shape_count(t->m.in_shape);
    tnet *tt = (tnet *)t;
    float *in = rand_input(tt, nin, 2.0);
    double *input = calloc(nin, sizeof *input);
    for (size_t i = 0; i < nin; i++)
        input[i] = in[i];
    double **ref = alloc_layers(t);
    for (int i = 0; i < t->m.nlayers; i++)
        ref_layer(t, i, ref, input, ref[i], fused);
    for (int nf = 0; nf < 2; nf++) {
        double **lay = alloc_layers(t);
        float out[4096];
        ck_assert(nr_shape_count(t->L[t->m.output].out_shape) <= 4096);
        run(t, in, out, lay, NULL, nf);
        for (int i = 0; i < t->m.nlayers; i++)
            for (size_t k = 0; k < nr_shape_count(t->L[i].out_shape); k++)
                ck_assert_msg(bits_of(lay[i][k]) == bits_of(ref[i][k]),
                              "%s (%s, %s, %s path): layer %s element %zu: emulator %a, "
                              "reference %a",
                              what, fp32 ? "fp32" : "fp64", fused ? "fused" : "unfused",
                              nf ? "generic" : "fast", t->L[i].name, k, lay[i][k], ref[i][k]);
        size_t no = nr_shape_count(t->L[t->m.output].out_shape);
        for (size_t k = 0; k < no; k++)
            ck_assert(bits_of((double)out[k]) == bits_of((double)(float)lay[t->m.output][k]));
        free_layers(lay);
    }
    free_layers(ref);
    free(input);
    free(in);
}

static void each_precision(void (*build)(tnet *, nr_layer_prec), const char *what)
{
    for (int fp32 = 0; fp32 < 2; fp32++)
        for (int fused = 0; fused < 2; fused++) {
            tnet t;
            tn_init(&t, 1, 1, 1, fp32 ? "fp32" : "fp64", 1234 + fp32 * 2 + fused);
            build(&t, uniform(fp32 ? "fp32" : "fp64", fused ? NR_MAC_FUSED : NR_MAC_UNFUSED));
            check_vs_ref(&t, fp32, fused, what);
            tn_free(&t);
        }
}

/* ---------------------------------------------------------------- every op at fp32/fp64 */

static void build_convs(tnet *t, nr_layer_prec p)
{
    t->m.in_shape[0] = 4, t->m.in_shape[1] = 9, t->m.in_shape[2] = 7;
    /* stride 2x1, dilation 1x2, asymmetric padding, bias */
    tn_conv(t, -1, p, (convp){.O = 6, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .dh = 1, .dw = 2,
                              .pad = {1, 0, 2, 1}, .groups = 1, .bias = 1});
    /* groups 2, no bias, stride 1, one-sided padding */
    tn_conv(t, -2, p, (convp){.O = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                              .pad = {0, 1, 1, 0}, .groups = 2, .bias = 0});
    /* depthwise, stride 2, dilation 2, pad 2 */
    tn_conv(t, -2, p, (convp){.O = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 2, .dw = 2,
                              .pad = {2, 2, 2, 2}, .groups = 4, .bias = 1});
    /* depthwise multiplier 2 (groups = C, O = 2C), 1x1 from the network input */
    tn_conv(t, -1, p, (convp){.O = 8, .kh = 1, .kw = 1, .sh = 3, .sw = 2, .dh = 1, .dw = 1,
                              .pad = {0, 0, 0, 0}, .groups = 4, .bias = 1});
}

static void build_dense(tnet *t, nr_layer_prec p)
{
    t->m.in_shape[0] = 3, t->m.in_shape[1] = 2, t->m.in_shape[2] = 5;
    nr_layer *f = tn_add(t, NR_OP_FLATTEN, -1, p);
    f->out_shape[0] = 30, f->out_shape[1] = f->out_shape[2] = 1;
    tn_dense(t, -2, p, 7, 1);
    tn_dense(t, -1, p, 5, 0); /* dense straight from a [3,2,5] input: flat C, H, W */
}

static void build_bn(tnet *t, nr_layer_prec p)
{
    t->m.in_shape[0] = 3, t->m.in_shape[1] = 4, t->m.in_shape[2] = 5;
    nr_layer *L = tn_add(t, NR_OP_BATCHNORM, -1, p);
    L->nw = L->nb = 3;
    L->w = tn_rand(t, 3, 2.0);
    L->b = tn_rand(t, 3, 1.0);
}

static void build_pools(tnet *t, nr_layer_prec p)
{
    t->m.in_shape[0] = 2, t->m.in_shape[1] = 8, t->m.in_shape[2] = 7;
    int pad1[4] = {1, 1, 1, 1}, pad2[4] = {0, 1, 2, 0}, pad0[4] = {0};
    tn_pool(t, NR_OP_MAXPOOL, -1, p, 3, 3, 2, 2, pad1, 1, 1);
    tn_pool(t, NR_OP_MAXPOOL, -1, p, 2, 3, 3, 2, pad2, 0, 1);
    tn_pool(t, NR_OP_AVGPOOL, -1, p, 3, 3, 2, 2, pad1, 1, 1); /* ceil, count pad */
    tn_pool(t, NR_OP_AVGPOOL, -1, p, 3, 3, 2, 2, pad1, 1, 0); /* ceil, exclude pad */
    tn_pool(t, NR_OP_AVGPOOL, -1, p, 3, 2, 2, 3, pad2, 0, 1); /* asymmetric */
    tn_pool(t, NR_OP_AVGPOOL, -1, p, 3, 3, 2, 2, pad0, 1, 0); /* ceil without padding */
    nr_layer *g = tn_add(t, NR_OP_GLOBAL_AVGPOOL, -1, p);
    g->out_shape[1] = g->out_shape[2] = 1;
}

static void build_misc(tnet *t, nr_layer_prec p)
{
    t->m.in_shape[0] = 4, t->m.in_shape[1] = 3, t->m.in_shape[2] = 5;
    tn_add(t, NR_OP_RELU, -1, p);                                    /* 0 */
    tn_add(t, NR_OP_RELU6, -1, p);                                   /* 1 */
    nr_layer *c = tn_add(t, NR_OP_CLIP, -1, p);                      /* 2 */
    ((nr_layer_spec *)c->spec)->clip_lo = -0.7, ((nr_layer_spec *)c->spec)->clip_hi = 0.3;
    nr_layer *a = tn_add(t, NR_OP_ADD, 0, p);                        /* 3 = relu + clip */
    add_input(t, a, 2);
    nr_layer *cc = tn_add(t, NR_OP_CONCAT, 3, p);                    /* 4 = [add, input] */
    add_input(t, cc, -1);
    cc->out_shape[0] = 8;
    nr_layer *s = tn_add(t, NR_OP_SLICE, 4, p);                      /* 5 */
    nr_layer_spec *S = (nr_layer_spec *)s->spec;
    int st[3] = {1, 0, 1}, sp[3] = {8, 3, 5}, ss[3] = {3, 2, 2};
    memcpy(S->slice_start, st, sizeof st), memcpy(S->slice_stop, sp, sizeof sp);
    memcpy(S->slice_step, ss, sizeof ss);
    s->out_shape[0] = 3, s->out_shape[1] = 2, s->out_shape[2] = 2;
    nr_layer *pd = tn_add(t, NR_OP_PAD, 5, p);                       /* 6 */
    S = (nr_layer_spec *)pd->spec;
    int pb[3] = {2, 0, 1}, pa[3] = {1, 2, 0};
    memcpy(S->pad_before, pb, sizeof pb), memcpy(S->pad_after, pa, sizeof pa);
    pd->out_shape[0] = 6, pd->out_shape[1] = 4, pd->out_shape[2] = 3;
    tn_add(t, NR_OP_DROPOUT, -2, p);                                 /* 7 */
    nr_layer *l = tn_add(t, NR_OP_LRN, -1, p);                       /* 8 */
    S = (nr_layer_spec *)l->spec;
    S->lrn_size = 3, S->lrn_alpha = 1e-2, S->lrn_beta = 0.75, S->lrn_k = 2;
    tn_add(t, NR_OP_SOFTMAX, -1, p);                                 /* 9 */
    nr_layer *f = tn_add(t, NR_OP_FLATTEN, 9, p);                    /* 10 */
    f->out_shape[0] = 60, f->out_shape[1] = f->out_shape[2] = 1;
}

START_TEST(test_convs) { each_precision(build_convs, "conv"); }
END_TEST
START_TEST(test_dense) { each_precision(build_dense, "dense"); }
END_TEST
START_TEST(test_batchnorm) { each_precision(build_bn, "batchnorm"); }
END_TEST
START_TEST(test_pools) { each_precision(build_pools, "pools"); }
END_TEST
START_TEST(test_misc_ops) { each_precision(build_misc, "misc ops"); }
END_TEST

/* ---------------------------------------------------------------- hand-worked narrow cases */

/* A 1-output dense over 3 inputs with the given weights/bias; returns the
 * output value. */
static double dense3(const char *infmt, nr_layer_prec p, const double w[3], const double *bias,
                     const float x[3], nr_emu_stats *st)
{
    tnet t;
    tn_init(&t, 3, 1, 1, infmt, 1);
    nr_layer *L = tn_dense(&t, -1, p, 1, bias != NULL);
    memcpy(L->w, w, 3 * sizeof *w);
    if (bias)
        L->b[0] = *bias;
    double *lay[TN_MAX] = {0}, y;
    lay[0] = &y;
    float out;
    nr_err e = {0};
    nr_emu_opts o = {.trace_layer = -1};
    ck_assert_int_eq(nr_emulate_layers(&t.m, x, 1, &out, lay, st, &o, &e), 0);
    tn_free(&t);
    return y;
}

static void expect_val(double got, double want, const char *what)
{
    ck_assert_msg(bits_of(got) == bits_of(want), "%s: got %a (%.17g), expected %a (%.17g)",
                  what, got, got, want, want);
}

/* e3m2 (finite, bias 3; in [1,2) spacing 1/4, in [2,4) 1/2; smallest
 * subnormal 1/16), rne, every role e3m2.  w = (1.25, 1.25, -1.75),
 * x = (1.25, 1.25, 1.75); exact products 1.5625, 1.5625, -3.0625.
 *  unfused: p1 = 1.5 (1.5625 is nearer 1.5 than 1.75), acc 1.5; p2 = 1.5,
 *           acc 3; p3 = -3 (3.0625 nearer 3 than 3.5), acc 3 - 3 = +0.
 *  fused:   acc = rnd(1.5625) = 1.5; rnd(1.5 + 1.5625 = 3.0625) = 3;
 *           rnd(3 - 3.0625 = -0.0625) = -0.0625 (a subnormal).
 *  exact:   1.5625 + 1.5625 - 3.0625 = 0.0625. */
START_TEST(test_hand_e3m2)
{
    const double w[3] = {1.25, 1.25, -1.75};
    const float x[3] = {1.25f, 1.25f, 1.75f};
    double u = dense3("e3m2", uniform("e3m2", NR_MAC_UNFUSED), w, NULL, x, NULL);
    double f = dense3("e3m2", uniform("e3m2", NR_MAC_FUSED), w, NULL, x, NULL);
    double e = dense3("e3m2", uniform("e3m2", NR_MAC_EXACT), w, NULL, x, NULL);
    expect_val(u, 0.0, "e3m2 unfused");
    expect_val(f, -0.0625, "e3m2 fused");
    expect_val(e, 0.0625, "e3m2 exact");
}
END_TEST

/* q3.4 (signed, step 1/16, range -8 .. 7.9375, saturating), rne, every role.
 * bias 0.5, w = (3, 3, -3), x = (2, 1.5, 1): products 6, 4.5, -3 (exact).
 *  unfused / fused: acc 0.5, 6.5, 11 -> saturates to 7.9375, then 4.9375.
 *  exact: 0.5 + 6 + 4.5 - 3 = 8 -> saturates once to 7.9375. */
START_TEST(test_hand_q34_saturation)
{
    const double w[3] = {3, 3, -3}, b = 0.5;
    const float x[3] = {2, 1.5f, 1};
    nr_mac_mode modes[3] = {NR_MAC_UNFUSED, NR_MAC_FUSED, NR_MAC_EXACT};
    const double want[3] = {4.9375, 4.9375, 7.9375};
    for (int i = 0; i < 3; i++) {
        tnet t;
        tn_init(&t, 3, 1, 1, "q3.4", 1);
        tn_dense(&t, -1, uniform("q3.4", modes[i]), 1, 1);
        nr_emu_stats st;
        nr_err e = {0};
        ck_assert_int_eq(nr_emu_stats_init(&st, &t.m, &e), 0);
        double y = dense3("q3.4", uniform("q3.4", modes[i]), w, &b, x, &st);
        expect_val(y, want[i], "q3.4");
        /* one accumulator rounding saturated; nothing else did */
        ck_assert_uint_eq(st.layer[0].sum.overflow, 1);
        ck_assert_uint_eq(st.layer[0].sum.saturated, 1);
        ck_assert_uint_eq(st.layer[0].prod.overflow, 0);
        ck_assert_uint_eq(st.layer[0].out.overflow, 0);
        /* events: bias + 3 sums (unfused/fused) or bias + 1 (exact) */
        ck_assert_uint_eq(st.layer[0].sum.events, modes[i] == NR_MAC_EXACT ? 2 : 4);
        ck_assert_uint_eq(st.layer[0].prod.events, modes[i] == NR_MAC_UNFUSED ? 3 : 0);
        nr_emu_stats_free(&st);
        tn_free(&t);
    }
}
END_TEST

/* Mixed formats, rz: input and weights e2m1, products e3m2, accumulator and
 * activations q3.4.  w = (1.5, 1, 1.5), x = (1.5, 1.5, 0.5): exact products
 * 2.25, 1.5, 0.75.
 *  unfused: 2.25 -> e3m2 rz (spacing 1/2 in [2,4)) = 2; 1.5, 0.75 exact;
 *           q3.4 sums 2, 3.5, 4.25 (all exact).
 *  fused / exact: 2.25 + 1.5 + 0.75 = 4.5. */
START_TEST(test_hand_mixed_rz)
{
    const double w[3] = {1.5, 1, 1.5};
    const float x[3] = {1.5f, 1.5f, 0.5f};
    nr_layer_prec p = prec_of("e2m1", "q3.4", "e3m2", "q3.4", NR_RND_RZ, NR_MAC_UNFUSED);
    expect_val(dense3("e2m1", p, w, NULL, x, NULL), 4.25, "mixed unfused");
    p.mac = NR_MAC_FUSED;
    expect_val(dense3("e2m1", p, w, NULL, x, NULL), 4.5, "mixed fused");
    p.mac = NR_MAC_EXACT;
    expect_val(dense3("e2m1", p, w, NULL, x, NULL), 4.5, "mixed exact");
    /* output to e2m1 (values 0 .5 1 1.5 2 3 4 6) with rz: 4.25 and 4.5 -> 4;
     * weights 1.3 -> 1 (rz) at load. */
    const double w2[3] = {1.3, 1, 1.5};
    p = prec_of("e2m1", "e2m1", "e3m2", "q3.4", NR_RND_RZ, NR_MAC_UNFUSED);
    expect_val(dense3("e2m1", p, w2, NULL, x, NULL), 3.0, "rz weights: 1.5+1.5+0.75 = 3.75 -> 3");
}
END_TEST

/* Catastrophic cancellation: fp64 everywhere, w = (1, 1, -1), x = (2^60, 1,
 * 2^60).  Unfused and fused lose the 1 (2^60 + 1 rounds to 2^60); exact
 * keeps it.  Input format fp64 so the float inputs are taken as they are. */
START_TEST(test_hand_cancellation)
{
    const double w[3] = {1, 1, -1};
    const float x[3] = {0x1p60f, 1, 0x1p60f};
    expect_val(dense3("fp64", uniform("fp64", NR_MAC_UNFUSED), w, NULL, x, NULL), 0, "unfused");
    expect_val(dense3("fp64", uniform("fp64", NR_MAC_FUSED), w, NULL, x, NULL), 0, "fused");
    expect_val(dense3("fp64", uniform("fp64", NR_MAC_EXACT), w, NULL, x, NULL), 1, "exact");
    /* with a bias of -1 the exact sum is exactly zero: +0 */
    double b = -1;
    expect_val(dense3("fp64", uniform("fp64", NR_MAC_EXACT), w, &b, x, NULL), 0.0, "exact zero");
    /* all addends -0: -0 (start value -0 from a -0 bias, products -0) */
    const double wz[3] = {-0.0, -0.0, 0.0};
    const float xz[3] = {1, 2, -3};
    double nb = -0.0;
    expect_val(dense3("fp64", uniform("fp64", NR_MAC_EXACT), wz, &nb, xz, NULL), -0.0,
               "exact all -0");
    expect_val(dense3("fp64", uniform("fp64", NR_MAC_UNFUSED), wz, &nb, xz, NULL), -0.0,
               "unfused all -0");
}
END_TEST

/* The exact accumulator keeps bits far below the result: 1 + 2^-24 is a tie
 * in fp32, and a product of 2^-160 (w = 2^-60, x = 2^-100) decides it
 * upward; the sticky information sits 136 bits below the top. */
START_TEST(test_exact_sticky)
{
    const double w[3] = {1, 1, 0x1p-60};
    const float x[3] = {1, 0x1p-24f, 0x1p-100f};
    expect_val(dense3("fp32", uniform("fp32", NR_MAC_EXACT), w, NULL, x, NULL), 1 + 0x1p-23,
               "exact tie broken by a tiny term");
    const float xn[3] = {1, 0x1p-24f, -0x1p-100f};
    expect_val(dense3("fp32", uniform("fp32", NR_MAC_EXACT), w, NULL, xn, NULL), 1,
               "exact tie broken downward");
    /* unfused rounds 1 + 2^-24 to 1 (even) first, then adds nothing visible */
    expect_val(dense3("fp32", uniform("fp32", NR_MAC_UNFUSED), w, NULL, x, NULL), 1, "unfused");
}
END_TEST

/* maxpool: of -0 and +0 the first in window order wins; NaN wins. */
START_TEST(test_maxpool_order)
{
    tnet t;
    tn_init(&t, 1, 1, 4, "fp32", 1);
    int pad0[4] = {0};
    tn_pool(&t, NR_OP_MAXPOOL, -1, uniform("fp32", NR_MAC_UNFUSED), 1, 2, 1, 2, pad0, 0, 1);
    float x[4] = {-0.0f, 0.0f, 1.0f, NAN}, y[2];
    nr_err e = {0};
    ck_assert_int_eq(nr_emulate(&t.m, x, 1, y, NULL, NULL, &e), 0);
    ck_assert(y[0] == 0 && signbit(y[0]));
    ck_assert(isnan(y[1]));
    x[0] = 0.0f, x[1] = -0.0f, x[2] = NAN, x[3] = 1;
    ck_assert_int_eq(nr_emulate(&t.m, x, 1, y, NULL, NULL, &e), 0);
    ck_assert(y[0] == 0 && !signbit(y[0]));
    ck_assert(isnan(y[1]));
    tn_free(&t);
}
END_TEST

/* Padding terms are skipped, not multiplied by zero: a 1x1-input 3x3 conv
 * with pad 1 and only the centre term present.  In rd, -0 + (+0) would be
 * -0 anyway, so use rne: bias -0 (-> acc -0), centre product w*x = -0 * 1;
 * with skipping, acc = -0 + -0 = -0; had the 8 padding terms been added as
 * +0 products, acc would be +0. */
START_TEST(test_padding_skipped)
{
    tnet t;
    tn_init(&t, 1, 1, 1, "fp32", 1);
    nr_layer *L = tn_conv(&t, -1, uniform("fp32", NR_MAC_UNFUSED),
                          (convp){.O = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                                  .pad = {1, 1, 1, 1}, .groups = 1, .bias = 1});
    for (int i = 0; i < 9; i++)
        L->w[i] = 1;
    L->w[4] = -0.0;
    L->b[0] = -0.0;
    float x = 1, y;
    for (int nf = 0; nf < 2; nf++) {
        nr_emu_stats st;
        nr_err e = {0};
        ck_assert_int_eq(nr_emu_stats_init(&st, &t.m, &e), 0);
        nr_emu_opts o = {.trace_layer = -1, .no_fast = nf};
        ck_assert_int_eq(nr_emulate(&t.m, &x, 1, &y, &st, &o, &e), 0);
        ck_assert_msg(signbit(y) && y == 0, "got %a", (double)y);
        ck_assert_uint_eq(st.layer[0].prod.events, 1); /* one term, not nine */
        nr_emu_stats_free(&st);
    }
    tn_free(&t);
}
END_TEST

/* ---------------------------------------------------------------- exact mode vs MPFR */

START_TEST(test_exact_vs_mpfr)
{
    const char *fmts[2] = {"fp32", "fp64"};
    for (int fi = 0; fi < 2; fi++)
        for (int rep = 0; rep < (tu_quick() ? 3 : 20); rep++) {
            tnet t;
            tn_init(&t, 40, 1, 1, fmts[fi], 77 + (uint64_t)rep);
            nr_layer *L = tn_dense(&t, -1, uniform(fmts[fi], NR_MAC_EXACT), 3, 1);
            /* magnitudes spread over many binades, with cancelling pairs */
            for (size_t i = 0; i < L->nw; i++)
                L->w[i] = ldexp(urand(&t, -1, 1), (int)(tu_rand(&t.rng) % 120) - 60);
            for (int o = 0; o < 3; o++)
                L->b[o] = ldexp(urand(&t, -1, 1), (int)(tu_rand(&t.rng) % 40) - 20);
            float x[40];
            for (int i = 0; i < 40; i++)
                x[i] = (float)ldexp(urand(&t, -1, 1), (int)(tu_rand(&t.rng) % 60) - 30);
            L->w[3] = -L->w[1], x[3] = x[1]; /* exact cancellation */
            double y[3], *lay[TN_MAX] = {y};
            float out[3];
            nr_err e = {0};
            nr_emu_opts o = {.trace_layer = -1};
            ck_assert_int_eq(nr_emulate_layers(&t.m, x, 1, out, lay, NULL, &o, &e), 0);
            g_fp32 = fi == 0;
            mpfr_t acc, p;
            mpfr_init2(acc, 3000);
            mpfr_init2(p, 3000);
            for (int oo = 0; oo < 3; oo++) {
                mpfr_set_d(acc, rnd(rnd(L->b[oo])), MPFR_RNDN);
                for (int i = 0; i < 40; i++) {
                    mpfr_set_d(p, rnd(L->w[oo * 40 + i]), MPFR_RNDN);
                    mpfr_mul_d(p, p, (double)x[i], MPFR_RNDN); /* exact at 3000 bits */
                    mpfr_add(acc, acc, p, MPFR_RNDN);         /* exact at 3000 bits */
                }
                double want = fi == 0 ? (double)mpfr_get_flt(acc, MPFR_RNDN)
                                      : mpfr_get_d(acc, MPFR_RNDN);
                expect_val(y[oo], want, fmts[fi]);
            }
            mpfr_clear(acc);
            mpfr_clear(p);
            tn_free(&t);
        }
}
END_TEST

/* ---------------------------------------------------------------- stochastic rounding */

START_TEST(test_sr_reproducible)
{
    nr_layer_prec p = prec_of("e4m3", "e4m3", "e4m3", "fp16", NR_RND_SR, NR_MAC_UNFUSED);
    float y1[64], y2[64], y3[64];
    for (int k = 0; k < 3; k++) {
        tnet t;
        tn_init(&t, 3, 8, 8, "e4m3", 5);
        t.m.seed = k == 2 ? 99 : 42;
        tn_conv(&t, -1, p, (convp){.O = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1,
                                   .pad = {1, 1, 1, 1}, .groups = 1, .bias = 1});
        float *in = rand_input(&t, 3 * 64, 3.0);
        nr_err e = {0};
        ck_assert_int_eq(nr_emulate(&t.m, in, 1, k == 0 ? y1 : k == 1 ? y2 : y3, NULL, NULL, &e),
                         0);
        free(in);
        tn_free(&t);
    }
    ck_assert(!memcmp(y1, y2, sizeof y1));     /* same seed: same bits */
    ck_assert(memcmp(y1, y3, sizeof y1) != 0); /* 64 outputs of ~100 draws each */
}
END_TEST

/* The draw numbering of emulator.h: one dense output, one term.  The
 * product 1.25*1.25 = 1.5625 lies between 1.5 and 1.75 in e3m2 (fraction
 * 1/4): it rounds up iff nr_sr_bits(seed, 0, 0, PRODUCT(0)) < 2^30.  The
 * weights (exact) and the accumulator (fp32: exact) draw nothing that
 * matters; the element for output o of layer 0 is o. */
START_TEST(test_sr_numbering)
{
    nr_layer_prec p = prec_of("e3m2", "fp32", "e3m2", "fp32", NR_RND_SR, NR_MAC_UNFUSED);
    int ups = 0;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        tnet t;
        tn_init(&t, 1, 1, 1, "e3m2", 1);
        t.m.seed = seed;
        nr_layer *L = tn_dense(&t, -1, p, 4, 0);
        for (int o = 0; o < 4; o++)
            L->w[o] = 1.25;
        float x = 1.25f, y[4];
        nr_err e = {0};
        ck_assert_int_eq(nr_emulate(&t.m, &x, 1, y, NULL, NULL, &e), 0);
        for (int o = 0; o < 4; o++) {
            int up = nr_sr_bits(seed, 0, (uint64_t)o, NR_EMU_TERM_PRODUCT(0)) < (1u << 30);
            ck_assert_msg(y[o] == (up ? 1.75f : 1.5f), "seed %llu output %d: %g",
                          (unsigned long long)seed, o, (double)y[o]);
            ups += up;
        }
        tn_free(&t);
    }
    ck_assert(ups > 20 && ups < 110); /* about a quarter of 256 */
}
END_TEST

/* ---------------------------------------------------------------- statistics */

/* fp32: products 1e30*1e30 overflow, 1e-30*1e-30 flush to zero; the fast
 * path's counts equal the generic path's (which come from the rounding
 * flags). */
START_TEST(test_stats_fast_vs_generic)
{
    for (int fused = 0; fused < 2; fused++) {
        nr_emu_stats st[2];
        float y[2][2];
        for (int nf = 0; nf < 2; nf++) {
            tnet t;
            tn_init(&t, 4, 1, 1, "fp32", 1);
            nr_layer *L = tn_dense(&t, -1, uniform("fp32", fused ? NR_MAC_FUSED : NR_MAC_UNFUSED),
                                   2, 1);
            const double w[8] = {1e30, 1, 1, 1, 0, 1e-30, 0, 1};
            memcpy(L->w, w, sizeof w);
            L->b[0] = 0, L->b[1] = 0;
            float x[4] = {1e30f, 1, 1, -1};
            x[1] = 1e-30f;
            nr_err e = {0};
            ck_assert_int_eq(nr_emu_stats_init(&st[nf], &t.m, &e), 0);
            nr_emu_opts o = {.trace_layer = -1, .no_fast = nf};
            ck_assert_int_eq(nr_emulate(&t.m, x, 1, y[nf], &st[nf], &o, &e), 0);
            tn_free(&t);
        }
        ck_assert(!memcmp(y[0], y[1], sizeof y[0]));
        ck_assert(isinf(y[0][0]));
        ck_assert(!memcmp(&st[0].layer[0], &st[1].layer[0], sizeof st[0].layer[0]));
        const nr_emu_layer_stats *s = &st[0].layer[0];
        if (!fused) {
            ck_assert_uint_eq(s->prod.events, 8);
            ck_assert_uint_eq(s->prod.overflow, 1);
            ck_assert_uint_eq(s->prod.flushed, 1);
            ck_assert_uint_eq(s->sum.events, 10);
        } else {
            /* 1e30*1e30 + 0 overflows; 1e-60 + 0 flushes */
            ck_assert_uint_eq(s->sum.overflow, 1);
            ck_assert_uint_eq(s->sum.flushed, 1);
        }
        ck_assert_uint_eq(s->out.events, 2);
        nr_emu_stats_free(&st[0]);
        nr_emu_stats_free(&st[1]);
    }
}
END_TEST

/* Random convs: fast and generic paths agree bit for bit (results and
 * stats) also when the weights/activations are narrower than the fp32
 * products and accumulator. */
START_TEST(test_fast_equals_generic)
{
    const char *wf[3] = {"bf16", "e4m3", "fp32"};
    for (int i = 0; i < 3; i++)
        for (int fused = 0; fused < 2; fused++) {
            float y[2][6 * 5 * 4];
            nr_emu_stats st[2];
            for (int nf = 0; nf < 2; nf++) {
                tnet t;
                tn_init(&t, 3, 10, 8, wf[i], 11);
                nr_layer_prec p = prec_of(wf[i], wf[i], "fp32", "fp32", NR_RND_RNE,
                                          fused ? NR_MAC_FUSED : NR_MAC_UNFUSED);
                tn_conv(&t, -1, p, (convp){.O = 6, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1,
                                           .dw = 1, .pad = {1, 1, 1, 0}, .groups = 1, .bias = 1});
                float *in = rand_input(&t, 3 * 80, 4.0);
                nr_err e = {0};
                ck_assert_int_eq(nr_emu_stats_init(&st[nf], &t.m, &e), 0);
                nr_emu_opts o = {.trace_layer = -1, .no_fast = nf};
                ck_assert(nr_shape_count(t.L[0].out_shape) == 6 * 5 * 4);
                ck_assert_int_eq(nr_emulate(&t.m, in, 1, y[nf], &st[nf], &o, &e), 0);
                free(in);
                tn_free(&t);
            }
            ck_assert_msg(!memcmp(y[0], y[1], sizeof y[0]), "%s fused=%d", wf[i], fused);
            ck_assert(!memcmp(&st[0].layer[0], &st[1].layer[0], sizeof st[0].layer[0]));
            nr_emu_stats_free(&st[0]);
            nr_emu_stats_free(&st[1]);
        }
}
END_TEST

/* e3m2: 0.25*0.125 = 1/32 is half the smallest subnormal (1/16): rne gives
 * 0 (tie to even), flushed; 20*20 = 400 saturates (finite format). */
START_TEST(test_stats_narrow)
{
    tnet t;
    tn_init(&t, 2, 1, 1, "e3m2", 1);
    tn_dense(&t, -1, uniform("e3m2", NR_MAC_UNFUSED), 2, 0);
    t.L[0].w[0] = 0.25, t.L[0].w[1] = 0, t.L[0].w[2] = 0, t.L[0].w[3] = 20;
    float x[2] = {0.125f, 20}, y[2];
    nr_emu_stats st;
    nr_err e = {0};
    ck_assert_int_eq(nr_emu_stats_init(&st, &t.m, &e), 0);
    ck_assert_int_eq(nr_emulate(&t.m, x, 1, y, &st, NULL, &e), 0);
    ck_assert(y[0] == 0 && y[1] == 28);
    ck_assert_uint_eq(st.layer[0].prod.flushed, 1);
    ck_assert_uint_eq(st.layer[0].prod.overflow, 1);
    ck_assert_uint_eq(st.layer[0].prod.saturated, 1);
    ck_assert_uint_eq(st.input.events, 2);
    ck_assert_uint_eq(st.input.overflow, 0);
    ck_assert_uint_eq(st.samples, 1);
    nr_emu_stats_free(&st);
    tn_free(&t);
}
END_TEST

/* ---------------------------------------------------------------- trace */

START_TEST(test_trace)
{
    tnet t;
    tn_init(&t, 3, 1, 1, "e3m2", 1);
    nr_layer *L = tn_dense(&t, -1, uniform("e3m2", NR_MAC_UNFUSED), 2, 1);
    L->w[3] = 1.25, L->w[4] = 1.25, L->w[5] = -1.75, L->b[1] = 0;
    float x[3] = {1.25f, 1.25f, 1.75f}, y[2];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert(f);
    nr_emu_opts o = {.trace = f, .trace_layer = 0, .trace_index = 1};
    nr_err e = {0};
    ck_assert_int_eq(nr_emulate(&t.m, x, 1, y, NULL, &o, &e), 0);
    fclose(f);
    /* e3m2 1.5 = 0x0e, 3 = 0x12 */
    ck_assert_msg(strstr(buf, "term 0: x=0x0d (1.25) w=0x0d (1.25) p=0x0e (1.5) acc=0x0e (1.5)"),
                  "%s", buf);
    ck_assert_msg(strstr(buf, "term 1: x=0x0d (1.25) w=0x0d (1.25) p=0x0e (1.5) acc=0x12 (3)"),
                  "%s", buf);
    ck_assert_msg(strstr(buf, "final acc=0x00 (0)"), "%s", buf);
    free(buf);
    /* index out of range is an error, not a crash */
    o.trace = stderr;
    o.trace_index = 2;
    ck_assert_int_eq(nr_emulate(&t.m, x, 1, y, NULL, &o, &e), -NR_ERANGE);
    tn_free(&t);
}
END_TEST

/* ---------------------------------------------------------------- bad models */

START_TEST(test_bad_models)
{
    tnet t;
    tn_init(&t, 3, 4, 4, "fp32", 1);
    nr_layer *L = tn_conv(&t, -1, uniform("fp32", NR_MAC_UNFUSED),
                          (convp){.O = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                                  .pad = {1, 1, 1, 1}, .groups = 1, .bias = 0});
    float x[48] = {0}, y[32];
    nr_err e = {0};
    L->nw--; /* weight count no longer matches the shapes */
    ck_assert_int_eq(nr_emulate(&t.m, x, 1, y, NULL, NULL, &e), -NR_EINTERNAL);
    ck_assert_msg(strstr(e.msg, "inconsistent model"), "%s", e.msg);
    L->nw++;
    nr_err_clear(&e);
    L->prec.accumulator = tu_fmt("q40.20"); /* 60 magnitude bits: not a double */
    ck_assert_int_eq(nr_emulate(&t.m, x, 1, y, NULL, NULL, &e), -NR_EUNSUP);
    ck_assert_msg(strstr(e.msg, "at most 53"), "%s", e.msg);
    L->prec.accumulator = tu_fmt("fp32");
    nr_err_clear(&e);
    L->inputs[0] = 0; /* reads itself */
    ck_assert_int_eq(nr_emulate(&t.m, x, 1, y, NULL, NULL, &e), -NR_EINTERNAL);
    tn_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("emulator");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_convs);
    tcase_add_test(tc, test_dense);
    tcase_add_test(tc, test_batchnorm);
    tcase_add_test(tc, test_pools);
    tcase_add_test(tc, test_misc_ops);
    tcase_add_test(tc, test_hand_e3m2);
    tcase_add_test(tc, test_hand_q34_saturation);
    tcase_add_test(tc, test_hand_mixed_rz);
    tcase_add_test(tc, test_hand_cancellation);
    tcase_add_test(tc, test_padding_skipped);
    tcase_add_test(tc, test_exact_sticky);
    tcase_add_test(tc, test_maxpool_order);
    tcase_add_test(tc, test_exact_vs_mpfr);
    tcase_add_test(tc, test_sr_reproducible);
    tcase_add_test(tc, test_sr_numbering);
    tcase_add_test(tc, test_stats_fast_vs_generic);
    tcase_add_test(tc, test_fast_equals_generic);
    tcase_add_test(tc, test_stats_narrow);
    tcase_add_test(tc, test_trace);
    tcase_add_test(tc, test_bad_models);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
