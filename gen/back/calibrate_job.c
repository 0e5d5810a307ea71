/* calibrate_job.c -- `numrep calibrate` as a library call (gen/cli/
 * cmd_calibrate.c and numrep.calibrate in python/ both call it): the
 * options by name, then the target model, its calibrated tensors, the data
 * set, nr_calibrate_run with the fp32 network in the JIT (or the emulator),
 * the precision file written and loaded back with the network, and the
 * answer as JSON.  Library code: never prints. */
#include "calibrate_job.h"
#include "search_job.h" /* gen_search_opt_bad, gen_search_json_str */

#include "jit_engine.h"
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gen_cal_job_init(gen_cal_job *j)
{
    memset(j, 0, sizeof *j);
    snprintf(j->engine, sizeof j->engine, "jit");
    snprintf(j->method, sizeof j->method, "amax");
    j->jobs = 1;
    nr_model_opts_init(&j->mo);
}

gen_cal_job *gen_cal_job_new(void)
{
    gen_cal_job *j = malloc(sizeof *j);
    if (j)
        gen_cal_job_init(j);
    return j;
}

void gen_cal_job_free(gen_cal_job *j)
{
    free(j);
}

void gen_cal_job_progress(gen_cal_job *j, nr_eval_progress_fn fn, void *ctx)
{
    j->progress = fn;
    j->progress_ctx = ctx;
}

/* ---------------------------------------------------------------- options */

/* method: nr_cal_method_parse's check, the canonical name into char[64]. */
static int set_method(void *dst, const char *s, nr_err *err)
{
    nr_cal_method m;
    double p;
    nr_err e = {0};
    if (nr_cal_method_parse(s, &m, &p, &e))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "", "%s", e.msg);
    nr_cal_method_name(m, p, dst, sizeof ((gen_cal_job *)0)->method);
    return 0;
}

static int set_engine(void *dst, const char *s, nr_err *err)
{
    (void)err;
    if (strcmp(s, "jit") && strcmp(s, "emulator"))
        return -1;
    snprintf(dst, sizeof ((gen_cal_job *)0)->engine, "%s", s);
    return 0;
}

#define PATH_ROW(field) .kind = GEN_OPT_CHARS, .hi = PATH_MAX, .off = offsetof(gen_cal_job, field)
const gen_opt gen_cal_job_opts[] = {
    {.name = "net", PATH_ROW(net)}, /* the positional NET.yaml */
    {.name = "precision", .shrt = 'p', PATH_ROW(prec), .label = "-p PREC",
     .help = "the precision to calibrate (a YAML file or a format name)"},
    {.name = "data", PATH_ROW(data), .arg = "DATASET",
     .help = "as numrep eval (default: the spec's `dataset:`)"},
    {.name = "samples", .kind = GEN_OPT_COUNT, .lo = 1, .hi = 1ll << 40,
     .off = offsetof(gen_cal_job, samples), .arg = "N",
     .bad = "%s: expected a positive integer, got \"%s\"",
     .help = "calibration samples (default 1000, or all when fewer)"},
    {.name = "first", .kind = GEN_OPT_COUNT, .lo = 0, .hi = 1ll << 40,
     .off = offsetof(gen_cal_job, first), .arg = "K",
     .bad = "%s: expected a non-negative integer, got \"%s\"",
     .help = "the first sample used (default 0)"},
    {.name = "method", .kind = GEN_OPT_FN, .fn = set_method, .off = offsetof(gen_cal_job, method),
     .arg = "M",
     .help = "amax (default): the largest |v| seen; percentile:P (e.g.\n"
             "percentile:99.99): the P-th percentile of |v|; mse: the scale\n"
             "minimizing the quantization error of the values seen"},
    {.name = "out", .shrt = 'o', PATH_ROW(out), .label = "-o CAL.yaml",
     .help = "the calibrated precision file to write"},
    {.name = "engine", .kind = GEN_OPT_FN, .fn = set_engine, .off = offsetof(gen_cal_job, engine),
     .arg = "E", .bad = "%s: expected jit or emulator, got \"%s\"",
     .help = "jit (default) or emulator: runs the fp32 network (same values)"},
    {.name = "jobs", .kind = GEN_OPT_COUNT, .lo = 1, .hi = 256, .off = offsetof(gen_cal_job, jobs),
     .arg = "N", .bad = "%s: expected an integer from 1 to 256, got \"%s\"",
     .help = "threads (default 1)"},
    {.kind = GEN_OPT_TABLE, .sub = gen_opts_model, .off = offsetof(gen_cal_job, mo),
     .label = "--rounding, --mac, --random-weights, --max-memory: as numrep eval", .help = ""},
    {0}};
#undef PATH_ROW

int gen_cal_job_takes(const char *name)
{
    return gen_opts_takes(gen_cal_job_opts, name);
}

int gen_cal_job_set(gen_cal_job *j, const char *name, const char *s, nr_err *err)
{
    if (gen_cal_job_takes(name) < 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "calibrate", "unknown option %s", name);
    if (!s)
        return gen_search_opt_bad(err, name, "needs a value");
    return gen_opts_set_named(gen_cal_job_opts, j, name, s, err);
}

int gen_cal_job_check(const gen_cal_job *j, nr_err *err)
{
    if (!j->net[0])
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "calibrate", "missing NET.yaml");
    if (!j->prec[0])
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "calibrate",
                          "missing -p PREC (the precision to calibrate, e.g. int8@channel)");
    if (!j->out[0])
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "calibrate",
                          "missing -o CAL.yaml (the file to write)");
    return 0;
}

/* ---------------------------------------------------------------- running */

static int open_engine(void *ctx, const char *name, const nr_model *m, nr_engine *out,
                       nr_err *err)
{
    (void)ctx;
    return gen_engine_open(name, m, out, err);
}

/* The file's text: a header saying how it was made, then the precision. */
static int calibrated_text(const gen_cal_job *j, gen_cal_answer *a, const nr_model *target,
                           nr_err *err)
{
    char header[3 * PATH_MAX + 512];
    snprintf(header, sizeof header,
             "# numrep calibrate %s -p %s --data %s --samples %lld --first %lld --method %s\n"
             "# %d tensors with static activation scales (docs/semantics.md [scl-cal-*]),\n"
             "# from the fp32 network's activations (engine %s)\n",
             j->net, j->prec, a->data, (long long)a->cal.samples, (long long)a->cal.first,
             a->method, a->cal.ntensors, a->cal.engine);
    return (a->yaml = nr_calibrate_yaml(target, &a->cal, header, err)) ? 0 : -err->code;
}

static int write_file(const char *path, const char *text, nr_err *err)
{
    FILE *f = fopen(path, "w");
    int bad_write = !f || fputs(text, f) < 0;
    if (f && fclose(f))
        bad_write = 1;
    if (bad_write)
        return nr_err_set(err, NR_EIO, path, 0, 0, "-o", "cannot write the calibrated precision");
    return 0;
}

int gen_cal_job_run(gen_cal_job *j, gen_cal_answer *a, nr_err *err)
{
    memset(a, 0, sizeof *a);
    int rc = gen_cal_job_check(j, err);
    if (rc)
        return rc;
    nr_model *target = NULL, *check = NULL;
    nr_dataset *ds = NULL;
    nr_cal_opts o;
    nr_cal_opts_init(&o);
    if ((rc = nr_cal_method_parse(j->method, &o.method, &o.percentile, err)))
        return rc;
    nr_cal_method_name(o.method, o.percentile, a->method, sizeof a->method);
    if ((rc = nr_calibrate_load(j->net, j->prec, &j->mo, &target, err)) ||
        (rc = nr_calibrate_tensors(target, &a->cal, err)))
        goto done;
    const char *data = j->data[0] ? j->data : target->spec->dataset;
    if (!data[0]) {
        rc = nr_err_set(err, NR_ERANGE, NULL, 0, 0, "calibrate",
                        "missing --data DATASET (the spec names no `dataset:`)");
        goto done;
    }
    snprintf(a->data, sizeof a->data, "%s", data);
    nr_dataset_opts dopt;
    nr_dataset_opts_init(&dopt);
    dopt.pp = target->spec->pp;
    if ((rc = nr_dataset_open(a->data, &dopt, &ds, err)))
        goto done;
    o.samples = j->samples, o.first = j->first, o.jobs = (int)j->jobs;
    o.engine = j->engine, o.engine_open = open_engine;
    o.random_seed = j->mo.random_seed;
    o.progress = j->progress, o.progress_ctx = j->progress_ctx;
    if ((rc = nr_calibrate_run(target, ds, &o, &a->cal, err)) ||
        (rc = calibrated_text(j, a, target, err)) || (rc = write_file(j->out, a->yaml, err)))
        goto done;
    /* the file must load: the same network in it, every scale bound */
    rc = nr_model_load_opts(j->net, j->out, &j->mo, &check, err);
done:
    nr_model_free(check);
    nr_model_free(target);
    nr_dataset_close(ds);
    return rc;
}

void gen_cal_answer_free(gen_cal_answer *a)
{
    free(a->yaml);
    a->yaml = NULL;
    nr_cal_calibration_free(&a->cal);
}

/* ---------------------------------------------------------------- JSON */

/* %.17g reads back to the same double (scales are exact values); null for
 * a NaN or infinity. */
static void json_double(FILE *f, const char *key, double v, const char *sep)
{
    if (isfinite(v))
        fprintf(f, "\"%s\": %.17g%s", key, v, sep);
    else
        fprintf(f, "\"%s\": null%s", key, sep);
}

void gen_cal_answer_json(FILE *f, const gen_cal_job *j, const gen_cal_answer *a)
{
    const nr_calibration *c = &a->cal;
    const char *key[] = {"network", "precision", "data", "out", "method", "engine"};
    const char *val[] = {j->net, j->prec, a->data, j->out, a->method, c->engine};
    for (int i = 0; i < 6; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "{", key[i]);
        gen_search_json_str(f, val[i]);
    }
    fprintf(f, ", \"first\": %lld, \"samples\": %lld, ", (long long)c->first,
            (long long)c->samples);
    json_double(f, "seconds", c->seconds, ",\n \"tensors\": [");
    for (int i = 0; i < c->ntensors; i++) {
        const nr_cal_tensor *t = &c->t[i];
        char fmt[128] = "";
        nr_scaled_name(&t->fmt, fmt, sizeof fmt);
        fprintf(f, "%s{\"name\": ", i ? ",\n  " : "\n  ");
        gen_search_json_str(f, t->name);
        fprintf(f, ", \"layer\": %d, \"format\": ", t->layer);
        gen_search_json_str(f, fmt);
        fprintf(f, ", \"count\": %llu, ", (unsigned long long)t->count);
        json_double(f, "amax", t->amax, ", ");
        json_double(f, "threshold", t->threshold, ", ");
        json_double(f, "scale", t->scale, "}");
    }
    fprintf(f, "],\n \"precision_yaml\": ");
    gen_search_json_str(f, a->yaml ? a->yaml : "");
    fprintf(f, "}\n");
}

char *gen_cal_job_json(gen_cal_job *j, nr_err *err)
{
    gen_cal_answer *a = calloc(1, sizeof *a);
    if (!a) {
        nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibrate", "out of memory");
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    if (gen_cal_job_run(j, a, err) == 0) {
        FILE *f = open_memstream(&text, &len);
        if (f) {
            gen_cal_answer_json(f, j, a);
            if (fclose(f)) {
                free(text);
                text = NULL;
            }
        }
        if (!text)
            nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibrate", "out of memory");
    }
    gen_cal_answer_free(a);
    free(a);
    return text;
}
