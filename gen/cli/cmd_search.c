/* cmd_search.c -- `numrep search`: the narrowest format (fastest by the cost
 * model) that keeps a network within an accuracy budget, by the fast R^2
 * method or exhaustively, optionally per layer; and --fit-predictor.
 * Results on stdout (text or --json), progress and notes on stderr.  Under
 * mpirun the ranks share the work (mpi_comm.h); rank 0 prints the answer. */
#include "cli.h"
#include "jit_engine.h"
#include "model_gen.h"
#include "mpi_comm.h"
#include "plan.h"
#include "search.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PREDICTOR "$NUMREP_PREDICTOR or specs/predictor.yaml"
#define DEFAULT_DB "numrep-results.db"

static const char usage_text[] =
    "usage: numrep search NET.yaml --max-loss L [--data DATASET] [--method fast|exhaustive]\n"
    "                     [--early-stop] [--no-r2] [--per-layer] [--steps N] [--db FILE]\n"
    "                     [--jobs N]\n"
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
    "  --no-r2            exhaustive: skip the R^2 sweep that both methods run first\n"
    "                     (every configuration on --samples inputs: the report's\n"
    "                     R^2 column and later --fit-predictor need it)\n"
    "  --per-layer        then lower single MAC layers from the uniform answer,\n"
    "                     guided by per-layer sensitivity; --steps narrower formats\n"
    "                     tried per layer (default 4)\n"
    "  --db FILE          results store (default " DEFAULT_DB "): every evaluation\n"
    "                     is saved as it finishes; a rerun resumes / answers from it\n"
    "  --jobs N           threads (default 1)\n"
    "  --engine E         full evaluations: jit (default, -O2), jit-O0..jit-O3\n"
    "                     or emulator\n"
    "  --sample-engine E  the R^2 runs: jit (default; compiled at -O0, 4-10x\n"
    "                     quicker to compile), jit-O1..3 or emulator; the engines\n"
    "                     agree bit for bit\n"
    "  --first N          the slice starts after the first N samples (default 0)\n"
    "  --limit N          the slice's size (default: all the rest)\n"
    "  --samples N        inputs of the fast method's R^2 (default 10)\n"
    "  --grid G           both (default), float or fixed; scaled: the scaled formats\n"
    "                     (MX presets and blocks of 16/32/64, NVFP4, int8/int4 per\n"
    "                     channel with dynamic or calibrated (+cal) activations,\n"
    "                     int8/int4 blocks), each with its own rne and block mac,\n"
    "                     run in the emulator; all: both and scaled\n"
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
    "                     (stored times for rows from the store), `wall_seconds`\n"
    "                     this run's wall time\n"
    "\n"
    "Under `mpirun -n K numrep search ...` (a build with MPI) the K ranks share the\n"
    "work and one --db file (which every rank must reach): each computes its share\n"
    "of the configurations, or of the data slice; rank 0 prints the answer, every\n"
    "rank its share on stderr.\n"
    "\n"
    "exit status: 0 found, 1 error, 2 usage error, 3 no configuration meets the budget\n";

/* ---------------------------------------------------------------- parsing */

/* "1%" -> 0.01, "0.01" -> 0.01; the loss must be in [0, 1). */
static int parse_loss(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || !isfinite(x))
        return -1;
    if (*end == '%') {
        x /= 100;
        end++;
    }
    if (*end || x < 0 || x >= 1)
        return -1;
    *v = x;
    return 0;
}

static int parse_range(const char *s, int *lo, int *hi)
{
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10), b;
    if (errno || end == s)
        return -1;
    if (*end == ':') {
        const char *t = end + 1;
        b = strtol(t, &end, 10);
        if (errno || end == t)
            return -1;
    } else {
        b = a;
    }
    if (*end || a < 0 || b < a || b > 64)
        return -1;
    *lo = (int)a;
    *hi = (int)b;
    return 0;
}

/* ---------------------------------------------------------------- progress */

static void progress_update(void *ctx, const char *phase, int64_t done, int64_t total)
{
    cli_progress_update(ctx, phase, done, total);
}

/* ---------------------------------------------------------------- output */

static void json_num(const char *key, double v, int last)
{
    printf("\"%s\": ", key);
    if (isfinite(v))
        printf("%.6g", v);
    else
        printf("null");
    printf(last ? "" : ", ");
}

/* The precision file of the answer: what `numrep eval/run/build -p FILE`
 * takes to reproduce it (every role in the chosen format, the search's
 * rounding and MAC mode; per-layer answers as overrides).  A YAML comment
 * says where it came from.  Returns a malloc'ed string, or NULL. */
static char *precision_yaml(const char *net, const char *data, const nr_search_opts *o,
                            const nr_search_result *r)
{
    if (!r->found)
        return NULL;
    size_t cap = 1024 + 3 * sizeof r->layers;
    char *y = malloc(cap);
    if (!y)
        return NULL;
    const char *rnd = nr_rounding_name(o->rounding), *mac = nr_mac_name(o->mac);
    char sf[128], sr[16], sm[16];
    if (r->chosen.scaled.gran != NR_GRAN_NONE) { /* its own rounding and mac */
        nr_search_scaled_key(&r->chosen, sf, sizeof sf, sr, sizeof sr, sm, sizeof sm);
        rnd = sr, mac = sm;
    }
    size_t k = (size_t)snprintf(y, cap,
                                "# numrep search: %s on %s, budget %.4g %% loss (%s method):\n"
                                "# normalized top-1 %.2f %%, speedup %.2fx at equal area\n"
                                "default: {weights: %s, activations: same, products: same, "
                                "accumulator: same, rounding: %s, mac: %s}\n",
                                net, data, 100 * o->max_loss,
                                o->method == NR_SEARCH_EXHAUSTIVE ? "exhaustive" : "fast",
                                100 * (r->per_layer_done ? r->pl_norm_acc : r->norm_acc),
                                r->per_layer_done ? r->pl_speedup : r->chosen.speedup,
                                r->chosen.name, rnd, mac);
    if (r->chosen.calibrated) { /* "int8@channel:fp32:amax+cal": the scales come next */
        char *plus = strstr(y, "+cal, activations: same");
        if (plus)
            memmove(plus, plus + 4, strlen(plus + 4) + 1), k -= 4;
        k += (size_t)snprintf(y + k, cap - k,
                              "# calibrated activations: numrep calibrate %s -p THIS_FILE "
                              "--data %s -o CAL.yaml writes their scales\n",
                              net, data);
    }
    if (r->per_layer_done && r->layers[0]) { /* "conv1=e4m3,fc1=e3m4" */
        k += (size_t)snprintf(y + k, cap - k, "layers:\n");
        for (const char *p = r->layers; *p && k < cap;) {
            const char *eq = strchr(p, '='), *end = strchr(p, ',');
            if (!eq)
                break;
            if (!end)
                end = p + strlen(p);
            k += (size_t)snprintf(y + k, cap - k, "  '%.*s': {weights: %.*s, activations: same, "
                                  "products: same, accumulator: same}\n", (int)(eq - p), p,
                                  (int)(end - eq - 1), eq + 1);
            p = *end ? end + 1 : end;
        }
    }
    return y;
}

static void print_text(const char *net, const char *data, const nr_search_opts *o,
                       const nr_search_result *r, const char *db, const char *prec)
{
    printf("network      %s\n", net);
    printf("data         %s (%lld samples after the first %lld", data, (long long)r->n,
           (long long)o->first);
    if (o->no_r2)
        printf("; no R^2 sweep)\n");
    else
        printf("; R^2 on the first %d)\n", o->samples);
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

static void print_json(const char *net, const char *data, const nr_search_opts *o,
                       const nr_search_result *r, const char *db, const char *prec)
{
    printf("{\"network\": ");
    cli_json_str(net);
    printf(", \"data\": ");
    cli_json_str(data);
    printf(", \"method\": \"%s\", \"engine\": ",
           o->method == NR_SEARCH_EXHAUSTIVE ? "exhaustive" : "fast");
    cli_json_str(o->engine);
    printf(", \"samples\": %lld, \"r2_inputs\": %d, \"configurations\": %d, ", (long long)r->n,
           o->no_r2 ? 0 : o->samples, r->nconfigs);
    json_num("max_loss", o->max_loss, 0);
    json_num("fp32_top1", r->fp32_top1, 0);
    printf("\n \"found\": %s, \"chosen\": ", r->found ? "true" : "false");
    if (r->found)
        cli_json_str(r->chosen.name);
    else
        printf("null");
    printf(", ");
    json_num("top1", r->top1, 0);
    json_num("normalized", r->norm_acc, 0);
    json_num("r2", r->r2, 0);
    json_num("predicted", r->predicted, 0);
    printf("\"predictor\": \"%s\", ", nr_pred_model_name(o->predictor.model));
    json_num("speedup", r->found ? r->chosen.speedup : NAN, 0);
    json_num("speedup_fixed_clock", r->found ? r->chosen.speedup_fixed_clock : NAN, 0);
    json_num("energy_ratio", r->found ? r->chosen.energy_ratio : NAN, 0);
    printf("\n \"full_evals\": %d, \"full_computed\": %d, \"sample_evals\": %d, "
           "\"sample_computed\": %d, ",
           r->full_evals, r->full_computed, r->sample_evals, r->sample_computed);
    json_num("full_seconds", r->full_seconds, 0);
    json_num("sample_seconds", r->sample_seconds, 0);
    json_num("wall_seconds", r->wall_seconds, 0);
    printf("\"ranks\": %d, \"run\": %lld, \"db\": ", r->nranks, (long long)r->run_id);
    cli_json_str(db);
    if (r->per_layer_done) {
        printf(",\n \"per_layer\": {\"layers\": ");
        cli_json_str(r->layers);
        printf(", ");
        json_num("normalized", r->pl_norm_acc, 0);
        json_num("speedup", r->pl_speedup, 0);
        json_num("gain", r->pl_gain, 0);
        printf("\"evals\": %d, \"computed\": %d}", r->pl_evals, r->pl_computed);
    }
    printf(",\n \"precision_yaml\": ");
    if (prec)
        cli_json_str(prec);
    else
        printf("null");
    printf("}\n");
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

/* --predictor FILE, else the newest fit in the database, else the shipped file. */
static int choose_predictor(const char *file, nr_results *db, nr_predictor *p, char *src,
                            size_t srcsize, nr_err *err)
{
    if (file) {
        snprintf(src, srcsize, "%s", file);
        return nr_predictor_load(file, p, err);
    }
    nr_fit fit;
    nr_pred_model model;
    int rc = nr_results_latest_fit(db, NULL, &fit, err);
    if (rc < 0)
        return rc;
    if (rc == 1 && fit.ncoef == 2 && !nr_pred_model_parse(fit.name, &model)) {
        memset(p, 0, sizeof *p);
        p->model = model;
        p->c0 = fit.coef[0];
        p->c1 = fit.coef[1];
        p->npoints = fit.npoints;
        p->rmse = fit.rmse;
        snprintf(p->networks, sizeof p->networks, "%s", fit.networks);
        snprintf(src, srcsize, "the database's fit %lld", (long long)fit.id);
        return 0;
    }
    nr_err e = {0};
    if (gen_res_find(GEN_RES_PREDICTOR, src, srcsize, NULL, &e) || nr_predictor_load(src, p, &e)) {
        char msg[1024];
        nr_err_format(&e, msg, sizeof msg);
        fprintf(stderr, "numrep search: note: no predictor (%s); predicting accuracy = R^2\n",
                msg);
        memset(p, 0, sizeof *p);
        p->c1 = 1;
        snprintf(src, srcsize, "none (accuracy = R^2)");
    }
    return 0;
}

/* ---------------------------------------------------------------- jit engine */

/* "jit" compiles at -O2 (full evaluations: run time dominates); "jit-O0" is
 * the R^2 runs' engine: on ~10 inputs compiling dominates, and -O0 compiles
 * ResNet-20 4x faster for code ~1.5x slower (gen/back/jit_engine.c). */
static int open_engine(void *ctx, const char *name, const nr_model *m, nr_engine *out,
                       nr_err *err)
{
    (void)ctx;
    if (nr_model_is_scaled(m) && strncmp(name, "jit", 3) == 0)
        return nr_engine_open("emulator", m, out, err); /* [scl-dot-engines] emulator only for now */
    return gen_engine_open(name, m, out, err);
}

/* ---------------------------------------------------------------- command */

int cmd_search(int argc, char **argv)
{
    const char *net = NULL, *data = NULL, *dbpath = DEFAULT_DB, *pred_file = NULL;
    const char *emit_prec = NULL;
    const char *fit_db = NULL, *exclude = NULL, *fit_out = NULL, *grid_kind = "both";
    int json = 0, show_progress = 1, have_loss = 0;
    nr_pred_model fit_model = NR_PRED_MARGIN;
    double fit_min = NAN; /* --fit-min, NAN: the model's default */
    long long v;
    nr_search_opts o;
    nr_search_opts_init(&o);
    o.engine = "jit", o.sample_engine = "jit-O0"; /* libnumrep alone has only the emulator */
    nr_search_grid g;
    nr_search_grid_init(&g);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--no-progress")) {
            show_progress = 0;
        } else if (!strcmp(a, "--per-layer")) {
            o.per_layer = 1;
        } else if (!strcmp(a, "--early-stop")) {
            o.early_stop = 1;
        } else if (!strcmp(a, "--no-r2")) {
            o.no_r2 = 1;
        } else if (a[0] == '-' && a[1]) {
            static const char *const with_arg[] = {
                "--data", "--max-loss", "--method", "--db", "--jobs", "--engine", "--limit",
                "--first", "--samples", "--grid", "--exp", "--man", "--int", "--frac",
                "--float-variant", "--rounding", "--predictor", "--fit-predictor", "--exclude",
                "-o", "--steps", "--stop-after", "--sample-engine", "--model", "--fit-min",
                "--emit-precision"};
            size_t k = 0, nk = sizeof with_arg / sizeof with_arg[0];
            while (k < nk && strcmp(a, with_arg[k]))
                k++;
            if (k == nk)
                return cli_usage("search", "unknown option %s", a);
            if (i + 1 >= argc)
                return cli_usage("search", "%s needs an argument", a);
            const char *s = argv[++i];
            if (!strcmp(a, "--data")) {
                data = s;
            } else if (!strcmp(a, "--max-loss")) {
                if (parse_loss(s, &o.max_loss))
                    return cli_usage("search", "--max-loss: expected a loss such as 1%% or "
                                               "0.01, below 100%%, got \"%s\"", s);
                have_loss = 1;
            } else if (!strcmp(a, "--method")) {
                if (!strcmp(s, "fast"))
                    o.method = NR_SEARCH_FAST;
                else if (!strcmp(s, "exhaustive"))
                    o.method = NR_SEARCH_EXHAUSTIVE;
                else
                    return cli_usage("search", "--method: expected fast or exhaustive, got "
                                               "\"%s\"", s);
            } else if (!strcmp(a, "--db")) {
                dbpath = s;
            } else if (!strcmp(a, "--emit-precision")) {
                emit_prec = s;
            } else if (!strcmp(a, "--engine") || !strcmp(a, "--sample-engine")) {
                if (strcmp(s, "emulator") && gen_engine_opt_level(s) < 0)
                    return cli_usage("search", "%s: expected jit, jit-O0..jit-O3 or emulator, "
                                               "got \"%s\"", a, s);
                if (!strcmp(a, "--engine"))
                    o.engine = s;
                else
                    o.sample_engine = strcmp(s, "jit") ? s : "jit-O0";
            } else if (!strcmp(a, "--grid")) {
                if (strcmp(s, "both") && strcmp(s, "float") && strcmp(s, "fixed") &&
                    strcmp(s, "scaled") && strcmp(s, "all"))
                    return cli_usage("search", "--grid: expected both, float, fixed, scaled or "
                                               "all, got \"%s\"", s);
                grid_kind = s;
            } else if (!strcmp(a, "--exp") || !strcmp(a, "--man") || !strcmp(a, "--int") ||
                       !strcmp(a, "--frac")) {
                int *lo = !strcmp(a, "--exp")   ? &g.exp_lo
                          : !strcmp(a, "--man") ? &g.man_lo
                          : !strcmp(a, "--int") ? &g.int_lo
                                                : &g.frac_lo;
                int *hi = lo == &g.exp_lo ? &g.exp_hi
                          : lo == &g.man_lo ? &g.man_hi
                          : lo == &g.int_lo ? &g.int_hi
                                            : &g.frac_hi;
                if (parse_range(s, lo, hi))
                    return cli_usage("search", "%s: expected A:B (0 <= A <= B <= 64) or A, got "
                                               "\"%s\"", a, s);
            } else if (!strcmp(a, "--float-variant")) {
                if (strlen(s) >= sizeof g.float_variant)
                    return cli_usage("search", "--float-variant: too long");
                snprintf(g.float_variant, sizeof g.float_variant, "%s", s);
            } else if (!strcmp(a, "--rounding")) {
                nr_err e = {0};
                if (nr_rounding_parse(s, &o.rounding, &e))
                    return cli_usage("search", "--rounding: expected rne, rna, rz, ru, rd, rto "
                                               "or sr, got \"%s\"", s);
            } else if (!strcmp(a, "--predictor")) {
                pred_file = s;
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
            } else if (!strcmp(a, "-o")) {
                fit_out = s;
            } else {
                long long lo = !strcmp(a, "--first") || !strcmp(a, "--stop-after") ? 0 : 1;
                long long hi = !strcmp(a, "--jobs") ? 256 : !strcmp(a, "--steps") ? 64
                                                                                 : 1ll << 40;
                if (cli_parse_count(s, lo, hi, &v))
                    return cli_usage("search", "%s: expected an integer from %lld to %lld, got "
                                               "\"%s\"", a, lo, hi, s);
                if (!strcmp(a, "--jobs"))
                    o.jobs = (int)v;
                else if (!strcmp(a, "--limit"))
                    o.limit = v;
                else if (!strcmp(a, "--first"))
                    o.first = v;
                else if (!strcmp(a, "--samples"))
                    o.samples = v > 100000 ? 100000 : (int)v;
                else if (!strcmp(a, "--steps"))
                    o.per_layer_steps = (int)v;
                else
                    o.stop_after = v; /* --stop-after: test hook, undocumented */
            }
        } else if (!net) {
            net = a;
        } else {
            return cli_usage("search", "unexpected argument \"%s\" (one NET.yaml only)", a);
        }
    }
    g.floats = strcmp(grid_kind, "fixed") != 0;
    g.fixeds = strcmp(grid_kind, "float") != 0;
    g.scaled = !strcmp(grid_kind, "scaled") ? 2 : !strcmp(grid_kind, "all") ? 1 : 0;
    if (g.scaled && o.per_layer)
        return cli_usage("search", "--per-layer lowers layers in plain formats only: use it "
                                   "with --grid both, float or fixed");

    nr_err err = {0};
    nr_search_comm comm;
    if (gen_mpi_comm_start(&comm, &err))
        return cli_error(&err);
    int lead = comm.rank == 0; /* prints the answer and the notes */
    nr_spec *spec = NULL;
    nr_dataset *ds = NULL;
    nr_results *db = NULL;
    nr_search_cfg *cfg = NULL;
    int ncfg = 0, status = 1, fitted = 0;
    char pred_src[600] = "";
    if (fit_db) {
        if (!exclude && net) {
            if (nr_spec_load(net, &spec, &err))
                goto fail;
            exclude = spec->name;
        }
        o.predictor.model = fit_model;
        o.predictor.fit_min = !isnan(fit_min) ? fit_min : fit_model == NR_PRED_MARGIN ? 0.9 : 0.0;
        if (fit_predictor(fit_db, exclude, fit_out, &o.predictor, &err))
            goto fail;
        if (!net || !have_loss) {
            status = 0;
            goto done;
        }
        fitted = 1;
        snprintf(pred_src, sizeof pred_src, "fit from %s", fit_db);
    }
    if (!net) {
        status = cli_usage("search", "missing NET.yaml");
        goto done;
    }
    if (!have_loss) {
        status = cli_usage("search", "missing --max-loss (the allowed accuracy loss, e.g. 1%%)");
        goto done;
    }
    if (!spec && nr_spec_load(net, &spec, &err))
        goto fail;
    if (!data && !spec->dataset[0]) {
        status = cli_usage("search", "missing --data DATASET (the spec names no `dataset:`)");
        goto done;
    }
    if (!data)
        data = spec->dataset;
    if (nr_search_space(&g, NULL, &cfg, &ncfg, &err))
        goto fail;
    /* the output size, for the labels' range */
    {
        nr_model *m = NULL;
        nr_spec *s2 = NULL;
        if (nr_spec_load(net, &s2, &err) || nr_model_build(s2, NULL, NULL, 0, &m, &err))
            goto fail;
        nr_dataset_opts dopt;
        nr_dataset_opts_init(&dopt);
        dopt.pp = spec->pp;
        dopt.num_classes = (int)nr_shape_count(m->layers[m->output].out_shape);
        nr_model_free(m);
        if (!spec->has_pp && lead)
            fprintf(stderr, "numrep search: note: %s declares no input preprocessing; using "
                            "x = pixel/255\n", spec->path);
        if (nr_dataset_open(data, &dopt, &ds, &err))
            goto fail;
    }
    /* rank 0 creates the store (and its schema) before the others open it */
    int orc = lead ? nr_results_open(dbpath, &db, &err) : 0;
    if (gen_mpi_comm_agree(&comm, orc != 0, &err))
        goto fail;
    if (!lead && nr_results_open(dbpath, &db, &err))
        goto fail;
    if (!fitted && choose_predictor(pred_file, db, &o.predictor, pred_src, sizeof pred_src, &err))
        goto fail;
    if (lead && o.method == NR_SEARCH_FAST && o.predictor.networks[0]) {
        const char *nets = o.predictor.networks, *name = spec->name;
        size_t len = strlen(name);
        for (const char *q = nets; (q = strstr(q, name)); q += len)
            if ((q == nets || q[-1] == ',') && (q[len] == ',' || !q[len])) {
                fprintf(stderr, "numrep search: note: the predictor (%s) was fit on data that "
                                "includes %s itself\n", pred_src, name);
                break;
            }
    }
    o.engine_open = open_engine;
    cli_progress prog;
    cli_progress_init(&prog, show_progress && lead, NULL);
    o.progress = progress_update;
    o.progress_ctx = &prog;
    o.comm = &comm;
    nr_search_result r;
    int rc = nr_search_run(net, ds, db, cfg, ncfg, &o, &r, &err);
    if (lead && r.slice_labels == 1 && r.n > 1)
        fprintf(stderr, "numrep search: warning: every sample of the slice has the same label, "
                        "so accuracy on it says little (is the data sorted by class? take a "
                        "slice of a shuffled copy)\n");
    if (comm.size > 1) /* each rank's share, for people (and tests) to check */
        fprintf(stderr, "numrep search: rank %d of %d: computed %d R^2 samples and %d full "
                        "evaluations alone, %d full evaluations with the data split over the "
                        "ranks\n",
                r.rank, r.nranks, r.own_sample, r.own_full, r.shared_full);
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        if (lead)
            fprintf(stderr, "numrep search: stopped after %lld new evaluations (--stop-after); "
                            "run again to resume\n", (long long)o.stop_after);
        status = 4;
        goto done;
    }
    status = r.found ? 0 : 3;
    if (!lead)
        goto done;
    char *prec = precision_yaml(net, data, &o, &r);
    if (r.found && !prec) {
        nr_err_set(&err, NR_ENOMEM, NULL, 0, 0, "search", "out of memory");
        goto fail;
    }
    FILE *pf = emit_prec && prec ? fopen(emit_prec, "w") : NULL;
    if (pf && (fputs(prec, pf) == EOF) + fclose(pf))
        pf = NULL;
    if (emit_prec && prec && !pf) {
        nr_err_set(&err, NR_EIO, emit_prec, 0, 0, "--emit-precision", "cannot write: %s",
                   strerror(errno));
        free(prec);
        goto fail;
    }
    if (json)
        print_json(spec->name, data, &o, &r, dbpath, prec);
    else
        print_text(spec->name, data, &o, &r, dbpath, prec);
    free(prec);
    goto done;
fail:
    status = cli_error(&err);
done:
    nr_results_close(db);
    nr_dataset_close(ds);
    nr_spec_free(spec);
    free(cfg);
    gen_mpi_comm_finish(&comm);
    return status;
}
