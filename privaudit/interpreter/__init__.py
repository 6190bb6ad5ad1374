"""The ONNX-to-torch interpreter: run an ONNX graph with torch ops, train it, write it back.

`to_torch` checks a graph's ops and builds an `OnnxModule` (float initializers become
parameters, gradients reach inputs and weights); `OnnxModule.write_back` copies the trained
values into the original ONNX model. The op families live in `privaudit.interpreter.ops`.
"""

from privaudit.interpreter.module import OnnxModule, check_convertible, to_torch
from privaudit.interpreter.ops import OPS
from privaudit.interpreter.values import unsupported_ops

__all__ = ["OPS", "OnnxModule", "check_convertible", "to_torch", "unsupported_ops"]
