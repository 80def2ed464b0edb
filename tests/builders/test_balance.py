"""Class-imbalance treatments: median-frequency weights, repeat factors, the trainers."""

from __future__ import annotations

import numpy as np
import pytest

from harness.builders.balance import balanced_trainer, class_counts, median_frequency_weights, repeat_factors


def test_class_counts_count_objects() -> None:
    assert class_counts([np.array([[0], [2]]), np.array([2.0]), np.zeros((0, 1))], 4).tolist() == [1, 0, 2, 0]


def test_median_frequency_weights() -> None:
    counts = np.array([40.0, 20.0, 10.0, 5.0, 0.0])
    weights = median_frequency_weights(counts)
    freq = counts[:4] / counts.sum()
    assert weights[:4] == pytest.approx(np.median(freq) / freq)
    assert weights[4] == pytest.approx(weights[:4].mean())  # no labels: the mean weight
    assert median_frequency_weights(np.zeros(3)).tolist() == [1.0, 1.0, 1.0]


def test_an_image_repeats_by_its_rarest_class() -> None:
    # class 0 in 8 of 10 images, class 1 in 2, class 2 in 1: median share 0.2
    labels = [np.array([0.0])] * 7 + [np.array([0.0, 1.0]), np.array([1.0]), np.array([2.0])]
    factors = repeat_factors(labels, 3)
    assert factors[:7].tolist() == [1.0] * 7  # frequent: never below 1
    assert factors[7] == pytest.approx(1.0) and factors[8] == pytest.approx(1.0)  # class 1 at the median
    assert factors[9] == pytest.approx(np.sqrt(0.2 / 0.1))
    assert repeat_factors([np.zeros(0)], 2).tolist() == [1.0]


def test_trainers_override_only_public_hooks() -> None:
    class Base:
        def compute_class_weights(self, counts: np.ndarray) -> np.ndarray:
            return counts

        def get_dataloader(self) -> str:
            return "stock"

    median: type = balanced_trainer(Base, "median_frequency", 0)
    weights = median.compute_class_weights(median(), np.array([1.0, 3.0]))  # type: ignore[attr-defined]
    assert weights.tolist() == pytest.approx([2.0, 2 / 3])
    sampler: type = balanced_trainer(Base, "balanced_sampler", 0)
    assert sampler.get_dataloader is not Base.get_dataloader  # type: ignore[attr-defined]
    assert balanced_trainer(Base, "focal", 0) is Base  # focal changes the loss, not the trainer
