"""test_study.py -- Model.eval, numrep.cost, import_onnx, from_torch and
numrep.torch against the CLI (`numrep eval`, `numrep cost`, `numrep
import`, `numrep run`) on the same inputs."""
import json

import numpy as np
import pytest

import numrep
from conftest import cli, same_bits, shared_data, spec


def test_eval_matches_cli():
    net, data = spec("resnet20", "resnet20.yaml"), spec("resnet20", "cifar10-1000")
    m = numrep.Model(net, precision="e5m2")
    got = m.eval(data, limit=40, jobs=2)
    want = json.loads(cli("eval", net, "-p", "e5m2", "--data", data, "--limit", 40, "--json",
                          "--no-cache"))
    assert got["samples"] == 40 and got["classes"] == 10
    assert (got["top1"], got["top5"]) == (want["top1_correct"], want["top5_correct"])
    emu = m.eval(data, limit=4, engine="emulator")
    assert emu["samples"] == 4
    with pytest.raises(numrep.FileError):
        m.eval("/nonexistent/data")
    with pytest.raises(numrep.Error, match="engine"):
        m.eval(data, limit=1, engine="gpu")


def test_cost_matches_cli():
    for name in ("e4m3", "bf16", "q7.8"):
        c = numrep.cost(name)
        text = cli("cost", name)
        line = [l for l in text.splitlines() if l.startswith("speedup at equal area ")][0]
        assert abs(float(line.split()[4]) - c["speedup"]) < 5e-3 * c["speedup"]
        assert c["mac"]["area"] == pytest.approx(c["mul"]["area"] + c["add"]["area"])
    assert numrep.cost("fp32")["area_ratio"] == pytest.approx(1.0)
    with pytest.raises(numrep.UnsupportedError):
        numrep.cost("e4m3", accumulator="q7.8")


def _torch():
    try:
        import torch as t
        return t
    except ImportError:
        pytest.skip("python3-torch not installed")


def small_net(t):
    t.manual_seed(0)
    return t.nn.Sequential(t.nn.Conv2d(1, 4, 3), t.nn.ReLU(), t.nn.MaxPool2d(2), t.nn.Flatten(),
                           t.nn.Linear(4 * 3 * 3, 5))


def test_import_onnx_matches_cli(tmp_path):
    t = _torch()
    model = str(tmp_path / "m.onnx")
    t.onnx.export(small_net(t).eval(), t.randn(1, 1, 8, 8), model, opset_version=13)
    ours = numrep.import_onnx(model, tmp_path / "py", name="net")
    cli("import", model, "-o", tmp_path / "cli", "--name", "net")
    assert open(ours).read() == (tmp_path / "cli" / "net.yaml").read_text()
    assert (tmp_path / "py" / "net.safetensors").read_bytes() == \
        (tmp_path / "cli" / "net.safetensors").read_bytes()
    with pytest.raises(numrep.Error):
        numrep.import_onnx(__file__, tmp_path / "bad", name="bad")
    # the preprocessing options, as `numrep import --divisor/--mean/--std/--dataset`
    pp = dict(divisor=255, mean=(0.5,), std=0.25, dataset=tmp_path)
    ours = numrep.import_onnx(model, tmp_path / "pyp", name="net", **pp)
    cli("import", model, "-o", tmp_path / "clip", "--name", "net", "--divisor", 255, "--mean",
        0.5, "--std", 0.25, "--dataset", tmp_path)
    assert open(ours).read() == (tmp_path / "clip" / "net.yaml").read_text()
    assert "divisor: 255, mean: 0.5, std: 0.25}" in open(ours).read()
    for bad, exc in ((dict(divisor=0), numrep.RangeError), (dict(resize=8), numrep.RangeError),
                     (dict(mean=(1, 2, 3, 4)), TypeError), (dict(crop="8"), TypeError),
                     (dict(dataset=tmp_path / "none"), numrep.FileError),
                     (dict(mean=(0.1, 0.2)), numrep.ParseError)):
        with pytest.raises(exc):
            numrep.import_onnx(model, tmp_path / "ppbad", name="x", **bad)
        assert not (tmp_path / "ppbad" / "x.yaml").exists()


def test_torch_quantize_same_bits_as_round():
    t = _torch()
    import numrep.torch as nt
    x = t.randn(1000, dtype=t.float32) * 10
    q = nt.quantize(x, "e4m3", "sr", seed=3)
    assert q.dtype == t.float32
    assert same_bits(q.numpy(), numrep.round(x.numpy(), "e4m3", "sr", seed=3))
    with pytest.raises(TypeError):
        nt.quantize(x.to(t.int32), "e4m3")
    with pytest.raises(TypeError):
        nt.quantize(x.numpy(), "e4m3")


def test_from_torch_and_module_match_numrep_run(tmp_path):
    t = _torch()
    import numrep.torch as nt
    net = small_net(t)
    x = t.randn(3, 1, 8, 8)
    m = numrep.from_torch(net, x, out_dir=tmp_path, name="tnet", precision="bf16")
    y = m.run(x.numpy())
    np.save(tmp_path / "x.npy", x.numpy())
    cli("run", tmp_path / "tnet" / "tnet.yaml", "-p", "bf16", "--input", tmp_path / "x.npy",
        "-o", tmp_path / "y.npy")
    assert same_bits(y, np.load(tmp_path / "y.npy"))
    m32 = numrep.from_torch(net, x, precision="fp32")
    assert np.allclose(m32.run(x.numpy()), net(x).detach().numpy(), atol=1e-4)
    # import's preprocessing options go into the spec (as `numrep import --mean ...`)
    mp = numrep.from_torch(net, x, out_dir=tmp_path, name="tpp", precision="bf16", divisor=255,
                           mean=0.5, std=0.25, crop=8, dataset=tmp_path, opt_level=1)
    text = (tmp_path / "tpp" / "tpp.yaml").read_text()
    assert "divisor: 255, mean: 0.5, std: 0.25" in text and "crop: [8, 8]" in text, text
    assert same_bits(mp.run(x.numpy()), y)
    with pytest.raises(numrep.ShapeError, match="crop"):  # not the input's H, W
        numrep.from_torch(net, x, out_dir=tmp_path, name="tbad", crop=4)
    mod = nt.NumrepModule(m)
    assert same_bits(mod(x).numpy(), y)
    assert same_bits(nt.NumrepModule(m, engine="emulator")(x).numpy(), y)


def test_search_and_report_match_cli(tmp_path):
    data = shared_data("mnist")
    net = spec("lenet5", "lenet5.yaml")
    opts = dict(grid="float", exp="4:5", man="2:5", limit=60, samples=4)
    seen = []
    got = numrep.search(net, "5%", data=data, db=tmp_path / "py.db", jobs=2,
                        progress=lambda *a: seen.append(a), **opts)
    assert seen and all(isinstance(p, str) and 0 <= d <= t for p, d, t in seen)
    assert any(d == t for _, d, t in seen)  # a phase ran to its end
    want = json.loads(cli("search", net, "--max-loss", "5%", "--data", data, "--db",
                          tmp_path / "cli.db", "--jobs", 2, "--json", "--no-progress",
                          "--grid", "float", "--exp", "4:5", "--man", "2:5", "--limit", 60,
                          "--samples", 4, ok=(0, 3)))
    timing = ("full_seconds", "sample_seconds", "wall_seconds", "db", "sample_cpu_seconds",
              "full_cpu_seconds", "fp32_cpu_seconds")
    assert got.keys() == want.keys()
    for k in got.keys() - set(timing):
        assert got[k] == want[k], k
    page = numrep.report(tmp_path / "py.db", tmp_path / "r.html")
    assert open(page).read(200).lower().startswith("<!doctype html>")
    cli("report", tmp_path / "py.db", "-o", tmp_path / "cli.html")  # the same page
    assert open(page, "rb").read() == (tmp_path / "cli.html").read_bytes()
    run = numrep.report(tmp_path / "py.db", tmp_path / "r1.html", run=got["run"])
    assert open(run, "rb").read() == open(page, "rb").read()  # the newest is that run
    with pytest.raises(numrep.RangeError, match="--max-loss"):
        numrep.search(net, "1x", data=data, db=tmp_path / "x.db")
    with pytest.raises(TypeError, match="bogus"):
        numrep.search(net, "1%", data=data, db=tmp_path / "x.db", bogus=3)
    with pytest.raises(numrep.FileError):
        numrep.report(tmp_path / "none.db", tmp_path / "x.html")
