"""Mixed precision for ONNX Runtime INT8: rank layers by quantization sensitivity, keep the worst in float.

Sensitivity is ONNX Runtime's own measure (``qdq_loss_debug``): the signal-to-quantization-noise
ratio (dB) of the activation each quantized Conv reads in the QDQ graph (after quantize-dequantize,
with all earlier quantization errors) against the same tensor in the FP32 graph, on calibration
images. Lower SQNR = more sensitive. The search then keeps the k most
sensitive layers in float for growing k until the accuracy budget holds.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.build.quantize.onnxruntime import OrtQuantRecipe


@dataclass(frozen=True)
class LayerSensitivity:
    """One quantized layer: its node name, the activation it reads and that tensor's SQNR (dB) vs FP32."""

    node: str
    tensor: str
    sqnr_db: float


@dataclass(frozen=True)
class MixedStep:
    """One point of the search: layers kept in float and what that measured."""

    kept: tuple[str, ...]
    map50_95: float
    latency_ratio: float | None  # full-INT8 median / this step's median (same run): below 1 = slower
    latency_ms: float | None = None  # this step's median in that measurement


def layer_sensitivity(fp32: Path, int8: Path, images: np.ndarray, batch: int = 1) -> list[LayerSensitivity]:
    """Quantized Conv layers of ``int8`` ranked most sensitive first (lowest SQNR vs ``fp32``)."""
    import onnx
    from onnxruntime.quantization import qdq_loss_debug as dbg

    with tempfile.TemporaryDirectory() as tmp:
        aug_fp32, aug_int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        dbg.modify_model_output_intermediate_tensors(fp32, aug_fp32)
        dbg.modify_model_output_intermediate_tensors(int8, aug_int8)
        name = onnx.load(str(fp32), load_external_data=False).graph.input[0].name
        feeds = [{name: images[i : i + batch]} for i in range(0, len(images) - batch + 1, batch)]
        float_acts = dbg.collect_activations(str(aug_fp32), feeds)  # type: ignore[arg-type]
        int8_acts = dbg.collect_activations(str(aug_int8), feeds)  # type: ignore[arg-type]
    errors = dbg.compute_activation_error(dbg.create_activation_matching(int8_acts, float_acts))
    producers = _conv_outputs(int8)
    ranked = [
        LayerSensitivity(producers[tensor], tensor, float(err["xmodel_err"]))
        for tensor, err in errors.items()
        if tensor in producers and "xmodel_err" in err
    ]
    return sorted(ranked, key=lambda layer: layer.sqnr_db)


def _conv_outputs(int8: Path) -> dict[str, str]:
    """Float tensor name -> the Conv node that consumes its dequantized copy in the QDQ graph.

    (Named for what the SQNR is measured on: the activation a quantized Conv reads.)
    """
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import DEQUANT_OUTPUT_SUFFIX

    graph = onnx.load(str(int8), load_external_data=False).graph
    return {
        node.input[0].removesuffix(DEQUANT_OUTPUT_SUFFIX): node.name
        for node in graph.node
        if node.op_type == "Conv" and node.input and node.input[0].endswith(DEQUANT_OUTPUT_SUFFIX)
    }


def keep_float(recipe: OrtQuantRecipe, layers: Sequence[LayerSensitivity], k: int) -> OrtQuantRecipe:
    """``recipe`` with its ``k`` most sensitive layers kept in float."""
    return dataclasses.replace(recipe, keep_float=tuple(layer.node for layer in layers[:k]))


def search(
    measure: Callable[[OrtQuantRecipe], MixedStep],
    recipe: OrtQuantRecipe,
    layers: Sequence[LayerSensitivity],
    target_map: float,
    steps: Sequence[int] = (0, 1, 2, 4, 8, 16),
) -> list[MixedStep]:
    """Measure k = 0, 1, 2, 4, ... kept layers until mAP50-95 reaches ``target_map`` (or steps run out)."""
    out: list[MixedStep] = []
    for k in steps:
        if k > len(layers):
            break
        step = measure(keep_float(recipe, layers, k))
        out.append(step)
        if step.map50_95 >= target_map:
            break
    return out
