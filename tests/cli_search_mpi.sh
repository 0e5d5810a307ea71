#!/usr/bin/env bash
# cli_search_mpi.sh -- `mpirun -n 2 numrep search` on LeNet-5 with a few MNIST
# images: both ranks compute a share, no evaluation is computed twice, one
# run row (not one per rank), the answer equals a single process's, and the
# store holds exactly the rows a single process writes, with equal numbers
# (compared bit for bit through Python's sqlite3).  Also a stopped MPI
# search resumes, and --per-layer agrees with a single process.
# Skipped (exit 77, ctest: Skipped) when the shared MNIST data or mpirun is
# absent; a numrep built without MPI must refuse mpirun with a clear error.
# usage: bash tests/cli_search_mpi.sh path/to/numrep
BIN=${1:?usage: cli_search_mpi.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
NET=$SRC/specs/lenet5/lenet5.yaml
DATA=$SHARED/mnist

[ -d "$DATA" ] || skip_all "cli_search_mpi: $DATA absent"
command -v mpirun >/dev/null 2>&1 || skip_all "cli_search_mpi: mpirun not installed (Debian openmpi-bin)"

# Under ASan+UBSan, LeakSanitizer reports Open MPI's own allocations that
# outlive MPI_Finalize; full stacks (the fast unwinder stops in libraries
# built without frame pointers) let these suppressions, which name only
# Open MPI's libraries, take them out.  No effect on an ordinary build.
printf '%s\n' leak:libmpi.so leak:libopen-pal.so leak:libopen-rte.so leak:libpmix.so \
    leak:libhwloc.so leak:libevent >"$tmp/lsan.supp"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$tmp/lsan.supp:fast_unwind_on_malloc=0"
# a deadlock between ranks must fail the test, not hang it
MPI=(timeout 300 mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS -x LSAN_OPTIONS -n 2)
# NUMREP_QUICK=1 (sanitizer builds): fewer images, no per-layer part
quick=${NUMREP_QUICK:-0}
limit=20
[ "$quick" = 1 ] && limit=10
# The emulator engines: with fast_unwind_on_malloc=0 above, ASan's slow
# unwinder deadlocks inside libgcc when the JIT registers its EH frames
# (a malloc under libgcc's object lock unwinds through the same lock).
# The engines agree bit for bit; what this test checks is the ranks.
common=(search "$NET" --data "$DATA" --limit $limit --max-loss 5% --grid float --exp 3:4 --man 3:5
        --engine emulator --sample-engine emulator --no-progress --json)
NCFG=6

# run1 NAME ARGS...: one process; runm NAME ARGS...: two ranks
run1() {
    local name=$1
    shift
    "$BIN" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
}
runm() {
    local name=$1
    shift
    "${MPI[@]}" "$BIN" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
}
jget() { # jget NAME EXPR
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$tmp/$1.out" "$2"
}
# share NAME RANK FIELD: from "rank R of 2: computed A R^2 samples and B full
# evaluations alone, C full evaluations with the data split"; FIELD 1, 2, 3
share() {
    sed -n "s/^numrep search: rank $2 of 2: computed \([0-9]*\) R^2 samples and \([0-9]*\) full evaluations alone, \([0-9]*\) full.*/\\$3/p" \
        "$tmp/$1.err"
}
rows() { # rows DB KIND
    sqlite3 "$1" "select count(*) from evaluations where kind = '$2'"
}
# same_rows A B MODE: every evaluation of A is in B with bit-equal
# measurements; MODE "equal": and B has no other row
same_rows() {
    python3 - "$1" "$2" "$3" <<'EOF'
import sqlite3, sys
def load(path):
    db = sqlite3.connect(path)
    cols = [r[1] for r in db.execute("pragma table_info(evaluations)")]
    key = [c for c in ("formats", "rounding", "mac", "layers", "spec_hash", "weights_hash",
                       "data_hash", "data_first", "data_count", "kind") if c in cols]
    val = [c for c in ("n", "top1", "top5", "norm_acc", "r2") if c in cols]
    q = "select %s, %s from evaluations" % (",".join(key), ",".join(val))
    return {r[:len(key)]: r[len(key):] for r in db.execute(q)}, len(val)
a, nv = load(sys.argv[1])
b, _ = load(sys.argv[2])
if nv < 3 or not a:
    sys.exit("no evaluations, or the table lacks the measurement columns")
bad = [k for k in a if k not in b or a[k] != b[k]]
extra = [k for k in b if k not in a] if sys.argv[3] == "equal" else []
for k in bad[:5]:
    print("differs:", k, a[k], b.get(k))
for k in extra[:5]:
    print("missing:", k)
sys.exit(1 if bad or extra else 0)
EOF
}

# ---- the single-process reference: exhaustive (every sample and full row)
run1 ref "${common[@]}" --method exhaustive --db "$tmp/ref.db"
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
    bad "single exhaustive: exit $rc: $(cat "$tmp/ref.err")"
    finish
fi
ref_ex=$(jget ref 'j["chosen"]')
cp "$tmp/ref.db" "$tmp/ref-fast.db"
run1 reffast "${common[@]}" --db "$tmp/ref-fast.db"
ref_fast=$(jget reffast 'j["chosen"]')

# ---- fast method, two ranks, fresh store
runm fast "${common[@]}" --db "$tmp/fast.db"
if grep -q "built without MPI" "$tmp/fast.err"; then
    [ "$rc" -ne 0 ] && ok || bad "no-MPI build under mpirun: exit 0"
    finish "numrep built without MPI: it refuses mpirun, as it should"
fi
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
    bad "mpirun fast: exit $rc: $(cat "$tmp/fast.err")"
else
    [ "$(jget fast 'j["chosen"]')" = "$ref_fast" ] && ok \
        || bad "fast: 2 ranks chose $(jget fast 'j["chosen"]'), 1 process $ref_fast"
    [ "$(jget fast 'j["ranks"]')" = 2 ] && ok || bad "fast: ranks $(jget fast 'j["ranks"]')"
    # only rank 0 prints the answer: exactly one JSON object
    [ "$(grep -c '"network"' "$tmp/fast.out")" = 1 ] && ok || bad "fast: stdout: $(cat "$tmp/fast.out")"
    s0=$(share fast 0 1) s1=$(share fast 1 1)
    if [ -z "$s0" ] || [ -z "$s1" ]; then
        bad "fast: no per-rank lines: $(cat "$tmp/fast.err")"
    else
        [ "$s0" -gt 0 ] && [ "$s1" -gt 0 ] && ok || bad "fast: a rank computed no samples ($s0, $s1)"
        # no sample computed twice: the shares add up to the rows, one per configuration
        [ $((s0 + s1)) -eq "$(rows "$tmp/fast.db" sample)" ] && [ $((s0 + s1)) -eq $NCFG ] && ok \
            || bad "fast: samples computed $s0 + $s1, rows $(rows "$tmp/fast.db" sample), configurations $NCFG"
        # the full evaluations were split over the ranks: each rank took part in each
        f0=$(share fast 0 3) f1=$(share fast 1 3)
        [ "$f0" = "$f1" ] && [ "$f0" -eq "$(rows "$tmp/fast.db" full)" ] && ok \
            || bad "fast: shared full evaluations $f0 / $f1, rows $(rows "$tmp/fast.db" full)"
        [ "$(jget fast 'j["full_evals"] <= 3')" = True ] && ok || bad "fast used > 3 full evaluations"
    fi
    [ "$(sqlite3 "$tmp/fast.db" 'select count(*) from runs')" = 1 ] && ok \
        || bad "fast: $(sqlite3 "$tmp/fast.db" 'select count(*) from runs') runs, want 1"
    out=$(same_rows "$tmp/fast.db" "$tmp/ref.db" subset) && ok || bad "fast rows vs single process: $out"
fi

# ---- exhaustive, two ranks, fresh store: configurations split by rank
runm ex "${common[@]}" --method exhaustive --db "$tmp/ex.db"
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
    bad "mpirun exhaustive: exit $rc: $(cat "$tmp/ex.err")"
else
    [ "$(jget ex 'j["chosen"]')" = "$ref_ex" ] && ok \
        || bad "exhaustive: 2 ranks chose $(jget ex 'j["chosen"]'), 1 process $ref_ex"
    [ "$(jget ex 'j["full_evals"]')" = $NCFG ] && [ "$(jget ex 'j["full_computed"]')" = $NCFG ] \
        && ok || bad "exhaustive counts: $(cat "$tmp/ex.out")"
    o0=$(share ex 0 2) o1=$(share ex 1 2) b0=$(share ex 0 3)
    if [ -z "$o0" ] || [ -z "$o1" ]; then
        bad "exhaustive: no per-rank lines: $(cat "$tmp/ex.err")"
    else
        [ "$o0" -gt 0 ] && [ "$o1" -gt 0 ] && ok || bad "exhaustive: a rank measured nothing ($o0, $o1)"
        # each configuration measured once; plus the shared fp32 baseline
        [ $((o0 + o1)) -eq $NCFG ] && [ $((o0 + o1 + b0)) -eq "$(rows "$tmp/ex.db" full)" ] && ok \
            || bad "exhaustive: measured $o0 + $o1 (+ $b0 shared), rows $(rows "$tmp/ex.db" full)"
    fi
    out=$(same_rows "$tmp/ex.db" "$tmp/ref.db" equal) && ok || bad "exhaustive rows vs single process: $out"
fi

# ---- stopped under mpirun, then resumed: nothing lost, nothing repeated
runm stop "${common[@]}" --method exhaustive --db "$tmp/res.db" --stop-after 2
[ "$rc" -eq 4 ] && grep -q "run again to resume" "$tmp/stop.err" && ok \
    || bad "mpirun --stop-after: exit $rc: $(cat "$tmp/stop.err")"
runm res "${common[@]}" --method exhaustive --db "$tmp/res.db"
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
    bad "mpirun resume: exit $rc: $(cat "$tmp/res.err")"
else
    [ "$(jget res 'j["chosen"]')" = "$ref_ex" ] && ok || bad "resume chose $(jget res 'j["chosen"]')"
    total=0
    for r in stop res; do
        for k in 0 1; do
            for f in 1 2; do
                total=$((total + $(share $r $k $f)))
            done
        done
        total=$((total + $(share $r 0 3)))
    done
    all=$(sqlite3 "$tmp/res.db" 'select count(*) from evaluations')
    [ "$total" -eq "$all" ] && ok || bad "stop + resume computed $total evaluations, the store has $all"
    out=$(same_rows "$tmp/res.db" "$tmp/ref.db" equal) && ok || bad "resumed rows vs single process: $out"
    [ "$(sqlite3 "$tmp/res.db" "select count(*) from runs where method = 'exhaustive'")" = 1 ] && ok \
        || bad "resume opened a second run"
fi

# ---- per-layer, continuing the fast searches above (their uniform answers
# come from the stores): the shared steps give a single process's answer
[ "$quick" = 1 ] && finish "NUMREP_QUICK: per-layer part skipped"
cp "$tmp/fast.db" "$tmp/pl2.db"
cp "$tmp/ref-fast.db" "$tmp/pl1.db"
run1 pl1 "${common[@]}" --per-layer --steps 1 --db "$tmp/pl1.db"
runm pl2 "${common[@]}" --per-layer --steps 1 --db "$tmp/pl2.db"
if [ "$rc" -ne 0 ]; then
    bad "mpirun --per-layer: exit $rc: $(cat "$tmp/pl2.err")"
else
    [ "$(jget pl2 'j["per_layer"]')" = "$(jget pl1 'j["per_layer"]')" ] && ok \
        || bad "per-layer: 2 ranks $(jget pl2 'j["per_layer"]'), 1 process $(jget pl1 'j["per_layer"]')"
    q='select layer, formats, n, top1 from sensitivity order by layer, formats'
    [ -n "$(sqlite3 "$tmp/pl2.db" "$q")" ] &&
        [ "$(sqlite3 "$tmp/pl2.db" "$q")" = "$(sqlite3 "$tmp/pl1.db" "$q")" ] && ok \
        || bad "per-layer sensitivity rows differ"
    out=$(same_rows "$tmp/pl2.db" "$tmp/pl1.db" subset) && ok || bad "per-layer rows: $out"
fi

finish
