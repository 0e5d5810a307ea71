/* check_nlfn.c -- the nonlinear functions ([nl-*] in docs/semantics.md):
 * numrep's own libm-free implementation (runtime/rt/nlrt*.c) equals the
 * MPFR oracle (runtime/num/nlfn_mpfr.c) bit for bit, flags included:
 *   - every input of 8-bit (and smaller) formats, every function, every
 *     mode (sr with counter-based draws); 16-bit formats sampled (every
 *     encoding with NUMREP_EXHAUSTIVE=1); a few cross-format pairs;
 *   - random fp32 inputs into fp32 (1e5 per function; 1e7 with
 *     NUMREP_EXHAUSTIVE=1, or NUMREP_NLFN_RANDOM=N; NUMREP_NLFN_ONLY=exp,erf
 *     for some functions), where each double-double enclosure is also
 *     checked to contain MPFR's value;
 *   - the special cases spelled out with their expected values;
 *   - lookup tables equal nr_nlrt; bad function/exponent/format input;
 *   - nr_nlrt_gen_div (softmax's quotient in generated code, its own exact
 *     quotient through u128.h) equals arith.c's nr_exact_div rounded. */
#include "testutil.h"
#include "nlrt_internal.h"

#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const nr_nl FNS[] = {
    {NR_NL_EXP, 0},   {NR_NL_LOG, 0},       {NR_NL_ERF, 0},   {NR_NL_TANH, 0},
    {NR_NL_SIGMOID, 0}, {NR_NL_SQRT, 0},    {NR_NL_RSQRT, 0}, {NR_NL_RECIP, 0},
    {NR_NL_POW, 2},   {NR_NL_POW, 3},       {NR_NL_POW, 0.5}, {NR_NL_POW, -0.5},
    {NR_NL_POW, -3},  {NR_NL_POW, 2.5},     {NR_NL_POW, -15.5}, {NR_NL_GELU, 0},
    {NR_NL_GELU_TANH, 0}, {NR_NL_SILU, 0},
};
#define NFNS ((int)(sizeof FNS / sizeof FNS[0]))

static double now(void) { return nr_clock_wall(); }

typedef struct {
    long evals, bad, unresolved;
} stats;

/* All modes for input encoding x of `in` into `out`: oracle vs nlrt. */
static void compare_one(const nr_nl *f, const nr_format *in, uint64_t x, const nr_format *out,
                        stats *st)
{
    nr_exact xe, ye;
    nr_err e = {0};
    nr_codec_decode_exact(in, x, &xe);
    if (nr_nl_exact_mpfr(f, &xe, &ye, &e) < 0) {
        st->bad++;
        fprintf(stderr, "oracle failed: %s\n", e.msg);
        return;
    }
    double xd = nr_decode(in, x);
    for (int m = 0; m < NR_RND_COUNT; m++) {
        uint32_t sr = nr_sr_bits(14, (uint32_t)f->fn, x, (uint32_t)m);
        unsigned fa = 0, fb = 0;
        uint64_t a = nr_nl_round(xe.cls == NR_CLS_NAN, &ye, out, (nr_rounding)m, sr, &fa);
        nr_exact be;
        st->unresolved += nr_nlrt_exact(f, xd, out, (nr_rounding)m, &be);
        uint64_t b = nr_nl_round(xd != xd, &be, out, (nr_rounding)m, sr, &fb);
        uint64_t c = nr_nlrt(f, in, x, out, (nr_rounding)m, sr, NULL);
        st->evals++;
        if (a != b || fa != fb || b != c) {
            if (st->bad < 8) {
                char fi[64], fo[64];
                nr_format_name(in, fi, sizeof fi);
                nr_format_name(out, fo, sizeof fo);
                fprintf(stderr, "%s(p=%g) %s x=%a -> %s %s: oracle 0x%llx flags %x, nlrt 0x%llx "
                        "flags %x\n", nr_nl_name(f->fn), f->p, fi, xd, fo,
                        nr_format_rounding_name((nr_rounding)m), (unsigned long long)a, fa,
                        (unsigned long long)b, fb);
            }
            st->bad++;
        }
    }
}

static void sweep(const char *in_name, const char *out_name, uint64_t stride)
{
    nr_format in = tu_fmt(in_name), out = tu_fmt(out_name);
    stats st = {0};
    double t0 = now();
    uint64_t n = (uint64_t)1 << in.width;
    for (int fi = 0; fi < NFNS; fi++)
        for (uint64_t x = 0; x < n; x += (x < 64 || x + 64 >= n) ? 1 : stride)
            compare_one(&FNS[fi], &in, x, &out, &st);
    fprintf(stderr, "nlfn sweep %s -> %s (every %llu-th input): %ld evaluations, %ld differ, "
            "%ld undecided, %.1f s\n", in_name, out_name, (unsigned long long)stride, st.evals,
            st.bad, st.unresolved, now() - t0);
    ck_assert_msg(st.bad == 0, "%s -> %s: %ld results differ from the oracle", in_name, out_name,
                  st.bad);
    ck_assert_msg(st.unresolved == 0, "%s -> %s: %ld undecided", in_name, out_name, st.unresolved);
}

START_TEST(t_sweep8)
{
    static const char *const fmts[] = {"e4m3", "e5m2", "e3m2", "e2m1", "e2m3", "e4m3-fnuz",
                                       "e5m2-sat", "q3.4", "uq4.4", "q3.4-wrap", "e4m3-nosub"};
    sweep(fmts[_i], fmts[_i], 1);
}
END_TEST

static uint64_t stride16(void) { return tu_exhaustive() ? 1 : tu_quick() ? 4099 : 257; }

START_TEST(t_sweep16)
{
    static const char *const fmts[] = {"fp16", "bf16", "e6m7-finite-nosub-sat", "q3.12",
                                       "e5m10-nosub"};
    sweep(fmts[_i], fmts[_i], stride16());
}
END_TEST

START_TEST(t_cross)
{
    static const char *const pairs[][2] = {
        {"e4m3", "fp16"}, {"e4m3", "bf16"}, {"e5m2", "fp32"}, {"fp16", "e4m3"},
        {"bf16", "e2m1"}, {"q3.12", "fp16"}, {"fp16", "q7.8"}, {"e4m3", "q1.14-wrap"},
        {"e2m1", "fp32"}, {"bf16", "e11m20"},
    };
    sweep(pairs[_i][0], pairs[_i][1], _i < 2 || _i == 8 ? 1 : stride16() * 4 + 1);
}
END_TEST

/* ---- random fp32 -> fp32, and the enclosures against MPFR */

/* Is the enclosure v consistent with MPFR's value f, known as a cell
 * [T, U] of NR_NL_MPFR_BITS bits (T = U when exact)?  The enclosure must
 * meet the cell.  Where the enclosure is much wider than the cell (the
 * usual case) this checks the error bound itself, and *use collects the
 * largest |f - S| / bound seen. */
static int enclosure_holds(const nl_val *v, const nr_exact *y, double *use)
{
    if (y->cls != NR_CLS_FINITE || y->sig == 0)
        return 1; /* the kernels give enclosures only for ordinary values */
    mpfr_t S, T, U, D;
    mpfr_inits2(4000, S, T, U, D, (mpfr_ptr)0);
    mpfr_set_zero(S, 1);
    for (int i = 0; i < v->n; i++)
        mpfr_add_d(S, S, v->t[i], MPFR_RNDN); /* exact at 4000 bits */
    mpfr_mul_2si(S, S, v->e, MPFR_RNDN);
    mpfr_set_uj(T, (uintmax_t)(uint64_t)(y->sig >> 64), MPFR_RNDN);
    mpfr_mul_2ui(T, T, 64, MPFR_RNDN);
    mpfr_set_uj(D, (uintmax_t)(uint64_t)y->sig, MPFR_RNDN);
    mpfr_add(T, T, D, MPFR_RNDN);
    mpfr_mul_2si(T, T, y->exp, MPFR_RNDN);
    mpfr_set_ui(U, y->sticky ? 1 : 0, MPFR_RNDN); /* one unit of the truncation */
    mpfr_mul_2si(U, U, y->exp, MPFR_RNDN);
    double unit = mpfr_get_d(U, MPFR_RNDU);
    mpfr_add(U, T, U, MPFR_RNDN);
    if (y->sign) {
        mpfr_neg(T, T, MPFR_RNDN);
        mpfr_neg(U, U, MPFR_RNDN);
        mpfr_swap(T, U); /* f in [T, U], T <= U */
    }
    int ok = 1;
    mpfr_set_d(D, v->elo, MPFR_RNDN);
    mpfr_mul_2si(D, D, v->e, MPFR_RNDN);
    mpfr_sub(D, S, D, MPFR_RNDN); /* S - elo < U */
    ok &= mpfr_cmp(D, U) < 0;
    mpfr_set_d(D, v->ehi, MPFR_RNDN);
    mpfr_mul_2si(D, D, v->e, MPFR_RNDN);
    mpfr_add(D, S, D, MPFR_RNDN); /* S + ehi > T */
    ok &= mpfr_cmp(D, T) > 0;
    double bound = (v->elo > v->ehi ? v->elo : v->ehi);
    mpfr_set_d(D, bound, MPFR_RNDN);
    mpfr_mul_2si(D, D, v->e, MPFR_RNDN);
    double bound_abs = mpfr_get_d(D, MPFR_RNDN);
    if (bound_abs > 1024 * unit) {
        mpfr_sub(D, T, S, MPFR_RNDN);
        mpfr_abs(D, D, MPFR_RNDN);
        mpfr_mul_2si(D, D, -v->e, MPFR_RNDN);
        double u = mpfr_get_d(D, MPFR_RNDU) / bound;
        if (u > *use)
            *use = u;
    }
    mpfr_clears(S, T, U, D, (mpfr_ptr)0);
    return ok;
}

static float rand_input(uint64_t *rng, int kind)
{
    uint32_t b = (uint32_t)tu_rand(rng);
    float x;
    switch (kind % 3) {
    case 0: memcpy(&x, &b, sizeof x); return x; /* any encoding */
    case 1: return (float)(16 * tu_unif(rng) - 8);
    default: { /* log-uniform in [2^-30, 2^10], either sign */
        double m = ldexp(1 + tu_unif(rng), (int)(tu_unif(rng) * 40) - 30);
        return (float)((b & 1) ? -m : m);
    }
    }
}

static long random_count(void)
{
    const char *s = getenv("NUMREP_NLFN_RANDOM");
    if (s && *s)
        return atol(s);
    return tu_exhaustive() ? 10000000 : tu_quick() ? 5000 : 100000;
}

START_TEST(t_random_fp32)
{
    const nr_nl *f = &FNS[_i];
    const char *only = getenv("NUMREP_NLFN_ONLY"); /* e.g. "exp,tanh": just those */
    if (only && *only && !strstr(only, nr_nl_name(f->fn)))
        return;
    nr_format fp32 = tu_fmt("fp32");
    long n = random_count(), bad = 0, unres = 0, enc_bad = 0;
    uint64_t rng = 0x6e6c666e00ull + (uint64_t)_i;
    double use = 0, t0 = now();
    for (long i = 0; i < n; i++) {
        float xf = rand_input(&rng, (int)i);
        uint32_t bits;
        memcpy(&bits, &xf, sizeof bits);
        nr_exact xe, ye, be;
        nr_err e = {0};
        nr_codec_decode_exact(&fp32, bits, &xe);
        ck_assert_int_eq(nr_nl_exact_mpfr(f, &xe, &ye, &e), 0);
        nr_rounding m = i % 8 == 7 ? NR_RND_SR : NR_RND_RNE; /* rne, with some sr */
        uint32_t sr = nr_sr_bits(7, 0, (uint64_t)i, 0);
        unsigned fa = 0, fb = 0;
        uint64_t a = nr_nl_round(xe.cls == NR_CLS_NAN, &ye, &fp32, m, sr, &fa);
        int u = nr_nlrt_exact(f, (double)xf, &fp32, m, &be);
        if (u && unres < 8)
            fprintf(stderr, "%s(p=%g) fp32 x=%a %s: undecided\n", nr_nl_name(f->fn), f->p,
                    (double)xf, nr_format_rounding_name(m));
        unres += u;
        uint64_t b = nr_nl_round(xf != xf, &be, &fp32, m, sr, &fb);
        if (a != b || fa != fb) {
            if (bad < 8)
                fprintf(stderr, "%s(p=%g) fp32 x=%a %s: oracle 0x%llx, nlrt 0x%llx\n",
                        nr_nl_name(f->fn), f->p, (double)xf, nr_format_rounding_name(m),
                        (unsigned long long)a, (unsigned long long)b);
            bad++;
        }
        nl_val v;
        nr_exact ex;
        if (f->fn != NR_NL_POW && f->fn != NR_NL_SQRT && f->fn != NR_NL_RSQRT &&
            f->fn != NR_NL_RECIP && !nl_enclose(f->fn, (double)xf, &v, &ex) &&
            !enclosure_holds(&v, &ye, &use)) {
            if (enc_bad < 8)
                fprintf(stderr, "%s: enclosure misses MPFR's value at x=%a\n",
                        nr_nl_name(f->fn), (double)xf);
            enc_bad++;
        }
    }
    fprintf(stderr, "nlfn random fp32 %s(p=%g): %ld inputs, %ld differ, %ld undecided, %ld "
            "enclosures missed, largest |f - S| / bound %.3g, %.1f s\n", nr_nl_name(f->fn),
            f->p, n, bad, unres, enc_bad, use, now() - t0);
    ck_assert_msg(bad == 0 && unres == 0 && enc_bad == 0, "%s: %ld differ, %ld undecided, %ld "
                  "enclosures missed", nr_nl_name(f->fn), bad, unres, enc_bad);
}
END_TEST

/* ---- special cases, spelled out */

typedef struct {
    nr_nlfn fn;
    double p;
    const char *in, *x, *out;
    nr_rounding mode;
    uint64_t want;
    unsigned flags_must; /* flags that must be set */
} special_case;

#define F32 "fp32"
static const special_case SPECIALS[] = {
    /* exp: IEEE 754 9.2 */
    {NR_NL_EXP, 0, F32, "0", F32, NR_RND_RNE, 0x3f800000, 0},
    {NR_NL_EXP, 0, F32, "-0", F32, NR_RND_RNE, 0x3f800000, 0},
    {NR_NL_EXP, 0, F32, "inf", F32, NR_RND_RNE, 0x7f800000, 0},
    {NR_NL_EXP, 0, F32, "-inf", F32, NR_RND_RNE, 0, 0},
    {NR_NL_EXP, 0, F32, "nan", F32, NR_RND_RNE, 0x7fc00000, 0},
    {NR_NL_EXP, 0, F32, "89", F32, NR_RND_RNE, 0x7f800000, NR_FLAG_OVERFLOW},
    {NR_NL_EXP, 0, F32, "89", F32, NR_RND_RZ, 0x7f7fffff, NR_FLAG_OVERFLOW},
    {NR_NL_EXP, 0, F32, "-104", F32, NR_RND_RNE, 0, NR_FLAG_UNDERFLOW | NR_FLAG_FLUSHED},
    {NR_NL_EXP, 0, F32, "-104", F32, NR_RND_RU, 1, NR_FLAG_UNDERFLOW},
    {NR_NL_EXP, 0, F32, "-103", F32, NR_RND_RNE, 1, NR_FLAG_UNDERFLOW},
    {NR_NL_EXP, 0, "fp16", "-10", "fp16", NR_RND_RNE, 0x02fa, NR_FLAG_UNDERFLOW}, /* subnormal */
    {NR_NL_EXP, 0, "e4m3", "100", "e4m3", NR_RND_RNE, 0x7f, NR_FLAG_INVALID},     /* fn: NaN */
    {NR_NL_EXP, 0, "e4m3", "100", "e4m3-sat", NR_RND_RNE, 0x7e, NR_FLAG_SATURATED},
    {NR_NL_EXP, 0, "e4m3", "100", "e6m7-finite-nosub-sat", NR_RND_RNE, 0x1fff,
     NR_FLAG_SATURATED},
    {NR_NL_EXP, 0, "q3.4", "3", "q3.4-wrap", NR_RND_RNE, 0x7f, NR_FLAG_SATURATED}, /* [nl-wrap] */
    /* log */
    {NR_NL_LOG, 0, F32, "1", F32, NR_RND_RD, 0, 0}, /* +0, even under rd */
    {NR_NL_LOG, 0, F32, "0", F32, NR_RND_RNE, 0xff800000, 0},
    {NR_NL_LOG, 0, F32, "-0", F32, NR_RND_RNE, 0xff800000, 0},
    {NR_NL_LOG, 0, F32, "-1", F32, NR_RND_RNE, 0x7fc00000, NR_FLAG_INVALID},
    {NR_NL_LOG, 0, F32, "inf", F32, NR_RND_RNE, 0x7f800000, 0},
    {NR_NL_LOG, 0, F32, "2", F32, NR_RND_RNE, 0x3f317218, NR_FLAG_INEXACT},
    /* sqrt, rsqrt, reciprocal */
    {NR_NL_SQRT, 0, F32, "4", F32, NR_RND_RNE, 0x40000000, 0},
    {NR_NL_SQRT, 0, F32, "2.25", F32, NR_RND_RU, 0x3fc00000, 0},
    {NR_NL_SQRT, 0, F32, "-0", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_SQRT, 0, F32, "-1", F32, NR_RND_RNE, 0x7fc00000, NR_FLAG_INVALID},
    {NR_NL_SQRT, 0, F32, "inf", F32, NR_RND_RNE, 0x7f800000, 0},
    {NR_NL_RSQRT, 0, F32, "4", F32, NR_RND_RU, 0x3f000000, 0},
    {NR_NL_RSQRT, 0, F32, "0.25", F32, NR_RND_RD, 0x40000000, 0},
    {NR_NL_RSQRT, 0, F32, "0", F32, NR_RND_RNE, 0x7f800000, 0},
    {NR_NL_RSQRT, 0, F32, "-0", F32, NR_RND_RNE, 0xff800000, 0},
    {NR_NL_RSQRT, 0, F32, "inf", F32, NR_RND_RNE, 0, 0},
    {NR_NL_RSQRT, 0, F32, "-2", F32, NR_RND_RNE, 0x7fc00000, NR_FLAG_INVALID},
    {NR_NL_RECIP, 0, F32, "0", F32, NR_RND_RNE, 0x7f800000, 0},
    {NR_NL_RECIP, 0, F32, "-0", F32, NR_RND_RNE, 0xff800000, 0},
    {NR_NL_RECIP, 0, F32, "-inf", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_RECIP, 0, F32, "4", F32, NR_RND_RZ, 0x3e800000, 0},
    /* pow (9.2.1 pow) */
    {NR_NL_POW, 2, F32, "3", F32, NR_RND_RZ, 0x41100000, 0},
    {NR_NL_POW, 3, F32, "-3", F32, NR_RND_RU, 0xc1d80000, 0},
    {NR_NL_POW, 3, F32, "-0", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_POW, -3, F32, "-0", F32, NR_RND_RNE, 0xff800000, 0},
    {NR_NL_POW, -2, F32, "-0", F32, NR_RND_RNE, 0x7f800000, 0},
    {NR_NL_POW, 2, F32, "-0", F32, NR_RND_RNE, 0, 0},
    {NR_NL_POW, 0, F32, "nan", F32, NR_RND_RNE, 0x3f800000, 0},
    {NR_NL_POW, 2.5, F32, "1", F32, NR_RND_RNE, 0x3f800000, 0},
    {NR_NL_POW, 2.5, F32, "4", F32, NR_RND_RD, 0x42000000, 0},
    {NR_NL_POW, -0.5, F32, "4", F32, NR_RND_RU, 0x3f000000, 0},
    {NR_NL_POW, 0.5, F32, "-1", F32, NR_RND_RNE, 0x7fc00000, NR_FLAG_INVALID},
    {NR_NL_POW, 0.5, F32, "-0", F32, NR_RND_RNE, 0, 0},
    {NR_NL_POW, 0.5, F32, "-inf", F32, NR_RND_RNE, 0x7f800000, 0},
    {NR_NL_POW, 3, F32, "-inf", F32, NR_RND_RNE, 0xff800000, 0},
    {NR_NL_POW, -3, F32, "-inf", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_POW, -15.5, F32, "16", F32, NR_RND_RD, 0x20800000, 0}, /* 2^-62 exactly */
    /* sigmoid, tanh, erf */
    {NR_NL_SIGMOID, 0, F32, "0", F32, NR_RND_RD, 0x3f000000, 0},
    {NR_NL_SIGMOID, 0, F32, "-0", F32, NR_RND_RNE, 0x3f000000, 0},
    {NR_NL_SIGMOID, 0, F32, "inf", F32, NR_RND_RNE, 0x3f800000, 0},
    {NR_NL_SIGMOID, 0, F32, "-inf", F32, NR_RND_RNE, 0, 0},
    {NR_NL_SIGMOID, 0, F32, "200", F32, NR_RND_RNE, 0x3f800000, NR_FLAG_INEXACT},
    {NR_NL_SIGMOID, 0, F32, "200", F32, NR_RND_RZ, 0x3f7fffff, NR_FLAG_INEXACT},
    {NR_NL_SIGMOID, 0, F32, "-200", F32, NR_RND_RNE, 0, NR_FLAG_FLUSHED},
    {NR_NL_SIGMOID, 0, F32, "-200", F32, NR_RND_RU, 1, NR_FLAG_UNDERFLOW},
    {NR_NL_TANH, 0, F32, "-0", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_TANH, 0, F32, "-inf", F32, NR_RND_RNE, 0xbf800000, 0},
    {NR_NL_TANH, 0, F32, "20", F32, NR_RND_RNE, 0x3f800000, NR_FLAG_INEXACT},
    {NR_NL_TANH, 0, F32, "20", F32, NR_RND_RZ, 0x3f7fffff, NR_FLAG_INEXACT},
    {NR_NL_TANH, 0, F32, "0x1p-140", F32, NR_RND_RZ, 0x1ff, NR_FLAG_INEXACT}, /* just below x */
    {NR_NL_ERF, 0, F32, "-0", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_ERF, 0, F32, "inf", F32, NR_RND_RNE, 0x3f800000, 0},
    {NR_NL_ERF, 0, F32, "10", F32, NR_RND_RZ, 0x3f7fffff, NR_FLAG_INEXACT},
    {NR_NL_ERF, 0, F32, "-10", F32, NR_RND_RNE, 0xbf800000, NR_FLAG_INEXACT},
    /* gelu, gelu_tanh, silu: odd-signed zeros, -0 at -inf */
    {NR_NL_GELU, 0, F32, "-0", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_GELU, 0, F32, "-inf", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_GELU, 0, F32, "inf", F32, NR_RND_RNE, 0x7f800000, 0},
    {NR_NL_GELU, 0, F32, "-100", F32, NR_RND_RNE, 0x80000000, NR_FLAG_FLUSHED},
    {NR_NL_GELU, 0, F32, "-100", F32, NR_RND_RD, 0x80000001, NR_FLAG_UNDERFLOW},
    {NR_NL_GELU, 0, F32, "100", F32, NR_RND_RZ, 0x42c7ffff, NR_FLAG_INEXACT}, /* below 100 */
    {NR_NL_GELU, 0, F32, "100", F32, NR_RND_RNE, 0x42c80000, NR_FLAG_INEXACT},
    {NR_NL_GELU_TANH, 0, F32, "-inf", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_GELU_TANH, 0, F32, "-0", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_GELU_TANH, 0, F32, "100", F32, NR_RND_RZ, 0x42c7ffff, NR_FLAG_INEXACT},
    {NR_NL_SILU, 0, F32, "-inf", F32, NR_RND_RNE, 0x80000000, 0},
    {NR_NL_SILU, 0, F32, "inf", F32, NR_RND_RNE, 0x7f800000, 0},
    {NR_NL_SILU, 0, F32, "-200", F32, NR_RND_RD, 0x80000001, NR_FLAG_UNDERFLOW},
    {NR_NL_SILU, 0, F32, "-200", F32, NR_RND_RNE, 0x80000000, NR_FLAG_FLUSHED},
    {NR_NL_SILU, 0, F32, "200", F32, NR_RND_RZ, 0x4347ffff, NR_FLAG_INEXACT},
    {NR_NL_SILU, 0, F32, "0x1p-149", F32, NR_RND_RNE, 1, NR_FLAG_UNDERFLOW}, /* just above the tie x/2 */
    {NR_NL_SILU, 0, F32, "0x1p-149", F32, NR_RND_RZ, 0, NR_FLAG_FLUSHED},
    {NR_NL_SILU, 0, F32, "0x1p-149", F32, NR_RND_RU, 1, NR_FLAG_UNDERFLOW},
};

START_TEST(t_specials)
{
    const special_case *c = &SPECIALS[_i];
    nr_format in = tu_fmt(c->in), out = tu_fmt(c->out);
    nr_nl f = {c->fn, c->p};
    nr_exact xv;
    nr_err e = {0};
    ck_assert_int_eq(nr_value_exact_parse(c->x, &xv, &e), 0);
    uint64_t x = nr_round_exact(&in, NR_RND_RNE, &xv, 0, NULL); /* the input encoding */
    unsigned fa = 0, fb = 0;
    uint64_t a = nr_nl_mpfr(&f, &in, x, &out, c->mode, 0, &fa);
    uint64_t b = nr_nlrt(&f, &in, x, &out, c->mode, 0, &fb);
    ck_assert_msg(a == c->want && (fa & c->flags_must) == c->flags_must,
                  "oracle %s(%s) -> %s %s: 0x%llx flags %x, want 0x%llx flags %x",
                  nr_nl_name(c->fn), c->x, c->out, nr_format_rounding_name(c->mode),
                  (unsigned long long)a, fa, (unsigned long long)c->want, c->flags_must);
    ck_assert_msg(b == a && fb == fa, "nlrt %s(%s) -> %s %s: 0x%llx flags %x, oracle 0x%llx %x",
                  nr_nl_name(c->fn), c->x, c->out, nr_format_rounding_name(c->mode),
                  (unsigned long long)b, fb, (unsigned long long)a, fa);
}
END_TEST

/* ---- tables */

START_TEST(t_tables)
{
    static const char *const fmts[][2] = {{"e4m3", "e4m3"}, {"fp16", "fp16"}, {"q3.12", "bf16"},
                                          {"e5m2", "fp32"}};
    nr_format in = tu_fmt(fmts[_i][0]), out = tu_fmt(fmts[_i][1]);
    for (int fi = 0; fi < NFNS; fi += (tu_quick() ? 5 : 3)) {
        nr_nltab *t;
        nr_err e = {0};
        nr_rounding m = (nr_rounding)(fi % 6); /* not sr */
        ck_assert_int_eq(nr_nltab_new(&FNS[fi], &in, &out, m, &t, &e), 0);
        size_t n = (size_t)1 << in.width;
        uint8_t *src = malloc(n * in.container), *dst = malloc(n * out.container);
        ck_assert(src && dst);
        for (size_t x = 0; x < n; x++)
            for (int j = 0; j < in.container; j++)
                src[x * in.container + j] = (uint8_t)(x >> (8 * j));
        nr_nltab_apply(t, src, dst, n);
        for (size_t x = 0; x < n; x++) {
            unsigned fl = 0, fl2 = 0;
            uint64_t want = nr_nlrt(&FNS[fi], &in, x, &out, m, 0, &fl);
            uint64_t got = nr_nltab_get(t, x, &fl2), packed = 0;
            for (int j = 0; j < out.container; j++)
                packed |= (uint64_t)dst[x * out.container + j] << (8 * j);
            ck_assert_msg(got == want && fl2 == fl && packed == want,
                          "%s table x=0x%zx: 0x%llx / 0x%llx, want 0x%llx", nr_nl_name(FNS[fi].fn),
                          x, (unsigned long long)got, (unsigned long long)packed,
                          (unsigned long long)want);
        }
        free(src);
        free(dst);
        nr_nltab_free(t);
    }
}
END_TEST

/* ---- bad input */

START_TEST(t_bad)
{
    nr_err e = {0};
    nr_nlfn fn;
    ck_assert_int_eq(nr_nl_parse("gelu_tanh", &fn, &e), 0);
    ck_assert_int_eq(fn, NR_NL_GELU_TANH);
    ck_assert_int_eq(nr_nl_parse("softplus", &fn, &e), -NR_ESYNTAX);
    ck_assert_msg(strstr(e.msg, "softplus") && strstr(e.msg, "sigmoid"), "%s", e.msg);
    static const double bad_p[] = {0.3, 16.5, -17, 1.0 / 0.0, 0.0 / 0.0, 1.25};
    for (size_t i = 0; i < sizeof bad_p / sizeof bad_p[0]; i++) {
        nr_err e2 = {0};
        nr_nl f = {NR_NL_POW, bad_p[i]};
        ck_assert_int_eq(nr_nl_check(&f, &e2), -NR_EUNSUP);
        ck_assert_msg(strstr(e2.msg, "half-integer"), "%s", e2.msg);
        nr_exact x, y;
        nr_exact_from_double(2.0, &x);
        ck_assert_int_eq(nr_nl_exact_mpfr(&f, &x, &y, &e2), -NR_EUNSUP);
    }
    nr_nl ok = {NR_NL_POW, -16};
    ck_assert_int_eq(nr_nl_check(&ok, &e), 0);
    nr_nl bogus = {(nr_nlfn)99, 0};
    ck_assert_int_eq(nr_nl_check(&bogus, &e), -NR_EUNSUP);
    nr_format fp64 = tu_fmt("fp64"), fp32 = tu_fmt("fp32"), e4 = tu_fmt("e4m3");
    nr_nl ex = {NR_NL_EXP, 0};
    nr_err e3 = {0};
    ck_assert_int_eq(nr_nlrt_supported(&ex, &fp64, &fp32, &e3), -NR_EUNSUP);
    ck_assert_msg(strstr(e3.msg, "32 bits"), "%s", e3.msg);
    ck_assert_int_eq(nr_nlrt_supported(&ex, &fp32, &fp32, &e3), 0);
    nr_nltab *t = (nr_nltab *)&e3;
    nr_err e4e = {0};
    ck_assert_int_eq(nr_nltab_new(&ex, &fp32, &e4, NR_RND_RNE, &t, &e4e), -NR_EUNSUP);
    ck_assert_ptr_null(t);
    nr_err e5 = {0};
    ck_assert_int_eq(nr_nltab_new(&ex, &e4, &e4, NR_RND_SR, &t, &e5), -NR_EUNSUP);
    /* the oracle takes any format: fp64 in and out */
    uint64_t one = 0x3ff0000000000000ull;
    ck_assert_uint_eq(nr_nl_mpfr(&ex, &fp64, 0, &fp64, NR_RND_RNE, 0, NULL), one);
    ck_assert_uint_eq(nr_nl_mpfr(&ex, &fp64, one, &fp64, NR_RND_RNE, 0, NULL),
                      0x4005bf0a8b145769ull); /* e */
}
END_TEST

/* nr_nlrt_gen_div == nr_exact_div + nr_round_exact: signs, magnitudes
 * from 2^-1074 to 2^1023, specials, every mode (sr with random draws, where
 * the fast quotient steps aside), float and fixed formats. */
START_TEST(t_quotient)
{
    static const char *const OUT[] = {"fp32", "bf16", "e4m3", "fp16", "q3.4", "q7.8-wrap",
                                      "e2m1", "q15.16"};
    static const nr_rounding MODES[] = {NR_RND_RNE, NR_RND_RZ, NR_RND_RU, NR_RND_RD,
                                        NR_RND_RNA, NR_RND_SR};
    const double SPEC[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 0x1p-1074, 0x1.fffffffffffffp1023};
    uint64_t st = 777;
    nr_format of = tu_fmt(OUT[_i]);
    for (int i = 0; i < 30000; i++) {
        double v[2];
        for (int k = 0; k < 2; k++) {
            uint64_t r = tu_rand(&st);
            if (r % 50 == 0)
                v[k] = SPEC[tu_rand(&st) % 7];
            else if (r % 3 == 0) /* anywhere */
                v[k] = ldexp(tu_unif(&st) + 0x1p-60, (int)(tu_rand(&st) % 2098) - 1074);
            else /* softmax's range */
                v[k] = ldexp(tu_unif(&st) + 0x1p-60, (int)(tu_rand(&st) % 40) - 30);
            if (r & 1 << 20)
                v[k] = -v[k];
        }
        nr_rounding md = MODES[tu_rand(&st) % 6];
        uint32_t sr = (uint32_t)tu_rand(&st);
        nr_exact ea, eb, q;
        nr_exact_from_double(v[0], &ea);
        nr_exact_from_double(v[1], &eb);
        nr_exact_div(&ea, &eb, &q);
        double want = nr_decode(&of, nr_round_exact(&of, md, &q, sr, NULL));
        double got = nr_nlrt_gen_div(v[0], v[1], &of, md, sr);
        ck_assert_msg(memcmp(&got, &want, sizeof got) == 0 || (isnan(got) && isnan(want)),
                      "%a / %a into %s mode %d: %a, want %a", v[0], v[1], OUT[_i], (int)md, got,
                      want);
    }
}
END_TEST

int main(void)
{
    /* tcases, runnable alone with CK_RUN_CASE: specials, sweep, tables, random */
    Suite *s = suite_create("nlfn");
    TCase *sp = tcase_create("specials"), *sw = tcase_create("sweep"),
          *tb = tcase_create("tables"), *rn = tcase_create("random");
    tcase_add_loop_test(sp, t_specials, 0, (int)(sizeof SPECIALS / sizeof SPECIALS[0]));
    tcase_add_test(sp, t_bad);
    tcase_add_loop_test(sw, t_sweep8, 0, 11);
    tcase_add_loop_test(sw, t_sweep16, 0, 5);
    tcase_add_loop_test(sw, t_cross, 0, 10);
    tcase_add_loop_test(tb, t_tables, 0, 4);
    tcase_add_loop_test(tb, t_quotient, 0, 8);
    tcase_add_loop_test(rn, t_random_fp32, 0, NFNS);
    TCase *all[] = {sp, sw, tb, rn};
    for (int i = 0; i < 4; i++) {
        tcase_set_timeout(all[i], 0);
        suite_add_tcase(s, all[i]);
    }
    return tu_run(s);
}
