#!/usr/bin/env bash
# search_four.sh -- the README's precision-search table, reproduced: for
# LeNet-5, ResNet-20, ResNet-56 and MobileNet v1 the exhaustive answer
# (--early-stop) and the fast method's with a leave-one-out predictor (fitted
# on the other three networks' exhaustive rows), each fast search from an
# empty results store, so its time includes the 353 R^2 runs.  One row per
# network: both answers, full evaluations and times, and PASS when the fast
# method chose the exhaustive answer (or one of the same cost) in at most 3
# full evaluations (issue 6's target).
#
# usage: bench/search_four.sh [BUILD_DIR] [--check]
#   env NETS="lenet5 resnet20"   fast searches for these only (default: all four)
#   env REF_DB=FILE              the exhaustive runs' store (default
#                                BUILD_DIR/search-four/ref.db); runs already in
#                                it are answered from it
# Needs ../shared/data (MNIST, the ImageNet samples): skipped without it.
# Hours the first time (the exhaustive runs); minutes per network after.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    build=$1
    shift
fi
check=0
for a in "$@"; do
    case $a in
        --check) check=1 ;;
        *) echo "search_four: unknown option $a" >&2; exit 2 ;;
    esac
done
name=search_four
# shellcheck source=bench/search_common.sh
. "$here/bench/search_common.sh"
out=$build/search-four
mkdir -p "$out"
ref=${REF_DB:-$out/ref.db}
all="lenet5 resnet20 resnet56 mobilenet_v1"
nets=${NETS:-$all}

data_of() {
    case $1 in
        lenet5) echo "$shared/mnist" ;;
        resnet20|resnet56) echo "$here/specs/resnet20/cifar10-1000" ;;
        mobilenet_v1) echo "$shared/imagenet_samples" ;;
        *) echo "search_four: unknown network $1" >&2; exit 2 ;;
    esac
}
search() { # NET DB JSON [args...]
    local net=$1 db=$2 json=$3
    shift 3
    "$bin" search "$here/specs/$net/$net.yaml" --data "$(data_of "$net")" --max-loss 1% \
        --jobs "$(nproc)" --no-progress --json --db "$db" "$@" >"$json"
}

# every network's exhaustive run: the leave-one-out lines need the others'
for net in $all; do
    echo "search_four: exhaustive $net (store $ref)" >&2
    search "$net" "$ref" "$out/$net-exhaustive.json" --method exhaustive --early-stop
done

failed=0
printf '%-13s %-10s %6s %9s   %-10s %6s %9s   %s\n' network exhaustive evals time fast evals time verdict
for net in $nets; do
    "$bin" search --fit-predictor "$ref" --exclude "$net" -o "$out/loo-$net.yaml" 2>/dev/null
    db=$out/$net-fast.db
    rm -f "$db" "$db-wal" "$db-shm"
    echo "search_four: fast $net" >&2
    search "$net" "$db" "$out/$net-fast.json" --method fast --predictor "$out/loo-$net.yaml"
    ex=$out/$net-exhaustive.json fa=$out/$net-fast.json
    ec=$(field "$ex" chosen) fc=$(field "$fa" chosen)
    es=$(field "$ex" speedup) fs=$(field "$fa" speedup)
    fe=$(field "$fa" full_evals)
    verdict=FAIL
    if [ "$fe" -le 3 ] && { [ "$fc" = "$ec" ] || [ "$fs" = "$es" ]; }; then
        verdict=PASS
        [ "$fc" = "$ec" ] || verdict="PASS (same cost)"
    else
        failed=1
    fi
    printf '%-13s %-10s %6s %8.0fs   %-10s %6s %8.0fs   %s\n' "$net" "$ec" "$(field "$ex" full_evals)" \
        "$(field "$ex" full_seconds)" "$fc" "$fe" "$(field "$fa" wall_seconds)" "$verdict"
done
echo "(exhaustive time: its full evaluations, summed; fast time: wall, from an empty store)"
[ "$check" -eq 0 ] || [ "$failed" -eq 0 ]
