"""Referring VOS: Ref-YouTube-VOS and Ref-DAVIS 2017.

- Ref-YouTube-VOS: ``meta_expressions/<split>/meta_expressions.json`` (or
  ``<split>/meta_expressions.json``): ``videos -> {expressions: {exp_id: {exp, obj_id}}, frames}``,
  with frames in ``<split>/JPEGImages/<video>/`` and object masks in
  ``<split>/Annotations/<video>/`` (train; the valid split has no masks and no ``obj_id``; a
  local dev split ``valid_full`` holds both, its frames in ``valid/JPEGImages``).
- Ref-DAVIS 2017: DAVIS ``Annotations_unsupervised/480p`` (all objects) with the expression
  files ``davis_text_annotations/Davis17_annot{1,2}[_full_video].txt``, one line per object
  ``<video> <object id> "<expression>"``.

Each expression is a text prompt whose ``target`` is the referred object's track. A
prediction has one track per expression with ``prompt_id`` = the prompt's id. Ref-DAVIS prompt
ids are ``"<k>:<obj>"`` for annotation set k: 0 = annotator 1 first-frame, 1 = annotator 1
full-video, 2 = annotator 2 first-frame, 3 = annotator 2 full-video expressions (each set is
scored separately and the benchmark reports their mean, so the order only names the sets).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.png import write_grey_png, write_palette_png
from ..io.zip import zip_folder
from ..registry import CONVERTERS
from ..schema import DatasetMeta, Prompt, Track, VideoAnnotation, VideoInfo
from .base import BaseConverter, BaseWriter, MaskResolver, paint, video_frames_from_folder
from .vos import DAVISConverter, _tracks_from_pngs

REF_DAVIS_FILES = ("Davis17_annot1.txt", "Davis17_annot1_full_video.txt",
                   "Davis17_annot2.txt", "Davis17_annot2_full_video.txt")
_LINE = re.compile(r'^\s*(\S+)\s+(\d+)\s+"?(.*?)"?\s*$')


@CONVERTERS.register_module("refytvos")
class RefYouTubeVOSConverter(BaseConverter):
    """Ref-YouTube-VOS (see the module docstring); ``root`` holds the split folders."""

    dataset = "refytvos"
    task = "refvos"

    def _meta_path(self, root, split) -> Path:
        r = Path(root)
        for p in (r / "meta_expressions" / split / "meta_expressions.json", r / split / "meta_expressions.json"):
            if p.is_file():
                return p
        raise InputError(f"{r}: no meta_expressions.json for split {split!r} "
                         f"(looked in meta_expressions/{split}/ and {split}/)")

    def _videos(self, root, split) -> dict:
        p = self._meta_path(root, split)
        try:
            return json.loads(p.read_text())["videos"]
        except (ValueError, KeyError) as e:
            raise InputError(f"{p}: not a meta_expressions.json ({e})") from None

    def _image_split(self, root, split) -> str:
        # the local dev split keeps its frames in the released valid folder
        if (Path(root) / split / "JPEGImages").is_dir() or split != "valid_full":
            return split
        return "valid"

    def video_ids(self, root, split):
        return sorted(self._videos(root, split))

    def metainfo(self, root, split):
        img = self._image_split(root, split)
        return DatasetMeta(dataset=self.dataset, task=self.task, split=split, root=str(root),
                           extra={"images": f"{img}/JPEGImages/{{video}}/{{frame}}.jpg"})

    def convert_video(self, root, split, video_id):
        v = self._videos(root, split)[video_id]
        ann_dir = Path(root) / split / "Annotations" / video_id
        img_dir = Path(root) / self._image_split(root, split) / "JPEGImages" / video_id
        frames = list(v.get("frames") or video_frames_from_folder(img_dir))
        if img_dir.is_dir():
            present = {p.stem for p in img_dir.glob("*.jpg")}
            absent = [n for n in frames if n not in present]
            if absent:
                raise InputError(f"{img_dir / (absent[0] + '.jpg')}: missing, but listed in the frames of "
                                 f"video {video_id!r}")
        tracks, h, w = [], None, None
        if ann_dir.is_dir():
            # where masks are given (train, the dev split), every listed frame has one (ReferFormer
            # opens each frame's PNG)
            absent = [n for n in frames if not (ann_dir / f"{n}.png").is_file()]
            if absent:
                raise InputError(f"{ann_dir / (absent[0] + '.png')}: missing, but listed in the frames "
                                 f"of video {video_id!r}")
            tracks, (h, w) = _tracks_from_pngs(ann_dir, f"{split}/Annotations/{video_id}", frames, video_id)
        if h is None:
            from PIL import Image
            first = img_dir / f"{frames[0]}.jpg"
            if not first.is_file():
                raise InputError(f"{first}: no frame image and no annotation for video {video_id!r}")
            with Image.open(first) as im:
                w, h = im.size
        known = {t.id for t in tracks}
        prompts = []
        for exp_id, e in sorted(v.get("expressions", {}).items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else kv[0]):
            target = int(e["obj_id"]) if e.get("obj_id") is not None else None
            if target is not None and tracks and target not in known:
                raise InputError(f"{self._meta_path(root, split)}: video {video_id!r} expression {exp_id} "
                                 f"refers to object {target}, absent from {ann_dir}")
            prompts.append(Prompt(id=str(exp_id), kind="text", target=target, text=e.get("exp", "")))
        return VideoAnnotation(VideoInfo(video_id, frames, h, w), tracks, prompts=prompts)


@CONVERTERS.register_module("refdavis")
class RefDAVISConverter(BaseConverter):
    """Ref-DAVIS 2017: DAVIS unsupervised annotations + the four expression files.

    ``root`` holds ``DAVIS/`` (or is the DAVIS root) and ``davis_text_annotations/``.
    """

    dataset = "refdavis"
    task = "refvos"

    def __init__(self, resolution: str = "480p"):
        self._davis = DAVISConverter(resolution=resolution, unsupervised=True)
        self._expr_cache: dict[str, list[dict]] = {}

    @staticmethod
    def _davis_root(root) -> Path:
        r = Path(root)
        return r / "DAVIS" if (r / "DAVIS").is_dir() else r

    def _expressions(self, root) -> list[dict]:
        if str(root) not in self._expr_cache:  # the four files serve every video: read them once
            self._expr_cache[str(root)] = self._read_expressions(root)
        return self._expr_cache[str(root)]

    def _read_expressions(self, root) -> list[dict]:
        r = Path(root)
        folder = next((d for d in (r / "davis_text_annotations", self._davis_root(root) / "davis_text_annotations")
                       if d.is_dir()), None)
        if folder is None:
            raise InputError(f"{r}: davis_text_annotations/ not found")
        sets = []
        for name in REF_DAVIS_FILES:
            p = folder / name
            if not p.is_file():
                raise InputError(f"{p}: expression file missing")
            exps: dict = {}
            for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if not line.strip():
                    continue
                m = _LINE.match(line)
                if not m:
                    raise InputError(f"{p}:{n}: video {line.split()[0]!r}: expected "
                                     f"'<video> <object id> \"<expression>\"', got {line.strip()!r}")
                exps.setdefault(m.group(1), []).append((int(m.group(2)), m.group(3)))
            sets.append(exps)
        return sets

    def video_ids(self, root, split):
        return self._davis.video_ids(self._davis_root(root), split)

    def metainfo(self, root, split):
        meta = self._davis.metainfo(self._davis_root(root), split)
        meta.dataset, meta.task = "refdavis17", self.task
        return meta

    def convert_video(self, root, split, video_id):
        item = self._davis.convert_video(self._davis_root(root), split, video_id)
        known = {t.id for t in item.tracks}
        item.prompts = []
        for k, exps in enumerate(self._expressions(root)):
            for obj, text in exps.get(video_id, []):
                if obj not in known:
                    raise InputError(f"{REF_DAVIS_FILES[k]}: video {video_id!r} object {obj} has no mask in "
                                     f"Annotations_unsupervised")
                item.prompts.append(Prompt(id=f"{k}:{obj}", kind="text", target=obj, text=text))
        return item


class RefYouTubeVOSWriter(BaseWriter):
    """Per-expression masks: ``<out>/Annotations/<video>/<exp_id>/<frame>.png`` (0/255).

    ``close()`` zips ``Annotations/`` at the archive root, as the server wants; evaluation
    reads the folder.
    """

    benchmarks = ("refytvos",)

    def write_video(self, pred, meta=None):
        v = pred.video
        resolver = MaskResolver(meta.root if meta else None)
        for t in pred.tracks:
            if t.prompt_id is None:
                raise InputError(f"video {v.id!r}: track {t.id} answers no expression (prompt_id)")
            for f, name in enumerate(v.frames):
                m = resolver.decode(t.masks[f], v.height, v.width)
                write_grey_png(self.out / "Annotations" / v.id / t.prompt_id / f"{name}.png",
                               m.astype(np.uint8) * 255)

    def close(self):
        return zip_folder(self.out / "Annotations", self.out.with_suffix(".zip"), arc_root="Annotations",
                          suffixes=(".png",))


class RefDAVISWriter(BaseWriter):
    """``<out>/anno_<k>/<seq>/<frame>.png`` palette PNGs; expression ``k:obj`` paints id obj."""

    benchmarks = ("refdavis17",)

    @staticmethod
    def anno_sets(pred) -> dict[int, list[tuple[int, Track]]]:
        """Anno set k -> its (object id, track) pairs in painting order: ascending score, and among
        equal scores the earlier expression last, so that it wins overlaps (as the official UniVS
        writer, ``argmax`` over binary masks, gives each pixel to the lowest expression index)."""
        v = pred.video
        per_set: dict[int, list] = {k: [] for k in range(len(REF_DAVIS_FILES))}
        for t in pred.tracks:
            try:
                k, obj = (int(x) for x in (t.prompt_id or "").split(":"))
            except ValueError:
                raise InputError(f"video {v.id!r}: track {t.id} prompt_id {t.prompt_id!r} is not '<set>:<object>'") from None
            if k not in per_set:
                raise InputError(f"video {v.id!r}: track {t.id} prompt_id {t.prompt_id!r} names anno set {k} "
                                 f"(0..{len(REF_DAVIS_FILES) - 1})")
            per_set[k].append((t.score if t.score is not None else 1.0, -len(per_set[k]), obj, t))
        return {k: [(obj, t) for _, _, obj, t in sorted(tracks, key=lambda x: x[:2])] for k, tracks in per_set.items()}

    @staticmethod
    def render_frame(pred, tracks, f: int, resolver: MaskResolver) -> np.ndarray:
        """HxW uint8 object ids of one anno set's ``tracks`` (from ``anno_sets``) on frame ``f``."""
        v = pred.video
        return paint(np.zeros((v.height, v.width), np.uint8), tracks, f, resolver)

    def write_video(self, pred, meta=None):
        v = pred.video
        resolver = MaskResolver(meta.root if meta else None)
        for k, tracks in self.anno_sets(pred).items():
            for f, name in enumerate(v.frames):
                write_palette_png(self.out / f"anno_{k}" / v.id / f"{name}.png",
                                  self.render_frame(pred, tracks, f, resolver))
