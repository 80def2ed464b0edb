"""Pareto plots: the front's math (property-based), which variants are drawn, stable PNG/SVG files."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.environment import Fingerprint
from harness.report.plots import PARETO_PLOTS, pareto_front, plot_points, render_plots, write_plots
from harness.results import RunResults

FP = Fingerprint("AMD EPYC 9B14", 2, 2, None, "3.11.7", "2.5.0", "8.4.0", "1.20.0", "2.1.0")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

coordinate = st.one_of(st.integers(0, 4).map(float), st.floats(-1e6, 1e6, allow_nan=False))
point_lists = st.lists(st.tuples(coordinate, coordinate), max_size=30)


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Lower x and higher y are better; ``a`` no worse in both and better in one."""
    return a[0] <= b[0] and a[1] >= b[1] and a != b


@given(point_lists)
def test_no_front_point_is_dominated(points: list[tuple[float, float]]) -> None:
    front = pareto_front(points)
    assert not [i for i in front if any(_dominates(p, points[i]) for p in points)]


@given(point_lists)
def test_every_other_point_is_dominated_by_a_front_point(points: list[tuple[float, float]]) -> None:
    front = pareto_front(points)
    for i in set(range(len(points))) - set(front):
        assert any(_dominates(points[j], points[i]) for j in front)


@given(point_lists)
def test_front_is_unique_and_ordered_by_x_then_rising_y(points: list[tuple[float, float]]) -> None:
    front = pareto_front(points)
    assert len(set(front)) == len(front)
    xs, ys = [points[i][0] for i in front], [points[i][1] for i in front]
    assert xs == sorted(xs) and ys == sorted(ys)
    assert bool(front) == bool(points)


def test_front_of_a_small_example_keeps_duplicates() -> None:
    points = [(10.0, 0.5), (5.0, 0.4), (5.0, 0.4), (7.0, 0.3), (12.0, 0.5), (20.0, 0.6)]
    assert pareto_front(points) == [1, 2, 0, 5]


def test_front_refuses_nan() -> None:
    with pytest.raises(ValueError, match="finite"):
        pareto_front([(1.0, math.nan)])


def _run() -> RunResults:
    run = RunResults.new("quick", FP, run_id="r1")
    metrics: dict[str, dict[str, float | None]] = {
        "m-p00-fp32-torch": {"map50_95": 0.50, "latency_median_ms": 20.0, "file_bytes": 10.4e6},
        "m-p00-int8-openvino": {"map50_95": 0.48, "latency_median_ms": 6.0, "file_bytes": 3.1e6},
        "m-p00-fp16-onnxruntime": {"map50_95": 0.49, "latency_median_ms": 25.0},  # no size
        "m-p00-fp32-ncnn": {"map50_95": None, "latency_median_ms": 9.0, "file_bytes": 10.2e6},
    }
    for slug, values in metrics.items():
        _, _, precision, backend = slug.split("-")
        run.record(slug, model="m", backend=backend, precision=precision, prune=0.0, metrics=values)
    return run


def test_points_are_the_variants_with_both_values_in_plot_units() -> None:
    latency, size = PARETO_PLOTS
    assert [p.variant for p in plot_points(_run(), latency)] == [
        "m-p00-fp32-torch", "m-p00-int8-openvino", "m-p00-fp16-onnxruntime",
    ]  # fmt: skip
    by_slug = {p.variant: p for p in plot_points(_run(), size)}
    assert sorted(by_slug) == ["m-p00-fp32-torch", "m-p00-int8-openvino"]
    assert by_slug["m-p00-int8-openvino"].x == pytest.approx(3.1)
    assert by_slug["m-p00-int8-openvino"].y == 0.48


def test_no_plottable_variant_means_no_plot(tmp_path: Path) -> None:
    run = RunResults.new("quick", FP, run_id="r1")
    run.record("m-p00-fp32-torch", model="m", backend="torch", precision="fp32", prune=0.0,
               metrics={"map50_95": None, "latency_median_ms": 3.0})  # fmt: skip
    assert render_plots(run) == []
    assert write_plots(render_plots(run), tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_only_the_plot_with_data_is_written(tmp_path: Path) -> None:
    run = RunResults.new("quick", FP, run_id="r1")
    run.record("m-p00-fp32-torch", model="m", backend="torch", precision="fp32", prune=0.0,
               metrics={"map50_95": 0.5, "latency_median_ms": 3.0})  # fmt: skip
    paths = write_plots(render_plots(run), tmp_path)
    assert [p.name for p in paths] == ["pareto-latency.png", "pareto-latency.svg"]


def test_files_are_png_and_svg_with_the_slugs_and_render_identically(tmp_path: Path) -> None:
    plots = render_plots(_run())
    paths = write_plots(plots, tmp_path)
    assert [p.name for p in paths] == [
        "pareto-latency.png", "pareto-latency.svg", "pareto-size.png", "pareto-size.svg",
    ]  # fmt: skip
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths if p.suffix == ".png")
    svg = (tmp_path / "pareto-latency.svg").read_text()
    assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
    assert "<dc:date>" not in svg
    assert "<!-- m-p00-int8 -->" in svg  # annotated with the slug, backend dropped (it is in the legend)
    assert render_plots(_run()) == plots  # same results, same bytes
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_rendering_leaves_matplotlib_global_state_alone() -> None:
    backend, params = matplotlib.get_backend(), dict(matplotlib.rcParams)
    render_plots(_run())
    assert matplotlib.get_backend() == backend
    assert dict(matplotlib.rcParams) == params


def test_labels_of_a_cluster_do_not_overlap() -> None:
    """Six FP32 variants at nearly one latency and mAP (the default's FP32 cluster), plus others."""
    from matplotlib.text import Annotation, Text

    from harness.report.plots import PlotPoint, _figure

    cluster = [
        PlotPoint(f"yolo11n-p00-fp32-b{i}", f"b{i}", "fp32", 8.0 + 0.05 * i, 0.643 - 0.0002 * i)
        for i in range(6)
    ]
    others = [
        PlotPoint("yolo11n-p00-int8-x", "x", "int8", 3.0, 0.640),
        PlotPoint("yolo11n-p30-fp32-y", "y", "fp32", 5.0, 0.62),
    ]
    fig = _figure(PARETO_PLOTS[0], [*cluster, *others])
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    notes = [a for a in fig.axes[0].texts if isinstance(a, Annotation)]
    assert len(notes) == 8
    boxes = [Text.get_window_extent(a, renderer) for a in notes]  # the text, not its leader line
    overlapping = [(a.get_text(), b.get_text()) for i, a in enumerate(notes) for j, b in enumerate(notes)
                   if i < j and boxes[i].overlaps(boxes[j])]  # fmt: skip
    assert overlapping == []
    assert any(a.arrow_patch is not None for a in notes)  # moved labels point back to their marker
    assert len({a.get_text() for a in notes}) == 8  # one network on six backends: the backend stays
