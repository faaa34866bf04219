"""VSPW: video semantic segmentation with raw class PNGs.

Official layout read here (``VSPW_480p``): ``data/<video>/origin/<frame>.jpg``,
``data/<video>/mask/<frame>.png`` (raw labels: 0 = others, 1..124 = the classes of
``univs_bench.metainfo.vspw``, 255 = void) and split files ``train.txt``, ``val.txt``, ``test.txt``.

Schema: one track per class present in the video, ``id = category = raw class`` (1..124), each
mask a reference ``{"png": "data/<video>/mask/<frame>.png", "id": class}``; "others" (0) and void
(255) are no track. Every mask PNG is also a label map with encoding ``vspw_raw``. A test split
without masks converts to videos without GT.

Class ids: the schema keeps the raw class id c (1..124); VSPW predictions and the scorer use
c - 1 (0..123): ``VSPWWriter`` subtracts 1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.png import read_label_png, write_grey_png
from ..registry import CONVERTERS
from ..schema import Category, DatasetMeta, LabelMap, Track, VideoAnnotation, VideoInfo
from .base import BaseConverter, BaseWriter, MaskResolver, paint, read_split_file, video_frames_from_folder

OTHERS, VOID = 0, 255
NUM_CLASSES = 124


def split_file(root: str | Path, split: str) -> Path:
    """``<root>/<split>.txt``; ``valid`` and ``val`` name the same file."""
    root = Path(root)
    for name in dict.fromkeys([split, {"valid": "val", "val": "valid"}.get(split, split)]):
        if (root / f"{name}.txt").is_file():
            return root / f"{name}.txt"
    return root / f"{split}.txt"


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image
    try:
        with Image.open(path) as im:
            return im.height, im.width
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read image ({e})") from None


@CONVERTERS.register_module("vspw")
class VSPWConverter(BaseConverter):
    """VSPW (root: the folder holding ``data/`` and the split files).

    Example::

        CONVERTERS.build(dict(type='vspw')).convert('data/VSPW_480p', 'val', 'ann/vspw_val.json')
    """

    dataset = "vspw"
    task = "vss"

    def video_ids(self, root, split):
        return read_split_file(split_file(root, split))

    def metainfo(self, root, split):
        from ..metainfo.vspw import VSPW_CLASSES
        cats = [Category(i + 1, n, isthing=False) for i, n in enumerate(VSPW_CLASSES)]
        return DatasetMeta(dataset=self.dataset, task=self.task, split=split, categories=cats, root=str(root),
                           extra={"images": "data/{video}/origin/{frame}.jpg",
                                  "masks": "data/{video}/mask/{frame}.png",
                                  "prediction_class": "raw class - 1 (0..123); raw 0 others and 255 void ignored"})

    def convert_video(self, root, split, video_id):
        base = Path(root) / "data" / video_id
        img_dir, mask_dir = base / "origin", base / "mask"
        if not img_dir.is_dir() and not mask_dir.is_dir():
            raise InputError(f"{base}: folder of video {video_id!r} not found (needs origin/ or mask/)")
        frames = video_frames_from_folder(img_dir if img_dir.is_dir() else mask_dir)
        if not frames:
            raise InputError(f"{base}: video {video_id!r} has no frames")
        if not mask_dir.is_dir():  # test split: frames only
            h, w = _image_size(img_dir / f"{frames[0]}.jpg")
            return VideoAnnotation(VideoInfo(video_id, frames, h, w))
        present = {p.stem for p in mask_dir.glob("*.png")}
        extra = sorted(present - set(frames))
        if extra:
            raise InputError(f"{mask_dir / (extra[0] + '.png')}: mask without a frame in {img_dir} "
                             f"(video {video_id!r})")
        missing = [f for f in frames if f not in present]
        if missing:
            raise InputError(f"{mask_dir / (missing[0] + '.png')}: mask of frame {missing[0]} of video "
                             f"{video_id!r} not found")
        h = w = None
        masks: dict[int, list] = {}
        label_maps = []
        for t, name in enumerate(frames):
            path = mask_dir / f"{name}.png"
            lab = read_label_png(path)
            if h is None:
                h, w = lab.shape[:2]
            elif lab.shape[:2] != (h, w):
                raise InputError(f"{path}: size {lab.shape[1]}x{lab.shape[0]} differs from the video's {w}x{h} "
                                 f"(video {video_id!r})")
            vals = np.unique(lab)
            bad = vals[(vals > NUM_CLASSES) & (vals != VOID)]
            if len(bad):
                raise InputError(f"{path}: raw label {int(bad[0])} is not a VSPW class (0 others, 1..124, 255 void)")
            rel = f"data/{video_id}/mask/{name}.png"
            for c in vals.tolist():
                if c not in (OTHERS, VOID):
                    masks.setdefault(int(c), [None] * len(frames))[t] = {"png": rel, "id": int(c)}
            label_maps.append(LabelMap(frame=t, png=rel, encoding="vspw_raw"))
        if img_dir.is_dir():
            hw = _image_size(img_dir / f"{frames[0]}.jpg")
            if hw != (h, w):
                raise InputError(f"{img_dir / (frames[0] + '.jpg')}: size {hw[1]}x{hw[0]} differs from its "
                                 f"mask's {w}x{h} (video {video_id!r})")
        tracks = [Track(id=c, category=c, masks=m) for c, m in sorted(masks.items())]
        return VideoAnnotation(VideoInfo(video_id, frames, h, w), tracks, label_maps=label_maps)


class VSPWWriter(BaseWriter):
    """Predicted tracks -> ``<out>/<video>/<frame>.png`` class-index PNGs (0..123), one per GT frame.

    A track's category is the schema (raw VSPW) class c in 1..124 and is written as c - 1, the
    index that the VSPW scorer and the official models use. Where tracks overlap the higher score
    wins; pixels that no track covers get ``fill`` (0; the official models label every pixel).
    A prediction without tracks but with label maps writes those: encoding ``class`` holds
    0..123 already, ``vspw_raw`` is shifted (others and void become ``fill``).
    """

    benchmarks = ("vspw",)

    def __init__(self, fill: int = 0, root: str | None = None):
        if not 0 <= fill < NUM_CLASSES:
            raise InputError(f"VSPWWriter fill {fill} is not a class index 0..{NUM_CLASSES - 1}")
        self.fill = fill
        self.root = root

    def render_frame(self, pred, meta, f: int, resolver: MaskResolver | None = None) -> np.ndarray:
        """The HxW class indices (0..123) written for frame ``f`` (``resolver``: to share decoded PNGs).

        Track categories are not checked here (``write_video`` checks them first).
        """
        v = pred.video
        if resolver is None:
            resolver = MaskResolver(self.root or (meta.root if meta else None))
        if pred.tracks or not pred.label_maps:
            order = sorted(pred.tracks, key=lambda t: t.score if t.score is not None else 1.0)
            return paint(np.full((v.height, v.width), self.fill, np.uint8),
                         [(t.category - 1, t) for t in order], f, resolver)
        maps = {lm.frame: lm for lm in pred.label_maps}
        if f not in maps:
            raise InputError(f"video {v.id!r} frame {v.frames[f]}: no predicted label map")
        lab = resolver.label_map(maps[f].png).astype(np.int64)
        if maps[f].encoding == "vspw_raw":
            lab = np.where((lab == OTHERS) | (lab == VOID), self.fill + 1, lab) - 1
        elif maps[f].encoding != "class":
            raise InputError(f"video {v.id!r} frame {v.frames[f]}: label map encoding "
                             f"{maps[f].encoding!r} is not 'class' or 'vspw_raw'")
        if lab.max(initial=0) >= NUM_CLASSES or lab.min(initial=0) < 0:
            raise InputError(f"{maps[f].png}: class outside 0..{NUM_CLASSES - 1} (video {v.id!r})")
        return lab

    def check_categories(self, pred) -> None:
        """Every track's category must be a VSPW class 1..124 (InputError naming the track)."""
        v = pred.video
        for t in sorted(pred.tracks, key=lambda t: t.score if t.score is not None else 1.0):
            if t.category is None or not 1 <= t.category <= NUM_CLASSES:
                raise InputError(f"video {v.id!r} track {t.id}: category {t.category} is not a VSPW "
                                 f"class 1..{NUM_CLASSES} (written as 0..{NUM_CLASSES - 1})")

    def write_video(self, pred, meta=None):
        v = pred.video
        resolver = MaskResolver(self.root or (meta.root if meta else None))
        self.check_categories(pred)
        for f in v.annotated_frames():
            write_grey_png(self.out / v.id / f"{v.frames[f]}.png", self.render_frame(pred, meta, f, resolver))
            resolver.clear()
