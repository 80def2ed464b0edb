"""The inputs and INT8 calibration tables, read from results.json studies only."""

from __future__ import annotations

from harness.environment import Fingerprint
from harness.report.inputs import calibration_table, inputs_table
from harness.report.writer import report_tables
from harness.results import INPUTS, INT8_CALIBRATION, RunResults

FP = Fingerprint("cpu", 2, 2, None, "3.11", "2", "8", "1", "2")


def _run() -> RunResults:
    run = RunResults.new("default", FP, run_id="r")
    run.record(
        "m-p00-fp32-torch", model="m", backend="torch", precision="fp32", prune=0.0, metrics={"map50_95": 0.5}
    )
    run.add_study(INPUTS, [
        {"role": "weights", "name": "m", "path": "/u/best.pt", "sha256": "a" * 64},
        {"role": "data.yaml", "name": "data.yaml", "path": "/u/data.yaml", "sha256": "b" * 64},
    ])  # fmt: skip
    run.add_study(INT8_CALIBRATION, [
        {"model": "m", "calib_size": 100, "source": "train", "count": 300, "n": 100, "seed": 0, "split": "/u/train"},
        {"model": "m", "calib_size": 500, "error": "train split has 300 images, but 500 were requested"},
    ])  # fmt: skip
    return run


def test_inputs_table_lists_every_file_with_its_sha256() -> None:
    frame = inputs_table(_run())
    assert frame["Role"].tolist() == ["weights", "data.yaml"]
    assert frame["sha256"].tolist() == ["a" * 64, "b" * 64]


def test_calibration_table_says_where_the_images_came_from() -> None:
    frame = calibration_table(_run())
    assert frame.loc[0, "Source"] == "seeded random sample of train"
    assert (
        frame.loc[0, "Images used"] == 100 and frame.loc[0, "Split size"] == 300 and frame.loc[0, "Seed"] == 0
    )
    assert "500 were requested" in frame.loc[1, "Source"]


def test_both_tables_are_part_of_the_report() -> None:
    stems = [t.stem for t in report_tables(_run())]
    assert "inputs" in stems and "int8-calibration" in stems
    empty = RunResults.new("default", FP, run_id="e")
    assert "inputs" not in [t.stem for t in report_tables(empty)]
