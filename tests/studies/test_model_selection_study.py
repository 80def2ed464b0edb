"""The model-selection study on two quick models: every model scored, sized and timed per backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.bench import Bench
from harness.config import load_config
from harness.studies.model_selection import ModelSelectionStudy, cases, measure_case

TWO = (
    '[[models]]\nname = "yolo11n"\ncfg = "yolo11n.yaml"\n[[models]]\nname = "yolo26n"\ncfg = "yolo26n.yaml"\n'
    '[matrix]\nprune = [0.0]\nprecision = ["fp32"]\nbackend = ["torch", "onnxruntime"]\n'
)


def _bench(root: Path, cache: Path, body: str) -> Bench:
    (root / "harness.toml").write_text(f'cache_dir = "{cache}"\n{body}')
    return Bench.from_config(load_config(root, profile="quick"))


def test_no_case_without_the_table_or_with_one_model(tmp_path: Path, shared_cache: Path) -> None:
    assert cases(_bench(tmp_path, shared_cache, TWO)) == []
    one = '[studies.model_selection]\n[matrix]\nprecision = ["fp32"]\nbackend = ["torch"]\n'
    assert cases(_bench(tmp_path, shared_cache, one)) == []


def test_every_model_is_timed_with_and_without_postprocessing(tmp_path: Path, shared_cache: Path) -> None:
    bench = _bench(tmp_path, shared_cache, TWO + "[studies.model_selection]\nrounds = 3\n")
    found = cases(bench)
    assert [c.slug for c in found] == ["models-torch", "models-onnxruntime"]
    case = found[1]
    assert [v.model for v in case.variants] == ["yolo11n", "yolo26n"]
    result = measure_case(bench, case)
    rows = {r["model"]: r for r in result.rows}
    assert rows["yolo26n"]["end2end"] is False and rows["yolo11n"]["end2end"] is False  # NMS heads by default
    e2e = rows["yolo26n"]  # its one-to-one head timed and scored too
    assert float(str(e2e["e2e_latency_with_post_ms"])) > 0 and 0 <= float(str(e2e["e2e_map50_95"])) <= 1
    assert "e2e_latency_median_ms" not in rows["yolo11n"]
    for row in rows.values():
        alone, both = float(str(row["latency_median_ms"])), float(str(row["latency_with_post_ms"]))
        assert 0 < alone and 0 < both and row["postprocess_ms"] == pytest.approx(both - alone)
        assert float(str(row["params"])) > 1e6 and row["backend"] == "onnxruntime"
    (bar,) = ModelSelectionStudy().bars(bench, case, result)
    assert bar.skip is not None and "no bar" in bar.skip


def test_the_one_to_one_head_runs_end_to_end_on_pytorch(tmp_path: Path, shared_cache: Path) -> None:
    from harness.studies.model_selection import end_to_end_runner

    bench = _bench(tmp_path, shared_cache, TWO)
    v26, v11 = (bench.reference(m) for m in ("yolo26n", "yolo11n"))
    runner = end_to_end_runner(bench, v26)
    assert runner is not None and end_to_end_runner(bench, v11) is None
    out = runner(bench.input_batch(v26, 1))
    assert out.shape[-1] == 6  # [x1, y1, x2, y2, score, class] rows: no NMS needed
