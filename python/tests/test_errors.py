"""test_errors.py -- every class of bad argument raises the documented
exception (python/README.md, "Errors"), carrying numrep's message where the
library found the problem; none crashes the interpreter."""
import numpy as np
import pytest

import numrep
from conftest import spec

X = np.zeros((2, 1, 28, 28), np.float32)


@pytest.fixture(scope="module")
def lenet():
    return numrep.Model(spec("lenet5", "lenet5.yaml"), precision="e4m3", opt_level=0)


def test_unknown_format():
    with pytest.raises(numrep.ParseError, match='format "e4m3x": unexpected "x"') as ex:
        numrep.Format("e4m3x")
    assert isinstance(ex.value, ValueError) and ex.value.codename == "syntax"
    with pytest.raises(numrep.RangeError, match="mantissa bits 99"):
        numrep.round(np.float32([1]), "e4m99")
    with pytest.raises(TypeError):
        numrep.Format(4)


def test_bad_rounding_seed_threads():
    x = np.float32([1.5])
    with pytest.raises(ValueError, match="rounding must be one of"):
        numrep.round(x, "e4m3", rounding="nearest")
    with pytest.raises(TypeError, match="seed"):
        numrep.round(x, "e4m3", "sr", seed=1.5)
    with pytest.raises(ValueError, match="seed"):
        numrep.round(x, "e4m3", "sr", seed=-1)
    with pytest.raises(TypeError, match="threads"):
        numrep.round(x, "e4m3", threads="4")


def test_wrong_dtype_and_noncontiguous():
    with pytest.raises(TypeError, match="expected dtype float32 or float64, got int32"):
        numrep.round(np.arange(4, dtype=np.int32), "e4m3")
    with pytest.raises(TypeError, match="expected dtype uint8, got uint16"):
        numrep.decode(np.zeros(4, np.uint16), "e4m3")
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        numrep.decode(np.zeros(4, np.uint8), "e4m3", dtype=np.float16)
    with pytest.raises(TypeError):
        numrep.round(["a", "b"], "e4m3")
    with pytest.raises(ValueError, match="not C-contiguous"):
        numrep.round(np.zeros((4, 4), np.float32)[:, 1], "e4m3")
    with pytest.raises(ValueError, match="not C-contiguous"):
        numrep.encode(np.zeros((4, 4))[::2], "e4m3")
    with pytest.raises(ValueError, match="not C-contiguous"):
        numrep.add(np.zeros((4, 4))[:, 0], 1.0, "e4m3")
    with pytest.raises(ValueError):  # shapes that do not broadcast
        numrep.mul(np.zeros(3), np.zeros(4), "e4m3")


def test_model_bad_inputs(lenet):
    with pytest.raises(TypeError, match="float32"):
        lenet.run(X.astype(np.float64))
    with pytest.raises(TypeError, match="ndarray"):
        lenet.run([[0.0]])
    with pytest.raises(numrep.ShapeError, match=r"expected \[N,1,28,28\]"):
        lenet.run(np.zeros((2, 3, 28, 28), np.float32))
    with pytest.raises(numrep.ShapeError):
        lenet.emulate(np.zeros((0, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match="not C-contiguous"):
        lenet.run(np.zeros((2, 1, 28, 56), np.float32)[..., ::2])


def test_model_bad_files(tmp_path):
    with pytest.raises(numrep.FileError, match="nope.yaml") as ex:
        numrep.Model(str(tmp_path / "nope.yaml"))
    assert isinstance(ex.value, OSError)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ninput: {shape: [1, 4, 4]}\nlayers:\n  - {name: c, op: convv}\n")
    with pytest.raises(numrep.Error) as ex:
        numrep.Model(str(bad), random_weights=1)
    assert ex.value.file.endswith("bad.yaml") and ex.value.line == 4
    assert "convv" in str(ex.value)
    with pytest.raises(numrep.Error, match="layers.nosuch"):
        numrep.Model(spec("lenet5", "lenet5.yaml"),
                     precision={"default": {"weights": "e4m3"}, "layers": {"nosuch": {}}})
    with pytest.raises(numrep.ParseError, match="<precision dict>"):
        numrep.Model(spec("lenet5", "lenet5.yaml"), precision={"default": {"weights": "e4m3q"}})


def test_model_bad_arguments():
    net = spec("lenet5", "lenet5.yaml")
    with pytest.raises(TypeError, match="precision"):
        numrep.Model(net, precision=3)
    with pytest.raises(TypeError, match="precision dict holds"):
        numrep.Model(net, precision={"default": {"weights": object()}})
    with pytest.raises(ValueError, match="opt_level"):
        numrep.Model(net, opt_level=5)
    with pytest.raises(ValueError, match="pack"):
        numrep.Model(net, pack="tight")
    with pytest.raises(TypeError, match="random_weights"):
        numrep.Model(net, random_weights=-1)
    with pytest.raises(TypeError, match="spec"):
        numrep.Model(None)
