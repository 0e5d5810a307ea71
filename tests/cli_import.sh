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
BIN=${1:?usage: cli_import.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"


expect_err() { # expect_err LABEL WANT ARGS...  (exit 1, message contains WANT, nothing written)
    local label=$1 want=$2; shift 2
    rm -rf "$tmp/out_err"
    expect_exit 1 "$label" "$want" import "$@" -o "$tmp/out_err"
    [ ! -e "$tmp/out_err/out_err.yaml" ] && ok || bad "$label: spec written despite the error"
}

expect_usage() { # expect_usage LABEL WANT ARGS...
    expect_exit 2 "$1" "$2" import "${@:3}"
}

# compare Y.npy (numrep) with REF.npy: max |a-b| <= atol + rtol*|b|, same shape after flattening per sample
compare() { # compare LABEL GOT.npy WANT.npy RTOL ATOL [argmax]
    "$PY" - "$@" <<'EOF' && ok || bad "$1: outputs differ"
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
"$BIN" import --help | grep -q "usage: numrep import" && ok || bad "--help"

# ---- hostile files without python
expect_err "missing file" "$tmp/nothere.onnx: cannot open" "$tmp/nothere.onnx"
printf 'this is not a protobuf \377\377\377\377' >"$tmp/garbage.onnx"
expect_err "garbage" "$tmp/garbage.onnx: not a valid ONNX model" "$tmp/garbage.onnx"
: >"$tmp/empty.onnx"
expect_err "empty" "$tmp/empty.onnx: the model has no graph" "$tmp/empty.onnx"
# a length-delimited field (graph = field 7) claiming more bytes than the file has
printf '\x3a\x7f\x0a\x02' >"$tmp/short.onnx"
expect_err "short field" "$tmp/short.onnx: not a valid ONNX model" "$tmp/short.onnx"
expect_err "bad --name" "name: \"a b\": expected letters" "$tmp/garbage.onnx" --name "a b"

PY=$(find_python onnx,numpy) || PY=
if [ -z "$PY" ]; then
    skip_part "helper-built ONNX models: python3 with onnx and numpy not found"
else
    M=$tmp/models
    mkdir -p "$M"
    "$PY" "$SRC/tests/onnx/make_models.py" "$M" >/dev/null && ok || bad "make_models.py failed"
    for x in "$M"/*.x.npy; do
        [ -e "$x" ] || { bad "no models built"; break; }
        name=$(basename "$x" .x.npy)
        out=$("$BIN" import "$M/$name.onnx" -o "$tmp/imp_$name" 2>&1) \
            || { bad "$name: import: $out"; continue; }
        out=$("$BIN" emulate "$tmp/imp_$name/imp_$name.yaml" --input "$x" -o "$tmp/$name.y.npy" 2>&1) \
            || { bad "$name: emulate: $out"; continue; }
        compare "$name" "$tmp/$name.y.npy" "$M/$name.y.npy" 1e-4 1e-5
    done
    # spot checks of the written spec (the numbers above prove the meaning;
    # these prove the mapping of defaults that ONNX and the spec disagree on)
    grep -q "name: 'avg', op: avgpool, kernel: 3, stride: 1, pad: 1, count_include_pad: false" \
        "$tmp/imp_net/imp_net.yaml" && ok || bad "net: avgpool line"
    grep -q "name: 'bn1', op: batchnorm, eps: 0.001" "$tmp/imp_net/imp_net.yaml" && ok || bad "net: bn eps"
    grep -q "name: 'lower', op: conv, out: 5, kernel: 2, pad: \[1, 1, 0, 0\]" \
        "$tmp/imp_conv_variants/imp_conv_variants.yaml" && ok || bad "conv_variants: SAME_LOWER pads"
    grep -q "name: 'relu6', op: relu6" "$tmp/imp_dense/imp_dense.yaml" && ok || bad "dense: relu6"
    [ -z "$(grep -E "'(bias_add|id|drop)'" "$tmp/imp_dense/imp_dense.yaml" \
        "$tmp/imp_concat_slice_pad/imp_concat_slice_pad.yaml")" ] && ok || bad "aliases became layers"
    for w in "$M"/bad_*.want; do
        name=$(basename "$w" .want)
        expect_err "$name" "$M/$name.onnx: $(cat "$w")" "$M/$name.onnx"
    done
    # truncations of a real model: every cut must fail cleanly, never crash
    size=$(wc -c <"$M/net.onnx")
    for cut in 1 2 7 20 100 $((size / 2)) $((size - 1)); do
        head -c "$cut" "$M/net.onnx" >"$tmp/cut.onnx"
        expect_exit 1 "truncated at $cut" "$tmp/cut.onnx: " import "$tmp/cut.onnx" -o "$tmp/cut"
    done
    # corrupted bytes (deterministic positions and values): any exit but 0/1
    # (a signal: crash, sanitizer abort) is a failure
    "$PY" - "$M/net.onnx" "$tmp/flip" <<'EOF' && ok || bad "flip generator"
import random, sys
b = bytearray(open(sys.argv[1], 'rb').read())
r = random.Random(7)
for k in range(40):
    c = bytearray(b)
    for _ in range(1 + k % 4):
        c[r.randrange(len(c)) if k % 2 else r.randrange(min(len(c), 400))] = r.randrange(256)
    open('%s%02d.onnx' % (sys.argv[2], k), 'wb').write(c)
EOF
    for f in "$tmp"/flip*.onnx; do
        out=$("$BIN" import "$f" -o "$tmp/flipout" 2>&1); rc=$?
        [ $rc -le 1 ] && ok || bad "$(basename "$f"): exit $rc ($out)"
    done
    # the output directory's name is the spec's name unless --name says otherwise
    "$BIN" import "$M/net.onnx" -o "$tmp/named/" --name other >/dev/null \
        && [ -f "$tmp/named/other.yaml" ] && [ -f "$tmp/named/other.safetensors" ] \
        && grep -q "^name: 'other'" "$tmp/named/other.yaml" && ok || bad "--name"
fi

PYT=$(find_python torch,onnx,numpy) || PYT=
if [ -z "$PYT" ]; then
    skip_part "ResNet-20 torch export: python3 with torch and onnx not found"
else
    PY=$PYT
    R=$SRC/specs/resnet20
    "$BIN" emulate "$R/resnet20.yaml" --input "$R/sample.npy" -o "$tmp/hand.npy" \
        && ok || bad "hand-written resnet20 does not run"
    for variant in "13 fold" "11 nofold"; do
        set -- $variant
        D=$tmp/r20_$2
        mkdir -p "$D"
        "$PY" "$SRC/tests/onnx/export_resnet20.py" "$R/resnet20.safetensors" "$R/sample.npy" "$D" \
            "$1" "$2" >"$D/log" 2>&1 || { bad "export ($variant): $(tail -3 "$D/log")"; continue; }
        out=$("$BIN" import "$D/resnet20.onnx" -o "$D/imp" 2>&1) \
            || { bad "resnet20 ($variant): import: $out"; continue; }
        out=$("$BIN" emulate "$D/imp/imp.yaml" --input "$R/sample.npy" -o "$D/y.npy" 2>&1) \
            || { bad "resnet20 ($variant): emulate: $out"; continue; }
        compare "resnet20 opset $1 $2 vs hand-written spec" "$D/y.npy" "$tmp/hand.npy" 0 1e-4 argmax
        compare "resnet20 opset $1 $2 vs torch" "$D/y.npy" "$D/torch_logits.npy" 0 1e-4 argmax
    done
    # The same accuracy as the hand-written spec on real data (the shipped
    # CIFAR-10 subset, JIT).  ONNX carries no preprocessing: import takes it
    # as options and writes the hand-written spec's `input:` fields; eval of
    # a spec without them says so in its result.
    D=$tmp/r20_fold
    if [ -f "$D/resnet20.onnx" ]; then
        n=$([ -n "${NUMREP_QUICK:-}" ] && echo 100 || echo 500)
        top1() { "$BIN" eval "$1" --limit "$n" --no-progress --no-cache "${@:2}" \
                     2>/dev/null | awk '$1 == "top-1" { print $2, $4 }'; }
        run eval "$D/imp/imp.yaml" --data "$R/cifar10-1000" --limit 10 --no-progress --no-cache
        if grep -q '^input .*WARNING: no preprocessing declared' "$tmp/out" &&
           grep -q 'warning: .*declares no input preprocessing' "$tmp/err"; then ok
        else bad "eval of a spec without preprocessing: no warning: $(cat "$tmp/out" "$tmp/err")"; fi
        "$BIN" import "$D/resnet20.onnx" -o "$D/pp" --divisor 255 --mean 0.485,0.456,0.406 \
            --std 0.229,0.224,0.225 --dataset "$R/cifar10-1000" >/dev/null \
            && ok || bad "resnet20: import with preprocessing options failed"
        want=$(grep '^input:' "$R/resnet20.yaml")
        [ "$(grep '^input:' "$D/pp/pp.yaml")" = "$want" ] && ok \
            || bad "import --mean/--std: '$(grep '^input:' "$D/pp/pp.yaml")', want '$want'"
        a_hand=$(top1 "$R/resnet20.yaml" --data "$R/cifar10-1000")
        a_imp=$(top1 "$D/pp/pp.yaml") # its data from the spec's `dataset:`
        if [ -n "$a_hand" ] && [ "$a_hand" = "$a_imp" ]; then ok
        else bad "resnet20: imported top-1 on $n CIFAR images '$a_imp', hand-written '$a_hand'"; fi
        # bad preprocessing options: usage errors, nothing written
        for args in "--mean 0.4,x" "--std 1,2,3,4" "--divisor 0" "--divisor -1" "--resize 256" \
                    "--crop 3x" "--resize 0 --crop 32" "--dataset $tmp/nonexistent"; do
            rm -rf "$tmp/ppbad"
            # shellcheck disable=SC2086
            out=$("$BIN" import "$D/resnet20.onnx" -o "$tmp/ppbad" $args 2>&1); rc=$?
            [ "$rc" -eq 2 ] && [ ! -e "$tmp/ppbad/ppbad.yaml" ] && ok \
                || bad "import $args: exit $rc, $out"
        done
        # a count that does not match the input's channels: the spec parser's
        # error when the written spec is read back, and nothing is kept
        out=$("$BIN" import "$D/resnet20.onnx" -o "$tmp/ppbad" --mean 0.4,0.5 2>&1); rc=$?
        [ "$rc" -eq 1 ] && [ ! -e "$tmp/ppbad/ppbad.yaml" ] && ok || bad "import --mean 0.4,0.5: exit $rc, $out"
    fi
fi

finish
