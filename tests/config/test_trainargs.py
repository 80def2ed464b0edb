"""Ultralytics training arguments: checked against Ultralytics' own configuration, without
importing it; a checkpoint's stored arguments reduced to its hyperparameters; overrides key by key."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from user_checkpoints import USER_TRAIN_ARGS

from harness.builders import train as train_module
from harness.config.reader import Where
from harness.config.trainargs import (
    CONTROLLED,
    HARNESS_KEYS,
    checkpoint_hyp,
    train_arguments,
    ultralytics_defaults,
    with_overrides,
)
from harness.errors import ConfigError

WHERE = Where("harness.toml", "train")


def test_defaults_are_ultralytics_default_cfg_dict() -> None:
    from ultralytics.cfg import DEFAULT_CFG_DICT

    assert dict(ultralytics_defaults()) == dict(DEFAULT_CFG_DICT)


def test_checking_train_arguments_imports_no_model_library(tmp_path: Path) -> None:
    """Loading a config with Ultralytics arguments (as ``harness compare --config`` does) reads
    Ultralytics' defaults file without importing Ultralytics, hence torch."""
    (tmp_path / "harness.toml").write_text('profile = "quick"\n[train]\noptimizer = "SGD"\nlr0 = 0.01\n')
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from harness.config import load_config
        config = load_config(Path({str(tmp_path)!r}))
        assert dict(config.models[0].train_args) == {{"lr0": 0.01, "optimizer": "SGD"}}
        print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"torch", "ultralytics"}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_arguments_pass_through() -> None:
    table = {
        "epochs": 3,  # the harness's own keys are not Ultralytics arguments here
        "optimizer": "SGD",
        "lr0": 0.01,
        "box": 7.5,
        "cls": 0.5,
        "mosaic": 1.0,
        "cos_lr": True,
        "close_mosaic": 2,
        "cache": "ram",  # (bool | str)
        "freeze": [0, 1, 2],  # (int | list): stored as a tuple, recipes are hashable
        "scale": [0.5, 1.5],  # (float | tuple)
    }
    assert train_arguments(table, WHERE) == {
        "optimizer": "SGD", "lr0": 0.01, "box": 7.5, "cls": 0.5, "mosaic": 1.0, "cos_lr": True,
        "close_mosaic": 2, "cache": "ram", "freeze": (0, 1, 2), "scale": (0.5, 1.5),
    }  # fmt: skip


def test_integer_for_a_float_argument_is_one_recipe() -> None:
    """``lr0 = 1`` and ``lr0 = 1.0`` give the same value, hence the same cache key."""
    args = train_arguments({"lr0": 1, "box": 5}, WHERE)
    assert args == {"lr0": 1.0, "box": 5.0} and all(type(v) is float for v in args.values())


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"optimiser": "SGD"}, r"^unknown key 'train\.optimiser' in harness\.toml; did you mean 'optimizer'\?$"),
        ({"multiscale": 0.5}, r"^unknown key 'train\.multiscale' in harness\.toml; did you mean 'multi_scale'\?$"),
        ({"lr0": "fast"}, r"^train\.lr0 in harness\.toml: expected a number \(Ultralytics' type for 'lr0'\), got 'fast'"),
        ({"mosaic": True}, r"^train\.mosaic in harness\.toml: expected a number .*got True \(bool\)$"),
        ({"nbs": 8.5}, r"^train\.nbs in harness\.toml: expected an integer .*got 8\.5 \(float\)$"),
        ({"cos_lr": 1}, r"^train\.cos_lr in harness\.toml: expected true or false .*got 1 \(int\)$"),
        ({"optimizer": 1}, r"^train\.optimizer in harness\.toml: expected a string .*got 1 \(int\)$"),
        ({"freeze": {"a": 1}}, r"^train\.freeze in harness\.toml: expected an integer or a list .*\(dict\)$"),
        ({"freeze": [[0], [1]]}, r"^train\.freeze in harness\.toml: expected an integer or a list"),
        ({"device": "cpu"}, r"^train\.device in harness\.toml: refused, .*'device' itself; set the top-level 'device'$"),
        ({"seed": 3}, r"^train\.seed in harness\.toml: refused, .*set the top-level 'seed'$"),
        ({"data": "d.yaml"}, r"^train\.data in harness\.toml: refused, .*set the top-level 'data'$"),
        ({"amp": True}, r"^train\.amp in harness\.toml: refused, .*FP32"),
        ({"val": True}, r"^train\.val in harness\.toml: refused, .*measures accuracy itself"),
        ({"dis": 2.0}, r"^train\.dis in harness\.toml: refused, .*\[distill\]"),
        ({"resume": True}, r"^train\.resume in harness\.toml: refused"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        train_arguments(table, WHERE)
    assert "\n" not in str(info.value)


def test_refused_keys_are_ultralytics_arguments() -> None:
    """Every refused key exists in Ultralytics' configuration (a typo here would let it through)."""
    assert set(CONTROLLED) <= set(ultralytics_defaults())
    assert set(HARNESS_KEYS) - {"pre_epochs", "pre_imgsz"} <= set(ultralytics_defaults())


def test_every_argument_the_harness_sets_is_refused() -> None:
    """``_run_train`` passes these to Ultralytics itself: a config or a checkpoint giving one again
    would be a duplicate keyword (or silently fight the harness)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(train_module._run_train)))
    call = next(
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "train"
    )
    explicit = {k.arg for k in call.keywords if k.arg is not None} - {"trainer"}  # trainer: not a cfg key
    assert explicit <= set(CONTROLLED) | set(HARNESS_KEYS)
    assert explicit - set(HARNESS_KEYS) <= set(CONTROLLED)


def test_checkpoint_hyp_keeps_hyperparameters_only() -> None:
    from ultralytics.cfg import DEFAULT_CFG_DICT

    stored = {**DEFAULT_CFG_DICT, **USER_TRAIN_ARGS, "save_dir": "/runs/x", "not_a_key": 1}
    hyp = dict(checkpoint_hyp(stored))
    assert list(hyp) == sorted(hyp)
    for key, value in {"optimizer": "SGD", "lr0": 0.02, "momentum": 0.9, "mosaic": 0.5, "box": 5.0,
                       "close_mosaic": 3, "freeze": (0, 1), "warmup_epochs": 3.0}.items():  # fmt: skip
        assert hyp[key] == value, key
    dropped = {"epochs", "batch", "imgsz", "data", "model", "device", "workers", "project", "name", "seed",
               "amp", "val", "save_dir", "not_a_key", "conf", "format", "save_period", "patience", "task",
               "mode", "tracker", "cfg", "source", "resume", "time", "plots", "pretrained"}  # fmt: skip
    assert not dropped & set(hyp)


def test_checkpoint_hyp_drops_values_of_another_type() -> None:
    """A checkpoint from a version where an argument took another type (``multi_scale`` was a
    bool) does not pass that value on; plain values only."""
    hyp = dict(checkpoint_hyp({"multi_scale": True, "lr0": 0.01, "freeze": None, "scale": object()}))
    assert hyp == {"lr0": 0.01, "freeze": None}
    assert checkpoint_hyp({}) == ()


def test_with_overrides_key_by_key() -> None:
    base = (("optimizer", "AdamW"), ("lr0", 0.002), ("warmup_epochs", 1), ("warmup_epochs", 0))
    assert with_overrides(base, ()) is base
    assert with_overrides(base, {"lr0": 0.002}) is base  # equal values: the base's cache key stays
    assert with_overrides(base, {"optimizer": "SGD", "box": 5.0}) == (
        ("optimizer", "SGD"), ("lr0", 0.002), ("warmup_epochs", 0), ("box", 5.0),
    )  # fmt: skip
    assert dict(with_overrides((("cos_lr", 1),), {"cos_lr": True})) == {"cos_lr": True}  # True is not 1
