/* model_scaled.c -- scaled weights at model build ([scl-dot-wq]): each
 * conv/dense/batchnorm weight tensor whose layer has a scaled weights role
 * is quantized once, group by group (the whole tensor, one output channel,
 * or a block of `block` input channels at one (o, ky, kx)), into element
 * values and one scale per group.  The emulator reads them; nothing else
 * is rounded here (biases are rounded by the consumer, [scl-dot-bias]). */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SR term of a weight rounded at load: emulator.h's NR_EMU_TERM_WEIGHT
 * (net/ cannot include emu/; emu_mac.c checks that the two agree). */
#define TERM_WEIGHT 0xFFFFFFFEu

/* The weight tensor as [O, cin, kh, kw]. */
static void wdims(const nr_layer *L, int *O, int *cin, int *kh, int *kw)
{
    *O = L->out_shape[0];
    *kh = *kw = 1;
    if (L->op == NR_OP_CONV) {
        *kh = L->spec->kernel[0];
        *kw = L->spec->kernel[1];
        *cin = L->in_shape[0][0] / (L->spec->groups > 0 ? L->spec->groups : 1);
    } else if (L->op == NR_OP_DENSE) {
        *cin = (int)nr_shape_count(L->in_shape[0]);
    } else if (L->op == NR_OP_LINEAR) { /* [scl-seq] weight [out, F]: blocks along F */
        *O = L->out_shape[2];
        *cin = L->in_shape[0][2];
    } else { /* batchnorm: one weight per channel */
        *cin = 1;
    }
}

size_t nr_model_layer_wgroup(const nr_layer *L, int o, int ci, int r, int c)
{
    const nr_scaled *s = &L->prec.weights_scaled;
    int O, cin, kh, kw;
    wdims(L, &O, &cin, &kh, &kw);
    switch (s->gran) {
    case NR_GRAN_CHANNEL:
        return (size_t)o;
    case NR_GRAN_BLOCK: {
        size_t nb = ((size_t)cin + (size_t)s->block - 1) / (size_t)s->block;
        return (((size_t)o * (size_t)kh + (size_t)r) * (size_t)kw + (size_t)c) * nb +
               (size_t)(ci / s->block);
    }
    default:
        return 0;
    }
}

static int quantize_layer(nr_layer *L, uint64_t seed, nr_err *err)
{
    const nr_scaled *s = &L->prec.weights_scaled;
    int O, cin, kh, kw;
    wdims(L, &O, &cin, &kh, &kw);
    size_t per = (size_t)cin * (size_t)kh * (size_t)kw, taps = (size_t)kh * (size_t)kw;
    if (!L->w || L->nw != (size_t)O * per)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name,
                          "%zu weights, expected %d x %zu", L->nw, O, per);
    size_t nb = s->gran == NR_GRAN_BLOCK ? ((size_t)cin + (size_t)s->block - 1) / (size_t)s->block
                                          : 1;
    L->nwscale = s->gran == NR_GRAN_TENSOR    ? 1
                 : s->gran == NR_GRAN_CHANNEL ? (size_t)O
                                              : (size_t)O * taps * nb;
    L->wq = malloc(L->nw * sizeof *L->wq);
    L->wscale = malloc(L->nwscale * sizeof *L->wscale);
    double *tmp = malloc((per ? per : 1) * sizeof *tmp);
    if (!L->wq || !L->wscale || !tmp) {
        free(tmp);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
    }
    nr_scaled_ctx ctx = {.mode = L->prec.rounding, .seed = seed, .layer = (uint32_t)L->index,
                         .element_step = 1, .term = TERM_WEIGHT, .tensor_scale = 1.0};
    if (s->scale == NR_SCALE_NV) { /* [scl-nv] the tensor scale from the tensor's amax */
        ctx.tensor_scale = nr_scaled_tensor_scale(s, nr_scaled_amax(L->w, L->nw, 1));
    }
    int rc = 0;
    for (size_t g = 0; g < L->nwscale && !rc; g++) {
        size_t first, n, stride;
        if (s->gran == NR_GRAN_TENSOR) {
            first = 0, n = L->nw, stride = 1;
        } else if (s->gran == NR_GRAN_CHANNEL) {
            first = g * per, n = per, stride = 1;
        } else { /* g = ((o*kh + r)*kw + c)*nb + b: ci from b*block along stride taps */
            size_t b = g % nb, t = g / nb, tap = t % taps, o = t / taps;
            size_t ci0 = b * (size_t)s->block;
            n = (size_t)cin - ci0 < (size_t)s->block ? (size_t)cin - ci0 : (size_t)s->block;
            first = o * per + ci0 * taps + tap;
            stride = taps;
        }
        nr_scaled_group gr;
        ctx.element0 = first;
        ctx.element_step = stride;
        double *p = s->gran == NR_GRAN_BLOCK && stride != 1 ? tmp : L->wq + first;
        rc = nr_scaled_quantize(s, L->w + first, n, stride, &ctx, p, &gr, err);
        if (rc)
            break;
        if (p == tmp)
            for (size_t i = 0; i < n; i++)
                L->wq[first + i * stride] = tmp[i];
        L->wscale[g] = gr.scale;
        L->wq_clipped += (uint64_t)gr.clipped;
        L->wq_zero += (uint64_t)(gr.zero != 0);
        L->wq_nan += (uint64_t)(gr.nan != 0);
    }
    free(tmp);
    return rc;
}

int nr_model_quantize_weights(nr_model *m, nr_err *err)
{
    for (int li = 0; li < m->nlayers; li++) {
        nr_layer *L = &m->layers[li];
        if (L->prec.weights_scaled.gran == NR_GRAN_NONE ||
            (L->op != NR_OP_CONV && L->op != NR_OP_DENSE && L->op != NR_OP_BATCHNORM &&
             L->op != NR_OP_LINEAR))
            continue;
        int rc = quantize_layer(L, m->seed, err);
        if (rc)
            return rc;
    }
    return 0;
}

int nr_model_is_scaled(const nr_model *m)
{
    for (int i = 0; i < m->nlayers; i++)
        if (nr_prec_is_scaled(&m->layers[i].prec))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------- static activation scales */

const nr_scaled *nr_model_act_scaled(const nr_model *m, int li)
{
    const nr_scaled *s = &m->layers[li < 0 ? 0 : li].prec.activations_scaled;
    return s->gran != NR_GRAN_NONE ? s : NULL;
}

double nr_model_act_scale(const nr_model *m, int li)
{
    return li < 0 ? m->in_scale : m->layers[li].act_scale;
}

/* The value of a written scale in scale format f, or 0 when f cannot hold
 * it exactly ([scl-cal-file]: fp32 scales are read as the nearest fp32,
 * e8m0 and ue4m3 ones must be exact values). */
static double scale_value(const struct nr_prec_scale *w, nr_scale_fmt f)
{
    if (f == NR_SCALE_NV) /* [scl-nv-static] the calibrated value is nvfp4's fp32 tensor scale */
        f = NR_SCALE_FP32;
    double v = f == NR_SCALE_FP32 ? (double)w->value_f32 : w->value;
    if (!(v > 0) || !isfinite(v))
        return 0;
    if (f == NR_SCALE_E8M0) {
        int e;
        double fr = frexp(v, &e);
        return fr == 0.5 && e - 1 >= -127 && e - 1 <= 127 ? v : 0;
    }
    const nr_format *sf = nr_scaled_scale_format(f);
    unsigned fl = 0;
    uint64_t bits = sf ? nr_encode(sf, NR_RND_RNE, v, 0, &fl) : 0;
    return sf && !(fl & NR_FLAG_INEXACT) && nr_decode(sf, bits) == v ? v : 0;
}

/* Which tensor a written name means: -1 the input, a layer index, or -2. */
static int scale_tensor(const nr_model *m, const char *name)
{
    if (!strcmp(name, "input"))
        return -1;
    for (int i = 0; i < m->nlayers; i++)
        if (!strcmp(m->layers[i].name, name) ||
            (m->layers[i].folded_bn[0] && !strcmp(m->layers[i].folded_bn, name)))
            return i;
    return -2;
}

static int bind_one(nr_model *m, const struct nr_prec_scale *w, nr_err *err)
{
    const nr_precision *P = m->prec;
    char where[NR_NAME_MAX + 16], sn[96];
    snprintf(where, sizeof where, "scales.%s", w->name);
    int li = scale_tensor(m, w->name);
    if (li == -2)
        return nr_err_set(err, NR_ESYNTAX, P->path, w->line, w->col, where,
                          "no tensor of that name in %s: expected a layer name or input",
                          m->spec->path);
    const nr_scaled *s = nr_model_act_scaled(m, li);
    double *dst = li < 0 ? &m->in_scale : &m->layers[li].act_scale;
    if (!s || s->rule != NR_RULE_STATIC) {
        if (s)
            nr_scaled_name(s, sn, sizeof sn);
        return nr_err_set(err, NR_ESYNTAX, P->path, w->line, w->col, where,
                          "the activations of %s are %s%s: a scale is used only with rule "
                          "static (e.g. int8@tensor:fp32:static)",
                          w->name, s ? sn : "not scaled", s ? " (a dynamic rule)" : "");
    }
    if (*dst != 0)
        return nr_err_set(err, NR_ESYNTAX, P->path, w->line, w->col, where,
                          "a second scale for the same tensor (a layer and its folded "
                          "batchnorm name one tensor)");
    double v = scale_value(w, s->scale);
    if (v == 0)
        return nr_err_set(err, NR_ERANGE, P->path, w->line, w->col, where,
                          "%.9g is not a value of the %s scale format%s", w->value,
                          nr_scaled_scale_name(s->scale),
                          s->scale == NR_SCALE_E8M0 ? " (a power of two 2^-127 .. 2^127)"
                          : s->scale == NR_SCALE_UE4M3
                              ? " (an unsigned e4m3 value, 2^-9 .. 448, e.g. 0.25 or 1.125)"
                          : s->scale == NR_SCALE_NV
                              ? " (nv: its fp32 tensor scale, a normal or subnormal fp32 number)"
                              : " (a normal or subnormal fp32 number)");
    *dst = v;
    return 0;
}

int nr_model_bind_scales(nr_model *m, nr_err *err)
{
    const nr_precision *P = m->prec;
    int rc;
    for (int i = 0; i < P->nscales; i++)
        if ((rc = bind_one(m, &P->scales[i], err)))
            return rc;
    for (int li = -1; li < m->nlayers; li++) {
        const nr_scaled *s = nr_model_act_scaled(m, li);
        if (!s || s->rule != NR_RULE_STATIC || nr_model_act_scale(m, li) != 0)
            continue;
        char sn[96];
        nr_scaled_name(s, sn, sizeof sn);
        const char *name = li < 0 ? "input" : m->layers[li].name;
        return nr_err_set(err, NR_ESYNTAX, P->path[0] ? P->path : "-p", P->dflt_line,
                          P->dflt_col, "scales",
                          "the activations of %s are %s (a static scale) but `scales:` has no "
                          "scale for %s; numrep calibrate writes them all",
                          name, sn, name);
    }
    return 0;
}
