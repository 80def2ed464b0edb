"""The INT8 roofline: a measured peak MAC rate and the compute bound it gives a model."""

from __future__ import annotations

import pytest

from harness.measure.roofline import PEAK_SHAPE, Peak, missing_openvino, peak_int8, roofline_ms


def test_roofline_is_macs_over_the_peak() -> None:
    peak = Peak(500e9, 2, "test")
    assert peak.gmacs == pytest.approx(500.0)
    assert roofline_ms(1.0, peak) == pytest.approx(1.0)  # 0.5 GMAC at 500 GMAC/s
    with pytest.raises(ValueError, match="positive"):
        roofline_ms(0.0, peak)


def test_the_peak_is_measured_on_this_cpu() -> None:
    if reason := missing_openvino():
        pytest.skip(reason)
    peak = peak_int8(threads=1, calls=5, warmup=1)
    channels, size, depth = PEAK_SHAPE
    # a single core does at least 1 GMAC/s and no x86 core does 10 TMAC/s of INT8
    assert 1e9 < peak.macs_per_s < 1e13 and peak.threads == 1
    assert f"{depth} x conv3x3 {channels}ch {size}x{size}" in peak.method
