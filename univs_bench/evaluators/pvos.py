"""Panoptic VOS: VIPOSeg G over thing/stuff x seen/unseen, as ``vop_eval.py`` scores it.

Facts from yoxu515/VIPOSeg-Benchmark ``vop_eval.py`` (``eval_iou``):

- Videos are the folders of ``Annotations_gt/``; ``Annotations/<video>/`` holds reference
  masks, ``obj_class.json`` maps video -> object id (string) -> class id.
- GT and prediction frames are paired by sorted position (all files of each folder), not by
  name; their counts must match (the official tool asserts). A prediction folder per GT
  video, and none extra (the official tool pairs video folders by position too).
- Frames are visited in order. Objects scored in a frame are those of the reference masks of
  earlier frames: after a frame is scored, if a reference PNG of the same name exists, its
  non-zero ids join the list (an id listed in two reference frames is counted twice, as
  officially). So an object is scored from the frame after its reference frame.
- Prediction ids that are not objects are ignored. Each (object, frame) gives IoU and bIoU
  (``functional.boundary_iou``), pooled per subset (``metainfo.viposeg.viposeg_subset``);
  an object whose class is in no list is not scored.
- G_S = (mean IoU_S + mean bIoU_S) / 2, G = mean of the four G_S; an empty subset gives None
  (the official mean of an empty list is NaN, which propagates to G).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import require_folder
from ..metainfo.viposeg import SUBSETS, viposeg_subset
from .base import EvalResult, map_videos, pct
from .functional.boundary_iou import erosion_iterations, frame_iou_biou
from .vos import load_json, read_ids


def _files(folder: Path, what: str) -> list[str]:
    """Sorted non-hidden names (the official ``sorted(glob(folder + '/*'))``); each is read
    later as a regular file, so a FIFO or folder among them is named, not opened."""
    require_folder(folder, what)
    return sorted(n for n in os.listdir(folder) if not n.startswith("."))


def _read_u8(path: Path, shape: tuple[int, int] | None = None, what: str = "file",
             ref: str = "GT") -> np.ndarray:
    arr = read_ids(path, shape, what, ref)
    if arr.dtype != np.uint8:
        raise InputError(f"{path}: 8-bit palette/grey PNG expected (got {arr.dtype})")
    return arr


def viposeg_video_stats(video: str,
                        frames: Iterable[tuple[np.ndarray, np.ndarray, Sequence[tuple[int, int]]]]) -> dict:
    """One video: per-subset sums and per-object means of IoU/bIoU.

    ``frames``: the GT frames in order as (GT ids, predicted ids, refs), uint8 maps, ``refs``
    the (object id, class id) pairs of the frame's reference mask in ``np.unique`` order. After
    a frame is scored its reference objects join the scored list (an object listed twice is
    counted twice, as officially); an object whose class is in no subset is not scored.
    """
    obj_ids: list[int] = []
    subset_of: dict[int, str | None] = {}
    sums = {s: [0.0, 0.0, 0] for s in SUBSETS}
    per_obj: dict[int, list] = {}
    d = None
    for label, pred, refs in frames:
        if d is None:
            d = erosion_iterations(*label.shape)
        if obj_ids:
            iou, biou = frame_iou_biou(label, pred, obj_ids, d)
            for k, a, b in zip(obj_ids, iou.tolist(), biou.tolist()):
                s = subset_of[k]
                if s is None:
                    continue
                acc = sums[s]
                acc[0] += a
                acc[1] += b
                acc[2] += 1
                o = per_obj.setdefault(k, [0.0, 0.0, 0])
                o[0] += a
                o[1] += b
                o[2] += 1
        for k, cls in refs:
            subset_of[k] = viposeg_subset(cls, video)
            obj_ids.append(k)
        del label, pred  # one frame alive at a time (see vos.semi_video_stats)
    objects = {str(k): {"IoU": v[0] / v[2], "bIoU": v[1] / v[2], "subset": subset_of[k],
                        "frames": v[2]} for k, v in sorted(per_obj.items())}
    return {"sums": sums, "objects": objects}


def _viposeg_video(item: tuple[str, str, str, str, dict]) -> dict:
    """One video from its GT, reference and prediction folders (``viposeg_video_stats``)."""
    vid, gt_dir, ref_dir, pred_dir, classes = item
    gt_files = _files(Path(gt_dir), f"GT folder of video {vid!r}")
    pred_files = _files(Path(pred_dir), f"prediction folder of video {vid!r}")
    if len(gt_files) != len(pred_files):
        raise InputError(f"{pred_dir}: {len(pred_files)} prediction files for {len(gt_files)} GT "
                         f"frames of video {vid!r} (frames are paired by sorted position)")
    ref_files = set(_files(Path(ref_dir), f"reference folder of video {vid!r}"))

    def refs(gname: str) -> list[tuple[int, int]]:
        if gname not in ref_files:
            return []
        out = []
        ref = _read_u8(Path(ref_dir) / gname)
        for k in np.unique(ref).tolist():
            if k == 0:
                continue
            if str(k) not in classes:
                raise InputError(f"{Path(ref_dir) / gname}: object {k} of video {vid!r} has "
                                 f"no class in obj_class.json")
            try:
                out.append((k, int(classes[str(k)])))
            except (TypeError, ValueError):
                raise InputError(f"obj_class.json: class of object {k} in video {vid!r} is "
                                 f"not an integer") from None
        return out

    def read():
        for gname, pname in zip(gt_files, pred_files):
            gpath, ppath = Path(gt_dir) / gname, Path(pred_dir) / pname
            label = _read_u8(gpath, None, "GT frame")
            pred = _read_u8(ppath, label.shape, "prediction frame", f"GT {gpath}")
            yield label, pred, refs(gname)

    return viposeg_video_stats(vid, read())


def aggregate_viposeg(videos: list[dict]) -> dict[str, float | None]:
    """Pool (object, frame) values per subset; G_S and G as the official script (percent)."""
    tot = {s: [0.0, 0.0, 0] for s in SUBSETS}
    for v in videos:
        for s, (a, b, n) in v["sums"].items():
            tot[s][0] += a
            tot[s][1] += b
            tot[s][2] += n
    out: dict[str, float | None] = {}
    gs = []
    for s in SUBSETS:
        a, b, n = tot[s]
        iou = a / n if n else float("nan")
        biou = b / n if n else float("nan")
        g = (iou + biou) / 2
        gs.append(g)
        out[f"G_{s}"], out[f"IoU_{s}"], out[f"bIoU_{s}"] = pct(g), pct(iou), pct(biou)
    out["G"] = pct(sum(gs) / 4)
    return out


def evaluate_files(benchmark: str, gt: str, pred: str, *, workers: int = 1, task: str | None = None,
                   options: dict | None = None) -> EvalResult:
    """Score ``viposeg`` predictions (layout in CONTRACT.md)."""
    if benchmark != "viposeg":
        raise InputError(f"univs_bench.evaluators.pvos does not score {benchmark!r}")
    root = Path(gt)
    gt_root, ref_root = root / "Annotations_gt", root / "Annotations"
    for p in (gt_root, ref_root):
        if not p.is_dir():
            raise InputError(f"{p}: VIPOSeg folder not found")
    cls_path = root / "obj_class.json"
    obj_class = load_json(cls_path)
    if not isinstance(obj_class, dict):
        raise InputError(f"{cls_path}: must map each video to its objects' classes")
    videos = sorted(p.name for p in gt_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not videos:
        raise InputError(f"{gt_root}: no videos")
    pred_root = Path(pred)
    require_folder(pred_root, "VIPOSeg prediction folder (<video>/<frame>.png)")
    # every entry named as a GT video counts (one that is not a folder is named later as what
    # it is); among the others only folders are extra videos
    entries = {p.name: p for p in pred_root.iterdir() if not p.name.startswith(".")}
    pred_videos = {n for n, p in entries.items() if n in set(videos) or p.is_dir()}
    if pred_videos and not pred_videos & set(videos):
        shown = sorted(pred_videos)
        raise InputError(f"{pred_root}: none of its {len(shown)} video folders ({', '.join(shown[:3])}"
                         f"{', ...' if len(shown) > 3 else ''}) is a GT video (predictions of another "
                         f"dataset or split?)")
    missing = [v for v in videos if v not in pred_videos]
    if missing:
        raise InputError(f"{pred_root / missing[0]}: prediction folder of video {missing[0]!r} "
                         f"missing ({len(missing)} video(s) missing)")
    extra = sorted(pred_videos - set(videos))
    if extra:
        raise InputError(f"{pred_root / extra[0]}: video {extra[0]!r} is not in {gt_root} "
                         f"(the official script pairs video folders by position)")
    items = []
    for v in videos:
        if not (ref_root / v).is_dir():
            raise InputError(f"{ref_root / v}: reference folder of video {v!r} missing")
        if v not in obj_class:
            raise InputError(f"{cls_path}: no entry for video {v!r}")
        if not isinstance(obj_class[v], dict):
            raise InputError(f"{cls_path}: the entry of video {v!r} must map object ids to classes")
        items.append((v, str(gt_root / v), str(ref_root / v), str(pred_root / v), obj_class[v]))
    results = map_videos(_viposeg_video, items, workers, desc="viposeg")
    per_video = {v: r["objects"] for v, r in zip(videos, results)}
    for objs in per_video.values():
        for o in objs.values():
            o["IoU"], o["bIoU"] = pct(o["IoU"]), pct(o["bIoU"])
    return EvalResult(metrics=aggregate_viposeg(results), per_video=per_video)
