/* search.h -- the precision search: the narrowest number format that keeps a
 * network's accuracy within a budget, and the R^2 predictor behind the fast
 * method (the seed paper's technique).
 *
 * Design space (nr_search_space): one format for the whole network -- every
 * role (weights, activations, products, accumulator) -- with one rounding
 * mode (rz by default) and unfused MACs, over
 *   float eXmY<variant>  for exp in [exp_lo, exp_hi], man in [man_lo, man_hi]
 *   fixed qI.F           for int in [int_lo, int_hi], frac in [frac_lo, frac_hi]
 * The default variant is "-nosub-finite-sat": the plain float unit the cost
 * model prices (no subnormal or special-value logic, overflow saturates).
 * Defaults: e2..8 x m1..23 (161) + q1..12 x .0..15 (192) = 353 configurations.
 *
 * Configurations are ranked by the cost model (runtime/study/cost.h): speedup at
 * equal area, descending; ties broken by energy ratio (descending), then by
 * name, so "the fastest configuration that passes" is always one answer.
 * A configuration passes when top-1 / fp32 top-1 >= 1 - max_loss on the
 * data slice.
 *
 * Methods:
 *   exhaustive  every configuration measured on the data slice.
 *   fast        every configuration run on the first `samples` inputs of the
 *               slice only, scored by R^2 against fp32 (nr_predictor_r2); a
 *               linear model maps R^2 to normalized accuracy.  The fastest
 *               configuration predicted to pass is measured, then the search
 *               steps until the boundary is confirmed, assuming accuracy is
 *               monotone in R^2: a measured failure at R^2 = L rules out
 *               every configuration with R^2 <= L, a measured pass at R^2 = U
 *               admits every one with R^2 >= U.  Each further step measures
 *               an undetermined configuration: when a pass is known, the one
 *               faster than it with the highest R^2 ("one bit down", which
 *               confirms the boundary when it fails); otherwise the fastest
 *               with R^2 > L ("one bit up").  A step that does not settle
 *               the boundary is followed by a bisection (the fastest
 *               undetermined configuration at or above their median R^2),
 *               then steps and bisections alternate.  It stops when no
 *               undetermined configuration faster than the answer is left:
 *               with a good predictor that is 2 full evaluations.
 * per_layer (after either): formats per MAC layer, lowered from the uniform
 * answer one layer at a time, guided by measured per-layer sensitivity
 * (that layer in a narrower format, every other layer fp32), with the
 * speedup estimated as total MACs / sum(MACs_l / speedup_l).
 *
 * Every evaluation goes to the results store (runtime/study/results.h) as soon as
 * it finishes, keyed by content: a search killed at any moment and run
 * again repeats no finished evaluation, and a repeated query is answered
 * from the store. */
#ifndef NUMREP_SEARCH_H
#define NUMREP_SEARCH_H

#include <stdint.h>
#include <stdio.h>
#include "cost.h"
#include "dataset.h"
#include "eval.h"
#include "model.h"
#include "results.h"

/* ------------------------------------------------------------ design space */

typedef struct nr_search_grid {
    int floats, fixeds;              /* include the family (1) or not (0)     */
    int exp_lo, exp_hi, man_lo, man_hi;
    int int_lo, int_hi, frac_lo, frac_hi;
    char float_variant[48];          /* appended to "eXmY": "-nosub-finite-sat" */
    int scaled;                      /* scaled formats (search_grid_scaled.c):
                                        0 none, 1 also (--grid all), 2 only (--grid scaled) */
} nr_search_grid;

void nr_search_grid_init(nr_search_grid *g); /* the defaults above */

typedef struct nr_search_cfg {
    nr_format fmt;
    char name[64];                   /* canonical name (nr_format_name)       */
    double speedup, speedup_fixed_clock, energy_ratio;
    nr_scaled scaled;                /* gran NR_GRAN_NONE: fmt alone; else a scaled
                                        format (fmt = its element), -p NAME's precision */
    int calibrated;                  /* scaled: static activation scales ([scl-cal-*]) */
} nr_search_cfg;

/* The grid's configurations in rank order (fastest first).  Formats that do
 * not exist (a bad variant, a width over 64) are an error naming them.
 * *out is malloc'ed. */
int nr_search_space(const nr_search_grid *g, const nr_cost_model *cm, nr_search_cfg **out,
                    int *n, nr_err *err);

/* search_grid_scaled.c: append the scaled grid to cfg[*n] (realloc'ed). */
int nr_search_space_add_scaled(const nr_cost_model *cm, nr_search_cfg **cfg, int *n, nr_err *err);
/* What a calibrated configuration's calibration runs on: the search's
 * data slice, and how it opens an engine for the fp32 network. */
typedef struct nr_search_scaled_env {
    const nr_dataset *ds;
    int64_t first, count;
    int (*engine_open)(void *ctx, const char *name, const nr_model *m, nr_engine *out,
                       nr_err *err);
    void *engine_ctx;
    const char *engine;
    int jobs;
} nr_search_scaled_env;
/* The samples a calibrated (+cal) configuration calibrates on: up to want
 * samples of a data set of total outside the evaluated [first,
 * first+count): right after it when there are at least want there (or
 * more than before it), else right before it.  -1 when there are none. */
enum { NR_SEARCH_CALIB_SAMPLES = 256 };
int nr_search_calib_slice(int64_t total, int64_t first, int64_t count, int64_t want,
                          int64_t *cfirst, int64_t *ccount);
/* The model of a scaled configuration (cfg->scaled set). */
int nr_search_scaled_model(const char *net, const nr_search_cfg *cfg,
                           const nr_search_scaled_env *env, nr_model **m, nr_err *err);
/* Its results-store key fields: formats (the configuration's name),
 * rounding and mac (the preset's, [scl-dot-preset]). */
void nr_search_scaled_key(const nr_search_cfg *cfg, char *formats, size_t nf, char *rounding,
                          size_t nr, char *mac, size_t nm);

/* ------------------------------------------------------------ predictor (predictor.c) */

/* R^2 values below this (and non-finite outputs) are stored as this. */
#define NR_R2_FLOOR (-1e6)

/* Coefficient of determination of the least-squares line that predicts
 * the reference yref from y, over all n elements: the squared correlation
 * syr^2 / (syy srr) of the centred sums, in double; 0 when the correlation
 * is not positive or either side is constant (1 when y equals yref).  An
 * affine change of the outputs (a common offset, as rz truncation leaves,
 * or a scale) changes no argmax and leaves it at 1, unlike 1 - SS_res/SS_tot
 * against the identity (docs/search.md).  A non-finite y gives NR_R2_FLOOR. */
double nr_predictor_r2(const float *y, const float *yref, size_t n);

/* The fp32 side of the noise model (margin-linear): a custom format's
 * outputs are taken as fp32's plus independent Gaussian noise of the size
 * R^2 implies, sigma^2 = var (1 - R^2) / R^2 with var the variance of the
 * fp32 outputs on the R^2 samples; a sample keeps (or gains) the right
 * answer with probability Phi(margin / (sigma sqrt 2)), margin being its
 * fp32 nr_eval_margin.  nr_pred_noise_model_accuracy is the expected number of
 * right answers over fp32's, made non-decreasing in R^2 (docs/search.md). */
#define NR_NOISE_GRID 64
typedef struct nr_noise_model {
    double var;                      /* fp32 output variance on the samples   */
    const float *margin;             /* [n] borrowed                          */
    int64_t n, correct;              /* samples; fp32 right answers           */
    double env[NR_NOISE_GRID + 2];   /* min of the raw model on [r_j, 1]      */
} nr_noise_model;

/* margin must outlive nm.  correct 0 or n 0: NR_ERANGE. */
int nr_pred_noise_model_init(nr_noise_model *nm, double var, const float *margin, int64_t n,
                        int64_t correct, nr_err *err);
double nr_pred_noise_model_accuracy(const nr_noise_model *nm, double r2);

/* The linear model: norm_acc ~ c0 + c1 * x, where x is clamp(R^2, 0, 1)
 * (r2-linear, the paper's) or the noise model's accuracy (margin-linear). */
typedef enum { NR_PRED_R2 = 0, NR_PRED_MARGIN = 1 } nr_pred_model;
const char *nr_pred_model_name(nr_pred_model m); /* "r2-linear", "margin-linear" */
int nr_pred_model_parse(const char *s, nr_pred_model *out); /* 0 ok, -1 unknown */

typedef struct nr_predictor {
    nr_pred_model model;
    double c0, c1;
    double fit_min;                  /* the fit used points with x >= this    */
    int npoints;
    double rmse;
    char networks[512];              /* where the points came from           */
} nr_predictor;

/* x of one configuration (nm: the network's noise model; NULL for
 * r2-linear), and c0 + c1 * x.  margin-linear without nm gives NAN. */
double nr_predictor_x(const nr_predictor *p, const nr_noise_model *nm, double r2);
double nr_predictor_apply(const nr_predictor *p, const nr_noise_model *nm, double r2);
/* Least squares of acc on x over n points (p->model, fit_min kept; the
 * rest of *out set); fewer than 2 points, or all x equal, are NR_ERANGE. */
int nr_predictor_fit(const double *x, const double *acc, int n, nr_predictor *out, nr_err *err);
/* Points from the store: every full evaluation of one uniform format (no
 * per-layer assignment) with a measured R^2, from networks other than
 * `exclude` (a network name as written in runs; NULL or "" excludes none),
 * whose x (out->model) is at least out->fit_min.  margin-linear needs the
 * slice's baseline row; rows without one are skipped (*skipped counts
 * them; may be NULL).  The network of a row is the one of a run with the
 * row's spec hash. */
int nr_predictor_fit_db(nr_results *db, const char *exclude, nr_predictor *out, int *skipped,
                        nr_err *err);
/* specs/predictor.yaml: {model: , c0: , c1: , fit_min: , points: , rmse: ,
 * networks: "..."}; model defaults to r2-linear. */
int nr_predictor_load(const char *path, nr_predictor *out, nr_err *err);
int nr_predictor_save(const char *path, const nr_predictor *p, nr_err *err);
/* The same YAML (with its comment) to an open stream. */
void nr_predictor_write(FILE *f, const nr_predictor *p);

/* ------------------------------------------------------------ the score (search_strategy.c) */

/* What clamping fp32's outputs on the R^2 inputs (yref: samples x k) to f's
 * range does to R^2: 1 when f wraps or nothing is out of range, NAN when
 * the clamp takes some input's winner's strict lead (or out of memory). */
double nr_search_clip_r2(const nr_format *f, const float *yref, int samples, int k);
/* The fast method's score of a configuration with R^2 r2: the R^2 left
 * once the clamp's noise (r2_clip, above) is taken out, 1/(1/r2 - 1/r2_clip
 * + 1) capped at 1; r2 itself when r2_clip is 1, NAN or not positive. */
double nr_search_score(double r2, double r2_clip);

/* ------------------------------------------------------------ several processes */

/* The processes of one search (MPI ranks, gen/cli/mpi_comm.c; libnumrep does not
 * link MPI itself).  Every process calls nr_search_run with the same
 * arguments and opens the same results store; the operations below are
 * collective: every process calls them, in the same order.  Division of the
 * work:
 *   R^2 samples, and the exhaustive method's full evaluations:
 *     configuration i (rank order) is computed by process i % size, each
 *     writing its own rows; then every process reads the union back from
 *     the store, so all take the same decisions;
 *   every other full evaluation (fp32 baseline, the fast method's steps,
 *     per-layer): the data slice is split into `size` contiguous parts, the
 *     correct-answer counts summed, and process 0 writes the row and sends
 *     it to the others.
 * Only process 0 writes runs and sensitivity rows.  A failure on any process
 * makes every process return an error at the next collective step (naming
 * the failed rank), and a stop (stop_after) on any process stops all. */
typedef enum { NR_SEARCH_SUM = 0, NR_SEARCH_MAX = 1 } nr_search_op;

typedef struct nr_search_comm {
    int rank, size;
    void *ctx;
    /* v[0..n) := the element-wise sum or max of every process's v */
    int (*allreduce)(void *ctx, int64_t *v, int n, nr_search_op op, nr_err *err);
    /* buf[0..size) := process 0's buf */
    int (*bcast)(void *ctx, void *buf, size_t size, nr_err *err);
} nr_search_comm;

/* ------------------------------------------------------------ running */

typedef enum { NR_SEARCH_FAST = 0, NR_SEARCH_EXHAUSTIVE = 1 } nr_search_method;

/* Progress: phase ("sample", "full", "per-layer"), done of total. */
typedef void (*nr_search_progress_fn)(void *ctx, const char *phase, int64_t done, int64_t total);

typedef struct nr_search_opts {
    nr_search_method method;
    double max_loss;                 /* 0.01 for 1 %                          */
    int samples;                     /* fast method inputs (default 10)       */
    int64_t first, limit;            /* data slice; limit 0 = to the end      */
    int jobs;                        /* threads (default 1)                   */
    const char *engine;              /* full evaluations: "emulator" or "jit" */
    const char *sample_engine;       /* the R^2 runs (default "emulator"; the
                                        numrep command uses its JIT at -O0);
                                        the engines agree bit for bit          */
    /* How engines are opened; NULL: nr_engine_open.  Lets the command line
     * supply engines libnumrep cannot build itself. */
    int (*engine_open)(void *ctx, const char *name, const nr_model *m, nr_engine *out,
                       nr_err *err);
    void *engine_ctx;
    nr_rounding rounding;            /* default rz                            */
    nr_mac_mode mac;                 /* default unfused                       */
    int early_stop;                  /* exhaustive: stop a configuration's run
                                        once it provably fails (its row then
                                        has n < the slice; the fast method's
                                        steps always do), and (one process)
                                        stop at the first that passes: slower
                                        ones cannot be the answer              */
    int no_r2;                       /* exhaustive: skip the R^2 sweep (it
                                        measures every configuration on
                                        `samples` inputs first, for the report
                                        and later predictor fits)              */
    int raw_r2;                      /* fast, margin-linear: rank by the raw
                                        R^2, without taking out what clamping
                                        the outputs explains (nr_search_score;
                                        r2-linear always ranks by raw R^2)    */
    int full_sweep;                  /* fast: the R^2 sweep over the whole
                                        grid (default: only the prefix in rank
                                        order that the stepping needs)        */
    int per_layer;                   /* also search per-layer formats         */
    int per_layer_steps;             /* narrower formats tried per layer (4)  */
    nr_predictor predictor;          /* default: c0 0, c1 1 (use shipped fit) */
    const nr_cost_model *cost;       /* NULL: nr_cost_default                 */
    int64_t stop_after;              /* test hook: stop after this many newly
                                        computed evaluations (0: never)       */
    nr_search_progress_fn progress;
    void *progress_ctx;
    const nr_search_comm *comm;      /* NULL (or size 1): this process alone  */
} nr_search_opts;

void nr_search_opts_init(nr_search_opts *o);

typedef struct nr_search_result {
    int stopped;                     /* stop_after reached: incomplete         */
    int64_t run_id;
    int nconfigs;
    int found;                       /* 0: nothing in the grid meets the budget */
    nr_search_cfg chosen;
    double top1, norm_acc, r2;       /* of the chosen configuration           */
    double predicted;                /* predictor's norm_acc for it (fast)    */
    double fp32_top1;
    int64_t n;                       /* samples in the slice                  */
    int slice_labels;                /* distinct labels in it (1: the data is
                                        probably sorted by class)             */
    /* counts: configurations the method needed (from the store or computed),
     * and how many of them were computed by this call (by all processes) */
    int full_evals, full_computed;
    int sample_evals, sample_computed;
    double full_seconds, sample_seconds; /* summed evaluation times (stored
                                            times for rows from the store)   */
    double wall_seconds;             /* of this call                          */
    double sample_cpu, full_cpu, fp32_cpu; /* this process's CPU seconds (all
                                            threads) in the R^2 sweep, in the
                                            full evaluations (the fast method's
                                            steps, or the exhaustive scan) and
                                            in the fp32 baseline              */
    /* per-layer */
    int per_layer_done;
    char layers[2048];               /* "conv1=e4m3,fc1=e3m4" overrides       */
    double pl_norm_acc, pl_speedup;  /* MAC-weighted speedup vs fp32          */
    double pl_gain;                  /* pl_speedup / chosen.speedup            */
    int pl_evals, pl_computed;
    /* this process's share of the work, every phase (baseline, per-layer
     * included): evaluations it computed alone, and full evaluations whose
     * slice was split over the processes (0 with one process) */
    int rank, nranks;
    int own_sample, own_full, shared_full;
} nr_search_result;

/* The fast method's stepping (docs/search.md), without the network: r2[i]
 * of configuration i in rank order (fastest first).  nr_search_records
 * writes the records -- the indices whose R^2 exceeds that of every faster
 * configuration -- into rec (room for n) and returns their count.
 * nr_search_step_records asks verdict(ctx, i) for configurations (1 pass,
 * 0 fail, NR_SEARCH_STOP to stop, < 0 an error, returned) and sets *chosen
 * to the first record that passes with the record before it failing (-1:
 * none passes, or stopped).  The first question is the first record whose
 * predicted normalized accuracy (predicted[i], configuration i) is at
 * least target. */
#define NR_SEARCH_STOP 2
typedef int (*nr_search_verdict_fn)(void *ctx, int i, nr_err *err);
int nr_search_records(const double *r2, int n, int *rec);
int nr_search_step_records(const double *r2, int n, const double *predicted, double target,
                           nr_search_verdict_fn verdict, void *ctx, int *chosen, nr_err *err);

/* Whether the R^2 sweep's prefix [0, npre) of an n-configuration grid is
 * long enough for the fast method: the whole grid, or it holds the first
 * record whose predicted[] is at least target and `after` records after
 * it.  1 yes, 0 no, -NR_ENOMEM. */
int nr_search_prefix_enough(const double *r2, const double *predicted, int npre, int n,
                            double target, int after);

/* The predictor named in a run's settings (model, c0, c1; the rest
 * zero): 0, or -1 when they name none. */
int nr_search_settings_predictor(const char *settings, nr_predictor *out);

/* Search net_path (weights from the spec) on ds (opened with the spec's
 * preprocessing and num_classes = the output size) over the configurations
 * cfg[0..n) (rank order, from nr_search_space), recording into db.
 * Returns 0 (done; r->found says whether a configuration passed), 1 when
 * stopped by stop_after, or -code. */
int nr_search_run(const char *net_path, const nr_dataset *ds, nr_results *db,
                  const nr_search_cfg *cfg, int n, const nr_search_opts *o,
                  nr_search_result *r, nr_err *err);

#endif
