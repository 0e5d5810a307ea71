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

typedef struct cal_opts {
    gen_cal_job j;
    int no_progress;
} cal_opts;

static const gen_opt cal_table[] = {
    {.kind = GEN_OPT_TABLE, .sub = gen_cal_job_opts, .off = offsetof(cal_opts, j)},
    {.name = "no-progress", .kind = GEN_OPT_FLAG, .off = offsetof(cal_opts, no_progress),
     .help = "no progress on stderr"},
    {0}};

static const cli_cmd cal_cmd = {
    .name = "calibrate",
    .opts = cal_table,
    .npos = 1,
    .extra = cli_opts_extra_net,
    .usage =
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
        "\n",
    .usage_end = "\nexit status: 0 ok, 1 error, 2 usage error\n",
};

/* A refused option of the job as a usage error (exit status 2). */
static int usage_error(const nr_err *e)
{
    if (e->where[0] == '-')
        return cli_usage("calibrate", "%s: %s", e->where, e->msg);
    return cli_usage("calibrate", "%s", e->msg);
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
    cal_opts o = {0};
    gen_cal_job_init(&o.j);
    const char *net = NULL;
    nr_err e = {0};
    int rc = cli_opts_parse(&cal_cmd, argc, argv, &o, &net);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (net && gen_cal_job_set(&o.j, "net", net, &e))
        return usage_error(&e);
    if (gen_cal_job_check(&o.j, &e))
        return usage_error(&e);
    return run(&o.j, !o.no_progress);
}
