/* check_format.c -- format names, the YAML long form, rounding-mode names,
 * and the constants nr_format_finish derives for them.  Expected values are
 * written down independently (OCP FP8/MX specs, IEEE 754, <float.h>), never
 * computed by the code under test. */
#include "testutil.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static nr_format parse_ok(const char *name)
{
    nr_format f;
    nr_err e = {0};
    int rc = nr_format_parse(name, &f, &e);
    ck_assert_msg(rc == 0, "parse \"%s\" failed: %s: %s", name, e.where, e.msg);
    ck_assert_int_eq(e.code, 0);
    return f;
}

/* Parsing must fail with code and a message (where + msg) containing sub. */
static void parse_bad(const char *name, int code, const char *sub)
{
    nr_format f;
    memset(&f, 0xA5, sizeof f);
    nr_format before = f;
    nr_err e = {0};
    int rc = nr_format_parse(name, &f, &e);
    char buf[600];
    nr_err_format(&e, buf, sizeof buf);
    ck_assert_msg(rc == -code && e.code == code, "parse \"%s\": rc %d code %d (%s), want code %d",
                  name, rc, e.code, buf, code);
    ck_assert_msg(strstr(buf, sub), "parse \"%s\": message \"%s\" lacks \"%s\"", name, buf, sub);
    ck_assert_msg(!memcmp(&f, &before, sizeof f), "parse \"%s\" wrote *out on error", name);
}

static int pairs(const char *spec, nr_format *f, nr_err *e)
{
    /* "k=v;k=v" -> arrays (test-only shorthand for the flattened YAML) */
    char buf[512];
    const char *keys[16], *vals[16];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *tok = strtok(buf, ";"); tok && n < 16; tok = strtok(NULL, ";")) {
        char *eq = strchr(tok, '=');
        ck_assert_msg(eq != NULL, "bad test spec %s", spec);
        *eq = 0;
        keys[n] = tok;
        vals[n++] = eq + 1;
    }
    return nr_format_from_pairs(keys, vals, n, f, e);
}

static void pairs_eq(const char *spec, const char *name)
{
    nr_format a, b = parse_ok(name);
    nr_err e = {0};
    int rc = pairs(spec, &a, &e);
    ck_assert_msg(rc == 0, "long form {%s} failed: %s: %s", spec, e.where, e.msg);
    char na[96], nb[96];
    nr_format_name(&a, na, sizeof na);
    nr_format_name(&b, nb, sizeof nb);
    ck_assert_msg(nr_format_equal(&a, &b) && a.bias == b.bias,
                  "long form {%s} gave %s, want %s (%s)", spec, na, nb, name);
}

static void pairs_bad(const char *spec, int code, const char *sub)
{
    nr_format f;
    nr_err e = {0};
    int rc = pairs(spec, &f, &e);
    char buf[600];
    nr_err_format(&e, buf, sizeof buf);
    ck_assert_msg(rc == -code && e.code == code, "long form {%s}: rc %d (%s), want code %d",
                  spec, rc, buf, code);
    ck_assert_msg(strstr(buf, sub), "long form {%s}: message \"%s\" lacks \"%s\"", spec, buf,
                  sub);
}

#define EQ_D(a, b) ck_assert_msg((a) == (b), "%s = %a, want %a", #a, (double)(a), (double)(b))
#define EQ_U(a, b)                                                                        \
    ck_assert_msg((uint64_t)(a) == (uint64_t)(b), "%s = 0x%llx, want 0x%llx", #a,         \
                  (unsigned long long)(a), (unsigned long long)(b))

/* ---------------------------------------------------------------- presets */

START_TEST(preset_ieee)
{
    nr_format f = parse_ok("fp16");
    ck_assert_int_eq(f.width, 16);
    ck_assert_int_eq(f.container, 2);
    ck_assert_int_eq(f.bias, 15);
    ck_assert_int_eq(f.emin, -14);
    ck_assert_int_eq(f.emax, 15);
    EQ_D(f.max_finite, 65504.0);
    EQ_D(f.lowest, -65504.0);
    EQ_D(f.min_normal, 0x1p-14);
    EQ_D(f.min_subnormal, 0x1p-24);
    EQ_D(f.epsilon, 0x1p-10);
    EQ_D(f.finite_count, 65536.0 - 2048 - 1); /* exp all-ones x2 signs, -0 */
    EQ_U(f.max_bits, 0x7bff);
    EQ_U(f.inf_bits, 0x7c00);
    EQ_U(f.nan_bits, 0x7e00);
    EQ_U(f.sign_mask, 0x8000);
    ck_assert(f.has_inf && f.has_nan && f.has_negzero && !f.saturate);

    f = parse_ok("fp32");
    ck_assert_int_eq(f.width, 32);
    ck_assert_int_eq(f.container, 4);
    EQ_D(f.max_finite, (double)FLT_MAX);
    EQ_D(f.min_normal, (double)FLT_MIN);
    EQ_D(f.min_subnormal, 0x1p-149);
    EQ_D(f.epsilon, (double)FLT_EPSILON);
    EQ_D(f.finite_count, 4294967296.0 - 16777216.0 - 1);
    EQ_U(f.max_bits, 0x7f7fffff);
    EQ_U(f.inf_bits, 0x7f800000);
    EQ_U(f.nan_bits, 0x7fc00000);

    f = parse_ok("fp64");
    ck_assert_int_eq(f.width, 64);
    ck_assert_int_eq(f.container, 8);
    EQ_D(f.max_finite, DBL_MAX);
    EQ_D(f.min_normal, DBL_MIN);
    EQ_D(f.min_subnormal, 0x1p-1074);
    EQ_D(f.epsilon, DBL_EPSILON);
    EQ_U(f.max_bits, 0x7fefffffffffffffull);
    EQ_U(f.inf_bits, 0x7ff0000000000000ull);
    EQ_U(f.nan_bits, 0x7ff8000000000000ull);
    EQ_U(f.sign_mask, 0x8000000000000000ull);

    f = parse_ok("bf16");
    ck_assert_int_eq(f.width, 16);
    ck_assert_int_eq(f.bias, 127);
    EQ_D(f.max_finite, 0x1.fep127);
    EQ_D(f.min_normal, 0x1p-126);
    EQ_D(f.min_subnormal, 0x1p-133);
    EQ_D(f.epsilon, 0x1p-7);
    EQ_U(f.max_bits, 0x7f7f);
    EQ_U(f.inf_bits, 0x7f80);
    EQ_U(f.nan_bits, 0x7fc0);
    EQ_D(f.finite_count, 65536.0 - 256 - 1);

    f = parse_ok("tf32");
    ck_assert_int_eq(f.width, 19);
    ck_assert_int_eq(f.container, 4);
    EQ_D(f.max_finite, 0x1.ffcp127);
    EQ_D(f.min_subnormal, 0x1p-136);
    EQ_U(f.inf_bits, 0x3fc00);
}
END_TEST

START_TEST(preset_fp8_fp6_fp4)
{
    /* OCP 8-bit floating point spec v1.0 */
    nr_format f = parse_ok("e4m3");
    ck_assert_int_eq(f.specials, NR_SPECIALS_FN);
    ck_assert_int_eq(f.bias, 7);
    EQ_D(f.max_finite, 448.0);
    EQ_D(f.min_normal, 0x1p-6);
    EQ_D(f.min_subnormal, 0x1p-9);
    EQ_U(f.max_bits, 0x7e);
    EQ_U(f.nan_bits, 0x7f);
    ck_assert(!f.has_inf && f.has_nan && f.has_negzero);
    EQ_D(f.finite_count, 256.0 - 2 - 1);

    f = parse_ok("e5m2");
    ck_assert_int_eq(f.specials, NR_SPECIALS_IEEE);
    ck_assert_int_eq(f.bias, 15);
    EQ_D(f.max_finite, 57344.0);
    EQ_D(f.min_normal, 0x1p-14);
    EQ_D(f.min_subnormal, 0x1p-16);
    EQ_U(f.max_bits, 0x7b);
    EQ_U(f.inf_bits, 0x7c);
    EQ_U(f.nan_bits, 0x7e);
    EQ_D(f.finite_count, 256.0 - 8 - 1);

    /* OCP MX v1.0: FP6 E3M2, FP6 E2M3, FP4 E2M1 -- no inf, no NaN */
    f = parse_ok("e3m2");
    ck_assert_int_eq(f.width, 6);
    ck_assert_int_eq(f.bias, 3);
    EQ_D(f.max_finite, 28.0);
    EQ_D(f.min_normal, 0.25);
    EQ_D(f.min_subnormal, 0.0625);
    EQ_U(f.max_bits, 0x1f);
    ck_assert(!f.has_inf && !f.has_nan && f.saturate);
    EQ_D(f.finite_count, 63.0);

    f = parse_ok("e2m3");
    ck_assert_int_eq(f.bias, 1);
    EQ_D(f.max_finite, 7.5);
    EQ_D(f.min_normal, 1.0);
    EQ_D(f.min_subnormal, 0.125);
    EQ_D(f.finite_count, 63.0);

    f = parse_ok("e2m1");
    ck_assert_int_eq(f.width, 4);
    ck_assert_int_eq(f.container, 1);
    EQ_D(f.max_finite, 6.0);
    EQ_D(f.min_normal, 1.0);
    EQ_D(f.min_subnormal, 0.5);
    EQ_U(f.max_bits, 0x7);
    EQ_D(f.finite_count, 15.0);

    /* FNUZ variants (Graphcore / AMD): bias 2^(X-1), NaN at 0x80 */
    f = parse_ok("e4m3-fnuz");
    ck_assert_int_eq(f.bias, 8);
    EQ_D(f.max_finite, 240.0);
    EQ_D(f.min_subnormal, 0x1p-10);
    EQ_U(f.nan_bits, 0x80);
    ck_assert(!f.has_negzero && !f.has_inf);
    EQ_D(f.finite_count, 255.0);
    f = parse_ok("e5m2-fnuz");
    ck_assert_int_eq(f.bias, 16);
    EQ_D(f.max_finite, 57344.0);
    EQ_D(f.min_subnormal, 0x1p-17);

    /* e4m3 with IEEE specials: top binade is inf/NaN, max 240 */
    f = parse_ok("e4m3-ieee");
    ck_assert(f.has_inf);
    EQ_D(f.max_finite, 240.0);
    EQ_U(f.inf_bits, 0x78);
}
END_TEST

START_TEST(preset_fixed)
{
    nr_format f = parse_ok("int8");
    ck_assert_int_eq(f.kind, NR_FIXED);
    ck_assert_int_eq(f.width, 8);
    EQ_D(f.max_finite, 127.0);
    EQ_D(f.lowest, -128.0);
    EQ_D(f.epsilon, 1.0);
    EQ_U(f.max_bits, 0x7f);
    EQ_U(f.min_bits, 0x80);
    EQ_D(f.finite_count, 256.0);
    ck_assert(f.saturate && f.is_signed);
    f = parse_ok("int16");
    EQ_D(f.max_finite, 32767.0);
    EQ_D(f.lowest, -32768.0);
    f = parse_ok("int32");
    ck_assert_int_eq(f.container, 4);
    EQ_D(f.max_finite, 2147483647.0);
    EQ_D(f.lowest, -2147483648.0);
    f = parse_ok("uint8");
    ck_assert(!f.is_signed);
    EQ_D(f.max_finite, 255.0);
    EQ_D(f.lowest, 0.0);
    EQ_U(f.max_bits, 0xff);
    f = parse_ok("q7.8");
    ck_assert_int_eq(f.width, 16);
    EQ_D(f.max_finite, 127.99609375);
    EQ_D(f.lowest, -128.0);
    EQ_D(f.epsilon, 0x1p-8);
    f = parse_ok("uq0.64");
    ck_assert_int_eq(f.width, 64);
    EQ_D(f.epsilon, 0x1p-64);
    f = parse_ok("q63.0");
    ck_assert_int_eq(f.width, 64);
    EQ_D(f.lowest, -0x1p63);
    f = parse_ok("uq0.8-wrap");
    ck_assert(!f.saturate);
}
END_TEST

/* Presets equal the plain formats they stand for ([fmt-7]). */
START_TEST(preset_aliases)
{
    static const char *const same[][2] = {
        {"fp64", "e11m52"},        {"fp32", "e8m23"},        {"tf32", "e8m10"},
        {"fp16", "e5m10"},         {"bf16", "e8m7"},         {"e4m3", "e4m3-fn"},
        {"e5m2", "e5m2-ieee"},     {"e3m2", "e3m2-finite"},  {"e2m3", "e2m3-finite"},
        {"e2m1", "e2m1-finite"},   {"int8", "q7.0"},         {"int16", "q15.0"},
        {"int32", "q31.0"},        {"uint8", "uq8.0"},       {"e3m2-sat", "e3m2"},
        {"e3m2-finite-sat", "e3m2"}, {"int8-sat", "q7.0"},   {"e4m3-b7", "e4m3"},
        {"e5m2-b+15", "e5m2"},     {"e4m3-fnuz-b8", "e4m3-fnuz"},
        {"bf16-nosub", "e8m7-nosub"}, {"fp16-sat-nosub", "e5m10-nosub-sat"},
        {"e4m3-sat-fn", "e4m3-fn-sat"}, {"int8-wrap", "q7.0-wrap"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        nr_format a = parse_ok(same[i][0]), b = parse_ok(same[i][1]);
        ck_assert_msg(nr_format_equal(&a, &b), "%s != %s", same[i][0], same[i][1]);
    }
    /* and these differ */
    static const char *const differ[][2] = {
        {"e4m3", "e4m3-ieee"}, {"e4m3", "e4m3-sat"}, {"e3m2", "e3m2-ieee"},
        {"e4m3-fnuz", "e4m3-fnuz-b7"}, {"q7.0", "q7.0-wrap"}, {"uq8.0", "q8.0"},
    };
    for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++) {
        nr_format a = parse_ok(differ[i][0]), b = parse_ok(differ[i][1]);
        ck_assert_msg(!nr_format_equal(&a, &b), "%s == %s", differ[i][0], differ[i][1]);
    }
    /* an explicit specials modifier overrides the preset's, and the
     * finite preset's forced saturation goes with it */
    nr_format f = parse_ok("e3m2-ieee");
    ck_assert_int_eq(f.specials, NR_SPECIALS_IEEE);
    ck_assert_int_eq(f.saturate, 0);
    ck_assert_int_eq(f.bias, 3);
    f = parse_ok("e2m1-fnuz");
    ck_assert_int_eq(f.bias, 2);
    f = parse_ok("e4m3-b-3");
    ck_assert_int_eq(f.bias, -3);
    ck_assert_int_eq(f.specials, NR_SPECIALS_FN);
    f = parse_ok("e4m3-b+0");
    ck_assert_int_eq(f.bias, 0);
}
END_TEST

START_TEST(case_insensitive)
{
    static const char *const same[][2] = {
        {"FP16", "fp16"},           {"Bf16", "bf16"},         {"E4M3", "e4m3"},
        {"E4M3-FNUZ", "e4m3-fnuz"}, {"e5M2-NoSub-SAT", "e5m2-nosub-sat"},
        {"E8M7-B-3", "e8m7-b-3"},   {"Q7.8-WRAP", "q7.8-wrap"}, {"UQ8.8", "uq8.8"},
        {"uQ3.4", "uq3.4"},         {"INT8", "int8"},         {"E2m1-Finite", "e2m1"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        nr_format a = parse_ok(same[i][0]), b = parse_ok(same[i][1]);
        ck_assert_msg(nr_format_equal(&a, &b), "%s != %s", same[i][0], same[i][1]);
    }
}
END_TEST

/* ---------------------------------------------------------------- canonical names */

/* parse(name(f)) == f, and name(parse(name(f))) == name(f). */
static void roundtrip(const nr_format *f)
{
    char name[96], again[96];
    nr_format_name(f, name, sizeof name);
    nr_format g;
    nr_err e = {0};
    ck_assert_msg(nr_format_parse(name, &g, &e) == 0, "name \"%s\" does not parse: %s", name,
                  e.msg);
    ck_assert_msg(nr_format_equal(f, &g) && f->bias == g.bias,
                  "name \"%s\" parses to a different format (bias %d vs %d, specials %d vs "
                  "%d, sat %d vs %d)",
                  name, f->bias, g.bias, f->specials, g.specials, f->saturate, g.saturate);
    nr_format_name(&g, again, sizeof again);
    ck_assert_str_eq(name, again);
}

/* Is eXmY (as text) also a float preset's name with other specials?  Those
 * IEEE formats need "-ieee" in their canonical name (see name_collision). */
static int preset_collides(const nr_format *f)
{
    char base[24];
    snprintf(base, sizeof base, "e%dm%d", f->exp_bits, f->man_bits);
    static const char *const fp8ish[] = {"e4m3", "e3m2", "e2m3", "e2m1"};
    if (f->specials != NR_SPECIALS_IEEE)
        return 0;
    for (int i = 0; i < 4; i++)
        if (!strcmp(base, fp8ish[i]))
            return 1;
    return 0;
}

START_TEST(name_roundtrip_float)
{
    int tested = 0;
    int step = tu_quick() ? 7 : 1;
    for (int X = 1; X <= 11; X++)
        for (int Y = 0; Y <= 52; Y += (Y < 12 ? 1 : step)) {
            for (int sp = 0; sp < 4; sp++)
                for (int flags = 0; flags < 4; flags++)
                    for (int db = -2; db <= 2; db++) {
                        nr_format f;
                        memset(&f, 0, sizeof f);
                        f.kind = NR_FLOAT;
                        f.exp_bits = X;
                        f.man_bits = Y;
                        f.specials = (nr_specials)sp;
                        f.subnormals = !(flags & 1);
                        f.saturate = !!(flags & 2);
                        /* default bias +- a little, and far ends */
                        int def = sp == NR_SPECIALS_FNUZ ? 1 << (X - 1) : (1 << (X - 1)) - 1;
                        f.bias = db == 2 ? -(1 << (X - 1)) : def + db;
                        if (nr_format_finish(&f, NULL))
                            continue;
                        if (preset_collides(&f))
                            continue;
                        roundtrip(&f);
                        tested++;
                    }
        }
    ck_assert_int_gt(tested, 1000);
}
END_TEST

START_TEST(name_roundtrip_fixed)
{
    int tested = 0;
    for (int s = 0; s <= 1; s++)
        for (int I = 0; I <= 64; I++)
            for (int F = 0; F <= 64; F++)
                for (int sat = 0; sat <= 1; sat++) {
                    nr_format f;
                    nr_err e = {0};
                    if (nr_format_fixed(&f, I, F, s, &e))
                        continue;
                    f.saturate = sat;
                    roundtrip(&f);
                    tested++;
                }
    /* signed needs I+F <= 63: sum of (k+1) over k = 0..63 = 64*65/2 pairs;
     * unsigned needs 1 <= I+F <= 64: 65*66/2 - 1 pairs; times sat/wrap */
    ck_assert_int_eq(tested, 2 * (64 * 65 / 2 + (65 * 66 / 2 - 1)));
}
END_TEST

/* The IEEE-specials versions of e4m3, e3m2, e2m3 and e2m1 must keep their
 * identity through a canonical name: "e4m3" is the fn preset, so their name
 * needs "-ieee".  (Fails while nr_format_name omits it.) */
START_TEST(name_collision)
{
    static const char *const names[] = {"e4m3-ieee", "e3m2-ieee", "e2m3-ieee", "e2m1-ieee",
                                        "e4m3-ieee-sat", "e3m2-ieee-nosub", "e4m3-ieee-b5"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        nr_format f = parse_ok(names[i]);
        ck_assert_int_eq(f.specials, NR_SPECIALS_IEEE);
        roundtrip(&f);
    }
}
END_TEST

START_TEST(name_canonical_examples)
{
    static const char *const pairs_[][2] = {
        {"e5m10", "fp16"},         {"E4M3-FN", "e4m3"},           {"e4m3-fnuz-b8", "e4m3-fnuz"},
        {"e6m7-b31", "e6m7"},      {"e6m7-b30", "e6m7-b30"},      {"e6m7-b-3", "e6m7-b-3"},
        {"bf16-nosub", "e8m7-nosub"}, {"e2m1-sat", "e2m1"},       {"q7.0", "int8"},
        {"uq8.0", "uint8"},        {"q7.8-sat", "q7.8"},          {"uq8.8-wrap", "uq8.8-wrap"},
        {"e4m3-sat-nosub-fn", "e4m3-nosub-fn-sat"},
    };
    for (size_t i = 0; i < sizeof pairs_ / sizeof pairs_[0]; i++) {
        nr_format f = parse_ok(pairs_[i][0]);
        char buf[96];
        nr_format_name(&f, buf, sizeof buf);
        ck_assert_msg(!strcmp(buf, pairs_[i][1]), "name(%s) = %s, want %s", pairs_[i][0], buf,
                      pairs_[i][1]);
    }
}
END_TEST

/* ---------------------------------------------------------------- bad names */

START_TEST(bad_names)
{
    parse_bad("", NR_ESYNTAX, "empty format name");
    parse_bad("e4m99", NR_ERANGE, "format \"e4m99\": mantissa bits 99 out of range; allowed 0..52");
    parse_bad("e0m3", NR_ERANGE, "exponent bits 0 out of range; allowed 1..11");
    parse_bad("e12m3", NR_ERANGE, "exponent bits 12 out of range; allowed 1..11");
    parse_bad("e99999999999m3", NR_ERANGE, "exponent bits 99999999999 out of range");
    parse_bad("e4m99999999999999999999", NR_ERANGE, "mantissa bits 99999999999999999999");
    parse_bad("e4m3-foo", NR_ESYNTAX,
              "format \"e4m3-foo\": unknown modifier \"-foo\"; allowed -b<N> -nosub -ieee -fn "
              "-fnuz -finite -sat");
    parse_bad("e4m3-fn-finite", NR_ESYNTAX, "conflicting modifiers \"-fn\" and \"-finite\"");
    parse_bad("e4m3-fnuz-ieee", NR_ESYNTAX, "conflicting modifiers \"-fnuz\" and \"-ieee\"");
    parse_bad("e4m3-fn-fn", NR_ESYNTAX, "duplicate modifier \"-fn\"");
    parse_bad("e5m2-nosub-NOSUB", NR_ESYNTAX, "duplicate modifier \"-NOSUB\"");
    parse_bad("e5m2-sat-sat", NR_ESYNTAX, "duplicate modifier \"-sat\"");
    parse_bad("e5m2-b3-b4", NR_ESYNTAX, "duplicate modifier -b");
    parse_bad("e5m2-b", NR_ESYNTAX, "\"-b\" needs an integer bias");
    parse_bad("e5m2-b-", NR_ESYNTAX, "bad bias \"-b-\"");
    parse_bad("e5m2-b3x", NR_ESYNTAX, "bad bias \"-b3x\"");
    parse_bad("e5m2-b--3", NR_ESYNTAX, "bad bias");
    parse_bad("e5m2-b99999999999999999999", NR_ERANGE, "bias 99999999999999999999 out of range");
    parse_bad("e5m2-b-99999999999", NR_ERANGE, "bias -99999999999 out of range");
    parse_bad("e11m52-b5000", NR_ERANGE, "below binary64");
    parse_bad("e11m52-b1000", NR_ERANGE, "beyond binary64");
    parse_bad("e5m2-", NR_ESYNTAX, "empty modifier");
    parse_bad("e5m2--sat", NR_ESYNTAX, "empty modifier");
    parse_bad("-sat", NR_ESYNTAX, "missing base format");
    parse_bad("e5m2-wrap", NR_ESYNTAX, "\"-wrap\" is only for fixed-point formats");
    parse_bad("e5m2x", NR_ESYNTAX, "unexpected \"x\" after \"e5m2\"");
    parse_bad("fp16x", NR_ESYNTAX, "unknown format \"fp16x\"");
    parse_bad("fp16.5", NR_ESYNTAX, "unknown format");
    parse_bad("float", NR_ESYNTAX, "expected eXmY, qI.F, uqI.F or a preset (fp64");
    parse_bad("e", NR_ESYNTAX, "expected exponent bits after \"e\"");
    parse_bad("e4", NR_ESYNTAX, "expected \"m\" and mantissa bits after \"e4\"");
    parse_bad("e4m", NR_ESYNTAX, "expected mantissa bits after \"e4m\"");
    parse_bad("e-4m3", NR_ESYNTAX, "expected exponent bits");
    parse_bad("e4m-3", NR_ESYNTAX, "expected mantissa bits");
    parse_bad("e4 m3", NR_ESYNTAX, "unexpected character 0x20 at offset 2");
    parse_bad(" e4m3", NR_ESYNTAX, "unexpected character");
    parse_bad("e4m3\n", NR_ESYNTAX, "unexpected character 0x0a");
    parse_bad("e4m3\xc3\xa9", NR_ESYNTAX, "unexpected character 0xc3");
    parse_bad("e5m0", NR_ERANGE, "no NaN encoding");
    parse_bad("e1m0-fn", NR_ERANGE, "no normal numbers");
    /* fixed point */
    parse_bad("q7", NR_ESYNTAX, "expected \".\" and fraction bits after \"q7\"");
    parse_bad("q7.", NR_ESYNTAX, "expected fraction bits after \"q7.\"");
    parse_bad("q.8", NR_ESYNTAX, "expected integer bits after \"q\"");
    parse_bad("uq", NR_ESYNTAX, "expected integer bits after \"uq\"");
    parse_bad("q7.8x", NR_ESYNTAX, "unexpected \"x\" after \"q7.8\"");
    parse_bad("q7.8.1", NR_ESYNTAX, "unexpected \".1\"");
    parse_bad("q40.40", NR_ERANGE, "81 bits wide; allowed 1..64");
    parse_bad("q32.32", NR_ERANGE, "65 bits wide");
    parse_bad("uq32.33", NR_ERANGE, "65 bits wide");
    parse_bad("q99.0", NR_ERANGE, "integer bits 99 out of range");
    parse_bad("q0.99999999999999", NR_ERANGE, "fraction bits 99999999999999 out of range");
    parse_bad("uq0.0", NR_ERANGE, "0 bits wide");
    parse_bad("q7.8-fn", NR_ESYNTAX, "unknown modifier \"-fn\" for a fixed-point format; "
                                     "allowed -wrap -sat");
    parse_bad("int8-nosub", NR_ESYNTAX, "unknown modifier \"-nosub\" for a fixed-point");
    parse_bad("q7.8-wrap-sat", NR_ESYNTAX, "conflicting modifiers \"-wrap\" and \"-sat\"");
    parse_bad("q7.8-wrap-wrap", NR_ESYNTAX, "duplicate modifier \"-wrap\"");
    parse_bad("q7.8-b3", NR_ESYNTAX, "unknown modifier \"-b3\" for a fixed-point");
}
END_TEST

START_TEST(bad_names_hostile)
{
    /* long input: an error (never a crash), where shortened */
    size_t n = 100000;
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, '9', n);
    s[0] = 'e';
    s[n] = 0;
    nr_format f;
    nr_err e = {0};
    ck_assert_int_ne(nr_format_parse(s, &f, &e), 0);
    ck_assert_ptr_nonnull(strstr(e.where, "..."));
    for (size_t i = 1; i < n; i++)
        s[i] = i % 2 ? '-' : 'x';
    memcpy(s, "e4m3", 4);
    nr_err_clear(&e);
    ck_assert_int_ne(nr_format_parse(s, &f, &e), 0);
    ck_assert_int_eq(e.code, NR_ESYNTAX);
    free(s);
    /* NULL name and NULL err do not crash */
    ck_assert_int_eq(nr_format_parse(NULL, &f, NULL), -NR_ESYNTAX);
    ck_assert_int_eq(nr_format_parse("e4m99", &f, NULL), -NR_ERANGE);
    /* the first error wins */
    nr_err_clear(&e);
    nr_format_parse("e4m99", &f, &e);
    nr_format_parse("xyz", &f, &e);
    ck_assert_ptr_nonnull(strstr(e.msg, "mantissa"));
}
END_TEST

/* Random strings over the grammar's alphabet: never a crash; an error has
 * a code and a message; a success names itself back. */
START_TEST(random_names)
{
    static const char *const parts[] = {"e", "m", "q", "uq", ".", "-", "b", "+", "0", "1", "3",
                                        "4", "5", "7", "8", "11", "52", "99", "fn", "fnuz",
                                        "finite", "ieee", "sat", "wrap", "nosub", "x", "E", "M",
                                        "fp16", "bf16", "e4m3", "int8"};
    const int np = (int)(sizeof parts / sizeof parts[0]);
    uint64_t st = 12345;
    int n = tu_quick() ? 20000 : 200000, good = 0;
    for (int i = 0; i < n; i++) {
        char buf[128] = "";
        int len = (int)(tu_rand(&st) % 10);
        for (int j = 0; j < len; j++)
            strcat(buf, parts[tu_rand(&st) % (uint64_t)np]);
        nr_format f;
        nr_err e = {0};
        int rc = nr_format_parse(buf, &f, &e);
        if (rc) {
            ck_assert_msg(rc == -e.code && e.code > 0 && e.msg[0], "\"%s\": rc %d", buf, rc);
            continue;
        }
        good++;
        if (!preset_collides(&f))
            roundtrip(&f);
    }
    ck_assert_int_gt(good, 100);
}
END_TEST

/* ---------------------------------------------------------------- long form */

START_TEST(long_form_equiv)
{
    pairs_eq("exp=6;man=7;bias=31;subnormals=false;specials=finite;overflow=saturate",
             "e6m7-nosub-finite");
    pairs_eq("exp=6;man=7", "e6m7");
    pairs_eq("exp=5;man=10", "fp16");
    pairs_eq("exp=4;man=3;specials=fn", "e4m3");
    pairs_eq("exp=4;man=3", "e4m3-ieee");
    pairs_eq("exp=4;man=3;specials=FNUZ", "e4m3-fnuz");
    pairs_eq("exp=4;man=3;specials=fnuz;bias=7", "e4m3-fnuz-b7");
    pairs_eq("exp=8;man=7;subnormals=no;overflow=saturate", "bf16-nosub-sat");
    pairs_eq("exp=8;man=7;subnormals=Yes;overflow=inf", "bf16");
    pairs_eq("exp=5;man=2;bias=-3", "e5m2-b-3");
    pairs_eq("exp=5;man=2;bias=+20", "e5m2-b20");
    pairs_eq("fixed.int=7;fixed.frac=8;fixed.signed=true", "q7.8");
    pairs_eq("fixed.int=7;fixed.frac=8", "q7.8");
    pairs_eq("fixed.int=8;fixed.frac=0;fixed.signed=false", "uint8");
    pairs_eq("fixed.int=3;fixed.frac=4;fixed.overflow=wrap", "q3.4-wrap");
    pairs_eq("fixed.int=3;fixed.frac=4;fixed.overflow=saturate;fixed.signed=no", "uq3.4");
    /* name + modifying keys */
    pairs_eq("name=e4m3", "e4m3");
    pairs_eq("name=E4M3;specials=fnuz", "e4m3-fnuz");           /* bias follows default */
    pairs_eq("name=e4m3;overflow=saturate", "e4m3-sat");
    pairs_eq("name=e3m2;specials=ieee", "e3m2-ieee");           /* saturation goes too */
    pairs_eq("name=e3m2;specials=ieee;overflow=saturate", "e3m2-ieee-sat");
    pairs_eq("name=fp16;man=7", "e5m7");
    pairs_eq("name=fp16;exp=8", "e8m10");                       /* default bias follows */
    pairs_eq("name=e5m2-b3;exp=6", "e6m2-b3");                  /* explicit bias kept */
    pairs_eq("name=e5m2-b3;bias=4", "e5m2-b4");
    pairs_eq("name=bf16;subnormals=false", "bf16-nosub");
    pairs_eq("name=int8;fixed.overflow=wrap", "q7.0-wrap");
    pairs_eq("name=q7.8;fixed.signed=false", "uq7.8");
    pairs_eq("name=uq7.8-wrap;fixed.frac=9", "uq7.9-wrap");
}
END_TEST

START_TEST(long_form_bad)
{
    pairs_bad("exp=6", NR_ESYNTAX, "missing key \"man\"; a float long form needs exp and man");
    pairs_bad("man=6", NR_ESYNTAX, "missing key \"exp\"");
    pairs_bad("bias=3", NR_ESYNTAX, "missing key \"exp\"");
    pairs_bad("fixed.int=3", NR_ESYNTAX, "missing key \"fixed.frac\"");
    pairs_bad("fixed.frac=3", NR_ESYNTAX, "missing key \"fixed.int\"");
    pairs_bad("fixed.signed=true", NR_ESYNTAX, "missing key \"fixed.int\"");
    pairs_bad("exp=6;man=7;mantissa=3", NR_ESYNTAX,
              "unknown key \"mantissa\"; allowed name, exp, man, bias");
    pairs_bad("exp=6;man=7;exp=5", NR_ESYNTAX, "exp: key given twice");
    pairs_bad("exp=6;man=7;fixed.int=3", NR_ESYNTAX, "fixed.int: cannot mix fixed-point keys");
    pairs_bad("exp=six;man=7", NR_ESYNTAX, "exp: expected an integer, got \"six\"");
    pairs_bad("exp=6.0;man=7", NR_ESYNTAX, "exp: expected an integer, got \"6.0\"");
    pairs_bad("exp=;man=7", NR_ESYNTAX, "exp: expected an integer, got \"\"");
    pairs_bad("exp=12;man=7", NR_ERANGE, "exp: 12 out of range; allowed 1..11");
    pairs_bad("exp=0;man=7", NR_ERANGE, "exp: 0 out of range; allowed 1..11");
    pairs_bad("exp=6;man=53", NR_ERANGE, "man: 53 out of range; allowed 0..52");
    pairs_bad("exp=6;man=-1", NR_ERANGE, "man: -1 out of range");
    pairs_bad("exp=99999999999999999999;man=7", NR_ERANGE, "exp: 99999999999999999999 out of");
    pairs_bad("exp=6;man=7;bias=99999999999", NR_ERANGE, "bias: 99999999999 out of range");
    pairs_bad("exp=11;man=52;bias=2000", NR_ERANGE, "below binary64");
    pairs_bad("exp=6;man=7;subnormals=maybe", NR_ESYNTAX,
              "subnormals: expected a boolean (true, false, yes, no), got \"maybe\"");
    pairs_bad("exp=6;man=7;specials=nan", NR_ESYNTAX,
              "specials: expected one of ieee, fn, fnuz, finite, got \"nan\"");
    pairs_bad("exp=6;man=7;overflow=wrap", NR_ESYNTAX,
              "overflow: expected one of saturate, inf, got \"wrap\"");
    pairs_bad("exp=6;man=7;specials=finite;overflow=inf", NR_ERANGE,
              "overflow: \"inf\" is impossible with specials: finite");
    pairs_bad("exp=5;man=0", NR_ERANGE, "no NaN encoding");
    pairs_bad("fixed.int=7;fixed.frac=8;fixed.overflow=inf", NR_ESYNTAX,
              "fixed.overflow: expected one of saturate, wrap, got \"inf\"");
    pairs_bad("fixed.int=7;fixed.frac=8;fixed.signed=2", NR_ESYNTAX, "fixed.signed: expected a boolean");
    pairs_bad("fixed.int=40;fixed.frac=40", NR_ERANGE, "81 bits wide");
    pairs_bad("fixed.int=65;fixed.frac=0", NR_ERANGE, "fixed.int: 65 out of range; allowed 0..64");
    pairs_bad("fixed.int=-1;fixed.frac=0", NR_ERANGE, "fixed.int: -1 out of range");
    pairs_bad("name=e4m99", NR_ERANGE, "name: format \"e4m99\": mantissa bits 99 out of range");
    pairs_bad("name=fp16;fixed.int=3", NR_ESYNTAX, "fixed.int: \"fp16\" is a float format");
    pairs_bad("name=int8;exp=3", NR_ESYNTAX, "exp: \"int8\" is a fixed-point format");
    pairs_bad("name=int8;overflow=saturate", NR_ESYNTAX, "overflow: \"int8\" is a fixed-point");
    pairs_bad("Exp=6;man=7", NR_ESYNTAX, "unknown key \"Exp\"");

    nr_format f;
    nr_err e = {0};
    ck_assert_int_eq(nr_format_from_pairs(NULL, NULL, 0, &f, &e), -NR_ESYNTAX);
    ck_assert_ptr_nonnull(strstr(e.msg, "empty format mapping"));
    const char *k[] = {"exp", NULL}, *v[] = {"5", "2"};
    nr_err_clear(&e);
    ck_assert_int_eq(nr_format_from_pairs(k, v, 2, &f, &e), -NR_ESYNTAX);
    ck_assert_ptr_nonnull(strstr(e.msg, "missing key or value"));
}
END_TEST

/* ---------------------------------------------------------------- rounding names */

START_TEST(rounding_names)
{
    static const char *const want[] = {"rne", "rna", "rz", "ru", "rd", "rto", "sr"};
    ck_assert_int_eq(NR_RND_COUNT, 7);
    for (int i = 0; i < NR_RND_COUNT; i++) {
        ck_assert_str_eq(nr_format_rounding_name((nr_rounding)i), want[i]);
        nr_rounding r = NR_RND_COUNT;
        nr_err e = {0};
        ck_assert_int_eq(nr_rounding_parse(want[i], &r, &e), 0);
        ck_assert_int_eq(r, i);
        char up[8] = {0};
        for (int j = 0; want[i][j]; j++)
            up[j] = (char)(want[i][j] - 'a' + 'A');
        r = NR_RND_COUNT;
        ck_assert_int_eq(nr_rounding_parse(up, &r, &e), 0);
        ck_assert_int_eq(r, i);
    }
    ck_assert_int_eq(NR_RND_RNE, 0);
    ck_assert_int_eq(NR_RND_SR, 6);
    ck_assert_str_eq(nr_format_rounding_name(NR_RND_COUNT), "?");
    ck_assert_str_eq(nr_format_rounding_name((nr_rounding)-1), "?");

    static const char *const bad[] = {"", "nearest", "rne ", "r", "rnee", "rn"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nr_rounding r = NR_RND_RZ;
        nr_err e = {0};
        ck_assert_int_eq(nr_rounding_parse(bad[i], &r, &e), -NR_ESYNTAX);
        ck_assert_int_eq(r, NR_RND_RZ);
        ck_assert_msg(strstr(e.msg, "allowed rne rna rz ru rd rto sr"), "msg: %s", e.msg);
    }
    nr_rounding r;
    ck_assert_int_eq(nr_rounding_parse(NULL, &r, NULL), -NR_ESYNTAX);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("format");
    TCase *t = tcase_create("presets");
    tcase_add_test(t, preset_ieee);
    tcase_add_test(t, preset_fp8_fp6_fp4);
    tcase_add_test(t, preset_fixed);
    tcase_add_test(t, preset_aliases);
    tcase_add_test(t, case_insensitive);
    suite_add_tcase(s, t);
    t = tcase_create("names");
    tcase_add_test(t, name_roundtrip_float);
    tcase_add_test(t, name_roundtrip_fixed);
    tcase_add_test(t, name_collision);
    tcase_add_test(t, name_canonical_examples);
    tcase_add_test(t, bad_names);
    tcase_add_test(t, bad_names_hostile);
    tcase_add_test(t, random_names);
    suite_add_tcase(s, t);
    t = tcase_create("long_form");
    tcase_add_test(t, long_form_equiv);
    tcase_add_test(t, long_form_bad);
    suite_add_tcase(s, t);
    t = tcase_create("rounding");
    tcase_add_test(t, rounding_names);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()); }
