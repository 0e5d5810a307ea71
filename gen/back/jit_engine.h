/* jit_engine.h -- the JIT as an nr_engine (runtime/study/eval.h) for eval,
 * search and the Python package: runtime/study cannot reach gen/, so the
 * callers open engines through this.  Exports of jit_engine.c: */
#ifndef NUMREP_JIT_ENGINE_H
#define NUMREP_JIT_ENGINE_H

#include "eval.h"

/* "jit" (-O2) and "jit-O0".."jit-O3": compile m once; every run call is
 * single-threaded in its own arena (kept for later calls, up to 16), so
 * concurrent calls on disjoint buffers are safe.  Any other name goes to nr_engine_open ("emulator"). */
int gen_engine_open(const char *name, const nr_model *m, nr_engine *out, nr_err *err);
/* "jit" is -O2, "jit-O0".."jit-O3" say their level; -1 for other names. */
int gen_engine_opt_level(const char *name);

#endif
