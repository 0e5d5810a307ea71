#!/usr/bin/python3
"""make_tx.py -- transformer exports for tests/cli_import_tx.sh ([onnx-seq]).

Exports, with fixed seeds, small PyTorch modules with torch.onnx.export and
writes, per model NAME into OUTDIR (default tests/onnx/tx):
  NAME.onnx       the export (weights inside)
  NAME.x.npy      3 inputs, float32, [3, 1, T, F] (images: [3, C, H, W])
  NAME.ref.npy    PyTorch's fp32 outputs for them (eval mode)
The models: torch.nn.TransformerEncoderLayer pre-/post-norm, GELU/ReLU,
opset 17 (LayerNormalization) and 13 (decomposed LayerNorm); a ViT stem
(linear patch embedding as a strided Conv, class token, position
embeddings); an MLP with the tanh-approximated GELU; a GPT-style causal block (RMSNorm, rotary embeddings, SwiGLU);
and bad_headdim8, an encoder whose 1/sqrt(8) attention scaling numrep's
scale cannot express exactly (the importer must refuse it, naming the node).
The generated files are committed, so tests never need torch.
With --fuzz DIR it writes tiny versions (d_model 8, 4 tokens, no inputs)
as seeds of tests/fuzz/corpus/onnx.
usage: /usr/bin/python3 tests/onnx/make_tx.py [OUTDIR | --fuzz DIR]"""
import math
import os
import sys

import numpy as np
import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "tx")
T, D = 8, 32


def encoder(norm_first, act, heads=2):
    torch.manual_seed(1)
    m = torch.nn.TransformerEncoderLayer(D, heads, 2 * D, dropout=0.0, activation=act,
                                         batch_first=True, norm_first=norm_first)
    with torch.no_grad():  # non-trivial LayerNorm affine parameters
        for ln in (m.norm1, m.norm2):
            ln.weight.add_(0.1 * torch.randn(D))
            ln.bias.add_(0.1 * torch.randn(D))
    return m.eval()


class VitStem(torch.nn.Module):
    """x [N, 3, 16, 16] -> [N, 17, 32]: 4x4 patches, class token, positions."""
    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.proj = torch.nn.Conv2d(3, D, 4, stride=4)
        self.cls = torch.nn.Parameter(torch.randn(1, 1, D))
        self.pos = torch.nn.Parameter(0.1 * torch.randn(1, 17, D))

    def forward(self, x):
        t = self.proj(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(x.shape[0], -1, -1), t], dim=1)
        return t + self.pos


class MlpTanh(torch.nn.Module):
    """Linear -> GELU (tanh approximation) -> Linear."""
    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.a, self.b = torch.nn.Linear(D, 2 * D), torch.nn.Linear(2 * D, D)

    def forward(self, x):
        return self.b(torch.nn.functional.gelu(self.a(x), approximate="tanh"))


class RMSNorm(torch.nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(1 + 0.1 * torch.randn(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class GptBlock(torch.nn.Module):
    """Pre-norm causal block: RMSNorm, rotary (rotate-half), SwiGLU, 2 heads."""
    def __init__(self, heads=2):
        super().__init__()
        torch.manual_seed(3)
        self.h, self.dh = heads, D // heads
        self.n1, self.n2 = RMSNorm(D), RMSNorm(D)
        self.qkv = torch.nn.Linear(D, 3 * D, bias=False)
        self.out = torch.nn.Linear(D, D, bias=False)
        self.w1 = torch.nn.Linear(D, 2 * D, bias=False)
        self.w3 = torch.nn.Linear(D, 2 * D, bias=False)
        self.w2 = torch.nn.Linear(2 * D, D, bias=False)
        inv = 10000.0 ** (-torch.arange(0, self.dh, 2).float() / self.dh)
        ang = torch.arange(T).float()[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cat([ang.cos(), ang.cos()], -1))
        self.register_buffer("sin", torch.cat([ang.sin(), ang.sin()], -1))
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

    def rope(self, x):
        x1, x2 = x[..., : self.dh // 2], x[..., self.dh // 2:]
        return x * self.cos + torch.cat([-x2, x1], -1) * self.sin

    def forward(self, x):
        B = x.shape[0]
        q, k, v = self.qkv(self.n1(x)).split(D, -1)
        q, k, v = (t.view(B, T, self.h, self.dh).transpose(1, 2) for t in (q, k, v))
        q, k = self.rope(q), self.rope(k)
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.dh))
        s = s.masked_fill(self.mask, float("-inf")).softmax(-1)
        a = (s @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.out(a)
        h = self.n2(x)
        return x + self.w2(torch.nn.functional.silu(self.w1(h)) * self.w3(h))


class TinyLM(torch.nn.Module):
    """Token ids [N, T] -> logits [N, T, V]: embedding, GPT block, RMSNorm, head."""
    def __init__(self, vocab=20):
        super().__init__()
        torch.manual_seed(5)
        self.emb = torch.nn.Embedding(vocab, D)
        self.block = GptBlock()
        self.norm = RMSNorm(D)
        self.head = torch.nn.Linear(D, vocab, bias=False)

    def forward(self, ids):
        return self.head(self.norm(self.block(self.emb(ids))))


class DynHeads(torch.nn.Module):
    """Self-attention whose reshapes use the traced sizes (x.shape[0], x.size(1), -1):
    torch exports Shape/Gather/Unsqueeze/Concat chains for them; sum-pooled
    projections with ReduceSum/ReduceMax/ReduceMean over the features."""
    def __init__(self, heads=2):
        super().__init__()
        torch.manual_seed(6)
        self.h = heads
        self.qkv = torch.nn.Linear(D, 3 * D)
        self.out = torch.nn.Linear(D, D)

    def forward(self, x):
        B, T_ = x.shape[0], x.size(1)
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(B, T_, self.h, -1).permute(0, 2, 1, 3) for t in (q, k, v))
        s = torch.matmul(q, k.transpose(-1, -2)) * 0.25
        a = torch.matmul(s.softmax(-1), v).permute(0, 2, 1, 3).reshape(B, T_, -1)
        return self.out(a)


def export_ids(name, m, vocab, opset):
    torch.manual_seed(11)
    ids = torch.randint(0, vocab, (3, T))
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(m, (ids[:1],), path, opset_version=opset, input_names=["ids"],
                      output_names=["y"])
    with torch.no_grad():
        ref = torch.cat([m(ids[i:i + 1]) for i in range(3)])
    np.save(os.path.join(OUT, name + ".x.npy"), ids.numpy().astype(np.float32).reshape(3, 1, 1, T))
    np.save(os.path.join(OUT, name + ".ref.npy"), ref.numpy().astype(np.float32))
    print(name, os.path.getsize(path), "bytes")


def to_opset18(path):
    """Rewrite an opset-17 export as opset 18 writes it (torch 1.13 and onnx 1.12
    stop at 17): ReduceMean/ReduceSum/ReduceMax take `axes` as a constant int64
    input instead of an attribute (ReduceSum already does since opset 13)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    for k, nd in enumerate(m.graph.node):
        if nd.op_type not in ("ReduceMean", "ReduceMax"):
            continue
        axes = [a for a in nd.attribute if a.name == "axes"]
        if not axes:
            continue
        name = "axes_%d" % k
        m.graph.initializer.append(numpy_helper.from_array(np.array(axes[0].ints, np.int64), name))
        nd.attribute.remove(axes[0])
        nd.input.append(name)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = 18
    onnx.save(m, path)


def export(name, m, shape, opset):
    torch.manual_seed(10)
    xs = torch.randn(3, *shape)
    x1 = xs[:1]
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(m, (x1,), path, opset_version=min(opset, 17), input_names=["x"],
                      output_names=["y"])
    if opset == 18:
        to_opset18(path)
    with torch.no_grad():
        ref = torch.cat([m(xs[i:i + 1]) for i in range(3)])
    np.save(os.path.join(OUT, name + ".x.npy"),
            xs.numpy().reshape(3, 1, *shape) if len(shape) == 2 else xs.numpy())
    np.save(os.path.join(OUT, name + ".ref.npy"), ref.numpy().astype(np.float32))
    print(name, os.path.getsize(path), "bytes")


def fuzz_seeds(out):
    global T, D
    T, D = 4, 8
    x = torch.randn(1, T, D)
    for name, m, opset in (("tx_enc_pre_gelu", encoder(True, "gelu"), 17),
                           ("tx_enc_post_relu", encoder(False, "relu"), 13),
                           ("tx_gpt_block", GptBlock().eval(), 17)):
        torch.onnx.export(m, (x,), os.path.join(out, name + ".onnx"), opset_version=opset)
    torch.onnx.export(VitStem().eval(), (torch.randn(1, 3, 16, 16),),
                      os.path.join(out, "tx_vit_stem.onnx"), opset_version=17)


def main():
    if sys.argv[1:2] == ["--fuzz"]:
        fuzz_seeds(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    export("enc_pre_gelu_17", encoder(True, "gelu"), (T, D), 17)
    export("enc_post_relu_13", encoder(False, "relu"), (T, D), 13)
    export("enc_pre_relu_13", encoder(True, "relu"), (T, D), 13)
    export("enc_post_gelu_17", encoder(False, "gelu"), (T, D), 17)
    export("vit_stem", VitStem().eval(), (3, 16, 16), 17)
    export("gpt_block", GptBlock().eval(), (T, D), 17)
    export("mlp_gelu_tanh", MlpTanh().eval(), (T, D), 17)
    export_ids("tiny_lm", TinyLM().eval(), 20, 17)
    export("gpt_block_18", GptBlock().eval(), (T, D), 18)
    export("dyn_heads", DynHeads().eval(), (T, D), 17)
    export("bad_headdim8", encoder(True, "gelu", heads=4), (T, D), 17)


if __name__ == "__main__":
    main()
