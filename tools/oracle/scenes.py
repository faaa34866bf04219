"""The oracle's small deterministic videos (inputs of tests/fixtures/official_inference).

Rule: a smooth colour background (sum of low-frequency sinusoids, phase shifting by frame) with
textured objects on top, each a filled ellipse or rectangle moving linearly; an object is
present from ``start`` to ``end`` (exclusive). Everything is closed-form numpy, rounded to
uint8; nothing random. Later objects are drawn over earlier ones, so the label map is the
top-most object per pixel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Obj:
    """One object: shape ('ellipse'/'rect'), centre (y, x) at frame 0, velocity (dy, dx)/frame,
    half-sizes (ry, rx), RGB colour, and the frames [start, end) it is present."""

    shape: str
    center: tuple[float, float]
    velocity: tuple[float, float]
    radius: tuple[float, float]
    color: tuple[int, int, int]
    start: int = 0
    end: int = 10 ** 6


def background(h: int, w: int, t: int, seed: int = 0) -> np.ndarray:
    """(h, w, 3) float background of frame ``t``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((h, w, 3))
    # colour ramps (red along x, green along y) give a random network's features a smooth
    # spatial component, so its masks are regions with their own boxes, not scattered pixels
    out[..., 0] = 30 + 190 * xx / (w - 1)
    out[..., 1] = 30 + 190 * yy / (h - 1)
    out[..., 2] = 110 + 40 * np.sin(2 * np.pi * (xx + yy) / (w + h) + 0.3 * t + seed)
    for c in range(3):
        fy, fx = 2 * np.pi * (3 + c) / h, 2 * np.pi * (4 + c) / w
        out[..., c] += 8 * np.sin(fy * yy + 0.3 * t + c) * np.cos(fx * xx - 0.2 * t)
    return out


def render(objs: list[Obj], h: int, w: int, n_frames: int, seed: int = 0):
    """Frames (n, h, w, 3) uint8 and label maps (n, h, w) uint8 (0 background, i+1 object i)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    frames, labels = [], []
    for t in range(n_frames):
        img = background(h, w, t, seed)
        lab = np.zeros((h, w), np.uint8)
        for i, o in enumerate(objs):
            if not (o.start <= t < o.end):
                continue
            cy, cx = o.center[0] + o.velocity[0] * t, o.center[1] + o.velocity[1] * t
            dy, dx = (yy - cy) / o.radius[0], (xx - cx) / o.radius[1]
            inside = (dy ** 2 + dx ** 2 <= 1) if o.shape == "ellipse" else ((abs(dy) <= 1) & (abs(dx) <= 1))
            tex = 18 * np.sin(0.9 * (yy - cy)) * np.cos(0.7 * (xx - cx))
            for c in range(3):
                img[..., c][inside] = o.color[c] + tex[inside]
            lab[inside] = i + 1
        frames.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
        labels.append(lab)
    return np.stack(frames), np.stack(labels)


# The VOS video: object 1 present throughout, object 2 appears at frame 3.
VOS_OBJECTS = [
    Obj("ellipse", (55, 45), (1.5, 4.0), (26, 22), (220, 40, 40)),
    Obj("rect", (40, 120), (3.0, -2.0), (20, 16), (30, 60, 210), start=3),
]

# The VIS video: two large rectangles, white and black, drifting towards each other (with the
# filled weights the official first clip keeps two entities; smaller objects gave one).
VIS_OBJECTS = [
    Obj("rect", (60, 40), (0.0, 1.0), (55, 38), (240, 240, 240)),
    Obj("rect", (60, 120), (0.0, -1.0), (55, 38), (15, 15, 15)),
]
