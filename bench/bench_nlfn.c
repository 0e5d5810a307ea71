/* bench_nlfn.c -- speed of the correctly rounded nonlinear functions for
 * formats of at most 16 bits (issue #14: <= 20 ns per element).
 *
 * For each (function, format) in rne: the lookup-table path
 * (nr_nltab_apply over N random encodings, the table built once with
 * numrep's own implementation) in ns/element, with PASS/FAIL against the
 * 20 ns target; beside it the table's one-off build time and the direct
 * nr_nlrt call per element, for reference (no target).
 *
 *   bench_nlfn [--n N] [--reps R] [--check]
 *
 * Times are the best of R repetitions (CLOCK_MONOTONIC).  --check: exit 1
 * when a row fails (by default a benchmark never fails: the machine may be
 * shared and noisy). */
#include "nlrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGET_NS 20.0

static double now(void) { return nr_clock_wall(); }

int main(int argc, char **argv)
{
    size_t n = 1 << 20;
    int reps = 5, check = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--check"))
            check = 1;
        else {
            fprintf(stderr, "usage: bench_nlfn [--n N] [--reps R] [--check]\n");
            return 2;
        }
    }
    if (n == 0 || reps < 1) {
        fprintf(stderr, "bench_nlfn: --n and --reps must be positive\n");
        return 2;
    }
    static const char *const fmts[] = {"fp16", "bf16", "e4m3", "e5m2", "q3.12",
                                       "e6m7-finite-nosub-sat"};
    static const nr_nl fns[] = {
        {NR_NL_EXP, 0},  {NR_NL_LOG, 0},   {NR_NL_ERF, 0},        {NR_NL_TANH, 0},
        {NR_NL_SIGMOID, 0}, {NR_NL_SQRT, 0}, {NR_NL_RSQRT, 0},    {NR_NL_RECIP, 0},
        {NR_NL_POW, 2},  {NR_NL_POW, -0.5}, {NR_NL_GELU, 0},      {NR_NL_GELU_TANH, 0},
        {NR_NL_SILU, 0},
    };
    uint8_t *in = malloc(n * 2), *out = malloc(n * 2);
    if (!in || !out) {
        fprintf(stderr, "bench_nlfn: out of memory\n");
        return 1;
    }
    printf("%-22s %-10s %5s %12s %12s %12s  %s\n", "format", "function", "p", "table ns/el",
           "build ms", "direct ns/el", "target <= 20 ns");
    int fails = 0, rows = 0;
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        nr_format f;
        nr_err e = {0};
        if (nr_format_parse(fmts[fi], &f, &e)) {
            fprintf(stderr, "bench_nlfn: %s\n", e.msg);
            return 1;
        }
        for (size_t i = 0; i < n; i++) { /* random encodings: the library's counter hash */
            uint64_t x = nr_sr_bits(1, 0, i, 0) & (((uint64_t)1 << f.width) - 1);
            memcpy(in + i * f.container, &x, (size_t)f.container); /* little-endian */
        }
        for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
            nr_nltab *t;
            double t0 = now();
            if (nr_nltab_new(&fns[k], &f, &f, NR_RND_RNE, &t, &e)) {
                fprintf(stderr, "bench_nlfn: %s\n", e.msg);
                return 1;
            }
            double build = now() - t0, best = 1e30;
            for (int r = 0; r < reps; r++) {
                t0 = now();
                nr_nltab_apply(t, in, out, n);
                double dt = now() - t0;
                if (dt < best)
                    best = dt;
            }
            /* direct calls on a slice, for reference */
            size_t nd = n < 20000 ? n : 20000;
            volatile uint64_t sink = 0;
            t0 = now();
            for (size_t i = 0; i < nd; i++) {
                uint64_t x = 0;
                memcpy(&x, in + i * f.container, (size_t)f.container);
                sink += nr_nlrt(&fns[k], &f, x, &f, NR_RND_RNE, 0, NULL);
            }
            double direct = (now() - t0) / (double)nd * 1e9;
            double ns = best / (double)n * 1e9;
            int pass = ns <= TARGET_NS;
            fails += !pass;
            rows++;
            printf("%-22s %-10s %5g %12.2f %12.1f %12.0f  %s\n", fmts[fi],
                   nr_nl_name(fns[k].fn), fns[k].p, ns, build * 1e3, direct,
                   pass ? "PASS" : "FAIL");
            nr_nltab_free(t);
        }
    }
    printf("summary: %d of %d rows PASS (table lookup <= %.0f ns/element)\n", rows - fails, rows,
           TARGET_NS);
    free(in);
    free(out);
    return check && fails ? 1 : 0;
}
