/* check_oracle_arith.c -- nr_add/sub/mul/div/fma/sqrt against the MPFR oracle
 * ([op-1]): every operand pair of small formats (up to 8 bits) in every mode,
 * fma over all triples of 6-bit formats and a sample of addends for 8-bit
 * ones, then seeded random operands (specials, extremes and near-cancelling
 * pairs mixed in) for wide float and fixed formats. */
#include "testutil.h"
#include "orcheck.h"

#include <stdlib.h>

typedef struct actx {
    oc_stats st;
    uint64_t rng;
    or_plan plan;
    long ops;
} actx;

static uint64_t lib_op(const nr_format *f, or_op op, nr_rounding m, uint64_t a, uint64_t b,
                       uint64_t c, uint32_t r, unsigned *fl)
{
    switch (op) {
    case OR_ADD: return nr_add(f, m, a, b, r, fl);
    case OR_SUB: return nr_sub(f, m, a, b, r, fl);
    case OR_MUL: return nr_mul(f, m, a, b, r, fl);
    case OR_DIV: return nr_div(f, m, a, b, r, fl);
    case OR_FMA: return nr_fma(f, m, a, b, c, r, fl);
    default: return nr_sqrt(f, m, a, r, fl);
    }
}

/* One operation in every mode (SR: draws around the threshold when full). */
static void check_op(actx *c, const nr_format *f, const or_fmt *o, or_ops *s, const char *name,
                     or_op op, uint64_t a, uint64_t b, uint64_t cc, int full_sr)
{
    or_op_plan(o, s, op, a, b, cc, &c->plan);
    c->ops++;
    for (int m = 0; m < NR_RND_COUNT; m++) {
        uint32_t draws[6];
        int nd = 1;
        if (m == NR_RND_SR) {
            nd = oc_sr_draws(c->plan.th, &c->rng, draws);
            if (!full_sr && nd > 3) { /* keep th-1, th and the random one */
                draws[0] = draws[2], draws[1] = draws[3], draws[2] = draws[nd - 1];
                nd = 3;
            }
        } else {
            draws[0] = 0x5bd1e995u;
        }
        for (int i = 0; i < nd; i++) {
            or_res e;
            or_plan_pick(o, &c->plan, (nr_rounding)m, draws[i], &e);
            unsigned fl = 0;
            uint64_t got = lib_op(f, op, (nr_rounding)m, a, b, cc, draws[i], &fl);
            char what[16], in[160];
            snprintf(what, sizeof what, "%s", or_op_name(op));
            if (op == OR_SQRT)
                snprintf(in, sizeof in, "a=0x%llx", (unsigned long long)a);
            else if (op == OR_FMA)
                snprintf(in, sizeof in, "a=0x%llx b=0x%llx c=0x%llx", (unsigned long long)a,
                         (unsigned long long)b, (unsigned long long)cc);
            else
                snprintf(in, sizeof in, "a=0x%llx b=0x%llx", (unsigned long long)a,
                         (unsigned long long)b);
            oc_cmp(&c->st, name, what, (nr_rounding)m, draws[i], in, &e, got, fl);
        }
    }
}

static int open_fmt(actx *c, const nr_format *f, or_fmt *o, char *name, size_t n)
{
    oc_name(f, name, n);
    if (or_fmt_init(o, f) != 0) {
        oc_fail(&c->st, "%s: the oracle finds it invalid", name);
        or_fmt_clear(o);
        return -1;
    }
    return 0;
}

/* All pairs (and all a for sqrt); fma: all triples when width <= fma_all,
 * else every pair with `fma_c` seeded addends. */
static void exhaustive(actx *c, const nr_format *f, int fma_all, int fma_c)
{
    or_fmt o;
    char name[64];
    if (open_fmt(c, f, &o, name, sizeof name))
        return;
    or_ops s;
    or_ops_init(&s, &o);
    const uint64_t n = 1ull << o.width;
    for (uint64_t a = 0; a < n; a++) {
        check_op(c, f, &o, &s, name, OR_SQRT, a, 0, 0, 1);
        for (uint64_t b = 0; b < n; b++) {
            for (int op = OR_ADD; op <= OR_DIV; op++)
                check_op(c, f, &o, &s, name, (or_op)op, a, b, 0, 0);
            if (o.width <= fma_all)
                for (uint64_t k = 0; k < n; k++)
                    check_op(c, f, &o, &s, name, OR_FMA, a, b, k, 0);
            else
                for (int k = 0; k < fma_c; k++)
                    check_op(c, f, &o, &s, name, OR_FMA, a, b, tu_rand(&c->rng) & (n - 1), 0);
        }
    }
    or_ops_clear(&s);
    or_fmt_clear(&o);
}

/* A random operand: specials, extremes and plain random encodings. */
static uint64_t operand(actx *c, const or_fmt *o)
{
    const uint64_t mask = o->width >= 64 ? ~0ull : (1ull << o->width) - 1;
    const uint64_t sbit = o->fixed ? 0 : 1ull << (o->X + o->Y);
    uint64_t r = tu_rand(&c->rng);
    uint64_t sg = (r >> 8 & 1) ? (o->fixed ? mask : sbit) : 0;
    switch (r & 31) {
    case 0: return 0 | (o->fixed ? 0 : sg);
    case 1: return o->has_inf ? o->inf_bits | sg : tu_rand(&c->rng) & mask;
    case 2: return o->has_nan ? o->nan_bits : tu_rand(&c->rng) & mask;
    case 3: return o->fixed ? (sg ? (o->sgn ? 1ull << (o->width - 1) : 0) : o->max_bits)
                            : o->max_bits | sg;
    case 4: return o->fixed ? (sg & 1) * mask | 1 : 1 | sg;               /* min subnormal */
    case 5: return o->fixed ? 1 : (1ull << o->Y) | sg;                     /* min normal */
    case 6: return o->fixed ? (o->max_bits ^ 1) : (o->max_bits - 1) | sg;
    case 7: /* a value near 1 (float) / small integer (fixed) */
        if (o->fixed)
            return ((uint64_t)(r >> 16 & 7) << o->F) & mask;
        return ((uint64_t)(o->bias + (int)(r >> 16 & 3) - 1) << o->Y | (r >> 24 & ((1ull << o->Y) - 1))) | sg;
    default: return tu_rand(&c->rng) & mask;
    }
}

static void random_ops(actx *c, const nr_format *f, long count)
{
    or_fmt o;
    char name[64];
    if (open_fmt(c, f, &o, name, sizeof name))
        return;
    or_ops s;
    or_ops_init(&s, &o);
    const uint64_t mask = o.width >= 64 ? ~0ull : (1ull << o.width) - 1;
    for (long i = 0; i < count; i++) {
        uint64_t a = operand(c, &o), b = operand(c, &o), k = operand(c, &o);
        or_op op = (or_op)(i % 6);
        if ((i / 6) % 4 == 1) /* near-cancelling: b differs from a in the low bits */
            b = (a ^ (tu_rand(&c->rng) & 0xf)) & mask;
        if (op == OR_FMA && (i / 6) % 3 == 2) {
            /* c = -(a*b rounded): the fma result is the product's rounding
             * error, the hard case for an exact fused implementation */
            or_res pr;
            or_op_plan(&o, &s, OR_MUL, a, b, 0, &c->plan);
            or_plan_pick(&o, &c->plan, NR_RND_RNE, 0, &pr);
            k = o.fixed ? (0 - pr.bits) & mask : pr.bits ^ (1ull << (o.X + o.Y));
            k ^= tu_rand(&c->rng) & 1;
        }
        check_op(c, f, &o, &s, name, op, a, b, k, 0);
    }
    or_ops_clear(&s);
    or_fmt_clear(&o);
}

/* nr_arith_convert from every encoding of `from` into `to`, every mode. */
static void convert_all(actx *c, const nr_format *to, const nr_format *from, long samples)
{
    or_fmt ot, of;
    char nt[64], nf[64], name[140];
    if (open_fmt(c, to, &ot, nt, sizeof nt))
        return;
    if (open_fmt(c, from, &of, nf, sizeof nf)) {
        or_fmt_clear(&ot);
        return;
    }
    snprintf(name, sizeof name, "%s<-%s", nt, nf);
    or_val v;
    or_val_init(&v, 128);
    const uint64_t mask = of.width >= 64 ? ~0ull : (1ull << of.width) - 1;
    const uint64_t n = samples ? (uint64_t)samples : mask + 1;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t a = samples ? tu_rand(&c->rng) & mask : i;
        or_decode(&of, a, &v);
        or_plan_make(&ot, &v, &c->plan);
        c->ops++;
        for (int m = 0; m < NR_RND_COUNT; m++) {
            uint32_t draws[6];
            int nd = m == NR_RND_SR ? oc_sr_draws(c->plan.th, &c->rng, draws) : 1;
            if (m != NR_RND_SR)
                draws[0] = 0x2545f491u;
            for (int d = 0; d < nd; d++) {
                or_res e;
                or_plan_pick(&ot, &c->plan, (nr_rounding)m, draws[d], &e);
                unsigned fl = 0;
                uint64_t got = nr_arith_convert(to, (nr_rounding)m, from, a, draws[d], &fl);
                char in[40];
                snprintf(in, sizeof in, "a=0x%llx", (unsigned long long)a);
                oc_cmp(&c->st, name, "convert", (nr_rounding)m, draws[d], in, &e, got, fl);
            }
        }
    }
    or_val_clear(&v);
    or_fmt_clear(&ot);
    or_fmt_clear(&of);
}

static void report(actx *c, const char *what, double t0)
{
    printf("%s: %ld operations, %ld checks, %ld failures, %ld notes, %.1f s\n", what, c->ops,
           c->st.checks, c->st.fails, c->st.notes, oc_now() - t0);
    oc_summary(&c->st);
    fflush(stdout);
}

static void actx_init(actx *c)
{
    oc_stats_init(&c->st);
    c->rng = 0x617269746820ull;
    c->ops = 0;
    or_plan_init(&c->plan);
}

START_TEST(test_small_exhaustive)
{
    actx c;
    actx_init(&c);
    double t0 = oc_now();
    /* every variant of the 6-bit formats (fma over all triples) */
    for (int X = 1; X <= 5; X++)
        for (int sp = 0; sp < 4; sp++)
            for (int v = 0; v < 4; v++) {
                if (tu_quick() && (v || X != 3))
                    continue;
                nr_format f;
                if (oc_make_float(&f, X, 5 - X, (nr_specials)sp, !(v & 1), v >> 1) == 0)
                    exhaustive(&c, &f, tu_exhaustive() ? 6 : 0, tu_exhaustive() ? 0 : 8);
            }
    static const struct { int I, F, sgn, sat; } fx[] = {
        {2, 3, 1, 1}, {2, 3, 1, 0}, {3, 3, 0, 1}, {0, 6, 0, 0}, {5, 0, 1, 0}, {0, 5, 1, 1},
    };
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
        nr_format f;
        if (tu_quick() && i > 1)
            break;
        if (oc_make_fixed(&f, fx[i].I, fx[i].F, fx[i].sgn, fx[i].sat) == 0)
            exhaustive(&c, &f, tu_exhaustive() ? 6 : 0, 8);
    }
    report(&c, "6-bit formats, all pairs", t0);
    ck_assert_msg(c.st.fails == 0, "%ld mismatches against the oracle", c.st.fails);
    or_plan_clear(&c.plan);
}
END_TEST

START_TEST(test_8bit_exhaustive)
{
    actx c;
    actx_init(&c);
    double t0 = oc_now();
    static const char *const def[] = {"e4m3", "e5m2", "e3m4-fnuz", "e2m5-nosub-sat", "q3.4-wrap"};
    static const char *const more[] = {"e4m3-fnuz", "e5m2-fnuz", "e5m2-sat", "e4m3-nosub",
                                       "e3m4", "e6m1", "e1m6-fn", "e7m0-fn-sat", "e3m4-finite",
                                       "int8", "uint8", "q0.7", "uq1.7-wrap"};
    size_t nd = tu_quick() ? 1 : sizeof def / sizeof def[0];
    for (size_t i = 0; i < nd; i++) {
        nr_format f = tu_fmt(def[i]);
        exhaustive(&c, &f, 0, tu_exhaustive() ? 64 : tu_quick() ? 1 : 4);
    }
    if (tu_exhaustive())
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
            nr_format f = tu_fmt(more[i]);
            exhaustive(&c, &f, 0, 16);
        }
    report(&c, "8-bit formats, all pairs", t0);
    ck_assert_msg(c.st.fails == 0, "%ld mismatches against the oracle", c.st.fails);
    or_plan_clear(&c.plan);
}
END_TEST

START_TEST(test_wide_random)
{
    actx c;
    actx_init(&c);
    double t0 = oc_now();
    static const struct { const char *name; long n; } w[] = {
        {"fp16", 200000}, {"bf16", 150000}, {"fp32", 200000}, {"tf32", 100000},
        {"e6m7-nosub-finite", 100000}, {"fp64", 30000}, {"q7.8", 80000},
        {"q3.12", 50000}, {"int16", 50000}, {"q31.32", 50000}, {"uq16.16-wrap", 30000},
    };
    long scale = tu_exhaustive() ? 20 : 1;
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        nr_format f = tu_fmt(w[i].name);
        long n = tu_quick() ? w[i].n / 50 : w[i].n * scale;
        random_ops(&c, &f, n);
    }
    report(&c, "wide formats, random operands", t0);
    ck_assert_msg(c.st.fails == 0, "%ld mismatches against the oracle", c.st.fails);
    or_plan_clear(&c.plan);
}
END_TEST

/* Random exact operands: wide significands, nearby and distant exponents,
 * occasional sticky, zeros, infinities and NaNs. */
static void rand_exact(actx *c, nr_exact *x)
{
    uint64_t r = tu_rand(&c->rng);
    memset(x, 0, sizeof *x);
    x->sign = (int)(r & 1);
    switch (r >> 1 & 15) {
    case 0: x->cls = NR_CLS_ZERO; return;
    case 1: x->cls = NR_CLS_INF; return;
    case 2: x->cls = NR_CLS_NAN; return;
    default: break;
    }
    x->cls = NR_CLS_FINITE;
    x->sig = (unsigned __int128)tu_rand(&c->rng) << 64 | tu_rand(&c->rng);
    x->sig >>= (r >> 8) % 128;
    if (!x->sig)
        x->sig = 1;
    x->exp = (int32_t)((r >> 16) % 64) - 32;
    if ((r >> 24 & 7) == 0)
        x->exp += (int32_t)((r >> 28) % 600) - 300;
    x->sticky = (r >> 40 & 7) == 0;
}

/* nr_arith_exact_add / nr_arith_exact_mul: the result must be the exact value, or, when
 * it carries sticky, a lower bound in magnitude with the true value strictly
 * inside (out, out + 2^exp). */
START_TEST(test_exact_ops)
{
    actx c;
    actx_init(&c);
    double t0 = oc_now();
    or_val a, b, got, want;
    or_val_init(&a, 160);
    or_val_init(&b, 160);
    or_val_init(&got, 160);
    or_val_init(&want, 4096);
    mpfr_t sa, sb, up;
    mpfr_inits2(4096, sa, sb, up, (mpfr_ptr)0);
    long n = tu_quick() ? 20000 : 600000;
    for (long i = 0; i < n; i++) {
        nr_exact x, y, z;
        rand_exact(&c, &x);
        rand_exact(&c, &y);
        x.sticky = y.sticky = 0; /* exact inputs: the reference is then exact */
        int mul = (int)(i & 1);
        if (mul)
            nr_arith_exact_mul(&x, &y, &z);
        else
            nr_arith_exact_add(&x, &y, NR_RND_RNE, &z);
        c.st.checks++;
        or_val_from_exact(&a, &x);
        or_val_from_exact(&b, &y);
        /* the reference class and value */
        nr_class wc;
        int ws = 0;
        if (a.cls == NR_CLS_NAN || b.cls == NR_CLS_NAN)
            wc = NR_CLS_NAN;
        else if (mul && ((a.cls == NR_CLS_INF && b.cls == NR_CLS_ZERO) ||
                         (a.cls == NR_CLS_ZERO && b.cls == NR_CLS_INF)))
            wc = NR_CLS_NAN;
        else if (!mul && a.cls == NR_CLS_INF && b.cls == NR_CLS_INF && a.sign != b.sign)
            wc = NR_CLS_NAN;
        else if (a.cls == NR_CLS_INF || b.cls == NR_CLS_INF) {
            wc = NR_CLS_INF;
            ws = mul ? a.sign ^ b.sign : (a.cls == NR_CLS_INF ? a.sign : b.sign);
        } else {
            mpfr_set(sa, a.mag, MPFR_RNDN);
            if (a.sign)
                mpfr_neg(sa, sa, MPFR_RNDN);
            mpfr_set(sb, b.mag, MPFR_RNDN);
            if (b.sign)
                mpfr_neg(sb, sb, MPFR_RNDN);
            int t = mul ? mpfr_mul(want.mag, sa, sb, MPFR_RNDN) : mpfr_add(want.mag, sa, sb, MPFR_RNDN);
            if (t)
                abort();
            wc = mpfr_zero_p(want.mag) ? NR_CLS_ZERO : NR_CLS_FINITE;
            ws = mpfr_sgn(want.mag) < 0;
            mpfr_abs(want.mag, want.mag, MPFR_RNDN);
        }
        char xs[160], ys[160], zs[160];
        oc_exact_str(&x, xs, sizeof xs);
        oc_exact_str(&y, ys, sizeof ys);
        oc_exact_str(&z, zs, sizeof zs);
        /* zero results: the sign of an exact zero sum is the caller's
         * business (mode-dependent), so only the class is compared */
        int ok = z.cls == wc || (wc == NR_CLS_ZERO && z.cls == NR_CLS_FINITE && z.sig == 0 && !z.sticky);
        if (ok && wc == NR_CLS_INF)
            ok = z.sign == ws;
        if (ok && wc == NR_CLS_FINITE) {
            or_val_from_exact(&got, &z);
            ok = z.sign == ws;
            if (ok && !z.sticky)
                ok = mpfr_equal_p(got.mag, want.mag);
            else if (ok) { /* got < want < got + 2^exp */
                mpfr_set_ui_2exp(up, 1, z.exp, MPFR_RNDN);
                mpfr_add(up, up, got.mag, MPFR_RNDN);
                ok = mpfr_less_p(got.mag, want.mag) && mpfr_less_p(want.mag, up);
            }
        }
        if (!ok) {
            char ws_[300];
            mpfr_snprintf(ws_, sizeof ws_, "cls %d %s%Ra", (int)wc, ws ? "-" : "+", want.mag);
            oc_fail(&c.st, "nr_exact_%s x=%s y=%s: expected %s, got %s", mul ? "mul" : "add", xs,
                    ys, ws_, zs);
        }
        c.ops++;
    }
    mpfr_clears(sa, sb, up, (mpfr_ptr)0);
    or_val_clear(&a);
    or_val_clear(&b);
    or_val_clear(&got);
    or_val_clear(&want);
    report(&c, "exact add/mul", t0);
    ck_assert_msg(c.st.fails == 0, "%ld mismatches against the oracle", c.st.fails);
    or_plan_clear(&c.plan);
}
END_TEST

START_TEST(test_convert)
{
    actx c;
    actx_init(&c);
    double t0 = oc_now();
    static const char *const small[] = {"e4m3", "e5m2", "e3m4-fnuz", "e2m1", "e4m3-nosub-sat",
                                        "q3.4", "uq2.6-wrap", "int8"};
    static const char *const wide[] = {"fp16", "bf16", "fp32", "q7.8", "e8m0-fn"};
    const size_t ns = sizeof small / sizeof small[0], nw = sizeof wide / sizeof wide[0];
    for (size_t i = 0; i < ns + nw; i++)
        for (size_t j = 0; j < ns + nw; j++) {
            if (tu_quick() && (i + j) % 5)
                continue;
            nr_format to = tu_fmt(i < ns ? small[i] : wide[i - ns]);
            nr_format from = tu_fmt(j < ns ? small[j] : wide[j - ns]);
            convert_all(&c, &to, &from, from.width <= (tu_quick() ? 8 : 16) ? 0 : tu_quick() ? 500 : 20000);
        }
    report(&c, "conversions", t0);
    ck_assert_msg(c.st.fails == 0, "%ld mismatches against the oracle", c.st.fails);
    or_plan_clear(&c.plan);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oracle_arith");
    TCase *tc = tcase_create("oracle_arith");
    tcase_set_timeout(tc, 7200);
    tcase_add_test(tc, test_small_exhaustive);
    tcase_add_test(tc, test_8bit_exhaustive);
    tcase_add_test(tc, test_wide_random);
    tcase_add_test(tc, test_convert);
    tcase_add_test(tc, test_exact_ops);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
