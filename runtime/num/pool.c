/* pool.c -- the thread pool behind the bulk kernels (pool.h), and the
 * default thread count.
 *
 * One job at a time per pool: the job's ranges are handed out through an
 * atomic counter, so fast threads take more ranges and nobody waits on a
 * fixed partition.  A generation counter tells sleeping workers that a new
 * job has arrived; `active` counts workers still inside the current job. */
#include "pool.h"
#include "numrep.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 256 /* more than any machine we target; bounds a typo in NUMREP_THREADS */

struct nr_pool {
    pthread_mutex_t run_mu;   /* serialises nr_pool_run callers             */
    pthread_mutex_t mu;       /* guards everything below but `next`         */
    pthread_cond_t wake;      /* new job or stop                            */
    pthread_cond_t done;      /* the last worker left the job               */
    unsigned long gen;        /* job generation; workers remember the last  */
    int stop;
    int active;               /* workers not yet finished with this job     */
    int nworkers;
    pthread_t *tid;
    /* the current job */
    nr_pool_fn fn;
    void *ctx;
    size_t n, grain;
    atomic_size_t next;       /* index of the next range to hand out        */
};

int nr_threads_default(void)
{
    /* NUMREP_THREADS overrides; a value that is not a positive integer is
     * ignored (this function cannot report an error), so a typo costs
     * speed, never correctness: results do not depend on the thread count. */
    const char *s = getenv("NUMREP_THREADS");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == 0 && v >= 1)
            return v > MAX_THREADS ? MAX_THREADS : (int)v;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

static void work(nr_pool *p)
{
    for (;;) {
        size_t r = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (r >= (p->n + p->grain - 1) / p->grain)
            return;
        size_t b = r * p->grain, e = p->n - b < p->grain ? p->n : b + p->grain;
        p->fn(p->ctx, b, e);
    }
}

static void *worker(void *arg)
{
    nr_pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->stop)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        work(p); /* the job fields were written under mu before gen moved */
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

nr_pool *nr_pool_new(int threads)
{
    if (threads <= 0)
        threads = nr_threads_default();
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    nr_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->tid = calloc((size_t)threads, sizeof *p->tid);
    if (!p->tid) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->run_mu, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    for (int i = 0; i < threads - 1; i++) {
        if (pthread_create(&p->tid[i], NULL, worker, p) != 0)
            break; /* run with the workers we got (pool.h) */
        p->nworkers++;
    }
    return p;
}

int nr_pool_threads(const nr_pool *p)
{
    return p ? p->nworkers + 1 : 1;
}

void nr_pool_run(nr_pool *p, nr_pool_fn fn, void *ctx, size_t n, size_t grain)
{
    if (n == 0)
        return;
    if (!p || p->nworkers == 0) {
        fn(ctx, 0, n);
        return;
    }
    if (grain == 0) {
        size_t t = (size_t)p->nworkers + 1;
        grain = (n + t - 1) / t;
    }
    pthread_mutex_lock(&p->run_mu);
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->grain = grain;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->active = p->nworkers;
    p->gen++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->run_mu);
}

void nr_pool_free(nr_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->run_mu);
    free(p->tid);
    free(p);
}
