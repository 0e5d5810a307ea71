/* search_lm.h -- the precision search of a causal language model under a
 * perplexity budget (search_lm.c; docs/search.md, "Language models").
 *
 * Candidates: the configurations of nr_search_space (rank order, fastest
 * first by the cost model), each in up to two role assignments:
 *   uniform  the format in every role (weights, activations, products,
 *            accumulator, nonlinear), rounding o->rounding;
 *   mixed    the format for weights, activations, products and accumulator
 *            (the matmuls and linear layers), and o->wide (bf16) for the
 *            nonlinear role and every role of the softmax, norm, rope and
 *            GELU/SiLU ops (the mixed-precision practice of [op-prec]).
 * Both are ranked by the format's speedup (the cost model prices MACs,
 * which dominate); at one format the uniform one comes first.
 * A candidate passes when its perplexity on the windows is finite and at
 * most fp32's times (1 + budget).  The answer is the first candidate in
 * that order that passes: the candidates are measured in order, and the
 * measurement stops at the first pass. */
#ifndef NUMREP_SEARCH_LM_H
#define NUMREP_SEARCH_LM_H

#include "eval_lm.h"
#include "search.h"

enum { NR_LM_ROLES_UNIFORM = 1, NR_LM_ROLES_MIXED = 2, NR_LM_ROLES_BOTH = 3 };

typedef struct nr_lm_search_opts {
    double budget;                   /* 0.02: perplexity <= fp32's x 1.02     */
    int64_t limit;                   /* windows (0: all)                      */
    int roles;                       /* NR_LM_ROLES_*                         */
    char wide[32];                   /* the mixed candidates' wide format     */
    nr_rounding rounding;            /* default rz, as nr_search_opts         */
    uint64_t random_seed;            /* 0: the spec's weights                 */
    /* how an engine is opened for a model (required) */
    int (*engine_open)(void *ctx, const nr_model *m, nr_engine *out, nr_err *err);
    void *engine_ctx;
    /* after each candidate: its index, how many there are */
    void (*progress)(void *ctx, const char *phase, int64_t done, int64_t total);
    void *progress_ctx;
} nr_lm_search_opts;

void nr_lm_search_opts_init(nr_lm_search_opts *o); /* 2 %, both roles, bf16, rz */

typedef struct nr_lm_search_row {
    char name[96];                   /* "e4m3" or "e4m3+bf16"                 */
    double speedup;
    double perplexity, accuracy;
    int pass;
} nr_lm_search_row;

typedef struct nr_lm_search_result {
    double fp32_perplexity, fp32_accuracy;
    double max_perplexity;           /* fp32's x (1 + budget)                 */
    int64_t windows, tokens;
    int candidates;                  /* in the grid                           */
    int found;                       /* 0: none passes                        */
    nr_lm_search_row *rows;          /* measured, in order; the answer last   */
    int nrows;
    char precision[2048];            /* the answer as a precision file        */
    double seconds;
} nr_lm_search_result;

/* The precision file (YAML text) of candidate c: mixed 0 uniform, 1 mixed. */
int nr_lm_search_prec_text(const nr_search_cfg *c, int mixed, const char *wide,
                           nr_rounding rounding, char *buf, size_t n);
/* Search net_path on the windows t over cfg[0..n).  0 (r->found says
 * whether a candidate passed) or -code. */
int nr_lm_search_run(const char *net_path, const nr_tokens *t, const nr_search_cfg *cfg, int n,
                     const nr_lm_search_opts *o, nr_lm_search_result *r, nr_err *err);
void nr_lm_search_result_free(nr_lm_search_result *r);

#endif
