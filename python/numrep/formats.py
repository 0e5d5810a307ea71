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
import collections
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


def _new_handle(what, new, name):
    """The C descriptor of a format name (a Format: its canonical name) from
    new (nr_api_format_new / nr_api_scaled_new); errors as exceptions."""
    if isinstance(name, Format):
        name = str(name)
    if not isinstance(name, str):
        raise TypeError("numrep.%s: expected a format name (str), got %s"
                        % (what, type(name).__name__))
    e = NrErr()
    h = new(name.encode(), ctypes.byref(e))
    if not h:
        _lib.raise_err(e)
    return ctypes.c_void_p(h)


class Format:
    """A number format by name, e.g. Format("e6m7-finite-nosub-sat"),
    Format("q7.8"), Format("e4m3").  Properties: bits, bias, max, lowest,
    min_normal, min_subnormal, epsilon, kind ("float" | "fixed"),
    exp_bits, man_bits, int_bits, frac_bits, specials, subnormals,
    saturate, container (bytes), dtype (the container's NumPy uint type).
    str() is the canonical name.  A bad name raises numrep.ParseError (or
    another numrep.Error) with the library's message.  A scaled name
    (mxfp4, nvfp4, mxint8, e2m1@b32:e8m0:floor, int8@channel, ...) gives a
    numrep.ScaledFormat."""

    __slots__ = ("_h", "_name", "_info", "__weakref__")

    def __new__(cls, name=None):
        if cls is Format and isinstance(name, str) and _lib.lib().nr_scaled_is_name(name.encode()):
            cls = ScaledFormat  # "mxfp4", "e2m1@b32:e8m0", ...: __init__ is ScaledFormat's
        return object.__new__(cls)

    def __init__(self, name):
        L = _lib.lib()
        self._h = _new_handle("Format", L.nr_api_format_new, name)
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


_GRANS = {1: "tensor", 2: "channel", 3: "block"}
_SCALES = {1: "fp32", 2: "e8m0", 3: "ue4m3", 4: "nv"}
_RULES = {1: "floor", 2: "rceil", 3: "ceil", 4: "even", 5: "amax", 6: "amax-up", 7: "static"}


class ScaledFormat(Format):
    """A scaled format (runtime/num/scaled.h, docs/semantics.md [scl-*]):
    an element format and a scale shared by a group of elements, e.g.
    Format("mxfp4") or ScaledFormat("e2m1@b32:e8m0:floor").  Properties:
    kind "scaled", element (a Format), granularity ("tensor" | "channel" |
    "block"), block (elements per block, 0 unless blocks), scale ("fp32" |
    "e8m0" | "ue4m3" | "nv"), rule ("floor", "rceil", "ceil", "even",
    "amax", "amax-up", "static"), emax_elem, elem_prec, bits (storage bits
    per element, the block scale amortised: MXFP4 4.25).  str() is the
    canonical name.  numrep.round(x, fmt) quantizes group by group."""

    __slots__ = ()

    def __init__(self, name):
        L = _lib.lib()
        self._h = _new_handle("ScaledFormat", L.nr_api_scaled_new, name)
        ints = (ctypes.c_int64 * 6)()
        bits = ctypes.c_double()
        L.nr_api_scaled_info(self._h, ints, ctypes.byref(bits))
        buf = ctypes.create_string_buffer(256)
        L.nr_format_name(L.nr_api_scaled_element(self._h), buf, len(buf))
        elem = Format(buf.value.decode())
        self._info = {"kind": "scaled", "element": elem, "granularity": _GRANS[ints[0]],
                      "block": ints[1], "scale": _SCALES[ints[2]], "rule": _RULES[ints[3]],
                      "emax_elem": ints[4], "elem_prec": ints[5], "bits": bits.value}
        L.nr_scaled_name(self._h, buf, len(buf))
        self._name = buf.value.decode()

    def __del__(self):
        h = getattr(self, "_h", None)
        if h:
            _lib.lib().nr_api_scaled_free(h)
            self._h = None

    @property
    def dtype(self):
        raise AttributeError("numrep.ScaledFormat has no single container dtype (see .element)")

    def __repr__(self):
        return "numrep.ScaledFormat(%r)" % self._name

    def __eq__(self, other):
        if not isinstance(other, ScaledFormat):
            return NotImplemented
        return bool(_lib.lib().nr_scaled_equal(self._h, other._h))

    def __hash__(self):
        return hash(self._name)


ScaledCodes = collections.namedtuple("ScaledCodes", "codes scales tensor_scale")
ScaledCodes.__doc__ = """numrep.encode of a scaled format: codes, the element
encodings (the element format's container dtype, x's shape); scales, the
scale encodings, one per group in group order (uint8 for e8m0/ue4m3/nv,
uint32 for fp32); tensor_scale, NVFP4's fp32 tensor scale or a static
scale (None otherwise).  numrep.decode(enc, fmt) gives the values back."""


def _scaled_layout(x, f, axis, what):
    """x (axis moved last for blocks) as C-contiguous float64 rows: (xm,
    rows, length), in nr_api_scaled_round's layout: blocks along the last
    axis, one channel per row of axis 0, one tensor."""
    if x.ndim == 0:
        x = x.reshape(1)
    if f.granularity == "block":
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) \
                or not -x.ndim <= axis < x.ndim:
            raise ValueError("numrep.%s: axis %r out of range for a %d-d array"
                             % (what, axis, x.ndim))
        xm = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    else:
        xm = np.ascontiguousarray(x)
    rows = xm.shape[0] if f.granularity == "channel" else (
        int(np.prod(xm.shape[:-1])) if xm.ndim > 1 else 1)
    return xm, rows, (xm.size // rows if rows else 0)


def _restore(a, f, axis, shape):
    """_scaled_layout's inverse for a result array."""
    if f.granularity == "block" and a.ndim > 1:
        a = np.moveaxis(a, -1, axis)
    return np.ascontiguousarray(a.reshape(shape) if a.shape != tuple(shape) else a)


def _check_scale(f, scale, what):
    if scale is not None:
        if f.rule != "static" and f.scale != "nv":
            raise ValueError("numrep.%s: scale= is for static scales and nv's tensor scale; "
                             "%s computes its scales" % (what, f))
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating)):
            raise TypeError("numrep.%s: scale must be a number" % what)
    elif f.rule == "static":
        raise ValueError("numrep.%s: %s has a static scale: give it with scale=" % (what, f))


def _scale_dtype(f):
    return np.uint32 if f.scale == "fp32" else np.uint8


def _round_scaled(x, f, mode, seed, threads, axis, scale, return_scales, what="round"):
    """numrep.round (what "round") / numrep.encode ("encode") for a
    ScaledFormat: groups as nr_api_scaled_round says, along axis (moved
    last) for blocks, axis 0 = output channel for channels, the whole array
    for a tensor scale."""
    _check_scale(f, scale, what)
    xm, rows, length = _scaled_layout(x, f, axis, what)
    xm = np.ascontiguousarray(xm, dtype=np.float64)
    L = _lib.lib()
    if what == "encode" and scale is None and f.scale == "nv":  # returned with the codes
        scale = L.nr_scaled_tensor_scale(f._h, L.nr_scaled_amax(ptr(xm), xm.size, 1))
    ng = L.nr_api_scaled_groups(f._h, rows, length)
    out = np.empty(xm.shape, dtype=np.float64)
    scales = np.empty(ng, dtype=np.float64)
    sbits = np.empty(ng, dtype=np.uint64)
    codes = np.empty(xm.shape, dtype=np.uint64) if what == "encode" else None
    e = NrErr()
    check(L.nr_api_scaled_round(f._h, mode, seed, float(scale) if scale is not None else 0.0,
                                ptr(xm), rows, length, ptr(out), ptr(scales), ptr(sbits),
                                ptr(codes) if codes is not None else None, threads,
                                ctypes.byref(e)), e)
    shape = x.shape if x.ndim else (1,)
    if what == "encode":
        return ScaledCodes(_restore(codes, f, axis, shape).astype(f.element.dtype),
                           sbits.astype(_scale_dtype(f)),
                           float(scale) if scale is not None else None)
    out = _restore(out, f, axis, shape)
    if not return_scales:
        return out
    return out, scales, sbits


def _decode_scaled(codes, f, scales, tensor_scale, axis, threads):
    """numrep.decode for a ScaledFormat: nr_api_scaled_decode."""
    if isinstance(codes, ScaledCodes):
        if scales is not None or tensor_scale is not None:
            raise TypeError("numrep.decode: scales/tensor_scale come with the ScaledCodes")
        codes, scales, tensor_scale = codes
    if scales is None:
        raise TypeError("numrep.decode: %s needs the scale encodings (scales=, or decode the "
                        "ScaledCodes numrep.encode returned)" % f)
    codes = as_input(codes, "decode", (f.element.dtype,))
    scales = as_input(scales, "decode", (np.uint8, np.uint16, np.uint32, np.uint64))
    if tensor_scale is not None and (isinstance(tensor_scale, bool) or not isinstance(
            tensor_scale, (int, float, np.floating))):
        raise TypeError("numrep.decode: tensor_scale must be a number")
    xm, rows, length = _scaled_layout(codes, f, axis, "decode")
    L = _lib.lib()
    ng = L.nr_api_scaled_groups(f._h, rows, length)
    if scales.size != ng:
        raise _lib.ShapeError("numrep.decode: %d scale encodings for %d groups of %s"
                              % (scales.size, ng, f), 3, where="scales")
    cm = np.ascontiguousarray(xm, dtype=np.uint64)
    sb = np.ascontiguousarray(scales.reshape(-1), dtype=np.uint64)
    out = np.empty(xm.shape, dtype=np.float64)
    e = NrErr()
    check(L.nr_api_scaled_decode(f._h, float(tensor_scale or 0.0), ptr(cm), ptr(sb), rows,
                                 length, ptr(out), threads, ctypes.byref(e)), e)
    return _restore(out, f, axis, codes.shape if codes.ndim else (1,))


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


def _plain(fmt, what):
    """fmt as a plain Format (a scaled one is a TypeError for what)."""
    f = as_format(fmt)
    if isinstance(f, ScaledFormat):
        raise TypeError("numrep.%s: %s is a scaled format; %s takes plain formats (its element "
                        "format is %s)" % (what, f, what, f.element))
    return f


def _rounding_call(what, x, fmt, rounding, seed, threads, out, f32_fn, f64_fn, out_dtype):
    """round / encode: check the arguments, then the float32 bulk kernel or
    the float64 loop, element i drawing nr_sr_bits(seed, 0, i, 0)."""
    f = _plain(fmt, what)
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


def round(x, fmt, rounding="rne", seed=None, threads=0, out=None, axis=-1,  # noqa: A001
          scale=None, return_scales=False):
    """The values of x rounded into fmt, as an array of x's dtype and shape
    (float32: the bulk kernel; float64: per element, exact).  out: an
    array to write into (x's dtype and shape; may be x itself).

    A scaled fmt (mxfp4, nvfp4, int8@channel, ...) quantizes group by group
    ([scl-*]) and returns float64 values P * X (exact) of x's shape: blocks
    of fmt.block consecutive elements along axis (the reduction axis; the
    last block of each row may be short), channels along axis 0, or the
    whole array for a tensor scale.  scale: the static scale, or NVFP4's fp32
    tensor scale (default: from the whole array's amax).  return_scales:
    also the scales and their encodings, one per group in C order of the
    array with axis moved last.  Group g draws stochastic rounding as line
    g+1 of `numrep round FMT`."""
    f = as_format(fmt)
    if isinstance(f, ScaledFormat):
        if out is not None:
            raise TypeError("numrep.round: out= is not supported for scaled formats")
        x = as_input(x, "round", (np.float32, np.float64))
        return _round_scaled(x, f, rounding_mode(rounding), _seed(seed), _threads(threads), axis,
                             scale, return_scales)
    if axis != -1 or scale is not None or return_scales:
        raise TypeError("numrep.round: axis, scale and return_scales are for scaled formats; "
                        "%s is not one" % f)
    return _rounding_call("round", x, f, rounding, seed, threads, out, "nr_bulk_round_f32",
                          "nr_api_round_f64", lambda f, x: x.dtype)


def encode(x, fmt, rounding="rne", seed=None, threads=0, out=None, axis=-1, scale=None):
    """The encodings of x rounded into fmt, in the format's container
    (uint8/uint16/uint32/uint64, Format.dtype), x's shape.

    A scaled fmt returns a ScaledCodes (codes, scales, tensor_scale): the
    element encodings of the values round(x, fmt, ...) gives (its groups,
    axis and scale=, the same draws), the groups' scale encodings and the
    tensor scale (NVFP4's: scale=, else from the whole array; a static
    scale).  pack(enc.codes, fmt.element) packs the elements densely."""
    f = as_format(fmt)
    if isinstance(f, ScaledFormat):
        if out is not None:
            raise TypeError("numrep.encode: out= is not supported for scaled formats")
        x = as_input(x, "encode", (np.float32, np.float64))
        return _round_scaled(x, f, rounding_mode(rounding), _seed(seed), _threads(threads),
                             axis, scale, False, what="encode")
    if axis != -1 or scale is not None:
        raise TypeError("numrep.encode: axis and scale are for scaled formats; %s is not one"
                        % f)
    return _rounding_call("encode", x, fmt, rounding, seed, threads, out, "nr_bulk_encode_f32",
                          "nr_api_encode_f64", lambda f, x: f.dtype)


def decode(bits, fmt, dtype=np.float64, threads=0, out=None, scales=None, tensor_scale=None,
           axis=-1):
    """The values of encodings (an array of exactly fmt's container dtype).
    dtype float64 (default) is exact for every float format; float32 uses the
    bulk kernel (values that do not fit float32 are rounded to nearest).

    A scaled fmt: bits is the ScaledCodes numrep.encode returned (or the
    element codes, with scales= the scale encodings and, for NVFP4,
    tensor_scale=); the float64 values P * X (exact), as round gives."""
    f = as_format(fmt)
    if isinstance(f, ScaledFormat):
        if out is not None or np.dtype(dtype) != np.float64:
            raise TypeError("numrep.decode: a scaled format decodes to a new float64 array")
        return _decode_scaled(bits, f, scales, tensor_scale, axis, _threads(threads))
    if scales is not None or tensor_scale is not None or axis != -1:
        raise TypeError("numrep.decode: scales, tensor_scale and axis are for scaled formats; "
                        "%s is not one" % f)
    f = _plain(fmt, "decode")
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


def pack(bits, fmt):
    """Dense bit-packing of encodings (an array of fmt's container dtype, as
    encode gives): value k at bit k*fmt.bits, LSB first, back to back, in
    ceil(n*bits/8) bytes -- the layout of `numrep build --pack dense`
    (runtime/num/pack.c).  Returns a uint8 array; bits above the width of
    each encoding are ignored."""
    f = _plain(fmt, "pack")
    bits = as_input(bits, "pack", (f.dtype,))
    L = _lib.lib()
    out = np.empty(L.nr_pack_bytes(f.bits, bits.size), dtype=np.uint8)
    L.nr_pack_dense(f._h, ptr(bits), bits.size, ptr(out))
    return out


def unpack(packed, fmt, count=None):
    """The encodings of a densely packed uint8 array (pack's inverse): count
    values (default: as many whole values as the bytes hold), in fmt's
    container dtype."""
    f = _plain(fmt, "unpack")
    packed = as_input(packed, "unpack", (np.uint8,))
    most = packed.size * 8 // f.bits
    if count is None:
        count = most
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise TypeError("numrep.unpack: count must be a non-negative integer")
    L = _lib.lib()
    if L.nr_pack_bytes(f.bits, int(count)) > packed.size:
        raise ValueError("numrep.unpack: %d values of %d bits need %d bytes, got %d"
                         % (count, f.bits, L.nr_pack_bytes(f.bits, int(count)), packed.size))
    out = np.empty(int(count), dtype=f.dtype)
    L.nr_unpack_dense(f._h, ptr(packed), int(count), ptr(out))
    return out


_OPS = {"add": (0, 2), "sub": (1, 2), "mul": (2, 2), "div": (3, 2), "fma": (4, 3), "sqrt": (5, 1)}


def _arith(name, operands, fmt, rounding, seed, bits):
    f = _plain(fmt, name)
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
