/* testutil.h -- small helpers shared by the check_* tests. */
#ifndef NUMREP_TESTUTIL_H
#define NUMREP_TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include "numrep.h"

/* Directory of the source tree (NUMREP_SOURCE_DIR, set by ctest). */
const char *tu_source_dir(void);
/* Path of the numrep command (NUMREP_BIN), or NULL. */
const char *tu_numrep_bin(void);
/* ../shared/data next to the source tree, or NULL when absent (tests that
 * need it skip). */
const char *tu_shared_data(void);
/* 1 when NUMREP_QUICK is set (sanitizer builds run a smaller slice). */
int tu_quick(void);
/* 1 when NUMREP_EXHAUSTIVE is set (the full matrices). */
int tu_exhaustive(void);
/* Parse a format name or fail the test. */
nr_format tu_fmt(const char *name);
/* Run the suite; returns the exit status for main(): EXIT_FAILURE when a
 * test failed, TU_SKIP_STATUS when every test skipped (tu_skip), else
 * EXIT_SUCCESS with a list of what was skipped. */
int tu_run(Suite *s);
/* ctest's SKIP_RETURN_CODE (CMakeLists.txt), also used by tests/cli_*.sh */
#define TU_SKIP_STATUS 77
/* The calling test cannot run here (no data, no CPU feature): say why and
 * return from it.  Counted: when every test of the suite skips, the
 * executable exits TU_SKIP_STATUS. */
void tu_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Part of a test did not run (the rest did): listed in the summary. */
void tu_skip_part(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* specs/NET/sample.npy, checked against m's input shape; *n is lowered
 * to the samples it holds.  malloc'ed floats. */
struct nr_model;
float *tu_load_sample(const char *net, int *n, const struct nr_model *m);
/* Deterministic 64-bit random numbers (splitmix64). */
/* A model from spec text and precision text (deterministic random weights
 * from seed): the parse errors of the spec fail the test, the precision's
 * and the build's are returned (-NR_E*, e filled). */
int tu_model_try(const char *spec, const char *prec, uint64_t seed, struct nr_model **m,
                 nr_err *e);
/* The same, every error failing the test. */
struct nr_model *tu_model_ok(const char *spec, const char *prec, uint64_t seed);
/* The model must fail (the precision's parse or the build) with want in
 * the message or the field, at line (0: any). */
void tu_model_bad(const char *spec, const char *prec, uint64_t seed, const char *want, int line);
/* A model from spec text and a precision (NULL: fp32; YAML text, told by a
 * ": " or a newline in it; else a format name or file as -p takes it), random
 * weights from seed; every error returned, its text in msg[1024]. */
int tu_model_msg(const char *spec, const char *prec, uint64_t seed, struct nr_model **m,
                 char *msg);
/* e's text (file:line:col: where: message) in a static buffer. */
const char *tu_errstr(const nr_err *e);
/* The emulator's output of every layer for one sample x (no_fast: the
 * generic paths only), asserted to succeed; free with tu_free_layers. */
double **tu_emulate_layers(const struct nr_model *m, const float *x, int no_fast);
void tu_free_layers(const struct nr_model *m, double **L);
struct nr_precision;
/* Precision text that must parse; precision text that must fail with want
 * in the message, at line (0: any). */
struct nr_precision *tu_prec_ok(const char *yaml);
void tu_prec_bad(const char *yaml, const char *want, int line);
uint64_t tu_rand(uint64_t *state);
/* A double uniform in [0, 1) from the top 53 bits of tu_rand. */
double tu_unif(uint64_t *state);
/* count floats lo + (hi - lo) tu_unif(state), malloc'ed (checked). */
float *tu_uniform_floats(uint64_t *state, size_t count, double lo, double hi);

#endif
