"""Interpreter op family: neural-network layers, against onnxruntime.

Convolutions, Gemm and MatMul, pooling, normalization, activations and dropout.

Every op of `privaudit.interpreter.ops.nn` runs as a one-node graph, in each attribute
variant and opset form listed here, and must match onnxruntime within TOL.
"""

from __future__ import annotations

import numpy as np
from onnx_cases import BT, FT, X3, X4, C, case, rand, single_op_test

CASES = [
    case(
        "conv-same-upper", "Conv", [X4, C(rand(3, 2, 3, 3))], auto_pad="SAME_UPPER", strides=[2, 2]
    ),
    case(
        "conv-same-lower",
        "Conv",
        [X4, C(rand(3, 2, 4, 4)), C(rand(3))],
        auto_pad="SAME_LOWER",
        strides=[2, 2],
    ),
    case("conv-valid", "Conv", [X4, C(rand(3, 2, 3, 3))], auto_pad="VALID"),
    case("conv-asym-groups", "Conv", [X4, C(rand(4, 1, 3, 3))], pads=[0, 1, 2, 1], group=2),
    case("conv1d-dilated", "Conv", [X3, C(rand(2, 6, 3))], pads=[2, 2], dilations=[2]),
    case(
        "convT-asym",
        "ConvTranspose",
        [X4, C(rand(2, 3, 3, 3)), C(rand(3))],
        strides=[2, 2],
        pads=[0, 1, 1, 0],
        output_padding=[1, 1],
    ),
    case(
        "convT-output-shape",
        "ConvTranspose",
        [X4, C(rand(2, 2, 3, 3))],
        strides=[2, 2],
        output_shape=[14, 15],
    ),
    case(
        "convT-same-upper",
        "ConvTranspose",
        [X4, C(rand(2, 2, 4, 4))],
        strides=[2, 2],
        auto_pad="SAME_UPPER",
    ),
    case(
        "convT-groups-dil",
        "ConvTranspose",
        [X4, C(rand(2, 2, 3, 3))],
        group=2,
        dilations=[2, 2],
        pads=[1, 1, 1, 1],
    ),
    case(
        "gemm-transA-alpha-beta",
        "Gemm",
        [rand(5, 3), C(rand(5, 4)), C(rand(1, 4))],
        transA=1,
        alpha=0.5,
        beta=2.0,
    ),
    case("gemm-transB-noC", "Gemm", [rand(3, 5), C(rand(4, 5))], transB=1),
    case("relu", "Relu", [X3]),
    case("leaky-relu", "LeakyRelu", [X3], alpha=0.1),
    case("prelu", "PRelu", [X4, C(rand(2, 1, 1))]),
    case("sigmoid", "Sigmoid", [X3]),
    case("tanh", "Tanh", [X3]),
    case("gelu", "Gelu", [X3], opset=20),
    case("gelu-tanh", "Gelu", [X3], opset=20, approximate="tanh"),
    case("hard-sigmoid", "HardSigmoid", [X3 * 3], alpha=0.3, beta=0.4),
    case("hard-swish", "HardSwish", [X3 * 4]),
    case("softmax-13", "Softmax", [X3], opset=13, axis=1),
    case("softmax-11-coerced", "Softmax", [X3], opset=11, axis=1),
    case("log-softmax-11-default", "LogSoftmax", [X3], opset=11),
    case("log-softmax-13", "LogSoftmax", [X3], opset=13),
    case(
        "maxpool-same-upper",
        "MaxPool",
        [X4],
        kernel_shape=[3, 3],
        strides=[2, 2],
        auto_pad="SAME_UPPER",
    ),
    case(
        "maxpool-asym-dilated",
        "MaxPool",
        [X4],
        kernel_shape=[2, 2],
        pads=[0, 0, 1, 1],
        dilations=[2, 2],
    ),
    case("maxpool-ceil", "MaxPool", [X4], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    case("maxpool-1d", "MaxPool", [X3], kernel_shape=[3], pads=[1, 1]),
    case("avgpool-asym-exclude", "AveragePool", [X4], kernel_shape=[3, 3], pads=[0, 1, 2, 1]),
    case(
        "avgpool-asym-include",
        "AveragePool",
        [X4],
        kernel_shape=[3, 3],
        pads=[0, 1, 2, 1],
        count_include_pad=1,
    ),
    case(
        "avgpool-ceil-exclude",
        "AveragePool",
        [X4],
        kernel_shape=[3, 3],
        strides=[2, 2],
        pads=[1, 1, 1, 1],
        ceil_mode=1,
    ),
    case(
        "avgpool-include",
        "AveragePool",
        [X4],
        kernel_shape=[3, 3],
        strides=[2, 2],
        pads=[1, 1, 1, 1],
        count_include_pad=1,
    ),
    case("avgpool-same-lower", "AveragePool", [X4], kernel_shape=[2, 2], auto_pad="SAME_LOWER"),
    case("global-avgpool", "GlobalAveragePool", [X4]),
    case("global-maxpool", "GlobalMaxPool", [X4]),
    case(
        "batchnorm",
        "BatchNormalization",
        [X4, C(rand(2)), C(rand(2)), C(rand(2)), C(np.abs(rand(2)) + 0.5)],
        opset=15,
        epsilon=1e-3,
    ),
    case("layernorm-axis1", "LayerNormalization", [X3, C(rand(6, 8)), C(rand(6, 8))], axis=1),
    case("layernorm-nobias-bcast", "LayerNormalization", [X3, C(rand(1, 8))]),
    case("instancenorm", "InstanceNormalization", [X4, C(rand(2)), C(rand(2))], epsilon=1e-4),
    case("dropout-eval", "Dropout", [X3, C(np.float32(0.3))], opset=13),
    case("dropout-mask", "Dropout", [X3], opset=13, out=(FT, BT)),
]


test_single_op_matches_ort = single_op_test(CASES)
