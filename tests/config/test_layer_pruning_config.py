"""[studies.layer_pruning]: defaults, the full profile's table, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config
from harness.config.layer_pruning import LayerSpec
from harness.errors import ConfigError
from harness.results import LAYER_PRUNING


def _spec(root: Path, body: str) -> LayerSpec:
    (root / "harness.toml").write_text(body)
    tables = load_config(root, profile="quick").studies
    return LayerSpec.from_table(tables.table(LAYER_PRUNING), tables.where(LAYER_PRUNING))


def test_defaults_and_the_full_profile(tmp_path: Path) -> None:
    assert load_config(tmp_path, profile="full").studies.table(LAYER_PRUNING) == {"models": ["yolo11n"]}
    assert _spec(tmp_path, "[studies.layer_pruning]\n") == LayerSpec()
    assert _spec(tmp_path, '[studies.layer_pruning]\nblocks = 4\nbackends = ["torch"]\n').backends == (
        "torch",
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [("blocks = 0", "blocks"), ("finetune_epochs = 0", "finetune_epochs"), ("eval_images = 1", "eval_images"),
     ('backends = "torch"', "backends"), ("bogus = 1", "bogus")],
)  # fmt: skip
def test_a_bad_value_names_the_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"studies\.layer_pruning\.{key}.*harness\.toml"):
        _spec(tmp_path, f"[studies.layer_pruning]\n{line}\n")
