/* emu_mac.c -- conv, dense and (unfolded) batchnorm in the three MAC modes
 * ([net-4], [net-5]).  All three are one loop: dense is a 1x1 conv over a
 * 1x1 map whose input channels are the flattened input, and batchnorm is a
 * depthwise 1x1 conv with weight = scale and bias = shift.
 *
 * The generic path rounds each event through emulator.c's helpers.  Two
 * host-float fast paths give the same bits when the products and the
 * accumulator are fp32 (resp. fp64) with rne: IEEE float arithmetic on exact
 * operands is exactly one correct rne rounding, which is the rule.  Tests
 * run both paths against each other. */
#include "emu_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The fast paths need a*b + c to stay two roundings (GCC contracts to FMA
 * by default in gnu11 mode on targets that have it). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

typedef unsigned __int128 u128;

/* ---------------------------------------------------------------- geometry */


/* ---------------------------------------------------------------- preparing */

static int is_preset(const nr_format *f, const char *name)
{
    nr_format p;
    nr_err e = {0};
    return nr_format_parse(name, &p, &e) == 0 && nr_format_equal(f, &p);
}

static int ilog2_of(double v) { return ilogb(v); } /* powers of two: exact */

/* prod_exact and the exact-mode accumulator for operands w = P * X with P
 * of wf and X in [wlo, whi] (1, 1 when unscaled), likewise x. */
int emu_mac_size(emu *E, emu_layer *el, const nr_format *wf, const nr_format *xf, double wlo,
                 double whi, double xlo, double xhi, nr_err *err)
{
    const nr_layer *L = el->L;
    /* w*x is exact in double when both significands fit in 53 bits together
     * and the product can neither underflow below 2^-1074 nor overflow. */
    el->prod_exact = wf->prec + xf->prec <= 53 &&
                     ilog2_of(wf->min_subnormal) + ilog2_of(xf->min_subnormal) >= -1074 &&
                     ilog2_of(wf->max_finite) + ilog2_of(xf->max_finite) + 2 <= 1023;

    /* Exact-mode accumulator: a two's-complement fixed-point number whose
     * bit 0 weighs 2^klsb.  Operand significands are 53-bit integers, so a
     * product's lowest bit is at least 2^(lsb_w + lsb_x - 104); the top must
     * hold K + 1 addends of the largest magnitude plus a sign bit. */
    int lw = ilog2_of(wf->min_subnormal) + ilog2_of(wlo),
        lx = ilog2_of(xf->min_subnormal) + ilog2_of(xlo);
    int lc = ilog2_of(el->cf->min_subnormal);
    int lsb = (lw + lx < lc ? lw + lx : lc) - 110;
    int mw = ilog2_of(wf->max_finite) + ilog2_of(whi) + 2,
        mx = ilog2_of(xf->max_finite) + ilog2_of(xhi) + 2;
    int mc = ilog2_of(el->cf->max_finite) + 1;
    int msb = (mw + mx > mc ? mw + mx : mc) + 34; /* K + 1 < 2^32 */
    el->klsb = lsb;
    el->klimbs = (msb - lsb) / 64 + 4;
    if (E->klimbs_cap < 2 * el->klimbs) { /* accumulator + scratch, shared by layers */
        uint64_t *nl = realloc(E->klimbs, 2 * (size_t)el->klimbs * sizeof *nl);
        if (!nl)
            return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
        E->klimbs = nl;
        E->klimbs_cap = 2 * el->klimbs;
    }
    return 0;
}

int emu_mac_prepare(emu *E, emu_layer *el, nr_err *err)
{
    const nr_layer *L = el->L;
    geom g;
    int rc = nr_mac_geom_check(L, &g, err);
    if (rc)
        return rc;
    nr_emu_layer_stats *st = emu_stats(E, L->index);
    nr_emu_counts *wc = st ? &st->weights : NULL;
    el->w = malloc(L->nw * sizeof *el->w);
    if (L->b)
        el->b = malloc(L->nb * sizeof *el->b);
    if (!el->w || (L->b && !el->b))
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
    if (el->scaled) { /* [scl-dot-wq], [scl-dot-bias] */
        if ((rc = emu_scaled_prepare(E, el, err)))
            return rc;
        return 0;
    }
    /* [net-1] weights and biases are rounded once, to the weight format. */
    for (size_t i = 0; i < L->nw; i++)
        el->w[i] = emu_round(E, el->wf, el->mode, L->w[i], (uint32_t)L->index, i,
                             NR_EMU_TERM_WEIGHT, wc);
    for (size_t i = 0; L->b && i < L->nb; i++)
        el->b[i] = emu_round(E, el->wf, el->mode, L->b[i], (uint32_t)L->index, i,
                             NR_EMU_TERM_BIASLOAD, wc);

    if ((rc = emu_mac_size(E, el, el->wf, el->in_fmt[0], 1.0, 1.0, 1.0, 1.0, err)))
        return rc;
    const nr_format *xf = el->in_fmt[0];

    /* [net-12] fast paths: products and accumulator both fp32 (or fp64) with
     * rne, and every operand a value of the host type. */
    if (el->mode == NR_RND_RNE && el->mac != NR_MAC_EXACT) {
        if (is_preset(el->pf, "fp32") && is_preset(el->cf, "fp32") &&
            nr_format_fits_f32(el->wf) && nr_format_fits_f32(xf)) {
            float *wf32 = malloc(L->nw * sizeof *wf32);
            if (!wf32)
                return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
            for (size_t i = 0; i < L->nw; i++)
                wf32[i] = (float)el->w[i]; /* exact: fits_f32 */
            el->wfast = wf32;
            el->fast = EMU_FAST_F32;
        } else if (is_preset(el->pf, "fp64") && is_preset(el->cf, "fp64")) {
            el->fast = EMU_FAST_F64;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- exact accumulator */

void emu_kacc_init(kacc *k, uint64_t *limbs, int n, int lsb)
{
    memset(limbs, 0, (size_t)n * sizeof *limbs);
    *k = (kacc){.l = limbs, .n = n, .lsb = lsb, .allneg0 = 1};
}

static uint64_t sig53(double v, int *e) /* |v| = sig * 2^e, v finite non-zero */
{
    int ex;
    double f = frexp(fabs(v), &ex);
    *e = ex - 53;
    return (uint64_t)ldexp(f, 53);
}

/* Add the exact product a*b ([net-5] exact mode). */
void emu_kacc_add(kacc *k, double a, double b)
{
    if (isnan(a) || isnan(b)) {
        k->nan = 1, k->allneg0 = 0;
        return;
    }
    int neg = (signbit(a) != 0) ^ (signbit(b) != 0);
    if (isinf(a) || isinf(b)) {
        k->allneg0 = 0;
        if (a == 0 || b == 0)
            k->nan = 1; /* [op-1] 0 * inf */
        else if (neg)
            k->ninf = 1;
        else
            k->pinf = 1;
        return;
    }
    if (a == 0 || b == 0) {
        if (!neg)
            k->allneg0 = 0;
        return;
    }
    k->allneg0 = 0;
    int ea, eb;
    u128 P = (u128)sig53(a, &ea) * sig53(b, &eb);
    int shift = ea + eb - k->lsb; /* >= 0 by the sizing in emu_mac_prepare */
    int i = shift >> 6, bit = shift & 63;
    uint64_t p0 = (uint64_t)P, p1 = (uint64_t)(P >> 64), a0, a1, a2;
    if (bit == 0)
        a0 = p0, a1 = p1, a2 = 0;
    else
        a0 = p0 << bit, a1 = (p1 << bit) | (p0 >> (64 - bit)), a2 = p1 >> (64 - bit);
    uint64_t add[3] = {a0, a1, a2};
    if (!neg) {
        unsigned carry = 0;
        for (int j = i; j < k->n; j++) {
            uint64_t v = j - i < 3 ? add[j - i] : 0;
            if (j - i >= 3 && !carry)
                break;
            uint64_t s = k->l[j] + v;
            unsigned c1 = s < v;
            uint64_t s2 = s + carry;
            unsigned c2 = s2 < s;
            k->l[j] = s2;
            carry = c1 | c2;
        }
    } else {
        unsigned borrow = 0;
        for (int j = i; j < k->n; j++) {
            uint64_t v = j - i < 3 ? add[j - i] : 0;
            if (j - i >= 3 && !borrow)
                break;
            uint64_t d = k->l[j] - v;
            unsigned b1 = k->l[j] < v;
            uint64_t d2 = d - borrow;
            unsigned b2 = d < (uint64_t)borrow;
            k->l[j] = d2;
            borrow = b1 | b2;
        }
    }
}

/* The accumulated value as an nr_exact (top 128 bits plus sticky). tmp has
 * k->n limbs. */
void emu_kacc_get(const kacc *k, nr_rounding mode, uint64_t *tmp, nr_exact *x)
{
    memset(x, 0, sizeof *x);
    if (k->nan || (k->pinf && k->ninf)) {
        x->cls = NR_CLS_NAN;
        return;
    }
    if (k->pinf || k->ninf) {
        x->cls = NR_CLS_INF;
        x->sign = k->ninf;
        return;
    }
    int neg = (k->l[k->n - 1] >> 63) != 0;
    memcpy(tmp, k->l, (size_t)k->n * sizeof *tmp);
    if (neg) { /* two's complement negation */
        unsigned carry = 1;
        for (int j = 0; j < k->n; j++) {
            tmp[j] = ~tmp[j] + carry;
            carry = carry && tmp[j] == 0;
        }
    }
    int t = k->n - 1;
    while (t >= 0 && !tmp[t])
        t--;
    if (t < 0) { /* [rnd-4] exact zero: +0, -0 under rd or when all addends are -0 */
        x->cls = NR_CLS_ZERO;
        x->sign = k->allneg0 || mode == NR_RND_RD;
        return;
    }
    int top = 64 * t + 63 - __builtin_clzll(tmp[t]); /* index of the top bit */
    int start = top - 127 > 0 ? top - 127 : 0;
    int i0 = start >> 6, off = start & 63;
    uint64_t w0 = tmp[i0], w1 = i0 + 1 < k->n ? tmp[i0 + 1] : 0,
             w2 = i0 + 2 < k->n ? tmp[i0 + 2] : 0;
    uint64_t lo = off ? (w0 >> off) | (w1 << (64 - off)) : w0;
    uint64_t hi = off ? (w1 >> off) | (w2 << (64 - off)) : w1;
    int sticky = off ? (w0 & ((1ull << off) - 1)) != 0 : 0;
    for (int j = 0; j < i0 && !sticky; j++)
        sticky = tmp[j] != 0;
    x->cls = NR_CLS_FINITE;
    x->sign = neg;
    x->exp = k->lsb + start;
    x->sig = ((u128)hi << 64) | lo;
    x->sticky = sticky;
}

/* ---------------------------------------------------------------- generic path */

static void trace_term(FILE *tr, const emu_layer *el, int k, double xv, double wv)
{
    fprintf(tr, "  term %d: x=", k);
    emu_print_value(tr, el->in_fmt[0], xv);
    fprintf(tr, " w=");
    emu_print_value(tr, el->wf, wv);
}

/* One output element, every rounding through emulator.c: returns the
 * accumulator's final value (a value of cf). */
static double mac_element(emu *E, const emu_layer *el, const geom *g, const double *x, int o,
                          int oh, int ow, nr_emu_layer_stats *st, FILE *tr)
{
    const uint32_t lay = (uint32_t)el->L->index;
    const uint64_t elem = ((uint64_t)o * (uint64_t)g->OH + (uint64_t)oh) * (uint64_t)g->OW +
                          (uint64_t)ow;
    nr_emu_counts *pc = st ? &st->prod : NULL, *sc = st ? &st->sum : NULL;
    const nr_rounding mode = el->mode;
    const int ci0 = (o / g->cout_g) * g->cin_g;
    double acc = 0.0; /* +0 without bias */
    kacc K;
    if (el->mac == NR_MAC_EXACT)
        emu_kacc_init(&K, E->klimbs, el->klimbs, el->klsb);
    /* [net-4] the accumulator starts at the bias rounded to its format. */
    if (el->b)
        acc = emu_round(E, el->cf, mode, el->b[o], lay, elem, NR_EMU_TERM_BIAS, sc);
    if (tr) {
        fprintf(tr, "  start acc=");
        emu_print_value(tr, el->cf, acc);
        fprintf(tr, "%s\n", el->b ? " (bias)" : "");
    }
    if (el->mac == NR_MAC_EXACT)
        emu_kacc_add(&K, acc, 1.0);
    for (int ci = 0; ci < g->cin_g; ci++)
        for (int r = 0; r < g->kh; r++) {
            int ih = oh * g->sh - g->pt + r * g->dh;
            if (ih < 0 || ih >= g->H)
                continue; /* [net-4] padding contributes no term */
            for (int c = 0; c < g->kw; c++) {
                int iw = ow * g->sw - g->pl + c * g->dw;
                if (iw < 0 || iw >= g->W)
                    continue;
                const int k = (ci * g->kh + r) * g->kw + c;
                const double xv = x[((size_t)(ci0 + ci) * g->H + ih) * g->W + iw];
                const double wv = el->w[(size_t)o * g->K + k];
                const int dbl = el->prod_exact && isfinite(wv) && isfinite(xv);
                nr_exact ex, ey, ep;
                if (!dbl || (tr && el->mac == NR_MAC_EXACT)) {
                    nr_exact_from_double(wv, &ex);
                    nr_exact_from_double(xv, &ey);
                    nr_arith_exact_mul(&ex, &ey, &ep);
                }
                if (tr)
                    trace_term(tr, el, k, xv, wv);
                switch (el->mac) {
                case NR_MAC_UNFUSED: {
                    /* [net-5] product rounded to products, sum to accumulator */
                    double p = dbl ? emu_round(E, el->pf, mode, wv * xv, lay, elem,
                                               NR_EMU_TERM_PRODUCT(k), pc)
                                   : emu_round_exact(E, el->pf, mode, &ep, lay, elem,
                                                     NR_EMU_TERM_PRODUCT(k), pc);
                    acc = emu_add(E, el->cf, mode, acc, p, lay, elem, NR_EMU_TERM_SUM(k), sc);
                    if (tr) {
                        fprintf(tr, " p=");
                        emu_print_value(tr, el->pf, p);
                    }
                    break;
                }
                case NR_MAC_FUSED: { /* [net-5] one rounding of w*x + acc */
                    if (dbl) { /* w*x exact in double: emu_add rounds the exact sum */
                        acc = emu_add(E, el->cf, mode, acc, wv * xv, lay, elem,
                                      NR_EMU_TERM_SUM(k), sc);
                        if (tr)
                            fprintf(tr, " p=%a (exact)", wv * xv);
                        break;
                    }
                    nr_exact ea, es;
                    nr_exact_from_double(acc, &ea);
                    nr_arith_exact_add(&ep, &ea, mode, &es);
                    acc = emu_round_exact(E, el->cf, mode, &es, lay, elem, NR_EMU_TERM_SUM(k),
                                          sc);
                    if (tr)
                        fprintf(tr, " p=%a (exact)", nr_codec_exact_to_double(&ep));
                    break;
                }
                case NR_MAC_EXACT:
                    emu_kacc_add(&K, wv, xv);
                    if (tr) {
                        nr_exact run;
                        emu_kacc_get(&K, mode, E->klimbs + el->klimbs, &run);
                        fprintf(tr, " p=%a (exact) sum~%.17g (exact, unrounded)\n",
                                nr_codec_exact_to_double(&ep), nr_codec_exact_to_double(&run));
                    }
                    break;
                default: /* block macs run emu_scaled.c's loop */
                    break;
                }
                if (tr && el->mac != NR_MAC_EXACT) {
                    fprintf(tr, " acc=");
                    emu_print_value(tr, el->cf, acc);
                    fputc('\n', tr);
                }
            }
        }
    if (el->mac == NR_MAC_EXACT) { /* [net-5] the exact sum rounded once */
        nr_exact s;
        emu_kacc_get(&K, mode, E->klimbs + el->klimbs, &s);
        acc = emu_round_exact(E, el->cf, mode, &s, lay, elem, NR_EMU_TERM_EXACT, sc);
        if (tr) {
            fprintf(tr, "  exact sum rounded: acc=");
            emu_print_value(tr, el->cf, acc);
            fputc('\n', tr);
        }
    }
    return acc;
}

/* ---------------------------------------------------------------- fast paths
 * Same loops as mac_element with host arithmetic.  Counting follows
 * emu_count: a product/sum of finite operands that is infinite overflowed;
 * a zero product of non-zero operands was flushed (sums of values of an IEEE
 * format with subnormals cannot flush); NaN results are counted. */

static void count_fused_zero_f64(nr_emu_counts *sc, double w, double x, double acc)
{
    nr_exact a, b, p, c, s;
    nr_exact_from_double(w, &a);
    nr_exact_from_double(x, &b);
    nr_arith_exact_mul(&a, &b, &p);
    nr_exact_from_double(acc, &c);
    nr_arith_exact_add(&p, &c, NR_RND_RNE, &s); /* only the class is used */
    if (s.cls == NR_CLS_FINITE)
        sc->flushed++;
}

#define DEFINE_FAST(NAME, T, FMA, FUSED_ZERO_NONEXACT)                                        \
    static void NAME(const emu_layer *el, const geom *g, const T *x, const T *w, double *out, \
                     nr_emu_layer_stats *st)                                                  \
    {                                                                                         \
        const int fused = el->mac == NR_MAC_FUSED;                                            \
        nr_emu_counts *pc = st ? &st->prod : NULL, *sc = st ? &st->sum : NULL;                \
        for (int o = 0; o < g->O; o++) {                                                      \
            const int ci0 = (o / g->cout_g) * g->cin_g;                                       \
            const T b0 = el->b ? (T)el->b[o] : (T)0;                                          \
            const T *wo = w + (size_t)o * g->K;                                               \
            for (int oh = 0; oh < g->OH; oh++)                                                \
                for (int ow = 0; ow < g->OW; ow++) {                                          \
                    T acc = b0;                                                               \
                    if (sc && el->b) {                                                        \
                        sc->events++;                                                         \
                        sc->nan += isnan(acc) != 0;                                           \
                    }                                                                         \
                    for (int ci = 0; ci < g->cin_g; ci++) {                                   \
                        const T *xc = x + (size_t)(ci0 + ci) * g->H * g->W;                   \
                        const T *wc = wo + (size_t)ci * g->kh * g->kw;                        \
                        for (int r = 0; r < g->kh; r++) {                                     \
                            const int ih = oh * g->sh - g->pt + r * g->dh;                    \
                            if (ih < 0 || ih >= g->H)                                         \
                                continue;                                                     \
                            const T *xr = xc + (size_t)ih * g->W, *wr = wc + r * g->kw;       \
                            for (int c = 0; c < g->kw; c++) {                                 \
                                const int iw = ow * g->sw - g->pl + c * g->dw;                \
                                if (iw < 0 || iw >= g->W)                                     \
                                    continue;                                                 \
                                const T xv = xr[iw], wv = wr[c];                              \
                                T s;                                                          \
                                if (fused) {                                                  \
                                    s = FMA(wv, xv, acc);                                     \
                                    if (sc) {                                                 \
                                        sc->events++;                                         \
                                        if (isnan(s))                                         \
                                            sc->nan++;                                        \
                                        else if (isinf(s) && isfinite(wv) && isfinite(xv) &&  \
                                                 isfinite(acc))                               \
                                            sc->overflow++;                                   \
                                        else if (s == 0 && wv != 0 && xv != 0)                \
                                            FUSED_ZERO_NONEXACT(sc, wv, xv, acc);             \
                                    }                                                         \
                                } else {                                                      \
                                    const T p = wv * xv;                                      \
                                    s = acc + p;                                              \
                                    if (pc) {                                                 \
                                        pc->events++, sc->events++;                           \
                                        if (isnan(p))                                         \
                                            pc->nan++;                                        \
                                        else if (isinf(p) && isfinite(wv) && isfinite(xv))    \
                                            pc->overflow++;                                   \
                                        else if (p == 0 && wv != 0 && xv != 0)                \
                                            pc->flushed++;                                    \
                                        if (isnan(s))                                         \
                                            sc->nan++;                                        \
                                        else if (isinf(s) && isfinite(acc) && isfinite(p))    \
                                            sc->overflow++;                                   \
                                    }                                                         \
                                }                                                             \
                                acc = s;                                                      \
                            }                                                                 \
                        }                                                                     \
                    }                                                                         \
                    out[((size_t)o * g->OH + oh) * g->OW + ow] = (double)acc;                 \
                }                                                                             \
        }                                                                                     \
    }

/* fp32: w*x is exact in double, so the sum in double is non-zero exactly
 * when the exact value is. */
#define FUSED_ZERO_F32(sc, w, x, acc)                                    \
    do {                                                                 \
        if ((double)(w) * (double)(x) + (double)(acc) != 0)              \
            (sc)->flushed++;                                             \
    } while (0)
#define FUSED_ZERO_F64(sc, w, x, acc) count_fused_zero_f64(sc, w, x, acc)

DEFINE_FAST(fast_f32, float, fmaf, FUSED_ZERO_F32)
DEFINE_FAST(fast_f64, double, fma, FUSED_ZERO_F64)

/* ---------------------------------------------------------------- the layer */

void emu_mac_run(emu *E, int li)
{
    const emu_layer *el = &E->ly[li];
    const nr_layer *L = el->L;
    geom g;
    nr_mac_geom_of(L, &g); /* checked by emu_mac_prepare */
    const double *x = emu_in(E, li, 0);
    double *out = E->act[li];
    nr_emu_layer_stats *st = emu_stats(E, li);
    const size_t nout = (size_t)g.O * g.OH * g.OW;
    const int no_fast = E->opts && E->opts->no_fast;
    int done = 0;
    if (el->fast == EMU_FAST_F32 && !no_fast) {
        size_t nx = (size_t)g.C * g.H * g.W;
        float *xf = malloc(nx * sizeof *xf);
        if (xf) {
            for (size_t i = 0; i < nx; i++)
                xf[i] = (float)x[i]; /* exact: the input format fits float32 */
            fast_f32(el, &g, xf, el->wfast, out, st);
            free(xf);
            done = 1;
        }
    } else if (el->fast == EMU_FAST_F64 && !no_fast) {
        fast_f64(el, &g, x, el->w, out, st);
        done = 1;
    }
    if (!done)
        for (int o = 0; o < g.O; o++)
            for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++)
                    out[((size_t)o * g.OH + oh) * g.OW + ow] =
                        el->scaled ? emu_mac_scaled(E, el, &g, o, oh, ow, st)
                                   : mac_element(E, el, &g, x, o, oh, ow, st, NULL);
    /* [net-5] the accumulator's value is rounded to the activation format. */
    nr_emu_counts *oc = st ? &st->out : NULL;
    for (size_t i = 0; i < nout; i++)
        out[i] = emu_round(E, el->af, el->mode, out[i], (uint32_t)li, i, NR_EMU_TERM_OUT, oc);
    if (E->opts && E->opts->trace && E->opts->trace_layer == li && el->scaled) {
        fprintf(E->opts->trace, "  %s mac with scaled operands: no per-term trace yet\n",
                nr_prec_mac_name(el->mac));
    } else if (E->opts && E->opts->trace && E->opts->trace_layer == li) {
        int64_t t = E->opts->trace_index;
        int o = (int)(t / ((int64_t)g.OH * g.OW)), rem = (int)(t % ((int64_t)g.OH * g.OW));
        fprintf(E->opts->trace, "  %s mac, output [%d,%d,%d]\n", nr_prec_mac_name(el->mac), o,
                rem / g.OW, rem % g.OW);
        double acc = mac_element(E, el, &g, x, o, rem / g.OW, rem % g.OW, NULL, E->opts->trace);
        fprintf(E->opts->trace, "  final acc=");
        emu_print_value(E->opts->trace, el->cf, acc);
        fputc('\n', E->opts->trace);
    }
}
