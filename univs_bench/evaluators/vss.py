"""Video semantic segmentation: VSPW (mIoU, mVC8, mVC16, pixel_acc, mean_class_acc, fwIoU).

Reads the VSPW layout as VSPW_code's ``evaluator_test.py`` and ``VC_perclip.py`` do: videos from the
split file (``val.txt`` in the GT root, ``options['split']`` overrides), GT frames are the sorted
PNGs of ``data/<video>/mask/``, the prediction of a frame is ``<pred>/<video>/<frame>.png`` with
class indices 0..123. GT is shifted before scoring (``functional.vss.shift_vspw_labels``).
A prediction value above 123 is an error here (the official confusion matrix would be corrupted
or crash). Each video is read once, a frame at a time; all metrics come from that one pass.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from .base import EvalResult, map_videos, pct
from .functional.vss import (
    VC_LENGTHS,
    VSPW_NUM_CLASSES,
    shift_vspw_labels,
    vss_metrics,
    vss_video_stats,
)


def read_split(path: str | os.PathLike) -> list[str]:
    """Video names, one per line (blank lines skipped)."""
    from ..io.files import read_regular
    text = read_regular(path, "split file").decode("utf-8", "replace")
    names = [n for n in (line.strip() for line in text.splitlines()) if n]
    if not names:
        raise InputError(f"{path}: split file lists no video")
    return names


def _read_png(path: str, shape: tuple[int, int] | None = None, what: str = "file",
              ref: str = "GT") -> np.ndarray:
    from ..io.png import read_label_png
    return read_label_png(path, shape=shape, what=what, ref=ref)


def _frames(video: str, gt_dir: str, pred_dir: str, names: list[str]):
    """Yield (shifted GT, prediction) per frame, validating the prediction file."""
    for name in names:
        gt = _read_png(os.path.join(gt_dir, name), None, "GT frame")
        pred_path = os.path.join(pred_dir, name)
        pred = _read_png(pred_path, gt.shape, f"prediction of frame {name} of video {video!r}")
        top = int(pred.max(initial=0))
        if top >= VSPW_NUM_CLASSES:
            raise InputError(f"{pred_path}: class index {top} > {VSPW_NUM_CLASSES - 1} "
                             f"(predictions hold VSPW classes 0..{VSPW_NUM_CLASSES - 1})")
        yield shift_vspw_labels(gt), pred


def _vspw_video(item: tuple[str, str, str]):
    """One video -> VssVideoStats (confusion matrix and VC window accuracies)."""
    video, gt_dir, pred_dir = item
    from ..io.files import require_folder
    require_folder(gt_dir, f"GT mask folder of video {video!r}")
    names = sorted(n for n in os.listdir(gt_dir) if n.endswith(".png") and not n.startswith("."))
    if not names:
        raise InputError(f"{gt_dir}: no GT frame for video {video!r}")
    require_folder(pred_dir, f"prediction folder of video {video!r}")
    return vss_video_stats(_frames(video, gt_dir, pred_dir, names), VSPW_NUM_CLASSES, VC_LENGTHS)


def vss_sufficient(s) -> dict:
    """What pooled metrics need of one video, as JSON: per class with any pixel the confusion
    diagonal, GT and predicted pixel counts (``confusion``), and per VC length the sum and count
    of its defined window accuracies (``vc``)."""
    conf = np.asarray(s.confusion, dtype=np.int64)
    rows, cols = conf.sum(axis=1), conf.sum(axis=0)
    cls = np.flatnonzero((rows > 0) | (cols > 0))
    vc = {}
    for n in VC_LENGTHS:
        a = np.asarray(s.vc_accs[n], dtype=np.float64)
        a = a[~np.isnan(a)]
        vc[str(n)] = [float(a.sum()), int(a.size)]
    return {"confusion": {"classes": cls.tolist(), "inter": np.diag(conf)[cls].tolist(),
                          "gt": rows[cls].tolist(), "pred": cols[cls].tolist(),
                          "total": int(conf.sum())},
            "vc": vc}


def evaluate_files(benchmark: str, gt_path: str, pred_path: str, *, workers: int = 1,
                   task: str | None = None, options: dict | None = None) -> EvalResult:
    """Score VSPW predictions (CONTRACT.md layout) -> mIoU, mVC8, mVC16, pixel_acc, ... (percent)."""
    options = options or {}
    split = options.get("split") or os.path.join(gt_path, "val.txt")
    videos = read_split(split)
    from .vos import check_prediction_videos
    check_prediction_videos(pred_path, videos)
    items = [(v, os.path.join(gt_path, "data", v, "mask"), os.path.join(pred_path, v)) for v in videos]
    stats = map_videos(_vspw_video, items, workers=workers, desc="vspw")
    conf = np.sum([s.confusion for s in stats], axis=0)
    fr = vss_metrics(conf, {n: [s.vc_accs[n] for s in stats] for n in VC_LENGTHS})
    metrics = {name: pct(fr[name]) for name in
               ("mIoU", "mVC8", "mVC16", "pixel_acc", "mean_class_acc", "fwIoU")}
    per_video = {}
    for v, s in zip(videos, stats):
        own = vss_metrics(s.confusion, {n: [s.vc_accs[n]] for n in VC_LENGTHS})
        per_video[v] = {"frames": s.frames, "mIoU": pct(own["mIoU"]),
                        **{f"VC{n}": pct(own[f"mVC{n}"]) for n in VC_LENGTHS},
                        **{f"VC{n}_windows": len(s.vc_accs[n]) for n in VC_LENGTHS},
                        **vss_sufficient(s)}
    return EvalResult(metrics=metrics, per_video=per_video,
                      extra={"num_videos": len(videos), "frames": int(sum(s.frames for s in stats))})
