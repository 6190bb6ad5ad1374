"""The interpreter's op families and their registry: op name → implementation and preparation.

`base` holds the op interface (`OpFn`, `Prepare`, argument helpers); each other module is one
family (elementwise math, neural-network layers, tensor plumbing, resizing) exporting its
table. The families own disjoint op names; `OPS` and `PREPARE` merge them.
"""

from __future__ import annotations

from privaudit.interpreter.ops.base import OpFn, Prepare
from privaudit.interpreter.ops.elementwise import ELEMENTWISE_OPS
from privaudit.interpreter.ops.nn import NN_OPS, NN_PREPARE
from privaudit.interpreter.ops.resize import RESIZE_OPS, RESIZE_PREPARE
from privaudit.interpreter.ops.tensor import TENSOR_OPS, TENSOR_PREPARE

__all__ = ["OPS", "PREPARE", "WEIGHT_SLOTS", "OpFn", "Prepare"]

# Input slots that hold weights: a float constant read there (and nowhere else but in weight
# slots) is trained. Everything else constant (BatchNormalization statistics, Resize scales,
# Clip bounds, Pow exponents, epsilons, a normalisation baked into the graph) stays frozen;
# Add and Mul hold weights on the conditions of `privaudit.interpreter.module._weights`.
WEIGHT_SLOTS: dict[str, tuple[int, ...]] = {
    "Conv": (1, 2),
    "ConvTranspose": (1, 2),
    "Gemm": (0, 1, 2),
    "MatMul": (0, 1),
    "BatchNormalization": (1, 2),
    "InstanceNormalization": (1, 2),
    "LayerNormalization": (1, 2),
    "PRelu": (1,),
    "Gather": (0,),
}

# NOTE: the families own disjoint op names, so the merge overrides nothing.
OPS: dict[str, OpFn] = {**ELEMENTWISE_OPS, **NN_OPS, **TENSOR_OPS, **RESIZE_OPS}

# Per-node attribute checks and precomputation, run once when the module is built.
PREPARE: dict[str, Prepare] = {**NN_PREPARE, **TENSOR_PREPARE, **RESIZE_PREPARE}
