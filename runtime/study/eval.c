/* eval.c -- the evaluation loop: engines, per-sample scoring, the threaded
 * run over a dataset.  The fp32 baseline cache is in eval_cache.c. */
#include "eval.h"
#include "emulator.h"
#include "pool.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- engines */

/* nr_emulate keeps all its state on the call (the model is read-only), so
 * concurrent calls on disjoint buffers are safe. */
static int emu_run(void *impl, const float *in, int n, float *out, nr_err *err)
{
    return nr_emulate((const nr_model *)impl, in, n, out, NULL, NULL, err);
}

static void emu_free(void *impl)
{
    (void)impl;
}

int nr_engine_open(const char *name, const nr_model *m, nr_engine *out, nr_err *err)
{
    memset(out, 0, sizeof *out);
    if (!strcmp(name, "emulator")) {
        *out = (nr_engine){.name = "emulator", .impl = (void *)m, .run = emu_run,
                           .free = emu_free};
        return 0;
    }
    if (!strcmp(name, "jit"))
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "--engine",
                          "the jit engine is not in the runtime library (the numrep command provides it); use emulator");
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "--engine",
                      "unknown engine \"%.40s\" (expected jit or emulator)", name);
}

void nr_engine_close(nr_engine *e)
{
    if (e && e->free)
        e->free(e->impl);
    if (e)
        memset(e, 0, sizeof *e);
}

/* ---------------------------------------------------------------- scoring */

int nr_eval_rank(const float *s, int k, int label)
{
    if (label < 0 || label >= k || isnan(s[label]))
        return k;
    int r = 0;
    for (int j = 0; j < k; j++)
        if (s[j] > s[label] || (j < label && s[j] == s[label]))
            r++;
    return r;
}

int nr_eval_argmax(const float *s, int k)
{
    int best = -1;
    for (int j = 0; j < k; j++)
        if (!isnan(s[j]) && (best < 0 || s[j] > s[best]))
            best = j;
    return best;
}

double nr_eval_margin(const float *s, int k, int label)
{
    if (label < 0 || label >= k || isnan(s[label]))
        return -INFINITY;
    double best = -INFINITY;
    for (int j = 0; j < k; j++)
        if (j != label && !isnan(s[j]) && s[j] > best)
            best = s[j];
    if (best == -INFINITY)
        return s[label] == -INFINITY ? 0.0 : INFINITY;
    double m = (double)s[label] - best;
    return isnan(m) ? 0.0 : m; /* inf - inf: equal scores */
}

/* ---------------------------------------------------------------- running */

void nr_eval_opts_init(nr_eval_opts *o)
{
    memset(o, 0, sizeof *o);
    o->jobs = 1;
    o->batch = 8;
    o->max_wrong = -1;
}

void nr_eval_result_free(nr_eval_result *r)
{
    if (!r)
        return;
    free(r->argmax);
    free(r->rank);
    free(r->scores);
    free(r->margin);
    r->margin = NULL;
    r->argmax = NULL;
    r->rank = NULL;
    r->scores = NULL;
}

int64_t nr_eval_agree(const nr_eval_result *a, const nr_eval_result *b)
{
    int64_t same = 0;
    for (int64_t i = 0; i < a->n && i < b->n; i++)
        same += a->argmax[i] == b->argmax[i];
    return same;
}

typedef struct job {
    const nr_engine *e;
    const nr_dataset *ds;
    int64_t first, n;
    int batch, k;
    size_t insize;
    nr_eval_result *r;
    uint64_t *hash;          /* [n] per-sample hash of input + label          */
    pthread_mutex_t lock;    /* guards err, failed, done and progress calls   */
    int failed;
    nr_err err;
    int64_t done;
    nr_eval_progress_fn progress;
    void *progress_ctx;
    /* early stop: batches finished (bdone), the finished prefix [0, prefix)
     * of batches and its wrong answers; stop_n > 0 once it has more than
     * max_wrong */
    int64_t max_wrong, prefix_wrong, stop_n;
    size_t prefix, nbatches;
    unsigned char *bdone;
} job;

static void fail(job *J, const nr_err *e)
{
    pthread_mutex_lock(&J->lock);
    if (!J->failed) {
        J->failed = 1;
        J->err = *e;
    }
    pthread_mutex_unlock(&J->lock);
}

static int failed(job *J)
{
    pthread_mutex_lock(&J->lock);
    int f = J->failed || J->stop_n > 0;
    pthread_mutex_unlock(&J->lock);
    return f;
}

/* Batch b is scored (J->lock held): extend the finished prefix and stop
 * at the first batch where its wrong answers exceed max_wrong. */
static void batch_done(job *J, size_t b)
{
    if (J->max_wrong < 0 || J->stop_n > 0)
        return;
    J->bdone[b] = 1;
    while (J->prefix < J->nbatches && J->bdone[J->prefix] && J->stop_n == 0) {
        int64_t i0 = (int64_t)J->prefix * J->batch;
        int64_t i1 = i0 + J->batch < J->n ? i0 + J->batch : J->n;
        for (int64_t i = i0; i < i1; i++)
            J->prefix_wrong += J->r->rank[i] != 0;
        J->prefix++;
        if (J->prefix_wrong > J->max_wrong)
            J->stop_n = i1;
    }
}

/* Batches [b0, b1): read, run, score.  Buffers are per call, so threads
 * never share anything but the lock. */
static void run_batches(void *ctx, size_t b0, size_t b1)
{
    job *J = ctx;
    nr_err e = {0};
    float *in = malloc((size_t)J->batch * J->insize * sizeof *in);
    float *out = malloc((size_t)J->batch * (size_t)J->k * sizeof *out);
    int *lab = malloc((size_t)J->batch * sizeof *lab);
    if (!in || !out || !lab) {
        nr_err_set(&e, NR_ENOMEM, NULL, 0, 0, "eval", "out of memory for a batch of %d",
                   J->batch);
        fail(J, &e);
        goto done;
    }
    for (size_t b = b0; b < b1 && !failed(J); b++) {
        int64_t i0 = (int64_t)b * J->batch;
        int n = (int)(J->n - i0 < J->batch ? J->n - i0 : J->batch);
        if (nr_dataset_get(J->ds, J->first + i0, n, in, lab, &e) ||
            J->e->run(J->e->impl, in, n, out, &e)) {
            fail(J, &e);
            break;
        }
        for (int s = 0; s < n; s++) {
            const float *y = out + (size_t)s * (size_t)J->k;
            int rank = nr_eval_rank(y, J->k, lab[s]);
            J->r->argmax[i0 + s] = nr_eval_argmax(y, J->k);
            if (J->r->margin)
                J->r->margin[i0 + s] = (float)nr_eval_margin(y, J->k, lab[s]);
            if (J->r->scores)
                memcpy(J->r->scores + (size_t)(i0 + s) * (size_t)J->k, y,
                       (size_t)J->k * sizeof *y);
            /* rank k (label NaN) is wrong at any k, even k < 5: store it as 255 */
            J->r->rank[i0 + s] = (uint8_t)(rank < J->k && rank < 255 ? rank : 255);
            uint64_t h = nr_hash_bytes(NR_HASH_INIT, in + (size_t)s * J->insize,
                                       J->insize * sizeof *in);
            J->hash[i0 + s] = nr_hash_bytes(h, &lab[s], sizeof lab[s]);
        }
        pthread_mutex_lock(&J->lock);
        batch_done(J, b);
        J->done += n;
        if (J->progress)
            J->progress(J->progress_ctx, J->done, J->n);
        pthread_mutex_unlock(&J->lock);
    }
done:
    free(in);
    free(out);
    free(lab);
}

static double now(void) { return nr_clock_wall(); }

/* The dataset must deliver what the model takes. */
static int check_fit(const nr_model *m, const nr_dataset *ds, int k, nr_err *err)
{
    int sh[3];
    nr_dataset_shape(ds, sh);
    if (sh[0] != m->in_shape[0] || sh[1] != m->in_shape[1] || sh[2] != m->in_shape[2])
        return nr_err_set(err, NR_ESHAPE, m->spec->path, 0, 0, "--data",
                          "the data gives samples of shape [%d, %d, %d] after preprocessing, "
                          "the network takes [%d, %d, %d]",
                          sh[0], sh[1], sh[2], m->in_shape[0], m->in_shape[1], m->in_shape[2]);
    int nc = nr_dataset_num_classes(ds);
    if (nc == 0 || nc > k)
        return nr_err_set(err, NR_ERANGE, m->spec->path, 0, 0, "--data",
                          "labels are checked against %d classes, the network has %d outputs "
                          "(open the data with num_classes = the output size)",
                          nc, k);
    return 0;
}

int nr_eval_run(const nr_engine *e, const nr_model *m, const nr_dataset *ds,
                const nr_eval_opts *o, nr_eval_result *r, nr_err *err)
{
    memset(r, 0, sizeof *r);
    nr_eval_opts d;
    if (!o) {
        nr_eval_opts_init(&d);
        o = &d;
    }
    size_t kk = nr_shape_count(m->layers[m->output].out_shape);
    if (kk > (1u << 24))
        return nr_err_set(err, NR_EUNSUP, m->spec->path, 0, 0, "output",
                          "%zu outputs per sample: too many for a classifier", kk);
    int k = (int)kk, rc;
    if ((rc = check_fit(m, ds, k, err)))
        return rc;
    int64_t count = nr_dataset_count(ds);
    if (o->first < 0 || o->first > count || o->limit < 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "eval",
                          "samples from %lld (limit %lld): the data has %lld",
                          (long long)o->first, (long long)o->limit, (long long)count);
    int64_t n = count - o->first;
    if (o->limit && o->limit < n)
        n = o->limit;
    if (n == 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "eval", "no samples to evaluate");
    int batch = o->batch > 0 ? o->batch : 8, jobs = o->jobs > 0 ? o->jobs : 1;
    r->n = n;
    r->classes = k;
    r->argmax = malloc((size_t)n * sizeof *r->argmax);
    r->rank = malloc((size_t)n);
    if (o->keep_margins)
        r->margin = malloc((size_t)n * sizeof *r->margin);
    if (o->keep_scores && (uint64_t)n <= SIZE_MAX / sizeof *r->scores / (size_t)k)
        r->scores = malloc((size_t)n * (size_t)k * sizeof *r->scores);
    job J = {.e = e, .ds = ds, .first = o->first, .n = n, .batch = batch, .k = k,
             .insize = nr_shape_count(m->in_shape), .r = r, .progress = o->progress,
             .progress_ctx = o->progress_ctx, .max_wrong = o->max_wrong};
    size_t nbatches = (size_t)((n + batch - 1) / batch);
    J.nbatches = nbatches;
    J.hash = malloc((size_t)n * sizeof *J.hash);
    J.bdone = calloc(nbatches, 1);
    if (!r->argmax || !r->rank || !J.hash || !J.bdone || (o->keep_scores && !r->scores) ||
        (o->keep_margins && !r->margin)) {
        free(J.hash);
        free(J.bdone);
        nr_eval_result_free(r);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "eval", "out of memory for %lld samples",
                          (long long)n);
    }
    pthread_mutex_init(&J.lock, NULL);
    nr_pool *pool = jobs > 1 && nbatches > 1 ? nr_pool_new(jobs) : NULL;
    double t0 = now();
    nr_pool_run(pool, run_batches, &J, nbatches, 1);
    r->seconds = now() - t0;
    nr_pool_free(pool);
    pthread_mutex_destroy(&J.lock);
    free(J.bdone);
    if (J.stop_n > 0 && !J.failed) {
        r->n = n = J.stop_n;
        r->stopped = 1;
    }
    if (J.failed) {
        free(J.hash);
        nr_eval_result_free(r);
        *err = J.err;
        return -(J.err.code ? J.err.code : NR_EINTERNAL);
    }
    for (int64_t i = 0; i < n; i++) {
        r->top1 += r->rank[i] == 0;
        r->top5 += r->rank[i] < 5;
    }
    r->data_hash = nr_hash_bytes(NR_HASH_INIT, J.hash, (size_t)n * sizeof *J.hash);
    free(J.hash);
    return 0;
}
