#!/usr/bin/env bash
# cli_cct.sh -- the CCT-4/3x1 transformer of specs/cct from the command line:
# the shipped weights' checksum, `numrep emulate` on the 8 shipped samples
# (logits within 1e-4 of PyTorch's when ../shared/data is present), `run`
# (the JIT) bit-identical to the emulator, `eval` in both engines, a mixed precision (e4m3 matmuls, bf16 softmax/norms/nonlinear)
# and bad precision files.
# usage: bash tests/cli_cct.sh path/to/numrep
set -u
BIN=${1:?usage: cli_cct.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
DIR=$SRC/specs/cct
NET=$DIR/cct.yaml
X=$DIR/sample.npy
[ -f "$NET" ] && [ -f "$X" ] || skip_all "specs/cct missing"

# 1. the weights are the ones specs/cct/README.md names
sum=$(sha256sum "$DIR/cct.safetensors" | cut -d' ' -f1)
[ "$sum" = 0d81eedb817bd97c5938ad7da193c4110878be3a822f9336118643ea139c2001 ] && ok ||
    bad "cct.safetensors sha256 $sum"

# 2. emulate: 8 lines of 10 logits, nothing on stderr
run emulate "$NET" --input "$X"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] && ok || bad "emulate: exit $rc: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/out")" -eq 8 ] && [ "$(awk '{ print NF }' "$tmp/out" | sort -u)" = 10 ] &&
    ok || bad "emulate: expected 8 lines of 10 values: $(cat "$tmp/out")"
cp "$tmp/out" "$tmp/fp32.txt"
REF=$SHARED/reference/cct_4_3x1_cifar10_first100_logits.f32
if [ -f "$REF" ]; then
    # the shipped samples are the first 8 test images: PyTorch's logits, 1e-4 of the row max
    od -An -v -f -w40 -N320 "$REF" >"$tmp/ref.txt"
    awk 'NR == FNR { for (i = 1; i <= NF; i++) r[FNR, i] = $i; next }
         { m = 1; for (i = 1; i <= NF; i++) if (r[FNR, i] > m || -r[FNR, i] > m) m = (r[FNR, i] > 0 ? r[FNR, i] : -r[FNR, i]);
           for (i = 1; i <= NF; i++) { d = $i - r[FNR, i]; if (d < 0) d = -d; if (d > 1e-4 * m) bad++ } }
         END { exit bad > 0 }' "$tmp/ref.txt" "$tmp/fp32.txt" && ok ||
        bad "emulate logits differ from PyTorch's by more than 1e-4"
else
    skip_part "no $REF: logits not compared with PyTorch"
fi

# 3. the generator runs the sequence ops bit-identically to the emulator
# ([op-engines]): fp32 and the mixed precision, outputs compared as .npy bytes
for p in "" "$DIR/e4m3_bf16.yaml"; do
    popt=(); [ -n "$p" ] && popt=(-p "$p")
    run emulate "$NET" --input "$X" "${popt[@]}" -o "$tmp/emu.npy"
    [ "$rc" -eq 0 ] || bad "emulate ${p##*/}: exit $rc: $(cat "$tmp/err")"
    run run "$NET" --input "$X" "${popt[@]}" -o "$tmp/jit.npy"
    [ "$rc" -eq 0 ] || bad "run ${p##*/}: exit $rc: $(cat "$tmp/err")"
    cmp -s "$tmp/emu.npy" "$tmp/jit.npy" && ok || bad "run ${p:-fp32}: JIT differs from the emulator"
done

# 4. eval in the JIT and in the emulator: the same counts (the shipped 1000 CIFAR-10 images)
run eval "$NET" --limit 8 --no-progress --engine jit
[ "$rc" -eq 0 ] && ok || bad "eval jit: exit $rc: $(cat "$tmp/err")"
grep -E "^top-1" "$tmp/out" >"$tmp/jit_top1.txt"
grep -qE "^top-1 +[0-9.]+ %  \([0-9]+/8\)" "$tmp/out" && ok || bad "eval jit: $(cat "$tmp/out")"
run eval "$NET" --limit 8 --no-progress --engine emulator
[ "$rc" -eq 0 ] && ok || bad "eval emulator: exit $rc: $(cat "$tmp/err")"
grep -E "^top-1" "$tmp/out" | cmp -s - "$tmp/jit_top1.txt" && ok ||
    bad "eval: JIT and emulator top-1 differ: $(cat "$tmp/jit_top1.txt") vs $(grep -E '^top-1' "$tmp/out")"

# 4b. only the nonlinear role narrow: not its own fp32 baseline
printf 'default:\n  nonlinear: bf16\n' >"$tmp/nl.yaml"
run eval "$NET" --limit 2 --no-progress --json -p "$tmp/nl.yaml"
[ "$rc" -eq 0 ] && ! grep -q '"fp32_source": "this run"' "$tmp/out" && ok ||
    bad "eval nonlinear bf16 took itself as the fp32 baseline: $(cat "$tmp/out")"

# 5. mixed precision: e4m3 matmuls, bf16 softmax, layernorm and nonlinear
run emulate "$NET" --input "$X" -p "$DIR/e4m3_bf16.yaml"
[ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 8 ] && ok || bad "mix: exit $rc: $(cat "$tmp/err")"
cmp -s "$tmp/out" "$tmp/fp32.txt" && bad "mix: same logits as fp32" || ok

# 6. bad precision files name file, line and field
printf 'ops:\n  softmaks: bf16\n' >"$tmp/bad1.yaml"
expect_fail 1 "bad1.yaml:2:3: ops.softmaks: unknown op" emulate "$NET" --input "$X" -p "$tmp/bad1.yaml"
printf 'default:\n  nonlinear: e9m99\n' >"$tmp/bad2.yaml"
expect_fail 1 "bad2.yaml:2:14: default.nonlinear: expected a format name" \
    emulate "$NET" --input "$X" -p "$tmp/bad2.yaml"

finish
