"""Tests for harness.datasets.synthetic: determinism, layout, classes, sizes, overlap."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.datasets import synthetic
from harness.datasets.synthetic import SHAPES, SyntheticSpec, generate, render_sample
from harness.datasets.yolo import list_split, load_data_yaml, read_labels
from harness.errors import ConfigError, DatasetError

SMALL = SyntheticSpec(n_train=6, n_val=4, n_calib=2, imgsz=64, seed=3)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _xyxy(labels: np.ndarray, imgsz: int) -> np.ndarray:
    xc, yc, w, h = (labels[:, i] * imgsz for i in range(1, 5))
    return np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1)


@pytest.fixture(scope="module")
def many_labels() -> list[np.ndarray]:
    spec = SyntheticSpec(n_train=120, n_val=1, n_calib=0, imgsz=320)
    return [render_sample(spec, "train", i)[1] for i in range(spec.n_train)]


# ------------------------------------------------------------------------ spec checks


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_train", 0),
        ("n_val", 0),
        ("n_calib", -1),
        ("seed", -1),
        ("imgsz", 31),
        ("imgsz", 320.0),
        ("n_val", True),
        ("names", ("circle", "square", "triangle", "star")),
        ("names", ("circle", "square", "triangle", "star", "blob")),
        ("names", ("circle", "square", "triangle", "star", "star")),
        ("names", ["circle", "square", "triangle", "star", "cross"]),
        ("version", synthetic.GENERATOR_VERSION + 1),
    ],
)
def test_spec_rejects_bad_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        SyntheticSpec(**{field: value})  # type: ignore[arg-type]


def test_spec_defaults_have_enough_classes() -> None:
    spec = SyntheticSpec()
    assert len(spec.names) >= synthetic.MIN_CLASSES
    assert spec.split_sizes == {"train": 384, "val": 200, "calib": 128}


def test_spec_key_depends_on_every_field() -> None:
    variants = [SMALL, SyntheticSpec(n_train=7, n_val=4, n_calib=2, imgsz=64, seed=3)]
    variants.append(SyntheticSpec(n_train=6, n_val=4, n_calib=2, imgsz=64, seed=4))
    variants.append(SyntheticSpec(n_train=6, n_val=4, n_calib=2, imgsz=96, seed=3))
    variants.append(SyntheticSpec(n_train=6, n_val=4, n_calib=2, imgsz=64, seed=3, names=SHAPES[:5]))
    assert len({spec.key() for spec in variants}) == len(variants)
    assert SMALL.key() == SyntheticSpec(n_train=6, n_val=4, n_calib=2, imgsz=64, seed=3).key()


# ------------------------------------------------------------------------ determinism


def test_generate_is_byte_identical(tmp_path: Path) -> None:
    generate(SMALL, tmp_path / "a")
    generate(SMALL, tmp_path / "b")
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert files_a.keys() == files_b.keys()
    differing = [name for name in files_a if files_a[name] != files_b[name]]
    assert differing == ["data.yaml"]  # only the absolute 'path' differs
    yaml_a = (tmp_path / "a" / "data.yaml").read_text().replace(str(tmp_path / "a"), "ROOT")
    assert yaml_a == (tmp_path / "b" / "data.yaml").read_text().replace(str(tmp_path / "b"), "ROOT")


def test_image_does_not_depend_on_split_size() -> None:
    bigger = SyntheticSpec(n_train=50, n_val=4, n_calib=2, imgsz=64, seed=3)
    img_a, lab_a = render_sample(SMALL, "train", 5)
    img_b, lab_b = render_sample(bigger, "train", 5)
    assert np.array_equal(img_a, img_b)
    assert np.array_equal(lab_a, lab_b)


def test_seed_and_split_change_images() -> None:
    other_seed = SyntheticSpec(n_train=6, n_val=4, n_calib=2, imgsz=64, seed=4)
    base = render_sample(SMALL, "train", 0)[0]
    assert not np.array_equal(base, render_sample(other_seed, "train", 0)[0])
    assert not np.array_equal(base, render_sample(SMALL, "val", 0)[0])
    assert not np.array_equal(base, render_sample(SMALL, "train", 1)[0])


def test_render_sample_rejects_unknown_split() -> None:
    with pytest.raises(DatasetError, match="'test'"):
        render_sample(SMALL, "test", 0)


# ----------------------------------------------------------------------------- layout


def test_layout_and_data_yaml(tmp_path: Path) -> None:
    yaml_path = generate(SMALL, tmp_path / "ds")
    assert yaml_path == tmp_path / "ds" / "data.yaml"
    data = yaml.safe_load(yaml_path.read_text())
    assert data["path"] == str(tmp_path / "ds")
    splits = ("train", "val", "calib")
    assert {k: data[k] for k in splits} == {s: f"images/{s}" for s in splits}
    assert data["names"] == dict(enumerate(SMALL.names))
    for split, count in SMALL.split_sizes.items():
        images = sorted((tmp_path / "ds" / "images" / split).iterdir())
        labels = sorted((tmp_path / "ds" / "labels" / split).iterdir())
        assert [p.name for p in images] == [f"{split}_{i:05d}.png" for i in range(count)]
        assert [p.stem for p in labels] == [p.stem for p in images]


def test_generated_dataset_reads_back(tmp_path: Path) -> None:
    spec = load_data_yaml(generate(SMALL, tmp_path / "ds"))
    assert spec.names == SMALL.names
    for split, count in SMALL.split_sizes.items():
        samples = list_split(spec, split)
        assert len(samples) == count
        for index, sample in enumerate(samples):
            expected = render_sample(SMALL, split, index)[1]
            np.testing.assert_allclose(read_labels(sample.label, spec.nc), expected, atol=1e-6)


def test_images_are_png_of_imgsz(tmp_path: Path) -> None:
    import cv2

    generate(SMALL, tmp_path / "ds")
    image = cv2.imread(str(tmp_path / "ds" / "images" / "val" / "val_00000.png"))
    assert image.shape == (64, 64, 3)
    assert np.array_equal(image, render_sample(SMALL, "val", 0)[0])


def test_no_calib_split_when_zero(tmp_path: Path) -> None:
    spec = SyntheticSpec(n_train=2, n_val=1, n_calib=0, imgsz=64)
    yaml_path = generate(spec, tmp_path / "ds")
    assert "calib" not in yaml.safe_load(yaml_path.read_text())
    assert not (tmp_path / "ds" / "images" / "calib").exists()
    data = load_data_yaml(yaml_path)
    assert data.splits["calib"] == data.splits["train"]


def test_generate_refuses_non_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(DatasetError, match=str(tmp_path)):
        generate(SMALL, tmp_path)


def test_cli_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(tmp_path / "ds"), "--n-train", "2", "--n-val", "1", "--n-calib", "0", "--imgsz", "64"]
    assert synthetic.main(args) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "ds" / "data.yaml")
    assert len(list((tmp_path / "ds" / "images" / "train").iterdir())) == 2


# -------------------------------------------------------------------- content checks


def test_all_classes_present(many_labels: list[np.ndarray]) -> None:
    classes = np.concatenate([labels[:, 0] for labels in many_labels]).astype(int)
    counts = np.bincount(classes, minlength=len(SHAPES))
    assert len(counts) == len(SHAPES)
    assert counts.min() > 0.5 * counts.mean()


def test_objects_per_image(many_labels: list[np.ndarray]) -> None:
    counts = np.array([len(labels) for labels in many_labels])
    assert counts.max() <= 8
    assert counts.min() >= 1
    assert np.mean(counts >= 2) > 0.95


def test_object_size_range(many_labels: list[np.ndarray]) -> None:
    boxes = np.concatenate([_xyxy(labels, 320) for labels in many_labels])
    long_side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    inside = (boxes[:, :2] > 0.5).all(axis=1) & (boxes[:, 2:] < 319.5).all(axis=1)
    assert long_side.max() <= 160 + 1e-3
    assert long_side[inside].min() >= synthetic.MIN_OBJECT_PX - 1
    assert long_side.min() >= 0.6 * synthetic.MIN_OBJECT_PX
    assert long_side.max() >= 120  # the range is really used
    assert 0.01 < np.mean(long_side < 16) < 0.3  # small objects are present but not dominant
    assert np.mean(long_side < 32) > 0.08
    assert (~inside).any()  # some objects are cut by the border


def test_boxes_inside_image_and_overlap_bounded(many_labels: list[np.ndarray]) -> None:
    for labels in many_labels:
        boxes = _xyxy(labels, 320)
        assert (boxes >= -1e-3).all() and (boxes <= 320 + 1e-3).all()
        for a, b in itertools.combinations(boxes, 2):
            assert _iou(a, b) <= synthetic._MAX_IOU + 1e-3


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_small_imgsz_sizes_scale() -> None:
    spec = SyntheticSpec(n_train=40, n_val=1, n_calib=0, imgsz=64)
    labels = np.concatenate([render_sample(spec, "train", i)[1] for i in range(spec.n_train)])
    assert np.maximum(labels[:, 3], labels[:, 4]).max() * 64 <= 32 + 1e-3


def test_images_are_noisy_not_flat() -> None:
    image = render_sample(SyntheticSpec(), "val", 0)[0].astype(np.float32)
    residual = image[1:, :, :] - image[:-1, :, :]
    assert 2.0 < residual.std() < 40.0


@settings(max_examples=60, deadline=None)
@given(
    shape=st.sampled_from(SHAPES),
    size=st.floats(min_value=8, max_value=200),
    log_aspect=st.floats(min_value=-0.25, max_value=0.25),
    angle=st.floats(min_value=0, max_value=2 * math.pi),
)
def test_mask_box_is_tight(shape: str, size: float, log_aspect: float, angle: float) -> None:
    mask = synthetic._rasterize(shape, size, math.exp(log_aspect), angle)
    x0, y0, x1, y1 = mask.box
    assert size - 1 <= max(x1 - x0, y1 - y0) <= size + 1.5
    inside = mask.alpha >= 128
    assert inside[y0:y1, x0:x1].sum() == inside.sum()
    assert inside[y0, x0:x1].any() and inside[y1 - 1, x0:x1].any()
    assert inside[y0:y1, x0].any() and inside[y0:y1, x1 - 1].any()


@settings(max_examples=80, deadline=None)
@given(
    shape=st.sampled_from(SHAPES),
    size=st.floats(min_value=8, max_value=40),
    angle=st.floats(min_value=0, max_value=2 * math.pi),
    x=st.integers(-30, 70),
    y=st.integers(-30, 70),
)
def test_visible_box_matches_pasted_mask(shape: str, size: float, angle: float, x: int, y: int) -> None:
    mask = synthetic._rasterize(shape, size, 1.0, angle)
    canvas = np.zeros((64 + 200, 64 + 200), np.uint8)
    h, w = mask.alpha.shape
    canvas[100 + y : 100 + y + h, 100 + x : 100 + x + w] = mask.alpha
    inside = canvas[100:164, 100:164] >= 128
    if not inside.any():
        return
    cols, rows = np.flatnonzero(inside.any(axis=0)), np.flatnonzero(inside.any(axis=1))
    expected = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    assert synthetic._visible_box(mask, x, y, 64) == tuple(float(v) for v in expected)


# ------------------------------------------------------------------------ long tail

TAIL = (40.0, 20.0, 10.0, 5.0, 2.0, 1.0)


def test_a_spec_without_a_long_tail_keeps_its_key() -> None:
    assert "class_frequencies" not in SMALL.to_dict()
    tail = SyntheticSpec(n_train=6, n_val=4, n_calib=2, imgsz=64, seed=3, class_frequencies=TAIL)
    assert tail.to_dict()["class_frequencies"] == list(TAIL) and tail.key() != SMALL.key()


@pytest.mark.parametrize("frequencies", [(1.0, 2.0), (1.0, 1.0, 1.0, 1.0, 1.0, 0.0), (1, 1, 1, 1, 1, True)])
def test_bad_frequencies_are_refused(frequencies: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="class_frequencies must"):
        SyntheticSpec(class_frequencies=frequencies)


def test_the_long_tail_shapes_train_and_leaves_val_as_it_was() -> None:
    spec = SyntheticSpec(n_train=300, n_val=4, n_calib=0, imgsz=64, seed=3, class_frequencies=TAIL)
    counts = np.bincount(
        np.concatenate([render_sample(spec, "train", i)[1][:, 0].astype(int) for i in range(300)]),
        minlength=6,
    )
    share = counts / counts.sum()
    assert share[0] > 0.4 and share[5] < 0.03 and list(counts) == sorted(counts, reverse=True)
    plain = SyntheticSpec(n_train=300, n_val=4, n_calib=0, imgsz=64, seed=3)
    for i in range(4):
        image, labels = render_sample(spec, "val", i)
        same_image, same_labels = render_sample(plain, "val", i)
        assert np.array_equal(image, same_image) and np.array_equal(labels, same_labels)


def test_cli_long_tail(tmp_path: Path) -> None:
    args = [str(tmp_path / "ds"), "--n-train", "40", "--n-val", "1", "--n-calib", "0", "--imgsz", "64",
            "--class-frequencies", "40", "20", "10", "5", "2", "1"]  # fmt: skip
    assert synthetic.main(args) == 0
    spec = load_data_yaml(tmp_path / "ds" / "data.yaml")
    classes = np.concatenate([read_labels(s.label, 6)[:, 0] for s in list_split(spec, "train")]).astype(int)
    counts = np.bincount(classes, minlength=6)
    assert counts[0] > counts[3] and counts[0] > 0.3 * counts.sum()
