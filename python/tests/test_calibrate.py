"""test_calibrate.py -- numrep.calibrate against `numrep calibrate` (both
call gen_cal_job_run): the same calibrated precision file byte for byte,
its scales in the answer, the progress callback, the file used by a Model (emulator, as `numrep emulate`),
and every bad-argument class raising its documented exception."""
import os
import re

import numpy as np
import pytest

import numrep
from conftest import cli, spec

NET = spec("resnet20", "resnet20.yaml")
DATA = spec("resnet20", "cifar10-1000")


@pytest.fixture(scope="module")
def have_data():
    if not (os.path.exists(NET) and os.path.isdir(DATA)):
        pytest.skip("specs/resnet20 or its data missing")


def file_scales(path):
    """name -> scale of the `scales:` section."""
    text = open(path).read()
    sec = text[text.index("\nscales:"):]
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^  ([^:\s]+): ([^\s#]+)", sec, flags=re.M)}


@pytest.mark.parametrize("method", ["amax", "percentile:99.9"])
def test_calibrate_matches_cli(tmp_path, have_data, method):
    cli("calibrate", NET, "-p", "int8@channel", "--data", DATA, "--samples", 6, "--first", 3,
        "--method", method, "-o", tmp_path / "cli.yaml", "--no-progress")
    seen = []
    r = numrep.calibrate(NET, "int8@channel", tmp_path / "py.yaml", data=DATA, samples=6,
                         first=3, method=method, progress=lambda *a: seen.append(a))
    # the header names -o, the rest is the same bytes
    want = open(tmp_path / "cli.yaml").read()
    got = open(tmp_path / "py.yaml").read()
    assert got == want
    assert r["precision_yaml"] == got and r["out"] == str(tmp_path / "py.yaml")
    assert (r["samples"], r["first"], r["method"], r["engine"]) == (6, 3, method, "jit")
    assert len(r["tensors"]) == 54
    written = file_scales(tmp_path / "py.yaml")  # fp32 scales, printed to read back
    assert {k: np.float32(v) for k, v in r["scales"].items()} == \
        {k: np.float32(v) for k, v in written.items()}
    assert all(float(np.float32(v)) == v for v in r["scales"].values())
    assert all(t["threshold"] <= t["amax"] and t["scale"] > 0 for t in r["tensors"])
    assert seen and seen[-1] == ("calibrate", 6, 6)
    assert all(d <= t for _, d, t in seen)


def test_calibrated_file_runs_and_emulator_agrees(tmp_path, have_data):
    r = numrep.calibrate(NET, numrep.Format("int8@channel"), tmp_path / "e.yaml", data=DATA,
                         samples=4, engine="emulator", jobs=2)
    j = numrep.calibrate(NET, "int8@channel", tmp_path / "j.yaml", data=DATA, samples=4)
    assert r["scales"] == j["scales"] and r["engine"] == "emulator"
    x = np.load(spec("resnet20", "sample.npy"))[:1]
    m = numrep.Model(NET, precision=j["out"])  # static scales: the emulator runs them
    y = m.emulate(x)
    np.save(tmp_path / "x.npy", x)
    cli("emulate", NET, "-p", j["out"], "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert np.array_equal(y.view(np.uint32), np.load(tmp_path / "y.npy").view(np.uint32))


def test_progress_errors_are_raised_after_the_call(tmp_path, have_data):
    def boom(phase, done, total):
        raise KeyError("stop here")
    with pytest.raises(KeyError, match="stop here"):
        numrep.calibrate(NET, "int8@channel", tmp_path / "p.yaml", data=DATA, samples=2,
                         progress=boom)
    with pytest.raises(TypeError, match="progress"):
        numrep.calibrate(NET, "int8@channel", tmp_path / "p.yaml", data=DATA, progress=3)


def test_bad_arguments(tmp_path, have_data):
    out = tmp_path / "x.yaml"
    with pytest.raises(numrep.RangeError, match="--method.*amax, percentile"):
        numrep.calibrate(NET, "int8@channel", out, data=DATA, method="max")
    with pytest.raises(numrep.RangeError, match="0 < P <= 100"):
        numrep.calibrate(NET, "int8@channel", out, data=DATA, method="percentile:101")
    with pytest.raises(numrep.RangeError, match="--samples"):
        numrep.calibrate(NET, "int8@channel", out, data=DATA, samples=0)
    with pytest.raises(numrep.RangeError, match="--engine"):
        numrep.calibrate(NET, "int8@channel", out, data=DATA, engine="gpu")
    with pytest.raises(numrep.RangeError, match="--rounding"):
        numrep.calibrate(NET, "int8@channel", out, data=DATA, rounding="up")
    with pytest.raises(TypeError, match="bogus"):
        numrep.calibrate(NET, "int8@channel", out, data=DATA, bogus=1)
    with pytest.raises(TypeError, match="precision"):
        numrep.calibrate(NET, {"default": {}}, out, data=DATA)
    with pytest.raises(numrep.RangeError, match="out of range"):
        numrep.calibrate(NET, "int8@channel", out, data=DATA, first=5000)
    with pytest.raises(numrep.UnsupportedError, match="nothing to calibrate"):
        numrep.calibrate(NET, "mxfp8", out, data=DATA)
    with pytest.raises(numrep.FileError, match="cannot write"):
        numrep.calibrate(NET, "int8@channel", tmp_path / "no" / "dir.yaml", data=DATA,
                         samples=2)
    with pytest.raises(numrep.FileError):
        numrep.calibrate(tmp_path / "none.yaml", "int8@channel", out, data=DATA)
    with pytest.raises(numrep.ParseError):
        numrep.calibrate(NET, "e4m99x", out, data=DATA)
    assert not out.exists()


def test_progress_true_prints_the_command_lines_lines(tmp_path, have_data, monkeypatch, capsys):
    monkeypatch.setenv("NUMREP_PROGRESS_SECONDS", "0")
    numrep.calibrate(NET, "int8@channel", tmp_path / "t.yaml", data=DATA, samples=32,
                     progress=True)  # batches of 16: a line at 16 and one at the end
    err = capsys.readouterr().err
    assert re.search(r"^numrep: calibrate: 16/32 after \d+ s wall, about 0:\d\d to go$", err,
                     flags=re.M), err
    assert re.search(r"^numrep: calibrate: 32/32 after \d+ s wall$", err, flags=re.M), err
