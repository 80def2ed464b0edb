"""[studies.adaptive_pruning]: defaults, the full profile's table, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config
from harness.config.adaptive_pruning import AdaptiveSpec
from harness.errors import ConfigError
from harness.results import ADAPTIVE_PRUNING


def _spec(root: Path, body: str) -> AdaptiveSpec:
    (root / "harness.toml").write_text(body)
    tables = load_config(root, profile="quick").studies
    return AdaptiveSpec.from_table(tables.table(ADAPTIVE_PRUNING), tables.where(ADAPTIVE_PRUNING))


def test_defaults_and_the_full_profile(tmp_path: Path) -> None:
    assert load_config(tmp_path, profile="full").studies.table(ADAPTIVE_PRUNING) == {
        "models": ["yolo11n"],
        "round_to": 1,
    }
    assert _spec(tmp_path, "[studies.adaptive_pruning]\n") == AdaptiveSpec()
    assert _spec(tmp_path, "[studies.adaptive_pruning]\ntarget = 0.4\ngrow = 2\n").grow == 2.0


@pytest.mark.parametrize(
    ("line", "key"),
    [("target = 1.0", "target"), ("shrink = 0", "shrink"), ("grow = 0.5", "grow"), ("finetune_epochs = 0", "finetune_epochs"),
     ("eval_images = 2", "eval_images"), ("bogus = 1", "bogus")],
)  # fmt: skip
def test_a_bad_value_names_the_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"studies\.adaptive_pruning\.{key}.*harness\.toml"):
        _spec(tmp_path, f"[studies.adaptive_pruning]\n{line}\n")
