"""Interpreter op family: Resize and Upsample (parity with onnxruntime).

Every op of `privaudit.interpreter.ops.resize` runs as a one-node graph, in each attribute
variant and opset form listed here, and must match onnxruntime within TOL.
"""

from __future__ import annotations

import numpy as np
from onnx_cases import I64, X4, C, case, single_op_test

CASES = [
    case(
        "resize-nearest-asym-floor",
        "Resize",
        [X4, None, C([1, 1, 2, 2], np.float32)],
        opset=13,
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    ),
    case(
        "resize-nearest-default-down",
        "Resize",
        [X4, C([], np.float32), C([1, 1, 0.5, 0.6], np.float32)],
        opset=13,
    ),
    case(
        "resize-nearest-ceil-sizes",
        "Resize",
        [X4, None, None, C([2, 2, 10, 5], I64)],
        opset=13,
        nearest_mode="round_prefer_ceil",
    ),
    case(
        "resize-nearest-pytorch-hp",
        "Resize",
        [X4, None, C([1, 1, 1.5, 2.5], np.float32)],
        opset=13,
        coordinate_transformation_mode="pytorch_half_pixel",
        nearest_mode="ceil",
    ),
    case(
        "resize-linear-hp-up",
        "Resize",
        [X4, None, C([1, 1, 1.5, 2], np.float32)],
        opset=13,
        mode="linear",
    ),
    case(
        "resize-linear-hp-down",
        "Resize",
        [X4, None, C([1, 1, 0.6, 0.5], np.float32)],
        opset=13,
        mode="linear",
    ),
    case(
        "resize-linear-align",
        "Resize",
        [X4, None, None, C([2, 2, 11, 4], I64)],
        opset=13,
        mode="linear",
        coordinate_transformation_mode="align_corners",
    ),
    case(
        "resize-linear-asym",
        "Resize",
        [X4, None, C([1, 1, 2, 3], np.float32)],
        opset=13,
        mode="linear",
        coordinate_transformation_mode="asymmetric",
    ),
    case(
        "resize-linear-pytorch-hp",
        "Resize",
        [X4, None, None, C([2, 2, 1, 9], I64)],
        opset=13,
        mode="linear",
        coordinate_transformation_mode="pytorch_half_pixel",
    ),
    case(
        "resize-linear-symmetric-19",
        "Resize",
        [X4, None, C([1, 1, 1.7, 2.3], np.float32)],
        opset=19,
        mode="linear",
        coordinate_transformation_mode="half_pixel_symmetric",
    ),
    case(
        "resize-axes-18",
        "Resize",
        [X4, None, C([3], np.float32)],
        opset=18,
        axes=[-1],
        mode="linear",
    ),
    case("resize-10", "Resize", [X4, C([1, 1, 2, 3], np.float32)], opset=10),
    case("upsample-9-nearest", "Upsample", [X4, C([1, 1, 2, 3], np.float32)], opset=9),
    case(
        "upsample-9-linear", "Upsample", [X4, C([1, 1, 2, 2], np.float32)], opset=9, mode="linear"
    ),
    case("upsample-7-attr", "Upsample", [X4], opset=7, scales=[1.0, 1.0, 3.0, 2.0]),
]


test_single_op_matches_ort = single_op_test(CASES)
