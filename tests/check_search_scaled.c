/* check_search_scaled.c -- the scaled grid of the precision search
 * (runtime/study/search_grid_scaled.c, `--grid scaled | all`): the
 * configurations (the MX presets and their blocks of 16/32/64, NVFP4, int8
 * and int4 per channel with dynamic and calibrated activations, int blocks),
 * their costs equal to the scaled cost model's, rank order, and the model a
 * configuration builds: -p NAME's precision, calibrated ones with a static
 * scale on every per-tensor activation. */
#include "calibrate.h"
#include "search.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find(const nr_search_cfg *c, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(c[i].name, name))
            return i;
    return -1;
}

START_TEST(test_grid)
{
    nr_search_grid g;
    nr_search_grid_init(&g);
    nr_search_cfg *plain = NULL, *c = NULL, *all = NULL;
    int np = 0, n = 0, na = 0;
    nr_err e = {0};
    ck_assert_int_eq(nr_search_space(&g, NULL, &plain, &np, &e), 0);
    g.scaled = 2;
    ck_assert_msg(nr_search_space(&g, NULL, &c, &n, &e) == 0, "%s", e.msg);
    g.scaled = 1;
    ck_assert_int_eq(nr_search_space(&g, NULL, &all, &na, &e), 0);
    ck_assert_int_eq(n, 31);
    ck_assert_int_eq(na, np + n);
    const char *want[] = {"mxfp8", "mxfp8e5m2", "mxfp6e3m2", "mxfp6e2m3", "mxfp4", "mxint8",
                          "nvfp4", "int8@channel:fp32:amax", "int8@channel:fp32:amax+cal",
                          "int4@channel:fp32:amax+cal", "e2m1@b64:e8m0:floor",
                          "e4m3@b16:e8m0:floor", "e2m1@b32:nv:amax", "int4@b32:fp32:amax"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(find(c, n, want[i]) >= 0 && find(all, na, want[i]) >= 0, "no %s",
                      want[i]);
    for (int i = 0; i < n; i++) {
        ck_assert_int_ne(c[i].scaled.gran, NR_GRAN_NONE);
        ck_assert_msg(find(c, n, c[i].name) == i, "%s twice", c[i].name);
        ck_assert(i == 0 || c[i - 1].speedup >= c[i].speedup); /* rank order */
        nr_cost_scaled cs;
        ck_assert_int_eq(nr_cost_scaled_mac(&nr_cost_default, &c[i].scaled, &cs, &e), 0);
        ck_assert(cs.total.speedup == c[i].speedup && cs.total.energy_ratio == c[i].energy_ratio);
        ck_assert_int_eq(c[i].calibrated, strstr(c[i].name, "+cal") != NULL);
        char f[128], r[16], m[16];
        nr_search_scaled_key(&c[i], f, sizeof f, r, sizeof r, m, sizeof m);
        ck_assert_str_eq(f, c[i].name);
        ck_assert_str_eq(r, "rne");
        ck_assert_str_eq(m, c[i].scaled.gran == NR_GRAN_CHANNEL ? "block-exact" : "block-fp32");
    }
    free(plain);
    free(c);
    free(all);
}
END_TEST

START_TEST(test_models)
{
    /* a tiny net on the shipped CIFAR fixture: the dynamic and the calibrated
     * int8 per-channel configurations */
    char net[4096], data[4096];
    snprintf(net, sizeof net, "%s/specs/resnet20/resnet20.yaml", tu_source_dir());
    snprintf(data, sizeof data, "%s/tests/data/dataset/cifar/test_batch.bin", tu_source_dir());
    nr_dataset *ds = NULL;
    nr_err e = {0};
    nr_dataset_opts dopt;
    nr_dataset_opts_init(&dopt);
    ck_assert_msg(nr_dataset_open(data, &dopt, &ds, &e) == 0, "%s", e.msg);
    nr_search_cfg cfg[2] = {0};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(nr_scaled_parse("int8@channel", &cfg[i].scaled, &e), 0);
        cfg[i].calibrated = i;
    }
    /* the whole data set evaluated: nothing left to calibrate on, an error */
    nr_search_scaled_env env = {.ds = ds, .first = 0, .count = nr_dataset_count(ds),
                                .engine = "emulator", .jobs = 1};
    nr_model *m[2] = {0};
    ck_assert_int_ne(nr_search_scaled_model(net, &cfg[1], &env, &m[1], &e), 0);
    ck_assert_msg(strstr(e.msg, "whole data set") != NULL, "%s", e.msg);
    ck_assert(m[1] == NULL);
    nr_err_clear(&e);
    ck_assert(nr_dataset_count(ds) >= 2);
    env.count = nr_dataset_count(ds) / 2; /* calibrates on the second half */
    for (int i = 0; i < 2; i++)
        ck_assert_msg(nr_search_scaled_model(net, &cfg[i], &env, &m[i], &e) == 0, "%s", e.msg);
    for (int li = 0; li < m[0]->nlayers; li++) {
        const nr_layer *a = &m[0]->layers[li], *b = &m[1]->layers[li];
        ck_assert_int_eq(a->prec.mac, NR_MAC_BLOCK_EXACT);
        ck_assert_int_eq(a->prec.weights_scaled.gran, NR_GRAN_CHANNEL);
        ck_assert_int_eq(a->prec.activations_scaled.rule, NR_RULE_AMAX);
        ck_assert(a->act_scale == 0);
        ck_assert_int_eq(b->prec.activations_scaled.rule, NR_RULE_STATIC);
        ck_assert(b->act_scale > 0 && b->prec.mac == NR_MAC_BLOCK_EXACT);
    }
    ck_assert(m[1]->in_scale > 0 && m[0]->in_scale == 0);
    nr_model_free(m[0]);
    nr_model_free(m[1]);
    nr_dataset_close(ds);
}
END_TEST

/* The +cal calibration slice never overlaps the evaluated one. */
START_TEST(test_calib_slice)
{
    int64_t f = -1, n = -1;
    ck_assert_int_eq(nr_search_calib_slice(10000, 0, 1000, 256, &f, &n), 0); /* after */
    ck_assert(f == 1000 && n == 256);
    ck_assert_int_eq(nr_search_calib_slice(10000, 9000, 1000, 256, &f, &n), 0); /* before */
    ck_assert(f == 8744 && n == 256);
    ck_assert_int_eq(nr_search_calib_slice(1100, 0, 1000, 256, &f, &n), 0); /* what is left */
    ck_assert(f == 1000 && n == 100);
    ck_assert_int_eq(nr_search_calib_slice(1100, 50, 1000, 256, &f, &n), 0); /* more after */
    ck_assert(f == 1050 && n == 50);
    ck_assert_int_eq(nr_search_calib_slice(1100, 80, 1000, 256, &f, &n), 0); /* more before */
    ck_assert(f == 0 && n == 80);
    ck_assert_int_eq(nr_search_calib_slice(1000, 0, 1000, 256, &f, &n), -1); /* none */
    for (int64_t total = 1; total < 40; total++) /* exhaustively small: disjoint, inside */
        for (int64_t first = 0; first < total; first++)
            for (int64_t count = 1; first + count <= total; count++) {
                int rc = nr_search_calib_slice(total, first, count, 5, &f, &n);
                ck_assert_int_eq(rc, count == total ? -1 : 0);
                if (rc)
                    continue;
                ck_assert(n >= 1 && n <= 5 && f >= 0 && f + n <= total);
                ck_assert(f + n <= first || f >= first + count);
            }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("search_scaled");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_grid);
    tcase_add_test(tc, test_models);
    tcase_add_test(tc, test_calib_slice);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
