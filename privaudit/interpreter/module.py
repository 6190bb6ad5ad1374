"""ONNX model ⇄ trainable torch module: an in-house interpreter with weight write-back."""

from __future__ import annotations

import re
from typing import Final, cast

import onnx
import torch
from onnx import numpy_helper
from torch import Tensor, nn

from privaudit.errors import ModelError, UnsupportedOpError
from privaudit.interpreter.ops import OPS, WEIGHT_SLOTS
from privaudit.interpreter.ops.base import Attrs, OpFn
from privaudit.interpreter.values import (
    DEFAULT_DOMAINS,
    prepare_attrs,
    read_constant,
    read_opset,
    read_tensor,
    unsupported_ops,
)

__all__ = ["OnnxModule", "check_convertible", "to_torch"]

_FLOAT_TYPES: Final = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
# NOTE: omitted optional inputs have the name ""; the environment maps it to None (see _ops_base).
_MISSING: Final = cast(Tensor, None)

_Step = tuple[OpFn, Attrs, tuple[str, ...], tuple[str, ...]]


def check_convertible(model: onnx.ModelProto) -> None:
    """Check that every node of `model` can run in the torch interpreter.

    Args:
        model: the ONNX model (any opset; default-domain ops only).

    Raises:
        UnsupportedOpError: some ops (or op variants such as Resize mode=cubic, or any op of a
            non-default domain like com.microsoft) are not implemented; `.ops` lists them.
        ModelError: the model was exported in training mode (BatchNormalization with
            training_mode=1 or running-statistics outputs), or has no default-domain opset.
    """
    bad = unsupported_ops(model)
    if bad:
        raise UnsupportedOpError(bad)


def to_torch(
    model: onnx.ModelProto, *, trainable: bool = True, data_input: bool = True
) -> OnnxModule:
    """Check `model` and build its trainable torch interpreter.

    Args:
        model: the ONNX model (e.g. an encoder cut out by `privaudit.split`).
        data_input: the graph's input is the data (an encoder, a whole model), where Add and
            Mul on it are a normalisation, not weights; False for a head, whose input is the
            cut's activation.
        trainable: whether float initializers get `requires_grad=True` (False freezes them,
            e.g. for a head that is not fine-tuned).

    Returns:
        An `OnnxModule` computing the same function as onnxruntime.

    Raises:
        UnsupportedOpError: see `check_convertible`.
        ModelError: see `check_convertible`.
    """
    check_convertible(model)
    return OnnxModule(model, trainable=trainable, data_input=data_input)


def _safe_key(name: str, owner: nn.Module) -> str:
    """A key for the ONNX tensor `name` (no '.' or ':') that is still free on `owner`."""
    base = re.sub(r"\W", "_", name)
    if not base or base[0].isdigit():
        base = "t_" + base
    key, n = base, 1
    while hasattr(owner, key):  # NOTE: also avoids Module attributes such as "training"
        key, n = f"{base}_{n}", n + 1
    return key


def _aliases(graph: onnx.GraphProto, constants: set[str]) -> dict[str, str]:
    """Outputs of `Identity(constant)` nodes → the constant they copy (legacy-exporter dedup)."""
    aliases: dict[str, str] = {}
    for node in graph.node:
        if node.op_type == "Identity" and node.domain in DEFAULT_DOMAINS:
            source = aliases.get(node.input[0], node.input[0])
            if source in constants:
                aliases[node.output[0]] = source
    return aliases


_LINEAR: Final = ("Conv", "ConvTranspose", "Gemm", "MatMul")
_AFFINE: Final = ("Add", "Mul")
# NOTE: a constant seen through these (with constant shapes) is still that constant
_VIEWS: Final = ("Unsqueeze", "Squeeze", "Reshape", "Transpose", "Flatten", "Identity", "Cast")
# NOTE: what an input normalisation baked into a graph is made of (x - mean) / std, x * a + b,
# seen through the same views
_PREPROCESSING: Final = ("Add", "Sub", "Mul", "Div", *_VIEWS)


def _weights(
    graph: onnx.GraphProto, aliases: dict[str, str], constants: dict[str, Tensor],
    data_input: bool = True,
) -> set[str]:
    """The float constants (initializers or Constant nodes) that are weights, to be trained.

    A constant is a weight when every node that reads it reads it as one: in a weight slot
    (`WEIGHT_SLOTS`: Conv, Gemm and MatMul weights and biases, normalisation scales and
    biases, PReLU slopes, embedding tables), or as the constant operand of an Add or Mul on
    an activation that is no input normalisation (an Add's bias after a Conv, Gemm or
    MatMul, or a vector of several values: LayerNorm and RMSNorm weights exported as plain
    arithmetic, layer scales). A constant read anywhere else (a Pow exponent, an epsilon, a
    scalar factor, a Resize scale, BatchNormalization statistics, the mean and std of a
    normalisation of the graph's input when it is the data, `data_input`) stays as exported:
    training it changes what the model computes (a reviewer's RMSNorm epsilon went from 1e-6
    to 0.0039; a Pow exponent became NaN within 5 steps). So do a learnable scalar (a
    temperature, a scalar layer scale) and a learnable elementwise scale on the data itself:
    they cannot be told from a literal or a normalisation, and freezing them only leaves
    hardening fewer knobs.
    """
    made_by: dict[str, str] = {}
    preprocessed = ({v.name for v in graph.input} - set(constants)) if data_input else set()
    weight: set[str] = set()
    other: set[str] = set()
    root = dict(aliases)  # NOTE: a constant's copies and views → the constant
    for node in graph.node:
        if node.op_type == "Constant" or (node.output[:1] and node.output[0] in aliases):
            continue
        names = [root.get(n, n) for n in node.input]
        if (node.op_type in _VIEWS and names and names[0] in constants and len(node.output) == 1
                and all(not n or n in constants for n in names[1:])):  # fmt: skip
            root[node.output[0]] = names[0]  # NOTE: the legacy exporter's Unsqueeze(PReLU slope)
            continue
        live = [n for n in names if n and n not in constants]
        slots = WEIGHT_SLOTS.get(node.op_type, ())
        for i, name in enumerate(names):
            if name not in constants:
                continue
            if i in slots or (
                node.op_type in _AFFINE and len(live) == 1 and live[0] not in preprocessed
                and (constants[name].numel() > 1
                     or (node.op_type == "Add" and made_by.get(live[0]) in _LINEAR))
            ):  # fmt: skip
                weight.add(name)
            else:
                other.add(name)
        if node.op_type in _PREPROCESSING and live and all(n in preprocessed for n in live):
            preprocessed.update(t for t in node.output if t)
        made_by.update((t, node.op_type) for t in node.output if t)
    return {n for n in weight - other if constants[n].dtype in _FLOAT_TYPES}


class OnnxModule(nn.Module):
    """Runs an ONNX graph with torch ops, so that gradients reach its inputs and weights.

    Weights (float initializers or Constant node values that the graph reads as weights, see
    `_weights`) become `nn.Parameter`s in `self.params` (keys are sanitised ONNX names).
    Everything else constant (integer constants, BatchNormalization running statistics, other
    configuration inputs such as Resize scales or Clip bounds, Pow exponents, epsilons, an
    input normalisation baked into the graph) becomes a buffer of `self.consts`, so
    `.to(device)` moves the whole graph. BatchNormalization
    always uses its running statistics; Dropout follows `self.training`. `fixed_batch` is the
    static batch of the graph's input (None when dynamic); see `forward`.

    Args:
        model: the ONNX model; check it first with `check_convertible` (or use `to_torch`).
        trainable: `requires_grad` of the parameters.

    Raises:
        UnsupportedOpError: see `check_convertible`.
        ModelError: see `check_convertible`.
    """

    def __init__(
        self, model: onnx.ModelProto, trainable: bool = True, data_input: bool = True
    ) -> None:
        super().__init__()
        check_convertible(model)
        graph, opset = model.graph, read_opset(model)
        constant_nodes = [n for n in graph.node if n.op_type == "Constant"]
        initializers = {t.name: t for t in graph.initializer}
        values = {name: read_tensor(proto) for name, proto in initializers.items()}
        values.update((n.output[0], read_constant(n)) for n in constant_nodes)
        constants = set(values)
        aliases = _aliases(graph, constants)
        weights = _weights(graph, aliases, values, data_input)
        self.params = nn.ParameterDict()
        self.consts = nn.Module()
        self._keys: dict[str, tuple[bool, str]] = {}  # ONNX name → (is parameter, key)
        for name, value in values.items():
            self._register(name, value, name in weights, trainable)
        self._initializers = list(initializers)
        # NOTE: weights some exporters store as Constant nodes: trained, and written back
        self._constant_weights = [n.output[0] for n in constant_nodes if n.output[0] in weights]
        refs = [(name, *self._keys[name]) for name in constants]
        refs += [(alias, *self._keys[source]) for alias, source in aliases.items()]
        self._param_refs = [(name, key) for name, is_param, key in refs if is_param]
        self._buffer_refs = [(name, key) for name, is_param, key in refs if not is_param]
        self._program: list[_Step] = [
            (OPS[n.op_type], prepare_attrs(n, opset), tuple(n.input), tuple(n.output))
            for n in graph.node
            if not n.output or not (n.output[0] in aliases or n.op_type == "Constant")
        ]
        self._inputs = [i.name for i in graph.input if i.name not in initializers]
        self._outputs = [o.name for o in graph.output]
        self.fixed_batch = _fixed_batch(graph, self._inputs)

    def _register(self, name: str, value: Tensor, weight: bool, trainable: bool) -> None:
        """Store the constant tensor `name` as a parameter (a float weight) or as a buffer."""
        if weight:
            key = _safe_key(name, self.params)
            self.params[key] = nn.Parameter(value, requires_grad=trainable)
        else:
            key = _safe_key(name, self.consts)
            self.consts.register_buffer(key, value)
        self._keys[name] = (weight, key)

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        """Run the graph.

        A graph whose single input has a static batch B (`fixed_batch`, e.g. an export without
        dynamic axes, whose Reshapes may hold B) runs on chunks of exactly B samples, the last
        one padded by repeating its last sample; the padded rows' outputs are dropped.

        Args:
            *inputs: one tensor per graph input (initializers excluded), in graph order, with
                the shapes and dtypes the ONNX model declares, e.g. `(N, C, H, W)` float32.

        Returns:
            The graph output, or a tuple of them when the graph has several.
        """
        if len(inputs) != len(self._inputs):
            raise ValueError(f"expected inputs {self._inputs}, got {len(inputs)} tensors")
        rows = self.fixed_batch
        if rows is None or len(inputs[0]) in (0, rows):
            return self._run(inputs)
        x, chunks = inputs[0], []
        for start in range(0, len(x), rows):
            part = x[start : start + rows]
            n = len(part)
            padded = torch.cat([part, part[-1:].expand(rows - n, *part.shape[1:])])
            out = self._run((padded,))
            chunks.append([o[:n] for o in (out if isinstance(out, tuple) else (out,))])
        result = tuple(torch.cat(parts) for parts in zip(*chunks, strict=True))
        return result[0] if len(result) == 1 else result

    def _run(self, inputs: tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
        """Run the graph once on `inputs` as given (see `forward`)."""
        env: dict[str, Tensor] = dict(zip(self._inputs, inputs, strict=True))
        env[""] = _MISSING
        params, buffers = self.params, dict(self.consts.named_buffers())
        for name, key in self._param_refs:
            env[name] = params[key]
        for name, key in self._buffer_refs:
            env[name] = buffers[key]
        training = self.training
        for fn, attrs, names_in, names_out in self._program:
            out = fn([env[n] for n in names_in], attrs, training)
            if isinstance(out, Tensor):
                env[names_out[0]] = out
            else:
                env.update(zip(names_out, out, strict=False))
        result = tuple(env[name] for name in self._outputs)
        return result[0] if len(result) == 1 else result

    def initializer_tensors(self) -> dict[str, Tensor]:
        """Current value of every ONNX initializer, by its ONNX name."""
        params, buffers = self.params, dict(self.consts.named_buffers())
        out: dict[str, Tensor] = {}
        for name in self._initializers:
            is_param, key = self._keys[name]
            out[name] = params[key] if is_param else buffers[key]
        return out

    def write_back(self, model: onnx.ModelProto) -> onnx.ModelProto:
        """Copy `model` with its weights replaced by this module's current values.

        The weights are its float initializers, and the Constant nodes that hold weights
        (`_weights`). Graph, node and tensor names, opset and metadata stay unchanged; values
        are cast to the original dtype. `model` itself is not modified.

        Args:
            model: the ONNX model this module was built from (or one with the same constants).

        Returns:
            The updated copy.

        Raises:
            ModelError: a constant of this module is missing from `model` or has another shape.
        """
        out = onnx.ModelProto()
        out.CopyFrom(model)
        values = self.initializer_tensors()
        found = set()
        for proto in out.graph.initializer:
            value = values.get(proto.name)
            if value is not None and value.dtype in _FLOAT_TYPES:
                _store(proto, value)
            found.add(proto.name)
        weights = {name: self.params[self._keys[name][1]] for name in self._constant_weights}
        for node in out.graph.node:
            if node.op_type == "Constant" and node.output[0] in weights:
                _store_constant(node, weights[node.output[0]])
                found.add(node.output[0])
        missing = sorted((set(values) | set(weights)) - found)
        if missing:
            raise ModelError(
                f"initializers {missing[:5]} are not in the model being written back",
                hint="write back into the same ONNX model the module was built from",
            )
        return out


def _fixed_batch(graph: onnx.GraphProto, inputs: list[str]) -> int | None:
    """The static batch of a graph's single input (its first dimension), or None.

    None for a dynamic (symbolic or unknown) first dimension, a scalar, or several inputs.
    """
    value = next((v for v in graph.input if v.name in inputs), None)
    if len(inputs) != 1 or value is None:
        return None
    dims = value.type.tensor_type.shape.dim
    first = dims[0] if len(dims) else None
    if first is None or not first.HasField("dim_value") or first.dim_value <= 0:
        return None
    return int(first.dim_value)


def _store_constant(node: onnx.NodeProto, value: Tensor) -> None:
    """Replace the value of Constant `node` by `value`, in the attribute that held it."""
    for attr in node.attribute:
        if attr.name == "value":
            _store(attr.t, value)
        elif attr.name == "value_float":
            attr.f = float(value.detach().cpu().reshape(()))
        elif attr.name == "value_floats":
            if len(attr.floats) != value.numel():
                raise ModelError(f"constant {node.output[0]!r} has {len(attr.floats)} values, "
                                 f"module has {value.numel()}",
                                 hint="write back into the same ONNX model the module was "
                                      "built from")  # fmt: skip
            attr.floats[:] = value.detach().cpu().float().flatten().tolist()


def _store(proto: onnx.TensorProto, value: Tensor) -> None:
    """Replace the data of initializer `proto` by `value`, keeping its name and dtype."""
    if tuple(proto.dims) != tuple(value.shape):
        raise ModelError(
            f"initializer {proto.name!r} has shape {list(proto.dims)}, module has "
            f"{list(value.shape)}",
            hint="write back into the same ONNX model the module was built from",
        )
    src = value.detach().cpu()
    if src.dtype == torch.bfloat16:
        src = src.float()
    arr = src.numpy().astype(onnx.helper.tensor_dtype_to_np_dtype(proto.data_type))
    fresh = numpy_helper.from_array(arr)
    for field in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
        proto.ClearField(field)
    proto.ClearField("external_data")
    proto.data_location = onnx.TensorProto.DEFAULT
    proto.raw_data = fresh.raw_data
