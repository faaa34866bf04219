"""Region similarity J and boundary accuracy F (DAVIS), per object and frame, plus statistics.

Facts verified against davisvideochallenge/davis2017-evaluation (``davis2017/metrics.py``,
``davis2017/utils.py``) and reproduced bit for bit (see tests/test_eval_vos.py):

- J = |M ∩ G| / |M ∪ G| over non-void pixels, 1 when the union is empty (``db_eval_iou``).
- F (``f_measure``): one-pixel boundaries by ``_seg2bmap`` (a pixel is on the boundary when it
  differs from its east, south or south-east neighbour; the last row compares only east, the last
  column only south, the bottom-right pixel never is), tolerance r = ceil(0.008 * |(H, W)|),
  ``cv2.dilate`` with ``skimage.morphology.disk(r)`` (x² + y² <= r²). Void pixels are removed
  from both masks before the boundaries are taken. No boundary on either side: F = 1; on one
  side only: F = 0; P + R = 0: F = 0.
- Statistics (``db_statistics``): mean = nanmean, recall = nanmean(J > 0.5), decay = nanmean of
  the first quarter minus nanmean of the last quarter, quarter edges
  round(linspace(1, N, 5) + 1e-10) - 1, each bin inclusive of its right edge. The official code
  casts the edges to uint8, which wraps for N > 256 frames; we do not reproduce that wrap
  (:func:`decay_wraps` tells when the official number would differ).

Speed: every mask is handled in its bounding box. The boundary of a mask lies within one pixel
of its box, and the dilated boundary within r of that, so computing both on crops (with the
image-border convention of ``_seg2bmap`` kept) gives exactly the full-frame result.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "MaskCrop",
    "boundary_radius",
    "db_statistics",
    "decay_bins",
    "decay_wraps",
    "disk",
    "f_from_counts",
    "f_measure",
    "frame_jf",
    "frame_jf_pairs",
    "mask_crops",
    "region_j",
    "seg2bmap",
]


def boundary_radius(height: int, width: int, bound_th: float = 0.008) -> int:
    """Boundary tolerance in pixels: ``ceil(bound_th * sqrt(H² + W²))`` (``f_measure``)."""
    if bound_th >= 1:
        return int(bound_th)
    return math.ceil(bound_th * math.sqrt(height * height + width * width))


_DISKS: dict[int, np.ndarray] = {}


def disk(radius: int) -> np.ndarray:
    """The structuring element of ``skimage.morphology.disk(radius)`` as uint8."""
    k = _DISKS.get(radius)
    if k is None:
        y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1]
        k = ((x * x + y * y) <= radius * radius).astype(np.uint8)
        _DISKS[radius] = k
    return k


def _bmap(m: np.ndarray) -> np.ndarray:
    """``_seg2bmap`` of a bool array whose bottom/right edges are the image's (or all-zero rows)."""
    # Replicating the last row/column reproduces the official edge rules exactly:
    # last row -> east only, last column -> south only, corner -> never.
    h, w = m.shape
    mp = np.empty((h + 1, w + 1), bool)
    mp[:h, :w] = m
    mp[h, :w] = m[h - 1]
    mp[:, w] = mp[:, w - 1]
    b = m != mp[:h, 1:]
    b |= m != mp[1:, :w]
    b |= m != mp[1:, 1:]
    return b


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundary map of a binary mask, the official ``_seg2bmap`` convention."""
    return _bmap(np.asarray(mask).astype(bool))


def region_j(inter: int, union: int) -> float:
    """J from pixel counts: 1 when the union is empty."""
    return 1.0 if union == 0 else inter / union


def f_from_counts(n_fg: int, n_gt: int, fg_match: int, gt_match: int) -> float:
    """F from boundary counts, with the official special cases and float order."""
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision = fg_match / float(n_fg)
        recall = gt_match / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


class MaskCrop(NamedTuple):
    """One mask on its crop (``mask`` at y, x, ``area`` pixels), its boundary ``bmap`` (same
    crop, ``n`` pixels) and the boundary dilated by the disk, ``dil`` at (dy, dx)."""

    area: int
    y: int
    x: int
    mask: np.ndarray
    n: int
    bmap: np.ndarray
    dy: int
    dx: int
    dil: np.ndarray | None


_NONE = np.zeros((0, 0), bool)
_EMPTY = MaskCrop(0, 0, 0, _NONE, 0, _NONE, 0, 0, None)


def _overlap_count(a: np.ndarray, ay: int, ax: int, b: np.ndarray, by: int, bx: int) -> int:
    """Number of pixels set in both a (placed at ay, ax) and b (placed at by, bx)."""
    y0, x0 = max(ay, by), max(ax, bx)
    y1, x1 = min(ay + a.shape[0], by + b.shape[0]), min(ax + a.shape[1], bx + b.shape[1])
    if y1 <= y0 or x1 <= x0:
        return 0
    sa = a[y0 - ay:y1 - ay, x0 - ax:x1 - ax]
    sb = b[y0 - by:y1 - by, x0 - bx:x1 - bx]
    return int(np.count_nonzero(sa & sb))


def mask_crops(labels: np.ndarray, ids: Sequence[int], radius: int,
               dilate: bool = True) -> list[MaskCrop]:
    """``labels == id`` for every id on its bounding box grown by one pixel, with boundaries.

    ``labels`` must already have void pixels set to a value not in ``ids``.
    """
    import cv2

    h, w = labels.shape
    out = []
    if not len(ids):
        return out
    # scan for each id only inside the box of all non-zero labels
    nz = labels if labels.dtype == np.uint8 else (labels != 0).view(np.uint8)
    ox, oy, ow, oh = cv2.boundingRect(nz)
    sub = labels[oy:oy + oh, ox:ox + ow]
    k = disk(radius) if dilate else None
    for i in ids:
        if ow == 0:
            out.append(_EMPTY)
            continue
        bx, by, bw, bh = cv2.boundingRect((sub == i).view(np.uint8))
        if bw == 0:
            out.append(_EMPTY)
            continue
        bx, by = bx + ox, by + oy
        # one more pixel on every side: the boundary reaches one pixel above/left of the box,
        # and the east/south neighbours of its last row/column are needed.
        y0, y1 = max(by - 1, 0), min(by + bh + 1, h)
        x0, x1 = max(bx - 1, 0), min(bx + bw + 1, w)
        m = labels[y0:y1, x0:x1] == i
        area = int(np.count_nonzero(m))
        b = _bmap(m)
        n = int(np.count_nonzero(b))
        dil = None
        r = radius
        if k is not None and n:
            pad = np.zeros((b.shape[0] + 2 * r, b.shape[1] + 2 * r), np.uint8)
            pad[r:r + b.shape[0], r:r + b.shape[1]] = b
            dil = cv2.dilate(pad, k).view(bool)
        out.append(MaskCrop(area, y0, x0, m, n, b, y0 - r, x0 - r, dil))
    return out


def _pair_j(cm: MaskCrop, cg: MaskCrop) -> float:
    inter = _overlap_count(cm.mask, cm.y, cm.x, cg.mask, cg.y, cg.x) if cm.area and cg.area else 0
    return region_j(inter, cm.area + cg.area - inter)


def _pair_f(cm: MaskCrop, cg: MaskCrop) -> float:
    if cm.n == 0 or cg.n == 0:
        return f_from_counts(cm.n, cg.n, 0, 0)
    fg_match = _overlap_count(cm.bmap, cm.y, cm.x, cg.dil, cg.dy, cg.dx)
    gt_match = _overlap_count(cg.bmap, cg.y, cg.x, cm.dil, cm.dy, cm.dx)
    return f_from_counts(cm.n, cg.n, fg_match, gt_match)


def _masked(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None):
    if void is None:
        return gt, pred
    return np.where(void, 0, gt).astype(gt.dtype), np.where(void, 0, pred).astype(pred.dtype)


def frame_jf(gt: np.ndarray, pred: np.ndarray, ids: Sequence[int], radius: int,
             void: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """J and F of ``pred == k`` against ``gt == k`` for every k in ``ids`` (one frame).

    ``void`` (bool HxW) pixels are excluded from both masks. Returns two float64 arrays.
    """
    if gt.shape != pred.shape:
        raise ValueError(f"shape mismatch {gt.shape} vs {pred.shape}")
    gt, pred = _masked(gt, pred, void)
    cg = mask_crops(gt, ids, radius)
    cp = mask_crops(pred, ids, radius)
    j = np.array([_pair_j(cp[k], cg[k]) for k in range(len(cg))], dtype=np.float64)
    f = np.array([_pair_f(cp[k], cg[k]) for k in range(len(cg))], dtype=np.float64)
    return j, f


def frame_jf_pairs(gt: np.ndarray, pred: np.ndarray, gt_ids: Sequence[int],
                   pred_ids: Sequence[int], radius: int,
                   void: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """J and F of every (pred id, gt id) pair in one frame: two [len(pred_ids), len(gt_ids)]."""
    if gt.shape != pred.shape:
        raise ValueError(f"shape mismatch {gt.shape} vs {pred.shape}")
    gt, pred = _masked(gt, pred, void)
    cg = mask_crops(gt, gt_ids, radius)
    cp = mask_crops(pred, pred_ids, radius)
    j = np.empty((len(cp), len(cg)))
    f = np.empty((len(cp), len(cg)))
    for a in range(len(cp)):
        for b in range(len(cg)):
            j[a, b] = _pair_j(cp[a], cg[b])
            f[a, b] = _pair_f(cp[a], cg[b])
    return j, f


def f_measure(pred_mask: np.ndarray, gt_mask: np.ndarray, void: np.ndarray | None = None,
              bound_th: float = 0.008) -> float:
    """F of two binary masks (one frame), as the official ``f_measure``."""
    pred_mask = np.asarray(pred_mask).astype(np.uint8)
    gt_mask = np.asarray(gt_mask).astype(np.uint8)
    r = boundary_radius(*gt_mask.shape, bound_th=bound_th)
    _, f = frame_jf(gt_mask, pred_mask, [1], r, void)
    return float(f[0])


def decay_bins(n: int) -> list[tuple[int, int]]:
    """The four official decay bins of an n-frame series as [start, stop) index pairs."""
    ids = (np.round(np.linspace(1, n, 5) + 1e-10) - 1).astype(np.int64)
    return [(int(ids[i]), int(ids[i + 1]) + 1) for i in range(4)]


def decay_wraps(n: int) -> bool:
    """Whether the official uint8 cast of the decay bin edges wraps for an n-frame series."""
    return n > 256


def db_statistics(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, recall, decay) of one object's per-frame J or F values (``db_statistics``)."""
    import warnings

    v = np.asarray(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = float(np.nanmean(v)) if v.size else float("nan")
        recall = float(np.nanmean(v > 0.5)) if v.size else float("nan")
        if v.size == 0:
            return mean, recall, float("nan")
        bins = decay_bins(v.size)
        first, last = v[bins[0][0]:bins[0][1]], v[bins[3][0]:bins[3][1]]
        decay = float(np.nanmean(first) - np.nanmean(last))
    return mean, recall, decay
