"""Typed table reads: messages name the source and the dotted key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.config.reader import Where, check_keys, did_you_mean
from harness.errors import ConfigError

W = Where("f.toml", "tool.harness")


def test_dotted_positions() -> None:
    assert W.key("a") == "tool.harness.a"
    assert W.child("models").item(2).key("name") == "tool.harness.models[2].name"
    assert Where("f.toml").key("a") == "a"


def test_did_you_mean() -> None:
    assert did_you_mean("matrx", ["matrix", "models"]) == "; did you mean 'matrix'?"
    assert did_you_mean("zzzz", ["matrix"]) == ""


def test_check_keys_suggests() -> None:
    check_keys({"matrix": 1}, ["matrix"], W)
    with pytest.raises(ConfigError, match=r"^unknown key 'tool\.harness\.matrx' in f\.toml; did you mean"):
        check_keys({"matrx": 1}, ["matrix"], W)


@given(st.integers(-10, 10))
def test_integer_bounds(value: int) -> None:
    if value >= 0:
        assert W.integer(value, "n", 0) == value
    else:
        with pytest.raises(ConfigError, match=r"tool\.harness\.n in f\.toml: expected an integer >= 0"):
            W.integer(value, "n", 0)


@pytest.mark.parametrize("value", [True, 1.0, "1", None])
def test_integer_rejects_non_integers(value: object) -> None:
    with pytest.raises(ConfigError):
        W.integer(value, "n")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "0.1", -0.1, 1.0])
def test_number_rejects_out_of_range_and_non_numbers(value: object) -> None:
    with pytest.raises(ConfigError, match=r"expected a number in \[0\.0, 1\.0\)"):
        W.number(value, "x", 0.0, 1.0)


def test_number_accepts_integers() -> None:
    assert W.number(1, "x", 0.0) == 1.0


def test_choice_and_containers() -> None:
    assert W.choice("fp16", "p", ("fp16", "fp32")) == "fp16"
    with pytest.raises(ConfigError, match=r"unknown value 'fp61' \(expected one of: fp16, fp32\); did"):
        W.choice("fp61", "p", ("fp16", "fp32"))
    assert W.sequence((1, 2), "l") == [1, 2]
    with pytest.raises(ConfigError, match="expected a list"):
        W.sequence("ab", "l")
    with pytest.raises(ConfigError, match="expected a table"):
        W.table([], "t")
    with pytest.raises(ConfigError, match="expected a non-empty string"):
        W.string("", "s")
