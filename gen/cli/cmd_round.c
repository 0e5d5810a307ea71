/* cmd_round.c -- `numrep round FMT`: round numbers from stdin into a format,
 * or apply one operation to them, and show the result as a hex float, the
 * shortest decimal that reads back to it, its bits and its flags.  The
 * numbers come from nr_value_exact_parse and the arithmetic from libnumrep; this
 * file reads lines and lays results out. */
#define _GNU_SOURCE /* getline, strfromf128 */
#include "cli.h"
#include "scaled.h"
#include "f128.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_head[] =
    "usage: numrep round FMT [--rounding MODE] [--seed S] [--op OP] [--scale X]\n"
    "\n"
    "Read numbers from stdin, one per line (or the operands of --op, separated\n"
    "by blanks), and print each result rounded into the format FMT (see\n"
    "'numrep format --help' for format names).\n"
    "\n"
    "Numbers: decimal (0.1, -3e-7, 1e400), C99 hex floats (0x1.8p-3), inf,\n"
    "infinity, nan (any case, optional sign).  They are read exactly: a\n"
    "decimal with more digits than a double holds still rounds correctly.\n"
    "Blank lines are skipped (but counted in line numbers).\n"
    "\n"
    "options:\n"
;

static const char usage_end[] =
    "\n"
    "A scaled FMT (mxfp4, nvfp4, e2m1@b32:e8m0:floor, int8@channel, ...; see\n"
    "'numrep format --help') reads each line of whitespace-separated values as\n"
    "one group (a block: at most its size; the values are first rounded to\n"
    "doubles) and prints 'scale  HEX  DECIMAL  BITS  clipped N [zero] [nan]'\n"
    "(nv: a 'tensor ...' line before it), then one line per element\n"
    "'  HEX  DECIMAL  BITS  VALUE': the element in its format and VALUE =\n"
    "element x scale.  sr: line k, element i draws nr_sr_bits(S, k-1, i, 0).\n"
    "\n"
    "output, one line per input line, four fields separated by two spaces:\n"
    "  HEX  DECIMAL  BITS  FLAGS\n"
    "  HEX      the value as a C99 hex float (%a); nan, inf, -inf\n"
    "  DECIMAL  the shortest %.Ng decimal that reads back (rounded rne into FMT,\n"
    "           without overflow) to the same bits: 3.2 for e4m3's 3.25\n"
    "  BITS     the encoding in hex, zero-padded to the format's width\n"
    "  FLAGS    the result's flags joined by ',' (inexact underflow flushed\n"
    "           overflow saturated invalid wrapped), or '-'; with --op, the\n"
    "           operation's flags (not those of rounding the operands)\n"
    "  e.g. echo 3.14159 | numrep round e4m3   prints   0x1.ap+1  3.25  0x45  inexact\n"
    "\n"
    "A bad line is reported on stderr as 'stdin:LINE: message' and skipped;\n"
    "the other lines are still answered.\n"
    "\n"
    "exit status: 0 ok, 1 bad FMT or some bad input line, 2 usage error\n";

/* enum, name, operands */
#define ROUND_OPS(X)    \
    X(NONE, "", 1)      \
    X(ADD, "add", 2)    \
    X(SUB, "sub", 2)    \
    X(MUL, "mul", 2)    \
    X(FMA, "fma", 3)    \
    X(DIV, "div", 2)    \
    X(SQRT, "sqrt", 1)

enum {
#define X(e, n, k) ROP_##e,
    ROUND_OPS(X)
#undef X
    ROP_COUNT
};
static const struct {
    const char *name;
    int arity;
} rops[] = {
#define X(e, n, k) {n, k},
    ROUND_OPS(X)
#undef X
};

static const char *const flag_names[] = {"inexact", "underflow", "flushed", "overflow",
                                         "saturated", "invalid", "wrapped"};

typedef struct {
    nr_format f;
    nr_rounding mode;
    uint64_t seed;
    int op;
} round_opts;

/* ---------------------------------------------------------------- output */

/* An exact format value (at most 64 significant bits, binary64's exponent
 * range) as a binary128 number, built from its bits so nothing rounds. */
static nr_f128 to_f128(const nr_exact *x)
{
    unsigned __int128 b = 0;
    if (x->cls == NR_CLS_FINITE && x->sig) {
        uint64_t sig = (uint64_t)x->sig;
        int len = 64 - __builtin_clzll(sig);
        int64_t E = (int64_t)x->exp + len - 1;
        unsigned __int128 frac = ((unsigned __int128)sig << (113 - len)) &
                                 (((unsigned __int128)1 << 112) - 1);
        b = (unsigned __int128)(E + 16383) << 112 | frac;
    }
    if (x->sign)
        b |= (unsigned __int128)1 << 127;
    nr_f128 v;
    memcpy(&v, &b, sizeof v);
    return v;
}

void cli_show_hex(const nr_format *f, uint64_t bits, const nr_exact *x, char *buf, size_t n)
{
    if (x->cls == NR_CLS_NAN)
        snprintf(buf, n, "nan");
    else if (x->cls == NR_CLS_INF)
        snprintf(buf, n, "%sinf", x->sign ? "-" : "");
    else if (f->kind == NR_FLOAT || f->prec <= 53)
        snprintf(buf, n, "%a", nr_decode(f, bits)); /* exact: [fmt-5], 53 bits */
    else
        strfromf128(buf, n, "%a", to_f128(x)); /* 54..64-bit fixed point */
}

/* Shortest %.Ng that reads back, rounded with rne into f, to the same bits
 * (without overflowing: "1e+01" is not a way to write e2m1's max 6). */
void cli_show_decimal(const nr_format *f, uint64_t bits, const nr_exact *x, char *buf,
                      size_t n)
{
    if (x->cls == NR_CLS_NAN || x->cls == NR_CLS_INF) {
        snprintf(buf, n, "%s", x->cls == NR_CLS_NAN ? "nan" : x->sign ? "-inf" : "inf");
        return;
    }
    nr_f128 v = to_f128(x);
    for (int digits = 1; digits <= 40; digits++) {
        char fmt[16];
        nr_exact back;
        unsigned fl = 0;
        snprintf(fmt, sizeof fmt, "%%.%dg", digits);
        strfromf128(buf, n, fmt, v);
        /* a decimal beyond max that saturates back onto max does not count */
        if (nr_value_exact_parse(buf, &back, NULL) == 0 &&
            nr_round_exact(f, NR_RND_RNE, &back, 0, &fl) == bits && !(fl & NR_FLAG_OVERFLOW))
            return;
    }
    /* 40 digits identify every binary128 number; not reached */
}

static void show_flags(unsigned fl, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
        if (fl & 1u << i) {
            int w = snprintf(buf + k, n - k, "%s%s", k ? "," : "", flag_names[i]);
            if (w > 0 && (size_t)w < n - k)
                k += (size_t)w;
        }
    if (!k)
        snprintf(buf, n, "-");
}

/* ---------------------------------------------------------------- one line */

/* The next blank-separated field of *p, NUL-terminated in place (*p moves
 * past it), or NULL at the end of the line. */
char *cli_next_field(char **p)
{
    char *s = *p;
    while (*s && isspace((unsigned char)*s))
        s++;
    if (!*s)
        return NULL;
    char *start = s;
    while (*s && !isspace((unsigned char)*s))
        s++;
    if (*s)
        *s++ = 0;
    *p = s;
    return start;
}

/* Compute and print the answer to one line; 0, or -1 after reporting a bad
 * line on stderr. */
static int do_line(const round_opts *o, char *line, long lineno)
{
    const int arity = rops[o->op].arity;
    char *tok[3], *start, *p = line;
    int ntok = 0;
    while ((start = cli_next_field(&p))) {
        if (ntok < 3)
            tok[ntok] = start;
        ntok++;
    }
    if (ntok != arity) {
        if (o->op == ROP_NONE)
            fprintf(stderr, "numrep round: stdin:%ld: expected one number, got %d fields\n",
                    lineno, ntok);
        else
            fprintf(stderr, "numrep round: stdin:%ld: --op %s takes %d operand%s, got %d\n",
                    lineno, rops[o->op].name, arity, arity > 1 ? "s" : "", ntok);
        return -1;
    }
    uint64_t element = (uint64_t)(lineno - 1);
    nr_exact xs[3];
    for (int j = 0; j < arity; j++) {
        nr_err e = {0};
        if (nr_value_exact_parse(tok[j], &xs[j], &e) != 0) {
            if (arity > 1)
                fprintf(stderr, "numrep round: stdin:%ld: operand %d: %s\n", lineno, j + 1,
                        e.msg);
            else
                fprintf(stderr, "numrep round: stdin:%ld: %s\n", lineno, e.msg);
            return -1;
        }
    }
    const nr_format *f = &o->f;
    uint32_t sr = nr_sr_bits(o->seed, 0, element, 0);
    unsigned fl = 0;
    uint64_t r, v[3];
    if (o->op != ROP_NONE) /* operands into the format first (their flags are not shown) */
        for (int j = 0; j < arity; j++)
            v[j] = nr_round_exact(f, o->mode, &xs[j], nr_sr_bits(o->seed, 0, element, (uint32_t)j + 1),
                                  NULL);
    switch (o->op) {
    case ROP_ADD: r = nr_add(f, o->mode, v[0], v[1], sr, &fl); break;
    case ROP_SUB: r = nr_sub(f, o->mode, v[0], v[1], sr, &fl); break;
    case ROP_MUL: r = nr_mul(f, o->mode, v[0], v[1], sr, &fl); break;
    case ROP_DIV: r = nr_div(f, o->mode, v[0], v[1], sr, &fl); break;
    case ROP_FMA: r = nr_fma(f, o->mode, v[0], v[1], v[2], sr, &fl); break;
    case ROP_SQRT: r = nr_sqrt(f, o->mode, v[0], sr, &fl); break;
    default: r = nr_round_exact(f, o->mode, &xs[0], sr, &fl); break;
    }
    nr_exact rx;
    nr_codec_decode_exact(f, r, &rx);
    char hex[80], dec[80], flags[96];
    cli_show_hex(f, r, &rx, hex, sizeof hex);
    cli_show_decimal(f, r, &rx, dec, sizeof dec);
    show_flags(fl, flags, sizeof flags);
    printf("%s  %s  0x%0*llx  %s\n", hex, dec, (f->width + 3) / 4, (unsigned long long)r, flags);
    return 0;
}

static int round_line(char *line, long lineno, void *ctx)
{
    return do_line((const round_opts *)ctx, line, lineno);
}

/* Read stdin line by line for `numrep round`: a line with a NUL byte is
 * reported and skipped, blank lines are skipped, every other line goes to
 * fn (which reports its own errors and returns nonzero for a bad line).
 * Returns the exit status: 1 if any line was bad or stdin / stdout failed. */
int cli_round_lines(int (*fn)(char *line, long lineno, void *ctx), void *ctx)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int bad = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if ((size_t)len != strlen(line)) {
            fprintf(stderr, "numrep round: stdin:%ld: line contains a NUL byte\n", lineno);
            bad = 1;
            continue;
        }
        const char *p = line;
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            continue; /* blank line */
        if (fn(line, lineno, ctx) != 0)
            bad = 1;
    }
    free(line);
    if (ferror(stdin)) {
        fprintf(stderr, "numrep round: stdin: read error: %s\n", strerror(errno));
        bad = 1;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "numrep round: stdout: write error: %s\n", strerror(errno));
        return 1;
    }
    return bad ? 1 : 0;
}

/* ---------------------------------------------------------------- arguments */

/* The command line: round_opts' mode, seed and op, and the scale. */
typedef struct round_args {
    round_opts o;
    int have_scale;
    double scale;
} round_args;

static int set_rounding(void *dst, const char *v, nr_err *err)
{
    nr_err e = {0};
    if (nr_rounding_parse(v, dst, &e) != 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "", "%s", e.msg);
    return 0;
}

static int set_scale(void *dst, const char *v, nr_err *err)
{
    nr_exact x;
    (void)err;
    if (nr_value_exact_parse(v, &x, NULL) != 0 || x.cls != NR_CLS_FINITE || x.sign)
        return -1;
    *(double *)dst = nr_codec_exact_to_double(&x);
    return 0;
}

static int set_op(void *dst, const char *v, nr_err *err)
{
    (void)err;
    for (int k = 1; k < ROP_COUNT; k++)
        if (!strcmp(v, rops[k].name)) {
            *(int *)dst = k;
            return 0;
        }
    return -1;
}

static int extra(const char *cmd, const char *first, const char *arg)
{
    return cli_usage(cmd, "one FMT expected, got '%s' and '%s'", first, arg);
}

static const gen_opt round_table[] = {
    {.name = "rounding", .kind = GEN_OPT_FN, .fn = set_rounding,
     .off = offsetof(round_args, o.mode), .arg = "MODE",
     .need = "a mode (rne rna rz ru rd rto sr)",
     .help = "rne (default), rna, rz, ru, rd, rto, sr"},
    {.name = "seed", .kind = GEN_OPT_U64, .off = offsetof(round_args, o.seed), .arg = "S",
     .need = "a number",
     .bad = "%s: expected an unsigned 64-bit integer (decimal or 0x hex), got '%s'",
     .help = "seed for sr (default 0); line k draws\n"
             "nr_sr_bits(S, 0, k-1, 0) for its result and term j for\n"
             "its j-th operand"},
    {.name = "op", .kind = GEN_OPT_FN, .fn = set_op, .off = offsetof(round_args, o.op),
     .arg = "OP", .need = "an operation (add sub mul fma div sqrt)",
     .bad = "%s: unknown operation '%s'; expected add, sub, mul, fma, div or sqrt",
     .help = "add, sub, mul, div (2 operands), fma (3: a*b+c), sqrt (1).\n"
             "The operands are first rounded into FMT with the same\n"
             "mode, then the operation is applied to those format\n"
             "values and rounded once."},
    {.name = "scale", .kind = GEN_OPT_FN, .fn = set_scale, .off = offsetof(round_args, scale),
     .have = GEN_OPT_HAVE(round_args, have_scale), .arg = "X",
     .need = "a positive finite number, got ''",
     .bad = "%s needs a positive finite number, got '%s'",
     .help = "scaled FMT: the static scale, or nv's fp32 tensor scale\n"
             "(default: from the line's own amax)"},
    {0}};

static const cli_cmd round_cmd = {
    .name = "round",
    .opts = round_table,
    .usage = usage_head,
    .usage_end = usage_end,
    .col = 19,
    .list_help = 1,
    .quote = '\'',
    .npos = 1,
    .extra = extra,
};

int cmd_round(int argc, char **argv)
{
    round_args ra = {.o = {.mode = NR_RND_RNE, .seed = 0, .op = ROP_NONE}};
    const char *fmt_name = NULL;
    int rc = cli_opts_parse(&round_cmd, argc, argv, &ra, &fmt_name);
    if (rc)
        return rc < 0 ? 0 : rc;
    round_opts o = ra.o;
    int have_scale = ra.have_scale;
    double scale = ra.scale;
    if (!fmt_name)
        return cli_usage("round", "missing FMT (e.g. 'echo 0.1 | numrep round e4m3')");
    if (nr_scaled_is_name(fmt_name)) {
        if (o.op != ROP_NONE)
            return cli_usage("round", "--op is for plain formats, not the scaled %s", fmt_name);
        return cli_round_scaled(fmt_name, o.mode, o.seed, have_scale, scale);
    }
    if (have_scale)
        return cli_usage("round", "--scale is for scaled formats; %s is not one", fmt_name);
    nr_err e = {0};
    if (nr_format_parse(fmt_name, &o.f, &e) != 0)
        return cli_error(&e);

    return cli_round_lines(round_line, &o);
}
