/* eval.h -- accuracy of a model on a labeled data set.
 *
 * An engine runs a compiled model on batches of preprocessed inputs.  It is
 * built once per model (the emulator has nothing to build; the JIT will
 * compile here) and then called on batches, possibly from several threads
 * at once on disjoint buffers.  nr_eval_run splits the samples of a dataset
 * over a thread pool, scores top-1 / top-5 per sample and times the run.
 *
 * The fp32 baseline for "normalized accuracy" is kept in a small file cache
 * (nr_eval_cache_*): keyed by hashes of the spec text, the weights, the data
 * actually evaluated (preprocessed inputs and labels) and the sample range,
 * so a second run of a narrow format on the same data does not recompute
 * fp32.  A cache file that is missing, truncated or corrupt is ignored
 * (recomputed and rewritten), never trusted. */
#ifndef NUMREP_EVAL_H
#define NUMREP_EVAL_H

/* Table of contents of runtime/study/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   calibrate.c           calibration runs: which tensors get a static scale, statistics
 *                         [calibrate.h]
 *   calibrate_method.c    a tensor's threshold and scale from its statistics [calibrate.h]
 *   calibrate_taps.c      the fp32 "tap" model of calibration [calibrate.h]
 *   calibrate_write.c     the calibrated precision file [calibrate.h]
 *   cost.c                the MAC hardware cost model [cost.h]
 *   cost_scaled.c         the cost of a scaled format's dot-product unit [cost.h]
 *   eval.c                the evaluation loop: engines, scoring, the threaded run [eval.h]
 *   eval_cache.c          the file cache of fp32 baselines [eval.h]
 *   eval_lm.c             perplexity and next-token accuracy of a language model [eval_lm.h]
 *   predictor.c           the fast search's accuracy predictor [search.h]
 *   report.c              the HTML report of a results store [report.h]
 *   results.c             the search's results store in SQLite [results.h]
 *   search.c              the precision search [search.h]
 *   search_grid_scaled.c  scaled formats in the search grid [search.h]
 *   search_lm.c           the search of a language model under a perplexity budget
 *                         [search_lm.h]
 *   search_strategy.c     the fast search's score: R^2 without the clipped logits [search.h]
 */

#include <stdint.h>
#include "dataset.h"
#include "model.h"

/* ---------------------------------------------------------------- engines */

typedef struct nr_engine {
    const char *name;   /* "emulator", "jit"                                 */
    void *impl;
    /* Run n samples: in n * C*H*W floats (the model input), out n * K floats
     * (the output layer).  Must be safe to call from several threads at once
     * on disjoint in/out buffers. */
    int (*run)(void *impl, const float *in, int n, float *out, nr_err *err);
    void (*free)(void *impl);
} nr_engine;

/* name: "emulator" or "jit" (not available yet: NR_EUNSUP saying so).  The
 * model must outlive the engine. */
int nr_engine_open(const char *name, const nr_model *m, nr_engine *out, nr_err *err);
void nr_engine_close(nr_engine *e);

/* ---------------------------------------------------------------- scoring */

/* Rank of the true label among k scores: the number of classes that beat it
 * (a larger score, or an equal score at a smaller index, so rank 0 is the
 * first-index argmax).  NaN scores never beat anything; a NaN score for the
 * label ranks it last (k).  Top-1 correct iff rank 0, top-5 iff rank < 5. */
int nr_eval_rank(const float *scores, int k, int label);
/* First index of the largest non-NaN score, -1 if all are NaN. */
int nr_eval_argmax(const float *scores, int k);
/* The label's score minus the largest other (non-NaN) score: > 0 when the
 * label wins outright, < 0 when another class beats it, 0 on a tie (which
 * nr_eval_rank settles by index).  -inf when the label is out of range or
 * its score is NaN; +inf when no other score is a number.  How far the
 * outputs must move to change the answer: the fast search's noise model
 * (docs/search.md) uses it. */
double nr_eval_margin(const float *scores, int k, int label);

/* ---------------------------------------------------------------- running */

typedef void (*nr_eval_progress_fn)(void *ctx, int64_t done, int64_t total);

typedef struct nr_eval_opts {
    int64_t first;          /* first sample (default 0)                       */
    int64_t limit;          /* number of samples; 0 = to the end              */
    int jobs;               /* threads; <= 0: 1                               */
    int batch;              /* samples per engine call; <= 0: 8               */
    nr_eval_progress_fn progress; /* called after each batch (serialized), may be NULL */
    void *progress_ctx;
    /* Early stop (< 0, the default: never): once more than max_wrong top-1
     * answers are wrong the run stops, and the result covers the shortest
     * prefix of whole batches that proves it (the same prefix whatever the
     * thread count), with stopped = 1. */
    int64_t max_wrong;
    int keep_scores;        /* 1: the result keeps every output (scores)      */
    int keep_margins;       /* 1: the result keeps every sample's margin      */
} nr_eval_opts;

typedef struct nr_eval_result {
    int64_t n;              /* samples evaluated                              */
    int stopped;            /* early stop: n is a prefix of the slice         */
    int64_t top1, top5;     /* correct answers                                */
    int classes;            /* output size K                                  */
    int *argmax;            /* [n] predicted class (-1: all NaN), malloc'ed   */
    uint8_t *rank;          /* [n] min(rank, 255), malloc'ed                  */
    float *scores;          /* [n][classes] the output layer when keep_scores
                               was asked for, else NULL; malloc'ed            */
    float *margin;          /* [n] nr_eval_margin of each sample when
                               keep_margins was asked for, else NULL          */
    uint64_t data_hash;     /* of the inputs and labels evaluated             */
    double seconds;         /* wall time of the run                           */
} nr_eval_result;

void nr_eval_opts_init(nr_eval_opts *o);
/* Evaluate the engine on samples [first, first+limit) of ds.  The dataset's
 * sample shape must equal the model's input shape and its labels must be
 * below the model's output size (both errors say what was expected). */
int nr_eval_run(const nr_engine *e, const nr_model *m, const nr_dataset *ds,
                const nr_eval_opts *o, nr_eval_result *r, nr_err *err);
void nr_eval_result_free(nr_eval_result *r);
/* Samples whose predictions agree between a and b (same n required). */
int64_t nr_eval_agree(const nr_eval_result *a, const nr_eval_result *b);

/* ---------------------------------------------------------------- the fp32 baseline cache */

/* (the hashes themselves: numrep.h, runtime/num/hash.c) */
/* The key of the fp32 baseline of model m on data: spec file text, weights
 * file (or random seed), the data hash and sample range. */
int nr_eval_cache_key(const nr_model *m, uint64_t random_seed, uint64_t data_hash,
                      int64_t first, int64_t n, uint64_t *key, nr_err *err);
/* The cache directory: $NUMREP_CACHE_DIR, else $XDG_CACHE_HOME/numrep, else
 * $HOME/.cache/numrep; "" (no cache) when none is set. */
void nr_eval_cache_dir(char *out, size_t size);
/* 1 and r filled when dir holds a valid entry for key with n samples and
 * the given classes, else 0 (a corrupt entry is ignored). */
int nr_eval_cache_get(const char *dir, uint64_t key, int64_t n, int classes,
                      nr_eval_result *r);
/* Store r under key (write to a temporary file, then rename).  Failure to
 * write is not an error for the caller's run: returns -NR_EIO with err set
 * so the caller can mention it. */
int nr_eval_cache_put(const char *dir, uint64_t key, const nr_eval_result *r, nr_err *err);

#endif
