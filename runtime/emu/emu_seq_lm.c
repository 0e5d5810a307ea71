/* emu_seq_lm.c -- the emulator's causal language model ops ([op-lm] in
 * docs/semantics.md): embedding ([op-embedding]), rmsnorm ([op-rmsnorm]),
 * rope ([op-rope]), silu ([op-silu]), mul ([op-mul]) and causal_softmax
 * ([op-causal]), plainly, every rounding through emulator.c's helpers and
 * emu_seq.c's (emu_seq_mul, emu_seq_nl, emu_seq_softmax_line); and the
 * token-id network input (emu_lm_input). */
#include "emu_internal.h"
#include "nlfn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* SR term of each rounding step: the numbering of [op-layernorm] where the
 * step is the same, new numbers for rope's two products. */
enum { T_NL = 1, T_SQ = 6, T_VSUM = 7, T_VAR = 8, T_EPS = 9, T_NORM = 10, T_ROT_C = 12,
       T_ROT_S = 13 };

/* ---------------------------------------------------------------- input */

int emu_lm_input(emu *E, const float *in, int sample, nr_err *err)
{
    size_t n = nr_shape_count(E->m->in_shape);
    int rc = nr_model_lm_check_ids(E->m, in, 1, sample, err); /* [op-embedding] ids, exact */
    for (size_t i = 0; !rc && i < n; i++)
        E->input[i] = (double)in[i];
    return rc;
}

/* ---------------------------------------------------------------- prepare */

/* The shapes and tensors the run loops index by ([net-13]: checked here). */
static const char *check_lm(const emu *E, const nr_layer *L)
{
    const int *in = L->in_shape[0], *out = L->out_shape;
    switch (L->op) {
    case NR_OP_EMBEDDING:
        if (L->ninputs != 1 || L->inputs[0] >= 0 || !nr_model_lm_ids_vocab(E->m))
            return "embedding: must read the network input, and only embeddings may";
        if (in[0] != 1 || in[1] != 1 || out[0] != 1 || out[1] != in[2] ||
            out[2] != L->spec->out || L->nw != (size_t)L->spec->vocab * (size_t)out[2])
            return "embedding: [1, 1, T] ids and a [vocab, out] table -> [1, T, out]";
        return NULL;
    case NR_OP_RMSNORM:
        if (L->nw != (size_t)in[2])
            return "rmsnorm: the weight must have one value per feature";
        break;
    case NR_OP_ROPE:
        if (in[2] % 2 || L->nw != (size_t)in[1] * (size_t)(in[2] / 2) || L->nb != L->nw ||
            !L->b)
            return "rope: cos and sin tables must be [T, d/2]";
        break;
    case NR_OP_MUL:
        if (L->ninputs != 2 || memcmp(in, L->in_shape[1], sizeof L->in_shape[1]))
            return "mul: two inputs of equal shapes";
        break;
    case NR_OP_CAUSAL_SOFTMAX:
        if (in[1] != in[2])
            return "causal_softmax: scores must be [H, T, T]";
        break;
    default:
        break;
    }
    return memcmp(in, out, sizeof L->out_shape) ? "output shape differs from input shape"
                                                 : NULL;
}

int emu_lm_prepare(emu *E, emu_layer *el, nr_err *err)
{
    const nr_layer *L = el->L;
    const char *why = check_lm(E, L);
    if (why)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name, "%s", why);
    int rc = 0;
    if (L->op == NR_OP_EMBEDDING || L->op == NR_OP_RMSNORM || L->op == NR_OP_ROPE)
        rc = emu_seq_round_tensor(E, el, L->w, L->nw, NR_EMU_TERM_WEIGHT, &el->w, err);
    if (!rc && L->op == NR_OP_ROPE)
        rc = emu_seq_round_tensor(E, el, L->b, L->nb, NR_EMU_TERM_BIASLOAD, &el->b, err);
    if (!rc && L->op == NR_OP_RMSNORM) {
        double eps = L->spec->eps;
        rc = emu_seq_round_tensor(E, el, &eps, 1, NR_EMU_TERM_BIAS, &el->bacc, err);
    }
    return rc;
}

/* ---------------------------------------------------------------- ops */

/* [op-embedding] y[0, t, f] = round_A(W[id_t, f]), W rounded to the weight format. */
static void run_embedding(emu *E, int li, const double *x, double *y, nr_emu_counts *oc)
{
    const emu_layer *el = &E->ly[li];
    const int T = el->L->out_shape[1], D = el->L->out_shape[2];
    const int same = nr_format_equal(el->wf, el->af);
    for (int t = 0; t < T; t++) {
        const double *row = el->w + (size_t)x[t] * (size_t)D; /* checked by emu_lm_input */
        for (int f = 0; f < D; f++) {
            size_t j = (size_t)t * D + f;
            y[j] = same ? row[f]
                        : emu_round(E, el->af, el->mode, row[f], (uint32_t)li, j,
                                    NR_EMU_TERM_OUT, oc);
        }
    }
}

/* [op-rmsnorm] over the F features of one token at x. */
static void rmsnorm_row(emu *E, const emu_layer *el, const double *x, double *y, size_t base,
                        int F, nr_emu_layer_stats *st)
{
    const uint32_t lay = (uint32_t)el->L->index;
    const nr_format *S = el->cf, *P = el->pf;
    nr_emu_counts *pc = st ? &st->prod : NULL, *sc = st ? &st->sum : NULL,
                  *oc = st ? &st->out : NULL;
    double q = 0;
    for (int f = 0; f < F; f++) {
        double p = emu_seq_mul(E, el, P, x[f], x[f], base + f, T_SQ, pc);
        q = emu_add(E, S, el->mode, q, p, lay, base + f, T_VSUM, sc);
    }
    double ms = emu_div_count(E, S, el->mode, q, F, lay, base, T_VAR, sc);
    double v = emu_add(E, S, el->mode, ms, el->bacc[0], lay, base, T_EPS, sc);
    double r = emu_seq_nl(E, el, NR_NL_RSQRT, S, v, base, pc);
    for (int f = 0; f < F; f++) {
        double u = emu_seq_mul(E, el, P, x[f], r, base + f, T_NORM, pc);
        y[f] = emu_seq_mul(E, el, el->af, u, el->w[f], base + f, NR_EMU_TERM_OUT, oc);
    }
}

/* [op-rope] rotate-half pairs (i, i + d/2) of every head and position. */
static void run_rope(emu *E, int li, const double *x, double *y, nr_emu_layer_stats *st)
{
    const emu_layer *el = &E->ly[li];
    const int *sh = el->L->out_shape;
    const int T = sh[1], d = sh[2], h = d / 2;
    nr_emu_counts *pc = st ? &st->prod : NULL, *oc = st ? &st->out : NULL;
    for (int b = 0; b < sh[0]; b++)
        for (int t = 0; t < T; t++) {
            size_t row = ((size_t)b * T + t) * d;
            const double *c = el->w + (size_t)t * h, *s = el->b + (size_t)t * h;
            for (int i = 0; i < h; i++) {
                size_t j0 = row + i, j1 = row + i + h;
                double x0 = x[j0], x1 = x[j1];
                double a = emu_seq_mul(E, el, el->pf, x0, c[i], j0, T_ROT_C, pc);
                double bq = emu_seq_mul(E, el, el->pf, x1, s[i], j0, T_ROT_S, pc);
                y[j0] = emu_add(E, el->af, el->mode, a, -bq, (uint32_t)li, j0, NR_EMU_TERM_OUT,
                                oc);
                a = emu_seq_mul(E, el, el->pf, x1, c[i], j1, T_ROT_C, pc);
                bq = emu_seq_mul(E, el, el->pf, x0, s[i], j1, T_ROT_S, pc);
                y[j1] = emu_add(E, el->af, el->mode, a, bq, (uint32_t)li, j1, NR_EMU_TERM_OUT,
                                oc);
            }
        }
}

/* [op-causal] row t of each head: positions 0..t by [op-softmax], the rest +0. */
static void run_causal(emu *E, int li, const double *x, double *y, nr_emu_layer_stats *st)
{
    const emu_layer *el = &E->ly[li];
    const int *sh = el->L->out_shape;
    const int T = sh[1];
    for (int b = 0; b < sh[0]; b++)
        for (int t = 0; t < T; t++) {
            size_t base = ((size_t)b * T + t) * T;
            emu_seq_softmax_line(E, el, x, y, base, 1, t + 1, st);
            for (int j = t + 1; j < T; j++)
                y[base + j] = 0.0;
        }
}

void emu_lm_run(emu *E, int li)
{
    const emu_layer *el = &E->ly[li];
    const nr_layer *L = el->L;
    const double *x = emu_in(E, li, 0);
    double *y = E->act[li];
    nr_emu_layer_stats *st = emu_stats(E, li);
    nr_emu_counts *oc = st ? &st->out : NULL, *nc = st ? &st->prod : NULL;
    const size_t n = nr_shape_count(L->out_shape);
    switch (L->op) {
    case NR_OP_EMBEDDING:
        run_embedding(E, li, x, y, oc);
        break;
    case NR_OP_RMSNORM: {
        int F = L->out_shape[2];
        for (size_t base = 0; base < n; base += (size_t)F)
            rmsnorm_row(E, el, x + base, y + base, base, F, st);
        break;
    }
    case NR_OP_ROPE:
        run_rope(E, li, x, y, st);
        break;
    case NR_OP_SILU: { /* [op-silu] y = round_A(round_N(silu(x))) */
        int same = nr_format_equal(el->nf, el->af);
        for (size_t i = 0; i < n; i++) {
            double g = emu_seq_nl(E, el, NR_NL_SILU, el->in_fmt[0], x[i], i, nc);
            y[i] = same ? g
                        : emu_round(E, el->af, el->mode, g, (uint32_t)li, i, NR_EMU_TERM_OUT,
                                    oc);
        }
        break;
    }
    case NR_OP_MUL: { /* [op-mul] y = round_A(a * b) */
        const double *b = emu_in(E, li, 1);
        for (size_t i = 0; i < n; i++)
            y[i] = emu_seq_mul(E, el, el->af, x[i], b[i], i, NR_EMU_TERM_OUT, oc);
        break;
    }
    case NR_OP_CAUSAL_SOFTMAX:
        run_causal(E, li, x, y, st);
        break;
    default:
        break;
    }
}
