/* cmd_eval.c -- `numrep eval`: accuracy of a network in a precision on a
 * labeled data set, next to its fp32 accuracy on the same samples.  Results
 * go to stdout (text or --json); the progress bar and notes go to stderr. */
#include "cli.h"
#include "eval.h"
#include "model.h"
#include "jit_engine.h"
#include "model_gen.h"
#include "tensorio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The engine used without --engine.  Becomes "jit" when the JIT lands. */
#define DEFAULT_ENGINE "jit"

typedef struct eval_opts {
    const char *data, *engine, *logits;
    long long limit, jobs;
    const char *metric; /* read by cmd_eval_lm.c, which takes over when it is given */
    int json, no_cache, no_progress, engine_given;
    cli_model_args model;
} eval_opts;

static const gen_opt eval_table[] = {
    {.kind = GEN_OPT_TABLE, .sub = cli_model_opts, .off = offsetof(eval_opts, model)},
    {.name = "data", .kind = GEN_OPT_STR, .off = offsetof(eval_opts, data), .arg = "DATASET",
     .help = "a CIFAR-10 directory (test_images.u8 + test_labels.u8, or\n"
             "test_batch.bin) or .bin file, an MNIST directory or\n"
             "*-images-idx3-ubyte[.gz] file, or a folder of JPEG/PNG\n"
             "images with labels.txt (`file label` lines); default: the\n"
             "spec's `dataset:`.  Images are preprocessed as the spec's\n"
             "`input:` section declares"},
    {.name = "limit", .kind = GEN_OPT_COUNT, .lo = 1, .hi = 1ll << 40,
     .off = offsetof(eval_opts, limit), .arg = "N",
     .bad = "%s: expected a positive integer, got \"%s\"",
     .help = "only the first N samples"},
    {.name = "engine", .kind = GEN_OPT_STR, .off = offsetof(eval_opts, engine),
     .have = GEN_OPT_HAVE(eval_opts, engine_given), .arg = "E",
     .help = "emulator (the reference) or jit (compiled with LLVM, the\n"
             "same results bit for bit); default " DEFAULT_ENGINE ", or the\n"
             "emulator for scaled formats (mxfp8, nvfp4, int8@channel, ...),\n"
             "which only it runs for now"},
    {.name = "jobs", .kind = GEN_OPT_COUNT, .lo = 1, .hi = 256, .off = offsetof(eval_opts, jobs),
     .arg = "N", .bad = "%s: expected an integer from 1 to 256, got \"%s\"",
     .help = "threads, each running its own batches (default 1)"},
    {.name = "json", .kind = GEN_OPT_FLAG, .off = offsetof(eval_opts, json),
     .help = "one JSON object on stdout instead of text: accuracies as\n"
             "fractions (0.9173), `samples` the samples evaluated,\n"
             "`seconds`/`fp32_seconds` wall time of each run"},
    {.name = "logits", .kind = GEN_OPT_STR, .off = offsetof(eval_opts, logits), .arg = "Y.npy",
     .help = "also write the output layer of every sample evaluated as\n"
             "float32 [N,K] (the precision's values, in sample order)"},
    {.name = "metric", .kind = GEN_OPT_STR, .off = offsetof(eval_opts, metric), .arg = "perplexity",
     .help = "a language model: perplexity and next-token accuracy on\n"
             "token ids (`numrep eval --metric perplexity --help`)"},
    {.name = "no-cache", .kind = GEN_OPT_FLAG, .off = offsetof(eval_opts, no_cache),
     .help = "neither read nor write the fp32 cache"},
    {.name = "no-progress", .kind = GEN_OPT_FLAG, .off = offsetof(eval_opts, no_progress),
     .help = "no progress on stderr (a bar on a terminal, else a line every 10 s)"},
    {0}};

static const cli_cmd eval_cmd = {
    .name = "eval",
    .opts = eval_table,
    .npos = 1,
    .extra = cli_opts_extra_net,
    .usage = "usage: numrep eval NET.yaml [-p PREC.yaml|FMT] [--rounding M] [--mac M]\n"
             "                   [--data DATASET] [--limit N]\n"
             "                   [--engine jit|emulator] [--jobs N] [--json] [--logits Y.npy]\n"
             "                   [--random-weights SEED] [--no-cache] [--no-progress]\n"
             "                   [--max-memory BYTES]\n"
             "\n"
             "Accuracy of the network in a precision on a labeled data set: top-1, top-5,\n"
             "and normalized to the fp32 result on the same samples (fp32 is computed once\n"
             "and cached in $XDG_CACHE_HOME/numrep or ~/.cache/numrep).\n"
             "\n",
    .usage_end = "\nexit status: 0 ok, 1 error, 2 usage error\n",
};

/* ---------------------------------------------------------------- helpers */

static double frac(int64_t a, int64_t n)
{
    return n ? (double)a / (double)n : 0.0;
}

static double pct(int64_t a, int64_t n)
{
    return 100.0 * frac(a, n);
}

/* ---------------------------------------------------------------- output */

/* What a run measured, for its report on stdout. */
typedef struct eval_report {
    const nr_spec *spec;
    const char *pname, *data, *engine, *bsrc; /* bsrc: where the fp32 result came from */
    const nr_dataset *ds;
    long long jobs;
    int k;
    const nr_eval_result *r, *base;
    double base_seconds;
} eval_report;

static void print_json(const eval_report *e)
{
    const nr_eval_result *r = e->r, *base = e->base;
    int64_t agree = nr_eval_agree(r, base);
    double norm = base->top1 ? 100.0 * (double)r->top1 / (double)base->top1 : 0.0;
    double ips = r->seconds > 0 ? (double)r->n / r->seconds : 0.0;
    printf("{\"network\": ");
    cli_json_str(e->spec->name);
    printf(", \"spec\": ");
    cli_json_str(e->spec->path);
    printf(", \"precision\": ");
    cli_json_str(e->pname);
    printf(", \"data\": ");
    cli_json_str(e->data);
    printf(", \"data_kind\": \"%s\", \"engine\": \"%s\", \"jobs\": %lld, \"samples\": %lld, "
           "\"classes\": %d,\n",
           nr_dataset_kind_name(nr_dataset_kind(e->ds)), e->engine, e->jobs, (long long)r->n,
           e->k);
    /* JSON accuracies are fractions, as in `numrep search --json` */
    printf(" \"top1\": %.6f, \"top5\": %.6f, \"top1_correct\": %lld, \"top5_correct\": %lld,\n",
           frac(r->top1, r->n), frac(r->top5, r->n), (long long)r->top1, (long long)r->top5);
    printf(" \"fp32_top1\": %.6f, \"fp32_top5\": %.6f, \"fp32_source\": \"%s\", "
           "\"normalized_top1\": %.6f, \"agreement\": %.6f,\n",
           frac(base->top1, base->n), frac(base->top5, base->n), e->bsrc, norm / 100,
           frac(agree, r->n));
    printf(" \"seconds\": %.3f, \"images_per_second\": %.2f, \"fp32_seconds\": %.3f, "
           "\"preprocessing_declared\": %s}\n",
           r->seconds, ips, e->base_seconds, e->spec->has_pp ? "true" : "false");
}

static void print_text(const eval_report *e)
{
    const nr_eval_result *r = e->r, *base = e->base;
    int64_t agree = nr_eval_agree(r, base);
    double norm = base->top1 ? 100.0 * (double)r->top1 / (double)base->top1 : 0.0;
    double ips = r->seconds > 0 ? (double)r->n / r->seconds : 0.0;
    printf("network     %s (%s)\n", e->spec->name, e->spec->path);
    printf("precision   %s\n", e->pname);
    printf("data        %s (%s, %lld of %lld samples)\n", e->data,
           nr_dataset_kind_name(nr_dataset_kind(e->ds)), (long long)r->n,
           (long long)nr_dataset_count(e->ds));
    if (!e->spec->has_pp)
        printf("input       WARNING: no preprocessing declared in the spec; fed pixel/255 "
               "(the accuracy below is probably meaningless)\n");
    printf("engine      %s, %lld job%s\n", e->engine, e->jobs, e->jobs == 1 ? "" : "s");
    printf("top-1       %6.2f %%  (%lld/%lld)\n", pct(r->top1, r->n), (long long)r->top1,
           (long long)r->n);
    printf("top-5       %6.2f %%  (%lld/%lld)\n", pct(r->top5, r->n), (long long)r->top5,
           (long long)r->n);
    printf("fp32 top-1  %6.2f %%  (top-5 %.2f %%; %s)\n", pct(base->top1, base->n),
           pct(base->top5, base->n), e->bsrc);
    printf("normalized  %6.2f %%  of the fp32 top-1; same prediction as fp32 on %.2f %%\n",
           norm, pct(agree, r->n));
    printf("time        %.2f s wall, %.1f images/s\n", r->seconds, ips);
}

/* ---------------------------------------------------------------- command */

int cmd_eval_lm(int argc, char **argv);        /* cmd_eval_lm.c: --metric perplexity */
int cmd_eval_lm_wanted(int argc, char **argv); /* 1 when --metric is given */

int cmd_eval(int argc, char **argv)
{
    if (cmd_eval_lm_wanted(argc, argv))
        return cmd_eval_lm(argc, argv);
    const char *net = NULL;
    eval_opts o = {.engine = DEFAULT_ENGINE, .jobs = 1};
    int rc = cli_opts_parse(&eval_cmd, argc, argv, &o, &net);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *data = o.data, *engine = o.engine, *logits = o.logits;
    long long limit = o.limit, jobs = o.jobs;
    int json = o.json, use_cache = !o.no_cache, progress = !o.no_progress,
        engine_given = o.engine_given;
    cli_model_args ma = o.model;
    if (!net)
        return cli_usage("eval", "missing NET.yaml");
    if (strcmp(engine, "emulator") && strcmp(engine, "jit"))
        return cli_usage("eval", "--engine: expected jit or emulator, got \"%s\"", engine);

    nr_err err = {0};
    nr_model *m = NULL, *m32 = NULL;
    nr_dataset *ds = NULL;
    nr_engine eng = {0}, eng32 = {0};
    nr_eval_result r = {0}, base = {0};
    int status = 1, cached = 0, self_base = 0;
    double base_seconds = 0;
    char cache_dir[4096] = "";
    ma.net = net;
    if (cli_load_model(&ma, &m, &err))
        goto fail;
    if (nr_model_takes_ids(m)) { /* [op-embedding] a language model: cmd_eval_lm.c */
        status = cli_usage("eval", "%s is a language model: use --metric perplexity", net);
        goto done;
    }
    nr_err gerr = {0};
    if (strcmp(engine, "emulator") && gen_plan_model_check(m, &gerr)) {
        /* [scl-dot-engines] what the generator does not run yet */
        if (engine_given) {
            err = gerr;
            goto fail;
        }
        engine = "emulator";
        fprintf(stderr, "numrep eval: note: %s: %s; using --engine emulator (slow: consider "
                        "--limit)\n", gerr.where, gerr.msg);
    }
    const nr_spec *spec = m->spec;
    if (!data && !spec->dataset[0]) {
        status = cli_usage("eval", "missing --data DATASET (the spec names no `dataset:`)");
        goto done;
    }
    if (!data)
        data = spec->dataset;
    if (!spec->has_pp) /* said here and in the result: a plausible wrong accuracy otherwise */
        fprintf(stderr, "numrep eval: warning: %s declares no input preprocessing; the images "
                        "are fed as x = pixel/255, which is probably not what the network was "
                        "trained on (declare `input:` divisor/mean/std, or `numrep import "
                        "--mean/--std/--divisor`)\n", spec->path);
    int k = (int)nr_shape_count(m->layers[m->output].out_shape);
    nr_dataset_opts dopt;
    nr_dataset_opts_init(&dopt);
    dopt.pp = spec->pp;
    dopt.num_classes = k;
    if (nr_dataset_open(data, &dopt, &ds, &err))
        goto fail;
    if (gen_engine_open(engine, m, &eng, &err))
        goto fail;

    nr_eval_opts eo;
    nr_eval_opts_init(&eo);
    eo.limit = limit;
    eo.jobs = (int)jobs;
    eo.keep_scores = logits != NULL;
    cli_progress prog;
    cli_progress_init(&prog, progress, "img");
    prog.at = "eval";
    eo.progress = cli_progress_cb;
    eo.progress_ctx = &prog;
    if (nr_eval_run(&eng, m, ds, &eo, &r, &err))
        goto fail;
    if (logits) {
        int64_t shape[2] = {r.n, k};
        if (nr_npy_write_f32(logits, r.scores, shape, 2, &err))
            goto fail;
    }
    eo.keep_scores = 0;

    /* the fp32 baseline on the same samples */
    uint64_t key = 0;
    nr_err kerr = {0};
    int have_key = use_cache && !nr_eval_cache_key(m, ma.mo.random_seed,
                                                   r.data_hash, 0, r.n, &key, &kerr);
    if (have_key)
        nr_eval_cache_dir(cache_dir, sizeof cache_dir);
    if (cli_model_is_fp32(m)) {
        self_base = 1;
        base = r;
    } else if (have_key && nr_eval_cache_get(cache_dir, key, r.n, k, &base)) {
        cached = 1;
    } else {
        cli_model_args a32 = {.net = net, .prec = "fp32",
                              .mo = {.random_seed = ma.mo.random_seed,
                                     .max_memory = ma.mo.max_memory}};
        if (cli_load_model(&a32, &m32, &err) ||
            gen_engine_open(engine, m32, &eng32, &err))
            goto fail;
        prog.at = "fp32 baseline";
        if (nr_eval_run(&eng32, m32, ds, &eo, &base, &err))
            goto fail;
        base_seconds = base.seconds;
        if (base.data_hash != r.data_hash) {
            nr_err_set(&err, NR_EINTERNAL, data, 0, 0, "eval",
                       "the data read differently in the fp32 run");
            goto fail;
        }
    }
    if (have_key && !cached) {
        nr_err cerr = {0};
        if (nr_eval_cache_put(cache_dir, key, &base, &cerr)) {
            char msg[1024];
            nr_err_format(&cerr, msg, sizeof msg);
            fprintf(stderr, "numrep eval: note: fp32 result not cached: %s\n", msg);
        }
    }

    char pname[600];
    snprintf(pname, sizeof pname, "%s%s%s%s%s", ma.prec ? ma.prec : "fp32",
             ma.mo.set_rounding ? ", rounding " : "",
             ma.mo.set_rounding ? nr_format_rounding_name(ma.mo.rounding) : "",
             ma.mo.set_mac ? ", mac " : "", ma.mo.set_mac ? nr_prec_mac_name(ma.mo.mac) : "");
    eval_report rep = {.spec = spec, .pname = pname, .data = data, .engine = eng.name,
                       .bsrc = self_base ? "this run" : cached ? "cached" : "computed",
                       .ds = ds, .jobs = jobs, .k = k, .r = &r, .base = &base,
                       .base_seconds = base_seconds};
    if (json)
        print_json(&rep);
    else
        print_text(&rep);
    status = 0;
    goto done;
fail:
    status = cli_error(&err);
done:
    if (!self_base)
        nr_eval_result_free(&base);
    nr_eval_result_free(&r);
    nr_engine_close(&eng);
    nr_engine_close(&eng32);
    nr_dataset_close(ds);
    nr_model_free(m32);
    nr_model_free(m);
    return status;
}
