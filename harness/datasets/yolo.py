"""Read datasets in Ultralytics YOLO layout: data.yaml, image folders, label files.

Paths resolve as Ultralytics resolves them (``check_det_dataset`` and
``BaseDataset.get_img_files``), so the harness evaluates and calibrates on the very files that
Ultralytics trains and validates on:

* the dataset root is the ``path`` key taken as written (a relative one is relative to the current
  directory), or the YAML's folder when there is no ``path``; a relative ``path`` that does not
  exist is looked up in Ultralytics' ``datasets_dir`` setting;
* a split is one entry or a list of entries, each ``(root / entry).resolve()`` (an absolute entry
  stays as it is; a missing ``../x`` falls back to ``root / x``); an entry is a folder, searched
  recursively (hidden files and folders skipped, as :func:`glob.glob` does), or a text file that
  lists images, one a line: lines starting with ``./`` are relative to the list's folder, other
  lines are taken as written (relative to the current directory, or absolute); lines whose
  extension is not an image extension are skipped;
* a split's images are sorted by their path text, and the label of ``.../images/.../x.png`` is
  ``.../labels/.../x.txt``.

The harness is stricter where Ultralytics would warn, skip or download: a missing split entry or a
listed image that does not exist is an error, and it never downloads a dataset. Every error is a
:class:`~harness.errors.DatasetError` that names the file (and line or key) and what was expected.
"""

from __future__ import annotations

import glob
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
        root: dataset root, resolved (the ``path`` key as Ultralytics resolves it, else the
            YAML's folder).
        names: class names by class index.
        splits: split name -> its sources (image folders or image-list files), resolved, in the
            order the YAML gives them. Always has ``train``, ``val`` and ``calib``; ``calib``
            falls back to ``train``'s sources when the YAML has none (see ``has_calib``).
        has_calib: whether the YAML really gives a ``calib`` split.
    """

    yaml_path: Path
    root: Path
    names: tuple[str, ...]
    splits: dict[str, tuple[Path, ...]]
    has_calib: bool

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
    """Parse and check a YOLO data.yaml the way Ultralytics reads it; every split entry must exist.

    Raises:
        DatasetError: the YAML is unreadable or malformed, or a split entry does not exist (the
            harness never downloads, even when the YAML has a ``download`` key).
    """
    yaml_path = Path(path).absolute()
    data = _read_mapping(yaml_path)
    names = _parse_names(data, yaml_path)
    root, root_note = _resolve_root(data, yaml_path)
    splits = _resolve_splits(data, yaml_path, root, root_note)
    has_calib = "calib" in splits
    splits.setdefault("calib", splits["train"])
    return DataSpec(yaml_path=yaml_path, root=root, names=names, splits=splits, has_calib=has_calib)


def _read_mapping(yaml_path: Path) -> dict[object, object]:
    if not yaml_path.is_file():
        raise DatasetError(f"dataset YAML {yaml_path} does not exist or is not a file")
    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        message = " ".join(str(exc).split())
        raise DatasetError(f"dataset YAML {yaml_path} is not valid YAML: {message}") from exc
    if not isinstance(data, Mapping):
        raise DatasetError(
            f"dataset YAML {yaml_path} must be a mapping with keys 'names', 'train', 'val'; "
            f"got {type(data).__name__}"
        )
    data = dict(data)
    if "val" not in data and "validation" in data:  # Ultralytics renames it the same way
        data["val"] = data.pop("validation")
    for key in REQUIRED_SPLITS:
        if key not in data:
            raise DatasetError(f"dataset YAML {yaml_path} is missing required key '{key}'")
    if data.get("names") is None and "nc" not in data:
        raise DatasetError(f"dataset YAML {yaml_path} is missing required key 'names' (or 'nc')")
    return data


def _resolve_root(data: Mapping[object, object], yaml_path: Path) -> tuple[Path, str]:
    """The root as ``check_det_dataset`` computes it, resolved, and how it was found (for errors)."""
    value = data.get("path")
    if value is not None and not isinstance(value, str):
        raise DatasetError(f"dataset YAML {yaml_path}: key 'path' must be a folder path, got {value!r}")
    if not value:
        return yaml_path.parent.resolve(), ""
    root = Path(value)
    if root.exists() or root.is_absolute():
        return root.resolve(), f" (key 'path' {value!r} resolved to {root.resolve()})"
    root = (_datasets_dir() / value).resolve()
    note = f" (key 'path' {value!r} is not in the current directory, so it resolved to {root} under datasets_dir)"
    return root, note


def _datasets_dir() -> Path:
    """Ultralytics' ``datasets_dir`` setting; imported only when needed (it imports torch)."""
    from ultralytics import utils

    return Path(utils.DATASETS_DIR)


def _parse_names(data: Mapping[object, object], yaml_path: Path) -> tuple[str, ...]:
    nc = _parse_nc(data, yaml_path)
    raw = data.get("names")
    if raw is None:
        assert nc is not None  # _read_mapping requires 'names' or 'nc'
        return tuple(f"class_{i}" for i in range(nc))
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
    if nc is not None and nc != len(names):
        raise DatasetError(
            f"dataset YAML {yaml_path}: key 'nc' is {data['nc']!r} but 'names' has {len(names)} entries"
        )
    return names


def _parse_nc(data: Mapping[object, object], yaml_path: Path) -> int | None:
    """``nc`` as Ultralytics accepts it: an integer or an integer-like number or text."""
    if "nc" not in data:
        return None
    value = data["nc"]
    try:
        number = float(value)  # type: ignore[arg-type]
        if isinstance(value, bool) or number != int(number) or number < 1:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise DatasetError(
            f"dataset YAML {yaml_path}: key 'nc' must be a positive integer, got {value!r}"
        ) from None
    return int(number)


def _names_from_mapping(raw: Mapping[object, object], yaml_path: Path) -> tuple[str, ...]:
    """Keys are class indices, integers or integer text ('0'), covering 0..n-1 (Ultralytics)."""
    keys = list(raw)
    indices = [_class_index(key) for key in keys]
    if None in indices or sorted(indices) != list(range(len(keys))):  # type: ignore[type-var]
        raise DatasetError(
            f"dataset YAML {yaml_path}: keys of 'names' must be the integers 0..{len(keys) - 1}, got {keys}"
        )
    by_index = dict(zip(indices, raw.values()))
    return tuple(str(by_index[i]) for i in range(len(keys)))


def _class_index(key: object) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    if isinstance(key, str) and key.strip().lstrip("+-").isdigit():
        return int(key)
    return None


def _resolve_splits(
    data: Mapping[object, object], yaml_path: Path, root: Path, root_note: str
) -> dict[str, tuple[Path, ...]]:
    splits: dict[str, tuple[Path, ...]] = {}
    for key in (*REQUIRED_SPLITS, *OPTIONAL_SPLITS):
        value = data.get(key)
        if not value:  # Ultralytics skips a missing or empty split the same way
            if key in REQUIRED_SPLITS:
                raise DatasetError(
                    f"dataset YAML {yaml_path}: key '{key}' is empty; expected a folder, an image "
                    "list file, or a list of them"
                )
            continue
        entries = _split_entries(value, key, yaml_path)
        sources = tuple(_resolve_entry(entry, root) for entry in entries)
        for index, source in enumerate(sources):
            where = f"key '{key}'" if isinstance(value, str) else f"key '{key}' (entry {index + 1})"
            _check_source(source, where, data, yaml_path, root_note)
        splits[key] = sources
    return splits


def _split_entries(value: object, key: str, yaml_path: Path) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(entry, str) and entry for entry in value):
        return list(value)
    raise DatasetError(
        f"dataset YAML {yaml_path}: key '{key}' must be a folder or image list file (text), or a "
        f"list of them, got {value!r}"
    )


def _resolve_entry(entry: str, root: Path) -> Path:
    """``check_det_dataset``'s rule: ``(root / entry).resolve()``; a missing ``../x`` tries ``root / x``."""
    source = (root / entry).resolve()
    if not source.exists() and entry.startswith("../"):
        source = (root / entry[3:]).resolve()
    return source


def _check_source(
    source: Path, where: str, data: Mapping[object, object], yaml_path: Path, root_note: str
) -> None:
    if not source.exists():
        if data.get("download"):
            raise DatasetError(
                f"dataset YAML {yaml_path}: {where} points to {source}, which does not exist{root_note}; "
                "the YAML has a 'download' key, but the harness does not download datasets: "
                "download it first (e.g. with Ultralytics) and run again"
            )
        raise DatasetError(
            f"dataset YAML {yaml_path}: {where} points to {source}, which does not exist{root_note}"
        )
    if source.is_dir():
        return
    if not source.is_file() or _has_image_suffix(source.name):
        raise DatasetError(
            f"dataset YAML {yaml_path}: {where} points to {source}, which is neither a folder nor "
            "a text file listing images (e.g. a .txt)"
        )


# -------------------------------------------------------------------------- samples


def label_path(image: Path) -> Path:
    """Ultralytics rule: last ``/images/`` -> ``/labels/``, extension -> ``.txt``."""
    return Path(_label_text(os.fspath(image)))


def _label_text(image: str) -> str:
    """``ultralytics.data.utils.img2label_paths`` for one path, on its text as written."""
    sep_images, sep_labels = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sep_labels.join(image.rsplit(sep_images, 1)).rsplit(".", 1)[0] + ".txt"


def _has_image_suffix(text: str) -> bool:
    """``get_img_files``' filter: the text after the last dot is an image extension."""
    return text.rpartition(".")[-1].lower() in IMAGE_SUFFIXES


@dataclass(frozen=True)
class _Entry:
    """An image path as ``get_img_files`` yields it, and the list line it came from (if any)."""

    text: str
    origin: str | None


def _entries(source: Path) -> list[_Entry]:
    """Image path texts of one source, unsorted, exactly as ``get_img_files`` collects them."""
    if source.is_dir():
        found = glob.glob(os.path.join(glob.escape(str(source)), "**", "*.*"), recursive=True)
        return [_Entry(text, None) for text in found if _has_image_suffix(text) and os.path.isfile(text)]
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"image list {source} cannot be read as UTF-8 text: {exc}") from exc
    first_line = 1 + text[: len(text) - len(text.lstrip())].count("\n")
    parent = str(source.parent) + os.sep
    entries = []
    for number, line in enumerate(text.strip().splitlines(), start=first_line):
        path = line.replace("./", parent, 1) if line.startswith("./") else line
        if _has_image_suffix(path):
            entries.append(_Entry(path, f"{source}:{number}"))
    return entries


def _samples(sources: tuple[Path, ...]) -> list[Sample]:
    """Samples of the sources, in ``get_img_files``' order; a listed image must exist."""
    collected = (_Entry(e.text.replace("/", os.sep), e.origin) for s in sources for e in _entries(s))
    entries = sorted(collected, key=lambda entry: entry.text)
    samples = []
    for entry in entries:
        image = Path(os.path.abspath(entry.text))
        if entry.origin is not None and not image.is_file():
            raise DatasetError(f"{entry.origin}: {image} is not an existing image file")
        samples.append(Sample(image=image, label=Path(os.path.abspath(_label_text(entry.text)))))
    return samples


def list_split(spec: DataSpec, split: str) -> list[Sample]:
    """Samples of ``split`` in Ultralytics' order (sorted path text); an empty split is an error.

    Image and label paths are made absolute; list lines that are relative (and do not start
    with ``./``) are taken relative to the current directory, as Ultralytics takes them.
    """
    if split not in spec.splits:
        raise DatasetError(f"{spec.yaml_path} has no split '{split}'; available: {sorted(spec.splits)}")
    sources = spec.splits[split]
    samples = _samples(sources)
    if not samples:
        where = ", ".join(str(source) for source in sources)
        raise DatasetError(f"{split} split of {spec.yaml_path} has no images in {where}")
    return samples


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

    Covers every source of every split. Paths enter relative to ``spec.root`` and the absolute
    ``path`` key is left out, so the same files hash the same wherever they are stored. A
    ``calib`` split enters only when the YAML gives one (calibration samples the train split
    otherwise). Image bytes are not read.
    """
    digest = hashlib.sha256()
    given = {name: sources for name, sources in spec.splits.items() if name != "calib" or spec.has_calib}
    splits = {name: _layout(sources, spec.root) for name, sources in given.items()}
    layout = {"names": list(spec.names), "splits": splits}
    digest.update(json.dumps(layout, sort_keys=True).encode())
    for source in sorted({source for sources in given.values() for source in sources}):
        digest.update(f"\0source {_relative(source, spec.root)}\0".encode())
        for sample in _samples((source,)):
            digest.update(_sample_record(sample, spec.root))
    return digest.hexdigest()


def _layout(sources: tuple[Path, ...], root: Path) -> str | list[str]:
    """One source as its relative path text (as before lists were read), several as a list."""
    texts = [_relative(source, root) for source in sources]
    return texts[0] if len(texts) == 1 else texts


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _sample_record(sample: Sample, root: Path) -> bytes:
    head = f"{_relative(sample.image, root)}\0{sample.image.stat().st_size}\0".encode()
    label = sample.label.read_bytes() if sample.label.is_file() else b"<no label file>"
    return head + len(label).to_bytes(8, "little") + label
