"""The pruning study: what pruning one model physically bought, measured in one run.

For one model and one :class:`~harness.recipes.PruneSpec` (a "case"), :func:`measure_case`
builds (or finds cached) the pruned, fine-tuned checkpoint and the same pruning without
fine-tuning, then measures:

- cost: graph build + pruning seconds and the peak memory of the pruning process (``prune.json``);
- widths: what each convolution kept (``prune.json``, ``harness.prune.widths``): how many layers
  kept every channel and the smallest and largest fraction a layer kept;
- size: parameters, GFLOPs, ``.pt`` and ONNX file bytes, before and after (unstructured: sparsity);
- speed: for each FP32 backend pruned variants run on (PyTorch, ONNX Runtime), the pruned model
  timed interleaved against the unpruned one on the same backend and input, in this run;
- accuracy: mAP50-95 of the reference, of the pruned model before and after fine-tuning, and, for
  a criterion other than L1 whose L1 control (same ratio, strategy, rounding, steps and fine-tune)
  is in the matrix too, its mAP50-95 difference from that control over training seeds and val
  images (``vs_l1``): better, worse, or no decided difference;
- with ``[verdicts] tuned_reference``, the fine-tuned model against the reference fine-tuned as
  long with the same arguments and seeds (:mod:`harness.tuned`): ``tuned_drop``, how far the
  pruned model's mAP50-95 lies below it, over training seeds and val images, which the ``tuned``
  bar holds to the pruned variant's ``max_map_drop`` budget: the cost of pruning itself, without
  the fine-tune's own gain on a reference that had not converged.

Nothing is estimated: a figure that could not be measured (a backend that cannot run here) is
None. Rows go to ``results.json`` ``studies.pruning``; the report renders the pruning table and
the ratio-guideline table from them.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

from harness.bench import Bench
from harness.builders import build
from harness.builders.prune import read_report
from harness.checks import CheckResult, check_bound, check_interval_bound, check_speedup
from harness.config.budgets import Budget
from harness.config.pruning import SPEED_BACKENDS, PruneBar, PruningSpec
from harness.measure.latency import interleave
from harness.measure.seeds import SEED_UNIT, interval_fields
from harness.measure.size import file_bytes
from harness.measure.stats import Interval
from harness.prune.widths import Widths, across_steps, summary
from harness.recipes import PruneRecipe, PruneSpec, Variant
from harness.replicates import training_difference
from harness.results import PRUNING
from harness.studies.base import Bar, Study
from harness.tuned import tuned_control, tuned_skip

__all__ = ["PruneCase", "PruneRow", "PruningStudy", "cases", "decided", "l1_control", "measure_case"]

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
    widths: Widths | None = None  # conv -> output channels before, after (None: not recorded)
    latency_ms: dict[str, tuple[Figure, Figure]] = field(default_factory=dict)  # backend -> (before, after)
    speedup_ci: dict[str, Interval] = field(default_factory=dict)  # backend -> interval of before / after
    map_reference: Figure = None
    map_pruned: Figure = None  # right after pruning, no fine-tuning
    map_finetuned: Figure = None
    notes: list[str] = field(default_factory=list)
    finetune_gain_ci: Interval | None = None  # fine-tuned - pruned, over training seeds and val images
    vs_l1_ci: Interval | None = None  # this criterion - its L1 control, over training seeds and val images
    map_tuned_reference: Figure = None  # the reference fine-tuned as long (None: not measured)
    tuned_drop_ci: Interval | None = None  # tuned reference - fine-tuned, over training seeds and val images
    tuned_limit: Figure = None  # the pruned variant's max_map_drop against the tuned reference

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
            **summary(self.widths),
            "layer_widths": None if self.widths is None else {k: list(v) for k, v in self.widths.items()},
            **latency,
            "map50_95_reference": self.map_reference,
            "map50_95_pruned": self.map_pruned,
            "map50_95_finetuned": self.map_finetuned,
            **interval_fields("finetune_gain", self.finetune_gain_ci),
            **interval_fields("vs_l1", self.vs_l1_ci),
            "vs_l1_verdict": decided(self.vs_l1_ci),
            "map50_95_tuned_reference": self.map_tuned_reference,
            **interval_fields("tuned_drop", self.tuned_drop_ci),
            "tuned_drop_budget": self.tuned_limit,
            "safe_drop": pruning.safe_drop,
            "aggressive_drop": pruning.aggressive_drop,
        }


def cases(bench: Bench) -> list[PruneCase]:
    """One case per model and pruning configuration in the matrix."""
    found: dict[tuple[str, PruneSpec], Variant] = {}
    for variant in bench.variants:
        if variant.prune is not None and variant.distill is None:
            fp32 = dataclasses.replace(variant, precision="fp32", backend="torch", quant=None)
            found.setdefault((variant.model, variant.prune), fp32)
    return [PruneCase(v) for v in found.values()]


def measure_case(bench: Bench, case: PruneCase) -> PruneRow:
    """Build and measure one case (see the module docstring)."""
    pruning = bench.config.pruning
    row = PruneRow(case.variant.model, case.spec, pruning.bar_for(case.spec.ratio))
    _cost(bench, case, row)
    _sizes(bench, case, row)
    _speed(bench, case, row)
    _accuracy(bench, case, row)
    return row


def _cost(bench: Bench, case: PruneCase, row: PruneRow) -> None:
    """Seconds and peak memory of every pruning step (summed and maxed); sparsity if unstructured,
    else the per-layer widths."""
    assert isinstance(case.variant.source, PruneRecipe)
    steps = read_report(build(case.variant.source, bench.ctx).directory)["steps"]
    row.seconds = sum(float(s["seconds"]) for s in steps)
    peaks = [float(s["process_peak_rss_mib"]) for s in steps if s.get("process_peak_rss_mib") is not None]
    row.peak_memory_mib = max(peaks, default=None)  # None off Linux (no /proc/self/status)
    if case.spec.method == "unstructured":
        row.sparsity = float(steps[-1]["sparsity"])
    else:
        row.widths = across_steps(steps)


def _sizes(bench: Bench, case: PruneCase, row: PruneRow) -> None:
    """params, GFLOPs, .pt and ONNX bytes of the unpruned and the pruned network."""
    for when, variant in (("before", case.variant.unpruned()), ("after", case.variant)):
        size = bench.network_size(variant)
        row.sizes[f"params_{when}"] = size.get("params")
        row.sizes[f"gflops_{when}"] = size.get("gflops")
        row.sizes[f"pt_bytes_{when}"] = float(file_bytes(bench.runner(variant).artifact))
        onnx = bench.runner_or_note(dataclasses.replace(variant, backend="onnxruntime"), row.notes)
        row.sizes[f"onnx_bytes_{when}"] = float(file_bytes(onnx.artifact)) if onnx else None


def _speed(bench: Bench, case: PruneCase, row: PruneRow) -> None:
    """Pruned vs unpruned latency on each FP32 speed backend, interleaved on one real input."""
    lat = bench.config.latency
    for backend in SPEED_BACKENDS:
        pruned = dataclasses.replace(case.variant, backend=backend)
        after = bench.runner_or_note(pruned, row.notes)
        before = bench.runner_or_note(pruned.unpruned(), row.notes)
        if after is None or before is None:
            continue
        x = bench.input_batch(pruned, 1)
        timed = interleave(
            functools.partial(after, x), functools.partial(before, x), lat.interleaved_rounds, lat.warmup
        )
        row.latency_ms[backend] = (timed.reference_median_s * 1e3, timed.candidate_median_s * 1e3)
        interval = timed.interval(bench.config.verdicts.latency_confidence)
        if interval is not None:
            row.speedup_ci[backend] = interval


def _accuracy(bench: Bench, case: PruneCase, row: PruneRow) -> None:
    """mAP50-95 of the reference, the pruned model before fine-tuning, and after."""
    row.map_reference = bench.accuracy(case.variant.reference()).map50_95
    row.map_finetuned = bench.accuracy(case.variant).map50_95
    raw = without_finetune(case.variant)
    row.map_pruned = row.map_finetuned if raw == case.variant else bench.accuracy(raw).map50_95
    if raw != case.variant:  # the fine-tune at every training seed; the pruned model is its input
        row.finetune_gain_ci = training_difference(bench, case.variant, raw)
    control = l1_control(bench, case.variant)
    if control is not None:
        row.vs_l1_ci = training_difference(bench, case.variant, control)
    tuned = tuned_control(case.variant, bench.config)
    if tuned is not None:
        row.map_tuned_reference = bench.accuracy(tuned).map50_95
        row.tuned_drop_ci = training_difference(bench, tuned, case.variant)
        budget = bench.config.budgets.for_variant(case.variant.slug, case.variant.precision, True)
        row.tuned_limit = budget.limit("max_map_drop", row.map_tuned_reference)


def l1_control(bench: Bench, variant: Variant) -> Variant | None:
    """The matrix's variant pruned like ``variant`` but ranked by L1 (None: ``variant`` is L1,
    unstructured, or its control is not in the matrix)."""
    spec = variant.prune
    if spec is None or spec.criterion == "l1" or spec.method != "structured":
        return None
    wanted = dataclasses.replace(spec, criterion="l1")
    return next(
        (dataclasses.replace(v, backend=variant.backend, precision=variant.precision, quant=variant.quant)
         for v in bench.variants if v.model == variant.model and v.prune == wanted and v.distill is None),
        None,
    )  # fmt: skip


def decided(interval: Interval | None) -> str | None:
    """``better`` / ``worse`` when the interval excludes zero, else ``no decided difference``."""
    if interval is None:
        return None
    if interval.low > 0:
        return "better"
    return "worse" if interval.high < 0 else "no decided difference"


def without_finetune(variant: Variant) -> Variant:
    """``variant`` pruned the same way but not fine-tuned (itself when it has no fine-tuning)."""
    source = variant.source
    if not isinstance(source, PruneRecipe) or source.spec.finetune_epochs == 0:
        return variant
    spec = source.spec.without_finetune()
    return dataclasses.replace(variant, source=dataclasses.replace(source, spec=spec), prune=spec)


class PruningStudy(Study[PruneCase, PruneRow]):
    """Pruning as a study: cases from the matrix's pruned variants, five bars per case."""

    name = PRUNING
    table = "pruning"
    fixture = "prune_case"
    empty = "no pruning cases: matrix.prune has no ratio > 0"

    def cases(self, bench: Bench) -> list[PruneCase]:
        """One case per model and pruning configuration in the matrix."""
        return cases(bench)

    def measure(self, bench: Bench, case: PruneCase) -> PruneRow:
        """Prune, fine-tune and measure the case (:func:`measure_case`)."""
        return measure_case(bench, case)

    def rows(self, bench: Bench, row: PruneRow) -> list[dict[str, object]]:
        """The case's row of ``studies.pruning``."""
        return [row.to_dict(bench.config.pruning)]

    def bars(self, bench: Bench, case: PruneCase, row: PruneRow) -> list[Bar]:
        """cost, physical, speedup, finetune and tuned (see ``suites/test_pruning.py``)."""
        fails = bench.config.verdicts.inconclusive_fails
        return [_cost_bar(bench, case, row), _physical_bar(case, row), _speedup_bar(case, row, fails),
                _finetune_bar(case, row, fails), _tuned_bar(bench, case, row, fails)]  # fmt: skip

    def summary(self, case: PruneCase, row: PruneRow) -> str:
        """Parameters, speedups and mAP of the case on one line."""
        speed = ", ".join(f"{b} {s:.2f}x" for b in row.latency_ms if (s := row.speedup(b)) is not None)
        params = f"params -{row.params_reduction:.0%}" if row.params_reduction is not None else "params -"
        maps = " -> ".join(
            "-" if m is None else f"{m:.4f}" for m in (row.map_reference, row.map_pruned, row.map_finetuned)
        )
        what = f"{params}, speedup {speed or '-'}, mAP50-95 {maps}"
        return f"harness: pruning {case.slug}: {what} (reference -> pruned -> fine-tuned)"


def _cost_bar(bench: Bench, case: PruneCase, row: PruneRow) -> Bar:
    """Graph + pruning seconds and the pruning process's peak memory within their limits."""
    limits = bench.config.pruning
    checks = [check_bound("prune_seconds", case.slug, "graph + pruning seconds", row.seconds,
                          limits.max_seconds, at_most=True, required=True, digits=1)]  # fmt: skip
    if row.peak_memory_mib is None:
        return Bar("cost", tuple(checks), f"{case.slug}: peak memory not measurable here (no /proc)")
    checks.append(check_bound("prune_peak_memory_mib", case.slug, "pruning process peak memory MiB",
                              row.peak_memory_mib, limits.max_memory_mib, at_most=True, digits=0))  # fmt: skip
    return Bar("cost", tuple(checks))


def _physical_bar(case: PruneCase, row: PruneRow) -> Bar:
    """Structured: fewer parameters (at least the bar's reduction). Unstructured: zeros, same count."""
    before, after = row.sizes.get("params_before"), row.sizes.get("params_after")
    context = f"parameters {_count(before)} -> {_count(after)}"
    if case.spec.method == "unstructured":
        return Bar("physical", (
            check_bound("sparsity", case.slug, "conv weight sparsity", row.sparsity, case.spec.ratio - 0.01,
                        at_most=False, required=True),
            check_bound("params_changed", case.slug, "parameters changed by unstructured pruning",
                        None if before is None or after is None else abs(after - before), 0.0,
                        at_most=True, context=context, required=True, digits=0),
        ))  # fmt: skip
    removed = None if before is None or after is None else before - after
    checks = [check_bound("params_removed", case.slug, "parameters removed", removed, 1.0, at_most=False,
                          context=context, required=True, digits=0)]  # fmt: skip
    wanted = row.bar.min_params_reduction if row.bar else None
    if wanted is not None:
        checks.append(check_bound("params_reduction", case.slug, "parameter reduction", row.params_reduction,
                                  wanted, at_most=False, context=context, required=True))  # fmt: skip
    return Bar("physical", tuple(checks))


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _speedup_bar(case: PruneCase, row: PruneRow, inconclusive_fails: bool) -> Bar:
    """Pruned vs unpruned FP32 latency, interleaved in this run, at least the bar's min_speedup."""
    measured = {b: s for b in row.latency_ms if (s := row.speedup(b)) is not None}
    if not measured:
        reason = "; ".join(row.notes) or "pruned variants run on neither torch nor onnxruntime in this matrix"
        return Bar.skipped("speedup", f"{case.slug}: latency not measured: {reason}")
    lines = "; ".join(
        f"{b} FP32 {row.latency_ms[b][0]:.2f} ms -> {row.latency_ms[b][1]:.2f} ms = {s:.2f}x"
        for b, s in measured.items()
    )
    if case.spec.method == "unstructured":
        return Bar.skipped(
            "speedup", f"{case.slug}: {lines} (recorded); no bar: dense kernels do not skip zeros"
        )
    wanted = row.bar.min_speedup if row.bar else None
    if wanted is None:
        return Bar.skipped("speedup", f"{case.slug}: {lines} (recorded); no bar at ratio {case.spec.ratio}")
    return Bar("speedup", tuple(row.speedup_checks(wanted, inconclusive_fails)))


def _finetune_bar(case: PruneCase, row: PruneRow, inconclusive_fails: bool) -> Bar:
    """Fine-tuning does not lose mAP50-95 against the pruned model before fine-tuning."""
    if case.spec.finetune_epochs == 0:
        return Bar.skipped(
            "finetune", f"{case.slug}: no fine-tuning configured (pruning.finetune_epochs = 0)"
        )
    pruned, tuned, gain = row.map_pruned, row.map_finetuned, row.finetune_gain_ci
    seeds = f"mean over {gain.n} training seeds; " if gain is not None and gain.unit == SEED_UNIT else ""
    context = (
        f"{seeds}mAP50-95 {_map(pruned)} after pruning, {_map(tuned)} after fine-tuning at the run's seed"
    )
    return Bar("finetune", (check_interval_bound("finetune_gain", case.slug, "mAP50-95 gain of fine-tuning",
                                                 gain, 0.0, at_most=False, context=context,
                                                 inconclusive_fails=inconclusive_fails),))  # fmt: skip


def _tuned_bar(bench: Bench, case: PruneCase, row: PruneRow, inconclusive_fails: bool) -> Bar:
    """The fine-tuned model loses at most its ``max_map_drop`` against the reference fine-tuned as
    long with the same arguments, judged over training seeds and val images."""
    skip = tuned_skip(case.slug, bench.config, row.tuned_drop_ci, row.tuned_limit, "max_map_drop budget")
    if skip is not None:
        return Bar.skipped("tuned", skip)
    assert row.tuned_drop_ci is not None and row.tuned_limit is not None  # tuned_skip said so
    context = (
        f"reference fine-tuned as long {_map(row.map_tuned_reference)}, "
        f"pruned and fine-tuned {_map(row.map_finetuned)}"
    )
    check = check_interval_bound(
        "tuned_drop", case.slug, "mAP50-95 drop against the reference fine-tuned as long",
        row.tuned_drop_ci, row.tuned_limit, at_most=True, context=context,
        inconclusive_fails=inconclusive_fails,
    )  # fmt: skip
    return Bar("tuned", (check,))


def _map(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
