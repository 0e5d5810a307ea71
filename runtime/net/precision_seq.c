/* precision_seq.c -- the precision roles and overrides the sequence ops
 * added ([op-prec] in docs/semantics.md): the `nonlinear` role (the format
 * nonlinear function results are rounded into; default: the layer's
 * activations format) and per-op-type overrides:
 *
 *   default: {weights: e4m3, activations: e4m3, nonlinear: bf16}
 *   ops:
 *     softmax_axis: bf16                      # every role of every softmax_axis
 *     layernorm: {activations: bf16, accumulator: fp32}
 *   layers: {fc: {weights: fp32}}
 *
 * A layer's precision is the default, then the override of its op type,
 * then its own override (precision.c's merge), then `same` resolved. */
#include "model.h"
#include "yaml_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nr_precision_parse_nonlinear(const nr_yaml_doc *d, const nr_yaml_node *m,
                                 const char *where, nr_layer_prec *p, unsigned *set,
                                 nr_err *err)
{
    const nr_yaml_node *n = nr_yaml_get(m, "nonlinear");
    if (!n)
        return 0;
    char w[128];
    snprintf(w, sizeof w, "%.80s.nonlinear", where);
    nr_err e = {0};
    if (n->kind != NR_YAML_SCALAR || nr_format_parse(n->text, &p->nonlinear, &e)) {
        char got[64];
        nr_yaml_describe(n, got, sizeof got);
        return nr_yaml_err(d, n, NR_ESYNTAX, w, err,
                           "expected a format name such as bf16 or fp32, got %s%s%s", got,
                           e.msg[0] ? ": " : "", e.msg);
    }
    p->nl_set = 1;
    *set |= NR_ROLE_NONLINEAR;
    return 0;
}

/* One `ops:` entry: a format name (every role) or a role mapping. */
static int parse_op_entry(const nr_yaml_doc *d, const nr_yaml_node *v, const char *w,
                          struct nr_prec_override *o, nr_err *err)
{
    memset(&o->p, 0, sizeof o->p);
    if (v->kind != NR_YAML_SCALAR)
        return nr_precision_parse_roles(d, v, w, &o->p, &o->set, err);
    nr_format f;
    nr_err e = {0};
    if (!v->quoted && nr_scaled_is_name(v->text)) { /* [scl-seq] as -p NAME for this op type */
        nr_scaled sc;
        nr_precision *u = NULL;
        if (nr_scaled_parse(v->text, &sc, &e))
            return nr_yaml_err(d, v, e.code ? e.code : NR_ESYNTAX, w, err, "%s", e.msg);
        int rc = nr_precision_uniform_scaled(&sc, &u, err);
        if (rc)
            return rc;
        o->p = u->dflt;
        nr_precision_free(u);
        o->set = NR_ROLE_WEIGHTS | NR_ROLE_ACTIVATIONS | NR_ROLE_PRODUCTS | NR_ROLE_ACCUMULATOR |
                 NR_ROLE_MAC;
        return 0;
    }
    if (nr_format_parse(v->text, &f, &e))
        return nr_yaml_err(d, v, NR_ESYNTAX, w, err,
                           "expected a format name (every role) or a mapping {role: format}: %s",
                           e.msg);
    o->p.weights = o->p.activations = o->p.products = o->p.accumulator = o->p.nonlinear = f;
    o->p.nl_set = 1;
    o->set = NR_ROLE_WEIGHTS | NR_ROLE_ACTIVATIONS | NR_ROLE_PRODUCTS | NR_ROLE_ACCUMULATOR |
             NR_ROLE_NONLINEAR;
    return 0;
}

int nr_precision_parse_ops(const nr_yaml_doc *d, const nr_yaml_node *ops, nr_precision *P,
                           nr_err *err)
{
    if (!ops)
        return 0;
    if (ops->kind != NR_YAML_MAP) {
        char got[64];
        nr_yaml_describe(ops, got, sizeof got);
        return nr_yaml_err(d, ops, NR_ESYNTAX, "ops", err,
                           "expected a mapping {OP: format or {role: format, ...}}, got %s",
                           got);
    }
    P->ops = calloc((size_t)ops->n + 1, sizeof *P->ops);
    if (!P->ops)
        return nr_err_set(err, NR_ENOMEM, d->path, 0, 0, "ops", "out of memory");
    for (int i = 0; i < ops->n; i++) {
        struct nr_prec_override *o = &P->ops[i];
        const nr_yaml_node *key = ops->keys[i];
        char w[128];
        snprintf(w, sizeof w, "ops.%.80s", key->text);
        nr_op op;
        if (key->kind != NR_YAML_SCALAR || nr_spec_op_parse(key->text, &op)) {
            char list[512];
            nr_strbuf ls = nr_strbuf_on(list, sizeof list);
            for (int k = 0; k < NR_OP_COUNT; k++)
                nr_strbuf_add(&ls, "%s%s", k ? " " : "", nr_spec_op_name((nr_op)k));
            return nr_yaml_err(d, key, NR_ESYNTAX, w, err, "unknown op (expected one of: %s)",
                               list);
        }
        snprintf(o->layer, sizeof o->layer, "%s", key->text);
        o->line = key->line;
        o->col = key->col;
        int rc = parse_op_entry(d, ops->items[i], w, o, err);
        if (rc)
            return rc;
        P->nops = i + 1;
    }
    return 0;
}

void nr_precision_layer_op(const nr_precision *p, const char *name, const char *alias, nr_op op,
                           nr_layer_prec *out)
{
    nr_precision q = *p; /* shallow: only the default differs */
    for (int i = 0; i < p->nops; i++)
        if (!strcmp(p->ops[i].layer, nr_spec_op_name(op)))
            nr_precision_apply(&p->ops[i], &q.dflt);
    nr_precision_layer(&q, name, alias, out);
    if (!out->nl_set) /* [op-prec] the nonlinear role follows the activations */
        out->nonlinear = out->activations;
}

int nr_precision_seq_scaled(nr_layer_prec *p, nr_op op, char *msg, size_t n)
{
    if (op != NR_OP_LINEAR && op != NR_OP_MATMUL)
        return 0;
    const char *name = nr_spec_op_name(op);
    nr_scaled *a = &p->activations_scaled;
    memset(&p->operands_scaled, 0, sizeof p->operands_scaled);
    if (a->gran != NR_GRAN_NONE) {
        if (a->rule == NR_RULE_STATIC) {
            snprintf(msg, n, "%s quantizes its activation operands dynamically ([scl-seq]); "
                             "rule static is for the per-tensor activations of conv and dense",
                     name);
            return -NR_ESYNTAX;
        }
        p->operands_scaled = *a; /* the operands, not the output (the fp32 carrier) */
        memset(a, 0, sizeof *a);
    }
    if (op == NR_OP_MATMUL) /* no weights: both operands take operands_scaled */
        memset(&p->weights_scaled, 0, sizeof p->weights_scaled);
    int block = p->mac == NR_MAC_BLOCK_FP32 || p->mac == NR_MAC_BLOCK_EXACT;
    if (block && p->weights_scaled.gran == NR_GRAN_NONE &&
        p->operands_scaled.gran == NR_GRAN_NONE) {
        snprintf(msg, n, "%s: mac %s needs scaled operands: %s (e.g. activations: mxfp8)", name,
                 nr_prec_mac_name(p->mac),
                 op == NR_OP_MATMUL ? "a matmul's operands take its activations role"
                                    : "scaled weights or activations");
        return -NR_ESYNTAX;
    }
    return 0;
}
