"""OpenVINO IR builders: FP32 / FP16 conversion of the ONNX export, and INT8 through NNCF.

The ONNX export is converted with ``openvino.convert_model`` and saved as ``model.xml`` +
``model.bin``. INT8 runs ``nncf.quantize`` on the converted model, calibrated on the dataset's
``calib`` split, or ``nncf.quantize_with_accuracy_control`` when ``quant.max_drop`` is set, with a
validation function that measures mAP50-95 on the ``val`` split through the harness's one accuracy
path. The detection head's decode tail (DFL, distance-to-box, stride scaling, class sigmoid) is
kept in float through an NNCF ignored scope chosen by one filter, :func:`in_decode_tail`.

``openvino`` and ``nncf`` are imported inside the functions that need them, never at import time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from harness.builders import BuildContext, builder, materialize
from harness.builders.quantize import ops_unsupported
from harness.recipes import DataRecipe, ExportRecipe, QuantSpec, Recipe

if TYPE_CHECKING:
    import openvino as ov

    from harness.datasets.yolo import Sample

IR_PRECISIONS = ("fp32", "fp16")
IR_FILE = "model.xml"
HEAD_STRIDES = (8, 16, 32)  # YOLO detection head levels: the anchor count is sum((imgsz / s) ** 2)

# QuantSpec.calibration -> NNCF activation range estimator (weights always use global min/max).
# "entropy" maps to NNCF's histogram estimator, which minimizes quantization error on a histogram of
# each activation, the closest NNCF analogue of TensorRT / ONNX Runtime entropy calibration.
_RANGE_ESTIMATORS = {"minmax": "MINMAX", "percentile": "MEAN_QUANTILE", "entropy": "HISTOGRAM"}


def nncf_unsupported(quant: QuantSpec) -> str | None:
    """Why NNCF cannot build ``quant`` for OpenVINO, or None when it can."""
    if quant.method != "static":
        return "OpenVINO INT8 through NNCF is static (calibrated) only; method 'dynamic' is ONNX Runtime's"
    if quant.format != "qdq":
        return f"OpenVINO IR carries FakeQuantize nodes (the 'qdq' format); format {quant.format!r} is ONNX Runtime's"
    if quant.weights != "s8":
        return "NNCF quantizes weights symmetrically to s8 only; weights 'u8' is not available"
    return ops_unsupported(quant, "NNCF")


@dataclass(frozen=True)
class OpenVinoRecipe(Recipe):
    """Convert the FP32 ONNX export to OpenVINO IR; ``precision`` "fp16" stores FP16 weights."""

    kind: ClassVar[str] = "openvino"
    source: ExportRecipe
    precision: str
    versions: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if self.precision not in IR_PRECISIONS:
            raise ValueError(f"OpenVINO IR precision must be one of {IR_PRECISIONS}, got {self.precision!r}")
        if self.source.half:
            raise ValueError("OpenVINO IR is converted from the FP32 ONNX export (source.half must be False)")

    def describe(self) -> str:
        """E.g. ``openvino fp16 IR (batch 1, imgsz 320)``."""
        return f"openvino {self.precision} IR (batch {self.source.batch}, imgsz {self.source.imgsz})"


@dataclass(frozen=True)
class OpenVinoQuantRecipe(Recipe):
    """INT8 OpenVINO IR through NNCF, calibrated on ``data``'s calib split (and validated on val)."""

    kind: ClassVar[str] = "openvino-int8"
    source: ExportRecipe
    data: DataRecipe
    quant: QuantSpec
    versions: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        reason = nncf_unsupported(self.quant)
        if reason:
            raise ValueError(reason)
        if self.source.half:
            raise ValueError("NNCF quantizes the FP32 ONNX export (source.half must be False)")

    def describe(self) -> str:
        """E.g. ``openvino int8 qdq-pc-u8s8-minmax-c100 (batch 1, imgsz 320)``."""
        return f"openvino int8 {self.quant.slug} (batch {self.source.batch}, imgsz {self.source.imgsz})"


# ------------------------------------------------------------------------------ FP32 / FP16


@builder(OpenVinoRecipe)
def _convert(recipe: OpenVinoRecipe, ctx: BuildContext, tmp: Path) -> str:
    import openvino as ov

    model = ov.convert_model(materialize(recipe.source, ctx))
    ov.save_model(model, tmp / IR_FILE, compress_to_fp16=recipe.precision == "fp16")
    return IR_FILE


# ------------------------------------------------------------------------------ INT8 (NNCF)


def anchor_count(model: ov.Model, strides: Sequence[int] = HEAD_STRIDES) -> int:
    """Number of detection anchors of a square-input YOLO graph: sum((imgsz / s) ** 2) over strides."""
    shape = model.inputs[0].get_partial_shape()
    if shape.rank.get_length() != 4 or not shape.is_static:
        raise ValueError(f"expected a static NCHW input, got {shape}")
    imgsz = shape[2].get_length()
    return sum((imgsz // s) ** 2 for s in strides)


def in_decode_tail(node: ov.Node, n_anchors: int) -> bool:
    """The one filter for "keep in float": a node whose output spans every anchor of the head.

    In the raw graph the per-level head convolutions produce (B, C, H, W) maps; from the concat of
    the levels onwards every tensor ends in the anchor dimension (B, 64, N), (B, 4, 16, N),
    (B, 4, N), (B, nc, N)... That tail is the box decode (DFL softmax + conv, distance-to-box,
    stride scaling) and the class sigmoid, which must stay in float.
    """
    if node.get_type_name() in ("Constant", "Parameter", "Result"):
        return False
    for output in node.outputs():
        shape = output.get_partial_shape()
        spans_anchors = shape.rank.is_static and shape.rank.get_length() >= 2 and shape[-1].is_static
        if spans_anchors and shape[-1].get_length() == n_anchors:
            return True
    return False


def decode_tail(model: ov.Model) -> list[str]:
    """Friendly names of the decode-tail nodes of ``model`` (see :func:`in_decode_tail`)."""
    n = anchor_count(model)
    return [op.get_friendly_name() for op in model.get_ordered_ops() if in_decode_tail(op, n)]


def _quantize_kwargs(quant: QuantSpec, tail: list[str]) -> dict[str, Any]:
    """Keyword arguments shared by ``nncf.quantize`` and ``nncf.quantize_with_accuracy_control``."""
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, QuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    estimator = getattr(RangeEstimatorParametersSet, _RANGE_ESTIMATORS[quant.calibration])
    advanced = AdvancedQuantizationParameters(
        weights_quantization_params=QuantizationParameters(per_channel=quant.per_channel),
        activations_range_estimator_params=estimator,
        # Without VNNI, u8 x s8 pair sums saturate in 16 bits: 7-bit weights on every layer (on a 2-core
        # AVX2 EPYC, yolo11n lost 0.027 mAP50-95 with NNCF's default first-layer fix and 0.007 with it).
        overflow_fix=nncf.OverflowFix(quant.resolved_overflow_fix),
    )
    # MIXED: symmetric s8 weights, asymmetric (u8) activations; PERFORMANCE: symmetric s8 for both.
    preset = (
        nncf.QuantizationPreset.MIXED if quant.activations == "u8" else nncf.QuantizationPreset.PERFORMANCE
    )
    return {
        "preset": preset,
        "target_device": nncf.TargetDevice.CPU,
        "ignored_scope": nncf.IgnoredScope(names=tail),
        "advanced_parameters": advanced,
    }


def _batched(images: np.ndarray, batch: int) -> list[np.ndarray]:
    """Calibration items at the graph's static batch size (a short last group is dropped)."""
    return [images[i : i + batch] for i in range(0, len(images) - batch + 1, batch)]


@builder(OpenVinoQuantRecipe)
def _quantize(recipe: OpenVinoQuantRecipe, ctx: BuildContext, tmp: Path) -> str:
    import nncf
    import openvino as ov

    from harness.builders.quantize.calibration import calibration_images

    data_yaml = materialize(recipe.data, ctx)
    model = ov.convert_model(materialize(recipe.source, ctx))
    images = calibration_images(data_yaml, recipe.source.imgsz, recipe.quant.calib_size)
    items = _batched(images, recipe.source.batch)
    ctx.log(f"harness: NNCF int8: calibrating {recipe.quant.slug} on {len(images)} images")
    calibration = nncf.Dataset(items)
    kwargs = _quantize_kwargs(recipe.quant, decode_tail(model))
    if recipe.quant.max_drop is None:
        quantized = nncf.quantize(model, calibration, subset_size=len(items), **kwargs)
    else:
        quantized = _quantize_with_accuracy_control(recipe, model, calibration, data_yaml, len(items), kwargs)
    ov.save_model(quantized, tmp / IR_FILE, compress_to_fp16=False)
    return IR_FILE


def _quantize_with_accuracy_control(
    recipe: OpenVinoQuantRecipe,
    model: ov.Model,
    calibration: Any,
    data_yaml: Path,
    subset_size: int,
    kwargs: dict[str, Any],
) -> ov.Model:
    """``nncf.quantize_with_accuracy_control``: revert layers to float until the mAP50-95 drop is
    at most ``quant.max_drop`` (absolute), measured on the val split by the shared accuracy path."""
    import nncf

    from harness.datasets.yolo import list_split, load_data_yaml

    spec = load_data_yaml(data_yaml)
    validator = MapValidator(spec.names, recipe.source.imgsz, recipe.source.batch)
    validation = nncf.Dataset(list_split(spec, "val"), validator.model_input)
    advanced = kwargs.pop("advanced_parameters")
    return nncf.quantize_with_accuracy_control(
        model,
        calibration,
        validation,
        validator,
        max_drop=recipe.quant.max_drop,
        drop_type=nncf.DropType.ABSOLUTE,
        subset_size=subset_size,
        advanced_quantization_parameters=advanced,
        **kwargs,
    )


@dataclass(frozen=True)
class MapValidator:
    """NNCF validation function: mAP50-95 of a compiled model on val samples, plus its raw outputs.

    Returning the per-sample outputs puts NNCF's accuracy control in "logits" mode: it ranks the
    layers to revert by how far the quantized outputs move from the float ones, and uses this
    function's mAP50-95 for the accept / reject decision.
    """

    names: tuple[str, ...]
    imgsz: int
    batch: int

    def __call__(self, compiled: Any, samples: Iterable[Sample]) -> tuple[float, list[list[np.ndarray]]]:
        """(mAP50-95, [[raw output] per batch]) of ``compiled`` over ``samples``."""
        from harness.measure.accuracy import evaluate

        samples = list(samples)
        outputs: list[list[np.ndarray]] = []

        def predict(x: np.ndarray) -> np.ndarray:
            raw = np.asarray(compiled(x)[0], dtype=np.float32)
            # one entry per image, shaped as NNCF's own inference on ``model_input(sample)``
            outputs.extend([np.repeat(raw[i : i + 1], self.batch, axis=0)] for i in range(len(raw)))
            return raw

        result = evaluate(predict, samples, self.names, self.imgsz, self.batch)
        return float(result.map50_95), outputs[: len(samples)]

    def model_input(self, sample: Sample) -> np.ndarray:
        """One sample as the model's input (the shared letterbox; repeated to the static batch)."""
        from harness.imaging import letterbox, read_image

        x = letterbox(read_image(sample.image), self.imgsz)[0][None]
        return np.repeat(x, self.batch, axis=0)
