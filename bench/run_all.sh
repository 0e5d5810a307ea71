#!/usr/bin/env bash
# run_all.sh -- every benchmark in bench/, one after the other (they time
# with all the cores they are given: never run them side by side).
#
# usage: bench/run_all.sh [BUILD_DIR] [--quick] [--check] [--vgg]
#   BUILD_DIR   where cmake built bench_round and bench_net (default: build/)
#   --quick     a smoke run of each (fewer elements, images and repetitions)
#   --check     exit non-zero when a target row FAILs (default: report only,
#               a shared machine is noisy)
#   --vgg       also the VGG-16 compile time / peak memory rows (slow)
# Exit status: non-zero when a benchmark could not run (or, with --check,
# when a row failed).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    build=$1
    shift
fi
quick=0 check=() vgg=()
for a in "$@"; do
    case $a in
        --quick) quick=1 ;;
        --check) check=(--check) ;;
        --vgg)   vgg=(--vgg) ;;
        *) echo "run_all: unknown option $a" >&2; exit 2 ;;
    esac
done
for b in bench_round bench_net; do
    [ -x "$build/$b" ] || { echo "run_all: no $build/$b (cmake --build $build)" >&2; exit 2; }
done

status=0
run() {
    echo "==== $*"
    "$@" || { echo "==== $1 exited with status $?"; status=1; }
}
if [ $quick = 1 ]; then
    run "$build/bench_round" --n 1000000 --reps 2 --threads 1,2 "${check[@]}"
    run "$build/bench_net" --quick "${check[@]}" "${vgg[@]}"
else
    run "$build/bench_round" "${check[@]}"
    run "$build/bench_net" "${check[@]}" "${vgg[@]}"
fi
run "$here/bench/calibrate_speed.sh" "$build" "${check[@]}"
exit $status
