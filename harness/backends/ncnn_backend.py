"""NCNN on the CPU (the ``ncnn`` wheel from PyPI): FP32, FP16 and INT8.

Models come from ``pnnx`` (harness.builders.ncnn). On x86 the wheel's convolutions compute in float32
even with the FP16 options on (measured: bit-identical outputs), so the FP16 variant differs
from FP32 by its float16-stored weights (half the ``.bin``) rather than by its arithmetic.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from harness.backends.base import LoadRequest, ensure_supported
from harness.builders import build
from harness.builders.ncnn import INPUT_BLOB, OUTPUT_BLOB, companion_bin, set_precision
from harness.builders.quantize import ops_unsupported, overflow_fix_unsupported
from harness.errors import HarnessError
from harness.planning import ncnn_int8_recipe, ncnn_recipe
from harness.recipes import NO_CALIBRATION_DATA, Variant, source_data

_PRECISIONS = ("fp32", "fp16", "int8")


def _int8_unsupported(variant: Variant) -> str | None:
    """Quantization options that ncnn's INT8 path cannot honour."""
    quant = variant.quant
    if quant is None:
        return "an int8 variant needs a QuantSpec"
    if quant.method != "static":
        return "ncnn INT8 is static only (calibrated activation scales); quant.method is 'dynamic'"
    if quant.activations != "s8" or quant.weights != "s8":
        return f"ncnn INT8 is symmetric signed (s8s8); got activations {quant.activations}, weights {quant.weights}"
    if quant.format != "qdq":
        return "quant.format 'qoperator' is an ONNX Runtime graph format; ncnn has its own int8 layers"
    if quant.max_drop is not None:
        return "accuracy-controlled quantization (max_drop) is NNCF's; ncnn has no such mode"
    if reason := ops_unsupported(quant, "ncnn2int8") or overflow_fix_unsupported(quant, "ncnn2int8"):
        return reason
    if source_data(variant.source) is None:
        return f"ncnn INT8 needs a calibration set; {NO_CALIBRATION_DATA}"
    return None


class NcnnRunner:
    """An ``ncnn.Net`` fed one image at a time.

    ncnn's ``Mat`` holds a single CHW image, so a batch larger than 1 runs image by image and the
    outputs are stacked; batch-1 latency is the meaningful figure.
    """

    def __init__(self, param: Path, sha256: str, precision: str, threads: int) -> None:
        import ncnn

        self._ncnn = ncnn
        self.net = ncnn.Net()
        set_precision(self.net.opt, precision, threads)
        if self.net.load_param(str(param)) != 0 or self.net.load_model(str(companion_bin(param))) != 0:
            raise HarnessError(f"ncnn failed to load {param} and its .bin it built")
        self.artifact = param
        self.artifact_sha256 = sha256

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run each image of a float32 NCHW batch; returns (B, 4 + nc, N) float32 on the host."""
        return np.stack([self._one(image) for image in batch])

    def _one(self, image: np.ndarray) -> np.ndarray:
        extractor = self.net.create_extractor()
        extractor.input(INPUT_BLOB, self._ncnn.Mat(np.ascontiguousarray(image, dtype=np.float32)))
        code, out = extractor.extract(OUTPUT_BLOB)
        if code != 0:
            raise HarnessError(
                f"ncnn failed to run {self.artifact} (extract {OUTPUT_BLOB!r} returned {code})"
            )
        return np.array(out, dtype=np.float32)


class NcnnBackend:
    """pnnx-converted models run by the ncnn wheel on the CPU."""

    def unsupported(self, variant: Variant, device: str) -> str | None:
        """Missing wheels, a CUDA device, or a precision / quantization ncnn cannot honour here."""
        # find_spec, not import: pnnx pulls in torch, which a process serving a built model never needs
        missing = [name for name in ("ncnn", "pnnx") if importlib.util.find_spec(name) is None]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            return f"{' and '.join(missing)} {verb} not installed (pip install ncnn pnnx)"
        if device != "cpu":
            return f"the ncnn wheel runs on the CPU only (its Vulkan GPU path is not measured); device is {device!r}"
        if variant.precision not in _PRECISIONS:
            return f"ncnn backend has no {variant.precision} path (supported: {', '.join(_PRECISIONS)})"
        if variant.precision == "int8":
            return _int8_unsupported(variant)
        return None

    def load(self, request: LoadRequest) -> NcnnRunner:
        """Convert (cached), calibrate INT8 scales when asked (cached), and load the net."""
        variant = request.variant
        ensure_supported(self, request)
        data = source_data(variant.source)
        if variant.precision == "int8" and data is not None:
            artifact = build(ncnn_int8_recipe(variant, data), request.ctx)
        else:
            artifact = build(ncnn_recipe(variant), request.ctx)
        return self.open(artifact.path, artifact.sha256, request)

    def open(self, path: Path, sha256: str, request: LoadRequest) -> NcnnRunner:
        """Load the net at ``path`` (its ``.bin`` beside it)."""
        return NcnnRunner(path, sha256, request.variant.precision, request.ctx.threads)
