/* check_gen_num.c -- differential tests of gen/ir/emit_num.c: JIT-compiled
 * decode / round / sum / product / fma IR against the runtime (nr_decode,
 * nr_encode, nr_arith_exact_add + nr_round_exact, nr_mul, nr_fma, nr_sr_bits),
 * bit for bit, for many formats x all rounding modes. */
#include "testutil.h"
#include "testutil_gen.h"
#include "gen.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NMODES NR_RND_COUNT

static const char *const FORMATS[] = {
    "e6m7-finite-nosub-sat", "e5m7-finite-nosub-sat", "e4m3", "e5m2", "e3m2", "e2m3", "e2m1",
    "fp16", "bf16", "tf32", "fp32", "e8m23-nosub", "e4m3-fnuz", "e5m10-sat", "e11m10", "fp64",
    "e3m4-b-2", "q7.8", "q3.12", "uq8.0", "q15.16-wrap", "int8", "q31.0", "uq4.4-wrap",
    /* 8-bit formats of the masked sum rounding (no subnormals, saturating
     * or finite): every pair of encodings in every mode */
    "e4m3-nosub-finite-sat", "e3m4-nosub-sat", "e5m2-nosub-finite", "e2m5-nosub-finite-sat",
};
#define NFMT (int)(sizeof FORMATS / sizeof FORMATS[0])

/* JIT'ed functions of one format, called through i64 thunks. */
typedef struct {
    nr_format f;
    const char *name;
    gen_jit *jit;
    double (*dec)(uint64_t);
    uint64_t (*rnd[NMODES])(double, uint64_t);
    uint64_t (*sum[NMODES])(double, double, uint64_t);
    uint64_t (*mul[NMODES])(uint64_t, uint64_t, uint64_t);
    uint64_t (*fma[NMODES])(uint64_t, uint64_t, uint64_t, uint64_t);
} jfmt;

static double bits_d(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static uint64_t d_bits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }

/* An external i64/double interface around fn: ints are i64 (truncated on
 * the way in, zero-extended on the way out). */
static void thunk(gen_ctx *g, const char *name, LLVMValueRef fn)
{
    LLVMTypeRef fty = LLVMGlobalGetValueType(fn);
    unsigned n = LLVMCountParamTypes(fty);
    LLVMTypeRef pt[8], tp[8];
    LLVMGetParamTypes(fty, pt);
    for (unsigned i = 0; i < n; i++)
        tp[i] = LLVMGetTypeKind(pt[i]) == LLVMIntegerTypeKind ? g->i64 : pt[i];
    LLVMTypeRef rt = LLVMGetReturnType(fty);
    int rint = LLVMGetTypeKind(rt) == LLVMIntegerTypeKind;
    LLVMValueRef t = gen_emit_function(g, name, LLVMFunctionType(rint ? g->i64 : rt, tp, n, 0), 0);
    LLVMValueRef args[8];
    for (unsigned i = 0; i < n; i++) {
        args[i] = LLVMGetParam(t, i);
        if (tp[i] != pt[i])
            args[i] = LLVMBuildTrunc(g->b, args[i], pt[i], "");
    }
    LLVMValueRef r = LLVMBuildCall2(g->b, fty, fn, args, n, "");
    LLVMBuildRet(g->b, rint ? LLVMBuildZExt(g->b, r, g->i64, "") : r);
}

/* Build, verify, optimise at O2 and JIT all functions of one format. */
static void build(jfmt *J, const char *name, int opt)
{
    memset(J, 0, sizeof *J);
    J->name = name;
    J->f = tu_fmt(name);
    nr_err err = {0};
    gen_ctx *g = NULL;
    ck_assert_msg(gen_emit_new("num", &g, &err) == 0, "%s", err.msg);
    char n[64], t[64];
    thunk(g, "t_dec", gen_num_fn_decode(g, "dec", &J->f));
    for (int m = 0; m < NMODES; m++) {
        snprintf(n, sizeof n, "rnd_%d", m), snprintf(t, sizeof t, "t_rnd_%d", m);
        thunk(g, t, gen_num_fn_round_f64(g, n, &J->f, (nr_rounding)m));
        snprintf(n, sizeof n, "sum_%d", m), snprintf(t, sizeof t, "t_sum_%d", m);
        thunk(g, t, gen_num_fn_round_sum(g, n, &J->f, (nr_rounding)m));
        snprintf(n, sizeof n, "mul_%d", m), snprintf(t, sizeof t, "t_mul_%d", m);
        thunk(g, t, gen_num_fn_mul(g, n, &J->f, &J->f, &J->f, (nr_rounding)m));
        snprintf(n, sizeof n, "fma_%d", m), snprintf(t, sizeof t, "t_fma_%d", m);
        thunk(g, t, gen_num_fn_fma(g, n, &J->f, &J->f, &J->f, (nr_rounding)m));
    }
    ck_assert_msg(gen_emit_verify(g, &err) == 0, "%s: %s", name, err.msg);
    ck_assert_msg(gen_emit_optimize(g, opt, &err) == 0, "%s: %s", name, err.msg);
    ck_assert_msg(gen_emit_verify(g, &err) == 0, "%s after O%d: %s", name, opt, err.msg);
    ck_assert_msg(gen_jit_new(&J->jit, &err) == 0, "%s", err.msg);
    ck_assert_msg(gen_jit_add(J->jit, g, &err) == 0, "%s", err.msg);
    gen_emit_free(g);
    J->dec = (double (*)(uint64_t))tu_jit_look(J->jit, "t_dec");
    for (int m = 0; m < NMODES; m++) {
        snprintf(t, sizeof t, "t_rnd_%d", m);
        J->rnd[m] = (uint64_t(*)(double, uint64_t))tu_jit_look(J->jit, t);
        snprintf(t, sizeof t, "t_sum_%d", m);
        J->sum[m] = (uint64_t(*)(double, double, uint64_t))tu_jit_look(J->jit, t);
        snprintf(t, sizeof t, "t_mul_%d", m);
        J->mul[m] = (uint64_t(*)(uint64_t, uint64_t, uint64_t))tu_jit_look(J->jit, t);
        snprintf(t, sizeof t, "t_fma_%d", m);
        J->fma[m] = (uint64_t(*)(uint64_t, uint64_t, uint64_t, uint64_t))tu_jit_look(J->jit, t);
    }
}

/* ------------------------------------------------------------ references */

/* round(a + b) exactly, with nr_add's zero rules ([rnd-4]). */
static uint64_t ref_sum(const nr_format *f, nr_rounding m, double a, double b, uint32_t sr)
{
    nr_exact x, y, s;
    nr_exact_from_double(a, &x);
    nr_exact_from_double(b, &y);
    nr_arith_exact_add(&x, &y, m, &s);
    return nr_round_exact(f, m, &s, sr, NULL);
}

/* ------------------------------------------------------------ inputs */

static uint64_t rand_enc(const nr_format *f, uint64_t *st)
{
    return tu_rand(st) & (f->width == 64 ? ~0ull : (1ull << f->width) - 1);
}

/* A random double: raw bits (whole range), or near the format's range. */
static double rand_double(const nr_format *f, uint64_t *st)
{
    uint64_t r = tu_rand(st);
    switch (r % 4) {
    case 0: return bits_d(tu_rand(st));
    case 1: { /* any double near f's binades */
        int lo = f->kind == NR_FLOAT ? f->emin - f->man_bits - 4 : -f->frac_bits - 4;
        int hi = (int)ilogb(f->max_finite) + 3;
        int e = lo + (int)(tu_rand(st) % (uint64_t)(hi - lo + 1));
        double m = ldexp((double)(tu_rand(st) >> 11), -53); /* [0, 1) */
        double v = ldexp(1.0 + m, e);
        return (r >> 8) & 1 ? -v : v;
    }
    case 2: { /* a value of f, nudged */
        double v = nr_decode(f, rand_enc(f, st));
        if (!isfinite(v))
            return v;
        int k = (int)(tu_rand(st) % 5) - 2;
        for (; k > 0; k--) v = nextafter(v, INFINITY);
        for (; k < 0; k++) v = nextafter(v, -INFINITY);
        return v;
    }
    default: { /* midpoint of two neighbouring values of f */
        uint64_t e = rand_enc(f, st);
        double v = nr_decode(f, e), w = nr_decode(f, e + 1);
        return isfinite(v) && isfinite(w) ? v / 2 + w / 2 : v;
    }
    }
}

/* Boundary and special doubles for f. */
static int boundary_doubles(const nr_format *f, double *out, int cap)
{
    int n = 0;
    double base[] = {0.0, INFINITY, NAN, bits_d(0x7ff0000000000001ull), bits_d(0xfff8000000000123ull),
                     DBL_MAX, DBL_MIN, DBL_TRUE_MIN, 3 * DBL_TRUE_MIN, DBL_MIN / 3, 1.0,
                     f->max_finite, f->min_normal, f->min_subnormal, f->epsilon,
                     f->max_finite + ldexp(f->max_finite, -f->prec - 1),
                     f->max_finite + ldexp(f->max_finite, -f->prec),
                     f->min_normal / 2, f->min_subnormal / 2, f->min_subnormal * 1.5,
                     f->min_subnormal * 0.75, f->min_normal * 0.75, f->min_normal - f->min_subnormal / 2,
                     ldexp(1.0, 1023) * 1.9999999, 4294967296.0, 18446744073709551616.0,
                     9223372036854775808.0, -ldexp(1.0, 63) - 4096.0};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        double v = base[i];
        double c[] = {v, nextafter(v, INFINITY), nextafter(v, 0)};
        for (int j = 0; j < 3 && n + 2 <= cap; j++)
            out[n++] = c[j], out[n++] = -c[j];
    }
    return n;
}

/* --------------------------------------------------------- failure report */

typedef struct {
    long fails;
    const char *what;
    const jfmt *J;
} rep;

static void report(rep *r, int m, const char *in, uint64_t exp, uint64_t got)
{
    if (r->fails++ < 12)
        fprintf(stderr, "MISMATCH %s %s %s: %s -> expected 0x%llx got 0x%llx\n", r->what,
                r->J->name, nr_format_rounding_name((nr_rounding)m), in, (unsigned long long)exp,
                (unsigned long long)got);
}

static long scale(long n) { return tu_exhaustive() ? n * 20 : tu_quick() ? n / 10 + 1 : n; }

/* --------------------------------------------------------------- checks */

static long check_decode(const jfmt *J, uint64_t *st)
{
    rep r = {0, "decode", J};
    const nr_format *f = &J->f;
    long all = f->width <= 16 || (tu_exhaustive() && f->width <= 24);
    long n = all ? 1l << f->width : scale(200000);
    for (long i = 0; i < n; i++) {
        uint64_t b = all ? (uint64_t)i : rand_enc(f, st);
        double e = nr_decode(f, b), got = J->dec(b);
        if (d_bits(e) != d_bits(got)) {
            char in[64];
            snprintf(in, sizeof in, "bits 0x%llx", (unsigned long long)b);
            report(&r, 0, in, d_bits(e), d_bits(got));
        }
    }
    return r.fails;
}

static void one_round(rep *r, const jfmt *J, int m, double x, uint32_t sr)
{
    uint64_t e = nr_encode(&J->f, (nr_rounding)m, x, sr, NULL);
    uint64_t got = J->rnd[m](x, sr);
    if (e != got) {
        char in[96];
        snprintf(in, sizeof in, "x=%a (0x%016llx) sr=0x%08x", x, (unsigned long long)d_bits(x), sr);
        report(r, m, in, e, got);
    }
}

static long check_round(const jfmt *J, uint64_t *st)
{
    rep r = {0, "round_f64", J};
    const nr_format *f = &J->f;
    double bd[256];
    int nb = boundary_doubles(f, bd, 256);
    uint32_t srs[] = {0, 1, 0x7fffffff, 0x80000000u, 0xffffffffu};
    for (int m = 0; m < NMODES; m++) {
        for (int i = 0; i < nb; i++)
            for (int k = 0; k < (m == NR_RND_SR ? 5 : 1); k++)
                one_round(&r, J, m, bd[i], srs[k]);
        /* every encoding's value, its double neighbours and the midpoints */
        long all = f->width <= 16 ? 1l << f->width : scale(20000);
        for (long i = 0; i < all; i++) {
            uint64_t b = f->width <= 16 ? (uint64_t)i : rand_enc(f, st);
            double v = nr_decode(f, b), w = nr_decode(f, b + 1);
            uint32_t sr = (uint32_t)tu_rand(st);
            one_round(&r, J, m, v, sr);
            one_round(&r, J, m, nextafter(v, INFINITY), sr);
            one_round(&r, J, m, nextafter(v, -INFINITY), sr);
            if (isfinite(v) && isfinite(w)) {
                double mid = v / 2 + w / 2;
                one_round(&r, J, m, mid, sr);
                one_round(&r, J, m, nextafter(mid, INFINITY), sr);
                one_round(&r, J, m, nextafter(mid, -INFINITY), sr);
                /* [rnd-sr] a fraction of j/2^32, exact in double for prec <= 21:
                 * r = j-1, j, j+1 straddle the threshold */
                if (m == NR_RND_SR && f->prec <= 21 && fabs(w) > fabs(v)) {
                    uint32_t j = (uint32_t)tu_rand(st) | 1;
                    double x = v + (w - v) * ldexp((double)j, -32);
                    one_round(&r, J, m, x, j - 1);
                    one_round(&r, J, m, x, j);
                    one_round(&r, J, m, x, j + 1);
                }
            }
        }
        long n = scale(60000);
        for (long i = 0; i < n; i++)
            one_round(&r, J, m, rand_double(f, st), (uint32_t)tu_rand(st));
    }
    return r.fails;
}

static void one_sum(rep *r, const jfmt *J, int m, double a, double b, uint32_t sr)
{
    uint64_t e = ref_sum(&J->f, (nr_rounding)m, a, b, sr);
    uint64_t got = J->sum[m](a, b, sr);
    if (e != got) {
        char in[160];
        snprintf(in, sizeof in, "a=%a (0x%016llx) b=%a (0x%016llx) sr=0x%08x", a,
                 (unsigned long long)d_bits(a), b, (unsigned long long)d_bits(b), sr);
        report(r, m, in, e, got);
    }
}

/* A huge term plus a value with fine bits: the sum has 128 and more
 * significant bits, and -wrap keeps its low integer bits.  The runtime
 * keeps the exact sum's top 128 bits (nr_arith_exact_add); 2^111 + 2^-16 and
 * 2^111 - 2^-16 into q15.16-wrap are the kind of sum that lost a bit.
 * Huge exponents from 2^90 to 2^1023 (the 128-bit boundary for every F in
 * the list near its middle), the small one a value of f or a double with
 * 53 bits; both orders and all signs. */
static void check_sum_huge(rep *r, const jfmt *J, int m, uint64_t *st)
{
    const nr_format *f = &J->f;
    long n = scale(6000);
    for (long i = 0; i < n; i++) {
        int e = i % 3 ? 90 + (int)(tu_rand(st) % 80) : 90 + (int)(tu_rand(st) % 934);
        double frac = i % 4 == 0 ? 0 : ldexp((double)(tu_rand(st) >> 11), -53);
        double big = ldexp(1.0 + frac, e);
        double small = i % 2 ? nr_decode(f, rand_enc(f, st))
                             : ldexp(1.0 + ldexp((double)(tu_rand(st) >> 11), -53),
                                     (int)(tu_rand(st) % 40) - 24);
        if (tu_rand(st) & 1)
            big = -big;
        if (tu_rand(st) & 1)
            small = -small;
        uint32_t sr = (uint32_t)tu_rand(st);
        one_sum(r, J, m, big, small, sr);
        one_sum(r, J, m, small, big, sr);
    }
    /* the boundary exactly: 2^t +- 2^-F for t around 127 - F */
    if (f->kind == NR_FIXED)
        for (int t = 100 - f->frac_bits; t <= 140 - f->frac_bits; t++)
            for (int sg = 0; sg < 4; sg++) {
                double a = ldexp(sg & 1 ? -1.0 : 1.0, t);
                double b = ldexp(sg & 2 ? -1.0 : 1.0, -f->frac_bits);
                one_sum(r, J, m, a, b, (uint32_t)tu_rand(st));
                one_sum(r, J, m, a, 3 * b, (uint32_t)tu_rand(st));
            }
}

static long check_sum(const jfmt *J, uint64_t *st)
{
    rep r = {0, "round_sum", J};
    const nr_format *f = &J->f;
    double bd[256];
    int nb = boundary_doubles(f, bd, 256);
    for (int m = 0; m < NMODES; m++) {
        if (f->width <= 8) { /* every pair of encodings */
            for (uint64_t a = 0; a < 1u << f->width; a++)
                for (uint64_t b = 0; b < 1u << f->width; b++)
                    one_sum(&r, J, m, nr_decode(f, a), nr_decode(f, b), (uint32_t)tu_rand(st));
        }
        for (int i = 0; i < nb; i++)
            for (int k = 0; k < nb; k += 7)
                one_sum(&r, J, m, bd[i], bd[k], (uint32_t)tu_rand(st));
        /* sums that overflow the double (TwoSum's s = inf) or come close */
        double big[] = {DBL_MAX, f->max_finite, nextafter(DBL_MAX, 0), ldexp(1.0, 1023),
                        ldexp(1.5, 1023), ldexp(1.0, 1022), ldexp(1.0, 970), ldexp(1.0, 971)};
        for (int i = 0; i < 8; i++)
            for (int k = 0; k < 8; k++)
                for (int sg = 0; sg < 4; sg++)
                    one_sum(&r, J, m, sg & 1 ? -big[i] : big[i], sg & 2 ? -big[k] : big[k],
                            (uint32_t)tu_rand(st));
        long n = scale(40000);
        for (long i = 0; i < n; i++) {
            double a = nr_decode(f, rand_enc(f, st)), b;
            uint32_t sr = (uint32_t)tu_rand(st);
            switch (i % 6) {
            case 0: b = nr_decode(f, rand_enc(f, st)); break;
            case 1: b = -a; break; /* exact cancellation */
            case 2: b = -a * (1 + ldexp(1.0, -(int)(tu_rand(st) % 60))); break; /* near-cancel */
            case 3: b = ldexp(nr_decode(f, rand_enc(f, st)), -(int)(tu_rand(st) % 1100)); break;
            case 4: a = rand_double(f, st), b = rand_double(f, st); break;
            default: /* product of two values (the unfused MAC's p) */
                b = nr_decode(f, rand_enc(f, st)) * nr_decode(f, rand_enc(f, st));
                break;
            }
            one_sum(&r, J, m, a, b, sr);
        }
        check_sum_huge(&r, J, m, st);
    }
    return r.fails;
}

static long check_mul_fma(const jfmt *J, uint64_t *st)
{
    rep r = {0, "mul", J}, rf = {0, "fma", J};
    const nr_format *f = &J->f;
    char in[160];
    for (int m = 0; m < NMODES; m++) {
        long n = f->width <= 8 ? 1l << (2 * f->width) : scale(40000);
        for (long i = 0; i < n; i++) {
            uint64_t a = f->width <= 8 ? (uint64_t)i >> f->width : rand_enc(f, st);
            uint64_t b = f->width <= 8 ? (uint64_t)i & ((1u << f->width) - 1) : rand_enc(f, st);
            uint32_t sr = (uint32_t)tu_rand(st);
            uint64_t e = nr_mul(f, (nr_rounding)m, a, b, sr, NULL), got = J->mul[m](a, b, sr);
            if (e != got) {
                snprintf(in, sizeof in, "a=0x%llx b=0x%llx sr=0x%08x", (unsigned long long)a,
                         (unsigned long long)b, sr);
                report(&r, m, in, e, got);
            }
        }
        n = scale(30000);
        for (long i = 0; i < n; i++) {
            uint64_t a = rand_enc(f, st), b = rand_enc(f, st), c = rand_enc(f, st);
            if (i % 4 == 1) { /* c cancels the product (nearly) */
                double p = nr_decode(f, a) * nr_decode(f, b);
                c = nr_encode(f, (nr_rounding)(tu_rand(st) % 6), -p, 0, NULL);
            }
            uint32_t sr = (uint32_t)tu_rand(st);
            uint64_t e = nr_fma(f, (nr_rounding)m, a, b, c, sr, NULL);
            uint64_t got = J->fma[m](a, b, c, sr);
            if (e != got) {
                snprintf(in, sizeof in, "a=0x%llx b=0x%llx c=0x%llx sr=0x%08x", (unsigned long long)a,
                         (unsigned long long)b, (unsigned long long)c, sr);
                report(&rf, m, in, e, got);
            }
        }
    }
    return r.fails + rf.fails;
}

START_TEST(formats)
{
    const char *name = FORMATS[_i];
    uint64_t st = 0x9e3779b97f4a7c15ull ^ (uint64_t)_i * 0x1234567ull;
    fprintf(stderr, "# %s seed 0x%llx\n", name, (unsigned long long)st);
    jfmt J;
    build(&J, name, 2);
    long fd = check_decode(&J, &st), fr = check_round(&J, &st), fs = check_sum(&J, &st);
    long fm = check_mul_fma(&J, &st);
    gen_jit_free(J.jit);
    ck_assert_msg(fd + fr + fs + fm == 0, "%s: %ld decode, %ld round, %ld sum, %ld mul/fma mismatches",
                  name, fd, fr, fs, fm);
}
END_TEST

/* Products and fused multiply-adds across formats: the double path
 * (exact products) and the i128 path (fp32 x fp32, fp64). */
START_TEST(mixed_formats)
{
    static const char *const combos[][3] = {
        {"e4m3", "e5m2", "fp16"}, {"bf16", "bf16", "fp32"}, {"fp32", "fp32", "fp32"},
        {"fp32", "fp16", "bf16"}, {"fp64", "fp64", "e6m7-finite-nosub-sat"},
        {"q7.8", "q3.12", "q15.16"}, {"int8", "e4m3", "fp32"}, {"e2m1", "e2m1", "e2m3"},
        {"fp64", "fp64", "fp64"}, {"e11m10", "e11m10", "fp16"},
    };
    uint64_t st = 77;
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        nr_format fa = tu_fmt(combos[c][0]), fb = tu_fmt(combos[c][1]), fp = tu_fmt(combos[c][2]);
        nr_err err = {0};
        gen_ctx *g = NULL;
        gen_jit *j = NULL;
        ck_assert(gen_emit_new("mixed", &g, &err) == 0);
        char n[32], t[32];
        for (int m = 0; m < NMODES; m++) {
            snprintf(n, sizeof n, "mul_%d", m), snprintf(t, sizeof t, "t_mul_%d", m);
            thunk(g, t, gen_num_fn_mul(g, n, &fa, &fb, &fp, (nr_rounding)m));
            snprintf(n, sizeof n, "fma_%d", m), snprintf(t, sizeof t, "t_fma_%d", m);
            thunk(g, t, gen_num_fn_fma(g, n, &fa, &fb, &fp, (nr_rounding)m));
        }
        ck_assert_msg(gen_emit_verify(g, &err) == 0, "%s", err.msg);
        ck_assert_msg(gen_emit_optimize(g, 2, &err) == 0, "%s", err.msg);
        ck_assert(gen_jit_new(&j, &err) == 0);
        ck_assert_msg(gen_jit_add(j, g, &err) == 0, "%s", err.msg);
        gen_emit_free(g);
        long fails = 0;
        for (int m = 0; m < NMODES; m++) {
            snprintf(t, sizeof t, "t_mul_%d", m);
            uint64_t (*mul)(uint64_t, uint64_t, uint64_t) = (uint64_t(*)(uint64_t, uint64_t, uint64_t))tu_jit_look(j, t);
            snprintf(t, sizeof t, "t_fma_%d", m);
            uint64_t (*fma)(uint64_t, uint64_t, uint64_t, uint64_t) =
                (uint64_t(*)(uint64_t, uint64_t, uint64_t, uint64_t))tu_jit_look(j, t);
            long n = scale(30000);
            for (long i = 0; i < n; i++) {
                uint64_t a = rand_enc(&fa, &st), b = rand_enc(&fb, &st), cc = rand_enc(&fp, &st);
                uint32_t sr = (uint32_t)tu_rand(&st);
                nr_exact x, y, p, z, s;
                nr_codec_decode_exact(&fa, a, &x);
                nr_codec_decode_exact(&fb, b, &y);
                nr_arith_exact_mul(&x, &y, &p);
                uint64_t e = nr_round_exact(&fp, (nr_rounding)m, &p, sr, NULL), got = mul(a, b, sr);
                nr_codec_decode_exact(&fp, cc, &z);
                nr_arith_exact_add(&p, &z, (nr_rounding)m, &s);
                uint64_t ef = nr_round_exact(&fp, (nr_rounding)m, &s, sr, NULL), gf = fma(a, b, cc, sr);
                if ((e != got || ef != gf) && fails++ < 12)
                    fprintf(stderr, "MISMATCH mixed %s*%s->%s %s: a=0x%llx b=0x%llx c=0x%llx sr=0x%08x: "
                            "mul expected 0x%llx got 0x%llx, fma expected 0x%llx got 0x%llx\n",
                            combos[c][0], combos[c][1], combos[c][2], nr_format_rounding_name((nr_rounding)m),
                            (unsigned long long)a, (unsigned long long)b, (unsigned long long)cc, sr,
                            (unsigned long long)e, (unsigned long long)got, (unsigned long long)ef,
                            (unsigned long long)gf);
            }
        }
        gen_jit_free(j);
        ck_assert_msg(fails == 0, "%s*%s->%s: %ld mismatches", combos[c][0], combos[c][1],
                      combos[c][2], fails);
    }
}
END_TEST

START_TEST(sr_bits)
{
    nr_err err = {0};
    gen_ctx *g = NULL;
    gen_jit *j = NULL;
    ck_assert(gen_emit_new("sr", &g, &err) == 0);
    gen_num_fn_sr_bits(g, "sr_bits");
    ck_assert_msg(gen_emit_verify(g, &err) == 0, "%s", err.msg);
    ck_assert(gen_jit_new(&j, &err) == 0);
    ck_assert_msg(gen_jit_add(j, g, &err) == 0, "%s", err.msg);
    gen_emit_free(g);
    uint32_t (*fn)(uint64_t, uint32_t, uint64_t, uint32_t) =
        (uint32_t(*)(uint64_t, uint32_t, uint64_t, uint32_t))tu_jit_look(j, "sr_bits");
    uint64_t st = 5;
    long fails = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t seed = tu_rand(&st), el = tu_rand(&st) >> (i % 64);
        uint32_t lay = (uint32_t)tu_rand(&st), term = (uint32_t)tu_rand(&st);
        uint32_t e = nr_sr_bits(seed, lay, el, term), got = fn(seed, lay, el, term);
        if (e != got && fails++ < 10)
            fprintf(stderr, "MISMATCH sr_bits(0x%llx, %u, 0x%llx, %u): expected 0x%08x got 0x%08x\n",
                    (unsigned long long)seed, lay, (unsigned long long)el, term, e, got);
    }
    gen_jit_free(j);
    ck_assert_int_eq(fails, 0);
}
END_TEST

/* The JIT plumbing: errors come back as nr_err, not crashes. */
START_TEST(jit_errors)
{
    nr_err err = {0};
    gen_ctx *g = NULL;
    gen_jit *j = NULL;
    ck_assert(gen_emit_new("bad", &g, &err) == 0);
    /* a function without a terminator: the verifier must say so */
    gen_emit_function(g, "broken", LLVMFunctionType(g->i32, NULL, 0, 0), 0);
    ck_assert_int_eq(gen_emit_verify(g, &err), -NR_EINTERNAL);
    ck_assert_msg(strstr(err.where, "verifier") != NULL, "%s", err.where);
    gen_emit_free(g);
    ck_assert(gen_jit_new(&j, &err) == 0);
    nr_err_clear(&err);
    void *p = (void *)1;
    ck_assert_int_eq(gen_jit_lookup(j, "no_such_symbol", &p, &err), -NR_EINTERNAL);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err.msg, "no_such_symbol") != NULL, "%s", err.msg);
    gen_jit_free(j);
}
END_TEST

/* Print (not assert) how long a 50-function module takes at O2. */
START_TEST(compile_time)
{
    static const char *const names[] = {"e6m7-finite-nosub-sat", "fp16", "e4m3", "bf16", "q7.8"};
    nr_err err = {0};
    gen_ctx *g = NULL;
    gen_jit *j = NULL;
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert(gen_emit_new("ct", &g, &err) == 0);
    char n[32];
    int count = 0;
    for (int i = 0; i < 5; i++) {
        nr_format f = tu_fmt(names[i]);
        for (int m = 0; m < 5; m++) {
            snprintf(n, sizeof n, "s_%d_%d", i, m), thunk(g, n, gen_num_fn_round_sum(g, n + 1, &f, (nr_rounding)m));
            n[0] = 'm', snprintf(n + 1, sizeof n - 1, "_%d_%d", i, m);
            thunk(g, n, gen_num_fn_mul(g, n + 1, &f, &f, &f, (nr_rounding)m));
            count += 2;
        }
    }
    ck_assert_msg(gen_emit_optimize(g, 2, &err) == 0, "%s", err.msg);
    ck_assert(gen_jit_new(&j, &err) == 0);
    ck_assert(gen_jit_add(j, g, &err) == 0);
    gen_emit_free(g);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    void *p;
    ck_assert(gen_jit_lookup(j, "s_0_0", &p, &err) == 0); /* materialises the module */
    clock_gettime(CLOCK_MONOTONIC, &t2);
    printf("# compile_time: %d functions: emit+O2 %.1f ms, codegen %.1f ms\n", count,
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
           (t2.tv_sec - t1.tv_sec) * 1e3 + (t2.tv_nsec - t1.tv_nsec) / 1e6);
    gen_jit_free(j);
}
END_TEST

/* emit_vmac.c's split_rne (Veltkamp's splitting in float lanes) is rne to
 * p bits: c = fl(v * (2^(24-p) + 1)), r = fl(c - fl(c - v)), for every float
 * in [1/2, 1) (every normal binade: the operations commute with scaling by
 * powers of two while nothing is subnormal or infinite) and p = 2..12, ties
 * to even included; the reference is rint (the default rne mode) of v
 * scaled to a p-bit integer. */
START_TEST(split_rne)
{
    long bad = 0;
    for (int p = 2; p <= 12; p++) {
        volatile float K = (float)(ldexp(1.0, 24 - p) + 1);
        for (uint32_t b = 0x3f000000u; b < 0x3f800000u; b++) {
            float v;
            memcpy(&v, &b, sizeof v);
            volatile float c = v * K, d = c - v;
            float r = c - d;
            double ref = ldexp(rint(ldexp((double)v, p)), -p);
            bad += (double)r != ref;
        }
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gen_num");
    TCase *t = tcase_create("num");
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, formats, 0, NFMT);
    tcase_add_test(t, mixed_formats);
    tcase_add_test(t, sr_bits);
    tcase_add_test(t, jit_errors);
    tcase_add_test(t, compile_time);
    tcase_add_test(t, split_rne);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()); }
