"""Footprint measurements: parameter counts and the peak-memory probe."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from harness.measure.size import count_params, file_bytes, peak_host_memory_mb


def test_count_params_counts_every_tensor() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
    assert count_params(net) == 3 * 8 * 9 + 8 + 8 + 8


def test_file_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 1234)
    assert file_bytes(path) == 1234


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux only")
def test_peak_memory_sees_a_transient_allocation() -> None:
    def touch_64_mib() -> None:
        block = np.ones(64 * 1024 * 1024, dtype=np.uint8)  # touched, so resident
        del block

    peak = peak_host_memory_mb(touch_64_mib)
    assert peak is not None
    assert 60 <= peak <= 200
    assert (peak_host_memory_mb(lambda: None) or 0.0) < 16
