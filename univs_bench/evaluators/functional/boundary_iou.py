"""Mask IoU and boundary IoU per object and frame, as VIPOSeg's ``vop_eval.py`` computes them.

Facts from yoxu515/VIPOSeg-Benchmark (``vop_eval.py`` ``eval_iou``, ``utils.py``
``mask_to_boundary`` / ``boundary_iou``), reproduced exactly (tests/test_eval_pvos.py):

- both masks empty: IoU = bIoU = 1; exactly one empty: 0 and 0;
- otherwise IoU = |G ∩ P| / |G ∪ P| and bIoU = |B(G) ∩ B(P)| / |B(G) ∪ B(P)| (0 if that union is
  empty), B(M) = M minus its erosion by a 3x3 square applied d = max(1, round(0.02 * diag))
  times to M zero-padded by one pixel (so the image border counts as outside).

The erosion runs on the union bounding box of both masks, zero-padded by one pixel: a square
that leaves the box meets a non-mask pixel either way, so the result is the full-frame one.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["erosion_iterations", "frame_iou_biou", "iou_biou", "mask_to_boundary"]


def erosion_iterations(height: int, width: int, dilation_ratio: float = 0.02) -> int:
    """d = max(1, round(dilation_ratio * sqrt(H² + W²))), Python round (half to even)."""
    return max(1, round(dilation_ratio * math.sqrt(height ** 2 + width ** 2)))


def mask_to_boundary(mask: np.ndarray, iterations: int) -> np.ndarray:
    """Inner boundary band of a binary mask (bool): mask minus its erosion, border = outside."""
    import cv2

    m = np.ascontiguousarray(mask, dtype=bool).view(np.uint8)
    padded = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=iterations)[1:-1, 1:-1]
    return m.astype(bool) & ~eroded.astype(bool)


def iou_biou(gt: np.ndarray, pred: np.ndarray, iterations: int) -> tuple[float, float]:
    """(IoU, bIoU) of two binary masks of one frame, official special cases included."""
    import cv2

    g = np.ascontiguousarray(gt, dtype=bool)
    p = np.ascontiguousarray(pred, dtype=bool)
    gx, gy, gw, gh = cv2.boundingRect(g.view(np.uint8))
    px, py, pw, ph = cv2.boundingRect(p.view(np.uint8))
    g_empty, p_empty = gw == 0, pw == 0
    if g_empty and p_empty:
        return 1.0, 1.0
    if g_empty or p_empty:
        return 0.0, 0.0
    y0, x0 = min(gy, py), min(gx, px)
    y1, x1 = max(gy + gh, py + ph), max(gx + gw, px + pw)
    gc, pc = g[y0:y1, x0:x1], p[y0:y1, x0:x1]
    inter = int(np.count_nonzero(gc & pc))
    union = int(np.count_nonzero(gc | pc))
    iou = inter / union
    bg, bp = mask_to_boundary(gc, iterations), mask_to_boundary(pc, iterations)
    b_union = int(np.count_nonzero(bg | bp))
    biou = 0.0 if b_union == 0 else int(np.count_nonzero(bg & bp)) / b_union
    return float(iou), float(biou)


def frame_iou_biou(gt: np.ndarray, pred: np.ndarray, ids: Sequence[int],
                   iterations: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, bIoU) of ``pred == k`` against ``gt == k`` for every k in ``ids`` (one frame)."""
    if gt.shape != pred.shape:
        raise ValueError(f"shape mismatch {gt.shape} vs {pred.shape}")
    d = erosion_iterations(*gt.shape) if iterations is None else iterations
    iou = np.empty(len(ids))
    biou = np.empty(len(ids))
    for a, k in enumerate(ids):
        iou[a], biou[a] = iou_biou(gt == k, pred == k, d)
    return iou, biou
