"""What the family metrics share: the per-video input contract, mask decoding, prediction rendering.

Every metric of this package is an MMEngine ``BaseMetric`` whose ``process`` receives, for each
video, a dict::

    {'gt':   VideoAnnotation or its dict (an item of a converted annotation file),
     'pred': VideoAnnotation or its dict (what a model returns for that video),
     'meta': DatasetMeta or its dict (optional: the metric's ``dataset_meta`` otherwise)}

``process`` decodes the masks of that one video (``MaskResolver(meta.root)`` for PNG
references), renders the prediction as the benchmark's writer would write it (the official
format, in memory), runs the same per-video kernel as ``univs-bench evaluate`` and keeps only the
kernel's small statistics in ``self.results``. ``compute_metrics`` combines them with the CLI's
aggregation and returns CONTRACT.md names (percent, None where undefined).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mmengine.evaluator import BaseMetric

from ...benchmarks import get_benchmark
from ...data_converters.base import MaskResolver
from ...errors import InputError
from ...schema import DatasetMeta, VideoAnnotation

_META_FIELDS = {f.name for f in dataclasses.fields(DatasetMeta)}


def as_video(x: Any, what: str) -> VideoAnnotation:
    """A VideoAnnotation from itself or its dict."""
    if isinstance(x, VideoAnnotation):
        return x
    if isinstance(x, dict):
        return VideoAnnotation.from_dict(x)
    raise InputError(f"metric input {what!r} must be a VideoAnnotation or its dict, got {type(x).__name__}")


def as_meta(x: Any) -> DatasetMeta:
    """A DatasetMeta from itself, its dict, or a dataset's metainfo dict (unknown keys -> extra)."""
    if isinstance(x, DatasetMeta):
        return x
    if not isinstance(x, dict):
        raise InputError("metric input 'meta' (or the metric's dataset_meta) must be a DatasetMeta or "
                         f"its dict, got {type(x).__name__}")
    d = {k: v for k, v in x.items() if k in _META_FIELDS}
    extra = dict(d.get("extra") or {})
    extra.update({k: v for k, v in x.items() if k not in _META_FIELDS})
    d["extra"] = extra
    d.setdefault("dataset", "?")
    d.setdefault("task", "?")
    d.setdefault("split", "?")
    try:
        return DatasetMeta.from_dict(d)
    except TypeError as e:
        raise InputError(f"metric input 'meta': not a DatasetMeta ({e})") from None


def gt_labels(gt: VideoAnnotation, f: int, resolver: MaskResolver, encodings: Sequence[str] = (),
              template: str | None = None) -> tuple[np.ndarray, str | None]:
    """The GT label image of frame ``f`` as the official files hold it, and its encoding.

    In order: a label map of the frame with one of ``encodings``; the PNG a track's mask of
    that frame references (palette datasets: the frame's own annotation PNG, void included);
    ``template`` (``"{video}/{frame}"`` path relative to ``meta.root``) if that file exists;
    else the tracks painted by id on zeros (encoding None).
    """
    v = gt.video
    for lm in gt.label_maps:
        if lm.frame == f and lm.encoding in encodings:
            return resolver.label_map(lm.png), lm.encoding
    refs = {t.masks[f]["png"] for t in gt.tracks if t.masks[f] is not None and "png" in t.masks[f]}
    if len(refs) == 1:
        return resolver.label_map(next(iter(refs))), "png"
    if not refs and template and resolver.root is not None:
        rel = template.format(video=v.id, frame=v.frames[f])
        if (resolver.root / rel).is_file():
            return resolver.label_map(rel), "png"
    out = np.zeros((v.height, v.width), np.int64)
    for t in gt.tracks:
        if t.masks[f] is not None:
            out[resolver.decode(t.masks[f], v.height, v.width)] = t.id
    return out, None


def gt_png_frames(gt: VideoAnnotation, meta: DatasetMeta, annotations: str | None = None
                  ) -> tuple[list[int], str | None]:
    """The GT frames the file scorers read, and a path template of their PNGs.

    Palette-PNG datasets (VOS, RefVOS, PVOS) are scored on every PNG of the video's annotation
    folder, including frames without any object, which a converted item may not list as
    annotated (YouTube-VOS/MOSE derive ``annotated`` from the objects' frames). The folder is
    the one the tracks' PNG references name (else ``annotations/<video>``); frames are the
    annotated ones plus every frame with a PNG there.
    """
    import os
    v = gt.video
    dirs = {os.path.dirname(m["png"]) for t in gt.tracks for m in t.masks if m is not None and "png" in m}
    folder = next(iter(dirs)) if len(dirs) == 1 else (f"{annotations}/{v.id}" if annotations and not dirs else None)
    frames = set(v.annotated_frames())
    if folder is not None and meta.root:
        path = Path(meta.root) / folder
        if path.is_dir():
            names = {p.stem for p in path.glob("*.png")}
            frames |= {i for i, n in enumerate(v.frames) if n in names}
    return sorted(frames), (None if folder is None else folder.replace("{", "{{").replace("}", "}}") + "/{frame}.png")


def sparse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flat indices, values) of the non-zero entries: a per-video confusion matrix kept small."""
    idx = np.flatnonzero(a)
    return idx, a.ravel()[idx]


def dense(kept: tuple[np.ndarray, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The int64 array of ``shape`` that ``sparse`` kept."""
    out = np.zeros(int(np.prod(shape)), np.int64)
    out[kept[0]] = kept[1]
    return out.reshape(shape)


def check_pair(gt: VideoAnnotation, pred: VideoAnnotation) -> None:
    """The prediction must be of the GT's video, with one mask per frame in every track."""
    g, p = gt.video, pred.video
    if p.id != g.id:
        raise InputError(f"video {g.id!r}: prediction is for video {p.id!r}")
    n = g.num_frames
    for t in pred.tracks:
        if len(t.masks) != n:
            raise InputError(f"video {g.id!r} track {t.id}: {len(t.masks)} predicted masks for {n} frames")


class VideoMetric(BaseMetric):
    """Base of the family metrics: unpacks each video's {gt, pred, meta} and dispatches.

    Subclasses set ``benchmarks`` and implement ``process_video(gt, pred, meta) -> stats``
    and ``compute_metrics(results)``. The default prefix is the benchmark name, so that an
    Evaluator over several benchmarks reports ``davis17/J&F``, ``mose/J&F``, ...
    """

    benchmarks: tuple[str, ...] = ()

    def __init__(self, benchmark: str, collect_device: str = "cpu", prefix: str | None = None,
                 collect_dir: str | None = None) -> None:
        if benchmark not in self.benchmarks:
            raise InputError(f"{type(self).__name__} scores {', '.join(self.benchmarks)}, not {benchmark!r}")
        self.benchmark = benchmark
        self.bench = get_benchmark(benchmark)
        super().__init__(collect_device=collect_device, prefix=prefix or benchmark, collect_dir=collect_dir)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Score each video of ``data_samples`` (dicts with 'gt', 'pred', optional 'meta')."""
        for s in data_samples:
            if not isinstance(s, dict) or "gt" not in s or "pred" not in s:
                raise InputError(f"{type(self).__name__}: each data sample must be a dict with 'gt' and "
                                 f"'pred' (and optionally 'meta'), got {type(s).__name__}")
            meta = s.get("meta") if s.get("meta") is not None else self.dataset_meta
            if meta is None:
                raise InputError(f"{type(self).__name__}: no 'meta' in the data sample and no dataset_meta")
            gt, pred = as_video(s["gt"], "gt"), as_video(s["pred"], "pred")
            check_pair(gt, pred)
            self.results.append(self.process_video(gt, pred, as_meta(meta)))

    def process_video(self, gt: VideoAnnotation, pred: VideoAnnotation, meta: DatasetMeta) -> Any:
        raise NotImplementedError

    def _check_results(self, results: list) -> None:
        if not results:
            raise InputError(f"{type(self).__name__} ({self.benchmark}): no video was processed")
