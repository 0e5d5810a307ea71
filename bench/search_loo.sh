#!/usr/bin/env bash
# search_loo.sh -- leave-one-network-out validation of the fast precision
# search (issue 15).  For each network: the exhaustive answer (--early-stop,
# with the R^2 sweep, whose rows later fits use) at each budget, then for
# each predictor mode a line fitted on the OTHER networks' rows of the same
# store (--fit-predictor --exclude NET) and a fast search with it.  One row
# per network, budget and mode: chosen format, speedup, full evaluations,
# evaluation seconds, and PASS when the fast method chose a configuration of
# the exhaustive answer's cost in at most 3 full evaluations (the issue's
# target), else FAIL.
#
# Modes: clip    margin-linear, ranked by R^2 without the clamp's part (the
#                default, docs/search.md "Clipped logits")
#        margin  margin-linear on the raw R^2 (--raw-r2; the session 6 default)
#        r2      r2-linear, the paper's line
#        noise   the noise model alone (margin-linear with c0 0, c1 1, fitted on
#                nothing): pass predicted when x >= 1 - budget
#
# Everything goes to ONE results store (RUNS/loo.db; a fit needs the other
# networks' rows): full evaluations are cached there, so a second run of this
# script computes only what is new.  Times are the summed stored seconds of
# the evaluations each method needed (its cost from an empty store, summed
# over --jobs), not this run's wall clock: with a warm store the fast runs
# answer from it.
#
# usage: bench/search_loo.sh [BUILD_DIR] [--check] [--truth-only]
#   env NETS="lenet5 resnet20 ..."  (default: all six)
#   env BUDGETS="0.5% 1% 2%"   MODES="clip margin r2"
#   env RUNS=DIR               the store and logs (default BUILD_DIR/search-loo)
#   env GRID="--grid scaled"   extra grid options for every network that uses
#                              the default grid
#   env JOBS=N                 (default 2)
#   env TRUTH_ENGINE=E         the exhaustive runs' engine (default jit; jit-O0
#                              compiles faster and gives the same bits, which
#                              pays when most configurations stop early)
# Needs ../shared/data: skipped without it.  Hours from an empty store.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    build=$1
    shift
fi
check=0 truth_only=0
for a in "$@"; do
    case $a in
        --check) check=1 ;;
        --truth-only) truth_only=1 ;;
        *) echo "search_loo: unknown option $a" >&2; exit 2 ;;
    esac
done
name=search_loo
# shellcheck source=bench/search_common.sh
. "$here/bench/search_common.sh"
runs=${RUNS:-$build/search-loo}
mkdir -p "$runs"
db=$runs/loo.db
all="lenet5 resnet20 resnet56 mobilenet_v1 googlenet squeezenet"
nets=${NETS:-$all}
budgets=${BUDGETS:-0.5% 1% 2%}
modes=${MODES:-clip margin r2 noise}
jobs=${JOBS:-2}
grid_extra=${GRID:-}

# NET -> data slice and R^2 inputs; the ImageNet networks on small slices
args_of() {
    case $1 in
        lenet5) echo "--data $shared/mnist --limit 2000" ;;
        resnet20) # calibrated (+cal) scaled configurations calibrate on
            # samples outside the slice: not the whole 1000
            case $grid_extra in
                *scaled*|*all*) echo "--data $here/specs/resnet20/cifar10-1000 --limit 500" ;;
                *) echo "--data $here/specs/resnet20/cifar10-1000" ;;
            esac ;;
        resnet56) echo "--data $here/specs/resnet20/cifar10-1000 --limit 500" ;;
        mobilenet_v1) echo "--data $shared/imagenet_samples --limit 100" ;;
        googlenet) echo "--data $shared/imagenet_samples --limit 100 --samples 4" ;;
        squeezenet) echo "--data $shared/imagenet_samples --limit 50 --samples 4" ;;
        *) echo "search_loo: unknown network $1" >&2; exit 2 ;;
    esac
}
# NET -> its grids, separated by '|': the default grid where the time allows
# (LeNet-5; FULL_GRID=1 for all); the others on grids around their answers:
# GoogLeNet and SqueezeNet (about 1 s of CPU per image in a narrow format) on
# those of specs/googlenet/README.md, ResNet-20, ResNet-56 and MobileNet v1
# on the fixed-point formats around their 1000-image answers (q7.9, q6.9,
# q8.11)
grids_of() {
    case $1${FULL_GRID:-} in
        googlenet|squeezenet)
            echo "--grid float --exp 5:6 --man 7:11|--grid fixed --int 11:12 --frac 6:8" ;;
        mobilenet_v1) echo "--grid fixed --int 6:9 --frac 8:13" ;;
        resnet20|resnet56) echo "--grid fixed --int 5:8 --frac 6:11" ;;
        *) echo "${grid_extra:- }" ;;
    esac
}
search() { # NET JSON [args...]
    local net=$1 json=$2
    shift 2
    # shellcheck disable=SC2046
    nice "$bin" search "$here/specs/$net/$net.yaml" $(args_of "$net") --jobs "$jobs" \
        --no-progress --json --db "$db" "$@" >"$json" 2>>"$runs/log.txt"
}
secs() { "$py" -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.0f" % ((j["sample_seconds"] or 0) * (sys.argv[2] == "1") + (j["full_seconds"] or 0)))' "$1" "$2"; }
tag_of() { echo "$1" | tr -c 'a-z0-9.\n' '_' | sed 's/_*$//'; }

# the ground truth: exhaustive, loosest budget first (its scan is the
# shortest; the tighter ones reuse its rows)
for net in $nets; do
    IFS='|' read -r -a grids <<<"$(grids_of "$net")"
    for g in "${grids[@]}"; do
        gt=$(tag_of "$g")
        for b in $(echo "$budgets" | tr ' ' '\n' | sort -t% -k1 -gr); do
            ex=$runs/$net-$gt-$b-exhaustive.json
            # an answer already there is kept (REDO=1 asks the store again)
            [ -s "$ex" ] && [ -z "${REDO:-}" ] && continue
            echo "search_loo: exhaustive $net $b $g ($(date -u +%T))" >&2
            # shellcheck disable=SC2086
            search "$net" "$ex" --max-loss "$b" \
                --method exhaustive --early-stop --engine "${TRUTH_ENGINE:-jit}" $g || true
        done
    done
done
[ "$truth_only" -eq 0 ] || exit 0

failed=0
printf '%-12s %-22s %5s  %-26s %6s %3s %7s  %-6s %-26s %6s %3s %7s  %s\n' network grid budget \
    exhaustive speedup ev "eval s" mode fast speedup ev "eval s" verdict
for net in $nets; do
    IFS='|' read -r -a grids <<<"$(grids_of "$net")"
    for mode in $modes; do
        model=margin-linear
        [ "$mode" = r2 ] && model=r2-linear
        fit=$runs/loo-$net-$model.yaml
        if [ "$mode" = noise ]; then
            fit=$runs/noise-model.yaml
            printf 'model: margin-linear\nc0: 0\nc1: 1\nfit_min: 0.9\npoints: 0\nrmse: 0\nnetworks: ""\n' >"$fit"
        elif ! "$bin" search --fit-predictor "$db" --exclude "$net" --model "$model" -o "$fit" \
            >>"$runs/log.txt" 2>&1; then
            echo "search_loo: no leave-one-out fit without $net ($model); see $runs/log.txt" >&2
            failed=1
            continue
        fi
        extra=()
        [ "$mode" = margin ] && extra=(--raw-r2)
        for g in "${grids[@]}"; do
            gt=$(tag_of "$g")
            for b in $budgets; do
                ex=$runs/$net-$gt-$b-exhaustive.json fa=$runs/$net-$gt-$b-$mode.json
                if [ ! -s "$ex" ]; then
                    echo "search_loo: no exhaustive answer for $net $b $g" >&2
                    failed=1
                    continue
                fi
                # shellcheck disable=SC2086
                search "$net" "$fa" --max-loss "$b" --predictor "$fit" $g "${extra[@]}" || true
                ec=$(field "$ex" chosen) fc=$(field "$fa" chosen 2>/dev/null || echo error)
                es=$(field "$ex" speedup) fs=$(field "$fa" speedup 2>/dev/null || echo 0)
                fe=$(field "$fa" full_evals 2>/dev/null || echo 99)
                verdict=FAIL
                if [ "$fe" -le 3 ] && [ "$fs" = "$es" ]; then
                    verdict=PASS
                else
                    failed=1
                fi
                printf '%-12s %-22s %5s  %-26s %6s %3s %7s  %-6s %-26s %6s %3s %7s  %s\n' \
                    "$net" "$(echo "${g:-default} " | sed 's/--grid //; s/ --/ /g' | cut -c1-22)" "$b" \
                    "$ec" "$es" "$(field "$ex" full_evals)" "$(secs "$ex" 0)" "$mode" "$fc" "$fs" \
                    "$fe" "$(secs "$fa" 1)" "$verdict"
            done
        done
    done
done
echo "(eval s: summed stored seconds of the evaluations the method needed -- exhaustive:"
echo " its full evaluations; fast: its R^2 runs and full evaluations -- over $jobs jobs)"
[ "$check" -eq 0 ] || [ "$failed" -eq 0 ]
