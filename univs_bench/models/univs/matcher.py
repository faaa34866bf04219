"""Clip-level Hungarian matching of learnable queries to ground-truth objects.

Facts (UniVS ``univs/modeling/video_matcher.py``, ``VideoHungarianMatcherUni``, commit 7415d31):

- one assignment per clip: a query is matched to a whole object track (all T frames);
- mask costs are computed on ``num_points`` (12544) uniform random points shared by every
  query, every target and every frame of the clip: sigmoid BCE averaged over the T x P
  sampled values, and dice with +1 smoothing on both numerator and denominator;
- the class cost is not a focal cost: the logits of the dataset's vocabulary are passed
  through a sigmoid, then ``softmax(5 * p)`` over classes, and the cost is ``-prob[target]``;
  it is skipped (0) for clips without class supervision (see ``has_class_supervision``);
- weights 3 (class), 5 (mask BCE), 5 (dice); costs in float32; scipy's
  ``linear_sum_assignment`` on the (Q, N) cost matrix.
"""
from __future__ import annotations

import torch
from torch import nn

from .point_sample import point_sample


def batch_dice_cost(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Pairwise dice cost between mask logits (Q, K) and binary targets (N, K) -> (Q, N)."""
    inputs = inputs.sigmoid().flatten(1)
    targets = targets.flatten(1)
    numerator = 2 * inputs @ targets.t()
    denominator = inputs.sum(-1)[:, None] + targets.sum(-1)[None, :]
    return 1 - (numerator + 1) / (denominator + 1)


def batch_sigmoid_ce_cost(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Pairwise mean binary cross-entropy between logits (Q, K) and targets (N, K) -> (Q, N)."""
    k = inputs.shape[1]
    # softplus(-x) = -log(sigmoid(x)), softplus(x) = -log(1 - sigmoid(x))
    pos = torch.nn.functional.softplus(-inputs)
    neg = torch.nn.functional.softplus(inputs)
    return (pos @ targets.t() + neg @ (1 - targets).t()) / max(k, 1)


def class_slice(logits: torch.Tensor, target: dict) -> torch.Tensor:
    """Logits restricted to the target's dataset vocabulary ``target['class_range']`` = (start, n).

    UniVS keeps one open vocabulary of all training datasets and slices each dataset's
    categories out of it for the losses and the matching cost; without ``class_range`` the
    whole last dimension is the vocabulary.
    """
    rng = target.get("class_range")
    if rng is None:
        return logits
    start, num = int(rng[0]), int(rng[1])
    return logits[..., start:start + num]


def has_class_supervision(target: dict) -> bool:
    """Whether a clip's class logits are supervised (class loss and class matching cost).

    UniVS skips both for clips of datasets outside its category table (SOT/VOS data such as
    SA-1B, YouTube-VOS, MOSE, and the referring datasets): such targets carry
    ``has_class=False``. Grounding clips (``task='grounding'``) never get a class loss.
    """
    return bool(target.get("has_class", True)) and target.get("task", "detection") != "grounding"


class VideoHungarianMatcher(nn.Module):
    """Match learnable queries to ground-truth tracks of each clip.

    Example::

        matcher = VideoHungarianMatcher(cost_class=3.0, cost_mask=5.0, cost_dice=5.0,
                                        num_points=12544)
        indices = matcher(outputs, targets)  # [(query_idx, gt_idx), ...] per clip

    ``outputs['pred_logits']`` is (B, Q, C), ``outputs['pred_masks']`` (B, Q, T, h, w);
    each target holds ``labels`` (N,) class indices (0-based into C, or into its
    ``class_range``) and ``masks`` (N, T, H, W) at any resolution (coordinates are
    normalised, so stride-4 predictions and full-size masks are compared directly).
    """

    def __init__(self, cost_class: float = 3.0, cost_mask: float = 5.0, cost_dice: float = 5.0,
                 num_points: int = 12544, class_softmax_scale: float = 5.0):
        super().__init__()
        if cost_class == 0 and cost_mask == 0 and cost_dice == 0:
            raise ValueError("VideoHungarianMatcher: all costs are 0")
        self.cost_class = cost_class
        self.cost_mask = cost_mask
        self.cost_dice = cost_dice
        self.num_points = num_points
        self.class_softmax_scale = class_softmax_scale

    @torch.no_grad()
    def cost_matrix(self, outputs: dict, targets: list[dict], b: int) -> torch.Tensor | None:
        """The (Q, N) matching cost of clip ``b``, or None when it has no target or query."""
        from torch.amp import autocast

        out_mask = outputs["pred_masks"][b]  # Q, T, h, w
        tgt = targets[b]
        labels = tgt["labels"]
        if len(labels) == 0 or out_mask.numel() == 0:
            return None
        q = out_mask.shape[0]
        cost_class = 0.0
        if "pred_logits" in outputs and outputs["pred_logits"] is not None \
                and has_class_supervision(tgt):
            prob = class_slice(outputs["pred_logits"][b], tgt).float().sigmoid()
            prob = (prob * self.class_softmax_scale).softmax(-1)
            cost_class = -prob[:, labels.to(prob.device).long()]

        tgt_mask = tgt["masks"].to(device=out_mask.device, dtype=out_mask.dtype)
        coords = torch.rand(1, self.num_points, 2, device=out_mask.device)
        tgt_pts = point_sample(tgt_mask, coords.expand(tgt_mask.shape[0], -1, -1),
                               align_corners=False).flatten(1)
        out_pts = point_sample(out_mask, coords.expand(q, -1, -1),
                               align_corners=False).flatten(1)
        with autocast(device_type=out_mask.device.type, enabled=False):
            out_pts = out_pts.float()
            tgt_pts = tgt_pts.float()
            cost_mask = batch_sigmoid_ce_cost(out_pts, tgt_pts)
            cost_dice = batch_dice_cost(out_pts, tgt_pts)
        c = self.cost_mask * cost_mask + self.cost_dice * cost_dice + self.cost_class * cost_class
        return c.reshape(q, -1)

    @torch.no_grad()
    def forward(self, outputs: dict, targets: list[dict]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per clip, ``(query_indices, target_indices)`` int64 tensors of equal length."""
        from scipy.optimize import linear_sum_assignment

        indices = []
        for b in range(outputs["pred_masks"].shape[0]):
            c = self.cost_matrix(outputs, targets, b)
            if c is None:
                empty = torch.zeros(0, dtype=torch.int64)
                indices.append((empty, empty.clone()))
                continue
            i, j = linear_sum_assignment(c.cpu().numpy())
            indices.append((torch.as_tensor(i, dtype=torch.int64),
                            torch.as_tensor(j, dtype=torch.int64)))
        return indices

    def extra_repr(self) -> str:
        return (f"cost_class={self.cost_class}, cost_mask={self.cost_mask}, "
                f"cost_dice={self.cost_dice}, num_points={self.num_points}")
