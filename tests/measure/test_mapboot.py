"""Paired bootstrap of mAP: exact at unit weights, multiplicities = duplicated images, verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from harness.measure.map import Detections, GroundTruth, mean_average_precision
from harness.measure.mapboot import MatchTable, bootstrap_weights, paired_map_drop
from harness.measure.stats import Verdict, verdict


def _scene(rng: np.random.Generator, n_images: int = 60, nc: int = 3) -> list[GroundTruth]:
    gts = []
    for _ in range(n_images):
        m = int(rng.integers(1, 6))
        xy = rng.uniform(0, 200, size=(m, 2))
        wh = rng.uniform(10, 60, size=(m, 2))
        gts.append(GroundTruth(np.hstack([xy, xy + wh]), rng.integers(0, nc, size=m)))
    return gts


def _detect(gts: list[GroundTruth], rng: np.random.Generator, jitter: float) -> list[Detections]:
    """Detections of a decent model: every object found with box noise, plus some false positives."""
    dets = []
    for gt in gts:
        size = gt.boxes[:, 2:] - gt.boxes[:, :2]
        noise = rng.normal(0, jitter, size=gt.boxes.shape) * np.hstack([size, size])
        fp_xy = rng.uniform(0, 200, size=(2, 2))
        boxes = np.vstack([gt.boxes + noise, np.hstack([fp_xy, fp_xy + 30])])
        scores = np.concatenate([rng.uniform(0.3, 1.0, len(gt.boxes)), rng.uniform(0.0, 0.6, 2)])
        classes = np.concatenate([gt.classes, rng.integers(0, 3, 2)])
        dets.append(Detections(boxes, scores, classes))
    return dets


def test_unit_weights_reproduce_coco_map() -> None:
    rng = np.random.default_rng(0)
    gts = _scene(rng)
    dets = _detect(gts, rng, 0.05)
    table = MatchTable.build(dets, gts)
    got = table.map50_95(np.ones((1, len(gts))))[0]
    assert got == pytest.approx(mean_average_precision(dets, gts).map50_95, abs=1e-12)


def test_weights_equal_duplicated_images() -> None:
    rng = np.random.default_rng(1)
    gts = _scene(rng, 20)
    dets = _detect(gts, rng, 0.05)
    weights = bootstrap_weights(len(gts), 3, seed=5)
    table = MatchTable.build(dets, gts)
    for row, got in zip(weights, table.map50_95(weights)):
        picks = np.repeat(np.arange(len(gts)), row.astype(int))
        want = mean_average_precision([dets[i] for i in picks], [gts[i] for i in picks]).map50_95
        assert got == pytest.approx(want, abs=2e-3)  # ties between copies may order differently


def test_reference_against_itself_is_exactly_zero() -> None:
    rng = np.random.default_rng(2)
    gts = _scene(rng)
    table = MatchTable.build(_detect(gts, rng, 0.05), gts)
    interval = paired_map_drop(table, table, resamples=200)
    assert (interval.low, interval.estimate, interval.high) == (0.0, 0.0, 0.0)
    assert verdict(interval, 0.0, higher_is_better=False) is Verdict.PASS


def test_one_point_degradation_is_flagged_where_unpaired_spread_is_wider() -> None:
    rng = np.random.default_rng(3)
    gts = _scene(rng, 200)
    base = _detect(gts, np.random.default_rng(4), 0.04)
    worse = _detect(gts, np.random.default_rng(4), 0.042)  # same draws, slightly noisier boxes
    ref, var = MatchTable.build(base, gts), MatchTable.build(worse, gts)
    interval = paired_map_drop(var, ref, resamples=300)
    assert 0.005 < interval.estimate < 0.03
    assert verdict(interval, 0.0, higher_is_better=False) is Verdict.FAIL
    spread = np.std(ref.map50_95(bootstrap_weights(len(gts), 300, seed=9)))
    assert interval.high - interval.low < 2 * 2.576 * spread


def test_mismatched_image_lists_raise() -> None:
    rng = np.random.default_rng(5)
    gts = _scene(rng, 10)
    a = MatchTable.build(_detect(gts, rng, 0.05), gts)
    b = MatchTable.build(_detect(gts[:5], rng, 0.05), gts[:5])
    with pytest.raises(ValueError, match="images"):
        paired_map_drop(a, b)
    with pytest.raises(ValueError, match="shape"):
        a.map50_95(np.ones((2, 3)))
