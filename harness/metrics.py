"""The metric vocabulary of results.json: unit, direction of "better" and label of every metric.

Owned by the results schema (:mod:`harness.results`, :mod:`harness.report`) and read by the
budget checks (:mod:`harness.checks`), so that the schema depends on no policy module.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["ACCURACY_METRICS", "METRICS", "SEED_UNIT", "MetricInfo", "regression"]


class MetricInfo(NamedTuple):
    """Unit, direction (``None``: neither, e.g. a setting) and human label of a metric."""

    unit: str
    higher_is_better: bool | None
    label: str


METRICS: Mapping[str, MetricInfo] = types.MappingProxyType(
    {
        "map50": MetricInfo("", True, "mAP50"),
        "map50_95": MetricInfo("", True, "mAP50-95"),
        "latency_mean_ms": MetricInfo("ms", False, "latency mean"),
        "latency_std_ms": MetricInfo("ms", False, "latency std"),
        "latency_median_ms": MetricInfo("ms", False, "latency p50"),
        "latency_p90_ms": MetricInfo("ms", False, "latency p90"),
        "latency_p95_ms": MetricInfo("ms", False, "latency p95"),
        "latency_p99_ms": MetricInfo("ms", False, "latency p99"),
        "speedup_vs_reference": MetricInfo("x", True, "speedup vs reference"),
        "speedup_ci_low": MetricInfo("x", True, "speedup CI low"),
        "speedup_ci_high": MetricInfo("x", True, "speedup CI high"),
        "speedup_vs_fp32": MetricInfo("x", True, "speed vs own-backend FP32"),
        "speedup_vs_fp32_ci_low": MetricInfo("x", True, "speed vs FP32 CI low"),
        "speedup_vs_fp32_ci_high": MetricInfo("x", True, "speed vs FP32 CI high"),
        "speedup_vs_baseline": MetricInfo("x", True, "speed vs baseline artifact"),
        "speedup_vs_baseline_ci_low": MetricInfo("x", True, "speed vs baseline CI low"),
        "speedup_vs_baseline_ci_high": MetricInfo("x", True, "speed vs baseline CI high"),
        "map50_95_drop_ci_low": MetricInfo("", False, "mAP50-95 drop CI low"),
        "map50_95_drop_ci_high": MetricInfo("", False, "mAP50-95 drop CI high"),
        "map50_95_drop_seed_mean": MetricInfo("", False, "mAP50-95 drop, mean over training seeds"),
        "training_seeds": MetricInfo("seeds", None, "training seeds"),
        "throughput_ips": MetricInfo("img/s", True, "throughput"),
        "throughput_batch": MetricInfo("images", None, "throughput batch"),
        "params": MetricInfo("count", False, "parameters"),
        "gflops": MetricInfo("GFLOPs", False, "GFLOPs"),
        "file_bytes": MetricInfo("bytes", False, "file size"),
        "peak_memory_mb": MetricInfo("MiB", False, "peak memory"),
    }
)

ACCURACY_METRICS = ("map50", "map50_95")

SEED_UNIT = "training seeds"
"""The unit of an interval over training-seed replicates (``harness.measure.seeds``), in results."""


def regression(metric: str, value: float, reference: float) -> float:
    """How much worse ``value`` is than ``reference`` for ``metric`` (negative: better)."""
    info = METRICS.get(metric)
    if info is None or info.higher_is_better is None:
        raise ValueError(f"metric {metric!r} has no direction of better")
    return reference - value if info.higher_is_better else value - reference
