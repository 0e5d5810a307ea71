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

int gen_search_opt_bad(nr_err *err, const char *name, const char *fmt, ...)
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

/* The option rows' own parsers (GEN_OPT_FN: 0, or -1 for a bad value,
 * the row's .bad then saying what was expected). */
static int set_loss(void *dst, const char *s, nr_err *err)
{
    (void)err;
    return parse_loss(s, dst);
}

/* exp, man, int, frac: the grid's adjacent int pair lo, hi at dst. */
static int set_range(void *dst, const char *s, nr_err *err)
{
    (void)err;
    int *lohi = dst;
    return parse_range(s, &lohi[0], &lohi[1]);
}

static int set_samples(void *dst, const char *s, nr_err *err)
{
    long long v;
    (void)err;
    if (gen_opts_parse_count(s, 1, 1ll << 40, &v))
        return -1;
    *(int *)dst = v > 100000 ? 100000 : (int)v;
    return 0;
}

static int set_method(void *dst, const char *s, nr_err *err)
{
    (void)err;
    if (strcmp(s, "fast") && strcmp(s, "exhaustive"))
        return -1;
    *(nr_search_method *)dst = strcmp(s, "fast") ? NR_SEARCH_EXHAUSTIVE : NR_SEARCH_FAST;
    return 0;
}

static int set_engine(void *dst, const char *s, nr_err *err)
{
    (void)err;
    if (strcmp(s, "emulator") && strcmp(s, "fmtdata") && gen_engine_opt_level(s) < 0)
        return -1;
    snprintf(dst, sizeof ((gen_search_job *)0)->engine, "%s", s);
    return 0;
}

static int set_sample_engine(void *dst, const char *s, nr_err *err)
{
    return set_engine(dst, strcmp(s, "jit") ? s : "jit-O0", err);
}

static int set_grid(void *dst, const char *s, nr_err *err)
{
    (void)err;
    if (strcmp(s, "both") && strcmp(s, "float") && strcmp(s, "fixed") && strcmp(s, "scaled") &&
        strcmp(s, "all"))
        return -1;
    snprintf(dst, sizeof ((gen_search_job *)0)->grid_kind, "%s", s);
    return 0;
}

#define DEFAULT_PREDICTOR "$NUMREP_PREDICTOR or specs/predictor.yaml"
#define JOB(field) offsetof(gen_search_job, field)
#define FLAG(nm, field) .name = nm, .kind = GEN_OPT_FLAG, .off = JOB(opts.field)
#define PATH_ROW(field) .kind = GEN_OPT_CHARS, .hi = PATH_MAX, .off = JOB(field)
#define RANGE(nm, field) .name = nm, .kind = GEN_OPT_FN, .fn = set_range, .off = JOB(grid.field), \
                         .bad = "%s: expected A:B (0 <= A <= B <= 64) or A, got \"%s\""
#define COUNT(k, l, h) .kind = k, .lo = l, .hi = h, \
                       .bad = "%s: expected an integer from " #l " to " #h ", got \"%s\""
const gen_opt gen_search_job_opts[] = {
    {.name = "net", PATH_ROW(net)}, /* the positional NET.yaml */
    {.name = "max-loss", .kind = GEN_OPT_FN, .fn = set_loss, .off = JOB(opts.max_loss),
     .have = GEN_OPT_HAVE(gen_search_job, have_loss), .arg = "L",
     .bad = "%s: expected a loss such as 1%% or 0.01, below 100%%, got \"%s\"",
     .help = "allowed loss: \"1%\" or a fraction \"0.01\""},
    {.name = "data", PATH_ROW(data), .arg = "DATASET",
     .help = "as for `numrep eval`; default the spec's `dataset:`"},
    {.name = "method", .kind = GEN_OPT_FN, .fn = set_method, .off = JOB(opts.method), .arg = "M",
     .bad = "%s: expected fast or exhaustive, got \"%s\"",
     .help = "fast (default): R^2 of the last layer against fp32 on\n"
             "--samples inputs predicts accuracy, then only a few\n"
             "configurations are measured; exhaustive: all measured"},
    {FLAG("early-stop", early_stop),
     .help = "exhaustive: stop measuring a configuration as soon as\n"
             "it provably fails (more wrong answers than the budget\n"
             "allows); its accuracy is then that of the prefix run\n"
             "(the fast method's failed steps always stop early);\n"
             "with one process the scan also ends at the first\n"
             "configuration that passes (the slower ones cannot be\n"
             "the answer)"},
    {FLAG("no-r2", no_r2),
     .help = "exhaustive: skip the R^2 sweep it runs first (every\n"
             "configuration on --samples inputs: the report's R^2\n"
             "column and later --fit-predictor use it)"},
    {FLAG("full-sweep", full_sweep),
     .help = "fast: run the R^2 sweep over the whole grid (default:\n"
             "only the configurations in rank order up to a few R^2\n"
             "records past the first one predicted to pass)"},
    {FLAG("raw-r2", raw_r2),
     .help = "fast: rank by the raw R^2; by default a margin-linear\n"
             "predictor ranks by R^2 without the part that clamping\n"
             "fp32's outputs to the format's range explains\n"
             "(docs/search.md, clipped logits)"},
    {FLAG("per-layer", per_layer),
     .help = "then lower single MAC layers from the uniform answer,\n"
             "guided by per-layer sensitivity; --steps narrower formats\n"
             "tried per layer (default 4)"},
    {.name = "steps", COUNT(GEN_OPT_INT, 1, 64), .off = JOB(opts.per_layer_steps)},
    {.name = "db", PATH_ROW(db), .arg = "FILE",
     .help = "results store (default " GEN_SEARCH_DEFAULT_DB "): every evaluation\n"
             "is saved as it finishes; a rerun resumes / answers from it"},
    {.name = "jobs", COUNT(GEN_OPT_INT, 1, 256), .off = JOB(opts.jobs), .arg = "N",
     .help = "threads (default 1)"},
    {.name = "engine", .kind = GEN_OPT_FN, .fn = set_engine, .off = JOB(engine), .arg = "E",
     .bad = "%s: expected jit, jit-O0..jit-O3 or emulator (or fmtdata), got \"%s\"",
     .help = "full evaluations: jit (default, -O2), jit-O0..jit-O3\n"
             "or emulator"},
    {.name = "sample-engine", .kind = GEN_OPT_FN, .fn = set_sample_engine,
     .off = JOB(sample_engine), .arg = "E",
     .bad = "%s: expected fmtdata, jit, jit-O0..jit-O3 or emulator, got \"%s\"",
     .help = "the R^2 runs: fmtdata (default: formats as run-time\n"
             "data, compiled once per network; configurations outside\n"
             "its scope take jit), jit (compiled per configuration at\n"
             "-O0), jit-O1..3 or emulator; the engines agree bit for bit"},
    {.name = "first", COUNT(GEN_OPT_I64, 0, 1099511627776), .off = JOB(opts.first), .arg = "N",
     .help = "the slice starts after the first N samples (default 0)"},
    {.name = "limit", COUNT(GEN_OPT_I64, 1, 1099511627776), .off = JOB(opts.limit), .arg = "N",
     .help = "the slice's size (default: all the rest)"},
    {.name = "samples", .kind = GEN_OPT_FN, .fn = set_samples, .off = JOB(opts.samples),
     .arg = "N", .bad = "%s: expected an integer from 1 to 1099511627776, got \"%s\"",
     .help = "inputs of the fast method's R^2 (default 10)"},
    {.name = "grid", .kind = GEN_OPT_FN, .fn = set_grid, .off = JOB(grid_kind), .arg = "G",
     .bad = "%s: expected both, float, fixed, scaled or all, got \"%s\"",
     .help = "both (default), float or fixed; scaled: the scaled formats\n"
             "(MX presets and blocks of 16/32/64, NVFP4, int8/int4 per\n"
             "channel with dynamic or calibrated (+cal) activations,\n"
             "int8/int4 blocks), each with its own rne and block mac\n"
             "(calibrated ones run in the emulator); all: both and scaled"},
    {RANGE("exp", exp_lo), .label = "--exp A:B --man A:B ",
     .help = "float exponent and mantissa bits (default 2:8, 1:23)"},
    {RANGE("man", man_lo)},
    {RANGE("int", int_lo), .label = "--int A:B --frac A:B",
     .help = "fixed qI.F integer and fraction bits (default 1:12, 0:15)"},
    {RANGE("frac", frac_lo)},
    {.name = "float-variant", .kind = GEN_OPT_CHARS, .hi = sizeof ((nr_search_grid *)0)->float_variant,
     .off = JOB(grid.float_variant), .arg = "S",
     .help = "modifiers of the float formats (default -nosub-finite-sat)"},
    {.name = "rounding", .kind = GEN_OPT_FN, .fn = gen_opts_rounding, .off = JOB(opts.rounding),
     .arg = "MODE", .bad = "%s: expected rne, rna, rz, ru, rd, rto or sr, got \"%s\"",
     .help = "rounding of every operation (default rz)"},
    {.name = "predictor", PATH_ROW(predictor), .arg = "FILE",
     .help = "R^2 -> accuracy model (default: the latest fit in the\n"
             "database, else " DEFAULT_PREDICTOR ")"},
    {.name = "stop-after", COUNT(GEN_OPT_I64, 0, 1099511627776), .off = JOB(opts.stop_after)},
    {0}}; /* stop-after: a test hook, undocumented */
#undef JOB
#undef FLAG
#undef PATH_ROW
#undef RANGE
#undef COUNT

int gen_search_job_takes(const char *name)
{
    return gen_opts_takes(gen_search_job_opts, name);
}

int gen_search_job_set(gen_search_job *j, const char *name, const char *s, nr_err *err)
{
    int takes = gen_search_job_takes(name);
    if (takes < 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "search", "unknown option %s", name);
    if (takes != (s != NULL))
        return gen_search_opt_bad(err, name, takes ? "needs a value" : "is a flag: it takes no value");
    return gen_opts_set_named(gen_search_job_opts, j, name, s, err);
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
        int rc = gen_fmtdata_cache_open(ctx, m, out, err);
        if (rc <= 0)
            return rc;
        /* outside its scope, or measured dearer: compiled per configuration */
        if (!ctx)
            return open_engine(NULL, "jit-O0", m, out, err);
        double t0 = gen_fmtdata_cache_cpu();
        nr_engine e;
        if ((rc = open_engine(NULL, "jit-O0", m, &e, err)))
            return rc;
        return gen_fmtdata_cache_wrap(ctx, &e, gen_fmtdata_cache_cpu() - t0, out, err);
    }
    if (strncmp(name, "jit", 3) == 0 && gen_plan_model_check(m, &gerr)) /* not in the generator */
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
    const char *rnd = nr_format_rounding_name(o->rounding), *mac = nr_prec_mac_name(o->mac);
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
    gen_fdcache *fdc = gen_fmtdata_cache_new();
    o->engine_ctx = fdc;
    rc = nr_search_run(j->net, ds, db, cfg, ncfg, o, &a->r, err);
    gen_fmtdata_cache_free(fdc);
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

void gen_search_json_str(FILE *f, const char *s)
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
    gen_search_json_str(f, a->network);
    fprintf(f, ", \"data\": ");
    gen_search_json_str(f, a->data);
    fprintf(f, ", \"method\": \"%s\", \"engine\": ",
            o->method == NR_SEARCH_EXHAUSTIVE ? "exhaustive" : "fast");
    gen_search_json_str(f, j->engine);
    fprintf(f, ", \"samples\": %lld, \"r2_inputs\": %d, \"configurations\": %d, ",
            (long long)r->n, o->no_r2 ? 0 : o->samples, r->nconfigs);
    json_num(f, "max_loss", o->max_loss);
    json_num(f, "fp32_top1", r->fp32_top1);
    fprintf(f, "\n \"found\": %s, \"chosen\": ", r->found ? "true" : "false");
    if (r->found)
        gen_search_json_str(f, r->chosen.name);
    else
        fprintf(f, "null");
    fprintf(f, ", ");
    json_num(f, "top1", r->top1);
    json_num(f, "normalized", r->norm_acc);
    json_num(f, "r2", r->r2);
    json_num(f, "predicted", r->predicted);
    fprintf(f, "\"predictor\": \"%s\", \"predictor_source\": ", nr_pred_model_name(o->predictor.model));
    gen_search_json_str(f, a->predictor);
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
    gen_search_json_str(f, j->db);
    if (r->per_layer_done) {
        fprintf(f, ",\n \"per_layer\": {\"layers\": ");
        gen_search_json_str(f, r->layers);
        fprintf(f, ", ");
        json_num(f, "normalized", r->pl_norm_acc);
        json_num(f, "speedup", r->pl_speedup);
        json_num(f, "gain", r->pl_gain);
        fprintf(f, "\"evals\": %d, \"computed\": %d}", r->pl_evals, r->pl_computed);
    }
    fprintf(f, ",\n \"precision_yaml\": ");
    if (a->precision)
        gen_search_json_str(f, a->precision);
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
