"""The PyTorch backend on a CUDA device: FP32, FP16 and BF16 runners on the quick reference.

Skipped where torch sees no CUDA device, so the CPU suite stays as it was; on a GPU machine these
are the only tests that run the torch backend's CUDA paths (the shared ``session`` is on the CPU).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from harness.bench import Bench
from harness.config import HarnessConfig
from harness.probes import ProbeRequest, peak_memory_mb
from harness.recipes import Variant

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)"
    ),
]

# Max abs difference from the CUDA FP32 output, as (box coordinates / imgsz, class scores). On an
# H100, the trained default reference (320 px) at 640 px gave 0.004 / 0.003 (FP16), 0.019 / 0.022 (BF16).
HALF_TOLERANCE = {"fp16": (0.01, 0.01), "bf16": (0.04, 0.05)}
# cuDNN runs FP32 convolutions in TF32 by default (torch.backends.cudnn.allow_tf32), so CUDA FP32 is
# not bit-close to the CPU: the trained default reference at 640 px differed by 0.0011 x imgsz in its
# boxes and 0.0012 in its scores (0.0002 x imgsz with TF32 off); batch 16 vs batch 1 differed as much.
TF32_TOLERANCE = 3e-3


@pytest.fixture(scope="module")
def cuda_session(quick_config: HarnessConfig) -> Bench:
    """The quick session on ``cuda`` (same cache as the CPU session: the reference trains once)."""
    return Bench.from_config(dataclasses.replace(quick_config, device="cuda"))


def _variant(session: Bench, precision: str) -> Variant:
    return dataclasses.replace(session.variants[0], backend="torch", precision=precision)


def _max_diffs(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Max abs difference of the box rows and of the class-score rows of two raw outputs."""
    d = np.abs(a - b)
    return float(d[:, :4].max()), float(d[:, 4:].max())


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_cuda_runner_returns_float32_host_arrays(cuda_session: Bench, precision: str) -> None:
    variant = _variant(cuda_session, precision)
    runner = cuda_session.runner(variant)
    assert runner.device.type == "cuda"
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    assert next(runner.net.parameters()).dtype == dtypes[precision]
    y = runner(cuda_session.input_batch(variant, 1))
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    assert y.shape == (1, 4 + len(cuda_session.data.names), y.shape[2])
    assert np.isfinite(y).all()


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_stays_close_to_fp32(cuda_session: Bench, precision: str) -> None:
    variant = _variant(cuda_session, precision)
    x = cuda_session.input_batch(variant, 2)
    reference = cuda_session.runner(_variant(cuda_session, "fp32"), batch=2)(x)
    boxes, scores = _max_diffs(cuda_session.runner(variant, batch=2)(x), reference)
    box_tol, score_tol = HALF_TOLERANCE[precision]
    assert boxes <= box_tol * variant.imgsz, (boxes, scores)
    assert scores <= score_tol, (boxes, scores)


def test_cuda_fp32_agrees_with_cpu_fp32(session: Bench, cuda_session: Bench) -> None:
    x = session.input_batch(_variant(session, "fp32"), 1)
    cpu = session.runner(_variant(session, "fp32"))(x)
    cuda = cuda_session.runner(_variant(cuda_session, "fp32"))(x)
    boxes, scores = _max_diffs(cuda, cpu)
    assert boxes <= TF32_TOLERANCE * x.shape[-1] and scores <= TF32_TOLERANCE, (boxes, scores)


def test_cuda_batched_runner_matches_batch_one(cuda_session: Bench) -> None:
    variant = _variant(cuda_session, "fp32")
    x2 = cuda_session.input_batch(variant, 2)
    batched = cuda_session.runner(variant, batch=2)(x2)
    single = cuda_session.runner(variant, batch=1)(x2[1:2])
    boxes, scores = _max_diffs(batched[1:2], single)
    assert boxes <= TF32_TOLERANCE * variant.imgsz and scores <= TF32_TOLERANCE, (boxes, scores)


def test_cuda_memory_probe_reports_less_for_fp16(cuda_session: Bench) -> None:
    cuda_session.runner(_variant(cuda_session, "fp32"))  # build the reference in this process
    request = ProbeRequest(_variant(cuda_session, "fp32"), cuda_session.ctx.cache.root, "cuda", 2)
    fp32_mb = peak_memory_mb(request)
    fp16_mb = peak_memory_mb(dataclasses.replace(request, variant=_variant(cuda_session, "fp16")))
    assert fp32_mb is not None and fp16_mb is not None
    assert 0 < fp16_mb < fp32_mb
