/* bench_round.c -- speed of nr_bulk_round_f32 against memcpy of the same
 * array with the same thread count, measured in the same run.
 *
 * Target (issue "Foundation"): for every float format with X <= 8,
 * Y <= 23, modes rne and rz, on normal-range data and on data spanning
 * subnormals and overflow, with 1 and 2 threads, the kernel runs at
 * >= 80% of memcpy's speed.  Each row prints elements/s, the ratio to
 * memcpy and PASS/FAIL; a summary follows.
 *
 *   bench_round [--all] [--check] [--n N] [--reps R] [--threads T,...] [--format NAME]...
 *
 * --all: every eXmY with X <= 8, Y <= 23 (default bias; -fn or -finite
 * where IEEE specials are impossible), instead of a representative set.
 * --check: exit 1 when a row fails (by default a benchmark never fails:
 * the machine may be shared and noisy).  Times are the best of R
 * repetitions (CLOCK_MONOTONIC), memcpy and kernel alternating; the CPU
 * time ratio is printed too, since on a shared machine a long run is
 * often preempted (wall time grows, CPU time does not). */
#include "numrep.h"
#include "pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TARGET 0.80

static const char *const representative[] = {
    "fp16", "bf16", "e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "tf32", "e6m7-nosub-finite",
    "fp32", "e5m10-nosub", "e4m3-fnuz", "e5m2-sat", "e8m0-fn",
};

static double now(void) { return nr_clock_wall(); }

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Random signs and mantissas; exponents uniform in [lo, hi] (clamped to
 * float32's range, subnormals included). */
static void fill(float *v, size_t n, int lo, int hi, uint64_t seed)
{
    if (lo < -149)
        lo = -149;
    if (hi > 127)
        hi = 127;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rnd(&seed);
        int e = lo + (int)((r >> 8) % (uint64_t)(hi - lo + 1));
        float m = 1.0f + (float)((r >> 40) & 0x7fffff) / 8388608.0f;
        float x = ldexpf(m, e);
        v[i] = (r & 1) ? -x : x;
    }
}

/* ---- memcpy baseline, split over the same number of threads */
typedef struct {
    const float *in;
    float *out;
} copy_ctx;

static void copy_range(void *ctx, size_t b, size_t e)
{
    copy_ctx *c = ctx;
    memcpy(c->out + b, c->in + b, (e - b) * sizeof(float));
}

static double cpu_now(void) { return nr_clock_cpu(); }

/* Best wall (CLOCK_MONOTONIC) and CPU (all threads) times of memcpy and of
 * the kernel, measured alternately so that both see the same load. */
typedef struct {
    double wall_copy, wall_round, cpu_copy, cpu_round;
} timing;

static void measure(nr_pool *p, const nr_format *f, nr_rounding m, const float *in,
                    float *out, size_t n, int threads, int reps, timing *tm)
{
    copy_ctx c = {in, out};
    tm->wall_copy = tm->wall_round = tm->cpu_copy = tm->cpu_round = 1e30;
    for (int r = 0; r < reps; r++) {
        double w0 = now(), c0 = cpu_now();
        nr_pool_run(p, copy_range, &c, n, 0);
        double w1 = now(), c1 = cpu_now();
        nr_bulk_round_f32(f, m, 1, 0, in, out, n, threads);
        double w2 = now(), c2 = cpu_now();
        if (w1 - w0 < tm->wall_copy) tm->wall_copy = w1 - w0;
        if (w2 - w1 < tm->wall_round) tm->wall_round = w2 - w1;
        if (c1 - c0 < tm->cpu_copy) tm->cpu_copy = c1 - c0;
        if (c2 - c1 < tm->cpu_round) tm->cpu_round = c2 - c1;
    }
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--all] [--check] [--n N] [--reps R] [--threads T,...] "
            "[--format NAME]...\n",
            argv0);
    return 2;
}

/* The format for eXmY in --all: IEEE specials, else -fn, else -finite. */
static int all_format(int X, int Y, nr_format *f, char *name, size_t cap)
{
    static const char *const sp[] = {"", "-fn", "-finite"};
    for (int k = 0; k < 3; k++) {
        snprintf(name, cap, "e%dm%d%s", X, Y, sp[k]);
        if (nr_format_parse(name, f, NULL) == 0)
            return 0;
    }
    return -1;
}

int main(int argc, char **argv)
{
    int all = 0, check = 0, reps = 5;
    /* 2 x 256 MiB: beyond the (virtual) 480 MiB L3 this machine reports,
     * and beyond glibc's non-temporal threshold for one thread, so memcpy
     * runs at its memory-bound best */
    size_t n = (size_t)64 << 20;
    int threads[8] = {1, 2}, nthreads = 2;
    const char *only[64];
    int nonly = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--all"))
            all = 1;
        else if (!strcmp(argv[i], "--check"))
            check = 1;
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = (size_t)strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--format") && i + 1 < argc && nonly < 64)
            only[nonly++] = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthreads = 0;
            for (char *s = argv[++i]; *s && nthreads < 8;) {
                threads[nthreads++] = (int)strtol(s, &s, 10);
                if (*s == ',')
                    s++;
                else if (*s)
                    return usage(argv[0]);
            }
        } else
            return usage(argv[0]);
    }
    if (n < 1 || reps < 1 || nthreads < 1)
        return usage(argv[0]);

    float *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    if (!in || !out) {
        fprintf(stderr, "bench_round: cannot allocate 2 x %zu floats\n", n);
        return 1;
    }
    memset(out, 0, n * sizeof *out); /* fault the pages in before timing */
    memset(in, 0, n * sizeof *in);

    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    printf("bench_round: %zu floats (%.0f MiB in + out); L3 %ld MiB%s; best of %d; "
           "target >= %.0f%% of memcpy\n",
           n, 2.0 * (double)n * 4 / 1048576, l3 / 1048576,
           l3 > 0 && (double)l3 > 2.0 * (double)n * 4 ? " (arrays fit: use --n for out of cache)"
                                                    : "",
           reps, TARGET * 100);

    nr_pool *pools[8];
    for (int t = 0; t < nthreads; t++)
        pools[t] = nr_pool_new(threads[t]); /* memcpy's threads, made before timing */
    printf("ratio = memcpy time / kernel time (same size, same threads, measured alternately);\n"
           "wall: CLOCK_MONOTONIC (the target); cpu: CPU time of all threads (less sensitive\n"
           "to a busy machine: a preempted run costs wall time, not CPU time)\n");
    printf("%-20s %-3s %-6s %3s %9s %9s %9s %7s %7s  %s\n", "format", "rnd", "data", "thr",
           "ms", "Gelem/s", "memcpy/s", "wall", "cpu", "");
    static const nr_rounding modes[] = {NR_RND_RNE, NR_RND_RZ};
    int rows = 0, fails = 0, cfails = 0;
    double worst = 1e30;
    char worst_row[128] = "";
    int nfmt = nonly ? nonly : all ? 8 * 24 : (int)(sizeof representative / sizeof representative[0]);
    for (int fi = 0; fi < nfmt; fi++) {
        nr_format f;
        char name[64];
        nr_err err = {0};
        if (nonly || !all) {
            snprintf(name, sizeof name, "%s", nonly ? only[fi] : representative[fi]);
            if (nr_format_parse(name, &f, &err) != 0) {
                char buf[512];
                nr_err_format(&err, buf, sizeof buf);
                fprintf(stderr, "bench_round: %s\n", buf);
                return 2;
            }
        } else if (all_format(1 + fi / 24, fi % 24, &f, name, sizeof name) != 0) {
            continue; /* no valid variant (e.g. e1m0) */
        }
        for (int d = 0; d < 2; d++) {
            /* normal range; or from below the smallest subnormal to past max */
            int lo = d ? f.emin - f.man_bits - 3 : f.emin;
            int hi = d ? f.emax + 3 : f.emax;
            fill(in, n, lo, hi, 12345 + (uint64_t)fi);
            for (int mi = 0; mi < 2; mi++)
                for (int t = 0; t < nthreads; t++) {
                    timing tm;
                    measure(pools[t], &f, modes[mi], in, out, n, threads[t], reps, &tm);
                    double ratio = tm.wall_copy / tm.wall_round;
                    double cratio = tm.cpu_copy / tm.cpu_round;
                    int pass = ratio >= TARGET;
                    rows++;
                    fails += !pass;
                    cfails += cratio < TARGET;
                    printf("%-20s %-3s %-6s %3d %9.3f %9.3f %9.3f %7.2f %7.2f  %s\n", name,
                           nr_format_rounding_name(modes[mi]), d ? "wide" : "normal", threads[t],
                           tm.wall_round * 1e3, (double)n / tm.wall_round * 1e-9,
                           (double)n / tm.wall_copy * 1e-9, ratio, cratio, pass ? "PASS" : "FAIL");
                    if (ratio < worst) {
                        worst = ratio;
                        snprintf(worst_row, sizeof worst_row, "%s %s %s threads=%d", name,
                                 nr_format_rounding_name(modes[mi]), d ? "wide" : "normal", threads[t]);
                    }
                    fflush(stdout);
                }
        }
    }
    printf("summary: %d rows; wall: %d pass, %d fail (target %.0f%% of memcpy), worst %.2f (%s); "
           "cpu: %d pass, %d fail\n",
           rows, rows - fails, fails, TARGET * 100, worst, worst_row, rows - cfails, cfails);
    for (int t = 0; t < nthreads; t++)
        nr_pool_free(pools[t]);
    free(in);
    free(out);
    return check && fails ? 1 : 0;
}
