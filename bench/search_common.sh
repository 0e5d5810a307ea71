# search_common.sh -- sourced by the precision-search benches (search_four.sh,
# search_loo.sh): the numrep binary and the shared data, checked once, and a
# JSON field reader.  Sets bin and shared; exits 2 without the binary and 0
# (skipped) without ../shared/data.  Needs here, build and name set.
bin=$build/numrep
[ -x "$bin" ] || { echo "$name: no $bin (cmake --build $build)" >&2; exit 2; }
shared=${NUMREP_SHARED_DATA:-$here/../shared/data}
if [ ! -f "$shared/README.md" ]; then
    echo "$name: $shared absent; skipped"
    exit 0
fi
py=/usr/bin/python3
[ -x "$py" ] || py=python3
# field JSON KEY: one top-level field of a search's --json answer
field() { "$py" -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v)' "$1" "$2"; }
