"""VIPSeg: video panoptic segmentation, raw 16-bit panomasks or the COCO-video form.

Official layouts read here (``form='auto'`` picks COCO-video when the split's json exists):

- raw release (``VIPSeg``): ``imgs/<video>/<frame>.jpg``, ``panomasks/<video>/<frame>.png``
  (16-bit: 0 void, stuff = class 1..124, thing = class * 100 + instance) and ``<split>.txt``;
- COCO-video form (``VIPSeg_720P``, made by the official ``create_panoptic_video_labels.py``):
  ``panoptic_gt_VIPSeg_<split>.json`` (videos with images, per-frame ``segments_info``,
  categories) + ``panomasksRGB/<video>/<frame>.png`` (segment id = R + 256 G + 256^2 B) and
  ``images/<video>/<frame>.jpg``.

Schema: one track per panoptic segment of the video, ``category`` = COCO-video category_id
0..123 (raw class - 1), ``isthing`` in the metainfo categories (``univs_bench.metainfo.vipseg``).
Raw form: as the official conversion, a thing track per raw value (track id = the raw value), a
stuff track per class (track id = raw class 1..124, all raw values of that class merged); masks
reference the panomask PNG by raw value (inline RLE in the rare frame where a stuff class has
several raw values). COCO-video form: track id = segment id, masks reference the RGB PNG by
segment id (``base.MaskResolver`` decodes RGB ids). Each PNG is a label map too
(``vipseg_raw`` / ``panoptic_rgb``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_path, atomic_write_text
from ..io.panoptic import id2rgb, rgb2id
from ..io.png import read_label_png, write_rgb_png
from ..registry import CONVERTERS
from ..schema import Category, DatasetMeta, LabelMap, Track, VideoAnnotation, VideoInfo
from .base import (
    BaseConverter,
    BaseWriter,
    MaskResolver,
    paint,
    read_split_file,
    video_frames_from_folder,
)

NUM_CLASSES = 124
THING_ID_BASE = 1000  # written thing segment ids; stuff ids are category + 1 (1..124)


def vipseg_categories() -> list[Category]:
    from ..metainfo.vipseg import VIPSEG_CATEGORIES
    return [Category(c["id"], c["name"], isthing=bool(c["isthing"]), color=list(c["color"]))
            for c in VIPSEG_CATEGORIES]


def raw_category(value: int) -> int:
    """COCO-video category_id of a raw panomask value (official: v < 125 -> v - 1, else v // 100 - 1)."""
    return (value if value < 125 else value // 100) - 1


def _split_names(split: str) -> list[str]:
    return list(dict.fromkeys([split, {"valid": "val", "val": "valid"}.get(split, split)]))


@CONVERTERS.register_module("vipseg")
class VIPSegConverter(BaseConverter):
    """VIPSeg in either form (``form``: 'auto', 'raw' or 'coco').

    Example::

        CONVERTERS.build(dict(type='vipseg')).convert('data/VIPSeg_720P', 'val', 'ann/vipseg_val.json')
    """

    dataset = "vipseg"
    task = "vps"

    def __init__(self, form: str = "auto"):
        if form not in ("auto", "raw", "coco"):
            raise InputError(f"vipseg form {form!r} is not 'auto', 'raw' or 'coco'")
        self.form = form
        self._doc: tuple[str, dict] | None = None

    # ------------------------------------------------------------------ layout
    def json_path(self, root, split) -> Path | None:
        for s in _split_names(split):
            p = Path(root) / f"panoptic_gt_VIPSeg_{s}.json"
            if p.is_file():
                return p
        return None

    def is_coco(self, root, split) -> bool:
        if self.form != "auto":
            return self.form == "coco"
        return self.json_path(root, split) is not None

    def _coco(self, root, split) -> tuple[Path, dict]:
        p = self.json_path(root, split)
        if p is None:
            raise InputError(f"{root}: panoptic_gt_VIPSeg_{split}.json not found (COCO-video form)")
        if self._doc is None or self._doc[0] != str(p):
            try:
                doc = json.loads(p.read_text())
                videos = {v["video_id"]: v for v in doc["videos"]}
                anns = {a["video_id"]: a["annotations"] for a in doc["annotations"]}
            except (OSError, ValueError, UnicodeDecodeError) as e:
                raise InputError(f"{p}: cannot read json ({e})") from None
            except (KeyError, TypeError) as e:
                raise InputError(f"{p}: not a COCO-video panoptic json (missing {e})") from None
            for c in doc.get("categories") or []:
                if not isinstance(c, dict) or not 0 <= int(c.get("id", -1)) < NUM_CLASSES:
                    raise InputError(f"{p}: category {c!r} is not a VIPSeg category 0..{NUM_CLASSES - 1}")
            self._doc = (str(p), {"videos": videos, "anns": anns, "order": [v["video_id"] for v in doc["videos"]]})
        return Path(self._doc[0]), self._doc[1]

    # ------------------------------------------------------------------ interface
    def video_ids(self, root, split):
        if self.is_coco(root, split):
            return list(self._coco(root, split)[1]["order"])
        for s in _split_names(split):
            if (Path(root) / f"{s}.txt").is_file():
                return read_split_file(Path(root) / f"{s}.txt")
        return read_split_file(Path(root) / f"{split}.txt")

    def metainfo(self, root, split):
        coco = self.is_coco(root, split)
        return DatasetMeta(dataset=self.dataset, task=self.task, split=split, categories=vipseg_categories(),
                           root=str(root),
                           extra={"images": ("images" if coco else "imgs") + "/{video}/{frame}.jpg",
                                  "form": "coco" if coco else "raw"})

    def convert_video(self, root, split, video_id):
        if self.is_coco(root, split):
            return self._convert_coco(Path(root), split, video_id)
        return self._convert_raw(Path(root), video_id)

    def _convert_raw(self, root: Path, video_id: str) -> VideoAnnotation:
        from ..io import rle
        img_dir, pan_dir = root / "imgs" / video_id, root / "panomasks" / video_id
        if not pan_dir.is_dir():
            raise InputError(f"{pan_dir}: panomasks of video {video_id!r} not found")
        frames = video_frames_from_folder(img_dir if img_dir.is_dir() else pan_dir)
        present = {p.stem for p in pan_dir.glob("*.png")}
        extra = sorted(present - set(frames))
        if extra:
            raise InputError(f"{pan_dir / (extra[0] + '.png')}: panomask without a frame in {img_dir} "
                             f"(video {video_id!r})")
        missing = [f for f in frames if f not in present]
        if missing:
            raise InputError(f"{pan_dir / (missing[0] + '.png')}: panomask of frame {missing[0]} of video "
                             f"{video_id!r} not found")
        things = {c.id for c in vipseg_categories() if c.isthing}
        h = w = None
        masks: dict[int, list] = {}
        cats: dict[int, int] = {}
        label_maps = []
        for t, name in enumerate(frames):
            path = pan_dir / f"{name}.png"
            raw = read_label_png(path)
            if raw.ndim != 2:
                raise InputError(f"{path}: expected a single-channel 16-bit panomask")
            if h is None:
                h, w = raw.shape
            elif raw.shape != (h, w):
                raise InputError(f"{path}: size {raw.shape[1]}x{raw.shape[0]} differs from the video's {w}x{h} "
                                 f"(video {video_id!r})")
            rel = f"panomasks/{video_id}/{name}.png"
            groups: dict[int, list[int]] = {}
            for v in np.unique(raw).tolist():
                if v == 0:
                    continue
                cat = raw_category(v)
                if not 0 <= cat < NUM_CLASSES:
                    raise InputError(f"{path}: raw value {v} is not a VIPSeg class (0 void, 1..124 stuff, "
                                     f"class * 100 + instance for things)")
                tid = v if cat in things else cat + 1  # the official conversion merges a stuff class
                groups.setdefault(tid, []).append(v)
                cats[tid] = cat
            for tid, vals in groups.items():
                m = ({"png": rel, "id": vals[0]} if len(vals) == 1 else rle.encode(np.isin(raw, vals)))
                masks.setdefault(tid, [None] * len(frames))[t] = m
            label_maps.append(LabelMap(frame=t, png=rel, encoding="vipseg_raw"))
        if img_dir.is_dir():
            _check_image_size(img_dir / f"{frames[0]}.jpg", h, w, video_id)
        tracks = [Track(id=k, category=cats[k], masks=m) for k, m in sorted(masks.items())]
        return VideoAnnotation(VideoInfo(video_id, frames, h, w), tracks, label_maps=label_maps)

    def _convert_coco(self, root: Path, split: str, video_id: str) -> VideoAnnotation:
        jpath, doc = self._coco(root, split)
        v, anns = doc["videos"][video_id], doc["anns"].get(video_id)
        where = f"{jpath.name}: video {video_id!r}"
        if anns is None:
            raise InputError(f"{where}: no annotations entry")
        images = v.get("images") or []
        if len(anns) != len(images):
            raise InputError(f"{where}: {len(images)} images but {len(anns)} annotated frames")
        frames, files = [], []
        for im, an in zip(images, anns):
            fn = str(im.get("file_name") or an.get("file_name") or "")
            if not fn:
                raise InputError(f"{where}: an image without 'file_name'")
            if an.get("file_name") and an["file_name"] != fn:
                raise InputError(f"{where}: annotation file_name {an['file_name']!r} does not match image {fn!r}")
            frames.append(os.path.splitext(fn)[0])
            files.append(os.path.splitext(fn)[0] + ".png")
        if not frames:
            raise InputError(f"{where}: no frames")
        img_dir = root / "images" / video_id
        if img_dir.is_dir():
            for f in frames:
                if not (img_dir / f"{f}.jpg").is_file():
                    raise InputError(f"{img_dir / (f + '.jpg')}: frame of video {video_id!r} listed in "
                                     f"{jpath.name} not found")
        h, w = images[0].get("height"), images[0].get("width")
        masks: dict[int, list] = {}
        cats: dict[int, int] = {}
        crowd: dict[int, bool] = {}
        label_maps = []
        for t, (fn, an) in enumerate(zip(files, anns)):
            rel = f"panomasksRGB/{video_id}/{fn}"
            path = root / rel
            ids = rgb2id(_read_rgb(path))
            if h is None:
                h, w = ids.shape
            if ids.shape != (h, w):
                raise InputError(f"{path}: size {ids.shape[1]}x{ids.shape[0]} differs from the video's {w}x{h} "
                                 f"(video {video_id!r})")
            listed = {}
            for s in an.get("segments_info") or []:
                try:
                    sid, cat = int(s["id"]), int(s["category_id"])
                except (KeyError, TypeError, ValueError):
                    raise InputError(f"{where} frame {frames[t]}: segment without integer id/category_id: {s!r}") from None
                if not 0 <= cat < NUM_CLASSES:
                    raise InputError(f"{where} frame {frames[t]}: segment {sid} category_id {cat} outside "
                                     f"0..{NUM_CLASSES - 1}")
                if cats.setdefault(sid, cat) != cat:
                    raise InputError(f"{where} frame {frames[t]}: segment {sid} changes category "
                                     f"{cats[sid]} -> {cat}")
                crowd[sid] = crowd.get(sid, False) or bool(s.get("iscrowd", 0))
                listed[sid] = cat
            in_png = np.unique(ids)
            absent = [int(i) for i in in_png if i != 0 and int(i) not in listed]
            if absent:
                raise InputError(f"{path}: segment id {absent[0]} is in the PNG but absent from segments_info of "
                                 f"{jpath.name} (video {video_id!r}, frame {frames[t]})")
            for sid in set(in_png.tolist()) & set(listed):
                masks.setdefault(sid, [None] * len(frames))[t] = {"png": rel, "id": int(sid)}
            label_maps.append(LabelMap(frame=t, png=rel, encoding="panoptic_rgb"))
        tracks = [Track(id=k, category=cats[k], masks=m, iscrowd=crowd[k]) for k, m in sorted(masks.items())]
        return VideoAnnotation(VideoInfo(video_id, frames, int(h), int(w)), tracks, label_maps=label_maps)


def _read_rgb(path: Path) -> np.ndarray:
    arr = read_label_png(path, allow_rgb=True)
    if arr.ndim != 3:
        raise InputError(f"{path}: expected an RGB PNG of panoptic ids (id = R + 256 G + 256^2 B)")
    return arr


def _check_image_size(path: Path, h: int, w: int, video_id: str) -> None:
    from PIL import Image
    try:
        with Image.open(path) as im:
            hw = (im.height, im.width)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read image ({e})") from None
    if hw != (h, w):
        raise InputError(f"{path}: size {hw[1]}x{hw[0]} differs from its panomask's {w}x{h} (video {video_id!r})")


class VIPSegWriter(BaseWriter):
    """Predicted tracks -> a VIPSeg submission folder: ``pred.json`` + ``pan_pred/<video>/<frame>.png``.

    Segment ids: a stuff category c gets id c + 1 in every frame of the video (its tracks merged,
    as the official form has one segment per stuff class per video); the j-th thing track (in
    track order) gets ``THING_ID_BASE + j``; ids are the same across frames, so each is one tube.
    Stuff/thing comes from the metainfo categories (else the VIPSeg table). Tracks are painted in
    ascending score, stuff before things at equal score, so the higher score wins an overlap;
    unpainted pixels are void (0). ``segments_info`` lists exactly the ids in the PNG (what
    the scorer demands), stuff first. Each video's json part is written atomically to
    ``<out>.parts/<video>.json``; ``close()`` merges them into ``<out>/pred.json``.
    """

    benchmarks = ("vipseg",)

    def __init__(self, root: str | None = None):
        self.root = root

    def open(self, out):
        super().open(out)
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.parts.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def segments(pred, isthing: dict[int, bool]) -> tuple[list[tuple[int, Track]], dict[int, int]]:
        """(segment id, track) pairs in painting order and segment id -> category_id.

        ``isthing``: category id -> thing?; the painting order is ascending (score, isthing).
        """
        v = pred.video
        seg_ids, n_things = [], 0
        for t in pred.tracks:
            if t.category not in isthing or not 0 <= t.category < NUM_CLASSES:
                raise InputError(f"video {v.id!r} track {t.id}: category {t.category} is not a VIPSeg "
                                 f"category_id 0..{NUM_CLASSES - 1}")
            if len(t.masks) != v.num_frames:
                raise InputError(f"video {v.id!r} track {t.id}: {len(t.masks)} masks for {v.num_frames} frames")
            if isthing[t.category]:
                seg_ids.append(THING_ID_BASE + n_things)
                n_things += 1
            else:
                seg_ids.append(t.category + 1)
        order = sorted(range(len(pred.tracks)), key=lambda i: (
            pred.tracks[i].score if pred.tracks[i].score is not None else 1.0, isthing[pred.tracks[i].category]))
        cat_of = {sid: pred.tracks[i].category for i, sid in enumerate(seg_ids)}
        return [(seg_ids[i], pred.tracks[i]) for i in order], cat_of

    @staticmethod
    def render_frame(pred, segments: list[tuple[int, Track]], f: int, resolver: MaskResolver) -> np.ndarray:
        """The HxW int64 segment ids written for frame ``f`` (``segments``: from ``segments``)."""
        v = pred.video
        return paint(np.zeros((v.height, v.width), np.int64), segments, f, resolver)

    @staticmethod
    def segments_info(pan: np.ndarray, cat_of: dict[int, int]) -> list[tuple[int, int]]:
        """(id, category_id) of the segment ids in ``pan``, stuff first: what ``segments_info`` lists."""
        present = [int(s) for s in np.unique(pan) if s != 0]
        present.sort(key=lambda s: (s >= THING_ID_BASE, s))
        return [(s, cat_of[s]) for s in present]

    def write_video(self, pred, meta=None):
        v = pred.video
        cats = meta.categories if meta is not None and meta.categories else vipseg_categories()
        resolver = MaskResolver(self.root or (meta.root if meta else None))
        segments, cat_of = self.segments(pred, {c.id: c.isthing for c in cats})
        frames = []
        for f in v.annotated_frames():
            pan = self.render_frame(pred, segments, f, resolver)
            resolver.clear()
            name = v.frames[f]
            write_rgb_png(self.out / "pan_pred" / v.id / f"{name}.png", id2rgb(pan))
            frames.append({"image_id": name, "file_name": f"{name}.png", "segments_info": [
                {"id": s, "category_id": int(c)} for s, c in self.segments_info(pan, cat_of)]})
        atomic_write_text(self.parts / f"{v.id}.json",
                          json.dumps({"video_id": v.id, "annotations": frames}, separators=(",", ":")))

    def close(self):
        with atomic_path(self.out / "pred.json", suffix=".json") as tmp, open(tmp, "w") as f:
            f.write('{"annotations":[')
            for i, part in enumerate(sorted(self.parts.glob("*.json"))):
                f.write(("," if i else "") + part.read_text().strip())
            f.write("]}")
        return self.out
