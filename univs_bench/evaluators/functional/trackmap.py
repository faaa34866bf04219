"""Track mAP per sequence and class, as TrackEval's ``metrics/track_map.py`` computes it.

Restates the TrackEval copy inside Ali2500/BURST-benchmark (see ../shared/PROTOCOLS.md
section 6), default config as ``burstapi/eval/run.py`` builds it (``TrackMAP()``). Facts
verified there:

- track IoU = sum over frames of mask intersections / sum of mask unions, a frame where only
  one track is present adding its area to the union (0 when the union is 0); empty masks
  are ordinary tracks;
- labels ``all``, area ranges [0, 32^2], [32^2, 96^2], [96^2, 1e5^2] on the track's mean mask
  area and time ranges [0, 3], [3, 10], [10, 1e5] on its number of frames, both ends
  inclusive (+-eps); a GT outside the range is ignored, a detection outside it is ignored
  when unmatched; for a class listed in ``not_exhaustive_category_ids`` every unmatched
  detection is ignored, under every label;
- greedy matching per IoU threshold (0.5:0.05:0.95) in descending track-score order (stable
  sort), GT sorted with ignored ones last; the best IoU >= threshold wins, a later GT with an
  equal IoU replacing an earlier one; once matched to a regular GT the scan stops at the first
  ignored GT. Quirk: a GT counts as taken only when the matched detection's *track id* is
  > 0, so a detection with id <= 0 leaves its GT free for later detections;
- sequences combine by concatenating detections and re-sorting by score (stable, in
  sequence order); precision is made monotone and read at 101 recall points with
  ``searchsorted(..., 'left')`` (0 past the last recall reached); AP is -1 where no
  sequence has a non-ignored GT.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

IOU_THRESHOLDS = np.arange(0.5, 0.96, 0.05)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01) + 1), endpoint=True)
AREA_RANGES = {"area_s": (0 ** 2, 32 ** 2), "area_m": (32 ** 2, 96 ** 2),
               "area_l": (96 ** 2, 1e5 ** 2)}
TIME_RANGES = {"time_s": (0, 3), "time_m": (3, 10), "time_l": (10, 1e5)}
LABELS = ("all",) + tuple(AREA_RANGES) + tuple(TIME_RANGES)
_EPS = np.finfo("float").eps


def track_ious(inter: np.ndarray, dt_area_sums: np.ndarray, gt_area_sums: np.ndarray) -> np.ndarray:
    """Track IoU matrix (n_dt, n_gt) from summed per-frame intersections and summed areas.

    ``inter[i, j]`` is the total intersection of dt track i and gt track j over the frames
    where both are present; ``*_area_sums`` are the tracks' total mask areas. The union is
    then ``dt + gt - inter``, the same integer TrackEval accumulates frame by frame.
    """
    inter = np.asarray(inter, dtype=np.float64).reshape(len(dt_area_sums), len(gt_area_sums))
    union = (np.asarray(dt_area_sums, dtype=np.float64)[:, None]
             + np.asarray(gt_area_sums, dtype=np.float64)[None, :] - inter)
    out = np.zeros_like(inter)
    ok = union > 0.0 + _EPS
    out[ok] = inter[ok] / union[ok]
    return out


def _ignore_masks(values: Sequence[float], ranges: dict) -> list[np.ndarray]:
    return [np.array([0 if lo - _EPS <= v <= hi + _EPS else 1 for v in values], dtype=bool)
            for lo, hi in ranges.values()]


def trackmap_sequence(ious: np.ndarray, dt_scores: Sequence[float], dt_id_positive: Sequence[bool],
                      gt_areas: Sequence[float], gt_lengths: Sequence[int],
                      dt_areas: Sequence[float], dt_lengths: Sequence[int],
                      not_exhaustive: bool = False, labels: Sequence[str] = LABELS) -> dict:
    """Greedy track matching of one sequence (one class), per label in ``labels``.

    Detections are given in their file order (``ious`` rows, ``dt_*``); they are stably
    sorted by descending score here. ``dt_id_positive[i]``: whether detection i's track id
    is > 0 (see the module quirk). Returns ``{label: None}`` when the sequence has neither GT
    nor detections, else ``{label: {"scores", "matched" (thr x dt), "ignored" (thr x dt),
    "gt_ignored"}}``.
    """
    n_dt, n_gt = len(dt_scores), len(gt_areas)
    if n_dt == 0 and n_gt == 0:
        return {lbl: None for lbl in labels}
    order = np.argsort([-s for s in dt_scores], kind="mergesort")
    scores = np.asarray(dt_scores, dtype=np.float64)[order]
    positive = [bool(dt_id_positive[i]) for i in order]
    ious = np.asarray(ious, dtype=np.float64).reshape(n_dt, n_gt)[order]

    gt_masks = {"all": np.zeros(n_gt, dtype=bool)}
    gt_masks.update(zip(AREA_RANGES, _ignore_masks(gt_areas, AREA_RANGES)))
    gt_masks.update(zip(TIME_RANGES, _ignore_masks(gt_lengths, TIME_RANGES)))
    if not_exhaustive:
        dt_masks = {lbl: np.ones(n_dt, dtype=bool) for lbl in LABELS}
    else:
        dt_masks = {"all": np.zeros(n_dt, dtype=bool)}
        dt_areas_o = [dt_areas[i] for i in order]
        dt_lengths_o = [dt_lengths[i] for i in order]
        dt_masks.update(zip(AREA_RANGES, _ignore_masks(dt_areas_o, AREA_RANGES)))
        dt_masks.update(zip(TIME_RANGES, _ignore_masks(dt_lengths_o, TIME_RANGES)))

    n_thr = len(IOU_THRESHOLDS)
    out = {}
    for lbl in labels:
        gt_ig_mask = gt_masks[lbl]
        gt_order = np.argsort(gt_ig_mask, kind="mergesort")
        gt_ig = gt_ig_mask[gt_order]
        rows = ious[:, gt_order].tolist()
        gt_ig_l = gt_ig.tolist()
        matched = np.zeros((n_thr, n_dt), dtype=bool)
        dt_ig = np.zeros((n_thr, n_dt), dtype=bool)
        if n_dt:
            for t, thr in enumerate(IOU_THRESHOLDS):
                taken = [False] * n_gt
                for d in range(n_dt):
                    best = min(thr, 1 - 1e-10)
                    m = -1
                    row = rows[d]
                    for g in range(n_gt):
                        if taken[g]:
                            continue
                        if m > -1 and not gt_ig_l[m] and gt_ig_l[g]:
                            break
                        if row[g] < best - _EPS:
                            continue
                        best = row[g]
                        m = g
                    if m == -1:
                        continue
                    dt_ig[t, d] = gt_ig_l[m]
                    matched[t, d] = True
                    taken[m] = positive[d]
        dt_ig = dt_ig | (~matched & dt_masks[lbl][None, :])
        out[lbl] = {"scores": scores, "matched": matched, "ignored": dt_ig, "gt_ignored": gt_ig}
    return out


def combine_sequences(per_seq: Sequence[dict], label: str = "all") -> dict[str, np.ndarray]:
    """AP and AR arrays over ``IOU_THRESHOLDS`` for one label, from per-sequence results.

    ``per_seq`` holds ``trackmap_sequence`` outputs in sequence order (TrackEval: sorted
    names). AP/AR are -1 where undefined (no non-ignored GT in any sequence).
    """
    n_thr, n_rec = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS)
    precision = -np.ones((n_thr, n_rec))
    recall = -np.ones(n_thr)
    results = [r[label] for r in per_seq if r.get(label) is not None]
    if results:
        scores = np.concatenate([r["scores"] for r in results], axis=0)
        idx = np.argsort(-scores, kind="mergesort")
        matched = np.concatenate([r["matched"] for r in results], axis=1)[:, idx]
        dt_ig = np.concatenate([r["ignored"] for r in results], axis=1)[:, idx]
        gt_ig = np.concatenate([r["gt_ignored"] for r in results])
        num_gt = np.count_nonzero(gt_ig == 0)
        if num_gt:
            tp_sum = np.cumsum(matched & ~dt_ig, axis=1).astype(np.float64)
            fp_sum = np.cumsum(~matched & ~dt_ig, axis=1).astype(np.float64)
            for t in range(n_thr):
                tp, fp = tp_sum[t], fp_sum[t]
                n = len(tp)
                rc = tp / num_gt
                recall[t] = rc[-1] if n else 0
                pr = (tp / (fp + tp + np.spacing(1))).tolist()
                for i in range(n - 1, 0, -1):
                    pr[i - 1] = max(pr[i - 1], pr[i])
                inds = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
                row = [0.0] * n_rec
                for k, pi in enumerate(inds):
                    if pi >= n:
                        break
                    row[k] = pr[pi]
                precision[t] = row
    ap = np.array([np.mean(p[p > -1]) if np.any(p > -1) else -1.0 for p in precision])
    return {"AP": ap, "AR": recall, "precision": precision}
