#!/usr/bin/env python3
"""make_samples.py -- write specs/{lenet5,resnet20}/sample.npy and their labels.

Reads the first 8 MNIST / CIFAR-10 test images from ../shared/data (or the
directory given as the first argument) and applies the preprocessing of
../shared/data/README.md in float32 arithmetic, as torchvision does
(ToTensor: pixel/255; Normalize: (x - mean) / std, all float32).  Each
float32 operation is computed in double and rounded once to float32; for
+, -, * and / that is the correctly rounded float32 result, because binary64
has more than 2*24+2 significand bits.  Standard library only (no numpy).
"""
import gzip
import json
import os
import struct
import sys

N = 8


def f32(x):
    """Round a double to the nearest float32 (ties to even)."""
    return struct.unpack('<f', struct.pack('<f', x))[0]


def write_npy(path, shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        ', '.join(str(d) for d in shape) + (',' if len(shape) == 1 else ''))
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header = header + ' ' * pad + '\n'
    with open(path, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(header)) + header.encode('ascii'))
        f.write(struct.pack('<%df' % len(values), *values))


def write_safetensors(path, tensors):
    """tensors: name -> (shape, little-endian float32 bytes); names sorted,
    header padded with blanks to a multiple of 8 (as numrep's reader expects)."""
    header, off, blobs = {}, 0, []
    for name in sorted(tensors):
        shape, b = tensors[name]
        header[name] = {'dtype': 'F32', 'shape': list(shape), 'data_offsets': [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def mnist(data, out):
    with gzip.open(os.path.join(data, 'mnist/t10k-images-idx3-ubyte.gz'), 'rb') as f:
        magic, count, rows, cols = struct.unpack('>IIII', f.read(16))
        assert magic == 2051 and rows == 28 and cols == 28 and count >= N
        pixels = f.read(N * 28 * 28)
    with gzip.open(os.path.join(data, 'mnist/t10k-labels-idx1-ubyte.gz'), 'rb') as f:
        magic, count = struct.unpack('>II', f.read(8))
        assert magic == 2049 and count >= N
        labels = list(f.read(N))
    # x = (pixel/255 - 0.5) / 0.5
    vals = [f32(f32(f32(p / 255.0) - 0.5) / 0.5) for p in pixels]
    write_npy(os.path.join(out, 'lenet5/sample.npy'), (N, 1, 28, 28), vals)
    return labels


def cifar_samples(data, mean, std):
    """The first N CIFAR-10 test images as (N, 3, 32, 32) values, and labels."""
    with open(os.path.join(data, 'cifar10/test_images.u8'), 'rb') as f:
        pixels = f.read(N * 32 * 32 * 3)          # N, H, W, C
    with open(os.path.join(data, 'cifar10/test_labels.u8'), 'rb') as f:
        labels = list(f.read(N))
    mean = [f32(v) for v in mean]
    std = [f32(v) for v in std]
    vals = []
    for n in range(N):                            # to N, C, H, W
        for c in range(3):
            for y in range(32):
                for x in range(32):
                    p = pixels[((n * 32 + y) * 32 + x) * 3 + c]
                    vals.append(f32(f32(f32(p / 255.0) - mean[c]) / std[c]))
    return vals, labels


def cifar(data, out):
    vals, labels = cifar_samples(data, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    write_npy(os.path.join(out, 'resnet20/sample.npy'), (N, 3, 32, 32), vals)
    return labels


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    specs = os.path.dirname(here)
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(specs, '..', '..', 'shared', 'data')
    for name, fn in (('lenet5', mnist), ('resnet20', cifar)):
        labels = fn(data, specs)
        with open(os.path.join(specs, name, 'sample_labels.txt'), 'w') as f:
            f.write(''.join('%d\n' % v for v in labels))


if __name__ == '__main__':
    main()
