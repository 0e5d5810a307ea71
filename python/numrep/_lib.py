"""_lib.py -- finding and loading libnumrep.so / libnumrep_gen.so, the ctypes
prototypes of the C functions the package calls, and nr_err -> exceptions.

Search order for libnumrep.so (libnumrep_gen.so is looked up the same way
with NUMREP_GEN_LIB, and beside libnumrep.so):
  1. $NUMREP_LIB (a path to the file)
  2. next to the package: <package>/, then the install prefix's lib/ when
     the package sits in <prefix>/lib/pythonX.Y/{site,dist}-packages/numrep
  3. the source tree's build directory: <package>/../../build/
  4. the system's library path (ctypes.util.find_library)
The generator library is loaded only when a model is compiled, so formats
work without LLVM in the process."""
import ctypes
import ctypes.util
import os
import threading

from ctypes import (POINTER, c_char, c_char_p, c_double, c_int, c_int64, c_size_t,
                    c_uint32, c_uint64, c_void_p)

_HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- errors

class Error(Exception):
    """An error reported by libnumrep: code (NR_E* number), codename, file,
    line, col, where, msg; str() is numrep's own "file:line:col: where: msg"."""

    def __init__(self, message, code=0, file="", line=0, col=0, where="", msg=""):
        super().__init__(message)
        self.code, self.file, self.line, self.col = code, file, line, col
        self.where, self.msg = where, msg or message

    @property
    def codename(self):
        return _CODENAMES.get(self.code, "error")


class ParseError(Error, ValueError):
    """Malformed text: a format name, YAML, a number (NR_ESYNTAX)."""


class RangeError(Error, ValueError):
    """A value outside what is allowed (NR_ERANGE)."""


class ShapeError(Error, ValueError):
    """Tensor shapes that do not fit (NR_ESHAPE)."""


class FileError(Error, OSError):
    """A file that could not be read or written (NR_EIO)."""


class OutOfMemory(Error, MemoryError):
    """Allocation failed (NR_ENOMEM)."""


class CorruptError(Error, ValueError):
    """A binary file that contradicts itself (NR_ECORRUPT)."""


class UnsupportedError(Error, NotImplementedError):
    """Valid but not supported (NR_EUNSUP)."""


class InternalError(Error, RuntimeError):
    """numrep's own failure (NR_EINTERNAL)."""


_CLASSES = {1: ParseError, 2: RangeError, 3: ShapeError, 4: FileError, 5: OutOfMemory,
            6: CorruptError, 7: UnsupportedError, 8: InternalError}
_CODENAMES = {1: "syntax", 2: "range", 3: "shape", 4: "io", 5: "nomem", 6: "corrupt",
              7: "unsupported", 8: "internal"}


class NrErr(ctypes.Structure):
    """runtime/num/numrep.h's nr_err (plain fixed-size fields)."""
    _fields_ = [("code", c_int), ("file", c_char * 256), ("line", c_int), ("col", c_int),
                ("where", c_char * 96), ("msg", c_char * 256)]


def raise_err(e, rc=None):
    """Raise the exception for a filled nr_err (rc: the function's return)."""
    buf = ctypes.create_string_buffer(1024)
    lib().nr_err_format(ctypes.byref(e), buf, len(buf))
    code = e.code or (-rc if rc and rc < 0 else 8)
    text = buf.value.decode("utf-8", "replace") or "numrep error %d" % code
    cls = _CLASSES.get(code, Error)
    raise cls(text, code, e.file.decode("utf-8", "replace"), e.line, e.col,
              e.where.decode("utf-8", "replace"), e.msg.decode("utf-8", "replace"))


def check(rc, e):
    """rc < 0 (or a recorded error) -> exception."""
    if rc is not None and rc < 0 or e.code:
        raise_err(e, rc)
    return rc


# ---------------------------------------------------------------- loading

def _candidates(env, name):
    path = os.environ.get(env)
    if path:
        yield path
        return
    yield os.path.join(_HERE, name)
    parts = _HERE.split(os.sep)
    # <prefix>/lib/pythonX.Y/site-packages/numrep -> <prefix>/lib
    for up in (3, 4):
        if len(parts) > up:
            yield os.path.join(os.sep.join(parts[:-up]), name)
    yield os.path.normpath(os.path.join(_HERE, "..", "..", "build", name))
    found = ctypes.util.find_library(name[3:-3])
    if found:
        yield found


def _load(env, name):
    tried = []
    for path in _candidates(env, name):
        if os.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            # RTLD_GLOBAL: the JIT resolves libc/libm symbols from the process
            return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as ex:
            tried.append("%s (%s)" % (path, ex))
    raise ImportError("numrep: cannot find %s; set %s to its path or build the source tree "
                      "(./setup.sh build).  Tried: %s" % (name, env, ", ".join(tried) or "-"))


_lock = threading.Lock()
_libs = {}

_P = c_void_p
_SIGS = {
    # numrep.h
    "nr_err_format": (None, [POINTER(NrErr), c_char_p, c_size_t]),
    "nr_rounding_parse": (c_int, [c_char_p, POINTER(c_int), POINTER(NrErr)]),
    "nr_format_name": (None, [_P, c_char_p, c_size_t]),
    "nr_format_equal": (c_int, [_P, _P]),
    "nr_threads_default": (c_int, []),
    "nr_bulk_round_f32": (None, [_P, c_int, c_uint64, c_uint64, _P, _P, c_size_t, c_int]),
    "nr_bulk_encode_f32": (None, [_P, c_int, c_uint64, c_uint64, _P, _P, c_size_t, c_int]),
    "nr_bulk_decode_f32": (None, [_P, _P, _P, c_size_t, c_int]),
    "nr_pack_bytes": (c_size_t, [c_int, c_size_t]),
    "nr_pack_dense": (None, [_P, _P, c_size_t, _P]),
    "nr_unpack_dense": (None, [_P, _P, c_size_t, _P]),
    "nr_is_canonical": (c_int, [_P, c_uint64]),
    "nr_sr_bits": (c_uint32, [c_uint64, c_uint32, c_uint64, c_uint32]),
    # runtime/api/nr_api.h
    "nr_api_format_new": (_P, [c_char_p, POINTER(NrErr)]),
    "nr_api_format_free": (None, [_P]),
    "nr_api_format_info": (c_int, [_P, POINTER(c_int64), POINTER(c_double)]),
    "nr_api_round_f64": (None, [_P, c_int, c_uint64, _P, _P, c_size_t, c_int]),
    "nr_api_encode_f64": (None, [_P, c_int, c_uint64, _P, _P, c_size_t, c_int]),
    "nr_api_decode_f64": (None, [_P, _P, _P, c_size_t, c_int]),
    "nr_scaled_is_name": (c_int, [c_char_p]),
    "nr_scaled_name": (c_int, [_P, c_char_p, c_size_t]),
    "nr_scaled_equal": (c_int, [_P, _P]),
    "nr_api_scaled_new": (_P, [c_char_p, POINTER(NrErr)]),
    "nr_api_scaled_free": (None, [_P]),
    "nr_api_scaled_element": (_P, [_P]),
    "nr_api_scaled_info": (c_int, [_P, POINTER(c_int64), POINTER(c_double)]),
    "nr_api_scaled_groups": (c_size_t, [_P, c_size_t, c_size_t]),
    "nr_api_scaled_round": (c_int, [_P, c_int, c_uint64, c_double, _P, c_size_t, c_size_t, _P,
                                    _P, _P, _P, c_int, POINTER(NrErr)]),
    "nr_api_scaled_decode": (c_int, [_P, c_double, _P, _P, c_size_t, c_size_t, _P, c_int,
                                     POINTER(NrErr)]),
    "nr_scaled_amax": (c_double, [_P, c_size_t, c_size_t]),
    "nr_scaled_tensor_scale": (c_double, [_P, c_double]),
    "nr_api_arith": (c_int, [_P, c_int, c_int, c_uint64, _P, _P, _P, _P, c_size_t,
                             POINTER(NrErr)]),
    "nr_api_model_info": (c_int, [_P, POINTER(c_int), POINTER(c_int)]),
    "nr_api_model_layer_name": (c_char_p, [_P, c_int]),
    "nr_api_emulate": (c_int, [_P, _P, c_int, _P, _P, POINTER(NrErr)]),
    # model.h
    "nr_model_load_seeded": (c_int, [c_char_p, c_char_p, c_uint64, POINTER(_P), POINTER(NrErr)]),
    "nr_spec_load": (c_int, [c_char_p, POINTER(_P), POINTER(NrErr)]),
    "nr_spec_free": (None, [_P]),
    "nr_precision_parse_string": (c_int, [c_char_p, c_char_p, POINTER(_P), POINTER(NrErr)]),
    "nr_model_build": (c_int, [_P, _P, c_char_p, c_uint64, POINTER(_P), POINTER(NrErr)]),
    "nr_model_free": (None, [_P]),
    "nr_api_eval": (c_int, [_P, _P, c_char_p, c_int64, c_int64, c_int, POINTER(c_int64),
                            POINTER(c_double), POINTER(NrErr)]),
    "nr_engine_close": (None, [_P]),
    # cost.h
    "nr_cost_mac": (c_int, [_P, _P, _P, _P, _P, POINTER(NrErr)]),
}
from ._progress import SEARCH_FN as _SEARCH_FN, EVAL_FN as _EVAL_FN  # noqa: E402

_GEN_SIGS = {
    # gen/lower/model_gen.h
    "gen_model_compile": (c_int, [_P, _P, POINTER(_P), POINTER(NrErr)]),
    "gen_compiled_run": (c_int, [_P, _P, _P, c_int, POINTER(NrErr)]),
    "gen_compiled_run_arena": (c_int, [_P, _P, _P, c_int, _P]),
    "gen_compiled_arena_size": (c_uint64, [_P]),
    "gen_compiled_input_size": (c_uint64, [_P]),
    "gen_compiled_output_size": (c_uint64, [_P]),
    "gen_compiled_set_threads": (c_int, [_P, c_int, POINTER(NrErr)]),
    "gen_compiled_free": (None, [_P]),
    # gen/back/jit_engine.h
    "gen_engine_open": (c_int, [c_char_p, _P, _P, POINTER(NrErr)]),
    # gen/back/search_job.h
    "gen_search_job_new": (_P, []),
    "gen_search_job_free": (None, [_P]),
    "gen_search_job_takes": (c_int, [c_char_p]),
    "gen_search_job_set": (c_int, [_P, c_char_p, c_char_p, POINTER(NrErr)]),
    "gen_search_job_json": (_P, [_P, POINTER(c_int), POINTER(NrErr)]),
    "gen_search_job_progress": (None, [_P, _SEARCH_FN, _P]),
    # gen/back/calibrate_job.h
    "gen_cal_job_new": (_P, []),
    "gen_cal_job_free": (None, [_P]),
    "gen_cal_job_takes": (c_int, [c_char_p]),
    "gen_cal_job_set": (c_int, [_P, c_char_p, c_char_p, POINTER(NrErr)]),
    "gen_cal_job_progress": (None, [_P, _EVAL_FN, _P]),
    "gen_cal_job_json": (_P, [_P, POINTER(NrErr)]),
    # gen/back/report_page.h
    "gen_report_page": (c_int, [c_char_p, c_int64, c_char_p, _P, POINTER(NrErr)]),
    # gen/onnx/onnx_write.h
    "nr_onnx_import_dir": (c_int, [c_char_p, c_char_p, c_char_p, _P, _P, POINTER(NrErr)]),
}


def _bind(dll, sigs):
    for name, (res, args) in sigs.items():
        fn = getattr(dll, name)
        fn.restype, fn.argtypes = res, args


def lib():
    """libnumrep.so, loaded and typed on first use."""
    d = _libs.get("rt")
    if d is None:
        with _lock:
            d = _libs.get("rt")
            if d is None:
                d = _load("NUMREP_LIB", "libnumrep.so")
                _bind(d, _SIGS)
                _libs["rt"] = d
    return d


def genlib():
    """libnumrep_gen.so (LLVM JIT), loaded on first use."""
    d = _libs.get("gen")
    if d is None:
        lib()
        with _lock:
            d = _libs.get("gen")
            if d is None:
                if not os.environ.get("NUMREP_GEN_LIB") and os.environ.get("NUMREP_LIB"):
                    os.environ["NUMREP_GEN_LIB"] = os.path.join(
                        os.path.dirname(os.environ["NUMREP_LIB"]), "libnumrep_gen.so")
                d = _load("NUMREP_GEN_LIB", "libnumrep_gen.so")
                _bind(d, _GEN_SIGS)
                _libs["gen"] = d
    return d


_libc = ctypes.CDLL(None)
_libc.free.restype, _libc.free.argtypes = None, [c_void_p]


def libc_free(p):
    """free() a string the library malloc'ed for the caller."""
    _libc.free(p)


def ptr(a):
    """An ndarray's data pointer as a void *."""
    return c_void_p(a.ctypes.data)


__all__ = ["Error", "ParseError", "RangeError", "ShapeError", "FileError", "OutOfMemory",
           "CorruptError", "UnsupportedError", "InternalError"]

