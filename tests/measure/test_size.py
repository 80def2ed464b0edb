"""Footprint measurements: parameter counts, file sizes, /proc readings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from harness.measure.size import count_params, file_bytes, read_status_kib


def test_count_params_counts_every_tensor() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
    assert count_params(net) == 3 * 8 * 9 + 8 + 8 + 8


def test_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 1234)
    assert file_bytes(path) == 1234


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/status is Linux only")
def test_status_fields() -> None:
    rss, peak = read_status_kib("VmRSS"), read_status_kib("VmHWM")
    assert rss is not None and peak is not None and 0 < rss <= peak
    assert read_status_kib("NoSuchField") is None


def test_file_bytes_counts_the_weights_file_of_split_formats(tmp_path: Path) -> None:
    for graph, weights in (("model.xml", "model.bin"), ("model.ncnn.param", "model.ncnn.bin")):
        (tmp_path / graph).write_bytes(b"g" * 10)
        (tmp_path / weights).write_bytes(b"w" * 1000)
        assert file_bytes(tmp_path / graph) == 1010
    (tmp_path / "model.onnx").write_bytes(b"o" * 7)
    assert file_bytes(tmp_path / "model.onnx") == 7
