"""Training-seed replicates: the interval of a mean paired difference over seeds and images."""

from __future__ import annotations

import numpy as np
import pytest

from harness.measure.map import Detections, GroundTruth
from harness.measure.mapboot import MatchTable, paired_map_drop
from harness.measure.seeds import SEED_UNIT, replicate_difference, seed_half_width


def _images(n: int, jitter: float, seed: int) -> tuple[list[Detections], list[GroundTruth]]:
    """``n`` images with one box each, detected with a box offset drawn with SD ``jitter``."""
    rng = np.random.default_rng(seed)
    dets, gts = [], []
    for _ in range(n):
        box = np.array([[10.0, 10.0, 50.0, 50.0]])
        gts.append(GroundTruth(box, np.array([0])))
        shift = rng.normal(0.0, jitter, size=(1, 4))
        dets.append(Detections(box + shift, np.array([0.9]), np.array([0])))
    return dets, gts


def _table(jitter: float, seed: int, n: int = 60) -> MatchTable:
    return MatchTable.build(*_images(n, jitter, seed))


def test_one_seed_is_the_image_bootstrap_of_that_pair() -> None:
    treated, control = _table(2.0, 1), _table(4.0, 2)
    one = replicate_difference([(treated, control)], resamples=400)
    drop = paired_map_drop(treated, control, resamples=400)  # control - treated
    assert one.estimate == pytest.approx(-drop.estimate) and one.n == 60 and one.unit == "val images"
    assert one.low == pytest.approx(-drop.high, abs=1e-9) and one.high == pytest.approx(-drop.low, abs=1e-9)


def test_seed_spread_widens_the_interval() -> None:
    """Four seeds whose gains disagree give a wider interval than four that agree."""
    agree = [(_table(2.0, 10 + s), _table(4.0, 20 + s)) for s in range(4)]
    disagree = [(_table(j, 10 + s), _table(4.0, 20 + s)) for s, j in enumerate((1.0, 2.0, 5.0, 7.0))]
    tight = replicate_difference(agree, resamples=400)
    wide = replicate_difference(disagree, resamples=400)
    assert tight.n == wide.n == 4 and tight.unit == wide.unit == SEED_UNIT
    assert (wide.high - wide.low) > (tight.high - tight.low)
    assert tight.low <= tight.estimate <= tight.high


def test_replicates_must_share_the_val_images() -> None:
    with pytest.raises(ValueError, match="same val images"):
        replicate_difference([(_table(2.0, 1, 60), _table(2.0, 2, 50))])
    with pytest.raises(ValueError, match="no seed replicate"):
        replicate_difference([])


def test_two_seeds_use_a_student_t_with_one_degree_of_freedom() -> None:
    """With two seeds the seed part is t(1) * |d1 - d2| / 2: wide, as two seeds honestly are; the
    interval covers both seeds' differences and is at least the seed part around the mean."""
    pairs = [(_table(1.0, 10), _table(4.0, 20)), (_table(5.0, 11), _table(4.0, 21))]
    ones = np.ones((1, 60))
    per_seed = [float(t.map50_95(ones)[0] - c.map50_95(ones)[0]) for t, c in pairs]
    both = replicate_difference(pairs, confidence=0.95, resamples=400)
    half = seed_half_width(per_seed, 0.95)
    assert half == pytest.approx(12.706 * abs(per_seed[0] - per_seed[1]) / 2, rel=1e-3)
    assert both.estimate == pytest.approx(sum(per_seed) / 2)
    assert both.low <= min(per_seed) and both.high >= max(per_seed)
    assert both.estimate - both.low >= half - 1e-12 and both.high - both.estimate >= half - 1e-12
    assert seed_half_width(per_seed[:1], 0.95) == 0.0


def test_span_fields_name_the_estimate_and_its_bounds() -> None:
    from harness.measure.seeds import seed_count, span_fields
    from harness.measure.stats import Interval

    speed = Interval(1.2, 1.1, 1.3, 0.99, 40)
    assert span_fields("speedup_vs_fp32", "speedup", speed) == {
        "speedup_vs_fp32": 1.2, "speedup_ci_low": 1.1, "speedup_ci_high": 1.3,
    }  # fmt: skip
    assert span_fields("drop", "drop", None) == {"drop": None, "drop_ci_low": None, "drop_ci_high": None}
    assert seed_count(speed) == 1 and seed_count(Interval(0.0, -1.0, 1.0, 0.95, 3, "training seeds")) == 3
