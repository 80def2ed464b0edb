"""Mixed precision for ONNX Runtime INT8: rank layers by quantization sensitivity, keep the worst in float.

Sensitivity is ONNX Runtime's own measure (``qdq_loss_debug``, its ``qdq_err``): the
signal-to-quantization-noise ratio (dB) of the activation each quantized Conv reads, before against
after its own QuantizeLinear/DequantizeLinear pair in the QDQ graph, on calibration images. Lower
SQNR = more sensitive. That is the error this layer's quantization adds, which keeping the layer in
float removes. The error against the FP32 graph (``xmodel_err``) also carries every earlier layer's
error, so it ranks the deepest layers first: on yolo11n its first four (P5 head convs) took back
none of a 0.0058 mAP50-95 loss, where the first four by ``qdq_err`` took back 0.0022.
The search then keeps the k most sensitive layers in float for growing k until the accuracy budget
holds.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.builders.quantize.onnxruntime import OrtQuantRecipe


@dataclass(frozen=True)
class LayerSensitivity:
    """One quantized layer: its node name, the activation it reads and the SQNR (dB) of that tensor's
    quantize-dequantize."""

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


def layer_sensitivity(int8: Path, images: np.ndarray, batch: int = 1) -> list[LayerSensitivity]:
    """Quantized Conv layers of ``int8`` ranked most sensitive first (lowest SQNR of their own
    quantize-dequantize)."""
    import onnx
    from onnxruntime.quantization import qdq_loss_debug as dbg

    with tempfile.TemporaryDirectory() as tmp:
        augmented = Path(tmp) / "int8.onnx"
        dbg.modify_model_output_intermediate_tensors(int8, augmented)
        name = onnx.load(str(int8), load_external_data=False).graph.input[0].name
        feeds = [{name: images[i : i + batch]} for i in range(0, len(images) - batch + 1, batch)]
        activations = dbg.collect_activations(str(augmented), feeds)  # type: ignore[arg-type]
    # compute_activation_error would give this as "qdq_err", but it requires FP32 activations too
    # (KeyError "float" without them, onnxruntime 1.32), which this measure does not use.
    sqnr = dbg.compute_signal_to_quantization_noice_ratio
    producers = _conv_outputs(int8)
    ranked = [
        LayerSensitivity(producers[tensor], tensor, float(sqnr(match["pre_qdq"], match["post_qdq"])))
        for tensor, match in dbg.create_activation_matching(activations).items()
        if tensor in producers
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
