/* nlrt_test.c -- the rounding test of numrep's own nonlinear functions
 * ([nl-impl]): does an enclosure (nl_val) lie strictly inside one cell of
 * the grid that decides the rounding into the target format?  Then the
 * cell's lower end plus sticky is an exact value that nr_round_exact rounds
 * exactly as it would the true value.  The enclosure's ends are summed
 * exactly in a fixed-size integer, so the test itself makes no error. */
#include "nlrt_internal.h"

#define NW 40 /* 64-bit words: 2560 bits, more than any enclosure spans */

typedef nr_u128 u128; /* u128.h; signed values in two's complement */

typedef struct {
    uint64_t w[NW]; /* two's complement, w[0] least significant */
} big;

static void big_add_shifted(big *a, uint64_t m, int shift, int neg)
{
    int wi = shift / 64, bi = shift % 64;
    uint64_t part[3] = {m << bi, bi ? m >> (64 - bi) : 0, 0};
    if (neg) { /* subtract: add the two's complement of (part << 64 wi) */
        unsigned borrow = 0;
        for (int i = wi; i < NW; i++) {
            uint64_t p = i - wi < 3 ? part[i - wi] : 0;
            uint64_t r = a->w[i] - p - borrow;
            borrow = (a->w[i] < p) || (a->w[i] - p < borrow);
            a->w[i] = r;
        }
        return;
    }
    unsigned carry = 0;
    for (int i = wi; i < NW; i++) {
        uint64_t p = i - wi < 3 ? part[i - wi] : 0;
        uint64_t s = a->w[i] + p, s2 = s + carry;
        carry = (s < p) | (s2 < s);
        a->w[i] = s2;
    }
}

/* floor(a / 2^s) as a signed 128-bit value (two's complement); *fits 0 if it does not fit;
 * *rem 1 if a is not a multiple of 2^s. */
static u128 big_floor_shift(const big *a, int s, int *fits, int *rem)
{
    int wi = s / 64, bi = s % 64;
    *rem = 0;
    for (int i = 0; i < wi; i++)
        *rem |= a->w[i] != 0;
    if (bi)
        *rem |= (a->w[wi] & ((1ull << bi) - 1)) != 0;
    uint64_t out[3];
    for (int j = 0; j < 3; j++) {
        int i = wi + j;
        uint64_t lo = i < NW ? a->w[i] : (a->w[NW - 1] >> 63 ? ~0ull : 0);
        uint64_t hi = i + 1 < NW ? a->w[i + 1] : (a->w[NW - 1] >> 63 ? ~0ull : 0);
        out[j] = bi ? (lo >> bi) | (hi << (64 - bi)) : lo;
    }
    /* the rest must be the sign extension of out[1]'s top bit */
    uint64_t ext = (out[1] >> 63) ? ~0ull : 0;
    *fits = out[2] == ext;
    for (int i = wi + 3; i < NW && *fits; i++)
        *fits = a->w[i] == ext;
    return nr_u128_make(out[1], out[0]);
}

/* The exponent of the cell size: half the quantum (a quantum / 2^33 for
 * sr, whose draw compares 32 fraction bits, [rnd-sr]) at binade E, as
 * round.c's [rnd-2] quantum. */
static int grid_exp(const nr_format *f, nr_rounding mode, int E)
{
    int q;
    if (f->kind == NR_FIXED)
        q = -f->frac_bits;
    else if (E >= f->emin)
        q = E - f->man_bits;
    else
        q = f->subnormals ? f->emin - f->man_bits : f->emin;
    return q - (mode == NR_RND_SR ? 33 : 1);
}

int nl_round_test(const nl_val *v, const nr_format *out, nr_rounding mode, nr_exact *res)
{
    double s = 0;
    for (int i = 0; i < v->n; i++)
        s += v->t[i];
    if (s == 0)
        return 1;
    int neg = s < 0;
    uint64_t m;
    int k;
    nl_split(s, &m, &k);
    int E = k + 63 - __builtin_clzll(m) + v->e; /* binade of S, +-1 */
    int L = grid_exp(out, mode, E);             /* the finest of the binades */
    for (int d = -1; d <= 1; d += 2) {          /* S's may be off by one */
        int l = grid_exp(out, mode, E + d);     /* (not monotone under -nosub) */
        if (l < L)
            L = l;
    }
    if (L < E - 72)
        L = E - 72; /* huge against the grid: overflows or saturates anyway */
    /* the lowest bit any term has decides the integer unit 2^B */
    double terms[7];
    int nt = 0;
    for (int i = 0; i < v->n; i++)
        if (v->t[i] != 0)
            terms[nt++] = v->t[i];
    int B = L;
    int top = E + 2;
    double errs[2] = {v->elo, v->ehi};
    for (int i = 0; i < nt + 2; i++) {
        double d = i < nt ? terms[i] : errs[i - nt];
        if (d == 0)
            continue;
        nl_split(d, &m, &k);
        if (k + v->e < B)
            B = k + v->e;
        int t = k + v->e + 64 - __builtin_clzll(m);
        if (t > top)
            top = t;
    }
    if (top - B > 64 * NW - 70)
        return 1; /* cannot happen for the enclosures nlrt builds */
    big lo, hi;
    memset(&lo, 0, sizeof lo);
    memset(&hi, 0, sizeof hi);
    for (int i = 0; i < nt; i++) {
        int sg = nl_split(terms[i], &m, &k);
        int sh = k + v->e - B;
        big_add_shifted(&lo, m, sh, sg != neg);
        big_add_shifted(&hi, m, sh, sg != neg);
    }
    /* in magnitude: |value| in (|S| - e_toward_zero, |S| + e_away) */
    double e_dn = neg ? v->ehi : v->elo, e_up = neg ? v->elo : v->ehi;
    if (e_dn != 0) {
        nl_split(e_dn, &m, &k);
        big_add_shifted(&lo, m, k + v->e - B, 1);
    }
    if (e_up != 0) {
        nl_split(e_up, &m, &k);
        big_add_shifted(&hi, m, k + v->e - B, 0);
    }
    int fits1, fits2, r1, r2;
    u128 klo = big_floor_shift(&lo, L - B, &fits1, &r1);
    u128 khi = big_floor_shift(&hi, L - B, &fits2, &r2);
    u128 chi = nr_u128_add(khi, nr_u128_from(r2 ? 1 : 0)); /* ceil(hi / 2^L) */
    int klo_neg = (int)(nr_u128_hi(klo) >> 63);
    int ok = fits1 && fits2 && !klo_neg && nr_u128_eq(nr_u128_add(klo, nr_u128_from(1)), chi);
    nr_nl_exact_special(res, NR_CLS_FINITE, neg);
    res->sticky = 1;
    if (!ok) { /* undecided: hand over the cell of the lower end */
        res->sig = klo_neg ? nr_u128_from(0) : klo;
        res->exp = L;
        return 1;
    }
    if (nr_u128_is0(klo)) { /* (0, 2^L): nonzero, below half of 2^(L+1) */
        res->sig = nr_u128_from(0);
        res->exp = L + 1;
    } else {
        res->sig = klo;
        res->exp = L;
    }
    return 0;
}
