"""Criterion names map to the intended Torch-Pruning estimators; unknown names fail clearly."""

from __future__ import annotations

import pytest
import torch_pruning as tp

from harness.errors import HarnessError
from harness.prune.criteria import (
    CRITERIA,
    UnknownCriterionError,
    importance,
    needs_gradients,
    needs_squared_gradients,
)

EXPECTED: dict[str, tuple[type, int | None]] = {
    "l1": (tp.importance.GroupMagnitudeImportance, 1),
    "l2": (tp.importance.GroupMagnitudeImportance, 2),
    "taylor": (tp.importance.GroupTaylorImportance, None),
    "fisher": (tp.importance.GroupHessianImportance, None),
    "lamp": (tp.importance.LAMPImportance, 2),
    "random": (tp.importance.RandomImportance, None),
}


def test_criteria_are_the_documented_names() -> None:
    assert CRITERIA == ("l1", "l2", "taylor", "fisher", "lamp", "random")
    assert set(CRITERIA) == set(EXPECTED)


@pytest.mark.parametrize("criterion", CRITERIA)
def test_each_name_builds_its_estimator(criterion: str) -> None:
    cls, p = EXPECTED[criterion]
    scorer = importance(criterion)
    assert type(scorer) is cls
    if p is not None:
        assert scorer.p == p
    assert importance(criterion) is not scorer  # a fresh estimator each time (some hold state)


def test_group_norms_reduce_over_the_whole_group() -> None:
    for criterion in ("l1", "l2", "taylor", "fisher", "lamp"):
        assert importance(criterion).group_reduction == "mean"


@pytest.mark.parametrize("criterion", CRITERIA)
def test_only_taylor_and_fisher_need_gradients(criterion: str) -> None:
    assert needs_gradients(criterion) is (criterion in ("taylor", "fisher"))
    assert needs_squared_gradients(criterion) is (criterion == "fisher")


@pytest.mark.parametrize("lookup", [importance, needs_gradients])
@pytest.mark.parametrize("bad", ["L1", "hessian", ""])
def test_unknown_criterion_names_the_value_and_the_choices(lookup: object, bad: str) -> None:
    with pytest.raises(UnknownCriterionError) as info:
        lookup(bad)  # type: ignore[operator]
    assert isinstance(info.value, HarnessError)
    assert repr(bad) in str(info.value)
    assert "l1, l2, taylor, fisher, lamp, random" in str(info.value)
