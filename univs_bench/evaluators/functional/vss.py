"""VSPW kernels: the class confusion matrix, video-consistency (VC) windows, and the metrics.

Facts verified in VSPW_code (``evaluator_test.py``, ``utils.py`` ``Evaluator``, ``VC_perclip.py``):

- the confusion matrix counts pixels whose GT is in 0..num_classes-1 (``gt * C + pred``, bincount);
- mIoU averages IoU over the classes with GT pixels (``isval``), so predicted-only classes are dropped;
  mean class accuracy is a nanmean over rows, fwIoU weights IoU by GT frequency;
- VC_n: for a video of T > n frames, windows start at 0 .. T-n-1 (``range(len - n)``: the last possible
  start is not used); G = pixels whose GT is equal in all n frames, Q = the same for the prediction;
  acc = |G & Q| / |G| (NaN when |G| = 0); the score is ``np.nanmean`` over all windows of all videos.
  Void is not excluded and the prediction is never compared with the GT.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

VSPW_NUM_CLASSES = 124
VSPW_IGNORE = 255
VC_LENGTHS = (8, 16)


def shift_vspw_labels(raw: np.ndarray) -> np.ndarray:
    """Raw VSPW mask (0 others, 1..124 classes, 255 void) -> 0..123 classes, 255 ignored.

    0 -> 255 and v -> v - 1, then 254 (raw void) -> 255, as the VSPW training/eval pipelines
    do (``clsid2label = {0: 255, 254: 255}`` after the shift). Other values keep ``v - 1``.
    """
    raw = np.asarray(raw)
    if raw.dtype == np.uint8:
        out = raw - np.uint8(1)  # wraps 0 -> 255
    else:
        out = raw.astype(np.int64) - 1
        out[raw == 0] = VSPW_IGNORE
    out[out == 254] = VSPW_IGNORE
    return out


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int = VSPW_NUM_CLASSES) -> np.ndarray:
    """num_classes x num_classes int64 counts (rows GT, columns prediction) of pixels with GT class.

    ``pred`` must hold values in 0..num_classes-1 (checked by the readers).
    """
    gt = np.asarray(gt).ravel()
    pred = np.asarray(pred).ravel()
    if gt.dtype == np.uint8:  # no mask copy: GT rows >= num_classes land in bins that are cut off
        idx = gt.astype(np.intp) * num_classes + pred
        counts = np.bincount(idx, minlength=256 * num_classes)[: num_classes * num_classes]
    else:
        keep = (gt >= 0) & (gt < num_classes)
        idx = num_classes * gt[keep].astype(np.intp) + pred[keep]
        counts = np.bincount(idx, minlength=num_classes * num_classes)
    return counts.astype(np.int64).reshape(num_classes, num_classes)


@dataclass
class VssVideoStats:
    """Sufficient statistics of one video: its confusion matrix and every VC window accuracy."""

    confusion: np.ndarray
    vc_accs: dict[int, np.ndarray] = field(default_factory=dict)
    frames: int = 0


class _RunTracker:
    """Per-pixel length of the run of equal values ending at the current frame (in transitions)."""

    def __init__(self, cap: int):
        self.cap = cap
        self.prev = None
        self.run = None

    def push(self, frame: np.ndarray) -> np.ndarray:
        if self.prev is None:
            self.run = np.zeros(frame.shape, dtype=np.uint16)
        else:
            np.add(self.run, 1, out=self.run)
            np.minimum(self.run, self.cap, out=self.run)  # capped: only ">= n - 1" is ever asked
            self.run *= frame == self.prev
        self.prev = frame
        return self.run


def vss_video_stats(frames: Iterable[tuple[np.ndarray, np.ndarray]], num_classes: int = VSPW_NUM_CLASSES,
                    vc_lengths: Iterable[int] = VC_LENGTHS) -> VssVideoStats:
    """Stream one video's (shifted GT, prediction) frames, in sorted frame order, into statistics.

    A window [i, i+n-1] has constant GT at a pixel iff the run of equal GT values ending at frame
    i+n-1 is at least n-1 transitions long, so every window of every length comes from one pass
    holding two frames. The window ending at the last frame (start T-n) is dropped, as the
    official ``range(len(frames) - n)`` does; videos with T <= n frames give no window.
    """
    lengths = tuple(int(n) for n in vc_lengths)
    cap = max(lengths, default=1)
    conf = np.zeros((num_classes, num_classes), dtype=np.int64)
    gt_runs, pred_runs = _RunTracker(cap), _RunTracker(cap)
    accs: dict[int, list[float]] = {n: [] for n in lengths}
    t = -1
    for t, (gt, pred) in enumerate(frames):
        conf += confusion_matrix(gt, pred, num_classes)
        rg, rp = gt_runs.push(gt), pred_runs.push(pred)
        for n in lengths:
            if t >= n - 1:
                g = rg >= n - 1
                n_g = int(np.count_nonzero(g))
                n_gq = int(np.count_nonzero(g & (rp >= n - 1)))
                accs[n].append(n_gq / n_g if n_g else float("nan"))
    # the window ending at the last frame is the one the official loop leaves out
    vc = {n: np.asarray(a[:-1], dtype=np.float64) for n, a in accs.items()}
    return VssVideoStats(confusion=conf, vc_accs=vc, frames=t + 1)


def vss_metrics(confusion: np.ndarray, vc_accs: dict[int, list[np.ndarray]] | None = None) -> dict[str, float]:
    """Fractions (NaN where undefined): mIoU, pixel_acc, mean_class_acc, fwIoU, and mVC<n> per length.

    ``confusion`` is pooled over all frames of all videos; ``vc_accs[n]`` lists every video's
    window accuracies, pooled before the nanmean (so long videos weigh more, as officially).
    """
    conf = np.asarray(confusion, dtype=np.float64)
    diag = np.diag(conf)
    rows, cols = conf.sum(axis=1), conf.sum(axis=0)
    total = conf.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = diag / (rows + cols - diag)
        has_gt = rows > 0
        out = {
            "mIoU": float(iou[has_gt].mean()) if has_gt.any() else float("nan"),
            "pixel_acc": float(diag.sum() / total) if total else float("nan"),
            "mean_class_acc": float(np.mean((diag / rows)[has_gt])) if has_gt.any() else float("nan"),
            "fwIoU": float(((rows / total) * iou)[has_gt].sum()) if total else float("nan"),
        }
    for n, per_video in (vc_accs or {}).items():
        a = np.concatenate([np.asarray(x, dtype=np.float64) for x in per_video]) if per_video else np.zeros(0)
        a = a[~np.isnan(a)]
        out[f"mVC{n}"] = float(a.mean()) if a.size else float("nan")
    return out
