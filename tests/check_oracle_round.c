/* check_oracle_round.c -- decode, encode and round-exact of libnumrep against
 * the independent MPFR oracle (tests/oracle/), exhaustively over every
 * encoding of a broad family of formats: for each value, its re-encoding in
 * every mode, and the rounding of points around it (quarter gaps, midpoints,
 * just below the midpoint, sticky values, random fractions) in every mode,
 * stochastic rounding with draws on both sides of its threshold. */
#include "testutil.h"
#include "orcheck.h"

#include <math.h>
#include <stdlib.h>

typedef struct rctx {
    oc_stats st;
    uint64_t rng;
    or_val v, x;
    or_plan plan, nb;
} rctx;

static void rctx_init(rctx *c)
{
    oc_stats_init(&c->st);
    c->rng = 0x6f7261636c65ull;
    or_val_init(&c->v, 128);
    or_val_init(&c->x, 128);
    or_plan_init(&c->plan);
    or_plan_init(&c->nb);
}

static void rctx_clear(rctx *c)
{
    or_val_clear(&c->v);
    or_val_clear(&c->x);
    or_plan_clear(&c->plan);
    or_plan_clear(&c->nb);
}

/* ---------------------------------------------------------------- constants */

static void check_consts(rctx *c, const nr_format *f, const or_fmt *o, const char *name)
{
    c->st.checks++;
#define K(cond, ...)                                                                          \
    do {                                                                                      \
        if (!(cond))                                                                          \
            oc_fail(&c->st, __VA_ARGS__);                                                     \
    } while (0)
    K(f->width == o->width, "%s: width %d, oracle %d", name, f->width, o->width);
    K(f->max_bits == o->max_bits, "%s: max_bits 0x%llx, oracle 0x%llx", name,
      (unsigned long long)f->max_bits, (unsigned long long)o->max_bits);
    K(f->max_finite == mpfr_get_d(o->max, MPFR_RNDN), "%s: max_finite %a, oracle %a", name,
      f->max_finite, mpfr_get_d(o->max, MPFR_RNDN));
    if (o->fixed)
        return;
    K(f->emin == o->emin, "%s: emin %d, oracle %d", name, f->emin, o->emin);
    K(f->has_inf == o->has_inf && f->has_nan == o->has_nan && f->has_negzero == o->has_negzero,
      "%s: has_inf/nan/negzero %d%d%d, oracle %d%d%d", name, f->has_inf, f->has_nan,
      f->has_negzero, o->has_inf, o->has_nan, o->has_negzero);
    K(!o->has_nan || f->nan_bits == o->nan_bits, "%s: nan_bits 0x%llx, oracle 0x%llx", name,
      (unsigned long long)f->nan_bits, (unsigned long long)o->nan_bits);
    K(!o->has_inf || f->inf_bits == o->inf_bits, "%s: inf_bits 0x%llx, oracle 0x%llx", name,
      (unsigned long long)f->inf_bits, (unsigned long long)o->inf_bits);
    K(f->min_subnormal == ldexp(1.0, o->sub ? o->emin - o->Y : o->emin),
      "%s: min_subnormal %a", name, f->min_subnormal);
#undef K
}

/* ---------------------------------------------------------------- decode */

static void check_decode(rctx *c, const nr_format *f, const or_fmt *o, const char *name,
                         uint64_t bits)
{
    or_val *v = &c->v;
    or_decode(o, bits, v);
    const int canon = or_canonical(o, bits);
    char vs[160];
    oc_val_str(v, vs, sizeof vs);
    c->st.checks += 4;
    nr_class k = nr_codec_classify(f, bits);
    if (k != v->cls)
        oc_fail(&c->st, "%s classify 0x%llx: expected class %d (%s), got %d", name,
                (unsigned long long)bits, (int)v->cls, vs, (int)k);
    nr_exact x;
    memset(&x, 0x5a, sizeof x);
    nr_codec_decode_exact(f, bits, &x);
    /* fnuz has no -0, so the sign of a zero (only the -nosub non-canonical
     * encodings 1 00..0 M) is open there */
    int sign_ok = x.sign == v->sign || v->cls == NR_CLS_NAN ||
                  (v->cls == NR_CLS_ZERO && !o->has_negzero);
    int val_ok = x.cls == v->cls && sign_ok;
    if (val_ok && v->cls == NR_CLS_FINITE) {
        or_val_from_exact(&c->x, &x);
        val_ok = !x.sticky && c->x.cls == NR_CLS_FINITE && mpfr_equal_p(c->x.mag, v->mag);
    }
    if (val_ok && v->cls == NR_CLS_ZERO)
        val_ok = !x.sticky;
    if (!val_ok) {
        char xs[160];
        oc_exact_str(&x, xs, sizeof xs);
        oc_fail(&c->st, "%s decode_exact 0x%llx: expected %s, got %s", name,
                (unsigned long long)bits, vs, xs);
    }
    double d = nr_decode(f, bits);
    int d_ok;
    if (v->cls == NR_CLS_NAN)
        d_ok = isnan(d);
    else if (v->cls == NR_CLS_INF)
        d_ok = isinf(d) && !!signbit(d) == v->sign;
    else {
        double e = mpfr_get_d(v->mag, MPFR_RNDN);
        if (v->sign)
            e = -e;
        d_ok = o->has_negzero || v->cls != NR_CLS_ZERO ? memcmp(&d, &e, sizeof d) == 0 : d == 0;
    }
    if (!d_ok)
        oc_fail(&c->st, "%s decode 0x%llx: expected %s, got %a", name, (unsigned long long)bits,
                vs, d);
    int ic = nr_is_canonical(f, bits);
    if (!!ic != canon) {
        if (v->cls == NR_CLS_NAN) /* which NaN encodings count as canonical is open */
            oc_note(&c->st, "%s is_canonical NaN 0x%llx: oracle %d, lib %d", name,
                    (unsigned long long)bits, canon, ic);
        else
            oc_fail(&c->st, "%s is_canonical 0x%llx (%s): expected %d, got %d", name,
                    (unsigned long long)bits, vs, canon, ic);
    }
}

/* ---------------------------------------------------------------- rounding */

/* Round the point c->x (all modes, SR draws around its threshold) with
 * nr_round_exact, and with nr_encode when the point is a double. */
static void check_point(rctx *c, const nr_format *f, const or_fmt *o, const char *name)
{
    or_plan_make(o, &c->x, &c->plan);
    nr_exact x;
    or_val_to_exact(&c->x, &x);
    char in[420], vs[200], xs[200];
    oc_val_str(&c->x, vs, sizeof vs);
    oc_exact_str(&x, xs, sizeof xs);
    snprintf(in, sizeof in, "%s = %s", vs, xs);
    /* a double when finite, no sticky and at most 53 significant bits */
    int dbl = 0;
    double d = 0;
    if (c->x.cls == NR_CLS_FINITE && !c->x.sticky) {
        d = mpfr_get_d(c->x.mag, MPFR_RNDN);
        mpfr_t t;
        mpfr_init2(t, 128);
        mpfr_set_d(t, d, MPFR_RNDN);
        dbl = mpfr_equal_p(t, c->x.mag) && isfinite(d);
        mpfr_clear(t);
        if (c->x.sign)
            d = -d;
    } else if (c->x.cls == NR_CLS_ZERO) {
        d = c->x.sign ? -0.0 : 0.0, dbl = 1;
    } else if (c->x.cls == NR_CLS_INF) {
        d = c->x.sign ? -INFINITY : INFINITY, dbl = 1;
    } else if (c->x.cls == NR_CLS_NAN) {
        d = NAN, dbl = 1;
    }
    for (int m = 0; m < NR_RND_COUNT; m++) {
        uint32_t draws[6];
        int nd = m == NR_RND_SR ? oc_sr_draws(c->plan.th, &c->rng, draws) : 1;
        if (m != NR_RND_SR)
            draws[0] = 0x9e3779b9u;
        for (int i = 0; i < nd; i++) {
            or_res e;
            or_plan_pick(o, &c->plan, (nr_rounding)m, draws[i], &e);
            unsigned fl = 0;
            uint64_t b = nr_round_exact(f, (nr_rounding)m, &x, draws[i], &fl);
            oc_cmp(&c->st, name, "round_exact", (nr_rounding)m, draws[i], in, &e, b, fl);
            if (dbl) {
                fl = 0;
                b = nr_encode(f, (nr_rounding)m, d, draws[i], &fl);
                oc_cmp(&c->st, name, "encode(double)", (nr_rounding)m, draws[i], in, &e, b, fl);
            }
        }
    }
}

/* x = sign * (v + g * num / 2^den) (+ sticky) */
static void set_point(rctx *c, mpfr_srcptr v, mpfr_srcptr g, int sign, uint64_t num, int den,
                      int sticky)
{
    mpfr_t t;
    mpfr_init2(t, 128);
    mpfr_set_uj(t, num, MPFR_RNDN);
    mpfr_mul(t, t, g, MPFR_RNDN);
    mpfr_div_2ui(t, t, (unsigned long)den, MPFR_RNDN);
    int tern = mpfr_add(c->x.mag, v, t, MPFR_RNDN);
    if (tern)
        abort(); /* our own construction must be exact */
    mpfr_clear(t);
    c->x.sign = sign;
    c->x.sticky = sticky;
    c->x.cls = mpfr_zero_p(c->x.mag) && !sticky ? NR_CLS_ZERO : NR_CLS_FINITE;
}

/* Points around the non-negative value v (c->v) up to the next value. */
static void check_neighbourhood(rctx *c, const nr_format *f, const or_fmt *o, const char *name,
                                int is_max)
{
    /* next value above v in the unbounded set: hi of v + sticky */
    or_val nv;
    or_val_init(&nv, 128);
    mpfr_set(nv.mag, c->v.mag, MPFR_RNDN);
    nv.cls = NR_CLS_FINITE;
    nv.sticky = 1;
    if (mpfr_zero_p(nv.mag)) { /* 0 + sticky is below everything: use the gap directly */
        nv.sticky = 0;
        if (o->fixed)
            mpfr_set_ui_2exp(nv.mag, 1, -o->F - 60, MPFR_RNDN);
        else
            mpfr_set_ui_2exp(nv.mag, 1, (o->sub ? o->emin - o->Y : o->emin) - 60, MPFR_RNDN);
    }
    or_plan_make(o, &nv, &c->nb);
    or_val_clear(&nv);
    mpfr_t g;
    mpfr_init2(g, 128);
    mpfr_sub(g, c->nb.hi, c->v.mag, MPFR_RNDN);
    static const struct { uint64_t num; int den, sticky; } pts[] = {
        {1, 2, 0}, {2, 2, 0}, {3, 2, 0}, {2, 2, 1}, {0, 0, 1},
        {(1ull << 39) - 1, 40, 0}, /* just below the midpoint */
    };
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
            if (pts[i].num == 0 && pts[i].sticky && mpfr_zero_p(c->v.mag))
                continue; /* 0 + sticky has no magnitude to speak of */
            set_point(c, c->v.mag, g, s, pts[i].num, pts[i].den, pts[i].sticky);
            check_point(c, f, o, name);
        }
        /* a random fraction, for SR's threshold arithmetic */
        uint64_t rnd = tu_rand(&c->rng) >> 14; /* 50 bits */
        set_point(c, c->v.mag, g, s, rnd, 50, (int)(rnd & 1));
        check_point(c, f, o, name);
        /* the value itself, as a rounding input */
        set_point(c, c->v.mag, g, s, 0, 0, 0);
        check_point(c, f, o, name);
        if (is_max) { /* the next value beyond max, and past it */
            set_point(c, c->v.mag, g, s, 1, 0, 0);
            check_point(c, f, o, name);
            set_point(c, c->v.mag, g, s, 3, 1, 0);
            check_point(c, f, o, name);
        }
    }
    mpfr_clear(g);
}

/* Far-away, special and zero inputs. */
static void check_extremes(rctx *c, const nr_format *f, const or_fmt *o, const char *name)
{
    static const struct { int cls; int32_t exp; uint64_t sig; int sticky; } ex[] = {
        {NR_CLS_FINITE, 4000, 3, 0},  {NR_CLS_FINITE, -4000, 5, 1}, {NR_CLS_FINITE, -4000, 1, 0},
        {NR_CLS_FINITE, 1100, 1, 1},  {NR_CLS_FINITE, -1200, 7, 0}, {NR_CLS_ZERO, 0, 0, 0},
        {NR_CLS_INF, 0, 0, 0},        {NR_CLS_NAN, 0, 0, 0},
    };
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
            nr_exact x = {0};
            x.cls = (nr_class)ex[i].cls;
            x.sign = s;
            x.exp = ex[i].exp;
            x.sig = ex[i].sig;
            x.sticky = ex[i].sticky;
            or_val_from_exact(&c->x, &x);
            check_point(c, f, o, name);
        }
    /* unnormalised significands: 128-bit sig with a low exponent */
    for (int k = 0; k < 8; k++) {
        nr_exact x = {0};
        x.cls = NR_CLS_FINITE;
        x.sign = k & 1;
        x.sig = (unsigned __int128)tu_rand(&c->rng) << 64 | tu_rand(&c->rng);
        x.sig >>= (k * 13) % 100;
        if (!x.sig)
            x.sig = 1;
        int top = 127 - (k * 13) % 100;
        int target = o->fixed ? o->I - 2 + k % 5 : (int)(o->emin + (k % 4) * 3 - 2);
        x.exp = target - top;
        x.sticky = k >> 1 & 1;
        or_val_from_exact(&c->x, &x);
        check_point(c, f, o, name);
    }
}

/* Every encoding of f, and the neighbourhood of every non-negative value;
 * encodings are visited with stride `step` (1 = all). */
static void check_format(rctx *c, const nr_format *f, uint64_t step)
{
    char name[64];
    oc_name(f, name, sizeof name);
    or_fmt o;
    if (or_fmt_init(&o, f) != 0) {
        oc_fail(&c->st, "%s: accepted by nr_format_finish, the oracle finds it invalid", name);
        or_fmt_clear(&o);
        return;
    }
    check_consts(c, f, &o, name);
    const uint64_t n = o.width >= 64 ? ~0ull : 1ull << o.width;
    for (uint64_t b = 0; b < n; b += step) {
        check_decode(c, f, &o, name, b);
        /* the re-encoding of the decoded value, in every mode */
        mpfr_set(c->x.mag, c->v.mag, MPFR_RNDN);
        c->x.cls = c->v.cls, c->x.sign = c->v.sign, c->x.sticky = 0;
        check_point(c, f, &o, name);
        /* neighbourhoods of non-negative canonical finite values */
        int pos = c->v.cls == NR_CLS_ZERO ? b == 0
                                          : c->v.cls == NR_CLS_FINITE && !c->v.sign;
        if (pos && or_canonical(&o, b))
            check_neighbourhood(c, f, &o, name, b == o.max_bits);
    }
    check_extremes(c, f, &o, name);
    or_fmt_clear(&o);
}

/* ---------------------------------------------------------------- families */

static const char *const spname[] = {"ieee", "fn", "fnuz", "finite"};

/* All float variants with X+Y in [lo,hi]; only_basic restricts to ieee and
 * finite with subnormals. */
static long float_family(rctx *c, int lo, int hi, int only_basic, uint64_t step_bits)
{
    long formats = 0;
    for (int w = lo; w <= hi; w++)
        for (int X = 1; X <= 11 && X <= w; X++) {
            int Y = w - X;
            for (int sp = 0; sp < 4; sp++)
                for (int sub = 1; sub >= 0; sub--)
                    for (int sat = 0; sat < 2; sat++) {
                        if (sp == NR_SPECIALS_FINITE && !sat)
                            continue; /* finite always saturates: same format */
                        if (only_basic && (sp == NR_SPECIALS_FN || sp == NR_SPECIALS_FNUZ ||
                                           !sub || sat))
                            continue;
                        nr_format f;
                        int rc = oc_make_float(&f, X, Y, (nr_specials)sp, sub, sat);
                        or_fmt o;
                        int orc = or_fmt_init(&o, &f);
                        or_fmt_clear(&o);
                        c->st.checks++;
                        if ((rc == 0) != (orc == 0)) {
                            oc_fail(&c->st, "e%dm%d %s sub=%d sat=%d: nr_format_finish %s, oracle %s",
                                    X, Y, spname[sp], sub, sat, rc ? "rejects" : "accepts",
                                    orc ? "rejects" : "accepts");
                            continue;
                        }
                        if (rc)
                            continue;
                        uint64_t step = 1;
                        if (step_bits && 1 + w > (int)step_bits)
                            step = (1ull << (1 + w - (int)step_bits)) - 1; /* odd: hits all residues */
                        check_format(c, &f, step);
                        formats++;
                    }
        }
    return formats;
}

static long fixed_family(rctx *c, int maxw)
{
    long formats = 0;
    for (int sgn = 0; sgn < 2; sgn++)
        for (int w = 1; w <= maxw; w++)
            for (int I = 0; I <= w - sgn; I++) {
                int F = w - sgn - I;
                for (int sat = 0; sat < 2; sat++) {
                    nr_format f;
                    if (oc_make_fixed(&f, I, F, sgn, sat) != 0) {
                        oc_fail(&c->st, "%sq%d.%d: nr_format_finish rejects", sgn ? "" : "u", I, F);
                        continue;
                    }
                    check_format(c, &f, 1);
                    formats++;
                }
            }
    return formats;
}

static void report(rctx *c, const char *what, long formats, double t0)
{
    printf("%s: %ld formats, %ld checks, %ld failures, %ld notes, %.1f s\n", what, formats,
           c->st.checks, c->st.fails, c->st.notes, oc_now() - t0);
    oc_summary(&c->st);
    fflush(stdout);
}

START_TEST(test_float_family)
{
    rctx c;
    rctx_init(&c);
    double t0 = oc_now();
    long n;
    if (tu_exhaustive())
        n = float_family(&c, 1, 15, 0, 0);
    else if (tu_quick())
        n = float_family(&c, 1, 6, 0, 0) + float_family(&c, 7, 9, 1, 0);
    else
        n = float_family(&c, 1, 9, 0, 0) + float_family(&c, 10, 12, 1, 0) +
            float_family(&c, 13, 15, 1, 11);
    report(&c, "float family", n, t0);
    ck_assert_msg(c.st.fails == 0, "%ld mismatches against the oracle", c.st.fails);
    rctx_clear(&c);
}
END_TEST

START_TEST(test_fixed_family)
{
    rctx c;
    rctx_init(&c);
    double t0 = oc_now();
    long n = fixed_family(&c, tu_exhaustive() ? 14 : tu_quick() ? 6 : 10);
    report(&c, "fixed family", n, t0);
    ck_assert_msg(c.st.fails == 0, "%ld mismatches against the oracle", c.st.fails);
    rctx_clear(&c);
}
END_TEST

/* Presets and wide formats: a seeded sample of encodings. */
START_TEST(test_presets_sampled)
{
    rctx c;
    rctx_init(&c);
    double t0 = oc_now();
    static const char *const names[] = {"fp16", "bf16", "e4m3", "e5m2", "e3m2", "e2m3", "e2m1",
                                        "tf32", "fp32", "fp64", "int8", "int16", "int32",
                                        "uint8", "q7.8", "q31.32", "uq16.16", "q3.12-wrap"};
    long n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        nr_format f = tu_fmt(names[i]);
        or_fmt o;
        if (or_fmt_init(&o, &f) != 0) {
            oc_fail(&c.st, "%s: the oracle finds it invalid", names[i]);
            or_fmt_clear(&o);
            continue;
        }
        check_consts(&c, &f, &o, names[i]);
        int samples = tu_quick() ? 300 : 6000;
        if (f.width <= 16 && !tu_quick()) {
            check_format(&c, &f, 1);
            or_fmt_clear(&o);
            n++;
            continue;
        }
        for (int k = 0; k < samples; k++) {
            uint64_t b = tu_rand(&c.rng);
            if (k < 64) /* walk the ends and the binade edges */
                b = (k & 1 ? o.max_bits : 0) + (uint64_t)(k >> 1) - 16;
            b &= o.width >= 64 ? ~0ull : (1ull << o.width) - 1;
            check_decode(&c, &f, &o, names[i], b);
            mpfr_set(c.x.mag, c.v.mag, MPFR_RNDN);
            c.x.cls = c.v.cls, c.x.sign = c.v.sign, c.x.sticky = 0;
            check_point(&c, &f, &o, names[i]);
            if ((c.v.cls == NR_CLS_FINITE || c.v.cls == NR_CLS_ZERO) && or_canonical(&o, b)) {
                c.v.sign = 0;
                check_neighbourhood(&c, &f, &o, names[i], b == o.max_bits);
            }
        }
        check_extremes(&c, &f, &o, names[i]);
        or_fmt_clear(&o);
        n++;
    }
    report(&c, "presets", n, t0);
    ck_assert_msg(c.st.fails == 0, "%ld mismatches against the oracle", c.st.fails);
    rctx_clear(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oracle_round");
    TCase *tc = tcase_create("oracle_round");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, test_float_family);
    tcase_add_test(tc, test_fixed_family);
    tcase_add_test(tc, test_presets_sampled);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
