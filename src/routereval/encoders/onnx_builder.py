"""Writing ONNX nodes and named constants: what the MiniLM graph and its int8 rewrite both do."""

from __future__ import annotations

from typing import Any

import numpy as np


class GraphBuilder:
    """Nodes in the order written, and constants appended to ``initializers`` (a list, or a graph's own)."""

    def __init__(self, initializers: Any = None) -> None:
        self.nodes: list[Any] = []
        self.initializers = [] if initializers is None else initializers

    def constant(self, name: str, value: np.ndarray) -> str:
        """Add a constant tensor; returns its name."""
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], *, microsoft: bool = False, **attributes: Any) -> str:
        """Add a node named after its first output (ONNX Runtime's contrib domain if ``microsoft``); returns that output."""
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, outputs, name=outputs[0],
                                           domain="com.microsoft" if microsoft else "", **attributes))
        return outputs[0]
