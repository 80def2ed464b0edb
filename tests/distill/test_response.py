"""Response KD on raw head outputs: class and box terms, confidence weighting, head branches."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.distill.response import (
    box_l1,
    class_kd,
    confidence,
    dfl_kd,
    head_branches,
    response_kd,
    response_terms,
)

NC = 3
ANCHORS = 5
REG_MAX = 4


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _preds(seed: int, reg_max: int = REG_MAX, batch: int = 2, nc: int = NC) -> dict[str, torch.Tensor]:
    """A head branch's raw outputs: scores (B, nc, A) and boxes (B, 4 * reg_max, A)."""
    return {
        "scores": _randn(batch, nc, ANCHORS, seed=seed),
        "boxes": _randn(batch, 4 * reg_max, ANCHORS, seed=seed + 1000),
    }


def _hand_kl(p_logits: list[float], q_logits: list[float], temperature: float) -> float:
    """KL(softmax(p / T) || softmax(q / T)) in plain floats."""
    zp = sum(math.exp(x / temperature) for x in p_logits)
    zq = sum(math.exp(x / temperature) for x in q_logits)
    p = [math.exp(x / temperature) / zp for x in p_logits]
    q = [math.exp(x / temperature) / zq for x in q_logits]
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))


# class_kd


def test_class_kd_gradient_vanishes_only_at_the_teacher() -> None:
    """The student's gradient is zero when it matches the teacher's logits and non-zero otherwise."""
    teacher = _randn(2, NC, ANCHORS, seed=1)
    same = teacher.clone().requires_grad_(True)
    class_kd(same, teacher, 2.0).sum().backward()
    assert same.grad is not None and float(same.grad.abs().max()) < 1e-12

    other = (teacher + _randn(2, NC, ANCHORS, seed=2)).requires_grad_(True)
    class_kd(other, teacher, 2.0).sum().backward()
    assert other.grad is not None and float(other.grad.abs().min()) > 1e-6


@pytest.mark.parametrize("temperature", [1.0, 2.5, 4.0])
def test_class_kd_is_bce_of_softened_sigmoids_times_t_squared(temperature: float) -> None:
    """class_kd equals BCE(sigmoid(s/T), sigmoid(t/T)) summed over classes, times T^2, per anchor."""
    student, teacher = _randn(2, NC, ANCHORS, seed=3), _randn(2, NC, ANCHORS, seed=4) * 3
    got = class_kd(student, teacher, temperature)
    p, q = (teacher / temperature).sigmoid(), (student / temperature).sigmoid()
    expected = F.binary_cross_entropy(q, p, reduction="none").sum(dim=1) * temperature**2
    assert got.shape == (2, ANCHORS)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)
    manual = -(p * q.log() + (1 - p) * (1 - q).log()).sum(dim=1) * temperature**2
    torch.testing.assert_close(got, manual, rtol=1e-9, atol=1e-9)


def test_class_kd_does_not_train_the_teacher() -> None:
    """The teacher's logits are detached: backward leaves them without a gradient."""
    student = _randn(1, NC, ANCHORS, seed=5).requires_grad_(True)
    teacher = _randn(1, NC, ANCHORS, seed=6).requires_grad_(True)
    class_kd(student, teacher, 1.0).sum().backward()
    assert teacher.grad is None and student.grad is not None


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-20, 20, allow_nan=False), min_size=2 * NC * 2, max_size=2 * NC * 2),
    temperature=st.floats(0.5, 5.0),
)
def test_class_kd_is_at_least_the_teacher_entropy(values: list[float], temperature: float) -> None:
    """BCE = teacher entropy + KL >= teacher entropy (times T^2), with equality at the teacher."""
    data = torch.tensor(values, dtype=torch.float64).view(2, 1, NC, 2)
    student, teacher = data[0], data[1]
    p = (teacher / temperature).sigmoid()
    entropy = -(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p)).sum(dim=1) * temperature**2
    got = class_kd(student, teacher, temperature)
    assert bool((got >= entropy - 1e-9).all())
    torch.testing.assert_close(class_kd(teacher, teacher, temperature), entropy, rtol=1e-6, atol=1e-8)


# dfl_kd and box_l1


def test_dfl_kd_is_zero_at_the_teacher_and_positive_elsewhere() -> None:
    """dfl_kd is exactly 0 for identical distributions and > 0 at every anchor that differs."""
    teacher = _randn(2, 4 * REG_MAX, ANCHORS, seed=7)
    assert torch.equal(
        dfl_kd(teacher.clone(), teacher, REG_MAX, 2.0), torch.zeros(2, ANCHORS, dtype=torch.float64)
    )
    student = teacher + _randn(2, 4 * REG_MAX, ANCHORS, seed=8)
    got = dfl_kd(student, teacher, REG_MAX, 2.0)
    assert got.shape == (2, ANCHORS) and bool((got > 0).all())


def test_dfl_kd_matches_a_hand_computed_kl() -> None:
    """Channels are (side, bin): KL per side over its bins, mean over the four sides, times T^2."""
    t = [1.0, -1.0, 0.5, 0.5, 2.0, 0.0, -1.0, 3.0]  # side 0: bins (1, -1); side 1: (0.5, 0.5); ...
    s = [0.0, 0.0, 1.0, -1.0, 0.5, 1.5, 2.0, -2.0]
    temperature = 2.0
    sides = [_hand_kl(t[2 * i : 2 * i + 2], s[2 * i : 2 * i + 2], temperature) for i in range(4)]
    expected = sum(sides) / 4 * temperature**2
    student = torch.tensor(s, dtype=torch.float64).view(1, 8, 1)
    teacher = torch.tensor(t, dtype=torch.float64).view(1, 8, 1)
    assert float(dfl_kd(student, teacher, 2, temperature)) == pytest.approx(expected, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.floats(-30, 30, allow_nan=False), min_size=2 * 4 * REG_MAX, max_size=2 * 4 * REG_MAX),
    temperature=st.floats(0.5, 5.0),
)
def test_dfl_kd_is_never_negative(values: list[float], temperature: float) -> None:
    """A KL divergence: non-negative for any pair of logits."""
    data = torch.tensor(values, dtype=torch.float64).view(2, 1, 4 * REG_MAX, 1)
    assert float(dfl_kd(data[0], data[1], REG_MAX, temperature).min()) >= -1e-12


def test_box_l1_is_zero_at_the_teacher_and_the_mean_side_distance_elsewhere() -> None:
    """box_l1 is exactly 0 for equal boxes and the mean absolute side difference otherwise."""
    teacher = _randn(2, 4, ANCHORS, seed=9)
    assert torch.equal(box_l1(teacher.clone(), teacher), torch.zeros(2, ANCHORS, dtype=torch.float64))
    student = teacher.clone()
    student[0, :, 1] += torch.tensor([1.0, -2.0, 3.0, -4.0], dtype=torch.float64)
    got = box_l1(student, teacher)
    expected = torch.zeros(2, ANCHORS, dtype=torch.float64)
    expected[0, 1] = 2.5
    torch.testing.assert_close(got, expected)


# confidence weighting and response_terms


def test_confidence_is_the_highest_teacher_probability() -> None:
    """Per-anchor weight: max over classes of the teacher's sigmoid."""
    scores = torch.tensor([[[-1.0, 0.0], [2.0, -3.0], [0.5, -5.0]]])  # (1, 3 classes, 2 anchors)
    torch.testing.assert_close(confidence(scores), torch.tensor([[2.0, 0.0]]).sigmoid())


@pytest.mark.parametrize("reg_max", [1, 16])
def test_background_the_teacher_is_sure_of_barely_counts(reg_max: int) -> None:
    """Changing the student where the teacher's confidence is ~0 leaves the total almost unchanged."""
    teacher = _preds(10, reg_max=reg_max, batch=1)
    teacher["scores"][:, :, 0] = -30.0  # anchor 0: confident background
    teacher["scores"][:, :, 1] = torch.tensor([3.0, -1.0, 0.0], dtype=torch.float64)  # anchor 1: an object
    student = {k: v + 0.3 * _randn(*v.shape, seed=11) for k, v in teacher.items()}
    base = float(response_terms(student, teacher, reg_max, 2.0).total)

    def changed_at(anchor: int) -> float:
        moved = {k: v.clone() for k, v in student.items()}
        moved["scores"][:, :, anchor] += 10.0
        moved["boxes"][:, :, anchor] += 5.0
        return float(response_terms(moved, teacher, reg_max, 2.0).total)

    assert abs(changed_at(0) - base) < 1e-9
    assert abs(changed_at(1) - base) > 0.1


@pytest.mark.parametrize("reg_max", [1, 16])
def test_response_terms_are_the_confidence_weighted_mean(reg_max: int) -> None:
    """cls and box are the per-anchor terms averaged with the teacher's confidence as weights."""
    student, teacher = _preds(12, reg_max=reg_max), _preds(13, reg_max=reg_max)
    terms = response_terms(student, teacher, reg_max, 3.0)
    w = confidence(teacher["scores"])
    per_cls = class_kd(student["scores"], teacher["scores"], 3.0)
    if reg_max > 1:
        per_box = dfl_kd(student["boxes"], teacher["boxes"], reg_max, 3.0)
    else:
        per_box = box_l1(student["boxes"], teacher["boxes"])
    torch.testing.assert_close(terms.cls, (per_cls * w).sum() / w.sum())
    torch.testing.assert_close(terms.box, (per_box * w).sum() / w.sum())
    torch.testing.assert_close(terms.total, terms.cls + terms.box)


def test_response_terms_refuse_different_score_shapes() -> None:
    """Teacher and student with different class counts cannot be compared anchor by anchor."""
    with pytest.raises(ValueError, match=r"scores \(2, 4, 5\) vs \(2, 3, 5\)"):
        response_terms(_preds(14, nc=3), _preds(15, nc=4), REG_MAX, 1.0)


# head branches and response_kd


def test_head_branches_of_a_training_dict() -> None:
    """A training-mode dict is the only branch."""
    preds = _preds(16)
    branches = head_branches(preds)
    assert len(branches) == 1 and branches[0] is preds


def test_head_branches_of_an_eval_tuple() -> None:
    """An eval-mode (decoded, raw) tuple gives its raw dict."""
    raw = _preds(17)
    branches = head_branches((torch.zeros(2, 7, ANCHORS), raw))
    assert len(branches) == 1 and branches[0] is raw


@pytest.mark.parametrize("wrap", [False, True])
def test_head_branches_of_an_end_to_end_head(wrap: bool) -> None:
    """An end-to-end head gives its one-to-many then its one-to-one branch (dict or eval tuple)."""
    o2m, o2o = _preds(18), _preds(19)
    raw = {"one2many": o2m, "one2one": o2o}
    branches = head_branches((torch.zeros(1), raw) if wrap else raw)
    assert len(branches) == 2 and branches[0] is o2m and branches[1] is o2o


@pytest.mark.parametrize(
    "bad", [torch.zeros(2, 7, ANCHORS), [_preds(20)], (torch.zeros(1), torch.zeros(1)), None]
)
def test_head_branches_refuse_anything_else(bad: object) -> None:
    """A tensor, a list, a tuple without a dict, None: TypeError naming the type."""
    with pytest.raises(TypeError, match="raw prediction dict"):
        head_branches(bad)


def test_response_kd_of_a_single_branch_is_its_total() -> None:
    """A training dict against an eval tuple: the one branch's response_terms total."""
    student, teacher = _preds(21), _preds(22)
    got = response_kd(student, (torch.zeros(1), teacher), REG_MAX, 2.0)
    torch.testing.assert_close(got, response_terms(student, teacher, REG_MAX, 2.0).total)


def test_response_kd_averages_the_end_to_end_branches() -> None:
    """End-to-end: the mean of the one-to-many and one-to-one totals; only the student gets gradients."""
    s_o2m, s_o2o = _preds(23, reg_max=1), _preds(24, reg_max=1)
    t_o2m, t_o2o = _preds(25, reg_max=1), _preds(26, reg_max=1)
    for branch in (s_o2m, s_o2o):
        for v in branch.values():
            v.requires_grad_(True)
    student = {"one2many": s_o2m, "one2one": s_o2o}
    teacher = (torch.zeros(1), {"one2many": t_o2m, "one2one": t_o2o})
    got = response_kd(student, teacher, 1, 2.0)
    first = response_terms(s_o2m, t_o2m, 1, 2.0).total
    second = response_terms(s_o2o, t_o2o, 1, 2.0).total
    assert abs(float((first - second).detach())) > 1e-3  # a mean that is not either branch alone
    torch.testing.assert_close(got, (first + second) / 2)
    got.backward()
    assert all(
        v.grad is not None and float(v.grad.abs().sum()) > 0 for b in (s_o2m, s_o2o) for v in b.values()
    )
    assert all(v.grad is None for b in (t_o2m, t_o2o) for v in b.values())


def test_response_kd_refuses_end_to_end_against_one_branch() -> None:
    """An end-to-end student and a single-branch teacher do not pair up."""
    student = {"one2many": _preds(27), "one2one": _preds(28)}
    with pytest.raises(ValueError):
        response_kd(student, _preds(29), REG_MAX, 1.0)


def test_most_confident_picks_per_anchor_the_surest_teacher() -> None:
    from harness.distill.response import most_confident

    scores_a = torch.tensor([[[5.0, -5.0, 0.0]]])  # (batch 1, 1 class, 3 anchors): sure, unsure, middling
    scores_b = torch.tensor([[[0.0, 4.0, -1.0]]])
    boxes_a, boxes_b = torch.zeros(1, 4, 3), torch.ones(1, 4, 3)
    merged = most_confident([{"scores": scores_a, "boxes": boxes_a}, {"scores": scores_b, "boxes": boxes_b}])
    assert isinstance(merged, dict)
    torch.testing.assert_close(merged["scores"], torch.tensor([[[5.0, 4.0, 0.0]]]))
    torch.testing.assert_close(merged["boxes"][0, 0], torch.tensor([0.0, 1.0, 0.0]))
    one = {"scores": scores_a, "boxes": boxes_a}
    assert most_confident([one]) is one
    both = most_confident([{"one2many": one, "one2one": one}, {"one2many": one, "one2one": one}])
    assert isinstance(both, dict) and set(both) == {"one2many", "one2one"}
