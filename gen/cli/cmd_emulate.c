/* cmd_emulate.c -- `numrep emulate`: run a network spec on .npy inputs with
 * the reference emulator (runtime/emu/emulator.c).  stdout carries only the
 * results; statistics and traces go to stderr so they never mix with data. */
#include "cli.h"
#include "emulator.h"
#include "model.h"
#include "tensorio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct emulate_opts {
    const char *input, *output, *trace;
    int stats;
    cli_model_args model;
} emulate_opts;

static const gen_opt emulate_table[] = {
    {.kind = GEN_OPT_TABLE, .sub = cli_model_opts, .off = offsetof(emulate_opts, model)},
    CLI_INPUT_OUTPUT_ROWS(emulate_opts),
    {.name = "stats", .kind = GEN_OPT_FLAG, .off = offsetof(emulate_opts, stats),
     .help = "per-layer counts of overflowed/saturated, flushed-to-zero\n"
             "and NaN results (stderr)"},
    {.name = "trace", .kind = GEN_OPT_STR, .off = offsetof(emulate_opts, trace),
     .arg = "LAYER:I",
     .help = "print the running sum of output element I (flat index, or\n"
             "C,H,W) of LAYER term by term, for every sample (stderr)"},
    {0}};

static const cli_cmd emulate_cmd = {
    .name = "emulate",
    .opts = emulate_table,
    .npos = 1,
    .extra = cli_opts_extra_net,
    .usage = "usage: numrep emulate NET.yaml [-p PREC.yaml|FMT] [--rounding M] [--mac M]\n"
             "                      --input X.npy [-o Y.npy]\n"
             "                      [--stats] [--trace LAYER:INDEX] [--random-weights SEED]\n"
             "                      [--max-memory BYTES]\n"
             "\n"
             "Run the network with the reference emulator, under the arithmetic of\n"
             "docs/semantics.md ([net-*]).\n"
             "\n",
    .usage_end = "\nexit status: 0 ok, 1 error, 2 usage error\n",
};

/* LAYER:INDEX, INDEX flat or C,H,W.  The layer name may itself hold ':'
 * (not in our specs, but names are free text), so split at the last one. */
static int parse_trace(const nr_model *m, const char *arg, nr_emu_opts *o)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg)
        return cli_usage("emulate", "--trace: expected LAYER:INDEX, got \"%s\"", arg);
    char name[NR_NAME_MAX];
    size_t len = (size_t)(colon - arg);
    if (len >= sizeof name)
        return cli_usage("emulate", "--trace: layer name too long");
    memcpy(name, arg, len);
    name[len] = 0;
    int li = nr_model_find(m, name);
    if (li < 0)
        return cli_usage("emulate", "--trace: no layer \"%s\" in the network", name);
    const int *sh = m->layers[li].out_shape;
    long long c[3];
    char tail;
    int k = sscanf(colon + 1, "%lld,%lld,%lld%c", &c[0], &c[1], &c[2], &tail);
    int64_t idx;
    if (k == 3) {
        for (int a = 0; a < 3; a++)
            if (c[a] < 0 || c[a] >= sh[a])
                return cli_usage("emulate", "--trace: %s has shape [%d,%d,%d], got [%lld,%lld,%lld]",
                                 name, sh[0], sh[1], sh[2], c[0], c[1], c[2]);
        idx = (c[0] * sh[1] + c[1]) * sh[2] + c[2];
    } else {
        uint64_t v;
        if (cli_parse_u64(colon + 1, &v))
            return cli_usage("emulate", "--trace: expected INDEX or C,H,W after ':', got \"%s\"",
                             colon + 1);
        if (v >= nr_shape_count(sh))
            return cli_usage("emulate", "--trace: %s has %zu values, index %llu is out of range",
                             name, nr_shape_count(sh), (unsigned long long)v);
        idx = (int64_t)v;
    }
    o->trace = stderr;
    o->trace_layer = li;
    o->trace_index = idx;
    return 0;
}

int cmd_emulate(int argc, char **argv)
{
    const char *net = NULL;
    emulate_opts o = {0};
    int rc = cli_opts_parse(&emulate_cmd, argc, argv, &o, &net);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!net)
        return cli_usage("emulate", "missing NET.yaml");
    if (!o.input)
        return cli_usage("emulate", "missing --input X.npy");
    cli_model_args ma = o.model;
    const char *output = o.output, *trace = o.trace;
    int stats_on = o.stats;

    nr_err err = {0};
    nr_model *m = NULL;
    float *x = NULL, *y = NULL;
    nr_emu_stats stats = {0};
    int status = 1;
    int64_t n = 0;
    ma.net = net;
    ma.input = o.input;
    if (cli_load_with_input(&ma, &x, &n, &m, &err))
        goto fail;
    nr_emu_opts opts = {.trace = NULL, .trace_layer = -1};
    if (trace && (status = parse_trace(m, trace, &opts)))
        goto done;
    status = 1;

    const int *osh = m->layers[m->output].out_shape;
    size_t k = nr_shape_count(osh);
    y = malloc((size_t)n * k * sizeof *y);
    if (!y) {
        nr_err_set(&err, NR_ENOMEM, NULL, 0, 0, "emulate", "out of memory for %lld outputs",
                   (long long)n);
        goto fail;
    }
    if (stats_on && nr_emu_stats_init(&stats, m, &err))
        goto fail;
    if (nr_emulate(m, x, (int)n, y, stats_on ? &stats : NULL, &opts, &err))
        goto fail;
    if (stats_on)
        nr_emu_stats_print(&stats, m, stderr, 0);
    if (output) {
        int64_t oshape[4] = {n, osh[0], osh[1], osh[2]};
        int ond = osh[1] == 1 && osh[2] == 1 ? 2 : 4;
        if (nr_npy_write_f32(output, y, oshape, ond, &err))
            goto fail;
    } else {
        cli_print_rows(y, (int)n, k);
    }
    status = 0;
    goto done;
fail:
    status = cli_error(&err);
done:
    nr_emu_stats_free(&stats);
    free(x);
    free(y);
    nr_model_free(m);
    return status;
}
