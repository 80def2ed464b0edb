"""The distillation builder on the quick reference: every method trains, keeps the student's
architecture, saves the student alone, and records its epochs; a mismatched teacher fails first."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.builders import build
from harness.builders.distill import read_report
from harness.builders.train import RESULTS_FILE, epoch_seconds, weights_recipe
from harness.builders.weights import load_yolo
from harness.errors import DistillError
from harness.recipes import DistillRecipe, DistillSpec, PruneRecipe, PruneSpec, SourceRecipe


@pytest.fixture(scope="module")
def quick_source(session):  # type: ignore[no-untyped-def]
    """The quick profile's trained yolo11n recipe (trained once per test run)."""
    reference = session.variants[0]
    build(reference.source, session.ctx)
    return reference.source


@pytest.fixture(scope="module")
def pruned_start(quick_source):  # type: ignore[no-untyped-def]
    """The quick reference pruned 30 %, not fine-tuned: a student's starting checkpoint."""
    return PruneRecipe(
        source=quick_source,
        data=quick_source.data,
        spec=PruneSpec(0.3),
        imgsz=64,
        batch=4,
        seed=0,
        versions=(),
    )


def _recipe(student: SourceRecipe, teacher: SourceRecipe, method: str, data) -> DistillRecipe:  # type: ignore[no-untyped-def]
    return DistillRecipe(
        student=student, teacher=teacher, data=data, spec=DistillSpec(method, "reference", 1.0, 2.0, 1),
        imgsz=64, batch=4, seed=0, versions=(),
    )  # fmt: skip


def _params(path: Path) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in load_yolo(path).model.parameters()]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["response", "cwd", "feature"])
def test_each_method_trains_the_student_alone(session, quick_source, pruned_start, method: str) -> None:  # type: ignore[no-untyped-def]
    import torch

    artifact = build(_recipe(pruned_start, quick_source, method, quick_source.data), session.ctx)
    start = build(pruned_start, session.ctx).path
    model = load_yolo(artifact.path).model
    assert not hasattr(model, "student_model") and not hasattr(model, "teacher_model")
    assert _params(artifact.path) == _params(start)  # the pruned architecture, nothing added (no projector)
    before = dict(load_yolo(start).model.state_dict())
    changed = [
        k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])
    ]
    assert changed, "training changed no weight"
    report = read_report(artifact.directory)
    assert report["spec"]["method"] == method
    assert len(report["epoch_seconds"]) == 1 and report["epoch_seconds"][0] > 0
    assert report["kd_loss"] is not None and report["kd_loss"][0] > 0  # the KD term was in the loss
    assert epoch_seconds(artifact.directory / RESULTS_FILE) == report["epoch_seconds"]


def _renamed(path: Path, out: Path, names: dict[int, str]) -> Path:
    yolo = load_yolo(path)
    yolo.model.names = names
    yolo.save(out)
    return out


@pytest.mark.slow
def test_a_teacher_with_other_class_names_fails_before_training(
    session, quick_source, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ref = build(quick_source, session.ctx).path
    names = dict(load_yolo(ref).model.names)
    other = {**names, 0: f"not-{names[0]}"}
    teacher = weights_recipe(_renamed(ref, tmp_path / "teacher.pt", other))
    recipe = _recipe(quick_source, teacher, "response", quick_source.data)
    with pytest.raises(DistillError, match=r"teacher .*teacher\.pt and student .* different class names"):
        build(recipe, session.ctx)
    assert session.ctx.cache.get(recipe) is None  # nothing half-built was stored


@pytest.mark.slow
def test_a_teacher_with_another_class_count_fails(session, quick_source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ultralytics import YOLO

    yolo = YOLO("yolo11n.yaml", task="detect")
    yolo.model.names = {0: "only"}
    nc = len(load_yolo(build(quick_source, session.ctx).path).model.names)
    assert nc != 1
    teacher_pt = tmp_path / "one-class.pt"
    yolo.save(teacher_pt)
    recipe = _recipe(quick_source, weights_recipe(teacher_pt), "response", quick_source.data)
    with pytest.raises(DistillError, match="different class counts"):
        build(recipe, session.ctx)


def test_a_missing_teacher_file_is_named(tmp_path: Path) -> None:
    from harness.errors import WeightsError

    with pytest.raises(WeightsError, match=r"weights file .*nowhere\.pt does not exist"):
        weights_recipe(tmp_path / "nowhere.pt")


def test_the_control_shares_the_students_start(quick_source, pruned_start) -> None:  # type: ignore[no-untyped-def]
    recipe = _recipe(pruned_start, quick_source, "response", quick_source.data)
    assert recipe.student.spec.finetune_epochs == 0
    other = dataclasses.replace(recipe, spec=dataclasses.replace(recipe.spec, temperature=4.0))
    assert other.key() != recipe.key()  # temperature is part of the hash


@pytest.mark.slow
def test_a_users_teacher_file_teaches(session, quick_source, pruned_start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    teacher_pt = tmp_path / "my-teacher.pt"
    shutil.copy(build(quick_source, session.ctx).path, teacher_pt)
    recipe = _recipe(pruned_start, weights_recipe(teacher_pt), "response", quick_source.data)
    artifact = build(recipe, session.ctx)
    assert read_report(artifact.directory)["kd_loss"][0] > 0
    assert _params(artifact.path) == _params(build(pruned_start, session.ctx).path)
