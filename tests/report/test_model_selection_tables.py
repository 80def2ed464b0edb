"""Model-size, version-comparison and scale-sweep tables from study rows."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.environment import Fingerprint
from harness.report.model_selection import family, model_size_table, scale_sweep_table, version_table
from harness.report.writer import write_tables
from harness.results import DISTILLATION, MODEL_SELECTION, RunResults

FP = Fingerprint("cpu", 2, 2, None, "3.11", "2", "8", "1", "2")


def _sel(
    model: str, backend: str, params: float, ms: float, post: float, **extra: object
) -> dict[str, object]:
    return {"backend": backend, "model": model, "params": params, "gflops": params / 1e6, "map50_95": 0.6,
            "end2end": False, "latency_median_ms": ms, "latency_with_post_ms": ms + post,
            "postprocess_ms": post, **extra}  # fmt: skip


def _run() -> RunResults:
    run = RunResults.new("full", FP, run_id="r")
    run.studies[MODEL_SELECTION] = [
        _sel("yolo11s", "torch", 9.4e6, 30.0, 1.0), _sel("yolov8n", "torch", 3.2e6, 12.0, 1.0),
        _sel("yolo11n", "torch", 2.6e6, 10.0, 1.0),
        _sel("yolo26n", "torch", 2.5e6, 9.0, 1.0, e2e_latency_median_ms=9.5, e2e_latency_with_post_ms=9.6,
             e2e_map50_95=0.58),
        _sel("yolo11n", "onnxruntime", 2.6e6, 6.0, 1.0),
    ]  # fmt: skip
    base: dict[str, object] = {"kd_teacher": "reference", "student": "p30-l1", "kd_method": "response"}
    run.studies[DISTILLATION] = [
        base | {"model": "yolo11s", "params_teacher": 9.4e6, "params_student": 4.7e6, "teacher_ms": 30.0,
                "kd_ms": 18.0, "map50_95_reference": 0.72, "map50_95_control": 0.70, "map50_95_kd": 0.73,
                "gain_seed_mean": 0.03, "gain_ci_low": 0.01, "gain_ci_high": 0.05,
                "reference_drop_seed_mean": -0.01, "reference_drop_ci_low": -0.02, "reference_drop_ci_high": -0.001,
                "map50_95_tuned_reference": 0.78, "tuned_drop_seed_mean": 0.05, "tuned_drop_ci_low": 0.03,
                "tuned_drop_ci_high": 0.07},
        base | {"model": "yolo11n", "params_teacher": 2.6e6, "params_student": 0.9e6, "teacher_ms": 10.0,
                "kd_ms": 8.0, "map50_95_reference": 0.68, "map50_95_control": 0.63, "map50_95_kd": 0.655,
                "map50_95_tuned_reference": 0.70},
        base | {"model": "yolo11n", "kd_teacher": "yolo11s"},  # another teacher: not the sweep's
        base | {"model": "yolov8n", "params_teacher": 3.2e6, "params_student": 1.1e6, "teacher_ms": 12.0,
                "kd_ms": 9.0, "map50_95_reference": 0.70, "map50_95_control": 0.69, "map50_95_kd": 0.69},
    ]  # fmt: skip
    return run


def test_model_size_is_one_row_per_model_smallest_first_with_a_column_per_backend() -> None:
    frame = model_size_table(_run())
    assert list(frame["Model"]) == ["yolo26n", "yolo11n", "yolov8n", "yolo11s"]
    assert list(frame.columns[-2:]) == ["torch ms", "onnxruntime ms"]
    assert frame.loc[1, "onnxruntime ms"] == 6.0 and math.isnan(frame.loc[0, "onnxruntime ms"])


def test_version_rows_compare_network_and_postprocessing_against_the_bases() -> None:
    frame = version_table(_run())
    torch_rows = frame[frame["Backend"] == "torch"].set_index(["Model", "Head"])
    assert torch_rows.loc[("yolo11n", "NMS"), "vs yolov8n %"] == pytest.approx(100 * (13 / 11 - 1))
    e2e = torch_rows.loc[("yolo26n", "end-to-end (one-to-one)")]
    assert e2e["Postprocess ms"] == pytest.approx(0.1) and e2e["mAP50-95"] == 0.58
    assert e2e["vs yolo11n %"] == pytest.approx(100 * (11 / 9.6 - 1))
    ort = frame[frame["Backend"] == "onnxruntime"]
    assert math.isnan(ort.iloc[0]["vs yolov8n %"])  # no yolov8n timed on that backend


def test_scale_sweep_takes_own_reference_students_smallest_first(tmp_path: Path) -> None:
    frame = scale_sweep_table(_run())
    assert list(frame["Model"]) == ["yolo11n", "yolov8n", "yolo11s"]
    small, large = frame.iloc[0], frame.iloc[2]
    assert small["Recovered"] == pytest.approx(0.5) and large["Recovered"] == pytest.approx(1.5)
    assert large["Params -%"] == pytest.approx(50.0) and large["Latency -%"] == pytest.approx(40.0)
    assert large["KD gain"] == "+0.0300 (+0.0100 to +0.0500)" and small["KD gain"] == "-"
    # yolo11s against yolo11n, its family's next smaller model (0.02 lost against 0.05), not yolov8n
    # (0.01 lost): the trend is within a family
    assert list(frame["Prunes better"]) == ["-", "-", "yes"]
    assert large["KD vs baseline"] == "beats"
    assert small["KD vs baseline"] == "-"
    # against the baselines trained as long: yolo11s beat its baseline only by its training (0.05
    # below the tuned one, decided) and loses 0.08 to pruning against yolo11n's 0.07
    assert large["Tuned baseline"] == 0.78 and large["KD vs tuned baseline"] == "below"
    assert large["Below tuned baseline"] == "+0.0500 (+0.0300 to +0.0700)"
    assert list(frame["Prunes better vs tuned"]) == ["-", "-", "no"]
    assert math.isnan(frame.iloc[1]["Tuned baseline"]) and small["KD vs tuned baseline"] == "-"
    written = write_tables(_run(), tmp_path)
    for stem in ("model-size", "version-comparison", "scale-sweep"):
        assert tmp_path / f"{stem}.md" in written


@pytest.mark.parametrize(
    ("model", "expected"),
    [("yolo11s", "yolo11"), ("yolov8n", "yolov8"), ("yolo26x", "yolo26"), ("yolo11n-p30", "yolo11"),
     ("best", None), ("my_detector", None)],
)  # fmt: skip
def test_family_comes_from_an_ultralytics_name(model: str, expected: str | None) -> None:
    assert family(model) == expected
