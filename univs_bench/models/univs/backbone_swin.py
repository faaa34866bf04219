"""Swin Transformer backbone with the names of Mask2Former's ``D2SwinTransformer``.

Facts (mask2former/modeling/backbone/swin.py, UniVS configs): patch 4, no absolute position
embedding, patch norm, window 7 (T) / 12 (B, L), mlp ratio 4, qkv bias, drop path 0.3
(linearly increasing over blocks), a LayerNorm ``norm{i}`` on each of the four outputs
(res2..res5, strides 4..32), ``relative_position_index`` a persistent buffer, padding of odd
sizes to multiples of the window, shifted-window mask value -100.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    if p == 0.0 or not training:
        return x
    keep = 1 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


def window_partition(x: Tensor, ws: int) -> Tensor:
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)


def window_reverse(windows: Tensor, ws: int, h: int, w: int) -> Tensor:
    b = windows.shape[0] // ((h // ws) * (w // ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, -1)


class WindowAttention(nn.Module):
    def __init__(self, dim: int, window_size: int, num_heads: int):
        super().__init__()
        self.dim, self.window_size, self.num_heads = dim, window_size, num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1) ** 2, num_heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size),
                                            indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window_size - 1)
        index = rel[..., 0] * (2 * window_size - 1) + rel[..., 1]
        self.register_buffer("relative_position_index", index)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        if not self.relative_position_bias_table.is_meta:
            nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        b_, n, c = x.shape
        qkv = self.qkv(x).reshape(b_, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1)[None]
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b_ // nw, nw, self.num_heads, n, n) + mask[None, :, None]
            attn = attn.view(-1, self.num_heads, n, n)
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b_, n, c)
        return self.proj(x)


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, window_size: int, shift_size: int,
                 mlp_ratio: float, drop_path: float):
        super().__init__()
        self.window_size, self.shift_size, self.drop_path = window_size, shift_size, drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, h: int, w: int, shift_mask: Tensor) -> Tensor:
        b, _, c = x.shape
        ws = self.window_size
        shortcut = x
        x = self.norm1(x).view(b, h, w, c)
        pad_r, pad_b = (ws - w % ws) % ws, (ws - h % ws) % ws
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        hp, wp = x.shape[1:3]
        if self.shift_size > 0:
            x = torch.roll(x, shifts=(-self.shift_size, -self.shift_size), dims=(1, 2))
        x = self.attn(window_partition(x, ws), mask=shift_mask if self.shift_size > 0 else None)
        x = window_reverse(x, ws, hp, wp)
        if self.shift_size > 0:
            x = torch.roll(x, shifts=(self.shift_size, self.shift_size), dims=(1, 2))
        x = x[:, :h, :w].reshape(b, h * w, c)
        x = shortcut + drop_path(x, self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)


class PatchMerging(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        b, _, c = x.shape
        x = x.view(b, h, w, c)
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class BasicLayer(nn.Module):
    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int,
                 mlp_ratio: float, drop_paths: list[float], downsample: bool):
        super().__init__()
        self.window_size, self.shift_size = window_size, window_size // 2
        self.blocks = nn.ModuleList([
            SwinTransformerBlock(dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2,
                                 mlp_ratio, drop_paths[i]) for i in range(depth)])
        self.downsample = PatchMerging(dim) if downsample else None

    def shift_mask(self, h: int, w: int, device) -> Tensor:
        ws, ss = self.window_size, self.shift_size
        hp, wp = -(-h // ws) * ws, -(-w // ws) * ws
        img = torch.zeros((1, hp, wp, 1), device=device)
        cnt = 0
        for hs in (slice(0, -ws), slice(-ws, -ss), slice(-ss, None)):
            for wsl in (slice(0, -ws), slice(-ws, -ss), slice(-ss, None)):
                img[:, hs, wsl, :] = cnt
                cnt += 1
        win = window_partition(img, ws).squeeze(-1)
        diff = win[:, None, :] - win[:, :, None]
        return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)

    def forward(self, x: Tensor, h: int, w: int):
        mask = self.shift_mask(h, w, x.device).to(x.dtype)
        for blk in self.blocks:
            x = blk(x, h, w, mask)
        if self.downsample is None:
            return x, x, h, w
        return x, self.downsample(x, h, w), (h + 1) // 2, (w + 1) // 2


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, embed_dim: int, in_chans: int = 3):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        p = self.patch_size
        h, w = x.shape[-2:]
        x = F.pad(x, (0, (p - w % p) % p, 0, (p - h % p) % p))
        x = self.proj(x)
        b, c, hh, ww = x.shape
        return self.norm(x.flatten(2).transpose(1, 2)).transpose(1, 2).view(b, c, hh, ww)


class SwinTransformer(nn.Module):
    """Swin backbone returning ``{'res2': ..., 'res5': ...}`` (strides 4..32).

    Example (Swin-T)::

        backbone = SwinTransformer(embed_dim=96, depths=(2, 2, 6, 2),
                                   num_heads=(3, 6, 12, 24), window_size=7)
    """

    def __init__(self, embed_dim: int = 96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                 window_size: int = 7, patch_size: int = 4, mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.3, frozen_stages: int = -1,
                 out_features=("res2", "res3", "res4", "res5")):
        super().__init__()
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        dpr = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        self.layers = nn.ModuleList()
        self.num_features = [embed_dim * 2 ** i for i in range(len(depths))]
        for i, depth in enumerate(depths):
            self.layers.append(BasicLayer(self.num_features[i], depth, num_heads[i], window_size,
                                          mlp_ratio, dpr[sum(depths[:i]):sum(depths[:i + 1])],
                                          downsample=i < len(depths) - 1))
        for i, nf in enumerate(self.num_features):
            self.add_module(f"norm{i}", nn.LayerNorm(nf))
        self.out_features = tuple(out_features)
        self.out_channels = {f"res{i + 2}": nf for i, nf in enumerate(self.num_features)}
        self.out_strides = {f"res{i + 2}": 4 * 2 ** i for i in range(len(depths))}
        self.frozen_stages = frozen_stages
        self._init_weights()
        self._freeze_stages()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear) and not m.weight.is_meta:
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.0)

    def _freeze_stages(self) -> None:
        """Official semantics: >=1 freezes the patch embedding, k>=2 also layers[0..k-2]."""
        modules = []
        if self.frozen_stages >= 1:
            modules.append(self.patch_embed)
        if self.frozen_stages >= 2:
            modules += list(self.layers[:self.frozen_stages - 1])
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = self.patch_embed(x)
        h, w = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        outs = {}
        for i, layer in enumerate(self.layers):
            x_out, x, nh, nw = layer(x, h, w)
            name = f"res{i + 2}"
            if name in self.out_features:
                out = getattr(self, f"norm{i}")(x_out)
                outs[name] = out.view(-1, h, w, self.num_features[i]).permute(0, 3, 1, 2).contiguous()
            h, w = nh, nw
        return outs
