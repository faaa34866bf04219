"""ResNet backbone with detectron2 parameter names (``stem.conv1``, ``res2.0.conv1.norm``...).

Facts (UniVS configs/univs/Base.yaml + detectron2 ``build_resnet_backbone``): depth 50,
``STRIDE_IN_1X1: False`` (the stride sits in the 3x3 conv), FrozenBN everywhere (its weight,
bias, running mean and var are buffers, which is why the official R50 parameter count, 46.97M,
excludes them), convolutions without bias, outputs res2..res5 at strides 4..32.
"""
from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics and affine terms, all stored as buffers."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features) - eps)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        bias = self.bias - self.running_mean * scale
        return x * scale.view(1, -1, 1, 1).to(x.dtype) + bias.view(1, -1, 1, 1).to(x.dtype)


class ConvNorm(nn.Conv2d):
    """``nn.Conv2d`` with optional ``norm`` and ``activation`` (detectron2's ``Conv2d`` names)."""

    def __init__(self, *args, norm: nn.Module | None = None, activation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm = norm
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        x = super().forward(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


class BottleneckBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, bottleneck_channels: int,
                 stride: int = 1):
        super().__init__()
        if in_channels != out_channels:
            self.shortcut = ConvNorm(in_channels, out_channels, 1, stride=stride, bias=False,
                                     norm=FrozenBatchNorm2d(out_channels))
        else:
            self.shortcut = None
        self.conv1 = ConvNorm(in_channels, bottleneck_channels, 1, bias=False,
                              norm=FrozenBatchNorm2d(bottleneck_channels))
        self.conv2 = ConvNorm(bottleneck_channels, bottleneck_channels, 3, stride=stride,
                              padding=1, bias=False, norm=FrozenBatchNorm2d(bottleneck_channels))
        self.conv3 = ConvNorm(bottleneck_channels, out_channels, 1, bias=False,
                              norm=FrozenBatchNorm2d(out_channels))
        for conv in (self.conv1, self.conv2, self.conv3, self.shortcut):
            if conv is not None and not conv.weight.is_meta:
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu_(self.conv1(x))
        out = F.relu_(self.conv2(out))
        out = self.conv3(out)
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return F.relu_(out + shortcut)


class ResNet(nn.Module):
    """detectron2-style ResNet returning ``{'res2': ..., 'res5': ...}``.

    Example::

        backbone = ResNet(depth=50)   # 23.45M parameters (FrozenBN as buffers)
        feats = backbone(torch.zeros(1, 3, 64, 64))   # res2 (1, 256, 16, 16) ... res5
    """

    _blocks: ClassVar[dict[int, tuple[int, ...]]] = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}

    def __init__(self, depth: int = 50, stem_channels: int = 64, res2_channels: int = 256,
                 freeze_at: int = 0, out_features=("res2", "res3", "res4", "res5"),
                 num_blocks: tuple[int, ...] | None = None):
        super().__init__()
        if num_blocks is None:
            if depth not in self._blocks:
                raise ValueError(f"unsupported ResNet depth {depth}")
            num_blocks = self._blocks[depth]
        self.stem = nn.Module()
        self.stem.conv1 = ConvNorm(3, stem_channels, 7, stride=2, padding=3, bias=False,
                                   norm=FrozenBatchNorm2d(stem_channels))
        in_ch, out_ch, bott = stem_channels, res2_channels, res2_channels // 4
        self.out_features = tuple(out_features)
        self.out_channels, self.out_strides = {}, {}
        for i, n in enumerate(num_blocks):
            name = f"res{i + 2}"
            blocks = [BottleneckBlock(in_ch if b == 0 else out_ch, out_ch, bott,
                                      stride=(1 if i == 0 or b > 0 else 2)) for b in range(n)]
            self.add_module(name, nn.Sequential(*blocks))
            self.out_channels[name], self.out_strides[name] = out_ch, 4 * 2 ** i
            in_ch, out_ch, bott = out_ch, out_ch * 2, bott * 2
        self.freeze(freeze_at)

    def freeze(self, freeze_at: int) -> None:
        """detectron2 ``FREEZE_AT``: 1 freezes the stem, k freezes stem and res2..res{k}."""
        stages = [self.stem] + [getattr(self, f"res{i}") for i in range(2, 6)]
        for stage in stages[:max(freeze_at, 0)]:
            for p in stage.parameters():
                p.requires_grad_(False)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = F.relu_(self.stem.conv1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
        outs = {}
        for i in range(2, 6):
            x = getattr(self, f"res{i}")(x)
            if f"res{i}" in self.out_features:
                outs[f"res{i}"] = x
        return outs
