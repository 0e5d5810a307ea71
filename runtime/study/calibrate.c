/* calibrate.c -- calibration runs ([scl-cal-stats]): which tensors get a
 * static scale, the fp32 tap model over the samples on `jobs` threads
 * (each its own statistics, summed exactly at the end, so the result does
 * not depend on the thread count), and the histogram bins. */
#include "calibrate.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void nr_cal_opts_init(nr_cal_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = NR_CAL_AMAX;
    o->jobs = 1;
    o->engine = "emulator";
}

int nr_cal_method_parse(const char *s, nr_cal_method *m, double *percentile, nr_err *err)
{
    *percentile = 0;
    if (s && !strcmp(s, "amax"))
        return *m = NR_CAL_AMAX, 0;
    if (s && !strcmp(s, "mse"))
        return *m = NR_CAL_MSE, 0;
    if (s && !strncmp(s, "percentile:", 11)) {
        char *end = NULL;
        double p = strtod(s + 11, &end);
        if (end == s + 11 || *end || !(p > 0 && p <= 100))
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--method",
                              "percentile:P needs 0 < P <= 100 (e.g. percentile:99.99), got "
                              "\"%s\"",
                              s + 11);
        *m = NR_CAL_PERCENTILE;
        *percentile = p;
        return 0;
    }
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "--method",
                      "expected amax, percentile:P (e.g. percentile:99.99) or mse, got \"%s\"",
                      s ? s : "");
}

int nr_cal_method_name(nr_cal_method m, double percentile, char *buf, size_t n)
{
    if (m == NR_CAL_PERCENTILE)
        return snprintf(buf, n, "percentile:%.10g", percentile);
    return snprintf(buf, n, "%s", m == NR_CAL_MSE ? "mse" : "amax");
}

/* ---------------------------------------------------------------- bins */

#define BIN_E0 63 /* biased fp32 exponent of 2^-64 */

/* The bin of a finite |v| given as its bits u (sign cleared). */
static inline int bin_of_bits(uint32_t u)
{
    int e = (int)(u >> 23);
    if (u == 0)
        return 0;
    if (e < BIN_E0)
        return 1;
    if (e >= BIN_E0 + 128)
        return NR_CAL_BINS - 1;
    return 2 + (e - BIN_E0) * 256 + (int)((u >> 15) & 255);
}

/* |v|'s bits: ordered as |v| is for finite v; >= 0x7f800000 when not finite. */
static inline uint32_t abs_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u & 0x7fffffffu;
}

int nr_cal_bin(float v)
{
    return bin_of_bits(abs_bits(v));
}

double nr_cal_bin_lo(int b)
{
    if (b <= 1)
        return b ? 0x1p-149 : 0;
    if (b == NR_CAL_BINS - 1)
        return 0x1p64;
    int e = (b - 2) / 256 + BIN_E0 - 127, k = (b - 2) % 256;
    return ldexp(1 + k / 256.0, e);
}

double nr_cal_bin_hi(int b)
{
    if (b <= 1)
        return b ? 0x1p-64 : 0;
    if (b == NR_CAL_BINS - 1)
        return INFINITY;
    return nr_cal_bin_lo(b) + ldexp(1, (b - 2) / 256 + BIN_E0 - 127 - 8);
}

double nr_cal_bin_centre(int b)
{
    if (b <= 1 || b == NR_CAL_BINS - 1)
        return b == NR_CAL_BINS - 1 ? 0x1p64 : 0;
    return (nr_cal_bin_lo(b) + nr_cal_bin_hi(b)) / 2;
}

/* ---------------------------------------------------------------- tensors */

void nr_calibrate_precision(nr_precision *P)
{
    for (int i = -1; i < P->noverrides; i++) {
        nr_scaled *a = i < 0 ? &P->dflt.activations_scaled : &P->overrides[i].p.activations_scaled;
        if (a->gran != NR_GRAN_NONE && a->rule == NR_RULE_STATIC)
            a->rule = a->scale == NR_SCALE_E8M0 ? NR_RULE_FLOOR : NR_RULE_AMAX;
    }
    free(P->scales);
    P->scales = NULL;
    P->nscales = 0;
}

int nr_calibrate_tensors(const nr_model *target, nr_calibration *c, nr_err *err)
{
    memset(c, 0, sizeof *c);
    c->t = calloc((size_t)target->nlayers + 1, sizeof *c->t);
    if (!c->t)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibrate", "out of memory");
    for (int li = -1; li < target->nlayers; li++) {
        const nr_scaled *s = nr_model_act_scaled(target, li);
        if (!s || !(s->gran == NR_GRAN_TENSOR || s->scale == NR_SCALE_NV)) /* [scl-nv-static] */
            continue;
        nr_cal_tensor *t = &c->t[c->ntensors++];
        t->layer = li;
        snprintf(t->name, sizeof t->name, "%s", li < 0 ? "input" : target->layers[li].name);
        t->fmt = *s;
    }
    if (c->ntensors == 0)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "calibrate",
                          "the precision quantizes no activations per tensor with an fp32, "
                          "e8m0 or ue4m3 scale, nor with nvfp4's nv scale, so there is nothing "
                          "to calibrate (e8m0/ue4m3/fp32 block activations are always "
                          "dynamic); e.g. -p int8@channel, -p nvfp4, or activations: "
                          "int8@tensor:fp32");
    return 0;
}

void nr_cal_calibration_free(nr_calibration *c)
{
    for (int i = 0; c->t && i < c->ntensors; i++)
        free(c->t[i].hist);
    free(c->t);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- the run */

typedef struct worker {
    const nr_engine *eng;
    const nr_dataset *ds;
    const nr_calibration *c;
    const size_t *off;
    int64_t first, n, batch;
    int index, jobs, rc, created;
    double *amax;         /* [ntensors]          */
    uint64_t *count;      /* [ntensors]          */
    uint64_t *hist_data;  /* [ntensors][BINS] or NULL */
    nr_err err;
    pthread_mutex_t *lock;
    int64_t *done;
    const nr_cal_opts *o;
} worker;

/* The statistics of the finite values: amax and count, on the bits of |v|
 * (ordered as |v| for finite values, so the largest bits are amax exactly;
 * a loop the compiler vectorizes), and the histogram when one is kept. */
static void collect(worker *w, const float *y, int nb)
{
    const size_t per = w->off[w->c->ntensors];
    for (int s = 0; s < nb; s++)
        for (int t = 0; t < w->c->ntensors; t++) {
            const float *v = y + (size_t)s * per + w->off[t];
            const size_t n = w->off[t + 1] - w->off[t];
            uint64_t *h = w->hist_data ? w->hist_data + (size_t)t * NR_CAL_BINS : NULL;
            uint32_t m = 0;
            uint64_t cnt = 0;
            for (size_t i = 0; i < n; i++) {
                uint32_t u = abs_bits(v[i]), fin = u < 0x7f800000u;
                u = fin ? u : 0;
                m = u > m ? u : m;
                cnt += fin;
            }
            uint64_t zeros = 0; /* counted apart: after a relu, runs of zeros would
                                   make every increment wait for the last one */
            for (size_t i = 0; h && i < n; i++) {
                uint32_t u = abs_bits(v[i]);
                if (u == 0)
                    zeros++;
                else if (u < 0x7f800000u)
                    h[bin_of_bits(u)]++;
            }
            if (h)
                h[0] += zeros;
            float mf;
            memcpy(&mf, &m, sizeof mf);
            w->amax[t] = (double)mf > w->amax[t] ? (double)mf : w->amax[t];
            w->count[t] += cnt;
        }
}

static void *work(void *arg)
{
    worker *w = arg;
    const int64_t nin = nr_dataset_sample_size(w->ds);
    const size_t per = w->off[w->c->ntensors];
    float *x = malloc((size_t)w->batch * (size_t)nin * sizeof *x);
    float *y = malloc((size_t)w->batch * per * sizeof *y);
    if (!x || !y) {
        w->rc = nr_err_set(&w->err, NR_ENOMEM, NULL, 0, 0, "calibrate", "out of memory");
        goto out;
    }
    for (int64_t b = (int64_t)w->index * w->batch; b < w->n; b += (int64_t)w->jobs * w->batch) {
        int nb = (int)(w->n - b < w->batch ? w->n - b : w->batch);
        if ((w->rc = nr_dataset_get(w->ds, w->first + b, nb, x, NULL, &w->err)) ||
            (w->rc = w->eng->run(w->eng->impl, x, nb, y, &w->err)))
            goto out;
        collect(w, y, nb);
        pthread_mutex_lock(w->lock);
        *w->done += nb;
        if (w->o->progress)
            w->o->progress(w->o->progress_ctx, *w->done, w->n);
        pthread_mutex_unlock(w->lock);
    }
out:
    free(x);
    free(y);
    return NULL;
}

static int alloc_workers(worker *ws, int jobs, int nt, int hist, nr_err *err)
{
    for (int j = 0; j < jobs; j++) {
        ws[j].amax = calloc((size_t)nt, sizeof *ws[j].amax);
        ws[j].count = calloc((size_t)nt, sizeof *ws[j].count);
        ws[j].hist_data = hist ? calloc((size_t)nt * NR_CAL_BINS, sizeof(uint64_t)) : NULL;
        if (!ws[j].amax || !ws[j].count || (hist && !ws[j].hist_data))
            return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibrate",
                              "out of memory for the statistics");
    }
    return 0;
}

/* Run the workers over the samples and sum their statistics into c. */
static int run_workers(const nr_engine *eng, const nr_dataset *ds, const size_t *off,
                       const nr_cal_opts *o, nr_calibration *c, nr_err *err)
{
    const int jobs = o->jobs > 0 ? o->jobs : 1, nt = c->ntensors;
    const int hist = o->method != NR_CAL_AMAX;
    /* batches of up to 16 samples, at most ~64 MB of outputs each */
    int64_t batch = (int64_t)((64u << 20) / (off[nt] * sizeof(float) + 1));
    batch = batch < 1 ? 1 : batch > 16 ? 16 : batch;
    worker *ws = calloc((size_t)jobs, sizeof *ws);
    pthread_t *th = calloc((size_t)jobs, sizeof *th);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int64_t done = 0;
    int rc = !ws || !th ? nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibrate", "out of memory")
                        : alloc_workers(ws, jobs, nt, hist, err);
    for (int j = 0; !rc && j < jobs; j++) {
        ws[j] = (worker){.eng = eng, .ds = ds, .c = c, .off = off, .first = c->first,
                         .n = c->samples, .batch = batch, .index = j, .jobs = jobs,
                         .amax = ws[j].amax, .count = ws[j].count, .hist_data = ws[j].hist_data,
                         .lock = &lock, .done = &done, .o = o};
        if (j > 0 && pthread_create(&th[j], NULL, work, &ws[j]) == 0)
            ws[j].created = 1;
        else if (j > 0) /* run it on this thread after all: fewer threads, same result */
            work(&ws[j]);
    }
    if (!rc)
        work(&ws[0]);
    for (int j = 1; ws && j < jobs; j++)
        if (ws[j].created)
            pthread_join(th[j], NULL);
    for (int j = 0; !rc && j < jobs; j++)
        if (ws[j].rc) {
            *err = ws[j].err;
            rc = ws[j].rc;
        }
    for (int t = 0; !rc && t < nt; t++) {
        nr_cal_tensor *T = &c->t[t];
        free(T->hist); /* a second run starts afresh */
        T->hist = NULL;
        T->amax = 0;
        T->count = 0;
        if (hist && !(T->hist = calloc(NR_CAL_BINS, sizeof *T->hist))) {
            rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibrate", "out of memory");
            break;
        }
        for (int j = 0; j < jobs; j++) {
            T->amax = ws[j].amax[t] > T->amax ? ws[j].amax[t] : T->amax;
            T->count += ws[j].count[t];
            for (int b = 0; hist && b < NR_CAL_BINS; b++)
                T->hist[b] += ws[j].hist_data[(size_t)t * NR_CAL_BINS + b];
        }
    }
    for (int j = 0; ws && j < jobs; j++) {
        free(ws[j].amax);
        free(ws[j].count);
        free(ws[j].hist_data);
    }
    free(ws);
    free(th);
    return rc;
}

int nr_calibrate_run(const nr_model *target, const nr_dataset *ds, const nr_cal_opts *o,
                     nr_calibration *c, nr_err *err)
{
    nr_cal_opts dflt;
    if (!o) {
        nr_cal_opts_init(&dflt);
        o = &dflt;
    }
    int shape[3];
    nr_dataset_shape(ds, shape);
    if (memcmp(shape, target->in_shape, sizeof shape))
        return nr_err_set(err, NR_ESHAPE, NULL, 0, 0, "--data",
                          "samples are [%d, %d, %d], the network takes [%d, %d, %d]", shape[0],
                          shape[1], shape[2], target->in_shape[0], target->in_shape[1],
                          target->in_shape[2]);
    const int64_t total = nr_dataset_count(ds);
    if (o->first < 0 || o->first >= total || o->samples < 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--first",
                          "the data set has %lld samples; --first %lld, --samples %lld is out "
                          "of range",
                          (long long)total, (long long)o->first, (long long)o->samples);
    c->first = o->first;
    c->samples = o->samples ? o->samples : (total - o->first < 1000 ? total - o->first : 1000);
    if (c->samples > total - o->first)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--samples",
                          "%lld samples from %lld: the data set has only %lld",
                          (long long)c->samples, (long long)o->first, (long long)total);
    c->method = o->method;
    c->percentile = o->percentile;
    for (int t = 0; t < c->ntensors; t++) { /* before the run, not after it */
        int rc = nr_calibrate_method_check(&c->t[t], c->method, err);
        if (rc)
            return rc;
    }
    nr_model *tap = NULL;
    size_t *off = NULL;
    nr_engine eng = {0};
    int rc = nr_calibrate_tap_model(target, c, o, &tap, &off, err);
    if (!rc)
        rc = o->engine_open ? o->engine_open(o->engine_ctx, o->engine, tap, &eng, err)
                            : nr_engine_open("emulator", tap, &eng, err);
    if (!rc) {
        snprintf(c->engine, sizeof c->engine, "%s", eng.name ? eng.name : o->engine);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = run_workers(&eng, ds, off, o, c, err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        c->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    }
    for (int t = 0; !rc && t < c->ntensors; t++)
        rc = nr_calibrate_choose(&c->t[t], c->method, c->percentile, err);
    if (eng.impl || eng.run)
        nr_engine_close(&eng);
    nr_model_free(tap);
    free(off);
    return rc;
}

int nr_calibrate_load(const char *net_path, const char *prec_arg, const nr_model_opts *o,
                      nr_model **target, nr_err *err)
{
    *target = NULL;
    nr_spec *s = NULL;
    nr_precision *p = NULL;
    int rc = nr_spec_load(net_path, &s, err);
    if (rc)
        return rc;
    if ((rc = nr_precision_from_arg(prec_arg, &p, err))) {
        nr_spec_free(s);
        return rc;
    }
    if (o && (o->set_rounding || o->set_mac))
        nr_precision_set_mode(p, o->set_rounding ? &o->rounding : NULL,
                              o->set_mac ? &o->mac : NULL);
    nr_calibrate_precision(p);
    return nr_model_build_opts(s, p, o, target, err); /* takes s and p */
}
