"""test_leak.py -- 1000 compile/run/free cycles of a model (a small
network at -O0 so the cycles stay cheap, ~0.1 s each on an idle core: the
JIT path is the same as for any network) and 1000 load/emulate/free
cycles (with format and rounding calls) do not grow the
process's resident memory beyond a bound (measured: /proc/self/statm)."""
import gc
import os

import numpy as np

import numrep

TINY = """name: tiny
input: {shape: [1, 8, 8]}
layers:
  - {name: conv, op: conv, out: 2, kernel: 3}
  - {name: relu, op: relu}
  - {name: flatten, op: flatten}
  - {name: fc, op: dense, out: 3}
"""


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def cycles(fn, n):
    for i in range(n):
        fn(i)
    gc.collect()
    return rss_mb()


def test_compile_run_free_1000(tmp_path):
    net = tmp_path / "tiny.yaml"
    net.write_text(TINY)
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
    want = numrep.Model(str(net), precision="e4m3", random_weights=9).emulate(x)

    def one(i):
        m = numrep.Model(str(net), precision="e4m3", random_weights=9, opt_level=0)
        y = m.run(x)
        if i % 100 == 0:
            assert np.array_equal(y.view(np.uint32), want.view(np.uint32))
        m.close()
    base = cycles(one, 100)  # warm-up: LLVM's one-time state
    grown = cycles(one, 900) - base
    # a leaked module, JIT or weights blob per cycle would be >= 20 KB each
    assert grown < 8, "RSS grew %.1f MB over 900 compile/run/free cycles" % grown


def test_load_emulate_free_1000(tmp_path):
    net = tmp_path / "tiny.yaml"
    net.write_text(TINY)
    x = np.zeros((1, 1, 8, 8), np.float32)

    def one(i):
        with numrep.Model(str(net), precision="bf16", random_weights=3) as m:
            m.emulate(x, stats=True)
        numrep.round(x, "e4m3")
        numrep.Format("e5m2")
    base = cycles(one, 100)
    grown = cycles(one, 900) - base
    assert grown < 4, "RSS grew %.1f MB over 900 load/emulate/free cycles" % grown
