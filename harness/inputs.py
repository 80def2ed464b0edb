"""What a run read: every input file with its sha256, and where each INT8 calibration set came from.

Both are recorded in results.json as studies (``inputs`` and ``int8_calibration``) and shown in the
report, so that a published number can be traced to the exact weights, dataset and config.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cache import file_sha256
from harness.errors import DatasetError
from harness.recipes import DistillRecipe, UserDataRecipe, Variant, WeightsRecipe, source_data, user_weights

if TYPE_CHECKING:
    from harness.bench import Bench

__all__ = ["calibration_rows", "input_rows"]


def input_rows(bench: Bench) -> list[dict[str, object]]:
    """One row per input file: the config, data.yaml (and its dataset's content hash), every
    model's weights file and every teacher file (role, name, path, sha256)."""
    config = bench.config
    rows: list[dict[str, object]] = []
    if config.source is not None:
        rows.append(_file_row("config", config.source.name, config.source))
    if config.data is not None:
        rows.append(_file_row("data.yaml", config.data.name, config.data))
    rows += _dataset_rows(bench.variants)
    rows += _weights_rows(bench.variants)
    return rows


def _file_row(role: str, name: str, path: Path, sha256: str | None = None) -> dict[str, object]:
    return {"role": role, "name": name, "path": str(path), "sha256": sha256 or file_sha256(path)}


def _dataset_rows(variants: Iterable[Variant]) -> list[dict[str, object]]:
    """The content hash of each user dataset (names, split layout, file names and sizes, labels)."""
    found = {data.sha256: data for v in variants if isinstance(data := source_data(v.source), UserDataRecipe)}
    return [
        {"role": "dataset", "name": "images and labels", "path": d.yaml_path, "sha256": d.sha256}
        for d in found.values()
    ]


def _weights_rows(variants: Iterable[Variant]) -> list[dict[str, object]]:
    """Every weights file a variant starts from or is taught by (model's own first)."""
    rows: dict[str, dict[str, object]] = {}
    for variant in variants:
        for role, recipe in _weights_of(variant):
            key = f"{role}:{recipe.path}"
            name = variant.model if role == "weights" else Path(recipe.path).stem
            rows.setdefault(key, _file_row(role, name, Path(recipe.path), recipe.sha256))
    return sorted(rows.values(), key=lambda row: (row["role"] != "weights", str(row["name"])))


def _weights_of(variant: Variant) -> list[tuple[str, WeightsRecipe]]:
    """(role, recipe) of the weights files a variant descends from and, distilled, is taught by."""
    source = variant.source
    teacher = user_weights(source.teacher) if isinstance(source, DistillRecipe) else None
    found = [("weights", user_weights(source)), ("teacher", teacher)]
    return [(role, recipe) for role, recipe in found if recipe is not None]


def calibration_rows(bench: Bench, slugs: Iterable[str]) -> list[dict[str, object]]:
    """Where the calibration images of each measured static INT8 variant (``slugs``) came from:
    one row per model and calibration size (source split, image count, sampling seed)."""
    from harness.builders import materialize
    from harness.builders.quantize.calibration import calibration_plan

    wanted = set(slugs)
    rows: dict[tuple[str, int], dict[str, object]] = {}
    for variant in bench.variants:
        quant = variant.quant
        if variant.slug not in wanted or quant is None or quant.method != "static":
            continue
        data = source_data(variant.source)
        key = (variant.model, quant.calib_size)
        if data is None or key in rows:
            continue
        try:
            plan = calibration_plan(materialize(data, bench.ctx), quant.calib_size).to_dict()
        except DatasetError as exc:  # the variant itself failed on the same error
            plan = {"error": str(exc)}
        rows[key] = {"model": variant.model, "calib_size": quant.calib_size, **plan}
    return list(rows.values())
