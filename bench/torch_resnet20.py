#!/usr/bin/python3
"""torch_resnet20.py -- the PyTorch side of bench_net: the CIFAR ResNet-20
forward pass in Debian's python3-torch (CPU, float32), timed at batch 1
(latency: images one at a time) and at batch N (throughput: one call).

Run it with /usr/bin/python3 (Debian's torch); a pyenv `python3` on PATH
usually has no torch.  Only the standard library, numpy and torch are used:
the safetensors file is parsed here (8-byte header length, JSON header,
raw little-endian data).

    /usr/bin/python3 bench/torch_resnet20.py [--weights W.safetensors]
        [--input X.npy | --images N] [--threads 2] [--reps 3]
        [--batches 1,100] [--out LOGITS.npy]

--input: float32 [N, 3, 32, 32] (bench_net writes the images it runs
through the generated code, so both sides see the same data); without it,
N images of deterministic noise (speed does not depend on the values).
Two variants are timed, so the baseline is PyTorch at its best:
  eager   the network as torchvision-style modules run it in eval mode
          (conv, then batch_norm with running statistics);
  folded  batch norm folded into the convolution weights and a bias
          (what the generated code does).
The allocator is warmed, so that PyTorch is timed at its best: a whole
warm-up pass over the images in the same process before the timed ones,
and with --mallopt glibc's mmap threshold raised to 32 MiB (and the trim
threshold to 1 GiB) through ctypes' mallopt, so large tensors reuse heap
pages instead of fresh mmap'ed ones (in a fresh process every large tensor
otherwise costs new pages: page faults that make PyTorch several times
slower).  bench_net also runs it with GLIBC_TUNABLES=glibc.malloc.
mmap_threshold=...:glibc.malloc.trim_threshold=... in its environment
instead, and takes the better of the two.

--permac-out: a per-MAC emulation of ResNet-20 in
e6m7-finite-nosub-sat, rz, unfused (specs/resnet20/e6m7.yaml) in PyTorch,
as a researcher without numrep would write it (docs/semantics.md [net-1]
.. [net-7]): batch norm folded in double, weights, biases and the input
rounded to the format; each conv and the dense layer as im2col (F.unfold)
and then a sequential loop over the reduction index k on whole tensors
(every output element of the batch at once): the product w*x (exact in
float64), rounded, added to the running sum in float64 (TwoSum's error
corrects the rz of an inexact double sum) and rounded, padding terms
skipped; the rounding is a bit mask on the float64 encoding (truncation),
tiny values to signed zero, saturation by clamping.  --permac-out OUT.npy
runs it once over all input images as one batch, timed, and writes its
logits (bench_net checks them against numrep's bit for bit and reports
the time only when they are identical).

Machine-readable output, one line each (bench_net parses RESULT lines):
    torch_version 1.13.0a0
    threads 2
    RESULT <variant> <batch> <images_per_s_pass> <images_per_s_call> <images_per_cpu_s>
(the best whole pass over the N images, batch / the fastest single call,
and images per CPU second of the process: see time_batch).
--out writes the folded variant's logits of the batch-N run, float32
[N, 10], for an argmax check against the generated code.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WEIGHTS = os.path.join(HERE, '..', 'specs', 'resnet20', 'resnet20.safetensors')
DTYPES = {'F32': (torch.float32, 4), 'F64': (torch.float64, 8)}


def load_safetensors(path):
    """name -> float32 tensor.  The file is treated as untrusted input:
    lengths and offsets are checked before use."""
    with open(path, 'rb') as f:
        blob = f.read()
    if len(blob) < 8:
        sys.exit(f'{path}: too short for a safetensors header')
    (hlen,) = struct.unpack('<Q', blob[:8])
    if hlen > len(blob) - 8:
        sys.exit(f'{path}: header length {hlen} exceeds the file')
    header = json.loads(blob[8:8 + hlen])
    data = bytearray(blob[8 + hlen:])  # writable: torch.frombuffer warns on bytes
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        dt = info.get('dtype')
        if dt not in DTYPES:
            sys.exit(f'{path}: tensor {name}: dtype {dt}, expected F32 or F64')
        tdt, size = DTYPES[dt]
        b, e = info['data_offsets']
        shape = info['shape']
        count = 1
        for d in shape:
            count *= d
        if not (0 <= b <= e <= len(data)) or e - b != count * size:
            sys.exit(f'{path}: tensor {name}: offsets [{b}, {e}] do not hold {count} values')
        t = torch.frombuffer(data, dtype=tdt, count=count, offset=b) if count else torch.zeros(0)
        out[name] = t.reshape(shape).to(torch.float32).clone()
    return out


def blocks_per_stage(w):
    n = 0
    while f'layer1.{n}.conv1.weight' in w:
        n += 1
    if n == 0:
        sys.exit('weights: no layer1.0.conv1.weight (not a CIFAR ResNet?)')
    return n


def shortcut(x, planes):
    """Option A: every second row and column, channels zero-padded."""
    x = x[:, :, ::2, ::2]
    return F.pad(x, (0, 0, 0, 0, planes // 4, planes // 4))


def eager_forward(w, n):
    def bn(x, p):
        return F.batch_norm(x, w[p + '.running_mean'], w[p + '.running_var'],
                            w[p + '.weight'], w[p + '.bias'], False, 0.0, 1e-5)

    def fwd(x):
        out = F.relu(bn(F.conv2d(x, w['conv1.weight'], padding=1), 'bn1'))
        for s, planes in ((1, 16), (2, 32), (3, 64)):
            for b in range(n):
                p = f'layer{s}.{b}'
                stride = 2 if s > 1 and b == 0 else 1
                o = F.relu(bn(F.conv2d(out, w[p + '.conv1.weight'], stride=stride, padding=1),
                              p + '.bn1'))
                o = bn(F.conv2d(o, w[p + '.conv2.weight'], padding=1), p + '.bn2')
                sc = shortcut(out, planes) if stride != 1 or out.shape[1] != planes else out
                out = F.relu(o + sc)
        out = F.avg_pool2d(out, out.shape[3]).flatten(1)
        return F.linear(out, w['linear.weight'], w['linear.bias'])
    return fwd


def fold_all(fold, n):
    """fold(conv, bn) of the first conv, and (conv1, conv2, stride, planes)
    of every residual block."""
    c1 = fold('conv1.weight', 'bn1')
    blocks = []
    for s, planes in ((1, 16), (2, 32), (3, 64)):
        for b in range(n):
            p = f'layer{s}.{b}'
            stride = 2 if s > 1 and b == 0 else 1
            blocks.append((fold(p + '.conv1.weight', p + '.bn1'),
                           fold(p + '.conv2.weight', p + '.bn2'), stride, planes))
    return c1, blocks


def folded_forward(w, n):
    def fold(conv, p):
        scale = w[p + '.weight'] / torch.sqrt(w[p + '.running_var'] + 1e-5)
        return ((w[conv] * scale.reshape(-1, 1, 1, 1)).contiguous(),
                (w[p + '.bias'] - w[p + '.running_mean'] * scale).contiguous())

    c1, blocks = fold_all(fold, n)

    def fwd(x):
        out = F.relu(F.conv2d(x, c1[0], c1[1], padding=1))
        for k1, k2, stride, planes in blocks:
            o = F.relu(F.conv2d(out, k1[0], k1[1], stride=stride, padding=1))
            o = F.conv2d(o, k2[0], k2[1], padding=1)
            sc = shortcut(out, planes) if stride != 1 or out.shape[1] != planes else out
            out = F.relu(o + sc)
        out = F.avg_pool2d(out, out.shape[3]).flatten(1)
        return F.linear(out, w['linear.weight'], w['linear.bias'])
    return fwd


# ---------------------------------------------------------------- per-MAC emulation

class RoundRZ:
    """rz to a float format without subnormals, inf or NaN, saturating
    (e6m7-finite-nosub-sat: 7 fraction bits, emin -30, max 0x1.fep32) of
    exact float64 values: the low 52 - 7 fraction bits of the encoding
    dropped, |v| < 2^emin to a zero of v's sign, then clamped to +-max."""

    def __init__(self, man_bits=7, emin=-30, maxf=float.fromhex('0x1.fep32')):
        self.mask = ~((1 << (52 - man_bits)) - 1)
        self.tiny, self.maxf = 2.0 ** emin, maxf

    def __call__(self, v):
        t = (v.view(torch.int64) & self.mask).view(torch.float64)
        t = torch.where(v.abs() < self.tiny, torch.copysign(torch.zeros_like(v), v), t)
        return t.clamp(-self.maxf, self.maxf)


def permac_forward(w, n):
    rz = RoundRZ()

    def rz_sum(a, b):
        """rz(a + b) of two format values: s = fl(a + b) and TwoSum's error
        e; when e has the other sign than s the exact sum lies below |s|,
        and truncating the float64 next to s towards 0 gives its rz."""
        s = a + b
        bb = s - a
        e = (a - (s - bb)) + (b - bb)
        opp = (e != 0) & ((e < 0) != (s < 0))
        return rz(torch.where(opp, torch.nextafter(s, torch.zeros_like(s)), s))

    def fold(conv, p):  # [net-1]: w' = w*s, b' = (0 - mean)*s + beta, in double
        d = lambda k: w[k].to(torch.float64)
        s = d(p + '.weight') / torch.sqrt(d(p + '.running_var') + 1e-5)
        wf = d(conv) * s.reshape(-1, 1, 1, 1)
        bf = (0.0 - d(p + '.running_mean')) * s + d(p + '.bias')
        return rz(wf), rz(bf)

    def mac(x, wq, bq, stride, pad):
        """[net-4]/[net-5] unfused: acc = bias, then for k in canonical
        order (channel, kernel row, kernel column: F.unfold's order)
        acc = rz(acc + rz(w_k * x_k)), padding terms skipped."""
        B, C, H, W = x.shape
        O, _, kh, kw = wq.shape
        cols = F.unfold(x, (kh, kw), padding=pad, stride=stride)          # [B, K, L]
        valid = F.unfold(torch.ones(1, C, H, W, dtype=torch.float64), (kh, kw),
                         padding=pad, stride=stride) > 0                   # [1, K, L]
        wk = wq.reshape(O, -1)
        acc = bq.view(1, O, 1).expand(B, O, cols.shape[2]).clone()
        for k in range(wk.shape[1]):
            p = rz(wk[:, k].view(1, O, 1) * cols[:, k:k + 1, :])
            acc = torch.where(valid[:, k:k + 1, :], rz_sum(acc, p), acc)
        OH = (H + 2 * pad - kh) // stride + 1
        return acc.view(B, O, OH, -1)

    def relu(x):  # relu(-0) = +0 ([net-7])
        return torch.where(x > 0, x, torch.zeros_like(x))

    c1, blocks = fold_all(fold, n)
    lw = rz(w['linear.weight'].to(torch.float64)).reshape(10, -1, 1, 1)
    lb = rz(w['linear.bias'].to(torch.float64))

    def fwd(x):
        out = relu(mac(rz(x.to(torch.float64)), c1[0], c1[1], 1, 1))
        for k1, k2, stride, planes in blocks:
            o = relu(mac(out, k1[0], k1[1], stride, 1))
            o = mac(o, k2[0], k2[1], 1, 1)
            sc = shortcut(out, planes) if stride != 1 or out.shape[1] != planes else out
            out = relu(rz_sum(o, sc))  # [net-3]
        # [net-6] global average pool: row-major sums, then the exact quotient rounded
        acc = torch.zeros(out.shape[:2], dtype=torch.float64)
        for i in range(out.shape[2] * out.shape[3]):
            acc = rz_sum(acc, out.flatten(2)[:, :, i])
        pooled = rz(acc / (out.shape[2] * out.shape[3]))
        return mac(pooled.view(*pooled.shape, 1, 1), lw, lb, 1, 0).flatten(1)
    return fwd


def time_batch(fwd, x, batch, reps):
    """(best images/s of a whole pass over x in chunks of `batch`, images/s
    of the fastest single call, images per CPU second of all threads) over
    reps passes.  The second filters out
    preemption on a loaded machine; bench_net measures both the same way."""
    n = x.shape[0] - x.shape[0] % batch
    if n == 0:
        sys.exit(f'--batches: {batch} exceeds the {x.shape[0]} input images')
    chunks = [x[i:i + batch].contiguous() for i in range(0, n, batch)]
    for c in chunks:  # warm-up pass: oneDNN primitive creation, allocator
        fwd(c)
    best_pass, best_call, best_cpu = 0.0, float('inf'), 0.0
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for c in chunks:
            t = time.perf_counter()
            fwd(c)
            best_call = min(best_call, time.perf_counter() - t)
        best_pass = max(best_pass, n / (time.perf_counter() - t0))
        best_cpu = max(best_cpu, n / max(time.process_time() - c0, 1e-9))
    return best_pass, batch / best_call, best_cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--weights', default=DEFAULT_WEIGHTS)
    ap.add_argument('--input')
    ap.add_argument('--images', type=int, default=100)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--batches', default='1,100')
    ap.add_argument('--variants', default='eager,folded')
    ap.add_argument('--out')
    ap.add_argument('--mallopt', action='store_true')
    ap.add_argument('--permac-out')
    a = ap.parse_args()

    if a.mallopt:  # M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3 (malloc.h)
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
        ok = libc.mallopt(-3, 32 << 20) == 1 and libc.mallopt(-1, 1 << 30) == 1
        print('mallopt', 'ok' if ok else 'failed')

    torch.set_num_threads(a.threads)
    w = load_safetensors(a.weights)
    n = blocks_per_stage(w)
    if a.input:
        arr = np.load(a.input)
        if arr.dtype != np.float32 or arr.ndim != 4 or tuple(arr.shape[1:]) != (3, 32, 32):
            sys.exit(f'{a.input}: {arr.dtype} {arr.shape}, expected float32 [N, 3, 32, 32]')
        x = torch.from_numpy(np.ascontiguousarray(arr))
    else:
        g = torch.Generator().manual_seed(1)
        x = torch.randn(a.images, 3, 32, 32, generator=g)
    batches = [int(b) for b in a.batches.split(',') if b]
    forwards = {'eager': eager_forward(w, n), 'folded': folded_forward(w, n)}

    print('torch_version', torch.__version__)
    print('threads', torch.get_num_threads())
    print('images', x.shape[0])
    sys.stdout.flush()
    with torch.inference_mode():
        if a.permac_out:
            # one pass over the images at once, timed; its logits are the
            # ones checked (bench_net compares them with numrep's, and
            # reports the time only when they are identical)
            pm = permac_forward(w, n)
            t0, c0 = time.perf_counter(), time.process_time()
            y = pm(x)
            t, c = time.perf_counter() - t0, time.process_time() - c0
            if a.permac_out:
                np.save(a.permac_out, y.numpy().astype(np.float32))
            k = x.shape[0]
            print('RESULT', 'permac', k, '%.3f %.3f %.3f' % (k / t, k / t, k / max(c, 1e-9)))
            return
        for v in a.variants.split(','):
            if v not in forwards:
                sys.exit(f'--variants: unknown {v!r} (eager, folded)')
            for b in batches:
                r = time_batch(forwards[v], x, b, a.reps)
                print('RESULT', v, b, '%.3f %.3f %.3f' % r)
                sys.stdout.flush()
        if a.out:
            np.save(a.out, forwards['folded'](x).numpy().astype(np.float32))


if __name__ == '__main__':
    main()
