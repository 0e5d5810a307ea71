/* check_cost.c -- the MAC cost model: the shipped calibration points and
 * the published ratios it must reproduce (written down here from
 * docs/calibration/mac-cost-points.md, not computed by the model),
 * monotonicity in every width, the refit, and hostile calibration files. */
#include "testutil.h"
#include "cost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static nr_cost mac(const nr_cost_model *m, const char *op, const char *prod, const char *acc)
{
    nr_format f[3] = {tu_fmt(op), tu_fmt(prod ? prod : op), tu_fmt(acc ? acc : op)};
    nr_cost c;
    nr_err e = {0};
    int rc = nr_cost_mac(m, &f[0], &f[1], &f[2], &c, &e);
    ck_assert_msg(rc == 0, "cost %s/%s/%s: %s: %s", op, prod ? prod : op, acc ? acc : op,
                  e.where, e.msg);
    return c;
}

static void shipped_path(char *buf, size_t n)
{
    snprintf(buf, n, "%s/specs/calibration/mac-cost-points.yaml", tu_source_dir());
}

/* Write text to a fresh temporary file; the name goes to path. */
static void write_tmp(char *path, size_t n, const char *text)
{
    snprintf(path, n, "/tmp/check_cost_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* ------------------------------------------------- published figures */

/* docs/calibration/mac-cost-points.md sections 1 and 2, one row per
 * (unit, format); -1 = not given.  area um^2, delay ns, energy pJ. */
static const struct {
    int is_mul;
    const char *fmt;
    double area, delay, energy;
} published[] = {
    {0, "int8", 36, -1, 0.03},      {0, "int16", 67, -1, 0.05},
    {0, "int32", 137, -1, 0.1},     {0, "fp16", 1360, -1, 0.4},
    {0, "fp32", 4184, -1, 0.9},     {1, "int8", 282, -1, 0.2},
    {1, "int32", 3495, -1, 3.1},    {1, "fp16", 1640, -1, 1.1},
    {1, "fp32", 7700, -1, 3.7},     {1, "e4m3", 236.2, 1.40, -1},
    {1, "bf16", 1102.6, 1.98, -1},  {1, "fp32", 6353.4, 3.08, -1},
    {0, "e4m3", 466.0, 1.77, -1},   {0, "bf16", 1032.9, 2.50, -1},
    {0, "fp32", 3230.0, 3.62, -1},
};
#define NPUB ((int)(sizeof published / sizeof published[0]))

/* The shipped YAML holds exactly the published figures, and the default
 * model reproduces every one of them within +-20%. */
START_TEST(shipped_points_within_20pct)
{
    char path[4096];
    shipped_path(path, sizeof path);
    nr_cost_point *pts = NULL;
    int n = 0;
    nr_err e = {0};
    ck_assert_msg(nr_cost_load_points(path, &pts, &n, &e) == 0, "%s:%d:%d: %s: %s", e.file,
                  e.line, e.col, e.where, e.msg);
    ck_assert_int_eq(n, NPUB);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        nr_format f = tu_fmt(published[i].fmt);
        ck_assert_int_eq(pts[i].is_mul, published[i].is_mul);
        ck_assert_msg(nr_format_equal(&pts[i].format, &f), "point %d format", i);
        double want[3] = {published[i].area, published[i].delay, published[i].energy};
        double v[3];
        ck_assert_int_eq(nr_cost_unit_eval(&nr_cost_default, pts[i].is_mul, &pts[i].format,
                                           NULL, v, &e),
                         0);
        for (int k = 0; k < NR_COST_METRICS; k++) {
            ck_assert_int_eq(pts[i].has[k], want[k] > 0);
            if (want[k] < 0)
                continue;
            ck_assert(pts[i].v[k] == want[k]);
            double r = v[k] / want[k] - 1;
            if (fabs(r) > fabs(worst))
                worst = r;
            ck_assert_msg(fabs(r) <= 0.20, "%s %s %s: model %g, published %g (%+.1f%%)",
                          published[i].fmt, published[i].is_mul ? "mult" : "add",
                          nr_cost_metric_name((nr_cost_metric)k), v[k], want[k], 100 * r);
        }
    }
    printf("cost: worst default-model error on the shipped points: %+.1f%%\n", 100 * worst);
    free(pts);
}
END_TEST

/* Section 4: "a same-format e6m7 MAC is 5.7x smaller than fp32 and 8.4x
 * faster at equal area"; the issue asks for 5-9x (paper: 7.2x AlexNet at
 * e6m7, 7.6x average). */
START_TEST(e6m7_speedup)
{
    nr_cost c = mac(&nr_cost_default, "e6m7", NULL, NULL);
    ck_assert_msg(c.speedup >= 5 && c.speedup <= 9, "e6m7 speedup %g", c.speedup);
    ck_assert_msg(fabs(c.area_ratio - 5.7) < 0.05, "e6m7 area ratio %g (section 4: 5.7)",
                  c.area_ratio);
    ck_assert_msg(fabs(c.speedup - 8.4) < 0.05, "e6m7 speedup %g (section 4: 8.4)", c.speedup);
    ck_assert(c.speedup_fixed_clock == c.area_ratio);
    ck_assert(c.speedup == c.area_ratio * c.clock_gain);
    ck_assert(c.clock_gain > 1);
    /* the paper's e6m8 is slower than e6m7 (5.7x vs 7.2x); our ordering agrees */
    nr_cost c8 = mac(&nr_cost_default, "e6m8", NULL, NULL);
    ck_assert(c8.speedup < c.speedup && c8.speedup > 1);
    /* the paper's energy savings (3.4x e6m7, 3.0x e6m8): same ballpark */
    ck_assert_msg(c.energy_ratio > 2.5 && c.energy_ratio < 5, "e6m7 energy %g", c.energy_ratio);
    printf("cost: e6m7 speedup %.2f (area %.2f x clock %.2f), energy %.2f; e6m8 %.2f, %.2f\n",
           c.speedup, c.area_ratio, c.clock_gain, c.energy_ratio, c8.speedup, c8.energy_ratio);
}
END_TEST

START_TEST(fp16_area_and_fp32_identity)
{
    nr_cost c = mac(&nr_cost_default, "fp16", NULL, NULL);
    ck_assert_msg(c.area_ratio >= 3 && c.area_ratio <= 4.5, "fp16 area ratio %g", c.area_ratio);
    nr_cost r = mac(&nr_cost_default, "fp32", NULL, NULL);
    ck_assert(r.area_ratio == 1 && r.clock_gain == 1 && r.speedup == 1 && r.energy_ratio == 1);
    for (int k = 0; k < NR_COST_METRICS; k++)
        ck_assert(r.mac[k] == r.ref[k] && r.mac[k] == r.mul[k] + r.add[k]);
    /* variants of a float format cost the same (docs/cost-model.md) */
    const char *same[] = {"e4m3-ieee", "e4m3-fnuz", "e4m3-nosub", "e4m3-sat", "e4m3-b3"};
    nr_cost base = mac(&nr_cost_default, "e4m3", NULL, NULL);
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        nr_cost v = mac(&nr_cost_default, same[i], NULL, NULL);
        ck_assert_msg(!memcmp(v.mac, base.mac, sizeof v.mac), "%s", same[i]);
    }
}
END_TEST

/* van Baalen et al. 2023: an FP8 MAC is 1.5x to 2.8x less efficient than
 * INT8.  Same-format MACs land inside; wide accumulators are reported
 * (docs/cost-model.md explains why they fall outside). */
START_TEST(int8_vs_e4m3)
{
    nr_cost i8 = mac(&nr_cost_default, "int8", NULL, NULL);
    nr_cost f8 = mac(&nr_cost_default, "e4m3", NULL, NULL);
    double area = f8.mac[NR_COST_AREA] / i8.mac[NR_COST_AREA];
    double energy = f8.mac[NR_COST_ENERGY] / i8.mac[NR_COST_ENERGY];
    ck_assert_msg(area >= 1.5 && area <= 2.8, "e4m3/int8 area %g", area);
    ck_assert_msg(energy >= 1.5 && energy <= 2.8, "e4m3/int8 energy %g", energy);
    nr_cost i32 = mac(&nr_cost_default, "int8", "int16", "int32");
    nr_cost f16 = mac(&nr_cost_default, "e4m3", NULL, "fp16");
    nr_cost f32 = mac(&nr_cost_default, "e4m3", NULL, "fp32");
    ck_assert(f16.mac[NR_COST_AREA] > i32.mac[NR_COST_AREA]);
    printf("cost: e4m3/int8 same-format: area %.2f energy %.2f speedup %.2f; "
           "int32 acc vs fp16 acc: area %.2f energy %.2f; vs fp32 acc: area %.2f energy %.2f\n",
           area, energy, i8.speedup / f8.speedup,
           f16.mac[NR_COST_AREA] / i32.mac[NR_COST_AREA],
           f16.mac[NR_COST_ENERGY] / i32.mac[NR_COST_ENERGY],
           f32.mac[NR_COST_AREA] / i32.mac[NR_COST_AREA],
           f32.mac[NR_COST_ENERGY] / i32.mac[NR_COST_ENERGY]);
}
END_TEST

/* ---------------------------------------------------------------- monotonicity */

static void no_cheaper(const nr_cost *lo, const nr_cost *hi, const char *what)
{
    for (int k = 0; k < NR_COST_METRICS; k++)
        ck_assert_msg(hi->mac[k] >= lo->mac[k], "%s: %s went down (%g -> %g)", what,
                      nr_cost_metric_name((nr_cost_metric)k), lo->mac[k], hi->mac[k]);
}

/* eXmY; m0 needs a NaN-only specials policy to be a valid format */
static nr_format ffmt(int e, int man)
{
    char name[32];
    snprintf(name, sizeof name, "e%dm%d%s", e, man, man ? "" : "-fn");
    return tu_fmt(name);
}

static nr_cost fcost(const nr_cost_model *m, int e, int man, int ae, int am)
{
    nr_format op = ffmt(e, man), acc = ffmt(ae, am);
    nr_err err = {0};
    nr_cost c;
    ck_assert_int_eq(nr_cost_mac(m, &op, &op, &acc, &c, &err), 0);
    return c;
}

static nr_cost qcost(const nr_cost_model *m, int i, int f, int ai, int af)
{
    nr_format op, acc;
    nr_err err = {0};
    ck_assert_int_eq(nr_format_fixed(&op, i, f, 1, &err), 0);
    ck_assert_int_eq(nr_format_fixed(&acc, ai, af, 1, &err), 0);
    nr_cost c;
    ck_assert_int_eq(nr_cost_mac(m, &op, &op, &acc, &c, &err), 0);
    return c;
}

static void monotone(const nr_cost_model *m)
{
    char what[96];
    int mmax = tu_quick() ? 12 : 30;
    for (int e = 2; e <= 11; e++)
        for (int man = 0; man <= mmax; man++) {
            nr_cost c = fcost(m, e, man, e, man);
            snprintf(what, sizeof what, "e%dm%d -> e%dm%d", e, man, e, man + 1);
            if (man < mmax) {
                nr_cost d = fcost(m, e, man + 1, e, man + 1);
                no_cheaper(&c, &d, what);
            }
            if (e < 11) {
                nr_cost d = fcost(m, e + 1, man, e + 1, man);
                snprintf(what, sizeof what, "e%dm%d -> e%dm%d", e, man, e + 1, man);
                no_cheaper(&c, &d, what);
            }
            /* a wider accumulator (more mantissa, then more exponent) */
            nr_cost d = fcost(m, e, man, e, man + 1);
            snprintf(what, sizeof what, "e%dm%d acc +1 mantissa", e, man);
            no_cheaper(&c, &d, what);
            d = fcost(m, e, man, e < 11 ? e + 1 : e, man);
            snprintf(what, sizeof what, "e%dm%d acc +1 exponent", e, man);
            no_cheaper(&c, &d, what);
        }
    /* wider products: e4m3 operands, products from e4m3 to e8m23 */
    nr_format op = tu_fmt("e4m3"), acc = tu_fmt("fp32");
    nr_cost prev = {0};
    for (int man = 3; man <= 23; man++) {
        nr_format prod;
        nr_err err = {0};
        nr_cost c;
        ck_assert_int_eq(nr_format_float(&prod, 8, man, &err), 0);
        ck_assert_int_eq(nr_cost_mac(m, &op, &prod, &acc, &c, &err), 0);
        if (man > 3)
            no_cheaper(&prev, &c, "wider products");
        prev = c;
    }
    for (int i = 0; i <= 15; i++)
        for (int f = 0; f <= 15; f++) {
            nr_cost c = qcost(m, i, f, i, f);
            nr_cost d = qcost(m, i + 1, f, i + 1, f);
            snprintf(what, sizeof what, "q%d.%d +1 integer bit", i, f);
            no_cheaper(&c, &d, what);
            d = qcost(m, i, f + 1, i, f + 1);
            snprintf(what, sizeof what, "q%d.%d +1 fraction bit", i, f);
            no_cheaper(&c, &d, what);
            d = qcost(m, i, f, i + 8, f);
            snprintf(what, sizeof what, "q%d.%d wider accumulator", i, f);
            no_cheaper(&c, &d, what);
        }
}

START_TEST(monotone_default)
{
    monotone(&nr_cost_default);
}
END_TEST

START_TEST(monotone_refit)
{
    char path[4096];
    shipped_path(path, sizeof path);
    nr_cost_model m;
    nr_err e = {0};
    ck_assert_msg(nr_cost_calibrate(path, &m, &e) == 0, "%s", e.msg);
    monotone(&m);
}
END_TEST

/* ---------------------------------------------------------------- refit */

/* Points generated from known coefficients, over enough formats to tell
 * the terms apart: the fit must give the coefficients back. */
START_TEST(refit_recovers_coefficients)
{
    nr_cost_model truth = nr_cost_default;
    /* different from the defaults in every group, shape included */
    for (int u = 0; u < NR_COST_UNITS; u++)
        for (int k = 0; k < NR_COST_METRICS; k++) {
            truth.coef[u][k][0] *= 1.7 + 0.1 * u;
            if (truth.coef[u][k][1] != 0)
                truth.coef[u][k][1] *= 0.45 + 0.2 * k;
        }
    /* int delays default to (0.06, 0.65) and (0.1, 0.24): make sure both
     * terms are exercised for those too */
    const char *ffmts[] = {"e4m3", "e5m2", "fp16", "bf16", "e6m7", "fp32", "e3m10", "e8m4"};
    const char *qfmts[] = {"int8", "q3.4", "int16", "q11.20", "uq4.4", "q1.2"};
    nr_cost_point pts[64];
    int n = 0;
    for (int mul = 0; mul <= 1; mul++) {
        for (size_t i = 0; i < sizeof ffmts / sizeof ffmts[0]; i++) {
            nr_cost_point *p = &pts[n++];
            memset(p, 0, sizeof *p);
            p->is_mul = mul;
            p->format = p->product = tu_fmt(ffmts[i]);
            if (mul && i % 3 == 1)
                p->product = tu_fmt("fp32"); /* wider products too */
            nr_err e = {0};
            ck_assert_int_eq(nr_cost_unit_eval(&truth, mul, &p->format, &p->product, p->v, &e), 0);
            p->has[0] = p->has[1] = p->has[2] = 1;
        }
        for (size_t i = 0; i < sizeof qfmts / sizeof qfmts[0]; i++) {
            nr_cost_point *p = &pts[n++];
            memset(p, 0, sizeof *p);
            p->is_mul = mul;
            p->format = p->product = tu_fmt(qfmts[i]);
            nr_err e = {0};
            ck_assert_int_eq(nr_cost_unit_eval(&truth, mul, &p->format, NULL, p->v, &e), 0);
            p->has[0] = p->has[1] = p->has[2] = 1;
        }
    }
    nr_cost_model fit;
    nr_err e = {0};
    ck_assert_int_eq(nr_cost_fit(&nr_cost_default, pts, n, &fit, &e), 0);
    for (int u = 0; u < NR_COST_UNITS; u++)
        for (int k = 0; k < NR_COST_METRICS; k++) {
            ck_assert_int_eq(fit.origin[u][k], NR_COST_FITTED);
            ck_assert_int_gt(fit.npoints[u][k], 1);
            ck_assert_msg(fit.max_relerr[u][k] < 1e-9, "%s %s residual %g",
                          nr_cost_unit_name((nr_cost_unit)u),
                          nr_cost_metric_name((nr_cost_metric)k), fit.max_relerr[u][k]);
            for (int j = 0; j < NR_COST_NCOEF; j++)
                ck_assert_msg(fabs(fit.coef[u][k][j] - truth.coef[u][k][j]) <=
                                  1e-9 * fabs(truth.coef[u][k][j]),
                              "%s %s c%d: fit %.15g, truth %.15g",
                              nr_cost_unit_name((nr_cost_unit)u),
                              nr_cost_metric_name((nr_cost_metric)k), j, fit.coef[u][k][j],
                              truth.coef[u][k][j]);
        }
}
END_TEST

/* Section 4's coefficients are a least-squares fit (relative error) of the
 * published points: refitting the shipped file must land on them. */
START_TEST(refit_shipped_matches_section4)
{
    char path[4096];
    shipped_path(path, sizeof path);
    nr_cost_model m;
    nr_err e = {0};
    ck_assert_int_eq(nr_cost_calibrate(path, &m, &e), 0);
    for (int u = 0; u < NR_COST_UNITS; u++)
        for (int k = 0; k < NR_COST_METRICS; k++) {
            if (k == NR_COST_DELAY)
                continue;
            ck_assert_int_eq(m.origin[u][k], NR_COST_FITTED);
            ck_assert_int_le(m.max_relerr[u][k], 0.20);
            for (int j = 0; j < NR_COST_NCOEF; j++)
                ck_assert_msg(fabs(m.coef[u][k][j] - nr_cost_default.coef[u][k][j]) <=
                                  0.01 * nr_cost_default.coef[u][k][j],
                              "%s %s c%d: refit %g, section 4 %g",
                              nr_cost_unit_name((nr_cost_unit)u),
                              nr_cost_metric_name((nr_cost_metric)k), j, m.coef[u][k][j],
                              nr_cost_default.coef[u][k][j]);
        }
    /* delays: fp units fitted on 3 points each; the refit's intercept
     * differs from section 4's (0.11 vs 0.06 for the multiplier), so compare
     * predictions over every float width instead */
    for (int u = NR_COST_FPMUL; u <= NR_COST_FPADD; u++) {
        ck_assert_int_eq(m.origin[u][NR_COST_DELAY], NR_COST_FITTED);
        for (int p = 2; p <= 53; p++) {
            double a = m.coef[u][1][0] + m.coef[u][1][1] * log2(p);
            double b = nr_cost_default.coef[u][1][0] + nr_cost_default.coef[u][1][1] * log2(p);
            ck_assert_msg(fabs(a / b - 1) < 0.06, "delay p=%d: %g vs %g", p, a, b);
        }
    }
    /* no points for the integer delays: they keep the assumed defaults */
    ck_assert_int_eq(m.origin[NR_COST_INTADD][NR_COST_DELAY], NR_COST_ASSUMED);
    ck_assert_int_eq(m.npoints[NR_COST_INTADD][NR_COST_DELAY], 0);
    ck_assert(!memcmp(m.coef[NR_COST_INTADD][NR_COST_DELAY],
                      nr_cost_default.coef[NR_COST_INTADD][NR_COST_DELAY],
                      sizeof m.coef[0][0]));
}
END_TEST

static nr_cost_point pt(int is_mul, const char *fmt, double area)
{
    nr_cost_point p;
    memset(&p, 0, sizeof p);
    p.is_mul = is_mul;
    p.format = p.product = tu_fmt(fmt);
    p.v[NR_COST_AREA] = area;
    p.has[NR_COST_AREA] = 1;
    return p;
}

/* Too few or indistinguishable points: the default shape scaled; points
 * that would need a negative coefficient: clamped at zero. */
START_TEST(refit_scaled_and_nonnegative)
{
    nr_cost_model m;
    nr_err e = {0};
    const double *d = nr_cost_default.coef[NR_COST_FPMUL][NR_COST_AREA];

    nr_cost_point one[1] = {pt(1, "fp16", 3000)};
    ck_assert_int_eq(nr_cost_fit(&nr_cost_default, one, 1, &m, &e), 0);
    ck_assert_int_eq(m.origin[NR_COST_FPMUL][NR_COST_AREA], NR_COST_SCALED);
    const double *c = m.coef[NR_COST_FPMUL][NR_COST_AREA];
    ck_assert(fabs(c[0] / d[0] - c[1] / d[1]) < 1e-12); /* same shape */
    double v[3];
    nr_format f16 = tu_fmt("fp16");
    ck_assert_int_eq(nr_cost_unit_eval(&m, 1, &f16, NULL, v, &e), 0);
    ck_assert(fabs(v[NR_COST_AREA] / 3000 - 1) < 1e-12);
    /* other groups untouched */
    ck_assert_int_eq(m.origin[NR_COST_FPADD][NR_COST_AREA], NR_COST_DEFAULT);
    ck_assert(!memcmp(m.coef[NR_COST_FPADD], nr_cost_default.coef[NR_COST_FPADD],
                      sizeof m.coef[0]));

    /* two points of one format disagree: scale to their (relative) middle */
    nr_cost_point two[2] = {pt(1, "fp16", 1000), pt(1, "fp16", 4000)};
    ck_assert_int_eq(nr_cost_fit(&nr_cost_default, two, 2, &m, &e), 0);
    ck_assert_int_eq(m.origin[NR_COST_FPMUL][NR_COST_AREA], NR_COST_SCALED);
    ck_assert_int_eq(nr_cost_unit_eval(&m, 1, &f16, NULL, v, &e), 0);
    /* minimising (v/a-1)^2 + (v/b-1)^2 gives v = (1/a + 1/b) / (1/a^2 + 1/b^2) */
    double want = (1 / 1000.0 + 1 / 4000.0) / (1 / 1e6 + 1 / 16e6);
    ck_assert_msg(fabs(v[NR_COST_AREA] / want - 1) < 1e-12, "%.17g vs %.17g", v[NR_COST_AREA],
                  want);

    /* area shrinking with precision would need a negative p^2 term */
    nr_cost_point neg[3] = {pt(1, "e5m2", 900), pt(1, "fp16", 800), pt(1, "fp32", 700)};
    ck_assert_int_eq(nr_cost_fit(&nr_cost_default, neg, 3, &m, &e), 0);
    ck_assert_int_eq(m.origin[NR_COST_FPMUL][NR_COST_AREA], NR_COST_FITTED);
    ck_assert(m.coef[NR_COST_FPMUL][NR_COST_AREA][0] >= 0);
    ck_assert(m.coef[NR_COST_FPMUL][NR_COST_AREA][1] >= 0);
}
END_TEST

/* ---------------------------------------------------------------- bad input */

static void bad_file(const char *text, int code, const char *sub)
{
    char path[64], buf[1024], want[256];
    write_tmp(path, sizeof path, text);
    nr_cost_model m = nr_cost_default;
    nr_err e = {0};
    int rc = nr_cost_calibrate(path, &m, &e);
    nr_err_format(&e, buf, sizeof buf);
    unlink(path);
    ck_assert_msg(rc == -code && e.code == code, "rc %d code %d (%s), want %d for:\n%s", rc,
                  e.code, buf, code, text);
    /* the file is always named; sub starting with ':' must follow it */
    snprintf(want, sizeof want, "%s%s", path, sub[0] == ':' ? sub : ":");
    ck_assert_msg(!strncmp(buf, want, strlen(path) + 1), "message \"%s\" lacks the file", buf);
    ck_assert_msg(strstr(buf, sub[0] == ':' ? want : sub), "message \"%s\" lacks \"%s\"", buf,
                  sub[0] == ':' ? want : sub);
    ck_assert(!memcmp(&m, &nr_cost_default, sizeof m)); /* untouched on error */
}

START_TEST(bad_calibration_files)
{
    bad_file("points: [ {unit: mult, format: fp16, area: 1\n", NR_ESYNTAX, ":2:1: malformed YAML");
    bad_file("points:\n  - {unit: mult, area: 5}\n", NR_ESYNTAX,
             ":2:5: points[0]: missing field \"format\"");
    bad_file("points:\n  - {format: fp16, area: 5}\n", NR_ESYNTAX,
             ":2:5: points[0]: missing field \"unit\"");
    bad_file("points:\n  - {unit: mult, format: fp16, area: 5}\n"
             "  - {unit: add, format: fp16, area: -1360}\n",
             NR_ERANGE, ":3:37: points[1].area: expected a positive number, got -1360");
    bad_file("points:\n  - {unit: add, format: fp16, energy: 0}\n", NR_ERANGE,
             ":2:39: points[0].energy: expected a positive number");
    bad_file("points:\n  - unit: mult\n    format: e4x3\n    area: 5\n", NR_ESYNTAX,
             ":3:13: points[0].format:");
    bad_file("points:\n  - {unit: div, format: fp16, area: 5}\n", NR_ESYNTAX,
             ":2:12: points[0].unit: expected mult or add, got \"div\"");
    bad_file("points:\n  - {unit: add, format: fp16, products: fp32, area: 5}\n", NR_ESYNTAX,
             ":2:41: points[0].products: only a mult unit has a products format");
    bad_file("points:\n  - {unit: mult, format: fp16, products: int16, area: 5}\n", NR_EUNSUP,
             "points[0].products: products must be float");
    bad_file("points:\n  - {unit: mult, format: fp16}\n", NR_ESYNTAX,
             ":2:5: points[0]: expected at least one of area, delay, energy");
    bad_file("points:\n  - {unit: mult, format: fp16, area: big}\n", NR_ESYNTAX,
             "points[0].area: expected a number, got \"big\"");
    bad_file("points:\n  - {unit: mult, format: fp16, aera: 5}\n", NR_ESYNTAX,
             ":2:32: points[0].aera: unknown field");
    bad_file("points: []\n", NR_ESYNTAX, ":1:9: points: expected a non-empty list of points");
    bad_file("points: {unit: mult}\n", NR_ESYNTAX, "points: expected a non-empty list");
    bad_file("description: nothing\n", NR_ESYNTAX, ":1:1: points: missing field \"points\"");
    bad_file("pionts: []\n", NR_ESYNTAX, ":1:1: pionts: unknown field");
    bad_file("- {unit: mult}\n", NR_ESYNTAX, ":1:1: expected a mapping, got a list of 1");
    bad_file("points:\n  - {unit: mult, format: fp16, area: 5, area: 6}\n", NR_ESYNTAX,
             ":2:41: area: duplicate key");
    bad_file("points:\n  - [mult, fp16, 5]\n", NR_ESYNTAX,
             ":2:5: points[0]: expected a mapping");

    /* values far outside any unit: refused at fit time, the file named */
    bad_file("points:\n  - {unit: mult, format: int8, area: 1e-320}\n", NR_ERANGE,
             "calibration: cannot fit int mult area");
    bad_file("points:\n  - {unit: mult, format: fp16, area: 1e-320}\n", NR_ERANGE,
             "calibration: cannot fit fp mult area");

    nr_cost_model m;
    nr_err e = {0};
    ck_assert_int_eq(nr_cost_calibrate("/nonexistent/cal.yaml", &m, &e), -NR_EIO);
}
END_TEST

START_TEST(mixed_kinds_rejected)
{
    nr_format q = tu_fmt("q3.4"), f = tu_fmt("e4m3");
    nr_cost c;
    nr_err e = {0};
    ck_assert_int_eq(nr_cost_mac(&nr_cost_default, &q, &q, &f, &c, &e), -NR_EUNSUP);
    ck_assert(strstr(e.msg, "mixed float/fixed"));
    nr_err_clear(&e);
    ck_assert_int_eq(nr_cost_mac(&nr_cost_default, &f, &q, &f, &c, &e), -NR_EUNSUP);
    ck_assert_str_eq(e.where, "products");
    /* a refit that zeroes the 1-bit adder's delay is refused, not divided by */
    nr_cost_model m = nr_cost_default;
    m.coef[NR_COST_INTADD][NR_COST_DELAY][0] = 0;
    nr_format one = tu_fmt("uq1.0");
    nr_err_clear(&e);
    ck_assert_int_eq(nr_cost_mac(&m, &one, &one, &one, &c, &e), -NR_ERANGE);
    ck_assert(strstr(e.msg, "non-positive delay"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cost");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, shipped_points_within_20pct);
    tcase_add_test(tc, e6m7_speedup);
    tcase_add_test(tc, fp16_area_and_fp32_identity);
    tcase_add_test(tc, int8_vs_e4m3);
    tcase_add_test(tc, monotone_default);
    tcase_add_test(tc, monotone_refit);
    tcase_add_test(tc, refit_recovers_coefficients);
    tcase_add_test(tc, refit_shipped_matches_section4);
    tcase_add_test(tc, refit_scaled_and_nonnegative);
    tcase_add_test(tc, bad_calibration_files);
    tcase_add_test(tc, mixed_kinds_rejected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
