"""The run's inputs table (every input file's sha256) and INT8 calibration table (where the
calibration images came from), read from the ``inputs`` and ``int8_calibration`` studies."""

from __future__ import annotations

import pandas as pd

from harness.report.tables import StudyTable
from harness.results import INPUTS, INT8_CALIBRATION, RunResults

__all__ = ["INPUT_TABLES", "calibration_table", "inputs_table"]

_INPUT_COLUMNS = ("Role", "Name", "Path", "sha256")
_CALIB_COLUMNS = ("Model", "Calibration size", "Source", "Images used", "Split size", "Seed", "Split")
_SOURCES = {"calib": "calib split (first N, sorted)", "train": "seeded random sample of train"}


def inputs_table(run: RunResults) -> pd.DataFrame:
    """One row per input file: config, data.yaml, dataset content hash, weights, teachers."""
    rows = [
        {"Role": r.get("role", ""), "Name": r.get("name", ""), "Path": r.get("path", ""),
         "sha256": r.get("sha256", "")}
        for r in run.studies.get(INPUTS, [])
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(_INPUT_COLUMNS))


def calibration_table(run: RunResults) -> pd.DataFrame:
    """One row per model and calibration size: source split, image count, sampling seed."""
    rows = []
    for r in run.studies.get(INT8_CALIBRATION, []):
        source = str(r.get("source", ""))
        rows.append({
            "Model": r.get("model", ""), "Calibration size": r.get("calib_size"),
            "Source": _SOURCES.get(source, source or str(r.get("error", "-"))),
            "Images used": r.get("n"), "Split size": r.get("count"),
            "Seed": "-" if r.get("seed") is None else r.get("seed"),
            "Split": r.get("split", "-"),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(_CALIB_COLUMNS))


INPUT_TABLES: dict[str, StudyTable] = {
    "int8-calibration": StudyTable(
        "INT8 calibration sets",
        calibration_table,
        "Calibration images of the static INT8 variants: the data.yaml's calib split when it has one, "
        "else a seeded random sample of train; decoded exactly as evaluation decodes images.",
        {},
    ),
    "inputs": StudyTable(
        "Inputs",
        inputs_table,
        "Every file the run read, with its sha256 (the dataset row hashes names, split layout, file "
        "names and sizes, and labels).",
        {},
    ),
}
