#!/usr/bin/env bash
# run_pytest.sh -- ctest's python_numrep: pytest over python/tests with the
# shared libraries of this build (NUMREP_LIB / NUMREP_GEN_LIB, set by CMake).
# Exit 77 (ctest SKIP) in sanitizer builds -- an ASan-instrumented .so loaded
# into an uninstrumented python needs libasan preloaded, and python's own
# allocations then drown the leak report -- and when no python3 with numpy
# and pytest is installed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "${NUMREP_SANITIZE:-0}" = 1 ]; then
    echo "python_numrep: skipped in the sanitizer build (run it in the release build)"
    exit 77
fi
py=""
for cand in "${NUMREP_PYTHON3:-}" /usr/bin/python3 python3; do
    [ -n "$cand" ] || continue
    if "$cand" -c "import numpy, pytest" 2>/dev/null; then py=$cand; break; fi
done
if [ -z "$py" ]; then
    echo "python_numrep: no python3 with numpy and pytest (apt-get install python3-numpy python3-pytest)"
    exit 77
fi
export PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
cd "$here"
[ $# -gt 0 ] || set -- "$here"
"$py" -m pytest -q -p no:cacheprovider "$@"
rc=$?
[ $rc -eq 5 ] && { echo "python_numrep: pytest collected no tests"; exit 1; }
exit $rc
