"""ONNX Runtime: CPU execution provider, and the CUDA / TensorRT providers when installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.backends.base import LoadRequest
from harness.build import build
from harness.errors import BackendUnavailable, HarnessError
from harness.recipes import ExportRecipe, Variant
from harness.versions import versions

_PRECISIONS = ("fp32", "fp16")


def onnx_recipe(variant: Variant, batch: int) -> ExportRecipe:
    """The ONNX export a variant needs at a given static batch size."""
    return ExportRecipe(
        source=variant.source,
        format="onnx",
        imgsz=variant.imgsz,
        batch=batch,
        half=variant.precision == "fp16",
        versions=versions("torch", "ultralytics", "onnx", "onnxslim"),
    )


class OrtRunner:
    """An InferenceSession bound to one input and one output."""

    def __init__(self, path: Path, sha256: str, providers: list[str], threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads must not spin: they would steal the cores from whatever is timed
        # next (the interleaved reference, another backend) and distort same-run ratios.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except (RuntimeError, ort.capi.onnxruntime_pybind11_state.Fail) as exc:
            raise HarnessError(f"ONNX Runtime failed to load {path} it built: {exc}") from exc
        self.input = self.session.get_inputs()[0].name
        self.output = self.session.get_outputs()[0].name
        self.artifact = path
        self.artifact_sha256 = sha256

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch; ONNX Runtime returns host arrays, so the device has finished."""
        return self.session.run([self.output], {self.input: batch})[0].astype(np.float32, copy=False)


class OnnxRuntimeBackend:
    """ONNX Runtime with the CPU provider on ``cpu`` and the CUDA provider on ``cuda``."""

    def providers(self, device: str) -> list[str]:
        """Execution providers in priority order for ``device``."""
        return ["CUDAExecutionProvider"] if device.startswith("cuda") else ["CPUExecutionProvider"]

    def unsupported(self, variant: Variant, device: str) -> str | None:
        """Missing package, missing provider, or a precision this path cannot build here."""
        try:
            import onnxruntime as ort
        except ImportError:
            return "onnxruntime is not installed (pip install onnxruntime)"
        if variant.precision not in _PRECISIONS:
            return f"ONNX Runtime backend has no {variant.precision} path yet (supported: {', '.join(_PRECISIONS)})"
        if variant.precision == "fp16" and not device.startswith("cuda"):
            return "Ultralytics exports FP16 ONNX graphs only on a CUDA device; device is 'cpu'"
        missing = [p for p in self.providers(device) if p not in ort.get_available_providers()]
        if missing:
            return f"ONNX Runtime here lacks {', '.join(missing)} (available: {', '.join(ort.get_available_providers())})"
        return None

    def load(self, request: LoadRequest) -> OrtRunner:
        """Export (cached) and open an InferenceSession."""
        reason = self.unsupported(request.variant, request.ctx.device)
        if reason:
            raise BackendUnavailable(reason)
        artifact = build(onnx_recipe(request.variant, request.batch), request.ctx)
        providers = self.providers(request.ctx.device) + ["CPUExecutionProvider"]
        return OrtRunner(artifact.path, artifact.sha256, list(dict.fromkeys(providers)), request.ctx.threads)


class OnnxRuntimeTensorRTBackend(OnnxRuntimeBackend):
    """ONNX Runtime's TensorRT execution provider (CUDA falls back for unsupported nodes)."""

    def providers(self, device: str) -> list[str]:
        """TensorRT first, then CUDA."""
        return ["TensorrtExecutionProvider", "CUDAExecutionProvider"]

    def unsupported(self, variant: Variant, device: str) -> str | None:
        """Needs a CUDA device as well as the provider."""
        if not device.startswith("cuda"):
            return f"the TensorRT execution provider needs a CUDA device; device is {device!r}"
        return super().unsupported(variant, device)

