"""study.py -- experiments over runtime/study and gen/onnx: the MAC cost
model (cost.h), ONNX import (onnx_import.h, as `numrep import`) and PyTorch
modules through torch.onnx.export."""
import ctypes
import os
import tempfile

from . import _lib
from ._lib import NrErr, check
from .formats import as_format

_METRICS = ("area", "delay", "energy")


class _Cost(ctypes.Structure):
    """runtime/study/cost.h's nr_cost (doubles only)."""
    _fields_ = [("mul", ctypes.c_double * 3), ("add", ctypes.c_double * 3),
                ("mac", ctypes.c_double * 3), ("ref", ctypes.c_double * 3),
                ("area_ratio", ctypes.c_double), ("clock_gain", ctypes.c_double),
                ("speedup", ctypes.c_double), ("speedup_fixed_clock", ctypes.c_double),
                ("energy_ratio", ctypes.c_double)]


def cost(fmt, products=None, accumulator=None):
    """Cost of one MAC unit in fmt (products / accumulator: other formats
    for those roles, default fmt) under the shipped 45 nm model, as
    `numrep cost`: a dict with mul, add, mac, ref (each {area um^2, delay
    ns, energy pJ}) and the ratios to fp32 (area_ratio, clock_gain,
    speedup, speedup_fixed_clock, energy_ratio; > 1 is better)."""
    L = _lib.lib()
    fs = [as_format(f) if f is not None else None for f in (fmt, products, accumulator)]
    out = _Cost()
    e = NrErr()
    model = ctypes.c_void_p.in_dll(L, "nr_cost_default")
    check(L.nr_cost_mac(ctypes.byref(model), fs[0]._h, fs[1]._h if fs[1] else None,
                        fs[2]._h if fs[2] else None, ctypes.byref(out), ctypes.byref(e)), e)
    r = {k: dict(zip(_METRICS, getattr(out, k))) for k in ("mul", "add", "mac", "ref")}
    for k in ("area_ratio", "clock_gain", "speedup", "speedup_fixed_clock", "energy_ratio"):
        r[k] = getattr(out, k)
    r["format"] = str(fs[0])
    return r


class _OnnxImport(ctypes.Structure):
    """gen/onnx/onnx_import.h's nr_onnx_import."""
    _fields_ = [("spec", ctypes.c_char_p), ("nlayers", ctypes.c_int), ("ntensors", ctypes.c_int),
                ("tensors", ctypes.c_void_p), ("nvalues", ctypes.c_uint64),
                ("opset", ctypes.c_int64)]


def import_onnx(path, out_dir, name=None):
    """Convert an ONNX model into out_dir/NAME.yaml + NAME.safetensors, as
    `numrep import MODEL -o DIR [--name NAME]` (NAME defaults to the
    directory's name).  Returns the spec's path (give it to numrep.Model)."""
    path, out_dir = os.fspath(path), os.fspath(out_dir)
    name = name or os.path.basename(os.path.normpath(out_dir))
    if not name or name in (".", "..") or "/" in name:
        raise ValueError("numrep.import_onnx: cannot take a spec name from %r; give name=" % out_dir)
    G = _lib.genlib()
    L = _lib.lib()
    r = _OnnxImport()
    e = NrErr()
    wfile = name + ".safetensors"
    check(G.nr_onnx_import_file(path.encode(), name.encode(), wfile.encode(), ctypes.byref(r),
                                ctypes.byref(e)), e)
    try:
        os.makedirs(out_dir, exist_ok=True)
        ypath = os.path.join(out_dir, name + ".yaml")
        wpath = os.path.join(out_dir, wfile)
        if r.ntensors:
            check(L.nr_safetensors_write_f32(wpath.encode(), r.tensors, r.ntensors,
                                             ctypes.byref(e)), e)
        with open(ypath, "wb") as f:
            f.write(r.spec)
    finally:
        G.nr_onnx_import_free(ctypes.byref(r))
    return ypath


def from_torch(module, example_input, out_dir=None, name="model", precision=None, **model_args):
    """A torch.nn.Module as a numrep.Model: exported with torch.onnx.export
    (eval mode, the example input's shape), imported as import_onnx does,
    built with precision.  out_dir: where the spec and weights go (default
    a temporary directory, kept for the Model's life)."""
    try:
        import torch
    except ImportError as ex:
        raise ImportError("numrep.from_torch needs PyTorch (apt-get install python3-torch)") from ex
    from .model import Model
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="numrep-torch-")
        out_dir = tmp.name
    onnx_path = os.path.join(out_dir, name + ".onnx")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            torch.onnx.export(module, example_input, onnx_path, input_names=["input"],
                              output_names=["output"], opset_version=13)
    finally:
        module.train(was_training)
    spec = import_onnx(onnx_path, os.path.join(out_dir, name), name=name)
    m = Model(spec, precision=precision, **model_args)
    m._tmpdir = tmp  # removed with the Model
    return m
