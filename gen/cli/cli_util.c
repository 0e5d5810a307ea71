/* cli_util.c -- helpers shared by the numrep subcommands: number
 * arguments, loading a model (optionally with random weights), and the
 * text form of outputs that emulate, run and built executables all print. */
#include "cli.h"
#include "model.h"
#include "search_job.h"
#include "tensorio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_u64(const char *s, uint64_t *v)
{
    return gen_opts_parse_u64(s, v);
}

int cli_parse_count(const char *s, long long lo, long long hi, long long *v)
{
    return gen_opts_parse_count(s, lo, hi, v);
}

int cli_parse_bytes(const char *s, uint64_t *v)
{
    return gen_opts_parse_bytes(s, v);
}

int cli_load_model(const cli_model_args *a, nr_model **m, nr_err *err)
{
    nr_model_opts o = a->mo;
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
    gen_search_json_str(stdout, s);
}

int cli_model_is_fp32(const nr_model *m)
{
    nr_format f32;
    nr_err e = {0};
    if (nr_model_is_scaled(m) || nr_format_parse("fp32", &f32, &e) ||
        !nr_format_equal(&m->in_format, &f32))
        return 0;
    for (int i = 0; i < m->nlayers; i++) {
        const nr_layer_prec *p = &m->layers[i].prec;
        if (!nr_format_equal(&p->weights, &f32) || !nr_format_equal(&p->activations, &f32) ||
            !nr_format_equal(&p->products, &f32) || !nr_format_equal(&p->accumulator, &f32) ||
            !nr_format_equal(&p->nonlinear, &f32) || p->rounding != NR_RND_RNE ||
            p->mac != NR_MAC_UNFUSED)
            return 0;
    }
    return 1;
}
