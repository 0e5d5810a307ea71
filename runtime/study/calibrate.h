/* calibrate.h -- static activation scales from calibration data
 * (docs/semantics.md [scl-cal-*]): run the fp32 network over samples of a
 * data set, collect per-tensor statistics of the activations that a
 * precision quantizes per tensor, choose a scale per tensor (amax,
 * percentile, MSE), and write the precision file with every scale filled
 * in.  A library (the CLI's `numrep calibrate` and Python call it).
 *
 * Files: calibrate.c (the run and the statistics), calibrate_taps.c (the
 * fp32 "tap" model whose output is every calibrated tensor, so any engine,
 * the JIT included, yields them), calibrate_method.c (thresholds and
 * scales from the statistics), calibrate_write.c (the precision file). */
#ifndef NUMREP_CALIBRATE_H
#define NUMREP_CALIBRATE_H

#include <stdio.h>
#include "eval.h"
#include "model.h"

typedef enum { NR_CAL_AMAX = 0, NR_CAL_PERCENTILE, NR_CAL_MSE } nr_cal_method;

/* "amax", "percentile:P" (0 < P <= 100), "mse".  0 or -NR_ESYNTAX/-NR_ERANGE. */
int nr_cal_method_parse(const char *s, nr_cal_method *m, double *percentile, nr_err *err);
/* "amax", "percentile:99.99", "mse" into buf (snprintf semantics). */
int nr_cal_method_name(nr_cal_method m, double percentile, char *buf, size_t n);

/* ---------------------------------------------------------------- statistics (calibrate.c) */

/* Histogram of |v| ([scl-cal-stats]): bin 0 zeros, bin 1 below 2^-64,
 * then 256 bins per binade from 2^-64 to 2^64, the last bin above. */
#define NR_CAL_BINS (2 + 128 * 256 + 1)
int nr_cal_bin(float v); /* the bin of |v| (v finite) */
/* The bin's lower/upper edge and the value [scl-cal-method]'s mse uses for it. */
double nr_cal_bin_lo(int b);
double nr_cal_bin_hi(int b);
double nr_cal_bin_centre(int b);

typedef struct nr_cal_tensor {
    int layer;                 /* -1: the network input                     */
    char name[NR_NAME_MAX];    /* as written under scales: (input, a layer) */
    nr_scaled fmt;             /* its activations format (rule static when written) */
    uint64_t count;            /* finite values seen                        */
    double amax;               /* the largest finite |v|                    */
    uint64_t *hist;            /* [NR_CAL_BINS] for percentile and mse, else NULL */
    double threshold, scale;   /* the method's T and the scale X            */
} nr_cal_tensor;

typedef struct nr_calibration {
    int ntensors;
    nr_cal_tensor *t;
    nr_cal_method method;
    double percentile;
    int64_t first, samples;    /* the samples used                          */
    double seconds;            /* wall time of the fp32 runs                */
    char engine[32];
} nr_calibration;

typedef struct nr_cal_opts {
    nr_cal_method method;      /* default amax                              */
    double percentile;         /* NR_CAL_PERCENTILE: P                      */
    int64_t first;             /* first sample (default 0)                  */
    int64_t samples;           /* 0: min(1000, the rest of the data set)    */
    int jobs;                  /* threads (default 1)                       */
    /* How the fp32 tap model runs; NULL: nr_engine_open("emulator").  The
     * CLI passes the JIT (gen_engine_open), which gives the same values. */
    int (*engine_open)(void *ctx, const char *name, const nr_model *m, nr_engine *out,
                       nr_err *err);
    void *engine_ctx;
    const char *engine;        /* name passed to engine_open (default "emulator") */
    /* The weights of the fp32 model: as the target model was built. */
    const char *weights_path;  /* NULL: the spec's                          */
    uint64_t random_seed;      /* != 0: deterministic random weights        */
    nr_eval_progress_fn progress;
    void *progress_ctx;
} nr_cal_opts;

void nr_cal_opts_init(nr_cal_opts *o);

/* Turn every static activations rule of P into its dynamic rule (fp32 and
 * ue4m3: amax, e8m0: floor) and drop P's scales, so the target model can
 * be built before it is calibrated (re-calibrating a calibrated file). */
void nr_calibrate_precision(nr_precision *P);
/* The target model: net_path in prec_arg (a file or a format name, as
 * nr_precision_from_arg) after nr_calibrate_precision, built with o (may
 * be NULL; its rounding/mac settings apply). */
int nr_calibrate_load(const char *net_path, const char *prec_arg, const nr_model_opts *o,
                      nr_model **target, nr_err *err);
/* The tensors of target that get a static scale ([scl-cal-gran]): those
 * whose activations are scaled per tensor with an fp32/e8m0/ue4m3 scale.
 * Fills c->t (names, formats); 0 tensors is an NR_EUNSUP error saying so. */
int nr_calibrate_tensors(const nr_model *target, nr_calibration *c, nr_err *err);
/* Run the fp32 network over the samples and fill every tensor's
 * statistics, threshold and scale.  ds must hold the network's input
 * shape.  c from nr_calibrate_tensors. */
int nr_calibrate_run(const nr_model *target, const nr_dataset *ds, const nr_cal_opts *o,
                     nr_calibration *c, nr_err *err);
void nr_cal_calibration_free(nr_calibration *c);

/* ---------------------------------------------------------------- calibrate_taps.c */

/* The fp32 model of target's spec whose output is, per sample, every
 * tensor of c flattened and concatenated in c's order; *offsets (malloc'ed,
 * ntensors + 1 entries) where each starts. */
int nr_calibrate_tap_model(const nr_model *target, const nr_calibration *c,
                           const nr_cal_opts *o, nr_model **out, size_t **offsets, nr_err *err);

/* ---------------------------------------------------------------- calibrate_method.c */

/* T and X of one tensor from its statistics ([scl-cal-method]). */
int nr_calibrate_choose(nr_cal_tensor *t, nr_cal_method m, double percentile, nr_err *err);
/* 0 when method m applies to the tensor's format, else the error (mse is
 * not defined for nv tensor scales, [scl-nv-static]). */
int nr_calibrate_method_check(const nr_cal_tensor *t, nr_cal_method m, nr_err *err);

/* ---------------------------------------------------------------- calibrate_write.c */

/* The precision file: target's precision with every calibrated tensor's
 * activations rule static and `scales:` holding its scale; written so that
 * every layer of target resolves to the same precision (checked by
 * parsing the text back).  header: comment lines (may be NULL).  Returns
 * the text (malloc'ed) or NULL with err set. */
char *nr_calibrate_yaml(const nr_model *target, const nr_calibration *c, const char *header,
                        nr_err *err);

#endif
