"""Semi-supervised VOS: DAVIS 2017 and MOSE (J&F, DAVIS protocol), YouTube-VOS 2018 (G).

DAVIS protocol, as davisvideochallenge/davis2017-evaluation runs it (``davis.py``,
``evaluation.py``, ``results.py``):

- GT frames are the sorted ``*.png`` of the sequence; the objects are 1..K with K the largest
  id of frame 0 once 255 (void) is set to 0. Ids above K that appear later are not scored.
- The first and the last frame are dropped; a sequence needs 3 frames (the official tool
  crashes on fewer). Void is not used in the semi-supervised task: GT 255 is background.
- Predictions are read for the evaluated frames only, by GT frame name. An id above K in them
  makes the official tool abort the whole run: here an InputError naming the file.
- Per object: J/F mean, recall, decay over its frames (``functional.jf.db_statistics``);
  dataset numbers are means over all objects of the split, J&F = (J_mean + F_mean) / 2.

YouTube-VOS 2018 (server-only; see ``ytvos_video_stats``): each object is scored on the annotated
frames after its first appearance (its reference frame) through the last annotated frame of
the video, seen/unseen by category name.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import require_folder
from .base import EvalResult, map_videos, pct
from .functional import jf

_DEFAULT_RESOLUTION = "480p"


def list_pngs(folder: str | os.PathLike) -> list[str]:
    """Sorted ``*.png`` names in ``folder`` (the official readers glob and sort)."""
    try:
        return sorted(n for n in os.listdir(folder) if n.endswith(".png") and not n.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        from ..io.files import require_folder
        require_folder(folder)
        raise InputError(f"{folder}: folder not found") from None


def gt_frame_files(name: str, gt_dir: str) -> list[str]:
    """The GT frames of video ``name``: the sorted PNGs of ``gt_dir``, at least one."""
    frames = list_pngs(gt_dir)
    if not frames:
        if any(os.path.isdir(os.path.join(gt_dir, n)) for n in os.listdir(gt_dir)):
            raise InputError(f"{gt_dir}: holds folders, not the PNG frames of a video {name!r} "
                             f"(is --gt one level too high?)")
        raise InputError(f"{gt_dir}: no GT frames for video {name!r}")
    return frames


def check_prediction_videos(pred: str | os.PathLike, videos: list[str]) -> None:
    """Before scoring a folder of ``<video>/`` predictions: InputError when none of its folders
    is a GT video (another dataset's or split's predictions); an InputWarning naming the
    folders that are not GT videos (ignored, as the official readers go by GT video name)."""
    import warnings

    from ..errors import InputWarning
    require_folder(pred, "prediction folder")
    have = sorted(n for n in os.listdir(pred) if not n.startswith(".")
                  and os.path.isdir(os.path.join(pred, n)))
    wanted = set(videos)
    extra = [n for n in have if n not in wanted]
    if have and len(extra) == len(have):
        inner = os.path.join(pred, have[0])
        nested = len(have) == 1 and any(n in wanted for n in os.listdir(inner))
        raise InputError(f"{pred}: none of its {len(have)} video folders ({', '.join(have[:3])}"
                         f"{', ...' if len(have) > 3 else ''}) is a GT video ("
                         + (f"the videos are one level down: pass {inner}" if nested else
                            "predictions of another dataset or split?") + ")")
    if extra:
        warnings.warn(f"{pred}: {len(extra)} folder(s) not among the GT videos, ignored: "
                      f"{', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}",
                      InputWarning, stacklevel=2)


def read_ids(path: str | os.PathLike, shape: tuple[int, int] | None = None, what: str = "file",
             ref: str = "GT") -> np.ndarray:
    """An HxW id map from a palette/grey PNG; InputError naming the file if unreadable, not a
    regular file, or (checked on its header, before decoding) not of ``shape``."""
    from ..io.png import read_label_png
    return read_label_png(path, shape=shape, what=what, ref=ref)


def read_pred(path: str | os.PathLike, shape: tuple[int, int]) -> np.ndarray:
    """A prediction id map that must be a regular file of the GT size."""
    return read_ids(path, shape, "prediction frame")


def read_gt_frames(name: str, gt_dir: str, frames: Iterable[str], shape: tuple[int, int] | None = None
                   ) -> Iterator[tuple[str, str, np.ndarray]]:
    """(frame file, path, ids) of each GT frame; all must have the first one's size (``shape``)."""
    for fr in frames:
        gpath = os.path.join(gt_dir, fr)
        gt = read_ids(gpath, shape, "GT frame", f"the first GT frame of {name!r}")
        if shape is None:
            shape = gt.shape
        yield fr, gpath, gt


def object_stats(j: np.ndarray, f: np.ndarray) -> dict:
    """Official per-object statistics of per-frame J and F series."""
    jm, jr, jd = jf.db_statistics(j)
    fm, fr, fd = jf.db_statistics(f)
    return {"J": (jm, jr, jd), "F": (fm, fr, fd), "n": len(j)}


def semi_video_stats(name: str, first: np.ndarray,
                     frames: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> dict:
    """One sequence, DAVIS semi-supervised protocol: {obj_id: object_stats}.

    ``first`` is the GT of frame 0 (objects 1..K, K its largest id once void 255 is 0);
    ``frames`` are the evaluated frames (first and last dropped) as (where, GT ids, predicted
    ids), ``where`` naming the prediction in errors. GT 255 counts as background; a predicted
    id above K is an InputError (the official tool aborts the run).
    """
    n_obj = int(np.where(first == 255, 0, first).max(initial=0))
    ids = list(range(1, n_obj + 1))
    radius = jf.boundary_radius(*first.shape)
    js, fs = [], []
    for where, gt, pred in frames:
        if gt.max(initial=0) == 255:
            gt = np.where(gt == 255, 0, gt).astype(gt.dtype, copy=False)
        top = int(pred.max(initial=0))
        if top > n_obj:
            raise InputError(f"{where}: object id {top} > {n_obj} objects in GT of {name!r} "
                             f"(the official tool aborts)")
        j, f = jf.frame_jf(gt, pred, ids, radius)
        js.append(j)
        fs.append(f)
        # free the frame before the next is read: holding two frames' arrays makes glibc trim and
        # re-fault the heap on every frame (measured ~7% on DAVIS-size frames)
        del gt, pred
    js = np.array(js, dtype=np.float64).reshape(len(js), n_obj)
    fs = np.array(fs, dtype=np.float64).reshape(len(fs), n_obj)
    return {str(k): object_stats(js[:, k - 1], fs[:, k - 1]) for k in ids}


def _semi_video(item: tuple[str, str, str]) -> dict:
    """One sequence from its GT and prediction folders (``semi_video_stats``)."""
    name, gt_dir, pred_dir = item
    frames = gt_frame_files(name, gt_dir)
    first = read_ids(os.path.join(gt_dir, frames[0]))
    shape = first.shape
    evaluated = frames[1:-1]
    if not evaluated:
        raise InputError(f"{gt_dir}: video {name!r} has {len(frames)} GT frame(s); the DAVIS "
                         f"protocol drops the first and last frame and needs at least 3")
    require_folder(pred_dir, f"prediction folder of video {name!r}")

    def read():
        for fr, _, gt in read_gt_frames(name, gt_dir, evaluated, shape):
            ppath = os.path.join(pred_dir, fr)
            yield ppath, gt, read_pred(ppath, shape)

    return semi_video_stats(name, first, read())


def aggregate_jf(per_video: dict[str, dict]) -> dict[str, float | None]:
    """Dataset J&F numbers: means over all objects of all videos (percent)."""
    objs = [o for v in per_video.values() for o in v.values()]
    if not objs:
        return {m: None for m in ("J&F", "J_mean", "J_recall", "J_decay",
                                  "F_mean", "F_recall", "F_decay")}
    arr = {k: np.array([o[k] for o in objs], dtype=np.float64) for k in ("J", "F")}
    jm, fm = arr["J"][:, 0].mean(), arr["F"][:, 0].mean()
    return {
        "J&F": pct((jm + fm) / 2.0),
        "J_mean": pct(jm), "J_recall": pct(arr["J"][:, 1].mean()), "J_decay": pct(arr["J"][:, 2].mean()),
        "F_mean": pct(fm), "F_recall": pct(arr["F"][:, 1].mean()), "F_decay": pct(arr["F"][:, 2].mean()),
    }


def _per_video_out(per_video: dict[str, dict]) -> dict:
    return {v: {k: {"J_mean": pct(o["J"][0]), "F_mean": pct(o["F"][0]),
                    "J_recall": pct(o["J"][1]), "J_decay": pct(o["J"][2]),
                    "F_recall": pct(o["F"][1]), "F_decay": pct(o["F"][2])} for k, o in objs.items()}
            for v, objs in per_video.items()}


def _wrap_note(per_video: dict[str, dict]) -> dict:
    wraps = sorted(f"{v}/{k}" for v, objs in per_video.items() for k, o in objs.items()
                   if jf.decay_wraps(o["n"]))
    if not wraps:
        return {}
    return {"note": "J_decay/F_decay computed without the official uint8 wrap of the decay bin "
                    "edges (> 256 evaluated frames); davis2017-evaluation would differ for: "
                    + ", ".join(wraps[:20]) + (" ..." if len(wraps) > 20 else "")}


def read_split(path: str | os.PathLike) -> list[str]:
    """Sequence names, one per line (blank lines skipped)."""
    from ..io.files import read_regular
    text = read_regular(path, "split file").decode("utf-8", "replace")
    return [n for n in (ln.strip() for ln in text.splitlines()) if n]


def davis_sequences(gt: str, options: dict, annotations: str = "Annotations", what: str = "DAVIS"
                    ) -> tuple[Path, list[str]]:
    """``<gt>/<annotations>/<resolution>`` and the sequences of the split file (``options``
    'resolution', default 480p, and 'split', default ``ImageSets/2017/val.txt``)."""
    res = options.get("resolution") or _DEFAULT_RESOLUTION
    ann = Path(gt) / annotations / res
    if not ann.is_dir():
        raise InputError(f"{ann}: {what} annotation folder not found")
    split = options.get("split") or str(Path(gt) / "ImageSets" / "2017" / "val.txt")
    seqs = read_split(split)
    if not seqs:
        raise InputError(f"{split}: no sequences listed")
    return ann, seqs


def _davis_items(gt: str, pred: str, options: dict) -> list[tuple[str, str, str]]:
    ann, seqs = davis_sequences(gt, options)
    check_prediction_videos(pred, seqs)
    return [(s, str(ann / s), str(Path(pred) / s)) for s in seqs]


def _mose_items(gt: str, pred: str) -> list[tuple[str, str, str]]:
    ann = Path(gt) / "Annotations"
    if not ann.is_dir():
        raise InputError(f"{ann}: MOSE annotation folder not found")
    vids = sorted(p.name for p in ann.iterdir() if p.is_dir())
    if not vids:
        raise InputError(f"{ann}: no videos")
    counts = {v: len(list_pngs(ann / v)) for v in vids}
    nested = [v for v, n in counts.items() if n == 0 and any(p.is_dir() for p in (ann / v).iterdir())]
    if nested:
        raise InputError(f"{ann / nested[0]}: holds folders, not frames: MOSE --gt is the folder "
                         f"holding Annotations/<video>/<frame>.png (a DAVIS root holds "
                         f"Annotations/480p/<seq>/: score it with `evaluate davis17`)")
    if all(n <= 1 for n in counts.values()):
        raise InputError(f"{ann}: every video has only its first-frame mask: this is the released "
                         f"GT-less MOSE valid split (scored by the server only); score locally on "
                         f"a dev split made with `univs-bench split mose`")
    check_prediction_videos(pred, vids)
    return [(v, str(ann / v), str(Path(pred) / v)) for v in vids]


# --------------------------------------------------------------------------- YouTube-VOS 2018

def read_seen(path: str | os.PathLike | None) -> frozenset[str]:
    """Seen category names: from a file (names separated by newlines/commas, '#' comments), or
    the 65 YouTube-VOS training categories by default."""
    if path is None:
        from ..metainfo.ytvos import YTVOS18_SEEN
        return frozenset(YTVOS18_SEEN)
    from ..io.files import read_regular
    text = read_regular(path, "seen-categories file").decode("utf-8", "replace")
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        names.update(n.strip() for n in line.replace(",", " ").split() if n.strip())
    if not names:
        raise InputError(f"{path}: no category names")
    return frozenset(names)


def ytvos_video_stats(name: str, objects: dict[int, str],
                      frames: Iterable[tuple[str, np.ndarray, str, Callable[[], np.ndarray]]],
                      objects_from: str = "meta.json") -> dict:
    """One YouTube-VOS video: {obj_id: {"J": mean, "F": mean, "category": name, "n": frames}}.

    ``objects`` maps object id -> category name; ``frames`` are the annotated GT frames in order
    as (GT where, GT ids, prediction where, read_pred): the prediction is read only on frames
    where some object is scored. Each object is scored on the GT frames strictly after its
    reference frame (the first annotated frame where it appears) through the last annotated
    frame of the video, frames where it is absent included (both empty: J = F = 1). An object
    that appears only in the last annotated frame has no scored frame and is left out. A GT id
    not in ``objects`` (named ``objects_from`` in the error) or a predicted id above the largest
    object id is an InputError.
    """
    known = sorted(objects)
    top = max(known, default=0)
    radius = None
    started: dict[int, int] = {}
    series: dict[int, tuple[list, list]] = {k: ([], []) for k in known}
    for t, (gwhere, gt, pwhere, read_pred) in enumerate(frames):
        if radius is None:
            radius = jf.boundary_radius(*gt.shape)
        active = [k for k in known if k in started]
        if active:
            pred = read_pred()
            pmax = int(pred.max(initial=0))
            if pmax > top:
                raise InputError(f"{pwhere}: object id {pmax} > {top} objects of video {name!r}")
            j, f = jf.frame_jf(gt, pred, active, radius)
            for a, k in enumerate(active):
                series[k][0].append(j[a])
                series[k][1].append(f[a])
            del pred
        present = np.unique(gt)
        del gt  # as in semi_video_stats: one frame alive at a time
        for v in present.tolist():
            if v == 0 or v in started:
                continue
            if v not in objects:
                raise InputError(f"{gwhere}: object id {v} of video {name!r} not in {objects_from}")
            started[v] = t
    out = {}
    for k in known:
        js, fs = series[k]
        if not js:
            continue
        out[str(k)] = {"J": float(np.mean(js)), "F": float(np.mean(fs)),
                       "category": objects[k], "n": len(js)}
    return out


def _ytvos_video(item: tuple[str, str, str, dict]) -> dict:
    """One YouTube-VOS video from its GT and prediction folders (``ytvos_video_stats``)."""
    name, gt_dir, pred_dir, objects = item
    frames = gt_frame_files(name, gt_dir)

    def read():
        for fr, gpath, gt in read_gt_frames(name, gt_dir, frames):
            ppath = os.path.join(pred_dir, fr)
            yield gpath, gt, ppath, partial(read_pred, ppath, gt.shape)

    return ytvos_video_stats(name, objects, read())


def load_json(path: Path):
    """A json file's content; InputError naming the file if it is missing, not a regular
    file, or not json."""
    from ..io.files import read_regular
    data = read_regular(path, "json file")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def read_videos_json(meta_path: Path) -> dict:
    """The non-empty ``videos`` object of a YouTube-VOS style json (``meta.json``,
    ``meta_expressions.json``); InputError naming the file otherwise."""
    meta = load_json(meta_path)
    videos = meta.get("videos") if isinstance(meta, dict) else None
    if not isinstance(videos, dict) or not videos:
        raise InputError(f"{meta_path}: no 'videos'")
    for vid, info in videos.items():
        if info is not None and not (isinstance(info, dict) and all(
                isinstance(info.get(k) or {}, dict) for k in ("objects", "expressions"))):
            raise InputError(f"{meta_path}: video {vid!r} is not an object with 'objects' or "
                             f"'expressions' objects")
    return videos


def _ytvos_items(gt: str, pred: str) -> list[tuple[str, str, str, dict]]:
    meta_path = Path(gt) / "meta.json"
    videos = read_videos_json(meta_path)
    items = []
    for vid in sorted(videos):
        objs = (videos[vid] or {}).get("objects") or {}
        try:
            cats = {int(k): str(o["category"]) for k, o in objs.items()}
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{meta_path}: video {vid!r} has an object without an integer id "
                             f"or a category") from None
        items.append((vid, str(Path(gt) / "Annotations" / vid), str(Path(pred) / vid), cats))
    return items


def _refuse_first_masks_only(gt: str, items: list) -> None:
    """InputError for the released valid split, whose Annotations/ hold each object's first mask
    only: every video has fewer annotated frames than meta.json lists for its objects (or than
    its JPEGImages/ frames), so a score would be of first masks (a table of dashes)."""
    meta = load_json(Path(gt) / "meta.json").get("videos") or {}
    for vid, gdir, _, _ in items:
        objs = (meta.get(vid) or {}).get("objects") or {}
        listed = {f for o in objs.values() if isinstance(o, dict) and isinstance(o.get("frames"), list)
                  for f in o["frames"] if isinstance(f, str)}
        jpg = Path(gt) / "JPEGImages" / vid
        n_jpg = len([n for n in os.listdir(jpg) if not n.startswith(".")]) if jpg.is_dir() else 0
        expected = max(len(listed), n_jpg)
        if not expected or len(list_pngs(gdir)) >= expected:
            return
    raise InputError(f"{gt}: every video has fewer annotated frames than its objects appear in: "
                     f"this is the released GT-less ytvos18 valid split (first masks only, scored "
                     f"by the server); score locally on a dev split made with `univs-bench split "
                     f"ytvos18`")


def aggregate_ytvos(per_video: dict[str, dict], seen: frozenset[str]) -> dict[str, float | None]:
    """G and J/F over seen and unseen objects (means over objects; empty subset -> None)."""
    vals = {"seen": ([], []), "unseen": ([], [])}
    for objs in per_video.values():
        for o in objs.values():
            key = "seen" if o["category"] in seen else "unseen"
            vals[key][0].append(o["J"])
            vals[key][1].append(o["F"])
    out = {}
    for key, (js, fs) in vals.items():
        out[f"J_{key}"] = float(np.mean(js)) if js else float("nan")
        out[f"F_{key}"] = float(np.mean(fs)) if fs else float("nan")
    g = (out["J_seen"] + out["F_seen"] + out["J_unseen"] + out["F_unseen"]) / 4.0
    res = {"G": pct(g)}
    res.update({k: pct(v) for k, v in out.items()})
    return res


# --------------------------------------------------------------------------- entry point

def evaluate_files(benchmark: str, gt: str, pred: str, *, workers: int = 1, task: str | None = None,
                   options: dict | None = None) -> EvalResult:
    """Score ``davis17``, ``mose`` or ``ytvos18`` predictions (layouts in CONTRACT.md)."""
    options = dict(options or {})
    if benchmark in ("davis17", "mose"):
        items = _davis_items(gt, pred, options) if benchmark == "davis17" else _mose_items(gt, pred)
        results = map_videos(_semi_video, items, workers, desc=benchmark)
        per_video = {it[0]: r for it, r in zip(items, results)}
        return EvalResult(metrics=aggregate_jf(per_video), per_video=_per_video_out(per_video),
                          extra=_wrap_note(per_video))
    if benchmark == "ytvos18":
        seen = read_seen(options.get("seen"))
        items = _ytvos_items(gt, pred)
        _refuse_first_masks_only(gt, items)
        check_prediction_videos(pred, [it[0] for it in items])
        for vid, gdir, _pdir, _ in items:
            if not os.path.isdir(gdir):
                raise InputError(f"{gdir}: GT folder of video {vid!r} missing")
        results = map_videos(_ytvos_video, items, workers, desc=benchmark)
        per_video = {it[0]: r for it, r in zip(items, results)}
        out = {v: {k: {"J_mean": pct(o["J"]), "F_mean": pct(o["F"]), "category": o["category"],
                       "seen": o["category"] in seen} for k, o in objs.items()}
               for v, objs in per_video.items()}
        return EvalResult(metrics=aggregate_ytvos(per_video, seen), per_video=out)
    raise InputError(f"univs_bench.evaluators.vos does not score {benchmark!r}")
