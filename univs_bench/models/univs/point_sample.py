"""Point sampling for the point-wise mask losses and matching costs (PointRend style).

Facts (detectron2 ``projects/PointRend/point_rend/point_features.py``, used by Mask2Former
and UniVS): coordinates lie in [0, 1] x [0, 1] as (x, y) and are read with
``grid_sample(align_corners=False)``, so (0, 0) is the outer corner of the top-left pixel;
importance sampling draws ``oversample_ratio * num_points`` uniform points, keeps the
``importance_sample_ratio * num_points`` most uncertain ones and fills the rest with fresh
uniform points.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def point_sample(input: torch.Tensor, point_coords: torch.Tensor, **kwargs) -> torch.Tensor:
    """Bilinearly read ``input`` (N, C, H, W) at [0, 1]-normalised (x, y) ``point_coords``.

    ``point_coords`` is (N, P, 2) -> returns (N, C, P), or (N, Hg, Wg, 2) -> (N, C, Hg, Wg).
    Extra keyword arguments go to ``F.grid_sample`` (callers pass ``align_corners=False``).
    """
    squeeze = point_coords.dim() == 3
    if squeeze:
        point_coords = point_coords.unsqueeze(2)
    out = F.grid_sample(input, 2.0 * point_coords - 1.0, **kwargs)
    return out.squeeze(3) if squeeze else out


def calculate_uncertainty(logits: torch.Tensor) -> torch.Tensor:
    """Uncertainty of class-agnostic mask logits (R, 1, ...): ``-|logit|`` (0 is most uncertain)."""
    assert logits.shape[1] == 1
    return -logits.abs()


def get_uncertain_point_coords_with_randomness(
    coarse_logits: torch.Tensor,
    uncertainty_func: Callable[[torch.Tensor], torch.Tensor],
    num_points: int,
    oversample_ratio: float,
    importance_sample_ratio: float,
) -> torch.Tensor:
    """Sample (N, num_points, 2) [0, 1] coordinates biased towards uncertain points.

    ``coarse_logits`` is (N, C, H, W); ``uncertainty_func`` maps sampled logits (N, C, P) to
    (N, 1, P). The first ``int(importance_sample_ratio * num_points)`` points of each row are
    the most uncertain of ``int(num_points * oversample_ratio)`` uniform candidates; the rest
    are new uniform points.
    """
    assert oversample_ratio >= 1
    assert 0 <= importance_sample_ratio <= 1
    n = coarse_logits.shape[0]
    device = coarse_logits.device
    num_sampled = int(num_points * oversample_ratio)
    coords = torch.rand(n, num_sampled, 2, device=device)
    uncertainty = uncertainty_func(point_sample(coarse_logits, coords, align_corners=False))
    num_uncertain = int(importance_sample_ratio * num_points)
    num_random = num_points - num_uncertain
    idx = torch.topk(uncertainty[:, 0, :], k=num_uncertain, dim=1)[1]
    picked = torch.gather(coords, 1, idx.unsqueeze(-1).expand(-1, -1, 2))
    if num_random > 0:
        picked = torch.cat([picked, torch.rand(n, num_random, 2, device=device)], dim=1)
    return picked
