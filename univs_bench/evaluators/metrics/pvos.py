"""VIPOSeg G (thing/stuff x seen/unseen) as an MMEngine metric.

Per-frame IoU and boundary IoU come from ``functional.boundary_iou.frame_iou_biou``, the dataset
numbers from ``evaluators.pvos.aggregate_viposeg``; the frame loop restates
``evaluators.pvos._viposeg_video`` on in-memory arrays (that one reads folders).
"""
from __future__ import annotations

import numpy as np

from ...errors import InputError
from ...metainfo.viposeg import SUBSETS, viposeg_subset
from ...registry import METRICS
from ..functional.boundary_iou import erosion_iterations, frame_iou_biou
from ..pvos import aggregate_viposeg
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
        obj_ids: list[int] = []
        subset_of: dict[int, str | None] = {}
        sums = {s: [0.0, 0.0, 0] for s in SUBSETS}
        per_obj: dict[int, list] = {}
        d = None
        frames, template = gt_png_frames(gt, meta)
        for f, label, pr in palette_frames(gt, pred, meta, frames, template):
            if label.dtype != np.uint8:  # painted from the tracks, not read from a PNG
                if label.max(initial=0) > 255:
                    raise InputError(f"GT video {v.id!r} frame {v.frames[f]}: object ids above 255")
                label = label.astype(np.uint8)
            if d is None:
                d = erosion_iterations(*label.shape)
            if obj_ids:
                iou, biou = frame_iou_biou(label, pr, obj_ids, d)
                for k, a, b in zip(obj_ids, iou.tolist(), biou.tolist()):
                    s = subset_of[k]
                    if s is None:
                        continue
                    acc = sums[s]
                    acc[0] += a
                    acc[1] += b
                    acc[2] += 1
                    o = per_obj.setdefault(k, [0.0, 0.0, 0])
                    o[0] += a
                    o[1] += b
                    o[2] += 1
            for k in sorted(refs.get(f, ())):
                if classes.get(k) is None:
                    raise InputError(f"GT video {v.id!r}: reference object {k} has no class (no GT track "
                                     f"with a category)")
                subset_of[k] = viposeg_subset(int(classes[k]), v.id)
                obj_ids.append(k)
        objects = {str(k): {"IoU": o[0] / o[2], "bIoU": o[1] / o[2], "subset": subset_of[k], "frames": o[2]}
                   for k, o in sorted(per_obj.items())}
        return {"video": v.id, "sums": sums, "objects": objects}

    def compute_metrics(self, results):
        self._check_results(results)
        out = aggregate_viposeg(sorted(results, key=lambda r: r["video"]))
        return {m: out[m] for m in self.bench.metrics}
