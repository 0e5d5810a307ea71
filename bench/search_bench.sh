#!/usr/bin/env bash
# search_bench.sh -- issue 15's speed targets for the fast precision search,
# measured in one run, each search from an empty results store:
#   1. the README's main job: ResNet-20 on specs/resnet20/cifar10-1000,
#      budget 1 %, fast method, --jobs 2           target <= 30 s wall
#   2. LeNet-5 on the first 2000 MNIST test images, budget 1 %, fast method,
#      --jobs 2 (needs ../shared/data/mnist; the row is SKIP without it)
#                                                  target <= 10 s wall
#   and in both: the R^2 sweep costs less than the full evaluations (CPU
#   seconds of the process in each phase, the search's *_cpu_seconds: the
#   summed wall seconds of the evaluations are printed too, but on a loaded
#   machine they measure the load).
# For each it prints the answer, the process's wall and CPU (user+sys)
# seconds, the R^2 sweep (configurations run; summed wall seconds of its
# evaluations, each compiling one configuration at -O0 and running the R^2
# inputs; CPU seconds), the full evaluations (count, summed seconds, CPU)
# and the fp32 runs' CPU.  Times on a shared machine vary with its load,
# which is printed; the PASS/FAIL rows
# compare this run's numbers only.
#
# usage: bench/search_bench.sh [BUILD_DIR] [--full-sweep]
#   --full-sweep   the old behaviour for comparison: R^2 over the whole grid
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
extra=()
for a in "$@"; do
    case $a in
        --full-sweep) extra+=(--full-sweep) ;;
        --*) echo "search_bench: unknown option $a" >&2; exit 2 ;;
        *) build=$a ;;
    esac
done
bin=$build/numrep
[ -x "$bin" ] || { echo "search_bench: no $bin (cmake --build $build)" >&2; exit 2; }
shared=${NUMREP_SHARED_DATA:-$here/../shared/data}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fails=0

# bench NAME TARGET_WALL NET DATA [args...]
bench() {
    local name=$1 target=$2 net=$3 data=$4
    shift 4
    local db=$out/$name.db json=$out/$name.json tm=$out/$name.time
    rm -f "$db"
    if ! /usr/bin/time -f "%e %U %S" -o "$tm" "$bin" search "$here/specs/$net/$net.yaml" \
        --data "$data" --max-loss 1% --jobs 2 --db "$db" --no-progress --json \
        "${extra[@]}" "$@" >"$json" 2>"$out/$name.err"; then
        echo "FAIL  $name: search failed: $(tail -3 "$out/$name.err")"
        fails=$((fails + 1))
        return
    fi
    python3 - "$name" "$target" "$json" "$tm" <<'EOF' || fails=$((fails + 1))
import json, sys
name, target, jpath, tpath = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
j = json.load(open(jpath))
wall, user, sys_ = (float(v) for v in open(tpath).read().split()[-3:])
print(f"{name}: chose {j['chosen']} (normalized {100 * j['normalized']:.2f} %, "
      f"speedup {j['speedup']:.1f}x) in {j['full_evals']} full evaluations")
print(f"  process        {wall:7.1f} s wall  {user + sys_:7.1f} s CPU (user+sys)")
print(f"  R^2 sweep      {j['sample_evals']:4d} of {j['configurations']} configurations, "
      f"{j['sample_seconds']:7.1f} s summed over evaluations "
      f"({j['sample_seconds'] / max(j['sample_evals'], 1):.3f} s each)")
print(f"                 {j['sample_cpu_seconds']:7.1f} s CPU")
print(f"  full evals     {j['full_evals']:4d}, {j['full_seconds']:7.1f} s summed, "
      f"{j['full_cpu_seconds']:7.1f} s CPU")
print(f"  fp32 runs            {j['fp32_cpu_seconds']:7.1f} s CPU; "
      f"CPU / 2 cores = {(user + sys_) / 2:.1f} s (the wall time on an idle machine, roughly)")
rows = [(f"{name} wall {wall:.1f} s <= {target:g} s", wall <= target),
        (f"{name} R^2 sweep {j['sample_cpu_seconds']:.1f} s CPU < full evaluations "
         f"{j['full_cpu_seconds']:.1f} s CPU", j['sample_cpu_seconds'] < j['full_cpu_seconds'])]
bad = 0
for text, ok in rows:
    print(("PASS  " if ok else "FAIL  ") + text)
    bad += not ok
sys.exit(1 if bad else 0)
EOF
}

echo "search_bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
bench resnet20-main 30 resnet20 "$here/specs/resnet20/cifar10-1000"
if [ -d "$shared/mnist" ]; then
    bench lenet5-2000 10 lenet5 "$shared/mnist" --limit 2000
else
    echo "SKIP  lenet5-2000: $shared/mnist absent"
fi
echo "search_bench: load average after $(cut -d' ' -f1-3 /proc/loadavg)"
exit $((fails > 0))
