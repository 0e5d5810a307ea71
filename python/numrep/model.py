"""model.py -- networks: numrep.Model over model.h (load and build), the
emulator (runtime/emu) and the JIT (gen/lower/model_gen.h, libnumrep_gen.so).

Compile once, run many: the first run() compiles with LLVM (or call
compile()); later calls reuse the native code.  run() releases the GIL
(ctypes) and uses the compiled model's thread pool; when another Python
thread is already running the same Model, the call runs single-threaded in
its own arena instead (gen_compiled_run_arena), so any number of threads
may share one Model."""
import ctypes
import json
import os
import re
import threading

import numpy as np

from . import _lib
from ._lib import NrErr, check, ptr
from .formats import Format

_COUNT_FIELDS = ("events", "overflow", "saturated", "flushed", "nan")
_ROLES = ("weights", "prod", "sum", "out")


class _GenOpts(ctypes.Structure):
    """gen/lower/model_gen.h's gen_model_opts."""
    _fields_ = [("opt_level", ctypes.c_int), ("pack_dense", ctypes.c_int),
                ("triple", ctypes.c_char_p), ("cpu", ctypes.c_char_p),
                ("features", ctypes.c_char_p), ("portable", ctypes.c_int)]


def _path(p, what):
    if isinstance(p, os.PathLike):
        p = os.fspath(p)
    if not isinstance(p, str):
        raise TypeError("numrep.Model: %s must be a path (str), got %s" % (what, type(p).__name__))
    return p


_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+%-]*$")


def _yaml(v):
    """A dict / list / scalar as YAML flow text: strings plain where YAML
    reads them back as the same plain scalar (the precision parser tells
    `same` from "same"), else double-quoted."""
    if isinstance(v, dict):
        return "{" + ", ".join("%s: %s" % (_yaml(str(k)), _yaml(x)) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, Format):
        v = str(v)
    if isinstance(v, str):
        return v if _PLAIN.match(v) else json.dumps(v)
    raise TypeError("numrep.Model: precision dict holds a %s (expected str, number, dict, "
                    "list)" % type(v).__name__)


class Model:
    """Model(spec, precision=None, random_weights=None, opt_level=2, pack="container")

    spec: the network YAML (specs/lenet5/lenet5.yaml).  precision: None
    (fp32), a format name or Format ("e4m3": every role, rne), a precision
    YAML path ("e6m7.yaml"), or a dict with the YAML's structure
    ({"default": {"weights": "e4m3", ...}, "layers": {...}}).  random_weights:
    a seed for deterministic random weights instead of the spec's weights
    file (as --random-weights).  opt_level and pack: as `numrep run -O` and
    `--pack dense|container`.  Errors raise numrep.Error subclasses carrying
    numrep's message (file:line:col: field: what was expected)."""

    def __init__(self, spec, precision=None, random_weights=None, opt_level=2, pack="container"):
        spec = _path(spec, "spec")
        if opt_level not in (0, 1, 2, 3):
            raise ValueError("numrep.Model: opt_level must be 0..3, got %r" % (opt_level,))
        if pack not in ("container", "dense"):
            raise ValueError("numrep.Model: pack must be 'container' or 'dense', got %r" % (pack,))
        seed = 0
        if random_weights is not None:
            if isinstance(random_weights, bool) or not isinstance(random_weights, int) \
                    or not 0 <= random_weights < 1 << 64:
                raise TypeError("numrep.Model: random_weights must be an integer seed in "
                                "[0, 2**64)")
            seed = random_weights or 1  # as the CLI: 0 counts as 1
        self._m = ctypes.c_void_p()
        self._c = ctypes.c_void_p()
        self._tmpdir = None
        self._lock = threading.Lock()
        self._opts = _GenOpts(opt_level=opt_level, pack_dense=int(pack == "dense"))
        L = _lib.lib()
        e = NrErr()
        if isinstance(precision, dict):
            self._build_from_dict(spec, precision, seed, e)
        else:
            if isinstance(precision, Format):
                precision = str(precision)
            elif isinstance(precision, os.PathLike):
                precision = os.fspath(precision)
            if precision is not None and not isinstance(precision, str):
                raise TypeError("numrep.Model: precision must be a format name, a YAML path "
                                "or a dict, got %s" % type(precision).__name__)
            check(L.nr_model_load_seeded(spec.encode(), precision.encode() if precision else None,
                                         seed, ctypes.byref(self._m), ctypes.byref(e)), e)
        ins, outs = (ctypes.c_int * 3)(), (ctypes.c_int * 3)()
        self.nlayers = L.nr_api_model_info(self._m, ins, outs)
        self.input_shape, self.output_shape = tuple(ins), tuple(outs)
        self.layer_names = [L.nr_api_model_layer_name(self._m, i).decode()
                            for i in range(self.nlayers)]

    def _build_from_dict(self, spec, precision, seed, e):
        L = _lib.lib()
        text = _yaml(precision)
        s, p = ctypes.c_void_p(), ctypes.c_void_p()
        check(L.nr_spec_load(spec.encode(), ctypes.byref(s), ctypes.byref(e)), e)
        rc = L.nr_precision_parse_string(text.encode(), b"<precision dict>", ctypes.byref(p),
                                         ctypes.byref(e))
        if rc:
            L.nr_spec_free(s)
            check(rc, e)
        check(L.nr_model_build(s, p, None, seed, ctypes.byref(self._m), ctypes.byref(e)), e)

    # ------------------------------------------------------------ lifetime
    def close(self):
        """Free the compiled code and the model (also done by the GC)."""
        if getattr(self, "_c", None):
            _lib.genlib().gen_compiled_free(self._c)
            self._c = None
        if getattr(self, "_m", None):
            _lib.lib().nr_model_free(self._m)
            self._m = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _alive(self):
        if not self._m:
            raise ValueError("numrep.Model: the model was closed")

    # ------------------------------------------------------------ inputs
    def _input(self, x, what):
        if not isinstance(x, np.ndarray):
            raise TypeError("numrep.Model.%s: expected a float32 ndarray, got %s"
                            % (what, type(x).__name__))
        if x.dtype != np.float32:
            raise TypeError("numrep.Model.%s: expected dtype float32, got %s" % (what, x.dtype))
        if not x.flags.c_contiguous:
            raise ValueError("numrep.Model.%s: the array is not C-contiguous "
                             "(use np.ascontiguousarray)" % what)
        c, h, w = self.input_shape
        if x.ndim == 3 and x.shape == (c, h, w):
            return x, 1, True
        if x.ndim == 4 and x.shape[1:] == (c, h, w) and 1 <= x.shape[0] <= 0x7fffffff:
            return x, x.shape[0], False
        raise _lib.ShapeError("numrep.Model.%s: expected [N,%d,%d,%d] or [%d,%d,%d] (the network "
                              "input), got %s" % (what, c, h, w, c, h, w, list(x.shape)),
                              3, where="shape")

    def _output(self, n, single):
        k, h, w = self.output_shape
        shape = (k,) if h == 1 and w == 1 else (k, h, w)
        return np.empty(shape if single else (n,) + shape, dtype=np.float32)

    # ------------------------------------------------------------ the JIT
    def compile(self):
        """Compile with the LLVM JIT now (run() does it on first use)."""
        self._alive()
        with self._lock:
            if not self._c:
                G = _lib.genlib()
                e = NrErr()
                c = ctypes.c_void_p()
                check(G.gen_model_compile(self._m, ctypes.byref(self._opts), ctypes.byref(c),
                                          ctypes.byref(e)), e)
                self._c = c
        return self

    def set_threads(self, threads):
        """Threads of the compiled model's pool (0: all cores)."""
        self.compile()
        e = NrErr()
        check(_lib.genlib().gen_compiled_set_threads(self._c, int(threads), ctypes.byref(e)), e)

    def run(self, x):
        """Outputs of the compiled model, bit for bit `numrep run`'s: x is
        float32 [N,C,H,W] or [C,H,W]; the result float32 [N,K] (dense output)
        or [N,C,H,W] (without N for a single sample)."""
        self._alive()
        x, n, single = self._input(x, "run")
        if not self._c:
            self.compile()
        out = self._output(n, single)
        G = _lib.genlib()
        if self._lock.acquire(blocking=False):
            try:
                e = NrErr()
                check(G.gen_compiled_run(self._c, ptr(x), ptr(out), n, ctypes.byref(e)), e)
            finally:
                self._lock.release()
        else:  # another thread runs this model: a private arena, one thread
            size = int(G.gen_compiled_arena_size(self._c))
            buf = np.empty(size + 64, dtype=np.uint8)
            arena = (-buf.ctypes.data) % 64
            rc = G.gen_compiled_run_arena(self._c, ptr(x), ptr(out), n,
                                          ctypes.c_void_p(buf.ctypes.data + arena))
            if rc:
                raise _lib.InternalError("numrep.Model.run: compiled model returned %d" % rc, 8)
        return out

    __call__ = run

    # ------------------------------------------------------------ the emulator
    def emulate(self, x, stats=False):
        """Outputs of the reference emulator (same shapes as run()); with
        stats=True, (outputs, stats): stats["input"] and per layer
        stats["layers"][i] = {"name", "weights", "prod", "sum", "out"}, each a
        dict of counts (events overflow saturated flushed nan) as `numrep
        emulate --stats` prints them; stats["samples"]."""
        self._alive()
        x, n, single = self._input(x, "emulate")
        out = self._output(n, single)
        counts = np.zeros((1 + 4 * self.nlayers) * 5 + 1, dtype=np.uint64) if stats else None
        e = NrErr()
        check(_lib.lib().nr_api_emulate(self._m, ptr(x), n, ptr(out),
                                        ptr(counts) if stats else None, ctypes.byref(e)), e)
        if not stats:
            return out
        rows = counts[:-1].reshape(-1, 5)

        def d(r):
            return {k: int(v) for k, v in zip(_COUNT_FIELDS, r)}
        layers = []
        for i, name in enumerate(self.layer_names):
            entry = {"name": name}
            for j, role in enumerate(_ROLES):
                entry[role] = d(rows[1 + 4 * i + j])
            layers.append(entry)
        return out, {"input": d(rows[0]), "layers": layers, "samples": int(counts[-1])}

    # ------------------------------------------------------------ accuracy
    def eval(self, data=None, limit=None, first=0, engine="jit", jobs=1):
        """Top-1 / top-5 accuracy on a labeled data set, as `numrep eval`
        (data: a dataset path as --data; None: the spec's `dataset:`;
        inputs preprocessed as the spec declares).  engine: "jit",
        "jit-O0".."jit-O3" or "emulator".  Returns a dict: samples, top1,
        top5 (counts), top1_acc, top5_acc, classes, stopped, seconds."""
        self._alive()
        if data is None:
            raise ValueError("numrep.Model.eval: give data= (a dataset path, as --data)")
        data = _path(data, "data")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError("numrep.Model.eval: limit must be a non-negative integer")
        if not isinstance(first, int) or first < 0:
            raise ValueError("numrep.Model.eval: first must be a non-negative integer")
        if not isinstance(engine, str):
            raise TypeError("numrep.Model.eval: engine must be a str")
        G = _lib.genlib()
        L = _lib.lib()
        eng = (ctypes.c_void_p * 4)()  # runtime/study/eval.h's nr_engine
        e = NrErr()
        check(G.gen_engine_open(engine.encode(), self._m, eng, ctypes.byref(e)), e)
        res = (ctypes.c_int64 * 5)()
        secs = ctypes.c_double()
        try:
            check(L.nr_api_eval(self._m, eng, data.encode(), first, limit or 0, int(jobs), res,
                                ctypes.byref(secs), ctypes.byref(e)), e)
        finally:
            L.nr_engine_close(eng)
        n = res[0]
        return {"samples": n, "top1": res[1], "top5": res[2],
                "top1_acc": res[1] / n if n else float("nan"),
                "top5_acc": res[2] / n if n else float("nan"),
                "stopped": bool(res[3]), "classes": res[4], "seconds": secs.value,
                "engine": engine}

    def __repr__(self):
        return "numrep.Model(%d layers, input %s, output %s)" % (
            self.nlayers, list(self.input_shape), list(self.output_shape))
