/* cli.h -- the numrep subcommands and the helpers they share.
 * Each subcommand lives in gen/cmd_<name>.c and returns the process exit
 * status; only main.c and the cmd_* files print. */
#ifndef NUMREP_CLI_H
#define NUMREP_CLI_H

/* Table of contents of gen/cli/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   main.c          the numrep command: dispatch; cli_error, cli_usage [cli.h]
 *   cli_opts.c      the command line of every subcommand from its option table [cli.h]
 *   cli_progress.c  the one progress reporter [cli.h]
 *   cli_util.c      shared helpers: loading a model, printing outputs [cli.h]
 *   cmd_<name>.c    one file a subcommand (CLI_COMMANDS); cmd_eval_lm.c and cmd_search_lm.c
 *                   are eval and search of a language model; cmd_round.c and cmd_scaled.c
 *                   also export the helpers below [cli.h]
 *   mpi_comm.c      nr_search_comm on MPI (the only file with <mpi.h>) [mpi_comm.h]
 */

#include "model.h"
#include "numrep.h"
#include "opts.h"
#include "paths.h"

#include <stdio.h>

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
    X(cmd_calibrate, "calibrate", "static activation scales from calibration data (-o CAL.yaml)") \
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
/* 1 when every value of m is fp32 with rne and unfused MACs, in every role
 * (the nonlinear one too) and at the input: a run of m is its own fp32
 * baseline.  A scaled role keeps fp32 as its carrier format ([scl-dot-act]),
 * so the formats alone do not say it. */
struct nr_model;
int cli_model_is_fp32(const struct nr_model *m);
/* A non-negative integer (decimal, 0x hex, 0 octal) that fits uint64; 0 or -1. */
int cli_parse_u64(const char *s, uint64_t *v);
/* A decimal integer in [lo, hi]; 0 or -1. */
int cli_parse_count(const char *s, long long lo, long long hi, long long *v);
/* --max-memory BYTES: a count with an optional K, M, G or T suffix (powers
 * of 1024) that fits uint64; 0 or -1. */
int cli_parse_bytes(const char *s, uint64_t *v);
/* The model options of every command that loads a network (run, emulate,
 * build, eval): -p PREC, --rounding M, --mac M, --random-weights SEED,
 * --max-memory BYTES; and what the command knows of its input. */
typedef struct cli_model_args {
    const char *net;         /* NET.yaml                                        */
    const char *prec;        /* -p: a precision file or one format; NULL: fp32  */
    /* --rounding, --mac (set_rounding, set_mac: every layer's), --random-weights
     * (random_seed; 0: the spec's weights file), --max-memory (0: half the
     * physical memory): gen_opts_model's rows */
    nr_model_opts mo;
    /* when input is set: the data's shape, checked against the spec's
     * input before the model is built (nr_model_opts.input_shape) */
    const char *input;
    const int64_t *input_shape;
    int input_ndim;
} cli_model_args;
/* a->net in the precision, weights and limits the options say. */
int cli_load_model(const cli_model_args *a, struct nr_model **m, nr_err *err);
/* emulate, run: the .npy a->input first (float32 [N,C,H,W] or [C,H,W] into
 * *x, N samples into *n), its shape checked against the spec before the
 * model (maybe large) is built, then the model.  *x is the caller's to free,
 * also on failure. */
int cli_load_with_input(cli_model_args *a, float **x, int64_t *n, struct nr_model **m,
                        nr_err *err);
/* Outputs as text: one sample per line, k values each, "%.9g" (round-trips
 * float32), so emulate / run / built executables can be compared with diff. */
void cli_print_rows(const float *y, int n, size_t k);
/* s as a JSON string literal on stdout (quotes, escapes). */
void cli_json_str(const char *s);

/* cli_opts.c -- a subcommand's command line from its option table. */
/* The rows of --input X.npy and -o Y.npy (emulate, run), for a struct T
 * with const char *input, *output. */
#define CLI_INPUT_OUTPUT_ROWS(T)                                                         \
    {.name = "input", .kind = GEN_OPT_STR, .off = offsetof(T, input), .arg = "X.npy",   \
     .help = "float32 (or float64) [N,C,H,W] or [C,H,W]"},                               \
    {.shrt = 'o', .kind = GEN_OPT_STR, .off = offsetof(T, output), .arg = "Y.npy",      \
     .help = "write the output layer as float32 [N,K] (dense) or\n"                     \
             "[N,C,H,W]; without -o, print one sample per line"}
typedef struct cli_cmd {
    const char *name;       /* "emulate": usage errors say "numrep emulate: ..."   */
    const gen_opt *opts;    /* its options (a GEN_OPT_TABLE row: cli_model_opts)    */
    const char *usage;      /* --help before the options: synopsis, description     */
    const char *usage_end;  /* --help after them ("\nexit status: ...")             */
    int col;                /* --help: the column option help starts at; 0: 21     */
    int list_help;          /* --help lists "--help  this text" last               */
    char quote;             /* "unknown option 'X'": the quote around X, or 0      */
    const char *need;       /* "X needs <need>" when no row says; NULL: "an argument" */
    int npos;               /* positional arguments taken, in order, into pos[]    */
    /* one positional argument too many (first: pos[0]): the usage error's
     * status; NULL: "unexpected argument" */
    int (*extra)(const char *cmd, const char *first, const char *arg);
} cli_cmd;
/* argv (argv[0] the command) into the options struct at base and pos[]:
 * 0; -1 after printing --help (exit 0); a usage error's status (2),
 * printed. */
int cli_opts_parse(const cli_cmd *c, int argc, char **argv, void *base, const char **pos);
/* The usage with the options listed from the table. */
void cli_opts_help(const cli_cmd *c, FILE *f);
/* The rows of the model options, for a cli_model_args (a GEN_OPT_TABLE row
 * at its offset in the command's options struct). */
extern const gen_opt cli_model_opts[];
/* cli_cmd.extra of the commands that take one NET.yaml. */
int cli_opts_extra_net(const char *cmd, const char *first, const char *arg);
/* cli_progress.c -- progress on stderr: a bar on a terminal, else a line
 * every 10 s of a phase that runs longer than that (and at its end). */
typedef struct cli_progress {
    int on, tty;
    const char *unit;      /* "img" -> "12.3 img/s" on the bar; NULL: no rate */
    char phase[64];
    double t0, last;
    int lines;             /* log lines printed in this phase; -1: its end */
    double interval;       /* seconds between log lines: 10, or NUMREP_PROGRESS_SECONDS */
    const char *at;        /* the phase cli_progress_cb reports (the caller sets it) */
} cli_progress;
void cli_progress_init(cli_progress *p, int on, const char *unit);
void cli_progress_update(cli_progress *p, const char *phase, int64_t done, int64_t total);
/* The library's progress callback (ctx a cli_progress): phase p->at. */
void cli_progress_cb(void *ctx, int64_t done, int64_t total);

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
