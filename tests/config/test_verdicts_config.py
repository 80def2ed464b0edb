"""The ``[verdicts]`` table: defaults, every key parsed, and errors naming the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import HarnessConfig, load_config
from harness.config.reader import Where
from harness.config.verdicts import INCONCLUSIVE_POLICIES, VERDICT_KEYS, VerdictSpec
from harness.errors import ConfigError


def _load(root: Path, table: str, name: str = "harness.toml") -> HarnessConfig:
    """A quick-profile config whose ``[verdicts]`` table is ``table``."""
    path = root / name
    path.write_text(f"[verdicts]\n{table}\n")
    return load_config(root, path=path, profile="quick")


def test_defaults_without_a_table(tmp_path: Path) -> None:
    spec = VerdictSpec()
    assert (spec.latency_confidence, spec.accuracy_confidence, spec.accuracy_resamples) == (0.99, 0.95, 1000)
    assert (spec.inconclusive, spec.calibration_trials, spec.inconclusive_fails) == ("pass", 0, False)
    assert spec.training_seeds == 2 and not spec.tuned_reference
    assert load_config(tmp_path, profile="default").verdicts == spec
    quick = VerdictSpec(training_seeds=1)  # one-epoch models: no training claim worth a second seed
    assert load_config(tmp_path, profile="quick").verdicts == quick
    assert _load(tmp_path, "").verdicts == quick


def test_full_profile_calibrates() -> None:
    """The full profile runs 100 calibration trials per model."""
    assert load_config(Path("/nonexistent-root"), profile="full").verdicts.calibration_trials == 100


def test_every_key_is_parsed(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "latency_confidence = 0.9\naccuracy_confidence = 0.5\naccuracy_resamples = 100\n"
        'inconclusive = "fail"\ncalibration_trials = 7\ntraining_seeds = 4\ntuned_reference = true',
    )
    assert config.verdicts == VerdictSpec(0.9, 0.5, 100, "fail", 7, 4, tuned_reference=True)
    assert config.verdicts.inconclusive_fails
    assert set(VERDICT_KEYS) == {
        "latency_confidence", "accuracy_confidence", "accuracy_resamples", "inconclusive",
        "calibration_trials", "training_seeds", "tuned_reference",
    }  # fmt: skip
    assert INCONCLUSIVE_POLICIES == ("pass", "fail")


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ("latency_confidence = 1.0", "verdicts.latency_confidence", "a number in [0.5, 1.0)"),
        ("latency_confidence = 1", "verdicts.latency_confidence", "a number in [0.5, 1.0)"),
        ("latency_confidence = 0.4", "verdicts.latency_confidence", "a number in [0.5, 1.0)"),
        ('latency_confidence = "0.99"', "verdicts.latency_confidence", "a number"),
        ("accuracy_confidence = 1.5", "verdicts.accuracy_confidence", "a number in [0.5, 1.0)"),
        ("accuracy_confidence = true", "verdicts.accuracy_confidence", "a number"),
        ("accuracy_resamples = 99", "verdicts.accuracy_resamples", "an integer >= 100"),
        ("accuracy_resamples = 1000.0", "verdicts.accuracy_resamples", "an integer >= 100"),
        ("calibration_trials = -1", "verdicts.calibration_trials", "an integer >= 0"),
        ("calibration_trials = true", "verdicts.calibration_trials", "an integer >= 0"),
        ("training_seeds = 0", "verdicts.training_seeds", "an integer >= 1"),
        ('tuned_reference = "yes"', "verdicts.tuned_reference", "expected true or false"),
        ("tuned_reference = 1", "verdicts.tuned_reference", "expected true or false"),
        ('inconclusive = "fial"', "verdicts.inconclusive", "did you mean 'fail'"),
        ("inconclusive = 1", "verdicts.inconclusive", "a non-empty string"),
        ("latency_confidenc = 0.9", "verdicts.latency_confidenc", "did you mean 'latency_confidence'"),
    ],
)
def test_bad_values_name_the_key_and_the_file(tmp_path: Path, table: str, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, table, name="verdict.toml")
    message = str(info.value)
    assert key in message and "verdict.toml" in message and expected in message


def test_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "harness.toml"
    path.write_text('verdicts = "strict"\n')
    with pytest.raises(ConfigError, match=r"verdicts in harness\.toml: expected a table"):
        load_config(tmp_path, path=path, profile="quick")


def test_overrides_are_named_as_their_source(tmp_path: Path) -> None:
    """A bad value from command-line overrides names them, not a file."""
    with pytest.raises(ConfigError, match=r"verdicts\.inconclusive in command-line overrides"):
        load_config(tmp_path, profile="quick", overrides={"verdicts": {"inconclusive": "never"}})


def test_from_mapping_direct() -> None:
    where = Where("x.toml", "verdicts")
    assert VerdictSpec.from_mapping({"accuracy_resamples": 250}, where).accuracy_resamples == 250
    with pytest.raises(ConfigError, match=r"verdicts\.accuracy_confidence in x\.toml"):
        VerdictSpec.from_mapping({"accuracy_confidence": 1.0}, where)


@pytest.mark.parametrize(
    "fields",
    [
        {"latency_confidence": 1.0},
        {"latency_confidence": 0.49},
        {"accuracy_confidence": 1.2},
        {"inconclusive": "maybe"},
    ],
)
def test_constructor_validates(fields: dict[str, object]) -> None:
    """Direct construction validates too (the same bounds as the table)."""
    with pytest.raises(ValueError, match="verdicts"):
        VerdictSpec(**fields)  # type: ignore[arg-type]


def test_spec_is_frozen_and_hashable() -> None:
    spec = VerdictSpec()
    assert hash(spec) == hash(VerdictSpec())
    with pytest.raises(AttributeError):
        spec.inconclusive = "fail"  # type: ignore[misc]
