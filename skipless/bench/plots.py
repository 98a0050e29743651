"""The report's figures (matplotlib, Agg canvas: no display, no pyplot state) and the Pareto front."""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
import textwrap
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox


def _figure(width: float = 6.4, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _title(ax, text: str, width: int = 60) -> None:
    """A title wrapped onto as many lines as it needs (constrained layout makes room: never clipped)."""
    ax.set_title("\n".join(textwrap.wrap(text, width)), fontsize=10)


def _legend_outside(fig: Figure, ax, fontsize: int = 8, below: bool = False) -> None:
    """The legend beside (or below) the axes, where it covers no data."""
    handles = ax.get_legend_handles_labels()[0]
    if not handles:
        return
    if below:
        fig.legend(loc="outside lower center", fontsize=fontsize, ncols=2 if len(handles) > 3 else 1)
    else:
        fig.legend(loc="outside right upper", fontsize=fontsize)


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG atomically."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (resource, accuracy) points that no other point beats: none has less or equal
    resource and more or equal accuracy with one of them strictly better. Sorted by resource."""
    front = []
    for i, (res_i, acc_i) in enumerate(points):
        dominated = any(
            res_j <= res_i and acc_j >= acc_i and (res_j < res_i or acc_j > acc_i)
            for j, (res_j, acc_j) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1]))


def accuracy_vs_resource(labels: list[str], resource: list[float], accuracy: list[float], resource_name: str,
                         title: str, groups: list[str] | None = None) -> Figure:
    """Accuracy against a resource: one colour per group (the quantization), the Pareto front over all,
    its designs named."""
    fig = _figure(7.4, 4.2)
    ax = fig.add_subplot()
    groups = groups or [""] * len(labels)
    colours = {g: f"C{i}" for i, g in enumerate(dict.fromkeys(groups))}
    for g, colour in colours.items():
        idx = [i for i, gi in enumerate(groups) if gi == g]
        ax.scatter([resource[i] for i in idx], [accuracy[i] for i in idx], color=colour, zorder=2, label=g or "design")
    front = pareto_front(list(zip(resource, accuracy, strict=True)))
    ax.plot([resource[i] for i in front], [accuracy[i] for i in front], "--", color="black", linewidth=1, zorder=3,
            label="Pareto front")
    ax.margins(x=0.25, y=0.15)  # room for the labels
    ax.set_xlabel(resource_name)
    ax.set_ylabel("test accuracy (%)")
    _title(ax, title)
    ax.grid(alpha=0.3)
    _legend_outside(fig, ax)
    # only the front's designs are named (the report's table below the figure names every point)
    _place_labels(fig, ax, [(labels[i], resource[i], accuracy[i]) for i in front], list(zip(resource, accuracy, strict=True)))
    return fig


# offsets (points) tried in turn for a point's label: right of it above and below, left of it, then further
_LABEL_OFFSETS = [(5, 4, "left"), (5, -11, "left"), (-5, 4, "right"), (-5, -11, "right"),
                  (5, 14, "left"), (5, -21, "left"), (-5, 14, "right"), (-5, -21, "right")]


def _place_labels(fig: Figure, ax, points: list[tuple[str, float, float]], markers: list[tuple[float, float]],
                  fontsize: int = 7) -> None:
    """Name each point with the first offset whose label covers no label already placed and no marker, and
    stays inside the axes (the layout is fixed first; labels take no part in it)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    radius = 4  # pixels: a scatter marker's half width at the default size
    placed = [Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)
              for x, y in ax.transData.transform(markers)]

    def label_at(text, x, y, dx, dy, align):
        label = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=align, fontsize=fontsize)
        label.set_in_layout(False)
        return label

    for text, x, y in points:
        for offset in _LABEL_OFFSETS:
            label = label_at(text, x, y, *offset)
            box = label.get_window_extent(renderer)
            free = not any(box.overlaps(other) for other in placed)
            if free and inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1:
                placed.append(box)
                break
            label.remove()
        else:  # nowhere free: the first place, overlapping
            label_at(text, x, y, *_LABEL_OFFSETS[0])


def savings_bars(metrics: list[str], series: dict[str, list[float]], title: str) -> Figure:
    """Grouped bars: per metric, the saving (%) of each series (noskip, short) against the skip design."""
    fig = _figure(max(6.4, 1.1 * len(metrics) + 2), 4.0)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(metrics))]
        ax.bar(xs, values, width, label=name)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(metrics)), metrics, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("saving against skip (%)")
    _title(ax, title)
    ax.grid(axis="y", alpha=0.3)
    _legend_outside(fig, ax)
    return fig


def ablation_bars(methods: list[str], means: list[float], stds: list[float], title: str) -> Figure:
    """Horizontal bars from 0 to 100 %: differences of a point or two look as small as they are."""
    fig = _figure(7.0, 0.45 * len(methods) + 1.5)
    ax = fig.add_subplot()
    ys = range(len(methods))
    ax.barh(ys, means, xerr=stds, color="tab:blue", alpha=0.8, capsize=3)
    for y, m in zip(ys, means, strict=True):
        ax.annotate(f"{m:.1f}", (m, y), textcoords="offset points", xytext=(14, -3), fontsize=7)
    ax.set_yticks(ys, methods, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 100.0)
    ax.set_xlabel("test accuracy (%), mean ± std over seeds")
    _title(ax, title)
    ax.grid(axis="x", alpha=0.3)
    return fig


def history_lines(dates: list[_dt.datetime], series: dict[str, list[float | None]], metric: str) -> Figure:
    """One line per case over the runs, on a date axis (ticks placed by matplotlib, not one per run);
    gaps where a run lacks the case."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    fig = _figure(8.0, 3.4 + 0.18 * ((len(series) + 1) // 2))
    ax = fig.add_subplot()
    for name, values in series.items():
        pts = [(dates[i], v) for i, v in enumerate(values) if v is not None]
        ax.plot([d for d, _ in pts], [v for _, v in pts], "-o", markersize=3, label=name)
    if dates and max(dates) - min(dates) < _dt.timedelta(days=2):  # one night: a few days around it, not years
        ax.set_xlim(min(dates) - _dt.timedelta(days=1), max(dates) + _dt.timedelta(days=1))
    locator = AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylabel(metric)
    _title(ax, f"{metric} over runs")
    ax.grid(alpha=0.3)
    _legend_outside(fig, ax, fontsize=7, below=True)
    return fig
