"""Pruning tables: before/after figures and speedups from study rows, the ratio guideline."""

from __future__ import annotations

import math
from pathlib import Path

from harness.config.pruning import PruningSpec
from harness.environment import Fingerprint
from harness.recipes import PruneSpec
from harness.report.pruning import pruning_table, ratio_guideline_table
from harness.report.writer import write_tables
from harness.results import PRUNING, RunResults
from harness.studies.pruning import PruneRow

FP = Fingerprint("cpu", 2, 2, None, "3.11", "2", "8", "1", "2")
REFERENCE = 0.66


def _row(ratio: float, tuned: float, method: str = "structured") -> dict[str, object]:
    row = PruneRow(
        "m", PruneSpec(ratio, method=method, finetune_epochs=0 if method != "structured" else 6), None
    )
    row.seconds, row.peak_memory_mib = 0.5, 680.0
    row.sizes = {"params_before": 2.6e6, "params_after": 2.6e6 * (1 - ratio), "onnx_bytes_before": 10e6}
    row.latency_ms = {"torch": (20.0, 20.0 * (1 - ratio)), "onnxruntime": (10.0, None)}
    row.map_reference, row.map_pruned, row.map_finetuned = REFERENCE, 0.0, tuned
    if method == "unstructured":
        row.sparsity = ratio
    return row.to_dict(PruningSpec(safe_drop=0.01, aggressive_drop=0.03))


def _run(*rows: dict[str, object]) -> RunResults:
    run = RunResults.new("default", FP, run_id="r")
    run.add_study(PRUNING, rows)
    return run


def test_pruning_table_shows_before_after_and_measured_speedups() -> None:
    table = pruning_table(_run(_row(0.5, 0.64)))
    (row,) = table.to_dict("records")
    assert row["Params -%"] == 50.0 and row["PyTorch speedup"] == 2.0
    assert math.isnan(row["ORT speedup"])  # after not measured: no ratio invented
    assert math.isnan(row["ONNX MB after"]) and row["ONNX MB"] == 10.0
    assert row["Drop"] == REFERENCE - 0.64 and row["mAP50-95 pruned"] == 0.0
    assert row["Pruning"].startswith("structured l1 uniform, round 16")
    assert row["vs L1 control"] == "-" and row["vs L1 verdict"] == "-"  # L1 has no L1 control


def test_layer_widths_show_as_whole_layers_and_the_spread_of_kept_shares() -> None:
    row = PruneRow("m", PruneSpec(0.6, round_to=8, rounding="nearest"), None)
    row.widths = {"a": (16, 8), "b": (32, 32), "c": (64, 16)}
    (shown,) = pruning_table(_run(row.to_dict(PruningSpec()))).to_dict("records")
    assert (shown["Layers whole"], shown["Layer kept % min"], shown["Layer kept % max"]) == (1, 25, 100)
    assert shown["Pruning"].startswith("structured l1 uniform, round 8 nearest,")
    (unrecorded,) = pruning_table(_run(_row(0.3, 0.65))).to_dict("records")
    assert math.isnan(unrecorded["Layers whole"]) and math.isnan(unrecorded["Layer kept % min"])


def test_a_criterion_shows_its_difference_from_the_l1_control() -> None:
    from harness.measure.stats import Interval

    row = PruneRow("m", PruneSpec(0.3, "fisher", finetune_epochs=4), None)
    row.vs_l1_ci = Interval(0.012, 0.004, 0.02, 0.95, 3, "training seeds")
    (shown,) = pruning_table(_run(row.to_dict(PruningSpec()))).to_dict("records")
    assert shown["vs L1 control"] == "+0.0120 (+0.0040 to +0.0200)" and shown["vs L1 verdict"] == "better"


def test_guideline_picks_the_largest_ratio_within_each_drop() -> None:
    run = _run(_row(0.2, 0.655), _row(0.3, 0.645), _row(0.5, 0.60), _row(0.3, 0.5, "unstructured"))
    table = ratio_guideline_table(run).set_index("Pruning")
    structured = table.loc[table.index.str.startswith("structured")].iloc[0]
    assert (structured["Safe ratio"], structured["Aggressive ratio"]) == (0.2, 0.3)
    assert structured["Ratios measured"] == "0.20, 0.30, 0.50"
    unstructured = table.loc["unstructured l1"]
    assert math.isnan(unstructured["Safe ratio"]) and math.isnan(unstructured["Aggressive ratio"])


def test_tables_are_written_and_render_unmeasured_as_dash(tmp_path: Path) -> None:
    files = write_tables(_run(_row(0.3, 0.65)), tmp_path)
    assert tmp_path / "pruning.md" in files and tmp_path / "prune-ratio-guideline.csv" in files
    text = (tmp_path / "pruning.md").read_text()
    assert "| -" in text or " - |" in text
    assert "0.30" in (tmp_path / "prune-ratio-guideline.md").read_text()
