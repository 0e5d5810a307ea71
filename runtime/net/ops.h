/* ops.h -- the one list of layer ops.  Everything that switches on an op
 * (spec parser, shape inference, emulator, generator) takes its enum and
 * YAML name from here.
 *
 *   enum        yaml name         inputs  weights  mac
 *   inputs: number of inputs, -1 = two or more (concat) */
#ifndef NUMREP_OPS_H
#define NUMREP_OPS_H

#define NR_OP_LIST(X)                                   \
    X(CONV,           "conv",           1,  1, 1)      \
    X(DENSE,          "dense",          1,  1, 1)      \
    X(RELU,           "relu",           1,  0, 0)      \
    X(RELU6,          "relu6",          1,  0, 0)      \
    X(CLIP,           "clip",           1,  0, 0)      \
    X(MAXPOOL,        "maxpool",        1,  0, 0)      \
    X(AVGPOOL,        "avgpool",        1,  0, 0)      \
    X(GLOBAL_AVGPOOL, "global_avgpool", 1,  0, 0)      \
    X(BATCHNORM,      "batchnorm",      1,  1, 0)      \
    X(ADD,            "add",            2,  0, 0)      \
    X(CONCAT,         "concat",         -1, 0, 0)      \
    X(SLICE,          "slice",          1,  0, 0)      \
    X(PAD,            "pad",            1,  0, 0)      \
    X(FLATTEN,        "flatten",        1,  0, 0)      \
    X(LRN,            "lrn",            1,  0, 0)      \
    X(SOFTMAX,        "softmax",        1,  0, 0)      \
    X(DROPOUT,        "dropout",        1,  0, 0)      \
    /* sequence ops ([op-seq]): tensors [B, T, F] in the C, H, W slots */ \
    X(TOKENS,         "tokens",         1,  0, 0)      \
    X(LINEAR,         "linear",         1,  1, 1)      \
    X(MATMUL,         "matmul",         2,  0, 1)      \
    X(HEADS,          "heads",          1,  0, 0)      \
    X(MERGE_HEADS,    "merge_heads",    1,  0, 0)      \
    X(LAYERNORM,      "layernorm",      1,  1, 0)      \
    X(SOFTMAX_AXIS,   "softmax_axis",   1,  0, 0)      \
    X(GELU,           "gelu",           1,  0, 0)      \
    X(SCALE,          "scale",          1,  0, 0)      \
    X(ADD_CONST,      "add_const",      1,  1, 0)      \
    /* causal language models ([op-lm], model_seq_lm.c) */ \
    X(EMBEDDING,      "embedding",      1,  1, 0)      \
    X(RMSNORM,        "rmsnorm",        1,  1, 0)      \
    X(ROPE,           "rope",           1,  1, 0)      \
    X(SILU,           "silu",           1,  0, 0)      \
    X(MUL,            "mul",            2,  0, 0)      \
    X(CAUSAL_SOFTMAX, "causal_softmax", 1,  0, 0)

typedef enum {
#define X(e, name, nin, w, mac) NR_OP_##e,
    NR_OP_LIST(X)
#undef X
    NR_OP_COUNT
} nr_op;

#endif
