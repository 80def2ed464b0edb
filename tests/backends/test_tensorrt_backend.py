"""TensorRT: absent here (no package, no GPU) -> every variant is a skip with the reason, never a row."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from harness.backends.base import LoadRequest
from harness.backends.registry import get_backend
from harness.bench import Bench
from harness.builders import BuildContext
from harness.cache import ArtifactCache
from harness.config import HarnessConfig
from harness.errors import BackendUnavailable
from harness.recipes import QuantSpec


@pytest.fixture(scope="module")
def trt_variant(quick_config: HarnessConfig):  # type: ignore[no-untyped-def]
    base = Bench.from_config(quick_config).variants[0]
    return dataclasses.replace(base, backend="tensorrt")


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")
def test_missing_tensorrt_is_a_reason(trt_variant) -> None:  # type: ignore[no-untyped-def]
    backend = get_backend("tensorrt")
    assert "tensorrt is not installed" in (backend.unsupported(trt_variant, "cuda:0") or "")
    with pytest.raises(BackendUnavailable, match="tensorrt is not installed"):
        backend.load(LoadRequest(trt_variant, 1, BuildContext(ArtifactCache(Path("/nonexistent")))))


def test_calibrator_choice_is_checked(trt_variant) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("tensorrt")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    int8 = dataclasses.replace(trt_variant, precision="int8", quant=QuantSpec(calibration="percentile"))
    assert "entropy or minmax" in (get_backend("tensorrt").unsupported(int8, "cuda:0") or "")
