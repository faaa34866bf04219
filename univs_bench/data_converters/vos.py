"""DAVIS 2017, MOSE and YouTube-VOS 2018: palette-PNG video object segmentation.

Official layouts read here:

- DAVIS 2017: ``JPEGImages/480p/<seq>/<frame>.jpg``, ``Annotations/480p/<seq>/<frame>.png``
  (semi-supervised; objects 1..K, 255 void in some sequences), ``Annotations_unsupervised/480p``
  and ``ImageSets/2017/<split>.txt``.
- MOSE: ``<split>/JPEGImages/<video>/``, ``<split>/Annotations/<video>/`` (valid holds only the
  first-frame masks; a local dev split holds full GT).
- YouTube-VOS 2018: ``<split>/JPEGImages/<video>/``, ``<split>/Annotations/<video>/`` and
  ``<split>/meta.json`` (``videos -> objects -> {category, frames}``); in valid, each object's
  mask is given only on the frame where it first appears, and objects may appear after frame 0.

Every object becomes a track whose masks reference the PNG id; its first mask is the VOS
prompt (a mask prompt on the frame where the object first appears).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.png import read_label_png, write_palette_png
from ..io.zip import zip_folder
from ..registry import CONVERTERS
from ..schema import Category, DatasetMeta, Prompt, Track, VideoAnnotation, VideoInfo
from .base import BaseConverter, BaseWriter, MaskResolver, paint, read_split_file, video_frames_from_folder

VOID = 255


def _tracks_from_pngs(ann_dir: Path, rel_dir: str, frames: list[str], video_id: str,
                      size: tuple[int, int] | None = None, categories: dict[int, int] | None = None):
    """Tracks and size of one video from its annotation PNGs (frames without a PNG: no mask)."""
    present = {p.stem for p in ann_dir.glob("*.png")} if ann_dir.is_dir() else set()
    if not present:
        raise InputError(f"{ann_dir}: no annotation PNGs for video {video_id!r}")
    masks: dict[int, list] = {}
    h = w = None
    for f, name in enumerate(frames):
        if name not in present:
            continue
        arr = read_label_png(ann_dir / f"{name}.png")
        if h is None:
            # a known size (the full GT's) is checked on every file, so the message names the odd one
            h, w = size if size is not None else arr.shape[:2]
        if arr.shape[:2] != (h, w):
            raise InputError(f"{ann_dir / (name + '.png')}: size {arr.shape[1]}x{arr.shape[0]} differs "
                             f"from the video's {w}x{h}")
        for k in np.unique(arr):
            k = int(k)
            if k == 0 or k == VOID:
                continue
            masks.setdefault(k, [None] * len(frames))[f] = {"png": f"{rel_dir}/{name}.png", "id": k}
    missing = sorted(present - set(frames))
    if missing:
        raise InputError(f"{ann_dir / (missing[0] + '.png')}: annotation without a frame in video {video_id!r}")
    tracks = [Track(id=k, category=(categories or {}).get(k), masks=m) for k, m in sorted(masks.items())]
    return tracks, (h, w)


def _first_mask_prompts(tracks: list[Track]) -> list[Prompt]:
    prompts = []
    for t in tracks:
        f = t.first_frame()
        if f is not None:
            prompts.append(Prompt(id=str(t.id), kind="mask", target=t.id, frame=f, mask=t.masks[f]))
    return prompts


def _images_template(base: Path) -> str:
    """Frame template relative to ``base``; a local dev split (``valid_full``) without its own
    JPEGImages reads the frames of the released ``valid`` split beside it."""
    if not (base / "JPEGImages").is_dir() and (base.parent / "valid" / "JPEGImages").is_dir():
        return "../valid/JPEGImages/{video}/{frame}.jpg"
    return "JPEGImages/{video}/{frame}.jpg"


def _split_root(root: str, split: str) -> Path:
    """``root/split`` when the dataset keeps splits in sub-folders, else ``root`` itself."""
    r = Path(root)
    return r / split if (r / split).is_dir() else r


@CONVERTERS.register_module("davis")
class DAVISConverter(BaseConverter):
    """DAVIS 2017 (semi-supervised ``Annotations`` or ``Annotations_unsupervised``).

    Example::

        CONVERTERS.build(dict(type='davis', resolution='480p', unsupervised=False)).convert(
            'data/DAVIS', 'val', 'ann/davis17_val.json')
    """

    dataset = "davis"
    task = "vos"

    def __init__(self, resolution: str = "480p", unsupervised: bool = False):
        self.resolution = resolution
        self.ann = "Annotations_unsupervised" if unsupervised else "Annotations"

    def video_ids(self, root, split):
        return read_split_file(Path(root) / "ImageSets" / "2017" / f"{split}.txt")

    def metainfo(self, root, split):
        return DatasetMeta(dataset="davis17", task=self.task, split=split, root=str(root),
                           extra={"annotations": f"{self.ann}/{self.resolution}",
                                  "images": f"JPEGImages/{self.resolution}/{{video}}/{{frame}}.jpg"})

    def convert_video(self, root, split, video_id):
        root = Path(root)
        img_dir = root / "JPEGImages" / self.resolution / video_id
        ann_dir = root / self.ann / self.resolution / video_id
        frames = video_frames_from_folder(img_dir if img_dir.is_dir() else ann_dir)
        tracks, (h, w) = _tracks_from_pngs(ann_dir, f"{self.ann}/{self.resolution}/{video_id}", frames, video_id)
        return VideoAnnotation(VideoInfo(video_id, frames, h, w), tracks, prompts=_first_mask_prompts(tracks))


@CONVERTERS.register_module("mose")
class MOSEConverter(BaseConverter):
    """MOSE: ``<split>/JPEGImages`` and ``<split>/Annotations`` (all videos of the folder)."""

    dataset = "mose"
    task = "vos"

    def video_ids(self, root, split):
        ann = _split_root(root, split) / "Annotations"
        if not ann.is_dir():
            raise InputError(f"{ann}: folder not found")
        return sorted(p.name for p in ann.iterdir() if p.is_dir())

    def metainfo(self, root, split):
        base = _split_root(root, split)
        return DatasetMeta(dataset=self.dataset, task=self.task, split=split, root=str(base),
                           extra={"images": _images_template(base)})

    def convert_video(self, root, split, video_id):
        base = _split_root(root, split)
        img_dir, ann_dir = base / "JPEGImages" / video_id, base / "Annotations" / video_id
        frames = video_frames_from_folder(img_dir if img_dir.is_dir() else ann_dir)
        tracks, (h, w) = _tracks_from_pngs(ann_dir, f"Annotations/{video_id}", frames, video_id)
        annotated = sorted({f for t in tracks for f, m in enumerate(t.masks) if m is not None})
        return VideoAnnotation(VideoInfo(video_id, frames, h, w, annotated=annotated), tracks,
                               prompts=_first_mask_prompts(tracks))


@CONVERTERS.register_module("ytvos")
class YouTubeVOSConverter(BaseConverter):
    """YouTube-VOS 2018: frames, annotation PNGs and ``meta.json`` with object categories.

    Categories are numbered by sorted name over the split's meta.json (YouTube-VOS has no
    official ids); ``split`` of each is 'seen' when the name is one of the 65 training
    categories (``univs_bench.metainfo.ytvos.YTVOS18_SEEN``).
    """

    dataset = "ytvos"
    task = "vos"

    def _meta_json(self, root, split) -> dict:
        import json
        p = _split_root(root, split) / "meta.json"
        if not p.is_file():
            raise InputError(f"{p}: meta.json not found")
        try:
            return json.loads(p.read_text())["videos"]
        except (ValueError, KeyError) as e:
            raise InputError(f"{p}: not a YouTube-VOS meta.json ({e})") from None

    def video_ids(self, root, split):
        return sorted(self._meta_json(root, split))

    def metainfo(self, root, split):
        try:
            from ..metainfo.ytvos import YTVOS18_SEEN
            seen = set(YTVOS18_SEEN)
        except ImportError:
            seen = None
        names = sorted({o["category"] for v in self._meta_json(root, split).values()
                        for o in v["objects"].values()})
        cats = [Category(i + 1, n, split=None if seen is None else ("seen" if n in seen else "unseen"))
                for i, n in enumerate(names)]
        return DatasetMeta(dataset="ytvos18", task=self.task, split=split, categories=cats,
                           root=str(_split_root(root, split)),
                           extra={"images": _images_template(_split_root(root, split))})

    def convert_video(self, root, split, video_id):
        base = _split_root(root, split)
        vmeta = self._meta_json(root, split)[video_id]
        name_to_id = {c.name: c.id for c in self.metainfo(root, split).categories}
        cats = {int(k): name_to_id[o["category"]] for k, o in vmeta["objects"].items()}
        img_dir, ann_dir = base / "JPEGImages" / video_id, base / "Annotations" / video_id
        frames = video_frames_from_folder(img_dir if img_dir.is_dir() else ann_dir)
        tracks, (h, w) = _tracks_from_pngs(ann_dir, f"Annotations/{video_id}", frames, video_id,
                                           categories=cats)
        unknown = sorted({t.id for t in tracks} - set(cats))
        if unknown:
            raise InputError(f"{ann_dir}: object id {unknown[0]} of video {video_id!r} is not in meta.json")
        listed = sorted({fr for o in vmeta["objects"].values() for fr in o.get("frames", [])})
        index = {n: i for i, n in enumerate(frames)}
        absent = [n for n in listed if n not in index]
        if absent:  # the frames come from JPEGImages, or from the PNGs where no images are kept
            where = img_dir / f"{absent[0]}.jpg" if img_dir.is_dir() else ann_dir / f"{absent[0]}.png"
            raise InputError(f"{where}: missing, but meta.json lists frame {absent[0]} for video {video_id!r}")
        annotated = sorted(index[n] for n in listed) or None
        return VideoAnnotation(VideoInfo(video_id, frames, h, w, annotated=annotated), tracks,
                               prompts=_first_mask_prompts(tracks))


class PaletteWriter(BaseWriter):
    """Predicted tracks -> ``<out>/<video>/<frame>.png`` palette PNGs of object ids.

    The object id of a track is its ``id`` (prediction ids equal GT object ids in VOS).
    Where tracks overlap, the higher score wins (VOS objects compete per pixel).
    ``frames='annotated'`` writes only annotated frames; ``zip_root`` (YouTube-VOS and MOSE
    servers) additionally zips the folder with that name at the archive root.
    """

    benchmarks = ("davis17", "mose", "ytvos18", "viposeg")

    def __init__(self, frames: str = "all", zip_root: str | None = None, root: str | None = None):
        self.frames = frames
        self.zip_root = zip_root
        self.root = root

    def render_frame(self, pred, meta, f: int, resolver: MaskResolver | None = None) -> np.ndarray:
        """The HxW uint8 object ids written for frame ``f`` (``resolver``: to share decoded PNGs)."""
        v = pred.video
        if resolver is None:
            resolver = MaskResolver(self.root or (meta.root if meta else None))
        order = sorted(pred.tracks, key=lambda t: (t.score if t.score is not None else 1.0))
        bad = next((t for t in order if t.masks[f] is not None and not 0 < t.id < 256), None)
        if bad is not None:
            raise InputError(f"video {v.id!r}: object id {bad.id} does not fit a palette PNG")
        return paint(np.zeros((v.height, v.width), np.uint8), [(t.id, t) for t in order], f, resolver)

    def write_video(self, pred, meta=None):
        v = pred.video
        resolver = MaskResolver(self.root or (meta.root if meta else None))
        frame_ids = v.annotated_frames() if self.frames == "annotated" else range(v.num_frames)
        for f in frame_ids:
            write_palette_png(self.out / v.id / f"{v.frames[f]}.png", self.render_frame(pred, meta, f, resolver))

    def close(self):
        if self.zip_root:
            return zip_folder(self.out, self.out.with_suffix(".zip"), arc_root=self.zip_root, suffixes=(".png",))
        return self.out
