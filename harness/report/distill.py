"""The distillation table, from the ``distillation`` study rows of results.json.

Per case, in the source documents' layout: the teacher, the student trained without it (the
control: for a pruned student, the pruned model fine-tuned), and the KD student, each with
parameters, measured FP32 latency and mAP50-95. Every KD row shows its delta against its control
and against the student's unpruned reference, and the seconds per training epoch with and
without the teacher.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from harness.diststudy import DISTILLATION
from harness.report.tables import StudyTable
from harness.results import RunResults

__all__ = ["DISTILL_TABLES", "distillation_table"]

_METHOD_LABELS = {"response": "+KD (response)", "feature": "+feature KD", "cwd": "+CWD feature KD"}
_FORMATS = {
    "Params M": ".3f", "Latency ms": ".2f", "mAP50-95": ".4f", "Δ vs control": "+.4f",
    "Δ vs reference": "+.4f", "Epoch s": ".1f", "Epoch x": ".2f",
}  # fmt: skip
DISTILL_LEGEND = (
    "Teacher: the model distilled from. Student: the same starting checkpoint (pruned students: pruned, "
    "not fine-tuned) trained the same epochs, seed, batch and data without a teacher: the fair control. "
    "KD rows: that student trained with the teacher. Δ vs control = KD mAP50-95 - control mAP50-95; "
    "Δ vs reference = KD - the student's unpruned reference. Latency: FP32 batch-1 median on the named "
    "backend, each row timed interleaved against the teacher in this run. Epoch s: mean seconds per "
    "training epoch; Epoch x: with the teacher / without. `-` = not measured."
)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def _rows(row: Mapping[str, object]) -> list[dict[str, object]]:
    """Teacher, control and KD rows of one case."""
    student = f"{row.get('model', '')} {row.get('student', '')}"
    method = str(row.get("kd_method", ""))
    base = {"Case": row.get("case", ""), "Backend": row.get("backend", "")}
    kd, control = _number(row.get("map50_95_kd")), _number(row.get("map50_95_control"))
    epoch_kd, epoch_control = _number(row.get("epoch_s_kd")), _number(row.get("epoch_s_control"))
    return [
        base | _row(f"Teacher ({row.get('kd_teacher', '')})", row, "teacher", "teacher") | _empty(),
        base
        | _row(f"{student} (control)", row, "student", "control")
        | _empty()
        | {"Epoch s": epoch_control},
        base
        | _row(f"{student} {_METHOD_LABELS.get(method, method)}", row, "student", "kd")
        | {
            "Δ vs control": kd - control,
            "Δ vs reference": kd - _number(row.get("map50_95_reference")),
            "Epoch s": epoch_kd,
            "Epoch x": epoch_kd / epoch_control if epoch_control > 0 else math.nan,
            "Weight": row.get("kd_weight"),
            "T": row.get("kd_temperature") if method != "feature" else None,
        },
    ]


def _row(label: str, row: Mapping[str, object], params: str, role: str) -> dict[str, object]:
    return {
        "Model": label,
        "Params M": _number(row.get(f"params_{params}")) / 1e6,
        "Latency ms": _number(row.get(f"{role}_ms")),
        "mAP50-95": _number(row.get(f"map50_95_{role}")),
    }


def _empty() -> dict[str, object]:
    return {"Δ vs control": math.nan, "Δ vs reference": math.nan, "Epoch s": math.nan, "Epoch x": math.nan,
            "Weight": None, "T": None}  # fmt: skip


def distillation_table(run: RunResults) -> pd.DataFrame:
    """Three rows (teacher, control, KD) per distillation case of the run."""
    rows = [r for row in run.studies.get(DISTILLATION, []) for r in _rows(row)]
    columns = ["Case", "Model", "Backend", "Params M", "Latency ms", "mAP50-95", *_empty()]
    return pd.DataFrame(rows, columns=columns)


DISTILL_TABLES: dict[str, StudyTable] = {
    "distillation": StudyTable("Knowledge distillation", distillation_table, DISTILL_LEGEND, _FORMATS),
}
