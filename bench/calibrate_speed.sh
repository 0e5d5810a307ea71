#!/usr/bin/env bash
# calibrate_speed.sh -- issue #13's calibration target: `numrep calibrate`
# of ResNet-20 (int8 per channel, every per-tensor activation) on 1000
# CIFAR-10 images in < 30 s wall, with 2 jobs (the JIT runs the fp32 tap
# model; docs/semantics.md [scl-cal-stats]).  One row per method, PASS/FAIL,
# and the ratio to an fp32 `numrep eval` of the same 1000 images in the
# same run (what the statistics add to one fp32 pass, JIT compile included).
# On a shared machine the wall time mostly measures the load: each row also
# gives the CPU seconds (user + sys of the command, all its threads) and a
# second verdict on them (< 30 CPU s: under 30 s wall on one idle core).
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
cpu_now() { # CPU_NOW: user + sys seconds of the finished children (no subshell)
    times >"$tmp/times"
    CPU_NOW=$(tail -1 "$tmp/times" | tr 'ms' '  ' | awk '{print $1 * 60 + $2 + $3 * 60 + $4}')
}
cpu_now
c0=$CPU_NOW
t0=$(now)
"$BIN" eval "$NET" -p fp32 --data "$DATA" --limit 1000 --jobs 2 --no-cache --no-progress >/dev/null 2>&1 ||
    { echo "fp32 eval failed" >&2; exit 1; }
t1=$(now)
cpu_now
base=$(echo "$t1 - $t0" | bc -l)
basecpu=$(echo "$CPU_NOW - $c0" | bc -l)
status=0
printf '%-50s %8s %7s %8s  %-8s %s\n' "row" "seconds" "x fp32" "CPU s" "< 30 s" "< 30 CPU s"
for m in amax percentile:99.99 mse; do
    c0=$CPU_NOW
    t0=$(now)
    "$BIN" calibrate "$NET" -p int8@channel --data "$DATA" --samples 1000 --jobs 2 --method "$m" \
        -o "$tmp/cal.yaml" --no-progress 2>/dev/null || { echo "calibrate $m failed" >&2; exit 1; }
    t1=$(now)
    cpu_now
    s=$(echo "$t1 - $t0" | bc -l)
    c=$(echo "$CPU_NOW - $c0" | bc -l)
    v=PASS vc=PASS
    [ "$(echo "$s < 30" | bc -l)" = 1 ] || { v=FAIL; status=1; }
    [ "$(echo "$c < 30" | bc -l)" = 1 ] || vc=FAIL
    printf '%-50s %8.2f %7.2f %8.2f  %-8s %s\n' "calibrate ResNet-20, 1000 images, $m" "$s" \
        "$(echo "$s / $base" | bc -l)" "$c" "$v" "$vc"
done
printf '%-50s %8.2f %7s %8.2f\n' "(fp32 eval of the same images, JIT)" "$base" "" "$basecpu"
[ $check = 1 ] && exit $status
exit 0
