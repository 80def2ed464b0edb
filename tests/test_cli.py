"""`harness report` and `harness compare`: output, exit codes, budgets, error handling."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.cli import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, main
from harness.environment import Fingerprint
from harness.results import RunResults

FP = Fingerprint("AMD EPYC 9B14", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")
V = "yolo11n-p00-fp16-onnxruntime"


def _save(path: Path, map50_95: float | None = 0.50, latency: float | None = 10.0,
          fp: Fingerprint = FP, slug: str = V) -> Path:  # fmt: skip
    run = RunResults.new("quick", fp, run_id=path.stem)
    run.record(slug, model="yolo11n", backend="onnxruntime", precision="fp16", prune=0.0,
               metrics={"map50_95": map50_95, "latency_median_ms": latency})  # fmt: skip
    run.save(path)
    return path


def test_report_prints_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(tmp_path / "results.json", latency=None)
    assert main(["report", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("# Deployment: run results")
    assert f"| {V}" in out and "0.5000" in out


def test_report_out_writes_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(tmp_path / "results.json")
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == EXIT_OK
    assert (tmp_path / "out" / "deployment.md").is_file()
    assert (tmp_path / "out" / "deployment.csv").is_file()
    assert "wrote" in capsys.readouterr().err


def test_report_of_corrupt_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "results.json"
    path.write_text("{")
    assert main(["report", str(path)]) == EXIT_ERROR
    assert capsys.readouterr().err.startswith(f"harness: error: {path}: not valid JSON")


def test_compare_identical_runs_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = _save(tmp_path / "old.json"), _save(tmp_path / "new.json")
    assert main(["compare", str(old), str(new)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "| Variant" in out and "map50_95" in out
    assert "no regression in 1 common variant(s)" in out


def test_compare_fails_on_map_drop_after_printing_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _save(tmp_path / "old.json", 0.50), _save(tmp_path / "new.json", 0.49)
    assert main(["compare", str(old), str(new)]) == EXIT_REGRESSION
    out = capsys.readouterr().out
    assert out.index("| Variant") < out.index("REGRESSION")
    assert f"REGRESSION {V}: mAP50-95 drop vs baseline 0.0100 > limit 0.0050" in out


def test_compare_threshold_flag(tmp_path: Path) -> None:
    old, new = _save(tmp_path / "old.json", 0.50), _save(tmp_path / "new.json", 0.49)
    assert main(["compare", str(old), str(new), "--max-baseline-drop", "0.02"]) == EXIT_OK


def test_compare_latency_only_with_same_fingerprint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _save(tmp_path / "old.json", latency=10.0)
    assert main(["compare", str(old), str(_save(tmp_path / "new.json", latency=13.0))]) == EXIT_REGRESSION
    assert "latency p50 regression vs baseline +30.0% > limit 25.0%" in capsys.readouterr().out
    other = _save(tmp_path / "other.json", latency=13.0, fp=replace(FP, cpu="Intel Xeon"))
    assert main(["compare", str(old), str(other)]) == EXIT_OK
    assert "fingerprints differ" in capsys.readouterr().out
    loose = ["--max-latency-regression", "0.5"]
    assert main(["compare", str(old), str(tmp_path / "new.json"), *loose]) == EXIT_OK


def test_compare_unmeasured_metric_is_not_a_regression(tmp_path: Path) -> None:
    old, new = _save(tmp_path / "old.json"), _save(tmp_path / "new.json", map50_95=None, latency=None)
    assert main(["compare", str(old), str(new)]) == EXIT_OK


def test_compare_uses_config_budgets(tmp_path: Path) -> None:
    config = tmp_path / "harness.toml"
    config.write_text(f'[budgets.variants."{V}"]\nmax_baseline_drop = 0.05\n')
    old, new = _save(tmp_path / "old.json", 0.50), _save(tmp_path / "new.json", 0.47)
    assert main(["compare", str(old), str(new)]) == EXIT_REGRESSION
    assert main(["compare", str(old), str(new), "--config", str(config)]) == EXIT_OK


def test_compare_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "harness.toml"
    config.write_text("[budgets]\nmax_baseline_drp = 0.05\n")
    old, new = _save(tmp_path / "old.json"), _save(tmp_path / "new.json")
    assert main(["compare", str(old), str(new), "--config", str(config)]) == EXIT_ERROR
    assert "did you mean 'max_baseline_drop'?" in capsys.readouterr().err


def test_compare_without_common_variants_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _save(tmp_path / "old.json"), _save(tmp_path / "new.json", slug="other-p00-fp32-torch")
    assert main(["compare", str(old), str(new)]) == EXIT_ERROR
    assert "no common variants" in capsys.readouterr().err


def test_compare_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = _save(tmp_path / "new.json")
    assert main(["compare", str(tmp_path / "absent.json"), str(new)]) == EXIT_ERROR
    assert "cannot read results file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [[], ["frobnicate"], ["compare", "a.json"], ["compare", "a", "b", "--max-baseline-drop", "-1"]]
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
