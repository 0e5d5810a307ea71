"""numrep.torch -- PyTorch interop (needs python3-torch; imported as
`import numrep.torch`):

  quantize(tensor, fmt, rounding="rne", seed=None)
      fake quantization: the tensor's values rounded into fmt, returned as a
      new tensor of the same dtype (float32/float64), device CPU; the same
      bits as numrep.round on the same array.  No gradient (use a
      straight-through estimator around it for training).
  NumrepModule(model)
      a torch.nn.Module whose forward(x) runs a numrep.Model (the JIT, or the
      emulator with engine="emulator") on a float32 [N,C,H,W] tensor, for
      inference."""
import numpy as np
import torch as _torch

from . import formats as _formats
from .model import Model


def _numpy(t, what):
    if not isinstance(t, _torch.Tensor):
        raise TypeError("numrep.torch.%s: expected a torch.Tensor, got %s"
                        % (what, type(t).__name__))
    if t.dtype not in (_torch.float32, _torch.float64):
        raise TypeError("numrep.torch.%s: expected dtype float32 or float64, got %s"
                        % (what, t.dtype))
    return t.detach().cpu().contiguous().numpy()


def quantize(tensor, fmt, rounding="rne", seed=None, threads=0):
    """tensor's values rounded into fmt (a new tensor, same dtype and shape)."""
    x = _numpy(tensor, "quantize")
    return _torch.from_numpy(_formats.round(x, fmt, rounding=rounding, seed=seed,
                                            threads=threads))


class NumrepModule(_torch.nn.Module):
    """forward(x) = model.run(x) (engine "jit") or model.emulate(x)."""

    def __init__(self, model, engine="jit"):
        super().__init__()
        if not isinstance(model, Model):
            raise TypeError("numrep.torch.NumrepModule: expected a numrep.Model")
        if engine not in ("jit", "emulator"):
            raise ValueError("numrep.torch.NumrepModule: engine must be 'jit' or 'emulator'")
        self.model, self.engine = model, engine

    def forward(self, x):
        a = _numpy(x, "NumrepModule")
        a = np.ascontiguousarray(a, dtype=np.float32)
        y = self.model.run(a) if self.engine == "jit" else self.model.emulate(a)
        return _torch.from_numpy(y)
