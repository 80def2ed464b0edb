"""``harness compare --ab``: two checkpoints measured now, interleaved latency and paired mAP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from harness import cli
from harness.bench import Bench
from harness.builders import materialize
from harness.config import load_config

pytestmark = pytest.mark.slow

# The small model of tests/test_ci_recipe.py: something to lose (mAP50-95 about 0.1).
CONFIG = """profile = "quick"
cache_dir = "{cache}"
imgsz = 96
train = {{epochs = 24, batch = 8}}
dataset = {{n_train = 96, n_val = 48, n_calib = 8, seed = 0}}
latency = {{warmup = 5, rounds = 10, interleaved_rounds = 40, throughput_batch = 2}}
"""


@pytest.fixture()
def checkpoints(tmp_path: Path, shared_cache: Path) -> tuple[Path, Path]:
    """The small reference as old.pt and a copy of it as new.pt; harness.toml beside them."""
    (tmp_path / "harness.toml").write_text(CONFIG.format(cache=shared_cache))
    session = Bench.from_config(load_config(tmp_path))
    weights = materialize(session.variants[0].source, session.ctx)
    old, new = tmp_path / "old.pt", tmp_path / "new.pt"
    shutil.copy(weights, old)
    shutil.copy(weights, new)
    return old, new


def test_the_same_model_twice_passes(
    checkpoints: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = checkpoints
    code = cli.main(["compare", "--ab", str(old), str(new), "--config", str(old.parent / "harness.toml")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "## A/B: `new-p00-fp32-onnxruntime` against `old-p00-fp32-onnxruntime`" in out
    assert "mAP50-95 drop (paired bootstrap, same val images): 0.0000 (95% CI 0.0000-0.0000)" in out
    # The same file twice: never a FAIL (a noisy interval may straddle the limit: INCONCLUSIVE).
    assert "new-p00-fp32-onnxruntime vs old-p00-fp32-onnxruntime: speed vs baseline (A/B" in out
    assert "FAIL " not in out


def test_a_degraded_model_fails_naming_metric(
    checkpoints: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = checkpoints
    ckpt = torch.load(new, weights_only=False)
    with torch.no_grad():
        for p in ckpt["model"].parameters():
            p.mul_(0.0)  # a model that detects nothing
    torch.save(ckpt, new)
    code = cli.main(["compare", "--ab", str(old), str(new), "--config", str(old.parent / "harness.toml")])
    out = capsys.readouterr().out
    assert code == 1, out
    assert (
        "FAIL new-p00-fp32-onnxruntime vs old-p00-fp32-onnxruntime: mAP50-95 drop vs OLD, same val images"
        in out
        or ("INCONCLUSIVE" in out)
    )


def test_an_unknown_variant_id_names_the_nearest(
    checkpoints: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, _ = checkpoints
    code = cli.main(["compare", "--ab", "yolo11n-p00-fp32-torh", "yolo11n-p00-fp32-onnxruntime",
                     "--config", str(old.parent / "harness.toml")])  # fmt: skip
    assert code == 2
    assert (
        "'yolo11n-p00-fp32-torh' is neither a .pt file nor a variant id; nearest: yolo11n-p00-fp32-torch"
        in (capsys.readouterr().err)
    )
