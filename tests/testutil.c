/* testutil.c -- helpers shared by the check_* tests. */
#include "testutil.h"
#include "model.h"
#include "tensorio.h"
#include "emulator.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const char *tu_source_dir(void)
{
    const char *s = getenv("NUMREP_SOURCE_DIR");
    return s && *s ? s : ".";
}

const char *tu_numrep_bin(void)
{
    const char *s = getenv("NUMREP_BIN");
    return s && *s ? s : NULL;
}

const char *tu_shared_data(void)
{
    static char path[4096];
    const char *env = getenv("NUMREP_SHARED_DATA");
    if (env && *env)
        snprintf(path, sizeof path, "%s", env);
    else
        snprintf(path, sizeof path, "%s/../shared/data", tu_source_dir());
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/README.md", path);
    return access(probe, R_OK) == 0 ? path : NULL;
}

int tu_quick(void)
{
    const char *s = getenv("NUMREP_QUICK");
    return s && *s && strcmp(s, "0");
}

int tu_exhaustive(void)
{
    const char *s = getenv("NUMREP_EXHAUSTIVE");
    return s && *s && strcmp(s, "0");
}

nr_format tu_fmt(const char *name)
{
    nr_format f;
    nr_err e = {0};
    if (nr_format_parse(name, &f, &e) != 0) {
        char buf[512];
        nr_err_format(&e, buf, sizeof buf);
        ck_abort_msg("format %s: %s", name, buf);
    }
    return f;
}

/* Skips recorded by the tests: in memory shared with the forked children
 * Check runs each test in, so tu_run sees them. */
typedef struct skips {
    int whole;        /* tests that skipped entirely (tu_skip) */
    int parts;        /* skip lines in list                     */
    char list[4000];  /* one "  - what" line per skip           */
} skips;
static skips *tu_skips;

static void record(int whole, const char *fmt, va_list ap)
{
    char what[300];
    vsnprintf(what, sizeof what, fmt, ap);
    printf("skipped: %s\n", what);
    fflush(stdout);
    if (!tu_skips)
        return;
    tu_skips->whole += whole;
    tu_skips->parts++;
    nr_strbuf sb = {tu_skips->list, sizeof tu_skips->list, strlen(tu_skips->list), 0};
    nr_strbuf_add(&sb, "  - %s\n", what);
}

void tu_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(1, fmt, ap);
    va_end(ap);
}

void tu_skip_part(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(0, fmt, ap);
    va_end(ap);
}

int tu_run(Suite *s)
{
    tu_skips = mmap(NULL, sizeof *tu_skips, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
    if (tu_skips == MAP_FAILED)
        tu_skips = NULL;
    else
        memset(tu_skips, 0, sizeof *tu_skips);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
    srunner_free(sr);
    if (failed)
        return EXIT_FAILURE;
    if (tu_skips && run > 0 && tu_skips->whole >= run) {
        printf("every test skipped (exit 77: ctest reports Skipped)\n");
        return TU_SKIP_STATUS;
    }
    if (tu_skips && tu_skips->parts)
        printf("passed, but %d check%s skipped:\n%s", tu_skips->parts,
               tu_skips->parts == 1 ? " was" : "s were", tu_skips->list);
    return EXIT_SUCCESS;
}

uint64_t tu_rand(uint64_t *state)
{
    return nr_hash_next(state);
}

double tu_unif(uint64_t *state)
{
    return (double)(tu_rand(state) >> 11) * 0x1p-53;
}

float *tu_uniform_floats(uint64_t *state, size_t count, double lo, double hi)
{
    float *x = malloc((count ? count : 1) * sizeof *x);
    ck_assert(x);
    for (size_t i = 0; i < count; i++)
        x[i] = (float)(lo + (hi - lo) * tu_unif(state));
    return x;
}

float *tu_load_sample(const char *net, int *n, const nr_model *m)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/specs/%s/sample.npy", tu_source_dir(), net);
    float *x = NULL;
    int64_t shape[4];
    int nd = 0;
    nr_err err = {0};
    ck_assert_msg(nr_npy_read_f32(path, &x, shape, &nd, &err) == 0, "%s: %s", path, err.msg);
    int64_t avail = nd == 4 ? shape[0] : 1;
    ck_assert((size_t)(nd == 4 ? shape[1] * shape[2] * shape[3] : shape[0] * shape[1] * shape[2]) ==
              nr_shape_count(m->in_shape));
    if (*n > avail)
        *n = (int)avail;
    return x;
}

int tu_model_try(const char *spec, const char *prec, uint64_t seed, nr_model **m, nr_err *e)
{
    nr_spec *s = NULL;
    nr_precision *p = NULL;
    int rc = nr_spec_parse_string(spec, "net.yaml", &s, e);
    ck_assert_msg(rc == 0, "spec: %s", e->msg);
    if ((rc = nr_precision_parse_string(prec, "p.yaml", &p, e))) {
        nr_spec_free(s);
        return rc;
    }
    return nr_model_build(s, p, NULL, seed, m, e);
}

int tu_model_msg(const char *spec, const char *prec, uint64_t seed, nr_model **m, char *msg)
{
    nr_spec *s = NULL;
    nr_precision *p = NULL;
    nr_err e = {0};
    *m = NULL;
    msg[0] = 0;
    int rc = nr_spec_parse_string(spec, "net.yaml", &s, &e);
    if (!rc && prec)
        rc = strstr(prec, ": ") || strchr(prec, '\n')
                 ? nr_precision_parse_string(prec, "p.yaml", &p, &e)
                 : nr_precision_from_arg(prec, &p, &e);
    if (rc)
        nr_spec_free(s);
    else
        rc = nr_model_build(s, p, NULL, seed, m, &e);
    if (rc)
        nr_err_format(&e, msg, 1024);
    return rc;
}

const char *tu_errstr(const nr_err *e)
{
    static char buf[1024];
    nr_err_format(e, buf, sizeof buf);
    return buf;
}

double **tu_emulate_layers(const nr_model *m, const float *x, int no_fast)
{
    nr_err e = {0};
    double **L = calloc((size_t)m->nlayers, sizeof *L);
    ck_assert(L);
    for (int i = 0; i < m->nlayers; i++) {
        L[i] = malloc(nr_shape_count(m->layers[i].out_shape) * sizeof **L);
        ck_assert(L[i]);
    }
    float *out = malloc(nr_shape_count(m->layers[m->output].out_shape) * sizeof *out);
    ck_assert(out);
    nr_emu_opts o = {.trace_layer = -1, .no_fast = no_fast};
    ck_assert_msg(nr_emulate_layers(m, x, 1, out, L, NULL, &o, &e) == 0, "%s", tu_errstr(&e));
    free(out);
    return L;
}

void tu_free_layers(const nr_model *m, double **L)
{
    for (int i = 0; i < m->nlayers; i++)
        free(L[i]);
    free(L);
}

nr_model *tu_model_ok(const char *spec, const char *prec, uint64_t seed)
{
    nr_model *m = NULL;
    nr_err e = {0};
    int rc = tu_model_try(spec, prec, seed, &m, &e);
    ck_assert_msg(rc == 0, "model: %s (%s:%d:%d %s)", e.msg, e.file, e.line, e.col, e.where);
    return m;
}

void tu_model_bad(const char *spec, const char *prec, uint64_t seed, const char *want, int line)
{
    nr_model *m = NULL;
    nr_err e = {0};
    int rc = tu_model_try(spec, prec, seed, &m, &e);
    ck_assert_msg(rc < 0, "accepted: %s", prec);
    ck_assert_msg(strstr(e.msg, want) || strstr(e.where, want), "%s: \"%s\" (%s) lacks \"%s\"",
                  prec, e.msg, e.where, want);
    ck_assert_msg(!line || e.line == line, "%s: line %d, want %d", prec, e.line, line);
    ck_assert_ptr_null(m);
}

nr_precision *tu_prec_ok(const char *yaml)
{
    nr_precision *p = NULL;
    nr_err e = {0};
    int rc = nr_precision_parse_string(yaml, "p.yaml", &p, &e);
    ck_assert_msg(rc == 0, "%s: %s", yaml, e.msg);
    return p;
}

void tu_prec_bad(const char *yaml, const char *want, int line)
{
    nr_precision *p = NULL;
    nr_err e = {0};
    int rc = nr_precision_parse_string(yaml, "p.yaml", &p, &e);
    ck_assert_msg(rc < 0, "accepted: %s", yaml);
    ck_assert_msg(strstr(e.msg, want), "%s: message \"%s\" lacks \"%s\"", yaml, e.msg, want);
    ck_assert_msg(!line || e.line == line, "%s: line %d, want %d", yaml, e.line, line);
    ck_assert_ptr_null(p);
}
