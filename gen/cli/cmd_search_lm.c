/* cmd_search_lm.c -- `numrep search NET.yaml --metric perplexity --budget B`:
 * the fastest format (and role assignment) that keeps a causal language
 * model's perplexity within B of fp32's on token-id windows
 * (runtime/study/search_lm.h, docs/search.md "Language models").
 * cmd_search.c hands the whole command line over when --metric is given.
 * The grid options are `numrep search`'s own (gen_search_job_set parses
 * them); engines as `numrep eval --metric` opens them. */
#include "cli.h"
#include "search_job.h"
#include "search_lm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmd_eval_lm.c: the engine for m (the emulator where the generator refuses it) */
int cmd_eval_lm_open_engine(const char *engine, int given, const nr_model *m, nr_engine *e,
                            const char **used, nr_err *err);

typedef struct slm_opts {
    gen_search_job j;        /* grid, limit, engine, budget (max_loss), rounding */
    const char *data, *emit_prec;
    int metric, roles, json, no_progress, engine_given, have_budget;
    char wide[32];
    long long seed;
} slm_opts;

/* Rows that forward to `numrep search`'s parser (gen_search_job_set). */
#define FORWARD(fn, name)                                                    \
    static int fn(void *dst, const char *v, nr_err *err)                     \
    {                                                                        \
        return gen_search_job_set(dst, name, v, err) ? -1 : 0;               \
    }
FORWARD(set_budget, "max-loss")
FORWARD(set_limit, "limit")
FORWARD(set_engine, "engine")
FORWARD(set_grid, "grid")
FORWARD(set_exp, "exp")
FORWARD(set_man, "man")
FORWARD(set_int, "int")
FORWARD(set_frac, "frac")
FORWARD(set_variant, "float-variant")
FORWARD(set_rounding, "rounding")
#undef FORWARD

#define OPT(field) .off = offsetof(slm_opts, field)
#define FWD(nm, f, a, h) {.name = nm, .kind = GEN_OPT_FN, .fn = f, OPT(j), .arg = a, .help = h}
static const gen_opt slm_table[] = {
    {.name = "metric", .kind = GEN_OPT_CHOICE, .choices = "perplexity", OPT(metric), .arg = "M",
     .bad = "%s: expected perplexity (a classifier's search takes --max-loss), got \"%s\"",
     .help = "perplexity: the budget bounds the perplexity on the windows"},
    {.name = "budget", .kind = GEN_OPT_FN, .fn = set_budget, OPT(j), .arg = "B",
     .have = GEN_OPT_HAVE(slm_opts, have_budget),
     .bad = "%s: expected a fraction (0.02) or a percentage (2%%), got \"%s\"",
     .help = "pass when perplexity <= fp32's x (1 + B); 2% or 0.02"},
    {.name = "max-loss", .kind = GEN_OPT_FN, .fn = set_budget, OPT(j), .arg = "B",
     .have = GEN_OPT_HAVE(slm_opts, have_budget), .help = "the same as --budget"},
    {.name = "data", .kind = GEN_OPT_STR, OPT(data), .arg = "TOKENS.npy",
     .help = "int32 [N, T+1] token ids (default: the spec's `dataset:`)"},
    FWD("limit", set_limit, "N", "only the first N windows"),
    {.name = "engine", .kind = GEN_OPT_FN, .fn = set_engine, OPT(j), .arg = "E",
     .have = GEN_OPT_HAVE(slm_opts, engine_given),
     .help = "jit (default; the emulator where the generator refuses\n"
             "the model) or emulator: the same results bit for bit"},
    FWD("grid", set_grid, "G", "float (default here), fixed or both"),
    FWD("exp", set_exp, "A:B", "float exponent bits (default 2:8)"),
    FWD("man", set_man, "A:B", "float mantissa bits (default 1:23)"),
    FWD("int", set_int, "A:B", "fixed integer bits"),
    FWD("frac", set_frac, "A:B", "fixed fraction bits"),
    FWD("float-variant", set_variant, "S", "appended to eXmY (default -nosub-finite-sat)"),
    FWD("rounding", set_rounding, "MODE", "every role's rounding (default rz)"),
    {.name = "roles", .kind = GEN_OPT_CHOICE, .choices = "uniform|mixed|both", OPT(roles),
     .arg = "R",
     .help = "uniform: the format in every role; mixed: the format for\n"
             "the matmuls, --wide for softmax, norms, rope, GELU/SiLU and\n"
             "the nonlinear role; both (default): uniform, then mixed"},
    {.name = "wide", .kind = GEN_OPT_CHARS, .hi = 32, OPT(wide), .arg = "FMT",
     .help = "the mixed candidates' wide format (default bf16)"},
    {.name = "random-weights", .kind = GEN_OPT_COUNT, .lo = 1, .hi = 1ll << 62, OPT(seed),
     .arg = "SEED", .help = "deterministic random weights instead of the spec's"},
    {.name = "emit-precision", .kind = GEN_OPT_STR, OPT(emit_prec), .arg = "F",
     .help = "write the answer's precision file to F: `numrep eval\n"
             "--metric perplexity -p F` reproduces the answer"},
    {.name = "json", .kind = GEN_OPT_FLAG, OPT(json), .help = "one JSON object on stdout"},
    {.name = "no-progress", .kind = GEN_OPT_FLAG, OPT(no_progress), .help = "no progress"},
    {0}};
#undef FWD
#undef OPT

static const cli_cmd slm_cmd = {
    .name = "search",
    .opts = slm_table,
    .npos = 1,
    .extra = cli_opts_extra_net,
    .usage = "usage: numrep search NET.yaml --metric perplexity --budget B [--data TOKENS.npy]\n"
             "                     [--limit N] [--engine jit|emulator] [--roles R] [--wide FMT]\n"
             "                     [--grid G] [--exp A:B] [--man A:B] [--int A:B] [--frac A:B]\n"
             "                     [--float-variant S] [--rounding MODE] [--emit-precision F]\n"
             "                     [--json] [--no-progress]\n"
             "\n"
             "The fastest format (speedup at equal area, `numrep cost`) that keeps a causal\n"
             "language model's perplexity on token-id windows at most fp32's x (1 + B).\n"
             "Candidates are measured in rank order until one passes (docs/search.md).\n"
             "\n",
    .usage_end = "\nexit status: 0 found, 1 error, 2 usage error, 3 no candidate meets the budget\n",
};

typedef struct engine_ctx {
    const char *engine;
    int given;
    const char *used;
} engine_ctx;

static int open_engine(void *ctx, const nr_model *m, nr_engine *out, nr_err *err)
{
    engine_ctx *c = ctx;
    return cmd_eval_lm_open_engine(c->engine, c->given, m, out, &c->used, err);
}

static void progress_update(void *ctx, const char *phase, int64_t done, int64_t total)
{
    cli_progress_update(ctx, phase, done, total);
}

static void print_answer(const slm_opts *o, const char *net, const char *data,
                         const char *engine, const nr_lm_search_result *r)
{
    const nr_lm_search_row *a = r->found ? &r->rows[r->nrows - 1] : NULL;
    if (o->json) {
        printf("{\"network\": ");
        cli_json_str(net);
        printf(", \"data\": ");
        cli_json_str(data);
        printf(", \"metric\": \"perplexity\", \"budget\": %.6g, \"engine\": \"%s\", "
               "\"windows\": %lld, \"tokens\": %lld,\n \"fp32_perplexity\": %.6f, "
               "\"fp32_accuracy\": %.6f, \"max_perplexity\": %.6f, \"found\": %s, "
               "\"candidates\": %d, \"measured\": %d,\n \"chosen\": ",
               o->j.opts.max_loss, engine, (long long)r->windows, (long long)r->tokens,
               r->fp32_perplexity, r->fp32_accuracy, r->max_perplexity,
               r->found ? "true" : "false", r->candidates, r->nrows);
        if (a)
            printf("{\"name\": \"%s\", \"speedup\": %.6g, \"perplexity\": %.6f, "
                   "\"accuracy\": %.6f}", a->name, a->speedup, a->perplexity, a->accuracy);
        else
            printf("null");
        printf(",\n \"rows\": [");
        for (int i = 0; i < r->nrows; i++) {
            const nr_lm_search_row *w = &r->rows[i];
            printf("%s{\"name\": \"%s\", \"speedup\": %.6g, \"perplexity\": ", i ? ", " : "",
                   w->name, w->speedup);
            if (isfinite(w->perplexity))
                printf("%.6f", w->perplexity);
            else
                printf("null");
            printf(", \"accuracy\": %.6f, \"pass\": %s}", w->accuracy, w->pass ? "true" : "false");
        }
        printf("], \"seconds\": %.3f}\n", r->seconds);
        return;
    }
    printf("network      %s\n", net);
    printf("data         %s (%lld windows, %lld predictions), engine %s\n", data,
           (long long)r->windows, (long long)r->tokens, engine);
    printf("fp32         perplexity %.4f, next-token accuracy %.2f %%\n", r->fp32_perplexity,
           100 * r->fp32_accuracy);
    printf("budget       perplexity <= %.4f (fp32 + %.4g %%)\n", r->max_perplexity,
           100 * o->j.opts.max_loss);
    for (int i = 0; i < r->nrows; i++)
        printf("  %-28s speedup %8.3f  perplexity %10.4f  accuracy %6.2f %%  %s\n",
               r->rows[i].name, r->rows[i].speedup, r->rows[i].perplexity,
               100 * r->rows[i].accuracy, r->rows[i].pass ? "pass" : "fail");
    if (a)
        printf("chosen       %s (speedup %.3f, perplexity %.4f; %d of %d candidates measured)\n",
               a->name, a->speedup, a->perplexity, r->nrows, r->candidates);
    else
        printf("chosen       none of %d candidates meets the budget\n", r->candidates);
    if (a)
        printf("precision:\n%s", r->precision);
}

int cmd_search_lm(int argc, char **argv)
{
    slm_opts o = {.roles = 2};
    gen_search_job_init(&o.j);
    snprintf(o.j.grid_kind, sizeof o.j.grid_kind, "float");
    const char *net = NULL;
    int rc = cli_opts_parse(&slm_cmd, argc, argv, &o, &net);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!net)
        return cli_usage("search", "missing NET.yaml");
    if (!o.have_budget)
        return cli_usage("search", "missing --budget B (e.g. 2%%)");
    o.j.grid.floats = strcmp(o.j.grid_kind, "fixed") != 0; /* as search_job.c reads it */
    o.j.grid.fixeds = strcmp(o.j.grid_kind, "float") != 0;
    if (!strcmp(o.j.grid_kind, "scaled") || !strcmp(o.j.grid_kind, "all"))
        return cli_usage("search", "--metric perplexity searches plain formats (--grid float, "
                                   "fixed or both)");
    nr_err err = {0};
    nr_model *m = NULL;
    nr_tokens *t = NULL;
    nr_search_cfg *cfg = NULL;
    nr_lm_search_result r = {0};
    int n = 0, status = 1;
    nr_model_opts mo;
    nr_model_opts_init(&mo);
    mo.random_seed = (uint64_t)o.seed;
    if (nr_model_load_opts(net, NULL, &mo, &m, &err))
        goto fail;
    if (!nr_model_takes_ids(m)) {
        status = cli_usage("search", "--metric perplexity: %s is not a language model (its "
                                     "input is not token ids); use --max-loss", net);
        goto done;
    }
    char dpath[sizeof m->spec->dataset];
    snprintf(dpath, sizeof dpath, "%s", o.data ? o.data : m->spec->dataset);
    if (!dpath[0]) {
        status = cli_usage("search", "missing --data TOKENS.npy (the spec names no `dataset:`)");
        goto done;
    }
    if (nr_ds_tokens_load(dpath, (int)m->layers[m->output].out_shape[2], &t, &err))
        goto fail;
    nr_model_free(m);
    m = NULL;
    if (nr_search_space(&o.j.grid, NULL, &cfg, &n, &err))
        goto fail;
    nr_lm_search_opts so;
    nr_lm_search_opts_init(&so);
    so.budget = o.j.opts.max_loss;
    so.limit = o.j.opts.limit;
    so.roles = o.roles + 1;
    so.rounding = o.j.opts.rounding;
    so.random_seed = (uint64_t)o.seed;
    if (o.wide[0])
        snprintf(so.wide, sizeof so.wide, "%s", o.wide);
    nr_format wf;
    if (nr_format_parse(so.wide, &wf, &err)) {
        status = cli_usage("search", "--wide: %s", err.msg);
        goto done;
    }
    engine_ctx ec = {.engine = o.j.engine, .given = o.engine_given, .used = "jit"};
    so.engine_open = open_engine;
    so.engine_ctx = &ec;
    cli_progress prog;
    cli_progress_init(&prog, !o.no_progress, NULL);
    so.progress = progress_update;
    so.progress_ctx = &prog;
    if (nr_lm_search_run(net, t, cfg, n, &so, &r, &err))
        goto fail;
    if (o.emit_prec && r.found) {
        FILE *f = fopen(o.emit_prec, "w");
        if (!f || (fputs(r.precision, f) == EOF) + fclose(f)) {
            nr_err_set(&err, NR_EIO, o.emit_prec, 0, 0, "--emit-precision", "cannot write: %s",
                       strerror(errno));
            goto fail;
        }
    }
    print_answer(&o, net, dpath, ec.used, &r);
    status = r.found ? 0 : 3;
    goto done;
fail:
    status = cli_error(&err);
done:
    nr_lm_search_result_free(&r);
    free(cfg);
    nr_ds_tokens_free(t);
    nr_model_free(m);
    return status;
}
