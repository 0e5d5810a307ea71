/* cmd_calibrate.c -- `numrep calibrate`: static activation scales
 * ([scl-cal-*]) from the fp32 network's activations on calibration data,
 * written as a precision file that `-p CAL.yaml` then uses.  The work is
 * runtime/study/calibrate*.c; this parses options, runs the fp32 model in
 * the JIT (or the emulator), writes the file and checks that it loads. */
#include "calibrate.h"
#include "cli.h"
#include "jit_engine.h"
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: numrep calibrate NET.yaml -p PREC.yaml|FMT [--data DATASET] [--samples N]\n"
    "                        [--first K] [--method amax|percentile:P|mse] -o CAL.yaml\n"
    "                        [--engine jit|emulator] [--jobs N] [--rounding M] [--mac M]\n"
    "                        [--random-weights SEED] [--max-memory BYTES] [--no-progress]\n"
    "\n"
    "Static activation scales (docs/semantics.md [scl-cal-*]): runs the fp32 network\n"
    "over calibration samples, collects per-tensor statistics of every activation\n"
    "that PREC quantizes per tensor (e.g. -p int8@channel: int8 per-channel weights,\n"
    "int8 per-tensor activations), and writes PREC with those activations made\n"
    "static (rule static) and every scale filled in under `scales:`.  Block and\n"
    "nvfp4 activations stay dynamic.  `-p CAL.yaml` then uses the scales.\n"
    "\n"
    "  -p PREC            the precision to calibrate (a YAML file or a format name)\n"
    "  --data DATASET     as numrep eval (default: the spec's `dataset:`)\n"
    "  --samples N        calibration samples (default 1000, or all when fewer)\n"
    "  --first K          the first sample used (default 0)\n"
    "  --method M         amax (default): the largest |v| seen; percentile:P (e.g.\n"
    "                     percentile:99.99): the P-th percentile of |v|; mse: the scale\n"
    "                     minimizing the quantization error of the values seen\n"
    "  -o CAL.yaml        the calibrated precision file to write\n"
    "  --engine E         jit (default) or emulator: runs the fp32 network (same values)\n"
    "  --jobs N           threads (default 1)\n"
    "  --rounding, --mac, --random-weights, --max-memory: as numrep eval\n"
    "  --no-progress      no progress on stderr\n"
    "\n"
    "exit status: 0 ok, 1 error, 2 usage error\n";

typedef struct cal_progress {
    cli_progress p;
} cal_progress;

static void progress_update(void *ctx, int64_t done, int64_t total)
{
    cli_progress_update(&((cal_progress *)ctx)->p, "calibrate", done, total);
}

static int open_engine(void *ctx, const char *name, const nr_model *m, nr_engine *out,
                       nr_err *err)
{
    (void)ctx;
    return gen_engine_open(name, m, out, err);
}

/* Options other than the model's: 1 taken, 0 not one, else the exit status. */
typedef struct cal_args {
    const char *net, *data, *out, *engine, *method;
    long long samples, first, jobs;
    int progress;
} cal_args;

static int take_option(int argc, char **argv, int *i, cal_args *c)
{
    const char *a = argv[*i];
    static const char *const valued[] = {"--data", "--samples", "--first", "--method",
                                         "-o", "--engine", "--jobs", NULL};
    int k = 0;
    while (valued[k] && strcmp(a, valued[k]))
        k++;
    if (!valued[k])
        return 0;
    if (*i + 1 >= argc)
        return cli_usage("calibrate", "%s needs an argument", a);
    const char *v = argv[++*i];
    switch (k) {
    case 0: c->data = v; break;
    case 1:
        if (cli_parse_count(v, 1, 1ll << 40, &c->samples))
            return cli_usage("calibrate", "--samples: expected a positive integer, got \"%s\"",
                             v);
        break;
    case 2:
        if (cli_parse_count(v, 0, 1ll << 40, &c->first))
            return cli_usage("calibrate",
                             "--first: expected a non-negative integer, got \"%s\"", v);
        break;
    case 3: c->method = v; break;
    case 4: c->out = v; break;
    case 5:
        if (strcmp(v, "jit") && strcmp(v, "emulator"))
            return cli_usage("calibrate", "--engine: expected jit or emulator, got \"%s\"", v);
        c->engine = v;
        break;
    default:
        if (cli_parse_count(v, 1, 256, &c->jobs))
            return cli_usage("calibrate", "--jobs: expected an integer from 1 to 256, got \"%s\"",
                             v);
    }
    return 1;
}

static int run(const cal_args *c, const cli_model_args *ma)
{
    nr_err err = {0};
    nr_model *target = NULL, *check = NULL;
    nr_dataset *ds = NULL;
    nr_calibration cal = {0};
    char *text = NULL;
    int status = 1;
    nr_cal_opts o;
    nr_cal_opts_init(&o);
    nr_model_opts mo;
    nr_model_opts_init(&mo);
    mo.random_seed = ma->have_seed ? (ma->seed ? ma->seed : 1) : 0;
    mo.max_memory = ma->max_memory;
    mo.set_rounding = ma->have_rounding, mo.rounding = (nr_rounding)ma->rounding;
    mo.set_mac = ma->have_mac, mo.mac = (nr_mac_mode)ma->mac;
    if (nr_cal_method_parse(c->method, &o.method, &o.percentile, &err)) {
        fprintf(stderr, "numrep calibrate: %s\n(see 'numrep calibrate --help')\n", err.msg);
        return 2;
    }
    if (nr_calibrate_load(c->net, ma->prec, &mo, &target, &err) ||
        nr_calibrate_tensors(target, &cal, &err))
        goto fail;
    const char *data = c->data ? c->data : target->spec->dataset;
    if (!data[0]) {
        status = cli_usage("calibrate", "missing --data DATASET (the spec names no `dataset:`)");
        goto done;
    }
    nr_dataset_opts dopt;
    nr_dataset_opts_init(&dopt);
    dopt.pp = target->spec->pp;
    if (nr_dataset_open(data, &dopt, &ds, &err))
        goto fail;
    o.samples = c->samples, o.first = c->first, o.jobs = (int)c->jobs;
    o.engine = c->engine, o.engine_open = open_engine;
    o.random_seed = mo.random_seed;
    cal_progress prog;
    cli_progress_init(&prog.p, c->progress, "img");
    o.progress = progress_update, o.progress_ctx = &prog;
    if (nr_calibrate_run(target, ds, &o, &cal, &err))
        goto fail;
    char mn[64], header[2048];
    nr_cal_method_name(cal.method, cal.percentile, mn, sizeof mn);
    snprintf(header, sizeof header,
             "# numrep calibrate %s -p %s --data %s --samples %lld --first %lld --method %s\n"
             "# %d tensors with static activation scales (docs/semantics.md [scl-cal-*]),\n"
             "# from the fp32 network's activations (engine %s)\n",
             c->net, ma->prec, data, (long long)cal.samples, (long long)cal.first, mn,
             cal.ntensors, cal.engine);
    if (!(text = nr_calibrate_yaml(target, &cal, header, &err)))
        goto fail;
    FILE *f = fopen(c->out, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) {
        nr_err_set(&err, NR_EIO, c->out, 0, 0, "-o", "cannot write the calibrated precision");
        goto fail;
    }
    /* the file must load: the same network in it, every scale bound */
    if (nr_model_load_opts(c->net, c->out, &mo, &check, &err))
        goto fail;
    fprintf(stderr,
            "numrep calibrate: %d tensors, %s over %lld samples in %.2f s (%s); wrote %s\n",
            cal.ntensors, mn, (long long)cal.samples, cal.seconds, cal.engine, c->out);
    status = 0;
    goto done;
fail:
    status = cli_error(&err);
done:
    free(text);
    nr_model_free(check);
    nr_model_free(target);
    nr_calibration_free(&cal);
    nr_dataset_close(ds);
    return status;
}

int cmd_calibrate(int argc, char **argv)
{
    cal_args c = {.engine = "jit", .method = "amax", .jobs = 1, .progress = 1};
    cli_model_args ma = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int mo = cli_model_option("calibrate", argc, argv, &i, &ma);
        if (mo == 1)
            continue;
        if (mo)
            return mo;
        int t = take_option(argc, argv, &i, &c);
        if (t == 1)
            continue;
        if (t)
            return t;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--no-progress")) {
            c.progress = 0;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage("calibrate", "unknown option %s", a);
        } else if (!c.net) {
            c.net = a;
        } else {
            return cli_usage("calibrate", "unexpected argument \"%s\" (one NET.yaml only)", a);
        }
    }
    if (!c.net)
        return cli_usage("calibrate", "missing NET.yaml");
    if (!ma.prec)
        return cli_usage("calibrate", "missing -p PREC (the precision to calibrate, e.g. "
                                      "int8@channel)");
    if (!c.out)
        return cli_usage("calibrate", "missing -o CAL.yaml (the file to write)");
    return run(&c, &ma);
}
