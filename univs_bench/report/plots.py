"""PNG plots for reports (matplotlib, Agg backend): benchmark bars, task radar, frame strips.

Markers ('-', '*', 'n/a', 'n/r', empty) are not numbers: bars are left out (the marker is
printed at the base), and in the radar chart a task with no number is a gap in the model's
outline (its other scores are drawn as points) and is named in the legend.

A model keeps its colour in every figure of a report (:func:`row_colors`, by row label), and
every legend names the row (method and backbone, or the ablation variant). The radar averages,
per task, the same benchmarks for every model: the published table's columns (not extra
measured-only ones), and a task counts for a model only when it has all of them.
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
    """Method (backbone), or the ablation variant's name; '[measured]' for measured rows."""
    name = r.meta.get("Method") or r.meta.get("Variant") or next(
        (str(v) for v in r.meta.values() if v not in (None, "")), "?")
    bb = r.meta.get("Backbone")
    label = f"{name} ({bb})" if bb else str(name)
    return label + (" [measured]" if r.measured and r.meta.get("Method") else "")


def row_colors(rows: Sequence[Row]) -> dict[str, Any]:
    """One colour per row label, in row order (the same for every figure of a report)."""
    plt = _plt()
    labels = list(dict.fromkeys(row_label(r) for r in rows))
    cmap = plt.get_cmap("tab20" if len(labels) > 10 else "tab10")
    return {lab: cmap(i % cmap.N) for i, lab in enumerate(labels)}


def plot_benchmark_bars(board: Leaderboard, out: str | os.PathLike,
                        rows: Sequence[Row] | None = None, ncols: int = 4,
                        colors: dict[str, Any] | None = None) -> str:
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
    cmap_of = colors or row_colors(rows)
    colors = [cmap_of[row_label(r)] for r in rows]
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
        ax.set_title(f"{TASK_LABELS.get(c.task, c.task)} · {c.benchmark_label} "
                     f"{_mpl_metric(c.metric_label)}", fontsize=9)
        ax.set_ylabel(f"{_mpl_metric(c.metric_label)} (%)", fontsize=8)
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    for k in range(len(cols), nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[i]) for i in range(len(rows))]
    fig.legend(handles, [row_label(r) for r in rows],
               loc="lower center", ncol=min(4, len(rows)), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02 - 0.035 * math.ceil(len(rows) / 4)))
    name = f"Table {board.table}{board.part}" if str(board.table).isdigit() else str(board.title)
    fig.suptitle(f"{name}: per-benchmark results (%, higher is better unless 'decay')", fontsize=11)
    fig.tight_layout()
    return _save(fig, out)


def _mpl_metric(label: str) -> str:
    """Paper metric labels for matplotlib mathtext: G^th -> $\\mathcal{G}^{th}$, mVC8 -> mVC$_8$."""
    if label.startswith("G^"):
        # mathtext has no \\& in a superscript: G^{th&sf} is drawn as G^{th,sf}
        return "$\\mathcal{G}^{" + label[2:].replace("&", ",") + "}$"
    if label.startswith("mVC") and label[3:].isdigit():
        return f"mVC$_{{{label[3:]}}}$"
    return label.replace("$", "\\$")


def task_scores(board: Leaderboard, row: Row, keys: Sequence[str] | None = None) -> dict[str, float | None]:
    """Per task: mean over its benchmarks (first column of each: the headline) of ``row``.

    ``keys`` restricts the columns; a task is None unless the row has a number in every one
    of that task's columns, so that every model's score averages the same benchmarks.
    """
    first: dict[str, str] = {}
    for c in board.columns:
        if keys is None or c.key in keys:
            first.setdefault(c.benchmark or c.benchmark_label, c.key)
    per_task: dict[str, list[float | None]] = {}
    for c in board.columns:
        if first.get(c.benchmark or c.benchmark_label) != c.key:
            continue
        v = row.values.get(c.key)
        per_task.setdefault(c.task, []).append(float(v) if _num(v) else None)
    return {t: (float(np.mean(v)) if v and all(x is not None for x in v) else None)
            for t, v in per_task.items()}


def radar_scores(board: Leaderboard, rows: Sequence[Row]
                 ) -> tuple[dict[str, dict[str, float | None]], list[str], str]:
    """(scores by row label, tasks, the benchmarks averaged, in words) for :func:`plot_radar`.

    Published tables: only their own columns (extra measured-only columns are left out);
    ablations: every column.
    """
    from ..benchmarks import BENCHMARKS
    published = [c.key for c in board.columns
                 if any(not r.measured and r.values.get(c.key) not in (None,) for r in board.rows)
                 and not all(r.values.get(c.key) == "*" for r in board.rows if not r.measured)]
    keys = published or [c.key for c in board.columns]
    scores = {row_label(r): task_scores(board, r, keys) for r in rows if not r.grey}
    tasks = [t for t in TASK_ORDER if any(c.task == t and c.key in keys for c in board.columns)]
    seen: list[str] = []
    for c in board.columns:
        if c.key in keys and c.benchmark and c.benchmark not in seen:
            seen.append(c.benchmark)
    used = ", ".join(BENCHMARKS[b].title if b in BENCHMARKS else b for b in seen)
    return scores, tasks, (used or "the table's benchmarks")


def plot_radar(scores: dict[str, dict[str, float | None]], out: str | os.PathLike,
               tasks: Sequence[str] = TASK_ORDER, title: str = "Headline score per task (%)",
               colors: dict[str, Any] | None = None) -> str:
    """Radar chart: one polygon per model over ``tasks`` (a missing task leaves a gap)."""
    plt = _plt()
    if not scores:
        raise InputError("nothing to plot: no models")
    angles = np.linspace(0, 2 * np.pi, len(tasks), endpoint=False)
    fig = plt.figure(figsize=(6.8, 6.6))
    ax = fig.add_subplot(111, polar=True)
    cmap = plt.get_cmap("tab10")
    colors = colors or {}
    for i, (name, s) in enumerate(scores.items()):
        vals = [s.get(t) for t in tasks]
        missing = [TASK_LABELS.get(t, t) for t, v in zip(tasks, vals) if v is None]
        # a missing task is a gap, not a 0: lines to the centre would hide other models
        v = np.array([np.nan if x is None else x for x in vals + vals[:1]], dtype=float)
        a = np.concatenate([angles, angles[:1]])
        label = name + (f" (no {', '.join(missing)})" if missing else "")
        col = colors.get(name, cmap(i % 10))
        ax.plot(a, v, color=col, linewidth=1.6, marker="o", markersize=4, label=label)
        if not missing:
            ax.fill(a, v, color=col, alpha=0.08)
    ax.set_xticks(angles)
    ax.set_xticklabels([TASK_LABELS.get(t, t) for t in tasks], fontsize=10)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80])
    ax.set_yticklabels(["20%", "40%", "60%", "80%"])
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title("\n".join(_wrap(title, 70)), fontsize=10, pad=16)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), fontsize=8, ncol=2, frameon=False)
    fig.tight_layout()
    return _save(fig, out)


def _wrap(text: str, width: int) -> list[str]:
    import textwrap
    return textwrap.wrap(text, width) or [text]


def _ids(labels: np.ndarray) -> np.ndarray:
    if labels.ndim == 3:  # RGB panoptic ids
        from ..io.panoptic import rgb2id
        labels = rgb2id(labels)
    return np.asarray(labels).astype(np.int64)


def _label_color(ids: np.ndarray, semantic: bool) -> np.ndarray:
    """The colour of each id: DAVIS palette entry ``id`` (``id + 1`` for semantic classes,
    where 0 is a class); the same id gets the same colour in GT and prediction."""
    from ..io.png import davis_palette
    pal = davis_palette()
    idx = np.where(ids == 255, 255, ((ids + 1) if semantic else ids) % 255)
    idx = np.where((idx == 0) & (ids != 0), 254, idx)  # folded ids never look like background
    return pal[idx].astype(float)


def _colorize(frame: np.ndarray | None, labels: np.ndarray, alpha: float,
              semantic: bool = False) -> np.ndarray:
    """Blend label colours over ``frame``: 0 = background (instances) and 255 = void are left
    as the frame (grey without one); ``semantic``: every id but 255 is a class and is coloured."""
    ids = _ids(labels)
    h, w = ids.shape
    base = (np.full((h, w, 3), 96, np.uint8) if frame is None else frame[..., :3]).astype(float)
    col = _label_color(ids, semantic)
    m = ((ids != 255) if semantic else (ids > 0))[..., None]
    out = np.where(m, (1 - alpha) * base + alpha * col, base)
    return out.clip(0, 255).astype(np.uint8)


def plot_frame_strip(gt: Sequence[np.ndarray], pred: Sequence[np.ndarray], out: str | os.PathLike,
                     frames: Sequence[np.ndarray | None] | None = None,
                     names: Sequence[str] | None = None, title: str = "",
                     alpha: float = 0.55, semantic: bool = False, max_legend: int = 24,
                     void_label: str = "void / ignored (255): not coloured") -> str:
    """Two rows of frames: GT masks overlaid (top) and predicted masks overlaid (bottom).

    An id has one colour in both rows; a legend lists the ids present (``semantic``: class
    ids, 0 included; else object ids). GT and prediction must use the same ids (VSPW: shift
    the raw GT first, as :func:`univs_bench.report.commands.frame_strip` does)."""
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
            ax.imshow(_colorize(frames[j], lab, alpha, semantic), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(rowname, fontsize=10)
            if i == 0 and names:
                ax.set_title(str(names[j]), fontsize=8)
    present = sorted(set(np.unique(np.concatenate([_ids(np.asarray(x)).ravel() for x in list(gt) + list(pred)]))
                         .tolist()) - ({255} if semantic else {0, 255}))
    if present:
        shown = present[:max_legend]
        cols = _label_color(np.array(shown), semantic) / 255.0
        what = "class" if semantic else "object"
        if void_label == "":
            what = "category"
        handles = [plt.Rectangle((0, 0), 1, 1, color=tuple(c)) for c in cols]
        labels = [f"{what} {i}" for i in shown]
        if len(present) > len(shown):
            handles.append(plt.Rectangle((0, 0), 1, 1, color="white"))
            labels.append(f"... {len(present) - len(shown)} more")
        if void_label and any((_ids(np.asarray(x)) == 255).any() for x in gt):
            handles.append(plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="0.5"))
            labels.append(void_label)
        fig.legend(handles, labels, loc="lower center", ncol=min(8, len(labels)), fontsize=8,
                   frameon=False, bbox_to_anchor=(0.5, -0.02 - 0.05 * math.ceil(len(labels) / 8)))
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, out)


def is_png(path: str | os.PathLike) -> bool:
    """True when ``path`` starts with the PNG signature."""
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"
