/* testutil_gen.c -- the JIT-vs-emulator comparison the generator's tests
 * share (testutil_gen.h). */
#include "testutil_gen.h"
#include "emulator.h"
#include "emit_scaled.h"
#include "plan.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double wall_now(void) { return nr_clock_wall(); }

static double cpu_now(void) { return nr_clock_cpu(); }

static uint32_t fbits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static uint64_t dbits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

/* An encoding of bytes bytes, little-endian. */
static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#define SHOWN 5 /* mismatches printed */

/* The output layer's values of the last sample, run alone into an arena
 * laid out by the plan: against the emulator's (lo) and run's outputs (yj). */
static int arena_values(const nr_model *m, gen_compiled *c, const float *x, int n,
                        const tu_gen_cmp *o, const double *lo, const float *yj, const char *what)
{
    nr_err err = {0};
    size_t nin = nr_shape_count(m->in_shape), nout = nr_shape_count(m->layers[m->output].out_shape);
    gen_plan p;
    gen_weights w;
    int vector = o->opts && o->opts->portable ? 0 /* as gen_emit_model plans */
                 : o->opts && o->opts->opt_level == 0 ? GEN_VMAC_COMPACT : 1;
    ck_assert_msg(gen_plan_build(m, 0, vector, &p, &w, &err) == 0, "%s: plan: %s", what, err.msg);
    ck_assert(p.arena_size == gen_compiled_arena_size(c));
    uint8_t *arena = aligned_alloc(64, (p.arena_size + 63) / 64 * 64);
    float *y1 = malloc(nout * sizeof *y1);
    ck_assert(arena && y1);
    gen_compiled_run_arena(c, x + (size_t)(n - 1) * nin, y1, 1, arena);
    const nr_format *af = gen_scaled_carrier(m, m->output); /* doubles when scaled */
    int bad = 0;
    for (size_t i = 0; i < nout; i++) {
        uint64_t e = get_le(arena + p.ly[m->output].out_off + i * (size_t)af->container,
                            af->container);
        double v = nr_decode(af, e), ev = lo[i];
        if (dbits(v) != dbits(ev) && !(isnan(v) && isnan(ev)) && bad++ < SHOWN)
            fprintf(stderr, "%s: last sample value %zu: emulator %a, jit %a (0x%llx)\n", what, i,
                    ev, v, (unsigned long long)e);
        if (fbits(y1[i]) != fbits(yj[(size_t)(n - 1) * nout + i]) && bad++ < SHOWN)
            fprintf(stderr, "%s: run_arena differs from run at %zu\n", what, i);
    }
    free(y1);
    free(arena);
    gen_plan_free(&p);
    gen_plan_weights_free(&w);
    return bad;
}

int tu_gen_compare(const nr_model *m, const float *x, int n, const tu_gen_cmp *o,
                   const char *what)
{
    static const tu_gen_cmp none = {0};
    o = o ? o : &none;
    nr_err err = {0};
    size_t nout = nr_shape_count(m->layers[m->output].out_shape), total = (size_t)n * nout;
    float *ye = malloc(total * sizeof *ye), *yj = malloc(total * sizeof *yj);
    double **lo = calloc((size_t)m->nlayers, sizeof *lo);
    ck_assert(ye && yj && lo);
    if (o->check_arena)
        ck_assert(lo[m->output] = malloc(nout * sizeof(double)));
    double t0 = wall_now(), c0 = cpu_now();
    int rc = nr_emulate_layers(m, x, n, ye, o->check_arena ? lo : NULL, NULL, NULL, &err);
    double t1 = wall_now(), c1 = cpu_now();
    ck_assert_msg(rc == 0, "%s: emulator: %s", what, err.msg);
    gen_compiled *c = NULL;
    rc = gen_model_compile(m, o->opts, &c, &err);
    double t2 = wall_now(), c2 = cpu_now();
    ck_assert_msg(rc == 0, "%s: compile: %s (%s)", what, err.msg, err.where);
    memset(yj, 0xAB, total * sizeof *yj);
    rc = gen_compiled_run(c, x, yj, n, &err);
    double t3 = wall_now(), c3 = cpu_now();
    ck_assert_msg(rc == 0, "%s: run: %s", what, err.msg);
    for (size_t i = 0; o->print_out && i < total && i < 12; i++)
        printf("  out[%zu] = %a\n", i, (double)ye[i]);
    int bad = 0;
    for (size_t i = 0; i < total; i++) {
        if (fbits(ye[i]) == fbits(yj[i]) || (o->nan_equal && isnan(ye[i]) && isnan(yj[i])))
            continue;
        if (bad++ < SHOWN)
            fprintf(stderr, "%s: output %zu (sample %zu, element %zu): emulator %a (0x%08x), "
                            "jit %a (0x%08x)\n",
                    what, i, i / nout, i % nout, (double)ye[i], fbits(ye[i]), (double)yj[i],
                    fbits(yj[i]));
    }
    if (o->check_arena)
        bad += arena_values(m, c, x, n, o, lo[m->output], yj, what);
    if (o->times)
        *o->times = (struct tu_gen_times){t1 - t0, c1 - c0, t2 - t1, c2 - c1, t3 - t2, c3 - c2};
    gen_compiled_free(c);
    free(lo[m->output]);
    free(lo);
    free(ye);
    free(yj);
    return bad;
}

void *tu_jit_look(gen_jit *j, const char *name)
{
    nr_err err = {0};
    void *p = NULL;
    int rc = gen_jit_lookup(j, name, &p, &err);
    ck_assert_msg(rc == 0 && p, "lookup %s: %s", name, err.msg);
    return p;
}
