/* fuzz_results.c -- the results store (runtime/study/results.c): a SQLite
 * file opened as an existing store, every table read back through the API,
 * then one row written. */
#include "fuzz.h"
#include "results.h"

#include <stdlib.h>

static int count_eval(const nr_results_row *row, void *ctx) { return ++*(int *)ctx > 1000; }
static int count_run(const nr_run *run, void *ctx) { return ++*(int *)ctx > 1000; }
static int count_sens(const nr_sens *row, void *ctx) { return ++*(int *)ctx > 1000; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_clean();
    const char *path = fuzz_file(0, "r.db", data, size);
    nr_results *db = NULL;
    nr_err e = {0};
    if (!path)
        return 0;
    if (nr_results_open_existing(path, &db, &e)) {
        if (!e.code || db)
            abort();
        return 0;
    }
    int n = 0;
    nr_eval_filter all = NR_RESULTS_FILTER_ALL;
    nr_results_each_eval(db, &all, count_eval, &n, &e);
    nr_err_clear(&e);
    nr_results_each_run(db, count_run, &n, &e);
    nr_err_clear(&e);
    nr_results_each_sens(db, 1, count_sens, &n, &e);
    nr_err_clear(&e);
    nr_fit fit;
    nr_results_latest_fit(db, "linear", &fit, &e);
    nr_err_clear(&e);
    nr_results_row row;
    nr_results_get_eval(db, 1, &row, &e);
    nr_err_clear(&e);
    nr_run run;
    nr_results_run_init(&run);
    nr_results_put_run(db, &run, &e);
    nr_results_close(db);
    return 0;
}
