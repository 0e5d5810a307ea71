#!/usr/bin/env python3
"""make_imagenet_specs.py -- write the architecture-only ImageNet specs
(specs/alexnet, specs/vgg16, specs/googlenet; no weights are shipped).

usage: make_imagenet_specs.py SPECS_DIR

Layer names follow torchvision's state_dict keys (features.0, classifier.1,
inception3a.branch2.1.conv, ...) so weights converted from a state_dict to
safetensors bind by name.  See each directory's README.md for what differs
from torchvision.  Standard library only.
"""
import os
import sys

PRE = ('input: {shape: [3, 224, 224], divisor: 255, mean: [0.485, 0.456, 0.406], '
       'std: [0.229, 0.224, 0.225], resize: 256, crop: 224}')


def alexnet():
    w = ['# AlexNet (torchvision layout), architecture only: bring your own weights.',
         'name: alexnet',
         '# torchvision preprocessing: resize 256, centre crop 224, ImageNet mean/std',
         PRE,
         'layers:']
    w.append('  - {name: features.0, op: conv, out: 64, kernel: 11, stride: 4, pad: 2}')
    w.append('  - {name: features.1, op: relu}')
    w.append('  - {name: features.2, op: maxpool, kernel: 3, stride: 2}')
    w.append('  - {name: features.3, op: conv, out: 192, kernel: 5, pad: 2}')
    w.append('  - {name: features.4, op: relu}')
    w.append('  - {name: features.5, op: maxpool, kernel: 3, stride: 2}')
    w.append('  - {name: features.6, op: conv, out: 384, kernel: 3, pad: 1}')
    w.append('  - {name: features.7, op: relu}')
    w.append('  - {name: features.8, op: conv, out: 256, kernel: 3, pad: 1}')
    w.append('  - {name: features.9, op: relu}')
    w.append('  - {name: features.10, op: conv, out: 256, kernel: 3, pad: 1}')
    w.append('  - {name: features.11, op: relu}')
    w.append('  - {name: features.12, op: maxpool, kernel: 3, stride: 2}   # 256 x 6 x 6')
    w.append('  - {name: flatten, op: flatten}')
    w.append('  - {name: classifier.0, op: dropout}')
    w.append('  - {name: classifier.1, op: dense, out: 4096}')
    w.append('  - {name: classifier.2, op: relu}')
    w.append('  - {name: classifier.3, op: dropout}')
    w.append('  - {name: classifier.4, op: dense, out: 4096}')
    w.append('  - {name: classifier.5, op: relu}')
    w.append('  - {name: classifier.6, op: dense, out: 1000}')
    w.append('output: classifier.6')
    return w


def vgg16():
    w = ['# VGG-16 (configuration D, torchvision layout), architecture only.',
         'name: vgg16',
         '# torchvision preprocessing: resize 256, centre crop 224, ImageNet mean/std',
         PRE,
         'layers:']
    cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M',
           512, 512, 512, 'M']
    i = 0
    for v in cfg:
        if v == 'M':
            w.append('  - {name: features.%d, op: maxpool, kernel: 2, stride: 2}' % i)
            i += 1
        else:
            w.append('  - {name: features.%d, op: conv, out: %d, kernel: 3, pad: 1}' % (i, v))
            w.append('  - {name: features.%d, op: relu}' % (i + 1))
            i += 2
    w.append('  - {name: flatten, op: flatten}                     # 512 x 7 x 7 = 25088')
    w.append('  - {name: classifier.0, op: dense, out: 4096}')
    w.append('  - {name: classifier.1, op: relu}')
    w.append('  - {name: classifier.2, op: dropout}')
    w.append('  - {name: classifier.3, op: dense, out: 4096}')
    w.append('  - {name: classifier.4, op: relu}')
    w.append('  - {name: classifier.5, op: dropout}')
    w.append('  - {name: classifier.6, op: dense, out: 1000}')
    w.append('output: classifier.6')
    return w


# Inception modules of the paper (Szegedy et al. 2015, table 1):
# name, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
INCEPTION = [('3a', 64, 96, 128, 16, 32, 32), ('3b', 128, 128, 192, 32, 96, 64), 'pool3',
             ('4a', 192, 96, 208, 16, 48, 64), ('4b', 160, 112, 224, 24, 64, 64),
             ('4c', 128, 128, 256, 24, 64, 64), ('4d', 112, 144, 288, 32, 64, 64),
             ('4e', 256, 160, 320, 32, 128, 128), 'pool4',
             ('5a', 256, 160, 320, 32, 128, 128), ('5b', 384, 192, 384, 48, 128, 128)]


def googlenet():
    w = ['# GoogLeNet (Inception v1) as in the paper, with LRN and concat; architecture only.',
         '# Module names as in torchvision (its pretrained model differs: see README.md).',
         'name: googlenet',
         '# torchvision preprocessing: resize 256, centre crop 224, ImageNet mean/std',
         PRE,
         'layers:']
    a = w.append
    a('  - {name: conv1.conv, op: conv, out: 64, kernel: 7, stride: 2, pad: 3}')
    a('  - {name: conv1.relu, op: relu}')
    a('  - {name: maxpool1, op: maxpool, kernel: 3, stride: 2, ceil_mode: true}')
    a('  - {name: lrn1, op: lrn, size: 5, alpha: 1.0e-4, beta: 0.75, k: 1}')
    a('  - {name: conv2.conv, op: conv, out: 64, kernel: 1}')
    a('  - {name: conv2.relu, op: relu}')
    a('  - {name: conv3.conv, op: conv, out: 192, kernel: 3, pad: 1}')
    a('  - {name: conv3.relu, op: relu}')
    a('  - {name: lrn2, op: lrn, size: 5, alpha: 1.0e-4, beta: 0.75, k: 1}')
    a('  - {name: maxpool2, op: maxpool, kernel: 3, stride: 2, ceil_mode: true}')
    prev = 'maxpool2'
    for m in INCEPTION:
        if isinstance(m, str):
            a('  - {name: max%s, op: maxpool, kernel: 3, stride: 2, ceil_mode: true, input: %s}'
              % (m, prev))
            prev = 'max' + m
            continue
        n, c1, r3, c3, r5, c5, pp = m
        p = 'inception' + n
        a('  # %s: %d + %d + %d + %d = %d channels' % (p, c1, c3, c5, pp, c1 + c3 + c5 + pp))
        a('  - {name: %s.branch1.conv, op: conv, out: %d, kernel: 1, input: %s}' % (p, c1, prev))
        a('  - {name: %s.branch1.relu, op: relu}' % p)
        a('  - {name: %s.branch2.0.conv, op: conv, out: %d, kernel: 1, input: %s}' % (p, r3, prev))
        a('  - {name: %s.branch2.0.relu, op: relu}' % p)
        a('  - {name: %s.branch2.1.conv, op: conv, out: %d, kernel: 3, pad: 1}' % (p, c3))
        a('  - {name: %s.branch2.1.relu, op: relu}' % p)
        a('  - {name: %s.branch3.0.conv, op: conv, out: %d, kernel: 1, input: %s}' % (p, r5, prev))
        a('  - {name: %s.branch3.0.relu, op: relu}' % p)
        a('  - {name: %s.branch3.1.conv, op: conv, out: %d, kernel: 5, pad: 2}' % (p, c5))
        a('  - {name: %s.branch3.1.relu, op: relu}' % p)
        a('  - {name: %s.branch4.0, op: maxpool, kernel: 3, stride: 1, pad: 1, input: %s}'
          % (p, prev))
        a('  - {name: %s.branch4.1.conv, op: conv, out: %d, kernel: 1}' % (p, pp))
        a('  - {name: %s.branch4.1.relu, op: relu}' % p)
        a('  - {name: %s, op: concat, inputs: [%s.branch1.relu, %s.branch2.1.relu, '
          '%s.branch3.1.relu, %s.branch4.1.relu]}' % (p, p, p, p, p))
        prev = p
    a('  - {name: avgpool, op: global_avgpool}')
    a('  - {name: dropout, op: dropout}')
    a('  - {name: fc, op: dense, out: 1000}')
    a('output: fc')
    return w


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, f in (('alexnet', alexnet), ('vgg16', vgg16), ('googlenet', googlenet)):
        d = os.path.join(sys.argv[1], name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name + '.yaml'), 'w') as out:
            out.write('\n'.join(f()) + '\n')


if __name__ == '__main__':
    main()
