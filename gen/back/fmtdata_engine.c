/* fmtdata_engine.c -- the format-as-data engine (fmtdata_engine.h): one
 * JIT module per network holding a gen_fmtdata_emit_mac function per MAC layer
 * and the array helpers; a run binds the model's formats (gen_rtfmt
 * blocks), rounds its weights with the compiled rounding ([net-1]) and
 * walks the layers like runtime/emu/emulator.c, each op with the
 * emulator's rule ([net-4..7]): the MAC layers compiled, the rest here in C
 * around the compiled array rounding.  Bit-exact with the emulator in its
 * scope (gen_fmtdata_net_check); tests/check_gen_fmtdata.c compares them. */
#include "fmtdata_engine.h"
#include "fmtdata.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gen_fdnet {
    gen_jit *jit;
    int nlayers;
    int (*shapes)[7];            /* per layer: op, C, H, W of the output, weights,
                                  * first input, kernel height */
    int in_shape[3];
    void *(*mac)[GEN_RT_KINDS];  /* per layer and kind: its MAC function or NULL */
    gen_fd_arr_fn round_arr, sum_arr;
};

/* ---------------------------------------------------------------- scope */

static int is_mac(nr_op op) { return op == NR_OP_CONV || op == NR_OP_DENSE || op == NR_OP_BATCHNORM; }

static int unsup(nr_err *err, const nr_layer *L, const char *why)
{
    return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, L ? L->name : "input",
                      "format-as-data engine: %s", why);
}

static int pow2_count(long n) { return n > 0 && (n & (n - 1)) == 0; }

static int layer_ok(const nr_model *m, const nr_layer *L, nr_err *err)
{
    gen_rtfmt t;
    int rc;
    if (L->prec.rounding != NR_RND_RZ)
        return unsup(err, L, "rounding is not rz");
    if ((rc = gen_numrt_fmt_make(&L->prec.activations, NR_RND_RZ, &t, err)))
        return rc;
    if (L->prec.activations_scaled.gran != NR_GRAN_NONE)
        return unsup(err, L, "scaled activations");
    for (int i = 0; i < L->ninputs; i++)
        if (L->inputs[i] < -1 || L->inputs[i] >= L->index)
            return unsup(err, L, "inputs not in topological order");
    const nr_format *xf = L->inputs[0] < 0 ? &m->in_format : &m->layers[L->inputs[0]].prec.activations;
    switch (L->op) {
    case NR_OP_CONV: case NR_OP_DENSE: case NR_OP_BATCHNORM:
        return gen_fmtdata_mac_ok(L, &L->prec.weights, xf, err);
    case NR_OP_RELU: case NR_OP_FLATTEN: case NR_OP_DROPOUT: case NR_OP_MAXPOOL:
    case NR_OP_SLICE: case NR_OP_PAD:
        return 0;
    case NR_OP_ADD:
        return L->ninputs == 2 ? 0 : unsup(err, L, "add of more than two inputs");
    case NR_OP_GLOBAL_AVGPOOL:
        if (!pow2_count((long)L->in_shape[0][1] * L->in_shape[0][2]))
            return unsup(err, L, "average over a count that is not a power of two");
        return gen_numrt_fmt_make(&L->prec.accumulator, NR_RND_RZ, &t, err);
    default:
        return unsup(err, L, "op not in the engine");
    }
}

int gen_fmtdata_net_check(const nr_model *m, nr_err *err)
{
    gen_rtfmt t;
    int rc;
    if (nr_model_takes_ids(m))
        return unsup(err, NULL, "token-id input");
    if (m->nlayers < 1 || m->layers[0].prec.rounding != NR_RND_RZ ||
        m->layers[0].prec.activations_scaled.gran != NR_GRAN_NONE)
        return unsup(err, NULL, "the input is not rounded with rz into an unscaled format");
    if ((rc = gen_numrt_fmt_make(&m->in_format, NR_RND_RZ, &t, err)))
        return rc;
    for (int li = 0; li < m->nlayers; li++)
        if ((rc = layer_ok(m, &m->layers[li], err)))
            return rc;
    return 0;
}

/* ---------------------------------------------------------------- compiling */

int gen_fmtdata_net_fits(const gen_fdnet *fd, const nr_model *m)
{
    if (!fd || fd->nlayers != m->nlayers || memcmp(fd->in_shape, m->in_shape, sizeof fd->in_shape))
        return 0;
    for (int li = 0; li < m->nlayers; li++) {
        const nr_layer *L = &m->layers[li];
        const int *s = fd->shapes[li];
        if (s[0] != (int)L->op || s[1] != L->out_shape[0] || s[2] != L->out_shape[1] ||
            s[3] != L->out_shape[2] || s[4] != (int)L->nw || s[5] != L->inputs[0] ||
            s[6] != (L->spec ? L->spec->kernel[0] : 0) || (is_mac(L->op) && !fd->mac[li][0]))
            return 0;
    }
    return 1;
}

void gen_fmtdata_net_free(gen_fdnet *fd)
{
    if (!fd)
        return;
    gen_jit_free(fd->jit);
    free(fd->shapes);
    free(fd->mac);
    free(fd);
}

int gen_fmtdata_net_new(const nr_model *m, gen_fdnet **out, nr_err *err)
{
    *out = NULL;
    gen_fdnet *fd = calloc(1, sizeof *fd);
    if (!fd || !(fd->shapes = calloc((size_t)m->nlayers, sizeof *fd->shapes)) ||
        !(fd->mac = calloc((size_t)m->nlayers, sizeof *fd->mac))) {
        gen_fmtdata_net_free(fd);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "fmtdata", "out of memory");
    }
    fd->nlayers = m->nlayers;
    memcpy(fd->in_shape, m->in_shape, sizeof fd->in_shape);
    gen_ctx *g = NULL;
    /* one set of kernels per layer shape: owner[li] is the first layer of
     * li's geometry and bias (ResNet-20: 39 MAC layers, about ten shapes) */
    nr_mac_geom *geo = calloc((size_t)m->nlayers, sizeof *geo);
    int *owner = calloc((size_t)m->nlayers, sizeof *owner);
    int rc = geo && owner ? gen_emit_new("fmtdata", &g, err)
                          : nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "fmtdata", "out of memory");
    char nm[32];
    for (int li = 0; !rc && li < m->nlayers; li++) {
        const nr_layer *L = &m->layers[li];
        fd->shapes[li][0] = (int)L->op;
        memcpy(&fd->shapes[li][1], L->out_shape, sizeof L->out_shape);
        fd->shapes[li][4] = (int)L->nw, fd->shapes[li][5] = L->inputs[0];
        fd->shapes[li][6] = L->spec ? L->spec->kernel[0] : 0;
        if (!is_mac(L->op) || (rc = nr_mac_geom_check(L, &geo[li], err)))
            continue;
        owner[li] = li;
        for (int lj = 0; lj < li; lj++)
            if (is_mac(m->layers[lj].op) && owner[lj] == lj && (m->layers[lj].b != NULL) == (L->b != NULL) &&
                !memcmp(&geo[lj], &geo[li], sizeof geo[li])) {
                owner[li] = lj;
                break;
            }
        for (int k = 0; k < GEN_RT_KINDS && owner[li] == li; k++) {
            snprintf(nm, sizeof nm, "fd_mac%d_%d", li, k);
            gen_fmtdata_emit_mac(g, nm, &geo[li], L->b != NULL, k);
        }
    }
    if (!rc)
        gen_fmtdata_emit_helpers(g);
    if (!rc && !(rc = gen_emit_verify(g, err)) && !(rc = gen_emit_optimize(g, 2, err)) &&
        !(rc = gen_jit_new(&fd->jit, err)))
        rc = gen_jit_add(fd->jit, g, err);
    gen_emit_free(g);
    void *p = NULL;
    for (int li = 0; !rc && li < m->nlayers; li++) {
        if (!is_mac(m->layers[li].op))
            continue;
        for (int k = 0; k < GEN_RT_KINDS && !rc; k++) {
            snprintf(nm, sizeof nm, "fd_mac%d_%d", owner[li], k);
            rc = gen_jit_lookup(fd->jit, nm, &fd->mac[li][k], err);
        }
    }
    free(geo);
    free(owner);
    if (!rc && !(rc = gen_jit_lookup(fd->jit, "fd_round_arr", &p, err))) {
        fd->round_arr = (gen_fd_arr_fn)p;
        if (!(rc = gen_jit_lookup(fd->jit, "fd_sum_arr", &p, err)))
            fd->sum_arr = (gen_fd_arr_fn)p;
    }
    if (rc) {
        gen_fmtdata_net_free(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

/* ---------------------------------------------------------------- running */

typedef struct fdrun {
    gen_fdnet *fd;
    const nr_model *m;
    gen_fdcache *cache;          /* NULL, or where the run's CPU is counted */
} fdrun;

static void count_run(gen_fdcache *c, int fmtdata, double secs);

/* One run's bound configuration: formats, rounded weights, buffers. */
typedef struct bound {
    gen_rtfmt in_f, *act, *accf;
    gen_fd_fmts *macf;
    double **w, **b, **y, *x;
    int nl;
} bound;

static void unbind(bound *B)
{
    for (int li = 0; li < B->nl; li++) {
        if (B->w) free(B->w[li]);
        if (B->b) free(B->b[li]);
        if (B->y) free(B->y[li]);
    }
    free(B->act), free(B->accf), free(B->macf), free(B->w), free(B->b), free(B->y), free(B->x);
}

/* The engine's kernels take finite operands (fmtdata.h). */
static int all_finite(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* [net-1] weights and biases rounded once to the weights' format. */
static int bind(const gen_fdnet *fd, const nr_model *m, bound *B, nr_err *err)
{
    const int nl = m->nlayers;
    memset(B, 0, sizeof *B);
    B->nl = nl;
    B->act = calloc((size_t)nl, sizeof *B->act), B->accf = calloc((size_t)nl, sizeof *B->accf);
    B->macf = calloc((size_t)nl, sizeof *B->macf);
    B->w = calloc((size_t)nl, sizeof *B->w), B->b = calloc((size_t)nl, sizeof *B->b);
    B->y = calloc((size_t)nl, sizeof *B->y);
    B->x = malloc((nr_shape_count(m->in_shape) + 1) * sizeof *B->x);
    if (!B->act || !B->accf || !B->macf || !B->w || !B->b || !B->y || !B->x)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "fmtdata", "out of memory");
    int rc = gen_numrt_fmt_make(&m->in_format, NR_RND_RZ, &B->in_f, err);
    for (int li = 0; !rc && li < nl; li++) {
        const nr_layer *L = &m->layers[li];
        if ((rc = gen_numrt_fmt_make(&L->prec.activations, NR_RND_RZ, &B->act[li], err)))
            break;
        if (!(B->y[li] = malloc((nr_shape_count(L->out_shape) + 1) * sizeof **B->y)))
            return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
        if (L->op == NR_OP_GLOBAL_AVGPOOL)
            rc = gen_numrt_fmt_make(&L->prec.accumulator, NR_RND_RZ, &B->accf[li], err);
        if (rc || !is_mac(L->op))
            continue;
        gen_rtfmt wf;
        if ((rc = gen_fmtdata_fmts_make(&L->prec, &B->macf[li], err)) ||
            (rc = gen_numrt_fmt_make(&L->prec.weights, NR_RND_RZ, &wf, err)))
            break;
        B->w[li] = malloc((L->nw + 1) * sizeof **B->w);
        B->b[li] = malloc((L->nb + 1) * sizeof **B->b);
        if (!B->w[li] || !B->b[li])
            return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, L->name, "out of memory");
        fd->round_arr(L->w, NULL, B->w[li], (int64_t)L->nw, &wf);
        if (L->b)
            fd->round_arr(L->b, NULL, B->b[li], (int64_t)L->nb, &wf);
        if (!all_finite(B->w[li], L->nw) || (L->b && !all_finite(B->b[li], L->nb)))
            return unsup(err, L, "weights that round to infinity or NaN");
    }
    return rc;
}

/* the output of an exact op: rounded to A unless its input is in A */
static void out1(const gen_fdnet *fd, const nr_model *m, const bound *B, int li, int i, double *y,
                 size_t n)
{
    const nr_layer *L = &m->layers[li];
    int src = L->inputs[i];
    const nr_format *xf = src < 0 ? &m->in_format : &m->layers[src].prec.activations;
    if (!nr_format_equal(xf, &L->prec.activations))
        fd->round_arr(y, NULL, y, (int64_t)n, &B->act[li]);
}

/* A pool window along one axis, PyTorch's rule as emu_ops.c's window():
 * [lo, hi) of the input. */
static void window(int o, int k, int s, int pad_lo, int pad_hi, int n, int *lo, int *hi)
{
    int start = o * s - pad_lo, end = start + k;
    if (end > n + pad_hi)
        end = n + pad_hi;
    *lo = start < 0 ? 0 : start;
    *hi = end > n ? n : end;
}

static void maxpool(const nr_layer *L, const double *x, double *y)
{
    const int *in = L->in_shape[0], *out = L->out_shape;
    const nr_layer_spec *s = L->spec;
    size_t e = 0;
    for (int c = 0; c < out[0]; c++)
        for (int oh = 0; oh < out[1]; oh++)
            for (int ow = 0; ow < out[2]; ow++, e++) {
                int hl, hh, wl, wh;
                window(oh, s->kernel[0], s->stride[0], L->pad[0], L->pad[2], in[1], &hl, &hh);
                window(ow, s->kernel[1], s->stride[1], L->pad[1], L->pad[3], in[2], &wl, &wh);
                double mx = 0; /* [net-7] later only if greater; NaN wins */
                int have = 0, nan = 0;
                for (int ih = hl; ih < hh; ih++)
                    for (int iw = wl; iw < wh; iw++) {
                        double v = x[((size_t)c * in[1] + ih) * in[2] + iw];
                        if (isnan(v))
                            nan = 1, mx = v;
                        else if (!nan && (!have || v > mx))
                            mx = v;
                        have = 1;
                    }
                y[e] = have ? mx : 0.0;
            }
}

static int clampi(int v, int dim)
{
    if (v < 0)
        v += dim;
    return v < 0 ? 0 : v > dim ? dim : v;
}

/* slice (pad = 0) or pad (pad = 1), [net-7]: the padding is +0 */
static void slice_pad(const nr_layer *L, const double *x, double *y, int pad)
{
    const int *in = L->in_shape[0], *out = L->out_shape;
    const nr_layer_spec *s = L->spec;
    int st[3];
    for (int a = 0; a < 3; a++)
        st[a] = pad ? -s->pad_before[a] : clampi(s->slice_start[a], in[a]);
    size_t e = 0;
    for (int c = 0; c < out[0]; c++)
        for (int h = 0; h < out[1]; h++)
            for (int w = 0; w < out[2]; w++, e++) {
                long ic = st[0] + (long)c * (pad ? 1 : s->slice_step[0]);
                long ih = st[1] + (long)h * (pad ? 1 : s->slice_step[1]);
                long iw = st[2] + (long)w * (pad ? 1 : s->slice_step[2]);
                int inside = ic >= 0 && ic < in[0] && ih >= 0 && ih < in[1] && iw >= 0 && iw < in[2];
                y[e] = inside ? x[((size_t)ic * in[1] + (size_t)ih) * in[2] + (size_t)iw] : 0.0;
            }
}

/* [net-6] global average: the sum from +0 in the accumulator format, then
 * the quotient by a power-of-two count (exact) rounded to A */
static void global_avg(const gen_fdnet *fd, const nr_layer *L, const bound *B, int li,
                       const double *x, double *y)
{
    const int *in = L->in_shape[0];
    const size_t hw = (size_t)in[1] * in[2];
    for (int c = 0; c < in[0]; c++) {
        double acc = 0;
        for (size_t i = 0; i < hw; i++)
            fd->sum_arr(&acc, &x[c * hw + i], &acc, 1, &B->accf[li]);
        y[c] = acc / (double)hw;
    }
    fd->round_arr(y, NULL, y, in[0], &B->act[li]);
}

static void run_layer(const gen_fdnet *fd, const nr_model *m, const bound *B, int li)
{
    const nr_layer *L = &m->layers[li];
    const double *x = L->inputs[0] < 0 ? B->x : B->y[L->inputs[0]];
    double *y = B->y[li];
    const size_t n = nr_shape_count(L->out_shape);
    typedef void (*mac_fn)(const double *, const double *, const double *, double *,
                           const gen_fd_fmts *);
    switch (L->op) {
    case NR_OP_CONV: case NR_OP_DENSE: case NR_OP_BATCHNORM:
        ((mac_fn)fd->mac[li][gen_fmtdata_kind(&B->macf[li])])(x, B->w[li], B->b[li], y, &B->macf[li]);
        return;
    case NR_OP_ADD: /* [net-3] one rounding of the exact sum */
        fd->sum_arr(x, L->inputs[1] < 0 ? B->x : B->y[L->inputs[1]], y, (int64_t)n, &B->act[li]);
        return;
    case NR_OP_GLOBAL_AVGPOOL:
        global_avg(fd, L, B, li, x, y);
        return;
    case NR_OP_RELU: /* [net-7] v <= +0 gives +0, NaN stays */
        for (size_t i = 0; i < n; i++)
            y[i] = isnan(x[i]) ? x[i] : x[i] <= 0 ? 0.0 : x[i];
        break;
    case NR_OP_MAXPOOL:
        maxpool(L, x, y);
        break;
    case NR_OP_SLICE: case NR_OP_PAD:
        slice_pad(L, x, y, L->op == NR_OP_PAD);
        break;
    default: /* flatten, dropout */
        memcpy(y, x, n * sizeof *y);
        break;
    }
    out1(fd, m, B, li, 0, y, n);
}

static int fd_run(void *impl, const float *in, int n, float *out, nr_err *err)
{
    const fdrun *r = impl;
    const nr_model *m = r->m;
    double t0 = gen_fmtdata_cache_cpu();
    bound B;
    int rc = bind(r->fd, m, &B, err);
    const size_t nin = nr_shape_count(m->in_shape);
    const size_t nout = nr_shape_count(m->layers[m->output].out_shape);
    for (int s = 0; !rc && s < n; s++) {
        for (size_t i = 0; i < nin; i++) /* [net-1] the input rounded to its format */
            B.x[i] = (double)in[(size_t)s * nin + i];
        r->fd->round_arr(B.x, NULL, B.x, (int64_t)nin, &B.in_f);
        if (!all_finite(B.x, nin)) {
            rc = unsup(err, NULL, "an input that rounds to infinity or NaN");
            break;
        }
        for (int li = 0; li < m->nlayers; li++)
            run_layer(r->fd, m, &B, li);
        for (size_t i = 0; i < nout; i++)
            out[(size_t)s * nout + i] = (float)B.y[m->output][i];
    }
    unbind(&B);
    if (r->cache)
        count_run(r->cache, 1, gen_fmtdata_cache_cpu() - t0);
    return rc;
}

static void fd_close(void *impl) { free(impl); }

int gen_fmtdata_net_engine(gen_fdnet *fd, const nr_model *m, nr_engine *out, nr_err *err)
{
    fdrun *r = malloc(sizeof *r);
    if (!r)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "fmtdata", "out of memory");
    *r = (fdrun){.fd = fd, .m = m, .cache = NULL};
    *out = (nr_engine){.name = "fmtdata", .impl = r, .run = fd_run, .free = fd_close};
    return 0;
}

/* ---------------------------------------------------------------- the cache */

struct gen_fdcache {
    pthread_mutex_t mu;
    gen_fdnet *fd;   /* never replaced while the cache lives: engines use it */
    int failed;      /* compiling failed once: do not retry                  */
    /* CPU seconds per configuration: runs here / compiled per configuration */
    double fd_secs, jit_secs;
    int fd_n, jit_n, jit_pending;
};

double gen_fmtdata_cache_cpu(void) { return nr_clock_thread_cpu(); }

static void count_run(gen_fdcache *c, int fmtdata, double secs)
{
    pthread_mutex_lock(&c->mu);
    if (fmtdata)
        c->fd_secs += secs, c->fd_n++;
    else
        c->jit_secs += secs, c->jit_n++, c->jit_pending--;
    pthread_mutex_unlock(&c->mu);
}

/* Under c->mu: 1 when the next configuration should be compiled. */
static int prefer_jit(gen_fdcache *c)
{
    if (c->fd_n < 2) /* the first run pays for nothing but its own */
        return 0;
    if (c->jit_n == 0) { /* measure the other one once */
        if (c->jit_pending)
            return 0;
        c->jit_pending++;
        return 1;
    }
    return c->jit_secs / c->jit_n < c->fd_secs / c->fd_n;
}

typedef struct timed { nr_engine in; gen_fdcache *c; double open_cpu; } timed;

static int timed_run(void *impl, const float *in, int n, float *out, nr_err *err)
{
    timed *t = impl;
    double t0 = gen_fmtdata_cache_cpu();
    int rc = t->in.run(t->in.impl, in, n, out, err);
    count_run(t->c, 0, t->open_cpu + gen_fmtdata_cache_cpu() - t0);
    t->open_cpu = 0; /* counted once */
    return rc;
}

static void timed_free(void *impl)
{
    timed *t = impl;
    nr_engine_close(&t->in);
    free(t);
}

int gen_fmtdata_cache_wrap(gen_fdcache *c, nr_engine *e, double open_cpu, nr_engine *out, nr_err *err)
{
    timed *t = malloc(sizeof *t);
    if (!t) {
        nr_engine_close(e);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "fmtdata", "out of memory");
    }
    *t = (timed){.in = *e, .c = c, .open_cpu = open_cpu};
    *out = (nr_engine){.name = e->name, .impl = t, .run = timed_run, .free = timed_free};
    return 0;
}

gen_fdcache *gen_fmtdata_cache_new(void)
{
    gen_fdcache *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->mu, NULL)) {
        free(c);
        return NULL;
    }
    return c;
}

void gen_fmtdata_cache_free(gen_fdcache *c)
{
    if (!c)
        return;
    gen_fmtdata_net_free(c->fd);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int gen_fmtdata_cache_open(gen_fdcache *c, const nr_model *m, nr_engine *out, nr_err *err)
{
    nr_err e2 = {0};
    if (!c || gen_fmtdata_net_check(m, &e2))
        return 1;
    pthread_mutex_lock(&c->mu);
    if (!c->fd && !c->failed && gen_fmtdata_net_new(m, &c->fd, &e2))
        c->failed = 1;
    gen_fdnet *fd = gen_fmtdata_net_fits(c->fd, m) && !prefer_jit(c) ? c->fd : NULL;
    pthread_mutex_unlock(&c->mu);
    if (!fd)
        return 1;
    int rc = gen_fmtdata_net_engine(fd, m, out, err);
    if (!rc)
        ((fdrun *)out->impl)->cache = c;
    return rc;
}
