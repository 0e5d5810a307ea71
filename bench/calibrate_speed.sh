#!/usr/bin/env bash
# calibrate_speed.sh -- issue #13's calibration target: `numrep calibrate`
# of ResNet-20 (int8 per channel, every per-tensor activation) on 1000
# CIFAR-10 images in < 30 s wall, with 2 jobs (the JIT runs the fp32 tap
# model; docs/semantics.md [scl-cal-stats]).  One row per method, PASS/FAIL,
# and the ratio to an fp32 `numrep eval` of the same 1000 images in the
# same run (what the statistics add to one fp32 pass, JIT compile included).
# usage: bench/calibrate_speed.sh [BUILD_DIR] [--check]
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
check=0
for a in "$@"; do
    case $a in --check) check=1 ;; *) BUILD=$a ;; esac
done
BIN=$BUILD/numrep
NET=$ROOT/specs/resnet20/resnet20.yaml
DATA=$ROOT/specs/resnet20/cifar10-1000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
t0=$(now)
"$BIN" eval "$NET" -p fp32 --data "$DATA" --limit 1000 --jobs 2 --no-cache --no-progress >/dev/null 2>&1 ||
    { echo "fp32 eval failed" >&2; exit 1; }
t1=$(now)
base=$(echo "$t1 - $t0" | bc -l)
status=0
printf '%-44s %8s %8s  %s\n' "row" "seconds" "x fp32" "target < 30 s"
for m in amax percentile:99.99 mse; do
    t0=$(now)
    "$BIN" calibrate "$NET" -p int8@channel --data "$DATA" --samples 1000 --jobs 2 --method "$m" \
        -o "$tmp/cal.yaml" --no-progress 2>/dev/null || { echo "calibrate $m failed" >&2; exit 1; }
    t1=$(now)
    s=$(echo "$t1 - $t0" | bc -l)
    v=PASS
    [ "$(echo "$s < 30" | bc -l)" = 1 ] || { v=FAIL; status=1; }
    printf '%-44s %8.2f %8.2f  %s\n' "calibrate ResNet-20, 1000 images, $m" "$s" \
        "$(echo "$s / $base" | bc -l)" "$v"
done
printf '%-44s %8.2f\n' "(fp32 eval of the same images, JIT)" "$base"
[ $check = 1 ] && exit $status
exit 0
