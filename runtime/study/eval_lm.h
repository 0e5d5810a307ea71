/* eval_lm.h -- perplexity and next-token accuracy of a causal language
 * model on token-id windows (eval_lm.c, [lm-metric] in docs/semantics.md). */
#ifndef NUMREP_EVAL_LM_H
#define NUMREP_EVAL_LM_H

#include "dataset.h"
#include "eval.h"
#include "model.h"

typedef struct nr_lm_result {
    int64_t windows, tokens;  /* windows run, positions scored (windows * T) */
    double nll;               /* sum of the positions' nll, nats             */
    double perplexity;        /* exp(nll / tokens)                           */
    int64_t correct;          /* positions whose argmax is the next id       */
    double accuracy;          /* correct / tokens                            */
    int64_t nonfinite;        /* positions with a NaN or infinite logit      */
    int *argmax;              /* [tokens] predicted ids (-1: all NaN)        */
    double seconds;           /* wall time of the run                        */
} nr_lm_result;

/* eval_lm.c: check that m takes [1, 1, T] ids and returns [1, T, V]
 * logits for windows of T+1 ids with every id < V (sets T, V). */
int nr_eval_lm_check(const nr_model *m, const nr_tokens *t, int *T, int *V, nr_err *err);
/* Run the first limit windows (0: all) through e and score them. */
int nr_eval_lm(const nr_engine *e, const nr_model *m, const nr_tokens *t, int64_t limit,
               nr_eval_progress_fn progress, void *pctx, nr_lm_result *r, nr_err *err);
/* nll of one position's V logits for target (+inf when a logit is not
 * finite); *hit = 1 when the first-index argmax is target. */
double nr_eval_lm_nll(const float *l, int V, int target, int *hit);
/* Positions where a and b predict the same id. */
int64_t nr_eval_lm_agree(const nr_lm_result *a, const nr_lm_result *b);
void nr_eval_lm_result_free(nr_lm_result *r);

#endif
