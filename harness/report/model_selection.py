"""Model-size selection, version comparison and the "large model -> prune -> KD" scale sweep.

- ``model-size``: per model (smallest first), parameters, GFLOPs, mAP50-95 on the run's data and
  recipe, and batch-1 latency of the network on each FP32 backend, all models timed side by side
  (``model_selection`` study rows);
- ``version-comparison``: per backend and model, the network alone, the postprocessing, and both,
  with the speed difference of network + postprocessing against YOLOv8n and YOLO11n where the run
  has them (positive: faster), so that an end-to-end head (YOLO26) is credited for needing no NMS;
- ``scale-sweep``: per model and KD method with the model's own reference as teacher (the
  ``distillation`` study rows): baseline -> pruned (fine-tuned, the KD control) -> pruned + KD,
  with the parameter and latency reductions, the share of the pruning loss KD takes back, and
  pruned + KD against the baseline over training seeds; with ``[verdicts] tuned_reference`` also
  against the baseline trained as long as the student (:mod:`harness.tuned`), the fair baseline of
  the source document's "KD recovers or beats the baseline" when the reference has not converged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import pandas as pd

from harness.report.tables import StudyTable, number_or_nan, seed_interval_text
from harness.results import DISTILLATION, MODEL_SELECTION, RunResults

__all__ = ["MODEL_SELECTION_TABLES", "family", "model_size_table", "scale_sweep_table", "version_table"]

Row = Mapping[str, object]
VERSION_BASES = ("yolov8n", "yolo11n")
"""Models the version table compares every model against, when the run has them."""


def _backends(rows: Sequence[Row]) -> list[str]:
    return list(dict.fromkeys(str(r["backend"]) for r in rows))


def model_size_table(run: RunResults) -> pd.DataFrame:
    """One row per model, smallest first; one latency column per backend."""
    rows = run.studies.get(MODEL_SELECTION, [])
    backends = _backends(rows)
    models: dict[str, dict[str, object]] = {}
    for r in rows:
        entry = models.setdefault(str(r["model"]), {
            "Model": r["model"], "Params M": number_or_nan(r.get("params")) / 1e6,
            "GFLOPs": number_or_nan(r.get("gflops")), "mAP50-95": number_or_nan(r.get("map50_95")),
        })  # fmt: skip
        entry[f"{r['backend']} ms"] = number_or_nan(r.get("latency_median_ms"))
    columns = ["Model", "Params M", "GFLOPs", "mAP50-95", *(f"{b} ms" for b in backends)]
    frame = pd.DataFrame(list(models.values()), columns=columns)
    return frame.sort_values("Params M", kind="stable").reset_index(drop=True)


def _faster(base: float | None, value: float) -> float:
    """Percent faster than ``base`` (base / value - 1); NaN when the base is absent."""
    return float("nan") if not base or not value else 100.0 * (base / value - 1.0)


def version_table(run: RunResults) -> pd.DataFrame:
    """Per backend and model: network, postprocessing and both, and the speed against the bases."""
    rows = run.studies.get(MODEL_SELECTION, [])
    records = []
    for backend in _backends(rows):
        mine = [r for r in rows if r["backend"] == backend]
        bases = {str(r["model"]): number_or_nan(r.get("latency_with_post_ms")) for r in mine}
        for r in mine:
            heads = [("end-to-end" if r.get("end2end") else "NMS", "")]
            if r.get("e2e_latency_median_ms") is not None:
                heads.append(("end-to-end (one-to-one)", "e2e_"))
            for head, prefix in heads:
                alone = number_or_nan(r.get(f"{prefix}latency_median_ms"))
                both = number_or_nan(r.get(f"{prefix}latency_with_post_ms"))
                records.append({
                    "Backend": backend, "Model": r["model"], "Head": head, "Network ms": alone,
                    "Postprocess ms": both - alone, "Network + post ms": both,
                    **{f"vs {b} %": _faster(bases.get(b), both) for b in VERSION_BASES},
                    "mAP50-95": number_or_nan(r.get(f"{prefix}map50_95")),
                })  # fmt: skip
    columns = ["Backend", "Model", "Head", "Network ms", "Postprocess ms", "Network + post ms",
               *(f"vs {b} %" for b in VERSION_BASES), "mAP50-95"]  # fmt: skip
    return pd.DataFrame(records, columns=columns)


def _reduction(before: object, after: object) -> float:
    b, a = number_or_nan(before), number_or_nan(after)
    return 100.0 * (1.0 - a / b) if b > 0 else float("nan")


def _recovered(row: Row) -> float:
    """Share of the pruning loss (reference - control) that KD takes back ((kd - control) / loss)."""
    ref, control, kd = (
        number_or_nan(row.get(k)) for k in ("map50_95_reference", "map50_95_control", "map50_95_kd")
    )
    loss = ref - control
    return (kd - control) / loss if loss > 0 else float("nan")


def scale_sweep_table(run: RunResults) -> pd.DataFrame:
    """Per model (smallest first) and KD method from its own reference: baseline -> pruned -> + KD."""
    records = []
    for r in run.studies.get(DISTILLATION, []):
        if r.get("kd_teacher") != "reference" or not str(r.get("student", "")).startswith("p"):
            continue
        records.append({
            "Model": r.get("model"), "Pruned": r.get("student"), "KD": r.get("kd_method"),
            "Params M": number_or_nan(r.get("params_teacher")) / 1e6,
            "Params -%": _reduction(r.get("params_teacher"), r.get("params_student")),
            "Latency -%": _reduction(r.get("teacher_ms"), r.get("kd_ms")),
            "mAP50-95 baseline": number_or_nan(r.get("map50_95_reference")),
            "pruned": number_or_nan(r.get("map50_95_control")), "pruned + KD": number_or_nan(r.get("map50_95_kd")),
            "KD gain": seed_interval_text(r, "gain"), "Recovered": _recovered(r),
            "Below baseline": seed_interval_text(r, "reference_drop"),
            "KD vs baseline": _versus(r, "reference_drop"),
            "Tuned baseline": number_or_nan(r.get("map50_95_tuned_reference")),
            "Below tuned baseline": seed_interval_text(r, "tuned_drop"), "KD vs tuned baseline": _versus(r, "tuned_drop"),
        })  # fmt: skip
    judged = {"Prunes better": "mAP50-95 baseline", "Prunes better vs tuned": "Tuned baseline"}
    columns = ["Model", "Pruned", "KD", "Params M", "Params -%", "Latency -%", "mAP50-95 baseline", "pruned",
               "pruned + KD", "KD gain", "Recovered", "Below baseline", "KD vs baseline", "Prunes better",
               "Tuned baseline", "Below tuned baseline", "KD vs tuned baseline", "Prunes better vs tuned"]  # fmt: skip
    frame = pd.DataFrame(records, columns=[c for c in columns if c not in judged])
    frame = frame.sort_values("Params M", kind="stable").reset_index(drop=True)
    for column, baseline in judged.items():
        frame[column] = _prunes_better(frame, baseline)
    return frame[columns]


def _versus(row: Row, drop: str) -> str:
    """Pruned + KD against a baseline, by the interval of ``drop`` (baseline - (pruned + KD)) over
    seeds: ``reference_drop`` or ``tuned_drop``."""
    low, high = number_or_nan(row.get(f"{drop}_ci_low")), number_or_nan(row.get(f"{drop}_ci_high"))
    if math.isnan(low) or math.isnan(high):  # not measured over seeds
        return "-"
    if high < 0:
        return "beats"
    return "below" if low > 0 else "undecided"


_SIZED = re.compile(r"(?P<family>.+?)(?P<size>[nsmlx])(?:[-_.].*)?")


def family(model: str) -> str | None:
    """The family of an Ultralytics-named model (``yolo11s`` -> ``yolo11``), None for other names."""
    found = _SIZED.fullmatch(model)
    return found["family"] if found and found["family"].lower().startswith("yolo") else None


def _prunes_better(frame: pd.DataFrame, baseline: str) -> list[str]:
    """Per row, whether the model loses less to pruning (the ``baseline`` column - pruned) than the
    next smaller model of its family with the same pruning and KD method ("-" for the smallest of a
    family, a model whose family the name does not tell, or a baseline not measured); the source
    document's trend within a family."""
    out = []
    for i, row in frame.iterrows():
        mine = family(str(row["Model"]))
        smaller = frame[(frame.index < i) & (frame["Pruned"] == row["Pruned"]) & (frame["KD"] == row["KD"])]
        smaller = smaller[[mine is not None and family(str(m)) == mine for m in smaller["Model"]]]
        prev = None if smaller.empty else smaller.iloc[-1]
        lost = row[baseline] - row["pruned"]
        theirs = math.nan if prev is None else prev[baseline] - prev["pruned"]
        out.append("-" if math.isnan(lost) or math.isnan(theirs) else "yes" if lost < theirs else "no")
    return out


SIZE_LEGEND = (
    "Every model of the run trained with the same data and recipe, smallest first. Latency: FP32 "
    "network alone at batch 1, median of a round-robin in which every model ran in turn on that "
    "backend in this run. `-` = not measured."
)
VERSION_LEGEND = (
    "Per backend: the network alone, the postprocessing (class-aware NMS for an NMS head, a score "
    "threshold only for an end-to-end head, at the study's conf), and both, timed side by side in one "
    "round-robin. A model with a one-to-one head (YOLO26) has two rows: its one-to-many head with NMS "
    "(Ultralytics 8.4's default) and its one-to-one head end to end (export nms=False), each with its "
    "own mAP50-95. Postprocess ms is the difference of two medians, so a postprocessing cheaper than "
    "the run-to-run spread (an end-to-end head's score threshold) can come out below zero. vs <model> "
    "%: how much faster network + postprocessing is than that model's NMS head (positive: faster; "
    "base / this - 1). `-` = not measured."
)
SWEEP_LEGEND = (
    "Per model and KD method taught by the model's own unpruned reference: baseline (the reference), "
    "pruned (fine-tuned as long as KD trains: the KD control), pruned + KD, at the run's seed. Params "
    "-% and Latency -%: the student against the reference (PyTorch FP32, timed interleaved in the "
    "distillation study). KD gain: pruned + KD - pruned; Below baseline: baseline - (pruned + KD); both "
    "the mean over training seeds with its 95 % interval. Recovered: share of the pruning loss KD takes "
    "back at the run's seed (above 1: KD beats the baseline). KD vs baseline: beats / below when the "
    "interval of baseline - (pruned + KD) excludes zero, else undecided. Prunes better: the model "
    "loses less to the same pruning (baseline - pruned, at the run's seed) than the next smaller model "
    "of its family (yolo11s against yolo11n; the source document's trend: larger models prune better). "
    "Tuned baseline (with [verdicts] tuned_reference): the baseline trained through the student's own "
    "training (its epochs, arguments and seeds, without pruning or teacher); Below tuned baseline, KD "
    "vs tuned baseline and Prunes better vs tuned: the same against it, so that what training alone "
    "adds to an unconverged baseline is counted neither as KD recovery nor as a smaller pruning loss. "
    "`-` = not measured, or no smaller model of the family in the run."
)
_FORMATS = {"Params M": ".3f", "GFLOPs": ".2f", "mAP50-95": ".4f", "Params -%": ".1f", "Latency -%": ".1f",
            "mAP50-95 baseline": ".4f", "Tuned baseline": ".4f", "pruned": ".4f", "pruned + KD": ".4f", "Recovered": ".2f",
            "Network ms": ".2f", "Postprocess ms": ".2f", "Network + post ms": ".2f",
            **{f"vs {b} %": "+.1f" for b in VERSION_BASES}}  # fmt: skip


MODEL_SELECTION_TABLES: dict[str, StudyTable] = {
    "model-size": StudyTable("Model size selection", model_size_table, SIZE_LEGEND,
                             {**_FORMATS, **{f"{b} ms": ".2f" for b in ("torch", "onnxruntime", "openvino",
                                                                       "ncnn", "tflite", "tensorrt")}}),
    "version-comparison": StudyTable("Version comparison", version_table, VERSION_LEGEND, _FORMATS),
    "scale-sweep": StudyTable("Scale sweep: large model -> prune -> KD", scale_sweep_table, SWEEP_LEGEND, _FORMATS),
}  # fmt: skip
