"""Pareto plots from run results (never from models): mAP50-95 against latency and against size.

Each plot has one marker per variant that has both values (colour = backend, shape = precision,
annotated with the variant slug) and the Pareto front (lower x and higher mAP50-95 are better)
drawn as a step line with its points ringed. A plot without a plottable variant is not drawn.
Plots render to PNG and SVG bytes with fixed metadata and SVG hash salt, so the same results give
the same files; matplotlib's global state (backend, rcParams) is left as it was.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from harness.fsutil import atomic_write_bytes
from harness.results import RECOMMENDATION, RunResults

__all__ = [
    "PARETO_PLOTS",
    "ParetoPlot",
    "PlotPoint",
    "RenderedPlot",
    "pareto_front",
    "plot_points",
    "recommendation_points",
    "render_plot",
    "render_plots",
    "write_plots",
]

ACCURACY = "map50_95"
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_MARKERS = {"fp32": "o", "fp16": "s", "bf16": "D", "int8": "^"}
_SPARE_MARKERS = ("v", "P", "X", "*", "h", "<", ">")


@dataclass(frozen=True)
class ParetoPlot:
    """One Pareto plot: file stem, title, x-axis metric with its unit divisor and axis label."""

    stem: str
    title: str
    metric: str
    divisor: float
    xlabel: str


PARETO_PLOTS = (
    ParetoPlot(
        "pareto-latency", "mAP50-95 vs latency", "latency_median_ms", 1.0, "p50 latency, ms per image"
    ),
    ParetoPlot("pareto-size", "mAP50-95 vs size", "file_bytes", 1e6, "file size, MB"),
)


@dataclass(frozen=True)
class PlotPoint:
    """A variant's position in one plot (x in the plot's unit, y = mAP50-95)."""

    variant: str
    backend: str
    precision: str
    x: float
    y: float


@dataclass(frozen=True)
class RenderedPlot:
    """A rendered plot: its stem and title, PNG and SVG bytes."""

    stem: str
    title: str
    png: bytes
    svg: bytes

    def files(self) -> dict[str, bytes]:
        """File name -> bytes: ``<stem>.png`` and ``<stem>.svg``."""
        return {f"{self.stem}.png": self.png, f"{self.stem}.svg": self.svg}


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates, by increasing x (lower x, higher y better).

    ``a`` dominates ``b`` when ``a`` is no worse in both coordinates and better in one; equal
    points do not dominate each other, so duplicates on the front are all kept. Values must be
    finite (raises ValueError).
    """
    if not all(math.isfinite(x) and math.isfinite(y) for x, y in points):
        raise ValueError("pareto_front needs finite coordinates")
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best = -math.inf  # highest y among points of smaller x
    for _, same_x in itertools.groupby(order, key=lambda i: points[i][0]):
        group = list(same_x)
        top = points[group[0]][1]
        if top > best:
            front.extend(i for i in group if points[i][1] == top)
            best = top
    return front


def plot_points(run: RunResults, plot: ParetoPlot) -> list[PlotPoint]:
    """The variants of ``run`` that have both the plot's metric and mAP50-95, in run order."""
    points = []
    for result in run.variants:
        x, y = result.metrics.get(plot.metric), result.metrics.get(ACCURACY)
        if x is not None and y is not None:
            points.append(PlotPoint(result.variant, result.backend, result.precision, x / plot.divisor, y))
    return points


def _labels(points: Sequence[PlotPoint]) -> list[str]:
    """The compact annotations: each slug without its backend suffix (the legend names the
    backend), unless another point would get the same text (one network on several backends)."""
    short = [p.variant.removesuffix(f"-{p.backend}") or p.variant for p in points]
    return [text if short.count(text) == 1 else p.variant for text, p in zip(short, points, strict=True)]


def _styles(points: Iterable[PlotPoint]) -> tuple[dict[str, str], dict[str, str]]:
    """Backend -> colour and precision -> marker, assigned in sorted order so they are stable."""
    backends = sorted({p.backend for p in points})
    precisions = sorted({p.precision for p in points} - set(_MARKERS))
    colors = {b: _COLORS[i % len(_COLORS)] for i, b in enumerate(backends)}
    spare = {p: _SPARE_MARKERS[i % len(_SPARE_MARKERS)] for i, p in enumerate(precisions)}
    return colors, _MARKERS | spare


def _draw_points(ax: Axes, points: Sequence[PlotPoint]) -> None:
    """One scatter per (backend, precision) for the legend."""
    colors, markers = _styles(points)

    def kind(p: PlotPoint) -> tuple[str, str]:
        return p.backend, p.precision

    for (backend, precision), group in itertools.groupby(sorted(points, key=kind), key=kind):
        members = list(group)
        xs, ys = [p.x for p in members], [p.y for p in members]
        label = f"{backend} {precision}"
        ax.scatter(xs, ys, s=36, zorder=3, color=colors[backend], marker=markers[precision], label=label)


_OFFSET = (4.0, 3.0)  # points right of and above the marker
_GAP_PX = 1.0


def _free_shift(box: Bbox, placed: Sequence[Bbox], inside: Bbox, tries: int = 60) -> float:
    """The smallest vertical shift (pixels; up first, then down, one label height at a time) that
    keeps ``box`` clear of every ``placed`` box and inside the axes; 0 when nothing is free."""
    step = box.height + _GAP_PX
    for k in range(tries):
        for shift in (k * step, -k * step) if k else (0.0,):
            moved = box.translated(0, shift)
            if moved.y0 >= inside.y0 and moved.y1 <= inside.y1 and not any(b.overlaps(moved) for b in placed):
                return shift
    return 0.0


def _annotate(ax: Axes, points: Sequence[PlotPoint]) -> None:
    """Label every point without two labels overlapping: labels are placed lowest point first,
    each just right of its marker, and one that would overlap a placed label moves up (or, at the
    top of the axes, down) to the nearest free row, with a leader line to its point (a cluster of
    FP32 variants at one latency stacks its labels).
    Deterministic, so the SVG stays byte-identical between runs."""
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    fig.draw_without_rendering()  # final axis limits and layout before measuring
    renderer = FigureCanvasAgg(fig).get_renderer()
    labels = _labels(points)
    order = sorted(range(len(points)), key=lambda i: (points[i].y, points[i].x))
    placed: list[Bbox] = []
    where: dict[int, tuple[float, float, str]] = {}  # x offset (points), y shift (points), alignment
    for i in order:
        anchor = (points[i].x, points[i].y)
        box = _extent(ax, labels[i], anchor, _OFFSET[0], "left", renderer)
        dx, align = _OFFSET[0], "left"
        if box.x1 > ax.bbox.x1:  # past the right edge: the label goes left of its marker
            dx, align = -_OFFSET[0], "right"
            box = _extent(ax, labels[i], anchor, dx, align, renderer)
        shift = _free_shift(box, placed, ax.bbox)
        placed.append(box.translated(0, shift))
        where[i] = (dx, shift * 72.0 / fig.dpi, align)
    for i, p in enumerate(points):
        dx, dy, align = where[i]
        leader = {"arrowstyle": "-", "linewidth": 0.4, "color": "0.45"} if dy else None
        note = ax.annotate(labels[i], (p.x, p.y), xytext=(dx, _OFFSET[1] + dy), textcoords="offset points",
                           fontsize=6, clip_on=True, arrowprops=leader, horizontalalignment=align)  # fmt: skip
        note.set_in_layout(False)


def _extent(ax: Axes, text: str, anchor: tuple[float, float], dx: float, align: str, renderer: Any) -> Bbox:
    """Where a label would be drawn (pixels), measured with a probe that is removed again."""
    probe = ax.annotate(text, anchor, xytext=(dx, _OFFSET[1]), textcoords="offset points", fontsize=6,
                        horizontalalignment=align)  # fmt: skip
    box = probe.get_window_extent(renderer)
    probe.remove()
    return box


def _draw_front(ax: Axes, points: Sequence[PlotPoint]) -> None:
    """The Pareto front as a step line (x up to the next front point keeps the y reached), ringed."""
    front = [points[i] for i in pareto_front([(p.x, p.y) for p in points])]
    xs, ys = [p.x for p in front], [p.y for p in front]
    ax.step(xs, ys, where="post", color="black", linewidth=1.0, zorder=2, label="Pareto front")
    ax.scatter(xs, ys, s=110, facecolors="none", edgecolors="black", linewidths=1.2, zorder=4)


def _figure(plot: ParetoPlot, points: Sequence[PlotPoint], highlight: PlotPoint | None = None) -> Figure:
    """The plot's figure (not attached to pyplot, so nothing global is touched); ``highlight`` is
    starred (the recommended variant)."""
    fig = Figure(figsize=(8.0, 4.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    _draw_front(ax, points)
    if highlight is not None:
        ax.scatter([highlight.x], [highlight.y], s=320, marker="*", facecolors="gold", edgecolors="black",
                   linewidths=0.8, zorder=5, label="recommended")  # fmt: skip
    ax.set(title=plot.title, xlabel=plot.xlabel, ylabel="mAP50-95 (higher is better)")
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.margins(x=0.2, y=0.08)  # room for the annotations at the edges
    _draw_points(ax, points)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    _annotate(ax, points)  # last: labels are placed against the final layout
    return fig


def render_plot(
    plot: ParetoPlot, points: Sequence[PlotPoint], highlight: PlotPoint | None = None
) -> RenderedPlot:
    """Render ``points`` (at least one) as PNG and SVG bytes; raises ValueError when empty."""
    if not points:
        raise ValueError(f"{plot.stem}: no variant to plot")
    with rc_context({"svg.hashsalt": "harness-report", "svg.fonttype": "path", "font.size": 9.0}):
        fig = _figure(plot, points, highlight)
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None})
    return RenderedPlot(plot.stem, plot.title, png.getvalue(), svg.getvalue())


def render_plots(run: RunResults) -> list[RenderedPlot]:
    """Every plot of :data:`PARETO_PLOTS` that has at least one variant to show, then one
    recommendation plot per model with a recommendation study row."""
    rendered = []
    for plot in PARETO_PLOTS:
        points = plot_points(run, plot)
        if points:
            rendered.append(render_plot(plot, points))
    for model, (points, chosen) in recommendation_points(run).items():
        title = f"{model}: mAP50-95 vs latency of every candidate (round-robin screen)"
        plot = ParetoPlot(
            f"recommendation-{model}", title, "latency_median_ms", 1.0, "p50 latency, ms per image"
        )
        rendered.append(render_plot(plot, points, chosen))
    return rendered


def recommendation_points(run: RunResults) -> dict[str, tuple[list[PlotPoint], PlotPoint | None]]:
    """Per model, the timed candidates of the recommendation study and the recommended one."""
    found: dict[str, tuple[list[PlotPoint], PlotPoint | None]] = {}
    for row in run.studies.get(RECOMMENDATION, []):
        x, y = row.get("latency_median_ms"), row.get(ACCURACY)
        if not isinstance(x, int | float) or not isinstance(y, int | float):
            continue
        point = PlotPoint(str(row["variant"]), str(row["backend"]), str(row["precision"]), float(x), float(y))
        points, chosen = found.get(str(row["model"]), ([], None))
        points.append(point)
        found[str(row["model"])] = (points, point if row.get("recommended") else chosen)
    return found


def write_plots(plots: Iterable[RenderedPlot], out_dir: Path) -> list[Path]:
    """Write each plot's PNG and SVG atomically into ``out_dir``; return the paths written."""
    written = []
    for plot in plots:
        for name, data in plot.files().items():
            atomic_write_bytes(Path(out_dir) / name, data)
            written.append(Path(out_dir) / name)
    return written
