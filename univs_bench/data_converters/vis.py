"""YouTube-VIS 2019, YouTube-VIS 2021 and OVIS: json video instance segmentation.

Official layouts read here (``split`` picks the json; ``ann_file``/``img_dir`` override):

- YouTube-VIS 2019: ``train.json``, ``valid.json`` (``test.json``) at the root, frames in
  ``<train|valid>/JPEGImages/<video>/<frame>.jpg``.
- YouTube-VIS 2021: ``<train|valid>/instances.json`` beside ``<train|valid>/JPEGImages``.
- OVIS: ``annotations_<train|valid>.json`` at the root, frames in ``<train|valid>/<video>/``.
- A local copy with full validation GT (the synthetic suite, ``univs-bench split``):
  ``valid_full/<the valid json's name>``, frames still under the ``valid`` folders.

The json lists videos (``file_names`` ``<video>/<frame>.jpg`` of the sampled frames) and one
annotation per instance track with per-frame ``segmentations`` (compressed or uncompressed RLE,
polygons, or null), ``areas`` and, in OVIS, ``occlusion``. A schema video is named by its frame
folder; the json ``video_id`` of each is kept in ``metainfo.extra['video_ids']`` for the writer.
Masks become compressed RLE inline (the json holds no PNGs). Frame names come from the json, so
GT-only copies without JPEG folders convert; where the JPEG folder exists every listed frame must
be in it. The parsed json of a split is held in memory (json datasets cannot be streamed).
An annotation whose ``video_id`` is not among the videos belongs to no video: it stops the
conversion even with ``--skip-bad`` (the official scorer would silently drop it).
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from ..errors import InputError
from ..io.atomic import atomic_path, atomic_write_text
from ..registry import CONVERTERS
from ..schema import Category, DatasetMeta, Track, VideoAnnotation, VideoInfo
from .base import BaseConverter, BaseWriter, MaskResolver

# Folder holding a split's frames: the released split folder (valid_full has valid's frames).
_FRAME_SPLIT = {"val": "valid", "valid_full": "valid", "val_full": "valid"}


def frame_split(split: str) -> str:
    """The split whose frame folder a split uses (``valid_full`` -> ``valid``)."""
    return _FRAME_SPLIT.get(split, split)


def ann_candidates(dataset: str, split: str) -> list[str]:
    """Json paths (relative to the root) tried for ``split``: the dataset's own layout first,
    then the other two (a YTVIS 2021 copy kept as ``valid.json`` still converts)."""
    base = frame_split(split)
    own = {"ytvis19": [f"{split}.json", f"{split}/{base}.json"],
           "ytvis21": [f"{split}/instances.json"],
           "ovis": [f"annotations_{split}.json", f"{split}/annotations_{base}.json"]}
    out = list(own[dataset])
    for d in ("ytvis19", "ytvis21", "ovis"):
        out += [c for c in own[d] if c not in out]
    return out


def img_dir_default(dataset: str, split: str) -> str:
    """The frame folder (relative to the root) that ``<video>/<frame>.jpg`` file names live in."""
    base = frame_split(split)
    return base if dataset == "ovis" else f"{base}/JPEGImages"


def seg_to_rle(seg, h: int, w: int, where: str) -> dict | None:
    """A json segmentation (RLE of either kind, polygons, null) -> compressed RLE with str counts."""
    from pycocotools import mask as mask_utils
    if seg is None or (isinstance(seg, (list, dict)) and not seg):
        return None
    try:
        if isinstance(seg, list):  # polygon parts of one mask (ytvos.py annToRLE merges them)
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        elif isinstance(seg, dict):
            size = [int(v) for v in seg["size"]]
            if size != [h, w]:
                raise InputError(f"{where}: RLE size {size} differs from the video's {[h, w]}")
            counts = seg["counts"]
            if isinstance(counts, list):
                rle = mask_utils.frPyObjects(seg, h, w)
            elif isinstance(counts, (str, bytes)):
                rle = {"size": size, "counts": counts}
            else:
                raise TypeError(f"counts of type {type(counts).__name__}")
        else:
            raise TypeError(f"a {type(seg).__name__}")
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise InputError(f"{where}: segmentation is not an RLE or polygon ({e})") from None
    counts = rle["counts"]
    return {"size": [h, w], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def mask_rle(mask: dict | None, h: int, w: int, resolver: MaskResolver, where: str) -> dict | None:
    """A schema mask as ``results.json`` holds it: compressed RLE with str counts, or None."""
    if mask is None:
        return None
    if "png" in mask:
        from ..io import rle
        return rle.encode(resolver.decode(mask, h, w))
    return seg_to_rle(mask, h, w, where)


class _VisIndex:
    """One split's json, indexed by video folder name."""

    def __init__(self, path: Path, doc: dict):
        self.path = path
        if not isinstance(doc, dict) or not isinstance(doc.get("videos"), list):
            raise InputError(f"{path}: not a YouTube-VIS/OVIS annotation json (no 'videos' list)")
        self.videos: dict[str, dict] = {}
        self.json_ids: dict[str, object] = {}
        by_json: dict[object, str] = {}
        for v in doc["videos"]:
            names = v.get("file_names") if isinstance(v, dict) else None
            if not isinstance(v, dict) or "id" not in v or not isinstance(names, list) or not names:
                raise InputError(f"{path}: a video entry has no 'id' or no 'file_names' ({str(v)[:80]})")
            name = str(names[0]).split("/")[0] if "/" in str(names[0]) else str(v["id"])
            if name in self.videos:
                raise InputError(f"{path}: video {name!r} (video_id {v['id']!r}) is listed twice")
            if v["id"] in by_json:
                raise InputError(f"{path}: video_id {v['id']!r} is used by {by_json[v['id']]!r} and {name!r}")
            self.videos[name] = v
            self.json_ids[name] = v["id"]
            by_json[v["id"]] = name
        cats = doc.get("categories") or []
        try:
            self.categories = [Category(int(c["id"]), str(c.get("name", c["id"]))) for c in cats]
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: 'categories' must be a list of objects with an integer 'id'") from None
        self.anns: dict[str, list[dict]] = {n: [] for n in self.videos}
        for a in doc.get("annotations") or []:  # valid/test jsons: null or absent
            vid = a.get("video_id") if isinstance(a, dict) else None
            if vid not in by_json:
                raise InputError(f"{path}: annotation {a.get('id') if isinstance(a, dict) else a!r} refers to "
                                 f"video_id {vid!r}, absent from the json's videos")
            self.anns[by_json[vid]].append(a)


class _VisConverter(BaseConverter):
    """Shared by the three json datasets; subclasses set ``dataset``."""

    task = "vis"

    def __init__(self, ann_file: str | None = None, img_dir: str | None = None):
        self.ann_file = ann_file
        self.img_dir = img_dir
        self._index: dict[tuple[str, str], _VisIndex] = {}

    # ------------------------------------------------------------------ layout
    def ann_path(self, root, split) -> Path:
        root = Path(root)
        if self.ann_file:
            p = Path(self.ann_file)
            p = p if p.is_absolute() else root / p
            if not p.is_file():
                raise InputError(f"{p}: annotation json not found")
            return p
        tried = ann_candidates(self.dataset, split)
        for rel in tried:
            if (root / rel).is_file():
                return root / rel
        raise InputError(f"{root}: no {self.dataset} annotation json for split {split!r} "
                         f"(looked for {', '.join(tried[:3])})")

    def image_rel(self, split) -> str:
        return self.img_dir or img_dir_default(self.dataset, split)

    def index(self, root, split) -> _VisIndex:
        key = (str(root), split)
        if key not in self._index:
            path = self.ann_path(root, split)
            try:
                with open(path, "rb") as f:
                    doc = json.load(f)
            except (OSError, ValueError, UnicodeDecodeError) as e:
                raise InputError(f"{path}: cannot read json ({e})") from None
            self._index = {key: _VisIndex(path, doc)}  # one split at a time: bounded memory
        return self._index[key]

    # ------------------------------------------------------------------ interface
    def video_ids(self, root, split):
        return list(self.index(root, split).videos)

    def metainfo(self, root, split):
        idx = self.index(root, split)
        first = next(iter(idx.videos.values()), None)
        ext = os.path.splitext(str(first["file_names"][0]))[1] if first else ".jpg"
        try:
            rel_ann = idx.path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            rel_ann = str(idx.path)
        return DatasetMeta(dataset=self.dataset, task=self.task, split=split, categories=list(idx.categories),
                           root=str(root),
                           extra={"images": f"{self.image_rel(split)}/{{video}}/{{frame}}{ext or '.jpg'}",
                                  "ann_file": rel_ann, "video_ids": dict(idx.json_ids)})

    def convert_video(self, root, split, video_id):
        idx = self.index(root, split)
        v = idx.videos[video_id]
        where = f"{idx.path}: video {video_id!r} (video_id {v['id']!r})"
        names = [str(n) for n in v["file_names"]]
        frames = [os.path.splitext(n.split("/")[-1])[0] for n in names]
        img_root = Path(root) / self.image_rel(split)
        if img_root.is_dir():
            for n in names:
                if not (img_root / n).is_file():
                    raise InputError(f"{img_root / n}: frame of video {video_id!r} listed in {idx.path.name} "
                                     f"not found")
        h, w = v.get("height"), v.get("width")
        if not isinstance(h, int) or not isinstance(w, int):
            h = w = None
        cat_ids = {c.id for c in idx.categories}
        tracks = []
        for a in idx.anns[video_id]:
            aw = f"{where} annotation {a.get('id')!r}"
            segs = a.get("segmentations")
            if not isinstance(segs, list):
                raise InputError(f"{aw}: 'segmentations' must be a list")
            if len(segs) != len(frames):
                raise InputError(f"{aw}: {len(segs)} segmentations for {len(frames)} frames "
                                 f"(file_names); a frame is missing")
            if a.get("category_id") not in cat_ids:
                raise InputError(f"{aw}: category_id {a.get('category_id')!r} is absent from the json's "
                                 f"categories")
            if h is None:
                first = next((s for s in segs if isinstance(s, dict) and "size" in s), None)
                if first is None:
                    raise InputError(f"{where}: no height/width and no RLE to take the size from")
                h, w = (int(x) for x in first["size"])
            masks = [seg_to_rle(s, h, w, f"{aw} frame {t} ({frames[t]})") for t, s in enumerate(segs)]
            attrs = {}
            if a.get("areas") is not None:
                attrs["areas"] = a["areas"]
            if a.get("occlusion") is not None:
                attrs["occlusion"] = a["occlusion"]
            if self.dataset == "ovis" and "occlusion" not in attrs:
                raise InputError(f"{aw}: OVIS annotation without 'occlusion'")
            try:
                tid = int(a["id"])
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{aw}: annotation without an integer 'id'") from None
            tracks.append(Track(id=tid, category=int(a["category_id"]), masks=masks,
                                iscrowd=bool(a.get("iscrowd", 0)), attributes=attrs))
        if h is None:
            raise InputError(f"{where}: no height/width")
        return VideoAnnotation(VideoInfo(video_id, frames, h, w), tracks)


@CONVERTERS.register_module("ytvis19")
class YTVIS19Converter(_VisConverter):
    """YouTube-VIS 2019. Example: ``CONVERTERS.build(dict(type='ytvis19')).convert(root, 'train', out)``."""

    dataset = "ytvis19"


@CONVERTERS.register_module("ytvis21")
class YTVIS21Converter(_VisConverter):
    """YouTube-VIS 2021 (``<split>/instances.json``)."""

    dataset = "ytvis21"


@CONVERTERS.register_module("ovis")
class OVISConverter(_VisConverter):
    """OVIS; per-frame ``occlusion`` labels are kept in ``Track.attributes['occlusion']``."""

    dataset = "ovis"


def _json_video_ids(ann_file: str) -> dict:
    return _VisIndex(Path(ann_file), json.loads(Path(ann_file).read_text())).json_ids


class ResultsJsonWriter(BaseWriter):
    """Predicted tracks -> ``results.json`` (and a zip holding it), the YouTube-VIS/OVIS submission.

    Each element is ``{video_id, category_id, score, segmentations}`` with one compressed RLE
    (``counts`` a str) or null per frame. The json ``video_id`` of a schema video comes from
    ``metainfo.extra['video_ids']`` (set by the converters), else from ``ann_file`` (the official
    json), else the video name when it is a number. Crowd tracks are not predictions and are left
    out; a track needs a category and a score.

    Each video goes to ``<out>.parts/<video>.json`` atomically, so a killed run resumes;
    ``close()`` merges the parts (every rank's) into ``<out>/results.json`` and, with ``zip``,
    writes ``<out>.zip`` with ``results.json`` at the archive root (what the servers take).
    """

    benchmarks = ("ytvis19", "ytvis21", "ovis")

    def __init__(self, zip: bool = True, root: str | None = None, ann_file: str | None = None):
        self.zip = zip
        self.root = root
        self.ann_file = ann_file
        self._ids: dict | None = None

    def open(self, out):
        super().open(out)
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.parts.mkdir(parents=True, exist_ok=True)

    def _json_id(self, name: str, meta: DatasetMeta | None):
        ids = (meta.extra.get("video_ids") if meta is not None else None) or {}
        if name in ids:
            return ids[name]
        if self.ann_file:
            if self._ids is None:
                self._ids = _json_video_ids(self.ann_file)
            if name in self._ids:
                return self._ids[name]
        if name.isdigit():
            return int(name)
        raise InputError(f"video {name!r}: no YouTube-VIS video_id known for it (metainfo extra "
                         f"'video_ids' or the writer's ann_file)")

    def write_video(self, pred, meta=None):
        v = pred.video
        vid = self._json_id(v.id, meta)
        resolver = MaskResolver(self.root or (meta.root if meta else None))
        out = []
        for t in pred.tracks:
            if t.iscrowd:
                continue
            tw = f"video {v.id!r} track {t.id}"
            if t.category is None or t.score is None:
                raise InputError(f"{tw}: a prediction needs a category and a score")
            if len(t.masks) != v.num_frames:
                raise InputError(f"{tw}: {len(t.masks)} masks for {v.num_frames} frames")
            segs = [mask_rle(m, v.height, v.width, resolver, f"{tw} frame {f}") for f, m in enumerate(t.masks)]
            out.append({"video_id": vid, "category_id": int(t.category), "score": float(t.score),
                        "segmentations": segs})
        atomic_write_text(self.parts / f"{v.id}.json", json.dumps(out, separators=(",", ":")))

    def close(self):
        res = self.eval_target()
        with atomic_path(res, suffix=".json") as tmp, open(tmp, "w") as f:
            f.write("[")
            first = True
            for part in sorted(self.parts.glob("*.json")):
                body = part.read_text().strip()[1:-1]  # a json list's elements
                if body:
                    f.write(("" if first else ",") + body)
                    first = False
            f.write("]")
        if not self.zip:
            return res
        out_zip = self.out.with_suffix(".zip")
        with atomic_path(out_zip, suffix=".zip") as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.write(res, "results.json")
        return out_zip

    def eval_target(self):
        return self.out / "results.json"
