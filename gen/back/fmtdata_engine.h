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
 * its formats in gen_numrt_fmt_make's scope and its products exact in double.
 * Else NR_EUNSUP naming the layer and why. */
int gen_fmtdata_net_check(const nr_model *m, nr_err *err);

/* Compile m's layer functions (once per network: m's formats are not
 * compiled in, only its shapes). */
int gen_fmtdata_net_new(const nr_model *m, gen_fdnet **out, nr_err *err);
/* 1 when models m and the one fd was compiled for have the same layers
 * and shapes (any formats): fd can run m. */
int gen_fmtdata_net_fits(const gen_fdnet *fd, const nr_model *m);
void gen_fmtdata_net_free(gen_fdnet *fd);

/* An engine running m (which must outlive it, gen_fmtdata_net_check(m) == 0 and
 * gen_fmtdata_net_fits(fd, m)) on fd's compiled code; closing it frees neither.
 * Its run refuses (NR_EUNSUP) an input or weight that rounds to infinity
 * or NaN: the kernels take finite operands (rz keeps them finite after). */
int gen_fmtdata_net_engine(gen_fdnet *fd, const nr_model *m, nr_engine *out, nr_err *err);

/* The search's sample engine: a cache holding the format-as-data engine
 * of one network, compiled on the first model in scope and shared by the
 * next configurations (threads may open engines at once: the compile is
 * under a lock, the compiled code is read-only).  gen_fmtdata_cache_open returns
 * 0 with *out open, 1 when the model is outside the engine's scope or of
 * another network, or when compiling each configuration has measured
 * cheaper (the caller then opens the per-configuration engine and hands it
 * to gen_fmtdata_cache_wrap), or -NR_E*.
 * Which is cheaper is measured, in CPU seconds of the thread per
 * configuration: the first configurations run on this engine, the next one
 * compiled (open + run), then each goes to the cheaper on average so far. */
typedef struct gen_fdcache gen_fdcache;
gen_fdcache *gen_fmtdata_cache_new(void); /* NULL: out of memory */
void gen_fmtdata_cache_free(gen_fdcache *c);
int gen_fmtdata_cache_open(gen_fdcache *c, const nr_model *m, nr_engine *out, nr_err *err);
/* The per-configuration engine e (opened after a 1 from gen_fmtdata_cache_open,
 * open_cpu seconds of thread CPU to open) wrapped so that its run is
 * measured for the choice; *e is moved into *out. */
int gen_fmtdata_cache_wrap(gen_fdcache *c, nr_engine *e, double open_cpu, nr_engine *out, nr_err *err);
/* Thread CPU seconds (the clock of those measurements). */
double gen_fmtdata_cache_cpu(void);

#endif
