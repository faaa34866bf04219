"""COCO run-length encoding through pycocotools.

RLEs are dicts ``{"size": [h, w], "counts": str}`` (compressed, as the official json files
hold them); uncompressed ``counts`` lists and polygons are accepted on input.
"""
from __future__ import annotations

import numpy as np
from pycocotools import mask as _mask

from ..errors import InputError


def encode(mask: np.ndarray) -> dict:
    """Encode a boolean HxW mask as a compressed RLE with a ``str`` counts (json-ready)."""
    m = np.asfortranarray(np.asarray(mask, dtype=np.uint8))
    if m.ndim != 2:
        raise ValueError(f"encode expects an HxW mask, got shape {m.shape}")
    rle = _mask.encode(m)
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _as_coco(rle: dict, h: int | None = None, w: int | None = None) -> dict:
    """A pycocotools-ready compressed RLE from json input (str/bytes/list counts, polygons)."""
    if isinstance(rle, list):  # polygon(s)
        if h is None or w is None:
            raise ValueError("decoding a polygon needs the frame size")
        return _mask.merge(_mask.frPyObjects(rle, h, w))
    counts = rle["counts"]
    if isinstance(counts, list):
        return _mask.frPyObjects(rle, *rle["size"])
    if isinstance(counts, str):
        return {"size": list(rle["size"]), "counts": counts.encode("ascii")}
    return rle


def decode(rle: dict | list, h: int | None = None, w: int | None = None) -> np.ndarray:
    """Decode an RLE (or a polygon list, given ``h`` and ``w``) to a boolean HxW mask."""
    return _mask.decode(_as_coco(rle, h, w)).astype(bool)


def area(rle: dict | list, h: int | None = None, w: int | None = None) -> int:
    """Number of foreground pixels."""
    return int(_mask.area(_as_coco(rle, h, w)))


def iou(a: dict, b: dict) -> float:
    """Mask IoU of two RLEs of the same size (0 when both are empty)."""
    return float(_mask.iou([_as_coco(a)], [_as_coco(b)], [0])[0, 0])


def check_size(rle: dict, h: int, w: int, where: str) -> None:
    """Raise InputError naming ``where`` when the RLE is not HxW."""
    try:
        size = [int(v) for v in rle["size"]]
    except (TypeError, KeyError, ValueError):
        raise InputError(f"{where}: not an RLE (needs 'size' and 'counts')") from None
    if size != [h, w]:
        raise InputError(f"{where}: RLE size {size} differs from the video's {[h, w]}")
