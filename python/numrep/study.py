"""study.py -- experiments over runtime/study, gen/back and gen/onnx: the
MAC cost model (cost.h), the precision search (search_job.h, as `numrep
search`), the HTML report (report_page.h, as `numrep report`), ONNX import
(onnx_write.h, as `numrep import`) and PyTorch modules through
torch.onnx.export.  Each is the C function the command calls."""
import ctypes
import json
import os
import tempfile

from . import _lib
from ._lib import NrErr, check
from .formats import as_format
from ._progress import Callback

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


class _OnnxInput(ctypes.Structure):
    """gen/onnx/onnx_write.h's nr_onnx_input."""
    _fields_ = [("divisor", ctypes.c_double), ("nmean", ctypes.c_int), ("nstd", ctypes.c_int),
                ("mean", ctypes.c_double * 3), ("std", ctypes.c_double * 3),
                ("resize", ctypes.c_int), ("crop_h", ctypes.c_int), ("crop_w", ctypes.c_int),
                ("dataset", ctypes.c_char_p)]


_PATH_MAX = 4096  # <limits.h>


class _OnnxWritten(ctypes.Structure):
    """gen/onnx/onnx_write.h's nr_onnx_written."""
    _fields_ = [("yaml", ctypes.c_char * _PATH_MAX), ("weights", ctypes.c_char * _PATH_MAX),
                ("nlayers", ctypes.c_int), ("ntensors", ctypes.c_int),
                ("nvalues", ctypes.c_uint64), ("opset", ctypes.c_int64)]


def _numbers(field, v):
    """One number or up to 3 (one per channel) -> a tuple of floats."""
    vals = tuple(v) if isinstance(v, (list, tuple)) else (v,)
    if not 1 <= len(vals) <= 3 or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in vals):
        raise TypeError("numrep.import_onnx: %s must be a number or 1 to 3 numbers, got %r"
                        % (field, v))
    return vals


def _positive(field, v, types=(int,)):
    """A positive number (0 means "not given" in nr_onnx_input, so it is refused here)."""
    if isinstance(v, bool) or not isinstance(v, types):
        raise TypeError("numrep.import_onnx: %s must be %s, got %r"
                        % (field, "a number" if float in types else "an integer", v))
    if not v > 0:
        raise _lib.RangeError("numrep.import_onnx: %s: expected a positive value, got %r"
                              % (field, v), 2, where=field)
    return v


def import_onnx(path, out_dir, name=None, divisor=None, mean=None, std=None, resize=None,
                crop=None, dataset=None):
    """Convert an ONNX model into out_dir/NAME.yaml + NAME.safetensors, as
    `numrep import MODEL -o DIR [--name NAME] [--divisor D] [--mean M]
    [--std S] [--resize N] [--crop HxW] [--dataset PATH]` (the same C
    function, nr_onnx_import_dir): NAME defaults to the directory's name;
    the preprocessing (an ONNX file does not record it) goes into the spec's
    `input:` (mean/std: a number or one per channel; crop: N or (H, W)).
    The written spec is loaded back; on failure nothing is left.  Returns
    the spec's path (give it to numrep.Model)."""
    path, out_dir = os.fspath(path), os.fspath(out_dir)
    if name is not None and not isinstance(name, str):
        raise TypeError("numrep.import_onnx: name must be a str")
    inp = _OnnxInput()
    if divisor is not None:
        inp.divisor = _positive("divisor", divisor, (int, float))
    for field, v in (("mean", mean), ("std", std)):
        if v is not None:
            vals = _numbers(field, v)
            setattr(inp, "n" + field, len(vals))
            getattr(inp, field)[:len(vals)] = vals
    if resize is not None:
        inp.resize = _positive("resize", resize)
    if crop is not None:
        hw = tuple(crop) if isinstance(crop, (list, tuple)) else (crop, crop)
        if len(hw) != 2:
            raise TypeError("numrep.import_onnx: crop must be N or (H, W), got %r" % (crop,))
        inp.crop_h, inp.crop_w = (_positive("crop", x) for x in hw)
    if dataset is not None:
        inp.dataset = os.fspath(dataset).encode()
    G = _lib.genlib()
    w = _OnnxWritten()
    e = NrErr()
    check(G.nr_onnx_import_dir(path.encode(), out_dir.encode(),
                               name.encode() if name is not None else None, ctypes.byref(inp),
                               ctypes.byref(w), ctypes.byref(e)), e)
    return w.yaml.decode()


_IMPORT_OPTIONS = ("divisor", "mean", "std", "resize", "crop", "dataset")


def from_torch(module, example_input, out_dir=None, name="model", precision=None,
               **options):
    """A torch.nn.Module as a numrep.Model: exported with torch.onnx.export
    (eval mode, the example input's shape), imported as import_onnx does
    (its preprocessing options divisor, mean, std, resize, crop, dataset go
    into the spec, as `numrep import`'s do), built with precision and the
    other options (Model's: random_weights, opt_level, pack).  out_dir:
    where the spec and weights go (default a temporary directory, kept for
    the Model's life)."""
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
    imp = {k: options.pop(k) for k in _IMPORT_OPTIONS if k in options}
    spec = import_onnx(onnx_path, os.path.join(out_dir, name), name=name, **imp)
    m = Model(spec, precision=precision, **options)
    m._tmpdir = tmp  # removed with the Model
    return m


# ---------------------------------------------------------------- search, report

def _option_value(v, cmd="search"):
    """A Python option value as the command line's text (None: a flag)."""
    if v is True:
        return None
    if isinstance(v, (os.PathLike, str)):
        return os.fspath(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, (tuple, list)) and len(v) == 2:  # exp=(3, 6) -> "3:6"
        return "%d:%d" % (int(v[0]), int(v[1]))
    raise TypeError("numrep.%s: option value %r: expected a str, number, path, True or "
                    "(lo, hi)" % (cmd, v))


class _Job:
    """A gen_search_job / gen_cal_job on the heap (gen/back/*_job.h), its
    options set by long name ("max-loss"; Python's max_loss), freed on
    exit.  The command line sets the same options through the same
    parser."""

    def __init__(self, G, cmd, options):
        self.G, self.cmd, self.err = G, cmd, NrErr()
        pre = "gen_search_job" if cmd == "search" else "gen_cal_job"
        self.takes, self.set = getattr(G, pre + "_takes"), getattr(G, pre + "_set")
        self.free = getattr(G, pre + "_free")
        self.h = getattr(G, pre + "_new")()
        if not self.h:
            raise MemoryError("numrep.%s: out of memory" % cmd)
        try:
            for name, v in options:
                self._set(name.replace("_", "-"), v)
        except BaseException:
            self.free(self.h)
            raise

    def _set(self, name, v):
        if v is None or v is False:
            return
        if self.takes(name.encode()) < 0:
            raise TypeError("numrep.%s: unknown option %r" % (self.cmd, name.replace("-", "_")))
        val = _option_value(v, self.cmd)
        check(self.set(self.h, name.encode(), None if val is None else val.encode(),
                       ctypes.byref(self.err)), self.err)

    def answer(self, text):
        """The job's JSON answer (malloc'ed text, NULL: raise its error)."""
        if not text:
            _lib.raise_err(self.err)
        try:
            return json.loads(ctypes.string_at(text).decode())
        finally:
            _lib.libc_free(text)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free(self.h)


def search(spec, max_loss, data=None, db="numrep-results.db", method="fast", jobs=1,
           progress=None, **options):
    """The fastest format whose normalized top-1 is within max_loss (a
    fraction 0.01, or "1%") on data, as `numrep search SPEC --max-loss L
    --json` (the same C function, gen_search_job_run): further options by
    their long name with "_" for "-" (per_layer=True, limit=200,
    grid="float", exp="3:6" or (3, 6), engine="jit-O1", samples=10,
    predictor=PATH, ...; False/None leave an option out).  Every evaluation
    goes to the results store db, and a rerun answers from it.  Returns the
    command's JSON answer as a dict: "found" False when no format meets the
    budget; "precision_yaml" the answer as a precision file.  A bad option
    raises numrep.RangeError (a ValueError) naming it.  progress: None,
    True (the command line's progress lines on stderr) or a callable
    progress(phase, done, total), called as the search goes (phase "R^2
    sweep", "evaluate CONFIG", ...); what it raises is raised when the
    search returns."""
    if isinstance(max_loss, bool) or not isinstance(max_loss, (str, int, float)):
        raise TypeError("numrep.search: max_loss must be a number or a str like '1%%', got %r"
                        % (max_loss,))
    G = _lib.genlib()
    cb = Callback(progress)
    opts = [("net", spec), ("max-loss", max_loss), ("db", db), ("method", method),
            ("jobs", jobs), ("data", data)]
    with _Job(G, "search", opts + list(options.items())) as job:
        G.gen_search_job_progress(job.h, cb.c, None)
        status = ctypes.c_int()
        answer = job.answer(G.gen_search_job_json(job.h, ctypes.byref(status),
                                                  ctypes.byref(job.err)))
    cb.check()
    if status.value == 4:
        answer["stopped"] = True
    return answer


def report(db, path, run=None):
    """The self-contained HTML report of a results store, as `numrep report
    DB -o PATH [--run ID]` (the same C function, gen_report_page); run: the
    run to report (default the newest finished).  Returns path."""
    if run is not None and (isinstance(run, bool) or not isinstance(run, int) or run <= 0):
        raise ValueError("numrep.report: run must be a positive run id, got %r" % (run,))
    e = NrErr()
    check(_lib.genlib().gen_report_page(os.fspath(db).encode(), run or 0,
                                        os.fspath(path).encode(), None, ctypes.byref(e)), e)
    return os.fspath(path)


# ---------------------------------------------------------------- calibrate

def calibrate(spec, precision, out, data=None, samples=None, first=None, method="amax",
              engine="jit", jobs=1, progress=None, **options):
    """Static activation scales of a scaled precision (docs/semantics.md
    [scl-cal-*]), as `numrep calibrate SPEC -p PRECISION -o OUT [--data D]
    [--samples N] [--first K] [--method M] [--engine E] [--jobs N]` (the
    same C function, gen_cal_job_run): the fp32 network runs over the
    calibration samples, and PRECISION (a YAML file or a format name such as
    "int8@channel") is written to OUT with every per-tensor activation scale
    static and filled in; OUT is loaded back with the network.  method:
    "amax", "percentile:P" or "mse"; options: rounding, mac, random_weights,
    max_memory (bytes).  progress: None, True (progress lines on stderr) or
    progress("calibrate", done, total).  Returns a dict: out, data, method,
    engine, first, samples, seconds, tensors (a list of {name, layer,
    format, count, amax, threshold, scale}), scales ({name: scale}) and
    precision_yaml (the file's text); give out to Model(precision=...)."""
    if isinstance(precision, (dict,)) or precision is None:
        raise TypeError("numrep.calibrate: precision must be a precision file or a format name")
    from .formats import Format
    if isinstance(precision, Format):
        precision = str(precision)
    G = _lib.genlib()
    cb = Callback(progress, phase="calibrate")
    opts = [("net", spec), ("precision", precision), ("out", out), ("data", data),
            ("samples", samples), ("first", first), ("method", method), ("engine", engine),
            ("jobs", jobs)]
    with _Job(G, "calibrate", opts + list(options.items())) as job:
        G.gen_cal_job_progress(job.h, cb.c, None)
        answer = job.answer(G.gen_cal_job_json(job.h, ctypes.byref(job.err)))
    cb.check()
    answer["scales"] = {t["name"]: t["scale"] for t in answer["tensors"]}
    return answer
