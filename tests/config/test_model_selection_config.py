"""[studies.model_selection]: defaults, the full profile's table, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config
from harness.config.model_selection import ModelSelectionSpec
from harness.errors import ConfigError
from harness.results import MODEL_SELECTION


def _spec(root: Path, body: str, profile: str = "quick") -> ModelSelectionSpec:
    (root / "harness.toml").write_text(body)
    tables = load_config(root, profile=profile).studies
    return ModelSelectionSpec.from_table(tables.table(MODEL_SELECTION), tables.where(MODEL_SELECTION))


def test_defaults_and_the_full_profile(tmp_path: Path) -> None:
    assert load_config(tmp_path, profile="full").studies.has(MODEL_SELECTION)
    assert not load_config(tmp_path, profile="default").studies.has(MODEL_SELECTION)
    assert _spec(tmp_path, "[studies.model_selection]\n") == ModelSelectionSpec(None, 15, 0.25)
    spec = _spec(tmp_path, '[studies.model_selection]\nbackends = ["torch"]\nrounds = 5\nconf = 0.5\n')
    assert spec == ModelSelectionSpec(("torch",), 5, 0.5)


@pytest.mark.parametrize(
    ("line", "key"), [("rounds = 1", "rounds"), ("conf = 1.5", "conf"), ('backends = "torch"', "backends"),
                      ("bogus = 1", "bogus")],
)  # fmt: skip
def test_a_bad_value_names_the_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"studies\.model_selection\.{key}.*harness\.toml"):
        _spec(tmp_path, f"[studies.model_selection]\n{line}\n")
