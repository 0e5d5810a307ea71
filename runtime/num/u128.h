/* u128.h -- the one unsigned 128-bit integer of the code generated
 * binaries link (the exact significand of nr_exact, round.c, codec.c,
 * runtime/rt's nonlinear functions and products): unsigned __int128 where
 * the compiler has it, else two uint64_t halves (32-bit ARM: Cortex-M
 * builds).  Both give the same values bit for bit; hosts keep __int128
 * (define NR_U128_PORTABLE to compile the halves there, e.g. to test them).
 * Shift counts are in [0, 127] unless a function says otherwise. */
#ifndef NUMREP_U128_H
#define NUMREP_U128_H

#include <stdint.h>

#if defined(__SIZEOF_INT128__) && !defined(NR_U128_PORTABLE)
typedef unsigned __int128 nr_u128;
static inline nr_u128 nr_u128_make(uint64_t hi, uint64_t lo) { return (nr_u128)hi << 64 | lo; }
static inline uint64_t nr_u128_hi(nr_u128 a) { return (uint64_t)(a >> 64); }
static inline uint64_t nr_u128_lo(nr_u128 a) { return (uint64_t)a; }
static inline nr_u128 nr_u128_add(nr_u128 a, nr_u128 b) { return a + b; }
static inline nr_u128 nr_u128_sub(nr_u128 a, nr_u128 b) { return a - b; }
static inline nr_u128 nr_u128_mul64(uint64_t a, uint64_t b) { return (nr_u128)a * b; }
static inline nr_u128 nr_u128_shl(nr_u128 a, int s) { return a << s; }
static inline nr_u128 nr_u128_shr(nr_u128 a, int s) { return a >> s; }
static inline nr_u128 nr_u128_and(nr_u128 a, nr_u128 b) { return a & b; }
static inline nr_u128 nr_u128_or(nr_u128 a, nr_u128 b) { return a | b; }
static inline int nr_u128_lt(nr_u128 a, nr_u128 b) { return a < b; }
/* (hi:lo) / d for hi < d (the quotient fits 64 bits), *r the remainder */
static inline uint64_t nr_u128_div64(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *r)
{
    nr_u128 n = nr_u128_make(hi, lo);
    *r = (uint64_t)(n % d);
    return (uint64_t)(n / d);
}
#else
typedef struct nr_u128 {
    uint64_t lo, hi;
} nr_u128;
static inline nr_u128 nr_u128_make(uint64_t hi, uint64_t lo) { return (nr_u128){lo, hi}; }
static inline uint64_t nr_u128_hi(nr_u128 a) { return a.hi; }
static inline uint64_t nr_u128_lo(nr_u128 a) { return a.lo; }
static inline nr_u128 nr_u128_add(nr_u128 a, nr_u128 b)
{
    uint64_t lo = a.lo + b.lo;
    return (nr_u128){lo, a.hi + b.hi + (lo < a.lo)};
}
static inline nr_u128 nr_u128_sub(nr_u128 a, nr_u128 b)
{
    return (nr_u128){a.lo - b.lo, a.hi - b.hi - (a.lo < b.lo)};
}
static inline nr_u128 nr_u128_mul64(uint64_t a, uint64_t b)
{
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10; /* < 3 * 2^32 */
    return (nr_u128){(mid << 32) | (uint32_t)p00, p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32)};
}
static inline nr_u128 nr_u128_shl(nr_u128 a, int s)
{
    if (s == 0)
        return a;
    if (s >= 64)
        return (nr_u128){0, a.lo << (s - 64)};
    return (nr_u128){a.lo << s, a.hi << s | a.lo >> (64 - s)};
}
static inline nr_u128 nr_u128_shr(nr_u128 a, int s)
{
    if (s == 0)
        return a;
    if (s >= 64)
        return (nr_u128){a.hi >> (s - 64), 0};
    return (nr_u128){a.lo >> s | a.hi << (64 - s), a.hi >> s};
}
static inline nr_u128 nr_u128_and(nr_u128 a, nr_u128 b) { return (nr_u128){a.lo & b.lo, a.hi & b.hi}; }
static inline nr_u128 nr_u128_or(nr_u128 a, nr_u128 b) { return (nr_u128){a.lo | b.lo, a.hi | b.hi}; }
static inline int nr_u128_lt(nr_u128 a, nr_u128 b) { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo); }
static inline uint64_t nr_u128_div64(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *r)
{
    uint64_t q = 0; /* restoring division, one quotient bit a step; hi < d throughout */
    for (int i = 0; i < 64; i++) {
        int top = (int)(hi >> 63);
        hi = hi << 1 | lo >> 63;
        lo <<= 1;
        q <<= 1;
        if (top || hi >= d) {
            hi -= d;
            q |= 1;
        }
    }
    *r = hi;
    return q;
}
#endif

/* Shared by both: */
static inline nr_u128 nr_u128_from(uint64_t a) { return nr_u128_make(0, a); }
static inline int nr_u128_is0(nr_u128 a) { return !(nr_u128_hi(a) | nr_u128_lo(a)); }
static inline int nr_u128_eq(nr_u128 a, nr_u128 b)
{
    return nr_u128_hi(a) == nr_u128_hi(b) && nr_u128_lo(a) == nr_u128_lo(b);
}
/* a >> s for any s >= 0 (0 from 128 on); the bits below 2^s: a & (2^s - 1), all for s >= 128 */
static inline nr_u128 nr_u128_shr_any(nr_u128 a, int s) { return s >= 128 ? nr_u128_from(0) : nr_u128_shr(a, s); }
static inline nr_u128 nr_u128_low(nr_u128 a, int s)
{
    if (s >= 128)
        return a;
    if (s >= 64)
        return nr_u128_make(s == 64 ? 0 : nr_u128_hi(a) & ((UINT64_C(1) << (s - 64)) - 1), nr_u128_lo(a));
    return nr_u128_from(s == 0 ? 0 : nr_u128_lo(a) & (UINT64_MAX >> (64 - s)));
}
/* the position of the top set bit + 1; 0 for 0 */
static inline int nr_u128_bitlen(nr_u128 a)
{
    uint64_t hi = nr_u128_hi(a), lo = nr_u128_lo(a);
    if (hi)
        return 128 - __builtin_clzll(hi);
    return lo ? 64 - __builtin_clzll(lo) : 0;
}

#endif
