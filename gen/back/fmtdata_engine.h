/* fmtdata_engine.h -- the format-as-data engine (issue 15): a network's
 * MAC layers compiled once (gen/lower/fmtdata_mac.c) and run under any
 * configuration in scope, the formats bound per run.  Exports of
 * fmtdata_engine.c. */
#ifndef NUMREP_FMTDATA_ENGINE_H
#define NUMREP_FMTDATA_ENGINE_H

#include "eval.h"

typedef struct gen_fdnet gen_fdnet;

/* 0 when m can run on the format-as-data engine: its ops are conv, dense,
 * batchnorm, relu, maxpool, global/avg pooling over a power-of-two count,
 * add, slice, pad, flatten, dropout; every layer rz, unfused, unscaled,
 * its formats in gen_rtfmt_make's scope and its products exact in double.
 * Else NR_EUNSUP naming the layer and why. */
int gen_fdnet_check(const nr_model *m, nr_err *err);

/* Compile m's layer functions (once per network: m's formats are not
 * compiled in, only its shapes). */
int gen_fdnet_new(const nr_model *m, gen_fdnet **out, nr_err *err);
/* 1 when models m and the one fd was compiled for have the same layers
 * and shapes (any formats): fd can run m. */
int gen_fdnet_fits(const gen_fdnet *fd, const nr_model *m);
void gen_fdnet_free(gen_fdnet *fd);

/* An engine running m (which must outlive it, gen_fdnet_check(m) == 0 and
 * gen_fdnet_fits(fd, m)) on fd's compiled code; closing it frees neither. */
int gen_fdnet_engine(gen_fdnet *fd, const nr_model *m, nr_engine *out, nr_err *err);

/* The search's sample engine: the format-as-data engine, compiled on first
 * use and kept in *cache for the next configurations of the same network
 * (recompiled when the network differs); models outside its scope go to
 * fallback ("jit-O0" etc., gen_engine_open). */
int gen_fdnet_engine_cached(gen_fdnet **cache, const char *fallback, const nr_model *m,
                            nr_engine *out, nr_err *err);

#endif
