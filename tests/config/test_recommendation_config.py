"""[studies.recommendation]: defaults, optional bars, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config
from harness.config.recommendation import RecommendationSpec
from harness.errors import ConfigError
from harness.results import RECOMMENDATION


def _spec(root: Path, body: str, profile: str = "quick") -> RecommendationSpec:
    root.mkdir(exist_ok=True)
    (root / "harness.toml").write_text(body)
    tables = load_config(root, profile=profile).studies
    return RecommendationSpec.from_table(tables.table(RECOMMENDATION), tables.where(RECOMMENDATION))


def test_an_empty_table_takes_the_defaults_and_judges_no_bar(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "[studies.recommendation]\n")
    assert spec == RecommendationSpec() and spec.min_speedup is None and spec.max_roofline_ratio is None


def test_the_default_profile_recommends_and_the_full_profile_combines(tmp_path: Path) -> None:
    assert load_config(tmp_path, profile="default").studies.has(RECOMMENDATION)
    assert not load_config(tmp_path, profile="quick").studies.has(RECOMMENDATION)
    assert _spec(tmp_path, "", profile="full").combine


def test_bars_and_models_are_read(tmp_path: Path) -> None:
    body = '[studies.recommendation]\nmodels = ["yolo11n"]\nmin_speedup = 8\nmax_roofline_ratio = 1.5\n'
    spec = _spec(tmp_path, body)
    assert (spec.models, spec.min_speedup, spec.max_roofline_ratio) == (("yolo11n",), 8.0, 1.5)
    assert spec.interleaved_rounds is None


def test_the_recommendations_own_round_count_leaves_latency_alone(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "a", "[studies.recommendation]\ninterleaved_rounds = 300\n")
    assert spec.interleaved_rounds == 300
    _spec(tmp_path / "b", "[studies.recommendation]\n")
    assert (
        load_config(tmp_path / "a", profile="quick").latency
        == load_config(tmp_path / "b", profile="quick").latency
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [("screen_rounds = 2", "screen_rounds"), ("interleaved_rounds = 2", "interleaved_rounds"),
     ('combine = "yes"', "combine"), ("min_speedup = 0", "min_speedup"),
     ("max_roofline_ratio = -1", "max_roofline_ratio"), ("bogus = 1", "bogus"), ('models = "yolo11n"', "models")],
)  # fmt: skip
def test_a_bad_value_names_the_key_and_the_file(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"studies\.recommendation\.{key}.*harness\.toml"):
        _spec(tmp_path, f"[studies.recommendation]\n{line}\n")
