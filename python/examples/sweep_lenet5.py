#!/usr/bin/env python3
"""sweep_lenet5.py -- the notebook-style example of python/README.md: LeNet-5's
MNIST accuracy as the mantissa narrows, for two exponent widths, with the
MAC unit's cost from numrep.cost, and the scaled formats (MXFP8/6/4, NVFP4)
beside them; plotted to lenet5_sweep.png when
matplotlib is installed (python3-matplotlib).

  python3 python/examples/sweep_lenet5.py [MNIST_DIR] [--limit N] [--out PNG]

MNIST_DIR defaults to ../shared/data/mnist beside the source tree (the IDX
files, as `numrep eval --data`)."""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "python"))

import numrep  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("data", nargs="?", default=os.path.join(SRC, "..", "shared", "data", "mnist"))
ap.add_argument("--limit", type=int, default=500)
ap.add_argument("--out", default="lenet5_sweep.png")
args = ap.parse_args()

spec = os.path.join(SRC, "specs", "lenet5", "lenet5.yaml")
rows = []
for e in (4, 5):
    for m in range(1, 8):
        fmt = numrep.Format("e%dm%d" % (e, m))
        model = numrep.Model(spec, precision=fmt, opt_level=1)  # every role, rne
        acc = model.eval(args.data, limit=args.limit, jobs=2)["top1_acc"]
        speed = numrep.cost(fmt)["speedup"]
        rows.append((e, m, str(fmt), acc, speed))
        print("%-6s top-1 %6.2f %%   MAC speedup vs fp32 %5.1fx" % (fmt, 100 * acc, speed))
        model.close()

# Scaled formats (a shared scale per block of elements: OCP MX, NVFP4) on the
# same images, evaluated by the reference emulator (engine="jit" compiles them
# too, bit for bit the same).  ScaledFormat.bits counts the block scale per
# element.
scaled = []
for name in ("mxfp8", "mxfp6e2m3", "mxfp4", "nvfp4"):
    fmt = numrep.Format(name)
    with numrep.Model(spec, precision=fmt) as model:
        acc = model.eval(args.data, limit=args.limit, jobs=2, engine="emulator")["top1_acc"]
    scaled.append((str(fmt), fmt.bits, acc))
    print("%-9s top-1 %6.2f %%   %.2f bits per element (%s blocks of %d, %s scales)"
          % (fmt, 100 * acc, fmt.bits, fmt.element, fmt.block, fmt.scale))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib not installed: no plot")
    sys.exit(0)
fig, ax = plt.subplots(figsize=(6, 4))
for e in (4, 5):
    pts = [(m, 100 * a) for (ee, m, _, a, _) in rows if ee == e]
    ax.plot(*zip(*pts), marker="o", label="e%d" % e)
for i, (name, bits, acc) in enumerate(scaled):  # the scaled formats as reference lines
    ax.axhline(100 * acc, ls="--", lw=1, color="C%d" % (i + 2),
               label="%s (%.2f bits/elem)" % (name, bits))
ax.set_xlabel("mantissa bits")
ax.set_ylabel("top-1 accuracy (%%, %d MNIST test images)" % args.limit)
ax.set_title("LeNet-5: every weight, activation, product and sum in eXmY")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(args.out, dpi=100)
print("plot:", args.out)
