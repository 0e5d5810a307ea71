"""command.py -- numrep.search and numrep.report.  Their orchestration (the
grid, the results store, resuming, MPI, the HTML page and its template)
lives in the command line (gen/cli/cmd_search.c, cmd_report.c), not yet in
a library function, so these two run the `numrep` executable of the same
build and return its --json answer: the same code, no second
implementation; the process start is nothing next to a search.

The executable: $NUMREP_BIN, else the source tree's build/numrep, else the
install prefix's bin/numrep, else `numrep` on PATH."""
import json
import os
import shutil
import subprocess

from ._lib import Error

_HERE = os.path.dirname(os.path.abspath(__file__))


class CommandError(Error):
    """The numrep command failed: its message, exit status in .status."""


class UsageError(CommandError, ValueError):
    """The numrep command refused the arguments (exit status 2)."""


def executable():
    """Path of the numrep command the package runs."""
    cands = [os.environ.get("NUMREP_BIN"),
             os.path.normpath(os.path.join(_HERE, "..", "..", "build", "numrep")),
             os.path.normpath(os.path.join(_HERE, "..", "..", "..", "..", "bin", "numrep")),
             shutil.which("numrep")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise FileNotFoundError("numrep: the numrep command was not found (set NUMREP_BIN or "
                            "build the source tree)")


def _run(args, ok=(0,)):
    r = subprocess.run([executable()] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode not in ok:
        msg = [m for m in r.stderr.strip().splitlines() if ": note: " not in m]
        text = msg[0] if msg else "numrep %s: exit status %d" % (args[0], r.returncode)
        text = text[len("numrep: "):] if text.startswith("numrep: ") else text
        ex = (UsageError if r.returncode == 2 else CommandError)(text, 2 if r.returncode == 2 else 1)
        ex.status, ex.stderr = r.returncode, r.stderr
        raise ex
    return r.stdout


def _options(opts):
    out = []
    for k, v in opts.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            out.append(flag)
        elif v is not None and v is not False:
            out += [flag, v]
    return out


def search(spec, max_loss, data=None, db="numrep-results.db", method="fast", jobs=1, **options):
    """`numrep search SPEC --max-loss L --json`: the fastest format whose
    normalized top-1 is within max_loss (a fraction, 0.01, or "1%") on data.
    Further options by their long name (per_layer=True, limit=200,
    grid="float", exp="3:6", engine="jit-O1", ...).  Every evaluation goes to
    the results store db; returns the command's JSON answer as a dict
    ("found": False when no format meets the budget, the command's exit
    status 3)."""
    args = ["search", os.fspath(spec), "--max-loss", max_loss, "--db", os.fspath(db),
            "--method", method, "--jobs", jobs, "--json", "--no-progress"]
    if data is not None:
        args += ["--data", os.fspath(data)]
    return json.loads(_run(args + _options(options), ok=(0, 3)))  # 3: none meets the budget


def report(db, path, run=None):
    """`numrep report DB -o PATH [--run ID]`: the self-contained HTML report
    of a results store; returns path."""
    args = ["report", os.fspath(db), "-o", os.fspath(path)]
    if run is not None:
        args += ["--run", int(run)]
    _run(args)
    return os.fspath(path)
