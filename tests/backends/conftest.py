"""Checks every backend's runners must pass, as fixtures for the backend tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from harness.bench import Bench
from harness.recipes import Variant

BatchCheck = Callable[[Bench, Variant], None]


def _batch_matches_single(session: Bench, variant: Variant) -> None:
    """Image 2 of a batch-2 run equals the same image run alone through the batch-1 runner."""
    x2 = session.input_batch(variant, 2)
    batched = session.runner(variant, batch=2)(x2)
    single = session.runner(variant, batch=1)(x2[1:2])
    np.testing.assert_allclose(batched[1:2], single, atol=1e-4)


@pytest.fixture()
def batch_matches_single() -> BatchCheck:
    """The batched-runner check: batch 2 gives, per image, what batch 1 gives."""
    return _batch_matches_single
