"""The pruning study end to end on the quick profile: a real pruned, fine-tuned model, measured.

Also the product promises about the pruned checkpoint: it opens with ``YOLO(path)`` in a fresh
process that never imports the harness itself, and it flows through ONNX Runtime (FP32 and
INT8) and OpenVINO.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from harness.bench import Bench
from harness.builders import build
from harness.builders.prune import read_report
from harness.config import HarnessConfig, load_config
from harness.measure.stats import Interval
from harness.recipes import PruneRecipe, PruneSpec, QuantSpec
from harness.results import PRUNING
from harness.studies.pruning import PruneCase, PruneRow, cases, measure_case, without_finetune

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pruned_config(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> HarnessConfig:
    """The quick profile (imgsz 64, 1 epoch) with yolo11n pruned at 30 % and fine-tuned 1 epoch."""
    root = tmp_path_factory.mktemp("prune-root")
    (root / "harness.toml").write_text(
        f'profile = "quick"\ncache_dir = "{shared_cache}"\n[matrix]\nprune = [0.0, 0.3]\n'
        'precision = ["fp32"]\nbackend = ["torch", "onnxruntime"]\n[pruning]\nfinetune_epochs = 1\n'
    )
    return load_config(root)


@pytest.fixture(scope="module")
def prune_session(pruned_config: HarnessConfig) -> Bench:
    return Bench.from_config(pruned_config)


@pytest.fixture(scope="module")
def case(prune_session: Bench) -> PruneCase:
    (found,) = cases(prune_session)
    return found


def test_one_case_per_model_and_pruning(case: PruneCase) -> None:
    assert case.slug == "yolo11n-p30-l1-ft1"
    assert case.variant.backend == "torch" and case.variant.precision == "fp32"


def test_case_is_measured_not_estimated(prune_session: Bench, case: PruneCase) -> None:
    row = measure_case(prune_session, case)
    assert row.params_reduction is not None and row.params_reduction > 0.35  # 30 % channels, rounded to 8
    assert row.sizes["gflops_after"] < row.sizes["gflops_before"]  # type: ignore[operator]
    assert row.sizes["onnx_bytes_after"] < row.sizes["onnx_bytes_before"]  # type: ignore[operator]
    assert set(row.latency_ms) == {"torch", "onnxruntime"}
    assert all(v is not None and v > 0 for pair in row.latency_ms.values() for v in pair)
    assert row.seconds is not None and 0 < row.seconds < 60
    assert row.peak_memory_mib is not None and row.peak_memory_mib > 100  # a whole Python + torch process
    assert None not in (row.map_reference, row.map_pruned, row.map_finetuned)
    flat = row.to_dict(prune_session.config.pruning)
    assert flat["case"] == "yolo11n-p30-l1-ft1" and flat["prune_ratio"] == 0.3
    assert flat["onnxruntime_ms_before"] == row.latency_ms["onnxruntime"][0]
    assert set(row.speedup_ci) == {"torch", "onnxruntime"}  # quick profile: 15 interleaved rounds
    interval = row.speedup_ci["onnxruntime"]
    assert flat["onnxruntime_speedup_ci_low"] == interval.low
    assert flat["onnxruntime_speedup_ci_high"] == interval.high
    names = [c.variant for c in row.speedup_checks(1.0)]
    assert names == ["yolo11n-p30-l1-ft1 on torch", "yolo11n-p30-l1-ft1 on onnxruntime"]
    assert row.widths is not None and all(0 < after <= before for before, after in row.widths.values())
    assert row.widths["model.1.conv"] == (32, 16)  # 30 % of 32 leaves 22.4, rounded down to 16
    assert 0 < flat["layer_kept_min"] <= flat["layer_kept_max"] <= 1  # type: ignore[operator]
    assert flat["layer_widths"]["model.1.conv"] == [32, 16]  # type: ignore[index]
    assert PRUNING == "pruning"


def test_unfinetuned_model_is_its_own_artifact(prune_session: Bench, case: PruneCase) -> None:
    raw = without_finetune(case.variant)
    assert raw.slug == "yolo11n-p30-l1-fp32-torch" != case.variant.slug
    assert isinstance(raw.source, PruneRecipe) and isinstance(case.variant.source, PruneRecipe)
    tuned, untuned = (build(v.source, prune_session.ctx) for v in (case.variant, raw))
    assert tuned.sha256 != untuned.sha256
    (step,) = read_report(tuned.directory)["steps"]
    assert step["params_after"] < step["params_before"] and step["criterion"] == "l1"


def test_pruned_checkpoint_opens_in_a_fresh_process(prune_session: Bench, case: PruneCase) -> None:
    path = build(case.variant.source, prune_session.ctx).path
    script = (
        "import sys\n"
        "from ultralytics import YOLO\n"
        "model = YOLO(sys.argv[1])\n"
        "kinds = {type(m).__module__ + '.' + type(m).__name__ for m in model.model.modules()}\n"
        "print('C2fPrunable' in ' '.join(kinds), sum(p.numel() for p in model.model.parameters()))\n"
        "import numpy as np\n"
        "print(len(model.predict(np.zeros((64, 64, 3), 'uint8'), imgsz=64, verbose=False)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    uses_rewrite, params, results = done.stdout.split()
    assert uses_rewrite == "True" and results == "1"
    assert int(params) < prune_session.network_size(case.variant.unpruned())["params"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("backend", "precision"), [("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32")]
)
def test_pruned_model_flows_through_exported_backends(
    prune_session: Bench, case: PruneCase, backend: str, precision: str
) -> None:
    quant = QuantSpec(calib_size=8) if precision == "int8" else None
    variant = dataclasses.replace(case.variant, backend=backend, precision=precision, quant=quant)
    runner = prune_session.runner(variant)
    torch_out = prune_session.runner(case.variant)(prune_session.input_batch(variant, 1))
    out = runner(prune_session.input_batch(variant, 1))
    assert out.shape == torch_out.shape
    assert prune_session.accuracy(variant).map50_95 >= 0.0


def _timed(low: float, high: float) -> PruneRow:
    row = PruneRow("m", PruneSpec(0.3), None)
    row.latency_ms = {"onnxruntime": (10.0, 10.0 / ((low + high) / 2))}
    row.speedup_ci = {"onnxruntime": Interval((low + high) / 2, low, high, 0.99)}
    return row


@pytest.mark.parametrize(
    ("low", "high", "failed", "inconclusive"),
    [(1.4, 1.6, False, False), (1.0, 1.2, True, False), (1.2, 1.4, False, True)],
)
def test_speedup_bar_judged_by_its_interval(
    low: float, high: float, failed: bool, inconclusive: bool
) -> None:
    """The pruning bar (here 1.3x) fails only when the whole interval is below it."""
    (check,) = _timed(low, high).speedup_checks(1.3)
    assert (check.failed, check.inconclusive) == (failed, inconclusive)
    assert check.variant == "m-p30-l1 on onnxruntime"
    assert _timed(1.2, 1.4).speedup_checks(1.3, inconclusive_fails=True)[0].failed


def test_speedup_bar_without_interval_uses_the_point() -> None:
    row = _timed(1.0, 1.2)
    row.speedup_ci = {}
    (check,) = row.speedup_checks(1.3)
    assert check.failed and check.interval is None


def test_a_non_l1_criterion_is_compared_with_its_l1_control(tmp_path: Path) -> None:
    from harness.studies.pruning import decided, l1_control

    body = (
        '[matrix]\nprune = [0.0, 0.3]\nprune_criterion = ["l1", "fisher", "random"]\nprecision = ["fp32"]\n'
    )
    (tmp_path / "harness.toml").write_text(body)
    bench = Bench.from_config(load_config(tmp_path, profile="quick"))
    pruned = {v.prune.criterion: v for v in bench.variants if v.prune is not None and v.backend == "torch"}
    control = l1_control(bench, pruned["fisher"])
    assert control is not None and control.prune == dataclasses.replace(
        pruned["fisher"].prune, criterion="l1"
    )
    assert l1_control(bench, pruned["l1"]) is None
    no_control = Bench.from_config(dataclasses.replace(bench.config, matrix=dataclasses.replace(
        bench.config.matrix, prune_criterion=("fisher",))))  # fmt: skip
    assert l1_control(no_control, pruned["fisher"]) is None
    assert decided(Interval(0.01, 0.002, 0.02, 0.95)) == "better"
    assert decided(Interval(-0.01, -0.02, -0.002, 0.95)) == "worse"
    assert decided(Interval(0.01, -0.002, 0.02, 0.95)) == "no decided difference" and decided(None) is None


def test_the_reference_fine_tuned_as_long_is_judged_when_asked(
    pruned_config: HarnessConfig, prune_session: Bench, case: PruneCase
) -> None:
    """With ``[verdicts] tuned_reference`` the fine-tuned model is also set against the reference
    fine-tuned as long (a real one-epoch fine-tune of the reference here), and the ``tuned`` bar
    holds that drop to the pruned budget; without it the bar says why it was not judged."""
    from harness.studies.pruning import PruningStudy
    from harness.tuned import tuned_reference

    verdicts = dataclasses.replace(pruned_config.verdicts, tuned_reference=True)
    bench = Bench.from_config(dataclasses.replace(pruned_config, verdicts=verdicts))
    row = measure_case(bench, case)
    tuned = tuned_reference(case.variant, bench.config)
    assert tuned is not None and row.map_tuned_reference == bench.accuracy(tuned).map50_95
    assert row.tuned_drop_ci is not None and row.map_finetuned is not None
    assert row.tuned_drop_ci.estimate == pytest.approx(row.map_tuned_reference - row.map_finetuned)
    flat = row.to_dict(bench.config.pruning)
    assert flat["map50_95_tuned_reference"] == row.map_tuned_reference
    assert (
        flat["tuned_drop_seed_mean"] == row.tuned_drop_ci.estimate
        and flat["tuned_drop_budget"] == row.tuned_limit is not None
    )
    bars = {b.name: b for b in PruningStudy().bars(bench, case, row)}
    (judged,) = bars["tuned"].checks
    assert bars["tuned"].skip is None and judged.interval == row.tuned_drop_ci
    for low, high, failed in ((0.03, 0.07, True), (-0.01, 0.01, False)):
        row.tuned_drop_ci = Interval((low + high) / 2, low, high, 0.95)
        (check,) = {b.name: b for b in PruningStudy().bars(bench, case, row)}["tuned"].checks
        assert check.failed == failed
    off = {b.name: b for b in PruningStudy().bars(prune_session, case, row)}["tuned"]
    assert off.skip is not None and "tuned_reference = false" in off.skip
