"""The ``qat`` table, from the ``qat`` study rows of results.json.

Per model and QDQ backend: FP32, the best post-training INT8 of the matrix, the QAT INT8 graph and
the FP32 control fine-tuned the same epochs, each with mAP50-95, its drop below FP32 with the
interval (PTQ: over val images; QAT and control: over training seeds and val images), batch-1
latency and its speedup against FP32 timed interleaved in this run, and the file size. A QAT graph
slower than the PTQ graph of its backend is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from harness.report.tables import StudyTable, number_or_nan, span_text
from harness.results import QAT, RunResults

__all__ = ["QAT_TABLES", "qat_table"]

QAT_LEGEND = (
    "Per model and backend: FP32; the matrix's best post-training INT8 (PTQ); QAT INT8: the same "
    "checkpoint fine-tuned with fake quantization (Ultralytics quantize=8, NVIDIA ModelOpt) and exported "
    "as a QDQ graph the backend runs as it is; control: the same checkpoint fine-tuned the same epochs, "
    "seed and arguments in FP32. Drop vs FP32 (95 % interval): PTQ over val images, QAT and control "
    "averaged over the Seeds column's training seeds. Speed vs FP32 (99 % interval): timed interleaved "
    "against FP32 in this run. QAT - control: mAP50-95 averaged over training seeds, with its 95 % "
    "interval: what training with fake quantization costs against fine-tuning alone. Recovered: share of "
    "PTQ's loss QAT takes back, shown only when PTQ's loss interval excludes zero. Flag: QAT slower than "
    "PTQ on the same backend. `-` = not measured."
)
_FORMATS = {"mAP50-95": ".4f", "p50 ms": ".2f", "Size MB": ".2f", "Recovered": ".2f"}


def _row(row: Mapping[str, object]) -> dict[str, object]:
    seeds = row.get("drop_seeds")
    return {
        "Model": row.get("model"), "Backend": row.get("backend"), "Variant": row.get("variant"),
        "mAP50-95": number_or_nan(row.get("map50_95")),
        "Drop vs FP32": span_text(row.get("drop"), row.get("drop_ci_low"), row.get("drop_ci_high")),
        "Seeds": "-" if seeds is None else str(seeds),
        "p50 ms": number_or_nan(row.get("latency_median_ms")),
        "Speed vs FP32": span_text(row.get("speedup_vs_fp32"), row.get("speedup_ci_low"),
                                   row.get("speedup_ci_high"), ".2f", "x"),
        "Size MB": number_or_nan(row.get("size_mb")),
        "Recovered": number_or_nan(row.get("recovered")),
        "QAT - control": span_text(row.get("qat_minus_control"), row.get("qat_minus_control_ci_low"),
                                   row.get("qat_minus_control_ci_high")),
        "Flag": row.get("flag") or "",
    }  # fmt: skip


def qat_table(run: RunResults) -> pd.DataFrame:
    """Four rows per model and backend, in the order the run measured them."""
    rows = [_row(r) for r in run.studies.get(QAT, [])]
    columns = ["Model", "Backend", "Variant", "mAP50-95", "Drop vs FP32", "Seeds", "p50 ms", "Speed vs FP32",
               "Size MB", "Recovered", "QAT - control", "Flag"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


QAT_TABLES: dict[str, StudyTable] = {
    "qat": StudyTable("Quantization-aware training", qat_table, QAT_LEGEND, _FORMATS),
}
