/* jit_engine.c -- a compiled model (model_jit.c) behind the nr_engine
 * interface that nr_eval_run and the precision search call, one arena per
 * call so that eval's --jobs threads may run it at once. */
#include "jit_engine.h"
#include "model_gen.h"

#include <stdlib.h>
#include <string.h>

static int jit_run(void *impl, const float *in, int n, float *out, nr_err *err)
{
    gen_compiled *c = impl;
    size_t size = ((size_t)gen_compiled_arena_size(c) + 63) / 64 * 64;
    void *arena = aligned_alloc(64, size ? size : 64);
    if (!arena)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "jit",
                          "out of memory for an arena of %zu bytes", size);
    int rc = gen_compiled_run_arena(c, in, out, n, arena);
    free(arena);
    if (rc)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "jit", "compiled model returned %d", rc);
    return 0;
}

static void jit_free(void *impl)
{
    gen_compiled_free(impl);
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
    *out = (nr_engine){.name = "jit", .impl = c, .run = jit_run, .free = jit_free};
    return 0;
}
