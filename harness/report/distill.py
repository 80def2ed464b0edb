"""The distillation table, from the ``distillation`` study rows of results.json.

Per student and teacher, in the source documents' layout: the teacher, the student trained
without it (the control: for a pruned student, the pruned model fine-tuned), then the student
with each KD method (+KD, +feature KD, +CWD), each with parameters, measured FP32 latency and
mAP50-95. Every KD row shows its delta against its control, against the student's unpruned
reference and (with ``[verdicts] tuned_reference``) against that reference trained as long as the
student, and the seconds per training epoch with and without the teacher.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from harness.report.tables import StudyTable, number_or_nan, seed_interval_text
from harness.results import DISTILLATION, RunResults

__all__ = ["DISTILL_TABLES", "distillation_table"]

_METHOD_LABELS = {"response": "+KD (response)", "feature": "+feature KD", "cwd": "+CWD feature KD"}
_FORMATS = {
    "Params M": ".3f", "Latency ms": ".2f", "mAP50-95": ".4f", "Δ vs control": "+.4f",
    "Δ vs reference": "+.4f", "Δ vs tuned ref": "+.4f", "Epoch s": ".1f", "Epoch x": ".2f",
}  # fmt: skip
DISTILL_LEGEND = (
    "Teacher: the model distilled from. Student: the same starting checkpoint (pruned students: pruned, "
    "not fine-tuned) trained the same epochs, seed, batch and data without a teacher: the fair control. "
    "KD rows: that student trained with the teacher. Δ vs control = KD mAP50-95 - control mAP50-95; "
    "Δ vs reference = KD - the student's unpruned reference. Latency: FP32 batch-1 median on the named "
    "backend, each row timed interleaved against the teacher in this run. Epoch s: mean seconds per "
    "training epoch; Epoch x: with the teacher / without. mAP50-95 and the Δ columns: the run's seed. "
    "Gain over seeds (KD - control) and Drop vs reference over seeds (reference - KD): the mean over the "
    "Seeds column's training seeds (KD student and control each trained at every seed) with its 95 % "
    "interval over seeds and val images, which the bars judge. Δ vs tuned ref and Drop vs tuned ref "
    "over seeds (with [verdicts] tuned_reference): the same against the reference trained through the "
    "student's own training (its epochs, arguments and seeds, without pruning or teacher), so that "
    "what training alone would add to an unconverged reference is not counted as recovery. `-` = not "
    "measured."
)


def _group(row: Mapping[str, object]) -> str:
    """E.g. ``yolo11n p30-l1 / reference``: the student and its teacher."""
    return f"{row.get('model', '')} {row.get('student', '')} / {row.get('kd_teacher', '')}"


def _kd_row(row: Mapping[str, object]) -> dict[str, object]:
    """One KD student: its figures and its deltas against its control and its reference."""
    method = str(row.get("kd_method", ""))
    student = f"{row.get('model', '')} {row.get('student', '')}"
    kd, control = number_or_nan(row.get("map50_95_kd")), number_or_nan(row.get("map50_95_control"))
    epoch_kd, epoch_control = number_or_nan(row.get("epoch_s_kd")), number_or_nan(row.get("epoch_s_control"))
    return _row(f"{student} {_METHOD_LABELS.get(method, method)}", row, "student", "kd") | {
        "Δ vs control": kd - control,
        "Δ vs reference": kd - number_or_nan(row.get("map50_95_reference")),
        "Δ vs tuned ref": kd - number_or_nan(row.get("map50_95_tuned_reference")),
        "Epoch s": epoch_kd,
        "Epoch x": epoch_kd / epoch_control if epoch_control > 0 else math.nan,
        "Gain over seeds": seed_interval_text(row, "gain"),
        "Drop vs reference over seeds": seed_interval_text(row, "reference_drop"),
        "Drop vs tuned ref over seeds": seed_interval_text(row, "tuned_drop"),
        "Seeds": row.get("gain_seeds") or "-",
        "Weight": row.get("kd_weight"),
        "T": row.get("kd_temperature") if method != "feature" else None,
    }


def _rows(cases: list[Mapping[str, object]]) -> list[dict[str, object]]:
    """One student and teacher: the teacher, the control, then each method's KD student."""
    first = cases[0]
    student = f"{first.get('model', '')} {first.get('student', '')}"
    base = {"Student / teacher": _group(first), "Backend": first.get("backend", "")}
    control = _row(f"{student} (control)", first, "student", "control") | _empty()
    return [
        base | _row(f"Teacher ({first.get('kd_teacher', '')})", first, "teacher", "teacher") | _empty(),
        base | control | {"Epoch s": number_or_nan(first.get("epoch_s_control"))},
        *(base | _kd_row(case) for case in cases),
    ]


def _row(label: str, row: Mapping[str, object], params: str, role: str) -> dict[str, object]:
    return {
        "Model": label,
        "Params M": number_or_nan(row.get(f"params_{params}")) / 1e6,
        "Latency ms": number_or_nan(row.get(f"{role}_ms")),
        "mAP50-95": number_or_nan(row.get(f"map50_95_{role}")),
    }


def _empty() -> dict[str, object]:
    return {"Δ vs control": math.nan, "Δ vs reference": math.nan, "Δ vs tuned ref": math.nan,
            "Epoch s": math.nan, "Epoch x": math.nan, "Gain over seeds": "-",
            "Drop vs reference over seeds": "-", "Drop vs tuned ref over seeds": "-", "Seeds": "-",
            "Weight": None, "T": None}  # fmt: skip


def distillation_table(run: RunResults) -> pd.DataFrame:
    """Per student and teacher of the run: teacher, control, and one row per KD method."""
    groups: dict[str, list[Mapping[str, object]]] = {}
    for row in run.studies.get(DISTILLATION, []):
        groups.setdefault(_group(row), []).append(row)
    rows = [r for cases in groups.values() for r in _rows(cases)]
    columns = ["Student / teacher", "Model", "Backend", "Params M", "Latency ms", "mAP50-95", *_empty()]
    return pd.DataFrame(rows, columns=columns)


DISTILL_TABLES: dict[str, StudyTable] = {
    "distillation": StudyTable("Knowledge distillation", distillation_table, DISTILL_LEGEND, _FORMATS),
}
