/* onnx_seq_ids.c -- token ids as the network input ([onnx-ids] in
 * docs/semantics.md): an integer graph input [N, T] is the spec input
 * [1, 1, T] of token ids ([op-embedding]); a Gather of a constant table
 * [V, D] along axis 0 by it is an `embedding` layer [1, T, D].  Nothing
 * else may read the ids (the importer refuses it, naming the node). */
#include "onnx_internal.h"

#include <stdlib.h>
#include <string.h>

int onnx_seq_ids_input(ctx *c, const char *name, int T)
{
    val a = {.kind = V_ACT, .layer = -1, .rank = 3, .shape = {1, 1, T}, .seq = 1, .ids = 1,
             .nd = 2, .d = {1, T}, .st = {T, 1}};
    return onnx_def_val(c, name, &a);
}

/* The node's input i is the token ids. */
static int reads_ids(ctx *c, node *n, size_t i)
{
    int k = i < n->n_input && n->input[i][0] ? onnx_map_get(&c->vmap, n->input[i]) : -1;
    return k >= 0 && c->v[k].kind == V_ACT && c->v[k].ids;
}

static int gather(ctx *c, node *n)
{
    val *tab, *ids;
    int64_t axis;
    int rc;
    if ((rc = onnx_check_inputs(c, n, 2, 2)) || (rc = onnx_check_attrs(c, n, "axis")) ||
        (rc = onnx_only_first_output(c, n)) || (rc = onnx_attr_int(c, n, "axis", 0, &axis)))
        return rc;
    if (!reads_ids(c, n, 1) || reads_ids(c, n, 0))
        return onnx_err(c, NR_EUNSUP, "the token ids must be the indices (input 1), not the data");
    if ((rc = onnx_in_const(c, n, 0, "data (an embedding table)", 0, &tab)) ||
        (rc = onnx_get_in(c, n, 1, &ids)))
        return rc;
    if (axis != 0)
        return onnx_err(c, NR_EUNSUP, "axis %lld, expected 0 (rows of the embedding table)",
                        (long long)axis);
    if (tab->ndim != 2 || tab->dims[0] < 1 || tab->dims[1] < 1 || tab->dims[0] > MAX_DIM ||
        tab->dims[1] > MAX_DIM) {
        char a[96];
        return onnx_err(c, NR_EUNSUP, "data %s, expected an embedding table [vocab, features]",
                        onnx_dims_str(a, sizeof a, tab->dims, tab->ndim));
    }
    int V = (int)tab->dims[0], D = (int)tab->dims[1], T = ids->shape[2];
    float *wt;
    if ((rc = onnx_to_f32(c, tab, 1.0, "embedding table", &wt)))
        return rc;
    val *ins[1] = {ids};
    int li = onnx_new_layer(c, n, "embedding", ins, 1);
    rc = li < 0 ? li : onnx_lfield(c, &c->L[li], ", vocab: %d, out: %d", V, D);
    if (rc) {
        free(wt);
        return rc;
    }
    int64_t ws[2] = {V, D};
    if ((rc = onnx_add_tensor(c, &c->L[li], "weight", 2, ws, wt)))
        return rc;
    int sh[3] = {1, T, D};
    int64_t dims[3] = {ids->d[0], T, D};
    return onnx_seq_def(c, n->output[0], li, sh, 3, dims);
}

int onnx_seq_ids_convert(ctx *c, node *n, int *done)
{
    *done = 0;
    for (size_t i = 0; i < n->n_input; i++)
        if (reads_ids(c, n, i)) {
            *done = 1;
            if (!strcmp(n->op_type, "Gather"))
                return gather(c, n);
            char op[64];
            onnx_printable(op, sizeof op, n->op_type);
            return onnx_err(c, NR_EUNSUP, "operator %s on the token ids; only Gather of an "
                            "embedding table may read them ([op-embedding])", op);
        }
    return 0;
}
