"""Adaptive gradual pruning on the quick model: the path grows after kept steps, shrinks after
rejected ones, and the result is compared with one-shot pruning to the ratio reached."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.bench import Bench
from harness.config import load_config
from harness.config.adaptive_pruning import AdaptiveSpec
from harness.errors import ConfigError
from harness.recipes import PruneRecipe
from harness.studies.adaptive_pruning import (
    ONE_SHOT_BY_CONSTRUCTION,
    AdaptivePruningStudy,
    cases,
    measure_case,
    run_schedule,
)

BODY = '[matrix]\nprune = [0.0]\nprecision = ["fp32"]\nbackend = ["torch"]\n[studies.adaptive_pruning]\n'


def _bench(root: Path, cache: Path, table: str) -> Bench:
    (root / "harness.toml").write_text(f'cache_dir = "{cache}"\n{BODY}{table}')
    return Bench.from_config(load_config(root, profile="quick"))


def test_every_kept_step_grows_the_next_and_the_result_meets_one_shot(
    tmp_path: Path, shared_cache: Path
) -> None:
    table = (
        "target = 0.3\nfirst_step = 0.1\ngrow = 2.0\nmax_drop = 1.0\nfinetune_epochs = 1\neval_images = 8\n"
    )
    bench = _bench(tmp_path, shared_cache, table)
    (case,) = cases(bench)
    assert case.slug == "yolo11n-adaptive-l1"
    result = measure_case(bench, case)
    (path,) = result.paths  # quick: one training seed
    assert [(round(float(str(s["ratio_from"])), 3), round(float(str(s["ratio_to"])), 3)) for s in path] == [
        (0.0, 0.1), (0.1, 0.3)]  # fmt: skip
    assert all(s["kept"] for s in path)
    final, control = result.finals[0], result.controls[0]
    assert final is not None and control is not None and isinstance(final.source, PruneRecipe)
    assert isinstance(final.source.source, PruneRecipe)  # the second step pruned the first's checkpoint
    assert isinstance(control.source, PruneRecipe)
    assert control.source.spec.ratio == pytest.approx(0.3) and control.source.spec.finetune_epochs == 2
    assert result.summary["params_final"] < result.summary["params_control"] * 1.2  # type: ignore[operator]
    assert final != control and not result.one_shot_by_construction
    assert result.difference is not None and result.difference.low <= result.difference.high
    rows = AdaptivePruningStudy().rows(bench, result)
    assert [r["row"] for r in rows] == ["try", "try", "result"] and rows[-1][
        "ratio_reached"
    ] == pytest.approx(0.3)


def test_a_rejected_step_shrinks_the_next_try(tmp_path: Path, shared_cache: Path) -> None:
    table = "target = 0.5\nfirst_step = 0.4\nshrink = 0.5\nmin_step = 0.15\nmax_drop = -1.0\nfinetune_epochs = 1\neval_images = 8\n"
    with pytest.raises(ConfigError, match="max_drop"):  # a negative drop limit is refused, naming the key
        cases(_bench(tmp_path, shared_cache, table))
    bench = _bench(tmp_path, shared_cache, table.replace("max_drop = -1.0", "max_drop = 0.0"))
    (case,) = cases(bench)
    spec = AdaptiveSpec(
        target=0.5, first_step=0.4, shrink=0.5, min_step=0.15, max_drop=-0.5, finetune_epochs=1, eval_images=8
    )
    path, kept, removed, accepted = run_schedule(bench, case, spec, 0)  # no step can hold a negative drop
    assert [round(float(str(s["step"])), 3) for s in path] == [0.4, 0.2] and not any(s["kept"] for s in path)
    assert kept is None and removed == 0.0 and accepted == 0


def test_a_try_that_gives_a_rejected_network_again_is_not_trained(tmp_path: Path, shared_cache: Path) -> None:
    # Torch-Pruning floors kept channels to multiples of 16: 5 %, 2.5 % and 1.25 % of yolo11n's
    # channels all remove 16 from every layer wider than 16, one network (30 % of the parameters).
    bench = _bench(tmp_path, shared_cache, "eval_images = 8\n")
    (case,) = cases(bench)
    spec = AdaptiveSpec(first_step=0.05, min_step=0.01, max_drop=-0.5, finetune_epochs=1, eval_images=8)
    path, kept, removed, accepted = run_schedule(bench, case, spec, 0)
    assert [round(float(str(s["step"])), 4) for s in path] == [0.05, 0.025, 0.0125]
    assert "held_out_map" in path[0] and path[0]["kept"] is False  # trained and rejected
    assert [s.get("note") for s in path[1:]] == ["same network as a rejected try"] * 2
    assert all("held_out_map" not in s and s["params"] == path[0]["params"] for s in path[1:])
    assert path[0]["params"] < bench.network_size(case.reference)["params"]  # type: ignore[operator]
    assert kept is None and removed == 0.0 and accepted == 0


def test_round_to_overrides_the_pruning_rounding(tmp_path: Path, shared_cache: Path) -> None:
    (case,) = cases(_bench(tmp_path, shared_cache, "round_to = 1\n"))
    assert case.base.round_to == 1 and case.base.slug.endswith("-r1")
    (default,) = cases(_bench(tmp_path, shared_cache, ""))
    assert default.base.round_to == 16  # [pruning] round_to
    with pytest.raises(ConfigError, match="round_to"):
        cases(_bench(tmp_path, shared_cache, "round_to = 0\n"))


def test_one_kept_step_is_the_one_shot_control_and_no_comparison(tmp_path: Path, shared_cache: Path) -> None:
    # One step to the target: the final model is one-shot pruning to that ratio, fine-tuned as long
    # (one recipe), so a difference of zero would be true by construction and is not reported.
    table = "target = 0.1\nfirst_step = 0.1\nmax_drop = 1.0\nfinetune_epochs = 1\neval_images = 8\n"
    bench = _bench(tmp_path, shared_cache, table)
    (case,) = cases(bench)
    result = measure_case(bench, case)
    assert [s["kept"] for s in result.paths[0]] == [True]
    assert result.finals[0] is not None and result.finals[0] == result.controls[0]
    assert result.one_shot_by_construction and result.difference is None
    study = AdaptivePruningStudy()
    summary = study.rows(bench, result)[-1]
    assert summary["verdict"] == ONE_SHOT_BY_CONSTRUCTION and summary["ratio_reached"] == pytest.approx(0.1)
    assert summary["vs_one_shot_seed_mean"] is None and summary["vs_one_shot_ci_low"] is None
    (bar,) = study.bars(bench, case, result)
    assert bar.skip is not None and ONE_SHOT_BY_CONSTRUCTION in bar.skip and not bar.checks
