"""TFLite on the LiteRT interpreter (``ai-edge-litert``) with its XNNPACK delegate: FP32, FP16, INT8.

Models come from :mod:`harness.builders.tflite` (the ``tflite`` extra). The interpreter's default
op resolver applies XNNPACK, at ``ctx.threads`` threads. Graph input and output are float; the
output's box rows come normalised by the image size from Ultralytics' export and are multiplied
back here (not for end-to-end heads, whose boxes are pixels), so the shared decode and mAP path
see what every other backend returns. The graph is traced at batch 1: a larger batch runs image by
image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.backends.base import LoadRequest, ensure_supported
from harness.builders import build
from harness.builders.quantize import overflow_fix_unsupported
from harness.builders.tflite import TfliteQuantRecipe, TfliteRecipe, missing_tflite, read_metadata
from harness.errors import HarnessError
from harness.recipes import NO_CALIBRATION_DATA, Variant, source_data
from harness.versions import versions

__all__ = ["TfliteBackend", "TfliteRunner", "tflite_recipe"]

_PRECISIONS = ("fp32", "fp16", "int8")


class TfliteRunner:
    """A ``.tflite`` in the LiteRT interpreter (XNNPACK), one reused input and output."""

    def __init__(self, path: Path, sha256: str, threads: int, imgsz: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise HarnessError(f"LiteRT failed to load {path} it built: {exc}") from exc
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.scale = 1.0 if read_metadata(path).get("end2end") else float(imgsz)
        self.artifact = path
        self.artifact_sha256 = sha256

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run each image of a float32 NCHW batch; boxes back in pixels."""
        return np.concatenate([self._one(image[None]) for image in batch])

    def _one(self, image: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input, np.ascontiguousarray(image, dtype=np.float32))
        self.interpreter.invoke()
        out = np.array(self.interpreter.get_tensor(self.output), dtype=np.float32, copy=True)
        if self.scale != 1.0 and out.ndim == 3:
            out[:, :4] *= self.scale
        return out


def tflite_recipe(variant: Variant) -> TfliteRecipe | TfliteQuantRecipe:
    """The model a variant runs: the FP32 export, its FP16 weights, or its INT8 (decode in float)."""
    export = TfliteRecipe(variant.source, variant.imgsz, versions("torch", "ultralytics", "litert-torch"))
    if variant.precision == "fp32":
        return export
    tools = versions("ai-edge-quantizer", "ai-edge-litert")
    if variant.precision == "fp16":
        return TfliteQuantRecipe(export, "fp16", tools)
    assert variant.quant is not None
    return TfliteQuantRecipe(export, "int8", tools, source_data(variant.source), variant.quant.calib_size)


class TfliteBackend:
    """Ultralytics-exported ``.tflite`` models on the LiteRT interpreter's XNNPACK delegate."""

    def unsupported(self, variant: Variant, device: str) -> str | None:
        """The missing extra, a non-CPU device, or a precision or INT8 option LiteRT cannot honour."""
        if reason := missing_tflite():
            return reason
        if not device.startswith("cpu"):
            return f"the LiteRT interpreter is measured on the CPU (XNNPACK); device is {device!r}"
        if variant.precision not in _PRECISIONS:
            return f"TFLite has no {variant.precision} path (supported: {', '.join(_PRECISIONS)})"
        if variant.quant is not None:
            return _int8_unsupported(variant)
        return None

    def load(self, request: LoadRequest) -> TfliteRunner:
        """Export, quantize (cached) and open the model in the interpreter."""
        ensure_supported(self, request)
        artifact = build(tflite_recipe(request.variant), request.ctx)
        return self.open(artifact.path, artifact.sha256, request)

    def open(self, path: Path, sha256: str, request: LoadRequest) -> TfliteRunner:
        """The interpreter on the ``.tflite`` at ``path``."""
        return TfliteRunner(path, sha256, request.ctx.threads, request.variant.imgsz)


def _int8_unsupported(variant: Variant) -> str | None:
    """INT8 options the ai-edge-quantizer static recipe cannot honour."""
    quant = variant.quant
    assert quant is not None
    wanted = {
        "method": "static",
        "format": "qdq",
        "activations": "s8",
        "weights": "s8",
        "calibration": "minmax",
    }
    for name, value in wanted.items():
        if getattr(quant, name) != value:
            return (
                f"TFLite INT8 here is ai-edge-quantizer's static recipe (S8 weights per channel, S8 "
                f"activations, min-max ranges); quant.{name} is {getattr(quant, name)!r}"
            )
    if not quant.per_channel:
        return "TFLite INT8 here quantizes weights per channel; quant.per_channel is false"
    if quant.max_drop is not None or quant.ops != "all":
        return "accuracy control (max_drop) and convolutions-only INT8 are other toolchains' options"
    if reason := overflow_fix_unsupported(quant, "ai-edge-quantizer"):
        return reason
    if source_data(variant.source) is None:
        return f"TFLite INT8 needs a calibration set; {NO_CALIBRATION_DATA}"
    return None
