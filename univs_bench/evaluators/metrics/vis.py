"""VIS AP (YouTube-VIS 2019/2021, OVIS) as an MMEngine metric, through ``evaluators.vis``."""
from __future__ import annotations

import numpy as np

from ...data_converters.base import MaskResolver
from ...data_converters.vis import mask_rle
from ...errors import InputError
from ...registry import METRICS
from .. import vis as E
from ..base import pct
from ..functional import vis as F
from .base import VideoMetric


@METRICS.register_module()
class VISMetric(VideoMetric):
    """AP/AR of YouTube-VIS 2019, 2021 and OVIS from schema predictions, no files written.

    ``process`` gets per video ``{'gt': VideoAnnotation | dict, 'pred': VideoAnnotation | dict,
    'meta': DatasetMeta | dict}`` (``meta`` may be left out when the metric's ``dataset_meta``
    is set): GT tracks are the annotations (track id = annotation id; ``attributes['areas']``
    and, for OVIS, ``attributes['occlusion']`` as the converters keep them), predicted tracks
    (category, score, masks; crowd tracks dropped, as ``ResultsJsonWriter`` does) are the
    results. It runs ``evaluators.vis.score_video`` and keeps per-category matching statistics;
    ``compute_metrics`` sorts videos by json ``video_id`` (``meta.extra['video_ids']``), then
    ``functional.vis.accumulate`` / ``summarize`` give the CONTRACT.md names.

    A GT track without ``areas`` gets the mean of its non-zero per-frame mask areas.

    Example config::

        val_evaluator = dict(type='VISMetric', benchmark='ytvis21')
    """

    benchmarks = ("ytvis19", "ytvis21", "ovis")

    def __init__(self, benchmark: str = "ytvis21", **kwargs):
        super().__init__(benchmark, **kwargs)
        self.ovis = benchmark == "ovis"

    def process_video(self, gt, pred, meta):
        v = gt.video
        h, w, n = v.height, v.width, v.num_frames
        resolver = MaskResolver(meta.root)
        cat_ids = sorted(c.id for c in meta.categories)
        if not cat_ids:
            raise InputError(f"video {v.id!r}: the metainfo lists no categories")
        cats = set(cat_ids)
        gts = []
        for t in gt.tracks:
            where = f"GT video {v.id!r} track {t.id}"
            if t.category not in cats:
                continue  # getAnnIds(catIds=...) drops it
            segs = [mask_rle(m, h, w, resolver, f"{where} frame {f}") for f, m in enumerate(t.masks)]
            areas = t.attributes.get("areas")
            if areas is None:
                from ...io import rle
                areas = [rle.area(s) if s is not None else None for s in segs]
            truthy = [a for a in areas if a]
            occ = None
            if self.ovis:
                try:
                    occ = F.occlusion_score(t.attributes["occlusion"])
                except (KeyError, TypeError, ZeroDivisionError):
                    raise InputError(f"{where}: OVIS needs an 'occlusion' attribute of "
                                     f"{'/'.join(F.OCCLUSION_SCORES)} labels, not all null") from None
            gts.append({"id": t.id, "category_id": t.category, "iscrowd": bool(t.iscrowd),
                        "area": float(np.array(truthy, dtype=np.float64).mean()) if truthy else 0.0,
                        "occ": occ, "segmentations": segs})
        dts = []
        for t in pred.tracks:
            if t.iscrowd:
                continue
            where = f"prediction of video {v.id!r} track {t.id}"
            if t.category is None or t.score is None:
                raise InputError(f"{where}: a prediction needs a category and a score")
            if t.category not in cats:
                raise InputError(f"{where}: category_id {t.category!r} is not in the GT")
            dts.append((t.category, float(t.score),
                        [mask_rle(m, h, w, resolver, f"{where} frame {f}") for f, m in enumerate(t.masks)]))
        resolver.clear()
        json_id = (meta.extra.get("video_ids") or {}).get(v.id)
        if json_id is None:
            json_id = int(v.id) if v.id.isdigit() else v.id
        stats, info = E.score_video((f"video {v.id!r}", n, h, w, gts, dts, self.ovis))
        return {"video": v.id, "json_id": json_id, "cat_ids": cat_ids, "stats": stats, "info": info}

    def compute_metrics(self, results):
        self._check_results(results)
        try:
            results = sorted(results, key=lambda r: r["json_id"])  # ties across videos: np.unique order
        except TypeError:
            raise InputError(f"{self.benchmark}: video ids mix types (e.g. numbers and strings)") from None
        cat_ids = sorted({c for r in results for c in r["cat_ids"]})
        per_cat = {c: [] for c in cat_ids}
        for r in results:
            for c, s in r["stats"].items():
                per_cat[c].append(s)
        ranges = F.OVIS_RANGES if self.ovis else F.YTVIS_RANGES
        precision, recall = F.accumulate([per_cat[c] for c in cat_ids], len(ranges))
        summary = F.summarize(precision, recall, ranges)
        return {m: pct(summary[m]) for m in self.bench.metrics}
