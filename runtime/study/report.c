/* report.c -- the self-contained HTML report of a results store (`numrep
 * report`, numrep.report in python/).  This file gathers the numbers (the
 * run, every evaluation of its network, sensitivity rows, the predictor
 * fit) and writes them as JSON into the page template
 * (templates/report.html.in, found by the caller: gen/back/paths.h) at its
 * @NUMREP_DATA@ marker; the template's own JavaScript draws the charts, so
 * the page needs nothing from the network. */
#include "report.h"

#include "scaled.h"
#include "search.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MARKER "@NUMREP_DATA@"

/* ------------------------------------------------------------ JSON out */

/* Strings go inside a <script> element: '<' is escaped so no text can
 * close it, and control characters as \u escapes. */
static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void jnum(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

static void jkey(FILE *f, const char *k, int *first)
{
    fputs(*first ? "" : ",", f);
    *first = 0;
    jstr(f, k);
    fputc(':', f);
}

#define KS(k, v) (jkey(f, k, &first), jstr(f, v))
#define KN(k, v) (jkey(f, k, &first), jnum(f, v))
#define KI(k, v) (jkey(f, k, &first), fprintf(f, "%lld", (long long)(v)))

/* ------------------------------------------------------------ gathering */

typedef struct runs {
    nr_run *v;
    int n, cap;
} runs;

static int add_run(const nr_run *r, void *ctx)
{
    runs *rs = ctx;
    if (rs->n == rs->cap) {
        int cap = rs->cap ? 2 * rs->cap : 16;
        nr_run *v = realloc(rs->v, (size_t)cap * sizeof *v);
        if (!v)
            return -NR_ENOMEM;
        rs->v = v, rs->cap = cap;
    }
    rs->v[rs->n++] = *r;
    return 0;
}

/* Which run to report: asked for, else the newest finished, else newest. */
static const nr_run *pick_run(const runs *rs, long long id)
{
    if (id) {
        for (int i = 0; i < rs->n; i++)
            if (rs->v[i].id == id)
                return &rs->v[i];
        return NULL;
    }
    for (int i = rs->n - 1; i >= 0; i--)
        if (!isnan(rs->v[i].finished))
            return &rs->v[i];
    return rs->n ? &rs->v[rs->n - 1] : NULL;
}

static int same_net(const nr_run *a, const nr_run *b)
{
    return !strcmp(a->spec_hash, b->spec_hash) && !strcmp(a->weights_hash, b->weights_hash);
}

/* Per run: how much work of each kind it did. */
typedef struct tally {
    int64_t run;
    long n[NR_RESULTS_KINDS];
    double secs[NR_RESULTS_KINDS];
} tally;

typedef struct emit_ctx {
    FILE *f;
    int count;
    tally *t;
    int nt;
} emit_ctx;

/* A scaled configuration ([scl-name], "+cal" for calibrated activations,
 * search_grid_scaled.c): type "scaled", element width, bits per element
 * with the scale amortised.  0, or -1 when formats is not one. */
static int put_scaled_axes(FILE *f, const char *formats, int *first_p)
{
    int first = *first_p;
    char name[128];
    snprintf(name, sizeof name, "%s", formats);
    char *cal = strstr(name, "+cal");
    if (cal && !cal[4])
        *cal = 0;
    nr_scaled sc;
    nr_err e = {0};
    if (!nr_scaled_is_name(name) || nr_scaled_parse(name, &sc, &e))
        return -1;
    KS("t", "scaled");
    KI("w", sc.elem.width);
    KN("bpe", nr_scaled_bits(&sc));
    KI("cal", cal != NULL);
    *first_p = first;
    return 0;
}

static void put_format_axes(FILE *f, const char *formats, int *first_p)
{
    int first = *first_p;
    nr_format fm;
    nr_err e = {0};
    /* one definition of what a format is: ask the parser for its bit widths */
    if (nr_format_parse(formats, &fm, &e) == 0) {
        KS("t", fm.kind == NR_FLOAT ? "float" : "fixed");
        KI("a", fm.kind == NR_FLOAT ? fm.exp_bits : fm.int_bits);
        KI("b", fm.kind == NR_FLOAT ? fm.man_bits : fm.frac_bits);
        KI("w", fm.width);
    } else if (put_scaled_axes(f, formats, &first) != 0)
        KS("t", "other");
    *first_p = first;
}

static void put_eval(FILE *f, const nr_results_row *r)
{
    int first = 1;
    fputc('{', f);
    KI("id", r->id);
    KI("run", r->run_id);
    KS("f", r->key.formats);
    KS("rnd", r->key.rounding);
    KS("mac", r->key.mac);
    KS("l", r->key.layers);
    KS("k", nr_results_kind_name(r->key.kind));
    put_format_axes(f, r->key.formats, &first);
    KI("first", r->key.data_first);
    KI("count", r->key.data_count);
    KI("n", r->n);
    KN("top1", r->top1);
    KN("top5", r->top5);
    KN("acc", r->norm_acc);
    KN("r2", r->r2);
    KN("sp", r->speedup);
    KN("spf", r->speedup_fixed_clock);
    KN("en", r->energy_ratio);
    KN("s", r->seconds);
    fputc('}', f);
}

static int emit_eval(const nr_results_row *r, void *vctx)
{
    emit_ctx *c = vctx;
    fputs(c->count++ ? ",\n" : "\n", c->f);
    put_eval(c->f, r);
    for (int i = 0; i < c->nt; i++)
        if (c->t[i].run == r->run_id && (unsigned)r->key.kind < NR_RESULTS_KINDS) {
            c->t[i].n[r->key.kind]++;
            if (isfinite(r->seconds))
                c->t[i].secs[r->key.kind] += r->seconds;
        }
    return 0;
}

static int emit_sens(const nr_sens *s, void *vctx)
{
    emit_ctx *c = vctx;
    FILE *f = c->f;
    int first = 1;
    fputs(c->count++ ? ",\n{" : "\n{", f);
    KI("run", s->run_id);
    KS("layer", s->layer);
    KI("i", s->layer_index);
    KI("macs", s->macs);
    KS("f", s->formats);
    KI("n", s->n);
    KN("top1", s->top1);
    KN("acc", s->norm_acc);
    KN("r2", s->r2);
    KN("s", s->seconds);
    fputc('}', f);
    return 0;
}

static void put_run(FILE *f, const nr_run *r, const tally *t)
{
    int first = 1;
    fputc('{', f);
    KI("id", r->id);
    KS("network", r->network);
    KS("method", r->method);
    KN("budget", r->budget);
    KN("fp32_top1", r->fp32_top1);
    KN("fp32_top5", r->fp32_top5);
    KN("started", r->started);
    KN("finished", r->finished);
    KI("chosen", r->chosen_eval);
    KI("first", r->data_first);
    KI("count", r->data_count);
    KS("settings", r->settings);
    KS("spec_hash", r->spec_hash);
    KS("weights_hash", r->weights_hash);
    KS("data_hash", r->data_hash);
    if (t) {
        KI("n_full", t->n[NR_RESULTS_FULL]);
        KI("n_sample", t->n[NR_RESULTS_SAMPLE]);
        KN("s_full", t->secs[NR_RESULTS_FULL]);
        KN("s_sample", t->secs[NR_RESULTS_SAMPLE]);
    }
    fputc('}', f);
}

static int has(const nr_sens *s, void *ctx)
{
    (void)s, (void)ctx;
    return 1; /* stop at the first row */
}

/* Sensitivity rows: the reported run's, else the newest run of the same
 * network that has some. */
static int64_t sens_run(nr_results *db, const runs *rs, const nr_run *run, nr_err *err)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = rs->n - 1; i >= 0; i--) {
            const nr_run *r = &rs->v[i];
            if ((pass == 0 && r->id != run->id) || !same_net(r, run))
                continue;
            int rc = nr_results_each_sens(db, r->id, has, NULL, err);
            if (rc < 0)
                return rc;
            if (rc > 0)
                return r->id;
        }
    return 0;
}

/* The predictor a run used (nr_search_settings_predictor) as a fit: 1 and
 * fit filled, 0 when the settings name none. */
static int run_predictor(const nr_run *run, nr_fit *fit)
{
    nr_predictor p;
    if (nr_search_settings_predictor(run->settings, &p))
        return 0;
    memset(fit, 0, sizeof *fit);
    snprintf(fit->name, sizeof fit->name, "%s", nr_pred_model_name(p.model));
    fit->ncoef = 2;
    fit->coef[0] = p.c0;
    fit->coef[1] = p.c1;
    fit->rmse = NAN;
    return 1;
}

/* The noise model of the run's slice (margin-linear predictors map its x,
 * not R^2): x sampled over R^2 in [0, 1], densely near 1, for the page to
 * interpolate; null when the store has no baseline for the slice. */
static int put_noise(FILE *f, nr_results *db, const nr_run *run, nr_err *err)
{
    nr_baseline key, b;
    nr_results_baseline_key(&key, run->spec_hash, run->weights_hash, run->data_hash, run->data_first,
                    run->data_count);
    int got = nr_results_find_baseline(db, &key, &b, err);
    if (got < 0)
        return got;
    nr_noise_model nm;
    nr_err ignore = {0};
    if (!got || nr_pred_noise_model_init(&nm, b.sample_var, b.margin.v, b.margin.n, b.correct,
                                    &ignore)) {
        nr_results_baseline_free(&b);
        fputs("null", f);
        return 0;
    }
    int first = 1;
    fputc('{', f);
    KN("var", b.sample_var);
    KI("n", b.margin.n);
    KI("correct", b.correct);
    jkey(f, "curve", &first);
    fputc('[', f);
    /* 0 .. 0.9 in steps of 0.01, then 1 - 10^(-j/16) up to 1 - 1e-8, then 1 */
    int k = 0;
    for (int i = 0; i <= 90; i++, k++) {
        double r = i / 100.0;
        fprintf(f, "%s[%.17g,%.17g]", k ? "," : "", r, nr_pred_noise_model_accuracy(&nm, r));
    }
    for (int j = 17; j <= 128; j++) {
        double r = 1.0 - pow(10.0, -j / 16.0);
        fprintf(f, ",[%.17g,%.17g]", r, nr_pred_noise_model_accuracy(&nm, r));
    }
    fprintf(f, ",[1,%.17g]]}", nr_pred_noise_model_accuracy(&nm, 1.0));
    nr_results_baseline_free(&b);
    return 0;
}

/* Write the JSON document for `run` to f. */
static int write_data(FILE *f, nr_results *db, const char *dbpath, const runs *rs,
                      const nr_run *run, nr_err *err)
{
    int rc = 0, first = 1;
    tally *t = calloc((size_t)rs->n, sizeof *t);
    if (!t)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "report", "out of memory");
    int nt = 0;
    for (int i = 0; i < rs->n; i++)
        if (same_net(&rs->v[i], run))
            t[nt++].run = rs->v[i].id;

    fputc('{', f);
    KS("db", dbpath);
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    KS("generated", when);
    jkey(f, "run", &first);
    put_run(f, run, NULL);

    jkey(f, "chosen", &first);
    nr_results_row chosen;
    int got = run->chosen_eval ? nr_results_get_eval(db, run->chosen_eval, &chosen, err) : 0;
    if (got < 0) {
        rc = got;
        goto done;
    }
    if (got)
        put_eval(f, &chosen);
    else
        fputs("null", f);

    jkey(f, "evals", &first);
    fputc('[', f);
    emit_ctx ec = {f, 0, t, nt};
    nr_eval_filter fl = NR_RESULTS_FILTER_ALL;
    fl.spec_hash = run->spec_hash;
    fl.weights_hash = run->weights_hash;
    if ((rc = nr_results_each_eval(db, &fl, emit_eval, &ec, err)) < 0)
        goto done;
    fputs("]", f);

    jkey(f, "runs", &first);
    fputc('[', f);
    for (int i = 0, k = 0; i < rs->n; i++)
        if (same_net(&rs->v[i], run)) {
            fputs(k ? ",\n" : "\n", f);
            put_run(f, &rs->v[i], &t[k++]);
        }
    fputs("]", f);

    int64_t sr = sens_run(db, rs, run, err);
    if (sr < 0) {
        rc = (int)sr;
        goto done;
    }
    KI("sens_run", sr);
    jkey(f, "sens", &first);
    fputc('[', f);
    emit_ctx sc = {f, 0, NULL, 0};
    if (sr && (rc = nr_results_each_sens(db, sr, emit_sens, &sc, err)) < 0)
        goto done;
    fputs("]", f);

    jkey(f, "noise", &first);
    if ((rc = put_noise(f, db, run, err)) < 0)
        goto done;

    jkey(f, "fit", &first);
    nr_fit fit;
    got = run_predictor(run, &fit);
    if (!got)
        got = nr_results_latest_fit(db, NULL, &fit, err);
    if (got < 0) {
        rc = got;
        goto done;
    }
    if (got) {
        first = 1;
        fputc('{', f);
        KS("name", fit.name);
        jkey(f, "coef", &first);
        fputc('[', f);
        for (int i = 0; i < fit.ncoef; i++) {
            fputs(i ? "," : "", f);
            jnum(f, fit.coef[i]);
        }
        fputc(']', f);
        KI("npoints", fit.npoints);
        KN("rmse", fit.rmse);
        KS("networks", fit.networks);
        fputc('}', f);
    } else
        fputs("null", f);
    fputs("}", f);
    rc = 0;
done:
    free(t);
    return rc;
}

/* ------------------------------------------------------------ template */

static char *read_template(const char *path, nr_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        nr_err_set(err, NR_EIO, path, 0, 0, "template", "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *s = NULL;
    size_t n = 0, cap = 0, k;
    char buf[8192];
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) {
        if (n + k + 1 > cap) {
            cap = 2 * (n + k + 1);
            char *t = realloc(s, cap);
            if (!t) {
                free(s);
                fclose(f);
                nr_err_set(err, NR_ENOMEM, path, 0, 0, "template", "out of memory");
                return NULL;
            }
            s = t;
        }
        memcpy(s + n, buf, k);
        n += k;
    }
    fclose(f);
    if (!s || !strstr(s, MARKER)) {
        free(s);
        nr_err_set(err, NR_ECORRUPT, path, 0, 0, "template", "no %s marker in the template",
                   MARKER);
        return NULL;
    }
    s[n] = 0;
    return s;
}

/* Fill the template into out.tmp, then rename: a failed report never
 * leaves a half-written file under the requested name. */
static int write_report(const char *out, const char *tmpl, nr_results *db, const char *dbpath,
                        const runs *rs, const nr_run *run, nr_err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return nr_err_set(err, NR_EIO, out, 0, 0, "", "cannot write: %s", strerror(errno));
    const char *m = strstr(tmpl, MARKER);
    fwrite(tmpl, 1, (size_t)(m - tmpl), f);
    int rc = write_data(f, db, dbpath, rs, run, err);
    fputs(m + strlen(MARKER), f);
    if (fclose(f) != 0 && rc == 0)
        rc = nr_err_set(err, NR_EIO, out, 0, 0, "", "write failed: %s", strerror(errno));
    if (rc == 0 && rename(tmp, out) != 0)
        rc = nr_err_set(err, NR_EIO, out, 0, 0, "", "cannot rename %s: %s", tmp, strerror(errno));
    if (rc)
        remove(tmp);
    return rc;
}

int nr_report_write(const char *dbpath, int64_t run_id, const char *template_path,
                    const char *out, nr_run *reported, nr_err *err)
{
    nr_results *db = NULL;
    runs rs = {0};
    char *tmpl = NULL;
    int rc = nr_results_open_existing(dbpath, &db, err);
    if (!rc && (rc = nr_results_each_run(db, add_run, &rs, err)) > 0)
        rc = 0;
    if (!rc && !(tmpl = read_template(template_path, err)))
        rc = -err->code;
    if (rc)
        goto done;
    if (rs.n == 0) {
        rc = nr_err_set(err, NR_ERANGE, dbpath, 0, 0, "", "no search runs in this database; "
                        "nothing to report (run 'numrep search' with this database first)");
        goto done;
    }
    const nr_run *run = pick_run(&rs, run_id);
    if (!run) {
        rc = nr_err_set(err, NR_ERANGE, dbpath, 0, 0, "run", "no run with id %lld (the newest "
                        "is %lld)", (long long)run_id, (long long)rs.v[rs.n - 1].id);
        goto done;
    }
    rc = write_report(out, tmpl, db, dbpath, &rs, run, err);
    if (!rc && reported)
        *reported = *run;
done:
    free(tmpl);
    free(rs.v);
    nr_results_close(db);
    return rc;
}
