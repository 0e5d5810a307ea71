# tests/lib/cli.sh -- what the shell tests of the command line share:
# pass/fail counters, a scratch directory removed on exit, helpers that run
# numrep and check its exit code and messages, and the summary line.
# Not a test itself (CMake runs tests/cli_*.sh; this path is not one of them):
# a script sets BIN to the numrep binary, then sources this file with
#     . "$(dirname "$0")/lib/cli.sh"
# and ends with `finish`.  Provides SRC (the source tree), SHARED (the
# shared data: NUMREP_SHARED_DATA or ../shared/data) and tmp.  A test that
# cannot run here calls skip_all (exit 77: ctest reports it Skipped); one
# whose part cannot run calls skip_part (listed by finish).
set -u
: "${BIN:?set BIN to the numrep binary before sourcing lib/cli.sh}"
SRC=${NUMREP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
SHARED=${NUMREP_SHARED_DATA:-$SRC/../shared/data}
pass=0
fail=0
skipped=""
tmp=$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$0" .sh).XXXXXX")
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run ARGS...: numrep ARGS with no input; sets $rc, $tmp/out, $tmp/err
run() {
    "$BIN" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# expect_fail CODE 'stderr substring' ARGS...: exit CODE, the substring on
# stderr, nothing on stdout
expect_fail() {
    local code=$1 sub=$2
    shift 2
    run "$@"
    if [ "$rc" -ne "$code" ]; then
        bad "$*: exit $rc, want $code (stderr: $(cat "$tmp/err"))"
    elif ! grep -qF -- "$sub" "$tmp/err"; then
        bad "$*: stderr lacks '$sub': $(cat "$tmp/err")"
    elif [ -s "$tmp/out" ]; then
        bad "$*: wrote to stdout on error"
    else
        ok
    fi
}

# expect_exit CODE LABEL 'substring' ARGS...: exit CODE, and the substring in
# stdout and stderr together (kept in $out)
expect_exit() {
    local code=$1 label=$2 want=$3
    shift 3
    out=$("$BIN" "$@" 2>&1)
    rc=$?
    [ "$rc" -eq "$code" ] && ok || bad "$label: exit $rc, expected $code ($out)"
    case $out in *"$want"*) ok ;; *) bad "$label: '$out' lacks '$want'" ;; esac
}

# skip_all WHY: nothing of this test can run here: exit 77 (SKIP_RETURN_CODE
# in CMakeLists.txt), or 1 if something already failed
skip_all() {
    echo "skipped: $*"
    [ "$fail" -eq 0 ] || exit 1
    exit 77
}

# find_python MODULE...: the python3 that imports them (Debian's python3-onnx/
# -torch live in /usr/bin/python3, which a pyenv or venv python3 on PATH does
# not see; NUMREP_PYTHON first), printed; status 1 when none does
find_python() {
    local py
    for py in ${NUMREP_PYTHON:-} python3 /usr/bin/python3; do
        command -v "$py" >/dev/null 2>&1 || continue
        "$py" -c "import $(IFS=,; echo "$*")" >/dev/null 2>&1 && { echo "$py"; return 0; }
    done
    return 1
}

# skip_part WHAT: this part did not run (the rest does); finish lists it
skip_part() {
    echo "skipped: $*"
    skipped="$skipped  - $*
"
}

# finish [WHAT]: the summary line (WHAT: a final skipped part), then exit 1
# if anything failed
finish() {
    [ -z "${1:-}" ] || skip_part "$1"
    echo "$pass passed, $fail failed"
    [ -z "$skipped" ] || printf 'skipped parts:\n%s' "$skipped"
    [ "$fail" -eq 0 ] || exit 1
    exit 0
}

# ---- `numrep round` (cli_round.sh, cli_scaled.sh)

# round_in INPUT ARGS...: `numrep round ARGS` reading INPUT (printf %b);
# sets $rc, $tmp/out, $tmp/err
round_in() {
    local input=$1
    shift
    printf '%b' "$input" | "$BIN" round "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# expect INPUT 'expected stdout' ARGS...: exit 0, exact stdout, empty stderr
expect() {
    local input=$1 want=$2
    shift 2
    round_in "$input" "$@"
    local got
    got=$(cat "$tmp/out")
    if [ "$rc" -ne 0 ]; then
        bad "round $* <<< '$input': exit $rc: $(cat "$tmp/err")"
    elif [ "$got" != "$want" ]; then
        bad "round $* <<< '$input': got
$got
want
$want"
    elif [ -s "$tmp/err" ]; then
        bad "round $* <<< '$input': stderr: $(cat "$tmp/err")"
    else
        ok
    fi
}
