"""Dataset recipes: generate the synthetic set into the cache, or point at a user's data.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.builders import BuildContext, builder, external
from harness.datasets import synthetic
from harness.datasets.yolo import dataset_hash, load_data_yaml
from harness.errors import DatasetError
from harness.recipes import SyntheticDataRecipe, UserDataRecipe


def synthetic_recipe(seed: int, imgsz: int, n_train: int, n_val: int, n_calib: int) -> SyntheticDataRecipe:
    """The recipe of the built-in dataset at the current generator version."""
    return SyntheticDataRecipe(
        seed=seed,
        imgsz=imgsz,
        n_train=n_train,
        n_val=n_val,
        n_calib=n_calib,
        generator_version=synthetic.GENERATOR_VERSION,
    )


def user_recipe(yaml_path: Path) -> UserDataRecipe:
    """Validate a user's data.yaml and describe it by the hash of its content."""
    spec = load_data_yaml(yaml_path)
    return UserDataRecipe(sha256=dataset_hash(spec), yaml_path=str(yaml_path.resolve()))


@builder(SyntheticDataRecipe)
def _build_synthetic(recipe: SyntheticDataRecipe, ctx: BuildContext, tmp: Path) -> str:
    spec = synthetic.SyntheticSpec(
        seed=recipe.seed,
        imgsz=recipe.imgsz,
        n_train=recipe.n_train,
        n_val=recipe.n_val,
        n_calib=recipe.n_calib,
        class_frequencies=recipe.class_frequencies,
    )
    yaml_path = synthetic.generate(spec, tmp)
    _make_relocatable(yaml_path)
    return yaml_path.name


def _make_relocatable(yaml_path: Path) -> None:
    """Drop the absolute ``path`` key: the entry is renamed into the cache after it is written,
    and Ultralytics and the harness both resolve splits against the YAML's own folder without it."""
    data = yaml.safe_load(yaml_path.read_text())
    data.pop("path", None)
    yaml_path.write_text(yaml.safe_dump(data, sort_keys=False))


@external(UserDataRecipe)
def _resolve_user(recipe: UserDataRecipe, ctx: BuildContext) -> Path:
    path = Path(recipe.yaml_path)
    current = dataset_hash(load_data_yaml(path))
    if current != recipe.sha256:
        raise DatasetError(f"{path} changed while the run was using it (content hash differs)")
    return path
