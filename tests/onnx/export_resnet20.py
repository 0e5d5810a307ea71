#!/usr/bin/env python3
"""Export the CIFAR-10 ResNet-20 to ONNX with torch.onnx.export.

usage: export_resnet20.py WEIGHTS.safetensors SAMPLE.npy OUTDIR [OPSET [nofold]]

The module is akamaster/pytorch_resnet_cifar10's resnet.py (option-A
shortcut, F.avg_pool2d over the whole map, out.view(out.size(0), -1)),
written again here; the weights come from specs/resnet20/resnet20.safetensors,
read with the json/struct layout of the format (no safetensors package).
Writes OUTDIR/resnet20.onnx (batch axis dynamic) and OUTDIR/torch_logits.npy,
torch's own fp32 logits on SAMPLE.npy.  `nofold` exports without constant
folding: BatchNormalization nodes stay, and shapes/pads stay small programs.  Exit status 77 when torch or onnx
cannot be imported (the caller skips)."""
import json
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import onnx  # noqa: F401  (torch.onnx.export needs it)
except ImportError as e:
    print("skip: %s" % e)
    sys.exit(77)


def read_safetensors(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    head = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = {}
    for name, t in head.items():
        if name == '__metadata__':
            continue
        assert t['dtype'] == 'F32', (name, t['dtype'])
        s, e = t['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[s:e], dtype='<f4').reshape(t['shape']).copy())
    return out


class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            p = planes // 4
            self.shortcut = LambdaLayer(
                lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p), "constant", 0))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, n=3, num_classes=10):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, n, 1)
        self.layer2 = self._make_layer(32, n, 2)
        self.layer3 = self._make_layer(64, n, 2)
        self.linear = nn.Linear(64, num_classes)

    def _make_layer(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, int(out.size()[3]))
        out = out.view(out.size(0), -1)
        return self.linear(out)


def main():
    if len(sys.argv) not in (4, 5, 6):
        print(__doc__)
        sys.exit(2)
    wpath, sample, outdir = sys.argv[1:4]
    opset = int(sys.argv[4]) if len(sys.argv) >= 5 else 13
    fold = not (len(sys.argv) == 6 and sys.argv[5] == 'nofold')
    torch.manual_seed(0)
    model = ResNet()
    missing, unexpected = model.load_state_dict(read_safetensors(wpath), strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    assert not missing and not unexpected, (missing, unexpected)
    model.eval()
    x = torch.from_numpy(np.load(sample).astype(np.float32))
    with torch.no_grad():
        np.save(outdir + '/torch_logits.npy', model(x).numpy())
        torch.onnx.export(model, x[:1], outdir + '/resnet20.onnx', opset_version=opset,
                          input_names=['input'], output_names=['logits'],
                          do_constant_folding=fold,
                          dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}})


main()
