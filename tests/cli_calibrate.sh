#!/usr/bin/env bash
# cli_calibrate.sh -- `numrep calibrate` and static activation scales
# through the command line (docs/semantics.md [scl-cal-*]): a calibrated
# file for ResNet-20 on the shipped CIFAR-10 slice, the same scales from the
# JIT and the emulator, each method (percentile and mse thresholds never
# above amax), the file used by eval and emulate, a broken file's error
# with its line, bad arguments, and nvfp4 with static tensor scales.
# usage: bash tests/cli_calibrate.sh path/to/numrep
set -u
BIN=${1:?usage: cli_calibrate.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
NET=$SRC/specs/resnet20/resnet20.yaml
DATA=$SRC/specs/resnet20/cifar10-1000
X=$SRC/specs/resnet20/sample.npy
[ -f "$NET" ] && [ -d "$DATA" ] && [ -f "$X" ] || skip_all "specs/resnet20 or its data missing"
scales() { sed -n '/^scales:/,$p' "$1" | sed -n 's/^  \([^:]*\): \([^ ]*\).*/\1 \2/p'; }
amaxes() { sed -n '/^scales:/,$p' "$1" | tail -n +2 | sed -n 's/.*# \([^,]*\), \(.*\)$/\1 \2/p'; }

# 1. calibrate int8 per channel on 24 samples (JIT): every tensor static, a scale each
run calibrate "$NET" -p int8@channel --data "$DATA" --samples 8 -o "$tmp/cal.yaml" --no-progress
[ "$rc" -eq 0 ] && ok || bad "calibrate: exit $rc: $(cat "$tmp/err")"
grep -q 'activations: int8@tensor:fp32:static' "$tmp/cal.yaml" && ok || bad "no static activations: $(head -5 "$tmp/cal.yaml")"
n=$(scales "$tmp/cal.yaml" | wc -l)
[ "$n" -eq 54 ] && ok || bad "expected 54 scales (input + 53 layers), got $n"
scales "$tmp/cal.yaml" | awk '!($2 > 0) {exit 1}' && ok || bad "a scale is not positive"
grep -q "54 tensors, amax over 8 samples" "$tmp/err" && ok || bad "summary: $(cat "$tmp/err")"

# 2. the emulator gives the same file body (same fp32 values), with 2 jobs
run calibrate "$NET" -p int8@channel --data "$DATA" --samples 8 -o "$tmp/cal_e.yaml" \
    --engine emulator --jobs 2 --no-progress
[ "$rc" -eq 0 ] && ok || bad "calibrate --engine emulator: exit $rc: $(cat "$tmp/err")"
diff <(grep -v '^#' "$tmp/cal.yaml") <(grep -v '^#' "$tmp/cal_e.yaml") >/dev/null && ok ||
    bad "jit and emulator calibrations differ"

# 3. each method: thresholds never above amax; percentile:100 is amax
for m in percentile:99.9 mse; do
    run calibrate "$NET" -p int8@channel --data "$DATA" --samples 8 --method "$m" \
        -o "$tmp/cal_m.yaml" --no-progress
    [ "$rc" -eq 0 ] && ok || bad "--method $m: exit $rc: $(cat "$tmp/err")"
    amaxes "$tmp/cal_m.yaml" | awk '$2 > $1 {exit 1}' && ok || bad "$m: a threshold above amax"
    [ "$(amaxes "$tmp/cal_m.yaml" | wc -l)" -eq 54 ] && ok || bad "$m: not 54 tensors"
    diff <(scales "$tmp/cal.yaml") <(scales "$tmp/cal_m.yaml") >/dev/null && bad "$m gave amax's scales everywhere" || ok
done
run calibrate "$NET" -p int8@channel --data "$DATA" --samples 8 --method percentile:100 \
    -o "$tmp/cal_p.yaml" --no-progress
diff <(scales "$tmp/cal.yaml") <(scales "$tmp/cal_p.yaml") >/dev/null && ok ||
    bad "percentile:100 differs from amax"

# 4. the file is used: eval runs with it, and a different scale changes outputs
run eval "$NET" -p "$tmp/cal.yaml" --data "$DATA" --limit 1 --no-progress --json --logits "$tmp/y1.npy"
[ "$rc" -eq 0 ] && grep -q '"normalized_top1"' "$tmp/out" && ok || bad "eval -p cal.yaml: $(cat "$tmp/err")"
sed 's/^\(  conv1: \)[^ ]*/\10.5/' "$tmp/cal.yaml" >"$tmp/cal2.yaml"
run eval "$NET" -p "$tmp/cal2.yaml" --data "$DATA" --limit 1 --no-progress --json --logits "$tmp/y2.npy"
[ "$rc" -eq 0 ] && ! cmp -s "$tmp/y1.npy" "$tmp/y2.npy" && ok || bad "a changed scale changed nothing: $(cat "$tmp/err")"
# re-calibrating a calibrated file works (its scales are recomputed)
run calibrate "$NET" -p "$tmp/cal2.yaml" --data "$DATA" --samples 8 -o "$tmp/cal3.yaml" --no-progress
diff <(scales "$tmp/cal.yaml") <(scales "$tmp/cal3.yaml") >/dev/null && ok || bad "re-calibration differs"

# 5. a broken file names its line
line=$(grep -n '^  relu: ' "$tmp/cal.yaml" | cut -d: -f1)
grep -v '^  relu: ' "$tmp/cal.yaml" >"$tmp/bad1.yaml"
expect_fail 1 "no scale for relu" emulate "$NET" --input "$X" -p "$tmp/bad1.yaml"
sed 's/^\(  relu: \)[^ ]*/\1-2/' "$tmp/cal.yaml" >"$tmp/bad2.yaml"
expect_fail 1 "bad2.yaml:$line:" emulate "$NET" --input "$X" -p "$tmp/bad2.yaml"
sed 's/^\(  relu\): /\1x: /' "$tmp/cal.yaml" >"$tmp/bad3.yaml"
expect_fail 1 "no tensor of that name" emulate "$NET" --input "$X" -p "$tmp/bad3.yaml"

# 6. bad arguments
expect_fail 2 "missing -o" calibrate "$NET" -p int8@channel --data "$DATA"
expect_fail 2 "missing -p" calibrate "$NET" --data "$DATA" -o "$tmp/x.yaml"
expect_fail 2 "missing NET" calibrate -p int8@channel -o "$tmp/x.yaml"
expect_fail 2 "expected amax, percentile:P" calibrate "$NET" -p int8@channel --data "$DATA" --method max -o "$tmp/x.yaml"
expect_fail 2 "0 < P <= 100" calibrate "$NET" -p int8@channel --data "$DATA" --method percentile:0 -o "$tmp/x.yaml"
expect_fail 2 "0 < P <= 100" calibrate "$NET" -p int8@channel --data "$DATA" --method percentile:101 -o "$tmp/x.yaml"
expect_fail 2 "--samples" calibrate "$NET" -p int8@channel --data "$DATA" --samples 0 -o "$tmp/x.yaml"
expect_fail 2 "--engine" calibrate "$NET" -p int8@channel --data "$DATA" --engine gpu -o "$tmp/x.yaml"
expect_fail 1 "out of range" calibrate "$NET" -p int8@channel --data "$DATA" --first 5000 -o "$tmp/x.yaml" --no-progress
expect_fail 1 "only 1000" calibrate "$NET" -p int8@channel --data "$DATA" --first 990 --samples 20 -o "$tmp/x.yaml" --no-progress
expect_fail 1 "nothing to calibrate" calibrate "$NET" -p fp32 --data "$DATA" -o "$tmp/x.yaml"
expect_fail 1 "nothing to calibrate" calibrate "$NET" -p mxfp8 --data "$DATA" -o "$tmp/x.yaml"
expect_fail 1 "cannot write" calibrate "$NET" -p int8@channel --data "$DATA" --samples 2 -o "$tmp/no/such/dir.yaml" --no-progress
[ ! -e "$tmp/x.yaml" ] && ok || bad "a failed calibrate wrote its output"

# 7. nvfp4 with static tensor scales ([scl-nv-static]): calibrate writes
# e2m1@b16:nv:static with 54 fp32 tensor scales; the JIT and the emulator
# give the same logits bit for bit with it, and they differ from dynamic nvfp4
run calibrate "$NET" -p nvfp4 --data "$DATA" --samples 8 -o "$tmp/nv.yaml" --no-progress
[ "$rc" -eq 0 ] && ok || bad "calibrate -p nvfp4: exit $rc: $(cat "$tmp/err")"
grep -q 'activations: e2m1@b16:nv:static' "$tmp/nv.yaml" && ok || bad "no nv static activations: $(head -5 "$tmp/nv.yaml")"
[ "$(scales "$tmp/nv.yaml" | wc -l)" -eq 54 ] && ok || bad "nvfp4: expected 54 scales"
for e in jit emulator; do
    run eval "$NET" -p "$tmp/nv.yaml" --data "$DATA" --limit 2 --engine $e --no-progress --json --logits "$tmp/nv_$e.npy"
    [ "$rc" -eq 0 ] && ok || bad "eval nv static --engine $e: $(cat "$tmp/err")"
done
cmp -s "$tmp/nv_jit.npy" "$tmp/nv_emulator.npy" && ok || bad "nv static: jit and emulator logits differ"
run eval "$NET" -p nvfp4 --data "$DATA" --limit 2 --no-progress --json --logits "$tmp/nv_dyn.npy"
[ "$rc" -eq 0 ] && ! cmp -s "$tmp/nv_jit.npy" "$tmp/nv_dyn.npy" && ok || bad "nv static gave dynamic nvfp4's logits"
run emulate "$NET" --input "$X" -p "$tmp/nv.yaml"
[ "$rc" -eq 0 ] && ok || bad "emulate nv static: $(cat "$tmp/err")"
expect_fail 1 "mse" calibrate "$NET" -p nvfp4 --data "$DATA" --samples 2 --method mse -o "$tmp/x.yaml" --no-progress
expect_fail 1 "weights cannot have rule static" emulate "$NET" --input "$X" -p e2m1@b16:nv:static
finish
