/* model_seq_lm.c -- shapes and weight tensors of the causal language model
 * ops ([op-lm] in docs/semantics.md): embedding (token ids -> vectors),
 * rmsnorm, rope (rotary position embeddings), silu, mul (the SwiGLU
 * product of two activations) and causal_softmax.  model_seq.c calls these
 * for the ops it does not know. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int nr_model_seq_lm_is(nr_op op)
{
    switch (op) {
    case NR_OP_EMBEDDING: case NR_OP_RMSNORM: case NR_OP_ROPE: case NR_OP_SILU: case NR_OP_MUL:
    case NR_OP_CAUSAL_SOFTMAX:
        return 1;
    default:
        return 0;
    }
}

static int shape_err(char *msg, size_t n, const char *what, const int *s)
{
    snprintf(msg, n, "%s, got [%d, %d, %d]", what, s[0], s[1], s[2]);
    return NR_ESHAPE;
}

int nr_model_seq_lm_infer(const nr_layer_spec *P, nr_layer *L, const char **field, char *msg,
                    size_t n)
{
    const int *in = L->in_shape[0];
    int *out = L->out_shape;
    switch (P->op) {
    case NR_OP_EMBEDDING: /* [op-embedding] [1, 1, T] ids -> [1, T, out] */
        *field = "input";
        if (in[0] != 1 || in[1] != 1)
            return shape_err(msg, n, "embedding needs a [1, 1, T] input of token ids", in);
        out[0] = 1;
        out[1] = in[2];
        out[2] = P->out;
        return 0;
    case NR_OP_ROPE: /* [op-rope] [H, T, d], d even */
        if (in[2] % 2)
            return shape_err(msg, n, "rope needs an even number of features", in);
        return 0;
    case NR_OP_MUL: /* [op-mul] */
        *field = "inputs";
        if (memcmp(L->in_shape[0], L->in_shape[1], sizeof L->in_shape[0])) {
            const int *b = L->in_shape[1];
            snprintf(msg, n, "mul needs equal shapes, got [%d, %d, %d] and [%d, %d, %d]", in[0],
                     in[1], in[2], b[0], b[1], b[2]);
            return NR_ESHAPE;
        }
        return 0;
    case NR_OP_CAUSAL_SOFTMAX: /* [op-causal] scores [H, T, T] */
        if (in[1] != in[2])
            return shape_err(msg, n, "causal_softmax needs square [H, T, T] scores", in);
        return 0;
    default: /* rmsnorm silu: shape unchanged */
        return 0;
    }
}

int nr_model_seq_lm_tensors(const nr_layer *L, const char *suffix[2], int ndim[2],
                      int64_t shape[2][3])
{
    const int *in = L->in_shape[0];
    switch (L->op) {
    case NR_OP_EMBEDDING: /* [op-embedding] <layer>.weight [vocab, out] */
        suffix[0] = "weight";
        ndim[0] = 2;
        shape[0][0] = L->spec->vocab;
        shape[0][1] = L->spec->out;
        return 1;
    case NR_OP_RMSNORM: /* [op-rmsnorm] <layer>.weight [F] */
        suffix[0] = "weight";
        ndim[0] = 1;
        shape[0][0] = in[2];
        return 1;
    case NR_OP_ROPE: /* [op-rope] <layer>.cos, <layer>.sin [T, d/2] */
        for (int k = 0; k < 2; k++) {
            suffix[k] = k ? "sin" : "cos";
            ndim[k] = 2;
            shape[k][0] = in[1];
            shape[k][1] = in[2] / 2;
        }
        return 2;
    default:
        return 0;
    }
}

uint64_t nr_model_seq_lm_weight_count(const nr_layer *L)
{
    const char *sfx[2];
    int nd[2];
    int64_t sh[2][3];
    uint64_t total = 0;
    if (!nr_model_seq_lm_is(L->op))
        return 0;
    int k = nr_model_seq_lm_tensors(L, sfx, nd, sh);
    for (int i = 0; i < k; i++) {
        uint64_t c = 1;
        for (int d = 0; d < nd[i]; d++)
            c *= (uint64_t)sh[i][d]; /* each factor < 2^24 ([spec] BIG), at most two */
        total += c;
    }
    return total;
}

int nr_model_takes_ids(const nr_model *m)
{
    for (int li = 0; li < m->nlayers; li++)
        for (int i = 0; i < m->layers[li].ninputs; i++)
            if (m->layers[li].inputs[i] < 0 && m->layers[li].op == NR_OP_EMBEDDING)
                return 1;
    return 0;
}

int nr_model_lm_ids_vocab(const nr_model *m)
{
    int v = -1;
    for (int li = 0; li < m->nlayers; li++) {
        const nr_layer *L = &m->layers[li];
        for (int i = 0; i < L->ninputs; i++) {
            if (L->inputs[i] >= 0)
                continue;
            if (L->op != NR_OP_EMBEDDING)
                return 0;
            if (v < 0 || L->spec->vocab < v)
                v = L->spec->vocab;
        }
    }
    return v < 0 ? 0 : v;
}

int nr_model_lm_check_ids(const nr_model *m, const float *in, int n, int first, nr_err *err)
{
    size_t k = nr_shape_count(m->in_shape);
    int vocab = nr_model_lm_ids_vocab(m);
    for (int s = 0; s < n; s++)
        for (size_t i = 0; i < k; i++) { /* [op-embedding] ids, exact, checked */
            double v = (double)in[(size_t)s * k + i];
            if (!(v >= 0 && v < vocab && v == floor(v)))
                return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "input",
                                  "sample %d position %zu: token id %g is not an integer in "
                                  "[0, %d)", first + s, i, v, vocab);
        }
    return 0;
}
