/* search_job.h -- `numrep search` as a library call: the options by their
 * long names (one parser for the command line and numrep.search in
 * python/), then the search of runtime/study/search.h with the JIT engines,
 * and its answer as a precision file and as the --json object.  Exports of
 * search_job.c: */
#ifndef NUMREP_SEARCH_JOB_H
#define NUMREP_SEARCH_JOB_H

#include <limits.h>
#include <stdio.h>

#include "opts.h"
#include "search.h"

#define GEN_SEARCH_DEFAULT_DB "numrep-results.db"

typedef struct gen_search_job {
    nr_search_opts opts;     /* engine "jit", sample engine "jit-O0"          */
    nr_search_grid grid;
    char grid_kind[8];       /* both, float, fixed, scaled, all               */
    char engine[16], sample_engine[16];
    char net[PATH_MAX], data[PATH_MAX], db[PATH_MAX], predictor[PATH_MAX];
    int have_loss;           /* max-loss was set (it is required)             */
    int have_predictor;      /* opts.predictor is set (a fit): use it as is   */
} gen_search_job;

/* The defaults of `numrep search` (db GEN_SEARCH_DEFAULT_DB). */
void gen_search_job_init(gen_search_job *j);
/* The options, as a table (opts.h; the command line's too, with --help
 * from it): net, data, max-loss, method, db, jobs, engine, sample-engine,
 * limit, first, samples, grid, exp, man, int, frac, float-variant,
 * rounding, predictor, steps, stop-after; the flags per-layer, early-stop,
 * no-r2, full-sweep, raw-r2.  A new option is a new row. */
extern const gen_opt gen_search_job_opts[];
/* Whether option name ("max-loss", no leading dashes) takes a value: 1,
 * is a flag: 0, is not a search option: -1. */
int gen_search_job_takes(const char *name);
/* Set option name to value (NULL for a flag).  A bad value: -NR_ERANGE
 * and err saying which option ("--max-loss: ...") and what was expected. */
int gen_search_job_set(gen_search_job *j, const char *name, const char *value, nr_err *err);

/* The checks that need no file: NET.yaml and --max-loss given, --per-layer
 * only with a plain grid.  0, or -NR_ERANGE with err->msg saying what is
 * missing (the command reports it as a usage error). */
int gen_search_job_check(const gen_search_job *j, nr_err *err);

typedef struct gen_search_answer {
    nr_search_result r;
    char network[128];       /* the spec's name                               */
    char data[PATH_MAX];     /* the data set searched                         */
    char *precision;         /* the answer as a precision file (malloc'ed),
                                NULL when none was found                      */
    char notes[2048];        /* "note: ..." / "warning: ..." lines for people
                                (process 0 only)                              */
    char predictor[PATH_MAX + 64]; /* where the fast method's predictor came from:
                                a file, "the database's fit N", "--predictor" or
                                "none (accuracy = R^2)"; "" when not chosen   */
} gen_search_answer;

/* Run the search (progress and comm as in j->opts): 0 finished (a.r.found
 * says whether a format meets the budget), 1 stopped by stop-after, <0 an
 * error.  Free a with gen_search_answer_free in every case. */
int gen_search_job_run(gen_search_job *j, gen_search_answer *a, nr_err *err);
void gen_search_answer_free(gen_search_answer *a);
/* The --json object (one line group, ending in a newline). */
void gen_search_answer_json(FILE *f, const gen_search_job *j, const gen_search_answer *a);
/* For foreign callers (python/numrep, ctypes): a job on the heap (NULL: out
 * of memory), freed with gen_search_job_free; and gen_search_job_run whose
 * answer is the --json object, malloc'ed (free()), NULL on an error (err
 * filled); *status 0 found, 3 none meets the budget, 4 stopped (the
 * command's exit statuses). */
gen_search_job *gen_search_job_new(void);
void gen_search_job_free(gen_search_job *j);
/* The search's progress (opts.progress): fn(ctx, phase, done, total). */
void gen_search_job_progress(gen_search_job *j, nr_search_progress_fn fn, void *ctx);
char *gen_search_job_json(gen_search_job *j, int *status, nr_err *err);

/* Text helpers the commands share with their library forms (a decimal
 * integer in [lo, hi]: opts.h's gen_opts_parse_count): */
/* a refused option value: -NR_ERANGE, err->where "--NAME", msg from fmt; */
int gen_search_opt_bad(nr_err *err, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* a JSON string literal of s ('"' and '\\' escaped, control characters as
 * \u00XX). */
void gen_search_json_str(FILE *f, const char *s);

#endif
