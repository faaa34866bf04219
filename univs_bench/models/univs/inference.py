"""UniVS streaming inference: every video task as prompt-guided target segmentation.

A video is read one clip at a time (``clip_length`` frames, ``clip_stride`` apart; frames are
loaded lazily and their backbone/pixel-decoder features cached only while a clip still needs
them). Each target (an entity detected by the learnable queries, or a VOS/PVOS/BURST object
from its prompt) owns a row of the video's prompt slot buffer
(:class:`~univs_bench.models.univs.prompt_encoder.PromptSlotBuffer`, the official per-frame
memory pool): every clip re-samples the slots of its first T - 1 frames from the targets'
current masks, the prompt query of frame t is the mean of slot t's tokens, and the ProCA keys
are the first-appearance slot plus the last max(k, T) slots, so the model's own masks of
earlier frames are the visual prompts of later frames (VS2P). Only slots that can still be
read are kept, so inference memory is bounded by the clip and the number of targets, never by
the video length.

Facts from the official code (MinghanLi/UniVS at 7415d31, ``univs/inference/
inference_video_entity.py``, ``inference_video_vos.py``, ``comm.py``, ``configs/univs_inf``):

* category-specified tasks (VIS, VPS; ``InferenceVideoEntity``): learnable-query score =
  sigmoid class prob x mask quality (fraction of pixels with logit > 1 among those > -1).
  VIS: stability filter on the quality, top-k (DETECTIONS_PER_IMAGE), box NMS (max IoU over the
  clip's frames) in every clip. VPS: in the first clip only the top 100 split into things (70,
  box NMS) and stuff (30, first-frame mask IoU < 0.6); later clips take all queries. The first
  clip (only it, a kept quirk) creates entities above max(cls threshold, 0.1) (VIS) / the cls
  threshold (VPS).
* a prompt-query prediction is kept when the cosine similarity of its clip embeddings with the
  entity's last max(k, 3) embedding slots (temporally weighted, exp(5 t / n)) exceeds the
  consistency threshold (halved while the clip starts before frame T); for VIS the entity must
  also keep more than ``entity_overlap_threshold`` (0.5) of its mask after per-pixel competition
  (score = mean class slots x similarity x quality, at the input size).
* later clips: bi-softmax of the entities' last 3 embedding slots and the queries,
  ``(softmax over queries + softmax over entities) / 2`` averaged over frame pairs, values below
  the new-object threshold zeroed, Hungarian on 1 - sim; a match above the threshold updates the
  class slot (half average) and embedding slot; its masks are added above twice the threshold
  (VIS) or above it (VPS). Unmatched queries (VIS: not matched above twice the threshold) above
  the cls threshold (x 2 for VPS) whose masks overlap no stored entity (IoU < 0.5 in every frame)
  become entities. No cap on the number of entities.
* output windows (:func:`output_windows`): every 10 frames (T = 5) and at the end. VIS tube =
  per-window class means, reweighted and averaged (:func:`tube_class_scores`) x summed mask
  qualities / (floor(largest sum) + 1); results per class as :func:`select_vis_results`. VPS:
  :func:`panoptic_window` on the window's summed logits.
* VSS: non-overlapping clips (stride = clip length, the last one truncated), learnable queries
  only: label = argmax over classes of sum_q score_q,c x sigmoid(mask_q), quality at the output
  size.
* thresholds per benchmark (:data:`TASK_DEFAULTS`) and backbone (:data:`BACKBONE_DEFAULTS`); VOS/PVOS
  consistency 0.5 hard-coded; test short side 640 in every official stage-3 script (per-backbone
  geometry, k, R: ``univs_zoo.official_test_settings``).
* VOS/PVOS/BURST: :meth:`StreamingInference._clip_vos` (``inference_video_vos.py``).

Ablation switches (paper Table 3): ``prompt_as_queries`` (off: the pool tokens are extra
keys of the masked cross-attention and targets are read out of the learnable queries by
embedding matching), ``proca`` (off: ProCA layers are skipped, the pool mean is the query),
``tracker='similarity'`` (no prompts after a target's first frame: frame-by-frame Hungarian
matching of learnable-query embeddings by cosine similarity, MinVIS-style).
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .prompt_encoder import PromptSlotBuffer, VisualPromptSampler

TRACKERS = ("vs2p", "similarity")
# VOS/PVOS/BURST: consistency threshold of a tracked object's prediction, hard-coded
# (``inference_video_vos.py`` ``sim_threshold = 0.5``; the YAML's TEMPORAL_CONSISTENCY_THRESHOLD
# is not read there)
VOS_CONSISTENCY_THRESHOLD = 0.5

# Per-task and per-benchmark values of the official stage-3 runs (tools/test/test_*_stage3.sh, which
# pick configs/univs_inf/vids/{vis,vps,vss}/univs_*_c1+univs_entity.yaml; YAML inheritance resolved):
# VIS (vis/univs_R50_yt21_c1+univs_entity.yaml <- univs_R50_yt21_c1+univs.yaml): APPLY_CLS_THRES 0.25,
# STABILITY_SCORE_THRESH 0.25 (overrides vis/Base.yaml's 0.5), DETECTIONS_PER_IMAGE 35, BOX_NMS_THRESH
# 0.85, DETECT_NEWLY_OBJECT_THRESHOLD 0.1, TEMPORAL_CONSISTENCY_THRESHOLD 0.25; OVIS
# (univs_R50_ovis_c1+univs_entity.yaml): APPLY_CLS_THRES 0.2, DETECTIONS_PER_IMAGE 50. YTVIS19 has no
# official script or inference YAML: it takes the YTVIS21 entity YAML's values.
# VPS (vps/Base.yaml): APPLY_CLS_THRES 0.15, OVERLAP_THRESHOLD 0.6, BOX_NMS_THRESH 0.75,
# DETECT_NEWLY_OBJECT_THRESHOLD 0.05, TEMPORAL_CONSISTENCY_THRESHOLD 0.05 (its STABILITY_SCORE_THRESH and
# DETECTIONS_PER_IMAGE are never read by the VPS path: top 100 / things 70 / stuff 30 are hard-coded).
# VSS: learnable queries only, no threshold is read.
TASK_DEFAULTS: dict[str, dict] = {
    "vis": {"score_threshold": 0.25, "box_nms_threshold": 0.85, "newly_threshold": 0.1,
                "consistency_threshold": 0.25, "stability_threshold": 0.25, "topk": 35, "test_size": 640},
    "ytvis19": {"score_threshold": 0.25, "topk": 35},
    "ytvis21": {"score_threshold": 0.25, "topk": 35},
    "ovis": {"score_threshold": 0.2, "topk": 50},
    "vps": {"score_threshold": 0.15, "overlap_threshold": 0.6, "box_nms_threshold": 0.75,
                "newly_threshold": 0.05, "consistency_threshold": 0.05, "test_size": 640},
    "vss": {"test_size": 640},
    # VOS/PVOS/BURST read no threshold (the consistency threshold is hard-coded, see
    # VOS_CONSISTENCY_THRESHOLD); PVOS runs the VOS procedure plus the semantic help
    "vos": {"test_size": 640},
    "refvos": {"score_threshold": 0.05, "test_size": 640},
    "pvos": {"test_size": 640},
}

# Per-backbone differences of the official runs (applied after TASK_DEFAULTS, keyed by the model
# variant, then by task or benchmark): every Swin VIS entity YAML sets DETECTIONS_PER_IMAGE 50
# (vis/univs_swin{t,b,l}_yt21_c1+univs_entity.yaml); the Swin-T and Swin-L OVIS YAMLs inherit their
# YTVIS21 entity YAML, hence APPLY_CLS_THRES 0.25 (Swin-B's inherits R50 OVIS: 0.2).
BACKBONE_DEFAULTS: dict[str, dict[str, dict]] = {
    "swint": {"vis": {"topk": 50}, "ovis": {"score_threshold": 0.25}},
    "swinb": {"vis": {"topk": 50}},
    "swinl": {"vis": {"topk": 50}, "ovis": {"score_threshold": 0.25}},
}


@dataclass
class InferenceConfig:
    """Settings of :class:`StreamingInference` (every field settable by ``--cfg-options``).

    ``test_size`` is the short side frames are resized to (None: native size; ``max_size``
    caps the long side). ``num_prev_frames_memory`` is ``k`` (5 for R50, 6 for Swin).
    """

    clip_length: int = 5
    clip_stride: int = 1
    num_prev_frames_memory: int = 5
    prompt_as_queries: bool = True
    proca: bool = True
    tracker: str = "vs2p"
    test_size: int | None = None
    max_size: int = 1333
    square_size: int = 0                  # >0: official square mode (pad to this size, long side <= it)
    prompt_points: int | None = None   # tokens per frame in the pool (None: the decoder's)
    score_threshold: float = 0.25         # APPLY_CLS_THRES
    box_nms_threshold: float = 0.85       # BOX_NMS_THRESH
    newly_threshold: float = 0.1          # DETECT_NEWLY_OBJECT_THRESHOLD
    consistency_threshold: float = 0.25   # TEMPORAL_CONSISTENCY_THRESHOLD
    stability_threshold: float = 0.25    # STABILITY_SCORE_THRESH (VIS only)
    entity_overlap_threshold: float = 0.5  # OVERLAP_THRESHOLD_ENTITY (VIS)
    overlap_threshold: float = 0.6        # OVERLAP_THRESHOLD (VPS panoptic)
    new_object_iou: float = 0.5
    similarity_threshold: float = 0.5     # cosine, 'similarity' tracker / prompts-as-keys
    topk: int = 35                        # DETECTIONS_PER_IMAGE (VIS: per clip and per video)
    max_entities: int | None = None       # our option: cap on targets per video (official: none)
    prompt_sampling: str = "random"       # tokens in a mask: official random subset | 'linspace' (ours)
    prompt_seed: int = 0                  # seed of that subset (the official draw is unseeded)
    self_attn_mask_type: str | None = None  # None: the decoder's ('sep'); 'sep-blocked' Swin-L PVOS
    pvos_semantic: bool = True            # VIPOSeg stuff objects helped by the semantic map
    temporal_code: str = "arbitrary"      # 3D position: 'arbitrary' (absolute index) | 'fixed' (Swin-L VIS)
    burst_all_frames: bool = False        # ours: BURST on every frame (official: annotated ones only)
    device: str | None = None

    def __post_init__(self):
        if self.tracker not in TRACKERS:
            raise ValueError(f"tracker must be one of {TRACKERS}, got {self.tracker!r}")
        if self.clip_length < 1 or self.clip_stride < 1:
            raise ValueError("clip_length and clip_stride must be >= 1")
        if self.num_prev_frames_memory < 1:
            raise ValueError("num_prev_frames_memory must be >= 1")
        if self.temporal_code not in ("arbitrary", "fixed"):
            raise ValueError(f"temporal_code must be 'arbitrary' or 'fixed', got {self.temporal_code!r}")

    @classmethod
    def for_benchmark(cls, task: str, name: str | None = None, base: dict | None = None,
                      overrides: dict | None = None, backbone: str | None = None) -> InferenceConfig:
        """Defaults, then the task's and benchmark's official values, then the backbone's
        (:data:`BACKBONE_DEFAULTS`), then ``overrides``."""
        d = dict(base or {})
        d.update(TASK_DEFAULTS.get(task, {}))
        if name:
            d.update(TASK_DEFAULTS.get(name, {}))
        per_backbone = BACKBONE_DEFAULTS.get(backbone or "", {})
        d.update(per_backbone.get(task, {}))
        if name:
            d.update(per_backbone.get(name, {}))
        d.update(overrides or {})
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------- small kernels
def mask_quality(logits: Tensor) -> Tensor:
    """Official mask quality score of logits (N, ...): #(> 1) / #(> -1)."""
    x = logits.flatten(1)
    return (x > 1).sum(-1) / (x > -1).sum(-1).clamp(min=1)


def masks_to_boxes(masks: Tensor) -> Tensor:
    """Bool masks (..., H, W) -> boxes (..., 4) x1, y1, x2, y2 (zeros for empty masks)."""
    h, w = masks.shape[-2:]
    ys = torch.arange(h, device=masks.device, dtype=torch.float32)
    xs = torch.arange(w, device=masks.device, dtype=torch.float32)
    any_y, any_x = masks.any(-1), masks.any(-2)
    big = 1e8
    x1 = torch.where(any_x, xs, big).amin(-1)
    x2 = torch.where(any_x, xs + 1, -big).amax(-1)
    y1 = torch.where(any_y, ys, big).amin(-1)
    y2 = torch.where(any_y, ys + 1, -big).amax(-1)
    boxes = torch.stack([x1, y1, x2, y2], -1)
    empty = ~any_x.any(-1)
    return torch.where(empty[..., None], torch.zeros_like(boxes), boxes)


def mask_boxes_inclusive(masks: Tensor) -> Tensor:
    """Bool masks (..., H, W) -> boxes (..., 4) x1, y1, x2, y2 with inclusive max indices, zeros
    for empty masks (official ``convert_mask_to_box``)."""
    b = masks_to_boxes(masks)
    nonempty = masks.flatten(-2).any(-1)[..., None]
    return torch.where(nonempty, b - torch.tensor([0.0, 0.0, 1.0, 1.0], device=b.device), b)


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """(N, 4) x (M, 4) -> (N, M) IoU."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    return inter / (area_a[:, None] + area_b[None] - inter).clamp(min=1e-6)


def video_box_nms(masks: Tensor, scores: Tensor, threshold: float) -> Tensor:
    """Indices (by decreasing score) kept by box NMS on (N, T, H, W) mask logits: a mask is
    dropped when its box IoU with a higher-scored one, maxed over frames, reaches ``threshold``.

    Boxes as the official ``convert_mask_to_box`` (x2, y2 = the last row/column inside the mask,
    so a one-pixel-wide box has zero area; empty masks -> zeros) normalised by the mask size, IoU
    as ``video_box_iou`` (union clamped at 1e-3)."""
    order = scores.argsort(descending=True)
    if order.numel() <= 1:
        return order
    h, w = masks.shape[-2:]
    boxes = masks_to_boxes(masks[order] > 0)  # N, T, 4
    boxes = torch.where(boxes.any(-1, keepdim=True), boxes - boxes.new_tensor([0, 0, 1, 1]), boxes)
    boxes = boxes / boxes.new_tensor([w, h, w, h])
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])   # N, T
    lt = torch.max(boxes[:, None, :, :2], boxes[None, :, :, :2])
    rb = torch.min(boxes[:, None, :, 2:], boxes[None, :, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)                                    # N, N, T
    iou = (inter / (area[:, None] + area[None] - inter).clamp(min=1e-3)).amax(-1)
    max_prev = torch.triu(iou, diagonal=1).amax(0)
    return order[max_prev < threshold]


def temporal_weights(n: int, valid: Tensor) -> Tensor:
    """Official ``generate_temporal_weights``: exp(5 t / n) for t = 1..n, times ``valid``, normalised."""
    w = (torch.arange(1, n + 1, device=valid.device).float() / n * 5.0).exp() * valid.float()
    return w / w.sum(-1, keepdim=True).clamp(min=1e-3)


def consistency_similarity(stored: Tensor, current: Tensor) -> Tensor:
    """Cosine similarity of each target's clip embeddings ``current`` (N, T, C) with its stored
    embeddings ``stored`` (N, S, C), temporally weighted over S (official
    ``check_consistency_with_prev_frames``) -> (N,)."""
    cur = current / current.norm(dim=-1, keepdim=True).clamp(min=1e-3)
    prev = stored / stored.norm(dim=-1, keepdim=True).clamp(min=1e-3)
    sim = torch.einsum("nsc,ntc->nst", prev, cur).mean(-1)
    w = temporal_weights(stored.shape[1], (stored != 0).any(-1))
    return (sim * w).sum(-1)


def bisoftmax_match(stored: Tensor, current: Tensor, threshold: float):
    """Bi-softmax matching (quasi-dense tracking) of stored target embeddings (N, S, C) with
    current query embeddings (M, T, C).

    sim = raw dot products over all S x T frame pairs; score = (softmax over the M queries +
    softmax over the N targets) / 2, averaged over frame pairs; scores below ``threshold``
    are zeroed; Hungarian on 1 - score. Returns ``(target_idx, query_idx, score)`` of the
    pairs whose score exceeds ``threshold``.
    """
    from scipy.optimize import linear_sum_assignment
    n, m = stored.shape[0], current.shape[0]
    if n == 0 or m == 0:
        e = torch.zeros(0, dtype=torch.long)
        return e, e, torch.zeros(0)
    sim = torch.einsum("nsc,mtc->nmst", stored.float(), current.float()).flatten(2)
    bi = (sim.softmax(1) + sim.softmax(0)).mean(-1) / 2.0
    bi = torch.where(bi < threshold, torch.zeros_like(bi), bi)
    rows, cols = linear_sum_assignment((1 - bi).cpu().numpy())
    rows, cols = torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)
    score = bi.cpu()[rows, cols]
    keep = score > threshold
    return rows[keep], cols[keep], score[keep]


def cosine_match(stored: Tensor, current: Tensor, threshold: float):
    """Frame-by-frame baseline: Hungarian on the cosine similarity of the stored embeddings
    (N, S, C; temporally weighted) with current embeddings (M, T, C; averaged over T)."""
    from scipy.optimize import linear_sum_assignment
    n, m = stored.shape[0], current.shape[0]
    if n == 0 or m == 0:
        e = torch.zeros(0, dtype=torch.long)
        return e, e, torch.zeros(0)
    prev = F.normalize(stored.float(), dim=-1)
    cur = F.normalize(current.float(), dim=-1)
    sim = torch.einsum("nsc,mtc->nmst", prev, cur).mean(-1)
    w = temporal_weights(stored.shape[1], (stored != 0).any(-1))
    sim = (sim * w[:, None]).sum(-1)
    rows, cols = linear_sum_assignment((1 - sim).cpu().numpy())
    rows, cols = torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)
    score = sim.cpu()[rows, cols]
    keep = score > threshold
    return rows[keep], cols[keep], score[keep]


def mask_iou_per_frame(a: Tensor, b: Tensor) -> Tensor:
    """Bool (N, T, H, W) x (M, T, H, W) -> (N, M) max over frames of the per-frame IoU."""
    if a.shape[0] == 0 or b.shape[0] == 0:
        return torch.zeros(a.shape[0], b.shape[0])
    af, bf = a.flatten(2).float(), b.flatten(2).float()  # N,T,P
    inter = torch.einsum("ntp,mtp->nmt", af, bf)
    union = af.sum(-1)[:, None] + bf.sum(-1)[None] - inter
    return (inter / union.clamp(min=1)).amax(-1)


# ---------------------------------------------------------------------- official output procedure
NUM_FRAMES_WINDOW = 5   # MODEL.BoxVIS.TEST.NUM_FRAMES_WINDOW (univs/config.py default, never overridden)


def output_window_size(clip_length: int) -> int:
    """Frames per output window of the official entity inference (``InferenceVideoEntity.
    num_frames_window_output``): (ceil(max(NUM_FRAMES_WINDOW, T) / 5) + 1) x 5, i.e. 10 for T = 5."""
    return (math.ceil(max(NUM_FRAMES_WINDOW, clip_length) / 5) + 1) * 5


def output_windows(starts: list[int], n: int, clip_length: int, memory: int) -> dict[int, tuple[int, int]]:
    """The official VIS/VPS save schedule (``inference_video``, step 3): {clip start: (first frame,
    end frame)} of the window written after that clip. A window of ``output_window_size`` frames is
    written after clip ``i`` when ``i > k`` and ``i % size == k`` (k = ``memory``, the
    NUM_PREV_FRAMES_MEMORY); the last clip writes every frame not yet written."""
    size = output_window_size(clip_length)
    out, first = {}, 0
    for j, s in enumerate(starts):
        if j == len(starts) - 1:
            out[s] = (first, n)
        elif s > memory and s % size == memory:
            out[s] = (first, first + size)
            first += size
    return out


def window_reweight(scores: Tensor) -> Tensor:
    """Official ``calculate_mask_temporal_consistency_scores`` on (W, K) per-window class scores:
    a non-blank window keeps its scores when the previous window is non-blank too and gets half of
    them when it is blank; a blank window (all zeros) stays zero; the first window is unchanged."""
    nonblank = (scores.sum(-1) > 0).float()
    w = torch.ones(len(scores))
    for t in range(len(scores)):
        s, e = max(0, t - 1), min(len(scores), t + 1)
        w[t] = nonblank[t] * nonblank[s:e].sum() / max(e - s, 1)
    return scores * w[:, None].to(scores)


def tube_class_scores(window_scores: Tensor) -> Tensor:
    """Class scores (K,) of a VIS tube from its per-window scores (W, K) (official
    ``vis_clip_instances_to_coco_json_video``): reweighted windows summed over the non-blank ones."""
    s = window_reweight(window_scores.float())
    return s.sum(0) / (s.sum(-1) > 0).sum().clamp(min=1)


def tube_quality_factors(quality_sums: list[float]) -> list[float]:
    """Official VIS mask-quality factor of every tube (``save_results_vis`` on the last window):
    the tube's summed mask qualities / (floor(largest such sum in the video) + 1)."""
    if not quality_sums:
        return []
    den = int(max(quality_sums)) + 1
    return [q / den for q in quality_sums]


def select_vis_results(scores: list[float], class_scores: list[float], topk: int,
                       min_score: float = 0.05) -> list[int]:
    """Indices of the (tube, class) results the official video keeps: results whose class score is
    below 0.1 x ``min_score`` are never made; n = max(int(1.5 x #(class score > min_score)), topk);
    every result scoring at least the (n+1)-th best score is kept (n + 1 results, more on ties)."""
    made = [i for i, c in enumerate(class_scores) if not c < 0.1 * min_score]
    if not made:
        return []
    above = sum(class_scores[i] > min_score for i in made)
    ranked = sorted((scores[i] for i in made), reverse=True)
    cut = ranked[min(max(int(above * 1.5), topk), len(ranked) - 1)]
    return [i for i in made if scores[i] >= cut]


def panoptic_window(frame_logits: Callable[[int], Tensor], num_frames: int, class_scores: Tensor,
                    thing: list[bool], obj_ids: list[int], thing_segments: dict, stuff_segments: dict,
                    overlap_threshold: float) -> list[Tensor]:
    """Official ``save_results_vps`` on one output window: panoptic id maps of its frames.

    ``frame_logits(j)`` gives the (N, H, W) summed mask logits of the N entities on the window's
    j-th frame at the output size (zeros where an entity has no prediction: sigmoid 0.5 counts as
    foreground, as officially). Entity score = max of ``class_scores`` (N, K) x mask quality over
    the whole window; stuff entities not yet output as things get x 0.75; each pixel goes to the
    argmax of score x logit, background where every sigmoid < 0.5; a thing keeps its pixels only
    if they are at least ``overlap_threshold`` (half of it once output before) of its own area
    over the window; stuff of one class is one segment. ``thing_segments`` (entity -> segment
    id) and ``stuff_segments`` (class -> segment id) are updated (ids as officially: a window
    starts from the largest id so far + 1 and numbers from there + 1).
    """
    n_ent = len(obj_ids)
    if n_ent == 0:
        return [None] * num_frames
    above, nonneg = torch.zeros(n_ent), torch.zeros(n_ent)
    for j in range(num_frames):
        x = frame_logits(j).float().flatten(1)
        above += (x > 1).sum(1).cpu()
        nonneg += (x > -1).sum(1).cpu()
    scores, classes = class_scores.float().cpu().max(-1)
    scores = scores * (above / nonneg.clamp(min=1))
    old_things = set(thing_segments)
    for k in range(n_ent):
        if obj_ids[k] not in old_things and not thing[k]:
            scores[k] *= 0.75
    ids_maps, area, orig = [], torch.zeros(n_ent), torch.zeros(n_ent)
    for j in range(num_frames):
        x = frame_logits(j).float()
        sig = x.sigmoid()
        ids = (scores.to(x)[:, None, None] * x).argmax(0)
        ids[(sig < 0.5).all(0)] = -1
        fg = (sig >= 0.5)
        won = fg.gather(0, ids.clamp(min=0)[None])[0] & (ids >= 0)
        area += torch.bincount(ids[ids >= 0].flatten().cpu(), minlength=n_ent)[:n_ent].float()
        orig += fg.flatten(1).sum(1).cpu().float()
        ids_maps.append((ids.cpu(), won.cpu()))
    over = torch.zeros(n_ent)
    for ids, won in ids_maps:
        over += torch.bincount(ids[won].flatten(), minlength=n_ent)[:n_ent].float()
    used = list(thing_segments.values()) + list(stuff_segments.values())
    current = max(used) + 1 if used else 0
    seg_of = {}
    for k in range(n_ent):
        if not (area[k] > 0 and orig[k] > 0 and over[k] > 0):
            continue
        thr = 0.5 * overlap_threshold if obj_ids[k] in old_things else overlap_threshold
        if thing[k] and float(area[k] / orig[k]) < thr:
            continue
        if not thing[k]:
            c = int(classes[k])
            if c not in stuff_segments:
                current += 1
                stuff_segments[c] = current
            seg_of[k] = stuff_segments[c]
        else:
            if obj_ids[k] not in thing_segments:
                current += 1
                thing_segments[obj_ids[k]] = current
            seg_of[k] = thing_segments[obj_ids[k]]
    lut = torch.zeros(n_ent + 1, dtype=torch.int32)
    for k, sid in seg_of.items():
        lut[k + 1] = sid
    return [torch.where(won, lut[ids + 1], torch.zeros_like(lut[ids + 1])) for ids, won in ids_maps]


def resample_operator(small: int, big: int) -> Tensor:
    """(small, small) matrix M with x -> M x equal to bilinear up-sampling a length-``small`` axis to
    ``big`` and back (align_corners False, no antialias): the official path stores accumulated
    mask logits at the input size and compares them with predictions at 1/4 size after a
    bilinear down-sampling."""
    eye = torch.eye(small)[None]
    up = F.interpolate(eye, size=big, mode="linear", align_corners=False)
    return F.interpolate(up, size=small, mode="linear", align_corners=False)[0]


# ---------------------------------------------------------------------- decoder pass
@dataclass
class PromptBatch:
    """Prompt queries of one clip: content and position (P, C) or (P, T, C), dense ProCA keys
    (P, L, C) with positions (or None) and a padding mask (P, L) (True = blank slot)."""

    content: Tensor
    qpos: Tensor
    dense: Tensor
    dense_pe: Tensor | None = None
    pad: Tensor | None = None
    sentence: Tensor | None = None   # (1, E, D) for expressions

    def __len__(self) -> int:
        return self.content.shape[0]


def _per_frame(x: Tensor, t: int) -> Tensor:
    """(P, C) -> (P, T, C); (P, T, C) unchanged."""
    return x[:, None].expand(-1, t, -1) if x.dim() == 2 else x


def _proca(dec, i: int, output: Tensor, query_embed: Tensor, dense: Tensor,
           dense_pe: Tensor | None, pad: Tensor | None) -> Tensor:
    """ProCA layer ``i`` (as ``VideoMaskDecoder.prompt_cross_attention``) with blank pool
    slots masked out of the keys."""
    nq = dec.num_queries
    out_l, out_p = output[:nq], output[nq:]
    n_p, bt, c = out_p.shape
    keys = torch.cat([out_p[:, None], dense], 1).transpose(0, 1).flatten(1, 2)  # 1+L, P*BT, C
    if dense_pe is not None:
        qpos_p = query_embed[nq:]
        key_pos = torch.cat([qpos_p[:, None], dense_pe], 1).transpose(0, 1).flatten(1, 2)
        query_pos = qpos_p.flatten(0, 1)[None]
    else:
        key_pos = query_pos = None
    mask = None
    if pad is not None and bool(pad.any()):
        m = torch.cat([torch.zeros_like(pad[:, :1]), pad], 1)  # P, 1+L
        m = m[:, None, None, :].expand(-1, bt, dec.num_heads, -1).reshape(-1, 1, m.shape[1])
        mask = m.to(output.device)
    q = dec.transformer_prompt_self_attention_layers[i](
        out_p.flatten(0, 1)[None], keys, memory_mask=mask, pos=key_pos, query_pos=query_pos)
    return torch.cat([out_l, q[0].view(n_p, bt, c)])


def flatten_levels(dec, features: list[Tensor], frame_indices: Tensor):
    """The decoder's view of a clip's three levels (T, C, h, w): tokens with level embedding
    (hw, T, C), their 3D positions at the absolute ``frame_indices`` and the level sizes."""
    t = int(frame_indices.numel())
    fidx = frame_indices.view(1, t).to(features[0].device)
    src, pos, sizes = [], [], []
    for i, x in enumerate(features):
        h, w = x.shape[-2:]
        sizes.append((h, w))
        p = dec.pe_layer(x.view(1, t, -1, h, w), fidx)
        pos.append(p.flatten(3).flatten(0, 1).permute(2, 0, 1))
        src.append((x.flatten(2) + dec.level_embed.weight[i][None, :, None]).permute(2, 0, 1))
    return src, pos, sizes


@torch.no_grad()
def decode_clip(dec, features: list[Tensor], mask_features: Tensor, frame_indices: Tensor,
                prompts: PromptBatch | None = None, task: str = "detection",
                proca: bool = True, extra_keys: tuple[Tensor, Tensor] | None = None,
                self_attn_mask_type: str | None = None) -> dict:
    """One pass of the UniVS decoder over a clip (batch 1) with given prompt queries.

    Same computation as ``VideoMaskDecoder.forward`` in eval mode, except that prompt queries
    come ready-made (from memory pools), ProCA can be switched off, and ``extra_keys``
    ((L, C) tokens, (L, C) positions) may be appended, unmasked, to every masked
    cross-attention (prompts as keys); ``self_attn_mask_type`` overrides the decoder's
    ('sep-blocked' for the Swin-L PVOS stage-3 run). Returns the last prediction: ``pred_logits`` (Q, K),
    ``pred_masks`` (Q, T, H/4, W/4), ``pred_embds`` (Q, T, C), ``num_prompts``.
    """
    t = int(frame_indices.numel())
    b, bt = 1, mask_features.shape[0]
    mf = mask_features.view(b, t, *mask_features.shape[1:])
    src, pos, sizes = flatten_levels(dec, features, frame_indices)
    nq = dec.num_queries
    query_embed = dec.query_embed.weight[:, None].repeat(1, bt, 1)
    output = dec.query_feat.weight[:, None].repeat(1, bt, 1)
    dense = dense_pe = pad = sentence = None
    if prompts is not None and len(prompts):
        content = _per_frame(prompts.content, t)
        qpos = _per_frame(prompts.qpos, t)
        dense = prompts.dense if prompts.dense.dim() == 4 else prompts.dense[:, :, None].expand(-1, -1, t, -1)
        if prompts.dense_pe is not None:
            dense_pe = (prompts.dense_pe if prompts.dense_pe.dim() == 4
                        else prompts.dense_pe[:, :, None].expand(-1, -1, t, -1))
        pad, sentence = prompts.pad, prompts.sentence
        output = torch.cat([output, content])
        query_embed = torch.cat([query_embed, qpos])
        if proca:
            output = _proca(dec, 0, output, query_embed, dense, dense_pe, pad)
            query_embed = torch.cat([query_embed[:nq], output[nq:]])
    if task == "grounding" and sentence is None:
        raise ValueError("grounding needs expression prompts")
    num_prompt = output.shape[0] - nq
    ek = None
    if extra_keys is not None and extra_keys[0].shape[0]:
        ek = (extra_keys[0][:, None].expand(-1, bt, -1), extra_keys[1][:, None].expand(-1, bt, -1))

    pred = dec.prediction_heads(output, mf, sizes[0], b, t, task, sentence)
    attn_mask = pred[2]
    self_mask = dec.self_attn_mask(b, t, num_prompt, task, output.device, mask_type=self_attn_mask_type)
    for i in range(dec.num_layers):
        attn_mask = attn_mask.clone()
        attn_mask[attn_mask.all(-1)] = False
        if proca and dense is not None and 0 < i < dec.prompt_layers:
            output = _proca(dec, i, output, query_embed, dense, dense_pe, pad)
        level = i % dec.num_feature_levels
        mem, mpos = src[level], pos[level]
        if ek is not None:
            mem, mpos = torch.cat([mem, ek[0]]), torch.cat([mpos, ek[1]])
            attn_mask = torch.cat([attn_mask, attn_mask.new_zeros(*attn_mask.shape[:2], ek[0].shape[0])], -1)
        output = dec.transformer_cross_attention_layers[i](output, mem, memory_mask=attn_mask,
                                                           pos=mpos, query_pos=query_embed)
        q = output.shape[0]
        out_qt = output.view(q, b, t, -1).permute(0, 2, 1, 3).reshape(q * t, b, -1)
        pos_qt = query_embed.view(q, b, t, -1).permute(0, 2, 1, 3).reshape(q * t, b, -1)
        out_qt = dec.transformer_self_attention_layers[i](out_qt, attn_mask=self_mask, query_pos=pos_qt)
        output = out_qt.view(q, t, b, -1).permute(0, 2, 1, 3).reshape(q, b * t, -1)
        output = dec.transformer_ffn_layers[i](output)
        pred = dec.prediction_heads(output, mf, sizes[(i + 1) % dec.num_feature_levels], b, t, task, sentence)
        attn_mask = pred[2]
    return {"pred_logits": pred[0][0], "pred_masks": pred[1][0], "pred_embds": pred[4][0],
            "num_prompts": num_prompt}


# ---------------------------------------------------------------------- targets
@dataclass
class Target:
    """A tracked target: its row of the video's prompt slot buffer, stored embeddings, class
    scores, output masks."""

    id: int
    first_frame: int
    embeds: deque
    category: int | None = None          # fixed category (VOS prompts) or None
    prompt_id: str | None = None
    logit_sum: Tensor | None = None      # running class scores (official running average)
    logit_n: int = 0
    quality_sum: float = 0.0
    quality_n: int = 0
    row: int = -1                        # row in the video's PromptSlotBuffer (-1: none yet)
    first_index: int = -1                # official first_appear_frame_idxs (buffer tensor index)
    masks: dict = field(default_factory=dict)   # frame -> RLE (output)
    obj_id: int | None = None            # the prompt's target id (VOS-like tasks)
    # VIS/VPS entities (official per-clip slots): the current class slot, the sum of all class
    # slots since the first clip, the class means written at each output window (VIS), and the
    # final tube class scores and mask-quality factor (VIS, set when the video ends)
    cls_slot: Tensor | None = None
    cls_total: Tensor | None = None
    window_scores: list = field(default_factory=list)
    tube_scores: Tensor | None = None
    quality_factor: float | None = None
    # VIS/VPS entities: frame -> official stored box (4,) normalised xyxy (``targets['boxes']``);
    # a frame without one holds the official zero box
    boxes: dict = field(default_factory=dict)


def _update_slot(slots: deque, embd: Tensor) -> None:
    """Official running average of the current embedding slot with an accepted prediction's clip
    embedding: (slot + e) / 2, or e when the slot is blank."""
    last = slots[-1]
    slots[-1] = (last + embd) / (float(bool((last != 0).any())) + 1.0)


class FeatureCache:
    """Per-frame backbone + pixel-decoder features, kept only while a clip needs them."""

    def __init__(self, extract: Callable[[Tensor], tuple], load: Callable[[int], Tensor]):
        self.extract, self.load = extract, load
        self.frames: dict[int, tuple] = {}

    def get(self, idx: list[int]):
        missing = [f for f in idx if f not in self.frames]
        if missing:
            x = torch.stack([self.load(f) for f in missing])  # T, 3, H, W
            mask_feats, levels = self.extract(x)
            for j, f in enumerate(missing):
                self.frames[f] = (mask_feats[j], [lv[j] for lv in levels])
        mf = torch.stack([self.frames[f][0] for f in idx])
        levels = [torch.stack([self.frames[f][1][i] for f in idx]) for i in range(len(self.frames[idx[0]][1]))]
        return mf, levels

    def drop_before(self, first: int) -> None:
        for f in [f for f in self.frames if f < first]:
            del self.frames[f]

    def nbytes(self) -> int:
        return sum(mf.nelement() * mf.element_size() + sum(x.nelement() * x.element_size() for x in lv)
                   for mf, lv in self.frames.values())


def resize_uint8(img: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """uint8 (H, W[, C]) -> ``size`` (h, w) with PIL bilinear (antialiased when shrinking) or
    nearest: detectron2 ``ResizeTransform.apply_image`` / ``apply_segmentation`` on uint8."""
    from PIL import Image
    interp = Image.NEAREST if nearest else Image.BILINEAR
    return np.asarray(Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8)).resize((size[1], size[0]), interp))


def clip_starts(n: int, length: int, stride: int) -> list[int]:
    """Start frames of the clips covering ``n`` frames (the last clip ends at the last frame)."""
    length = min(length, n)
    starts = list(range(0, max(n - length, 0) + 1, stride))
    if starts[-1] + length < n:
        starts.append(n - length)
    return starts


# ---------------------------------------------------------------------- the engine
@dataclass
class VideoInput:
    """What the engine needs of a video: size, frame count, a frame loader (index -> uint8
    (H, W, 3) array) and, per task, prompts: ``objects`` = [dict(id, frame, region (H, W)
    bool, kind, category, prompt_id)] for VOS-like tasks, ``expressions`` = [dict(prompt_id,
    text)] for RefVOS; ``thing_classes`` (set of model class indices that are things) for VPS."""

    height: int
    width: int
    num_frames: int
    load: Callable[[int], np.ndarray]
    objects: list = field(default_factory=list)
    expressions: list = field(default_factory=list)
    thing_classes: set | None = None
    class_subset: Tensor | None = None   # model class indices of the benchmark's categories
    # frames already normalised and padded (the data preprocessor's output): their unpadded
    # and padded sizes; ``load`` then returns (3, Hp, Wp) tensors
    input_size: tuple | None = None
    padded_size: tuple | None = None


class StreamingInference:
    """Clip-by-clip UniVS inference over one video; see the module docstring.

    ``run(video, task)`` with task in vis, vss, vps, vos, pvos, refvos returns a dict:
    ``targets`` (list of :class:`Target` with RLE masks per frame, class scores) for
    vis/vos/pvos/refvos, ``segments`` (VPS: id, class index, isthing, {frame: RLE}) or
    ``semantic`` (VSS: {class index: {frame: RLE}}), and ``stats`` (peak state sizes).

    Example::

        engine = StreamingInference(model, InferenceConfig(clip_length=5, tracker='vs2p'))
        out = engine.run(VideoInput(h, w, n, load=read_frame), 'vis')
    """

    def __init__(self, model, cfg: InferenceConfig | None = None, text_features=None):
        self.model = model
        self.cfg = cfg or InferenceConfig()
        self.dec = model.sem_seg_head.predictor
        self.text_features = text_features
        dp = model.data_preprocessor
        self.mean, self.std = dp.mean.view(3, 1, 1), dp.std.view(3, 1, 1)
        self.size_div = max(int(getattr(dp, "size_divisibility", 32)), 1)
        num_points = self.cfg.prompt_points or self.dec.visual_prompt_sampler.num_points
        self.sampler = VisualPromptSampler(num_points, stride=8, sampling=self.cfg.prompt_sampling)
        self.generator = torch.Generator().manual_seed(self.cfg.prompt_seed)
        self.stats: dict = {}

    @property
    def device(self):
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ geometry
    def _geometry(self, h: int, w: int):
        """(resized, padded) sizes: detectron2 ``ResizeShortestEdge`` (short side
        ``test_size``, long side <= ``max_size``, or <= min(max_size, square_size) in square
        mode; sizes rounded with int(x + 0.5)), then zero padding to a multiple of the size
        divisibility, or to ``square_size`` x ``square_size`` (``ImageList.from_tensors`` with
        ``square_size``: LSJ_AUG.SQUARE_ENABLED, the Swin-B runs)."""
        s, sq = self.cfg.test_size, self.cfg.square_size
        if s:
            max_size = min(self.cfg.max_size, sq) if sq else self.cfg.max_size
            scale = s / min(h, w)
            nh, nw = (s, scale * w) if h < w else (scale * h, s)
            if max(nh, nw) > max_size:
                scale = max_size / max(nh, nw)
                nh, nw = nh * scale, nw * scale
            rh, rw = int(nh + 0.5), int(nw + 0.5)
        else:
            rh, rw = h, w
        d = self.size_div
        if sq:
            return (rh, rw), (-(-max(sq, rh) // d) * d, -(-max(sq, rw) // d) * d)
        return (rh, rw), (-(-rh // d) * d, -(-rw // d) * d)

    def _load(self, video: VideoInput, f: int) -> Tensor:
        if video.padded_size is not None:
            return torch.as_tensor(video.load(f), device=self.device).float()
        img = np.asarray(video.load(f))
        if tuple(img.shape[:2]) != self.resized:
            img = resize_uint8(img, self.resized, nearest=False)
        x = torch.from_numpy(np.array(img, dtype=np.uint8)).to(self.device).permute(2, 0, 1).float()
        x = (x - self.mean.to(x)) / self.std.to(x)
        return F.pad(x, (0, self.padded[1] - x.shape[-1], 0, self.padded[0] - x.shape[-2]))

    def _extract(self, x: Tensor):
        mf, levels = self.model.extract_feat(x[None])
        return mf, levels

    def _region_to_input(self, region: np.ndarray | Tensor) -> Tensor:
        """Original-resolution bool region -> (Hp, Wp) bool at the padded input size (PIL
        nearest on uint8, as detectron2's ``apply_segmentation``)."""
        r = np.asarray(region.cpu() if isinstance(region, Tensor) else region).astype(np.uint8)
        if tuple(r.shape) != self.resized:
            r = resize_uint8(r, self.resized, nearest=True)
        r = torch.from_numpy(np.ascontiguousarray(r)).to(self.device).float()
        return F.pad(r, (0, self.padded[1] - r.shape[1], 0, self.padded[0] - r.shape[0])) > 0.5

    def _region_box(self, region) -> Tensor:
        """Normalised box of an original-resolution prompt region as the official GT box:
        the annotation's x1, y1, x2 + 1, y2 + 1 scaled to the resized frame, over the padded
        size (``write_targets_into_annotations_per_clip``)."""
        r = np.asarray(region.cpu() if isinstance(region, Tensor) else region)
        ys, xs = np.nonzero(r)
        if ys.size == 0:
            return torch.zeros(4, device=self.device)
        sy, sx = self.resized[0] / r.shape[0], self.resized[1] / r.shape[1]
        hp, wp = self.padded
        return torch.tensor([xs.min() * sx / wp, ys.min() * sy / hp, (xs.max() + 1) * sx / wp,
                             (ys.max() + 1) * sy / hp], dtype=torch.float32, device=self.device)

    def _to_input(self, logits: Tensor) -> Tensor:
        """(N, h4, w4) logits -> (N, Hp, Wp) logits."""
        return F.interpolate(logits[None].float(), size=self.padded, mode="bilinear", align_corners=False)[0]

    def _to_output(self, logits: Tensor) -> Tensor:
        """(N, h4, w4) logits -> (N, H, W) bool masks at the original resolution."""
        x = self._to_input(logits)[:, :self.resized[0], :self.resized[1]]
        if tuple(x.shape[-2:]) != self.out_size:
            x = F.interpolate(x[None], size=self.out_size, mode="bilinear", align_corners=False)[0]
        return x > 0

    def _down(self, region: Tensor) -> Tensor:
        """(N, Hp, Wp) bool -> (N, h4, w4) bool on the mask-feature grid."""
        return F.interpolate(region[None].float(), size=self.mask_size, mode="nearest")[0] > 0.5

    # ------------------------------------------------------------------ pools
    def _tokens(self, levels: list[Tensor], frame_pos: int, frame_index: int, regions: Tensor,
                kinds: list[str], boxes: Tensor | None = None,
                point_index: int | None = None) -> tuple[Tensor, Tensor]:
        """Prompt tokens (P, R, C) and positions of ``regions`` (P, Hp, Wp) on one frame of the clip,
        sampled from the decoder's 1/8 level (with level embedding and the clip's 3D position)."""
        x = levels[-1]  # T, C, h, w
        t = x.shape[0]
        clip_idx = torch.arange(t, device=x.device)[None] + (frame_index - frame_pos)
        allpos = self.dec.pe_layer((x + self.dec.level_embed.weight[len(levels) - 1][None, :, None, None])[None],
                                   clip_idx)
        x = x[frame_pos:frame_pos + 1]
        feats = (x + self.dec.level_embed.weight[len(levels) - 1][None, :, None, None])[None]
        pos = allpos[:, frame_pos:frame_pos + 1]
        out = self.sampler.encode(feats, pos, self.dec.pe_layer,
                                  [{"regions": regions, "kinds": kinds, "key_frame": 0,
                                    "frame_indices": [frame_index], "boxes": boxes,
                                    "clip_pos": (frame_pos, self.cfg.clip_length),
                                    "point_index": point_index}], 1, training=False,
                                  generator=self.generator)
        if out is None:
            c = x.shape[1]
            return x.new_zeros(0, self.sampler.num_points, c), x.new_zeros(0, self.sampler.num_points, c)
        tok, pe, _ = out
        return tok[:, :, 0], pe[:, :, 0]

    def _prompt_batch(self, state, targets: list[Target], t: int) -> PromptBatch | None:
        """Official prompt queries of ``targets`` for a ``t``-frame clip: per frame the mean
        token of that frame's slot + ``prompt_sot``; ProCA keys = first-appearance slot + the
        last max(k, T) slots, blank slots included (no key mask)."""
        if not targets:
            return None
        buf = state.prompts
        rows = torch.tensor([x.row for x in targets], dtype=torch.long)
        content, qpos = buf.frame_queries(t, rows)
        dense, dense_pe = buf.keys(torch.tensor([x.first_index for x in targets]), rows)
        content = content + self.dec.prompt_sot.weight.view(1, 1, -1)
        return PromptBatch(content=content, qpos=qpos, dense=dense, dense_pe=dense_pe)

    def _pool_keys(self, state, targets: list[Target]):
        """Every target's ProCA keys, concatenated (the prompts-as-keys ablation)."""
        if not targets:
            return None
        rows = torch.tensor([x.row for x in targets], dtype=torch.long)
        tok, pe = state.prompts.keys(torch.tensor([x.first_index for x in targets]), rows)
        return tok.flatten(0, 1), pe.flatten(0, 1)

    def _sample_rows(self, levels, frame_pos: int, frame_index: int, regions: Tensor,
                     boxes: Tensor | None = None, point_index: int | None = None):
        """Tokens (N, R, C), positions and validity (N,) of padded-size ``regions`` (N, Hp, Wp)
        on frame ``frame_pos`` of the clip (official ``get_mask_prompt``; empty -> blank;
        ``boxes`` (N, 4) normalised: the stored boxes the official point choice uses)."""
        tok, pe = self._tokens(levels, frame_pos, frame_index, regions, ["mask"] * regions.shape[0], boxes,
                               point_index)
        return tok, pe, regions.flatten(1).any(1)

    def _update_prompts(self, state, targets: list[Target], levels, frames: list[int],
                        masks_at: Callable[[int], Tensor | None],
                        boxes_at: Callable[[int], Tensor | None] | None = None) -> None:
        """The official per-clip update of the prompt slot buffer (``process_per_video_inference``)
        for ``targets`` (rows in buffer order), ``masks_at(frame)`` giving their current binary
        masks (N, Hp, Wp) at the padded input size (None: none stored).

        First clip of the video (frame 0): every slot <- frame 0's tokens. A buffer created
        later (entities first prompted after clip 0): T + stride blank slots, the previous
        frames' slots sampled from their masks on the *current* clip's first frames' features
        (official quirk of ``process_per_video_inference_prev_frame``) for targets that existed
        then. Then (not first clip) one blank slot per stride and the clip's first T - stride
        frames re-sampled, each non-empty mask overwriting its slot and all later ones.
        """
        cfg, buf = self.cfg, state.prompts
        t, stride = len(frames), min(cfg.clip_stride, len(frames))
        n = len(targets)
        boxes_at = boxes_at or (lambda f: None)
        if frames[0] == 0:
            m = masks_at(0)
            m = m if m is not None else torch.zeros(n, *self.padded, dtype=torch.bool, device=self.device)
            tok, pe, _ = self._sample_rows(levels, 0, 0, m, boxes_at(0))
            buf.fill(tok, pe, start=0)
            return
        if buf.tokens is None:
            c = self.dec.hidden_dim
            buf.create(n, self.sampler.num_points, c, t + stride, start=frames[0] - stride, device=self.device)
            for key in range(stride):
                f = frames[0] - stride + key
                m = masks_at(f)
                if m is None:
                    continue
                has = torch.tensor([x.first_frame <= frames[0] - 1 for x in targets], device=self.device)
                bx = boxes_at(f)
                # official key_fid_original = frames[0] - stride + key: the cell-less point's code
                # takes the mask's own frame, the features and their codes the current clip's
                tok, pe, _ = self._sample_rows(levels, key, frames[0] + key, m[has],
                                               None if bx is None else bx[has], point_index=f)
                buf.write_slot(key, tok, pe, has)
        else:
            buf.pad(stride)
        buf.add_targets(n - buf.num_targets)
        for key in range(t - stride):
            m = masks_at(frames[key])
            if m is None:
                continue
            tok, pe, valid = self._sample_rows(levels, key, frames[key], m, boxes_at(frames[key]))
            if bool(valid.any()):
                buf.write_from(-t + key, tok, pe, valid)

    # ------------------------------------------------------------------ main loop
    @torch.no_grad()
    def run(self, video: VideoInput, task: str) -> dict:
        pe = self.dec.pe_layer
        saved = pe.fixed_t
        pe.fixed_t = self.cfg.temporal_code == "fixed"
        try:
            return self._run(video, task)
        finally:
            pe.fixed_t = saved

    def _run(self, video: VideoInput, task: str) -> dict:
        cfg = self.cfg
        self.model.eval()
        if video.padded_size is not None:
            self.resized = tuple(video.input_size or video.padded_size)
            self.padded = tuple(video.padded_size)
        else:
            self.resized, self.padded = self._geometry(video.height, video.width)
        self.mask_size = (self.padded[0] // 4, self.padded[1] // 4)
        self.out_size = (video.height, video.width)
        n = video.num_frames
        length = min(cfg.clip_length, n)
        if task == "vss":
            # official: non-overlapping clips, the last one truncated at the video end
            starts = list(range(0, n, length))
        else:
            stride = min(cfg.clip_stride, length)
            starts = clip_starts(n, length, stride)
        windows = output_windows(starts, n, length, cfg.num_prev_frames_memory) if task in ("vis", "vps") else {}
        self._roundtrip = None
        cache = FeatureCache(self._extract, lambda f: self._load(video, f))
        self.stats = {"max_pool_len": 0, "max_cached_frames": 0, "max_pending_frames": 0,
                      "max_state_bytes": 0, "clips": len(starts), "proca_calls": 0}
        state = _VideoState(task=task, video=video)
        state.prompts = PromptSlotBuffer(cfg.num_prev_frames_memory, cfg.clip_length)
        for ci, s in enumerate(starts):
            idx = list(range(s, min(s + length, n)))
            mf, levels = cache.get(idx)
            fidx = torch.tensor(idx, device=self.device)
            next_start = starts[ci + 1] if ci + 1 < len(starts) else n
            if task == "vss":
                self._clip_vss(state, mf, levels, fidx)
            elif task == "refvos":
                self._clip_refvos(state, mf, levels, fidx)
            elif task in ("vos", "pvos"):
                self._clip_vos(state, mf, levels, fidx, ci, is_last=ci == len(starts) - 1)
            elif task in ("vis", "vps"):
                self._clip_entities(state, mf, levels, fidx, ci)
            else:
                raise ValueError(f"unknown task {task!r}")
            if state.prompts.tokens is not None:
                state.prompts.trim(torch.tensor([t.first_index for t in state.all_targets], dtype=torch.long))
            self.stats["max_cached_frames"] = max(self.stats["max_cached_frames"], len(cache.frames))
            self.stats["max_pending_frames"] = max(self.stats["max_pending_frames"], len(state.pending))
            if task not in ("vss", "vos", "pvos"):
                for f in range(s, next_start):
                    self._finalize(state, f, levels, idx, task)
            if s in windows:
                self._write_window(state, *windows[s])
            if len(state.prompts):
                self.stats["max_pool_len"] = max(self.stats["max_pool_len"],
                                                 1 + min(state.prompts.memory, len(state.prompts)))
            self.stats["max_state_bytes"] = max(self.stats["max_state_bytes"],
                                                cache.nbytes() + state.nbytes())
            cache.drop_before(next_start)
        if task == "vis":
            _finish_vis(state)
        elif task == "vps":
            state.relabel_things(self._class_mean)
        return state.result()

    def _write_window(self, state, first: int, end: int) -> None:
        """Official step 3 at an output clip: VIS records every entity's class mean; VPS assembles
        the window's panoptic frames from the held summed logits of every entity."""
        if state.task == "vis":
            for t in state.targets:
                t.window_scores.append(self._class_mean(state, t).cpu())
            return
        ents = list(state.targets)
        frames = list(range(first, end))
        zeros = torch.zeros(self.mask_size, device=self.device)

        def frame_logits(j):
            held = state.hold.get(frames[j], {})
            x = torch.stack([held.get(t.id, zeros) for t in ents]) if ents else zeros[None][:0]
            x = self._input_frames(x)
            if tuple(x.shape[-2:]) != self.out_size:
                x = F.interpolate(x[None], size=self.out_size, mode="bilinear", align_corners=False)[0]
            return x

        things = state.video.thing_classes or set()
        cls = torch.stack([self._class_mean(state, t) for t in ents]) if ents else torch.zeros(0, 1)
        thing = [int(c) in things for c in cls.argmax(-1).tolist()] if ents else []
        maps = panoptic_window(frame_logits, len(frames), cls, thing, [t.id for t in ents],
                               state.thing_segments, state.stuff_segments, self.cfg.overlap_threshold)
        for f, m in zip(frames, maps):
            state.hold.pop(f, None)
            if m is not None:
                state.panoptic_frame(f, m)

    # ------------------------------------------------------------------ accumulation
    def _accumulate(self, state, target_id: int, frames: list[int], logits: Tensor) -> None:
        for j, f in enumerate(frames):
            buf = state.pending.setdefault(f, {})
            if target_id in buf:
                s, c = buf[target_id]
                buf[target_id] = (s + logits[j], c + 1)
            else:
                buf[target_id] = (logits[j].clone(), 1)

    def _new_target(self, state, first_frame: int, **kw) -> Target:
        t = Target(id=len(state.all_targets) + 1, first_frame=first_frame,
                   embeds=deque(maxlen=max(self.cfg.num_prev_frames_memory, 3)), **kw)
        t.row = len(state.all_targets)
        t.first_index = first_frame
        state.all_targets.append(t)
        state.targets.append(t)
        return t

    # ------------------------------------------------------------------ category tasks
    def _clip_entities(self, state, mf, levels, fidx, ci: int) -> None:
        """One clip of VIS/VPS (official ``InferenceVideoEntity.inference_video`` steps 1-2).

        Per entity the official per-clip slots are kept: class scores (one slot per clip since
        the first clip, zeros before the entity's birth; the tube/panoptic class is their mean)
        and embeddings (slot of the clip = mean of the last 3 slots, then running-averaged with
        each accepted prediction's clip embedding). Order per clip: prompt predictions
        (consistency, VIS overlap rule), then learnable queries (first clip: detection; later
        clips: bi-softmax matching, then new entities).
        """
        cfg, task = self.cfg, state.task
        frames = fidx.tolist()
        if ci > 0:
            self._pad_slots(state)
        use_prompts = cfg.tracker == "vs2p" and cfg.prompt_as_queries
        prompted = list(state.targets) if cfg.tracker == "vs2p" else []
        for t in state.all_targets:
            # the prompt update reads boxes of the clip's frames and of the stride frames before
            for f in [f for f in t.boxes if f < frames[0] - cfg.clip_stride]:
                del t.boxes[f]
        if prompted:
            self._update_prompts(state, state.all_targets, levels, frames,
                                 lambda f: self._entity_masks_at(state, f),
                                 lambda f: self._entity_boxes_at(state, f))
        prompts = self._prompt_batch(state, prompted, len(frames)) if use_prompts else None
        extra = self._pool_keys(state, prompted) if (cfg.tracker == "vs2p" and not cfg.prompt_as_queries) else None
        out = decode_clip(self.dec, levels, mf, fidx, prompts, "detection", proca=cfg.proca, extra_keys=extra)
        if prompts is not None and cfg.proca:
            self.stats["proca_calls"] += 1
        nq = self.dec.num_queries
        logits = self._class_probs(out["pred_logits"], state)
        masks, embds = out["pred_masks"], out["pred_embds"]
        lq_logits, lq_masks, lq_embds = logits[:nq], masks[:nq], embds[:nq]

        # step 1: prompt-specified targets (official write_prompt_predictions_into_annotations_per_clip)
        if prompts is not None and len(prompted):
            p_masks, p_embds = masks[nq:], embds[nq:]
            n_cons = max(int(cfg.num_prev_frames_memory / cfg.clip_stride), 3)
            stored = stored_embeds(prompted, n_cons, p_embds.shape[-1], p_embds.device)
            sim = consistency_similarity(stored, p_embds)
            thr = cfg.consistency_threshold * (0.5 if frames[0] < cfg.clip_length else 1.0)
            ok = sim > thr
            # quality (and the VIS overlap rule) on the masks at the input size, padding cropped
            q = self._input_quality(p_masks)
            if task == "vis":
                cls = torch.stack([self._class_mean(state, t).max() for t in prompted]).to(q)
                ok = ok & self._overlap_keep(p_masks, cls * sim.to(q) * q)
            for i in torch.nonzero(ok).flatten().tolist():
                t = prompted[i]
                self._accumulate(state, t.id, frames, p_masks[i])
                self._box_from_accumulated(state, t, frames)
                _update_slot(t.embeds, p_embds[i].mean(0))
                t.quality_sum += float(q[i])
                t.quality_n += 1

        # step 2: learnable queries (official detect_newly_entities_per_clip_{instance,pixel})
        qual = mask_quality(lq_masks)
        score = lq_logits * qual[:, None]
        first_clip = ci == 0
        if task == "vps":
            keep = self._vps_candidates(state, score, lq_masks) if first_clip else torch.arange(nq)
        else:
            keep = torch.arange(nq, device=score.device)
            if cfg.stability_threshold > 0:
                keep = keep[qual[keep] > cfg.stability_threshold]
            keep = keep[score[keep].amax(-1).argsort(descending=True)[:cfg.topk]]
            if len(keep) > 1:
                keep = keep[video_box_nms(lq_masks[keep], score[keep].amax(-1), cfg.box_nms_threshold)]
        keep = keep.to(score.device)
        if first_clip:
            # official quirk (kept): only the first clip may create entities without the IoU test;
            # if it creates none, none is ever created (the IoU test needs a stored entity)
            thr = max(cfg.score_threshold, 0.1) if task == "vis" else cfg.score_threshold
            new = [int(k) for k in keep if float(score[k].max()) > thr]
        else:
            stored = stored_embeds(state.targets, 3, lq_embds.shape[-1], lq_embds.device)
            match = bisoftmax_match if cfg.tracker == "vs2p" else cosine_match
            mthr = cfg.newly_threshold if cfg.tracker == "vs2p" else cfg.similarity_threshold
            rows, cols, sims = match(stored, lq_embds[keep], mthr)
            # VIS adds masks only for matches above twice the threshold; VPS for every match
            mask_thr = mthr if (task == "vps" or cfg.tracker == "similarity" or not cfg.prompt_as_queries) \
                else 2 * mthr
            masked = set()
            for r, c_, sv in zip(rows.tolist(), cols.tolist(), sims.tolist()):
                t, k = state.targets[r], int(keep[c_])
                t.cls_total = t.cls_total - t.cls_slot
                t.cls_slot = 0.5 * (t.cls_slot + score[k])
                t.cls_total = t.cls_total + t.cls_slot
                _update_slot(t.embeds, lq_embds[k].mean(0))
                if sv > mask_thr:
                    masked.add(k)
                    self._accumulate(state, t.id, frames, lq_masks[k])
                    t.quality_sum += float(qual[k])
                    t.quality_n += 1
            # official quirk (kept, VIS): a query matched only between thr and 2 thr is still a
            # candidate (the matched set is re-bound to the > 2 thr matches before this test)
            excluded = masked if task == "vis" else {int(keep[c_]) for c_ in cols.tolist()}
            thr = cfg.score_threshold * (2 if task == "vps" else 1)
            cand = [int(k) for k in keep if int(k) not in excluded and float(score[k].max()) > thr]
            new = []
            if cand and state.targets:
                cur = self._stored_masks_small(state, state.targets, frames)
                iou = mask_iou_per_frame(lq_masks[cand] > 0, cur)
                new = [k for j, k in enumerate(cand) if float(iou[j].max()) < cfg.new_object_iou]
        if cfg.max_entities is not None:
            new = new[:max(cfg.max_entities - len(state.all_targets), 0)]
        n_slots_before = state.num_slots - 1
        for k in new:
            t = self._new_target(state, frames[0])
            t.embeds = deque([torch.zeros_like(lq_embds[k][0])] * min(n_slots_before, self._emb_slots() - 1),
                             maxlen=self._emb_slots())
            t.embeds.append(lq_embds[k].mean(0))
            t.cls_slot, t.cls_total = score[k].clone(), score[k].clone()
            t.quality_sum, t.quality_n = float(qual[k]), 1
            self._accumulate(state, t.id, frames, lq_masks[k])
            h4, w4 = lq_masks.shape[-2:]
            bx = mask_boxes_inclusive(lq_masks[k] > 0) / torch.tensor([w4, h4, w4, h4], device=lq_masks.device)
            t.boxes.update({f: bx[j] for j, f in enumerate(frames)})
        for t in state.targets:
            t.logit_sum = self._class_mean(state, t)

    def _emb_slots(self) -> int:
        return max(int(self.cfg.num_prev_frames_memory / self.cfg.clip_stride), 3)

    @staticmethod
    def _class_mean(state, t: Target) -> Tensor:
        """Mean of the entity's class slots over every clip so far (zeros before its birth)."""
        return t.cls_total / state.num_slots

    def _pad_slots(self, state) -> None:
        """Official ``pad_zero_annotations_for_next_clip``: a new class slot (copy of the last) and
        a new embedding slot (mean of the last 3) for every entity."""
        state.num_slots += 1
        for t in state.targets:
            t.cls_total = t.cls_total + t.cls_slot
            t.embeds.append(torch.stack(list(t.embeds)[-3:]).mean(0))

    def _box_from_accumulated(self, state, t: Target, frames: list[int]) -> None:
        """Official stored box after an accepted prompt prediction
        (``write_prompt_predictions_into_annotations_per_clip``): per clip frame, the inclusive
        box of the summed logits > 0 at the padded input size, normalised by that size. Matches
        of learnable queries leave the boxes as they are (official)."""
        hp, wp = self.padded
        norm = torch.tensor([wp, hp, wp, hp], dtype=torch.float32, device=self.device)
        for f in frames:
            m = self._to_input(state.pending[f][t.id][0][None])[0] > 0
            t.boxes[f] = mask_boxes_inclusive(m) / norm

    def _entity_boxes_at(self, state, f: int) -> Tensor:
        """Every entity's stored box of frame ``f`` (N, 4) in buffer-row order (official
        ``targets['boxes']``: set at birth from the prediction on the 1/4 grid, rewritten from the
        accumulated masks when a prompt prediction is accepted, zeros for padded frames); the
        official ``select_points_from_box_mask`` takes the point of a mask without a 1/8 cell from
        it."""
        out = torch.zeros(len(state.all_targets), 4, device=self.device)
        for t in state.all_targets:
            if f in t.boxes:
                out[t.row] = t.boxes[f].to(out)
        return out

    def _entity_masks_at(self, state, f: int) -> Tensor | None:
        """Every target's accumulated mask of frame ``f`` (N, Hp, Wp): summed logits upsampled
        to the padded input size, > 0 (official ``targets['masks']``); None if none stored."""
        buf = state.pending.get(f)
        if buf is None and state.last_final is not None and state.last_final[0] == f:
            buf = state.last_final[1]
        if buf is None:
            return None
        n = len(state.all_targets)
        h4, w4 = self.mask_size
        logits = torch.full((n, h4, w4), -1.0, device=self.device)
        for t in state.all_targets:
            if t.id in buf:
                logits[t.row] = buf[t.id][0]
        return self._to_input(logits) > 0

    def _vps_candidates(self, state, score, masks):
        """Official first-clip VPS de-duplication: the top 100 queries by score, split by their
        class into things (top 70, box NMS) and stuff (top 30, first-frame mask IoU < 0.6);
        things first. No stability filter."""
        top = score.amax(-1).argsort(descending=True)[:100]
        things = state.video.thing_classes or set()
        labels = score[top].argmax(-1)
        is_thing = torch.tensor([int(c) in things for c in labels.tolist()], dtype=torch.bool, device=top.device)
        kt, ks = top[is_thing][:70], top[~is_thing][:30]
        if len(kt) > 1:
            kt = kt[video_box_nms(masks[kt], score[kt].amax(-1), self.cfg.box_nms_threshold)]
        if len(ks) > 1:
            m = masks[ks][:, :1] > 0
            iou = mask_iou_per_frame(m, m)
            ks = ks[torch.triu(iou, diagonal=1).amax(0) < 0.6]
        return torch.cat([kt, ks])

    def _input_frames(self, m: Tensor) -> Tensor:
        """(N, h4, w4) logits -> (N, H, W) at the resized input size (padding cropped)."""
        return self._to_input(m)[:, :self.resized[0], :self.resized[1]]

    def _input_quality(self, masks: Tensor) -> Tensor:
        """Mask quality of (N, T, h4, w4) logits over the clip at the input size, padding cropped."""
        above = torch.zeros(masks.shape[0], device=masks.device)
        nonneg = torch.zeros_like(above)
        for j in range(masks.shape[1]):
            x = self._input_frames(masks[:, j]).flatten(1)
            above += (x > 1).sum(1)
            nonneg += (x > -1).sum(1)
        return above / nonneg.clamp(min=1)

    def _overlap_keep(self, masks: Tensor, scores: Tensor) -> Tensor:
        """Official VIS overlap rule among prompted entities over the clip at the input size: a
        pixel goes to the argmax of score x sigmoid (background where every sigmoid < 0.5); an
        entity is kept when more than ``entity_overlap_threshold`` of its own area (> 0.5) is
        won and at least one of its pixels survives."""
        n = masks.shape[0]
        won = torch.zeros(n, device=masks.device)
        orig, over = torch.zeros_like(won), torch.zeros_like(won)
        rng = torch.arange(n, device=masks.device)[:, None]
        for j in range(masks.shape[1]):
            prob = self._input_frames(masks[:, j]).sigmoid().flatten(1)
            ids = (scores[:, None] * prob).argmax(0)
            win = (ids[None] == rng) & ~(prob < 0.5).all(0)[None]
            fg = prob > 0.5
            won += win.sum(1)
            orig += fg.sum(1)
            over += (win & fg).sum(1)
        return (won / orig.clamp(min=1) > self.cfg.entity_overlap_threshold) & (over > 0)

    def _stored_masks_small(self, state, targets: list[Target], frames: list[int]) -> Tensor:
        """Accumulated masks (N, T, h4, w4) as the official new-entity test sees them: logits
        accumulated at the input size, bilinearly down-sampled to 1/4, > 0."""
        if self._roundtrip is None:
            self._roundtrip = (resample_operator(self.mask_size[0], self.padded[0]).to(self.device),
                               resample_operator(self.mask_size[1], self.padded[1]).to(self.device))
        mh, mw = self._roundtrip
        out = torch.zeros(len(targets), len(frames), *self.mask_size, dtype=torch.bool, device=self.device)
        for j, f in enumerate(frames):
            buf = state.pending.get(f, {})
            for i, t in enumerate(targets):
                if t.id in buf:
                    out[i, j] = torch.einsum("hw,hH,wW->HW", buf[t.id][0].float(), mh, mw) > 0
        return out

    def _class_probs(self, logits: Tensor, state) -> Tensor:
        p = logits.float().sigmoid()
        sub = state.video.class_subset
        if sub is not None:
            out = torch.zeros_like(p)
            out[:, sub] = p[:, sub]
            return out
        return p

    # ------------------------------------------------------------------ VOS-like tasks
    def _vos_init(self, state) -> None:
        """Objects in the official order (ascending ids: the official ``list(set(ids))`` of small
        ints), all prompt queries from the first clip on (not-yet-appeared ones blank)."""
        objs = list(state.video.objects)
        try:
            objs.sort(key=lambda o: int(o["id"]))
        except (TypeError, ValueError):
            pass
        vs = state.vos
        vs["objects"] = objs
        vs["targets"] = []
        for o in objs:
            t = self._new_target(state, int(o["frame"]), category=o.get("category"),
                                 prompt_id=o.get("prompt_id"), obj_id=o["id"])
            t.first_index = -1
            state.by_obj[o["id"]] = t
            vs["targets"].append(t)
        vs["first"] = torch.full((len(objs),), -1, dtype=torch.long)
        vs["logits"], vs["embds"], vs["boxes"] = {}, {}, {}
        sub = state.video.class_subset
        things = state.video.thing_classes or set()
        vs["stuff"] = [state.task == "pvos" and o.get("class") is not None and int(o["class"]) not in things
                       for o in objs]
        vs["label"] = [None if o.get("class") is None or sub is None or int(o["class"]) not in sub.tolist()
                       else sub.tolist().index(int(o["class"])) for o in objs]

    def _vos_semantic(self, state, out, t: int) -> Tensor:
        """VIPOSeg semantic map (T, Hp, Wp) of class positions in ``class_subset``: argmax of
        sum_q sigmoid(class) x quality x sigmoid(mask) over the learnable queries, masks
        upsampled to the padded input size (official ``write_predictions_into_annotations_per_clip``,
        ``use_semseg_pvos``). Computed in query chunks to bound memory."""
        nq = self.dec.num_queries
        sub = state.video.class_subset.to(self.device)
        probs = out["pred_logits"][:nq].float().sigmoid()[:, sub]
        masks = out["pred_masks"][:nq]
        h, w = self.resized
        chunk = 16
        quality = torch.cat([mask_quality(self._to_input(masks[c:c + chunk].flatten(0, 1))
                                          .view(-1, t, *self.padded)[..., :h, :w])
                             for c in range(0, nq, chunk)])
        weight = probs * quality[:, None]
        sem = []
        for j in range(t):
            acc = None
            for c in range(0, nq, chunk):
                sig = self._to_input(masks[c:c + chunk, j]).sigmoid()
                part = torch.einsum("qc,qhw->chw", weight[c:c + chunk], sig)
                acc = part if acc is None else acc + part
            sem.append(acc.argmax(0))
        return torch.stack(sem)

    def _clip_vos(self, state, mf, levels, fidx, ci: int, is_last: bool) -> None:
        """One clip of the official VOS/PVOS/BURST procedure (``inference_video_vos.py``):

        1. ``write_targets_into_annotations_per_clip``: the clip's new frame gets blank logits
           and a copy of the previous frame's stored embeddings; an object's prompt mask is
           (re)written as its logits of its prompt frame f in every clip containing f, where f
           becomes its first-appearance index.
        2. the prompt slot buffer is updated (first clip: frame 0 only) and *every* object is a
           prompt query (not-yet-appeared ones are blank: ``prompt_sot`` only).
        3. objects first appearing in the clip (``STEP1``): the clip's predictions compete
           (argmax of sigmoid x IoU(prediction, prompt)^2 x quality on the prompt frame; masks
           kept on the winning pixels), the prediction on f must reach IoU > 0.15 x min(area /
           96^2, 1) with the prompt (VIPOSeg stuff exempt), and then *overwrites* the logits of
           the frames after f; its embeddings overwrite the clip's.
        4. tracked objects (``STEP2``): kept if the temporally weighted cosine consistency with
           the last max(k, T) stored embeddings exceeds 0.5 (hard-coded officially); the kept
           ones compete per pixel (sigmoid x sim^2 x quality; background where every logit <= 0),
           keep their winning pixels only if that is > 25 % of their own area, and are *added*
           to the stored logits; embeddings averaged with the stored non-blank ones.
        5. PVOS (VIPOSeg): stuff objects get logit 10 wherever a semantic map of the learnable
           queries predicts their class (``pvos_semantic``).
        6. output (``save_vos_results``): the clip's first frame (every frame at the last clip):
           summed logits cropped, bilinear to the original size, > 0; a pixel goes to the
           lowest object index among the positive ones.

        Logits are kept at the padded input size, as officially; only the clip's frames are kept.
        """
        cfg = self.cfg
        frames = fidx.tolist()
        t, i = len(frames), frames[0]
        vs = state.vos
        if not vs:
            self._vos_init(state)
        objs, targets = vs["objects"], vs["targets"]
        n = len(objs)
        if n == 0:
            return
        logits, embds, first, boxes = vs["logits"], vs["embds"], vs["first"], vs["boxes"]
        hp, wp = self.padded
        h, w = self.resized
        c_dim = self.dec.hidden_dim
        stride = min(cfg.clip_stride, t)
        new_frames = frames if i == 0 else frames[t - stride:]
        for f in new_frames:
            logits[f] = torch.zeros(n, hp, wp, device=self.device)
            boxes[f] = torch.zeros(n, 4, device=self.device)
            prev = [embds[g] for g in range(f - stride, f) if g in embds]
            embds[f] = torch.stack(prev).mean(0) if (i > 0 and prev) else torch.zeros(n, c_dim, device=self.device)
        for r, o in enumerate(objs):
            f = int(o["frame"])
            if f in logits and frames[0] <= f <= frames[-1]:
                logits[f][r] = self._region_to_input(o["region"]).float()
                boxes[f][r] = self._region_box(o["region"])
                first[r] = f
        for r, tg in enumerate(targets):
            tg.first_index = int(first[r])

        if cfg.tracker == "vs2p":
            self._update_prompts(state, targets, levels, frames, lambda f: (logits[f] > 0) if f in logits else None,
                                 lambda f: boxes.get(f))
        use_prompts = cfg.tracker == "vs2p" and cfg.prompt_as_queries
        prompts = self._prompt_batch(state, targets, t) if use_prompts else None
        extra = self._pool_keys(state, targets) if (cfg.tracker == "vs2p" and not use_prompts) else None
        out = decode_clip(self.dec, levels, mf, fidx, prompts, "sot", proca=cfg.proca, extra_keys=extra,
                          self_attn_mask_type=cfg.self_attn_mask_type)
        if prompts is not None and cfg.proca:
            self.stats["proca_calls"] += 1
        nq = self.dec.num_queries
        is_first = (first >= i) & (first < i + t)
        has_app = (first < i) & (first != -1)
        if use_prompts:
            sel = torch.arange(nq, nq + n)
            learn_ok = None
        else:
            sel, learn_ok = self._vos_learnable(state, out, frames, is_first, has_app)
        pm = self._to_input(out["pred_masks"][sel].flatten(0, 1)).view(n, t, hp, wp)
        pe_ = out["pred_embds"][sel].float()
        h4, w4 = out["pred_masks"].shape[-2:]
        pbox = mask_boxes_inclusive(out["pred_masks"][sel] > 0) / torch.tensor([w4, h4, w4, h4], device=self.device)
        probs = out["pred_logits"][sel].float().sigmoid()
        quality = mask_quality(pm[..., :h, :w])
        sem = None
        if state.task == "pvos" and cfg.pvos_semantic and any(vs["stuff"]) and state.video.class_subset is not None:
            sem = self._vos_semantic(state, out, t)

        def iou(a: Tensor, b: Tensor) -> Tensor:
            a, b = a.flatten(1).float(), b.flatten(1).float()
            return ((a + b) == 2).sum(1) / ((a + b) >= 1).sum(1).clamp(min=1)

        # STEP1: objects whose prompt frame is in this clip
        if bool(is_first.any()):
            rows = torch.nonzero(is_first).flatten().tolist()
            faf = [int(first[r]) - i for r in rows]
            mm = pm[rows]
            for j, f in enumerate(frames):
                embds[f][rows] = pe_[rows, j]
            gt_first = torch.stack([logits[int(first[r])][r] > 0 for r in rows])
            is_bg = (mm <= 0).all(0)
            ar = torch.arange(len(rows))
            miou = iou(gt_first, mm[ar, faf] > 0)
            weight = mm.sigmoid() * (miou ** 2 * quality[rows]).view(-1, 1, 1, 1)
            ids = weight.argmax(0)
            ids[is_bg] = -1
            binary = torch.stack([ids == k for k in range(len(rows))]).float()
            mm = mm * binary
            miou = iou(gt_first, binary[ar, faf])
            area = gt_first.flatten(1).sum(1) / (96 * 96)
            above = miou > 0.15 * area.clamp(max=1)
            if learn_ok is not None:
                above = above & learn_ok[rows]
            for k, r in enumerate(rows):
                j0 = faf[k] + 1
                if (not bool(above[k]) and not vs["stuff"][r]) or j0 == t:
                    continue
                cur = mm[k, j0:]
                if sem is not None and vs["stuff"][r] and vs["label"][r] is not None:
                    cur[sem[j0:] == vs["label"][r]] = 10.0
                for j in range(j0, t):
                    logits[frames[j]][r] = cur[j - j0]
                    boxes[frames[j]][r] = pbox[r, j]
                self._vos_class(targets[r], probs[r])

        # STEP2: tracked objects
        if bool(has_app.any()):
            rows = torch.nonzero(has_app).flatten().tolist()
            m = max(cfg.num_prev_frames_memory, cfg.clip_length)
            hist = [g for g in range(frames[-1] - m + 1, frames[-1] + 1) if g in embds]
            stored = torch.stack([embds[g][rows] for g in hist], 1)
            if learn_ok is None:
                sim = consistency_similarity(stored, pe_[rows])
                ok = sim > VOS_CONSISTENCY_THRESHOLD
            else:
                sim, ok = vs.pop("learn_sim")[rows], learn_ok[rows]
            mm, q, e, sim = pm[rows].clone(), quality[rows].clone(), pe_[rows].clone(), sim.clone()
            bx = pbox[rows].clone()
            mm[~ok], q[~ok], e[~ok], sim[~ok], bx[~ok] = 0, 0, 0, 0, 0
            orig = (mm > 0).flatten(1).sum(1).clamp(min=1)
            sig = mm.sigmoid()
            if sem is not None:
                for k, r in enumerate(rows):
                    if vs["stuff"][r] and vs["label"][r] is not None:
                        on = sem == vs["label"][r]
                        sig[k][on] = 1.0
                        mm[k][on] = 10.0
            is_bg = (mm <= 0).all(0)
            weight = sig * (sim ** 2 * q).view(-1, 1, 1, 1)
            ids = weight.argmax(0)
            ids[is_bg] = -1
            binary = torch.stack([ids == k for k in range(len(rows))]).float()
            area = binary.flatten(1).sum(1)
            above = (area / orig > 0.25) & (orig > 0) & (area > 0)
            binary[~above] = 0
            mm = mm * binary
            for j, f in enumerate(frames):
                logits[f][rows] += mm[:, j]
                boxes[f][rows] = bx[:, j]
                old = embds[f][rows]
                nonblank = (old != 0).any(-1).float()[:, None]
                embds[f][rows] = (old + e[:, j]) / (nonblank + 1)
            for k, r in enumerate(rows):
                if bool(ok[k]):
                    self._vos_class(targets[r], probs[r])

        # output: the clip's first frame, or all its frames at the last clip
        for f in (frames if is_last else frames[:stride]):
            x = logits[f][:, :h, :w]
            if (h, w) != self.out_size:
                x = F.interpolate(x[None], size=self.out_size, mode="bilinear", align_corners=False)[0]
            pos = x > 0
            winner = pos.float().argmax(0)
            fg = pos.any(0)
            for r, tg in enumerate(targets):
                mr = (winner == r) & fg
                if bool(mr.any()):
                    tg.masks[f] = state.encode(mr)
        keep_from = frames[stride] if not is_last and t > stride else frames[-1] + 1
        for f in [f for f in logits if f < keep_from]:
            del logits[f]
            boxes.pop(f, None)
        m = max(cfg.num_prev_frames_memory, cfg.clip_length)
        for f in [f for f in embds if f <= frames[-1] - m]:
            del embds[f]

    @staticmethod
    def _vos_class(target: Target, probs: Tensor) -> None:
        """Running sum of the class scores of an object's accepted predictions (ours: the
        category of an object whose prompt names none, e.g. BURST exemplars)."""
        target.logit_sum = probs.clone() if target.logit_sum is None else target.logit_sum + probs
        target.logit_n += 1

    def _vos_learnable(self, state, out, frames, is_first, has_app):
        """Ablation (prompts not as queries / similarity tracker): each object is read out of
        the learnable queries: on its prompt frame the query whose mask best overlaps the
        prompt, later the cosine Hungarian match of stored and current embeddings."""
        cfg, vs = self.cfg, state.vos
        nq, n = self.dec.num_queries, len(vs["objects"])
        masks, embds = out["pred_masks"][:nq], out["pred_embds"][:nq]
        sel = torch.zeros(n, dtype=torch.long)
        ok = torch.zeros(n, dtype=torch.bool)
        sim = torch.zeros(n)
        i = frames[0]
        for r in torch.nonzero(is_first).flatten().tolist():
            f = int(vs["first"][r])
            reg = self._down((vs["logits"][f][r] > 0)[None])[0]
            pm = masks[:, f - i] > 0
            inter = (pm & reg).flatten(1).sum(1).float()
            union = (pm | reg).flatten(1).sum(1).float().clamp(min=1)
            sel[r], ok[r] = int((inter / union).argmax()), True
        rows = torch.nonzero(has_app).flatten().tolist()
        if rows:
            m = max(cfg.num_prev_frames_memory, cfg.clip_length)
            hist = [g for g in range(frames[-1] - m + 1, frames[-1] + 1) if g in vs["embds"]]
            stored = torch.stack([vs["embds"][g][rows] for g in hist], 1)
            a, b, sc = cosine_match(stored, embds.float(), cfg.similarity_threshold)
            for x, y, v in zip(a.tolist(), b.tolist(), sc.tolist()):
                sel[rows[x]], ok[rows[x]], sim[rows[x]] = y, True, v
        vs["learn_sim"] = sim
        return sel, ok

    # ------------------------------------------------------------------ RefVOS
    def _clip_refvos(self, state, mf, levels, fidx) -> None:
        """One clip of the official grounding branch (``inference_video_vos.py``, task
        'grounding', prompt queries only, 'sep-blocked', l4p in the decoder heads).

        Each expression keeps one embedding slot per frame. The first clip writes its masks and
        its T per-frame embeddings. Each later clip first appends a slot per new frame (the mean
        of the last as many slots), then tests consistency: the temporally weighted cosine
        similarity of the clip's T embeddings with the last max(k, T) slots must exceed
        ``VOS_CONSISTENCY_THRESHOLD`` (0.5, hard-coded officially). A consistent clip adds its mask
        logits to its frames (sums; output = sum > 0) and its embeddings average into the last T
        slots, ``(slot + e) / 2``; an inconsistent one adds nothing and, as the official update
        does with its zeroed embeddings, halves those slots.
        """
        exps = state.video.expressions
        if not exps:
            return
        if state.text is None:
            state.text = self.text_features([e["text"] for e in exps], self.device)
            for e in exps:
                t = self._new_target(state, 0, prompt_id=e["prompt_id"])
                state.by_obj[e["prompt_id"]] = t
        words, sentence = state.text
        words, sentence = words.to(self.device), sentence.to(self.device)
        b, t = 1, fidx.numel()
        src, pos, sizes = flatten_levels(self.dec, levels, fidx)
        enc = self.dec.encode_prompts(src, pos, sizes, {"type": "expression", "sentence": sentence[None],
                                                         "words": words[None]}, b, t)
        content, qpos, dense, dense_pe = enc
        prompts = PromptBatch(content=content.view(len(exps), t, -1), qpos=qpos.view(len(exps), t, -1),
                              dense=dense, dense_pe=dense_pe, sentence=sentence[None])
        out = decode_clip(self.dec, levels, mf, fidx, prompts, "grounding", proca=self.cfg.proca)
        if self.cfg.proca:
            self.stats["proca_calls"] += 1
        nq = self.dec.num_queries
        frames = fidx.tolist()
        cur = out["pred_embds"][nq:nq + len(exps)].float()  # E, T, C
        slots = getattr(state, "ref_slots", None)
        if slots is None:  # first clip: its masks and embeddings are written as they are
            ok = [True] * len(exps)
            slots = cur.clone()
        else:
            new = frames[-1] - state.ref_slots_end
            if new > 0:
                slots = torch.cat([slots, slots[:, -new:].mean(1, keepdim=True).expand(-1, new, -1)], 1)
            memory = max(self.cfg.num_prev_frames_memory, self.cfg.clip_length)  # official: config T
            sim = consistency_similarity(slots[:, -memory:], cur)
            ok = (sim > VOS_CONSISTENCY_THRESHOLD).tolist()
            last = slots[:, -t:]
            nonblank = (last != 0).any(-1, keepdim=True).float()
            add = torch.where(torch.tensor(ok, device=cur.device)[:, None, None], cur, torch.zeros_like(cur))
            slots = torch.cat([slots[:, :-t], (last + add) / (nonblank + 1.0)], 1)
        keep = max(self.cfg.num_prev_frames_memory, self.cfg.clip_length, t)
        state.ref_slots, state.ref_slots_end = slots[:, -keep:], frames[-1]
        for i, e in enumerate(exps):
            tgt = state.by_obj[e["prompt_id"]]
            if not ok[i]:
                continue
            self._accumulate(state, tgt.id, frames, out["pred_masks"][nq + i])
            s = out["pred_logits"][nq + i].float().sigmoid().max()
            tgt.logit_sum = s if tgt.logit_sum is None else tgt.logit_sum + s
            tgt.logit_n += 1

    # ------------------------------------------------------------------ VSS
    def _clip_vss(self, state, mf, levels, fidx) -> None:
        """Official ``save_results_vss``: mask logits bilinear to the input size, cropped, nearest to
        the output size; query score = class prob x mask quality over the clip at the output size;
        label = argmax over the benchmark's classes of sum_q score x sigmoid(mask)."""
        out = decode_clip(self.dec, levels, mf, fidx, None, "detection")
        nq = self.dec.num_queries
        masks = out["pred_masks"][:nq]
        probs = self._class_probs(out["pred_logits"][:nq], state)
        sub = state.video.class_subset
        if sub is not None:
            probs = probs[:, sub.to(probs.device)]
        rows, cols = self._nearest_index()
        # counts at the output size = counts at the input size weighted by nearest multiplicity
        rm = torch.bincount(rows, minlength=self.resized[0]).float()
        cm = torch.bincount(cols, minlength=self.resized[1]).float()
        above = torch.zeros(nq, device=masks.device)
        nonneg = torch.zeros_like(above)
        frames = [self._input_frames(masks[:, j]) for j in range(masks.shape[1])]  # upsampled once
        for x in frames:
            above += torch.einsum("qhw,h,w->q", (x > 1).float(), rm, cm)
            nonneg += torch.einsum("qhw,h,w->q", (x > -1).float(), rm, cm)
        probs = probs * (above / nonneg.clamp(min=1))[:, None]
        for x, f in zip(frames, fidx.tolist()):
            m = x.sigmoid()
            sem = torch.einsum("qk,qhw->khw", probs, m).argmax(0)
            sem = sem[rows][:, cols]
            if sub is not None:
                sem = sub.to(sem.device)[sem]
            state.semantic_frame(f, sem.cpu().numpy())

    def _nearest_index(self):
        """Source rows and columns (at the resized input size) of every output pixel under
        ``F.interpolate(mode='nearest')``."""
        (rh, rw), (oh, ow) = self.resized, self.out_size
        r = F.interpolate(torch.arange(rh, dtype=torch.float32).view(1, 1, rh, 1), size=(oh, 1), mode="nearest")
        c = F.interpolate(torch.arange(rw, dtype=torch.float32).view(1, 1, 1, rw), size=(1, ow), mode="nearest")
        return r.flatten().long().to(self.device), c.flatten().long().to(self.device)

    # ------------------------------------------------------------------ finalize a frame
    def _finalize(self, state, f: int, levels, idx: list[int], task: str) -> None:
        buf = state.pending.pop(f, {})
        state.last_final = (f, buf)
        tmap = {t.id: t for t in state.targets}
        ids = [tid for tid in buf if tid in tmap]
        if task == "refvos":  # summed logits > 0 (the count only rescales them)
            for tid in ids:
                s, c = buf[tid]
                tmap[tid].masks[f] = state.encode(self._to_output((s / c)[None])[0])
            return
        if not ids:
            return
        logits = torch.stack([buf[i][0] / buf[i][1] for i in ids])
        if task == "vis":
            out_masks = self._to_output(logits)
            for i, tid in enumerate(ids):
                if bool(out_masks[i].any()):
                    tmap[tid].masks[f] = state.encode(out_masks[i])
        elif task == "vps":
            # summed (not averaged) logits wait for their output window
            state.hold[f] = {tid: buf[tid][0] for tid in ids}


def _finish_vis(state) -> None:
    """Tube class scores and mask-quality factors of every VIS entity (official
    ``vis_clip_instances_to_coco_json_video`` and ``save_results_vis``)."""
    ents = state.all_targets
    for t, qf in zip(ents, tube_quality_factors([t.quality_sum for t in ents])):
        t.tube_scores = tube_class_scores(torch.stack(t.window_scores))
        t.quality_factor = qf


def stored_embeds(targets: list[Target], n: int, dim: int, device) -> Tensor:
    """The last ``n`` stored embeddings of each target as (N, S, C), S = the longest history
    (<= n), left-padded with zeros (blank entries, ignored by the temporal weights)."""
    s = max([min(len(t.embeds), n) for t in targets] + [1])
    out = torch.zeros(len(targets), s, dim, device=device)
    for i, t in enumerate(targets):
        e = list(t.embeds)[-n:]
        if e:
            out[i, s - len(e):] = torch.stack(e)
    return out


class _VideoState:
    """Everything the engine keeps about one video between clips."""

    def __init__(self, task: str, video: VideoInput):
        self.task, self.video = task, video
        self.targets: list[Target] = []
        self.all_targets: list[Target] = []
        self.pending: dict[int, dict] = {}
        self.by_obj: dict = {}
        self.text = None
        self.prompts = PromptSlotBuffer()
        self.last_final: tuple[int, dict] | None = None   # the last finalised frame's accumulations
        self.vos: dict = {}
        self.thing_segments: dict[int, int] = {}   # VPS: entity id -> segment id
        self.stuff_segments: dict[int, int] = {}   # VPS: class -> segment id
        self.segments: list[dict] = []
        self.semantic: dict[int, dict[int, dict]] = {}
        self.num_slots = 1                       # class/embedding slots per entity (clips so far)
        self.hold: dict[int, dict] = {}          # VPS: frame -> {entity: summed logits} until output

    @staticmethod
    def encode(mask: Tensor) -> dict:
        from univs_bench.io.rle import encode
        return encode(mask.cpu().numpy().astype(np.uint8))

    def panoptic_frame(self, f: int, seg_map: Tensor) -> None:
        """Store the segments of one panoptic frame (segment ids as officially numbered)."""
        by_id = {sg["id"]: sg for sg in self.segments}
        for sid in torch.unique(seg_map).tolist():
            if sid == 0:
                continue
            if sid not in by_id:
                by_id[sid] = {"id": sid, "class": None, "isthing": None, "masks": {}}
                self.segments.append(by_id[sid])
            by_id[sid]["masks"][f] = self.encode(seg_map == sid)

    def relabel_things(self, class_mean) -> None:
        """Segment classes as the official ``vps_output_results``: a thing segment takes its
        entity's final class (mean of all its class slots), stuff the class it was merged by."""
        things = self.video.thing_classes or set()
        tmap = {t.id: t for t in self.all_targets}
        cls_of = {sid: (int(class_mean(self, tmap[obj]).argmax()), None) for obj, sid in self.thing_segments.items()}
        cls_of.update({sid: (c, False) for c, sid in self.stuff_segments.items()})
        for sg in self.segments:
            c, isthing = cls_of[sg["id"]]
            sg["class"], sg["isthing"] = c, (c in things) if isthing is None else isthing
        self.segments.sort(key=lambda sg: sg["id"])

    def semantic_frame(self, f: int, sem: np.ndarray) -> None:
        from univs_bench.io.rle import encode
        for masks in self.semantic.values():  # a frame written again keeps only its new labels
            masks.pop(f, None)
        for c in np.unique(sem).tolist():
            self.semantic.setdefault(int(c), {})[f] = encode((sem == c).astype(np.uint8))

    def nbytes(self) -> int:
        total = 0
        if self.prompts.tokens is not None:
            total += 2 * self.prompts.tokens.nelement() * self.prompts.tokens.element_size()
        for t in self.targets:
            total += sum(e.nelement() * e.element_size() for e in t.embeds)
        for x in self.vos.get("logits", {}).values():
            total += x.nelement() * x.element_size()
        for buf in self.pending.values():
            total += sum(s.nelement() * s.element_size() for s, _ in buf.values())
        for held in self.hold.values():   # VPS frames waiting for their output window
            total += sum(x.nelement() * x.element_size() for x in held.values())
        return total

    def result(self) -> dict:
        return {"targets": self.all_targets, "segments": self.segments, "semantic": self.semantic}
