"""VSPW mIoU / mVC as an MMEngine metric, through ``functional.vss``."""
from __future__ import annotations

import numpy as np

from ...data_converters.base import MaskResolver
from ...data_converters.vss import VSPWWriter
from ...errors import InputError
from ...registry import METRICS
from ..base import pct
from ..functional.vss import VC_LENGTHS, VSPW_NUM_CLASSES, shift_vspw_labels, vss_metrics, vss_video_stats
from .base import VideoMetric, gt_labels, sparse


@METRICS.register_module()
class VSSMetric(VideoMetric):
    """VSPW mIoU, mVC8, mVC16, pixel_acc, mean_class_acc, fwIoU from schema predictions.

    ``process`` gets per video ``{'gt', 'pred', 'meta'}`` (schema objects or dicts; ``meta``
    may come from ``dataset_meta``). GT frames are the annotated frames; their raw labels come
    from the ``vspw_raw`` label maps (else the tracks, id = raw class), shifted as the scorer does.
    The prediction is rendered by ``VSPWWriter.render_frame`` (``fill``: the writer's): tracks
    (category = raw class 1..124) painted as ``category - 1`` in ascending score on ``fill`` (0),
    or, with no tracks, its ``class``/``vspw_raw`` label maps. ``functional.vss.vss_video_stats``
    gives the video's confusion matrix (kept sparse) and VC window accuracies;
    ``compute_metrics`` pools them with ``vss_metrics`` as ``univs-bench evaluate vspw`` does.

    Example config::

        val_evaluator = dict(type='VSSMetric', benchmark='vspw')
    """

    benchmarks = ("vspw",)

    def __init__(self, benchmark: str = "vspw", fill: int = 0, **kwargs):
        super().__init__(benchmark, **kwargs)
        self.fill = fill
        self.writer = VSPWWriter(fill=fill)

    def process_video(self, gt, pred, meta):
        v = gt.video
        self.writer.check_categories(pred)
        resolver = MaskResolver(meta.root)

        def frames():
            for f in v.annotated_frames():
                raw, _ = gt_labels(gt, f, resolver, ("vspw_raw",))
                p = self.writer.render_frame(pred, meta, f, resolver)
                if p.shape != raw.shape:
                    raise InputError(f"video {v.id!r} frame {v.frames[f]}: prediction size "
                                     f"{p.shape[1]}x{p.shape[0]} differs from GT {raw.shape[1]}x{raw.shape[0]}")
                resolver.clear()
                yield shift_vspw_labels(raw), p

        s = vss_video_stats(frames(), VSPW_NUM_CLASSES, VC_LENGTHS)
        return {"video": v.id, "confusion": sparse(s.confusion), "vc_accs": s.vc_accs, "frames": s.frames}

    def compute_metrics(self, results):
        self._check_results(results)
        conf = np.zeros(VSPW_NUM_CLASSES * VSPW_NUM_CLASSES, np.int64)
        for r in results:
            idx, val = r["confusion"]
            conf[idx] += val
        fr = vss_metrics(conf.reshape(VSPW_NUM_CLASSES, VSPW_NUM_CLASSES),
                         {n: [r["vc_accs"][n] for r in results] for n in VC_LENGTHS})
        return {m: pct(fr[m]) for m in self.bench.metrics}
