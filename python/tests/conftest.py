"""conftest.py -- what the numrep Python tests share: the source tree, the
CLI they compare against (NUMREP_BIN, set by CMake; else build/numrep) and
running it."""
import os
import subprocess

import numpy as np
import pytest

SRC = os.environ.get("NUMREP_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("NUMREP_BIN") or os.path.join(SRC, "build", "numrep")


def shared_data(*parts):
    """A path in the shared data ($NUMREP_SHARED_DATA, else ../shared/data
    beside the source tree); the test is skipped when it is absent."""
    root = os.environ.get("NUMREP_SHARED_DATA") or os.path.join(SRC, "..", "shared", "data")
    p = os.path.join(root, *parts)
    if not os.path.exists(p):
        pytest.skip("shared data not found: %s (set NUMREP_SHARED_DATA)" % p)
    return p


def spec(*parts):
    return os.path.join(SRC, "specs", *parts)


def cli(*args, stdin=None, ok=(0,)):
    """Run the numrep CLI; its stdout (fails the test on an exit status not
    in ok)."""
    if not os.path.exists(CLI):
        pytest.fail("numrep CLI not found at %s (set NUMREP_BIN)" % CLI)
    r = subprocess.run([CLI] + [str(a) for a in args], input=stdin, capture_output=True,
                       text=True)
    assert r.returncode in ok, "numrep %s: exit %d: %s" % (" ".join(map(str, args)),
                                                           r.returncode, r.stderr[-2000:])
    return r.stdout


def cli_round(fmt, lines, rounding="rne", seed=0, op=None):
    """`numrep round` on the given input lines: (bits, values) per line as
    two lists (values from the HEX field, exact)."""
    args = ["round", fmt, "--rounding", rounding, "--seed", seed]
    if op:
        args += ["--op", op]
    out = cli(*args, stdin="".join(l + "\n" for l in lines)).splitlines()
    assert len(out) == len(lines)
    bits, vals = [], []
    for row in out:
        f = row.split("  ")
        bits.append(int(f[2], 16))
        vals.append(float.fromhex(f[0]) if f[0] not in ("nan", "inf", "-inf") else float(f[0]))
    return np.array(bits, dtype=np.uint64), np.array(vals)


def same_bits(a, b):
    """Bit-for-bit equality of two float arrays (NaN == NaN by payload)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    view = {4: np.uint32, 8: np.uint64}[a.itemsize]
    return bool(np.array_equal(a.view(view), b.view(view)))
