/* nr_api_scaled.c -- scaled formats (runtime/num/scaled.h: MXFP4, NVFP4,
 * int8@channel, ...) for foreign callers (python/numrep): a parsed
 * descriptor on the heap, its numbers as plain arrays, and a whole array
 * quantized group by group with nr_scaled_quantize (its element encodings
 * and scale encodings too), and decoded back, the groups spread over a
 * thread pool.  The stochastic-rounding draws are those of `numrep round
 * SCALED`, where line k+1 is group k: layer k, element i. */
#include "nr_api.h"

#include "pool.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

nr_scaled *nr_api_scaled_new(const char *name, nr_err *err)
{
    nr_scaled *s = calloc(1, sizeof *s);
    if (!s) {
        nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "format", "out of memory");
        return NULL;
    }
    if (nr_scaled_parse(name, s, err)) {
        free(s);
        return NULL;
    }
    return s;
}

void nr_api_scaled_free(nr_scaled *s)
{
    free(s);
}

const nr_format *nr_api_scaled_element(const nr_scaled *s)
{
    return &s->elem;
}

int nr_api_scaled_info(const nr_scaled *s, int64_t ints[NR_API_SCALED_INTS], double *bits)
{
    const int64_t iv[NR_API_SCALED_INTS] = {s->gran, s->gran == NR_GRAN_BLOCK ? s->block : 0,
                                            s->scale, s->rule, nr_scaled_emax_elem(s),
                                            nr_scaled_elem_prec(s)};
    memcpy(ints, iv, sizeof iv);
    *bits = nr_scaled_bits(s);
    return 0;
}

typedef struct {
    const nr_scaled *s;
    nr_scaled_ctx ctx;          /* the group's layer and element0 set per group */
    const double *x;
    double *out, *scales;
    uint64_t *scale_bits, *codes;
    const uint64_t *in_codes;  /* decode: element encodings, scale_bits in */
    size_t len, per_row, glen; /* row length, groups per row, elements per group */
    pthread_mutex_t lock;
    int failed;
    nr_err err;                /* the first failure's */
} scaled_job;

static void scaled_chunk(void *arg, size_t begin, size_t end)
{
    scaled_job *j = arg;
    nr_scaled_ctx ctx = j->ctx;
    for (size_t g = begin; g < end; g++) {
        size_t row = g / j->per_row, k = g % j->per_row, at = row * j->len + k * j->glen;
        size_t n = j->len - k * j->glen < j->glen ? j->len - k * j->glen : j->glen;
        nr_scaled_group grp;
        nr_err e = {0};
        if (j->in_codes) { /* decode: P * X, X from its encoding */
            double X = nr_scaled_scale_decode(j->s->scale, j->scale_bits[g]);
            if (j->s->scale == NR_SCALE_NV)
                X *= j->ctx.tensor_scale; /* exact, as nv_scale */
            for (size_t i = 0; i < n; i++)
                j->out[at + i] = nr_decode(&j->s->elem, j->in_codes[at + i]) * X;
            continue;
        }
        ctx.layer = (uint32_t)g;
        if (nr_scaled_quantize(j->s, j->x + at, n, 1, &ctx, j->out + at, &grp, &e)) {
            pthread_mutex_lock(&j->lock);
            if (!j->failed++)
                j->err = e;
            pthread_mutex_unlock(&j->lock);
            continue;
        }
        for (size_t i = 0; i < n; i++) { /* P * X, exact: <= 11 x 28 bits */
            if (j->codes) /* P is a value of the element format: encoded exactly */
                j->codes[at + i] = nr_encode(&j->s->elem, NR_RND_RNE, j->out[at + i], 0, NULL);
            j->out[at + i] *= grp.scale;
        }
        if (j->scales)
            j->scales[g] = grp.scale;
        if (j->scale_bits)
            j->scale_bits[g] = grp.scale_bits;
    }
}

size_t nr_api_scaled_groups(const nr_scaled *s, size_t rows, size_t len)
{
    if (s->gran == NR_GRAN_TENSOR)
        return rows && len ? 1 : 0;
    if (s->gran == NR_GRAN_CHANNEL)
        return len ? rows : 0;
    return rows * ((len + (size_t)s->block - 1) / (size_t)s->block);
}

/* The groups of rows x len values spread over a pool (single-threaded below
 * 64 Ki values): j's layout set here, scaled_chunk per group. */
static int run_groups(scaled_job *j, size_t rows, size_t len, int threads, nr_err *err)
{
    const nr_scaled *s = j->s;
    if (s->gran == NR_GRAN_TENSOR) /* one group: the whole array */
        j->len = j->glen = rows * len, j->per_row = 1, rows = 1;
    else
        j->len = len, j->glen = s->gran == NR_GRAN_BLOCK ? (size_t)s->block : len,
        j->per_row = nr_api_scaled_groups(s, 1, len);
    size_t groups = rows * j->per_row;
    if (!groups)
        return 0;
    pthread_mutex_init(&j->lock, NULL);
    nr_pool *p = NULL;
    if (rows * j->len >= ((size_t)1 << 16) && threads != 1)
        p = nr_pool_new(threads); /* NULL (out of memory): run on this thread */
    nr_pool_run(p, scaled_chunk, j, groups, 256);
    nr_pool_free(p);
    pthread_mutex_destroy(&j->lock);
    if (j->failed) {
        *err = j->err;
        return -(j->err.code ? j->err.code : NR_EINTERNAL);
    }
    return 0;
}

int nr_api_scaled_round(const nr_scaled *s, nr_rounding mode, uint64_t seed,
                        double tensor_scale, const double *x, size_t rows, size_t len,
                        double *out, double *scales, uint64_t *scale_bits, uint64_t *codes,
                        int threads, nr_err *err)
{
    scaled_job j = {.s = s, .x = x, .out = out, .scales = scales, .scale_bits = scale_bits,
                    .codes = codes};
    j.ctx = (nr_scaled_ctx){.mode = mode, .seed = seed, .element_step = 1,
                            .tensor_scale = tensor_scale};
    if (s->scale == NR_SCALE_NV && !(tensor_scale > 0)) /* the array is the tensor */
        j.ctx.tensor_scale = nr_scaled_tensor_scale(s, nr_scaled_amax(x, rows * len, 1));
    return run_groups(&j, rows, len, threads, err);
}

int nr_api_scaled_decode(const nr_scaled *s, double tensor_scale, const uint64_t *codes,
                         const uint64_t *scale_bits, size_t rows, size_t len, double *out,
                         int threads, nr_err *err)
{
    if (s->scale == NR_SCALE_NV && !(tensor_scale > 0 && tensor_scale < INFINITY))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "tensor_scale",
                          "nvfp4 values need the positive fp32 tensor scale they were "
                          "encoded with, got %g", tensor_scale);
    scaled_job j = {.s = s, .out = out, .scale_bits = (uint64_t *)scale_bits,
                    .in_codes = codes};
    j.ctx.tensor_scale = tensor_scale;
    return run_groups(&j, rows, len, threads, err);
}
