"""`harness report`, `compare`, `merge`, `publish`, `init` and `run`: output, exit codes, budgets, error handling."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from harness.cli import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, SUMMARY_ENV, main, pytest_args
from harness.environment import Fingerprint
from harness.report.writer import render_summary_markdown
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


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never append to the job summary of the CI run that runs them."""
    monkeypatch.delenv(SUMMARY_ENV, raising=False)


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
    assert "latency p50 regression vs baseline +30.0% > limit 5.0%" in capsys.readouterr().out
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


def test_compare_without_common_variants_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
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


# -- Markdown output, job summaries --------------------------------------------------------------

_SEPARATOR = re.compile(r"\|(:?-+:?\|)+")


def _markdown_tables(text: str) -> list[list[str]]:
    """Every pipe table of ``text`` (lines), checked: blank line before and after, a separator row,
    the same number of cells in every row."""
    tables: list[list[str]] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|")):
            end = next((j for j in range(i, len(lines)) if not lines[j].startswith("|")), len(lines))
            table = lines[i:end]
            assert i > 0 and lines[i - 1] == "" and (end == len(lines) or lines[end] == ""), table
            assert _SEPARATOR.fullmatch(table[1].replace(" ", "")), table[1]
            assert len({row.count("|") for row in table}) == 1, table
            tables.append(table)
    return tables


def test_report_prints_every_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(tmp_path / "results.json")
    assert main(["report", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out == render_summary_markdown(RunResults.load(path))
    assert len(_markdown_tables(out)) >= 1


def test_compare_output_is_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = _save(tmp_path / "old.json", 0.50, 10.0), _save(tmp_path / "new.json", 0.40, 20.0)
    assert main(["compare", str(old), str(new)]) == EXIT_REGRESSION
    out = capsys.readouterr().out
    (table,) = _markdown_tables(out)
    assert table[0].split("|")[1].strip() == "Variant" and len(table) == 4  # header, separator, 2 metrics
    verdicts = [line for line in out.splitlines() if "REGRESSION" in line]
    assert len(verdicts) == 2 and all(line.startswith("- REGRESSION ") for line in verdicts)
    assert out.startswith("## Comparing `")


@pytest.mark.parametrize("command", ["report", "compare"])
def test_summary_file_and_github_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = _save(tmp_path / "results.json")
    argv = [command, str(path)] + ([str(path)] if command == "compare" else [])
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    assert main([*argv, "--summary", str(summary)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert summary.read_text() == "earlier step\n" + printed
    step = tmp_path / "step.md"
    monkeypatch.setenv(SUMMARY_ENV, str(step))
    assert main(argv) == EXIT_OK
    assert main(argv) == EXIT_OK
    assert step.read_text() == printed * 2  # appended, never overwritten
    assert main([*argv, "--summary", str(summary)]) == EXIT_OK  # --summary wins over the variable
    assert step.read_text() == printed * 2


def test_unwritable_summary_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(tmp_path / "results.json")
    assert main(["report", str(path), "--summary", str(tmp_path / "missing" / "summary.md")]) == EXIT_ERROR
    assert f"cannot append the summary to {tmp_path / 'missing' / 'summary.md'}" in capsys.readouterr().err


# -- bad input -----------------------------------------------------------------------------------


def test_report_of_newer_schema_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(tmp_path / "results.json")
    path.write_text(json.dumps(json.loads(path.read_text()) | {"schema_version": 99}))
    assert main(["report", str(path)]) == EXIT_ERROR
    assert "schema_version 99 is newer than supported" in capsys.readouterr().err


def test_report_out_under_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(tmp_path / "results.json")
    out = tmp_path / "results.json" / "sub"  # a folder that cannot exist (works as root too)
    assert main(["report", str(path), "--out", str(out)]) == EXIT_ERROR
    assert f"harness: error: cannot write reports to {out}" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_report_out_read_only_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _save(tmp_path / "results.json")
    out = tmp_path / "ro"
    out.mkdir(mode=0o500)
    try:
        assert main(["report", str(path), "--out", str(out)]) == EXIT_ERROR
    finally:
        out.chmod(0o700)
    assert f"cannot write reports to {out}" in capsys.readouterr().err


# -- cost: no model libraries, fast on a stored run --------------------------------------------------


def _big_run(path: Path, n: int = 40) -> Path:
    run = RunResults.new("default", FP, run_id="big")
    for i in range(n):
        precision, backend = ("fp32", "fp16", "int8")[i % 3], ("torch", "onnxruntime", "openvino")[i % 3]
        metrics = {"map50_95": 0.5 - i / 1000, "latency_median_ms": 5.0 + i, "throughput_ips": 100.0 + i,
                   "file_bytes": 5e6, "params": 2.6e6, "speedup_vs_reference": 1.0 + i / 40}  # fmt: skip
        run.record(f"m{i // 9}-p{i % 4 * 10:02d}-{precision}-{backend}", model=f"m{i // 9}", backend=backend,
                   precision=precision, prune=i % 4 / 10, status=("passed", "failed")[i % 7 == 0],
                   metrics=metrics)  # fmt: skip
    run.save(path)
    return path


def test_report_of_40_variants_takes_under_10_s(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _big_run(tmp_path / "results.json")
    start = time.perf_counter()
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == EXIT_OK
    assert time.perf_counter() - start < 10
    assert capsys.readouterr().out.count("| m") >= 40


def test_report_imports_no_model_library(tmp_path: Path) -> None:
    path = _big_run(tmp_path / "results.json", 3)
    code = (
        "import sys; from harness.cli import main; "
        f"code = main(['report', {str(path)!r}, '--out', {str(tmp_path / 'out')!r}]); "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'ultralytics', 'onnxruntime', "
        "'openvino'}); print(code, heavy, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "0 []"


# -- merge and publish -------------------------------------------------------------------------------


def test_merge_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _save(tmp_path / "a.json", latency=10.0)
    b = _save(tmp_path / "b.json", latency=2.0, fp=replace(FP, gpu="NVIDIA H100"), slug="m-p00-fp32-torch")
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "out")]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out.startswith("# Merged results") and "2 file(s) from 2 environment(s)" in captured.out
    assert len(_markdown_tables(captured.out)) == 2
    assert (tmp_path / "out" / "merged.csv").is_file() and (tmp_path / "out" / "a" / "results.json").is_file()
    assert "wrote" in captured.err


def test_merge_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _save(tmp_path / "a.json")
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("[]")
    assert main(["merge", str(a), str(corrupt), "--out", str(tmp_path / "out")]) == EXIT_ERROR
    assert f"harness: error: {corrupt}: invalid results file" in capsys.readouterr().err
    assert main(["merge", str(a), "--out", str(a / "sub")]) == EXIT_ERROR
    assert f"cannot write reports to {a / 'sub'}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["merge", str(a)])  # --out is required


def test_publish_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = tmp_path / "reports"
    source = _save(tmp_path / "r1.json")
    assert main(["report", str(source), "--out", str(reports / "r1")]) == EXIT_OK  # tables + report.html
    (reports / "r1" / "results.json").write_bytes(source.read_bytes())
    capsys.readouterr()
    assert main(["publish", "v1.0", "--reports", str(reports)]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"release v1.0 published: {reports / 'v1.0' / 'index.html'}" in out and "r1: 1 variant(s)" in out
    assert "[report](r1/report.html)" in (reports / "v1.0" / "index.md").read_text()
    assert main(["publish", "v1.0", "--reports", str(reports)]) == EXIT_OK
    assert "unchanged" in capsys.readouterr().out


@pytest.mark.parametrize("version", ["../v1", "latest", "v 1"])
def test_publish_bad_version_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str
) -> None:
    assert main(["publish", version, "--reports", str(tmp_path)]) == EXIT_ERROR
    assert "is not a safe folder name" in capsys.readouterr().err


# -- init and run ------------------------------------------------------------------------------------


def _init_argv(weights: Path, data: Path, *extra: str) -> list[str]:
    return ["init", "--weights", str(weights), "--data", str(data), *extra]


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("harness: error: "), err
    return err


def test_init_writes_a_config_that_loads(
    detector_checkpoints: Path, tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.config import load_config

    out = tmp_path / "harness.toml"
    assert main(_init_argv(detector_checkpoints / "best.pt", tiny_dataset, "--out", str(out))) == EXIT_OK
    printed = capsys.readouterr().out
    assert "classes: 2 (circle, square)" in printed and "imgsz 320" in printed and f"wrote {out}" in printed
    config = load_config(tmp_path)
    assert config.models[0].weights == detector_checkpoints / "best.pt" and config.imgsz == 320


def test_init_errors_exit_2_with_one_line(
    detector_checkpoints: Path, tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights, out = detector_checkpoints / "best.pt", tmp_path / "harness.toml"
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert main(_init_argv(bad, tiny_dataset, "--out", str(out))) == EXIT_ERROR
    assert f"weights file {bad} is not a loadable Ultralytics checkpoint" in _one_error_line(capsys)

    original = tiny_dataset.read_text()
    tiny_dataset.write_text(original.replace("[circle, square]", "[circle]"))
    assert main(_init_argv(weights, tiny_dataset, "--out", str(out))) == EXIT_ERROR
    err = _one_error_line(capsys)
    assert "classes differ" in err and str(weights) in err and str(tiny_dataset) in err

    tiny_dataset.write_text(original.replace("val: images/val", "val: images/missing"))
    assert main(_init_argv(weights, tiny_dataset, "--out", str(out))) == EXIT_ERROR
    assert "images/missing" in _one_error_line(capsys)
    assert not out.exists()

    tiny_dataset.write_text(original)
    out.write_text("# mine\n")
    assert main(_init_argv(weights, tiny_dataset, "--out", str(out))) == EXIT_ERROR
    assert f"{out} already exists (use --force to overwrite it)" in _one_error_line(capsys)
    assert out.read_text() == "# mine\n"
    assert main(_init_argv(weights, tiny_dataset, "--out", str(out), "--force")) == EXIT_OK


def test_init_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["init", "--weights", "best.pt"])  # --data is required
    assert info.value.code == 2


def test_run_passes_every_option_to_pytest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`harness run ARGS` is pytest on the installed suites, rooted here; pytest's status is its own."""
    calls: list[tuple[list[str], Path]] = []

    def fake_call(command: list[str], cwd: Path) -> int:
        calls.append((command, cwd))
        return 5  # pytest: no tests collected

    monkeypatch.setattr("harness.cli._call", fake_call)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "-k", "int8", "--benchmark-compare", "--help"]) == 5
    assert calls == [
        (
            [sys.executable, "-m", "pytest", f"--rootdir={tmp_path}", "-p", "harness.plugin", "--pyargs",
             "harness.suites", "-k", "int8", "--benchmark-compare", "--help"],
            tmp_path,
        )
    ]  # fmt: skip
    args = pytest_args(["--rootdir", "/elsewhere"], tmp_path)
    assert args[-2:] == ["--rootdir", "/elsewhere"]  # given last: the user's --rootdir wins


def test_help_lists_run_and_init(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "run" in out and "init" in out and "pytest --pyargs harness.suites" in out
