"""Panoptic segment ids stored as RGB: id = R + 256 G + 256^2 B (COCO panoptic convention)."""
from __future__ import annotations

import numpy as np


def rgb2id(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> HxW int64 segment ids."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"rgb2id expects HxWx3, got {rgb.shape}")
    rgb = rgb[..., :3].astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def id2rgb(ids: np.ndarray) -> np.ndarray:
    """HxW non-negative ids < 256^3 -> HxWx3 uint8."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.min(initial=0) < 0 or ids.max(initial=0) >= 256 ** 3:
        raise ValueError("panoptic ids must be in [0, 256^3)")
    out = np.empty(ids.shape + (3,), dtype=np.uint8)
    out[..., 0] = ids % 256
    out[..., 1] = (ids // 256) % 256
    out[..., 2] = ids // 65536
    return out
