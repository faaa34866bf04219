"""BURST HOTA / DetA / AssA (and track AP, class-guided) as an MMEngine metric.

Each video is turned into the BURST json sequence dicts that the GT file and ``BURSTWriter``
would hold (in memory; the prediction's from ``BURSTWriter.sequence``) and scored by
``evaluators.burst.eval_sequence``, the per-sequence worker of ``univs-bench evaluate burst``;
classes are combined by its ``combine_classes``.
"""
from __future__ import annotations

import json
import os

from ...data_converters.base import MaskResolver
from ...data_converters.burst import BURSTWriter, rle_counts
from ...errors import InputError
from ...metainfo.burst import BURST_DISTRACTOR_IDS, BURST_NUM_CATEGORIES
from ...registry import METRICS
from .. import burst as E
from .base import VideoMetric

_ALL_CLASSES = tuple(c for c in range(1, BURST_NUM_CATEGORIES + 1) if c not in BURST_DISTRACTOR_IDS)


@METRICS.register_module()
class BURSTMetric(VideoMetric):
    """BURST ``exemplar_guided`` (default) or ``class_guided`` from schema predictions.

    ``process`` gets per video ``{'gt', 'pred', 'meta'}`` (schema objects or dicts; ``meta`` may
    come from ``dataset_meta``); the video id is ``<dataset>/<seq_name>`` as the BURST converter
    names it. GT: the annotated frames' track masks, ``track_category_ids`` from the tracks'
    categories. Prediction: as ``BURSTWriter`` writes it (annotated frames, a track's score on
    every frame it covers, categories for ``track_category_ids``); predicted track ids must be
    positive (the official id-renumbering quirk for ids <= 0 depends on other sequences).

    The class-guided task needs each sequence's ``neg_category_ids`` and
    ``not_exhaustive_category_ids``, which the schema does not hold: from ``ann_file`` (the
    official ``all_classes.json``, or the folder holding it) or
    ``meta.extra['burst_sequences'][video] = {'neg_category_ids': [...], ...}``. The
    exemplar-guided task does not use them. ``open_world`` scores the separate common/uncommon
    GT files and is left to ``univs-bench evaluate``.

    Example config::

        val_evaluator = dict(type='BURSTMetric', benchmark='burst', task='exemplar_guided')
    """

    benchmarks = ("burst",)
    tasks = ("exemplar_guided", "class_guided")

    def __init__(self, benchmark: str = "burst", task: str = "exemplar_guided", ann_file: str | None = None,
                 frame_ext: str = ".jpg", **kwargs):
        super().__init__(benchmark, **kwargs)
        if task not in self.tasks:
            raise InputError(f"BURSTMetric: task {task!r} not in {self.tasks} (open_world needs the "
                             f"common/uncommon GT files: use `univs-bench evaluate burst --task open_world`)")
        self.task = task
        self.ann_file = ann_file
        self.frame_ext = frame_ext
        self._lists: dict | None = None

    def _neg_lists(self, video: str, meta) -> tuple[list, list]:
        d = (meta.extra.get("burst_sequences") or {}).get(video)
        if d is None and self.ann_file:
            if self._lists is None:
                path = self.ann_file
                if os.path.isdir(path):
                    path = os.path.join(path, E.SPLIT_FILES["all"])
                gt = E.read_gt(path)
                self._lists = {f"{s['dataset']}/{s['seq_name']}": s for s in gt["sequences"]}
                self._lists = {k: {"neg_category_ids": s["neg_category_ids"],
                                   "not_exhaustive_category_ids": s["not_exhaustive_category_ids"]}
                               for k, s in self._lists.items()}
            d = self._lists.get(video)
            if d is None:
                raise InputError(f"{self.ann_file}: no sequence {video!r}")
        if d is None:
            if self.task == "class_guided":
                raise InputError(f"video {video!r}: the class-guided task needs neg_category_ids and "
                                 f"not_exhaustive_category_ids (BURSTMetric ann_file=all_classes.json)")
            return [], []
        return list(d["neg_category_ids"]), list(d["not_exhaustive_category_ids"])

    def process_video(self, gt, pred, meta):
        v = gt.video
        if "/" not in v.id:
            raise InputError(f"video {v.id!r}: BURST videos are named '<dataset>/<seq_name>'")
        dataset, seq_name = v.id.split("/", 1)
        h, w = v.height, v.width
        frames = v.annotated_frames()
        paths = [v.frames[f] + self.frame_ext for f in frames]
        resolver = MaskResolver(meta.root)
        neg, nel = self._neg_lists(v.id, meta)
        gseq = {"id": v.id, "dataset": dataset, "seq_name": seq_name, "width": w, "height": h,
                "annotated_image_paths": paths, "neg_category_ids": neg, "not_exhaustive_category_ids": nel,
                "track_category_ids": {str(t.id): t.category for t in gt.tracks},
                "segmentations": [{str(t.id): {"rle": rle_counts(t.masks[f], h, w, resolver)}
                                   for t in gt.tracks if t.masks[f] is not None} for f in frames]}
        bad = [t.id for t in pred.tracks if t.id <= 0]
        if bad:
            raise InputError(f"prediction of video {v.id!r}: track id {bad[0]} is not positive")
        pseq = BURSTWriter(frame_ext=self.frame_ext).sequence(pred, meta, resolver, frames)
        resolver.clear()
        # json round trip: the sequences as the files would give them (str keys, plain types)
        gseq, pseq = json.loads(json.dumps(gseq)), json.loads(json.dumps(pseq))
        item = {"task": self.task, "name": v.id, "gt": {"all": (gseq, 1, "GT")}, "pred_seq": pseq,
                "pred_path": "prediction", "classes": _ALL_CLASSES, "multi_video_ids": frozenset()}
        out = E.eval_sequence(item)
        out["gt_classes"] = E.eval_classes({"sequences": [gseq]})
        out["sort_key"] = E.seq_sort_key(meta.split, gseq)
        return out

    def compute_metrics(self, results):
        self._check_results(results)
        results = sorted(results, key=lambda r: r["sort_key"])
        classes = sorted({c for r in results for c in r["gt_classes"]})
        metrics, _ = E.combine_classes(results, classes, self.task)
        return {m: metrics[m] for m in self.bench.metrics_for(self.task)}
