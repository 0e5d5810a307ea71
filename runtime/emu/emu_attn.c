/* emu_attn.c -- the dot products of the sequence ops: linear (a per-token
 * dense, [op-linear]) and matmul (activation x activation, [op-matmul]).
 * Each output element is a MAC exactly as [net-4]/[net-5] define it: a
 * start value (the bias rounded to the accumulator, or +0), then terms
 * k = 0..K-1 in ascending order, in the layer's MAC mode (unfused, fused,
 * exact), then the accumulator rounded to the activation format.
 *
 * The generic path rounds every event through emulator.c's helpers.  The
 * host-float fast path (products and accumulator fp32, rne, operands that
 * fit float32, unfused or fused, no statistics requested) computes the
 * same bits with float arithmetic ([net-12]); it advances all outputs of a row
 * together, each with its own sequential sum, which changes no bit. */
#include "emu_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

int emu_is_fp32(const nr_format *f)
{
    nr_format p;
    nr_err e = {0};
    return nr_format_parse("fp32", &p, &e) == 0 && nr_format_equal(f, &p);
}

/* The dimensions of one layer: out[bo, m, n] = sum_k a[ba, m, k] w[bw, n, k]
 * (after the transposes), plus bias[n] for linear. */
typedef struct dims {
    int B, M, N, K;
    int ba1, bb1;   /* the operand's batch is 1 (broadcast)        */
} dims;

static void dims_of(const nr_layer *L, dims *d)
{
    const int *a = L->in_shape[0];
    d->B = L->out_shape[0], d->M = L->out_shape[1], d->N = L->out_shape[2];
    if (L->op == NR_OP_LINEAR) {
        d->K = a[2];
        d->ba1 = 0, d->bb1 = 1;
        return;
    }
    d->K = L->spec->trans_a ? a[1] : a[2];
    d->ba1 = a[0] == 1, d->bb1 = L->in_shape[1][0] == 1;
}

int emu_attn_prepare(emu *E, emu_layer *el, nr_err *err)
{
    const nr_layer *L = el->L;
    dims d;
    dims_of(L, &d);
    const int *a = L->in_shape[0], *o = L->out_shape;
    int ok;
    if (L->op == NR_OP_LINEAR) {
        ok = L->ninputs == 1 && o[0] == a[0] && o[1] == a[1] && L->nw == (size_t)o[2] * a[2] &&
             (!L->b || L->nb == (size_t)o[2]);
    } else {
        const int *b = L->in_shape[1];
        int Ma = L->spec->trans_a ? a[2] : a[1], Kb = L->spec->trans_b ? b[2] : b[1],
            Nb = L->spec->trans_b ? b[1] : b[2];
        ok = L->ninputs == 2 && Ma == o[1] && Kb == d.K && Nb == o[2] &&
             (a[0] == o[0] || a[0] == 1) && (b[0] == o[0] || b[0] == 1);
    }
    if (!ok || d.K < 1)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name,
                          "%s: operand shapes do not match the output", nr_spec_op_name(L->op));
    el->qs = L->prec.operands_scaled.gran != NR_GRAN_NONE ? &L->prec.operands_scaled : NULL;
    el->scaled = el->qs || el->ws || nr_prec_is_scaled(&L->prec);
    if (el->scaled) /* [scl-seq] emu_seq_scaled.c */
        return emu_seq_scaled_prepare(E, el, err);
    if (el->mac != NR_MAC_UNFUSED && el->mac != NR_MAC_FUSED && el->mac != NR_MAC_EXACT)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "%s: mac %s is not supported for sequence ops (unfused, fused or "
                          "exact)", nr_spec_op_name(L->op), nr_prec_mac_name(el->mac));
    const nr_format *wf = el->wf;
    if (L->op == NR_OP_LINEAR) {
        nr_emu_layer_stats *st = emu_stats(E, L->index);
        nr_emu_counts *wc = st ? &st->weights : NULL;
        el->w = malloc(L->nw * sizeof *el->w);
        el->b = L->b ? malloc(L->nb * sizeof *el->b) : NULL;
        if (!el->w || (L->b && !el->b))
            return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
        /* [net-1] weights and biases rounded once to the weight format */
        for (size_t i = 0; i < L->nw; i++)
            el->w[i] = emu_round(E, wf, el->mode, L->w[i], (uint32_t)L->index, i,
                                 NR_EMU_TERM_WEIGHT, wc);
        for (size_t i = 0; L->b && i < L->nb; i++)
            el->b[i] = emu_round(E, wf, el->mode, L->b[i], (uint32_t)L->index, i,
                                 NR_EMU_TERM_BIASLOAD, wc);
    } else {
        wf = el->in2 = el->in_fmt[1];
    }
    int rc = emu_mac_size(E, el, el->in_fmt[0], wf, 1.0, 1.0, 1.0, 1.0, err);
    if (rc)
        return rc;
    if (el->mode == NR_RND_RNE && el->mac != NR_MAC_EXACT && emu_is_fp32(el->pf) &&
        emu_is_fp32(el->cf) && nr_format_fits_f32(wf) && nr_format_fits_f32(el->in_fmt[0]))
        el->fast = EMU_FAST_F32;
    return 0;
}

/* ---------------------------------------------------------------- generic */

/* One output: start value s0 (already a value of cf; 0 without bias), terms
 * a[k*sa] * w[k*sw].  Returns the accumulator's value. */
static double dot(emu *E, const emu_layer *el, double s0, const double *a, size_t sa,
                  const double *w, size_t sw, int K, uint64_t elem, nr_emu_layer_stats *st)
{
    const uint32_t lay = (uint32_t)el->L->index;
    const nr_rounding mode = el->mode;
    nr_emu_counts *pc = st ? &st->prod : NULL, *sc = st ? &st->sum : NULL;
    double acc = s0;
    kacc Kc;
    if (el->mac == NR_MAC_EXACT) {
        emu_kacc_init(&Kc, E->klimbs, el->klimbs, el->klsb);
        emu_kacc_add(&Kc, acc, 1.0);
    }
    for (int k = 0; k < K; k++) {
        const double xv = a[(size_t)k * sa], wv = w[(size_t)k * sw];
        const int dbl = el->prod_exact && isfinite(wv) && isfinite(xv);
        nr_exact ex, ey, ep;
        if (!dbl && el->mac != NR_MAC_EXACT) {
            nr_exact_from_double(xv, &ex);
            nr_exact_from_double(wv, &ey);
            nr_arith_exact_mul(&ex, &ey, &ep);
        }
        if (el->mac == NR_MAC_UNFUSED) {
            double p = dbl ? emu_round(E, el->pf, mode, xv * wv, lay, elem,
                                       NR_EMU_TERM_PRODUCT(k), pc)
                           : emu_round_exact(E, el->pf, mode, &ep, lay, elem,
                                             NR_EMU_TERM_PRODUCT(k), pc);
            acc = emu_add(E, el->cf, mode, acc, p, lay, elem, NR_EMU_TERM_SUM(k), sc);
        } else if (el->mac == NR_MAC_FUSED) {
            if (dbl) {
                acc = emu_add(E, el->cf, mode, acc, xv * wv, lay, elem, NR_EMU_TERM_SUM(k), sc);
            } else {
                nr_exact ea, es;
                nr_exact_from_double(acc, &ea);
                nr_arith_exact_add(&ep, &ea, mode, &es);
                acc = emu_round_exact(E, el->cf, mode, &es, lay, elem, NR_EMU_TERM_SUM(k), sc);
            }
        } else {
            emu_kacc_add(&Kc, xv, wv);
        }
    }
    if (el->mac == NR_MAC_EXACT) {
        nr_exact s;
        emu_kacc_get(&Kc, mode, E->klimbs + el->klimbs, &s);
        acc = emu_round_exact(E, el->cf, mode, &s, lay, elem, NR_EMU_TERM_EXACT, sc);
    }
    return acc;
}

/* ---------------------------------------------------------------- fast */

/* out[r*ostride + n] for rows r < R of X [R, K] and columns n < N of WT
 * [K, N] (both float, contiguous), start bias[n] (or +0).  The sums of one
 * row advance together, term k for every n (a loop the compiler can
 * vectorise: the lanes are independent), so each keeps its term order. */
static void fast_rows(const float *X, int R, const float *WT, int N, int K, const float *bias,
                      int fused, double *out, size_t ostride, float *acc)
{
    for (int r = 0; r < R; r++) {
        const float *x = X + (size_t)r * K;
        for (int n = 0; n < N; n++)
            acc[n] = bias ? bias[n] : 0.0f;
        for (int k = 0; k < K; k++) {
            const float xk = x[k], *w = WT + (size_t)k * N;
            if (fused) {
                for (int n = 0; n < N; n++)
                    acc[n] = fmaf(xk, w[n], acc[n]);
            } else {
                for (int n = 0; n < N; n++) {
                    float p = xk * w[n];
                    acc[n] = acc[n] + p;
                }
            }
        }
        double *o = out + (size_t)r * ostride;
        for (int n = 0; n < N; n++)
            o[n] = acc[n];
    }
}

/* A [Bs, P, Q] tensor of doubles as floats [Bs, rows, K]: transposed (the
 * reduction axis last) when t. */
static float *to_float(const double *x, int Bs, int P, int Q, int t)
{
    size_t n = (size_t)Bs * P * Q;
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (!f)
        return NULL;
    for (int b = 0; b < Bs; b++)
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                size_t src = ((size_t)b * P + p) * Q + q;
                size_t dst = t ? ((size_t)b * Q + q) * P + p : src;
                f[dst] = (float)x[src]; /* exact: the format fits float32 */
            }
    return f;
}

static int run_fast(emu *E, const emu_layer *el, const dims *d, double *out)
{
    const nr_layer *L = el->L;
    const int *a = L->in_shape[0];
    const int fused = el->mac == NR_MAC_FUSED;
    int rc = 0;
    float *A = to_float(emu_in(E, L->index, 0), a[0], a[1], a[2],
                        L->op == NR_OP_MATMUL && L->spec->trans_a);
    float *W = NULL, *bias = NULL, *acc = malloc((size_t)d->N * sizeof *acc);
    if (L->op == NR_OP_LINEAR) { /* weights [N, K] -> [K, N] */
        W = el->w ? to_float(el->w, 1, d->N, d->K, 1) : NULL;
        if (el->b)
            bias = to_float(el->b, 1, 1, d->N, 0);
    } else { /* b [Bb, K, N] as stored, or transposed back from [Bb, N, K] */
        const int *b = L->in_shape[1];
        W = to_float(emu_in(E, L->index, 1), b[0], b[1], b[2], L->spec->trans_b);
    }
    if (!A || !W || !acc || (el->b && !bias)) {
        rc = -1;
    } else if (L->op == NR_OP_LINEAR) {
        fast_rows(A, d->B * d->M, W, d->N, d->K, bias, fused, out, (size_t)d->N, acc);
    } else {
        for (int b = 0; b < d->B; b++)
            fast_rows(A + (size_t)(d->ba1 ? 0 : b) * d->M * d->K, d->M,
                      W + (size_t)(d->bb1 ? 0 : b) * d->N * d->K, d->N, d->K, NULL, fused,
                      out + (size_t)b * d->M * d->N, (size_t)d->N, acc);
    }
    free(A);
    free(W);
    free(bias);
    free(acc);
    return rc;
}

/* ---------------------------------------------------------------- the layer */

static void run_generic(emu *E, const emu_layer *el, const dims *d, double *out,
                        nr_emu_layer_stats *st)
{
    const nr_layer *L = el->L;
    const double *x = emu_in(E, L->index, 0);
    const int *a = L->in_shape[0];
    for (int b = 0; b < d->B; b++)
        for (int m = 0; m < d->M; m++)
            for (int n = 0; n < d->N; n++) {
                const size_t elem = ((size_t)b * d->M + m) * d->N + n;
                const double *xa, *wn;
                size_t sa = 1, sw = 1;
                double s0 = 0.0;
                if (L->op == NR_OP_LINEAR) {
                    xa = x + ((size_t)b * d->M + m) * d->K;
                    wn = el->w + (size_t)n * d->K;
                    if (el->b) /* [net-4] the start value: the bias rounded to S */
                        s0 = emu_round(E, el->cf, el->mode, el->b[n], (uint32_t)L->index, elem,
                                       NR_EMU_TERM_BIAS, st ? &st->sum : NULL);
                } else {
                    const double *y = emu_in(E, L->index, 1);
                    const int *bs = L->in_shape[1];
                    size_t ba = d->ba1 ? 0 : (size_t)b, bb = d->bb1 ? 0 : (size_t)b;
                    const double *A0 = x + ba * a[1] * a[2], *B0 = y + bb * bs[1] * bs[2];
                    if (L->spec->trans_a) /* stored [K, M] */
                        xa = A0 + m, sa = (size_t)a[2];
                    else
                        xa = A0 + (size_t)m * a[2];
                    if (L->spec->trans_b) /* stored [N, K] */
                        wn = B0 + (size_t)n * bs[2];
                    else
                        wn = B0 + n, sw = (size_t)bs[2];
                }
                out[elem] = dot(E, el, s0, xa, sa, wn, sw, d->K, elem, st);
            }
}

void emu_attn_run(emu *E, int li)
{
    const emu_layer *el = &E->ly[li];
    dims d;
    dims_of(el->L, &d);
    double *out = E->act[li];
    nr_emu_layer_stats *st = emu_stats(E, li);
    const int no_fast = E->opts && E->opts->no_fast;
    if (el->scaled) /* [scl-seq] emu_seq_scaled.c */
        emu_seq_scaled_run(E, li, out);
    else if (!(el->fast == EMU_FAST_F32 && !no_fast && !st && run_fast(E, el, &d, out) == 0))
        run_generic(E, el, &d, out, st);
    /* [net-5] the accumulator's value rounded to the activation format */
    const size_t nout = nr_shape_count(el->L->out_shape);
    nr_emu_counts *oc = st ? &st->out : NULL;
    if (!oc && el->mode == NR_RND_RNE && emu_is_fp32(el->af)) { /* rne into fp32: a conversion */
        for (size_t i = 0; i < nout; i++)
            out[i] = (float)out[i];
        return;
    }
    for (size_t i = 0; i < nout; i++)
        out[i] = emu_round(E, el->af, el->mode, out[i], (uint32_t)li, i, NR_EMU_TERM_OUT, oc);
}
