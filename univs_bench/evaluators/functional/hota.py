"""HOTA (and OWTA) per sequence and class, as TrackEval's ``metrics/hota.py`` computes them.

Restates the TrackEval copy inside Ali2500/BURST-benchmark (``burstapi/thirdparty/trackeval``,
see ../shared/PROTOCOLS.md section 6). Facts verified there:

- 19 alphas ``np.arange(0.05, 0.99, 0.05)``; a match counts at alpha when its similarity is
  ``>= alpha - eps``;
- the global alignment score of a (gt id, tracker id) pair sums, over frames, the similarity
  normalised by ``row sum + column sum - similarity`` (entries with a denominator <= eps stay
  0), divided by ``n_gt_dets(id) + n_tracker_dets(id) - that sum``;
- each frame is matched once (not per alpha) by ``linear_sum_assignment`` on
  ``-(alignment * similarity)``; the matched pairs are then thresholded per alpha;
- a sequence with no tracker detections returns FN = #gt dets (and vice versa FP) without
  touching AssA; sequences combine by summing TP/FN/FP and TP-weighting AssA/AssRe/AssPr;
- ``OWTA = sqrt(DetRe * AssA)`` with ``DetRe = TP / max(1, TP + FN)``.

Similarities come from the caller: BURST's dataset class hands TrackEval box IoUs (see
``box_iou``), not mask IoUs. They are used as given, memory layout included: the row and
column sums round differently on contiguous and strided axes, which can flip exact ties in
the assignment, so callers that must agree bit for bit pass TrackEval's layout.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ALPHAS = np.arange(0.05, 0.99, 0.05)
_EPS = np.finfo("float").eps
COUNT_FIELDS = ("HOTA_TP", "HOTA_FN", "HOTA_FP")
ASSOC_FIELDS = ("AssA", "AssRe", "AssPr")


def box_iou(gt_boxes: np.ndarray, pred_boxes: np.ndarray) -> np.ndarray:
    """IoU matrix (n_gt, n_pred) of xywh boxes, as pycocotools ``bbIou`` (no crowd).

    Pairs whose overlap width or height is <= 0 score 0, so empty boxes never match.
    """
    g = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    p = np.asarray(pred_boxes, dtype=np.float64).reshape(-1, 4)
    if len(g) == 0 or len(p) == 0:
        return np.zeros((len(g), len(p)))
    w = (np.minimum(g[:, None, 0] + g[:, None, 2], p[None, :, 0] + p[None, :, 2])
         - np.maximum(g[:, None, 0], p[None, :, 0]))
    h = (np.minimum(g[:, None, 1] + g[:, None, 3], p[None, :, 1] + p[None, :, 3])
         - np.maximum(g[:, None, 1], p[None, :, 1]))
    inter = w * h
    union = (g[:, None, 2] * g[:, None, 3]) + (p[None, :, 2] * p[None, :, 3]) - inter
    ok = (w > 0) & (h > 0)
    out = np.zeros_like(inter)
    out[ok] = inter[ok] / union[ok]
    return out


def empty_stats() -> dict[str, np.ndarray]:
    """Statistics of a sequence where a class has neither GT nor tracker detections."""
    res = {f: np.zeros(len(ALPHAS)) for f in COUNT_FIELDS + ASSOC_FIELDS}
    res["LocA"] = np.ones(len(ALPHAS))
    return res


def hota_sequence(gt_ids: Sequence[np.ndarray], pred_ids: Sequence[np.ndarray],
                  similarity: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """HOTA counts of one sequence (one class): per frame GT ids, tracker ids, similarity.

    ``similarity[t]`` is (len(gt_ids[t]), len(pred_ids[t])); ids are any integers, unique
    within a frame. Returns arrays over ``ALPHAS``: HOTA_TP/FN/FP, AssA/AssRe/AssPr, LocA.
    """
    n_alpha = len(ALPHAS)
    res = empty_stats()
    res["LocA"] = np.zeros(n_alpha)
    n_gt = sum(len(g) for g in gt_ids)
    n_pred = sum(len(p) for p in pred_ids)
    if n_pred == 0:
        res["HOTA_FN"] = n_gt * np.ones(n_alpha)
        res["LocA"] = np.ones(n_alpha)
        return res
    if n_gt == 0:
        res["HOTA_FP"] = n_pred * np.ones(n_alpha)
        res["LocA"] = np.ones(n_alpha)
        return res
    from scipy.optimize import linear_sum_assignment

    # contiguous ids (TrackEval relabels after preprocessing)
    gt_u = np.unique(np.concatenate([np.asarray(g, dtype=np.int64) for g in gt_ids]))
    pr_u = np.unique(np.concatenate([np.asarray(p, dtype=np.int64) for p in pred_ids]))
    gts = [np.searchsorted(gt_u, np.asarray(g, dtype=np.int64)) for g in gt_ids]
    prs = [np.searchsorted(pr_u, np.asarray(p, dtype=np.int64)) for p in pred_ids]

    potential = np.zeros((len(gt_u), len(pr_u)))
    gt_count = np.zeros((len(gt_u), 1))
    pr_count = np.zeros((1, len(pr_u)))
    for g, p, sim in zip(gts, prs, similarity):
        denom = sim.sum(0)[np.newaxis, :] + sim.sum(1)[:, np.newaxis] - sim
        sim_iou = np.zeros_like(sim)
        ok = denom > 0 + _EPS
        sim_iou[ok] = sim[ok] / denom[ok]
        potential[g[:, np.newaxis], p[np.newaxis, :]] += sim_iou
        gt_count[g] += 1
        pr_count[0, p] += 1
    alignment = potential / (gt_count + pr_count - potential)
    matches = [np.zeros_like(potential) for _ in ALPHAS]

    for g, p, sim in zip(gts, prs, similarity):
        if len(g) == 0:
            res["HOTA_FP"] += len(p)
            continue
        if len(p) == 0:
            res["HOTA_FN"] += len(g)
            continue
        score = alignment[g[:, np.newaxis], p[np.newaxis, :]] * sim
        rows, cols = linear_sum_assignment(-score)
        matched_sim = sim[rows, cols]
        for a, alpha in enumerate(ALPHAS):
            keep = matched_sim >= alpha - _EPS
            r, c = rows[keep], cols[keep]
            n = len(r)
            res["HOTA_TP"][a] += n
            res["HOTA_FN"][a] += len(g) - n
            res["HOTA_FP"][a] += len(p) - n
            if n > 0:
                res["LocA"][a] += sum(sim[r, c])
                matches[a][g[r], p[c]] += 1

    for a in range(n_alpha):
        mc = matches[a]
        tp = np.maximum(1, res["HOTA_TP"][a])
        ass_a = mc / np.maximum(1, gt_count + pr_count - mc)
        res["AssA"][a] = np.sum(mc * ass_a) / tp
        res["AssRe"][a] = np.sum(mc * (mc / np.maximum(1, gt_count))) / tp
        res["AssPr"][a] = np.sum(mc * (mc / np.maximum(1, pr_count))) / tp
    res["LocA"] = np.maximum(1e-10, res["LocA"]) / np.maximum(1e-10, res["HOTA_TP"])
    return res


def combine_sequences(stats: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Sum counts over sequences and TP-weight the association scores, then finalise.

    Sequences without the class may be left out: they add exact zeros. The order of
    ``stats`` is the summation order (TrackEval: sorted sequence names).
    """
    res: dict[str, np.ndarray] = {}
    for f in COUNT_FIELDS:
        res[f] = sum([s[f] for s in stats]) if stats else np.zeros(len(ALPHAS))
        res[f] = res[f] + np.zeros(len(ALPHAS))
    for f in ASSOC_FIELDS:
        weighted = sum([s[f] * s["HOTA_TP"] for s in stats]) if stats else 0
        res[f] = weighted / np.maximum(1.0, res["HOTA_TP"])
    loca = sum([s["LocA"] * s["HOTA_TP"] for s in stats]) if stats else 0
    res["LocA"] = np.maximum(1e-10, loca) / np.maximum(1e-10, res["HOTA_TP"])
    return final_fields(res)


def final_fields(res: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add DetRe, DetPr, DetA, HOTA and OWTA (arrays over ``ALPHAS``) to combined counts."""
    tp, fn, fp = res["HOTA_TP"], res["HOTA_FN"], res["HOTA_FP"]
    res["DetRe"] = tp / np.maximum(1, tp + fn)
    res["DetPr"] = tp / np.maximum(1, tp + fp)
    res["DetA"] = tp / np.maximum(1, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
    res["OWTA"] = np.sqrt(res["DetRe"] * res["AssA"])
    return res
