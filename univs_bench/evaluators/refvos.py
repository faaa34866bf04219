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

import os
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import require_folder
from .base import EvalResult, map_videos, pct
from .functional import jf
from .vos import (
    check_prediction_videos,
    davis_sequences,
    gt_frame_files,
    object_stats,
    read_gt_frames,
    read_ids,
    read_pred,
    read_videos_json,
)

MAX_PROPOSALS = 20
N_ANNO_SETS = 4


def unsup_video_stats(video: str, frames: Iterable[tuple[str, np.ndarray, np.ndarray]],
                      n_frames: int) -> dict:
    """One sequence, DAVIS unsupervised protocol with Hungarian assignment: {obj: object_stats}.

    ``frames``: every GT frame of the sequence in order as (where, GT ids, proposal ids),
    ``where`` naming the prediction in errors; ``n_frames`` of them. Objects 1..K (K: largest id
    of the first GT frame, void 255 set to 0); proposals 1..P; Hungarian assignment on
    -(mean J + mean F) / 2; void excluded. Each object's stats carry its ``proposal``.
    """
    from scipy.optimize import linear_sum_assignment
    jm = fm = None
    n_obj = n_prop = 0
    gt_ids: list[int] = []
    radius = 0
    for t, (where, g, p) in enumerate(frames):
        if t == 0:
            n_obj = int(np.where(g == 255, 0, g).max(initial=0))
            gt_ids = list(range(1, n_obj + 1))
            radius = jf.boundary_radius(*g.shape)
            # [proposal, object, frame], the layout the official code averages over (tie-breaking
            # in linear_sum_assignment depends on the exact float values).
            cap = max(MAX_PROPOSALS, n_obj)
            jm = np.zeros((cap, n_obj, n_frames))
            fm = np.zeros((cap, n_obj, n_frames))
        top = int(p.max(initial=0))
        if top > MAX_PROPOSALS:
            raise InputError(f"{where}: object id {top} > {MAX_PROPOSALS}, the most proposals "
                             f"the DAVIS unsupervised protocol allows (video {video!r})")
        n_prop = max(n_prop, top)
        void = g == 255
        void = void if void.any() else None
        # ids absent from this frame are empty proposals: one more (empty) id stands for all.
        jt, ft = jf.frame_jf_pairs(g, p, gt_ids, list(range(1, top + 2)), radius, void)
        jm[:top, :, t], fm[:top, :, t] = jt[:top], ft[:top]
        jm[top:, :, t], fm[top:, :, t] = jt[top], ft[top]
        del g, p, void  # one frame alive at a time (see vos.semi_video_stats)
    if jm is None or n_obj == 0:
        return {}
    n_rows = max(n_prop, n_obj)
    jm, fm = jm[:n_rows], fm[:n_rows]
    score = (np.mean(jm, axis=2) + np.mean(fm, axis=2)) / 2
    rows, cols = linear_sum_assignment(-score)
    out = {}
    for r, c in zip(rows, cols):
        st = object_stats(jm[r, c], fm[r, c])
        st["proposal"] = int(r + 1)
        out[str(c + 1)] = st
    return {k: out[k] for k in sorted(out, key=int)}


def _unsup_video(item: tuple[str, str, str]) -> dict:
    """One sequence from its GT and prediction folders (``unsup_video_stats``)."""
    name, gt_dir, pred_dir = item
    frames = gt_frame_files(name, gt_dir)
    require_folder(pred_dir, f"prediction folder of video {name!r}")
    first = read_ids(os.path.join(gt_dir, frames[0]), None, "GT frame")
    shape = first.shape

    def read():
        for fr, _, g in chain([(frames[0], None, first)], read_gt_frames(name, gt_dir, frames[1:], shape)):
            ppath = os.path.join(pred_dir, fr)
            yield ppath, g, read_pred(ppath, shape)

    return unsup_video_stats(name, read(), len(frames))


def set_summary(per_video: dict[str, dict]) -> tuple[float, float, float]:
    """(J&F, J_mean, F_mean) of one anno set: means over all objects of its videos."""
    objs = [o for v in per_video.values() for o in v.values()]
    if not objs:
        return float("nan"), float("nan"), float("nan")
    jmean = float(np.mean([o["J"][0] for o in objs]))
    fmean = float(np.mean([o["F"][0] for o in objs]))
    return (jmean + fmean) / 2.0, jmean, fmean


def refdavis_metrics(per_set: Sequence[dict[str, dict]]) -> dict[str, float | None]:
    """J&F_anno0..3 and their means J&F, J_mean, F_mean (percent) from each anno set's
    {video: unsup_video_stats}."""
    metrics: dict[str, float | None] = {}
    sums = []
    for a, pv in enumerate(per_set):
        jfm, jm, fm = set_summary(pv)
        sums.append((jfm, jm, fm))
        metrics[f"J&F_anno{a}"] = pct(jfm)
    arr = np.array(sums)
    metrics["J&F"] = pct(arr[:, 0].mean())
    metrics["J_mean"] = pct(arr[:, 1].mean())
    metrics["F_mean"] = pct(arr[:, 2].mean())
    return metrics


def _refdavis(gt: str, pred: str, workers: int, options: dict) -> EvalResult:
    ann, seqs = davis_sequences(gt, options, "Annotations_unsupervised", "Ref-DAVIS")
    per_set = []
    per_video: dict[str, dict] = {}
    for a in range(N_ANNO_SETS):
        root = Path(pred) / f"anno_{a}"
        require_folder(root, f"prediction folder of expression set anno_{a}")
        check_prediction_videos(root, seqs)
        items = [(s, str(ann / s), str(root / s)) for s in seqs]
        results = map_videos(_unsup_video, items, workers, desc=f"refdavis17 anno_{a}")
        pv = {s: r for s, r in zip(seqs, results)}
        per_set.append(pv)
        per_video[f"anno_{a}"] = {
            s: {k: {"J_mean": pct(o["J"][0]), "F_mean": pct(o["F"][0]), "proposal": o["proposal"]}
                for k, o in objs.items()} for s, objs in pv.items()}
    return EvalResult(metrics=refdavis_metrics(per_set), per_video=per_video)


# --------------------------------------------------------------------------- Ref-YouTube-VOS

def refytvos_video_stats(exps: dict[str, int],
                         frames: Iterable[tuple[np.ndarray, Callable[[str], np.ndarray]]]
                         ) -> dict[str, tuple[float, float]]:
    """One video: {exp_id: (mean J, mean F)} over all its GT frames for every expression.

    ``exps`` maps expression id -> referred object id; ``frames`` are the GT frames in order as
    (GT ids, pred_of) where ``pred_of(exp_id)`` gives that expression's predicted foreground
    (a boolean HxW mask; the official reader takes non-zero PNG pixels).
    """
    radius = None
    series = {e: ([], []) for e in exps}
    for g, pred_of in frames:
        if radius is None:
            radius = jf.boundary_radius(*g.shape)
        for e, obj in exps.items():
            gm = (g == obj).view(np.uint8)
            pm = pred_of(e).view(np.uint8)
            j, f = jf.frame_jf(gm, pm, [1], radius)
            series[e][0].append(j[0])
            series[e][1].append(f[0])
        del g  # one frame alive at a time (see vos.semi_video_stats)
    return {e: (float(np.mean(js)), float(np.mean(fs))) for e, (js, fs) in series.items()}


def _refytvos_video(item: tuple[str, str, str, dict]) -> dict:
    """One video from its GT and per-expression prediction folders (``refytvos_video_stats``)."""
    vid, gt_dir, pred_dir, exps = item
    frames = gt_frame_files(vid, gt_dir)

    def read():
        for fr, _, g in read_gt_frames(vid, gt_dir, frames):
            yield g, lambda e, fr=fr, shape=g.shape: read_pred(os.path.join(pred_dir, e, fr), shape) > 0

    return refytvos_video_stats(exps, read())


def refytvos_metrics(videos: Sequence[dict[str, tuple[float, float]]], where: str) -> dict[str, float | None]:
    """J&F, J, F (percent): means over all expressions of ``refytvos_video_stats`` results in
    video order; no expression at all is an InputError naming ``where``."""
    js = [j for r in videos for j, _ in r.values()]
    fs = [f for r in videos for _, f in r.values()]
    if not js:
        raise InputError(f"{where}: no expressions to score")
    j, f = float(np.mean(js)), float(np.mean(fs))
    return {"J&F": pct((j + f) / 2.0), "J": pct(j), "F": pct(f)}


def _refytvos(gt: str, pred: str, workers: int) -> EvalResult:
    meta_path = Path(gt) / "meta_expressions.json"
    videos = read_videos_json(meta_path)
    pred_root = Path(pred) / "Annotations" if (Path(pred) / "Annotations").is_dir() else Path(pred)
    items = []
    for vid in sorted(videos):
        exps = {}
        for e, ex in ((videos[vid] or {}).get("expressions") or {}).items():
            try:
                exps[str(e)] = int(ex["obj_id"])
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{meta_path}: expression {e!r} of video {vid!r} has no integer "
                                 f"obj_id: this is the released GT-less refytvos valid split "
                                 f"(scored by the server only); score locally on a dev split made "
                                 f"with `univs-bench split refytvos`") from None
        if exps:
            items.append((vid, str(Path(gt) / "Annotations" / vid), str(pred_root / vid), exps))
    check_prediction_videos(pred_root, [it[0] for it in items])
    results = map_videos(_refytvos_video, items, workers, desc="refytvos")
    per_video = {it[0]: {e: {"J": pct(j), "F": pct(f)} for e, (j, f) in r.items()}
                 for it, r in zip(items, results)}
    return EvalResult(metrics=refytvos_metrics(results, str(meta_path)), per_video=per_video)


def evaluate_files(benchmark: str, gt: str, pred: str, *, workers: int = 1, task: str | None = None,
                   options: dict | None = None) -> EvalResult:
    """Score ``refdavis17`` or ``refytvos`` predictions (layouts in CONTRACT.md)."""
    options = dict(options or {})
    if benchmark == "refdavis17":
        return _refdavis(gt, pred, workers, options)
    if benchmark == "refytvos":
        return _refytvos(gt, pred, workers)
    raise InputError(f"univs_bench.evaluators.refvos does not score {benchmark!r}")
