"""Multiply-accumulates of an OpenVINO model's convolutions, by node name.

A trace says how long each convolution ran; its MACs, read from the IR's static weight and output
shapes, turn that into the rate the convolutions reached (:attr:`harness.trace.ops.Profile.conv_gmac_per_s`),
which the recommendation's measured INT8 peak (:mod:`harness.measure.roofline`) puts in proportion:
how far from this CPU's roofline the model's own layers run, not only the model as a whole.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import openvino as ov

__all__ = ["CONV_TYPES", "conv_macs", "node_macs"]

CONV_TYPES = ("Convolution", "GroupConvolution")


def node_macs(node: ov.Node) -> int | None:
    """MACs per inference of one convolution node (None: not a convolution, or a dynamic shape).

    ``Convolution`` weights are ``(O, I, kh, kw)``: every output element costs ``I * kh * kw``;
    ``GroupConvolution`` weights are ``(G, O/G, I/G, kh, kw)``: ``I/G * kh * kw``.
    """
    kind = node.get_type_name()
    if kind not in CONV_TYPES:
        return None
    out, weights = node.output(0).get_partial_shape(), node.input(1).get_partial_shape()
    if not (out.is_static and weights.is_static):
        return None
    leading = 1 if kind == "Convolution" else 2  # the output-channel axes: (O, ...) or (G, O/G, ...)
    per_output = list(weights.to_shape())[leading:]
    return math.prod(out.to_shape()) * math.prod(per_output)


def conv_macs(model: ov.Model) -> dict[str, int]:
    """MACs per inference of every convolution of ``model`` with static shapes, by friendly name
    (the name the CPU plugin's performance counters report for the fused node)."""
    found = ((op.get_friendly_name(), node_macs(op)) for op in model.get_ordered_ops())
    return {name: macs for name, macs in found if macs is not None}
