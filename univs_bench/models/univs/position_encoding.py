"""Sine positional encodings: 2D (pixel decoder) and 3D (video mask decoder, prompt points).

Facts from the official code (UniVS @7415d31): the pixel decoder uses Mask2Former's 2D sine
encoding (normalised cumulative coordinates times 2*pi, temperature 10000, ``cat(pos_y, pos_x)``
with interleaved sin/cos); the video decoder uses ``PositionEmbeddingSine3DArbitraryT``
(``MODEL.UniVS.POSITION_EMBEDDING_SINE3D = 'ArbitraryT'``): the same spatial sine plus a
temporal sine over all ``2 * num_pos_feats`` channels of the *absolute* frame index divided by
``num_max_frames`` (128) times 2*pi, so that prompts from any earlier frame keep a meaningful
temporal code (transformer_decoder/position_encoding.py).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _sine(coords: Tensor, num_feats: int, temperature: float) -> Tensor:
    """Interleaved sin/cos of ``coords[..., None] / temperature**(2*(i//2)/num_feats)``."""
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=coords.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_feats)
    pos = coords.float()[..., None] / dim_t
    return torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(-2)


def _normalised_grid(h: int, w: int, device, scale: float) -> tuple[Tensor, Tensor]:
    eps = 1e-6
    y = torch.arange(1, h + 1, dtype=torch.float32, device=device)
    x = torch.arange(1, w + 1, dtype=torch.float32, device=device)
    y = y / (h + eps) * scale
    x = x / (w + eps) * scale
    return y[:, None].expand(h, w), x[None, :].expand(h, w)


class PositionEmbeddingSine2D(nn.Module):
    """2D sine encoding of a ``(B, C, H, W)`` map -> ``(B, 2*num_pos_feats, H, W)``."""

    def __init__(self, num_pos_feats: int = 128, temperature: float = 10000.0,
                 scale: float = 2 * math.pi):
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        y_embed, x_embed = _normalised_grid(h, w, x.device, self.scale)
        pos = torch.cat((_sine(y_embed, self.num_pos_feats, self.temperature),
                         _sine(x_embed, self.num_pos_feats, self.temperature)), dim=-1)
        return pos.permute(2, 0, 1)[None].expand(b, -1, -1, -1).to(x.dtype)


class PositionEmbeddingSine3D(nn.Module):
    """Spatial sine + temporal sine of the absolute frame index ('ArbitraryT').

    ``forward(x, frame_indices)``: ``x`` is ``(B, T, C, H, W)``, ``frame_indices`` ``(B, T)``
    (default ``arange(T)``); returns ``(B, T, 2*num_pos_feats, H, W)``. With ``fixed_t`` set
    ('FixedT', official ``PositionEmbeddingSine3D`` with normalize=True, used by the Swin-L VIS
    runs) the temporal code is clip-relative: (t + 1) / (T + 1e-6) * 2 pi for frame t of the
    clip, whatever the frame indices.
    """

    def __init__(self, num_pos_feats: int = 128, num_max_frames: int = 128,
                 temperature: float = 10000.0, scale: float = 2 * math.pi):
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.num_max_frames = num_max_frames
        self.temperature = temperature
        self.scale = scale
        self.fixed_t = False

    def temporal(self, frame_indices: Tensor) -> Tensor:
        """``(...,)`` frame indices -> ``(..., 2*num_pos_feats)`` temporal code."""
        z = frame_indices.float() / self.num_max_frames * self.scale
        return _sine(z, 2 * self.num_pos_feats, self.temperature)

    def forward(self, x: Tensor, frame_indices: Tensor | None = None) -> Tensor:
        b, t, _, h, w = x.shape
        if frame_indices is None:
            frame_indices = torch.arange(t, device=x.device)[None].expand(b, t)
        y_embed, x_embed = _normalised_grid(h, w, x.device, self.scale)
        spatial = torch.cat((_sine(y_embed, self.num_pos_feats, self.temperature),
                             _sine(x_embed, self.num_pos_feats, self.temperature)), dim=-1)
        if self.fixed_t:
            z = torch.arange(1, t + 1, dtype=torch.float32, device=x.device) / (t + 1e-6) * self.scale
            temporal = _sine(z, 2 * self.num_pos_feats, self.temperature)[None].expand(b, -1, -1)
        else:
            temporal = self.temporal(frame_indices.to(x.device))  # B, T, C
        pos = spatial[None, None] + temporal[:, :, None, None, :]
        return pos.permute(0, 1, 4, 2, 3).to(x.dtype)

    def forward_points(self, xy: Tensor, frame_indices: Tensor) -> Tensor:
        """Codes of normalised points ``xy`` (N, 2) in [0, 1] (x, y) at ``frame_indices`` (T,)
        -> ``(T, N, C)``; matches ``forward`` at pixel centres up to the cumsum normalisation."""
        y = _sine(xy[:, 1] * self.scale, self.num_pos_feats, self.temperature)
        x = _sine(xy[:, 0] * self.scale, self.num_pos_feats, self.temperature)
        spatial = torch.cat((y, x), dim=-1)
        return spatial[None] + self.temporal(frame_indices.reshape(-1))[:, None]

    def forward_points_fixed(self, xy: Tensor, clip_pos: int, clip_len: int) -> Tensor:
        """'FixedT' codes of normalised points ``xy`` (N, 2) on the frame at position ``clip_pos``
        of a ``clip_len``-frame clip -> ``(N, C)``: temporal code (clip_pos + 1) / (clip_len +
        1e-6) * 2 pi (official ``get_mask_prompt`` with FixedT: ``forward_points_with_size`` over
        SAMPLING_FRAME_NUM frames, row ``key_fid``)."""
        y = _sine(xy[:, 1] * self.scale, self.num_pos_feats, self.temperature)
        x = _sine(xy[:, 0] * self.scale, self.num_pos_feats, self.temperature)
        z = torch.tensor([(clip_pos + 1) / (clip_len + 1e-6) * self.scale], dtype=torch.float32, device=xy.device)
        return torch.cat((y, x), dim=-1) + _sine(z, 2 * self.num_pos_feats, self.temperature)
