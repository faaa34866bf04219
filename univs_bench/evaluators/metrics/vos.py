"""Semi-supervised VOS (DAVIS 2017, MOSE: J&F; YouTube-VOS 2018: G) as an MMEngine metric.

Each video is scored by ``evaluators.vos.semi_video_stats`` / ``ytvos_video_stats``, the
per-video kernels of ``univs-bench evaluate``, on in-memory frames; dataset numbers come from
``evaluators.vos.aggregate_jf`` / ``aggregate_ytvos``. Predictions are rendered by
``PaletteWriter.render_frame``.
"""
from __future__ import annotations

from ...data_converters.base import MaskResolver
from ...data_converters.vos import PaletteWriter
from ...errors import InputError
from ...registry import METRICS
from ..vos import aggregate_jf, aggregate_ytvos, read_seen, semi_video_stats, ytvos_video_stats
from .base import VideoMetric, gt_labels, gt_png_frames


def palette_frames(gt, pred, meta, frames, template=None):
    """Yield (frame index, GT ids, predicted ids) as the official PNGs would hold them.

    The prediction is what ``PaletteWriter`` writes: object id = track id, tracks in ascending
    score (the higher score wins an overlap), uint8.
    """
    v = gt.video
    for t in pred.tracks:
        if not 0 < t.id < 256 and any(m is not None for m in t.masks):
            raise InputError(f"prediction of video {v.id!r}: object id {t.id} does not fit a palette PNG")
    writer = PaletteWriter()
    resolver = MaskResolver(meta.root)
    for f in frames:
        g, _ = gt_labels(gt, f, resolver, template=template)
        p = writer.render_frame(pred, meta, f, resolver)
        resolver.clear()
        if g.shape != p.shape:
            raise InputError(f"video {v.id!r} frame {v.frames[f]}: GT size {g.shape[1]}x{g.shape[0]} differs from "
                             f"the video's {v.width}x{v.height}")
        yield f, g, p


@METRICS.register_module()
class VOSMetric(VideoMetric):
    """J&F of DAVIS 2017 / MOSE (DAVIS semi-supervised protocol) and G of YouTube-VOS 2018.

    ``process`` gets per video ``{'gt', 'pred', 'meta'}`` (schema objects or dicts; ``meta`` may
    come from ``dataset_meta``). GT frames are the annotated frames, each read from the PNG its
    track masks reference (void kept; the ``{annotations}`` folder of ``meta.extra`` for a frame
    without objects), else painted from the tracks. Predicted tracks are painted as the palette
    PNGs ``PaletteWriter`` writes (id = track id, higher score on top).

    - ``davis17``/``mose``: objects 1..K (K = largest id of the first GT frame), first and last
      frame dropped, ids above K in a prediction are an error; per-object J/F statistics.
    - ``ytvos18``: each object scored from the annotated frame after it first appears to the
      last annotated frame; seen/unseen by category name (``seen``: a file as
      ``univs-bench evaluate --seen``, default the 65 training categories). Object categories are
      ``meta.categories`` names of the GT tracks' category ids.

    Example config::

        val_evaluator = dict(type='VOSMetric', benchmark='davis17')
    """

    benchmarks = ("davis17", "mose", "ytvos18")

    def __init__(self, benchmark: str = "davis17", seen: str | None = None, **kwargs):
        super().__init__(benchmark, **kwargs)
        self.seen = read_seen(seen) if benchmark == "ytvos18" else None

    def process_video(self, gt, pred, meta):
        if self.benchmark == "ytvos18":
            return self._ytvos(gt, pred, meta)
        return self._semi(gt, pred, meta)

    def _semi(self, gt, pred, meta):
        v = gt.video
        frames, template = gt_png_frames(gt, meta, meta.extra.get("annotations"))
        if len(frames) < 3:
            raise InputError(f"video {v.id!r} has {len(frames)} GT frame(s); the DAVIS protocol drops the "
                             f"first and last frame and needs at least 3")
        first, _ = gt_labels(gt, frames[0], MaskResolver(meta.root), template=template)
        evaluated = ((f"prediction of video {v.id!r} frame {v.frames[f]}", g, p)
                     for f, g, p in palette_frames(gt, pred, meta, frames[1:-1], template))
        return {"video": v.id, "objects": semi_video_stats(v.id, first, evaluated)}

    def _ytvos(self, gt, pred, meta):
        v = gt.video
        names = {c.id: c.name for c in meta.categories}
        objects = {}
        for t in gt.tracks:
            if t.category not in names:
                raise InputError(f"GT video {v.id!r} object {t.id}: category {t.category} has no name in the "
                                 f"metainfo")
            objects[t.id] = names[t.category]
        frames, template = gt_png_frames(gt, meta)
        painted = ((f"GT video {v.id!r} frame {v.frames[f]}", g, f"prediction of video {v.id!r} frame {v.frames[f]}",
                    lambda p=p: p) for f, g, p in palette_frames(gt, pred, meta, frames, template))
        return {"video": v.id, "objects": ytvos_video_stats(v.id, objects, painted, "the GT tracks")}

    def compute_metrics(self, results):
        self._check_results(results)
        if self.benchmark != "davis17":  # the CLI lists MOSE/YouTube-VOS folders sorted, DAVIS by split file
            results = sorted(results, key=lambda r: r["video"])
        per_video = {r["video"]: r["objects"] for r in results}
        if self.benchmark == "ytvos18":
            return aggregate_ytvos(per_video, self.seen)
        return aggregate_jf(per_video)
