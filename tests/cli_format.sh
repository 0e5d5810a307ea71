#!/usr/bin/env bash
# cli_format.sh -- `numrep format`: output lines, exit codes and messages.
# usage: bash tests/cli_format.sh path/to/numrep
# Expected values are written down independently (IEEE 754, OCP FP8/MX).
set -u
BIN=${1:?usage: cli_format.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"

# expect_line FMT 'label' 'value': the line for label reads exactly value.
expect_line() {
    local fmt=$1 label=$2 want=$3
    run format "$fmt"
    if [ "$rc" -ne 0 ]; then
        bad "format $fmt: exit $rc: $(cat "$tmp/err")"
        return
    fi
    local got
    got=$(awk -v l="$label" 'substr($0, 1, length(l) + 1) == l " " {
            v = substr($0, length(l) + 1); sub(/^ +/, "", v); print v; exit }' "$tmp/out")
    if [ "$got" = "$want" ]; then ok; else bad "format $fmt: '$label' is '$got', want '$want'"; fi
}

# ---- good formats
expect_line fp16 name fp16
expect_line fp16 kind float
expect_line fp16 width "16 bits (container 2 bytes)"
expect_line fp16 "exponent bits" 5
expect_line fp16 "mantissa bits" 10
expect_line fp16 bias 15
expect_line fp16 emin -14
expect_line fp16 emax 15
expect_line fp16 "largest finite" "65504 (0x1.ffcp+15)"
expect_line fp16 "lowest finite" "-65504 (-0x1.ffcp+15)"
expect_line fp16 "smallest normal" "6.103515625e-05 (0x1p-14)"
expect_line fp16 "smallest subnormal" "5.9604644775390625e-08 (0x1p-24)"
expect_line fp16 epsilon "0.0009765625 (0x1p-10)"
expect_line fp16 "finite values" 63487
expect_line fp16 "+inf encoding" 0x7c00
expect_line fp16 "-inf encoding" 0xfc00
expect_line fp16 "+max encoding" 0x7bff
expect_line fp16 "-0" "yes (0x8000)"

expect_line e4m3 name e4m3
expect_line e4m3 width "8 bits (container 1 byte)"
expect_line e4m3 "largest finite" "448 (0x1.cp+8)"
expect_line e4m3 "smallest subnormal" "0.001953125 (0x1p-9)"
expect_line e4m3 "+inf encoding" none
expect_line e4m3 "-inf encoding" none
expect_line e4m3 "NaN encoding" "0x7f canonical, also 0xff"
expect_line e4m3 "finite values" 253
expect_line E4M3-FN name e4m3

expect_line e4m3-fnuz bias 8
expect_line e4m3-fnuz "largest finite" "240 (0x1.ep+7)"
expect_line e4m3-fnuz "NaN encoding" "0x80 (the only NaN)"
expect_line e4m3-fnuz "-0" "no (0x80 is NaN)"

expect_line e5m2 "largest finite" "57344 (0x1.cp+15)"
expect_line e5m2 "+inf encoding" 0x7c
expect_line e3m2 "largest finite" "28 (0x1.cp+4)"
expect_line e3m2 "NaN encoding" none
expect_line e3m2 overflow "saturate to +-max (finite format)"
expect_line e2m3 "largest finite" "7.5 (0x1.ep+2)"
expect_line e2m1 "largest finite" "6 (0x1.8p+2)"
expect_line e2m1 width "4 bits (container 1 byte)"
expect_line e2m1-nosub "smallest subnormal" "none (no subnormals)"
expect_line e2m1-nosub name e2m1-nosub-finite
expect_line bf16 "largest finite" "3.3895313892515355e+38 (0x1.fep+127)"
expect_line bf16-nosub name e8m7-nosub
expect_line fp32 "finite values" 4278190079
expect_line fp32 "smallest subnormal" "1.401298464324817e-45 (0x1p-149)"
expect_line fp64 "largest finite" "1.7976931348623157e+308 (0x1.fffffffffffffp+1023)"
expect_line fp64 "smallest subnormal" "5e-324 (0x0.0000000000001p-1022)"
expect_fail 1 "no normal numbers" format e1m2
expect_line e1m2-finite "largest finite" "3.5 (0x1.cp+1)"
expect_line e6m7-b30 name e6m7-b30
expect_line e5m2-sat overflow "saturate to +-max (-sat)"
expect_line e5m2 overflow "IEEE: +-inf or +-max by rounding mode"

expect_line int8 kind fixed
expect_line int8 largest "127 (0x1.fcp+6)"
expect_line int8 lowest "-128 (-0x1p+7)"
expect_line int8 values 256
expect_line int8 "min encoding" 0x80
expect_line uint8 lowest "0 (0x0p+0)"
expect_line q7.8 resolution "0.00390625 (0x1p-8)"
expect_line Q7.8-WRAP name q7.8-wrap
expect_line q7.8-wrap overflow "wrap modulo 2^width (-wrap)"
expect_line uq8.8 largest "255.99609375 (0x1.fffep+7)"

# --json: one object that a JSON parser accepts, with the same numbers
run format --json e4m3
if [ "$rc" -eq 0 ] && grep -qF '"max_finite": 448,' "$tmp/out" &&
    grep -qF '"nan_bits": "0x7f"' "$tmp/out" && grep -qF '"inf_bits": null' "$tmp/out"; then
    ok
else
    bad "format --json e4m3: $(cat "$tmp/out" "$tmp/err")"
fi
if command -v python3 >/dev/null; then
    for f in fp64 e2m1-nosub q7.8-wrap uq0.64 e4m3-fnuz; do
        run format "$f" --json
        if [ "$rc" -eq 0 ] && python3 -c 'import json,sys; json.load(sys.stdin)' <"$tmp/out"; then
            ok
        else
            bad "format $f --json is not valid JSON: $(cat "$tmp/out")"
        fi
    done
fi

run format --help
if [ "$rc" -eq 0 ] && grep -q '^usage: numrep format' "$tmp/out"; then ok; else bad "--help"; fi
run format -- e5m2
if [ "$rc" -eq 0 ] && grep -q '^name  *e5m2$' "$tmp/out"; then ok; else bad "-- e5m2"; fi

# ---- bad formats: exit 1, message on stderr, nothing on stdout
expect_fail 1 'format "e4m99": mantissa bits 99 out of range; allowed 0..52' format e4m99
expect_fail 1 'unknown modifier "-foo"; allowed -b<N> -nosub -ieee -fn -fnuz -finite -sat' format e4m3-foo
expect_fail 1 'conflicting modifiers "-fn" and "-finite"' format e4m3-fn-finite
expect_fail 1 'duplicate modifier "-sat"' format e5m2-sat-sat
expect_fail 1 'exponent bits 99999999999 out of range; allowed 1..11' format e99999999999m3
expect_fail 1 'q40.40 is 81 bits wide; allowed 1..64' format q40.40
expect_fail 1 'empty format name' format ''
expect_fail 1 'unknown format "fp17"' format fp17
expect_fail 1 'numrep: format "e5m0": e5m0 with IEEE specials has no NaN encoding' format e5m0
expect_fail 1 'below binary64' format e11m52-b5000
expect_fail 1 'unknown modifier "-fn" for a fixed-point format' format q7.8-fn

# ---- usage errors: exit 2
expect_fail 2 'missing FMT' format
expect_fail 2 "unknown option '--bogus'" format --bogus
expect_fail 2 "unknown option '-fn'" format -fn
expect_fail 2 "one FMT expected" format fp16 bf16

finish
