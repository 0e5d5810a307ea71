/* precision_scales.c -- the `scales:` section of a precision file
 * ([scl-cal-file]): calibrated static activation scales, one per tensor,
 * `NAME: VALUE` with NAME a layer (or `input`, the network input) and VALUE
 * a positive finite decimal or hexadecimal number.  Only the syntax is
 * checked here; model_scaled.c binds each scale to its tensor, checks the
 * value against the tensor's scale format and that every static tensor has
 * one ([scl-cal-use]). */
#include "model.h"
#include "yaml_doc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One value: the whole text a number, positive and finite as a double. */
static int parse_value(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where,
                       struct nr_prec_scale *s, nr_err *err)
{
    char got[64];
    nr_yaml_describe(n, got, sizeof got);
    if (n->kind != NR_YAML_SCALAR || n->quoted || !n->text[0])
        return nr_yaml_err(d, n, NR_ESYNTAX, where, err,
                           "expected a positive number (the tensor's calibrated scale), got %s",
                           got);
    char *end = NULL;
    errno = 0;
    double v = strtod(n->text, &end);
    if (*end)
        return nr_yaml_err(d, n, NR_ESYNTAX, where, err,
                           "expected a positive number (the tensor's calibrated scale), got %s",
                           got);
    if (!(v > 0) || !isfinite(v) || errno == ERANGE)
        return nr_yaml_err(d, n, NR_ERANGE, where, err,
                           "a scale must be positive and finite (and not underflow a double), "
                           "got %s",
                           got);
    s->value = v;
    s->value_f32 = strtof(n->text, &end);
    return 0;
}

int nr_precision_parse_scales(const nr_yaml_doc *d, const nr_yaml_node *n, nr_precision *P,
                              nr_err *err)
{
    if (n->kind != NR_YAML_MAP) {
        char got[64];
        nr_yaml_describe(n, got, sizeof got);
        return nr_yaml_err(d, n, NR_ESYNTAX, "scales", err,
                           "expected a mapping {TENSOR: scale} (a layer name or input), got %s",
                           got);
    }
    P->scales = calloc((size_t)n->n + 1, sizeof *P->scales);
    if (!P->scales)
        return nr_err_set(err, NR_ENOMEM, d->path, 0, 0, "scales", "out of memory");
    for (int i = 0; i < n->n; i++) {
        struct nr_prec_scale *s = &P->scales[i];
        const nr_yaml_node *key = n->keys[i];
        char w[128];
        snprintf(w, sizeof w, "scales.%.100s", key->text);
        int rc = nr_yaml_string(d, key, w, s->name, sizeof s->name, err);
        if (rc || (rc = parse_value(d, n->items[i], w, s, err)))
            return rc;
        s->line = n->items[i]->line;
        s->col = n->items[i]->col;
        P->nscales = i + 1;
    }
    return 0;
}

const struct nr_prec_scale *nr_precision_find_scale(const nr_precision *P, const char *name)
{
    for (int i = 0; name && name[0] && i < P->nscales; i++)
        if (!strcmp(P->scales[i].name, name))
            return &P->scales[i];
    return NULL;
}
