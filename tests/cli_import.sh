#!/usr/bin/env bash
# cli_import.sh -- `numrep import MODEL.onnx -o DIR`.
#
#  * hostile files that need no python: missing, empty-named, garbage and
#    truncated protobuf (the truncated one cut from a model built below when
#    python3-onnx is there), usage errors;
#  * with python3-onnx + numpy: models built with onnx.helper by
#    tests/onnx/make_models.py (every supported operator), imported, run with
#    `numrep emulate` at fp32 and compared with the float64 numpy reference
#    the script computed from the ONNX operator definitions; bad models, each
#    with the message it must give;
#  * with python3-torch: ResNet-20 exported by torch.onnx.export (constant
#    folding on, opset 13; and off, opset 11) from specs/resnet20's weights,
#    imported, and compared on specs/resnet20/sample.npy with the hand-written
#    specs/resnet20/resnet20.yaml (logits within 1e-4, same argmax) and with
#    torch's own logits.
# Parts whose python modules are missing are skipped with a note.
# usage: bash cli_import.sh path/to/numrep
set -u
NUMREP=${1:?usage: cli_import.sh path/to/numrep}
SRC=${NUMREP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/cli_import.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# The python that has the modules (Debian's python3-onnx/-torch live in
# /usr/bin/python3, which a pyenv or venv python3 on PATH does not see).
find_python() { # find_python MODULE...
    local py
    for py in ${NUMREP_PYTHON:-} python3 /usr/bin/python3; do
        command -v "$py" >/dev/null 2>&1 || continue
        "$py" -c "import $(IFS=,; echo "$*")" >/dev/null 2>&1 && { echo "$py"; return 0; }
    done
    return 1
}

expect_err() { # expect_err LABEL WANT ARGS...  (exit 1, message contains WANT, nothing written)
    local label=$1 want=$2; shift 2
    rm -rf "$T/out_err"
    out=$("$NUMREP" import "$@" -o "$T/out_err" 2>&1); rc=$?
    [ $rc -eq 1 ] || fail "$label: exit $rc, expected 1 ($out)"
    case $out in *"$want"*) ;; *) fail "$label: '$out' lacks '$want'";; esac
    [ ! -e "$T/out_err/out_err.yaml" ] || fail "$label: spec written despite the error"
}

expect_usage() {
    local label=$1 want=$2; shift 2
    out=$("$NUMREP" import "$@" 2>&1); rc=$?
    [ $rc -eq 2 ] || fail "$label: exit $rc, expected 2 ($out)"
    case $out in *"$want"*) ;; *) fail "$label: '$out' lacks '$want'";; esac
}

# compare Y.npy (numrep) with REF.npy: max |a-b| <= atol + rtol*|b|, same shape after flattening per sample
compare() { # compare LABEL GOT.npy WANT.npy RTOL ATOL [argmax]
    "$PY" - "$@" <<'EOF' || fail "$1: outputs differ"
import sys
import numpy as np
label, got, want, rtol, atol = sys.argv[1:6]
a, b = np.load(got).astype(np.float64), np.load(want).astype(np.float64)
a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
assert a.shape == b.shape, (label, a.shape, b.shape)
err = np.abs(a - b) - (float(atol) + float(rtol) * np.abs(b))
if err.max() > 0:
    i = np.unravel_index(err.argmax(), a.shape)
    print("%s: at %s got %.9g want %.9g" % (label, i, a[i], b[i]))
    sys.exit(1)
if len(sys.argv) > 6:
    assert (a.argmax(1) == b.argmax(1)).all(), (label, a.argmax(1), b.argmax(1))
print("%s: max |diff| %.3g" % (label, np.abs(a - b).max()))
EOF
}

# ---- usage errors
expect_usage "no args" "missing the ONNX model file"
expect_usage "no -o" "missing -o DIR" m.onnx
expect_usage "-o without dir" "-o needs an argument" m.onnx -o
expect_usage "unknown option" "unknown option '--bogus'" m.onnx --bogus -o x
expect_usage "two models" "more than one model file" a.onnx b.onnx -o x
"$NUMREP" import --help | grep -q "usage: numrep import" || fail "--help"

# ---- hostile files without python
expect_err "missing file" "$T/nothere.onnx: cannot open" "$T/nothere.onnx"
printf 'this is not a protobuf \377\377\377\377' >"$T/garbage.onnx"
expect_err "garbage" "$T/garbage.onnx: not a valid ONNX model" "$T/garbage.onnx"
: >"$T/empty.onnx"
expect_err "empty" "$T/empty.onnx: the model has no graph" "$T/empty.onnx"
# a length-delimited field (graph = field 7) claiming more bytes than the file has
printf '\x3a\x7f\x0a\x02' >"$T/short.onnx"
expect_err "short field" "$T/short.onnx: not a valid ONNX model" "$T/short.onnx"
expect_err "bad --name" "name: \"a b\": expected letters" "$T/garbage.onnx" --name "a b"

PY=$(find_python onnx,numpy) || PY=
if [ -z "$PY" ]; then
    echo "cli_import: python3 with onnx and numpy not found; helper-built models skipped"
else
    M=$T/models
    mkdir -p "$M"
    "$PY" "$SRC/tests/onnx/make_models.py" "$M" >/dev/null || fail "make_models.py failed"
    for x in "$M"/*.x.npy; do
        [ -e "$x" ] || { fail "no models built"; break; }
        name=$(basename "$x" .x.npy)
        out=$("$NUMREP" import "$M/$name.onnx" -o "$T/imp_$name" 2>&1) \
            || { fail "$name: import: $out"; continue; }
        out=$("$NUMREP" emulate "$T/imp_$name/imp_$name.yaml" --input "$x" -o "$T/$name.y.npy" 2>&1) \
            || { fail "$name: emulate: $out"; continue; }
        compare "$name" "$T/$name.y.npy" "$M/$name.y.npy" 1e-4 1e-5
    done
    # spot checks of the written spec (the numbers above prove the meaning;
    # these prove the mapping of defaults that ONNX and the spec disagree on)
    grep -q "name: 'avg', op: avgpool, kernel: 3, stride: 1, pad: 1, count_include_pad: false" \
        "$T/imp_net/imp_net.yaml" || fail "net: avgpool line"
    grep -q "name: 'bn1', op: batchnorm, eps: 0.001" "$T/imp_net/imp_net.yaml" || fail "net: bn eps"
    grep -q "name: 'lower', op: conv, out: 5, kernel: 2, pad: \[1, 1, 0, 0\]" \
        "$T/imp_conv_variants/imp_conv_variants.yaml" || fail "conv_variants: SAME_LOWER pads"
    grep -q "name: 'relu6', op: relu6" "$T/imp_dense/imp_dense.yaml" || fail "dense: relu6"
    [ -z "$(grep -E "'(bias_add|id|drop)'" "$T/imp_dense/imp_dense.yaml" \
        "$T/imp_concat_slice_pad/imp_concat_slice_pad.yaml")" ] || fail "aliases became layers"
    for w in "$M"/bad_*.want; do
        name=$(basename "$w" .want)
        expect_err "$name" "$M/$name.onnx: $(cat "$w")" "$M/$name.onnx"
    done
    # truncations of a real model: every cut must fail cleanly, never crash
    size=$(wc -c <"$M/net.onnx")
    for cut in 1 2 7 20 100 $((size / 2)) $((size - 1)); do
        head -c "$cut" "$M/net.onnx" >"$T/cut.onnx"
        out=$("$NUMREP" import "$T/cut.onnx" -o "$T/cut" 2>&1); rc=$?
        [ $rc -eq 1 ] || fail "truncated at $cut: exit $rc ($out)"
        case $out in *"$T/cut.onnx: "*) ;; *) fail "truncated at $cut: '$out'";; esac
    done
    # corrupted bytes (deterministic positions and values): any exit but 0/1
    # (a signal: crash, sanitizer abort) is a failure
    "$PY" - "$M/net.onnx" "$T/flip" <<'EOF' || fail "flip generator"
import random, sys
b = bytearray(open(sys.argv[1], 'rb').read())
r = random.Random(7)
for k in range(40):
    c = bytearray(b)
    for _ in range(1 + k % 4):
        c[r.randrange(len(c)) if k % 2 else r.randrange(min(len(c), 400))] = r.randrange(256)
    open('%s%02d.onnx' % (sys.argv[2], k), 'wb').write(c)
EOF
    for f in "$T"/flip*.onnx; do
        out=$("$NUMREP" import "$f" -o "$T/flipout" 2>&1); rc=$?
        [ $rc -le 1 ] || fail "$(basename "$f"): exit $rc ($out)"
    done
    # the output directory's name is the spec's name unless --name says otherwise
    "$NUMREP" import "$M/net.onnx" -o "$T/named/" --name other >/dev/null \
        && [ -f "$T/named/other.yaml" ] && [ -f "$T/named/other.safetensors" ] \
        && grep -q "^name: 'other'" "$T/named/other.yaml" || fail "--name"
fi

PYT=$(find_python torch,onnx,numpy) || PYT=
if [ -z "$PYT" ]; then
    echo "cli_import: python3 with torch and onnx not found; ResNet-20 export skipped"
else
    PY=$PYT
    R=$SRC/specs/resnet20
    "$NUMREP" emulate "$R/resnet20.yaml" --input "$R/sample.npy" -o "$T/hand.npy" \
        || fail "hand-written resnet20 does not run"
    for variant in "13 fold" "11 nofold"; do
        set -- $variant
        D=$T/r20_$2
        mkdir -p "$D"
        "$PY" "$SRC/tests/onnx/export_resnet20.py" "$R/resnet20.safetensors" "$R/sample.npy" "$D" \
            "$1" "$2" >"$D/log" 2>&1 || { fail "export ($variant): $(tail -3 "$D/log")"; continue; }
        out=$("$NUMREP" import "$D/resnet20.onnx" -o "$D/imp" 2>&1) \
            || { fail "resnet20 ($variant): import: $out"; continue; }
        out=$("$NUMREP" emulate "$D/imp/imp.yaml" --input "$R/sample.npy" -o "$D/y.npy" 2>&1) \
            || { fail "resnet20 ($variant): emulate: $out"; continue; }
        compare "resnet20 opset $1 $2 vs hand-written spec" "$D/y.npy" "$T/hand.npy" 0 1e-4 argmax
        compare "resnet20 opset $1 $2 vs torch" "$D/y.npy" "$D/torch_logits.npy" 0 1e-4 argmax
    done
fi

if [ $fails -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "cli_import: all passed"
