/* check_results.c -- the results store (runtime/study/results.c): every field
 * round-trips, a writer killed with SIGKILL loses nothing it committed and
 * a resumed writer repeats nothing, two processes writing at once lose no
 * rows, hostile files give clear errors, and `numrep report` on an empty
 * and on a full store.
 *
 * `check_results --demo DB [SEED]` writes a realistic synthetic store (a
 * ResNet-20-like search: exhaustive and fast runs, a per-layer run,
 * sensitivity rows, a predictor fit) for tests/report/report_chromium.sh. */
#include "testutil.h"
#include "cost.h"
#include "results.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/check_results.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static nr_results *open_ok(const char *path)
{
    nr_results *db = NULL;
    nr_err e = {0};
    int rc = nr_results_open(path, &db, &e);
    char buf[600];
    nr_err_format(&e, buf, sizeof buf);
    ck_assert_msg(rc == 0 && db, "open %s: %s", path, buf);
    return db;
}

#define OK(call)                                                                   \
    do {                                                                           \
        nr_err e_ = {0};                                                           \
        int rc_ = (call);                                                          \
        char b_[600];                                                              \
        nr_err_format(&e_, b_, sizeof b_);                                         \
        ck_assert_msg(rc_ >= 0, "%s -> %d: %s", #call, rc_, b_);                   \
    } while (0)

/* Bitwise equality of doubles (NAN equals NAN of the same bits). */
static int same(double a, double b) { return !memcmp(&a, &b, sizeof a); }

/* A key whose every field depends on i, so rows cannot be mixed up. */
static void key_for(nr_results_key *k, int i, nr_results_kind kind)
{
    memset(k, 0, sizeof *k);
    snprintf(k->formats, sizeof k->formats, "e%dm%d", 2 + i % 7, i % 11);
    snprintf(k->rounding, sizeof k->rounding, "%s", i % 2 ? "rz" : "rne");
    snprintf(k->mac, sizeof k->mac, "unfused");
    if (i % 5 == 0)
        snprintf(k->layers, sizeof k->layers, "conv1=e5m%d,fc=e4m3", i % 9);
    snprintf(k->spec_hash, sizeof k->spec_hash, "%032x", 0x5bec + i / 97);
    snprintf(k->weights_hash, sizeof k->weights_hash, "%032x", 0x3e1 + i / 89);
    snprintf(k->data_hash, sizeof k->data_hash, "%032x", 0xda7a);
    k->data_first = i / 50;
    k->data_count = 1000 + i / 77;
    k->kind = kind;
}

/* Measurements that depend on i (and are not all representable in few
 * digits: the round trip must keep every bit). */
static void row_for(nr_results_row *r, int i, nr_results_kind kind)
{
    nr_results_row_init(r);
    key_for(&r->key, i, kind);
    r->run_id = 1 + i % 3;
    r->n = 100 + i;
    r->top1 = (i % 1000) / 1000.0 + 1e-13 * i;
    r->top5 = i % 4 == 3 ? NAN : sqrt(i + 0.5) / 100;
    r->norm_acc = 1.0 / (i + 3);
    r->r2 = i % 3 == 0 ? NAN : 1 - 1.0 / (i + 7);
    r->speedup = exp(i * 0.01);
    r->speedup_fixed_clock = log(i + 2.0);
    r->energy_ratio = 3.0 + i / 7.0;
    r->seconds = 0.1 * i;
    r->created = 1.7e9 + i / 3.0;
}

static void assert_eval_eq(const nr_results_row *a, const nr_results_row *b)
{
    ck_assert_str_eq(a->key.formats, b->key.formats);
    ck_assert_str_eq(a->key.rounding, b->key.rounding);
    ck_assert_str_eq(a->key.mac, b->key.mac);
    ck_assert_str_eq(a->key.layers, b->key.layers);
    ck_assert_str_eq(a->key.spec_hash, b->key.spec_hash);
    ck_assert_str_eq(a->key.weights_hash, b->key.weights_hash);
    ck_assert_str_eq(a->key.data_hash, b->key.data_hash);
    ck_assert_int_eq(a->key.data_first, b->key.data_first);
    ck_assert_int_eq(a->key.data_count, b->key.data_count);
    ck_assert_int_eq(a->key.kind, b->key.kind);
    ck_assert_int_eq(a->run_id, b->run_id);
    ck_assert_int_eq(a->n, b->n);
    const double *x[] = {&a->top1, &a->top5, &a->norm_acc, &a->r2, &a->speedup,
                         &a->speedup_fixed_clock, &a->energy_ratio, &a->seconds, &a->created};
    const double *y[] = {&b->top1, &b->top5, &b->norm_acc, &b->r2, &b->speedup,
                         &b->speedup_fixed_clock, &b->energy_ratio, &b->seconds, &b->created};
    for (int i = 0; i < 9; i++)
        ck_assert_msg(same(*x[i], *y[i]), "field %d: %a vs %a", i, *x[i], *y[i]);
}

static int count_cb(const nr_results_row *r, void *ctx)
{
    (void)r;
    ++*(int *)ctx;
    return 0;
}

static int count_evals(nr_results *db, const nr_eval_filter *f)
{
    int n = 0;
    OK(nr_results_each_eval(db, f, count_cb, &n, &e_));
    return n;
}

/* ------------------------------------------------------------ round trips */

START_TEST(hash_vectors)
{
    /* FNV-1a 128 values from an independent Python implementation of the
     * published algorithm ("" is the offset basis, "a" the FNV page's vector). */
    static const struct {
        const char *in, *hex;
    } v[] = {{"", "6c62272e07bb014262b821756295c58d"},
             {"a", "d228cb696f1a8caf78912b704e4a8964"},
             {"foobar", "343e1662793c64bf6f0d3597ba446f18"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        nr_hash128 h;
        char hex[NR_HASH_HEX];
        nr_hash128_init(&h);
        nr_hash128_update(&h, v[i].in, strlen(v[i].in));
        nr_hash128_hex(&h, hex);
        ck_assert_str_eq(hex, v[i].hex);
    }
    /* bytes 0..255 three times, fed in uneven pieces and through a file */
    unsigned char buf[768];
    for (int i = 0; i < 768; i++)
        buf[i] = (unsigned char)i;
    nr_hash128 h;
    char hex[NR_HASH_HEX], fhex[NR_HASH_HEX];
    nr_hash128_init(&h);
    nr_hash128_update(&h, buf, 1);
    nr_hash128_update(&h, buf + 1, 500);
    nr_hash128_update(&h, buf + 501, 267);
    nr_hash128_hex(&h, hex);
    ck_assert_str_eq(hex, "ceced98447397784e46346c4dbaac68d");
    make_tmpdir();
    char p[300];
    path_in(p, sizeof p, "bytes");
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(buf, 1, 768, f), 768);
    fclose(f);
    OK(nr_results_hash_file(p, fhex, &e_));
    ck_assert_str_eq(fhex, hex);
    nr_err e = {0};
    path_in(p, sizeof p, "missing");
    ck_assert_int_eq(nr_results_hash_file(p, fhex, &e), -NR_EIO);
    rm_tmpdir();
}
END_TEST

START_TEST(eval_round_trip)
{
    make_tmpdir();
    char p[300];
    path_in(p, sizeof p, "r.db");
    nr_results *db = open_ok(p);
    const int N = 60;
    nr_results_row row, got;
    for (int i = 0; i < N; i++) {
        row_for(&row, i, i % 2 ? NR_RESULTS_SAMPLE : NR_RESULTS_FULL);
        OK(nr_results_put_eval(db, &row, &e_));
        ck_assert_int_gt(row.id, 0);
    }
    nr_results_close(db);
    db = open_ok(p); /* and across a reopen */
    for (int i = 0; i < N; i++) {
        row_for(&row, i, i % 2 ? NR_RESULTS_SAMPLE : NR_RESULTS_FULL);
        memset(&got, 0x5a, sizeof got);
        nr_err e = {0};
        ck_assert_int_eq(nr_results_find_eval(db, &row.key, &got, &e), 1);
        assert_eval_eq(&row, &got);
        nr_results_row byid;
        ck_assert_int_eq(nr_results_get_eval(db, got.id, &byid, &e), 1);
        assert_eval_eq(&row, &byid);
        /* the other kind of the same configuration is a different key */
        nr_results_key k = row.key;
        k.kind = k.kind == NR_RESULTS_FULL ? NR_RESULTS_SAMPLE : NR_RESULTS_FULL;
        ck_assert_int_eq(nr_results_find_eval(db, &k, &got, &e), 0);
    }
    /* every key field takes part in the lookup */
    row_for(&row, 7, NR_RESULTS_SAMPLE);
    for (int f = 0; f < 9; f++) {
        nr_results_key k = row.key;
        switch (f) {
        case 0: strcpy(k.formats, "e9m9"); break;
        case 1: strcpy(k.rounding, "sr"); break;
        case 2: strcpy(k.mac, "fused"); break;
        case 3: strcpy(k.layers, "x=e4m3"); break;
        case 4: k.spec_hash[0] = 'f'; break;
        case 5: k.weights_hash[0] = 'f'; break;
        case 6: k.data_hash[0] = 'f'; break;
        case 7: k.data_first++; break;
        case 8: k.data_count++; break;
        }
        nr_err e = {0};
        ck_assert_msg(nr_results_find_eval(db, &k, &got, &e) == 0, "key field %d ignored", f);
    }
    /* an update keeps the id and replaces every measurement */
    nr_results_row upd;
    row_for(&upd, 10, NR_RESULTS_FULL);
    nr_results_row old;
    OK(nr_results_find_eval(db, &upd.key, &old, &e_));
    upd.top1 = 0.25;
    upd.r2 = NAN;
    upd.n = 5;
    upd.run_id = 42;
    OK(nr_results_put_eval(db, &upd, &e_));
    ck_assert_int_eq(upd.id, old.id);
    OK(nr_results_find_eval(db, &upd.key, &got, &e_));
    assert_eval_eq(&upd, &got);
    ck_assert_int_eq(count_evals(db, NULL), N);
    /* filters */
    nr_eval_filter fl = NR_RESULTS_FILTER_ALL;
    fl.kind = NR_RESULTS_SAMPLE;
    ck_assert_int_eq(count_evals(db, &fl), N / 2);
    fl.kind = -1;
    fl.run_id = 42;
    ck_assert_int_eq(count_evals(db, &fl), 1);
    fl.run_id = 0;
    char sh[NR_HASH_HEX];
    snprintf(sh, sizeof sh, "%032x", 0x5bec);
    fl.spec_hash = sh;
    ck_assert_int_eq(count_evals(db, &fl), N); /* i / 97 == 0 for all */
    snprintf(sh, sizeof sh, "%032x", 0x5bed);
    ck_assert_int_eq(count_evals(db, &fl), 0);
    /* created is filled in when left 0 */
    row_for(&row, 1000, NR_RESULTS_FULL);
    row.created = 0;
    OK(nr_results_put_eval(db, &row, &e_));
    ck_assert(row.created > 1.6e9);
    nr_results_close(db);
    rm_tmpdir();
}
END_TEST

START_TEST(bad_rows_rejected)
{
    make_tmpdir();
    char p[300];
    path_in(p, sizeof p, "r.db");
    nr_results *db = open_ok(p);
    nr_results_row row;
    nr_err e = {0};
    row_for(&row, 1, NR_RESULTS_FULL);
    row.key.formats[0] = 0;
    ck_assert_int_eq(nr_results_put_eval(db, &row, &e), -NR_ERANGE);
    ck_assert_msg(strstr(e.msg, "empty formats"), "%s", e.msg);
    nr_err_clear(&e);
    row_for(&row, 1, NR_RESULTS_FULL);
    memset(row.key.mac, 'x', sizeof row.key.mac);
    ck_assert_int_eq(nr_results_put_eval(db, &row, &e), -NR_ERANGE);
    ck_assert_msg(strstr(e.msg, "mac is not NUL-terminated"), "%s", e.msg);
    nr_err_clear(&e);
    row_for(&row, 1, NR_RESULTS_FULL);
    row.key.kind = (nr_results_kind)7;
    ck_assert_int_eq(nr_results_put_eval(db, &row, &e), -NR_ERANGE);
    ck_assert_msg(strstr(e.msg, "kind 7"), "%s", e.msg);
    nr_fit fit = {0};
    fit.ncoef = NR_FIT_MAXCOEF + 1;
    nr_err_clear(&e);
    ck_assert_int_eq(nr_results_put_fit(db, &fit, &e), -NR_ERANGE);
    ck_assert_int_eq(count_evals(db, NULL), 0);
    nr_results_kind k;
    nr_err_clear(&e);
    ck_assert_int_eq(nr_results_kind_parse("fulll", &k, &e), -NR_ESYNTAX);
    ck_assert_msg(strstr(e.msg, "expected full or sample"), "%s", e.msg);
    nr_results_close(db);
    rm_tmpdir();
}
END_TEST

START_TEST(runs_sens_fits)
{
    make_tmpdir();
    char p[300];
    path_in(p, sizeof p, "r.db");
    nr_results *db = open_ok(p);
    nr_run a, b, got;
    nr_results_run_init(&a);
    strcpy(a.network, "resnet20");
    strcpy(a.spec_hash, "00112233445566778899aabbccddeeff");
    strcpy(a.weights_hash, "ffeeddccbbaa99887766554433221100");
    strcpy(a.data_hash, "0123456789abcdef0123456789abcdef");
    a.data_first = 5;
    a.data_count = 1000;
    strcpy(a.method, "fast");
    a.budget = 0.01;
    a.fp32_top1 = 0.9163;
    a.fp32_top5 = NAN;
    a.started = 1.7e9 + 0.125;
    strcpy(a.settings, "--max-loss 1% --jobs 2");
    OK(nr_results_put_run(db, &a, &e_));
    ck_assert_int_gt(a.id, 0);
    b = a;
    b.id = 0;
    strcpy(b.method, "exhaustive");
    OK(nr_results_put_run(db, &b, &e_));
    ck_assert_int_ne(a.id, b.id);
    /* the unfinished run with the same inputs is found again ... */
    nr_run like = a;
    like.id = 0;
    nr_err e = {0};
    ck_assert_int_eq(nr_results_find_open_run(db, &like, &got, &e), 1);
    ck_assert_int_eq(got.id, a.id);
    ck_assert_str_eq(got.settings, a.settings);
    ck_assert(same(got.budget, a.budget) && same(got.fp32_top5, a.fp32_top5));
    ck_assert(isnan(got.finished));
    like.budget = 0.02; /* ... but not under another budget */
    ck_assert_int_eq(nr_results_find_open_run(db, &like, &got, &e), 0);
    /* ... and not once finished */
    a.finished = a.started + 99.5;
    a.chosen_eval = 17;
    OK(nr_results_put_run(db, &a, &e_));
    like.budget = 0.01;
    ck_assert_int_eq(nr_results_find_open_run(db, &like, &got, &e), 0);
    ck_assert_int_eq(nr_results_get_run(db, a.id, &got, &e), 1);
    ck_assert(same(got.finished, a.finished) && same(got.started, a.started));
    ck_assert_int_eq(got.chosen_eval, 17);
    ck_assert_str_eq(got.network, "resnet20");
    ck_assert_int_eq(got.data_first, 5);
    ck_assert_int_eq(nr_results_get_run(db, 999, &got, &e), 0);
    nr_run ghost = a;
    ghost.id = 999;
    ck_assert_int_eq(nr_results_put_run(db, &ghost, &e), -NR_ERANGE);
    ck_assert_msg(strstr(e.msg, "no run with id 999"), "%s", e.msg);

    /* sensitivity: upsert on (run, layer, formats), ordered by layer_index */
    for (int i = 0; i < 6; i++) {
        nr_sens s;
        nr_results_sens_init(&s);
        s.run_id = a.id;
        snprintf(s.layer, sizeof s.layer, "layer%d", 5 - i);
        s.layer_index = 5 - i;
        s.macs = 1000000 + i;
        strcpy(s.formats, i % 2 ? "e4m3" : "e5m2");
        s.n = 10;
        s.top1 = 0.9 - i / 100.0;
        s.norm_acc = 1 - i / 1000.0;
        s.r2 = i ? 0.99 : NAN;
        s.seconds = i * 0.5;
        OK(nr_results_put_sens(db, &s, &e_));
    }
    nr_sens again;
    nr_results_sens_init(&again);
    again.run_id = a.id;
    strcpy(again.layer, "layer5");
    strcpy(again.formats, "e5m2");
    again.layer_index = 5;
    again.norm_acc = 0.5;
    OK(nr_results_put_sens(db, &again, &e_));
    struct {
        int n, last;
        double acc5;
    } seen = {0, -1, 0};
    int sens_cb(const nr_sens *s, void *ctx); /* defined below */
    OK(nr_results_each_sens(db, a.id, sens_cb, &seen, &e_));
    ck_assert_int_eq(seen.n, 6);
    ck_assert(same(seen.acc5, 0.5));
    seen.n = 0, seen.last = -1;
    OK(nr_results_each_sens(db, b.id, sens_cb, &seen, &e_));
    ck_assert_int_eq(seen.n, 0);

    /* predictor fits: coefficients keep every bit; the newest by name wins */
    nr_fit f1 = {0}, f2 = {0}, fg;
    strcpy(f1.name, "r2-linear");
    f1.ncoef = 2;
    f1.coef[0] = -0.1234567890123456789;
    f1.coef[1] = 1.0 / 3;
    f1.npoints = 1020;
    f1.rmse = NAN;
    strcpy(f1.networks, "lenet5,resnet56");
    OK(nr_results_put_fit(db, &f1, &e_));
    f2 = f1;
    strcpy(f2.name, "other");
    f2.ncoef = NR_FIT_MAXCOEF;
    for (int i = 0; i < NR_FIT_MAXCOEF; i++)
        f2.coef[i] = ldexp(1.0 + i / 7.0, -1000 + 300 * i);
    f2.rmse = 0.0125;
    OK(nr_results_put_fit(db, &f2, &e_));
    ck_assert_int_eq(nr_results_latest_fit(db, "r2-linear", &fg, &e), 1);
    ck_assert_int_eq(fg.id, f1.id);
    ck_assert_int_eq(fg.ncoef, 2);
    ck_assert(same(fg.coef[0], f1.coef[0]) && same(fg.coef[1], f1.coef[1]));
    ck_assert(isnan(fg.rmse) && fg.created == f1.created && fg.npoints == 1020);
    ck_assert_str_eq(fg.networks, "lenet5,resnet56");
    ck_assert_int_eq(nr_results_latest_fit(db, NULL, &fg, &e), 1);
    ck_assert_int_eq(fg.ncoef, NR_FIT_MAXCOEF);
    for (int i = 0; i < NR_FIT_MAXCOEF; i++)
        ck_assert(same(fg.coef[i], f2.coef[i]));
    ck_assert_int_eq(nr_results_latest_fit(db, "nope", &fg, &e), 0);
    nr_results_close(db);
    rm_tmpdir();
}
END_TEST

int sens_cb(const nr_sens *s, void *ctx)
{
    struct {
        int n, last;
        double acc5;
    } *seen = ctx;
    ck_assert_int_gt(s->layer_index, seen->last);
    seen->last = s->layer_index;
    if (s->layer_index == 5)
        seen->acc5 = s->norm_acc;
    seen->n++;
    return 0;
}

/* ------------------------------------------------------------ durability */

/* Write rows first..first+count-1 (skipping keys already present), writing
 * each index to fd `ack` after its put returned.  Returns rows written. */
static int writer(const char *path, int first, int count, int ack, int *skipped)
{
    nr_results *db = NULL;
    nr_err e = {0};
    char msg[600];
    if (nr_results_open(path, &db, &e)) {
        nr_err_format(&e, msg, sizeof msg);
        fprintf(stderr, "writer %d: open: %s\n", first, msg);
        return -1;
    }
    int wrote = 0;
    *skipped = 0;
    for (int i = first; i < first + count; i++) {
        nr_results_row row, got;
        row_for(&row, i, NR_RESULTS_FULL);
        int f = nr_results_find_eval(db, &row.key, &got, &e);
        if (f < 0) {
            nr_err_format(&e, msg, sizeof msg);
            fprintf(stderr, "writer %d: find %d: %s\n", first, i, msg);
            return -1;
        }
        if (f == 1) {
            ++*skipped;
            continue;
        }
        if (nr_results_put_eval(db, &row, &e)) {
            nr_err_format(&e, msg, sizeof msg);
            fprintf(stderr, "writer %d: put %d: %s\n", first, i, msg);
            return -1;
        }
        wrote++;
        if (ack >= 0 && write(ack, &i, sizeof i) != sizeof i)
            return -1;
    }
    nr_results_close(db);
    return wrote;
}

/* Present rows must be exactly intact; returns how many of 0..n-1 exist. */
static int check_rows(nr_results *db, int n, char *present)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        nr_results_row row, got;
        row_for(&row, i, NR_RESULTS_FULL);
        nr_err e = {0};
        int f = nr_results_find_eval(db, &row.key, &got, &e);
        ck_assert_msg(f >= 0, "row %d: %s", i, e.msg);
        present[i] = (char)f;
        if (f) {
            assert_eval_eq(&row, &got);
            k++;
        }
    }
    return k;
}

START_TEST(killed_writer_resumes)
{
    make_tmpdir();
    char p[300];
    path_in(p, sizeof p, "kill.db");
    const int N = 300; /* > 3 rounds x at most 60 acks + 1 in flight */
    char *present = calloc((size_t)N, 1);
    int acked_max = -1;
    uint64_t seed = 12345;
    for (int round = 0; round < 3; round++) {
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            int sk;
            _exit(writer(p, 0, N, fds[1], &sk) < 0 ? 3 : 0);
        }
        close(fds[1]);
        /* let it commit a random number of rows, then kill it mid-write */
        int want = 20 + (int)(tu_rand(&seed) % 40), got = 0, idx;
        while (got < want && read(fds[0], &idx, sizeof idx) == sizeof idx) {
            got++;
            if (idx > acked_max)
                acked_max = idx;
        }
        usleep((useconds_t)(tu_rand(&seed) % 3000));
        kill(pid, SIGKILL);
        /* acks already in the pipe were committed too */
        while (read(fds[0], &idx, sizeof idx) == sizeof idx)
            if (idx > acked_max)
                acked_max = idx;
        close(fds[0]);
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                      "writer finished before the kill (status %d): raise N", st);
        nr_results *db = open_ok(p);
        int have = check_rows(db, N, present);
        nr_results_close(db);
        /* rows are written in order: everything up to the last ack is there,
         * at most the one row in flight beyond it */
        for (int i = 0; i <= acked_max; i++)
            ck_assert_msg(present[i], "round %d: row %d was committed, then lost", round, i);
        ck_assert_msg(have == acked_max + 1 || have == acked_max + 2,
                      "round %d: %d rows, last ack %d", round, have, acked_max);
        acked_max = have - 1;
    }
    /* the resumed writer skips every finished key and finishes the rest */
    nr_results *db = open_ok(p);
    int before = check_rows(db, N, present);
    nr_results_close(db);
    int skipped;
    int wrote = writer(p, 0, N, -1, &skipped);
    ck_assert_int_eq(skipped, before);
    ck_assert_int_eq(wrote, N - before);
    db = open_ok(p);
    ck_assert_int_eq(check_rows(db, N, present), N);
    ck_assert_int_eq(count_evals(db, NULL), N);
    nr_results_close(db);
    free(present);
    rm_tmpdir();
}
END_TEST

START_TEST(concurrent_writers)
{
    make_tmpdir();
    char p[300];
    path_in(p, sizeof p, "mpi.db"); /* does not exist yet: both create it */
    const int per = tu_quick() ? 80 : 250, overlap = 40;
    pid_t pids[2];
    for (int r = 0; r < 2; r++) {
        pids[r] = fork();
        ck_assert_int_ge(pids[r], 0);
        if (pids[r] == 0) {
            /* rank r writes [r*(per-overlap), r*(per-overlap)+per): the middle
             * `overlap` keys are written by both */
            int sk;
            int w = writer(p, r * (per - overlap), per, -1, &sk);
            _exit(w < 0 ? 3 : 0);
        }
    }
    for (int r = 0; r < 2; r++) {
        int st;
        ck_assert_int_eq(waitpid(pids[r], &st, 0), pids[r]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "rank %d failed (status %d)", r,
                      st);
    }
    int total = 2 * per - overlap;
    char *present = calloc((size_t)total, 1);
    nr_results *db = open_ok(p);
    ck_assert_int_eq(check_rows(db, total, present), total);
    ck_assert_int_eq(count_evals(db, NULL), total);
    nr_results_close(db);
    free(present);
    rm_tmpdir();
}
END_TEST

/* ------------------------------------------------------------ hostile files */

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void raw_sql(const char *path, const char *sql)
{
    sqlite3 *s;
    ck_assert_int_eq(sqlite3_open(path, &s), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(s, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_close(s);
}

static void expect_open_error(const char *path, int existing, int code, const char *sub)
{
    nr_results *db = (nr_results *)1;
    nr_err e = {0};
    int rc = existing ? nr_results_open_existing(path, &db, &e) : nr_results_open(path, &db, &e);
    char buf[600];
    nr_err_format(&e, buf, sizeof buf);
    ck_assert_msg(rc == -code, "%s: rc %d, want %d (%s)", path, rc, -code, buf);
    ck_assert_ptr_null(db);
    ck_assert_msg(strstr(buf, sub), "%s: message lacks \"%s\": %s", path, sub, buf);
    ck_assert_msg(strstr(buf, path), "message does not name the file: %s", buf);
}

START_TEST(hostile_files)
{
    make_tmpdir();
    char p[300];

    path_in(p, sizeof p, "text.db");
    const char *txt = "this is a text file, not a database\n";
    write_file(p, txt, strlen(txt));
    expect_open_error(p, 0, NR_ECORRUPT, "not an SQLite database");
    /* and it was left alone */
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_eq(sb.st_size, (off_t)strlen(txt));

    path_in(p, sizeof p, "random.db");
    unsigned char junk[8192];
    uint64_t s = 99;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)tu_rand(&s);
    write_file(p, junk, sizeof junk);
    expect_open_error(p, 0, NR_ECORRUPT, "not an SQLite database");

    path_in(p, sizeof p, "other.db");
    raw_sql(p, "CREATE TABLE contacts(name TEXT); INSERT INTO contacts VALUES('x')");
    expect_open_error(p, 0, NR_ECORRUPT, "another program");
    path_in(p, sizeof p, "otherapp.db");
    raw_sql(p, "PRAGMA application_id = 1234; PRAGMA user_version = 1");
    expect_open_error(p, 0, NR_ECORRUPT, "another program");

    path_in(p, sizeof p, "future.db");
    nr_results_close(open_ok(p));
    raw_sql(p, "PRAGMA user_version = 99");
    expect_open_error(p, 0, NR_EUNSUP, "schema version 99; this numrep reads version 3");

    path_in(p, sizeof p, "notables.db");
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
             NR_RESULTS_APP_ID, NR_RESULTS_VERSION);
    raw_sql(p, sql);
    expect_open_error(p, 0, NR_ECORRUPT, "schema does not match version 3");

    path_in(p, sizeof p, "missing.db");
    expect_open_error(p, 1, NR_EIO, "no such file");
    ck_assert_int_ne(access(p, F_OK), 0); /* not created */
    path_in(p, sizeof p, "nodir/x.db");
    expect_open_error(p, 0, NR_EIO, "cannot open");
    expect_open_error(tmpdir, 0, NR_EIO, "not a regular file");

    /* damaged pages: a valid store with rows, then bytes overwritten */
    path_in(p, sizeof p, "damaged.db");
    nr_results *db = open_ok(p);
    for (int i = 0; i < 300; i++) {
        nr_results_row row;
        row_for(&row, i, NR_RESULTS_FULL);
        OK(nr_results_put_eval(db, &row, &e_));
    }
    nr_results_close(db); /* checkpoints the WAL into the file */
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_gt(sb.st_size, 8 * 4096);
    int fd = open(p, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    memset(junk, 0x55, sizeof junk);
    ck_assert_int_eq(pwrite(fd, junk, 4096, 4096 * 3), 4096);
    ck_assert_int_eq(pwrite(fd, junk, 4096, 4096 * 6), 4096);
    close(fd);
    expect_open_error(p, 0, NR_ECORRUPT, "damaged");

    /* hostile values inside a well-formed store */
    path_in(p, sizeof p, "values.db");
    nr_results_close(open_ok(p));
    char big[600];
    memset(big, 'e', 500);
    big[500] = 0;
    char ins[900];
    snprintf(ins, sizeof ins,
             "INSERT INTO evaluations(run_id, formats, rounding, mac, layers, spec_hash, "
             "weights_hash, data_hash, data_first, data_count, kind, n) VALUES(0, '%s', 'rz', "
             "'unfused', '', 'a', 'b', 'c', 0, 10, 'full', 10)",
             big);
    raw_sql(p, ins);
    db = open_ok(p);
    nr_err e = {0};
    int n = 0;
    ck_assert_int_eq(nr_results_each_eval(db, NULL, count_cb, &n, &e), -NR_ECORRUPT);
    ck_assert_msg(strstr(e.msg, "formats: text of 500 bytes, at most 127 fit"), "%s", e.msg);
    ck_assert_str_eq(e.where, "evaluations row 1");
    nr_results_close(db);
    raw_sql(p, "UPDATE evaluations SET formats = 'e4m3', kind = 'bogus'");
    db = open_ok(p);
    nr_err_clear(&e);
    ck_assert_int_eq(nr_results_each_eval(db, NULL, count_cb, &n, &e), -NR_ECORRUPT);
    ck_assert_msg(strstr(e.msg, "kind: \"bogus\": expected full or sample"), "%s", e.msg);
    nr_results_close(db);
    raw_sql(p, "UPDATE evaluations SET kind = 'full'; INSERT INTO predictors(name, coef, "
               "npoints, networks) VALUES('r2-linear', '1 2 banana', 3, '')");
    db = open_ok(p);
    nr_fit fit;
    nr_err_clear(&e);
    ck_assert_int_eq(nr_results_latest_fit(db, NULL, &fit, &e), -NR_ECORRUPT);
    ck_assert_msg(strstr(e.msg, "coef: expected numbers"), "%s", e.msg);
    ck_assert_int_eq(count_evals(db, NULL), 1);
    nr_results_close(db);
    rm_tmpdir();
}
END_TEST

/* A version 1 store (R^2 against the identity) opens as version 2: full
 * rows kept with their R^2 cleared, sample rows and fitted lines gone. */
START_TEST(upgrade_v1)
{
    make_tmpdir();
    char p[512];
    path_in(p, sizeof p, "v1.db");
    nr_results *db = open_ok(p);
    nr_results_row rows[6];
    for (int i = 0; i < 6; i++) {
        row_for(&rows[i], i, i < 4 ? NR_RESULTS_FULL : NR_RESULTS_SAMPLE);
        rows[i].r2 = 0.5 + i / 100.0;
        OK(nr_results_put_eval(db, &rows[i], &e_));
    }
    nr_fit f = {0};
    strcpy(f.name, "r2-linear");
    f.ncoef = 2;
    f.coef[0] = 0.1, f.coef[1] = 0.9;
    OK(nr_results_put_fit(db, &f, &e_));
    nr_results_close(db);
    raw_sql(p, "DROP TABLE baselines; PRAGMA user_version = 1"); /* version 1 had none */

    db = open_ok(p);
    nr_eval_filter all = NR_RESULTS_FILTER_ALL, samples = NR_RESULTS_FILTER_ALL;
    samples.kind = NR_RESULTS_SAMPLE;
    ck_assert_int_eq(count_evals(db, &all), 4);
    ck_assert_int_eq(count_evals(db, &samples), 0);
    for (int i = 0; i < 4; i++) {
        nr_results_row got;
        nr_err e = {0};
        ck_assert_int_eq(nr_results_find_eval(db, &rows[i].key, &got, &e), 1);
        ck_assert(isnan(got.r2));
        rows[i].r2 = NAN;
        assert_eval_eq(&got, &rows[i]);
    }
    nr_fit fg;
    nr_err e = {0};
    ck_assert_int_eq(nr_results_latest_fit(db, "r2-linear", &fg, &e), 0);
    nr_results_close(db);
    /* upgraded in place: a store of this version now */
    db = open_ok(p);
    ck_assert_int_eq(count_evals(db, &all), 4);
    nr_results_close(db);
    rm_tmpdir();
}
END_TEST

/* A version 2 store (no baselines table) opens as version 3 with every
 * row kept as it was, R^2 included, and takes baselines. */
START_TEST(upgrade_v2)
{
    make_tmpdir();
    char p[512];
    path_in(p, sizeof p, "v2.db");
    nr_results *db = open_ok(p);
    nr_results_row rows[4];
    for (int i = 0; i < 4; i++) {
        row_for(&rows[i], i, i < 2 ? NR_RESULTS_FULL : NR_RESULTS_SAMPLE);
        rows[i].r2 = 0.5 + i / 100.0;
        OK(nr_results_put_eval(db, &rows[i], &e_));
    }
    nr_results_close(db);
    raw_sql(p, "DROP TABLE baselines; PRAGMA user_version = 2");
    db = open_ok(p);
    for (int i = 0; i < 4; i++) {
        nr_results_row got;
        { nr_err e1 = {0}; ck_assert_int_eq(nr_results_find_eval(db, &rows[i].key, &got, &e1), 1); }
        assert_eval_eq(&got, &rows[i]);
    }
    float m[3] = {1.5f, -0.25f, 0.0f};
    nr_baseline b = {0}, got;
    strcpy(b.spec_hash, "s"), strcpy(b.weights_hash, "w"), strcpy(b.data_hash, "d");
    b.data_count = 3, b.samples = 2, b.sample_var = 4.0, b.correct = 1;
    b.margin = (nr_f32s){m, 3};
    OK(nr_results_put_baseline(db, &b, &e_));
    { nr_err e1 = {0}; ck_assert_int_eq(nr_results_find_baseline(db, &b, &got, &e1), 1); }
    ck_assert(got.margin.n == 3 && !memcmp(got.margin.v, m, sizeof m));
    nr_results_baseline_free(&got);
    nr_results_close(db);
    rm_tmpdir();
}
END_TEST

/* Baselines: round trip bit for bit, replace in place, key by slice, and
 * hostile rows (a blob of the wrong length, a count that does not match;
 * STRICT keeps other types out) are errors naming the row, never wrong
 * margins. */
START_TEST(baselines)
{
    make_tmpdir();
    char p[512];
    path_in(p, sizeof p, "b.db");
    nr_results *db = open_ok(p);
    float m[5] = {0.5f, -3.0f, 0.0f, INFINITY, -INFINITY};
    nr_baseline b = {0}, got, other;
    strcpy(b.spec_hash, "s"), strcpy(b.weights_hash, "w"), strcpy(b.data_hash, "d");
    b.data_first = 7, b.data_count = 5, b.samples = 10, b.sample_var = 2.5, b.correct = 2;
    b.margin = (nr_f32s){m, 5};
    OK(nr_results_put_baseline(db, &b, &e_));
    { nr_err e1 = {0}; ck_assert_int_eq(nr_results_find_baseline(db, &b, &got, &e1), 1); }
    ck_assert(got.data_first == 7 && got.data_count == 5 && got.samples == 10 &&
              got.sample_var == 2.5 && got.correct == 2 && got.margin.n == 5);
    ck_assert(!memcmp(got.margin.v, m, sizeof m));
    nr_results_baseline_free(&got);
    ck_assert(got.margin.v == NULL && got.margin.n == 0);
    /* another slice is another row; the same slice is replaced */
    other = b;
    other.data_first = 8;
    { nr_err e1 = {0}; ck_assert_int_eq(nr_results_find_baseline(db, &other, &got, &e1), 0); }
    b.samples = 20;
    m[0] = 0.75f;
    b.id = 0;
    OK(nr_results_put_baseline(db, &b, &e_));
    { nr_err e1 = {0}; ck_assert_int_eq(nr_results_find_baseline(db, &b, &got, &e1), 1); }
    ck_assert(got.samples == 20 && got.margin.v[0] == 0.75f);
    nr_results_baseline_free(&got);
    /* a count that does not match the slice is refused on write */
    nr_err e = {0};
    b.margin.n = 4;
    ck_assert_int_eq(nr_results_put_baseline(db, &b, &e), -NR_ERANGE);
    b.margin.n = 5;
    nr_results_close(db);
    /* damaged rows */
    raw_sql(p, "UPDATE baselines SET margin = x'000000'");
    db = open_ok(p);
    nr_err_clear(&e);
    ck_assert_int_eq(nr_results_find_baseline(db, &b, &got, &e), -NR_ECORRUPT);
    ck_assert_msg(strstr(e.msg, "multiple of 4"), "%s", e.msg);
    ck_assert(got.margin.v == NULL);
    nr_results_close(db);
    raw_sql(p, "UPDATE baselines SET margin = x'0000803f'"); /* one float, slice of 5 */
    db = open_ok(p);
    nr_err_clear(&e);
    ck_assert_int_eq(nr_results_find_baseline(db, &b, &got, &e), -NR_ECORRUPT);
    ck_assert_msg(strstr(e.msg, "1 margins for a slice of 5"), "%s", e.msg);
    ck_assert(got.margin.v == NULL);
    nr_results_close(db);
    rm_tmpdir();
}
END_TEST

/* ------------------------------------------------------------ synthetic search data */

/* A deterministic stand-in for a real search over ResNet-20 on CIFAR-10:
 * accuracy falls off with too few exponent bits (range) or too few
 * mantissa bits (precision), R^2 tracks accuracy with noise, and the cost
 * numbers come from the real cost model. */
typedef struct demo {
    nr_results *db;
    uint64_t rng;
    const char *spec, *weights, *data;
    double fp32;
} demo;


static double model_acc(const nr_format *f, uint64_t *rng)
{
    double range, prec;
    if (f->kind == NR_FLOAT) {
        range = 1 / (1 + exp(-4.0 * (f->exp_bits - 2.9)));
        prec = 1 - exp(-0.95 * (f->man_bits + 0.6));
    } else {
        range = 1 / (1 + exp(-3.0 * (f->int_bits - 3.4)));
        prec = 1 - exp(-0.85 * (f->frac_bits - 0.8));
        if (prec < 0)
            prec = 0;
    }
    double a = range * prec;
    a = a * a * (3 - 2 * a); /* networks collapse quickly below a point */
    a += (tu_unif(rng) - 0.5) * 0.006;
    if (a > 1.003)
        a = 1.003;
    return a < 0.1 / 0.9163 ? 0.1 / 0.9163 + tu_unif(rng) * 0.01 : a; /* chance level: 10% */
}

static void demo_eval(demo *d, int64_t run, const nr_format *f, nr_results_kind kind,
                      int64_t count, double acc, nr_results_row *out)
{
    nr_results_row r;
    nr_results_row_init(&r);
    nr_format_name(f, r.key.formats, sizeof r.key.formats);
    strcpy(r.key.rounding, "rz");
    strcpy(r.key.mac, "unfused");
    strcpy(r.key.spec_hash, d->spec);
    strcpy(r.key.weights_hash, d->weights);
    strcpy(r.key.data_hash, d->data);
    r.key.data_first = 0;
    r.key.data_count = count;
    r.key.kind = kind;
    r.run_id = run;
    r.n = r.key.data_count;
    double r2 = 1 - (1 - acc) * (1.15 + 0.3 * tu_unif(&d->rng)) - 0.004 * tu_unif(&d->rng);
    r.r2 = r2 < -0.2 ? -0.2 : r2;
    if (kind == NR_RESULTS_FULL) {
        r.norm_acc = acc;
        r.top1 = acc * d->fp32;
        r.top5 = fmin(1, 0.997 * (0.4 + 0.6 * acc));
        r.seconds = (2.8 + f->width * 0.05 + tu_unif(&d->rng)) * (double)count / 10000;
    } else
        r.seconds = 0.011 + 0.004 * tu_unif(&d->rng);
    nr_cost c;
    nr_err e = {0};
    if (nr_cost_mac(&nr_cost_default, f, NULL, NULL, &c, &e) == 0) {
        r.speedup = c.speedup;
        r.speedup_fixed_clock = c.speedup_fixed_clock;
        r.energy_ratio = c.energy_ratio;
    }
    OK(nr_results_put_eval(d->db, &r, &e_));
    if (out)
        *out = r;
}

static int64_t demo_run(demo *d, const char *method, double start, const char *settings,
                        int64_t count)
{
    nr_run run;
    nr_results_run_init(&run);
    strcpy(run.network, "resnet20");
    strcpy(run.spec_hash, d->spec);
    strcpy(run.weights_hash, d->weights);
    strcpy(run.data_hash, d->data);
    run.data_count = count;
    strcpy(run.method, method);
    run.budget = 0.01;
    run.fp32_top1 = d->fp32;
    run.fp32_top5 = 0.9974;
    run.started = start;
    snprintf(run.settings, sizeof run.settings, "%s", settings);
    OK(nr_results_put_run(d->db, &run, &e_));
    return run.id;
}

static void demo_finish(demo *d, int64_t id, double secs, int64_t chosen)
{
    nr_run run;
    OK(nr_results_get_run(d->db, id, &run, &e_));
    run.finished = run.started + secs;
    run.chosen_eval = chosen;
    OK(nr_results_put_run(d->db, &run, &e_));
}

static int make_demo(const char *path, uint64_t seed)
{
    demo d = {.rng = seed, .spec = "9f1c2a6b30d54e7f8a1b2c3d4e5f6071",
              .weights = "0a1b2c3d4e5f60718293a4b5c6d7e8f9", .data = "5d41402abc4b2a76b9719d911017c592",
              .fp32 = 0.9163};
    d.db = open_ok(path);
    /* the grid: float e2..e8 x m0..m12, fixed q1..q8 x f0..f12 */
    nr_format grid[256];
    double acc[256];
    int n = 0;
    nr_err e = {0};
    for (int eb = 2; eb <= 8; eb++)
        for (int mb = 0; mb <= 12; mb++)
            if (nr_format_float(&grid[n], eb, mb, &e) == 0)
                n++;
    for (int ib = 1; ib <= 8; ib++)
        for (int fb = 0; fb <= 12; fb++)
            if (nr_format_fixed(&grid[n], ib, fb, 1, &e) == 0)
                n++;
    for (int i = 0; i < n; i++)
        acc[i] = model_acc(&grid[i], &d.rng);

    /* exhaustive: every configuration on a fixed 2000-image subset */
    double t0 = 1.7e9;
    int64_t ex = demo_run(&d, "exhaustive", t0, "--method exhaustive --max-loss 1%", 2000);
    int best = -1;
    double best_sp = 0;
    nr_results_row row;
    for (int i = 0; i < n; i++) {
        demo_eval(&d, ex, &grid[i], NR_RESULTS_FULL, 2000, acc[i], &row);
        if (acc[i] >= 0.99 && row.speedup > best_sp)
            best = i, best_sp = row.speedup;
    }
    int64_t best_id = 0;
    if (best >= 0) {
        demo_eval(&d, ex, &grid[best], NR_RESULTS_FULL, 10000, acc[best], &row);
        best_id = row.id;
    }
    demo_finish(&d, ex, 0.66 * n + 40, best_id);

    /* fast: ten inputs per configuration, then full evaluations around the
     * predicted boundary (the best one is already in the store) */
    int64_t fa = demo_run(&d, "fast", t0 + 1e5, "--method fast --max-loss 1%", 10000);
    for (int i = 0; i < n; i++)
        demo_eval(&d, fa, &grid[i], NR_RESULTS_SAMPLE, 10, acc[i], NULL);
    if (best >= 1 && best + 1 < n) {
        demo_eval(&d, fa, &grid[best - 1], NR_RESULTS_FULL, 10000, acc[best - 1], NULL);
        demo_eval(&d, fa, &grid[best + 1], NR_RESULTS_FULL, 10000, acc[best + 1], NULL);
    }
    demo_finish(&d, fa, 0.013 * n + 2 * 3.3 + 2, best_id);

    /* per-layer: sensitivity of each layer in e4m2, then a mixed answer */
    int64_t pl = demo_run(&d, "per-layer", t0 + 2e5, "--per-layer --max-loss 1%", 10000);
    static const char *const layers[] = {"conv1", "s1b1c1", "s1b1c2", "s1b2c1", "s1b2c2",
                                         "s1b3c1", "s1b3c2", "s2b1c1", "s2b1c2", "s2b1sc",
                                         "s2b2c1", "s2b2c2", "s2b3c1", "s2b3c2", "s3b1c1",
                                         "s3b1c2", "s3b1sc", "s3b2c1", "s3b2c2", "s3b3c1",
                                         "s3b3c2", "fc"};
    int nl = (int)(sizeof layers / sizeof layers[0]);
    for (int l = 0; l < nl; l++)
        for (int k = 0; k < 2; k++) {
            nr_sens s;
            nr_results_sens_init(&s);
            s.run_id = pl;
            snprintf(s.layer, sizeof s.layer, "%s", layers[l]);
            s.layer_index = l;
            s.macs = l == 0 ? 442368 : l == nl - 1 ? 640 : strstr(layers[l], "sc") ? 131072
                                                                                      : 2359296;
            strcpy(s.formats, k ? "e4m2" : "e4m3");
            double base = (l == 0 || l == nl - 1) ? 0.02 : 0.004 + 0.004 * tu_unif(&d.rng);
            s.norm_acc = 1 - base * (k ? 2.2 : 1) * (0.7 + 0.6 * tu_unif(&d.rng));
            s.top1 = s.norm_acc * d.fp32;
            s.r2 = 1 - (1 - s.norm_acc) * 1.2;
            s.n = 500;
            s.seconds = 0.15 + 0.05 * tu_unif(&d.rng);
            OK(nr_results_put_sens(d.db, &s, &e_));
        }
    nr_format mixed;
    nr_format_float(&mixed, 4, 2, &e);
    nr_results_row_init(&row);
    demo_eval(&d, pl, &mixed, NR_RESULTS_FULL, 10000, 0.982, &row);
    nr_results_row pr = row;
    pr.id = 0;
    strcpy(pr.key.layers, "conv1=e4m3,fc=e4m3,*=e4m2");
    pr.speedup *= 0.97;
    pr.energy_ratio *= 0.96;
    pr.norm_acc = 0.9931;
    pr.top1 = pr.norm_acc * d.fp32;
    OK(nr_results_put_eval(d.db, &pr, &e_));
    demo_finish(&d, pl, 60, pr.id);

    nr_fit fit = {0};
    strcpy(fit.name, "r2-linear");
    fit.ncoef = 2;
    fit.coef[0] = 0.142;
    fit.coef[1] = 0.861;
    fit.npoints = 1020;
    fit.rmse = 0.031;
    strcpy(fit.networks, "lenet5,resnet56,mobilenet_v1");
    OK(nr_results_put_fit(d.db, &fit, &e_));
    nr_results_close(d.db);
    printf("%s: %d configurations; exhaustive answer %s\n", path, n,
           best >= 0 ? "found" : "none");
    return 0;
}

/* ------------------------------------------------------------ numrep report */

static int run_cmd(const char *cmd, char *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t k = fread(out, 1, n - 1, p);
    out[k] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

START_TEST(report_empty_and_full)
{
    const char *bin = tu_numrep_bin();
    if (!bin) {
        tu_skip("report_empty_and_full: NUMREP_BIN not set");
        return;
    }
    make_tmpdir();
    char db[300], html[300], cmd[1200], out[4096];
    path_in(db, sizeof db, "empty.db");
    path_in(html, sizeof html, "r.html");
    nr_results_close(open_ok(db));
    snprintf(cmd, sizeof cmd, "'%s' report '%s' -o '%s' 2>&1", bin, db, html);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "no search runs in this database"), "%s", out);
    ck_assert_int_ne(access(html, F_OK), 0);
    /* not a database */
    write_file(db, "nope", 4);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "not an SQLite database"), "%s", out);
    /* missing file is not created */
    path_in(db, sizeof db, "missing.db");
    snprintf(cmd, sizeof cmd, "'%s' report '%s' -o '%s' 2>&1", bin, db, html);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "no such file"), "%s", out);
    ck_assert_int_ne(access(db, F_OK), 0);

    path_in(db, sizeof db, "full.db");
    make_demo(db, 7);
    snprintf(cmd, sizeof cmd, "'%s' report '%s' -o '%s' 2>&1", bin, db, html);
    ck_assert_msg(run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    char *s = slurp(html);
    ck_assert_ptr_nonnull(s);
    /* self-contained: no external resources */
    ck_assert_ptr_null(strstr(s, "src=\"http"));
    ck_assert_ptr_null(strstr(s, "href=\"http"));
    ck_assert_ptr_null(strstr(s, "@NUMREP_DATA@"));
    /* the default run is the newest (per-layer); its chosen config is there */
    ck_assert_msg(strstr(s, "conv1=e4m3,fc=e4m3,*=e4m2"), "chosen configuration missing");
    ck_assert_msg(strstr(s, "\"network\":\"resnet20\""), "network missing");
    free(s);
    /* --run picks another run; a bad one is a clear error */
    snprintf(cmd, sizeof cmd, "'%s' report '%s' -o '%s' --run 1 2>&1", bin, db, html);
    ck_assert_msg(run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    s = slurp(html);
    ck_assert_msg(strstr(s, "\"method\":\"exhaustive\""), "run 1 not reported");
    free(s);
    snprintf(cmd, sizeof cmd, "'%s' report '%s' -o '%s' --run 77 2>&1", bin, db, html);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "no run with id 77"), "%s", out);
    snprintf(cmd, sizeof cmd, "'%s' report '%s' 2>&1", bin, db);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "-o"), "%s", out);
    rm_tmpdir();
}
END_TEST

/* --demo runs make_demo as a test of its own: the ck_assert* calls it
 * makes need the check runner around them. */
START_TEST(demo_only)
{
    const char *seed = getenv("NUMREP_DEMO_SEED");
    make_demo(getenv("NUMREP_DEMO_DB"), seed ? strtoull(seed, NULL, 10) : 7);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--demo")) {
        setenv("NUMREP_DEMO_DB", argv[2], 1);
        if (argc > 3)
            setenv("NUMREP_DEMO_SEED", argv[3], 1);
        Suite *s = suite_create("demo");
        TCase *tc = tcase_create("demo");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, demo_only);
        suite_add_tcase(s, tc);
        return tu_run(s);
    }
    Suite *s = suite_create("results");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, hash_vectors);
    tcase_add_test(tc, eval_round_trip);
    tcase_add_test(tc, bad_rows_rejected);
    tcase_add_test(tc, runs_sens_fits);
    tcase_add_test(tc, killed_writer_resumes);
    tcase_add_test(tc, concurrent_writers);
    tcase_add_test(tc, hostile_files);
    tcase_add_test(tc, upgrade_v1);
    tcase_add_test(tc, upgrade_v2);
    tcase_add_test(tc, baselines);
    tcase_add_test(tc, report_empty_and_full);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
