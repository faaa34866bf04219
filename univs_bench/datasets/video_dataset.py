"""MMEngine dataset over a converted annotation file (the unified schema), for UniVS.

One data-list entry is one video. ``mode='video'`` (inference) gives the whole video: frame
paths, size, task, categories and the file's prompts. ``mode='clip'`` (training) samples
``num_frames`` frames around a random reference frame, decodes only those frames and their
masks, and builds the prompts of the task from the ground truth.

Task -> what the UniVS model gets (``data_samples['task']``, as ``univs.py`` reads it):

- vis, vss, vps -> ``'detection'`` with category prompts (the classes present in the clip;
  in video mode the whole vocabulary), or visual prompts with ``detection_prompt='visual'``;
- vos, pvos -> ``'sot'`` with visual prompts (mask, box, points or scribble) of the objects
  visible on a key frame;
- refvos -> ``'grounding'`` with the expressions (text prompts) whose target is in the clip.

Clip sampling follows UniVS ``dataset_mapper_uni_vid.py``: reference frame ``ref`` uniform over
the annotated frames; candidates are the frames within ``frame_range`` of ``ref`` but at least
``sampling_interval`` away; ``num_frames`` candidates are drawn with replacement, the last is
replaced by ``ref``, then sorted (and shuffled with ``shuffle_frames``); a video without
candidates repeats ``ref``. Frame indices are positions among the annotated frames (the
official file lists hold only those); when the largest exceeds ``max_frame_index`` (128, the
3D position code's range) all are shifted down by a shift drawn from ``[max - 128, min)``.
Crowd tracks are not used. A video whose GT is only label maps (no tracks) gets one object
per label value: ``class`` (category = value, 255 void), ``vspw_raw`` (0 others and 255 void
skipped, category = value - 1), ``vipseg_raw`` (0 void, category = stuff value or thing
value // 100, minus 1), ``object_ids``/``panoptic_rgb`` (no category).
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from ..data_converters.base import MaskResolver
from ..errors import InputError
from ..io.png import read_frame_image as read_frame
from ..registry import DATASETS, TRANSFORMS
from ..registry import build as build_in_scope

MODEL_TASKS = {"vis": "detection", "vss": "detection", "vps": "detection",
               "vos": "sot", "pvos": "sot", "refvos": "grounding"}
VISUAL_KINDS = ("mask", "box", "point", "scribble")


def _label_map_objects(arr: np.ndarray, encoding: str) -> dict[int, int | None]:
    """{object id: category} of one label map, for videos whose GT is only label maps."""
    out: dict[int, int | None] = {}
    for v in np.unique(arr).tolist():
        v = int(v)
        if encoding == "class":
            if v != 255:
                out[v] = v
        elif encoding == "vspw_raw":  # 0 others, 255 void, class = v - 1
            if 0 < v < 255:
                out[v] = v - 1
        elif encoding == "vipseg_raw":  # 0 void, stuff = class id, thing = class * 100 + k
            if v > 0:
                out[v] = (v if v < 125 else v // 100) - 1
        elif v not in (0, 255) or (encoding == "panoptic_rgb" and v != 0):
            out[v] = None
    return out


@DATASETS.register_module()
class UnifiedVideoDataset(BaseDataset):
    """A converted annotation file ``{metainfo, data_list}`` as an MMEngine dataset.

    Args:
        ann_file: the converted JSON (``univs-bench convert ... --out``).
        mode: ``'clip'`` (training items) or ``'video'`` (one whole video per item).
        num_frames: frames per training clip (UniVS ``SAMPLING_FRAME_NUM``).
        frame_range: most frames between the reference frame and another clip frame
            (``SAMPLING_FRAME_RANGE``; the max stride).
        sampling_interval: candidate frames are at least this far from the reference.
        shuffle_frames: shuffle the clip's frame order (``SAMPLING_FRAME_SHUFFLE``).
        max_frame_index: largest frame index given to the model.
        task: override the file's task (one of vis, vss, vps, vos, refvos, pvos).
        visual_prompt_kinds: kinds drawn (one per clip) for visual prompts.
        detection_prompt: ``'category'`` or ``'visual'`` prompts for vis/vss/vps clips.
        max_objects: keep at most this many objects per clip (random subset).
        category_map: category id -> label given to the model (default: the id itself).
        contiguous_labels: label = position of the category in the file's category list
            (0-based), for a model whose vocabulary slice is ``class_range``.
        class_range: ``(start, n)``: this dataset's slice of the model's combined vocabulary,
            passed on to the criterion (UniVS keeps one open vocabulary of all datasets).
        has_class: whether clips get a class loss (default: the file has categories and the
            task is not refvos; UniVS sets False for YouTube-VOS, MOSE, SA-1B training).
        root: folder the file's relative paths are under (default ``metainfo.root``).
        load_frames: video mode: decode every frame (else ``inputs`` is empty and the data
            sample lists ``frame_paths`` for clip-by-clip reading).
        with_gt: video mode: also decode every GT mask of the video.
        validate: check the file against the schema when it is read.
        pipeline: transforms; default ``[PackVideoInputs]`` (no augmentation).

    MMEngine's ``ConcatDataset`` compares the metainfo of its datasets when it is built: keep
    them lazy (the default; the metainfo comes with the file) or pass ``ignore_keys``.

    Example::

        train_dataloader = dict(
            batch_size=2,
            sampler=dict(type='MultiDatasetSampler', batch_size=2, ratios=[0.25, 0.15]),
            collate_fn=dict(type='video_collate'),
            dataset=dict(type='ConcatDataset', datasets=[
                dict(type='UnifiedVideoDataset', ann_file='ann/ytvis21_train.json',
                     num_frames=4, frame_range=40, pipeline=train_pipeline),
                dict(type='UnifiedVideoDataset', ann_file='ann/mose_train.json',
                     num_frames=4, frame_range=40, pipeline=train_pipeline)]))
    """

    METAINFO: dict = {}

    def __init__(self, ann_file: str, mode: str = "clip", num_frames: int = 4, frame_range: int = 40,
                 sampling_interval: int = 1, shuffle_frames: bool = False, max_frame_index: int = 128,
                 task: str | None = None, visual_prompt_kinds: Sequence[str] = ("mask", "box", "point"),
                 detection_prompt: str = "category", max_objects: int | None = None,
                 category_map: dict | None = None, contiguous_labels: bool = False,
                 class_range: Sequence[int] | None = None, has_class: bool | None = None,
                 root: str | None = None,
                 load_frames: bool = True, with_gt: bool = False, validate: bool = True,
                 pipeline: Sequence | None = None, test_mode: bool | None = None,
                 lazy_init: bool = True, **kwargs):
        if mode not in ("clip", "video"):
            raise ValueError(f"mode must be 'clip' or 'video', got {mode!r}")
        if task is not None and task not in MODEL_TASKS:
            raise ValueError(f"task {task!r} not in {sorted(MODEL_TASKS)}")
        bad = [k for k in visual_prompt_kinds if k not in VISUAL_KINDS]
        if bad or not visual_prompt_kinds:
            raise ValueError(f"visual_prompt_kinds must be a non-empty subset of {VISUAL_KINDS}, "
                             f"got {visual_prompt_kinds}")
        if detection_prompt not in ("category", "visual"):
            raise ValueError(f"detection_prompt must be 'category' or 'visual', got {detection_prompt!r}")
        if num_frames < 1 or frame_range < 0 or sampling_interval < 1:
            raise ValueError("need num_frames >= 1, frame_range >= 0, sampling_interval >= 1")
        self.mode, self.num_frames, self.frame_range = mode, int(num_frames), int(frame_range)
        self.sampling_interval, self.shuffle_frames = int(sampling_interval), shuffle_frames
        self.max_frame_index, self.task_override = int(max_frame_index), task
        self.visual_prompt_kinds, self.detection_prompt = tuple(visual_prompt_kinds), detection_prompt
        self.max_objects, self.root_override = max_objects, root
        if category_map and contiguous_labels:
            raise ValueError("give category_map or contiguous_labels, not both")
        self.category_map = {int(k): int(v) for k, v in (category_map or {}).items()}
        self.contiguous_labels = contiguous_labels
        self.class_range = tuple(int(v) for v in class_range) if class_range is not None else None
        self.has_class = has_class
        self.load_frames, self.with_gt, self.validate = load_frames, with_gt, validate
        if pipeline is None:
            pipeline = [dict(type="PackVideoInputs", drop_empty=mode == "clip")]
        # build with our registry so that short names resolve without a default scope
        pipeline = [build_in_scope(TRANSFORMS, t) if isinstance(t, dict) else t for t in pipeline]
        super().__init__(ann_file=ann_file, pipeline=pipeline, lazy_init=lazy_init,
                         test_mode=(mode == "video") if test_mode is None else test_mode, **kwargs)

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> list[dict]:
        """Read the annotation file: one dict per video, and the file's metainfo."""
        from ..schema import AnnotationFile
        af = AnnotationFile.load(self.ann_file)
        if self.validate:
            problems = af.validate()
            if problems:
                more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
                raise InputError(f"{self.ann_file}: " + "; ".join(problems[:5]) + more)
        m = af.metainfo
        task = self.task_override or m.task
        if task not in MODEL_TASKS:
            raise InputError(f"{self.ann_file}: task {task!r} not in {sorted(MODEL_TASKS)}")
        root = self.root_override or m.root or os.path.dirname(os.path.abspath(self.ann_file))
        cats = [dict(id=c.id, name=c.name, isthing=c.isthing, split=c.split) for c in m.categories]
        file_meta = dict(dataset=m.dataset, task=task, split=m.split, root=root,
                         images=m.extra.get("images"), categories=cats,
                         classes=tuple(c["name"] for c in cats))
        for k, v in file_meta.items():
            self._metainfo.setdefault(k, v)
        if self.contiguous_labels:
            self.category_map = {c["id"]: i for i, c in enumerate(cats)}
        out = []
        for item in af.data_list:
            v = item.video
            out.append(dict(
                video_id=v.id, frames=list(v.frames), height=v.height, width=v.width,
                annotated=v.annotated,
                tracks=[dict(id=t.id, category=t.category, masks=t.masks, iscrowd=t.iscrowd)
                        for t in item.tracks],
                label_maps=[dict(frame=lm.frame, png=lm.png, encoding=lm.encoding)
                            for lm in item.label_maps],
                prompts=[dict(vars(p)) for p in item.prompts]))
        return out

    def filter_data(self) -> list[dict]:
        """Training drops videos without any usable GT (no non-crowd mask, no label map)."""
        if self.mode != "clip":
            return self.data_list
        return [d for d in self.data_list
                if d["label_maps"] or any(not t["iscrowd"] and any(m is not None for m in t["masks"])
                                          for t in d["tracks"])]

    # ------------------------------------------------------------------ items
    @property
    def task(self) -> str:
        return self._metainfo["task"]

    def frame_path(self, info: dict, f: int) -> str:
        tpl = self._metainfo.get("images")
        if not tpl:
            raise InputError(f"{self.ann_file}: metainfo does not say where frame images are "
                             "(extra['images'])")
        return os.path.join(self._metainfo["root"], tpl.format(video=info["video_id"], frame=info["frames"][f]))

    def _label(self, category: int | None) -> int:
        if category is None:
            return -1
        return self.category_map.get(int(category), int(category))

    def _base_results(self, info: dict, frame_ids: list[int]) -> dict:
        h, w = info["height"], info["width"]
        return dict(
            video_id=info["video_id"], dataset=self._metainfo.get("dataset"),
            dataset_task=self.task, task=MODEL_TASKS[self.task], sample_idx=info.get("sample_idx"),
            num_video_frames=len(info["frames"]), frame_ids=list(frame_ids),
            frame_names=[info["frames"][f] for f in frame_ids],
            frame_paths=[self.frame_path(info, f) for f in frame_ids] if self._metainfo.get("images") else [],
            ori_shape=(h, w), img_shape=(h, w), valid_shape=(h, w), scale_factor=(1.0, 1.0),
            flip=False, flip_direction=None,
            categories=list(self._metainfo.get("classes", ())),
            category_ids=[self._label(c["id"]) for c in self._metainfo.get("categories", [])],
            has_class=(bool(self._metainfo.get("categories")) and self.task != "refvos")
            if self.has_class is None else bool(self.has_class),
            **({"class_range": self.class_range} if self.class_range is not None else {}))

    def _read_frames(self, results: dict, h: int, w: int) -> np.ndarray:
        frames = []
        cache: dict[str, np.ndarray] = {}
        for p in results["frame_paths"]:
            if p not in cache:  # a clip may repeat a frame
                img = read_frame(p)
                if img.shape[:2] != (h, w):
                    raise InputError(f"{p}: frame size {img.shape[1]}x{img.shape[0]} differs from the "
                                     f"video's {w}x{h} in {self.ann_file}")
                cache[p] = img
            frames.append(cache[p])
        return np.stack(frames) if frames else np.zeros((0, h, w, 3), np.uint8)

    def _objects(self, info: dict, frame_ids: list[int], masks: MaskResolver):
        """(N, T, H, W) masks, labels and ids of the objects, decoded on ``frame_ids`` only."""
        h, w, vid = info["height"], info["width"], info["video_id"]
        tracks = [t for t in info["tracks"] if not t["iscrowd"]]
        rows, labels, ids = [], [], []
        if tracks:
            for t in tracks:
                m = np.stack([masks.decode(t["masks"][f], h, w, f"video {vid!r} track {t['id']} frame "
                                           f"{info['frames'][f]}") for f in frame_ids])
                if m.any():
                    rows.append(m)
                    labels.append(self._label(t["category"]))
                    ids.append(int(t["id"]))
        elif info["label_maps"]:
            by_frame = {lm["frame"]: lm for lm in info["label_maps"]}
            maps, objs = [], {}
            for f in frame_ids:
                lm = by_frame.get(f)
                arr = masks.label_map(lm["png"]) if lm else None
                maps.append(arr)
                if arr is not None:
                    objs.update(_label_map_objects(arr, lm["encoding"]))
            for k in sorted(objs):
                rows.append(np.stack([(a == k) if a is not None else np.zeros((h, w), bool) for a in maps]))
                labels.append(self._label(objs[k]))
                ids.append(int(k))
        if not rows:
            return np.zeros((0, len(frame_ids), h, w), bool), np.zeros(0, np.int64), np.zeros(0, np.int64)
        gt = np.stack(rows)
        if gt.shape[-2:] != (h, w):
            raise InputError(f"video {vid!r}: label map size differs from the video's {w}x{h}")
        return gt, np.asarray(labels, np.int64), np.asarray(ids, np.int64)

    def sample_frames(self, length: int) -> tuple[list[int], list[int]]:
        """Clip positions (indices into the ``length`` annotated frames) and the frame indices
        the model sees, with the numpy global RNG (seeded by MMEngine)."""
        t = self.num_frames
        ref = int(np.random.randint(length))
        start, end = max(0, ref - self.frame_range), min(length, ref + self.frame_range + 1)
        start_i = max(0, ref - self.sampling_interval + 1)
        end_i = min(length, ref + self.sampling_interval)
        cand = list(range(start, start_i)) + list(range(end_i, end))
        if not cand:
            sel = [ref] * t
        else:
            sel = np.random.choice(np.asarray(cand), t).tolist()
            sel = sel[:-1] + [ref]
        sel = sorted(int(s) for s in sel)
        if self.shuffle_frames:
            np.random.shuffle(sel)
        hi, lo = max(sel), min(sel)
        if hi > self.max_frame_index:
            a = hi - self.max_frame_index
            # UniVS draws the shift from arange(a, lo) (an empty range, and a crash, when the
            # clip spans more than max_frame_index frames: then the clip starts at 0 here)
            shift = int(np.random.randint(a, lo)) if lo > a else lo
            return sel, [s - shift for s in sel]
        return sel, list(sel)

    def _clip_prompts(self, info: dict, gt: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> list[dict]:
        task = MODEL_TASKS[self.task]
        if task == "grounding":
            row = {int(k): i for i, k in enumerate(ids)}
            return [dict(id=p["id"], kind="text", text=p["text"], target=row[p["target"]],
                         target_id=int(p["target"]))
                    for p in info["prompts"] if p["kind"] == "text" and p.get("target") in row]
        if task == "detection" and self.detection_prompt == "category":
            names = {c["id"]: c["name"] for c in self._metainfo.get("categories", [])}
            inv = {self._label(c): c for c in names}
            present = sorted({int(v) for v in labels if v >= 0})
            return [dict(id=str(c), kind="category", category=c, text=names.get(inv.get(c, c)), from_gt=True)
                    for c in present]
        # visual prompts on a key frame: the first clip frame showing an object
        visible = gt.reshape(gt.shape[0], gt.shape[1], -1).any(-1)  # N, T
        key = int(np.argmax(visible.any(0)))
        kind = self.visual_prompt_kinds[int(np.random.randint(len(self.visual_prompt_kinds)))]
        return [dict(id=str(int(ids[r])), kind=kind, target=int(r), target_id=int(ids[r]),
                     frame=key, from_gt=True)
                for r in np.nonzero(visible[:, key])[0]]

    def _clip(self, info: dict) -> dict | None:
        ann = info["annotated"] if info["annotated"] is not None else list(range(len(info["frames"])))
        if not ann:
            return None
        pos, frame_indices = self.sample_frames(len(ann))
        frame_ids = [ann[p] for p in pos]
        masks = MaskResolver(self._metainfo["root"])
        gt, labels, ids = self._objects(info, frame_ids, masks)
        if gt.shape[0] == 0:
            return None
        if self.max_objects is not None and gt.shape[0] > self.max_objects:
            keep = np.sort(np.random.permutation(gt.shape[0])[: self.max_objects])
            gt, labels, ids = gt[keep], labels[keep], ids[keep]
        results = self._base_results(info, frame_ids)
        results.update(frame_indices=frame_indices, gt_masks=gt, gt_labels=labels, gt_ids=ids,
                       imgs=self._read_frames(results, info["height"], info["width"]))
        # the criterion skips the class loss of clips without categories (UniVS has_class)
        results["has_class"] = results["has_class"] and bool((labels >= 0).all())
        results["prompts"] = self._clip_prompts(info, gt, labels, ids)
        return results

    def _video(self, info: dict) -> dict:
        h, w, vid = info["height"], info["width"], info["video_id"]
        frame_ids = list(range(len(info["frames"])))
        results = self._base_results(info, frame_ids)
        results["frame_indices"] = frame_ids
        results["imgs"] = (self._read_frames(results, h, w) if self.load_frames
                           else np.zeros((0, h, w, 3), np.uint8))
        masks = MaskResolver(self._metainfo["root"])
        row = {}
        if self.with_gt:
            gt, labels, ids = self._objects(info, frame_ids, masks)
            results.update(gt_masks=gt, gt_labels=labels, gt_ids=ids)
            row = {int(k): i for i, k in enumerate(ids)}
        task = MODEL_TASKS[self.task]
        prompts = []
        for p in info["prompts"]:
            q = dict(id=p["id"], kind=p["kind"], frame=p.get("frame"), target=row.get(p.get("target")),
                     target_id=p.get("target"), text=p.get("text"), category=p.get("category"))
            if p["kind"] in VISUAL_KINDS:
                if p["kind"] == "mask":
                    q["mask"] = masks.decode(p["mask"], h, w, f"video {vid!r} prompt {p['id']!r}")
                q["box"] = p.get("box")
                q["points"] = p.get("points")
            elif p["kind"] == "category":
                q["category"] = self._label(p["category"])
            prompts.append(q)
        if task == "detection" and not any(q["kind"] == "category" for q in prompts):
            # inference over the dataset's vocabulary
            prompts += [dict(id=str(c["id"]), kind="category", category=self._label(c["id"]), text=c["name"])
                        for c in self._metainfo.get("categories", [])]
        results["prompts"] = prompts
        return results

    def prepare_data(self, idx: int):
        info = self.get_data_info(idx)
        results = self._clip(info) if self.mode == "clip" else self._video(info)
        if results is None:
            return None
        return self.pipeline(results)
