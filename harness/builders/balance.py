"""Treatments of class imbalance, through Ultralytics' public trainer hooks.

- **median-frequency class weights**: the detection trainer's ``compute_class_weights`` (a method
  meant to be overridden) returns ``median(freq) / freq(c)`` over the train labels' class counts
  (classes without labels get the mean weight, as Ultralytics does). Ultralytics applies class
  weights only when ``cls_pw > 0`` and rescales them to mean 1, so the recipe sets ``cls_pw = 1``
  and the weights act in their ratios while the class loss keeps its ``cls`` gain;
- **class-balanced resampling**: the trainer's ``get_dataloader`` (public) returns the train
  loader with a seeded ``WeightedRandomSampler``: each image is drawn in proportion to the repeat
  factor of its rarest class, ``max(1, sqrt(t / f(c)))`` with ``f(c)`` the share of train images
  holding class ``c`` and ``t`` the median of those shares (LVIS repeat-factor sampling); an epoch
  draws as many images as the split holds;
- **focal loss** on the class branch: Ultralytics has no public switch for it, so the one private
  piece (the criterion's ``bce``) is replaced in :mod:`harness.builders.focal`, registered here on
  the public ``on_train_start`` callback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from harness.recipes import ClassBalance

__all__ = ["balanced_trainer", "class_counts", "focal_callback", "median_frequency_weights", "repeat_factors"]


def class_counts(labels: Sequence[np.ndarray], n_classes: int) -> np.ndarray:
    """Objects per class over the images' label arrays (class ids)."""
    classes = np.concatenate(
        [np.asarray(c, dtype=np.int64).reshape(-1) for c in labels] or [np.zeros(0, np.int64)]
    )
    return np.bincount(classes, minlength=n_classes).astype(np.float64)


def median_frequency_weights(counts: np.ndarray) -> np.ndarray:
    """``median(freq) / freq(c)`` over the classes with labels; the others get the mean weight."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    if not present.any():
        return np.ones_like(counts)
    freq = counts / counts.sum()
    weights = np.median(freq[present]) / np.where(present, freq, 1.0)
    return np.where(present, weights, weights[present].mean())


def repeat_factors(labels: Sequence[np.ndarray], n_classes: int) -> np.ndarray:
    """Each image's repeat factor: that of its rarest class, ``max(1, sqrt(t / f(c)))`` (1 for an
    image without objects); ``f(c)`` = share of images holding class ``c``, ``t`` = their median."""
    holding = [set(np.asarray(c, dtype=np.int64).reshape(-1).tolist()) for c in labels]
    images = np.zeros(n_classes)
    for classes in holding:
        for c in classes:
            images[c] += 1
    share = images / max(len(labels), 1)
    present = share > 0
    if not present.any():
        return np.ones(len(labels))
    threshold = float(np.median(share[present]))
    factor = np.where(present, np.maximum(1.0, np.sqrt(threshold / np.where(present, share, 1.0))), 1.0)
    return np.array([max((factor[c] for c in classes), default=1.0) for classes in holding])


def focal_callback(balance: ClassBalance) -> Callable[[object], None]:
    """An ``on_train_start`` callback that puts focal loss on the trained model's class branch."""

    def callback(trainer: object) -> None:
        from ultralytics.utils.torch_utils import unwrap_model

        from harness.builders.focal import use_focal_loss

        use_focal_loss(unwrap_model(trainer.model), balance.gamma, balance.alpha)  # type: ignore[attr-defined]

    return callback


@functools.cache
def balanced_trainer(base: type, method: str, seed: int) -> type:
    """``base`` (a detection trainer) with median-frequency class weights or a balanced sampler."""
    if method == "median_frequency":
        return type("MedianFrequencyTrainer", (base,), {"compute_class_weights": _median_weights})
    if method == "balanced_sampler":
        return type("BalancedSamplerTrainer", (base,), {"get_dataloader": _sampled_loader(seed)})
    return base


def _median_weights(self: object, counts: np.ndarray) -> np.ndarray:
    """The trainer's ``compute_class_weights``: median-frequency weights."""
    return median_frequency_weights(counts).astype(np.float32)


def _sampled_loader(seed: int) -> Callable[..., object]:
    def get_dataloader(
        self: object, dataset_path: str, batch_size: int = 16, rank: int = 0, mode: str = "train"
    ) -> object:
        """The stock loader for val; for train, the same dataset drawn by repeat factor."""
        parent = super(type(self), self).get_dataloader  # type: ignore[misc]
        if mode != "train":
            return parent(dataset_path, batch_size, rank, mode)
        dataset = self.build_dataset(dataset_path, mode, batch_size)  # type: ignore[attr-defined]
        return _weighted_loader(dataset, batch_size, self.args.workers, seed)  # type: ignore[attr-defined]

    return get_dataloader


def _weighted_loader(dataset: object, batch_size: int, workers: int, seed: int) -> object:
    """An Ultralytics ``InfiniteDataLoader`` over ``dataset`` with a seeded repeat-factor sampler."""
    import torch
    from torch.utils.data import WeightedRandomSampler
    from ultralytics.data.build import InfiniteDataLoader, seed_worker

    labels = [label["cls"] for label in dataset.labels]  # type: ignore[attr-defined]
    weights = repeat_factors(labels, len(dataset.data["names"]))  # type: ignore[attr-defined]
    generator = torch.Generator().manual_seed(seed)
    sampler = WeightedRandomSampler(
        weights.tolist(), num_samples=len(labels), replacement=True, generator=generator
    )
    batches = -(-len(labels) // batch_size)
    return InfiniteDataLoader(
        dataset=dataset, batch_size=min(batch_size, len(labels)), sampler=sampler,
        num_workers=min(workers, batches if batches > 1 else 0), collate_fn=getattr(dataset, "collate_fn", None),
        worker_init_fn=seed_worker, generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
