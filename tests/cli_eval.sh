#!/usr/bin/env bash
# cli_eval.sh -- `numrep eval`: text and --json results on stdout, the fp32
# cache (computed, then cached; a corrupt entry is recomputed with the same
# numbers), --jobs not changing results, and bad arguments / data with their
# messages and exit codes.  Uses a tiny random-weight network on the first
# records of the shipped CIFAR-10 subset, so it runs in seconds.
# usage: bash tests/cli_eval.sh path/to/numrep
BIN=${1:?usage: cli_eval.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
DATA=$SRC/specs/resnet20/cifar10-1000/test_batch.bin
export NUMREP_CACHE_DIR=$tmp/cache

# field NAME: a number from the JSON in $tmp/out
field() { sed -n "s/.*\"$1\": \\([-0-9.]*\\).*/\\1/p" "$tmp/out" | head -1; }
sfield() { sed -n "s/.*\"$1\": \"\\([^\"]*\\)\".*/\\1/p" "$tmp/out" | head -1; }

if [ ! -f "$DATA" ]; then
    echo "cli_eval: $DATA missing" >&2
    exit 1
fi

head -c $((3073 * 40)) "$DATA" >"$tmp/d40.bin"
cat >"$tmp/tiny.yaml" <<'YAML'
input: {shape: [3, 32, 32], divisor: 255, mean: 0.5, std: 0.25}
layers:
  - {name: pool, op: avgpool, kernel: 4}
  - {name: fc, op: dense, out: 10}
YAML
T=$tmp/tiny.yaml

# --- a run, text and JSON -------------------------------------------------
run eval "$T" --random-weights 5 --data "$tmp/d40.bin" -p e4m3 --no-progress
if [ "$rc" -ne 0 ]; then bad "text run: exit $rc: $(cat "$tmp/err")"
elif ! grep -q '^top-1 .*(.*/40)' "$tmp/out" || ! grep -q '^normalized' "$tmp/out" ||
     ! grep -q 'computed)' "$tmp/out"; then bad "text run output: $(cat "$tmp/out")"
else ok; fi

run eval "$T" --random-weights 5 --data "$tmp/d40.bin" -p e4m3 --json
if [ "$rc" -ne 0 ]; then bad "json run: exit $rc: $(cat "$tmp/err")"
elif [ "$(field samples)" != 40 ] || [ "$(sfield fp32_source)" != cached ] ||
     [ "$(sfield engine)" != jit ] || [ -s "$tmp/err" ]; then
    bad "json run: $(cat "$tmp/out") / $(cat "$tmp/err")"
else ok; fi
t1=$(field top1_correct); f1=$(field fp32_top1); ag=$(field agreement)
# a short run prints no progress to a non-terminal stderr (checked above: err
# empty); lines come only every 10 s of a longer phase (gen/cli/cli_progress.c),
# here every 0 s
NUMREP_PROGRESS_SECONDS=0 run eval "$T" --random-weights 5 --data "$tmp/d40.bin" -p e5m2 --no-cache
if [ "$rc" -eq 0 ] && grep -q '^numrep: eval: [0-9]*/40 after .* s wall' "$tmp/err" &&
   grep -q '^numrep: fp32 baseline: 40/40 after' "$tmp/err"; then ok
else bad "progress lines: exit $rc: $(cat "$tmp/err")"; fi

# the fp32 run itself agrees with the cached baseline
run eval "$T" --random-weights 5 --data "$tmp/d40.bin" --json --jobs 3
if [ "$(field top1)" != "$f1" ] || [ "$(sfield fp32_source)" != "this run" ] ||
   [ "$(field agreement)" != 1.000000 ]; then bad "fp32 run: $(cat "$tmp/out")"; else ok; fi

# corrupt every cache entry: recomputed, same numbers
for f in "$NUMREP_CACHE_DIR"/fp32-*.txt; do printf 'numrep-fp32-cache 1\ngarbage\n' >"$f"; done
run eval "$T" --random-weights 5 --data "$tmp/d40.bin" -p e4m3 --json --jobs 2
if [ "$(sfield fp32_source)" != computed ] || [ "$(field top1_correct)" != "$t1" ] ||
   [ "$(field fp32_top1)" != "$f1" ] || [ "$(field agreement)" != "$ag" ]; then
    bad "after corrupting the cache: $(cat "$tmp/out") (want top1_correct $t1, fp32 $f1)"
else ok; fi
# --no-cache neither reads nor writes
rm -rf "$NUMREP_CACHE_DIR"
run eval "$T" --random-weights 5 --data "$tmp/d40.bin" -p e4m3 --json --no-cache
if [ "$(sfield fp32_source)" != computed ] || [ -e "$NUMREP_CACHE_DIR" ]; then
    bad "--no-cache: $(cat "$tmp/out")"; else ok; fi
# a different data slice is a different entry
run eval "$T" --random-weights 5 --data "$tmp/d40.bin" -p e4m3 --json --limit 10
run eval "$T" --random-weights 5 --data "$tmp/d40.bin" -p e4m3 --json --limit 20
if [ "$(sfield fp32_source)" != computed ] || [ "$(field samples)" != 20 ]; then
    bad "--limit 20 after --limit 10: $(cat "$tmp/out")"; else ok; fi
# another seed is another network: not the cached baseline
run eval "$T" --random-weights 6 --data "$tmp/d40.bin" -p e4m3 --json --limit 20
if [ "$(sfield fp32_source)" != computed ]; then bad "other seed used the cache"; else ok; fi

# --- --logits: the outputs themselves, bit for bit the same from both engines
run eval "$T" --random-weights 5 --data "$tmp/d40.bin" -p e4m3 --json --logits "$tmp/lj.npy" --jobs 2
run eval "$T" --random-weights 5 --data "$tmp/d40.bin" -p e4m3 --json --logits "$tmp/le.npy" --engine emulator
if [ "$rc" -ne 0 ] || ! cmp -s "$tmp/lj.npy" "$tmp/le.npy"; then
    bad "--logits: jit and emulator files differ ($(cat "$tmp/err"))"
elif ! head -c 128 "$tmp/lj.npy" | grep -q "'shape': (40, 10)" ||
     [ "$(wc -c <"$tmp/lj.npy")" -ne $(( $(head -c 10 "$tmp/lj.npy" | od -An -tu2 -j8 | tr -d ' ') + 10 + 40 * 10 * 4 )) ]; then
    bad "--logits: not a [40, 10] float32 .npy"
else ok; fi
run eval "$T" --random-weights 5 --data "$tmp/d40.bin" -p e4m3 --limit 7 --logits "$tmp/l7.npy"
if [ "$rc" -ne 0 ] || ! head -c 128 "$tmp/l7.npy" | grep -q "'shape': (7, 10)"; then
    bad "--logits --limit 7: $(head -c 128 "$tmp/l7.npy")"; else ok; fi
expect_fail 2 "--logits needs an argument" eval "$T" --random-weights 5 --data "$tmp/d40.bin" --logits
expect_fail 1 "$tmp/no/such/dir/l.npy" eval "$T" --random-weights 5 --data "$tmp/d40.bin" --logits "$tmp/no/such/dir/l.npy"

# --- the shipped default: the spec's dataset: ------------------------------
run eval "$SRC/specs/resnet20/resnet20.yaml" --limit 4 --json
if [ "$rc" -ne 0 ] || [ "$(field samples)" != 4 ] || [ "$(sfield data_kind)" != cifar-bin ]; then
    bad "resnet20 default data: $(cat "$tmp/out") $(cat "$tmp/err")"; else ok; fi

# --- usage errors ---------------------------------------------------------
expect_fail 2 "missing NET.yaml" eval
expect_fail 2 "--limit: expected a positive integer, got \"0\"" eval "$T" --data "$tmp/d40.bin" --limit 0
expect_fail 2 "--limit: expected a positive integer, got \"-3\"" eval "$T" --data "$tmp/d40.bin" --limit -3
expect_fail 2 "--limit: expected a positive integer, got \"ten\"" eval "$T" --data "$tmp/d40.bin" --limit ten
expect_fail 2 "--jobs: expected an integer from 1 to 256, got \"0\"" eval "$T" --data "$tmp/d40.bin" --jobs 0
expect_fail 2 "--jobs: expected an integer from 1 to 256, got \"2x\"" eval "$T" --data "$tmp/d40.bin" --jobs 2x
expect_fail 2 "--engine: expected jit or emulator, got \"gpu\"" eval "$T" --data "$tmp/d40.bin" --engine gpu
expect_fail 2 "--random-weights: expected an unsigned integer" eval "$T" --random-weights -1
expect_fail 2 "--data needs an argument" eval "$T" --data
expect_fail 2 "unknown option --bogus" eval "$T" --bogus
expect_fail 2 "unexpected argument" eval "$T" "$T"
expect_fail 2 "missing --data DATASET (the spec names no \`dataset:\`)" eval "$T" --random-weights 1

# --- errors ---------------------------------------------------------------
# the jit engine gives the emulator's results (counts and agreement with fp32)
for p in fp32 e4m3 e5m2; do
    run eval "$T" --random-weights 3 --data "$tmp/d40.bin" -p $p --json --engine emulator
    want="$(field top1_correct) $(field top5_correct) $(field agreement)"
    run eval "$T" --random-weights 3 --data "$tmp/d40.bin" -p $p --json --engine jit --jobs 2
    got="$(field top1_correct) $(field top5_correct) $(field agreement)"
    if [ "$rc" -ne 0 ] || [ "$(sfield engine)" != jit ] || [ "$got" != "$want" ]; then
        bad "jit vs emulator at $p: got '$got', want '$want' ($(cat "$tmp/err"))"
    else ok; fi
done
expect_fail 1 "$tmp/nope" eval "$T" --random-weights 1 --data "$tmp/nope"
head -c 3000 "$DATA" >"$tmp/short.bin"
expect_fail 1 "expected a positive multiple of 3073" eval "$T" --random-weights 1 --data "$tmp/short.bin"
# a 28x28 network on 32x32 images
sed 's/shape: \[3, 32, 32\]/shape: [3, 28, 28]/' "$T" >"$tmp/t28.yaml"
expect_fail 1 "the data gives samples of shape [3, 32, 32] after preprocessing, the network takes [3, 28, 28]" \
    eval "$tmp/t28.yaml" --random-weights 1 --data "$tmp/d40.bin"
# 5 outputs, labels up to 9
sed 's/out: 10/out: 5/' "$T" >"$tmp/t5.yaml"
expect_fail 1 "label 5 of sample" eval "$tmp/t5.yaml" --random-weights 1 --data "$tmp/d40.bin"
# bad preprocessing in the spec
sed 's/std: 0.25/std: 0/' "$T" >"$tmp/tstd.yaml"
expect_fail 1 "input.std: expected a finite nonzero number" eval "$tmp/tstd.yaml" --random-weights 1 --data "$tmp/d40.bin"
sed 's/divisor: 255/divisor: -1/' "$T" >"$tmp/tdiv.yaml"
expect_fail 1 "input.divisor: expected a positive number" eval "$tmp/tdiv.yaml" --random-weights 1 --data "$tmp/d40.bin"
# --limit past the end is fine (all 40); the weights file missing is an error
run eval "$T" --random-weights 1 --data "$tmp/d40.bin" --limit 1000 --json
if [ "$(field samples)" != 40 ]; then bad "--limit past the end: $(cat "$tmp/out")"; else ok; fi
printf 'weights: nope.safetensors\n' >>"$tmp/tw.yaml"; cat "$T" >>"$tmp/tw.yaml"
expect_fail 1 "nope.safetensors" eval "$tmp/tw.yaml" --data "$tmp/d40.bin"

echo "cli_eval: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
