"""ONNX Runtime post-training quantization (static and dynamic INT8) and FP16 conversion.

Both start from the FP32 ONNX export. The detection head's decode (DFL, box decode, class
sigmoid, stride multiply, the final concat) and the head's output convolutions stay in float:
:func:`float_nodes` is the one place that decides which nodes those are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from harness.builders import BuildContext, build, builder, materialize
from harness.builders.quantize.calibration import calibration_images
from harness.errors import HarnessError
from harness.recipes import DataRecipe, ExportRecipe, QuantSpec, Recipe

if TYPE_CHECKING:
    import onnx

OP_TYPES: Mapping[str, list[str] | None] = {"all": None, "conv": ["Conv"]}
"""QuantSpec.ops -> ``op_types_to_quantize`` (None: every operator type ONNX Runtime quantizes)."""

_QUANT_TYPES: Mapping[str, str] = {"u8": "QUInt8", "s8": "QInt8"}
_FORMATS: Mapping[str, str] = {"qdq": "QDQ", "qoperator": "QOperator"}
_CALIBRATIONS: Mapping[str, str] = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
_LEARNED_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})


@dataclass(frozen=True)
class OrtQuantRecipe(Recipe):
    """INT8 ONNX graph from an FP32 export: static (calibrated on ``data``'s calib split) or dynamic.

    ``data`` is None only for dynamic quantization, which needs no calibration images.
    ``quant.ops`` picks the operator types quantized; nodes from :func:`float_nodes` never are.
    """

    kind: ClassVar[str] = "ort-quant"
    source: ExportRecipe
    data: DataRecipe | None
    quant: QuantSpec
    versions: tuple[tuple[str, str], ...]
    keep_float: tuple[str, ...] = ()  # mixed precision: more nodes kept in float (measured groups)

    def __post_init__(self) -> None:
        if self.quant.method == "static" and self.data is None:
            raise ValueError("static quantization needs a data recipe for its calibration split")
        if self.quant.max_drop is not None:
            raise ValueError(
                "ONNX Runtime has no accuracy-controlled quantization; quant.max_drop must be None"
            )
        if self.source.half:
            raise ValueError("quantize from the FP32 export (source.half must be False)")

    def describe(self) -> str:
        """E.g. ``ONNX Runtime int8 qdq-pc-u8s8-minmax-c100 of export onnx (batch 1, imgsz 320)``."""
        return f"ONNX Runtime int8 {self.quant.slug} of {self.source.describe()}"


@dataclass(frozen=True)
class OrtFp16Recipe(Recipe):
    """Float16 ONNX graph with float32 inputs and outputs (the head's decode stays float32)."""

    kind: ClassVar[str] = "ort-fp16"
    source: ExportRecipe
    versions: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        """E.g. ``ONNX float16 of export onnx (batch 1, imgsz 320)``."""
        return f"ONNX float16 of {self.source.describe()}"


# ----------------------------------------------------------------------- node filter


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes that must stay in float: the head's output layers and its decode.

    Walks back from every graph output through all nodes until it reaches a learned layer
    (Conv, MatMul, Gemm): those are the Detect head's output convolutions and are kept too,
    then the walk stops. A Conv fed by a Softmax is the DFL's fixed expectation (a decode step,
    not a learned layer), so the walk goes through it. Unnamed nodes cannot be excluded and raise.
    """
    producers = {out: node for node in model.graph.node for out in node.output}
    kept: dict[str, None] = {}
    pending = [output.name for output in model.graph.output]
    visited: set[int] = set()  # node ids
    while pending:
        node = producers.get(pending.pop())
        if node is None or id(node) in visited:
            continue
        visited.add(id(node))
        if not node.name:
            raise ValueError(f"unnamed {node.op_type} node in the head: cannot keep it in float by name")
        kept[node.name] = None
        if not _is_output_layer(node, producers):
            pending.extend(node.input)
    return list(kept)


def float_feeders(model: onnx.ModelProto, kept: list[str]) -> list[str]:
    """The fixed (not learned) nodes that feed ``kept`` nodes, back to the previous learned layer.

    With every operator type quantized, the SiLU (Sigmoid, Mul) in front of a head output
    convolution would hand it a quantize-dequantized activation; keeping these nodes in float
    too means the output convolutions read a float input, as they do with convolutions only.
    """
    producers = {out: node for node in model.graph.node for out in node.output}
    by_name = {node.name: node for node in model.graph.node}
    names = set(kept)
    found: dict[str, None] = {}
    pending = [tensor for name in kept if name in by_name for tensor in by_name[name].input]
    while pending:
        node = producers.get(pending.pop())
        if node is None or node.name in names or node.name in found or node.op_type in _LEARNED_OPS:
            continue
        found[node.name] = None
        pending.extend(node.input)
    return list(found)


def _is_output_layer(node: onnx.NodeProto, producers: Mapping[str, onnx.NodeProto]) -> bool:
    """A learned layer, as opposed to a fixed decode step such as the DFL's Softmax -> Conv."""
    if node.op_type not in _LEARNED_OPS:
        return False
    feeder = producers.get(node.input[0])
    return feeder is None or feeder.op_type != "Softmax"


# ----------------------------------------------------------------------- calibration


class _ImageReader:
    """An ORT CalibrationDataReader (it checks for ``get_next`` only) over preprocessed images,
    in batches the static graph accepts.

    The last batch wraps around to the first images, so every image is used exactly once
    or, for the wrapped tail, twice.
    """

    def __init__(self, images: np.ndarray, input_name: str, batch: int) -> None:
        self.images = images
        self.input_name = input_name
        self.batch = batch
        self._batches = self._iterate()

    def _iterate(self) -> Iterator[np.ndarray]:
        n = len(self.images)
        for start in range(0, n, self.batch):
            index = np.arange(start, start + self.batch) % n
            yield np.ascontiguousarray(self.images[index])

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next batch as a feed dict, or None when done."""
        batch = next(self._batches, None)
        return None if batch is None else {self.input_name: batch}

    def rewind(self) -> None:
        """Start over (ORT calls this between calibration passes)."""
        self._batches = self._iterate()


def _calibration_reader(recipe: OrtQuantRecipe, ctx: BuildContext, input_name: str) -> _ImageReader:
    if recipe.data is None:
        raise ValueError(f"{recipe.describe()}: static quantization needs a data recipe")
    images = calibration_images(materialize(recipe.data, ctx), recipe.source.imgsz, recipe.quant.calib_size)
    return _ImageReader(images, input_name, recipe.source.batch)


# ----------------------------------------------------------------------- builders


def _prepare(source: Path, tmp: Path) -> Path:
    """ORT's pre-processing: symbolic and ONNX shape inference plus basic graph optimization."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = tmp / "prepared.onnx"
    quant_pre_process(str(source), str(prepared))
    return prepared


def _static_kwargs(quant: QuantSpec) -> dict[str, Any]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

    # No CalibMaxIntermediateOutputs: in onnxruntime 1.32 MinMax drops (never folds) the ranges of
    # every full chunk (microsoft/onnxruntime#18893; the fix, PR #20226, was not merged), so a
    # chunk of 16 calibrated on the last calib_size % 16 images only, or on none. MinMax keeps
    # one ReduceMin/ReduceMax scalar per tensor and image: small without chunks.
    extra: dict[str, Any] = {}
    return {
        "quant_format": QuantFormat[_FORMATS[quant.format]],
        "per_channel": quant.per_channel,
        "activation_type": QuantType[_QUANT_TYPES[quant.activations]],
        "weight_type": QuantType[_QUANT_TYPES[quant.weights]],
        "calibrate_method": CalibrationMethod[_CALIBRATIONS[quant.calibration]],
        "reduce_range": reduce_range(quant),
        "extra_options": extra,
    }


def reduce_range(quant: QuantSpec) -> bool:
    """7-bit weights (``reduce_range``) where the overflow fix is on for every layer: without VNNI,
    ONNX Runtime's u8 x s8 kernels sum pairs in 16 bits and saturate (on a 2-core AVX2 EPYC the
    embedded yolo11n lost 0.047 mAP50-95 with 8-bit weights and 0.002 with 7)."""
    return quant.resolved_overflow_fix == "enable"


@builder(OrtQuantRecipe)
def _quantize(recipe: OrtQuantRecipe, ctx: BuildContext, tmp: Path) -> str:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    prepared = _prepare(build(recipe.source, ctx).path, tmp)
    model = onnx.load(str(prepared))
    kept = [*float_nodes(model), *recipe.keep_float]
    common = {
        "op_types_to_quantize": OP_TYPES[recipe.quant.ops],
        "nodes_to_exclude": [*kept, *float_feeders(model, kept)],
    }
    out = tmp / "model.onnx"
    if recipe.quant.method == "dynamic":
        weight_type = QuantType[_QUANT_TYPES[recipe.quant.weights]]
        quantize_dynamic(
            prepared,
            out,
            per_channel=recipe.quant.per_channel,
            weight_type=weight_type,
            reduce_range=reduce_range(recipe.quant),
            **common,
        )
    else:
        reader = _calibration_reader(recipe, ctx, model.graph.input[0].name)
        ctx.log(f"harness: ONNX Runtime int8: calibrating {recipe.quant.slug} on {len(reader.images)} images")
        _quantize_static(prepared, out, reader, recipe, common)
    prepared.unlink()
    return out.name


def _quantize_static(
    prepared: Path, out: Path, reader: _ImageReader, recipe: OrtQuantRecipe, common: dict[str, Any]
) -> None:
    """``quantize_static``; a histogram that numpy cannot bin becomes an error that says why."""
    from onnxruntime.quantization import quantize_static

    try:
        quantize_static(prepared, out, reader, **common, **_static_kwargs(recipe.quant))
    except ValueError as exc:
        if "finite-sized bins" not in str(exc) or recipe.quant.calibration == "minmax":
            raise
        raise HarnessError(
            f"{recipe.describe()}: ONNX Runtime's {recipe.quant.calibration} calibration cannot build a "
            f"histogram of a nearly constant tensor ({exc}); use calibration 'minmax', or ops 'conv' "
            "so that fewer tensors are calibrated"
        ) from exc


@builder(OrtFp16Recipe)
def _to_fp16(recipe: OrtFp16Recipe, ctx: BuildContext, tmp: Path) -> str:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(build(recipe.source, ctx).path))
    half = convert_float_to_float16(model, keep_io_types=True, node_block_list=float_nodes(model))
    onnx.save(half, str(tmp / "model.onnx"))
    return "model.onnx"
