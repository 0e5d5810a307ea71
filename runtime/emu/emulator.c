/* emulator.c -- the reference emulator: walks the model layer by layer,
 * sample by sample, holding every value as an exact double.  The rounding
 * helpers here are the only way the emulator rounds, so every rounding is
 * counted and draws its SR bits by the numbering in emulator.h ([net-9]).
 * The arithmetic of each op is in emu_mac.c and emu_ops.c. */
#include "emu_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- rounding */

void emu_count(nr_emu_counts *c, unsigned flags, double result, int finite_in)
{
    if (!c)
        return;
    c->events++;
    if (finite_in && (flags & (NR_FLAG_OVERFLOW | NR_FLAG_SATURATED | NR_FLAG_WRAPPED)))
        c->overflow++;
    if (finite_in && (flags & NR_FLAG_SATURATED))
        c->saturated++;
    if (flags & NR_FLAG_FLUSHED)
        c->flushed++;
    if (isnan(result))
        c->nan++;
}

double emu_round(const emu *E, const nr_format *f, nr_rounding mode, double x, uint32_t layer,
                 uint64_t elem, uint32_t term, nr_emu_counts *c)
{
    unsigned fl = 0;
    double r = nr_round(f, mode, x, emu_sr(E, mode, layer, elem, term), &fl);
    emu_count(c, fl, r, isfinite(x));
    return r;
}

double emu_round_exact(const emu *E, const nr_format *f, nr_rounding mode, const nr_exact *x,
                       uint32_t layer, uint64_t elem, uint32_t term, nr_emu_counts *c)
{
    unsigned fl = 0;
    uint64_t bits = nr_round_exact(f, mode, x, emu_sr(E, mode, layer, elem, term), &fl);
    double r = nr_decode(f, bits);
    emu_count(c, fl, r, x->cls == NR_CLS_FINITE || x->cls == NR_CLS_ZERO);
    return r;
}

/* [net-3] a + b exactly, rounded once.  When the double sum is exact
 * (TwoSum error zero) and not zero, rounding the double is rounding the exact
 * value; a zero or inexact sum goes through nr_arith_exact_add so that the sign of
 * zero ([rnd-4]) and the sticky bits come from the one library rule. */
double emu_add(const emu *E, const nr_format *f, nr_rounding mode, double a, double b,
               uint32_t layer, uint64_t elem, uint32_t term, nr_emu_counts *c)
{
    double s = a + b;
    if (isfinite(s) && s != 0) {
        double bb = s - a;
        double e = (a - (s - bb)) + (b - bb);
        if (e == 0)
            return emu_round(E, f, mode, s, layer, elem, term, c);
    }
    nr_exact xa, xb, xs;
    nr_exact_from_double(a, &xa);
    nr_exact_from_double(b, &xb);
    nr_arith_exact_add(&xa, &xb, mode, &xs);
    return emu_round_exact(E, f, mode, &xs, layer, elem, term, c);
}

/* [net-6] a / n for a count n: a = M * 2^e with M < 2^53, so M * 2^64 / n
 * has at least 64 + 53 - 31 significant bits; the remainder becomes the
 * sticky bit, which is all the rounding needs to be correct. */
double emu_div_count(const emu *E, const nr_format *f, nr_rounding mode, double a, long n,
                     uint32_t layer, uint64_t elem, uint32_t term, nr_emu_counts *c)
{
    if (n == 1 || a == 0 || !isfinite(a))
        return emu_round(E, f, mode, a, layer, elem, term, c);
    int e;
    double fr = frexp(fabs(a), &e);
    uint64_t M = (uint64_t)ldexp(fr, 53);
    unsigned __int128 N = (unsigned __int128)M << 64;
    nr_exact x = {.cls = NR_CLS_FINITE, .sign = a < 0, .exp = e - 53 - 64,
                  .sig = N / (unsigned long)n, .sticky = N % (unsigned long)n != 0};
    return emu_round_exact(E, f, mode, &x, layer, elem, term, c);
}

void emu_print_value(FILE *to, const nr_format *f, double v)
{
    uint64_t bits = nr_encode(f, NR_RND_RNE, v, 0, NULL); /* v is a value of f: exact */
    fprintf(to, "0x%0*llx (%.17g)", (f->width + 3) / 4, (unsigned long long)bits, v);
}

nr_emu_layer_stats *emu_stats(const emu *E, int li)
{
    return E->stats ? &E->stats->layer[li] : NULL;
}

/* ---------------------------------------------------------------- statistics */

int nr_emu_stats_init(nr_emu_stats *s, const nr_model *m, nr_err *err)
{
    memset(s, 0, sizeof *s);
    s->layer = calloc(m->nlayers ? (size_t)m->nlayers : 1, sizeof *s->layer);
    if (!s->layer)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "stats", "out of memory");
    s->nlayers = m->nlayers;
    return 0;
}

void nr_emu_stats_free(nr_emu_stats *s)
{
    if (!s)
        return;
    free(s->layer);
    s->layer = NULL;
    s->nlayers = 0;
}

static int counts_any(const nr_emu_counts *c)
{
    return c->overflow || c->saturated || c->flushed || c->nan;
}

static void print_scaled(FILE *to, const char *what, const nr_emu_scaled_counts *c)
{
    if (!c->groups)
        return;
    fprintf(to, "  %s %llu groups (clipped %llu elements, zero %llu, nan %llu)", what,
            (unsigned long long)c->groups, (unsigned long long)c->clipped,
            (unsigned long long)c->zero, (unsigned long long)c->nan);
}

static int scaled_any(const nr_emu_scaled_counts *c)
{
    return c->clipped || c->zero || c->nan;
}

static void print_counts(FILE *to, const char *what, const nr_emu_counts *c)
{
    if (!c->events)
        return;
    fprintf(to, "  %s %llu", what, (unsigned long long)c->events);
    if (counts_any(c))
        fprintf(to, " (overflow %llu, saturated %llu, flushed %llu, nan %llu)",
                (unsigned long long)c->overflow, (unsigned long long)c->saturated,
                (unsigned long long)c->flushed, (unsigned long long)c->nan);
}

void nr_emu_stats_print(const nr_emu_stats *s, const nr_model *m, FILE *to, int all)
{
    fprintf(to, "stats over %llu sample(s): rounding events (overflow = overflowed or "
                "saturated or wrapped; flushed = non-zero became zero)\n",
            (unsigned long long)s->samples);
    if (all || counts_any(&s->input) || scaled_any(&s->input_q)) {
        fprintf(to, "%-16s %-14s", "(input)", "");
        print_counts(to, "out", &s->input);
        print_scaled(to, "scaled", &s->input_q);
        fputc('\n', to);
    }
    for (int i = 0; i < s->nlayers && i < m->nlayers; i++) {
        const nr_emu_layer_stats *L = &s->layer[i];
        if (!all && !counts_any(&L->weights) && !counts_any(&L->prod) &&
            !counts_any(&L->sum) && !counts_any(&L->out) && !scaled_any(&L->wq) &&
            !scaled_any(&L->aq))
            continue;
        fprintf(to, "%-16s %-14s", m->layers[i].name, nr_spec_op_name(m->layers[i].op));
        print_counts(to, "weights", &L->weights);
        print_counts(to, "products", &L->prod);
        print_counts(to, "sums", &L->sum);
        print_counts(to, "out", &L->out);
        print_scaled(to, "scaled weights", &L->wq);
        print_scaled(to, "scaled out", &L->aq);
        fputc('\n', to);
    }
}

/* ---------------------------------------------------------------- preparing */

/* [net-2] values are held as doubles, exact only for formats whose values all
 * are doubles. */
static int check_format(const nr_layer *L, const char *role, const nr_format *f, nr_err *err)
{
    if (f->kind == NR_FIXED && f->prec > 53) {
        char nm[64];
        nr_format_name(f, nm, sizeof nm);
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L->name,
                          "%s format %s has %d magnitude bits; the emulator holds values "
                          "as doubles and supports at most 53",
                          role, nm, f->prec);
    }
    return 0;
}

static int prepare_layer(emu *E, int li, nr_err *err)
{
    const nr_model *m = E->m;
    const nr_layer *L = &m->layers[li];
    emu_layer *el = &E->ly[li];
    el->L = L;
    el->wf = &L->prec.weights;
    el->af = &L->prec.activations;
    el->pf = &L->prec.products;
    el->cf = &L->prec.accumulator;
    el->mode = L->prec.rounding;
    el->mac = L->prec.mac;
    int rc;
    if ((rc = check_format(L, "weights", el->wf, err)) || (rc = check_format(L, "activations", el->af, err)) ||
        (rc = check_format(L, "products", el->pf, err)) ||
        (rc = check_format(L, "accumulator", el->cf, err)))
        return rc;
    if (L->ninputs < 1 || L->ninputs > 8)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name, "layer has %d inputs",
                          L->ninputs);
    for (int i = 0; i < L->ninputs; i++) {
        int src = L->inputs[i];
        if (src >= li || src < -1)
            return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name,
                              "input %d is layer %d, not an earlier layer", i, src);
        const int *sh = src < 0 ? m->in_shape : m->layers[src].out_shape;
        if (memcmp(sh, L->in_shape[i], sizeof L->in_shape[i]))
            return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name,
                              "input %d shape differs from its producer's output", i);
        el->in_fmt[i] = src < 0 ? &m->in_format : &m->layers[src].prec.activations;
        /* a scaled tensor's values P*X need not be values of its fp32
         * carrier ([scl-dot-act]): an exact op on it rounds to A */
        el->in_same[i] = nr_format_equal(el->in_fmt[i], el->af) &&
                         m->layers[src < 0 ? 0 : src].prec.activations_scaled.gran == NR_GRAN_NONE;
    }
    /* [scl-dot-*] scaled roles: this layer's weights and output, and the
     * scaled format of what it reads (the producer's activations). */
    const nr_layer_prec *pr = &L->prec, *in0 =
        L->inputs[0] < 0 ? &m->layers[0].prec : &m->layers[L->inputs[0]].prec;
    el->ws = pr->weights_scaled.gran != NR_GRAN_NONE ? &pr->weights_scaled : NULL;
    el->os = pr->activations_scaled.gran != NR_GRAN_NONE ? &pr->activations_scaled : NULL;
    el->xs = in0->activations_scaled.gran != NR_GRAN_NONE ? &in0->activations_scaled : NULL;
    if (L->op == NR_OP_CONV || L->op == NR_OP_DENSE || L->op == NR_OP_BATCHNORM) {
        el->scaled = el->ws || el->xs || nr_prec_is_scaled(pr);
        if (el->ws && !L->wq)
            return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, L->name,
                              "scaled weights were not quantized at build");
        return emu_mac_prepare(E, el, err);
    }
    if (nr_model_op_is_seq(L->op))
        return emu_seq_prepare(E, el, err);
    return emu_ops_check(L, err);
}

/* Buffers for scaled activations ([scl-dot-act]). */
static int alloc_scaled(emu *E, nr_err *err)
{
    const nr_model *m = E->m;
    size_t maxc = 1;
    E->ap = calloc((size_t)m->nlayers, sizeof *E->ap);
    E->asc = calloc((size_t)m->nlayers, sizeof *E->asc);
    if (!E->ap || !E->asc)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "emulator", "out of memory");
    for (int i = -1; i < m->nlayers; i++) {
        const nr_scaled *s = &m->layers[i < 0 ? 0 : i].prec.activations_scaled;
        const int *sh = i < 0 ? m->in_shape : m->layers[i].out_shape;
        if (s->gran == NR_GRAN_NONE)
            continue;
        size_t n = nr_shape_count(sh), ng = emu_act_groups(s, sh);
        double *p = malloc((n + 1) * sizeof *p), *sc = malloc(ng * sizeof *sc);
        if (i < 0)
            E->in_p = p, E->in_sc = sc;
        else
            E->ap[i] = p, E->asc[i] = sc;
        if (!p || !sc)
            return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "emulator", "out of memory");
        if ((size_t)sh[0] > maxc)
            maxc = (size_t)sh[0];
    }
    E->qtmp = malloc(maxc * sizeof *E->qtmp);
    if (!E->qtmp)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "emulator", "out of memory");
    return 0;
}

static void free_layers(emu *E)
{
    if (!E->ly)
        return;
    for (int i = 0; i < E->m->nlayers; i++) {
        free(E->ly[i].w);
        free(E->ly[i].b);
        free(E->ly[i].bacc);
        free(E->ly[i].wfast);
        for (int k = 0; k < 2; k++)
            free(E->ly[i].qp[k]), free(E->ly[i].qsc[k]);
        free(E->ly[i].qtmp);
    }
    free(E->ly);
    E->ly = NULL;
}

static void emu_free(emu *E)
{
    free_layers(E);
    if (E->act)
        for (int i = 0; i < E->m->nlayers; i++)
            free(E->act[i]);
    free(E->act);
    free(E->input);
    free(E->klimbs);
    for (int i = 0; i < E->m->nlayers; i++) { /* either may be NULL (out of memory) */
        if (E->ap)
            free(E->ap[i]);
        if (E->asc)
            free(E->asc[i]);
    }
    free(E->ap);
    free(E->asc);
    free(E->in_p);
    free(E->in_sc);
    free(E->qtmp);
}

static int emu_init(emu *E, const nr_model *m, nr_emu_stats *stats, const nr_emu_opts *opts,
                    nr_err *err)
{
    memset(E, 0, sizeof *E);
    E->m = m;
    E->stats = stats;
    E->opts = opts;
    if (m->nlayers < 1 || m->output < 0 || m->output >= m->nlayers)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "model", "no layers or bad output index");
    if (stats && stats->nlayers != m->nlayers)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "stats",
                          "stats initialised for %d layers, model has %d", stats->nlayers,
                          m->nlayers);
    int rc;
    if ((rc = check_format(&m->layers[0], "input", &m->in_format, err)))
        return rc;
    E->ly = calloc((size_t)m->nlayers, sizeof *E->ly);
    E->act = calloc((size_t)m->nlayers, sizeof *E->act);
    E->input = malloc((nr_shape_count(m->in_shape) + 1) * sizeof *E->input);
    if (!E->ly || !E->act || !E->input)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "emulator", "out of memory");
    if ((rc = alloc_scaled(E, err)))
        return rc;
    for (int i = 0; i < m->nlayers; i++) {
        E->act[i] = malloc((nr_shape_count(m->layers[i].out_shape) + 1) * sizeof **E->act);
        if (!E->act[i])
            return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, m->layers[i].name, "out of memory");
        if ((rc = prepare_layer(E, i, err)))
            return rc;
    }
    if (opts && opts->trace && opts->trace_layer >= 0) {
        if (opts->trace_layer >= m->nlayers)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "trace", "no layer %d (model has %d)",
                              opts->trace_layer, m->nlayers);
        size_t cnt = nr_shape_count(m->layers[opts->trace_layer].out_shape);
        if (opts->trace_index < 0 || (uint64_t)opts->trace_index >= cnt)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "trace",
                              "element %lld out of range: layer %s has %zu values",
                              (long long)opts->trace_index, m->layers[opts->trace_layer].name,
                              cnt);
    }
    return 0;
}

/* ---------------------------------------------------------------- running */

static int run_sample(emu *E, const float *in, int sample, nr_err *err)
{
    const nr_model *m = E->m;
    size_t nin = nr_shape_count(m->in_shape);
    nr_emu_counts *ic = E->stats ? &E->stats->input : NULL;
    int rc;
    if (nr_model_takes_ids(m)) { /* [op-embedding] token ids, not rounded */
        if ((rc = emu_lm_input(E, in, sample, err)))
            return rc;
    } else { /* [net-1] the network input is rounded to the input format. */
        for (size_t i = 0; i < nin; i++)
            E->input[i] = emu_round(E, &m->in_format, m->layers[0].prec.rounding,
                                    (double)in[i], NR_EMU_LAYER_INPUT, i, NR_EMU_TERM_OUT, ic);
    }
    const nr_scaled *is = &m->layers[0].prec.activations_scaled;
    if (is->gran != NR_GRAN_NONE && /* [scl-dot-act] then quantized */
        (rc = emu_quantize_act(E, is, NR_EMU_LAYER_INPUT, m->in_shape, E->input, E->in_p,
                               E->in_sc, E->stats ? &E->stats->input_q : NULL, err)))
        return rc;
    for (int li = 0; li < m->nlayers; li++) {
        const nr_layer *L = &m->layers[li];
        nr_emu_layer_stats *st = emu_stats(E, li);
        nr_emu_counts before = st ? st->out : (nr_emu_counts){0};
        int traced = E->opts && E->opts->trace && E->opts->trace_layer == li;
        if (traced)
            fprintf(E->opts->trace, "trace sample %d layer %s (%s) element %lld\n", sample,
                    L->name, nr_spec_op_name(L->op), (long long)E->opts->trace_index);
        switch (L->op) {
        case NR_OP_CONV:
        case NR_OP_DENSE:
        case NR_OP_BATCHNORM:
            emu_mac_run(E, li);
            break;
        default:
            if (nr_model_op_is_seq(L->op))
                emu_seq_run(E, li);
            else
                emu_ops_run(E, li);
            break;
        }
        if (E->ly[li].os && /* [scl-dot-act] the output quantized, group by group */
            (rc = emu_quantize_act(E, E->ly[li].os, (uint32_t)li, L->out_shape, E->act[li],
                                   E->ap[li], E->asc[li], st ? &st->aq : NULL, err)))
            return rc;
        size_t cnt = nr_shape_count(L->out_shape);
        if (st) { /* out.events / out.nan count values, whether or not rounded */
            uint64_t nans = 0;
            for (size_t i = 0; i < cnt; i++)
                nans += isnan(E->act[li][i]) != 0;
            st->out.events = before.events + cnt;
            st->out.nan = before.nan + nans;
        }
        if (traced) {
            fprintf(E->opts->trace, "  output ");
            emu_print_value(E->opts->trace, &L->prec.activations,
                            E->act[li][E->opts->trace_index]);
            fprintf(E->opts->trace, " in %s\n", "activations");
        }
    }
    return 0;
}

int nr_emulate_layers(const nr_model *m, const float *in, int n, float *out,
                      double *const *layer_out, nr_emu_stats *stats, const nr_emu_opts *opts,
                      nr_err *err)
{
    emu E;
    int rc = emu_init(&E, m, stats, opts, err);
    if (rc) {
        emu_free(&E);
        return rc;
    }
    size_t nin = nr_shape_count(m->in_shape);
    const nr_layer *O = &m->layers[m->output];
    size_t nout = nr_shape_count(O->out_shape);
    for (int s = 0; s < n; s++) {
        if ((rc = run_sample(&E, in + (size_t)s * nin, s, err))) {
            emu_free(&E);
            return rc;
        }
        /* Output as float32: exact when the format fits float32 ([net-11]). */
        for (size_t i = 0; i < nout; i++)
            out[(size_t)s * nout + i] = (float)E.act[m->output][i];
        if (stats)
            stats->samples++;
    }
    if (layer_out && n > 0)
        for (int i = 0; i < m->nlayers; i++)
            if (layer_out[i])
                memcpy(layer_out[i], E.act[i],
                       nr_shape_count(m->layers[i].out_shape) * sizeof(double));
    emu_free(&E);
    return 0;
}

int nr_emulate(const nr_model *m, const float *in, int n, float *out, nr_emu_stats *stats,
               const nr_emu_opts *opts, nr_err *err)
{
    return nr_emulate_layers(m, in, n, out, NULL, stats, opts, err);
}
