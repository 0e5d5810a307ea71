#!/usr/bin/env bash
# cli_emulate.sh -- `numrep emulate`: results on stdout only, -o npy, --stats
# and --trace on stderr, --random-weights, and bad arguments with their
# messages and exit codes.
# usage: bash tests/cli_emulate.sh path/to/numrep
set -u
BIN=${1:?usage: cli_emulate.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
NET=$SRC/specs/lenet5/lenet5.yaml
X=$SRC/specs/lenet5/sample.npy

if [ ! -f "$NET" ] || [ ! -f "$X" ]; then
    skip_all "specs/lenet5 missing"
fi

# argmax of each output line (0-based)
argmaxes() { awk '{ m = 1; for (i = 2; i <= NF; i++) if ($i + 0 > $m + 0) m = i; printf "%d ", m - 1 }' "$1"; }

# 1. text output: 8 lines of 10 logits; argmax = the labels; nothing on stderr
run emulate "$NET" --input "$X"
if [ "$rc" -ne 0 ]; then bad "emulate: exit $rc: $(cat "$tmp/err")"; fi
labels=$(tr '\n' ' ' <"$SRC/specs/lenet5/sample_labels.txt")
[ "$(argmaxes "$tmp/out")" = "$labels" ] && ok || bad "argmax $(argmaxes "$tmp/out") != labels $labels"
[ "$(wc -l <"$tmp/out")" -eq 8 ] && ok || bad "expected 8 lines"
[ "$(awk '{ print NF }' "$tmp/out" | sort -u)" = "10" ] && ok || bad "expected 10 values a line"
[ ! -s "$tmp/err" ] && ok || bad "stderr not empty: $(cat "$tmp/err")"
cp "$tmp/out" "$tmp/fp32.txt"

# 2. -o: an npy of shape (8, 10), stdout empty
run emulate "$NET" --input "$X" -o "$tmp/y.npy"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] && ok || bad "-o: exit $rc, stdout '$(cat "$tmp/out")'"
head -c 128 "$tmp/y.npy" | grep -q "'shape': (8, 10)" && ok || bad "-o: header lacks shape (8, 10)"
[ "$(stat -c %s "$tmp/y.npy")" -eq $((128 + 8 * 10 * 4)) ] && ok || bad "-o: size $(stat -c %s "$tmp/y.npy")"

# 3. --stats on stderr; stdout unchanged; a narrow format saturates somewhere
run emulate "$NET" --input "$X" --stats
grep -q "stats over 8 sample(s)" "$tmp/err" && ok || bad "--stats: $(cat "$tmp/err")"
cmp -s "$tmp/out" "$tmp/fp32.txt" && ok || bad "--stats changed stdout"
run emulate "$NET" --input "$X" -p e2m1 --stats
grep -E "^fc1 .*sums [0-9]+ \(overflow [1-9]" "$tmp/err" >/dev/null && ok || bad "e2m1 stats: $(cat "$tmp/err")"

# 4. --trace: flat index and C,H,W give the same trace; final acc printed per sample
run emulate "$NET" --input "$X" --trace fc3:7
cp "$tmp/err" "$tmp/trace1"
[ "$(grep -c '^trace sample' "$tmp/trace1")" -eq 8 ] && ok || bad "--trace: $(head -5 "$tmp/trace1")"
[ "$(grep -c '  term ' "$tmp/trace1")" -eq $((8 * 84)) ] && ok || bad "--trace: expected 84 terms per sample"
grep -q "final acc=0x" "$tmp/trace1" && ok || bad "--trace lacks final acc"
cmp -s "$tmp/out" "$tmp/fp32.txt" && ok || bad "--trace changed stdout"
run emulate "$NET" --input "$X" --trace fc3:7,0,0
cmp -s "$tmp/err" "$tmp/trace1" && ok || bad "--trace C,H,W differs from flat index"
# the traced final value is the printed logit (sample 0, logit 7)
want=$(awk 'NR == 1 { print $8 }' "$tmp/fp32.txt")
got=$(grep -m1 "final acc=" "$tmp/trace1" | sed 's/.*(\(.*\))/\1/')
awk -v a="$want" -v b="$got" 'BEGIN { exit !((a - b) ^ 2 < 1e-12 * (a ^ 2 + 1)) }' && ok ||
    bad "trace final $got != logit $want"

# 5. --random-weights: deterministic, differs from the real weights
run emulate "$NET" --input "$X" --random-weights 5
cp "$tmp/out" "$tmp/r1"
run emulate "$NET" --input "$X" --random-weights 5
[ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/r1" && ok || bad "--random-weights not deterministic"
cmp -s "$tmp/out" "$tmp/fp32.txt" && bad "--random-weights used the real weights" || ok

# 6. a [C,H,W] input: the first sample alone, same logits as line 1
hl=$(od -An -tu2 -j8 -N2 "$X" | tr -d ' ')
hdr="{'descr': '<f4', 'fortran_order': False, 'shape': (1, 28, 28), }"
pad=$((64 - (10 + ${#hdr} + 1) % 64))
{
    printf '\x93NUMPY\x01\x00'
    printf "\\x$(printf %02x $(((${#hdr} + pad + 1) % 256)))\\x$(printf %02x $(((${#hdr} + pad + 1) / 256)))"
    printf '%s%*s\n' "$hdr" "$pad" ""
    dd if="$X" bs=1 skip=$((10 + hl)) count=$((784 * 4)) 2>/dev/null
} >"$tmp/one.npy"
run emulate "$NET" --input "$tmp/one.npy"
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "$(head -1 "$tmp/fp32.txt")" ] && ok ||
    bad "[C,H,W] input: exit $rc $(cat "$tmp/err") '$(cat "$tmp/out")'"

# 7. precisions: fp64 is close to fp32, bf16 changes something
run emulate "$NET" --input "$X" -p fp64
[ "$rc" -eq 0 ] && [ "$(argmaxes "$tmp/out")" = "$labels" ] && ok || bad "-p fp64"
run emulate "$NET" --input "$X" -p bf16
[ "$rc" -eq 0 ] && ! cmp -s "$tmp/out" "$tmp/fp32.txt" && ok || bad "-p bf16 gave the fp32 result"

# 8. errors
expect_fail 2 "missing --input" emulate "$NET"
expect_fail 2 "missing NET.yaml" emulate --input "$X"
expect_fail 2 "unknown option --frobnicate" emulate "$NET" --input "$X" --frobnicate
expect_fail 2 "-o needs an argument" emulate "$NET" --input "$X" -o
expect_fail 2 'no layer "nosuch"' emulate "$NET" --input "$X" --trace nosuch:0
expect_fail 2 "index 10 is out of range" emulate "$NET" --input "$X" --trace fc3:10
expect_fail 2 "got [0,0,10]" emulate "$NET" --input "$X" --trace fc3:0,0,10
expect_fail 2 "expected LAYER:INDEX" emulate "$NET" --input "$X" --trace fc3
expect_fail 2 "expected an unsigned integer" emulate "$NET" --input "$X" --random-weights -3
expect_fail 1 "expected [N,1,28,28] or [1,28,28] (the network input), got [8,3,32,32]" \
    emulate "$NET" --input "$SRC/specs/resnet20/sample.npy"
expect_fail 1 "$tmp/nosuch.npy" emulate "$NET" --input "$tmp/nosuch.npy"
printf 'not an npy file at all' >"$tmp/junk.npy"
expect_fail 1 "junk.npy" emulate "$NET" --input "$tmp/junk.npy"
expect_fail 1 "-p" emulate "$NET" --input "$X" -p e9m99
expect_fail 1 "nosuch.yaml" emulate "$tmp/nosuch.yaml" --input "$X"

# --rounding / --mac beside -p FMT: the same bits as the precision file that
# says the same, in emulate, run and a second mode pair; bad names exit 2
for rm in "rz fused" "rd unfused" "rne exact"; do
    set -- $rm
    printf 'default: {weights: e5m2, activations: same, products: same, accumulator: same, rounding: %s, mac: %s}\n' \
        "$1" "$2" >"$tmp/p_$1_$2.yaml"
    run emulate "$NET" --input "$X" -p "$tmp/p_$1_$2.yaml"
    cp "$tmp/out" "$tmp/want.txt"
    run emulate "$NET" --input "$X" -p e5m2 --rounding "$1" --mac "$2"
    [ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/want.txt" && ok || bad "emulate -p e5m2 --rounding $1 --mac $2 differs from the file"
    run run "$NET" --input "$X" -p e5m2 --rounding "$1" --mac "$2" -O0
    [ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/want.txt" && ok || bad "run -p e5m2 --rounding $1 --mac $2 differs from emulate"
done
# rz differs from the default rne somewhere (the flags are not ignored)
run emulate "$NET" --input "$X" -p e5m2
cmp -s "$tmp/out" "$tmp/want.txt" && bad "--rounding/--mac changed nothing" || ok
expect_fail 2 "--rounding" emulate "$NET" --input "$X" -p e5m2 --rounding nearest
expect_fail 2 "expected unfused, fused, exact, block-fp32 or block-exact" emulate "$NET" --input "$X" -p e5m2 --mac kulisch
expect_fail 2 "--mac needs an argument" eval "$NET" --mac

# 6. a hostile 100-byte spec (3.6 GB of random weights): the input's shape is
# checked before the memory limit, the limit before any allocation
HUGE=$SRC/tests/bad/spec_huge_conv.yaml
npy_zeros() { # npy_zeros FILE "1, 3, 3, 3" COUNT: float32 zeros
    local h="{'descr': '<f4', 'fortran_order': False, 'shape': ($2), }"
    while [ $(((10 + ${#h} + 1) % 64)) -ne 0 ]; do h="$h "; done
    { printf '\223NUMPY\001\000'; printf "\\$(printf %03o $(((${#h} + 1) % 256)))\\000"
      printf '%s\n' "$h"; head -c $((4 * $3)) /dev/zero; } >"$1"
}
npy_zeros "$tmp/x333.npy" "1, 3, 3, 3" 27
expect_fail 1 "expected [N,3,3,3] or [3,3,3] (the network input), got [8,1,28,28]" \
    emulate "$HUGE" --random-weights 1 --input "$X" --max-memory 1M
expect_fail 1 "the model needs 3.63 GiB (weights 3.50 GiB + activations 128.00 MiB per sample), more than the memory limit 1.00 GiB (--max-memory)" \
    emulate "$HUGE" --random-weights 1 --input "$tmp/x333.npy" --max-memory 1G
expect_fail 2 "--max-memory: expected BYTES" emulate "$NET" --input "$X" --max-memory 12Q
run emulate "$NET" --input "$X" --max-memory 64M
[ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/fp32.txt" && ok || bad "--max-memory 64M: exit $rc"
expect_fail 1 "more than the memory limit 1.00 KiB" emulate "$NET" --input "$X" --max-memory 1K

finish
