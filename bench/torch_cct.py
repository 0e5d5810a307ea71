#!/usr/bin/python3
"""torch_cct.py -- the PyTorch side of bench_cct: the CCT-4/3x1 of
specs/cct (conv tokenizer, 4 pre-norm blocks of 4-head attention and a GELU
MLP, sequence pooling) in Debian's python3-torch, CPU float32, timed at
batch 1 (images one at a time), one thread, after a warm-up pass (the
allocator warmed, so PyTorch is timed at its best).

    /usr/bin/python3 bench/torch_cct.py --input X.npy [--reps 3] [--out Y.npy]

X.npy: float32 [N, 3, 32, 32], the network's input values (already
normalized, as numrep's `run --input` takes them).  Prints one line
    RESULT torch_b1 <cpu seconds per image> <wall seconds per image>
and with --out writes the logits [N, 10] (bench_cct compares them with
numrep's fp32 logits)."""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_resnet20 import load_safetensors  # noqa: E402  (the one safetensors reader)


def forward(w, x):
    t = F.conv2d(x, w['tokenizer.tokenizer_layers.0.weight'], padding=1)
    t = F.max_pool2d(F.relu(t), 3, 2, 1)
    t = t.flatten(2).transpose(1, 2)                       # [1, 256, 128]
    t = t + w['positional_embeddings.weight'].reshape(1, t.shape[1], t.shape[2])
    for b in range(4):
        p = f'blocks.{b}.'
        h = F.layer_norm(t, (t.shape[2],), w[p + 'attention_pre_norm.weight'],
                         w[p + 'attention_pre_norm.bias'], 1e-5)
        qkv = F.linear(h, w[p + 'attention.in_proj.weight'], w[p + 'attention.in_proj.bias'])
        B, T, C3 = qkv.shape
        qkv = qkv.reshape(B, T, 3, 4, C3 // 12).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)) * (C3 // 12) ** -0.5
        a = a.softmax(dim=-1)
        h = (a @ v).transpose(1, 2).reshape(B, T, C3 // 3)
        t = t + F.linear(h, w[p + 'attention.out_proj.weight'], w[p + 'attention.out_proj.bias'])
        h = F.layer_norm(t, (t.shape[2],), w[p + 'mlp_pre_norm.weight'],
                         w[p + 'mlp_pre_norm.bias'], 1e-5)
        h = F.gelu(F.linear(h, w[p + 'mlp.0.weight'], w[p + 'mlp.0.bias']))
        t = t + F.linear(h, w[p + 'mlp.3.weight'], w[p + 'mlp.3.bias'])
    t = F.layer_norm(t, (t.shape[2],), w['norm.weight'], w['norm.bias'], 1e-5)
    s = F.linear(t, w['pool.attention_pool.weight'], w['pool.attention_pool.bias']).softmax(dim=1)
    t = (s.transpose(1, 2) @ t).squeeze(1)
    return F.linear(t, w['fc.weight'], w['fc.bias'])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights', default=os.path.join(HERE, '..', 'specs', 'cct', 'cct.safetensors'))
    ap.add_argument('--input', required=True)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--out')
    a = ap.parse_args()
    torch.set_num_threads(1)
    w = load_safetensors(a.weights)
    x = torch.from_numpy(np.load(a.input).astype(np.float32))
    with torch.no_grad():
        outs = [forward(w, x[i:i + 1]) for i in range(x.shape[0])]  # warm-up pass
        best_c = best_w = float('inf')
        for _ in range(a.reps):
            c0, w0 = time.process_time(), time.perf_counter()
            for i in range(x.shape[0]):
                forward(w, x[i:i + 1])
            best_c = min(best_c, (time.process_time() - c0) / x.shape[0])
            best_w = min(best_w, (time.perf_counter() - w0) / x.shape[0])
    if a.out:
        np.save(a.out, torch.cat(outs).numpy())
    print(f'torch_version {torch.__version__}')
    print(f'RESULT torch_b1 {best_c:.6f} {best_w:.6f}')


if __name__ == '__main__':
    main()
