"""Training losses of UniVS: matched learnable queries, directly supervised prompt queries.

Facts from the official code (MinghanLi/UniVS at 7415d31: ``univs/modeling/video_criterion.py``
(learnable queries), ``video_criterion_prompt.py`` (prompt queries), ``video_criterion_uni.py``
(the split and merge), ``univs_prompt.py`` / ``univs_prompt_longvideo.py`` (weights, stage 3)):

- Outputs are split into the learnable queries (first Q - P) and the prompt queries (last P).
  Learnable queries are Hungarian-matched per layer (every aux layer has its own matching);
  prompt query p is supervised by ground-truth object ``prompt_target[p]`` (-1: no target).
- Class loss ``loss_ce`` = sigmoid focal loss (alpha 0.5, gamma 2) summed over all queries x
  classes of the dataset vocabulary and divided by the number of supervised queries, plus
  softmax cross-entropy over the supervised queries; clips are weighted by their number of
  supervised queries. There is no no-object class. Grounding clips and clips of datasets
  without categories (``has_class=False``: SA-1B, YouTube-VOS, MOSE, ...) get no class loss.
- Mask losses on 12544 points per (object, frame) mask sampled by uncertainty (oversample 3,
  importance 0.5): mean BCE and dice with +1 smoothing, each summed and divided by
  ``num_objects x T`` (all-reduced over ranks; prompt queries: ``num_prompts x T``, padded
  prompts included). Empty GT frames are supervised too (as all background).
- ReID: embeddings of the matched queries of all frames of the clip (frames where the object
  is absent are dropped), similarity ``e_i . e_j / sqrt(D)``, positives = same track in the
  same clip, a sampled log(1 + sum exp(neg - pos)) contrastive loss (``loss_reid``), plus a
  smooth-L1 on cosine similarities against 0/1 (``loss_reid_aux``); the same between
  learnable and prompt queries (``loss_reid_l2p``, ``loss_reid_l2p_aux``) and among prompt
  queries. Negatives are subsampled with ``torch.randperm``, so these losses are stochastic.
- Keys produced by both the learnable and the prompt part are averaged, ``0.5 * (l + p)``,
  whenever prompt queries are enabled, also for a clip with zero prompts (their part is 0).
- Weights: ce 5, mask 5, dice 5, every reid key ``reid_weight`` (0.5 R50, 0.25 Swin);
  stage 3 (``long_video=True``) uses ``0.5 * reid_weight`` for every reid key and adds the
  inter-clip ReID loss over the clips of a video (layer 0 skipped), per-clip losses averaged.
- The random temporal permutation of mask embeddings is not in the criterion: it lives in
  the decoder's prediction head (``forward_prediction_heads`` of
  ``video_mask2former_transformer_decoder_univs.py``: ``mask_embed[:, randperm(T)]`` in
  training, so frame t's mask comes from another frame's query embedding).
- Matcher class cost (``softmax(5 * sigmoid)``) and mask costs: see ``matcher.py``.
"""
from __future__ import annotations

import math
import random
import re

import torch
import torch.nn.functional as F
from torch import nn

from .matcher import VideoHungarianMatcher, class_slice, has_class_supervision
from .point_sample import (
    calculate_uncertainty,
    get_uncertain_point_coords_with_randomness,
    point_sample,
)

REID_KEYS = ("loss_reid", "loss_reid_aux", "loss_reid_l2p", "loss_reid_l2p_aux",
             "loss_reid_interclip", "loss_reid_interclip_aux")


def _category_text(t: dict) -> bool:
    """Text prompts that name a category (detection), not an expression (grounding)."""
    return t.get("prompt_type", "visual") == "text" and t.get("task", "detection") == "detection"


# ----------------------------------------------------------------------------- elementwise
def sigmoid_focal_loss(inputs: torch.Tensor, targets: torch.Tensor, alpha: float = 0.5,
                       gamma: float = 2.0) -> torch.Tensor:
    """Elementwise ``-a_t (1 - p_t)^gamma log p_t`` with ``p_t = sigmoid(+-x)``; not reduced.

    UniVS's ``focal_conf_sigmoid_loss`` with ``is_cls=True`` before its sum over classes:
    ``a_t`` is ``alpha`` on positives and ``1 - alpha`` on negatives.
    """
    targets = targets.to(inputs.dtype)
    logpt = F.logsigmoid(inputs * (targets * 2 - 1))
    pt = logpt.exp()
    at = alpha * targets + (1 - alpha) * (1 - targets)
    return -at * (1 - pt) ** gamma * logpt


def dice_loss(inputs: torch.Tensor, targets: torch.Tensor, num_masks: float) -> torch.Tensor:
    """Sum over rows of ``1 - (2|p t| + 1) / (|p| + |t| + 1)`` with ``p = sigmoid(inputs)``,
    divided by ``num_masks``; rows are masks, columns points."""
    p = inputs.sigmoid().flatten(1)
    t = targets.flatten(1)
    loss = 1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)
    return loss.sum() / num_masks


def sigmoid_ce_loss(inputs: torch.Tensor, targets: torch.Tensor, num_masks: float) -> torch.Tensor:
    """Per-row mean binary cross-entropy with logits, summed over rows / ``num_masks``."""
    loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    return (loss.sum(1) / max(1, loss.shape[1])).sum() / num_masks


def _zero(t: torch.Tensor) -> torch.Tensor:
    return t.sum().detach() * 0


def _pick(idx: torch.Tensor, k: int) -> torch.Tensor:
    return idx[torch.randperm(len(idx), device=idx.device)[:k]]


def contrastive_loss(inputs: torch.Tensor, targets: torch.Tensor, topk: int = 20) -> torch.Tensor:
    """ReID contrastive loss of one clip (UniVS ``contrastive_loss``, clip version).

    ``inputs`` (N, K) similarities, ``targets`` (N, K) 0/1 positives. Rows without a positive
    are dropped. Each row's positives are its first positive and the mean over its positives;
    columns: up to ``0.75 * min(topk, 3N)`` random columns that are someone's positive and
    ``0.25 * ...`` random all-negative columns; loss ``log(1 + sum exp(min(neg - pos, 10)))``
    over the sampled negatives of the row, averaged over rows.
    """
    if inputs.numel() == 0:
        return _zero(inputs)
    inputs, targets = inputs.flatten(1), targets.flatten(1)
    keep = targets.sum(1) > 0
    inputs, targets = inputs[keep], targets[keep]
    n = inputs.shape[0]
    topk = min(topk, 20, 3 * n)
    first_pos = inputs.gather(1, (targets > 0).float().argmax(1, keepdim=True))[:, 0]
    mean_pos = (inputs * targets).sum(-1) / targets.sum(-1).clamp(min=1)
    pos = torch.stack([first_pos, mean_pos], dim=1)  # N, 2
    col_pos = targets.sum(0) > 0
    cols = torch.cat([_pick(torch.nonzero(col_pos).reshape(-1), int(0.75 * topk)),
                      _pick(torch.nonzero(~col_pos).reshape(-1), int(0.25 * topk))]).sort()[0]
    x, neg = inputs[:, cols], (targets[:, cols] == 0)[:, :, None]
    negpos = ((x[:, :, None] - pos[:, None]) * neg).clamp(max=10.0).exp() * neg
    return (1 + negpos.flatten(1).sum(-1)).log().sum() / max(n, 1)


def contrastive_aux_loss(inputs: torch.Tensor, targets: torch.Tensor, topk: int = 20) -> torch.Tensor:
    """Smooth-L1 between clamped cosine similarities and 0/1 targets on sampled columns
    (UniVS ``contrastive_aux_loss``, clip version), summed / number of rows with a positive."""
    if inputs.numel() == 0:
        return _zero(inputs)
    inputs, targets = inputs.flatten(1), targets.flatten(1)
    keep = targets.sum(1) > 0
    inputs, targets = inputs[keep], targets[keep]
    n = inputs.shape[0]
    topk = min(topk, 20, 3 * n)
    col_pos = targets.sum(0) > 0
    cols = torch.cat([_pick(torch.nonzero(col_pos).reshape(-1), int(0.75 * topk)),
                      _pick(torch.nonzero(~col_pos).reshape(-1), int(0.25 * topk))]).sort()[0]
    return F.smooth_l1_loss(inputs[:, cols].clamp(min=0.0), targets[:, cols],
                            reduction="sum") / max(n, 1)


def interclip_contrastive_loss(inputs: torch.Tensor, targets: torch.Tensor, pos_topk: int = 3,
                               topk: int = 30) -> torch.Tensor:
    """Stage-3 contrastive loss (``univs_prompt_longvideo.py``): per row ``pos_topk``
    positives drawn with replacement, up to 30 random columns as negatives."""
    if inputs.numel() == 0:
        return _zero(inputs)
    inputs, targets = inputs.flatten(1), targets.flatten(1)
    n, k = inputs.shape
    neg_topk = min(max(n * pos_topk, topk), 30)
    # Python's ``random`` as officially (``random.choices``): same draws under ``random.seed``
    pos = torch.stack([row[random.choices(torch.nonzero(t).reshape(-1).tolist(), k=pos_topk)]
                       for row, t in zip(inputs, targets)])  # N, pos_topk
    cols = torch.randperm(k, device=inputs.device)[:neg_topk]
    x, neg = inputs[:, cols], (targets[:, cols] == 0)[:, :, None]
    negpos = ((x[:, :, None] - pos[:, None]) * neg).clamp(max=10.0).exp() * neg
    return (1 + negpos.flatten(1).sum(-1)).log().sum() / max(n, 1)


def interclip_contrastive_aux_loss(inputs: torch.Tensor, targets: torch.Tensor, pos_topk: int = 3,
                                   topk: int = 30) -> torch.Tensor:
    """Stage-3 smooth-L1 on up to 30 random columns of clamped cosine similarities."""
    if inputs.numel() == 0:
        return _zero(inputs)
    inputs, targets = inputs.flatten(1), targets.flatten(1)
    n, k = inputs.shape
    cols = torch.randperm(k, device=inputs.device)[:min(max(n * pos_topk, topk), 30)]
    return F.smooth_l1_loss(inputs[:, cols].clamp(min=0.0), targets[:, cols],
                            reduction="sum") / max(n, 1)


def _average_over_ranks(n: float, device: torch.device) -> float:
    import torch.distributed as dist

    x = torch.as_tensor([float(n)], device=device)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(x)
        x = x / dist.get_world_size()
    return max(x.item(), 1.0)


# ----------------------------------------------------------------------------- criterion
class UniVSCriterion(nn.Module):
    """UniVS losses for learnable (matched) and prompt (directly supervised) queries.

    Example config::

        criterion=dict(num_points=12544, oversample_ratio=3.0, importance_sample_ratio=0.5,
                       class_weight=5.0, mask_weight=5.0, dice_weight=5.0, reid_weight=0.5,
                       cost_class=3.0, cost_mask=5.0, cost_dice=5.0, long_video=False)
        criterion = UniVSCriterion(**cfg.criterion)
        losses = criterion(outputs, targets)   # weighted; sum for the total

    ``outputs``: ``pred_logits`` (B, Q, C), ``pred_masks`` (B, Q, T, h, w), ``pred_embds``
    (B, Q, T, D), ``aux_outputs`` (list of the same), optional ``num_prompts`` P (the last P
    queries are prompt queries). ``targets`` (one dict per clip): ``labels`` (N,) 0-based
    class indices, ``masks`` (N, T, H, W), ``ids`` (N,) or (N, T) track ids (per-frame id
    -1 where the object is absent; frames with an empty mask are set to -1 as the official
    target preparation does); with prompts, ``prompt_target`` (P,) indices into the GT list
    or -1. Optional: ``class_range`` (start, n) vocabulary slice of the clip's dataset,
    ``task`` ('detection' | 'grounding' | 'sot'), ``prompt_type`` ('visual' | 'text'; text
    prompts index ``sem_labels``/``sem_masks``, the per-category union masks, built here when
    absent).

    Returned names: ``loss_ce``, ``loss_mask``, ``loss_dice``, ``loss_reid``,
    ``loss_reid_aux``, ``loss_reid_l2p``, ``loss_reid_l2p_aux`` for the last layer and the
    same with ``_{i}`` for aux layer i. For stage 3 pass one ``reid_memory`` (from
    :meth:`new_reid_memory`) to the call of every clip of a video, average the per-clip
    dicts with :meth:`average_clip_losses` and add :meth:`interclip_losses`.
    """

    def __init__(self, num_points: int = 12544, oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.5, class_weight: float = 5.0,
                 mask_weight: float = 5.0, dice_weight: float = 5.0, reid_weight: float = 0.5,
                 cost_class: float = 3.0, cost_mask: float = 5.0, cost_dice: float = 5.0,
                 matcher_num_points: int | None = None, focal_alpha: float = 0.5,
                 focal_gamma: float = 2.0, deep_supervision: bool = True,
                 use_reid: bool = True, long_video: bool = False, reid_topk: int = 20,
                 matcher: nn.Module | None = None):
        super().__init__()
        self.matcher = matcher if matcher is not None else VideoHungarianMatcher(
            cost_class=cost_class, cost_mask=cost_mask, cost_dice=cost_dice,
            num_points=num_points if matcher_num_points is None else matcher_num_points)
        self.num_points = num_points
        self.oversample_ratio = oversample_ratio
        self.importance_sample_ratio = importance_sample_ratio
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.deep_supervision = deep_supervision
        self.use_reid = use_reid
        self.long_video = long_video
        self.reid_topk = reid_topk
        r = 0.5 * reid_weight if long_video else reid_weight
        self.weight_dict = {"loss_ce": class_weight, "loss_mask": mask_weight,
                            "loss_dice": dice_weight, **{k: r for k in REID_KEYS}}

    # ------------------------------------------------------------------ public helpers
    def loss_weight(self, name: str) -> float:
        """Weight of a loss name; aux-layer names ``loss_x_3`` share the weight of ``loss_x``."""
        return self.weight_dict[re.sub(r"_\d+$", "", name)]

    def weighted(self, losses: dict) -> dict:
        """Each loss times its weight."""
        return {k: v * self.loss_weight(k) for k, v in losses.items()}

    @staticmethod
    def new_reid_memory() -> dict:
        """Per-layer store of (embeddings, track ids, clip index) for the inter-clip loss."""
        return {}

    @staticmethod
    def average_clip_losses(per_clip: list[dict]) -> dict:
        """Mean over the clips of a video of each loss (stage 3 averages per-clip losses)."""
        keys = per_clip[0].keys()
        return {k: sum(d[k] for d in per_clip) / len(per_clip) for k in keys}

    def forward(self, outputs: dict, targets: list[dict], reid_memory: dict | None = None) -> dict:
        """Weighted losses of one batch of clips (see the class docstring)."""
        return self.weighted(self.losses(outputs, targets, reid_memory))

    def interclip_losses(self, reid_memory: dict) -> dict:
        """Weighted inter-clip ReID losses over everything stored in ``reid_memory``."""
        return self.weighted(self.interclip_reid(reid_memory))

    # ------------------------------------------------------------------ main
    def losses(self, outputs: dict, targets: list[dict], reid_memory: dict | None = None) -> dict:
        """Unweighted losses."""
        targets = [self._prepare_target(t) for t in targets]
        num_prompts = outputs.get("num_prompts")
        num_prompts = None if num_prompts is None else int(num_prompts)
        pred_masks = outputs["pred_masks"]
        num_frames = pred_masks.shape[2]
        device = pred_masks.device
        aux = list(outputs.get("aux_outputs") or []) if self.deep_supervision else []
        # last layer first, then aux layer i with suffix _i and memory slot i; the last layer's
        # slot is the number of aux layers (9 in UniVS). Same order as the official code, so
        # that the random draws (points, sampled negatives) happen in the same sequence.
        layers = [(outputs, "", len(outputs.get("aux_outputs") or []))]
        layers += [(a, f"_{i}", i) for i, a in enumerate(aux)]
        splits = [self._split(layer, num_prompts) for layer, _, _ in layers]

        num_masks = _average_over_ranks(sum(len(t["labels"]) for t in targets), device) * num_frames
        losses = {}
        for (_, suffix, slot), (learn, prompt) in zip(layers, splits):
            mem = None if reid_memory is None else reid_memory.setdefault(slot, [])
            part = self._learnable_losses(learn, prompt, targets, num_masks, mem)
            losses.update({k + suffix: v for k, v in part.items()})
        if num_prompts is not None:
            num_masks_p = _average_over_ranks(num_prompts * len(targets), device) * num_frames
            for (_, suffix, _), (_, prompt) in zip(layers, splits):
                part = self._prompt_losses(prompt, targets, num_masks_p)
                for k, v in part.items():
                    k = k + suffix
                    losses[k] = 0.5 * (v + losses[k]) if k in losses else v
        return losses

    @staticmethod
    def _split(layer: dict, num_prompts: int | None) -> tuple[dict, dict | None]:
        keys = ("pred_logits", "pred_masks", "pred_embds")
        present = {k: layer[k] for k in keys if layer.get(k) is not None}
        if num_prompts is None:
            return present, None
        q_l = present["pred_masks"].shape[1] - num_prompts
        return ({k: v[:, :q_l] for k, v in present.items()},
                {k: v[:, q_l:] for k, v in present.items()})

    def _prepare_target(self, t: dict) -> dict:
        t = dict(t)
        masks = t["masks"]
        n, num_frames = masks.shape[:2]
        t["labels"] = torch.as_tensor(t["labels"], dtype=torch.int64, device=masks.device)
        ids = t.get("ids")
        ids = torch.arange(n, device=masks.device) if ids is None else \
            torch.as_tensor(ids, device=masks.device).long()
        if ids.dim() == 1:
            ids = ids[:, None].expand(n, num_frames)
        ids = ids.clone()
        ids[masks.flatten(2).sum(-1) == 0] = -1
        t["ids"] = ids
        if "prompt_target" in t:
            t["prompt_target"] = torch.as_tensor(t["prompt_target"], dtype=torch.int64,
                                                 device=masks.device)
        if _category_text(t) and "sem_masks" not in t:
            sem_labels = t["labels"].unique()
            same = (sem_labels[:, None] == t["labels"][None]).float()
            t["sem_labels"] = sem_labels
            t["sem_masks"] = torch.einsum("kn,nthw->kthw", same, masks.float()) > 0
        return t

    # ------------------------------------------------------------------ class
    def _class_loss(self, logits_b: torch.Tensor, targets: list[dict], rows: list[torch.Tensor],
                    labels: list[torch.Tensor]) -> torch.Tensor:
        """Focal + CE per clip, weighted by each clip's share of supervised queries."""
        per_clip, counts = [], []
        for t, logits, r, lab in zip(targets, logits_b, rows, labels):
            if logits.shape[0] == 0 or not has_class_supervision(t) or r is None:
                continue
            logits = class_slice(logits, t)
            onehot = torch.zeros_like(logits)
            onehot[r.to(logits.device), lab.to(logits.device)] = 1
            loss = sigmoid_focal_loss(logits, onehot, self.focal_alpha, self.focal_gamma)
            loss = loss.sum() / max(len(lab), 1)
            if len(lab):
                loss = loss + F.cross_entropy(logits[r], lab.to(logits.device))
            per_clip.append(loss)
            counts.append(len(lab))
        if not per_clip:
            return _zero(logits_b[:0])
        total = max(sum(counts), 1)
        return sum(c / total * l for c, l in zip(counts, per_clip))

    # ------------------------------------------------------------------ masks
    def _mask_losses(self, src: torch.Tensor, tgt: torch.Tensor, num_masks: float) -> dict:
        """BCE + dice on importance-sampled points of (N, T, h, w) logits vs (N, T, H, W) GT."""
        src = src.flatten(0, 1)[:, None]
        tgt = tgt.flatten(0, 1)[:, None].to(src)
        with torch.no_grad():
            coords = get_uncertain_point_coords_with_randomness(
                src, calculate_uncertainty, self.num_points, self.oversample_ratio,
                self.importance_sample_ratio)
            labels = point_sample(tgt, coords, align_corners=False).squeeze(1)
        logits = point_sample(src, coords, align_corners=False).squeeze(1)
        return {"loss_mask": sigmoid_ce_loss(logits, labels, num_masks),
                "loss_dice": dice_loss(logits, labels, num_masks)}

    def _semantic_mask_ce(self, pred_masks: torch.Tensor, targets: list[dict]) -> torch.Tensor:
        """Text prompts: per-pixel CE across the prompt masks of each frame
        (``loss_masks_sem``), on points sampled by the uncertainty of the max prompt logit."""
        src = pred_masks.transpose(1, 2)  # B, T, P, h, w
        if src.numel() == 0:
            return _zero(src[:0])
        sem = []
        with torch.no_grad():
            for t in targets:
                valid = t["prompt_target"] >= 0
                size = t["masks"].shape[1:]
                if len(t["sem_masks"]) == 0 or not valid.any():
                    sem.append(torch.full(size, -1, dtype=torch.float32, device=src.device))
                    continue
                m = t["sem_masks"][t["prompt_target"][valid]].to(src.device)
                # index within the valid prompts: padding prompts come last in UniVS
                s = m.float().argmax(0).float()
                s[m.sum(0) == 0] = -1
                sem.append(s)
            sem = torch.stack(sem).flatten(0, 1)[:, None]  # (B T), 1, H, W
            flat = src.flatten(0, 1)
            coords = get_uncertain_point_coords_with_randomness(
                flat.max(1)[0][:, None], calculate_uncertainty, self.num_points,
                self.oversample_ratio, self.importance_sample_ratio)
            labels = point_sample(sem, coords, mode="nearest", align_corners=False).flatten()
        logits = point_sample(src.flatten(0, 1), coords, align_corners=False)
        logits = logits.transpose(1, 2).flatten(0, 1)  # (B T K), P
        keep = labels != -1
        loss = F.cross_entropy(logits[keep], labels[keep].long(), reduction="none")
        return loss.sum() / max(1, int(keep.sum()))

    # ------------------------------------------------------------------ learnable queries
    def _learnable_losses(self, out: dict, prompt: dict | None, targets: list[dict],
                          num_masks: float, mem: list | None) -> dict:
        indices = self.matcher(out, targets)
        losses = {}
        if "pred_logits" in out:
            losses["loss_ce"] = self._class_loss(
                out["pred_logits"], targets, [s for s, _ in indices],
                [t["labels"][j] for t, (_, j) in zip(targets, indices)])
        pred = out["pred_masks"]
        b_idx = torch.cat([torch.full_like(s, i) for i, (s, _) in enumerate(indices)]).to(pred.device)
        s_idx = torch.cat([s for s, _ in indices]).to(pred.device)
        tgt = torch.cat([t["masks"][j] for t, (_, j) in zip(targets, indices)])
        losses.update(self._mask_losses(pred[b_idx, s_idx], tgt, num_masks))
        if self.use_reid and "pred_embds" in out:
            losses.update(self._reid_learnable(out["pred_embds"], prompt, targets, indices,
                                               b_idx, s_idx, mem))
        return losses

    def _reid_learnable(self, embds: torch.Tensor, prompt: dict | None, targets: list[dict],
                        indices, b_idx, s_idx, mem: list | None) -> dict:
        device, num_frames, dim = embds.device, embds.shape[2], embds.shape[-1]
        src = embds[b_idx, s_idx].flatten(0, -2)  # N T, D
        ids = torch.cat([t["ids"][j] for t, (_, j) in zip(targets, indices)]).to(device).flatten()
        vids = b_idx[:, None].expand(-1, num_frames).flatten()
        keep = ids >= 0
        src, ids, vids = src[keep], ids[keep], vids[keep]
        same = ((ids[:, None] == ids[None]) & (vids[:, None] == vids[None])).float()
        losses = {"loss_reid": contrastive_loss(src @ src.t() / math.sqrt(dim), same, self.reid_topk)}
        nrm = F.normalize(src, p=2, dim=-1)
        rows = same.sum(-1) > 0
        losses["loss_reid_aux"] = contrastive_aux_loss((nrm @ nrm.t())[rows], same[rows],
                                                       self.reid_topk)
        if prompt is not None:
            losses.update(self._reid_l2p(embds, indices, b_idx, s_idx, (src, ids, vids),
                                         prompt["pred_embds"], targets, mem))
        if mem is not None:  # after the prompt embeddings, as officially (shuffled later anyway)
            mem.append((src, ids, vids))
        return losses

    def _reid_l2p(self, embds_l, indices, b_idx, s_idx, kept_l, embds_p, targets, mem) -> dict:
        """Learnable-to-prompt ReID: a matched learnable query and a prompt query of the same
        object (text prompts: the same category) are positives."""
        if embds_p.numel() == 0:
            z = _zero(embds_p)
            return {"loss_reid_l2p": z, "loss_reid_l2p_aux": z}
        device = embds_p.device
        bs, num_p, num_frames, dim = embds_p.shape
        text = targets[0].get("task", "detection") == "detection" \
            and targets[0].get("prompt_type", "visual") == "text"
        vids_p = torch.arange(bs, device=device)[:, None].expand(bs, num_p * num_frames).flatten()
        if text:
            # categories, not tracks: every frame of a matched query counts, absent or not
            src = embds_l[b_idx, s_idx].flatten(0, -2)
            ids_l = torch.cat([t["labels"][j] for t, (_, j) in zip(targets, indices)])
            ids_l = ids_l.to(device)[:, None].expand(-1, num_frames).flatten()
            vids_l = b_idx[:, None].expand(-1, num_frames).flatten()
            ids_p, valid_p = [], []
            for t in targets:
                pt = t["prompt_target"]
                lab = torch.full_like(pt, -1)
                lab[pt >= 0] = t["sem_labels"][pt[pt >= 0]].to(pt.device)
                ids_p.append(lab)
                valid_p.append(pt >= 0)
            ids_p = torch.stack(ids_p)[..., None].expand(-1, -1, num_frames).flatten().to(device)
            keep_p = torch.stack(valid_p)[..., None].expand(-1, -1, num_frames).flatten().to(device)
        else:
            src, ids_l, vids_l = kept_l
            ids_p = []
            for t in targets:
                pt = t["prompt_target"]
                cur = torch.full((len(pt), num_frames), -1, dtype=torch.int64, device=pt.device)
                cur[pt >= 0] = t["ids"][pt[pt >= 0]].to(pt.device)
                ids_p.append(cur)
            ids_p = torch.stack(ids_p).flatten().to(device)
            keep_p = ids_p >= 0
        emb_p = embds_p.flatten(0, -2)[keep_p]
        ids_p, vids_p = ids_p[keep_p], vids_p[keep_p]
        same = ((ids_l[:, None] == ids_p[None]) & (vids_l[:, None] == vids_p[None])).float()
        losses = {"loss_reid_l2p": contrastive_loss(src @ emb_p.t() / math.sqrt(dim), same,
                                                    self.reid_topk)}
        if text:
            losses["loss_reid_l2p_aux"] = _zero(src[:0])
        else:
            sim = F.normalize(src, p=2, dim=-1) @ F.normalize(emb_p, p=2, dim=-1).t()
            rows = same.sum(-1) > 0
            losses["loss_reid_l2p_aux"] = contrastive_aux_loss(sim[rows], same[rows], self.reid_topk)
            if mem is not None:
                mem.append((emb_p, ids_p, vids_p))
        return losses

    # ------------------------------------------------------------------ prompt queries
    def _prompt_losses(self, out: dict, targets: list[dict], num_masks: float) -> dict:
        pred = out["pred_masks"]
        device = pred.device
        num_p = pred.shape[1]
        # category names prompt a class (its union mask); an expression prompts one object
        text = [_category_text(t) for t in targets]
        src_gt = ["sem_masks" if tx else "masks" for tx in text]
        src_lab = ["sem_labels" if tx else "labels" for tx in text]
        pts = [t["prompt_target"] for t in targets] if num_p else \
            [torch.zeros(0, dtype=torch.int64) for _ in targets]
        for i, p in enumerate(pts):
            if len(p) != num_p:
                raise ValueError(f"target {i}: prompt_target has {len(p)} entries for "
                                 f"{num_p} prompt queries")
        losses = {}
        if "pred_logits" in out:
            rows = [torch.nonzero(p >= 0).reshape(-1) if (p >= 0).any() else None for p in pts]
            labels = [t[k][p[p >= 0]] for t, k, p in zip(targets, src_lab, pts)]
            losses["loss_ce"] = self._class_loss(out["pred_logits"], targets, rows, labels)
        b_idx = torch.cat([torch.full((int((p >= 0).sum()),), i, dtype=torch.int64)
                           for i, p in enumerate(pts)]).to(device)
        s_idx = torch.cat([torch.nonzero(p >= 0).reshape(-1).cpu() for p in pts]).to(device)
        if len(b_idx):
            tgt = torch.cat([t[k][p[p >= 0]].to(device) for t, k, p in zip(targets, src_gt, pts)])
        else:
            tgt = torch.zeros((0,) + tuple(pred.shape[2:]), device=device)
        losses.update(self._mask_losses(pred[b_idx, s_idx], tgt, num_masks))
        if targets[0].get("task", "detection") == "detection" and text[0]:
            losses["loss_mask"] = losses["loss_mask"] + self._semantic_mask_ce(pred, targets)
        if torch.isnan(losses["loss_mask"]).any():
            losses["loss_mask"] = losses["loss_mask"] * 0.0  # the official guard
        if self.use_reid and "pred_embds" in out:
            losses.update(self._reid_prompt(out["pred_embds"], pts))
        return losses

    def _reid_prompt(self, embds: torch.Tensor, pts: list[torch.Tensor]) -> dict:
        """Prompt queries of the same target (``prompt_target``, on every frame) are positives."""
        if embds.numel() == 0:
            z = _zero(embds)
            return {"loss_reid": z, "loss_reid_aux": z}
        device = embds.device
        bs, num_p, num_frames, dim = embds.shape
        e = embds.flatten(0, -2)
        ids = torch.stack(pts).to(device)[..., None].expand(-1, -1, num_frames).flatten()
        vids = torch.arange(bs, device=device)[:, None].expand(bs, num_p * num_frames).flatten()
        keep = ids >= 0
        e, ids, vids = e[keep], ids[keep], vids[keep]
        same = ((ids[:, None] == ids[None]) & (vids[:, None] == vids[None])).float()
        nrm = F.normalize(e, p=2, dim=-1)
        rows = same.sum(-1) > 0
        return {"loss_reid": contrastive_loss(e @ e.t() / math.sqrt(dim), same, self.reid_topk),
                "loss_reid_aux": contrastive_aux_loss((nrm @ nrm.t())[rows], same[rows],
                                                      self.reid_topk)}

    # ------------------------------------------------------------------ stage 3
    def interclip_reid(self, reid_memory: dict) -> dict:
        """Unweighted inter-clip ReID losses (``interclip_reid_loss`` of the long-video model).

        For each stored layer except slot 0 (the official code skips it): shuffle all stored
        embeddings, take the first embedding of each track as anchor, and apply the stage-3
        contrastive and aux losses of the anchors against everything stored. The last slot
        gives ``loss_reid_interclip(_aux)``, slot l gives ``loss_reid_interclip(_aux)_l``.
        """
        losses = {}
        if not reid_memory:
            return losses
        last = max(reid_memory)
        for slot in sorted(reid_memory):
            if slot == 0 or not reid_memory[slot]:
                continue
            e = torch.cat([m[0] for m in reid_memory[slot]])
            ids = torch.cat([m[1] for m in reid_memory[slot]])
            vids = torch.cat([m[2] for m in reid_memory[slot]])
            perm = torch.randperm(len(ids), device=ids.device)
            e, ids, vids = e[perm], ids[perm], vids[perm]
            key = torch.stack([vids, ids], 1)
            uniq = torch.unique(key[ids >= 0], dim=0)
            if len(uniq) == 0:
                ctt = aux = _zero(e[:0])
            else:
                same = (uniq[:, None] == key[None]).all(-1).float()
                anchor = same.argmax(-1)
                ctt = interclip_contrastive_loss(e[anchor] @ e.t() / math.sqrt(e.shape[-1]), same)
                nrm = F.normalize(e, p=2, dim=-1)
                aux = interclip_contrastive_aux_loss(nrm[anchor] @ nrm.t(), same)
            sfx = "" if slot == last else f"_{slot}"
            losses["loss_reid_interclip" + sfx] = ctt
            losses["loss_reid_interclip_aux" + sfx] = aux
        return losses
