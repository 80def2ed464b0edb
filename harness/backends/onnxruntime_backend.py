"""ONNX Runtime: CPU execution provider, and the CUDA / TensorRT providers when installed.

FP32 runs the Ultralytics export; FP16 and INT8 are built from it by
:mod:`harness.builders.quantize.onnxruntime` (float16 with float32 I/O; static or dynamic INT8).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.backends.base import LoadRequest, ensure_supported
from harness.builders import build
from harness.errors import HarnessError
from harness.planning import onnxruntime_no_data_reason, onnxruntime_recipe
from harness.recipes import QuantSpec, Variant, source_data

_PRECISIONS = ("fp32", "fp16", "int8")
_GPU_PROVIDERS = frozenset({"CUDAExecutionProvider", "TensorrtExecutionProvider"})

Int8Rule = Callable[[QuantSpec, frozenset[str]], bool]
_INT8_RULES: tuple[tuple[Int8Rule, str], ...] = (
    (
        lambda q, p: q.max_drop is not None,
        "accuracy-controlled quantization (max_drop) is NNCF's (OpenVINO backend); ONNX Runtime has none",
    ),
    (
        lambda q, p: q.format == "qoperator" and bool(p & _GPU_PROVIDERS),
        (
            "QOperator INT8 graphs (QLinearConv...) run on ONNX Runtime's CPU provider only; "
            "use format 'qdq' with the CUDA or TensorRT provider"
        ),
    ),
    (
        lambda q, p: q.method == "dynamic" and bool(p & _GPU_PROVIDERS),
        "dynamic INT8 (DynamicQuantizeLinear + ConvInteger) has no CUDA or TensorRT kernels",
    ),
    (
        lambda q, p: "TensorrtExecutionProvider" in p and (q.activations, q.weights) != ("s8", "s8"),
        "TensorRT's explicit INT8 takes signed 8-bit QDQ only; use activations 's8' and weights 's8'",
    ),
)


def int8_unsupported(variant: Variant, providers: list[str]) -> str | None:
    """Why ONNX Runtime cannot run ``variant``'s INT8 configuration on ``providers``, or None."""
    if variant.quant is None:
        return None
    if variant.quant.method == "static" and source_data(variant.source) is None:
        return onnxruntime_no_data_reason(variant)
    names = frozenset(providers)
    return next((reason for rule, reason in _INT8_RULES if rule(variant.quant, names)), None)


class OrtRunner:
    """An InferenceSession bound to one input and one output."""

    def __init__(
        self, path: Path, sha256: str, providers: list[str], threads: int, profile_prefix: Path | None = None
    ) -> None:
        """``profile_prefix``: ONNX Runtime's own profiling on, its JSON written there
        (``session.end_profiling()`` returns the file)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads must not spin: they would steal the cores from whatever is timed
        # next (the interleaved reference, another backend) and distort same-run ratios.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        if profile_prefix is not None:
            options.enable_profiling = True
            options.profile_file_prefix = str(profile_prefix)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except (RuntimeError, ort.capi.onnxruntime_pybind11_state.Fail) as exc:
            raise HarnessError(f"ONNX Runtime failed to load {path} it built: {exc}") from exc
        self.input = self.session.get_inputs()[0].name
        self.output = self.session.get_outputs()[0].name
        self.artifact = path
        self.artifact_sha256 = sha256
        self.providers = list(providers)
        self.threads = threads

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
        reason = int8_unsupported(variant, self.providers(device))
        if reason:
            return reason
        missing = [p for p in self.providers(device) if p not in ort.get_available_providers()]
        if missing:
            return f"ONNX Runtime here lacks {', '.join(missing)} (available: {', '.join(ort.get_available_providers())})"
        return None

    def load(self, request: LoadRequest) -> OrtRunner:
        """Export, convert or quantize (cached) and open an InferenceSession."""
        ensure_supported(self, request)
        artifact = build(onnxruntime_recipe(request.variant, request.batch), request.ctx)
        return self.open(artifact.path, artifact.sha256, request)

    def open(self, path: Path, sha256: str, request: LoadRequest) -> OrtRunner:
        """An InferenceSession on ``path`` with this backend's providers."""
        providers = self.providers(request.ctx.device) + ["CPUExecutionProvider"]
        return OrtRunner(path, sha256, list(dict.fromkeys(providers)), request.ctx.threads)


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
