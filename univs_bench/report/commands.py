"""Entry points for ``univs-bench report`` and ``univs-bench visualize`` (wired in cli.py).

    univs-bench report --table 2|1|3|ablation [--results WORK_DIR] --format md|latex|html|csv
                       [--out FILE] [--ci]
    univs-bench visualize --out PNG (--gt DIR --pred DIR --video ID [--frames DIR]
                          | --plot bars|radar --table 2 [--results WORK_DIR])

``--format html`` writes the self-contained report: the table plus the per-benchmark bar
chart and the task radar chart, embedded.
"""
from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from .leaderboard import Leaderboard, load_table, merge_measured


def build_board(table: str | int, results: str | None = None, ci: bool = False,
                seed: int = 0) -> Leaderboard:
    """The table to print: a published one with measured rows added, or an ablation."""
    if str(table) == "ablation":
        if not results:
            raise InputError("--table ablation needs --results WORK_DIR "
                             "(WORK_DIR/<variant>/<benchmark>/metrics.json)")
        from .ablation import ablation_table
        return ablation_table(results, ci=ci, test=ci, seed=seed)
    return merge_measured(load_table(table), results, ci=ci, seed=seed)


def plot_rows(board: Leaderboard):
    """Rows worth a bar chart: measured rows and the paper's UniVS rows (all rows if none)."""
    rows = [r for r in board.rows if r.measured or r.meta.get("Method") == "UniVS"]
    return rows or list(board.rows)


def report_command(table: str | int = 2, results: str | None = None, fmt: str = "md",
                   out: str | None = None, ci: bool = False) -> int:
    """Render a leaderboard in ``fmt``; write it to ``out`` or print it. Returns 0."""
    from .tables import render
    board = build_board(table, results, ci=ci)
    if fmt == "html":
        text = html_report(board, title=f"univs-bench report: Table {board.table}")
    else:
        text = render(board, fmt)
    if out:
        from ..io.atomic import atomic_write_text
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def html_report(board: Leaderboard, title: str, extra_images: Sequence[tuple[str, str]] = (),
                plots: bool = True) -> str:
    """The self-contained HTML page of ``board`` with its bar and radar plots embedded."""
    from .html import build_report
    from .plots import plot_benchmark_bars, plot_radar, row_label, task_scores
    from .tables import to_html
    images: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if plots and board.rows and board.columns:
            rows = plot_rows(board)
            bars = plot_benchmark_bars(board, os.path.join(tmp, "bars.png"), rows=rows)
            images.append(("Per-benchmark results, models side by side", bars))
            scores = {row_label(r) + (" [measured]" if r.measured else ""): task_scores(board, r)
                      for r in rows if not r.grey}
            tasks = [t for t in ("vis", "vss", "vps", "vos", "refvos", "pvos")
                     if any(c.task == t for c in board.columns)]
            if len(tasks) >= 3 and scores:
                radar = plot_radar(scores, os.path.join(tmp, "radar.png"), tasks=tasks)
                images.append(("Headline score per task (mean over the task's benchmarks)",
                               radar))
        images += list(extra_images)
        return build_report(title, [("Leaderboard", to_html(board))],
                            images)


# --------------------------------------------------------------------------- visualize
_GT_SUBDIRS = ("{v}", "Annotations/480p/{v}", "Annotations_gt/{v}", "Annotations/{v}",
               "panomasksRGB/{v}", "panomasks/{v}", "data/{v}/mask")
_PRED_SUBDIRS = ("{v}", "pan_pred/{v}", "Annotations/{v}")
_FRAME_SUBDIRS = ("{v}", "JPEGImages/480p/{v}", "JPEGImages/{v}", "data/{v}/origin",
                  "imgs/{v}", "images/{v}")


def _find_dir(root: str, video: str, patterns: Sequence[str], what: str,
              exts: Sequence[str] = (".png",)) -> Path:
    for p in patterns:
        d = Path(root) / p.format(v=video)
        if d.is_dir() and any(f.suffix.lower() in exts for f in d.iterdir()):
            return d
    raise InputError(f"{what} {root}: no folder of {'/'.join(exts)} frames for video {video!r} "
                     f"(looked in {', '.join(p.format(v=video) for p in patterns)})")


def _read_frame(path: Path, shape: tuple[int, int]) -> np.ndarray:
    from PIL import Image
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (shape[1], shape[0]):
                im = im.resize((shape[1], shape[0]))
            return np.array(im)
    except OSError as e:
        raise InputError(f"{path}: cannot read image ({e})") from None


def frame_strip(gt: str, pred: str, video: str, out: str, frames: str | None = None,
                max_frames: int = 6) -> str:
    """Write the GT-vs-prediction strip of ``video`` (up to ``max_frames`` evenly spaced)."""
    from ..io.png import read_label_png
    from .plots import plot_frame_strip
    gdir = _find_dir(gt, video, _GT_SUBDIRS, "--gt")
    pdir = _find_dir(pred, video, _PRED_SUBDIRS, "--pred")
    stems = sorted(f.stem for f in gdir.iterdir() if f.suffix.lower() == ".png")
    pick = sorted(set(np.linspace(0, len(stems) - 1, min(max_frames, len(stems))).round()
                      .astype(int).tolist()))
    stems = [stems[i] for i in pick]
    fdir = None
    if frames or gt:
        try:
            fdir = _find_dir(frames or gt, video, _FRAME_SUBDIRS, "--frames",
                             exts=(".jpg", ".jpeg", ".png"))
            if fdir == gdir:
                fdir = None
        except InputError:
            if frames:
                raise
    g, p, fr = [], [], []
    for s in stems:
        lab = read_label_png(gdir / f"{s}.png", allow_rgb=True)
        pf = pdir / f"{s}.png"
        if not pf.is_file():
            raise InputError(f"{pf}: no prediction for GT frame {s} of video {video!r}")
        g.append(lab)
        p.append(read_label_png(pf, allow_rgb=True))
        img = None
        if fdir is not None:
            cand = [fdir / f"{s}{ext}" for ext in (".jpg", ".jpeg", ".png")]
            img = next((_read_frame(c, lab.shape[:2]) for c in cand if c.is_file()), None)
        fr.append(img)
    return plot_frame_strip(g, p, out, frames=fr, names=stems, title=f"{video}: GT (top) vs prediction")


def visualize_command(out: str, *, gt: str | None = None, pred: str | None = None,
                      video: str | None = None, frames: str | None = None, max_frames: int = 6,
                      plot: str = "strip", table: str | int = 2,
                      results: str | None = None) -> int:
    """Write a PNG: ``plot='strip'`` (needs gt, pred, video), ``'bars'`` or ``'radar'``."""
    if plot == "strip":
        if not (gt and pred and video):
            raise InputError("visualize --plot strip needs --gt, --pred and --video")
        path = frame_strip(gt, pred, video, out, frames=frames, max_frames=max_frames)
    elif plot in ("bars", "radar"):
        from .plots import plot_benchmark_bars, plot_radar, row_label, task_scores
        board = build_board(table, results)
        rows = plot_rows(board)
        if plot == "bars":
            path = plot_benchmark_bars(board, out, rows=rows)
        else:
            path = plot_radar({row_label(r) + (" [measured]" if r.measured else ""):
                               task_scores(board, r) for r in rows if not r.grey}, out)
    else:
        raise InputError(f"--plot {plot!r}: choose strip, bars or radar")
    print(f"wrote {path}", file=sys.stderr)
    return 0
