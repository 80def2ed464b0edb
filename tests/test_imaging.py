"""Tests for harness.imaging: decoding, the letterbox against Ultralytics', mapping boxes back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic_detections import letterbox_forward as _forward

from harness.errors import DatasetError
from harness.imaging import PAD_VALUE, LetterboxInfo, letterbox, read_image, unletterbox_boxes

shape_st = st.tuples(st.integers(1, 700), st.integers(1, 700))
imgsz_st = st.sampled_from([32, 64, 96, 160, 320, 640])


# ---------------------------------------------------------------- read_image


def test_read_image_is_bgr_uint8(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    pixels = np.zeros((5, 7, 3), dtype=np.uint8)
    pixels[..., 0] = 200  # blue channel in OpenCV's BGR order
    cv2.imwrite(str(path), pixels)
    np.testing.assert_array_equal(read_image(path), pixels)


def test_read_image_names_an_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DatasetError, match=rf"cannot read image {bad}"):
        read_image(bad)


# ---------------------------------------------------------------- letterbox


@settings(max_examples=60, deadline=None)
@given(shape_st, imgsz_st, st.integers(0, 2**32 - 1))
def test_letterbox_matches_ultralytics(hw: tuple[int, int], imgsz: int, seed: int) -> None:
    from ultralytics.data.augment import LetterBox

    img = np.random.default_rng(seed).integers(0, 256, (*hw, 3), dtype=np.uint8)
    chw, _ = letterbox(img, imgsz)
    reference = LetterBox(new_shape=(imgsz, imgsz), auto=False)(image=img)
    expected = np.ascontiguousarray(reference[..., ::-1].transpose(2, 0, 1)).astype(np.float32) / 255.0
    assert chw.dtype == np.float32 and chw.shape == (3, imgsz, imgsz)
    np.testing.assert_array_equal(chw, expected)


@given(shape_st, imgsz_st, st.tuples(*[st.integers(0, 255)] * 3))
def test_letterbox_places_image_and_pads(hw: tuple[int, int], imgsz: int, bgr: tuple[int, int, int]) -> None:
    img = np.empty((*hw, 3), dtype=np.uint8)
    img[:] = bgr
    chw, info = letterbox(img, imgsz)
    x1, y1, x2, y2 = _forward(np.array([0.0, 0.0, hw[1], hw[0]]), info, hw).round().astype(int)
    assert (x1, y1) == (info.pad_x, info.pad_y) and x2 <= imgsz and y2 <= imgsz
    assert (x2 - x1 == imgsz) or (y2 - y1 == imgsz)  # fits the long side exactly
    inside = np.zeros((imgsz, imgsz), dtype=bool)
    inside[y1:y2, x1:x2] = True
    rgb = np.array(bgr[::-1], dtype=np.float32) / 255.0
    np.testing.assert_array_equal(chw[:, inside], np.repeat(rgb[:, None], inside.sum(), axis=1))
    np.testing.assert_array_equal(chw[:, ~inside], np.float32(PAD_VALUE / 255.0))


def test_letterbox_rejects_grayscale() -> None:
    with pytest.raises(ValueError, match=r"\(h, w, 3\) BGR image"):
        letterbox(np.zeros((10, 10), dtype=np.uint8), 32)


# ---------------------------------------------------------------- unletterbox_boxes


@given(shape_st, imgsz_st)
def test_unletterbox_boxes_matches_ultralytics_scale_boxes(hw: tuple[int, int], imgsz: int) -> None:
    from ultralytics.utils.ops import scale_boxes

    _, info = letterbox(np.zeros((*hw, 3), dtype=np.uint8), imgsz)
    boxes = np.array([[0.0, 0.0, imgsz, imgsz], [imgsz / 4, imgsz / 3, imgsz / 2, imgsz * 0.9]])
    ours = unletterbox_boxes(boxes, info, hw)
    np.testing.assert_allclose(ours, scale_boxes((imgsz, imgsz), boxes.copy(), hw), rtol=1e-12, atol=1e-9)


def test_unletterbox_boxes_clips_and_leaves_its_input() -> None:
    info = LetterboxInfo(scale=0.5, pad_x=0, pad_y=10)
    boxes = np.array([[-5.0, 0.0, 60.0, 40.0]])
    back = unletterbox_boxes(boxes, info, (60, 100))  # resized to 50 x 30, padded 10 on top
    np.testing.assert_allclose(back, [[0.0, 0.0, 100.0, 60.0]])
    np.testing.assert_array_equal(boxes, [[-5.0, 0.0, 60.0, 40.0]])
