/* cli_util.c -- helpers shared by the numrep subcommands: number
 * arguments, loading a model (optionally with random weights), and the
 * text form of outputs that emulate, run and built executables all print. */
#include "cli.h"
#include "model.h"
#include "search_job.h"
#include "tensorio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || end == s || *end || *s == '-')
        return -1;
    *v = x;
    return 0;
}

int cli_parse_count(const char *s, long long lo, long long hi, long long *v)
{
    return gen_parse_count(s, lo, hi, v);
}

int cli_parse_bytes(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    static const char units[] = "KMGT";
    const char *u = *end ? strchr(units, *end) : NULL;
    if (*end && (!u || end[1]))
        return -1;
    for (int k = u ? (int)(u - units) + 1 : 0; k > 0; k--) {
        if (x > UINT64_MAX / 1024)
            return -1;
        x *= 1024;
    }
    *v = x;
    return 0;
}

int cli_model_option(const char *cmd, int argc, char **argv, int *i, cli_model_args *a)
{
    const char *o = argv[*i];
    if (strcmp(o, "-p") && strcmp(o, "--rounding") && strcmp(o, "--mac") &&
        strcmp(o, "--random-weights") && strcmp(o, "--max-memory"))
        return 0;
    if (*i + 1 >= argc)
        return cli_usage(cmd, "%s needs an argument", o);
    const char *v = argv[++*i];
    if (!strcmp(o, "-p")) {
        a->prec = v;
    } else if (!strcmp(o, "--rounding")) {
        nr_rounding r;
        nr_err e = {0};
        if (nr_rounding_parse(v, &r, &e))
            return cli_usage(cmd, "--rounding: %s", e.msg);
        a->rounding = (int)r;
        a->have_rounding = 1;
    } else if (!strcmp(o, "--mac")) {
        nr_mac_mode mm;
        if (nr_mac_parse(v, &mm))
            return cli_usage(cmd, "--mac: expected unfused, fused, exact, block-fp32 or "
                             "block-exact, got \"%s\"", v);
        a->mac = (int)mm;
        a->have_mac = 1;
    } else if (!strcmp(o, "--max-memory")) {
        if (cli_parse_bytes(v, &a->max_memory))
            return cli_usage(cmd, "--max-memory: expected BYTES (suffix K, M, G or T), got \"%s\"",
                             v);
    } else if (cli_parse_u64(v, &a->seed)) {
        return cli_usage(cmd, "--random-weights: expected an unsigned integer, got \"%s\"", v);
    } else {
        a->have_seed = 1;
    }
    return 1;
}

int cli_load_model(const cli_model_args *a, nr_model **m, nr_err *err)
{
    nr_model_opts o;
    nr_model_opts_init(&o);
    o.random_seed = a->have_seed ? (a->seed ? a->seed : 1) : 0;
    o.max_memory = a->max_memory;
    o.set_rounding = a->have_rounding;
    o.rounding = (nr_rounding)a->rounding;
    o.set_mac = a->have_mac;
    o.mac = (nr_mac_mode)a->mac;
    if (a->input) {
        o.input_shape = a->input_shape;
        o.input_ndim = a->input_ndim;
        o.input_path = a->input;
    }
    return nr_model_load_opts(a->net, a->prec, &o, m, err);
}

int cli_load_with_input(cli_model_args *a, float **x, int64_t *n, nr_model **m, nr_err *err)
{
    int64_t shape[4];
    int ndim = 0;
    int rc = nr_npy_read_f32(a->input, x, shape, &ndim, err);
    if (rc)
        return rc;
    *n = ndim == 4 ? shape[0] : 1;
    a->input_shape = shape;
    a->input_ndim = ndim;
    rc = cli_load_model(a, m, err);
    a->input_shape = NULL; /* shape[] ends here */
    return rc;
}

void cli_print_rows(const float *y, int n, size_t k)
{
    for (int s = 0; s < n; s++) {
        for (size_t i = 0; i < k; i++)
            printf(i ? " %.9g" : "%.9g", (double)y[(size_t)s * k + i]);
        putchar('\n');
    }
}

void cli_json_str(const char *s)
{
    gen_json_str(stdout, s);
}
