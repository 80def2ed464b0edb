"""Ablation table: seven rows per model in order, deltas against Baseline, missing rows as ``-``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.config.ablation import ROWS
from harness.environment import Fingerprint
from harness.report.ablation import ABLATION_TABLES, ablation_table
from harness.report.tables import to_markdown
from harness.report.writer import write_tables
from harness.results import ABLATION, RunResults

FP = Fingerprint("cpu", 2, 2, None, "3.11", "2", "8", "1", "2")
KD_REASON = "no unpruned student in [distill] for this model"
COLUMNS = [
    "Model", "Row", "mAP50", "Δ mAP50", "mAP50-95", "Δ mAP50-95", "Δ mAP50-95 CI", "Seeds", "Params M",
    "Δ params %", "Latency ms", "Δ latency %", "Speedup", "Speedup CI", "Size MB", "Δ size %",
    "Runtime", "Note",
]  # fmt: skip


def _measured(row: str, model: str = "yolo11n", **changes: object) -> dict[str, object]:
    """A measured row as :func:`harness.studies.ablation.measure_row` records it (``changes`` override)."""
    base: dict[str, object] = {
        "model": model,
        "row": row,
        "components": "FP32 reference",
        "reason": "",
        "variant": f"{model}-p00-fp32-onnxruntime",
        "runtime": "onnxruntime fp32",
        "map50": 0.8,
        "map50_95": 0.6,
        "map_drop_ci": [0.0, 0.0],
        "baseline_map50_95": 0.6,
        "params": 2_600_000,
        "file_bytes": 10_000_000.0,
        "baseline_file_bytes": 10_000_000.0,
        "latency_ms": 20.0,
        "baseline_latency_ms": 20.0,
        "speedup": 1.0,
        "speedup_ci": [0.98, 1.02],
    }
    return base | changes


INT8 = _measured(
    "+INT8",
    components="qdq-pc-u8s8-minmax-c100",
    variant="yolo11n-p00-int8-qdq-pc-u8s8-minmax-c100-onnxruntime",
    runtime="onnxruntime int8",
    map50=0.79,
    map50_95=0.585,
    map_drop_ci=[0.01, 0.02],
    params=2_600_000,
    file_bytes=3_000_000.0,
    latency_ms=10.0,
    speedup=2.0,
    speedup_ci=[1.9, 2.1],
)
KD = {"model": "yolo11n", "row": "+KD", "components": "", "reason": KD_REASON}


def _run(*rows: dict[str, object]) -> RunResults:
    run = RunResults.new("default", FP, run_id="r")
    if rows:
        run.add_study(ABLATION, rows)
    return run


def _records(*rows: dict[str, object]) -> dict[str, dict[str, object]]:
    """The table's records of yolo11n by row name."""
    table = ablation_table(_run(*rows))
    assert list(table.columns) == COLUMNS
    return {r["Row"]: r for r in table.to_dict("records") if r["Model"] == "yolo11n"}


def _cells(markdown: str, row: str, model: str = "yolo11n") -> dict[str, str]:
    """The markdown row of ``model`` whose Row cell is ``row``, as header -> cell text."""
    lines = markdown.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        if (cells["Model"], cells["Row"]) == (model, row):
            return cells
    raise AssertionError(f"no row {row!r} in\n{markdown}")


def _markdown(*rows: dict[str, object]) -> str:
    study = ABLATION_TABLES["ablation"]
    return to_markdown(study.build(_run(*rows)), dict(study.formats))


def test_no_study_gives_an_empty_table() -> None:
    table = ablation_table(_run())
    assert table.empty and list(table.columns) == COLUMNS


def test_seven_rows_per_model_in_order() -> None:
    """Rows come out in ROWS order whatever order they were recorded in; one block per model."""
    table = ablation_table(_run(KD, INT8, _measured("Baseline"), _measured("Baseline", model="yolov8n")))
    assert len(table) == 2 * len(ROWS)
    assert list(table["Row"]) == [*ROWS, *ROWS]
    assert list(table["Model"]) == ["yolo11n"] * 7 + ["yolov8n"] * 7


def test_deltas_against_baseline() -> None:
    rows = _records(_measured("Baseline"), INT8, KD)
    base, int8 = rows["Baseline"], rows["+INT8"]
    assert int8["Δ mAP50-95"] == pytest.approx(0.585 - 0.6)
    assert int8["Δ mAP50"] == pytest.approx(0.79 - 0.8)
    assert int8["Δ params %"] == pytest.approx(0.0)
    assert int8["Δ latency %"] == pytest.approx(-50.0)
    assert int8["Δ size %"] == pytest.approx(-70.0)
    assert (int8["Params M"], int8["Latency ms"], int8["Speedup"], int8["Size MB"]) == (2.6, 10.0, 2.0, 3.0)
    assert int8["Runtime"] == "onnxruntime int8" and int8["Note"] == "qdq-pc-u8s8-minmax-c100"
    deltas = ("Δ mAP50-95", "Δ params %", "Δ latency %", "Δ size %")
    assert [base[c] for c in deltas] == [0.0, 0.0, 0.0, 0.0]
    assert base["Note"] == "FP32 reference"


def test_params_delta_is_against_the_baseline_row() -> None:
    pruned = _measured("+Pruning", params=1_300_000, components="p30-l1-ft4")
    assert _records(_measured("Baseline"), pruned)["+Pruning"]["Δ params %"] == pytest.approx(-50.0)


def test_unmeasured_row_is_nan_with_its_reason() -> None:
    kd = _records(_measured("Baseline"), INT8, KD)["+KD"]
    for column in ("mAP50", "Δ mAP50", "mAP50-95", "Δ mAP50-95", "Params M", "Δ params %", "Latency ms",
                   "Δ latency %", "Speedup", "Size MB", "Δ size %"):  # fmt: skip
        assert math.isnan(kd[column]), column  # type: ignore[arg-type]
    assert (kd["Δ mAP50-95 CI"], kd["Speedup CI"], kd["Runtime"]) == ("-", "-", "-")
    assert kd["Note"] == KD_REASON


def test_row_never_recorded_says_not_run() -> None:
    rows = _records(_measured("Baseline"), INT8, KD)
    for name in ("+Multi-scale training", "+TTA", "+Pruning", "All combined"):
        assert rows[name]["Note"] == "not run" and math.isnan(rows[name]["mAP50-95"])  # type: ignore[arg-type]


def test_without_baseline_deltas_are_unmeasured() -> None:
    """Without a Baseline row only what the row recorded of its own baseline gives a delta."""
    int8 = _records(INT8)["+INT8"]
    assert int8["mAP50-95"] == 0.585 and math.isnan(int8["Δ mAP50"]) and math.isnan(int8["Δ params %"])
    assert int8["Δ mAP50-95"] == pytest.approx(0.585 - 0.6)  # its recorded baseline_map50_95
    assert int8["Δ latency %"] == pytest.approx(-50.0)  # against the row's own baseline timing
    old = {k: v for k, v in INT8.items() if k != "baseline_map50_95"}  # results from before
    assert math.isnan(_records(old)["+INT8"]["Δ mAP50-95"])  # type: ignore[arg-type]


def test_map_deltas_against_the_rows_own_baseline() -> None:
    """A row compared with another model than Baseline (+TTA with the PyTorch reference; a user's
    .pt's +Multi-scale training with the same fine-tune without multi_scale) shows its mAP deltas
    against that model, the one its CI and budget use; params still against the Baseline row."""
    multi = _measured(
        "+Multi-scale training", map50=0.7, map50_95=0.5, baseline_map50=0.68, baseline_map50_95=0.47,
        map_drop_ci=[-0.05, -0.01], components="multi_scale=0.5 in a 3-epoch fine-tune of the .pt",
    )  # fmt: skip
    row = _records(_measured("Baseline", baseline_map50=0.8), multi)["+Multi-scale training"]
    assert row["Δ mAP50"] == pytest.approx(0.7 - 0.68) and row["Δ mAP50-95"] == pytest.approx(0.5 - 0.47)
    assert row["Δ mAP50-95 CI"] == "+0.0100 to +0.0500" and row["Δ params %"] == pytest.approx(0.0)


def test_a_row_judged_over_training_seeds_shows_their_mean_and_count() -> None:
    """+Pruning measured at two seeds: mAP50-95 is the run seed's checkpoint, the Δ and its CI the
    mean over seeds that the budget judged, and Seeds says how many."""
    pruned = _measured(
        "+Pruning", map50_95=0.58, baseline_map50_95=0.6, map_drop=0.025, map_drop_ci=[0.01, 0.04],
        map_drop_n=2, map_drop_unit="training seeds",
    )  # fmt: skip
    int8 = _records(_measured("Baseline"), pruned, INT8)
    row = int8["+Pruning"]
    assert row["mAP50-95"] == pytest.approx(0.58) and row["Δ mAP50-95"] == pytest.approx(-0.025)
    assert row["Δ mAP50-95 CI"] == "-0.0400 to -0.0100" and row["Seeds"] == 2
    assert int8["+INT8"]["Seeds"] == "-"  # nothing trained: the val-image interval


def test_markdown_missing_is_dash_never_zero() -> None:
    markdown = _markdown(_measured("Baseline"), INT8, KD)
    kd = _cells(markdown, "+KD")
    numeric = COLUMNS[2:-1]  # every figure and the runtime
    assert all(kd[c] == "-" for c in numeric), kd
    assert kd["Note"] == KD_REASON
    assert _cells(markdown, "+TTA")["Note"] == "not run" and _cells(markdown, "+TTA")["mAP50-95"] == "-"


def test_markdown_formats_and_ci_text() -> None:
    """CI columns are ``low to high`` text: the drop CI turned into a Δ (row - Baseline) interval."""
    int8 = _cells(_markdown(_measured("Baseline"), INT8, KD), "+INT8")
    assert (int8["mAP50-95"], int8["Δ mAP50-95"], int8["Δ mAP50"]) == ("0.5850", "-0.0150", "-0.0100")
    assert int8["Δ mAP50-95 CI"] == "-0.0200 to -0.0100"
    assert (int8["Speedup"], int8["Speedup CI"]) == ("2.00", "1.90 to 2.10")
    assert (int8["Params M"], int8["Δ params %"], int8["Latency ms"], int8["Δ latency %"]) == (
        "2.600", "+0.0", "10.00", "-50.0",
    )  # fmt: skip
    assert (int8["Size MB"], int8["Δ size %"]) == ("3.00", "-70.0")


def test_ci_near_zero_has_no_negative_zero() -> None:
    baseline = _measured("Baseline", map_drop_ci=[-0.00001, 0.00002], speedup_ci=[-0.001, 1.0])
    markdown = _markdown(baseline)
    cells = _cells(markdown, "Baseline")
    assert cells["Δ mAP50-95 CI"] == "+0.0000 to +0.0000"
    assert cells["Speedup CI"] == "0.00 to 1.00"
    assert "-0.0000" not in markdown and "-0.00 " not in markdown


def test_malformed_ci_is_dash() -> None:
    row = _measured("Baseline", map_drop_ci=None, speedup_ci=[1.0])
    cells = _cells(_markdown(row), "Baseline")
    assert (cells["Δ mAP50-95 CI"], cells["Speedup CI"]) == ("-", "-")


def test_write_tables_writes_ablation_files(tmp_path: Path) -> None:
    written = write_tables(_run(_measured("Baseline"), INT8, KD), tmp_path)
    assert tmp_path / "ablation.md" in written and tmp_path / "ablation.csv" in written
    markdown = (tmp_path / "ablation.md").read_text()
    assert markdown.startswith("# Ablation: run r") and "All combined" in markdown and KD_REASON in markdown
    assert "Baseline / row" in markdown  # the legend
    csv = (tmp_path / "ablation.csv").read_text().splitlines()
    assert csv[0].split(",")[:3] == ["Model", "Row", "mAP50"] and len(csv) == 1 + len(ROWS)


def test_write_tables_without_the_study_writes_no_ablation(tmp_path: Path) -> None:
    write_tables(_run(), tmp_path)
    assert not (tmp_path / "ablation.md").exists() and not (tmp_path / "ablation.csv").exists()
