/* results.h -- the results store of the precision search: one SQLite file
 * that every evaluation is written to as soon as it finishes, so a search
 * killed at any moment resumes without repeating or losing work, and a
 * repeated query is answered from the file.  `numrep report` reads it.
 *
 * Five tables (schema version NR_RESULTS_VERSION, PRAGMA user_version):
 *   runs         one search: network, input hashes, method, budget, times,
 *                the chosen evaluation
 *   evaluations  one configuration measured on one data slice, keyed by
 *                nr_results_key (content, not run: any run may reuse a row)
 *   sensitivity  one layer of a run set to one format, the rest fp32
 *   predictors   fitted R^2 -> normalized-accuracy models
 *   baselines    fp32 on one data slice: each sample's margin and the
 *                spread of the outputs on the R^2 samples (the fast
 *                search's noise model, docs/search.md)
 *
 * Every write is its own transaction, committed (WAL, synchronous=FULL)
 * before the call returns.  Several processes (MPI ranks) may write to
 * one file: writers wait for each other up to NR_RESULTS_BUSY_MS.
 *
 * Text fields are fixed-size arrays so rows copy by value; text that does
 * not fit is an error (NR_ERANGE on write, NR_ECORRUPT on read), never
 * silently cut.  Measurements that were not taken are NAN in C and NULL in
 * the database. */
#ifndef NUMREP_RESULTS_H
#define NUMREP_RESULTS_H

#include "numrep.h"

#include <stdint.h>

/* 2: R^2 is the regression one (nr_predictor_r2); 3: the baselines table.
 * Opening an older store upgrades it in place (results.c upgrade) */
#define NR_RESULTS_VERSION 3
#define NR_RESULTS_APP_ID 0x6e727273 /* "nrrs" in PRAGMA application_id */
#define NR_RESULTS_BUSY_MS 60000

typedef struct nr_results nr_results; /* an open store */

/* ------------------------------------------------------------ open / close */

/* Open PATH, creating it (and the schema) when it does not exist.  Errors:
 * NR_EIO (cannot open or create), NR_ECORRUPT (not an SQLite database, a
 * damaged one, or an SQLite database of another program), NR_EUNSUP (a
 * results store of a newer schema version; older ones are upgraded). */
int nr_results_open(const char *path, nr_results **out, nr_err *err);
/* The same, but a missing file is an error (NR_EIO) instead of created:
 * for readers such as the report. */
int nr_results_open_existing(const char *path, nr_results **out, nr_err *err);
void nr_results_close(nr_results *db); /* NULL is a no-op */

/* ------------------------------------------------------------ hashing */

/* Hashes that identify a spec, a weights file, a data slice: FNV-1a 128
 * (nr_hash128 in numrep.h), written as 32 lowercase hex digits.  Not
 * cryptographic: they tell inputs apart, they do not defend against forgery. */
/* A whole file's FNV-1a 128 as hex. */
int nr_results_hash_file(const char *path, char out[NR_HASH_HEX], nr_err *err);

/* ------------------------------------------------------------ evaluations */

typedef enum {
    NR_RESULTS_FULL = 0,   /* accuracy measured on the data slice                */
    NR_RESULTS_SAMPLE = 1, /* the fast method's few inputs: R^2 vs fp32 mainly    */
    NR_RESULTS_KINDS
} nr_results_kind;

const char *nr_results_kind_name(nr_results_kind k); /* "full", "sample"          */
int nr_results_kind_parse(const char *s, nr_results_kind *out, nr_err *err);

/* What was evaluated.  Two evaluations with equal keys are the same work. */
typedef struct nr_results_key {
    char formats[128];   /* canonical format name ("e6m7", "q3.4") when one
                            format covers every role; else role=fmt pairs
                            ("weight=e4m3,act=e5m2"), as the search writes them */
    char rounding[16];   /* nr_format_rounding_name(): "rz"                          */
    char mac[16];        /* MAC mode: "unfused", ...                          */
    char layers[2048];   /* per-layer assignment ("conv1=e5m4,fc=e4m3"), ""
                            when one format covers the network                */
    char spec_hash[NR_HASH_HEX], weights_hash[NR_HASH_HEX], data_hash[NR_HASH_HEX];
    int64_t data_first, data_count; /* the slice of the data set              */
    nr_results_kind kind;
} nr_results_key;

typedef struct nr_results_row {
    nr_results_key key;
    int64_t id;          /* set by put / find                                */
    int64_t run_id;      /* the run that produced it, 0 when none            */
    int64_t n;           /* inputs actually evaluated                        */
    double top1, top5;   /* accuracy, fractions in [0, 1]                     */
    double norm_acc;     /* top1 / fp32 top1 on the same slice               */
    double r2;           /* R^2 of last-layer activations vs fp32            */
    double speedup;      /* nr_cost.speedup (equal area)                     */
    double speedup_fixed_clock;
    double energy_ratio;
    double seconds;      /* wall time of the evaluation                      */
    double created;      /* unix time; put fills it when 0                   */
} nr_results_row;

/* A row with every measurement NAN, ids 0: fill what was measured. */
void nr_results_row_init(nr_results_row *row);

/* Write one evaluation and commit it: when this returns 0 the row survives
 * a kill of the process.  An existing row with the same key is updated in
 * place (its id is kept).  Sets row->id (and row->created when it was 0).
 * An empty formats field, a bad kind or an unterminated text field is
 * NR_ERANGE. */
int nr_results_put_eval(nr_results *db, nr_results_row *row, nr_err *err);
/* Look a key up: 1 found (*row filled), 0 not found, <0 error. */
int nr_results_find_eval(nr_results *db, const nr_results_key *key, nr_results_row *row, nr_err *err);
int nr_results_get_eval(nr_results *db, int64_t id, nr_results_row *row, nr_err *err); /* 1/0/<0 */

/* Which evaluations to visit; zero fields match anything. */
typedef struct nr_eval_filter {
    int64_t run_id;                 /* 0: any                                */
    const char *spec_hash;          /* NULL: any                             */
    const char *weights_hash;
    int kind;                       /* -1 any, else nr_results_kind             */
} nr_eval_filter;
#define NR_RESULTS_FILTER_ALL {0, NULL, NULL, -1}

/* Call fn for every matching row in id order; fn returns nonzero to stop
 * (that value is returned).  Returns 0, fn's value, or <0 on error. */
typedef int (*nr_eval_fn)(const nr_results_row *row, void *ctx);
int nr_results_each_eval(nr_results *db, const nr_eval_filter *f, nr_eval_fn fn, void *ctx,
                         nr_err *err);

/* ------------------------------------------------------------ runs */

typedef struct nr_run {
    int64_t id;              /* set by put when 0                            */
    char network[128];
    char spec_hash[NR_HASH_HEX], weights_hash[NR_HASH_HEX], data_hash[NR_HASH_HEX];
    int64_t data_first, data_count;
    char method[32];         /* "fast", "exhaustive", "per-layer"             */
    double budget;           /* allowed loss of normalized accuracy: 0.01     */
    double fp32_top1, fp32_top5;
    double started, finished;/* unix time; finished NAN while running         */
    int64_t chosen_eval;     /* evaluations.id of the answer, 0 none yet      */
    char settings[512];      /* the options, for people reading the report    */
} nr_run;

void nr_results_run_init(nr_run *run); /* zeros, NAN for unmeasured numbers, started = now */
/* Insert (id 0: sets run->id) or update (id > 0, must exist) and commit. */
int nr_results_put_run(nr_results *db, nr_run *run, nr_err *err);
int nr_results_get_run(nr_results *db, int64_t id, nr_run *run, nr_err *err); /* 1/0/<0 */
/* The newest unfinished run with these inputs and method, so a restarted
 * search continues it: 1 found, 0 none, <0 error. */
int nr_results_find_open_run(nr_results *db, const nr_run *like, nr_run *run, nr_err *err);
typedef int (*nr_run_fn)(const nr_run *run, void *ctx);
int nr_results_each_run(nr_results *db, nr_run_fn fn, void *ctx, nr_err *err); /* id order */

/* ------------------------------------------------------------ sensitivity */

/* Layer `layer` set to `formats`, every other layer fp32.  Key: (run_id,
 * layer, formats). */
typedef struct nr_sens {
    int64_t id, run_id;
    char layer[96];
    int layer_index;         /* position in topological order                */
    int64_t macs;            /* multiply-accumulates of the layer per input   */
    char formats[128];
    int64_t n;
    double top1, norm_acc, r2;
    double seconds;
} nr_sens;

void nr_results_sens_init(nr_sens *row);
int nr_results_put_sens(nr_results *db, nr_sens *row, nr_err *err);
typedef int (*nr_sens_fn)(const nr_sens *row, void *ctx);
int nr_results_each_sens(nr_results *db, int64_t run_id, nr_sens_fn fn, void *ctx,
                         nr_err *err); /* run_id 0: all; order: run, layer_index, id */

/* ------------------------------------------------------------ predictor fits */

#define NR_FIT_MAXCOEF 8
/* norm_acc ~ sum coef[i] * r2^i (the fast method uses ncoef 2: a line). */
typedef struct nr_fit {
    int64_t id;
    char name[64];           /* "r2-linear"                                   */
    int ncoef;
    double coef[NR_FIT_MAXCOEF];
    int npoints;             /* points the fit used                          */
    double rmse;             /* of the fit on its points                      */
    char networks[512];      /* networks the points came from, comma-separated */
    double created;
} nr_fit;

int nr_results_put_fit(nr_results *db, nr_fit *fit, nr_err *err); /* always inserts */
/* The newest fit named `name` (NULL: any name): 1 found, 0 none, <0 error. */
int nr_results_latest_fit(nr_results *db, const char *name, nr_fit *fit, nr_err *err);

/* ------------------------------------------------------------ fp32 baselines */

/* A float32 array stored as a little-endian BLOB. */
typedef struct nr_f32s {
    float *v;                /* malloc'ed by a read; NULL when n is 0         */
    int64_t n;
} nr_f32s;

/* One row per data slice (spec, weights, data hash, first, count). */
typedef struct nr_baseline {
    int64_t id;
    char spec_hash[NR_HASH_HEX];
    char weights_hash[NR_HASH_HEX];
    char data_hash[NR_HASH_HEX];
    int64_t data_first, data_count;
    int samples;             /* the R^2 samples sample_var was taken over     */
    double sample_var;       /* variance of every fp32 output on them         */
    int64_t correct;         /* fp32 top-1 correct answers on the slice       */
    nr_f32s margin;          /* [data_count] nr_eval_margin of fp32 per sample */
    double created;
} nr_baseline;

/* *b := the key of one slice (every other field zero). */
void nr_results_baseline_key(nr_baseline *b, const char *spec_hash, const char *weights_hash,
                     const char *data_hash, int64_t data_first, int64_t data_count);
/* Insert or replace the slice's row (margin.n must equal data_count). */
int nr_results_put_baseline(nr_results *db, nr_baseline *b, nr_err *err);
/* The row of key's slice (its hashes, data_first, data_count): 1 found
 * (out->margin malloc'ed: nr_results_baseline_free), 0 none, <0 error. */
int nr_results_find_baseline(nr_results *db, const nr_baseline *key, nr_baseline *out,
                             nr_err *err);
void nr_results_baseline_free(nr_baseline *b);

#endif
