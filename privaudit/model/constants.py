"""The values of a graph's constant tensors: initializers and `Constant` node outputs."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["Constants"]


class Constants:
    """Looks up the value of a graph's constant tensor by name, converting only what is asked.

    Initializers and the outputs of `Constant` nodes (`value`, `value_int`, `value_ints`);
    anything else, computed at run time, is None.
    """

    def __init__(self, graph: onnx.GraphProto) -> None:
        self._inits = {t.name: t for t in graph.initializer}
        self._nodes = {n.output[0]: n for n in graph.node if n.op_type == "Constant" and n.output}

    def get(self, name: str) -> np.ndarray | None:
        """The value of tensor `name`, or None when it is not a constant of this form."""
        if name in self._inits:
            return numpy_helper.to_array(self._inits[name])
        node = self._nodes.get(name)
        if node is None or not node.attribute:
            return None
        attr = node.attribute[0]
        if attr.name == "value":
            return numpy_helper.to_array(attr.t)
        if attr.name in ("value_int", "value_ints"):
            return np.asarray(onnx.helper.get_attribute_value(attr))
        return None
