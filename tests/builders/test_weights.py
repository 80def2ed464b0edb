"""User checkpoints: a missing, empty or corrupt file is a clear WeightsError naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.builders.train import weights_recipe
from harness.builders.weights import load_yolo
from harness.errors import WeightsError


def test_missing_weights_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pt"
    with pytest.raises(WeightsError, match=r"nope\.pt does not exist"):
        weights_recipe(missing)
    with pytest.raises(WeightsError, match=r"nope\.pt does not exist"):
        load_yolo(missing)


def test_empty_weights_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(WeightsError, match=r"empty\.pt is empty"):
        load_yolo(empty)


@pytest.mark.parametrize("content", [b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_corrupt_weights_file(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(WeightsError, match=r"bad\.pt is not a loadable Ultralytics checkpoint"):
        load_yolo(bad)


def test_truncated_real_checkpoint(tmp_path: Path) -> None:
    import torch

    good = tmp_path / "good.pt"
    torch.save({"model": None, "epoch": 1}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WeightsError, match=r"cut\.pt is not a loadable"):
        load_yolo(cut)


def test_torch_file_that_is_not_a_yolo_checkpoint(tmp_path: Path) -> None:
    import torch

    other = tmp_path / "other.pt"
    torch.save({"epoch": 1}, other)
    with pytest.raises(WeightsError, match=r"other\.pt is not a loadable"):
        load_yolo(other)


def test_weights_recipe_hashes_content(tmp_path: Path) -> None:
    a = tmp_path / "a.pt"
    a.write_bytes(b"x" * 10)
    b = tmp_path / "b.pt"
    b.write_bytes(b"x" * 10)
    assert weights_recipe(a).key() == weights_recipe(b).key()
    b.write_bytes(b"y" * 10)
    assert weights_recipe(a).key() != weights_recipe(b).key()


def test_checkpoint_needing_a_missing_module_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pruned checkpoint opened where its layer classes cannot be imported: a clear error, and no
    attempt by Ultralytics to pip-install a package named after the module."""
    import sys

    from ultralytics import YOLO

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "ghost_layers.py").write_text(
        "from torch import nn\n\nclass Ghost(nn.Module):\n    def forward(self, x):\n        return x\n"
    )
    monkeypatch.syspath_prepend(str(package))
    import ghost_layers  # type: ignore[import-not-found]

    yolo = YOLO("yolo11n.yaml", task="detect")
    yolo.model.model[0].add_module("ghost", ghost_layers.Ghost())
    path = tmp_path / "pruned.pt"
    yolo.save(path)
    monkeypatch.delitem(sys.modules, "ghost_layers")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(package)])
    with pytest.raises(WeightsError, match=r"pruned\.pt needs the module definitions of ghost_layers"):
        load_yolo(path)
