/* search_job.c -- `numrep search` as a library call (gen/cli/cmd_search.c
 * and numrep.search in python/ both call it): the options by name, then
 * the spec, data set, grid, results store and predictor opened as the
 * command always did, nr_search_run with the JIT engines, and the answer as
 * a precision file and as the --json object.  Library code: notes for
 * people are collected in the answer, never printed. */
#include "search_job.h"
#include "model_gen.h"

#include "jit_engine.h"
#include "fmtdata_engine.h"
#include "model.h"
#include "paths.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void gen_search_job_init(gen_search_job *j)
{
    memset(j, 0, sizeof *j);
    nr_search_opts_init(&j->opts);
    nr_search_grid_init(&j->grid);
    snprintf(j->grid_kind, sizeof j->grid_kind, "both");
    snprintf(j->engine, sizeof j->engine, "jit");
    /* formats as data: one compile per network for the whole sweep (else
     * jit-O0, quicker to compile, per configuration) */
    snprintf(j->sample_engine, sizeof j->sample_engine, "fmtdata");
    snprintf(j->db, sizeof j->db, "%s", GEN_SEARCH_DEFAULT_DB);
}

gen_search_job *gen_search_job_new(void)
{
    gen_search_job *j = malloc(sizeof *j);
    if (j)
        gen_search_job_init(j);
    return j;
}

void gen_search_job_free(gen_search_job *j)
{
    free(j);
}

void gen_search_job_progress(gen_search_job *j, nr_search_progress_fn fn, void *ctx)
{
    j->opts.progress = fn;
    j->opts.progress_ctx = ctx;
}

/* ---------------------------------------------------------------- options */

static const char *const flags[] = {"per-layer", "early-stop", "no-r2", "full-sweep",
                                     "raw-r2"};
static const char *const with_value[] = {
    "net", "data", "max-loss", "method", "db", "jobs", "engine", "sample-engine", "limit",
    "first", "samples", "grid", "exp", "man", "int", "frac", "float-variant", "rounding",
    "predictor", "steps", "stop-after"};

static int find(const char *name, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(name, v[i]))
            return 1;
    return 0;
}

int gen_search_job_takes(const char *name)
{
    if (find(name, with_value, sizeof with_value / sizeof *with_value))
        return 1;
    return find(name, flags, sizeof flags / sizeof *flags) ? 0 : -1;
}

int gen_opt_bad(nr_err *err, const char *name, const char *fmt, ...)
{
    char where[64], msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(where, sizeof where, "--%s", name);
    return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where, "%s", msg);
}

/* "1%" -> 0.01, "0.01" -> 0.01; the loss must be in [0, 1). */
static int parse_loss(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || !isfinite(x))
        return -1;
    if (*end == '%') {
        x /= 100;
        end++;
    }
    if (*end || x < 0 || x >= 1)
        return -1;
    *v = x;
    return 0;
}

static int parse_range(const char *s, int *lo, int *hi)
{
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10), b;
    if (errno || end == s)
        return -1;
    if (*end == ':') {
        const char *t = end + 1;
        b = strtol(t, &end, 10);
        if (errno || end == t)
            return -1;
    } else {
        b = a;
    }
    if (*end || a < 0 || b < a || b > 64)
        return -1;
    *lo = (int)a;
    *hi = (int)b;
    return 0;
}

int gen_parse_count(const char *s, long long lo, long long hi, long long *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

int gen_opt_copy(char *dst, size_t n, const char *name, const char *s, nr_err *err)
{
    if ((size_t)snprintf(dst, n, "%s", s) >= n)
        return gen_opt_bad(err, name, "too long");
    return 0;
}

static int set_numeric(gen_search_job *j, const char *name, const char *s, nr_err *err)
{
    nr_search_opts *o = &j->opts;
    if (!strcmp(name, "exp") || !strcmp(name, "man") || !strcmp(name, "int") ||
        !strcmp(name, "frac")) {
        nr_search_grid *g = &j->grid;
        int *lo = name[0] == 'e' ? &g->exp_lo : name[0] == 'm' ? &g->man_lo
                  : name[0] == 'i' ? &g->int_lo : &g->frac_lo;
        int *hi = name[0] == 'e' ? &g->exp_hi : name[0] == 'm' ? &g->man_hi
                  : name[0] == 'i' ? &g->int_hi : &g->frac_hi;
        if (parse_range(s, lo, hi))
            return gen_opt_bad(err, name, "expected A:B (0 <= A <= B <= 64) or A, got \"%s\"", s);
        return 0;
    }
    long long lo = !strcmp(name, "first") || !strcmp(name, "stop-after") ? 0 : 1;
    long long hi = !strcmp(name, "jobs") ? 256 : !strcmp(name, "steps") ? 64 : 1ll << 40, v;
    if (gen_parse_count(s, lo, hi, &v))
        return gen_opt_bad(err, name, "expected an integer from %lld to %lld, got \"%s\"", lo, hi, s);
    if (!strcmp(name, "jobs"))
        o->jobs = (int)v;
    else if (!strcmp(name, "limit"))
        o->limit = v;
    else if (!strcmp(name, "first"))
        o->first = v;
    else if (!strcmp(name, "samples"))
        o->samples = v > 100000 ? 100000 : (int)v;
    else if (!strcmp(name, "steps"))
        o->per_layer_steps = (int)v;
    else
        o->stop_after = v; /* test hook, undocumented */
    return 0;
}

int gen_search_job_set(gen_search_job *j, const char *name, const char *s, nr_err *err)
{
    nr_search_opts *o = &j->opts;
    int takes = gen_search_job_takes(name);
    if (takes < 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "search", "unknown option %s", name);
    if (takes != (s != NULL))
        return gen_opt_bad(err, name, takes ? "needs a value" : "is a flag: it takes no value");
    if (!strcmp(name, "per-layer"))
        o->per_layer = 1;
    else if (!strcmp(name, "early-stop"))
        o->early_stop = 1;
    else if (!strcmp(name, "no-r2"))
        o->no_r2 = 1;
    else if (!strcmp(name, "full-sweep"))
        o->full_sweep = 1;
    else if (!strcmp(name, "raw-r2"))
        o->raw_r2 = 1;
    else if (!strcmp(name, "net"))
        return gen_opt_copy(j->net, sizeof j->net, name, s, err);
    else if (!strcmp(name, "data"))
        return gen_opt_copy(j->data, sizeof j->data, name, s, err);
    else if (!strcmp(name, "db"))
        return gen_opt_copy(j->db, sizeof j->db, name, s, err);
    else if (!strcmp(name, "predictor"))
        return gen_opt_copy(j->predictor, sizeof j->predictor, name, s, err);
    else if (!strcmp(name, "max-loss")) {
        if (parse_loss(s, &o->max_loss))
            return gen_opt_bad(err, name, "expected a loss such as 1%% or 0.01, below 100%%, got "
                                  "\"%s\"", s);
        j->have_loss = 1;
    } else if (!strcmp(name, "method")) {
        if (strcmp(s, "fast") && strcmp(s, "exhaustive"))
            return gen_opt_bad(err, name, "expected fast or exhaustive, got \"%s\"", s);
        o->method = strcmp(s, "fast") ? NR_SEARCH_EXHAUSTIVE : NR_SEARCH_FAST;
    } else if (!strcmp(name, "engine") || !strcmp(name, "sample-engine")) {
        if (strcmp(s, "emulator") && strcmp(s, "fmtdata") && gen_engine_opt_level(s) < 0)
            return gen_opt_bad(err, name,
                               "expected jit, jit-O0..jit-O3 or emulator (or fmtdata), got \"%s\"",
                               s);
        if (!strcmp(name, "engine"))
            snprintf(j->engine, sizeof j->engine, "%s", s);
        else
            snprintf(j->sample_engine, sizeof j->sample_engine, "%s",
                     strcmp(s, "jit") ? s : "jit-O0");
    } else if (!strcmp(name, "grid")) {
        if (strcmp(s, "both") && strcmp(s, "float") && strcmp(s, "fixed") &&
            strcmp(s, "scaled") && strcmp(s, "all"))
            return gen_opt_bad(err, name, "expected both, float, fixed, scaled or all, got \"%s\"", s);
        snprintf(j->grid_kind, sizeof j->grid_kind, "%s", s);
    } else if (!strcmp(name, "float-variant")) {
        return gen_opt_copy(j->grid.float_variant, sizeof j->grid.float_variant, name, s, err);
    } else if (!strcmp(name, "rounding")) {
        nr_err e = {0};
        if (nr_rounding_parse(s, &o->rounding, &e))
            return gen_opt_bad(err, name, "expected rne, rna, rz, ru, rd, rto or sr, got \"%s\"", s);
    } else
        return set_numeric(j, name, s, err);
    return 0;
}

/* ---------------------------------------------------------------- notes */

static void note(gen_search_answer *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(gen_search_answer *a, const char *fmt, ...)
{
    size_t k = strlen(a->notes);
    va_list ap;
    va_start(ap, fmt);
    if (k < sizeof a->notes)
        vsnprintf(a->notes + k, sizeof a->notes - k, fmt, ap);
    va_end(ap);
    k = strlen(a->notes);
    if (k + 1 < sizeof a->notes)
        a->notes[k] = '\n', a->notes[k + 1] = 0;
}

/* ---------------------------------------------------------------- predictor */

/* predictor FILE, else the newest fit in the database, else the shipped file. */
static int choose_predictor(gen_search_job *j, nr_results *db, gen_search_answer *a,
                            char *src, size_t srcsize, nr_err *err)
{
    nr_predictor *p = &j->opts.predictor;
    if (j->predictor[0]) {
        snprintf(src, srcsize, "%s", j->predictor);
        return nr_predictor_load(j->predictor, p, err);
    }
    nr_fit fit;
    nr_pred_model model;
    int rc = nr_results_latest_fit(db, NULL, &fit, err);
    if (rc < 0)
        return rc;
    if (rc == 1 && fit.ncoef == 2 && !nr_pred_model_parse(fit.name, &model)) {
        memset(p, 0, sizeof *p);
        p->model = model;
        p->c0 = fit.coef[0];
        p->c1 = fit.coef[1];
        p->npoints = fit.npoints;
        p->rmse = fit.rmse;
        snprintf(p->networks, sizeof p->networks, "%s", fit.networks);
        snprintf(src, srcsize, "the database's fit %lld", (long long)fit.id);
        return 0;
    }
    nr_err e = {0};
    if (gen_res_find(GEN_RES_PREDICTOR, src, srcsize, NULL, &e) || nr_predictor_load(src, p, &e)) {
        char msg[1024];
        nr_err_format(&e, msg, sizeof msg);
        note(a, "note: no predictor (%s); predicting accuracy = R^2", msg);
        memset(p, 0, sizeof *p);
        p->c1 = 1;
        snprintf(src, srcsize, "none (accuracy = R^2)");
    }
    return 0;
}

/* ---------------------------------------------------------------- engines */

/* "jit" compiles at -O2 (full evaluations: run time dominates); "jit-O0" is
 * the R^2 runs' engine: on ~10 inputs compiling dominates, and -O0 compiles
 * ResNet-20 4x faster for code ~1.5x slower (gen/back/jit_engine.c). */
static int open_engine(void *ctx, const char *name, const nr_model *m, nr_engine *out,
                       nr_err *err)
{
    nr_err gerr = {0};
    if (!strcmp(name, "fmtdata")) { /* formats as data: one compile per network */
        int rc = gen_fdcache_open(ctx, m, out, err);
        if (rc <= 0)
            return rc;
        /* outside its scope, or measured dearer: compiled per configuration */
        if (!ctx)
            return open_engine(NULL, "jit-O0", m, out, err);
        double t0 = gen_fdcache_cpu();
        nr_engine e;
        if ((rc = open_engine(NULL, "jit-O0", m, &e, err)))
            return rc;
        return gen_fdcache_wrap(ctx, &e, gen_fdcache_cpu() - t0, out, err);
    }
    if (strncmp(name, "jit", 3) == 0 && gen_model_check(m, &gerr)) /* not in the generator */
        return nr_engine_open("emulator", m, out, err); /* [scl-dot-engines], [op-engines] */
    return gen_engine_open(name, m, out, err);
}

/* ---------------------------------------------------------------- running */

/* The precision file of the answer: what `numrep eval/run/build -p FILE`
 * takes to reproduce it (every role in the chosen format, the search's
 * rounding and MAC mode; per-layer answers as overrides).  A YAML comment
 * says where it came from.  Returns a malloc'ed string, or NULL. */
static char *precision_yaml(const char *net, const char *data, const nr_search_opts *o,
                            const nr_search_result *r)
{
    if (!r->found)
        return NULL;
    size_t cap = 1024 + 3 * sizeof r->layers;
    char *y = malloc(cap);
    if (!y)
        return NULL;
    const char *rnd = nr_rounding_name(o->rounding), *mac = nr_mac_name(o->mac);
    char sf[128], sr[16], sm[16];
    if (r->chosen.scaled.gran != NR_GRAN_NONE) { /* its own rounding and mac */
        nr_search_scaled_key(&r->chosen, sf, sizeof sf, sr, sizeof sr, sm, sizeof sm);
        rnd = sr, mac = sm;
    }
    size_t k = (size_t)snprintf(y, cap,
                                "# numrep search: %s on %s, budget %.4g %% loss (%s method):\n"
                                "# normalized top-1 %.2f %%, speedup %.2fx at equal area\n"
                                "default: {weights: %s, activations: same, products: same, "
                                "accumulator: same, rounding: %s, mac: %s}\n",
                                net, data, 100 * o->max_loss,
                                o->method == NR_SEARCH_EXHAUSTIVE ? "exhaustive" : "fast",
                                100 * (r->per_layer_done ? r->pl_norm_acc : r->norm_acc),
                                r->per_layer_done ? r->pl_speedup : r->chosen.speedup,
                                r->chosen.name, rnd, mac);
    if (r->chosen.calibrated) { /* "int8@channel:fp32:amax+cal": the scales come next */
        char *plus = strstr(y, "+cal, activations: same");
        if (plus)
            memmove(plus, plus + 4, strlen(plus + 4) + 1), k -= 4;
        k += (size_t)snprintf(y + k, cap - k,
                              "# calibrated activations: numrep calibrate %s -p THIS_FILE "
                              "--data %s -o CAL.yaml writes their scales\n",
                              net, data);
    }
    if (r->per_layer_done && r->layers[0]) { /* "conv1=e4m3,fc1=e3m4" */
        k += (size_t)snprintf(y + k, cap - k, "layers:\n");
        for (const char *p = r->layers; *p && k < cap;) {
            const char *eq = strchr(p, '='), *end = strchr(p, ',');
            if (!eq)
                break;
            if (!end)
                end = p + strlen(p);
            k += (size_t)snprintf(y + k, cap - k, "  '%.*s': {weights: %.*s, activations: same, "
                                  "products: same, accumulator: same}\n", (int)(eq - p), p,
                                  (int)(end - eq - 1), eq + 1);
            p = *end ? end + 1 : end;
        }
    }
    return y;
}

/* The data set as `numrep eval` opens it: the spec's preprocessing, labels
 * below the network's output size. */
static int open_data(const gen_search_job *j, const nr_spec *spec, nr_dataset **ds,
                     gen_search_answer *a, int lead, nr_err *err)
{
    nr_model *m = NULL;
    nr_spec *s2 = NULL;
    if (nr_spec_load(j->net, &s2, err) || nr_model_build(s2, NULL, NULL, 0, &m, err))
        return -err->code;
    nr_dataset_opts dopt;
    nr_dataset_opts_init(&dopt);
    dopt.pp = spec->pp;
    dopt.num_classes = (int)nr_shape_count(m->layers[m->output].out_shape);
    nr_model_free(m);
    if (!spec->has_pp && lead)
        note(a, "note: %s declares no input preprocessing; using x = pixel/255", spec->path);
    return nr_dataset_open(a->data, &dopt, ds, err);
}

/* Process 0 creates the store (and its schema) before the others open it. */
static int open_store(const char *path, const nr_search_comm *c, nr_results **db, nr_err *err)
{
    int lead = !c || c->rank == 0, rc = lead ? nr_results_open(path, db, err) : 0;
    if (c && c->size > 1) {
        int64_t failed = rc != 0;
        nr_err e = {0};
        if (c->allreduce(c->ctx, &failed, 1, NR_SEARCH_MAX, rc ? &e : err))
            return rc ? rc : -NR_EIO;
        if (failed && !rc)
            return nr_err_set(err, NR_EIO, path, 0, 0, "", "process 0 could not open the "
                              "results store");
    }
    if (!lead && !rc)
        rc = nr_results_open(path, db, err);
    return rc;
}

int gen_search_job_check(const gen_search_job *j, nr_err *err)
{
    if (!j->net[0])
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "search", "missing NET.yaml");
    if (!j->have_loss)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "search",
                          "missing --max-loss (the allowed accuracy loss, e.g. 1%%)");
    int scaled = !strcmp(j->grid_kind, "scaled") || !strcmp(j->grid_kind, "all");
    if (scaled && j->opts.per_layer)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "search",
                          "--per-layer lowers layers in plain formats only: use it with "
                          "--grid both, float or fixed");
    return 0;
}

int gen_search_job_run(gen_search_job *j, gen_search_answer *a, nr_err *err)
{
    memset(a, 0, sizeof *a);
    nr_search_opts *o = &j->opts;
    int lead = !o->comm || o->comm->rank == 0;
    int rc = gen_search_job_check(j, err);
    if (rc)
        return rc;
    o->engine = j->engine, o->sample_engine = j->sample_engine;
    j->grid.floats = strcmp(j->grid_kind, "fixed") != 0;
    j->grid.fixeds = strcmp(j->grid_kind, "float") != 0;
    j->grid.scaled = !strcmp(j->grid_kind, "scaled") ? 2 : !strcmp(j->grid_kind, "all") ? 1 : 0;
    nr_spec *spec = NULL;
    nr_dataset *ds = NULL;
    nr_results *db = NULL;
    nr_search_cfg *cfg = NULL;
    int ncfg = 0;
    rc = nr_spec_load(j->net, &spec, err);
    if (rc)
        goto done;
    snprintf(a->network, sizeof a->network, "%s", spec->name);
    if (!j->data[0] && !spec->dataset[0]) {
        rc = nr_err_set(err, NR_ERANGE, NULL, 0, 0, "search",
                        "missing --data DATASET (the spec names no `dataset:`)");
        goto done;
    }
    snprintf(a->data, sizeof a->data, "%s", j->data[0] ? j->data : spec->dataset);
    char src[PATH_MAX + 64] = "";
    if ((rc = nr_search_space(&j->grid, NULL, &cfg, &ncfg, err)) ||
        (rc = open_data(j, spec, &ds, a, lead, err)) || (rc = open_store(j->db, o->comm, &db, err)))
        goto done;
    if (!j->have_predictor && (rc = choose_predictor(j, db, a, src, sizeof src, err)))
        goto done;
    snprintf(a->predictor, sizeof a->predictor, "%s", j->have_predictor ? "--predictor" : src);
    if (!j->have_predictor && lead && o->method == NR_SEARCH_FAST && o->predictor.networks[0]) {
        const char *nets = o->predictor.networks, *name = spec->name;
        size_t len = strlen(name);
        for (const char *q = nets; (q = strstr(q, name)); q += len)
            if ((q == nets || q[-1] == ',') && (q[len] == ',' || !q[len])) {
                note(a, "note: the predictor (%s) was fit on data that includes %s itself", src,
                     name);
                break;
            }
    }
    o->engine_open = open_engine;
    gen_fdcache *fdc = gen_fdcache_new();
    o->engine_ctx = fdc;
    rc = nr_search_run(j->net, ds, db, cfg, ncfg, o, &a->r, err);
    gen_fdcache_free(fdc);
    o->engine_ctx = NULL;
    if (lead && a->r.slice_labels == 1 && a->r.n > 1)
        note(a, "warning: every sample of the slice has the same label, so accuracy on it says "
                "little (is the data sorted by class? take a slice of a shuffled copy)");
    if (rc == 0 && lead && a->r.found && !(a->precision = precision_yaml(spec->name, a->data, o,
                                                                          &a->r)))
        rc = nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
done:
    nr_results_close(db);
    nr_dataset_close(ds);
    nr_spec_free(spec);
    free(cfg);
    return rc;
}

void gen_search_answer_free(gen_search_answer *a)
{
    free(a->precision);
    a->precision = NULL;
}

/* ---------------------------------------------------------------- JSON */

void gen_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, const char *key, double v)
{
    fprintf(f, "\"%s\": ", key);
    if (isfinite(v))
        fprintf(f, "%.6g, ", v);
    else
        fprintf(f, "null, ");
}

void gen_search_answer_json(FILE *f, const gen_search_job *j, const gen_search_answer *a)
{
    const nr_search_opts *o = &j->opts;
    const nr_search_result *r = &a->r;
    fprintf(f, "{\"network\": ");
    gen_json_str(f, a->network);
    fprintf(f, ", \"data\": ");
    gen_json_str(f, a->data);
    fprintf(f, ", \"method\": \"%s\", \"engine\": ",
            o->method == NR_SEARCH_EXHAUSTIVE ? "exhaustive" : "fast");
    gen_json_str(f, j->engine);
    fprintf(f, ", \"samples\": %lld, \"r2_inputs\": %d, \"configurations\": %d, ",
            (long long)r->n, o->no_r2 ? 0 : o->samples, r->nconfigs);
    json_num(f, "max_loss", o->max_loss);
    json_num(f, "fp32_top1", r->fp32_top1);
    fprintf(f, "\n \"found\": %s, \"chosen\": ", r->found ? "true" : "false");
    if (r->found)
        gen_json_str(f, r->chosen.name);
    else
        fprintf(f, "null");
    fprintf(f, ", ");
    json_num(f, "top1", r->top1);
    json_num(f, "normalized", r->norm_acc);
    json_num(f, "r2", r->r2);
    json_num(f, "predicted", r->predicted);
    fprintf(f, "\"predictor\": \"%s\", \"predictor_source\": ", nr_pred_model_name(o->predictor.model));
    gen_json_str(f, a->predictor);
    fprintf(f, ", ");
    fprintf(f, "\"score\": \"%s\", ",
            o->raw_r2 || o->predictor.model == NR_PRED_R2 ? "r2" : "clip");
    json_num(f, "speedup", r->found ? r->chosen.speedup : NAN);
    json_num(f, "speedup_fixed_clock", r->found ? r->chosen.speedup_fixed_clock : NAN);
    json_num(f, "energy_ratio", r->found ? r->chosen.energy_ratio : NAN);
    fprintf(f, "\n \"full_evals\": %d, \"full_computed\": %d, \"sample_evals\": %d, "
               "\"sample_computed\": %d, ",
            r->full_evals, r->full_computed, r->sample_evals, r->sample_computed);
    json_num(f, "full_seconds", r->full_seconds);
    json_num(f, "sample_seconds", r->sample_seconds);
    json_num(f, "wall_seconds", r->wall_seconds);
    json_num(f, "sample_cpu_seconds", r->sample_cpu);
    json_num(f, "full_cpu_seconds", r->full_cpu);
    json_num(f, "fp32_cpu_seconds", r->fp32_cpu);
    fprintf(f, "\"ranks\": %d, \"run\": %lld, \"db\": ", r->nranks, (long long)r->run_id);
    gen_json_str(f, j->db);
    if (r->per_layer_done) {
        fprintf(f, ",\n \"per_layer\": {\"layers\": ");
        gen_json_str(f, r->layers);
        fprintf(f, ", ");
        json_num(f, "normalized", r->pl_norm_acc);
        json_num(f, "speedup", r->pl_speedup);
        json_num(f, "gain", r->pl_gain);
        fprintf(f, "\"evals\": %d, \"computed\": %d}", r->pl_evals, r->pl_computed);
    }
    fprintf(f, ",\n \"precision_yaml\": ");
    if (a->precision)
        gen_json_str(f, a->precision);
    else
        fprintf(f, "null");
    fprintf(f, "}\n");
}

char *gen_search_job_json(gen_search_job *j, int *status, nr_err *err)
{
    gen_search_answer *a = calloc(1, sizeof *a);
    if (!a) {
        nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = gen_search_job_run(j, a, err);
    if (rc >= 0) {
        *status = rc == 1 ? 4 : a->r.found ? 0 : 3;
        FILE *f = open_memstream(&text, &len);
        if (f) {
            gen_search_answer_json(f, j, a);
            if (fclose(f)) {
                free(text);
                text = NULL;
            }
        }
        if (!text)
            nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    }
    gen_search_answer_free(a);
    free(a);
    return text;
}
