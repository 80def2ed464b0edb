"""Backends on a real (quick-profile) model: same network, same outputs; clear skips and errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.backends.registry import get_backend
from harness.bench import Bench
from harness.errors import BackendUnavailable

pytestmark = pytest.mark.slow


def _variant(session: Bench, backend: str, precision: str = "fp32"):  # type: ignore[no-untyped-def]
    base = session.variants[0]
    return dataclasses.replace(base, backend=backend, precision=precision)


def test_torch_and_onnxruntime_agree_on_raw_outputs(session: Bench) -> None:
    torch_variant = _variant(session, "torch")
    ort_variant = _variant(session, "onnxruntime")
    x = session.input_batch(torch_variant, 1)
    a = session.runner(torch_variant)(x)
    b = session.runner(ort_variant)(x)
    assert a.shape == b.shape == (1, 4 + len(session.data.names), a.shape[2])
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=2e-3, rtol=1e-3)


def test_batched_runner_matches_batch_one(session: Bench, batch_matches_single) -> None:  # type: ignore[no-untyped-def]
    batch_matches_single(session, _variant(session, "onnxruntime"))


def test_artifacts_are_hashed_files(session: Bench) -> None:
    runner = session.runner(_variant(session, "onnxruntime"))
    assert runner.artifact.suffix == ".onnx" and runner.artifact.is_file()
    assert len(runner.artifact_sha256) == 64


@pytest.mark.parametrize(
    ("backend", "precision", "reason"),
    [
        ("torch", "fp16", "measured on CUDA only"),
        ("torch", "bf16", "measured on CUDA only"),
        ("onnxruntime-trt", "fp32", "needs a CUDA device"),
    ],
)
def test_unsupported_combinations_skip_with_reason(
    session: Bench, backend: str, precision: str, reason: str
) -> None:
    if session.ctx.device != "cpu":
        pytest.skip("these combinations are unsupported on the CPU only")
    variant = _variant(session, backend, precision)
    assert reason in (get_backend(backend).unsupported(variant, "cpu") or "")
    with pytest.raises(BackendUnavailable, match=reason):
        session.runner(variant)


def test_cuda_device_without_cuda_is_a_skip(session: Bench) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    variant = _variant(session, "torch")
    assert "torch.cuda.is_available() is False" in (get_backend("torch").unsupported(variant, "cuda:0") or "")
