"""The pruning study: what pruning one model physically bought, measured in one run.

For one model and one :class:`~harness.recipes.PruneSpec` (a "case"), :func:`measure_case`
builds (or finds cached) the pruned, fine-tuned checkpoint and the same pruning without
fine-tuning, then measures:

- cost: graph build + pruning seconds and the peak memory of the pruning process (``prune.json``);
- size: parameters, GFLOPs, ``.pt`` and ONNX file bytes, before and after (unstructured: sparsity);
- speed: for each FP32 backend pruned variants run on (PyTorch, ONNX Runtime), the pruned model
  timed interleaved against the unpruned one on the same backend and input, in this run;
- accuracy: mAP50-95 of the reference, of the pruned model before and after fine-tuning.

Nothing is estimated: a figure that could not be measured (a backend that cannot run here) is
None. Rows go to ``results.json`` ``studies.pruning``; the report renders the pruning table and
the ratio-guideline table from them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from harness.backends.base import Runner
from harness.budgets import Budget, CheckResult, check_speedup
from harness.build import build
from harness.build.prune import read_report
from harness.errors import BackendUnavailable
from harness.measure.latency import interleave
from harness.measure.size import file_bytes
from harness.measure.stats import Interval
from harness.pruneconfig import PruneBar, PruningSpec
from harness.recipes import PruneRecipe, PruneSpec, Variant
from harness.session import HarnessSession

__all__ = ["PRUNING", "SPEED_BACKENDS", "PruneCase", "PruneRow", "cases", "measure_case"]

PRUNING = "pruning"
"""The study's name in results.json ``studies``."""

SPEED_BACKENDS = ("torch", "onnxruntime")
"""FP32 backends whose latency before and after pruning the table shows."""

Figure = float | None


@dataclass(frozen=True)
class PruneCase:
    """One model pruned one way; ``variant`` is its FP32 PyTorch variant."""

    variant: Variant

    @property
    def spec(self) -> PruneSpec:
        """How it is pruned."""
        if self.variant.prune is None:
            raise ValueError(f"{self.variant.slug} is not pruned")
        return self.variant.prune

    @property
    def slug(self) -> str:
        """Test id, e.g. ``yolo11n-p30-l1``."""
        return f"{self.variant.model}-{self.spec.slug}"


@dataclass
class PruneRow:
    """Everything measured for one case (None: not measured)."""

    model: str
    spec: PruneSpec
    bar: PruneBar | None
    seconds: Figure = None
    peak_memory_mib: Figure = None
    sizes: dict[str, Figure] = field(default_factory=dict)  # params/gflops/pt_bytes/onnx_bytes _before/_after
    sparsity: Figure = None
    latency_ms: dict[str, tuple[Figure, Figure]] = field(default_factory=dict)  # backend -> (before, after)
    speedup_ci: dict[str, Interval] = field(default_factory=dict)  # backend -> interval of before / after
    map_reference: Figure = None
    map_pruned: Figure = None  # right after pruning, no fine-tuning
    map_finetuned: Figure = None
    notes: list[str] = field(default_factory=list)

    def speedup(self, backend: str) -> Figure:
        """Unpruned latency / pruned latency on ``backend`` (same run, interleaved): the centre of its
        interval when there is one, else the ratio of the medians."""
        if backend in self.speedup_ci:
            return self.speedup_ci[backend].estimate
        before, after = self.latency_ms.get(backend, (None, None))
        return before / after if before and after else None

    def speedup_checks(self, min_speedup: float, inconclusive_fails: bool = False) -> list[CheckResult]:
        """One ``min_speedup`` check per measured backend, judged by its interval where there is one."""
        name = f"{self.model}-{self.spec.slug}"
        return [
            check_speedup(
                Budget(min_speedup=min_speedup), f"{name} on {backend}", speedup, before, None,
                self.speedup_ci.get(backend), inconclusive_fails,
            )
            for backend, (before, _) in self.latency_ms.items()
            if (speedup := self.speedup(backend)) is not None
        ]  # fmt: skip

    @property
    def params_reduction(self) -> Figure:
        """Fraction of parameters removed."""
        before, after = self.sizes.get("params_before"), self.sizes.get("params_after")
        return 1.0 - after / before if before and after is not None else None

    def to_dict(self, pruning: PruningSpec) -> dict[str, object]:
        """A flat JSON row for ``studies.pruning``."""
        latency = {
            f"{backend}_ms_{when}": value
            for backend, pair in self.latency_ms.items()
            for when, value in zip(("before", "after"), pair, strict=True)
        }
        for backend, interval in self.speedup_ci.items():
            latency |= {
                f"{backend}_speedup": interval.estimate,
                f"{backend}_speedup_ci_low": interval.low,
                f"{backend}_speedup_ci_high": interval.high,
            }
        return {
            "model": self.model,
            "case": f"{self.model}-{self.spec.slug}",
            **{f"prune_{k}": v for k, v in self.spec.to_dict().items()},
            "graph_prune_s": self.seconds,
            "peak_memory_mib": self.peak_memory_mib,
            **self.sizes,
            "sparsity": self.sparsity,
            **latency,
            "map50_95_reference": self.map_reference,
            "map50_95_pruned": self.map_pruned,
            "map50_95_finetuned": self.map_finetuned,
            "safe_drop": pruning.safe_drop,
            "aggressive_drop": pruning.aggressive_drop,
        }


def cases(session: HarnessSession) -> list[PruneCase]:
    """One case per model and pruning configuration in the matrix."""
    found: dict[tuple[str, PruneSpec], Variant] = {}
    for variant in session.variants:
        if variant.prune is not None and variant.distill is None:
            fp32 = dataclasses.replace(variant, precision="fp32", backend="torch", quant=None)
            found.setdefault((variant.model, variant.prune), fp32)
    return [PruneCase(v) for v in found.values()]


def measure_case(session: HarnessSession, case: PruneCase) -> PruneRow:
    """Build and measure one case (see the module docstring)."""
    pruning = session.config.pruning
    row = PruneRow(case.variant.model, case.spec, pruning.bar_for(case.spec.ratio))
    _cost(session, case, row)
    _sizes(session, case, row)
    _speed(session, case, row)
    _accuracy(session, case, row)
    return row


def _cost(session: HarnessSession, case: PruneCase, row: PruneRow) -> None:
    """Seconds and peak memory of every pruning step (summed and maxed), sparsity if unstructured."""
    assert isinstance(case.variant.source, PruneRecipe)
    steps = read_report(build(case.variant.source, session.ctx).directory)["steps"]
    row.seconds = sum(float(s["seconds"]) for s in steps)
    peaks = [float(s["process_peak_rss_mib"]) for s in steps if s.get("process_peak_rss_mib") is not None]
    row.peak_memory_mib = max(peaks, default=None)  # None off Linux (no /proc/self/status)
    if case.spec.method == "unstructured":
        row.sparsity = float(steps[-1]["sparsity"])


def _sizes(session: HarnessSession, case: PruneCase, row: PruneRow) -> None:
    """params, GFLOPs, .pt and ONNX bytes of the unpruned and the pruned network."""
    for when, variant in (("before", case.variant.unpruned()), ("after", case.variant)):
        size = session.network_size(variant)
        row.sizes[f"params_{when}"] = size.get("params")
        row.sizes[f"gflops_{when}"] = size.get("gflops")
        row.sizes[f"pt_bytes_{when}"] = float(file_bytes(session.runner(variant).artifact))
        onnx = _runner_or_none(session, dataclasses.replace(variant, backend="onnxruntime"), row)
        row.sizes[f"onnx_bytes_{when}"] = float(file_bytes(onnx.artifact)) if onnx else None


def _speed(session: HarnessSession, case: PruneCase, row: PruneRow) -> None:
    """Pruned vs unpruned latency on each FP32 speed backend, interleaved on one real input."""
    lat = session.config.latency
    for backend in SPEED_BACKENDS:
        pruned = dataclasses.replace(case.variant, backend=backend)
        after = _runner_or_none(session, pruned, row)
        before = _runner_or_none(session, pruned.unpruned(), row)
        if after is None or before is None:
            continue
        x = session.input_batch(pruned, 1)
        timed = interleave(lambda: after(x), lambda: before(x), lat.interleaved_rounds, lat.warmup)
        row.latency_ms[backend] = (timed.reference_median_s * 1e3, timed.candidate_median_s * 1e3)
        interval = timed.interval(session.config.verdicts.latency_confidence)
        if interval is not None:
            row.speedup_ci[backend] = interval


def _accuracy(session: HarnessSession, case: PruneCase, row: PruneRow) -> None:
    """mAP50-95 of the reference, the pruned model before fine-tuning, and after."""
    row.map_reference = session.accuracy(case.variant.reference()).map50_95
    row.map_finetuned = session.accuracy(case.variant).map50_95
    raw = without_finetune(case.variant)
    row.map_pruned = row.map_finetuned if raw == case.variant else session.accuracy(raw).map50_95


def without_finetune(variant: Variant) -> Variant:
    """``variant`` pruned the same way but not fine-tuned (itself when it has no fine-tuning)."""
    source = variant.source
    if not isinstance(source, PruneRecipe) or source.spec.finetune_epochs == 0:
        return variant
    spec = source.spec.without_finetune()
    return dataclasses.replace(variant, source=dataclasses.replace(source, spec=spec), prune=spec)


def _runner_or_none(session: HarnessSession, variant: Variant, row: PruneRow) -> Runner | None:
    """The variant's runner, or None with a note when its backend cannot run here."""
    try:
        return session.runner(variant)
    except BackendUnavailable as exc:
        row.notes.append(f"{variant.slug}: {exc}")
        return None
