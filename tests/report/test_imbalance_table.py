"""The class-imbalance tables: a row per method with gains and intervals; AP per class and method."""

from __future__ import annotations

import math
from pathlib import Path

from harness.environment import Fingerprint
from harness.report.imbalance import imbalance_table, per_class_table
from harness.report.writer import write_tables
from harness.results import CLASS_IMBALANCE, RunResults

FP = Fingerprint("cpu", 2, 2, None, "3.11", "2", "8", "1", "2")


def _row(method: str, rare_gain: float | None) -> dict[str, object]:
    row: dict[str, object] = {
        "model": "yolo11n", "method": method, "setting": "s", "rare_classes": ["cross", "ring"],
        "map50_95_all_treated": 0.5, "map50_95_all_control": 0.48, "map50_95_rare_treated": 0.3,
        "map50_95_rare_control": None, "per_class_ap_control": {"circle": 0.7, "ring": 0.2},
        "per_class_ap_treated": {"circle": 0.69, "ring": 0.25}, "train_objects": {"circle": 900, "ring": 20},
    }  # fmt: skip
    for group in ("all", "rare", "frequent"):
        gain = rare_gain if group == "rare" else 0.01
        row |= {f"{group}_gain_seed_mean": gain, f"{group}_gain_ci_low": None if gain is None else gain - 0.01,
                f"{group}_gain_ci_high": None if gain is None else gain + 0.01, f"{group}_gain_seeds": 2}  # fmt: skip
    return row


def _run() -> RunResults:
    run = RunResults.new("full", FP, run_id="r")
    run.studies[CLASS_IMBALANCE] = [_row("focal", 0.05), _row("balanced_sampler", None)]
    return run


def test_a_row_per_method_with_gains() -> None:
    frame = imbalance_table(_run())
    assert (
        list(frame["Method"]) == ["focal", "balanced sampler"] and frame["Rare classes"][0] == "cross, ring"
    )
    assert frame["Rare mAP (method / control)"][0] == "0.3000 / -"
    assert frame["Rare gain"][0] == "+0.0500 (+0.0400 to +0.0600)" and frame["Rare gain"][1] == "-"
    assert frame["All mAP (method / control)"][1] == "0.5000 / 0.4800" and frame["Seeds"][0] == "2"


def test_per_class_ap_has_the_control_and_every_method() -> None:
    frame = per_class_table(_run())
    assert list(frame.columns) == [
        "Model",
        "Class",
        "Group",
        "Train objects",
        "control",
        "focal",
        "balanced sampler",
    ]
    ring = frame[frame["Class"] == "ring"].iloc[0]
    assert ring["Group"] == "rare" and ring["Train objects"] == 20 and ring["focal"] == 0.25
    assert frame[frame["Class"] == "circle"].iloc[0]["Group"] == "frequent"
    assert not math.isnan(ring["control"])


def test_both_tables_are_written(tmp_path: Path) -> None:
    write_tables(_run(), tmp_path)
    assert "| focal" in (tmp_path / "class-imbalance.md").read_text()
    assert "| ring" in (tmp_path / "class-imbalance-per-class.md").read_text()
