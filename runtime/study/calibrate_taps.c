/* calibrate_taps.c -- the fp32 "tap" model of calibration
 * ([scl-cal-stats]): the target's network with every role fp32 (rne,
 * unfused), plus a flatten layer reading each calibrated tensor and a tree
 * of concats (at most 8 inputs each) joining them, in the calibration's
 * order, as the model's output.  Any engine (the JIT included) then yields
 * every calibrated tensor of a sample in one run.  Flatten and concat copy
 * values, and the taps read the tensors by the names the model keeps
 * (a folded batchnorm's name for a conv it was folded into), so the
 * original layers (and their batchnorm folding) are unchanged: checked
 * after the build. */
#include "calibrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A deep copy of s with room for extra more layers. */
static nr_spec *spec_copy(const nr_spec *s, int extra)
{
    nr_spec *c = malloc(sizeof *c);
    nr_layer_spec *l = calloc((size_t)s->nlayers + (size_t)extra, sizeof *l);
    if (!c || !l) {
        free(c);
        free(l);
        return NULL;
    }
    *c = *s;
    memcpy(l, s->layers, (size_t)s->nlayers * sizeof *l);
    c->layers = l;
    return c;
}

static nr_layer_spec *add_layer(nr_spec *s, nr_op op, const char *fmt, int i)
{
    nr_layer_spec *L = &s->layers[s->nlayers++];
    memset(L, 0, sizeof *L);
    snprintf(L->name, sizeof L->name, fmt, i);
    L->op = op;
    L->bias = -1;
    L->groups = 1;
    L->count_include_pad = 1;
    L->eps = 1e-5;
    return L;
}

/* The name a tensor is read by in the spec (a folded batchnorm's output). */
static const char *tensor_ref(const nr_model *m, int li)
{
    if (li < 0)
        return "input";
    const nr_layer *L = &m->layers[li];
    return L->folded_bn[0] ? L->folded_bn : L->name;
}

/* Every target layer is in the tap model with the same op, inputs' shapes
 * and batchnorm folding. */
static int same_layers(const nr_model *t, const nr_model *f, nr_err *err)
{
    for (int i = 0; i < t->nlayers; i++) {
        const nr_layer *a = &t->layers[i];
        int j = nr_model_find(f, a->name);
        const nr_layer *b = j >= 0 ? &f->layers[j] : NULL;
        if (!b || b->op != a->op || strcmp(b->folded_bn, a->folded_bn) ||
            memcmp(b->out_shape, a->out_shape, sizeof a->out_shape))
            return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "calibrate",
                              "layer %s differs in the fp32 tap model", a->name);
    }
    return 0;
}

int nr_calibrate_tap_model(const nr_model *target, const nr_calibration *c,
                           const nr_cal_opts *o, nr_model **out, size_t **offsets, nr_err *err)
{
    *out = NULL;
    *offsets = NULL;
    const int n = c->ntensors;
    nr_spec *s = spec_copy(target->spec, 2 * n + 8);
    size_t *off = malloc(((size_t)n + 1) * sizeof *off);
    nr_precision *p = NULL;
    nr_format f32;
    int rc = 0;
    if (!s || !off) {
        nr_spec_free(s);
        free(off);
        return nr_err_set(err, NR_ENOMEM, NULL, 0, 0, "calibrate", "out of memory");
    }
    /* taps, then concat levels of up to 8 until one layer is left */
    int first = s->nlayers, count = n;
    off[0] = 0;
    for (int i = 0; i < n; i++) {
        nr_layer_spec *L = add_layer(s, NR_OP_FLATTEN, "__calibrate_tap_%d", i);
        L->ninputs = 1;
        snprintf(L->inputs[0], sizeof L->inputs[0], "%s", tensor_ref(target, c->t[i].layer));
        const int *sh = c->t[i].layer < 0 ? target->in_shape
                                          : target->layers[c->t[i].layer].out_shape;
        off[i + 1] = off[i] + nr_shape_count(sh);
    }
    for (int level = 0; count > 1; level++) {
        int next = s->nlayers, made = 0;
        for (int i = 0; i < count; i += 8, made++) {
            nr_layer_spec *L = add_layer(s, NR_OP_CONCAT, "__calibrate_cat_%d", next + made);
            for (int k = i; k < count && k < i + 8; k++)
                snprintf(L->inputs[L->ninputs++], sizeof L->inputs[0], "%s",
                         s->layers[first + k].name);
        }
        first = next, count = made;
    }
    snprintf(s->output, sizeof s->output, "%s", s->layers[s->nlayers - 1].name);
    if ((rc = nr_format_parse("fp32", &f32, err)) || (rc = nr_precision_uniform(&f32, &p, err))) {
        nr_spec_free(s);
        free(off);
        return rc;
    }
    nr_model_opts mo;
    nr_model_opts_init(&mo);
    mo.weights_path = o->weights_path;
    mo.random_seed = o->random_seed;
    nr_model *m = NULL;
    if ((rc = nr_model_build_opts(s, p, &mo, &m, err)) || (rc = same_layers(target, m, err)) ||
        nr_shape_count(m->layers[m->output].out_shape) != off[n]) {
        if (!rc)
            rc = nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, "calibrate",
                            "tap model output has the wrong size");
        nr_model_free(m);
        free(off);
        return rc;
    }
    *out = m;
    *offsets = off;
    return 0;
}
