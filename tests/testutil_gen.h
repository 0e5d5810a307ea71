/* testutil_gen.h -- what the generator's tests share (testutil_gen.c):
 * one model run by the emulator (the oracle) and by the JIT, compared bit
 * for bit. */
#ifndef NUMREP_TESTUTIL_GEN_H
#define NUMREP_TESTUTIL_GEN_H

#include "model.h"
#include "gen.h"
#include "model_gen.h"

typedef struct tu_gen_cmp {
    const gen_model_opts *opts; /* the compile's options; NULL: the defaults        */
    int nan_equal;   /* a NaN output equals any NaN (else: the same bits)           */
    int check_arena; /* also the output layer's values in the arena after the last
                        sample run alone (gen_compiled_run_arena, offsets from the
                        plan), against the emulator's exact values, and that run's
                        outputs against gen_compiled_run's                           */
    int print_out;   /* print the emulator's first 12 outputs (debugging)           */
    /* filled when not NULL: wall and process CPU seconds of each step */
    struct tu_gen_times {
        double emu, emu_cpu, compile, compile_cpu, jit, jit_cpu;
    } *times;
} tu_gen_cmp;

/* Run m on the n samples at x in the emulator and the JIT and compare:
 * returns the mismatches (the first few printed to stderr, each naming
 * what).  An emulator, compile or run error fails the test. */
int tu_gen_compare(const nr_model *m, const float *x, int n, const tu_gen_cmp *o,
                   const char *what);

/* The address of the JIT's symbol name (a failed lookup fails the test). */
void *tu_jit_look(gen_jit *j, const char *name);

#endif
