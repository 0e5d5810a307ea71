/* predictor.c -- the fast search's accuracy predictor: R^2 between fp32 and
 * custom-precision last-layer activations, and the linear model that maps it
 * to normalized accuracy (fit by least squares, from points or from the
 * results store; saved as specs/predictor.yaml). */
#include "search.h"
#include "yaml_doc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ R^2 */

double nr_predictor_r2(const float *y, const float *yref, size_t n)
{
    if (n == 0)
        return NR_R2_FLOOR;
    double my = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            return NR_R2_FLOOR;
        my += (double)y[i];
        mr += (double)yref[i];
    }
    my /= (double)n;
    mr /= (double)n;
    /* centred sums (two passes): stable when outputs sit far from zero;
     * float inputs keep every square far inside double's range */
    double syy = 0, srr = 0, syr = 0;
    int same = 1;
    for (size_t i = 0; i < n; i++) {
        double dy = (double)y[i] - my, dr = (double)yref[i] - mr;
        syy += dy * dy;
        srr += dr * dr;
        syr += dy * dr;
        same &= y[i] == yref[i];
    }
    if (same)
        return 1.0;
    /* nothing to explain or nothing explaining it; an inverse relation
     * explains nothing useful either */
    if (srr == 0 || syy == 0 || syr <= 0)
        return 0.0;
    double r2 = (syr / syy) * (syr / srr);
    return r2 > 1 ? 1.0 : r2;
}

/* ------------------------------------------------------------ the linear model */

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

double nr_predictor_apply(const nr_predictor *p, double r2)
{
    return p->c0 + p->c1 * clamp01(r2);
}

int nr_predictor_fit(const double *r2, const double *acc, int n, nr_predictor *out, nr_err *err)
{
    memset(out, 0, sizeof *out);
    if (n < 2)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "predictor",
                          "%d point%s: a line needs at least 2", n, n == 1 ? "" : "s");
    /* centred sums: stable when R^2 cluster near 1 */
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += clamp01(r2[i]);
        my += acc[i];
    }
    mx /= n;
    my /= n;
    double sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double dx = clamp01(r2[i]) - mx;
        sxx += dx * dx;
        sxy += dx * (acc[i] - my);
    }
    if (!(sxx > 0))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "predictor",
                          "the %d points all have the same R^2 (clamped to [0, 1]): no slope "
                          "to fit",
                          n);
    out->c1 = sxy / sxx;
    out->c0 = my - out->c1 * mx;
    double ss = 0;
    for (int i = 0; i < n; i++) {
        double d = nr_predictor_apply(out, r2[i]) - acc[i];
        ss += d * d;
    }
    out->rmse = sqrt(ss / n);
    out->npoints = n;
    return 0;
}

/* ------------------------------------------------------------ fit from the store */

typedef struct netmap {
    int n, cap;
    struct { char hash[NR_HASH_HEX]; char name[128]; } *e;
} netmap;

static int add_run(const nr_run *run, void *ctx)
{
    netmap *m = ctx;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->e[i].hash, run->spec_hash))
            return 0;
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 16;
        void *p = realloc(m->e, (size_t)cap * sizeof *m->e);
        if (!p)
            return -NR_ENOMEM;
        m->e = p;
        m->cap = cap;
    }
    snprintf(m->e[m->n].hash, NR_HASH_HEX, "%s", run->spec_hash);
    snprintf(m->e[m->n].name, sizeof m->e[m->n].name, "%s", run->network);
    m->n++;
    return 0;
}

static const char *net_of(const netmap *m, const char *hash)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->e[i].hash, hash))
            return m->e[i].name;
    return NULL;
}

typedef struct points {
    const netmap *nets;
    const char *exclude;
    int n, cap;
    double *x, *y;
    char networks[512];
    int oom;
} points;

static void note_network(points *p, const char *name)
{
    char *s = p->networks;
    size_t len = strlen(name);
    for (const char *q = s; (q = strstr(q, name)); q += len)
        if ((q == s || q[-1] == ',') && (q[len] == ',' || !q[len]))
            return;
    size_t used = strlen(s);
    if (used + len + 2 < sizeof p->networks)
        snprintf(s + used, sizeof p->networks - used, "%s%s", used ? "," : "", name);
}

static int add_point(const nr_eval *row, void *ctx)
{
    points *p = ctx;
    if (row->key.layers[0] || !strcmp(row->key.formats, "fp32") || isnan(row->r2) ||
        isnan(row->norm_acc))
        return 0;
    const char *net = net_of(p->nets, row->key.spec_hash);
    if (!net)
        net = "?";
    if (p->exclude && p->exclude[0] && !strcmp(net, p->exclude))
        return 0;
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        double *x = realloc(p->x, (size_t)cap * sizeof *x);
        if (x)
            p->x = x;
        double *y = x ? realloc(p->y, (size_t)cap * sizeof *y) : NULL;
        if (!x || !y) {
            p->oom = 1;
            return 1;
        }
        p->y = y;
        p->cap = cap;
    }
    p->x[p->n] = row->r2;
    p->y[p->n] = row->norm_acc;
    p->n++;
    note_network(p, net);
    return 0;
}

int nr_predictor_fit_db(nr_results *db, const char *exclude, nr_predictor *out, nr_err *err)
{
    netmap nets = {0};
    points pts = {.nets = &nets, .exclude = exclude};
    int rc = nr_results_each_run(db, add_run, &nets, err);
    if (rc < 0 && !err->code)
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "predictor", "out of memory");
    if (rc < 0)
        goto done;
    nr_eval_filter f = NR_EVAL_FILTER_ALL;
    f.kind = NR_EVAL_FULL;
    rc = nr_results_each_eval(db, &f, add_point, &pts, err);
    if (rc < 0)
        goto done;
    if (pts.oom) {
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "predictor", "out of memory for points");
        goto done;
    }
    if (pts.n < 2) {
        rc = nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--fit-predictor",
                        "the database holds %d full evaluation%s with an R^2%s%s%s: run "
                        "`numrep search --method exhaustive` on other networks first",
                        pts.n, pts.n == 1 ? "" : "s", exclude && *exclude ? " outside " : "",
                        exclude && *exclude ? "network " : "", exclude ? exclude : "");
        goto done;
    }
    rc = nr_predictor_fit(pts.x, pts.y, pts.n, out, err);
    if (!rc)
        snprintf(out->networks, sizeof out->networks, "%s", pts.networks);
done:
    free(nets.e);
    free(pts.x);
    free(pts.y);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------ the YAML file */

int nr_predictor_load(const char *path, nr_predictor *out, nr_err *err)
{
    memset(out, 0, sizeof *out);
    nr_yaml_doc *d = NULL;
    int rc = nr_yaml_load(path, &d, err);
    if (rc)
        return rc;
    const nr_yaml_node *root = d->root, *n;
    if ((rc = nr_yaml_check_map(d, root, "predictor", "model c0 c1 points rmse networks", err)))
        goto done;
    if (!(n = nr_yaml_get(root, "c0")) || !nr_yaml_get(root, "c1")) {
        rc = nr_yaml_err(d, root, NR_ESYNTAX, "predictor", err,
                         "expected the coefficients c0 and c1 (norm_acc = c0 + c1 * R^2)");
        goto done;
    }
    if ((rc = nr_yaml_double(d, n, "c0", &out->c0, err)) ||
        (rc = nr_yaml_double(d, nr_yaml_get(root, "c1"), "c1", &out->c1, err)))
        goto done;
    if ((n = nr_yaml_get(root, "model"))) {
        char model[32];
        if ((rc = nr_yaml_string(d, n, "model", model, sizeof model, err)))
            goto done;
        if (strcmp(model, "r2-linear")) {
            rc = nr_yaml_err(d, n, NR_EUNSUP, "model", err,
                             "expected r2-linear, got \"%s\"", model);
            goto done;
        }
    }
    if ((n = nr_yaml_get(root, "points")) &&
        (rc = nr_yaml_int(d, n, "points", 0, 1000000000, &out->npoints, err)))
        goto done;
    if ((n = nr_yaml_get(root, "rmse")) && (rc = nr_yaml_double(d, n, "rmse", &out->rmse, err)))
        goto done;
    if ((n = nr_yaml_get(root, "networks")) && n->kind == NR_YAML_SCALAR && n->text[0] &&
        (rc = nr_yaml_string(d, n, "networks", out->networks, sizeof out->networks, err)))
        goto done;
done:
    nr_yaml_free(d);
    return rc;
}

int nr_predictor_save(const char *path, const nr_predictor *p, nr_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot write: %s", strerror(errno));
    fprintf(f,
            "# The fast search's accuracy predictor (numrep search --fit-predictor):\n"
            "#   normalized top-1 = c0 + c1 * clamp(R^2, 0, 1)\n"
            "# R^2 of the last layer's outputs against fp32 on the first samples of the\n"
            "# data slice; fitted by least squares on full evaluations of uniform formats.\n"
            "model: r2-linear\n"
            "c0: %.17g\n"
            "c1: %.17g\n"
            "points: %d\n"
            "rmse: %.6g\n"
            "networks: \"%s\"\n",
            p->c0, p->c1, p->npoints, p->rmse, p->networks);
    if (fclose(f))
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot write: %s", strerror(errno));
    return 0;
}
