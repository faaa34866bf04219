"""Video instance segmentation AP for YouTube-VIS 2019/2021 and OVIS (PROTOCOLS.md section 1).

Reads the official annotation json (``valid.json`` layout) and a ``results.json`` (or a .zip
holding it), validates both, scores each video in a worker (tube IoU and greedy matching,
``functional/vis.py``) and accumulates like youtubevos/cocoapi ``ytvoseval.py`` and
qjy981010/cocoapi ``oviseval.py``.

Where the official code crashes or silently corrupts, this module raises InputError instead:
results that are not a list, an unknown video id (``loadRes`` asserts), a segmentation count
that is not the video's frame count (``zip`` truncates in ytvoseval.py), uncompressed RLE or
polygons in predictions (``loadRes`` calls ``maskUtils.area`` on them and fails), RLE sizes that
are not the video's, a non-numeric score, duplicate annotation ids (``createIndex`` keeps the
last one twice), a GT without ``areas``, and for OVIS a GT without a usable ``occlusion`` list.
A prediction whose category is not in the GT is also an error here (the official code silently
drops it through ``getAnnIds(catIds=...)``). As in the official code, GT annotations whose video
or category is not listed are dropped and an empty segmentation (``None``, ``[]``) is an absent
frame. An empty results list scores 0 (``loadRes`` crashes on ``anns[0]``); a GT without
``iscrowd`` counts as not crowd (``computeIoU`` raises KeyError).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.rle import check_rle_counts
from .base import EvalResult, map_videos, pct
from .functional import vis as F

_MAX_DET = F.MAX_DETS[-1]


@dataclass
class VideoInfo:
    """One GT video: frame count, size, display name and its GT tubes (json dicts)."""

    id: Any
    n_frames: int | None
    height: int | None
    width: int | None
    name: str
    gts: list[dict] = field(default_factory=list)

    def label(self) -> str:
        return f"video_id {self.id!r}" + (f" ({self.name})" if self.name else "")


def _load_json(path: str) -> Any:
    """Parse a json file, or the results json inside a .zip or a folder; InputError naming
    the file."""
    from ..io.files import read_json_source
    return read_json_source(path)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_id(x: Any) -> bool:
    return isinstance(x, (int, float, str)) and not isinstance(x, bool)


def _rle_size(seg: Any) -> list[int] | None:
    try:
        return [int(v) for v in seg["size"]]
    except (TypeError, KeyError, ValueError):
        return None


def read_gt(path: str, ovis: bool = False) -> tuple[dict, list]:
    """Read a YouTube-VIS / OVIS annotation json.

    Returns ``(videos, category_ids)``: ``videos`` maps video id -> :class:`VideoInfo` holding
    its annotations; ``category_ids`` sorted. GT segmentations may be compressed RLE,
    uncompressed RLE or polygons; ``areas`` (json, never recomputed) gives the track area.
    """
    doc = _load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("videos"), list):
        raise InputError(f"{path}: not a YouTube-VIS annotation json (no 'videos' list)")
    videos: dict[Any, VideoInfo] = {}
    for v in doc["videos"]:
        if not isinstance(v, dict) or not _is_id(v.get("id")):
            raise InputError(f"{path}: a video entry has no 'id'")
        if v["id"] in videos:
            raise InputError(f"{path}: video_id {v['id']!r} is listed twice")
        names = v.get("file_names")
        n = len(names) if isinstance(names, list) else v.get("length")
        name = names[0].split("/")[0] if isinstance(names, list) and names and "/" in str(names[0]) else ""
        h, w = v.get("height"), v.get("width")
        for key, x in (("height", h), ("width", w), ("length", n)):
            if x is not None and not (_is_number(x) and math.isfinite(x) and 0 < x < 2 ** 31
                                      and x == int(x)):
                raise InputError(f"{path}: video_id {v['id']!r}: {key} {x!r} is not a positive integer")
        videos[v["id"]] = VideoInfo(v["id"], int(n) if _is_number(n) else None,
                                    int(h) if _is_number(h) else None,
                                    int(w) if _is_number(w) else None, name)
    cats = doc.get("categories") or []
    if not isinstance(cats, list) or not all(isinstance(c, dict) and _is_id(c.get("id")) for c in cats):
        raise InputError(f"{path}: 'categories' must be a list of objects with an 'id'")
    cat_ids = {c["id"] for c in cats}
    try:
        sorted(cat_ids)
    except TypeError:
        raise InputError(f"{path}: category ids mix types (e.g. numbers and strings)") from None
    if not isinstance(doc.get("annotations") or [], list):
        raise InputError(f"{path}: 'annotations' must be a list")
    seen: set = set()
    rle_counts, rle_sizes, rle_where = [], [], []
    for ann in doc.get("annotations") or []:  # OVIS test json has annotations: null
        if not isinstance(ann, dict) or not all(_is_id(ann.get(k)) for k in ("id", "video_id")):
            raise InputError(f"{path}: an annotation has no usable 'id' or 'video_id' "
                             f"({str(ann)[:80]})")
        aid = ann["id"]
        if aid in seen:
            raise InputError(f"{path}: annotation id {aid!r} is used twice")
        seen.add(aid)
        vid = videos.get(ann["video_id"])
        if vid is None or not _is_id(ann.get("category_id")) or ann["category_id"] not in cat_ids:
            continue  # getAnnIds(vidIds, catIds) filters these out
        where = f"{path}: annotation {aid!r} of {vid.label()}"
        segs = ann.get("segmentations")
        if not isinstance(segs, list):
            raise InputError(f"{where}: 'segmentations' must be a list")
        if vid.n_frames is None:
            vid.n_frames = len(segs)
        if len(segs) != vid.n_frames:
            raise InputError(f"{where}: {len(segs)} segmentations, the video has {vid.n_frames} frames")
        for t, s in enumerate(segs):
            if not s:
                continue
            if isinstance(s, dict):
                size = _rle_size(s)
                if size is None or "counts" not in s:
                    raise InputError(f"{where}, frame {t}: not an RLE (needs 'size' and 'counts')")
                if vid.height is None:
                    vid.height, vid.width = size
                if size != [vid.height, vid.width]:
                    raise InputError(f"{where}, frame {t}: RLE size {size} differs from the "
                                     f"video's {[vid.height, vid.width]}")
                rle_counts.append(s["counts"])
                rle_sizes.append(size)
                rle_where.append((where, t))
            elif isinstance(s, list):
                if vid.height is None:
                    raise InputError(f"{where}: polygons need the video's height and width")
            else:
                raise InputError(f"{where}, frame {t}: segmentation is neither RLE nor polygon")
        areas = ann.get("areas")
        if not isinstance(areas, list) or not all(a is None or _is_number(a) for a in areas):
            raise InputError(f"{where}: 'areas' must be a list of numbers or nulls")
        truthy = [a for a in areas if a]
        area = float(np.array(truthy, dtype=np.float64).mean()) if truthy else 0.0
        occ = None
        if ovis:
            try:
                occ = F.occlusion_score(ann["occlusion"])
            except (KeyError, TypeError, ZeroDivisionError):
                raise InputError(f"{where}: OVIS needs an 'occlusion' list of "
                                 f"{'/'.join(F.OCCLUSION_SCORES)} labels, not all null") from None
        vid.gts.append({"id": aid, "category_id": ann["category_id"],
                        "iscrowd": bool(ann.get("iscrowd", 0)), "area": area, "occ": occ,
                        "segmentations": segs})
    check_rle_counts(rle_counts, rle_sizes, lambda i: "{}, frame {}".format(*rle_where[i]))
    return videos, sorted(cat_ids)


def read_predictions(path: str, videos: dict, cat_ids: list) -> dict:
    """Read ``results.json`` (or a zip holding it): video id -> list of predictions, file order.

    Each prediction needs a known ``video_id`` and ``category_id``, a numeric ``score`` and one
    compressed RLE (or null) per frame of the video, sized as the video.
    """
    doc = _load_json(path)
    if not isinstance(doc, list):
        raise InputError(f"{path}: results must be a json list of predictions")
    named = {p.get("video_id") for p in doc if isinstance(p, dict) and _is_id(p.get("video_id"))}
    if named and not any(v in videos for v in named):
        shown = ", ".join(f"video_id {v!r}" for v in sorted(named, key=str)[:3])
        raise InputError(f"{path}: none of the {len(named)} videos predicted is in the GT ({shown}"
                         f"{', ...' if len(named) > 3 else ''}): results of another dataset or split?")
    cats = set(cat_ids)
    out: dict[Any, list] = {}
    rle_counts, rle_sizes, rle_where = [], [], []
    for i, p in enumerate(doc):
        if not isinstance(p, dict):
            raise InputError(f"{path}: prediction #{i} is not an object")
        vid = videos.get(p.get("video_id")) if _is_id(p.get("video_id")) else None
        if vid is None:
            raise InputError(f"{path}: prediction #{i}: video_id {p.get('video_id')!r} is not "
                             f"in the GT")
        where = f"{path}: prediction #{i} of {vid.label()}"
        if not _is_id(p.get("category_id")) or p["category_id"] not in cats:
            raise InputError(f"{where}: category_id {p.get('category_id')!r} is not in the GT")
        score = p.get("score")
        if not _is_number(score) or not math.isfinite(score):
            raise InputError(f"{where}: score {score!r} is not a finite number")
        segs = p.get("segmentations")
        if not isinstance(segs, list):
            raise InputError(f"{where}: 'segmentations' must be a list")
        if vid.n_frames is None:
            vid.n_frames = len(segs)
        if len(segs) != vid.n_frames:
            raise InputError(f"{where}: {len(segs)} segmentations, the video has "
                             f"{vid.n_frames} frames")
        for t, s in enumerate(segs):
            if not s:
                continue
            size = _rle_size(s) if isinstance(s, dict) else None
            if size is None or not isinstance(s.get("counts"), (str, bytes)):
                raise InputError(f"{where}, frame {t}: not a compressed RLE "
                                 f"({{'size': [h, w], 'counts': str}}) or null")
            if vid.height is None:
                vid.height, vid.width = size
            if size != [vid.height, vid.width]:
                raise InputError(f"{where}, frame {t}: RLE size {size} differs from the video's "
                                 f"{[vid.height, vid.width]}")
            rle_counts.append(s["counts"])
            rle_sizes.append(size)
            rle_where.append((where, t))
        out.setdefault(p["video_id"], []).append((p["category_id"], score, segs))
    check_rle_counts(rle_counts, rle_sizes, lambda i: "{}, frame {}".format(*rle_where[i]))
    return out


def _gt_rle(seg: Any, h: int | None, w: int | None, mask_utils) -> dict | None:
    if not seg:
        return None
    if isinstance(seg, list):  # polygon parts, merged into one mask (ytvos.py annToRLE)
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    if isinstance(seg["counts"], list):
        return mask_utils.frPyObjects(seg, h, w)
    return seg  # pycocotools reads str counts as they are


def score_video(item: tuple) -> tuple[dict, dict]:
    """Worker: one video's GT and predictions -> ({category: CategoryStats}, per-video info)."""
    vid_label, n_frames, h, w, gts, dts, ovis = item
    return _score_video(vid_label, n_frames or 0, h, w, gts, dts, ovis)


def _score_video(vid_label, n_frames, h, w, gts, dts, ovis):
    from pycocotools import mask as mask_utils
    by_cat: dict[Any, tuple[list, list]] = {}
    for j, g in enumerate(gts):
        by_cat.setdefault(g["category_id"], ([], []))[0].append(j)
    for i, d in enumerate(dts):
        by_cat.setdefault(d[0], ([], []))[1].append(i)
    # Top 100 per category by score (stable), as computeIoU and evaluateVid both cut.
    kept, kept_scores, cat_rows = [], [], {}
    for cat, (_, di) in by_cat.items():
        scores = np.array([dts[i][1] for i in di], dtype=np.float64)
        order = np.argsort(-scores, kind="mergesort")[:_MAX_DET]
        cat_rows[cat] = np.arange(len(kept), len(kept) + len(order))
        kept.extend(di[i] for i in order)
        kept_scores.append(scores[order])
    dt_tubes = [[s or None for s in dts[i][2]] for i in kept]
    try:  # pycocotools parses every RLE string here first, so bad input fails here
        gt_tubes = [[_gt_rle(s, h, w, mask_utils) for s in g["segmentations"]] for g in gts]
        dt_fa = F.frame_areas(dt_tubes, n_frames)
        gt_fa = F.frame_areas(gt_tubes, n_frames)
    except Exception as e:  # noqa: BLE001 (pycocotools raises bare Exception on bad input)
        raise InputError(f"{vid_label}: cannot decode a segmentation ({type(e).__name__}: {e})") from None
    pos = dt_fa > 0
    dt_area = np.where(pos.any(1), (dt_fa * pos).sum(1) / np.maximum(pos.sum(1), 1), 0.0)
    gt_ids = [g["id"] for g in gts]
    crowd = np.array([g["iscrowd"] for g in gts], dtype=bool)
    gt_area = np.array([g["area"] for g in gts], dtype=np.float64)
    occ = np.array([g["occ"] for g in gts], dtype=np.float64) if ovis else None
    ranges = F.OVIS_RANGES if ovis else F.YTVIS_RANGES
    stats, best = {}, {}
    for k, (cat, (gi, _)) in enumerate(by_cat.items()):
        rows = cat_rows[cat]
        # IoU per category: pycocotools parses each RLE once per call and pairs cost O(runs).
        sub = F.tube_iou([dt_tubes[i] for i in rows], [gt_tubes[j] for j in gi],
                         dt_fa[rows], gt_fa[gi])
        stats[cat] = F.match_category(
            sub, kept_scores[k], dt_area[rows], [gt_ids[j] for j in gi], crowd[gi], gt_area[gi],
            None if occ is None else occ[gi], ranges)
        for c, j in enumerate(gi):
            best[str(gt_ids[j])] = float(sub[:, c].max()) if len(rows) else 0.0
    return stats, {"n_gt": len(gts), "n_pred": len(dts), "best_iou": best,
                   "ap_stats": ap_sufficient(stats)}


def ap_sufficient(stats: dict) -> dict:
    """The (all area, all occlusion) matching of one video, per category, as JSON: detection
    scores in score order (at most 100), TP and ignore flags as bitmasks over the ten IoU
    thresholds (bit t = threshold t), and the number of non-ignored GT. With these the AP/AR
    of any multiset of videos is recomputed exactly (``univs_bench.report.stats``)."""
    bits = 1 << np.arange(len(F.IOU_THRESHOLDS), dtype=np.int64)
    out = {}
    for cat, s in stats.items():
        out[str(cat)] = {"scores": s.scores.tolist(),
                         "tp": (s.tp[0].T.astype(np.int64) @ bits).tolist(),
                         "ig": (s.ignore[0].T.astype(np.int64) @ bits).tolist(),
                         "n_gt": int(s.n_gt[0])}
    return out


def _warn_coverage(pred: str, preds: dict, videos: dict) -> None:
    """One-line warnings for results that score but are probably not what was meant; the
    number itself follows ytvoseval.py (GT of videos without predictions counts as missed)."""
    import warnings

    from ..errors import InputWarning
    if not preds:
        warnings.warn(f"{pred}: no prediction at all; every GT track counts as missed (AP 0)",
                      InputWarning, stacklevel=3)
    elif len(preds) < len(videos) / 2:
        warnings.warn(f"{pred}: predictions for {len(preds)} of the {len(videos)} GT videos; "
                      f"the GT of the other {len(videos) - len(preds)} counts as missed",
                      InputWarning, stacklevel=3)


def evaluate_files(benchmark: str, gt: str, pred: str, *, workers: int = 1,
                   task: str | None = None, options: dict | None = None) -> EvalResult:
    """Score ``pred`` (results.json or .zip) against the annotation json ``gt``.

    Metrics as CONTRACT.md (percent; None where a range has no GT, the official -1). Per
    video: number of GT and predicted tubes and the best tube IoU of each GT (by annotation id)
    among same-category predictions (top 100 by score).
    """
    ovis = benchmark == "ovis"
    ranges = F.OVIS_RANGES if ovis else F.YTVIS_RANGES
    videos, cat_ids = read_gt(gt, ovis=ovis)
    if not any(v.gts for v in videos.values()):
        raise InputError(f"{gt}: no GT annotation of a listed video and category: this is the "
                         f"released GT-less {benchmark} file (scored by the server only); score "
                         f"locally on a dev split made with `univs-bench split {benchmark}`")
    preds = read_predictions(pred, videos, cat_ids)
    _warn_coverage(pred, preds, videos)
    try:
        vid_ids = sorted(videos)  # np.unique(vidIds): ties across videos break in this order
    except TypeError:
        raise InputError(f"{gt}: video ids mix types (e.g. numbers and strings)") from None
    items = [(videos[v].label(), videos[v].n_frames, videos[v].height, videos[v].width,
              videos[v].gts, preds.get(v, []), ovis) for v in vid_ids]
    results = map_videos(score_video, items, workers=workers, desc=benchmark)
    per_cat: dict[Any, list] = {c: [] for c in cat_ids}
    per_video = {}
    for v, (stats, info) in zip(vid_ids, results):
        for c, s in stats.items():
            per_cat[c].append(s)
        per_video[str(v)] = dict(info, name=videos[v].name) if videos[v].name else info
    if preds and not any(iou > 0 for info in per_video.values() for iou in info["best_iou"].values()):
        import warnings

        from ..errors import InputWarning
        warnings.warn(f"{pred}: no predicted tube overlaps any GT tube of its category in any "
                      f"video (results of another dataset or split?)", InputWarning, stacklevel=2)
    precision, recall = F.accumulate([per_cat[c] for c in cat_ids], len(ranges))
    summary = F.summarize(precision, recall, ranges)
    return EvalResult(metrics={k: pct(v) for k, v in summary.items()}, per_video=per_video)
