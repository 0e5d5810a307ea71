/* check_alloc.c -- allocation failures, in the style of Lua's ltests
 * memcontrol: for every N, the Nth allocation fails, and the spec/model
 * build, the precision file, the weights file, the results store and an
 * evaluation each end with a clean error (a filled nr_err) or succeed, and
 * leave no block allocated and no crash.
 *
 * This executable interposes malloc, calloc, realloc, free and the aligned
 * allocators (forwarding to glibc's __libc_* entry points) with a countdown
 * and a count of live blocks, so no call site changes.  libyaml, SQLite and
 * libc's own allocations (fopen, strdup) count too.  Under ASan the
 * sanitizer owns malloc, so the test reports itself skipped. */
#include "testutil.h"
#include "dataset.h"
#include "eval.h"
#include "model.h"
#include "results.h"
#include "tensorio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define NR_ALLOC_HOOKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NR_ALLOC_HOOKS 0
#endif
#endif
#ifndef NR_ALLOC_HOOKS
#define NR_ALLOC_HOOKS 1
#endif

/* ---------------------------------------------------------------- the hooks */

static long fail_at = -1; /* the allocation number that fails; -1: none */
static long nalloc;       /* allocations since arm()                    */
static long live;         /* blocks allocated and not freed             */
static int failed_once;   /* the countdown reached fail_at              */

#if NR_ALLOC_HOOKS
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/* 1 when this allocation is the one that fails. */
static int fail_now(void)
{
    if (fail_at < 0)
        return 0;
    if (++nalloc == fail_at) {
        failed_once = 1;
        return 1;
    }
    return 0;
}

void *malloc(size_t n)
{
    if (fail_now())
        return errno = ENOMEM, NULL;
    void *p = __libc_malloc(n);
    live += p != NULL;
    return p;
}

void *calloc(size_t k, size_t n)
{
    if (fail_now())
        return errno = ENOMEM, NULL;
    void *p = __libc_calloc(k, n);
    live += p != NULL;
    return p;
}

void *realloc(void *q, size_t n)
{
    if (fail_now())
        return errno = ENOMEM, NULL;
    void *p = __libc_realloc(q, n);
    if (!q)
        live += p != NULL;
    else if (!n && !p)
        live--; /* glibc frees q */
    return p;
}

void free(void *p)
{
    live -= p != NULL;
    __libc_free(p);
}

void *memalign(size_t a, size_t n)
{
    if (fail_now())
        return errno = ENOMEM, NULL;
    void *p = __libc_memalign(a, n);
    live += p != NULL;
    return p;
}

void *aligned_alloc(size_t a, size_t n) { return memalign(a, n); }

int posix_memalign(void **out, size_t a, size_t n)
{
    void *p = memalign(a, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
#endif

/* ---------------------------------------------------------------- the driver */

/* One operation under test: 0 or a negative NR_E* with err filled; it
 * frees everything it allocated, success or not. */
typedef int (*op_fn)(nr_err *err);

/* Run op with the Nth allocation failing, for N = 1, 2, ... until a run
 * reaches its end without meeting the failure; every run must return an
 * error with a message or succeed, and leave as many blocks live as
 * before.  Returns the number of runs. */
static long every_failure(const char *what, op_fn op)
{
    nr_err e = {0};
    ck_assert_msg(op(&e) == 0, "%s: fails without an injected failure: %s", what, e.msg);
    ck_assert_msg(op(&e) == 0, "%s: second run", what); /* warm libc's caches */
    long n;
    for (n = 1;; n++) {
        nr_err_clear(&e);
        long before = live;
        nalloc = 0;
        failed_once = 0;
        fail_at = n;
        int rc = op(&e);
        fail_at = -1;
        long leaked = live - before;
        ck_assert_msg(leaked == 0, "%s: allocation %ld failing: %ld block(s) leaked (rc %d: %s)",
                      what, n, leaked, rc, e.msg);
        ck_assert_msg(rc <= 0, "%s: allocation %ld failing: rc %d", what, n, rc);
        if (rc)
            ck_assert_msg(e.code != 0 && (e.msg[0] || e.code == NR_ENOMEM),
                          "%s: allocation %ld failing: rc %d without a message", what, n, rc);
        if (!failed_once)
            break;
    }
    printf("%s: %ld allocation points, each failing cleanly\n", what, n - 1);
    return n;
}

static int have_hooks(void)
{
    if (!NR_ALLOC_HOOKS) {
        tu_skip("allocation-failure runs: malloc belongs to AddressSanitizer in this build");
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- operations */

static const char net_text[] =
    "name: n\n"
    "input: {shape: [2, 6, 6]}\n"
    "layers:\n"
    "  - {name: c, op: conv, out: 4, kernel: [3, 2], stride: 2, pad: same, groups: 2}\n"
    "  - {name: b, op: batchnorm, eps: 1e-3}\n"
    "  - {name: s, op: slice, c: [0, end, 2], h: [1, -1]}\n"
    "  - {name: p, op: pad, c: [1, 1], w: [0, 2]}\n"
    "  - {name: k, op: concat, inputs: [p, p]}\n"
    "  - {name: r, op: relu}\n"
    "  - {name: f, op: flatten}\n"
    "  - {name: d, op: dense, out: 3}\n"
    "  - {name: sm, op: softmax}\n";

static const char prec_text[] =
    "default: {weights: e4m3, activations: bf16, accumulator: fp32, mac: fused}\n"
    "layers:\n"
    "  c: {weights: {exp: 3, man: 2, bias: 5, subnormals: false}, rounding: sr}\n"
    "  d: {weights: q3.4, activations: e5m2}\n";

static int op_model(nr_err *err)
{
    nr_spec *s = NULL;
    nr_precision *p = NULL;
    nr_model *m = NULL;
    int rc = nr_spec_parse_string(net_text, "net.yaml", &s, err);
    if (rc)
        return rc;
    if ((rc = nr_precision_parse_string(prec_text, "prec.yaml", &p, err))) {
        nr_spec_free(s);
        return rc;
    }
    rc = nr_model_build(s, p, NULL, 7, &m, err);
    nr_model_free(m);
    return rc;
}

static char dir[256];
static char wpath[300], dbpath[300];

/* A small network whose weights come from a file (safetensors reader). */
static const char net_w_text[] = "input: {shape: [1, 4, 4]}\n"
                                 "layers:\n"
                                 "  - {name: c, op: conv, out: 2, kernel: 3}\n"
                                 "  - {name: bn, op: batchnorm}\n"
                                 "  - {name: f, op: flatten}\n"
                                 "  - {name: d, op: dense, out: 3}\n";

static void write_weights(void)
{
    static float v[64];
    for (int i = 0; i < 64; i++)
        v[i] = 0.25f + (float)i / 64;
    static const int64_t cw[] = {2, 1, 3, 3}, c2[] = {2}, dw[] = {3, 8}, d3[] = {3};
    nr_tensor_out t[] = {{"c.weight", 4, cw, v},      {"c.bias", 1, c2, v},
                         {"bn.weight", 1, c2, v},     {"bn.bias", 1, c2, v},
                         {"bn.running_mean", 1, c2, v}, {"bn.running_var", 1, c2, v},
                         {"d.weight", 2, dw, v},      {"d.bias", 1, d3, v}};
    nr_err e = {0};
    ck_assert_msg(nr_safetensors_write_f32(wpath, t, 8, &e) == 0, "%s", e.msg);
}

static int op_weights(nr_err *err)
{
    nr_spec *s = NULL;
    nr_model *m = NULL;
    int rc = nr_spec_parse_string(net_w_text, "netw.yaml", &s, err);
    if (rc)
        return rc;
    rc = nr_model_build(s, NULL, wpath, 0, &m, err);
    nr_model_free(m);
    return rc;
}

static int op_results(nr_err *err)
{
    unlink(dbpath);
    nr_results *db = NULL;
    int rc = nr_results_open(dbpath, &db, err);
    if (rc)
        return rc;
    nr_run run;
    nr_results_run_init(&run);
    snprintf(run.network, sizeof run.network, "n");
    snprintf(run.method, sizeof run.method, "fast");
    nr_results_row row, back;
    nr_results_row_init(&row);
    snprintf(row.key.formats, sizeof row.key.formats, "e4m3");
    snprintf(row.key.rounding, sizeof row.key.rounding, "rne");
    snprintf(row.key.mac, sizeof row.key.mac, "unfused");
    row.n = 10;
    row.top1 = 0.5;
    if (!(rc = nr_results_put_run(db, &run, err))) {
        row.run_id = run.id;
        rc = nr_results_put_eval(db, &row, err);
    }
    if (!rc && (rc = nr_results_find_eval(db, &row.key, &back, err)) == 1)
        rc = 0;
    else if (!rc)
        rc = nr_err_set(err, NR_EINTERNAL, dbpath, 0, 0, NULL, "row not found back");
    nr_results_close(db);
    return rc;
}

/* IDX images (4 samples of 4x4) and labels for the evaluation. */
static void write_idx(void)
{
    char p[300];
    unsigned char img[16 + 64], lab[8 + 4];
    memcpy(img, (unsigned char[16]){0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4}, 16);
    for (int i = 0; i < 64; i++)
        img[16 + i] = (unsigned char)(i * 37);
    memcpy(lab, (unsigned char[8]){0, 0, 8, 1, 0, 0, 0, 4}, 8);
    for (int i = 0; i < 4; i++)
        lab[8 + i] = (unsigned char)(i % 3);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    FILE *f = fopen(p, "wb");
    ck_assert(f && fwrite(img, 1, sizeof img, f) == sizeof img);
    fclose(f);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    f = fopen(p, "wb");
    ck_assert(f && fwrite(lab, 1, sizeof lab, f) == sizeof lab);
    fclose(f);
}

static int eval_jobs;

static int op_eval(nr_err *err)
{
    nr_spec *s = NULL;
    nr_model *m = NULL;
    nr_dataset *ds = NULL;
    nr_engine eng = {0};
    nr_eval_result r = {0};
    int rc = nr_spec_parse_string(net_w_text, "netw.yaml", &s, err);
    if (rc)
        return rc;
    if ((rc = nr_model_build(s, NULL, wpath, 0, &m, err)))
        return rc;
    nr_dataset_opts o;
    nr_dataset_opts_init(&o);
    o.num_classes = 3;
    nr_eval_opts eo;
    nr_eval_opts_init(&eo);
    eo.jobs = eval_jobs;
    eo.batch = 2;
    eo.keep_scores = 1;
    if (!(rc = nr_dataset_open(dir, &o, &ds, err)) &&
        !(rc = nr_engine_open("emulator", m, &eng, err)))
        rc = nr_eval_run(&eng, m, ds, &eo, &r, err);
    nr_eval_result_free(&r);
    nr_engine_close(&eng);
    nr_dataset_close(ds);
    nr_model_free(m);
    return rc;
}

/* ---------------------------------------------------------------- tests */

static void setup_dir(void)
{
    snprintf(dir, sizeof dir, "%s/check_alloc.XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(wpath, sizeof wpath, "%s/w.safetensors", dir);
    snprintf(dbpath, sizeof dbpath, "%s/r.db", dir);
}

static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(model_build)
{
    if (!have_hooks())
        return;
    ck_assert_int_gt(every_failure("spec + precision + model build", op_model), 50);
}
END_TEST

START_TEST(weights_file)
{
    if (!have_hooks())
        return;
    setup_dir();
    write_weights();
    ck_assert_int_gt(every_failure("model build from safetensors", op_weights), 10);
    remove_dir();
}
END_TEST

START_TEST(results_store)
{
    if (!have_hooks())
        return;
    setup_dir();
    ck_assert_int_gt(every_failure("results store", op_results), 50);
    remove_dir();
}
END_TEST

START_TEST(evaluation)
{
    if (!have_hooks())
        return;
    setup_dir();
    write_weights();
    write_idx();
    eval_jobs = _i;
    ck_assert_int_gt(every_failure(_i == 1 ? "evaluation (1 job)" : "evaluation (2 jobs)",
                                   op_eval),
                     20);
    remove_dir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("alloc");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, model_build);
    tcase_add_test(tc, weights_file);
    tcase_add_test(tc, results_store);
    tcase_add_loop_test(tc, evaluation, 1, 3);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
