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

static const char usage_text[] =
    "usage: numrep run NET.yaml [-p PREC.yaml|FMT] [--rounding M] [--mac M]\n"
    "                  --input X.npy [-o Y.npy]\n"
    "                  [--random-weights SEED] [-O0|-O1|-O2|-O3] [--emit-ir FILE]\n"
    "                  [--max-memory BYTES]\n"
    "                  [--pack dense|container]\n"
    "\n"
    "Compile the network to native code (LLVM JIT) and run it.  Results are bit\n"
    "for bit those of 'numrep emulate' (docs/semantics.md, [net-*]).\n"
    "\n"
    CLI_MODEL_OPTIONS_HELP
    "  --input X.npy      float32 (or float64) [N,C,H,W] or [C,H,W]\n"
    "  -o Y.npy           write the output layer as float32 [N,K] (dense) or\n"
    "                     [N,C,H,W]; without -o, print one sample per line\n"
    "  -O0..-O3           LLVM optimisation level (default -O2)\n"
    "  --emit-ir FILE     also write the optimised LLVM IR to FILE\n"
    "  --pack KIND        weights in containers (default) or dense: odd widths\n"
    "                     bit-packed, as `numrep build --pack dense` stores them\n"
    "\n"
    "exit status: 0 ok, 1 error, 2 usage error\n";

/* --emit-ir: the same module, emitted separately (the JIT consumes its own). */
static int write_ir(const nr_model *m, const gen_model_opts *o, const char *path, nr_err *err)
{
    gen_ctx *g = NULL;
    gen_weights w;
    int rc = gen_model_emit(m, o, &g, &w, err);
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
    gen_weights_free(&w);
    gen_emit_free(g);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    const char *net = NULL, *input = NULL, *output = NULL, *ir = NULL;
    cli_model_args ma = {0};
    gen_model_opts opts = {.opt_level = 2};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc, mo = cli_model_option("run", argc, argv, &i, &ma);
        if (mo == 1)
            continue;
        if (mo)
            return mo;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--input") || !strcmp(a, "-o") || !strcmp(a, "--emit-ir") ||
                   !strcmp(a, "--pack")) {
            if (!more)
                return cli_usage("run", "%s needs an argument", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--input"))
                input = v;
            else if (!strcmp(a, "-o"))
                output = v;
            else if (!strcmp(a, "--emit-ir"))
                ir = v;
            else {
                if (strcmp(v, "dense") && strcmp(v, "container"))
                    return cli_usage("run", "--pack: expected dense or container, got \"%s\"", v);
                opts.pack_dense = !strcmp(v, "dense");
            }
        } else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) {
            opts.opt_level = a[2] - '0';
        } else if (a[0] == '-' && a[1]) {
            return cli_usage("run", "unknown option %s", a);
        } else if (!net) {
            net = a;
        } else {
            return cli_usage("run", "unexpected argument \"%s\" (one NET.yaml only)", a);
        }
    }
    if (!net)
        return cli_usage("run", "missing NET.yaml");
    if (!input)
        return cli_usage("run", "missing --input X.npy");

    nr_err err = {0};
    nr_model *m = NULL;
    float *x = NULL, *y = NULL;
    gen_compiled *c = NULL;
    int status = 1;
    int64_t n = 0;
    ma.net = net;
    ma.input = input;
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
