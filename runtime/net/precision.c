/* precision.c -- precision YAML (or `-p FMT`) -> nr_precision: a format
 * for each role (weights, activations, products, accumulator), a rounding
 * mode and a MAC mode, as a default plus per-layer overrides.  `same`
 * means the layer's weights format; it is resolved after an override is
 * merged (nr_precision_layer), so overriding a layer's weights also moves
 * the roles that follow them.  Override names are checked against the
 * network in model.c, which knows the layers. */
#include "model.h"
#include "yaml_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const role_names[] = {"weights", "activations", "products", "accumulator"};
#define ROLE_KEYS "weights activations products accumulator rounding mac promote nonlinear"

static nr_format *role_fmt(nr_layer_prec *p, int r)
{
    nr_format *f[] = {&p->weights, &p->activations, &p->products, &p->accumulator};
    return f[r];
}

/* A format: a name, `same`, or a long-form mapping (one level of nesting,
 * flattened to "fixed.int" etc. for nr_format_from_pairs). */
static int parse_format(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where,
                        int allow_same, nr_format *out, int *is_same, nr_err *err)
{
    nr_err e = {0};
    int rc;
    *is_same = 0;
    if (n->kind == NR_YAML_SCALAR) {
        if (!n->quoted && !strcmp(n->text, "same")) {
            if (!allow_same)
                return nr_yaml_err(d, n, NR_ESYNTAX, where, err,
                                   "the weights format cannot be `same`; expected a format "
                                   "name such as fp32 or e4m3");
            *is_same = 1;
            return 0;
        }
        rc = nr_format_parse(n->text, out, &e);
    } else if (n->kind == NR_YAML_MAP) {
        const char *keys[32], *vals[32];
        char kbuf[32][64];
        int k = 0;
        for (int i = 0; i < n->n; i++) {
            const nr_yaml_node *v = n->items[i];
            int nsub = v->kind == NR_YAML_MAP ? v->n : 1;
            for (int j = 0; j < nsub; j++) {
                const nr_yaml_node *leaf = v->kind == NR_YAML_MAP ? v->items[j] : v;
                if (leaf->kind != NR_YAML_SCALAR || k == 32) {
                    char got[64];
                    nr_yaml_describe(leaf, got, sizeof got);
                    return nr_yaml_err(d, leaf, NR_ESYNTAX, where, err,
                                       k == 32 ? "too many fields in a format"
                                               : "expected a scalar format field, got %s",
                                       got);
                }
                if (v->kind == NR_YAML_MAP)
                    snprintf(kbuf[k], sizeof kbuf[k], "%.30s.%.30s", n->keys[i]->text,
                             v->keys[j]->text);
                else
                    snprintf(kbuf[k], sizeof kbuf[k], "%.60s", n->keys[i]->text);
                keys[k] = kbuf[k];
                vals[k++] = leaf->text;
            }
        }
        rc = nr_format_from_pairs(keys, vals, k, out, &e);
    } else {
        return nr_yaml_err(d, n, NR_ESYNTAX, where, err,
                           "expected a format name, a format mapping or same, got a list");
    }
    if (rc) {
        /* nr_format_* knows what is wrong but not where: add the position */
        char w[96];
        snprintf(w, sizeof w, "%.40s%s%.50s", where, e.where[0] ? "." : "", e.where);
        return nr_yaml_err(d, n, e.code ? e.code : NR_ESYNTAX, w, err, "%s", e.msg);
    }
    return 0;
}

/* A scaled format ([scl-name]) for the weights or activations role: a
 * name (preset or ELEM@GRAN[:SCALE[:RULE]]) or the long form {element:
 * e2m1, block: 32, scale: e8m0, rule: floor} (nr_scaled_from_pairs).
 * *is_scaled = 0 when n is not meant as one. */
static int parse_scaled(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where,
                        nr_scaled *out, int *is_scaled, nr_err *err)
{
    nr_err e = {0};
    int rc;
    *is_scaled = 0;
    if (n->kind == NR_YAML_SCALAR) {
        if (n->quoted || !nr_scaled_is_name(n->text))
            return 0;
        rc = nr_scaled_parse(n->text, out, &e);
    } else if (n->kind == NR_YAML_MAP && nr_yaml_get(n, "element")) {
        const char *keys[8], *vals[8];
        if (n->n > 8)
            return nr_yaml_err(d, n, NR_ESYNTAX, where, err,
                               "too many fields: expected element, block or granularity, "
                               "scale, rule");
        for (int i = 0; i < n->n; i++) {
            const nr_yaml_node *v = n->items[i];
            if (v->kind != NR_YAML_SCALAR) {
                char got[64];
                nr_yaml_describe(v, got, sizeof got);
                return nr_yaml_err(d, v, NR_ESYNTAX, where, err,
                                   "%s: expected a single name or number, got %s",
                                   n->keys[i]->text, got);
            }
            keys[i] = n->keys[i]->text;
            vals[i] = v->text;
        }
        rc = nr_scaled_from_pairs(keys, vals, n->n, out, &e);
    } else {
        return 0;
    }
    if (rc) { /* it knows what is wrong, not where: add the position */
        char w[96];
        snprintf(w, sizeof w, "%.40s%s%.50s", where, e.where[0] ? "." : "", e.where);
        return nr_yaml_err(d, n, e.code ? e.code : NR_ESYNTAX, w, err, "%s", e.msg);
    }
    *is_scaled = 1;
    return 0;
}

/* One role mapping ({weights: ..., rounding: ...}) into p; *set gets the
 * NR_ROLE_* bits it names. */
static int parse_roles(const nr_yaml_doc *d, const nr_yaml_node *m, const char *where,
                       nr_layer_prec *p, unsigned *set, nr_err *err)
{
    int rc = nr_yaml_check_map(d, m, where, ROLE_KEYS, err);
    if (rc)
        return rc;
    char w[96];
    *set = 0;
    for (int r = 0; r < 4; r++) {
        const nr_yaml_node *n = nr_yaml_get(m, role_names[r]);
        if (!n)
            continue;
        snprintf(w, sizeof w, "%.80s.%s", where, role_names[r]);
        int same, scaled = 0;
        nr_scaled sc;
        if ((rc = parse_scaled(d, n, w, &sc, &scaled, err)))
            return rc;
        if (scaled && r >= 2)
            return nr_yaml_err(d, n, NR_ESYNTAX, w, err,
                               "%s cannot be a scaled format: scales belong to weights and "
                               "activations ([scl-dot-check]); expected a plain format such "
                               "as fp32",
                               role_names[r]);
        if (scaled && r == 1 && sc.gran == NR_GRAN_CHANNEL)
            return nr_yaml_err(d, n, NR_ESYNTAX, w, err,
                               "activations cannot be scaled per channel (a channel scale "
                               "belongs to a weight tensor's output channel); expected "
                               "tensor or a block (bN)");
        if (r < 2) {
            nr_scaled *dst = r ? &p->activations_scaled : &p->weights_scaled;
            memset(dst, 0, sizeof *dst);
            if (scaled) {
                *dst = sc;
                if (r == 0)
                    p->weights = sc.elem;
                else if ((rc = nr_format_parse("fp32", &p->activations, err)))
                    return rc;
                *set |= 1u << r;
                p->same &= ~(1u << r);
                continue;
            }
        }
        if ((rc = parse_format(d, n, w, r != 0, role_fmt(p, r), &same, err)))
            return rc;
        *set |= 1u << r;
        if (same)
            p->same |= 1u << r;
        else
            p->same &= ~(1u << r);
    }
    const nr_yaml_node *n = nr_yaml_get(m, "rounding");
    if (n) {
        snprintf(w, sizeof w, "%.80s.rounding", where);
        nr_err e = {0};
        if (n->kind != NR_YAML_SCALAR || nr_rounding_parse(n->text, &p->rounding, &e)) {
            char got[64];
            nr_yaml_describe(n, got, sizeof got);
            return nr_yaml_err(d, n, NR_ESYNTAX, w, err, "%s",
                               e.msg[0] ? e.msg : "expected a rounding mode name");
        }
        *set |= NR_ROLE_ROUNDING;
    }
    if ((n = nr_yaml_get(m, "mac"))) {
        snprintf(w, sizeof w, "%.80s.mac", where);
        if (n->kind != NR_YAML_SCALAR || nr_prec_mac_parse(n->text, &p->mac)) {
            char got[64];
            nr_yaml_describe(n, got, sizeof got);
            return nr_yaml_err(d, n, NR_ESYNTAX, w, err,
                               "expected unfused, fused, exact, block-fp32 or block-exact, "
                               "got %s",
                               got);
        }
        *set |= NR_ROLE_MAC;
    }
    if ((n = nr_yaml_get(m, "promote"))) {
        snprintf(w, sizeof w, "%.80s.promote", where);
        char *end = NULL;
        long k = n->kind == NR_YAML_SCALAR ? strtol(n->text, &end, 10) : -1;
        if (n->kind != NR_YAML_SCALAR || *end || !n->text[0] || k < 0 || k > 1 << 20) {
            char got[64];
            nr_yaml_describe(n, got, sizeof got);
            return nr_yaml_err(d, n, NR_ERANGE, w, err,
                               "expected the number of products per chunk, an integer from 1 "
                               "to 1048576 (0: off), got %s",
                               got);
        }
        p->promote = (int)k;
        *set |= NR_ROLE_PROMOTE;
    }
    return nr_precision_parse_nonlinear(d, m, where, p, set, err); /* precision_seq.c */
}

/* Roles written as `same` take the weights format.  Scaled weights
 * ([scl-dot-preset]): activations take the same scaled format (per tensor
 * for channel weights), products and accumulator fp32, as -p NAME does. */
static void resolve_same(nr_layer_prec *p)
{
    const nr_scaled *ws = &p->weights_scaled;
    for (int r = 1; r < 4; r++) {
        if (!(p->same & (1u << r)))
            continue;
        if (ws->gran == NR_GRAN_NONE) {
            *role_fmt(p, r) = p->weights;
            if (r == 1)
                memset(&p->activations_scaled, 0, sizeof p->activations_scaled);
            continue;
        }
        nr_err e = {0};
        nr_format_parse("fp32", role_fmt(p, r), &e); /* cannot fail */
        if (r == 1) {
            p->activations_scaled = *ws;
            if (ws->gran == NR_GRAN_CHANNEL)
                p->activations_scaled.gran = NR_GRAN_TENSOR;
        }
    }
}

static int default_prec(nr_layer_prec *p, nr_err *err)
{
    memset(p, 0, sizeof *p);
    int rc = nr_format_parse("fp32", &p->weights, err);
    p->same = NR_ROLE_ACTIVATIONS | NR_ROLE_PRODUCTS | NR_ROLE_ACCUMULATOR;
    p->rounding = NR_RND_RNE;
    p->mac = NR_MAC_UNFUSED;
    resolve_same(p);
    return rc;
}

static int parse_doc(const nr_yaml_doc *d, nr_precision *P, nr_err *err)
{
    const nr_yaml_node *root = d->root;
    int rc = nr_yaml_check_map(d, root, "", "default layers seed scales ops", err);
    if (rc)
        return rc;
    if ((rc = default_prec(&P->dflt, err)))
        return rc;
    const nr_yaml_node *n = nr_yaml_get(root, "default");
    unsigned set;
    if (n && (rc = parse_roles(d, n, "default", &P->dflt, &set, err)))
        return rc;
    resolve_same(&P->dflt);
    if (n) {
        P->dflt_line = n->line;
        P->dflt_col = n->col;
        char msg[256];
        if (nr_prec_check(&P->dflt, msg, sizeof msg))
            return nr_yaml_err(d, n, NR_ESYNTAX, "default", err, "%s", msg);
    }
    if ((n = nr_yaml_get(root, "seed"))) {
        /* 0 .. 2^64-1 as a decimal integer */
        const char *s = n->kind == NR_YAML_SCALAR ? n->text : "";
        char *end;
        int ok = s[0] >= '0' && s[0] <= '9' && strlen(s) <= 20;
        unsigned long long v = ok ? strtoull(s, &end, 10) : 0;
        if (!ok || *end || (strlen(s) == 20 && strcmp(s, "18446744073709551615") > 0)) {
            char got[64];
            nr_yaml_describe(n, got, sizeof got);
            return nr_yaml_err(d, n, NR_ESYNTAX, "seed", err,
                               "expected an integer in [0, 2^64-1], got %s", got);
        }
        P->seed = v;
    }
    if ((n = nr_yaml_get(root, "scales")) && (rc = nr_precision_parse_scales(d, n, P, err)))
        return rc; /* [scl-cal-file], precision_scales.c */
    if ((rc = nr_precision_parse_ops(d, nr_yaml_get(root, "ops"), P, err))) /* precision_seq.c */
        return rc;
    const nr_yaml_node *layers = nr_yaml_get(root, "layers");
    if (!layers)
        return 0;
    if (layers->kind != NR_YAML_MAP) {
        char got[64];
        nr_yaml_describe(layers, got, sizeof got);
        return nr_yaml_err(d, layers, NR_ESYNTAX, "layers", err,
                           "expected a mapping {LAYER: {role: format, ...}}, got %s", got);
    }
    P->overrides = calloc((size_t)layers->n + 1, sizeof *P->overrides);
    if (!P->overrides)
        return nr_err_set(err, NR_ENOMEM, d->path, 0, 0, "layers", "out of memory");
    for (int i = 0; i < layers->n; i++) {
        struct nr_prec_override *o = &P->overrides[i];
        const nr_yaml_node *key = layers->keys[i];
        char w[96];
        snprintf(w, sizeof w, "layers.%.80s", key->text);
        if ((rc = nr_yaml_string(d, key, w, o->layer, sizeof o->layer, err)))
            return rc;
        o->line = key->line;
        o->col = key->col;
        memset(&o->p, 0, sizeof o->p);
        if ((rc = parse_roles(d, layers->items[i], w, &o->p, &o->set, err)))
            return rc;
        P->noverrides = i + 1;
    }
    return 0;
}

static int from_doc(nr_yaml_doc *d, const char *path, nr_precision **out, nr_err *err)
{
    nr_precision *P = calloc(1, sizeof *P);
    if (!P) {
        nr_yaml_free(d);
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, "", "out of memory");
    }
    snprintf(P->path, sizeof P->path, "%s", path);
    int rc = parse_doc(d, P, err);
    nr_yaml_free(d);
    if (rc) {
        nr_precision_free(P);
        return rc;
    }
    *out = P;
    return 0;
}

int nr_precision_parse_string(const char *text, const char *path_for_messages,
                              nr_precision **out, nr_err *err)
{
    *out = NULL;
    const char *path = path_for_messages ? path_for_messages : "<string>";
    nr_yaml_doc *d;
    int rc = nr_yaml_parse(text, strlen(text), path, &d, err);
    return rc ? rc : from_doc(d, path, out, err);
}

int nr_precision_load(const char *path, nr_precision **out, nr_err *err)
{
    *out = NULL;
    nr_yaml_doc *d;
    int rc = nr_yaml_load(path, &d, err);
    return rc ? rc : from_doc(d, path, out, err);
}

int nr_precision_uniform(const nr_format *f, nr_precision **out, nr_err *err)
{
    *out = NULL;
    nr_precision *P = calloc(1, sizeof *P);
    if (!P)
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "-p", "out of memory");
    for (int r = 0; r < 4; r++)
        *role_fmt(&P->dflt, r) = *f;
    P->dflt.rounding = NR_RND_RNE;
    P->dflt.mac = NR_MAC_UNFUSED;
    *out = P;
    return 0;
}

int nr_precision_uniform_scaled(const nr_scaled *s, nr_precision **out, nr_err *err)
{
    nr_format f32;
    int rc = nr_format_parse("fp32", &f32, err);
    if (rc || (rc = nr_precision_uniform(&f32, out, err)))
        return rc;
    nr_layer_prec *p = &(*out)->dflt;
    p->weights = s->elem;
    p->weights_scaled = *s;
    p->activations_scaled = *s;
    p->mac = NR_MAC_BLOCK_FP32;
    if (s->gran == NR_GRAN_CHANNEL) { /* int8 hardware: exact integer sums, scaled once */
        p->activations_scaled.gran = NR_GRAN_TENSOR;
        p->mac = NR_MAC_BLOCK_EXACT;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int nr_precision_from_arg(const char *arg, nr_precision **out, nr_err *err)
{
    *out = NULL;
    if (!arg || !*arg)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "-p",
                          "expected a format name or a precision YAML file");
    if (access(arg, F_OK) == 0 || ends_with(arg, ".yaml") || ends_with(arg, ".yml"))
        return nr_precision_load(arg, out, err);
    nr_format f;
    nr_err e = {0};
    if (nr_scaled_is_name(arg)) {
        nr_scaled sc;
        if (nr_scaled_parse(arg, &sc, &e))
            return nr_err_set(err, e.code ? e.code : NR_ESYNTAX, NULL, 0, 0, "-p",
                              "%s (not a file either)", e.msg);
        return nr_precision_uniform_scaled(&sc, out, err);
    }
    if (nr_format_parse(arg, &f, &e))
        return nr_err_set(err, e.code ? e.code : NR_ESYNTAX, NULL, 0, 0, "-p",
                          "%s (not a file either)", e.msg);
    return nr_precision_uniform(&f, out, err);
}

void nr_precision_free(nr_precision *p)
{
    if (!p)
        return;
    free(p->overrides);
    free(p->scales);
    free(p->ops);
    free(p);
}

static void apply(const struct nr_prec_override *o, nr_layer_prec *p)
{
    for (int r = 0; r < 4; r++)
        if (o->set & (1u << r)) {
            *role_fmt(p, r) = *role_fmt((nr_layer_prec *)&o->p, r);
            p->same = (p->same & ~(1u << r)) | (o->p.same & (1u << r));
        }
    if (o->set & NR_ROLE_WEIGHTS)
        p->weights_scaled = o->p.weights_scaled;
    if (o->set & NR_ROLE_ACTIVATIONS)
        p->activations_scaled = o->p.activations_scaled;
    if (o->set & NR_ROLE_PROMOTE)
        p->promote = o->p.promote;
    if (o->set & NR_ROLE_ROUNDING)
        p->rounding = o->p.rounding;
    if (o->set & NR_ROLE_MAC)
        p->mac = o->p.mac;
    if (o->set & NR_ROLE_NONLINEAR) {
        p->nonlinear = o->p.nonlinear;
        p->nl_set = 1;
    }
}

void nr_precision_apply(const struct nr_prec_override *o, nr_layer_prec *p) { apply(o, p); }

int nr_precision_parse_roles(const nr_yaml_doc *d, const nr_yaml_node *m, const char *where,
                             nr_layer_prec *p, unsigned *set, nr_err *err)
{
    return parse_roles(d, m, where, p, set, err);
}

void nr_precision_layer(const nr_precision *p, const char *name, const char *alias,
                        nr_layer_prec *out)
{
    *out = p->dflt;
    for (int i = 0; i < p->noverrides; i++)
        if (!strcmp(p->overrides[i].layer, name))
            apply(&p->overrides[i], out);
    for (int i = 0; alias && alias[0] && i < p->noverrides; i++)
        if (!strcmp(p->overrides[i].layer, alias))
            apply(&p->overrides[i], out);
    resolve_same(out);
}

/* ---------------------------------------------------------------- MAC mode names */

static const char *const mac_names[NR_MAC_COUNT] = {
#define X(e, name) name,
    NR_MAC_MODES(X)
#undef X
};

const char *nr_prec_mac_name(nr_mac_mode m)
{
    return (unsigned)m < NR_MAC_COUNT ? mac_names[m] : "?";
}

int nr_prec_mac_parse(const char *s, nr_mac_mode *out)
{
    for (int i = 0; i < NR_MAC_COUNT; i++)
        if (!strcmp(s, mac_names[i])) {
            *out = (nr_mac_mode)i;
            return 0;
        }
    return -1;
}

void nr_precision_set_mode(nr_precision *p, const nr_rounding *rounding, const nr_mac_mode *mac)
{
    for (int i = -1; i < p->noverrides + p->nops; i++) {
        nr_layer_prec *l = i < 0                ? &p->dflt
                           : i < p->noverrides ? &p->overrides[i].p
                                               : &p->ops[i - p->noverrides].p;
        if (rounding)
            l->rounding = *rounding;
        if (mac)
            l->mac = *mac;
    }
}

/* ---------------------------------------------------------------- scaled roles */

int nr_prec_is_scaled(const nr_layer_prec *p)
{
    return p->weights_scaled.gran != NR_GRAN_NONE || p->activations_scaled.gran != NR_GRAN_NONE ||
           p->mac == NR_MAC_BLOCK_FP32 || p->mac == NR_MAC_BLOCK_EXACT || p->promote > 0;
}

int nr_prec_check(const nr_layer_prec *p, char *msg, size_t n)
{
    const nr_scaled *w = &p->weights_scaled, *a = &p->activations_scaled;
    int any = w->gran != NR_GRAN_NONE || a->gran != NR_GRAN_NONE;
    int block = p->mac == NR_MAC_BLOCK_FP32 || p->mac == NR_MAC_BLOCK_EXACT;
    nr_format f32;
    nr_err e = {0};
    if (a->gran == NR_GRAN_CHANNEL)
        snprintf(msg, n, "activations cannot be scaled per channel; expected tensor or a "
                         "block (bN)");
    else if (block && !any)
        snprintf(msg, n, "mac %s needs scaled weights or activations (e.g. mxfp8); with "
                         "plain formats use unfused, fused or exact",
                 nr_prec_mac_name(p->mac));
    else if (w->gran != NR_GRAN_NONE && w->rule == NR_RULE_STATIC)
        snprintf(msg, n, "weights cannot have rule static: their scales are computed when "
                         "the model is built; static is for calibrated activations");
    else if (p->mac == NR_MAC_BLOCK_FP32 &&
             (nr_format_parse("fp32", &f32, &e) || !nr_format_equal(&p->products, &f32) ||
              !nr_format_equal(&p->accumulator, &f32)))
        snprintf(msg, n, "mac block-fp32 sums in fp32: products and accumulator must be "
                         "fp32 (for other formats use block-exact, unfused or fused)");
    else if (p->promote > 0 && p->mac != NR_MAC_UNFUSED && p->mac != NR_MAC_FUSED)
        snprintf(msg, n, "promote: K chunks the sum of an unfused or fused mac; mac %s "
                         "already fixes how sums are formed",
                 nr_prec_mac_name(p->mac));
    else
        return 0;
    return -NR_ESYNTAX;
}
