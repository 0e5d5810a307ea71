/* cost.c -- the MAC hardware cost model: basis functions of a format's bit
 * widths, the shipped coefficients, the MAC sum and its fp32 ratios, and
 * the refit of the coefficients on a user's synthesis results.  The
 * derivation and the sources are in docs/cost-model.md. */
#include "cost.h"
#include "yaml_doc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Section 4 of docs/calibration/mac-cost-points.md (energies converted
 * from fJ to pJ).  The integer delays are not in any published figure we
 * ship: an n x n integer multiplier is taken to be as slow as a float
 * multiplier with p = n (the p x p significand array dominates both), and
 * an integer adder as one of the float adder's three log-depth stages
 * (align, add, normalise), so about a third of its slope. */
const nr_cost_model nr_cost_default = {
    .coef = {
        [NR_COST_FPMUL] = {{12.14, 7.5}, {0.06, 0.65}, {0.00449, 0.0348}},
        [NR_COST_FPADD] = {{22.22, 33.9}, {0.35, 0.71}, {0.00295, 0.0180}},
        [NR_COST_INTMUL] = {{3.79, 0}, {0.06, 0.65}, {0.00307, 0}},
        [NR_COST_INTADD] = {{4.32, 0}, {0.10, 0.24}, {0.00329, 0}},
    },
    .origin = {
        [NR_COST_INTMUL] = {NR_COST_DEFAULT, NR_COST_ASSUMED, NR_COST_DEFAULT},
        [NR_COST_INTADD] = {NR_COST_DEFAULT, NR_COST_ASSUMED, NR_COST_DEFAULT},
    },
};

const char *nr_cost_unit_name(nr_cost_unit u)
{
    static const char *const names[NR_COST_UNITS] = {"fp mult", "fp add", "int mult", "int add"};
    return (unsigned)u < NR_COST_UNITS ? names[u] : "?";
}

const char *nr_cost_metric_name(nr_cost_metric k)
{
    static const char *const names[NR_COST_METRICS] = {"area", "delay", "energy"};
    return (unsigned)k < NR_COST_METRICS ? names[k] : "?";
}

const char *nr_cost_origin_name(nr_cost_origin o)
{
    static const char *const names[] = {"default", "fitted", "scaled", "assumed"};
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

/* ---------------------------------------------------------------- basis */

static nr_cost_unit unit_of(int is_mul, const nr_format *f)
{
    if (f->kind == NR_FLOAT)
        return is_mul ? NR_COST_FPMUL : NR_COST_FPADD;
    return is_mul ? NR_COST_INTMUL : NR_COST_INTADD;
}

/* Coefficients a group actually uses (integer area/energy have one term). */
static int ncoef(nr_cost_unit u, nr_cost_metric k)
{
    return (u == NR_COST_INTMUL || u == NR_COST_INTADD) && k != NR_COST_DELAY ? 1 : 2;
}

/* Basis functions of a unit; the model is coef . x.  in = operands (mult)
 * or the adder's format, out = the multiplier's product format.  Every
 * function is non-decreasing in every width, so with non-negative
 * coefficients more bits never cost less. */
static void basis(nr_cost_unit u, nr_cost_metric k, const nr_format *in, const nr_format *out,
                  double x[NR_COST_NCOEF])
{
    double p = in->prec, e = in->exp_bits, n = in->width;
    double w = in->kind == NR_FLOAT ? p : n;
    x[0] = x[1] = 0;
    if (k == NR_COST_DELAY) {
        /* every unit here is a log-depth tree (multiplier array, prefix adder,
         * shifters) over its widest datapath */
        x[0] = 1;
        x[1] = log2(w);
        return;
    }
    switch (u) {
    case NR_COST_FPMUL: {
        /* p x p significand array, plus linear logic: the exponent adder (as
         * wide as the wider of operand and product exponents) and the rounder
         * (product significand, at most the exact 2p bits).  For a
         * same-format multiplier that is e + p, the fitted form. */
        double pp = out->prec, ep = out->exp_bits;
        x[0] = p * p;
        x[1] = (e > ep ? e : ep) + (pp < 2 * p ? pp : 2 * p);
        break;
    }
    case NR_COST_FPADD:
        x[0] = p * log2(p); /* alignment and normalisation shifters */
        x[1] = p + e;       /* significand adder, exponent compare, rounding */
        break;
    case NR_COST_INTMUL:
        x[0] = n * n;
        break;
    default:
        x[0] = n;
        break;
    }
}

static double dot(const double c[NR_COST_NCOEF], const double x[NR_COST_NCOEF])
{
    return c[0] * x[0] + c[1] * x[1];
}

/* ---------------------------------------------------------------- evaluation */

int nr_cost_unit_eval(const nr_cost_model *m, int is_mul, const nr_format *in,
                      const nr_format *out, double v[NR_COST_METRICS], nr_err *err)
{
    if (!out || !is_mul)
        out = in;
    if (out->kind != in->kind)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "products",
                          "a %s multiplier cannot produce %s products (mixed float/fixed "
                          "MACs are not modelled)",
                          in->kind == NR_FLOAT ? "float" : "fixed-point",
                          out->kind == NR_FLOAT ? "float" : "fixed-point");
    nr_cost_unit u = unit_of(is_mul, in);
    for (int k = 0; k < NR_COST_METRICS; k++) {
        double x[NR_COST_NCOEF];
        basis(u, (nr_cost_metric)k, in, out, x);
        v[k] = dot(m->coef[u][k], x);
        /* a fitted zero coefficient can make e.g. a 1-bit adder free; ratios
         * would divide by it, so say so instead */
        if (!(v[k] > 0) || !isfinite(v[k])) {
            char name[64];
            nr_format_name(in, name, sizeof name);
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, nr_cost_unit_name(u),
                              "the model gives a non-positive %s (%g) for %s",
                              nr_cost_metric_name((nr_cost_metric)k), v[k], name);
        }
    }
    return 0;
}

/* Multiplier + adder: area and energy add up; the product feeds the adder
 * within the cycle, so the critical path is the sum of both delays. */
static int mac_sum(const nr_cost_model *m, const nr_format *op, const nr_format *prod,
                   const nr_format *acc, double mul[], double add[], double mac[], nr_err *err)
{
    if (op->kind != acc->kind)
        return nr_err_set(err, NR_EUNSUP, NULL, 0, 0, "accumulator",
                          "a %s MAC cannot accumulate in %s (mixed float/fixed MACs are "
                          "not modelled)",
                          op->kind == NR_FLOAT ? "float" : "fixed-point",
                          acc->kind == NR_FLOAT ? "float" : "fixed point");
    int rc = nr_cost_unit_eval(m, 1, op, prod, mul, err);
    if (rc == 0)
        rc = nr_cost_unit_eval(m, 0, acc, NULL, add, err);
    if (rc)
        return rc;
    for (int k = 0; k < NR_COST_METRICS; k++)
        mac[k] = mul[k] + add[k];
    return 0;
}

void nr_cost_set_ratios(nr_cost *c)
{
    c->area_ratio = c->ref[NR_COST_AREA] / c->mac[NR_COST_AREA];
    c->clock_gain = c->ref[NR_COST_DELAY] / c->mac[NR_COST_DELAY];
    c->speedup = c->area_ratio * c->clock_gain;
    c->speedup_fixed_clock = c->area_ratio;
    c->energy_ratio = c->ref[NR_COST_ENERGY] / c->mac[NR_COST_ENERGY];
}

int nr_cost_mac(const nr_cost_model *m, const nr_format *operand, const nr_format *product,
                const nr_format *acc, nr_cost *out, nr_err *err)
{
    nr_format fp32;
    nr_cost c;
    double rmul[NR_COST_METRICS], radd[NR_COST_METRICS];
    int rc = nr_format_float(&fp32, 8, 23, err);
    if (rc)
        return rc;
    memset(&c, 0, sizeof c);
    if (!product)
        product = operand;
    if (!acc)
        acc = operand;
    rc = mac_sum(m, operand, product, acc, c.mul, c.add, c.mac, err);
    if (rc == 0)
        rc = mac_sum(m, &fp32, &fp32, &fp32, rmul, radd, c.ref, err);
    if (rc)
        return rc;
    nr_cost_set_ratios(&c);
    *out = c;
    return 0;
}

/* ---------------------------------------------------------------- fitting */

typedef struct group_rows {
    int n;
    double (*x)[NR_COST_NCOEF]; /* basis of each point */
    double *y;                  /* its value */
} group_rows;

/* sum ((c.x_i - y_i) / y_i)^2 */
static double residual(const group_rows *g, const double c[NR_COST_NCOEF])
{
    double s = 0;
    for (int i = 0; i < g->n; i++) {
        double r = dot(c, g->x[i]) / g->y[i] - 1;
        s += r * r;
    }
    return s;
}

/* Best non-negative c with only coefficient j nonzero: 1-D least squares
 * on the rows a_i = x_ij / y_i against 1.  Returns 0 when column j is all
 * zero (it cannot explain anything). */
static int fit_one(const group_rows *g, int j, double c[NR_COST_NCOEF])
{
    double aa = 0, ab = 0;
    for (int i = 0; i < g->n; i++) {
        double a = g->x[i][j] / g->y[i];
        aa += a * a;
        ab += a;
    }
    if (!(aa > 0))
        return 0;
    c[0] = c[1] = 0;
    c[j] = ab > 0 ? ab / aa : 0;
    return 1;
}

/* Both coefficients, non-negative.  The constrained optimum of a convex
 * quadratic in two variables is either the unconstrained one (when it is
 * feasible) or the best point on one of the two faces c_j = 0.  Returns 0
 * when the columns are (nearly) proportional: the points cannot tell the
 * two terms apart. */
static int fit_two(const group_rows *g, double c[NR_COST_NCOEF])
{
    double s[2] = {0, 0}, G[2][2] = {{0, 0}, {0, 0}}, r[2] = {0, 0};
    /* scale columns to unit norm so the rank test does not depend on units */
    for (int i = 0; i < g->n; i++)
        for (int j = 0; j < 2; j++)
            s[j] += (g->x[i][j] / g->y[i]) * (g->x[i][j] / g->y[i]);
    if (!(s[0] > 0 && s[1] > 0))
        return 0;
    s[0] = sqrt(s[0]);
    s[1] = sqrt(s[1]);
    for (int i = 0; i < g->n; i++) {
        double a0 = g->x[i][0] / g->y[i] / s[0], a1 = g->x[i][1] / g->y[i] / s[1];
        G[0][0] += a0 * a0;
        G[0][1] += a0 * a1;
        G[1][1] += a1 * a1;
        r[0] += a0;
        r[1] += a1;
    }
    double det = G[0][0] * G[1][1] - G[0][1] * G[0][1];
    if (!(det > 1e-9))
        return 0;
    c[0] = (r[0] * G[1][1] - r[1] * G[0][1]) / det / s[0];
    c[1] = (r[1] * G[0][0] - r[0] * G[0][1]) / det / s[1];
    if (c[0] >= 0 && c[1] >= 0)
        return 1;
    double c0[NR_COST_NCOEF], c1[NR_COST_NCOEF];
    int ok0 = fit_one(g, 0, c0), ok1 = fit_one(g, 1, c1);
    if (ok0 && (!ok1 || residual(g, c0) <= residual(g, c1)))
        memcpy(c, c0, sizeof c0);
    else
        memcpy(c, c1, sizeof c1);
    return 1;
}

/* Fit one group: all coefficients when the points determine them, else
 * the base coefficients times one scale factor. */
static int fit_group(const group_rows *g, int k, const double base[NR_COST_NCOEF],
                     double c[NR_COST_NCOEF], nr_cost_origin *origin)
{
    if (g->n >= k && (k == 1 ? fit_one(g, 0, c) : fit_two(g, c))) {
        *origin = NR_COST_FITTED;
        return 0;
    }
    group_rows shape = *g;
    double (*one)[NR_COST_NCOEF] = malloc((size_t)(g->n > 0 ? g->n : 1) * sizeof *one);
    if (!one)
        return -NR_ENOMEM;
    for (int i = 0; i < g->n; i++) {
        one[i][0] = dot(base, g->x[i]);
        one[i][1] = 0;
    }
    shape.x = one;
    double t[NR_COST_NCOEF];
    int ok = fit_one(&shape, 0, t);
    free(one);
    if (!ok || !(t[0] > 0))
        return -NR_ERANGE;
    c[0] = base[0] * t[0];
    c[1] = base[1] * t[0];
    *origin = NR_COST_SCALED;
    return 0;
}

int nr_cost_fit(const nr_cost_model *base, const nr_cost_point *pts, int n, nr_cost_model *out,
                nr_err *err)
{
    nr_cost_model m = *base;
    group_rows g = {0, NULL, NULL};
    int rc = 0;
    if (n < 0 || (n > 0 && !pts))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "calibration", "no points");
    size_t cap = n > 0 ? (size_t)n : 1;
    g.x = malloc(cap * sizeof *g.x);
    g.y = malloc(cap * sizeof *g.y);
    if (!g.x || !g.y) {
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibration", "out of memory");
        goto done;
    }
    for (int u = 0; u < NR_COST_UNITS; u++)
        for (int k = 0; k < NR_COST_METRICS; k++) {
            g.n = 0;
            for (int i = 0; i < n; i++) {
                const nr_cost_point *p = &pts[i];
                if (!p->has[k] || unit_of(p->is_mul, &p->format) != (nr_cost_unit)u)
                    continue;
                basis((nr_cost_unit)u, (nr_cost_metric)k, &p->format,
                      p->is_mul ? &p->product : &p->format, g.x[g.n]);
                g.y[g.n++] = p->v[k];
            }
            m.npoints[u][k] = g.n;
            m.max_relerr[u][k] = 0;
            if (g.n == 0)
                continue;
            int r = fit_group(&g, ncoef((nr_cost_unit)u, (nr_cost_metric)k), base->coef[u][k],
                              m.coef[u][k], &m.origin[u][k]);
            /* extreme values (1e-320 um^2) overflow the scaled rows */
            if (!r && !(isfinite(m.coef[u][k][0]) && isfinite(m.coef[u][k][1])))
                r = -NR_ERANGE;
            if (r) {
                rc = nr_err_set(err, -r, NULL, 0, 0, "calibration",
                                "cannot fit %s %s: the points and the model's shape disagree",
                                nr_cost_unit_name((nr_cost_unit)u),
                                nr_cost_metric_name((nr_cost_metric)k));
                goto done;
            }
            for (int i = 0; i < g.n; i++) {
                double e = fabs(dot(m.coef[u][k], g.x[i]) / g.y[i] - 1);
                if (e > m.max_relerr[u][k])
                    m.max_relerr[u][k] = e;
            }
        }
    *out = m;
done:
    free(g.x);
    free(g.y);
    return rc;
}

/* ---------------------------------------------------------------- calibration file */

static int parse_format(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where,
                        nr_format *f, nr_err *err)
{
    char name[128];
    nr_err e = {0};
    int rc = nr_yaml_string(d, n, where, name, sizeof name, err);
    if (rc)
        return rc;
    if (nr_format_parse(name, f, &e))
        return nr_yaml_err(d, n, e.code, where, err, "%s", e.msg);
    return 0;
}

static int parse_point(const nr_yaml_doc *d, const nr_yaml_node *pn, int idx, nr_cost_point *p,
                       nr_err *err)
{
    static const char *const metric_keys[NR_COST_METRICS] = {"area", "delay", "energy"};
    char where[32], w[64];
    snprintf(where, sizeof where, "points[%d]", idx);
    int rc = nr_yaml_check_map(d, pn, where, "unit format products area delay energy source",
                               err);
    if (rc)
        return rc;
    memset(p, 0, sizeof *p);
    p->line = pn->line;
    const nr_yaml_node *un = nr_yaml_get(pn, "unit"), *fn = nr_yaml_get(pn, "format");
    if (!un)
        return nr_yaml_err(d, pn, NR_ESYNTAX, where, err,
                           "missing field \"unit\" (mult or add)");
    if (!fn)
        return nr_yaml_err(d, pn, NR_ESYNTAX, where, err,
                           "missing field \"format\" (a format name such as fp16)");
    snprintf(w, sizeof w, "%s.unit", where);
    if (un->kind != NR_YAML_SCALAR || (strcmp(un->text, "mult") && strcmp(un->text, "add"))) {
        char got[64];
        nr_yaml_describe(un, got, sizeof got);
        return nr_yaml_err(d, un, NR_ESYNTAX, w, err, "expected mult or add, got %s", got);
    }
    p->is_mul = !strcmp(un->text, "mult");
    snprintf(w, sizeof w, "%s.format", where);
    if ((rc = parse_format(d, fn, w, &p->format, err)))
        return rc;
    p->product = p->format;
    const nr_yaml_node *prn = nr_yaml_get(pn, "products");
    if (prn) {
        snprintf(w, sizeof w, "%s.products", where);
        if (!p->is_mul)
            return nr_yaml_err(d, prn, NR_ESYNTAX, w, err,
                               "only a mult unit has a products format");
        if ((rc = parse_format(d, prn, w, &p->product, err)))
            return rc;
        if (p->product.kind != p->format.kind)
            return nr_yaml_err(d, prn, NR_EUNSUP, w, err,
                               "products must be float for a float multiplier and fixed "
                               "point for a fixed-point one");
    }
    const nr_yaml_node *sn = nr_yaml_get(pn, "source");
    if (sn && sn->kind != NR_YAML_SCALAR) {
        snprintf(w, sizeof w, "%s.source", where);
        return nr_yaml_err(d, sn, NR_ESYNTAX, w, err, "expected text");
    }
    int any = 0;
    for (int k = 0; k < NR_COST_METRICS; k++) {
        const nr_yaml_node *vn = nr_yaml_get(pn, metric_keys[k]);
        if (!vn)
            continue;
        snprintf(w, sizeof w, "%s.%s", where, metric_keys[k]);
        if ((rc = nr_yaml_double(d, vn, w, &p->v[k], err)))
            return rc;
        if (!(p->v[k] > 0))
            return nr_yaml_err(d, vn, NR_ERANGE, w, err, "expected a positive number, got %s",
                               vn->text);
        p->has[k] = 1;
        any = 1;
    }
    if (!any)
        return nr_yaml_err(d, pn, NR_ESYNTAX, where, err,
                           "expected at least one of area, delay, energy");
    return 0;
}

int nr_cost_load_points(const char *path, nr_cost_point **pts, int *n, nr_err *err)
{
    nr_yaml_doc *d = NULL;
    nr_cost_point *p = NULL;
    int rc = nr_yaml_load(path, &d, err);
    if (rc)
        return rc;
    rc = nr_yaml_check_map(d, d->root, "", "description points", err);
    if (rc)
        goto fail;
    const nr_yaml_node *list = nr_yaml_get(d->root, "points");
    if (!list) {
        rc = nr_yaml_err(d, d->root, NR_ESYNTAX, "points", err,
                         "missing field \"points\" (a list of synthesis results)");
        goto fail;
    }
    if (list->kind != NR_YAML_SEQ || list->n == 0) {
        char got[64];
        nr_yaml_describe(list, got, sizeof got);
        rc = nr_yaml_err(d, list, NR_ESYNTAX, "points", err,
                         "expected a non-empty list of points, got %s", got);
        goto fail;
    }
    p = calloc((size_t)list->n, sizeof *p);
    if (!p) {
        rc = nr_err_set(err, NR_ENOMEM, path, 0, 0, "points", "out of memory");
        goto fail;
    }
    for (int i = 0; i < list->n; i++)
        if ((rc = parse_point(d, list->items[i], i, &p[i], err)))
            goto fail;
    *pts = p;
    *n = list->n;
    nr_yaml_free(d);
    return 0;
fail:
    free(p);
    nr_yaml_free(d);
    return rc;
}

int nr_cost_calibrate(const char *path, nr_cost_model *out, nr_err *err)
{
    nr_cost_point *pts = NULL;
    int n = 0;
    int rc = nr_cost_load_points(path, &pts, &n, err);
    if (rc == 0) {
        rc = nr_cost_fit(&nr_cost_default, pts, n, out, err);
        if (rc && err && !err->file[0])
            snprintf(err->file, sizeof err->file, "%s", path);
    }
    free(pts);
    return rc;
}
