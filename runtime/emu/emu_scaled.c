/* emu_scaled.c -- scaled formats in the reference emulator, written
 * plainly after docs/semantics.md [scl-dot-*]: the dynamic quantization of
 * a layer's output (one scale per group: the tensor, or a block of
 * channels at each (h, w)), and the dot product of a MAC layer whose
 * weights or input are scaled, or whose mac is block-fp32 / block-exact or
 * has promote: K.  Terms are visited taps outer (kernel row, column), input
 * channel inner; a segment is a run of terms that share both operands'
 * groups (and, when either operand is block scaled, one tap); its partial
 * sum enters the outer sum with both scales applied. */
#include "emu_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* block-fp32 in host float must stay separate roundings (no FMA). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

_Static_assert(NR_EMU_TERM_WEIGHT == 0xFFFFFFFEu, "model_scaled.c's TERM_WEIGHT");

/* ---------------------------------------------------------------- activations */

size_t emu_act_groups(const nr_scaled *s, const int shape[3])
{
    if (s->gran != NR_GRAN_BLOCK)
        return 1;
    size_t nb = ((size_t)shape[0] + (size_t)s->block - 1) / (size_t)s->block;
    return nb * (size_t)shape[1] * (size_t)shape[2];
}

void emu_scaled_count(nr_emu_scaled_counts *c, const nr_scaled_group *g)
{
    if (!c)
        return;
    c->groups++;
    c->clipped += (uint64_t)g->clipped;
    c->zero += g->zero != 0;
    c->nan += g->nan != 0;
}

int emu_quantize_act(emu *E, const nr_scaled *s, uint32_t layer, const int shape[3], double *v,
                     double *p, double *sc, nr_emu_scaled_counts *c, nr_err *err)
{
    const size_t C = (size_t)shape[0], HW = (size_t)shape[1] * (size_t)shape[2], n = C * HW;
    nr_scaled_ctx ctx = {.mode = E->m->layers[layer == NR_EMU_LAYER_INPUT ? 0 : layer].prec.rounding,
                         .seed = E->m->seed, .layer = layer, .element_step = 1,
                         .term = NR_EMU_TERM_QUANT, .tensor_scale = 1.0};
    if (s->rule == NR_RULE_STATIC) /* [scl-cal-use] the calibrated scale ([scl-nv-static]: s_t) */
        ctx.tensor_scale =
            nr_model_act_scale(E->m, layer == NR_EMU_LAYER_INPUT ? -1 : (int)layer);
    else if (s->scale == NR_SCALE_NV) /* [scl-nv] the tensor scale of this tensor */
        ctx.tensor_scale = nr_scaled_tensor_scale(s, nr_scaled_amax(v, n, 1));
    nr_scaled_group g;
    int rc;
    if (s->gran != NR_GRAN_BLOCK) { /* tensor: one group, C, H, W order */
        if ((rc = nr_scaled_quantize(s, v, n, 1, &ctx, p, &g, err)))
            return rc;
        emu_scaled_count(c, &g);
        sc[0] = g.scale;
        for (size_t i = 0; i < n; i++)
            v[i] = p[i] * g.scale;
        return 0;
    }
    const size_t B = (size_t)s->block, nb = (C + B - 1) / B;
    for (size_t hw = 0; hw < HW; hw++)
        for (size_t b = 0; b < nb; b++) {
            size_t c0 = b * B, k = C - c0 < B ? C - c0 : B, first = c0 * HW + hw;
            ctx.element0 = first;
            ctx.element_step = HW;
            if ((rc = nr_scaled_quantize(s, v + first, k, HW, &ctx, E->qtmp, &g, err)))
                return rc;
            emu_scaled_count(c, &g);
            sc[hw * nb + b] = g.scale;
            for (size_t i = 0; i < k; i++) {
                p[first + i * HW] = E->qtmp[i];
                v[first + i * HW] = E->qtmp[i] * g.scale; /* exact ([scl-dot-act]) */
            }
        }
    return 0;
}

/* ---------------------------------------------------------------- preparing */

/* The smallest and largest positive scale a scale format can give. */
void emu_scale_range(const nr_scaled *s, double *lo, double *hi)
{
    if (!s) {
        *lo = *hi = 1.0;
        return;
    }
    switch (s->scale) {
    case NR_SCALE_E8M0:
        *lo = 0x1p-127, *hi = 0x1p127;
        break;
    case NR_SCALE_UE4M3:
        *lo = 0x1p-9, *hi = 448.0;
        break;
    case NR_SCALE_NV:
        *lo = 0x1p-158, *hi = 448.0 * 0x1p128;
        break;
    default: /* fp32 */
        *lo = 0x1p-149, *hi = 0x1p128;
        break;
    }
}

int emu_scaled_formats(emu_layer *el, nr_err *err)
{
    int rc = nr_format_parse("fp32", &el->f32, err);
    if (rc)
        return rc;
    const int outer32 = el->mac == NR_MAC_BLOCK_FP32 || el->L->prec.promote > 0;
    el->of = outer32 ? &el->f32 : el->cf;
    el->sf = el->mac == NR_MAC_BLOCK_FP32 ? &el->f32 : el->cf;
    el->ppf = el->mac == NR_MAC_BLOCK_FP32 ? &el->f32 : el->pf;
    return 0;
}

int emu_scaled_prepare(emu *E, emu_layer *el, nr_err *err)
{
    const nr_layer *L = el->L;
    nr_emu_layer_stats *st = emu_stats(E, L->index);
    int rc = emu_scaled_formats(el, err);
    if (rc)
        return rc;
    geom g;
    nr_mac_geom_of(L, &g); /* checked by emu_mac_prepare */
    /* Weights: the model's element values (scaled) or rounded to W ([net-1]). */
    for (int o = 0; o < g.O; o++)
        for (int k = 0; k < g.K; k++) {
            size_t i = (size_t)o * (size_t)g.K + (size_t)k;
            int ci = k / (g.kh * g.kw), r = k / g.kw % g.kh, c = k % g.kw;
            el->w[i] = el->ws ? L->wq[i] * L->wscale[nr_model_layer_wgroup(L, o, ci, r, c)]
                              : emu_round(E, el->wf, el->mode, L->w[i], (uint32_t)L->index, i,
                                          NR_EMU_TERM_WEIGHT, st ? &st->weights : NULL);
        }
    if (el->ws && st) {
        st->wq.groups += L->nwscale;
        st->wq.clipped += L->wq_clipped;
        st->wq.zero += L->wq_zero;
        st->wq.nan += L->wq_nan;
    }
    /* [scl-dot-bias] with scaled weights the bias is rounded once, to the
     * format the dot product starts in; else to W as [net-1] says. */
    for (size_t i = 0; L->b && i < L->nb; i++)
        el->b[i] = emu_round(E, el->ws ? el->of : el->wf, el->mode, L->b[i], (uint32_t)L->index,
                             i, NR_EMU_TERM_BIASLOAD, st ? &st->weights : NULL);
    double wlo, whi, xlo, xhi;
    emu_scale_range(el->ws, &wlo, &whi);
    emu_scale_range(el->xs, &xlo, &xhi);
    if ((rc = emu_mac_size(E, el, el->ws ? &el->ws->elem : el->wf,
                           el->xs ? &el->xs->elem : el->in_fmt[0], wlo, whi, xlo, xhi, err)))
        return rc;
    el->fast_block = el->mac == NR_MAC_BLOCK_FP32 && el->mode == NR_RND_RNE && el->prod_exact &&
                     !st && !(E->opts && E->opts->no_fast);
    return 0;
}

/* ---------------------------------------------------------------- dot product */

typedef struct dot {
    emu *E;
    const emu_layer *el;
    uint32_t lay;
    uint64_t elem;
    nr_emu_counts *pc, *sc;
    kacc K;
    double acc;         /* the outer sum (of): starts at the bias          */
    double part;        /* the open segment's (or chunk's) partial sum     */
    double xw, xa;      /* its scales                                      */
    int n, last;        /* terms in it, the last term's number             */
    int open;           /* a segment is open, of groups gw, ga             */
    size_t gw, ga;
} dot;

static void dot_round_exact(dot *d, const nr_format *f, const nr_exact *x, uint32_t term,
                            double *out)
{
    *out = emu_round_exact(d->E, f, d->el->mode, x, d->lay, d->elem, term, d->sc);
}

/* The exact part * xw * xa. */
static void scaled_part(const dot *d, nr_exact *x)
{
    nr_exact a, b, t;
    nr_exact_from_double(d->part, &a);
    nr_exact_from_double(d->xw, &b);
    nr_arith_exact_mul(&a, &b, &t);
    nr_exact_from_double(d->xa, &b);
    nr_arith_exact_mul(&t, &b, x);
}

/* [net-12] round_fp32(part * xw * xa) in rne with host arithmetic, when
 * that gives the one correct rounding: part has 24 significant bits and
 * every scale at most 29 ([scl-scale]: ue4m3 x fp32 is 28), so a = part*xw
 * is exact in double and a*xa = hi + lo exactly (fma).  (float)hi is the
 * correct rounding unless hi is a tie between two floats and lo != 0; then
 * lo's sign decides.  Only in fp32's normal range (else 0: the caller
 * rounds exactly). */
static int f32_of_product(double part, double xw, double xa, float *out)
{
    double a = part * xw, hi = a * xa, lo = fma(a, xa, -hi);
    if (!(fabs(hi) >= 0x1p-126 && fabs(hi) < 0x1p127))
        return hi == 0 && lo == 0 && isfinite(a) ? (*out = (float)hi, 1) : 0;
    float f = (float)hi;
    if ((double)f == hi || lo == 0) {
        *out = f;
        return 1;
    }
    float other = nextafterf(f, (double)f < hi ? INFINITY : -INFINITY);
    if (hi != ((double)f + (double)other) / 2) { /* not a tie: (float)hi is right */
        *out = f;
        return 1;
    }
    *out = lo > 0 ? fmaxf(f, other) : fminf(f, other);
    return 1;
}

/* The open segment (or chunk) enters the outer sum ([scl-dot-*]). */
static void seg_close(dot *d)
{
    const emu_layer *el = d->el;
    const uint32_t k = (uint32_t)d->last;
    nr_exact x, a, s;
    switch (el->mac) {
    case NR_MAC_EXACT: /* no segments: one exact sum */
        break;
    case NR_MAC_BLOCK_EXACT: /* round_S(acc + exact block sum x scales) */
        emu_kacc_get(&d->K, el->mode, d->E->klimbs + el->klimbs, &x);
        dot_round_exact(d, el->of, &x, NR_EMU_TERM_ENTER(k), &d->acc);
        break;
    case NR_MAC_BLOCK_FP32: { /* t = fp32(part x scales); acc = fp32(acc + t) */
        double t;
        float tf;
        if (el->fast_block && f32_of_product(d->part, d->xw, d->xa, &tf)) {
            d->acc = (double)((float)d->acc + tf);
            break;
        }
        scaled_part(d, &x);
        dot_round_exact(d, &el->f32, &x, NR_EMU_TERM_SCALE(k), &t);
        d->acc = emu_add(d->E, &el->f32, el->mode, d->acc, t, d->lay, d->elem,
                         NR_EMU_TERM_ENTER(k), d->sc);
        break;
    }
    default: /* unfused, fused, promote: round_O(acc + part x scales), one rounding */
        scaled_part(d, &x);
        nr_exact_from_double(d->acc, &a);
        nr_arith_exact_add(&a, &x, el->mode, &s);
        dot_round_exact(d, el->of, &s, NR_EMU_TERM_ENTER(k), &d->acc);
        break;
    }
    d->n = 0;
}

static void seg_open(dot *d, double xw, double xa)
{
    d->part = 0.0; /* +0 */
    d->xw = xw, d->xa = xa;
    d->n = 0;
    if (d->el->mac == NR_MAC_BLOCK_EXACT) { /* exact block sum, the outer sum included */
        emu_kacc_init(&d->K, d->E->klimbs, d->el->klimbs, d->el->klsb);
        emu_kacc_add(&d->K, d->acc, 1.0);
    }
}

/* One term: element values pw, pa (of groups with scales xw, xa). */
static void dot_term(dot *d, int k, double pw, double xw, double pa, double xa)
{
    const emu_layer *el = d->el;
    const nr_rounding mode = el->mode;
    nr_exact ew, ex, ep, ea, es;
    const int dbl = el->prod_exact && isfinite(pw) && isfinite(pa);
    if (!dbl && el->mac != NR_MAC_EXACT && el->mac != NR_MAC_BLOCK_EXACT) {
        nr_exact_from_double(pw, &ew);
        nr_exact_from_double(pa, &ex);
        nr_arith_exact_mul(&ew, &ex, &ep);
    }
    switch (el->mac) {
    case NR_MAC_BLOCK_FP32:
        if (el->fast_block) { /* [net-12]: exact product, one float rounding each */
            float p = (float)(pw * pa);
            d->part = (double)((float)d->part + p);
            break;
        }
        /* the same two roundings as unfused, in fp32 */
        __attribute__((fallthrough));
    case NR_MAC_UNFUSED: {
        double p = dbl ? emu_round(d->E, el->ppf, mode, pw * pa, d->lay, d->elem,
                                   NR_EMU_TERM_PRODUCT(k), d->pc)
                       : emu_round_exact(d->E, el->ppf, mode, &ep, d->lay, d->elem,
                                         NR_EMU_TERM_PRODUCT(k), d->pc);
        d->part = emu_add(d->E, el->sf, mode, d->part, p, d->lay, d->elem, NR_EMU_TERM_SUM(k),
                          d->sc);
        break;
    }
    case NR_MAC_FUSED:
        if (dbl) {
            d->part = emu_add(d->E, el->sf, mode, d->part, pw * pa, d->lay, d->elem,
                              NR_EMU_TERM_SUM(k), d->sc);
        } else {
            nr_exact_from_double(d->part, &ea);
            nr_arith_exact_add(&ep, &ea, mode, &es);
            d->part = emu_round_exact(d->E, el->sf, mode, &es, d->lay, d->elem,
                                      NR_EMU_TERM_SUM(k), d->sc);
        }
        break;
    default: /* exact, block-exact: dequantized values, exact in double */
        emu_kacc_add(&d->K, pw * xw, pa * xa);
        break;
    }
    d->n++;
    d->last = k;
}

/* [net-4] / [scl-dot-bias] the outer sum starts at the bias (NULL: +0);
 * mac: exact starts its accumulator there too. */
static void dot_start(dot *d, const double *bias)
{
    const emu_layer *el = d->el;
    d->acc = bias ? emu_round(d->E, el->of, el->mode, *bias, d->lay, d->elem, NR_EMU_TERM_BIAS,
                              d->sc)
                  : 0.0;
    if (el->mac == NR_MAC_EXACT) {
        emu_kacc_init(&d->K, d->E->klimbs, el->klimbs, el->klsb);
        emu_kacc_add(&d->K, d->acc, 1.0);
    }
}

/* Term k of groups gw, ga ([scl-dot-order]): a new segment when either group
 * changes or a promote chunk is full. */
static void dot_at(dot *d, int k, size_t gw, size_t ga, double pw, double xw, double pa,
                   double xa)
{
    const int promote = d->el->L->prec.promote;
    if (d->open && (gw != d->gw || ga != d->ga || (promote && d->n == promote)))
        seg_close(d), d->open = 0;
    if (!d->open) {
        seg_open(d, xw, xa);
        d->open = 1;
        d->gw = gw, d->ga = ga;
    }
    dot_term(d, k, pw, xw, pa, xa);
}

/* The open segment closed; mac: exact's sum rounded once ([net-5]). */
static double dot_end(dot *d)
{
    const emu_layer *el = d->el;
    if (d->open)
        seg_close(d), d->open = 0;
    if (el->mac == NR_MAC_EXACT) {
        nr_exact s;
        emu_kacc_get(&d->K, el->mode, d->E->klimbs + el->klimbs, &s);
        d->acc = emu_round_exact(d->E, el->cf, el->mode, &s, d->lay, d->elem, NR_EMU_TERM_EXACT,
                                 d->sc);
    }
    return d->acc;
}

double emu_mac_scaled(emu *E, const emu_layer *el, const geom *g, int o, int oh, int ow,
                      nr_emu_layer_stats *st)
{
    const nr_layer *L = el->L;
    const int li = L->index;
    const double *x = emu_in(E, li, 0), *xp, *xsc;
    emu_in_scaled(E, li, 0, &xp, &xsc);
    const nr_scaled *ws = el->ws, *xs = el->xs;
    dot d = {.E = E, .el = el, .lay = (uint32_t)li,
             .elem = ((uint64_t)o * (uint64_t)g->OH + (uint64_t)oh) * (uint64_t)g->OW +
                     (uint64_t)ow,
             .pc = st ? &st->prod : NULL, .sc = st ? &st->sum : NULL};
    dot_start(&d, el->b ? &el->b[o] : NULL);
    const int blocky = (ws && ws->gran == NR_GRAN_BLOCK) || (xs && xs->gran == NR_GRAN_BLOCK);
    const int ci0 = (o / g->cout_g) * g->cin_g;
    const int *xshape = L->in_shape[0];
    const int dense = L->op == NR_OP_DENSE;
    const size_t xhw = (size_t)xshape[1] * (size_t)xshape[2];
    const size_t wnb = ws && ws->gran == NR_GRAN_BLOCK
                           ? ((size_t)g->cin_g + (size_t)ws->block - 1) / (size_t)ws->block
                           : 1;
    const size_t xnb = xs && xs->gran == NR_GRAN_BLOCK
                           ? ((size_t)xshape[0] + (size_t)xs->block - 1) / (size_t)xs->block
                           : 1;
    for (int r = 0; r < g->kh; r++) {
        int ih = oh * g->sh - g->pt + r * g->dh;
        if (ih < 0 || ih >= g->H)
            continue; /* [net-4] padding taps are skipped */
        for (int c = 0; c < g->kw; c++) {
            int iw = ow * g->sw - g->pl + c * g->dw;
            if (iw < 0 || iw >= g->W)
                continue;
            if (d.open && blocky) /* [scl-dot-order] a block never spans two taps */
                seg_close(&d), d.open = 0;
            /* groups: weights ((o*kh + r)*kw + c)*wnb + ci/B ([scl-dot-wq]);
             * input (h*W + w)*xnb + c/B ([scl-dot-act]) */
            const size_t wbase = !ws                            ? 0
                                 : ws->gran == NR_GRAN_CHANNEL ? (size_t)o
                                 : ws->gran == NR_GRAN_BLOCK
                                     ? (((size_t)o * g->kh + r) * g->kw + c) * wnb
                                     : 0;
            for (int ci = 0; ci < g->cin_g; ci++) {
                const int k = (ci * g->kh + r) * g->kw + c;
                const size_t wi = (size_t)o * (size_t)g->K + (size_t)k;
                const size_t xi = ((size_t)(ci0 + ci) * g->H + ih) * g->W + iw;
                const size_t gw = ws && ws->gran == NR_GRAN_BLOCK ? wbase + (size_t)(ci / ws->block)
                                                                  : wbase;
                size_t ga = 0;
                if (xs && xs->gran == NR_GRAN_BLOCK) /* dense reads [C, H, W] flattened */
                    ga = dense ? xi % xhw * xnb + xi / xhw / (size_t)xs->block
                               : ((size_t)ih * g->W + iw) * xnb + (size_t)(ci0 + ci) / xs->block;
                double pw = ws ? L->wq[wi] : el->w[wi], xw = ws ? L->wscale[gw] : 1.0;
                double pa = xs ? xp[xi] : x[xi], xa = xs ? xsc[ga] : 1.0;
                dot_at(&d, k, gw, ga, pw, xw, pa, xa);
            }
        }
    }
    return dot_end(&d);
}

/* [scl-seq] one dot product along a reduction axis of K terms (linear,
 * matmul): term k is w->p[k*stride] x a->p[k*stride], of the groups k /
 * block (scales sc; NULL: unscaled, X = 1); segments as [scl-dot-order]
 * with one tap. */
double emu_dot_scaled_line(emu *E, const emu_layer *el, uint64_t elem, const double *bias, int K,
                           const emu_dot_operand *w, const emu_dot_operand *a,
                           nr_emu_layer_stats *st)
{
    dot d = {.E = E, .el = el, .lay = (uint32_t)el->L->index, .elem = elem,
             .pc = st ? &st->prod : NULL, .sc = st ? &st->sum : NULL};
    dot_start(&d, bias);
    for (int k = 0; k < K; k++) {
        const size_t gw = w->sc ? (size_t)(k / w->block) : 0, ga = a->sc ? (size_t)(k / a->block) : 0;
        const double xw = w->sc ? w->sc[gw] : 1.0, xa = a->sc ? a->sc[ga] : 1.0;
        dot_at(&d, k, gw, ga, w->p[(size_t)k * w->stride], xw, a->p[(size_t)k * a->stride], xa);
    }
    return dot_end(&d);
}
