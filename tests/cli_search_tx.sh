#!/usr/bin/env bash
# cli_search_tx.sh -- `numrep search` on the transformers: a tiny search on
# the GPT language model with a perplexity budget (--metric perplexity
# --budget, docs/search.md "Language models") and on the CCT classifier
# with a top-1 budget (as for CNNs).  Each answer's precision file is
# evaluated again with `numrep eval` and must give the perplexity (top-1)
# the search reported, within the budget; every candidate the LM search
# measured before its answer must fail the budget; an impossible budget
# exits 3; bad command lines are usage errors.
# usage: bash tests/cli_search_tx.sh path/to/numrep
set -u
BIN=${1:?usage: cli_search_tx.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
GPT=$SRC/specs/gpt/gpt.yaml
CCT=$SRC/specs/cct/cct.yaml
[ -f "$GPT" ] && [ -f "$CCT" ] || skip_all "specs/gpt or specs/cct missing"

# jq-free JSON field: the number (or word) after "KEY": in file F
field() { grep -o "\"$1\": [^,}]*" "$2" | head -1 | sed 's/.*: //'; }

# 1. the LM: e5m6 and e5m7, uniform then mixed, 8 windows, perplexity within 10 %
run search "$GPT" --metric perplexity --budget 10% --limit 8 --exp 5 --man 6:7 \
    --no-progress --json --emit-precision "$tmp/lm.yaml"
cp "$tmp/out" "$tmp/lm.json"
[ "$rc" -eq 0 ] && ok || bad "lm search: exit $rc: $(cat "$tmp/err" "$tmp/out")"
[ -s "$tmp/lm.yaml" ] && ok || bad "lm search: no precision file"
fp32=$(field fp32_perplexity "$tmp/lm.json")
maxp=$(field max_perplexity "$tmp/lm.json")
chosen=$(grep -o '"chosen": {[^}]*}' "$tmp/lm.json")
cppl=$(echo "$chosen" | grep -o '"perplexity": [0-9.]*' | sed 's/.*: //')
awk -v f="$fp32" -v m="$maxp" -v c="$cppl" 'BEGIN { exit !(f > 1 && m > f * 1.0999 && m < f * 1.1001 && c <= m) }' &&
    ok || bad "lm search: fp32 $fp32, max $maxp, chosen $cppl"
# every row before the answer fails, the answer (last row) passes
rows=$(grep -o '"pass": [a-z]*' "$tmp/lm.json" | sed 's/.*: //' | tr '\n' ' ')
case "$rows" in *true*true*) bad "lm search: rows after a pass: $rows" ;; *" false "*true" "|true" ") ok ;;
    *) bad "lm search: rows $rows" ;; esac
# the answer re-evaluated: the same perplexity, within the budget
run eval "$GPT" --metric perplexity -p "$tmp/lm.yaml" --limit 8 --json --no-progress
[ "$rc" -eq 0 ] && ok || bad "lm eval of the answer: exit $rc: $(cat "$tmp/err")"
eppl=$(field perplexity "$tmp/out")
[ -n "$eppl" ] && [ "$eppl" = "$cppl" ] && ok ||
    bad "lm eval of the answer: perplexity $eppl, the search said $cppl"
awk -v e="$eppl" -v f="$fp32" 'BEGIN { exit !(e <= f * 1.1) }' && ok ||
    bad "lm eval of the answer: perplexity $eppl over fp32 $fp32 + 10 %"

# 2. nothing in a 4-bit grid keeps the perplexity within 1 %: exit 3
run search "$GPT" --metric perplexity --budget 1% --limit 2 --exp 4 --man 2 --roles uniform \
    --no-progress
[ "$rc" -eq 3 ] && grep -q "none of 1 candidates" "$tmp/out" && ok ||
    bad "lm search, impossible budget: exit $rc: $(cat "$tmp/out" "$tmp/err")"

# 3. usage errors
expect_fail 2 "missing --budget" search "$GPT" --metric perplexity
expect_fail 2 "--budget" search "$GPT" --metric perplexity --budget lots
expect_fail 2 "not a language model" search "$CCT" --metric perplexity --budget 2%
expect_fail 2 "--roles" search "$GPT" --metric perplexity --budget 2% --roles some
expect_fail 2 "plain formats" search "$GPT" --metric perplexity --budget 2% --grid scaled

# 4. the CCT: top-1 within 10 % on 4 images, one configuration
run search "$CCT" --max-loss 10% --limit 4 --method exhaustive --no-r2 --grid float --exp 8 \
    --man 7 --db "$tmp/cct.db" --json --no-progress --emit-precision "$tmp/cct.yaml"
cp "$tmp/out" "$tmp/cct.json"
[ "$rc" -eq 0 ] && [ -s "$tmp/cct.yaml" ] && ok ||
    bad "cct search: exit $rc: $(cat "$tmp/err" "$tmp/out")"
top1=$(field top1 "$tmp/cct.json")
run eval "$CCT" -p "$tmp/cct.yaml" --limit 4 --no-progress --json
[ "$rc" -eq 0 ] && ok || bad "cct eval of the answer: exit $rc: $(cat "$tmp/err")"
etop1=$(field top1 "$tmp/out")
awk -v a="$top1" -v b="$etop1" 'BEGIN { exit !(a != "" && a + 0 == b + 0) }' && ok ||
    bad "cct eval of the answer: top-1 $etop1, the search said $top1"
finish
