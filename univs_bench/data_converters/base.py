"""Converter and writer interfaces shared by every dataset family.

A converter reads a dataset's official layout and yields one
:class:`~univs_bench.schema.VideoAnnotation` per video; masks that live in PNGs are
referenced (``{"png": rel_path, "id": k}``), not inlined, so a converted file stays small and
memory is bounded by one video. A writer takes predictions in the schema, one video at a
time, and produces the official submission format.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_path
from ..schema import AnnotationFile, DatasetMeta, VideoAnnotation


@dataclass
class ConvertReport:
    """What a conversion read: counts, and the videos skipped with ``--skip-bad``."""

    dataset: str
    split: str
    videos: int = 0
    frames: int = 0
    tracks: int = 0
    prompts: int = 0
    skipped: list = field(default_factory=list)

    def summary(self) -> str:
        s = (f"{self.dataset}/{self.split}: {self.videos} videos, {self.frames} frames, "
             f"{self.tracks} tracks, {self.prompts} prompts")
        if self.skipped:
            s += f"; skipped {len(self.skipped)}: " + ", ".join(v for v, _ in self.skipped)
        return s


class BaseConverter:
    """Official layout -> unified schema. Subclasses set ``dataset`` and implement three methods."""

    dataset: str = ""
    task: str = ""

    def video_ids(self, root: str, split: str) -> list[str]:
        """Ids of the split's videos, in the official order."""
        raise NotImplementedError

    def metainfo(self, root: str, split: str) -> DatasetMeta:
        raise NotImplementedError

    def convert_video(self, root: str, split: str, video_id: str) -> VideoAnnotation:
        """One video; raises InputError naming the file when it is malformed."""
        raise NotImplementedError

    def iter_videos(self, root: str, split: str, skip_bad: bool = False,
                    report: ConvertReport | None = None, progress: bool = True) -> Iterator[VideoAnnotation]:
        ids = self.video_ids(root, split)
        bar = None
        if progress and sys.stderr.isatty():
            from tqdm import tqdm
            bar = tqdm(ids, desc=f"convert {self.dataset}/{split}", unit="video", file=sys.stderr)
        meta = None
        for vid in (bar if bar is not None else ids):
            try:
                item = self.convert_video(root, split, vid)
                if meta is None:
                    meta = self.metainfo(root, split)
                item.check(meta)
            except InputError as e:
                if not skip_bad:
                    raise
                if report is not None:
                    report.skipped.append((vid, str(e)))
                continue
            if report is not None:
                report.videos += 1
                report.frames += item.video.num_frames
                report.tracks += len(item.tracks)
                report.prompts += len(item.prompts)
            yield item

    def convert(self, root: str, split: str, out: str, skip_bad: bool = False,
                progress: bool = True) -> ConvertReport:
        """Write ``{metainfo, data_list}`` to ``out`` (atomically), one video in memory at a time."""
        report = ConvertReport(self.dataset, split)
        meta = self.metainfo(root, split)
        meta.root = os.path.abspath(meta.root or root)
        with atomic_path(out, suffix=".json") as tmp, open(tmp, "w") as f:
            f.write('{"metainfo":' + json.dumps(asdict(meta), separators=(",", ":")) + ',"data_list":[')
            first = True
            for item in self.iter_videos(root, split, skip_bad, report, progress):
                f.write(("" if first else ",") + json.dumps(item.to_dict(), separators=(",", ":")))
                first = False
            f.write("]}")
        return report

    def load(self, root: str, split: str) -> AnnotationFile:
        """Convert in memory (small datasets, tests)."""
        meta = self.metainfo(root, split)
        meta.root = os.path.abspath(meta.root or root)
        return AnnotationFile(meta, list(self.iter_videos(root, split, progress=False)))


class MaskResolver:
    """Decode schema masks (RLE or PNG references) of one video, caching each PNG once."""

    def __init__(self, root: str | os.PathLike | None):
        self.root = Path(root) if root else None
        self._cache: dict[str, np.ndarray] = {}

    def label_map(self, rel: str) -> np.ndarray:
        """Ids of a label PNG: palette/grey/16-bit values, or R + 256 G + 256^2 B for RGB ids."""
        if rel not in self._cache:
            from ..io.panoptic import read_id_map
            path = Path(rel) if self.root is None or os.path.isabs(rel) else self.root / rel
            self._cache[rel] = read_id_map(path)
        return self._cache[rel]

    def decode(self, mask: dict | None, h: int, w: int, where: str | None = None) -> np.ndarray:
        """The HxW boolean mask; InputError (naming ``where`` or the PNG) if its size differs."""
        if mask is None:
            return np.zeros((h, w), dtype=bool)
        if "png" in mask:
            arr = self.label_map(mask["png"]) == mask["id"]
        else:
            from ..io import rle
            arr = rle.decode(mask, h, w)
        if arr.shape != (h, w):
            raise InputError(f"{where or mask.get('png', 'RLE')}: mask size {arr.shape[1]}x{arr.shape[0]} "
                             f"differs from the video's {w}x{h}")
        return arr

    def clear(self) -> None:
        self._cache.clear()


def paint(canvas: np.ndarray, pairs, f: int, resolver: MaskResolver) -> np.ndarray:
    """Write ``value`` where each ``(value, track)``'s mask on frame ``f`` is set, in order
    (later pairs win overlaps); returns ``canvas``. Every writer's frame rendering is this."""
    h, w = canvas.shape[:2]
    for value, t in pairs:
        if t.masks[f] is not None:
            canvas[resolver.decode(t.masks[f], h, w)] = value
    return canvas


class BaseWriter:
    """Unified predictions -> one official submission format, one video at a time.

    ``open(out)``, then ``write_video(pred, meta)`` per video, then ``close()`` which returns
    the submission path (a folder, a json or a zip). Files of a video are written atomically,
    so a resumed run can trust any file that exists.
    """

    benchmarks: tuple[str, ...] = ()

    def open(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)

    def write_video(self, pred: VideoAnnotation, meta: DatasetMeta | None = None) -> None:
        raise NotImplementedError

    def close(self) -> Path:
        """Finish the submission; returns what a user uploads (folder, json or zip)."""
        return self.out

    def eval_target(self) -> Path:
        """What `univs-bench evaluate --pred` takes for this submission (after ``close``)."""
        return self.out

    def _marker(self, video_id: str) -> Path:
        # beside the submission folder, so that evaluators never see it as a video
        return self.out.with_name(self.out.name + ".done") / video_id

    def is_done(self, video_id: str) -> bool:
        """Whether ``video_id`` was completely written by an earlier (possibly killed) run."""
        return self._marker(video_id).exists()

    def mark_done(self, video_id: str) -> None:
        m = self._marker(video_id)
        m.parent.mkdir(parents=True, exist_ok=True)
        m.touch()

    def write_all(self, preds: Iterable[VideoAnnotation], out: str | os.PathLike,
                  meta: DatasetMeta | None = None) -> Path:
        self.open(out)
        for p in preds:
            self.write_video(p, meta)
        return self.close()


def video_frames_from_folder(folder: Path, exts=(".jpg", ".jpeg", ".png")) -> list[str]:
    """Sorted frame stems of the images in ``folder`` (the official frame order)."""
    if not folder.is_dir():
        raise InputError(f"{folder}: folder not found")
    return sorted(p.stem for p in folder.iterdir() if p.suffix.lower() in exts)


def read_split_file(path: Path) -> list[str]:
    """Video ids of a split file, one per line, blanks ignored."""
    if not path.is_file():
        raise InputError(f"{path}: split file not found")
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


@dataclass
class BenchData:
    """Where a benchmark's data lives under its root and how to read and write it.

    ``converter``/``writer`` are registered names with kwargs; ``data`` is the converter's
    root under the benchmark folder; ``split`` is the split converted
    for inference; ``gt`` is the path (relative to the root) that `univs-bench evaluate --gt`
    takes, or None when the GT is server-only and no local copy exists.
    """

    converter: tuple[str, dict]
    split: str
    gt: str | None
    writer: tuple[str, dict]
    data: str = "."  # the converter's root, relative to the benchmark's root
    options: dict = field(default_factory=dict)
