"""``harness init``: check a user's checkpoint and dataset, then write a commented starter config.

Checks, each failing with one line that names the file at fault:

- the weights load through the harness's loader (:func:`harness.builders.weights.load_yolo`) and hold
  a detection model whose head predicts as many classes as it has names;
- the checkpoint's class names and the data.yaml's agree (count and names, index by index);
- the data.yaml's splits exist and hold images (:func:`harness.datasets.yolo.load_data_yaml`,
  :func:`harness.datasets.yolo.list_split`);
- the image size is the checkpoint's training ``imgsz`` (640, said so in the file, when it has
  none usable).

The config (``harness.toml`` layout, paths relative to its folder) has the data, image size, the
model pinned by its sha256, the default profile's precision x backend matrix and INT8
configurations, an accuracy budget, and every study that trains as a commented-out block with
its rough cost for this model, image size and split. It is validated with
:func:`harness.config.load_config` before it replaces anything, and written atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.cache import file_sha256
from harness.config.mixed_precision import MixedPrecisionSpec
from harness.errors import ConfigError, HarnessError, WeightsError
from harness.fsutil import atomic_write_text

__all__ = ["FALLBACK_IMGSZ", "Checked", "SplitCount", "check", "init", "model_name", "render"]

FALLBACK_IMGSZ = 640
"""Image size written when the checkpoint stores no usable training ``imgsz`` (Ultralytics' default)."""

# Cost model. Training yolo11n (1.6 GFLOPs per 320 px image, forward) on the embedded default
# (640 train images, 200 val images validated after each epoch) takes about 7 minutes for 16
# epochs at 160 px plus 3 at 320 px on the 2-core Xeon the harness is tuned on (harness/config/profiles.py):
# about 1 minute per 320 px epoch, 0.09 s per training image, 0.06 s per image and forward GFLOP.
# Inference is about a third of that (no backward pass; the mixed-precision steps, about 8 s for
# 100 calibration and 200 val images, agree).
TRAIN_S_PER_GFLOP_IMAGE = 0.06
INFER_S_PER_GFLOP_IMAGE = 0.02
TTA_PIXELS = 1.0 + 0.83**2 + 0.67**2  # Ultralytics' augment=True: scales 1, 0.83, 0.67

_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # harness.config's model name rule
_QUANT_ORDER = ("method", "format", "per_channel", "activations", "weights", "calibration", "calib_size",
                "max_drop", "ops", "backends")  # fmt: skip


@dataclass(frozen=True)
class SplitCount:
    """A split of the dataset: how many images it has, and how many of them have a label file."""

    name: str
    images: int
    labelled: int


@dataclass(frozen=True)
class Checked:
    """What :func:`check` found: everything the starter config is written from."""

    weights: Path
    data: Path
    sha256: str
    names: tuple[str, ...]
    imgsz: int
    imgsz_note: str  # "" when the checkpoint's training imgsz was used, else why 640
    splits: tuple[SplitCount, ...]  # train, val, then calib and test when the YAML sets them
    calib_is_train: bool
    params: int
    gflops: float  # forward GFLOPs of one image at imgsz (estimated from params if unmeasured)

    def split(self, name: str) -> SplitCount:
        """The split called ``name`` (KeyError when the YAML has none)."""
        for split in self.splits:
            if split.name == name:
                return split
        raise KeyError(name)


def model_name(weights: Path) -> str:
    """A ``[[models]] name`` from the file stem: characters outside ``[A-Za-z0-9_.-]`` become ``-``,
    leading and trailing separators are dropped (``"model"`` when nothing is left)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", weights.stem).strip("_.-")
    return name if _NAME_OK.fullmatch(name) else "model"


def _sha256(path: Path) -> str:
    """Hex sha256 of the weights file (:func:`harness.cache.file_sha256`); WeightsError if unreadable."""
    try:
        return file_sha256(path)
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {path}: {exc.strerror or exc}") from exc


def _class_names(raw: object, weights: Path) -> tuple[str, ...]:
    """``model.names`` (a dict by index, or a list) as a tuple in index order."""
    if isinstance(raw, Mapping):
        keys = sorted(raw)
        if keys != list(range(len(keys))):
            raise WeightsError(f"weights file {weights}: class indices {keys} are not 0..{len(keys) - 1}")
        return tuple(str(raw[k]) for k in keys)
    if isinstance(raw, list | tuple):
        return tuple(str(n) for n in raw)
    raise WeightsError(f"weights file {weights} stores no class names (model.names is {type(raw).__name__})")


def _short(names: Sequence[str], limit: int = 6) -> str:
    """``names`` for a message: the first ``limit``, then how many more."""
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _check_classes(weights: Path, data: Path, model: Sequence[str], dataset: Sequence[str]) -> None:
    """Raise HarnessError naming both files when the class count or a class name differs."""
    if len(model) != len(dataset):
        raise HarnessError(
            f"classes differ: weights file {weights} has {len(model)} ({_short(model)}), "
            f"dataset YAML {data} has {len(dataset)} ({_short(dataset)})"
        )
    for index, (ours, theirs) in enumerate(zip(model, dataset, strict=True)):
        if ours != theirs:
            raise HarnessError(
                f"classes differ: class {index} is {ours!r} in weights file {weights} "
                f"but {theirs!r} in dataset YAML {data}"
            )


def _imgsz(train_args: Mapping[str, object]) -> tuple[int, str]:
    """The checkpoint's training image size, or 640 and the reason in words."""
    raw = train_args.get("imgsz")
    if isinstance(raw, list | tuple) and len(set(raw)) == 1:
        raw = raw[0]
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 32 and raw % 32 == 0:
        return raw, ""
    if raw is None:
        return FALLBACK_IMGSZ, "the checkpoint stores no training imgsz: Ultralytics' default 640"
    return FALLBACK_IMGSZ, f"the checkpoint's training imgsz {raw!r} is not one multiple of 32: 640"


def _splits(data: Path) -> tuple[tuple[str, ...], tuple[SplitCount, ...], bool]:
    """The data.yaml's class names, its splits with image and label counts, and whether calib is
    the train split (the YAML has no ``calib`` key)."""
    from harness.datasets.yolo import list_split, load_data_yaml

    spec = load_data_yaml(data)
    calib_is_train = not spec.has_calib
    names = ["train", "val"] + [s for s in ("calib", "test") if s in spec.splits]
    if calib_is_train:
        names.remove("calib")
    counts = []
    for name in names:
        samples = list_split(spec, name)
        labelled = sum(1 for s in samples if s.label.is_file())
        counts.append(SplitCount(name, len(samples), labelled))
    return tuple(spec.names), tuple(counts), calib_is_train


def _footprint(net: object, imgsz: int) -> tuple[int, float]:
    """Parameters and forward GFLOPs at ``imgsz`` (from the parameter count when THOP cannot tell:
    yolo11n's 2.6 M parameters take 6.5 GFLOPs at 640 px)."""
    from harness.measure.size import count_params, gflops

    params = count_params(net)
    return params, gflops(net, imgsz) or params / 2.6e6 * 6.5 * (imgsz / 640) ** 2


def check(weights: Path, data: Path) -> Checked:
    """Run every check of the module docstring; HarnessError (one line, naming the file) on the first
    that fails. Loading the checkpoint unpickles it: it runs code from the file."""
    from harness.builders.weights import load_yolo, stored_train_args

    weights, data = Path(weights).absolute(), Path(data).absolute()
    model = load_yolo(weights)  # exists, loads, detection task
    names = _class_names(model.names, weights)
    head_nc = getattr(model.model.model[-1], "nc", None)  # type: ignore[union-attr, index]
    if isinstance(head_nc, int) and head_nc != len(names):
        raise WeightsError(
            f"weights file {weights}: the detection head predicts {head_nc} classes but model.names "
            f"lists {len(names)}"
        )
    data_names, splits, calib_is_train = _splits(data)
    _check_classes(weights, data, names, data_names)
    imgsz, note = _imgsz(stored_train_args(model))  # the checkpoint is unpickled once
    params, gf = _footprint(model.model, imgsz)
    return Checked(weights, data, _sha256(weights), names, imgsz, note, splits, calib_is_train, params, gf)


# -- rendering ---------------------------------------------------------------------------------


def _toml(value: object) -> str:
    """A TOML literal for a string, bool, number or list of those (JSON strings are TOML strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _relative(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` when it lies inside it (the folder can then move), else absolute."""
    return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)


def _minutes(seconds: float) -> str:
    """A rough duration in words."""
    if seconds < 60:
        return "under a minute" if seconds >= 10 else "a few seconds"
    minutes = seconds / 60
    if minutes < 90:
        return f"about {minutes:.0f} min"
    return f"about {minutes / 60:.1f} h"


def _default_train_epochs() -> int:
    """Epochs of the harness's fine-tunes of a ``.pt`` when the config sets no ``[train] epochs``."""
    from harness.config.profiles import profile_defaults

    return int(profile_defaults("default")["train"]["epochs"])  # type: ignore[index]


def _quant_entries(calib_images: int) -> list[dict[str, object]]:
    """The default profile's ``[[matrix.quant]]`` tables, calibrated on ``calib_images`` images
    when the calibration source holds fewer than their ``calib_size``."""
    from harness.config.profiles import profile_defaults
    from harness.recipes import QuantSpec

    matrix = profile_defaults("default")["matrix"]
    entries = [dict(e) for e in matrix["quant"]]  # type: ignore[index]
    for entry in entries:
        wanted = int(entry.get("calib_size", QuantSpec().calib_size))  # type: ignore[call-overload]
        if calib_images < wanted:
            entry["calib_size"] = calib_images
    return entries


def _quant_lines(entries: Sequence[Mapping[str, object]]) -> list[str]:
    lines: list[str] = []
    for entry in entries:
        lines += ["", "[[matrix.quant]]"]
        keys = sorted(entry, key=lambda k: _QUANT_ORDER.index(k) if k in _QUANT_ORDER else len(_QUANT_ORDER))
        lines += [f"{key} = {_toml(entry[key])}" for key in keys]
    return lines


MIXED_GROUPS = 40
"""Layer groups of a YOLO nano graph that the mixed-precision search scores (yolo11n: 41)."""
SEARCH_IMAGES = MixedPrecisionSpec().search_images
"""Held-out images the mixed-precision search runs each layer group on (its default)."""


def render(checked: Checked, out: Path, date: str = "") -> str:
    """The starter config's text for ``checked``, with paths relative to ``out``'s folder."""
    folder = Path(out).absolute().parent
    train, val = checked.split("train"), checked.split("val")
    epoch_s = train.images * TRAIN_S_PER_GFLOP_IMAGE * checked.gflops
    val_s = val.images * INFER_S_PER_GFLOP_IMAGE * checked.gflops
    calib_images = min(100, train.images if checked.calib_is_train else checked.split("calib").images)
    step_s = (calib_images + val.images) * INFER_S_PER_GFLOP_IMAGE * checked.gflops
    rank_s = MIXED_GROUPS * SEARCH_IMAGES * INFER_S_PER_GFLOP_IMAGE * checked.gflops
    px = f"{checked.imgsz} px"
    split_words = ", ".join(f"{s.name} {s.images} images ({s.labelled} labelled)" for s in checked.splits)
    calib = (
        "a seeded sample of the train split (the YAML has no calib key)"
        if checked.calib_is_train
        else "the YAML's calib split"
    )
    epoch = f"{_minutes(epoch_s)} per epoch at {px} on this split: {train.images} train images"
    name = model_name(checked.weights)
    finetune = _default_train_epochs()
    imgsz_comment = (
        f"# {checked.imgsz_note}" if checked.imgsz_note else "# the checkpoint's training imgsz (train_args)"
    )
    lines = [
        (
            f"# harness.toml, written by `harness init`{f' on {date}' if date else ''} from "
            f"{checked.weights.name} and {checked.data.name}."
        ),
        "# Run it from this folder: `harness run` (or `pytest --pyargs harness.suites`); select with -k,",
        '# e.g. `harness run -k "fp32 and onnxruntime"`. Every key: the README, "Your own model and data".',
        "",
        f"data = {_toml(_relative(checked.data, folder))}",
        f"# {split_words}",
        f"# INT8 calibrates on {calib}",
        f"imgsz = {checked.imgsz}",
        imgsz_comment,
        'device = "cpu"    # or "cuda:0"',
        "",
        "# A .pt file is a pickle: loading it runs code stored in it. Open only checkpoints you trust.",
        "# weights_sha256 pins this exact file: the harness checks it before loading and stops on any other.",
        "[[models]]",
        f"name = {_toml(name)}",
        f"weights = {_toml(_relative(checked.weights, folder))}",
        f"weights_sha256 = {_toml(checked.sha256)}",
        (
            f"# detection, {len(checked.names)} classes ({_short(checked.names)}), "
            f"{checked.params / 1e6:.1f} M parameters, {checked.gflops:.1f} GFLOPs at {px}"
        ),
        "",
        "[matrix]",
        "prune = [0.0]    # 0.0: unpruned; add ratios (0.3) to prune, see the pruning block below",
        f"precision = {_toml(['fp32', 'fp16', 'int8'])}",
        f"backend = {_toml(['torch', 'onnxruntime', 'openvino', 'ncnn'])}",
        "",
        "# INT8 configurations: the default profile's, each backend's fastest on the harness's 2-core Xeon",
        "# (ONNX Runtime: QDQ, per-channel, U8 activations / S8 weights, MinMax; OpenVINO and NCNN:",
        f"# symmetric S8, Percentile), each calibrated on {calib_images} images (calib_size).",
        *_quant_lines(_quant_entries(calib_images))[1:],
        "",
        "[budgets]",
        "# mAP50-95 a variant may lose against the same run's FP32 PyTorch reference. A number is",
        '# absolute (0.01: one point of mAP50-95); a string is relative to the reference ("1%": at most',
        '# 1 % of its mAP50-95, MLPerf\'s "99 % of FP32").',
        "max_map_drop = 0.01",
        "",
        "# ---- Studies (off until uncommented) --------------------------------------------------------",
        "# Costs are rough: yolo11n's training speed on a 2-core CPU, scaled by this model's",
        f"# {checked.gflops:.1f} GFLOPs at {px}. A training epoch: {_minutes(epoch_s)} ({train.images} images);",
        f"# a val pass: {_minutes(val_s)} ({val.images} images). A GPU trains far faster.",
        "",
        "# Pruning: one fine-tune of 4 epochs per case",
        f"# ({epoch}),",
        f"# so {_minutes(4 * epoch_s + 2 * val_s)} per case; a case is ratio x prune_criterion x prune_strategy.",
        "# Set prune = [0.0, 0.3] in [matrix] above, then uncomment:",
        "# [pruning]",
        "# finetune_epochs = 4",
        '# backends = ["torch", "onnxruntime"]   # pruned variants run here',
        '# precisions = ["fp32"]',
        "# [budgets.pruned]",
        "# max_map_drop = 0.02",
        "",
        "# Distillation (needs the pruning block): the pruned model learns from its unpruned self for",
        "# 4 epochs; its control (the same 4 epochs without a teacher) is the pruning fine-tune above.",
        "# Each epoch with the teacher takes 1-2x a plain one",
        f"# ({epoch}),",
        f"# so {_minutes(4 * 1.5 * epoch_s + 2 * val_s)} per student x teacher x method.",
        "# [distill]",
        "# students = [{prune = 0.3}]",
        '# teachers = ["reference"]             # or a larger model\'s .pt with the same classes',
        '# methods = ["response"]               # also "feature", "cwd"',
        "# epochs = 4",
        "",
        "# Mixed precision: no training. Each layer group (module) of the worst ONNX Runtime INT8",
        "# configuration is put back in float alone and its output error against FP32 measured",
        f"# on {SEARCH_IMAGES} held-out images (about",
        f"# {MIXED_GROUPS} groups: {_minutes(rank_s)}, cached); the best ones stay in float, one more per step,",
        "# until half its mAP loss is back; each step is one INT8 build",
        (
            f"# ({calib_images} calibration images) and one val pass: {_minutes(step_s)} a step, "
            f"{_minutes(4 * step_s)} for 4 steps."
        ),
        "# [mixed_precision]",
        "# recover = 0.5",
        "# max_steps = 4",
        "# search_images = 100",
        "",
        "# Ablation: runs without this block (its defaults below, but multi_scale, which is 0 until set).",
        "# Its rows reuse the INT8, pruned and distilled variants above (a row without one shows '-' and",
        f"# why); +TTA adds a val pass at three scales: {_minutes(TTA_PIXELS * val_s)}. +Multi-scale training",
        f"# fine-tunes the .pt twice, {finetune} epochs with multi_scale and {finetune} without (its baseline):",
        f"# {_minutes(2 * finetune * epoch_s + 2 * val_s)} ([train] epochs sets how many).",
        "# [ablation]",
        '# backend = "onnxruntime"',
        "# multi_scale = 0.5",
        "# max_map_drop = 0.01",
        "",
    ]
    return "\n".join(lines)


def _validated(text: str, out: Path) -> None:
    """Load ``text`` as a config beside ``out`` (so relative paths resolve as they will); ConfigError
    when the harness would not accept it."""
    from harness.config import load_config

    folder = out.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".check.toml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        load_config(folder, path=Path(tmp))
    except ConfigError as exc:
        raise ConfigError(f"the config written for {out} does not load: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def init(weights: Path, data: Path, out: Path, force: bool = False, date: str = "") -> list[str]:
    """Check ``weights`` and ``data``, write the starter config to ``out`` and return a summary, one
    line per check. Refuses to replace an existing ``out`` unless ``force``."""
    out = Path(out).absolute()
    if out.name == "pyproject.toml":
        raise HarnessError(
            f"--out {out}: harness init writes a harness.toml; put its tables under [tool.harness] "
            "of pyproject.toml yourself"
        )
    if out.exists() and not force:
        raise HarnessError(f"{out} already exists (use --force to overwrite it)")
    if out.is_dir():
        raise HarnessError(f"--out {out} is a folder; expected a file name such as harness.toml")
    checked = check(weights, data)
    text = render(checked, out, date)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _validated(text, out)
        atomic_write_text(out, text)
    except OSError as exc:
        raise HarnessError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return _summary(checked, out)


def _summary(checked: Checked, out: Path) -> list[str]:
    """What was checked and written, for the terminal."""
    splits = ", ".join(f"{s.name} {s.images} images ({s.labelled} labelled)" for s in checked.splits)
    source = f" ({checked.imgsz_note})" if checked.imgsz_note else " (the checkpoint's training imgsz)"
    where = "" if out.parent == Path.cwd() else f" in {out.parent}"
    hint = "harness run" if out.name == "harness.toml" else f"harness run --harness-config {out.name}"
    return [
        (
            f"weights {checked.weights}: detection model, {checked.params / 1e6:.1f} M parameters, "
            f"sha256 {checked.sha256}"
        ),
        f"classes: {len(checked.names)} ({_short(checked.names)}), the same in {checked.data}",
        f"data: {splits}" + ("; calib: a seeded sample of train" if checked.calib_is_train else ""),
        f"imgsz {checked.imgsz}{source}",
        f"wrote {out}; next: `{hint}`{where}",
    ]
