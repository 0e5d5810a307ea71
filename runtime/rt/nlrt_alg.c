/* nlrt_alg.c -- sqrt, rsqrt, reciprocal and pow with an integer or
 * half-integer exponent, by exact integer arithmetic ([nl-impl]): no
 * approximation, so no error bound and no rounding test are needed.
 *
 * x = m * 2^q (m odd) and the exponent n/2:
 *   n even, n > 0:  m^(n/2) exactly (its top bits plus sticky);
 *   n even, n < 0:  floor(2^K / m^|n/2|) plus sticky (remainder != 0);
 *   n odd:          floor(sqrt(N)) for N = m^|n| * 2^.. (n > 0) or
 *                   N = floor(2^K / m^|n|) (n < 0), sticky unless N was
 *                   exact and a perfect square (floor(sqrt(floor(z))) =
 *                   floor(sqrt(z)) for real z >= 0).
 * Every result has at least 100 significant bits, enough for any format
 * of at most 32 bits in any mode (sr needs the quantum / 2^33). */
#include "nlrt_internal.h"

#define NLIMB 32 /* 2048 bits: m^33 for m < 2^53, plus 2^K's extra bits */

typedef nr_u128 u128; /* u128.h */

typedef struct {
    uint64_t w[NLIMB];
    int n; /* limbs in use; w[n-1] != 0 unless n == 0 */
} bn;

static void bn_trim(bn *a)
{
    while (a->n && !a->w[a->n - 1])
        a->n--;
}

static int bn_bitlen(const bn *a)
{
    return a->n ? 64 * (a->n - 1) + 64 - __builtin_clzll(a->w[a->n - 1]) : 0;
}

static void bn_mul_u64(bn *a, uint64_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < a->n; i++) {
        u128 p = nr_u128_add(nr_u128_mul64(a->w[i], m), nr_u128_from(carry));
        a->w[i] = nr_u128_lo(p);
        carry = nr_u128_hi(p);
    }
    if (carry)
        a->w[a->n++] = carry;
}

/* a = 2^s * a (the caller keeps bitlen <= 64 * NLIMB) */
static void bn_shl(bn *a, int s)
{
    int wi = s / 64, bi = s % 64;
    int n = a->n + wi + 1;
    for (int i = n - 1; i >= 0; i--) {
        uint64_t lo = i - wi >= 0 && i - wi < a->n ? a->w[i - wi] : 0;
        uint64_t lo2 = i - wi - 1 >= 0 && i - wi - 1 < a->n ? a->w[i - wi - 1] : 0;
        a->w[i] = bi ? (lo << bi) | (lo2 >> (64 - bi)) : lo;
    }
    a->n = n;
    bn_trim(a);
}

/* bits [lo, lo + 64) of a */
static uint64_t bn_bits(const bn *a, int lo)
{
    int wi = lo / 64, bi = lo % 64;
    uint64_t x = wi < a->n ? a->w[wi] >> bi : 0;
    if (bi && wi + 1 < a->n)
        x |= a->w[wi + 1] << (64 - bi);
    return x;
}

/* any of bits [0, s) set */
static int bn_low_nonzero(const bn *a, int s)
{
    for (int i = 0; i < a->n && 64 * i < s; i++) {
        int k = s - 64 * i;
        uint64_t mask = k >= 64 ? ~0ull : ((1ull << k) - 1);
        if (a->w[i] & mask)
            return 1;
    }
    return 0;
}

/* a >> s into a u128 (the caller knows it fits) */
static u128 bn_shr128(const bn *a, int s)
{
    return nr_u128_make(bn_bits(a, s + 64), bn_bits(a, s));
}

/* Q = floor(2^K / b), *rem = (remainder != 0), K >= bitlen(b). */
static void bn_pow2_div(int K, const bn *b, bn *Q, int *rem)
{
    int top = K / 64;
    memset(Q, 0, sizeof *Q);
    Q->n = top + 1;
    if (b->n == 1) { /* one-limb divisor: long division by limbs */
        uint64_t d = b->w[0];
        uint64_t r = 0;
        for (int i = top; i >= 0; i--) {
            uint64_t limb = i == top ? 1ull << (K % 64) : 0;
            Q->w[i] = nr_u128_div64(r, limb, d, &r); /* r < d: the quotient limb fits */
        }
        *rem = r != 0;
        bn_trim(Q);
        return;
    }
    /* bit by bit; 2^K's bits below the top are zero, so start at the
     * first bit that can give a quotient bit (partial dividend 2^(lb-1)) */
    int lb = bn_bitlen(b);
    bn r = {{1}, 1};
    bn_shl(&r, lb - 2); /* lb > 64 here */
    for (int i = K - lb + 1; i >= 0; i--) {
        bn_shl(&r, 1);
        int ge = r.n > b->n;
        if (r.n == b->n) {
            ge = 1;
            for (int j = r.n - 1; j >= 0; j--)
                if (r.w[j] != b->w[j]) {
                    ge = r.w[j] > b->w[j];
                    break;
                }
        }
        if (ge) {
            uint64_t borrow = 0;
            for (int j = 0; j < r.n; j++) {
                uint64_t bj = j < b->n ? b->w[j] : 0;
                uint64_t t = r.w[j] - bj;
                unsigned b1 = r.w[j] < bj;
                r.w[j] = t - borrow;
                borrow = b1 | (t < borrow);
            }
            bn_trim(&r);
            Q->w[i / 64] |= 1ull << (i % 64);
        }
    }
    *rem = r.n != 0;
    bn_trim(Q);
}

/* floor(sqrt(N)) for N < 2^206 given as a bignum; *exact = perfect square */
static u128 isqrt_bn(const bn *N, int *exact)
{
    int nb = bn_bitlen(N);
    int pairs = (nb + 1) / 2;
    u128 rem = nr_u128_from(0), root = nr_u128_from(0);
    for (int i = pairs - 1; i >= 0; i--) {
        rem = nr_u128_or(nr_u128_shl(rem, 2), nr_u128_from(bn_bits(N, 2 * i) & 3));
        u128 trial = nr_u128_or(nr_u128_shl(root, 2), nr_u128_from(1));
        if (!nr_u128_lt(rem, trial)) {
            rem = nr_u128_sub(rem, trial);
            root = nr_u128_or(nr_u128_shl(root, 1), nr_u128_from(1));
        } else {
            root = nr_u128_shl(root, 1);
        }
    }
    *exact = nr_u128_is0(rem);
    return root;
}

static void set_exact(nr_exact *o, int sign, u128 sig, int64_t exp, int sticky)
{
    nr_nl_exact_special(o, NR_CLS_FINITE, sign);
    o->sig = sig;
    o->exp = (int32_t)exp;
    o->sticky = sticky;
}

void nl_alg_pow_half(uint64_t m, int q, int n, int sign, nr_exact *o)
{
    int tz = __builtin_ctzll(m);
    m >>= tz;
    q += tz;
    int an = n < 0 ? -n : n;
    int pn = n % 2 ? an : an / 2; /* the integer power taken of m */
    bn B = {{1}, 1};
    for (int i = 0; i < pn; i++)
        bn_mul_u64(&B, m);
    int64_t Eb = (int64_t)q * pn; /* x^pn = B * 2^Eb */
    int lb = bn_bitlen(&B);
    if (n % 2 == 0 && n > 0) { /* B * 2^Eb */
        if (lb <= 120) {
            set_exact(o, sign, bn_shr128(&B, 0), Eb, 0);
        } else {
            int s = lb - 120;
            set_exact(o, sign, bn_shr128(&B, s), Eb + s, bn_low_nonzero(&B, s));
        }
        return;
    }
    if (n % 2 == 0) { /* 2^-Eb / B */
        int K = lb + 110, rem;
        bn Q;
        bn_pow2_div(K, &B, &Q, &rem); /* 110 or 111 bits */
        set_exact(o, sign, bn_shr128(&Q, 0), -(int64_t)K - Eb, rem);
        return;
    }
    if (Eb % 2) { /* make the exponent even: x^pn = (2B) * 2^(Eb-1) */
        bn_shl(&B, 1);
        Eb -= 1;
        lb++;
    }
    bn N;
    int sticky = 0;
    int64_t half; /* result = floor(sqrt(N)) * 2^half */
    if (n > 0) {
        int s2 = 202 - lb; /* N = B * 2^s2 with about 202 bits, s2 even */
        s2 -= s2 & 1;
        N = B;
        if (s2 >= 0) {
            bn_shl(&N, s2);
        } else { /* drop -s2 low bits: floor(sqrt(floor(z))) = floor(sqrt(z)) */
            int d = -s2;
            sticky = bn_low_nonzero(&B, d);
            bn t = {{0}, 0};
            int nw = (lb - d + 63) / 64;
            for (int i = 0; i < nw; i++)
                t.w[i] = bn_bits(&B, d + 64 * i);
            t.n = nw;
            bn_trim(&t);
            N = t;
        }
        half = (Eb - s2) / 2;
    } else {
        int K = lb + 202;
        K += (K & 1); /* even, so 2^-K/2 is exact */
        bn_pow2_div(K, &B, &N, &sticky); /* 202 or 203 bits */
        half = -(K + Eb) / 2;
    }
    int exact;
    u128 r = isqrt_bn(&N, &exact);
    set_exact(o, sign, r, half, sticky || !exact);
}
