"""UniVS streaming inference: every video task as prompt-guided target segmentation.

A video is read one clip at a time (``clip_length`` frames, ``clip_stride`` apart; frames are
loaded lazily and their backbone/pixel-decoder features cached only while a clip still needs
them). Each target (an entity detected by the learnable queries, or a VOS/PVOS/BURST object
from its prompt) owns a memory pool of prompt tokens (its first frame and its last ``k``
frames, :class:`~univs_bench.models.univs.prompt_encoder.PromptMemoryPool`); in the next
clip the pool's tokens are the keys of ProCA and their mean is the target's prompt query, so
the model's own masks of earlier frames are the visual prompts of later frames (VS2P). A
frame's output is final once no later clip covers it; inference memory is therefore bounded by
the pools, the clip and the number of targets, never by the video length.

Facts from the official code (MinghanLi/UniVS at 7415d31, ``univs/inference/
inference_video_entity.py``, ``inference_video_vos.py``, ``comm.py``, ``configs/univs_inf``):

* category-specified tasks: learnable-query score = sigmoid class prob x mask quality
  (fraction of pixels with logit > 1 among those > -1); stability filter on the quality; box
  NMS (max IoU over the clip's frames); first clip keeps scores > max(cls threshold, 0.1).
* a prompt-query prediction is kept when the cosine similarity of its clip embeddings with
  the target's stored embeddings (temporally weighted, exp(5 t / n)) exceeds the consistency
  threshold (halved while the first clip's frames are processed); for VIS the target must
  also keep more than ``entity_overlap_threshold`` (0.5) of its mask after per-pixel
  competition.
* new entities: bi-softmax of stored (last 3) and current learnable embeddings,
  ``(softmax over predictions + softmax over targets) / 2`` averaged over frame pairs, values
  below the new-object threshold zeroed, Hungarian on 1 - sim; matches above the threshold
  update the target's class scores (running half average) and embedding, above twice the
  threshold also its masks; unmatched queries above the class threshold whose masks overlap
  no stored target (IoU < 0.5 in every frame) become new targets.
* VSS uses non-overlapping clips (stride = clip length) and the learnable queries only:
  semantic map = argmax over classes of sum_q score_q,c x sigmoid(mask_q).
* VPS: panoptic per frame from the targets: prob = score x mask logit, argmax; stuff targets
  not yet seen as things get score x 0.75; thing segments need ``overlap_threshold`` (0.6) of
  their mask (half of it once the thing has been output); stuff of one class is one segment.
* VIS output: one tube per target and class, score = class score averaged over the video x
  mask quality, classes above 0.1 x 0.05 kept, then the top max(1.5 x #above 0.05, top-k).
* thresholds (``TASK_DEFAULTS``): YTVIS cls 0.25, OVIS 0.2, VPS cls 0.15 / overlap 0.6 /
  NMS 0.75 / new 0.05 / consistency 0.05, VSS 0.05, VOS consistency 0.5, RefVOS 0.05 with
  'sep-blocked' self-attention, PVOS 0.25; test short side 640 (VIS, VOS, RefVOS) or 720
  (VPS, VSS, PVOS, DAVIS).

Ablation switches (paper Table 3): ``prompt_as_queries`` (off: the pool tokens are extra
keys of the masked cross-attention and targets are read out of the learnable queries by
embedding matching), ``proca`` (off: ProCA layers are skipped, the pool mean is the query),
``tracker='similarity'`` (no prompts after a target's first frame: frame-by-frame Hungarian
matching of learnable-query embeddings by cosine similarity, MinVIS-style).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .prompt_encoder import PromptMemoryPool, VisualPromptSampler, mean_of_nonblank

TRACKERS = ("vs2p", "similarity")

# Per-benchmark defaults from the official inference configs (configs/univs_inf/vids/*).
TASK_DEFAULTS: dict[str, dict] = {
    "vis": {"score_threshold": 0.25, "box_nms_threshold": 0.85, "newly_threshold": 0.1,
                "consistency_threshold": 0.25, "stability_threshold": 0.5, "topk": 50, "test_size": 640},
    "ytvis19": {"score_threshold": 0.25, "topk": 35},
    "ytvis21": {"score_threshold": 0.25, "topk": 35},
    "ovis": {"score_threshold": 0.2, "topk": 50},
    "vps": {"score_threshold": 0.15, "overlap_threshold": 0.6, "box_nms_threshold": 0.75,
                "newly_threshold": 0.05, "consistency_threshold": 0.05, "stability_threshold": 0.25,
                "topk": 100, "test_size": 720},
    "vss": {"score_threshold": 0.05, "test_size": 720},
    "vos": {"consistency_threshold": 0.5, "test_size": 640},
    "davis17": {"test_size": 720},
    "refvos": {"score_threshold": 0.05, "consistency_threshold": 0.5, "test_size": 640},
    "pvos": {"score_threshold": 0.25, "overlap_threshold": 0.8, "consistency_threshold": 0.5,
                 "test_size": 720},
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
    prompt_points: int | None = None   # tokens per frame in the pool (None: the decoder's)
    score_threshold: float = 0.25         # APPLY_CLS_THRES
    box_nms_threshold: float = 0.85       # BOX_NMS_THRESH
    newly_threshold: float = 0.1          # DETECT_NEWLY_OBJECT_THRESHOLD
    consistency_threshold: float = 0.25   # TEMPORAL_CONSISTENCY_THRESHOLD
    stability_threshold: float = 0.5     # STABILITY_SCORE_THRESH
    entity_overlap_threshold: float = 0.5  # OVERLAP_THRESHOLD_ENTITY (VIS)
    overlap_threshold: float = 0.6        # OVERLAP_THRESHOLD (VPS panoptic)
    new_object_iou: float = 0.5
    similarity_threshold: float = 0.5     # cosine, 'similarity' tracker / prompts-as-keys
    topk: int = 50                        # DETECTIONS_PER_IMAGE
    max_entities: int = 100
    device: str | None = None

    def __post_init__(self):
        if self.tracker not in TRACKERS:
            raise ValueError(f"tracker must be one of {TRACKERS}, got {self.tracker!r}")
        if self.clip_length < 1 or self.clip_stride < 1:
            raise ValueError("clip_length and clip_stride must be >= 1")
        if self.num_prev_frames_memory < 1:
            raise ValueError("num_prev_frames_memory must be >= 1")

    @classmethod
    def for_benchmark(cls, task: str, name: str | None = None, base: dict | None = None,
                      overrides: dict | None = None) -> InferenceConfig:
        """Defaults, then the task's and benchmark's official values, then ``overrides``."""
        d = dict(base or {})
        d.update(TASK_DEFAULTS.get(task, {}))
        if name:
            d.update(TASK_DEFAULTS.get(name, {}))
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
    dropped when its box IoU with a higher-scored one, maxed over frames, reaches ``threshold``."""
    order = scores.argsort(descending=True)
    if order.numel() <= 1:
        return order
    boxes = masks_to_boxes(masks[order] > 0)  # N, T, 4
    _n, t = boxes.shape[:2]
    iou = torch.stack([box_iou(boxes[:, i], boxes[:, i]) for i in range(t)], -1).amax(-1)
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
                proca: bool = True, extra_keys: tuple[Tensor, Tensor] | None = None) -> dict:
    """One pass of the UniVS decoder over a clip (batch 1) with given prompt queries.

    Same computation as ``VideoMaskDecoder.forward`` in eval mode, except that prompt queries
    come ready-made (from memory pools), ProCA can be switched off, and ``extra_keys``
    ((L, C) tokens, (L, C) positions) may be appended, unmasked, to every masked
    cross-attention (prompts as keys). Returns the last prediction: ``pred_logits`` (Q, K),
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
    self_mask = dec.self_attn_mask(b, t, num_prompt, task, output.device)
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
    """A tracked target: memory pool, stored embeddings, class scores, output masks."""

    id: int
    first_frame: int
    pool: PromptMemoryPool
    embeds: deque
    category: int | None = None          # fixed category (VOS prompts) or None
    prompt_id: str | None = None
    logit_sum: Tensor | None = None      # running class scores (official running average)
    logit_n: int = 0
    quality_sum: float = 0.0
    quality_n: int = 0
    pooled_upto: int = -1                   # last frame whose tokens entered the pool
    masks: dict = field(default_factory=dict)   # frame -> RLE (output)
    obj_id: int | None = None            # the prompt's target id (VOS-like tasks)
    join_region: Tensor | None = None    # prompt region, kept during the joining clip only


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
        self.sampler = VisualPromptSampler(num_points, stride=8)
        self.stats: dict = {}

    @property
    def device(self):
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ geometry
    def _geometry(self, h: int, w: int):
        s = self.cfg.test_size
        if s:
            scale = s / min(h, w)
            if max(h, w) * scale > self.cfg.max_size:
                scale = self.cfg.max_size / max(h, w)
            rh, rw = round(h * scale), round(w * scale)
        else:
            rh, rw = h, w
        d = self.size_div
        return (rh, rw), (-(-rh // d) * d, -(-rw // d) * d)

    def _load(self, video: VideoInput, f: int) -> Tensor:
        if video.padded_size is not None:
            return torch.as_tensor(video.load(f), device=self.device).float()
        img = torch.from_numpy(np.array(video.load(f), dtype=np.uint8)).to(self.device)
        x = img.permute(2, 0, 1).float()
        if tuple(x.shape[-2:]) != self.resized:
            x = F.interpolate(x[None], size=self.resized, mode="bilinear", align_corners=False)[0]
        x = (x - self.mean.to(x)) / self.std.to(x)
        return F.pad(x, (0, self.padded[1] - x.shape[-1], 0, self.padded[0] - x.shape[-2]))

    def _extract(self, x: Tensor):
        mf, levels = self.model.extract_feat(x[None])
        return mf, levels

    def _region_to_input(self, region: np.ndarray | Tensor) -> Tensor:
        """Original-resolution bool region -> (Hp, Wp) bool at the padded input size."""
        r = torch.as_tensor(np.asarray(region), device=self.device).float()
        if tuple(r.shape) != self.resized:
            r = F.interpolate(r[None, None], size=self.resized, mode="nearest")[0, 0]
        return F.pad(r, (0, self.padded[1] - r.shape[1], 0, self.padded[0] - r.shape[0])) > 0.5

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
                kinds: list[str]) -> tuple[Tensor, Tensor]:
        """Prompt tokens (P, R, C) and positions of ``regions`` (P, Hp, Wp) on one frame of the clip,
        sampled from the decoder's 1/8 level (with level embedding and 3D position)."""
        x = levels[-1][frame_pos:frame_pos + 1]  # 1, C, h, w
        feats = (x + self.dec.level_embed.weight[len(levels) - 1][None, :, None, None])[None]
        pos = self.dec.pe_layer(feats, torch.tensor([[frame_index]], device=x.device))
        out = self.sampler.encode(feats, pos, self.dec.pe_layer,
                                  [{"regions": regions, "kinds": kinds, "key_frame": 0,
                                    "frame_indices": [frame_index]}], 1, training=False)
        if out is None:
            c = x.shape[1]
            return x.new_zeros(0, self.sampler.num_points, c), x.new_zeros(0, self.sampler.num_points, c)
        tok, pe, _ = out
        return tok[:, :, 0], pe[:, :, 0]

    def _prompt_batch(self, targets: list[Target]) -> PromptBatch | None:
        if not targets:
            return None
        dense = [t.pool.dense() for t in targets]
        L = max(d[0].shape[0] for d in dense)
        c = dense[0][0].shape[1]
        tok = torch.zeros(len(targets), L, c, device=self.device)
        pe = torch.zeros_like(tok)
        pad = torch.ones(len(targets), L, dtype=torch.bool, device=self.device)
        for i, (tk, p) in enumerate(dense):
            tok[i, :tk.shape[0]], pe[i, :tk.shape[0]] = tk, p
            pad[i, :tk.shape[0]] = False
        content = mean_of_nonblank(tok) + self.dec.prompt_sot.weight.view(1, -1)
        return PromptBatch(content=content, qpos=mean_of_nonblank(pe), dense=tok, dense_pe=pe, pad=pad)

    def _pool_keys(self, targets: list[Target]):
        if not targets:
            return None
        toks, pes = zip(*[t.pool.dense() for t in targets])
        return torch.cat(toks), torch.cat(pes)

    # ------------------------------------------------------------------ main loop
    @torch.no_grad()
    def run(self, video: VideoInput, task: str) -> dict:
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
        stride = length if task == "vss" else min(cfg.clip_stride, length)
        starts = clip_starts(n, length, stride)
        cache = FeatureCache(self._extract, lambda f: self._load(video, f))
        self.stats = {"max_pool_len": 0, "max_cached_frames": 0, "max_pending_frames": 0,
                      "max_state_bytes": 0, "clips": len(starts), "proca_calls": 0}
        state = _VideoState(task=task, video=video)
        for ci, s in enumerate(starts):
            idx = list(range(s, s + length))
            mf, levels = cache.get(idx)
            fidx = torch.tensor(idx, device=self.device)
            next_start = starts[ci + 1] if ci + 1 < len(starts) else n
            if task == "vss":
                self._clip_vss(state, mf, levels, fidx)
            elif task == "refvos":
                self._clip_refvos(state, mf, levels, fidx)
            elif task in ("vos", "pvos"):
                self._clip_vos(state, mf, levels, fidx, ci)
            elif task in ("vis", "vps"):
                self._clip_entities(state, mf, levels, fidx, ci)
            else:
                raise ValueError(f"unknown task {task!r}")
            self.stats["max_cached_frames"] = max(self.stats["max_cached_frames"], len(cache.frames))
            self.stats["max_pending_frames"] = max(self.stats["max_pending_frames"], len(state.pending))
            if task != "vss":
                for f in range(s, next_start):
                    self._finalize(state, f, levels, idx, task)
            self.stats["max_pool_len"] = max([self.stats["max_pool_len"]]
                                             + [1 + len(t.pool) for t in state.targets if t.pool.first is not None])
            self.stats["max_state_bytes"] = max(self.stats["max_state_bytes"],
                                                cache.nbytes() + state.nbytes())
            cache.drop_before(next_start)
        return state.result()

    # ------------------------------------------------------------------ accumulation
    def _accumulate(self, state, target_id: int, frames: list[int], logits: Tensor) -> None:
        for j, f in enumerate(frames):
            buf = state.pending.setdefault(f, {})
            if target_id in buf:
                s, c = buf[target_id]
                buf[target_id] = (s + logits[j], c + 1)
            else:
                buf[target_id] = (logits[j].clone(), 1)

    def _current_masks(self, state, targets: list[Target], frames: list[int]) -> Tensor:
        """Accumulated binary masks (N, T, h4, w4) of ``targets`` on ``frames``."""
        out = torch.zeros(len(targets), len(frames), *self.mask_size, dtype=torch.bool, device=self.device)
        for j, f in enumerate(frames):
            buf = state.pending.get(f, {})
            for i, t in enumerate(targets):
                if t.id in buf:
                    s, c = buf[t.id]
                    out[i, j] = (s / c) > 0
        return out

    def _new_target(self, state, first_frame: int, **kw) -> Target:
        t = Target(id=len(state.all_targets) + 1, first_frame=first_frame,
                   pool=PromptMemoryPool(self.cfg.num_prev_frames_memory),
                   embeds=deque(maxlen=max(self.cfg.num_prev_frames_memory, 3)), **kw)
        state.all_targets.append(t)
        state.targets.append(t)
        return t

    # ------------------------------------------------------------------ category tasks
    def _clip_entities(self, state, mf, levels, fidx, ci: int) -> None:
        cfg, task = self.cfg, state.task
        frames = fidx.tolist()
        use_prompts = cfg.tracker == "vs2p" and cfg.prompt_as_queries
        prompted = [t for t in state.targets if t.pool.first is not None] if cfg.tracker == "vs2p" else []
        prompts = self._prompt_batch(prompted) if use_prompts else None
        extra = self._pool_keys(prompted) if (cfg.tracker == "vs2p" and not cfg.prompt_as_queries) else None
        out = decode_clip(self.dec, levels, mf, fidx, prompts, "detection", proca=cfg.proca, extra_keys=extra)
        if prompts is not None and cfg.proca:
            self.stats["proca_calls"] += 1
        nq = self.dec.num_queries
        logits = self._class_probs(out["pred_logits"], state)
        masks, embds = out["pred_masks"], out["pred_embds"]
        lq_logits, lq_masks, lq_embds = logits[:nq], masks[:nq], embds[:nq]

        # step 1: prompt-specified targets (their own predictions)
        if prompts is not None and len(prompted):
            p_masks, p_embds = masks[nq:], embds[nq:]
            stored = stored_embeds(prompted, max(cfg.num_prev_frames_memory // cfg.clip_stride, 3),
                                   p_embds.shape[-1], p_embds.device)
            sim = consistency_similarity(stored, p_embds)
            thr = cfg.consistency_threshold * (0.5 if frames[0] < cfg.clip_length else 1.0)
            ok = sim > thr
            q = mask_quality(p_masks)
            if task == "vis":
                cls = torch.stack([t.logit_sum.max() if t.logit_sum is not None else p_masks.new_tensor(0.)
                                   for t in prompted])
                score = cls * sim.clamp(min=0) * q
                prob = p_masks.sigmoid().flatten(1)
                ids = (score[:, None] * prob).argmax(0)
                is_bg = (prob < 0.5).all(0)
                win = (ids[None] == torch.arange(len(prompted), device=ids.device)[:, None]) & ~is_bg[None]
                orig = (prob > 0.5).sum(1).clamp(min=1)
                kept = (win & (prob > 0.5)).sum(1)
                ok = ok & (win.sum(1) / orig > cfg.entity_overlap_threshold) & (kept > 0)
            for i in torch.nonzero(ok).flatten().tolist():
                t = prompted[i]
                self._accumulate(state, t.id, frames, p_masks[i])
                t.embeds.append(p_embds[i].mean(0))
                t.quality_sum += float(q[i])
                t.quality_n += 1

        # step 2: learnable queries -> matches and new entities
        score = lq_logits * mask_quality(lq_masks)[:, None]
        qual = mask_quality(lq_masks)
        keep = torch.arange(nq, device=score.device)
        if cfg.stability_threshold > 0:
            keep = keep[qual[keep] > cfg.stability_threshold]
        top = score[keep].amax(-1)
        keep = keep[top.argsort(descending=True)[:cfg.topk]]
        if task == "vps" and state.video.thing_classes is not None and len(keep):
            keep = self._nms_thing_stuff(state, keep, score, lq_masks)
        elif len(keep) > 1:
            keep = keep[video_box_nms(lq_masks[keep], score[keep].amax(-1), cfg.box_nms_threshold)]
        if not state.targets:
            thr = max(cfg.score_threshold, 0.1) if task == "vis" else cfg.score_threshold
            new = [int(k) for k in keep if float(score[k].max()) > thr]
        else:
            stored = stored_embeds(state.targets, 3, lq_embds.shape[-1], lq_embds.device)
            match = bisoftmax_match if cfg.tracker == "vs2p" else cosine_match
            mthr = cfg.newly_threshold if cfg.tracker == "vs2p" else cfg.similarity_threshold
            rows, cols, sims = match(stored, lq_embds[keep], mthr)
            matched_q = set()
            for r, c_, sv in zip(rows.tolist(), cols.tolist(), sims.tolist()):
                t, k = state.targets[r], int(keep[c_])
                matched_q.add(k)
                t.logit_sum = score[k] if t.logit_sum is None else 0.5 * (t.logit_sum + score[k])
                t.embeds.append(lq_embds[k].mean(0))
                if cfg.tracker == "similarity" or (not cfg.prompt_as_queries) or sv > 2 * cfg.newly_threshold:
                    self._accumulate(state, t.id, frames, lq_masks[k])
                    t.quality_sum += float(qual[k])
                    t.quality_n += 1
            new = []
            cand = [int(k) for k in keep if int(k) not in matched_q]
            thr = cfg.score_threshold * (2 if task == "vps" else 1)
            cand = [k for k in cand if float(score[k].max()) > thr]
            if cand:
                cur = self._current_masks(state, state.targets, frames)
                iou = mask_iou_per_frame(lq_masks[cand] > 0, cur)
                new = [k for j, k in enumerate(cand) if iou.shape[1] == 0 or float(iou[j].max()) < cfg.new_object_iou]
        for k in new[:max(cfg.max_entities - len(state.all_targets), 0)]:
            t = self._new_target(state, frames[0])
            t.logit_sum = score[k].clone()
            t.embeds.append(lq_embds[k].mean(0))
            t.quality_sum, t.quality_n = float(qual[k]), 1
            self._accumulate(state, t.id, frames, lq_masks[k])

    def _nms_thing_stuff(self, state, keep, score, masks):
        """VPS first-clip style de-duplication: box NMS among things (top 70), first-frame
        mask IoU < 0.6 among stuff (top 30)."""
        labels = score[keep].argmax(-1)
        things = state.video.thing_classes
        is_thing = torch.tensor([int(l) in things for l in labels.tolist()], dtype=torch.bool)
        kt, ks = keep[is_thing][:70], keep[~is_thing][:30]
        if len(kt) > 1:
            kt = kt[video_box_nms(masks[kt], score[kt].amax(-1), self.cfg.box_nms_threshold)]
        if len(ks) > 1:
            order = score[ks].amax(-1).argsort(descending=True)
            ks = ks[order]
            m = (masks[ks][:, :1] > 0)
            iou = mask_iou_per_frame(m, m)
            ks = ks[torch.triu(iou, diagonal=1).amax(0) < 0.6]
        return torch.cat([kt, ks])

    def _class_probs(self, logits: Tensor, state) -> Tensor:
        p = logits.float().sigmoid()
        sub = state.video.class_subset
        if sub is not None:
            out = torch.zeros_like(p)
            out[:, sub] = p[:, sub]
            return out
        return p

    # ------------------------------------------------------------------ VOS-like tasks
    def _clip_vos(self, state, mf, levels, fidx, ci: int) -> None:
        cfg = self.cfg
        frames = fidx.tolist()
        # objects whose prompt frame falls in this clip join now (late objects included)
        joining = [o for o in state.video.objects if o["id"] not in state.by_obj and frames[0] <= o["frame"] <= frames[-1]]
        for o in joining:
            t = self._new_target(state, o["frame"], category=o.get("category"),
                                 prompt_id=o.get("prompt_id"), obj_id=o["id"])
            state.by_obj[o["id"]] = t
            region = self._region_to_input(o["region"])
            tok, pe = self._tokens(levels, o["frame"] - frames[0], o["frame"], region[None], [o.get("kind", "mask")])
            t.pool.add(tok[0], pe[0])
            t.pooled_upto = o["frame"]
            t.join_region = region
        active = [t for t in state.targets if t.pool.first is not None]
        if not active:
            return
        use_prompts = cfg.tracker == "vs2p" and cfg.prompt_as_queries
        new_ids = {t.id for t in active if not t.embeds}
        if use_prompts:
            prompts = self._prompt_batch(active)
            extra = None
        else:
            # learnable queries do the work; first-frame identification still needs the
            # prompt (its tokens), given as keys when the tracker is VS2P
            prompts = None
            extra = self._pool_keys(active) if cfg.tracker == "vs2p" else None
        out = decode_clip(self.dec, levels, mf, fidx, prompts, "sot", proca=cfg.proca, extra_keys=extra)
        if prompts is not None and cfg.proca:
            self.stats["proca_calls"] += 1
        nq = self.dec.num_queries
        masks, embds = out["pred_masks"], out["pred_embds"]
        if use_prompts:
            t_masks, t_embds = masks[nq:], embds[nq:]
            stored = stored_embeds(active, cfg.num_prev_frames_memory, t_embds.shape[-1], t_embds.device)
            sim = consistency_similarity(stored, t_embds)
            ok = [t.id in new_ids or float(sim[i]) > cfg.consistency_threshold for i, t in enumerate(active)]
            picks = list(range(len(active)))
        else:
            lq_masks, lq_embds = masks[:nq], embds[:nq]
            picks, ok = [], []
            old = [t for t in active if t.id not in new_ids]
            assigned = {}
            if old:
                stored = stored_embeds(old, cfg.num_prev_frames_memory, lq_embds.shape[-1], lq_embds.device)
                rows, cols, _ = cosine_match(stored, lq_embds, cfg.similarity_threshold)
                assigned = {old[r].id: int(c_) for r, c_ in zip(rows.tolist(), cols.tolist())}
            for t in active:
                if t.id in new_ids:  # identify by mask IoU with the prompt on its frame
                    j = t.first_frame - frames[0]
                    reg = self._down(t.join_region[None])[0]
                    pm = lq_masks[:, j] > 0
                    inter = (pm & reg).flatten(1).sum(1).float()
                    union = (pm | reg).flatten(1).sum(1).float().clamp(min=1)
                    picks.append(int((inter / union).argmax()))
                    ok.append(True)
                elif t.id in assigned:
                    picks.append(assigned[t.id])
                    ok.append(True)
                else:
                    picks.append(0)
                    ok.append(False)
            t_masks, t_embds = lq_masks, lq_embds
        # class scores of each target's query, averaged over its clips: the category of an
        # object whose prompt names none (read by the benchmark model when a writer needs one)
        t_logits = out["pred_logits"][nq:] if use_prompts else out["pred_logits"][:nq]
        for i, t in enumerate(active):
            if not ok[i]:
                continue
            k = picks[i]
            lo = max(t.first_frame - frames[0], 0)
            self._accumulate(state, t.id, frames[lo:], t_masks[k][lo:])
            t.embeds.append(t_embds[k][lo:].mean(0))
            s = t_logits[k].float().sigmoid()
            t.logit_sum = s if t.logit_sum is None else t.logit_sum + s
            t.logit_n += 1
        for t in active:
            t.join_region = None

    # ------------------------------------------------------------------ RefVOS
    def _clip_refvos(self, state, mf, levels, fidx) -> None:
        """One clip of the official grounding branch (``inference_video_vos.py``, task
        'grounding', prompt queries only, 'sep-blocked', l4p in the decoder heads).

        Each expression keeps one embedding slot per frame. The first clip writes its masks and
        its T per-frame embeddings. Each later clip first appends a slot per new frame (the mean
        of the last as many slots), then tests consistency: the temporally weighted cosine
        similarity of the clip's T embeddings with the last max(k, T) slots must exceed
        ``consistency_threshold`` (0.5, hard-coded officially). A consistent clip adds its mask
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
            memory = max(self.cfg.num_prev_frames_memory, t)
            sim = consistency_similarity(slots[:, -memory:], cur)
            ok = (sim > self.cfg.consistency_threshold).tolist()
            last = slots[:, -t:]
            nonblank = (last != 0).any(-1, keepdim=True).float()
            add = torch.where(torch.tensor(ok, device=cur.device)[:, None, None], cur, torch.zeros_like(cur))
            slots = torch.cat([slots[:, :-t], (last + add) / (nonblank + 1.0)], 1)
        keep = max(self.cfg.num_prev_frames_memory, t)
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
        out = decode_clip(self.dec, levels, mf, fidx, None, "detection")
        nq = self.dec.num_queries
        masks = out["pred_masks"][:nq]
        probs = self._class_probs(out["pred_logits"][:nq], state) * mask_quality(masks)[:, None]
        for j, f in enumerate(fidx.tolist()):
            m = self._to_input(masks[:, j])[:, :self.resized[0], :self.resized[1]].sigmoid()
            sem = torch.einsum("qk,qhw->khw", probs, m).argmax(0)
            if tuple(sem.shape) != self.out_size:
                sem = F.interpolate(sem[None, None].float(), size=self.out_size, mode="nearest")[0, 0].long()
            state.semantic_frame(f, sem.cpu().numpy())

    # ------------------------------------------------------------------ finalize a frame
    def _finalize(self, state, f: int, levels, idx: list[int], task: str) -> None:
        buf = state.pending.pop(f, {})
        tmap = {t.id: t for t in state.targets}
        ids = [tid for tid in buf if tid in tmap]
        if task == "refvos":  # summed logits > 0 (the count only rescales them)
            for tid in ids:
                s, c = buf[tid]
                tmap[tid].masks[f] = state.encode(self._to_output((s / c)[None])[0])
            return
        prompted_here = task in ("vos", "pvos") and any(o["frame"] == f for o in state.video.objects)
        if not ids and not prompted_here:
            return
        logits = torch.stack([buf[i][0] / buf[i][1] for i in ids]) if ids else None
        pool_masks = {}
        if task in ("vos", "pvos"):
            # objects compete per pixel; a prompt mask given on this frame wins its pixels
            result = {}
            if ids:
                full = self._to_input(logits)[:, :self.resized[0], :self.resized[1]]
                if tuple(full.shape[-2:]) != self.out_size:
                    full = F.interpolate(full[None], size=self.out_size, mode="bilinear", align_corners=False)[0]
                best, fg = full.argmax(0), full.amax(0) > 0
                low_best, low_fg = logits.argmax(0), logits.amax(0) > 0
                for i, tid in enumerate(ids):
                    result[tid] = (best == i) & fg
                    pool_masks[tid] = (low_best == i) & low_fg
            for o in state.video.objects:
                if o["frame"] != f or o.get("kind", "mask") != "mask" or o["id"] not in state.by_obj:
                    continue
                reg = torch.as_tensor(np.asarray(o["region"]), device=self.device).bool()
                result = {tid: m & ~reg for tid, m in result.items()}
                result[state.by_obj[o["id"]].id] = reg
            for tid, m in result.items():
                if bool(m.any()):
                    tmap[tid].masks[f] = state.encode(m)
        elif task == "vis":
            out_masks = self._to_output(logits)
            for i, tid in enumerate(ids):
                if bool(out_masks[i].any()):
                    tmap[tid].masks[f] = state.encode(out_masks[i])
                pool_masks[tid] = logits[i] > 0
        elif task == "vps":
            pool_masks = self._panoptic_frame(state, f, ids, logits, tmap)
        # the finalised masks become the targets' prompt tokens of frame f
        if self.cfg.tracker == "vs2p" and f in idx:
            add = [(tid, m) for tid, m in pool_masks.items() if tmap[tid].pooled_upto < f and bool(m.any())]
            if add:
                regions = F.interpolate(torch.stack([m for _, m in add])[None].float(), size=self.padded,
                                        mode="nearest")[0] > 0.5
                tok, pe = self._tokens(levels, idx.index(f), f, regions, ["mask"] * len(add))
                for j, (tid, _) in enumerate(add):
                    tmap[tid].pool.add(tok[j], pe[j])
                    tmap[tid].pooled_upto = f

    def _panoptic_frame(self, state, f: int, ids, logits, tmap) -> dict:
        cfg = self.cfg
        things = state.video.thing_classes or set()
        if logits is None:
            return {}
        scores, classes = [], []
        for tid in ids:
            cs = tmap[tid].logit_sum
            s, c = cs.max(-1)
            scores.append(float(s))
            classes.append(int(c))
        scores = torch.tensor(scores, device=logits.device) * mask_quality(logits)
        for i, tid in enumerate(ids):
            if classes[i] not in things and tid not in state.thing_segments:
                scores[i] *= 0.75
        full = self._to_input(logits)[:, :self.resized[0], :self.resized[1]]
        if tuple(full.shape[-2:]) != self.out_size:
            full = F.interpolate(full[None], size=self.out_size, mode="bilinear", align_corners=False)[0]
        prob_ids = (scores[:, None, None] * full).argmax(0)
        sig = full.sigmoid()
        bg = (sig < 0.5).all(0)
        pool_masks = {}
        for i, tid in enumerate(ids):
            win = (prob_ids == i) & ~bg
            mask = win & (sig[i] >= 0.5)
            area, orig = int(win.sum()), int((sig[i] >= 0.5).sum())
            if area == 0 or orig == 0 or not bool(mask.any()):
                continue
            isthing = classes[i] in things
            if isthing:
                thr = 0.5 * cfg.overlap_threshold if tid in state.thing_segments else cfg.overlap_threshold
                if area / orig < thr:
                    continue
                if tid not in state.thing_segments:
                    state.thing_segments[tid] = state.next_segment(classes[i], True)
                seg = state.thing_segments[tid]
            else:
                if classes[i] not in state.stuff_segments:
                    state.stuff_segments[classes[i]] = state.next_segment(classes[i], False)
                seg = state.stuff_segments[classes[i]]
            state.add_segment_mask(seg, f, mask)
            pool_masks[tid] = logits[i] > 0
        state.flush_segments(f)
        return pool_masks


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
        self.thing_segments: dict[int, dict] = {}
        self.stuff_segments: dict[int, dict] = {}
        self.segments: list[dict] = []
        self._seg_frame: dict[int, Tensor] = {}
        self.semantic: dict[int, dict[int, dict]] = {}

    @staticmethod
    def encode(mask: Tensor) -> dict:
        from univs_bench.io.rle import encode
        return encode(mask.cpu().numpy().astype(np.uint8))

    def next_segment(self, cls: int, isthing: bool) -> dict:
        seg = {"id": len(self.segments) + 1, "class": cls, "isthing": isthing, "masks": {}}
        self.segments.append(seg)
        return seg

    def add_segment_mask(self, seg: dict, f: int, mask: Tensor) -> None:
        prev = self._seg_frame.get(seg["id"])
        self._seg_frame[seg["id"]] = mask if prev is None else (prev | mask)

    def flush_segments(self, f: int) -> None:
        by_id = {s["id"]: s for s in self.segments}
        for sid, m in self._seg_frame.items():
            by_id[sid]["masks"][f] = self.encode(m)
        self._seg_frame = {}

    def semantic_frame(self, f: int, sem: np.ndarray) -> None:
        from univs_bench.io.rle import encode
        for c in np.unique(sem).tolist():
            self.semantic.setdefault(int(c), {})[f] = encode((sem == c).astype(np.uint8))

    def nbytes(self) -> int:
        total = 0
        for t in self.targets:
            if t.pool.first is not None:
                tok, pe = t.pool.dense()
                total += (tok.nelement() + pe.nelement()) * tok.element_size()
            total += sum(e.nelement() * e.element_size() for e in t.embeds)
        for buf in self.pending.values():
            total += sum(s.nelement() * s.element_size() for s, _ in buf.values())
        return total

    def result(self) -> dict:
        return {"targets": self.all_targets, "segments": self.segments, "semantic": self.semantic}
