#!/usr/bin/env bash
# cli_search_scaled.sh -- `numrep search --grid scaled | all` (issue #13):
# the option's errors, and with ../shared/data (or NUMREP_SHARED_DATA) a
# small LeNet-5 search over the scaled grid whose answer is a scaled
# format with its own rounding and mac, and whose HTML report marks the
# scaled configurations.
# usage: bash tests/cli_search_scaled.sh path/to/numrep
set -u
BIN=${1:?usage: cli_search_scaled.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
NET=$SRC/specs/lenet5/lenet5.yaml
[ -f "$NET" ] || skip_all "specs/lenet5 missing"
expect_fail 2 "expected both, float, fixed, scaled or all" search "$NET" --max-loss 1% --grid mx
expect_fail 2 "--per-layer lowers layers in plain formats only" search "$NET" --max-loss 1% --grid scaled --per-layer
run search --help
grep -q 'all: both and scaled' "$tmp/out" && ok || bad "--help lacks --grid all"
DATA=$SHARED/mnist
[ -f "$DATA/t10k-images-idx3-ubyte.gz" ] || finish "no shared MNIST data: the LeNet-5 search"
run search "$NET" --data "$DATA" --limit 40 --samples 5 --max-loss 5% --grid scaled \
    --db "$tmp/s.db" --emit-precision "$tmp/p.yaml" --no-progress
[ "$rc" -eq 0 ] && ok || bad "search --grid scaled: exit $rc: $(cat "$tmp/err")"
grep -q '31 configurations' "$tmp/out" && ok || bad "not 31 configurations: $(cat "$tmp/out")"
grep -Eq 'rounding: rne, mac: block-(fp32|exact)' "$tmp/p.yaml" && ok || bad "answer file: $(cat "$tmp/p.yaml")"
grep -q '^default: {weights: [a-z0-9.@:-]*,' "$tmp/p.yaml" && ok || bad "answer weights: $(cat "$tmp/p.yaml")"
run eval "$NET" -p "$tmp/p.yaml" --data "$DATA" --limit 5 --no-progress
[ "$rc" -eq 0 ] && ok || bad "eval -p answer: $(cat "$tmp/err")"
run report "$tmp/s.db" -o "$tmp/r.html"
[ "$rc" -eq 0 ] && grep -q '"t":"scaled"' "$tmp/r.html" && ok || bad "report lacks scaled rows: $(cat "$tmp/err")"
finish
