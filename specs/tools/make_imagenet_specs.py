#!/usr/bin/env python3
"""make_imagenet_specs.py -- write the architecture-only ImageNet specs
(specs/alexnet, specs/vgg16; no weights are shipped).  GoogLeNet, with its
real BVLC weights, is written by make_caffe_specs.py.

usage: make_imagenet_specs.py SPECS_DIR

Layer names follow torchvision's state_dict keys (features.0, classifier.1,
...) so weights converted from a state_dict to
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


def write_specs(nets, doc):
    """Write SPECS_DIR/<name>/<name>.yaml for each (name, function) of nets."""
    if len(sys.argv) != 2:
        sys.exit(doc)
    for name, f in nets:
        d = os.path.join(sys.argv[1], name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name + '.yaml'), 'w') as out:
            out.write('\n'.join(f()) + '\n')


if __name__ == '__main__':
    write_specs((('alexnet', alexnet), ('vgg16', vgg16)), __doc__)
