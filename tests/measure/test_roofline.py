"""The INT8 roofline: a measured peak MAC rate and the compute bound it gives a model."""

from __future__ import annotations

import pytest

from harness.measure.roofline import (
    PEAK_SHAPE,
    Peak,
    missing_openvino,
    peak_int8,
    roofline_ms,
    settled_fastest,
)


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
    assert "x 5 calls" in peak.method


def test_blocks_run_until_one_no_longer_beats_the_fastest() -> None:
    # a slow first block, a 20 % faster one, then one within the tolerance: three blocks
    times = iter([1.0, 1.1, 0.8, 0.9, 0.795, 0.85, 0.5, 0.5])
    fastest, blocks = settled_fastest(lambda: next(times), calls=2, max_blocks=8, tolerance=0.01)
    assert (fastest, blocks) == (0.795, 3)


def test_blocks_stop_at_the_cap_while_still_improving() -> None:
    times = iter(1.0 / (k + 1) for k in range(100))
    fastest, blocks = settled_fastest(lambda: next(times), calls=3, max_blocks=4, tolerance=0.01)
    assert blocks == 4 and fastest == pytest.approx(1.0 / 12)
    with pytest.raises(ValueError, match="calls >= 1"):
        settled_fastest(lambda: 1.0, calls=0, max_blocks=4, tolerance=0.01)
