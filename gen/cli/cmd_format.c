/* cmd_format.c -- `numrep format FMT`: describe a number format.  Every
 * number printed comes from nr_format_finish's derived constants; this file
 * only lays them out (text, or JSON with --json). */
#include "cli.h"
#include "scaled.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_head[] =
    "usage: numrep format [--json] FMT\n"
    "\n"
    "Describe the number format FMT: width, exponent and bias, range, smallest\n"
    "values, epsilon, number of finite values, special encodings and overflow.\n"
    "Values are printed as the shortest decimal that reads back as the same\n"
    "double, and as a C99 hex float.\n"
    "\n"
    "FMT (case-insensitive):\n"
    "  eXmY[-b<N>][-nosub][-ieee|-fn|-fnuz|-finite][-sat]\n"
    "      float, X exponent bits (1..11), Y mantissa bits (0..52); modifiers in\n"
    "      any order: -b<N> bias (e.g. -b7, -b-3), -nosub no subnormals, specials\n"
    "      -ieee (inf/NaN, default) -fn (NaN only) -fnuz (NaN at -0) -finite (none),\n"
    "      -sat saturate on overflow\n"
    "  qI.F, uqI.F [-wrap|-sat]\n"
    "      signed / unsigned fixed point, I integer and F fraction bits\n"
    "  presets: fp64 fp32 tf32 fp16 bf16 e4m3 e5m2 e3m2 e2m3 e2m1 int8 int16\n"
    "      int32 uint8 int4 uint4; float presets take float modifiers (bf16-nosub),\n"
    "      and an explicit specials modifier overrides a preset's (e4m3-fnuz)\n"
    "  scaled formats (element x a scale shared by a group; docs/semantics.md):\n"
    "      presets mxfp8 (= mxfp8e4m3) mxfp8e5m2 mxfp6e3m2 mxfp6e2m3 mxfp4 mxint8\n"
    "      nvfp4, or ELEM@GRAN[:SCALE[:RULE]]: GRAN tensor, channel or bN (a\n"
    "      block of N), SCALE fp32 e8m0 ue4m3 nv, RULE floor rceil ceil even\n"
    "      (e8m0) or amax amax-up (fp32 ue4m3 nv) or static; e.g.\n"
    "      e2m1@b32:e8m0:floor (= mxfp4), int8@channel, int4@b32:fp32\n"
    "\n"
    "options:\n";

static int extra(const char *cmd, const char *first, const char *arg)
{
    return cli_usage(cmd, "one FMT expected, got '%s' and '%s'", first, arg);
}

typedef struct format_opts {
    int json;
} format_opts;

static const gen_opt format_table[] = {
    {.name = "json", .kind = GEN_OPT_FLAG, .off = offsetof(format_opts, json),
     .help = "print one JSON object instead of text"},
    {0}};

static const cli_cmd format_cmd = {
    .name = "format",
    .opts = format_table,
    .usage = usage_head,
    .usage_end = "\nexit status: 0 ok, 1 bad FMT, 2 usage error\n",
    .col = 11,
    .list_help = 1,
    .quote = '\'',
    .npos = 1,
    .extra = extra,
};

/* Shortest %.*g that reads back as exactly x; integers below 2^53 are
 * printed in full (240, not 2.4e+02), which also reads back exactly. */
static void shortest(char *buf, size_t n, double x)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    if (strchr(buf, 'e') && x == floor(x) && fabs(x) < 9007199254740992.0)
        snprintf(buf, n, "%.0f", x);
}

/* "448 (0x1.cp+8)" */
static void both(char *buf, size_t n, double x)
{
    char d[40];
    shortest(d, sizeof d, x);
    snprintf(buf, n, "%s (%a)", d, x);
}

static void hexbits(char *buf, size_t n, const nr_format *f, uint64_t bits)
{
    snprintf(buf, n, "0x%0*llx", (f->width + 3) / 4, (unsigned long long)bits);
}

/* Number of finite values: exact while it fits a double's 53 bits. */
static void count_text(char *buf, size_t n, double c, int json)
{
    if (c <= 9007199254740992.0)
        snprintf(buf, n, "%.0f", c);
    else if (json)
        snprintf(buf, n, "%.17g", c);
    else
        snprintf(buf, n, "about %.6g (2^%.4f)", c, log2(c));
}

static const char *specials_text(const nr_format *f)
{
    switch (f->specials) {
    case NR_SPECIALS_IEEE: return "ieee (exponent all ones: inf when mantissa 0, else NaN)";
    case NR_SPECIALS_FN: return "fn (no inf; exponent and mantissa all ones: NaN)";
    case NR_SPECIALS_FNUZ: return "fnuz (no inf, no -0; the -0 encoding is the NaN)";
    default: return "finite (no inf, no NaN; every encoding is a number)";
    }
}

static const char *overflow_text(const nr_format *f)
{
    if (f->kind == NR_FIXED)
        return f->saturate ? "saturate to the most negative/positive value"
                           : "wrap modulo 2^width (-wrap)";
    if (f->specials == NR_SPECIALS_FINITE)
        return "saturate to +-max (finite format)";
    if (f->saturate)
        return "saturate to +-max (-sat)";
    if (f->has_inf)
        return "IEEE: +-inf or +-max by rounding mode";
    return "IEEE with NaN in place of inf: NaN or +-max by rounding mode";
}

static const char *const specials_word[] = {"ieee", "fn", "fnuz", "finite"};

typedef struct line {
    char key[32];     /* JSON key */
    const char *label;
    char val[200];
    int json_raw;     /* value is a JSON number/bool (no quotes) */
} line;

static int add(line *L, int k, const char *key, const char *label, int raw, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int add(line *L, int k, const char *key, const char *label, int raw, const char *fmt, ...)
{
    va_list ap;
    snprintf(L[k].key, sizeof L[k].key, "%s", key);
    L[k].label = label;
    L[k].json_raw = raw;
    va_start(ap, fmt);
    vsnprintf(L[k].val, sizeof L[k].val, fmt, ap);
    va_end(ap);
    return k + 1;
}

/* JSON string escape (names are plain ASCII, but be safe). */
/* Value fields: text "448 (0x1.cp+8)", JSON a number and a hex string. */
static int add_value(line *L, int k, int json, const char *key, const char *label, double x)
{
    char d[80], hexkey[32];
    if (!json) {
        both(d, sizeof d, x);
        return add(L, k, key, label, 0, "%s", d);
    }
    shortest(d, sizeof d, x);
    k = add(L, k, key, label, 1, "%s", d);
    snprintf(hexkey, sizeof hexkey, "%s_hex", key);
    return add(L, k, hexkey, label, 0, "%a", x);
}

static int describe_float(const nr_format *f, line *L, int k, int json)
{
    char a[40], b[40];
    k = add(L, k, "exp_bits", "exponent bits", 1, "%d", f->exp_bits);
    k = add(L, k, "man_bits", "mantissa bits", 1, "%d", f->man_bits);
    k = add(L, k, "precision", "precision", 1, json ? "%d" : "%d bits (with the hidden bit)",
            f->prec);
    k = add(L, k, "bias", "bias", 1, "%d", f->bias);
    k = add(L, k, "emin", "emin", 1, "%d", f->emin);
    k = add(L, k, "emax", "emax", 1, "%d", f->emax);
    k = add(L, k, "subnormals", "subnormals", 1, "%s", f->subnormals ? (json ? "true" : "yes")
                                                                     : (json ? "false" : "no"));
    k = add_value(L, k, json, "max_finite", "largest finite", f->max_finite);
    k = add_value(L, k, json, "lowest", "lowest finite", f->lowest);
    if (f->max_finite < f->min_normal) /* e1mY-ieee: only subnormals below inf/NaN */
        k = add(L, k, "min_normal", "smallest normal", json, json ? "null" : "%s",
                "none (no normal values)");
    else
        k = add_value(L, k, json, "min_normal", "smallest normal", f->min_normal);
    if (f->subnormals && f->man_bits > 0)
        k = add_value(L, k, json, "min_subnormal", "smallest subnormal", f->min_subnormal);
    else
        k = add(L, k, "min_subnormal", "smallest subnormal", json, json ? "null" : "%s",
                "none (no subnormals)");
    k = add_value(L, k, json, "epsilon", "epsilon", f->epsilon);
    count_text(a, sizeof a, f->finite_count, json);
    k = add(L, k, "finite_count", "finite values", 1, "%s", a);
    k = add(L, k, "specials", "specials", 0, "%s",
            json ? specials_word[f->specials] : specials_text(f));
    hexbits(a, sizeof a, f, f->max_bits);
    k = add(L, k, "max_bits", "+max encoding", 0, "%s", a);
    if (f->has_inf) {
        hexbits(a, sizeof a, f, f->inf_bits);
        hexbits(b, sizeof b, f, f->inf_bits | f->sign_mask);
        k = add(L, k, "inf_bits", "+inf encoding", 0, "%s", a);
        k = add(L, k, "neg_inf_bits", "-inf encoding", 0, "%s", b);
    } else {
        k = add(L, k, "inf_bits", "+inf encoding", json, json ? "null" : "%s", "none");
        k = add(L, k, "neg_inf_bits", "-inf encoding", json, json ? "null" : "%s", "none");
    }
    if (!f->has_nan) {
        k = add(L, k, "nan_bits", "NaN encoding", json, json ? "null" : "%s", "none");
    } else {
        hexbits(a, sizeof a, f, f->nan_bits);
        hexbits(b, sizeof b, f, f->nan_bits | f->sign_mask);
        if (json)
            k = add(L, k, "nan_bits", "NaN encoding", 0, "%s", a);
        else if (f->specials == NR_SPECIALS_IEEE)
            k = add(L, k, "nan_bits", "NaN encoding", 0,
                    "%s canonical (any all-ones exponent with nonzero mantissa, either sign)",
                    a);
        else if (f->specials == NR_SPECIALS_FN)
            k = add(L, k, "nan_bits", "NaN encoding", 0, "%s canonical, also %s", a, b);
        else
            k = add(L, k, "nan_bits", "NaN encoding", 0, "%s (the only NaN)", a);
    }
    hexbits(a, sizeof a, f, f->sign_mask);
    if (json)
        k = add(L, k, "negzero", "-0", 1, "%s", f->has_negzero ? "true" : "false");
    else if (f->has_negzero)
        k = add(L, k, "negzero", "-0", 0, "yes (%s)", a);
    else
        k = add(L, k, "negzero", "-0", 0, "no (%s is NaN)", a);
    return k;
}

static int describe_fixed(const nr_format *f, line *L, int k, int json)
{
    char a[40], b[40];
    k = add(L, k, "signed", "signed", 1, "%s",
            f->is_signed ? (json ? "true" : "yes (two's complement)") : (json ? "false" : "no"));
    k = add(L, k, "int_bits", "integer bits", 1, "%d", f->int_bits);
    k = add(L, k, "frac_bits", "fraction bits", 1, "%d", f->frac_bits);
    k = add_value(L, k, json, "max_finite", "largest", f->max_finite);
    k = add_value(L, k, json, "lowest", "lowest", f->lowest);
    k = add_value(L, k, json, "resolution", "resolution", f->epsilon);
    count_text(a, sizeof a, f->finite_count, json);
    k = add(L, k, "finite_count", "values", 1, "%s", a);
    hexbits(a, sizeof a, f, f->max_bits);
    hexbits(b, sizeof b, f, f->min_bits);
    k = add(L, k, "max_bits", "max encoding", 0, "%s", a);
    k = add(L, k, "min_bits", "min encoding", 0, "%s", b);
    if (!json && f->prec > 53)
        k = add(L, k, "note", "note", 0,
                "%d magnitude bits: decimal values above are the nearest doubles", f->prec);
    return k;
}

int cmd_format(int argc, char **argv)
{
    const char *name = NULL;
    format_opts o = {0};
    int rc = cli_opts_parse(&format_cmd, argc, argv, &o, &name);
    if (rc)
        return rc < 0 ? 0 : rc;
    int json = o.json;
    if (!name)
        return cli_usage("format", "missing FMT (e.g. 'numrep format e4m3')");

    if (nr_scaled_is_name(name))
        return cli_format_scaled(name, json);
    nr_format f;
    nr_err e = {0};
    if (nr_format_parse(name, &f, &e))
        return cli_error(&e);

    line L[48];
    int k = 0;
    char canon[96];
    nr_format_name(&f, canon, sizeof canon);
    k = add(L, k, "name", "name", 0, "%s", canon);
    k = add(L, k, "kind", "kind", 0, "%s", f.kind == NR_FLOAT ? "float" : "fixed");
    if (json) {
        k = add(L, k, "width", "width", 1, "%d", f.width);
        k = add(L, k, "container_bytes", "container", 1, "%d", f.container);
    } else {
        k = add(L, k, "width", "width", 0, "%d bits (container %d byte%s)", f.width, f.container,
                f.container == 1 ? "" : "s");
    }
    k = f.kind == NR_FLOAT ? describe_float(&f, L, k, json) : describe_fixed(&f, L, k, json);
    k = add(L, k, "overflow", "overflow", 0, "%s",
            json ? (f.saturate ? "saturate" : f.kind == NR_FIXED ? "wrap" : "inf")
                 : overflow_text(&f));

    if (json) {
        printf("{");
        for (int i = 0; i < k; i++) {
            printf(i ? ", " : "");
            cli_json_str(L[i].key);
            printf(": ");
            if (L[i].json_raw)
                fputs(L[i].val, stdout);
            else
                cli_json_str(L[i].val);
        }
        printf("}\n");
    } else {
        for (int i = 0; i < k; i++)
            printf("%-19s %s\n", L[i].label, L[i].val);
    }
    return ferror(stdout) ? 1 : 0;
}
