"""test_api.py -- the ctypes declarations of python/numrep/_lib.py against
the C: every declared function is exported by the library it is loaded from
(runtime/api/nr_api.map exports nr_* and gen_*), and its argument and result
types match the prototype in the headers, parameter by parameter (a wrong
width or a pointer passed as an int would corrupt memory silently)."""
import ctypes
import functools
import glob
import os
import re

import pytest

from numrep import _lib
from conftest import SRC

# size_t and uint64_t are one type to ctypes on LP64 (both c_ulong)
_C_KIND = [("*", "p"), ("[", "p"), ("double", "d"), ("size_t", "u64"), ("uint64_t", "u64"),
           ("int64_t", "i64"), ("uint32_t", "u32"), ("nr_rounding", "int"), ("_fn", "fn"),
           ("int", "int")]


def _c_kind(t):
    t = t.strip()
    for key, kind in _C_KIND:
        if key in t:
            return kind
    return "unknown C type %r" % t  # fails the comparison, naming the type


def _py_kind(t):
    if t is None:
        return "void"
    if isinstance(t, type) and issubclass(t, ctypes._CFuncPtr):
        return "fn"  # a CFUNCTYPE: a C function pointer type (nr_*_fn)
    if t in (ctypes.c_void_p, ctypes.c_char_p) or (isinstance(t, type) and
                                                   issubclass(t, ctypes._Pointer)):
        return "p"
    return {ctypes.c_int: "int", ctypes.c_double: "d", ctypes.c_size_t: "u64",
            ctypes.c_uint64: "u64", ctypes.c_int64: "i64", ctypes.c_uint32: "u32"}[t]


@functools.lru_cache(maxsize=None)
def _prototypes():
    text = ""
    for h in glob.glob(os.path.join(SRC, "runtime", "*", "*.h")) + \
            glob.glob(os.path.join(SRC, "gen", "*", "*.h")):
        text += re.sub(r"/\*.*?\*/", " ", open(h).read(), flags=re.S) + "\n"
    protos = {}
    for m in re.finditer(r"^([A-Za-z_][\w \t\*]*?)\b(nr_\w+|gen_\w+)\s*\(([^;{]*?)\)\s*"
                         r"(?:__attribute__\s*\(\(.*?\)\))?\s*;", text, flags=re.M | re.S):
        ret, name, params = m.group(1).strip(), m.group(2), " ".join(m.group(3).split())
        args = [] if params in ("", "void") else [_c_kind(p) for p in params.split(",")]
        protos[name] = ("void" if ret in ("void", "static void") else _c_kind(ret), args)
    return protos


def test_map_exports_the_declared_names():
    globs = re.findall(r"^\s*(\w+)\*;", open(os.path.join(SRC, "runtime", "api",
                                                         "nr_api.map")).read(), flags=re.M)
    assert globs == ["nr_", "gen_"]
    for name in list(_lib._SIGS) + list(_lib._GEN_SIGS):
        assert any(name.startswith(g) for g in globs), name
    rt, gen = _lib.lib(), _lib.genlib()
    for name in _lib._SIGS:
        assert hasattr(rt, name), name
    for name in _lib._GEN_SIGS:
        assert hasattr(gen, name), name


@pytest.mark.parametrize("name", sorted(list(_lib._SIGS) + list(_lib._GEN_SIGS)))
def test_ctypes_signature_matches_the_header(name):
    protos = _prototypes()
    assert name in protos, "%s: no prototype found in runtime/*/*.h or gen/*/*.h" % name
    res, args = (_lib._SIGS.get(name) or _lib._GEN_SIGS[name])
    want_res, want_args = protos[name]
    assert _py_kind(res) == want_res, (name, "result")
    assert [_py_kind(a) for a in args] == want_args, name


@pytest.mark.parametrize("typedef,fn", [("nr_search_progress_fn", "SEARCH_FN"),
                                        ("nr_eval_progress_fn", "EVAL_FN")])
def test_callback_types_match_the_typedef(typedef, fn):
    from numrep import _progress
    text = ""
    for h in glob.glob(os.path.join(SRC, "runtime", "*", "*.h")):
        text += re.sub(r"/\*.*?\*/", " ", open(h).read(), flags=re.S)
    m = re.search(r"typedef\s+(\w+)\s*\(\s*\*\s*%s\s*\)\s*\(([^;]*?)\)\s*;" % typedef, text)
    assert m, typedef
    want = ("void" if m.group(1) == "void" else _c_kind(m.group(1)),
            [_c_kind(p) for p in " ".join(m.group(2).split()).split(",")])
    t = getattr(_progress, fn)
    assert (_py_kind(t._restype_), [_py_kind(a) for a in t._argtypes_]) == want


def test_foreign_calls_release_the_gil():
    """ctypes releases the GIL around every call through a CDLL (a PyDLL
    would hold it): round, run, emulate, eval, search and calibrate run
    beside other Python threads.  test_models.py's four-thread test runs
    models concurrently."""
    for d in (_lib.lib(), _lib.genlib()):
        assert isinstance(d, ctypes.CDLL) and not isinstance(d, ctypes.PyDLL)
        assert not d._func_flags_ & ctypes._FUNCFLAG_PYTHONAPI
