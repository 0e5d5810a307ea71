#!/usr/bin/env bash
# cli_cost.sh -- `numrep cost`: text and JSON output, the ranges the
# published figures call for, --calibration, exit codes and messages.
# usage: bash tests/cli_cost.sh path/to/numrep
set -u
BIN=${1:?usage: cli_cost.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"
CAL=$SRC/specs/calibration/mac-cost-points.yaml

# jget EXPR: evaluate a Python expression over the JSON in $tmp/out (as j)
jget() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$tmp/out" "$1"
}

# in_range LO HI VALUE
in_range() { python3 -c 'import sys; lo,hi,v=map(float,sys.argv[1:]); sys.exit(not lo<=v<=hi)' "$@"; }

# ---- JSON: the issue's ranges (paper: 7.2x AlexNet e6m7, 7.6x average)
run cost e6m7 --json
if [ "$rc" -ne 0 ]; then
    bad "cost e6m7 --json: exit $rc: $(cat "$tmp/err")"
else
    sp=$(jget 'j["speedup"]')
    in_range 5 9 "$sp" && ok || bad "e6m7 speedup $sp not in [5, 9]"
    [ "$(jget 'j["operands"]+" "+j["products"]+" "+j["accumulator"]')" = "e6m7 e6m7 e6m7" ] \
        && ok || bad "e6m7 format names: $(cat "$tmp/out")"
    [ "$(jget 'j["calibration"]')" = "None" ] && ok || bad "default calibration not null"
    # speedup = area ratio x clock gain; fixed clock = area ratio; MAC = mult + add
    [ "$(jget 'abs(j["speedup"] - j["area_ratio"]*j["clock_gain"]) < 1e-6*j["speedup"]')" = True ] \
        && ok || bad "speedup != area x clock"
    [ "$(jget 'j["speedup_fixed_clock"] == j["area_ratio"]')" = True ] && ok || bad "fixed clock"
    [ "$(jget 'all(abs(j["mac"][k]-j["multiplier"][k]-j["adder"][k]) < 1e-6*j["mac"][k] for k in ("area","delay","energy"))')" = True ] \
        && ok || bad "mac != multiplier + adder"
    [ "$(jget 'abs(j["fp32_mac"]["area"]/j["mac"]["area"] - j["area_ratio"]) < 1e-6')" = True ] \
        && ok || bad "area ratio not fp32 area / area"
    [ "$(jget 'len(j["model"])')" = 12 ] && ok || bad "model table size"
    [ "$(jget 'j["units"]["energy"]')" = pJ ] && ok || bad "units"
fi

run cost fp16 --json
ar=$(jget 'j["area_ratio"]')
in_range 3 4.5 "$ar" && ok || bad "fp16 area ratio $ar not in [3, 4.5]"

run cost fp32 --json
[ "$(jget 'j["speedup"] == 1 and j["energy_ratio"] == 1')" = True ] && ok || bad "fp32 vs itself"

# van Baalen 2023: FP8 MAC 1.5-2.8x less efficient than INT8
run cost int8 --json
i8=$(jget 'j["mac"]["area"]')
run cost e4m3 --json
f8=$(jget 'j["mac"]["area"]')
r=$(python3 -c "print($f8 / $i8)")
in_range 1.5 2.8 "$r" && ok || bad "e4m3/int8 area $r not in [1.5, 2.8]"

# more bits never cheaper, across the option paths too
run cost e4m3 --accumulator fp32 --json
a1=$(jget 'j["mac"]["area"]')
run cost e4m3 --accumulator=fp16 --json
a2=$(jget 'j["mac"]["area"]')
run cost e4m3 --products fp32 --accumulator fp32 --json
a3=$(jget 'j["mac"]["area"]')
[ "$(python3 -c "print($f8 < $a2 < $a1 <= $a3)")" = True ] && ok ||
    bad "areas e4m3 $f8, fp16 acc $a2, fp32 acc $a1, fp32 products $a3 not increasing"
run cost q3.4 --accumulator q15.16 --json
[ "$rc" -eq 0 ] && [ "$(jget 'j["accumulator"]')" = q15.16 ] && ok || bad "fixed with accumulator"

# ---- text output agrees with JSON
run cost e6m7
if [ "$rc" -ne 0 ]; then
    bad "cost e6m7: exit $rc"
else
    grep -q '^operands *e6m7$' "$tmp/out" && ok || bad "text: operands line"
    grep -q '^MAC ' "$tmp/out" && grep -q '^fp32 MAC ' "$tmp/out" && ok || bad "text: table"
    t=$(awk '/^speedup at equal area  /{print $5}' "$tmp/out")
    j=$(python3 -c "print('%.3f' % $sp)")
    [ "$t" = "$j" ] && ok || bad "text speedup '$t' vs json '$j'"
    grep -q '^speedup at equal area, fixed clock' "$tmp/out" && grep -q '^energy ratio' "$tmp/out" \
        && ok || bad "text: ratio lines"
fi

# ---- --calibration: the shipped file refits to about the same model
run cost e6m7 --calibration "$CAL" --json
if [ "$rc" -ne 0 ]; then
    bad "--calibration shipped: exit $rc: $(cat "$tmp/err")"
else
    sp2=$(jget 'j["speedup"]')
    a_refit=$(jget 'j["mac"]["area"]')
    [ "$(python3 -c "print(abs($sp2 / $sp - 1) < 0.02)")" = True ] && ok ||
        bad "refit speedup $sp2 far from default $sp"
    [ "$(jget 'sum(m["origin"] == "fitted" for m in j["model"])')" = 10 ] && ok ||
        bad "refit: 10 fitted groups expected"
    [ "$(jget 'max(m["max_rel_error"] for m in j["model"]) <= 0.2')" = True ] && ok ||
        bad "refit leaves a point beyond 20%"
fi
run cost e6m7 --calibration "$CAL"
grep -q '^fp mult *area .* fitted *5 ' "$tmp/out" && ok || bad "text coefficient table"

# a user's own points: everything twice as big scales the units, not the ratios
python3 - "$CAL" "$tmp/double.yaml" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
def dbl(m): return "%s: %r" % (m.group(1), 2 * float(m.group(2)))
open(sys.argv[2], "w").write(re.sub(r"\b(area|energy|delay): ([0-9.]+)", dbl, text))
EOF
run cost e6m7 --calibration "$tmp/double.yaml" --json
if [ "$rc" -eq 0 ]; then
    [ "$(python3 -c "print(abs($(jget 'j["speedup"]') / $sp2 - 1) < 1e-9)")" = True ] && ok ||
        bad "doubling every point changed the speedup"
    [ "$(python3 -c "print(abs($(jget 'j["mac"]["area"]') / $a_refit / 2 - 1) < 1e-9)")" = True ] \
        && ok || bad "doubling every point did not double the MAC area"
else
    bad "doubled calibration: $(cat "$tmp/err")"
fi

# ---- bad calibration files
printf 'points: [ {unit: mult, format: fp16, area: 1\n' >"$tmp/c1.yaml"
expect_fail 1 "c1.yaml:2:1: malformed YAML" cost e6m7 --calibration "$tmp/c1.yaml"
printf 'points:\n  - {unit: mult, area: 5}\n' >"$tmp/c2.yaml"
expect_fail 1 'c2.yaml:2:5: points[0]: missing field "format"' cost e6m7 --calibration "$tmp/c2.yaml"
printf 'points:\n  - {unit: add, format: fp16, area: -1360}\n' >"$tmp/c3.yaml"
expect_fail 1 "c3.yaml:2:37: points[0].area: expected a positive number, got -1360" \
    cost e6m7 --calibration "$tmp/c3.yaml"
printf 'points:\n  - {unit: add, format: fp99, area: 5}\n' >"$tmp/c4.yaml"
expect_fail 1 "c4.yaml:2:25: points[0].format:" cost e6m7 --calibration "$tmp/c4.yaml"
printf 'points:\n  - {unit: fma, format: fp16, area: 5}\n' >"$tmp/c5.yaml"
expect_fail 1 'c5.yaml:2:12: points[0].unit: expected mult or add, got "fma"' \
    cost e6m7 --calibration "$tmp/c5.yaml"
expect_fail 1 "nonexistent.yaml" cost e6m7 --calibration "$tmp/nonexistent.yaml"

# ---- bad formats and usage
expect_fail 1 "FMT:" cost e4x3
expect_fail 1 "--products:" cost e4m3 --products nope
expect_fail 1 "mixed float/fixed" cost q3.4 --accumulator fp32
expect_fail 1 "mixed float/fixed" cost e4m3 --products q7.8
expect_fail 2 "missing FMT" cost
expect_fail 2 "--accumulator needs a value" cost e4m3 --accumulator
expect_fail 2 'unknown option "--bogus"' cost e4m3 --bogus
expect_fail 2 "one format expected" cost e4m3 fp16
run cost --help
[ "$rc" -eq 0 ] && grep -q "speedup at equal area" "$tmp/out" && ok || bad "--help"

finish
