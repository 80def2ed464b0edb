"""The ``[pruning]`` table's rounding choices agree with the recipes'."""

from __future__ import annotations

from harness.config.pruning import ROUNDINGS
from harness.prune.rounding import ROUNDINGS as PRUNE_ROUNDINGS
from harness.recipes import PRUNE_CHOICES


def test_config_rounding_choices_are_the_recipes() -> None:
    assert ROUNDINGS == PRUNE_CHOICES["rounding"] == PRUNE_ROUNDINGS == ("down", "nearest")
