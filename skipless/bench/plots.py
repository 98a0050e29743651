"""The report's figures (matplotlib, Agg canvas: no display, no pyplot state) and the Pareto front."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _figure(width: float = 6.4, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


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
                         title: str) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    front = pareto_front(list(zip(resource, accuracy, strict=True)))
    ax.scatter(resource, accuracy, color="tab:gray", zorder=2, label="design")
    ax.plot([resource[i] for i in front], [accuracy[i] for i in front], "-o", color="tab:red", zorder=3,
            label="Pareto front")
    for label, x, y in zip(labels, resource, accuracy, strict=True):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.margins(x=0.2, y=0.1)  # room for the labels
    ax.set_xlabel(resource_name)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


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
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def ablation_bars(methods: list[str], means: list[float], stds: list[float], title: str) -> Figure:
    fig = _figure(7.0, 0.45 * len(methods) + 1.5)
    ax = fig.add_subplot()
    ys = range(len(methods))
    ax.barh(ys, means, xerr=stds, color="tab:blue", alpha=0.8, capsize=3)
    ax.set_yticks(ys, methods, fontsize=8)
    ax.invert_yaxis()
    low = min(m - s for m, s in zip(means, stds, strict=True))
    high = max(m + s for m, s in zip(means, stds, strict=True))
    ax.set_xlim(max(0.0, low - 2), min(100.0, high + 1))
    ax.set_xlabel("test accuracy (%), mean ± std over seeds")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return fig


def history_lines(runs: list[str], series: dict[str, list[float | None]], metric: str) -> Figure:
    """One line per case over the runs (x: run dates, oldest first); gaps where a run lacks the case."""
    fig = _figure(7.0, 3.6)
    ax = fig.add_subplot()
    for name, values in series.items():
        pts = [(i, v) for i, v in enumerate(values) if v is not None]
        ax.plot([i for i, _ in pts], [v for _, v in pts], "-o", markersize=3, label=name)
    ax.set_xticks(range(len(runs)), runs, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} over runs", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
