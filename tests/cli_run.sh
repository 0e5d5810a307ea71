#!/usr/bin/env bash
# cli_run.sh -- `numrep run` (the JIT): stdout identical to `numrep emulate`
# for several precisions (fp32, e4m3, e6m7-finite-nosub-sat rz unfused, sr
# fused, exact), -o npy identical too, --random-weights, -O levels,
# --emit-ir, and bad arguments with their messages and exit codes.
# usage: bash tests/cli_run.sh path/to/numrep
BIN=${1:?usage: cli_run.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
NET=$SRC/specs/lenet5/lenet5.yaml
X=$SRC/specs/lenet5/sample.npy

if [ ! -f "$NET" ] || [ ! -f "$X" ]; then
    skip_all "specs/lenet5 missing"
    exit 0
fi

# same_as_emulate ARGS...: run and emulate give identical stdout, empty stderr
same_as_emulate() {
    run emulate "$@"
    [ "$rc" -eq 0 ] || { bad "emulate $*: exit $rc: $(cat "$tmp/err")"; return; }
    cp "$tmp/out" "$tmp/emu.txt"
    run run "$@"
    [ "$rc" -eq 0 ] || { bad "run $*: exit $rc: $(cat "$tmp/err")"; return; }
    [ ! -s "$tmp/err" ] && ok || bad "run $*: stderr not empty: $(cat "$tmp/err")"
    cmp -s "$tmp/out" "$tmp/emu.txt" && ok || bad "run $* differs from emulate: $(diff "$tmp/out" "$tmp/emu.txt" | head -4)"
}

printf 'default: {weights: e6m7-finite-nosub-sat, rounding: rz, mac: unfused}\n' >"$tmp/e6m7.yaml"
printf 'default: {weights: fp16, rounding: sr, mac: fused}\nseed: 11\n' >"$tmp/sr.yaml"
printf 'default: {weights: e5m2, accumulator: fp32, mac: exact}\n' >"$tmp/exact.yaml"
printf 'default: {weights: q7.8, rounding: rna}\n' >"$tmp/fixed.yaml"

# 1. text output identical to emulate, several precisions
same_as_emulate "$NET" --input "$X"
[ "$(wc -l <"$tmp/out")" -eq 8 ] && ok || bad "expected 8 lines"
same_as_emulate "$NET" -p e4m3 --input "$X"
same_as_emulate "$NET" -p "$tmp/e6m7.yaml" --input "$X"
same_as_emulate "$NET" -p "$tmp/sr.yaml" --input "$X"
same_as_emulate "$NET" -p "$tmp/exact.yaml" --input "$X"
same_as_emulate "$NET" -p "$tmp/fixed.yaml" --input "$X"
same_as_emulate "$NET" -p bf16 --input "$X" --random-weights 5

# 2. -o: byte-identical npy files, stdout empty
run emulate "$NET" -p e4m3 --input "$X" -o "$tmp/e.npy"
run run "$NET" -p e4m3 --input "$X" -o "$tmp/j.npy"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] && ok || bad "-o: exit $rc, stdout '$(cat "$tmp/out")'"
cmp -s "$tmp/e.npy" "$tmp/j.npy" && ok || bad "-o npy differs from emulate's"

# 3. every -O level gives the same bits
for O in -O0 -O1 -O3; do
    run run "$NET" -p "$tmp/e6m7.yaml" --input "$X" $O
    cp "$tmp/out" "$tmp/o.txt"
    run emulate "$NET" -p "$tmp/e6m7.yaml" --input "$X"
    cmp -s "$tmp/o.txt" "$tmp/out" && ok || bad "run $O differs from emulate"
done

# 4. --emit-ir writes readable IR with functions named after the layers
run run "$NET" --input "$X" --emit-ir "$tmp/m.ll"
[ "$rc" -eq 0 ] && ok || bad "--emit-ir: exit $rc: $(cat "$tmp/err")"
grep -q 'define .*@layer.conv1(' "$tmp/m.ll" && ok || bad "--emit-ir: no layer.conv1 function"
grep -q 'define .*@numrep_model_run(' "$tmp/m.ll" && ok || bad "--emit-ir: no numrep_model_run"
grep -q '@numrep_weights = external' "$tmp/m.ll" && ok || bad "--emit-ir: weights should be external"

# 5. errors
expect_fail 2 "missing NET.yaml" run
expect_fail 2 "missing --input" run "$NET"
expect_fail 2 "unknown option -O9" run "$NET" --input "$X" -O9
expect_fail 2 "needs an argument" run "$NET" --input
expect_fail 2 "expected an unsigned integer" run "$NET" --input "$X" --random-weights -3
expect_fail 1 "expected [N,1,28,28]" run "$NET" --input "$SRC/specs/resnet20/sample.npy"
expect_fail 1 "at most 53" run "$NET" -p q40.20 --input "$X"
expect_fail 1 "no-such-file" run "$SRC/no-such-file.yaml" --input "$X"
expect_fail 1 "cannot write" run "$NET" --input "$X" --emit-ir "$tmp/no/such/dir/m.ll"

run run --help
[ "$rc" -eq 0 ] && grep -q "usage: numrep run" "$tmp/out" && ok || bad "--help"

echo "cli_run: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
