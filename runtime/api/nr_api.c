/* nr_api.c -- the thin stable-ABI layer the Python package (python/numrep,
 * ctypes) calls in libnumrep.so: opaque handles instead of structs whose
 * layout would have to be mirrored, and whole-array loops over the scalar
 * functions of numrep.h for what has no bulk kernel (float64 arrays,
 * elementwise arithmetic).  Nothing is computed here that numrep.h,
 * model.h or emulator.h do not already compute; every loop calls them once
 * per element, with the stochastic-rounding draws `numrep round` uses
 * (element i of an array is line i+1 of its stdin). */
#include "nr_api.h"

#include "emulator.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(nr_emu_counts) == NR_API_COUNTS * sizeof(uint64_t),
               "nr_api_emulate copies nr_emu_counts as NR_API_COUNTS uint64");

/* ---------------------------------------------------------------- formats */

nr_format *nr_api_format_new(const char *name, nr_err *err)
{
    nr_format *f = calloc(1, sizeof *f);
    if (!f) {
        nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "format", "out of memory");
        return NULL;
    }
    if (nr_format_parse(name, f, err)) {
        free(f);
        return NULL;
    }
    return f;
}

void nr_api_format_free(nr_format *f)
{
    free(f);
}

int nr_api_format_info(const nr_format *f, int64_t ints[NR_API_FMT_INTS],
                       double reals[NR_API_FMT_REALS])
{
    const int64_t iv[NR_API_FMT_INTS] = {
        f->kind, f->width, f->container, f->bias, f->exp_bits, f->man_bits, f->int_bits,
        f->frac_bits, f->is_signed, f->prec, f->emin, f->emax, f->has_inf, f->has_nan,
        f->has_negzero, f->subnormals, f->specials, f->saturate};
    const double rv[NR_API_FMT_REALS] = {f->max_finite, f->min_normal, f->min_subnormal,
                                         f->epsilon, f->lowest, f->finite_count};
    memcpy(ints, iv, sizeof iv);
    memcpy(reals, rv, sizeof rv);
    return 0;
}

/* ---------------------------------------------------------------- float64 arrays
 * Per element nr_round / nr_encode / nr_decode (exact from double), spread
 * over a thread pool for large arrays like the float32 bulk kernels. */

enum { JOB_ROUND, JOB_ENCODE, JOB_DECODE };

typedef struct {
    int kind;
    const nr_format *f;
    nr_rounding mode;
    uint64_t seed;
    const void *in;
    void *out;
} f64_job;

static void f64_chunk(void *ctx, size_t begin, size_t end)
{
    const f64_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        uint32_t sr = j->mode == NR_RND_SR ? nr_sr_bits(j->seed, 0, i, 0) : 0;
        if (j->kind == JOB_ROUND)
            ((double *)j->out)[i] = nr_round(j->f, j->mode, ((const double *)j->in)[i], sr, NULL);
        else if (j->kind == JOB_ENCODE)
            nr_container_store(j->out, j->f->container, i,
                       nr_encode(j->f, j->mode, ((const double *)j->in)[i], sr, NULL));
        else
            ((double *)j->out)[i] = nr_decode(j->f, nr_container_load(j->in, j->f->container, i));
    }
}

static void f64_run(f64_job *j, size_t n, int threads)
{
    nr_pool *p = NULL;
    if (n >= ((size_t)1 << 16) && threads != 1)
        p = nr_pool_new(threads); /* NULL (out of memory): run on this thread */
    nr_pool_run(p, f64_chunk, j, n, 1 << 14);
    nr_pool_free(p);
}

void nr_api_round_f64(const nr_format *f, nr_rounding mode, uint64_t seed, const double *in,
                      double *out, size_t n, int threads)
{
    f64_job j = {JOB_ROUND, f, mode, seed, in, out};
    f64_run(&j, n, threads);
}

void nr_api_encode_f64(const nr_format *f, nr_rounding mode, uint64_t seed, const double *in,
                       void *out, size_t n, int threads)
{
    f64_job j = {JOB_ENCODE, f, mode, seed, in, out};
    f64_run(&j, n, threads);
}

void nr_api_decode_f64(const nr_format *f, const void *in, double *out, size_t n, int threads)
{
    f64_job j = {JOB_DECODE, f, NR_RND_RNE, 0, in, out};
    f64_run(&j, n, threads);
}

/* ---------------------------------------------------------------- arithmetic */

int nr_api_arith(const nr_format *f, int op, nr_rounding mode, uint64_t seed, const double *a,
                 const double *b, const double *c, uint64_t *out, size_t n, nr_err *err)
{
    static const int arity[NR_API_OP_COUNT] = {2, 2, 2, 2, 3, 1};
    if (op < 0 || op >= NR_API_OP_COUNT)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "op", "unknown operation %d", op);
    const double *x[3] = {a, b, c};
    for (int k = 0; k < arity[op]; k++)
        if (!x[k])
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "op", "operand %d missing", k + 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t v[3] = {0, 0, 0};
        /* operands into the format first, term j+1 (as `numrep round --op`) */
        for (int k = 0; k < arity[op]; k++)
            v[k] = nr_encode(f, mode, x[k][i], nr_sr_bits(seed, 0, i, (uint32_t)k + 1), NULL);
        uint32_t sr = nr_sr_bits(seed, 0, i, 0);
        switch (op) {
        case NR_API_ADD: out[i] = nr_add(f, mode, v[0], v[1], sr, NULL); break;
        case NR_API_SUB: out[i] = nr_sub(f, mode, v[0], v[1], sr, NULL); break;
        case NR_API_MUL: out[i] = nr_mul(f, mode, v[0], v[1], sr, NULL); break;
        case NR_API_DIV: out[i] = nr_div(f, mode, v[0], v[1], sr, NULL); break;
        case NR_API_FMA: out[i] = nr_fma(f, mode, v[0], v[1], v[2], sr, NULL); break;
        default: out[i] = nr_sqrt(f, mode, v[0], sr, NULL); break;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- models */

int nr_api_model_info(const nr_model *m, int in_shape[3], int out_shape[3])
{
    memcpy(in_shape, m->in_shape, sizeof m->in_shape);
    memcpy(out_shape, m->layers[m->output].out_shape, sizeof m->in_shape);
    return m->nlayers;
}

const char *nr_api_model_layer_name(const nr_model *m, int i)
{
    return i >= 0 && i < m->nlayers ? m->layers[i].name : NULL;
}

/* Emulate n samples; with counts non-NULL also the statistics, as uint64
 * rows of NR_API_COUNTS (events overflow saturated flushed nan): the input
 * rounding, then per layer weights, prod, sum, out; last the sample count. */
int nr_api_emulate(const nr_model *m, const float *in, int n, float *out, uint64_t *counts,
                   nr_err *err)
{
    nr_emu_stats st;
    memset(&st, 0, sizeof st);
    int rc = counts ? nr_emu_stats_init(&st, m, err) : 0;
    if (!rc)
        rc = nr_emulate(m, in, n, out, counts ? &st : NULL, NULL, err);
    if (!rc && counts) {
        const nr_emu_counts *src[4];
        uint64_t *p = counts;
        memcpy(p, &st.input, sizeof st.input);
        p += NR_API_COUNTS;
        for (int i = 0; i < m->nlayers; i++) {
            const nr_emu_layer_stats *l = &st.layer[i];
            src[0] = &l->weights, src[1] = &l->prod, src[2] = &l->sum, src[3] = &l->out;
            for (int k = 0; k < 4; k++, p += NR_API_COUNTS)
                memcpy(p, src[k], sizeof *src[k]);
        }
        *p = st.samples;
    }
    if (counts)
        nr_emu_stats_free(&st);
    return rc;
}

/* ---------------------------------------------------------------- eval */

int nr_api_eval(const nr_model *m, const nr_engine *e, const char *path, int64_t first,
                int64_t limit, int jobs, int64_t res[5], double *seconds, nr_err *err)
{
    nr_dataset_opts dopt;
    nr_dataset_opts_init(&dopt);
    dopt.pp = m->spec->pp;
    dopt.num_classes = (int)nr_shape_count(m->layers[m->output].out_shape);
    nr_dataset *ds = NULL;
    int rc = nr_dataset_open(path, &dopt, &ds, err);
    if (rc)
        return rc;
    nr_eval_opts eo;
    nr_eval_opts_init(&eo);
    eo.first = first;
    eo.limit = limit;
    eo.jobs = jobs;
    nr_eval_result r;
    memset(&r, 0, sizeof r);
    rc = nr_eval_run(e, m, ds, &eo, &r, err);
    if (!rc) {
        res[0] = r.n, res[1] = r.top1, res[2] = r.top5, res[3] = r.stopped, res[4] = r.classes;
        *seconds = r.seconds;
    }
    nr_eval_result_free(&r);
    nr_dataset_close(ds);
    return rc;
}
