/* check_arith.c -- add sub mul div fma sqrt convert (runtime/num/arith.c) and
 * number parsing (runtime/num/value.c).
 *
 * Three kinds of evidence, none computed by the code under test:
 *  - hand-worked cases (values and bit patterns worked out on paper, noted
 *    next to each case);
 *  - fp32 and fp64 against the host's IEEE arithmetic (SSE, fma/fmaf) in the
 *    four IEEE rounding modes, bit for bit, with the inexact/overflow/invalid
 *    flags;
 *  - fp16 against double arithmetic rounded to _Float16 (libgcc's
 *    conversion): see the proof at fp16_via_double;
 *  - fixed point against plain integer arithmetic.
 * The MPFR oracle comparison lives in the oracle tests. */
#include "testutil.h"

#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

/* ---------------------------------------------------------------- helpers */

static const struct {
    int fe;
    nr_rounding m;
    const char *name;
} ieee_modes[] = {
    {FE_TONEAREST, NR_RND_RNE, "rne"},
    {FE_TOWARDZERO, NR_RND_RZ, "rz"},
    {FE_UPWARD, NR_RND_RU, "ru"},
    {FE_DOWNWARD, NR_RND_RD, "rd"},
};

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, OP_FMA, OP_COUNT };
static const char *const opname[] = {"add", "sub", "mul", "div", "sqrt", "fma"};

static uint64_t do_op(const nr_format *f, nr_rounding m, int op, uint64_t a, uint64_t b,
                      uint64_t c, uint32_t sr, unsigned *fl)
{
    switch (op) {
    case OP_ADD: return nr_add(f, m, a, b, sr, fl);
    case OP_SUB: return nr_sub(f, m, a, b, sr, fl);
    case OP_MUL: return nr_mul(f, m, a, b, sr, fl);
    case OP_DIV: return nr_div(f, m, a, b, sr, fl);
    case OP_SQRT: return nr_sqrt(f, m, a, sr, fl);
    default: return nr_fma(f, m, a, b, c, sr, fl);
    }
}

/* One hand-worked case: op in format fmt and mode gives want (and, when
 * want_fl is not ~0u, exactly those flags). */
static void hand(const char *fmt, nr_rounding m, int op, uint64_t a, uint64_t b, uint64_t c,
                 uint64_t want, unsigned want_fl)
{
    nr_format f = tu_fmt(fmt);
    unsigned fl = 0;
    uint64_t got = do_op(&f, m, op, a, b, c, 0, &fl);
    ck_assert_msg(got == want, "%s %s %s(0x%llx, 0x%llx, 0x%llx) = 0x%llx, want 0x%llx", fmt,
                  nr_format_rounding_name(m), opname[op], (unsigned long long)a, (unsigned long long)b,
                  (unsigned long long)c, (unsigned long long)got, (unsigned long long)want);
    if (want_fl != ~0u)
        ck_assert_msg(fl == want_fl, "%s %s %s(0x%llx, 0x%llx, 0x%llx): flags 0x%x, want 0x%x",
                      fmt, nr_format_rounding_name(m), opname[op], (unsigned long long)a,
                      (unsigned long long)b, (unsigned long long)c, fl, want_fl);
}

#define ANY ~0u
#define IX NR_FLAG_INEXACT
#define OV (NR_FLAG_OVERFLOW | NR_FLAG_INEXACT)
#define INV NR_FLAG_INVALID

static uint32_t f2u(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static float u2f(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static uint64_t d2u(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static double u2d(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

/* ---------------------------------------------------------------- hand-worked: fp32 */

START_TEST(fp32_hand)
{
    const uint32_t one = 0x3f800000, two = 0x40000000, three = 0x40400000;
    const uint32_t inf = 0x7f800000, ninf = 0xff800000, nan = 0x7fc00000, max = 0x7f7fffff;
    const uint32_t u24 = 0x33800000; /* 2^-24: half an ulp of 1 */
    const uint32_t u25 = 0x33000000; /* 2^-25: half an ulp just below 1 */
    hand("fp32", NR_RND_RNE, OP_ADD, one, two, 0, three, 0);
    /* 1 + 2^-24 is the midpoint of 1 and 1+2^-23 */
    hand("fp32", NR_RND_RNE, OP_ADD, one, u24, 0, one, IX);
    hand("fp32", NR_RND_RNA, OP_ADD, one, u24, 0, 0x3f800001, IX);
    hand("fp32", NR_RND_RZ, OP_ADD, one, u24, 0, one, IX);
    hand("fp32", NR_RND_RU, OP_ADD, one, u24, 0, 0x3f800001, IX);
    hand("fp32", NR_RND_RTO, OP_ADD, one, u24, 0, 0x3f800001, IX);
    /* 1 - 2^-25 is the midpoint of 1-2^-24 (0x3f7fffff, odd) and 1 (even) */
    hand("fp32", NR_RND_RNE, OP_SUB, one, u25, 0, one, IX);
    hand("fp32", NR_RND_RD, OP_SUB, one, u25, 0, 0x3f7fffff, IX);
    hand("fp32", NR_RND_RTO, OP_SUB, one, u25, 0, 0x3f7fffff, IX);
    /* far-apart operands (sticky jamming): 1 +- 2^-149 */
    hand("fp32", NR_RND_RU, OP_ADD, one, 1, 0, 0x3f800001, IX);
    hand("fp32", NR_RND_RD, OP_ADD, one, 1, 0, one, IX);
    hand("fp32", NR_RND_RNE, OP_SUB, one, 1, 0, one, IX);
    hand("fp32", NR_RND_RZ, OP_SUB, one, 1, 0, 0x3f7fffff, IX);
    hand("fp32", NR_RND_RD, OP_SUB, one, 1, 0, 0x3f7fffff, IX);
    hand("fp32", NR_RND_RU, OP_SUB, one, 1, 0, one, IX);
    hand("fp32", NR_RND_RD, OP_ADD, 0xbf800000, 1, 0, 0xbf800000, IX); /* -1 + tiny */
    hand("fp32", NR_RND_RU, OP_ADD, 0xbf800000, 1, 0, 0xbf7fffff, IX);
    /* overflow per mode [rnd-3] */
    hand("fp32", NR_RND_RNE, OP_ADD, max, max, 0, inf, OV);
    hand("fp32", NR_RND_RZ, OP_ADD, max, max, 0, max, OV);
    hand("fp32", NR_RND_RD, OP_ADD, max, max, 0, max, OV);
    hand("fp32", NR_RND_RU, OP_ADD, max, max, 0, inf, OV);
    hand("fp32", NR_RND_RD, OP_MUL, max, 0xc0000000, 0, ninf, OV);
    hand("fp32", NR_RND_RU, OP_MUL, max, 0xc0000000, 0, 0xff7fffff, OV);
    /* products, quotients, roots */
    hand("fp32", NR_RND_RNE, OP_MUL, three, 0xc0000000, 0, 0xc0c00000, 0); /* 3 * -2 = -6 */
    hand("fp32", NR_RND_RNE, OP_DIV, one, three, 0, 0x3eaaaaab, IX);       /* 1/3 */
    hand("fp32", NR_RND_RZ, OP_DIV, one, three, 0, 0x3eaaaaaa, IX);
    hand("fp32", NR_RND_RNE, OP_DIV, 0x40c00000, three, 0, two, 0); /* 6/3 */
    hand("fp32", NR_RND_RNE, OP_SQRT, two, 0, 0, 0x3fb504f3, IX);   /* sqrt 2 = 1.41421356.. */
    hand("fp32", NR_RND_RU, OP_SQRT, two, 0, 0, 0x3fb504f4, IX);
    hand("fp32", NR_RND_RNE, OP_SQRT, 0x40800000, 0, 0, two, 0); /* sqrt 4 */
    hand("fp32", NR_RND_RNE, OP_SQRT, 1, 0, 0, 0x1a3504f3, IX);  /* sqrt(2^-149) = 2^-74.5 */
    /* fma: (1+2^-23)(1-2^-23) - 1 = -2^-46 exactly (a separate mul would give 0) */
    hand("fp32", NR_RND_RNE, OP_FMA, 0x3f800001, 0x3f7ffffe, 0xbf800000, 0xa8800000, 0);
    hand("fp32", NR_RND_RNE, OP_MUL, 0x3f800001, 0x3f7ffffe, 0, one, IX);

    /* [op-1] special cases */
    hand("fp32", NR_RND_RNE, OP_ADD, inf, ninf, 0, nan, INV);
    hand("fp32", NR_RND_RNE, OP_SUB, inf, inf, 0, nan, INV);
    hand("fp32", NR_RND_RNE, OP_ADD, inf, max, 0, inf, 0);
    hand("fp32", NR_RND_RNE, OP_MUL, 0, inf, 0, nan, INV);
    hand("fp32", NR_RND_RNE, OP_MUL, 0x80000000, ninf, 0, nan, INV);
    hand("fp32", NR_RND_RNE, OP_DIV, 0, 0x80000000, 0, nan, INV);
    hand("fp32", NR_RND_RNE, OP_DIV, inf, ninf, 0, nan, INV);
    hand("fp32", NR_RND_RNE, OP_SQRT, 0xbf800000, 0, 0, nan, INV);
    hand("fp32", NR_RND_RNE, OP_SQRT, ninf, 0, 0, nan, INV);
    hand("fp32", NR_RND_RNE, OP_FMA, 0, inf, one, nan, INV);
    hand("fp32", NR_RND_RNE, OP_FMA, inf, one, ninf, nan, INV);
    hand("fp32", NR_RND_RNE, OP_FMA, max, max, ninf, ninf, 0); /* c = -inf wins, exact */
    hand("fp32", NR_RND_RNE, OP_DIV, one, 0, 0, inf, 0);
    hand("fp32", NR_RND_RNE, OP_DIV, 0xbf800000, 0, 0, ninf, 0);
    hand("fp32", NR_RND_RNE, OP_DIV, one, 0x80000000, 0, ninf, 0);
    hand("fp32", NR_RND_RNE, OP_DIV, one, ninf, 0, 0x80000000, 0);
    hand("fp32", NR_RND_RNE, OP_SQRT, 0x80000000, 0, 0, 0x80000000, 0); /* sqrt(-0) = -0 */
    hand("fp32", NR_RND_RNE, OP_SQRT, inf, 0, 0, inf, 0);
    /* NaN operands give the canonical NaN, without INVALID (quiet NaNs) */
    hand("fp32", NR_RND_RNE, OP_ADD, 0xffc01234, one, 0, nan, 0);
    hand("fp32", NR_RND_RNE, OP_MUL, 0, 0x7f800001, 0, nan, 0);
    hand("fp32", NR_RND_RNE, OP_SQRT, 0xffffffff, 0, 0, nan, 0);
    hand("fp32", NR_RND_RNE, OP_FMA, one, one, 0x7fc00001, nan, 0);
    /* [rnd-4] zero signs */
    for (size_t i = 0; i < 4; i++) {
        nr_rounding m = ieee_modes[i].m;
        uint32_t z = m == NR_RND_RD ? 0x80000000 : 0;
        hand("fp32", m, OP_SUB, three, three, 0, z, 0);                /* x - x */
        hand("fp32", m, OP_ADD, three, 0xc0400000, 0, z, 0);           /* x + (-x) */
        hand("fp32", m, OP_ADD, 0, 0x80000000, 0, z, 0);               /* +0 + -0 */
        hand("fp32", m, OP_ADD, 0x80000000, 0x80000000, 0, 0x80000000, 0); /* -0 + -0 */
        hand("fp32", m, OP_SUB, 0x80000000, 0, 0, 0x80000000, 0);      /* -0 - +0 */
        hand("fp32", m, OP_FMA, two, three, 0xc0c00000, z, 0);         /* 2*3 - 6 */
        hand("fp32", m, OP_FMA, 0, three, 0x80000000, z, 0);           /* +0*3 + -0 */
        hand("fp32", m, OP_FMA, 0x80000000, three, 0x80000000, 0x80000000, 0);
        hand("fp32", m, OP_MUL, 0x80000000, three, 0, 0x80000000, 0);
        hand("fp32", m, OP_MUL, 0x80000000, 0xc0400000, 0, 0, 0);
        hand("fp32", m, OP_DIV, 0, 0xc0400000, 0, 0x80000000, 0);
    }
    /* a tiny nonzero result keeps its sign when it rounds to zero */
    hand("fp32", NR_RND_RNE, OP_MUL, 1, 0xbf000000, 0, 0x80000000,
         IX | NR_FLAG_UNDERFLOW | NR_FLAG_FLUSHED); /* -2^-150: tie, to even 0 */
    hand("fp32", NR_RND_RD, OP_MUL, 1, 0xbf000000, 0, 0x80000001, IX | NR_FLAG_UNDERFLOW);
}
END_TEST

/* ---------------------------------------------------------------- hand-worked: narrow */

START_TEST(narrow_hand)
{
    /* e4m3 = e4m3-fn: bias 7, max 448 = 0x7e, NaN 0x7f; 1.0 = 0x38, 0.5 = 0x30 */
    hand("e4m3", NR_RND_RNE, OP_ADD, 0x38, 0x38, 0, 0x40, 0); /* 1 + 1 = 2 */
    /* 448 + 16 = 464: midpoint of 448 (M=6, even) and 480 -> 448 */
    hand("e4m3", NR_RND_RNE, OP_ADD, 0x7e, 0x58, 0, 0x7e, IX); /* 0x58 = 16 */
    /* ... rna goes to 480, beyond max: overflow, no infinity -> NaN */
    hand("e4m3", NR_RND_RNA, OP_ADD, 0x7e, 0x58, 0, 0x7f, OV | INV);
    hand("e4m3", NR_RND_RNE, OP_ADD, 0x7e, 0x7e, 0, 0x7f, OV | INV); /* 896 */
    hand("e4m3", NR_RND_RZ, OP_ADD, 0x7e, 0x7e, 0, 0x7e, OV);
    hand("e4m3-sat", NR_RND_RNE, OP_ADD, 0x7e, 0x7e, 0, 0x7e, OV | NR_FLAG_SATURATED);
    hand("e4m3", NR_RND_RNE, OP_DIV, 0x38, 0, 0, 0x7f, ANY); /* 1/0: no inf -> NaN */
    hand("e4m3-sat", NR_RND_RNE, OP_DIV, 0xb8, 0, 0, 0xfe, ANY); /* -1/0 -> -max */
    /* 1/3 in e4m3: in [1/4, 1/2) the step is 1/32; 10.67/32 -> 11/32 = 0x2b */
    hand("e4m3", NR_RND_RNE, OP_DIV, 0x38, 0x44, 0, 0x2b, IX); /* 0x44 = 3 */
    hand("e4m3", NR_RND_RZ, OP_DIV, 0x38, 0x44, 0, 0x2a, IX);
    /* fnuz: 0x80 is NaN, no -0: x - x = +0 even under rd */
    hand("e4m3-fnuz", NR_RND_RD, OP_SUB, 0x40, 0x40, 0, 0x00, 0);
    hand("e4m3-fnuz", NR_RND_RNE, OP_SQRT, 0xc0, 0, 0, 0x80, INV);
    /* e2m1 (finite, max 6 = 0x7): 6 + 6 saturates; no NaN: 0*... fine, sqrt(-1) -> 0 + INVALID */
    hand("e2m1", NR_RND_RNE, OP_ADD, 0x7, 0x7, 0, 0x7, ANY);
    hand("e2m1", NR_RND_RNE, OP_SQRT, 0xa, 0, 0, 0x0, INV); /* 0xa = -1 */
    /* fp16: 65504 + 16 = 65520 is the midpoint to 65536: ties to even -> inf */
    hand("fp16", NR_RND_RNE, OP_ADD, 0x7bff, 0x4c00, 0, 0x7c00, OV);
    hand("fp16", NR_RND_RNE, OP_ADD, 0x7bff, 0x4bfe, 0, 0x7bff, IX); /* + 15.97 */
    /* -nosub: 2^-14 - 2^-15 = 2^-15 lies between 0 and 2^emin: tie -> 0 (rne), 2^emin (rto) */
    hand("e5m10-nosub", NR_RND_RNE, OP_SUB, 0x0600, 0x0400, 0, 0x0000, ANY);
    hand("e5m10-nosub", NR_RND_RTO, OP_SUB, 0x0600, 0x0400, 0, 0x0400, ANY);
    hand("e5m10-nosub", NR_RND_RNE, OP_SUB, 0x0600, 0x0200, 0, 0x0600, 0); /* 0x0200 is 0 */
}
END_TEST

/* ---------------------------------------------------------------- hand-worked: fixed */

START_TEST(fixed_hand)
{
    /* q3.4: n/16, 0x7f = 7.9375, 0x80 = -8, 0x10 = 1, 0x08 = 0.5, 0x01 = 1/16 */
    /* [rnd-7]: leaving the range is OVERFLOW, and the result differs: INEXACT */
    const unsigned SAT = NR_FLAG_OVERFLOW | NR_FLAG_SATURATED | IX;
    const unsigned WRAP = NR_FLAG_OVERFLOW | NR_FLAG_WRAPPED | IX;
    hand("q3.4", NR_RND_RNE, OP_ADD, 0x7f, 0x01, 0, 0x7f, SAT);
    hand("q3.4-wrap", NR_RND_RNE, OP_ADD, 0x7f, 0x01, 0, 0x80, WRAP);
    hand("q3.4", NR_RND_RNE, OP_SUB, 0x80, 0x01, 0, 0x80, SAT);
    hand("q3.4-wrap", NR_RND_RNE, OP_SUB, 0x80, 0x01, 0, 0x7f, WRAP);
    hand("q3.4", NR_RND_RNE, OP_MUL, 0x40, 0x40, 0, 0x7f, SAT);      /* 4*4 */
    hand("q3.4-wrap", NR_RND_RNE, OP_MUL, 0x40, 0x40, 0, 0x00, WRAP); /* 16 mod 16 */
    hand("q3.4", NR_RND_RNE, OP_SUB, 0x10, 0x10, 0, 0x00, 0);
    hand("q3.4", NR_RND_RD, OP_SUB, 0x10, 0x10, 0, 0x00, 0); /* no -0 */
    /* 1/16 * 1/2 = 1/32: tie between 0 and 1/16 */
    hand("q3.4", NR_RND_RNE, OP_MUL, 0x01, 0x08, 0, 0x00, IX | NR_FLAG_FLUSHED);
    hand("q3.4", NR_RND_RNA, OP_MUL, 0x01, 0x08, 0, 0x01, IX);
    hand("q3.4", NR_RND_RU, OP_MUL, 0x01, 0x08, 0, 0x01, IX);
    hand("q3.4", NR_RND_RTO, OP_MUL, 0x01, 0x08, 0, 0x01, IX);
    hand("q3.4", NR_RND_RZ, OP_MUL, 0x01, 0x08, 0, 0x00, IX | NR_FLAG_FLUSHED);
    hand("q3.4", NR_RND_RD, OP_MUL, 0xff, 0x08, 0, 0xff, IX);                  /* -1/32 */
    hand("q3.4", NR_RND_RU, OP_MUL, 0xff, 0x08, 0, 0x00, IX | NR_FLAG_FLUSHED);
    /* 3/16 * 1/2 = 1.5/16: tie between 1 and 2 -> 2 (even) */
    hand("q3.4", NR_RND_RNE, OP_MUL, 0x03, 0x08, 0, 0x02, IX);
    hand("q3.4", NR_RND_RZ, OP_MUL, 0x03, 0x08, 0, 0x01, IX);
    /* 1/3 = 5.33/16; sqrt 2 = 22.63/16 */
    hand("q3.4", NR_RND_RNE, OP_DIV, 0x10, 0x30, 0, 0x05, IX);
    hand("q3.4", NR_RND_RU, OP_DIV, 0x10, 0x30, 0, 0x06, IX);
    hand("q3.4", NR_RND_RD, OP_DIV, 0xf0, 0x30, 0, 0xfa, IX); /* -1/3 -> -6/16 */
    hand("q3.4", NR_RND_RNE, OP_SQRT, 0x20, 0, 0, 0x17, IX);
    hand("q3.4", NR_RND_RZ, OP_SQRT, 0x20, 0, 0, 0x16, IX);
    hand("q3.4", NR_RND_RNE, OP_SQRT, 0xf0, 0, 0, 0x00, INV); /* no NaN: 0 + INVALID */
    hand("q3.4", NR_RND_RNE, OP_DIV, 0x10, 0x00, 0, 0x7f, ANY); /* 1/0 -> +inf -> max */
    hand("q3.4", NR_RND_RNE, OP_DIV, 0xf0, 0x00, 0, 0x80, ANY);
    hand("q3.4", NR_RND_RNE, OP_DIV, 0x00, 0x00, 0, 0x00, INV);
    /* fma: 0.5 * 0.5 + 1/16 = 5/16 exactly; 1/16*1/2 + 1/16 = 1.5/16 -> 2/16 */
    hand("q3.4", NR_RND_RNE, OP_FMA, 0x08, 0x08, 0x01, 0x05, 0);
    hand("q3.4", NR_RND_RNE, OP_FMA, 0x01, 0x08, 0x01, 0x02, IX);
    hand("uq4.4", NR_RND_RNE, OP_SUB, 0x10, 0x20, 0, 0x00, SAT); /* 1 - 2: below 0 */

    /* 64-bit formats: products need all 128 bits */
    const uint64_t M = ~0ull;
    hand("uq64.0-wrap", NR_RND_RNE, OP_FMA, M, M, M, 0, WRAP); /* (2^64-1)*2^64 mod 2^64 */
    hand("uq64.0", NR_RND_RNE, OP_FMA, M, M, M, M, SAT);
    hand("uq64.0-wrap", NR_RND_RNE, OP_MUL, M, M, 0, 1, WRAP); /* (2^64-1)^2 mod 2^64 = 1 */
    hand("q63.0-wrap", NR_RND_RNE, OP_FMA, 1ull << 62, 4, 5, 5, WRAP); /* 2^64 + 5 */
    hand("q63.0-wrap", NR_RND_RNE, OP_MUL, 1ull << 62, 2, 0, 1ull << 63, WRAP); /* 2^63 -> -2^63 */
    hand("q63.0", NR_RND_RNE, OP_MUL, 1ull << 62, 2, 0, (1ull << 63) - 1, SAT);
    hand("q63.0", NR_RND_RNE, OP_MUL, 1ull << 62, (uint64_t)-2, 0, 1ull << 63, 0); /* -2^63 fits */
    /* uq0.64: n * 2^-64.  (1/2 + 2^-64) * 1/2 = n 2^62 + 1/2: a tie */
    hand("uq0.64", NR_RND_RNE, OP_MUL, (1ull << 63) + 1, 1ull << 63, 0, 1ull << 62, IX);
    hand("uq0.64", NR_RND_RU, OP_MUL, (1ull << 63) + 1, 1ull << 63, 0, (1ull << 62) + 1, IX);
    hand("uq0.64", NR_RND_RNE, OP_FMA, 1ull << 63, 1ull << 63, 1, (1ull << 62) + 1, 0);
    /* uq0.64-wrap: 0.75*0.75 + 0.75 = 1.3125 -> 0.3125 = 5 * 2^60 */
    hand("uq0.64-wrap", NR_RND_RNE, OP_FMA, 3ull << 62, 3ull << 62, 3ull << 62, 5ull << 60, WRAP);
    /* uq64.0: (2^64-1)/2 = 2^63 - 1/2: tie between 2^63-1 (odd) and 2^63 */
    hand("uq64.0", NR_RND_RNE, OP_DIV, M, 2, 0, 1ull << 63, IX);
    hand("uq64.0", NR_RND_RZ, OP_DIV, M, 2, 0, (1ull << 63) - 1, IX);
    hand("uq64.0", NR_RND_RNE, OP_DIV, 1, M, 0, 0, IX | NR_FLAG_FLUSHED);
    hand("uq64.0", NR_RND_RU, OP_DIV, 1, M, 0, 1, IX);
    /* sqrt(2^64 - 1) = 2^32 - 2^-33 - ... */
    hand("uq64.0", NR_RND_RNE, OP_SQRT, M, 0, 0, 1ull << 32, IX);
    hand("uq64.0", NR_RND_RZ, OP_SQRT, M, 0, 0, (1ull << 32) - 1, IX);
    /* q0.63 1/3: 2^63/3 = 3074457345618258602.67 */
    hand("q0.63", NR_RND_RNE, OP_DIV, 1ull << 61, 3ull << 61, 0, 3074457345618258603ull, IX);
}
END_TEST

/* Fixed point against integer arithmetic: q7.8 (16 bits), every mode but
 * sr, saturating and wrapping.  The reference rounds n / 2^s with floor
 * division and the mode's rule on the remainder. */
static int64_t ref_round(__int128 num, __int128 den, nr_rounding m)
{
    /* num / den rounded to an integer, den > 0 */
    __int128 q = num / den, r = num % den;
    if (r < 0)
        q -= 1, r += den; /* floor */
    if (r == 0)
        return (int64_t)q;
    int cmp = 2 * r < den ? -1 : 2 * r > den ? 1 : 0;
    switch (m) {
    case NR_RND_RNE: return (int64_t)(cmp > 0 || (cmp == 0 && (q & 1)) ? q + 1 : q);
    case NR_RND_RNA: return (int64_t)(cmp > 0 || (cmp == 0 && q >= 0) ? q + 1 : q);
    case NR_RND_RZ: return (int64_t)(q < 0 ? q + 1 : q);
    case NR_RND_RU: return (int64_t)(q + 1);
    case NR_RND_RD: return (int64_t)q;
    case NR_RND_RTO: return (int64_t)(q & 1 ? q : q + 1);
    default: return 0;
    }
}

static uint64_t ref_pack16(int64_t n, int wrap)
{
    if (!wrap)
        n = n > 32767 ? 32767 : n < -32768 ? -32768 : n;
    return (uint64_t)n & 0xffff;
}

START_TEST(fixed_vs_integer)
{
    uint64_t st = 42;
    int iters = tu_quick() ? 2000 : 20000;
    for (int wrap = 0; wrap < 2; wrap++) {
        nr_format f = tu_fmt(wrap ? "q7.8-wrap" : "q7.8");
        for (int mi = 0; mi < NR_RND_SR; mi++) {
            nr_rounding m = (nr_rounding)mi;
            for (int i = 0; i < iters; i++) {
                uint64_t ra = tu_rand(&st), rb = tu_rand(&st), rc = tu_rand(&st);
                /* small operands half of the time, so results stay in range */
                uint64_t a = ra & (ra >> 40 & 1 ? 0xffff : 0x07ff);
                uint64_t b = rb & (rb >> 40 & 1 ? 0xffff : 0x07ff);
                uint64_t c = rc & 0xffff;
                int64_t na = (int16_t)a, nb = (int16_t)b, nc = (int16_t)c;
                uint64_t want[OP_COUNT];
                int have[OP_COUNT] = {1, 1, 1, nb != 0, na >= 0, 1};
                want[OP_ADD] = ref_pack16(na + nb, wrap);
                want[OP_SUB] = ref_pack16(na - nb, wrap);
                want[OP_MUL] = ref_pack16(ref_round((__int128)na * nb, 256, m), wrap);
                if (nb)
                    want[OP_DIV] = ref_pack16(ref_round((__int128)na * 256 * (nb < 0 ? -1 : 1),
                                                        nb < 0 ? -nb : nb, m), wrap);
                if (na >= 0) { /* sqrt(na/256) * 256 = sqrt(na * 256) */
                    uint64_t v = (uint64_t)na * 256, s = (uint64_t)sqrt((double)v);
                    while (s * s > v) s--;
                    while ((s + 1) * (s + 1) <= v) s++;
                    /* compare v with (s + 1/2)^2 = s^2 + s + 1/4, i.e. 4v vs 4s^2+4s+1 */
                    int64_t q = (int64_t)s;
                    if (s * s != v) {
                        int above = 4 * v > 4 * s * s + 4 * s + 1; /* never equal */
                        if (m == NR_RND_RU || ((m == NR_RND_RNE || m == NR_RND_RNA) && above) ||
                            (m == NR_RND_RTO && !(s & 1)))
                            q++;
                    }
                    want[OP_SQRT] = ref_pack16(q, wrap);
                }
                want[OP_FMA] = ref_pack16(ref_round((__int128)na * nb + nc * 256, 256, m), wrap);
                for (int op = 0; op < OP_COUNT; op++) {
                    if (!have[op])
                        continue;
                    uint64_t got = do_op(&f, m, op, a, b, c, 0, NULL);
                    ck_assert_msg(got == want[op],
                                  "%s %s %s(0x%04llx, 0x%04llx, 0x%04llx) = 0x%04llx, want 0x%04llx",
                                  wrap ? "q7.8-wrap" : "q7.8", nr_format_rounding_name(m), opname[op],
                                  (unsigned long long)a, (unsigned long long)b,
                                  (unsigned long long)c, (unsigned long long)got,
                                  (unsigned long long)want[op]);
                }
            }
        }
    }
}
END_TEST

/* ---------------------------------------------------------------- against the host */

/* Operands: specials and boundaries, random bit patterns, and pairs with
 * nearby exponents (cancellation, carries). */
static uint32_t gen32(uint64_t *st, uint32_t near)
{
    static const uint32_t sp[] = {0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f7fffff,
                                  0xff7fffff, 0x00800000, 0x007fffff, 1, 0x80000001, 0x3f800000,
                                  0xbf800000, 0x3f7fffff, 0x3f800001, 0x33800000};
    uint64_t r = tu_rand(st);
    switch (r & 7) {
    case 0: return sp[(r >> 8) % (sizeof sp / sizeof sp[0])];
    case 1: case 2: return (uint32_t)(r >> 16);
    case 3: case 4: { /* exponent near the other operand's */
        int e = (int)(near >> 23 & 0xff) + (int)((r >> 8) % 60) - 30;
        e = e < 0 ? 0 : e > 254 ? 254 : e;
        return (uint32_t)(r >> 63) << 31 | (uint32_t)e << 23 | ((uint32_t)(r >> 20) & 0x7fffff);
    }
    default: { /* moderate exponents */
        int e = 127 + (int)((r >> 8) % 40) - 20;
        return (uint32_t)(r >> 63) << 31 | (uint32_t)e << 23 | ((uint32_t)(r >> 20) & 0x7fffff);
    }
    }
}

static uint64_t gen64(uint64_t *st, uint64_t near)
{
    static const uint64_t sp[] = {0, 1ull << 63, 0x7ff0000000000000ull, 0xfff0000000000000ull,
                                  0x7ff8000000000000ull, 0x7fefffffffffffffull, 0x0010000000000000ull,
                                  0x000fffffffffffffull, 1, 0x8000000000000001ull,
                                  0x3ff0000000000000ull, 0x3fefffffffffffffull, 0x3ff0000000000001ull,
                                  0x3ca0000000000000ull};
    uint64_t r = tu_rand(st), m = tu_rand(st) & ((1ull << 52) - 1);
    switch (r & 7) {
    case 0: return sp[(r >> 8) % (sizeof sp / sizeof sp[0])];
    case 1: case 2: return m ^ (r & ~((1ull << 52) - 1));
    case 3: case 4: {
        int e = (int)(near >> 52 & 0x7ff) + (int)((r >> 8) % 130) - 65;
        e = e < 0 ? 0 : e > 2046 ? 2046 : e;
        return (r >> 63) << 63 | (uint64_t)e << 52 | m;
    }
    default: {
        int e = 1023 + (int)((r >> 8) % 100) - 50;
        return (r >> 63) << 63 | (uint64_t)e << 52 | m;
    }
    }
}

static unsigned host_flags(void)
{
    int x = fetestexcept(FE_ALL_EXCEPT);
    return (x & FE_INEXACT ? NR_FLAG_INEXACT : 0) | (x & FE_OVERFLOW ? NR_FLAG_OVERFLOW : 0) |
           (x & FE_INVALID ? NR_FLAG_INVALID : 0);
}

/* The host operation in rounding mode fe; volatile keeps the compiler from
 * folding or moving it out of the bracket. */
__attribute__((noinline, optimize("-frounding-math"))) static float host32(
    int fe, int op, float a, float b, float c, unsigned *fl)
{
    volatile float va = a, vb = b, vc = c, vr;
    fesetround(fe);
    feclearexcept(FE_ALL_EXCEPT);
    switch (op) {
    case OP_ADD: vr = va + vb; break;
    case OP_SUB: vr = va - vb; break;
    case OP_MUL: vr = va * vb; break;
    case OP_DIV: vr = va / vb; break;
    case OP_SQRT: vr = sqrtf(va); break;
    default: vr = fmaf(va, vb, vc); break;
    }
    *fl = host_flags();
    fesetround(FE_TONEAREST);
    return vr;
}

__attribute__((noinline, optimize("-frounding-math"))) static double host64(
    int fe, int op, double a, double b, double c, unsigned *fl)
{
    volatile double va = a, vb = b, vc = c, vr;
    fesetround(fe);
    feclearexcept(FE_ALL_EXCEPT);
    switch (op) {
    case OP_ADD: vr = va + vb; break;
    case OP_SUB: vr = va - vb; break;
    case OP_MUL: vr = va * vb; break;
    case OP_DIV: vr = va / vb; break;
    case OP_SQRT: vr = sqrt(va); break;
    default: vr = fma(va, vb, vc); break;
    }
    *fl = host_flags();
    fesetround(FE_TONEAREST);
    return vr;
}

static int iters_host(void) { return tu_exhaustive() ? 2000000 : tu_quick() ? 5000 : 60000; }

START_TEST(fp32_vs_host)
{
    nr_format f = tu_fmt("fp32");
    int op = _i;
    uint64_t st = 1000 + (uint64_t)op;
    const unsigned cmpfl = NR_FLAG_INEXACT | NR_FLAG_OVERFLOW | NR_FLAG_INVALID;
    for (size_t mi = 0; mi < 4; mi++)
        for (int i = 0, n = iters_host(); i < n; i++) {
            uint32_t a = gen32(&st, 0x3f800000), b = gen32(&st, a), c = gen32(&st, a);
            unsigned hfl, fl = 0;
            float h = host32(ieee_modes[mi].fe, op, u2f(a), u2f(b), u2f(c), &hfl);
            uint32_t got = (uint32_t)do_op(&f, ieee_modes[mi].m, op, a, b, c, 0, &fl);
            int nan_in = isnan(u2f(a)) || (op != OP_SQRT && isnan(u2f(b))) ||
                         (op == OP_FMA && isnan(u2f(c)));
            if (isnan(h)) {
                ck_assert_msg(got == 0x7fc00000, "fp32 %s %s(0x%08x, 0x%08x, 0x%08x) = 0x%08x, "
                              "want the canonical NaN", ieee_modes[mi].name, opname[op], a, b, c,
                              got);
            } else {
                ck_assert_msg(got == f2u(h), "fp32 %s %s(0x%08x, 0x%08x, 0x%08x) = 0x%08x, "
                              "host 0x%08x", ieee_modes[mi].name, opname[op], a, b, c, got,
                              f2u(h));
            }
            if (!nan_in)
                ck_assert_msg((fl & cmpfl) == (hfl & cmpfl),
                              "fp32 %s %s(0x%08x, 0x%08x, 0x%08x): flags 0x%x, host 0x%x",
                              ieee_modes[mi].name, opname[op], a, b, c, fl & cmpfl, hfl & cmpfl);
        }
}
END_TEST

START_TEST(fp64_vs_host)
{
    nr_format f = tu_fmt("fp64");
    int op = _i;
    uint64_t st = 2000 + (uint64_t)op;
    const unsigned cmpfl = NR_FLAG_INEXACT | NR_FLAG_OVERFLOW | NR_FLAG_INVALID;
    for (size_t mi = 0; mi < 4; mi++)
        for (int i = 0, n = iters_host(); i < n; i++) {
            uint64_t a = gen64(&st, 0x3ff0000000000000ull), b = gen64(&st, a), c = gen64(&st, a);
            unsigned hfl, fl = 0;
            double h = host64(ieee_modes[mi].fe, op, u2d(a), u2d(b), u2d(c), &hfl);
            uint64_t got = do_op(&f, ieee_modes[mi].m, op, a, b, c, 0, &fl);
            int nan_in = isnan(u2d(a)) || (op != OP_SQRT && isnan(u2d(b))) ||
                         (op == OP_FMA && isnan(u2d(c)));
            uint64_t want = isnan(h) ? 0x7ff8000000000000ull : d2u(h);
            ck_assert_msg(got == want, "fp64 %s %s(0x%016llx, 0x%016llx, 0x%016llx) = 0x%016llx, "
                          "want 0x%016llx", ieee_modes[mi].name, opname[op],
                          (unsigned long long)a, (unsigned long long)b, (unsigned long long)c,
                          (unsigned long long)got, (unsigned long long)want);
            if (!nan_in)
                ck_assert_msg((fl & cmpfl) == (hfl & cmpfl),
                              "fp64 %s %s(0x%016llx, 0x%016llx, 0x%016llx): flags 0x%x, host 0x%x",
                              ieee_modes[mi].name, opname[op], (unsigned long long)a,
                              (unsigned long long)b, (unsigned long long)c, fl & cmpfl,
                              hfl & cmpfl);
        }
}
END_TEST

/* fp16 via double.  For p-bit operands and one of + - * / sqrt, rounding
 * the exact result to nearest double (q = 53 bits) and then to nearest
 * p-bit format gives the same as rounding once, when q >= 2p + 2
 * (Figueroa, "When is double rounding innocuous?", 1995).  fp16 has p = 11
 * and 53 >= 24; the exponent range of double covers fp16's products and
 * quotients, so the double result is the correctly rounded one.  The
 * conversion double -> _Float16 is libgcc's (or F16C), also RNE. */
START_TEST(fp16_via_double)
{
    nr_format f = tu_fmt("fp16");
    uint64_t st = 77;
    int n = tu_exhaustive() ? 4000000 : tu_quick() ? 20000 : 300000;
    for (int i = 0; i < n; i++) {
        uint64_t r = tu_rand(&st);
        uint16_t a = (uint16_t)r, b = (uint16_t)(r >> 16);
        if (r >> 40 & 1) /* nearby exponents */
            b = (uint16_t)((b & 0x83ff) |
                           (((a & 0x7c00) + ((r >> 48 & 7) << 10) - (3 << 10)) & 0x7c00));
        _Float16 ha, hb;
        memcpy(&ha, &a, 2);
        memcpy(&hb, &b, 2);
        double da = ha, db = hb;
        double ref[5] = {da + db, da - db, da * db, da / db, sqrt(da)};
        for (int op = 0; op < 5; op++) {
            _Float16 hr = (_Float16)ref[op];
            uint16_t want;
            memcpy(&want, &hr, 2);
            uint64_t got = do_op(&f, NR_RND_RNE, op, a, b, 0, 0, NULL);
            if (isnan(ref[op]))
                want = 0x7e00;
            ck_assert_msg(got == want, "fp16 rne %s(0x%04x, 0x%04x) = 0x%04llx, want 0x%04x",
                          opname[op], a, b, (unsigned long long)got, want);
        }
    }
}
END_TEST

START_TEST(convert_vs_host)
{
    nr_format f64 = tu_fmt("fp64"), f32 = tu_fmt("fp32"), f16 = tu_fmt("fp16");
    uint64_t st = 99;
    for (size_t mi = 0; mi < 4; mi++)
        for (int i = 0, n = tu_quick() ? 5000 : 100000; i < n; i++) {
            uint64_t a = gen64(&st, 0x3ff0000000000000ull);
            if (i & 1) /* within float's range */
                a = (a & 0x800fffffffffffffull) | (uint64_t)(896 + (a >> 52 & 0xff)) << 52;
            volatile double va = u2d(a);
            volatile float vr;
            fesetround(ieee_modes[mi].fe);
            vr = (float)va;
            fesetround(FE_TONEAREST);
            uint32_t want = isnan(vr) ? 0x7fc00000 : f2u(vr);
            uint64_t got = nr_arith_convert(&f32, ieee_modes[mi].m, &f64, a, 0, NULL);
            ck_assert_msg(got == want, "fp64->fp32 %s 0x%016llx = 0x%08llx, want 0x%08x",
                          ieee_modes[mi].name, (unsigned long long)a, (unsigned long long)got,
                          want);
            /* widening back is exact */
            uint64_t back = nr_arith_convert(&f64, ieee_modes[mi].m, &f32, got, 0, NULL);
            double dv = (double)u2f((uint32_t)got);
            ck_assert(isnan(dv) ? back == 0x7ff8000000000000ull : back == d2u(dv));
            /* fp32 -> fp16 (rne) against the compiler's conversion */
            if (mi == 0) {
                _Float16 h = (_Float16)u2f(want);
                uint16_t hw;
                memcpy(&hw, &h, 2);
                if (isnan(u2f(want)))
                    hw = 0x7e00;
                uint64_t g16 = nr_arith_convert(&f16, NR_RND_RNE, &f32, want, 0, NULL);
                ck_assert_msg(g16 == hw, "fp32->fp16 0x%08x = 0x%04llx, want 0x%04x", want,
                              (unsigned long long)g16, hw);
            }
        }
}
END_TEST

START_TEST(convert_hand)
{
    nr_format f32 = tu_fmt("fp32"), f64 = tu_fmt("fp64"), e4m3 = tu_fmt("e4m3");
    nr_format i8 = tu_fmt("int8"), i16 = tu_fmt("int16"), i8w = tu_fmt("q7.0-wrap");
    nr_format q63w = tu_fmt("q63.0-wrap");
    unsigned fl = 0;
    /* fp32 1/3 -> e4m3: 11/32 (0x2b) rne, 10/32 (0x2a) rz */
    ck_assert_uint_eq(nr_arith_convert(&e4m3, NR_RND_RNE, &f32, 0x3eaaaaab, 0, NULL), 0x2b);
    ck_assert_uint_eq(nr_arith_convert(&e4m3, NR_RND_RZ, &f32, 0x3eaaaaab, 0, NULL), 0x2a);
    ck_assert_uint_eq(nr_arith_convert(&f32, NR_RND_RNE, &i8, 0x80, 0, NULL), 0xc3000000); /* -128 */
    /* 300.5: int8 saturates; int16 ties to even 300 (0x12c), rna 301 */
    ck_assert_uint_eq(nr_arith_convert(&i8, NR_RND_RNE, &f32, 0x43964000, 0, NULL), 0x7f);
    ck_assert_uint_eq(nr_arith_convert(&i16, NR_RND_RNE, &f32, 0x43964000, 0, NULL), 0x12c);
    ck_assert_uint_eq(nr_arith_convert(&i16, NR_RND_RNA, &f32, 0x43964000, 0, NULL), 0x12d);
    ck_assert_uint_eq(nr_arith_convert(&i8, NR_RND_RNE, &f32, 0x7f800000, 0, NULL), 0x7f);
    ck_assert_uint_eq(nr_arith_convert(&i8, NR_RND_RNE, &f32, 0xff800000, 0, NULL), 0x80);
    ck_assert_uint_eq(nr_arith_convert(&i8, NR_RND_RNE, &f32, 0x7fc00000, 0, &fl), 0);
    ck_assert(fl & NR_FLAG_INVALID);
    /* 1e30 (0x7149f2ca) is a multiple of 2^76: 0 modulo 256 */
    fl = 0;
    ck_assert_uint_eq(nr_arith_convert(&i8w, NR_RND_RNE, &f32, 0x7149f2ca, 0, &fl), 0);
    ck_assert(fl & NR_FLAG_WRAPPED);
    /* -(2^7 + 3) mod 256 = 125 */
    ck_assert_uint_eq(nr_arith_convert(&i8w, NR_RND_RNE, &f32, 0xc3030000, 0, NULL), 125);
    /* 2^64 + 2^12 modulo 2^64 */
    ck_assert_uint_eq(nr_arith_convert(&q63w, NR_RND_RNE, &f64, d2u(0x1p64 + 0x1p12), 0, NULL), 4096);
    ck_assert_uint_eq(nr_arith_convert(&q63w, NR_RND_RNE, &f64, d2u(0x1p200), 0, NULL), 0);
    ck_assert_uint_eq(nr_arith_convert(&q63w, NR_RND_RNE, &f64, d2u(-0x1p63), 0, NULL), 1ull << 63);
    /* 2^51 + 1/2: a tie, to even */
    ck_assert_uint_eq(nr_arith_convert(&q63w, NR_RND_RNE, &f64, d2u(0x1p51 + 0.5), 0, NULL),
                      1ull << 51);
}
END_TEST

START_TEST(sr_passthrough)
{
    nr_format f = tu_fmt("fp32");
    /* 1 + 2^-24: the fraction is exactly 1/2, ceil(f * 2^32) = 2^31 */
    ck_assert_uint_eq(nr_add(&f, NR_RND_SR, 0x3f800000, 0x33800000, 0x7fffffffu, NULL),
                      0x3f800001);
    ck_assert_uint_eq(nr_add(&f, NR_RND_SR, 0x3f800000, 0x33800000, 0x80000000u, NULL),
                      0x3f800000);
    /* exact results never move */
    ck_assert_uint_eq(nr_mul(&f, NR_RND_SR, 0x40400000, 0x40000000, 0, NULL), 0x40c00000);
    /* 1 + 2^-149 : fraction 2^-126 of the gap, ceil(f * 2^32) = 1 */
    ck_assert_uint_eq(nr_add(&f, NR_RND_SR, 0x3f800000, 1, 0, NULL), 0x3f800001);
    ck_assert_uint_eq(nr_add(&f, NR_RND_SR, 0x3f800000, 1, 1, NULL), 0x3f800000);
}
END_TEST

/* ---------------------------------------------------------------- exact add / mul */

static nr_exact ex(int sign, u128 sig, int32_t exp)
{
    nr_exact x = {.cls = sig ? NR_CLS_FINITE : NR_CLS_ZERO, .sign = sign, .exp = exp, .sig = sig};
    return x;
}

START_TEST(exact_ops)
{
    nr_format f64 = tu_fmt("fp64");
    nr_exact a = ex(0, 1, 300), b = ex(0, 1, -300), nb = ex(1, 1, -300), r;
    nr_arith_exact_add(&a, &b, NR_RND_RNE, &r); /* 2^300 + 2^-300 */
    ck_assert_uint_eq(nr_round_exact(&f64, NR_RND_RU, &r, 0, NULL), 0x52b0000000000001ull);
    ck_assert_uint_eq(nr_round_exact(&f64, NR_RND_RD, &r, 0, NULL), 0x52b0000000000000ull);
    nr_arith_exact_add(&a, &nb, NR_RND_RNE, &r); /* 2^300 - 2^-300 */
    ck_assert_uint_eq(nr_round_exact(&f64, NR_RND_RD, &r, 0, NULL), 0x52afffffffffffffull);
    ck_assert_uint_eq(nr_round_exact(&f64, NR_RND_RNE, &r, 0, NULL), 0x52b0000000000000ull);
    nr_arith_exact_add(&nb, &a, NR_RND_RNE, &r); /* operand order does not matter */
    ck_assert_uint_eq(nr_round_exact(&f64, NR_RND_RZ, &r, 0, NULL), 0x52afffffffffffffull);
    /* (2^64-1)^2 = 2^128 - 2^65 + 1: rz keeps 53 ones below 2^128 */
    nr_exact m = ex(0, ~0ull, 0);
    nr_arith_exact_mul(&m, &m, &r);
    ck_assert(r.cls == NR_CLS_FINITE && !r.sticky);
    ck_assert(r.sig == (u128)~0ull * ~0ull && r.exp == 0);
    ck_assert_uint_eq(nr_round_exact(&f64, NR_RND_RZ, &r, 0, NULL), 0x47efffffffffffffull);
    ck_assert_uint_eq(nr_round_exact(&f64, NR_RND_RU, &r, 0, NULL), 0x47f0000000000000ull);
    /* (2^127 + 1) + (2^127 + 1) = 2^128 + 2: needs a carry past 128 bits */
    nr_exact big = ex(0, ((u128)1 << 127) + 1, 0);
    nr_arith_exact_add(&big, &big, NR_RND_RNE, &r);
    ck_assert_uint_eq(nr_round_exact(&f64, NR_RND_RU, &r, 0, NULL), 0x47f0000000000001ull);
    ck_assert_uint_eq(nr_round_exact(&f64, NR_RND_RD, &r, 0, NULL), 0x47f0000000000000ull);
    /* cancellation to exact zero is +0; -0 + -0 = -0; 0 * inf = NaN */
    nr_exact p = ex(0, 5, 3), q = ex(1, 5, 3), z = ex(1, 0, 0), inf = {.cls = NR_CLS_INF};
    nr_arith_exact_add(&p, &q, NR_RND_RNE, &r);
    ck_assert(r.cls == NR_CLS_ZERO && r.sign == 0);
    nr_arith_exact_add(&z, &z, NR_RND_RNE, &r);
    ck_assert(r.cls == NR_CLS_ZERO && r.sign == 1);
    nr_arith_exact_add(&p, &q, NR_RND_RD, &r); /* [rnd-4] cancellation under rd is -0 */
    ck_assert(r.cls == NR_CLS_ZERO && r.sign == 1);
    nr_exact zp = ex(0, 0, 0);
    nr_arith_exact_add(&zp, &z, NR_RND_RD, &r); /* (+0) + (-0) under rd is -0 */
    ck_assert(r.cls == NR_CLS_ZERO && r.sign == 1);
    nr_arith_exact_add(&zp, &z, NR_RND_RU, &r);
    ck_assert(r.cls == NR_CLS_ZERO && r.sign == 0);
    nr_arith_exact_mul(&z, &inf, &r);
    ck_assert(r.cls == NR_CLS_NAN);
    nr_arith_exact_mul(&q, &q, &r);
    ck_assert(r.cls == NR_CLS_FINITE && r.sign == 0 && r.sig == 25 && r.exp == 6);
    /* a sticky operand below the other's unit: 4 + (0.5..0.75) */
    nr_exact s = {.cls = NR_CLS_FINITE, .sig = 2, .exp = -2, .sticky = 1};
    nr_exact four = ex(0, 1, 2);
    nr_arith_exact_add(&four, &s, NR_RND_RNE, &r);
    nr_format e4 = tu_fmt("e5m2"); /* values 4, 5: 4.5..4.75 -> rne 5 (0x45) */
    ck_assert_uint_eq(nr_round_exact(&e4, NR_RND_RNE, &r, 0, NULL), 0x45);
    nr_exact ns = s;
    ns.sign = 1;
    nr_arith_exact_add(&four, &ns, NR_RND_RNE, &r); /* 4 - (0.5..0.75) = 3.25..3.5: e5m2 3 or 3.5, above the midpoint */
    ck_assert_uint_eq(nr_round_exact(&e4, NR_RND_RNE, &r, 0, NULL), 0x43);
    ck_assert_uint_eq(nr_round_exact(&e4, NR_RND_RU, &r, 0, NULL), 0x43);
    ck_assert_uint_eq(nr_round_exact(&e4, NR_RND_RD, &r, 0, NULL), 0x42);
}
END_TEST

/* ---------------------------------------------------------------- parsing */

static uint64_t parse_round(const char *fmt, nr_rounding m, const char *text)
{
    nr_format f = tu_fmt(fmt);
    nr_exact x;
    nr_err e = {0};
    int rc = nr_value_exact_parse(text, &x, &e);
    ck_assert_msg(rc == 0, "parse \"%s\": %s", text, e.msg);
    return nr_round_exact(&f, m, &x, 0, NULL);
}

static void pr(const char *fmt, nr_rounding m, const char *text, uint64_t want)
{
    uint64_t got = parse_round(fmt, m, text);
    ck_assert_msg(got == want, "\"%s\" -> %s %s = 0x%llx, want 0x%llx", text, fmt,
                  nr_format_rounding_name(m), (unsigned long long)got, (unsigned long long)want);
}

START_TEST(parse_values)
{
    pr("fp64", NR_RND_RNE, "0.1", 0x3fb999999999999aull);
    pr("fp64", NR_RND_RZ, "0.1", 0x3fb9999999999999ull);
    pr("fp32", NR_RND_RNE, "0.1", 0x3dcccccd);
    pr("fp32", NR_RND_RNE, "-3e-7", 0xb4a10fb0); /* -3e-7 = -0x1.4219f6p-22 */
    pr("e4m3", NR_RND_RNE, "3.14159265358979", 0x45); /* pi -> 3.25 */
    pr("e4m3", NR_RND_RZ, "3.14159265358979", 0x44);
    pr("e4m3", NR_RND_RD, "0.99999999999999999999", 0x37); /* 0.9375 */
    pr("e4m3", NR_RND_RU, "0.99999999999999999999", 0x38);
    pr("e4m3", NR_RND_RNE, "0.99999999999999999999", 0x38);
    /* midpoints written exactly in decimal: 1 + 2^-24 and 1 + 2^-53 */
    pr("fp32", NR_RND_RNE, "1.000000059604644775390625", 0x3f800000);
    pr("fp32", NR_RND_RNA, "1.000000059604644775390625", 0x3f800001);
    pr("fp32", NR_RND_RNE, "1.000000059604644775390625000000000000000000001", 0x3f800001);
    pr("fp32", NR_RND_RNE, "1.000000059604644775390624999999999999999999999", 0x3f800000);
    pr("fp64", NR_RND_RNE, "1.00000000000000011102230246251565404236316680908203125",
       0x3ff0000000000000ull);
    pr("fp64", NR_RND_RNE, "1.00000000000000011102230246251565404236316680908203126",
       0x3ff0000000000001ull);
    pr("fp64", NR_RND_RNE, "1.00000000000000011102230246251565404236316680908203124",
       0x3ff0000000000000ull);
    /* 64-bit fixed: 2^64 - 1.5 is a tie between 2^64-2 (even) and 2^64-1 */
    pr("uq64.0", NR_RND_RNE, "18446744073709551614.5", 0xfffffffffffffffeull);
    pr("uq64.0", NR_RND_RNA, "18446744073709551614.5", 0xffffffffffffffffull);
    pr("uq64.0", NR_RND_RNE, "18446744073709551614.50000000000000000001", 0xffffffffffffffffull);
    pr("q63.0", NR_RND_RNE, "-9223372036854775808", 0x8000000000000000ull);
    pr("q63.0", NR_RND_RNE, "-9223372036854775808.5", 0x8000000000000000ull); /* saturates */
    /* beyond binary64 */
    pr("e4m3", NR_RND_RZ, "1e400", 0x7e);
    pr("e4m3", NR_RND_RNE, "1e400", 0x7f);
    pr("fp32", NR_RND_RNE, "1e400", 0x7f800000);
    pr("fp32", NR_RND_RD, "1e400", 0x7f7fffff);
    pr("fp32", NR_RND_RU, "-1e400", 0xff7fffff);
    pr("fp64", NR_RND_RZ, "1e99999", 0x7fefffffffffffffull);
    pr("fp64", NR_RND_RU, "1e-400", 1);
    pr("fp64", NR_RND_RD, "1e-400", 0);
    pr("fp64", NR_RND_RD, "-1e-400", 0x8000000000000001ull);
    pr("fp64", NR_RND_RU, "1e-99999", 1);
    pr("fp64", NR_RND_RNE, "1e-99999", 0);
    pr("fp64", NR_RND_RNE, "3e-324", 1);  /* above 2^-1075 = 2.47e-324 */
    pr("fp64", NR_RND_RNE, "2e-324", 0);
    pr("fp64", NR_RND_RNE, "0x1p-1075", 0); /* the tie: to even 0 */
    pr("fp64", NR_RND_RNA, "0x1p-1075", 1);
    /* hex, specials, signs, whitespace, case */
    pr("fp32", NR_RND_RNE, "0x1.8p-3", 0x3e400000);
    pr("fp32", NR_RND_RNE, "-0X1P+0", 0xbf800000);
    pr("fp32", NR_RND_RNE, "0x.8", 0x3f000000);
    pr("fp32", NR_RND_RNE, "0x10", 0x41800000);
    pr("fp32", NR_RND_RNE, "0x1.000001p0", 0x3f800000); /* 1 + 2^-24 tie */
    pr("fp32", NR_RND_RNE, "  \t1.5\n", 0x3fc00000);
    pr("fp32", NR_RND_RNE, ".5", 0x3f000000);
    pr("fp32", NR_RND_RNE, "5.", 0x40a00000);
    pr("fp32", NR_RND_RNE, "+2e0", 0x40000000);
    pr("fp32", NR_RND_RNE, "1E+1", 0x41200000);
    pr("fp32", NR_RND_RNE, "-0", 0x80000000);
    pr("fp32", NR_RND_RNE, "-0.0e-99999", 0x80000000);
    pr("fp32", NR_RND_RNE, "inf", 0x7f800000);
    pr("fp32", NR_RND_RNE, "-Infinity", 0xff800000);
    pr("fp32", NR_RND_RNE, "NaN", 0x7fc00000);
    pr("fp32", NR_RND_RNE, "-nan", 0x7fc00000);
    pr("e4m3", NR_RND_RNE, "INF", 0x7f);
    pr("int8", NR_RND_RNE, "-inf", 0x80);
    /* a long run of digits */
    char buf[2100];
    strcpy(buf, "0.");
    memset(buf + 2, '3', 2000);
    buf[2002] = 0;
    pr("fp64", NR_RND_RNE, buf, 0x3fd5555555555555ull);
}
END_TEST

static void parse_bad(const char *text, const char *sub)
{
    nr_exact x;
    memset(&x, 0x5a, sizeof x);
    nr_err e = {0};
    int rc = nr_value_exact_parse(text, &x, &e);
    ck_assert_msg(rc == -NR_ESYNTAX && e.code == NR_ESYNTAX, "\"%s\": rc %d, want syntax error",
                  text, rc);
    ck_assert_msg(strstr(e.msg, sub), "\"%s\": message \"%s\" lacks \"%s\"", text, e.msg, sub);
}

START_TEST(parse_junk)
{
    parse_bad("", "expected a number, got empty text");
    parse_bad("  \t ", "expected a number, got empty text");
    parse_bad("abc", "expected a number, got \"abc\"");
    parse_bad("1.5x", "unexpected \"x\" after \"1.5\"");
    parse_bad("1 2", "unexpected \" 2\" after \"1\"");
    parse_bad("0x", "no hex digits after \"0x\"");
    parse_bad("0xg", "no hex digits");
    parse_bad("1e", "no digits in the exponent");
    parse_bad("1e+", "no digits in the exponent");
    parse_bad("0x1p", "no digits in the binary exponent");
    parse_bad("0x1.8e3x", "unexpected \"x\"");
    parse_bad("nan(123)", "NaN payloads are not supported");
    parse_bad("--1", "expected a number, got \"--1\"");
    parse_bad("+", "expected a number");
    parse_bad(".", "expected a number");
    parse_bad("e5", "expected a number");
    parse_bad("infx", "expected a number");
    parse_bad("in", "expected a number");
    parse_bad("1,5", "unexpected \",5\"");
    parse_bad("\x01\x02", "got \"??\"");
    parse_bad("- 1", "expected a number");
    parse_bad("0x1p5.5", "unexpected \".5\"");
    char buf[300];
    memset(buf, 'z', 299);
    buf[299] = 0;
    parse_bad(buf, "zzz...\""); /* quoted text is truncated */
}
END_TEST

/* ---------------------------------------------------------------- suite */

static Suite *suite(void)
{
    Suite *s = suite_create("arith");
    TCase *t = tcase_create("hand");
    tcase_add_test(t, fp32_hand);
    tcase_add_test(t, narrow_hand);
    tcase_add_test(t, fixed_hand);
    tcase_add_test(t, convert_hand);
    tcase_add_test(t, sr_passthrough);
    tcase_add_test(t, exact_ops);
    suite_add_tcase(s, t);
    t = tcase_create("reference");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, fixed_vs_integer);
    tcase_add_loop_test(t, fp32_vs_host, 0, OP_COUNT);
    tcase_add_loop_test(t, fp64_vs_host, 0, OP_COUNT);
    tcase_add_test(t, fp16_via_double);
    tcase_add_test(t, convert_vs_host);
    suite_add_tcase(s, t);
    t = tcase_create("parse");
    tcase_add_test(t, parse_values);
    tcase_add_test(t, parse_junk);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()); }
