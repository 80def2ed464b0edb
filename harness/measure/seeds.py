"""Intervals for claims about training outcomes: training-seed noise and val-image noise together.

A KD gain, a pruning recovery or a multi-scale row compares two *trained* models. One training
seed's difference mixes the effect with that seed's luck (KD's gain over its control was +0.0113
on average over four seeds with an SD of 0.0066), and a bootstrap over val images alone does not
see that luck. Here each of R seeds gives a pair (treated, control) trained with that seed; a draw
resamples the seeds *and* the val images (the same image draw for every model, so image
difficulty still cancels), and the interval is taken over draws of the mean paired difference.
With one seed the seed spread is unmeasured: the interval is the images' only and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from harness.measure.mapboot import DEFAULT_MAP_RESAMPLES, MatchTable, bootstrap_weights
from harness.measure.stats import DEFAULT_CONFIDENCE, Interval, percentile_interval

__all__ = ["replicate_difference"]


def replicate_difference(
    pairs: Sequence[tuple[MatchTable, MatchTable]],
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_MAP_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Interval of the mean over training seeds of mAP50-95(treated) - mAP50-95(control), from one
    ``(treated, control)`` pair of match tables per seed, resampling seeds and val images.

    The interval's ``n`` is the number of seeds (what more replicates would add to)."""
    if not pairs:
        raise ValueError("no seed replicate to compare")
    n_images = pairs[0][0].n_images
    if any(t.n_images != n_images or c.n_images != n_images for t, c in pairs):
        raise ValueError("every replicate must be scored on the same val images")
    ones = np.ones((1, n_images))
    per_seed = np.array([t.map50_95(ones)[0] - c.map50_95(ones)[0] for t, c in pairs])
    weights = bootstrap_weights(n_images, resamples, seed)
    draws = np.stack([t.map50_95(weights) - c.map50_95(weights) for t, c in pairs])  # (R, B)
    rng = np.random.default_rng(seed + 1)
    chosen = rng.integers(0, len(pairs), size=(resamples, len(pairs)))  # seeds drawn per draw
    means = draws[chosen, np.arange(resamples)[:, None]].mean(axis=1)
    interval = percentile_interval(float(per_seed.mean()), means, confidence)
    return dataclasses.replace(interval, n=len(pairs))
