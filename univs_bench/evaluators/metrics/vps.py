"""VIPSeg VPQ / STQ as an MMEngine metric, through ``functional.vps`` and ``evaluators.vps.vipseg_metrics``."""
from __future__ import annotations

import numpy as np

from ...data_converters.base import MaskResolver
from ...data_converters.vps import VIPSegWriter
from ...errors import InputError
from ...registry import METRICS
from ..functional.vps import VIPSEG_NUM_CLASSES, VPQ_WINDOWS, FrameTable, frame_segments, pair_table, vps_video_stats
from ..vps import convert_raw_frame, vipseg_metrics
from .base import VideoMetric, dense, gt_labels, sparse


class _Stats:
    """One video's kept statistics as ``vipseg_metrics`` reads them (confusion densified on read)."""

    def __init__(self, r: dict):
        self.pq, self.aq_sum, self.tubes, self._stq = r["pq"], r["aq_sum"], r["tubes"], r["stq"]

    @property
    def stq_confusion(self) -> np.ndarray:
        return dense(self._stq, (VIPSEG_NUM_CLASSES + 1,) * 2)


@METRICS.register_module()
class VPSMetric(VideoMetric):
    """VIPSeg VPQ (windows 1/2/4/6/8), VPQ_th, VPQ_st, STQ, AQ, SQ from schema predictions.

    ``process`` gets per video ``{'gt', 'pred', 'meta'}`` (schema objects or dicts; ``meta``
    may come from ``dataset_meta``; its categories say thing/stuff). GT frames are the annotated
    frames: a ``vipseg_raw`` label map is converted as the scorer converts raw panomasks
    (``evaluators.vps.convert_raw_frame``); a ``panoptic_rgb`` label map (or the tracks painted
    by id) gives the ids, and the GT tracks present in the frame its segments, listed by
    (category, id) as the official json lists them, area = pixel count. The prediction is
    rendered as ``VIPSegWriter`` writes it (stuff id = category + 1, things 1000 + j, painted in
    ascending score, segments = the ids present). ``functional.vps.vps_video_stats`` gives the
    per-video sums; ``compute_metrics`` combines them as ``univs-bench evaluate vipseg`` does.

    Example config::

        val_evaluator = dict(type='VPSMetric', benchmark='vipseg')
    """

    benchmarks = ("vipseg",)

    def __init__(self, benchmark: str = "vipseg", **kwargs):
        super().__init__(benchmark, **kwargs)

    def _gt_frame(self, gt, f, resolver, cats):
        v = gt.video
        ids, enc = gt_labels(gt, f, resolver, ("vipseg_raw", "panoptic_rgb"))
        if enc == "vipseg_raw":
            return convert_raw_frame(ids, f"video {v.id!r} frame {v.frames[f]}")
        ids = ids.astype(np.int64)
        uniq, cnt = np.unique(ids, return_counts=True)
        area = dict(zip(uniq.tolist(), cnt.tolist()))
        entries = []
        for t in sorted(gt.tracks, key=lambda t: (t.category, t.id)):
            if t.masks[f] is None:
                continue
            if t.category not in cats:
                raise InputError(f"GT video {v.id!r} track {t.id}: category {t.category} not among the categories")
            entries.append((t.id, t.category, int(bool(t.iscrowd)), area.get(t.id, 0)))
        return ids, entries

    def process_video(self, gt, pred, meta):
        v = gt.video
        cats = {c.id: bool(c.isthing) for c in meta.categories}
        if not cats:
            raise InputError(f"video {v.id!r}: the metainfo lists no categories")
        bad = [c for c in cats if not 0 <= c < VIPSEG_NUM_CLASSES]
        if bad:
            raise InputError(f"metainfo: category id {bad[0]} outside 0..{VIPSEG_NUM_CLASSES - 1}")
        resolver = MaskResolver(meta.root)
        segments, cat_of = VIPSegWriter.segments(pred, cats)
        tables = []
        for f in v.annotated_frames():
            g_ids, g_list = self._gt_frame(gt, f, resolver, cats)
            p_ids = None  # the previous frame's buffer is freed before this one is painted, so reused
            p_ids = VIPSegWriter.render_frame(pred, segments, f, resolver)
            resolver.clear()
            if p_ids.shape != g_ids.shape:
                raise InputError(f"video {v.id!r} frame {v.frames[f]}: prediction size differs from GT")
            p_list = [(s, c, 0, 0) for s, c in VIPSegWriter.segments_info(p_ids, cat_of)]
            g, p, c = pair_table(g_ids, p_ids)
            tables.append(FrameTable(g, p, c, frame_segments(g_list), frame_segments(p_list)))
        things = [k for k, th in cats.items() if th]
        try:
            s = vps_video_stats(tables, things, VPQ_WINDOWS, VIPSEG_NUM_CLASSES)
        except ValueError as e:
            raise InputError(f"GT of video {v.id!r}: {e}") from None
        return {"video": v.id, "cats": sorted(cats.items()), "pq": s.pq, "stq": sparse(s.stq_confusion),
                "aq_sum": s.aq_sum, "tubes": s.tubes, "frames": s.frames}

    def compute_metrics(self, results):
        self._check_results(results)
        return vipseg_metrics([_Stats(r) for r in results], dict(results[0]["cats"]))
