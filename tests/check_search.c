/* check_search.c -- the precision search (runtime/study/search.c) and its
 * predictor (runtime/study/predictor.c): R^2 against hand-worked values, the
 * least-squares line on synthetic points and from a store, the design
 * space's order, and on LeNet-5 with a slice of MNIST: the fast method
 * agrees with exhaustive using at most 3 full evaluations, a search stopped
 * part-way resumes without repeating any stored evaluation, a repeated
 * query computes nothing, and per-layer lowering stays within budget. */
#include "testutil.h"
#include "search.h"
#include "emulator.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/check_search.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

#define OK(call)                                                                   \
    do {                                                                           \
        nr_err e_ = {0};                                                           \
        int rc_ = (call);                                                          \
        char b_[600];                                                              \
        nr_err_format(&e_, b_, sizeof b_);                                         \
        ck_assert_msg(rc_ >= 0, "%s: %d %s", #call, rc_, b_);                      \
    } while (0)

/* ------------------------------------------------------------ R^2 */

START_TEST(test_r2_hand)
{
    /* y: mean 2.75, ref: mean 2.5; centred sums syr = 6.5, syy = 8.75,
     * srr = 5: R^2 = 6.5^2 / (8.75 * 5) = 169/175 */
    const float ref[] = {1, 2, 3, 4}, y[] = {1, 2, 3, 5};
    ck_assert(fabs(nr_predictor_r2(y, ref, 4) - 169.0 / 175.0) < 1e-15);
    ck_assert(nr_predictor_r2(ref, ref, 4) == 1.0);
    /* an offset or a scale explains everything (the old identity R^2 gave
     * 0.2 for y = ref - 1); an inverse relation explains nothing */
    const float y2[] = {0, 1, 2, 3}, y3[] = {3, 5, 7, 9}, y4[] = {-1, -2, -3, -4};
    ck_assert(fabs(nr_predictor_r2(y2, ref, 4) - 1.0) < 1e-15);
    ck_assert(fabs(nr_predictor_r2(y3, ref, 4) - 1.0) < 1e-15);
    ck_assert(nr_predictor_r2(y4, ref, 4) == 0.0);
    /* two samples of 3 outputs, pooled: both means 1; syr = 4, syy = 4.5,
     * srr = 4: R^2 = 16/18 */
    const float r6[] = {0, 1, 2, 2, 1, 0}, y6[] = {0.5f, 1, 2, 2, 1, -0.5f};
    ck_assert(fabs(nr_predictor_r2(y6, r6, 6) - 16.0 / 18.0) < 1e-15);
    /* far from zero: centred sums keep the digits (1e6 + the same pattern) */
    float r7[6], y7[6];
    for (int i = 0; i < 6; i++)
        r7[i] = 1e6f + r6[i], y7[i] = 1e6f + y6[i];
    ck_assert(fabs(nr_predictor_r2(y7, r7, 6) - 16.0 / 18.0) < 1e-12);
    /* non-finite outputs and no outputs: the floor */
    const float yn[] = {1, NAN, 3, 4}, yi[] = {1, 2, INFINITY, 4};
    ck_assert(nr_predictor_r2(yn, ref, 4) == NR_R2_FLOOR);
    ck_assert(nr_predictor_r2(yi, ref, 4) == NR_R2_FLOOR);
    ck_assert(nr_predictor_r2(y, ref, 0) == NR_R2_FLOOR);
    /* constant sides: equal gives 1, else nothing is explained */
    const float c[] = {2, 2, 2}, c2[] = {2, 2, 2.5f};
    ck_assert(nr_predictor_r2(c, c, 3) == 1.0);
    ck_assert(nr_predictor_r2(c2, c, 3) == 0.0);
    ck_assert(nr_predictor_r2(c, c2, 3) == 0.0);
    /* one huge wrong output dominates: the correlation turns negative */
    const float yb[] = {1e30f, 2, 3, 4};
    ck_assert(nr_predictor_r2(yb, ref, 4) == 0.0);
    const float yb2[] = {1, 2, 3, 1e30f};
    double rb = nr_predictor_r2(yb2, ref, 4);
    ck_assert(rb > 0.5 && rb < 0.7); /* 0.6: the outlier's direction is right */
}
END_TEST

/* ------------------------------------------------------------ the line */

START_TEST(test_fit_synthetic)
{
    /* exact points on acc = 0.25 + 0.75 x */
    double x[] = {0.1, 0.5, 0.9, 0.99, 0.0}, y[5];
    for (int i = 0; i < 5; i++)
        y[i] = 0.25 + 0.75 * x[i];
    nr_predictor p = {.model = NR_PRED_R2};
    OK(nr_predictor_fit(x, y, 5, &p, &e_));
    ck_assert(fabs(p.c0 - 0.25) < 1e-12 && fabs(p.c1 - 0.75) < 1e-12);
    ck_assert(p.rmse < 1e-12 && p.npoints == 5 && p.model == NR_PRED_R2);
    /* r2-linear clamps R^2 to [0, 1] when applied */
    ck_assert(fabs(nr_predictor_apply(&p, NULL, 2.0) - 1.0) < 1e-12);
    ck_assert(fabs(nr_predictor_apply(&p, NULL, -3.0) - 0.25) < 1e-12);
    ck_assert(fabs(nr_predictor_apply(&p, NULL, NR_R2_FLOOR) - 0.25) < 1e-12);
    /* margin-linear without a noise model predicts nothing */
    nr_predictor pm = {.model = NR_PRED_MARGIN, .c0 = 0, .c1 = 1};
    ck_assert(isnan(nr_predictor_apply(&pm, NULL, 0.5)));
    /* noisy points symmetric about the line: same line, rmse = the noise */
    double xs[] = {0.2, 0.2, 0.8, 0.8}, ys[] = {0.3 + 0.1, 0.3 - 0.1, 0.9 + 0.1, 0.9 - 0.1};
    OK(nr_predictor_fit(xs, ys, 4, &p, &e_));
    ck_assert(fabs(p.c1 - 1.0) < 1e-12 && fabs(p.c0 - 0.1) < 1e-12);
    ck_assert(fabs(p.rmse - 0.1) < 1e-12);
    /* degenerate inputs */
    nr_err e = {0};
    ck_assert_int_eq(nr_predictor_fit(x, y, 1, &p, &e), -NR_ERANGE);
    ck_assert(strstr(e.msg, "at least 2"));
    double same[] = {0.5, 0.5, 0.5};
    nr_err_clear(&e);
    ck_assert_int_eq(nr_predictor_fit(same, y, 3, &p, &e), -NR_ERANGE);
    ck_assert(strstr(e.msg, "same x"));
}
END_TEST

/* The noise model against values computed here from its definition. */
START_TEST(test_noise_model)
{
    /* one right sample, margin 1, output variance 1: at R^2 = 0.5 the noise
     * on a difference of two outputs has s = sqrt(2 var (1 - R^2) / R^2) =
     * sqrt 2, and the sample stays right with probability Phi(1 / s) */
    float one[] = {1.0f};
    nr_noise_model nm;
    OK(nr_pred_noise_model_init(&nm, 1.0, one, 1, 1, &e_));
    double want = 0.5 * erfc(-1.0 / (sqrt(2.0) * sqrt(2.0)));
    ck_assert_msg(fabs(nr_pred_noise_model_accuracy(&nm, 0.5) - want) < 1e-12, "%.17g vs %.17g",
                  nr_pred_noise_model_accuracy(&nm, 0.5), want);
    ck_assert(nr_pred_noise_model_accuracy(&nm, 1.0) == 1.0);
    ck_assert(nr_pred_noise_model_accuracy(&nm, 0.0) == 0.5);       /* a coin */
    ck_assert(nr_pred_noise_model_accuracy(&nm, NR_R2_FLOOR) == 0.5);
    ck_assert(nr_pred_noise_model_accuracy(&nm, NAN) == 0.5);

    /* 9 of 10 right; a wrong sample can turn right: at R^2 = 1 exactly fp32 */
    float m10[10];
    for (int i = 0; i < 10; i++)
        m10[i] = i < 9 ? 0.5f * (float)(i + 1) : -0.25f;
    OK(nr_pred_noise_model_init(&nm, 3.0, m10, 10, 9, &e_));
    ck_assert(nr_pred_noise_model_accuracy(&nm, 1.0) == 1.0);
    double r = 0.9, s = sqrt(2 * 3.0 * (1 - r) / r), sum = 0;
    for (int i = 0; i < 10; i++)
        sum += 0.5 * erfc(-(double)m10[i] / (s * sqrt(2.0)));
    ck_assert(fabs(nr_pred_noise_model_accuracy(&nm, r) - sum / 9) < 1e-12);
    /* non-decreasing in R^2 on a fine sweep (the raw model is, here) */
    double prev = -1;
    for (int i = 0; i <= 2000; i++) {
        double x = nr_pred_noise_model_accuracy(&nm, i / 2000.0);
        ck_assert_msg(x >= prev - 1e-15, "R^2 %g: %.17g after %.17g", i / 2000.0, x, prev);
        prev = x;
    }

    /* 3 of 10 right: a coin would "predict" 5 right, more than fp32's 3;
     * the model never rises as R^2 falls (at the grid points), and never
     * exceeds its value at R^2 = 1 */
    float m3[10];
    for (int i = 0; i < 10; i++)
        m3[i] = i < 3 ? 1.0f : -0.1f * (float)i;
    OK(nr_pred_noise_model_init(&nm, 1.0, m3, 10, 3, &e_));
    double top = nr_pred_noise_model_accuracy(&nm, 1.0);
    ck_assert(top == 1.0);
    prev = -1;
    for (int j = 0; j <= NR_NOISE_GRID; j++) {
        double g = 1.0 - pow(10.0, -j / 8.0), x = nr_pred_noise_model_accuracy(&nm, g);
        ck_assert_msg(x >= prev - 1e-15 && x <= top, "grid %d: %.17g after %.17g", j, x, prev);
        prev = x;
    }
    ck_assert(nr_pred_noise_model_accuracy(&nm, 0.0) <= 1.0);

    /* infinite margins (a NaN label score is -inf: never right) */
    float inf[] = {INFINITY, -INFINITY};
    OK(nr_pred_noise_model_init(&nm, 1.0, inf, 2, 1, &e_));
    ck_assert(nr_pred_noise_model_accuracy(&nm, 0.5) == 1.0);

    /* what cannot make a model */
    nr_err e = {0};
    ck_assert_int_eq(nr_pred_noise_model_init(&nm, 1.0, one, 1, 0, &e), -NR_ERANGE);
    nr_err_clear(&e);
    ck_assert_int_eq(nr_pred_noise_model_init(&nm, NAN, one, 1, 1, &e), -NR_ERANGE);
    nr_err_clear(&e);
    ck_assert_int_eq(nr_pred_noise_model_init(&nm, 1.0, one, 0, 0, &e), -NR_ERANGE);
    float withnan[] = {1.0f, NAN};
    nr_err_clear(&e);
    ck_assert_int_eq(nr_pred_noise_model_init(&nm, 1.0, withnan, 2, 1, &e), -NR_ERANGE);
    ck_assert_msg(strstr(e.msg, "sample 1 is NaN"), "%s", e.msg);
}
END_TEST

/* The predictor in a run's settings: both spellings, and none. */
START_TEST(test_settings_predictor)
{
    nr_predictor p;
    ck_assert_int_eq(nr_search_settings_predictor(
                         "engine=jit samples=10 predictor=margin-linear:-4.16+5.2286*x", &p), 0);
    ck_assert(p.model == NR_PRED_MARGIN && p.c0 == -4.16 && p.c1 == 5.2286);
    ck_assert_int_eq(nr_search_settings_predictor("engine=jit predictor=0.25+0.75*r2", &p), 0);
    ck_assert(p.model == NR_PRED_R2 && p.c0 == 0.25 && p.c1 == 0.75);
    ck_assert_int_eq(nr_search_settings_predictor("engine=jit samples=10", &p), -1);
    ck_assert_int_eq(nr_search_settings_predictor("predictor=cubic:1+2*x", &p), -1);
    ck_assert_int_eq(nr_search_settings_predictor("predictor=1*x", &p), -1);
}
END_TEST

static void put_point(nr_results *db, const char *spec_hash, const char *fmt, double r2,
                      double acc, const char *layers)
{
    nr_results_row row;
    nr_results_row_init(&row);
    snprintf(row.key.formats, sizeof row.key.formats, "%s", fmt);
    snprintf(row.key.rounding, sizeof row.key.rounding, "rz");
    snprintf(row.key.mac, sizeof row.key.mac, "unfused");
    snprintf(row.key.layers, sizeof row.key.layers, "%s", layers);
    snprintf(row.key.spec_hash, NR_HASH_HEX, "%s", spec_hash);
    snprintf(row.key.weights_hash, NR_HASH_HEX, "w");
    snprintf(row.key.data_hash, NR_HASH_HEX, "d");
    row.key.data_count = 100;
    row.key.kind = NR_RESULTS_FULL;
    row.n = 100;
    row.r2 = r2;
    row.norm_acc = acc;
    row.top1 = acc * 0.9;
    OK(nr_results_put_eval(db, &row, &e_));
}

static void put_run(nr_results *db, const char *net, const char *spec_hash)
{
    nr_run run;
    nr_results_run_init(&run);
    snprintf(run.network, sizeof run.network, "%s", net);
    snprintf(run.spec_hash, NR_HASH_HEX, "%s", spec_hash);
    snprintf(run.weights_hash, NR_HASH_HEX, "w");
    snprintf(run.data_hash, NR_HASH_HEX, "d");
    snprintf(run.method, sizeof run.method, "exhaustive");
    run.budget = 0.01;
    OK(nr_results_put_run(db, &run, &e_));
}

START_TEST(test_fit_db)
{
    make_tmpdir();
    char path[300], ypath[300];
    snprintf(path, sizeof path, "%s/r.db", tmpdir);
    snprintf(ypath, sizeof ypath, "%s/p.yaml", tmpdir);
    nr_results *db = NULL;
    OK(nr_results_open(path, &db, &e_));
    put_run(db, "neta", "aaaa");
    put_run(db, "netb", "bbbb");
    put_run(db, "netc", "cccc");
    /* a: acc = r2 (slope 1), b and c: acc = 0.5 + 0.5 r2; rows that must be
     * ignored: the fp32 baseline, a per-layer row, a row without R^2 */
    const double xs[] = {0.1, 0.4, 0.7, 0.95};
    char fmt[16];
    for (int i = 0; i < 4; i++) {
        snprintf(fmt, sizeof fmt, "e%dm3", i + 3);
        put_point(db, "aaaa", fmt, xs[i], xs[i], "");
        put_point(db, "bbbb", fmt, xs[i], 0.5 + 0.5 * xs[i], "");
        put_point(db, "cccc", fmt, xs[i] / 2, 0.5 + 0.25 * xs[i], "");
    }
    put_point(db, "bbbb", "fp32", 0.0, 0.0, "");
    put_point(db, "bbbb", "e5m3", 0.0, 0.0, "conv1=e3m3");
    put_point(db, "cccc", "e9m3", NAN, 0.0, "");
    nr_predictor p = {.model = NR_PRED_R2};
    OK(nr_predictor_fit_db(db, "neta", &p, NULL, &e_));
    ck_assert(fabs(p.c0 - 0.5) < 1e-12 && fabs(p.c1 - 0.5) < 1e-12);
    ck_assert_int_eq(p.npoints, 8);
    ck_assert_str_eq(p.networks, "netb,netc");
    OK(nr_predictor_fit_db(db, NULL, &p, NULL, &e_));
    ck_assert_int_eq(p.npoints, 12);
    /* fit_min keeps the points at or above it: b's and c's x >= 0.4 */
    p.fit_min = 0.4;
    OK(nr_predictor_fit_db(db, "neta", &p, NULL, &e_));
    ck_assert_int_eq(p.npoints, 4); /* b: 0.4, 0.7, 0.95; c: 0.475 */
    ck_assert(fabs(p.c0 - 0.5) < 1e-12 && fabs(p.c1 - 0.5) < 1e-12);
    p.fit_min = 0;
    OK(nr_predictor_fit_db(db, NULL, &p, NULL, &e_));
    /* save / load round trip */
    OK(nr_predictor_save(ypath, &p, &e_));
    nr_predictor q;
    OK(nr_predictor_load(ypath, &q, &e_));
    ck_assert(q.c0 == p.c0 && q.c1 == p.c1 && q.npoints == p.npoints && q.model == p.model);
    ck_assert_str_eq(q.networks, p.networks);

    /* margin-linear: x needs the slice's baseline; only netb has one, so
     * neta's and netc's rows are skipped, and netb's x are the noise
     * model's for their R^2 */
    float margin[100];
    for (int i = 0; i < 100; i++)
        margin[i] = i < 90 ? (float)(0.05 * (i + 1)) : (float)(-0.5 * (i - 89));
    nr_baseline b = {0};
    snprintf(b.spec_hash, NR_HASH_HEX, "bbbb");
    snprintf(b.weights_hash, NR_HASH_HEX, "w");
    snprintf(b.data_hash, NR_HASH_HEX, "d");
    b.data_count = 100;
    b.samples = 10;
    b.sample_var = 2.0;
    b.correct = 90;
    b.margin = (nr_f32s){margin, 100};
    OK(nr_results_put_baseline(db, &b, &e_));
    nr_noise_model nm;
    OK(nr_pred_noise_model_init(&nm, 2.0, margin, 100, 90, &e_));
    double bx[4], by[4];
    for (int i = 0; i < 4; i++) {
        bx[i] = nr_pred_noise_model_accuracy(&nm, xs[i]);
        by[i] = 0.5 + 0.5 * xs[i];
    }
    nr_predictor want = {.model = NR_PRED_MARGIN};
    OK(nr_predictor_fit(bx, by, 4, &want, &e_));
    nr_predictor pm = {.model = NR_PRED_MARGIN};
    int skipped = -1;
    OK(nr_predictor_fit_db(db, NULL, &pm, &skipped, &e_));
    ck_assert_int_eq(pm.npoints, 4);
    ck_assert_int_eq(skipped, 8);
    ck_assert_str_eq(pm.networks, "netb");
    ck_assert(fabs(pm.c0 - want.c0) < 1e-12 && fabs(pm.c1 - want.c1) < 1e-12);
    ck_assert(fabs(nr_predictor_apply(&pm, &nm, 0.7) - (want.c0 + want.c1 * bx[2])) < 1e-12);
    OK(nr_predictor_save(ypath, &pm, &e_));
    OK(nr_predictor_load(ypath, &q, &e_));
    ck_assert(q.model == NR_PRED_MARGIN && q.c0 == pm.c0 && q.c1 == pm.c1);
    /* fit_min above every x: too few points, and the message says why */
    pm.fit_min = 2.0;
    nr_err em = {0};
    ck_assert_int_eq(nr_predictor_fit_db(db, NULL, &pm, NULL, &em), -NR_ERANGE);
    ck_assert_msg(strstr(em.msg, "lack their slice's fp32 baseline"), "%s", em.msg);
    /* too few points once everything is excluded but one network */
    nr_results_close(db);
    snprintf(path, sizeof path, "%s/empty.db", tmpdir);
    OK(nr_results_open(path, &db, &e_));
    nr_err e = {0};
    ck_assert_int_eq(nr_predictor_fit_db(db, NULL, &p, NULL, &e), -NR_ERANGE);
    ck_assert(strstr(e.msg, "exhaustive"));
    nr_results_close(db);
    /* a hostile predictor file */
    FILE *f = fopen(ypath, "w");
    fputs("model: r2-cubic\nc0: 1\nc1: x\n", f);
    fclose(f);
    nr_err_clear(&e);
    ck_assert(nr_predictor_load(ypath, &q, &e) < 0);
    ck_assert_msg(e.line > 0, "error has a line");
    rm_tmpdir();
}
END_TEST

/* ------------------------------------------------------------ design space */

/* The fast method's stepping on synthetic R^2 (no network): with a true
 * threshold T (pass iff R^2 >= T) it must find the first configuration in
 * rank order at or above T, asking only about records, none twice, in 1
 * question when the line picks the first record and it passes, 2 when the
 * line picks the answer, and O(log records) whatever the line. */
typedef struct oracle {
    const double *r2;
    double t;
    int n, asked, seen[64];
    int stop_at;      /* answer NR_SEARCH_STOP at this question (0: never) */
} oracle;

static int oracle_verdict(void *p, int i, nr_err *err)
{
    (void)err;
    oracle *o = p;
    ck_assert_int_lt(i, o->n);
    ck_assert_msg(!o->seen[i], "configuration %d asked twice", i);
    for (int j = 0; j < i; j++)
        ck_assert_msg(o->r2[j] < o->r2[i], "configuration %d is not a record", i);
    o->seen[i] = 1;
    if (++o->asked == o->stop_at)
        return NR_SEARCH_STOP;
    return o->r2[i] >= o->t;
}

START_TEST(test_records_stepping)
{
    uint64_t s = 0x5eed;
    int windowed = 0;
    for (int trial = 0; trial < 20000; trial++) {
        int n = 1 + (int)(tu_rand(&s) % 60);
        double r2[64];
        for (int i = 0; i < n; i++) /* coarse values: ties happen */
            r2[i] = (double)(int)(tu_rand(&s) % 40) / 32.0 - 0.2;
        if (trial & 1) /* mostly increasing: many records (random order has ~ln n) */
            for (int i = 1; i < n; i++)
                if (r2[i] < r2[i - 1] && tu_rand(&s) % 8)
                    r2[i] = r2[i - 1] + (double)(tu_rand(&s) % 3) / 64.0;
        double t = r2[tu_rand(&s) % (uint64_t)n] + (tu_rand(&s) % 3 == 0 ? 1e-3 : 0);
        int want = -1;
        for (int i = 0; i < n && want < 0; i++)
            if (r2[i] >= t)
                want = i;
        int rec[64], m = nr_search_records(r2, n, rec);
        /* a line that is right, or off by a random amount */
        double target = 0.99, c1 = 0.5 + (double)(tu_rand(&s) % 100) / 50.0;
        double tp = tu_rand(&s) % 4 == 0 ? t : t + ((double)(tu_rand(&s) % 200) - 100.0) / 100.0;
        nr_predictor pred = {.c0 = target - c1 * tp, .c1 = c1};
        double predicted[64];
        for (int i = 0; i < n; i++)
            predicted[i] = nr_predictor_apply(&pred, NULL, r2[i]);
        oracle o = {.r2 = r2, .t = t, .n = n};
        nr_err err = {0};
        int chosen = -2;
        ck_assert_int_eq(nr_search_step_records(r2, n, predicted, target, oracle_verdict, &o, &chosen,
                                                &err), 0);
        ck_assert_msg(chosen == want, "trial %d: chose %d, the answer is %d", trial, chosen, want);
        int lg = 0;
        while ((1 << lg) < m + 1)
            lg++;
        ck_assert_msg(o.asked <= 2 * lg + 3, "trial %d: %d questions for %d records", trial,
                      o.asked, m);
        /* the first question: the first record the line puts at or above
         * target, k; an answer within k-2 .. k+3 records takes at most 3
         * questions (the most 3 can confirm; docs/search.md), and the
         * first record as the answer is confirmed by its pass alone */
        int k = 0, ka = 0;
        while (k < m - 1 && predicted[rec[k]] < target)
            k++;
        while (ka < m && rec[ka] != want)
            ka++;
        if (want >= 0 && ka - k >= -2 && ka - k <= 3) {
            ck_assert_msg(o.asked <= 3, "trial %d: %d questions for an answer %d records from "
                          "the start", trial, o.asked, ka - k);
            windowed++;
        }
        if (want >= 0 && ka == 0 && k == 0)
            ck_assert_int_eq(o.asked, 1);
        /* a stop answers nothing */
        oracle q = {.r2 = r2, .t = t, .n = n, .stop_at = 1};
        ck_assert_int_eq(nr_search_step_records(r2, n, predicted, target, oracle_verdict, &q, &chosen,
                                                &err), 0);
        ck_assert_int_eq(chosen, -1);
    }
    ck_assert_msg(windowed > 2000, "only %d trials near the start", windowed);
}
END_TEST

/* The fast method's R^2 sweep over a prefix of the grid (search.c,
 * grow_sweep and fast): grown in chunks until nr_search_prefix_enough,
 * doubled while the stepping finds no answer inside it; under the
 * threshold assumption the answer is the whole grid's. */
START_TEST(test_prefix_sweep)
{
    /* by hand: records 0 (0.1), 2 (0.5), 3 (0.6), 5 (0.9); predicted = R^2 */
    double r2[64] = {0.1, 0.05, 0.5, 0.6, 0.2, 0.9, 0.95};
    ck_assert_int_eq(nr_search_prefix_enough(r2, r2, 7, 7, 0.5, 3), 1);  /* the whole grid */
    ck_assert_int_eq(nr_search_prefix_enough(r2, r2, 6, 7, 0.5, 2), 1);  /* k = 2, then 3, 5 */
    ck_assert_int_eq(nr_search_prefix_enough(r2, r2, 6, 7, 0.5, 3), 0);
    ck_assert_int_eq(nr_search_prefix_enough(r2, r2, 5, 7, 0.95, 0), 0); /* no k yet */
    ck_assert_int_eq(nr_search_prefix_enough(r2, r2, 0, 7, 0.5, 0), 0);
    uint64_t s = 0xfeed;
    for (int trial = 0; trial < 5000; trial++) {
        int n = 1 + (int)(tu_rand(&s) % 60);
        for (int i = 0; i < n; i++)
            r2[i] = (double)(int)(tu_rand(&s) % 40) / 32.0 - 0.2;
        if (trial & 1)
            for (int i = 1; i < n; i++)
                if (r2[i] < r2[i - 1] && tu_rand(&s) % 8)
                    r2[i] = r2[i - 1] + (double)(tu_rand(&s) % 3) / 64.0;
        double t = r2[tu_rand(&s) % (uint64_t)n];
        int want = -1;
        for (int i = 0; i < n && want < 0; i++)
            if (r2[i] >= t)
                want = i;
        double tp = tu_rand(&s) % 4 == 0 ? t : t + ((double)(tu_rand(&s) % 100) - 50.0) / 100.0;
        nr_predictor pred = {.c0 = 0.99 - tp, .c1 = 1};
        double predicted[64];
        for (int i = 0; i < n; i++)
            predicted[i] = nr_predictor_apply(&pred, NULL, r2[i]);
        int chunk = 1 + (int)(tu_rand(&s) % 8), npre = 0, chosen = -1, rc;
        oracle o = {.r2 = r2, .t = t, .n = n};
        nr_err err = {0};
        for (;;) {
            int grow = npre ? npre : chunk; /* fast(): to 2 npre */
            do
                npre = npre + grow < n ? npre + grow : n, grow = chunk;
            while ((rc = nr_search_prefix_enough(r2, predicted, npre, n, 0.99, 3)) == 0);
            ck_assert_int_eq(rc, 1);
            memset(o.seen, 0, sizeof o.seen); /* a longer prefix may ask again */
            o.n = npre;
            ck_assert_int_eq(nr_search_step_records(r2, npre, predicted, 0.99, oracle_verdict,
                                                    &o, &chosen, &err), 0);
            if (chosen >= 0 || npre == n)
                break;
        }
        ck_assert_msg(chosen == want, "trial %d: chose %d, the answer is %d (prefix %d of %d)",
                      trial, chosen, want, npre, n);
    }
}
END_TEST

START_TEST(test_space)
{
    nr_search_grid g;
    nr_search_grid_init(&g);
    nr_search_cfg *c = NULL;
    int n = 0;
    OK(nr_search_space(&g, NULL, &c, &n, &e_));
    ck_assert_int_eq(n, 7 * 23 + 12 * 16);
    for (int i = 1; i < n; i++) {
        ck_assert(c[i - 1].speedup >= c[i].speedup);
        ck_assert_str_ne(c[i - 1].name, c[i].name);
    }
    /* one configuration per format; every float saturates with no subnormals */
    for (int i = 0; i < n; i++)
        if (c[i].fmt.kind == NR_FLOAT)
            ck_assert(c[i].fmt.saturate && !c[i].fmt.subnormals);
    /* e8m23 is fp32's size: about 1x */
    for (int i = 0; i < n; i++)
        if (c[i].fmt.kind == NR_FLOAT && c[i].fmt.exp_bits == 8 && c[i].fmt.man_bits == 23)
            ck_assert(fabs(c[i].speedup - 1.0) < 0.05);
    free(c);
    nr_err e = {0};
    g.exp_lo = 5;
    g.exp_hi = 3;
    ck_assert_int_eq(nr_search_space(&g, NULL, &c, &n, &e), -NR_ERANGE);
    ck_assert_str_eq(e.where, "--exp");
    nr_search_grid_init(&g);
    snprintf(g.float_variant, sizeof g.float_variant, "-bogus");
    nr_err_clear(&e);
    ck_assert(nr_search_space(&g, NULL, &c, &n, &e) < 0);
    ck_assert_ptr_null(c);
}
END_TEST

/* ------------------------------------------------------------ LeNet-5 */

typedef struct lenet {
    char net[512];
    nr_dataset *ds;
    nr_search_cfg *cfg;
    int n;
} lenet;

/* LeNet-5 and MNIST, or 0 (skip) when the data is absent. */
static int lenet_open(lenet *L, int exp_lo, int exp_hi, int man_lo, int man_hi)
{
    memset(L, 0, sizeof *L);
    const char *sh = tu_shared_data();
    if (!sh) {
        tu_skip("LeNet-5 search: no shared data");
        return 0;
    }
    char data[512];
    snprintf(data, sizeof data, "%s/mnist", sh);
    if (access(data, R_OK)) {
        tu_skip("LeNet-5 search: %s absent", data);
        return 0;
    }
    snprintf(L->net, sizeof L->net, "%s/specs/lenet5/lenet5.yaml", tu_source_dir());
    nr_spec *s = NULL;
    OK(nr_spec_load(L->net, &s, &e_));
    nr_dataset_opts o;
    nr_dataset_opts_init(&o);
    o.pp = s->pp;
    o.num_classes = 10;
    nr_spec_free(s);
    OK(nr_dataset_open(data, &o, &L->ds, &e_));
    nr_search_grid g;
    nr_search_grid_init(&g);
    g.fixeds = 0;
    g.exp_lo = exp_lo;
    g.exp_hi = exp_hi;
    g.man_lo = man_lo;
    g.man_hi = man_hi;
    OK(nr_search_space(&g, NULL, &L->cfg, &L->n, &e_));
    return 1;
}

static void lenet_close(lenet *L)
{
    nr_dataset_close(L->ds);
    free(L->cfg);
}

typedef struct snap {
    int n, samples;
    int64_t id[256];
    double created[256];
} snap;

static int snap_row(const nr_results_row *row, void *ctx)
{
    snap *s = ctx;
    s->samples += row->key.kind == NR_RESULTS_SAMPLE;
    if (s->n < 256) {
        s->id[s->n] = row->id;
        s->created[s->n] = row->created;
    }
    s->n++;
    return 0;
}

static void take_snap(nr_results *db, snap *s)
{
    memset(s, 0, sizeof *s);
    nr_eval_filter f = NR_RESULTS_FILTER_ALL;
    OK(nr_results_each_eval(db, &f, snap_row, s, &e_));
}

/* Full rows: format, pass at a 1 % budget (complete rows only), and how
 * many stopped early (n short of the slice). */
typedef struct verdicts {
    int64_t count;
    int n, stopped;
    char fmt[64][128];
    int pass[64];
} verdicts;

static int take_verdict(const nr_results_row *row, void *ctx)
{
    verdicts *v = ctx;
    if (!strcmp(row->key.formats, "fp32") || v->n >= 64)
        return 0;
    snprintf(v->fmt[v->n], sizeof v->fmt[v->n], "%s", row->key.formats);
    v->pass[v->n] = row->n >= v->count && row->norm_acc >= 0.99 - 1e-12;
    v->stopped += row->n < v->count;
    v->n++;
    return 0;
}

static void run(lenet *L, nr_results *db, nr_search_opts *o, nr_search_result *r, int expect)
{
    nr_err e = {0};
    int rc = nr_search_run(L->net, L->ds, db, L->cfg, L->n, o, r, &e);
    char b[600];
    nr_err_format(&e, b, sizeof b);
    ck_assert_msg(rc == expect, "search returned %d (expected %d): %s", rc, expect, b);
}

/* Full rows with an R^2 carry exactly their sample run's (one network,
 * one rounding: formats name a configuration). */
typedef struct r2_pairs {
    int n, refilled;
    char fmt[512][128];
    double r2[512];
} r2_pairs;

static int take_sample(const nr_results_row *row, void *ctx)
{
    r2_pairs *p = ctx;
    ck_assert_int_lt(p->n, 512);
    snprintf(p->fmt[p->n], sizeof p->fmt[0], "%s", row->key.formats);
    p->r2[p->n++] = row->r2;
    return 0;
}

static int check_refilled(const nr_results_row *row, void *ctx)
{
    r2_pairs *p = ctx;
    if (isnan(row->r2) || !strcmp(row->key.formats, "fp32")) /* the baseline: 1 */
        return 0;
    int i = 0;
    while (i < p->n && strcmp(p->fmt[i], row->key.formats))
        i++;
    ck_assert_msg(i < p->n, "%s: a full R^2 without a sample run", row->key.formats);
    ck_assert_msg(p->r2[i] == row->r2, "%s: full R^2 %g, sample %g", row->key.formats,
                  row->r2, p->r2[i]);
    p->refilled++;
    return 0;
}

/* Progress callback: how often the "fp32 margins" run reported. */
static void count_margin_runs(void *ctx, const char *phase, int64_t done, int64_t total)
{
    (void)done, (void)total;
    if (!strcmp(phase, "fp32 margins"))
        ++*(int *)ctx;
}

/* The margin-linear predictor end to end: the search stores the slice's
 * fp32 baseline (margins equal to nr_eval_margin of fp32 outputs
 * recomputed here, bit for bit; the right count; the samples' variance),
 * and its prediction is the line applied to the noise model of that row. */
START_TEST(test_lenet_margin)
{
    lenet L;
    if (!lenet_open(&L, 4, 5, 3, 6))
        return;
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/m.db", tmpdir);
    nr_results *db = NULL;
    OK(nr_results_open(path, &db, &e_));
    nr_search_opts o;
    nr_search_opts_init(&o);
    o.first = 20;
    o.limit = tu_quick() ? 30 : 60;
    o.jobs = 2;
    o.max_loss = 0.01;
    o.predictor = (nr_predictor){.model = NR_PRED_MARGIN, .c0 = -0.5, .c1 = 1.5};
    int margin_runs = 0;
    o.progress = count_margin_runs;
    o.progress_ctx = &margin_runs;
    nr_search_result r;
    run(&L, db, &o, &r, 0);
    ck_assert(r.found && r.full_evals <= 3);
    /* a fresh store: the margins come from the fp32 baseline run itself */
    ck_assert_int_eq(margin_runs, 0);

    nr_run run_row;
    nr_err e1 = {0};
    ck_assert_int_eq(nr_results_get_run(db, r.run_id, &run_row, &e1), 1);
    nr_predictor used;
    ck_assert_int_eq(nr_search_settings_predictor(run_row.settings, &used), 0);
    ck_assert(used.model == NR_PRED_MARGIN && used.c0 == -0.5 && used.c1 == 1.5);
    nr_baseline key, b;
    nr_results_baseline_key(&key, run_row.spec_hash, run_row.weights_hash, run_row.data_hash, o.first,
                    o.limit);
    ck_assert_int_eq(nr_results_find_baseline(db, &key, &b, &e1), 1);
    ck_assert_int_eq(b.margin.n, o.limit);
    ck_assert_int_eq(b.samples, 10);
    ck_assert(b.correct == llround(r.fp32_top1 * (double)o.limit));
    ck_assert(b.sample_var > 0);

    /* fp32 outputs recomputed on the slice: the same margins, and the
     * variance of the first 10 samples' outputs */
    nr_model *m = NULL;
    OK(nr_model_load(L.net, "fp32", &m, &e_));
    int n = (int)o.limit, k = 10;
    size_t insize = nr_shape_count(m->in_shape);
    float *in = malloc((size_t)n * insize * sizeof *in), *out = malloc((size_t)n * k * sizeof *out);
    int *lab = malloc((size_t)n * sizeof *lab);
    ck_assert(in && out && lab);
    OK(nr_dataset_get(L.ds, o.first, n, in, lab, &e_));
    OK(nr_emulate(m, in, n, out, NULL, NULL, &e_));
    int64_t right = 0;
    for (int i = 0; i < n; i++) {
        float want = (float)nr_eval_margin(out + (size_t)i * k, k, lab[i]);
        ck_assert_msg(!memcmp(&want, &b.margin.v[i], sizeof want), "sample %d: margin %g, want %g",
                      i, b.margin.v[i], want);
        right += nr_eval_rank(out + (size_t)i * k, k, lab[i]) == 0;
    }
    ck_assert_int_eq(right, b.correct);
    double mean = 0, var = 0;
    for (int i = 0; i < 10 * k; i++)
        mean += out[i];
    mean /= 10 * k;
    for (int i = 0; i < 10 * k; i++)
        var += (out[i] - mean) * (out[i] - mean);
    var /= 10 * k;
    ck_assert_msg(fabs(var - b.sample_var) <= 1e-12 * var, "variance %.17g, stored %.17g", var,
                  b.sample_var);

    /* the fp32 row stored but no baseline (a store from before version 3):
     * one fp32 run for the margins, the same row again */
    nr_results_close(db);
    sqlite3 *raw = NULL;
    ck_assert_int_eq(sqlite3_open(path, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "DELETE FROM baselines", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    OK(nr_results_open(path, &db, &e_));
    nr_search_result ra;
    run(&L, db, &o, &ra, 0);
    ck_assert_int_gt(margin_runs, 0);
    ck_assert_int_eq(ra.sample_computed + ra.full_computed, 0);
    nr_baseline b2;
    ck_assert_int_eq(nr_results_find_baseline(db, &key, &b2, &e1), 1);
    ck_assert(b2.margin.n == b.margin.n && b2.correct == b.correct &&
              b2.sample_var == b.sample_var &&
              !memcmp(b2.margin.v, b.margin.v, (size_t)b.margin.n * sizeof *b.margin.v));
    nr_results_baseline_free(&b2);

    /* the prediction for the chosen configuration */
    nr_noise_model nm;
    OK(nr_pred_noise_model_init(&nm, b.sample_var, b.margin.v, b.margin.n, b.correct, &e_));
    double want = -0.5 + 1.5 * nr_pred_noise_model_accuracy(&nm, r.r2);
    ck_assert_msg(r.predicted == want, "predicted %.17g, want %.17g", r.predicted, want);

    /* a second search finds the row: nothing recomputed, same answer */
    nr_search_result r2;
    run(&L, db, &o, &r2, 0);
    ck_assert_int_eq(r2.sample_computed + r2.full_computed, 0);
    ck_assert_str_eq(r2.chosen.name, r.chosen.name);
    ck_assert(r2.predicted == r.predicted);

    /* a damaged baseline (a NaN margin) is an error naming it, not a guess */
    b.margin.v[3] = NAN;
    b.id = 0;
    OK(nr_results_put_baseline(db, &b, &e_));
    nr_err e = {0};
    ck_assert_int_lt(nr_search_run(L.net, L.ds, db, L.cfg, L.n, &o, &r2, &e), 0);
    ck_assert_msg(strstr(e.msg, "no noise model") && strstr(e.msg, "sample 3 is NaN"), "%s",
                  e.msg);

    free(in);
    free(out);
    free(lab);
    nr_model_free(m);
    nr_results_baseline_free(&b);
    nr_results_close(db);
    lenet_close(&L);
    rm_tmpdir();
}
END_TEST

/* fast vs exhaustive; stop part-way and resume; repeat from the store. */
START_TEST(test_lenet_fast_resume)
{
    lenet L;
    /* e4..5 x m3..6 with rz: the 1 % boundary of LeNet-5 lies inside */
    if (!lenet_open(&L, 4, 5, 3, 6))
        return;
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/s.db", tmpdir);
    nr_results *db = NULL;
    OK(nr_results_open(path, &db, &e_));
    nr_search_opts o;
    nr_search_opts_init(&o);
    o.limit = tu_quick() ? 30 : 60;
    o.jobs = 2;
    o.max_loss = 0.01;
    o.predictor = (nr_predictor){.c0 = 0.2, .c1 = 0.8};
    nr_search_result r1, r2, r3, rx;

    /* 1. stop after 4 new evaluations (the fp32 baseline and 3 samples);
     * with 2 threads the one in flight finishes too */
    o.stop_after = 4;
    run(&L, db, &o, &r1, 1);
    ck_assert(r1.stopped);
    snap before;
    take_snap(db, &before);
    ck_assert(before.n == 4 || before.n == 5);
    ck_assert_int_eq(before.samples, before.n - 1);

    /* 2. resume: nothing stored is computed again, nothing is lost */
    o.stop_after = 0;
    run(&L, db, &o, &r2, 0);
    ck_assert_int_eq(r2.sample_evals, L.n);
    ck_assert_int_eq(r2.sample_computed, L.n - before.samples);
    ck_assert_int_eq(r2.run_id, r1.run_id); /* the unfinished run continues */
    snap after;
    take_snap(db, &after);
    ck_assert_int_eq(after.n, before.n + r2.sample_computed + r2.full_computed);
    for (int i = 0; i < before.n; i++) {
        ck_assert(after.id[i] == before.id[i]);
        ck_assert_msg(after.created[i] == before.created[i], "row %lld was rewritten",
                      (long long)before.id[i]);
    }
    ck_assert_msg(r2.full_evals <= 3, "fast used %d full evaluations", r2.full_evals);
    ck_assert(r2.found);

    /* 3. the same query again: answered from the store */
    run(&L, db, &o, &r3, 0);
    ck_assert_int_eq(r3.sample_computed + r3.full_computed, 0);
    ck_assert_str_eq(r3.chosen.name, r2.chosen.name);
    ck_assert(r3.norm_acc == r2.norm_acc);

    /* 4. exhaustive (reusing the fast method's full evaluations) agrees */
    o.method = NR_SEARCH_EXHAUSTIVE;
    run(&L, db, &o, &rx, 0);
    ck_assert_int_eq(rx.full_evals, L.n);
    ck_assert(rx.found);
    ck_assert_msg(!strcmp(rx.chosen.name, r2.chosen.name), "fast chose %s, exhaustive %s",
                  r2.chosen.name, rx.chosen.name);
    ck_assert(rx.norm_acc >= 0.99 - 1e-12);
    printf("check_search: LeNet-5 (%lld images): %s, normalized %.4f, speedup %.2f; fast %d "
           "full + %d sample evaluations, exhaustive %d full\n",
           (long long)r2.n, r2.chosen.name, r2.norm_acc, r2.chosen.speedup, r2.full_evals,
           r2.sample_evals, rx.full_evals);
    /* every full row is complete now (exhaustive redid the fast method's
     * early-stopped steps) */
    verdicts vx = {.count = o.limit};
    nr_eval_filter f = NR_RESULTS_FILTER_ALL;
    f.kind = NR_RESULTS_FULL;
    OK(nr_results_each_eval(db, &f, take_verdict, &vx, &e_));
    ck_assert_int_eq(vx.stopped, 0);

    /* 5. exhaustive with early stop, in a new store: the same answer and the
     * same verdict for every configuration; failures stop early */
    nr_results *db2 = NULL;
    snprintf(path, sizeof path, "%s/s2.db", tmpdir);
    OK(nr_results_open(path, &db2, &e_));
    o.early_stop = 1;
    nr_search_result re;
    run(&L, db2, &o, &re, 0);
    ck_assert_str_eq(re.chosen.name, rx.chosen.name);
    ck_assert(re.norm_acc == rx.norm_acc);
    verdicts ve = {.count = o.limit};
    OK(nr_results_each_eval(db2, &f, take_verdict, &ve, &e_));
    /* the scan ends at the answer: every faster configuration measured,
     * no slower one */
    int at = 0;
    while (at < L.n && strcmp(L.cfg[at].name, re.chosen.name))
        at++;
    ck_assert_int_eq(re.full_evals, at + 1);
    ck_assert_int_eq(ve.n, at + 1);
    ck_assert_msg(ve.stopped > 0, "no configuration stopped early");
    for (int i = 0; i < ve.n; i++) {
        int j = 0;
        while (j < vx.n && strcmp(vx.fmt[j], ve.fmt[i]))
            j++;
        ck_assert_msg(j < vx.n, "%s: no row without early stop", ve.fmt[i]);
        ck_assert_msg(ve.pass[i] == vx.pass[j], "%s: verdict %d with early stop, %d without",
                      ve.fmt[i], ve.pass[i], vx.pass[j]);
    }
    printf("check_search: exhaustive with early stop: %d of %d configurations stopped early\n",
           ve.stopped, ve.n);
    nr_results_close(db2);

    /* 6. the store as version 1 left it (R^2 of another definition): the
     * upgrade drops the samples, the fast search recomputes them, measures
     * nothing again and gives the full rows it uses their sample's R^2 */
    nr_results_close(db);
    snprintf(path, sizeof path, "%s/s.db", tmpdir);
    sqlite3 *raw = NULL;
    ck_assert_int_eq(sqlite3_open(path, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "DROP TABLE baselines; PRAGMA user_version = 1", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    OK(nr_results_open(path, &db, &e_));
    o.method = NR_SEARCH_FAST;
    o.early_stop = 0;
    nr_search_result ru;
    run(&L, db, &o, &ru, 0);
    ck_assert_int_eq(ru.sample_computed, L.n);
    ck_assert_int_eq(ru.full_computed, 0);
    ck_assert_str_eq(ru.chosen.name, r2.chosen.name);
    ck_assert(ru.r2 == r2.r2);
    static r2_pairs rp;
    nr_eval_filter fs = NR_RESULTS_FILTER_ALL;
    fs.kind = NR_RESULTS_SAMPLE;
    OK(nr_results_each_eval(db, &fs, take_sample, &rp, &e_));
    ck_assert_int_eq(rp.n, L.n);
    OK(nr_results_each_eval(db, &f, check_refilled, &rp, &e_));
    ck_assert_int_eq(rp.refilled, ru.full_evals);
    nr_results_close(db);
    lenet_close(&L);
    rm_tmpdir();
}
END_TEST

/* per-layer: within budget, never slower than the uniform answer. */
START_TEST(test_lenet_per_layer)
{
    lenet L;
    if (tu_quick()) {
        tu_skip("LeNet-5 per-layer search: NUMREP_QUICK");
        return;
    }
    if (!lenet_open(&L, 4, 5, 3, 6))
        return;
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/p.db", tmpdir);
    nr_results *db = NULL;
    OK(nr_results_open(path, &db, &e_));
    nr_search_opts o;
    nr_search_opts_init(&o);
    o.limit = 30;
    o.jobs = 2;
    o.max_loss = 0.02;
    o.per_layer = 1;
    o.per_layer_steps = 1;
    o.predictor = (nr_predictor){.c0 = 0.2, .c1 = 0.8};
    nr_search_result r;
    run(&L, db, &o, &r, 0);
    ck_assert(r.found && r.per_layer_done);
    ck_assert(r.pl_norm_acc >= 0.98 - 1e-12);
    ck_assert(r.pl_gain >= 1.0 - 1e-12);
    ck_assert(r.pl_speedup >= r.chosen.speedup - 1e-9);
    /* LeNet-5 has 5 MAC layers: one sensitivity row per layer and step */
    ck_assert_int_ge(r.pl_evals, 5);
    printf("check_search: per-layer %s: normalized %.4f, %.2fx vs uniform %s %.2fx\n",
           r.layers[0] ? r.layers : "(none lowered)", r.pl_norm_acc, r.pl_speedup,
           r.chosen.name, r.chosen.speedup);
    nr_results_close(db);
    lenet_close(&L);
    rm_tmpdir();
}
END_TEST

/* The R^2 sweep over a prefix (the default) and over the whole grid
 * (full_sweep) choose the same configuration; the prefix runs no more
 * configurations on the R^2 inputs. */
START_TEST(test_lenet_prefix)
{
    lenet L;
    if (!lenet_open(&L, 3, 6, 1, 16)) /* the answer lies among the fastest */
        return;
    make_tmpdir();
    char path[300];
    nr_results *db = NULL, *db2 = NULL;
    snprintf(path, sizeof path, "%s/p.db", tmpdir);
    OK(nr_results_open(path, &db, &e_));
    snprintf(path, sizeof path, "%s/f.db", tmpdir);
    OK(nr_results_open(path, &db2, &e_));
    nr_search_opts o;
    nr_search_opts_init(&o);
    o.limit = 60;
    o.jobs = 1;
    o.max_loss = 0.02;
    o.predictor = (nr_predictor){.c0 = 0.2, .c1 = 0.8};
    nr_search_result rp, rf;
    run(&L, db, &o, &rp, 0);
    o.full_sweep = 1;
    run(&L, db2, &o, &rf, 0);
    ck_assert_int_eq(rf.sample_evals, L.n);
    ck_assert_msg(rp.sample_evals < L.n, "the prefix is the whole grid (%d)", L.n);
    ck_assert_int_eq(rp.sample_computed, rp.sample_evals);
    ck_assert_int_eq(rp.found, rf.found);
    if (rf.found)
        ck_assert_str_eq(rp.chosen.name, rf.chosen.name);
    snap sp;
    take_snap(db, &sp);
    ck_assert_int_eq(sp.samples, rp.sample_evals);
    printf("check_search: prefix sweep %d of %d configurations, chose %s (whole sweep: %s)\n",
           rp.sample_evals, L.n, rp.found ? rp.chosen.name : "-", rf.found ? rf.chosen.name : "-");
    nr_results_close(db);
    nr_results_close(db2);
    lenet_close(&L);
    rm_tmpdir();
}
END_TEST

/* The whole default grid, fast against exhaustive (long: NUMREP_EXHAUSTIVE). */
START_TEST(test_lenet_default_grid)
{
    if (!tu_exhaustive()) {
        printf("check_search: default-grid comparison needs NUMREP_EXHAUSTIVE=1\n");
        return;
    }
    lenet L;
    if (!lenet_open(&L, 2, 8, 1, 23))
        return;
    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/x.db", tmpdir);
    nr_results *db = NULL;
    OK(nr_results_open(path, &db, &e_));
    nr_search_opts o;
    nr_search_opts_init(&o);
    o.limit = 200;
    o.jobs = 2;
    nr_search_result rf, rx;
    run(&L, db, &o, &rf, 0);
    o.method = NR_SEARCH_EXHAUSTIVE;
    run(&L, db, &o, &rx, 0);
    ck_assert(rf.full_evals <= 3);
    ck_assert_str_eq(rf.chosen.name, rx.chosen.name);
    nr_results_close(db);
    lenet_close(&L);
    rm_tmpdir();
}
END_TEST

/* search_strategy.c: what clamping fp32's outputs to a format's range does
 * to R^2, and the score with that part taken out. */
START_TEST(test_clip_score)
{
    nr_format q2, wide, wrap;
    OK(nr_format_parse("q2.5", &q2, &e_));   /* saturating, [-4, 4 - 1/32] */
    OK(nr_format_parse("q8.5", &wide, &e_));
    wrap = q2;
    wrap.saturate = 0;
    /* winners well ahead: clamped, each keeps a strict lead */
    const float y[6] = {10.0f, 0.5f, -0.3f, 0.2f, 8.0f, 1.0f};
    float c[6];
    for (int i = 0; i < 6; i++)
        c[i] = y[i] > 3.96875f ? 3.96875f : y[i];
    ck_assert(q2.max_finite == 3.96875 && q2.lowest == -4.0);
    double rc = nr_search_clip_r2(&q2, y, 2, 3);
    ck_assert(rc > 0 && rc < 1);
    ck_assert(fabs(rc - nr_predictor_r2(c, y, 6)) < 1e-12);
    ck_assert(nr_search_clip_r2(&wide, y, 2, 3) == 1.0);  /* nothing out of range */
    ck_assert(nr_search_clip_r2(&wrap, y, 2, 3) == 1.0);  /* wraps: not a clamp */
    /* the runner-up clamped too: a tie, the clamp is a real error */
    const float t[3] = {10.0f, 5.0f, 0.0f};
    ck_assert(isnan(nr_search_clip_r2(&q2, t, 1, 3)));
    /* the score: 1/(1/r2 - 1/rc + 1), capped at 1; raw without a clamp */
    ck_assert(nr_search_score(0.7, 1.0) == 0.7);
    ck_assert(nr_search_score(0.7, NAN) == 0.7);
    ck_assert(nr_search_score(NR_R2_FLOOR, 0.5) == NR_R2_FLOOR);
    ck_assert(nr_search_score(0.5, 0.5) == 1.0);
    ck_assert(fabs(nr_search_score(0.4, 0.5) - 1.0 / 1.5) < 1e-12);
    ck_assert(nr_search_score(0.6, 0.5) == 1.0);
    /* monotone in r2 at a fixed clamp */
    ck_assert(nr_search_score(0.3, 0.5) < nr_search_score(0.4, 0.5));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("search");
    TCase *t = tcase_create("predictor");
    tcase_add_test(t, test_r2_hand);
    tcase_add_test(t, test_fit_synthetic);
    tcase_add_test(t, test_noise_model);
    tcase_add_test(t, test_settings_predictor);
    tcase_add_test(t, test_fit_db);
    tcase_add_test(t, test_space);
    tcase_add_test(t, test_records_stepping);
    tcase_add_test(t, test_prefix_sweep);
    tcase_add_test(t, test_clip_score);
    suite_add_tcase(s, t);
    TCase *n = tcase_create("lenet");
    tcase_set_timeout(n, 3600);
    tcase_add_test(n, test_lenet_fast_resume);
    tcase_add_test(n, test_lenet_margin);
    tcase_add_test(n, test_lenet_per_layer);
    tcase_add_test(n, test_lenet_prefix);
    tcase_add_test(n, test_lenet_default_grid);
    suite_add_tcase(s, n);
    return tu_run(s);
}
