"""Measured sensitivity for ONNX Runtime mixed precision: the output error each layer group causes.

For a static QDQ INT8 graph, every group of quantized nodes (one Ultralytics module, e.g.
``model.8``; the head split per branch) is put back in float on its own, in a copy of the INT8
graph: its nodes read the float tensors in front of their QuantizeLinear and the FP32 export's own
weights, as they would with ``nodes_to_exclude``, with the calibration left as it is. Each copy
runs on held-out images, neither calibration nor val
(:func:`~harness.builders.quantize.calibration.held_out_samples`), and is measured against the FP32
export's output on the same images: the squared error of the raw detection output, each anchor
weighted by FP32's class confidence there (the anchors that become detections). The share of full
INT8's error that a group removes ranks it (NNCF's accuracy control ranks by output difference
when validation is dear, as here). Ranking by each group's mAP50-95 gain on 100 held-out images
was tried first: at that size the gains (0.0000-0.0035) were noise, and five kept groups took back
61 % of a 0.0053 loss; ranked by output error, four took back 82 % and six 99 % (DESIGN figures in
the issue note). The whole measurement is one cached artifact (``gains.json``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from harness.builders import BuildContext, build, builder, materialize
from harness.builders.quantize.calibration import held_out_samples
from harness.builders.quantize.onnxruntime import OrtQuantRecipe
from harness.imaging import letterbox, read_image
from harness.recipes import Recipe

if TYPE_CHECKING:
    import onnx

__all__ = ["GroupGain", "RevertGainsRecipe", "conv_groups", "output_error", "read_gains", "reverted"]

_DQ_SUFFIX = "_DequantizeLinear_Output"
_MODULE = re.compile(r"^/?(model\.\d+)(?:/([^/]+))?")
METHOD = 3
"""Version of the grouping and scoring below (1: convolutions only, mAP; 2: whole modules, mAP;
3: whole modules, confidence-weighted output error against FP32)."""
MAX_GROUP = 8
"""A module with more quantized convolutions than this (the head) is split by its sub-module."""


@dataclass(frozen=True)
class GroupGain:
    """A group of quantized nodes put back in float together, and what that measured."""

    name: str
    nodes: tuple[str, ...]
    error: float  # confidence-weighted squared output error against FP32, this group in float
    gain: float  # the share of full INT8's error this group in float removes (0.43: 43 %)


@dataclass(frozen=True)
class RevertGainsRecipe(Recipe):
    """The output error of ``int8`` with each group of its layers back in float, alone."""

    kind: ClassVar[str] = "ort-revert-gains"
    int8: OrtQuantRecipe
    images: int  # held-out images each group is run on
    versions: tuple[tuple[str, str], ...]
    method: int = METHOD  # bumped whenever grouping or scoring changes, so old gains are not reused

    def describe(self) -> str:
        """E.g. ``output error of each layer group in float, on 64 held-out images, of ONNX ...``."""
        return f"output error of each layer group in float, on {self.images} held-out images, of {self.int8.describe()}"


def conv_groups(model: onnx.ModelProto) -> list[tuple[str, tuple[str, ...]]]:
    """The quantized nodes (those reading a dequantized tensor) grouped by module, in graph order:
    every node of ``/model.N/`` together, so a group in float is the whole module in float (its
    convolutions, activations, adds and concats); a module with more than :data:`MAX_GROUP`
    convolutions (the head) splits by sub-module. A name that is not Ultralytics' is its own group."""
    quantized = [
        n for n in model.graph.node
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear") and any(i.endswith(_DQ_SUFFIX) for i in n.input)
    ]  # fmt: skip
    convs: dict[str, int] = {}
    for node in quantized:
        match = _MODULE.match(node.name)
        if match and node.op_type == "Conv":
            convs[match.group(1)] = convs.get(match.group(1), 0) + 1
    groups: dict[str, list[str]] = {}
    for node in quantized:
        match = _MODULE.match(node.name)
        if match is None:
            groups.setdefault(node.name, []).append(node.name)
            continue
        module, sub = match.group(1), match.group(2)
        split = convs.get(module, 0) > MAX_GROUP and sub is not None
        groups.setdefault(f"{module}/{sub}" if split else module, []).append(node.name)
    return [(name, tuple(nodes)) for name, nodes in groups.items()]


def reverted(int8: onnx.ModelProto, fp32: onnx.ModelProto, nodes: Sequence[str]) -> onnx.ModelProto:
    """A copy of ``int8`` whose ``nodes`` read float inputs (the tensor in front of each
    QuantizeLinear) and the FP32 export's weights: those nodes in float, calibration unchanged."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(int8)
    weights = {init.name: init for init in fp32.graph.initializer}
    have = {init.name for init in model.graph.initializer}
    wanted = set(nodes)
    for node in model.graph.node:
        if node.name not in wanted:
            continue
        for i, tensor in enumerate(node.input):
            if not tensor.endswith(_DQ_SUFFIX):
                continue
            original = tensor.removesuffix(_DQ_SUFFIX)
            if original in weights and original not in have:
                model.graph.initializer.append(weights[original])
                have.add(original)
            node.input[i] = original
    onnx.checker.check_model(model)
    return model


def _predictor(model: onnx.ModelProto, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    """ONNX Runtime on the CPU for an in-memory graph: batch in, first output out."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0]


def output_error(
    predict: Callable[[np.ndarray], np.ndarray], images: Sequence[np.ndarray], fp32: Sequence[np.ndarray]
) -> float:
    """Sum over images of the squared difference to FP32's raw output (``(1, 4 + classes, anchors)``),
    each anchor weighted by FP32's highest class score there."""
    total = 0.0
    for x, ref in zip(images, fp32, strict=True):
        weight = ref[:, 4:].max(axis=1, keepdims=True)
        total += float((((predict(x) - ref) ** 2) * weight).sum())
    return total


@builder(RevertGainsRecipe)
def _measure(recipe: RevertGainsRecipe, ctx: BuildContext, tmp: Path) -> str:
    import onnx

    source, data = recipe.int8.source, recipe.int8.data
    if data is None:
        raise ValueError(f"{recipe.int8.describe()}: measured gains need a static INT8 graph")
    int8 = onnx.load(str(build(recipe.int8, ctx).path))
    fp32 = onnx.load(str(build(source, ctx).path))
    samples = held_out_samples(materialize(data, ctx), recipe.int8.quant.calib_size, recipe.images)
    images = [letterbox(read_image(s.image), source.imgsz)[0][None] for s in samples]
    reference = _predictor(fp32, ctx.threads)
    outputs = [reference(x) for x in images]
    base = output_error(_predictor(int8, ctx.threads), images, outputs)
    groups = conv_groups(int8)
    rows = []
    for i, (name, nodes) in enumerate(groups, 1):
        error = output_error(_predictor(reverted(int8, fp32, nodes), ctx.threads), images, outputs)
        gain = (base - error) / base if base > 0 else 0.0
        rows.append({"name": name, "nodes": list(nodes), "error": error, "gain": gain})
        ctx.log(
            f"harness: layer group {i}/{len(groups)} {name} in float: {gain:+.1%} of the INT8 output error"
        )
    doc = {"int8_error": base, "images": len(samples), "groups": rows}
    (tmp / "gains.json").write_text(json.dumps(doc, indent=1))
    return "gains.json"


def read_gains(path: Path) -> tuple[float, list[GroupGain]]:
    """Full INT8's held-out output error and every group's, from ``gains.json``."""
    doc = json.loads(path.read_text())
    groups = [GroupGain(g["name"], tuple(g["nodes"]), g["error"], g["gain"]) for g in doc["groups"]]
    return float(doc["int8_error"]), groups
