"""Read datasets in Ultralytics YOLO layout: data.yaml, image folders, label files.

Rules follow Ultralytics where they are defined: split entries are folders (searched
recursively) or ``.txt`` files listing images; a relative ``path`` and relative split
entries resolve against the YAML's folder (Ultralytics would use its global datasets
folder instead); the label of ``.../images/.../x.png`` is ``.../labels/.../x.txt``.
Every error is a :class:`~harness.errors.DatasetError` that names the file (and line
or key) and what was expected.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from harness.errors import DatasetError

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "heic", "heif", "avif", "jp2"}
)
"""Image file extensions (lower case, no dot), as in ``ultralytics.data.utils.IMG_FORMATS``."""

REQUIRED_SPLITS: tuple[str, ...] = ("train", "val")
OPTIONAL_SPLITS: tuple[str, ...] = ("calib", "test")
_COORD_TOL = 1e-6
_LABEL_FIELDS = ("class", "xc", "yc", "w", "h")


@dataclass(frozen=True)
class DataSpec:
    """A parsed data.yaml.

    Attributes:
        yaml_path: absolute path of the YAML file.
        root: dataset root (the ``path`` key, else the YAML's folder), absolute.
        names: class names by class index.
        splits: split name -> image folder or image-list file, absolute. Always has
            ``train``, ``val`` and ``calib`` (``calib`` falls back to ``train``).
    """

    yaml_path: Path
    root: Path
    names: tuple[str, ...]
    splits: dict[str, Path]

    @property
    def nc(self) -> int:
        """Number of classes."""
        return len(self.names)


@dataclass(frozen=True)
class Sample:
    """One image and its (possibly missing) label file."""

    image: Path
    label: Path


# ------------------------------------------------------------------------ data.yaml


def load_data_yaml(path: Path | str) -> DataSpec:
    """Parse and check a YOLO data.yaml; split paths must exist."""
    yaml_path = Path(path).absolute()
    data = _read_mapping(yaml_path)
    root = _resolve_root(data, yaml_path)
    names = _parse_names(data, yaml_path)
    splits = _resolve_splits(data, yaml_path, root)
    return DataSpec(yaml_path=yaml_path, root=root, names=names, splits=splits)


def _read_mapping(yaml_path: Path) -> Mapping[object, object]:
    if not yaml_path.is_file():
        raise DatasetError(f"dataset YAML {yaml_path} does not exist or is not a file")
    try:
        data = yaml.safe_load(yaml_path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DatasetError(f"dataset YAML {yaml_path} is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise DatasetError(
            f"dataset YAML {yaml_path} must be a mapping with keys 'names', 'train', 'val'; "
            f"got {type(data).__name__}"
        )
    for key in ("names", *REQUIRED_SPLITS):
        if key not in data:
            raise DatasetError(f"dataset YAML {yaml_path} is missing required key '{key}'")
    return data


def _resolve_root(data: Mapping[object, object], yaml_path: Path) -> Path:
    value = data.get("path")
    if value is None:
        return yaml_path.parent
    if not isinstance(value, str):
        raise DatasetError(f"dataset YAML {yaml_path}: key 'path' must be a folder path, got {value!r}")
    root = yaml_path.parent / value
    if not root.is_dir():
        raise DatasetError(f"dataset YAML {yaml_path}: key 'path' points to {root}, which is not a folder")
    return root


def _parse_names(data: Mapping[object, object], yaml_path: Path) -> tuple[str, ...]:
    raw = data["names"]
    if isinstance(raw, list):
        names = tuple(str(name) for name in raw)
    elif isinstance(raw, Mapping):
        names = _names_from_mapping(raw, yaml_path)
    else:
        raise DatasetError(
            f"dataset YAML {yaml_path}: key 'names' must be a list or a mapping "
            f"{{index: name}}, got {type(raw).__name__}"
        )
    if not names:
        raise DatasetError(f"dataset YAML {yaml_path}: key 'names' is empty; expected at least one class")
    nc = data.get("nc")
    if nc is not None and nc != len(names):
        raise DatasetError(
            f"dataset YAML {yaml_path}: key 'nc' is {nc!r} but 'names' has {len(names)} entries"
        )
    return names


def _names_from_mapping(raw: Mapping[object, object], yaml_path: Path) -> tuple[str, ...]:
    keys = list(raw)
    integers = all(isinstance(k, int) and not isinstance(k, bool) for k in keys)
    if not integers or sorted(keys) != list(range(len(keys))):
        raise DatasetError(
            f"dataset YAML {yaml_path}: keys of 'names' must be the integers 0..{len(keys) - 1}, got {keys}"
        )
    return tuple(str(raw[i]) for i in range(len(keys)))


def _resolve_splits(data: Mapping[object, object], yaml_path: Path, root: Path) -> dict[str, Path]:
    splits: dict[str, Path] = {}
    for key in (*REQUIRED_SPLITS, *OPTIONAL_SPLITS):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise DatasetError(
                f"dataset YAML {yaml_path}: key '{key}' must be one folder or .txt image list "
                f"(relative to {root}), got {value!r}"
            )
        resolved = root / value
        if not resolved.exists():
            raise DatasetError(
                f"dataset YAML {yaml_path}: key '{key}' points to {resolved}, which does not exist"
            )
        if not resolved.is_dir() and resolved.suffix != ".txt":
            raise DatasetError(
                f"dataset YAML {yaml_path}: key '{key}' points to {resolved}, "
                "which is neither a folder nor a .txt image list"
            )
        splits[key] = resolved
    splits.setdefault("calib", splits["train"])
    return splits


# -------------------------------------------------------------------------- samples


def label_path(image: Path) -> Path:
    """Ultralytics rule: last ``/images/`` -> ``/labels/``, extension -> ``.txt``."""
    text = os.fspath(image)
    sep_images, sep_labels = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return Path(sep_labels.join(text.rsplit(sep_images, 1))).with_suffix(".txt")


def _is_image(path: Path) -> bool:
    return path.suffix[1:].lower() in IMAGE_SUFFIXES and path.is_file()


def _images_in(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if _is_image(p))
    return sorted(_images_listed(source))


def _images_listed(list_file: Path) -> list[Path]:
    """Images named in a ``.txt`` list, one per line, relative to the list's folder."""
    images = []
    for number, line in enumerate(list_file.read_text().splitlines(), start=1):
        entry = line.strip()
        if not entry:
            continue
        image = list_file.parent / entry
        if not _is_image(image):
            raise DatasetError(f"{list_file}:{number}: {image} is not an existing image file")
        images.append(image)
    return images


def list_split(spec: DataSpec, split: str) -> list[Sample]:
    """Sorted samples of ``split``; an empty split is an error."""
    if split not in spec.splits:
        raise DatasetError(f"{spec.yaml_path} has no split '{split}'; available: {sorted(spec.splits)}")
    source = spec.splits[split]
    images = _images_in(source)
    if not images:
        raise DatasetError(f"{split} split of {spec.yaml_path} has no images in {source}")
    return [Sample(image=image, label=label_path(image)) for image in images]


# --------------------------------------------------------------------------- labels


def read_labels(path: Path | str, nc: int) -> np.ndarray:
    """Read a YOLO detection label file.

    Returns:
        float32 array (n, 5) of ``[class, xc, yc, w, h]`` normalised to [0, 1]; a missing
        file means no objects, shape (0, 5).

    Raises:
        DatasetError: naming ``file:line`` for a wrong field count, a non-number, a class
            outside ``[0, nc)``, a coordinate outside [0, 1] or a non-positive w or h.
    """
    label = Path(path)
    if not label.is_file():
        return np.zeros((0, 5), np.float32)
    rows = [
        _parse_label_line(line, f"{label}:{number}", nc)
        for number, line in enumerate(label.read_text().splitlines(), start=1)
        if line.strip()
    ]
    return np.array(rows, np.float32).reshape(-1, 5)


def _parse_label_line(line: str, where: str, nc: int) -> tuple[float, ...]:
    tokens = line.split()
    if len(tokens) != len(_LABEL_FIELDS):
        raise DatasetError(f"{where}: expected 5 fields 'class xc yc w h', got {len(tokens)}")
    values = tuple(_parse_number(token, name, where) for token, name in zip(tokens, _LABEL_FIELDS))
    cls = values[0]
    if cls != int(cls) or not 0 <= cls < nc:
        raise DatasetError(f"{where}: class {tokens[0]} outside [0, {nc}) or not an integer")
    for name, value in zip(_LABEL_FIELDS[1:], values[1:]):
        if not -_COORD_TOL <= value <= 1 + _COORD_TOL:
            raise DatasetError(f"{where}: {name} {value} outside [0, 1]")
    for name, value in zip(("w", "h"), values[3:]):
        if value <= 0:
            raise DatasetError(f"{where}: {name} {value} must be > 0")
    return values


def _parse_number(token: str, name: str, where: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise DatasetError(f"{where}: {name} {token!r} is not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"{where}: {name} {token!r} is not a finite number")
    return value


# ---------------------------------------------------------------------------- hash


def dataset_hash(spec: DataSpec) -> str:
    """sha256 over names, split layout, file names, image sizes and label bytes.

    Paths enter relative to ``spec.root`` and the absolute ``path`` key is left out, so
    the same files hash the same wherever they are stored. Image bytes are not read.
    """
    digest = hashlib.sha256()
    splits = {name: _relative(source, spec.root) for name, source in spec.splits.items()}
    layout = {"names": list(spec.names), "splits": splits}
    digest.update(json.dumps(layout, sort_keys=True).encode())
    for source in sorted(set(spec.splits.values())):
        digest.update(f"\0source {_relative(source, spec.root)}\0".encode())
        for image in _images_in(source):
            digest.update(_sample_record(Sample(image, label_path(image)), spec.root))
    return digest.hexdigest()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _sample_record(sample: Sample, root: Path) -> bytes:
    head = f"{_relative(sample.image, root)}\0{sample.image.stat().st_size}\0".encode()
    label = sample.label.read_bytes() if sample.label.is_file() else b"<no label file>"
    return head + len(label).to_bytes(8, "little") + label
