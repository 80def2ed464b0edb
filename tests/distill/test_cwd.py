"""Channel-wise distillation: per-channel spatial KL and the student-to-teacher projections."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.distill.cwd import ChannelWiseKD, channel_kl


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _identity(cwd: ChannelWiseKD) -> None:
    """Set every (square) projection to the identity."""
    with torch.no_grad():
        for proj in cwd.projectors:
            c = proj.weight.shape[0]
            proj.weight.copy_(torch.eye(c).view(c, c, 1, 1))


def test_channel_kl_is_zero_for_equal_features() -> None:
    """Identical feature maps: no divergence."""
    feats = _randn(2, 4, 3, 5, seed=0)
    assert float(channel_kl(feats.clone(), feats, 2.0)) == pytest.approx(0.0, abs=1e-7)


def test_channel_kl_is_positive_for_different_features() -> None:
    """Different feature maps: a positive divergence, with a gradient for the student only."""
    student = _randn(2, 4, 3, 5, seed=1).requires_grad_(True)
    teacher = _randn(2, 4, 3, 5, seed=2).requires_grad_(True)
    loss = channel_kl(student, teacher, 2.0)
    assert float(loss.detach()) > 1e-3
    loss.backward()
    assert student.grad is not None and float(student.grad.abs().sum()) > 0
    assert teacher.grad is None


def test_channel_kl_matches_a_hand_computed_kl() -> None:
    """One channel of 2x2 positions: KL(softmax(t/T) || softmax(s/T)) over the positions, times T^2."""
    t, s, temperature = [1.0, 0.0, -1.0, 2.0], [0.5, 0.5, 0.0, 1.0], 2.0
    zt = sum(math.exp(x / temperature) for x in t)
    zs = sum(math.exp(x / temperature) for x in s)
    p = [math.exp(x / temperature) / zt for x in t]
    q = [math.exp(x / temperature) / zs for x in s]
    expected = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True)) * temperature**2
    got = channel_kl(
        torch.tensor(s, dtype=torch.float64).view(1, 1, 2, 2),
        torch.tensor(t, dtype=torch.float64).view(1, 1, 2, 2),
        temperature,
    )
    assert float(got) == pytest.approx(expected, rel=1e-12)


def test_channel_kl_averages_over_batch_and_channels() -> None:
    """The loss is the mean of the per-(image, channel) KLs computed with torch's kl_div."""
    student, teacher, temperature = _randn(3, 5, 4, 4, seed=3), _randn(3, 5, 4, 4, seed=4), 1.5
    s = F.log_softmax(student.flatten(2) / temperature, dim=-1)
    t = F.log_softmax(teacher.flatten(2) / temperature, dim=-1)
    per = F.kl_div(s, t, reduction="none", log_target=True).sum(dim=-1)
    assert per.shape == (3, 5)
    torch.testing.assert_close(channel_kl(student, teacher, temperature), per.mean() * temperature**2)


def test_channel_kl_distributions_are_over_positions_not_channels() -> None:
    """Adding a per-channel constant leaves each channel's spatial softmax, so the loss, unchanged."""
    teacher = _randn(2, 4, 3, 3, seed=5)
    shifted = teacher + _randn(2, 4, 1, 1, seed=6) * 5
    assert float(channel_kl(shifted, teacher, 1.0)) == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(-20, 20, allow_nan=False), min_size=2 * 2 * 6, max_size=2 * 2 * 6),
    temperature=st.floats(0.5, 5.0),
)
def test_channel_kl_is_never_negative(values: list[float], temperature: float) -> None:
    """A KL divergence: non-negative for any pair of feature maps."""
    data = torch.tensor(values, dtype=torch.float64).view(2, 1, 2, 2, 3)
    assert float(channel_kl(data[0], data[1], temperature)) >= -1e-12


def test_channel_kl_refuses_different_shapes() -> None:
    """Feature maps must match in every dimension."""
    with pytest.raises(ValueError, match=r"equal feature shapes, got \(1, 4, 3, 3\) and \(1, 8, 3, 3\)"):
        channel_kl(torch.zeros(1, 4, 3, 3), torch.zeros(1, 8, 3, 3), 1.0)


def test_identity_projections_give_zero_for_equal_features() -> None:
    """With identity 1x1 projections, a student equal to the teacher has no loss on any level."""
    cwd = ChannelWiseKD([8, 16], [8, 16], temperature=2.0)
    _identity(cwd)
    feats = [_randn(2, 8, 4, 4, seed=7), _randn(2, 16, 2, 2, seed=8)]
    assert cwd([f.clone() for f in feats], feats).item() == pytest.approx(0.0, abs=1e-6)
    assert cwd([f.clone() for f in feats], [feats[0], feats[1] + _randn(2, 16, 2, 2, seed=9)]).item() > 1e-3


def test_projections_map_student_to_teacher_channels_and_train() -> None:
    """Student channels [8, 16] are projected to the teacher's [16, 32]; the projections get gradients."""
    torch.manual_seed(0)
    cwd = ChannelWiseKD([8, 16], [16, 32], temperature=1.0)
    assert [tuple(p.weight.shape) for p in cwd.projectors] == [(16, 8, 1, 1), (32, 16, 1, 1)]
    assert all(p.bias is None for p in cwd.projectors)
    student = [
        _randn(2, 8, 4, 4, seed=10).requires_grad_(True),
        _randn(2, 16, 2, 2, seed=11).requires_grad_(True),
    ]
    teacher = [_randn(2, 16, 4, 4, seed=12), _randn(2, 32, 2, 2, seed=13)]
    loss = cwd(student, teacher)
    expected = sum(channel_kl(p(s), t, 1.0) for p, s, t in zip(cwd.projectors, student, teacher, strict=True))
    torch.testing.assert_close(loss, expected)  # summed over levels
    loss.backward()
    for proj in cwd.projectors:
        assert proj.weight.grad is not None and float(proj.weight.grad.abs().sum()) > 0
    assert all(s.grad is not None and float(s.grad.abs().sum()) > 0 for s in student)


def test_a_training_step_on_the_projections_lowers_the_loss() -> None:
    """The projections are trainable: a few SGD steps on them reduce the loss."""
    torch.manual_seed(0)
    cwd = ChannelWiseKD([8], [16], temperature=1.0)
    student, teacher = [_randn(2, 8, 4, 4, seed=14)], [_randn(2, 16, 4, 4, seed=15)]
    opt = torch.optim.SGD(cwd.parameters(), lr=0.5)
    first = cwd(student, teacher).item()
    for _ in range(5):
        opt.zero_grad()
        cwd(student, teacher).backward()
        opt.step()
    assert cwd(student, teacher).item() < first


def test_different_level_counts_are_refused() -> None:
    """As many student as teacher levels, at construction and at call time."""
    with pytest.raises(ValueError, match="feature levels, got 3 and 2"):
        ChannelWiseKD([8, 16], [8, 16, 32], temperature=1.0)
    cwd = ChannelWiseKD([8, 16], [8, 16], temperature=1.0)
    with pytest.raises(ValueError):
        cwd([torch.zeros(1, 8, 2, 2)], [torch.zeros(1, 8, 2, 2), torch.zeros(1, 16, 2, 2)])
