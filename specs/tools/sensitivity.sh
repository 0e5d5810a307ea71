#!/usr/bin/env bash
# sensitivity.sh -- which part of a network is most sensitive to a narrow format
# (issue 14: per-op-type and per-layer sensitivity of the transformers): the
# network's metric with ONE op type (every layer of it), then ONE layer, in FMT
# (every role, the nonlinear one included), everything else fp32 ([op-prec]
# `ops:` and `layers:` overrides), on the first N samples of the spec's
# data, with the JIT (bit for bit the emulator's results).  Language models
# (an `embedding` reading the input) are scored by perplexity
# (`eval --metric perplexity`), classifiers by top-1.  Layers that only move
# values (tokens heads merge_heads slice) and layers without arithmetic
# (relu maxpool) get no row of their own.
# Prints TSV: kind (op|layer), name, metric, fp32's metric on the same samples,
# and the change: relative perplexity increase, or top-1 normalized to fp32.
# usage: bash specs/tools/sensitivity.sh path/to/numrep NET.yaml [FMT] [N] [--layers]
set -u
BIN=${1:?usage: sensitivity.sh path/to/numrep NET.yaml [FMT] [N] [--layers]}
NET=${2:?usage: sensitivity.sh path/to/numrep NET.yaml [FMT] [N] [--layers]}
FMT=${3:-e4m3}
N=${4:-32}
LAYERS=${5:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if grep -q 'op: embedding' "$NET"; then
    metric=(--metric perplexity) key=perplexity
else
    metric=() key=top1
fi
roles="{weights: $FMT, activations: $FMT, products: $FMT, accumulator: $FMT, nonlinear: $FMT}"
f32='default: {weights: fp32, activations: fp32, products: fp32, accumulator: fp32, nonlinear: fp32}'
one() { # one KIND NAME YAML-LINE
    printf '%s\n%s\n' "$f32" "$3" >"$tmp/p.yaml"
    if ! "$BIN" eval "$NET" "${metric[@]}" --json --no-progress --limit "$N" --engine jit \
        -p "$tmp/p.yaml" >"$tmp/out" 2>"$tmp/err"; then
        echo "$1 $2: $(cat "$tmp/err")" >&2
        return
    fi
    tr -d '\n' <"$tmp/out" | awk -v k="$1" -v n="$2" -v key="$key" '
        function get(f,   r) { r = "\"" f "\": ([-0-9.e]+|null)"
            if (!match($0, r)) return "?"; s = substr($0, RSTART, RLENGTH); sub(/.*: /, "", s); return s }
        { v = get(key); b = get("fp32_" key)
          if (key == "perplexity") d = v == "null" ? "inf" : sprintf("%+.4f", v / b - 1)
          else d = b > 0 ? sprintf("%.4f", v / b) : "?"
          printf "%s\t%s\t%s\t%s\t%s\n", k, n, v, b, d }'
}
printf 'kind\tname\t%s\tfp32_%s\t%s\n' "$key" "$key" \
    "$([ "$key" = perplexity ] && echo relative_increase || echo normalized)"
ops=$(sed -n 's/^  - {name: [^,]*, op: \([a-z_]*\).*/\1/p' "$NET" | awk '!seen[$0]++')
for op in $ops; do
    case $op in relu|maxpool) continue ;; esac
    one op "$op" "ops: {$op: $roles}"
done
[ "$LAYERS" = --layers ] || exit 0
sed -n 's/^  - {name: \([^,]*\), op: \([a-z_]*\).*/\1 \2/p' "$NET" |
while read -r name op; do
    case $op in tokens|heads|merge_heads|slice|relu|maxpool) continue ;; esac
    one layer "$name" "layers: {$name: $roles}"
done
