"""Interpreter op family: tensor plumbing, against onnxruntime.

Reshaping, slicing, padding, gathering, shapes and casts.

Every op of `privaudit.interpreter.ops.tensor` runs as a one-node graph, in each attribute
variant and opset form listed here, and must match onnxruntime within TOL.
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper
from onnx_cases import (
    BT,
    FT,
    I64,
    INT64_MAX,
    LT,
    SHAPE,
    X3,
    X4,
    C,
    case,
    rand,
    single_op_test,
)

CASES = [
    case("flatten-0", "Flatten", [X4], axis=0),
    case("flatten-2", "Flatten", [X4], axis=2),
    case("flatten-neg", "Flatten", [X4], axis=-1),
    case("reshape-copy-infer", "Reshape", [X4, C([0, -1, 7], I64)]),
    case("reshape-allowzero", "Reshape", [X4, C([2, 14, 7], I64)], allowzero=1),
    case("transpose-default", "Transpose", [X4]),
    case("transpose-perm", "Transpose", [X4], perm=[0, 2, 3, 1]),
    case("concat", "Concat", [X3, C(rand(2, 6, 3))], axis=-1),
    case("split-attr-11", "Split", [X3], opset=11, out=(FT, FT), axis=1, split=[1, 5]),
    case("split-input-13", "Split", [X3, C([3, 5], I64)], opset=13, out=(FT, FT), axis=-1),
    case("split-equal-13", "Split", [X3], opset=13, out=(FT, FT, FT), axis=1),
    case(
        "split-num-outputs-18",
        "Split",
        [rand(2, 7)],
        opset=18,
        out=(FT, FT, FT),
        axis=1,
        num_outputs=3,
    ),
    case(
        "slice-steps",
        "Slice",
        [X3, C([1, -1], I64), C([5, -9], I64), C([1, -1], I64), C([2, -2], I64)],
        opset=13,
    ),
    case(
        "slice-clamped",
        "Slice",
        [X3, C([-100, 2], I64), C([INT64_MAX, 100], I64), C([-1, 1], I64)],
        opset=13,
    ),
    case(
        "slice-reverse-all",
        "Slice",
        [X3, C([-1], I64), C([-INT64_MAX], I64), C([2], I64), C([-1], I64)],
        opset=13,
    ),
    case("slice-attrs-9", "Slice", [X3], opset=9, starts=[0, 1], ends=[1, 6], axes=[0, 2]),
    case(
        "pad-constant", "Pad", [X4, C([0, 0, 1, 2, 0, 0, 2, 0], I64), C(np.float32(0.5))], opset=13
    ),
    case("pad-crop", "Pad", [X4, C([0, 0, -1, 2, 0, 0, 1, -2], I64)], opset=13),
    case("pad-reflect", "Pad", [X4, C([0, 0, 2, 1, 0, 0, 1, 2], I64)], opset=13, mode="reflect"),
    case("pad-edge", "Pad", [X4, C([0, 0, 2, 1, 0, 0, 1, 2], I64)], opset=13, mode="edge"),
    case(
        "pad-wrap-axes-19",
        "Pad",
        [X4, C([1, 2, 2, 1], I64), None, C([2, -1], I64)],
        opset=19,
        mode="wrap",
    ),
    case("pad-attrs-2", "Pad", [X4], opset=2, pads=[0, 0, 1, 1, 0, 0, 1, 1], value=2.0),
    case(
        "constant-of-shape-int",
        "ConstantOfShape",
        [C(SHAPE)],
        out=(LT,),
        value=numpy_helper.from_array(np.array([7], I64)),
    ),
    case("constant-of-shape-default", "ConstantOfShape", [np.array([2, 3], I64)]),
    case("shape", "Shape", [X4], out=(LT,)),
    case("shape-start-end", "Shape", [X4], out=(LT,), start=1, end=-1),
    case("gather-neg", "Gather", [X4, C([[-1, 0], [1, 1]], I64)], axis=1),
    case("gather-scalar", "Gather", [np.array([4, 5, 6], I64), C(np.int64(-2))], out=(LT,)),
    case("unsqueeze-attr-11", "Unsqueeze", [X3], opset=11, axes=[0, -1]),
    case("unsqueeze-input-13", "Unsqueeze", [X3, C([1, -1], I64)], opset=13),
    case("squeeze-attr-11", "Squeeze", [rand(2, 1, 3, 1)], opset=11, axes=[-1]),
    case("squeeze-input-13", "Squeeze", [rand(2, 1, 3, 1), C([1, 3], I64)], opset=13),
    case("squeeze-all-13", "Squeeze", [rand(2, 1, 3, 1)], opset=13),
    case("cast-to-int", "Cast", [X3 * 3], out=(LT,), to=LT),
    case("cast-to-float", "Cast", [np.array([1, -2, 3], I64)], to=FT),
    case("cast-to-bool", "Cast", [np.array([0.0, 0.5, -1.0], np.float32)], out=(BT,), to=BT),
    case("castlike", "CastLike", [np.array([1, -2, 3], I64), C(np.zeros(1, np.float32))]),
    case("expand", "Expand", [rand(2, 1), C([3, 1, 4], I64)]),
    case("range-int", "Range", [C(np.int64(2)), C(np.int64(11)), C(np.int64(3))], out=(LT,)),
    case("range-float", "Range", [C(np.float32(1.0)), C(np.float32(-1.0)), C(np.float32(-0.3))]),
]


test_single_op_matches_ort = single_op_test(CASES)
