"""Layer pruning: remove the residual blocks that matter least, fine-tune, and measure what it bought.

Per model, each residual block of the reference (:func:`harness.prune.layers.residual_blocks`) is
removed alone and the network scored on held-out calib images (never val, never calibration): its
importance is the mAP50-95 lost. Each removal is also timed on PyTorch FP32 in one round-robin with
the unpruned network: the ms it saves. ``rank = "latency"`` (the default) removes the ``blocks``
blocks that save the most ms together while their losses alone add up to at most ``max_loss`` (the
least important blocks of the embedded yolo11n sit at 10x10 and 20x20 and save no measurable time),
``rank = "accuracy"`` the ``blocks`` least important ones. They are removed together and the network
fine-tuned ``finetune_epochs`` (:class:`~harness.recipes.LayerPruneRecipe`), at every training seed. The fair control is the unpruned reference fine-tuned as many epochs at the same
seed, so that the extra epochs are not credited either way. Recorded: every block's importance,
parameters before and after, the val mAP50-95 of both, their difference over seeds and val images,
and the speedup against the unpruned reference on each FP32 backend, timed interleaved.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import partial
from itertools import combinations

import harness.builders.layers  # noqa: F401  (registers the LayerPruneRecipe builder)
from harness.backends.base import LoadRequest
from harness.backends.torch_backend import TorchRunner
from harness.bench import Bench
from harness.builders import materialize
from harness.builders.quantize.calibration import held_out_samples
from harness.builders.weights import load_net
from harness.config.layer_pruning import LayerSpec
from harness.errors import BackendUnavailable
from harness.matrix import data_recipe, finetune_recipe
from harness.measure.accuracy import evaluate
from harness.measure.latency import interleave, screen_ms
from harness.measure.seeds import interval_fields, replicate_difference, span_fields
from harness.measure.stats import Interval
from harness.recipes import LayerPruneRecipe, QuantSpec, TrainRecipe, Variant, WeightsRecipe
from harness.results import LAYER_PRUNING, StudyColumn, StudyLayout
from harness.studies.base import Bar, NotMeasurable, Study
from harness.studies.pruning import decided
from harness.versions import versions

__all__ = [
    "LayerCase",
    "LayerPruningStudy",
    "LayerResult",
    "block_importance",
    "block_savings",
    "cases",
    "choose_blocks",
    "layer_spec",
    "measure_case",
    "single_removals",
]


@dataclass(frozen=True)
class LayerCase:
    """One model's FP32 PyTorch reference."""

    reference: Variant

    @property
    def slug(self) -> str:
        """Test id, e.g. ``yolo11n-layers``."""
        return f"{self.reference.model}-layers"


@dataclass
class LayerResult:
    """Block importances, the chosen blocks, the pruned and control models and what they measured."""

    case: LayerCase
    importance: dict[str, float] = field(default_factory=dict)  # block -> held-out mAP lost alone
    block_params: dict[str, int] = field(default_factory=dict)
    saved_ms: dict[str, float] = field(default_factory=dict)  # block -> PyTorch ms saved removed alone
    chosen: tuple[str, ...] = ()
    pruned: Variant | None = None
    control: Variant | None = None
    difference: Interval | None = None
    speedups: dict[str, Interval | None] = field(default_factory=dict)
    latency_ms: dict[str, tuple[float, float]] = field(default_factory=dict)  # backend -> (unpruned, pruned)
    notes: list[str] = field(default_factory=list)


def layer_spec(bench: Bench) -> LayerSpec | None:
    """The run's ``[studies.layer_pruning]`` settings, or None when the config has no such table."""
    return bench.config.studies.read(LAYER_PRUNING, LayerSpec.from_table)


def cases(bench: Bench) -> list[LayerCase]:
    """One case per chosen model whose reference is a trained or given checkpoint."""
    spec = layer_spec(bench)
    if spec is None:
        return []
    chosen = bench.models if spec.models is None else [m for m in bench.models if m in spec.models]
    return [LayerCase(bench.reference(m)) for m in chosen]


def _runner(bench: Bench, case: LayerCase, drop: tuple[str, ...]) -> TorchRunner:
    """The reference on PyTorch with ``drop`` removed (no fine-tuning), as the PyTorch backend runs it."""
    from harness.backends.torch_backend import TorchBackend
    from harness.prune.layers import drop_blocks

    path = materialize(case.reference.source, bench.ctx)
    request = LoadRequest(case.reference, 1, bench.ctx)
    return TorchBackend().open(path, "", request, prepare=partial(drop_blocks, names=drop))


def single_removals(bench: Bench, case: LayerCase) -> tuple[dict[str, TorchRunner], dict[str, int]]:
    """The unpruned reference (key ``""``) and, per residual block, the reference without it alone,
    each loaded once for both scoring and timing; and every block's parameters."""
    from harness.prune.layers import residual_blocks

    net = load_net(materialize(case.reference.source, bench.ctx))
    names = residual_blocks(net)
    params = {n: sum(p.numel() for p in net.get_submodule(n).parameters()) for n in names}
    return {name: _runner(bench, case, (name,) if name else ()) for name in ["", *names]}, params


def block_importance(
    bench: Bench, case: LayerCase, runners: dict[str, TorchRunner], images: int
) -> dict[str, float]:
    """Per residual block (the non-empty keys of :func:`single_removals`' runners): held-out mAP50-95
    lost when it alone is removed."""
    samples = held_out_samples(bench.data.yaml_path, QuantSpec().calib_size, images)
    scores = {
        name: evaluate(runner, samples, bench.data.names, case.reference.imgsz).map50_95
        for name, runner in runners.items()
    }
    return {name: scores[""] - score for name, score in scores.items() if name}


def block_savings(bench: Bench, case: LayerCase, runners: dict[str, TorchRunner]) -> dict[str, float]:
    """Per residual block: PyTorch FP32 batch-1 ms saved when it alone is removed (median of a
    round-robin of the unpruned network and every single removal, so that all are timed side by side)."""
    lat = bench.config.latency
    x = bench.input_batch(case.reference, 1)
    medians = screen_ms(
        {name: partial(runner, x) for name, runner in runners.items()}, lat.interleaved_rounds, lat.warmup
    )
    return {name: medians[""] - ms for name, ms in medians.items() if name}


def choose_blocks(
    importance: dict[str, float], saved_ms: dict[str, float], blocks: int, rank: str, max_loss: float
) -> tuple[str, ...]:
    """The ``blocks`` blocks to remove. ``rank = "accuracy"``: the least mAP lost alone.
    ``"latency"``: of every set of ``blocks`` blocks whose losses alone (those at or below zero count
    as zero) add up to at most ``max_loss``, the one whose single-removal savings add up to the most
    ms (ties: the smaller loss); when no set fits, the accuracy choice."""
    ranked = tuple(sorted(importance, key=lambda n: importance[n])[:blocks])
    if rank == "accuracy":
        return ranked
    lost = {n: max(v, 0.0) for n, v in importance.items()}
    fits = [
        c for c in combinations(sorted(importance), blocks) if sum(lost[n] for n in c) <= max_loss + 1e-12
    ]
    if not fits:
        return ranked
    best = max(fits, key=lambda c: (sum(saved_ms.get(n, 0.0) for n in c), -sum(lost[n] for n in c)))
    return tuple(sorted(best, key=lambda n: importance[n]))


def measure_case(bench: Bench, case: LayerCase) -> LayerResult:
    """Rank, remove, fine-tune at every seed against the fine-tuned reference, and time."""
    spec = layer_spec(bench) or LayerSpec()
    source = case.reference.source
    if not isinstance(source, TrainRecipe | WeightsRecipe):
        raise NotMeasurable(f"{case.slug}: the reference is not a checkpoint ({source.describe()})")
    result = LayerResult(case)
    runners, result.block_params = single_removals(bench, case)
    result.importance = block_importance(bench, case, runners, spec.eval_images)
    if len(result.importance) < spec.blocks:
        raise NotMeasurable(f"{case.slug}: {len(result.importance)} residual blocks, {spec.blocks} to remove")
    result.saved_ms = block_savings(bench, case, runners)
    del runners  # one network per block: not kept through the fine-tunes
    result.chosen = choose_blocks(result.importance, result.saved_ms, spec.blocks, spec.rank, spec.max_loss)
    pairs = []
    for offset in range(bench.config.verdicts.training_seeds):
        pruned, control = _pair(bench, case, source, result.chosen, spec.finetune_epochs, offset)
        pairs.append((bench.matches(pruned), bench.matches(control)))
        if offset == 0:
            result.pruned, result.control = pruned, control
    verdicts = bench.config.verdicts
    result.difference = replicate_difference(pairs, verdicts.accuracy_confidence, verdicts.accuracy_resamples)
    _speed(bench, case, result, spec)
    return result


def _pair(
    bench: Bench,
    case: LayerCase,
    source: TrainRecipe | WeightsRecipe,
    blocks: tuple[str, ...],
    epochs: int,
    offset: int,
) -> tuple[Variant, Variant]:
    """The layer-pruned variant and its control (the reference fine-tuned as long) at seed + ``offset``."""
    config = bench.config
    model, data = config.model(case.reference.model), data_recipe(config)
    control_recipe = finetune_recipe(source, epochs, data, model, config)
    control_recipe = dataclasses.replace(control_recipe, seed=control_recipe.seed + offset)
    recipe = LayerPruneRecipe(
        source=source, data=data, blocks=blocks, finetune_epochs=epochs, imgsz=model.train_imgsz,
        batch=model.batch, seed=control_recipe.seed, versions=versions("torch", "ultralytics"),
        hyp=control_recipe.hyp,
    )  # fmt: skip
    return (
        dataclasses.replace(case.reference, source=recipe),  # type: ignore[arg-type]  # a checkpoint like any other
        dataclasses.replace(case.reference, source=control_recipe),
    )


def _speed(bench: Bench, case: LayerCase, result: LayerResult, spec: LayerSpec) -> None:
    """Pruned vs unpruned FP32 on each backend, interleaved."""
    assert result.pruned is not None
    lat, level = bench.config.latency, bench.config.verdicts.latency_confidence
    x = bench.input_batch(case.reference, 1)
    for backend in spec.backends:
        try:
            after = bench.runner(dataclasses.replace(result.pruned, backend=backend))
            before = bench.runner(case.reference.unpruned(backend=backend))
        except BackendUnavailable as exc:
            result.notes.append(f"{backend}: {exc}")
            continue
        timed = interleave(partial(after, x), partial(before, x), lat.interleaved_rounds, lat.warmup)
        result.speedups[backend] = timed.interval(level)
        result.latency_ms[backend] = (timed.reference_median_s * 1e3, timed.candidate_median_s * 1e3)


def _rows(bench: Bench, result: LayerResult) -> list[dict[str, object]]:
    model = result.case.reference.model
    rows: list[dict[str, object]] = [
        {"model": model, "row": "block", "block": name, "params": result.block_params.get(name),
         "importance": drop, "saved_ms": result.saved_ms.get(name), "removed": name in result.chosen}
        for name, drop in sorted(result.importance.items(), key=lambda item: item[1])
    ]  # fmt: skip
    if result.pruned is None or result.control is None:
        return rows
    summary: dict[str, object] = {
        "model": model, "row": "result", "block": ", ".join(result.chosen),
        "params_before": bench.network_size(result.control).get("params"),
        "params_after": bench.network_size(result.pruned).get("params"),
        "map50_95_pruned": bench.accuracy(result.pruned).map50_95,
        "map50_95_control": bench.accuracy(result.control).map50_95,
        **interval_fields("vs_control", result.difference), "verdict": decided(result.difference),
    }  # fmt: skip
    for backend, interval in result.speedups.items():
        summary |= span_fields(f"{backend}_speedup", f"{backend}_speedup", interval)
        summary[f"{backend}_ms_before"], summary[f"{backend}_ms_after"] = result.latency_ms[backend]
    return [*rows, summary]


LAYOUT = StudyLayout(
    "Layer pruning: residual blocks removed, against the reference fine-tuned as long",
    (
        StudyColumn("model", "model"), StudyColumn("row", "row"), StudyColumn("block", "block(s)"),
        StudyColumn("params", "block params", 0), StudyColumn("importance", "held-out mAP lost alone", 4),
        StudyColumn("saved_ms", "PyTorch ms saved alone", 2), StudyColumn("removed", "removed"), StudyColumn("params_before", "params before", 0),
        StudyColumn("params_after", "params after", 0), StudyColumn("map50_95_pruned", "val mAP50-95 pruned", 4),
        StudyColumn("map50_95_control", "control", 4), StudyColumn("vs_control_seed_mean", "pruned - control", 4),
        StudyColumn("vs_control_ci_low", "CI low", 4), StudyColumn("vs_control_ci_high", "CI high", 4),
        StudyColumn("verdict", "verdict"), StudyColumn("torch_speedup", "PyTorch speedup", 2),
        StudyColumn("onnxruntime_speedup", "ORT speedup", 2),
    ),
)  # fmt: skip


class LayerPruningStudy(Study[LayerCase, LayerResult]):
    """Residual blocks ranked and removed; accuracy against a fair control, latency interleaved."""

    name = LAYER_PRUNING
    empty = "no [studies.layer_pruning] table in the config"
    layout = LAYOUT

    def cases(self, bench: Bench) -> list[LayerCase]:
        """One case per chosen model (:func:`cases`)."""
        return cases(bench)

    def measure(self, bench: Bench, case: LayerCase) -> LayerResult:
        """Rank, remove, fine-tune and time (:func:`measure_case`)."""
        return measure_case(bench, case)

    def rows(self, bench: Bench, row: LayerResult) -> list[dict[str, object]]:
        """One row per block (least important first), then the result row."""
        return _rows(bench, row)

    def bars(self, bench: Bench, case: LayerCase, row: LayerResult) -> list[Bar]:
        """None judged: importance, accuracy against the control and speedups are recorded."""
        what = row.difference.describe(4) if row.difference else "-"
        return [Bar.skipped("vs_control", f"{case.slug}: pruned - control {what}: recorded, no bar")]
