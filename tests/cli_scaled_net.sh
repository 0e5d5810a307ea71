#!/usr/bin/env bash
# cli_scaled_net.sh -- scaled formats through the command line (#13,
# docs/semantics.md [scl-dot-*]): -p NAME and precision files with scaled
# roles, their errors with file:line:col, the generator (bit-exact with the
# emulator) and eval in the JIT, --stats groups, and with
# ../shared/data (or NUMREP_SHARED_DATA) LeNet-5 accuracy under MXFP8/MXFP4.
# usage: bash tests/cli_scaled_net.sh path/to/numrep
set -u
BIN=${1:?usage: cli_scaled_net.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
NET=$SRC/specs/lenet5/lenet5.yaml
X=$SRC/specs/lenet5/sample.npy
if [ ! -f "$NET" ] || [ ! -f "$X" ]; then
    echo "note: specs/lenet5 missing, cli_scaled_net skipped"
    finish
fi
argmaxes() { awk '{ m = 1; for (i = 2; i <= NF; i++) if ($i + 0 > $m + 0) m = i; printf "%d ", m - 1 }' "$1"; }
labels=$(tr '\n' ' ' <"$SRC/specs/lenet5/sample_labels.txt")

# 1. the emulator runs -p mxfp8 and gets the labels of the 8 samples
run emulate "$NET" --input "$X" -p mxfp8
[ "$rc" -eq 0 ] && ok || bad "emulate -p mxfp8: exit $rc: $(cat "$tmp/err")"
[ "$(argmaxes "$tmp/out")" = "$labels" ] && ok || bad "mxfp8 argmax $(argmaxes "$tmp/out") != $labels"

# 2. --stats reports the scaled groups (weights once, outputs per sample)
run emulate "$NET" --input "$X" -p mxfp4 --stats
grep -q "scaled weights [0-9]* groups (clipped" "$tmp/err" && ok || bad "--stats lacks scaled weights: $(cat "$tmp/err")"
grep -q "scaled out [0-9]* groups" "$tmp/err" && ok || bad "--stats lacks scaled out"

# 3. a precision file: long form, override, promote
cat >"$tmp/p.yaml" <<'YAML'
default: {weights: {element: e4m3, block: 32, scale: e8m0, rule: floor}, mac: block-fp32}
layers:
  fc3: {weights: int8@channel, activations: fp32, mac: unfused, promote: 16}
YAML
run emulate "$NET" --input "$X" -p "$tmp/p.yaml"
[ "$rc" -eq 0 ] && [ "$(argmaxes "$tmp/out")" = "$labels" ] && ok || bad "p.yaml: exit $rc $(cat "$tmp/err")"

# 4. bad combinations name file:line:col and what is allowed
printf 'default: {weights: mxfp8}\nlayers:\n  fc1: {accumulator: e5m10, mac: block-fp32}\n' >"$tmp/bad1.yaml"
expect_fail 1 "bad1.yaml:3:3" emulate "$NET" --input "$X" -p "$tmp/bad1.yaml"
grep -q "must be fp32" "$tmp/err" && ok || bad "bad1: $(cat "$tmp/err")"
printf 'default:\n  activations: int8@channel\n' >"$tmp/bad2.yaml"
expect_fail 1 "bad2.yaml:2:" emulate "$NET" --input "$X" -p "$tmp/bad2.yaml"
grep -q "tensor or a block" "$tmp/err" && ok || bad "bad2: $(cat "$tmp/err")"
printf 'default: {mac: block-exact}\n' >"$tmp/bad3.yaml"
expect_fail 1 "needs scaled weights or activations" emulate "$NET" --input "$X" -p "$tmp/bad3.yaml"
expect_fail 1 "-p" emulate "$NET" --input "$X" -p e2m1@b0

# 5. the generator runs scaled formats bit for bit as the emulator does
#    ([scl-dot-engines]; tests/check_gen_scaled.c is the full matrix)
for p in mxfp4 nvfp4 int8@channel; do
    run emulate "$NET" --input "$X" -p $p
    cp "$tmp/out" "$tmp/emu.txt"
    run run "$NET" --input "$X" -p $p
    [ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/emu.txt" && ok || bad "run -p $p differs from emulate: $(cat "$tmp/err")"
done

DATA=${NUMREP_SHARED_DATA:-$SRC/../shared/data}/mnist
if [ ! -f "$DATA/t10k-images-idx3-ubyte.gz" ]; then
    echo "note: no shared MNIST data, eval checks skipped"
    finish
fi
# 6. eval runs scaled formats in the JIT (no note about the emulator)
norm() { sed -n 's/^normalized *\([0-9.]*\) %.*/\1/p' "$tmp/out"; }
run eval "$NET" -p mxfp8 --data "$DATA" --limit 300 --no-progress --no-cache
grep -q "using --engine emulator" "$tmp/err" && bad "eval: fell back to the emulator: $(cat "$tmp/err")" || ok
awk -v n="$(norm)" 'BEGIN { exit !(n >= 99.0) }' && ok || bad "LeNet-5 MXFP8 normalized $(norm) < 99 %"
# scaled activations with every plain role fp32 and mac unfused: still not its
# own fp32 baseline (the formats alone look like fp32)
printf 'default: {weights: fp32, activations: mxfp8, products: fp32, accumulator: fp32, mac: unfused}\n' \
    >"$tmp/act_only.yaml"
run eval "$NET" -p "$tmp/act_only.yaml" --data "$DATA" --limit 20 --no-progress --no-cache --json
[ "$rc" -eq 0 ] && grep -q '"fp32_source": "computed"' "$tmp/out" && ok \
    || bad "scaled activations taken as the fp32 baseline: $(cat "$tmp/out" "$tmp/err")"
run eval "$NET" -p mxfp4 --engine emulator --data "$DATA" --limit 300 --no-progress --no-cache
awk -v n="$(norm)" 'BEGIN { exit !(n >= 95.0 && n <= 100.5) }' && ok || bad "LeNet-5 MXFP4 normalized $(norm)"
finish
