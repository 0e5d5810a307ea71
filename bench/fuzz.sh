#!/usr/bin/env bash
# fuzz.sh -- run numrep's libFuzzer targets (tests/fuzz/fuzz_*.c, one per
# parser) for as long as asked: builds BUILD_DIR with clang and
# -DNUMREP_FUZZ=ON when needed, then runs each target in turn for SECONDS
# with its seed corpus (tests/fuzz/corpus/<name>/; new inputs go to
# BUILD_DIR/fuzz-corpus/<name>/, never into the repo).  A crash, leak,
# timeout or sanitizer report stops that target and keeps the input in
# BUILD_DIR/fuzz-crashes/; one FAIL/PASS row per target; exit 1 on any FAIL.
# To add an input it found to the seeds: cp it to tests/fuzz/corpus/<name>/.
#
# usage: bench/fuzz.sh [SECONDS_EACH] [TARGET...]   (default 60, every target)
#   env BUILD_DIR   the clang build tree (default build-fuzz)
#   env JOBS        parallel fuzzing processes per target (default 1)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
build=${BUILD_DIR:-$here/build-fuzz}
jobs=${JOBS:-1}
cc=$(command -v clang || command -v clang-16 || command -v clang-14 || true)
[ -n "$cc" ] || { echo "fuzz.sh: clang not installed (setup.sh installs it)" >&2; exit 2; }
if [ ! -f "$build/CMakeCache.txt" ]; then
    CC=$cc cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNUMREP_FUZZ=ON >/dev/null || exit 2
fi
cmake --build "$build" -j"$(nproc)" --target fuzz >&2 || exit 2

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$here"/tests/fuzz/fuzz_*.c; do
        n=$(basename "$f" .c)
        [ "$n" = fuzz_util ] || targets+=("${n#fuzz_}")
    done
fi
mkdir -p "$build/fuzz-crashes"
status=0
for t in "${targets[@]}"; do
    mkdir -p "$build/fuzz-corpus/$t"
    log=$build/fuzz-$t.log
    par=()
    [ "$jobs" -le 1 ] || par=(-jobs="$jobs" -workers="$jobs")  # workers log to fuzz-N.log in $build
    (cd "$build" && "$build/fuzz_$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 \
        "${par[@]}" -print_final_stats=1 -artifact_prefix="$build/fuzz-crashes/$t-" \
        "$build/fuzz-corpus/$t" "$here/tests/fuzz/corpus/$t") >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{ s += $2 } END { print s + 0 }')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ "$rc" -eq 0 ]; then
        printf 'PASS  %-12s %5ss  %9s runs  %s  corpus %s files\n' "$t" "$secs" "$runs" \
            "${cov:-cov: ?}" "$(ls "$build/fuzz-corpus/$t" | wc -l)"
    else
        status=1
        printf 'FAIL  %-12s exit %d: %s (log %s)\n' "$t" "$rc" \
            "$(grep -m1 -E 'ERROR|runtime error|deadly signal' "$log" | head -c 200)" "$log"
    fi
done
exit $status
