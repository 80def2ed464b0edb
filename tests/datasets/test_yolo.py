"""Tests for harness.datasets.yolo: data.yaml parsing, splits, labels, dataset hash."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.datasets.yolo import (
    IMAGE_SUFFIXES,
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
    with pytest.raises(
        DatasetError, match=r"key 'val' points to .*v\.png, which is neither a folder nor a text"
    ):
        load_data_yaml(dataset)


def test_root_path_does_not_exist(tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ultralytics.utils

    monkeypatch.setattr(ultralytics.utils, "DATASETS_DIR", tmp_path / "datasets")
    monkeypatch.chdir(tmp_path)
    data = yaml.safe_load(dataset.read_text())
    data["path"] = "gone"
    _write_yaml(dataset, data)
    gone = tmp_path / "datasets" / "gone"
    with pytest.raises(
        DatasetError, match=rf"'train' points to {gone}/images/train, which does not exist .*datasets_dir"
    ):
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


# ------------------------------------------------ the same files as Ultralytics resolves


def _png(path: Path, value: int = 0) -> Path:
    """A real 8x12 PNG written with cv2, with a one-object label file beside it (if it has one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((8, 12, 3), value, np.uint8))
    _write_label(path, "0 0.5 0.5 0.2 0.2\n")
    return path


def _standard(root: Path) -> None:
    """images/{train,val} under ``root``: nested, upper-case and hidden files, a non-image."""
    for i, name in enumerate(("b.png", "a.jpg", "sub/c.PNG", "sub/deeper/d.png")):
        _png(root / "images" / "train" / name, i)
    _png(root / "images" / "val" / "v.png")
    _png(root / "images" / "val" / "u.bmp")
    _png(root / "images" / "train" / ".hidden.png")  # glob skips hidden files ...
    _png(root / "images" / "train" / ".cache" / "e.png")  # ... and hidden folders
    (root / "images" / "train" / "notes.md").write_text("not an image")
    (root / "images" / "train" / "noext").write_text("no extension")


def _no_path(tmp: Path) -> tuple[Path, dict[str, int]]:
    _standard(tmp / "ds")
    data = {"train": "images/train", "val": "images/val", "names": ["a", "b"]}
    return _write_yaml(tmp / "ds" / "data.yaml", data), {"train": 4, "val": 2}


def _absolute_path(tmp: Path) -> tuple[Path, dict[str, int]]:
    _standard(tmp / "ds")
    (tmp / "cfg").mkdir()
    data = {"path": str(tmp / "ds"), "train": "images/train", "val": "images/val", "names": {0: "a", 1: "b"}}
    return _write_yaml(tmp / "cfg" / "data.yaml", data), {"train": 4, "val": 2}


def _relative_path_from_cwd(tmp: Path) -> tuple[Path, dict[str, int]]:
    """``path`` is relative to the current directory, not to the YAML's folder."""
    _standard(tmp / "work" / "sets" / "ds")
    _png(tmp / "cfg" / "sets" / "ds" / "images" / "train" / "decoy.png")  # beside the YAML: not used
    _png(tmp / "cfg" / "sets" / "ds" / "images" / "val" / "decoy.png")
    data = {"path": "sets/ds", "train": "images/train", "val": "images/val", "names": ["a", "b"]}
    os.chdir(tmp / "work")
    return _write_yaml(tmp / "cfg" / "data.yaml", data), {"train": 4, "val": 2}


def _dot_path(tmp: Path) -> tuple[Path, dict[str, int]]:
    """``path: .`` is the current directory."""
    _standard(tmp / "work")
    _standard(tmp / "cfg")  # beside the YAML: not used
    _png(tmp / "cfg" / "images" / "val" / "decoy.png")
    data = {"path": ".", "train": "images/train", "val": "images/val", "names": ["a", "b"]}
    os.chdir(tmp / "work")
    return _write_yaml(tmp / "cfg" / "data.yaml", data), {"train": 4, "val": 2}


def _path_in_datasets_dir(tmp: Path) -> tuple[Path, dict[str, int]]:
    """A relative ``path`` missing from the current directory is looked up in datasets_dir."""
    _standard(tmp / "datasets" / "ds")
    (tmp / "work").mkdir()
    (tmp / "cfg").mkdir()
    data = {"path": "ds", "train": "images/train", "val": "images/val", "names": ["a", "b"]}
    os.chdir(tmp / "work")
    return _write_yaml(tmp / "cfg" / "data.yaml", data), {"train": 4, "val": 2}


def _txt_lists(tmp: Path) -> tuple[Path, dict[str, int]]:
    """'./' lines are relative to the list, other lines to the current directory or absolute."""
    root = tmp / "ds"
    _standard(root)
    _png(tmp / "work" / "extra" / "images" / "x.png")
    _png(tmp / "work" / "images" / "y.png")
    _png(tmp / "elsewhere" / "images" / "z.png")
    _png(root / "lists" / "images" / "w.png")
    lines = [
        "./images/w.png",  # lists/images/w.png
        "extra/images/x.png",  # current directory
        "images/y.png",  # current directory; its label text has no '/images/'
        "",
        str(tmp / "elsewhere" / "images" / "z.png"),
        "README",  # not an image extension: skipped
        "./images/w.png",  # listed twice, kept twice
    ]
    (root / "lists").mkdir(exist_ok=True)
    (root / "lists" / "train.txt").write_text("\ufeff\n" + "\n".join(lines) + "\n")  # BOM, leading blank
    (root / "val.txt").write_text("./images/val/v.png\n./images/val/u.bmp\n")
    os.chdir(tmp / "work")
    data = {"path": str(root), "train": "lists/train.txt", "val": "val.txt", "names": ["a", "b"]}
    return _write_yaml(root / "data.yaml", data), {"train": 5, "val": 2}


def _mixed_lists(tmp: Path) -> tuple[Path, dict[str, int]]:
    """Splits as lists mixing folders, list files and absolute entries."""
    root = tmp / "ds"
    _standard(root)
    _png(root / "more" / "images" / "m.png")
    _png(tmp / "outside" / "images" / "o.png")
    (root / "extra.txt").write_text("./more/images/m.png\n")
    data = {
        "train": ["images/train", "extra.txt", str(tmp / "outside" / "images")],
        "val": ["images/val", "extra.txt"],
        "test": ["images/val"],
        "names": ["a", "b"],
    }
    return _write_yaml(root / "data.yaml", data), {"train": 6, "val": 3, "test": 2}


def _dotdot_fallback(tmp: Path) -> tuple[Path, dict[str, int]]:
    """A missing '../x' entry falls back to 'x' under the root (Ultralytics' YOLOv5 rule)."""
    _standard(tmp / "ds")
    data = {"train": "../images/train", "val": "images/val", "names": ["a", "b"]}
    return _write_yaml(tmp / "ds" / "data.yaml", data), {"train": 4, "val": 2}


_FORMS = {
    "no path": _no_path,
    "absolute path": _absolute_path,
    "relative path": _relative_path_from_cwd,
    "path dot": _dot_path,
    "path in datasets_dir": _path_in_datasets_dir,
    "txt lists": _txt_lists,
    "mixed lists": _mixed_lists,
    "../ fallback": _dotdot_fallback,
}


def _ultralytics_files(entry: str | list[str]) -> list[str]:
    """``BaseDataset.get_img_files`` as a dataset would call it (no prefix, fraction 1)."""
    from ultralytics.data.base import BaseDataset

    return BaseDataset.get_img_files(SimpleNamespace(prefix="", fraction=1.0), entry)  # type: ignore[arg-type]


@pytest.mark.parametrize("form", list(_FORMS))
def test_resolves_the_same_files_as_ultralytics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    import ultralytics.data.utils
    import ultralytics.utils
    from ultralytics.data.utils import check_det_dataset, img2label_paths

    for module in (ultralytics.utils, ultralytics.data.utils):
        monkeypatch.setattr(module, "DATASETS_DIR", tmp_path / "datasets")
    monkeypatch.chdir(tmp_path)  # the builders may chdir further; monkeypatch restores it
    yaml_path, counts = _FORMS[form](tmp_path)
    spec = load_data_yaml(yaml_path)
    data = check_det_dataset(str(yaml_path), autodownload=False)
    assert spec.names == tuple(data["names"][i] for i in range(len(data["names"])))
    for split, count in counts.items():
        expected: list[str | Path] = list(_ultralytics_files(data[split]))
        samples = list_split(spec, split)
        assert [s.image for s in samples] == [Path(os.path.abspath(f)) for f in expected]
        assert [s.label for s in samples] == [Path(os.path.abspath(f)) for f in img2label_paths(expected)]
        assert len(samples) == count


def test_image_suffixes_match_ultralytics() -> None:
    from ultralytics.data.utils import IMG_FORMATS

    assert IMAGE_SUFFIXES == IMG_FORMATS


def test_split_sources_keep_yaml_order(tmp_path: Path) -> None:
    yaml_path, _ = _mixed_lists(tmp_path)
    spec = load_data_yaml(yaml_path)
    root = tmp_path / "ds"
    assert spec.splits["train"] == (root / "images/train", root / "extra.txt", tmp_path / "outside/images")
    assert spec.splits["test"] == (root / "images/val",)
    assert spec.splits["calib"] == spec.splits["train"] and not spec.has_calib


def test_validation_key_is_val(dataset: Path) -> None:
    data = yaml.safe_load(dataset.read_text())
    data["validation"] = data.pop("val")
    _write_yaml(dataset, data)
    assert load_data_yaml(dataset).splits["val"] == (dataset.parent / "images/val",)


@pytest.mark.parametrize(
    ("names", "nc", "expected"),
    [
        ({"1": "dog", "0": "cat"}, None, ("cat", "dog")),
        ([1, True], "2", ("1", "True")),
        (None, 3, ("class_0", "class_1", "class_2")),
    ],
)
def test_names_as_ultralytics_reads_them(
    dataset: Path, names: object, nc: object, expected: tuple[str, ...]
) -> None:
    from ultralytics.data.utils import check_det_dataset

    data = yaml.safe_load(dataset.read_text())
    data["names"] = names
    if nc is not None:
        data["nc"] = nc
    _write_yaml(dataset, data)
    assert load_data_yaml(dataset).names == expected
    by_index = check_det_dataset(str(dataset), autodownload=False)["names"]
    assert tuple(by_index[i] for i in range(len(by_index))) == expected


@pytest.mark.parametrize("nc", ["x", 1.5, 0])
def test_bad_nc(dataset: Path, nc: object) -> None:
    data = yaml.safe_load(dataset.read_text())
    data["nc"] = nc
    _write_yaml(dataset, data)
    with pytest.raises(DatasetError, match=rf"{dataset}: key 'nc' must be a positive integer"):
        load_data_yaml(dataset)


@pytest.mark.parametrize("key", ["train", "val", "calib"])
def test_missing_split_with_download_key_is_not_downloaded(dataset: Path, key: str) -> None:
    data = yaml.safe_load(dataset.read_text())
    data[key] = "images/elsewhere"
    data["download"] = "https://example.com/ds.zip"
    _write_yaml(dataset, data)
    missing = dataset.parent / "images/elsewhere"
    with pytest.raises(DatasetError) as info:
        load_data_yaml(dataset)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"dataset YAML {dataset}: key '{key}' points to {missing}, which does not exist"
    )
    assert "'download' key" in message and "does not download" in message


def test_missing_list_entry_names_the_entry(dataset: Path) -> None:
    data = yaml.safe_load(dataset.read_text())
    data["train"] = ["images/train", "images/gone"]
    _write_yaml(dataset, data)
    gone = dataset.parent / "images/gone"
    with pytest.raises(
        DatasetError, match=rf"key 'train' \(entry 2\) points to {gone}, which does not exist$"
    ):
        load_data_yaml(dataset)


def test_missing_listed_image_names_the_line(dataset: Path) -> None:
    root = dataset.parent
    (root / "val.txt").write_text("\n\n./images/val/v.png\n./images/val/gone.png\n")
    data = yaml.safe_load(dataset.read_text())
    data["val"] = "val.txt"
    _write_yaml(dataset, data)
    with pytest.raises(
        DatasetError, match=rf"^{root / 'val.txt'}:4: {root / 'images/val/gone.png'} is not an"
    ):
        list_split(load_data_yaml(dataset), "val")


def test_empty_multi_source_split_names_every_source(dataset: Path) -> None:
    root = dataset.parent
    (root / "empty_a").mkdir()
    (root / "empty_b.txt").write_text("README\n")
    data = yaml.safe_load(dataset.read_text())
    data["val"] = ["empty_a", "empty_b.txt"]
    _write_yaml(dataset, data)
    with pytest.raises(DatasetError, match=rf"has no images in {root / 'empty_a'}, {root / 'empty_b.txt'}$"):
        list_split(load_data_yaml(dataset), "val")


def test_image_list_not_text(dataset: Path) -> None:
    (dataset.parent / "val.lst").write_bytes(b"\xff\xfe\x00bad")
    data = yaml.safe_load(dataset.read_text())
    data["val"] = "val.lst"
    _write_yaml(dataset, data)
    with pytest.raises(DatasetError, match=r"image list .*val\.lst cannot be read as UTF-8 text"):
        list_split(load_data_yaml(dataset), "val")


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
