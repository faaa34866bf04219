"""PNG plots for reports (matplotlib, Agg backend): benchmark bars, task radar, frame strips.

Markers ('-', '*', 'n/a', empty) are not numbers: bars are left out (the marker is printed
at the base), and in the radar chart a task with no number is a gap in the model's outline
(its other scores are drawn as points) and is named in the legend.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .leaderboard import TASK_LABELS, TASK_ORDER, Leaderboard, Row


def _plt():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _save(fig, out: str | os.PathLike) -> str:
    from ..io.atomic import atomic_path
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return str(out)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def row_label(r: Row) -> str:
    bb = r.meta.get("Backbone")
    return f"{r.meta.get('Method', '')} ({bb})" if bb else str(r.meta.get("Method", ""))


def plot_benchmark_bars(board: Leaderboard, out: str | os.PathLike,
                        rows: Sequence[Row] | None = None, ncols: int = 4) -> str:
    """One panel per column of ``board`` (benchmark + metric), one bar per model."""
    plt = _plt()
    rows = list(rows if rows is not None else board.rows)
    if not rows or not board.columns:
        raise InputError("nothing to plot: no rows or no columns")
    cols = board.columns
    ncols = min(ncols, len(cols))
    nrows = math.ceil(len(cols) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.8 * nrows + 0.8),
                             squeeze=False)
    cmap = plt.get_cmap("tab20" if len(rows) > 10 else "tab10")
    colors = [cmap(i % cmap.N) for i in range(len(rows))]
    x = np.arange(len(rows))
    for k, c in enumerate(cols):
        ax = axes[k // ncols][k % ncols]
        vals = [r.values.get(c.key) for r in rows]
        h = [v if _num(v) else 0.0 for v in vals]
        bars = ax.bar(x, h, color=colors, edgecolor=["k" if r.measured else "none" for r in rows],
                      linewidth=1.2)
        top = max([v for v in h if v] or [1.0])
        for xi, v, b in zip(x, vals, bars):
            if not _num(v):
                ax.text(xi, 0, str(v) if v else "", ha="center", va="bottom", fontsize=8)
            elif len(rows) <= 8:
                ax.text(xi, b.get_height(), f"{v:.1f}", ha="center", va="bottom", fontsize=7)
        ax.set_ylim(0, top * 1.15)
        ax.set_title(f"{TASK_LABELS.get(c.task, c.task)} · {c.benchmark_label} {c.metric_label}",
                     fontsize=9)
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    for k in range(len(cols), nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[i]) for i in range(len(rows))]
    fig.legend(handles, [row_label(r) + (" [measured]" if r.measured else "") for r in rows],
               loc="lower center", ncol=min(4, len(rows)), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02 - 0.035 * math.ceil(len(rows) / 4)))
    fig.suptitle(f"Table {board.table}: per-benchmark results", fontsize=11)
    fig.tight_layout()
    return _save(fig, out)


def task_scores(board: Leaderboard, row: Row) -> dict[str, float | None]:
    """Per task: mean over its benchmarks of the first column of each benchmark (headline)."""
    first: dict[str, str] = {}
    for c in board.columns:
        first.setdefault(c.benchmark or c.benchmark_label, c.key)
    per_task: dict[str, list[float]] = {}
    for c in board.columns:
        if first.get(c.benchmark or c.benchmark_label) != c.key:
            continue
        v = row.values.get(c.key)
        per_task.setdefault(c.task, [])
        if _num(v):
            per_task[c.task].append(float(v))
    return {t: (float(np.mean(v)) if v else None) for t, v in per_task.items()}


def plot_radar(scores: dict[str, dict[str, float | None]], out: str | os.PathLike,
               tasks: Sequence[str] = TASK_ORDER, title: str = "Headline score per task") -> str:
    """Radar chart: one polygon per model over ``tasks`` (a missing task leaves a gap)."""
    plt = _plt()
    if not scores:
        raise InputError("nothing to plot: no models")
    angles = np.linspace(0, 2 * np.pi, len(tasks), endpoint=False)
    fig = plt.figure(figsize=(6.4, 6.0))
    ax = fig.add_subplot(111, polar=True)
    cmap = plt.get_cmap("tab10")
    for i, (name, s) in enumerate(scores.items()):
        vals = [s.get(t) for t in tasks]
        missing = [TASK_LABELS.get(t, t) for t, v in zip(tasks, vals) if v is None]
        # a missing task is a gap, not a 0: lines to the centre would hide other models
        v = np.array([np.nan if x is None else x for x in vals + vals[:1]], dtype=float)
        a = np.concatenate([angles, angles[:1]])
        label = name + (f" (no {', '.join(missing)})" if missing else "")
        ax.plot(a, v, color=cmap(i % 10), linewidth=1.6, marker="o", markersize=4, label=label)
        if not missing:
            ax.fill(a, v, color=cmap(i % 10), alpha=0.08)
    ax.set_xticks(angles)
    ax.set_xticklabels([TASK_LABELS.get(t, t) for t in tasks], fontsize=10)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80])
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(title, fontsize=11, pad=16)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), fontsize=8, ncol=2, frameon=False)
    fig.tight_layout()
    return _save(fig, out)


def _colorize(frame: np.ndarray | None, labels: np.ndarray, alpha: float) -> np.ndarray:
    """Blend label colours (DAVIS palette; 0 = background, left as is) over ``frame``."""
    from ..io.png import davis_palette
    if labels.ndim == 3:  # RGB panoptic ids
        from ..io.panoptic import rgb2id
        labels = rgb2id(labels)
    h, w = labels.shape
    base = (np.full((h, w, 3), 96, np.uint8) if frame is None else frame[..., :3]).astype(float)
    pal = davis_palette()
    ids = labels.astype(np.int64)
    # ids beyond the palette (panoptic ids) fold into it; void 255 is drawn white
    col = pal[np.where(ids == 255, 255, ids % 255)].astype(float)
    col[ids == 255] = 255
    m = (ids > 0)[..., None]
    out = np.where(m, (1 - alpha) * base + alpha * col, base)
    return out.clip(0, 255).astype(np.uint8)


def plot_frame_strip(gt: Sequence[np.ndarray], pred: Sequence[np.ndarray], out: str | os.PathLike,
                     frames: Sequence[np.ndarray | None] | None = None,
                     names: Sequence[str] | None = None, title: str = "",
                     alpha: float = 0.55) -> str:
    """Two rows of frames: GT masks overlaid (top) and predicted masks overlaid (bottom)."""
    plt = _plt()
    n = len(gt)
    if n == 0 or len(pred) != n:
        raise InputError(f"frame strip: {n} GT frames and {len(pred)} predicted frames")
    frames = list(frames) if frames is not None else [None] * n
    h, w = np.asarray(gt[0]).shape[:2]
    fig, axes = plt.subplots(2, n, figsize=(max(2.2, 2.2 * w / h) * n, 4.6), squeeze=False)
    for j in range(n):
        for i, (lab, rowname) in enumerate(((gt[j], "GT"), (pred[j], "prediction"))):
            ax = axes[i][j]
            lab = np.asarray(lab)
            if lab.shape[:2] != np.asarray(gt[j]).shape[:2]:
                raise InputError(f"frame strip: frame {names[j] if names else j}: prediction "
                                 f"size {lab.shape[:2]} differs from GT {np.asarray(gt[j]).shape[:2]}")
            ax.imshow(_colorize(frames[j], lab, alpha), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(rowname, fontsize=10)
            if i == 0 and names:
                ax.set_title(str(names[j]), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, out)


def is_png(path: str | os.PathLike) -> bool:
    """True when ``path`` starts with the PNG signature."""
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"
