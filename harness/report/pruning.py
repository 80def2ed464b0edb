"""The pruning table and the ratio-guideline table, from the ``pruning`` study rows of results.json.

Pruning table: one row per model and pruning configuration, with parameters, GFLOPs and ONNX
file size before and after, PyTorch and ONNX Runtime FP32 latency before and after (timed
interleaved in the same run), and mAP50-95 of the reference, right after pruning and after
fine-tuning. Ratio guideline: per model and pruning method, the largest measured ratio whose
fine-tuned mAP50-95 drop is within the run's ``safe_drop`` (safe) and ``aggressive_drop``
(aggressive); "-" when no measured ratio qualifies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from harness.config.pruning import SPEED_BACKENDS
from harness.report.tables import StudyTable, seed_interval_text
from harness.report.tables import number_or_nan as _number
from harness.results import PRUNING, RunResults

__all__ = ["PRUNING_TABLES", "pruning_table", "ratio_guideline_table"]

_BACKEND_LABELS = {"torch": "PyTorch", "onnxruntime": "ORT"}
_FORMATS = {
    "Ratio": ".2f", "Params M": ".3f", "Params M after": ".3f", "Params -%": ".1f", "GFLOPs": ".2f",
    "GFLOPs after": ".2f", "ONNX MB": ".2f", "ONNX MB after": ".2f", "Sparsity %": ".1f",
    "mAP50-95 ref": ".4f", "mAP50-95 tuned ref": ".4f", "mAP50-95 pruned": ".4f", "mAP50-95 fine-tuned": ".4f", "Drop": "+.4f",
    "Graph+prune s": ".2f", "Peak MiB": ".0f", "Layers whole": ".0f", "Layer kept % min": ".0f",
    "Layer kept % max": ".0f",
    **{f"{b} {what}": ".2f" for b in _BACKEND_LABELS.values() for what in ("ms", "ms after", "speedup")},
}  # fmt: skip
PRUNING_LEGEND = (
    "Before = the unpruned model, after = pruned and fine-tuned. Latency: FP32 batch-1 median in ms, "
    "pruned and unpruned timed interleaved on the same backend and input in this run; speedup = before / "
    "after (the geometric mean of the paired calls' ratios, the centre of its 99 % interval). "
    "mAP50-95 pruned: right after pruning, no fine-tuning. Drop: reference - fine-tuned. vs L1 control: "
    "mAP50-95 of this criterion minus the same pruning ranked by L1 (ratio, strategy, rounding, steps, "
    "fine-tune), mean over training seeds with its 95 % interval over seeds and val images; verdict: "
    "better or worse when the interval excludes zero. Tuned ref (with [verdicts] tuned_reference): the "
    "reference fine-tuned as long with the same arguments and seeds; drop vs tuned ref: its mAP50-95 "
    "minus the fine-tuned model's, mean over training seeds with its 95 % interval, the cost of "
    "pruning without the fine-tune's own gain on a reference that had not converged. "
    "Graph+prune: Torch-Pruning's dependency graph and pruning, all steps; Peak MiB: the pruning "
    "process's peak resident memory. Layers whole: convolutions that kept every channel; layer kept % "
    "min / max: the smallest and largest share of its channels one convolution kept (rounding to "
    "round_to, and leaving whole a layer that rounding down would empty, make them differ from "
    "1 - ratio; per-layer widths are in results.json, layer_widths). Unstructured rows zero weights "
    "without shrinking tensors: their sparsity is measured, their latency is measured, and no speedup "
    "is claimed. `-` = not measured."
)
GUIDELINE_LEGEND = (
    "Safe: the largest measured ratio whose fine-tuned mAP50-95 drop against the reference is at most "
    "the safe drop; aggressive: at most the aggressive drop (both absolute mAP50-95, from the run's "
    "[pruning] table). Regenerated from this run's measurements; `-` = no measured ratio qualifies."
)


def _ratio(before: object, after: object) -> float:
    b, a = _number(before), _number(after)
    return b / a if b > 0 and a > 0 else math.nan


def _method(row: Mapping[str, object]) -> str:
    """E.g. ``structured l1 uniform, round 8, 1 step, fine-tune 5 ep``."""
    if row.get("prune_method") == "unstructured":
        return "unstructured l1"
    how = f"structured {row.get('prune_criterion')} {row.get('prune_strategy')}"
    nearest = " nearest" if row.get("prune_rounding") == "nearest" else ""
    return (
        f"{how}, round {row.get('prune_round_to') or 1}{nearest}, {row.get('prune_steps')} step(s), "
        f"fine-tune {row.get('prune_finetune_epochs')} ep"
    )


def _pruning_row(row: Mapping[str, object]) -> dict[str, object]:
    params_before, params_after = _number(row.get("params_before")), _number(row.get("params_after"))
    out: dict[str, object] = {
        "Model": row.get("model", ""), "Pruning": _method(row), "Ratio": _number(row.get("prune_ratio")),
        "Params M": params_before / 1e6, "Params M after": params_after / 1e6,
        "Params -%": 100 * (1 - params_after / params_before) if params_before > 0 else math.nan,
        "GFLOPs": _number(row.get("gflops_before")), "GFLOPs after": _number(row.get("gflops_after")),
        "ONNX MB": _number(row.get("onnx_bytes_before")) / 1e6,
        "ONNX MB after": _number(row.get("onnx_bytes_after")) / 1e6,
        "Sparsity %": 100 * _number(row.get("sparsity")),
    }  # fmt: skip
    for backend in SPEED_BACKENDS:
        label = _BACKEND_LABELS[backend]
        before, after = row.get(f"{backend}_ms_before"), row.get(f"{backend}_ms_after")
        out |= {f"{label} ms": _number(before), f"{label} ms after": _number(after)}
        paired = row.get(f"{backend}_speedup")  # the centre of its interval, when recorded
        out[f"{label} speedup"] = _number(paired) if paired is not None else _ratio(before, after)
    ref, tuned = _number(row.get("map50_95_reference")), _number(row.get("map50_95_finetuned"))
    return out | {
        "mAP50-95 ref": ref, "mAP50-95 pruned": _number(row.get("map50_95_pruned")),
        "mAP50-95 fine-tuned": tuned,
        "Drop": ref - tuned,
        "vs L1 control": seed_interval_text(row, "vs_l1"), "vs L1 verdict": row.get("vs_l1_verdict") or "-",
        "mAP50-95 tuned ref": _number(row.get("map50_95_tuned_reference")),
        "Drop vs tuned ref": seed_interval_text(row, "tuned_drop"),
        "Graph+prune s": _number(row.get("graph_prune_s")), "Peak MiB": _number(row.get("peak_memory_mib")),
        "Layers whole": _number(row.get("layers_whole")),
        "Layer kept % min": 100 * _number(row.get("layer_kept_min")),
        "Layer kept % max": 100 * _number(row.get("layer_kept_max")),
    }  # fmt: skip


def pruning_table(run: RunResults) -> pd.DataFrame:
    """One row per pruning case of the run."""
    rows = [_pruning_row(row) for row in run.studies.get(PRUNING, [])]
    return pd.DataFrame(rows, columns=list(_pruning_row({}).keys()))


def ratio_guideline_table(run: RunResults) -> pd.DataFrame:
    """Safe and aggressive ratio per model and pruning method, from the measured drops."""
    groups: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    for row in run.studies.get(PRUNING, []):
        method = _method(row)
        drop = _number(row.get("map50_95_reference")) - _number(row.get("map50_95_finetuned"))
        limits = (_number(row.get("safe_drop")), _number(row.get("aggressive_drop")))
        groups.setdefault((str(row.get("model", "")), method), []).append(
            (_number(row.get("prune_ratio")), drop, *limits)
        )
    rows = [_guideline(model, method, measured) for (model, method), measured in groups.items()]
    return pd.DataFrame(rows, columns=list(_guideline("", "", []).keys()))


def _guideline(
    model: str, method: str, measured: list[tuple[float, float, float, float]]
) -> dict[str, object]:
    safe_drop = next((m[2] for m in measured), math.nan)
    aggressive_drop = next((m[3] for m in measured), math.nan)
    return {
        "Model": model,
        "Pruning": method,
        "Ratios measured": ", ".join(f"{r:.2f}" for r, *_ in sorted(measured)),
        "Safe drop": safe_drop,
        "Safe ratio": _largest(measured, safe_drop),
        "Aggressive drop": aggressive_drop,
        "Aggressive ratio": _largest(measured, aggressive_drop),
    }


def _largest(measured: list[tuple[float, float, float, float]], limit: float) -> float:
    """The largest ratio whose drop is within ``limit`` (NaN: none, or the drop was not measured)."""
    within = [ratio for ratio, drop, *_ in measured if not math.isnan(drop) and drop <= limit + 1e-9]
    return max(within, default=math.nan)


PRUNING_TABLES: dict[str, StudyTable] = {
    "pruning": StudyTable("Structured and unstructured pruning", pruning_table, PRUNING_LEGEND, _FORMATS),
    "prune-ratio-guideline": StudyTable(
        "Pruning ratio guideline",
        ratio_guideline_table,
        GUIDELINE_LEGEND,
        {"Safe drop": ".3f", "Safe ratio": ".2f", "Aggressive drop": ".3f", "Aggressive ratio": ".2f"},
    ),
}
