"""harness.probes: the fresh-process memory probe on real quick-profile variants."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from harness.bench import Bench
from harness.config import HarnessConfig
from harness.probes import ProbeRequest, peak_memory_mb

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmHWM from /proc"),
]


def test_onnxruntime_process_needs_less_than_torch(quick_config: HarnessConfig) -> None:
    session = Bench.from_config(quick_config)
    torch_variant = session.variants[0]
    ort_variant = dataclasses.replace(torch_variant, backend="onnxruntime")
    session.runner(ort_variant)  # build the export in this process; the probe only loads it
    request = ProbeRequest(torch_variant, session.ctx.cache.root, "cpu", 2)
    torch_mb = peak_memory_mb(request)
    ort_mb = peak_memory_mb(dataclasses.replace(request, variant=ort_variant))
    assert torch_mb is not None and ort_mb is not None
    # A process serving the ONNX graph does not import torch at all.
    assert 20 < ort_mb < torch_mb
