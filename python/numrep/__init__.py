"""numrep -- custom number formats and bit-exact DNN inference from Python.

A thin ctypes layer over libnumrep.so (formats, arithmetic, emulator,
readers, study) and libnumrep_gen.so (the LLVM JIT): the same C API the
`numrep` command line uses, no second implementation.  See python/README.md.

    import numpy as np, numrep
    f = numrep.Format("e4m3")
    y = numrep.round(np.float32([3.14159]), f)          # 3.25
    m = numrep.Model("specs/lenet5/lenet5.yaml", precision="e4m3")
    logits = m.run(x)                                    # JIT, bit-exact
"""
from ._lib import (Error, ParseError, RangeError, ShapeError, FileError, OutOfMemory,  # noqa: F401
                   CorruptError, UnsupportedError, InternalError)
from .formats import (Format, ScaledFormat, ScaledCodes, round, encode, decode, pack, unpack,  # noqa: F401
                      add, sub, mul, div, fma, sqrt,
                      threads_default)
from .model import Model  # noqa: F401
from .study import cost, import_onnx, from_torch, search, report, calibrate  # noqa: F401

__version__ = "0.1.0"
