"""VSPW mIoU / mVC as an MMEngine metric, through ``functional.vss``."""
from __future__ import annotations

import numpy as np

from ...data_converters.base import MaskResolver
from ...errors import InputError
from ...registry import METRICS
from ..base import pct
from ..functional.vss import VC_LENGTHS, VSPW_NUM_CLASSES, shift_vspw_labels, vss_metrics, vss_video_stats
from .base import VideoMetric, gt_labels, paint, track_score


def _sparse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.flatnonzero(a)
    return idx, a.ravel()[idx]


@METRICS.register_module()
class VSSMetric(VideoMetric):
    """VSPW mIoU, mVC8, mVC16, pixel_acc, mean_class_acc, fwIoU from schema predictions.

    ``process`` gets per video ``{'gt', 'pred', 'meta'}`` (schema objects or dicts; ``meta``
    may come from ``dataset_meta``). GT frames are the annotated frames; their raw labels come
    from the ``vspw_raw`` label maps (else the tracks, id = raw class), shifted as the scorer does.
    The prediction is rendered as ``VSPWWriter`` writes it: tracks (category = raw class
    1..124) painted as ``category - 1`` in ascending score on ``fill`` (0), or, with no tracks,
    its ``class``/``vspw_raw`` label maps. ``functional.vss.vss_video_stats`` gives the video's
    confusion matrix (kept sparse) and VC window accuracies; ``compute_metrics`` pools them with
    ``vss_metrics`` as ``univs-bench evaluate vspw`` does.

    Example config::

        val_evaluator = dict(type='VSSMetric', benchmark='vspw')
    """

    benchmarks = ("vspw",)

    def __init__(self, benchmark: str = "vspw", fill: int = 0, **kwargs):
        super().__init__(benchmark, **kwargs)
        self.fill = fill

    def _pred_frame(self, pred, f, resolver):
        v = pred.video
        if pred.tracks or not pred.label_maps:
            order = sorted(pred.tracks, key=track_score)
            return paint([(t.category - 1, t) for t in order], f, resolver, v.height, v.width, fill=self.fill)
        maps = {lm.frame: lm for lm in pred.label_maps}
        if f not in maps:
            raise InputError(f"video {v.id!r} frame {v.frames[f]}: no predicted label map")
        lab = resolver.label_map(maps[f].png).astype(np.int64)
        if maps[f].encoding == "vspw_raw":
            lab = np.where((lab == 0) | (lab == 255), self.fill + 1, lab) - 1
        elif maps[f].encoding != "class":
            raise InputError(f"video {v.id!r} frame {v.frames[f]}: label map encoding {maps[f].encoding!r} "
                             f"is not 'class' or 'vspw_raw'")
        return lab

    def process_video(self, gt, pred, meta):
        v = gt.video
        for t in pred.tracks:
            if t.category is None or not 1 <= t.category <= VSPW_NUM_CLASSES:
                raise InputError(f"prediction of video {v.id!r} track {t.id}: category {t.category} is not a "
                                 f"VSPW class 1..{VSPW_NUM_CLASSES}")
        resolver = MaskResolver(meta.root)

        def frames():
            for f in v.annotated_frames():
                raw, _ = gt_labels(gt, f, resolver, ("vspw_raw",))
                p = self._pred_frame(pred, f, resolver)
                if p.shape != raw.shape:
                    raise InputError(f"video {v.id!r} frame {v.frames[f]}: prediction size "
                                     f"{p.shape[1]}x{p.shape[0]} differs from GT {raw.shape[1]}x{raw.shape[0]}")
                if p.max(initial=0) >= VSPW_NUM_CLASSES or p.min(initial=0) < 0:
                    raise InputError(f"video {v.id!r} frame {v.frames[f]}: predicted class outside "
                                     f"0..{VSPW_NUM_CLASSES - 1}")
                resolver.clear()
                yield shift_vspw_labels(raw), p

        s = vss_video_stats(frames(), VSPW_NUM_CLASSES, VC_LENGTHS)
        return {"video": v.id, "confusion": _sparse(s.confusion), "vc_accs": s.vc_accs, "frames": s.frames}

    def compute_metrics(self, results):
        self._check_results(results)
        conf = np.zeros(VSPW_NUM_CLASSES * VSPW_NUM_CLASSES, np.int64)
        for r in results:
            idx, val = r["confusion"]
            conf[idx] += val
        fr = vss_metrics(conf.reshape(VSPW_NUM_CLASSES, VSPW_NUM_CLASSES),
                         {n: [r["vc_accs"][n] for r in results] for n in VC_LENGTHS})
        return {m: pct(fr[m]) for m in self.bench.metrics}
