"""VIPSeg kernels: VPQ over window lengths 1, 2, 4, 6, 8 and STQ, from per-frame segment-pair tables.

Facts verified in VIPSeg-Dataset ``ClipPanoFCN/eval_vpq_vspw.py``, ``eval_stq_vspw.py`` and
``segmentation_and_tracking_quality.py`` (deeplab2's numpy STQ):

VPQ (per video, per window length n, per start s = 0..T-n; no window when T < n):
- tube areas and GT/pred intersections are sums over the window's frames. The pred area of a
  segment is its PNG pixel count in the frames whose ``segments_info`` lists it; the GT area is
  the json ``area`` (duplicates in one frame summed); a tube's category and ``iscrowd`` come from
  the first frame of the window that lists it;
- a (GT, pred) pair with intersection > 0 needs both listed in the window, a non-crowd GT and equal
  categories; IoU = I / (|p| + |g| - I - I(GT id 0, p)); TP iff IoU > 0.5 (strict). Every such
  pair counts (no one-to-one assignment step);
- unmatched non-crowd GT -> FN (of its category). For each category the crowd GT is the last
  one inserted (frame, then json order); an unmatched prediction is ignored when
  (I(GT id 0, p) + I(that crowd, p)) / |p| > 0.5, else FP (of its category);
- PQ_c = sum IoU / (TP + FP/2 + FN/2) over categories with TP + FP + FN > 0, averaged over all /
  thing / stuff categories (the official code divides by zero when none has any).

STQ (labels (semantic << 16) + instance, instance = first-appearance order of the id in the
video's json; pixels whose id the frame's json does not list are semantic 255):
- segmentation: 125 x 125 confusion (255 -> 124), the GT-ignore row zeroed, pooled over videos;
  IoU over classes with non-zero union, so prediction-void on labelled GT is a phantom class 124;
- association over thing pixels; a thing GT label with instance 0 is treated as crowd (deeplab2
  convention), so the first segment listed in a video, if a thing, is excluded together with
  the predictions on it; AQ_video = sum_g 1/|g| sum_p |p&g|^2 / |p|g| (|p|g| = union);
  AQ = sum of AQ_video / number of GT tubes (0 when there is none), STQ = sqrt(AQ * SQ).
  With duplicate ids in one frame's json the last entry sets the semantic class (VPQ: the first).

Speed: the official script re-reads and re-stacks every window (sum of n = 21 frame reads per
position) and runs ``np.unique`` on the stacked ids. Here each frame is read once and reduced to
its (GT id, pred id, count) table; every window and the STQ statistics are sums over those
tables (prefix sums along time).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

VPQ_WINDOWS = (1, 2, 4, 6, 8)
VIPSEG_NUM_CLASSES = 124
STQ_BIT_SHIFT = 16
_ID_BITS = 24  # panoptic ids are RGB: < 2**24


@dataclass
class FrameSegments:
    """One frame's ``segments_info`` reduced to unique ids, in order of first listing.

    ``cat_first``/``crowd_first``: of the first entry of the id (what VPQ uses); ``cat_last``:
    of the last entry (what STQ's painting loop leaves); ``area``: json areas summed (GT only).
    """

    ids: np.ndarray
    cat_first: np.ndarray
    cat_last: np.ndarray
    crowd_first: np.ndarray
    area: np.ndarray


def frame_segments(entries: Iterable[tuple[int, int, int, int]]) -> FrameSegments:
    """(id, category_id, iscrowd, area) entries of one frame, duplicates merged officially."""
    pos: dict[int, int] = {}
    ids, cf, cl, cr, ar = [], [], [], [], []
    for sid, cat, crowd, area in entries:
        sid = int(sid)
        if sid in pos:
            k = pos[sid]
            cl[k] = int(cat)
            ar[k] += int(area)
        else:
            pos[sid] = len(ids)
            ids.append(sid)
            cf.append(int(cat))
            cl.append(int(cat))
            cr.append(int(crowd))
            ar.append(int(area))
    i64 = np.int64
    return FrameSegments(np.asarray(ids, i64), np.asarray(cf, i64), np.asarray(cl, i64),
                         np.asarray(cr, i64), np.asarray(ar, i64))


def pair_table(gt_ids: np.ndarray, pred_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(GT id, pred id, pixel count) of every co-occurring pair of one frame (ids < 2**24)."""
    code = (np.asarray(gt_ids, dtype=np.int64) << _ID_BITS) | np.asarray(pred_ids, dtype=np.int64)
    codes, counts = np.unique(code.ravel(), return_counts=True)
    return codes >> _ID_BITS, codes & ((1 << _ID_BITS) - 1), counts.astype(np.int64)


@dataclass
class FrameTable:
    """Everything VPQ and STQ need from one frame: its pair table and both segment lists."""

    gt: np.ndarray
    pred: np.ndarray
    count: np.ndarray
    gt_segments: FrameSegments
    pred_segments: FrameSegments


@dataclass
class VpsVideoStats:
    """Per-video sufficient statistics.

    ``pq``: float array [len(windows), 4, num_classes] of (IoU sum, TP, FP, FN) per category;
    ``stq_confusion``: (num_classes + 1)^2 int64 with the ignore row already zeroed;
    ``aq_sum`` and ``tubes``: the video's AQ numerator and its number of GT thing tubes.
    """

    pq: np.ndarray
    stq_confusion: np.ndarray
    aq_sum: float
    tubes: int
    frames: int


def _slots(values: list[np.ndarray]) -> np.ndarray:
    return np.unique(np.concatenate(values)) if values else np.zeros(0, np.int64)


def _prefix(a: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((1,) + a.shape[1:], a.dtype), np.cumsum(a, axis=0)])


def _first_listed(listed: np.ndarray) -> np.ndarray:
    """[T, N] -> index of the first frame >= t listing each slot (T when none)."""
    T = listed.shape[0]
    t = np.where(listed, np.arange(T)[:, None], T)
    return np.minimum.accumulate(t[::-1], axis=0)[::-1]


def _window_pq(n: int, T: int, gk: np.ndarray, pk: np.ndarray, g_ids: np.ndarray,
               inter_cs: np.ndarray, g: dict, p: dict, num_classes: int) -> np.ndarray:
    """(IoU sum, TP, FP, FN) per category, summed over the windows of length n."""
    out = np.zeros((4, num_classes), dtype=np.float64)
    S = T - n + 1
    if S <= 0:
        return out
    inter = inter_cs[n:] - inter_cs[:S]                               # [S, K]
    tubes = {}
    for side, d in (("g", g), ("p", p)):
        first = d["first"][:S]
        present = first < (np.arange(S)[:, None] + n)
        row = np.minimum(first, T - 1)
        col = np.arange(first.shape[1])[None, :]
        tubes[side] = (present, d["cat"][row, col], d["crowd"][row, col], d["order"][row, col],
                       first, d["area_cs"][n:] - d["area_cs"][:S])
    g_pres, g_cat, g_crowd, g_order, g_first, g_area = tubes["g"]
    p_pres, p_cat, _, _, _, p_area = tubes["p"]
    P = p_pres.shape[1]
    void = np.zeros((S, P), dtype=np.int64)
    is_void_gt = g_ids[gk] == 0
    void[:, pk[is_void_gt]] = inter[:, is_void_gt]

    valid = ((inter > 0) & g_pres[:, gk] & p_pres[:, pk] & (g_crowd[:, gk] == 0)
             & (g_cat[:, gk] == p_cat[:, pk]))
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (p_area[:, pk] + g_area[:, gk] - inter - void[:, pk])
    if np.any(iou[valid] > 1.0):  # the official ``assert iou <= 1.0``: GT json area below its pixels
        s_bad, k_bad = np.argwhere(valid & (iou > 1.0))[0]
        raise ValueError(f"IoU {iou[s_bad, k_bad]:.4f} > 1 for GT segment {int(g_ids[gk[k_bad]])} "
                         f"(window of {n} frames from frame {int(s_bad)})")
    tp = valid & (iou > 0.5)
    s_idx, k_idx = np.nonzero(tp)
    tp_cat = g_cat[s_idx, gk[k_idx]]
    out[0] += np.bincount(tp_cat, weights=iou[s_idx, k_idx], minlength=num_classes)
    out[1] += np.bincount(tp_cat, minlength=num_classes)
    g_matched = np.zeros_like(g_pres)
    g_matched[s_idx, gk[k_idx]] = True
    p_matched = np.zeros_like(p_pres)
    p_matched[s_idx, pk[k_idx]] = True

    fn = g_pres & ~g_matched & (g_crowd == 0)
    out[3] += np.bincount(g_cat[fn], minlength=num_classes)

    ignored = void.copy()
    crowd_here = g_pres & (g_crowd != 0)
    if crowd_here.any():
        chosen = np.zeros_like(crowd_here)
        for s in np.nonzero(crowd_here.any(axis=1))[0]:
            cand = np.nonzero(crowd_here[s])[0]
            # insertion order into the window's segment dict: first listing frame, then json order
            cand = cand[np.lexsort((g_order[s, cand], g_first[s, cand]))]
            last = {}
            for c in cand:
                last[int(g_cat[s, c])] = c
            chosen[s, list(last.values())] = True
        hit = chosen[:, gk] & (g_cat[:, gk] == p_cat[:, pk])
        s_idx, k_idx = np.nonzero(hit)
        np.add.at(ignored, (s_idx, pk[k_idx]), inter[s_idx, k_idx])
    fp_cand = p_pres & ~p_matched
    with np.errstate(divide="ignore", invalid="ignore"):
        fp = fp_cand & ~(ignored / p_area > 0.5)
    out[2] += np.bincount(p_cat[fp], minlength=num_classes)
    return out


def vps_video_stats(frames: Sequence[FrameTable], thing_ids: Iterable[int],
                    windows: Sequence[int] = VPQ_WINDOWS, num_classes: int = VIPSEG_NUM_CLASSES) -> VpsVideoStats:
    """VPQ window sums and STQ statistics of one video from its frames' tables (in json order).

    Category ids must lie in 0..num_classes-1 (the readers check them).
    """
    T = len(frames)
    if T == 0:
        return VpsVideoStats(pq=np.zeros((len(windows), 4, num_classes)), aq_sum=0.0, tubes=0, frames=0,
                             stq_confusion=np.zeros((num_classes + 1, num_classes + 1), np.int64))
    g_vals = _slots([f.gt for f in frames] + [f.gt_segments.ids for f in frames])
    p_vals = _slots([f.pred for f in frames] + [f.pred_segments.ids for f in frames])
    P = len(p_vals)

    def per_frame(vals, segs_of, png_counts=None):
        N = len(vals)
        listed = np.zeros((T, N), bool)
        cat = np.full((T, N), -1, np.int64)
        cat_last = np.full((T, N), -1, np.int64)
        crowd = np.zeros((T, N), np.int64)
        order = np.zeros((T, N), np.int64)
        area = np.zeros((T, N), np.int64)
        inst = np.full(N, -1, np.int64)
        n_inst = 0
        for t, f in enumerate(frames):
            segs = segs_of(f)
            slot = np.searchsorted(vals, segs.ids)
            listed[t, slot] = True
            cat[t, slot] = segs.cat_first
            cat_last[t, slot] = segs.cat_last
            crowd[t, slot] = segs.crowd_first
            order[t, slot] = np.arange(len(slot))
            area[t, slot] = segs.area if png_counts is None else png_counts[t, slot]
            new = slot[inst[slot] < 0]
            inst[new] = n_inst + np.arange(len(new))
            n_inst += len(new)
        return {"listed": listed, "cat": cat, "cat_last": cat_last, "crowd": crowd, "order": order,
                "area_cs": _prefix(area), "first": _first_listed(listed), "inst": inst}

    # pair slots, frame by frame
    f_idx = np.concatenate([np.full(len(f.count), t) for t, f in enumerate(frames)])
    gs = np.searchsorted(g_vals, np.concatenate([f.gt for f in frames]))
    ps = np.searchsorted(p_vals, np.concatenate([f.pred for f in frames]))
    cnt = np.concatenate([f.count for f in frames])

    pred_png = np.zeros((T, P), np.int64)
    np.add.at(pred_png, (f_idx, ps), cnt)
    g = per_frame(g_vals, lambda f: f.gt_segments)
    p = per_frame(p_vals, lambda f: f.pred_segments, pred_png)

    pair_codes, pair_inv = np.unique(gs * max(P, 1) + ps, return_inverse=True)
    gk, pk = pair_codes // max(P, 1), pair_codes % max(P, 1)
    inter = np.zeros((T, len(pair_codes)), np.int64)
    np.add.at(inter, (f_idx, pair_inv), cnt)
    inter_cs = _prefix(inter)
    pq = np.stack([_window_pq(n, T, gk, pk, g_vals, inter_cs, g, p, num_classes) for n in windows])

    # STQ: every pixel of a pair shares its labels, so the pair table is the whole frame
    thing = np.zeros(num_classes + 1, bool)
    thing[[int(c) for c in thing_ids]] = True
    ig = num_classes  # the ignore bin (255 -> num_classes)
    g_listed, p_listed = g["listed"][f_idx, gs], p["listed"][f_idx, ps]
    g_sem = np.where(g_listed, g["cat_last"][f_idx, gs], ig)
    p_sem = np.where(p_listed, p["cat_last"][f_idx, ps], ig)
    conf = np.bincount(g_sem * (num_classes + 1) + p_sem, weights=cnt,
                       minlength=(num_classes + 1) ** 2).reshape(num_classes + 1, num_classes + 1)
    conf = np.rint(conf).astype(np.int64)
    conf[ig, :] = 0
    # labels matter on thing pixels only, which are always listed
    g_label = (g_sem << STQ_BIT_SHIFT) + g["inst"][gs]
    p_label = (p_sem << STQ_BIT_SHIFT) + p["inst"][ps]
    g_thing, p_thing = thing[g_sem], thing[p_sem]
    crowd = g_thing & ((g_label & ((1 << STQ_BIT_SHIFT) - 1)) == 0)
    g_in = g_thing & ~crowd
    p_in = p_thing & ~crowd
    aq_sum, tubes = _association(g_label[g_in], cnt[g_in], p_label[p_in], cnt[p_in],
                                 g_label[g_in & p_in], p_label[g_in & p_in], cnt[g_in & p_in])
    return VpsVideoStats(pq=pq, stq_confusion=conf, aq_sum=aq_sum, tubes=tubes, frames=T)


def _association(g_lab, g_cnt, p_lab, p_cnt, i_g, i_p, i_cnt) -> tuple[float, int]:
    """AQ numerator of one video and its number of GT tubes, from labelled pixel counts."""
    g_keys, g_inv = np.unique(g_lab, return_inverse=True)
    g_size = np.bincount(g_inv, weights=g_cnt, minlength=len(g_keys))
    p_keys, p_inv = np.unique(p_lab, return_inverse=True)
    p_size = np.bincount(p_inv, weights=p_cnt, minlength=len(p_keys))
    if not len(i_g):
        return 0.0, len(g_keys)
    codes, inv = np.unique(np.searchsorted(g_keys, i_g) * len(p_keys) + np.searchsorted(p_keys, i_p),
                           return_inverse=True)
    tpa = np.bincount(inv, weights=i_cnt)
    gi, pi = codes // len(p_keys), codes % len(p_keys)
    gsz, psz = g_size[gi], p_size[pi]
    per_gt = np.bincount(gi, weights=tpa * (tpa / (gsz + psz - tpa)), minlength=len(g_keys))
    return float(np.sum(per_gt / g_size)), len(g_keys)


def pq_from_stats(pq: np.ndarray, class_ids: Sequence[int], isthing: Sequence[bool]) -> dict[str, float]:
    """PQ (fractions) of one window length from its [4, num_classes] sums: 'All', 'Things', 'Stuff'.

    Averages over the listed categories that have TP + FP + FN > 0; NaN when none has.
    """
    iou, tp, fp, fn = (np.asarray(pq[i], dtype=np.float64) for i in range(4))
    ids = np.asarray(list(class_ids), dtype=np.int64)
    thing = np.asarray(list(isthing), dtype=bool)
    out = {}
    for name, sel in (("All", np.ones(len(ids), bool)), ("Things", thing), ("Stuff", ~thing)):
        c = ids[sel]
        denom = tp[c] + 0.5 * fp[c] + 0.5 * fn[c]
        used = (tp[c] + fp[c] + fn[c]) > 0
        out[name] = float(np.mean(iou[c][used] / denom[used])) if used.any() else float("nan")
    return out


def stq_from_stats(confusion: np.ndarray, aq_sum: float, tubes: int) -> dict[str, float]:
    """STQ, AQ and SQ (the official 'IoU') as fractions from pooled statistics."""
    conf = np.asarray(confusion, dtype=np.int64)
    inter = np.diag(conf).astype(np.float64)
    union = conf.sum(axis=0) + conf.sum(axis=1) - np.diag(conf)
    n = np.count_nonzero(union)
    sq = float(np.sum(inter / np.maximum(union, 1e-15)) / n) if n else float("nan")
    aq = float(aq_sum / max(tubes, 1e-15))
    return {"STQ": float(np.sqrt(aq * sq)), "AQ": aq, "SQ": sq}
