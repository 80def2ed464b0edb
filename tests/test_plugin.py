"""End-to-end tests of the pytest plugin with the `quick` profile (pytester, real models).

The session-wide ``shared_cache`` keeps the reference training to once per test session.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from harness.bench import Bench
from harness.builders import materialize
from harness.config import HarnessConfig
from harness.datasets.synthetic import SyntheticSpec, generate

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture()
def project(pytester: pytest.Pytester, shared_cache: Path) -> pytest.Pytester:
    """A fresh project: the repository's suites plus a quick-profile harness.toml."""
    shutil.copytree(ROOT / "suites", pytester.path / "suites")
    _write_config(pytester, shared_cache)
    return pytester


def _write_config(pytester: pytest.Pytester, cache: Path, extra: str = "") -> None:
    (pytester.path / "harness.toml").write_text(f'profile = "quick"\ncache_dir = "{cache}"\n{extra}')


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # anyio (from the tflite extra) registers a pytest plugin that warns on import under this pytest;
    # the repository's pyproject blocks it, the scratch projects here have no pyproject.
    return pytester.runpytest_subprocess(
        "-p", "harness.plugin", "suites/", "-p", "no:cacheprovider", "-p", "no:anyio", *args
    )


def _results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())


def test_quick_matrix_end_to_end(project: pytest.Pytester) -> None:
    result = _run(project, "-v")
    # skipped: mixed precision (not configured in quick), the 5 pruning tests (no ratio > 0),
    # the 4 distillation tests (no students), 4 ablation rows (no KD, INT8 or pruning in quick)
    # the 3 verdict calibrations (no trials set; the 1-epoch model has no mAP to lose) and the generic
    # study suite (no registered study without a suite of its own)
    result.assert_outcomes(passed=8, skipped=18)
    result.stdout.fnmatch_lines(
        [
            "*test_accuracy?yolo11n-p00-fp32-torch? PASSED*",
            "*test_speed?yolo11n-p00-fp32-onnxruntime? PASSED*",
            "*harness: report written to*",
        ]
    )
    run = _results(project)
    assert run["schema_version"] == 1 and run["profile"] == "quick"
    by_slug = {v["variant"]: v for v in run["variants"]}
    assert set(by_slug) == {"yolo11n-p00-fp32-torch", "yolo11n-p00-fp32-onnxruntime"}
    ort = by_slug["yolo11n-p00-fp32-onnxruntime"]
    assert ort["artifact"].endswith(".onnx") and len(ort["artifact_sha256"]) == 64
    for metric in ("map50_95", "latency_median_ms", "latency_p99_ms", "speedup_vs_reference",
                   "throughput_ips", "params", "gflops", "file_bytes"):  # fmt: skip
        assert isinstance(ort["metrics"][metric], float), metric
    # Both backends ran the same network through the same evaluation path.
    assert abs(ort["metrics"]["map50_95"] - by_slug["yolo11n-p00-fp32-torch"]["metrics"]["map50_95"]) < 0.01
    table = (project.path / "reports" / "latest" / "deployment.md").read_text()
    assert "yolo11n-p00-fp32-onnxruntime" in table
    ablation = (project.path / "reports" / "latest" / "ablation.md").read_text()
    assert "+Multi-scale training" in ablation and "no unpruned student in [distill]" in ablation
    assert (project.path / "reports" / "latest" / "report.html").is_file()
    assert (project.path / "reports" / "latest" / "deployment.csv").is_file()
    # A skipped check is a verdict with its reason: counted and listed in the report, not lost.
    skipped = [r for r in run["studies"]["verdicts"] if r["verdict"] == "skipped"]
    assert any(r["message"].startswith("no [mixed_precision] table in the config") for r in skipped)
    page = (project.path / "reports" / "latest" / "report.html").read_text()
    assert f"{len(skipped)} skipped" in page and "no [mixed_precision] table in the config" in page


def test_k_selects_by_id(project: pytest.Pytester) -> None:
    result = _run(project, "-k", "onnxruntime and accuracy", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_accuracy?yolo11n-p00-fp32-onnxruntime?*", "*1/26 tests collected*"])


def test_baselines_written_only_when_asked(project: pytest.Pytester) -> None:
    result = _run(project, "-k", "accuracy")
    result.assert_outcomes(passed=2)
    assert not (project.path / "baselines").exists()
    result = _run(project, "-k", "accuracy", "--update-baselines")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*harness: baseline*yolo11n.json updated*", "*yolo11n-p00-fp32-torch map50_95: - -> *"]
    )
    (stored,) = (project.path / "baselines").glob("*/yolo11n.json")
    before = stored.read_bytes()
    _run(project, "-k", "accuracy").assert_outcomes(passed=2)
    assert stored.read_bytes() == before


def test_baseline_regression_fails_with_a_named_message(project: pytest.Pytester) -> None:
    _run(project, "-k", "accuracy and torch", "--update-baselines").assert_outcomes(passed=1)
    (stored,) = (project.path / "baselines").glob("*/yolo11n.json")
    doc = json.loads(stored.read_text())
    doc["variants"]["yolo11n-p00-fp32-torch"]["map50_95"] = 0.9
    stored.write_text(json.dumps(doc))
    result = _run(project, "-k", "accuracy and torch")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*yolo11n-p00-fp32-torch: mAP50-95 drop vs baseline * > limit 0.0050 (value *, baseline 0.9000)*"]
    )
    assert _results(project)["variants"][0]["status"] == "failed"


def test_other_fingerprint_compares_accuracy_not_latency(project: pytest.Pytester) -> None:
    _run(project, "-k", "torch", "--update-baselines").assert_outcomes(passed=2)
    (stored,) = (project.path / "baselines").glob("*/yolo11n.json")
    other = stored.parent.parent / "other-machine-00000000"
    other.mkdir()
    doc = json.loads(stored.read_text())
    doc["variants"]["yolo11n-p00-fp32-torch"]["latency_median_ms"] = 1e-6  # would be a huge regression
    (other / "yolo11n.json").write_text(json.dumps(doc))
    shutil.rmtree(stored.parent)
    result = _run(project, "-k", "torch")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            (
                "*baseline for yolo11n is from fingerprint other-machine-00000000*"
                "accuracy is compared, absolute latency is not*"
            )
        ]
    )


def test_unknown_backend_is_a_clear_collection_error(project: pytest.Pytester, shared_cache: Path) -> None:
    _write_config(project, shared_cache, '[matrix]\nbackend = ["torch", "onnxrutime"]\n')
    result = _run(project)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*onnxrutime*did you mean 'onnxruntime'*"])
    assert "_pytest" not in result.stdout.str()  # one line per suite, no stack of frames


def test_distillation_end_to_end(project: pytest.Pytester, shared_cache: Path) -> None:
    """The pruned quick model with response KD from its reference against its control, in one run."""
    _write_config(project, shared_cache, """
[matrix]
prune = [0.0, 0.3]
precision = ["fp32"]
backend = ["torch"]
[pruning]
finetune_epochs = 1
[distill]
students = [{prune = 0.3}]
epochs = 1
min_gain = -1.0          # one epoch at 64 px: the mechanics, not the gain, are under test here
max_epoch_ratio = 20.0
[verdicts]
training_seeds = 2       # KD student and control each trained at seeds 0 and 1
""")  # fmt: skip
    result = _run(project, "-k", "distill", "-v")
    result.assert_outcomes(passed=2, skipped=2)  # no bar sets max_reference_drop; tuned_reference off
    result.stdout.fnmatch_lines(
        ["*test_kd_gain?yolo11n-p30-l1-kd-response-reference? PASSED*", "*harness: distillation yolo11n-p30*"]
    )
    assert len(result.stdout.str().split("distilling kd-response-reference for 1 epochs")) == 3  # two seeds
    (row,) = _results(project)["studies"]["distillation"]
    assert row["kd_method"] == "response" and row["kd_epochs"] == 1 and row["student"] == "p30-l1"
    assert row["gain"] == pytest.approx(row["map50_95_kd"] - row["map50_95_control"])
    assert row["gain_seeds"] == row["reference_drop_seeds"] == 2
    assert row["gain_ci_low"] <= row["gain_seed_mean"] <= row["gain_ci_high"]
    (gain,) = [v for v in _results(project)["studies"]["verdicts"] if v["check"] == "kd_gain"]
    assert "mean over 2 training seeds" in gain["message"]
    assert row["params_student"] < row["params_teacher"]
    assert row["epoch_s_kd"] > 0 and row["epoch_s_control"] > 0
    assert row["control_ms"] > 0 and row["kd_ms"] > 0 and row["teacher_ms"] > 0
    table = (project.path / "reports" / "latest" / "distillation.md").read_text()
    assert "+KD (response)" in table and "(control)" in table


def test_users_own_weights_and_data(pytester: pytest.Pytester, quick_config: HarnessConfig) -> None:
    """The path real users take: their .pt and data.yaml in [tool.harness] of pyproject.toml."""
    session = Bench.from_config(quick_config)
    weights = materialize(session.variants[0].source, session.ctx)
    shutil.copy(weights, pytester.path / "best.pt")
    generate(SyntheticSpec(n_train=4, n_val=6, n_calib=2, imgsz=64, seed=7), pytester.path / "data")
    shutil.copytree(ROOT / "suites", pytester.path / "suites")
    (pytester.path / "pyproject.toml").write_text(
        f"""
[tool.harness]
profile = "quick"
data = "data/data.yaml"
cache_dir = "{quick_config.cache_dir}"

[[tool.harness.models]]
name = "det-n"
weights = "best.pt"
"""
    )
    result = _run(pytester, "-k", "accuracy", "-v", "--benchmark-json", "bench.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_accuracy?det-n-p00-fp32-onnxruntime? PASSED*"])
    run = _results(pytester)
    source = run["variants"][0]["recipe"]["source"]
    assert source["kind"] == "weights" and source["path"].endswith("best.pt")


def test_benchmark_options_work_unchanged(project: pytest.Pytester) -> None:
    result = _run(project, "-k", "speed and onnxruntime", "--benchmark-json", "bench.json")
    result.assert_outcomes(passed=1)
    bench = json.loads((project.path / "bench.json").read_text())
    (entry,) = bench["benchmarks"]
    assert entry["extra_info"]["variant"] == "yolo11n-p00-fp32-onnxruntime"
    assert entry["stats"]["rounds"] == 10


def test_xdist_workers_share_the_cache_and_one_report(project: pytest.Pytester) -> None:
    result = _run(project, "-n", "2", "-k", "accuracy and not verdict")
    result.assert_outcomes(passed=2)
    slugs = {v["variant"] for v in _results(project)["variants"]}
    assert slugs == {"yolo11n-p00-fp32-torch", "yolo11n-p00-fp32-onnxruntime"}


def test_harness_trace_writes_each_timed_variants_trace_next_to_the_report(project: pytest.Pytester) -> None:
    result = _run(project, "-k", "test_speed and fp32", "--harness-trace")
    result.assert_outcomes(passed=2)
    latest = project.path / "reports" / "latest"
    rows = {r["variant"]: r for r in _results(project)["studies"]["traces"]}
    assert set(rows) == {"yolo11n-p00-fp32-torch", "yolo11n-p00-fp32-onnxruntime"}
    for slug, row in rows.items():
        assert row["file"] == f"traces/{slug}.json" and (latest / row["file"]).is_file()
        assert row["inferences"] == 20 and row["traced_ms"] > 0 and row["ops"]
    assert "Profiler traces" in (latest / "traces.md").read_text()
    assert 'href="traces/yolo11n-p00-fp32-onnxruntime.json"' in (latest / "report.html").read_text()
    untraced = _run(project, "-k", "test_speed and onnxruntime")
    untraced.assert_outcomes(passed=1)
    assert "traces" not in _results(project)["studies"]  # off unless asked


def test_traces_from_xdist_workers_reach_the_one_report(project: pytest.Pytester) -> None:
    result = _run(project, "-n", "2", "-k", "test_speed and fp32", "--harness-trace")
    result.assert_outcomes(passed=2)
    latest = project.path / "reports" / "latest"
    files = sorted(p.name for p in (latest / "traces").iterdir())
    assert files == ["yolo11n-p00-fp32-onnxruntime.json", "yolo11n-p00-fp32-torch.json"]


# -- the installed suites, from a folder that holds only a config ------------------------------------

ONE_TEST = "test_accuracy and onnxruntime"  # one accuracy test of the quick matrix: cheap, cached


def _suites_folder() -> Path:
    """Where ``harness.suites`` is installed (the repository's suites/ in an editable install)."""
    import harness.suites

    return Path(harness.suites.__file__).parent


def test_harness_run_from_a_folder_with_only_a_config(pytester: pytest.Pytester, shared_cache: Path) -> None:
    """`harness run`: the installed suites, rooted here: config read, reports written here."""
    _write_config(pytester, shared_cache)
    harness = Path(sys.executable).with_name("harness")
    result = pytester.run(str(harness), "run", "-p", "no:cacheprovider", "-k", ONE_TEST, "-v")
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"rootdir: {pytester.path}", "*test_accuracy?yolo11n-p00-fp32-onnxruntime? PASSED*"]
    )
    run = _results(pytester)
    assert run["profile"] == "quick"
    assert [v["variant"] for v in run["variants"]] == ["yolo11n-p00-fp32-onnxruntime"]
    assert not (_suites_folder() / "reports").exists()
    nothing = pytester.run(str(harness), "run", "-p", "no:cacheprovider", "-k", "no_such_test")
    assert nothing.ret == pytest.ExitCode.NO_TESTS_COLLECTED  # pytest's own exit status


def test_pyargs_finds_the_config_in_the_invocation_folder(
    pytester: pytest.Pytester, shared_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pytest --pyargs harness.suites` where pytest roots the run elsewhere (a pytest.ini above):
    the harness config, reports and cache still come from the folder the run started in."""
    pytester.makeini("[pytest]\n")
    bench = pytester.mkdir("bench")
    (bench / "harness.toml").write_text(f'profile = "quick"\ncache_dir = "{shared_cache}"\n')
    monkeypatch.chdir(bench)
    # Collection first (seconds): read from the wrong folder, the default profile would collect more.
    listed = pytester.runpytest_subprocess(
        "--pyargs", "harness.suites", "-p", "no:cacheprovider", "--co", "-q"
    )
    listed.stdout.fnmatch_lines(["26 tests collected*"])
    result = pytester.runpytest_subprocess(
        "--pyargs", "harness.suites", "-p", "no:cacheprovider", "-k", ONE_TEST
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"rootdir: {pytester.path}*", f"*harness: report written to {bench / 'reports'}*"]
    )
    assert (bench / "reports" / "latest" / "results.json").is_file()
    assert not (pytester.path / "reports").exists() and not (_suites_folder() / "reports").exists()


INT8_ORT = "yolo11n-p00-int8-qdq-pc-u8s8-minmax-c8-onnxruntime"
INT8_MATRIX = (
    '[matrix]\nprecision = ["fp32", "int8"]\nbackend = ["onnxruntime"]\nquant = [{calib_size = 8}]\n'
)


def test_an_int8_slower_than_its_fp32_fails_test_speed(
    project: pytest.Pytester, shared_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default budget: INT8 not slower than FP32 on its own backend, judged by an interval."""
    _write_config(project, shared_cache, INT8_MATRIX)
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests"))
    monkeypatch.setenv("HARNESS_INJECT_SLOWDOWN", f"{INT8_ORT}=2.0")  # three times its own time
    result = _run(project, "-p", "inject_regressions", "-k", "test_speed and int8")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"*{INT8_ORT}: speed vs FP32 on its own backend *x (99% CI *x-*x) beyond limit 1 *"]
    )
    (row,) = [r for r in _results(project)["studies"]["verdicts"] if r["check"] == "fp32_speed"]
    assert row["verdict"] == "fail" and row["ci_high"] < 1.0 and row["subject"] == INT8_ORT
    html = (project.path / "reports" / "latest" / "report.html").read_text()
    assert 'id="section-verdict-summary"' in html and "1 fail" in html
    waiver = f'[budgets.waivers."{INT8_ORT}"]\nfp32_speed = "kept for its accuracy"\n'
    _write_config(project, shared_cache, INT8_MATRIX + waiver)
    result = _run(project, "-p", "inject_regressions", "-k", "test_speed and int8")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*harness: WAIVED *speed vs FP32 on its own backend*WAIVED (kept for its accuracy)*"]
    )
    (row,) = [r for r in _results(project)["studies"]["verdicts"] if r["check"] == "fp32_speed"]
    assert row["verdict"] == "waived" and row["waiver"] == "kept for its accuracy"


def test_recommendation_end_to_end(project: pytest.Pytester, shared_cache: Path) -> None:
    """The generic study suite runs the recommendation; the report gets its table and plot."""
    _write_config(project, shared_cache, """
[matrix]
prune = [0.0]
precision = ["fp32"]
backend = ["torch", "onnxruntime"]
[studies.recommendation]
screen_rounds = 3
min_speedup = 0.01
""")  # fmt: skip
    result = _run(project, "-k", "recommendation", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*harness: recommendation yolo11n: yolo11n-p00-fp32-*"])
    rows = _results(project)["studies"]["recommendation"]
    assert {r["variant"] for r in rows} == {"yolo11n-p00-fp32-torch", "yolo11n-p00-fp32-onnxruntime"}
    assert [r["recommended"] for r in rows].count(True) == 1
    checks = {
        v["check"]: v
        for v in _results(project)["studies"]["verdicts"]
        if v["subject"].endswith("recommended) vs PyTorch FP32 eager")
    }
    assert checks["min_speedup"]["verdict"] == "pass"
    latest = project.path / "reports" / "latest"
    assert (latest / "recommendation.md").is_file() and (latest / "recommendation-yolo11n.svg").is_file()
