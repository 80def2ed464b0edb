"""Datasets: the synthetic generator and the YOLO-layout reader."""

from __future__ import annotations

from harness.datasets.synthetic import SHAPES, SyntheticSpec, generate, render_sample
from harness.datasets.yolo import (
    DataSpec,
    Sample,
    dataset_hash,
    label_path,
    list_split,
    load_data_yaml,
    read_labels,
)

__all__ = [
    "SHAPES",
    "DataSpec",
    "Sample",
    "SyntheticSpec",
    "dataset_hash",
    "generate",
    "label_path",
    "list_split",
    "load_data_yaml",
    "read_labels",
    "render_sample",
]
