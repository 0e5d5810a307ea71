/* search.c -- the precision search (see search.h for the method): the design
 * space ranked by the cost model, sample and full evaluations through the
 * results store, the fast and exhaustive methods, and per-layer lowering;
 * the work shared over several processes when opts.comm says so. */
#include "search.h"
#include "eval.h"
#include "pool.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* norm_acc is a quotient of two counts: compare with a little slack so that
 * 297/300 meets a 1 % budget although both divisions round */
#define PASS_SLACK 1e-12

static double wall(void) { return nr_clock_real(); }

/* CPU seconds of the whole process (every thread) so far. */
static double cpu(void) { return nr_clock_cpu(); }

/* ------------------------------------------------------------ design space */

void nr_search_grid_init(nr_search_grid *g)
{
    *g = (nr_search_grid){.floats = 1, .fixeds = 1, .exp_lo = 2, .exp_hi = 8, .man_lo = 1,
                          .man_hi = 23, .int_lo = 1, .int_hi = 12, .frac_lo = 0,
                          .frac_hi = 15};
    snprintf(g->float_variant, sizeof g->float_variant, "-nosub-finite-sat");
}

static int cfg_cmp(const void *a, const void *b)
{
    const nr_search_cfg *x = a, *y = b;
    if (x->speedup != y->speedup)
        return x->speedup > y->speedup ? -1 : 1;
    if (x->energy_ratio != y->energy_ratio)
        return x->energy_ratio > y->energy_ratio ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int add_cfg(nr_search_cfg *c, const char *name, const nr_cost_model *cm, nr_err *err)
{
    memset(c, 0, sizeof *c);
    int rc = nr_format_parse(name, &c->fmt, err);
    if (rc)
        return rc;
    nr_cost cost;
    if ((rc = nr_cost_mac(cm, &c->fmt, NULL, NULL, &cost, err)))
        return rc;
    nr_format_name(&c->fmt, c->name, sizeof c->name);
    c->speedup = cost.speedup;
    c->speedup_fixed_clock = cost.speedup_fixed_clock;
    c->energy_ratio = cost.energy_ratio;
    return 0;
}

static int check_range(const char *what, int lo, int hi, int min, int max, nr_err *err)
{
    if (lo < min || hi > max || lo > hi)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, what,
                          "expected a range within %d:%d with low <= high, got %d:%d", min, max,
                          lo, hi);
    return 0;
}

int nr_search_space(const nr_search_grid *g, const nr_cost_model *cm, nr_search_cfg **out,
                    int *n, nr_err *err)
{
    *out = NULL;
    *n = 0;
    if (!cm)
        cm = &nr_cost_default;
    int rc;
    if (g->scaled == 2) /* --grid scaled */
        return (rc = nr_search_space_add_scaled(cm, out, n, err))
                   ? (free(*out), *out = NULL, *n = 0, rc)
                   : (qsort(*out, (size_t)*n, sizeof **out, cfg_cmp), 0);
    if (g->floats && ((rc = check_range("--exp", g->exp_lo, g->exp_hi, 1, 11, err)) ||
                      (rc = check_range("--man", g->man_lo, g->man_hi, 0, 52, err))))
        return rc;
    if (g->fixeds && ((rc = check_range("--int", g->int_lo, g->int_hi, 0, 62, err)) ||
                      (rc = check_range("--frac", g->frac_lo, g->frac_hi, 0, 62, err))))
        return rc;
    size_t cap = 0;
    if (g->floats)
        cap += (size_t)(g->exp_hi - g->exp_lo + 1) * (size_t)(g->man_hi - g->man_lo + 1);
    if (g->fixeds)
        cap += (size_t)(g->int_hi - g->int_lo + 1) * (size_t)(g->frac_hi - g->frac_lo + 1);
    if (cap == 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--grid",
                          "the design space is empty (neither floats nor fixed point)");
    nr_search_cfg *c = calloc(cap, sizeof *c);
    if (!c)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    int k = 0;
    char name[96];
    for (int e = g->exp_lo; g->floats && e <= g->exp_hi; e++)
        for (int m = g->man_lo; m <= g->man_hi; m++) {
            snprintf(name, sizeof name, "e%dm%d%s", e, m, g->float_variant);
            if ((rc = add_cfg(&c[k++], name, cm, err)))
                goto fail;
        }
    for (int i = g->int_lo; g->fixeds && i <= g->int_hi; i++)
        for (int f = g->frac_lo; f <= g->frac_hi; f++) {
            snprintf(name, sizeof name, "q%d.%d", i, f);
            if (1 + i + f > 64) {
                rc = nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--int/--frac",
                                "%s is %d bits wide: at most 64", name, 1 + i + f);
                goto fail;
            }
            if ((rc = add_cfg(&c[k++], name, cm, err)))
                goto fail;
        }
    if (g->scaled && (rc = nr_search_space_add_scaled(cm, &c, &k, err))) /* --grid all */
        goto fail;
    qsort(c, (size_t)k, sizeof *c, cfg_cmp);
    *out = c;
    *n = k;
    return 0;
fail:
    free(c);
    return rc;
}

/* ------------------------------------------------------------ options */

void nr_search_opts_init(nr_search_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = NR_SEARCH_FAST;
    o->max_loss = 0.01;
    o->samples = 10;
    o->jobs = 1;
    o->engine = "emulator";
    o->sample_engine = "emulator";
    o->rounding = NR_RND_RZ;
    o->mac = NR_MAC_UNFUSED;
    o->per_layer_steps = 4;
    o->predictor.c1 = 1;
}

/* ------------------------------------------------------------ the search context */

typedef struct lay {          /* one layer set apart from the default format */
    int layer;                /* index in the model                          */
    const nr_format *fmt;
} lay;

typedef struct ctx {
    const nr_search_opts *o;
    const char *net;
    nr_results *db;
    const nr_dataset *ds;
    char network[128];
    char spec_hash[NR_HASH_HEX], weights_hash[NR_HASH_HEX];
    char data_hash[NR_HASH_HEX], sample_hash[NR_HASH_HEX];
    int64_t first, count;
    int samples, k;
    size_t insize;
    float *sin, *sref;        /* sample inputs, fp32 outputs on them          */
    int *slab;
    int64_t sref_top1;        /* fp32 correct answers on the samples          */
    nr_results_row base;             /* fp32 on the slice                            */
    nr_baseline nb;           /* its margins and the samples' spread          */
    nr_noise_model nm;        /* built on nb (have_nm)                         */
    int have_nm;
    nr_err nm_err;            /* why not, when have_nm is 0                   */
    nr_format f32;            /* the baseline's format                        */
    nr_model *shape;          /* fp32 model: layer names and MACs             */
    int64_t run_id;
    pthread_mutex_t mu;       /* guards computed, stopped, the own / shared
                                 counts, first error, progress                */
    int64_t computed;
    int stopped;
    int own_sample, own_full, shared_full;
    nr_search_result *r;
} ctx;

static int want_stop(ctx *c)
{
    pthread_mutex_lock(&c->mu);
    int s = c->stopped;
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* One more evaluation computed and stored: count it for the test hook and
 * in *kind (own_sample, own_full or shared_full). */
static void computed_one(ctx *c, int *kind)
{
    pthread_mutex_lock(&c->mu);
    c->computed++;
    (*kind)++;
    if (c->o->stop_after && c->computed >= c->o->stop_after)
        c->stopped = 1;
    pthread_mutex_unlock(&c->mu);
}

static void progress(ctx *c, const char *phase, int64_t done, int64_t total)
{
    if (c->o->progress)
        c->o->progress(c->o->progress_ctx, phase, done, total);
}

/* ------------------------------------------------------------ several processes */

static int nprocs(const ctx *c)
{
    return c->o->comm && c->o->comm->size > 1 ? c->o->comm->size : 1;
}

static int myrank(const ctx *c)
{
    return nprocs(c) > 1 ? c->o->comm->rank : 0;
}

/* Collective: every process says how its part went (rc, 0 or -code).
 * Returns rc when this process failed, an error naming the lowest failed
 * rank when another one did, else 0.  A stop on any process becomes a stop
 * on all, so every process leaves its loops at the same step.  Every path
 * out of a collective phase goes through here: a process that returned
 * early would leave the others waiting. */
static int agree(ctx *c, int rc, nr_err *err)
{
    if (nprocs(c) == 1)
        return rc;
    const nr_search_comm *m = c->o->comm;
    int64_t v[2] = {rc ? m->size - m->rank : 0, want_stop(c)}; /* max: the lowest rank */
    int crc = m->allreduce(m->ctx, v, 2, NR_SEARCH_MAX, err);
    if (rc || crc)
        return rc ? rc : crc;
    if (v[0])
        return nr_err_set(err, NR_EIO, NULL, 0, 0, "search",
                          "process rank %lld of %d failed (its own message says why)",
                          (long long)(m->size - v[0]), m->size);
    if (v[1]) {
        pthread_mutex_lock(&c->mu);
        c->stopped = 1;
        pthread_mutex_unlock(&c->mu);
    }
    return 0;
}

/* Collective: process 0's buf to every process. */
static int share(ctx *c, void *buf, size_t size, nr_err *err)
{
    if (nprocs(c) == 1)
        return 0;
    return c->o->comm->bcast(c->o->comm->ctx, buf, size, err);
}

static int sum_all(ctx *c, int64_t *v, int n, nr_err *err)
{
    if (nprocs(c) == 1)
        return 0;
    return c->o->comm->allreduce(c->o->comm->ctx, v, n, NR_SEARCH_SUM, err);
}

/* Build the model: every layer in `dflt` (rounding rnd), the layers in ls
 * in their own format (search rounding).  The spec is read again for each
 * model: nr_model_build takes ownership of it. */
static int build(ctx *c, const nr_format *dflt, nr_rounding rnd, const lay *ls, int nls,
                 const nr_search_cfg *cfg, nr_model **m, nr_err *err)
{
    if (cfg && cfg->scaled.gran != NR_GRAN_NONE) { /* search_grid_scaled.c */
        nr_search_scaled_env env = {.ds = c->ds, .first = c->first, .count = c->count,
                                    .engine_open = c->o->engine_open,
                                    .engine_ctx = c->o->engine_ctx, .engine = c->o->engine,
                                    .jobs = 1};
        return nr_search_scaled_model(c->net, cfg, &env, m, err);
    }
    nr_spec *s = NULL;
    nr_precision *p = NULL;
    int rc = nr_spec_load(c->net, &s, err);
    if (rc)
        return rc;
    if ((rc = nr_precision_uniform(dflt, &p, err))) {
        nr_spec_free(s);
        return rc;
    }
    p->dflt.rounding = rnd;
    p->dflt.mac = c->o->mac;
    if (nls) {
        p->overrides = calloc((size_t)nls, sizeof *p->overrides);
        if (!p->overrides) {
            nr_spec_free(s);
            nr_precision_free(p);
            return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
        }
        p->noverrides = nls;
        for (int i = 0; i < nls; i++) {
            struct nr_prec_override *ov = &p->overrides[i];
            snprintf(ov->layer, sizeof ov->layer, "%s", c->shape->layers[ls[i].layer].name);
            ov->set = NR_ROLE_WEIGHTS | NR_ROLE_ACTIVATIONS | NR_ROLE_PRODUCTS |
                      NR_ROLE_ACCUMULATOR | NR_ROLE_ROUNDING | NR_ROLE_MAC;
            ov->p = (nr_layer_prec){.weights = *ls[i].fmt, .activations = *ls[i].fmt,
                                    .products = *ls[i].fmt, .accumulator = *ls[i].fmt,
                                    .rounding = c->o->rounding, .mac = c->o->mac};
        }
    }
    return nr_model_build(s, p, NULL, 0, m, err);
}

static void layers_text(ctx *c, const lay *ls, int nls, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < nls && used < size; i++) {
        char nm[64];
        nr_format_name(ls[i].fmt, nm, sizeof nm);
        used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", i ? "," : "",
                                 c->shape->layers[ls[i].layer].name, nm);
    }
}

static int key_init(ctx *c, nr_results_key *k, const nr_format *dflt, nr_rounding rnd,
                    const lay *ls, int nls, const nr_search_cfg *cfg, nr_results_kind kind,
                    nr_err *err)
{
    memset(k, 0, sizeof *k);
    nr_format_name(dflt, k->formats, sizeof k->formats);
    snprintf(k->rounding, sizeof k->rounding, "%s", nr_format_rounding_name(rnd));
    snprintf(k->mac, sizeof k->mac, "%s", nr_prec_mac_name(c->o->mac));
    if (cfg && cfg->scaled.gran != NR_GRAN_NONE) /* search_grid_scaled.c */
        nr_search_scaled_key(cfg, k->formats, sizeof k->formats, k->rounding, sizeof k->rounding,
                             k->mac, sizeof k->mac);
    layers_text(c, ls, nls, k->layers, sizeof k->layers);
    if (strlen(k->layers) >= sizeof k->layers - 1)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--per-layer",
                          "the per-layer assignment does not fit the results store's %zu "
                          "characters",
                          sizeof k->layers - 1);
    memcpy(k->spec_hash, c->spec_hash, NR_HASH_HEX);
    memcpy(k->weights_hash, c->weights_hash, NR_HASH_HEX);
    memcpy(k->data_hash, kind == NR_RESULTS_FULL ? c->data_hash : c->sample_hash, NR_HASH_HEX);
    k->data_first = c->first;
    k->data_count = kind == NR_RESULTS_FULL ? c->count : c->samples;
    k->kind = kind;
    return 0;
}

static void fill_cost(nr_results_row *row, const nr_search_cfg *cfg)
{
    if (!cfg)
        return;
    row->speedup = cfg->speedup;
    row->speedup_fixed_clock = cfg->speedup_fixed_clock;
    row->energy_ratio = cfg->energy_ratio;
}

/* ------------------------------------------------------------ evaluations */

static int open_engine(ctx *c, const char *name, const nr_model *m, nr_engine *e, nr_err *err)
{
    if (c->o->engine_open)
        return c->o->engine_open(c->o->engine_ctx, name, m, e, err);
    return nr_engine_open(name, m, e, err);
}

/* Run the model on the sample inputs into out (samples * k floats). */
static int run_samples(ctx *c, const nr_model *m, float *out, double *secs, nr_err *err)
{
    nr_engine e;
    double t0 = wall();
    int rc = open_engine(c, c->o->sample_engine ? c->o->sample_engine : c->o->engine, m, &e,
                         err);
    if (rc)
        return rc;
    rc = e.run(e.impl, c->sin, c->samples, out, err);
    nr_engine_close(&e);
    *secs = wall() - t0;
    return rc;
}

static int64_t correct(ctx *c, const float *out)
{
    int64_t n = 0;
    for (int s = 0; s < c->samples; s++)
        n += nr_eval_rank(out + (size_t)s * (size_t)c->k, c->k, c->slab[s]) == 0;
    return n;
}

/* The sample evaluation of a uniform configuration: from the store, or
 * computed and stored. */
static int sample_eval(ctx *c, const nr_search_cfg *cfg, nr_results_row *row, int *computed,
                       nr_err *err)
{
    nr_results_key key;
    int rc = key_init(c, &key, &cfg->fmt, c->o->rounding, NULL, 0, cfg, NR_RESULTS_SAMPLE, err);
    if (rc)
        return rc;
    *computed = 0;
    if ((rc = nr_results_find_eval(c->db, &key, row, err)) != 0)
        return rc < 0 ? rc : 0;
    nr_model *m = NULL;
    float *out = malloc((size_t)c->samples * (size_t)c->k * sizeof *out);
    if (!out)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    double secs = 0;
    if ((rc = build(c, &cfg->fmt, c->o->rounding, NULL, 0, cfg, &m, err)) ||
        (rc = run_samples(c, m, out, &secs, err)))
        goto done;
    nr_results_row_init(row);
    row->key = key;
    row->run_id = c->run_id;
    row->n = c->samples;
    int64_t t1 = correct(c, out);
    row->top1 = (double)t1 / c->samples;
    row->norm_acc = c->sref_top1 ? (double)t1 / (double)c->sref_top1 : NAN;
    row->r2 = nr_predictor_r2(out, c->sref, (size_t)c->samples * (size_t)c->k);
    row->seconds = secs;
    fill_cost(row, cfg);
    if ((rc = nr_results_put_eval(c->db, row, err)))
        goto done;
    *computed = 1;
    computed_one(c, &c->own_sample);
done:
    free(out);
    nr_model_free(m);
    return rc;
}

typedef struct full_req {
    const nr_format *dflt;
    nr_rounding rnd;
    const lay *ls;
    int nls;
    const nr_search_cfg *cfg;  /* cost numbers, or NULL                        */
    double r2;                 /* stored with the row (NAN: not measured)      */
    const char *phase;
    int alone;                 /* several processes: this one computes the
                                  whole slice (else the slice is split)        */
    int early;                 /* only the verdict matters: stop as soon as
                                  the configuration provably fails            */
    float **margins;           /* non-NULL: eval_slice keeps every sample's
                                  margin, and full_eval hands them over here
                                  when it computes the whole slice itself      */
} full_req;

/* A row meets the budget; a row stopped early (n short of the slice) is a
 * proven failure. */
static int passes(const ctx *c, const nr_results_row *row)
{
    return row->n >= c->count && row->norm_acc >= 1.0 - c->o->max_loss - PASS_SLACK;
}

/* The fewest correct top-1 answers on the slice that pass: computed with
 * fill_full's and passes()'s own arithmetic, so an early stop (more wrong
 * answers than count - this) agrees with them exactly. */
static int64_t pass_count(const ctx *c)
{
    double thr = 1.0 - c->o->max_loss - PASS_SLACK, base = c->base.top1;
    if (!(base > 0))
        return 0;
    int64_t need = (int64_t)floor(thr * base * (double)c->count) - 2;
    if (need < 0)
        need = 0;
    while (need <= c->count && ((double)need / (double)c->count) / base < thr)
        need++;
    return need;
}

typedef struct bar_ctx {
    ctx *c;
    const char *phase;
} bar_ctx;

static void eval_progress(void *p, int64_t done, int64_t total)
{
    bar_ctx *b = p;
    progress(b->c, b->phase, done, total);
}

/* Run q's model on samples [first, first + count) of the data (nothing when
 * count is 0: nr_eval_run reads limit 0 as "to the end"). */
static int eval_slice(ctx *c, const full_req *q, int64_t first, int64_t count,
                      nr_eval_result *er, nr_err *err)
{
    if (count == 0)
        return 0;
    nr_model *m = NULL;
    nr_engine e = {0};
    int rc;
    if ((rc = build(c, q->dflt, q->rnd, q->ls, q->nls, q->cfg, &m, err)) ||
        (rc = open_engine(c, c->o->engine, m, &e, err)))
        goto done;
    nr_eval_opts eo;
    nr_eval_opts_init(&eo);
    eo.first = first;
    eo.limit = count;
    eo.jobs = c->o->jobs;
    bar_ctx b = {c, q->phase};
    eo.progress = eval_progress;
    eo.progress_ctx = &b;
    if (q->early && first == c->first && count == c->count)
        eo.max_wrong = count - pass_count(c);
    eo.keep_margins = q->margins != NULL;
    rc = nr_eval_run(&e, m, c->ds, &eo, er, err);
done:
    nr_engine_close(&e);
    nr_model_free(m);
    return rc;
}

static void fill_full(ctx *c, const full_req *q, const nr_results_key *key, int64_t n,
                      int64_t top1, int64_t top5, double secs, nr_results_row *row)
{
    nr_results_row_init(row);
    row->key = *key;
    row->run_id = c->run_id;
    row->n = n;
    row->top1 = (double)top1 / (double)n;
    row->top5 = (double)top5 / (double)n;
    row->norm_acc = c->base.top1 > 0 ? row->top1 / c->base.top1 : NAN;
    row->r2 = q->r2;
    row->seconds = secs;
    fill_cost(row, q->cfg);
}

/* A full row found in the store: one written before the store's upgrade
 * to the regression R^2 (results.c) has none; give it its sample's. */
static int refill_r2(ctx *c, const full_req *q, nr_results_row *row, nr_err *err)
{
    if (!isnan(row->r2) || isnan(q->r2))
        return 0;
    row->r2 = q->r2;
    return nr_results_put_eval(c->db, row, err);
}

/* Several processes, one full evaluation (collective): process 0 looks the
 * key up; if missing, each process runs its contiguous part of the slice,
 * the counts are summed, and process 0 writes the row.  Every process ends
 * with process 0's row, so all take the same decisions. */
static int full_eval_shared(ctx *c, const full_req *q, nr_results_row *row, int *computed,
                            nr_err *err)
{
    nr_results_key key;
    int64_t found = 0;
    *computed = 0;
    int rc = key_init(c, &key, q->dflt, q->rnd, q->ls, q->nls, q->cfg, NR_RESULTS_FULL, err);
    if (!rc && myrank(c) == 0) {
        rc = nr_results_find_eval(c->db, &key, row, err);
        found = rc == 1 && (row->n >= c->count || q->early);
        rc = rc < 0 ? rc : found ? refill_r2(c, q, row, err) : 0;
    }
    if ((rc = agree(c, rc, err)) || (rc = share(c, &found, sizeof found, err)))
        return rc;
    if (found)
        return share(c, row, sizeof *row, err);
    double t0 = wall();
    int64_t p = nprocs(c), me = myrank(c);
    int64_t b = c->count * me / p, e = c->count * (me + 1) / p;
    nr_eval_result er = {0};
    rc = eval_slice(c, q, c->first + b, e - b, &er, err);
    int64_t v[3] = {er.n, er.top1, er.top5};
    nr_eval_result_free(&er);
    if ((rc = agree(c, rc, err)) || (rc = sum_all(c, v, 3, err)))
        return rc;
    if (me == 0) {
        fill_full(c, q, &key, v[0], v[1], v[2], wall() - t0, row);
        rc = nr_results_put_eval(c->db, row, err);
    }
    computed_one(c, &c->shared_full); /* on every process: the stop counts agree */
    if ((rc = agree(c, rc, err)) || (rc = share(c, row, sizeof *row, err)))
        return rc;
    *computed = 1;
    return 0;
}

/* A full evaluation: from the store, or computed on the slice and stored. */
static int full_eval(ctx *c, const full_req *q, nr_results_row *row, int *computed, nr_err *err)
{
    if (nprocs(c) > 1 && !q->alone)
        return full_eval_shared(c, q, row, computed, err);
    nr_results_key key;
    int rc = key_init(c, &key, q->dflt, q->rnd, q->ls, q->nls, q->cfg, NR_RESULTS_FULL, err);
    if (rc)
        return rc;
    *computed = 0;
    /* a row stopped early answers a request that wants only the verdict */
    if ((rc = nr_results_find_eval(c->db, &key, row, err)) < 0)
        return rc;
    if (rc == 1 && (row->n >= c->count || q->early))
        return refill_r2(c, q, row, err);
    nr_eval_result er = {0};
    double t0 = wall();
    if ((rc = eval_slice(c, q, c->first, c->count, &er, err)))
        goto done;
    fill_full(c, q, &key, er.n, er.top1, er.top5, wall() - t0, row);
    if ((rc = nr_results_put_eval(c->db, row, err)))
        goto done;
    if (q->margins) {
        *q->margins = er.margin;
        er.margin = NULL;
    }
    *computed = 1;
    computed_one(c, &c->own_full);
done:
    nr_eval_result_free(&er);
    return rc;
}

/* ------------------------------------------------------------ setup */

/* Hash the slice's inputs and labels; keep the first `samples` of them. */
static int read_data(ctx *c, nr_err *err)
{
    enum { CHUNK = 64 };
    float *buf = malloc(CHUNK * c->insize * sizeof *buf);
    int lab[CHUNK], rc = 0;
    c->sin = malloc((size_t)c->samples * c->insize * sizeof *c->sin);
    c->slab = malloc((size_t)c->samples * sizeof *c->slab);
    if (!buf || !c->sin || !c->slab) {
        free(buf);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory for the data");
    }
    /* the labels present in the slice: a class-sorted data set cut with
     * --limit can leave only one, and then accuracy says little */
    unsigned char *seen = calloc((size_t)c->k, 1);
    if (!seen) {
        free(buf);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory for the data");
    }
    nr_hash128 all, smp;
    nr_hash128_init(&all);
    nr_hash128_init(&smp);
    for (int64_t i = 0; i < c->count; i += CHUNK) {
        int n = (int)(c->count - i < CHUNK ? c->count - i : CHUNK);
        if ((rc = nr_dataset_get(c->ds, c->first + i, n, buf, lab, err)))
            break;
        for (int s = 0; s < n; s++) {
            const float *x = buf + (size_t)s * c->insize;
            nr_hash128_update(&all, x, c->insize * sizeof *x);
            nr_hash128_update(&all, &lab[s], sizeof lab[s]);
            if (lab[s] >= 0 && lab[s] < c->k && !seen[lab[s]]++)
                c->r->slice_labels++;
            if (i + s < c->samples) {
                nr_hash128_update(&smp, x, c->insize * sizeof *x);
                nr_hash128_update(&smp, &lab[s], sizeof lab[s]);
                memcpy(c->sin + (size_t)(i + s) * c->insize, x, c->insize * sizeof *x);
                c->slab[i + s] = lab[s];
            }
        }
        progress(c, "reading data", i + n, c->count);
    }
    free(buf);
    free(seen);
    nr_hash128_hex(&all, c->data_hash);
    nr_hash128_hex(&smp, c->sample_hash);
    return rc;
}

static int setup(ctx *c, nr_err *err)
{
    const nr_search_opts *o = c->o;
    int rc;
    if (!(o->max_loss >= 0 && o->max_loss < 1))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--max-loss",
                          "expected a loss in [0, 1), got %g", o->max_loss);
    if ((rc = build(c, &c->f32, NR_RND_RNE, NULL, 0, NULL, &c->shape, err)))
        return rc;
    nr_model *m = c->shape;
    snprintf(c->network, sizeof c->network, "%s", m->spec->name);
    c->k = (int)nr_shape_count(m->layers[m->output].out_shape);
    c->insize = nr_shape_count(m->in_shape);
    int64_t total = nr_dataset_count(c->ds);
    if (o->first < 0 || o->first >= total || o->limit < 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--limit",
                          "samples from %lld (limit %lld): the data has %lld",
                          (long long)o->first, (long long)o->limit, (long long)total);
    c->first = o->first;
    c->count = total - o->first;
    if (o->limit && o->limit < c->count)
        c->count = o->limit;
    c->samples = o->samples > 0 ? o->samples : 10;
    if (c->samples > c->count)
        c->samples = (int)c->count;
    if ((rc = nr_results_hash_file(c->net, c->spec_hash, err)))
        return rc;
    if (m->spec->weights[0]) {
        if ((rc = nr_results_hash_file(m->spec->weights, c->weights_hash, err)))
            return rc;
    } else {
        snprintf(c->weights_hash, NR_HASH_HEX, "none");
    }
    return read_data(c, err);
}

/* Variance of every fp32 output on the R^2 samples (two passes). */
static double sample_var(const ctx *c)
{
    size_t n = (size_t)c->samples * (size_t)c->k;
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++)
        m += (double)c->sref[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        v += ((double)c->sref[i] - m) * ((double)c->sref[i] - m);
    return v / (double)n;
}

/* The noise model's fp32 side (collective): process 0 finds the slice's
 * baseline row, or stores one with the margins of the fp32 run that
 * baseline() just made (`fresh`, owned here; NULL when that row came from
 * the store or the slice was split over processes), else of one more fp32
 * run on the whole slice; then every process reads the row back.  Every
 * search keeps it, so exhaustive runs leave what a margin-linear fit needs.
 * A slice where fp32 gets nothing right has no model (have_nm 0, nm_err
 * says why). */
static int baseline_margins(ctx *c, float *fresh, nr_err *err)
{
    nr_baseline key;
    nr_results_baseline_key(&key, c->spec_hash, c->weights_hash, c->data_hash, c->first, c->count);
    int rc = 0;
    if (myrank(c) == 0) {
        rc = nr_results_find_baseline(c->db, &key, &c->nb, err);
        if (rc == 1 && c->nb.samples != c->samples)
            nr_results_baseline_free(&c->nb), rc = 0; /* another sample count: redo */
        if (rc == 0) {
            nr_eval_result er = {0};
            if (fresh) { /* c->base is that run's row */
                er.margin = fresh, er.n = c->count;
                er.top1 = llround(c->base.top1 * (double)c->base.n);
                fresh = NULL;
            } else {
                float *m = NULL;
                full_req q = {.dflt = &c->f32, .rnd = NR_RND_RNE, .margins = &m,
                              .phase = "fp32 margins"};
                rc = eval_slice(c, &q, c->first, c->count, &er, err);
            }
            if (!rc) {
                c->nb = key;
                c->nb.samples = c->samples;
                c->nb.sample_var = sample_var(c);
                c->nb.correct = er.top1;
                c->nb.margin.v = er.margin;
                c->nb.margin.n = er.n;
                er.margin = NULL;
                rc = nr_results_put_baseline(c->db, &c->nb, err);
            }
            nr_eval_result_free(&er);
        }
        rc = rc < 0 ? rc : 0;
    }
    free(fresh);
    if ((rc = agree(c, rc, err)))
        return rc;
    if (myrank(c) != 0) {
        rc = nr_results_find_baseline(c->db, &key, &c->nb, err);
        if (rc == 0)
            rc = nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "search",
                            "the fp32 baseline of the slice is not in the results store");
        rc = rc < 0 ? rc : 0;
    }
    if ((rc = agree(c, rc, err)))
        return rc;
    c->have_nm = nr_pred_noise_model_init(&c->nm, c->nb.sample_var, c->nb.margin.v, c->nb.margin.n,
                                     c->nb.correct, &c->nm_err) == 0;
    return 0;
}

/* The fp32 run on the slice (stored like any evaluation) and on the samples. */
static int baseline(ctx *c, nr_err *err)
{
    int computed, rc;
    float *fresh = NULL; /* the margins of this run, when it is computed here whole */
    full_req q = {.dflt = &c->f32, .rnd = NR_RND_RNE, .r2 = 1.0, .phase = "fp32 baseline",
                  .margins = nprocs(c) == 1 ? &fresh : NULL};
    c->base.top1 = 0;
    if ((rc = full_eval(c, &q, &c->base, &computed, err)))
        return rc;
    c->r->fp32_top1 = c->base.top1;
    c->r->n = c->count;
    c->sref = malloc((size_t)c->samples * (size_t)c->k * sizeof *c->sref);
    double secs;
    if (!c->sref)
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    else if (!(rc = run_samples(c, c->shape, c->sref, &secs, err)))
        c->sref_top1 = correct(c, c->sref);
    if (rc) {
        free(fresh);
        return rc;
    }
    return baseline_margins(c, fresh, err);
}

/* A run's settings name its predictor as "predictor=MODEL:C0+C1*x"
 * (open_run_here); stores before version 3 wrote "predictor=C0+C1*r2". */
int nr_search_settings_predictor(const char *settings, nr_predictor *out)
{
    const char *p = strstr(settings, "predictor=");
    if (!p)
        return -1;
    p += strlen("predictor=");
    memset(out, 0, sizeof *out);
    out->model = NR_PRED_R2;
    const char *colon = strchr(p, ':'), *space = strchr(p, ' ');
    if (colon && (!space || colon < space)) {
        char name[64];
        size_t n = (size_t)(colon - p);
        if (n >= sizeof name)
            return -1;
        memcpy(name, p, n);
        name[n] = 0;
        if (nr_pred_model_parse(name, &out->model))
            return -1;
        p = colon + 1;
    }
    char *end;
    out->c0 = strtod(p, &end);
    if (end == p || *end != '+')
        return -1;
    p = end + 1;
    out->c1 = strtod(p, &end);
    if (end == p || *end != '*' || !isfinite(out->c0) || !isfinite(out->c1))
        return -1;
    return 0;
}

static int open_run_here(ctx *c, const char *method, nr_run *run, nr_err *err)
{
    nr_results_run_init(run);
    snprintf(run->network, sizeof run->network, "%s", c->network);
    memcpy(run->spec_hash, c->spec_hash, NR_HASH_HEX);
    memcpy(run->weights_hash, c->weights_hash, NR_HASH_HEX);
    memcpy(run->data_hash, c->data_hash, NR_HASH_HEX);
    run->data_first = c->first;
    run->data_count = c->count;
    snprintf(run->method, sizeof run->method, "%s", method);
    run->budget = c->o->max_loss;
    nr_run found;
    int rc = nr_results_find_open_run(c->db, run, &found, err);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *run = found;
        return 0;
    }
    run->started = wall();
    snprintf(run->settings, sizeof run->settings,
             "engine=%s rounding=%s mac=%s samples=%d jobs=%d per_layer=%d steps=%d "
             "predictor=%s:%.6g+%.6g*x score=%s",
             c->o->engine, nr_format_rounding_name(c->o->rounding), nr_prec_mac_name(c->o->mac),
             c->samples, c->o->jobs, c->o->per_layer, c->o->per_layer_steps,
             nr_pred_model_name(c->o->predictor.model), c->o->predictor.c0,
             c->o->predictor.c1,
             c->o->raw_r2 || c->o->predictor.model == NR_PRED_R2 ? "r2" : "clip");
    return nr_results_put_run(c->db, run, err);
}

/* The run to record into (collective): process 0 continues or opens it,
 * the others take its row. */
static int open_run(ctx *c, const char *method, nr_run *run, nr_err *err)
{
    int rc = myrank(c) == 0 ? open_run_here(c, method, run, err) : 0;
    if ((rc = agree(c, rc, err)))
        return rc;
    return share(c, run, sizeof *run, err);
}

/* Update the run (collective): process 0 writes it. */
static int put_run(ctx *c, nr_run *run, nr_err *err)
{
    int rc = myrank(c) == 0 ? nr_results_put_run(c->db, run, err) : 0;
    return agree(c, rc, err);
}

/* ------------------------------------------------------------ sample phase */

typedef struct sample_job {
    ctx *c;
    const nr_search_cfg *cfg;
    nr_results_row *rows;
    const int *todo;
    int ntodo, done;
    int failed;
    nr_err err;
} sample_job;

static void sample_worker(void *p, size_t b, size_t e)
{
    sample_job *J = p;
    ctx *c = J->c;
    for (size_t t = b; t < e; t++) {
        if (want_stop(c))
            return;
        pthread_mutex_lock(&c->mu);
        int f = J->failed;
        pthread_mutex_unlock(&c->mu);
        if (f)
            return;
        int i = J->todo[t], comp;
        nr_err err = {0};
        int rc = sample_eval(c, &J->cfg[i], &J->rows[i], &comp, &err);
        pthread_mutex_lock(&c->mu);
        if (rc && !J->failed) {
            J->failed = 1;
            J->err = err;
        }
        if (!rc) {
            c->r->sample_computed += comp;
            c->r->sample_seconds += J->rows[i].seconds;
        }
        J->done++;
        progress(c, "sample", J->done, J->ntodo);
        pthread_mutex_unlock(&c->mu);
    }
}

/* Several processes, after each computed its share of a phase: every
 * configuration's row read back from the store (rows[i] must exist), the
 * computed counts summed over the processes, the stored times summed over
 * the rows.  *chosen (exhaustive: the first full row that passes) or NULL. */
static int gather(ctx *c, const nr_search_cfg *cfg, int n, nr_results_kind kind, nr_results_row *rows,
                  int *chosen, nr_err *err)
{
    nr_search_result *r = c->r;
    int64_t v = kind == NR_RESULTS_SAMPLE ? r->sample_computed : r->full_computed;
    int rc = sum_all(c, &v, 1, err);
    if (rc)
        return rc;
    double secs = 0;
    for (int i = 0; i < n && !rc; i++) {
        nr_results_key key;
        if ((rc = key_init(c, &key, &cfg[i].fmt, c->o->rounding, NULL, 0, &cfg[i], kind, err)))
            break;
        rc = nr_results_find_eval(c->db, &key, &rows[i], err);
        if (rc == 0)
            rc = nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "search",
                            "the %s evaluation of %s, process %d's share, is not in the "
                            "results store",
                            nr_results_kind_name(kind), cfg[i].name, i % nprocs(c));
        if (rc < 0)
            break;
        rc = 0;
        secs += rows[i].seconds;
        if (chosen && *chosen < 0 && passes(c, &rows[i]))
            *chosen = i;
    }
    if (kind == NR_RESULTS_SAMPLE) {
        r->sample_evals = n;
        r->sample_computed = (int)v;
        r->sample_seconds = secs;
    } else {
        r->full_evals = n;
        r->full_computed = (int)v;
        r->full_seconds = secs;
    }
    return agree(c, rc, err);
}

/* R^2 of every configuration: stored rows first, then the missing ones over
 * `jobs` threads, one configuration per task.  Several processes: process
 * p takes configurations i with i % size == p, then all gather. */
static int sample_phase(ctx *c, const nr_search_cfg *cfg, int from, int n, nr_results_row *rows,
                        nr_err *err)
{
    int P = nprocs(c), me = myrank(c);
    int *todo = malloc((size_t)n * sizeof *todo), ntodo = 0, rc = 0;
    int before = c->r->sample_computed;
    if (!todo) {
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
        goto done;
    }
    for (int i = from + (me - from % P + P) % P; i < n; i += P) {
        nr_results_key key;
        if ((rc = key_init(c, &key, &cfg[i].fmt, c->o->rounding, NULL, 0, &cfg[i], NR_RESULTS_SAMPLE, err)))
            goto done;
        rc = nr_results_find_eval(c->db, &key, &rows[i], err);
        if (rc < 0)
            goto done;
        if (rc == 0)
            todo[ntodo++] = i;
        else
            c->r->sample_seconds += rows[i].seconds;
    }
    rc = 0;
    c->r->sample_evals = n;
    sample_job J = {.c = c, .cfg = cfg, .rows = rows, .todo = todo, .ntodo = ntodo};
    int jobs = c->o->jobs > 1 ? c->o->jobs : 1;
    nr_pool *pool = jobs > 1 && ntodo > 1 ? nr_pool_new(jobs) : NULL;
    nr_pool_run(pool, sample_worker, &J, (size_t)ntodo, 1);
    nr_pool_free(pool);
    if (J.failed) {
        *err = J.err;
        rc = -(J.err.code ? J.err.code : NR_EINTERNAL);
    }
done:
    free(todo);
    if (P == 1)
        return rc;
    if ((rc = agree(c, rc, err)) || want_stop(c))
        return rc;
    c->r->sample_computed -= before; /* gather sums this phase's share */
    rc = gather(c, cfg, n, NR_RESULTS_SAMPLE, rows, NULL, err);
    c->r->sample_computed += before;
    return rc;
}

/* ------------------------------------------------------------ methods */

/* Full evaluation of configuration i of the grid, counted in r. */
static int measure(ctx *c, const nr_search_cfg *cfg, const nr_results_row *smp, int i, int alone,
                   int early, nr_results_row *row, nr_err *err)
{
    char phase[96];
    snprintf(phase, sizeof phase, "full %s", cfg[i].name);
    full_req q = {.dflt = &cfg[i].fmt, .rnd = c->o->rounding, .cfg = &cfg[i],
                  .r2 = smp ? smp[i].r2 : NAN, .phase = phase, .alone = alone,
                  .early = early};
    int comp, rc = full_eval(c, &q, row, &comp, err);
    if (rc)
        return rc;
    c->r->full_evals++;
    c->r->full_computed += comp;
    c->r->full_seconds += row->seconds;
    return 0;
}

/* The R^2 sweep runs before the scan, except with early stop and one
 * process: the scan ends at the answer, so the sweep follows it in chunks
 * (2 x jobs configurations) and covers only the configurations it measures. */
static int lazy_sweep(const ctx *c)
{
    return !c->o->no_r2 && c->o->early_stop && nprocs(c) == 1;
}

/* Several processes: process p measures configurations i with i % size ==
 * p, each on the whole slice, then all gather. */
static int exhaustive(ctx *c, const nr_search_cfg *cfg, int n, nr_results_row *smp,
                      nr_results_row *full, int *chosen, nr_err *err)
{
    int P = nprocs(c), me = myrank(c), mine = 0, total = (n - me + P - 1) / P, rc = 0;
    int swept = 0, chunk = 2 * (c->o->jobs > 1 ? c->o->jobs : 1);
    *chosen = -1;
    for (int i = me; i < n && !want_stop(c); i += P) {
        if (lazy_sweep(c) && i >= swept) {
            double t = cpu();
            swept = i + chunk < n ? i + chunk : n;
            rc = sample_phase(c, cfg, i, swept, smp, err);
            double dt = cpu() - t;
            c->r->sample_cpu += dt;
            c->r->full_cpu -= dt; /* the caller counts the whole scan as full */
            if (rc || want_stop(c))
                break;
        }
        if ((rc = measure(c, cfg, smp, i, 1, c->o->early_stop, &full[i], err)))
            break;
        if (*chosen < 0 && passes(c, &full[i]))
            *chosen = i;
        progress(c, "exhaustive", ++mine, total);
        /* early stop, one process: configurations come fastest first, so
         * none after the first that passes can be the answer */
        if (*chosen >= 0 && c->o->early_stop && P == 1)
            break;
    }
    if (P == 1)
        return rc;
    *chosen = -1;
    if ((rc = agree(c, rc, err)) || want_stop(c))
        return rc;
    return gather(c, cfg, n, NR_RESULTS_FULL, full, chosen, err);
}

/* The fast method.  Assumption (the paper's): a configuration passes iff
 * its R^2 is at least some threshold T.  Then the answer, the fastest
 * passing configuration, is a "record": a configuration whose R^2 exceeds
 * that of every faster one (any other has a faster configuration with at
 * least its R^2, which passes whenever it does).  The records, in rank
 * order, have increasing R^2, so the answer is the first record that
 * passes, and it is confirmed by two measurements: that record passes and
 * the record before it fails (or it is the first record).
 *
 * The search starts at k, the first record the predictor expects to pass.
 * Three measurements can confirm at most six answers, k-2 .. k+3 in record
 * order, and these probes do: after a pass at k, k-2 (a fail there: k-1
 * decides between k-1 and k; a pass: k-3 confirms k-2 if it fails); after
 * a fail at k, k+2 (a pass: k+1 decides between k+1 and k+2; a fail: k+3
 * confirms itself if it passes).  A line that is off by a few records
 * costs 3 measurements, not more; stepping one record at a time would
 * cover only k-1 .. k+2 (at 2 measurements for k and k+1).  Further on,
 * steps away from the known side double (2, 4, ...), and once both a pass
 * and a fail are known the search bisects between them: a poor predictor
 * costs O(log records). */
int nr_search_records(const double *r2, int n, int *rec)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || r2[i] > r2[rec[m - 1]])
            rec[m++] = i;
    return m;
}

int nr_search_step_records(const double *r2, int n, const double *predicted, double target,
                           nr_search_verdict_fn verdict, void *ctx, int *chosen, nr_err *err)
{
    *chosen = -1;
    int *rec = malloc((size_t)(n ? n : 1) * sizeof *rec);
    if (!rec)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    int m = nr_search_records(r2, n, rec), k = 0, rc = 0;
    while (k < m - 1 && !(predicted[rec[k]] >= target))
        k++;
    /* lo: highest record known to fail (-1: none); hi: lowest known to
     * pass (m: none); one-sided steps 2, 1, 2, 4, 8, ... (see above) */
    int lo = -1, hi = m, asked = 0, step = 2;
    while (m > 0 && hi - lo > 1) {
        if ((rc = verdict(ctx, rec[k], err)) < 0 || rc == NR_SEARCH_STOP)
            break;
        if (rc == 1)
            hi = k;
        else
            lo = k;
        rc = 0;
        if (hi - lo <= 1)
            break;
        if (++asked > 1)
            step = asked == 2 ? 1 : 2 * (step > 1 ? step : 1);
        if (lo >= 0 && hi < m)
            k = lo + (hi - lo) / 2;
        else if (lo < 0) /* only passes so far: go down */
            k = hi - step > 0 ? hi - step : 0;
        else /* only fails: go up */
            k = lo + step < m - 1 ? lo + step : m - 1;
    }
    if (rc == 0 && hi < m && hi - lo <= 1)
        *chosen = rec[hi];
    free(rec);
    return rc < 0 ? rc : 0;
}

int nr_search_prefix_enough(const double *r2, const double *predicted, int npre, int n,
                            double target, int after)
{
    if (npre >= n)
        return 1;
    int *rec = malloc((size_t)(npre ? npre : 1) * sizeof *rec);
    if (!rec)
        return -NR_ENOMEM;
    int m = nr_search_records(r2, npre, rec), k = 0;
    while (k < m && !(predicted[rec[k]] >= target))
        k++;
    free(rec);
    return k < m && m - 1 - k >= after;
}

typedef struct fast_ctx {
    ctx *c;
    const nr_search_cfg *cfg;
    const nr_results_row *smp;
    nr_results_row *full;
    signed char *verdict;      /* per configuration: -1 not measured yet    */
} fast_ctx;

/* One step of the fast method: a full evaluation of configuration i (once:
 * a longer prefix repeats the stepping, and the steps it repeats are known). */
static int fast_verdict(void *p, int i, nr_err *err)
{
    fast_ctx *f = p;
    if (f->verdict[i] >= 0)
        return f->verdict[i];
    if (want_stop(f->c))
        return NR_SEARCH_STOP;
    /* a failing step's accuracy is not reported: its verdict is enough */
    int rc = measure(f->c, f->cfg, f->smp, i, 0, 1, &f->full[i], err);
    if (rc)
        return rc < 0 ? rc : -NR_EINTERNAL;
    progress(f->c, "fast", f->c->r->full_evals, f->c->r->full_evals + 1);
    return f->verdict[i] = (signed char)passes(f->c, &f->full[i]);
}

/* The score the stepping ranks by (search_strategy.c): R^2 without the
 * clamping of the outputs for margin-linear, raw R^2 for r2-linear (the
 * paper's), --raw-r2 and scaled formats. */
static double score_of(const ctx *c, const nr_search_cfg *cfg, double r2)
{
    if (c->o->raw_r2 || c->o->predictor.model == NR_PRED_R2 ||
        cfg->scaled.gran != NR_GRAN_NONE)
        return r2;
    return nr_search_score(r2, nr_search_clip_r2(&cfg->fmt, c->sref, c->samples, c->k));
}

/* Predicted normalized accuracy of configurations [from, n) (pred[i]) from
 * their scores. */
static int predict_all(ctx *c, const double *score, int from, int n, double *pred,
                       nr_err *err)
{
    const nr_predictor *p = &c->o->predictor;
    if (p->model == NR_PRED_MARGIN && !c->have_nm)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--predictor",
                          "the margin-linear predictor has no noise model for this slice "
                          "(fp32 top-1 %g %%): %s",
                          100.0 * c->base.top1, c->nm_err.msg);
    for (int i = from; i < n; i++)
        pred[i] = nr_predictor_apply(p, c->have_nm ? &c->nm : NULL, score[i]);
    return 0;
}

/* The R^2 sweep of the fast method, grown in rank order until the prefix
 * holds the first record predicted to pass and FAST_AFTER records after it
 * (the probes reach k+3), or the whole grid (o->full_sweep: at once).
 * Records depend only on faster configurations, so those of a prefix are
 * the grid's; configurations slower than the prefix are never run on the
 * R^2 inputs unless the stepping finds no answer inside it. */
#define FAST_AFTER 3
static int grow_sweep(ctx *c, const nr_search_cfg *cfg, int n, nr_results_row *smp, double *r2,
                      double *pred, int *npre, int want, nr_err *err)
{
    int chunk = 4 * (c->o->jobs > 1 ? c->o->jobs : 1) * nprocs(c);
    double target = 1.0 - c->o->max_loss - PASS_SLACK;
    int rc = 0;
    for (;;) {
        int from = *npre, to = want > from ? want : from + chunk;
        if (c->o->full_sweep || to > n)
            to = n;
        if ((rc = sample_phase(c, cfg, from, to, smp, err)) || want_stop(c))
            return rc;
        for (int i = from; i < to; i++)
            r2[i] = score_of(c, &cfg[i], smp[i].r2);
        rc = predict_all(c, r2, from, to, pred, err);
        if ((rc = agree(c, rc, err)))
            return rc;
        *npre = to;
        int ok = nr_search_prefix_enough(r2, pred, to, n, target, FAST_AFTER);
        if (ok < 0)
            return nr_err_set(err, -ok, NULL, 0, 0, "search", "out of memory");
        if (ok)
            return 0;
    }
}

static int fast(ctx *c, const nr_search_cfg *cfg, int n, nr_results_row *smp, nr_results_row *full,
                int *chosen, nr_err *err)
{
    double *r2 = malloc((size_t)n * sizeof *r2);
    double *pred = malloc((size_t)n * sizeof *pred);
    signed char *v = malloc((size_t)n);
    int rc = r2 && pred && v ? 0 : nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    if ((rc = agree(c, rc, err)))
        goto done;
    memset(v, -1, (size_t)n);
    fast_ctx f = {c, cfg, smp, full, v};
    int npre = 0;
    *chosen = -1;
    /* every process takes the same steps (the measurements are shared);
     * no answer inside the prefix: double it and step again (the steps
     * already taken are remembered) */
    for (;;) {
        double t0 = cpu();
        rc = grow_sweep(c, cfg, n, smp, r2, pred, &npre, npre ? 2 * npre : 0, err);
        double t1 = cpu();
        c->r->sample_cpu += t1 - t0;
        if (rc || want_stop(c))
            break;
        rc = nr_search_step_records(r2, npre, pred, 1.0 - c->o->max_loss - PASS_SLACK,
                                    fast_verdict, &f, chosen, err);
        c->r->full_cpu += cpu() - t1;
        if (rc || *chosen >= 0 || npre >= n || want_stop(c))
            break;
    }
done:
    free(r2);
    free(pred);
    free(v);
    return rc;
}

/* ------------------------------------------------------------ per-layer */

/* Is a (float or fixed) no wider than b in every field, and a different format? */
static int narrower(const nr_format *a, const nr_format *b)
{
    if (a->kind != b->kind || nr_format_equal(a, b))
        return 0;
    if (a->kind == NR_FLOAT)
        return a->exp_bits <= b->exp_bits && a->man_bits <= b->man_bits;
    return a->int_bits <= b->int_bits && a->frac_bits <= b->frac_bits;
}

static double mac_speedup(const ctx *c, const nr_search_cfg *const *lf)
{
    double macs = 0, t = 0;
    for (int l = 0; l < c->shape->nlayers; l++) {
        if (!lf[l])
            continue;
        macs += (double)c->shape->layers[l].macs;
        t += (double)c->shape->layers[l].macs / lf[l]->speedup;
    }
    return t > 0 ? macs / t : 0;
}

typedef struct pl_state {
    int *macl, nmac;                 /* MAC layers, topological order          */
    int *cand, ncand;                /* cfg indices, cheapest (fastest) first  */
    double *sens;                    /* [nmac * ncand] norm_acc, layer alone   */
    const nr_search_cfg **lf;        /* [nlayers] current format per MAC layer */
    lay *ls;
} pl_state;

static int overrides(const ctx *c, pl_state *s, const nr_search_cfg *u)
{
    int n = 0;
    for (int j = 0; j < s->nmac; j++) {
        int l = s->macl[j];
        if (s->lf[l] != u)
            s->ls[n++] = (lay){l, &s->lf[l]->fmt};
    }
    return n;
}

static int per_layer(ctx *c, const nr_search_cfg *cfg, int chosen, const nr_results_row *uni,
                     nr_err *err)
{
    nr_search_result *r = c->r;
    const nr_search_cfg *u = &cfg[chosen];
    nr_model *m = c->shape;
    pl_state s = {0};
    int rc = 0;
    nr_run run;
    if ((rc = open_run(c, "per-layer", &run, err)))
        return rc;
    int64_t uni_run = c->run_id;
    c->run_id = run.id;
    s.macl = calloc((size_t)m->nlayers, sizeof *s.macl);
    s.cand = calloc((size_t)chosen + 1, sizeof *s.cand);
    s.lf = calloc((size_t)m->nlayers, sizeof *s.lf);
    s.ls = calloc((size_t)m->nlayers, sizeof *s.ls);
    if (!s.macl || !s.cand || !s.lf || !s.ls)
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    if ((rc = agree(c, rc, err)))
        goto done;
    for (int l = 0; l < m->nlayers; l++)
        if (m->layers[l].macs > 0) {
            s.macl[s.nmac++] = l;
            s.lf[l] = u;
        }
    /* candidates: narrower than the uniform answer, nearest in cost first,
     * at most `steps`, then tried cheapest first */
    int steps = c->o->per_layer_steps > 0 ? c->o->per_layer_steps : 4;
    for (int i = chosen - 1; i >= 0 && s.ncand < steps; i--)
        if (narrower(&cfg[i].fmt, &u->fmt))
            s.cand[s.ncand++] = i;
    for (int a = 0, b = s.ncand - 1; a < b; a++, b--) {
        int t = s.cand[a];
        s.cand[a] = s.cand[b];
        s.cand[b] = t;
    }
    s.sens = calloc((size_t)(s.nmac * s.ncand) + 1, sizeof *s.sens);
    if (!s.sens)
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    if ((rc = agree(c, rc, err)))
        goto done;
    /* sensitivity: one layer in a candidate format, every other layer fp32 */
    int total = s.nmac * s.ncand, done_n = 0;
    for (int j = 0; j < s.nmac && !want_stop(c); j++)
        for (int t = 0; t < s.ncand && !want_stop(c); t++) {
            const nr_search_cfg *g = &cfg[s.cand[t]];
            lay one = {s.macl[j], &g->fmt};
            full_req q = {.dflt = &c->f32, .rnd = NR_RND_RNE, .ls = &one, .nls = 1,
                          .r2 = NAN, .phase = "sensitivity"};
            nr_results_row row;
            int comp;
            if ((rc = full_eval(c, &q, &row, &comp, err)))
                goto done;
            r->pl_evals++;
            r->pl_computed += comp;
            s.sens[j * s.ncand + t] = row.norm_acc;
            nr_sens sr;
            nr_results_sens_init(&sr);
            sr.run_id = run.id;
            snprintf(sr.layer, sizeof sr.layer, "%s", m->layers[one.layer].name);
            sr.layer_index = one.layer;
            sr.macs = m->layers[one.layer].macs;
            snprintf(sr.formats, sizeof sr.formats, "%s", g->name);
            sr.n = row.n;
            sr.top1 = row.top1;
            sr.norm_acc = row.norm_acc;
            sr.seconds = row.seconds;
            if (myrank(c) == 0)
                rc = nr_results_put_sens(c->db, &sr, err);
            if ((rc = agree(c, rc, err)))
                goto done;
            progress(c, "sensitivity", ++done_n, total);
        }
    /* greedy: biggest layers first, the cheapest candidate whose own
     * sensitivity is within budget, at most two tries per layer */
    int *order = malloc((size_t)s.nmac * sizeof *order);
    if (!order)
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    if ((rc = agree(c, rc, err)))
        goto done;
    for (int j = 0; j < s.nmac; j++)
        order[j] = j;
    for (int a = 1; a < s.nmac; a++) /* insertion sort: MACs descending, stable */
        for (int b = a; b > 0 && m->layers[s.macl[order[b]]].macs >
                                     m->layers[s.macl[order[b - 1]]].macs; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    double acc = uni->norm_acc;
    int64_t best_id = uni->id;
    for (int oi = 0; oi < s.nmac && !want_stop(c); oi++) {
        int j = order[oi], l = s.macl[j], tries = 0;
        for (int t = 0; t < s.ncand && tries < 2 && !want_stop(c); t++) {
            if (!(s.sens[j * s.ncand + t] >= 1.0 - c->o->max_loss - PASS_SLACK))
                continue;
            tries++;
            s.lf[l] = &cfg[s.cand[t]];
            int nls = overrides(c, &s, u);
            full_req q = {.dflt = &u->fmt, .rnd = c->o->rounding, .ls = s.ls, .nls = nls,
                          .r2 = NAN, .phase = "per-layer"};
            nr_results_row row;
            int comp;
            if ((rc = full_eval(c, &q, &row, &comp, err))) {
                free(order);
                goto done;
            }
            r->pl_evals++;
            r->pl_computed += comp;
            if (passes(c, &row)) {
                acc = row.norm_acc;
                best_id = row.id;
                break;
            }
            s.lf[l] = u;
        }
    }
    free(order);
    if (want_stop(c))
        goto done;
    layers_text(c, s.ls, overrides(c, &s, u), r->layers, sizeof r->layers);
    r->pl_norm_acc = acc;
    r->pl_speedup = mac_speedup(c, s.lf);
    double us = u->speedup;
    r->pl_gain = us > 0 ? r->pl_speedup / us : 0;
    r->per_layer_done = 1;
    run.chosen_eval = best_id;
    run.finished = wall();
    run.fp32_top1 = c->base.top1;
    run.fp32_top5 = c->base.top5;
    rc = put_run(c, &run, err);
done:
    c->run_id = uni_run;
    free(s.macl);
    free(s.cand);
    free(s.sens);
    free(s.lf);
    free(s.ls);
    return rc;
}

/* ------------------------------------------------------------ driver */

int nr_search_run(const char *net_path, const nr_dataset *ds, nr_results *db,
                  const nr_search_cfg *cfg, int n, const nr_search_opts *o,
                  nr_search_result *r, nr_err *err)
{
    memset(r, 0, sizeof *r);
    r->nconfigs = n;
    r->top1 = r->norm_acc = r->r2 = r->predicted = NAN;
    double t0 = wall();
    int rc;
    if (n <= 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--grid", "the design space is empty");
    ctx c = {.o = o, .net = net_path, .db = db, .ds = ds, .r = r};
    if ((rc = nr_format_parse("fp32", &c.f32, err)))
        return rc;
    pthread_mutex_init(&c.mu, NULL);
    nr_results_row *smp = calloc((size_t)n, sizeof *smp), *full = calloc((size_t)n, sizeof *full);
    int chosen = -1;
    if (!smp || !full)
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    for (int i = 0; i < n && !rc; i++) {
        nr_results_row_init(&smp[i]);
        nr_results_row_init(&full[i]);
    }
    /* every failure below passes through agree(): see there */
    if ((rc = agree(&c, rc ? rc : setup(&c, err), err)))
        goto done;
    nr_run run;
    const char *method = o->method == NR_SEARCH_EXHAUSTIVE ? "exhaustive" : "fast";
    if ((rc = open_run(&c, method, &run, err)))
        goto done;
    c.run_id = r->run_id = run.id;
    if (o->no_r2 && o->method != NR_SEARCH_EXHAUSTIVE) {
        rc = nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "--no-r2",
                        "the fast method needs the R^2 sweep; only --method exhaustive can skip it");
        goto done;
    }
    double t1 = cpu();
    if ((rc = agree(&c, baseline(&c, err), err)))
        goto done;
    double t2 = cpu();
    r->fp32_cpu = t2 - t1;
    if (!o->no_r2 && o->method == NR_SEARCH_EXHAUSTIVE && !lazy_sweep(&c) &&
        (rc = sample_phase(&c, cfg, 0, n, smp, err)))
        goto done;
    r->sample_cpu += cpu() - t2;
    if (want_stop(&c))
        goto done;
    if (o->method == NR_SEARCH_EXHAUSTIVE) {
        double t3 = cpu();
        rc = exhaustive(&c, cfg, n, smp, full, &chosen, err);
        r->full_cpu += cpu() - t3;
    } else {
        rc = fast(&c, cfg, n, smp, full, &chosen, err);
    }
    if (rc || want_stop(&c))
        goto done;
    if (chosen >= 0) {
        r->found = 1;
        r->chosen = cfg[chosen];
        r->top1 = full[chosen].top1;
        r->norm_acc = full[chosen].norm_acc;
        r->r2 = smp[chosen].r2;
        r->predicted = nr_predictor_apply(&o->predictor, c.have_nm ? &c.nm : NULL,
                                          score_of(&c, &cfg[chosen], smp[chosen].r2));
        run.chosen_eval = full[chosen].id;
    }
    run.finished = wall();
    run.fp32_top1 = c.base.top1;
    run.fp32_top5 = c.base.top5;
    if ((rc = put_run(&c, &run, err)))
        goto done;
    if (o->per_layer && chosen >= 0)
        rc = per_layer(&c, cfg, chosen, &full[chosen], err);
done:
    r->wall_seconds = wall() - t0;
    r->stopped = c.stopped;
    r->rank = myrank(&c);
    r->nranks = nprocs(&c);
    r->own_sample = c.own_sample;
    r->own_full = c.own_full;
    r->shared_full = c.shared_full;
    free(smp);
    free(full);
    free(c.sin);
    free(c.slab);
    free(c.sref);
    nr_results_baseline_free(&c.nb);
    nr_model_free(c.shape);
    pthread_mutex_destroy(&c.mu);
    if (rc)
        return rc;
    return c.stopped ? 1 : 0;
}
