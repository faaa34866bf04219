"""VIPOSeg G (thing/stuff x seen/unseen) as an MMEngine metric.

Each video is scored by ``evaluators.pvos.viposeg_video_stats``, the per-video kernel of
``univs-bench evaluate``, on in-memory frames; dataset numbers come from
``evaluators.pvos.aggregate_viposeg``. Predictions are rendered as ``PaletteWriter`` writes them.
"""
from __future__ import annotations

import numpy as np

from ...errors import InputError
from ...registry import METRICS
from ..pvos import aggregate_viposeg, viposeg_video_stats
from .base import VideoMetric, gt_png_frames
from .vos import palette_frames


@METRICS.register_module()
class PVOSMetric(VideoMetric):
    """VIPOSeg G, G_<subset>, IoU_<subset>, bIoU_<subset> from schema predictions.

    ``process`` gets per video ``{'gt', 'pred', 'meta'}`` (schema objects or dicts; ``meta`` may
    come from ``dataset_meta``). GT frames are the annotated frames (``Annotations_gt``); the
    reference masks are the GT's mask prompts (object = ``target``, on frame ``frame``): after a
    frame is scored, the objects referenced on it join the scored list, as ``vop_eval.py`` does
    with the reference PNGs. An object's class is its GT track's category (``obj_class.json``).
    The prediction is painted as ``PaletteWriter`` writes it.

    Example config::

        val_evaluator = dict(type='PVOSMetric', benchmark='viposeg')
    """

    benchmarks = ("viposeg",)

    def __init__(self, benchmark: str = "viposeg", **kwargs):
        super().__init__(benchmark, **kwargs)

    def process_video(self, gt, pred, meta):
        v = gt.video
        classes = {t.id: t.category for t in gt.tracks}
        refs: dict[int, set] = {}
        for p in gt.prompts:
            if p.kind == "mask" and p.target is not None and p.frame is not None:
                refs.setdefault(p.frame, set()).add(p.target)

        def ref_classes(f):
            out = []
            for k in sorted(refs.get(f, ())):
                if classes.get(k) is None:
                    raise InputError(f"GT video {v.id!r}: reference object {k} has no class (no GT track "
                                     f"with a category)")
                out.append((k, int(classes[k])))
            return out

        frames, template = gt_png_frames(gt, meta)

        def gen():
            for f, label, pr in palette_frames(gt, pred, meta, frames, template):
                if label.dtype != np.uint8:  # painted from the tracks, not read from a PNG
                    if label.max(initial=0) > 255:
                        raise InputError(f"GT video {v.id!r} frame {v.frames[f]}: object ids above 255")
                    label = label.astype(np.uint8)
                yield label, pr, ref_classes(f)

        return {"video": v.id, **viposeg_video_stats(v.id, gen())}

    def compute_metrics(self, results):
        self._check_results(results)
        out = aggregate_viposeg(sorted(results, key=lambda r: r["video"]))
        return {m: out[m] for m in self.bench.metrics}
