"""Teacher/student compatibility on real (tiny, untrained) Ultralytics detectors built from YAML."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from ultralytics.nn.tasks import DetectionModel, yaml_model_load

from harness.distill.compat import check_pair, head_levels
from harness.errors import DistillError, HarnessError

T_PT, S_PT = Path("t.pt"), Path("s.pt")

Make = Callable[..., DetectionModel]


def _refusal(teacher: DetectionModel, student: DetectionModel) -> str:
    """check_pair's DistillError message; fails the test when it names only one of the files."""
    with pytest.raises(DistillError) as info:
        check_pair(teacher, student, T_PT, S_PT)
    message = str(info.value)
    assert "t.pt" in message and "s.pt" in message, message
    assert isinstance(info.value, HarnessError)
    return message


def test_same_architecture_and_names_pass(make_detector: Make) -> None:
    """Two detectors of one YAML with the same classes can be paired."""
    assert check_pair(make_detector(), make_detector(), T_PT, S_PT) is None


def test_different_sizes_of_one_family_pass(make_detector: Make) -> None:
    """A larger teacher of the same family (same levels, strides, bins) can teach a smaller student."""
    assert check_pair(make_detector("yolo11s.yaml"), make_detector("yolo11n.yaml"), T_PT, S_PT) is None


def test_names_as_a_list_equal_names_as_a_dict(make_detector: Make) -> None:
    """Class names given as a list compare equal to the same names given as an index dict."""
    teacher, student = make_detector(), make_detector()
    student.names = ["a", "b", "c"]
    assert check_pair(teacher, student, T_PT, S_PT) is None


def test_different_class_counts_are_refused(make_detector: Make) -> None:
    """3 vs 4 classes: the message says class counts, both numbers and both files."""
    message = _refusal(make_detector(nc=3), make_detector(nc=4))
    assert "class counts" in message and "3 vs 4" in message


def test_different_class_names_are_refused(make_detector: Make) -> None:
    """Same count, one renamed class: the message names the index and both names."""
    teacher = make_detector(names={0: "a", 1: "b", 2: "c"})
    student = make_detector(names={0: "a", 1: "bee", 2: "c"})
    message = _refusal(teacher, student)
    assert "class names" in message and "1: 'b' vs 'bee'" in message
    assert "0:" not in message and "2:" not in message  # only the differing class


def test_different_feature_levels_are_refused(make_detector: Make) -> None:
    """A P2 head (4 levels) cannot teach a 3-level head."""
    p2, plain = make_detector("yolov8n-p2.yaml"), make_detector("yolov8n.yaml")
    assert (head_levels(p2), head_levels(plain)) == (4, 3)
    message = _refusal(p2, plain)
    assert "feature levels" in message and "4 vs 3" in message


def test_different_strides_are_refused(make_detector: Make) -> None:
    """Same number of levels at other strides: anchors would not line up."""
    teacher, student = make_detector(), make_detector()
    student.model[-1].stride = torch.tensor([8.0, 16.0, 64.0])
    message = _refusal(teacher, student)
    assert "strides" in message and "[8.0, 16.0, 32.0] vs [8.0, 16.0, 64.0]" in message


def test_dfl_head_against_a_dfl_free_end_to_end_head_is_refused(make_detector: Make) -> None:
    """YOLO26 (end-to-end, reg_max 1) vs YOLO11 (reg_max 16): refused, naming both files."""
    message = _refusal(make_detector("yolo26n.yaml"), make_detector("yolo11n.yaml"))
    assert re.search(r"DFL bins 1 vs 16|end-to-end", message), message
    _refusal(make_detector("yolo11n.yaml"), make_detector("yolo26n.yaml"))  # either way round


def test_end_to_end_against_one_to_many_only_is_refused(make_detector: Make) -> None:
    """Same YOLO26 head (reg_max 1) with and without its one-to-one branch: refused as end-to-end mismatch."""
    cfg = copy.deepcopy(yaml_model_load("yolo26n.yaml"))  # never touch a cached config
    cfg["end2end"] = False
    plain = make_detector(cfg)
    e2e = make_detector("yolo26n.yaml")
    assert plain.model[-1].reg_max == e2e.model[-1].reg_max == 1
    message = _refusal(e2e, plain)
    assert "end-to-end" in message


def test_head_levels_of_the_stock_families(make_detector: Make) -> None:
    """YOLOv8, YOLO11 and YOLO26 heads all read three feature levels."""
    assert [head_levels(make_detector(f"{name}.yaml")) for name in ("yolov8n", "yolo11n", "yolo26n")] == [
        3,
        3,
        3,
    ]
