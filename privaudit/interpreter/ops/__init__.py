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

__all__ = ["CONFIG_SLOTS", "OPS", "PREPARE", "OpFn", "Prepare"]

# Input slots that hold configuration, not weights: float initializers there stay frozen buffers.
CONFIG_SLOTS: dict[str, tuple[int, ...]] = {
    "BatchNormalization": (3, 4),
    "Resize": (1, 2, 3),
    "Upsample": (1,),
    "Clip": (1, 2),
    "Dropout": (1, 2),
    "Pad": (2,),
}

# NOTE: the families own disjoint op names, so the merge overrides nothing.
OPS: dict[str, OpFn] = {**ELEMENTWISE_OPS, **NN_OPS, **TENSOR_OPS, **RESIZE_OPS}

# Per-node attribute checks and precomputation, run once when the module is built.
PREPARE: dict[str, Prepare] = {**NN_PREPARE, **TENSOR_PREPARE, **RESIZE_PREPARE}
