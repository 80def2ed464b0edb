"""Measured sensitivity for ONNX Runtime mixed precision: the mAP each group of layers takes back.

For a static QDQ INT8 graph, every group of quantized convolutions (one Ultralytics module, e.g.
``model.8``; the head split per branch) is put back in float on its own, in a copy of the INT8
graph: the convolution reads the float activation in front of its QuantizeLinear and the FP32
export's own weights, as it would with ``nodes_to_exclude``, with the calibration left as it is.
Each copy is scored (COCO mAP50-95) on held-out labelled images, neither calibration nor val
(:func:`~harness.builders.quantize.calibration.held_out_samples`). The gain over full INT8 is
what the search ranks by: the measured loss, not a proxy for it. The whole measurement is one
cached artifact (``gains.json``).
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
from harness.datasets.yolo import Sample, load_data_yaml
from harness.measure.accuracy import detect, score
from harness.recipes import Recipe

if TYPE_CHECKING:
    import onnx

__all__ = ["GroupGain", "RevertGainsRecipe", "conv_groups", "read_gains", "reverted"]

_DQ_SUFFIX = "_DequantizeLinear_Output"
_MODULE = re.compile(r"^/?(model\.\d+)(?:/([^/]+))?")
METHOD = 2
"""Version of the grouping and scoring below (1: convolutions only; 2: whole modules)."""
MAX_GROUP = 8
"""A module with more quantized convolutions than this (the head) is split by its sub-module."""


@dataclass(frozen=True)
class GroupGain:
    """A group of convolutions put back in float together, and the mAP50-95 that measured."""

    name: str
    nodes: tuple[str, ...]
    map50_95: float
    gain: float  # over full INT8 on the same held-out images


@dataclass(frozen=True)
class RevertGainsRecipe(Recipe):
    """The measured gain of putting each group of ``int8``'s layers back in float, alone."""

    kind: ClassVar[str] = "ort-revert-gains"
    int8: OrtQuantRecipe
    images: int  # held-out images scored per group
    versions: tuple[tuple[str, str], ...]
    method: int = METHOD  # bumped whenever grouping or scoring changes, so old gains are not reused

    def describe(self) -> str:
        """E.g. ``mAP gain of each layer group in float, on 100 held-out images, of ONNX ...``."""
        return f"mAP gain of each layer group in float, on {self.images} held-out images, of {self.int8.describe()}"


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


def _score(
    model: onnx.ModelProto, samples: Sequence[Sample], names: Sequence[str], imgsz: int, threads: int
) -> float:
    dets, gts = detect(_predictor(model, threads), samples, names, imgsz)
    return score(dets, gts, "the held-out images").map50_95


@builder(RevertGainsRecipe)
def _measure(recipe: RevertGainsRecipe, ctx: BuildContext, tmp: Path) -> str:
    import onnx

    source, data = recipe.int8.source, recipe.int8.data
    if data is None:
        raise ValueError(f"{recipe.int8.describe()}: measured gains need a static INT8 graph")
    int8 = onnx.load(str(build(recipe.int8, ctx).path))
    fp32 = onnx.load(str(build(source, ctx).path))
    data_yaml = materialize(data, ctx)
    samples = held_out_samples(data_yaml, recipe.int8.quant.calib_size, recipe.images)
    names = load_data_yaml(data_yaml).names
    base = _score(int8, samples, names, source.imgsz, ctx.threads)
    groups = conv_groups(int8)
    rows = []
    for i, (name, nodes) in enumerate(groups, 1):
        got = _score(reverted(int8, fp32, nodes), samples, names, source.imgsz, ctx.threads)
        rows.append({"name": name, "nodes": list(nodes), "map50_95": got, "gain": got - base})
        ctx.log(f"harness: layer group {i}/{len(groups)} {name} in float: mAP50-95 {base:.4f} -> {got:.4f}")
    doc = {"int8_map50_95": base, "images": len(samples), "groups": rows}
    (tmp / "gains.json").write_text(json.dumps(doc, indent=1))
    return "gains.json"


def read_gains(path: Path) -> tuple[float, list[GroupGain]]:
    """Full INT8's held-out mAP50-95 and every group's measured gain, from ``gains.json``."""
    doc = json.loads(path.read_text())
    groups = [GroupGain(g["name"], tuple(g["nodes"]), g["map50_95"], g["gain"]) for g in doc["groups"]]
    return float(doc["int8_map50_95"]), groups
