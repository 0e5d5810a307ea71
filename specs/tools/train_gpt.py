#!/usr/bin/python3
"""train_gpt.py -- train specs/gpt: a small GPT-style causal character language
model (RMSNorm, rotary position embeddings, SwiGLU, causal attention) on the
Penn Treebank validation text, evaluate it on the test text, and write it as a
numrep spec (docs/semantics.md [op-*], the ops of [op-lm]).

usage: /usr/bin/python3 specs/tools/train_gpt.py PTB_DIR OUT_DIR [--steps N]
                        [--load W.safetensors]

--load skips training: the weights are read from a gpt.safetensors this script
wrote, and everything else is written again from them.

PTB_DIR is ../shared/data/ptb (ptb.valid.txt, ptb.test.txt).  Writes into
OUT_DIR (specs/gpt):
  gpt.yaml          the forward pass in numrep's sequence ops
  gpt.safetensors   the float32 weights (and the rotary cos/sin tables)
  vocab.txt         one line per token id: "ID CODEPOINT" (the characters)
  test.npy          int32 [N_SUB, T+1]: the first N_SUB non-overlapping windows
                    of the test text (window i = characters [i*T, i*T+T+1))
  sample.npy        float32 [N_REF, 1, 1, T]: the inputs (ids) of the first N_REF
                    windows, for `numrep emulate`
  ref_logits.f32    raw little-endian float32 [N_REF, T, V]: PyTorch's logits of
                    those windows (tests/cli_gpt.sh compares them)
  reference.txt     PyTorch's perplexity and accuracy on test.npy
and prints PyTorch's perplexity and next-token accuracy on the whole test
text and on the shipped subset.  Debian's python3-torch (CPU), fixed seeds,
deterministic: the same files on every run on the same machine.

Text: each line of the file as read (PTB lines start and end with a space),
the line end '\n' is the end-of-sentence token; the vocabulary is the sorted
set of characters of the validation text (the test text uses no other).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_samples import write_safetensors  # noqa: E402

T = 64           # context (positions per window)
DIM = 64
HEADS = 4
HEAD_DIM = DIM // HEADS
LAYERS = 2
HIDDEN = 128     # SwiGLU hidden width
EPS = 1e-5       # RMSNorm epsilon
ROPE_BASE = 10000.0
N_SUB = 128      # windows shipped in test.npy
N_REF = 4        # windows with reference logits
BATCH = 16


def rope_tables():
    """cos, sin [T, HEAD_DIM/2] in float32 (rotate-half pairing: i, i + d/2)."""
    inv = 1.0 / (ROPE_BASE ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float32) / HEAD_DIM))
    f = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    return torch.cos(f), torch.sin(f)


class RMSNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(DIM))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * self.weight


def rope(x, cos, sin):
    """x [B, H, T, d]: y[i] = x[i] c - x[i+h] s, y[i+h] = x[i+h] c + x[i] s."""
    h = HEAD_DIM // 2
    a, b = x[..., :h], x[..., h:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn_norm = RMSNorm()
        self.qkv = nn.Linear(DIM, 3 * DIM, bias=False)
        self.out = nn.Linear(DIM, DIM, bias=False)
        self.mlp_norm = RMSNorm()
        self.w1 = nn.Linear(DIM, HIDDEN, bias=False)   # gate (SiLU)
        self.w3 = nn.Linear(DIM, HIDDEN, bias=False)   # up
        self.w2 = nn.Linear(HIDDEN, DIM, bias=False)   # down

    def forward(self, x, cos, sin, mask):
        B, n, _ = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).split(DIM, dim=-1)
        q, k, v = (t.view(B, n, HEADS, HEAD_DIM).transpose(1, 2) for t in (q, k, v))
        q, k = rope(q, cos[:n], sin[:n]), rope(k, cos[:n], sin[:n])
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(HEAD_DIM))
        s = s.masked_fill(mask[:n, :n], float('-inf'))
        c = F.softmax(s, dim=-1) @ v
        x = x + self.out(c.transpose(1, 2).reshape(B, n, DIM))
        h = self.mlp_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class GPT(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, DIM)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.norm = RMSNorm()
        self.lm_head = nn.Linear(DIM, vocab, bias=False)
        cos, sin = rope_tables()
        self.register_buffer('cos', cos)
        self.register_buffer('sin', sin)
        self.register_buffer('mask', torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

    def forward(self, ids):
        x = self.embed(ids)
        for b in self.blocks:
            x = b(x, self.cos, self.sin, self.mask)
        return self.lm_head(self.norm(x))


def windows(ids, n=None):
    """Non-overlapping windows of T+1 ids: window i = ids[i*T : i*T+T+1]."""
    count = (len(ids) - 1) // T
    if n is not None:
        count = min(count, n)
    return torch.stack([ids[i * T:i * T + T + 1] for i in range(count)])


@torch.no_grad()
def evaluate(model, win):
    """(perplexity, accuracy, predicted tokens) over every position of win."""
    nll, hits, cnt = 0.0, 0, 0
    for i in range(0, len(win), 64):
        w = win[i:i + 64]
        logits = model(w[:, :-1]).double()
        tgt = w[:, 1:]
        nll += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                               reduction='sum').item()
        hits += (logits.argmax(-1) == tgt).sum().item()
        cnt += tgt.numel()
    return math.exp(nll / cnt), hits / cnt, cnt


def as_f32(tensors):
    """name -> torch tensor as name -> (shape, float32 bytes) for write_safetensors."""
    out = {}
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().numpy().astype('<f4'))
        out[name] = (list(a.shape), a.tobytes())
    return out


def weights(model):
    """The numrep tensor names ([op-lm]): state_dict keys, rotary tables per rope layer."""
    t = {k: v for k, v in model.state_dict().items() if k not in ('cos', 'sin', 'mask')}
    h = HEAD_DIM // 2
    for i in range(LAYERS):
        for qk in ('q', 'k'):
            t['blocks.%d.%s_rope.cos' % (i, qk)] = model.cos[:, :h]
            t['blocks.%d.%s_rope.sin' % (i, qk)] = model.sin[:, :h]
    return t


def spec_lines(vocab):
    w = ['# A small GPT-style causal character language model for Penn Treebank, trained by',
         '# specs/tools/train_gpt.py (see README.md: data, license, perplexity).',
         '# Sequence tensors are [B, T, F] = [heads, positions, features] ([op-seq]);',
         '# the input holds %d token ids ([op-embedding]), the output [1, %d, %d] logits.'
         % (T, T, vocab),
         'name: gpt',
         'input: {shape: [1, 1, %d]}' % T,
         'weights: gpt.safetensors',
         '# the first %d windows of %d+1 characters of ptb.test.txt (int32 token ids)' % (N_SUB, T),
         'dataset: test.npy',
         'layers:',
         '  - {name: embed, op: embedding, vocab: %d, out: %d}' % (vocab, DIM)]
    prev = 'embed'
    for i in range(LAYERS):
        p = 'blocks.%d.' % i
        w.append('  # block %d (pre-norm): x = x + attention(rmsnorm(x)); x = x + swiglu(rmsnorm(x))'
                 % i)
        w.append('  - {name: %sattn_norm, op: rmsnorm, eps: %g, input: %s}' % (p, EPS, prev))
        w.append('  - {name: %sqkv, op: linear, out: %d, bias: false}' % (p, 3 * DIM))
        for j, qkv in enumerate('qkv'):
            w.append('  - {name: %s%s, op: slice, input: %sqkv, w: [%d, %d]}'
                     % (p, qkv, p, j * DIM, (j + 1) * DIM))
            w.append('  - {name: %s%s_heads, op: heads, heads: %d}' % (p, qkv, HEADS))
            if qkv != 'v':
                w.append('  - {name: %s%s_rope, op: rope}' % (p, qkv))
        w.append('  - {name: %sscores, op: matmul, inputs: [%sq_rope, %sk_rope], transpose_b: true}'
                 % (p, p, p))
        w.append('  - {name: %sscaled, op: scale, by: %r}   # 1/sqrt(%d)'
                 % (p, 1.0 / math.sqrt(HEAD_DIM), HEAD_DIM))
        w.append('  - {name: %ssoftmax, op: causal_softmax}' % p)
        w.append('  - {name: %scontext, op: matmul, inputs: [%ssoftmax, %sv_heads]}' % (p, p, p))
        w.append('  - {name: %smerge, op: merge_heads}' % p)
        w.append('  - {name: %sout, op: linear, out: %d, bias: false}' % (p, DIM))
        w.append('  - {name: %sattn_residual, op: add, inputs: [%s, %sout]}' % (p, prev, p))
        w.append('  - {name: %smlp_norm, op: rmsnorm, eps: %g}' % (p, EPS))
        w.append('  - {name: %sw1, op: linear, out: %d, bias: false}' % (p, HIDDEN))
        w.append('  - {name: %sact, op: silu}' % p)
        w.append('  - {name: %sw3, op: linear, out: %d, bias: false, input: %smlp_norm}'
                 % (p, HIDDEN, p))
        w.append('  - {name: %sglu, op: mul, inputs: [%sact, %sw3]}' % (p, p, p))
        w.append('  - {name: %sw2, op: linear, out: %d, bias: false}' % (p, DIM))
        w.append('  - {name: %smlp_residual, op: add, inputs: [%sattn_residual, %sw2]}'
                 % (p, p, p))
        prev = p + 'mlp_residual'
    w.append('  # head: rmsnorm -> logits over the vocabulary at every position')
    w.append('  - {name: norm, op: rmsnorm, eps: %g, input: %s}' % (EPS, prev))
    w.append('  - {name: lm_head, op: linear, out: %d, bias: false}' % vocab)
    return w


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == '__metadata__':
            continue
        b, e = h['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[b:e], dtype='<f4').copy()).reshape(
            h['shape'])
    return out


def write_npy(path, a):
    np.save(path, np.ascontiguousarray(a))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('ptb')
    ap.add_argument('out')
    ap.add_argument('--steps', type=int, default=350)
    ap.add_argument('--lr', type=float, default=5e-3)
    ap.add_argument('--load', help='gpt.safetensors to read instead of training')
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    with open(os.path.join(a.ptb, 'ptb.valid.txt')) as f:
        train_text = f.read()
    with open(os.path.join(a.ptb, 'ptb.test.txt')) as f:
        test_text = f.read()
    chars = sorted(set(train_text))
    if set(test_text) - set(chars):
        raise SystemExit('test text has characters outside the vocabulary')
    stoi = {c: i for i, c in enumerate(chars)}
    train = torch.tensor([stoi[c] for c in train_text], dtype=torch.long)
    test = torch.tensor([stoi[c] for c in test_text], dtype=torch.long)
    V = len(chars)
    model = GPT(V)
    print('vocabulary %d, parameters %d, train %d chars, test %d chars'
          % (V, sum(p.numel() for p in model.parameters()), len(train), len(test)))
    if a.load:
        t = {k: v for k, v in read_safetensors(a.load).items() if '_rope.' not in k}
        missing, extra = model.load_state_dict(t, strict=False)
        if extra or set(missing) - {'cos', 'sin', 'mask'}:
            raise SystemExit('%s: missing %s, unexpected %s' % (a.load, missing, extra))
    else:
        train_model(model, train, a)
    model.eval()
    export(model, test, chars, a.out)


def train_model(model, train, a):
    V = model.lm_head.out_features
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
    gen = torch.Generator().manual_seed(1)
    warm = 20
    t0 = time.time()
    model.train()
    for step in range(a.steps):
        lr = a.lr * min(1.0, (step + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(
            math.pi * step / a.steps)))
        for g in opt.param_groups:
            g['lr'] = lr
        start = torch.randint(0, len(train) - T - 1, (BATCH,), generator=gen)
        w = torch.stack([train[s:s + T + 1] for s in start.tolist()])
        logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, V), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step == a.steps - 1:
            print('step %d loss %.4f lr %.2e %.0fs' % (step, loss.item(), lr, time.time() - t0),
                  flush=True)


def export(model, test, chars, out):
    V = len(chars)
    full = windows(test)
    sub = full[:N_SUB]
    ppl, acc, cnt = evaluate(model, full)
    print('PyTorch test (all %d windows, %d predictions): perplexity %.4f, accuracy %.4f'
          % (len(full), cnt, ppl, acc))
    ppl2, acc2, cnt2 = evaluate(model, sub)
    print('PyTorch test.npy (first %d windows, %d predictions): perplexity %.6f, accuracy %.6f'
          % (len(sub), cnt2, ppl2, acc2))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'reference.txt'), 'w') as f:
        f.write('# PyTorch 1.13 float32 (CPU), written by specs/tools/train_gpt.py\n')
        f.write('test.npy windows %d predictions %d perplexity %.6f accuracy %.6f\n'
                % (len(sub), cnt2, ppl2, acc2))
        f.write('ptb.test.txt windows %d predictions %d perplexity %.6f accuracy %.6f\n'
                % (len(full), cnt, ppl, acc))
    write_safetensors(os.path.join(out, 'gpt.safetensors'), as_f32(weights(model)))
    with open(os.path.join(out, 'gpt.yaml'), 'w') as f:
        f.write('\n'.join(spec_lines(V)) + '\n')
    with open(os.path.join(out, 'vocab.txt'), 'w') as f:
        for i, c in enumerate(chars):
            f.write('%d %d\n' % (i, ord(c)))
    write_npy(os.path.join(out, 'test.npy'), sub.numpy().astype('<i4'))
    with torch.no_grad():
        ref = model(sub[:N_REF, :-1]).numpy().astype('<f4')
    ref.tofile(os.path.join(out, 'ref_logits.f32'))
    write_npy(os.path.join(out, 'sample.npy'),
              sub[:N_REF, :-1].numpy().astype('<f4').reshape(N_REF, 1, 1, T))


if __name__ == '__main__':
    main()
