"""Interpreter op family: elementwise math, comparisons, logic, Clip and Where, against ORT.

Every op of `privaudit.interpreter.ops.elementwise` runs as a one-node graph, in each attribute
variant and opset form listed here, and must match onnxruntime within TOL.
"""

from __future__ import annotations

import numpy as np
from onnx_cases import BT, I64, LT, X3, X4, C, case, rand, single_op_test

CASES = [
    case("matmul-batched", "MatMul", [X3, C(rand(8, 3))]),
    case("add-broadcast", "Add", [X4, C(rand(1, 2, 1, 7))]),
    case("sub", "Sub", [X3, rand(2, 6, 8, seed=1)]),
    case("mul", "Mul", [X3, C(np.float32(3.0))]),
    case("div", "Div", [X3, C(rand(8) + 3)]),
    case("div-int", "Div", [np.array([7, -7, 9], I64), C([2, 2, -4], I64)], out=(LT,)),
    case("pow", "Pow", [np.abs(X3) + 0.1, C(np.float32(1.5))]),
    case("pow-int-exp", "Pow", [X3, C(np.int64(3))]),
    case("sqrt", "Sqrt", [np.abs(X3)]),
    case("neg", "Neg", [X3]),
    case("exp", "Exp", [X3]),
    case("log", "Log", [np.abs(X3) + 0.1]),
    case("abs", "Abs", [X3]),
    case("floor", "Floor", [X3 * 3]),
    case("ceil", "Ceil", [X3 * 3]),
    case("min-variadic", "Min", [X3, rand(2, 6, 8, seed=2), C(rand(8))]),
    case("max-variadic", "Max", [X3, rand(2, 6, 8, seed=2), C(rand(8))]),
    case("equal", "Equal", [np.array([1, 2, 3], I64), C([1, 0, 3], I64)], out=(BT,)),
    case("less", "Less", [X3, C(np.float32(0.0))], out=(BT,)),
    case("greater", "Greater", [X3, C(np.float32(0.0))], out=(BT,)),
    case("not", "Not", [X3 > 0], out=(BT,)),
    case("and", "And", [X3 > 0, X3 < 0.5], out=(BT,)),
    case("or", "Or", [X3 > 0, X3 < -0.5], out=(BT,)),
    case("where", "Where", [X3 > 0, X3, C(np.float32(-1.0))]),
    case("erf", "Erf", [X3]),
    case("identity", "Identity", [X3]),
    case("clip-attrs-6", "Clip", [X3], opset=6, min=-0.5, max=0.3),
    case("clip-inputs", "Clip", [X3, C(np.float32(-0.2)), C(np.float32(0.4))], opset=13),
    case("clip-max-only", "Clip", [X3, None, C(np.float32(0.1))], opset=13),
    case("clip-none", "Clip", [X3], opset=13),
    case("reducemean-attr-13", "ReduceMean", [X4], opset=13, axes=[2, -1], keepdims=0),
    case("reducemean-input-18", "ReduceMean", [X4, C([1], I64)], opset=18),
    case("reducemean-all-18", "ReduceMean", [X4], opset=18, keepdims=0),
    case("reducesum-input-13", "ReduceSum", [X4, C([0, 3], I64)], opset=13, keepdims=1),
    case("reducesum-noop-13", "ReduceSum", [X4, C([], I64)], opset=13, noop_with_empty_axes=1),
    case("reducemax-attr-13", "ReduceMax", [X4], opset=13, axes=[1]),
    case("reducemax-input-18", "ReduceMax", [X4, C([-1, 1], I64)], opset=18, keepdims=0),
    case("reducemin-attr-13", "ReduceMin", [X4], opset=13, axes=[3]),
]


test_single_op_matches_ort = single_op_test(CASES)
