#!/usr/bin/python3
"""longfn.py [SOURCE_DIR] [--max N] -- list the C functions longer than N
lines (default 120) in runtime/, gen/, tests/, bench/ and templates/, the
longest first: 'lines  file:line  function'.  A function is a definition
whose opening brace stands alone at column 0 and whose closing brace is the
next '}' at column 0 (the prevailing style, .clang-format); its length
counts from the first line of its signature to the closing brace.

Report only (exit 0): functions "mostly under ~100 lines" is a style goal
(COMMON.md), not a hard rule; the list shows where splitting into named
steps would help.  --fail makes it exit 1 when any function is listed."""
import os, re, sys

args = sys.argv[1:]
limit, fail = 120, "--fail" in args
if "--max" in args:
    limit = int(args[args.index("--max") + 1])
    del args[args.index("--max"):args.index("--max") + 2]
args = [a for a in args if a != "--fail"]
root = args[0] if args else "."
NAME = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)\s*\(")


def functions(path):
    lines = open(path, errors="replace").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            # the signature: back to the line that starts at column 0
            s = i - 1
            while s > 0 and lines[s][:1] in (" ", "\t") and lines[s].strip():
                s -= 1
            m = NAME.search(lines[s])
            j = i + 1
            while j < len(lines) and not lines[j].startswith("}"):
                j += 1
            if m and not lines[s].lstrip().startswith(("#", "/*", "*")):
                yield m.group(1), s + 1, j - s + 1
            i = j
        i += 1


def main():
    rows = []
    for top in ("runtime", "gen", "tests", "bench", "templates"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith(".c"):
                    p = os.path.join(d, f)
                    for name, line, n in functions(p):
                        if n > limit:
                            rows.append((n, "%s:%d" % (os.path.relpath(p, root), line), name))
    for n, where, name in sorted(rows, reverse=True):
        print("%5d  %-45s %s" % (n, where, name))
    print("%d function(s) over %d lines" % (len(rows), limit))
    return 1 if fail and rows else 0


if __name__ == "__main__":
    sys.exit(main())
