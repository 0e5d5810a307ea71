/* cmd_search.c -- `numrep search`: the narrowest format (fastest by the cost
 * model) that keeps a network within an accuracy budget, by the fast R^2
 * method or exhaustively, optionally per layer; and --fit-predictor.
 * Results on stdout (text or --json), progress and notes on stderr.  Under
 * mpirun the ranks share the work (mpi_comm.h); rank 0 prints the answer. */
#include "cli.h"
#include "mpi_comm.h"
#include "search_job.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct search_opts {
    gen_search_job j;
    const char *emit_prec, *fit_db, *exclude, *fit_out;
    int json, no_progress;
    nr_pred_model fit_model;
    double fit_min; /* --fit-min, NAN: the model's default */
} search_opts;

static int set_model(void *dst, const char *s, nr_err *err)
{
    (void)err;
    return nr_pred_model_parse(s, dst) ? -1 : 0;
}

static int set_fit_min(void *dst, const char *s, nr_err *err)
{
    char *end;
    (void)err;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x))
        return -1;
    *(double *)dst = x;
    return 0;
}

#define OPT(field) .off = offsetof(search_opts, field)
static const gen_opt search_table[] = {
    {.kind = GEN_OPT_TABLE, .sub = gen_search_job_opts, OPT(j)},
    {.name = "fit-predictor", .kind = GEN_OPT_STR, OPT(fit_db), .arg = "DB",
     .help = "refit the line from the exhaustive runs in DB, leaving out\n"
             "--exclude NETWORK (or NET.yaml's network); written to the\n"
             "database and as YAML to -o FILE (default stdout)"},
    {.name = "exclude", .kind = GEN_OPT_STR, OPT(exclude)},
    {.shrt = 'o', .kind = GEN_OPT_STR, OPT(fit_out)},
    {.name = "model", .kind = GEN_OPT_FN, .fn = set_model, OPT(fit_model), .arg = "M",
     .bad = "%s: expected margin-linear or r2-linear, got \"%s\"",
     .help = "margin-linear (default): the line maps the accuracy a\n"
             "noise model expects from R^2 and the fp32 margins\n"
             "(docs/search.md); r2-linear: the paper's, R^2 itself"},
    {.name = "fit-min", .kind = GEN_OPT_FN, .fn = set_fit_min, OPT(fit_min), .arg = "X",
     .bad = "%s: expected a number, got \"%s\"",
     .help = "fit on points whose x is at least X (default 0.9 for\n"
             "margin-linear, 0 for r2-linear)"},
    {.name = "emit-precision", .kind = GEN_OPT_STR, OPT(emit_prec), .arg = "F",
     .help = "write the answer's precision file (also printed) to F:\n"
             "`numrep eval/run/build -p F` reproduces the answer"},
    {.name = "json", .kind = GEN_OPT_FLAG, OPT(json),
     .help = "one JSON object on stdout: accuracies as fractions,\n"
             "`samples` the slice's size, `r2_inputs` the R^2 inputs,\n"
             "`full_seconds`/`sample_seconds` summed over evaluations\n"
             "(wall time of each), `*_cpu_seconds` this process's\n"
             "CPU time in the R^2 sweep, full evaluations and fp32\n"
             "(stored times for rows from the store), `wall_seconds`\n"
             "this run's wall time"},
    {.name = "no-progress", .kind = GEN_OPT_FLAG, OPT(no_progress)},
    {0}};
#undef OPT

static const cli_cmd search_cmd = {
    .name = "search",
    .opts = search_table,
    .npos = 1,
    .extra = cli_opts_extra_net,
    .usage =
        "usage: numrep search NET.yaml --max-loss L [--data DATASET] [--method fast|exhaustive]\n"
        "                     [--early-stop] [--no-r2] [--full-sweep] [--raw-r2] [--per-layer] [--steps N]\n"
        "                     [--db FILE] [--jobs N]\n"
        "                     [--engine jit|emulator] [--sample-engine E] [--limit N]\n"
        "                     [--first N] [--samples N]\n"
        "                     [--grid both|float|fixed|scaled|all] [--exp A:B] [--man A:B] [--int A:B]\n"
        "                     [--frac A:B] [--float-variant S] [--rounding MODE]\n"
        "                     [--predictor FILE] [--emit-precision FILE] [--json]\n"
        "                     [--no-progress]\n"
        "       numrep search --fit-predictor DB [--exclude NETWORK] [--model M]\n"
        "                     [--fit-min X] [-o FILE] [NET.yaml ...]\n"
        "\n"
        "The fastest number format (speedup at equal area, `numrep cost`) whose top-1\n"
        "accuracy normalized to fp32 is at least 1 - L on the data.  One format covers\n"
        "every role of every layer (rounding rz, unfused MACs unless told otherwise).\n"
        "\n",
    .usage_end =
        "\n"
        "Under `mpirun -n K numrep search ...` (a build with MPI) the K ranks share the\n"
        "work and one --db file (which every rank must reach): each computes its share\n"
        "of the configurations, or of the data slice; rank 0 prints the answer, every\n"
        "rank its share on stderr.\n"
        "\n"
        "exit status: 0 found, 1 error, 2 usage error, 3 no configuration meets the budget\n",
};

/* ---------------------------------------------------------------- progress */

static void progress_update(void *ctx, const char *phase, int64_t done, int64_t total)
{
    cli_progress_update(ctx, phase, done, total);
}

/* ---------------------------------------------------------------- output */

static void print_text(const char *net, const char *data, const nr_search_opts *o,
                       const nr_search_result *r, const char *db, const char *prec)
{
    printf("network      %s\n", net);
    printf("data         %s (%lld samples after the first %lld", data, (long long)r->n,
           (long long)o->first);
    if (o->no_r2)
        printf("; no R^2 sweep)\n");
    else
        printf("; R^2 on the first %d, %d configurations)\n", o->samples, r->sample_evals);
    printf("method       %s, budget %.4g %% loss, %d configurations, engine %s\n",
           o->method == NR_SEARCH_EXHAUSTIVE ? "exhaustive" : "fast", 100 * o->max_loss,
           r->nconfigs, o->engine);
    printf("fp32 top-1   %.2f %%\n", 100 * r->fp32_top1);
    if (r->found) {
        printf("chosen       %s   top-1 %.2f %%, normalized %.2f %%, R^2 %.6f",
               r->chosen.name, 100 * r->top1, 100 * r->norm_acc, r->r2);
        if (o->method == NR_SEARCH_FAST)
            printf(" (predicted %.2f %%, %s)", 100 * r->predicted,
                   nr_pred_model_name(o->predictor.model));
        printf("\ncost         speedup %.2fx at equal area (%.2fx at fixed clock), energy "
               "%.2fx less than fp32\n",
               r->chosen.speedup, r->chosen.speedup_fixed_clock, r->chosen.energy_ratio);
    } else {
        printf("chosen       none: no configuration meets the budget\n");
    }
    printf("evaluations  full %d (%d computed now, %.1f s summed), R^2 runs %d (%d computed "
           "now, %.1f s summed); this run %.1f s wall\n",
           r->full_evals, r->full_computed, r->full_seconds, r->sample_evals,
           r->sample_computed, r->sample_seconds, r->wall_seconds);
    printf("cpu          R^2 sweep %.1f s, full evaluations %.1f s, fp32 %.1f s (this "
           "process, every thread)\n",
           r->sample_cpu, r->full_cpu, r->fp32_cpu);
    if (r->per_layer_done)
        printf("per-layer    %s\n             normalized %.2f %%, speedup %.2fx (%.3fx the "
               "uniform format), %d evaluations (%d computed now)\n",
               r->layers[0] ? r->layers : "(no layer could be lowered)", 100 * r->pl_norm_acc,
               r->pl_speedup, r->pl_gain, r->pl_evals, r->pl_computed);
    if (r->nranks > 1)
        printf("processes    %d MPI ranks\n", r->nranks);
    printf("results      %s (run %lld)\n", db, (long long)r->run_id);
    if (prec) { /* the answer as a precision file, to re-evaluate or build it */
        printf("precision    (numrep eval/run/build -p FILE; --emit-precision FILE writes it)\n");
        for (const char *p = prec; *p;) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            if (*p != '#')
                printf("  %.*s\n", len, p);
            p += len + (nl != NULL);
        }
    }
}

/* ---------------------------------------------------------------- predictor */

static int fit_predictor(const char *dbpath, const char *exclude, const char *out,
                         nr_predictor *p, nr_err *err)
{
    nr_results *db = NULL;
    int rc = nr_results_open_existing(dbpath, &db, err), skipped = 0;
    if (rc)
        return rc;
    if ((rc = nr_predictor_fit_db(db, exclude, p, &skipped, err)))
        goto done;
    nr_fit fit = {0};
    snprintf(fit.name, sizeof fit.name, "%s", nr_pred_model_name(p->model));
    fit.ncoef = 2;
    fit.coef[0] = p->c0;
    fit.coef[1] = p->c1;
    fit.npoints = p->npoints;
    fit.rmse = p->rmse;
    snprintf(fit.networks, sizeof fit.networks, "%s", p->networks);
    if ((rc = nr_results_put_fit(db, &fit, err)))
        goto done;
    if (out)
        rc = nr_predictor_save(out, p, err);
    else
        nr_predictor_write(stdout, p);
    fprintf(stderr, "numrep search: %s predictor fit on %d points (x >= %g) from %s%s%s: "
                    "normalized = %.4f + %.4f * %s (rmse %.4f)\n",
            nr_pred_model_name(p->model), p->npoints, p->fit_min, p->networks,
            exclude && *exclude ? ", leaving out " : "", exclude && *exclude ? exclude : "",
            p->c0, p->c1, p->model == NR_PRED_R2 ? "R^2" : "x", p->rmse);
    if (skipped)
        fprintf(stderr, "numrep search: note: %d full evaluation%s skipped: no fp32 baseline "
                        "of %s slice in the store (a search of that slice adds it)\n",
                skipped, skipped == 1 ? "" : "s", skipped == 1 ? "its" : "their");
done:
    nr_results_close(db);
    return rc;
}

/* ---------------------------------------------------------------- command */

/* --fit-predictor DB: refit the predictor, store it and write it out, into
 * the job's options (a search may follow with it). */
static int refit(search_opts *so, nr_err *err)
{
    nr_spec *spec = NULL;
    const char *exclude = so->exclude;
    if (!exclude && so->j.net[0]) {
        int rc = nr_spec_load(so->j.net, &spec, err);
        if (rc)
            return rc;
        exclude = spec->name;
    }
    nr_predictor *p = &so->j.opts.predictor;
    p->model = so->fit_model;
    p->fit_min = !isnan(so->fit_min) ? so->fit_min : so->fit_model == NR_PRED_MARGIN ? 0.9 : 0.0;
    int rc = fit_predictor(so->fit_db, exclude, so->fit_out, p, err);
    nr_spec_free(spec);
    return rc;
}

/* 1 when neither --data nor the spec's `dataset:` names the data; 0; <0 an
 * error reading the spec. */
static int no_data(const gen_search_job *j, nr_err *err)
{
    if (j->data[0])
        return 0;
    nr_spec *spec = NULL;
    int rc = nr_spec_load(j->net, &spec, err);
    if (rc)
        return rc;
    int none = !spec->dataset[0];
    nr_spec_free(spec);
    return none;
}

/* Rank 0's answer: --emit-precision's file, then text or --json on stdout. */
static int answer(const search_opts *so, const gen_search_answer *ans, nr_err *err)
{
    const char *prec = ans->precision, *emit = so->emit_prec;
    FILE *pf = emit && prec ? fopen(emit, "w") : NULL;
    if (pf && (fputs(prec, pf) == EOF) + fclose(pf))
        pf = NULL;
    if (emit && prec && !pf)
        return nr_err_set(err, NR_EIO, emit, 0, 0, "--emit-precision", "cannot write: %s",
                          strerror(errno));
    if (so->json)
        gen_search_answer_json(stdout, &so->j, ans);
    else
        print_text(ans->network, ans->data, &so->j.opts, &ans->r, so->j.db, prec);
    return 0;
}

int cmd_eval_lm_wanted(int argc, char **argv); /* cmd_eval_lm.c: 1 when --metric is given */
int cmd_search_lm(int argc, char **argv);      /* cmd_search_lm.c: --metric perplexity */

int cmd_search(int argc, char **argv)
{
    if (cmd_eval_lm_wanted(argc, argv))
        return cmd_search_lm(argc, argv);
    search_opts so = {.fit_model = NR_PRED_MARGIN, .fit_min = NAN};
    gen_search_job_init(&so.j);
    const char *net = NULL;
    nr_err err = {0};
    int rc = cli_opts_parse(&search_cmd, argc, argv, &so, &net);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (net && gen_search_job_set(&so.j, "net", net, &err))
        return cli_error(&err);
    nr_search_comm comm;
    if (gen_mpi_comm_start(&comm, &err))
        return cli_error(&err);
    int lead = comm.rank == 0; /* prints the answer and the notes */
    int status = 1;
    gen_search_answer ans;
    memset(&ans, 0, sizeof ans);
    if (so.fit_db) {
        if (refit(&so, &err))
            goto fail;
        if (!so.j.net[0] || !so.j.have_loss) {
            status = 0;
            goto done;
        }
        so.j.have_predictor = 1;
    }
    if (gen_search_job_check(&so.j, &err)) {
        status = cli_usage("search", "%s", err.msg);
        goto done;
    }
    if ((rc = no_data(&so.j, &err)) < 0)
        goto fail;
    if (rc) {
        status = cli_usage("search", "missing --data DATASET (the spec names no `dataset:`)");
        goto done;
    }
    cli_progress prog;
    cli_progress_init(&prog, !so.no_progress && lead, NULL);
    so.j.opts.progress = progress_update;
    so.j.opts.progress_ctx = &prog;
    so.j.opts.comm = &comm;
    rc = gen_search_job_run(&so.j, &ans, &err);
    for (const char *p = ans.notes; *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(stderr, "numrep search: %.*s\n", len, p);
        p += len + (nl != NULL);
    }
    const nr_search_result *r = &ans.r;
    if (comm.size > 1) /* each rank's share, for people (and tests) to check */
        fprintf(stderr, "numrep search: rank %d of %d: computed %d R^2 samples and %d full "
                        "evaluations alone, %d full evaluations with the data split over the "
                        "ranks\n",
                r->rank, r->nranks, r->own_sample, r->own_full, r->shared_full);
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        if (lead)
            fprintf(stderr, "numrep search: stopped after %lld new evaluations (--stop-after); "
                            "run again to resume\n", (long long)so.j.opts.stop_after);
        status = 4;
        goto done;
    }
    status = r->found ? 0 : 3;
    if (lead && answer(&so, &ans, &err))
        goto fail;
    goto done;
fail:
    status = cli_error(&err);
done:
    gen_search_answer_free(&ans);
    gen_mpi_comm_finish(&comm);
    return status;
}
