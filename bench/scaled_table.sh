#!/usr/bin/env bash
# scaled_table.sh -- the README's "Scaled formats: results" table (issue #13):
# six networks x {fp32, e6m7 (the paper's: e6m7-finite-nosub-sat, rz, unfused),
# MXFP8, MXFP6 E2M3, MXFP4, NVFP4, NVFP4 with static (calibrated) tensor
# scales, int8 per-channel weights + calibrated per-tensor activations, int4
# per block of 32 (fp32 scales)}: normalized
# top-1 (top-1 / fp32 top-1 on the same samples), every scaled column with
# `--mac block-fp32`, and the cost model's speedup at equal area.
#
# usage: bench/scaled_table.sh [BUILD_DIR]     (default: build)
#   env: SHARED (default ../shared/data), OUT (default BUILD_DIR/scaled_table),
#        JOBS (2), ENGINE (jit; `--engine` of every eval: jit fails a cell
#        the generator refuses rather than falling back), N_LENET N_RESNET20
#        N_RESNET56 N_MOBILENET N_SQUEEZENET N_GOOGLENET (samples evaluated
#        per network), NETS (which, in order), COLS (which columns),
#        TABLE_ONLY=1 (print the table of the cells measured, run nothing)
# Each cell is one `numrep eval --engine ENGINE --json`; cells are appended
# to OUT/results.tsv (with the engine) as they finish and a rerun skips the
# cells already there, so the script can be stopped and resumed.  Data:
# MNIST test (official order) from SHARED; CIFAR-10: the shipped
# specs/resnet20/cifar10-1000 (the first 100 of each class of SHARED's
# cifar10, interleaved); ImageNet: SHARED's 1000 samples (one per class).
# The calibrated columns (int8cal, nvfp4cal) first run `numrep calibrate`
# (amax) on samples disjoint from the evaluated ones: MNIST 5000..5999;
# CIFAR-10 the next 50 of each class of SHARED's cifar10 (made into
# OUT/cifar10-cal by specs/tools/make_cifar_subset.py, 500 images);
# ImageNet samples 900..999 (so up to 900 evaluated ones stay disjoint).
# Networks whose spec, weights or data are missing are skipped (said so).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
BIN=$BUILD/numrep
SHARED=${SHARED:-$ROOT/../shared/data}
OUT=${OUT:-$BUILD/scaled_table}
JOBS=${JOBS:-2}
NETS=${NETS:-"lenet5 resnet20 mobilenet_v1 resnet56 squeezenet googlenet"}
mkdir -p "$OUT"
TSV=$OUT/results.tsv
[ -f "$TSV" ] || printf 'net\tcolumn\tsamples\ttop1\tfp32_top1\tnormalized\tseconds\tengine\n' >"$TSV"
[ -x "$BIN" ] || { echo "no $BIN: build first" >&2; exit 1; }

ENGINE=${ENGINE:-jit}
COLS=${COLS:-"fp32 e6m7 mxfp8 mxfp6e2m3 mxfp4 nvfp4 nvfp4cal int8cal int4b32"}
ALLCOLS="fp32 e6m7 mxfp8 mxfp6e2m3 mxfp4 nvfp4 nvfp4cal int8cal int4b32"
# column -> numrep arguments (the int8 column's file is made below)
col_args() {
    case $1 in
    fp32) echo "-p fp32" ;;
    e6m7) echo "-p e6m7-finite-nosub-sat --rounding rz --mac unfused" ;;
    mxfp8 | mxfp6e2m3 | mxfp4 | nvfp4) echo "-p $1 --mac block-fp32" ;;
    int8cal | nvfp4cal) echo "-p $OUT/$2.$1.yaml --mac block-fp32" ;;
    int4b32) echo "-p int4@b32:fp32 --mac block-fp32" ;;
    esac
}
col_cost() { # the name numrep cost prices
    case $1 in
    e6m7) echo e6m7-finite-nosub-sat ;; int8cal) echo int8@channel ;; int4b32) echo int4@b32:fp32 ;;
    nvfp4cal) echo nvfp4 ;;
    *) echo "$1" ;;
    esac
}
net_info() { # net -> spec data samples calib_first title
    case $1 in
    lenet5) echo "specs/lenet5/lenet5.yaml mnist ${N_LENET:-1000} 5000 LeNet-5" ;;
    resnet20) echo "specs/resnet20/resnet20.yaml @cifar10-1000 ${N_RESNET20:-1000} 0 ResNet-20" ;;
    resnet56) echo "specs/resnet56/resnet56.yaml @cifar10-1000 ${N_RESNET56:-1000} 0 ResNet-56" ;;
    mobilenet_v1) echo "specs/mobilenet_v1/mobilenet_v1.yaml imagenet_samples ${N_MOBILENET:-100} 900 MobileNet-v1-0.25" ;;
    squeezenet) echo "specs/squeezenet/squeezenet.yaml imagenet_samples ${N_SQUEEZENET:-100} 900 SqueezeNet-v1.0" ;;
    googlenet) echo "specs/googlenet/googlenet.yaml imagenet_samples ${N_GOOGLENET:-100} 900 GoogLeNet" ;;
    esac
}

have_cell() { awk -F'\t' -v n="$1" -v c="$2" -v s="$3" '$1==n && $2==c && $3==s {f=1} END {exit !f}' "$TSV"; }

for net in $( [ -n "${TABLE_ONLY:-}" ] || echo $NETS ); do
    read -r spec data n cfirst title <<<"$(net_info "$net")"
    spec=$ROOT/$spec
    csamples=1000
    [ "$data" = imagenet_samples ] && csamples=100
    if [ "$data" = @cifar10-1000 ]; then # shipped: the first 100 of each class
        data=$ROOT/specs/resnet20/cifar10-1000
        cdata=$OUT/cifar10-cal # the next 50 of each class: disjoint
        csamples=500
        [ -f "$cdata/test_batch.bin" ] || [ ! -d "$SHARED/cifar10" ] ||
            python3 "$ROOT/specs/tools/make_cifar_subset.py" "$SHARED/cifar10" 50 "$cdata" 100
    else
        data=$SHARED/$data
        cdata=$data
    fi
    if [ ! -f "$spec" ] || [ ! -e "$data" ]; then
        echo "skipped $net: no $spec or $data"
        continue
    fi
    for col in $COLS; do
        have_cell "$net" "$col" "$n" && continue
        if [ "$col" = int8cal ] || [ "$col" = nvfp4cal ]; then
            [ -f "$OUT/$net.$col.yaml" ] ||
                nice "$BIN" calibrate "$spec" -p "$(col_cost "$col")" --mac block-fp32 --data "$cdata" \
                    --first "$cfirst" --samples "$csamples" --jobs "$JOBS" --no-progress \
                    -o "$OUT/$net.$col.yaml" || { echo "calibrate $net $col failed" >&2; continue; }
        fi
        # shellcheck disable=SC2046
        json=$(nice "$BIN" eval "$spec" $(col_args "$col" "$net") --data "$data" --engine "$ENGINE" \
            --limit "$n" --jobs "$JOBS" --json --no-progress 2>"$OUT/last.err") ||
            { echo "eval $net $col failed: $(cat "$OUT/last.err")" >&2; continue; }
        get() { printf '%s' "$json" | tr ',' '\n' | sed -n "s/.*\"$1\": *\([-0-9.e]*\).*/\1/p" | head -1; }
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$net" "$col" "$(get samples)" "$(get top1)" \
            "$(get fp32_top1)" "$(get normalized_top1)" "$(get seconds)" "$ENGINE" >>"$TSV"
        echo "$net $col: normalized $(get normalized_top1) on $(get samples) samples ($(get seconds) s)"
    done
done

# ---- the table (markdown), from every cell measured
{
    echo "| network (samples) | fp32 top-1 | fp32 | e6m7 | MXFP8 | MXFP6 E2M3 | MXFP4 | NVFP4 | NVFP4 + cal | int8 ch + cal | int4 b32 |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for net in $NETS; do
        read -r spec data n cfirst title <<<"$(net_info "$net")"
        have_cell "$net" fp32 "$n" || continue
        row="| $title ($n) | $(awk -F'\t' -v n="$net" -v s="$n" '$1==n && $2=="fp32" && $3==s {printf "%.1f %%", 100*$5}' "$TSV")"
        for col in $ALLCOLS; do
            v=$(awk -F'\t' -v n="$net" -v c="$col" -v s="$n" '$1==n && $2==c && $3==s {printf "%.1f %%", 100*$6}' "$TSV")
            row="$row | ${v:-not run}"
        done
        echo "$row |"
    done
    row="| speedup at equal area (numrep cost) | |"
    for col in $ALLCOLS; do
        s=$("$BIN" cost "$(col_cost "$col")" 2>/dev/null | awk '/^speedup at equal area  / {printf "%.1fx", $5}')
        row="$row ${s:-?} |"
    done
    echo "$row"
} | tee "$OUT/table.md"
