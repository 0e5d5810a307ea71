/* cmd_calibrate.c -- `numrep calibrate`: static activation scales
 * ([scl-cal-*]) from the fp32 network's activations on calibration data,
 * written as a precision file that `-p CAL.yaml` then uses.  The work is
 * runtime/study/calibrate*.c, run by gen/back/calibrate_job.c (also what
 * numrep.calibrate in python/ calls); this parses the options into the job,
 * shows progress and prints the summary. */
#include "calibrate_job.h"
#include "cli.h"

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
    "static (rule static) and every scale filled in under `scales:`.  nvfp4\n"
    "activations get a static fp32 tensor scale (their ue4m3 block scales stay\n"
    "dynamic; no mse); other block activations stay dynamic.  `-p CAL.yaml` then\n"
    "uses the scales.\n"
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

/* A refused option of the job as a usage error (exit status 2). */
static int usage_error(const nr_err *e)
{
    if (e->where[0] == '-')
        return cli_usage("calibrate", "%s: %s", e->where, e->msg);
    return cli_usage("calibrate", "%s", e->msg);
}

/* The model options (-p, --rounding, --mac, --random-weights, --max-memory,
 * parsed as every command does) into the job. */
static void take_model_args(const cli_model_args *ma, gen_cal_job *j)
{
    if (ma->prec)
        snprintf(j->prec, sizeof j->prec, "%s", ma->prec);
    j->mo.random_seed = ma->have_seed ? (ma->seed ? ma->seed : 1) : 0;
    j->mo.max_memory = ma->max_memory;
    j->mo.set_rounding = ma->have_rounding, j->mo.rounding = (nr_rounding)ma->rounding;
    j->mo.set_mac = ma->have_mac, j->mo.mac = (nr_mac_mode)ma->mac;
}

static int run(gen_cal_job *j, int progress)
{
    nr_err err = {0};
    cli_progress prog;
    cli_progress_init(&prog, progress, "img");
    prog.at = "calibrate";
    gen_cal_job_progress(j, cli_progress_cb, &prog);
    gen_cal_answer a;
    int status = 0;
    if (gen_cal_job_run(j, &a, &err))
        status = err.code == NR_ERANGE && !strcmp(err.where, "calibrate") ? usage_error(&err)
                                                                          : cli_error(&err);
    else
        fprintf(stderr,
                "numrep calibrate: %d tensors, %s over %lld samples in %.2f s (%s); wrote %s\n",
                a.cal.ntensors, a.method, (long long)a.cal.samples, a.cal.seconds, a.cal.engine,
                j->out);
    gen_cal_answer_free(&a);
    return status;
}

int cmd_calibrate(int argc, char **argv)
{
    gen_cal_job j;
    gen_cal_job_init(&j);
    cli_model_args ma = {0};
    int progress = 1;
    nr_err e = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int mo = cli_model_option("calibrate", argc, argv, &i, &ma);
        if (mo == 1)
            continue;
        if (mo)
            return mo;
        const char *name = !strcmp(a, "-o") ? "out" : !strncmp(a, "--", 2) ? a + 2 : "";
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--no-progress")) {
            progress = 0;
        } else if (gen_cal_job_takes(name) == 1 && strcmp(name, "net")) {
            if (i + 1 >= argc)
                return cli_usage("calibrate", "%s needs an argument", a);
            if (gen_cal_job_set(&j, name, argv[++i], &e))
                return usage_error(&e);
        } else if (a[0] == '-' && a[1]) {
            return cli_usage("calibrate", "unknown option %s", a);
        } else if (!j.net[0]) {
            if (gen_cal_job_set(&j, "net", a, &e))
                return usage_error(&e);
        } else {
            return cli_usage("calibrate", "unexpected argument \"%s\" (one NET.yaml only)", a);
        }
    }
    take_model_args(&ma, &j);
    if (gen_cal_job_check(&j, &e))
        return usage_error(&e);
    return run(&j, progress);
}
