"""COCO run-length encoding through pycocotools.

RLEs are dicts ``{"size": [h, w], "counts": str}`` (compressed, as the official json files
hold them); uncompressed ``counts`` lists and polygons are accepted on input.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

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


def rle_totals(counts: list[str]) -> np.ndarray:
    """Sum of the runs of each compressed COCO RLE string, -1 for a malformed one.

    Decodes pycocotools' ``rleFrString`` format (6-bit chars from '0', 5 data bits, a
    continuation bit, sign extension, runs after the third stored as deltas to the run two
    before) for all strings at once; a run that decodes negative makes the string malformed.
    """
    n = len(counts)
    totals = np.full(n, -1, dtype=np.int64)
    ok = np.array([isinstance(s, str) and s.isascii() for s in counts], dtype=bool)
    strs = [s if good else "" for s, good in zip(counts, ok)]
    lens = np.fromiter((len(s) for s in strs), dtype=np.int64, count=n)
    totals[ok & (lens == 0)] = 0
    full = np.flatnonzero(lens > 0)
    if len(full) == 0:
        return totals
    c = np.frombuffer("".join(strs).encode("ascii"), dtype=np.uint8).astype(np.int64) - 48
    str_start = (np.cumsum(lens) - lens)[full]
    last = str_start + lens[full] - 1
    bad = np.maximum.reduceat(((c < 0) | (c > 63)).view(np.int8), str_start) > 0
    c = np.clip(c, 0, 63)
    more = (c & 0x20) != 0
    bad |= more[last]
    tok_end = ~more
    tok_end[last] = True  # a string never continues into the next one
    ends = np.flatnonzero(tok_end)
    starts = np.concatenate(([0], ends[:-1] + 1))
    tok_len = ends - starts + 1
    k = np.arange(len(c)) - np.repeat(starts, tok_len)
    x = np.add.reduceat((c & 0x1F) << (5 * np.minimum(k, 11)), starts)
    neg = (c[ends] & 0x10) != 0
    x[neg] -= np.left_shift(1, 5 * np.minimum(tok_len[neg], 12))
    # tokens of each (non-empty) string: a contiguous range starting at first_tok
    first_tok = np.searchsorted(starts, str_start)
    n_tok = np.diff(np.concatenate((first_tok, [len(x)])))
    bad |= np.maximum.reduceat(tok_len, first_tok) > 12
    m = np.arange(len(x)) - np.repeat(first_tok, n_tok)
    # runs: cnts[0] = x0 and, for m >= 1, the sum of x[j] over 1 <= j <= m with j = m (mod 2)
    cnts = x.copy()
    for parity in (0, 1):
        sel = (m >= 1) & ((m & 1) == parity)
        cs = np.cumsum(np.where(sel, x, 0))
        before = np.where(first_tok > 0, cs[first_tok - 1], 0)
        run = cs - np.repeat(before, n_tok)
        cnts[sel] = run[sel]
    bad |= np.minimum.reduceat(cnts, first_tok) < 0
    sums = np.add.reduceat(cnts, first_tok)
    good = ok[full] & ~bad
    totals[full[good]] = sums[good]
    totals[full[~good]] = -1
    return totals


def check_rle_counts(counts: Sequence, size: tuple[int, int] | Sequence[tuple[int, int]],
                     where: Callable[[int], str]) -> None:
    """Raise InputError naming ``where(i)`` for the first RLE whose runs do not cover its frame.

    ``counts``: compressed count strings (str or bytes) or uncompressed run lists; ``size``: one
    (h, w) for all of them or one per RLE. pycocotools trusts the counts: runs that sum past
    h x w make it loop or read past its buffer, runs that fall short give a silently truncated
    mask, so every reader checks them here before any decoding.
    """
    n = len(counts)
    if n == 0:
        return
    strs = [c.decode("latin-1") if isinstance(c, bytes) else c for c in counts]
    totals = rle_totals([c if isinstance(c, str) else "" for c in strs])
    for i, c in enumerate(strs):
        if not isinstance(c, str):
            ok = isinstance(c, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                             and v >= 0 for v in c)
            totals[i] = sum(c) if ok else -1
    sizes = np.asarray(size, dtype=np.int64).reshape(-1, 2)
    pixels = sizes[:, 0] * sizes[:, 1]
    bad = np.flatnonzero(totals != pixels)
    if len(bad):
        i = int(bad[0])
        h, w = (int(v) for v in sizes[i if len(sizes) > 1 else 0])
        got = "is malformed" if totals[i] < 0 else f"covers {int(totals[i])} pixels"
        raise InputError(f"{where(i)}: RLE {got}, the frame is {h}x{w} ({h * w} pixels)")
