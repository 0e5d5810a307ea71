#!/usr/bin/python3
"""deps.py BUILD_DIR [SOURCE_DIR] -- the file-level call graph of libnumrep
and the generator, read from the built objects (nm: which global symbols a
file defines, which it uses), checked against the layout (runtime/README.md,
gen/README.md):

  * no cycle between files of different subsystems (folders): files that
    reach each other through calls are in one folder;
  * data flows one way: a file calls only into its own folder and the
    folders before it in the pipeline (ORDER below);
  * the MAC emitters emit_mac.c and emit_vmac.c do not call each other both
    ways (the plan decides, emit_layer.c dispatches, the vector kernel uses
    the scalar row code; gen/lower/emit_layer.c's emit_mac);
  * leaves (LEAVES below) call no function defined in another file of their
    own folder: the IR toolbox gen/lower/ir_tools.c is used by the plan's
    consumers (the module driver, the op emitters) and calls only gen/ir and
    runtime, whatever it needs from the plan being data on the plan.

Other cycles inside one folder are listed (for reading), not refused.
Exit 0 when the layout holds, 1 with each violation named, 77 (skipped)
when no objects are found.  Run by ctest as layout_deps."""
import collections, os, subprocess, sys

BUILD = sys.argv[1]
# folders in data-flow order; a file may call its own folder and earlier ones
ORDER = ["runtime/num", "runtime/io", "runtime/net", "runtime/emu", "runtime/rt",
         "runtime/study", "runtime/api",
         "gen/ir", "gen/lower", "gen/back", "gen/onnx", "gen/cli"]
# calls that go against ORDER on purpose: (calling folder, called file): why
ALLOWED_UP = {
    ("gen/lower", "gen/back/target.c"):
        "the emitters ask the target table (its owner) what the target has",
    ("runtime/emu", "runtime/rt/nlrt.c"):
        "the emulator's nonlinear functions are the run time's own, so they agree",
}
# pairs of files that must not call each other both ways, even in one folder
NO_MUTUAL = [("gen/lower/emit_mac.c", "gen/lower/emit_vmac.c")]
# files that call nothing in their own folder: why
LEAVES = {
    "gen/lower/ir_tools.c":
        "the IR toolbox the emitters share is a leaf (plan answers are data on gen_plan)",
}


def objects():
    """source path (runtime/num/arith.c) -> object file, from every target."""
    found = {}
    root = os.path.join(BUILD, "CMakeFiles")
    for target in ("numrep.dir", "numrep_gen.dir"):
        base = os.path.join(root, target)
        for d, _, files in os.walk(base):
            for f in files:
                if f.endswith(".c.o"):
                    rel = os.path.relpath(os.path.join(d, f), base)[:-2]
                    if rel.startswith(("runtime/", "gen/")):
                        found.setdefault(rel, os.path.join(d, f))
    return found


def nm(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defs, uses = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            uses.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRGSVW" and parts[1].isupper():
            defs.add(parts[2])
    return defs, uses


def folder(path):
    return os.path.dirname(path)


def sccs(graph):
    """Tarjan's strongly connected components (iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for v0 in sorted(graph):
        if v0 in index:
            continue
        work = [(v0, iter(sorted(graph[v0])))]
        index[v0] = low[v0] = counter[0]; counter[0] += 1
        stack.append(v0); on.add(v0)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop(); on.discard(w); comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main():
    objs = objects()
    if not objs:
        print("skipped: no objects under %s/CMakeFiles (build first)" % BUILD)
        return 77
    defs, uses = {}, {}
    for src, obj in objs.items():
        defs[src], uses[src] = nm(obj)
    owner = {}
    for src, ds in defs.items():
        for s in ds:
            owner.setdefault(s, src)
    graph = collections.defaultdict(set)
    why = {}
    for src, us in uses.items():
        graph[src]
        for s in us:
            dst = owner.get(s)
            if dst and dst != src:
                graph[src].add(dst)
                why.setdefault((src, dst), s)
    bad = []
    rank = {f: i for i, f in enumerate(ORDER)}
    for src in sorted(graph):
        for dst in sorted(graph[src]):
            fs, fd = folder(src), folder(dst)
            if fs in rank and fd in rank and rank[fd] > rank[fs] and (fs, dst) not in ALLOWED_UP:
                bad.append("%s calls %s (%s): %s comes after %s in the pipeline"
                           % (src, dst, why[(src, dst)], fd, fs))
    inner = []
    for comp in sccs(graph):
        folders = sorted({folder(f) for f in comp})
        if len(folders) > 1:
            bad.append("cycle across subsystems %s: %s" % (", ".join(folders), " ".join(comp)))
        else:
            inner.append(comp)
    for a, b in NO_MUTUAL:
        if b in graph.get(a, ()) and a in graph.get(b, ()):
            bad.append("%s and %s call each other (%s, %s)" % (a, b, why[(a, b)], why[(b, a)]))
    for leaf, reason in sorted(LEAVES.items()):
        if leaf not in graph:
            bad.append("%s: leaf not found among the built objects" % leaf)
        for dst in sorted(graph.get(leaf, ())):
            if folder(dst) == folder(leaf):
                bad.append("%s calls %s (%s): %s" % (leaf, dst, why[(leaf, dst)], reason))
    for comp in inner:
        print("note: cycle inside %s: %s" % (folder(comp[0]), " ".join(os.path.basename(f) for f in comp)))
    nedges = sum(len(v) for v in graph.values())
    print("%d files, %d file-to-file call edges, %d folders" % (len(graph), nedges,
          len({folder(f) for f in graph})))
    for b in bad:
        print("FAIL: " + b)
    print("layout: %s" % ("ok" if not bad else "%d violation(s)" % len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
