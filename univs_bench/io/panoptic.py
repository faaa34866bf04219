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


def read_panoptic_png(path, shape: tuple[int, int] | None = None, what: str = "file") -> np.ndarray:
    """HxW ids (R + 256 G + 256^2 B) of an RGB(A) PNG; InputError naming the file otherwise.

    ``shape`` (H, W), when given, is checked on the header before decoding (``what`` names
    the file in errors, see ``png.open_png``). Decoding to RGBA
    and viewing the bytes as little-endian uint32 gives the ids without per-channel int64
    arithmetic (reads dominate the panoptic evaluators' run time).
    """
    from ..errors import InputError
    from .png import open_png, pil_image
    data, _ = open_png(path, shape, what)
    im = pil_image(path, data, shape)
    if im.mode not in ("RGB", "RGBA"):
        raise InputError(f"{path}: {im.mode} image where an RGB PNG of panoptic ids "
                         f"(id = R + 256 G + 256^2 B) was expected")
    w, h = im.size
    try:
        rgba = (im if im.mode == "RGBA" else im.convert("RGBA")).tobytes()
    except (OSError, ValueError, SyntaxError) as e:
        raise InputError(f"{path}: cannot read as PNG ({e})") from None
    return np.frombuffer(rgba, dtype="<u4").reshape(h, w) & 0xFFFFFF


def read_id_map(path) -> np.ndarray:
    """Ids of any label PNG: palette/grey/16-bit values, or panoptic ids of an RGB PNG."""
    from .png import read_label_png
    arr = read_label_png(path, allow_rgb=True)
    return rgb2id(arr) if arr.ndim == 3 else arr
