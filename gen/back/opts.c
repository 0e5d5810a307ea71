/* opts.c -- options as a table (opts.h): finding a row by its long or
 * short name, and setting the value it names in the caller's options
 * struct, with the error a user reads when the value is bad.  No printing:
 * gen/cli/cli_opts.c turns argv and the errors into a command line. */
#include "opts.h"
#include "model.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gen_opts_parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || end == s || *end || *s == '-' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
        return -1;
    *v = x;
    return 0;
}

int gen_opts_parse_count(const char *s, long long lo, long long hi, long long *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

int gen_opts_parse_bytes(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    static const char units[] = "KMGT";
    const char *u = *end ? strchr(units, *end) : NULL;
    if (*end && (!u || end[1]))
        return -1;
    for (int k = u ? (int)(u - units) + 1 : 0; k > 0; k--) {
        if (x > UINT64_MAX / 1024)
            return -1;
        x *= 1024;
    }
    *v = x;
    return 0;
}

const gen_opt *gen_opts_find(const gen_opt *t, const char *name, char c, size_t *base)
{
    for (; t->kind != GEN_OPT_END; t++) {
        if (t->kind == GEN_OPT_TABLE) {
            size_t b = *base + t->off;
            const gen_opt *o = gen_opts_find(t->sub, name, c, &b);
            if (o) {
                *base = b;
                return o;
            }
        } else if (name ? t->name && !strcmp(t->name, name) : t->shrt && t->shrt == c) {
            return t;
        }
    }
    return NULL;
}

int gen_opts_takes(const gen_opt *t, const char *name)
{
    size_t b = 0;
    const gen_opt *o = gen_opts_find(t, name, 0, &b);
    return !o ? -1 : o->kind != GEN_OPT_FLAG;
}

/* The value's own check, by kind: 0, or -1 (a bad value). */
static int parse(const gen_opt *o, void *dst, const char *v, nr_err *err)
{
    switch ((gen_opt_kind)o->kind) {
    case GEN_OPT_FLAG:
        *(int *)dst = 1;
        return 0;
    case GEN_OPT_STR:
        *(const char **)dst = v;
        return 0;
    case GEN_OPT_CHARS:
        if (strlen(v) >= (size_t)o->hi) {
            nr_err_set(err, NR_ERANGE, NULL, 0, 0, "", "longer than %lld bytes", o->hi - 1);
            return -1;
        }
        memcpy(dst, v, strlen(v) + 1);
        return 0;
    case GEN_OPT_COUNT:
        return gen_opts_parse_count(v, o->lo, o->hi, dst);
    case GEN_OPT_INT:
    case GEN_OPT_I64: {
        long long x;
        if (gen_opts_parse_count(v, o->lo, o->hi, &x))
            return -1;
        if (o->kind == GEN_OPT_INT)
            *(int *)dst = (int)x;
        else
            *(int64_t *)dst = x;
        return 0;
    }
    case GEN_OPT_U64:
        return gen_opts_parse_u64(v, dst);
    case GEN_OPT_BYTES:
        return gen_opts_parse_bytes(v, dst);
    case GEN_OPT_CHOICE: {
        size_t n = strlen(v);
        int k = 0;
        for (const char *c = o->choices; c; k++) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && !strncmp(c, v, n)) {
                *(int *)dst = k;
                return 0;
            }
            c = bar ? bar + 1 : NULL;
        }
        return -1;
    }
    case GEN_OPT_FN:
        return o->fn(dst, v, err) ? -1 : 0;
    case GEN_OPT_END:
    case GEN_OPT_TABLE:
        break;
    }
    return -1;
}

int gen_opts_set(const gen_opt *o, void *base, const char *as, const char *value, nr_err *err)
{
    nr_err why = {0};
    if (o->kind != GEN_OPT_FLAG && !value)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "", "%s needs %s", as,
                          o->need ? o->need : "an argument");
    if (parse(o, (char *)base + o->off, value, &why)) {
        if (o->bad) {
            char msg[sizeof err->msg];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            snprintf(msg, sizeof msg, o->bad, as, value);
#pragma GCC diagnostic pop
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "", "%s", msg);
        }
        if (why.msg[0])
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, as, "%s", why.msg);
        if (o->attached) /* -O9: not one of the -O options */
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "", "unknown option %s%s", as, value);
        if (o->kind == GEN_OPT_CHOICE)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, as, "expected one of %s, got \"%s\"",
                              o->choices, value);
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, as, "bad value \"%s\"", value);
    }
    if (o->have)
        *(int *)((char *)base + o->have - 1) = 1;
    return 0;
}

int gen_opts_set_named(const gen_opt *t, void *base, const char *name, const char *value,
                      nr_err *err)
{
    size_t b = 0;
    char as[64];
    const gen_opt *o = gen_opts_find(t, name, 0, &b);
    snprintf(as, sizeof as, "--%s", name);
    if (!o)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, as, "unknown option");
    return gen_opts_set(o, (char *)base + b, as, value, err);
}

/* ------------------------------------------------------------ model options */

int gen_opts_rounding(void *dst, const char *v, nr_err *err)
{
    nr_err e = {0};
    if (nr_rounding_parse(v, dst, &e))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "", "%s", e.msg);
    return 0;
}

static int set_mac(void *dst, const char *v, nr_err *err)
{
    (void)err;
    return nr_prec_mac_parse(v, dst) ? -1 : 0;
}

static int set_seed(void *dst, const char *v, nr_err *err)
{
    (void)err;
    if (gen_opts_parse_u64(v, dst))
        return -1;
    if (!*(uint64_t *)dst) /* 0 counts as 1: random_seed 0 means no random weights */
        *(uint64_t *)dst = 1;
    return 0;
}

const gen_opt gen_opts_model[] = {
    {.name = "rounding", .kind = GEN_OPT_FN, .fn = gen_opts_rounding,
     .off = offsetof(nr_model_opts, rounding),
     .have = GEN_OPT_HAVE(nr_model_opts, set_rounding), .arg = "M",
     .help = "rounding mode of every layer: rne rna rz ru rd rto sr"},
    {.name = "mac", .kind = GEN_OPT_FN, .fn = set_mac, .off = offsetof(nr_model_opts, mac),
     .have = GEN_OPT_HAVE(nr_model_opts, set_mac), .arg = "M",
     .bad = "%s: expected unfused, fused, exact, block-fp32 or block-exact, got \"%s\"",
     .help = "MAC mode of every layer: unfused fused exact (block-fp32\n"
             "block-exact for scaled formats)"},
    {.name = "random-weights", .kind = GEN_OPT_FN, .fn = set_seed,
     .off = offsetof(nr_model_opts, random_seed), .arg = "S",
     .bad = "%s: expected an unsigned integer, got \"%s\"",
     .help = "deterministic random weights from seed S instead of the\n"
             "spec's weights file"},
    {.name = "max-memory", .kind = GEN_OPT_BYTES, .off = offsetof(nr_model_opts, max_memory),
     .arg = "B", .bad = "%s: expected BYTES (suffix K, M, G or T), got \"%s\"",
     .help = "refuse a model whose weights and activations need more\n"
             "than B bytes (suffix K, M, G, T; default half the RAM)"},
    {0}};
