"""Expand a config into the variant matrix: models x prune x precision x backend, plus the
distilled students of ``[distill]`` (student x teacher x method, FP32 on its backends)."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from pathlib import Path

from harness.builders.data import synthetic_recipe, user_recipe
from harness.builders.distill import BUILDER_VERSION as DISTILL_BUILDER_VERSION
from harness.builders.prune import BUILDER_VERSION
from harness.builders.train import FINETUNE_HYP, REFERENCE_HYP, train_versions, weights_recipe
from harness.builders.weights import checkpoint_train_args
from harness.cache import file_sha256
from harness.config import HarnessConfig, MatrixSpec, ModelSpec
from harness.config.distillation import REFERENCE_TEACHER, StudentChoice
from harness.config.pruning import PruningSpec
from harness.config.trainargs import Hyp, checkpoint_hyp, with_overrides
from harness.errors import ConfigError, WeightsError
from harness.prune.criteria import needs_gradients
from harness.recipes import (
    BaseRecipe,
    DataRecipe,
    DistillRecipe,
    DistillSpec,
    PruneRecipe,
    PruneSpec,
    SourceRecipe,
    StudentRecipe,
    TrainRecipe,
    UserDataRecipe,
    Variant,
    WeightsRecipe,
    user_weights,
)
from harness.versions import versions


def data_recipe(config: HarnessConfig) -> DataRecipe:
    """The user's data.yaml when configured, else the built-in synthetic set."""
    if config.data is not None:
        return user_recipe(config.data)
    ds = config.dataset
    return synthetic_recipe(ds.seed, config.imgsz, ds.n_train, ds.n_val, ds.n_calib)


def source_recipe(model: ModelSpec, data: DataRecipe, config: HarnessConfig) -> BaseRecipe:
    """The checkpoint a model starts from: the user's weights, or a training run from a YAML."""
    if model.weights is not None:
        paired = data if isinstance(data, UserDataRecipe) else None  # the synthetic set pairs with no .pt
        return weights_recipe(model.weights, paired, model.weights_sha256)
    if model.cfg is None:
        raise ConfigError(f"model {model.name!r} needs either 'weights' or 'cfg'")
    stage = functools.partial(
        TrainRecipe,
        cfg=model.cfg,
        data=data,
        batch=model.batch,
        seed=config.seed,
        versions=train_versions(),
        hyp=with_overrides(REFERENCE_HYP, model.train_args),
    )
    first = None
    if model.pre_epochs > 0:  # a cheap low-resolution stage, then the main stage from its weights
        pre_imgsz = model.pre_imgsz or max(32, model.train_imgsz // 64 * 32)
        first = stage(epochs=model.pre_epochs, imgsz=pre_imgsz)
    if first is None:
        return stage(epochs=model.epochs, imgsz=model.train_imgsz)
    return stage(epochs=model.epochs, imgsz=model.train_imgsz, init=first, hyp=finetune_hyp(first, model))


@functools.cache
def checkpoint_args(path: str, sha256: str) -> Hyp:
    """The hyperparameters stored in the weights file at ``path`` (read once per file and content).

    The file is hashed again first: it was pinned (``weights_sha256``) or hashed into its recipe
    when the config was planned, and a file changed since is not unpickled.
    """
    if file_sha256(Path(path)) != sha256:
        raise WeightsError(f"weights file {path} changed while the run was planned; run again")
    return checkpoint_hyp(checkpoint_train_args(Path(path)))


def finetune_hyp(start: SourceRecipe, model: ModelSpec) -> Hyp:
    """The Ultralytics arguments of a training that continues from ``start``'s weights (a later
    reference stage, a pruning fine-tune, KD, its fair control, the multi-scale ablation row).

    From a user's weights file: the training arguments stored in that checkpoint; else the
    harness's ``REFERENCE_HYP + FINETUNE_HYP``. The model's ``train`` arguments go over either,
    key by key.
    """
    weights = user_weights(start)
    base = REFERENCE_HYP + FINETUNE_HYP if weights is None else checkpoint_args(weights.path, weights.sha256)
    return with_overrides(base, model.train_args)


def _rounding(pruning: PruningSpec, strategy: str) -> str:
    """``[pruning] rounding`` for the uniform strategy; global pruning has no per-group count to
    round to the nearest multiple, so its variants keep Torch-Pruning's rule ("down")."""
    return pruning.rounding if strategy == "uniform" else "down"


def prune_specs(matrix: MatrixSpec, pruning: PruningSpec) -> list[PruneSpec]:
    """Every pruning configuration of the matrix: ratio x criterion x strategy for structured
    pruning, ratio alone for unstructured (L1 per layer)."""
    ratios = [r for r in matrix.prune if r > 0.0]
    stepped = functools.partial(  # every structured spec's rounding, steps and fine-tune
        PruneSpec, round_to=pruning.round_to, steps=pruning.steps, finetune_epochs=pruning.finetune_epochs
    )
    specs = []
    if "structured" in matrix.prune_method:
        specs += [
            stepped(ratio, criterion, strategy, rounding=_rounding(pruning, strategy))
            for ratio, criterion, strategy in itertools.product(
                ratios, matrix.prune_criterion, matrix.prune_strategy
            )
        ]
    if "unstructured" in matrix.prune_method:
        # Zeroed weights come back in ordinary training (no masks), so unstructured pruning is
        # measured as pruned, without fine-tuning.
        specs += [PruneSpec(ratio, method="unstructured") for ratio in ratios]
    return specs


def prune_recipe(
    source: SourceRecipe, spec: PruneSpec, data: DataRecipe, model: ModelSpec, config: HarnessConfig
) -> PruneRecipe:
    """Prune ``source`` by ``spec`` and fine-tune on ``data`` with the model's batch and seed."""
    if isinstance(source, PruneRecipe):
        raise ConfigError(f"model {model.name!r}: cannot prune an already pruned recipe")
    if isinstance(source, DistillRecipe):
        raise ConfigError(f"model {model.name!r}: cannot prune a distilled recipe")
    return PruneRecipe(
        source=source,
        data=data,
        spec=spec,
        imgsz=model.train_imgsz,
        batch=model.batch,
        seed=config.seed,
        versions=(*versions("torch", "ultralytics", "torch-pruning"), ("harness-prune", BUILDER_VERSION)),
        hyp=finetune_hyp(source, model),
        taylor_batches=config.pruning.taylor_batches if needs_gradients(spec.criterion) else 0,
    )


def build_variants(config: HarnessConfig) -> list[Variant]:
    """Every variant of the matrix, each model's FP32 PyTorch reference first."""
    data = data_recipe(config)
    out: list[Variant] = []
    m = config.matrix
    specs: list[PruneSpec | None] = [None] if 0.0 in m.prune else []
    specs += prune_specs(m, config.pruning)
    for model in config.models:
        source = source_recipe(model, data, config)
        variants = [
            Variant(
                model.name,
                _pruned(source, spec, data, model, config),
                spec,
                precision,
                backend,
                None,
                config.imgsz,
                quant,
            )
            for spec, precision, backend in itertools.product(specs, m.precision, m.backend)
            if spec is None or config.pruning.runs_on(backend, precision)
            for quant in (m.quant_for(backend) if precision == "int8" else (None,))
        ]
        out.extend(sorted(variants, key=_order))
        out.extend(distilled_variants(model, source, data, config))
    check_methods_apply(out, config)
    return out


_NO_STUDENT = {
    "progressive": "it teaches a pruned student through an assistant, and no student is pruned "
    "(students[].prune > 0)",
    "multi": "it needs a student with two or more teachers (students[].teachers, distill.teachers, "
    "or a model's own teacher)",
}


def check_methods_apply(variants: list[Variant], config: HarnessConfig) -> None:
    """Every ``[distill]`` method gives at least one student among ``variants`` (where the run
    distils at all): a method that applies to none is a one-line :class:`ConfigError`, not a
    study that silently leaves it out."""
    kd = config.distill
    if not kd.students or not set(kd.backends) & set(config.matrix.backend):
        return
    used = {v.source.spec.method for v in variants if isinstance(v.source, DistillRecipe)}
    for method in (m for m in kd.methods if m not in used):
        why = _NO_STUDENT.get(
            method, "every student's only teacher is itself (an unpruned student's reference)"
        )
        raise ConfigError(f"distill.methods: {method!r} applies to no student: {why}")


def distilled_variants(
    model: ModelSpec, source: BaseRecipe, data: DataRecipe, config: HarnessConfig
) -> list[Variant]:
    """``model``'s distilled students (``[distill]``): student x teacher x method, FP32, on each of
    ``distill.backends`` that the matrix has."""
    kd = config.distill
    backends = [b for b in kd.backends if b in config.matrix.backend]
    out: dict[str, Variant] = {}  # by slug: two student entries may share a teacher
    for student in (s for s in kd.students if s.model in (None, model.name)):
        start = student_start(student, source, data, model, config)
        teachers = [  # the unpruned reference would teach itself
            t for t in teachers_for(model, student, config)
            if not (t in (REFERENCE_TEACHER, model.name) and student.prune == 0.0)
        ]  # fmt: skip
        recipes = [
            distill_recipe(start, teacher, method, data, model, config)
            for teacher, method in itertools.product(teachers, kd.methods)
            if method not in (MULTI_TEACHER, PROGRESSIVE)
        ]
        if PROGRESSIVE in kd.methods and student.prune > 0.0:
            recipes += [progressive_recipe(start, t, student, source, data, model, config) for t in teachers]
        if MULTI_TEACHER in kd.methods and len(teachers) >= 2:
            recipes.append(multi_teacher_recipe(start, teachers, data, model, config))
        for recipe, backend in itertools.product(recipes, backends):
            variant = Variant(
                model.name, recipe, prune_spec_of(start), "fp32", backend, recipe.spec.slug, config.imgsz
            )
            out.setdefault(variant.slug, variant)
    return list(out.values())


PROGRESSIVE = "progressive"
"""Progressive KD: the teacher teaches an assistant (the student's model pruned half as much), which
teaches the student."""


def progressive_recipe(
    start: StudentRecipe,
    teacher: str | Path,
    student: StudentChoice,
    source: BaseRecipe,
    data: DataRecipe,
    model: ModelSpec,
    config: HarnessConfig,
) -> DistillRecipe:
    """The student at ``start`` taught by a teacher assistant: ``source`` pruned to half the
    student's ratio (same criterion, strategy, rounding) and distilled from ``teacher`` with
    response KD for as many epochs; the student then learns from the assistant (response KD)."""
    spec = student_spec(student, config)
    assert spec is not None  # progressive KD needs a pruned student
    half = dataclasses.replace(spec, ratio=round(spec.ratio / 2, 4)).without_finetune()
    assistant = distill_recipe(
        prune_recipe(source, half, data, model, config), teacher, "response", data, model, config
    )
    recipe = distill_recipe(start, teacher, PROGRESSIVE, data, model, config)
    return dataclasses.replace(recipe, teacher=assistant)


MULTI_TEACHER = "multi"
"""The multi-teacher method: one student per entry with all its teachers (at least two)."""


def multi_teacher_recipe(
    start: StudentRecipe,
    teachers: list[str | Path],
    data: DataRecipe,
    model: ModelSpec,
    config: HarnessConfig,
) -> DistillRecipe:
    """Distil every teacher of ``teachers`` into the student at once (labelled ``a+b``)."""
    first = distill_recipe(start, teachers[0], MULTI_TEACHER, data, model, config)
    label = "+".join(teacher_label(t) for t in teachers)
    return dataclasses.replace(
        first,
        spec=dataclasses.replace(first.spec, teacher=label),
        extra_teachers=tuple(teacher_source(t, model, data, config) for t in teachers[1:]),
    )


def teachers_for(model: ModelSpec, student: StudentChoice, config: HarnessConfig) -> list[str | Path]:
    """The student's own ``teachers`` (else ``distill.teachers``), plus the model's ``teacher`` file."""
    listed = student.teachers if student.teachers is not None else config.distill.teachers
    extra = [model.teacher] if model.teacher is not None and model.teacher not in listed else []
    return [*listed, *extra]


def student_spec(student: StudentChoice, config: HarnessConfig) -> PruneSpec | None:
    """How a student is pruned: the matrix's first pruning configuration at its ratio (None: unpruned)."""
    if student.prune == 0.0:
        return None
    for spec in prune_specs(config.matrix, config.pruning):
        if spec.method == "structured" and abs(spec.ratio - student.prune) < 1e-9:
            return spec
    raise ConfigError(
        f"distill.students: {student.model} at prune {student.prune} is not a structured ratio of "
        f"matrix.prune {list(config.matrix.prune)}: add {student.prune} to [matrix] prune, or set "
        "[distill] students to ratios it has"
    )


def student_start(
    student: StudentChoice, source: BaseRecipe, data: DataRecipe, model: ModelSpec, config: HarnessConfig
) -> StudentRecipe:
    """The checkpoint a student starts from: its trained model, or that model pruned, not fine-tuned."""
    spec = student_spec(student, config)
    if spec is None:
        return source
    return prune_recipe(source, spec.without_finetune(), data, model, config)


def control_recipe(
    start: SourceRecipe, data: DataRecipe, model: ModelSpec, config: HarnessConfig
) -> SourceRecipe:
    """The fair control of a student starting at ``start``: the same checkpoint trained the same
    epochs, seed, batch and data, without a teacher (pruned: the same pruning, fine-tuned)."""
    epochs = config.distill.epochs
    if isinstance(start, PruneRecipe):
        return dataclasses.replace(start, spec=dataclasses.replace(start.spec, finetune_epochs=epochs))
    if isinstance(start, DistillRecipe):
        raise ConfigError(f"model {model.name!r}: a distilled checkpoint is not a student's start")
    return finetune_recipe(start, epochs, data, model, config)


def finetune_recipe(
    start: TrainRecipe | WeightsRecipe, epochs: int, data: DataRecipe, model: ModelSpec, config: HarnessConfig
) -> TrainRecipe:
    """``start``'s weights trained ``epochs`` more epochs on ``data`` with the model's batch, train
    image size and the seed, and :func:`finetune_hyp`'s arguments."""
    return TrainRecipe(
        cfg=model.cfg or (model.weights.name if model.weights else model.name),
        data=data,
        epochs=epochs,
        batch=model.batch,
        imgsz=model.train_imgsz,
        seed=config.seed,
        versions=train_versions(),
        hyp=finetune_hyp(start, model),
        init=start,
    )


def distill_recipe(
    start: StudentRecipe,
    teacher: str | Path,
    method: str,
    data: DataRecipe,
    model: ModelSpec,
    config: HarnessConfig,
) -> DistillRecipe:
    """Distil ``teacher`` into the student starting at ``start`` with ``method``."""
    loss = config.distill.losses[method]
    spec = DistillSpec(method, teacher_label(teacher), loss.weight, loss.temperature, config.distill.epochs)
    return DistillRecipe(
        student=start,
        teacher=teacher_source(teacher, model, data, config),
        data=data,
        spec=spec,
        imgsz=model.train_imgsz,
        batch=model.batch,
        seed=config.seed,
        versions=(*versions("torch", "ultralytics"), ("harness-distill", DISTILL_BUILDER_VERSION)),
        hyp=finetune_hyp(start, model),
    )


def teacher_label(teacher: str | Path) -> str:
    """The teacher's name in ids: "reference", a model name, or a file's stem."""
    return teacher.stem if isinstance(teacher, Path) else teacher


def teacher_source(
    teacher: str | Path, student: ModelSpec, data: DataRecipe, config: HarnessConfig
) -> BaseRecipe:
    """The teacher's checkpoint: the student model's unpruned reference, another model's, or a file."""
    if isinstance(teacher, Path):
        return weights_recipe(teacher)
    name = student.name if teacher == REFERENCE_TEACHER else teacher
    return source_recipe(config.model(name), data, config)


def prune_spec_of(source: SourceRecipe) -> PruneSpec | None:
    """The pruning of a student's starting checkpoint (None: unpruned)."""
    return source.spec if isinstance(source, PruneRecipe) else None


def _order(variant: Variant) -> tuple[bool, float, str, str, str]:
    """Reference first, then by ratio, pruning, precision and backend (INT8 configurations keep
    their config order: the sort is stable)."""
    spec = variant.prune.slug if variant.prune else ""
    return (not variant.is_reference, variant.ratio, spec, variant.precision, variant.backend)


def _pruned(
    source: SourceRecipe, spec: PruneSpec | None, data: DataRecipe, model: ModelSpec, config: HarnessConfig
) -> SourceRecipe:
    return source if spec is None else prune_recipe(source, spec, data, model, config)
