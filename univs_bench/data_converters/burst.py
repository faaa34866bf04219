"""BURST: ``annotations/<split>/all_classes.json`` (+ ``first_frame_annotations.json``) and
``frames/<split>/<dataset>/<sequence>/``.

A sequence becomes a video ``<dataset>/<seq_name>`` with every frame of ``all_image_paths``;
only the frames of ``annotated_image_paths`` are annotated (RLE masks per track, inline). The
exemplar prompts of ``first_frame_annotations.json`` become three prompts per track on its
first annotated frame: a mask (id ``"<track>"``), a box (``"<track>:box"``, when given) and a
point (``"<track>:point"``, when given). Predictions go back into the BURST json schema.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..io import rle
from ..io.atomic import atomic_write_text
from ..registry import CONVERTERS
from ..schema import Category, DatasetMeta, Prompt, Track, VideoAnnotation, VideoInfo
from .base import BaseConverter, BaseWriter, MaskResolver


def _load(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


@CONVERTERS.register_module("burst")
class BURSTConverter(BaseConverter):
    """BURST (see the module docstring); ``root`` holds ``annotations/`` and ``frames/``."""

    dataset = "burst"
    task = "vos"
    def __init__(self):
        self._cache: dict = {}  # path -> (mtime, parsed json): each file is parsed once per conversion

    def _ann(self, root, split, name="all_classes.json") -> dict:
        p = Path(root) / "annotations" / split / name
        mtime = p.stat().st_mtime if p.exists() else None
        hit = self._cache.get(str(p))
        if hit is None or hit[0] != mtime:
            self._cache[str(p)] = (mtime, _load(p))
        return self._cache[str(p)][1]

    def _seqs(self, root, split) -> dict:
        return {f"{s['dataset']}/{s['seq_name']}": s for s in self._ann(root, split)["sequences"]}

    def video_ids(self, root, split):
        return list(self._seqs(root, split))

    def metainfo(self, root, split):
        cats = self._ann(root, split).get("categories", [])
        if isinstance(cats, dict):
            cats = [{"id": int(k), "name": v} for k, v in cats.items()]
        return DatasetMeta(dataset=self.dataset, task=self.task, split=split, root=str(root),
                           categories=[Category(int(c["id"]), c.get("name", str(c["id"]))) for c in cats],
                           extra={"images": f"frames/{split}/{{video}}/{{frame}}.jpg"})

    def convert_video(self, root, split, video_id):
        s = self._seqs(root, split)[video_id]
        where = f"annotations/{split}/all_classes.json: sequence {video_id}"
        try:
            h, w = int(s["height"]), int(s["width"])
            all_paths, ann_paths = list(s["all_image_paths"]), list(s["annotated_image_paths"])
            segs, tcat = s["segmentations"], {int(k): int(v) for k, v in s["track_category_ids"].items()}
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{where}: malformed sequence ({e})") from None
        frames = [Path(p).stem for p in all_paths]
        index = {p: i for i, p in enumerate(all_paths)}
        missing = [p for p in ann_paths if p not in index]
        if missing:
            raise InputError(f"{where}: annotated frame {missing[0]} not in all_image_paths")
        if len(segs) != len(ann_paths):
            raise InputError(f"{where}: {len(segs)} segmentation entries for {len(ann_paths)} annotated frames")
        annotated = [index[p] for p in ann_paths]
        masks: dict[int, list] = {t: [None] * len(frames) for t in tcat}
        for f, frame_segs in zip(annotated, segs):
            if not isinstance(frame_segs, dict):
                raise InputError(f"{where} frame {all_paths[f]}: segmentations must map track ids to objects")
            for tid, d in frame_segs.items():
                try:
                    tid, counts = int(tid), d["rle"]
                except (KeyError, TypeError, ValueError):
                    raise InputError(f"{where} frame {all_paths[f]}: track {tid!r} needs an integer id "
                                     "and an 'rle'") from None
                if tid not in masks:
                    raise InputError(f"{where} frame {all_paths[f]}: track {tid} not in track_category_ids")
                masks[tid][f] = {"size": [h, w], "counts": counts}
        tracks = [Track(id=t, category=tcat[t], masks=m) for t, m in sorted(masks.items())]
        prompts = self._exemplars(root, split, video_id, annotated, all_paths, h, w)
        return VideoAnnotation(VideoInfo(video_id, frames, h, w, annotated=annotated), tracks, prompts=prompts)

    def _exemplars(self, root, split, video_id, annotated, all_paths, h, w) -> list[Prompt]:
        p = Path(root) / "annotations" / split / "first_frame_annotations.json"
        if not p.is_file():
            return []
        seq = {f"{s['dataset']}/{s['seq_name']}": s for s in self._ann(root, split, p.name)["sequences"]}.get(video_id)
        if seq is None:
            return []
        index = {q: i for i, q in enumerate(all_paths)}
        # the exemplar tasks give each object's category with its exemplar (track_category_ids)
        cats = {str(k): int(v) for k, v in (seq.get("track_category_ids") or {}).items()}
        prompts = []
        for path, frame_segs in zip(seq["annotated_image_paths"], seq["segmentations"]):
            f = index.get(path)
            for tid, d in frame_segs.items():
                if f is None or any(q.target == int(tid) for q in prompts):
                    continue
                cat = cats.get(str(tid))
                prompts.append(Prompt(id=tid, kind="mask", target=int(tid), frame=f, category=cat,
                                      mask={"size": [h, w], "counts": d["rle"]}))
                if d.get("bbox"):
                    x, y, bw, bh = d["bbox"]
                    prompts.append(Prompt(id=f"{tid}:box", kind="box", target=int(tid), frame=f, category=cat,
                                          box=[x, y, x + bw, y + bh]))
                if d.get("point"):
                    prompts.append(Prompt(id=f"{tid}:point", kind="point", target=int(tid), frame=f,
                                          category=cat, points=[list(d["point"])]))
        return prompts


class BURSTWriter(BaseWriter):
    """Predictions -> one BURST-schema json (``<out>/pred.json``), per-video parts merged on close.

    Only annotated frames are written; a track's score is written on every frame it covers;
    ``track_category_ids`` carries the predicted categories (class-guided task).
    """

    benchmarks = ("burst",)

    def __init__(self, split: str = "val", frame_ext: str = ".jpg"):
        self.split = split
        self.frame_ext = frame_ext

    def _parts(self) -> Path:
        return self.out.with_name(self.out.name + ".parts")

    def sequence(self, pred, meta=None, resolver: MaskResolver | None = None, frames=None) -> dict:
        """The BURST json sequence of one video as written: masks of ``frames`` (default: the
        annotated ones) as compressed RLE; ``resolver`` to share decoded PNGs."""
        v = pred.video
        if resolver is None:
            resolver = MaskResolver(meta.root if meta else None)
        frames = v.annotated_frames() if frames is None else frames
        dataset, seq_name = v.id.split("/", 1)
        segs = []
        for f in frames:
            frame = {}
            for t in pred.tracks:
                m = t.masks[f]
                if m is None:
                    continue
                frame[str(t.id)] = {"rle": rle_counts(m, v.height, v.width, resolver),
                                    "score": 1.0 if t.score is None else float(t.score)}
            segs.append(frame)
        return {"id": v.id, "dataset": dataset, "seq_name": seq_name, "width": v.width, "height": v.height,
                "all_image_paths": [n + self.frame_ext for n in v.frames],
                "annotated_image_paths": [v.frames[f] + self.frame_ext for f in frames],
                "segmentations": segs,
                "track_category_ids": {str(t.id): t.category for t in pred.tracks if t.category is not None}}

    def write_video(self, pred, meta=None):
        v = pred.video
        seq = self.sequence(pred, meta)
        self._parts().mkdir(parents=True, exist_ok=True)
        atomic_write_text(self._parts() / (v.id.replace("/", "__") + ".json"), json.dumps(seq))

    def close(self):
        seqs = [json.loads(p.read_text()) for p in sorted(self._parts().glob("*.json"))]
        atomic_write_text(self.out / "pred.json", json.dumps({"split": self.split, "sequences": seqs}))
        return self.out / "pred.json"

    def eval_target(self):
        return self.out / "pred.json"


def rle_counts(mask: dict, h: int, w: int, resolver: MaskResolver) -> str:
    """A schema mask as the compressed COCO RLE ``counts`` string BURST jsons hold."""
    if "counts" in mask and isinstance(mask["counts"], str):
        return mask["counts"]
    if "counts" in mask:  # bytes or uncompressed
        return rle.encode(rle.decode(mask, h, w))["counts"]
    return rle.encode(resolver.decode(mask, h, w))["counts"]
