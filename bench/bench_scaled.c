/* bench_scaled.c -- the speed of scaled formats in the JIT (#13): ResNet-20
 * (specs/resnet20, its shipped weights) at batch N under MXFP8 and NVFP4
 * (scaled weights, dynamic activation scales, block-fp32) and int8 per
 * channel (block-exact), each timed against fp32 in the same run, the
 * configurations alternated round by round so that load on the machine
 * hits them alike.  Targets (issue #13): MXFP8 and NVFP4 <= 2x fp32,
 * int8@channel <= 1.2x.  Rows print the ratio and PASS/FAIL; nothing is
 * asserted (the exit status is 0), the numbers are what the run measured.
 * Each configuration runs on one thread and is timed in CPU seconds
 * (CLOCK_PROCESS_CPUTIME_ID), the verdict's ratio: on a shared machine
 * whose load average exceeds its cores, wall time mostly measures the
 * waiting; the wall-clock ratio is printed beside it for information,
 * with the load average.
 * usage: bench_scaled [N (default 100)] [ROUNDS (default 3)] [PREC ...]: more
 * precisions (names or precision files *.yaml) to time against fp32, no
 * target (e.g. to see what the activation quantization costs). */
#include "model_gen.h"
#include "scaled.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void print_load(const char *when)
{
    double l[3];
    if (getloadavg(l, 3) == 3)
        printf("# load average %s: %.2f %.2f %.2f (%ld cores online)\n", when, l[0], l[1], l[2],
               sysconf(_SC_NPROCESSORS_ONLN));
}

static gen_compiled *compile(const char *net, const char *prec, nr_err *err)
{
    nr_spec *sp = NULL;
    nr_precision *pr = NULL;
    nr_model *m = NULL;
    gen_compiled *c = NULL;
    nr_scaled s;
    if (nr_spec_load(net, &sp, err))
        return NULL;
    nr_format f;
    size_t pl = strlen(prec);
    int rc = pl > 5 && !strcmp(prec + pl - 5, ".yaml") ? nr_precision_load(prec, &pr, err)
             : nr_scaled_is_name(prec) ? (nr_scaled_parse(prec, &s, err) ||
                                        nr_precision_uniform_scaled(&s, &pr, err))
                                     : (nr_format_parse(prec, &f, err) ||
                                        nr_precision_uniform(&f, &pr, err));
    if (rc) {
        nr_spec_free(sp);
        return NULL;
    }
    if (nr_model_build(sp, pr, NULL, 0, &m, err))
        return NULL;
    rc = gen_model_compile(m, NULL, &c, err);
    nr_model_free(m);
    return rc ? NULL : c;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100, rounds = argc > 2 ? atoi(argv[2]) : 3;
    const char *src = getenv("NUMREP_SOURCE_DIR") ? getenv("NUMREP_SOURCE_DIR") : ".";
    char net[1024];
    snprintf(net, sizeof net, "%s/specs/resnet20/resnet20.yaml", src);
    enum { NDEF = 4, NMAX = 16 };
    const char *precs[NMAX] = {"fp32", "mxfp8", "nvfp4", "int8@channel"};
    double target[NMAX] = {0, 2.0, 2.0, 1.2};
    int NP = NDEF;
    for (int a = 3; a < argc && NP < NMAX; a++)
        precs[NP++] = argv[a];
    gen_compiled *c[NMAX];
    double t[NMAX] = {0}, tw[NMAX] = {0};
    nr_err err = {0};
    for (int i = 0; i < NP; i++)
        if (!(c[i] = compile(net, precs[i], &err)) || gen_compiled_set_threads(c[i], 1, &err)) {
            fprintf(stderr, "bench_scaled: %s -p %s: %s (%s)\n", net, precs[i], err.msg, err.where);
            return 1;
        }
    size_t nin = (size_t)gen_compiled_input_size(c[0]), nout = (size_t)gen_compiled_output_size(c[0]);
    float *x = malloc((size_t)n * nin * sizeof *x), *y = malloc((size_t)n * nout * sizeof *y);
    if (!x || !y)
        return 1;
    uint64_t s = 12345;
    for (size_t i = 0; i < (size_t)n * nin; i++) { /* inputs of a normalised image's range */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 11) * 0x1p-53 * 4.0 - 2.0);
    }
    for (int i = 0; i < NP; i++) /* warm up */
        gen_compiled_run(c[i], x, y, n < 8 ? n : 8, &err);
    print_load("before");
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < NP; i++) {
            double c0 = nr_clock_cpu(), w0 = nr_clock_wall();
            gen_compiled_run(c[i], x, y, n, &err);
            t[i] += nr_clock_cpu() - c0;
            tw[i] += nr_clock_wall() - w0;
        }
    print_load("after");
    printf("ResNet-20 JIT, batch %d, %d rounds (alternated), one thread; fp32 %.3f CPU s "
           "(%.3f s wall) per batch; ratios of CPU time (wall in parentheses)\n",
           n, rounds, t[0] / rounds, tw[0] / rounds);
    for (int i = 1; i < NP; i++) {
        double ratio = t[i] / t[0], rw = tw[i] / tw[0];
        if (target[i] > 0)
            printf("%-36s %8.2fx (%5.2fx)  target <= %.1fx  %s\n", precs[i], ratio, rw, target[i],
                   ratio <= target[i] ? "PASS" : "FAIL");
        else
            printf("%-36s %8.2fx (%5.2fx)\n", precs[i], ratio, rw);
    }
    for (int i = 0; i < NP; i++)
        gen_compiled_free(c[i]);
    free(x);
    free(y);
    return 0;
}
