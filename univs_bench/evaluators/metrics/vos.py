"""Semi-supervised VOS (DAVIS 2017, MOSE: J&F; YouTube-VOS 2018: G) as an MMEngine metric.

Per-frame J and F come from ``functional.jf.frame_jf``; per-object statistics from
``evaluators.vos.object_stats``; dataset numbers from ``evaluators.vos.aggregate_jf`` /
``aggregate_ytvos``, the functions ``univs-bench evaluate`` uses. The frame loops below restate
``evaluators.vos._semi_video`` / ``_ytvos_video`` on in-memory arrays (those read folders).
"""
from __future__ import annotations

import numpy as np

from ...data_converters.base import MaskResolver
from ...errors import InputError
from ...registry import METRICS
from ..functional import jf
from ..vos import aggregate_jf, aggregate_ytvos, object_stats, read_seen
from .base import VideoMetric, gt_labels, gt_png_frames, paint, track_score


def palette_frames(gt, pred, meta, frames, template=None):
    """Yield (frame index, GT ids, predicted ids) as the official PNGs would hold them.

    The prediction is painted as ``PaletteWriter`` writes it: object id = track id, tracks in
    ascending score (the higher score wins an overlap), uint8.
    """
    v = gt.video
    for t in pred.tracks:
        if not 0 < t.id < 256 and any(m is not None for m in t.masks):
            raise InputError(f"prediction of video {v.id!r}: object id {t.id} does not fit a palette PNG")
    order = [(t.id, t) for t in sorted(pred.tracks, key=track_score)]
    resolver = MaskResolver(meta.root)
    for f in frames:
        g, _ = gt_labels(gt, f, resolver, template=template)
        p = paint(order, f, resolver, v.height, v.width)
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
        n_obj = int(np.where(first == 255, 0, first).max(initial=0))
        ids = list(range(1, n_obj + 1))
        radius = jf.boundary_radius(*first.shape)
        evaluated = frames[1:-1]
        js = np.empty((len(evaluated), n_obj))
        fs = np.empty((len(evaluated), n_obj))
        for t, (f, g, p) in enumerate(palette_frames(gt, pred, meta, evaluated, template)):
            if g.max(initial=0) == 255:
                g = np.where(g == 255, 0, g).astype(g.dtype, copy=False)
            top = int(p.max(initial=0))
            if top > n_obj:
                raise InputError(f"prediction of video {v.id!r} frame {v.frames[f]}: object id {top} > {n_obj} "
                                 f"objects in GT (the official tool aborts)")
            js[t], fs[t] = jf.frame_jf(g, p, ids, radius)
        return {"video": v.id, "objects": {str(k): object_stats(js[:, k - 1], fs[:, k - 1]) for k in ids}}

    def _ytvos(self, gt, pred, meta):
        v = gt.video
        names = {c.id: c.name for c in meta.categories}
        objects = {}
        for t in gt.tracks:
            if t.category not in names:
                raise InputError(f"GT video {v.id!r} object {t.id}: category {t.category} has no name in the "
                                 f"metainfo")
            objects[t.id] = names[t.category]
        known = sorted(objects)
        top = max(known, default=0)
        started: set[int] = set()
        series = {k: ([], []) for k in known}
        radius = jf.boundary_radius(v.height, v.width)
        frames, template = gt_png_frames(gt, meta)
        for f, g, p in palette_frames(gt, pred, meta, frames, template):
            active = [k for k in known if k in started]
            if active:
                pmax = int(p.max(initial=0))
                if pmax > top:
                    raise InputError(f"prediction of video {v.id!r} frame {v.frames[f]}: object id {pmax} > {top} "
                                     f"objects of the video")
                j, fr = jf.frame_jf(g, p, active, radius)
                for a, k in enumerate(active):
                    series[k][0].append(j[a])
                    series[k][1].append(fr[a])
            for k in np.unique(g).tolist():
                if k == 0 or k in started:
                    continue
                if k not in objects:
                    raise InputError(f"GT video {v.id!r} frame {v.frames[f]}: object id {k} has no track")
                started.add(k)
        out = {str(k): {"J": float(np.mean(js)), "F": float(np.mean(fs)), "category": objects[k], "n": len(js)}
               for k, (js, fs) in series.items() if js}
        return {"video": v.id, "objects": out}

    def compute_metrics(self, results):
        self._check_results(results)
        if self.benchmark != "davis17":  # the CLI lists MOSE/YouTube-VOS folders sorted, DAVIS by split file
            results = sorted(results, key=lambda r: r["video"])
        per_video = {r["video"]: r["objects"] for r in results}
        if self.benchmark == "ytvos18":
            return aggregate_ytvos(per_video, self.seen)
        return aggregate_jf(per_video)
