"""Backend registry: lazy, with a did-you-mean for unknown names."""

from __future__ import annotations

import sys

import pytest

from harness.backends.registry import get_backend, known_backends
from harness.errors import ConfigError


def test_unknown_backend_suggests_nearest() -> None:
    with pytest.raises(ConfigError, match=r"unknown backend 'onnxrutime'.*did you mean 'onnxruntime'"):
        get_backend("onnxrutime")


def test_known_backends_are_importable_lazily() -> None:
    assert {"torch", "onnxruntime"} <= set(known_backends())
    for name in known_backends():
        assert hasattr(get_backend(name), "load")


def test_importing_harness_imports_no_backend() -> None:
    import harness.backends.registry  # noqa: F401

    assert "tensorrt" not in sys.modules
