"""Dev splits of YouTube-VOS 2018, MOSE and Ref-YouTube-VOS: a held-out part of the training split.

Their validation GT is server-only; ``split_vos_dataset`` holds out a category-balanced part of
the training videos and writes it in the layout of the dataset (and of the synthetic suite),
so that ``OUT`` works as ``univs-bench run --data-root DIR`` with ``DIR/<benchmark> = OUT``,
and ``OUT/valid_full`` is the ``--gt`` of `univs-bench evaluate` (CONTRACT.md):

- ``ytvos``: ``train/`` (the rest: ``JPEGImages/``, ``Annotations/``, ``meta.json``); ``valid/``
  as released (``JPEGImages/``; ``Annotations/`` holding each object's mask only on the frame
  where it first appears; ``meta.json``); ``valid_full/`` (``Annotations/`` on every frame,
  ``meta.json``, ``JPEGImages/``);
- ``mose``: the same folders without ``meta.json`` (MOSE has none);
- ``refytvos``: ``meta_expressions/train/meta_expressions.json`` (the rest) with ``train/``
  (``JPEGImages/``, ``Annotations/``, ``meta.json`` when the source has one);
  ``meta_expressions/valid/meta_expressions.json`` (expressions without ``obj_id``, as
  released) with ``valid/JPEGImages/``; ``valid_full/meta_expressions.json`` (with ``obj_id``)
  and ``valid_full/Annotations/``;

plus ``split_info.json`` (source, seed, fraction, rule, held-out videos, per-category counts).
Frame and mask files are hard-linked (copied where the file system refuses links, or with
``copy=True``); the whole folder is written atomically.

Balancing rule (deterministic by seed; the same as :mod:`.split` uses for YTVIS/OVIS): the
held-out size is ``round(fraction * N)``, at least 1 and at most N - 1. The videos, sorted by
id, are shuffled by ``numpy.random.default_rng(seed)``; that order decides every choice. Each
category held by n_c videos gets the quota ``floor(fraction * n_c + 1/2)``. Categories are
visited from the rarest (fewest videos; ties by name); while a category has fewer held-out
videos than its quota and the held-out size is not reached, its next video in shuffled order
is held out (counting for every category the video holds). The remaining places are filled in
shuffled order. A video's categories are those of its objects in ``meta.json`` (YouTube-VOS;
Ref-YouTube-VOS's ``train/meta.json``, when present); MOSE has no categories, so its split is
the first videos of the shuffled order (uniformly random).

Every category of a training subset is a YouTube-VOS training ("seen") category, so `evaluate
ytvos18` on a dev split reports J_seen and F_seen and null unseen metrics (and G) unless
``--seen FILE`` names a subset of categories as seen.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_dir

SPLIT_VOS_DATASETS = ("ytvos", "mose", "refytvos")
RULE = ("videos sorted by id, shuffled by numpy default_rng(seed); per-category quota "
        "floor(fraction * videos + 1/2), rarest category first; rest filled in shuffled order")
VOID = 255


def balanced_holdout(video_cats: dict[str, set], fraction: float, seed: int) -> list[str]:
    """Held-out video ids (sorted): :func:`.split.balanced_holdout` over the sorted ids.

    ``video_cats`` maps each video id to the set of its categories (empty: no category).
    """
    from .split import balanced_holdout as holdout_indices
    names = sorted(video_cats)
    return sorted(names[i] for i in holdout_indices([video_cats[n] for n in names], fraction, seed))


# --------------------------------------------------------------------------- file helpers
def _place(src: Path, dst: Path, copy: bool) -> None:
    if not copy:
        try:
            os.link(src, dst)
            return
        except OSError:  # another file system, or links not allowed: copy instead
            pass
    shutil.copy2(src, dst)


def _video_files(src: Path, dst: Path, video: str, copy: bool) -> list[Path]:
    """Link (or copy) the files of one video folder; returns the source files, sorted."""
    if not src.is_dir():
        raise InputError(f"{src}: folder of video {video!r} not found")
    files = sorted(p for p in src.iterdir() if p.is_file())
    if not files:
        raise InputError(f"{src}: no files for video {video!r}")
    dst.mkdir(parents=True, exist_ok=True)
    for f in files:
        _place(f, dst / f.name, copy)
    return files


def _first_appearance(ann_src: Path, dst: Path, video: str, known: set[int] | None) -> int:
    """Write each object's mask only on the PNG where it first appears (the released valid form).

    Returns the number of objects; ``known`` (meta.json ids) is checked when given.
    """
    from ..io.png import read_label_png, write_palette_png
    seen: set[int] = set()
    for png in sorted(ann_src.glob("*.png")):
        arr = read_label_png(png)
        ids = {int(k) for k in np.unique(arr)} - {0, VOID}
        if known is not None and not ids <= known:
            raise InputError(f"{png}: object id {min(ids - known)} of video {video!r} is not in meta.json")
        new = ids - seen
        if new:
            write_palette_png(dst / png.name, np.where(np.isin(arr, sorted(new)), arr, 0).astype(np.uint8))
            seen |= new
    if not seen:
        raise InputError(f"{ann_src}: no object in the annotation PNGs of video {video!r}")
    return len(seen)


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"{path}: not found")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read json ({e})") from None


def _videos_of(path: Path, doc) -> dict:
    videos = doc.get("videos") if isinstance(doc, dict) else None
    if not isinstance(videos, dict):
        raise InputError(f"{path}: no 'videos' object")
    return videos


def _write_json(path: Path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, separators=(",", ":")))


def _categories(meta_path: Path, videos: dict, names) -> dict[str, set]:
    out = {}
    for v in names:
        objs = (videos.get(v) or {}).get("objects") if isinstance(videos.get(v), dict) else None
        if not isinstance(objs, dict):
            raise InputError(f"{meta_path}: video {v!r} has no 'objects'")
        try:
            out[v] = {str(o["category"]) for o in objs.values()}
        except (KeyError, TypeError):
            raise InputError(f"{meta_path}: video {v!r} has an object without a category") from None
    return out


def _progress(items, desc):
    if sys.stderr.isatty():
        from tqdm import tqdm
        return tqdm(items, desc=desc, unit="video", file=sys.stderr)
    return items


# --------------------------------------------------------------------------- entry point
def split_vos_dataset(dataset: str, root: str, fraction: float = 0.1, seed: int = 0, out: str = "dev",
                      *, copy: bool = False, source_split: str = "train") -> dict:
    """Write a held-out dev split of ``root``'s training split to ``out`` (see the module docstring).

    ``root`` is the dataset root (holding ``train/``, and ``meta_expressions/`` for
    Ref-YouTube-VOS) or, for YouTube-VOS and MOSE, the training folder itself. ``out`` must not
    exist, be empty, or hold an earlier split (its ``split_info.json``); it is replaced
    atomically. Returns a summary: ``out``, ``gt`` (the ``--gt`` path), numbers of train and
    held-out videos.
    """
    if dataset not in SPLIT_VOS_DATASETS:
        raise InputError(f"split_vos_dataset supports {', '.join(SPLIT_VOS_DATASETS)}, not {dataset!r}")
    if not 0 < fraction < 1:
        raise InputError(f"fraction {fraction} must be in (0, 1)")
    root_p, out_p = Path(root), Path(out)
    if out_p.exists() and (not out_p.is_dir() or (any(out_p.iterdir())
                                                  and not (out_p / "split_info.json").is_file())):
        raise InputError(f"{out_p}: exists and is not an earlier dev split; give a new folder")
    base = root_p / source_split if (root_p / source_split).is_dir() else root_p
    if dataset == "refytvos":
        base = root_p / source_split
        exp_path = next((p for p in (root_p / "meta_expressions" / source_split / "meta_expressions.json",
                                     base / "meta_expressions.json") if p.is_file()), None)
        if exp_path is None:
            raise InputError(f"{root_p}: no meta_expressions.json for split {source_split!r} (looked in "
                             f"meta_expressions/{source_split}/ and {source_split}/)")
        exps = _videos_of(exp_path, _read_json(exp_path))
        names = sorted(exps)
        for v in names:
            if not isinstance(exps[v], dict) or not isinstance(exps[v].get("expressions"), dict):
                raise InputError(f"{exp_path}: video {v!r} has no 'expressions' object")
            for k, e in exps[v]["expressions"].items():
                if not isinstance(e, dict) or e.get("obj_id") is None:
                    raise InputError(f"{exp_path}: video {v!r} expression {k} has no obj_id "
                                     f"(a dev split needs the training expressions)")
        meta_path = base / "meta.json"
        meta = _videos_of(meta_path, _read_json(meta_path)) if meta_path.is_file() else None
        cats = _categories(meta_path, meta, names) if meta is not None else {v: set() for v in names}
    elif dataset == "ytvos":
        meta_path = base / "meta.json"
        meta = _videos_of(meta_path, _read_json(meta_path))
        names = sorted(meta)
        cats = _categories(meta_path, meta, names)
    else:
        ann = base / "Annotations"
        if not ann.is_dir():
            raise InputError(f"{ann}: folder not found")
        names = sorted(p.name for p in ann.iterdir() if p.is_dir())
        meta, cats = None, {v: set() for v in names}

    held = balanced_holdout(cats, fraction, seed)
    held_set = set(held)
    rest = [v for v in names if v not in held_set]
    counts: dict[str, list[int]] = {}
    for v in names:
        for c in cats[v]:
            counts.setdefault(c, [0, 0])[v in held_set] += 1
    info = {"dataset": dataset, "source": str(base.resolve()), "fraction": fraction, "seed": seed,
            "rule": RULE, "gt": "valid_full", "train_videos": len(rest), "held_out_videos": len(held),
            "held_out": held, "category_videos_train_heldout": dict(sorted(counts.items()))}
    img, ann = base / "JPEGImages", base / "Annotations"
    with atomic_dir(out_p) as tmp:
        tmp = Path(tmp)
        for v in _progress(rest, f"split {dataset}: train"):
            _video_files(img / v, tmp / "train/JPEGImages" / v, v, copy)
            _video_files(ann / v, tmp / "train/Annotations" / v, v, copy)
        for v in _progress(held, f"split {dataset}: held out"):
            _video_files(img / v, tmp / "valid/JPEGImages" / v, v, copy)
            _video_files(ann / v, tmp / "valid_full/Annotations" / v, v, copy)
            if dataset == "refytvos":
                continue
            _video_files(img / v, tmp / "valid_full/JPEGImages" / v, v, copy)
            (tmp / "valid/Annotations" / v).mkdir(parents=True)
            known = None
            if meta is not None:
                try:
                    known = {int(k) for k in meta[v]["objects"]}
                except ValueError:
                    raise InputError(f"{meta_path}: video {v!r} has an object id that is not an integer") from None
            _first_appearance(ann / v, tmp / "valid/Annotations" / v, v, known)
        if dataset == "refytvos":
            _write_json(tmp / "meta_expressions/train/meta_expressions.json", {"videos": {v: exps[v] for v in rest}})
            released = {v: dict(exps[v], expressions={k: {"exp": e.get("exp", "")}
                                                      for k, e in exps[v]["expressions"].items()})
                        for v in held}
            _write_json(tmp / "meta_expressions/valid/meta_expressions.json", {"videos": released})
            _write_json(tmp / "valid_full/meta_expressions.json", {"videos": {v: exps[v] for v in held}})
            if meta is not None:
                _write_json(tmp / "train/meta.json", {"videos": {v: meta[v] for v in rest}})
        elif meta is not None:
            _write_json(tmp / "train/meta.json", {"videos": {v: meta[v] for v in rest}})
            for sub in ("valid", "valid_full"):
                _write_json(tmp / sub / "meta.json", {"videos": {v: meta[v] for v in held}})
        (tmp / "split_info.json").write_text(json.dumps(info, indent=1))
    summary = {"out": str(out_p), "gt": str(out_p / "valid_full"), "train_videos": len(rest),
               "held_out_videos": len(held)}
    if dataset == "refytvos":
        summary["held_out_expressions"] = sum(len(exps[v]["expressions"]) for v in held)
    return summary
