"""ONNX neural-network layer ops: conv, pooling, Gemm, normalization, activations, dropout."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from privaudit.errors import ModelError
from privaudit.interpreter.ops.base import (
    Args,
    Attrs,
    OpFn,
    Out,
    Prepare,
    UnsupportedVariant,
    one_input,
    opt,
    torch_pad,
    unary,
)

__all__ = ["NN_OPS", "NN_PREPARE"]


def _pads(
    a: Attrs, x: Tensor, kernel: Sequence[int], strides: Sequence[int], dil: Sequence[int]
) -> tuple[list[int], list[int]]:
    """Begin/end spatial pads of a Conv or pooling node, resolving auto_pad for `x`."""
    nd = len(kernel)
    mode = a.get("auto_pad", "NOTSET")
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        begins: list[int] = []
        ends: list[int] = []
        for size, k, s, d in zip(x.shape[2:], kernel, strides, dil, strict=True):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            begins.append(total // 2 if mode == "SAME_UPPER" else total - total // 2)
            ends.append(total - begins[-1])
        return begins, ends
    if mode == "VALID":
        return [0] * nd, [0] * nd
    pads = a.get("pads", [0] * 2 * nd)
    return list(pads[:nd]), list(pads[nd:])


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAXPOOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVGPOOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _conv(args: Args, a: Attrs, training: bool) -> Out:
    x, w, b = args[0], args[1], opt(args, 2)
    nd = w.dim() - 2
    strides, dil = a.get("strides", [1] * nd), a.get("dilations", [1] * nd)
    begins, ends = _pads(a, x, w.shape[2:], strides, dil)
    if begins != ends:  # NOTE: torch convs only pad symmetrically
        x, begins = F.pad(x, torch_pad(begins, ends)), [0] * nd
    return _CONV[nd](x, w, b, strides, begins, dil, a.get("group", 1))


def _convt_pads(
    a: Attrs, x: Tensor, w: Tensor, strides: Sequence[int], dil: Sequence[int], outpad: list[int]
) -> tuple[list[int], list[int]]:
    """Begin/end pads of a ConvTranspose node (explicit, or derived from output_shape/auto_pad)."""
    nd = w.dim() - 2
    mode = a.get("auto_pad", "NOTSET")
    shape = a.get("output_shape")
    if shape is None and mode in ("SAME_UPPER", "SAME_LOWER"):
        shape = [n * s for n, s in zip(x.shape[2:], strides, strict=True)]
    if shape is not None:
        dims = zip(x.shape[2:], w.shape[2:], strides, dil, outpad, shape[-nd:], strict=True)
        totals = [s * (n - 1) + p + (k - 1) * d + 1 - o for n, k, s, d, p, o in dims]
        upper = mode == "SAME_UPPER"
        begins = [t // 2 if upper else t - t // 2 for t in totals]
        return begins, [t - b for t, b in zip(totals, begins, strict=True)]
    if mode == "VALID":
        return [0] * nd, [0] * nd
    pads = a.get("pads", [0] * 2 * nd)
    return list(pads[:nd]), list(pads[nd:])


def _conv_transpose(args: Args, a: Attrs, training: bool) -> Out:
    x, w, b = args[0], args[1], opt(args, 2)
    nd = w.dim() - 2
    strides, dil = a.get("strides", [1] * nd), a.get("dilations", [1] * nd)
    outpad = list(a.get("output_padding", [0] * nd))
    group = a.get("group", 1)
    begins, ends = _convt_pads(a, x, w, strides, dil, outpad)
    limits = zip(outpad, strides, dil, begins, strict=True)
    if begins == ends and all(0 <= p < max(s, d) and q >= 0 for p, s, d, q in limits):
        return _CONVT[nd](x, w, b, strides, begins, outpad, group, dil)
    # General case: full transposed conv, then crop (negative pad) and output_padding.
    y = _CONVT[nd](x, w, None, strides, 0, 0, group, dil)
    ends = [p - e for p, e in zip(outpad, ends, strict=True)]
    y = F.pad(y, torch_pad([-p for p in begins], ends))
    return y if b is None else y + b.reshape(-1, *[1] * nd)


def _gemm(args: Args, a: Attrs, training: bool) -> Out:
    x, w, c = args[0], args[1], opt(args, 2)
    if a.get("transA", 0):
        x = x.t()
    alpha, beta, trans_b = a.get("alpha", 1.0), a.get("beta", 1.0), a.get("transB", 0)
    bias_ok = c is None or (c.dim() == 1 and c.shape[0] == w.shape[0])
    if trans_b and alpha == 1.0 and beta == 1.0 and bias_ok:
        return F.linear(x, w, c)
    y = x @ (w.t() if trans_b else w)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c if beta == 1.0 else beta * c)
    return y


def _maxpool(args: Args, a: Attrs, training: bool) -> Out:
    x, k = args[0], a["kernel_shape"]
    nd = len(k)
    strides, dil = a.get("strides", [1] * nd), a.get("dilations", [1] * nd)
    begins, ends = _pads(a, x, k, strides, dil)
    if begins != ends or any(2 * p > kk for p, kk in zip(begins, k, strict=True)):
        x, begins = F.pad(x, torch_pad(begins, ends), value=-math.inf), [0] * nd
    return _MAXPOOL[nd](x, k, strides, begins, dil, ceil_mode=bool(a.get("ceil_mode", 0)))


def _avgpool(args: Args, a: Attrs, training: bool) -> Out:
    x, k = args[0], a["kernel_shape"]
    nd = len(k)
    strides = a.get("strides", [1] * nd)
    begins, ends = _pads(a, x, k, strides, [1] * nd)
    ceil, include = bool(a.get("ceil_mode", 0)), bool(a.get("count_include_pad", 0))
    pool = _AVGPOOL[nd]
    if begins == ends and all(2 * p <= kk for p, kk in zip(begins, k, strict=True)):
        return pool(x, k, strides, begins, ceil, include)
    tp = torch_pad(begins, ends)
    y = pool(F.pad(x, tp), k, strides, 0, ceil, True)
    if include:
        return y
    ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
    return y / pool(F.pad(ones, tp), k, strides, 0, ceil, True)  # mean over real pixels only


def _global_pool(fn: Callable[[Tensor, tuple[int, ...], bool], Tensor]) -> OpFn:
    def op(args: Args, a: Attrs, training: bool) -> Out:
        x = args[0]
        return fn(x, tuple(range(2, x.dim())), True)

    return op


def _batchnorm(args: Args, a: Attrs, training: bool) -> Out:
    x, scale, bias, mean, var = args[:5]
    # NOTE: running statistics always; a fine-tune on a few thousand images must not move them.
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, a.get("epsilon", 1e-5))


def _layernorm(args: Args, a: Attrs, training: bool) -> Out:
    x, scale, bias = args[0], args[1], opt(args, 2)
    shape = x.shape[a.get("axis", -1) % x.dim() :]
    eps = a.get("epsilon", 1e-5)
    if scale.shape == shape and (bias is None or bias.shape == shape):
        return F.layer_norm(x, shape, scale, bias, eps)
    y = F.layer_norm(x, shape, None, None, eps) * scale
    return y if bias is None else y + bias


def _instancenorm(args: Args, a: Attrs, training: bool) -> Out:
    return F.instance_norm(args[0], weight=args[1], bias=args[2], eps=a.get("epsilon", 1e-5))


def _softmax(log: bool) -> OpFn:
    fn = torch.log_softmax if log else torch.softmax

    def op(args: Args, a: Attrs, training: bool) -> Out:
        x = args[0]
        if not a["_legacy"]:
            return fn(x, a.get("axis", -1))
        # Opset < 13 coerces the input to 2-D at `axis` (default 1).
        axis = a.get("axis", 1) % x.dim()
        return fn(x.reshape(math.prod(x.shape[:axis]), -1), 1).reshape(x.shape)

    return op


def _prepare_softmax(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    return a | {"_legacy": opset < 13}


def _prepare_batchnorm(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    if a.get("training_mode", 0) or any(outputs[1:]):
        raise ModelError(
            "BatchNormalization was exported in training mode (batch statistics)",
            hint="re-export the model after model.eval() (torch.onnx.export's default)",
        )
    return a


def _prepare_single_output(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    if any(outputs[1:]):
        raise UnsupportedVariant("extra outputs")
    return a


def _prepare_avgpool(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    if any(d != 1 for d in a.get("dilations", [])):
        raise UnsupportedVariant("dilations")
    return a


def _dropout(args: Args, a: Attrs, training: bool) -> Out:
    x, ratio = args[0], opt(args, 1)
    p = float(ratio.item()) if ratio is not None else a.get("ratio", 0.5)
    if training and p > 0.0:
        mask = torch.rand_like(x) >= p
        y = x * mask / (1.0 - p)
    else:
        y = mask = x
        if a["_mask"]:
            mask = torch.ones_like(x, dtype=torch.bool)
    return (y, mask) if a["_mask"] else y


def _prepare_dropout(a: Attrs, opset: int, outputs: Sequence[str]) -> Attrs:
    return a | {"_mask": len(outputs) > 1 and bool(outputs[1])}


def _hard_sigmoid(args: Args, a: Attrs, training: bool) -> Out:
    return torch.clamp(args[0] * a.get("alpha", 0.2) + a.get("beta", 0.5), 0.0, 1.0)


def _prelu(args: Args, a: Attrs, training: bool) -> Out:
    x = args[0]
    return torch.where(x >= 0, x, x * args[1])


NN_OPS: dict[str, OpFn] = {
    # activations
    "Relu": unary(F.relu),
    "Sigmoid": unary(torch.sigmoid),
    "Tanh": unary(torch.tanh),
    "HardSwish": unary(F.hardswish),
    "LeakyRelu": one_input(lambda x, a: F.leaky_relu(x, a.get("alpha", 0.01))),
    "Gelu": one_input(lambda x, a: F.gelu(x, approximate=a.get("approximate", "none"))),
    "HardSigmoid": _hard_sigmoid,
    "PRelu": _prelu,
    "Softmax": _softmax(log=False),
    "LogSoftmax": _softmax(log=True),
    # layers
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "Gemm": _gemm,
    "MaxPool": _maxpool,
    "AveragePool": _avgpool,
    "GlobalAveragePool": _global_pool(torch.mean),
    "GlobalMaxPool": _global_pool(torch.amax),
    "BatchNormalization": _batchnorm,
    "LayerNormalization": _layernorm,
    "InstanceNormalization": _instancenorm,
    "Dropout": _dropout,
}

NN_PREPARE: dict[str, Prepare] = {
    "Softmax": _prepare_softmax,
    "LogSoftmax": _prepare_softmax,
    "BatchNormalization": _prepare_batchnorm,
    "LayerNormalization": _prepare_single_output,
    "MaxPool": _prepare_single_output,
    "AveragePool": _prepare_avgpool,
    "Dropout": _prepare_dropout,
}
