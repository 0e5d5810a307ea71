/* search_lm.c -- the precision search of a causal language model under a
 * perplexity budget: candidates (a format in every role, or the format for
 * the matmuls with the nonlinear parts wide) measured in rank order until
 * one keeps the perplexity within the budget of fp32's (search_lm.h,
 * docs/search.md "Language models"). */
#include "search_lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void nr_lm_search_opts_init(nr_lm_search_opts *o)
{
    *o = (nr_lm_search_opts){.budget = 0.02, .roles = NR_LM_ROLES_BOTH, .rounding = NR_RND_RZ};
    snprintf(o->wide, sizeof o->wide, "bf16");
}

/* the op types whose every role the mixed candidates keep wide */
static const char *const wide_ops[] = {"softmax", "softmax_axis", "causal_softmax", "layernorm",
                                       "rmsnorm", "rope", "gelu", "silu"};

int nr_lm_search_prec_text(const nr_search_cfg *c, int mixed, const char *wide,
                           nr_rounding rounding, char *buf, size_t n)
{
    const char *f = c->name, *rnd = nr_format_rounding_name(rounding);
    int k = snprintf(buf, n,
                     "# numrep search --metric perplexity: %s%s%s\n"
                     "default: {weights: %s, activations: %s, products: %s, accumulator: %s, "
                     "nonlinear: %s, rounding: %s}\n",
                     f, mixed ? " for the matmuls, the nonlinear parts in " : " in every role",
                     mixed ? wide : "", f, f, f, f, mixed ? wide : f, rnd);
    if (mixed) {
        k += snprintf(buf + (k < (int)n ? k : (int)n), k < (int)n ? n - (size_t)k : 0, "ops: {");
        for (size_t i = 0; i < sizeof wide_ops / sizeof *wide_ops; i++)
            k += snprintf(buf + (k < (int)n ? k : (int)n), k < (int)n ? n - (size_t)k : 0,
                          "%s%s: {weights: %s, activations: %s, products: %s, accumulator: %s, "
                          "nonlinear: %s, rounding: %s}",
                          i ? ", " : "", wide_ops[i], wide, wide, wide, wide, wide, rnd);
        k += snprintf(buf + (k < (int)n ? k : (int)n), k < (int)n ? n - (size_t)k : 0, "}\n");
    }
    return k < (int)n ? 0 : -NR_ERANGE;
}

/* The model of net_path in the precision text (NULL: fp32). */
static int load(const char *net_path, const char *text, uint64_t seed, nr_model **m, nr_err *err)
{
    nr_spec *s = NULL;
    nr_precision *p = NULL;
    int rc = nr_spec_load(net_path, &s, err);
    if (!rc && text && (rc = nr_precision_parse_string(text, "search candidate", &p, err)))
        nr_spec_free(s);
    if (rc)
        return rc;
    nr_model_opts mo;
    nr_model_opts_init(&mo);
    mo.random_seed = seed;
    return nr_model_build_opts(s, p, &mo, m, err); /* takes s and p */
}

/* Perplexity and accuracy of net_path in text (NULL: fp32) on o's windows. */
static int measure(const char *net_path, const char *text, const nr_tokens *t,
                   const nr_lm_search_opts *o, nr_lm_result *res, nr_err *err)
{
    nr_model *m = NULL;
    nr_engine e = {0};
    int rc = load(net_path, text, o->random_seed, &m, err);
    if (!rc)
        rc = o->engine_open(o->engine_ctx, m, &e, err);
    if (!rc)
        rc = nr_eval_lm(&e, m, t, o->limit, NULL, NULL, res, err);
    nr_engine_close(&e);
    nr_model_free(m);
    return rc;
}

int nr_lm_search_run(const char *net_path, const nr_tokens *t, const nr_search_cfg *cfg, int n,
                     const nr_lm_search_opts *o, nr_lm_search_result *r, nr_err *err)
{
    *r = (nr_lm_search_result){.candidates = n * ((o->roles & 1) + (o->roles >> 1 & 1))};
    if (!o->engine_open || !(o->roles & NR_LM_ROLES_BOTH) || !(o->budget >= 0))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "search",
                          "an engine, roles and a budget >= 0 are needed");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nr_lm_result base = {0};
    int rc = measure(net_path, NULL, t, o, &base, err);
    if (rc)
        return rc;
    r->fp32_perplexity = base.perplexity;
    r->fp32_accuracy = base.accuracy;
    r->windows = base.windows;
    r->tokens = base.tokens;
    r->max_perplexity = base.perplexity * (1 + o->budget);
    nr_eval_lm_result_free(&base);
    if (!isfinite(r->fp32_perplexity))
        return nr_err_set(err, NR_ERANGE, net_path, 0, 0, "fp32",
                          "the fp32 perplexity is not finite: no budget relative to it");
    r->rows = calloc((size_t)r->candidates + 1, sizeof *r->rows);
    if (!r->rows)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
    char text[sizeof r->precision];
    for (int i = 0; i < n && !r->found && !rc; i++)
        for (int mixed = 0; mixed < 2 && !r->found && !rc; mixed++) {
            if (!(o->roles & (mixed ? NR_LM_ROLES_MIXED : NR_LM_ROLES_UNIFORM)))
                continue;
            if (nr_lm_search_prec_text(&cfg[i], mixed, o->wide, o->rounding, text, sizeof text)) {
                rc = nr_err_set(err, NR_ERANGE, NULL, 0, 0, "search", "precision text too long");
                break;
            }
            nr_lm_result res = {0};
            if ((rc = measure(net_path, text, t, o, &res, err)))
                break;
            nr_lm_search_row *w = &r->rows[r->nrows++];
            snprintf(w->name, sizeof w->name, "%s%s%s", cfg[i].name, mixed ? "+" : "",
                     mixed ? o->wide : "");
            w->speedup = cfg[i].speedup;
            w->perplexity = res.perplexity;
            w->accuracy = res.accuracy;
            w->pass = isfinite(res.perplexity) && res.perplexity <= r->max_perplexity;
            nr_eval_lm_result_free(&res);
            if (w->pass) {
                r->found = 1;
                memcpy(r->precision, text, sizeof text);
            }
            if (o->progress)
                o->progress(o->progress_ctx, "candidate", r->nrows, r->candidates);
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (rc)
        nr_lm_search_result_free(r);
    return rc;
}

void nr_lm_search_result_free(nr_lm_search_result *r)
{
    free(r->rows);
    r->rows = NULL;
    r->nrows = 0;
}
