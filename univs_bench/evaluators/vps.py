"""Video panoptic segmentation: VIPSeg (VPQ, VPQ_th, VPQ_st, VPQ@1..8, STQ, AQ, SQ).

GT in either form (CONTRACT.md):

- COCO-video, as the official scorers read it: ``panoptic_gt_VIPSeg_val.json`` (videos, per-frame
  ``segments_info``, categories) + ``panomasksRGB/<video>/<file_name>`` (id = R + 256 G + 256^2 B);
- raw: ``panomasks/<video>/<frame>.png`` (16-bit) + ``val.txt``, converted in memory per video as
  ``create_panoptic_video_labels.py`` does: frames sorted by name, value 0 void, v < 125 -> class
  v, else class v // 100; ``category_id = class - 1``; one segment per stuff category per video
  (the conversion gives every stuff value its category colour) and one per thing value, listed
  in increasing raw value with ``iscrowd = 0`` and the pixel count as area. Its thing ids are
  random colours there; only their identity matters to the scores.

Predictions: ``pred.json`` (``annotations``: per video a list of per-frame ``segments_info``) and
``pan_pred/<video>/<GT file_name>`` RGB PNGs. As in ``eval_vpq_vspw.py``, prediction frames are
paired with GT frames by position in the json, and every non-zero id of a PNG must be listed in
that frame's ``segments_info`` and every listed id must occur in the PNG (InputError otherwise,
as is a category id outside the GT categories, a missing video, a frame count or size mismatch).
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from .base import EvalResult, map_videos, nan_to_none, pct
from .functional.vps import (
    VIPSEG_NUM_CLASSES,
    VPQ_WINDOWS,
    FrameTable,
    frame_segments,
    pair_table,
    pq_from_stats,
    stq_from_stats,
    vps_video_stats,
)

GT_JSON = "panoptic_gt_VIPSeg_val.json"
METRICS = ("VPQ", "VPQ_th", "VPQ_st") + tuple(f"VPQ@{n}" for n in VPQ_WINDOWS) + ("STQ", "AQ", "SQ")


def _load_json(path: str, what: str):
    from ..io.files import read_regular
    data = read_regular(path, what)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def _read_split(path: str) -> list[str]:
    from ..io.files import read_regular
    text = read_regular(path, "split file").decode("utf-8", "replace")
    return [n for n in (line.strip() for line in text.splitlines()) if n]


def _read_ids(path: str, shape: tuple[int, int] | None = None, what: str = "file") -> np.ndarray:
    from ..io.panoptic import read_panoptic_png
    return read_panoptic_png(path, shape, what)


_RAW_LUT: tuple[np.ndarray, np.ndarray] | None = None


def _raw_lut() -> tuple[np.ndarray, np.ndarray]:
    """Raw 16-bit value -> (segment id, category id); category -1 marks a value the conversion rejects."""
    global _RAW_LUT
    if _RAW_LUT is None:
        from ..metainfo.vipseg import VIPSEG_CATEGORIES
        v = np.arange(1 << 16, dtype=np.int64)
        cat = np.where(v < 125, v, v // 100) - 1
        cat[(cat < 0) | (cat >= len(VIPSEG_CATEGORIES))] = -1
        thing = np.array([c["isthing"] == 1 for c in VIPSEG_CATEGORIES] + [False])
        # stuff: one id per category (its colour officially); things: one id per raw value
        seg = np.where(thing[cat], (1 << 16) + v, cat + 1)
        seg[cat < 0] = 0
        _RAW_LUT = (seg, cat)
    return _RAW_LUT


def convert_raw_frame(raw: np.ndarray, path: str) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A raw VIPSeg mask -> (HxW segment ids, [(id, category_id, iscrowd, area)] in official order)."""
    seg_lut, cat_lut = _raw_lut()
    if raw.ndim != 2:
        raise InputError(f"{path}: expected a single-channel (16-bit) VIPSeg mask")
    values, counts = np.unique(raw, return_counts=True)
    values = values.astype(np.int64)
    bad = values[(values > 0) & ((values >= len(cat_lut)) | (cat_lut[np.minimum(values, len(cat_lut) - 1)] < 0))]
    if len(bad):
        raise InputError(f"{path}: raw value {int(bad[0])} is not a VIPSeg class (0 void, 1..124 stuff, "
                         f"class * 100 + instance for things)")
    keep = values > 0
    entries = [(int(seg_lut[v]), int(cat_lut[v]), 0, int(c)) for v, c in zip(values[keep], counts[keep])]
    return seg_lut[raw.astype(np.int64)], entries


class _Video:
    """What one worker needs for one video (small: json parts and paths, no pixels)."""

    def __init__(self, video, gt_files, gt_segments, pred_dir, pred_frames, categories, raw):
        self.video = video
        self.gt_files = gt_files            # [path] per frame
        self.gt_segments = gt_segments      # [segments_info] per frame, None for the raw form
        self.pred_dir = pred_dir
        self.pred_frames = pred_frames      # [segments_info] per frame
        self.categories = categories        # {id: isthing}
        self.raw = raw


def _gt_entries(video: str, name: str, segs, categories) -> list[tuple[int, int, int, int | None]]:
    out = []
    for el in segs or []:
        try:
            sid, cat = int(el["id"]), int(el["category_id"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"GT json, video {video!r}, frame {name}: segment without integer "
                             f"'id'/'category_id': {el!r}") from None
        if cat not in categories:
            raise InputError(f"GT json, video {video!r}, frame {name}: segment {sid} has category_id "
                             f"{cat} not among the GT categories")
        if not 0 < sid < 256 ** 3:
            raise InputError(f"GT json, video {video!r}, frame {name}: segment id {sid} outside "
                             f"1..256^3-1 (an RGB id)")
        area, crowd = el.get("area"), el.get("iscrowd", 0) or 0
        try:
            crowd = int(crowd)
            area = None if area is None else int(area)
            if not -2 ** 31 < crowd < 2 ** 31 or (area is not None and not 0 <= area < 2 ** 62):
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"GT json, video {video!r}, frame {name}: segment {sid} has a non-integer "
                             f"'iscrowd' or 'area'") from None
        out.append((sid, cat, crowd, area))
    return out


def _pred_entries(video: str, name: str, segs, categories) -> list[tuple[int, int, int, int]]:
    out, seen = [], set()
    if not isinstance(segs, list):
        raise InputError(f"pred.json, video {video!r}, frame {name}: 'segments_info' must be a list")
    for el in segs:
        try:
            sid, cat = int(el["id"]), int(el["category_id"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"pred.json, video {video!r}, frame {name}: segment without integer "
                             f"'id'/'category_id': {el!r}") from None
        if not 0 < sid < 256 ** 3:
            raise InputError(f"pred.json, video {video!r}, frame {name}: segment id {sid} outside "
                             f"1..256^3-1 (an RGB id)")
        if cat not in categories:
            raise InputError(f"pred.json, video {video!r}, frame {name}: segment {sid} has unknown "
                             f"category_id {cat} (GT categories are {min(categories)}..{max(categories)})")
        if sid in seen:  # the official script then fails on the missing 'area' of predictions
            raise InputError(f"pred.json, video {video!r}, frame {name}: segment id {sid} listed twice")
        seen.add(sid)
        out.append((sid, cat, 0, 0))
    return out


def _vipseg_video(v: _Video):
    """One video -> VpsVideoStats; validates the prediction PNGs against pred.json."""
    tables = []
    for t, gt_path in enumerate(v.gt_files):
        name = os.path.basename(gt_path)
        if v.raw:
            from ..io.png import read_label_png
            gt_ids, gt_list = convert_raw_frame(read_label_png(gt_path), gt_path)
        else:
            gt_ids = _read_ids(gt_path)
            gt_list = _gt_entries(v.video, name, v.gt_segments[t], v.categories)
        pred_path = os.path.join(v.pred_dir, name)
        pred_ids = _read_ids(pred_path, gt_ids.shape, f"prediction PNG of video {v.video!r} frame {t}")
        pred_list = _pred_entries(v.video, name, v.pred_frames[t], v.categories)
        g, p, c = pair_table(gt_ids, pred_ids)
        pred_segs = frame_segments(pred_list)
        in_png = np.unique(p)
        listed = pred_segs.ids
        extra = np.setdiff1d(in_png[in_png != 0], listed)
        if len(extra):
            raise InputError(f"{pred_path}: segment id {int(extra[0])} is in the PNG but not in this frame's "
                             f"segments_info in pred.json (video {v.video!r}, frame {t})")
        absent = np.setdiff1d(listed, in_png)
        if len(absent):
            raise InputError(f"{pred_path}: segment id {int(absent[0])} is listed in pred.json (video "
                             f"{v.video!r}, frame {t}) but absent from the PNG")
        if any(a is None for _, _, _, a in gt_list):  # no json area: the PNG count
            png_area = {}
            for gid, n in zip(g.tolist(), c.tolist()):
                png_area[gid] = png_area.get(gid, 0) + n
            gt_list = [(s, k, cr, png_area.get(s, 0) if a is None else a) for s, k, cr, a in gt_list]
        tables.append(FrameTable(g, p, c, frame_segments(gt_list), pred_segs))
    things = [k for k, th in v.categories.items() if th]
    try:
        return vps_video_stats(tables, things, VPQ_WINDOWS, VIPSEG_NUM_CLASSES)
    except ValueError as e:  # IoU > 1: GT json areas disagree with the GT PNGs (official assert)
        raise InputError(f"GT of video {v.video!r}: {e}; its segments_info 'area' is smaller than its "
                         f"pixels in the GT PNGs") from None


def _categories(cats, where: str) -> dict[int, bool]:
    out = {}
    for c in cats or []:
        try:
            cid = int(c["id"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: category without integer 'id': {c!r}") from None
        if not 0 <= cid < VIPSEG_NUM_CLASSES:
            raise InputError(f"{where}: category id {cid} outside 0..{VIPSEG_NUM_CLASSES - 1}")
        out[cid] = c.get("isthing") == 1
    if not out:
        raise InputError(f"{where}: no categories")
    return out


def _gt_videos(gt_path: str, options: dict):
    """(categories {id: isthing}, [(video, [gt png paths], [segments_info] or None)], raw?)."""
    if os.path.isfile(gt_path):
        json_path, root = gt_path, os.path.dirname(gt_path)
    else:
        root = gt_path
        json_path = os.path.join(root, GT_JSON)
    split = options.get("split")
    wanted = _read_split(split) if split else None
    if os.path.isfile(json_path):
        doc = _load_json(json_path, "GT json")
        try:
            cats = _categories(doc["categories"], json_path)
            anns = {a["video_id"]: a["annotations"] for a in doc["annotations"]}
            vids = [(v["video_id"], [im["file_name"] for im in v["images"]]) for v in doc["videos"]]
        except (KeyError, TypeError) as e:
            raise InputError(f"{json_path}: not a COCO-video panoptic GT json (missing {e})") from None
        for video, files in vids:
            if not isinstance(video, (str, int)) or not all(isinstance(f, str) for f in files):
                raise InputError(f"{json_path}: video {video!r}: 'video_id' and image 'file_name's "
                                 f"must be strings")
        for video, frames in anns.items():
            if not isinstance(frames, list) or not all(
                    isinstance(fr, dict) and isinstance(fr.get("segments_info", []), list) for fr in frames):
                raise InputError(f"{json_path}: video {video!r}: 'annotations' must be a list of frames "
                                 f"with a 'segments_info' list")
        if wanted is not None:
            have = dict(vids)
            missing = [w for w in wanted if w not in have]
            if missing:
                raise InputError(f"{json_path}: video {missing[0]!r} of split {split} not in the GT json")
            vids = [(w, have[w]) for w in wanted]
        out = []
        for video, files in vids:
            if video not in anns:
                raise InputError(f"{json_path}: video {video!r} has no annotations entry")
            segs = [a.get("segments_info", []) for a in anns[video]]
            n = min(len(files), len(segs))  # the official zip() stops at the shorter list
            out.append((video, [os.path.join(root, "panomasksRGB", video, f) for f in files[:n]], segs[:n]))
        return cats, out, False
    raw_dir = os.path.join(root, "panomasks")
    if not os.path.isdir(raw_dir):
        raise InputError(f"{gt_path}: neither {GT_JSON} nor panomasks/ (VIPSeg GT in COCO-video or raw form)")
    from ..metainfo.vipseg import VIPSEG_CATEGORIES
    cats = {c["id"]: c["isthing"] == 1 for c in VIPSEG_CATEGORIES}
    videos = wanted if wanted is not None else _read_split(os.path.join(root, "val.txt"))
    out = []
    for video in videos:
        d = os.path.join(raw_dir, video)
        if not os.path.isdir(d):
            raise InputError(f"{d}: GT folder of video {video!r} not found")
        files = sorted(n for n in os.listdir(d) if n.endswith(".png") and not n.startswith("."))
        out.append((video, [os.path.join(d, f) for f in files], None))
    return cats, out, True


def vipseg_metrics(stats: Sequence, cats: dict[int, bool]) -> dict[str, float | None]:
    """Dataset VPQ, VPQ_th, VPQ_st, VPQ@n, STQ, AQ, SQ (percent, None where undefined).

    ``stats``: per video, objects with the ``VpsVideoStats`` fields ``pq``, ``stq_confusion``,
    ``aq_sum`` and ``tubes``; ``cats``: category id -> isthing. VPQ is the mean of the five
    window PQs, undefined when any window is (the official mean of five numbers).
    """
    class_ids = list(cats)
    isthing = [cats[c] for c in class_ids]
    pq_total = np.sum([s.pq for s in stats], axis=0)
    per_window = [pq_from_stats(pq_total[i], class_ids, isthing) for i in range(len(VPQ_WINDOWS))]

    def mean(key):
        vals = [w[key] for w in per_window]
        return float("nan") if any(np.isnan(vals)) else float(np.mean(vals))

    metrics = {"VPQ": pct(mean("All")), "VPQ_th": pct(mean("Things")), "VPQ_st": pct(mean("Stuff"))}
    for n, w in zip(VPQ_WINDOWS, per_window):
        metrics[f"VPQ@{n}"] = pct(w["All"])
    confusion = None
    for s in stats:  # integer counts: the sum is exact in any order
        confusion = s.stq_confusion if confusion is None else confusion + s.stq_confusion
    stq = stq_from_stats(confusion, float(sum(s.aq_sum for s in stats)), int(sum(s.tubes for s in stats)))
    metrics.update({k: pct(stq[k]) for k in ("STQ", "AQ", "SQ")})
    return {m: nan_to_none(metrics[m]) for m in METRICS}


def vps_sufficient(s, cats: dict[int, bool]) -> dict:
    """What VPQ and STQ need of one video, as JSON: per listed category with any count the
    (IoU sum, TP, FP, FN) of each window length and whether it is a thing (``pq``); per STQ
    class with any pixel the confusion diagonal, row and column sums (``stq``); the AQ
    numerator and GT thing tubes (``aq_sum``)."""
    pq = np.asarray(s.pq, dtype=np.float64)  # [windows, 4, num_classes]
    listed = np.array([c for c in cats if c < pq.shape[2]], dtype=np.int64)
    used = listed[pq[:, 1:, listed].sum(axis=(0, 1)) > 0] if listed.size else listed
    conf = np.asarray(s.stq_confusion, dtype=np.int64)
    rows, cols = conf.sum(axis=1), conf.sum(axis=0)
    inter = np.diag(conf)
    scls = np.flatnonzero(rows + cols - inter > 0)
    return {"pq": {"windows": list(VPQ_WINDOWS), "classes": used.tolist(),
                   "thing": [bool(cats[int(c)]) for c in used],
                   "sums": pq[:, :, used].transpose(2, 0, 1).tolist()},
            "stq": {"classes": scls.tolist(), "inter": inter[scls].tolist(),
                    "gt": rows[scls].tolist(), "pred": cols[scls].tolist()},
            "aq_sum": float(s.aq_sum)}


def evaluate_files(benchmark: str, gt_path: str, pred_path: str, *, workers: int = 1,
                   task: str | None = None, options: dict | None = None) -> EvalResult:
    """Score a VIPSeg submission (CONTRACT.md layout) -> VPQ, VPQ_th, VPQ_st, VPQ@n, STQ, AQ, SQ (percent)."""
    options = options or {}
    cats, gt_videos, raw = _gt_videos(gt_path, options)
    if not gt_videos:
        raise InputError(f"{gt_path}: no GT video")
    pred_json = os.path.join(pred_path, "pred.json") if os.path.isdir(pred_path) else pred_path
    pred_root = os.path.dirname(pred_json)
    doc = _load_json(pred_json, "pred.json")
    try:
        pred = {a["video_id"]: a["annotations"] for a in doc["annotations"]}
    except (KeyError, TypeError) as e:
        raise InputError(f"{pred_json}: expected {{'annotations': [{{'video_id', 'annotations'}}]}} "
                         f"(missing {e})") from None
    items = []
    for video, files, segs in gt_videos:
        if video not in pred:
            raise InputError(f"{pred_json}: video {video!r} has no prediction")
        frames = pred[video]
        n_gt = len(segs) if segs is not None else len(files)
        if not isinstance(frames, list) or len(frames) != n_gt:
            raise InputError(f"{pred_json}: video {video!r} has {len(frames) if isinstance(frames, list) else 0} "
                             f"predicted frames, GT has {n_gt}")
        try:
            pred_segs = [f["segments_info"] for f in frames]
        except (KeyError, TypeError):
            raise InputError(f"{pred_json}: video {video!r}: a frame without 'segments_info'") from None
        items.append(_Video(video, files, segs, os.path.join(pred_root, "pan_pred", video), pred_segs,
                            cats, raw))
    stats = map_videos(_vipseg_video, items, workers=workers, desc="vipseg")
    metrics = vipseg_metrics(stats, cats)

    class_ids = list(cats)
    isthing = [cats[c] for c in class_ids]
    per_video = {}
    for (video, _, _), s in zip(gt_videos, stats):
        own = [pq_from_stats(s.pq[i], class_ids, isthing)["All"] for i in range(len(VPQ_WINDOWS))]
        per_video[video] = {"frames": s.frames,
                            "VPQ": None if any(np.isnan(own)) else pct(np.mean(own)),
                            "AQ": pct(s.aq_sum / s.tubes) if s.tubes else None, "tubes": s.tubes,
                            **vps_sufficient(s, cats)}
    return EvalResult(metrics=metrics, per_video=per_video,
                      extra={"num_videos": len(items), "gt_form": "raw" if raw else "coco-video"})
