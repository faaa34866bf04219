"""Multi-scale deformable attention (Deformable DETR) in plain PyTorch.

Parameter names follow the official ``MSDeformAttn`` (sampling_offsets, attention_weights,
value_proj, output_proj) so Mask2Former/UniVS checkpoints load unchanged. The sampling core
uses ``F.grid_sample`` (bilinear, zero padding, ``align_corners=False``), which is what the
official CUDA kernel computes; ``ms_deform_attn_core`` is the single function a faster kernel
may replace when a GPU is present.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def ms_deform_attn_core(value: Tensor, spatial_shapes: list[tuple[int, int]],
                        sampling_locations: Tensor, attention_weights: Tensor) -> Tensor:
    """Sample and mix.

    value (N, S, M, D); sampling_locations (N, Lq, M, L, P, 2) in [0, 1] (x, y);
    attention_weights (N, Lq, M, L, P) -> (N, Lq, M*D).

    The same sampling as the official pure-PyTorch reference (``ms_deform_attn_core_pytorch``:
    one ``grid_sample`` per level), but each level's samples are mixed by a batched matmul with
    its weights and accumulated, instead of stacking all levels' samples first (less memory
    traffic; equal to it up to float rounding, see benchmarks/README.md).
    """
    n, _, m, d = value.shape
    _, lq, _, n_levels, n_points, _ = sampling_locations.shape
    values = value.split([h * w for h, w in spatial_shapes], dim=1)
    grids = 2 * sampling_locations - 1
    out = None
    for lvl, (h, w) in enumerate(spatial_shapes):
        v = values[lvl].flatten(2).transpose(1, 2).reshape(n * m, d, h, w)
        g = grids[:, :, :, lvl].transpose(1, 2).flatten(0, 1)  # N*M, Lq, P, 2
        sampled = F.grid_sample(v, g, mode="bilinear", padding_mode="zeros",
                                align_corners=False)  # N*M, D, Lq, P
        wl = attention_weights[:, :, :, lvl].transpose(1, 2).reshape(n * m, lq, n_points, 1)
        part = torch.matmul(sampled.permute(0, 2, 1, 3), wl)  # N*M, Lq, D, 1
        out = part if out is None else out + part
    return out.view(n, m, lq, d).permute(0, 2, 1, 3).reshape(n, lq, m * d)


class MSDeformAttn(nn.Module):
    """Multi-scale deformable attention with 2-d reference points.

    Example::

        attn = MSDeformAttn(d_model=256, n_levels=3, n_heads=8, n_points=4)
    """

    def __init__(self, d_model: int = 256, n_levels: int = 4, n_heads: int = 8,
                 n_points: int = 4):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.d_model, self.n_levels, self.n_heads, self.n_points = d_model, n_levels, n_heads, n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Official init: zero offsets weights, bias = heads' directions scaled by point index."""
        nn.init.constant_(self.sampling_offsets.weight, 0.0)
        if self.sampling_offsets.bias.is_meta:
            return
        thetas = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = (grid / grid.abs().max(-1, keepdim=True)[0]).view(self.n_heads, 1, 1, 2)
        grid = grid.repeat(1, self.n_levels, self.n_points, 1)
        grid = grid * torch.arange(1, self.n_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.view(-1))
        nn.init.constant_(self.attention_weights.weight, 0.0)
        nn.init.constant_(self.attention_weights.bias, 0.0)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.constant_(self.value_proj.bias, 0.0)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.constant_(self.output_proj.bias, 0.0)

    def forward(self, query: Tensor, reference_points: Tensor, input_flatten: Tensor,
                spatial_shapes: list[tuple[int, int]],
                input_padding_mask: Tensor | None = None) -> Tensor:
        """query (N, Lq, C); reference_points (N, Lq, L, 2) in [0, 1]; input_flatten
        (N, sum HW, C); spatial_shapes [(H, W)] per level -> (N, Lq, C)."""
        n, lq, _ = query.shape
        _, s, _ = input_flatten.shape
        if sum(h * w for h, w in spatial_shapes) != s:
            raise ValueError("spatial_shapes do not match the flattened input length")
        value = self.value_proj(input_flatten)
        if input_padding_mask is not None:
            value = value.masked_fill(input_padding_mask[..., None], 0.0)
        value = value.view(n, s, self.n_heads, self.d_model // self.n_heads)
        offsets = self.sampling_offsets(query).view(
            n, lq, self.n_heads, self.n_levels, self.n_points, 2)
        weights = self.attention_weights(query).view(
            n, lq, self.n_heads, self.n_levels * self.n_points).softmax(-1)
        weights = weights.view(n, lq, self.n_heads, self.n_levels, self.n_points)
        normaliser = torch.tensor([[w, h] for h, w in spatial_shapes],
                                  dtype=offsets.dtype, device=offsets.device)
        locations = (reference_points[:, :, None, :, None, :]
                     + offsets / normaliser[None, None, None, :, None, :])
        out = ms_deform_attn_core(value, spatial_shapes, locations, weights)
        return self.output_proj(out)
