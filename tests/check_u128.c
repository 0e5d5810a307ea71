/* check_u128.c -- runtime/num/u128.h's portable path (two uint64_t halves,
 * what 32-bit ARM builds compile) against the compiler's unsigned __int128
 * on random operands: every operation, bit for bit.  This file defines
 * NR_U128_PORTABLE, so here nr_u128 is the struct. */
#define NR_U128_PORTABLE 1
#include "u128.h"

#include <check.h>
#include <stdlib.h>

typedef unsigned __int128 ref128;

static uint64_t rng(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* random operands with runs of zeros and ones, and small values */
static uint64_t limb(uint64_t *s)
{
    uint64_t r = rng(s);
    switch (r & 7) {
    case 0: return 0;
    case 1: return ~0ull;
    case 2: return r >> (r >> 58);
    case 3: return r << (r >> 58);
    default: return rng(s);
    }
}

static ref128 ref(nr_u128 a) { return (ref128)a.hi << 64 | a.lo; }
static int same(nr_u128 a, ref128 b) { return a.lo == (uint64_t)b && a.hi == (uint64_t)(b >> 64); }

START_TEST(t_ops)
{
    uint64_t s = 42;
    for (int i = 0; i < 30000; i++) {
        nr_u128 a = nr_u128_make(limb(&s), limb(&s)), b = nr_u128_make(limb(&s), limb(&s));
        ref128 ra = ref(a), rb = ref(b);
        int k = (int)(rng(&s) % 128), n = (int)(rng(&s) % 300);
        ck_assert(same(nr_u128_add(a, b), ra + rb));
        ck_assert(same(nr_u128_sub(a, b), ra - rb));
        ck_assert(same(nr_u128_shl(a, k), ra << k));
        ck_assert(same(nr_u128_shr(a, k), ra >> k));
        ck_assert(same(nr_u128_shr_any(a, n), n >= 128 ? 0 : ra >> n));
        ck_assert(same(nr_u128_low(a, n), n >= 128 ? ra : ra & (((ref128)1 << n) - 1)));
        ck_assert(same(nr_u128_and(a, b), ra & rb));
        ck_assert(same(nr_u128_or(a, b), ra | rb));
        ck_assert_int_eq(nr_u128_lt(a, b), ra < rb);
        ck_assert_int_eq(nr_u128_eq(a, a), 1);
        ck_assert_int_eq(nr_u128_eq(a, b), ra == rb);
        ck_assert_int_eq(nr_u128_is0(a), ra == 0);
        int bl = 0;
        for (ref128 t = ra; t; t >>= 1)
            bl++;
        ck_assert_int_eq(nr_u128_bitlen(a), bl);
        uint64_t x = limb(&s), y = limb(&s);
        ck_assert(same(nr_u128_mul64(x, y), (ref128)x * y));
        uint64_t d = limb(&s) | 1, hi = rng(&s) % d, lo = limb(&s), r;
        uint64_t q = nr_u128_div64(hi, lo, d, &r);
        ref128 num = (ref128)hi << 64 | lo;
        ck_assert(q == (uint64_t)(num / d) && r == (uint64_t)(num % d));
    }
}
END_TEST

int main(void)
{
    Suite *su = suite_create("u128");
    TCase *tc = tcase_create("portable");
    tcase_set_timeout(tc, 0);
    tcase_add_test(tc, t_ops);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
