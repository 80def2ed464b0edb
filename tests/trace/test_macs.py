"""Convolution MACs read from an OpenVINO graph's static shapes (dense and grouped), and what is left out."""

from __future__ import annotations

import numpy as np
import openvino as ov
from openvino import opset13 as ops

from harness.trace.macs import conv_macs, node_macs


def _model(height: int | None = 8) -> ov.Model:
    x = ops.parameter([1, 3, height if height else -1, 8], np.float32, name="x")
    dense = ops.convolution(
        x, ops.constant(np.ones((4, 3, 3, 3), np.float32)), [1, 1], [1, 1], [1, 1], [1, 1]
    )
    dense.set_friendly_name("dense")
    depthwise_weights = ops.constant(np.ones((4, 1, 1, 3, 3), np.float32))
    dw = ops.group_convolution(dense, depthwise_weights, [2, 2], [1, 1], [1, 1], [1, 1])
    dw.set_friendly_name("depthwise")
    act = ops.relu(dw)
    act.set_friendly_name("relu")
    return ov.Model([act], [x], "m")


def test_dense_and_grouped_convolutions_count_their_macs() -> None:
    # dense: 4 x 8 x 8 outputs, 3 x 3 x 3 each; depthwise (stride 2): 4 x 4 x 4 outputs, 1 x 3 x 3 each
    assert conv_macs(_model()) == {"dense": 4 * 8 * 8 * 27, "depthwise": 4 * 4 * 4 * 9}


def test_other_nodes_and_dynamic_shapes_have_none() -> None:
    model = _model(height=None)
    assert conv_macs(model) == {}  # the height is dynamic: no static output shape to count
    relu = next(op for op in _model().get_ordered_ops() if op.get_friendly_name() == "relu")
    assert node_macs(relu) is None
