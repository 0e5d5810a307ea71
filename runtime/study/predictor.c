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

/* ------------------------------------------------------------ the noise model */

/* One sample's chance of the right answer under noise of scale s = sigma
 * sqrt 2 on the difference of two outputs (s = 0: none, s = inf: a coin). */
static double keep(double m, double s)
{
    if (s == 0 || isinf(m))
        return m > 0 ? 1.0 : m < 0 ? 0.0 : 0.5;
    if (isinf(s))
        return 0.5;
    return 0.5 * erfc(-m / (s * 1.4142135623730951));
}

/* The model before it is made monotone. */
static double raw_accuracy(const nr_noise_model *nm, double r2)
{
    double s;
    if (r2 >= 1 || nm->var == 0)
        s = 0;
    else if (r2 <= 0)
        s = INFINITY;
    else
        s = sqrt(2 * nm->var * (1 - r2) / r2);
    double sum = 0;
    for (int64_t i = 0; i < nm->n; i++)
        sum += keep((double)nm->margin[i], s);
    return sum / (double)nm->correct;
}

/* Grid point j of R^2: 1 - 10^(-j/8), 0 .. 1 - 1e-8; j = NR_NOISE_GRID + 1 is 1. */
static double grid_r2(int j)
{
    return j > NR_NOISE_GRID ? 1.0 : 1.0 - pow(10.0, -(double)j / 8.0);
}

int nr_pred_noise_model_init(nr_noise_model *nm, double var, const float *margin, int64_t n,
                        int64_t correct, nr_err *err)
{
    memset(nm, 0, sizeof *nm);
    if (n <= 0 || correct <= 0 || correct > n || !(var >= 0) || isinf(var))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "noise model",
                          "%lld samples, %lld right in fp32, output variance %g: expected "
                          "some right answers and a finite variance",
                          (long long)n, (long long)correct, var);
    for (int64_t i = 0; i < n; i++)
        if (isnan(margin[i]))
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "noise model",
                              "the margin of sample %lld is NaN", (long long)i);
    nm->var = var;
    nm->margin = margin;
    nm->n = n;
    nm->correct = correct;
    nm->env[NR_NOISE_GRID + 1] = raw_accuracy(nm, 1.0);
    for (int j = NR_NOISE_GRID; j >= 0; j--) {
        double x = raw_accuracy(nm, grid_r2(j));
        nm->env[j] = x < nm->env[j + 1] ? x : nm->env[j + 1];
    }
    return 0;
}

/* The raw model can rise as R^2 falls: infinite noise is a coin flip per
 * sample, which "predicts" half of fp32's wrong answers right, more than
 * fp32 gets when fewer than half the slice is right.  Capping it by its
 * minimum over higher R^2 keeps "more agreement never predicts less
 * accuracy" (exactly at the grid points, nearly between them). */
double nr_pred_noise_model_accuracy(const nr_noise_model *nm, double r2)
{
    if (!(r2 > 0))
        r2 = 0;
    if (r2 > 1)
        r2 = 1;
    int j = 0;
    while (j <= NR_NOISE_GRID && grid_r2(j) < r2)
        j++;
    double x = raw_accuracy(nm, r2);
    return x < nm->env[j] ? x : nm->env[j];
}

/* ------------------------------------------------------------ the linear model */

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

const char *nr_pred_model_name(nr_pred_model m)
{
    return m == NR_PRED_MARGIN ? "margin-linear" : "r2-linear";
}

int nr_pred_model_parse(const char *s, nr_pred_model *out)
{
    if (!strcmp(s, "r2-linear"))
        *out = NR_PRED_R2;
    else if (!strcmp(s, "margin-linear"))
        *out = NR_PRED_MARGIN;
    else
        return -1;
    return 0;
}

double nr_predictor_x(const nr_predictor *p, const nr_noise_model *nm, double r2)
{
    if (p->model == NR_PRED_R2)
        return clamp01(r2);
    return nm ? nr_pred_noise_model_accuracy(nm, r2) : NAN;
}

double nr_predictor_apply(const nr_predictor *p, const nr_noise_model *nm, double r2)
{
    return p->c0 + p->c1 * nr_predictor_x(p, nm, r2);
}

int nr_predictor_fit(const double *x, const double *acc, int n, nr_predictor *out, nr_err *err)
{
    nr_pred_model model = out->model;
    double fit_min = out->fit_min;
    memset(out, 0, sizeof *out);
    out->model = model;
    out->fit_min = fit_min;
    if (n < 2)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "predictor",
                          "%d point%s: a line needs at least 2", n, n == 1 ? "" : "s");
    /* centred sums: stable when x cluster near 1 */
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i];
        my += acc[i];
    }
    mx /= n;
    my /= n;
    double sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double dx = x[i] - mx;
        sxx += dx * dx;
        sxy += dx * (acc[i] - my);
    }
    if (!(sxx > 0))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "predictor",
                          "the %d points all have the same x (%s): no slope to fit", n,
                          model == NR_PRED_R2 ? "R^2 clamped to [0, 1]" : "noise model");
    out->c1 = sxy / sxx;
    out->c0 = my - out->c1 * mx;
    double ss = 0;
    for (int i = 0; i < n; i++) {
        double d = out->c0 + out->c1 * x[i] - acc[i];
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

/* The noise models of the slices met so far (a handful per store). */
typedef struct slice_model {
    nr_baseline b;
    nr_noise_model nm;
    int ok;                   /* 0: no baseline row (or an unusable one)   */
} slice_model;

typedef struct points {
    nr_results *db;
    const netmap *nets;
    const char *exclude;
    nr_pred_model model;
    double fit_min;
    int n, cap, skipped;
    double *x, *y;
    slice_model *sl;
    int nsl;
    char networks[512];
    int oom;
    nr_err err;               /* a store error met in a callback           */
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

/* The noise model of row's slice: NULL when it has no baseline; sets
 * p->err (and returns NULL) on a store error. */
static const nr_noise_model *slice_of(points *p, const nr_results_row *row)
{
    const nr_results_key *k = &row->key;
    for (int i = 0; i < p->nsl; i++) {
        const nr_baseline *b = &p->sl[i].b;
        if (!strcmp(b->spec_hash, k->spec_hash) && !strcmp(b->weights_hash, k->weights_hash) &&
            !strcmp(b->data_hash, k->data_hash) && b->data_first == k->data_first &&
            b->data_count == k->data_count)
            return p->sl[i].ok ? &p->sl[i].nm : NULL;
    }
    slice_model *sl = realloc(p->sl, (size_t)(p->nsl + 1) * sizeof *sl);
    if (!sl) {
        p->oom = 1;
        return NULL;
    }
    p->sl = sl;
    slice_model *m = &sl[p->nsl];
    memset(m, 0, sizeof *m);
    nr_baseline key;
    nr_results_baseline_key(&key, k->spec_hash, k->weights_hash, k->data_hash, k->data_first,
                    k->data_count);
    int rc = nr_results_find_baseline(p->db, &key, &m->b, &p->err);
    if (rc < 0)
        return NULL;
    if (rc == 0)
        m->b = key; /* remembered as absent */
    nr_err ignore = {0};
    m->ok = rc == 1 && nr_pred_noise_model_init(&m->nm, m->b.sample_var, m->b.margin.v,
                                           m->b.margin.n, m->b.correct, &ignore) == 0;
    p->nsl++;
    return m->ok ? &m->nm : NULL;
}

static int add_point(const nr_results_row *row, void *ctx)
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
    const nr_noise_model *nm = NULL;
    if (p->model == NR_PRED_MARGIN && !(nm = slice_of(p, row))) {
        if (p->oom || p->err.code)
            return 1;
        p->skipped++;
        return 0;
    }
    nr_predictor pr = {.model = p->model};
    double x = nr_predictor_x(&pr, nm, row->r2);
    if (!(x >= p->fit_min))
        return 0;
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        double *nx = realloc(p->x, (size_t)cap * sizeof *nx);
        if (nx)
            p->x = nx;
        double *ny = nx ? realloc(p->y, (size_t)cap * sizeof *ny) : NULL;
        if (!nx || !ny) {
            p->oom = 1;
            return 1;
        }
        p->y = ny;
        p->cap = cap;
    }
    p->x[p->n] = x;
    p->y[p->n] = row->norm_acc;
    p->n++;
    note_network(p, net);
    return 0;
}

int nr_predictor_fit_db(nr_results *db, const char *exclude, nr_predictor *out, int *skipped,
                        nr_err *err)
{
    netmap nets = {0};
    points pts = {.db = db, .nets = &nets, .exclude = exclude, .model = out->model,
                  .fit_min = out->fit_min};
    int rc = nr_results_each_run(db, add_run, &nets, err);
    if (rc < 0 && !err->code)
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "predictor", "out of memory");
    if (rc < 0)
        goto done;
    nr_eval_filter f = NR_RESULTS_FILTER_ALL;
    f.kind = NR_RESULTS_FULL;
    rc = nr_results_each_eval(db, &f, add_point, &pts, err);
    if (rc < 0)
        goto done;
    if (pts.err.code) {
        *err = pts.err;
        rc = -pts.err.code;
        goto done;
    }
    if (pts.oom) {
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "predictor", "out of memory for points");
        goto done;
    }
    if (skipped)
        *skipped = pts.skipped;
    if (pts.n < 2) {
        char sk[96] = "";
        if (pts.skipped)
            snprintf(sk, sizeof sk, " (%d more lack their slice's fp32 baseline)", pts.skipped);
        rc = nr_err_set(err, NR_ERANGE, NULL, 0, 0, "--fit-predictor",
                        "the database holds %d full evaluation%s with an R^2 and x >= %g%s%s%s%s: "
                        "run `numrep search --method exhaustive` on other networks first",
                        pts.n, pts.n == 1 ? "" : "s", out->fit_min, sk,
                        exclude && *exclude ? " outside " : "",
                        exclude && *exclude ? "network " : "", exclude ? exclude : "");
        goto done;
    }
    rc = nr_predictor_fit(pts.x, pts.y, pts.n, out, err);
    if (!rc)
        snprintf(out->networks, sizeof out->networks, "%s", pts.networks);
done:
    for (int i = 0; i < pts.nsl; i++)
        nr_results_baseline_free(&pts.sl[i].b);
    free(pts.sl);
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
    if ((rc = nr_yaml_check_map(d, root, "predictor", "model c0 c1 fit_min points rmse networks", err)))
        goto done;
    if (!(n = nr_yaml_get(root, "c0")) || !nr_yaml_get(root, "c1")) {
        rc = nr_yaml_err(d, root, NR_ESYNTAX, "predictor", err,
                         "expected the coefficients c0 and c1 (norm_acc = c0 + c1 * x)");
        goto done;
    }
    if ((rc = nr_yaml_double(d, n, "c0", &out->c0, err)) ||
        (rc = nr_yaml_double(d, nr_yaml_get(root, "c1"), "c1", &out->c1, err)))
        goto done;
    if ((n = nr_yaml_get(root, "model"))) {
        char model[32];
        if ((rc = nr_yaml_string(d, n, "model", model, sizeof model, err)))
            goto done;
        if (nr_pred_model_parse(model, &out->model)) {
            rc = nr_yaml_err(d, n, NR_EUNSUP, "model", err,
                             "expected r2-linear or margin-linear, got \"%s\"", model);
            goto done;
        }
    }
    if ((n = nr_yaml_get(root, "fit_min")) &&
        (rc = nr_yaml_double(d, n, "fit_min", &out->fit_min, err)))
        goto done;
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

void nr_predictor_write(FILE *f, const nr_predictor *p)
{
    if (p->model == NR_PRED_MARGIN)
        fputs("# The fast search's accuracy predictor (numrep search --fit-predictor):\n"
              "#   normalized top-1 = c0 + c1 * x\n"
              "# x: the accuracy the noise model expects from R^2 (docs/search.md): fp32\n"
              "# outputs plus Gaussian noise of the size R^2 implies, against each sample's\n"
              "# fp32 margin.  Fitted by least squares on full evaluations of uniform\n"
              "# formats with x >= fit_min (the line is used near the budget).\n",
              f);
    else
        fputs("# The fast search's accuracy predictor (numrep search --fit-predictor):\n"
              "#   normalized top-1 = c0 + c1 * clamp(R^2, 0, 1)\n"
              "# R^2 of the last layer's outputs against fp32 on the first samples of the\n"
              "# data slice; fitted by least squares on full evaluations of uniform formats.\n",
              f);
    fprintf(f,
            "model: %s\n"
            "c0: %.17g\n"
            "c1: %.17g\n"
            "fit_min: %.17g\n"
            "points: %d\n"
            "rmse: %.6g\n"
            "networks: \"%s\"\n",
            nr_pred_model_name(p->model), p->c0, p->c1, p->fit_min, p->npoints, p->rmse,
            p->networks);
}

int nr_predictor_save(const char *path, const nr_predictor *p, nr_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot write: %s", strerror(errno));
    nr_predictor_write(f, p);
    if (fclose(f))
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot write: %s", strerror(errno));
    return 0;
}
