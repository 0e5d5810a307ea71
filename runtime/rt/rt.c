/* rt.c -- the runtime that generated model code calls (see rt.h). */
#include "rt.h"

#include "emulator.h"
#include "numrep.h"
#include "pool.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>


struct nr_rt {
    nr_pool *pool;
    int threads;
    uint64_t arena_size;
    uint8_t *arenas; /* threads * arena_size */
};

nr_rt *nr_rt_new(int threads, uint64_t arena_size)
{
    nr_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->pool = nr_pool_new(threads);
    if (!rt->pool) {
        free(rt);
        return NULL;
    }
    rt->threads = nr_pool_threads(rt->pool);
    rt->arena_size = (arena_size + 63) / 64 * 64;
    if (!rt->arena_size)
        rt->arena_size = 64;
    rt->arenas = aligned_alloc(64, (size_t)rt->threads * rt->arena_size);
    if (!rt->arenas) {
        nr_rt_free(rt);
        return NULL;
    }
    return rt;
}

int nr_rt_threads(const nr_rt *rt) { return rt ? rt->threads : 1; }

void nr_rt_free(nr_rt *rt)
{
    if (!rt)
        return;
    nr_pool_free(rt->pool);
    free(rt->arenas);
    free(rt);
}

typedef struct job {
    nr_rt *rt;
    nr_rt_sample_fn fn;
    const float *in;
    float *out;
    uint64_t in_size, out_size;
    atomic_int next_slot; /* each range claims one arena */
} job;

static void run_range(void *ctx, size_t begin, size_t end)
{
    job *j = ctx;
    int slot = atomic_fetch_add(&j->next_slot, 1);
    /* grain = ceil(n / threads) gives at most `threads` ranges per run */
    uint8_t *arena = j->rt->arenas + (size_t)slot * j->rt->arena_size;
    for (size_t s = begin; s < end; s++)
        j->fn(j->in + s * j->in_size, j->out + s * j->out_size, arena);
}

int nr_rt_run(nr_rt *rt, nr_rt_sample_fn fn, const float *in, float *out, int n,
              uint64_t in_size, uint64_t out_size)
{
    if (!rt)
        return -1;
    if (n <= 0)
        return 0;
    job j = {.rt = rt, .fn = fn, .in = in, .out = out, .in_size = in_size, .out_size = out_size};
    atomic_init(&j.next_slot, 0);
    size_t t = (size_t)rt->threads;
    size_t grain = ((size_t)n + t - 1) / t;
    nr_pool_run(rt->pool, run_range, &j, (size_t)n, grain);
    return 0;
}

void nr_rt_lrn(const double *in, double *out, int C, int HW, int size, double alpha,
               double beta, double k)
{
    nr_emu_math_lrn(in, out, C, HW, size, alpha, beta, k);
}

void nr_rt_softmax(const double *in, double *out, int C, int HW)
{
    nr_emu_math_softmax(in, out, C, HW);
}

/* ---------------------------------------------------------------- exact accumulator
 * Header words: 0 limbs, 1 lsb, 2 nan, 3 +inf seen, 4 -inf seen, 5 every
 * addend so far is -0; limbs at 8, scratch after them. */
enum { K_N, K_LSB, K_NAN, K_PINF, K_NINF, K_ALLNEG0, K_HDR = 8 };

void nr_rt_kacc_init(uint64_t *st, int limbs, int lsb)
{
    memset(st, 0, (K_HDR + 2 * (size_t)limbs) * sizeof *st);
    st[K_N] = (uint64_t)limbs;
    st[K_LSB] = (uint64_t)(int64_t)lsb;
    st[K_ALLNEG0] = 1;
}

static uint64_t sig53(double v, int *e) /* |v| = sig * 2^e, v finite non-zero */
{
    int ex;
    double f = frexp(fabs(v), &ex);
    *e = ex - 53;
    return (uint64_t)ldexp(f, 53);
}

/* Add the exact product a*b ([net-5] exact mode, [op-1] specials). */
void nr_rt_kacc_add(uint64_t *st, double a, double b)
{
    if (isnan(a) || isnan(b)) {
        st[K_NAN] = 1, st[K_ALLNEG0] = 0;
        return;
    }
    int neg = (signbit(a) != 0) ^ (signbit(b) != 0);
    if (isinf(a) || isinf(b)) {
        st[K_ALLNEG0] = 0;
        if (a == 0 || b == 0)
            st[K_NAN] = 1;
        else if (neg)
            st[K_NINF] = 1;
        else
            st[K_PINF] = 1;
        return;
    }
    if (a == 0 || b == 0) {
        if (!neg)
            st[K_ALLNEG0] = 0;
        return;
    }
    st[K_ALLNEG0] = 0;
    const int n = (int)st[K_N];
    uint64_t *l = st + K_HDR;
    int ea, eb;
    nr_u128 P = nr_u128_mul64(sig53(a, &ea), sig53(b, &eb));
    int shift = ea + eb - (int)(int64_t)st[K_LSB]; /* >= 0 by the sizing (plan.c) */
    int i = shift >> 6, bit = shift & 63;
    uint64_t p0 = nr_u128_lo(P), p1 = nr_u128_hi(P);
    uint64_t add[3];
    if (bit == 0)
        add[0] = p0, add[1] = p1, add[2] = 0;
    else
        add[0] = p0 << bit, add[1] = (p1 << bit) | (p0 >> (64 - bit)), add[2] = p1 >> (64 - bit);
    unsigned c = 0;
    for (int j = i; j < n; j++) {
        uint64_t v = j - i < 3 ? add[j - i] : 0;
        if (j - i >= 3 && !c)
            break;
        if (!neg) {
            uint64_t s = l[j] + v;
            unsigned c1 = s < v;
            uint64_t s2 = s + c;
            c = c1 | (s2 < s);
            l[j] = s2;
        } else {
            uint64_t d = l[j] - v;
            unsigned b1 = l[j] < v;
            uint64_t d2 = d - c;
            c = b1 | (d < (uint64_t)c);
            l[j] = d2;
        }
    }
}

void nr_rt_kacc_get(uint64_t *st, int mode_rd, uint64_t out[6])
{
    memset(out, 0, 6 * sizeof *out);
    const int n = (int)st[K_N];
    if (st[K_NAN] || (st[K_PINF] && st[K_NINF])) {
        out[0] = NR_CLS_NAN;
        return;
    }
    if (st[K_PINF] || st[K_NINF]) {
        out[0] = NR_CLS_INF;
        out[1] = st[K_NINF] != 0;
        return;
    }
    const uint64_t *l = st + K_HDR;
    uint64_t *tmp = st + K_HDR + n;
    int neg = (l[n - 1] >> 63) != 0;
    memcpy(tmp, l, (size_t)n * sizeof *tmp);
    if (neg) {
        unsigned carry = 1;
        for (int j = 0; j < n; j++) {
            tmp[j] = ~tmp[j] + carry;
            carry = carry && tmp[j] == 0;
        }
    }
    int t = n - 1;
    while (t >= 0 && !tmp[t])
        t--;
    if (t < 0) { /* [rnd-4] exact zero: +0; -0 under rd or when every addend is -0 */
        out[0] = NR_CLS_ZERO;
        out[1] = st[K_ALLNEG0] || mode_rd;
        return;
    }
    int top = 64 * t + 63 - __builtin_clzll(tmp[t]);
    int start = top - 127 > 0 ? top - 127 : 0;
    int i0 = start >> 6, off = start & 63;
    uint64_t w0 = tmp[i0], w1 = i0 + 1 < n ? tmp[i0 + 1] : 0, w2 = i0 + 2 < n ? tmp[i0 + 2] : 0;
    uint64_t lo = off ? (w0 >> off) | (w1 << (64 - off)) : w0;
    uint64_t hi = off ? (w1 >> off) | (w2 << (64 - off)) : w1;
    int sticky = off ? (w0 & ((1ull << off) - 1)) != 0 : 0;
    for (int j = 0; j < i0 && !sticky; j++)
        sticky = tmp[j] != 0;
    out[0] = NR_CLS_FINITE;
    out[1] = (uint64_t)neg;
    out[2] = (uint64_t)(int64_t)((int)(int64_t)st[K_LSB] + start);
    out[3] = lo;
    out[4] = hi;
    out[5] = (uint64_t)sticky;
}
