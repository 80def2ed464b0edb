"""The ``recommendation`` table, from the ``recommendation`` study rows of results.json.

Per model, every candidate fastest first: its drop below the FP32 PyTorch reference with the
interval, its budget, whether it is eligible (the whole interval within budget), its latency in the
round-robin screen, and for the recommended one its speedup over PyTorch FP32 eager timed
interleaved. The fastest unpruned INT8 candidate carries the INT8 compute roofline.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from harness.report.tables import StudyTable, number_or_nan, span_text
from harness.results import RECOMMENDATION, RunResults

__all__ = ["RECOMMENDATION_TABLES", "recommendation_table"]

LEGEND = (
    "Per model, every candidate of the run (backend x precision x pruning x KD; `combined`: a pruned "
    "or distilled checkpoint put on the fastest unpruned configuration within budget), fastest first. "
    "Drop: mAP50-95 of the FP32 PyTorch reference minus the candidate's, with its 95 % interval (over "
    "the Seeds column's training seeds and val images for a candidate that trained, else over val "
    "images). Drop vs tuned ref (with [verdicts] tuned_reference): the same below the reference "
    "trained through the stages the candidate trained after it (pruning fine-tune, KD), with the "
    "same arguments and seeds. Eligible: the whole interval (both, where the second was measured) "
    "lies within the candidate's max_map_drop budget. p50 ms: "
    "batch-1 median in a round-robin of every candidate and the reference (x PyTorch: reference / "
    "candidate in that screen). Recommended (*): the fastest eligible candidate; its speedup over "
    "PyTorch FP32 eager is timed interleaved against it in this run (99 % interval) for Rounds rounds. "
    "Roofline: on the fastest unpruned INT8 candidate, GFLOPs / 2 over this CPU's INT8 MAC rate "
    "measured on a compute-bound convolution stack (OpenVINO + NNCF), and the candidate's p50 over it. "
    "`-` = not measured."
)
_FORMATS = {"mAP50-95": ".4f", "Budget": ".3f", "p50 ms": ".2f", "x PyTorch": ".2f", "Roofline ms": ".2f",
            "x roofline": ".2f", "Peak GMAC/s": ".0f", "Prune": ".2f", "Rounds": ".0f"}  # fmt: skip
COLUMNS = [
    "Model", "Variant", "Backend", "Precision", "Prune", "KD", "mAP50-95", "Drop", "Seeds",
    "Drop vs tuned ref", "Budget",
    "Eligible", "p50 ms", "x PyTorch", "Recommended", "Speedup vs PyTorch (interleaved)", "Rounds",
    "Roofline ms", "x roofline", "Peak GMAC/s", "Note",
]  # fmt: skip


def _eligible(value: object) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _row(row: Mapping[str, object]) -> dict[str, object]:
    seeds = row.get("drop_n") if row.get("drop_unit") == "training seeds" else None
    kd = row.get("kd")
    return {
        "Model": row.get("model"), "Variant": row.get("variant"), "Backend": row.get("backend"),
        "Precision": row.get("precision"), "Prune": number_or_nan(row.get("prune")),
        "KD": (str(kd) if kd else "-") + (" (combined)" if row.get("combined") else ""),
        "mAP50-95": number_or_nan(row.get("map50_95")),
        "Drop": span_text(row.get("drop"), row.get("drop_ci_low"), row.get("drop_ci_high")),
        "Seeds": "-" if seeds is None else str(seeds),
        "Drop vs tuned ref": span_text(
            row.get("tuned_drop"), row.get("tuned_drop_ci_low"), row.get("tuned_drop_ci_high")
        ),
        "Budget": number_or_nan(row.get("budget")),
        "Eligible": _eligible(row.get("eligible")), "p50 ms": number_or_nan(row.get("latency_median_ms")),
        "x PyTorch": number_or_nan(row.get("screen_speedup")),
        "Recommended": "*" if row.get("recommended") else "",
        "Speedup vs PyTorch (interleaved)": span_text(
            row.get("speedup_vs_torch"), row.get("speedup_ci_low"), row.get("speedup_ci_high"), ".2f", "x"
        ),
        "Rounds": number_or_nan(row.get("speedup_rounds")),
        "Roofline ms": number_or_nan(row.get("roofline_ms")),
        "x roofline": number_or_nan(row.get("roofline_ratio")),
        "Peak GMAC/s": number_or_nan(row.get("peak_gmacs")), "Note": row.get("reason") or "",
    }  # fmt: skip


def recommendation_table(run: RunResults) -> pd.DataFrame:
    """Every candidate row in the order the study recorded them (per model, fastest first)."""
    return pd.DataFrame([_row(r) for r in run.studies.get(RECOMMENDATION, [])], columns=COLUMNS)


RECOMMENDATION_TABLES: dict[str, StudyTable] = {
    "recommendation": StudyTable(
        "Recommendation: the fastest variant within budget", recommendation_table, LEGEND, _FORMATS
    ),
}
