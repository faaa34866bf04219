"""Dev splits: a category-balanced held-out part of a training split, in the official layout.

YouTube-VIS and OVIS validation GT is server-only; UniVS (Table 3) ablates on a held-out 10% of
the training videos. ``split_dataset`` writes such a split so that it can be scored locally and
used as ``--data-root/<benchmark>`` by ``univs-bench run``. The output has the layout of the
dataset (and of the synthetic suite):

- ytvis19: ``train.json`` (the rest), ``valid.json`` (held-out videos and categories, no
  annotations, as released), ``valid_full/valid.json`` (held-out with full GT: the ``--gt``),
  frames under ``train/JPEGImages/`` and ``valid/JPEGImages/``;
- ytvis21: ``train/instances.json``, ``valid/instances.json``, ``valid_full/instances.json``,
  frames under ``<split>/JPEGImages/``;
- ovis: ``annotations_train.json``, ``annotations_valid.json``, ``valid_full/annotations_valid.json``,
  frames under ``train/`` and ``valid/``;

plus ``split_info.json`` (source, seed, fraction, held-out videos, per-category counts). Video
frame folders are symlinked (``copy=True`` copies them); a GT-only source gives jsons only.

Balancing rule (deterministic by seed): the held-out size is ``round(fraction * N)`` (at least
1, at most N - 1). A seeded permutation of the videos fixes the order in which they are taken.
Each category's quota is ``round_half_up(fraction * n_c)``, n_c = the training videos holding
it. Categories are visited from the rarest (fewest videos; ties by id); while a category's
held-out video count is below its quota, its first video in permutation order not yet held out
is added (counting towards every category it holds). Remaining places are filled in
permutation order. So rare categories appear in the dev split in proportion, and every
category with at least ``0.5 / fraction`` videos is represented.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_dir

_LAYOUT = {
    # dataset: (train json, valid json, valid_full json, frames folder of a split)
    "ytvis19": ("train.json", "valid.json", "valid_full/valid.json", "{split}/JPEGImages"),
    "ytvis21": ("train/instances.json", "valid/instances.json", "valid_full/instances.json", "{split}/JPEGImages"),
    "ovis": ("annotations_train.json", "annotations_valid.json", "valid_full/annotations_valid.json", "{split}"),
}
SPLIT_DATASETS = tuple(_LAYOUT)


def balanced_holdout(video_cats: list[set], fraction: float, seed: int) -> list[int]:
    """Indices (sorted) of the held-out videos; ``video_cats[i]`` = categories of video i."""
    n = len(video_cats)
    if n < 2:
        raise InputError(f"a dev split needs at least 2 training videos, got {n}")
    target = min(max(round(fraction * n), 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n).tolist()
    count: dict = {}
    for cs in video_cats:
        for c in cs:
            count[c] = count.get(c, 0) + 1
    quota = {c: math.floor(fraction * k + 0.5) for c, k in count.items()}
    held, held_set, have = [], set(), {c: 0 for c in count}

    def take(i):
        held.append(i)
        held_set.add(i)
        for c in video_cats[i]:
            have[c] += 1

    for c in sorted(count, key=lambda c: (count[c], str(c))):
        for i in perm:
            if have[c] >= quota[c] or len(held) >= target:
                break
            if i not in held_set and c in video_cats[i]:
                take(i)
    for i in perm:
        if len(held) >= target:
            break
        if i not in held_set:
            take(i)
    return sorted(held)


def _write_json(path: Path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, separators=(",", ":")))


def _link_frames(src_root: Path, dst_root: Path, name: str, copy: bool) -> None:
    src = src_root / name
    if not src.is_dir():
        raise InputError(f"{src}: frame folder of video {name!r} not found")
    dst = dst_root / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        shutil.copytree(src, dst)
    else:
        dst.symlink_to(src.resolve(), target_is_directory=True)


def split_dataset(dataset: str, root: str, fraction: float = 0.1, seed: int = 0, out: str = "dev",
                  copy: bool = False, source_split: str = "train") -> dict:
    """Write a held-out dev split of ``root``'s training split to ``out`` (see the module docstring).

    Returns a summary: numbers of train / held-out videos and annotations, and the ``--gt`` path.
    ``out`` must not exist, be empty, or hold an earlier split (its ``split_info.json``); it is
    replaced atomically.
    """
    from .vis import _VisIndex, ann_candidates, img_dir_default
    if dataset not in _LAYOUT:
        raise InputError(f"univs-bench split supports {', '.join(SPLIT_DATASETS)}, not {dataset!r}")
    if not 0 < fraction < 1:
        raise InputError(f"fraction {fraction} must be in (0, 1)")
    root_p, out_p = Path(root), Path(out)
    if out_p.exists() and any(out_p.iterdir()) and not (out_p / "split_info.json").is_file():
        raise InputError(f"{out_p}: exists and is not an earlier dev split; give a new folder")
    src_json = next((root_p / c for c in ann_candidates(dataset, source_split) if (root_p / c).is_file()), None)
    if src_json is None:
        raise InputError(f"{root_p}: no {dataset} {source_split} annotation json")
    try:
        doc = json.loads(src_json.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{src_json}: cannot read json ({e})") from None
    index = _VisIndex(src_json, doc)  # validates videos and annotation -> video links
    names = list(index.videos)
    cats = [{a.get("category_id") for a in index.anns[n]} for n in names]
    held_idx = set(balanced_holdout(cats, fraction, seed))
    held = [n for i, n in enumerate(names) if i in held_idx]
    rest = [n for i, n in enumerate(names) if i not in held_idx]
    img_src = root_p / img_dir_default(dataset, source_split)
    train_rel, valid_rel, full_rel, frames_rel = _LAYOUT[dataset]
    head = {k: doc[k] for k in ("info", "licenses") if k in doc}

    def subset(videos, with_anns):
        d = dict(head, videos=[index.videos[n] for n in videos], categories=doc.get("categories") or [])
        d["annotations"] = [a for n in videos for a in index.anns[n]] if with_anns else None
        return d

    counts = {}
    for i, cs in enumerate(cats):
        for c in cs:
            k = counts.setdefault(str(c), [0, 0])
            k[1 if i in held_idx else 0] += 1
    info = {"dataset": dataset, "source": str(src_json.resolve()), "fraction": fraction, "seed": seed,
            "rule": "seeded permutation; per-category quota round_half_up(fraction * videos), rarest first; "
                    "filled in permutation order",
            "train_videos": len(rest), "held_out_videos": len(held), "held_out": held,
            "category_videos_train_heldout": counts}
    with atomic_dir(out_p) as tmp:
        tmp = Path(tmp)
        _write_json(tmp / train_rel, subset(rest, True))
        _write_json(tmp / valid_rel, subset(held, False))
        _write_json(tmp / full_rel, subset(held, True))
        if img_src.is_dir():
            for split, videos in (("train", rest), ("valid", held)):
                for n in videos:
                    _link_frames(img_src, tmp / frames_rel.format(split=split), n, copy)
        (tmp / "split_info.json").write_text(json.dumps(info, indent=1))
    return {"out": str(out_p), "gt": str(out_p / full_rel), "train_videos": len(rest),
            "held_out_videos": len(held),
            "held_out_annotations": sum(len(index.anns[n]) for n in held)}
