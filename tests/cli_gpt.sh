#!/usr/bin/env bash
# cli_gpt.sh -- the causal character language model of specs/gpt (RMSNorm,
# rotary embeddings, SwiGLU, causal attention; [op-lm]) from the command line:
# `numrep emulate` of the first windows against PyTorch's logits (written by
# specs/tools/train_gpt.py), `eval --metric perplexity` at fp32 against
# PyTorch's perplexity, a narrow mixed precision, the generator (`run` and
# `eval --engine jit`) bit for bit with the emulator, and bad token data
# ([lm-data]) refused with clear errors.
# usage: bash tests/cli_gpt.sh path/to/numrep
set -u
BIN=${1:?usage: cli_gpt.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
DIR=$SRC/specs/gpt
NET=$DIR/gpt.yaml
X=$DIR/sample.npy
[ -f "$NET" ] && [ -f "$X" ] && [ -f "$DIR/ref_logits.f32" ] || skip_all "specs/gpt missing"
# T and V from the spec's comment-free lines
T=$(sed -n 's/^input: {shape: \[1, 1, \([0-9]*\)\]}.*/\1/p' "$NET")
V=$(sed -n 's/.*name: lm_head, op: linear, out: \([0-9]*\),.*/\1/p' "$NET")
[ -n "$T" ] && [ -n "$V" ] || skip_all "cannot read T and V from $NET"

# 1. emulate (fp32): one line of T*V logits per window, within 1e-4 of the
# window's largest |logit| of PyTorch's (float summation order differs)
run emulate "$NET" --input "$X"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] && ok || bad "emulate: exit $rc: $(cat "$tmp/err")"
n=$(wc -l <"$tmp/out")
[ "$n" -ge 1 ] && [ "$(awk '{ print NF }' "$tmp/out" | sort -u)" = $((T * V)) ] && ok ||
    bad "emulate: expected lines of $((T * V)) values"
cp "$tmp/out" "$tmp/fp32.txt"
od -An -v -f -w$((4 * T * V)) "$DIR/ref_logits.f32" >"$tmp/ref.txt"
[ "$(wc -l <"$tmp/ref.txt")" -eq "$n" ] && ok || bad "ref_logits.f32 has not $n windows"
awk 'NR == FNR { for (i = 1; i <= NF; i++) r[FNR, i] = $i; next }
     { m = 1; for (i = 1; i <= NF; i++) { a = r[FNR, i] < 0 ? -r[FNR, i] : r[FNR, i]; if (a > m) m = a }
       for (i = 1; i <= NF; i++) { d = $i - r[FNR, i]; if (d < 0) d = -d; if (d / m > w) w = d / m; if (d > 1e-4 * m) nbad++ } }
     END { printf "worst relative logit difference %.3g\n", w > "/dev/stderr"; exit nbad > 0 }' \
    "$tmp/ref.txt" "$tmp/fp32.txt" && ok || bad "emulate logits differ from PyTorch's by more than 1e-4"

# 2. eval --metric perplexity at fp32 on the shipped windows = PyTorch's
# perplexity (reference.txt) within 1e-5 relative, accuracy within 0.2 points
read -r _ _ W _ _ _ PPL _ ACC < <(grep '^test.npy ' "$DIR/reference.txt")
run eval "$NET" --metric perplexity --json --no-progress
[ "$rc" -eq 0 ] && ok || bad "eval: exit $rc: $(cat "$tmp/err")"
ppl=$(sed -n 's/.*"perplexity": \([0-9.]*\),.*/\1/p' "$tmp/out" | head -1)
acc=$(sed -n 's/.*"accuracy": \([0-9.]*\),.*/\1/p' "$tmp/out" | head -1)
grep -q "\"samples\": $W, " "$tmp/out" && ok || bad "eval: not $W windows: $(cat "$tmp/out")"
awk -v a="$ppl" -v b="$PPL" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-5 * b) }' &&
    ok || bad "eval perplexity $ppl, PyTorch $PPL"
awk -v a="$acc" -v b="$ACC" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 0.002) }' &&
    ok || bad "eval accuracy $acc, PyTorch $ACC"
echo "fp32: perplexity $ppl (PyTorch $PPL), accuracy $acc (PyTorch $ACC)" >&2

# 3. a narrow mixed precision runs: e4m3 matmuls, bf16 softmax/norms/nonlinear
run eval "$NET" --metric perplexity --json --no-progress --limit 4 -p "$DIR/e4m3_bf16.yaml"
[ "$rc" -eq 0 ] && ok || bad "eval e4m3_bf16: exit $rc: $(cat "$tmp/err")"
p8=$(sed -n 's/.*"perplexity": \([0-9.]*\),.*/\1/p' "$tmp/out" | head -1)
p32=$(sed -n 's/.*"fp32_perplexity": \([0-9.]*\),.*/\1/p' "$tmp/out" | head -1)
awk -v a="$p8" -v b="$p32" 'BEGIN { exit !(a > 1 && b > 1 && a != b && a < 2 * b) }' && ok ||
    bad "e4m3_bf16 perplexity $p8 vs fp32 $p32: $(cat "$tmp/out")"
run emulate "$NET" --input "$X" -p "$DIR/e4m3_bf16.yaml"
[ "$rc" -eq 0 ] && ! cmp -s "$tmp/out" "$tmp/fp32.txt" && ok || bad "e4m3_bf16: same logits as fp32"

# 4. the generator (emit_seq_lm.c): `run` gives emulate's bytes, fp32 and mixed;
# eval's perplexity and accuracy are the same in both engines
run run "$NET" --input "$X"
[ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/fp32.txt" && ok || bad "run (jit) differs from emulate at fp32"
run emulate "$NET" --input "$X" -p "$DIR/e4m3_bf16.yaml"
cp "$tmp/out" "$tmp/mixed.txt"
run run "$NET" --input "$X" -p "$DIR/e4m3_bf16.yaml"
[ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/mixed.txt" && ok || bad "run (jit) differs from emulate at e4m3_bf16"
for eng in jit emulator; do
    run eval "$NET" --metric perplexity --json --no-progress --limit 16 -p e4m3 --engine $eng
    [ "$rc" -eq 0 ] && grep -q "\"engine\": \"$eng\"" "$tmp/out" && ok || bad "eval --engine $eng: $(cat "$tmp/out" "$tmp/err")"
    sed -n 's/.*\("perplexity": [0-9.]*\).*/\1/p; s/.*\("accuracy": [0-9.]*\).*/\1/p' "$tmp/out" >"$tmp/ppl_$eng.txt"
done
[ -s "$tmp/ppl_jit.txt" ] && cmp -s "$tmp/ppl_jit.txt" "$tmp/ppl_emulator.txt" && ok ||
    bad "eval e4m3: jit $(cat "$tmp/ppl_jit.txt") vs emulator $(cat "$tmp/ppl_emulator.txt")"

# 4b. scaled dot products ([scl-seq]): MXFP8/MXFP4/NVFP4 linears and matmuls, the rest
# bf16; `run` gives emulate's bytes, and they differ from fp32's
for f in mxfp8 mxfp4 nvfp4; do
    run emulate "$NET" --input "$X" -p "$DIR/${f}_bf16.yaml"
    [ "$rc" -eq 0 ] && ! cmp -s "$tmp/out" "$tmp/fp32.txt" && ok || bad "emulate ${f}_bf16: exit $rc or fp32's logits: $(cat "$tmp/err")"
    cp "$tmp/out" "$tmp/scaled.txt"
    run run "$NET" --input "$X" -p "$DIR/${f}_bf16.yaml"
    [ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/scaled.txt" && ok || bad "run (jit) differs from emulate at ${f}_bf16: $(cat "$tmp/err")"
done

# 5. bad token data: named file, window/position, what was expected
npy() { # npy FILE DESCR SHAPE: a .npy header (version 1.0) with no data
    local h="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
    while [ $(( (10 + ${#h} + 1) % 64 )) -ne 0 ]; do h="$h "; done
    printf '\x93NUMPY\x01\x00' >"$1"
    printf "\\x$(printf %02x $(( (${#h} + 1) % 256 )))\\x$(printf %02x $(( (${#h} + 1) / 256 )))" >>"$1"
    printf '%s\n' "$h" >>"$1"
}
# ids ID...: int32 little-endian; seqv A B: A..B modulo V (valid ids)
seqv() { seq "$1" "$2" | awk -v v="$V" '{ print $1 % v }'; }
ids() { for v in "$@"; do printf "\\x$(printf %02x $((v % 256)))\\x$(printf %02x $((v / 256 % 256)))\\x00\\x00"; done; }
npy "$tmp/f32.npy" '<f4' "(1, $((T + 1)))"
head -c $((4 * (T + 1))) /dev/zero >>"$tmp/f32.npy"
expect_fail 1 "dtype '<f4' is not supported (expected '<i4', int32)" \
    eval "$NET" --metric perplexity --no-progress --data "$tmp/f32.npy"
npy "$tmp/range.npy" '<i4' "(1, $((T + 1)))"
ids $(seqv 1 "$T") "$V" >>"$tmp/range.npy"
expect_fail 1 "window 0 position $T: token id $V is not in [0, $V)" \
    eval "$NET" --metric perplexity --no-progress --data "$tmp/range.npy"
npy "$tmp/short.npy" '<i4' "(1, $T)"
ids $(seqv 1 "$T") >>"$tmp/short.npy"
expect_fail 1 "input must be [1, 1, T] token ids with T = $((T - 1))" \
    eval "$NET" --metric perplexity --no-progress --data "$tmp/short.npy"
npy "$tmp/trunc.npy" '<i4' "(2, $((T + 1)))"
ids $(seqv 0 "$T") >>"$tmp/trunc.npy"
expect_fail 1 "(file truncated?)" eval "$NET" --metric perplexity --no-progress --data "$tmp/trunc.npy"
npy "$tmp/rank.npy" '<i4' "($((T + 1)),)"
ids $(seqv 0 "$T") >>"$tmp/rank.npy"
expect_fail 1 "expected 2 dimensions" eval "$NET" --metric perplexity --no-progress --data "$tmp/rank.npy"
expect_fail 2 "--metric: expected perplexity or accuracy" eval "$NET" --metric top5 --data "$tmp/rank.npy"
expect_fail 2 "is a language model: use --metric perplexity" eval "$NET" --limit 2
# a token id outside the embedding given straight to emulate (99.0 = 0x42c60000)
npy "$tmp/x99.npy" '<f4' "(1, 1, 1, $T)"
for _ in $(seq 1 "$T"); do printf '\x00\x00\xc6\x42'; done >>"$tmp/x99.npy"
expect_fail 1 "position 0: token id 99 is not an integer in [0, $V)" emulate "$NET" --input "$tmp/x99.npy"
expect_fail 1 "position 0: token id 99 is not an integer in [0, $V)" run "$NET" --input "$tmp/x99.npy"

finish
