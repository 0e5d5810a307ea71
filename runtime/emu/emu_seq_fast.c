/* emu_seq_fast.c -- the host-float fast path of scale, add_const, gelu,
 * softmax_axis and layernorm ([op-fast]): when the activation,
 * accumulator, product and nonlinear formats are all fp32, the mode is rne,
 * and the weights and the input fit float32, each rounding step of
 * emu_seq.c is one IEEE float operation on exact float operands, which is
 * exactly one correct rne rounding into fp32.  Same order of operations,
 * same bits (tests/check_transformer.c runs both paths against each other).
 * Nonlinear functions still go through emu_seq_nl.  Not used when
 * statistics are collected. */
#include "emu_internal.h"

#include <math.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

int emu_seq_fast_ok(const emu_layer *el)
{
    switch (el->L->op) {
    case NR_OP_SCALE: case NR_OP_ADD_CONST: case NR_OP_GELU: case NR_OP_SOFTMAX_AXIS:
    case NR_OP_LAYERNORM:
        break;
    default:
        return 0;
    }
    return el->mode == NR_RND_RNE && emu_is_fp32(el->af) && emu_is_fp32(el->cf) && emu_is_fp32(el->pf) &&
           emu_is_fp32(el->nf) && nr_format_fits_f32(el->wf) && nr_format_fits_f32(el->in_fmt[0]);
}

/* [op-softmax], one line of n values at stride s. */
static void softmax_line(const emu *E, const emu_layer *el, const double *x, double *y,
                         size_t base, size_t s, int n)
{
    const int plain = el->L->spec->sm_plain;
    float m = 0;
    if (!plain) {
        m = -INFINITY;
        for (int i = 0; i < n; i++) {
            float v = (float)x[base + (size_t)i * s];
            if (isnan(v) || v > m)
                m = v;
            if (isnan(v))
                break;
        }
    }
    float sum = 0;
    for (int i = 0; i < n; i++) {
        size_t k = base + (size_t)i * s;
        float d = plain ? (float)x[k] : (float)x[k] - m;
        float e = (float)emu_seq_nl(E, el, NR_NL_EXP, el->nf, d, k, NULL);
        y[k] = e;
        sum = sum + e;
    }
    for (int i = 0; i < n; i++) {
        size_t k = base + (size_t)i * s;
        y[k] = (float)y[k] / sum;
    }
}

/* [op-layernorm], one token of F features. */
static void layernorm_row(const emu *E, const emu_layer *el, const double *x, double *y,
                          size_t base, int F, float *d)
{
    float s = 0;
    for (int f = 0; f < F; f++)
        s = s + (float)x[f];
    const float mean = s / (float)F;
    float q = 0;
    for (int f = 0; f < F; f++) {
        d[f] = (float)x[f] - mean;
        float p = d[f] * d[f];
        q = q + p;
    }
    const float var = q / (float)F;
    const float v = var + (float)el->bacc[0];
    const float r = (float)emu_seq_nl(E, el, NR_NL_RSQRT, el->cf, v, base, NULL);
    for (int f = 0; f < F; f++) {
        float u = d[f] * r;
        float z = u * (float)el->w[f];
        y[f] = z + (float)el->b[f];
    }
}

int emu_seq_fast(emu *E, int li)
{
    const emu_layer *el = &E->ly[li];
    const nr_layer *L = el->L;
    const double *x = emu_in(E, li, 0);
    double *y = E->act[li];
    const int *sh = L->out_shape;
    const size_t n = nr_shape_count(sh);
    switch (L->op) {
    case NR_OP_SCALE: {
        const float c = (float)el->w[0];
        for (size_t i = 0; i < n; i++)
            y[i] = (float)x[i] * c;
        return 1;
    }
    case NR_OP_ADD_CONST:
        for (size_t i = 0; i < n; i++)
            y[i] = (float)x[i] + (float)el->w[i];
        return 1;
    case NR_OP_GELU: {
        nr_nlfn fn = L->spec->gelu_tanh ? NR_NL_GELU_TANH : NR_NL_GELU;
        for (size_t i = 0; i < n; i++) /* nf = af: one rounding */
            y[i] = emu_seq_nl(E, el, fn, el->in_fmt[0], x[i], i, NULL);
        return 1;
    }
    case NR_OP_SOFTMAX_AXIS: {
        int ax = L->spec->axis;
        size_t stride = ax == 2 ? 1 : ax == 1 ? (size_t)sh[2] : (size_t)sh[1] * sh[2];
        for (size_t base = 0; base < n; base++)
            if (base / stride % (size_t)sh[ax] == 0)
                softmax_line(E, el, x, y, base, stride, sh[ax]);
        return 1;
    }
    case NR_OP_LAYERNORM: {
        int F = sh[2];
        float d[4096];
        if (F > 4096)
            return 0;
        for (size_t base = 0; base < n; base += (size_t)F)
            layernorm_row(E, el, x + base, y + base, base, F, d);
        return 1;
    }
    default:
        return 0;
    }
}
