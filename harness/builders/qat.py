"""Quantization-aware training through Ultralytics' ``quantize=8`` mode (NVIDIA ModelOpt underneath).

A QAT checkpoint is an ordinary :class:`~harness.recipes.TrainRecipe`: the FP32 control's
fine-tune (same start, epochs, seed, batch, data and arguments) with ``quantize=8`` added, so it
is cached, hashed and seed-replicated like every other training. Ultralytics' trainer then calls
``prepare_qat`` before the optimizer and EMA exist: ModelOpt's ``INT8_DEFAULT_CFG`` (symmetric S8,
weights per output channel, activations per tensor, ranges calibrated on 8 training batches and
then fixed) on every convolution except the head's output convolutions and the DFL, so boxes,
scores and the decode stay float. The checkpoint keeps the quantizer state; Ultralytics' ONNX
export of it writes standard QuantizeLinear / DequantizeLinear pairs (no PTQ step on top).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections import Counter
from pathlib import Path

from harness.config.trainargs import with_overrides
from harness.errors import HarnessError
from harness.recipes import QuantSpec, TrainRecipe

__all__ = ["QAT_QUANT", "missing_modelopt", "qat_recipe", "qdq_ops"]

QAT_QUANT = QuantSpec(activations="s8", weights="s8", calibration="minmax")
"""The scheme ModelOpt's INT8 default trains: S8 symmetric, per-channel weights, max calibration."""

_INSTALL = "pip install 'nvidia-modelopt>=0.44' huggingface_hub"


def qat_recipe(control: TrainRecipe) -> TrainRecipe:
    """The QAT fine-tune of ``control``: the same training with ``quantize=8``."""
    return dataclasses.replace(control, hyp=with_overrides(control.hyp, {"quantize": 8}))


def missing_modelopt() -> str | None:
    """Why QAT cannot train here (``None``: it can). Without ModelOpt installed, Ultralytics would
    try to pip-install it in the middle of a run; the harness refuses instead."""
    for module in ("modelopt", "huggingface_hub"):
        if importlib.util.find_spec(module) is None:
            return f"QAT needs NVIDIA ModelOpt, and {module} is not installed ({_INSTALL})"
    return None


def qdq_ops(path: Path) -> dict[str, int]:
    """How many QuantizeLinear and DequantizeLinear nodes the ONNX graph at ``path`` holds; a QAT
    export without any is a HarnessError (the quantizers were lost on the way)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    counts = Counter(node.op_type for node in graph.node)
    found = {op: counts.get(op, 0) for op in ("QuantizeLinear", "DequantizeLinear")}
    if not all(found.values()):
        raise HarnessError(f"QAT export {path} holds no QuantizeLinear/DequantizeLinear nodes: {found}")
    return found
