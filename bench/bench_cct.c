/* bench_cct.c -- speed of the generated code on a transformer (issue #14):
 * the CCT-4/3x1 of specs/cct JIT-compiled at fp32 and at full per-MAC
 * e6m7-finite-nosub-sat (every role, rz, unfused: each product and sum
 * rounded), run at batch 1 (one image at a time, one thread, in a caller's
 * arena), against PyTorch's fp32 forward pass at batch 1 (bench/torch_cct.py,
 * one thread, allocator warmed), all in one run so the ratios compare like
 * with like on a loaded machine.  CPU time per image is the measure (the
 * machine is shared; wall times are printed too).  Prints the ratios with
 * PASS/FAIL rows for the targets: JIT fp32 >= 1x PyTorch, e6m7 <=
 * 3x the JIT's fp32 time.
 *
 *     build/bench_cct [REPS]        (run from the source root) */
#include "emulator.h"
#include "model_gen.h"
#include "tensorio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Best CPU and wall seconds per image over reps passes at batch 1. */
static int time_jit(const char *prec, const float *x, int n, int reps, float *y, double *cpu,
                    double *wall)
{
    nr_model *m = NULL;
    nr_err e = {0};
    gen_compiled *c = NULL;
    if (nr_model_load("specs/cct/cct.yaml", prec, &m, &e) ||
        gen_model_compile(m, &(gen_model_opts){.opt_level = 2}, &c, &e)) {
        fprintf(stderr, "bench_cct: %s: %s (%s)\n", prec, e.msg, e.where);
        nr_model_free(m);
        return -1;
    }
    size_t nin = 3 * 32 * 32;
    void *arena = aligned_alloc(64, (gen_compiled_arena_size(c) + 63) / 64 * 64);
    *cpu = *wall = 1e30;
    for (int r = 0; r <= reps; r++) { /* pass 0 warms up */
        double c0 = nr_clock_cpu(), w0 = nr_clock_wall();
        for (int i = 0; i < n; i++)
            gen_compiled_run_arena(c, x + i * nin, y + i * 10, 1, arena);
        double dc = (nr_clock_cpu() - c0) / n, dw = (nr_clock_wall() - w0) / n;
        if (r > 0 && dc < *cpu)
            *cpu = dc, *wall = dw;
    }
    free(arena);
    gen_compiled_free(c);
    nr_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    const char *input = "specs/cct/sample.npy";
    float *x = NULL;
    int64_t shape[4];
    int nd = 0;
    nr_err e = {0};
    if (nr_npy_read_f32(input, &x, shape, &nd, &e) || nd != 4) {
        fprintf(stderr, "bench_cct: %s: %s (run from the source root)\n", input, e.msg);
        return 1;
    }
    int n = (int)shape[0];
    float *y32 = malloc((size_t)n * 10 * sizeof *y32), *y67 = malloc((size_t)n * 10 * sizeof *y67);
    double c32, w32, c67, w67, ct = 0, wt = 0;
    if (time_jit("fp32", x, n, reps, y32, &c32, &w32) ||
        time_jit("specs/cct/e6m7.yaml", x, n, reps, y67, &c67, &w67))
        return 1;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/torch_cct.py --input %s --reps %d", input, reps);
    FILE *p = popen(cmd, "r");
    char line[256];
    while (p && fgets(line, sizeof line, p))
        if (sscanf(line, "RESULT torch_b1 %lf %lf", &ct, &wt) == 2)
            break;
    if (p)
        pclose(p);
    printf("images %d, batch 1, one thread; seconds per image (CPU, wall)\n", n);
    printf("jit fp32            %.4f  %.4f\n", c32, w32);
    printf("jit e6m7 per-MAC    %.4f  %.4f\n", c67, w67);
    if (ct > 0)
        printf("pytorch fp32        %.4f  %.4f\n", ct, wt);
    else
        printf("pytorch fp32        unavailable (/usr/bin/python3 with torch)\n");
    if (ct > 0)
        printf("%s fp32 jit vs pytorch: %.2fx PyTorch's speed (target >= 1x)\n",
               c32 <= ct ? "PASS" : "FAIL", ct / c32);
    printf("%s e6m7 per-MAC vs fp32: %.2fx the fp32 time (target <= 3x)\n",
           c67 <= 3 * c32 ? "PASS" : "FAIL", c67 / c32);
    free(x);
    free(y32);
    free(y67);
    return 0;
}
