#!/usr/bin/env bash
# cli_scaled.sh -- `numrep format` and `numrep round` for scaled formats
# (mxfp4, nvfp4, ELEM@GRAN[:SCALE[:RULE]]; docs/semantics.md [scl-*]):
# descriptions, one group per input line, bad names and bad lines.
# usage: bash tests/cli_scaled.sh path/to/numrep
# Expected lines are worked out by hand (comments show the arithmetic).
set -u
BIN=${1:?usage: cli_scaled.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"

# has 'substring' ARGS...: `numrep ARGS` exits 0 and prints the substring
has() {
    local want=$1
    shift
    run "$@"
    if [ "$rc" -eq 0 ] && grep -qF -- "$want" "$tmp/out"; then ok; else
        bad "$*: exit $rc, lacks '$want': $(cat "$tmp/out" "$tmp/err")"
    fi
}

# ---- numrep format
has 'bits per element    4.25 (4 element + 8 scale / 32)' format mxfp4
has 'element             e2m1 (4 bits, largest 6, emax_elem 2' format MXFP4
has 'scale               e8m0' format mxfp4
has 'rule                floor' format mxfp4
has 'block of 32 along the reduction axis' format mxfp4
has 'bits per element    4.5 (4 element + 8 scale / 16)' format nvfp4
has 'scale               nv: ue4m3 per block' format nvfp4
has 'bits per element    8.25' format mxfp8
has 'name                mxfp8' format mxfp8e4m3
has 'largest 1.984375, emax_elem 0' format mxint8
has 'largest 448, emax_elem 8' format mxfp8
has 'largest 57344, emax_elem 15' format mxfp8e5m2
has 'largest 28, emax_elem 4' format mxfp6e3m2
has 'largest 7.5, emax_elem 2' format mxfp6e2m3
has 'name                int8@channel:fp32:amax' format int8@channel
has 'channel (one scale per output channel)' format int8@channel
has 'name                mxfp4' format e2m1@b32:e8m0:floor
has 'bits per element    5 (4 element + 32 scale / 32)' format int4@b32:fp32
has 'rule                rceil' format e2m1@b32:e8m0:rceil
has '"bits_per_element": 4.25}' format --json mxfp4
has '"name": "nvfp4", "kind": "scaled", "element": "e2m1"' format --json nvfp4
run format --json mxfp4
if command -v python3 >/dev/null; then
    python3 -c 'import json,sys; json.load(sys.stdin)' <"$tmp/out" && ok || bad "format --json mxfp4 is not JSON"
fi
has 'scaled formats' format --help

# ---- bad names: exit 1 and a message naming the part
expect_fail 1 'element: unknown format "mxfp5"' format mxfp5@x
expect_fail 1 'unknown format "mxfp5"' format mxfp5
expect_fail 1 'block size out of range; allowed b1..b4096' format e2m1@b0
expect_fail 1 'block size out of range' format e2m1@b5000
expect_fail 1 'rule "amax" is not a rule for e8m0 scales; allowed floor, rceil, ceil, even' format e2m1@b32:e8m0:amax
expect_fail 1 'needs a block granularity' format e2m1@channel:nv
expect_fail 1 'unknown scale format "fp16"' format e2m1@b32:fp16
expect_fail 1 'unknown granularity "row"' format e2m1@row
expect_fail 1 'at most 16 bits' format fp32@b32
expect_fail 1 'element: ' format e9z@b32
expect_fail 1 'too many ":" parts' format e2m1@b32:e8m0:floor:x
expect_fail 1 'element: unknown format "mxfp5"' round mxfp5@x
expect_fail 1 'rule "floor" is not a rule for fp32' round int8@channel:fp32:floor
expect_fail 2 'has a static scale: give it with --scale X' round int8@tensor:fp32:static
expect_fail 2 '--scale needs a positive finite number' round nvfp4 --scale -1
expect_fail 2 '--scale needs a positive finite number' round nvfp4 --scale abc
expect_fail 2 '--scale is for scaled formats' round e4m3 --scale 1
expect_fail 2 '--scale is for static scales' round mxfp4 --scale 1
expect_fail 2 '--op is for plain formats' round mxfp4 --op add

# ---- numrep round: one group per line
# amax 7: X = 2^(floor(log2 7) - 2) = 1; 7 clips to 6; 0.3 -> 0.5 (nearest)
expect '7 1 0.3 -2\n' 'scale  0x1p+0  1  0x7f  clipped 1
  0x1.8p+2  6  0x7  6
  0x1p+0  1  0x2  1
  0x1p-1  0.5  0x1  0.5
  -0x1p+1  -2  0xc  -2' mxfp4
# all-zero block: the smallest scale 2^-127, -0 kept
expect '0 -0\n' 'scale  0x1p-127  5.877471754111438e-39  0x00  clipped 0  zero
  0x0p+0  0  0x0  0
  -0x0p+0  -0  0x8  -0' mxfp4
# NaN / Inf in a block: NaN scale 0xff, every element NaN
expect '1 inf\n' 'scale  nan  nan  0xff  clipped 0  nan
  nan  nan  0x0  nan
  nan  nan  0x0  nan' mxfp4
# blank lines skipped; rounding mode: 2.5 -> 3 under ru (X = 1 for amax 5)
expect '\n5 2.5\n' 'scale  0x1p+0  1  0x7f  clipped 0
  0x1.8p+2  6  0x7  6
  0x1.8p+1  3  0x5  3' mxfp4 --rounding ru
# nvfp4: the line is the tensor: s_t = fp32(7/2688), s_b = 448, X = s_t * 448
expect '7 -2\n' 'tensor  0x1.555556p-9  0.0026041667  0x3b2aaaab
scale  0x1.cp+8  4.5e+02  0x7e  clipped 0
  0x1.8p+2  6  0x7  7.000000208616257
  -0x1.8p+0  -1.5  0xb  -1.7500000521540642' nvfp4
# nvfp4 with a given tensor scale 1: s_b = 3/6 = 0.5
expect '3\n' 'tensor  0x1p+0  1  0x3f800000
scale  0x1p-1  0.5  0x30  clipped 0
  0x1.8p+2  6  0x7  3' nvfp4 --scale 1
# static: X = 0.5, -100 / 0.5 = -200 clips to -127
expect '1 -100\n' 'scale  0x1p-1  0.5  0x3f000000  clipped 1
  0x1p+1  2  0x02  1
  -0x1.fcp+6  -127  0x81  -63.5' int8@tensor:fp32:static --scale 0.5

# ---- bad lines: reported, skipped, exit 1; other lines still answered
round_in '1 2 x\n4\n' mxfp4
if [ "$rc" -eq 1 ] && grep -qF 'stdin:1: value 3: expected a number' "$tmp/err" &&
    grep -qF 'scale  0x1p+0  1  0x7f' "$tmp/out"; then ok; else bad "bad value: rc $rc $(cat "$tmp/err")"; fi
round_in '1 2 3\n' e2m1@b2
if [ "$rc" -eq 1 ] && grep -qF 'stdin:1: 3 values; a block holds at most 2' "$tmp/err" &&
    [ ! -s "$tmp/out" ]; then ok; else bad "block too long: rc $rc $(cat "$tmp/err")"; fi
round_in '1\n' int8@tensor:fp32:static --scale 0.1
if [ "$rc" -eq 1 ] && grep -qF '0.1 is not a positive finite fp32 value' "$tmp/err"; then ok; else
    bad "static 0.1: rc $rc $(cat "$tmp/err")"; fi
printf '1\n2\0junk\n3\n' | "$BIN" round mxfp4 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -qF 'stdin:2: line contains a NUL byte' "$tmp/err"; then ok; else
    bad "NUL byte: rc $rc"; fi
# a long line of a tensor-granularity format is one group
seq 1 5000 | tr '\n' ' ' | "$BIN" round int8@tensor >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 5001 ]; then ok; else bad "5000-value tensor line"; fi
# sr: reproducible with the seed
a=$(printf '1.3 2.7 3.1\n' | "$BIN" round mxfp8 --rounding sr --seed 5)
b=$(printf '1.3 2.7 3.1\n' | "$BIN" round mxfp8 --rounding sr --seed 5)
[ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "sr not reproducible"
"$BIN" round --help >"$tmp/out" 2>&1
if grep -qF 'one group' "$tmp/out"; then ok; else bad "round --help lacks scaled formats"; fi

# ---- numrep cost
has 'format        mxfp4 (4.25 bits per element)' cost mxfp4
has 'per block of 32: 32 element multipliers, 31 adders of 14 bits' cost mxfp4
has 'per MAC = multiplier + tree adder x 15/16' cost nvfp4
has 'per MAC: 1 element multiplier, 1 accumulator adder (the channel scale' cost int8@channel
has '"tree_bits": 14' cost --json mxfp4
expect_fail 2 '--products / --accumulator are for plain formats' cost mxfp4 --products e4m3
expect_fail 1 'block size out of range' cost e2m1@b0
has 'Scaled formats' cost --help

finish
