"""Layer pruning on the quick model: blocks ranked on held-out images, the least important removed
(tensors shrink), against the reference fine-tuned as long, and timed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.bench import Bench
from harness.config import load_config
from harness.recipes import LayerPruneRecipe, TrainRecipe
from harness.studies.layer_pruning import LayerPruningStudy, cases, choose_blocks, measure_case

BODY = '[matrix]\nprune = [0.0]\nprecision = ["fp32"]\nbackend = ["torch", "onnxruntime"]\n'


def _bench(root: Path, cache: Path, table: str | None) -> Bench:
    extra = "" if table is None else f"[studies.layer_pruning]\n{table}"
    (root / "harness.toml").write_text(f'cache_dir = "{cache}"\n{BODY}{extra}')
    return Bench.from_config(load_config(root, profile="quick"))


def test_no_table_no_case(tmp_path: Path, shared_cache: Path) -> None:
    assert cases(_bench(tmp_path, shared_cache, None)) == []


IMPORTANCE = {"a": 0.0, "b": -0.001, "c": 0.03, "d": 0.2}
SAVED = {"a": 0.05, "b": -0.02, "c": 0.9, "d": 2.0}


def test_accuracy_rank_takes_the_least_important() -> None:
    assert choose_blocks(IMPORTANCE, SAVED, 2, "accuracy", 0.05) == ("b", "a")


def test_latency_rank_takes_the_most_time_within_the_loss_allowed() -> None:
    assert choose_blocks(IMPORTANCE, SAVED, 2, "latency", 0.05) == ("a", "c")  # 0.95 ms for 0.03
    assert choose_blocks(IMPORTANCE, SAVED, 1, "latency", 0.5) == ("d",)
    assert choose_blocks(IMPORTANCE, SAVED, 2, "latency", 0.01) == ("b", "a")  # only the free pair fits
    assert choose_blocks(IMPORTANCE, SAVED, 3, "latency", 0.0) == ("b", "a", "c")  # none fits: by loss


def test_the_chosen_blocks_go_and_the_network_shrinks(tmp_path: Path, shared_cache: Path) -> None:
    bench = _bench(tmp_path, shared_cache, "blocks = 3\nfinetune_epochs = 1\neval_images = 8\n")
    (case,) = cases(bench)
    result = measure_case(bench, case)
    assert len(result.importance) == 11  # yolo11n's residual bottlenecks
    assert set(result.saved_ms) == set(result.importance)  # each removal timed
    assert result.chosen == choose_blocks(result.importance, result.saved_ms, 3, "latency", 0.05)
    assert result.pruned is not None and isinstance(result.pruned.source, LayerPruneRecipe)
    assert result.control is not None and isinstance(result.control.source, TrainRecipe)
    assert result.pruned.source.finetune_epochs == result.control.source.epochs == 1
    assert result.pruned.source.seed == result.control.source.seed
    rows = LayerPruningStudy().rows(bench, result)
    summary = rows[-1]
    removed = sum(result.block_params[n] for n in result.chosen)
    assert summary["params_before"] - summary["params_after"] == pytest.approx(removed, rel=0.05)  # type: ignore[operator]
    assert set(result.speedups) == {"torch", "onnxruntime"}
    assert all(i is not None and i.low <= i.estimate <= i.high for i in result.speedups.values())
    assert [r["row"] for r in rows].count("block") == 11 and sum(bool(r.get("removed")) for r in rows) == 3
