"""test_models.py -- numrep.Model: run (the JIT) bit for bit `numrep run`'s
output on LeNet-5 and ResNet-20 at three precisions each; emulate equals
run and `numrep emulate`; precision as a format, a YAML file, a Format and
a dict; 4 Python threads running models at once give the same bits."""
import os
import threading

import numpy as np
import pytest

import numrep
from conftest import cli, same_bits, spec

NETS = {
    "lenet5": [None, "e4m3", "q4.11"],
    "resnet20": ["bf16", spec("resnet20", "e6m7.yaml"), "e5m2"],
}


def cli_run(net, prec, x_path, tmp_path, *extra):
    out = tmp_path / "y.npy"
    args = ["run", spec(net, net + ".yaml"), "--input", x_path, "-o", out] + list(extra)
    if prec:
        args += ["-p", prec]
    cli(*args)
    return np.load(out)


@pytest.mark.parametrize("net,prec", [(n, p) for n, ps in NETS.items() for p in ps])
def test_run_matches_cli_run(net, prec, tmp_path):
    x_path = spec(net, "sample.npy")
    x = np.load(x_path)
    m = numrep.Model(spec(net, net + ".yaml"), precision=prec)
    y = m.run(x)
    want = cli_run(net, prec, x_path, tmp_path)
    assert y.shape == want.shape and same_bits(y, want)
    # compile once, run many: a second call and a single sample agree
    assert same_bits(m.run(x), y)
    assert same_bits(m.run(np.ascontiguousarray(x[3])), y[3])
    m.close()


def test_emulate_matches_run_and_cli(tmp_path):
    x_path = spec("lenet5", "sample.npy")
    x = np.load(x_path)
    m = numrep.Model(spec("lenet5", "lenet5.yaml"), precision="e4m3")
    ye, st = m.emulate(x, stats=True)
    assert same_bits(ye, m.run(x))
    rows = cli("emulate", spec("lenet5", "lenet5.yaml"), "-p", "e4m3", "--input", x_path)
    want = np.array([[float(v) for v in r.split()] for r in rows.splitlines()], np.float32)
    assert same_bits(ye, want)
    assert st["samples"] == 8 and len(st["layers"]) == m.nlayers
    conv1 = st["layers"][0]
    assert conv1["name"] == "conv1" and conv1["out"]["events"] == 8 * 6 * 24 * 24
    assert conv1["prod"]["events"] == 8 * 6 * 24 * 24 * 25
    assert st["input"]["events"] == 8 * 28 * 28


def test_precision_forms_agree(tmp_path):
    x = np.load(spec("lenet5", "sample.npy"))
    net = spec("lenet5", "lenet5.yaml")
    text = ("default: {weights: e6m7-finite-nosub-sat, activations: same, products: e8m7,\n"
            "          accumulator: fp32, rounding: rz, mac: unfused}\n"
            "layers:\n  fc3: {weights: e4m3, rounding: sr}\nseed: 7\n")
    (tmp_path / "p.yaml").write_text(text)
    by_file = numrep.Model(net, precision=str(tmp_path / "p.yaml")).emulate(x)
    d = {"default": {"weights": "e6m7-finite-nosub-sat", "activations": "same",
                     "products": "e8m7", "accumulator": numrep.Format("fp32"),
                     "rounding": "rz", "mac": "unfused"},
         "layers": {"fc3": {"weights": "e4m3", "rounding": "sr"}}, "seed": 7}
    by_dict = numrep.Model(net, precision=d).emulate(x)
    assert same_bits(by_file, by_dict)
    assert not same_bits(by_file, numrep.Model(net, precision="e6m7").emulate(x))
    f = numrep.Format("e5m2")
    assert same_bits(numrep.Model(net, precision=f).emulate(x),
                     numrep.Model(net, precision="e5m2").emulate(x))


def test_random_weights_and_dense_pack_match_cli(tmp_path):
    x_path = spec("lenet5", "sample.npy")
    m = numrep.Model(spec("lenet5", "lenet5.yaml"), precision="e3m2", random_weights=5,
                     pack="dense", opt_level=1)
    want = cli_run("lenet5", "e3m2", x_path, tmp_path, "--random-weights", "5",
                   "--pack", "dense", "-O1")
    assert same_bits(m.run(np.load(x_path)), want)


def test_four_threads_same_bits():
    x = np.load(spec("lenet5", "sample.npy"))
    net = spec("lenet5", "lenet5.yaml")
    precs = ["e4m3", "bf16", "q4.11", "e5m2"]
    models = [numrep.Model(net, precision=p).compile() for p in precs]
    want = [m.run(x) for m in models]
    shared = models[0]
    got = {}
    errors = []

    def work(i):
        try:
            for k in range(5):
                got[(i, k, "own")] = models[i].run(x)
                got[(i, k, "shared")] = shared.run(x)  # one Model, 4 threads
        except Exception as ex:  # reported below, not lost in the thread
            errors.append(ex)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    for (i, k, kind), y in got.items():
        assert same_bits(y, want[i] if kind == "own" else want[0]), (i, k, kind)


def test_model_close_and_context():
    with numrep.Model(spec("lenet5", "lenet5.yaml")) as m:
        assert m.input_shape == (1, 28, 28) and m.output_shape == (10, 1, 1)
    with pytest.raises(ValueError, match="closed"):
        m.run(np.zeros((1, 1, 28, 28), np.float32))


@pytest.mark.skipif(not os.environ.get("NUMREP_EXHAUSTIVE"), reason="NUMREP_EXHAUSTIVE=1")
def test_run_batch_100_resnet20(tmp_path):
    x = np.load(spec("resnet20", "sample.npy"))
    xb = np.ascontiguousarray(np.tile(x, (13, 1, 1, 1))[:100])
    np.save(tmp_path / "x.npy", xb)
    m = numrep.Model(spec("resnet20", "resnet20.yaml"), precision="bf16")
    assert same_bits(m.run(xb), cli_run("resnet20", "bf16", tmp_path / "x.npy", tmp_path))
