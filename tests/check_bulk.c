/* check_bulk.c -- the bulk kernels (bulk.c) against the scalar codec, bit
 * for bit: round, encode, decode, for float formats of every kind (fast
 * and generic paths), fixed point, every rounding mode, special and
 * boundary inputs, odd lengths, 1-3 threads; SR reproducibility and
 * frequencies; the thread pool. */
#include "testutil.h"
#include "pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t f2u(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Fast-path formats (float, values are float32 values, emin >= -126),
 * then generic ones (emin < -126, not float32-representable, fixed). */
static const char *const formats[] = {
    "fp16", "bf16", "e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "tf32", "fp32",
    "e5m10-nosub", "e4m3-fnuz", "e5m2-fnuz", "e6m7-nosub-finite", "e5m2-sat", "e4m3-sat",
    "e4m3-ieee", "e5m2-fn", "e8m0-fn", "e8m0-finite", "e3m0-finite", "e1m2-finite", "e1m3-fn",
    "e2m1-nosub", "bf16-nosub", "fp32-nosub", "e8m7-sat", "e7m16", "e5m10-b5",
    "e4m3-b20", "e5m2-b-3", "e8m10-b120", "e8m10-b120-nosub", "e6m5-b40-fnuz-sat",
    "e3m4-nosub-fn", "e8m23-finite-b128",
    /* lean kernel edges: emax + (23 - Y) = 127 and 128 (the per-element
     * add's constant at float32's top), Y = 23 below X = 8, nosub Y = 1 */
    "e5m10-b-84", "e5m10-b-85", "e5m23", "e7m1-nosub",
    /* generic */
    "e8m22-fnuz", "e8m23-fnuz", "fp64", "e11m10", "e9m4", "e8m23-b140", "e5m30",
    "int8", "uint8", "q3.4", "q7.8-wrap", "uq1.7", "q15.16", "q31.32", "int16",
};
#define NFORMATS (sizeof formats / sizeof formats[0])

/* Interesting float32 inputs for format f: specials, float32 extremes,
 * and the format's boundaries (max, min normal, min subnormal, the
 * largest subnormal), each with its neighbours, midpoints and the floats
 * just around those, both signs. */
static size_t add(float *v, size_t n, size_t cap, double x)
{
    if (n + 2 <= cap && isfinite(x) && fabs(x) <= 3.4e38) {
        float fx = (float)x;
        v[n++] = fx;
        v[n++] = -fx;
    }
    return n;
}

static size_t boundary_inputs(const nr_format *f, float *v, size_t cap)
{
    size_t n = 0;
    static const uint32_t pat[] = {
        0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
        0x7f800001, 0xffbfffff, 0x7fffffff, 0x00000001, 0x80000001, 0x007fffff,
        0x00800000, 0x00400000, 0x00400001, 0x003fffff, 0x7f7fffff, 0xff7fffff,
        0x3f800000, 0x3fc00000, 0x3f800001, 0x3fffffff, 0x00800001,
    };
    for (size_t i = 0; i < sizeof pat / sizeof pat[0]; i++)
        v[n++] = u2f(pat[i]);
    double g = f->kind == NR_FIXED ? f->epsilon : f->min_subnormal;
    double pts[] = {f->max_finite, f->min_normal, f->min_subnormal,
                    f->min_normal - g, 2 * f->max_finite, f->max_finite * 1.5};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        double p = pts[i];
        /* gap around p: ulp of p in the format (approximately is enough:
         * these are candidates, the reference decides) */
        double ulp = f->kind == NR_FIXED ? f->epsilon
                     : p >= f->min_normal ? ldexp(1.0, ilogb(p) - f->man_bits) : g;
        for (int k = -4; k <= 4; k++) {
            double x = p + ulp * k / 2.0; /* neighbours and midpoints */
            n = add(v, n, cap, x);
            float fx = (float)x;
            n = add(v, n, cap, nextafterf(fx, INFINITY));
            n = add(v, n, cap, nextafterf(fx, 0.0f));
        }
        n = add(v, n, cap, p * 0.25);
        n = add(v, n, cap, p * 0.75);
    }
    return n;
}

/* Random float32 inputs: half uniform bit patterns (the whole range, NaNs
 * included), half with exponents near the format's range. */
static void random_inputs(const nr_format *f, float *v, size_t n, uint64_t *st)
{
    int lo = f->kind == NR_FIXED ? -f->frac_bits - 4 : f->emin - f->man_bits - 4;
    int hi = f->kind == NR_FIXED ? f->int_bits + 2 : f->emax + 2;
    if (lo < -150)
        lo = -150;
    if (hi > 127)
        hi = 127;
    if (hi < lo)
        hi = lo;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = tu_rand(st);
        if (r & 1) {
            v[i] = u2f((uint32_t)(r >> 32));
        } else {
            int e = lo + (int)((r >> 8) % (uint64_t)(hi - lo + 1));
            float m = 1.0f + (float)((r >> 40) & 0x7fffff) / 8388608.0f;
            float x = ldexpf(m, e);
            v[i] = (r & 2) ? -x : x;
        }
    }
}

/* The scalar reference for one element, as float32 bits: the encoding's
 * value rounded to float32 (exact for formats that fit float32), NaN as
 * the canonical float32 NaN. */
static uint32_t ref_value(const nr_format *f, uint64_t enc)
{
    double d = nr_decode(f, enc);
    if (isnan(d))
        return 0x7fc00000u;
    if (f->kind == NR_FLOAT || f->prec <= 53)
        return f2u((float)d); /* exact double ([fmt-5]) -> float32: one rounding */
    /* wide fixed point: nr_decode may already have rounded; go exact */
    nr_format fp32 = tu_fmt("fp32");
    nr_exact x;
    nr_codec_decode_exact(f, enc, &x);
    return (uint32_t)nr_round_exact(&fp32, NR_RND_RNE, &x, 0, NULL);
}

static uint64_t load_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++)
        v |= (uint64_t)p[k] << 8 * k;
    return v;
}

/* Compare bulk round/encode/decode with the scalar functions on v[0..n). */
static void check_array(const char *name, const nr_format *f, nr_rounding m, const float *v,
                        size_t n, int threads, uint64_t seed, uint64_t first)
{
    int C = f->container;
    float *out = malloc(n * 4 + 4);
    float *dec = malloc(n * 4 + 4);
    unsigned char *enc = malloc(n * (size_t)C + 1);
    ck_assert(out && dec && enc);
    /* odd offsets: outputs not aligned to their element size */
    unsigned char *enc1 = enc + 1;
    nr_bulk_round_f32(f, m, seed, first, v, out, n, threads);
    nr_bulk_encode_f32(f, m, seed, first, v, enc1, n, threads);
    nr_bulk_decode_f32(f, enc1, dec, n, threads);
    size_t bad = 0;
    char msg[512] = "";
    for (size_t i = 0; i < n; i++) {
        uint32_t sr = m == NR_RND_SR ? nr_sr_bits(seed, 0, first + i, 0) : 0;
        uint64_t e_ref = nr_codec_encode_f32(f, m, v[i], sr, NULL);
        uint64_t e_got = load_le(enc1 + (size_t)C * i, C);
        uint32_t r_ref = ref_value(f, e_ref);
        uint32_t r_got = f2u(out[i]), d_got = f2u(dec[i]);
        if (e_ref != e_got || r_ref != r_got || d_got != r_ref) {
            if (!bad++)
                snprintf(msg, sizeof msg,
                         "%s %s threads=%d x=0x%08x (%a) [i=%zu of %zu]: encode ref 0x%llx got "
                         "0x%llx; round ref 0x%08x got 0x%08x; decode got 0x%08x",
                         name, nr_format_rounding_name(m), threads, f2u(v[i]), (double)v[i], i, n,
                         (unsigned long long)e_ref, (unsigned long long)e_got, r_ref, r_got,
                         d_got);
        }
        /* fits: the value is exactly nr_round's */
        if (!bad && nr_format_fits_f32(f)) {
            double d = nr_round(f, m, v[i], sr, NULL);
            uint32_t want = isnan(d) ? 0x7fc00000u : f2u((float)d);
            if (want != r_got && !bad++)
                snprintf(msg, sizeof msg, "%s %s x=0x%08x: nr_round 0x%08x, bulk 0x%08x", name,
                         nr_format_rounding_name(m), f2u(v[i]), want, r_got);
        }
    }
    free(out);
    free(dec);
    free(enc);
    ck_assert_msg(bad == 0, "%zu mismatches; first: %s", bad, msg);
}

START_TEST(test_formats_modes)
{
    const char *name = formats[_i];
    nr_format f = tu_fmt(name);
    size_t cap = 4096 + 1031; /* not a multiple of any vector width */
    float *v = malloc(cap * sizeof *v);
    ck_assert(v);
    size_t nb = boundary_inputs(&f, v, 600);
    uint64_t st = 0x1234 + (uint64_t)_i;
    size_t n = tu_quick() ? nb + 333 : cap;
    random_inputs(&f, v + nb, n - nb, &st);
    for (int m = 0; m < NR_RND_COUNT; m++)
        for (int t = 1; t <= 3; t++)
            check_array(name, &f, (nr_rounding)m, v, n - (size_t)t, t, 0xfeed + (uint64_t)m, 77);
    free(v);
}
END_TEST

/* Mostly in-range data with the boundary inputs (infinities and NaNs
 * among them) spread out, at most one per 16 elements: the round kernel's
 * vector code for rne and rz handles a vector with a special input by a
 * slower route, which the test above takes nearly every time (half its
 * inputs are raw bit patterns). */
START_TEST(test_formats_sparse)
{
    const char *name = formats[_i];
    nr_format f = tu_fmt(name);
    float bnd[600];
    size_t nb = boundary_inputs(&f, bnd, 600);
    size_t n = (tu_quick() ? 4 : 19) * nb + 45; /* odd: masked tails */
    float *v = malloc(n * sizeof *v);
    ck_assert(v);
    uint64_t st = 0x777 + (uint64_t)_i;
    for (size_t i = 0; i < n; i++) {
        do
            random_inputs(&f, v + i, 1, &st);
        while (!isfinite(v[i]));
    }
    /* strides 17 and 37: each boundary input in every lane position */
    size_t stride = tu_quick() ? 3 : 17;
    for (size_t k = 0; k < nb && k * stride < n; k++)
        v[k * stride] = bnd[k];
    for (size_t k = 0; k < nb && 7 + k * 37 < n; k++)
        v[7 + k * 37] = bnd[nb - 1 - k];
    static const nr_rounding ms[] = {NR_RND_RNE, NR_RND_RZ, NR_RND_RU};
    for (size_t m = 0; m < sizeof ms / sizeof ms[0]; m++)
        for (int t = 1; t <= 2; t++) {
            check_array(name, &f, ms[m], v, n, t, 1, 0);
            check_array(name, &f, ms[m], v + 1, n - 1, t, 1, 0); /* misaligned */
        }
    free(v);
}
END_TEST

/* Every encoding of every format up to 16 bits decodes like nr_decode. */
START_TEST(test_decode_all_encodings)
{
    const char *name = formats[_i];
    nr_format f = tu_fmt(name);
    int C = f.container;
    size_t n = f.width <= 16 ? (size_t)1 << f.width : 1u << 16;
    n += 5; /* wrap around: bits above the width must be ignored */
    unsigned char *in = malloc(n * (size_t)C);
    float *out = malloc(n * 4);
    ck_assert(in && out);
    uint64_t st = 99;
    uint64_t *codes = malloc(n * sizeof *codes);
    ck_assert(codes);
    for (size_t i = 0; i < n; i++) {
        uint64_t b = f.width <= 16 ? (uint64_t)i : tu_rand(&st);
        if (C < 8)
            b &= ((uint64_t)1 << (8 * C)) - 1;
        codes[i] = b;
        for (int k = 0; k < C; k++)
            in[(size_t)C * i + (size_t)k] = (unsigned char)(b >> 8 * k);
    }
    /* (ck_assert is slow in a loop: it logs every pass; count, then assert) */
    for (int t = 1; t <= 2; t++) {
        nr_bulk_decode_f32(&f, in, out, n, t);
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < n; i++)
            if (f2u(out[i]) != ref_value(&f, codes[i]) && !bad++)
                first = i;
        ck_assert_msg(bad == 0, "%s: %zu wrong; first: decode 0x%llx: want 0x%08x got 0x%08x",
                      name, bad, (unsigned long long)codes[first], ref_value(&f, codes[first]),
                      f2u(out[first]));
    }
    free(codes);
    free(in);
    free(out);
}
END_TEST

/* Large arrays take several threads and (above 32 MiB) streaming stores;
 * results must equal those of small single-threaded calls. */
static void check_split(const char *name, nr_rounding m, size_t n, size_t off)
{
    nr_format f = tu_fmt(name);
    float *buf = malloc((n + 16) * 4), *a = malloc((n + 16) * 4), *b = malloc((n + 16) * 4);
    ck_assert(buf && a && b);
    float *v = buf + off;
    uint64_t st = 5;
    random_inputs(&f, v, n, &st);
    for (int t = 1; t <= 3; t++) {
        float *out = a + off;
        nr_bulk_round_f32(&f, m, 42, 1000, v, out, n, t);
        /* reference: pieces of 4099 elements, one thread, first shifted */
        for (size_t i = 0; i < n; i += 4099) {
            size_t k = n - i < 4099 ? n - i : 4099;
            nr_bulk_round_f32(&f, m, 42, 1000 + i, v + i, b + i, k, 1);
        }
        size_t bad = 0, i0 = 0;
        for (size_t i = 0; i < n; i++)
            if (f2u(out[i]) != f2u(b[i]) && !bad++)
                i0 = i;
        ck_assert_msg(bad == 0,
                      "%s %s n=%zu threads=%d: %zu differ; first i=%zu x=0x%08x: split 0x%08x "
                      "whole 0x%08x",
                      name, nr_format_rounding_name(m), n, t, bad, i0, f2u(v[i0]), f2u(b[i0]),
                      f2u(out[i0]));
    }
    free(buf);
    free(a);
    free(b);
}

START_TEST(test_threads_fast)
{
    /* 3 * 2^18 + odd: three threads' worth for the fast path */
    check_split("e4m3", NR_RND_RNE, 3 * ((size_t)1 << 18) + 1001, 1);
    check_split("fp16", NR_RND_RZ, 3 * ((size_t)1 << 18) + 77, 0);
}
END_TEST

START_TEST(test_threads_stream)
{
    if (tu_quick())
        return;
    /* over 32 MiB of output: streaming stores, aligned and not */
    check_split("bf16", NR_RND_RNE, ((size_t)8 << 20) + 333, 0);
    check_split("e5m2-fnuz", NR_RND_RU, ((size_t)8 << 20) + 5, 3);
    check_split("e4m3", NR_RND_RZ, ((size_t)8 << 20) + 17, 3);
    check_split("e5m10-nosub", NR_RND_RNE, ((size_t)8 << 20) + 1, 1);
}
END_TEST

START_TEST(test_threads_generic)
{
    /* SR and a generic format, large enough for several threads */
    size_t n = tu_quick() ? 20000 : 100003;
    check_split("e4m3", NR_RND_SR, n, 0);
    check_split("q7.8", NR_RND_SR, n, 0);
    check_split("fp64", NR_RND_RNE, n, 1);
}
END_TEST

/* [rnd-sr] P(hi) = ceil(f * 2^32) / 2^32: 10^6 draws of one value. */
static void check_sr_freq(const char *name, double lo, double g, double frac)
{
    nr_format f = tu_fmt(name);
    size_t n = tu_quick() ? 100000 : 1000000;
    float x = (float)(lo + g * frac);
    double fx = ((double)x - lo) / g; /* exact: both are short binary values */
    double p = ceil(ldexp(fx, 32)) / 4294967296.0;
    float *v = malloc(n * 4), *out = malloc(n * 4);
    ck_assert(v && out);
    for (size_t i = 0; i < n; i++)
        v[i] = x;
    nr_bulk_round_f32(&f, NR_RND_SR, 2024, 0, v, out, n, 2);
    size_t up = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == (float)(lo + g))
            up++;
        else if (out[i] != (float)lo)
            other++;
    }
    double mean = p * (double)n, sd = sqrt((double)n * p * (1 - p));
    ck_assert_msg(other == 0, "%s: %zu results are neither neighbour", name, other);
    ck_assert_msg(fabs((double)up - mean) <= 5 * sd,
                  "%s x=%a: %zu of %zu rounded up, expected %.1f +- 5*%.1f", name, (double)x, up,
                  n, mean, sd);
    free(v);
    free(out);
}

START_TEST(test_sr_frequency)
{
    check_sr_freq("e5m2", 1.0, 0.25, 0.3);
    check_sr_freq("fp16", 1024.0, 1.0, 0.3);
    check_sr_freq("e4m3", 0.0, 1.0 / 512, 0.75);  /* subnormal range */
    check_sr_freq("bf16", 3.0, 1.0 / 64, 0.125);
}
END_TEST

/* Same seed, same bits: any thread count, any split by `first`, encode
 * and round agree. */
START_TEST(test_sr_reproducible)
{
    nr_format f = tu_fmt("e4m3");
    size_t n = 50001;
    float *v = malloc(n * 4), *a = malloc(n * 4), *b = malloc(n * 4);
    unsigned char *e = malloc(n);
    ck_assert(v && a && b && e);
    uint64_t st = 17;
    random_inputs(&f, v, n, &st);
    nr_bulk_round_f32(&f, NR_RND_SR, 7, 500, v, a, n, 1);
    for (int t = 2; t <= 3; t++) {
        nr_bulk_round_f32(&f, NR_RND_SR, 7, 500, v, b, n, t);
        ck_assert(memcmp(a, b, n * 4) == 0);
    }
    size_t cut = 12345;
    nr_bulk_round_f32(&f, NR_RND_SR, 7, 500, v, b, cut, 1);
    nr_bulk_round_f32(&f, NR_RND_SR, 7, 500 + cut, v + cut, b + cut, n - cut, 2);
    ck_assert(memcmp(a, b, n * 4) == 0);
    /* a different seed changes something */
    nr_bulk_round_f32(&f, NR_RND_SR, 8, 500, v, b, n, 1);
    ck_assert(memcmp(a, b, n * 4) != 0);
    nr_bulk_encode_f32(&f, NR_RND_SR, 7, 500, v, e, n, 3);
    nr_bulk_decode_f32(&f, e, b, n, 2);
    ck_assert(memcmp(a, b, n * 4) == 0);
    free(v);
    free(a);
    free(b);
    free(e);
}
END_TEST

/* In place (out == in) works like separate arrays. */
START_TEST(test_in_place)
{
    nr_format f = tu_fmt("e5m2");
    size_t n = 10007;
    float *v = malloc(n * 4), *a = malloc(n * 4);
    ck_assert(v && a);
    uint64_t st = 3;
    random_inputs(&f, v, n, &st);
    nr_bulk_round_f32(&f, NR_RND_RNE, 0, 0, v, a, n, 1);
    nr_bulk_round_f32(&f, NR_RND_RNE, 0, 0, v, v, n, 2);
    ck_assert(memcmp(a, v, n * 4) == 0);
    nr_bulk_round_f32(&f, NR_RND_RNE, 0, 0, v, v, 0, 2); /* n = 0: nothing */
    free(v);
    free(a);
}
END_TEST

/* ---- the pool itself */

typedef struct {
    unsigned char *hit;
} pool_ctx;

static void mark(void *ctx, size_t b, size_t e)
{
    pool_ctx *c = ctx;
    for (size_t i = b; i < e; i++)
        c->hit[i]++;
}

START_TEST(test_pool)
{
    for (int t = 1; t <= 4; t++) {
        nr_pool *p = nr_pool_new(t);
        ck_assert(p);
        ck_assert_int_le(nr_pool_threads(p), t);
        size_t sizes[] = {0, 1, 63, 64, 1000, 100003};
        size_t grains[] = {0, 1, 7, 64, 100000};
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++) {
                size_t n = sizes[s];
                pool_ctx c = {calloc(n + 1, 1)};
                ck_assert(c.hit);
                nr_pool_run(p, mark, &c, n, grains[g]);
                size_t bad = 0;
                for (size_t i = 0; i < n; i++)
                    bad += c.hit[i] != 1;
                ck_assert_msg(bad == 0, "threads %d n %zu grain %zu: %zu elements not run once",
                              t, n, grains[g], bad);
                free(c.hit);
            }
        nr_pool_free(p);
    }
    nr_pool_free(NULL);
    pool_ctx c = {calloc(10, 1)};
    nr_pool_run(NULL, mark, &c, 10, 3); /* NULL pool: on this thread */
    for (int i = 0; i < 10; i++)
        ck_assert(c.hit[i] == 1);
    free(c.hit);
}
END_TEST

START_TEST(test_threads_default)
{
    ck_assert_int_ge(nr_threads_default(), 1);
    setenv("NUMREP_THREADS", "3", 1);
    ck_assert_int_eq(nr_threads_default(), 3);
    setenv("NUMREP_THREADS", "zero", 1); /* ignored: falls back to the CPU count */
    ck_assert_int_ge(nr_threads_default(), 1);
    setenv("NUMREP_THREADS", "0", 1);
    ck_assert_int_ge(nr_threads_default(), 1);
    unsetenv("NUMREP_THREADS");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bulk");
    TCase *tc = tcase_create("bulk");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_formats_modes, 0, (int)NFORMATS);
    tcase_add_loop_test(tc, test_formats_sparse, 0, (int)NFORMATS);
    tcase_add_loop_test(tc, test_decode_all_encodings, 0, (int)NFORMATS);
    tcase_add_test(tc, test_threads_fast);
    tcase_add_test(tc, test_threads_stream);
    tcase_add_test(tc, test_threads_generic);
    tcase_add_test(tc, test_sr_frequency);
    tcase_add_test(tc, test_sr_reproducible);
    tcase_add_test(tc, test_in_place);
    tcase_add_test(tc, test_pool);
    tcase_add_test(tc, test_threads_default);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
