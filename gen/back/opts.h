/* opts.h -- options as a table, for the command line (gen/cli/cli_opts.c
 * parses argv with it and prints --help from it) and for library callers
 * that set options by name (Python: name=value pairs).  One row an option:
 * its long and short name, the kind of its value, where the value goes (an
 * offset into the caller's options struct), and its help.  Exports of
 * opts.c: */
#ifndef NUMREP_GEN_OPTS_H
#define NUMREP_GEN_OPTS_H

#include <stddef.h>

#include "numrep.h"

typedef enum gen_opt_kind {
    GEN_OPT_END = 0, /* ends a table                                            */
    GEN_OPT_FLAG,    /* no value: the int at off becomes 1                      */
    GEN_OPT_STR,     /* const char * at off: the value as given (not copied)    */
    GEN_OPT_CHARS,   /* char[hi] at off: a copy of the value (hi > its length)  */
    GEN_OPT_COUNT,   /* long long at off: a decimal integer in [lo, hi]         */
    GEN_OPT_INT,     /* int at off: a decimal integer in [lo, hi]               */
    GEN_OPT_I64,     /* int64_t at off: a decimal integer in [lo, hi]           */
    GEN_OPT_U64,     /* uint64_t at off: decimal, 0x hex or 0 octal             */
    GEN_OPT_BYTES,   /* uint64_t at off: a count with an optional K, M, G or T
                      * suffix (powers of 1024)                                 */
    GEN_OPT_CHOICE,  /* int at off: the index of the value in choices           */
    GEN_OPT_FN,      /* fn(base + off, value, err)                              */
    GEN_OPT_TABLE,   /* the rows of sub, for the struct at base + off           */
} gen_opt_kind;

typedef struct gen_opt {
    const char *name;      /* long name without "--" ("input"); NULL: none      */
    char shrt;             /* short name ('o' for -o); 0: none                  */
    unsigned char kind;    /* gen_opt_kind                                      */
    unsigned char attached;/* a short option whose value is glued on: -O2       */
    unsigned char once;    /* GEN_OPT_STR: a second one is an error             */
    size_t off;            /* offsetof(the options struct, destination)         */
    size_t have;           /* GEN_OPT_HAVE: an int set to 1 when given; 0: none */
    long long lo, hi;      /* GEN_OPT_COUNT, _INT, _I64's range; _CHARS' size   */
    const char *choices;   /* GEN_OPT_CHOICE: "dense|container"                 */
    /* GEN_OPT_FN: 0, or nonzero with err->msg saying what was expected */
    int (*fn)(void *dst, const char *value, nr_err *err);
    const struct gen_opt *sub; /* GEN_OPT_TABLE                                 */
    /* an invalid value: a printf format of two strings, the option as given
     * and the value ("%s: expected a positive integer, got \"%s\"").  NULL:
     * a GEN_OPT_FN's err->msg after "OPTION: ", else "unknown option". */
    const char *bad;
    const char *need;      /* a missing value: "OPTION needs <need>"; NULL: the
                            * command's word (cli_cmd.need) or "an argument"   */
    const char *arg;       /* the value's name in --help ("X.npy")              */
    const char *label;     /* --help's whole left column, when not "--name ARG" */
    const char *help;      /* --help text, lines separated by '\n'; NULL: hidden;
                            * "": the label alone.  On a GEN_OPT_TABLE row:
                            * the row (label, help) shown instead of sub's  */
} gen_opt;

/* For gen_opt.have: offsetof + 1, so 0 stays "none". */
#define GEN_OPT_HAVE(type, field) (offsetof(type, field) + 1)

/* The row of t (or of a table it includes) named name (long, without
 * dashes) or, name NULL, with short name c; NULL when none.  *base is moved
 * by the included tables' offsets. */
const gen_opt *gen_opts_find(const gen_opt *t, const char *name, char c, size_t *base);
/* Option name of t takes a value: 1; a flag: 0; not an option of t: -1
 * (gen_search_job_takes's contract). */
int gen_opts_takes(const gen_opt *t, const char *name);
/* Set row o of the struct at base (the table's base: o's offsets are added)
 * to value (NULL for a flag).  as: the option as the user wrote it, for
 * messages ("-o", "--limit").  A bad value: -NR_ERANGE, err->where as and
 * err->msg what was expected (o->bad when set, with where ""). */
int gen_opts_set(const gen_opt *o, void *base, const char *as, const char *value, nr_err *err);
/* Set the option named name (long name, no dashes) of t: the name=value
 * form (Python).  An unknown name: -NR_ERANGE, "unknown option". */
int gen_opts_set_named(const gen_opt *t, void *base, const char *name, const char *value,
                      nr_err *err);

/* Value parsers the kinds use (0, or -1 leaving *v alone): a non-negative
 * integer (decimal, 0x hex, 0 octal) that fits uint64; a decimal integer
 * in [lo, hi]; a count with a K, M, G or T suffix. */
int gen_opts_parse_u64(const char *s, uint64_t *v);
int gen_opts_parse_count(const char *s, long long lo, long long hi, long long *v);
int gen_opts_parse_bytes(const char *s, uint64_t *v);

/* The options of how a model is built, for an nr_model_opts (model.h):
 * --rounding M, --mac M (every layer's), --random-weights S (0 counts as
 * 1), --max-memory B.  Every command and job that builds a model includes
 * them (a GEN_OPT_TABLE row at the nr_model_opts' offset). */
extern const gen_opt gen_opts_model[];
/* A GEN_OPT_FN for an nr_rounding: nr_rounding_parse's error as the message. */
int gen_opts_rounding(void *dst, const char *value, nr_err *err);

#endif
