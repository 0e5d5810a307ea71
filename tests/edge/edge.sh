# edge.sh -- shell functions for building and running numrep model objects
# on edge targets; sourced by tests/cli_edge.sh (and usable by hand:
#   . tests/edge/edge.sh; edge_cm_image cortex-m4 hard img.elf dir model.o).
# Needs EDGE_SRC (the source tree).  Every function returns non-zero on
# failure with the tool's messages on stderr.

EDGE_TEMPLATES=${EDGE_SRC:?EDGE_SRC must name the source tree}/templates/edge
EDGE_TIMEOUT=${EDGE_TIMEOUT:-300}
# Our own sources must stay warning-free; -ffp-contract=off: no fused
# multiply-add in C code whose float results are compared across targets.
EDGE_CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -ffp-contract=off -ffunction-sections -fdata-sections"

# edge_have TOOL...: every TOOL is on PATH.
edge_have() {
    local t
    for t in "$@"; do command -v "$t" >/dev/null 2>&1 || return 1; done
}

# edge_cm_cpu_flags CPU FLOAT_ABI: arm-none-eabi-gcc flags for a core.
#   cortex-m4 hard|softfp: the FPU (fpv4-sp-d16), float arguments in VFP
#     registers (hard) or core registers (softfp: what LLVM's
#     thumbv7em-none-eabi objects use);
#   cortex-m0 soft: no FPU, float arithmetic in libgcc.
edge_cm_cpu_flags() {
    case "$1:$2" in
        cortex-m4:hard|cortex-m4:softfp) echo "-mcpu=cortex-m4 -mthumb -mfloat-abi=$2 -mfpu=fpv4-sp-d16" ;;
        cortex-m0:soft) echo "-mcpu=cortex-m0 -mthumb -mfloat-abi=soft" ;;
        *) echo "edge_cm_cpu_flags: unsupported core/ABI $1 $2" >&2; return 1 ;;
    esac
}

# edge_cm_float_abi OBJ: the float ABI an ARM object was built for, from its
# build attributes: hard (Tag_ABI_VFP_args: VFP registers), else softfp when
# it uses an FPU, else soft.
edge_cm_float_abi() {
    local attrs
    attrs=$(arm-none-eabi-readelf -A "$1") || return 1
    if grep -q "Tag_ABI_VFP_args: VFP registers" <<<"$attrs"; then
        echo hard
    elif grep -q "Tag_FP_arch:" <<<"$attrs"; then
        echo softfp
    else
        echo soft
    fi
}

# edge_cm_image CPU FLOAT_ABI OUT.elf INCDIR OBJ...: link harness.c (with
# INCDIR/model.h and INCDIR/edge_input.h), the startup, semihosting and
# libc_min files and the model object(s) into a bare-metal image for the
# MPS2 boards (mps2.ld).  --gc-sections drops what run_arena does not need
# (the threaded numrep_model_run and its runtime references).
# EDGE_CM_EXTRA: more compiler arguments (bench_edge.sh: -DEDGE_TIMER and
# timer_mps2.c).
edge_cm_image() {
    local cpu=$1 abi=$2 out=$3 inc=$4 flags
    shift 4
    flags=$(edge_cm_cpu_flags "$cpu" "$abi") || return 1
    # shellcheck disable=SC2086
    arm-none-eabi-gcc $flags $EDGE_CFLAGS -ffreestanding -I"$inc" -I"$EDGE_TEMPLATES" \
        -nostdlib -T "$EDGE_TEMPLATES/mps2.ld" -Wl,--gc-sections -Wl,--no-warn-execstack \
        -o "$out" "$EDGE_TEMPLATES/startup_cm.c" "$EDGE_TEMPLATES/semihost.c" \
        "$EDGE_TEMPLATES/libc_min.c" "$EDGE_TEMPLATES/harness.c" ${EDGE_CM_EXTRA:-} "$@" -lgcc
}

# edge_cm_board CPU: the QEMU machine that runs code for CPU (see mps2.ld).
edge_cm_board() {
    case "$1" in
        cortex-m4) echo mps2-an386 ;;
        cortex-m0) echo mps2-an385 ;;
        *) echo "edge_cm_board: no board for $1" >&2; return 1 ;;
    esac
}

# edge_qemu_cm BOARD IMAGE OUT: run IMAGE; its semihosting output goes to
# OUT (a file chardev: without one QEMU writes it to its own stderr, mixed
# with its messages), QEMU's own messages to OUT.err.  Returns the image's
# exit status (124: timed out after EDGE_TIMEOUT seconds).  EDGE_QEMU_EXTRA:
# more QEMU arguments (bench_edge.sh: -icount shift=0).
edge_qemu_cm() {
    rm -f "$3"
    # shellcheck disable=SC2086
    timeout -k 5 "$EDGE_TIMEOUT" qemu-system-arm -M "$1" ${EDGE_QEMU_EXTRA:-} -nographic -monitor none -serial null \
        -chardev file,id=edge_sh,path="$3" \
        -semihosting-config enable=on,target=native,chardev=edge_sh \
        -kernel "$2" </dev/null >"$3.err" 2>&1
}

# edge_hosted_exe CC OUT INCDIR OBJ...: harness.c + hosted_io.c + objects,
# linked statically (so qemu-aarch64 needs no target sysroot).
edge_hosted_exe() {
    local cc=$1 out=$2 inc=$3
    shift 3
    # shellcheck disable=SC2086
    "$cc" $EDGE_CFLAGS -static -Wl,--gc-sections -I"$inc" -I"$EDGE_TEMPLATES" -o "$out" \
        "$EDGE_TEMPLATES/harness.c" "$EDGE_TEMPLATES/hosted_io.c" "$@"
}

# edge_body FILE: the sample lines of a harness transcript (between the
# begin and end markers); fails when either marker is missing.
edge_body() {
    grep -q '^numrep-edge: begin ' "$1" && grep -q '^numrep-edge: end$' "$1" || return 1
    sed -n '/^numrep-edge: begin /,/^numrep-edge: end$/p' "$1" | sed '1d;$d'
}

# edge_fake_header OUT.h: model.h from templates/model.h.in with the sizes
# of tests/edge/fake_model.c (the header template itself is under test).
edge_fake_header() {
    sed -e 's/@NAME@/fake/g; s/@PRECISION@/fp32/g; s/@TARGET@/any/g; s/@IDENT@/FAKE/g' \
        -e 's/@INPUT_SIZE@/784/g; s/@OUTPUT_SIZE@/10/g; s/@IN_C@/1/g; s/@IN_H@/28/g' \
        -e 's/@IN_W@/28/g; s/@OUT_C@/10/g; s/@OUT_H@/1/g; s/@OUT_W@/1/g' \
        -e 's/@ARENA_SIZE@/3136/g; s/@WEIGHTS_SIZE@/64/g' \
        "$EDGE_SRC/templates/model.h.in" >"$1" || return 1
    if grep -q '@[A-Z_0-9]*@' "$1"; then
        echo "edge_fake_header: placeholders left: $(grep -o '@[A-Z_0-9]*@' "$1" | sort -u | tr '\n' ' ')" >&2
        return 1
    fi
}

# edge_nlrt_sources: the runtime sources an image needs when the model calls
# the nonlinear functions (nr_nlrt_gen, nr_nlrt_gen_div: transformers'
# softmax, norms, GELU): numrep's own correctly rounded implementations
# (runtime/rt/nlrt*.c, no libm) and the one round-and-pack (runtime/num/
# round.c, codec.c, nlfn.c); their 128-bit arithmetic is runtime/num/u128.h's,
# two uint64_t halves on 32-bit ARM; templates/edge/libm_min.c's ldexp.
edge_nlrt_sources() {
    local f
    for f in rt/nlrt.c rt/nlrt_alg.c rt/nlrt_erf.c rt/nlrt_exp.c rt/nlrt_gen.c rt/nlrt_test.c \
        num/round.c num/codec.c num/nlfn.c; do
        echo "$EDGE_SRC/runtime/$f"
    done
    echo "$EDGE_TEMPLATES/libm_min.c"
}

# edge_runtime_includes: -I flags for those sources.
edge_runtime_includes() {
    local d
    for d in num io net emu rt; do echo "-I$EDGE_SRC/runtime/$d"; done
}
