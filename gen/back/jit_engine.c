/* jit_engine.c -- a compiled model (model_jit.c) behind the nr_engine
 * interface that nr_eval_run and the precision search call, one arena per
 * concurrent call so that eval's --jobs threads may run it at once.  The
 * arenas are kept for the next call (a pool of at most POOL): a big
 * network's arena (hundreds of MB for calibration's tap model) allocated
 * per call cost more in page faults than the run itself. */
#include "jit_engine.h"
#include "model_gen.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define POOL 16 /* arenas kept; more concurrent calls allocate and free theirs */

typedef struct jit_impl {
    gen_compiled *c;
    size_t size; /* bytes per arena, a multiple of 64 */
    pthread_mutex_t lock;
    void *free[POOL];
    int nfree;
} jit_impl;

static void *arena_take(jit_impl *j)
{
    void *a = NULL;
    pthread_mutex_lock(&j->lock);
    if (j->nfree > 0)
        a = j->free[--j->nfree];
    pthread_mutex_unlock(&j->lock);
    return a ? a : aligned_alloc(64, j->size);
}

static void arena_give(jit_impl *j, void *a)
{
    pthread_mutex_lock(&j->lock);
    if (j->nfree < POOL) {
        j->free[j->nfree++] = a;
        a = NULL;
    }
    pthread_mutex_unlock(&j->lock);
    free(a);
}

static int jit_run(void *impl, const float *in, int n, float *out, nr_err *err)
{
    jit_impl *j = impl;
    void *arena = arena_take(j);
    if (!arena)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "jit",
                          "out of memory for an arena of %zu bytes", j->size);
    int rc = gen_compiled_run_arena(j->c, in, out, n, arena);
    arena_give(j, arena);
    if (rc)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "jit", "compiled model returned %d", rc);
    return 0;
}

static void jit_free(void *impl)
{
    jit_impl *j = impl;
    if (!j)
        return;
    for (int i = 0; i < j->nfree; i++)
        free(j->free[i]);
    pthread_mutex_destroy(&j->lock);
    gen_compiled_free(j->c);
    free(j);
}

int gen_engine_opt_level(const char *name)
{
    if (!strcmp(name, "jit"))
        return 2;
    if (!strncmp(name, "jit-O", 5) && name[5] >= '0' && name[5] <= '3' && !name[6])
        return name[5] - '0';
    return -1;
}

int gen_engine_open(const char *name, const nr_model *m, nr_engine *out, nr_err *err)
{
    int opt = gen_engine_opt_level(name);
    if (opt < 0)
        return nr_engine_open(name, m, out, err);
    memset(out, 0, sizeof *out);
    gen_compiled *c = NULL;
    gen_model_opts go = {.opt_level = opt};
    int rc = gen_model_compile(m, &go, &c, err);
    if (rc)
        return rc;
    jit_impl *j = calloc(1, sizeof *j);
    if (!j) {
        gen_compiled_free(c);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "jit", "out of memory");
    }
    j->c = c;
    j->size = ((size_t)gen_compiled_arena_size(c) + 63) / 64 * 64;
    j->size = j->size ? j->size : 64;
    pthread_mutex_init(&j->lock, NULL);
    *out = (nr_engine){.name = "jit", .impl = j, .run = jit_run, .free = jit_free};
    return 0;
}
