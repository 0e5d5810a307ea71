"""test_install.py -- `cmake --install` puts the package into the prefix's
site-packages and the libraries into its lib/: a fresh python3 with only
that directory on its path (no NUMREP_* variables, run from elsewhere)
imports numrep from the prefix, loads the prefix's libraries, and gets the
same bits as this build; the generator finds its resources (the report
template) through the installed library's prefix."""
import os
import subprocess
import sys

import pytest

from conftest import SRC

BUILD = os.environ.get("NUMREP_BUILD_DIR") or os.path.join(SRC, "build")
CMAKE = os.environ.get("NUMREP_CMAKE") or "cmake"

PROBE = r"""
import json, os, sys, numpy as np, numrep, numrep._lib as L
f = numrep.Format("e4m3")
x = np.load(sys.argv[1])
m = numrep.Model(sys.argv[2], precision="e4m3")
y = m.run(x)
maps = open("/proc/self/maps").read()
libs = sorted({l.split()[-1] for l in maps.splitlines() if "libnumrep" in l})
np.save(sys.argv[3], y)
print(json.dumps({"pkg": numrep.__file__, "libs": libs,
                  "round": float(numrep.round(np.float32([3.14159]), f)[0])}))
"""

RES_PROBE = r"""
import ctypes, numrep._lib as L
fn = L.genlib().gen_res_find
fn.restype = ctypes.c_int
fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
               ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(L.NrErr)]
buf, origin, e = ctypes.create_string_buffer(4096), ctypes.c_char_p(), L.NrErr()
L.check(fn(0, buf, len(buf), ctypes.byref(origin), ctypes.byref(e)), e)
print("%s|%s" % (origin.value.decode(), buf.value.decode()))
"""


def test_cmake_install_puts_the_package_in_site_packages(tmp_path):
    prefix = tmp_path / "prefix"
    r = subprocess.run([CMAKE, "--install", BUILD, "--prefix", str(prefix)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.fail("cmake --install failed: %s" % r.stderr[-2000:])
    sites = [os.path.join(d, "numrep") for d, dirs, _ in os.walk(prefix) if "numrep" in dirs
             and d.endswith("-packages")]
    assert len(sites) == 1, sites
    site = os.path.dirname(sites[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMREP_", "PYTHON"))}
    env["PYTHONPATH"] = site
    x = os.path.join(SRC, "specs", "lenet5", "sample.npy")
    net = os.path.join(SRC, "specs", "lenet5", "lenet5.yaml")
    out = subprocess.run([sys.executable, "-c", PROBE, x, net, str(tmp_path / "y.npy")],
                         capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    import json
    import numpy as np
    import numrep
    got = json.loads(out.stdout)
    assert got["pkg"].startswith(site), got
    assert got["libs"] and all(l.startswith(str(prefix)) for l in got["libs"]), got
    assert got["round"] == 3.25
    want = numrep.Model(net, precision="e4m3").run(np.load(x))
    assert np.array_equal(np.load(tmp_path / "y.npy").view(np.uint32), want.view(np.uint32))
    # the generator's resources (gen/back/paths.h; GEN_RES_TEMPLATES is 0)
    # come from the installed library's prefix, not the build tree
    out = subprocess.run([sys.executable, "-c", RES_PROBE], capture_output=True, text=True,
                         env=env, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    origin, path = out.stdout.strip().split("|")
    assert origin == "install prefix" and path.startswith(str(prefix)), out.stdout


def test_setup_pth_makes_import_work_from_anywhere(tmp_path):
    """./setup.sh's python_path writes `$PWD/python` into numrep-source.pth in
    Debian python3's site-packages; a python3 that reads such a .pth (here
    from a temporary site dir, not to touch the system's) imports numrep
    from any directory with no NUMREP_* variables and finds this source
    tree's build/ libraries."""
    setup = open(os.path.join(SRC, "setup.sh")).read()
    assert 'echo "$PWD/python" > "$site/numrep-source.pth"' in setup
    if os.path.realpath(BUILD) != os.path.realpath(os.path.join(SRC, "build")):
        pytest.skip("this build is not the source tree's build/ (the .pth form finds that one)")
    site = tmp_path / "site"
    site.mkdir()
    (site / "numrep-source.pth").write_text(os.path.join(SRC, "python") + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMREP_", "PYTHON"))}
    code = ("import site, sys; site.addsitedir(sys.argv[1]); import numpy as np, numrep; "
            "print(numrep.__file__); print(numrep.round(np.float32([3.14159]), 'e4m3')[0]); "
            "print(numrep._lib.lib()._name)")
    out = subprocess.run([sys.executable, "-c", code, str(site)], capture_output=True,
                         text=True, env=env, cwd="/")
    assert out.returncode == 0, out.stderr[-3000:]
    pkg, val, libpath = out.stdout.split()
    assert pkg.startswith(os.path.join(SRC, "python")) and val == "3.25"
    assert os.path.realpath(libpath) == os.path.realpath(os.path.join(SRC, "build",
                                                                      "libnumrep.so"))
