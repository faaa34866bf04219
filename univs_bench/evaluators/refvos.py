"""Referring VOS: Ref-DAVIS17 (DAVIS unsupervised protocol, four anno sets) and Ref-YouTube-VOS.

``refdavis17`` as wjn922/ReferFormer ``eval_davis.py`` scores it (its vendored
``davis2017/evaluation.py``, task 'unsupervised', identical to davis2017-evaluation):

- GT ``Annotations_unsupervised/480p/<seq>/``, sequences of ``ImageSets/2017/val.txt``; the
  objects are 1..K, K the largest id of frame 0 with 255 (void) set to 0.
- All frames are scored (none dropped); void (GT 255) is excluded from J and from F.
- Proposals are the ids 1..P, P the largest predicted id over the sequence (missing ids are
  empty masks); P > 20 aborts the official run (here an InputError). If P < K, empty
  proposals pad to K. Proposals are assigned to GT objects by ``linear_sum_assignment`` on
  -(mean_t J + mean_t F) / 2; the matched pairs' J/F series give the per-object statistics.
- Per anno set: J&F = (mean J_mean + mean F_mean) / 2 over all objects. Reported J&F, J_mean
  and F_mean are plain means over the four anno sets.

``refytvos`` (server-only officially): per expression, J and F over every GT frame of the
video against the referred object (``obj_id`` in ``meta_expressions.json``); the prediction
is foreground where non-zero (0/255 PNGs); J, F, J&F are means over expressions.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .base import EvalResult, map_videos, pct
from .functional import jf
from .vos import list_pngs, object_stats, read_ids, read_pred, read_split

MAX_PROPOSALS = 20
N_ANNO_SETS = 4


def _unsup_video(item: tuple[str, str, str]) -> dict:
    """One sequence, DAVIS unsupervised protocol with Hungarian assignment: {obj: stats}."""
    from scipy.optimize import linear_sum_assignment

    name, gt_dir, pred_dir = item
    frames = list_pngs(gt_dir)
    if not frames:
        raise InputError(f"{gt_dir}: no GT frames for video {name!r}")
    if not os.path.isdir(pred_dir):
        raise InputError(f"{pred_dir}: prediction folder of video {name!r} missing")
    first = read_ids(os.path.join(gt_dir, frames[0]))
    shape = first.shape
    n_obj = int(np.where(first == 255, 0, first).max(initial=0))
    gt_ids = list(range(1, n_obj + 1))
    radius = jf.boundary_radius(*shape)
    cap = max(MAX_PROPOSALS, n_obj)
    # [proposal, object, frame], the layout the official code averages over (tie-breaking in
    # linear_sum_assignment depends on the exact float values).
    jm = np.zeros((cap, n_obj, len(frames)))
    fm = np.zeros((cap, n_obj, len(frames)))
    n_prop = 0
    for t, fr in enumerate(frames):
        gpath = os.path.join(gt_dir, fr)
        g = first if t == 0 else read_ids(gpath)
        if g.shape != shape:
            raise InputError(f"{gpath}: size differs from the first GT frame of {name!r}")
        ppath = os.path.join(pred_dir, fr)
        p = read_pred(ppath, shape)
        top = int(p.max(initial=0))
        if top > MAX_PROPOSALS:
            raise InputError(f"{ppath}: object id {top} > {MAX_PROPOSALS}, the most proposals "
                             f"the DAVIS unsupervised protocol allows (video {name!r})")
        n_prop = max(n_prop, top)
        void = g == 255
        void = void if void.any() else None
        # ids absent from this frame are empty proposals: one more (empty) id stands for all.
        jt, ft = jf.frame_jf_pairs(g, p, gt_ids, list(range(1, top + 2)), radius, void)
        jm[:top, :, t], fm[:top, :, t] = jt[:top], ft[:top]
        jm[top:, :, t], fm[top:, :, t] = jt[top], ft[top]
    n_rows = max(n_prop, n_obj)
    jm, fm = jm[:n_rows], fm[:n_rows]
    if n_obj == 0:
        return {}
    score = (np.mean(jm, axis=2) + np.mean(fm, axis=2)) / 2
    rows, cols = linear_sum_assignment(-score)
    out = {}
    for r, c in zip(rows, cols):
        st = object_stats(jm[r, c], fm[r, c])
        st["proposal"] = int(r + 1)
        out[str(c + 1)] = st
    return {k: out[k] for k in sorted(out, key=int)}


def _set_summary(per_video: dict[str, dict]) -> tuple[float, float, float]:
    objs = [o for v in per_video.values() for o in v.values()]
    if not objs:
        return float("nan"), float("nan"), float("nan")
    jmean = float(np.mean([o["J"][0] for o in objs]))
    fmean = float(np.mean([o["F"][0] for o in objs]))
    return (jmean + fmean) / 2.0, jmean, fmean


def _refdavis(gt: str, pred: str, workers: int, options: dict) -> EvalResult:
    res = options.get("resolution") or "480p"
    ann = Path(gt) / "Annotations_unsupervised" / res
    if not ann.is_dir():
        raise InputError(f"{ann}: Ref-DAVIS annotation folder not found")
    split = options.get("split") or str(Path(gt) / "ImageSets" / "2017" / "val.txt")
    seqs = read_split(split)
    if not seqs:
        raise InputError(f"{split}: no sequences listed")
    metrics: dict[str, float | None] = {}
    per_video: dict[str, dict] = {}
    sums = []
    for a in range(N_ANNO_SETS):
        root = Path(pred) / f"anno_{a}"
        if not root.is_dir():
            raise InputError(f"{root}: prediction folder of expression set anno_{a} missing")
        items = [(s, str(ann / s), str(root / s)) for s in seqs]
        results = map_videos(_unsup_video, items, workers, desc=f"refdavis17 anno_{a}")
        pv = {s: r for s, r in zip(seqs, results)}
        jfm, jm, fm = _set_summary(pv)
        sums.append((jfm, jm, fm))
        metrics[f"J&F_anno{a}"] = pct(jfm)
        per_video[f"anno_{a}"] = {
            s: {k: {"J_mean": pct(o["J"][0]), "F_mean": pct(o["F"][0]), "proposal": o["proposal"]}
                for k, o in objs.items()} for s, objs in pv.items()}
    arr = np.array(sums)
    metrics["J&F"] = pct(arr[:, 0].mean())
    metrics["J_mean"] = pct(arr[:, 1].mean())
    metrics["F_mean"] = pct(arr[:, 2].mean())
    return EvalResult(metrics=metrics, per_video=per_video)


# --------------------------------------------------------------------------- Ref-YouTube-VOS

def _refytvos_video(item: tuple[str, str, str, dict]) -> dict:
    """One video: {exp_id: (J, F)} over all GT frames for every expression."""
    vid, gt_dir, pred_dir, exps = item
    frames = list_pngs(gt_dir)
    if not frames:
        raise InputError(f"{gt_dir}: no GT frames for video {vid!r}")
    shape = None
    radius = 0
    series = {e: ([], []) for e in exps}
    for fr in frames:
        gpath = os.path.join(gt_dir, fr)
        g = read_ids(gpath)
        if shape is None:
            shape, radius = g.shape, jf.boundary_radius(*g.shape)
        elif g.shape != shape:
            raise InputError(f"{gpath}: size differs from the first GT frame of {vid!r}")
        for e, obj in exps.items():
            ppath = os.path.join(pred_dir, e, fr)
            p = read_pred(ppath, shape)
            gm = (g == obj).view(np.uint8)
            pm = (p > 0).view(np.uint8)
            j, f = jf.frame_jf(gm, pm, [1], radius)
            series[e][0].append(j[0])
            series[e][1].append(f[0])
    return {e: (float(np.mean(js)), float(np.mean(fs))) for e, (js, fs) in series.items()}


def _refytvos(gt: str, pred: str, workers: int) -> EvalResult:
    meta_path = Path(gt) / "meta_expressions.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise InputError(f"{meta_path}: not found") from None
    except ValueError as e:
        raise InputError(f"{meta_path}: not valid JSON ({e})") from None
    videos = meta.get("videos") if isinstance(meta, dict) else None
    if not isinstance(videos, dict) or not videos:
        raise InputError(f"{meta_path}: no 'videos'")
    pred_root = Path(pred) / "Annotations" if (Path(pred) / "Annotations").is_dir() else Path(pred)
    items = []
    for vid in sorted(videos):
        exps = {}
        for e, ex in ((videos[vid] or {}).get("expressions") or {}).items():
            try:
                exps[str(e)] = int(ex["obj_id"])
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{meta_path}: expression {e!r} of video {vid!r} has no integer "
                                 f"obj_id (full GT is needed to score locally)") from None
        if exps:
            items.append((vid, str(Path(gt) / "Annotations" / vid), str(pred_root / vid), exps))
    results = map_videos(_refytvos_video, items, workers, desc="refytvos")
    js, fs = [], []
    per_video = {}
    for it, r in zip(items, results):
        per_video[it[0]] = {e: {"J": pct(j), "F": pct(f)} for e, (j, f) in r.items()}
        for j, f in r.values():
            js.append(j)
            fs.append(f)
    if not js:
        raise InputError(f"{meta_path}: no expressions to score")
    j, f = float(np.mean(js)), float(np.mean(fs))
    return EvalResult(metrics={"J&F": pct((j + f) / 2.0), "J": pct(j), "F": pct(f)},
                      per_video=per_video)


def evaluate_files(benchmark: str, gt: str, pred: str, *, workers: int = 1, task: str | None = None,
                   options: dict | None = None) -> EvalResult:
    """Score ``refdavis17`` or ``refytvos`` predictions (layouts in CONTRACT.md)."""
    options = dict(options or {})
    if benchmark == "refdavis17":
        return _refdavis(gt, pred, workers, options)
    if benchmark == "refytvos":
        return _refytvos(gt, pred, workers)
    raise InputError(f"univs_bench.evaluators.refvos does not score {benchmark!r}")
