/* cli.h -- the numrep subcommands and the helpers they share.
 * Each subcommand lives in gen/cmd_<name>.c and returns the process exit
 * status; only main.c and the cmd_* files print. */
#ifndef NUMREP_CLI_H
#define NUMREP_CLI_H

#include "numrep.h"

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
    X(cmd_report, "report", "write a self-contained HTML report from a results database")

#define X(fn, name, help) int fn(int argc, char **argv);
CLI_COMMANDS(X)
#undef X

/* Print "numrep: <formatted error>" to stderr; returns the exit status 1
 * (2 for usage errors, see cli_usage). */
int cli_error(const nr_err *e);
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
