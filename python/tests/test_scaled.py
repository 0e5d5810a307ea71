"""test_scaled.py -- scaled formats (numrep.ScaledFormat, numrep.round on a
scaled format) against `numrep format --json` and `numrep round FMT` (one
group per input line) on the same values: every group's scale encoding and
every element value, bit for bit, in several rounding modes; numrep.encode's
element and scale encodings against the same lines, and numrep.decode back."""
import json

import numpy as np
import pytest

import numrep
from conftest import cli

SCALED = ["mxfp4", "mxfp8", "mxfp6e2m3", "mxint8", "nvfp4", "e4m3@b8:ue4m3:amax-up",
          "int8@b32:fp32", "e5m2@tensor:fp32", "e2m1@b16:e8m0:rceil"]


def cli_groups(name, rows, rounding="rne", seed=0, codes=False):
    """`numrep round NAME` with one row a line: per group (scale bits, values)
    (codes: (scale bits, element encodings))."""
    text = "".join(" ".join(float(v).hex() if np.isfinite(v) else repr(float(v)) for v in r)
                   + "\n" for r in rows)
    out = cli("round", name, "--rounding", rounding, "--seed", seed, stdin=text).splitlines()
    groups = []
    for line in out:
        f = line.split()
        if f[0] == "scale":
            groups.append([int(f[3], 16), []])
        elif f[0] != "tensor":
            groups[-1][1].append(int(f[2], 16) if codes else float(f[-1]))
    return groups


@pytest.mark.parametrize("name", SCALED)
def test_properties_match_cli_format(name):
    f = numrep.Format(name)
    assert isinstance(f, numrep.ScaledFormat) and f.kind == "scaled"
    want = json.loads(cli("format", name, "--json"))
    assert str(f) == want["name"] and str(f.element) == want["element"]
    assert (f.granularity, f.block, f.scale, f.rule) == (
        want["granularity"], want["block"], want["scale"], want["rule"])
    assert (f.emax_elem, f.bits) == (want["emax_elem"], want["bits_per_element"])
    assert numrep.Format(str(f)) == f


@pytest.mark.parametrize("name", SCALED)
@pytest.mark.parametrize("rounding", ["rne", "rz", "sr"])
def test_round_matches_cli_group_by_group(name, rounding):
    f = numrep.Format(name)
    rng = np.random.default_rng(7)
    width = f.block or 24
    rows = rng.standard_normal((1 if f.scale == "nv" else 6, width)) * \
        np.exp(rng.uniform(-8, 8, (1 if f.scale == "nv" else 6, 1)))
    if f.scale != "nv":
        rows[2, :] = 0.0      # an all-zero group
        rows[3, 1] = np.nan   # a NaN group
        rows[4, 0] = 1e30     # clipping
    if f.granularity == "tensor":  # one group: the CLI takes one line
        rows = rows[:1]
    y, scales, sbits = numrep.round(rows, f, rounding, seed=11, return_scales=True)
    want = cli_groups(name, rows, rounding, 11)
    assert len(want) == len(scales)
    for g, (wb, wv) in enumerate(want):
        assert int(sbits[g]) == wb, (g, hex(int(sbits[g])), hex(wb))
        got = y[g] if f.granularity != "tensor" else y.ravel()
        assert np.array_equal(got, np.array(wv), equal_nan=True), g


def test_blocks_along_an_axis_and_short_last_block():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 70, 5)).astype(np.float32)  # axis 1: 32 + 32 + 6
    y, s, _ = numrep.round(x, "mxfp8", axis=1, return_scales=True)
    assert y.shape == x.shape and y.dtype == np.float64 and s.shape == (3 * 5 * 3,)
    for i in range(3):
        for k in range(5):
            col = numrep.round(np.ascontiguousarray(x[i, :, k]), "mxfp8")
            assert np.array_equal(col, y[i, :, k])
    ch = numrep.round(x.reshape(3, -1), "int8@channel")
    assert np.array_equal(ch[1], numrep.round(x.reshape(3, -1)[1:2], "int8@channel")[0])


def test_threads_do_not_change_bits():
    x = np.random.default_rng(2).standard_normal(1 << 18)
    a = numrep.round(x, "mxfp4", "sr", seed=3, threads=1)
    b = numrep.round(x, "mxfp4", "sr", seed=3, threads=4)
    assert np.array_equal(a, b)


def test_bad_arguments():
    with pytest.raises(numrep.Error):
        numrep.Format("e2m1@b0")
    with pytest.raises(ValueError, match="static"):
        numrep.round(np.ones(4), "int8@tensor:fp32:static")
    assert np.array_equal(numrep.round(np.ones(4), "int8@tensor:fp32:static", scale=0.5),
                          np.ones(4))
    with pytest.raises(ValueError, match="scale="):
        numrep.round(np.ones(4), "mxfp4", scale=2.0)
    with pytest.raises(ValueError, match="axis"):
        numrep.round(np.ones(4), "mxfp4", axis=1)
    with pytest.raises(TypeError, match="scaled"):
        numrep.pack(np.ones(4, dtype=np.uint8), "mxfp4")
    with pytest.raises(TypeError, match="scale encodings"):
        numrep.decode(np.ones(4, dtype=np.uint8), "mxfp4")
    with pytest.raises(numrep.ShapeError, match="groups"):
        numrep.decode(np.ones(40, dtype=np.uint8), "mxfp4", scales=np.ones(1, dtype=np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        numrep.decode(np.ones(4, dtype=np.uint16), "mxfp4", scales=np.ones(1, dtype=np.uint8))
    with pytest.raises(numrep.RangeError, match="tensor scale"):
        numrep.decode(np.ones(4, dtype=np.uint8), "nvfp4", scales=np.ones(1, dtype=np.uint8))
    with pytest.raises(ValueError, match="static"):
        numrep.encode(np.ones(4), "int8@tensor:fp32:static")
    with pytest.raises(TypeError, match="scaled formats"):
        numrep.round(np.ones(4), "e4m3", axis=0)
    with pytest.raises(TypeError):
        numrep.round(np.ones(4, dtype=np.int32), "mxfp4")


@pytest.mark.parametrize("name", SCALED)
def test_encode_matches_cli_and_decodes_back(name):
    f = numrep.Format(name)
    rng = np.random.default_rng(5)
    width = f.block or 24
    nrows = 1 if f.scale == "nv" or f.granularity == "tensor" else 5
    rows = rng.standard_normal((nrows, width)) * np.exp(rng.uniform(-6, 6, (nrows, 1)))
    if nrows > 1:
        rows[2, :] = 0.0
        rows[3, 0] = 1e30
    enc = numrep.encode(rows, f, "sr", seed=4)
    assert isinstance(enc, numrep.ScaledCodes)
    assert enc.codes.dtype == f.element.dtype and enc.codes.shape == rows.shape
    assert enc.scales.dtype == (np.uint32 if f.scale == "fp32" else np.uint8)
    want = cli_groups(name, rows, "sr", 4, codes=True)
    assert len(want) == enc.scales.size
    for g, (wb, wc) in enumerate(want):
        assert int(enc.scales[g]) == wb, g
        got = enc.codes[g] if f.granularity != "tensor" else enc.codes.ravel()
        assert [int(c) for c in got] == wc, g
    assert (enc.tensor_scale is not None) == (f.scale == "nv")
    same = numrep.round(rows, f, "sr", seed=4)
    assert np.array_equal(numrep.decode(enc, f), same)
    assert np.array_equal(numrep.decode(enc.codes, f, scales=enc.scales,
                                        tensor_scale=enc.tensor_scale), same)
    packed = numrep.pack(enc.codes, f.element)  # dense elements + scales: the storage
    assert np.array_equal(numrep.unpack(packed, f.element, rows.size).reshape(rows.shape),
                          enc.codes)


def test_encode_along_an_axis_nan_groups_and_threads():
    x = np.random.default_rng(3).standard_normal((3, 70, 5))
    x[1, 40, 2] = np.nan
    enc = numrep.encode(x, "mxfp8", axis=1)
    y = numrep.round(x, "mxfp8", axis=1)
    assert np.array_equal(numrep.decode(enc, "mxfp8", axis=1), y, equal_nan=True)
    assert np.isnan(numrep.decode(enc, "mxfp8", axis=1)[1, 32:64, 2]).all()
    big = np.random.default_rng(4).standard_normal(1 << 18)
    e1 = numrep.encode(big, "nvfp4", "sr", seed=2, threads=1)
    e4 = numrep.encode(big, "nvfp4", "sr", seed=2, threads=4)
    assert np.array_equal(e1.codes, e4.codes) and np.array_equal(e1.scales, e4.scales)
    assert np.array_equal(numrep.decode(e4, "nvfp4", threads=4), numrep.round(big, "nvfp4",
                                                                              "sr", seed=2))
