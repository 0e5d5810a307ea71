/* scaled.c -- the scaled-format descriptor: presets, names (parse and
 * canonical), validation of a combination, bits per element, and the scale
 * formats as values ([scl-name], [scl-group], [scl-scale] in
 * docs/semantics.md).  Converting a group is scaled_quant.c's job.
 *
 * Name grammar (case-insensitive):
 *   name  := preset | ELEM "@" GRAN [":" SCALE [":" RULE]]
 *   ELEM  := any nr_format_parse name of at most 16 bits (e2m1, int8, q1.6, ...)
 *   GRAN  := "tensor" | "channel" | "b" N          (N = 1..4096)
 *   SCALE := "fp32" | "e8m0" | "ue4m3" | "nv"      (nv: NVFP4's ue4m3 x fp32)
 *   RULE  := "floor" | "rceil" | "ceil" | "even"   (e8m0)
 *          | "amax" | "amax-up"                    (fp32, ue4m3, nv)
 *          | "static"                              (fp32, e8m0, ue4m3 per tensor; nv:
 *                                                   its fp32 tensor scale calibrated)
 * SCALE defaults to e8m0 for blocks and fp32 otherwise; RULE to floor for
 * e8m0 and amax for the others. */
#include "scaled.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BLOCK 4096
#define MAX_ELEM_BITS 16
#define NAME_MAX_LEN 200

static const char *const gran_names[] = {"none", "tensor", "channel", "block"};
static const char *const scale_names[] = {"?", "fp32", "e8m0", "ue4m3", "nv"};
static const char *const rule_names[] = {"?",    "floor", "rceil",   "ceil",
                                         "even", "amax",  "amax-up", "static"};
#define NSCALES 4
#define NRULES 7

const char *nr_scaled_gran_name(nr_gran g)
{
    return (unsigned)g <= NR_GRAN_BLOCK ? gran_names[g] : "?";
}

const char *nr_scaled_scale_name(nr_scale_fmt f)
{
    return f >= NR_SCALE_FP32 && f <= NR_SCALE_NV ? scale_names[f] : "?";
}

const char *nr_scaled_rule_name(nr_scale_rule r)
{
    return r >= NR_RULE_FLOOR && r <= NR_RULE_STATIC ? rule_names[r] : "?";
}

/* ---------------------------------------------------------------- presets */

/* [scl-name] OCP MX v1.0 Table 1 (block 32, E8M0 scale) and NVFP4. */
static const struct scaled_preset {
    const char *name;
    const char *elem; /* nr_format_parse name */
    int block;
    nr_scale_fmt scale;
    nr_scale_rule rule;
} presets[] = {
    {"mxfp8", "e4m3", 32, NR_SCALE_E8M0, NR_RULE_FLOOR},
    {"mxfp8e5m2", "e5m2", 32, NR_SCALE_E8M0, NR_RULE_FLOOR},
    {"mxfp6e3m2", "e3m2", 32, NR_SCALE_E8M0, NR_RULE_FLOOR},
    {"mxfp6e2m3", "e2m3", 32, NR_SCALE_E8M0, NR_RULE_FLOOR},
    {"mxfp4", "e2m1", 32, NR_SCALE_E8M0, NR_RULE_FLOOR},
    {"mxint8", "q1.6", 32, NR_SCALE_E8M0, NR_RULE_FLOOR},
    {"nvfp4", "e2m1", 16, NR_SCALE_NV, NR_RULE_AMAX},
};
#define NPRESETS (int)(sizeof presets / sizeof presets[0])
/* other spellings of a preset (not canonical) */
static const struct { const char *alias, *name; } aliases[] = {{"mxfp8e4m3", "mxfp8"}};

static int preset_fill(int i, nr_scaled *out)
{
    nr_err tmp = {0};
    memset(out, 0, sizeof *out);
    if (nr_format_parse(presets[i].elem, &out->elem, &tmp))
        return -NR_EINTERNAL;
    out->gran = NR_GRAN_BLOCK;
    out->block = presets[i].block;
    out->scale = presets[i].scale;
    out->rule = presets[i].rule;
    return 0;
}

static int find_preset(const char *lname)
{
    for (size_t a = 0; a < sizeof aliases / sizeof aliases[0]; a++)
        if (!strcmp(lname, aliases[a].alias))
            lname = aliases[a].name;
    for (int i = 0; i < NPRESETS; i++)
        if (!strcmp(lname, presets[i].name))
            return i;
    return -1;
}

int nr_scaled_preset_count(void) { return NPRESETS; }
const char *nr_scaled_preset_name(int i)
{
    return i >= 0 && i < NPRESETS ? presets[i].name : NULL;
}

/* ---------------------------------------------------------------- validation */

static int elem_emax(const nr_format *f) { return ilogb(f->max_finite); }

int nr_scaled_emax_elem(const nr_scaled *s) { return elem_emax(&s->elem); }

/* Significant bits of the element's top binade (the precision "even"
 * rounds amax to): man_bits + 1 for floats, all magnitude bits for fixed. */
int nr_scaled_elem_prec(const nr_scaled *s) { return s->elem.prec; }

static int rule_allowed(nr_scale_fmt f, nr_scale_rule r)
{
    if (f == NR_SCALE_E8M0)
        return r == NR_RULE_FLOOR || r == NR_RULE_RCEIL || r == NR_RULE_CEIL ||
               r == NR_RULE_EVEN || r == NR_RULE_STATIC;
    return r == NR_RULE_AMAX || r == NR_RULE_AMAX_UP || r == NR_RULE_STATIC;
}

static const char *rules_for(nr_scale_fmt f)
{
    switch (f) {
    case NR_SCALE_E8M0: return "floor, rceil, ceil, even, static";
    default: return "amax, amax-up, static";
    }
}

/* Every constraint of a combination, whoever built the struct ([scl-name]). */
int nr_scaled_check(const nr_scaled *s, const char *where, nr_err *err)
{
    char en[64];
    if (!where)
        where = "scaled format";
    if (s->gran < NR_GRAN_TENSOR || s->gran > NR_GRAN_BLOCK)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                          "granularity: allowed tensor, channel, bN (a block of N)");
    if (s->gran == NR_GRAN_BLOCK && (s->block < 1 || s->block > MAX_BLOCK))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                          "block size %d out of range; allowed 1..%d", s->block, MAX_BLOCK);
    if (s->scale < NR_SCALE_FP32 || s->scale > NR_SCALE_NV)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                          "scale format: allowed fp32, e8m0, ue4m3, nv");
    if (!rule_allowed(s->scale, s->rule))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                          "rule \"%s\" is not a rule for %s scales; allowed %s",
                          nr_scaled_rule_name(s->rule), nr_scaled_scale_name(s->scale),
                          rules_for(s->scale));
    if (s->scale == NR_SCALE_NV && s->gran != NR_GRAN_BLOCK)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                          "scale nv (ue4m3 per block x fp32 per tensor) needs a block "
                          "granularity bN, not %s", nr_scaled_gran_name(s->gran));
    if (s->rule == NR_RULE_STATIC && s->gran != NR_GRAN_TENSOR && s->scale != NR_SCALE_NV)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                          "rule static (a calibrated scale) needs granularity tensor, or "
                          "scale nv (a calibrated fp32 tensor scale), not %s with %s",
                          nr_scaled_gran_name(s->gran), nr_scaled_scale_name(s->scale));
    if (s->elem.width > MAX_ELEM_BITS) {
        nr_format_name(&s->elem, en, sizeof en);
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                          "element %s is %d bits wide; scaled elements have at most %d bits",
                          en, s->elem.width, MAX_ELEM_BITS);
    }
    if (!(s->elem.max_finite > 0)) {
        nr_format_name(&s->elem, en, sizeof en);
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                          "element %s has no positive finite value to scale to", en);
    }
    return 0;
}

/* ---------------------------------------------------------------- parsing */

/* Index of word w[0..n) in names[lo..hi], or -1. */
static int lookup(const char *w, size_t n, const char *const *names, int lo, int hi)
{
    for (int i = lo; i <= hi; i++)
        if (strlen(names[i]) == n && !strncmp(w, names[i], n))
            return i;
    return -1;
}

static int parse_gran(const char *g, size_t n, const char *where, nr_scaled *s, nr_err *err)
{
    if (n == 6 && !strncmp(g, "tensor", 6)) {
        s->gran = NR_GRAN_TENSOR;
        return 0;
    }
    if (n == 7 && !strncmp(g, "channel", 7)) {
        s->gran = NR_GRAN_CHANNEL;
        return 0;
    }
    if (n >= 1 && g[0] == 'b') {
        size_t i = 1;
        long v = 0;
        while (i < n && isdigit((unsigned char)g[i])) {
            if (v <= MAX_BLOCK)
                v = v * 10 + (g[i] - '0');
            i++;
        }
        if (i == n && n > 1) {
            if (v < 1 || v > MAX_BLOCK)
                return nr_err_set(err, NR_ERANGE, NULL, 0, 0, where,
                                  "granularity \"%.*s\": block size out of range; allowed "
                                  "b1..b%d",
                                  (int)(n > 20 ? 20 : n), g, MAX_BLOCK);
            s->gran = NR_GRAN_BLOCK;
            s->block = (int)v;
            return 0;
        }
    }
    if (n == 0)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                          "missing granularity after \"@\"; allowed tensor, channel, bN "
                          "(a block of N = 1..%d)", MAX_BLOCK);
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                      "unknown granularity \"%.*s\"; allowed tensor, channel, bN (a block of "
                      "N = 1..%d, e.g. b32)",
                      (int)(n > 40 ? 40 : n), g, MAX_BLOCK);
}

static void preset_list(char *buf, size_t n)
{
    buf[0] = 0;
    for (int i = 0; i < NPRESETS; i++) {
        size_t k = strlen(buf);
        snprintf(buf + k, n - k, "%s%s", i ? " " : "", presets[i].name);
    }
}

int nr_scaled_is_name(const char *name)
{
    if (!name)
        return 0;
    if (strchr(name, '@'))
        return 1;
    char l[32];
    size_t n = strlen(name);
    if (n >= sizeof l)
        return 0;
    for (size_t i = 0; i <= n; i++)
        l[i] = (char)tolower((unsigned char)name[i]);
    return find_preset(l) >= 0;
}

int nr_scaled_parse(const char *name, nr_scaled *out, nr_err *err)
{
    char where[96], l[NAME_MAX_LEN + 1], plist[96];
    if (!name || !*name)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "scaled format",
                          "empty scaled format name; expected a preset or ELEM@GRAN[:SCALE[:RULE]]");
    size_t n = strlen(name);
    if (n > NAME_MAX_LEN)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "scaled format",
                          "name of %zu characters; at most %d", n, NAME_MAX_LEN);
    for (size_t i = 0; i < n; i++) {
        if (!isgraph((unsigned char)name[i]))
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "scaled format",
                              "unexpected character 0x%02x at offset %zu; scaled format names "
                              "are letters, digits and . - @ :",
                              (unsigned char)name[i], i);
        l[i] = (char)tolower((unsigned char)name[i]);
    }
    l[n] = 0;
    snprintf(where, sizeof where, "scaled format \"%.60s\"", name);
    preset_list(plist, sizeof plist);

    int p = find_preset(l);
    if (p >= 0)
        return preset_fill(p, out) ? nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, where,
                                                "preset does not parse")
                                   : 0;
    char *at = strchr(l, '@');
    if (!at)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                          "unknown scaled format; expected a preset (%s) or "
                          "ELEM@GRAN[:SCALE[:RULE]] (e.g. e2m1@b32:e8m0)",
                          plist);
    nr_scaled s;
    memset(&s, 0, sizeof s);
    /* element */
    *at = 0;
    if (!l[0])
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                          "missing element format before \"@\"; expected e.g. e2m1, e4m3, int8, "
                          "q1.6");
    nr_err tmp = {0};
    if (nr_format_parse(l, &s.elem, &tmp))
        return nr_err_set(err, tmp.code, NULL, 0, 0, where, "element: %s", tmp.msg);
    /* the parts after '@', split at ':' */
    const char *part[4] = {0};
    size_t plen[4] = {0};
    int np = 0;
    for (char *c = at + 1;; np++) {
        char *e = strchr(c, ':');
        if (np == 3)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "too many \":\" parts; expected ELEM@GRAN[:SCALE[:RULE]]");
        part[np] = c;
        plen[np] = e ? (size_t)(e - c) : strlen(c);
        if (!e) {
            np++;
            break;
        }
        c = e + 1;
    }
    if (strchr(at + 1, '@'))
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                          "more than one \"@\"; expected ELEM@GRAN[:SCALE[:RULE]]");
    int rc = parse_gran(part[0], plen[0], where, &s, err);
    if (rc)
        return rc;
    s.scale = s.gran == NR_GRAN_BLOCK ? NR_SCALE_E8M0 : NR_SCALE_FP32;
    if (np > 1) {
        int k = lookup(part[1], plen[1], scale_names, 1, NSCALES);
        if (k < 0)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "%s scale format \"%.*s\"; allowed fp32, e8m0, ue4m3, nv (NVFP4's "
                              "ue4m3 per block x fp32 per tensor)",
                              plen[1] ? "unknown" : "empty", (int)(plen[1] > 40 ? 40 : plen[1]),
                              part[1]);
        s.scale = (nr_scale_fmt)k;
    }
    s.rule = s.scale == NR_SCALE_E8M0 ? NR_RULE_FLOOR : NR_RULE_AMAX;
    if (np > 2) {
        int k = lookup(part[2], plen[2], rule_names, 1, NRULES);
        if (k < 0 && plen[2] == 2 && !strncmp(part[2], "up", 2))
            k = NR_RULE_AMAX_UP; /* the issue's and [scl-rule]'s short spelling */
        if (k < 0)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, where,
                              "%s scale rule \"%.*s\"; allowed for %s scales: %s",
                              plen[2] ? "unknown" : "empty", (int)(plen[2] > 40 ? 40 : plen[2]),
                              part[2], scale_names[s.scale], rules_for(s.scale));
        s.rule = (nr_scale_rule)k;
    }
    rc = nr_scaled_check(&s, where, err);
    if (rc)
        return rc;
    *out = s;
    return 0;
}

/* The YAML long form ([scl-name]): keys element (a format name), block (N:
 * a block of N), granularity (tensor, channel, block), scale, rule.  block
 * and granularity: block say the same; without either the granularity is
 * tensor.  Defaults and checks as in the general form. */
int nr_scaled_from_pairs(const char *const *keys, const char *const *vals, int n,
                         nr_scaled *out, nr_err *err)
{
    static const char *const knames[] = {"element", "granularity", "block", "scale", "rule"};
    const char *v[5] = {0};
    for (int i = 0; i < n; i++) {
        int k = -1;
        for (int j = 0; j < 5 && keys && keys[i]; j++)
            if (!strcmp(keys[i], knames[j]))
                k = j;
        if (k < 0 || !vals || !vals[i])
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "scaled format",
                              "unknown key \"%.40s\"; allowed element, granularity, block, "
                              "scale, rule", keys && keys[i] ? keys[i] : "");
        if (v[k])
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, knames[k], "key given twice");
        v[k] = vals[i];
    }
    if (!v[0])
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "scaled format",
                          "missing key \"element\" (the element format, e.g. e2m1)");
    char gran[24];
    if (v[2]) {
        if (v[1] && strcasecmp(v[1], "block"))
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "granularity",
                              "\"%.20s\" contradicts block: %.20s (a block granularity)", v[1],
                              v[2]);
        size_t k = strspn(v[2], "0123456789");
        if (k == 0 || v[2][k] || k > 6)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "block",
                              "expected a block size 1..%d, got \"%.20s\"", MAX_BLOCK, v[2]);
        snprintf(gran, sizeof gran, "b%s", v[2]);
    } else if (v[1] && !strcasecmp(v[1], "block")) {
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "granularity",
                          "granularity block needs the key block (its size, 1..%d)", MAX_BLOCK);
    } else {
        snprintf(gran, sizeof gran, "%.20s", v[1] ? v[1] : "tensor");
    }
    for (int k = 0; k < 5; k++)
        if (v[k] && strpbrk(v[k], "@:"))
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, knames[k],
                              "\"%.40s\": a value may not contain \"@\" or \":\"", v[k]);
    /* a rule without a scale: the general form's default scale goes between */
    int is_block = tolower((unsigned char)gran[0]) == 'b' && isdigit((unsigned char)gran[1]);
    const char *scale = v[3] ? v[3] : v[4] ? (is_block ? "e8m0" : "fp32") : NULL;
    char name[NAME_MAX_LEN + 1];
    int len = snprintf(name, sizeof name, "%s@%s%s%s%s%s", v[0], gran, scale ? ":" : "",
                       scale ? scale : "", v[4] ? ":" : "", v[4] ? v[4] : "");
    if (len < 0 || len >= (int)sizeof name)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "element", "value too long");
    return nr_scaled_parse(name, out, err);
}

/* ---------------------------------------------------------------- names */

int nr_scaled_equal(const nr_scaled *a, const nr_scaled *b)
{
    return a->gran == b->gran && (a->gran != NR_GRAN_BLOCK || a->block == b->block) &&
           a->scale == b->scale && a->rule == b->rule && nr_format_equal(&a->elem, &b->elem);
}

int nr_scaled_name(const nr_scaled *s, char *buf, size_t n)
{
    for (int i = 0; i < NPRESETS; i++) {
        nr_scaled p;
        if (preset_fill(i, &p) == 0 && nr_scaled_equal(&p, s))
            return snprintf(buf, n, "%s", presets[i].name);
    }
    char en[64], g[24];
    nr_format_name(&s->elem, en, sizeof en);
    if (s->gran == NR_GRAN_BLOCK)
        snprintf(g, sizeof g, "b%d", s->block);
    else
        snprintf(g, sizeof g, "%s", nr_scaled_gran_name(s->gran));
    return snprintf(buf, n, "%s@%s:%s:%s", en, g, nr_scaled_scale_name(s->scale),
                    nr_scaled_rule_name(s->rule));
}

/* ---------------------------------------------------------------- sizes, scale formats */

static int scale_bits(nr_scale_fmt f) { return f == NR_SCALE_FP32 ? 32 : 8; }

double nr_scaled_bits(const nr_scaled *s)
{
    double b = s->elem.width;
    if (s->gran == NR_GRAN_BLOCK && s->block > 0)
        b += (double)scale_bits(s->scale) / s->block; /* nv: the fp32 tensor scale counts 0 */
    return b;
}

static nr_format fmt_fp32, fmt_ue4m3;
static pthread_once_t scale_formats_once = PTHREAD_ONCE_INIT;

static void scale_formats_init(void)
{
    nr_format_parse("fp32", &fmt_fp32, NULL);
    nr_format_parse("e4m3", &fmt_ue4m3, NULL);
}

/* fp32 and ue4m3 as formats; ue4m3 is OCP E4M3 (max 448, NaN S.1111.111)
 * whose sign bit is always 0. */
const nr_format *nr_scaled_scale_format(nr_scale_fmt f)
{
    pthread_once(&scale_formats_once, scale_formats_init);
    switch (f) {
    case NR_SCALE_FP32: return &fmt_fp32;
    case NR_SCALE_UE4M3:
    case NR_SCALE_NV: return &fmt_ue4m3;
    default: return NULL; /* e8m0: 2^(bits - 127), see nr_scaled_scale_decode */
    }
}

double nr_scaled_scale_decode(nr_scale_fmt f, uint64_t bits)
{
    if (f == NR_SCALE_E8M0)
        return (bits & 0xFF) == 0xFF ? NAN : ldexp(1.0, (int)(bits & 0xFF) - 127);
    const nr_format *sf = nr_scaled_scale_format(f);
    return sf ? nr_decode(sf, bits) : NAN;
}
