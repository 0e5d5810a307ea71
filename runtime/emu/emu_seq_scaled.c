/* emu_seq_scaled.c -- scaled formats on the dot products of the sequence
 * ops, written plainly after docs/semantics.md [scl-seq]: a linear layer's
 * weight [out, F] is quantized once at build (model_scaled.c, blocks along
 * F); each activation operand of a linear or matmul is quantized by the
 * layer itself, per sample, in blocks along its reduction axis (a row of
 * the input, of Q, of K, of the attention probabilities; a column of V);
 * then every output is emu_scaled.c's dot product of one line of each
 * operand (emu_dot_scaled_line: segments, mac modes, SR terms as for conv).
 * emu_attn.c hands a layer here when it has scaled weights or operands, a
 * block mac or promote. */
#include "emu_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* SR term of the second operand's quantization (the first's is
 * NR_EMU_TERM_QUANT): a matmul may read one tensor twice ([scl-seq]). */
#define TERM_QUANT_B (NR_EMU_TERM_QUANT - 1u)

/* One operand stored [Bs, P, Q], reduced along Q (last) or along P. */
typedef struct opnd {
    const int *sh;
    int last;
} opnd;

static int opnd_k(const opnd *o) { return o->last ? o->sh[2] : o->sh[1]; }
static int opnd_other(const opnd *o) { return o->last ? o->sh[1] : o->sh[2]; }

/* Line i of batch b: its number, first element and stride. */
static void line_of(const opnd *o, int b, int i, size_t *line, size_t *first, size_t *stride)
{
    const size_t P = (size_t)o->sh[1], Q = (size_t)o->sh[2];
    if (o->last) {
        *line = (size_t)b * P + (size_t)i;
        *first = *line * Q;
        *stride = 1;
    } else {
        *line = (size_t)b * Q + (size_t)i;
        *first = (size_t)b * P * Q + (size_t)i;
        *stride = Q;
    }
}

static size_t opnd_groups(const nr_scaled *s, const opnd *o)
{
    if (s->gran != NR_GRAN_BLOCK)
        return 1;
    size_t nb = ((size_t)opnd_k(o) + (size_t)s->block - 1) / (size_t)s->block;
    return nb * (size_t)o->sh[0] * (size_t)opnd_other(o);
}

static void opnds_of(const nr_layer *L, opnd o[2])
{
    o[0] = (opnd){L->in_shape[0], L->op == NR_OP_LINEAR || !L->spec->trans_a};
    o[1] = (opnd){L->in_shape[1], L->op == NR_OP_MATMUL && L->spec->trans_b};
}

/* [scl-seq] operand w (0, 1) of layer el quantized: element values to
 * qp[w], one scale per group to qsc[w] (group line * nb + k / block). */
static int quantize(emu *E, emu_layer *el, int w, const double *x, const opnd *o,
                    nr_emu_scaled_counts *c, nr_err *err)
{
    const nr_scaled *s = el->qs;
    const size_t n = nr_shape_count(o->sh);
    nr_scaled_ctx ctx = {.mode = el->mode, .seed = E->m->seed, .layer = (uint32_t)el->L->index,
                         .element_step = 1, .term = w ? TERM_QUANT_B : NR_EMU_TERM_QUANT,
                         .tensor_scale = 1.0};
    if (s->scale == NR_SCALE_NV) /* [scl-nv] the operand tensor's amax */
        ctx.tensor_scale = nr_scaled_tensor_scale(s, nr_scaled_amax(x, n, 1));
    nr_scaled_group g;
    int rc;
    if (s->gran != NR_GRAN_BLOCK) { /* one group: the whole operand tensor */
        if ((rc = nr_scaled_quantize(s, x, n, 1, &ctx, el->qp[w], &g, err)))
            return rc;
        emu_scaled_count(c, &g);
        el->qsc[w][0] = g.scale;
        return 0;
    }
    const int K = opnd_k(o), B = s->block, nb = (K + B - 1) / B;
    for (int b = 0; b < o->sh[0]; b++)
        for (int i = 0; i < opnd_other(o); i++) {
            size_t line, first, stride;
            line_of(o, b, i, &line, &first, &stride);
            for (int j = 0; j < nb; j++) {
                size_t k0 = (size_t)j * (size_t)B, kn = (size_t)(K - j * B < B ? K - j * B : B);
                ctx.element0 = first + k0 * stride;
                ctx.element_step = stride;
                if ((rc = nr_scaled_quantize(s, x + ctx.element0, kn, stride, &ctx, el->qtmp, &g,
                                             err)))
                    return rc;
                emu_scaled_count(c, &g);
                el->qsc[w][line * (size_t)nb + (size_t)j] = g.scale;
                for (size_t t = 0; t < kn; t++)
                    el->qp[w][ctx.element0 + t * stride] = el->qtmp[t];
            }
        }
    return 0;
}

/* ---------------------------------------------------------------- prepare */

static int prepare_linear(emu *E, emu_layer *el, nr_err *err)
{
    const nr_layer *L = el->L;
    nr_emu_layer_stats *st = emu_stats(E, L->index);
    nr_emu_counts *wc = st ? &st->weights : NULL;
    if (el->ws && !L->wq)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name,
                          "scaled weights were not quantized at build");
    el->w = malloc(L->nw * sizeof *el->w);
    el->b = L->b ? malloc(L->nb * sizeof *el->b) : NULL;
    if (!el->w || (L->b && !el->b))
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
    const int K = L->in_shape[0][2];
    for (size_t i = 0; i < L->nw; i++) /* the weights' values P * X, or rounded to W */
        el->w[i] = el->ws ? L->wq[i] * L->wscale[nr_model_layer_wgroup(L, (int)(i / (size_t)K),
                                                                       (int)(i % (size_t)K), 0, 0)]
                          : emu_round(E, el->wf, el->mode, L->w[i], (uint32_t)L->index, i,
                                      NR_EMU_TERM_WEIGHT, wc);
    if (el->ws && st) {
        st->wq.groups += L->nwscale;
        st->wq.clipped += L->wq_clipped;
        st->wq.zero += L->wq_zero;
        st->wq.nan += L->wq_nan;
    }
    for (size_t i = 0; L->b && i < L->nb; i++) /* [scl-dot-bias] */
        el->b[i] = emu_round(E, el->ws ? el->of : el->wf, el->mode, L->b[i], (uint32_t)L->index,
                             i, NR_EMU_TERM_BIASLOAD, wc);
    return 0;
}

int emu_seq_scaled_prepare(emu *E, emu_layer *el, nr_err *err)
{
    const nr_layer *L = el->L;
    const int lin = L->op == NR_OP_LINEAR;
    int rc = emu_scaled_formats(el, err);
    if (rc)
        return rc;
    if (!lin)
        el->in2 = el->in_fmt[1];
    if (lin && (rc = prepare_linear(E, el, err)))
        return rc;
    opnd o[2];
    opnds_of(L, o);
    const nr_scaled *ws = lin ? el->ws : el->qs, *xs = el->qs;
    const nr_format *wf = lin ? (ws ? &ws->elem : el->wf) : (xs ? &xs->elem : el->in2);
    const nr_format *xf = xs ? &xs->elem : el->in_fmt[0];
    double wlo, whi, xlo, xhi;
    emu_scale_range(ws, &wlo, &whi);
    emu_scale_range(xs, &xlo, &xhi);
    if ((rc = emu_mac_size(E, el, wf, xf, wlo, whi, xlo, xhi, err)))
        return rc;
    el->fast_block = el->mac == NR_MAC_BLOCK_FP32 && el->mode == NR_RND_RNE && el->prod_exact &&
                     !emu_stats(E, L->index) && !(E->opts && E->opts->no_fast);
    if (!xs)
        return 0;
    for (int w = 0; w < 1 + !lin; w++) {
        size_t n = nr_shape_count(o[w].sh), ng = opnd_groups(xs, &o[w]);
        el->qp[w] = malloc((n ? n : 1) * sizeof(double));
        el->qsc[w] = malloc(ng * sizeof(double));
        if (!el->qp[w] || !el->qsc[w])
            return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
    }
    int kmax = opnd_k(&o[0]);
    el->qtmp = malloc((size_t)(kmax > 0 ? kmax : 1) * sizeof(double));
    return el->qtmp ? 0 : nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
}

/* ---------------------------------------------------------------- run */

/* Line i of batch b of operand w as a dot operand: the element values and
 * scales when quantized, else the values x (X = 1). */
static emu_dot_operand operand(const emu_layer *el, int w, const double *x, const opnd *o, int b,
                               int i)
{
    size_t line, first, stride;
    line_of(o, b, i, &line, &first, &stride);
    const nr_scaled *s = el->qs;
    const int K = opnd_k(o);
    if (!s)
        return (emu_dot_operand){x + first, stride, NULL, K};
    if (s->gran != NR_GRAN_BLOCK)
        return (emu_dot_operand){el->qp[w] + first, stride, el->qsc[w], K};
    size_t nb = ((size_t)K + (size_t)s->block - 1) / (size_t)s->block;
    return (emu_dot_operand){el->qp[w] + first, stride, el->qsc[w] + line * nb, s->block};
}

/* Row n of a linear layer's weight [N, K]. */
static emu_dot_operand weight_row(const emu_layer *el, int n, int K)
{
    const nr_layer *L = el->L;
    const size_t first = (size_t)n * (size_t)K;
    if (!el->ws)
        return (emu_dot_operand){el->w + first, 1, NULL, K};
    const int blk = el->ws->gran == NR_GRAN_BLOCK ? el->ws->block : K;
    return (emu_dot_operand){L->wq + first, 1, L->wscale + nr_model_layer_wgroup(L, n, 0, 0, 0),
                             blk};
}

void emu_seq_scaled_run(emu *E, int li, double *out)
{
    emu_layer *el = &E->ly[li];
    const nr_layer *L = el->L;
    const int lin = L->op == NR_OP_LINEAR;
    nr_emu_layer_stats *st = emu_stats(E, li);
    const int B = L->out_shape[0], M = L->out_shape[1], N = L->out_shape[2];
    opnd o[2];
    opnds_of(L, o);
    const int K = opnd_k(&o[0]);
    const double *x[2] = {emu_in(E, li, 0), lin ? NULL : emu_in(E, li, 1)};
    if (el->qs)
        for (int w = 0; w < 1 + !lin; w++) {
            nr_err e = {0};
            if (quantize(E, el, w, x[w], &o[w], st ? &st->aq : NULL, &e)) {
                /* cannot happen (dynamic rules only, [scl-seq]); never silently wrong */
                for (size_t i = 0; i < nr_shape_count(L->out_shape); i++)
                    out[i] = NAN;
                return;
            }
        }
    for (int b = 0; b < B; b++)
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                const uint64_t elem = ((uint64_t)b * (uint64_t)M + (uint64_t)m) * (uint64_t)N +
                                      (uint64_t)n;
                const int ba = lin || o[0].sh[0] == B ? b : 0;
                emu_dot_operand a = operand(el, 0, x[0], &o[0], ba, m), w;
                if (lin)
                    w = weight_row(el, n, K);
                else
                    w = operand(el, 1, x[1], &o[1], o[1].sh[0] == B ? b : 0, n);
                out[elem] = emu_dot_scaled_line(E, el, elem, lin && el->b ? &el->b[n] : NULL, K,
                                                &w, &a, st);
            }
}
