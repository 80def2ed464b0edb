"""Bench.speedup and Bench.fresh_speedup: the one place a same-run speedup takes the config's rounds,
warm-up and confidence, and the one place its confirmation takes fresh loads in both orders and more
rounds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from harness.bench import Bench
from harness.config import HarnessConfig, load_config
from harness.confirm import CONFIRM_ROUNDS
from harness.errors import ConfigError
from harness.recipes import Variant
from harness.studies.verdict_calibration import busy_wait


def _counted(seconds: float) -> tuple[Callable[[np.ndarray], None], list[int]]:
    """A forward that busy-waits ``seconds`` per call, and its call count."""
    calls = [0]

    def forward(x: np.ndarray) -> None:
        calls[0] += 1
        busy_wait(seconds)

    return forward, calls


def test_speedup_times_with_the_configs_rounds_and_reports_a_slower_candidate(
    quick_config: HarnessConfig,
) -> None:
    bench = Bench.from_config(quick_config)
    lat = quick_config.latency
    slow, slow_calls = _counted(0.003)
    fast, _ = _counted(0.001)
    metrics, interval = bench.speedup(slow, fast, np.zeros((1, 3, 8, 8), np.float32))  # type: ignore[arg-type]
    assert interval is not None and interval.high < 1.0
    assert metrics["speedup_vs_reference"] is not None and metrics["speedup_vs_reference"] < 0.6
    assert (
        metrics["reference_latency_median_ms"] is not None and metrics["reference_latency_median_ms"] >= 1.0
    )
    # every timed round is one call, plus the warm-up and some untimed calls between blocks
    assert lat.warmup + lat.interleaved_rounds <= slow_calls[0] < lat.warmup + 2 * lat.interleaved_rounds


def test_rounds_factor_multiplies_the_timed_rounds(quick_config: HarnessConfig) -> None:
    bench = Bench.from_config(quick_config)
    lat = quick_config.latency
    candidate, calls = _counted(0.0002)
    reference, _ = _counted(0.0002)
    bench.speedup(candidate, reference, np.zeros((1,), np.float32), rounds_factor=3)  # type: ignore[arg-type]
    assert calls[0] >= lat.warmup + 3 * lat.interleaved_rounds


def test_fresh_speedup_loads_two_pairs_in_both_orders_and_times_confirm_rounds(
    quick_config: HarnessConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The confirmation of harness.confirm: fresh loads (the reference on the artifact when given),
    the candidate first and then the reference first, timed with CONFIRM_ROUNDS x the factor x the
    config's rounds in all."""
    bench = Bench.from_config(quick_config)
    lat = quick_config.latency
    candidate, calls = _counted(0.0002)
    reference, _ = _counted(0.0002)
    loaded: list[tuple[str, tuple[Path, str] | None]] = []
    new, old = bench.variants[:2]

    def fresh_runner(variant: Variant, artifact: tuple[Path, str] | None = None) -> object:
        loaded.append((variant.slug, artifact))
        return candidate if variant.slug == new.slug else reference

    monkeypatch.setattr(bench, "fresh_runner", fresh_runner)
    artifact = (Path("old.onnx"), "0" * 64)
    bench.fresh_speedup(new, old, np.zeros((1,), np.float32), rounds_factor=2, artifact=artifact)
    assert loaded == [(new.slug, None), (old.slug, artifact), (old.slug, artifact), (new.slug, None)]
    timed = 2 * CONFIRM_ROUNDS * lat.interleaved_rounds
    assert 2 * lat.warmup + timed <= calls[0] < 2 * lat.warmup + 2 * timed


def test_a_matrix_that_cannot_be_built_names_the_config_file(tmp_path: Path) -> None:
    """A [distill] method applying to no student is refused with the file it came from."""
    (tmp_path / "harness.toml").write_text(
        'profile = "quick"\n[distill]\nstudents = [{model = "yolo11n"}]\nmethods = ["response"]\n'
    )
    config = load_config(tmp_path)
    with pytest.raises(ConfigError, match=r"'response' applies to no student: .* \(in harness\.toml\)$"):
        Bench.from_config(config)
