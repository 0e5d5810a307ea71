#!/usr/bin/env bash
# cli_import_tx.sh -- `numrep import` of transformer exports ([onnx-seq],
# [onnx-fuse] in docs/semantics.md).
#
#  * the committed exports of tests/onnx/make_tx.py (torch.onnx.export of
#    TransformerEncoderLayer pre-/post-norm, GELU/ReLU, opset 17 with
#    LayerNormalization and opset 13 with the decomposed LayerNorm; a ViT
#    stem; a GPT-style causal block with RMSNorm, rotary embeddings and
#    SwiGLU; an MLP with the tanh GELU): imported, the spec's ops checked, `numrep emulate` at fp32
#    compared with PyTorch's outputs (tolerance of float summation), and
#    `numrep run` (the JIT) compared with the emulator bit for bit at fp32,
#    e4m3 and bf16 wherever the generator compiles the model's ops (a model
#    it refuses must be refused as "not in the generator");
#  * bad_headdim8 (attention scaled by 1/sqrt(8), which numrep's scale cannot
#    express exactly) and helper-built graphs (python3-onnx): each refused with
#    a message naming the node, its operator and why.
# Needs numpy for the comparisons (skipped without it); never torch.
# usage: bash cli_import_tx.sh path/to/numrep
set -u
BIN=${1:?usage: cli_import_tx.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
D=$SRC/tests/onnx/tx

PY=$(find_python numpy) || skip_all "python3 with numpy not found"

# compare LABEL GOT.npy WANT.npy: |a - b| <= 1e-5 + 1e-5 |b| per element
compare() {
    "$PY" - "$@" <<'EOF' && ok || bad "$1: outputs differ from PyTorch's"
import sys
import numpy as np
label, got, want = sys.argv[1:4]
a, b = np.load(got).astype(np.float64), np.load(want).astype(np.float64)
a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
assert a.shape == b.shape, (label, a.shape, b.shape)
err = np.abs(a - b) - (1e-5 + 1e-5 * np.abs(b))
if err.max() > 0:
    i = np.unravel_index(err.argmax(), a.shape)
    print("%s: at %s got %.9g want %.9g" % (label, i, a[i], b[i]))
    sys.exit(1)
EOF
}

# has_ops LABEL SPEC OP...: every op appears in the spec
has_ops() {
    local label=$1 spec=$2 op
    shift 2
    for op in "$@"; do
        grep -q "op: $op[,}]" "$spec" && ok || bad "$label: no $op layer in the spec"
    done
}

check_model() { # check_model NAME OP...
    local name=$1 spec=$tmp/$1/$1.yaml x=$D/$1.x.npy p out
    shift
    out=$("$BIN" import "$D/$name.onnx" -o "$tmp/$name" 2>&1) || { bad "$name: import: $out"; return; }
    has_ops "$name" "$spec" "$@"
    out=$("$BIN" emulate "$spec" --input "$x" -o "$tmp/$name.emu.npy" 2>&1) \
        || { bad "$name: emulate: $out"; return; }
    compare "$name" "$tmp/$name.emu.npy" "$D/$name.ref.npy"
    for p in fp32 e4m3 bf16; do
        "$BIN" emulate "$spec" -p $p --input "$x" -o "$tmp/$name.$p.emu.npy" >/dev/null 2>&1 \
            || { bad "$name: emulate -p $p"; continue; }
        if out=$("$BIN" run "$spec" -p $p --input "$x" -o "$tmp/$name.$p.jit.npy" 2>&1); then
            cmp -s "$tmp/$name.$p.emu.npy" "$tmp/$name.$p.jit.npy" && ok \
                || bad "$name: run -p $p differs from emulate"
        else
            case $out in
            *"not in the generator"*) ok; echo "note: $name: the JIT refuses it: $out" ;;
            *) bad "$name: run -p $p: $out" ;;
            esac
        fi
    done
    # e4m3 must actually change something (the precision reaches every layer)
    cmp -s "$tmp/$name.fp32.emu.npy" "$tmp/$name.e4m3.emu.npy" \
        && bad "$name: e4m3 gives the fp32 outputs" || ok
}

check_model enc_pre_gelu_17 layernorm linear slice heads scale matmul softmax_axis merge_heads add gelu
check_model enc_post_gelu_17 layernorm gelu matmul
check_model enc_pre_relu_13 layernorm relu matmul
check_model enc_post_relu_13 layernorm relu matmul softmax_axis
check_model vit_stem conv tokens pad add_const
check_model gpt_block rmsnorm rope causal_softmax silu mul matmul merge_heads
check_model mlp_gelu_tanh linear gelu
check_model tiny_lm embedding rmsnorm rope causal_softmax silu linear
check_model gpt_block_18 rmsnorm rope causal_softmax
check_model dyn_heads linear heads matmul softmax_axis merge_heads
grep -q "input: {shape: \[1, 1, 8\]}" "$tmp/tiny_lm/tiny_lm.yaml" && ok || bad "tiny_lm: the input is not [1, 1, 8] token ids"
grep -q "approximate: tanh" "$tmp/mlp_gelu_tanh/mlp_gelu_tanh.yaml" && ok || bad "tanh GELU not recognised"
grep -q "transpose_b: true" "$tmp/enc_pre_gelu_17/enc_pre_gelu_17.yaml" && ok || bad "Q K^T is not transpose_b"

# ---- refusals, each naming the node
expect_err() { # expect_err LABEL WANT MODEL
    local out
    rm -rf "$tmp/err"
    out=$("$BIN" import "$3" -o "$tmp/err" 2>&1)
    [ $? -eq 1 ] && ok || bad "$1: exit status"
    case $out in *"$2"*) ok ;; *) bad "$1: '$out' lacks '$2'" ;; esac
    [ ! -e "$tmp/err/err.yaml" ] && ok || bad "$1: spec written despite the error"
}
expect_err headdim8 'node 30 "/self_attn/Div_1": Div: division by 2.82842708' "$D/bad_headdim8.onnx"

OPY=$(find_python onnx,numpy) || OPY=
if [ -z "$OPY" ]; then
    finish "helper-built bad graphs: python3 with onnx not found"
fi
"$OPY" - "$tmp" <<'EOF' || bad "building the bad graphs failed"
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
out = sys.argv[1]
def save(name, nodes, inits=(), shape=(1, 8, 32), opset=17):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), "%s/%s.onnx" % (out, name))
save("erf", [helper.make_node("Erf", ["x"], ["y"], name="erf")])
save("smax1", [helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1)])
save("layout", [helper.make_node("Transpose", ["x"], ["t"], name="tr", perm=[0, 2, 1]),
                helper.make_node("MatMul", ["t", "w"], ["y"], name="mm")],
     [("w", np.ones((8, 4), np.float32))])
# a LayerNorm-like pattern with exponent 3: not fused, and ReduceMean alone is refused
save("ln_pow3", [helper.make_node("ReduceMean", ["x"], ["m"], name="rm", axes=[-1]),
                 helper.make_node("Sub", ["x", "m"], ["d"], name="sub"),
                 helper.make_node("Pow", ["d", "three"], ["p"], name="pow"),
                 helper.make_node("ReduceMean", ["p"], ["v"], name="rm2", axes=[-1]),
                 helper.make_node("Add", ["v", "eps"], ["ve"], name="add"),
                 helper.make_node("Sqrt", ["ve"], ["s"], name="sqrt"),
                 helper.make_node("Div", ["d", "s"], ["y"], name="div")],
     [("three", np.float32(3)), ("eps", np.float32(1e-5))])
# a mask that is not causal (the lower triangle masked)
s = (1, 8, 8)
save("notcausal", [helper.make_node("Where", ["mask", "ninf", "x"], ["w"], name="where"),
                   helper.make_node("Softmax", ["w"], ["y"], name="sm", axis=-1)],
     [("mask", np.tril(np.ones((8, 8), bool), -1)), ("ninf", np.float32(-np.inf))], shape=s)
# token ids (int64 [N, T]) read other than as Gather's indices of a table
def save_ids(name, nodes, inits=(), shape=(1, 8)):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("ids", TensorProto.INT64, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), "%s/%s.onnx" % (out, name))
emb = ("emb", np.ones((20, 32), np.float32))
save_ids("ids_rank3", [helper.make_node("Gather", ["emb", "ids"], ["y"], name="g")], [emb], shape=(1, 8, 2))
save_ids("ids_add", [helper.make_node("Gather", ["emb", "ids"], ["e"], name="g"),
                     helper.make_node("Add", ["ids", "ids"], ["y"], name="addids")], [emb])
save_ids("ids_axis1", [helper.make_node("Gather", ["emb", "ids"], ["y"], name="g1", axis=1)], [emb])
save_ids("ids_table3", [helper.make_node("Gather", ["emb3", "ids"], ["y"], name="g3")],
         [("emb3", np.ones((20, 4, 8), np.float32))])
save_ids("ids_data", [helper.make_node("Gather", ["ids", "idx"], ["y"], name="gd")],
         [("idx", np.zeros(2, np.int64))])
EOF
expect_err ids_rank3 'graph input "ids": an integer input must be token ids [N, T], got rank 3' "$tmp/ids_rank3.onnx"
expect_err ids_add 'node 1 "addids": Add: operator Add on the token ids; only Gather of an embedding table' "$tmp/ids_add.onnx"
expect_err ids_axis1 'node 0 "g1": Gather: axis 1, expected 0 (rows of the embedding table)' "$tmp/ids_axis1.onnx"
expect_err ids_table3 'node 0 "g3": Gather: data [20, 4, 8], expected an embedding table [vocab, features]' "$tmp/ids_table3.onnx"
expect_err ids_data 'node 0 "gd": Gather: the token ids must be the indices (input 1), not the data' "$tmp/ids_data.onnx"
expect_err erf 'node 0 "erf": Erf: operator Erf on a sequence activation is not supported' "$tmp/erf.onnx"
expect_err smax1 'node 0 "sm": Softmax: along axis 1 of rank 3; only the last axis' "$tmp/smax1.onnx"
expect_err layout 'node 1 "mm": MatMul: the tensor [1, 32, 8] is a layout' "$tmp/layout.onnx"
expect_err ln_pow3 'node 0 "rm": ReduceMean: operator ReduceMean on a sequence activation' "$tmp/ln_pow3.onnx"
expect_err notcausal 'node 0 "where": Where: the mask is not causal at [0, 1]' "$tmp/notcausal.onnx"

finish
