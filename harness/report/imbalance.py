"""The ``class-imbalance`` and ``class-imbalance-per-class`` tables, from the study's rows.

``class-imbalance``: per model and method, mAP50-95 overall, over the rare classes and over the
frequent ones, for the method and its untreated control, and the method's gain over the control
with its interval over training seeds and val images. ``class-imbalance-per-class``: per model and
class, its train objects and AP50-95 of the control and of every method (the run's seed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from harness.report.tables import StudyTable, number_or_nan, seed_interval_text
from harness.results import CLASS_IMBALANCE, RunResults

__all__ = ["IMBALANCE_TABLES", "imbalance_table", "per_class_table"]

IMBALANCE_LEGEND = (
    "Each method trains the same model the same epochs, seed, batch and image size as the untreated "
    "control, on the same long-tailed train split; both are scored on the val split (PyTorch FP32). "
    "mAP50-95 over all classes, over the rare group and over the frequent one: method / control at the "
    "run's seed. Gain: method - control, the mean over the Seeds column's training seeds with its 95 % "
    "interval over seeds and val images. `-` = not measured."
)
PER_CLASS_LEGEND = (
    "AP50-95 of each class on the val split at the run's seed: the untreated control and each method. "
    "Train objects: objects of the class in the train split the models learned from. `-` = not measured."
)
_GROUPS = {"all": "All", "rare": "Rare", "frequent": "Frequent"}


def _names(row: Mapping[str, object], key: str) -> list[str]:
    """A row's list of class names (empty when absent)."""
    value = row.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def _ap(value: object) -> float:
    """An AP rounded to the table's four decimals (method columns are named at run time)."""
    return round(number_or_nan(value), 4)


def _pair(row: Mapping[str, object], group: str) -> str:
    values = [number_or_nan(row.get(f"map50_95_{group}_{role}")) for role in ("treated", "control")]
    return " / ".join("-" if math.isnan(v) else f"{v:.4f}" for v in values)


def _row(row: Mapping[str, object]) -> dict[str, object]:
    out: dict[str, object] = {
        "Model": row.get("model"), "Method": str(row.get("method", "")).replace("_", " "),
        "Setting": row.get("setting"),
        "Rare classes": ", ".join(_names(row, "rare_classes")),
    }  # fmt: skip
    for group, label in _GROUPS.items():
        out[f"{label} mAP (method / control)"] = _pair(row, group)
        out[f"{label} gain"] = seed_interval_text(row, f"{group}_gain")
    seeds = row.get("rare_gain_seeds")
    out["Seeds"] = "-" if seeds is None else str(seeds)
    return out


def imbalance_table(run: RunResults) -> pd.DataFrame:
    """One row per model and method."""
    rows = [_row(r) for r in run.studies.get(CLASS_IMBALANCE, [])]
    columns = ["Model", "Method", "Setting", "Rare classes"]
    for label in _GROUPS.values():
        columns += [f"{label} mAP (method / control)", f"{label} gain"]
    return pd.DataFrame(rows, columns=[*columns, "Seeds"])


def per_class_table(run: RunResults) -> pd.DataFrame:
    """One row per model and class: train objects, the control's AP and each method's."""
    table: dict[tuple[str, str], dict[str, object]] = {}
    methods: list[str] = []
    for row in run.studies.get(CLASS_IMBALANCE, []):
        model, method = str(row.get("model")), str(row.get("method", "")).replace("_", " ")
        methods += [method] if method not in methods else []
        rare = set(_names(row, "rare_classes"))
        objects: Mapping[str, object] = row.get("train_objects") or {}  # type: ignore[assignment]
        control: Mapping[str, object] = row.get("per_class_ap_control") or {}  # type: ignore[assignment]
        treated: Mapping[str, object] = row.get("per_class_ap_treated") or {}  # type: ignore[assignment]
        for name in control:
            entry = table.setdefault((model, name), {
                "Model": model, "Class": name, "Group": "rare" if name in rare else "frequent",
                "Train objects": number_or_nan(objects.get(name)), "control": _ap(control.get(name)),
            })  # fmt: skip
            entry[method] = _ap(treated.get(name))
    columns = ["Model", "Class", "Group", "Train objects", "control", *methods]
    return pd.DataFrame(list(table.values()), columns=columns)


IMBALANCE_TABLES: dict[str, StudyTable] = {
    "class-imbalance": StudyTable("Class imbalance: treatments against an untreated control", imbalance_table,
                                  IMBALANCE_LEGEND, {}),
    "class-imbalance-per-class": StudyTable("Class imbalance: AP50-95 per class", per_class_table,
                                            PER_CLASS_LEGEND, {"Train objects": ".0f", "control": ".4f"}),
}  # fmt: skip
