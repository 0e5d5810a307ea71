#!/usr/bin/env bash
# cli_search.sh -- `numrep search`: bad input gives the expected message and
# exit status; on LeNet-5 with a few MNIST images (skipped when the shared
# data is absent): JSON output, a stopped search resumes, a repeated query
# computes nothing, --fit-predictor writes a line.
# usage: bash tests/cli_search.sh path/to/numrep
BIN=${1:?usage: cli_search.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
NET=$SRC/specs/lenet5/lenet5.yaml
DATA=$SHARED/mnist

jget() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$tmp/out" "$1"
}

# ---- bad input
expect_fail 2 '--max-loss: expected a loss such as 1% or 0.01' search "$NET" --data x --max-loss 1x
expect_fail 2 '--max-loss: expected a loss' search "$NET" --data x --max-loss 100%
expect_fail 2 '--max-loss: expected a loss' search "$NET" --data x --max-loss -0.1
expect_fail 2 '--method: expected fast or exhaustive, got "slow"' search "$NET" --data x --max-loss 1% --method slow
expect_fail 2 'missing --data DATASET' search "$NET" --max-loss 1%
expect_fail 2 'missing --max-loss' search "$NET" --data x
expect_fail 2 'missing NET.yaml' search --max-loss 1%
expect_fail 2 '--exp: expected A:B' search "$NET" --data x --max-loss 1% --exp 5:3
expect_fail 2 '--man: expected A:B' search "$NET" --data x --max-loss 1% --man 3:x
expect_fail 2 '--jobs: expected an integer from 1 to 256, got "0"' search "$NET" --data x --max-loss 1% --jobs 0
expect_fail 2 '--engine: expected jit, jit-O0..jit-O3 or emulator' search "$NET" --data x --max-loss 1% --engine gpu
expect_fail 2 '--grid: expected both, float, fixed, scaled or all' search "$NET" --data x --max-loss 1% --grid posit
expect_fail 2 'unknown option --bogus' search "$NET" --data x --max-loss 1% --bogus
expect_fail 2 '--limit needs an argument' search "$NET" --max-loss 1% --limit
expect_fail 1 'no-such.yaml' search "$tmp/no-such.yaml" --data x --max-loss 1%
expect_fail 1 "$tmp/none.db" search --fit-predictor "$tmp/none.db"
expect_fail 2 '--model: expected margin-linear or r2-linear, got "cubic"' search --fit-predictor "$tmp/none.db" --model cubic
expect_fail 2 '--fit-min: expected a number, got "high"' search --fit-predictor "$tmp/none.db" --fit-min high
expect_fail 1 "--exp" search "$NET" --data "$tmp" --max-loss 1% --exp 0:3
printf 'c0: 1\nc1: [2]\n' >"$tmp/p.yaml"
run search --help
[ "$rc" -eq 0 ] && grep -q "fit-predictor" "$tmp/out" && ok || bad "--help"

# eval's top-1 (a fraction) from its JSON in $tmp/out
field_top1() { sed -n 's/.*"top1": \([0-9.]*\).*/\1/p' "$tmp/out" | head -1; }

# ---- on LeNet-5
if [ ! -d "$DATA" ]; then
    skip_part "LeNet-5 searches: $DATA absent"
else
    DB=$tmp/s.db
    common=(search "$NET" --data "$DATA" --limit 20 --max-loss 5% --grid float --exp 4 --man 3:5
            --db "$DB" --no-progress)
    # the predictor file is checked when it is used
    expect_fail 1 'p.yaml:2:5: c1' "${common[@]}" --predictor "$tmp/p.yaml"
    # stopped after 2 new evaluations: exit 4, then resumed
    run "${common[@]}" --stop-after 2
    [ "$rc" -eq 4 ] && grep -q "run again to resume" "$tmp/err" && ok \
        || bad "--stop-after: exit $rc: $(cat "$tmp/err")"
    n1=$(sqlite3 "$DB" 'select count(*) from evaluations' 2>/dev/null || echo 2)
    run "${common[@]}" --json
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
        bad "resume: exit $rc: $(cat "$tmp/err")"
    else
        [ "$(jget 'j["sample_evals"]')" = 3 ] && ok || bad "sample_evals: $(cat "$tmp/out")"
        [ "$(jget 'j["sample_computed"]')" = $((3 - (n1 - 1))) ] && ok \
            || bad "resume recomputed samples (had $n1 rows): $(cat "$tmp/out")"
        [ "$(jget 'j["full_evals"] <= 3')" = True ] && ok || bad "fast used > 3 full evaluations"
        chosen=$(jget 'j["chosen"]')
        # the answer as a precision file (printed in the JSON, written by
        # --emit-precision): eval with it on the same slice measures the same top-1
        top1=$(jget 'j["top1"]')
        run "${common[@]}" --json --emit-precision "$tmp/answer.yaml"
        if [ "$rc" -eq 0 ] && [ -s "$tmp/answer.yaml" ] &&
           [ "$(jget 'j["precision_yaml"]')" = "$(cat "$tmp/answer.yaml")" ]; then ok
        else bad "--emit-precision: exit $rc, $(cat "$tmp/answer.yaml" 2>&1)"; fi
        grep -q "^default: {weights: $chosen, .*rounding: rz, mac: unfused}" "$tmp/answer.yaml" \
            && ok || bad "precision file: $(cat "$tmp/answer.yaml")"
        run eval "$NET" -p "$tmp/answer.yaml" --data "$DATA" --limit 20 --json --no-cache --no-progress
        [ "$rc" -eq 0 ] && python3 -c "import sys; sys.exit(abs($(field_top1) - $top1) > 1e-6)" && ok \
            || bad "eval -p answer.yaml: top-1 $(cat "$tmp/out") vs search's $top1"
        expect_fail 1 "$tmp/no/dir/a.yaml" "${common[@]}" --emit-precision "$tmp/no/dir/a.yaml"
        # the same query again: everything from the store, same answer
        run "${common[@]}" --json
        [ "$(jget 'j["sample_computed"] + j["full_computed"]')" = 0 ] && ok \
            || bad "repeat computed something: $(cat "$tmp/out")"
        [ "$(jget 'j["chosen"]')" = "$chosen" ] && ok || bad "repeat chose differently"
        # CPU seconds per phase are reported (this run: everything from the store)
        [ "$(jget 'all(j[k] >= 0 for k in ("sample_cpu_seconds", "full_cpu_seconds", "fp32_cpu_seconds"))')" = True ] \
            && ok || bad "cpu seconds: $(cat "$tmp/out")"
        # --full-sweep: R^2 over the whole grid, same answer
        run "${common[@]/$DB/$tmp/full.db}" --json --full-sweep
        [ "$(jget 'j["sample_evals"]')" = 3 ] && [ "$(jget 'j["chosen"]')" = "$chosen" ] && ok \
            || bad "--full-sweep: $(cat "$tmp/out" "$tmp/err")"
        # exhaustive on the same store agrees
        run "${common[@]}" --json --method exhaustive
        [ "$(jget 'j["chosen"]')" = "$chosen" ] && ok \
            || bad "exhaustive chose $(jget 'j["chosen"]'), fast $chosen"
        # exhaustive without the R^2 sweep (a fresh store): no R^2 run, same answer
        run "${common[@]/$DB/$tmp/nor2.db}" --json --method exhaustive --no-r2
        [ "$rc" -eq 0 ] && [ "$(jget 'j["sample_evals"] + j["r2_inputs"]')" = 0 ] &&
            [ "$(jget 'j["chosen"]')" = "$chosen" ] && ok \
            || bad "exhaustive --no-r2: exit $rc: $(cat "$tmp/out" "$tmp/err")"
        expect_fail 1 'only --method exhaustive can skip it' "${common[@]}" --no-r2
        # text output names the choice and both counts
        run "${common[@]}"
        grep -q "^evaluations  full" "$tmp/out" && ok || bad "text output: $(cat "$tmp/out")"
        # refit the predictor from the store's exhaustive run: the default
        # model (margin-linear) on every point, and the paper's line
        run search --fit-predictor "$DB" --fit-min 0 -o "$tmp/fit.yaml"
        [ "$rc" -eq 0 ] && grep -q "^c1: " "$tmp/fit.yaml" && grep -q "lenet5" "$tmp/fit.yaml" \
            && grep -q "^model: margin-linear" "$tmp/fit.yaml" && grep -q "^fit_min: 0$" "$tmp/fit.yaml" \
            && ok || bad "--fit-predictor: exit $rc: $(cat "$tmp/err")"
        # a search with it predicts through the noise model
        run "${common[@]}" --json --predictor "$tmp/fit.yaml"
        [ "$(jget 'j["predictor"]')" = margin-linear ] && ok || bad "margin-linear search: $(cat "$tmp/out")"
        # it ranks by R^2 without the clamp's part unless --raw-r2 (docs/search.md);
        # the run's settings say which
        [ "$(jget 'j["score"]')" = clip ] && ok || bad "default score: $(cat "$tmp/out")"
        run "${common[@]}" --json --predictor "$tmp/fit.yaml" --raw-r2
        [ "$rc" -eq 0 ] && [ "$(jget 'j["score"]')" = r2 ] && [ "$(jget 'j["full_evals"] <= 3')" = True ] \
            && sqlite3 "$DB" 'select settings from runs' | grep -q 'score=r2' \
            && sqlite3 "$DB" 'select settings from runs' | grep -q 'score=clip' \
            && ok || bad "--raw-r2: exit $rc: $(cat "$tmp/out" "$tmp/err")"
        run search --fit-predictor "$DB" --model r2-linear -o "$tmp/fit2.yaml"
        [ "$rc" -eq 0 ] && grep -q "^model: r2-linear" "$tmp/fit2.yaml" \
            && ok || bad "--fit-predictor --model r2-linear: exit $rc: $(cat "$tmp/err")"
        # x >= 2 leaves no point
        expect_fail 1 'x >= 2' search --fit-predictor "$DB" --fit-min 2
        # leaving LeNet-5 out leaves nothing to fit
        expect_fail 1 'outside network lenet5' search --fit-predictor "$DB" --exclude lenet5
    fi
fi

# ---- a slice with a single label (the shared CIFAR-10 copy is sorted by class)
SORTED=$SHARED/cifar10
if [ -d "$SORTED" ]; then
    run search "$SRC/specs/resnet20/resnet20.yaml" --data "$SORTED" --limit 16 --max-loss 1% \
        --grid float --exp 5 --man 10 --db "$tmp/sorted.db" --no-progress
    [ "$rc" -eq 0 ] && grep -q "every sample of the slice has the same label" "$tmp/err" \
        && ok || bad "single-label slice: exit $rc, no warning: $(cat "$tmp/err")"
    run search "$SRC/specs/resnet20/resnet20.yaml" --data "$SRC/specs/resnet20/cifar10-1000" \
        --limit 16 --max-loss 50% --grid float --exp 5 --man 10 --db "$tmp/sorted.db" --no-progress
    [ "$rc" -eq 0 ] && ! grep -q "same label" "$tmp/err" \
        && ok || bad "balanced slice: exit $rc or a warning: $(cat "$tmp/err")"
else
    skip_part "single-label slice: $SORTED absent"
fi

finish
