#!/usr/bin/env bash
# cli_install.sh -- numrep installs and relocates.  `cmake --install` puts
# this build into a scratch prefix, the prefix is then moved, and the moved
# binary, with no NUMREP_* variables and run from outside the source tree,
# must find its templates, runtime library, runtime sources and predictor
# under the new prefix (`numrep version`; marked copies of the installed
# templates prove they are the ones read).  With them it builds LeNet-5 into
# an executable bit-identical with `numrep run`, cross-builds a Cortex-M4
# object (and an aarch64 executable when the cross compiler is installed),
# writes a report, and the lookup falls back / overrides as documented.
# usage: bash tests/cli_install.sh path/to/build/numrep
BIN=${1:?usage: cli_install.sh path/to/build/numrep}
. "$(dirname "$0")/lib/cli.sh"
NET=$SRC/specs/lenet5/lenet5.yaml
X=$SRC/specs/lenet5/sample.npy
DATA=$SHARED/mnist
BUILD=$(cd "$(dirname "$BIN")" && pwd)
CMAKE=${NUMREP_CMAKE:-cmake}
unset NUMREP_SOURCE_DIR NUMREP_TEMPLATES NUMREP_TEMPLATE_DIR NUMREP_RUNTIME_LIB \
    NUMREP_RUNTIME_SRC NUMREP_PREDICTOR

# ---- install, then move the prefix (relocation)
if ! "$CMAKE" --install "$BUILD" --prefix "$tmp/p" >"$tmp/install.log" 2>&1; then
    bad "cmake --install $BUILD: $(tail -5 "$tmp/install.log")"
    finish
fi
for f in bin/numrep lib/numrep/libnumrep.a share/numrep/templates/driver.c.in \
    share/numrep/templates/model.h.in share/numrep/templates/report.html.in \
    share/numrep/templates/edge/harness.c share/numrep/runtime/rt/rt.c share/numrep/runtime/num/pool.c \
    share/numrep/runtime/emu/emu_math.c share/numrep/runtime/rt/rt.h share/numrep/specs/predictor.yaml \
    include/numrep/numrep.h include/numrep/model.h; do
    [ -f "$tmp/p/$f" ] && ok || bad "not installed: $f"
done
P=$(cd "$tmp" && pwd -P)/moved
mv "$tmp/p" "$P"
BIN=$P/bin/numrep
# Marks in the installed templates: outputs that carry them were made from
# the install, not from the source tree.
echo '/* installed-template-mark */' >>"$P/share/numrep/templates/model.h.in"
echo '<!-- installed-template-mark -->' >>"$P/share/numrep/templates/report.html.in"
mkdir "$tmp/work"
cd "$tmp/work" || exit 1

# ---- every resource resolves under the moved prefix
run version
[ "$rc" -eq 0 ] && ok || bad "version: exit $rc: $(cat "$tmp/err")"
grep -qx "prefix  *$P" "$tmp/out" && ok || bad "version: prefix is not $P: $(cat "$tmp/out")"
for r in templates runtime-lib runtime-src predictor; do
    grep -q "^$r  *$P/.* (install prefix)\$" "$tmp/out" && ok \
        || bad "version: $r not from $P: $(grep "^$r" "$tmp/out")"
done
run --version
[ "$rc" -eq 0 ] && grep -q "^numrep [0-9]" "$tmp/out" && ok || bad "--version: exit $rc"

# ---- host executable == JIT, header from the installed template
run build "$NET" -p e4m3 -o x
[ "$rc" -eq 0 ] && ok || bad "build exe: exit $rc: $(cat "$tmp/err")"
if ./x "$X" -o x.npy 2>"$tmp/err"; then
    run run "$NET" -p e4m3 --input "$X" -o jit.npy
    [ "$rc" -eq 0 ] && cmp -s x.npy jit.npy && ok || bad "installed build's executable differs from numrep run"
else
    bad "built executable failed: $(cat "$tmp/err")"
fi
run build "$NET" -p e4m3 --emit header -o x.h
[ "$rc" -eq 0 ] && grep -q installed-template-mark x.h && ok \
    || bad "header not from the installed model.h.in (exit $rc): $(cat "$tmp/err")"

# ---- cross builds: an object for Cortex-M4; an aarch64 executable compiles
# the installed runtime sources
run build "$NET" -p e4m3 --target thumbv7em-none-eabi --emit obj -o m4.o
# ELF, e_machine 0x28 (ARM)
[ "$rc" -eq 0 ] && [ "$(od -An -tx1 -j18 -N2 m4.o 2>/dev/null | tr -d ' ')" = 2800 ] && ok \
    || bad "thumbv7em object: exit $rc: $(cat "$tmp/err")"
if command -v aarch64-linux-gnu-gcc >/dev/null; then
    run build "$NET" -p e4m3 --target aarch64-linux-gnu -o a64
    [ "$rc" -eq 0 ] && ok || bad "aarch64 exe: exit $rc: $(cat "$tmp/err")"
    if [ "$rc" -eq 0 ] && command -v qemu-aarch64 >/dev/null && [ -f jit.npy ]; then
        qemu-aarch64 -L /usr/aarch64-linux-gnu ./a64 "$X" -o a64.npy 2>"$tmp/err" &&
            cmp -s a64.npy jit.npy && ok || bad "aarch64 executable differs from numrep run"
    fi
fi

# ---- search (default predictor) and report from the install
db=
if [ -d "$DATA" ]; then
    db=$tmp/s.db
    run search "$NET" --data "$DATA" --limit 20 --max-loss 5% --grid float --exp 4 --man 3:5 \
        --db "$db" --no-progress --json
    [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] && ok || bad "search: exit $rc: $(cat "$tmp/err")"
    # search says which predictor file it used (--json's predictor_source)
    grep -qF "\"predictor_source\": \"$P/share/numrep/specs/predictor.yaml\"" "$tmp/out" && ok \
        || bad "search did not use the installed predictor: $(cat "$tmp/out")"
elif [ -x "$BUILD/check_results" ]; then
    echo "cli_install: $DATA absent; report of check_results --demo"
    db=$tmp/demo.db
    "$BUILD/check_results" --demo "$db" >/dev/null 2>&1 || bad "check_results --demo"
else
    skip_part "report of the installed numrep: no data and no check_results"
fi
if [ -n "$db" ]; then
    run report "$db" -o r.html
    [ "$rc" -eq 0 ] && grep -q installed-template-mark r.html && ok \
        || bad "report not from the installed template (exit $rc): $(cat "$tmp/err")"
fi

# ---- the rule's order: a variable overrides (NUMREP_TEMPLATE_DIR is the
# older name), a resource missing from the install comes from the build tree
NUMREP_TEMPLATE_DIR=$SRC/templates run version
grep -q "^templates  *$SRC/templates (NUMREP_TEMPLATE_DIR)\$" "$tmp/out" && ok \
    || bad "NUMREP_TEMPLATE_DIR ignored: $(cat "$tmp/out")"
NUMREP_RUNTIME_LIB=$tmp/none.a run build "$NET" -p e4m3 -o y
[ "$rc" -eq 1 ] && grep -q "$tmp/none.a.*NUMREP_RUNTIME_LIB" "$tmp/err" && ok \
    || bad "missing \$NUMREP_RUNTIME_LIB: exit $rc: $(cat "$tmp/err")"
rm "$P/share/numrep/specs/predictor.yaml"
run version
grep -q "^predictor  *$SRC/specs/predictor.yaml (build tree)\$" "$tmp/out" && ok \
    || bad "no fallback to the build tree: $(grep ^predictor "$tmp/out")"

finish
