/* eval_lm.c -- perplexity and next-token accuracy of a causal language
 * model on token-id windows ([lm-metric] in docs/semantics.md).
 *
 * The model reads ids 0..T-1 of a window (its input [1, 1, T]) and outputs
 * logits [1, T, V]; position t is scored on id t+1.  The metric is computed
 * in double from the model's output logits (float32 as every engine
 * returns them), outside the model's arithmetic: log-softmax by the max
 * subtraction, nll = log(sum_v exp(l_v - m)) + m - l_target, summed over
 * windows and positions in order; perplexity = exp(sum / count).  A row
 * with a NaN or infinite logit scores nll = +inf (so the perplexity is
 * +inf) and is counted in nonfinite.  Accuracy: nr_eval_argmax == target. */
#include "eval_lm.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

/* The nll of one position (V logits) and whether its argmax is target. */
double nr_eval_lm_nll(const float *l, int V, int target, int *hit)
{
    double m = -INFINITY;
    int finite = 1;
    for (int v = 0; v < V; v++) {
        if (!isfinite(l[v]))
            finite = 0;
        else if (l[v] > m)
            m = l[v];
    }
    *hit = nr_eval_argmax(l, V) == target;
    if (!finite)
        return INFINITY;
    double s = 0;
    for (int v = 0; v < V; v++)
        s += exp((double)l[v] - m);
    return log(s) + m - (double)l[target];
}

int nr_eval_lm_check(const nr_model *m, const nr_tokens *t, int *T, int *V, nr_err *err)
{
    const int *in = m->in_shape, *out = m->layers[m->output].out_shape;
    *T = t->len - 1;
    if (in[0] != 1 || in[1] != 1 || in[2] != *T)
        return nr_err_set(err, NR_ESHAPE, m->spec->path, 0, 0, "input",
                          "a language model's input must be [1, 1, T] token ids with T = %d "
                          "(windows of %d ids), got [%d, %d, %d]", *T, t->len, in[0], in[1],
                          in[2]);
    if (out[0] != 1 || out[1] != *T || out[2] < 1)
        return nr_err_set(err, NR_ESHAPE, m->spec->path, 0, 0, "output",
                          "a language model's output must be [1, T, V] logits with T = %d, "
                          "got [%d, %d, %d]", *T, out[0], out[1], out[2]);
    *V = out[2];
    if (t->vocab_used > *V)
        return nr_err_set(err, NR_ERANGE, m->spec->path, 0, 0, "output",
                          "the data has token id %d but the model scores %d ids",
                          t->vocab_used - 1, *V);
    return 0;
}

int nr_eval_lm(const nr_engine *e, const nr_model *m, const nr_tokens *t, int64_t limit,
               nr_eval_progress_fn progress, void *pctx, nr_lm_result *r, nr_err *err)
{
    int T, V, rc;
    *r = (nr_lm_result){0};
    if ((rc = nr_eval_lm_check(m, t, &T, &V, err)))
        return rc;
    int64_t n = limit > 0 && limit < t->n ? limit : t->n;
    const int batch = 4;
    float *in = malloc((size_t)batch * T * sizeof *in);
    float *out = malloc((size_t)batch * T * V * sizeof *out);
    r->argmax = malloc((size_t)n * T * sizeof *r->argmax);
    if (!in || !out || !r->argmax) {
        free(in);
        free(out);
        nr_eval_lm_result_free(r);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "eval", "out of memory");
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int64_t w0 = 0; w0 < n && !rc; w0 += batch) {
        int nb = (int)(n - w0 < batch ? n - w0 : batch);
        for (int b = 0; b < nb; b++)
            for (int i = 0; i < T; i++) /* ids < 2^24: exact in float32 */
                in[(size_t)b * T + i] = (float)t->ids[(w0 + b) * t->len + i];
        if ((rc = e->run(e->impl, in, nb, out, err)))
            break;
        for (int b = 0; b < nb; b++)
            for (int i = 0; i < T; i++) {
                const float *l = out + ((size_t)b * T + i) * V;
                int target = t->ids[(w0 + b) * t->len + i + 1], hit;
                double nll = nr_eval_lm_nll(l, V, target, &hit);
                r->nonfinite += isinf(nll);
                r->nll += nll;
                r->correct += hit;
                r->argmax[(w0 + b) * T + i] = nr_eval_argmax(l, V);
            }
        r->windows += nb;
        if (progress)
            progress(pctx, r->windows, n);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(in);
    free(out);
    if (rc) {
        nr_eval_lm_result_free(r);
        return rc;
    }
    r->tokens = r->windows * T;
    r->perplexity = exp(r->nll / (double)r->tokens);
    r->accuracy = (double)r->correct / (double)r->tokens;
    r->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return 0;
}

int64_t nr_eval_lm_agree(const nr_lm_result *a, const nr_lm_result *b)
{
    int64_t k = 0;
    if (a->tokens != b->tokens || !a->argmax || !b->argmax)
        return 0;
    for (int64_t i = 0; i < a->tokens; i++)
        k += a->argmax[i] == b->argmax[i];
    return k;
}

void nr_eval_lm_result_free(nr_lm_result *r)
{
    free(r->argmax);
    r->argmax = NULL;
}
