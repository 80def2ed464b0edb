"""The recommendation: per model, the fastest variant whose accuracy loss is known to fit its budget.

Candidates are every variant of the model in this run's matrix (backend x precision x pruning x
KD) and, with ``combine``, each pruned or distilled checkpoint put on the fastest unpruned
configuration that holds its budget (so that pruning, KD and the best runtime are tried together
even where the matrix pairs them only on PyTorch). For each candidate:

- its mAP50-95 drop below the model's FP32 PyTorch reference, with its interval: over training
  seeds and val images where the candidate trained something, else a paired bootstrap over val
  images (:func:`harness.replicates.training_difference`);
- with ``[verdicts] tuned_reference``, for a candidate that trained after the reference (pruned
  and fine-tuned, distilled), its drop below the reference trained through the same stages with
  the same arguments and seeds (:mod:`harness.tuned`), with its interval: the extra training's own
  gain on a reference that had not converged does not count as recovered accuracy;
- eligible when the whole interval lies within its ``[budgets]`` ``max_map_drop`` (both intervals,
  with the tuned reference): a drop that only might fit is not recommended;
- its batch-1 latency in a round-robin of every candidate (:func:`harness.measure.latency.round_robin`).

The recommended variant is the fastest eligible one. It is then timed interleaved against PyTorch
FP32 eager (the reference) for a speedup interval. The fastest unpruned INT8 candidate is also set
against this CPU's measured INT8 compute roofline (:mod:`harness.measure.roofline`). Bars, each
judged only when its ``[studies.recommendation]`` key is set: ``min_speedup`` (the recommended
variant against PyTorch eager) and ``max_roofline_ratio``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, partial

from harness.bench import Bench
from harness.checks import check_bound, check_speedup
from harness.config.budgets import Budget
from harness.config.recommendation import RecommendationSpec
from harness.errors import BackendUnavailable
from harness.measure.latency import interleave, screen_ms
from harness.measure.roofline import Peak, missing_openvino, peak_int8, roofline_ms
from harness.measure.seeds import span_fields
from harness.measure.stats import Interval
from harness.recipes import Variant
from harness.replicates import training_difference
from harness.results import RECOMMENDATION
from harness.studies.base import Bar, NotMeasurable, Study
from harness.tuned import tuned_control

__all__ = [
    "Candidate",
    "RecommendationCase",
    "RecommendationResult",
    "RecommendationStudy",
    "cases",
    "combined_candidates",
    "measure_case",
    "recommendation_spec",
]


@dataclass(frozen=True)
class RecommendationCase:
    """One model's FP32 PyTorch reference and its candidates."""

    model: str
    reference: Variant
    candidates: tuple[Variant, ...]

    @property
    def slug(self) -> str:
        """Test id, e.g. ``yolo11n-recommendation``."""
        return f"{self.model}-recommendation"


@dataclass
class Candidate:
    """One candidate's figures (``reason``: why it has none, or why it is not eligible)."""

    variant: Variant
    combined: bool = False
    map50_95: float | None = None
    drop: Interval | None = None
    limit: float | None = None
    latency_ms: float | None = None
    reason: str = ""
    tuned_drop: Interval | None = None  # below the reference trained as long (None: not measured)
    tuned_limit: float | None = None

    @property
    def eligible(self) -> bool:
        """The whole drop interval lies within the budget, and so does the drop below the reference
        trained as long where it was measured."""
        within = self.drop is not None and self.limit is not None and self.drop.high <= self.limit
        if self.tuned_drop is None:
            return within
        return within and self.tuned_limit is not None and self.tuned_drop.high <= self.tuned_limit

    @property
    def unpruned_int8(self) -> bool:
        """An INT8 variant of the reference checkpoint (no pruning, no KD)."""
        v = self.variant
        return v.precision == "int8" and v.prune is None and v.distill is None


@dataclass
class RecommendationResult:
    """Every candidate, the recommended one, its speedup over PyTorch eager and the roofline."""

    case: RecommendationCase
    candidates: list[Candidate] = field(default_factory=list)
    recommended: Candidate | None = None
    speedup: Interval | None = None
    speedup_rounds: int | None = None
    reference_ms: float | None = None
    peak: Peak | None = None
    roofline_ms: float | None = None
    roofline_of: Candidate | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def roofline_ratio(self) -> float | None:
        """Latency of the fastest unpruned INT8 candidate over the roofline."""
        if self.roofline_of is None or self.roofline_ms is None or self.roofline_of.latency_ms is None:
            return None
        return self.roofline_of.latency_ms / self.roofline_ms

    def to_dicts(self) -> list[dict[str, object]]:
        """One JSON row per candidate, fastest first; unmeasured ones last."""
        timed = sorted(
            (c for c in self.candidates if c.latency_ms is not None), key=lambda c: c.latency_ms or 0.0
        )
        rest = [c for c in self.candidates if c.latency_ms is None]
        return [self._row(c) for c in (*timed, *rest)]

    def _row(self, c: Candidate) -> dict[str, object]:
        v, chosen, roof = c.variant, c is self.recommended, c is self.roofline_of
        ref = self.reference_ms
        return {
            "case": self.case.slug, "model": self.case.model, "variant": v.slug, "backend": v.backend,
            "precision": v.precision, "prune": v.prune.ratio if v.prune else 0.0,
            "kd": v.distill or None, "combined": c.combined,
            "map50_95": c.map50_95, **span_fields("drop", "drop", c.drop),
            "drop_n": None if c.drop is None else c.drop.n, "drop_unit": None if c.drop is None else c.drop.unit,
            "budget": c.limit,
            **span_fields("tuned_drop", "tuned_drop", c.tuned_drop), "tuned_drop_budget": c.tuned_limit,
            "eligible": c.eligible if c.drop is not None else None,
            "latency_median_ms": c.latency_ms,
            "screen_speedup": None if ref is None or not c.latency_ms else ref / c.latency_ms,
            "recommended": chosen,
            **span_fields("speedup_vs_torch", "speedup", self.speedup if chosen else None),
            "speedup_rounds": self.speedup_rounds if chosen else None,
            "roofline_ms": self.roofline_ms if roof else None,
            "roofline_ratio": self.roofline_ratio if roof else None,
            "peak_gmacs": self.peak.gmacs if roof and self.peak else None,
            "reason": c.reason,
        }  # fmt: skip


def recommendation_spec(bench: Bench) -> RecommendationSpec | None:
    """The run's ``[studies.recommendation]`` settings, or None when the config has no such table."""
    return bench.config.studies.read(RECOMMENDATION, RecommendationSpec.from_table)


def cases(bench: Bench) -> list[RecommendationCase]:
    """One case per chosen model: its reference and every matrix variant of it."""
    spec = recommendation_spec(bench)
    if spec is None:
        return []
    chosen = bench.models if spec.models is None else [m for m in bench.models if m in spec.models]
    found = []
    for model in chosen:
        variants = {(v.slug, v.source.key()): v for v in bench.variants if v.model == model}
        found.append(RecommendationCase(model, bench.reference(model), tuple(variants.values())))
    return found


def _score(bench: Bench, case: RecommendationCase, variant: Variant, combined: bool) -> Candidate:
    """Accuracy, drop interval and budget of one candidate (its reason when it cannot run)."""
    candidate = Candidate(variant, combined)
    try:
        bench.runner(variant)
        candidate.map50_95 = bench.accuracy(variant).map50_95
    except BackendUnavailable as exc:
        candidate.reason = str(exc)
        return candidate
    candidate.drop = training_difference(bench, case.reference, variant)  # reference - variant
    budget = bench.config.budgets.for_variant(variant.slug, variant.precision, variant.prune is not None)
    candidate.limit = budget.limit("max_map_drop", bench.accuracy(case.reference).map50_95)
    tuned = tuned_control(variant, bench.config)
    if tuned is not None:
        candidate.tuned_drop = training_difference(bench, tuned, variant)
        candidate.tuned_limit = budget.limit("max_map_drop", bench.accuracy(tuned).map50_95)
    candidate.reason = _ineligible(candidate)
    return candidate


def _ineligible(c: Candidate) -> str:
    """Why a scored candidate is not eligible ("" when it is)."""
    if c.limit is None:
        return "no max_map_drop budget for this variant"
    if c.drop is not None and c.drop.high > c.limit:
        return f"drop interval reaches {c.drop.high:.4f} > budget {c.limit:.4f}"
    if c.tuned_drop is not None and c.tuned_limit is not None and c.tuned_drop.high > c.tuned_limit:
        return (
            f"drop below the reference trained as long reaches {c.tuned_drop.high:.4f} > budget "
            f"{c.tuned_limit:.4f}"
        )
    return ""


def _screen(bench: Bench, case: RecommendationCase, found: Sequence[Candidate], rounds: int) -> float:
    """Time every runnable candidate and the reference in one round-robin; sets each latency and
    returns the reference's median in ms."""
    x = bench.input_batch(case.reference, 1)
    runnable = [c for c in found if c.map50_95 is not None]
    calls = {f"{i}": partial(bench.runner(c.variant), x) for i, c in enumerate(runnable)}
    calls["reference"] = partial(bench.runner(case.reference), x)
    ms = screen_ms(calls, rounds, bench.config.latency.warmup)
    for i, c in enumerate(runnable):
        c.latency_ms = ms[f"{i}"]
    return ms["reference"]


def combined_candidates(found: Sequence[Candidate]) -> list[Variant]:
    """Each pruned or distilled checkpoint on the fastest eligible unpruned configuration (other
    than PyTorch FP32, which the matrix already pairs with every checkpoint); none when no such
    configuration is timed and eligible."""
    unpruned = [
        c for c in found
        if c.eligible and c.latency_ms is not None and c.variant.prune is None and c.variant.distill is None
        and (c.variant.backend, c.variant.precision) != ("torch", "fp32")
    ]  # fmt: skip
    if not unpruned:
        return []
    best = min(unpruned, key=lambda c: c.latency_ms or 0.0).variant
    seen = {(c.variant.slug, c.variant.source.key()) for c in found}
    checkpoints = {c.variant.source.key(): c.variant for c in found if c.variant.prune or c.variant.distill}
    combos = [
        dataclasses.replace(v, backend=best.backend, precision=best.precision, quant=best.quant)
        for v in checkpoints.values()
    ]
    return [v for v in combos if (v.slug, v.source.key()) not in seen]


def measure_case(bench: Bench, case: RecommendationCase) -> RecommendationResult:
    """Score and screen every candidate, pick the fastest eligible one, time it against PyTorch
    eager and set the fastest unpruned INT8 against the roofline."""
    spec = recommendation_spec(bench) or RecommendationSpec()
    result = RecommendationResult(case)
    try:
        bench.runner(case.reference)
    except BackendUnavailable as exc:
        raise NotMeasurable(f"{case.slug}: the PyTorch reference cannot run: {exc}") from exc
    result.candidates = [_score(bench, case, v, False) for v in case.candidates]
    result.reference_ms = _screen(bench, case, result.candidates, spec.screen_rounds)
    if spec.combine:
        extra = [_score(bench, case, v, True) for v in combined_candidates(result.candidates)]
        if extra:
            result.candidates += extra
            result.reference_ms = _screen(bench, case, result.candidates, spec.screen_rounds)
    _recommend(bench, case, result, spec.interleaved_rounds)
    _roofline(bench, result)
    return result


def _recommend(
    bench: Bench, case: RecommendationCase, result: RecommendationResult, rounds: int | None
) -> None:
    """The fastest eligible candidate, timed interleaved against the PyTorch reference for ``rounds``
    (None: ``[latency] interleaved_rounds``)."""
    eligible = [c for c in result.candidates if c.eligible and c.latency_ms is not None]
    if not eligible:
        result.notes.append("no candidate's drop interval lies within its budget")
        return
    best = min(eligible, key=lambda c: c.latency_ms or 0.0)
    result.recommended = best
    x = bench.input_batch(case.reference, 1)
    lat, verdicts = bench.config.latency, bench.config.verdicts
    result.speedup_rounds = lat.interleaved_rounds if rounds is None else rounds
    timed = interleave(
        partial(bench.runner(best.variant), x),
        partial(bench.runner(case.reference), x),
        result.speedup_rounds,
        lat.warmup,
    )
    result.speedup = timed.interval(verdicts.latency_confidence)


@cache
def _peak(threads: int) -> Peak:
    """The CPU's INT8 peak at ``threads``, measured once per process: every model case of a run
    is set against the same measurement."""
    return peak_int8(threads)


def _roofline(bench: Bench, result: RecommendationResult) -> None:
    """The fastest unpruned INT8 candidate against this CPU's measured INT8 compute roofline."""
    timed = [c for c in result.candidates if c.unpruned_int8 and c.latency_ms is not None]
    if not timed:
        result.notes.append("no unpruned INT8 candidate was timed: no roofline comparison")
        return
    if reason := missing_openvino():
        result.notes.append(reason)
        return
    fastest = min(timed, key=lambda c: c.latency_ms or 0.0)
    gflops = bench.network_size(fastest.variant).get("gflops")
    if not gflops:
        result.notes.append(f"{fastest.variant.slug}: GFLOPs unknown, no roofline")
        return
    result.peak = _peak(bench.ctx.threads)
    result.roofline_ms = roofline_ms(gflops, result.peak)
    result.roofline_of = fastest


def _speed_bar(
    bench: Bench, case: RecommendationCase, result: RecommendationResult, limit: float | None
) -> Bar:
    if limit is None:
        return Bar.skipped(
            "min_speedup", "studies.recommendation.min_speedup is not set: measured, not judged"
        )
    if result.recommended is None or result.speedup is None:
        return Bar.skipped("min_speedup", f"{case.slug}: {'; '.join(result.notes) or 'nothing recommended'}")
    check = check_speedup(
        Budget(min_speedup=limit),
        f"{result.recommended.variant.slug} (recommended) vs PyTorch FP32 eager",
        result.speedup.estimate,
        interval=result.speedup,
        inconclusive_fails=bench.config.verdicts.inconclusive_fails,
    )
    return Bar("min_speedup", (check,))


def _roofline_bar(case: RecommendationCase, result: RecommendationResult, limit: float | None) -> Bar:
    if limit is None:
        return Bar.skipped(
            "max_roofline_ratio", "studies.recommendation.max_roofline_ratio is not set: measured, not judged"
        )
    ratio = result.roofline_ratio
    if ratio is None or result.roofline_of is None or result.peak is None:
        return Bar.skipped("max_roofline_ratio", f"{case.slug}: {'; '.join(result.notes) or 'no roofline'}")
    context = (
        f"p50 {result.roofline_of.latency_ms:.2f} ms, roofline {result.roofline_ms:.2f} ms at a measured "
        f"INT8 peak of {result.peak.gmacs:.0f} GMAC/s ({result.peak.method})"
    )
    check = check_bound(
        "max_roofline_ratio", result.roofline_of.variant.slug, "latency over the INT8 compute roofline",
        ratio, limit, at_most=True, context=context, digits=2,
    )  # fmt: skip
    return Bar("max_roofline_ratio", (check,))


class RecommendationStudy(Study[RecommendationCase, RecommendationResult]):
    """The fastest variant within budget, per model; optional speed and roofline bars."""

    name = RECOMMENDATION
    table = None
    empty = "no [studies.recommendation] table in the config"

    def cases(self, bench: Bench) -> list[RecommendationCase]:
        """One case per chosen model (:func:`cases`)."""
        return cases(bench)

    def measure(self, bench: Bench, case: RecommendationCase) -> RecommendationResult:
        """Score, screen and pick (:func:`measure_case`)."""
        return measure_case(bench, case)

    def rows(self, bench: Bench, row: RecommendationResult) -> list[dict[str, object]]:
        """One row per candidate, fastest first."""
        return row.to_dicts()

    def bars(self, bench: Bench, case: RecommendationCase, row: RecommendationResult) -> list[Bar]:
        """min_speedup and max_roofline_ratio (each skipped unless configured)."""
        spec = recommendation_spec(bench) or RecommendationSpec()
        return [
            _speed_bar(bench, case, row, spec.min_speedup),
            _roofline_bar(case, row, spec.max_roofline_ratio),
        ]

    def summary(self, case: RecommendationCase, row: RecommendationResult) -> str:
        """The recommended variant, its drop and speedup, and the roofline ratio."""
        if row.recommended is None:
            return f"harness: recommendation {case.model}: none ({'; '.join(row.notes)})"
        rec, speed = row.recommended, row.speedup
        drop = rec.drop.describe(4) if rec.drop else "-"
        fast = speed.describe(2, "x") if speed else "-"
        roof = (
            f"; fastest unpruned INT8 at {row.roofline_ratio:.2f}x the INT8 roofline"
            if row.roofline_ratio
            else ""
        )
        return f"harness: recommendation {case.model}: {rec.variant.slug}, drop {drop}, {fast} vs PyTorch FP32{roof}"
