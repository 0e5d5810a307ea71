#!/usr/bin/env bash
# report_chromium.sh -- `numrep report` checked in a real browser: write a
# realistic synthetic results store (check_results --demo), render the
# report in headless Chromium, and check from the DOM that every chart was
# drawn, with as many marks as the database (queried independently with
# Python's sqlite3) says there are configurations.  The screenshot and the
# page are kept in OUTDIR.  Skips (exit 77, ctest: Skipped) when chromium is not installed.
# usage: bash tests/report/report_chromium.sh path/to/numrep path/to/check_results [OUTDIR]
set -u
BIN=${1:?usage: report_chromium.sh numrep check_results [OUTDIR]}
HELPER=${2:?usage: report_chromium.sh numrep check_results [OUTDIR]}
OUT=${3:-$PWD/report-artifacts}
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    echo "skipped: report_chromium: chromium not installed"
    exit 77
fi
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

db=$tmp/demo.db
html=$OUT/report.html
png=$OUT/report.png
"$HELPER" --demo "$db" >"$tmp/demo.log" 2>&1 || { cat "$tmp/demo.log" >&2; echo "FAIL: demo db" >&2; exit 1; }
"$BIN" report "$db" -o "$html" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; echo "FAIL: numrep report" >&2; exit 1; }

# a browser that may not touch the network, with a throwaway profile
chrome() {
    timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --disable-extensions \
        --user-data-dir="$tmp/profile" "$@" 2>>"$tmp/chrome.log"
}
chrome --screenshot="$png" --window-size=1400,2900 "file://$html" >/dev/null
chrome --dump-dom "file://$html" >"$tmp/dom.html"
[ -s "$png" ] && [ "$(stat -c %s "$png")" -gt 50000 ] || bad "no screenshot (or a blank one): $png"
[ -s "$tmp/dom.html" ] || { tail -5 "$tmp/chrome.log" >&2; echo "FAIL: chromium dumped no DOM" >&2; exit 1; }

# Expected marks, from the database itself (not from numrep).
python3 - "$db" "$tmp/dom.html" <<'PY' || fail=$((fail + 1))
import re, sqlite3, sys
db, dom = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
con = sqlite3.connect(db)
full = con.execute("SELECT DISTINCT formats, layers, rounding, mac FROM evaluations "
                   "WHERE kind = 'full' AND norm_acc IS NOT NULL").fetchall()
uniform = [f for f, l, r, m in full if l == ""]
# fixed point names: qI.F, uqI.F and the presets int8, int16, int32, uint8
n_fixed = sum(1 for f in uniform if re.match(r"u?q\d|u?int\d", f))
n_float = len(uniform) - n_fixed
chosen = con.execute("SELECT chosen_eval FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
n_sens = con.execute("SELECT count(*) FROM sensitivity WHERE norm_acc IS NOT NULL AND run_id = "
                     "(SELECT max(id) FROM runs)").fetchone()[0]
want = {"heat-float": n_float, "heat-fixed": n_fixed,
        "pareto-speed": len(full) + (1 if chosen else 0),
        "pareto-energy": len(full) + (1 if chosen else 0), "sens": n_sens}
errs = 0
def fail(msg):
    global errs
    errs += 1
    print("FAIL:", msg, file=sys.stderr)
body = re.search(r"<body([^>]*)>", dom)
if not body or 'data-ready="1"' not in body.group(1):
    fail("page script did not finish (no data-ready on <body>)")
m = body and re.search(r'data-charts="(\d+)"', body.group(1))
if not m or int(m.group(1)) != 7:
    fail("charts drawn: %s, want 7" % (m.group(1) if m else "none"))
for fig in ["heat-float", "heat-fixed", "pareto-speed", "pareto-energy", "r2", "cost", "sens"]:
    tag = re.search(r'<figure[^>]*id="%s"[^>]*>' % fig, dom)
    if not tag:
        fail("figure %s missing" % fig); continue
    if "data-error" in tag.group(0):
        fail("figure %s: script error: %s" % (fig, tag.group(0)))
    r = re.search(r'data-rendered="(\d+)"', tag.group(0))
    got = int(r.group(1)) if r else -1
    if fig in want and got != want[fig]:
        fail("%s drew %d marks, the database has %d" % (fig, got, want[fig]))
    elif got <= 0:
        fail("%s drew nothing" % fig)
nsvg = dom.count("<svg")
nmarks = len(re.findall(r"<(?:rect|circle|path)\b", dom))
if nsvg < 8 or nmarks < 2 * len(full):
    fail("only %d svg elements / %d marks" % (nsvg, nmarks))
if re.search(r'(?:src|href)="(?:https?:)?//', dom):
    fail("page refers to a network resource")
if "Loading" in dom.split("</h1>")[0][-200:]:
    fail("headline never filled in")
print("report_chromium: %d float + %d fixed cells, %d configurations, %d sensitivity bars, "
      "%d svg marks" % (n_float, n_fixed, len(full), n_sens, nmarks))
sys.exit(1 if errs else 0)
PY

# A run that has only just started (no evaluations, nothing chosen): every
# chart shows its "no data" note and the script still finishes cleanly.
cp "$db" "$tmp/sparse.db"
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for t in ("evaluations", "sensitivity", "predictors"):
    c.execute("DELETE FROM " + t)
c.execute("UPDATE runs SET finished = NULL, chosen_eval = 0")
c.commit()' "$tmp/sparse.db"
"$BIN" report "$tmp/sparse.db" -o "$tmp/sparse.html" >"$tmp/out" 2>&1 || bad "report of a fresh run: $(cat "$tmp/out")"
chrome --dump-dom "file://$tmp/sparse.html" >"$tmp/sparse.dom"
grep -q '<body data-charts="0" data-ready="1"' "$tmp/sparse.dom" ||
    bad "fresh run: page did not finish with 0 charts: $(grep -o '<body[^>]*>' "$tmp/sparse.dom")"
grep -q 'data-error=' "$tmp/sparse.dom" && bad "fresh run: a chart raised an error"
grep -q 'no configuration chosen yet' "$tmp/sparse.dom" || bad "fresh run: headline lacks 'no configuration chosen yet'"

if [ "$fail" -ne 0 ]; then
    echo "report_chromium: $fail failure(s); page and screenshot kept in $OUT" >&2
    exit 1
fi
echo "report_chromium: ok (screenshot: $png)"
