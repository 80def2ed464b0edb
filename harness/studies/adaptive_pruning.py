"""Gradual pruning with a schedule adapted on validation, against one-shot pruning to the same ratio.

Per model, from its reference, the study prunes in steps (each a cached :class:`PruneRecipe` whose
source is the last kept checkpoint, fine-tuned ``finetune_epochs`` after pruning) and scores each
step on held-out calib images (never the val split that judges, never calibration images):

- a step whose mAP50-95 stays within ``max_drop`` of the reference fine-tuned as many times at the
  same seed (so that the fine-tunes' own effect is not charged to pruning: on the embedded default a
  2-epoch fine-tune alone moved the held-out mAP50-95 by 0.04) is kept, and the next step is
  ``grow`` times larger;
- a step that loses more is rejected, and the next try from the last kept checkpoint is ``shrink``
  times smaller; below ``min_step``, or after ``max_steps`` trained tries, or at ``target``, it stops.

Steps are rounding-aware (channels rounded to ``round_to`` make many step sizes give one network):
a try is pruned first without fine-tuning, and one that gives an already rejected network is not
trained again, while one that removes nothing ends the schedule.

Every try is recorded (the path). The schedule runs again at every training seed (its steps
fine-tune at that seed, so the path may differ). Its control, at each seed, is one-shot pruning of
the reference to the ratio the schedule reached, fine-tuned as many epochs as the kept steps were
in all. The result: the final model's mAP50-95 minus the control's on the val split, over training
seeds and val images; when every seed kept a single step, the final model is that control (one
recipe), so no difference is computed and the verdict says so. Ratios are shares of the original
channels; rounding to ``round_to`` channels makes the realized parameter counts differ a little, so
both are recorded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from harness.bench import Bench
from harness.builders import build, materialize
from harness.builders.quantize.calibration import held_out_samples
from harness.config.adaptive_pruning import AdaptiveSpec
from harness.datasets.yolo import Sample
from harness.matrix import data_recipe, prune_recipe, prune_specs
from harness.measure.accuracy import evaluate
from harness.measure.seeds import interval_fields, replicate_difference
from harness.measure.stats import Interval
from harness.recipes import (
    PruneRecipe,
    PruneSpec,
    QuantSpec,
    SourceRecipe,
    TrainRecipe,
    Variant,
    WeightsRecipe,
)
from harness.results import ADAPTIVE_PRUNING, StudyColumn, StudyLayout
from harness.studies.base import Bar, Study
from harness.studies.pruning import decided
from harness.tuned import Stage, replay

__all__ = [
    "ONE_SHOT_BY_CONSTRUCTION",
    "AdaptiveCase",
    "AdaptivePruningStudy",
    "AdaptiveResult",
    "adaptive_spec",
    "cases",
    "measure_case",
]

ONE_SHOT_BY_CONSTRUCTION = "final = one-shot (one kept step at every seed): no comparison"


@dataclass(frozen=True)
class AdaptiveCase:
    """One model's reference and the pruning the steps use (criterion, strategy, rounding)."""

    reference: Variant
    base: PruneSpec

    @property
    def slug(self) -> str:
        """Test id, e.g. ``yolo11n-adaptive-l1``."""
        return f"{self.reference.model}-adaptive-{self.base.criterion}"


@dataclass
class AdaptiveResult:
    """The path of every seed, the final and control variants, and their difference."""

    case: AdaptiveCase
    paths: list[list[dict[str, object]]] = field(default_factory=list)
    finals: list[Variant | None] = field(default_factory=list)
    controls: list[Variant | None] = field(default_factory=list)
    difference: Interval | None = None
    summary: dict[str, object] = field(default_factory=dict)

    @property
    def one_shot_by_construction(self) -> bool:
        """True when at every seed that kept a step the final model *is* the one-shot control (one
        kept step: one recipe, one cache entry), so their difference is zero by construction and
        says nothing about adapting the schedule."""
        kept = [(f, c) for f, c in zip(self.finals, self.controls, strict=True) if f is not None]
        return bool(kept) and all(final == control for final, control in kept)

    @property
    def verdict(self) -> str | None:
        """The result column's verdict: which way the difference is decided, or why there is none."""
        if self.one_shot_by_construction:
            return ONE_SHOT_BY_CONSTRUCTION
        return decided(self.difference)


def adaptive_spec(bench: Bench) -> AdaptiveSpec | None:
    """The run's ``[studies.adaptive_pruning]`` settings, or None when the config has no such table."""
    return bench.config.studies.read(ADAPTIVE_PRUNING, AdaptiveSpec.from_table)


def cases(bench: Bench) -> list[AdaptiveCase]:
    """One case per chosen model, pruned like the matrix's first structured configuration."""
    spec = adaptive_spec(bench)
    if spec is None:
        return []
    structured = [
        s for s in prune_specs(bench.config.matrix, bench.config.pruning) if s.method == "structured"
    ]
    base = structured[0] if structured else PruneSpec(spec.first_step)
    if spec.round_to is not None:
        base = dataclasses.replace(base, round_to=spec.round_to)
    chosen = bench.models if spec.models is None else [m for m in bench.models if m in spec.models]
    return [AdaptiveCase(bench.reference(m), base) for m in chosen]


def _step_recipe(
    bench: Bench, case: AdaptiveCase, source: SourceRecipe, ratio: float, epochs: int, offset: int
) -> PruneRecipe:
    """Prune ``source`` by ``ratio`` of its channels and fine-tune ``epochs``, at seed + ``offset``."""
    config, reference = bench.config, case.reference.source
    model = config.model(case.reference.model)
    spec = dataclasses.replace(case.base, ratio=round(ratio, 4), steps=1, finetune_epochs=epochs)
    template = prune_recipe(reference, spec, data_recipe(config), model, config)
    return dataclasses.replace(template, source=source, seed=template.seed + offset)  # type: ignore[arg-type]


def _held_out_map(bench: Bench, case: AdaptiveCase, recipe: SourceRecipe, samples: list[Sample]) -> float:
    """mAP50-95 of ``recipe``'s checkpoint on the held-out ``samples``, on PyTorch."""
    artifact = build(recipe, bench.ctx) if isinstance(recipe, PruneRecipe) else None
    path = artifact.path if artifact else materialize(recipe, bench.ctx)
    runner = bench.runner_at(case.reference, path, artifact.sha256 if artifact else "reference")
    return evaluate(runner, samples, bench.data.names, case.reference.imgsz).map50_95


def _tuned_reference(bench: Bench, case: AdaptiveCase, epochs: int, offset: int, times: int) -> SourceRecipe:
    """The reference fine-tuned ``times`` times ``epochs`` at seed + ``offset`` with the pruning
    fine-tune's arguments, each fine-tune starting from the last: what a step that has been
    fine-tuned as often is measured against, so that the fine-tunes' own effect is not charged to
    pruning (:mod:`harness.tuned`; a reference that is not a training run or a weights file is used
    as it is)."""
    reference = case.reference.source
    if not isinstance(reference, TrainRecipe | WeightsRecipe):
        return reference
    step = _step_recipe(bench, case, reference, 0.5, epochs, offset)  # for its data, hyp, seed
    stage = Stage(epochs, step.hyp, step.data, step.batch, step.imgsz, step.seed)
    return replay(reference, [stage] * times, case.reference.model, bench.config)


def _params(bench: Bench, case: AdaptiveCase, recipe: SourceRecipe) -> float | None:
    """Parameters of ``recipe``'s network."""
    spec = recipe.spec if isinstance(recipe, PruneRecipe) else None
    return bench.network_size(dataclasses.replace(case.reference, source=recipe, prune=spec)).get("params")


@dataclass
class _Schedule:
    """Where a schedule stands: the last kept checkpoint, the ratio removed, the tries so far."""

    current: SourceRecipe
    params: float | None
    kept: PruneRecipe | None = None
    removed: float = 0.0
    accepted: int = 0
    trained: int = 0
    rejected: set[float] = field(default_factory=set)  # parameter counts rejected from ``current``
    baselines: dict[int, float] = field(default_factory=dict)  # kept steps -> tuned reference's score


def run_schedule(
    bench: Bench, case: AdaptiveCase, spec: AdaptiveSpec, offset: int
) -> tuple[list[dict[str, object]], PruneRecipe | None, float, int]:
    """The adapted schedule at seed + ``offset``: every try, the last kept checkpoint, the ratio
    reached (share of the original channels) and the number of kept steps.

    Steps are rounding-aware: each try is first pruned without fine-tuning to see the network it
    gives. A try that removes nothing (rounding kept every layer) ends the schedule, as no smaller
    step can remove more; a try that gives the network of a try already rejected from the same
    checkpoint is recorded, not trained again, and the step shrinks."""
    samples = held_out_samples(bench.data.yaml_path, QuantSpec().calib_size, spec.eval_images)
    state = _Schedule(case.reference.source, _params(bench, case, case.reference.source))
    step, path = spec.first_step, list[dict[str, object]]()
    while (
        state.removed < spec.target - 1e-9
        and state.trained < spec.max_steps
        and step >= spec.min_step - 1e-12
    ):
        total = min(state.removed + step, spec.target)
        ratio = 1.0 - (1.0 - total) / (1.0 - state.removed)
        params = _params(bench, case, _step_recipe(bench, case, state.current, ratio, 0, offset))
        entry: dict[str, object] = {"seed_offset": offset, "try": len(path) + 1, "ratio_from": state.removed,
                                    "ratio_to": total, "step": total - state.removed, "params": params}  # fmt: skip
        path.append(entry)
        if params is not None and state.params is not None and params >= state.params:
            entry |= {"kept": False, "note": "rounding removes nothing: stop"}
            break
        if params in state.rejected:
            entry |= {"kept": False, "note": "same network as a rejected try"}
            step *= spec.shrink
            continue
        if _try(bench, case, spec, offset, samples, state, ratio, entry):
            state.removed, state.params = total, params
            step *= spec.grow
        else:
            state.rejected.add(params)  # type: ignore[arg-type]
            step *= spec.shrink
    return path, state.kept, state.removed, state.accepted


def _try(
    bench: Bench,
    case: AdaptiveCase,
    spec: AdaptiveSpec,
    offset: int,
    samples: list[Sample],
    state: _Schedule,
    ratio: float,
    entry: dict[str, object],
) -> bool:
    """Prune ``state.current`` by ``ratio``, fine-tune, score against the reference fine-tuned as
    often; record it in ``entry`` and, when kept, move ``state`` on to it."""
    state.trained += 1
    if state.accepted not in state.baselines:
        tuned = _tuned_reference(bench, case, spec.finetune_epochs, offset, state.accepted + 1)
        state.baselines[state.accepted] = _held_out_map(bench, case, tuned, samples)
    base = state.baselines[state.accepted]
    recipe = _step_recipe(bench, case, state.current, ratio, spec.finetune_epochs, offset)
    score = _held_out_map(bench, case, recipe, samples)
    ok = base - score <= spec.max_drop
    entry |= {"held_out_map": score, "held_out_base": base, "held_out_drop": base - score, "kept": ok}
    if ok:
        state.current, state.kept, state.accepted = recipe, recipe, state.accepted + 1
        state.rejected = set()
    return ok


def measure_case(bench: Bench, case: AdaptiveCase) -> AdaptiveResult:
    """The schedule and its one-shot control at every training seed, then their difference on val."""
    spec = adaptive_spec(bench) or AdaptiveSpec()
    result = AdaptiveResult(case)
    config, pairs = bench.config, []
    for offset in range(config.verdicts.training_seeds):
        path, kept, removed, accepted = run_schedule(bench, case, spec, offset)
        result.paths.append(path)
        if kept is None:
            result.finals.append(None)
            result.controls.append(None)
            continue
        final = dataclasses.replace(case.reference, source=kept, prune=kept.spec)
        one_shot = _step_recipe(
            bench, case, case.reference.source, removed, spec.finetune_epochs * accepted, offset
        )
        control = dataclasses.replace(case.reference, source=one_shot, prune=one_shot.spec)
        result.finals.append(final)
        result.controls.append(control)
        pairs.append((bench.matches(final), bench.matches(control)))
        if offset == 0:
            result.summary = _summary(bench, case, final, control, removed, accepted)
    if pairs and not result.one_shot_by_construction:
        verdicts = config.verdicts
        result.difference = replicate_difference(
            pairs, verdicts.accuracy_confidence, verdicts.accuracy_resamples
        )
    return result


def _summary(
    bench: Bench, case: AdaptiveCase, final: Variant, control: Variant, removed: float, accepted: int
) -> dict[str, object]:
    return {
        "ratio_reached": removed, "kept_steps": accepted,
        "params_final": bench.network_size(final).get("params"), "params_control": bench.network_size(control).get("params"),
        "map50_95_reference": bench.accuracy(case.reference).map50_95,
        "map50_95_final": bench.accuracy(final).map50_95, "map50_95_control": bench.accuracy(control).map50_95,
    }  # fmt: skip


LAYOUT = StudyLayout(
    "Gradual pruning adapted on validation, against one-shot pruning to the same ratio",
    (
        StudyColumn("model", "model"), StudyColumn("row", "row"), StudyColumn("seed_offset", "seed +", 0),
        StudyColumn("try", "try", 0), StudyColumn("ratio_from", "from", 3), StudyColumn("ratio_to", "to", 3),
        StudyColumn("params", "params", 0), StudyColumn("held_out_map", "held-out mAP50-95", 4),
        StudyColumn("held_out_base", "tuned reference", 4), StudyColumn("held_out_drop", "held-out drop", 4),
        StudyColumn("kept", "kept"), StudyColumn("note", "note"), StudyColumn("ratio_reached", "ratio reached", 3),
        StudyColumn("params_final", "params final", 0), StudyColumn("params_control", "params one-shot", 0),
        StudyColumn("map50_95_final", "val mAP50-95 final", 4), StudyColumn("map50_95_control", "one-shot", 4),
        StudyColumn("vs_one_shot_seed_mean", "final - one-shot", 4), StudyColumn("vs_one_shot_ci_low", "CI low", 4),
        StudyColumn("vs_one_shot_ci_high", "CI high", 4), StudyColumn("verdict", "verdict"),
    ),
)  # fmt: skip


class AdaptivePruningStudy(Study[AdaptiveCase, AdaptiveResult]):
    """Adaptive gradual pruning: the path it took and the result against one-shot pruning."""

    name = ADAPTIVE_PRUNING
    empty = "no [studies.adaptive_pruning] table in the config"
    layout = LAYOUT

    def cases(self, bench: Bench) -> list[AdaptiveCase]:
        """One case per chosen model (:func:`cases`)."""
        return cases(bench)

    def measure(self, bench: Bench, case: AdaptiveCase) -> AdaptiveResult:
        """Run the schedule and its control at every seed (:func:`measure_case`)."""
        return measure_case(bench, case)

    def rows(self, bench: Bench, row: AdaptiveResult) -> list[dict[str, object]]:
        """Every try of every seed, then the summary row."""
        model = row.case.reference.model
        tries = [{"model": model, "row": "try", **step} for path in row.paths for step in path]
        summary = {"model": model, "row": "result", **row.summary, **interval_fields("vs_one_shot", row.difference),
                   "verdict": row.verdict}  # fmt: skip
        return [*tries, summary]

    def bars(self, bench: Bench, case: AdaptiveCase, row: AdaptiveResult) -> list[Bar]:
        """None judged: the path and the comparison are recorded (the verdict column says which way)."""
        if row.one_shot_by_construction:
            return [Bar.skipped("vs_one_shot", f"{case.slug}: {ONE_SHOT_BY_CONSTRUCTION}")]
        if row.difference is None:
            return [
                Bar.skipped("vs_one_shot", f"{case.slug}: no step was kept at some seed; nothing to compare")
            ]
        return [
            Bar.skipped(
                "vs_one_shot", f"{case.slug}: final - one-shot {row.difference.describe(4)}: recorded, no bar"
            )
        ]
