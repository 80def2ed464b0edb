"""The prune builder: compounding iterative ratios, the child-process job, clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.build.prune import PruneJob, keep_model_trainer, run_job, step_ratio
from harness.errors import HarnessError
from harness.recipes import PruneSpec


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
