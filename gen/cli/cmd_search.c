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

#define DEFAULT_PREDICTOR "$NUMREP_PREDICTOR or specs/predictor.yaml"
#define DEFAULT_DB GEN_SEARCH_DEFAULT_DB

static const char usage_text[] =
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
    "\n"
    "  --max-loss L       allowed loss: \"1%\" or a fraction \"0.01\"\n"
    "  --data DATASET     as for `numrep eval`; default the spec's `dataset:`\n"
    "  --method M         fast (default): R^2 of the last layer against fp32 on\n"
    "                     --samples inputs predicts accuracy, then only a few\n"
    "                     configurations are measured; exhaustive: all measured\n"
    "  --early-stop       exhaustive: stop measuring a configuration as soon as\n"
    "                     it provably fails (more wrong answers than the budget\n"
    "                     allows); its accuracy is then that of the prefix run\n"
    "                     (the fast method's failed steps always stop early);\n"
    "                     with one process the scan also ends at the first\n"
    "                     configuration that passes (the slower ones cannot be\n"
    "                     the answer)\n"
    "  --no-r2            exhaustive: skip the R^2 sweep it runs first (every\n"
    "                     configuration on --samples inputs: the report's R^2\n"
    "                     column and later --fit-predictor use it)\n"
    "  --full-sweep       fast: run the R^2 sweep over the whole grid (default:\n"
    "                     only the configurations in rank order up to a few R^2\n"
    "                     records past the first one predicted to pass)\n"
    "  --raw-r2           fast: rank by the raw R^2; by default a margin-linear\n"
    "                     predictor ranks by R^2 without the part that clamping\n"
    "                     fp32's outputs to the format's range explains\n"
    "                     (docs/search.md, clipped logits)\n"
    "  --per-layer        then lower single MAC layers from the uniform answer,\n"
    "                     guided by per-layer sensitivity; --steps narrower formats\n"
    "                     tried per layer (default 4)\n"
    "  --db FILE          results store (default " DEFAULT_DB "): every evaluation\n"
    "                     is saved as it finishes; a rerun resumes / answers from it\n"
    "  --jobs N           threads (default 1)\n"
    "  --engine E         full evaluations: jit (default, -O2), jit-O0..jit-O3\n"
    "                     or emulator\n"
    "  --sample-engine E  the R^2 runs: fmtdata (default: formats as run-time\n"
    "                     data, compiled once per network; configurations outside\n"
    "                     its scope take jit), jit (compiled per configuration at\n"
    "                     -O0), jit-O1..3 or emulator; the engines agree bit for bit\n"
    "  --first N          the slice starts after the first N samples (default 0)\n"
    "  --limit N          the slice's size (default: all the rest)\n"
    "  --samples N        inputs of the fast method's R^2 (default 10)\n"
    "  --grid G           both (default), float or fixed; scaled: the scaled formats\n"
    "                     (MX presets and blocks of 16/32/64, NVFP4, int8/int4 per\n"
    "                     channel with dynamic or calibrated (+cal) activations,\n"
    "                     int8/int4 blocks), each with its own rne and block mac\n"
    "                     (calibrated ones run in the emulator); all: both and scaled\n"
    "  --exp A:B --man A:B  float exponent and mantissa bits (default 2:8, 1:23)\n"
    "  --int A:B --frac A:B fixed qI.F integer and fraction bits (default 1:12, 0:15)\n"
    "  --float-variant S  modifiers of the float formats (default -nosub-finite-sat)\n"
    "  --rounding MODE    rounding of every operation (default rz)\n"
    "  --predictor FILE   R^2 -> accuracy model (default: the latest fit in the\n"
    "                     database, else " DEFAULT_PREDICTOR ")\n"
    "  --fit-predictor DB refit the line from the exhaustive runs in DB, leaving out\n"
    "                     --exclude NETWORK (or NET.yaml's network); written to the\n"
    "                     database and as YAML to -o FILE (default stdout)\n"
    "  --model M          margin-linear (default): the line maps the accuracy a\n"
    "                     noise model expects from R^2 and the fp32 margins\n"
    "                     (docs/search.md); r2-linear: the paper's, R^2 itself\n"
    "  --fit-min X        fit on points whose x is at least X (default 0.9 for\n"
    "                     margin-linear, 0 for r2-linear)\n"
    "  --emit-precision F write the answer's precision file (also printed) to F:\n"
    "                     `numrep eval/run/build -p F` reproduces the answer\n"
    "  --json             one JSON object on stdout: accuracies as fractions,\n"
    "                     `samples` the slice's size, `r2_inputs` the R^2 inputs,\n"
    "                     `full_seconds`/`sample_seconds` summed over evaluations\n"
    "                     (wall time of each), `*_cpu_seconds` this process's\n"
    "                     CPU time in the R^2 sweep, full evaluations and fp32\n"
    "                     (stored times for rows from the store), `wall_seconds`\n"
    "                     this run's wall time\n"
    "\n"
    "Under `mpirun -n K numrep search ...` (a build with MPI) the K ranks share the\n"
    "work and one --db file (which every rank must reach): each computes its share\n"
    "of the configurations, or of the data slice; rank 0 prints the answer, every\n"
    "rank its share on stderr.\n"
    "\n"
    "exit status: 0 found, 1 error, 2 usage error, 3 no configuration meets the budget\n";

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

int cmd_search(int argc, char **argv)
{
    const char *emit_prec = NULL;
    const char *fit_db = NULL, *exclude = NULL, *fit_out = NULL;
    int json = 0, show_progress = 1;
    nr_pred_model fit_model = NR_PRED_MARGIN;
    double fit_min = NAN; /* --fit-min, NAN: the model's default */
    gen_search_job j;
    gen_search_job_init(&j);
    nr_err err = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int takes = a[0] == '-' && a[1] == '-' ? gen_search_job_takes(a + 2) : -1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--no-progress")) {
            show_progress = 0;
        } else if (takes == 0 || (a[0] == '-' && a[1])) {
            static const char *const own[] = {"--fit-predictor", "--exclude", "-o", "--model",
                                              "--fit-min", "--emit-precision"};
            size_t k = 0, nk = sizeof own / sizeof own[0];
            while (k < nk && strcmp(a, own[k]))
                k++;
            if (takes < 0 && k == nk)
                return cli_usage("search", "unknown option %s", a);
            if (takes && i + 1 >= argc)
                return cli_usage("search", "%s needs an argument", a);
            const char *s = takes ? argv[++i] : NULL;
            if (takes >= 0) {
                if (gen_search_job_set(&j, a + 2, s, &err)) {
                    char msg[1024];
                    nr_err_format(&err, msg, sizeof msg);
                    return cli_usage("search", "%s", msg);
                }
            } else if (!strcmp(a, "--emit-precision")) {
                emit_prec = s;
            } else if (!strcmp(a, "--fit-predictor")) {
                fit_db = s;
            } else if (!strcmp(a, "--exclude")) {
                exclude = s;
            } else if (!strcmp(a, "--model")) {
                if (nr_pred_model_parse(s, &fit_model))
                    return cli_usage("search", "--model: expected margin-linear or r2-linear, "
                                               "got \"%s\"", s);
            } else if (!strcmp(a, "--fit-min")) {
                char *end;
                errno = 0;
                fit_min = strtod(s, &end);
                if (errno || end == s || *end || !isfinite(fit_min))
                    return cli_usage("search", "--fit-min: expected a number, got \"%s\"", s);
            } else {
                fit_out = s;
            }
        } else if (!j.net[0]) {
            if (gen_search_job_set(&j, "net", a, &err))
                return cli_error(&err);
        } else {
            return cli_usage("search", "unexpected argument \"%s\" (one NET.yaml only)", a);
        }
    }

    nr_search_comm comm;
    if (gen_mpi_comm_start(&comm, &err))
        return cli_error(&err);
    int lead = comm.rank == 0; /* prints the answer and the notes */
    int status = 1;
    gen_search_answer ans;
    memset(&ans, 0, sizeof ans);
    if (fit_db) {
        nr_spec *spec = NULL;
        if (!exclude && j.net[0]) {
            if (nr_spec_load(j.net, &spec, &err))
                goto fail;
            exclude = spec->name;
        }
        nr_search_opts *o = &j.opts;
        o->predictor.model = fit_model;
        o->predictor.fit_min = !isnan(fit_min) ? fit_min : fit_model == NR_PRED_MARGIN ? 0.9 : 0.0;
        int rc = fit_predictor(fit_db, exclude, fit_out, &o->predictor, &err);
        nr_spec_free(spec);
        if (rc)
            goto fail;
        if (!j.net[0] || !j.have_loss) {
            status = 0;
            goto done;
        }
        j.have_predictor = 1;
    }
    if (gen_search_job_check(&j, &err)) {
        status = cli_usage("search", "%s", err.msg);
        goto done;
    }
    if (!j.data[0]) { /* a usage error when the spec names no data either */
        nr_spec *spec = NULL;
        if (nr_spec_load(j.net, &spec, &err))
            goto fail;
        int none = !spec->dataset[0];
        nr_spec_free(spec);
        if (none) {
            status = cli_usage("search", "missing --data DATASET (the spec names no `dataset:`)");
            goto done;
        }
    }
    cli_progress prog;
    cli_progress_init(&prog, show_progress && lead, NULL);
    j.opts.progress = progress_update;
    j.opts.progress_ctx = &prog;
    j.opts.comm = &comm;
    int rc = gen_search_job_run(&j, &ans, &err);
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
                            "run again to resume\n", (long long)j.opts.stop_after);
        status = 4;
        goto done;
    }
    status = r->found ? 0 : 3;
    if (!lead)
        goto done;
    const char *prec = ans.precision;
    FILE *pf = emit_prec && prec ? fopen(emit_prec, "w") : NULL;
    if (pf && (fputs(prec, pf) == EOF) + fclose(pf))
        pf = NULL;
    if (emit_prec && prec && !pf) {
        nr_err_set(&err, NR_EIO, emit_prec, 0, 0, "--emit-precision", "cannot write: %s",
                   strerror(errno));
        goto fail;
    }
    if (json)
        gen_search_answer_json(stdout, &j, &ans);
    else
        print_text(ans.network, ans.data, &j.opts, r, j.db, prec);
    goto done;
fail:
    status = cli_error(&err);
done:
    gen_search_answer_free(&ans);
    gen_mpi_comm_finish(&comm);
    return status;
}
