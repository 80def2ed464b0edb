"""Attention transfer and relational KD: zero for the teacher's own features, channel-count agnostic."""

from __future__ import annotations

import pytest
import torch

from harness.distill.relations import attention_map, attention_transfer, relational_kd


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _levels(channels: tuple[int, int], batch: int = 4, seed: int = 0) -> list[torch.Tensor]:
    return [
        _randn(batch, c, s, s, seed=seed + i) for i, (c, s) in enumerate(zip(channels, (8, 4), strict=True))
    ]


def test_attention_maps_are_unit_vectors_over_positions() -> None:
    maps = attention_map(_randn(3, 16, 5, 5))
    assert maps.shape == (3, 25)
    torch.testing.assert_close(maps.norm(dim=1), torch.ones(3))


def test_attention_transfer_compares_maps_not_channels() -> None:
    teacher = _levels((32, 64))
    assert attention_transfer([t.clone() for t in teacher], teacher).item() == pytest.approx(0.0, abs=1e-9)
    # a pruned student (half the channels) whose channels repeat the teacher's has the same maps
    student = [t[:, ::2].repeat_interleave(2, dim=1) for t in teacher]
    halved = [t[:, ::2] for t in student]
    assert attention_transfer(halved, teacher).item() == pytest.approx(
        attention_transfer(student, teacher).item()
    )
    assert attention_transfer(_levels((16, 32), seed=5), teacher).item() > 1e-4


def test_relational_kd_is_zero_for_relations_the_teacher_has() -> None:
    teacher = _levels((32, 64))
    assert relational_kd([t.clone() for t in teacher], teacher).item() == pytest.approx(0.0, abs=1e-9)
    # scaling every image's feature keeps distances (normalized by their mean) and angles
    assert relational_kd([3.0 * t for t in teacher], teacher).item() == pytest.approx(0.0, abs=1e-6)
    assert relational_kd(_levels((16, 32), seed=5), teacher).item() > 1e-3


def test_relational_kd_trains_the_student_towards_the_teacher() -> None:
    teacher = _levels((8, 8), batch=6)
    student = [torch.nn.Parameter(_randn(6, 4, s, s, seed=9 + i)) for i, s in enumerate((8, 4))]
    opt = torch.optim.SGD(student, lr=1.0)
    first = relational_kd(student, teacher).item()
    for _ in range(30):
        opt.zero_grad()
        relational_kd(student, teacher).backward()
        opt.step()
    assert relational_kd(student, teacher).item() < 0.5 * first
    assert all(t.grad is None for t in teacher)


def test_one_image_has_no_relation_and_level_counts_must_match() -> None:
    one = _levels((8, 8), batch=1)
    assert relational_kd(one, _levels((8, 8), batch=1, seed=3)).item() == 0.0
    with pytest.raises(ValueError, match="as many teacher as student feature levels"):
        attention_transfer(one[:1], one)
    with pytest.raises(ValueError, match="equal spatial sizes"):
        attention_transfer([one[0]], [one[1]])
