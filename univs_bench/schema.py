"""The unified video-segmentation schema: one representation for all six tasks.

Every dataset converter produces, and every writer consumes, these dataclasses; the JSON form
is an MMEngine annotation file ``{"metainfo": DatasetMeta, "data_list": [VideoAnnotation]}``.

- A video is its id, ordered frame names, size, and which frames are annotated.
- Ground truth is a list of object tracks (track id, category, per-frame masks), plus optional
  per-frame label maps (semantic/panoptic PNGs referenced by path) and prompts.
- Predictions have the same shape: tracks with a score (and the prompt they answer, for
  prompt-specified tasks), plus optional label maps.

A mask is one of:
- ``None`` (absent on that frame),
- an RLE dict ``{"size": [h, w], "counts": str}``,
- a reference ``{"png": "rel/path.png", "id": k}`` meaning "pixels equal to k in that PNG",
  so that converters never inline masks that already live in PNGs.

``validate()`` methods return every problem found, each naming the video and frame;
``check()`` raises :class:`~univs_bench.errors.InputError` listing them.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional

from .errors import InputError

PROMPT_KINDS = ("mask", "box", "point", "scribble", "text", "category")
LABEL_MAP_ENCODINGS = ("class", "vspw_raw", "vipseg_raw", "panoptic_rgb", "object_ids")
SPLITS = ("seen", "unseen")

Mask = Optional[dict]


def mask_problem(mask: Any, h: int, w: int) -> str | None:
    """Why ``mask`` is not a valid schema mask for an HxW frame, or None when it is."""
    if mask is None:
        return None
    if not isinstance(mask, dict):
        return f"mask must be null, an RLE dict or a png reference, got {type(mask).__name__}"
    if "png" in mask:
        if not isinstance(mask.get("png"), str) or not isinstance(mask.get("id"), int):
            return "png reference needs 'png' (str) and 'id' (int)"
        if mask["id"] < 0:
            return f"png reference id {mask['id']} is negative"
        return None
    if "counts" not in mask or "size" not in mask:
        return "RLE needs 'size' and 'counts'"
    try:
        size = [int(v) for v in mask["size"]]
    except (TypeError, ValueError):
        return f"RLE size {mask['size']!r} is not [h, w]"
    if size != [h, w]:
        return f"RLE size {size} differs from the video size {[h, w]}"
    return None


@dataclass
class Category:
    """A category of the dataset: id as the benchmark numbers it, stuff or thing, seen/unseen."""

    id: int
    name: str
    isthing: bool = True
    color: Optional[list] = None
    split: Optional[str] = None  # 'seen' / 'unseen' where the benchmark has the split


@dataclass
class DatasetMeta:
    """Dataset-level facts: which benchmark and task, categories, how label PNGs are encoded."""

    dataset: str
    task: str
    split: str
    categories: list[Category] = field(default_factory=list)
    root: Optional[str] = None  # png references are relative to this folder
    # extra["images"]: frame path template relative to root, e.g. "JPEGImages/{video}/{frame}.jpg"
    extra: dict = field(default_factory=dict)

    def image_path(self, video_id: str, frame: str) -> str:
        """Path of a frame's image (needs ``extra['images']`` and ``root``)."""
        import os
        tpl = self.extra.get("images")
        if not tpl:
            raise InputError(f"dataset {self.dataset!r}: metainfo does not say where frame images are")
        return os.path.join(self.root or "", tpl.format(video=video_id, frame=frame))

    def validate(self) -> list[str]:
        problems, seen = [], set()
        for c in self.categories:
            if c.id in seen:
                problems.append(f"metainfo: category id {c.id} ({c.name!r}) appears twice")
            seen.add(c.id)
            if c.split is not None and c.split not in SPLITS:
                problems.append(f"metainfo: category {c.id} split {c.split!r} not in {SPLITS}")
        return problems

    @classmethod
    def from_dict(cls, d: dict) -> DatasetMeta:
        d = dict(d)
        d["categories"] = [Category(**c) for c in d.get("categories", [])]
        return cls(**d)


@dataclass
class VideoInfo:
    """A video: id, ordered frame names (file stems), size, and the annotated frame indices."""

    id: str
    frames: list[str]
    height: int
    width: int
    annotated: Optional[list[int]] = None  # None: every frame is annotated

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def annotated_frames(self) -> list[int]:
        return list(range(len(self.frames))) if self.annotated is None else list(self.annotated)


@dataclass
class Track:
    """An object track (GT) or a predicted track.

    ``masks`` has one entry per frame of the video (``None`` where absent). ``score`` is
    set on predictions; ``prompt_id`` names the prompt (object, expression) a prediction
    answers in prompt-specified tasks. ``attributes`` holds per-dataset extras (e.g. OVIS
    per-frame occlusion labels, YTVIS per-frame areas).
    """

    id: int
    category: Optional[int]
    masks: list[Mask]
    iscrowd: bool = False
    score: Optional[float] = None
    prompt_id: Optional[str] = None
    attributes: dict = field(default_factory=dict)

    def first_frame(self) -> Optional[int]:
        """Index of the first frame where the track has a mask, or None."""
        return next((i for i, m in enumerate(self.masks) if m is not None), None)


@dataclass
class LabelMap:
    """A per-frame label PNG (semantic classes, panoptic ids or object ids), by reference."""

    frame: int
    png: str
    encoding: str = "class"


@dataclass
class Prompt:
    """A prompt for a target: visual (mask/box/point/scribble on a frame) or text.

    ``target`` is the track id the prompt designates (None for a category prompt that asks
    for every instance). ``id`` is unique within the video (e.g. the Ref-YouTube-VOS exp_id).
    """

    id: str
    kind: str
    target: Optional[int] = None
    frame: Optional[int] = None
    mask: Mask = None
    box: Optional[list[float]] = None      # x1, y1, x2, y2 in pixels
    points: Optional[list[list[float]]] = None  # [[x, y], ...]; scribbles are point lists too
    text: Optional[str] = None
    category: Optional[int] = None


@dataclass
class VideoAnnotation:
    """One item of a converted dataset: a video with its GT, or a prediction for it."""

    video: VideoInfo
    tracks: list[Track] = field(default_factory=list)
    label_maps: list[LabelMap] = field(default_factory=list)
    prompts: list[Prompt] = field(default_factory=list)

    def validate(self, meta: Optional[DatasetMeta] = None, prediction: bool = False) -> list[str]:
        """Every problem of this video, each naming the video (and frame, track or prompt)."""
        v = self.video
        where = f"video {v.id!r}"
        problems = []
        if v.height <= 0 or v.width <= 0:
            problems.append(f"{where}: size {v.height}x{v.width} is not positive")
        if not v.frames:
            problems.append(f"{where}: has no frames")
        if len(set(v.frames)) != len(v.frames):
            problems.append(f"{where}: frame names repeat")
        n = len(v.frames)
        for i in v.annotated or []:
            if not 0 <= i < n:
                problems.append(f"{where}: annotated frame index {i} outside 0..{n - 1}")
        cat_ids = {c.id for c in meta.categories} if meta and meta.categories else None
        track_ids = set()
        for t in self.tracks:
            tw = f"{where} track {t.id}"
            if t.id in track_ids:
                problems.append(f"{tw}: track id repeats")
            track_ids.add(t.id)
            if len(t.masks) != n:
                problems.append(f"{tw}: {len(t.masks)} masks for {n} frames")
            if cat_ids is not None and t.category is not None and t.category not in cat_ids:
                problems.append(f"{tw}: category {t.category} not in the dataset's categories")
            if prediction and t.score is None:
                problems.append(f"{tw}: prediction without a score")
            for f, m in enumerate(t.masks):
                p = mask_problem(m, v.height, v.width)
                if p:
                    problems.append(f"{tw} frame {f} ({v.frames[f] if f < n else '?'}): {p}")
        for lm in self.label_maps:
            if not 0 <= lm.frame < n:
                problems.append(f"{where}: label map for frame index {lm.frame} outside 0..{n - 1}")
            if lm.encoding not in LABEL_MAP_ENCODINGS:
                problems.append(f"{where} frame {lm.frame}: label map encoding {lm.encoding!r} "
                                f"not in {LABEL_MAP_ENCODINGS}")
        prompt_ids = set()
        for p in self.prompts:
            pw = f"{where} prompt {p.id!r}"
            if p.id in prompt_ids:
                problems.append(f"{pw}: prompt id repeats")
            prompt_ids.add(p.id)
            if p.kind not in PROMPT_KINDS:
                problems.append(f"{pw}: kind {p.kind!r} not in {PROMPT_KINDS}")
                continue
            if p.target is not None and track_ids and p.target not in track_ids and not prediction:
                problems.append(f"{pw}: target track {p.target} does not exist")
            if p.kind in ("mask", "box", "point", "scribble"):
                if p.frame is None or not 0 <= p.frame < n:
                    problems.append(f"{pw}: visual prompt needs a frame index in 0..{n - 1}")
                    continue
                fw = f"{pw} frame {p.frame}"
                if p.kind == "mask":
                    why = mask_problem(p.mask, v.height, v.width) if p.mask is not None else "mask prompt without a mask"
                    if why:
                        problems.append(f"{fw}: {why}")
                elif p.kind == "box":
                    b = p.box or []
                    if len(b) != 4 or not (b[0] <= b[2] and b[1] <= b[3]):
                        problems.append(f"{fw}: box {b!r} is not [x1, y1, x2, y2] with x1<=x2, y1<=y2")
                else:
                    pts = p.points or []
                    if not pts:
                        problems.append(f"{fw}: {p.kind} prompt without points")
                    for pt in pts:
                        if len(pt) != 2 or not (0 <= pt[0] <= v.width and 0 <= pt[1] <= v.height):
                            problems.append(f"{fw}: point {pt!r} outside the {v.width}x{v.height} frame")
                            break
            elif p.kind == "text" and not p.text:
                problems.append(f"{pw}: text prompt without text")
            elif p.kind == "category" and p.category is None:
                problems.append(f"{pw}: category prompt without a category")
        return problems

    def check(self, meta: Optional[DatasetMeta] = None, prediction: bool = False) -> None:
        """Raise InputError listing every problem, if any."""
        problems = self.validate(meta, prediction)
        if problems:
            raise InputError("; ".join(problems))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> VideoAnnotation:
        try:
            return cls(
                video=VideoInfo(**d["video"]),
                tracks=[Track(**t) for t in d.get("tracks", [])],
                label_maps=[LabelMap(**m) for m in d.get("label_maps", [])],
                prompts=[Prompt(**p) for p in d.get("prompts", [])],
            )
        except (KeyError, TypeError) as e:
            vid = d.get("video", {}).get("id", "?") if isinstance(d, dict) else "?"
            raise InputError(f"video {vid!r}: not a schema video annotation ({e})") from None


@dataclass
class AnnotationFile:
    """A converted dataset (or a set of predictions): metainfo + one item per video."""

    metainfo: DatasetMeta
    data_list: list[VideoAnnotation]

    def validate(self, prediction: bool = False) -> list[str]:
        problems = self.metainfo.validate()
        ids = set()
        for item in self.data_list:
            if item.video.id in ids:
                problems.append(f"video {item.video.id!r}: appears twice")
            ids.add(item.video.id)
            problems += item.validate(self.metainfo, prediction)
        return problems

    def check(self, prediction: bool = False) -> None:
        problems = self.validate(prediction)
        if problems:
            more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
            raise InputError("; ".join(problems[:20]) + more)

    def to_dict(self) -> dict:
        return {"metainfo": asdict(self.metainfo), "data_list": [v.to_dict() for v in self.data_list]}

    @classmethod
    def from_dict(cls, d: dict) -> AnnotationFile:
        if not isinstance(d, dict) or "metainfo" not in d or "data_list" not in d:
            raise InputError("not an annotation file: needs 'metainfo' and 'data_list'")
        return cls(DatasetMeta.from_dict(d["metainfo"]),
                   [VideoAnnotation.from_dict(v) for v in d["data_list"]])

    def dump(self, path: str) -> None:
        """Write as JSON, atomically."""
        from .io.atomic import atomic_write_text
        atomic_write_text(path, json.dumps(self.to_dict(), separators=(",", ":")))

    @classmethod
    def load(cls, path: str) -> AnnotationFile:
        try:
            with open(path) as f:
                d = json.load(f)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: not valid JSON ({e})") from None
        try:
            return cls.from_dict(d)
        except InputError as e:
            raise InputError(f"{path}: {e}") from None


def field_names(cls) -> list[str]:
    """Names of a schema dataclass's fields (used by tests and docs)."""
    return [f.name for f in fields(cls)]
