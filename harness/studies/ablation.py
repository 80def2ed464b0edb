"""The ablation study: what each technique buys one model, measured in one run.

Rows (:data:`ROWS`), each one change against Baseline (the model's FP32 reference), all on the
``[ablation]`` backend (ONNX Runtime by default) except +TTA:

- **+KD**: the model's unpruned distilled student from ``[distill]``;
- **+INT8**: the model's first INT8 configuration of the matrix on that backend;
- **+Multi-scale training**: the reference's last training stage repeated with Ultralytics'
  ``multi_scale`` (random image size per batch), same epochs, seed and data. For a user's
  ``.pt`` (nothing the harness trained to repeat) the ``.pt`` fine-tuned ``train.epochs`` epochs
  with its checkpoint's training arguments and ``multi_scale``, compared not with Baseline but
  with the same fine-tune without ``multi_scale`` (the row's own baseline), so that the row
  measures multi-scale training rather than the extra epochs;
- **+TTA**: the reference with Ultralytics' test-time augmentation (``augment=True``: three scales,
  one flipped), on PyTorch, because TTA is a PyTorch inference option;
- **+Pruning**: the model's first structured pruning configuration (fine-tuned per ``[pruning]``);
- **All combined**: the pruned KD student (else the pruned model) quantized with the INT8
  configuration of the fastest backend that holds the budget: the model's unpruned INT8
  configurations (one per backend in the matrix) are timed in a round-robin, and the student is
  quantized with the fastest first, then the next, until its drop does not fail its budget (none
  holds: the fastest is kept, and the note says so). Its latency baseline is the FP32 reference on
  that backend. Multi-scale training and TTA are not part of it (its reason says why).

Every row is measured, never derived: mAP50/mAP50-95 on the val split with a paired bootstrap
interval of its drop against Baseline (the row's own baseline where it has one: +TTA's is the
PyTorch reference, a user's ``.pt``'s +Multi-scale training's the plain fine-tune), parameters,
artifact size, and batch-1 latency timed interleaved against that baseline on the same runtime
(speedup with its interval). A row whose component is not in this run's config is kept with its
reason and no numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import cast

from harness.backends.base import Runner
from harness.backends.torch_backend import TorchRunner
from harness.bench import Bench
from harness.checks import check_map_drop
from harness.config.ablation import ROWS
from harness.config.budgets import Budget
from harness.config.trainargs import Hyp
from harness.errors import BackendUnavailable
from harness.matrix import data_recipe, finetune_recipe
from harness.measure.latency import interleave, screen_ms
from harness.measure.mapboot import paired_map_drop
from harness.measure.size import file_bytes
from harness.measure.stats import Interval
from harness.recipes import TrainRecipe, Variant, WeightsRecipe
from harness.replicates import training_difference
from harness.results import ABLATION
from harness.studies.base import Bar, Study

__all__ = [
    "ROWS", "AblationRow", "AblationStudy", "measure_row", "plan", "resolve_combined", "safe_measure",
    "tta_unsupported",
]  # fmt: skip

_OWN_BUDGET = ("+INT8", "+Pruning", "All combined")
"""Rows judged by their variant's own ``[budgets]``; the others by ``ablation.max_map_drop``."""

NOT_COMBINED = (
    "multi-scale training not combined (the KD student would have to be trained again with it); "
    "TTA not combined (a PyTorch inference option; the INT8 graph runs on {backend})"
)


@dataclass(frozen=True)
class AblationRow:
    """One planned row: the variant that realizes it (None: not available, see ``reason``)."""

    model: str
    name: str
    variant: Variant | None
    baseline: Variant
    components: str
    reason: str = ""
    tta: bool = False
    alternatives: tuple[Variant, ...] = ()  # All combined: the unpruned INT8 configurations to try

    @property
    def slug(self) -> str:
        """Pytest id, e.g. ``yolo11n-int8``."""
        return f"{self.model}-{self.name.strip('+').split()[0].lower().replace('-', '')}"


def _first(bench: Bench, keep: Callable[[Variant], bool]) -> Variant | None:
    return next((v for v in bench.variants if keep(v)), None)


def plan(bench: Bench, model: str) -> list[AblationRow]:
    """The seven rows of ``model``'s ablation table, each with its variant or its reason."""
    spec = bench.config.ablation
    reference = bench.reference(model)
    base = reference.unpruned(backend=spec.backend)
    int8 = _first(bench, lambda v: v.model == model and v.precision == "int8" and v.backend == spec.backend
                  and v.prune is None and v.distill is None)  # fmt: skip
    pruned = _first(bench, lambda v: v.model == model and v.prune is not None and v.distill is None
                    and v.prune.method == "structured")  # fmt: skip
    kd = _first(bench, lambda v: v.model == model and v.distill is not None and v.prune is None)
    kd_pruned = _first(bench, lambda v: v.model == model and v.distill is not None and v.prune is not None)
    row = _Rows(model, base, spec.backend)
    return [
        row.make("Baseline", base, "FP32 reference"),
        row.make(
            "+KD", _on(kd, spec.backend), (kd.distill or "") if kd else "", "" if kd else _why_kd(kd_pruned)
        ),
        row.make(
            "+INT8",
            int8,
            int8.quant.slug if int8 and int8.quant else "",
            _why(int8, "INT8 configuration on the ablation backend"),
        ),
        _multi_scale(row, reference, bench),
        row.make("+TTA", reference, "augment=True (scales 1, 0.83, 0.67; flip)", tta=True),
        row.make(
            "+Pruning",
            _on(pruned, spec.backend),
            pruned.prune.slug if pruned and pruned.prune else "",
            _why(pruned, "structured pruning ratio"),
        ),
        _combined(row, kd_pruned or pruned, int8, _int8_per_backend(bench, model)),
    ]


def _int8_per_backend(bench: Bench, model: str) -> tuple[Variant, ...]:
    """The model's first unpruned, undistilled INT8 variant on each backend, in matrix order."""
    found: dict[str, Variant] = {}
    for v in bench.variants:
        if v.model == model and v.precision == "int8" and v.prune is None and v.distill is None:
            found.setdefault(v.backend, v)
    return tuple(found.values())


@dataclass(frozen=True)
class _Rows:
    model: str
    baseline: Variant
    backend: str

    def make(
        self, name: str, variant: Variant | None, components: str, reason: str = "", tta: bool = False
    ) -> AblationRow:
        kept = variant if not reason else None
        base = self.baseline.reference() if tta else self.baseline
        return AblationRow(self.model, name, kept, base, components, reason, tta)


def _on(variant: Variant | None, backend: str) -> Variant | None:
    """``variant`` in FP32 on ``backend`` (any checkpoint exports to any backend)."""
    if variant is None:
        return None
    return dataclasses.replace(variant, backend=backend, precision="fp32", quant=None)


def _why(variant: Variant | None, what: str) -> str:
    return "" if variant is not None else f"no {what} for this model in the matrix"


def _why_kd(kd_pruned: Variant | None) -> str:
    """Reason for a missing +KD row."""
    hint = "; the pruned KD student is in All combined and the distillation table" if kd_pruned else ""
    return f"no unpruned student in [distill] for this model{hint}"


def tta_unsupported(net: object) -> str:
    """Why Ultralytics would fall back to plain inference for ``augment=True`` ("" if it would not):
    its own rule, an end-to-end head or a head other than ``Detect``."""
    from ultralytics.nn.modules import Detect

    head = getattr(net, "model", [None])[-1]
    if getattr(net, "end2end", False) or type(head) is not Detect:
        return f"Ultralytics does not support augment=True for this head ({type(head).__name__}, end-to-end)"
    return ""


def _multi_scale(row: _Rows, reference: Variant, bench: Bench) -> AblationRow:
    """The reference's last training stage again with ``multi_scale`` (same epochs, seed, data);
    for a user's ``.pt``, see :func:`_multi_scale_finetune`."""
    name = "+Multi-scale training"
    source, multi_scale = reference.source, bench.config.ablation.multi_scale
    if multi_scale <= 0:
        return row.make(name, None, "", "ablation.multi_scale is 0")
    if isinstance(source, WeightsRecipe):
        return _multi_scale_finetune(row, reference, source, bench)
    if not isinstance(source, TrainRecipe):
        return row.make(name, None, "", f"the reference is not a training run ({source.describe()})")
    variant = dataclasses.replace(
        reference,
        source=dataclasses.replace(source, hyp=_scaled(source.hyp, multi_scale)),
        backend=row.backend,
    )
    what = f"multi_scale={multi_scale} in the last {source.epochs} epochs at {source.imgsz} px"
    return row.make(name, variant, what)


def _multi_scale_finetune(
    row: _Rows, reference: Variant, weights: WeightsRecipe, bench: Bench
) -> AblationRow:
    """A user's ``.pt`` fine-tuned with ``multi_scale``, against the same fine-tune without it.

    Both train the model's ``train.epochs`` epochs from the ``.pt`` with its checkpoint's training
    arguments (and the config's over them), the same seed, batch and data; they differ only in
    ``multi_scale`` (0 in the row's baseline). Compared with the untrained ``.pt``, the row would
    credit multi-scale training with whatever the extra epochs (on this dataset, with these
    arguments) did.
    """
    config = bench.config
    model = config.model(reference.model)
    data = weights.data or data_recipe(config)  # the paired data.yaml, not hashed again
    plain = finetune_recipe(weights, model.epochs, data, model, config)
    if dict(plain.hyp).get("multi_scale"):  # the config's own train.multi_scale: the baseline goes without
        plain = dataclasses.replace(plain, hyp=_scaled(plain.hyp, 0.0))
    multi_scale = config.ablation.multi_scale
    scaled = dataclasses.replace(plain, hyp=_scaled(plain.hyp, multi_scale))
    variant = dataclasses.replace(reference, source=scaled, backend=row.backend)
    baseline = dataclasses.replace(reference, source=plain, backend=row.backend)
    what = (
        f"multi_scale={multi_scale} in a {plain.epochs}-epoch fine-tune of the .pt at {plain.imgsz} px, "
        "against the same fine-tune without it"
    )
    return AblationRow(row.model, "+Multi-scale training", variant, baseline, what)


def _scaled(hyp: Hyp, multi_scale: float) -> Hyp:
    """``hyp`` with Ultralytics' ``multi_scale`` set, sorted by name."""
    return tuple(sorted({**dict(hyp), "multi_scale": multi_scale}.items()))


def _combined(
    row: _Rows, student: Variant | None, int8: Variant | None, alternatives: tuple[Variant, ...]
) -> AblationRow:
    """The pruned (KD) student quantized like the fastest backend's INT8 that holds the budget
    (chosen when measured: :func:`resolve_combined`); planned on the +INT8 configuration."""
    name = "All combined"
    first = int8 or (alternatives[0] if alternatives else None)
    if student is None or first is None:
        return row.make(name, None, "", "needs a pruned model and an INT8 configuration in the matrix")
    variant = _quantized(student, first)
    parts = ["KD"] if student.distill else []
    parts += ["pruning", "INT8"]
    note = NOT_COMBINED.format(backend=first.backend)
    planned = row.make(name, variant, " + ".join(parts))
    return dataclasses.replace(planned, reason=note, alternatives=alternatives)


def _quantized(student: Variant, int8: Variant) -> Variant:
    """``student`` on ``int8``'s backend with its INT8 configuration."""
    return dataclasses.replace(student, backend=int8.backend, precision="int8", quant=int8.quant)


def resolve_combined(bench: Bench, row: AblationRow) -> AblationRow:
    """All combined on the fastest backend whose quantized student does not fail its budget.

    The unpruned INT8 alternatives are timed in a round-robin; the student is quantized for each,
    fastest first, until one's drop interval against the FP32 reference does not lie wholly above
    its ``max_map_drop``. The row's baseline becomes the FP32 reference on that backend."""
    if row.variant is None or len(row.alternatives) < 2:
        return row
    ordered, screen = _by_speed(bench, row.alternatives)
    student = dataclasses.replace(row.variant, backend="torch", precision="fp32", quant=None)
    tried: list[str] = []
    chosen = _quantized(student, ordered[0])
    for int8 in ordered:
        candidate = _quantized(student, int8)
        if _holds(bench, row, candidate):
            chosen = candidate
            break
        tried.append(int8.backend)
    held = chosen.backend not in tried
    timing = ", ".join(f"{v.backend} {ms:.2f} ms" for v, ms in screen)
    why = (
        f"backend {chosen.backend}: the fastest unpruned INT8 whose combined drop holds its budget"
        if held else f"backend {chosen.backend}: no backend's combined drop holds its budget; the fastest is shown"
    )  # fmt: skip
    skipped = f"; {', '.join(tried)} failed it first" if tried and held else ""
    note = f"{why}{skipped} (unpruned INT8 screen: {timing}); {NOT_COMBINED.format(backend=chosen.backend)}"
    baseline = dataclasses.replace(row.baseline, backend=chosen.backend)
    return dataclasses.replace(row, variant=chosen, baseline=baseline, reason=note)


def _by_speed(
    bench: Bench, variants: tuple[Variant, ...]
) -> tuple[list[Variant], list[tuple[Variant, float]]]:
    """``variants`` that run here, fastest first by a round-robin screen, with their medians in ms."""
    runnable = []
    for v in variants:
        try:
            runnable.append((v, bench.runner(v)))
        except BackendUnavailable:
            continue
    if not runnable:
        return list(variants), []
    x = bench.input_batch(runnable[0][0], 1)
    ms = screen_ms(
        {str(i): partial(r, x) for i, (_, r) in enumerate(runnable)}, 10, bench.config.latency.warmup
    )
    medians = [(v, ms[str(i)]) for i, (v, _) in enumerate(runnable)]
    medians.sort(key=lambda item: item[1])
    return [v for v, _ in medians], medians


def _holds(bench: Bench, row: AblationRow, variant: Variant) -> bool:
    """The variant runs here and its drop interval is not wholly above its budget."""
    try:
        bench.runner(variant)
    except BackendUnavailable:
        return False
    drop = training_difference(bench, row.baseline, variant)
    budget = bench.config.budgets.for_variant(variant.slug, variant.precision, variant.prune is not None)
    limit = budget.limit("max_map_drop", bench.accuracy(row.baseline).map50_95)
    return limit is None or drop.low <= limit


def _runner(bench: Bench, row: AblationRow) -> Runner:
    """The row's runner; TTA wraps the reference's PyTorch model with ``augment=True``."""
    if row.variant is None:
        raise ValueError(f"{row.name} has no variant: {row.reason}")
    runner = bench.runner(row.variant)
    if not row.tta:
        return runner
    if not isinstance(runner, TorchRunner):
        raise TypeError(f"+TTA needs the PyTorch runner, got {type(runner).__name__}")
    if why := tta_unsupported(runner.net):
        raise BackendUnavailable(why)
    return runner.augmented()


def measure_row(bench: Bench, row: AblationRow) -> dict[str, object]:
    """Measure one row (raises BackendUnavailable when its runtime is absent)."""
    if row.alternatives:
        row = resolve_combined(bench, row)
    out = _unmeasured(row, row.reason)
    if row.variant is None:
        return out
    runner, base = _runner(bench, row), bench.runner(row.baseline)
    if row.tta:
        result, matches = bench.score_runner(runner, row.variant, mode="tta")
    else:  # shared with test_accuracy when the variant is in the matrix
        result, matches = bench.accuracy(row.variant), bench.matches(row.variant)
    verdicts, lat = bench.config.verdicts, bench.config.latency
    if row.tta:  # its matches come from the augmented runner, not bench.matches; nothing trained
        drop = paired_map_drop(
            matches, bench.matches(row.baseline), verdicts.accuracy_confidence, verdicts.accuracy_resamples
        )
    else:  # over training seeds where the row trains something (KD, pruning, multi-scale)
        drop = training_difference(bench, row.baseline, row.variant)
    baseline = bench.accuracy(row.baseline)
    x = bench.input_batch(row.variant, 1)
    timed = interleave(lambda: runner(x), lambda: base(x), lat.interleaved_rounds, lat.warmup)
    speed = timed.interval(verdicts.latency_confidence)
    out |= {
        "variant": row.variant.slug,
        "runtime": f"{row.variant.backend} {row.variant.precision}" + (" TTA" if row.tta else ""),
        "map50": result.map50,
        "map50_95": result.map50_95,
        "map_drop": drop.estimate,
        "map_drop_ci": [drop.low, drop.high],
        "map_drop_n": drop.n,
        "map_drop_unit": drop.unit,
        "baseline_map50": baseline.map50,
        "baseline_map50_95": baseline.map50_95,
        "params": bench.network_size(row.variant)["params"],
        "file_bytes": float(file_bytes(runner.artifact)),
        "baseline_file_bytes": float(file_bytes(base.artifact)),
        "latency_ms": timed.candidate_median_s * 1e3,
        "baseline_latency_ms": timed.reference_median_s * 1e3,
        "speedup": timed.speedup,
        "speedup_ci": [speed.low, speed.high] if speed else None,
    }
    return out


def safe_measure(bench: Bench, row: AblationRow) -> dict[str, object]:
    """:func:`measure_row`, with an absent runtime recorded as the row's reason."""
    try:
        return measure_row(bench, row)
    except BackendUnavailable as exc:
        return _unmeasured(row, str(exc))


def _unmeasured(row: AblationRow, reason: str) -> dict[str, object]:
    """A row's identity and reason, with no figures."""
    return {"model": row.model, "row": row.name, "components": row.components, "reason": reason}


class AblationStudy(Study[AblationRow, dict[str, object]]):
    """The ablation table as a study: a case per model and row, one accuracy bar each.

    The bar: the row's mAP50-95 drop against Baseline, as a paired bootstrap interval over the val
    images, within the row's limit: the variant's own budget for +INT8, +Pruning and All combined
    (``[budgets]``), ``ablation.max_map_drop`` for the techniques meant to add accuracy (+KD,
    +Multi-scale training, +TTA). Baseline against itself is the accuracy verdict's A/A check.
    """

    name = ABLATION
    table = "ablation"
    fixture = "ablation_row"

    def cases(self, bench: Bench) -> list[AblationRow]:
        """Every model's planned rows."""
        return [row for model in bench.models for row in plan(bench, model)]

    def measure(self, bench: Bench, case: AblationRow) -> dict[str, object]:
        """The row's figures (a row that cannot be built keeps its reason: :func:`safe_measure`)."""
        return safe_measure(bench, case)

    def rows(self, bench: Bench, row: dict[str, object]) -> list[dict[str, object]]:
        """The row as measured (``studies.ablation``)."""
        return [row]

    def bars(self, bench: Bench, case: AblationRow, row: dict[str, object]) -> list[Bar]:
        """map_drop: the row's mAP50-95 drop against its baseline within the row's limit."""
        variant = case.variant
        if "map50_95" not in row or variant is None:
            return [Bar.skipped("map_drop", f"{case.model} {case.name}: {row['reason']}")]
        config = bench.config
        if case.name in _OWN_BUDGET:  # All combined: the backend it was measured on
            slug = str(row.get("variant", variant.slug))
            budget = config.budgets.for_variant(slug, variant.precision, variant.prune is not None)
        else:
            budget = Budget(max_map_drop=config.ablation.max_map_drop)
        low, high = cast(list[float], row["map_drop_ci"])
        reference, estimate = cast(float, row["baseline_map50_95"]), cast(float, row["map_drop"])
        value = reference - estimate  # the mean over training seeds where the row trains
        level, n = config.verdicts.accuracy_confidence, cast(int, row["map_drop_n"])
        drop = Interval(estimate, low, high, level, n, cast(str, row["map_drop_unit"]))
        check = check_map_drop(
            budget, f"{row.get('variant', variant.slug)} ({case.name})", value, reference, None, drop,
            config.verdicts.inconclusive_fails,
        )  # fmt: skip
        return [Bar("map_drop", (check,))]
