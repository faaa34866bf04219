"""Mask2Former's multi-scale deformable-attention pixel decoder (``MSDeformAttnPixelDecoder``).

Facts (mask2former/modeling/pixel_decoder/msdeformattn.py, UniVS Base.yaml): the encoder runs
on res3..res5 (3 levels, ordered low to high resolution: res5, res4, res3), each projected by
``Conv1x1 + GroupNorm(32)``; 6 layers of deformable self-attention (8 heads, 4 points, post-norm,
FFN 1024, ReLU, dropout 0) with 2D sine positions plus a learned ``level_embed``; reference
points at pixel centres; an FPN step adds res2 (``adapter_1`` lateral 1x1 + GN, ``layer_1`` 3x3
+ GN + ReLU, bilinear upsampling); ``mask_features`` is a 1x1 conv at stride 4. The decoder
receives the first three outputs (strides 32, 16, 8). Runs in float32 like the official
``autocast(enabled=False)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .backbone_resnet import ConvNorm
from .ms_deform_attn import MSDeformAttn
from .position_encoding import PositionEmbeddingSine2D


class MSDeformAttnEncoderLayer(nn.Module):
    def __init__(self, d_model: int = 256, d_ffn: int = 1024, n_levels: int = 3,
                 n_heads: int = 8, n_points: int = 4):
        super().__init__()
        self.self_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, src: Tensor, pos: Tensor, reference_points: Tensor,
                spatial_shapes: list[tuple[int, int]]) -> Tensor:
        src = self.norm1(src + self.self_attn(src + pos, reference_points, src, spatial_shapes))
        return self.norm2(src + self.linear2(F.relu(self.linear1(src))))


class MSDeformAttnEncoder(nn.Module):
    def __init__(self, num_layers: int, **layer_kwargs):
        super().__init__()
        self.layers = nn.ModuleList([MSDeformAttnEncoderLayer(**layer_kwargs)
                                     for _ in range(num_layers)])

    @staticmethod
    def reference_points(spatial_shapes: list[tuple[int, int]], batch: int, device) -> Tensor:
        refs = []
        for h, w in spatial_shapes:
            ry, rx = torch.meshgrid(torch.linspace(0.5, h - 0.5, h, device=device) / h,
                                    torch.linspace(0.5, w - 0.5, w, device=device) / w,
                                    indexing="ij")
            refs.append(torch.stack((rx.reshape(-1), ry.reshape(-1)), -1))
        ref = torch.cat(refs, 0)[None, :, None].expand(batch, -1, len(spatial_shapes), -1)
        return ref

    def forward(self, src: Tensor, pos: Tensor, spatial_shapes: list[tuple[int, int]]) -> Tensor:
        ref = self.reference_points(spatial_shapes, src.shape[0], src.device)
        for layer in self.layers:
            src = layer(src, pos, ref, spatial_shapes)
        return src


class MSDeformAttnTransformerEncoderOnly(nn.Module):
    """Holds ``level_embed`` and ``encoder`` (official names)."""

    def __init__(self, d_model: int = 256, nhead: int = 8, num_encoder_layers: int = 6,
                 dim_feedforward: int = 1024, num_feature_levels: int = 3, enc_n_points: int = 4):
        super().__init__()
        self.encoder = MSDeformAttnEncoder(num_encoder_layers, d_model=d_model,
                                           d_ffn=dim_feedforward, n_levels=num_feature_levels,
                                           n_heads=nhead, n_points=enc_n_points)
        self.level_embed = nn.Parameter(torch.empty(num_feature_levels, d_model))
        if not self.level_embed.is_meta:
            for p in self.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)
            for m in self.modules():
                if isinstance(m, MSDeformAttn):
                    m.reset_parameters()
            nn.init.normal_(self.level_embed)

    def forward(self, srcs: list[Tensor], pos_embeds: list[Tensor]):
        shapes = [tuple(s.shape[-2:]) for s in srcs]
        src = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)
        pos = torch.cat([p.flatten(2).transpose(1, 2) + self.level_embed[i].view(1, 1, -1)
                         for i, p in enumerate(pos_embeds)], 1)
        return self.encoder(src, pos, shapes), shapes


class MSDeformAttnPixelDecoder(nn.Module):
    """Pixel decoder. ``in_channels``: channels of res2..res5 (list of 4).

    ``forward(features)`` returns ``(mask_features (N, mask_dim, H/4, W/4),
    multi_scale_features [stride 32, 16, 8] each (N, conv_dim, h, w))``.

    Example::

        decoder = MSDeformAttnPixelDecoder(in_channels=[256, 512, 1024, 2048])
    """

    def __init__(self, in_channels: list[int], conv_dim: int = 256, mask_dim: int = 256,
                 num_groups: int = 32, nheads: int = 8, dim_feedforward: int = 1024,
                 enc_layers: int = 6, n_points: int = 4, num_transformer_levels: int = 3):
        super().__init__()
        if len(in_channels) != 4:
            raise ValueError("the pixel decoder expects res2..res5 channels")
        self.in_features = ["res2", "res3", "res4", "res5"]
        self.transformer_in_features = self.in_features[-num_transformer_levels:]
        trans_channels = list(in_channels[-num_transformer_levels:])
        self.input_proj = nn.ModuleList([
            nn.Sequential(nn.Conv2d(c, conv_dim, kernel_size=1), nn.GroupNorm(num_groups, conv_dim))
            for c in trans_channels[::-1]])
        self.transformer = MSDeformAttnTransformerEncoderOnly(
            d_model=conv_dim, nhead=nheads, num_encoder_layers=enc_layers,
            dim_feedforward=dim_feedforward, num_feature_levels=num_transformer_levels,
            enc_n_points=n_points)
        self.pe_layer = PositionEmbeddingSine2D(conv_dim // 2)
        self.mask_features = ConvNorm(conv_dim, mask_dim, kernel_size=1)
        # one FPN level per backbone level finer than the finest transformer level (res2)
        self.num_fpn_levels = len(self.in_features) - num_transformer_levels
        for idx in range(self.num_fpn_levels):
            self.add_module(f"adapter_{idx + 1}", ConvNorm(
                in_channels[idx], conv_dim, kernel_size=1, bias=False,
                norm=nn.GroupNorm(num_groups, conv_dim)))
            self.add_module(f"layer_{idx + 1}", ConvNorm(
                conv_dim, conv_dim, kernel_size=3, padding=1, bias=False,
                norm=nn.GroupNorm(num_groups, conv_dim), activation=F.relu))
        self.num_outputs = 3
        self._init_convs()

    def _init_convs(self) -> None:
        if self.mask_features.weight.is_meta:
            return
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.constant_(proj[0].bias, 0)
        convs = [self.mask_features] + [getattr(self, f"{n}_{i + 1}") for i in
                                        range(self.num_fpn_levels) for n in ("adapter", "layer")]
        for conv in convs:  # detectron2 c2_xavier_fill
            nn.init.kaiming_uniform_(conv.weight, a=1)
            if conv.bias is not None:
                nn.init.constant_(conv.bias, 0)

    def forward(self, features: dict[str, Tensor]) -> tuple[Tensor, list[Tensor]]:
        srcs, pos = [], []
        for idx, name in enumerate(self.transformer_in_features[::-1]):
            x = features[name].float()
            srcs.append(self.input_proj[idx](x))
            pos.append(self.pe_layer(x))
        memory, shapes = self.transformer(srcs, pos)
        n = memory.shape[0]
        outs = [z.transpose(1, 2).reshape(n, -1, h, w)
                for z, (h, w) in zip(memory.split([h * w for h, w in shapes], 1), shapes)]
        fpn_names = self.in_features[:self.num_fpn_levels][::-1]
        for k, name in enumerate(fpn_names):
            idx = self.num_fpn_levels - k
            lateral = getattr(self, f"adapter_{idx}")(features[name].float())
            y = lateral + F.interpolate(outs[-1], size=lateral.shape[-2:], mode="bilinear",
                                        align_corners=False)
            outs.append(getattr(self, f"layer_{idx}")(y))
        return self.mask_features(outs[-1]), outs[:self.num_outputs]
