"""The prune builder: compounding iterative ratios, the child-process job, clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.builders import build
from harness.builders.prune import PruneJob, keep_model_trainer, read_report, run_job, step_ratio
from harness.builders.weights import load_yolo
from harness.errors import HarnessError
from harness.recipes import PruneRecipe, PruneSpec


@given(ratio=st.floats(0.01, 0.9), steps=st.integers(1, 5))
def test_iterative_steps_compound_to_the_ratio(ratio: float, steps: int) -> None:
    per_step = step_ratio(ratio, steps)
    assert 0 < per_step <= ratio + 1e-12
    assert (1 - per_step) ** steps == pytest.approx(1 - ratio)


def _job(tmp_path: Path, source: Path) -> PruneJob:
    return PruneJob(
        source=source, out=tmp_path / "out.pt", spec=PruneSpec(0.3, "taylor", "global", steps=2),
        ratio=0.16, imgsz=64, threads=1, data_yaml=tmp_path / "data.yaml", taylor_batches=2, batch=4, seed=3,
    )  # fmt: skip


def test_job_survives_the_trip_to_the_child(tmp_path: Path) -> None:
    job = _job(tmp_path, tmp_path / "in.pt")
    assert PruneJob.from_dict(job.to_dict()) == job


def test_a_failing_child_is_an_error_naming_the_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"pruning .*missing\.pt \(p30-taylor-global-it2\) failed") as info:
        run_job(_job(tmp_path, tmp_path / "missing.pt"))
    assert "does not exist" in str(info.value)  # the child's own error comes along


def test_trainer_refuses_to_rebuild_without_the_model() -> None:
    cls = keep_model_trainer()
    trainer = cls.__new__(cls)  # get_model needs no trainer state
    with pytest.raises(HarnessError, match="needs the model object"):
        trainer.get_model(cfg="yolo11n.yaml", weights=None)
    marker = object()
    assert trainer.get_model(cfg="yolo11n.yaml", weights=marker) is marker


@pytest.fixture(scope="module")
def quick_source(session):  # type: ignore[no-untyped-def]
    """The quick profile's trained yolo11n recipe and its dataset (trained once per test run)."""
    reference = session.variants[0]
    build(reference.source, session.ctx)
    return reference.source


def _recipe(source, spec: PruneSpec, taylor_batches: int = 0) -> PruneRecipe:  # type: ignore[no-untyped-def]
    return PruneRecipe(
        source=source, data=source.data, spec=spec, imgsz=64, batch=4, seed=0, versions=(),
        taylor_batches=taylor_batches,
    )  # fmt: skip


@pytest.mark.slow
def test_iterative_steps_prune_and_finetune_each_time(session, quick_source) -> None:  # type: ignore[no-untyped-def]
    spec = PruneSpec(0.5, steps=2, finetune_epochs=1, round_to=None)
    artifact = build(_recipe(quick_source, spec), session.ctx)
    first, second = read_report(artifact.directory)["steps"]
    assert first["ratio"] == pytest.approx(step_ratio(0.5, 2))
    assert second["params_before"] == first["params_after"] > second["params_after"]
    assert first["params_after"] < first["params_before"]
    assert sum(p.numel() for p in load_yolo(artifact.path).model.parameters()) == second["params_after"]


@pytest.mark.slow
def test_taylor_ranks_with_labelled_batches(session, quick_source) -> None:  # type: ignore[no-untyped-def]
    artifact = build(_recipe(quick_source, PruneSpec(0.3, "taylor"), taylor_batches=2), session.ctx)
    (step,) = read_report(artifact.directory)["steps"]
    assert step["criterion"] == "taylor" and step["gradient_batches"] == 2
    assert step["params_after"] < step["params_before"]


@pytest.mark.slow
def test_fisher_ranks_with_one_image_per_gradient(session, quick_source) -> None:  # type: ignore[no-untyped-def]
    artifact = build(_recipe(quick_source, PruneSpec(0.3, "fisher"), taylor_batches=2), session.ctx)
    (step,) = read_report(artifact.directory)["steps"]
    # taylor_batches 2 of the recipe's batch 4: the same 8 images, one image per gradient
    assert step["criterion"] == "fisher" and step["gradient_batches"] == 2 * 4
    assert step["params_after"] < step["params_before"]


@pytest.mark.slow
def test_unstructured_zeroes_weights_without_shrinking(session, quick_source) -> None:  # type: ignore[no-untyped-def]
    import torch

    artifact = build(_recipe(quick_source, PruneSpec(0.5, method="unstructured")), session.ctx)
    (step,) = read_report(artifact.directory)["steps"]
    assert step["sparsity"] == pytest.approx(0.5, abs=0.01)
    model = load_yolo(artifact.path).model
    base = load_yolo(build(quick_source, session.ctx).path).model
    assert [p.shape for p in model.parameters()] == [p.shape for p in base.parameters()]
    zeros = sum(int((m.weight == 0).sum()) for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert zeros > 0.4 * sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Conv2d))
