/* cli_util.c -- helpers shared by the numrep subcommands: number
 * arguments, loading a model (optionally with random weights), and the
 * text form of outputs that emulate, run and built executables all print. */
#include "cli.h"
#include "model.h"

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
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
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

int cli_load_model(const cli_model_args *a, nr_model **m, nr_err *err)
{
    nr_model_opts o;
    nr_model_opts_init(&o);
    o.random_seed = a->have_seed ? (a->seed ? a->seed : 1) : 0;
    o.max_memory = a->max_memory;
    if (a->input) {
        o.input_shape = a->input_shape;
        o.input_ndim = a->input_ndim;
        o.input_path = a->input;
    }
    return nr_model_load_opts(a->net, a->prec, &o, m, err);
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
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}
