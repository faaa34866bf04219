"""BURST: HOTA / DetA / AssA and track AP per class, and open-world OWTA (PROTOCOLS.md section 6).

Reads the GT folder (``all_classes.json``; for ``open_world`` also ``common_classes.json`` and
``uncommon_classes.json``) and one prediction json in the same schema, scores each sequence in a
worker (``functional/hota.py``, ``functional/trackmap.py``) and combines like
Ali2500/BURST-benchmark ``burstapi/eval/run.py`` with its TrackEval copy
(``datasets/burst_helpers/burst_base.py``, ``burst_ow_base.py``, ``format_converter.py``).
Facts verified there and reproduced here:

- HOTA similarities are *box* IoUs: ``_load_raw_file`` stores each det's ``bbox`` (from
  ``toBbox`` of its mask, truncated to int) and ``maskUtils.iou`` on those float arrays takes
  the box path. Track AP uses mask IoU (the tracks hold the RLEs). The class-guided matching
  that decides which unmatched predictions to drop uses the same box IoU (>= 0.5);
- GT annotations of the 45 distractor categories are dropped on reading; categories are then
  merged (``BURST_MERGED_IDS``) on GT and predictions alike, so a prediction labelled 504
  (a distractor) scores as 347 (cup). Evaluated classes: TAO ids 1..1230 with a GT track,
  less distractors; a prediction's per-frame class drives HOTA, its track's class (that of
  its first detection) drives track AP; a track's score is the mean of its frame scores;
- class-guided, per class and frame: unmatched predictions are dropped when the frame has no
  GT of the class and the class is not in ``neg_category_ids``, or when the class is in
  ``not_exhaustive_category_ids``; track AP only sees predicted tracks of classes in the
  sequence's GT or ``neg_category_ids``;
- exemplar-guided: ``run.py`` sets ``EXEMPLAR_GUIDED`` only after the dataset has read the
  predictions, so they are converted as class-guided ones (own track ids, categories from the
  prediction's ``track_category_ids``, ids unknown to the GT kept); the flag only switches off
  the dropping of unmatched predictions (checked by running the official code). AP is not
  reported;
- open-world: one class-agnostic class with id 1 (so ``neg`` / ``not_exhaustive`` lists that
  hold 1 apply to all detections), scored on each GT file separately; OWTA = mean over alpha
  of sqrt(DetRe * AssA);
- HOTA only sees frames holding at least one (non-distractor) GT mask of any class: TrackEval's
  timesteps are the images that have GT annotations (``_compute_image_to_timestep_mappings``)
  and predictions on other frames are skipped. Track AP sees every GT frame;
- at most 300 detections per frame (all classes together): a frame with more keeps the 300
  best scores (stable sort); prediction frames that are not GT frames are ignored;
- reported numbers are class averages (``100 * sum / n``) of each class's sequence-combined
  HOTA, DetA, AssA and AP (means over alphas / IoU thresholds), over all classes, the 78
  common ids (``BURST_COMMON_IDS``) and the rest.

Where the official code crashes or silently corrupts, this module raises InputError naming
the file and sequence instead: a GT or prediction sequence whose ``segmentations`` and
``annotated_image_paths`` differ in length, an RLE whose counts do not cover the sequence's
height x width, a non-numeric score, a track id that is not an integer (or two keys that are
the same integer in one frame), a negative track id used in one sequence only (TrackEval's id
relabelling crashes or merges it with another track), a predicted track without a category
(official: KeyError), a GT track key missing from ``track_category_ids``, a prediction
``split`` that differs from the GT's, duplicate sequences or frames. Stricter than the
official code: a prediction sequence that is not in the GT, and a GT sequence or GT frame
without prediction, are errors. A class subset with no evaluated class gives None (official:
ZeroDivisionError), as does an open-world GT file without any GT mask (official: 0).
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.rle import check_rle_counts, rle_totals  # noqa: F401 (rle_totals: public here before)
from ..metainfo.burst import (
    BURST_COMMON_IDS,
    BURST_DISTRACTOR_IDS,
    BURST_MERGED_IDS,
    BURST_NUM_CATEGORIES,
)
from .base import EvalResult, map_videos
from .functional import hota as H
from .functional import trackmap as TM

TASKS = ("class_guided", "exemplar_guided", "open_world")
SPLIT_FILES = {"all": "all_classes.json", "common": "common_classes.json",
               "uncommon": "uncommon_classes.json"}
MAX_DETECTIONS = 300
_EPS = np.finfo("float").eps
_COMMON = frozenset(BURST_COMMON_IDS)
_SEQ_KEYS = ("id", "dataset", "seq_name", "width", "height", "annotated_image_paths",
             "segmentations", "track_category_ids")


# ----------------------------------------------------------------------------- reading

def _load_json(path: str) -> Any:
    from ..io.files import read_json_source
    return read_json_source(path)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _seq_label(seq: dict) -> str:
    return f"sequence {seq.get('dataset')}/{seq.get('seq_name')}"


def frame_index(path: str) -> int | None:
    """Frame number of an image path as ``format_converter.py`` parses it (None if it cannot)."""
    stripped = str(path).replace(".jpg", "").replace(".png", "").replace("frame", "")
    try:
        return int(stripped.split("_")[-1])
    except ValueError:
        return None


def _check_seq_frames(seq: dict, where: str) -> None:
    paths, segs = seq["annotated_image_paths"], seq["segmentations"]
    if not isinstance(paths, list) or not isinstance(segs, list):
        raise InputError(f"{where}: 'annotated_image_paths' and 'segmentations' must be lists")
    if len(paths) != len(segs):
        raise InputError(f"{where}: {len(segs)} segmentations for {len(paths)} "
                         f"annotated_image_paths")
    if not all(isinstance(p, str) for p in paths):
        raise InputError(f"{where}: annotated_image_paths must be strings")
    if len(set(paths)) != len(paths):
        raise InputError(f"{where}: an annotated image path is listed twice")
    for p, frame in zip(paths, segs):
        if not isinstance(frame, dict):
            raise InputError(f"{where}, frame {p}: segmentations must map track ids to objects")


def read_gt(path: str, *, required: bool = True) -> dict | None:
    """Read and check one BURST GT file; None when absent and not ``required``.

    Returns ``{"split", "sequences": [seq dicts], "offsets": [first global track id]}``.
    Global track ids number the ``track_category_ids`` keys of all sequences from 1, in file
    order, as ``GroundTruthBURSTFormatToTAOFormatConverter`` does.
    """
    if not os.path.isfile(path):
        if required:
            raise InputError(f"{path}: GT file not found")
        return None
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("sequences"), list):
        raise InputError(f"{path}: not a BURST annotation json (no 'sequences' list)")
    if "split" not in data:
        raise InputError(f"{path}: no 'split'")
    seen_ids, seen_names, offsets, nxt = set(), set(), [], 1
    for seq in data["sequences"]:
        if not isinstance(seq, dict):
            raise InputError(f"{path}: a sequence entry is not an object")
        where = f"{path}: {_seq_label(seq)}"
        missing = [k for k in _SEQ_KEYS + ("neg_category_ids", "not_exhaustive_category_ids")
                   if k not in seq]
        if missing:
            raise InputError(f"{where}: missing {', '.join(missing)}")
        if not (_is_int(seq["height"]) and _is_int(seq["width"])
                and 0 < seq["height"] * seq["width"] < 2 ** 31):
            raise InputError(f"{where}: height/width must be positive integers (a frame of "
                             f"fewer than 2^31 pixels)")
        if not isinstance(seq["track_category_ids"], dict) or not all(
                _is_int(c) for c in seq["track_category_ids"].values()):
            raise InputError(f"{where}: track_category_ids must map track ids to integer "
                             f"category ids")
        for k in ("neg_category_ids", "not_exhaustive_category_ids"):
            if not isinstance(seq[k], list):
                raise InputError(f"{where}: {k} must be a list")
        _check_seq_frames(seq, where)
        bad = [p for p in seq["annotated_image_paths"] if frame_index(p) is None]
        if bad:
            raise InputError(f"{where}: cannot read a frame number from image path {bad[0]!r}")
        if not all(isinstance(seq[k], (str, int)) for k in ("dataset", "seq_name")):
            raise InputError(f"{where}: 'dataset' and 'seq_name' must be strings")
        name = (seq["dataset"], seq["seq_name"])
        if name in seen_names:
            raise InputError(f"{where}: listed twice")
        if str(seq["id"]) in seen_ids:
            raise InputError(f"{where}: sequence id {seq['id']!r} is used twice")
        seen_names.add(name)
        seen_ids.add(str(seq["id"]))
        offsets.append(nxt)
        nxt += len(seq["track_category_ids"])
    return {"split": data["split"], "sequences": data["sequences"], "offsets": offsets}


def read_predictions(path: str, gt: dict, task: str) -> dict:
    """Read and check the prediction json; returns {(dataset, seq_name): seq dict}."""
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("sequences"), list):
        raise InputError(f"{path}: not a BURST result json (no 'sequences' list)")
    if "split" in data and data["split"] != gt["split"]:
        raise InputError(f"{path}: split {data['split']!r} differs from the GT's "
                         f"{gt['split']!r}")
    gt_by_name = {(s["dataset"], s["seq_name"]): s for s in gt["sequences"]}
    out: dict = {}
    for seq in data["sequences"]:
        if not isinstance(seq, dict):
            raise InputError(f"{path}: a sequence entry is not an object")
        where = f"{path}: {_seq_label(seq)}"
        missing = [k for k in ("dataset", "seq_name", "annotated_image_paths", "segmentations")
                   if k not in seq]
        if missing:
            raise InputError(f"{where}: missing {', '.join(missing)}")
        if not all(isinstance(seq[k], (str, int)) for k in ("dataset", "seq_name")):
            raise InputError(f"{where}: 'dataset' and 'seq_name' must be strings")
        name = (seq["dataset"], seq["seq_name"])
        if name not in gt_by_name:
            raise InputError(f"{where}: not a sequence of the GT")
        if name in out:
            raise InputError(f"{where}: listed twice")
        if "track_category_ids" in seq and not isinstance(seq["track_category_ids"], dict):
            raise InputError(f"{where}: track_category_ids must be an object")
        _check_seq_frames(seq, where)
        out[name] = seq
    for name, gseq in gt_by_name.items():
        if name not in out:
            raise InputError(f"{path}: no prediction for {_seq_label(gseq)}")
        have = set(out[name]["annotated_image_paths"])
        lost = [p for p in gseq["annotated_image_paths"] if p not in have]
        if lost:
            raise InputError(f"{path}: {_seq_label(gseq)}: no prediction for annotated "
                             f"frame {lost[0]} ({len(lost)} GT frames missing)")
    return out


def _check_rles(rles: list[str], h: int, w: int, where: str, labels: list[tuple]) -> None:
    check_rle_counts(rles, (h, w), lambda i: f"{where}, frame {labels[i][0]}, track {labels[i][1]}")


# ------------------------------------------------------------------- one sequence

class _Frames:
    """Per-frame detections of one side of one sequence (GT or prediction)."""

    def __init__(self, n_frames: int):
        self.ids = [np.zeros(0, dtype=np.int64) for _ in range(n_frames)]
        self.cats = [np.zeros(0, dtype=np.int64) for _ in range(n_frames)]
        self.rles: list[list[dict]] = [[] for _ in range(n_frames)]
        self.boxes = [np.zeros((0, 4)) for _ in range(n_frames)]
        self.areas = [np.zeros(0) for _ in range(n_frames)]
        self.scores: list[list[float]] = [[] for _ in range(n_frames)]
        self.order: list[tuple[int, int]] = []  # (frame, index) in annotation-list order

    def finish(self, h: int, w: int, need_areas: bool) -> None:
        from pycocotools import mask as mask_utils
        for t, rles in enumerate(self.rles):
            if rles:
                # int() as format_converter.py does (toBbox gives integral floats anyway)
                self.boxes[t] = np.array([[int(v) for v in b] for b in mask_utils.toBbox(rles)],
                                         dtype=np.float64).reshape(-1, 4)
                if need_areas:
                    # pycocotools' area() builds np.array((n,), uint8): n > 255 overflows
                    self.areas[t] = np.concatenate(
                        [np.asarray(mask_utils.area(rles[i:i + 255]), dtype=np.int64).reshape(-1)
                         for i in range(0, len(rles), 255)])


def _read_gt_seq(seq: dict, offset: int, where: str, need_areas: bool) -> _Frames:
    h, w = seq["height"], seq["width"]
    tcat = seq["track_category_ids"]
    gid = {str(k): offset + i for i, k in enumerate(tcat)}
    fr = _Frames(len(seq["annotated_image_paths"]))
    all_rles, labels = [], []
    for t, (path, frame) in enumerate(zip(seq["annotated_image_paths"], seq["segmentations"])):
        ids, cats = [], []
        for local, det in frame.items():
            if local not in gid:
                raise InputError(f"{where}, frame {path}: track {local} is not in "
                                 f"track_category_ids")
            if not isinstance(det, dict) or not isinstance(det.get("rle"), str):
                raise InputError(f"{where}, frame {path}, track {local}: needs an 'rle' string")
            cat = int(tcat[local])
            if cat in BURST_DISTRACTOR_IDS:
                continue
            ids.append(gid[local])
            cats.append(BURST_MERGED_IDS.get(cat, cat))
            fr.rles[t].append({"counts": det["rle"], "size": [h, w]})
            all_rles.append(det["rle"])
            labels.append((path, local))
        fr.ids[t] = np.array(ids, dtype=np.int64)
        fr.cats[t] = np.array(cats, dtype=np.int64)
        fr.order.extend((t, i) for i in range(len(ids)))
    _check_rles(all_rles, h, w, where, labels)
    fr.finish(h, w, need_areas)
    return fr


def kept_detections(frame: dict) -> list:
    """Keys of a prediction frame that survive the 300-per-frame limit, in kept order."""
    keys = list(frame)
    if len(keys) <= MAX_DETECTIONS:
        return keys
    score = {k: (frame[k].get("score", 1.0) if isinstance(frame[k], dict) else 1.0)
             for k in keys}
    if not all(_is_number(s) for s in score.values()):
        return keys  # the reader reports the bad score
    return sorted(keys, key=lambda k: score[k], reverse=True)[:MAX_DETECTIONS]


def _read_pred_seq(seq: dict, gseq: dict, where: str, need_areas: bool) -> _Frames:
    h, w = gseq["height"], gseq["width"]
    t_of_path = {p: t for t, p in enumerate(gseq["annotated_image_paths"])}
    tcat = seq.get("track_category_ids") or {}
    fr = _Frames(len(gseq["annotated_image_paths"]))
    all_rles, labels = [], []
    for path, frame in zip(seq["annotated_image_paths"], seq["segmentations"]):
        t = t_of_path.get(path)
        if t is None:  # prediction at a higher frame rate than the GT
            continue
        converted = {}
        for local, det in frame.items():
            lab = f"frame {path}, track {local}"
            if not isinstance(det, dict) or not isinstance(det.get("rle"), str):
                raise InputError(f"{where}, {lab}: needs an 'rle' string")
            try:
                tid = int(local)
            except ValueError:
                raise InputError(f"{where}, {lab}: track id is not an integer") from None
            score = det.get("score", 1.0)
            if not _is_number(score):
                raise InputError(f"{where}, {lab}: score {score!r} is not a number")
            cat = det["category_id"] if "category_id" in det else tcat.get(local)
            if cat is None:
                raise InputError(f"{where}, {lab}: no category (neither 'category_id' nor "
                                 f"an entry in track_category_ids)")
            if not _is_int(cat):
                raise InputError(f"{where}, {lab}: category {cat!r} is not an integer")
            converted[local] = (tid, BURST_MERGED_IDS.get(cat, cat), float(score), det["rle"])
        keep = kept_detections({k: {"score": v[2]} for k, v in converted.items()})
        ids = [converted[k][0] for k in keep]
        if len(set(ids)) != len(ids):
            raise InputError(f"{where}, frame {path}: two track keys name the same track id")
        fr.ids[t] = np.array(ids, dtype=np.int64)
        fr.cats[t] = np.array([converted[k][1] for k in keep], dtype=np.int64)
        fr.scores[t] = [converted[k][2] for k in keep]
        fr.rles[t] = [{"counts": converted[k][3], "size": [h, w]} for k in keep]
        fr.order.extend((t, i) for i in range(len(keep)))
        all_rles.extend(converted[k][3] for k in keep)
        labels.extend((path, k) for k in keep)
    _check_rles(all_rles, h, w, where, labels)
    fr.finish(h, w, need_areas)
    return fr


def frame_similarities(gt: _Frames, pred: _Frames) -> list[np.ndarray]:
    """Per-frame box IoU (n_gt, n_pred) in the memory layout TrackEval gets from pycocotools.

    ``maskUtils.iou`` returns a Fortran-ordered matrix. The layout matters: HOTA's
    ``similarity.sum(0)`` / ``.sum(1)`` round differently on contiguous and strided axes (numpy's
    pairwise summation), and exact ties in the per-frame assignment (identical boxes) can then
    break the other way. The per-class slicing below repeats TrackEval's indexing for the same
    reason.
    """
    out = []
    for t in range(len(gt.ids)):
        ng, npr = len(gt.ids[t]), len(pred.ids[t])
        if ng and npr:
            out.append(np.asfortranarray(H.box_iou(gt.boxes[t], pred.boxes[t])))
        else:
            out.append(np.zeros((ng, npr)))
    return out


def _hota_for_class(gt: _Frames, pred: _Frames, sims: list[np.ndarray], cls: int, *,
                    drop_unmatched: bool, is_neg: bool, is_nel: bool,
                    agnostic: bool = False) -> dict:
    """TrackEval ``get_preprocessed_seq_data`` + ``HOTA.eval_sequence`` for one class."""
    from scipy.optimize import linear_sum_assignment
    gt_ids, pr_ids, sim_list = [], [], []
    for t in range(len(gt.ids)):
        if len(gt.ids[t]) == 0:
            continue  # no timestep for a frame without GT masks: its predictions are ignored
        # open-world: every detection is class 1
        gm = np.ones(len(gt.ids[t]), dtype=bool) if agnostic else gt.cats[t] == cls
        pm = np.ones(len(pred.ids[t]), dtype=bool) if agnostic else pred.cats[t] == cls
        g_ids, p_ids = gt.ids[t][gm], pred.ids[t][pm]
        sim = sims[t][gm, :][:, pm]
        if drop_unmatched:
            unmatched = np.arange(len(p_ids))
            if len(g_ids) and len(p_ids):
                ms = sim.copy()
                ms[ms < 0.5 - _EPS] = 0
                rows, cols = linear_sum_assignment(-ms)
                unmatched = np.delete(unmatched, cols[ms[rows, cols] > 0 + _EPS], axis=0)
            if (len(g_ids) == 0 and not is_neg) or is_nel:
                remove = unmatched
            else:
                remove = np.array([], dtype=np.int64)
            p_ids = np.delete(p_ids, remove, axis=0)
            sim = np.delete(sim, remove, axis=1)
        gt_ids.append(g_ids)
        pr_ids.append(p_ids)
        sim_list.append(sim)
    return H.hota_sequence(gt_ids, pr_ids, sim_list)


def _tracks(fr: _Frames) -> tuple[list[int], dict[int, int], list[int]]:
    """Track ids in first-appearance order, id -> index, per-track category (first det's)."""
    ids, index, cats = [], {}, []
    for t, i in fr.order:
        tid = int(fr.ids[t][i])
        if tid not in index:
            index[tid] = len(ids)
            ids.append(tid)
            cats.append(int(fr.cats[t][i]))
    return ids, index, cats


def _trackmap_for_seq(gt: _Frames, pred: _Frames, classes: set, neg: set, nel: set,
                      frame_numbers: list[int], multi_video_ids: frozenset) -> dict:
    """TrackEval TrackMAP ``eval_sequence`` inputs and results for every class of a sequence."""
    from pycocotools import mask as mask_utils
    g_ids, g_index, g_cats = _tracks(gt)
    p_ids, p_index, p_cats = _tracks(pred)
    pos = set(g_cats)
    consider = pos | neg
    g_use = np.array([c in classes for c in g_cats], dtype=bool)
    p_use = np.array([c in classes and c in consider for c in p_cats], dtype=bool)
    n_g, n_p = len(g_ids), len(p_ids)
    inter = np.zeros((n_p, n_g))
    g_area, p_area = np.zeros(n_g), np.zeros(n_p)
    g_len, p_len = np.zeros(n_g, dtype=np.int64), np.zeros(n_p, dtype=np.int64)
    p_scores: list[list[tuple[int, float]]] = [[] for _ in range(n_p)]
    for t in range(len(gt.ids)):
        gt_t = np.array([g_index[int(i)] for i in gt.ids[t]], dtype=np.int64)
        pt_t = np.array([p_index[int(i)] for i in pred.ids[t]], dtype=np.int64)
        # track ids are unique within a frame: plain fancy-index accumulation is exact
        g_area[gt_t] += gt.areas[t]
        p_area[pt_t] += pred.areas[t]
        g_len[gt_t] += 1
        p_len[pt_t] += 1
        gsel = np.flatnonzero(g_use[gt_t]) if len(gt_t) else np.zeros(0, dtype=np.int64)
        psel = np.flatnonzero(p_use[pt_t]) if len(pt_t) else np.zeros(0, dtype=np.int64)
        if len(gsel) and len(psel):
            g_rles = [gt.rles[t][i] for i in gsel]
            p_rles = [pred.rles[t][i] for i in psel]
            iou = np.asarray(mask_utils.iou(p_rles, g_rles, [0] * len(g_rles)))
            a_p = pred.areas[t][psel].astype(np.float64)
            a_g = gt.areas[t][gsel].astype(np.float64)
            # intersection back from the IoU: exact integers after rounding
            it = np.rint(iou * (a_p[:, None] + a_g[None, :]) / (1.0 + iou))
            inter[pt_t[psel][:, None], gt_t[gsel][None, :]] += it
    for t, i in pred.order:
        p_scores[p_index[int(pred.ids[t][i])]].append((frame_numbers[t], pred.scores[t][i]))
    track_score = []
    for lst in p_scores:
        # TrackEval sorts a track's detections by frame number before np.mean
        vals = [s for _, s in sorted(lst, key=lambda x: x[0])]
        track_score.append(float(np.mean(vals)) if vals else 0.0)
    out = {}
    for cls in sorted(classes & (pos | {c for c, u in zip(p_cats, p_use) if u})):
        gi = [j for j in range(n_g) if g_cats[j] == cls]
        pi = [j for j in range(n_p) if p_use[j] and p_cats[j] == cls]
        if not gi and not pi:
            continue
        ious = TM.track_ious(inter[np.ix_(pi, gi)], p_area[pi], g_area[gi])
        out[cls] = TM.trackmap_sequence(
            ious, [track_score[j] for j in pi],
            [p_ids[j] > 0 or p_ids[j] in multi_video_ids for j in pi],
            [g_area[j] / g_len[j] for j in gi], [int(g_len[j]) for j in gi],
            [p_area[j] / p_len[j] for j in pi], [int(p_len[j]) for j in pi],
            not_exhaustive=cls in nel, labels=("all",))
    return out


def eval_sequence(item: dict) -> dict:
    """All statistics of one sequence (the process pool's worker; module-level).

    ``item``: ``task``, ``name``, ``gt`` ({GT file split: (GT sequence dict, first global track
    id, GT path for errors)}, only ``all`` unless open-world), ``pred_seq`` (the prediction's
    sequence dict), ``pred_path`` (for errors) and, except open-world, ``classes`` (evaluated
    class ids) and ``multi_video_ids`` (``_multi_video_ids``). Returns per class ``hota``
    statistics (and ``tmap``, class-guided), or per split ``owta`` and ``n_gt`` (open-world).
    """
    task, seq_name = item["task"], item["name"]
    pseq = item["pred_seq"]
    out: dict = {"name": seq_name}
    if task == "open_world":
        out["owta"] = {}
        cache: dict = {}  # the split files normally share frames and size: read predictions once
        for split, (gseq, offset, gpath) in item["gt"].items():
            gt = _read_gt_seq(gseq, offset, f"{gpath}: {_seq_label(gseq)}", False)
            key = (tuple(gseq["annotated_image_paths"]), gseq["height"], gseq["width"])
            if key not in cache:
                cache[key] = _read_pred_seq(pseq, gseq, f"{item['pred_path']}: "
                                            f"{_seq_label(pseq)}", False)
            pred = cache[key]
            out["owta"][split] = _hota_for_class(
                gt, pred, frame_similarities(gt, pred), 1, drop_unmatched=True, agnostic=True,
                is_neg=1 in gseq["neg_category_ids"],
                is_nel=1 in gseq["not_exhaustive_category_ids"])
            out.setdefault("n_gt", {})[split] = sum(len(i) for i in gt.ids)
        return out

    gseq, offset, gpath = item["gt"]["all"]
    class_guided = task == "class_guided"
    gt = _read_gt_seq(gseq, offset, f"{gpath}: {_seq_label(gseq)}", class_guided)
    pred = _read_pred_seq(pseq, gseq, f"{item['pred_path']}: {_seq_label(pseq)}", class_guided)
    classes = set(item["classes"])
    neg = {c for c in gseq["neg_category_ids"] if _is_int(c)}
    nel = {c for c in gseq["not_exhaustive_category_ids"] if _is_int(c)}
    present, gt_present = set(), set()
    for t in range(len(gt.ids)):
        gt_present.update(gt.cats[t].tolist())
        present.update(pred.cats[t].tolist())
    present |= gt_present
    out["gt_classes"] = sorted(int(c) for c in gt_present & classes)
    sims = frame_similarities(gt, pred)
    out["hota"] = {cls: _hota_for_class(gt, pred, sims, cls, drop_unmatched=class_guided,
                                        is_neg=cls in neg, is_nel=cls in nel)
                   for cls in sorted(present & classes)}
    if class_guided:
        frame_numbers = [frame_index(p) for p in gseq["annotated_image_paths"]]
        out["tmap"] = _trackmap_for_seq(gt, pred, classes, neg, nel, frame_numbers,
                                        item["multi_video_ids"])
    return out


# ------------------------------------------------------------------------ combining

def seq_sort_key(split: Any, seq: dict) -> str:
    """TrackEval's name of a sequence (``<split>/<dataset>/<seq_name>``, '/' -> '-'); it sorts by it."""
    return f"{split}/{seq['dataset']}/{seq['seq_name']}".replace("/", "-")


def eval_classes(gt: dict) -> list[int]:
    """Classes BURST evaluates: TAO ids with a (merged) GT track, less distractors, by id."""
    seen = set()
    for seq in gt["sequences"]:
        tcat = seq["track_category_ids"]
        for frame in seq["segmentations"]:
            for local in frame:
                cat = tcat.get(local)
                if _is_int(cat) and cat not in BURST_DISTRACTOR_IDS:
                    seen.add(BURST_MERGED_IDS.get(cat, cat))
    return [c for c in range(1, BURST_NUM_CATEGORIES + 1)
            if c in seen and c not in BURST_DISTRACTOR_IDS]


def _multi_video_ids(preds: dict, gt: dict, pred_path: str) -> frozenset:
    """Track ids <= 0 that TrackEval's ``_make_track_ids_unique`` renumbers to positive ones.

    Ids shared by several sequences get fresh positive ids; the TrackMAP quirk (a GT is only
    'taken' by a detection with id > 0) therefore applies to id 0 used in one sequence. A
    negative id used in one sequence stays negative and breaks TrackEval's id relabelling
    (``np.nan * np.ones(max_id + 1)`` indexed with it: IndexError, or two tracks silently
    merged), so it is an InputError here.
    """
    where: dict[int, set] = {}
    for gseq in gt["sequences"]:
        name = (gseq["dataset"], gseq["seq_name"])
        pseq = preds[name]
        gframes = set(gseq["annotated_image_paths"])
        for path, frame in zip(pseq["annotated_image_paths"], pseq["segmentations"]):
            if path not in gframes:
                continue
            for k in kept_detections(frame):
                try:
                    tid = int(k)
                except ValueError:
                    continue
                where.setdefault(tid, set()).add(name)
    for t, names in where.items():
        if t < 0 and len(names) == 1:
            dataset, seq_name = next(iter(names))
            raise InputError(f"{pred_path}: sequence {dataset}/{seq_name}: negative track id "
                             f"{t} (the official evaluator cannot relabel it)")
    return frozenset(t for t, names in where.items() if len(names) > 1 and t <= 0)


def _average(values: list[float]) -> float | None:
    return 100 * sum(values) / len(values) if values else None


def _split_classes(classes: list[int]) -> dict[str, list[int]]:
    return {"all": classes, "common": [c for c in classes if c in _COMMON],
            "uncommon": [c for c in classes if c not in _COMMON]}


def combine_classes(results: list[dict], classes: list[int], task: str
                    ) -> tuple[dict[str, float | None], dict[int, dict[str, float]]]:
    """Class-guided / exemplar-guided numbers from ``eval_sequence`` results in sorted-name order.

    Each class combines its sequences' HOTA (and track AP, class-guided) statistics; reported
    numbers are class averages (``100 * sum / n``) over all, common and uncommon classes.
    Returns (metrics, per class {HOTA, DetA, AssA[, AP]} as fractions).
    """
    class_guided = task == "class_guided"
    per_class = {}
    for cls in classes:
        h = H.combine_sequences([r["hota"][cls] for r in results if cls in r["hota"]])
        entry = {k: float(np.mean(h[k])) for k in ("HOTA", "DetA", "AssA")}
        if class_guided:
            ap = TM.combine_sequences([r["tmap"][cls] for r in results if cls in r["tmap"]])
            entry["AP"] = float(np.mean(ap["AP"]))
        per_class[cls] = entry
    metrics: dict[str, float | None] = {}
    names = ("HOTA", "DetA", "AssA") + (("AP",) if class_guided else ())
    for m in names:
        for split, cls_list in _split_classes(classes).items():
            metrics[f"{m}_{split}"] = _average([per_class[c][m] for c in cls_list])
    return metrics, per_class


def _hota_sufficient(r: dict) -> dict:
    """Per class of one sequence: the additive HOTA counts over ``ALPHAS`` (TP, FN, FP and
    AssA x TP) and whether the GT has the class: enough to recompute the class-averaged
    HOTA/DetA/AssA of any multiset of sequences (``univs_bench.report.stats``)."""
    gt_classes = set(r.get("gt_classes", []))
    return {str(c): {"TP": h["HOTA_TP"].tolist(), "FN": h["HOTA_FN"].tolist(),
                     "FP": h["HOTA_FP"].tolist(), "AssA_TP": (h["AssA"] * h["HOTA_TP"]).tolist(),
                     "gt": c in gt_classes}
            for c, h in r["hota"].items()}


def _seq_hota_summary(stats: list[dict]) -> dict:
    """Detection-averaged HOTA/DetA/AssA of one sequence over its classes (percent)."""
    if not stats:
        return {"HOTA": None, "DetA": None, "AssA": None}
    res = H.combine_sequences(stats)
    return {k: float(100 * np.mean(res[k])) for k in ("HOTA", "DetA", "AssA")}


def evaluate_files(benchmark: str, gt_path: str, pred_path: str, *, workers: int = 1,
                   task: str | None = None, options: dict | None = None) -> EvalResult:
    """Score a BURST prediction json against the GT folder for ``task``.

    ``gt_path`` is the folder with ``all_classes.json`` (or that file itself). Metrics:
    class_guided HOTA/DetA/AssA/AP x all/common/uncommon, exemplar_guided the HOTA nine,
    open_world OWTA_all/common/uncommon (see CONTRACT.md).
    """
    task = task or "exemplar_guided"
    if task not in TASKS:
        raise InputError(f"burst: unknown task {task!r}; choose from {', '.join(TASKS)}")
    gt_dir = gt_path if os.path.isdir(gt_path) else os.path.dirname(gt_path)
    all_file = (os.path.join(gt_path, SPLIT_FILES["all"]) if os.path.isdir(gt_path) else gt_path)
    gt = read_gt(all_file)
    preds = read_predictions(pred_path, gt, task)
    if not any(fr for s in preds.values() for fr in s["segmentations"]):
        import warnings

        from ..errors import InputWarning
        warnings.warn(f"{pred_path}: no detection in any sequence; every GT track counts as "
                      f"missed", InputWarning, stacklevel=2)

    if task == "open_world":
        _multi_video_ids(preds, gt, pred_path)
        return _evaluate_open_world(gt, all_file, gt_dir, preds, pred_path, workers)

    classes = eval_classes(gt)
    multi = _multi_video_ids(preds, gt, pred_path)
    order = sorted(range(len(gt["sequences"])),
                   key=lambda i: seq_sort_key(gt["split"], gt["sequences"][i]))
    items = []
    for i in order:
        gseq = gt["sequences"][i]
        items.append({"task": task, "name": f"{gseq['dataset']}/{gseq['seq_name']}",
                      "gt": {"all": (gseq, gt["offsets"][i], all_file)},
                      "pred_seq": preds[(gseq["dataset"], gseq["seq_name"])],
                      "pred_path": pred_path, "classes": classes, "multi_video_ids": multi})
    results = map_videos(eval_sequence, items, workers, desc="burst")

    metrics, per_class = combine_classes(results, classes, task)
    per_video = {r["name"]: dict(_seq_hota_summary(list(r["hota"].values())),
                                 hota_stats=_hota_sufficient(r)) for r in results}
    extra = {"per_class": {str(c): {k: 100 * v for k, v in e.items()}
                           for c, e in per_class.items()}}
    return EvalResult(metrics=metrics, per_video=per_video, extra=extra)


def _evaluate_open_world(gt: dict, all_file: str, gt_dir: str, preds: dict, pred_path: str,
                         workers: int) -> EvalResult:
    """OWTA on all_classes.json, common_classes.json and uncommon_classes.json separately."""
    splits = {"all": (gt, all_file)}
    for split in ("common", "uncommon"):
        path = os.path.join(gt_dir, SPLIT_FILES[split])
        sub = read_gt(path, required=False)
        if sub is not None:
            if sub["split"] != gt["split"]:
                raise InputError(f"{path}: split {sub['split']!r} differs from "
                                 f"{all_file}'s {gt['split']!r}")
            names = {(s["dataset"], s["seq_name"]) for s in gt["sequences"]}
            for s in sub["sequences"]:
                if (s["dataset"], s["seq_name"]) not in names:
                    raise InputError(f"{path}: {_seq_label(s)} is not in {all_file}")
            splits[split] = (sub, path)
    lookup = {}
    for split, (g, path) in splits.items():
        for i, s in enumerate(g["sequences"]):
            lookup.setdefault((s["dataset"], s["seq_name"]), {})[split] = (
                s, g["offsets"][i], path)
    order = sorted(gt["sequences"], key=lambda s: seq_sort_key(gt["split"], s))
    items = [{"task": "open_world", "name": f"{s['dataset']}/{s['seq_name']}",
              "gt": lookup[(s["dataset"], s["seq_name"])],
              "pred_seq": preds[(s["dataset"], s["seq_name"])], "pred_path": pred_path}
             for s in order]
    results = map_videos(eval_sequence, items, workers, desc="burst")
    metrics: dict[str, float | None] = {}
    for split in ("all", "common", "uncommon"):
        if split not in splits:
            metrics[f"OWTA_{split}"] = None
            continue
        g = splits[split][0]
        # TrackEval combines the split file's sequences in sorted-name order
        by_name = {r["name"]: r for r in results}
        seqs = sorted(g["sequences"], key=lambda s: seq_sort_key(g["split"], s))
        stats, n_gt = [], 0
        for s in seqs:
            r = by_name[f"{s['dataset']}/{s['seq_name']}"]
            stats.append(r["owta"][split])
            n_gt += r["n_gt"][split]
        res = H.combine_sequences(stats)
        metrics[f"OWTA_{split}"] = float(100 * np.mean(res["OWTA"])) if n_gt else None
    per_video = {}
    for r in results:
        res = H.combine_sequences([r["owta"]["all"]])
        per_video[r["name"]] = {"OWTA": float(100 * np.mean(res["OWTA"]))}
    return EvalResult(metrics=metrics, per_video=per_video)
