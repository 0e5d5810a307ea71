/* cmd_eval_lm.c -- `numrep eval --metric perplexity|accuracy`: perplexity and
 * next-token accuracy of a causal language model on token-id windows
 * ([lm-data], [lm-metric]), next to its fp32 values on the same windows.
 * cmd_eval.c hands the whole command line over when --metric names one of
 * these.  Runs the JIT by default (emit_seq_lm.c, bit for bit the
 * emulator's results), the emulator with --engine emulator or where the
 * generator refuses the model ([op-engines]). */
#include "cli.h"
#include "eval_lm.h"
#include "jit_engine.h"
#include "model_gen.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lm_opts {
    const char *data, *engine;
    long long limit;
    int metric, json, no_progress, engine_given;
    cli_model_args model;
} lm_opts;

static const gen_opt lm_table[] = {
    {.kind = GEN_OPT_TABLE, .sub = cli_model_opts, .off = offsetof(lm_opts, model)},
    {.name = "metric", .kind = GEN_OPT_CHOICE, .choices = "perplexity|accuracy",
     .off = offsetof(lm_opts, metric), .arg = "M",
     .bad = "%s: expected perplexity or accuracy (top-1 is eval's metric without --metric), "
            "got \"%s\"",
     .help = "perplexity or accuracy (both are printed whichever is named)"},
    {.name = "data", .kind = GEN_OPT_STR, .off = offsetof(lm_opts, data), .arg = "TOKENS.npy",
     .help = "int32 [N, T+1] token ids (default: the spec's `dataset:`)"},
    {.name = "limit", .kind = GEN_OPT_COUNT, .lo = 1, .hi = 1ll << 40,
     .off = offsetof(lm_opts, limit), .arg = "N",
     .bad = "%s: expected a positive integer, got \"%s\"", .help = "only the first N windows"},
    {.name = "engine", .kind = GEN_OPT_STR, .off = offsetof(lm_opts, engine),
     .have = GEN_OPT_HAVE(lm_opts, engine_given), .arg = "E",
     .help = "jit (default; the emulator where the generator refuses the\n"
             "model) or emulator: the same results bit for bit"},
    {.name = "json", .kind = GEN_OPT_FLAG, .off = offsetof(lm_opts, json),
     .help = "one JSON object on stdout"},
    {.name = "no-progress", .kind = GEN_OPT_FLAG, .off = offsetof(lm_opts, no_progress),
     .help = "no progress on stderr"},
    {0}};

static const cli_cmd lm_cmd = {
    .name = "eval",
    .opts = lm_table,
    .npos = 1,
    .extra = cli_opts_extra_net,
    .usage = "usage: numrep eval NET.yaml --metric perplexity|accuracy [-p PREC.yaml|FMT]\n"
             "                   [--rounding M] [--mac M] [--data TOKENS.npy] [--limit N]\n"
             "                   [--engine jit|emulator]\n"
             "                   [--json] [--no-progress] [--random-weights SEED]\n"
             "\n"
             "Perplexity and next-token accuracy of a causal language model (input [1, 1, T]\n"
             "token ids, output [1, T, V] logits) on windows of T+1 token ids, and the same\n"
             "for fp32 on the same windows.\n"
             "\n",
    .usage_end = "\nexit status: 0 ok, 1 error, 2 usage error\n",
};

int cmd_eval_lm_wanted(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--metric"))
            return 1;
    return 0;
}

/* Open engine (given: named on the command line) for m: the emulator when
 * the generator refuses m and the engine was not given (a note on stderr);
 * *used names the one opened.  (cmd_search_lm.c opens its engines here too.) */
int cmd_eval_lm_open_engine(const char *engine, int given, const nr_model *m, nr_engine *e,
                            const char **used, nr_err *err)
{
    nr_err gerr = {0};
    if (strcmp(engine, "emulator") && gen_plan_model_check(m, &gerr)) {
        if (given) {
            *err = gerr;
            return -gerr.code;
        }
        engine = "emulator";
        fprintf(stderr, "numrep eval: note: %s: %s; using --engine emulator\n", gerr.where,
                gerr.msg);
    }
    *used = strcmp(engine, "emulator") ? "jit" : "emulator";
    return gen_engine_open(engine, m, e, err);
}

static int run_one(const cli_model_args *a, const char *engine, int given, const char **used,
                   nr_model **m, const nr_tokens *t, long long limit, cli_progress *prog,
                   nr_lm_result *r, nr_err *err)
{
    nr_engine e = {0};
    int rc = cli_load_model(a, m, err);
    if (!rc)
        rc = cmd_eval_lm_open_engine(engine, given, *m, &e, used, err);
    if (!rc)
        rc = nr_eval_lm(&e, *m, t, limit, cli_progress_cb, prog, r, err);
    nr_engine_close(&e);
    return rc;
}

/* A JSON number, or null for +-inf and NaN (a perplexity is +inf when a
 * logit is not finite, [lm-metric]). */
static void json_num(double v, const char *fmt)
{
    if (isfinite(v))
        printf(fmt, v);
    else
        fputs("null", stdout);
}

static void print_result(const nr_model *m, const char *pname, const char *data,
                         const char *engine, const nr_lm_result *r, const nr_lm_result *b,
                         int self, int json)
{
    int64_t agree = nr_eval_lm_agree(r, b);
    double agr = r->tokens ? (double)agree / (double)r->tokens : 0;
    if (json) {
        printf("{\"network\": ");
        cli_json_str(m->spec->name);
        printf(", \"spec\": ");
        cli_json_str(m->spec->path);
        printf(", \"precision\": ");
        cli_json_str(pname);
        printf(", \"data\": ");
        cli_json_str(data);
        printf(", \"data_kind\": \"tokens\", \"engine\": \"%s\", \"jobs\": 1, "
               "\"samples\": %lld, \"tokens\": %lld,\n",
               engine, (long long)r->windows, (long long)r->tokens);
        printf(" \"perplexity\": ");
        json_num(r->perplexity, "%.6f");
        printf(", \"nll\": ");
        json_num(r->nll / (double)r->tokens, "%.9f");
        printf(", \"accuracy\": %.6f, \"accuracy_correct\": %lld, \"nonfinite\": %lld,\n",
               r->accuracy, (long long)r->correct, (long long)r->nonfinite);
        printf(" \"fp32_perplexity\": ");
        json_num(b->perplexity, "%.6f");
        printf(", \"fp32_accuracy\": %.6f, \"fp32_source\": \"%s\", \"agreement\": %.6f,\n",
               b->accuracy, self ? "this run" : "computed", agr);
        printf(" \"seconds\": %.3f, \"fp32_seconds\": %.3f}\n", r->seconds,
               self ? 0.0 : b->seconds);
        return;
    }
    printf("network     %s (%s)\n", m->spec->name, m->spec->path);
    printf("precision   %s\n", pname);
    printf("data        %s (tokens, %lld windows, %lld predictions)\n", data,
           (long long)r->windows, (long long)r->tokens);
    printf("engine      %s, 1 job\n", engine);
    printf("perplexity  %.4f  (nll %.6f nats/token%s)\n", r->perplexity,
           r->nll / (double)r->tokens, r->nonfinite ? ", NaN/inf logits" : "");
    printf("accuracy    %6.2f %%  next token (%lld/%lld)\n", 100 * r->accuracy,
           (long long)r->correct, (long long)r->tokens);
    printf("fp32        perplexity %.4f, accuracy %.2f %% (%s)\n", b->perplexity,
           100 * b->accuracy, self ? "this run" : "computed");
    printf("agreement   same next-token prediction as fp32 on %.2f %%\n", 100 * agr);
    printf("time        %.2f s wall\n", r->seconds);
}

int cmd_eval_lm(int argc, char **argv)
{
    const char *net = NULL;
    lm_opts o = {.engine = "jit"};
    int rc = cli_opts_parse(&lm_cmd, argc, argv, &o, &net);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *data = o.data;
    long long limit = o.limit;
    int json = o.json, progress = !o.no_progress;
    cli_model_args ma = o.model;
    if (!net)
        return cli_usage("eval", "missing NET.yaml");
    nr_err err = {0};
    nr_model *m = NULL, *m32 = NULL;
    nr_tokens *t = NULL;
    nr_lm_result r = {0}, base = {0};
    int status = 1, self = 0;
    cli_progress prog;
    cli_progress_init(&prog, progress, "win");
    prog.at = "eval";
    ma.net = net;
    if (cli_load_model(&ma, &m, &err))
        goto fail;
    if (!data && !m->spec->dataset[0]) {
        status = cli_usage("eval", "missing --data TOKENS.npy (the spec names no `dataset:`)");
        goto done;
    }
    char dpath[sizeof m->spec->dataset];
    snprintf(dpath, sizeof dpath, "%s", data ? data : m->spec->dataset);
    data = dpath; /* m is rebuilt below */
    int V = (int)m->layers[m->output].out_shape[2];
    if (nr_ds_tokens_load(data, V, &t, &err))
        goto fail;
    nr_model_free(m);
    m = NULL;
    if (strcmp(o.engine, "emulator") && strcmp(o.engine, "jit") &&
        gen_engine_opt_level(o.engine) < 0) {
        status = cli_usage("eval", "--engine: expected jit or emulator, got \"%s\"", o.engine);
        goto done;
    }
    const char *used = "emulator", *used32 = "emulator";
    if (run_one(&ma, o.engine, o.engine_given, &used, &m, t, limit, &prog, &r, &err))
        goto fail;
    if ((self = cli_model_is_fp32(m))) {
        base = r;
    } else {
        cli_model_args a32 = {.net = net, .prec = "fp32",
                              .mo = {.random_seed = ma.mo.random_seed,
                                     .max_memory = ma.mo.max_memory}};
        prog.at = "fp32 baseline";
        if (run_one(&a32, o.engine, o.engine_given, &used32, &m32, t, limit, &prog, &base,
                    &err))
            goto fail;
    }
    char pname[600];
    snprintf(pname, sizeof pname, "%s%s%s%s%s", ma.prec ? ma.prec : "fp32",
             ma.mo.set_rounding ? ", rounding " : "",
             ma.mo.set_rounding ? nr_format_rounding_name(ma.mo.rounding) : "",
             ma.mo.set_mac ? ", mac " : "", ma.mo.set_mac ? nr_prec_mac_name(ma.mo.mac) : "");
    print_result(m, pname, data, used, &r, &base, self, json);
    status = 0;
    goto done;
fail:
    status = cli_error(&err);
done:
    if (!self)
        nr_eval_lm_result_free(&base);
    nr_eval_lm_result_free(&r);
    nr_ds_tokens_free(t);
    nr_model_free(m32);
    nr_model_free(m);
    return status;
}
