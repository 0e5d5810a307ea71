/* bulk.c -- array kernels: float32 arrays rounded into a format, encoded
 * into packed containers, and decoded back; split over threads (pool.c)
 * and vectorised.  Every result is bit-identical to the scalar codec
 * (nr_codec_encode_f32 / nr_decode in codec.c + round.c), which the tests check.
 *
 * Two paths:
 *  - generic: one scalar call per element; every format and every mode
 *    (sr, fixed point, formats with values outside float32, emin < -126).
 *  - fast: branch-free arithmetic on the float32 bit pattern (and exact
 *    power-of-two float scaling below 2^emin), for float formats whose
 *    values are all float32 values with emin >= -126 (so X <= 8, Y <= 23:
 *    every eXmY with the default bias, every specials / -nosub / -sat
 *    variant, most custom biases), modes rne rna rz ru rd rto.  The inner
 *    loops have no calls and no data-dependent branches, so GCC vectorises
 *    them (AVX-512/AVX2 with -march=native, see CMakeLists).  They assume
 *    the default floating-point rounding mode (as all of GCC's code does
 *    without -frounding-math; rne uses rintf) and may leave floating-point
 *    exception flags set.
 *  - lean (AVX-512 builds; nr_bulk_round_f32 in rne and rz, the modes
 *    with a speed target of memcpy's): the fast path's arithmetic written
 *    with intrinsics, 10-12 instructions per 16 elements; vectors holding
 *    an infinity or NaN are handed to the fast kernel.  Large outputs are
 *    written with streaming stores, reading four pages at a time as
 *    glibc's memcpy does.  Needs the default MXCSR (no DAZ/FTZ).
 *
 * Output float32 values:
 *  - round: the format value as a float32; NaN results are the canonical
 *    float32 NaN 0x7fc00000.  When the format has values that are not
 *    float32 values (!nr_format_fits_f32: e11m52, q16.16, ...) the result
 *    is the format value rounded to the nearest float32 (ties to even,
 *    overflow to infinity), i.e. decode(encode(x)).
 *  - decode: the same conversion of an encoding: exact when
 *    nr_format_fits_f32, else the nearest float32. */
#include "numrep.h"
#include "pool.h"

#include <math.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#define F32_INF 0x7f800000u
#define F32_NAN 0x7fc00000u /* canonical; also the kernels' "result is NaN" marker */

/* Elements per thread below which extra threads cost more than they save
 * (starting a thread is tens of microseconds; this is ~100 us of work). */
#define MIN_PER_THREAD ((size_t)1 << 18)
/* Ranges handed to threads are multiples of this many elements: a cache
 * line of output even for 1-byte encodings, so threads never share one. */
#define RANGE_ALIGN 64
/* Outputs at least this large bypass the cache (streaming stores): they do
 * not fit in it anyway, and skipping the read-for-ownership of the
 * destination is what lets a kernel keep up with memcpy. */
#define STREAM_MIN_BYTES ((size_t)32 << 20)
#define BLOCK 1024 /* elements per streamed block (a 4 KiB staging buffer) */

/* always_inline: the kernels are compiled with other options (KERNEL_ATTR),
 * and GCC inlines across that difference only when told to */
static inline __attribute__((always_inline)) uint32_t f2u(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static inline __attribute__((always_inline)) float u2f(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* ---------------------------------------------------------------- constants
 * Everything the fast kernels need, taken from nr_format's derived fields
 * (format.c is the one place that knows what a format is). */
typedef struct kconst {
    uint32_t sA, maskA, halfA, unitA; /* path A: bits dropped from the pattern */
    uint32_t y0;           /* 1 when Y = 0 (the kept significand is always odd) */
    uint32_t thrB;         /* |x| patterns below this take path B             */
    uint32_t tinyB;        /* path B: smaller nonzero |x| are raised to this  */
    float S1, S2;          /* path B: |x| * S1 * S2 = |x| / 2^qB              */
    float Ssub1, Ssub2;    /* path B: n * Ssub1 * Ssub2 = n * 2^-149 / 2^qB   */
    float Q1, Q2;          /* path B: k * Q1 * Q2 = k * 2^qB                  */
    uint32_t shB;          /* path B: k -> encoding shift                     */
    float Ad, Bd;          /* decode: value of subnormal M = M * Ad * Bd      */
    uint32_t maxp;         /* float32 pattern of +max finite                  */
    uint32_t big_r, big_enc;       /* overflow to "infinity": inf, or NaN     */
    uint32_t infin_r, infin_enc;   /* +inf input                              */
    uint32_t nanin_r, nanin_enc;   /* NaN input                               */
    uint32_t negz;         /* 1 when the format has -0                        */
    uint32_t sat;
    uint32_t max_bits, sign_mask, nan_bits, man_mask, inf_bits;
    uint32_t biasadj;      /* (127 - bias) << Y: pattern>>sA minus this = encoding */
    uint32_t bias127;      /* bias == 127: subnormal encodings line up with float32's */
    uint32_t decbias;      /* (127 - bias) << 23: decode's exponent shift     */
    uint32_t subnormals, width_mask;
    uint32_t has_inf, nan_lo, nan_hi, nan_enc_on, emask;
} kconst;

static int fast_mode(nr_rounding m)
{
    return m == NR_RND_RNE || m == NR_RND_RNA || m == NR_RND_RZ || m == NR_RND_RU ||
           m == NR_RND_RD || m == NR_RND_RTO;
}

/* 2^q (-149-23 <= q <= 127+23) as a product of two normal float32
 * constants, so that multiplying by them is exact whenever the result is
 * a float32 value, and no operand is subnormal (slow on some CPUs). */
static void split_pow2(int q, float *a, float *b)
{
    int qa = q < -126 ? q + 24 : q > 127 ? 127 : q;
    *a = ldexpf(1.0f, qa);
    *b = ldexpf(1.0f, q - qa);
}

/* Kernel variants by what a format's path B needs (kconst_var): fewer
 * instructions where less is needed; the loops are compute-bound. */
enum {
    VAR_A = 0,     /* no path B (subnormals coinciding with float32's)   */
    VAR_B = 1,     /* path B; its inputs are raised to normal floats     */
    VAR_B_SUB = 2  /* path B with float32-subnormal inputs (tinyB = 0)   */
};

static int kconst_var(const kconst *c)
{
    return c->thrB == 0 ? VAR_A : c->tinyB ? VAR_B : VAR_B_SUB;
}

/* 1 and fills c when the fast kernels handle f (mode checked separately). */
static int kconst_init(const nr_format *f, kconst *c)
{
    if (f->kind != NR_FLOAT || !nr_format_fits_f32(f) || f->emin < -126)
        return 0;
    /* fits_f32: Y <= 23, emax <= 127, emin - Y >= -149; with emin >= -126
     * the bias is at most 127, so X <= 8 and the width is at most 32. */
    const int Y = f->man_bits;
    const int Yb = f->subnormals ? Y : 0; /* [fmt-2] nosub: gap 2^emin below 2^emin */
    const int qB = f->emin - Yb;          /* path B's quantum is 2^qB        */
    memset(c, 0, sizeof *c);
    c->sA = (uint32_t)(23 - Y);
    c->maskA = (1u << c->sA) - 1;
    c->halfA = (1u << c->sA) >> 1;
    /* With Y = 0 the kept part of the pattern is the exponent field: the
     * significand is the hidden bit alone, k = 1, always odd ([rnd-2]). */
    c->unitA = Y ? 1u << c->sA : 0;
    c->y0 = Y == 0;
    c->maxp = f2u((float)f->max_finite);
    uint32_t minnorm = f2u((float)f->min_normal); /* 2^emin, a normal float32 */
    /* With subnormals and emin = -126 the format's subnormals are float32's
     * (same spacing 2^(emin-Y) relative to the pattern), so path A is right
     * for all inputs and path B is never taken -- except for Y = 0, where
     * path A's "kept significand is odd" (y0) does not hold below 2^emin. */
    c->thrB = f->subnormals && f->emin == -126 && Y > 0 ? 0 : minnorm;
    /* Path B scales |x| < 2^emin by 2^-qB.  That is exact unless the
     * product would be a float32 subnormal; nonzero |x| below 2^(qB-2)
     * round like 2^(qB-2) in every mode (less than half the quantum, not
     * zero), so they are raised to it first.  When 2^(qB-2) is not a
     * normal float32, qB <= -125 and the scale is >= 2^125: nothing to do. */
    c->tinyB = qB - 2 >= -126 ? f2u(ldexpf(1.0f, qB - 2)) : 0;
    split_pow2(-qB, &c->S1, &c->S2);
    split_pow2(-149 - qB, &c->Ssub1, &c->Ssub2);
    split_pow2(qB, &c->Q1, &c->Q2);
    c->shB = (uint32_t)(Y - Yb);
    split_pow2(f->emin - Y, &c->Ad, &c->Bd);
    c->sat = (uint32_t)f->saturate;
    c->negz = (uint32_t)f->has_negzero;
    c->max_bits = (uint32_t)f->max_bits;
    c->sign_mask = (uint32_t)f->sign_mask;
    c->nan_bits = (uint32_t)f->nan_bits;
    c->man_mask = (uint32_t)f->man_mask;
    c->inf_bits = (uint32_t)f->inf_bits;
    c->emask = (uint32_t)f->exp_mask;
    c->has_inf = (uint32_t)f->has_inf;
    /* [rnd-3] overflow that goes to infinity: infinity, or NaN without it */
    c->big_r = f->has_inf ? F32_INF : F32_NAN;
    c->big_enc = (uint32_t)(f->has_inf ? f->inf_bits : f->nan_bits);
    /* [rnd-5] infinity in: infinity, else +-max with -sat, else NaN */
    c->infin_r = f->has_inf ? F32_INF : f->saturate ? c->maxp : F32_NAN;
    c->infin_enc = (uint32_t)(f->has_inf ? f->inf_bits : f->saturate ? f->max_bits : f->nan_bits);
    /* [rnd-5] NaN in: canonical NaN, or +0 in a format without NaN */
    c->nanin_r = f->has_nan ? F32_NAN : 0;
    c->nanin_enc = (uint32_t)(f->has_nan ? f->nan_bits : 0);
    c->biasadj = (uint32_t)(127 - f->bias) << Y;
    c->bias127 = f->bias == 127;
    /* decode: which encodings are NaN ([fmt-3]); magnitude range, or the
     * one full encoding for fnuz */
    c->nan_lo = 1, c->nan_hi = 0; /* empty */
    if (f->specials == NR_SPECIALS_IEEE)
        c->nan_lo = c->emask + 1, c->nan_hi = c->emask | c->man_mask;
    else if (f->specials == NR_SPECIALS_FN)
        c->nan_lo = c->nan_hi = c->nan_bits;
    c->nan_enc_on = f->specials == NR_SPECIALS_FNUZ;
    c->decbias = (uint32_t)(127 - f->bias) << 23;
    c->subnormals = (uint32_t)f->subnormals;
    c->width_mask = (uint32_t)(f->sign_mask | f->exp_mask | f->man_mask);
    return 1;
}

/* The kernels below are compiled without -ftrapping-math: GCC then
 * vectorises rintf/truncf/floorf/ceilf (vrndscaleps) and if-converts
 * float operations.  Nothing here reads the floating-point exception
 * flags; the values computed are the same. */
#if defined(__GNUC__) && !defined(__clang__)
#if defined(__AVX512F__)
/* GCC's default tuning prefers 256-bit vectors; these loops are bound by
 * instruction throughput, so full-width vectors pay. */
#define KERNEL_ATTR __attribute__((target("prefer-vector-width=512"), optimize("no-trapping-math")))
#else
#define KERNEL_ATTR __attribute__((optimize("no-trapping-math")))
#endif
#else
#define KERNEL_ATTR
#endif

/* ---------------------------------------------------------------- fast lane
 * One float32 (bit pattern u) rounded into the format: returns the result
 * as a float32 pattern and stores the encoding in *encp.  The callers pass
 * a constant mode, so after inlining each mode is its own straight-line
 * code.  Steps follow round.c's round_float ([rnd-2], [rnd-3], [rnd-5]).
 *
 * Path A (|x| >= 2^emin, or all of float32's range when the format's
 * subnormals coincide with float32's): the quantum is 2^(e-Y), which is
 * 2^sA units of the float32 pattern, so rounding is done on the pattern
 * itself; a carry out of the mantissa bumps the exponent field by itself.
 * Path B (|x| < 2^emin): the quantum is 2^qB, qB = emin - Yb (Yb = Y, or
 * 0 for -nosub): t = x / 2^qB is exact (see tinyB), is rounded to an
 * integer k by the mode, and the value is k * 2^qB (exact: a format value).
 * k's parity is that of round.c's k, so ties to even agree. */
static inline __attribute__((always_inline)) KERNEL_ATTR uint32_t
lane(const kconst *c, const nr_rounding mode, const int var, uint32_t u, uint32_t *encp)
{
    const uint32_t sign = u & 0x80000000u;
    const uint32_t a = u & 0x7fffffffu;
    /* ru/rd: is rounding the magnitude up rounding toward the mode's
     * infinity? */
    const int away = mode == NR_RND_RU ? !sign : mode == NR_RND_RD ? sign != 0 : 0;

    /* -- path A: round the pattern at bit sA */
    const uint32_t sA = c->sA, maskA = c->maskA;
    uint32_t rA;
    switch (mode) {
    case NR_RND_RNE: rA = (a + ((c->halfA - 1 + (((a >> sA) | c->y0) & 1)) & maskA)) & ~maskA; break;
    case NR_RND_RNA: rA = (a + c->halfA) & ~maskA; break;
    case NR_RND_RZ: rA = a & ~maskA; break;
    case NR_RND_RTO: rA = (a & ~maskA) | ((a & maskA) ? c->unitA : 0); break;
    default: rA = (a + (away ? maskA : 0)) & ~maskA; break; /* ru, rd */
    }

    /* -- path B: below 2^emin, fixed quantum 2^qB */
    const int inB = a < c->thrB;
    uint32_t ab = (a > c->tinyB) | (a == 0) ? a : c->tinyB;
    ab = inB ? ab : 0; /* other lanes: 0, no subnormal operands (slow) */
    /* t = x / 2^qB, exact; a float32 subnormal |x| (only with tinyB = 0)
     * is converted from its integer pattern instead: |x| = ab * 2^-149 */
    const int small = var == VAR_B_SUB && ab < 0x800000u;
    const uint32_t abi = small ? ab : 0, abn = small ? 0 : ab; /* both are computed */
    float tm = (float)(int32_t)abi * c->Ssub1 * c->Ssub2 + u2f(abn) * c->S1 * c->S2;
    float t = u2f(f2u(tm) | sign);
    float k;
    switch (mode) {
    case NR_RND_RNE: k = __builtin_rintf(t); break; /* needs the default FP mode (header) */
    case NR_RND_RZ: k = __builtin_truncf(t); break;
    case NR_RND_RU: k = __builtin_ceilf(t); break;  /* signed t: toward +inf */
    case NR_RND_RD: k = __builtin_floorf(t); break;
    default: { /* rna, rto: from the truncation and the exact remainder */
        float tr = __builtin_truncf(t), rem = __builtin_fabsf(t - tr);
        if (mode == NR_RND_RNA)
            k = __builtin_fabsf(tr) + (rem >= 0.5f ? 1.0f : 0.0f);
        else /* inexact: the odd one of trunc and trunc + 1 (trunc < 2^23,
              * so trunc + 2^23 is exact and holds trunc in its low bits) */
            k = rem != 0.0f ? u2f(f2u(__builtin_fabsf(tr) + 0x1p23f) | 1) - 0x1p23f
                            : __builtin_fabsf(tr);
        break;
    }
    }
    k = __builtin_fabsf(k); /* 0 <= k <= 2^Yb <= 2^23, an integer */
    const uint32_t rB = f2u(k * c->Q1 * c->Q2); /* exact: k * 2^qB is a format value */
    /* k as an integer without a conversion instruction (GCC fails to
     * vectorise the conversion here): k + 2^23 is exact and k is in its
     * low mantissa bits, or k = 2^23 gives 2^24, pattern 2^23 above 2^23's */
    const uint32_t ki = f2u(k + 0x1p23f) - 0x4b000000u;
    uint32_t r = var != VAR_A && inB ? rB : rA;
    uint32_t enc = var != VAR_A && inB ? ki << c->shB : (rA >> sA) - c->biasadj;

    /* -- [rnd-3] overflow, after rounding with an unbounded exponent;
     *    [rnd-5] infinity and NaN inputs (their r is above max too) */
    int to_inf;
    switch (mode) {
    case NR_RND_RNE: case NR_RND_RNA: to_inf = 1; break;
    case NR_RND_RU: case NR_RND_RD: to_inf = away; break;
    default: to_inf = 0; break;
    }
    to_inf &= !c->sat;
    /* (one two-way select per step: GCC if-converts these, not a tree) */
    const int ovf = r > c->maxp;
    const int isinf = a == F32_INF, isnan = a > F32_INF;
    uint32_t ro = to_inf ? c->big_r : c->maxp;
    uint32_t eo = to_inf ? c->big_enc : c->max_bits;
    ro = isinf ? c->infin_r : ro;
    eo = isinf ? c->infin_enc : eo;
    ro = isnan ? c->nanin_r : ro;
    eo = isnan ? c->nanin_enc : eo;
    r = ovf ? ro : r;
    enc = ovf ? eo : enc;

    /* -- [rnd-4] sign: the exact value's, except on NaN and fnuz's zero */
    const int nanres = r == F32_NAN;
    const uint32_t keep = (uint32_t)(!isnan & !nanres & ((r != 0) | (int)c->negz));
    const uint32_t sg = sign & (0u - keep);
    enc |= c->sign_mask & (0u - keep) & (0u - (sign >> 31));
    *encp = nanres ? c->nan_bits : enc;
    return r | sg;
}

/* One encoding (container-sized, width <= 32) -> float32 pattern, as
 * codec.c's nr_codec_decode_exact: bits above the width are ignored. */
static inline __attribute__((always_inline)) KERNEL_ATTR uint32_t dlane(const kconst *c, uint32_t enc)
{
    enc &= c->width_mask;
    const uint32_t mag = enc & ~c->sign_mask;
    const uint32_t sg = enc & c->sign_mask ? 0x80000000u : 0;
    /* [fmt-1] normal: exponent field E becomes E - bias + 127 */
    uint32_t r = (mag << c->sA) + c->decbias;
    /* subnormal M * 2^(emin-Y): with bias 127 these are float32's own
     * subnormals and the formula above is right; else convert (exact) */
    const int sub = (mag & c->emask) == 0;
    const uint32_t Ms = sub ? mag : 0; /* keep the product away from subnormals */
    const uint32_t fsub = f2u((float)(int32_t)Ms * c->Ad * c->Bd);
    const uint32_t rsub = c->bias127 ? r : fsub;
    r = sub ? (c->subnormals ? rsub : 0) : r; /* [fmt-2] nosub: +-0 */
    /* [fmt-3] specials; NaN is canonical and unsigned */
    const int isnan = (mag >= c->nan_lo && mag <= c->nan_hi) || (c->nan_enc_on && enc == c->nan_bits);
    const int isinf = c->has_inf && mag == c->inf_bits;
    r = isinf ? F32_INF : r;
    return isnan ? F32_NAN : r | sg;
}

/* ---------------------------------------------------------------- kernels
 * A kernel turns n consecutive elements from `in` into `out`; idx is the
 * index of the first one in the whole array (for SR draws). */
typedef struct job job;
typedef void (*kernel_fn)(const job *j, uint64_t idx, const unsigned char *in,
                          unsigned char *out, size_t n);

struct job {
    const nr_format *f;
    nr_format fp32;        /* for the generic conversion to float32         */
    nr_rounding mode;
    uint64_t seed, first;
    kconst c;
    kernel_fn kfn;
    const unsigned char *in;
    unsigned char *out;
    size_t isz, osz;       /* bytes per input / output element              */
    int stream;
    int lean;              /* nr_bulk_round_f32 on the AVX-512 kernel (lean_*) */
};

/* Fast kernels, one per mode (and per container for encode). */
#define ROUND_KERNEL_V(M, V)                                                            \
    KERNEL_ATTR static void round_##M##_##V(const job *j, uint64_t idx,                 \
                                            const unsigned char *in, unsigned char *out, \
                                            size_t n)                                   \
    {                                                                                   \
        (void)idx;                                                                      \
        const kconst kc = j->c, *c = &kc;                                               \
        for (size_t i = 0; i < n; i++) {                                                \
            uint32_t u, e;                                                              \
            memcpy(&u, in + 4 * i, 4);                                                  \
            u = lane(c, NR_RND_##M, V, u, &e);                                          \
            memcpy(out + 4 * i, &u, 4);                                                 \
        }                                                                               \
    }
#define ROUND_KERNEL(M) ROUND_KERNEL_V(M, VAR_A) ROUND_KERNEL_V(M, VAR_B) ROUND_KERNEL_V(M, VAR_B_SUB)
/* Encodings are computed as 32-bit lanes into a small buffer, then
 * narrowed: GCC does not vectorise the float rounding when the loop also
 * stores 8- or 16-bit elements. */
#define ENC_KERNEL(M, T)                                                                \
    KERNEL_ATTR static void enc_##M##_##T(const job *j, uint64_t idx, const unsigned char *in, \
                                          unsigned char *out, size_t n)                 \
    {                                                                                   \
        (void)idx;                                                                      \
        const kconst kc = j->c, *c = &kc;                                               \
        uint32_t buf[256];                                                              \
        for (size_t b = 0; b < n; b += 256) {                                           \
            size_t m = n - b < 256 ? n - b : 256;                                       \
            for (size_t i = 0; i < m; i++) {                                            \
                uint32_t u, e;                                                          \
                memcpy(&u, in + 4 * (b + i), 4);                                        \
                (void)lane(c, NR_RND_##M, VAR_B_SUB, u, &e);                            \
                buf[i] = e;                                                             \
            }                                                                           \
            for (size_t i = 0; i < m; i++) {                                            \
                T v = (T)buf[i];                                                        \
                memcpy(out + sizeof(T) * (b + i), &v, sizeof(T));                       \
            }                                                                           \
        }                                                                               \
    }
#define DEC_KERNEL(T)                                                                   \
    KERNEL_ATTR static void dec_##T(const job *j, uint64_t idx, const unsigned char *in,            \
                        unsigned char *out, size_t n)                                   \
    {                                                                                   \
        (void)idx;                                                                      \
        const kconst kc = j->c, *c = &kc;                                              \
        for (size_t i = 0; i < n; i++) {                                                \
            T v;                                                                        \
            memcpy(&v, in + sizeof(T) * i, sizeof(T));                                  \
            uint32_t u = dlane(c, v);                                                   \
            memcpy(out + 4 * i, &u, 4);                                                 \
        }                                                                               \
    }
#define FAST_MODES(X) X(RNE) X(RNA) X(RZ) X(RU) X(RD) X(RTO)
#define ENC_ALL(M) ENC_KERNEL(M, uint8_t) ENC_KERNEL(M, uint16_t) ENC_KERNEL(M, uint32_t)
FAST_MODES(ROUND_KERNEL)
FAST_MODES(ENC_ALL)
DEC_KERNEL(uint8_t)
DEC_KERNEL(uint16_t)
DEC_KERNEL(uint32_t)

/* ---------------------------------------------------------------- lean
 * nr_bulk_round_f32 in rne and rz, written with AVX-512 intrinsics: the
 * speed target is memcpy's, and GCC's vectorisation of lane() (both paths
 * in float and integer form, every special case) spends about three times
 * the instructions needed.  Per 16 elements, on |x|:
 *  - path A (|x| >= 2^emin), as lane(): round the pattern at bit sA;
 *  - path B (|x| < 2^emin): t = |x| + C with C = 2^(qB+23), one add with
 *    the rounding mode embedded in the instruction ({rn-sae}/{rz-sae}).
 *    |x| < 2^(qB+Yb) <= C, so the sum lies in [2^(qB+23), 2^(qB+24)] where
 *    the float32 spacing is the quantum 2^qB: the add rounds |x| to a
 *    multiple k * 2^qB, ties to even k (C's significand 2^23 is even), and
 *    t - C = k * 2^qB exactly.  No scaling, so float32 subnormal inputs
 *    need nothing special;
 *  - or, in rne for most formats, both paths by one such add with a
 *    per-element C (LK_FLT, see lean_kind);
 *  - overflow (rounded |x| > max) and sign as lane() does, with masks.
 * Infinity and NaN inputs are rare: a vector holding one is redone by the
 * GCC-vectorised fast kernel (j->kfn), so the common code never handles
 * them.
 * Needs the default MXCSR (no DAZ/FTZ), as the rest of this file. */
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_LEAN 1

#define LEAN_PAGE 1024 /* floats in a 4 KiB page */

/* Kinds of lean kernel (lean_kind). */
enum {
    LK_INT = 0,   /* path A on the pattern; path B (if any) by the add      */
    LK_INT_B = 1,
    LK_FLT = 2,   /* rne: both paths by one add, C per element (below)      */
    LK_FLT_NOSUB = 3
};

/* Constants of one lean kernel call (from kconst and the mode). */
typedef struct lconst {
    __m512i absm, inf, expm, sAv, sAe, keepA, halfm1, lsbor, one, thrB, CBi, maxp;
    __m512i ovf_sign, ovf_val, sign;
    __m512 C;
} lconst;

/* 1 when the lean kernels do f in mode m (kconst_init(f) already true). */
static int lean_ok(const nr_format *f, nr_rounding m)
{
    const int Yb = f->subnormals ? f->man_bits : 0;
    /* C = 2^(qB+23) must be a finite float32 (qB >= -149 always) */
    return (m == NR_RND_RNE || m == NR_RND_RZ) && f->emin - Yb + 23 <= 127;
}

/* LK_FLT (rne): for |x| in [2^e, 2^(e+1)), e >= emin, add C = 2^(e+sA):
 * the sum lies in [2^(e+sA), 2^(e+sA+1)] (sA >= 1), where the float32
 * spacing is 2^(e-Y), the format's quantum; C's significand is 2^23, even,
 * so ties go to the even multiple, and t - C is exact.  Below 2^emin, C is
 * path B's 2^(qB+23): with subnormals that is 2^(emin+sA), so C's exponent
 * is max(e, emin) + sA, one integer max on the exponent bits; -nosub needs
 * a select.  C must be finite for every e <= emax: emax + sA <= 127.  For
 * |x| above the format's range C's exponent field may carry into the sign
 * (C = -0 or a tiny negative number, r ~ |x|) or be infinity (r = NaN,
 * pattern 0x7fc00000 or 0xffc00000): r > max either way, which is all the
 * overflow step needs. */
static int lean_kind(const job *j)
{
    const nr_format *f = j->f;
    const int sA = 23 - f->man_bits;
    if (j->mode == NR_RND_RNE && sA >= 1 && f->emax + sA <= 127)
        return f->subnormals ? LK_FLT : LK_FLT_NOSUB;
    return j->c.thrB ? LK_INT_B : LK_INT;
}

static void lconst_init(const job *j, lconst *L)
{
    const kconst *c = &j->c;
    const nr_format *f = j->f;
    const int Yb = f->subnormals ? f->man_bits : 0;
    L->absm = _mm512_set1_epi32(0x7fffffff);
    L->inf = _mm512_set1_epi32((int)F32_INF);
    L->expm = _mm512_set1_epi32((int)F32_INF);
    L->sAv = _mm512_set1_epi32((int)c->sA); /* a vector count: vpsrlvd is one uop */
    L->sAe = _mm512_set1_epi32((int)(c->sA << 23));
    L->keepA = _mm512_set1_epi32((int)~c->maskA);
    L->halfm1 = _mm512_set1_epi32((int)(c->halfA ? c->halfA - 1 : 0));
    L->lsbor = _mm512_set1_epi32((int)c->y0); /* Y = 0: kept significand odd */
    L->one = _mm512_set1_epi32(c->sA ? 1 : 0); /* Y = 23: nothing to round */
    L->thrB = _mm512_set1_epi32((int)f2u((float)f->min_normal));
    L->maxp = _mm512_set1_epi32((int)c->maxp);
    /* [rnd-3] as lane(): rne overflows to infinity (or NaN) unless -sat */
    uint32_t ro = j->mode == NR_RND_RNE && !c->sat ? c->big_r : c->maxp;
    L->ovf_val = _mm512_set1_epi32((int)ro);
    L->ovf_sign = _mm512_set1_epi32(ro == F32_NAN ? 0 : (int)0x80000000u); /* NaN unsigned */
    L->sign = _mm512_set1_epi32((int)0x80000000u);
    L->C = _mm512_set1_ps(ldexpf(1.0f, f->emin - Yb + 23));
    L->CBi = _mm512_castps_si512(L->C);
}

/* Redo one vector with the generic fast kernel (infinity or NaN in it). */
static __attribute__((noinline, cold)) __m512i lean_slow(const job *j, __m512i u)
{
    uint32_t a[16], r[16];
    _mm512_storeu_si512((void *)a, u);
    j->kfn(j, 0, (const unsigned char *)a, (unsigned char *)r, 16);
    return _mm512_loadu_si512((const void *)r);
}

/* 16 elements.  mode, kind (lean_kind) and zu (zero results are unsigned:
 * no -0 in the format) are constants after inlining. */
static inline __attribute__((always_inline)) __m512i
lean_vec(const job *j, const lconst *L, const nr_rounding mode, const int kind, const int zu,
         __m512i u)
{
    const __m512i a = _mm512_and_si512(u, L->absm);
    if (__builtin_expect(_mm512_cmpge_epu32_mask(a, L->inf) != 0, 0))
        return lean_slow(j, u);
    const __m512 af = _mm512_castsi512_ps(a);
    __m512i r;
    if (kind == LK_FLT || kind == LK_FLT_NOSUB) {
        const __m512i eb = _mm512_and_si512(a, L->expm);
        __m512i Ci;
        if (kind == LK_FLT) {
            Ci = _mm512_add_epi32(_mm512_max_epu32(eb, L->thrB), L->sAe);
        } else {
            Ci = _mm512_add_epi32(eb, L->sAe);
            Ci = _mm512_mask_mov_epi32(Ci, _mm512_cmplt_epu32_mask(eb, L->thrB), L->CBi);
        }
        const __m512 C = _mm512_castsi512_ps(Ci);
        const __m512 t = _mm512_add_round_ps(af, C, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm512_castps_si512(_mm512_sub_ps(t, C)); /* exact */
    } else {
        if (mode == NR_RND_RNE) {
            /* + half - 1 + (kept significand odd) */
            __m512i lsb = _mm512_srlv_epi32(a, L->sAv);
            lsb = _mm512_ternarylogic_epi32(lsb, L->lsbor, L->one, 0xA8); /* (A | B) & C */
            r = _mm512_add_epi32(_mm512_add_epi32(a, L->halfm1), lsb);
            r = _mm512_and_si512(r, L->keepA);
        } else {
            r = _mm512_and_si512(a, L->keepA);
        }
        if (kind == LK_INT_B) {
            const __mmask16 inB = _mm512_cmplt_epu32_mask(a, L->thrB);
            __m512 t = mode == NR_RND_RNE
                           ? _mm512_add_round_ps(af, L->C, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                           : _mm512_add_round_ps(af, L->C, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            r = _mm512_castps_si512(
                _mm512_mask_sub_ps(_mm512_castsi512_ps(r), inB, t, L->C)); /* exact */
        }
    }
    const __mmask16 ovf = _mm512_cmpgt_epu32_mask(r, L->maxp);
    /* [rnd-4] the input's sign (0xD8: C ? B : A; r may be a negative NaN) */
    __m512i o;
    if (zu)
        o = _mm512_mask_ternarylogic_epi32(r, _mm512_test_epi32_mask(r, r), u, L->sign, 0xD8);
    else
        o = _mm512_ternarylogic_epi32(r, u, L->sign, 0xD8);
    /* overflow: (o & ovf_sign) | ovf_val (0xEA: (A & B) | C) */
    return _mm512_mask_ternarylogic_epi32(o, ovf, L->ovf_sign, L->ovf_val, 0xEA);
}

/* n elements; with stream the output is written with non-temporal stores
 * (from the first 64-byte boundary on; the caller fences). */
static inline __attribute__((always_inline)) void
lean_loop(const job *j, const unsigned char *in, unsigned char *out, size_t n,
          const nr_rounding mode, const int kind, const int zu)
{
    lconst L;
    lconst_init(j, &L);
    size_t i = 0;
    if (j->stream) {
        /* head up to out's 64-byte boundary (out is float-aligned) */
        size_t head = ((64 - ((uintptr_t)out & 63)) & 63) / 4;
        if (head > n)
            head = n;
        if (head) {
            __mmask16 m = (__mmask16)((1u << head) - 1);
            __m512i u = _mm512_maskz_loadu_epi32(m, in);
            _mm512_mask_storeu_epi32(out, m, lean_vec(j, &L, mode, kind, zu, u));
            i = head;
        }
        /* Four pages at a time, 256 bytes of each in turn, prefetching the
         * next 256 of each: glibc's memcpy reads large arrays this way, and
         * it is about 15% faster than one sequential stream here (more
         * DRAM pages open at once). */
        for (; i + 4 * LEAN_PAGE <= n; i += 4 * LEAN_PAGE) {
            for (size_t l = 0; l < LEAN_PAGE; l += 64) {
                for (size_t p = 0; p < 4; p++) {
                    const unsigned char *s = in + 4 * (i + p * LEAN_PAGE + l);
                    unsigned char *d = out + 4 * (i + p * LEAN_PAGE + l);
                    for (int q = 0; q < 4; q++)
                        _mm_prefetch((const char *)s + 256 + 64 * q, _MM_HINT_T0);
                    for (int q = 0; q < 4; q++) {
                        __m512i u = _mm512_loadu_si512((const void *)(s + 64 * q));
                        _mm512_stream_si512((void *)(d + 64 * q), lean_vec(j, &L, mode, kind, zu, u));
                    }
                }
            }
        }
        for (; i + 32 <= n; i += 32) {
            __m512i u0 = _mm512_loadu_si512((const void *)(in + 4 * i));
            __m512i u1 = _mm512_loadu_si512((const void *)(in + 4 * i + 64));
            _mm512_stream_si512((void *)(out + 4 * i), lean_vec(j, &L, mode, kind, zu, u0));
            _mm512_stream_si512((void *)(out + 4 * i + 64), lean_vec(j, &L, mode, kind, zu, u1));
        }
    } else {
        for (; i + 32 <= n; i += 32) {
            __m512i u0 = _mm512_loadu_si512((const void *)(in + 4 * i));
            __m512i u1 = _mm512_loadu_si512((const void *)(in + 4 * i + 64));
            _mm512_storeu_si512((void *)(out + 4 * i), lean_vec(j, &L, mode, kind, zu, u0));
            _mm512_storeu_si512((void *)(out + 4 * i + 64), lean_vec(j, &L, mode, kind, zu, u1));
        }
    }
    for (; i < n; i += 16) { /* tail, masked: no access past the arrays */
        size_t k = n - i < 16 ? n - i : 16;
        __mmask16 m = (__mmask16)((1u << k) - 1);
        __m512i u = _mm512_maskz_loadu_epi32(m, in + 4 * i);
        _mm512_mask_storeu_epi32(out + 4 * i, m, lean_vec(j, &L, mode, kind, zu, u));
    }
}

typedef void (*lean_fn)(const job *j, const unsigned char *in, unsigned char *out, size_t n);
#define LEAN_KERNEL(M, K, Z)                                                            \
    static void lean_##M##_##K##_##Z(const job *j, const unsigned char *in,             \
                                     unsigned char *out, size_t n)                      \
    {                                                                                   \
        lean_loop(j, in, out, n, NR_RND_##M, K, Z);                                     \
    }
#define LEAN_Z(M, K) LEAN_KERNEL(M, K, 0) LEAN_KERNEL(M, K, 1)
LEAN_Z(RNE, 0)
LEAN_Z(RNE, 1)
LEAN_Z(RNE, 2)
LEAN_Z(RNE, 3)
LEAN_Z(RZ, 0)
LEAN_Z(RZ, 1)

static lean_fn pick_lean(const job *j)
{
    static const lean_fn rne[4][2] = {
        {lean_RNE_0_0, lean_RNE_0_1}, {lean_RNE_1_0, lean_RNE_1_1},
        {lean_RNE_2_0, lean_RNE_2_1}, {lean_RNE_3_0, lean_RNE_3_1},
    };
    static const lean_fn rz[2][2] = {{lean_RZ_0_0, lean_RZ_0_1}, {lean_RZ_1_0, lean_RZ_1_1}};
    const int k = lean_kind(j), z = !j->c.negz;
    return j->mode == NR_RND_RNE ? rne[k][z] : rz[k & 1][z];
}
#endif

/* ---- generic kernels: the scalar codec, element by element */

static void store_le(unsigned char *p, uint64_t v, size_t bytes)
{
    for (size_t k = 0; k < bytes; k++)
        p[k] = (unsigned char)(v >> 8 * k);
}

static uint64_t load_le(const unsigned char *p, size_t bytes)
{
    uint64_t v = 0;
    for (size_t k = 0; k < bytes; k++)
        v |= (uint64_t)p[k] << 8 * k;
    return v;
}

static uint32_t sr_draw(const job *j, uint64_t idx)
{
    /* [rnd-sr] bulk kernels: layer 0, term 0, element = first + i */
    return j->mode == NR_RND_SR ? nr_sr_bits(j->seed, 0, j->first + idx, 0) : 0;
}

/* An encoding's value as the nearest float32 (exact when it is one): the
 * one rounding routine, into fp32, ties to even. */
static uint32_t to_f32(const job *j, uint64_t enc)
{
    nr_exact x;
    nr_codec_decode_exact(j->f, enc, &x);
    return (uint32_t)nr_round_exact(&j->fp32, NR_RND_RNE, &x, 0, NULL);
}

static void gen_round(const job *j, uint64_t idx, const unsigned char *in,
                      unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x;
        memcpy(&x, in + 4 * i, 4);
        uint32_t u = to_f32(j, nr_codec_encode_f32(j->f, j->mode, x, sr_draw(j, idx + i), NULL));
        memcpy(out + 4 * i, &u, 4);
    }
}

static void gen_encode(const job *j, uint64_t idx, const unsigned char *in,
                       unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x;
        memcpy(&x, in + 4 * i, 4);
        store_le(out + j->osz * i, nr_codec_encode_f32(j->f, j->mode, x, sr_draw(j, idx + i), NULL),
                 j->osz);
    }
}

static void gen_ir_decode(const job *j, uint64_t idx, const unsigned char *in,
                       unsigned char *out, size_t n)
{
    (void)idx;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = to_f32(j, load_le(in + j->isz * i, j->isz));
        memcpy(out + 4 * i, &u, 4);
    }
}

/* ---------------------------------------------------------------- driver */

/* Copy a staged block to 64-byte aligned dst with streaming stores. */
static void stream_copy(unsigned char *dst, const unsigned char *src, size_t bytes)
{
#if defined(__AVX512F__)
    for (size_t k = 0; k < bytes; k += 64)
        _mm512_stream_si512((void *)(dst + k), _mm512_load_si512((const void *)(src + k)));
#elif defined(__AVX__)
    for (size_t k = 0; k < bytes; k += 32)
        _mm256_stream_si256((__m256i *)(dst + k), _mm256_load_si256((const __m256i *)(src + k)));
#elif defined(__SSE2__)
    for (size_t k = 0; k < bytes; k += 16)
        _mm_stream_si128((__m128i *)(dst + k), _mm_load_si128((const __m128i *)(src + k)));
#else
    memcpy(dst, src, bytes);
#endif
}

static void stream_fence(void)
{
#if defined(__SSE2__)
    _mm_sfence(); /* streaming stores are weakly ordered: publish before returning */
#endif
}

/* nr_pool_fn: elements [b, e) of the job. */
static void run_range(void *arg, size_t b, size_t e)
{
    const job *j = arg;
    const unsigned char *in = j->in + j->isz * b;
    unsigned char *out = j->out + j->osz * b;
    size_t n = e - b;
#ifdef HAVE_LEAN
    if (j->lean) {
        pick_lean(j)(j, in, out, n);
        if (j->stream)
            stream_fence();
        return;
    }
#endif
    size_t head = ((64 - ((uintptr_t)out & 63)) & 63);
    if (!j->stream || head % j->osz) {
        j->kfn(j, b, in, out, n);
        return;
    }
    /* head up to a 64-byte boundary, then whole staged blocks, then the tail */
    head /= j->osz;
    if (head > n)
        head = n;
    j->kfn(j, b, in, out, head);
    size_t i = head;
    _Alignas(64) unsigned char buf[BLOCK * 4];
    for (; n - i >= BLOCK; i += BLOCK) {
        j->kfn(j, b + i, in + j->isz * i, buf, BLOCK);
        stream_copy(out + j->osz * i, buf, BLOCK * j->osz);
    }
    j->kfn(j, b + i, in + j->isz * i, out + j->osz * i, n - i);
    stream_fence();
}

static kernel_fn pick_round(nr_rounding m, int var)
{
    switch (m) {
#define X(M)                                                                            \
    case NR_RND_##M:                                                                    \
        return var == VAR_A ? round_##M##_VAR_A : var == VAR_B ? round_##M##_VAR_B      \
                                                               : round_##M##_VAR_B_SUB;
        FAST_MODES(X)
#undef X
    default: return NULL;
    }
}

static kernel_fn pick_encode(nr_rounding m, int container)
{
    switch (m) {
#define X(M)                                                                            \
    case NR_RND_##M:                                                                    \
        return container == 1 ? enc_##M##_uint8_t                                      \
               : container == 2 ? enc_##M##_uint16_t : enc_##M##_uint32_t;
        FAST_MODES(X)
#undef X
    default: return NULL;
    }
}

static int little_endian(void)
{
    return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
}

static void run(job *j, size_t n, int threads, int fast)
{
    if (n == 0)
        return;
    j->stream = j->osz * n >= STREAM_MIN_BYTES;
    size_t t = threads <= 0 ? (size_t)nr_threads_default() : (size_t)threads;
    size_t min_per = fast ? MIN_PER_THREAD : MIN_PER_THREAD >> 6; /* generic: ~50x slower */
    size_t useful = (n + min_per - 1) / min_per;
    if (t > useful)
        t = useful;
    nr_pool *p = t > 1 ? nr_pool_new((int)t) : NULL; /* NULL: run on this thread */
    /* ranges: a few per thread (the machine may be busy), cache-line aligned */
    size_t grain = (n + 4 * t - 1) / (4 * t);
    grain = (grain + RANGE_ALIGN - 1) / RANGE_ALIGN * RANGE_ALIGN;
    nr_pool_run(p, run_range, j, n, grain);
    nr_pool_free(p);
}

static void job_init(job *j, const nr_format *f, nr_rounding mode, uint64_t seed,
                     uint64_t first)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->mode = mode;
    j->seed = seed;
    j->first = first;
    (void)nr_format_float(&j->fp32, 8, 23, NULL); /* always valid */
}

void nr_bulk_round_f32(const nr_format *f, nr_rounding mode, uint64_t seed, uint64_t first,
                       const float *in, float *out, size_t n, int threads)
{
    job j;
    job_init(&j, f, mode, seed, first);
    int fast = kconst_init(f, &j.c) && fast_mode(mode);
    j.kfn = fast ? pick_round(mode, kconst_var(&j.c)) : gen_round;
#ifdef HAVE_LEAN
    j.lean = fast && lean_ok(f, mode);
#endif
    j.in = (const unsigned char *)in;
    j.out = (unsigned char *)out;
    j.isz = j.osz = 4;
    run(&j, n, threads, fast);
}

void nr_bulk_encode_f32(const nr_format *f, nr_rounding mode, uint64_t seed, uint64_t first,
                        const float *in, void *out, size_t n, int threads)
{
    job j;
    job_init(&j, f, mode, seed, first);
    int fast = kconst_init(f, &j.c) && fast_mode(mode) && little_endian();
    j.kfn = fast ? pick_encode(mode, f->container) : gen_encode;
    j.in = (const unsigned char *)in;
    j.out = out;
    j.isz = 4;
    j.osz = (size_t)f->container;
    run(&j, n, threads, fast);
}

void nr_bulk_decode_f32(const nr_format *f, const void *in, float *out, size_t n, int threads)
{
    job j;
    job_init(&j, f, NR_RND_RNE, 0, 0);
    int fast = kconst_init(f, &j.c) && little_endian();
    j.kfn = !fast ? gen_ir_decode : f->container == 1 ? dec_uint8_t
                             : f->container == 2 ? dec_uint16_t : dec_uint32_t;
    j.in = in;
    j.out = (unsigned char *)out;
    j.isz = (size_t)f->container;
    j.osz = 4;
    run(&j, n, threads, fast);
}
