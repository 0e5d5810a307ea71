"""test_formats.py -- numrep.Format, round, encode, decode and the
elementwise arithmetic, each compared bit for bit with `numrep round` (the
CLI over the same C library) on every encoding of 8- and 16-bit formats,
the midpoints between neighbours, and random values, in every rounding
mode."""
import numpy as np
import pytest

import numrep
from conftest import cli, cli_round

FORMATS_8 = ["e4m3", "e5m2", "e4m3-ieee", "e3m4-nosub-sat", "e2m5-fnuz", "q3.4", "uq4.4-wrap"]
FORMATS_16 = ["fp16", "bf16", "e6m9-finite-nosub-sat", "q7.8"]
MODES = ["rne", "rna", "rz", "ru", "rd", "rto", "sr"]


def all_values(f):
    """Every encoding of f and its value (float64, exact)."""
    bits = np.arange(1 << f.bits, dtype=np.uint64).astype(f.dtype)
    return bits, numrep.decode(bits, f)


def probe_values(f, rng):
    """Every value, every midpoint of two neighbours, random doubles around
    the range and the specials: what rounding can get wrong."""
    _, v = all_values(f)
    fin = np.unique(v[np.isfinite(v)])
    mids = (fin[:-1] + fin[1:]) / 2  # exact: < 53 bits
    near = np.nextafter(mids, np.inf)
    span = max(abs(f.max), abs(f.lowest))
    rnd = rng.uniform(-1.2 * span, 1.2 * span, 500)
    tiny = rng.uniform(-4 * f.min_subnormal, 4 * f.min_subnormal, 100)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e300, -1e300, 5e-324])
    return np.concatenate([fin, mids, near, rnd, tiny, special])


def lines(x):
    return [float(v).hex() if np.isfinite(v) else repr(float(v)) for v in x]


def test_properties_match_cli_format():
    f = numrep.Format("e6m7-finite-nosub-sat")
    assert f.bits == 14 and f.kind == "float" and f.bias == 31
    assert f.max == (2 - 2 ** -7) * 2.0 ** 32
    assert f.min_normal == 2.0 ** -30 and f.min_subnormal == 2.0 ** -30
    assert f.epsilon == 2.0 ** -7 and f.dtype == np.uint16
    assert numrep.Format(str(f)) == f  # canonical name parses back
    text = cli("format", "e6m7-finite-nosub-sat")
    assert str(f) in text
    q = numrep.Format("q7.8")
    assert q.kind == "fixed" and q.bits == 16 and q.epsilon == 2.0 ** -8 and q.max == 128 - 2 ** -8


@pytest.mark.parametrize("name", FORMATS_8 + FORMATS_16)
def test_every_encoding_decodes_and_reencodes_as_cli(name):
    f = numrep.Format(name)
    bits, v = all_values(f)
    cb, cv = cli_round(name, lines(v))
    ours = numrep.encode(v, f)
    assert np.array_equal(ours.astype(np.uint64), cb)
    # canonical encodings come back unchanged (NaNs to the canonical NaN)
    ok = np.isfinite(v)
    assert np.array_equal(ours[ok], numrep.encode(cv[ok], f))
    # float32 decode (bulk kernel) agrees with the exact decode where it fits
    if all(abs(x) < 3e38 for x in v[ok]) and f.kind == "float" and f.man_bits <= 23:
        d32 = numrep.decode(bits, f, dtype=np.float32)
        assert np.array_equal(d32[ok].astype(np.float64), v[ok])


CASES = [(n, m) for n in FORMATS_8 for m in MODES] + \
    [(n, m) for n in ("fp16", "q7.8", "bf16") for m in ("rne", "rd", "sr")]


@pytest.mark.parametrize("name,mode", CASES)
def test_round_and_encode_match_cli(name, mode):
    f = numrep.Format(name)
    rng = np.random.default_rng(sum(map(ord, name + mode)))
    x = probe_values(f, rng)
    if f.bits > 8:  # 16-bit formats: every encoding is checked above; a sample here
        x = np.concatenate([rng.choice(x[:-608], 6000), x[-608:]])
    seed = 12345
    cb, cv = cli_round(name, lines(x), rounding=mode, seed=seed)
    eb = numrep.encode(x, f, rounding=mode, seed=seed)
    assert np.array_equal(eb.astype(np.uint64), cb)
    r = numrep.round(x, f, rounding=mode, seed=seed)
    assert np.array_equal(np.isnan(r), np.isnan(cv))
    assert np.array_equal(r[~np.isnan(r)], cv[~np.isnan(cv)])
    # float32 input: the bulk kernels, same bits as the CLI on the same values
    x32 = x[np.abs(x) < 3e38].astype(np.float32)
    x32 = x32[np.isnan(x32) | (x32.astype(np.float64) == x[np.abs(x) < 3e38])]
    cb32, _ = cli_round(name, lines(x32.astype(np.float64)), rounding=mode, seed=seed)
    assert np.array_equal(numrep.encode(x32, f, rounding=mode, seed=seed).astype(np.uint64), cb32)
    r32 = numrep.round(x32, f, rounding=mode, seed=seed)
    assert r32.dtype == np.float32
    dec = numrep.decode(numrep.encode(x32, f, rounding=mode, seed=seed), f, dtype=np.float32)
    assert np.array_equal(r32.view(np.uint32), dec.view(np.uint32))


def test_round_threads_and_shapes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 1000, 70)).astype(np.float32)
    a = numrep.round(x, "e4m3", "sr", seed=7, threads=1)
    b = numrep.round(x, "e4m3", "sr", seed=7, threads=4)
    assert a.shape == x.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))
    x64 = x.astype(np.float64)
    c = numrep.round(x64, "e4m3", "sr", seed=7, threads=3)
    assert np.array_equal(c, a.astype(np.float64))


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "q3.4", "bf16"])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "fma", "sqrt"])
@pytest.mark.parametrize("mode", ["rne", "rz", "sr"])
def test_arithmetic_matches_cli(name, op, mode):
    f = numrep.Format(name)
    rng = np.random.default_rng(sum(map(ord, name + op + mode)))
    _, v = all_values(f)
    arity = {"sqrt": 1, "fma": 3}.get(op, 2)
    ops = [rng.choice(v, 1500) for _ in range(arity)]
    text = [" ".join(lines(col)) for col in zip(*ops)]
    cb, cv = cli_round(name, [" ".join(lines(np.array(t))) for t in zip(*ops)],
                       rounding=mode, seed=99, op=op)
    assert len(text) == len(cb)
    fn = getattr(numrep, op)
    got = fn(*ops, f, rounding=mode, seed=99, bits=True)
    assert np.array_equal(got.astype(np.uint64), cb)
    vals = fn(*ops, f, rounding=mode, seed=99)
    assert np.array_equal(np.isnan(vals), np.isnan(cv))
    assert np.array_equal(vals[~np.isnan(vals)], cv[~np.isnan(cv)])


def test_out_arrays_and_in_place():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(100000).astype(np.float32)
    want = numrep.round(x, "e5m2", "sr", seed=2)
    out = np.empty_like(x)
    assert numrep.round(x, "e5m2", "sr", seed=2, out=out) is out
    assert np.array_equal(out.view(np.uint32), want.view(np.uint32))
    y = x.copy()
    numrep.round(y, "e5m2", "sr", seed=2, out=y)  # in place
    assert np.array_equal(y.view(np.uint32), want.view(np.uint32))
    b = np.empty(x.shape, np.uint8)
    numrep.encode(x, "e5m2", out=b)
    assert np.array_equal(b, numrep.encode(x, "e5m2"))
    with pytest.raises(TypeError, match="out must be an ndarray of dtype float32"):
        numrep.round(x, "e5m2", out=np.empty(x.shape))
    with pytest.raises(ValueError, match="out has shape"):
        numrep.round(x, "e5m2", out=np.empty(3, np.float32))


def _reference_pack(bits, width):
    """The dense layout written out with NumPy alone: each value's width low
    bits, LSB first, concatenated, then 8 bits a byte LSB first."""
    b = np.asarray(bits, dtype=np.uint64)
    planes = ((b[:, None] >> np.arange(width, dtype=np.uint64)) & 1).astype(np.uint8)
    return np.packbits(planes.ravel(), bitorder="little")


@pytest.mark.parametrize("name", ["e2m1", "e3m2", "e4m3", "e6m7-finite-nosub-sat", "q3.4",
                                  "e5m10", "bf16", "q11.12", "e8m23", "e11m20", "e8m31",
                                  "fp64"])
def test_pack_dense_layout_and_roundtrip(name):
    f = numrep.Format(name)
    rng = np.random.default_rng(f.bits)
    for n in (0, 1, 7, 8, 9, 1001):
        x = rng.standard_normal(n) * 4
        bits = numrep.encode(x, f)
        packed = numrep.pack(bits, f)
        assert packed.dtype == np.uint8 and packed.size == (n * f.bits + 7) // 8
        assert np.array_equal(packed, _reference_pack(bits, f.bits))
        assert np.array_equal(numrep.unpack(packed, f, n), bits)
    # bits above the width are ignored; a short buffer is refused
    wide = np.full(3, np.iinfo(f.dtype).max, dtype=f.dtype)
    assert np.array_equal(numrep.unpack(numrep.pack(wide, f), f, 3),
                          (wide.astype(np.uint64) & ((1 << f.bits) - 1)).astype(f.dtype))
    with pytest.raises(ValueError, match="bytes"):
        numrep.unpack(np.zeros(1, np.uint8), f, 100)
    with pytest.raises(TypeError):
        numrep.pack(np.zeros(4, np.float32), f)
