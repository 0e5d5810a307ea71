/* emu_seq.c -- the sequence ops other than the dot products (emu_attn.c):
 * tokens, heads, merge_heads (exact moves, [op-move]), scale ([op-scale]),
 * add_const ([op-add-const]), gelu ([op-gelu]), softmax_axis
 * ([op-softmax]) and layernorm ([op-layernorm]).  Every rounding goes
 * through emulator.c's helpers, and every nonlinear function through
 * emu_seq_nl: the correctly rounded value of the exact function ([nl-1]) in
 * the layer's nonlinear format ([op-nl]). */
#include "emu_internal.h"
#include "nlfn.h"
#include "nlrt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* SR term of each rounding step ([op-nl], [op-softmax], [op-layernorm]). */
enum {
    T_NL = 1, T_SUB = 2, T_SUM = 3, T_MEAN = 4, T_DEV = 5, T_SQ = 6, T_VSUM = 7, T_VAR = 8,
    T_EPS = 9, T_NORM = 10, T_GAIN = 11
};

/* ---------------------------------------------------------------- helpers */

/* [op-fast] (c): the host's double evaluation of f(x) (relative error far
 * below 2^-36 for these functions; gelu via erfc, |x| <= 10, so no
 * cancellation), when the whole interval y (1 +- 2^-36) rounds to one
 * finite nonzero value without overflow or flush: then the exact f(x),
 * which lies in it, rounds to that value too (rounding is monotone).
 * Returns 1 with *r set, or 0 to take the exact path. */
static int nl_screen(const emu_layer *el, nr_nlfn fn, double x, double *r)
{
    const nr_format *nf = el->nf;
    if (nf->kind != NR_FLOAT || nf->prec > 30 || el->mode == NR_RND_SR || !isfinite(x))
        return 0;
    double y;
    switch (fn) {
    case NR_NL_EXP: y = exp(x); break;
    case NR_NL_RSQRT: y = x > 0 ? 1.0 / sqrt(x) : 0.0; break;
    case NR_NL_GELU: y = fabs(x) <= 10 ? 0.5 * x * erfc(-x * 0.70710678118654752440) : 0.0; break;
    default: return 0;
    }
    if (!(isfinite(y) && y != 0 && fabs(y) > 0x1p-900))
        return 0;
    const double m = 0x1p-36;
    unsigned f1 = 0, f2 = 0;
    double a, b;
    if (el->fast == EMU_FAST_F32) { /* nf is fp32 and the mode rne: a float conversion */
        a = (float)(y * (1 - m));
        b = (float)(y * (1 + m));
    } else {
        a = nr_round(nf, el->mode, y * (1 - m), 0, &f1);
        b = nr_round(nf, el->mode, y * (1 + m), 0, &f2);
    }
    const unsigned bad = NR_FLAG_OVERFLOW | NR_FLAG_SATURATED | NR_FLAG_FLUSHED |
                         NR_FLAG_INVALID | NR_FLAG_WRAPPED;
    if (a != b || ((f1 | f2) & bad) || a == 0 || !isfinite(a))
        return 0;
    *r = a;
    return 1;
}

/* [op-nl] f(x) correctly rounded into the nonlinear format: the screen
 * above, else numrep's own implementation (runtime/rt/nlrt*.c, equal to the
 * MPFR oracle bit for bit where it decides, [nl-impl]) when both formats
 * have at most 32 bits, else (or when it cannot decide) MPFR ([nl-oracle]).
 * With no_fast only MPFR is used. */
double emu_seq_nl(const emu *E, const emu_layer *el, nr_nlfn fn, const nr_format *xf,
                  double x, uint64_t elem, nr_emu_counts *c)
{
    const nr_nl f = {fn, 0};
    const nr_format *nf = el->nf;
    const int no_fast = E->opts && E->opts->no_fast;
    double r;
    if (!no_fast && nl_screen(el, fn, x, &r)) {
        emu_count(c, 0, r, 1);
        return r;
    }
    nr_exact y;
    int done = 0;
    if (xf->width <= 32 && nf->width <= 32 && !no_fast)
        done = nr_nlrt_exact(&f, x, nf, el->mode, &y) == 0;
    if (!done) {
        nr_exact xe;
        nr_err e = {0};
        nr_exact_from_double(x, &xe);
        if (nr_nl_exact_mpfr(&f, &xe, &y, &e) < 0) /* never observed ([nl-oracle]) */
            nr_nl_exact_special(&y, NR_CLS_NAN, 0);
    }
    unsigned fl = 0;
    uint64_t bits = nr_nl_round(isnan(x), &y, nf, el->mode,
                                emu_sr(E, el->mode, (uint32_t)el->L->index, elem, T_NL), &fl);
    r = nr_decode(nf, bits);
    emu_count(c, fl, r, isfinite(x));
    return r;
}

/* q = a op b rounded to nearest double with exact error e (e = 0: q is the
 * exact result); when rounding q and its neighbour toward the exact value
 * give the same value of f, that is the exact value's rounding (it lies
 * strictly between them).  Returns 1 with *r set, else 0.  Only for
 * formats of at most 52 significand bits, where every rounding boundary is
 * a double. */
static int near_round(const emu *E, const emu_layer *el, const nr_format *f, double q, double e,
                      uint64_t elem, uint32_t term, nr_emu_counts *c, double *r)
{
    if (!isfinite(q) || fabs(q) < 0x1p-960 || fabs(q) > 0x1p1000 || f->prec > 52 ||
        el->mode == NR_RND_SR)
        return 0;
    if (e == 0) {
        *r = emu_round(E, f, el->mode, q, (uint32_t)el->L->index, elem, term, c);
        return 1;
    }
    unsigned f1 = 0, f2 = 0;
    double a = nr_round(f, el->mode, q, 0, &f1);
    double b = nr_round(f, el->mode, nextafter(q, e > 0 ? INFINITY : -INFINITY), 0, &f2);
    if (a != b || f1 != f2 || (a == 0 && signbit(a) != signbit(b)))
        return 0;
    emu_count(c, f1, a, 1);
    *r = a;
    return 1;
}

/* The exact a * b rounded once to f. */
static double mul_round(const emu *E, const emu_layer *el, const nr_format *f, double a,
                        double b, uint64_t elem, uint32_t term, nr_emu_counts *c)
{
    double q = a * b, r;
    if (isfinite(q) && near_round(E, el, f, q, fma(a, b, -q), elem, term, c, &r))
        return r;
    nr_exact ea, eb, ep;
    nr_exact_from_double(a, &ea);
    nr_exact_from_double(b, &eb);
    nr_arith_exact_mul(&ea, &eb, &ep);
    return emu_round_exact(E, f, el->mode, &ep, (uint32_t)el->L->index, elem, term, c);
}

/* The exact a / b rounded once to f. */
static double div_round(const emu *E, const emu_layer *el, const nr_format *f, double a,
                        double b, uint64_t elem, uint32_t term, nr_emu_counts *c)
{
    double q = a / b, r;
    /* the remainder a - q*b is exact (fma); its sign is that of the error
     * when b > 0, the opposite when b < 0 */
    if (isfinite(q) && isfinite(b) && b != 0) {
        double rem = fma(-q, b, a);
        if (near_round(E, el, f, q, b > 0 ? rem : -rem, elem, term, c, &r))
            return r;
    }
    nr_exact ea, eb, eq;
    nr_exact_from_double(a, &ea);
    nr_exact_from_double(b, &eb);
    nr_exact_div(&ea, &eb, &eq);
    return emu_round_exact(E, f, el->mode, &eq, (uint32_t)el->L->index, elem, term, c);
}

/* ---------------------------------------------------------------- prepare */

int emu_seq_round_tensor(emu *E, emu_layer *el, const double *src, size_t n, uint32_t term,
                         double **dst, nr_err *err)
{
    nr_emu_layer_stats *st = emu_stats(E, el->L->index);
    *dst = malloc((n ? n : 1) * sizeof **dst);
    if (!*dst)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, el->L->name, "out of memory");
    for (size_t i = 0; i < n; i++) /* [net-1] rounded once to the weight format */
        (*dst)[i] = emu_round(E, el->wf, el->mode, src[i], (uint32_t)el->L->index, i, term,
                              st ? &st->weights : NULL);
    return 0;
}

/* The shapes the run loops index by ([net-13]: checked here, not trusted). */
static const char *check_shapes(const nr_layer *L)
{
    const int *in = L->in_shape[0], *out = L->out_shape;
    size_t n = nr_shape_count(in);
    switch (L->op) {
    case NR_OP_TOKENS:
        return out[0] == 1 && out[1] == in[1] * in[2] && out[2] == in[0] ? NULL
               : "tokens: output must be [1, H*W, C]";
    case NR_OP_HEADS:
        return in[0] == 1 && out[1] == in[1] && out[0] * out[2] == in[2] ? NULL
               : "heads: [1, T, H*d] -> [H, T, d]";
    case NR_OP_MERGE_HEADS:
        return out[0] == 1 && out[1] == in[1] && out[2] == in[0] * in[2] ? NULL
               : "merge_heads: [H, T, d] -> [1, T, H*d]";
    case NR_OP_LAYERNORM:
        if (L->nw != (size_t)in[2] || L->nb != (size_t)in[2] || !L->b)
            return "layernorm: weight and bias must have one value per feature";
        break;
    case NR_OP_ADD_CONST:
        if (L->nw != n)
            return "add_const: the constant must have the input's shape";
        break;
    case NR_OP_SOFTMAX_AXIS:
        if (L->spec->axis < 0 || L->spec->axis > 2)
            return "softmax_axis: axis must be 0, 1 or 2";
        break;
    default:
        break;
    }
    return memcmp(in, out, 3 * sizeof *in) && L->op != NR_OP_TOKENS && L->op != NR_OP_HEADS &&
                   L->op != NR_OP_MERGE_HEADS
               ? "output shape differs from input shape"
               : NULL;
}

int emu_seq_prepare(emu *E, emu_layer *el, nr_err *err)
{
    const nr_layer *L = el->L;
    el->nf = &L->prec.nonlinear;
    const int mac = L->op == NR_OP_LINEAR || L->op == NR_OP_MATMUL;
    if (el->xs || ((nr_prec_is_scaled(&L->prec) || el->os || el->ws) && !mac))
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "%s: %s; among the sequence ops only linear and matmul take scaled "
                          "formats ([scl-seq], e.g. ops: {linear: mxfp8, matmul: mxfp8})",
                          nr_spec_op_name(L->op),
                          el->xs ? "its input is a scaled tensor" : "scaled formats or a block mac");
    if (el->nf->kind == NR_FIXED && el->nf->prec > 53)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "nonlinear format has %d magnitude bits; the emulator supports at "
                          "most 53", el->nf->prec);
    if (L->op == NR_OP_LINEAR || L->op == NR_OP_MATMUL)
        return emu_attn_prepare(E, el, err);
    if (nr_model_seq_lm_is(L->op)) /* [op-lm] emu_seq_lm.c */
        return emu_lm_prepare(E, el, err);
    const char *why = check_shapes(L);
    if (why)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name, "%s", why);
    int rc = 0;
    if (L->op == NR_OP_LAYERNORM || L->op == NR_OP_ADD_CONST)
        rc = emu_seq_round_tensor(E, el, L->w, L->nw, NR_EMU_TERM_WEIGHT, &el->w, err);
    if (!rc && L->op == NR_OP_LAYERNORM) {
        double eps = L->spec->eps;
        if (!(el->wfast = malloc((size_t)L->in_shape[0][2] * sizeof(double))))
            return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
        if (!(rc = emu_seq_round_tensor(E, el, L->b, L->nb, NR_EMU_TERM_BIASLOAD, &el->b,
                                        err)))
            rc = emu_seq_round_tensor(E, el, &eps, 1, NR_EMU_TERM_BIAS, &el->bacc, err);
    }
    if (!rc && L->op == NR_OP_SCALE) { /* [op-scale] the constant, like a weight */
        double c = L->spec->scale_by;
        rc = emu_seq_round_tensor(E, el, &c, 1, NR_EMU_TERM_WEIGHT, &el->w, err);
    }
    if (!rc && emu_seq_fast_ok(el))
        el->fast = EMU_FAST_F32;
    return rc;
}

/* ---------------------------------------------------------------- ops */

/* [op-move] y[j] = x[src(j)], rounded to A when the formats differ. */
static void run_move(emu *E, int li, const double *x, double *y, nr_emu_counts *oc)
{
    const emu_layer *el = &E->ly[li];
    const nr_layer *L = el->L;
    const int *in = L->in_shape[0], *out = L->out_shape;
    size_t n = nr_shape_count(out);
    for (size_t j = 0; j < n; j++) {
        size_t i;
        int a0 = (int)(j / ((size_t)out[1] * out[2])), a1 = (int)(j / out[2] % out[1]),
            a2 = (int)(j % out[2]);
        if (L->op == NR_OP_TOKENS) /* y[0, h*W + w, c] = x[c, h, w] */
            i = (size_t)a2 * in[1] * in[2] + a1;
        else if (L->op == NR_OP_HEADS) /* y[h, t, j] = x[0, t, h*d + j] */
            i = (size_t)a1 * in[2] + (size_t)a0 * out[2] + a2;
        else /* merge_heads: y[0, t, h*d + j] = x[h, t, j] */
            i = ((size_t)(a2 / in[2]) * in[1] + a1) * in[2] + a2 % in[2];
        y[j] = el->in_same[0] ? x[i]
                              : emu_round(E, el->af, el->mode, x[i], (uint32_t)li, j,
                                          NR_EMU_TERM_OUT, oc);
    }
}

/* [op-softmax] along one axis: each line is n values at stride s. */
static void softmax_line(emu *E, const emu_layer *el, const double *x, double *y, size_t base,
                         size_t s, int n, nr_emu_counts *nc, nr_emu_counts *sc,
                         nr_emu_counts *oc)
{
    const uint32_t lay = (uint32_t)el->L->index;
    const nr_format *xf = el->in_fmt[0];
    double m = 0;
    int plain = el->L->spec->sm_plain;
    if (!plain) { /* the maximum: exact; a NaN makes the line NaN through the sub */
        m = -INFINITY;
        for (int i = 0; i < n; i++) {
            double v = x[base + (size_t)i * s];
            if (isnan(v) || v > m)
                m = v;
            if (isnan(v))
                break;
        }
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
        size_t k = base + (size_t)i * s;
        double d = x[k];
        const nr_format *df = xf;
        if (!plain) {
            d = emu_add(E, el->nf, el->mode, x[k], -m, lay, k, T_SUB, nc);
            df = el->nf;
        }
        y[k] = emu_seq_nl(E, el, NR_NL_EXP, df, d, k, nc);
        sum = emu_add(E, el->cf, el->mode, sum, y[k], lay, k, T_SUM, sc);
    }
    for (int i = 0; i < n; i++) {
        size_t k = base + (size_t)i * s;
        y[k] = div_round(E, el, el->af, y[k], sum, k, NR_EMU_TERM_OUT, oc);
    }
}

static void run_softmax(emu *E, int li, const double *x, double *y, nr_emu_layer_stats *st)
{
    const emu_layer *el = &E->ly[li];
    const int *sh = el->L->out_shape;
    int ax = el->L->spec->axis;
    size_t stride = ax == 2 ? 1 : ax == 1 ? (size_t)sh[2] : (size_t)sh[1] * sh[2];
    nr_emu_counts *nc = st ? &st->prod : NULL, *sc = st ? &st->sum : NULL,
                  *oc = st ? &st->out : NULL;
    size_t total = nr_shape_count(sh);
    for (size_t base = 0; base < total; base++)
        if (base / stride % (size_t)sh[ax] == 0) /* the first element of a line */
            softmax_line(E, el, x, y, base, stride, sh[ax], nc, sc, oc);
}

/* [op-layernorm] over the F features of one token at x. */
static void layernorm_row(emu *E, const emu_layer *el, const double *x, double *y, size_t base,
                          int F, double *d, nr_emu_layer_stats *st)
{
    const uint32_t lay = (uint32_t)el->L->index;
    const nr_format *S = el->cf, *P = el->pf;
    const nr_rounding md = el->mode;
    nr_emu_counts *pc = st ? &st->prod : NULL, *sc = st ? &st->sum : NULL,
                  *oc = st ? &st->out : NULL;
    double s = 0;
    for (int f = 0; f < F; f++)
        s = emu_add(E, S, md, s, x[f], lay, base + f, T_SUM, sc);
    double mean = emu_div_count(E, S, md, s, F, lay, base, T_MEAN, sc);
    double q = 0;
    for (int f = 0; f < F; f++) {
        d[f] = emu_add(E, S, md, x[f], -mean, lay, base + f, T_DEV, sc);
        double p = mul_round(E, el, P, d[f], d[f], base + f, T_SQ, pc);
        q = emu_add(E, S, md, q, p, lay, base + f, T_VSUM, sc);
    }
    double var = emu_div_count(E, S, md, q, F, lay, base, T_VAR, sc);
    double v = emu_add(E, S, md, var, el->bacc[0], lay, base, T_EPS, sc);
    double r = emu_seq_nl(E, el, NR_NL_RSQRT, S, v, base, pc);
    for (int f = 0; f < F; f++) {
        double u = mul_round(E, el, P, d[f], r, base + f, T_NORM, pc);
        double z = mul_round(E, el, P, u, el->w[f], base + f, T_GAIN, pc);
        y[f] = emu_add(E, el->af, md, z, el->b[f], lay, base + f, NR_EMU_TERM_OUT, oc);
    }
}

void emu_seq_run(emu *E, int li)
{
    const emu_layer *el = &E->ly[li];
    const nr_layer *L = el->L;
    if (L->op == NR_OP_LINEAR || L->op == NR_OP_MATMUL) {
        emu_attn_run(E, li);
        return;
    }
    if (nr_model_seq_lm_is(L->op)) { /* [op-lm] emu_seq_lm.c */
        emu_lm_run(E, li);
        return;
    }
    const double *x = emu_in(E, li, 0);
    double *y = E->act[li];
    nr_emu_layer_stats *st = emu_stats(E, li);
    if (el->fast == EMU_FAST_F32 && !st && !(E->opts && E->opts->no_fast) &&
        emu_seq_fast(E, li))
        return;
    nr_emu_counts *oc = st ? &st->out : NULL, *nc = st ? &st->prod : NULL;
    const size_t n = nr_shape_count(L->out_shape);
    const uint32_t lay = (uint32_t)li;
    switch (L->op) {
    case NR_OP_TOKENS: case NR_OP_HEADS: case NR_OP_MERGE_HEADS:
        run_move(E, li, x, y, oc);
        break;
    case NR_OP_SCALE:
        for (size_t i = 0; i < n; i++)
            y[i] = mul_round(E, el, el->af, x[i], el->w[0], i, NR_EMU_TERM_OUT, oc);
        break;
    case NR_OP_ADD_CONST:
        for (size_t i = 0; i < n; i++)
            y[i] = emu_add(E, el->af, el->mode, x[i], el->w[i], lay, i, NR_EMU_TERM_OUT, oc);
        break;
    case NR_OP_GELU: {
        nr_nlfn fn = L->spec->gelu_tanh ? NR_NL_GELU_TANH : NR_NL_GELU;
        int same = nr_format_equal(el->nf, el->af);
        for (size_t i = 0; i < n; i++) {
            double g = emu_seq_nl(E, el, fn, el->in_fmt[0], x[i], i, nc);
            y[i] = same ? g : emu_round(E, el->af, el->mode, g, lay, i, NR_EMU_TERM_OUT, oc);
        }
        break;
    }
    case NR_OP_SOFTMAX_AXIS:
        run_softmax(E, li, x, y, st);
        break;
    case NR_OP_LAYERNORM: {
        int F = L->out_shape[2];
        double *d = el->wfast; /* scratch of F values, allocated by prepare */
        for (size_t base = 0; base < n; base += (size_t)F)
            layernorm_row(E, el, x + base, y + base, base, F, d, st);
        break;
    }
    default:
        break;
    }
}

/* For emu_seq_lm.c: the exact a * b rounded once to f; one softmax line. */
double emu_seq_mul(const emu *E, const emu_layer *el, const nr_format *f, double a, double b,
                   uint64_t elem, uint32_t term, nr_emu_counts *c)
{
    return mul_round(E, el, f, a, b, elem, term, c);
}

void emu_seq_softmax_line(emu *E, const emu_layer *el, const double *x, double *y, size_t base,
                          size_t s, int n, nr_emu_layer_stats *st)
{
    softmax_line(E, el, x, y, base, s, n, st ? &st->prod : NULL, st ? &st->sum : NULL,
                 st ? &st->out : NULL);
}
