/* calibrate_write.c -- the calibrated precision file ([scl-cal-file]):
 * the target's precision (seed, default, overrides) with every calibrated
 * tensor's activations written with rule static, and `scales:`.  The text
 * is parsed back and every layer's resolved precision compared with what
 * it must be; a layer that differs (a `same` that would now resolve
 * otherwise) gets an override naming every role. */
#include "calibrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const roles[4] = {"weights", "activations", "products", "accumulator"};

static const nr_format *role_fmt(const nr_layer_prec *p, int r)
{
    const nr_format *f[] = {&p->weights, &p->activations, &p->products, &p->accumulator};
    return f[r];
}

/* The activations format a calibrated tensor has in the file. */
static nr_scaled static_of(const nr_scaled *s)
{
    nr_scaled t = *s;
    if (t.gran == NR_GRAN_TENSOR || t.scale == NR_SCALE_NV) /* nv: [scl-nv-static] */
        t.rule = NR_RULE_STATIC;
    return t;
}

/* One role mapping: the roles in mask (all: every role, resolved). */
static void put_roles(FILE *b, const nr_layer_prec *p, unsigned mask, int all)
{
    char name[128];
    const char *sep = "";
    fprintf(b, "{");
    for (int r = 0; r < 4; r++) {
        if (!(mask & (1u << r)))
            continue;
        const nr_scaled *s = r == 0 ? &p->weights_scaled : r == 1 ? &p->activations_scaled : NULL;
        if (s && s->gran != NR_GRAN_NONE) {
            nr_scaled t = r == 1 ? static_of(s) : *s;
            nr_scaled_name(&t, name, sizeof name);
        } else if (!all && (p->same & (1u << r))) {
            snprintf(name, sizeof name, "same");
        } else {
            nr_format_name(role_fmt(p, r), name, sizeof name);
        }
        fprintf(b, "%s%s: %s", sep, roles[r], name);
        sep = ", ";
    }
    if (mask & NR_ROLE_ROUNDING)
        fprintf(b, "%srounding: %s", sep, nr_format_rounding_name(p->rounding)), sep = ", ";
    if (mask & NR_ROLE_MAC)
        fprintf(b, "%smac: %s", sep, nr_prec_mac_name(p->mac)), sep = ", ";
    if (mask & NR_ROLE_PROMOTE)
        fprintf(b, "%spromote: %d", sep, p->promote);
    fprintf(b, "}");
}

static int prec_equal(const nr_layer_prec *a, const nr_layer_prec *b)
{
    for (int r = 0; r < 4; r++)
        if (!nr_format_equal(role_fmt(a, r), role_fmt(b, r)))
            return 0;
    const nr_scaled *s[4] = {&a->weights_scaled, &b->weights_scaled, &a->activations_scaled,
                             &b->activations_scaled};
    for (int i = 0; i < 4; i += 2)
        if (s[i]->gran != s[i + 1]->gran ||
            (s[i]->gran != NR_GRAN_NONE && !nr_scaled_equal(s[i], s[i + 1])))
            return 0;
    return a->rounding == b->rounding && a->mac == b->mac && a->promote == b->promote;
}

/* The text, with full overrides for the layers flagged in full[]. */
static void put_file(FILE *b, const nr_model *m, const nr_calibration *c, const char *header,
                     const unsigned char *full)
{
    const nr_precision *P = m->prec;
    if (header)
        fprintf(b, "%s", header);
    if (P->seed)
        fprintf(b, "seed: %llu\n", (unsigned long long)P->seed);
    fprintf(b, "default: ");
    unsigned all = 15u | NR_ROLE_ROUNDING | NR_ROLE_MAC | NR_ROLE_PROMOTE;
    nr_layer_prec d = P->dflt;
    if (d.activations_scaled.gran != NR_GRAN_NONE) /* written, not `same` */
        d.same &= ~(unsigned)NR_ROLE_ACTIVATIONS;
    put_roles(b, &d, all, 0);
    fprintf(b, "\n");
    int any = 0;
    for (int i = 0; i < P->noverrides; i++) {
        const struct nr_prec_override *o = &P->overrides[i];
        int li = nr_model_find(m, o->layer);
        if (li >= 0 && full[li])
            continue; /* written in full below */
        fprintf(b, "%s  %s: ", any++ ? "" : "layers:\n", o->layer);
        put_roles(b, &o->p, o->set, 0);
        fprintf(b, "\n");
    }
    for (int li = 0; li < m->nlayers; li++)
        if (full[li]) {
            fprintf(b, "%s  %s: ", any++ ? "" : "layers:\n", m->layers[li].name);
            put_roles(b, &m->layers[li].prec, all, 1);
            fprintf(b, "\n");
        }
    char mn[64];
    nr_cal_method_name(c->method, c->percentile, mn, sizeof mn);
    fprintf(b, "scales:  # %s over samples %lld..%lld: tensor: scale  # amax, threshold\n",
                  mn, (long long)c->first, (long long)(c->first + c->samples - 1));
    for (int t = 0; t < c->ntensors; t++) {
        const nr_cal_tensor *T = &c->t[t];
        int f32 = T->fmt.scale == NR_SCALE_FP32 || T->fmt.scale == NR_SCALE_NV; /* nv: s_t */
        fprintf(b, f32 ? "  %s: %.9g" : "  %s: %.17g", T->name, T->scale);
        fprintf(b, "  # %.6g, %.6g\n", T->amax, T->threshold);
    }
}

/* Layers whose precision the text resolves differently from m's (with
 * calibrated activations static) get full[li] = 1; returns how many. */
static int check_text(const nr_model *m, const char *text, unsigned char *full, nr_err *err)
{
    nr_precision *P2 = NULL;
    int rc = nr_precision_parse_string(text, "calibrated precision", &P2, err);
    if (rc)
        return rc;
    int bad = 0;
    for (int li = 0; li < m->nlayers; li++) {
        const nr_layer *L = &m->layers[li];
        nr_layer_prec want = L->prec, got;
        want.activations_scaled = static_of(&L->prec.activations_scaled);
        nr_precision_layer(P2, L->name, L->folded_bn, &got);
        if (!prec_equal(&want, &got) && !full[li])
            full[li] = 1, bad++;
    }
    nr_precision_free(P2);
    return bad;
}

char *nr_calibrate_yaml(const nr_model *m, const nr_calibration *c, const char *header,
                        nr_err *err)
{
    unsigned char *full = calloc((size_t)m->nlayers + 1, 1);
    if (!full) {
        nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibrate", "out of memory");
        return NULL;
    }
    for (int pass = 0; pass < 3; pass++) {
        char *text = NULL;
        size_t len = 0;
        FILE *b = open_memstream(&text, &len);
        if (b) {
            put_file(b, m, c, header, full);
            if (fclose(b))
                free(text), text = NULL;
        }
        if (!text) {
            nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibrate", "out of memory");
            break;
        }
        int bad = check_text(m, text, full, err);
        if (bad == 0) {
            free(full);
            return text;
        }
        free(text);
        if (bad < 0)
            break;
        if (pass == 2)
            nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "calibrate",
                       "the written precision does not resolve to the model's");
    }
    free(full);
    return NULL;
}
