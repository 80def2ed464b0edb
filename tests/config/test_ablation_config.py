"""The ``[ablation]`` table: defaults, every key parsed, and errors naming the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import HarnessConfig, load_config
from harness.config.ablation import ABLATION_KEYS, ROWS, AblationSpec
from harness.config.reader import Where
from harness.errors import ConfigError
from harness.results import ABLATION


def _load(root: Path, table: str, name: str = "harness.toml") -> HarnessConfig:
    """A quick-profile config whose ``[ablation]`` table is ``table``."""
    path = root / name
    path.write_text(f"[ablation]\n{table}\n")
    return load_config(root, path=path, profile="quick")


def test_defaults_without_a_table(tmp_path: Path) -> None:
    """No table and an empty table both give the documented defaults."""
    spec = AblationSpec()
    assert (spec.backend, spec.multi_scale, spec.max_map_drop) == ("onnxruntime", 0.5, 0.01)
    assert load_config(tmp_path, profile="quick").ablation == spec
    assert _load(tmp_path, "").ablation == spec


def test_rows_and_names() -> None:
    """Seven rows in the source documents' order; the study name used in results.json."""
    assert ROWS == ("Baseline", "+KD", "+INT8", "+Multi-scale training", "+TTA", "+Pruning", "All combined")
    assert ABLATION == "ablation"
    assert ABLATION_KEYS == ("backend", "multi_scale", "max_map_drop")


def test_every_key_is_parsed(tmp_path: Path) -> None:
    config = _load(tmp_path, 'backend = "openvino"\nmulti_scale = 0.25\nmax_map_drop = 0.02')
    assert config.ablation == AblationSpec("openvino", 0.25, 0.02)


def test_integers_are_numbers_and_zero_turns_multi_scale_off(tmp_path: Path) -> None:
    config = _load(tmp_path, "multi_scale = 0\nmax_map_drop = 0")
    assert (config.ablation.multi_scale, config.ablation.max_map_drop) == (0.0, 0.0)
    assert isinstance(config.ablation.multi_scale, float)


def test_spec_is_frozen() -> None:
    with pytest.raises(AttributeError):
        AblationSpec().backend = "torch"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ('backend = "onnxrunime"', "ablation.backend", "did you mean 'onnxruntime'"),
        ('backend = ""', "ablation.backend", "a non-empty string"),
        ("backend = 3", "ablation.backend", "a non-empty string"),
        ("multi_scale = 0.9", "ablation.multi_scale", "a number in [0.0, 0.9)"),
        ("multi_scale = -0.1", "ablation.multi_scale", "a number in [0.0, 0.9)"),
        ('multi_scale = "big"', "ablation.multi_scale", "a number"),
        ("multi_scale = true", "ablation.multi_scale", "a number"),
        ("max_map_drop = 1.0", "ablation.max_map_drop", "a number in [0.0, 1.0)"),
        ("max_map_drop = -0.01", "ablation.max_map_drop", "a number in [0.0, 1.0)"),
        ("max_map_drop = nan", "ablation.max_map_drop", "a number"),
        ("multiscale = 0.5", "ablation.multiscale", "did you mean 'multi_scale'"),
    ],
)
def test_bad_values_name_the_key_and_the_file(tmp_path: Path, table: str, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, table, name="ablate.toml")
    message = str(info.value)
    assert key in message and "ablate.toml" in message and expected in message


def test_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "harness.toml"
    path.write_text("ablation = 3\n")
    with pytest.raises(ConfigError, match=r"ablation in harness\.toml: expected a table"):
        load_config(tmp_path, path=path, profile="quick")


def test_pyproject_prefix(tmp_path: Path) -> None:
    """In pyproject.toml the key is reported under ``tool.harness``."""
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.harness.ablation]\nbackend = "nope"\n')
    with pytest.raises(ConfigError, match=r"tool\.harness\.ablation\.backend in pyproject\.toml"):
        load_config(tmp_path, path=path, profile="quick")


def test_from_mapping_checks_the_given_backends() -> None:
    """The backend must be one of the names passed in, whatever the registry holds."""
    where = Where("x.toml", "ablation")
    assert AblationSpec.from_mapping({"backend": "mine"}, where, ("mine",)).backend == "mine"
    with pytest.raises(ConfigError, match=r"ablation\.backend in x\.toml: unknown value 'onnxruntime'"):
        AblationSpec.from_mapping({"backend": "onnxruntime"}, where, ("mine",))
    assert AblationSpec.from_mapping({}, where, ()) == AblationSpec()
