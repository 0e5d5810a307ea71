/* check_hardware.c -- libnumrep against this CPU's own IEEE arithmetic: F16C
 * fp32<->fp16 conversion in all four rounding controls, AVX512-BF16's
 * fp32->bf16 conversion, and native binary32 add/sub/mul/div/sqrt/fma in all
 * four IEEE rounding directions (fesetround), bit for bit.  Each part is
 * skipped with a note when the CPU lacks the feature.  Intrinsics are enabled
 * per function (target attributes), so no -march flag is needed. */
#include "testutil.h"

#include <fenv.h>
#include <immintrin.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
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

static uint64_t rnd(uint64_t *s) { return tu_rand(s); }

typedef struct hstats {
    long checks, fails;
} hstats;

static void hfail(hstats *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hfail(hstats *h, const char *fmt, ...)
{
    if (++h->fails > 40)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* ---------------------------------------------------------------- fp16 (F16C) */

/* imm8 rounding control of vcvtps2ph: 0 nearest-even, 1 down, 2 up, 3 zero */
static const struct { int imm; nr_rounding m; } f16modes[] = {
    {_MM_FROUND_TO_NEAREST_INT, NR_RND_RNE},
    {_MM_FROUND_TO_NEG_INF, NR_RND_RD},
    {_MM_FROUND_TO_POS_INF, NR_RND_RU},
    {_MM_FROUND_TO_ZERO, NR_RND_RZ},
};

__attribute__((target("f16c"))) static void hw_f32_to_f16(const float *in, uint16_t *out, int k)
{
    __m256 v = _mm256_loadu_ps(in);
    __m128i r;
    switch (k) { /* the rounding control must be an immediate */
    case 0: r = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); break;
    case 1: r = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); break;
    case 2: r = _mm256_cvtps_ph(v, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC); break;
    default: r = _mm256_cvtps_ph(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); break;
    }
    _mm_storeu_si128((__m128i *)out, r);
}

__attribute__((target("f16c"))) static void hw_f16_to_f32(const uint16_t *in, float *out)
{
    _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)in)));
}

static int is_nan16(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

/* Compare 8 floats' conversions in all four controls. */
static void f16_block(hstats *h, const nr_format *fp16, const float *x)
{
    for (int k = 0; k < 4; k++) {
        uint16_t hw[8];
        hw_f32_to_f16(x, hw, k);
        for (int i = 0; i < 8; i++) {
            uint64_t lib = nr_codec_encode_f32(fp16, f16modes[k].m, x[i], 0, NULL);
            h->checks++;
            int ok = is_nan16(hw[i]) ? nr_codec_classify(fp16, lib) == NR_CLS_NAN : lib == hw[i];
            if (!ok)
                hfail(h, "fp16 encode_f32 mode %s input 0x%08x (%a): cpu 0x%04x, lib 0x%04llx",
                      nr_format_rounding_name(f16modes[k].m), f2u(x[i]), (double)x[i], hw[i],
                      (unsigned long long)lib);
        }
    }
}

START_TEST(test_fp16_f16c)
{
    if (!__builtin_cpu_supports("f16c")) {
        tu_skip("fp16 hardware comparison: CPU without F16C");
        return;
    }
    nr_format fp16 = tu_fmt("fp16");
    hstats h = {0, 0};
    /* decode: all 65536 encodings */
    for (uint32_t b = 0; b < 65536; b += 8) {
        uint16_t in[8];
        float out[8];
        for (int i = 0; i < 8; i++)
            in[i] = (uint16_t)(b + i);
        hw_f16_to_f32(in, out);
        for (int i = 0; i < 8; i++) {
            double d = nr_decode(&fp16, in[i]);
            h.checks++;
            int ok = isnan(out[i]) ? isnan(d) : memcmp(&(double){out[i]}, &d, 8) == 0;
            if (!ok)
                hfail(&h, "fp16 decode 0x%04x: cpu %a, lib %a", in[i], (double)out[i], d);
        }
    }
    /* encode: a stride over all floats, plus, for every fp16-relevant
     * exponent, the bit patterns around ties and the rounding boundary */
    float blk[8];
    int nb = 0;
    const uint64_t stride = tu_exhaustive() ? 1 : tu_quick() ? 1000003 : 257;
    for (uint64_t u = 0; u < (1ull << 32); u += stride) {
        blk[nb++] = u2f((uint32_t)u);
        if (nb == 8)
            f16_block(&h, &fp16, blk), nb = 0;
    }
    static const uint32_t lows[] = {0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x7ff, 0x800};
    if (!tu_exhaustive()) {
        /* fp16 keeps 10 of float's 23 fraction bits (fewer when subnormal):
         * vary the kept bits, exponents 2^-26..2^17, both signs, and the
         * dropped bits at the tie and beside it */
        const uint32_t estep = tu_quick() ? 97 : 1;
        for (uint32_t e = 127 - 26; e <= 127 + 17; e++)
            for (uint32_t m = 0; m < 1024; m += estep)
                for (int s = 0; s < 2; s++)
                    for (size_t l = 0; l < sizeof lows / sizeof lows[0]; l++) {
                        /* subnormal fp16 results drop sh more bits */
                        int sh = e < 127 - 14 ? (int)(127 - 14 - e) : 0;
                        uint32_t frac = (m << (13 + sh) | lows[l] << sh | (lows[l] & 1)) & 0x7fffff;
                        uint32_t u = (uint32_t)s << 31 | e << 23 | frac;
                        blk[nb++] = u2f(u);
                        if (nb == 8)
                            f16_block(&h, &fp16, blk), nb = 0;
                    }
    }
    printf("fp16 vs F16C: %ld checks, %ld failures\n", h.checks, h.fails);
    ck_assert_msg(h.fails == 0, "%ld fp16 mismatches against the CPU", h.fails);
}
END_TEST

/* ---------------------------------------------------------------- bf16 (AVX512-BF16) */

__attribute__((target("avx512f,avx512bf16"))) static void hw_f32_to_bf16(const float *in,
                                                                        uint16_t *out)
{
    __m256bh r = _mm512_cvtneps_pbh(_mm512_loadu_ps(in));
    __m256i ri;
    memcpy(&ri, &r, sizeof ri);
    _mm256_storeu_si256((__m256i *)out, ri);
}

START_TEST(test_bf16_avx512)
{
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bf16")) {
        tu_skip("bf16 hardware comparison: CPU without AVX512-BF16");
        return;
    }
    nr_format bf16 = tu_fmt("bf16");
    hstats h = {0, 0};
    long denormals = 0;
    /* VCVTNEPS2BF16 rounds to nearest even but treats denormal inputs as
     * (signed) zero and ignores MXCSR (Intel SDM).  numrep rounds denormal
     * fp32 inputs to bf16 subnormals, so those inputs are compared against
     * the documented DAZ behaviour only, not against the library. */
    const uint64_t stride = tu_exhaustive() ? 1 : tu_quick() ? 1000003 : 61;
    float in[16];
    uint16_t out[16];
    int n = 0;
    uint64_t s = 42;
    const uint64_t nstride = (1ull << 32) / stride, nties = tu_quick() ? 4096 : 1 << 20;
    for (uint64_t j = 0; j < nstride + nties; j++) {
        uint32_t x = (uint32_t)(j * stride);
        if (j >= nstride) /* tie patterns: dropped 16 bits 0x8000 and beside it */
            x = (uint32_t)(rnd(&s) & 0xffff0000u) | (uint32_t)(0x7fff + (j & 3));
        in[n++] = u2f(x);
        if (n < 16)
            continue;
        n = 0;
        hw_f32_to_bf16(in, out);
        for (int i = 0; i < 16; i++) {
            uint32_t xb = f2u(in[i]);
            h.checks++;
            if ((xb & 0x7f800000) == 0 && (xb & 0x7fffff)) {
                denormals++;
                if (out[i] != (xb >> 16 & 0x8000))
                    hfail(&h, "bf16 cpu 0x%08x: expected DAZ signed zero, cpu 0x%04x", xb, out[i]);
                continue;
            }
            uint64_t lib = nr_codec_encode_f32(&bf16, NR_RND_RNE, in[i], 0, NULL);
            int ok = isnan(in[i]) ? nr_codec_classify(&bf16, lib) == NR_CLS_NAN &&
                                        (out[i] & 0x7f80) == 0x7f80 && (out[i] & 0x7f)
                                  : lib == out[i];
            if (!ok)
                hfail(&h, "bf16 encode_f32 rne input 0x%08x (%a): cpu 0x%04x, lib 0x%04llx", xb,
                      (double)in[i], out[i], (unsigned long long)lib);
        }
    }
    printf("bf16 vs AVX512-BF16: %ld checks (%ld denormal inputs checked against DAZ only), "
           "%ld failures\n", h.checks, denormals, h.fails);
    ck_assert_msg(h.fails == 0, "%ld bf16 mismatches against the CPU", h.fails);
}
END_TEST

/* ---------------------------------------------------------------- binary32 arithmetic */

static const struct { int fe; nr_rounding m; } fe_modes[] = {
    {FE_TONEAREST, NR_RND_RNE},
    {FE_UPWARD, NR_RND_RU},
    {FE_DOWNWARD, NR_RND_RD},
    {FE_TOWARDZERO, NR_RND_RZ},
};

static float operand(uint64_t *s)
{
    static const uint32_t sp[] = {0, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                                  0x7f7fffffu, 0xff7fffffu, 0x00800000u, 0x00000001u,
                                  0x807fffffu, 0x3f800000u, 0xbf800000u, 0x00400000u,
                                  0x33800000u, 0x4b800000u, 0x7f000000u};
    uint64_t r = rnd(s);
    switch (r & 15) {
    case 0: return u2f(sp[r >> 8 & 15]);
    case 1: return u2f((uint32_t)(r >> 32) & 0x807fffffu); /* denormal */
    case 2: /* near 1 */
        return u2f((uint32_t)(r >> 32 & 0x80000000u) | (uint32_t)((126 + (r >> 20 & 3)) << 23) |
                   (uint32_t)(r >> 40 & 0x7fffff));
    case 3: /* near the top */
        return u2f((uint32_t)(r >> 32 & 0x80000000u) | (uint32_t)((250 + (r >> 20 & 3)) << 23) |
                   (uint32_t)(r >> 40 & 0x7fffff));
    default: return u2f((uint32_t)(r >> 32));
    }
}

/* Volatile operands and results keep the compiler from folding or moving
 * the operations across fesetround. */
__attribute__((target("fma"))) static float hw_op(int op, float a, float b, float c)
{
    volatile float va = a, vb = b, vc = c, r;
    switch (op) {
    case 0: r = va + vb; break;
    case 1: r = va - vb; break;
    case 2: r = va * vb; break;
    case 3: r = va / vb; break;
    case 4: r = __builtin_fmaf(va, vb, vc); break;
    default: r = __builtin_sqrtf(va); break;
    }
    return r;
}

static uint64_t lib_op(const nr_format *f, int op, nr_rounding m, uint32_t a, uint32_t b,
                       uint32_t c, unsigned *fl)
{
    switch (op) {
    case 0: return nr_add(f, m, a, b, 0, fl);
    case 1: return nr_sub(f, m, a, b, 0, fl);
    case 2: return nr_mul(f, m, a, b, 0, fl);
    case 3: return nr_div(f, m, a, b, 0, fl);
    case 4: return nr_fma(f, m, a, b, c, 0, fl);
    default: return nr_sqrt(f, m, a, 0, fl);
    }
}

START_TEST(test_fp32_arith)
{
    static const char *const opn[] = {"add", "sub", "mul", "div", "fma", "sqrt"};
    int have_fma = __builtin_cpu_supports("fma");
    nr_format fp32 = tu_fmt("fp32");
    hstats h = {0, 0};
    long flag_checks = 0;
    uint64_t s = 0x68617264ull;
    long n = tu_exhaustive() ? 50000000 : tu_quick() ? 20000 : 3000000;
    for (long i = 0; i < n; i++) {
        float a = operand(&s), b = operand(&s), c = operand(&s);
        if (i % 4 == 1) /* near-cancelling */
            b = u2f(f2u(a) ^ (uint32_t)(rnd(&s) & 0x1f));
        int op = (int)(i % 6);
        if (op == 4 && !have_fma)
            continue;
        for (int k = 0; k < 4; k++) {
            fesetround(fe_modes[k].fe);
            feclearexcept(FE_ALL_EXCEPT);
            float r = hw_op(op, a, b, c);
            int ex = fetestexcept(FE_INEXACT | FE_OVERFLOW);
            fesetround(FE_TONEAREST);
            unsigned fl = 0;
            uint64_t lib = lib_op(&fp32, op, fe_modes[k].m, f2u(a), f2u(b), f2u(c), &fl);
            h.checks++;
            int ok = isnan(r) ? nr_codec_classify(&fp32, lib) == NR_CLS_NAN : lib == f2u(r);
            /* flags: INEXACT and OVERFLOW mean the same in both (x86 detects
             * underflow after rounding, numrep before: not compared) */
            int fl_ok = !!(ex & FE_INEXACT) == !!(fl & NR_FLAG_INEXACT) &&
                        !!(ex & FE_OVERFLOW) == !!(fl & NR_FLAG_OVERFLOW);
            flag_checks++;
            if (!ok || !fl_ok)
                hfail(&h, "fp32 %s mode %s a=0x%08x b=0x%08x c=0x%08x: cpu 0x%08x (inexact %d "
                          "overflow %d), lib 0x%08llx (flags 0x%x)",
                      opn[op], nr_format_rounding_name(fe_modes[k].m), f2u(a), f2u(b), f2u(c), f2u(r),
                      !!(ex & FE_INEXACT), !!(ex & FE_OVERFLOW), (unsigned long long)lib, fl);
        }
    }
    printf("fp32 arithmetic vs CPU: %ld checks (bits and inexact/overflow flags), %ld failures\n",
           h.checks, h.fails);
    if (!have_fma)
        tu_skip_part("fp32 fma vs CPU: no FMA unit");
    ck_assert_msg(h.fails == 0, "%ld fp32 mismatches against the CPU", h.fails);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hardware");
    TCase *tc = tcase_create("hardware");
    tcase_set_timeout(tc, 7200);
    tcase_add_test(tc, test_fp16_f16c);
    tcase_add_test(tc, test_bf16_avx512);
    tcase_add_test(tc, test_fp32_arith);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
