/* format_parse.c -- text -> nr_format: format names, the YAML long form,
 * and rounding-mode names.  Input is hostile: every malformed part gets a
 * message saying which part is wrong and what is allowed.  What the fields
 * mean (default bias, derived limits) is format.c's business; everything
 * built here goes through nr_format_finish().
 *
 * Name grammar (case-insensitive):
 *   name     := base modifier*
 *   base     := preset | "e" X "m" Y | "q" I "." F | "uq" I "." F
 *   modifier := "-b" ["+"|"-"] N      bias (any integer; e.g. -b7, -b-3)
 *             | "-nosub"              exponent field 0 is only +-0
 *             | "-ieee" | "-fn" | "-fnuz" | "-finite"   specials (one)
 *             | "-sat"                saturate on overflow
 *             | "-wrap"               fixed point only: wrap on overflow
 * Modifiers come in any order, each at most once.  A float preset takes
 * float modifiers (bf16-nosub), a fixed preset -wrap/-sat (int8-wrap).
 * A preset whose name is also an eXmY pattern (e4m3 = e4m3-fn, e3m2,
 * e2m3, e2m1 = -finite) keeps its specials unless a specials modifier is
 * given, which overrides them: e4m3-fnuz is e4m3 with fnuz specials, and
 * e4m3-ieee is the IEEE-style e4m3 with infinities.  The bias is the
 * default for the final exponent width and specials (so e4m3-fnuz has bias
 * 8) unless -b is given. */
#include "numrep.h"
#include "format_internal.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Numbers in names and long forms are bounded far beyond any valid value,
 * so arithmetic on them cannot overflow; nr_format_finish gives the exact
 * limits. */
#define BIG_LIMIT 100000

#define FLOAT_MODS "-b<N> -nosub -ieee -fn -fnuz -finite -sat"
#define FIXED_MODS "-wrap -sat"

static const char *const specials_names[] = {"ieee", "fn", "fnuz", "finite"};

static int lower(int c) { return tolower((unsigned char)c); }

/* Case-insensitive compare of s[0..n) with the NUL-terminated word w. */
static int word_eq(const char *s, size_t n, const char *w)
{
    if (strlen(w) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != lower(w[i]))
            return 0;
    return 1;
}

/* `where` for errors about a name: the text, shortened to fit. */
static void name_where(char *buf, size_t n, const char *name)
{
    size_t len = strlen(name);
    if (len > 60)
        snprintf(buf, n, "format \"%.56s...\"", name);
    else
        snprintf(buf, n, "format \"%s\"", name);
}

/* Parse an optionally signed decimal integer occupying all of s[0..n).
 * Magnitudes beyond BIG_LIMIT are clamped to BIG_LIMIT+1 (still "out of
 * range" for every caller) so no digit string can overflow.  Returns 0 on
 * success, -1 if s is not [+-]?digits. */
static int parse_int(const char *s, size_t n, int allow_sign, long *out)
{
    size_t i = 0;
    int neg = 0;
    if (allow_sign && i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return -1;
    long v = 0;
    for (; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        if (v <= BIG_LIMIT)
            v = v * 10 + (s[i] - '0');
    }
    if (v > BIG_LIMIT)
        v = BIG_LIMIT + 1;
    *out = neg ? -v : v;
    return 0;
}

/* Length of the run of digits at s. */
static size_t digits(const char *s)
{
    size_t n = 0;
    while (isdigit((unsigned char)s[n]))
        n++;
    return n;
}

/* Run nr_format_finish, re-labelling its error with our `where`. */
static int finish(nr_format *f, const char *where, nr_err *err)
{
    nr_err tmp = {0};
    int rc = nr_format_finish(f, &tmp);
    if (rc)
        return nr_err_set(err, tmp.code, NULL, 0, 0, where, "%s", tmp.msg);
    return 0;
}

/* ---------------------------------------------------------------- names */

/* What the modifiers asked for; -1 = not given. */
typedef struct mods {
    long bias;
    int has_bias;
    int nosub;
    int specials;
    int sat;
    int wrap;
    char specials_text[16]; /* as written, for conflict messages */
} mods;

/* Parse the base s[0..n) (text before the first '-') into f's user fields.
 * Sets *preset to 1 if it was a preset. */
static int parse_base(const char *s, size_t n, const char *where, nr_format *f,
                      int *preset, nr_err *err)
{
    for (int i = 0; i < nr_format_preset_count(); i++)
        if (word_eq(s, n, nr_format_preset_name(i))) {
            nr_err tmp = {0};
            if (nr_format_preset(i, f, &tmp)) /* presets are valid: our bug */
                return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, where, "preset: %s", tmp.msg);
            *preset = 1;
            return 0;
        }
    *preset = 0;
    memset(f, 0, sizeof *f);
    if (n == 0)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                          "missing base format before the first \"-\"; expected eXmY, qI.F, "
                          "uqI.F or a preset");
    const char *p = s, *end = s + n;
    if (lower(*p) == 'e') {
        size_t dx = digits(p + 1);
        if (dx == 0)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "expected exponent bits after \"e\" (eXmY, e.g. e5m2)");
        const char *m = p + 1 + dx;
        if (m >= end || lower(*m) != 'm')
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "expected \"m\" and mantissa bits after \"%.*s\" (eXmY, e.g. e5m2)",
                              (int)(m - s), s);
        size_t dy = digits(m + 1);
        if (dy == 0)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "expected mantissa bits after \"%.*s\" (eXmY, e.g. e5m2)",
                              (int)(m + 1 - s), s);
        const char *q = m + 1 + dy;
        if (q < end)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "unexpected \"%.*s\" after \"%.*s\"; modifiers start with \"-\"",
                              (int)(end - q), q, (int)(q - s), s);
        long x, y;
        parse_int(p + 1, dx, 0, &x);
        parse_int(m + 1, dy, 0, &y);
        if (x < 1 || x > 11)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                              "exponent bits %.*s out of range; allowed 1..11", (int)dx, p + 1);
        if (y > 52)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                              "mantissa bits %.*s out of range; allowed 0..52", (int)dy, m + 1);
        f->kind = NR_FLOAT;
        f->exp_bits = (int)x;
        f->man_bits = (int)y;
        f->subnormals = 1;
        f->specials = NR_SPECIALS_IEEE;
        f->bias = nr_format_default_bias(f->exp_bits, f->specials);
        return 0;
    }
    int is_signed = 1;
    if (lower(*p) == 'u' && p + 1 < end && lower(p[1]) == 'q')
        is_signed = 0, p++;
    if (lower(*p) == 'q') {
        const char *kind = is_signed ? "qI.F, e.g. q7.8" : "uqI.F, e.g. uq8.8";
        size_t di = digits(p + 1);
        if (di == 0)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "expected integer bits after \"%.*s\" (%s)", (int)(p + 1 - s), s,
                              kind);
        const char *dot = p + 1 + di;
        if (dot >= end || *dot != '.')
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "expected \".\" and fraction bits after \"%.*s\" (%s)",
                              (int)(dot - s), s, kind);
        size_t df = digits(dot + 1);
        if (df == 0)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "expected fraction bits after \"%.*s\" (%s)", (int)(dot + 1 - s), s,
                              kind);
        const char *q = dot + 1 + df;
        if (q < end)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "unexpected \"%.*s\" after \"%.*s\"; modifiers start with \"-\"",
                              (int)(end - q), q, (int)(q - s), s);
        long I, F;
        parse_int(p + 1, di, 0, &I);
        parse_int(dot + 1, df, 0, &F);
        if (I > 64)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                              "integer bits %.*s out of range; allowed 0..64 (width at most 64)",
                              (int)di, p + 1);
        if (F > 64)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                              "fraction bits %.*s out of range; allowed 0..64 (width at most 64)",
                              (int)df, dot + 1);
        f->kind = NR_FIXED;
        f->int_bits = (int)I;
        f->frac_bits = (int)F;
        f->is_signed = is_signed;
        f->saturate = 1;
        return 0;
    }
    char list[160];
    nr_strbuf ls = nr_strbuf_on(list, sizeof list);
    for (int i = 0; i < nr_format_preset_count(); i++)
        nr_strbuf_add(&ls, "%s%s", i ? " " : "", nr_format_preset_name(i));
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                      "unknown format \"%.*s\"; expected eXmY, qI.F, uqI.F or a preset (%s)",
                      (int)(n > 40 ? 40 : n), s, list);
}

/* Set a flag modifier, rejecting duplicates. */
static int once(int *flag, const char *c, size_t n, const char *where, nr_err *err)
{
    if (*flag)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where, "duplicate modifier \"-%.*s\"",
                          (int)n, c);
    *flag = 1;
    return 0;
}

/* One modifier chunk c[0..n) (without its leading '-'). */
static int parse_mod(const char *c, size_t n, nr_kind kind, const char *where, mods *m,
                     nr_err *err)
{
    if (n == 0)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                          "empty modifier (\"-\" not followed by a name); allowed %s",
                          kind == NR_FLOAT ? FLOAT_MODS : FIXED_MODS);
    if (word_eq(c, n, "sat")) {
        if (m->wrap)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "conflicting modifiers \"-wrap\" and \"-sat\"; choose one");
        return once(&m->sat, c, n, where, err);
    }
    if (kind == NR_FIXED) {
        if (word_eq(c, n, "wrap")) {
            if (m->sat)
                return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                                  "conflicting modifiers \"-sat\" and \"-wrap\"; choose one");
            return once(&m->wrap, c, n, where, err);
        }
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                          "unknown modifier \"-%.*s\" for a fixed-point format; allowed " FIXED_MODS,
                          (int)(n > 40 ? 40 : n), c);
    }
    if (word_eq(c, n, "nosub"))
        return once(&m->nosub, c, n, where, err);
    for (int s = 0; s < 4; s++)
        if (word_eq(c, n, specials_names[s])) {
            if (m->specials == s)
                return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                                  "duplicate modifier \"-%s\"", specials_names[s]);
            if (m->specials >= 0)
                return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                                  "conflicting modifiers \"-%s\" and \"-%s\"; choose one of "
                                  "-ieee -fn -fnuz -finite",
                                  specials_names[m->specials], specials_names[s]);
            m->specials = s;
            return 0;
        }
    if (lower(c[0]) == 'b' && n > 1 && (isdigit((unsigned char)c[1]) || c[1] == '-' || c[1] == '+')) {
        if (m->has_bias)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "duplicate modifier -b (bias given twice)");
        long b;
        if (parse_int(c + 1, n - 1, 1, &b))
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "bad bias \"-%.*s\"; expected -b<N> with N an integer, "
                              "e.g. -b7 or -b-3",
                              (int)(n > 40 ? 40 : n), c);
        if (b > BIG_LIMIT || b < -BIG_LIMIT)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                              "bias %.*s out of range; allowed -%d..%d (and the format's "
                              "values must fit binary64)",
                              (int)(n - 1 > 40 ? 40 : n - 1), c + 1, BIG_LIMIT, BIG_LIMIT);
        m->has_bias = 1;
        m->bias = b;
        return 0;
    }
    if (word_eq(c, n, "b"))
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                          "modifier \"-b\" needs an integer bias, e.g. -b7 or -b-3");
    if (word_eq(c, n, "wrap"))
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                          "modifier \"-wrap\" is only for fixed-point formats; allowed for "
                          "floats " FLOAT_MODS);
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                      "unknown modifier \"-%.*s\"; allowed " FLOAT_MODS,
                      (int)(n > 40 ? 40 : n), c);
}

/* End of the modifier chunk starting at c (just after its '-').  A chunk
 * runs to the next '-', except that "-b-3" keeps the bias's sign. */
static const char *chunk_end(const char *c)
{
    const char *p = c;
    if (lower(p[0]) == 'b' && (p[1] == '-' || p[1] == '+'))
        p += 2;
    while (*p && *p != '-')
        p++;
    return p;
}

int nr_format_parse(const char *name, nr_format *out, nr_err *err)
{
    char where[96];
    if (!name)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "format", "missing format name");
    if (!*name)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "format",
                          "empty format name; expected eXmY, qI.F, uqI.F or a preset "
                          "such as fp16, bf16, e4m3, int8");
    for (const char *p = name; *p; p++)
        if (!isgraph((unsigned char)*p))
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "format",
                              "unexpected character 0x%02x at offset %d; format names are "
                              "letters, digits, \".\" and \"-\"",
                              (unsigned char)*p, (int)(p - name));
    name_where(where, sizeof where, name);

    const char *dash = strchr(name, '-');
    size_t nbase = dash ? (size_t)(dash - name) : strlen(name);
    nr_format f;
    int preset;
    int rc = parse_base(name, nbase, where, &f, &preset, err);
    if (rc)
        return rc;

    mods m = {.specials = -1};
    for (const char *p = dash; p && *p;) {
        const char *c = p + 1, *e = chunk_end(c);
        rc = parse_mod(c, (size_t)(e - c), f.kind, where, &m, err);
        if (rc)
            return rc;
        p = e;
    }

    if (f.kind == NR_FIXED) {
        if (m.wrap)
            f.saturate = 0;
    } else {
        if (m.nosub)
            f.subnormals = 0;
        /* A finite preset's saturation came with its specials, so it goes
         * with them when a specials modifier overrides (e3m2-ieee). */
        if (m.specials >= 0) {
            if (f.specials == NR_SPECIALS_FINITE)
                f.saturate = 0;
            f.specials = (nr_specials)m.specials;
        }
        if (m.sat)
            f.saturate = 1;
        f.bias = m.has_bias ? (int)m.bias : nr_format_default_bias(f.exp_bits, f.specials);
    }
    rc = finish(&f, where, err);
    if (rc)
        return rc;
    *out = f;
    return 0;
}

/* ---------------------------------------------------------------- long form */

enum {
    K_NAME, K_EXP, K_MAN, K_BIAS, K_SUB, K_SPECIALS, K_OVERFLOW,
    K_FINT, K_FFRAC, K_FSIGNED, K_FOVERFLOW, K_COUNT
};
static const char *const key_names[K_COUNT] = {
    "name", "exp", "man", "bias", "subnormals", "specials", "overflow",
    "fixed.int", "fixed.frac", "fixed.signed", "fixed.overflow",
};
#define ALLOWED_KEYS                                                                  \
    "name, exp, man, bias, subnormals, specials, overflow, fixed.int, fixed.frac, " \
    "fixed.signed, fixed.overflow"

static int is_fixed_key(int k) { return k >= K_FINT; }
static int is_float_key(int k) { return k >= K_EXP && k <= K_OVERFLOW; }

static int get_int(const char *key, const char *v, long lo, long hi, long *out, nr_err *err)
{
    long x;
    if (parse_int(v, strlen(v), 1, &x))
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, key,
                          "expected an integer, got \"%.60s\"", v);
    if (x < lo || x > hi)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, key, "%.40s out of range; allowed %ld..%ld",
                          v, lo, hi);
    *out = x;
    return 0;
}

static int get_bool(const char *key, const char *v, int *out, nr_err *err)
{
    size_t n = strlen(v);
    if (word_eq(v, n, "true") || word_eq(v, n, "yes"))
        return *out = 1, 0;
    if (word_eq(v, n, "false") || word_eq(v, n, "no"))
        return *out = 0, 0;
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, key,
                      "expected a boolean (true, false, yes, no), got \"%.60s\"", v);
}

/* Value v must be one of the NULL-terminated words; returns its index. */
static int get_word(const char *key, const char *v, const char *const *words, int *out,
                    nr_err *err)
{
    size_t n = strlen(v);
    char list[96];
    nr_strbuf ls = nr_strbuf_on(list, sizeof list);
    for (int i = 0; words[i]; i++) {
        if (word_eq(v, n, words[i]))
            return *out = i, 0;
        nr_strbuf_add(&ls, "%s%s", i ? ", " : "", words[i]);
    }
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, key, "expected one of %s, got \"%.60s\"",
                      list, v);
}

/* The long form's keys and values: v[k] = the value of key k (NULL when
 * absent); counts and first key of each family (float, fixed). */
typedef struct pairs {
    const char *v[K_COUNT];
    int nfloat, nfixed, first_float, first_fixed;
} pairs;

/* Step 1: every key known and given once, and not both families. */
static int collect_pairs(const char *const *keys, const char *const *vals, int n, pairs *p,
                         nr_err *err)
{
    if (n <= 0 || !keys || !vals)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "format",
                          "empty format mapping; expected name, or exp and man, or fixed.int "
                          "and fixed.frac");
    for (int i = 0; i < n; i++) {
        if (!keys[i] || !vals[i])
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "format",
                              "missing key or value in format mapping");
        int k = 0;
        while (k < K_COUNT && strcmp(keys[i], key_names[k]))
            k++;
        if (k == K_COUNT)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "format",
                              "unknown key \"%.60s\"; allowed " ALLOWED_KEYS, keys[i]);
        if (p->v[k])
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, key_names[k], "key given twice");
        p->v[k] = vals[i];
        if (is_float_key(k) && !p->nfloat++)
            p->first_float = k;
        if (is_fixed_key(k) && !p->nfixed++)
            p->first_fixed = k;
    }
    if (p->nfloat && p->nfixed)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, key_names[p->first_fixed],
                          "cannot mix fixed-point keys (fixed.*) with float key \"%s\"",
                          key_names[p->first_float]);
    return 0;
}

/* Step 2: the defaults, from name or the bare family; *named_bias_default:
 * the named format's bias is its default one (or there is no name). */
static int long_defaults(const pairs *p, nr_format *f, int *named_bias_default, nr_err *err)
{
    const char *const *v = p->v;
    memset(f, 0, sizeof *f);
    *named_bias_default = 1;
    if (v[K_NAME]) {
        nr_err tmp = {0};
        if (nr_format_parse(v[K_NAME], f, &tmp)) {
            char buf[400];
            nr_err_format(&tmp, buf, sizeof buf);
            return nr_err_set(err, tmp.code, NULL, 0, 0, "name", "%s", buf);
        }
        if (f->kind == NR_FLOAT && p->nfixed)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, key_names[p->first_fixed],
                              "\"%.40s\" is a float format; fixed.* keys do not apply",
                              v[K_NAME]);
        if (f->kind == NR_FIXED && p->nfloat)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, key_names[p->first_float],
                              "\"%.40s\" is a fixed-point format; use fixed.* keys",
                              v[K_NAME]);
        if (f->kind == NR_FLOAT)
            *named_bias_default = f->bias == nr_format_default_bias(f->exp_bits, f->specials);
    } else if (p->nfixed) {
        if (!v[K_FINT] || !v[K_FFRAC])
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "format",
                              "missing key \"%s\"; a fixed-point long form needs fixed.int "
                              "and fixed.frac",
                              v[K_FINT] ? "fixed.frac" : "fixed.int");
        f->kind = NR_FIXED;
        f->is_signed = 1;
        f->saturate = 1;
    } else {
        if (!v[K_EXP] || !v[K_MAN])
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "format",
                              "missing key \"%s\"; a float long form needs exp and man "
                              "(or name)",
                              v[K_EXP] ? "man" : "exp");
        f->kind = NR_FLOAT;
        f->subnormals = 1;
        f->specials = NR_SPECIALS_IEEE;
    }
    return 0;
}

/* Step 3, fixed point: the fixed.* keys over the defaults. */
static int long_fixed(const char *const *v, nr_format *f, nr_err *err)
{
    long x;
    int rc, b, w;
    if (v[K_FINT]) {
        if ((rc = get_int("fixed.int", v[K_FINT], 0, 64, &x, err)))
            return rc;
        f->int_bits = (int)x;
    }
    if (v[K_FFRAC]) {
        if ((rc = get_int("fixed.frac", v[K_FFRAC], 0, 64, &x, err)))
            return rc;
        f->frac_bits = (int)x;
    }
    if (v[K_FSIGNED]) {
        if ((rc = get_bool("fixed.signed", v[K_FSIGNED], &b, err)))
            return rc;
        f->is_signed = b;
    }
    if (v[K_FOVERFLOW]) {
        static const char *const ov[] = {"saturate", "wrap", NULL};
        if ((rc = get_word("fixed.overflow", v[K_FOVERFLOW], ov, &w, err)))
            return rc;
        f->saturate = w == 0;
    }
    return 0;
}

/* Step 3, float: the float keys over the defaults, then the bias. */
static int long_float(const char *const *v, int named_bias_default, nr_format *f, nr_err *err)
{
    long x;
    int rc, b, w;
    if (v[K_EXP]) {
        if ((rc = get_int("exp", v[K_EXP], 1, 11, &x, err)))
            return rc;
        f->exp_bits = (int)x;
    }
    if (v[K_MAN]) {
        if ((rc = get_int("man", v[K_MAN], 0, 52, &x, err)))
            return rc;
        f->man_bits = (int)x;
    }
    if (v[K_SUB]) {
        if ((rc = get_bool("subnormals", v[K_SUB], &b, err)))
            return rc;
        f->subnormals = b;
    }
    if (v[K_SPECIALS]) {
        static const char *const sp[] = {"ieee", "fn", "fnuz", "finite", NULL};
        if ((rc = get_word("specials", v[K_SPECIALS], sp, &w, err)))
            return rc;
        /* as in names: a finite format's saturation goes with its specials */
        if (f->specials == NR_SPECIALS_FINITE && !v[K_OVERFLOW])
            f->saturate = 0;
        f->specials = (nr_specials)w;
    }
    if (v[K_OVERFLOW]) {
        static const char *const ov[] = {"saturate", "inf", NULL};
        if ((rc = get_word("overflow", v[K_OVERFLOW], ov, &w, err)))
            return rc;
        if (w == 1 && f->specials == NR_SPECIALS_FINITE)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "overflow",
                              "\"inf\" is impossible with specials: finite (no infinity or "
                              "NaN; finite formats always saturate)");
        f->saturate = w == 0;
    }
    if (v[K_BIAS]) {
        if ((rc = get_int("bias", v[K_BIAS], -BIG_LIMIT, BIG_LIMIT, &x, err)))
            return rc;
        f->bias = (int)x;
    } else if (named_bias_default) {
        f->bias = nr_format_default_bias(f->exp_bits, f->specials);
    }
    return 0;
}

/* The long form.  Rules: a mapping is float (exp, man, bias, subnormals,
 * specials, overflow) or fixed (fixed.*), never both.  Without `name`,
 * exp+man (or fixed.int+fixed.frac) are required and the rest default as
 * in a bare name (bias default, subnormals, ieee, overflow inf; signed,
 * saturate).  With `name`, the name's fields are the defaults.  If `bias`
 * is absent, an explicit (non-default) bias from the name is kept;
 * otherwise the bias is the default for the final exp and specials. */
int nr_format_from_pairs(const char *const *keys, const char *const *vals, int n,
                         nr_format *out, nr_err *err)
{
    pairs p = {.first_float = -1, .first_fixed = -1};
    nr_format f;
    int named_bias_default, rc;
    if ((rc = collect_pairs(keys, vals, n, &p, err)) ||
        (rc = long_defaults(&p, &f, &named_bias_default, err)))
        return rc;
    rc = f.kind == NR_FIXED ? long_fixed(p.v, &f, err) : long_float(p.v, named_bias_default, &f, err);
    if (rc || (rc = finish(&f, "format", err)))
        return rc;
    *out = f;
    return 0;
}

/* ---------------------------------------------------------------- rounding */

static const char *const rounding_names[] = {
#define X(e, n, d) n,
    NR_ROUNDING_LIST(X)
#undef X
};

const char *nr_format_rounding_name(nr_rounding r)
{
    if ((unsigned)r >= NR_RND_COUNT)
        return "?";
    return rounding_names[r];
}

int nr_rounding_parse(const char *s, nr_rounding *out, nr_err *err)
{
    char list[64];
    nr_strbuf ls = nr_strbuf_on(list, sizeof list);
    for (int i = 0; i < NR_RND_COUNT; i++) {
        if (s && word_eq(s, strlen(s), rounding_names[i])) {
            *out = (nr_rounding)i;
            return 0;
        }
        nr_strbuf_add(&ls, "%s%s", i ? " " : "", rounding_names[i]);
    }
    if (!s || !*s)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "rounding",
                          "empty rounding mode; allowed %s", list);
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "rounding",
                      "unknown rounding mode \"%.60s\"; allowed %s", s, list);
}
