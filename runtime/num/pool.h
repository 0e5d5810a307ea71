/* pool.h -- a small reusable pthread pool: run fn over [0, n) in chunks on
 * a fixed set of threads (the caller is one of them) and wait for all.
 *
 * Used by the bulk kernels (bulk.c) and meant for the emulator and for
 * generated code's runtime.  A pool has no global state; create one, run
 * jobs on it as often as needed, free it.  Jobs on one pool run one at a
 * time: concurrent nr_pool_run calls on the same pool queue up behind each
 * other (they are safe, not parallel). */
#ifndef NUMREP_POOL_H
#define NUMREP_POOL_H

#include <stddef.h>

typedef struct nr_pool nr_pool;

/* Work on elements [begin, end); called concurrently on disjoint ranges. */
typedef void (*nr_pool_fn)(void *ctx, size_t begin, size_t end);

/* A pool of `threads` threads in all, counting the caller of nr_pool_run
 * (so threads - 1 workers are started); threads <= 0 means
 * nr_threads_default().  Returns NULL when out of memory.  If the system
 * refuses to start some workers the pool runs with fewer
 * (nr_pool_threads() says how many): a pool is never less than correct,
 * only slower. */
nr_pool *nr_pool_new(int threads);
int nr_pool_threads(const nr_pool *p); /* 1 for p == NULL */

/* Call fn on consecutive ranges covering [0, n): each range but the last
 * is `grain` long (grain 0 means one range per thread).  Ranges are handed
 * out dynamically, so which thread runs which range varies from run to
 * run; fn must not care.  Returns when all ranges are done.  p == NULL runs
 * everything on the calling thread. */
void nr_pool_run(nr_pool *p, nr_pool_fn fn, void *ctx, size_t n, size_t grain);

/* Stop the workers and free the pool; NULL is a no-op.  Must not be called
 * while a job is running on it. */
void nr_pool_free(nr_pool *p);

#endif
