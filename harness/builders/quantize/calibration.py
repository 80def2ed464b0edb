"""Calibration images: which files calibrate (the plan) and the pixels every runner is fed.

The ``calib`` split is used when data.yaml gives one: its first ``n`` images in Ultralytics'
order. Without one, ``n`` images are sampled from the train split with a fixed seed (never simply
its first ``n``, which would follow the file names' order). Images are decoded and letterboxed by
the same functions as evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.datasets.yolo import Sample, list_split, load_data_yaml
from harness.errors import DatasetError
from harness.imaging import letterbox, read_image

CALIB_SEED = 0
"""Seed of the train-split sample taken when data.yaml has no ``calib`` split."""


@dataclass(frozen=True)
class CalibrationPlan:
    """Which images calibrate, and where they come from.

    Attributes:
        source: ``"calib"`` (the YAML's calib split) or ``"train"`` (sampled from train).
        split: the source split's folders or list files, as text (``", "``-separated).
        count: number of images in the source split.
        seed: the sampling seed (``CALIB_SEED``), ``None`` for the calib split.
        files: the chosen images, absolute, in the order they are fed.
    """

    source: str
    split: str
    count: int
    seed: int | None
    files: tuple[Path, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form; ``n`` is the number of chosen files."""
        return {
            "source": self.source,
            "split": self.split,
            "count": self.count,
            "seed": self.seed,
            "n": len(self.files),
            "files": [str(path) for path in self.files],
        }


def calibration_plan(data_yaml: Path, n: int) -> CalibrationPlan:
    """Choose ``n`` calibration images without decoding any.

    The ``calib`` split's first ``n`` images when the YAML has one; otherwise a sample of ``n``
    train images without replacement (``numpy.random.default_rng(CALIB_SEED)``), in split order.

    Raises:
        DatasetError: the source split has fewer than ``n`` images (naming the split, its count
            and ``n``), or the YAML or a split is invalid.
        ValueError: ``n`` < 1.
    """
    if n < 1:
        raise ValueError(f"calibration needs at least one image, got n={n}")
    spec = load_data_yaml(data_yaml)
    source = "calib" if spec.has_calib else "train"
    samples = list_split(spec, source)
    split = ", ".join(str(path) for path in spec.splits[source])
    if len(samples) < n:
        raise DatasetError(
            f"{source} split {split} of {spec.yaml_path} has {len(samples)} images, but {n} were "
            "requested for calibration (quant.calib_size); add images or lower calib_size"
        )
    if spec.has_calib:
        return CalibrationPlan(source, split, len(samples), None, tuple(s.image for s in samples[:n]))
    chosen = np.random.default_rng(CALIB_SEED).choice(len(samples), size=n, replace=False)
    files = tuple(samples[int(i)].image for i in np.sort(chosen))
    return CalibrationPlan(source, split, len(samples), CALIB_SEED, files)


def calibration_images(data_yaml: Path, imgsz: int, n: int) -> np.ndarray:
    """The ``n`` images of :func:`calibration_plan`, read and letterboxed as evaluation does.

    Returns:
        float32 array (n, 3, imgsz, imgsz), RGB in [0, 1], exactly what every runner is fed.

    Raises:
        DatasetError: as :func:`calibration_plan`, or an image cannot be read.
    """
    plan = calibration_plan(data_yaml, n)
    return np.stack([letterbox(read_image(path), imgsz)[0] for path in plan.files])


def held_out_samples(data_yaml: Path, skip: int, n: int) -> list[Sample]:
    """``n`` labelled images that neither calibrate nor validate: for choosing what to keep in float.

    The ``calib`` split's images after its first ``skip`` (the calibration set) when the YAML has
    one with images left; otherwise a seeded sample (``CALIB_SEED + 1``) of train images outside
    the calibration set. Never the val split, which judges the result. Fewer than ``n`` when the
    split runs out.

    Raises:
        DatasetError: no image is left once the calibration set is taken out.
    """
    spec = load_data_yaml(data_yaml)
    if spec.has_calib:
        left = list_split(spec, "calib")[skip : skip + n]
        if left:
            return left
    samples = list_split(spec, "train")
    calibrating = set() if spec.has_calib else set(calibration_plan(data_yaml, min(skip, len(samples))).files)
    rest = [s for s in samples if s.image not in calibrating]
    if not rest:
        raise DatasetError(
            f"train split of {spec.yaml_path} has {len(samples)} images, all of them calibration images "
            f"(calib_size {skip}): none is left to choose the layers kept in float"
        )
    picks = np.random.default_rng(CALIB_SEED + 1).choice(len(rest), size=min(n, len(rest)), replace=False)
    return [rest[int(i)] for i in np.sort(picks)]
