"""The backend name table: each backend's name and its class as a ``"module:Class"`` string.

The config checks backend names against this table without importing any backend (or
:mod:`harness.backends` at all); :func:`harness.backends.registry.get_backend` imports the
class when a backend is used.
"""

from __future__ import annotations

__all__ = ["backend_target", "known_backends", "register"]

_REGISTRY: dict[str, str] = {
    "torch": "harness.backends.torch_backend:TorchBackend",
    "onnxruntime": "harness.backends.onnxruntime_backend:OnnxRuntimeBackend",
    "onnxruntime-trt": "harness.backends.onnxruntime_backend:OnnxRuntimeTensorRTBackend",
    "ncnn": "harness.backends.ncnn_backend:NcnnBackend",
    "openvino": "harness.backends.openvino_backend:OpenVinoBackend",
    "tensorrt": "harness.backends.tensorrt_backend:TensorRTBackend",
    "tflite": "harness.backends.tflite_backend:TfliteBackend",
}


def known_backends() -> tuple[str, ...]:
    """Names of every registered backend."""
    return tuple(_REGISTRY)


def register(name: str, target: str) -> None:
    """Register a backend class by ``"module:Class"`` without importing it."""
    _REGISTRY[name] = target


def backend_target(name: str) -> str | None:
    """The ``"module:Class"`` registered as ``name``, or None when no backend has that name."""
    return _REGISTRY.get(name)
