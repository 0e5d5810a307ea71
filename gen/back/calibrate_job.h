/* calibrate_job.h -- `numrep calibrate` as a library call: the options by
 * their long names (one parser for the command line and numrep.calibrate
 * in python/), the calibration of runtime/study/calibrate.h with the JIT
 * (or the emulator) running the fp32 network, the calibrated precision
 * file written and loaded back, and the answer as a JSON object.  Exports
 * of calibrate_job.c: */
#ifndef NUMREP_CALIBRATE_JOB_H
#define NUMREP_CALIBRATE_JOB_H

#include <limits.h>
#include <stdio.h>

#include "calibrate.h"
#include "opts.h"

typedef struct gen_cal_job {
    char net[PATH_MAX], prec[PATH_MAX], data[PATH_MAX], out[PATH_MAX];
    char engine[16];         /* jit (default) or emulator                      */
    char method[64];         /* amax (default), percentile:P, mse              */
    long long samples;       /* 0: the library's default (1000 or all)         */
    long long first, jobs;
    nr_model_opts mo;        /* rounding, mac, random weights, max memory      */
    nr_eval_progress_fn progress; /* after each batch; NULL: none              */
    void *progress_ctx;
} gen_cal_job;

/* The defaults of `numrep calibrate`. */
void gen_cal_job_init(gen_cal_job *j);
/* The options, as a table (opts.h; the command line's too, with --help
 * from it): net, precision (-p), data, samples, first, method, out (-o),
 * engine, jobs, and gen_opts_model's rounding, mac, random-weights,
 * max-memory (bytes, K/M/G/T suffix). */
extern const gen_opt gen_cal_job_opts[];
/* Whether option name ("samples", no leading dashes) takes a value: 1, or
 * is not a calibrate option: -1 (calibrate has no flags). */
int gen_cal_job_takes(const char *name);
/* Set option name to value.  A bad value: -NR_ERANGE and err saying which
 * option ("--samples: ...") and what was expected. */
int gen_cal_job_set(gen_cal_job *j, const char *name, const char *value, nr_err *err);
/* The checks that need no file: net, precision and out given.  0, or
 * -NR_ERANGE with err->msg saying what is missing (a usage error). */
int gen_cal_job_check(const gen_cal_job *j, nr_err *err);

typedef struct gen_cal_answer {
    nr_calibration cal;      /* the tensors, their statistics and scales       */
    char data[PATH_MAX];     /* the data set used                              */
    char method[64];         /* the method's canonical name                    */
    char *yaml;              /* the file written to j->out (malloc'ed)         */
} gen_cal_answer;

/* Calibrate, write j->out and load it back with the network: 0, or <0 with
 * err set (a missing data set: -NR_ERANGE).  Free a with gen_cal_answer_free
 * in every case. */
int gen_cal_job_run(gen_cal_job *j, gen_cal_answer *a, nr_err *err);
void gen_cal_answer_free(gen_cal_answer *a);
/* The answer as one JSON object (ending in a newline). */
void gen_cal_answer_json(FILE *f, const gen_cal_job *j, const gen_cal_answer *a);
/* For foreign callers (python/numrep, ctypes): a job on the heap (NULL: out
 * of memory), freed with gen_cal_job_free; its progress callback; and
 * gen_cal_job_run whose answer is the JSON object, malloc'ed (free()),
 * NULL on an error (err filled). */
gen_cal_job *gen_cal_job_new(void);
void gen_cal_job_free(gen_cal_job *j);
void gen_cal_job_progress(gen_cal_job *j, nr_eval_progress_fn fn, void *ctx);
char *gen_cal_job_json(gen_cal_job *j, nr_err *err);

#endif
