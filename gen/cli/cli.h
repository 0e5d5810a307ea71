/* cli.h -- the numrep subcommands and the helpers they share.
 * Each subcommand lives in gen/cmd_<name>.c and returns the process exit
 * status; only main.c and the cmd_* files print. */
#ifndef NUMREP_CLI_H
#define NUMREP_CLI_H

#include "numrep.h"
#include "paths.h"

/* The numrep release (`numrep version`): project(VERSION) in CMakeLists.txt. */
#ifndef NUMREP_VERSION
#error "NUMREP_VERSION comes from CMakeLists.txt's project(VERSION)"
#endif

/*  function           name          one-line help */
#define CLI_COMMANDS(X)                                                                   \
    X(cmd_format, "format", "describe a number format (width, range, epsilon, encodings)") \
    X(cmd_round, "round", "round values from stdin into a format, or apply one operation") \
    X(cmd_emulate, "emulate", "run a network spec with the reference emulator")           \
    X(cmd_eval, "eval", "accuracy of a network in a precision on a labeled data set")     \
    X(cmd_import_raw, "import-raw", "convert a manifest + raw float32 directory to safetensors") \
    X(cmd_import, "import", "import an ONNX model as a spec + safetensors")                 \
    X(cmd_cost, "cost", "hardware cost of a MAC unit in a format: area, delay, energy, speedup") \
    X(cmd_run, "run", "compile a network with the JIT and run it")                               \
    X(cmd_build, "build", "compile a network to an executable, object, IR or header") \
    X(cmd_search, "search", "find the narrowest format that meets an accuracy budget")     \
    X(cmd_report, "report", "write a self-contained HTML report from a results database") \
    X(cmd_version, "version", "the version, and where numrep finds its templates and runtime")

#define X(fn, name, help) int fn(int argc, char **argv);
CLI_COMMANDS(X)
#undef X

/* Print "numrep: <formatted error>" to stderr; returns the exit status 1
 * (2 for usage errors, see cli_usage). */
int cli_error(const nr_err *e);
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_util.c -- what several subcommands share. */
struct nr_model;
/* A non-negative integer (decimal, 0x hex, 0 octal) that fits uint64; 0 or -1. */
int cli_parse_u64(const char *s, uint64_t *v);
/* A decimal integer in [lo, hi]; 0 or -1. */
int cli_parse_count(const char *s, long long lo, long long hi, long long *v);
/* NET with precision PREC (nr_precision_from_arg; NULL: the default); with
 * have_seed, deterministic random weights from seed (0 counts as 1). */
int cli_load_model(const char *net, const char *prec, int have_seed, uint64_t seed,
                   struct nr_model **m, nr_err *err);
/* Outputs as text: one sample per line, k values each, "%.9g" (round-trips
 * float32), so emulate / run / built executables can be compared with diff. */
void cli_print_rows(const float *y, int n, size_t k);
/* s as a JSON string literal on stdout (quotes, escapes). */
void cli_json_str(const char *s);

/* cmd_round.c -- a format value (bits, decoded into x) as a C99 hex float,
 * and as the shortest decimal that reads back (rne) to the same bits. */
void cli_show_hex(const nr_format *f, uint64_t bits, const nr_exact *x, char *buf, size_t n);
void cli_show_decimal(const nr_format *f, uint64_t bits, const nr_exact *x, char *buf, size_t n);
/* The next blank-separated field of *p, NUL-terminated in place, or NULL. */
char *cli_next_field(char **p);
/* stdin for `numrep round`, line by line: NUL-byte lines reported, blank
 * lines skipped, the rest to fn (nonzero: a bad line, already reported);
 * returns the exit status (1 after a bad line or an I/O error). */
int cli_round_lines(int (*fn)(char *line, long lineno, void *ctx), void *ctx);

/* cmd_scaled.c -- `numrep format` and `numrep round` for scaled formats
 * ([scl-*]): name is one for which nr_scaled_is_name() is true. */
int cli_format_scaled(const char *name, int json);
int cli_round_scaled(const char *name, nr_rounding mode, uint64_t seed, int have_scale,
                     double scale);

#endif
