/* model_seq.c -- shapes and weight tensors of the sequence ops ([op-seq] in
 * docs/semantics.md): a sequence tensor [B, T, F] (batch of heads, tokens,
 * features) lives in the [C, H, W] slots of every other tensor, C-order,
 * so the existing ops (add, slice, concat, ...) work on it unchanged.
 * model.c calls these from its shape inference and weight binding. */
#include "model.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

int nr_model_op_is_seq(nr_op op)
{
    switch (op) {
    case NR_OP_TOKENS: case NR_OP_LINEAR: case NR_OP_MATMUL: case NR_OP_HEADS:
    case NR_OP_MERGE_HEADS: case NR_OP_LAYERNORM: case NR_OP_SOFTMAX_AXIS: case NR_OP_GELU:
    case NR_OP_SCALE: case NR_OP_ADD_CONST:
        return 1;
    default:
        return nr_model_seq_lm_is(op);
    }
}

/* [op-matmul] operand shapes -> output shape. */
static int infer_matmul(const nr_layer_spec *P, nr_layer *L, const char **field, char *msg,
                        size_t n)
{
    const int *a = L->in_shape[0], *b = L->in_shape[1];
    int M = P->trans_a ? a[2] : a[1], Ka = P->trans_a ? a[1] : a[2];
    int Kb = P->trans_b ? b[2] : b[1], N = P->trans_b ? b[1] : b[2];
    *field = "inputs";
    if (Ka != Kb) {
        snprintf(msg, n,
                 "matmul inner dimensions differ: a [%d, %d, %d]%s has %d, b [%d, %d, %d]%s "
                 "has %d",
                 a[0], a[1], a[2], P->trans_a ? " (transposed)" : "", Ka, b[0], b[1], b[2],
                 P->trans_b ? " (transposed)" : "", Kb);
        return NR_ESHAPE;
    }
    if (a[0] != b[0] && a[0] != 1 && b[0] != 1) {
        snprintf(msg, n, "matmul batch sizes %d and %d differ and neither is 1", a[0], b[0]);
        return NR_ESHAPE;
    }
    L->out_shape[0] = a[0] > b[0] ? a[0] : b[0];
    L->out_shape[1] = M;
    L->out_shape[2] = N;
    L->macs = (long long)L->out_shape[0] * M * N * Ka;
    return 0;
}

int nr_model_seq_infer(const nr_layer_spec *P, nr_layer *L, const char **field, char *msg, size_t n)
{
    const int *in = L->in_shape[0];
    int *out = L->out_shape;
    *field = NULL;
    memcpy(out, in, 3 * sizeof *out);
    switch (P->op) {
    case NR_OP_TOKENS: /* [C, H, W] -> [1, H*W, C] */
        out[0] = 1;
        out[1] = in[1] * in[2]; /* the element count is bounded by the model */
        out[2] = in[0];
        return 0;
    case NR_OP_LINEAR:
        out[2] = P->out;
        L->macs = (long long)in[0] * in[1] * in[2] * P->out;
        return 0;
    case NR_OP_MATMUL:
        return infer_matmul(P, L, field, msg, n);
    case NR_OP_HEADS:
        *field = "heads";
        if (in[0] != 1) {
            snprintf(msg, n, "heads needs a [1, T, F] input, got [%d, %d, %d]", in[0], in[1],
                     in[2]);
            return NR_ESHAPE;
        }
        if (in[2] % P->heads) {
            snprintf(msg, n, "heads %d must divide the features (%d)", P->heads, in[2]);
            return NR_ESHAPE;
        }
        out[0] = P->heads;
        out[2] = in[2] / P->heads;
        return 0;
    case NR_OP_MERGE_HEADS:
        out[0] = 1;
        out[2] = in[0] * in[2];
        if ((long long)in[0] * in[2] > INT_MAX) {
            snprintf(msg, n, "merged features %lld too many", (long long)in[0] * in[2]);
            return NR_ERANGE;
        }
        return 0;
    default: /* layernorm softmax_axis gelu scale add_const: shape unchanged */
        return nr_model_seq_lm_infer(P, L, field, msg, n);
    }
}

int nr_model_seq_tensors(const nr_layer *L, const char *suffix[2], int ndim[2], int64_t shape[2][3])
{
    const int *in = L->in_shape[0];
    if (L->op == NR_OP_LAYERNORM) { /* [op-layernorm] weight, bias over F */
        for (int k = 0; k < 2; k++) {
            suffix[k] = k ? "bias" : "weight";
            ndim[k] = 1;
            shape[k][0] = in[2];
        }
        return 2;
    }
    if (L->op == NR_OP_ADD_CONST) { /* [op-add-const] one tensor of the input's shape */
        suffix[0] = "weight";
        ndim[0] = 3;
        for (int d = 0; d < 3; d++)
            shape[0][d] = in[d];
        return 1;
    }
    return nr_model_seq_lm_tensors(L, suffix, ndim, shape);
}
