"""Tests for harness.datasets.yolo: data.yaml parsing, splits, labels, dataset hash."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.datasets.yolo import (
    DataSpec,
    Sample,
    dataset_hash,
    label_path,
    list_split,
    load_data_yaml,
    read_labels,
)
from harness.errors import DatasetError

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _touch_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PNG_1PX)
    return path


def _write_label(image: Path, text: str) -> None:
    label = label_path(image)
    label.parent.mkdir(parents=True, exist_ok=True)
    label.write_text(text)


def _write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Two train images, one val image, labels for all but one; returns data.yaml."""
    root = tmp_path / "ds"
    for name in ("b.png", "a.jpg"):
        _write_label(_touch_image(root / "images" / "train" / name), "0 0.5 0.5 0.2 0.2\n")
    _touch_image(root / "images" / "val" / "v.png")
    (root / "images" / "train" / "notes.md").write_text("not an image")
    data = {"train": "images/train", "val": "images/val", "names": ["a", "b"]}
    return _write_yaml(root / "data.yaml", data)


# -------------------------------------------------------------------------- data.yaml


def test_load_data_yaml(dataset: Path) -> None:
    spec = load_data_yaml(dataset)
    root = dataset.parent
    assert spec.yaml_path == dataset
    assert spec.root == root
    assert spec.names == ("a", "b")
    assert spec.nc == 2
    train, val = root / "images/train", root / "images/val"
    assert spec.splits == {"train": (train,), "val": (val,), "calib": (train,)}
    assert not spec.has_calib


def test_names_mapping_and_explicit_calib(tmp_path: Path) -> None:
    for split in ("train", "val", "calib"):
        _touch_image(tmp_path / split / "x.png")
    yaml_path = _write_yaml(
        tmp_path / "data.yaml",
        {"train": "train", "val": "val", "calib": "calib", "nc": 2, "names": {1: "dog", 0: "cat"}},
    )
    spec = load_data_yaml(yaml_path)
    assert spec.root == tmp_path
    assert spec.names == ("cat", "dog")
    assert spec.splits["calib"] == (tmp_path / "calib",)
    assert spec.has_calib


def test_absolute_path_key(tmp_path: Path, dataset: Path) -> None:
    other = _write_yaml(
        tmp_path / "elsewhere.yaml",
        {"path": str(dataset.parent), "train": "images/train", "val": "images/val", "names": ["a", "b"]},
    )
    assert load_data_yaml(other).root == dataset.parent


def test_missing_yaml_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nope\.yaml does not exist"):
        load_data_yaml(tmp_path / "nope.yaml")


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("names: [a, b\ntrain: x\n")
    with pytest.raises(DatasetError, match=r"bad\.yaml is not valid YAML"):
        load_data_yaml(path)


@pytest.mark.parametrize("content", ["- a\n- b\n", "just text\n", ""])
def test_yaml_not_a_mapping(tmp_path: Path, content: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(content)
    with pytest.raises(DatasetError, match=r"list\.yaml must be a mapping"):
        load_data_yaml(path)


@pytest.mark.parametrize("key", ["names", "train", "val"])
def test_missing_required_key(dataset: Path, key: str) -> None:
    data = yaml.safe_load(dataset.read_text())
    del data[key]
    _write_yaml(dataset, data)
    with pytest.raises(DatasetError, match=rf"{dataset}.*missing required key '{key}'"):
        load_data_yaml(dataset)


@pytest.mark.parametrize("key", ["train", "val", "calib"])
def test_split_path_does_not_exist(dataset: Path, key: str) -> None:
    data = yaml.safe_load(dataset.read_text())
    data[key] = "images/missing"
    _write_yaml(dataset, data)
    expected = dataset.parent / "images/missing"
    with pytest.raises(DatasetError, match=rf"key '{key}' points to {expected}, which does not exist"):
        load_data_yaml(dataset)


def test_split_path_is_not_folder_or_list(dataset: Path) -> None:
    data = yaml.safe_load(dataset.read_text())
    data["val"] = "images/val/v.png"
    _write_yaml(dataset, data)
    with pytest.raises(DatasetError, match=r"key 'val' points to .*v\.png, which is neither a folder nor a text"):
        load_data_yaml(dataset)


def test_root_path_does_not_exist(
    tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ultralytics.utils

    monkeypatch.setattr(ultralytics.utils, "DATASETS_DIR", tmp_path / "datasets")
    monkeypatch.chdir(tmp_path)
    data = yaml.safe_load(dataset.read_text())
    data["path"] = "gone"
    _write_yaml(dataset, data)
    gone = tmp_path / "datasets" / "gone"
    with pytest.raises(DatasetError, match=rf"'train' points to {gone}/images/train, which does not exist .*datasets_dir"):
        load_data_yaml(dataset)


@pytest.mark.parametrize("value", [3, {"a": 1}, ["images/train", 3], ["images/train", ""]])
def test_split_value_not_a_path(dataset: Path, value: object) -> None:
    data = yaml.safe_load(dataset.read_text())
    data["train"] = value
    _write_yaml(dataset, data)
    with pytest.raises(DatasetError, match="key 'train' must be a folder or image list file"):
        load_data_yaml(dataset)


@pytest.mark.parametrize("value", ["", []])
def test_required_split_empty(dataset: Path, value: object) -> None:
    data = yaml.safe_load(dataset.read_text())
    data["val"] = value
    _write_yaml(dataset, data)
    with pytest.raises(DatasetError, match=rf"{dataset}: key 'val' is empty"):
        load_data_yaml(dataset)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("cat", "must be a list or a mapping"),
        (7, "must be a list or a mapping"),
        ([], "is empty"),
        ({}, "is empty"),
        ({0: "a", 2: "b"}, r"keys of 'names' must be the integers 0..1"),
        ({"x": "a", "y": "b"}, r"keys of 'names' must be the integers"),
        ({True: "a", False: "b"}, r"keys of 'names' must be the integers"),
    ],
)
def test_bad_names(dataset: Path, names: object, message: str) -> None:
    data = yaml.safe_load(dataset.read_text())
    data["names"] = names
    _write_yaml(dataset, data)
    with pytest.raises(DatasetError, match=message):
        load_data_yaml(dataset)


def test_nc_mismatch(dataset: Path) -> None:
    data = yaml.safe_load(dataset.read_text())
    data["nc"] = 3
    _write_yaml(dataset, data)
    with pytest.raises(DatasetError, match="'nc' is 3 but 'names' has 2"):
        load_data_yaml(dataset)


# ----------------------------------------------------------------------------- splits


def test_list_split_sorted_with_label_paths(dataset: Path) -> None:
    spec = load_data_yaml(dataset)
    samples = list_split(spec, "train")
    root = dataset.parent
    assert samples == [
        Sample(root / "images/train/a.jpg", root / "labels/train/a.txt"),
        Sample(root / "images/train/b.png", root / "labels/train/b.txt"),
    ]
    assert list_split(spec, "calib") == samples


def test_list_split_recursive(dataset: Path) -> None:
    nested = _touch_image(dataset.parent / "images" / "train" / "sub" / "c.PNG")
    assert nested in [s.image for s in list_split(load_data_yaml(dataset), "train")]


def test_empty_val_split(dataset: Path) -> None:
    (dataset.parent / "images" / "val" / "v.png").unlink()
    spec = load_data_yaml(dataset)
    expected = f"val split of {dataset} has no images in {dataset.parent / 'images/val'}"
    with pytest.raises(DatasetError) as info:
        list_split(spec, "val")
    assert str(info.value) == expected


def test_unknown_split(dataset: Path) -> None:
    with pytest.raises(DatasetError, match=r"no split 'test'; available: \['calib', 'train', 'val'\]"):
        list_split(load_data_yaml(dataset), "test")


def test_txt_image_list(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = dataset.parent
    monkeypatch.chdir(root)  # lines without './' are relative to the current directory
    (root / "val.txt").write_text("images/train/b.png\n\n./images/val/v.png\n")
    data = yaml.safe_load(dataset.read_text())
    data["val"] = "val.txt"
    _write_yaml(dataset, data)
    samples = list_split(load_data_yaml(dataset), "val")
    # Ultralytics sorts the path text: the './' line became absolute and sorts first; the label
    # rule needs '/images/' in the text, which the relative line lacks
    assert samples == [
        Sample(root / "images/val/v.png", root / "labels/val/v.txt"),
        Sample(root / "images/train/b.png", root / "images/train/b.txt"),
    ]


def test_txt_image_list_missing_image(dataset: Path) -> None:
    (dataset.parent / "val.txt").write_text("./images/val/v.png\n./images/val/missing.png\n")
    data = yaml.safe_load(dataset.read_text())
    data["val"] = "val.txt"
    _write_yaml(dataset, data)
    with pytest.raises(DatasetError, match=r"val\.txt:2: .*missing\.png is not an existing image"):
        list_split(load_data_yaml(dataset), "val")


@pytest.mark.parametrize(
    ("image", "label"),
    [
        ("/d/images/train/x.png", "/d/labels/train/x.txt"),
        ("/images/d/images/x.jpeg", "/images/d/labels/x.txt"),
        ("/d/imgs/x.png", "/d/imgs/x.txt"),
        ("/d/images/a.b.png", "/d/labels/a.b.txt"),
    ],
)
def test_label_path_rule(image: str, label: str) -> None:
    assert label_path(Path(image)) == Path(label)


# ----------------------------------------------------------------------------- labels


def test_read_labels(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("0 0.5 0.5 0.2 0.4\n\n  2 1 0 1e-3 1.0000005  \n1.0 0.1 0.2 0.3 0.4\n")
    labels = read_labels(path, nc=3)
    assert labels.dtype == np.float32
    np.testing.assert_allclose(
        labels, [[0, 0.5, 0.5, 0.2, 0.4], [2, 1, 0, 1e-3, 1.0000005], [1, 0.1, 0.2, 0.3, 0.4]], rtol=1e-6
    )


@pytest.mark.parametrize("content", [None, "", "\n  \n"])
def test_no_objects(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "x.txt"
    if content is not None:
        path.write_text(content)
    assert read_labels(path, nc=2).shape == (0, 5)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 0.5 0.5 0.2", "expected 5 fields 'class xc yc w h', got 4"),
        ("0 0.5 0.5 0.2 0.2 0.1 0.1", "expected 5 fields 'class xc yc w h', got 7"),
        ("0 0.5 abc 0.2 0.2", "yc 'abc' is not a number"),
        ("0 0.5 nan 0.2 0.2", "yc 'nan' is not a finite number"),
        ("cat 0.5 0.5 0.2 0.2", "class 'cat' is not a number"),
        ("3 0.5 0.5 0.2 0.2", r"class 3 outside \[0, 3\)"),
        ("-1 0.5 0.5 0.2 0.2", r"class -1 outside \[0, 3\)"),
        ("1.5 0.5 0.5 0.2 0.2", r"class 1.5 outside \[0, 3\) or not an integer"),
        ("0 1.1 0.5 0.2 0.2", r"xc 1.1 outside \[0, 1\]"),
        ("0 0.5 -0.01 0.2 0.2", r"yc -0.01 outside \[0, 1\]"),
        ("0 0.5 0.5 1.00001 0.2", r"w 1.00001 outside \[0, 1\]"),
        ("0 0.5 0.5 0 0.2", "w 0.0 must be > 0"),
        ("0 0.5 0.5 0.2 -0.0", r"h -0.0 must be > 0"),
    ],
)
def test_bad_label_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"0 0.5 0.5 0.2 0.2\n{line}\n")
    with pytest.raises(DatasetError, match=rf"{path}:2: {message}"):
        read_labels(path, nc=3)


unit = st.floats(min_value=0, max_value=1)
positive = st.floats(min_value=1e-6, max_value=1)
rows = st.lists(st.tuples(st.integers(0, 9), unit, unit, positive, positive), max_size=20)


@settings(max_examples=50, deadline=None)
@given(rows=rows)
def test_labels_round_trip(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[float, ...]]) -> None:
    path = tmp_path_factory.mktemp("labels") / "x.txt"
    path.write_text("".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in rows))
    labels = read_labels(path, nc=10)
    assert labels.shape == (len(rows), 5)
    if rows:
        np.testing.assert_allclose(labels, np.array(rows, np.float32), atol=1e-6)


@settings(max_examples=50, deadline=None)
@given(
    field=st.integers(1, 4),
    value=st.one_of(st.floats(min_value=1.00001, max_value=1e6), st.floats(min_value=-1e6, max_value=-1e-5)),
)
def test_out_of_range_coordinate_always_rejected(
    tmp_path_factory: pytest.TempPathFactory, field: int, value: float
) -> None:
    values = [0.0, 0.5, 0.5, 0.2, 0.2]
    values[field] = value
    path = tmp_path_factory.mktemp("labels") / "x.txt"
    path.write_text(" ".join(repr(v) for v in values) + "\n")
    with pytest.raises(DatasetError, match=rf"x\.txt:1: {['xc', 'yc', 'w', 'h'][field - 1]} "):
        read_labels(path, nc=1)


# ------------------------------------------------------------------------------- hash


def test_hash_is_stable_and_location_independent(tmp_path: Path, dataset: Path) -> None:
    first = dataset_hash(load_data_yaml(dataset))
    assert dataset_hash(load_data_yaml(dataset)) == first
    copy = tmp_path / "copy"
    shutil.copytree(dataset.parent, copy)
    data = yaml.safe_load((copy / "data.yaml").read_text())
    data["path"] = str(copy)
    _write_yaml(copy / "data.yaml", data)
    assert dataset_hash(load_data_yaml(copy / "data.yaml")) == first


def _hash_after(dataset: Path, change: str) -> str:
    root = dataset.parent
    if change == "label":
        (root / "labels/train/a.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    elif change == "image size":
        (root / "images/train/a.jpg").write_bytes(PNG_1PX + b"\0")
    elif change == "rename":
        (root / "images/val/v.png").rename(root / "images/val/w.png")
    elif change == "new image":
        _touch_image(root / "images/val/z.png")
    elif change == "names":
        data = yaml.safe_load(dataset.read_text())
        data["names"] = ["a", "c"]
        _write_yaml(dataset, data)
    elif change == "missing label":
        (root / "labels/train/b.txt").unlink()
    return dataset_hash(load_data_yaml(dataset))


@pytest.mark.parametrize("change", ["label", "image size", "rename", "new image", "names", "missing label"])
def test_hash_changes_with_content(dataset: Path, change: str) -> None:
    before = dataset_hash(load_data_yaml(dataset))
    assert _hash_after(dataset, change) != before


def test_dataspec_is_frozen(dataset: Path) -> None:
    spec = load_data_yaml(dataset)
    with pytest.raises(AttributeError):
        spec.names = ()  # type: ignore[misc]
    assert isinstance(spec, DataSpec)
