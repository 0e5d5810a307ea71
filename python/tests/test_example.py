"""test_example.py -- python/examples/sweep_lenet5.py, the worked example of
python/README.md, runs end to end on a few MNIST images: a row per format,
its accuracy the same as numrep.Model.eval gives, and the PNG plot when
python3-matplotlib is installed."""
import os
import re
import subprocess
import sys

import pytest

import numrep
from conftest import SRC, shared_data, spec


def test_sweep_lenet5_runs(tmp_path):
    data = shared_data("mnist")
    png = tmp_path / "sweep.png"
    r = subprocess.run([sys.executable, os.path.join(SRC, "python", "examples", "sweep_lenet5.py"),
                        data, "--limit", "20", "--out", str(png)], capture_output=True,
                       text=True, env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-2000:]
    rows = re.findall(r"^(\S+)\s+top-1\s+([\d.]+) %", r.stdout, flags=re.M)
    assert [n for n, _ in rows][:2] == ["e4m1", "e4m2"] and len(rows) == 14 + 4, r.stdout
    acc = dict(rows)
    with numrep.Model(spec("lenet5", "lenet5.yaml"), precision="e4m3") as m:
        assert float(acc["e4m3"]) == pytest.approx(100 * m.eval(data, limit=20)["top1_acc"],
                                                   abs=0.006)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib not installed" in r.stdout
        return
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
