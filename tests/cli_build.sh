#!/bin/bash
# cli_build.sh -- `numrep build`: standalone executables agree bit for bit
# with the JIT (`numrep run`) and the emulator on LeNet-5 (and ResNet-20
# outside NUMREP_QUICK), every --emit kind gives a valid file, the embedding
# API (object + header, caller's arena) works without the runtime, the size
# report's packed weight bytes equal sum(count x container bytes), or with
# --pack dense sum(ceil(count x bits / 8)) (and dense executables agree bit
# for bit too), and bad options fail with clear messages.
# usage: bash tests/cli_build.sh path/to/numrep
NUMREP=${1:?usage: cli_build.sh path/to/numrep}
BIN=$NUMREP
. "$(dirname "$0")/lib/cli.sh"
LENET=$SRC/specs/lenet5/lenet5.yaml
LSAMPLE=$SRC/specs/lenet5/sample.npy
T=$tmp

# expect_err STATUS PATTERN CMD...: CMD exits with STATUS and stderr matches PATTERN.
expect_err() {
    local want=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local st=$?
    if [ $st -ne "$want" ]; then
        bad "$* exited $st, expected $want; stderr: $(cat "$T/err")"
    elif ! grep -q -- "$pat" "$T/err"; then
        bad "$*: stderr does not mention '$pat': $(cat "$T/err")"
    elif [ -s "$T/out" ]; then
        bad "$*: printed on stdout on error"
    else
        ok "$* -> $pat"
    fi
}

# JIT reference if `numrep run` works, else none (the emulator is always checked).
have_run=1
"$NUMREP" run "$LENET" --input "$LSAMPLE" -o "$T/probe.npy" >/dev/null 2>&1 || have_run=0
[ $have_run = 1 ] || echo "note: 'numrep run' not available; comparing with 'numrep emulate' only"

# check_net NAME NET SAMPLE PREC EMU [PACK]: build (--pack PACK, default
# container), run, compare outputs with cmp: with the JIT when `numrep run`
# works, with the emulator too when EMU=1 (the emulator is slow on
# ResNet-20) or when there is no JIT.
check_net() {
    local name=$1 net=$2 sample=$3 prec=$4 emu=$5 pack=${6:-container} exe="$T/$1" ref
    if ! "$NUMREP" build "$net" -p "$prec" --pack "$pack" -o "$exe" 2>"$T/err"; then
        bad "build $name -p $prec: $(cat "$T/err")"
        return
    fi
    if ! "$exe" "$sample" -o "$T/$name.aot.npy" 2>"$T/err"; then
        bad "$name -p $prec: executable failed: $(cat "$T/err")"
        return
    fi
    if [ "$emu" = 1 ] || [ $have_run = 0 ]; then
        "$NUMREP" emulate "$net" -p "$prec" --input "$sample" -o "$T/$name.emu.npy" 2>"$T/err" ||
            { bad "emulate $name: $(cat "$T/err")"; return; }
        cmp -s "$T/$name.aot.npy" "$T/$name.emu.npy" && ok "$name -p $prec: executable == emulator" ||
            bad "$name -p $prec: executable output differs from the emulator's"
    fi
    ref=emulate
    if [ $have_run = 1 ]; then
        ref=run
        "$NUMREP" run "$net" -p "$prec" --pack "$pack" --input "$sample" -o "$T/$name.jit.npy" 2>"$T/err" ||
            { bad "run $name: $(cat "$T/err")"; return; }
        cmp -s "$T/$name.aot.npy" "$T/$name.jit.npy" && ok "$name -p $prec: executable == JIT" ||
            bad "$name -p $prec: executable output differs from the JIT's"
    fi
    # Text output (no -o) is the reference's text, line for line.
    "$exe" "$sample" >"$T/$name.aot.txt" 2>"$T/err" || bad "$name text run: $(cat "$T/err")"
    "$NUMREP" $ref "$net" -p "$prec" --input "$sample" >"$T/$name.ref.txt" 2>/dev/null
    cmp -s "$T/$name.aot.txt" "$T/$name.ref.txt" && ok "$name -p $prec: text output == numrep $ref" ||
        bad "$name -p $prec: text output differs from numrep $ref's"
}

# ---------------------------------------------------------------- bad options
expect_err 2 "missing -o" "$NUMREP" build "$LENET"
expect_err 2 "missing NET.yaml" "$NUMREP" build -o "$T/x"
expect_err 2 "unknown target \"sparc-sun-solaris\"" "$NUMREP" build "$LENET" -o "$T/x" --target sparc-sun-solaris
expect_err 2 "does not know CPU \"bogus\"" "$NUMREP" build "$LENET" -o "$T/x" --cpu bogus
expect_err 2 "bad optimisation level \"-O5\"" "$NUMREP" build "$LENET" -o "$T/x" -O5
expect_err 2 "bad optimisation level \"-Ofast\"" "$NUMREP" build "$LENET" -o "$T/x" -Ofast
expect_err 2 "unknown kind \"elf\"" "$NUMREP" build "$LENET" -o "$T/x" --emit elf
expect_err 2 "no operating system" "$NUMREP" build "$LENET" -o "$T/x" --target thumbv6m-none-eabi
expect_err 2 "--pack: expected dense" "$NUMREP" build "$LENET" -o "$T/x" --pack sparse
expect_err 2 "--pack: expected dense" "$NUMREP" run "$LENET" --input "$LSAMPLE" --pack bits
expect_err 2 "--random-weights: expected an unsigned integer" "$NUMREP" build "$LENET" -o "$T/x" --random-weights -3
expect_err 1 "^numrep: -p: " "$NUMREP" build "$LENET" -o "$T/x" -p e9m9-bogus
expect_err 1 "nonexistent.yaml" "$NUMREP" build "$T/nonexistent.yaml" -o "$T/x"
expect_err 1 "cannot create" "$NUMREP" build "$LENET" -o "$T/no/such/dir/x" --emit obj

# ---------------------------------------------------------------- executables
check_net lenet5 "$LENET" "$LSAMPLE" fp32 1
check_net lenet5_e6m7 "$LENET" "$LSAMPLE" e6m7-finite-nosub-sat 1
check_net lenet5_e4m3 "$LENET" "$LSAMPLE" e4m3 1
# --pack dense: odd widths (14, 6, 12 bits) read by bit extraction
check_net lenet5_e6m7_dense "$LENET" "$LSAMPLE" e6m7-finite-nosub-sat 1 dense
check_net lenet5_e3m2_dense "$LENET" "$LSAMPLE" e3m2 1 dense
check_net lenet5_q3.8_dense "$LENET" "$LSAMPLE" q3.8 1 dense
if [ "${NUMREP_QUICK:-0}" != 1 ]; then
    check_net resnet20 "$SRC/specs/resnet20/resnet20.yaml" "$SRC/specs/resnet20/sample.npy" bf16 0
    check_net resnet20_e3m2_dense "$SRC/specs/resnet20/resnet20.yaml" "$SRC/specs/resnet20/sample.npy" e3m2 0 dense
fi

# The executable's own input checks, and --raw.
E=$T/lenet5
if [ -x "$E" ]; then
    expect_err 1 "expected \[N,1,28,28\]" "$E" "$SRC/specs/resnet20/sample.npy"
    expect_err 1 "not a .npy file" "$E" "$LENET"
    expect_err 1 "cannot open" "$E" "$T/missing.npy"
    expect_err 2 "unknown option --bogus" "$E" --bogus "$LSAMPLE"
    expect_err 2 "missing INPUT" "$E"
    printf 'abc' >"$T/short.bin"
    expect_err 1 "whole number" "$E" --raw "$T/short.bin"
    # raw in/out: strip the .npy header (v1: 10 + HEADER_LEN bytes).
    hl=$(od -An -tu2 -j8 -N2 "$LSAMPLE" | tr -d ' ')
    tail -c +$((10 + hl + 1)) "$LSAMPLE" >"$T/in.bin"
    tail -c +$((10 + hl + 1)) "$T/lenet5.aot.npy" >"$T/ref.bin" 2>/dev/null
    if "$E" --raw "$T/in.bin" -o "$T/out.bin" 2>"$T/err" && cmp -s "$T/out.bin" "$T/ref.bin"; then
        ok "--raw input/output == .npy run"
    else
        bad "--raw run: $(cat "$T/err")"
    fi
fi

# ---------------------------------------------------------------- --emit kinds
P=e6m7-finite-nosub-sat
emit() { "$NUMREP" build "$LENET" -p $P --emit "$1" -o "$2" 2>"$T/err" || bad "--emit $1: $(cat "$T/err")"; }
emit llvm "$T/m.ll"
emit bc "$T/m.bc"
emit asm "$T/m.s"
emit obj "$T/m.o"
emit header "$T/model.h"
command -v llvm-as-16 >/dev/null && { llvm-as-16 "$T/m.ll" -o /dev/null 2>"$T/err" && ok "--emit llvm parses" || bad "--emit llvm: llvm-as: $(cat "$T/err")"; }
command -v llvm-dis-16 >/dev/null && { llvm-dis-16 "$T/m.bc" -o /dev/null 2>"$T/err" && ok "--emit bc reads back" || bad "--emit bc: llvm-dis: $(cat "$T/err")"; }
for f in m.ll m.bc m.s; do
    cmp -s "$T/$f.weights.bin" "$T/m.ll.weights.bin" && [ -s "$T/$f.weights.bin" ] &&
        ok "--emit writes $f.weights.bin" || bad "no $T/$f.weights.bin"
done
grep -qF ".incbin \\22$T/m.ll.weights.bin\\22" "$T/m.ll" && ok "the IR's module asm .incbins it" ||
    bad "$T/m.ll does not .incbin its weights file"
cc -c "$T/m.s" -o "$T/m_from_s.o" 2>"$T/err" && ok "--emit asm assembles" || bad "--emit asm: cc: $(cat "$T/err")"
file "$T/m.o" | grep -q "ELF 64-bit LSB relocatable" && ok "--emit obj is an ELF object" || bad "--emit obj: $(file "$T/m.o")"
grep -q "NUMREP_MODEL_ARENA_SIZE" "$T/model.h" && ok "--emit header" || bad "--emit header: no ARENA_SIZE"

# Embedding: the heap-free entry point with a caller-supplied arena, linked
# from object + header alone (no libnumrep: --gc-sections drops the threaded
# entry point), must print what the executable prints.
cat >"$T/embed.c" <<'C'
#include "model.h"
#include <stdio.h>
#include <stdlib.h>
static unsigned char arena[NUMREP_MODEL_ARENA_SIZE] __attribute__((aligned(NUMREP_MODEL_ARENA_ALIGN)));
int main(int argc, char **argv)
{
    static float in[NUMREP_MODEL_INPUT_SIZE], out[NUMREP_MODEL_OUTPUT_SIZE];
    FILE *f = fopen(argv[1], "rb");
    if (argc < 2 || !f || numrep_model_arena_size() != NUMREP_MODEL_ARENA_SIZE)
        return 1;
    while (fread(in, sizeof in, 1, f) == 1) {
        if (numrep_model_run_arena(in, out, 1, arena))
            return 1;
        for (int i = 0; i < NUMREP_MODEL_OUTPUT_SIZE; i++)
            printf(i ? " %.9g" : "%.9g", (double)out[i]);
        putchar('\n');
    }
    return 0;
}
C
if [ -f "$T/in.bin" ] && cc -O1 -I"$T" "$T/embed.c" "$T/m.o" -Wl,--gc-sections -lm -o "$T/embed" 2>"$T/err"; then
    "$T/embed" "$T/in.bin" >"$T/embed.txt" 2>"$T/err"
    "$NUMREP" emulate "$LENET" -p $P --input "$LSAMPLE" >"$T/embed.ref" 2>/dev/null
    cmp -s "$T/embed.txt" "$T/embed.ref" && ok "object + header, run_arena == emulator" ||
        bad "embedded run differs from the emulator: $(cat "$T/err")"
else
    bad "embedding link: $(cat "$T/err")"
fi

# Cross objects (issue 7): the object and the header, no toolchain needed.
for tc in "aarch64-linux-gnu:ARM aarch64" "thumbv7em-none-eabi:ARM, EABI5" "thumbv6m-none-eabi:ARM, EABI5"; do
    tgt=${tc%%:*} want=${tc#*:}
    if "$NUMREP" build "$LENET" -p e4m3 --target "$tgt" --emit obj -o "$T/x.$tgt.o" 2>"$T/err"; then
        file "$T/x.$tgt.o" | grep -q "$want" && ok "--target $tgt --emit obj" ||
            bad "--target $tgt: $(file "$T/x.$tgt.o")"
    else
        bad "--target $tgt --emit obj: $(cat "$T/err")"
    fi
done

# A cross executable under user-mode emulation, when the toolchain is there
# (issue 7): the runtime is compiled from source with the cross cc.
if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    if "$NUMREP" build "$LENET" -p e4m3 --target aarch64-linux-gnu -o "$T/a64" 2>"$T/err" &&
        qemu-aarch64 -L /usr/aarch64-linux-gnu "$T/a64" "$LSAMPLE" -o "$T/a64.npy" 2>"$T/err" &&
        "$NUMREP" emulate "$LENET" -p e4m3 --input "$LSAMPLE" -o "$T/a64.ref.npy" 2>"$T/err" &&
        cmp -s "$T/a64.npy" "$T/a64.ref.npy"; then
        ok "aarch64 executable under qemu == emulator"
    else
        bad "aarch64 executable: $(cat "$T/err")"
    fi
else
    echo "note: no aarch64-linux-gnu-gcc/qemu-aarch64; cross executable not tested"
fi

# ---------------------------------------------------------------- --size-report
# LeNet-5 tensors (PyTorch layouts): conv1 6x1x5x5 + 6, conv2 16x6x5x5 + 16,
# fc1 120x256 + 120, fc2 84x120 + 84, fc3 10x84 + 10.
counts="150 6 2400 16 30720 120 10080 84 840 10"
packed() { # bits container dense
    local s=0
    for c in $counts; do
        if [ "$3" = 1 ]; then s=$((s + (c * $1 + 7) / 8)); else s=$((s + c * $2)); fi
    done
    echo $s
}
field() { grep "^$2" "$1" | awk '{print $(NF-1), $NF}'; }
if "$NUMREP" build "$LENET" -p $P -o "$T/sr" --size-report >"$T/rep" 2>"$T/err"; then
    read a f <<<"$(field "$T/rep" "weights (packed bytes)")"
    [ "$a $f" = "$(packed 14 2 0) $(packed 32 4 0)" ] && ok "size report: packed weights $a / fp32 $f" ||
        bad "size report weights '$a $f', expected $(packed 14 2 0) $(packed 32 4 0)"
    read a f <<<"$(field "$T/rep" "weights blob")"
    [ "$a" -ge "$(packed 14 2 0)" ] && [ "$a" -lt $(($(packed 14 2 0) + 64 * 11)) ] &&
        ok "blob $a holds the packed weights" || bad "blob size $a"
    read a f <<<"$(field "$T/rep" "code")"
    [ "${a:-0}" -gt 0 ] && [ "${f:-0}" -gt 0 ] && ok "code bytes $a / fp32 $f" || bad "code sizes '$a $f'"
    read a f <<<"$(field "$T/rep" "arena")"
    [ "${a:-0}" -gt 0 ] && [ "${a:-0}" -lt "${f:-0}" ] && ok "arena $a < fp32 $f" || bad "arena sizes '$a $f'"
    [ -x "$T/sr" ] || bad "--size-report did not also build the executable"
else
    bad "--size-report: $(cat "$T/err")"
fi
# Dense packing: the packed weight bytes are exactly sum(ceil(count x bits
# / 8)) over the tensors (a layer's weights and its biases separately),
# with the counts read here from the safetensors header (conv/dense
# weights, and every .bias: a layer's own or the batchnorm shift folded
# into the conv before it) and the width from `numrep format`; the blob is
# that plus the 8-byte read pad when some width is not 8/16/32/64 bits.
st_counts() { # NET.safetensors -> one tensor count per line
    python3 - "$1" <<'PY'
import json, struct, sys
with open(sys.argv[1], 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    h = json.loads(f.read(n))
for k, v in h.items():
    if k != '__metadata__' and ((k.endswith('.weight') and len(v['shape']) >= 2) or k.endswith('.bias')):
        c = 1
        for d in v['shape']:
            c *= d
        print(c)
PY
}
fmt_bits() { "$NUMREP" format "$1" | awk '$1 == "width" {print $2}'; }
dense_check() { # NAME NET PREC
    local name=$1 net=$2 p=$3 bits want pad cnts
    bits=$(fmt_bits "$p")
    cnts=$(st_counts "${net%.yaml}.safetensors") || { bad "$name: cannot read the safetensors header"; return; }
    want=0
    for c in $cnts; do want=$((want + (c * bits + 7) / 8)); done
    case $bits in 8|16|32|64) pad=0 ;; *) pad=8 ;; esac
    if "$NUMREP" build "$net" -p "$p" --pack dense --emit obj -o "$T/d.o" --size-report >"$T/rep" 2>"$T/err"; then
        read a f <<<"$(field "$T/rep" "weights (packed bytes)")"
        [ "$a" = "$want" ] && ok "$name -p $p dense: packed weights $a = sum ceil(count x $bits / 8)" ||
            bad "$name -p $p dense: packed weights $a, expected $want"
        read b f <<<"$(field "$T/rep" "weights blob")"
        [ "$b" = $((want + pad)) ] && ok "$name -p $p dense: blob $b = $want + $pad pad bytes" ||
            bad "$name -p $p dense: blob $b, expected $want + $pad"
    else
        bad "$name --pack dense: $(cat "$T/err")"
    fi
}
if command -v python3 >/dev/null; then
    dense_check lenet5 "$LENET" e6m7-finite-nosub-sat
    dense_check lenet5 "$LENET" e3m2
    dense_check lenet5 "$LENET" q3.8
    dense_check lenet5 "$LENET" e4m3
    if [ "${NUMREP_QUICK:-0}" != 1 ]; then
        dense_check resnet20 "$SRC/specs/resnet20/resnet20.yaml" e6m7-finite-nosub-sat
    fi
else
    echo "note: no python3 to read safetensors headers; dense size report not checked"
fi

finish
