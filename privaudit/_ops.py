"""Dispatch tables of the ONNX-to-torch interpreter: op name → implementation and preparation."""

from __future__ import annotations

from privaudit._ops_base import OpFn, Prepare
from privaudit._ops_math import MATH_OPS
from privaudit._ops_nn import NN_OPS, NN_PREPARE
from privaudit._ops_resize import RESIZE_OPS, RESIZE_PREPARE
from privaudit._ops_tensor import TENSOR_OPS, TENSOR_PREPARE

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
OPS: dict[str, OpFn] = {**MATH_OPS, **NN_OPS, **TENSOR_OPS, **RESIZE_OPS}

# Per-node attribute checks and precomputation, run once when the module is built.
PREPARE: dict[str, Prepare] = {**NN_PREPARE, **TENSOR_PREPARE, **RESIZE_PREPARE}
