"""Distillation table: teacher, control and KD rows per case, deltas, epoch ratio, missing as ``-``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.config.distillation import DistillBar
from harness.environment import Fingerprint
from harness.recipes import DistillSpec
from harness.report.distill import DISTILL_TABLES, distillation_table
from harness.report.tables import to_markdown
from harness.report.writer import write_tables
from harness.results import DISTILLATION, RunResults
from harness.studies.distillation import DistillRow

FP = Fingerprint("cpu", 2, 2, None, "3.11", "2", "8", "1", "2")
COLUMNS = [
    "Student / teacher", "Model", "Backend", "Params M", "Latency ms", "mAP50-95",
    "Δ vs control", "Δ vs reference", "Δ vs tuned ref", "Epoch s", "Epoch x", "Gain over seeds",
    "Drop vs reference over seeds", "Drop vs tuned ref over seeds", "Seeds", "Weight", "T",
]  # fmt: skip


def _row(method: str = "response", **maps: float | None) -> dict[str, object]:
    """One measured case of the pruned yolo11n taught by its reference (``maps`` override mAPs)."""
    spec = DistillSpec(method, "reference", 1.0 if method != "feature" else 6.0, 2.0, 6)
    row = DistillRow(
        f"yolo11n-p30-l1-{spec.slug}", "yolo11n", "p30-l1", spec, DistillBar(min_gain=0.01), "torch"
    )
    row.params = {"teacher": 2.6e6, "student": 1.3e6}
    row.latency_ms = {"teacher": 20.0, "control": 12.0, "kd": None}
    row.maps = {"teacher": 0.66, "reference": 0.66, "start": 0.1, "control": 0.6, "kd": 0.63} | maps
    row.epoch_s = {"control": 10.0, "kd": 15.0}
    return row.to_dict()


def _missing(value: object) -> bool:
    """None, or the NaN pandas puts in its place in a numeric column."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _run(*rows: dict[str, object]) -> RunResults:
    run = RunResults.new("default", FP, run_id="r")
    if rows:
        run.add_study(DISTILLATION, rows)
    return run


def test_one_case_gives_teacher_control_and_kd_rows() -> None:
    """Three rows per case, in that order, each with its own parameters, latency and mAP."""
    table = distillation_table(_run(_row()))
    assert list(table.columns) == COLUMNS
    teacher, control, kd = table.to_dict("records")
    assert {r["Student / teacher"] for r in (teacher, control, kd)} == {"yolo11n p30-l1 / reference"}
    assert (teacher["Model"], control["Model"], kd["Model"]) == (
        "Teacher (reference)",
        "yolo11n p30-l1 (control)",
        "yolo11n p30-l1 +KD (response)",
    )
    assert (teacher["Params M"], control["Params M"], kd["Params M"]) == (2.6, 1.3, 1.3)
    assert (teacher["Latency ms"], control["Latency ms"]) == (20.0, 12.0)
    assert math.isnan(kd["Latency ms"])  # not measured: nothing invented
    assert (teacher["mAP50-95"], control["mAP50-95"], kd["mAP50-95"]) == (0.66, 0.6, 0.63)
    assert all(r["Backend"] == "torch" for r in (teacher, control, kd))
    for row in (teacher, control):
        assert math.isnan(row["Δ vs control"]) and math.isnan(row["Δ vs reference"])
        assert math.isnan(row["Epoch x"]) and _missing(row["Weight"]) and _missing(row["T"])
    assert math.isnan(teacher["Epoch s"]) and control["Epoch s"] == 10.0
    assert kd["Gain over seeds"] == kd["Seeds"] == "-"  # no interval measured: nothing shown


def test_kd_rows_show_the_gain_over_training_seeds() -> None:
    row = _row()
    row |= {"gain_seed_mean": 0.0113, "gain_ci_low": -0.004, "gain_ci_high": 0.0266, "gain_seeds": 2}
    row |= {"reference_drop_seed_mean": 0.002, "reference_drop_ci_low": -0.01}
    row |= {"reference_drop_ci_high": 0.014}
    kd = distillation_table(_run(row)).to_dict("records")[2]
    assert kd["Gain over seeds"] == "+0.0113 (-0.0040 to +0.0266)" and kd["Seeds"] == 2
    assert kd["Drop vs reference over seeds"] == "+0.0020 (-0.0100 to +0.0140)"


def test_kd_rows_show_the_drop_below_the_reference_trained_as_long() -> None:
    """With ``[verdicts] tuned_reference``: Δ vs tuned ref at the run's seed and its interval over
    seeds; without it both are unmeasured, not zero."""
    row = _row(tuned_reference=0.71)
    row |= {"tuned_drop_seed_mean": 0.081, "tuned_drop_ci_low": 0.062, "tuned_drop_ci_high": 0.1}
    teacher, control, kd = distillation_table(_run(row)).to_dict("records")
    assert kd["Δ vs tuned ref"] == pytest.approx(0.63 - 0.71)
    assert kd["Drop vs tuned ref over seeds"] == "+0.0810 (+0.0620 to +0.1000)"
    assert math.isnan(control["Δ vs tuned ref"]) and teacher["Drop vs tuned ref over seeds"] == "-"
    (_, _, untuned) = distillation_table(_run(_row())).to_dict("records")
    assert math.isnan(untuned["Δ vs tuned ref"]) and untuned["Drop vs tuned ref over seeds"] == "-"


def test_methods_sharing_a_student_and_teacher_share_their_rows() -> None:
    """The source documents' layout: teacher, pruned student, +KD, +feature KD, +CWD, once each."""
    table = distillation_table(_run(_row("response"), _row("feature", kd=0.58), _row("cwd", kd=0.61)))
    assert list(table["Model"]) == [
        "Teacher (reference)",
        "yolo11n p30-l1 (control)",
        "yolo11n p30-l1 +KD (response)",
        "yolo11n p30-l1 +feature KD",
        "yolo11n p30-l1 +CWD feature KD",
    ]
    assert list(table["Δ vs control"])[2:] == pytest.approx([0.03, -0.02, 0.01])


def test_kd_row_deltas_and_epoch_ratio() -> None:
    """Δ vs control = kd - control, Δ vs reference = kd - reference, Epoch x = kd / control seconds."""
    (_, _, kd) = distillation_table(_run(_row())).to_dict("records")
    assert kd["Δ vs control"] == pytest.approx(0.63 - 0.6)
    assert kd["Δ vs reference"] == pytest.approx(0.63 - 0.66)
    assert (kd["Epoch s"], kd["Epoch x"]) == (15.0, 1.5)
    assert (kd["Weight"], kd["T"]) == (1.0, 2.0)


def test_feature_kd_has_no_temperature_and_its_own_label() -> None:
    """Feature KD shows its weight (Ultralytics' ``dis``) but no temperature."""
    (_, _, kd) = distillation_table(_run(_row("feature"))).to_dict("records")
    assert kd["Model"] == "yolo11n p30-l1 +feature KD"
    assert kd["Weight"] == 6.0 and _missing(kd["T"])
    (_, _, cwd) = distillation_table(_run(_row("cwd"))).to_dict("records")
    assert cwd["Model"] == "yolo11n p30-l1 +CWD feature KD" and cwd["T"] == 2.0


def test_missing_kd_map_leaves_the_deltas_unmeasured() -> None:
    """A None mAP makes its deltas NaN, not zero."""
    (_, _, kd) = distillation_table(_run(_row(kd=None))).to_dict("records")
    assert math.isnan(kd["mAP50-95"]) and math.isnan(kd["Δ vs control"]) and math.isnan(kd["Δ vs reference"])


def test_missing_control_epoch_time_leaves_the_ratio_unmeasured() -> None:
    """Without the control's epoch seconds, Epoch x is NaN rather than a division by zero."""
    row = _row()
    row["epoch_s_control"] = None
    (_, control, kd) = distillation_table(_run(row)).to_dict("records")
    assert math.isnan(control["Epoch s"]) and math.isnan(kd["Epoch x"]) and kd["Epoch s"] == 15.0


def _cells(markdown: str, label: str) -> dict[str, str]:
    """The markdown row whose Model cell is ``label``, as header -> cell text."""
    lines = markdown.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[header.index("Model")] == label:
            return dict(zip(header, cells, strict=True))
    raise AssertionError(f"no row {label!r} in\n{markdown}")


def test_markdown_renders_none_as_dash_and_formats_numbers() -> None:
    """Unmeasured cells are ``-``; deltas carry their sign."""
    study = DISTILL_TABLES["distillation"]
    markdown = to_markdown(study.build(_run(_row())), dict(study.formats))
    kd = _cells(markdown, "yolo11n p30-l1 +KD (response)")
    assert kd["Latency ms"] == "-"
    assert (kd["mAP50-95"], kd["Δ vs control"], kd["Δ vs reference"]) == ("0.6300", "+0.0300", "-0.0300")
    assert (kd["Epoch s"], kd["Epoch x"], kd["Params M"]) == ("15.0", "1.50", "1.300")
    teacher = _cells(markdown, "Teacher (reference)")
    assert teacher["Δ vs control"] == "-" and teacher["Weight"] == "-" and teacher["T"] == "-"
    assert teacher["Latency ms"] == "20.00"


def test_distillation_files_are_written_only_with_rows(tmp_path: Path) -> None:
    """write_tables adds distillation.md/.csv when the run has distillation rows."""
    files = write_tables(_run(_row()), tmp_path / "with")
    assert tmp_path / "with" / "distillation.md" in files and tmp_path / "with" / "distillation.csv" in files
    text = (tmp_path / "with" / "distillation.md").read_text()
    assert text.startswith("# Knowledge distillation: run r") and "Δ vs control" in text
    files = write_tables(_run(), tmp_path / "without")
    assert not any(path.stem == "distillation" for path in files)


def test_empty_run_gives_an_empty_frame_with_the_columns() -> None:
    """No distillation rows: no rows, the same columns."""
    table = distillation_table(_run())
    assert table.empty and list(table.columns) == COLUMNS
