/* emu_ops.c -- every layer op except conv/dense/batchnorm: the exact ones
 * (relu, clip, maxpool, slice, pad, concat, flatten, dropout: [net-7]), the
 * pools that sum in the accumulator format ([net-6]), add ([net-3]) and
 * LRN/softmax through emu_math.c ([net-8]).  Each writes the layer's values,
 * already rounded to the activation format ([net-1]). */
#include "emu_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- checks */

/* Slice along one axis: normalised start, and the index of element i. */
static int slice_start(int start, int dim)
{
    if (start < 0)
        start += dim;
    return start < 0 ? 0 : start > dim ? dim : start;
}

static int shape_eq(const int a[3], const int b[3]) { return !memcmp(a, b, 3 * sizeof(int)); }

/* The emulator indexes by these shapes, so it checks them itself rather
 * than trust that the model builder did ([net-13]). */
int emu_ops_check(const nr_layer *L, nr_err *err)
{
    const int *in = L->in_shape[0], *out = L->out_shape;
    const nr_layer_spec *s = L->spec;
    const char *why = NULL;
    switch (L->op) {
    case NR_OP_RELU: case NR_OP_RELU6: case NR_OP_CLIP: case NR_OP_DROPOUT:
    case NR_OP_LRN: case NR_OP_SOFTMAX:
        if (!shape_eq(in, out))
            why = "output shape differs from input shape";
        if (L->op == NR_OP_LRN && s->lrn_size < 1)
            why = "lrn size < 1";
        break;
    case NR_OP_FLATTEN:
        if (nr_shape_count(in) != nr_shape_count(out))
            why = "flatten changes the element count";
        break;
    case NR_OP_ADD:
        if (L->ninputs != 2 || !shape_eq(in, out) || !shape_eq(L->in_shape[1], out))
            why = "add needs two inputs of the output's shape";
        break;
    case NR_OP_CONCAT: {
        int c = 0;
        for (int i = 0; i < L->ninputs; i++) {
            c += L->in_shape[i][0];
            if (L->in_shape[i][1] != out[1] || L->in_shape[i][2] != out[2])
                why = "concat inputs differ in H, W";
        }
        if (c != out[0])
            why = "concat channel count";
        break;
    }
    case NR_OP_MAXPOOL: case NR_OP_AVGPOOL:
        if (s->kernel[0] < 1 || s->kernel[1] < 1 || s->stride[0] < 1 || s->stride[1] < 1 ||
            out[0] != in[0])
            why = "pool kernel/stride/channels";
        break;
    case NR_OP_GLOBAL_AVGPOOL:
        if (out[0] != in[0] || out[1] != 1 || out[2] != 1 || in[1] * in[2] < 1)
            why = "global_avgpool output must be [C,1,1]";
        break;
    case NR_OP_SLICE:
        for (int a = 0; a < 3; a++) {
            int st = slice_start(s->slice_start[a], in[a]);
            if (s->slice_step[a] < 1 || out[a] < 0 ||
                (out[a] > 0 && st + (int64_t)(out[a] - 1) * s->slice_step[a] >= in[a]))
                why = "slice reads outside its input";
        }
        break;
    case NR_OP_PAD:
        for (int a = 0; a < 3; a++)
            if (s->pad_before[a] < 0 || s->pad_after[a] < 0 ||
                out[a] != in[a] + s->pad_before[a] + s->pad_after[a])
                why = "pad: output = before + input + after on every axis";
        break;
    default:
        why = "not an emu_ops op";
        break;
    }
    if (why)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name, "inconsistent model: %s",
                          why);
    return 0;
}

/* ---------------------------------------------------------------- helpers */

/* [net-1] the output of an exact op is the exact result rounded to the
 * activation format: a no-op when the input already has that format. */
static double out1(emu *E, const emu_layer *el, int in_i, double v, size_t e)
{
    if (el->in_same[in_i])
        return v;
    nr_emu_layer_stats *st = emu_stats(E, el->L->index);
    return emu_round(E, el->af, el->mode, v, (uint32_t)el->L->index, e, NR_EMU_TERM_OUT,
                     st ? &st->out : NULL);
}

/* Pool window of output (oh, ow) along one axis, PyTorch's rule: the window
 * may reach into the bottom/right padding (ceil mode) but not beyond it;
 * pool_size counts padding, the clipped range does not. */
typedef struct win { int start0, lo, hi, full; } win;

static win window(int o, int k, int s, int pad_lo, int pad_hi, int n)
{
    win w;
    w.start0 = o * s - pad_lo;
    int end = w.start0 + k;
    if (end > n + pad_hi)
        end = n + pad_hi;
    w.full = end - w.start0;
    w.lo = w.start0 < 0 ? 0 : w.start0;
    w.hi = end > n ? n : end;
    return w;
}

/* ---------------------------------------------------------------- ops */

static void clip_op(emu *E, const emu_layer *el, int li)
{
    const nr_layer *L = el->L;
    double lo = 0, hi = INFINITY;
    if (L->op == NR_OP_RELU6)
        hi = 6;
    else if (L->op == NR_OP_CLIP)
        lo = L->spec->clip_lo, hi = L->spec->clip_hi;
    /* [net-7] finite bounds are rounded (rne) to the activation format. */
    if (isfinite(lo))
        lo = nr_round(el->af, NR_RND_RNE, lo, 0, NULL);
    if (isfinite(hi))
        hi = nr_round(el->af, NR_RND_RNE, hi, 0, NULL);
    const double *x = emu_in(E, li, 0);
    size_t n = nr_shape_count(L->out_shape);
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isnan(v))
            v = v <= lo ? lo : v >= hi ? hi : v;
        E->act[li][i] = out1(E, el, 0, v, i);
    }
}

static void maxpool_op(emu *E, const emu_layer *el, int li)
{
    const nr_layer *L = el->L;
    const nr_layer_spec *s = L->spec;
    const int *in = L->in_shape[0], *out = L->out_shape;
    const double *x = emu_in(E, li, 0);
    size_t e = 0;
    for (int c = 0; c < out[0]; c++)
        for (int oh = 0; oh < out[1]; oh++) {
            win wh = window(oh, s->kernel[0], s->stride[0], L->pad[0], L->pad[2], in[1]);
            for (int ow = 0; ow < out[2]; ow++, e++) {
                win ww = window(ow, s->kernel[1], s->stride[1], L->pad[1], L->pad[3], in[2]);
                /* [net-7] window order; a later value replaces the maximum only
                 * if greater (so of -0 and +0 the first wins); NaN wins. */
                double m = 0;
                int have = 0, nan = 0;
                for (int ih = wh.lo; ih < wh.hi; ih++)
                    for (int iw = ww.lo; iw < ww.hi; iw++) {
                        double v = x[((size_t)c * in[1] + ih) * in[2] + iw];
                        if (isnan(v))
                            nan = 1, m = v;
                        else if (!nan && (!have || v > m))
                            m = v;
                        have = 1;
                    }
                E->act[li][e] = out1(E, el, 0, have ? m : 0.0, e);
            }
        }
}

/* [net-6] one average: sum from +0 in the accumulator format in window
 * order (term SUM(k), k = the window position r*kw + c), then the exact
 * quotient by the count rounded once to the activation format. */
static double avg_element(emu *E, const emu_layer *el, const double *xc, int W, win wh, win ww,
                          int kw, long count, size_t e, FILE *tr)
{
    const uint32_t lay = (uint32_t)el->L->index;
    nr_emu_layer_stats *st = tr ? NULL : emu_stats(E, el->L->index);
    double acc = 0;
    for (int ih = wh.lo; ih < wh.hi; ih++)
        for (int iw = ww.lo; iw < ww.hi; iw++) {
            int k = (ih - wh.start0) * kw + (iw - ww.start0);
            double v = xc[(size_t)ih * W + iw];
            acc = emu_add(E, el->cf, el->mode, acc, v, lay, e, NR_EMU_TERM_SUM(k),
                          st ? &st->sum : NULL);
            if (tr) {
                fprintf(tr, "  term %d: x=", k);
                emu_print_value(tr, el->in_fmt[0], v);
                fprintf(tr, " acc=");
                emu_print_value(tr, el->cf, acc);
                fputc('\n', tr);
            }
        }
    if (tr)
        fprintf(tr, "  divide by %ld\n", count);
    return emu_div_count(E, el->af, el->mode, acc, count, lay, e, NR_EMU_TERM_OUT,
                         st ? &st->out : NULL);
}

static void avgpool_op(emu *E, const emu_layer *el, int li, FILE *tr, int64_t tidx)
{
    const nr_layer *L = el->L;
    const nr_layer_spec *s = L->spec;
    const int *in = L->in_shape[0], *out = L->out_shape;
    const int global = L->op == NR_OP_GLOBAL_AVGPOOL;
    const int kh = global ? in[1] : s->kernel[0], kw = global ? in[2] : s->kernel[1];
    const double *x = emu_in(E, li, 0);
    size_t e = 0;
    for (int c = 0; c < out[0]; c++)
        for (int oh = 0; oh < out[1]; oh++) {
            win wh = global ? (win){0, 0, in[1], in[1]}
                            : window(oh, kh, s->stride[0], L->pad[0], L->pad[2], in[1]);
            for (int ow = 0; ow < out[2]; ow++, e++) {
                win ww = global ? (win){0, 0, in[2], in[2]}
                                : window(ow, kw, s->stride[1], L->pad[1], L->pad[3], in[2]);
                long count = global || s->count_include_pad
                                 ? (long)wh.full * ww.full
                                 : (long)(wh.hi - wh.lo) * (ww.hi - ww.lo);
                if (count < 1)
                    count = 1;
                const double *xc = x + (size_t)c * in[1] * in[2];
                if (tr && (int64_t)e != tidx)
                    continue;
                double v = avg_element(E, el, xc, in[2], wh, ww, kw, count, e, tr);
                if (!tr)
                    E->act[li][e] = v;
            }
        }
}

static void add_op(emu *E, const emu_layer *el, int li)
{
    const double *a = emu_in(E, li, 0), *b = emu_in(E, li, 1);
    nr_emu_layer_stats *st = emu_stats(E, li);
    size_t n = nr_shape_count(el->L->out_shape);
    for (size_t i = 0; i < n; i++) /* [net-3] one rounding of the exact sum */
        E->act[li][i] = emu_add(E, el->af, el->mode, a[i], b[i], (uint32_t)li, i,
                                NR_EMU_TERM_OUT, st ? &st->out : NULL);
}

static void concat_op(emu *E, const emu_layer *el, int li)
{
    size_t e = 0;
    for (int i = 0; i < el->L->ninputs; i++) {
        const double *x = emu_in(E, li, i);
        size_t n = nr_shape_count(el->L->in_shape[i]);
        for (size_t j = 0; j < n; j++, e++)
            E->act[li][e] = out1(E, el, i, x[j], e);
    }
}

static void slice_op(emu *E, const emu_layer *el, int li)
{
    const nr_layer *L = el->L;
    const nr_layer_spec *s = L->spec;
    const int *in = L->in_shape[0], *out = L->out_shape;
    const double *x = emu_in(E, li, 0);
    int st[3];
    for (int a = 0; a < 3; a++)
        st[a] = slice_start(s->slice_start[a], in[a]);
    size_t e = 0;
    for (int c = 0; c < out[0]; c++)
        for (int h = 0; h < out[1]; h++)
            for (int w = 0; w < out[2]; w++, e++) {
                size_t ic = (size_t)st[0] + (size_t)c * s->slice_step[0];
                size_t ih = (size_t)st[1] + (size_t)h * s->slice_step[1];
                size_t iw = (size_t)st[2] + (size_t)w * s->slice_step[2];
                E->act[li][e] = out1(E, el, 0, x[(ic * in[1] + ih) * in[2] + iw], e);
            }
}

static void pad_op(emu *E, const emu_layer *el, int li)
{
    const nr_layer *L = el->L;
    const nr_layer_spec *s = L->spec;
    const int *in = L->in_shape[0], *out = L->out_shape;
    const double *x = emu_in(E, li, 0);
    size_t e = 0;
    for (int c = 0; c < out[0]; c++)
        for (int h = 0; h < out[1]; h++)
            for (int w = 0; w < out[2]; w++, e++) {
                int ic = c - s->pad_before[0], ih = h - s->pad_before[1],
                    iw = w - s->pad_before[2];
                double v = 0.0; /* [net-7] +0 */
                if (ic >= 0 && ic < in[0] && ih >= 0 && ih < in[1] && iw >= 0 && iw < in[2])
                    v = x[((size_t)ic * in[1] + ih) * in[2] + iw];
                E->act[li][e] = out1(E, el, 0, v, e);
            }
}

static void copy_op(emu *E, const emu_layer *el, int li)
{
    const double *x = emu_in(E, li, 0);
    size_t n = nr_shape_count(el->L->out_shape);
    for (size_t i = 0; i < n; i++)
        E->act[li][i] = out1(E, el, 0, x[i], i);
}

static void math_op(emu *E, const emu_layer *el, int li)
{
    const nr_layer *L = el->L;
    const int *sh = L->out_shape;
    const double *x = emu_in(E, li, 0);
    double *y = E->act[li];
    int HW = sh[1] * sh[2];
    if (L->op == NR_OP_LRN)
        nr_emu_math_lrn(x, y, sh[0], HW, L->spec->lrn_size, L->spec->lrn_alpha,
                        L->spec->lrn_beta, L->spec->lrn_k);
    else
        nr_emu_math_softmax(x, y, sh[0], HW);
    nr_emu_layer_stats *st = emu_stats(E, li);
    size_t n = nr_shape_count(sh);
    for (size_t i = 0; i < n; i++) /* [net-8] double result rounded once */
        y[i] = emu_round(E, el->af, el->mode, y[i], (uint32_t)li, i, NR_EMU_TERM_OUT,
                         st ? &st->out : NULL);
}

void emu_ops_run(emu *E, int li)
{
    const emu_layer *el = &E->ly[li];
    switch (el->L->op) {
    case NR_OP_RELU: case NR_OP_RELU6: case NR_OP_CLIP:
        clip_op(E, el, li);
        break;
    case NR_OP_MAXPOOL:
        maxpool_op(E, el, li);
        break;
    case NR_OP_AVGPOOL: case NR_OP_GLOBAL_AVGPOOL:
        avgpool_op(E, el, li, NULL, -1);
        if (E->opts && E->opts->trace && E->opts->trace_layer == li)
            avgpool_op(E, el, li, E->opts->trace, E->opts->trace_index);
        break;
    case NR_OP_ADD:
        add_op(E, el, li);
        break;
    case NR_OP_CONCAT:
        concat_op(E, el, li);
        break;
    case NR_OP_SLICE:
        slice_op(E, el, li);
        break;
    case NR_OP_PAD:
        pad_op(E, el, li);
        break;
    case NR_OP_FLATTEN: case NR_OP_DROPOUT:
        copy_op(E, el, li);
        break;
    case NR_OP_LRN: case NR_OP_SOFTMAX:
        math_op(E, el, li);
        break;
    default: /* conv/dense/batchnorm are emu_mac.c's; emu_ops_check rejects the rest */
        break;
    }
}
