/* cmd_run.c -- `numrep run`: compile a network with the JIT (model_jit.c)
 * and run it on .npy inputs.  stdout carries only the results, in exactly
 * `numrep emulate`'s format, so the two can be diffed; messages go to
 * stderr. */
#include "cli.h"
#include "plan.h"
#include "tensorio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_opts {
    const char *input, *output, *ir;
    int pack, opt;
    cli_model_args model;
} run_opts;

static const gen_opt run_table[] = {
    {.kind = GEN_OPT_TABLE, .sub = cli_model_opts, .off = offsetof(run_opts, model)},
    CLI_INPUT_OUTPUT_ROWS(run_opts),
    {.shrt = 'O', .attached = 1, .kind = GEN_OPT_CHOICE, .choices = "0|1|2|3",
     .off = offsetof(run_opts, opt), .label = "-O0..-O3",
     .help = "LLVM optimisation level (default -O2)"},
    {.name = "emit-ir", .kind = GEN_OPT_STR, .off = offsetof(run_opts, ir), .arg = "FILE",
     .help = "also write the optimised LLVM IR to FILE"},
    {.name = "pack", .kind = GEN_OPT_CHOICE, .choices = "container|dense",
     .off = offsetof(run_opts, pack), .arg = "KIND",
     .bad = "%s: expected dense or container, got \"%s\"",
     .help = "weights in containers (default) or dense: odd widths\n"
             "bit-packed, as `numrep build --pack dense` stores them"},
    {0}};

static const cli_cmd run_cmd = {
    .name = "run",
    .opts = run_table,
    .npos = 1,
    .extra = cli_opts_extra_net,
    .usage = "usage: numrep run NET.yaml [-p PREC.yaml|FMT] [--rounding M] [--mac M]\n"
             "                  --input X.npy [-o Y.npy]\n"
             "                  [--random-weights SEED] [-O0|-O1|-O2|-O3] [--emit-ir FILE]\n"
             "                  [--max-memory BYTES]\n"
             "                  [--pack dense|container]\n"
             "\n"
             "Compile the network to native code (LLVM JIT) and run it.  Results are bit\n"
             "for bit those of 'numrep emulate' (docs/semantics.md, [net-*]).\n"
             "\n",
    .usage_end = "\nexit status: 0 ok, 1 error, 2 usage error\n",
};

/* --emit-ir: the same module, emitted separately (the JIT consumes its own). */
static int write_ir(const nr_model *m, const gen_model_opts *o, const char *path, nr_err *err)
{
    gen_ctx *g = NULL;
    gen_weights w;
    int rc = gen_emit_model(m, o, &g, &w, err);
    if (rc)
        return rc;
    char *text = gen_emit_print(g);
    FILE *f = fopen(path, "w");
    if (!f || !text || fputs(text, f) < 0 || fclose(f)) {
        if (f)
            fclose(f);
        rc = nr_err_set(err, NR_EIO, path, 0, 0, "--emit-ir", "cannot write: %s", strerror(errno));
    }
    if (text)
        LLVMDisposeMessage(text);
    gen_plan_weights_free(&w);
    gen_emit_free(g);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    const char *net = NULL;
    run_opts o = {.opt = 2};
    int rc = cli_opts_parse(&run_cmd, argc, argv, &o, &net);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!net)
        return cli_usage("run", "missing NET.yaml");
    if (!o.input)
        return cli_usage("run", "missing --input X.npy");
    gen_model_opts opts = {.opt_level = o.opt, .pack_dense = o.pack};
    cli_model_args ma = o.model;
    const char *output = o.output, *ir = o.ir;

    nr_err err = {0};
    nr_model *m = NULL;
    float *x = NULL, *y = NULL;
    gen_compiled *c = NULL;
    int status = 1;
    int64_t n = 0;
    ma.net = net;
    ma.input = o.input;
    if (cli_load_with_input(&ma, &x, &n, &m, &err))
        goto fail;
    if (ir && write_ir(m, &opts, ir, &err))
        goto fail;
    if (gen_model_compile(m, &opts, &c, &err))
        goto fail;
    const int *osh = m->layers[m->output].out_shape;
    size_t k = nr_shape_count(osh);
    y = malloc((size_t)n * k * sizeof *y);
    if (!y) {
        nr_err_set(&err, NR_ENOMEM, NULL, 0, 0, "run", "out of memory for %lld outputs",
                   (long long)n);
        goto fail;
    }
    if (nr_model_takes_ids(m) && nr_model_lm_check_ids(m, x, (int)n, 0, &err)) /* [op-embedding] */
        goto fail;
    if (gen_compiled_run(c, x, y, (int)n, &err))
        goto fail;
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
    gen_compiled_free(c);
    free(x);
    free(y);
    nr_model_free(m);
    return status;
}
