"""VIPOSeg (panoptic VOS): ``<split>/JPEGImages``, ``Annotations`` (each object's reference mask
on the frame where it first appears), ``Annotations_gt`` (full GT, valid), ``obj_class.json``
(video -> object -> VIPSeg class 0..123).

Tracks come from the full GT (``Annotations_gt``, or ``Annotations`` in train), categories from
``obj_class.json``, and each object's prompt is its reference mask with its class. Predictions are written
by :class:`univs_bench.data_converters.vos.PaletteWriter` with ``frames='annotated'`` (one PNG
per GT frame, as the scorer pairs files by position).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..registry import CONVERTERS
from ..schema import Category, DatasetMeta, Prompt, VideoAnnotation, VideoInfo
from .base import BaseConverter, video_frames_from_folder
from .vos import _split_root, _tracks_from_pngs


@CONVERTERS.register_module("viposeg")
class VIPOSegConverter(BaseConverter):
    """VIPOSeg (see the module docstring)."""

    dataset = "viposeg"
    task = "pvos"

    def _obj_class(self, base: Path) -> dict:
        p = base / "obj_class.json"
        if not p.is_file():
            raise InputError(f"{p}: obj_class.json not found")
        try:
            return json.loads(p.read_text())
        except ValueError as e:
            raise InputError(f"{p}: not valid JSON ({e})") from None

    def video_ids(self, root, split):
        base = _split_root(root, split)
        ann = base / "Annotations"
        if not ann.is_dir():
            raise InputError(f"{ann}: folder not found")
        return sorted(p.name for p in ann.iterdir() if p.is_dir())

    def metainfo(self, root, split):
        from ..metainfo.viposeg import STUFF_UNSEEN, THING_UNSEEN
        from ..metainfo.vipseg import VIPSEG_CATEGORIES
        cats = [Category(c["id"], c["name"], bool(c["isthing"]),
                         split="unseen" if c["id"] in (THING_UNSEEN | STUFF_UNSEEN) else "seen")
                for c in VIPSEG_CATEGORIES]
        return DatasetMeta(dataset=self.dataset, task=self.task, split=split, categories=cats,
                           root=str(_split_root(root, split)),
                           extra={"images": "JPEGImages/{video}/{frame}.jpg"})

    def convert_video(self, root, split, video_id):
        base = _split_root(root, split)
        classes = self._obj_class(base).get(video_id)
        if classes is None:
            raise InputError(f"{base / 'obj_class.json'}: video {video_id!r} missing")
        cats = {int(k): int(v) for k, v in classes.items()}
        ref_dir, gt_dir, img_dir = (base / "Annotations" / video_id, base / "Annotations_gt" / video_id,
                                    base / "JPEGImages" / video_id)
        full = gt_dir if gt_dir.is_dir() else ref_dir
        frames = video_frames_from_folder(img_dir if img_dir.is_dir() else full)
        tracks, (h, w) = _tracks_from_pngs(full, f"{full.parent.name}/{video_id}", frames, video_id,
                                           categories=cats)
        refs, _ = _tracks_from_pngs(ref_dir, f"Annotations/{video_id}", frames, video_id, size=(h, w))
        unknown = sorted({t.id for t in tracks} - set(cats))
        if unknown:
            raise InputError(f"{base / 'obj_class.json'}: object {unknown[0]} of video {video_id!r} has no class")
        prompts = []
        for r in refs:
            f = r.first_frame()
            # the object's class is part of the PVOS input (obj_class.json; the official
            # VIPOSeg json carries it as the object's category), read by the stuff semantic help
            prompts.append(Prompt(id=str(r.id), kind="mask", target=r.id, frame=f, mask=r.masks[f],
                                  category=cats.get(r.id)))
        annotated = sorted({f for t in tracks for f, m in enumerate(t.masks) if m is not None})
        gt_frames = {p.stem for p in full.glob("*.png")}
        annotated = [i for i, n in enumerate(frames) if n in gt_frames] or annotated
        return VideoAnnotation(VideoInfo(video_id, frames, h, w, annotated=annotated), tracks, prompts=prompts)
