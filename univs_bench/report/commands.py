"""Entry points for ``univs-bench report`` and ``univs-bench visualize`` (wired in cli.py).

    univs-bench report --table 2|1|1a|1b|3|3a|3b|ablation [--results WORK_DIR]
                       --format md|latex|html|csv|json [--out FILE] [--ci]
                       [--latex-width column|text]
    univs-bench visualize --out PNG (--gt DIR --pred DIR --video ID [--frames DIR]
                          | --plot bars|radar --table 2 [--results WORK_DIR])

``--results`` defaults to ``work_dirs`` (the default ``--work-dir`` of ``run``) when that folder
exists. ``--format html`` writes the self-contained report: the tables plus the per-benchmark
bar chart and the task radar chart, embedded; it is never dumped to a terminal.
"""
from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import read_json_source
from .leaderboard import DEFAULT_WORK_DIR, Leaderboard, load_results, load_tables, merge_measured


def resolve_results(results: str | None) -> str | None:
    """``--results``, or run's default work dir when it exists (None: paper rows only)."""
    if results:
        return results
    return DEFAULT_WORK_DIR if Path(DEFAULT_WORK_DIR).is_dir() else None


def build_boards(table: str | int, results: str | None = None, ci: bool = False,
                 seed: int = 0) -> list[Leaderboard]:
    """The tables to print: a published table's parts with measured rows added, or an ablation."""
    if str(table) == "ablation":
        results = resolve_results(results)
        if not results:
            raise InputError(f"--table ablation needs --results WORK_DIR "
                             f"(WORK_DIR/<variant>/<benchmark>/metrics.json); no ./{DEFAULT_WORK_DIR}")
        from .ablation import ablation_table
        return [ablation_table(results, ci=ci, test=ci, seed=seed)]
    if str(table) == "metrics":
        return [metrics_board(load_results(resolve_results(results)), ci=ci, seed=seed)]
    boards = load_tables(table)
    results = resolve_results(results)
    if not results:
        return boards
    if str(table).startswith("3"):  # Table 3's rows are the paper's variants
        for b in boards:
            b.notes.append(f"Measured variants are not merged into Table 3; see `univs-bench report "
                           f"--table ablation --results {results}`.")
        return boards
    measured = load_results(results)
    return [merge_measured(b, None, ci=ci, seed=seed, results=measured,
                           add_extra_columns=len(boards) == 1) for b in boards]


def metrics_board(results: dict[str, dict[str, dict]], ci: bool = False, seed: int = 0) -> Leaderboard:
    """Every metric of every measured model on every benchmark (``--table metrics``): the flat
    export, one column per ``<benchmark>/<metric>``."""
    from ..benchmarks import BENCHMARKS
    from .leaderboard import Column, measured_rows
    benches = sorted({b for d in results.values() for b in d},
                     key=lambda b: list(BENCHMARKS).index(b) if b in BENCHMARKS else 99)
    cols = []
    for b in benches:
        names = list(dict.fromkeys(m for d in results.values() if b in d
                                   for m in (d[b].get("metrics") or {})))
        bm = BENCHMARKS.get(b)
        cols += [Column(f"{b}/{m}", bm.task if bm else "other", bm.title if bm else b, m, b, m)
                 for m in names]
    rows = measured_rows(results, cols, ci=ci, seed=seed, group="")
    return Leaderboard(table="metrics", title="All metrics of the measured models", columns=cols,
                       rows=rows, meta_columns=["Method"], decimals=2)


def build_board(table: str | int, results: str | None = None, ci: bool = False,
                seed: int = 0) -> Leaderboard:
    """The first board of :func:`build_boards` (Table 2 and ablations have one)."""
    return build_boards(table, results, ci=ci, seed=seed)[0]


def plot_rows(board: Leaderboard):
    """Rows worth a chart: measured rows and the paper's UniVS rows (all rows if none)."""
    rows = [r for r in board.rows if r.measured or r.meta.get("Method") == "UniVS"]
    return rows or list(board.rows)


def report_command(table: str | int = 2, results: str | None = None, fmt: str = "md",
                   out: str | None = None, ci: bool = False, latex_width: str = "text") -> int:
    """Render a leaderboard in ``fmt``; write it to ``out`` or print it. Returns 0."""
    from .tables import FORMATS, render_all
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose from {', '.join(FORMATS)}")
    if out == "-":  # the usual Unix spelling of stdout, never a file named '-'
        out = None
    if fmt == "html" and not out and sys.stdout.isatty():
        raise InputError("--format html writes a self-contained page with embedded images; "
                         "give --out FILE.html (or redirect stdout)")
    boards = build_boards(table, results, ci=ci)
    if fmt == "html":
        b0 = boards[0]
        name = f"Table {b0.table}" if str(b0.table).isdigit() else str(b0.title)
        res = resolve_results(results)
        details = detail_tables_html(load_results(res)) if res else []
        text = html_report(boards, title=f"univs-bench report: {name}", tables=details)
    else:
        text = render_all(boards, fmt, latex_width=latex_width)
    if out:
        from ..io.atomic import atomic_write_text
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _figures(board: Leaderboard, tmp: str, tag: str = "") -> list[tuple[str, str]]:
    from .plots import plot_benchmark_bars, plot_radar, radar_scores, row_colors
    rows = plot_rows(board)
    colors = row_colors(rows)
    images = [(f"Per-benchmark results (%), models side by side{tag}",
               plot_benchmark_bars(board, os.path.join(tmp, f"bars{tag}.png"), rows=rows,
                                   colors=colors))]
    scores, tasks, used = radar_scores(board, rows)
    if len(tasks) >= 3 and scores:
        images.append((f"Headline score per task (%): mean over {used}{tag}",
                       plot_radar(scores, os.path.join(tmp, f"radar{tag}.png"), tasks=tasks,
                                  colors={k: colors[k] for k in scores})))
    return images


def detail_tables_html(results: dict[str, dict[str, dict]]) -> list[tuple[str, str]]:
    """Per measured benchmark: every metric of every model (HTML tables), with data source."""
    import html as _html

    from ..benchmarks import BENCHMARKS
    from .leaderboard import data_source
    e = _html.escape
    benches = [b for b in BENCHMARKS if any(b in d for d in results.values())]
    out = []
    for b in benches:
        docs = {m: d[b] for m, d in results.items() if b in d and not d[b].get("server_only")}
        if not docs:
            continue
        names = list(dict.fromkeys(k for d in docs.values() for k in d.get("metrics", {})))
        h = ['<div class="table-scroll"><table class="leaderboard detail"><thead><tr><th>Model</th>']
        h += [f"<th>{e(n)}</th>" for n in names] + ["<th>videos</th><th>data</th></tr></thead><tbody>"]
        for m, d in docs.items():
            src = data_source(d)
            vals = [d["metrics"].get(n) for n in names]
            h.append(f"<tr><td>{e(m)}</td>" + "".join(
                f"<td>{'-' if v is None else f'{v:.2f}'}</td>" for v in vals)
                + f"<td>{len(d.get('per_video') or {})}</td><td>{e(src['label'])}</td></tr>")
        h.append("</tbody></table></div>")
        out.append((f"{BENCHMARKS[b].title} ({b}): all metrics", "\n".join(h)))
    return out


def html_report(boards: Leaderboard | Sequence[Leaderboard], title: str,
                extra_images: Sequence[tuple[str, str]] = (), plots: bool = True,
                tables: Sequence[tuple[str, str]] = ()) -> str:
    """The self-contained HTML page of ``boards`` with their bar and radar plots embedded."""
    from .html import build_report, provenance_line
    from .tables import caption, to_html
    if isinstance(boards, Leaderboard):
        boards = [boards]
    images: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for b in boards:
            if plots and b.rows and b.columns:
                images += _figures(b, tmp, tag=f" ({caption(b).split('.')[0]})" if len(boards) > 1 else "")
        images += list(extra_images)
        return build_report(title, [(caption(b) if len(boards) > 1 else "Leaderboard", to_html(b))
                                    for b in boards], images,
                            notes=[provenance_line(boards)], appendix=list(tables))


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
    have = videos_under(root, patterns)
    hint = (f"; videos there: {', '.join(have[:8])}{' ...' if len(have) > 8 else ''}" if have else "")
    raise InputError(f"{what} {root}: no folder of {'/'.join(exts)} frames for video {video!r} "
                     f"(looked in {', '.join(p.format(v=video) for p in patterns)}){hint}")


def videos_under(root: str, patterns: Sequence[str] = _GT_SUBDIRS) -> list[str]:
    """Video folder names under ``root`` for the first layout pattern that has any."""
    for p in patterns:
        head, _, tail = p.partition("{v}")
        base = Path(root) / head
        if not base.is_dir():
            continue
        names = sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith(".")
                       and (d / tail.lstrip("/")).is_dir()
                       and any(f.suffix.lower() == ".png" for f in (d / tail.lstrip("/")).iterdir()))
        if names:
            return names
    return []


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
                max_frames: int = 6, benchmark: str | None = None) -> str:
    """Write the GT-vs-prediction strip of ``video`` (up to ``max_frames`` evenly spaced).

    VSPW (``benchmark='vspw'``, or GT found in VSPW's ``data/<video>/mask`` layout): the raw GT
    (1..124 classes, 0 others) is shifted to the predictions' 0..123 classes, as the evaluator
    does, so one class has one colour in both rows.
    """
    from ..io.png import read_label_png
    from .plots import plot_frame_strip
    gdir = _find_dir(gt, video, _GT_SUBDIRS, "--gt")
    vspw = benchmark == "vspw" or (benchmark is None and gdir.parts[-3:-2] == ("data",)
                                   and gdir.name == "mask")
    semantic = vspw or benchmark in ("vspw",)
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
        if vspw:
            from ..evaluators.functional.vss import shift_vspw_labels
            lab = shift_vspw_labels(lab)
        g.append(lab)
        p.append(read_label_png(pf, allow_rgb=True))
        img = None
        if fdir is not None:
            cand = [fdir / f"{s}{ext}" for ext in (".jpg", ".jpeg", ".png")]
            img = next((_read_frame(c, lab.shape[:2]) for c in cand if c.is_file()), None)
        fr.append(img)
    note = " (VSPW GT shifted to the 0-based classes)" if vspw else ""
    return plot_frame_strip(g, p, out, frames=fr, names=stems, semantic=semantic,
                            title=f"{video}: GT (top) vs prediction{note}")


def vis_strip(gt: str, pred: str, video: str | None, out: str, frames: str | None = None,
              max_frames: int = 6) -> str:
    """Frame strip of a YouTube-VIS/OVIS video: GT tracks and the top-scoring predicted tracks
    (as many as the GT has, score >= 0.05), each coloured by its **category**, so a correct
    prediction has the GT's colours."""
    from pycocotools import mask as mask_utils

    from .plots import plot_frame_strip
    doc = read_json_source(gt)
    if not isinstance(doc, dict) or "videos" not in doc:
        raise InputError(f"--gt {gt}: not a YouTube-VIS/OVIS annotation json")
    vids = doc["videos"]
    name = lambda v: v["file_names"][0].split("/")[0] if v.get("file_names") else str(v["id"])  # noqa: E731
    if video is None:
        v = vids[0]
    else:
        v = next((x for x in vids if str(x["id"]) == str(video) or name(x) == str(video)), None)
        if v is None:
            have = ", ".join(f"{x['id']} ({name(x)})" for x in vids[:8])
            raise InputError(f"--gt {gt}: no video {video!r}; videos there: {have}")
    h, w, n = v["height"], v["width"], len(v["file_names"])
    gts = [a for a in doc.get("annotations", []) if a["video_id"] == v["id"]]
    if not gts:
        raise InputError(f"--gt {gt}: video {v['id']} has no GT annotations (a released GT-less file?)")
    res = read_json_source(pred)
    if not isinstance(res, list):
        raise InputError(f"--pred {pred}: results must be a json list of predictions")
    preds = sorted((p for p in res if isinstance(p, dict) and p.get("video_id") == v["id"]
                    and p.get("score", 0) >= 0.05), key=lambda p: -p.get("score", 0))[:len(gts)]

    def paint(tracks, t):
        lab = np.full((h, w), 255, np.int64)  # 255: nothing (drawn as the frame)
        for tr in tracks:
            seg = tr["segmentations"][t]
            if not seg:
                continue
            if isinstance(seg, list):
                rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
            elif isinstance(seg.get("counts"), list):
                rle = mask_utils.frPyObjects(seg, h, w)
            else:
                rle = seg
            lab[mask_utils.decode(rle).astype(bool)] = int(tr["category_id"])
        return lab
    pick = sorted(set(np.linspace(0, n - 1, min(max_frames, n)).round().astype(int).tolist()))
    root = Path(frames) if frames else Path(gt).parent.parent / "valid" / "JPEGImages"
    g, p, fr = [], [], []
    for t in pick:
        g.append(paint(gts, t))
        p.append(paint(preds, t))
        f = root / v["file_names"][t]
        fr.append(_read_frame(f, (h, w)) if f.is_file() else None)
    names = [Path(v["file_names"][t]).stem for t in pick]
    return plot_frame_strip(g, p, out, frames=fr, names=names, semantic=True, void_label="",
                            title=f"video {v['id']} ({name(v)}): GT (top) vs top-{len(gts)} "
                                  "predicted tracks, coloured by category")


def visualize_command(out: str, *, gt: str | None = None, pred: str | None = None,
                      video: str | None = None, frames: str | None = None, max_frames: int = 6,
                      plot: str = "strip", table: str | int = 2,
                      results: str | None = None, benchmark: str | None = None) -> int:
    """Write a PNG: ``plot='strip'`` (needs gt, pred, video), ``'bars'`` or ``'radar'``."""
    if plot == "strip" and gt and pred and (Path(gt).suffix == ".json" or benchmark in ("ytvis19", "ytvis21", "ovis")):
        path = vis_strip(gt, pred, video, out, frames=frames, max_frames=max_frames)
    elif plot == "strip":
        if not (gt and pred):
            raise InputError("visualize --plot strip needs --gt and --pred (and --video; default: "
                             "the first video in both --gt and --pred)")
        if not video:
            in_pred = set(videos_under(pred, _PRED_SUBDIRS))
            have = [v for v in videos_under(gt) if v in in_pred]
            if not have:
                raise InputError(f"--gt {gt} / --pred {pred}: no video folder in both; give --video")
            video = have[0]
        path = frame_strip(gt, pred, video, out, frames=frames, max_frames=max_frames,
                           benchmark=benchmark)
    elif plot in ("bars", "radar"):
        from .plots import plot_benchmark_bars, plot_radar, radar_scores, row_colors
        board = build_board(table, results)
        rows = plot_rows(board)
        colors = row_colors(rows)
        if plot == "bars":
            path = plot_benchmark_bars(board, out, rows=rows, colors=colors)
        else:
            scores, tasks, used = radar_scores(board, rows)
            if not scores or len(tasks) < 3:
                raise InputError(f"radar: fewer than 3 tasks with comparable numbers ({used})")
            path = plot_radar(scores, out, tasks=tasks, colors={k: colors[k] for k in scores},
                              title=f"Headline score per task (%): mean over {used}")
    else:
        raise InputError(f"--plot {plot!r}: choose strip, bars or radar")
    print(f"wrote {path}", file=sys.stderr)
    return 0
