"""Video instance segmentation AP kernels (YouTube-VIS 2019/2021, OVIS).

Restates youtubevos/cocoapi ``ytvoseval.py`` and qjy981010/cocoapi ``oviseval.py`` (see
../shared/PROTOCOLS.md section 1). Tubes are lists of per-frame pycocotools RLE dicts (``bytes``
counts) or ``None`` for frames where the instance is absent. Facts verified in those files:

- tube IoU sums per-frame intersections and unions (a frame null on one side adds the other
  side's area to the union); crowd GT uses the same IoU (``maskUtils.iou`` is commented out);
- a GT is ignored when ``iscrowd`` is truthy (an ``ignore`` key in the json is overwritten),
  or when its mean area (mean of the truthy json ``areas``) / OVIS occlusion score falls outside
  the range, both ends inclusive; predictions' areas are the mean of their non-zero RLE areas;
- matching stores the matched GT *id*, and ``accumulate`` counts a detection as a TP only when
  that id is truthy: a detection matched to a GT with id 0 counts as a false positive;
- OVIS evaluates area x occlusion combinations but only (area, all) and (all, occlusion) reach
  ``summarize``; those are the only ones computed here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

# np.linspace exactly as the official Params (.75 must compare equal to an entry).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RANGES = {"all": (0.0, 1e10), "small": (0.0, 128.0 ** 2),
               "medium": (128.0 ** 2, 256.0 ** 2), "large": (256.0 ** 2, 1e10)}
OCCLUSION_RANGES = {"all": (0.0, 1.0), "light": (0.0, 0.25), "medium": (0.25, 0.5),
                    "heavy": (0.5, 1.0)}
OCCLUSION_SCORES = {"no_occlusion": 0.0, "slight_occlusion": 0.25, "severe_occlusion": 0.75}

# (area range, occlusion range) pairs that the summaries read; index 0 is (all, all).
YTVIS_RANGES = (("all", "all"), ("small", "all"), ("medium", "all"), ("large", "all"))
OVIS_RANGES = YTVIS_RANGES + (("all", "light"), ("all", "medium"), ("all", "heavy"))

# name -> (AP or AR, IoU threshold or None for the mean over all, range, max detections)
_SUMMARY = (
    ("AP", "ap", None, ("all", "all"), 100), ("AP50", "ap", 0.5, ("all", "all"), 100),
    ("AP75", "ap", 0.75, ("all", "all"), 100), ("AP_s", "ap", None, ("small", "all"), 100),
    ("AP_m", "ap", None, ("medium", "all"), 100), ("AP_l", "ap", None, ("large", "all"), 100),
    ("AP_light", "ap", None, ("all", "light"), 100),
    ("AP_medium", "ap", None, ("all", "medium"), 100),
    ("AP_heavy", "ap", None, ("all", "heavy"), 100),
    ("AR1", "ar", None, ("all", "all"), 1), ("AR10", "ar", None, ("all", "all"), 10),
    ("AR100", "ar", None, ("all", "all"), 100), ("AR_s", "ar", None, ("small", "all"), 100),
    ("AR_m", "ar", None, ("medium", "all"), 100), ("AR_l", "ar", None, ("large", "all"), 100),
    ("AR_light", "ar", None, ("all", "light"), 100),
    ("AR_medium", "ar", None, ("all", "medium"), 100),
    ("AR_heavy", "ar", None, ("all", "heavy"), 100),
)


class CategoryStats(NamedTuple):
    """Matching result of one (video, category), detections in score order (at most 100).

    ``tp`` and ``ignore`` are (R, T, D) booleans over ranges R and IoU thresholds T; a
    detection neither TP nor ignored is a false positive. ``n_gt`` (R,) counts the
    non-ignored GT per range.
    """

    scores: np.ndarray
    tp: np.ndarray
    ignore: np.ndarray
    n_gt: np.ndarray


def frame_areas(tubes: Sequence[Sequence[dict | None]], n_frames: int) -> np.ndarray:
    """(N, n_frames) int64 per-frame mask areas of ``tubes`` (0 where a frame is None)."""
    from pycocotools import mask as mask_utils
    out = np.zeros((len(tubes), n_frames), dtype=np.int64)
    idx = [(i, t) for i, tube in enumerate(tubes) for t, r in enumerate(tube) if r is not None]
    # pycocotools' area() builds np.array((n,), dtype=uint8): numpy 2 overflows above 255.
    for k in range(0, len(idx), 255):
        rows, cols = zip(*idx[k:k + 255])
        out[rows, cols] = mask_utils.area([tubes[i][t] for i, t in idx[k:k + 255]])
    return out


def tube_iou(dt_tubes: Sequence[Sequence[dict | None]], gt_tubes: Sequence[Sequence[dict | None]],
             dt_areas: np.ndarray | None = None, gt_areas: np.ndarray | None = None) -> np.ndarray:
    """(D, G) tube IoU: sum over frames of intersections / sum over frames of unions.

    A frame null on one side adds the other side's area to the union; union 0 gives IoU 0
    (``iou_seq`` of ytvoseval.py). Intersections come from one pycocotools ``iou`` call per
    frame with several pairs, recovered exactly as round(iou * (a + b) / (1 + iou)) (integers
    far below 2**52); a frame with few pairs uses area(merge(d, g)) as ytvoseval.py does.
    """
    from pycocotools import _mask
    from pycocotools import mask as mask_utils
    n_frames = max([len(t) for t in dt_tubes] + [len(t) for t in gt_tubes] + [0])
    D, G = len(dt_tubes), len(gt_tubes)
    if D == 0 or G == 0:
        return np.zeros((D, G))
    if dt_areas is None:
        dt_areas = frame_areas(dt_tubes, n_frames)
    if gt_areas is None:
        gt_areas = frame_areas(gt_tubes, n_frames)
    dpos, gpos = dt_areas > 0, gt_areas > 0  # empty masks intersect nothing
    frames = np.flatnonzero(dpos.any(0) & gpos.any(0)).tolist()
    dl, gl = dpos.T.tolist(), gpos.T.tolist()
    rows, cols, vals = [], [], []
    inter = np.zeros((D, G), dtype=np.int64)
    merge, area = mask_utils.merge, _mask.area
    for t in frames:
        di = [i for i, ok in enumerate(dl[t]) if ok]
        gi = [j for j, ok in enumerate(gl[t]) if ok]
        if len(di) * len(gi) <= 3:  # a few pairs: merge+area beats iou()'s fixed ~30 us
            for i in di:
                for j in gi:
                    inter[i, j] += int(area([merge([dt_tubes[i][t], gt_tubes[j][t]], 1)])[0])
            continue
        vals.append(mask_utils.iou([dt_tubes[i][t] for i in di], [gt_tubes[j][t] for j in gi],
                                   [0] * len(gi)).ravel())
        rows.append(np.repeat(np.array(di) * n_frames + t, len(gi)))
        cols.append(np.tile(np.array(gi) * n_frames + t, len(di)))
    if vals:
        iou, r, c = np.concatenate(vals), np.concatenate(rows), np.concatenate(cols)
        a = dt_areas.ravel()[r] + gt_areas.ravel()[c]
        np.add.at(inter, (r // n_frames, c // n_frames), np.rint(iou * a / (1.0 + iou)).astype(np.int64))
    union = dt_areas.sum(1)[:, None] + gt_areas.sum(1)[None, :] - inter
    out = np.zeros((D, G))
    np.divide(inter, union, out=out, where=union > 0)
    return out


def occlusion_score(labels: Sequence[str | None]) -> float:
    """OVIS occlusion score: labels -> 0/0.25/0.75, mean of the largest ceil(n/2) (nulls dropped).

    Raises KeyError for an unknown label and ZeroDivisionError when every label is null
    (where oviseval.py crashes the same way); callers turn these into input errors.
    """
    s = sorted(OCCLUSION_SCORES[a] for a in labels if a is not None)
    top = s[-math.ceil(len(s) / 2):]
    return sum(top) / len(top)


def greedy_match(ious: np.ndarray, gt_ignore: np.ndarray, gt_crowd: np.ndarray,
                 iou_thrs: np.ndarray = IOU_THRESHOLDS) -> np.ndarray:
    """COCO greedy matching; (T, D) index of the matched GT, or -1.

    Detections (rows) must be in score order. GT are visited non-ignored first (stable); a
    detection takes the last GT with the highest IoU >= min(t, 1 - 1e-10) that is free or
    crowd, and stops at the first ignored GT once it holds a non-ignored one.
    """
    D, G = ious.shape
    T = len(iou_thrs)
    out = np.full((T, D), -1, dtype=np.int64)
    if D == 0 or G == 0:
        return out
    order = np.argsort(gt_ignore, kind="mergesort")
    ig = [bool(x) for x in gt_ignore[order]]
    crowd = [bool(x) for x in gt_crowd[order]]
    lo = min(float(iou_thrs.min()), 1 - 1e-10)
    sub = ious[:, order]
    # GT below the smallest threshold can never be chosen nor change where the loop stops.
    cands = [[(g, v) for g, v in enumerate(row) if v >= lo] for row in sub.tolist()]
    for ti, t in enumerate(iou_thrs):
        thr = min(float(t), 1 - 1e-10)
        taken = [False] * G
        for d in range(D):
            best, m = thr, -1
            for g, v in cands[d]:
                if taken[g] and not crowd[g]:
                    continue
                if m > -1 and not ig[m] and ig[g]:
                    break
                if v < best:
                    continue
                best, m = v, g
            if m > -1:
                taken[m] = True
                out[ti, d] = order[m]
    return out


def _outside(values: np.ndarray, rng: tuple[float, float]) -> np.ndarray:
    return (values < rng[0]) | (values > rng[1])


def match_category(ious: np.ndarray, dt_scores: np.ndarray, dt_area: np.ndarray,
                   gt_ids: Sequence, gt_crowd: np.ndarray, gt_area: np.ndarray,
                   gt_occ: np.ndarray | None, ranges=YTVIS_RANGES,
                   iou_thrs: np.ndarray = IOU_THRESHOLDS) -> CategoryStats:
    """Match one (video, category) for every (area, occlusion) range of ``ranges``.

    Detections (rows of ``ious``, ``dt_scores``, ``dt_area``) must be sorted by score and cut
    to 100. ``gt_occ`` None skips the occlusion test (YouTube-VIS).
    """
    D, G = ious.shape
    T, R = len(iou_thrs), len(ranges)
    crowd = np.asarray(gt_crowd, dtype=bool).reshape(G)
    gt_area = np.asarray(gt_area, dtype=np.float64).reshape(G)
    dt_area = np.asarray(dt_area, dtype=np.float64).reshape(D)
    id_truthy = np.array([bool(i) for i in gt_ids], dtype=bool).reshape(G)
    tp = np.zeros((R, T, D), dtype=bool)
    ignore = np.zeros((R, T, D), dtype=bool)
    n_gt = np.zeros(R, dtype=np.int64)
    cache: dict[bytes, np.ndarray] = {}
    for r, (a_name, o_name) in enumerate(ranges):
        a_rng = AREA_RANGES[a_name]
        g_ig = crowd | _outside(gt_area, a_rng)
        if gt_occ is not None:
            g_ig |= _outside(np.asarray(gt_occ, dtype=np.float64), OCCLUSION_RANGES[o_name])
        n_gt[r] = G - int(g_ig.sum())
        key = g_ig.tobytes()
        if key not in cache:
            cache[key] = greedy_match(ious, g_ig, crowd, iou_thrs)
        m = cache[key]
        matched = m >= 0
        mi = np.where(matched, m, 0)
        hit = matched & id_truthy[mi] if G else matched
        ig = (matched & g_ig[mi]) if G else np.zeros_like(matched)
        ig |= ~hit & _outside(dt_area, a_rng)[None, :]
        ignore[r] = ig
        tp[r] = hit & ~ig
    return CategoryStats(np.asarray(dt_scores, dtype=np.float64).reshape(D), tp, ignore, n_gt)


def accumulate(per_category: Sequence[Sequence[CategoryStats]], n_ranges: int,
               max_dets: Sequence[int] = MAX_DETS, n_thrs: int = len(IOU_THRESHOLDS),
               rec_thrs: np.ndarray = RECALL_THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """cocoapi ``accumulate``: precision (T, R, K, A, M) and recall (T, K, A, M), -1 where undefined.

    ``per_category[k]`` lists that category's :class:`CategoryStats` in ascending video-id order
    (the order ties between videos are broken in: stable mergesort on -score). Each video
    contributes its first ``maxDet`` detections; precision is made monotone from the right and
    sampled at the recall thresholds with a left search, 0 past the last recall reached.
    """
    T, Rc, K, M = n_thrs, len(rec_thrs), len(per_category), len(max_dets)
    precision = -np.ones((T, Rc, K, n_ranges, M))
    recall = -np.ones((T, K, n_ranges, M))
    for k, stats in enumerate(per_category):
        if not stats:
            continue
        for a in range(n_ranges):
            npig = int(sum(int(s.n_gt[a]) for s in stats))
            if npig == 0:
                continue
            for mi, max_det in enumerate(max_dets):
                scores = np.concatenate([s.scores[:max_det] for s in stats])
                inds = np.argsort(-scores, kind="mergesort")
                tps = np.concatenate([s.tp[a, :, :max_det] for s in stats], axis=1)[:, inds]
                igs = np.concatenate([s.ignore[a, :, :max_det] for s in stats], axis=1)[:, inds]
                fps = ~tps & ~igs
                tp_sum = np.cumsum(tps, axis=1).astype(np.float64)
                fp_sum = np.cumsum(fps, axis=1).astype(np.float64)
                nd = tp_sum.shape[1]
                if nd == 0:
                    recall[:, k, a, mi] = 0
                    precision[:, :, k, a, mi] = 0
                    continue
                rc = tp_sum / npig
                pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                recall[:, k, a, mi] = rc[:, -1]
                for t in range(T):
                    idx = np.searchsorted(rc[t], rec_thrs, side="left")
                    ok = idx < nd
                    q = np.zeros(Rc)
                    q[ok] = pr[t, idx[ok]]
                    precision[t, :, k, a, mi] = q
    return precision, recall


def summarize(precision: np.ndarray, recall: np.ndarray, ranges=YTVIS_RANGES,
              max_dets: Sequence[int] = MAX_DETS,
              iou_thrs: np.ndarray = IOU_THRESHOLDS) -> dict[str, float | None]:
    """cocoapi ``summarize``: metric name -> mean of the defined (> -1) entries as a fraction,
    None where none is defined (the official -1). Only metrics whose range is in ``ranges``."""
    out: dict[str, float | None] = {}
    for name, kind, thr, rng, max_det in _SUMMARY:
        if rng not in ranges:
            continue
        a, m = list(ranges).index(rng), list(max_dets).index(max_det)
        if kind == "ap":
            s = precision[..., a, m]
        else:
            s = recall[..., a, m]
        if thr is not None:
            s = s[np.where(iou_thrs == thr)[0]]
        s = s[s > -1]
        out[name] = float(np.mean(s)) if s.size else None
    return out
