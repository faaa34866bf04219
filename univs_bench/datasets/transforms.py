"""Clip transforms: every random parameter is drawn once per clip and applied to all its frames.

A transform takes and returns the ``results`` dict that :class:`UnifiedVideoDataset` builds:

- ``imgs``: (T, H, W, 3) uint8 RGB frames (may have T = 0 when frames are not loaded);
- ``gt_masks``: (N, T, H, W) bool object masks (optional);
- ``prompts``: list of dicts with ``kind`` and, for explicit geometry, ``mask`` (H, W) bool,
  ``box`` [x1, y1, x2, y2] and ``points`` [[x, y], ...] in pixels (a pixel's centre is at
  +0.5); prompts with ``from_gt`` get their geometry from the final masks in the pack step;
- ``img_shape`` (H, W) of the current arrays, plus bookkeeping written here: ``scale_factor``
  (w, h, cumulative), ``flip``/``flip_direction``, ``crop_offset`` (y, x), ``pad_shape`` and
  ``valid_shape`` (the part of ``img_shape`` covered by image content, before padding).

UniVS (``univs/data/augmentation.py``) trains with large-scale jitter: clip-level horizontal
flip, ``ResizeScale`` (fit the image into ``size * s``, s ~ U(0.25, 4)), then
``FixedSizeCropClip`` (one crop offset ``round(max_offset * u)`` with a single u ~ U(0, 1) for
both axes, then pad right/bottom to ``size``). The official ``ResizeScale`` draws its scale per
frame; here the scale is drawn once per clip, so every frame keeps the same geometry. Inference
resizes the short side (``MIN_SIZE_TEST`` 512/800, detectron2 ``ResizeShortestEdge`` rounding).

Images are resized bilinearly and masks by nearest neighbour (OpenCV's sampling rules); a
resize followed by a crop computes only the pixels of the crop.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..registry import TRANSFORMS


# --------------------------------------------------------------------------- array helpers
def _resize_crop_frames(imgs: np.ndarray, nh: int, nw: int, y0: int, x0: int, ch: int, cw: int) -> np.ndarray:
    """Bilinear resize of (T, H, W, C) frames to ``nh x nw``, keeping only the window
    ``[y0:y0+ch, x0:x0+cw]``; ``cv2.resize`` then slicing to within one grey level, at the
    cost of the window only (large-scale jitter enlarges up to 4x before cropping)."""
    import cv2
    t, h, w = imgs.shape[:3]
    if t == 0:
        return np.zeros((0, ch, cw, imgs.shape[-1]), imgs.dtype)
    if (y0, x0, ch, cw) == (0, 0, nh, nw):
        return np.stack([cv2.resize(f, (nw, nh), interpolation=cv2.INTER_LINEAR) for f in imgs])
    sx, sy = nw / w, nh / h
    # cv2.resize samples src = (dst + 0.5) / s - 0.5; shifting dst by the window offset
    m = np.array([[sx, 0, 0.5 * sx - 0.5 - x0], [0, sy, 0.5 * sy - 0.5 - y0]], np.float64)
    return np.stack([cv2.warpAffine(f, m, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for f in imgs])


def _resize_crop_masks(masks: np.ndarray, nh: int, nw: int, y0: int, x0: int, ch: int, cw: int) -> np.ndarray:
    """Nearest-neighbour resize of (..., H, W) masks to ``nh x nw``, window ``[y0:y0+ch, x0:x0+cw]``
    only; OpenCV's rule ``src = floor(dst * H / nh)``, done as a gather."""
    h, w = masks.shape[-2:]
    rows = np.minimum(np.floor((np.arange(y0, y0 + ch)) * (h / nh)).astype(np.int64), h - 1)
    cols = np.minimum(np.floor((np.arange(x0, x0 + cw)) * (w / nw)).astype(np.int64), w - 1)
    return masks.take(rows, axis=-2).take(cols, axis=-1)


def _apply(results: dict, frames_fn, masks_fn, box_fn, points_fn, shape: tuple[int, int]) -> dict:
    """Apply one geometric operation to frames, masks, prompt masks and prompt coordinates."""
    if results.get("imgs") is not None:
        results["imgs"] = frames_fn(results["imgs"])
    if results.get("gt_masks") is not None:
        results["gt_masks"] = masks_fn(results["gt_masks"])
    for p in results.get("prompts", []):
        if p.get("mask") is not None:
            p["mask"] = masks_fn(p["mask"])
        if p.get("box") is not None:
            p["box"] = box_fn(np.asarray(p["box"], np.float64)).tolist()
        if p.get("points") is not None:
            p["points"] = points_fn(np.asarray(p["points"], np.float64).reshape(-1, 2)).tolist()
    results["img_shape"] = tuple(int(v) for v in shape)
    return results


def _shape(results: dict) -> tuple[int, int]:
    return tuple(int(v) for v in results["img_shape"])


def resize_clip(results: dict, new_h: int, new_w: int, window: tuple[int, int, int, int] | None = None) -> dict:
    """Resize every frame, mask and prompt of the clip to ``new_h x new_w``; with ``window``
    ``(y0, x0, ch, cw)`` then crop it (:func:`crop_clip`), computing only the window's pixels."""
    h, w = _shape(results)
    y0, x0, ch, cw = window or (0, 0, new_h, new_w)
    sx, sy = new_w / w, new_h / h
    scale = np.array([sx, sy, sx, sy])
    out = _apply(results, lambda x: _resize_crop_frames(x, new_h, new_w, y0, x0, ch, cw),
                 lambda m: _resize_crop_masks(m, new_h, new_w, y0, x0, ch, cw),
                 lambda b: b * scale, lambda p: p * scale[:2], (new_h, new_w))
    fw, fh = out.get("scale_factor", (1.0, 1.0))
    out["scale_factor"] = (fw * sx, fh * sy)
    vh, vw = out.get("valid_shape", (h, w))
    out["valid_shape"] = (min(new_h, round(vh * sy)), min(new_w, round(vw * sx)))
    if window is None:
        return out
    return crop_clip(out, y0, x0, ch, cw, arrays_done=True)


def crop_clip(results: dict, y0: int, x0: int, ch: int, cw: int, arrays_done: bool = False) -> dict:
    """Crop rows ``y0:y0+ch`` and columns ``x0:x0+cw`` of every frame; prompt points that fall
    outside are dropped and boxes are clipped (an emptied box becomes ``None``).
    ``arrays_done``: frames and masks are already cropped, move only the coordinates."""
    def box_fn(b):
        b = b - np.array([x0, y0, x0, y0])
        return np.clip(b, 0, [cw, ch, cw, ch])

    def points_fn(p):
        p = p - np.array([x0, y0])
        keep = (p[:, 0] >= 0) & (p[:, 0] <= cw) & (p[:, 1] >= 0) & (p[:, 1] <= ch)
        return p[keep]

    def keep(x):
        return x

    out = _apply(results, keep if arrays_done else (lambda x: x[:, y0:y0 + ch, x0:x0 + cw]),
                 keep if arrays_done else (lambda m: m[..., y0:y0 + ch, x0:x0 + cw]),
                 box_fn, points_fn, (ch, cw))
    for p in out.get("prompts", []):
        b = p.get("box")
        if b is not None and not (b[2] > b[0] and b[3] > b[1]):
            p["box"] = None
    out["crop_offset"] = (int(y0), int(x0))
    vh, vw = out.get("valid_shape", (ch + y0, cw + x0))
    out["valid_shape"] = (max(0, min(ch, vh - y0)), max(0, min(cw, vw - x0)))
    return out


def pad_clip(results: dict, ph: int, pw: int, pad_value: float = 0) -> dict:
    """Pad right and bottom to ``ph x pw`` (frames with ``pad_value``, masks with False)."""
    h, w = _shape(results)
    dh, dw = max(0, ph - h), max(0, pw - w)

    def frames(x):
        return np.pad(x, ((0, 0), (0, dh), (0, dw), (0, 0)), constant_values=pad_value)

    def masks(m):
        return np.pad(m, [(0, 0)] * (m.ndim - 2) + [(0, dh), (0, dw)])

    valid = results.get("valid_shape", (h, w))
    out = _apply(results, frames, masks, lambda b: b, lambda p: p, (h + dh, w + dw))
    out["pad_shape"] = out["img_shape"]
    out["valid_shape"] = valid
    return out


def swap_left_right(text: str) -> str:
    """'left' <-> 'right' in an expression of a mirrored clip (UniVS ``transform_expressions``,
    which swaps the substrings, so 'leftmost' becomes 'rightmost' too)."""
    return text.replace("left", "@").replace("right", "left").replace("@", "right")


def hflip_clip(results: dict) -> dict:
    """Mirror every frame, mask and prompt left-right (expressions swap 'left' and 'right')."""
    h, w = _shape(results)

    def box_fn(b):
        return np.array([w - b[2], b[1], w - b[0], b[3]])

    def points_fn(p):
        return np.stack([w - p[:, 0], p[:, 1]], axis=1) if len(p) else p

    out = _apply(results, lambda x: x[:, :, ::-1], lambda m: m[..., ::-1], box_fn, points_fn, (h, w))
    if out.get("imgs") is not None:
        out["imgs"] = np.ascontiguousarray(out["imgs"])
    if out.get("gt_masks") is not None:
        out["gt_masks"] = np.ascontiguousarray(out["gt_masks"])
    for p in out.get("prompts", []):
        if p.get("mask") is not None:
            p["mask"] = np.ascontiguousarray(p["mask"])
        if p.get("kind") == "text" and p.get("text"):
            p["text"] = swap_left_right(p["text"])
    out["flip"] = not out.get("flip", False)
    out["flip_direction"] = "horizontal" if out["flip"] else None
    return out


def shortest_edge_size(h: int, w: int, short: int, max_size: int) -> tuple[int, int]:
    """detectron2 ``ResizeShortestEdge.get_output_shape``: short side to ``short``, long side
    at most ``max_size``, each side rounded with ``int(x + 0.5)``."""
    scale = short / min(h, w)
    nh, nw = (short, scale * w) if h < w else (scale * h, short)
    if max(nh, nw) > max_size:
        s = max_size / max(nh, nw)
        nh, nw = nh * s, nw * s
    return int(nh + 0.5), int(nw + 0.5)


# --------------------------------------------------------------------------- transforms
@TRANSFORMS.register_module()
class ClipRandomFlip:
    """Flip the whole clip horizontally with probability ``prob`` (one draw per clip).

    Masks, prompt masks, boxes and points are flipped with the frames, and expressions swap
    'left' and 'right' (UniVS ``RANDOM_FLIP: flip_by_clip``, ``transform_expressions``).

    Example::

        dict(type='ClipRandomFlip', prob=0.5)
    """

    def __init__(self, prob: float = 0.5, direction: str = "horizontal"):
        if direction != "horizontal":
            raise ValueError(f"ClipRandomFlip supports 'horizontal' only, got {direction!r}")
        if not 0 <= prob <= 1:
            raise ValueError(f"flip probability {prob} is not in [0, 1]")
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            return hflip_clip(results)
        results.setdefault("flip", False)
        results.setdefault("flip_direction", None)
        return results

    def __repr__(self):
        return f"{type(self).__name__}(prob={self.prob})"


@TRANSFORMS.register_module()
class ClipLargeScaleJitter:
    """Large-scale jitter with one scale and one crop for the whole clip.

    Resize so the frame fits in ``size * s`` with ``s ~ U(scale_range)`` (aspect kept,
    ``round`` on each side, as detectron2 ``ResizeScale``); then, with ``crop=True``, crop a
    ``size`` window at offset ``round(max_offset * u)`` (one u for both axes, as UniVS
    ``FixedSizeCropClip``) and, with ``pad=True``, pad right/bottom to ``size``.

    Example::

        dict(type='ClipLargeScaleJitter', size=(1024, 1024), scale_range=(0.25, 4.0))
    """

    def __init__(self, size: Sequence[int] | int = (1024, 1024),
                 scale_range: Sequence[float] = (0.25, 4.0), crop: bool = True,
                 pad: bool = True, pad_value: float = 0):
        self.size = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(s) for s in size)
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        if not 0 < self.scale_range[0] <= self.scale_range[1]:
            raise ValueError(f"scale_range {scale_range} must be 0 < low <= high")
        self.crop, self.pad, self.pad_value = crop, pad, pad_value

    def __call__(self, results: dict) -> dict:
        h, w = _shape(results)
        s = np.random.uniform(*self.scale_range)
        th, tw = self.size[0] * s, self.size[1] * s
        r = min(th / h, tw / w)
        nh, nw = max(1, int(np.round(h * r))), max(1, int(np.round(w * r)))
        if self.crop:
            ch, cw = min(nh, self.size[0]), min(nw, self.size[1])
            u = np.random.uniform(0.0, 1.0)
            y0, x0 = int(np.round((nh - ch) * u)), int(np.round((nw - cw) * u))
            results = resize_clip(results, nh, nw, window=(y0, x0, ch, cw))
        else:
            results = resize_clip(results, nh, nw)
        results["lsj_scale"] = float(s)
        if self.pad:
            results = pad_clip(results, self.size[0], self.size[1], self.pad_value)
        return results

    def __repr__(self):
        return (f"{type(self).__name__}(size={self.size}, scale_range={self.scale_range}, "
                f"crop={self.crop}, pad={self.pad})")


@TRANSFORMS.register_module()
class ClipResizeShortSide:
    """Resize the short side to ``short`` (one value drawn per clip from a list, or from a
    ``(low, high)`` range with ``sample='range'``), the long side to at most ``max_size``.

    Example (UniVS inference, ``MIN_SIZE_TEST: 512``)::

        dict(type='ClipResizeShortSide', short=512, max_size=1333)
    """

    def __init__(self, short: int | Sequence[int] = 800, max_size: int = 1333, sample: str = "choice"):
        self.short = [int(short)] if isinstance(short, (int, float)) else [int(s) for s in short]
        if sample not in ("choice", "range"):
            raise ValueError(f"sample must be 'choice' or 'range', got {sample!r}")
        if sample == "range" and len(self.short) != 2:
            raise ValueError("sample='range' needs short=(low, high)")
        self.max_size, self.sample = int(max_size), sample

    def __call__(self, results: dict) -> dict:
        h, w = _shape(results)
        if self.sample == "range":
            short = int(np.random.randint(self.short[0], self.short[1] + 1))
        else:
            short = self.short[0] if len(self.short) == 1 else int(np.random.choice(self.short))
        nh, nw = shortest_edge_size(h, w, short, self.max_size)
        if (nh, nw) == (h, w):
            results.setdefault("scale_factor", (1.0, 1.0))
            results.setdefault("valid_shape", (h, w))
            return results
        return resize_clip(results, nh, nw)

    def __repr__(self):
        return f"{type(self).__name__}(short={self.short}, max_size={self.max_size})"


# --------------------------------------------------------------------------- prompts from GT
def _bbox(mask: np.ndarray) -> list[float] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def _sample_points(mask: np.ndarray, k: int) -> list[list[float]]:
    """``k`` pixels of the mask drawn uniformly (with replacement when the mask is smaller),
    as pixel centres (UniVS picks ``(idx % W + 0.5, idx // W + 0.5)`` inside the mask)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return []
    pick = np.random.choice(len(xs), size=k, replace=len(xs) < k)
    return [[float(xs[i]) + 0.5, float(ys[i]) + 0.5] for i in pick]


def _scribble(mask: np.ndarray, k: int) -> list[list[float]]:
    """A polyline along the object's principal axis: the centroids of ``k`` slices across it.

    A simulated user scribble; its rasterisation is clipped to the mask in the pack step.
    """
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return []
    pts = np.stack([xs, ys], 1).astype(np.float64) + 0.5
    c = pts.mean(0)
    if len(pts) < 3:
        return [c.tolist()]
    _, _, vt = np.linalg.svd(pts - c, full_matrices=False)
    t = (pts - c) @ vt[0]
    edges = np.quantile(t, np.linspace(0.1, 0.9, k + 1))
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        sel = (t >= a) & (t <= b)
        if sel.any():
            out.append(pts[sel].mean(0).tolist())
    return out or [c.tolist()]


def _rasterise(p: dict, shape: tuple[int, int], point_radius: int, scribble_width: int,
               clip_to: np.ndarray | None = None) -> np.ndarray:
    """The region (H, W) bool of a visual prompt."""
    import cv2
    h, w = shape
    if p.get("mask") is not None:
        return np.asarray(p["mask"], bool)
    region = np.zeros((h, w), np.uint8)
    if p["kind"] == "box" and p.get("box") is not None:
        x1, y1, x2, y2 = p["box"]
        region[max(0, math.floor(y1)):min(h, math.ceil(y2)),
               max(0, math.floor(x1)):min(w, math.ceil(x2))] = 1
    elif p.get("points"):
        pts = np.asarray(p["points"], np.float64).reshape(-1, 2) - 0.5
        if p["kind"] == "scribble" and len(pts) > 1:
            cv2.polylines(region, [np.round(pts).astype(np.int32)], False, 1, thickness=scribble_width)
        else:
            for x, y in np.round(pts).astype(int):
                cv2.circle(region, (int(x), int(y)), point_radius, 1, thickness=-1)
    region = region.astype(bool)
    if clip_to is not None and p["kind"] == "scribble":
        region &= clip_to
    return region


# --------------------------------------------------------------------------- pack
@TRANSFORMS.register_module()
class PackVideoInputs:
    """Pack a clip (or a video) into ``{'inputs': (T, 3, H, W) uint8, 'data_samples': dict}``.

    The data sample is a plain dict, as :class:`~univs_bench.models.univs.univs.UniVS` reads it:
    ``masks`` (N, T, H, W) bool, ``labels`` (N,), ``ids`` (N,) track ids, ``frame_indices`` (T,),
    the prompts of the item's task and its metainfo (``video_id``, ``ori_shape``, ``img_shape``,
    ``scale_factor``, ``flip``, ...). Visual prompts give ``prompt_regions`` (P, H, W),
    ``prompt_kinds``, ``prompt_boxes`` (P, 4), ``prompt_points``, ``prompt_frames`` (P,),
    ``prompt_frame`` (the key frame), ``prompt_target`` (P,) rows of ``masks`` (-1: no GT row)
    and ``prompt_obj_ids``; category prompts ``prompt_labels``, ``prompt_names`` and
    ``prompt_target`` (their rows in the sorted labels, as the criterion orders classes);
    expressions ``expressions``, ``exp_ids``, ``exp_obj_ids`` and ``prompt_target``.

    Prompts marked ``from_gt`` get their geometry here, from the final masks of their target
    on their frame: a mask, its box, ``num_points`` random inner points, or a scribble.
    With ``drop_empty`` (training), objects whose masks are empty in every frame after the
    geometric transforms are dropped (UniVS ``filter_empty_instances``) with the prompts that
    point at them, and an item left without objects (or, for prompted tasks, without prompts)
    returns ``None`` so the dataset draws another.

    Example::

        dict(type='PackVideoInputs', num_points=1, point_radius=3)
    """

    def __init__(self, drop_empty: bool = True, num_points: int = 1, point_radius: int = 3,
                 scribble_points: int = 8, scribble_width: int = 3, meta_keys: Sequence[str] | None = None):
        self.drop_empty = drop_empty
        self.num_points, self.point_radius = int(num_points), int(point_radius)
        self.scribble_points, self.scribble_width = int(scribble_points), int(scribble_width)
        self.meta_keys = tuple(meta_keys) if meta_keys is not None else (
            "video_id", "dataset", "dataset_task", "sample_idx", "num_video_frames", "frame_ids",
            "frame_names", "frame_paths", "ori_shape", "img_shape", "valid_shape", "pad_shape",
            "scale_factor", "flip", "flip_direction", "crop_offset", "lsj_scale", "categories",
            "category_ids", "has_class", "class_range")

    def __call__(self, results: dict) -> dict | None:
        import torch
        h, w = _shape(results)
        imgs = results.get("imgs")
        if imgs is None:
            imgs = np.zeros((0, h, w, 3), np.uint8)
        inputs = torch.from_numpy(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))
        masks = results.get("gt_masks")
        labels = np.asarray(results.get("gt_labels", []), np.int64)
        ids = np.asarray(results.get("gt_ids", []), np.int64)
        prompts = [dict(p) for p in results.get("prompts", [])]
        task = results.get("task", "detection")

        if masks is not None and self.drop_empty:
            keep = masks.reshape(masks.shape[0], -1).any(1)
            if not keep.all():
                row = np.cumsum(keep) - 1
                masks, labels, ids = masks[keep], labels[keep], ids[keep]
                prompts = [dict(p, target=int(row[p["target"]])) if p.get("target") is not None else p
                           for p in prompts
                           if p.get("target") is None or keep[p["target"]]]
            if masks.shape[0] == 0:
                return None
            present = set(labels.tolist())
            prompts = [p for p in prompts
                       if not (p["kind"] == "category" and p.get("from_gt") and p["category"] not in present)]

        sample = {k: results[k] for k in self.meta_keys if k in results}
        sample["task"] = task
        sample["frame_indices"] = torch.as_tensor(np.asarray(results.get("frame_indices", []), np.int64))
        if masks is not None:
            sample["masks"] = torch.from_numpy(np.ascontiguousarray(masks))
            sample["labels"] = torch.from_numpy(labels)
            sample["ids"] = torch.from_numpy(ids)
        visual = [p for p in prompts if p["kind"] in ("mask", "box", "point", "scribble")]
        text = [p for p in prompts if p["kind"] == "text"]
        cats = [p for p in prompts if p["kind"] == "category"]
        if visual:
            ok = self._pack_visual(sample, visual, masks, (h, w))
            if not ok and self.drop_empty and task == "sot":
                return None
            sample["prompt_type"] = "visual"
        elif text:
            sample["expressions"] = [p["text"] for p in text]
            sample["exp_ids"] = [p.get("id") for p in text]
            sample["exp_obj_ids"] = torch.as_tensor([_or(p.get("target_id"), -1) for p in text], dtype=torch.long)
            sample["prompt_target"] = torch.as_tensor([_or(p.get("target"), -1) for p in text], dtype=torch.long)
            sample["prompt_type"] = "text"
        elif cats:
            sample["prompt_labels"] = torch.as_tensor([p["category"] for p in cats], dtype=torch.long)
            sample["prompt_names"] = [p.get("text") for p in cats]
            sample["prompt_target"] = torch.arange(len(cats))
            sample["prompt_type"] = "text"
        elif self.drop_empty and task in ("sot", "grounding") and masks is not None:
            return None
        return {"inputs": inputs, "data_samples": sample}

    def _pack_visual(self, sample: dict, prompts: list[dict], masks, shape) -> bool:
        import torch
        regions, kinds, boxes, points, frames, targets, obj_ids = [], [], [], [], [], [], []
        for p in prompts:
            p = dict(p)
            gt = None
            if p.get("from_gt"):
                gt = masks[p["target"], p["frame"]]
                if not gt.any():
                    continue
                if p["kind"] == "mask":
                    p["mask"] = gt
                elif p["kind"] == "box":
                    p["box"] = _bbox(gt)
                elif p["kind"] == "point":
                    p["points"] = _sample_points(gt, self.num_points)
                else:
                    p["points"] = _scribble(gt, self.scribble_points)
            region = _rasterise(p, shape, self.point_radius, self.scribble_width, gt)
            if self.drop_empty and not region.any():
                continue
            regions.append(region)
            kinds.append(p["kind"])
            box = p.get("box") if p.get("box") is not None else _bbox(region)
            boxes.append(box if box is not None else [0.0, 0.0, 0.0, 0.0])
            points.append(torch.as_tensor(np.asarray(p.get("points") or [], np.float32).reshape(-1, 2)))
            frames.append(int(p["frame"]))
            targets.append(_or(p.get("target"), -1))
            obj_ids.append(_or(p.get("target_id"), -1))
        h, w = shape
        sample["prompt_regions"] = torch.from_numpy(np.stack(regions)) if regions else \
            torch.zeros((0, h, w), dtype=torch.bool)
        sample["prompt_kinds"] = kinds
        sample["prompt_boxes"] = torch.as_tensor(np.asarray(boxes, np.float32).reshape(-1, 4))
        sample["prompt_points"] = points
        sample["prompt_frames"] = torch.as_tensor(frames, dtype=torch.long)
        sample["prompt_frame"] = min(frames) if frames else 0
        sample["prompt_target"] = torch.as_tensor(targets, dtype=torch.long)
        sample["prompt_obj_ids"] = torch.as_tensor(obj_ids, dtype=torch.long)
        return bool(regions)

    def __repr__(self):
        return f"{type(self).__name__}(drop_empty={self.drop_empty}, num_points={self.num_points})"


def _or(v, default):
    return default if v is None else v
