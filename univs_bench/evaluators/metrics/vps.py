"""VIPSeg VPQ / STQ as an MMEngine metric, through ``functional.vps``."""
from __future__ import annotations

import numpy as np

from ...data_converters.base import MaskResolver
from ...errors import InputError
from ...registry import METRICS
from ..base import nan_to_none, pct
from ..functional.vps import (
    VIPSEG_NUM_CLASSES,
    VPQ_WINDOWS,
    FrameTable,
    frame_segments,
    pair_table,
    pq_from_stats,
    stq_from_stats,
    vps_video_stats,
)
from ..vps import METRICS as VPS_METRICS
from ..vps import convert_raw_frame
from .base import VideoMetric, gt_labels, track_score

THING_ID_BASE = 1000  # as data_converters.vps.VIPSegWriter numbers thing segments


def _sparse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.flatnonzero(a)
    return idx, a.ravel()[idx]


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

    def _pred_render(self, pred, cats):
        v = pred.video
        seg_ids, n_things = [], 0
        for t in pred.tracks:
            if t.category not in cats:
                raise InputError(f"prediction of video {v.id!r} track {t.id}: category {t.category} is not a "
                                 f"VIPSeg category_id 0..{VIPSEG_NUM_CLASSES - 1}")
            if cats[t.category]:
                seg_ids.append(THING_ID_BASE + n_things)
                n_things += 1
            else:
                seg_ids.append(t.category + 1)
        order = sorted(range(len(pred.tracks)),
                       key=lambda i: (track_score(pred.tracks[i]), cats[pred.tracks[i].category]))
        cat_of = {sid: pred.tracks[i].category for i, sid in enumerate(seg_ids)}
        return [(seg_ids[i], pred.tracks[i]) for i in order], cat_of

    def process_video(self, gt, pred, meta):
        v = gt.video
        cats = {c.id: bool(c.isthing) for c in meta.categories}
        if not cats:
            raise InputError(f"video {v.id!r}: the metainfo lists no categories")
        bad = [c for c in cats if not 0 <= c < VIPSEG_NUM_CLASSES]
        if bad:
            raise InputError(f"metainfo: category id {bad[0]} outside 0..{VIPSEG_NUM_CLASSES - 1}")
        resolver = MaskResolver(meta.root)
        painted, cat_of = self._pred_render(pred, cats)
        tables = []
        for f in v.annotated_frames():
            g_ids, g_list = self._gt_frame(gt, f, resolver, cats)
            p_ids = np.zeros((v.height, v.width), np.int64)
            for sid, t in painted:
                if t.masks[f] is not None:
                    p_ids[resolver.decode(t.masks[f], v.height, v.width)] = sid
            resolver.clear()
            if p_ids.shape != g_ids.shape:
                raise InputError(f"video {v.id!r} frame {v.frames[f]}: prediction size differs from GT")
            present = sorted((int(s) for s in np.unique(p_ids) if s != 0), key=lambda s: (s >= THING_ID_BASE, s))
            p_list = [(s, cat_of[s], 0, 0) for s in present]
            g, p, c = pair_table(g_ids, p_ids)
            tables.append(FrameTable(g, p, c, frame_segments(g_list), frame_segments(p_list)))
        things = [k for k, th in cats.items() if th]
        try:
            s = vps_video_stats(tables, things, VPQ_WINDOWS, VIPSEG_NUM_CLASSES)
        except ValueError as e:
            raise InputError(f"GT of video {v.id!r}: {e}") from None
        return {"video": v.id, "cats": sorted(cats.items()), "pq": s.pq, "stq": _sparse(s.stq_confusion),
                "aq_sum": s.aq_sum, "tubes": s.tubes, "frames": s.frames}

    def compute_metrics(self, results):
        self._check_results(results)
        cats = dict(results[0]["cats"])
        class_ids = list(cats)
        isthing = [cats[c] for c in class_ids]
        pq_total = np.sum([r["pq"] for r in results], axis=0)
        per_window = [pq_from_stats(pq_total[i], class_ids, isthing) for i in range(len(VPQ_WINDOWS))]

        def mean(key):  # as the CLI: undefined when any window is
            vals = [w[key] for w in per_window]
            return float("nan") if any(np.isnan(vals)) else float(np.mean(vals))

        metrics = {"VPQ": pct(mean("All")), "VPQ_th": pct(mean("Things")), "VPQ_st": pct(mean("Stuff"))}
        for n, w in zip(VPQ_WINDOWS, per_window):
            metrics[f"VPQ@{n}"] = pct(w["All"])
        k = VIPSEG_NUM_CLASSES + 1
        conf = np.zeros(k * k, np.int64)
        for r in results:
            idx, val = r["stq"]
            conf[idx] += val
        stq = stq_from_stats(conf.reshape(k, k), float(sum(r["aq_sum"] for r in results)),
                             int(sum(r["tubes"] for r in results)))
        metrics.update({m: pct(stq[m]) for m in ("STQ", "AQ", "SQ")})
        return {m: nan_to_none(metrics[m]) for m in VPS_METRICS}
