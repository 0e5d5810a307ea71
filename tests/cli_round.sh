#!/usr/bin/env bash
# cli_round.sh -- `numrep round`: output lines, bad input lines, exit codes.
# usage: bash tests/cli_round.sh path/to/numrep
# Expected lines are worked out by hand (comments show the arithmetic).
set -u
BIN=${1:?usage: cli_round.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"

# expect3 INPUT 'first three fields' ARGS...: like expect, flags not compared
expect3() {
    local input=$1 want=$2
    shift 2
    round_in "$input" "$@"
    local got
    got=$(sed 's/  [^ ]*$//' "$tmp/out")
    if [ "$rc" -ne 0 ] || [ "$got" != "$want" ]; then
        bad "round $* <<< '$input': exit $rc, got '$got', want '$want'"
    else
        ok
    fi
}

# ---- rounding single values
# pi in e4m3 (bias 7, 3 mantissa bits): in [2,4) the step is 1/4, pi -> 3.25
# = 1.101b * 2^1 = 0x1.ap+1, bits 0 1000 101 = 0x45; "3.2" already reads back
# to 3.25 (nearer than 3.0).
expect '3.14159\n' '0x1.ap+1  3.2  0x45  inexact' e4m3
expect '3.14159\n' '0x1.8p+1  3  0x44  inexact' e4m3 --rounding rz
# 0.1 in e4m3: in [1/16, 1/8) the step is 1/128; 12.8/128 -> 13/128 = 0x1.ap-4,
# bits 0 0011 101 = 0x1d
expect '0.1\n' '0x1.ap-4  0.1  0x1d  inexact' e4m3
expect '0x1.8p-3\n' '0x1.8p-3  0.19  0x24  -' e4m3   # 0.1875, exact
expect '-0\n' '-0x0p+0  -0  0x80  -' e4m3
expect '448\n' '0x1.cp+8  4.5e+02  0x7e  -' e4m3     # 450 reads back to 448
expect '1e400\n' '0x1.cp+8  4.5e+02  0x7e  inexact,overflow' e4m3 --rounding rz
expect '1e400\n' 'nan  nan  0x7f  inexact,overflow,invalid' e4m3
expect 'inf\n' 'nan  nan  0x7f  invalid' e4m3        # no infinity in e4m3
expect 'NaN\n' 'nan  nan  0x7f  -' e4m3
# fp32 / fp16 / fp64
expect '0.1\n' '0x1.99999ap-4  0.1  0x3dcccccd  inexact' fp32
expect '65520\n' 'inf  inf  0x7c00  inexact,overflow' fp16   # midpoint 65504|65536, to even
expect '65519\n' '0x1.ffcp+15  6.55e+04  0x7bff  inexact' fp16
expect '1e-8\n' '0x0p+0  0  0x0000  inexact,underflow,flushed' fp16  # < 2^-25
expect '-Infinity\n' '-inf  -inf  0xfff0000000000000  -' fp64
expect '0.1\n' '0x1.999999999999ap-4  0.1  0x3fb999999999999a  inexact' fp64
# a decimal midpoint beyond double precision: 1 + 2^-53 ties to even, one more digit goes up
expect '1.00000000000000011102230246251565404236316680908203125\n' \
    '0x1p+0  1  0x3ff0000000000000  inexact' fp64
expect '1.000000000000000111022302462515654042363166809082031251\n' \
    '0x1.0000000000001p+0  1.0000000000000002  0x3ff0000000000001  inexact' fp64
# fixed point: q3.4 = n/16; -0.01 rd -> -1/16 = 0xff; 2^64-1 needs all its digits
expect '-0.01\n' '-0x1p-4  -0.06  0xff  inexact' q3.4 --rounding rd
expect3 '100\n' '0x1.fcp+2  7.94  0x7f' q3.4            # saturates to 127/16
expect3 '8\n' '-0x1p+3  -8  0x80' q3.4-wrap                # 8 - 16
expect '18446744073709551615\n' \
    '0x1.fffffffffffffffep+63  18446744073709551615  0xffffffffffffffff  -' uq64.0
# whitespace, CRLF, blank lines
expect '  1.5  \r\n\n\t\n2\n' '0x1.8p+0  1.5  0x3fc00000  -
0x1p+1  2  0x40000000  -' fp32

# ---- operations (operands are rounded into the format first)
expect '1 3\n' '0x1.555556p-2  0.33333334  0x3eaaaaab  inexact' fp32 --op div
expect '2 3 -6\n' '-0x0p+0  -0  0x80000000  -' fp32 --op fma --rounding rd
expect '2 3 -6\n' '0x0p+0  0  0x00000000  -' fp32 --op fma
expect '1 1\n' '-0x0p+0  -0  0x80000000  -' fp32 --op sub --rounding rd
expect '-1\n' 'nan  nan  0x7fc00000  invalid' fp32 --op sqrt
expect '-0\n' '-0x0p+0  -0  0x80000000  -' fp32 --op sqrt
expect '1 0\n-1 0\n0 0\n' 'inf  inf  0x7f800000  -
-inf  -inf  0xff800000  -
nan  nan  0x7fc00000  invalid' fp32 --op div
# e4m3: 0.1 + 0.1 -> 13/128 + 13/128 = 13/64 exactly = 0x1.ap-3, bits 0 0100 101
expect '0.1 0.1\n' '0x1.ap-3  0.2  0x25  -' e4m3 --op add
expect '2\n' '0x1.6p+0  1.4  0x3b  inexact' e4m3 --op sqrt  # 1.414 -> 1.375 (0 0111 011)
expect '0.5 0.5 0.0625\n' '0x1.4p-2  0.3  0x05  -' q3.4 --op fma  # 5/16; 0.3 -> 4.8/16 -> 5
expect3 '7 7\n' '-0x1p+1  -2  0xe0' q3.4-wrap --op add  # 14 - 16 = -2 = 0xe0

# ---- stochastic rounding: reproducible per seed, and both neighbours occur
# 0.1 in e4m3 lies 0.8 of the way from 12/128 to 13/128.
yes 0.1 | head -200 >"$tmp/in"
"$BIN" round e4m3 --rounding sr --seed 7 <"$tmp/in" >"$tmp/a" 2>&1
"$BIN" round e4m3 --rounding sr --seed 7 <"$tmp/in" >"$tmp/b" 2>&1
"$BIN" round e4m3 --rounding sr --seed 8 <"$tmp/in" >"$tmp/c" 2>&1
if cmp -s "$tmp/a" "$tmp/b"; then ok; else bad "sr: same seed, different output"; fi
if cmp -s "$tmp/a" "$tmp/c"; then bad "sr: seeds 7 and 8 gave identical output"; else ok; fi
hi=$(grep -c ' 0x1d ' "$tmp/a")
lo=$(grep -c ' 0x1c ' "$tmp/a")
if [ "$((hi + lo))" -eq 200 ] && [ "$hi" -gt 130 ] && [ "$hi" -lt 190 ]; then ok; else
    bad "sr: $hi up, $lo down of 200 (expected about 160 up)"
fi

# ---- bad input lines: reported with line numbers, others still answered
round_in '1\nabc\n\n2 3\n0x\n1.5x\n4\n' fp32
if [ "$rc" -ne 1 ]; then bad "bad lines: exit $rc, want 1"; else ok; fi
want_out='0x1p+0  1  0x3f800000  -
0x1p+2  4  0x40800000  -'
if [ "$(cat "$tmp/out")" = "$want_out" ]; then ok; else bad "bad lines: stdout $(cat "$tmp/out")"; fi
for msg in 'numrep round: stdin:2: expected a number, got "abc"' \
    'numrep round: stdin:4: expected one number, got 2 fields' \
    'numrep round: stdin:5: expected a number, got "0x" (no hex digits after "0x")' \
    'numrep round: stdin:6: expected a number, got "1.5x" (unexpected "x" after "1.5")'; do
    if grep -qF -- "$msg" "$tmp/err"; then ok; else bad "bad lines: stderr lacks '$msg': $(cat "$tmp/err")"; fi
done
if [ "$(wc -l <"$tmp/err")" -eq 4 ]; then ok; else bad "bad lines: want 4 error lines: $(cat "$tmp/err")"; fi
round_in '1\n2 x\n1 2 3\n' fp32 --op mul
if [ "$rc" -eq 1 ] && grep -qF 'stdin:2: operand 2: expected a number, got "x"' "$tmp/err" &&
    grep -qF 'stdin:1: --op mul takes 2 operands, got 1' "$tmp/err" &&
    grep -qF 'stdin:3: --op mul takes 2 operands, got 3' "$tmp/err" && [ ! -s "$tmp/out" ]; then
    ok
else
    bad "op arity: rc $rc, stderr $(cat "$tmp/err")"
fi
round_in 'nan(1)\n' fp32
if [ "$rc" -eq 1 ] && grep -qF 'NaN payloads are not supported' "$tmp/err"; then ok; else bad "nan(1): $(cat "$tmp/err")"; fi
printf '1\n2\0junk\n3\n' | "$BIN" round fp32 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -qF 'stdin:2: line contains a NUL byte' "$tmp/err" &&
    [ "$(wc -l <"$tmp/out")" -eq 2 ]; then ok; else bad "NUL byte: rc $rc, $(cat "$tmp/err")"; fi

# ---- command-line errors
expect_fail 2 'missing FMT' round
expect_fail 1 'e9m99' round e9m99
expect_fail 1 'numrep: format' round bogus
expect_fail 2 'unknown rounding mode "up"' round fp32 --rounding up
expect_fail 2 '--rounding needs a mode' round fp32 --rounding
expect_fail 2 "unknown operation 'pow'" round fp32 --op pow
expect_fail 2 '--op needs an operation' round fp32 --op
expect_fail 2 "--seed: expected an unsigned 64-bit integer" round fp32 --seed -1
expect_fail 2 "--seed: expected an unsigned 64-bit integer" round fp32 --seed 12x
expect_fail 2 "--seed: expected an unsigned 64-bit integer" round fp32 --seed 99999999999999999999999
expect_fail 2 "unknown option '--bogus'" round fp32 --bogus
expect_fail 2 "one FMT expected, got 'fp32' and 'fp16'" round fp32 fp16
"$BIN" round --help >"$tmp/out" 2>&1
if [ $? -eq 0 ] && grep -q 'HEX  DECIMAL  BITS  FLAGS' "$tmp/out"; then ok; else bad "--help"; fi
expect '1\n' '0x1p+0  1  0x3f800000  -' fp32 --rounding=ru --seed=0x10 --op=sqrt

finish
