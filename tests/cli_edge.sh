#!/bin/bash
# cli_edge.sh -- numrep models on edge targets, proven under emulation:
#
#  1. the edge chain itself, with a hand-written stand-in model
#     (tests/edge/fake_model.c): templates/edge (startup, linker script,
#     semihosting, harness) on QEMU's Cortex-M4 and Cortex-M3 boards, and a
#     static aarch64 executable under qemu-aarch64, must print exactly the
#     bits the same source prints on the build machine; a size mismatch
#     between header and object must exit 3, a fault must exit 70;
#  2. LeNet-5 from `numrep build --target thumbv7em-none-eabi --cpu cortex-m4`
#     and `--target thumbv6m-none-eabi --cpu cortex-m0` (--emit obj and
#     --emit header) at fp32, e4m3, e6m7-finite-nosub-sat and the scaled mxfp4
#     (nvfp4, int8@channel with NUMREP_EXHAUSTIVE=1), linked with
#     templates/edge into an image, run on the sample MNIST digits: every
#     output's bits equal `numrep emulate`'s;
#  3. LeNet-5 `numrep build --target aarch64-linux-gnu` executables under
#     qemu-aarch64 equal `numrep emulate` and `numrep run` (JIT) bit for bit,
#     and the aarch64 object linked with the harness does too.
#  4. narrow formats on Cortex-M compute in integer instructions only: the
#     objects of LeNet-5 at e4m3, e5m2, e6m7-finite-nosub-sat and bf16 (M4
#     and M0) and at fixed point q3.4 call no soft-float routine (no
#     __aeabi_d* / __aeabi_f* symbol, arm-none-eabi-nm), and equal
#     `numrep emulate` bit for bit on QEMU (2 digits each); with
#     NUMREP_EXHAUSTIVE=1 also ResNet-20 at e4m3 on the M4 (integer
#     residual adds; one image, about 5.5e9 instructions under QEMU).
# 2 and 3 also run with `--pack dense` (odd widths bit-packed, read by bit
# extraction: e6m7-finite-nosub-sat, 14 bits, always; e3m2, 6 bits, with
# NUMREP_EXHAUSTIVE=1).  Cortex-M0 images trap unaligned accesses
# (startup_cm.c), as an M0 does, though QEMU runs them on a Cortex-M3.
#
# Parts whose tools are missing (arm-none-eabi-gcc, qemu-system-arm,
# aarch64-linux-gnu-gcc, qemu-aarch64: see setup.sh) are skipped with a
# "skipped:" line, as are cross targets `numrep build` does not offer yet
# ("waiting for numrep build --target ...").  The last line is the count.
# usage: bash tests/cli_edge.sh path/to/numrep
NUMREP=${1:?usage: cli_edge.sh path/to/numrep}
BIN=$NUMREP
. "$(dirname "$0")/lib/cli.sh" # SRC, tmp; its own ok/fail/skip/finish below
EDGE_SRC=$SRC
# shellcheck source=edge/edge.sh
. "$SRC/tests/edge/edge.sh"
NPY="python3 $SRC/tests/edge/npy.py"
FAKE=$SRC/tests/edge/fake_model.c
LENET=$SRC/specs/lenet5/lenet5.yaml
SAMPLE=$SRC/specs/lenet5/sample.npy
T=$tmp
passed=0 failed=0 skipped=0

ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip() { echo "skipped: $*"; skipped=$((skipped + 1)); }

finish() { # exit 77 (ctest: Skipped) when nothing could run, 1 on a failure
    echo "edge: $passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ] || exit 1
    [ "$passed" -eq 0 ] && [ "$skipped" -gt 0 ] && exit 77
    exit 0
}

if ! edge_have python3; then
    skip "python3 not installed (tests/edge/npy.py needs it)"
    finish
fi
have_cm=1 have_a64=1
edge_have arm-none-eabi-gcc arm-none-eabi-readelf qemu-system-arm ||
    { have_cm=0; skip "Cortex-M: arm-none-eabi-gcc or qemu-system-arm not installed (setup.sh installs gcc-arm-none-eabi qemu-system-arm)"; }
edge_have aarch64-linux-gnu-gcc qemu-aarch64 ||
    { have_a64=0; skip "aarch64: aarch64-linux-gnu-gcc or qemu-aarch64 not installed (setup.sh installs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)"; }

# same_body NAME TRANSCRIPT EXPECTED: the sample lines of a harness
# transcript equal EXPECTED (lines "i: xxxxxxxx ..."), and there are some.
same_body() {
    if ! edge_body "$2" >"$2.body"; then
        fail "$1: no complete transcript: $(head -c 400 "$2")"
    elif [ ! -s "$3" ]; then
        fail "$1: the expected output is empty"
    elif cmp -s "$2.body" "$3"; then
        ok "$1: $(wc -l <"$3") sample(s), every output bit equal"
    else
        fail "$1: outputs differ; first difference: $(diff "$2.body" "$3" | head -3 | tr '\n' ' ')"
    fi
}

# ------------------------------------------------ 1. the chain, fake model
F=$T/fake
mkdir -p "$F/bad"
if ! edge_fake_header "$F/model.h" || ! $NPY c "$SAMPLE" "$F/edge_input.h" --limit 4; then
    fail "fake model: cannot make model.h / edge_input.h"
    finish
fi
if edge_hosted_exe cc "$F/host" "$F" "$FAKE" 2>"$F/err" && "$F/host" >"$F/host.txt"; then
    edge_body "$F/host.txt" >"$F/ref" || true
    [ "$(wc -l <"$F/ref")" -eq 4 ] && ! grep -qv '^[0-9]*:\( [0-9a-f]\{8\}\)\{10\}$' "$F/ref" &&
        ok "fake model on the build machine: 4 samples x 10 outputs" ||
        fail "fake model on the build machine: unexpected transcript: $(head -c 300 "$F/host.txt")"
else
    fail "fake model on the build machine: $(cat "$F/err")"
fi
# A header whose arena size disagrees with the object: exit status 3.
sed 's/NUMREP_MODEL_ARENA_SIZE 3136/NUMREP_MODEL_ARENA_SIZE 3200/' "$F/model.h" >"$F/bad/model.h"
cp "$F/edge_input.h" "$F/bad/"

if [ $have_cm = 1 ]; then
    for cpu in cortex-m4:hard cortex-m0:soft; do
        core=${cpu%:*} abi=${cpu#*:} board=$(edge_cm_board "${cpu%:*}")
        img=$F/$core.elf
        if ! edge_cm_image "$core" "$abi" "$img" "$F" "$FAKE" 2>"$F/err"; then
            fail "fake model, $core: link failed: $(cat "$F/err")"
            continue
        fi
        edge_qemu_cm "$board" "$img" "$F/$core.txt"
        st=$?
        [ $st -eq 0 ] && same_body "fake model, $core on $board" "$F/$core.txt" "$F/ref" ||
            fail "fake model, $core on $board: exit status $st: $(cat "$F/$core.txt.err" "$F/$core.txt" | head -c 400)"
    done
    if edge_cm_image cortex-m0 soft "$F/bad.elf" "$F/bad" "$FAKE" 2>"$F/err"; then
        edge_qemu_cm mps2-an385 "$F/bad.elf" "$F/bad.txt"
        st=$?
        [ $st -eq 3 ] && grep -q "does not match the object" "$F/bad.txt" &&
            ok "header/object size mismatch: exit status 3 through semihosting" ||
            fail "header/object size mismatch: exit status $st (expected 3): $(head -c 300 "$F/bad.txt")"
    else
        fail "fake model, bad header: link failed: $(cat "$F/err")"
    fi
    # FPU code on the FPU-less Cortex-M3 board: NOCP UsageFault, escalated
    # to HardFault (exception 3); the fault handler reports it, status 70.
    if [ -s "$F/cortex-m4.elf" ]; then
        edge_qemu_cm mps2-an385 "$F/cortex-m4.elf" "$F/fault.txt"
        st=$?
        [ $st -eq 70 ] && grep -q "^numrep-edge: fault: exception 00000003 pc " "$F/fault.txt" &&
            ok "fault on the board: reported, exit status 70" ||
            fail "fault on the board: exit status $st (expected 70): $(head -c 300 "$F/fault.txt")"
    fi
fi

if [ $have_a64 = 1 ]; then
    if edge_hosted_exe aarch64-linux-gnu-gcc "$F/a64" "$F" "$FAKE" 2>"$F/err"; then
        timeout -k 5 "$EDGE_TIMEOUT" qemu-aarch64 "$F/a64" >"$F/a64.txt" 2>"$F/err"
        st=$?
        [ $st -eq 0 ] && same_body "fake model, static aarch64 under qemu-aarch64" "$F/a64.txt" "$F/ref" ||
            fail "fake model, aarch64: exit status $st: $(cat "$F/err")"
    else
        fail "fake model, aarch64: link failed: $(cat "$F/err")"
    fi
fi

# ------------------------------------------------ 2, 3. LeNet-5
# Cross-compiling narrow formats is slow (LeNet-5 e4m3 for Cortex-M: minutes
# of LLVM time and a 2.7 MB object), so the default run proves fp32 on
# every target and the full matrix waits for NUMREP_EXHAUSTIVE=1;
# NUMREP_EDGE_PRECS="p1 p2" picks precisions by hand.
# CASES: PREC:PACK pairs; NUMREP_EDGE_PRECS="p1 p2" (container packing)
# and NUMREP_EDGE_DENSE="p3" (dense) pick them by hand.
if [ -n "${NUMREP_EDGE_PRECS:-}${NUMREP_EDGE_DENSE:-}" ]; then
    PRECS=${NUMREP_EDGE_PRECS:-}
    DENSE=${NUMREP_EDGE_DENSE:-}
elif [ "${NUMREP_EXHAUSTIVE:-0}" = 1 ]; then
    PRECS="fp32 e4m3 e6m7-finite-nosub-sat mxfp4 nvfp4 int8@channel"
    DENSE="e6m7-finite-nosub-sat e3m2"
else
    PRECS="fp32 mxfp4" # mxfp4: scaled weights and activations ([scl-dot-engines])
    DENSE="e6m7-finite-nosub-sat"
    skip "LeNet-5 at e4m3 and e6m7-finite-nosub-sat (container) and e3m2 (dense) on the edge targets: set NUMREP_EXHAUSTIVE=1 (slow cross builds)"
fi
CASES=
for p in $PRECS; do CASES="$CASES $p:container"; done
for p in $DENSE; do CASES="$CASES $p:dense"; done

# The emulator's outputs, the reference for every target.
for p in $(printf '%s\n' $PRECS $DENSE | sort -u); do
    if "$NUMREP" emulate "$LENET" -p "$p" --input "$SAMPLE" -o "$T/emu-$p.npy" 2>"$T/err" &&
        $NPY hex "$T/emu-$p.npy" >"$T/emu-$p.txt"; then
        :
    else
        fail "numrep emulate lenet5 -p $p: $(cat "$T/err")"
    fi
done

# cross_build TARGET CPU PREC KIND OUT [PACK]: `numrep build` for a cross
# target (--pack PACK, default container); status 0 built, 1 failed
# (reported), 2 the target or kind is not offered yet (reported as skipped).
cross_build() {
    local target=$1 cpu=$2 p=$3 kind=$4 out=$5 pack=${6:-container}
    local args=(build "$LENET" -p "$p" --target "$target" --emit "$kind" -o "$out" --pack "$pack")
    [ -n "$cpu" ] && args+=(--cpu "$cpu")
    "$NUMREP" "${args[@]}" >"$T/out" 2>"$T/err" && return 0
    if grep -qi -e "unknown target" -e "unknown option" -e "unknown kind" -e "not supported" -e "not yet" "$T/err"; then
        skip "waiting for numrep build --target $target${cpu:+ --cpu $cpu} --emit $kind: $(head -c 200 "$T/err")"
        return 2
    fi
    # A cross executable linked against the build machine's libnumrep.a.
    if grep -q -e "file in wrong format" -e "Relocations in generic ELF" "$T/err"; then
        skip "waiting for numrep build --target $target --emit $kind: it links the build machine's libnumrep.a; a cross executable needs the runtime built for $target"
        return 2
    fi
    fail "numrep ${args[*]}: $(cat "$T/err")"
    return 1
}

# cm_run NAME DIR CORE BOARD OBJ PREC: link OBJ (+ DIR/model.h,
# DIR/edge_input.h) into an image, run it, compare with the emulator.
# Status 3: the link failed only because the object calls the GNU names of
# the soft-float helpers (__muldf3, ...), which the ARMv6-M libgcc does not
# have (it has only the __aeabi_ ones): reported by the caller.
cm_run() {
    local name=$1 d=$2 core=$3 board=$4 obj=$5 p=$6 abi st
    abi=$(edge_cm_float_abi "$obj") || { fail "$name: readelf -A $obj"; return 1; }
    if [ "$core" = cortex-m0 ] && [ "$abi" != soft ]; then
        fail "$name: the object uses an FPU ($abi)"
        return 1
    fi
    if ! edge_cm_image "$core" "$abi" "$d/image.elf" "$d" "$obj" 2>"$d/err"; then
        grep -q "undefined reference to \`__\(mul\|add\|sub\|div\)[sd]f3'" "$d/err" && return 3
        fail "$name: link failed: $(head -c 600 "$d/err")"
        return 1
    fi
    edge_qemu_cm "$board" "$d/image.elf" "$d/run.txt"
    st=$?
    [ $st -eq 0 ] && same_body "$name on $board == emulator" "$d/run.txt" "$T/emu-$p.txt" ||
        fail "$name on $board: exit status $st: $(cat "$d/run.txt.err" "$d/run.txt" | head -c 400)"
}

if [ $have_cm = 1 ]; then
    for tc in thumbv7em-none-eabi:cortex-m4 thumbv6m-none-eabi:cortex-m0; do
        target=${tc%:*} core=${tc#*:} board=$(edge_cm_board "${tc#*:}")
        for c in $CASES; do
            p=${c%:*} pack=${c#*:}
            [ -s "$T/emu-$p.txt" ] || continue
            d=$T/$core-$p-$pack
            mkdir -p "$d"
            cross_build "$target" "$core" "$p" obj "$d/model.o" "$pack" || continue
            cross_build "$target" "$core" "$p" header "$d/model.h" "$pack" || continue
            $NPY c "$SAMPLE" "$d/edge_input.h" || { fail "npy.py c $SAMPLE"; continue; }
            # Linked with the float ABI the object was built for (LLVM's
            # *-none-eabi triples pass floats in core registers).
            cm_run "lenet5 -p $p --pack $pack, $target $core" "$d" "$core" "$board" "$d/model.o" "$p"
            [ $? -eq 3 ] || continue
            skip "waiting for numrep build --target $target: the object calls __muldf3-style soft-float helpers, which the ARMv6-M libgcc lacks (it has the __aeabi_ names); LLVM picks the AEABI names only for a normalized triple ($target -> ${target%-eabi}-unknown-eabi)"
            # Meanwhile the same module through llc with the normalized
            # triple: proves the numerics on the core.
            edge_have llc-16 || { skip "llc-16 not installed: no fallback for $target"; continue; }
            cross_build "$target" "$core" "$p" llvm "$d/model.ll" "$pack" || continue
            sed -i 's/^target triple = "\(thumbv[0-9a-z]*\)-none-eabi"$/target triple = "\1-none-unknown-eabi"/' "$d/model.ll"
            if llc-16 -O2 -mcpu="$core" -filetype=obj "$d/model.ll" -o "$d/model-llc.o" 2>"$d/err"; then
                cm_run "lenet5 -p $p --pack $pack, $target $core (llc-16 fallback)" "$d" "$core" "$board" "$d/model-llc.o" "$p"
                [ $? -ne 3 ] || fail "lenet5 -p $p, $core (llc-16 fallback): still GNU soft-float names: $(head -c 300 "$d/err")"
            else
                fail "llc-16 on numrep build --emit llvm for $target: $(head -c 400 "$d/err")"
            fi
        done
    done
fi

# ------------------------------------------------ 4. integer-only narrow MACs
INT_PRECS="e4m3 e5m2 e6m7-finite-nosub-sat bf16 q3.4"
if [ $have_cm = 1 ] && edge_have arm-none-eabi-nm; then
    for p in $INT_PRECS; do
        "$NUMREP" emulate "$LENET" -p "$p" --input "$SAMPLE" -o "$T/iemu-$p.npy" 2>"$T/err" &&
            $NPY hex "$T/iemu-$p.npy" --limit 2 >"$T/iemu-$p.txt" ||
            { fail "numrep emulate lenet5 -p $p: $(cat "$T/err")"; continue; }
        for tc in thumbv7em-none-eabi:cortex-m4 thumbv6m-none-eabi:cortex-m0; do
            target=${tc%:*} core=${tc#*:} board=$(edge_cm_board "${tc#*:}") d=$T/int-$core-$p
            mkdir -p "$d"
            cross_build "$target" "$core" "$p" obj "$d/model.o" || continue
            cross_build "$target" "$core" "$p" header "$d/model.h" || continue
            soft=$(arm-none-eabi-nm -u "$d/model.o" | awk '$2 ~ /^__aeabi_[df]/ { print $2 }' | tr '\n' ' ')
            [ -z "$soft" ] && ok "lenet5 -p $p, $core: no soft-float calls in the object" ||
                fail "lenet5 -p $p, $core: the object calls soft-float routines: $soft"
            $NPY c "$SAMPLE" "$d/edge_input.h" --limit 2 || { fail "npy.py c $SAMPLE"; continue; }
            cp "$T/iemu-$p.txt" "$T/emu-int-$p.txt"
            cm_run "lenet5 -p $p (integer MAC), $target $core" "$d" "$core" "$board" "$d/model.o" "int-$p"
        done
    done
    # The unpacked accumulator (gen/lower/emit_iacc.c) in other rounding and
    # MAC modes and on the grid / aligned / general paths: e4m3 (grid), e5m2
    # and bf16 (aligned sum), e2m1 (tiny: overflow and saturation take the
    # general step often), rto (not on the fast path: the step function).
    for c in e4m3:rz:unfused e4m3:ru:fused e5m2:rd:unfused bf16:rna:fused e2m1:rne:unfused \
        e6m7-finite-nosub-sat:rd:fused e4m3:rto:unfused; do
        IFS=: read -r p rm mac <<<"$c"
        d=$T/mode-$p-$rm-$mac opts=(-p "$p" --rounding "$rm" --mac "$mac")
        mkdir -p "$d"
        if "$NUMREP" emulate "$LENET" "${opts[@]}" --input "$SAMPLE" -o "$d/emu.npy" 2>"$d/err" &&
            $NPY hex "$d/emu.npy" --limit 2 >"$T/emu-mode-$p-$rm-$mac.txt" &&
            "$NUMREP" build "$LENET" "${opts[@]}" --target thumbv7em-none-eabi --emit obj -o "$d/model.o" 2>>"$d/err" &&
            "$NUMREP" build "$LENET" "${opts[@]}" --target thumbv7em-none-eabi --emit header -o "$d/model.h" 2>>"$d/err" &&
            $NPY c "$SAMPLE" "$d/edge_input.h" --limit 2; then
            cm_run "lenet5 -p $p --rounding $rm --mac $mac (integer MAC), cortex-m4" "$d" cortex-m4 \
                mps2-an386 "$d/model.o" "mode-$p-$rm-$mac"
        else
            fail "lenet5 -p $p --rounding $rm --mac $mac for the M4: $(head -c 400 "$d/err")"
        fi
    done
    # The FPU path of the M4 (gen/lower/emit_facc.c: rne unfused, products
    # exact in float32) on random weights, which reach the overflow, the
    # subnormal quantum and the general step far more often than the
    # trained ones: e4m3 (exact float32 sums), e5m2 and e6m7 (double
    # rounding, innocuous by the proof at the code).
    for p in e4m3 e5m2 e6m7-finite-nosub-sat; do
        d=$T/rw-$p opts=(-p "$p" --random-weights 7)
        mkdir -p "$d"
        if "$NUMREP" emulate "$LENET" "${opts[@]}" --input "$SAMPLE" -o "$d/emu.npy" 2>"$d/err" &&
            $NPY hex "$d/emu.npy" --limit 2 >"$T/emu-rw-$p.txt" &&
            "$NUMREP" build "$LENET" "${opts[@]}" --target thumbv7em-none-eabi --emit obj -o "$d/model.o" 2>>"$d/err" &&
            "$NUMREP" build "$LENET" "${opts[@]}" --target thumbv7em-none-eabi --emit header -o "$d/model.h" 2>>"$d/err" &&
            $NPY c "$SAMPLE" "$d/edge_input.h" --limit 2; then
            cm_run "lenet5 -p $p --random-weights 7 (FPU MAC), cortex-m4" "$d" cortex-m4 \
                mps2-an386 "$d/model.o" "rw-$p"
        else
            fail "lenet5 -p $p --random-weights 7 for the M4: $(head -c 400 "$d/err")"
        fi
    done
    if [ "${NUMREP_EXHAUSTIVE:-0}" = 1 ]; then
        R20=$SRC/specs/resnet20/resnet20.yaml R20X=$SRC/specs/resnet20/sample.npy d=$T/int-r20
        mkdir -p "$d"
        if "$NUMREP" emulate "$R20" -p e4m3 --input "$R20X" -o "$d/emu.npy" 2>"$d/err" &&
            $NPY hex "$d/emu.npy" --limit 1 >"$T/emu-int-r20.txt" &&
            "$NUMREP" build "$R20" -p e4m3 --target thumbv7em-none-eabi --emit obj -o "$d/model.o" 2>>"$d/err" &&
            "$NUMREP" build "$R20" -p e4m3 --target thumbv7em-none-eabi --emit header -o "$d/model.h" 2>>"$d/err" &&
            $NPY c "$R20X" "$d/edge_input.h" --limit 1; then
            EDGE_TIMEOUT=1800 cm_run "resnet20 -p e4m3 (integer MAC and add), cortex-m4" "$d" cortex-m4 \
                mps2-an386 "$d/model.o" int-r20
        else
            fail "resnet20 -p e4m3 for the M4: $(head -c 400 "$d/err")"
        fi
    fi
fi

if [ $have_a64 = 1 ]; then
    have_run=1
    "$NUMREP" run "$LENET" --input "$SAMPLE" -o "$T/probe.npy" >/dev/null 2>&1 || have_run=0
    [ $have_run = 1 ] || echo "note: 'numrep run' not available; aarch64 compared with 'numrep emulate' only"
    for c in $CASES; do
        p=${c%:*} pack=${c#*:}
        [ -s "$T/emu-$p.txt" ] || continue
        d=$T/a64-$p-$pack
        mkdir -p "$d"
        # The standalone executable (driver.c.in + runtime), dynamically
        # linked: qemu-aarch64 finds the loader in the cross sysroot.
        if cross_build aarch64-linux-gnu "" "$p" exe "$d/lenet5" "$pack"; then
            if timeout -k 5 "$EDGE_TIMEOUT" qemu-aarch64 -L /usr/aarch64-linux-gnu "$d/lenet5" \
                "$SAMPLE" -o "$d/out.npy" 2>"$d/err"; then
                cmp -s "$d/out.npy" "$T/emu-$p.npy" &&
                    ok "lenet5 -p $p --pack $pack: aarch64 executable under qemu-aarch64 == emulator (.npy bytes)" ||
                    fail "lenet5 -p $p --pack $pack: aarch64 executable output differs from the emulator's"
                if [ $have_run = 1 ]; then
                    if "$NUMREP" run "$LENET" -p "$p" --pack "$pack" --input "$SAMPLE" -o "$d/jit.npy" 2>"$d/err"; then
                        cmp -s "$d/out.npy" "$d/jit.npy" &&
                            ok "lenet5 -p $p --pack $pack: aarch64 executable == x86 JIT (.npy bytes)" ||
                            fail "lenet5 -p $p --pack $pack: aarch64 executable output differs from the JIT's"
                    else
                        fail "numrep run lenet5 -p $p: $(cat "$d/err")"
                    fi
                fi
            else
                fail "lenet5 -p $p --pack $pack: aarch64 executable under qemu-aarch64: $(cat "$d/err")"
            fi
        fi
        # The embedding path on Linux: object + header + the harness.
        if cross_build aarch64-linux-gnu "" "$p" obj "$d/model.o" "$pack" &&
            cross_build aarch64-linux-gnu "" "$p" header "$d/model.h" "$pack"; then
            $NPY c "$SAMPLE" "$d/edge_input.h" || { fail "npy.py c $SAMPLE"; continue; }
            if edge_hosted_exe aarch64-linux-gnu-gcc "$d/harness" "$d" "$d/model.o" 2>"$d/err"; then
                timeout -k 5 "$EDGE_TIMEOUT" qemu-aarch64 "$d/harness" >"$d/run.txt" 2>"$d/err"
                st=$?
                [ $st -eq 0 ] && same_body "lenet5 -p $p --pack $pack, aarch64 object + harness == emulator" \
                    "$d/run.txt" "$T/emu-$p.txt" ||
                    fail "lenet5 -p $p --pack $pack, aarch64 object + harness: exit status $st: $(cat "$d/err")"
            else
                fail "lenet5 -p $p --pack $pack, aarch64 object + harness: link failed: $(cat "$d/err")"
            fi
        fi
    done
    # ResNet-20 too (the vectorised conv kernel, residual adds): the aarch64
    # executable equals the x86 JIT bit for bit on the shipped samples.
    R20=$SRC/specs/resnet20/resnet20.yaml R20X=$SRC/specs/resnet20/sample.npy
    for c in e6m7-finite-nosub-sat:container e4m3:container e3m2:dense; do
        p=${c%:*} pack=${c#*:} d=$T/a64-r20-$p-$pack
        mkdir -p "$d"
        [ $have_run = 1 ] || break
        if ! "$NUMREP" build "$R20" -p "$p" --pack "$pack" --target aarch64-linux-gnu -o "$d/r20" 2>"$d/err"; then
            fail "resnet20 -p $p --pack $pack: aarch64 build: $(cat "$d/err")"
            continue
        fi
        if timeout -k 5 "$EDGE_TIMEOUT" qemu-aarch64 -L /usr/aarch64-linux-gnu "$d/r20" "$R20X" \
            -o "$d/out.npy" 2>"$d/err" &&
            "$NUMREP" run "$R20" -p "$p" --pack "$pack" --input "$R20X" -o "$d/jit.npy" 2>>"$d/err"; then
            cmp -s "$d/out.npy" "$d/jit.npy" &&
                ok "resnet20 -p $p --pack $pack: aarch64 executable == x86 JIT (.npy bytes)" ||
                fail "resnet20 -p $p --pack $pack: aarch64 executable output differs from the JIT's"
        else
            fail "resnet20 -p $p --pack $pack, aarch64: $(cat "$d/err")"
        fi
    done
fi


# ------------------------------------------------ 5. the CCT transformer on the M4
# specs/cct (conv tokenizer, 4 encoder blocks: attention, softmax, LayerNorm,
# exact-erf GELU, sequence pooling) built for the Cortex-M4 at fp32 and at
# e4m3 matmuls with bf16 softmax/norms/nonlinear (specs/cct/e4m3_bf16.yaml),
# linked with numrep's own nonlinear functions (edge_nlrt_sources: no libm,
# the 128-bit arithmetic in two halves) and run on the MPS2-AN386 under QEMU
# (weights as read-only data in its 4 MB flash, the arena in its 4 MB RAM):
# the logits of the first NUMREP_EDGE_CCT_N (default 2) shipped CIFAR-10
# images equal `numrep emulate`'s bit for bit.
CCT=$SRC/specs/cct/cct.yaml CCTX=$SRC/specs/cct/sample.npy
if [ $have_cm = 0 ]; then
    :
elif [ ! -f "$CCT" ] || [ ! -f "$CCTX" ]; then
    skip "CCT on the M4: specs/cct is missing"
else
    ncct=${NUMREP_EDGE_CCT_N:-2}
    for p in fp32 "$SRC/specs/cct/e4m3_bf16.yaml"; do
        pn=$(basename "$p" .yaml) d=$T/cct-m4-$pn
        mkdir -p "$d"
        if ! "$NUMREP" emulate "$CCT" -p "$p" --input "$CCTX" -o "$d/emu.npy" 2>"$d/err" ||
            ! $NPY hex "$d/emu.npy" --limit "$ncct" >"$T/emu-cct-$pn.txt"; then
            fail "numrep emulate cct -p $pn: $(cat "$d/err")"
            continue
        fi
        if ! "$NUMREP" build "$CCT" -p "$p" --target thumbv7em-none-eabi --cpu cortex-m4 --emit obj -o "$d/model.o" 2>"$d/err" ||
            ! "$NUMREP" build "$CCT" -p "$p" --target thumbv7em-none-eabi --cpu cortex-m4 --emit header -o "$d/model.h" 2>>"$d/err" ||
            ! $NPY c "$CCTX" "$d/edge_input.h" --limit "$ncct" 2>>"$d/err"; then
            fail "cct -p $pn for the M4: $(head -c 600 "$d/err")"
            continue
        fi
        abi=$(edge_cm_float_abi "$d/model.o") || { fail "cct -p $pn: readelf -A"; continue; }
        # shellcheck disable=SC2046
        if ! EDGE_CM_EXTRA="$(edge_runtime_includes | tr '\n' ' ')" \
            edge_cm_image cortex-m4 "$abi" "$d/image.elf" "$d" "$d/model.o" $(edge_nlrt_sources) 2>"$d/err"; then
            fail "cct -p $pn, cortex-m4: link failed: $(head -c 600 "$d/err")"
            continue
        fi
        EDGE_TIMEOUT=${EDGE_CCT_TIMEOUT:-1200} edge_qemu_cm mps2-an386 "$d/image.elf" "$d/run.txt"
        st=$?
        [ $st -eq 0 ] && same_body "cct -p $pn, cortex-m4 on mps2-an386 == emulator" "$d/run.txt" "$T/emu-cct-$pn.txt" ||
            fail "cct -p $pn, cortex-m4: exit status $st: $(cat "$d/run.txt.err" "$d/run.txt" | head -c 400)"
    done
fi

finish
