"""formats.py -- number formats, rounding, encode/decode and elementwise
arithmetic on NumPy arrays, over runtime/num (numrep.h) and the float64
loops of runtime/api/nr_api.c.

Arrays: float32 arrays go through the multithreaded bulk kernels
(runtime/num/bulk.c); float64 arrays through per-element nr_round /
nr_encode / nr_decode on a thread pool (exact: every value of every float
format is a double).  Element i of an array draws the stochastic-rounding
bits nr_sr_bits(seed, 0, i, 0), as line i+1 of `numrep round --seed S`.
Every C call is a ctypes foreign call, so the GIL is released while it
runs."""
import ctypes

import numpy as np

from . import _lib
from ._lib import NrErr, check, ptr

_ROUNDINGS = ("rne", "rna", "rz", "ru", "rd", "rto", "sr")
_KINDS = ("float", "fixed")
_SPECIALS = ("ieee", "fn", "fnuz", "finite")
_CONTAINER_DTYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_INT_FIELDS = ("kind", "bits", "container", "bias", "exp_bits", "man_bits", "int_bits",
               "frac_bits", "signed", "prec", "emin", "emax", "has_inf", "has_nan",
               "has_negzero", "subnormals", "specials", "saturate")
_REAL_FIELDS = ("max", "min_normal", "min_subnormal", "epsilon", "lowest", "finite_count")


class Format:
    """A number format by name, e.g. Format("e6m7-finite-nosub-sat"),
    Format("q7.8"), Format("e4m3").  Properties: bits, bias, max, lowest,
    min_normal, min_subnormal, epsilon, kind ("float" | "fixed"),
    exp_bits, man_bits, int_bits, frac_bits, specials, subnormals,
    saturate, container (bytes), dtype (the container's NumPy uint type).
    str() is the canonical name.  A bad name raises numrep.ParseError (or
    another numrep.Error) with the library's message."""

    __slots__ = ("_h", "_name", "_info", "__weakref__")

    def __init__(self, name):
        if isinstance(name, Format):
            name = str(name)
        if not isinstance(name, str):
            raise TypeError("numrep.Format: expected a format name (str), got %s"
                            % type(name).__name__)
        L = _lib.lib()
        e = NrErr()
        h = L.nr_api_format_new(name.encode(), ctypes.byref(e))
        if not h:
            _lib.raise_err(e)
        self._h = ctypes.c_void_p(h)
        ints = (ctypes.c_int64 * len(_INT_FIELDS))()
        reals = (ctypes.c_double * len(_REAL_FIELDS))()
        L.nr_api_format_info(self._h, ints, reals)
        info = dict(zip(_INT_FIELDS, ints))
        info.update(zip(_REAL_FIELDS, reals))
        info["kind"] = _KINDS[info["kind"]]
        info["specials"] = _SPECIALS[info["specials"]]
        self._info = info
        buf = ctypes.create_string_buffer(128)
        L.nr_format_name(self._h, buf, len(buf))
        self._name = buf.value.decode()

    def __del__(self):
        h = getattr(self, "_h", None)
        if h:
            _lib.lib().nr_api_format_free(h)
            self._h = None

    def __getattr__(self, k):
        info = object.__getattribute__(self, "_info")
        if k in info:
            return info[k]
        raise AttributeError("numrep.Format has no attribute %r" % k)

    @property
    def dtype(self):
        return np.dtype(_CONTAINER_DTYPES[self._info["container"]])

    def info(self):
        """Every property as a dict."""
        return dict(self._info, name=self._name)

    def __str__(self):
        return self._name

    def __repr__(self):
        return "numrep.Format(%r)" % self._name

    def __eq__(self, other):
        if not isinstance(other, Format):
            return NotImplemented
        return bool(_lib.lib().nr_format_equal(self._h, other._h))

    def __hash__(self):
        return hash(self._name)


def as_format(fmt):
    return fmt if isinstance(fmt, Format) else Format(fmt)


def rounding_mode(rounding):
    """"rne" ... "sr" -> the C enum; anything else raises ValueError."""
    if not isinstance(rounding, str) or rounding.lower() not in _ROUNDINGS:
        raise ValueError("numrep: rounding must be one of %s, got %r"
                         % (", ".join(_ROUNDINGS), rounding))
    return _ROUNDINGS.index(rounding.lower())


def _seed(seed):
    if seed is None:
        return 0
    if isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)):
        raise TypeError("numrep: seed must be an integer, got %s" % type(seed).__name__)
    if not 0 <= int(seed) < 1 << 64:
        raise ValueError("numrep: seed must be in [0, 2**64), got %d" % seed)
    return int(seed)


def _threads(threads):
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError("numrep: threads must be an integer (0: all cores)")
    return int(threads)


def as_input(x, what, dtypes):
    """x as a C-contiguous ndarray of one of dtypes.  Python scalars and
    lists become float64 arrays; an ndarray of another dtype is a TypeError
    and a non-contiguous one a ValueError (no silent copies)."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x, dtype=dtypes[-1])
        except (TypeError, ValueError) as ex:
            raise TypeError("numrep.%s: expected an array of numbers (%s): %s"
                            % (what, ", ".join(np.dtype(d).name for d in dtypes), ex)) from None
    if x.dtype not in [np.dtype(d) for d in dtypes]:
        raise TypeError("numrep.%s: expected dtype %s, got %s"
                        % (what, " or ".join(np.dtype(d).name for d in dtypes), x.dtype))
    if not x.flags.c_contiguous:
        raise ValueError("numrep.%s: the array is not C-contiguous (use np.ascontiguousarray)"
                         % what)
    return x


def _out(out, shape, dtype, what):
    """The caller's out= array (checked) or a new one."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray) or out.dtype != np.dtype(dtype):
        raise TypeError("numrep.%s: out must be an ndarray of dtype %s" % (what, np.dtype(dtype)))
    if out.shape != tuple(shape):
        raise ValueError("numrep.%s: out has shape %s, expected %s" % (what, out.shape, shape))
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("numrep.%s: out must be C-contiguous and writeable" % what)
    return out


def _rounding_call(what, x, fmt, rounding, seed, threads, out, f32_fn, f64_fn, out_dtype):
    """round / encode: check the arguments, then the float32 bulk kernel or
    the float64 loop, element i drawing nr_sr_bits(seed, 0, i, 0)."""
    f = as_format(fmt)
    mode = rounding_mode(rounding)
    s, t = _seed(seed), _threads(threads)
    x = as_input(x, what, (np.float32, np.float64))
    out = _out(out, x.shape, out_dtype(f, x), what)
    L = _lib.lib()
    if x.dtype == np.float32:
        getattr(L, f32_fn)(f._h, mode, s, 0, ptr(x), ptr(out), x.size, t)
    else:
        getattr(L, f64_fn)(f._h, mode, s, ptr(x), ptr(out), x.size, t)
    return out


def round(x, fmt, rounding="rne", seed=None, threads=0, out=None):  # noqa: A001
    """The values of x rounded into fmt, as an array of x's dtype and shape
    (float32: the bulk kernel; float64: per element, exact).  out: an
    array to write into (x's dtype and shape; may be x itself)."""
    return _rounding_call("round", x, fmt, rounding, seed, threads, out, "nr_bulk_round_f32",
                          "nr_api_round_f64", lambda f, x: x.dtype)


def encode(x, fmt, rounding="rne", seed=None, threads=0, out=None):
    """The encodings of x rounded into fmt, in the format's container
    (uint8/uint16/uint32/uint64, Format.dtype), x's shape."""
    return _rounding_call("encode", x, fmt, rounding, seed, threads, out, "nr_bulk_encode_f32",
                          "nr_api_encode_f64", lambda f, x: f.dtype)


def decode(bits, fmt, dtype=np.float64, threads=0, out=None):
    """The values of encodings (an array of exactly fmt's container dtype).
    dtype float64 (default) is exact for every float format; float32 uses the
    bulk kernel (values that do not fit float32 are rounded to nearest)."""
    f = as_format(fmt)
    t = _threads(threads)
    bits = as_input(bits, "decode", (f.dtype,))
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError("numrep.decode: dtype must be float32 or float64, got %s" % dt)
    out = _out(out, bits.shape, dt, "decode")
    L = _lib.lib()
    if dt == np.float32:
        L.nr_bulk_decode_f32(f._h, ptr(bits), ptr(out), bits.size, t)
    else:
        L.nr_api_decode_f64(f._h, ptr(bits), ptr(out), bits.size, t)
    return out


_OPS = {"add": (0, 2), "sub": (1, 2), "mul": (2, 2), "div": (3, 2), "fma": (4, 3), "sqrt": (5, 1)}


def _arith(name, operands, fmt, rounding, seed, bits):
    f = as_format(fmt)
    mode = rounding_mode(rounding)
    s = _seed(seed)
    op, arity = _OPS[name]
    arrs = [as_input(a, name, (np.float32, np.float64)).astype(np.float64, copy=False)
            for a in operands]
    shape = np.broadcast_shapes(*[a.shape for a in arrs])
    arrs = [np.ascontiguousarray(np.broadcast_to(a, shape)) for a in arrs]
    out = np.empty(shape, dtype=np.uint64)
    e = NrErr()
    args = [ptr(a) for a in arrs] + [None] * (3 - arity)
    check(_lib.lib().nr_api_arith(f._h, op, mode, s, *args, ptr(out), out.size,
                                  ctypes.byref(e)), e)
    if bits:
        return out.astype(f.dtype)
    return decode(out.astype(f.dtype), f)


def _doc(name, expr):
    return ("%s in fmt, elementwise: the operands are first rounded into fmt (rounding, "
            "stochastic draw term k+1), then %s is computed exactly and rounded once (term 0), "
            "as `numrep round FMT --op %s`.  Operands: float32/float64 arrays or scalars, "
            "broadcast.  Returns float64 values, or the encodings with bits=True." % (
                name, expr, name))


def add(a, b, fmt, rounding="rne", seed=None, bits=False):
    return _arith("add", (a, b), fmt, rounding, seed, bits)


def sub(a, b, fmt, rounding="rne", seed=None, bits=False):
    return _arith("sub", (a, b), fmt, rounding, seed, bits)


def mul(a, b, fmt, rounding="rne", seed=None, bits=False):
    return _arith("mul", (a, b), fmt, rounding, seed, bits)


def div(a, b, fmt, rounding="rne", seed=None, bits=False):
    return _arith("div", (a, b), fmt, rounding, seed, bits)


def fma(a, b, c, fmt, rounding="rne", seed=None, bits=False):
    return _arith("fma", (a, b, c), fmt, rounding, seed, bits)


def sqrt(a, fmt, rounding="rne", seed=None, bits=False):
    return _arith("sqrt", (a,), fmt, rounding, seed, bits)


add.__doc__ = _doc("add", "a + b")
sub.__doc__ = _doc("sub", "a - b")
mul.__doc__ = _doc("mul", "a * b")
div.__doc__ = _doc("div", "a / b")
fma.__doc__ = _doc("fma", "a * b + c")
sqrt.__doc__ = _doc("sqrt", "sqrt(a)")


def threads_default():
    """Threads the kernels use when threads=0 ($NUMREP_THREADS or the cores)."""
    return _lib.lib().nr_threads_default()
