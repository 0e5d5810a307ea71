#!/usr/bin/env python3
"""make_cifar_subset.py -- write a class-balanced CIFAR-10 test subset in the
official CIFAR-10 binary batch format (records of 1 label byte + 1024 R +
1024 G + 1024 B bytes, rows top to bottom).

usage: make_cifar_subset.py CIFAR_DIR PER_CLASS OUT_DIR [SKIP]
  e.g. make_cifar_subset.py ../shared/data/cifar10 100 specs/resnet20/cifar10-1000

CIFAR_DIR holds test_images.u8 (N x 32 x 32 x 3, NHWC) and test_labels.u8.
The subset takes the first PER_CLASS images of each class in the order they
are stored (after the first SKIP of each class, default 0: another SKIP
gives a disjoint subset, e.g. for validation), and interleaves the classes (record i is class i % 10), so any
prefix (`numrep eval --limit 200`) is balanced too.  Writes
OUT_DIR/test_batch.bin and OUT_DIR/batches.meta.txt (class names, as the
official archive has).  Standard library only.
"""
import os
import sys

CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer',
           'dog', 'frog', 'horse', 'ship', 'truck']
PIX = 32 * 32 * 3


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    src, per, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    skip = int(sys.argv[4]) if len(sys.argv) == 5 else 0
    with open(os.path.join(src, 'test_images.u8'), 'rb') as f:
        images = f.read()
    with open(os.path.join(src, 'test_labels.u8'), 'rb') as f:
        labels = f.read()
    n = len(labels)
    if len(images) != n * PIX:
        sys.exit('test_images.u8: %d bytes, expected %d' % (len(images), n * PIX))
    by_class = [[] for _ in CLASSES]
    seen = [0] * len(CLASSES)
    for i, lab in enumerate(labels):
        if lab >= len(CLASSES):
            sys.exit('test_labels.u8: label %d of image %d out of range' % (lab, i))
        seen[lab] += 1
        if seen[lab] > skip and len(by_class[lab]) < per:
            by_class[lab].append(i)
    for c, idx in enumerate(by_class):
        if len(idx) < per:
            sys.exit('class %d has only %d images' % (c, len(idx)))
    os.makedirs(out, exist_ok=True)
    rec = bytearray()
    for k in range(per):
        for c in range(len(CLASSES)):
            i = by_class[c][k]
            px = images[i * PIX:(i + 1) * PIX]          # H, W, C
            rec.append(c)
            for ch in range(3):                          # -> C, H, W
                rec += px[ch::3]
    with open(os.path.join(out, 'test_batch.bin'), 'wb') as f:
        f.write(rec)
    with open(os.path.join(out, 'batches.meta.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')


if __name__ == '__main__':
    main()
