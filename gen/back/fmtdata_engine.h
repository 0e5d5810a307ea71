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

/* The search's sample engine: a cache holding the format-as-data engine
 * of one network, compiled on the first model in scope and shared by the
 * next configurations (threads may open engines at once: the compile is
 * under a lock, the compiled code is read-only).  gen_fdcache_open returns
 * 0 with *out open, 1 when the model is outside the engine's scope or of
 * another network (the caller opens another engine), or -NR_E*. */
typedef struct gen_fdcache gen_fdcache;
gen_fdcache *gen_fdcache_new(void); /* NULL: out of memory */
void gen_fdcache_free(gen_fdcache *c);
int gen_fdcache_open(gen_fdcache *c, const nr_model *m, nr_engine *out, nr_err *err);

#endif
