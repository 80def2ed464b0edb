"""The ``[studies.class_imbalance]`` table: defaults, and errors that name the key."""

from __future__ import annotations

import pytest

from harness.config.imbalance import IMBALANCE_METHODS, ImbalanceSpec
from harness.config.reader import Where
from harness.errors import ConfigError

WHERE = Where("harness.toml", "studies.class_imbalance")


def test_an_empty_table_takes_every_default() -> None:
    spec = ImbalanceSpec.from_table({}, WHERE)
    assert spec.methods == IMBALANCE_METHODS and spec.frequencies is None and spec.rare is None
    assert spec.min_rare_gain is None
    assert dict(spec.loss_weights) == {"cls": 1.5} and (spec.gamma, spec.alpha) == (1.5, 0.25)


def test_values_are_read() -> None:
    table = {"frequencies": [3, 1], "methods": ["focal"], "epochs": 2, "imgsz": 64, "rare": ["ring"],
             "loss_weights": {"box": 5.0, "cls": 2}, "focal": {"gamma": 2.0, "alpha": 0}, "min_rare_gain": 0.01}  # fmt: skip
    spec = ImbalanceSpec.from_table(table, WHERE)
    assert spec.frequencies == (3.0, 1.0) and spec.methods == ("focal",) and spec.rare == ("ring",)
    assert spec.min_rare_gain == 0.01
    assert dict(spec.loss_weights) == {"box": 5.0, "cls": 2.0} and (spec.gamma, spec.alpha) == (2.0, 0.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"methods": ["focall"]}, r"studies.class_imbalance.methods in harness.toml: unknown value 'focall'.*did you mean 'focal'"),
        ({"loss_weights": {"clss": 1.0}}, r"unknown key 'studies.class_imbalance.loss_weights.clss'"),
        ({"loss_weights": {}}, r"studies.class_imbalance.loss_weights in harness.toml: expected a table of at least one"),
        ({"focal": {"alpha": 1.0}}, r"studies.class_imbalance.focal.alpha in harness.toml: expected a number in"),
        ({"frequencies": [1]}, r"studies.class_imbalance.frequencies in harness.toml: expected a list of at least two"),
        ({"frequencies": [1, 0]}, r"studies.class_imbalance.frequencies in harness.toml: expected a number"),
        ({"rare": "ring"}, r"studies.class_imbalance.rare in harness.toml: expected a list"),
    ],
)  # fmt: skip
def test_bad_values_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ImbalanceSpec.from_table(table, WHERE)
