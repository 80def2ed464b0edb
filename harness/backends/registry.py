"""Backends registered lazily as ``"module:Class"`` strings: importing the harness imports none."""

from __future__ import annotations

import difflib
import importlib

from harness.backends.base import Backend
from harness.errors import ConfigError

_REGISTRY: dict[str, str] = {
    "torch": "harness.backends.torch_backend:TorchBackend",
    "onnxruntime": "harness.backends.onnxruntime_backend:OnnxRuntimeBackend",
    "onnxruntime-trt": "harness.backends.onnxruntime_backend:OnnxRuntimeTensorRTBackend",
    "ncnn": "harness.backends.ncnn_backend:NcnnBackend",
    "openvino": "harness.backends.openvino_backend:OpenVinoBackend",
    "tensorrt": "harness.backends.tensorrt_backend:TensorRTBackend",
}


def known_backends() -> tuple[str, ...]:
    """Names of every registered backend."""
    return tuple(_REGISTRY)


def register(name: str, target: str) -> None:
    """Register a backend class by ``"module:Class"`` without importing it."""
    _REGISTRY[name] = target


def get_backend(name: str) -> Backend:
    """Instantiate the backend ``name``; an unknown name fails with a suggestion."""
    target = _REGISTRY.get(name)
    if target is None:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown backend {name!r} (known: {', '.join(_REGISTRY)}){hint}")
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls()
