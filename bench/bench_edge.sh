#!/bin/bash
# bench_edge.sh -- what an inference costs on a microcontroller (issue 16):
# instructions per inference and sizes of numrep's Cortex-M objects,
# measured under QEMU.
#
# For each core (Cortex-M4 with FPU on mps2-an386; Cortex-M0 code, soft
# float, on mps2-an385, a Cortex-M3 that traps unaligned accesses as an M0
# does) and each precision, `numrep build --target ... --emit obj/header`
# makes the model; templates/edge/harness.c built with -DEDGE_TIMER (and
# timer_mps2.c) reads the CMSDK APB timer around every
# numrep_model_run_arena call; QEMU runs it with `-icount shift=0`, where
# one instruction is one nanosecond of virtual time, so a 25 MHz timer tick
# is 40 instructions.  The harness first times a loop of 2,000,000 known
# instructions; instructions = ticks x 2,000,000 / (the loop's ticks),
# resolution one tick (40 instructions).  Every run's outputs are also
# compared bit for bit with `numrep emulate` (a row whose bits differ is
# FAIL: a fast wrong answer is no answer).
#
# Sizes, per object: code = the model's .text* and constant tables (.rodata*
# other than the weights) plus the libgcc routines the
# linked image pulls in for it (soft-float helpers: these are part of what
# a narrow format costs in flash; measured from the link map), weights =
# .rodata.numrep_weights, arena = NUMREP_MODEL_ARENA_SIZE.
#
# Targets (issue 16), one PASS/FAIL row each:
#   Cortex-M0: e4m3 and e6m7 LeNet-5 take fewer instructions per inference
#              than fp32 (soft-float);
#   Cortex-M4: e4m3 and e6m7 LeNet-5 take <= 1.5x the instructions of fp32
#              (hard-float);
#   both:      a narrow format's code is no larger than fp32's.
#
# usage: bench/bench_edge.sh [BUILD_DIR] [--check] [--resnet] [--images N]
#                            [--precs "fp32 e4m3 ..."] [--keep DIR]
#   BUILD_DIR  holds the numrep binary (default build/)
#   --check    exit 1 when a target row FAILs (default: report only)
#   --resnet   also ResNet-20 (one image; slow: minutes under QEMU)
#   --images N LeNet-5 sample digits per run (default 8, all of them)
#   --precs    precisions (default: fp32 e4m3 e6m7-finite-nosub-sat; the
#              first must be fp32, the baseline)
#   --keep DIR keep the objects, images and transcripts in DIR
# Exit status 77 when the tools are missing (arm-none-eabi-gcc,
# qemu-system-arm: setup.sh installs them).
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    BUILD=$1
    shift
fi
CHECK=0 RESNET=0 IMAGES=8 KEEP=
PRECS="fp32 e4m3 e6m7-finite-nosub-sat"
while [ $# -gt 0 ]; do
    case $1 in
        --check) CHECK=1 ;;
        --resnet) RESNET=1 ;;
        --images) IMAGES=${2:?--images needs a number}; shift ;;
        --precs) PRECS=${2:?--precs needs a list}; shift ;;
        --keep) KEEP=${2:?--keep needs a directory}; shift ;;
        *) echo "bench_edge: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case $IMAGES in '' | *[!0-9]* | 0) echo "bench_edge: --images wants a positive number" >&2; exit 2 ;; esac
[ "${PRECS%% *}" = fp32 ] || { echo "bench_edge: --precs must start with fp32 (the baseline)" >&2; exit 2; }
NUMREP=$BUILD/numrep
[ -x "$NUMREP" ] || { echo "bench_edge: no $NUMREP (cmake --build $BUILD)" >&2; exit 2; }
EDGE_SRC=$SRC
# shellcheck source=../tests/edge/edge.sh
. "$SRC/tests/edge/edge.sh"
edge_have arm-none-eabi-gcc arm-none-eabi-size qemu-system-arm python3 || {
    echo "bench_edge: skipped: arm-none-eabi-gcc, qemu-system-arm or python3 missing (setup.sh)"
    exit 77
}
if [ -n "$KEEP" ]; then
    T=$KEEP
    mkdir -p "$T" || exit 2
else
    T=$(mktemp -d)
    trap 'rm -rf "$T"' EXIT
fi
NPY="python3 $SRC/tests/edge/npy.py"
EDGE_CM_EXTRA="-DEDGE_TIMER $EDGE_TEMPLATES/timer_mps2.c"
EDGE_QEMU_EXTRA="-icount shift=0"
EDGE_TIMEOUT=${EDGE_TIMEOUT:-3600}
export EDGE_CM_EXTRA EDGE_QEMU_EXTRA
failed=0 broken=0

# The networks: name, spec, sample inputs, images per run.
NETS="lenet5:$SRC/specs/lenet5/lenet5.yaml:$SRC/specs/lenet5/sample.npy:$IMAGES"
[ $RESNET = 1 ] && NETS="$NETS resnet20:$SRC/specs/resnet20/resnet20.yaml:$SRC/specs/resnet20/sample.npy:1"
CORES="thumbv7em-none-eabi:cortex-m4 thumbv6m-none-eabi:cortex-m0"

# libgcc_bytes MAP: bytes of code and read-only data the link took from
# libgcc.a (input sections of the map whose file is libgcc.a(...)).
libgcc_bytes() {
    awk '
        function hex(x,   i, v) {
            v = 0
            for (i = 3; i <= length(x); i++) v = v * 16 + index("0123456789abcdef", substr(x, i, 1)) - 1
            return v
        }
        # after the discarded sections: input section lines "[name] 0xADDR
        # 0xSIZE file" (a long name stands alone on the line before); only
        # code and read-only data count
        /^Linker script and memory map/ { on = 1 }
        on && NF == 1 && $1 ~ /^\./ { name = $1; next }
        on && NF >= 3 && $1 ~ /^\./ { name = $1 }
        on && /libgcc\.a\(/ && name ~ /^\.(text|rodata)/ {
            for (i = 1; i <= NF; i++)
                if ($i ~ /^0x[0-9a-f]+$/ && $(i + 1) ~ /^0x[0-9a-f]+$/) { s += hex($(i + 1)); break }
        }
        on && !/libgcc\.a\(/ && NF >= 3 { name = "" }
        END { print s + 0 }' "$1"
}

# obj_sizes OBJ: "code weights" of a model object (code: .text* and the
# constant tables in .rodata* (emit_facc.c's decode tables), weights: the
# .rodata.numrep_weights section).
obj_sizes() {
    arm-none-eabi-size -A "$1" | awk '
        $1 ~ /^\.text/ || ($1 ~ /^\.rodata/ && $1 != ".rodata.numrep_weights") { c += $2 }
        $1 == ".rodata.numrep_weights" { w += $2 }
        END { print c + 0, w + 0 }'
}

# measure NET SPEC SAMPLE N TARGET CORE PREC: one row of $T/rows:
# "net core prec instructions code weights arena exact" (exact: 1 when the
# outputs equal the emulator's bit for bit).
measure() {
    local net=$1 spec=$2 sample=$3 n=$4 target=$5 core=$6 p=$7
    local d=$T/$net-$core-$p board abi
    mkdir -p "$d"
    board=$(edge_cm_board "$core")
    local args=(build "$spec" -p "$p" --target "$target" --cpu "$core")
    if ! "$NUMREP" "${args[@]}" --emit obj -o "$d/model.o" 2>"$d/err" ||
        ! "$NUMREP" "${args[@]}" --emit header -o "$d/model.h" 2>>"$d/err"; then
        echo "bench_edge: $net $core $p: numrep build: $(head -c 400 "$d/err")" >&2
        return 1
    fi
    $NPY c "$sample" "$d/edge_input.h" --limit "$n" || return 1
    [ -s "$T/emu-$net-$p.txt" ] || {
        "$NUMREP" emulate "$spec" -p "$p" --input "$sample" -o "$T/emu-$net-$p.npy" 2>"$d/err" &&
            $NPY hex "$T/emu-$net-$p.npy" --limit "$n" >"$T/emu-$net-$p.txt"
    } || { echo "bench_edge: numrep emulate $net -p $p: $(cat "$d/err")" >&2; return 1; }
    abi=$(edge_cm_float_abi "$d/model.o") || return 1
    if ! EDGE_CM_EXTRA="$EDGE_CM_EXTRA -Wl,-Map=$d/image.map" \
        edge_cm_image "$core" "$abi" "$d/image.elf" "$d" "$d/model.o" 2>"$d/err"; then
        echo "bench_edge: $net $core $p: link: $(head -c 600 "$d/err")" >&2
        return 1
    fi
    edge_qemu_cm "$board" "$d/image.elf" "$d/run.txt"
    local st=$?
    if [ $st -ne 0 ]; then
        echo "bench_edge: $net $core $p on $board: exit status $st: $(cat "$d/run.txt.err" "$d/run.txt" | head -c 400)" >&2
        return 1
    fi
    local exact=0
    edge_body "$d/run.txt" >"$d/body" && cmp -s "$d/body" "$T/emu-$net-$p.txt" && exact=1
    # instructions per inference: mean ticks x loop instructions / loop ticks
    local insns
    insns=$(awk '
        /^numrep-edge: calibrate / { split($3, a, "="); split($4, b, "="); loop = a[2]; cal = b[2] }
        /^numrep-edge: ticks / { split($4, t, "="); sum += t[2]; k++ }
        END { if (!k || !cal) { print "?"; exit } printf "%.0f\n", sum / k * loop / cal }' "$d/run.txt")
    local cw code weights arena
    cw=$(obj_sizes "$d/model.o")
    code=$((${cw% *} + $(libgcc_bytes "$d/image.map")))
    weights=${cw#* }
    arena=$(awk '$1 == "#define" && $2 == "NUMREP_MODEL_ARENA_SIZE" { print $3 + 0 }' "$d/model.h")
    echo "$net $core $p $insns $code $weights $arena $exact" >>"$T/rows"
}

: >"$T/rows"
echo "bench_edge: instructions per inference under qemu-system-arm -icount shift=0"
echo "  cortex-m4: thumbv7em-none-eabi on mps2-an386 (FPU: fp32 is hard-float)"
echo "  cortex-m0: thumbv6m-none-eabi on mps2-an385 (no FPU: fp32 is soft-float)"
for nt in $NETS; do
    IFS=: read -r net spec sample n <<<"$nt"
    for tc in $CORES; do
        for p in $PRECS; do
            measure "$net" "$spec" "$sample" "$n" "${tc%:*}" "${tc#*:}" "$p" || broken=$((broken + 1))
        done
    done
done

# The table, with each row's ratio to fp32 on the same net and core.
printf '\n%-9s %-10s %-22s %14s %8s %8s %9s %8s %s\n' net core precision instructions "x fp32" code weights arena bits
awk '
    { key = $1 " " $2; if ($3 == "fp32") { base[key] = $4; basec[key] = $5 } row[NR] = $0 }
    END {
        for (i = 1; i <= NR; i++) {
            split(row[i], f, " ")
            key = f[1] " " f[2]
            r = (key in base && base[key] > 0 && f[4] != "?") ? sprintf("%.2f", f[4] / base[key]) : "-"
            printf "%-9s %-10s %-22s %14s %8s %8d %9d %8d %s\n", f[1], f[2], f[3], f[4], r, f[5], f[6], f[7],
                f[8] == 1 ? "= emulator" : "DIFFER"
        }
    }' "$T/rows"

# The target rows.
echo
row() { # VERDICT TEXT
    echo "$1  $2"
    [ "$1" = PASS ] || failed=$((failed + 1))
}
while read -r net core p insns code weights arena exact; do
    [ "$p" = fp32 ] && continue
    read -r bi bc < <(awk -v n="$net" -v c="$core" '$1 == n && $2 == c && $3 == "fp32" { print $4, $5 }' "$T/rows")
    [ -n "${bi:-}" ] || { row FAIL "$net $core $p: no fp32 baseline measured"; continue; }
    [ "$exact" = 1 ] || row FAIL "$net $core $p: outputs differ from numrep emulate"
    [ "$net" = lenet5 ] || continue
    if [ "$core" = cortex-m0 ]; then
        v=$(awk -v a="$insns" -v b="$bi" 'BEGIN { print (a < b) ? "PASS" : "FAIL" }')
        row "$v" "$(printf '%s %s %s: %s instructions < fp32 soft-float %s (%.2fx)' "$net" "$core" "$p" "$insns" "$bi" "$(awk -v a="$insns" -v b="$bi" 'BEGIN { print a / b }')")"
    else
        v=$(awk -v a="$insns" -v b="$bi" 'BEGIN { print (a <= 1.5 * b) ? "PASS" : "FAIL" }')
        row "$v" "$(printf '%s %s %s: %s instructions <= 1.5x fp32 hard-float %s (%.2fx)' "$net" "$core" "$p" "$insns" "$bi" "$(awk -v a="$insns" -v b="$bi" 'BEGIN { print a / b }')")"
    fi
    v=$([ "$code" -le "$bc" ] && echo PASS || echo FAIL)
    row "$v" "$net $core $p: code $code bytes <= fp32's $bc"
done <"$T/rows"
[ $broken -eq 0 ] || row FAIL "$broken configuration(s) could not be built or run (messages above)"
[ $CHECK = 1 ] && [ $failed -gt 0 ] && exit 1
exit 0
