"""Paired bootstrap of mAP: exact at unit weights, multiplicities = duplicated images, verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_detections import detect, scene

from harness.measure.map import mean_average_precision
from harness.measure.mapboot import MatchTable, bootstrap_weights, paired_map_drop
from harness.measure.stats import Verdict, verdict


def test_unit_weights_reproduce_coco_map() -> None:
    rng = np.random.default_rng(0)
    gts = scene(rng)
    dets = detect(gts, rng, 0.05)
    table = MatchTable.build(dets, gts)
    got = table.map50_95(np.ones((1, len(gts))))[0]
    assert got == pytest.approx(mean_average_precision(dets, gts).map50_95, abs=1e-12)


def test_weights_equal_duplicated_images() -> None:
    rng = np.random.default_rng(1)
    gts = scene(rng, 20)
    dets = detect(gts, rng, 0.05)
    weights = bootstrap_weights(len(gts), 3, seed=5)
    table = MatchTable.build(dets, gts)
    for row, got in zip(weights, table.map50_95(weights)):
        picks = np.repeat(np.arange(len(gts)), row.astype(int))
        want = mean_average_precision([dets[i] for i in picks], [gts[i] for i in picks]).map50_95
        assert got == pytest.approx(want, abs=2e-3)  # ties between copies may order differently


def test_reference_against_itself_is_exactly_zero() -> None:
    rng = np.random.default_rng(2)
    gts = scene(rng)
    table = MatchTable.build(detect(gts, rng, 0.05), gts)
    interval = paired_map_drop(table, table, resamples=200)
    assert (interval.low, interval.estimate, interval.high) == (0.0, 0.0, 0.0)
    assert verdict(interval, 0.0, higher_is_better=False) is Verdict.PASS


def test_one_point_degradation_is_flagged_where_unpaired_spread_is_wider() -> None:
    rng = np.random.default_rng(3)
    gts = scene(rng, 200)
    base = detect(gts, np.random.default_rng(4), 0.04)
    worse = detect(gts, np.random.default_rng(4), 0.042)  # same draws, slightly noisier boxes
    ref, var = MatchTable.build(base, gts), MatchTable.build(worse, gts)
    interval = paired_map_drop(var, ref, resamples=300)
    assert 0.005 < interval.estimate < 0.03
    assert verdict(interval, 0.0, higher_is_better=False) is Verdict.FAIL
    spread = np.std(ref.map50_95(bootstrap_weights(len(gts), 300, seed=9)))
    assert interval.high - interval.low < 2 * 2.576 * spread


def test_mismatched_image_lists_raise() -> None:
    rng = np.random.default_rng(5)
    gts = scene(rng, 10)
    a = MatchTable.build(detect(gts, rng, 0.05), gts)
    b = MatchTable.build(detect(gts[:5], rng, 0.05), gts[:5])
    with pytest.raises(ValueError, match="images"):
        paired_map_drop(a, b)
    with pytest.raises(ValueError, match="shape"):
        a.map50_95(np.ones((2, 3)))


def test_a_table_restricted_to_classes_scores_them_alone() -> None:
    rng = np.random.default_rng(3)
    gts = scene(rng, 30)
    dets = detect(gts, rng, 0.05)
    table = MatchTable.build(dets, gts)
    per_class = mean_average_precision(dets, gts).per_class
    some = table.class_ids[:2]
    got = table.only(some).map50_95(np.ones((1, len(gts))))[0]
    assert table.only(some).class_ids == some
    assert got == pytest.approx(np.mean([per_class[c] for c in some]), abs=1e-12)
