"""The recommendation table and plot: candidates fastest first, the recommended one starred."""

from __future__ import annotations

import math
from pathlib import Path

from harness.environment import Fingerprint
from harness.report.plots import recommendation_points, render_plots
from harness.report.recommendation import recommendation_table
from harness.report.writer import write_tables
from harness.results import RECOMMENDATION, RunResults

FP = Fingerprint("cpu", 2, 2, None, "3.11", "2", "8", "1", "2")


def _rows() -> list[dict[str, object]]:
    base = {"case": "yolo11n-recommendation", "model": "yolo11n", "prune": 0.0, "kd": None, "combined": False}
    return [
        base | {"variant": "yolo11n-p20-l1-int8-openvino", "backend": "openvino", "precision": "int8",
                "prune": 0.2, "combined": True, "map50_95": 0.69, "drop": -0.016, "drop_ci_low": -0.028,
                "drop_ci_high": -0.005, "drop_n": 2, "drop_unit": "training seeds", "budget": 0.02,
                "eligible": True, "latency_median_ms": 2.0, "screen_speedup": 9.1, "recommended": True,
                "speedup_vs_torch": 9.3, "speedup_ci_low": 9.0, "speedup_ci_high": 9.6, "speedup_rounds": 300,
                "reason": ""},
        base | {"variant": "yolo11n-p00-int8-openvino", "backend": "openvino", "precision": "int8",
                "map50_95": 0.67, "drop": 0.007, "drop_ci_low": 0.004, "drop_ci_high": 0.0101, "drop_n": 500,
                "drop_unit": "val images", "budget": 0.01, "eligible": False, "latency_median_ms": 2.3,
                "screen_speedup": 5.5, "recommended": False, "roofline_ms": 0.83, "roofline_ratio": 2.77,
                "peak_gmacs": 951.0, "reason": "drop interval reaches 0.0101 > budget 0.0100"},
        base | {"variant": "yolo11n-p00-fp32-torch", "backend": "torch", "precision": "fp32", "map50_95": 0.677,
                "drop": 0.0, "drop_ci_low": 0.0, "drop_ci_high": 0.0, "drop_n": 500, "drop_unit": "val images",
                "budget": 0.01, "eligible": True, "latency_median_ms": 12.5, "screen_speedup": 1.0,
                "recommended": False},
        base | {"variant": "yolo11n-p00-fp16-torch", "backend": "torch", "precision": "fp16", "map50_95": None,
                "eligible": None, "latency_median_ms": None, "recommended": False,
                "reason": "PyTorch has no FP16 on this CPU"},
    ]  # fmt: skip


def _run() -> RunResults:
    run = RunResults.new("default", FP, run_id="r")
    run.studies[RECOMMENDATION] = _rows()
    return run


def test_rows_figures_and_marks() -> None:
    frame = recommendation_table(_run())
    assert list(frame["Recommended"]) == ["*", "", "", ""]
    assert (
        frame["Drop"][0] == "-0.0160 (-0.0280 to -0.0050)"
        and frame["Seeds"][0] == "2"
        and frame["Seeds"][1] == "-"
    )
    assert frame["Speedup vs PyTorch (interleaved)"][0] == "9.30x (9.00x to 9.60x)"
    assert frame["Speedup vs PyTorch (interleaved)"][1] == "-"
    assert frame["Rounds"][0] == 300 and math.isnan(frame["Rounds"][1])
    assert list(frame["Eligible"]) == ["yes", "no", "yes", "-"] and frame["KD"][0] == "- (combined)"
    assert frame["x roofline"][1] == 2.77 and math.isnan(frame["x roofline"][0])
    assert math.isnan(frame["mAP50-95"][3]) and "FP16" in frame["Note"][3]


def test_a_plot_per_model_stars_the_recommended_candidate(tmp_path: Path) -> None:
    (points, chosen) = recommendation_points(_run())["yolo11n"]
    assert len(points) == 3 and chosen is not None and chosen.variant == "yolo11n-p20-l1-int8-openvino"
    stems = [p.stem for p in render_plots(_run())]
    assert stems == ["recommendation-yolo11n"]  # no variant results: no deployment Pareto plots
    written = write_tables(_run(), tmp_path)
    assert tmp_path / "recommendation-yolo11n.svg" in written and tmp_path / "recommendation.md" in written
    text = (tmp_path / "recommendation.md").read_text()
    assert "# Recommendation: the fastest variant within budget" in text and "`-` = not measured" in text
    assert 'id="plot-recommendation-yolo11n"' in (tmp_path / "report.html").read_text()
