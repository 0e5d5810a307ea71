#!/usr/bin/env bash
# reproduce_fp32.sh -- the fp32 accuracies of the shipped networks on the
# full data sets of ../shared/data, against the numbers in its README:
#   LeNet-5 98.90 %, ResNet-20 91.73 %, ResNet-56 93.39 % (10000 images each),
#   MobileNet v1 0.25/224 59.2 % top-1 / 81.7 % top-5, GoogLeNet (BVLC) 78.8 % /
#   93.8 %, SqueezeNet v1.0 63.7 % / 86.5 % (1000 ImageNet samples).
# With the emulator this takes a while (ResNet-56: ~3 x ResNet-20, which is
# ~0.08 s/image/core), so it is a script, not a test.
#
# usage: bench/reproduce_fp32.sh [path/to/numrep] [JOBS] [NETS...]
#   NETS from: lenet5 resnet20 resnet56 mobilenet_v1 googlenet squeezenet
#   (default all; GoogLeNet is ~1.6 G MACs per image: use the JIT)
#   NUMREP_ENGINE=jit for the JIT (minutes instead of hours; default emulator)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/numrep}
jobs=${2:-2}
shift $(( $# < 2 ? $# : 2 ))
data=${NUMREP_SHARED_DATA:-$here/../shared/data}
[ -d "$data" ] || { echo "reproduce_fp32: no $data (set NUMREP_SHARED_DATA)" >&2; exit 1; }
nets=("$@")
[ ${#nets[@]} -gt 0 ] || nets=(lenet5 resnet20 resnet56 mobilenet_v1 googlenet squeezenet)
status=0
for net in "${nets[@]}"; do
    case $net in
        lenet5)       d=$data/mnist;            want="98.90" ; want5="" ;;
        resnet20)     d=$data/cifar10;          want="91.73" ; want5="" ;;
        resnet56)     d=$data/cifar10;          want="93.39" ; want5="" ;;
        mobilenet_v1) d=$data/imagenet_samples; want="59.20" ; want5="81.70" ;;
        googlenet)    d=$data/imagenet_samples; want="78.80" ; want5="93.80" ;;
        squeezenet)   d=$data/imagenet_samples; want="63.70" ; want5="86.50" ;;
        *) echo "reproduce_fp32: unknown net $net" >&2; exit 2 ;;
    esac
    out=$("$bin" eval "$here/specs/$net/$net.yaml" -p fp32 --data "$d" --jobs "$jobs" --engine "${NUMREP_ENGINE:-emulator}" --json --no-progress)
    top1=$(printf '%s\n' "$out" | sed -n 's/.*"top1": \([0-9.]*\),.*/\1/p')
    top5=$(printf '%s\n' "$out" | sed -n 's/.*"top5": \([0-9.]*\),.*/\1/p')
    secs=$(printf '%s\n' "$out" | sed -n 's/.*"seconds": \([0-9.]*\),.*/\1/p')
    # the JSON has fractions
    top1=$(awk -v v="$top1" 'BEGIN { printf "%.2f", 100 * v }')
    top5=$(awk -v v="$top5" 'BEGIN { printf "%.2f", 100 * v }')
    verdict=ok
    [ "$top1" = "$want" ] || verdict="MISMATCH (want $want)"
    [ -z "$want5" ] || [ "$top5" = "$want5" ] || verdict="MISMATCH (want top-5 $want5)"
    [ "$verdict" = ok ] || status=1
    printf '%-13s top-1 %s %%  top-5 %s %%  %8.1f s  %s\n' "$net" "$top1" "$top5" "$secs" "$verdict"
done
exit $status
