"""The class-imbalance study: its cases and errors, and every method trained on the quick model."""

from __future__ import annotations

import dataclasses

import pytest

from harness.bench import Bench
from harness.config import HarnessConfig
from harness.config.reader import Where
from harness.config.studies import StudyTables
from harness.errors import ConfigError
from harness.recipes import SyntheticDataRecipe, TrainRecipe
from harness.studies.imbalance import ImbalanceStudy, cases, measure_case

WHERE = Where("harness.toml", "studies")


def _bench(config: HarnessConfig, table: dict[str, object] | None) -> Bench:
    tables = StudyTables((("class_imbalance", table),), WHERE) if table is not None else StudyTables()
    return Bench.from_config(dataclasses.replace(config, studies=tables))


def test_no_table_no_cases(quick_config: HarnessConfig) -> None:
    assert cases(_bench(quick_config, None)) == []


def test_a_case_per_method_each_against_one_untreated_control(quick_config: HarnessConfig) -> None:
    found = cases(_bench(quick_config, {"epochs": 1, "imgsz": 64}))
    assert [c.slug for c in found] == [
        "yolo11n-imbalance-loss-weights", "yolo11n-imbalance-focal", "yolo11n-imbalance-median-frequency",
        "yolo11n-imbalance-balanced-sampler",
    ]  # fmt: skip
    controls = {c.control.source.key() for c in found}
    assert len(controls) == 1
    control = found[0].control.source
    assert isinstance(control, TrainRecipe) and control.init is None and control.balance is None
    assert isinstance(control.data, SyntheticDataRecipe) and control.data.class_frequencies == (
        40,
        20,
        10,
        5,
        2,
        1,
    )
    assert found[0].rare == (3, 4, 5) and found[0].names[5] == "ring"  # the rarer half of the long tail
    treated = [c.treated.source for c in found]
    assert dict(treated[0].hyp)["cls"] == 1.5 and treated[0].balance is None  # type: ignore[union-attr]
    assert [t.balance.method for t in treated[1:]] == ["focal", "median_frequency", "balanced_sampler"]  # type: ignore[union-attr]
    assert dict(treated[2].hyp)["cls_pw"] == 1.0  # type: ignore[union-attr]


def test_a_rare_class_not_in_the_data_is_named(quick_config: HarnessConfig) -> None:
    with pytest.raises(
        ConfigError,
        match=r"studies.class_imbalance.rare .*class 'hexagon' is not in the data \(classes: circle",
    ):
        cases(_bench(quick_config, {"rare": ["ring", "hexagon"]}))  # fmt: skip


def test_frequencies_need_one_per_class(quick_config: HarnessConfig) -> None:
    with pytest.raises(ConfigError, match=r"frequencies .*expected 6 frequencies, one per class"):
        cases(_bench(quick_config, {"frequencies": [2, 1]}))


def test_every_method_trains_and_is_scored_against_the_control(quick_config: HarnessConfig) -> None:
    """One 64 px epoch per method on the quick long-tail data: rows, gains and per-class AP."""
    table = {"epochs": 1, "imgsz": 64, "rare": ["star", "cross", "ring"], "min_rare_gain": -1.0}
    bench = _bench(quick_config, table)
    study = ImbalanceStudy()
    for case in cases(bench):
        row = measure_case(bench, case)
        record = row.to_dict()
        assert record["rare_classes"] == ["star", "cross", "ring"] and sum(row.train_objects.values()) > 0
        assert row.train_objects["circle"] > row.train_objects["ring"]
        for group in ("all", "rare", "frequent"):
            gain = row.gains[group]
            assert gain is not None and gain.low <= gain.estimate <= gain.high
        assert set(row.per_class["control"]) == set(case.names)
        (bar,) = study.bars(bench, case, row)
        assert bar.name == "rare_gain" and bar.checks[0].metric == "map50_95" and bar.checks[0].limit == -1.0
    unjudged = _bench(quick_config, {"epochs": 1, "imgsz": 64})
    (case, *_) = cases(unjudged)
    (bar,) = study.bars(unjudged, case, measure_case(unjudged, case))
    assert bar.skip is not None and "rare-class gain" in bar.skip and "no min_rare_gain set" in bar.skip
