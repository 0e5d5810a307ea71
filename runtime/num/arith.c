/* arith.c -- add sub mul div fma sqrt and format conversion on encodings,
 * plus exact add/mul on nr_exact values ([op-1] in docs/semantics.md).
 *
 * Every operation decodes its operands exactly, computes the exact result
 * (or a form of it that rounds the same way in every mode: a significand
 * with enough bits plus a sticky bit), and rounds it ONCE through
 * nr_round_exact ([rnd-1]).  The IEEE special cases are settled here before
 * the arithmetic, so the main path only sees nonzero finite numbers.
 *
 * The arithmetic is done on 256-bit significands ("wide" values): operands
 * have at most 64 significant bits (fixed formats up to 64, floats up to
 * 53), so a product has at most 128 and every exact result below fits. */
#include "numrep.h"

#include <stdint.h>

typedef unsigned __int128 u128;
typedef struct { u128 hi, lo; } u256;

/* ---------------------------------------------------------------- u256 */

static int bl128(u128 x) /* bit length: top set bit + 1, 0 for 0 */
{
    uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;
    if (hi)
        return 128 - __builtin_clzll(hi);
    return lo ? 64 - __builtin_clzll(lo) : 0;
}

static int bl256(u256 x) { return x.hi ? 128 + bl128(x.hi) : bl128(x.lo); }
static int is0(u256 x) { return x.hi == 0 && x.lo == 0; }
static u256 w128(u128 lo) { return (u256){0, lo}; }
static u128 mask128(int n) { return n >= 128 ? ~(u128)0 : ((u128)1 << n) - 1; }

static int cmp256(u256 a, u256 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo)
        return a.lo < b.lo ? -1 : 1;
    return 0;
}

/* x << n for 0 <= n < 256; the caller knows nothing is shifted out. */
static u256 shl256(u256 x, int n)
{
    if (n == 0)
        return x;
    if (n >= 128)
        return (u256){x.lo << (n - 128), 0};
    return (u256){x.hi << n | x.lo >> (128 - n), x.lo << n};
}

/* floor(x / 2^n), or-ing "some bit was shifted out" into *sticky. */
static u256 shr_jam(u256 x, int64_t n, int *sticky)
{
    if (n <= 0)
        return x;
    if (n >= 256) {
        *sticky |= !is0(x);
        return (u256){0, 0};
    }
    if (n >= 128) {
        int k = (int)n - 128;
        *sticky |= x.lo != 0 || (x.hi & mask128(k)) != 0;
        return (u256){0, k ? x.hi >> k : x.hi};
    }
    *sticky |= (x.lo & mask128((int)n)) != 0;
    return (u256){x.hi >> n, x.lo >> n | x.hi << (128 - n)};
}

static u256 add256(u256 a, u256 b)
{
    u128 lo = a.lo + b.lo;
    return (u256){a.hi + b.hi + (lo < a.lo), lo};
}

static u256 sub256(u256 a, u256 b) /* a >= b */
{
    return (u256){a.hi - b.hi - (a.lo < b.lo), a.lo - b.lo};
}

static u256 mul128x128(u128 a, u128 b)
{
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64);
    uint64_t b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    u128 p00 = (u128)a0 * b0, p01 = (u128)a0 * b1, p10 = (u128)a1 * b0, p11 = (u128)a1 * b1;
    u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10; /* < 3 * 2^64 */
    return (u256){p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64), (uint64_t)p00 | mid << 64};
}

/* floor(x / d) and the remainder, limb by limb (schoolbook by one digit). */
static u256 div256by64(u256 x, uint64_t d, uint64_t *rem)
{
    uint64_t limb[4] = {(uint64_t)(x.hi >> 64), (uint64_t)x.hi, (uint64_t)(x.lo >> 64),
                        (uint64_t)x.lo};
    uint64_t q[4], r = 0;
    for (int i = 0; i < 4; i++) {
        u128 cur = (u128)r << 64 | limb[i];
        q[i] = (uint64_t)(cur / d);
        r = (uint64_t)(cur % d);
    }
    *rem = r;
    return (u256){(u128)q[0] << 64 | q[1], (u128)q[2] << 64 | q[3]};
}

/* floor(sqrt(n)) for n < 2^256, digit by digit; *inexact when not a square. */
static u128 isqrt256(u256 n, int *inexact)
{
    u256 rem = {0, 0}, root = {0, 0};
    for (int i = 127; i >= 0; i--) {
        int pos = 2 * i;
        unsigned two = pos >= 128 ? (unsigned)(n.hi >> (pos - 128)) & 3
                                  : (unsigned)(n.lo >> pos) & 3;
        rem = shl256(rem, 2);
        rem.lo |= two;
        u256 trial = shl256(root, 2);
        trial.lo |= 1;
        root = shl256(root, 1);
        if (cmp256(rem, trial) >= 0) {
            rem = sub256(rem, trial);
            root.lo |= 1;
        }
    }
    *inexact = !is0(rem);
    return root.lo;
}

/* ---------------------------------------------------------------- wide values
 * Like nr_exact, with a 256-bit significand and a 64-bit exponent:
 * value = (-1)^sign * sig * 2^exp, and if sticky, strictly between that and
 * (sig + 1) * 2^exp in magnitude. */
typedef struct {
    nr_class cls;
    int sign;
    int64_t exp;
    u256 sig;
    int sticky;
} wide;

static void wide_from(const nr_exact *x, wide *w)
{
    w->cls = x->cls;
    w->sign = x->sign;
    w->exp = x->exp;
    w->sig = w128(x->cls == NR_CLS_FINITE ? x->sig : 0);
    w->sticky = x->cls == NR_CLS_FINITE && x->sticky;
}

/* Narrow to 128 bits by jamming.  A result with 128 significant bits and a
 * sticky bit below them rounds correctly to any precision up to 126 bits:
 * every rounding boundary (a value or a midpoint) is then a multiple of
 * 2^(exp+1), so none lies strictly inside (sig, sig+1) * 2^exp. */
static void wide_to(const wide *w, nr_exact *x)
{
    x->cls = w->cls;
    x->sign = w->sign;
    x->exp = 0;
    x->sig = 0;
    x->sticky = 0;
    if (w->cls != NR_CLS_FINITE)
        return;
    if (is0(w->sig) && !w->sticky) {
        x->cls = NR_CLS_ZERO;
        return;
    }
    int sticky = w->sticky;
    int n = bl256(w->sig) - 128;
    u256 s = shr_jam(w->sig, n, &sticky);
    int64_t e = w->exp + (n > 0 ? n : 0);
    /* Exponents of operands are within +-2^20; clamp anyway so a hostile
     * nr_exact cannot overflow int32 (far beyond every format either way). */
    if (e > INT32_MAX / 2)
        e = INT32_MAX / 2;
    if (e < INT32_MIN / 2)
        e = INT32_MIN / 2;
    x->exp = (int32_t)e;
    x->sig = s.lo;
    x->sticky = sticky;
}

static void wide_special(wide *w, nr_class cls, int sign)
{
    w->cls = cls;
    w->sign = sign;
    w->exp = 0;
    w->sig = w128(0);
    w->sticky = 0;
}

/* The exact sum of two nonzero finite values (b negated if negb).  Exact
 * cancellation gives cls ZERO with sign 0 (the caller applies [rnd-4]).
 *
 * Alignment: let tL be the top (exp + bit length) of the operand reaching
 * higher, L, and S the other.  If both fit in a 255-bit window they are
 * added exactly.  Otherwise E = tL - 254 becomes the unit; L is exact at E
 * (its significand has at most 128 bits, so eL >= tL - 128 > E) and S, which
 * then lies entirely below tL - 126 (its lowest bit is below E and it has at
 * most 128 bits), is jammed to floor(S / 2^E) + sticky.  The result's
 * magnitude is at least 2^(tL-1) - 2^(tL-126) > 2^(tL-2), i.e. more than 252
 * bits above the sticky position, far more than any format's precision plus
 * the round bit: rounding sees the same round bit and the same "anything
 * below" as for the exact value.  (For L - S with S jammed:
 * L - (St + th) = (L - St - 1) + (1 - th) with 1 - th in (0, 1), so the
 * significand is L - St - 1 with sticky.)
 *
 * Operands with their own sticky bit are handled exactly when that bit is
 * at the unit E or gets jammed; a sticky operand whose unit is coarser than
 * the other's finest bit can only be approximated (its position is unknown
 * within its unit) and the result is then marked sticky. */
static void wide_add(const wide *a, const wide *b0, int negb, wide *out)
{
    wide b = *b0, na, nb;
    b.sign ^= negb;
    /* at most 128 significant bits each (always true for format operands) */
    na = *a, nb = b;
    {
        int n = bl256(na.sig) - 128;
        if (n > 0)
            na.sig = shr_jam(na.sig, n, &na.sticky), na.exp += n;
        n = bl256(nb.sig) - 128;
        if (n > 0)
            nb.sig = shr_jam(nb.sig, n, &nb.sticky), nb.exp += n;
    }
    int64_t ta = na.exp + bl256(na.sig), tb = nb.exp + bl256(nb.sig);
    const wide *L = ta >= tb ? &na : &nb, *S = ta >= tb ? &nb : &na;
    int64_t tL = ta >= tb ? ta : tb;
    int64_t emin = na.exp < nb.exp ? na.exp : nb.exp;
    int64_t E;
    u256 l, s;
    int lst = L->sticky, sst = S->sticky;
    if (tL - emin <= 254) {
        E = emin;
        l = shl256(L->sig, (int)(L->exp - E));
        s = shl256(S->sig, (int)(S->exp - E));
    } else {
        E = tL - 254;
        l = shl256(L->sig, (int)(L->exp - E));
        s = shr_jam(S->sig, E - S->exp, &sst);
    }
    out->cls = NR_CLS_FINITE;
    out->exp = E;
    out->sticky = lst || sst;
    if (L->sign == S->sign) {
        out->sign = L->sign;
        out->sig = add256(l, s);
        return;
    }
    /* opposite signs: |L| - |S| or |S| - |L|; a tie in the integer parts is
     * broken by which side has the sticky fraction */
    int c = cmp256(l, s);
    if (c == 0)
        c = lst - sst;
    if (c == 0) {
        if (lst) { /* both sticky and equal: the difference is within +-1 unit */
            out->sign = L->sign;
            out->sig = w128(0);
            return;
        }
        wide_special(out, NR_CLS_ZERO, 0);
        return;
    }
    const u256 *big = c > 0 ? &l : &s, *small = c > 0 ? &s : &l;
    int big_st = c > 0 ? lst : sst, small_st = c > 0 ? sst : lst;
    out->sign = c > 0 ? L->sign : S->sign;
    out->sig = sub256(*big, *small);
    if (small_st && !big_st) /* big - (small + th) = (big - small - 1) + (1 - th) */
        out->sig = sub256(out->sig, w128(1));
}

/* The exact product of two nonzero finite values.  Exact when neither has
 * a sticky bit (128 x 128 -> 256 bits); a sticky operand makes the result
 * sticky and approximate. */
static void wide_mul(const wide *a, const wide *b, wide *out)
{
    wide na = *a, nb = *b;
    int n = bl256(na.sig) - 128;
    if (n > 0)
        na.sig = shr_jam(na.sig, n, &na.sticky), na.exp += n;
    n = bl256(nb.sig) - 128;
    if (n > 0)
        nb.sig = shr_jam(nb.sig, n, &nb.sticky), nb.exp += n;
    out->cls = NR_CLS_FINITE;
    out->sign = a->sign ^ b->sign;
    out->exp = na.exp + nb.exp;
    out->sig = mul128x128(na.sig.lo, nb.sig.lo);
    out->sticky = na.sticky || nb.sticky;
}

/* [fmt-6] -wrap: the result is the rounded value modulo M = 2^(width-F)
 * (two's complement).  Replacing |v| by a congruent value in [M, 2M) when
 * |v| >= 2M changes neither the result nor the flags: M is an even multiple
 * of the quantum 2^-F (parity for rne/rto, fraction for sr unchanged) and
 * the value stays out of range.  It keeps every bit down to the unit, so
 * the 128-bit narrowing afterwards still keeps the bits down to 2^-(F+2):
 * M has width - F bits above the point, width <= 64. */
static void wrap_reduce(const nr_format *f, wide *w)
{
    if (f->kind != NR_FIXED || f->saturate || w->cls != NR_CLS_FINITE)
        return;
    int64_t m = (int64_t)f->width - f->frac_bits; /* M = 2^m */
    if (w->exp + bl256(w->sig) <= m + 1)
        return; /* |v| < 2M */
    if (w->exp >= m) { /* a multiple of M: congruent to M itself */
        w->sig = w128(1);
        w->exp = m;
        return;
    }
    int n = (int)(m - w->exp); /* 1..255: bits of sig below M */
    u256 low = n >= 128 ? (u256){w->sig.hi & mask128(n - 128), w->sig.lo}
                        : (u256){0, w->sig.lo & mask128(n)};
    w->sig = add256(low, shl256(w128(1), n));
}

/* The quotient of two nonzero finite values (the sign is the xor of
 * theirs): the dividend's significand (up to 128 bits) is placed at bits
 * 191..(192-len) of a 256-bit numerator and divided by the divisor's
 * significand, which must fit 64 bits (a wider one, which no format value
 * or double has, is jammed to 64 bits and the quotient marked inexact).
 * The remainder, or a sticky bit of either operand, makes the quotient
 * sticky: with sticky dividend d + t (0 < t < 1 unit), (d + t) / y lies
 * strictly between floor(d / y) and floor(d / y) + 1 units. */
static void wide_div(const nr_exact *x, const nr_exact *y, wide *r)
{
    u128 ys = y->sig;
    int64_t yexp = y->exp;
    int ysticky = y->sticky;
    int yn = bl128(ys) - 64;
    if (yn > 0) {
        ysticky |= (ys & mask128(yn)) != 0;
        ys >>= yn;
        yexp += yn;
    }
    int sh = 192 - bl128(x->sig);
    uint64_t rem;
    r->cls = NR_CLS_FINITE;
    r->sign = x->sign ^ y->sign;
    r->sig = div256by64(shl256(w128(x->sig), sh), (uint64_t)ys, &rem);
    r->exp = (int64_t)x->exp - yexp - sh;
    r->sticky = rem != 0 || x->sticky || ysticky;
}

/* ---------------------------------------------------------------- exact API */

static void exact_nan(nr_exact *o)
{
    o->cls = NR_CLS_NAN;
    o->sign = 0;
    o->exp = 0;
    o->sig = 0;
    o->sticky = 0;
}

/* [rnd-4] an exact zero sum of operands of opposite signs is +0, -0 under rd */
static int zero_sum_sign(nr_rounding m) { return m == NR_RND_RD; }

/* Exact sum.  Exact cancellation and (+0) + (-0) give zero_sum_sign(m);
 * inf - inf is NaN (the caller flags INVALID). */
void nr_arith_exact_add(const nr_exact *a, const nr_exact *b, nr_rounding m, nr_exact *out)
{
    if (a->cls == NR_CLS_NAN || b->cls == NR_CLS_NAN) {
        exact_nan(out);
        return;
    }
    if (a->cls == NR_CLS_INF || b->cls == NR_CLS_INF) {
        if (a->cls == NR_CLS_INF && b->cls == NR_CLS_INF && a->sign != b->sign)
            exact_nan(out);
        else
            *out = a->cls == NR_CLS_INF ? *a : *b;
        return;
    }
    if (a->cls == NR_CLS_ZERO || b->cls == NR_CLS_ZERO) {
        if (a->cls == NR_CLS_ZERO && b->cls == NR_CLS_ZERO) {
            *out = *a;
            out->sign = a->sign == b->sign ? a->sign : zero_sum_sign(m);
        } else {
            *out = a->cls == NR_CLS_ZERO ? *b : *a;
        }
        return;
    }
    wide wa, wb, r;
    wide_from(a, &wa);
    wide_from(b, &wb);
    wide_add(&wa, &wb, 0, &r);
    if (r.cls == NR_CLS_ZERO)
        r.sign = zero_sum_sign(m);
    wide_to(&r, out);
}

/* Exact product (128 significant bits suffice for operands of up to 64
 * bits each; wider significands are jammed first).  0 * inf is NaN. */
void nr_arith_exact_mul(const nr_exact *a, const nr_exact *b, nr_exact *out)
{
    int sign = a->sign ^ b->sign;
    if (a->cls == NR_CLS_NAN || b->cls == NR_CLS_NAN) {
        exact_nan(out);
        return;
    }
    if (a->cls == NR_CLS_INF || b->cls == NR_CLS_INF) {
        if (a->cls == NR_CLS_ZERO || b->cls == NR_CLS_ZERO) {
            exact_nan(out);
            return;
        }
        *out = (nr_exact){.cls = NR_CLS_INF, .sign = sign};
        return;
    }
    if (a->cls == NR_CLS_ZERO || b->cls == NR_CLS_ZERO) {
        *out = (nr_exact){.cls = NR_CLS_ZERO, .sign = sign};
        return;
    }
    wide wa, wb, r;
    wide_from(a, &wa);
    wide_from(b, &wb);
    wide_mul(&wa, &wb, &r);
    wide_to(&r, out);
}

/* Exact quotient (with sticky; see wide_div).  NaN operands, inf / inf and
 * 0 / 0 give NaN; x / 0 is an infinity, x / inf a zero, signs xor-ed. */
void nr_exact_div(const nr_exact *a, const nr_exact *b, nr_exact *out)
{
    int sign = a->sign ^ b->sign;
    if (a->cls == NR_CLS_NAN || b->cls == NR_CLS_NAN ||
        (a->cls == NR_CLS_INF && b->cls == NR_CLS_INF) ||
        (a->cls == NR_CLS_ZERO && b->cls == NR_CLS_ZERO)) {
        exact_nan(out);
        return;
    }
    if (a->cls == NR_CLS_INF || b->cls == NR_CLS_ZERO) {
        *out = (nr_exact){.cls = NR_CLS_INF, .sign = sign};
        return;
    }
    if (a->cls == NR_CLS_ZERO || b->cls == NR_CLS_INF) {
        *out = (nr_exact){.cls = NR_CLS_ZERO, .sign = sign};
        return;
    }
    wide r;
    wide_div(a, b, &r);
    wide_to(&r, out);
}

/* ---------------------------------------------------------------- operations */

static uint64_t finish(const nr_format *f, nr_rounding m, wide *w, uint32_t sr, unsigned *fl)
{
    nr_exact x;
    wrap_reduce(f, w);
    wide_to(w, &x);
    return nr_round_exact(f, m, &x, sr, fl);
}

static uint64_t special(const nr_format *f, nr_class cls, int sign, uint32_t sr, unsigned *fl)
{
    nr_exact x = {.cls = cls, .sign = sign};
    return nr_round_exact(f, NR_RND_RNE, &x, sr, fl);
}

static uint64_t invalid(const nr_format *f, unsigned *fl)
{
    *fl |= NR_FLAG_INVALID;
    return special(f, NR_CLS_NAN, 0, 0, fl);
}

static uint64_t add_core(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, int negb,
                         uint32_t sr, unsigned *fl)
{
    nr_exact x, y;
    nr_codec_decode_exact(f, a, &x);
    nr_codec_decode_exact(f, b, &y);
    if (y.cls != NR_CLS_NAN)
        y.sign ^= negb;
    if (x.cls == NR_CLS_NAN || y.cls == NR_CLS_NAN)
        return special(f, NR_CLS_NAN, 0, sr, fl);
    if (x.cls == NR_CLS_INF || y.cls == NR_CLS_INF) {
        if (x.cls == NR_CLS_INF && y.cls == NR_CLS_INF && x.sign != y.sign)
            return invalid(f, fl); /* inf - inf */
        return special(f, NR_CLS_INF, x.cls == NR_CLS_INF ? x.sign : y.sign, sr, fl);
    }
    if (x.cls == NR_CLS_ZERO && y.cls == NR_CLS_ZERO)
        return special(f, NR_CLS_ZERO,
                       x.sign == y.sign ? x.sign : zero_sum_sign(m), sr, fl);
    if (x.cls == NR_CLS_ZERO || y.cls == NR_CLS_ZERO)
        return nr_round_exact(f, m, x.cls == NR_CLS_ZERO ? &y : &x, sr, fl);
    wide wa, wb, r;
    wide_from(&x, &wa);
    wide_from(&y, &wb);
    wide_add(&wa, &wb, 0, &r);
    if (r.cls == NR_CLS_ZERO)
        r.sign = zero_sum_sign(m);
    return finish(f, m, &r, sr, fl);
}

uint64_t nr_add(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, uint32_t sr,
                unsigned *fl)
{
    unsigned dummy = 0;
    return add_core(f, m, a, b, 0, sr, fl ? fl : &dummy);
}

uint64_t nr_sub(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, uint32_t sr,
                unsigned *fl)
{
    unsigned dummy = 0;
    return add_core(f, m, a, b, 1, sr, fl ? fl : &dummy);
}

uint64_t nr_mul(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, uint32_t sr,
                unsigned *fl)
{
    unsigned dummy = 0;
    if (!fl)
        fl = &dummy;
    nr_exact x, y;
    nr_codec_decode_exact(f, a, &x);
    nr_codec_decode_exact(f, b, &y);
    int sign = x.sign ^ y.sign;
    if (x.cls == NR_CLS_NAN || y.cls == NR_CLS_NAN)
        return special(f, NR_CLS_NAN, 0, sr, fl);
    if (x.cls == NR_CLS_INF || y.cls == NR_CLS_INF) {
        if (x.cls == NR_CLS_ZERO || y.cls == NR_CLS_ZERO)
            return invalid(f, fl); /* 0 * inf */
        return special(f, NR_CLS_INF, sign, sr, fl);
    }
    if (x.cls == NR_CLS_ZERO || y.cls == NR_CLS_ZERO)
        return special(f, NR_CLS_ZERO, sign, sr, fl);
    wide wa, wb, r;
    wide_from(&x, &wa);
    wide_from(&y, &wb);
    wide_mul(&wa, &wb, &r); /* <= 64 x 64 bits: exact */
    return finish(f, m, &r, sr, fl);
}

/* Quotient (wide_div): the quotient of two decoded operands (at most 64
 * bits each) has at least 128 bits (>= prec + 2 for every format; for fixed
 * formats its lowest bit is 2^-128 or below, under the 2^-(F+2) rounding
 * needs), and the remainder gives the sticky bit. */
uint64_t nr_div(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, uint32_t sr,
                unsigned *fl)
{
    unsigned dummy = 0;
    if (!fl)
        fl = &dummy;
    nr_exact x, y;
    nr_codec_decode_exact(f, a, &x);
    nr_codec_decode_exact(f, b, &y);
    int sign = x.sign ^ y.sign;
    if (x.cls == NR_CLS_NAN || y.cls == NR_CLS_NAN)
        return special(f, NR_CLS_NAN, 0, sr, fl);
    if (x.cls == NR_CLS_INF)
        return y.cls == NR_CLS_INF ? invalid(f, fl) : special(f, NR_CLS_INF, sign, sr, fl);
    if (y.cls == NR_CLS_INF)
        return special(f, NR_CLS_ZERO, sign, sr, fl);
    if (y.cls == NR_CLS_ZERO)
        return x.cls == NR_CLS_ZERO ? invalid(f, fl) : special(f, NR_CLS_INF, sign, sr, fl);
    if (x.cls == NR_CLS_ZERO)
        return special(f, NR_CLS_ZERO, sign, sr, fl);
    wide r;
    wide_div(&x, &y, &r);
    return finish(f, m, &r, sr, fl);
}

/* a*b + c with one rounding: the product is exact (<= 128 bits) and
 * wide_add's alignment argument covers the sum. */
uint64_t nr_fma(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, uint64_t c,
                uint32_t sr, unsigned *fl)
{
    unsigned dummy = 0;
    if (!fl)
        fl = &dummy;
    nr_exact x, y, z;
    nr_codec_decode_exact(f, a, &x);
    nr_codec_decode_exact(f, b, &y);
    nr_codec_decode_exact(f, c, &z);
    int psign = x.sign ^ y.sign;
    if (x.cls == NR_CLS_NAN || y.cls == NR_CLS_NAN || z.cls == NR_CLS_NAN)
        return special(f, NR_CLS_NAN, 0, sr, fl);
    int pinf = x.cls == NR_CLS_INF || y.cls == NR_CLS_INF;
    int pzero = x.cls == NR_CLS_ZERO || y.cls == NR_CLS_ZERO;
    if (pinf && pzero)
        return invalid(f, fl); /* 0 * inf (+ c) */
    if (pinf) {
        if (z.cls == NR_CLS_INF && z.sign != psign)
            return invalid(f, fl); /* inf - inf */
        return special(f, NR_CLS_INF, psign, sr, fl);
    }
    if (z.cls == NR_CLS_INF)
        return special(f, NR_CLS_INF, z.sign, sr, fl);
    if (pzero) {
        if (z.cls == NR_CLS_ZERO)
            return special(f, NR_CLS_ZERO, psign == z.sign ? psign : zero_sum_sign(m), sr, fl);
        return nr_round_exact(f, m, &z, sr, fl);
    }
    wide wa, wb, wp, wc, r;
    wide_from(&x, &wa);
    wide_from(&y, &wb);
    wide_mul(&wa, &wb, &wp);
    if (z.cls == NR_CLS_ZERO)
        return finish(f, m, &wp, sr, fl);
    wide_from(&z, &wc);
    wide_add(&wp, &wc, 0, &r);
    if (r.cls == NR_CLS_ZERO)
        r.sign = zero_sum_sign(m);
    return finish(f, m, &r, sr, fl);
}

/* Square root: the radicand's significand is shifted left by an amount of
 * the exponent's parity to 254 or 255 bits, so the integer root has at
 * least 127 bits; the remainder gives the sticky bit.  (A root of 127 bits
 * with a sticky bit rounds correctly to any precision up to 125 bits; for
 * fixed formats its lowest bit is far below 2^-(F+2).) */
uint64_t nr_sqrt(const nr_format *f, nr_rounding m, uint64_t a, uint32_t sr, unsigned *fl)
{
    unsigned dummy = 0;
    if (!fl)
        fl = &dummy;
    nr_exact x;
    nr_codec_decode_exact(f, a, &x);
    switch (x.cls) {
    case NR_CLS_NAN: return special(f, NR_CLS_NAN, 0, sr, fl);
    case NR_CLS_ZERO: return special(f, NR_CLS_ZERO, x.sign, sr, fl); /* sqrt(-0) = -0 */
    case NR_CLS_INF: return x.sign ? invalid(f, fl) : special(f, NR_CLS_INF, 0, sr, fl);
    case NR_CLS_FINITE: break;
    }
    if (x.sign)
        return invalid(f, fl);
    int sh = 254 - bl128(x.sig);
    if (((int64_t)x.exp - sh) & 1)
        sh++;
    int inexact;
    wide r;
    r.cls = NR_CLS_FINITE;
    r.sign = 0;
    r.sig = w128(isqrt256(shl256(w128(x.sig), sh), &inexact));
    r.exp = ((int64_t)x.exp - sh) / 2; /* even, so the division is exact */
    r.sticky = inexact;
    return finish(f, m, &r, sr, fl);
}

uint64_t nr_arith_convert(const nr_format *to, nr_rounding m, const nr_format *from, uint64_t a,
                    uint32_t sr, unsigned *fl)
{
    nr_exact x;
    wide w;
    nr_codec_decode_exact(from, a, &x);
    if (x.cls != NR_CLS_FINITE)
        return nr_round_exact(to, m, &x, sr, fl);
    wide_from(&x, &w);
    return finish(to, m, &w, sr, fl);
}
