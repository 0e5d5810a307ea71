/* calibrate_job.c -- `numrep calibrate` as a library call (gen/cli/
 * cmd_calibrate.c and numrep.calibrate in python/ both call it): the
 * options by name, then the target model, its calibrated tensors, the data
 * set, nr_calibrate_run with the fp32 network in the JIT (or the emulator),
 * the precision file written and loaded back with the network, and the
 * answer as JSON.  Library code: never prints. */
#include "calibrate_job.h"
#include "search_job.h" /* gen_parse_count, gen_opt_*, gen_json_str */

#include "jit_engine.h"
#include "model.h"

#include <errno.h>
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

static const char *const names[] = {"net", "precision", "data", "samples", "first", "method",
                                    "out", "engine", "jobs", "rounding", "mac",
                                    "random-weights", "max-memory"};

int gen_cal_job_takes(const char *name)
{
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i]))
            return 1;
    return -1;
}

/* samples, first, jobs, random-weights, max-memory */
static int set_count(gen_cal_job *j, const char *name, const char *s, nr_err *err)
{
    long long v;
    if (!strcmp(name, "samples") || !strcmp(name, "first")) {
        long long lo = name[0] == 's';
        if (gen_parse_count(s, lo, 1ll << 40, &v))
            return gen_opt_bad(err, name, "expected %s integer, got \"%s\"",
                       lo ? "a positive" : "a non-negative", s);
        *(name[0] == 's' ? &j->samples : &j->first) = v;
    } else if (!strcmp(name, "jobs")) {
        if (gen_parse_count(s, 1, 256, &j->jobs))
            return gen_opt_bad(err, name, "expected an integer from 1 to 256, got \"%s\"", s);
    } else {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-')
            return gen_opt_bad(err, name, "expected an unsigned integer, got \"%s\"", s);
        if (!strcmp(name, "max-memory"))
            j->mo.max_memory = u;
        else
            j->mo.random_seed = u ? u : 1; /* as the command line: 0 counts as 1 */
    }
    return 0;
}

int gen_cal_job_set(gen_cal_job *j, const char *name, const char *s, nr_err *err)
{
    if (gen_cal_job_takes(name) < 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "calibrate", "unknown option %s", name);
    if (!s)
        return gen_opt_bad(err, name, "needs a value");
    if (!strcmp(name, "net"))
        return gen_opt_copy(j->net, sizeof j->net, name, s, err);
    if (!strcmp(name, "precision"))
        return gen_opt_copy(j->prec, sizeof j->prec, name, s, err);
    if (!strcmp(name, "data"))
        return gen_opt_copy(j->data, sizeof j->data, name, s, err);
    if (!strcmp(name, "out"))
        return gen_opt_copy(j->out, sizeof j->out, name, s, err);
    if (!strcmp(name, "engine")) {
        if (strcmp(s, "jit") && strcmp(s, "emulator"))
            return gen_opt_bad(err, name, "expected jit or emulator, got \"%s\"", s);
        snprintf(j->engine, sizeof j->engine, "%s", s);
    } else if (!strcmp(name, "method")) {
        nr_cal_method m;
        double p;
        nr_err e = {0};
        if (nr_cal_method_parse(s, &m, &p, &e))
            return gen_opt_bad(err, name, "%s", e.msg);
        nr_cal_method_name(m, p, j->method, sizeof j->method);
    } else if (!strcmp(name, "rounding")) {
        nr_err e = {0};
        if (nr_rounding_parse(s, &j->mo.rounding, &e))
            return gen_opt_bad(err, name, "expected rne, rna, rz, ru, rd, rto or sr, got \"%s\"", s);
        j->mo.set_rounding = 1;
    } else if (!strcmp(name, "mac")) {
        if (nr_mac_parse(s, &j->mo.mac))
            return gen_opt_bad(err, name, "expected unfused, fused, exact, block-fp32 or block-exact, "
                                  "got \"%s\"", s);
        j->mo.set_mac = 1;
    } else
        return set_count(j, name, s, err);
    return 0;
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
    nr_calibration_free(&a->cal);
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
        gen_json_str(f, val[i]);
    }
    fprintf(f, ", \"first\": %lld, \"samples\": %lld, ", (long long)c->first,
            (long long)c->samples);
    json_double(f, "seconds", c->seconds, ",\n \"tensors\": [");
    for (int i = 0; i < c->ntensors; i++) {
        const nr_cal_tensor *t = &c->t[i];
        char fmt[128] = "";
        nr_scaled_name(&t->fmt, fmt, sizeof fmt);
        fprintf(f, "%s{\"name\": ", i ? ",\n  " : "\n  ");
        gen_json_str(f, t->name);
        fprintf(f, ", \"layer\": %d, \"format\": ", t->layer);
        gen_json_str(f, fmt);
        fprintf(f, ", \"count\": %llu, ", (unsigned long long)t->count);
        json_double(f, "amax", t->amax, ", ");
        json_double(f, "threshold", t->threshold, ", ");
        json_double(f, "scale", t->scale, "}");
    }
    fprintf(f, "],\n \"precision_yaml\": ");
    gen_json_str(f, a->yaml ? a->yaml : "");
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
