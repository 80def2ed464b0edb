"""The study registry: the harness's studies, entry points, the decorator, and bad registrations."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.results import STUDY_NAMES
from harness.studies import registry
from harness.studies.base import GENERIC_FIXTURE, Study

PLUGIN = """
from harness.studies import Bar, Study


class Packaged(Study):
    name = "packaged"

    def cases(self, bench):
        return []

    def measure(self, bench, case):
        return {}

    def rows(self, bench, row):
        return []

    def bars(self, bench, case, row):
        return [Bar.skipped("none", "nothing")]
"""


@pytest.fixture()
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty registry for the test (the real one is restored after it)."""
    monkeypatch.setattr(registry, "_REGISTERED", {})
    monkeypatch.setattr(registry, "_LOADED", False)
    yield


def test_the_harness_studies_are_registered_under_the_results_names() -> None:
    names = [s.name for s in registry.registered()]
    assert names[:5] == ["pruning", "distillation", "mixed_precision", "ablation", "verdict_calibration"]
    assert set(names[:5]) <= set(STUDY_NAMES)
    assert all(s.fixture != GENERIC_FIXTURE for s in registry.registered()[:5])  # each has its own suite
    later = ["qat", "class_imbalance", "tflite", "recommendation", "model_selection", "adaptive_pruning",
             "layer_pruning"]  # fmt: skip
    assert names[5:12] == later and set(later) <= set(STUDY_NAMES)


def test_an_entry_point_study_is_loaded(fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "user_study_pkg.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    point = EntryPoint("packaged", "user_study_pkg:Packaged", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [point] if group == point.group else [])
    assert registry.study("packaged").fixture == GENERIC_FIXTURE
    assert "user_study_pkg" in sys.modules


def test_a_decorated_study_keeps_its_place_after_the_builtin_ones(fresh: None) -> None:
    @registry.register_study
    class Mine(Study):  # type: ignore[type-arg]
        name = "mine"

        def cases(self, bench):  # type: ignore[no-untyped-def]
            return []

        measure = rows = bars = cases  # type: ignore[assignment]

    names = [s.name for s in registry.registered()]
    assert names[-1] == "mine" and names[0] == "pruning"


def test_two_studies_with_one_name_are_refused(fresh: None) -> None:
    class One(Study):  # type: ignore[type-arg]
        name = "pruning"

        def cases(self, bench):  # type: ignore[no-untyped-def]
            return []

        measure = rows = bars = cases  # type: ignore[assignment]

    registry.registered()
    with pytest.raises(ConfigError, match="two studies are named 'pruning'"):
        registry.register_study(One)


def test_an_unknown_study_name_says_what_is_registered() -> None:
    with pytest.raises(ConfigError, match="no study named 'prunning'.*pruning"):
        registry.study("prunning")


def test_a_non_study_is_refused(fresh: None) -> None:
    with pytest.raises(ConfigError, match="is not a harness Study"):
        registry._add(object())
