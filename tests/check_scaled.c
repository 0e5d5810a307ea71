/* check_scaled.c -- scaled formats (runtime/num/scaled*.c, docs/semantics.md
 * [scl-*]): names of every preset and of general forms round trip, every
 * class of bad name is rejected with a message naming the part, spelled-out
 * group conversions (SoftFloat-style tables: short blocks, blocks of one,
 * all-zero, NaN/Inf, overflow edges, the e8m0 range ends, NVFP4's two
 * levels, every rounding mode), and random groups of every preset x scale
 * rule x rounding mode compared bit for bit with the independent MPFR
 * oracle (tests/oracle/oracle_scaled.c; NUMREP_EXHAUSTIVE=1 for many more). */
#include "testutil.h"
#include "orcheck.h"
#include "scaled.h"
#include "cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static nr_scaled sc(const char *name)
{
    nr_scaled s;
    nr_err e = {0};
    ck_assert_msg(nr_scaled_parse(name, &s, &e) == 0, "%s: %s", name, e.msg);
    return s;
}

/* doubles equal bit for bit (NaN equals NaN) */
static int same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

/* ---------------------------------------------------------------- names */

START_TEST(test_presets)
{
    static const struct {
        const char *name, *canon;
        nr_kind kind;
        int a, b; /* float: exp, man; fixed: int, frac */
        nr_specials sp;
        int block;
        nr_scale_fmt scale;
        nr_scale_rule rule;
        double bits;
    } t[] = {
        {"mxfp8", "mxfp8", NR_FLOAT, 4, 3, NR_SPECIALS_FN, 32, NR_SCALE_E8M0, NR_RULE_FLOOR, 8.25},
        {"MXFP8E4M3", "mxfp8", NR_FLOAT, 4, 3, NR_SPECIALS_FN, 32, NR_SCALE_E8M0, NR_RULE_FLOOR, 8.25},
        {"mxfp8e5m2", "mxfp8e5m2", NR_FLOAT, 5, 2, NR_SPECIALS_IEEE, 32, NR_SCALE_E8M0, NR_RULE_FLOOR, 8.25},
        {"mxfp6e3m2", "mxfp6e3m2", NR_FLOAT, 3, 2, NR_SPECIALS_FINITE, 32, NR_SCALE_E8M0, NR_RULE_FLOOR, 6.25},
        {"mxfp6e2m3", "mxfp6e2m3", NR_FLOAT, 2, 3, NR_SPECIALS_FINITE, 32, NR_SCALE_E8M0, NR_RULE_FLOOR, 6.25},
        {"MxFp4", "mxfp4", NR_FLOAT, 2, 1, NR_SPECIALS_FINITE, 32, NR_SCALE_E8M0, NR_RULE_FLOOR, 4.25},
        {"mxint8", "mxint8", NR_FIXED, 1, 6, 0, 32, NR_SCALE_E8M0, NR_RULE_FLOOR, 8.25},
        {"nvfp4", "nvfp4", NR_FLOAT, 2, 1, NR_SPECIALS_FINITE, 16, NR_SCALE_NV, NR_RULE_AMAX, 4.5},
    };
    /* OCP MX v1.0: emax_elem and max of each element */
    static const struct { const char *name; int emax; double max; } em[] = {
        {"mxfp8", 8, 448}, {"mxfp8e5m2", 15, 57344}, {"mxfp6e3m2", 4, 28},
        {"mxfp6e2m3", 2, 7.5}, {"mxfp4", 2, 6}, {"mxint8", 0, 127.0 / 64},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        nr_scaled s = sc(t[i].name), r;
        char buf[128];
        ck_assert(nr_scaled_is_name(t[i].name));
        ck_assert_int_eq(s.elem.kind, t[i].kind);
        if (t[i].kind == NR_FLOAT) {
            ck_assert_int_eq(s.elem.exp_bits, t[i].a);
            ck_assert_int_eq(s.elem.man_bits, t[i].b);
            ck_assert_int_eq(s.elem.specials, t[i].sp);
        } else {
            ck_assert_int_eq(s.elem.int_bits, t[i].a);
            ck_assert_int_eq(s.elem.frac_bits, t[i].b);
            ck_assert(s.elem.is_signed);
        }
        ck_assert_int_eq(s.gran, NR_GRAN_BLOCK);
        ck_assert_int_eq(s.block, t[i].block);
        ck_assert_int_eq(s.scale, t[i].scale);
        ck_assert_int_eq(s.rule, t[i].rule);
        ck_assert(nr_scaled_bits(&s) == t[i].bits);
        nr_scaled_name(&s, buf, sizeof buf);
        ck_assert_str_eq(buf, t[i].canon);
        ck_assert(nr_scaled_parse(buf, &r, NULL) == 0 && nr_scaled_equal(&r, &s));
    }
    for (size_t i = 0; i < sizeof em / sizeof em[0]; i++) {
        nr_scaled s = sc(em[i].name);
        ck_assert_int_eq(nr_scaled_emax_elem(&s), em[i].emax);
        ck_assert(s.elem.max_finite == em[i].max);
    }
    ck_assert_int_eq(nr_scaled_preset_count(), 7);
    ck_assert(!nr_scaled_is_name("e4m3") && !nr_scaled_is_name("int8") && !nr_scaled_is_name(NULL));
    /* int4/uint4 presets of plain formats */
    nr_format f = tu_fmt("int4");
    ck_assert(f.kind == NR_FIXED && f.int_bits == 3 && f.frac_bits == 0 && f.is_signed);
    f = tu_fmt("uint4");
    ck_assert(f.kind == NR_FIXED && f.int_bits == 4 && !f.is_signed);
    char n[32];
    nr_format_name(&f, n, sizeof n);
    ck_assert_str_eq(n, "uint4");
}
END_TEST

START_TEST(test_general_names)
{
    static const struct { const char *in, *canon; double bits; } t[] = {
        {"e2m1@b32:e8m0:floor", "mxfp4", 4.25},
        {"E2M1@B32", "mxfp4", 4.25},
        {"e2m1@b16:nv", "nvfp4", 4.5},
        {"e2m1@b16:nv:amax", "nvfp4", 4.5},
        {"q1.6@b32", "mxint8", 8.25},
        {"int8@channel", "int8@channel:fp32:amax", 8},
        {"int8@tensor:fp32:static", "int8@tensor:fp32:static", 8},
        {"e2m1@b16:nv:static", "e2m1@b16:nv:static", 4.5},
        {"E2M1@B32:NV:STATIC", "e2m1@b32:nv:static", 4.25},
        {"int4@b32:fp32", "int4@b32:fp32:amax", 5},
        {"int4@b32", "int4@b32:e8m0:floor", 4.25},
        {"e4m3@tensor:fp32", "e4m3@tensor:fp32:amax", 8},
        {"e4m3@tensor:e8m0", "e4m3@tensor:e8m0:floor", 8},
        {"e2m1@b32:e8m0:rceil", "e2m1@b32:e8m0:rceil", 4.25},
        {"e2m1@b64:e8m0:even", "e2m1@b64:e8m0:even", 4.125},
        {"e2m1@b1:e8m0:ceil", "e2m1@b1:e8m0:ceil", 12},
        {"e2m1@b16:ue4m3:amax-up", "e2m1@b16:ue4m3:amax-up", 4.5},
        {"e2m1@b16:ue4m3:up", "e2m1@b16:ue4m3:amax-up", 4.5},
        {"e4m3-fnuz@b4096", "e4m3-fnuz@b4096:e8m0:floor", 8 + 8.0 / 4096},
        {"e3m4-b5@b32:nv:amax-up", "e3m4-b5@b32:nv:amax-up", 8.25},
        {"uint8@tensor", "uint8@tensor:fp32:amax", 8},
        {"int16@channel:ue4m3", "int16@channel:ue4m3:amax", 16},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        nr_scaled s = sc(t[i].in), r;
        char buf[128];
        ck_assert(nr_scaled_is_name(t[i].in));
        nr_scaled_name(&s, buf, sizeof buf);
        ck_assert_msg(!strcmp(buf, t[i].canon), "%s: name %s, expected %s", t[i].in, buf,
                      t[i].canon);
        ck_assert_msg(nr_scaled_bits(&s) == t[i].bits, "%s: bits %g", t[i].in, nr_scaled_bits(&s));
        ck_assert(nr_scaled_parse(buf, &r, NULL) == 0 && nr_scaled_equal(&r, &s));
    }
}
END_TEST

START_TEST(test_bad_names)
{
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    static const struct { const char *in; int code; const char *says; } t[] = {
        {"", NR_ESYNTAX, "empty"},
        {"foo", NR_ESYNTAX, "expected a preset"},
        {"mxfp5", NR_ESYNTAX, "mxfp8 mxfp8e5m2"},
        {"mx fp4", NR_ESYNTAX, "unexpected character"},
        {"e2m1@", NR_ESYNTAX, "missing granularity"},
        {"@b32", NR_ESYNTAX, "missing element"},
        {"e2m1@b0", NR_ERANGE, "block size"},
        {"e2m1@b4097", NR_ERANGE, "b1..b4096"},
        {"e2m1@b99999999999999999999", NR_ERANGE, "block size"},
        {"e2m1@b", NR_ESYNTAX, "unknown granularity"},
        {"e2m1@b-3", NR_ESYNTAX, "unknown granularity"},
        {"e2m1@row", NR_ESYNTAX, "allowed tensor, channel, bN"},
        {"e9x@b32", NR_ESYNTAX, "element"},
        {"e2m1-wrap@b32", NR_ESYNTAX, "element"},
        {"fp32@b32", NR_ERANGE, "at most 16 bits"},
        {"int32@tensor", NR_ERANGE, "at most 16 bits"},
        {"q0.0@tensor", NR_ERANGE, "no positive finite"},
        {"e2m1@b32:fp16", NR_ESYNTAX, "allowed fp32, e8m0, ue4m3, nv"},
        {"e2m1@b32:", NR_ESYNTAX, "empty scale format"},
        {"e2m1@b32:e8m0:amax", NR_ERANGE, "allowed floor, rceil, ceil, even"},
        {"int8@channel:fp32:floor", NR_ERANGE, "allowed amax, amax-up"},
        {"e2m1@b32:nv:rceil", NR_ERANGE, "allowed amax, amax-up"},
        {"e2m1@b32:nv:floor", NR_ERANGE, "allowed amax, amax-up, static"},
        {"e2m1@tensor:nv:static", NR_ERANGE, "needs a block"},
        {"e2m1@b16:nv:static:x", NR_ESYNTAX, "too many"},
        {"e2m1@b16:ue4m3:static", NR_ERANGE, "or scale nv"},
        {"e2m1@b32:e8m0:round", NR_ESYNTAX, "unknown scale rule"},
        {"e2m1@b32:e8m0:", NR_ESYNTAX, "empty scale rule"},
        {"e2m1@channel:nv", NR_ERANGE, "needs a block"},
        {"e2m1@tensor:nv", NR_ERANGE, "needs a block"},
        {"int8@b32:fp32:static", NR_ERANGE, "needs granularity tensor"},
        {"int8@channel:e8m0:static", NR_ERANGE, "needs granularity tensor"},
        {"e2m1@b32:e8m0:floor:x", NR_ESYNTAX, "too many"},
        {"e2m1@b32@b16", NR_ESYNTAX, "more than one"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0] + 1; i++) {
        const char *in = i < sizeof t / sizeof t[0] ? t[i].in : longname;
        int code = i < sizeof t / sizeof t[0] ? t[i].code : NR_ESYNTAX;
        const char *says = i < sizeof t / sizeof t[0] ? t[i].says : "at most";
        nr_scaled s;
        nr_err e = {0};
        int rc = nr_scaled_parse(in, &s, &e);
        ck_assert_msg(rc == -code && e.code == code, "%.40s: rc %d code %d, expected %d", in, rc,
                      e.code, code);
        ck_assert_msg(strstr(e.msg, says) != NULL, "%.40s: message \"%s\" lacks \"%s\"", in,
                      e.msg, says);
    }
    ck_assert(nr_scaled_parse(NULL, &(nr_scaled){0}, NULL) == -NR_ESYNTAX);
}
END_TEST

START_TEST(test_long_form)
{
    static const struct { const char *k[5], *v[5]; int n; const char *canon; } t[] = {
        {{"element", "block", "scale", "rule"}, {"e2m1", "32", "e8m0", "floor"}, 4, "mxfp4"},
        {{"element", "block"}, {"E2M1", "32"}, 2, "mxfp4"},
        {{"element", "granularity", "block"}, {"e2m1", "block", "16"}, 3, "e2m1@b16:e8m0:floor"},
        {{"element", "block", "scale"}, {"e2m1", "16", "nv"}, 3, "nvfp4"},
        {{"element", "granularity"}, {"int8", "channel"}, 2, "int8@channel:fp32:amax"},
        {{"element"}, {"int8"}, 1, "int8@tensor:fp32:amax"},
        {{"element", "rule"}, {"int8", "static"}, 2, "int8@tensor:fp32:static"},
        {{"rule", "element", "block"}, {"rceil", "e2m1", "32"}, 3, "e2m1@b32:e8m0:rceil"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        nr_scaled s;
        nr_err e = {0};
        char buf[128];
        ck_assert_msg(nr_scaled_from_pairs(t[i].k, t[i].v, t[i].n, &s, &e) == 0, "%zu: %s", i,
                      e.msg);
        nr_scaled_name(&s, buf, sizeof buf);
        ck_assert_str_eq(buf, t[i].canon);
    }
    static const struct { const char *k[3], *v[3]; int n; const char *where, *says; } bad[] = {
        {{"element", "size"}, {"e2m1", "32"}, 2, "scaled format", "unknown key \"size\""},
        {{"block"}, {"32"}, 1, "scaled format", "missing key \"element\""},
        {{"element", "element"}, {"e2m1", "e2m3"}, 2, "element", "given twice"},
        {{"element", "block"}, {"e2m1", "x"}, 2, "block", "expected a block size"},
        {{"element", "block"}, {"e2m1", "-3"}, 2, "block", "expected a block size"},
        {{"element", "block"}, {"e2m1", "0"}, 2, "", "block size out of range"},
        {{"element", "granularity", "block"}, {"e2m1", "channel", "32"}, 3, "granularity",
         "contradicts"},
        {{"element", "granularity"}, {"e2m1", "block"}, 2, "granularity", "needs the key block"},
        {{"element", "scale"}, {"e2m1@b32", "e8m0"}, 2, "element", "may not contain"},
        {{"element", "block", "rule"}, {"e2m1", "32", "amax"}, 3, "", "not a rule for e8m0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nr_scaled s;
        nr_err e = {0};
        ck_assert(nr_scaled_from_pairs(bad[i].k, bad[i].v, bad[i].n, &s, &e) < 0);
        ck_assert_msg(strstr(e.msg, bad[i].says) && strstr(e.where, bad[i].where),
                      "%zu: %s: %s", i, e.where, e.msg);
    }
}
END_TEST

/* ---------------------------------------------------------------- spelled-out groups */

#define MAXN 6
typedef struct qcase {
    const char *what, *fmt;
    nr_rounding mode;
    double ts; /* tensor / static scale */
    int n;
    double x[MAXN];
    double scale;
    uint64_t sbits;
    int clipped, zero, nan;
    double p[MAXN];
} qcase;

static void run_case(const qcase *c)
{
    nr_scaled s = sc(c->fmt);
    nr_scaled_ctx ctx = {.mode = c->mode, .tensor_scale = c->ts, .element_step = 1};
    double p[MAXN];
    nr_scaled_group g;
    nr_err e = {0};
    int rc = nr_scaled_quantize(&s, c->x, (size_t)c->n, 1, &ctx, p, &g, &e);
    ck_assert_msg(rc == 0, "%s: %s", c->what, e.msg);
    ck_assert_msg(same(g.scale, c->scale) && g.scale_bits == c->sbits,
                  "%s: scale %a bits 0x%llx, expected %a 0x%llx", c->what, g.scale,
                  (unsigned long long)g.scale_bits, c->scale, (unsigned long long)c->sbits);
    ck_assert_msg(g.clipped == c->clipped && g.zero == c->zero && g.nan == c->nan,
                  "%s: clipped %d zero %d nan %d", c->what, g.clipped, g.zero, g.nan);
    for (int i = 0; i < c->n; i++)
        ck_assert_msg(same(p[i], c->p[i]), "%s: element %d is %a, expected %a", c->what, i, p[i],
                      c->p[i]);
    /* and the oracle agrees with the table */
    double op[MAXN];
    or_scaled_group og;
    ck_assert(or_scaled_quantize(&s, c->x, (size_t)c->n, c->mode, NULL, c->ts, op, &og) == 0);
    ck_assert_msg(same(og.scale, c->scale) && og.scale_bits == c->sbits &&
                      og.clipped == c->clipped,
                  "%s: oracle scale %a clipped %d", c->what, og.scale, og.clipped);
    for (int i = 0; i < c->n; i++)
        ck_assert_msg(same(op[i], c->p[i]), "%s: oracle element %d %a", c->what, i, op[i]);
}

#define RNE NR_RND_RNE
START_TEST(test_groups)
{
    const double ts7 = 0x1.555556p-9; /* fp32(7 / 2688), nvfp4's tensor scale for amax 7 */
    const qcase t[] = {
        {"E2M1 amax 7 under floor clips to 6", "mxfp4", RNE, 0, 4, {7, 1, 0.3, -2},
         1, 0x7f, 1, 0, 0, {6, 1, 0.5, -2}},
        {"block of one element (5: tie 4/6 -> 4)", "e2m1@b1", RNE, 0, 1, {5}, 1, 0x7f, 0, 0, 0, {4}},
        {"short last block (3 of 32)", "mxfp4", RNE, 0, 3, {0.75, -0.1, 3},
         0.5, 0x7e, 0, 0, 0, {1.5, -0.0, 6}},
        {"all-zero e8m0 block: 2^-127", "mxfp4", RNE, 0, 3, {0, -0.0, 0},
         0x1p-127, 0x00, 0, 1, 0, {0, -0.0, 0}},
        {"all-zero fp32 tensor: 2^-149", "int8@tensor", RNE, 0, 2, {0, -0.0},
         0x1p-149, 1, 0, 1, 0, {0, 0}},
        {"all-zero ue4m3 block: 2^-9", "e2m1@b16:ue4m3", RNE, 0, 1, {0}, 0x1p-9, 1, 0, 1, 0, {0}},
        {"NaN in a block", "mxfp4", RNE, 0, 3, {1, NAN, 2}, NAN, 0xff, 0, 0, 1, {NAN, NAN, NAN}},
        {"Inf in an E5M2 block", "mxfp8e5m2", RNE, 0, 2, {INFINITY, 1}, NAN, 0xff, 0, 0, 1,
         {NAN, NAN}},
        {"NaN, fp32 scale", "int8@b4:fp32", RNE, 0, 1, {NAN}, NAN, 0x7fc00000, 0, 0, 1, {NAN}},
        {"-Inf, nv scale", "nvfp4", RNE, 1, 1, {-INFINITY}, NAN, 0x7f, 0, 0, 1, {NAN}},
        {"E4M3 amax exactly 448", "mxfp8", RNE, 0, 3, {448, -448, 1}, 1, 0x7f, 0, 0, 0,
         {448, -448, 1}},
        {"E4M3 amax 464 (half a gap above max) clips", "mxfp8", RNE, 0, 2, {464, 1}, 1, 0x7f, 1, 0,
         0, {448, 1}},
        {"E4M3 amax 511 clips", "mxfp8", NR_RND_RU, 0, 1, {511}, 1, 0x7f, 1, 0, 0, {448}},
        {"E4M3 amax 512: next scale", "mxfp8", RNE, 0, 2, {512, 3}, 2, 0x80, 0, 0, 0, {256, 1.5}},
        {"e8m0 top end: 2^130 clamps to 2^127", "mxfp4", RNE, 0, 1, {0x1p130}, 0x1p127, 0xfe, 1,
         0, 0, {6}},
        {"e8m0 bottom end: 2^-141 clamps to 2^-127", "mxfp8", RNE, 0, 2, {0x1p-140, 0x1p-133},
         0x1p-127, 0x00, 0, 0, 0, {0, 0x1p-6}},
        {"rceil: 7 / 6 -> 2, nothing clips", "e2m1@b32:e8m0:rceil", RNE, 0, 1, {7}, 2, 0x80, 0, 0,
         0, {4}},
        {"rceil: amax = max", "e2m1@b32:e8m0:rceil", RNE, 0, 2, {6, -1}, 1, 0x7f, 0, 0, 0, {6, -1}},
        {"ceil: power of two", "e2m1@b32:e8m0:ceil", RNE, 0, 2, {4, 1}, 1, 0x7f, 0, 0, 0, {4, 1}},
        {"ceil: 4.5", "e2m1@b32:e8m0:ceil", RNE, 0, 1, {4.5}, 2, 0x80, 0, 0, 0, {2}},
        {"even: 7 rounds to 8", "e2m1@b32:e8m0:even", RNE, 0, 1, {7}, 2, 0x80, 0, 0, 0, {4}},
        {"even: 6.9 stays, clips", "e2m1@b32:e8m0:even", RNE, 0, 1, {6.9}, 1, 0x7f, 1, 0, 0, {6}},
        {"MXINT8", "mxint8", RNE, 0, 3, {1.99, -2, 0.5}, 2, 0x80, 0, 0, 0, {1, -1, 0.25}},
        {"MXINT8 never -2", "mxint8", RNE, 0, 2, {-1.999, 1}, 1, 0x7f, 1, 0, 0, {-127.0 / 64, 1}},
        {"unsigned element clamps negatives to 0", "uint8@tensor", RNE, 0, 2, {-1, 255}, 1,
         0x3f800000, 1, 0, 0, {0, 255}},
        {"int8 amax: rne scale clips by a hair", "int8@tensor", RNE, 0, 1, {100},
         0x1.93264cp-1, 0x3f499326, 1, 0, 0, {127}},
        {"int8 amax-up: nothing clips", "int8@tensor:fp32:amax-up", RNE, 0, 1, {100},
         0x1.93264ep-1, 0x3f499327, 0, 0, 0, {127}},
        {"ue4m3 amax: 7/6 -> 1.125, clips", "e2m1@b16:ue4m3", RNE, 0, 1, {7}, 1.125, 0x39, 1, 0,
         0, {6}},
        {"ue4m3 amax-up: 7/6 -> 1.25", "e2m1@b16:ue4m3:amax-up", RNE, 0, 1, {7}, 1.25, 0x3a, 0, 0,
         0, {6}},
        {"NVFP4 two-level", "nvfp4", RNE, ts7, 4, {7, 1, 0.3, -2}, 0x1.2aaaab4p+0, 0x7e, 0, 0, 0,
         {6, 1, 0.5, -1.5}},
        {"NVFP4 block scale clamps to 2^-9", "nvfp4", RNE, 1, 1, {0x1p-12}, 0x1p-9, 1, 0, 0, 0,
         {0}},
        {"NVFP4 block scale clamps to 448", "nvfp4", RNE, 0x1p-20, 1, {6 * 448 * 4 * 0x1p-20},
         448 * 0x1p-20, 0x7e, 1, 0, 0, {6}},
        {"NVFP4 all-zero block", "nvfp4", RNE, 1, 2, {0, 0}, 0x1p-9, 1, 0, 1, 0, {0, 0}},
        {"static fp32", "int8@tensor:fp32:static", RNE, 0.5, 2, {1, -100}, 0.5, 0x3f000000, 1, 0,
         0, {2, -127}},
        {"static e8m0", "e2m1@tensor:e8m0:static", RNE, 4, 1, {10}, 4, 0x81, 0, 0, 0, {2}},
        /* [scl-nv-static]: the given s_t is the calibrated one; the block scale
         * is still computed from the block, relative to it */
        {"NVFP4 static s_t, block within range", "e2m1@b16:nv:static", RNE, ts7, 4,
         {7, 1, 0.3, -2}, 0x1.2aaaab4p+0, 0x7e, 0, 0, 0, {6, 1, 0.5, -1.5}},
        {"NVFP4 static s_t, block above the calibrated range: s_b 448, clips", "e2m1@b16:nv:static",
         RNE, 0x1p-10, 3, {4, -1, 0.5}, 448 * 0x1p-10, 0x7e, 1, 0, 0, {6, -2, 1}},
        {"NVFP4 static s_t, tiny block: s_b clamps to 2^-9", "e2m1@b16:nv:static", RNE, 1, 2,
         {0x1p-12, 0x3p-10}, 0x1p-9, 1, 0, 0, 0, {0, 1.5}},
        /* every rounding mode on midpoints and quarter points (X = 1) */
        {"rne", "mxfp4", NR_RND_RNE, 0, 5, {2.5, -2.5, 0.25, 5, 4.5}, 1, 0x7f, 0, 0, 0,
         {2, -2, 0, 4, 4}},
        {"rna", "mxfp4", NR_RND_RNA, 0, 5, {2.5, -2.5, 0.25, 5, 4.5}, 1, 0x7f, 0, 0, 0,
         {3, -3, 0.5, 6, 4}},
        {"rz", "mxfp4", NR_RND_RZ, 0, 5, {2.5, -2.5, 0.25, 5, 4.5}, 1, 0x7f, 0, 0, 0,
         {2, -2, 0, 4, 4}},
        {"ru", "mxfp4", NR_RND_RU, 0, 5, {2.5, -2.5, 0.25, 5, 4.5}, 1, 0x7f, 0, 0, 0,
         {3, -2, 0.5, 6, 6}},
        {"rd", "mxfp4", NR_RND_RD, 0, 5, {2.5, -2.5, 0.25, 5, 4.5}, 1, 0x7f, 0, 0, 0,
         {2, -3, 0, 4, 4}},
        {"rto", "mxfp4", NR_RND_RTO, 0, 5, {2.5, -2.5, 0.25, 5, 4.5}, 1, 0x7f, 0, 0, 0,
         {3, -3, 0.5, 6, 6}},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        run_case(&t[i]);
}
END_TEST

/* sr: each element lands on one of its two neighbours, drawn with its own
 * index, and the draw decides: r below the threshold goes up. */
START_TEST(test_sr)
{
    nr_scaled s = sc("mxfp4");
    double x[2] = {2.5, 5.5}, p[2];
    nr_scaled_group g;
    int up[2] = {0, 0};
    for (uint64_t seed = 0; seed < 400; seed++) {
        nr_scaled_ctx ctx = {.mode = NR_RND_SR, .seed = seed, .layer = 3, .element0 = 10,
                             .element_step = 7, .term = 2};
        ck_assert(nr_scaled_quantize(&s, x, 2, 1, &ctx, p, &g, NULL) == 0);
        ck_assert(p[0] == 2 || p[0] == 3);
        ck_assert(p[1] == 4 || p[1] == 6);
        /* [rnd-sr] hi iff r < ceil(frac * 2^32): 2.5 has frac 1/2, 5.5 3/4 */
        ck_assert((p[0] == 3) == (nr_sr_bits(seed, 3, 10, 2) < 0x80000000u));
        ck_assert((p[1] == 6) == (nr_sr_bits(seed, 3, 17, 2) < 0xC0000000u));
        up[0] += p[0] == 3;
        up[1] += p[1] == 6;
    }
    ck_assert(up[0] > 120 && up[0] < 280 && up[1] > 220 && up[1] < 380);
}
END_TEST

START_TEST(test_api_errors)
{
    nr_scaled s = sc("mxfp4"), nv = sc("nvfp4"), st = sc("int8@tensor:fp32:static");
    double x[40] = {1}, p[40];
    nr_scaled_group g;
    nr_err e = {0};
    ck_assert_int_eq(nr_scaled_quantize(&s, x, 0, 1, NULL, p, &g, &e), -NR_ESHAPE);
    nr_err_clear(&e);
    ck_assert_int_eq(nr_scaled_quantize(&s, x, 33, 1, NULL, p, &g, &e), -NR_ESHAPE);
    nr_scaled_ctx ctx = {.tensor_scale = 0};
    nr_err_clear(&e);
    ck_assert_int_eq(nr_scaled_quantize(&nv, x, 4, 1, &ctx, p, &g, &e), -NR_ERANGE);
    ck_assert(strstr(e.msg, "fp32") != NULL);
    ctx.tensor_scale = 0.1; /* not an fp32 value */
    nr_err_clear(&e);
    ck_assert_int_eq(nr_scaled_quantize(&nv, x, 4, 1, &ctx, p, &g, &e), -NR_ERANGE);
    nr_err_clear(&e);
    ck_assert_int_eq(nr_scaled_quantize(&st, x, 4, 1, &ctx, p, &g, &e), -NR_ERANGE);
    ctx.tensor_scale = -1;
    nr_err_clear(&e);
    ck_assert_int_eq(nr_scaled_quantize(&st, x, 4, 1, &ctx, p, &g, &e), -NR_ERANGE);
    nr_scaled bad = s;
    bad.gran = NR_GRAN_NONE;
    nr_err_clear(&e);
    ck_assert_int_eq(nr_scaled_quantize(&bad, x, 4, 1, NULL, p, &g, &e), -NR_ERANGE);
    bad = s;
    bad.block = 0;
    ck_assert_int_eq(nr_scaled_check(&bad, NULL, NULL), -NR_ERANGE);
    /* strided input */
    double y[6] = {7, -1, 1, -1, 0.3, -1};
    ck_assert(nr_scaled_quantize(&s, y, 3, 2, NULL, p, &g, NULL) == 0);
    ck_assert(p[0] == 6 && p[1] == 1 && p[2] == 0.5 && g.clipped == 1);
}
END_TEST

START_TEST(test_scales)
{
    nr_scaled nv = sc("nvfp4"), up = sc("e2m1@b16:nv:amax-up"), m = sc("mxfp4");
    ck_assert(nr_scaled_tensor_scale(&nv, 2688) == 1);
    ck_assert(nr_scaled_tensor_scale(&nv, 7) == 0x1.555556p-9);
    ck_assert(nr_scaled_tensor_scale(&nv, 0) == 0x1p-149);
    ck_assert(isnan(nr_scaled_tensor_scale(&nv, INFINITY)));
    ck_assert(isnan(nr_scaled_tensor_scale(&nv, NAN)));
    ck_assert(nr_scaled_tensor_scale(&up, 1) >= 1.0 / 2688);
    ck_assert(nr_scaled_tensor_scale(&m, 7) == 1); /* the group scale for amax 7 */
    double v[5] = {1, -9, NAN, INFINITY, 3};
    ck_assert(nr_scaled_amax(v, 5, 1) == 9);
    ck_assert(nr_scaled_amax(v, 3, 2) == 3);
    ck_assert(nr_scaled_scale_decode(NR_SCALE_E8M0, 0) == 0x1p-127);
    ck_assert(nr_scaled_scale_decode(NR_SCALE_E8M0, 254) == 0x1p127);
    ck_assert(isnan(nr_scaled_scale_decode(NR_SCALE_E8M0, 255)));
    ck_assert(nr_scaled_scale_decode(NR_SCALE_UE4M3, 0x7e) == 448);
    ck_assert(nr_scaled_scale_decode(NR_SCALE_FP32, 0x3f800000) == 1);
    ck_assert(nr_scaled_scale_format(NR_SCALE_E8M0) == NULL);
    ck_assert(nr_scaled_scale_format(NR_SCALE_NV)->max_finite == 448);
}
END_TEST

START_TEST(test_exact_div)
{
    nr_exact a, b, q;
    nr_exact_from_double(1, &a);
    nr_exact_from_double(3, &b);
    nr_exact_div(&a, &b, &q);
    ck_assert(q.cls == NR_CLS_FINITE && q.sticky);
    ck_assert(nr_codec_exact_to_double(&q) == 1.0 / 3);
    nr_exact_from_double(-6, &a);
    nr_exact_div(&a, &b, &q);
    ck_assert(!q.sticky && nr_codec_exact_to_double(&q) == -2);
    nr_exact_from_double(0, &b);
    nr_exact_div(&a, &b, &q);
    ck_assert(q.cls == NR_CLS_INF && q.sign);
    nr_exact_from_double(0, &a);
    nr_exact_div(&a, &b, &q);
    ck_assert(q.cls == NR_CLS_NAN);
    nr_exact_from_double(INFINITY, &b);
    nr_exact_from_double(-1, &a);
    nr_exact_div(&a, &b, &q);
    ck_assert(q.cls == NR_CLS_ZERO && q.sign);
}
END_TEST

/* ---------------------------------------------------------------- cost */

START_TEST(test_cost)
{
    nr_cost_scaled c4, c8, nv, ch;
    nr_scaled m4 = sc("mxfp4"), m8 = sc("mxfp8"), n4 = sc("nvfp4"), i8 = sc("int8@channel");
    ck_assert(nr_cost_scaled_mac(&nr_cost_default, &m4, &c4, NULL) == 0);
    ck_assert(nr_cost_scaled_mac(&nr_cost_default, &m8, &c8, NULL) == 0);
    ck_assert(nr_cost_scaled_mac(&nr_cost_default, &n4, &nv, NULL) == 0);
    ck_assert(nr_cost_scaled_mac(&nr_cost_default, &i8, &ch, NULL) == 0);
    /* the per-MAC sum, spelled out: e2m1 magnitudes are 0.5 * 0..12 (4 bits),
     * products 9 bits with the sign, 32 of them need 5 more */
    ck_assert_int_eq(c4.block, 32);
    ck_assert_int_eq(c4.tree_bits, 14);
    for (int k = 0; k < NR_COST_METRICS; k++)
        if (k != NR_COST_DELAY)
            ck_assert(fabs(c4.total.mac[k] - (c4.mul[k] + c4.tree[k] * 31 / 32 +
                                              (c4.scale[k] + c4.acc[k]) / 32)) <
                      1e-9 * c4.total.mac[k]);
    /* narrower elements cost less; the ue4m3 scale multiplier costs more than
     * e8m0's exponent adder */
    ck_assert(c4.total.mac[NR_COST_AREA] < c8.total.mac[NR_COST_AREA]);
    ck_assert(c4.total.mac[NR_COST_AREA] < c4.total.ref[NR_COST_AREA]);
    ck_assert(nv.scale[NR_COST_AREA] > c4.scale[NR_COST_AREA]);
    ck_assert(c4.total.speedup > c8.total.speedup);
    /* per-channel int8: an int8 multiplier and an int32 adder per MAC, as in
     * nr_cost_mac */
    nr_format i8f = tu_fmt("int8"), i32 = tu_fmt("int32");
    nr_cost ref;
    ck_assert(nr_cost_mac(&nr_cost_default, &i8f, NULL, &i32, &ref, NULL) == 0);
    for (int k = 0; k < NR_COST_METRICS; k++)
        ck_assert(fabs(ch.total.mac[k] - ref.mac[k]) < 1e-9 * ref.mac[k]);
    ck_assert(fabs(ch.total.speedup - ref.speedup) < 1e-9 * ref.speedup);
    nr_scaled bad = m4;
    bad.block = 0;
    ck_assert(nr_cost_scaled_mac(&nr_cost_default, &bad, &c4, NULL) == -NR_ERANGE);
}
END_TEST

/* ---------------------------------------------------------------- oracle */

static const char *const oracle_elems[] = {"e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "q1.6",
                                           "int8", "int4", "uint8", "e4m3-fnuz", "e3m4"};
static const char *const oracle_scales[] = {
    "b32:e8m0:floor", "b32:e8m0:rceil", "b16:e8m0:ceil", "b32:e8m0:even", "b3:fp32:amax",
    "b32:fp32:amax-up", "b16:ue4m3:amax", "b1:ue4m3:amax-up", "b16:nv:amax", "b32:nv:amax-up",
    "b16:nv:static",
    "tensor:fp32:static", "tensor:e8m0:static", "channel:fp32:amax"};

/* A random group for s: magnitudes over a few binades around 2^base, with
 * zeros, exact overflow edges and (rarely) NaN / Inf. */
static size_t random_group(const nr_scaled *s, uint64_t *rng, double *x)
{
    int cap = s->gran == NR_GRAN_BLOCK ? s->block : 40;
    size_t n = 1 + tu_rand(rng) % (uint64_t)cap;
    uint64_t kind = tu_rand(rng) % 100;
    int base = (int)(tu_rand(rng) % 41) - 20;
    if (kind < 4) /* near the ends of the e8m0 range */
        base = (kind < 2 ? 100 : -140) + (int)(tu_rand(rng) % 30);
    for (size_t i = 0; i < n; i++) {
        double m = 1 + tu_unif(rng);
        if (tu_rand(rng) % 4 == 0) /* short mantissas: ties and exact values */
            m = 1 + (double)(tu_rand(rng) % 16) / 16;
        double v = ldexp(m, base - (int)(tu_rand(rng) % 10));
        if (tu_rand(rng) % 10 == 0)
            v = 0;
        x[i] = tu_rand(rng) & 1 ? -v : v;
    }
    if (kind >= 4 && kind < 30) { /* an overflow edge: max * 2^k * (1 + d) */
        static const double d[] = {0, 0x1p-4, -0x1p-4, 0x1p-3, 0.5 / 3, 1.0 / 7, -0x1p-9};
        x[tu_rand(rng) % n] = ldexp(s->elem.max_finite * (1 + d[tu_rand(rng) % 7]),
                                   base - (int)(tu_rand(rng) % 4));
    }
    if (kind == 30)
        for (size_t i = 0; i < n; i++)
            x[i] = 0;
    if (kind == 31)
        x[tu_rand(rng) % n] = tu_rand(rng) & 1 ? NAN : -INFINITY;
    return n;
}

/* The tensor / static scale a group of s uses. */
static double given_scale(const nr_scaled *s, const double *x, size_t n, uint64_t *rng,
                          oc_stats *st, const char *name)
{
    if (s->scale == NR_SCALE_NV) {
        /* static: the calibrated s_t may also be too small for the block (s_b clamps) */
        int lo = s->rule == NR_RULE_STATIC ? -6 : 0;
        double amax = nr_scaled_amax(x, n, 1) * ldexp(1 + tu_unif(rng), lo + (int)(tu_rand(rng) % 9));
        double ts = nr_scaled_tensor_scale(s, amax), ots = or_scaled_tensor_scale(s, amax);
        st->checks++;
        if (!same(ts, ots))
            oc_fail(st, "%s: tensor scale of amax %a: %a, oracle %a", name, amax, ts, ots);
        return ts;
    }
    if (s->rule == NR_RULE_STATIC) {
        int e = (int)(tu_rand(rng) % 61) - 30;
        if (s->scale == NR_SCALE_E8M0)
            return ldexp(1, e);
        return ldexp((double)(float)(1 + tu_unif(rng)), e);
    }
    return 0;
}

START_TEST(test_oracle)
{
    int groups = tu_exhaustive() ? 2000 : tu_quick() ? 6 : 40;
    oc_stats st;
    oc_stats_init(&st);
    uint64_t rng = 0x5ca1ed;
    double t0 = oc_now();
    long elems = 0;
    for (size_t ie = 0; ie < sizeof oracle_elems / sizeof oracle_elems[0]; ie++)
        for (size_t is = 0; is < sizeof oracle_scales / sizeof oracle_scales[0]; is++) {
            char name[96];
            snprintf(name, sizeof name, "%s@%s", oracle_elems[ie], oracle_scales[is]);
            nr_scaled s = sc(name);
            for (int m = 0; m < NR_RND_COUNT; m++)
                for (int k = 0; k < groups; k++) {
                    double x[64], p[64], op[64];
                    uint32_t sr[64];
                    size_t n = random_group(&s, &rng, x);
                    double ts = given_scale(&s, x, n, &rng, &st, name);
                    nr_scaled_ctx ctx = {.mode = (nr_rounding)m, .seed = tu_rand(&rng),
                                         .layer = 5, .element0 = 11, .element_step = 3,
                                         .term = 1, .tensor_scale = ts};
                    for (size_t i = 0; i < n; i++)
                        sr[i] = nr_sr_bits(ctx.seed, 5, 11 + 3 * i, 1);
                    nr_scaled_group g;
                    or_scaled_group og;
                    nr_err e = {0};
                    int rc = nr_scaled_quantize(&s, x, n, 1, &ctx, p, &g, &e);
                    int orc = or_scaled_quantize(&s, x, n, (nr_rounding)m, sr, ts, op, &og);
                    st.checks++;
                    if (rc != 0 || orc != 0) {
                        oc_fail(&st, "%s %s: rc %d (%s), oracle %d", name, oc_mode(m), rc, e.msg,
                                orc);
                        continue;
                    }
                    if (!same(g.scale, og.scale) || g.scale_bits != og.scale_bits ||
                        g.clipped != og.clipped || g.zero != og.zero || g.nan != og.nan)
                        oc_fail(&st, "%s %s group %d (n %zu, x0 %a): scale %a/0x%llx clipped %d "
                                "zero %d nan %d; oracle %a/0x%llx %d %d %d", name, oc_mode(m), k,
                                n, x[0], g.scale, (unsigned long long)g.scale_bits, g.clipped,
                                g.zero, g.nan, og.scale, (unsigned long long)og.scale_bits,
                                og.clipped, og.zero, og.nan);
                    for (size_t i = 0; i < n; i++) {
                        st.checks++;
                        elems++;
                        if (!same(p[i], op[i]))
                            oc_fail(&st, "%s %s: x %a / X %a -> %a, oracle %a", name, oc_mode(m),
                                    x[i], g.scale, p[i], op[i]);
                    }
                }
        }
    printf("oracle: %ld elements, %ld checks, %ld failures, %.1f s\n", elems, st.checks, st.fails,
           oc_now() - t0);
    ck_assert_msg(st.fails == 0, "%ld mismatches against the oracle", st.fails);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("scaled");
    TCase *tc = tcase_create("scaled");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, test_presets);
    tcase_add_test(tc, test_general_names);
    tcase_add_test(tc, test_bad_names);
    tcase_add_test(tc, test_long_form);
    tcase_add_test(tc, test_groups);
    tcase_add_test(tc, test_sr);
    tcase_add_test(tc, test_api_errors);
    tcase_add_test(tc, test_scales);
    tcase_add_test(tc, test_exact_div);
    tcase_add_test(tc, test_cost);
    tcase_add_test(tc, test_oracle);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
