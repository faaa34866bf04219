"""A small procedural video world: textured stuff bands and moving, occluding textured shapes.

`make_video` samples a scene from a seeded generator and renders every frame: the RGB image,
the instance map (0 = no thing, k = object k, numbered by first appearance) and the stuff map
(index into ``video.stuff``). Everything is a pure function of the seed, so the suite is
byte-identical across runs. Objects move, scale and rotate, occlude each other by depth, may
leave and re-enter the frame, and may appear late. `referring_expressions` describes an object
by the attributes the scene knows (colour, shape, position, motion), keeping only phrases that
are true of that object and of no other one in the video.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SHAPES = ("circle", "square", "triangle", "star", "ring", "diamond")
COLORS = {
    "red": (215, 40, 40), "green": (40, 165, 60), "blue": (40, 75, 215), "yellow": (235, 210, 40),
    "purple": (145, 55, 185), "orange": (245, 135, 30), "white": (238, 238, 238),
    "black": (30, 30, 30),
}
STUFF = ("sky", "ground", "water", "wall", "grass")
_STUFF_RGB = {"sky": (135, 185, 235), "ground": (135, 105, 75), "water": (35, 95, 140),
              "wall": (175, 165, 150), "grass": (80, 135, 55)}
# Stuff band stacks, top to bottom.
_LAYOUTS = (("sky", "ground"), ("sky", "water", "ground"), ("sky", "grass"),
            ("wall", "ground"), ("sky", "grass", "water"), ("wall", "grass", "ground"))
_PATTERNS = ("plain", "stripes", "checker", "dots")


@dataclass
class SceneObject:
    """One thing: appearance, trajectory and what the renderer measured.

    ``index`` is the object id (1..K, numbered by first visible frame). Per frame lists hold
    the visible area (after occlusion and clipping), the in-frame area without occlusion,
    the centre (x, y) and the box [x, y, w, h] of the visible mask (None when absent).
    """

    shape: str
    color: str
    pattern: str
    radius: float
    depth: float
    t_start: int
    center0: tuple[float, float]
    velocity: tuple[float, float]
    swing: tuple[float, float, float]  # amplitude (px), angular speed (rad/frame), phase
    growth: float
    angle0: float
    spin: float
    index: int = 0
    areas: list[int] = field(default_factory=list)
    full_areas: list[int] = field(default_factory=list)
    centers: list[tuple[float, float] | None] = field(default_factory=list)
    boxes: list[list[float] | None] = field(default_factory=list)

    def state(self, t: int) -> tuple[float, float, float, float] | None:
        """(cx, cy, radius, angle) at frame t, or None before the object exists."""
        if t < self.t_start:
            return None
        dt = t - self.t_start
        amp, omega, phase = self.swing
        cx = self.center0[0] + self.velocity[0] * dt + amp * (np.sin(omega * dt + phase) - np.sin(phase))
        cy = self.center0[1] + self.velocity[1] * dt
        r = self.radius * (1.0 + self.growth * dt)
        return float(cx), float(cy), float(max(r, 2.0)), float(self.angle0 + self.spin * dt)

    @property
    def first_frame(self) -> int:
        return next(t for t, a in enumerate(self.areas) if a > 0)

    @property
    def visible_frames(self) -> list[int]:
        return [t for t, a in enumerate(self.areas) if a > 0]


@dataclass
class SceneVideo:
    """A rendered video: frames and the ground truth the writers turn into files."""

    name: str
    height: int
    width: int
    stuff: tuple[str, ...]
    objects: list[SceneObject]
    rgb: list[np.ndarray]
    inst: list[np.ndarray]
    stuff_map: list[np.ndarray]

    @property
    def length(self) -> int:
        return len(self.rgb)

    def mask(self, t: int, index: int) -> np.ndarray:
        """Boolean visible mask of object ``index`` (1-based) in frame t."""
        return self.inst[t] == index


# --------------------------------------------------------------------------- shapes
def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    """Inside test in the object's rotated frame (u, v), size r (about the circumradius)."""
    if shape == "circle":
        return u * u + v * v <= r * r
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8 * r
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1.05 * r
    if shape == "triangle":
        inside = np.ones(u.shape, bool)
        for k in range(3):
            a = np.pi / 2 + 2 * np.pi * k / 3
            inside &= u * np.cos(a) + v * np.sin(a) <= 0.55 * r
        return inside
    rho = np.sqrt(u * u + v * v)
    if shape == "ring":
        return (rho <= r) & (rho >= 0.55 * r)
    if shape == "star":
        phi = np.arctan2(v, u)
        return rho <= r * (0.62 + 0.38 * np.cos(5 * phi))
    raise ValueError(f"unknown shape {shape!r}")


def _object_layer(obj: SceneObject, t: int, h: int, w: int):
    """(mask, rgb) of the unoccluded object clipped to the frame, or None when out of view."""
    st = obj.state(t)
    if st is None:
        return None
    cx, cy, r, ang = st
    pad = 1.25 * r + 1
    x0, x1 = max(int(np.floor(cx - pad)), 0), min(int(np.ceil(cx + pad)) + 1, w)
    y0, y1 = max(int(np.floor(cy - pad)), 0), min(int(np.ceil(cy + pad)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    c, s = np.cos(ang), np.sin(ang)
    u, v = c * dx + s * dy, -s * dx + c * dy
    m = _shape_mask(obj.shape, u, v, r)
    if not m.any():
        return None
    base = np.asarray(COLORS[obj.color], np.float32)
    shade = np.ones(u.shape, np.float32)
    period = max(r / 2.0, 2.0)
    if obj.pattern == "stripes":
        shade -= 0.28 * (np.sin(u * np.pi / period) > 0)
    elif obj.pattern == "checker":
        shade -= 0.25 * ((np.floor(u / period) + np.floor(v / period)) % 2)
    elif obj.pattern == "dots":
        shade -= 0.3 * ((np.mod(u, period) - period / 2) ** 2 + (np.mod(v, period) - period / 2) ** 2
                        < (period / 4) ** 2)
    # A soft rim gives a visible edge even against a similar background.
    rim = np.sqrt(u * u + v * v) / max(r, 1e-3)
    shade *= 1.0 - 0.18 * np.clip(rim - 0.7, 0, 1)
    rgb = base[None, None, :] * shade[..., None]
    if obj.color == "black":
        rgb += 25 * (1 - shade[..., None])
    full = np.zeros((h, w), bool)
    full[y0:y1, x0:x1] = m
    layer = np.zeros((h, w, 3), np.float32)
    layer[y0:y1, x0:x1] = rgb
    return full, layer


# --------------------------------------------------------------------------- stuff
def _stuff_texture(kind: str, xx: np.ndarray, yy: np.ndarray, t: int, noise: np.ndarray) -> np.ndarray:
    base = np.asarray(_STUFF_RGB[kind], np.float32)
    if kind == "sky":
        f = 1.0 + 0.12 * (yy / max(yy.max(), 1) - 0.5) + 0.05 * noise
    elif kind == "water":
        f = 1.0 + 0.15 * np.sin(yy * 0.9 + 0.35 * np.sin(xx * 0.15 + t * 0.6)) + 0.05 * noise
    elif kind == "wall":
        brick = ((np.mod(yy, 10) < 1) | (np.mod(xx + 10 * (np.floor(yy / 10) % 2), 20) < 1))
        f = 1.0 - 0.25 * brick + 0.04 * noise
    elif kind == "grass":
        f = 1.0 + 0.18 * np.sin(xx * 1.3 + 0.5 * np.sin(yy * 0.3)) * (noise > -0.2) + 0.06 * noise
    else:  # ground
        f = 1.0 + 0.14 * noise
    return base[None, None, :] * f[..., None]


def _stuff_frame(stuff, bounds, t, h, w, pan, noise):
    """Stuff index map and background RGB of frame t (bands with wavy, drifting borders)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xs = xx + pan * t
    smap = np.zeros((h, w), np.uint8)
    for k, (base, amp, freq, phase, drift) in enumerate(bounds, start=1):
        border = base * h + amp * np.sin(2 * np.pi * freq * xs / w + phase + drift * t)
        smap[yy >= border] = k
    nz = noise[:, (np.arange(w) + round(pan * t)) % noise.shape[1]]
    rgb = np.zeros((h, w, 3), np.float32)
    for k, kind in enumerate(stuff):
        sel = smap == k
        if sel.any():
            rgb[sel] = _stuff_texture(kind, xs, yy, t, nz)[sel]
    return smap, rgb


# --------------------------------------------------------------------------- sampling
def _sample_object(rng, h, w, frames, late_ok, first_frame_all, shapes=SHAPES, crowded=False):
    shape = shapes[int(rng.integers(len(shapes)))]
    color = list(COLORS)[int(rng.integers(len(COLORS)))]
    pattern = _PATTERNS[int(rng.integers(len(_PATTERNS)))]
    side = min(h, w)
    radius = float(rng.uniform(0.12, 0.24) * side if crowded else rng.uniform(0.09, 0.2) * side)
    speed = float(rng.uniform(0.015, 0.045) * w)
    mode = rng.choice(["linear", "swing", "enter"] if late_ok and not first_frame_all
                      else ["linear", "swing"], p=[0.4, 0.35, 0.25] if late_ok and not first_frame_all
                      else [0.55, 0.45])
    t_start = 0
    swing = (0.0, 0.0, 0.0)
    vy = float(rng.uniform(-0.25, 0.25) * speed)
    if mode == "enter":
        t_start = int(rng.integers(1, max(2, frames // 2 + 1)))
        from_left = bool(rng.integers(2))
        cx = -0.6 * radius if from_left else w + 0.6 * radius
        vx = speed if from_left else -speed
        cy = float(rng.uniform(0.25, 0.8) * h)
    else:
        lo = 0.35 if crowded else 0.15
        cx = float(rng.uniform(lo, 1 - lo) * w)
        cy = float(rng.uniform(lo, 1 - lo) * h)
        vx = float(rng.choice([-1, 1]) * speed)
        if mode == "swing":
            # Large swings carry the object out of the frame and back in.
            amp = float(rng.uniform(0.35, 0.7) * w)
            omega = float(rng.uniform(0.5, 1.2) * 2 * np.pi / max(frames, 2))
            swing = (amp, omega, float(rng.uniform(0, 2 * np.pi)))
            vx *= 0.2
    return SceneObject(
        shape=shape, color=color, pattern=pattern, radius=radius, depth=float(rng.uniform()),
        t_start=t_start, center0=(cx, cy), velocity=(vx, vy), swing=swing,
        growth=float(rng.uniform(-0.03, 0.05)), angle0=float(rng.uniform(0, 2 * np.pi)),
        spin=float(rng.uniform(-0.15, 0.15)))


def _render(objects, stuff, bounds, h, w, frames, pan, noise, rng):
    rgbs, insts, smaps = [], [], []
    order = sorted(range(len(objects)), key=lambda i: objects[i].depth)  # far to near
    for obj in objects:
        obj.areas, obj.full_areas, obj.centers, obj.boxes = [], [], [], []
    for t in range(frames):
        smap, rgb = _stuff_frame(stuff, bounds, t, h, w, pan, noise)
        inst = np.zeros((h, w), np.uint8)
        full_areas = [0] * len(objects)
        for i in order:
            layer = _object_layer(objects[i], t, h, w)
            if layer is None:
                continue
            m, col = layer
            full_areas[i] = int(m.sum())
            rgb[m] = col[m]
            inst[m] = i + 1
        rgb += rng.normal(0.0, 3.0, rgb.shape).astype(np.float32)
        rgbs.append(np.clip(rgb, 0, 255).astype(np.uint8))
        insts.append(inst)
        smaps.append(smap)
        for i, obj in enumerate(objects):
            m = inst == i + 1
            a = int(m.sum())
            obj.areas.append(a)
            obj.full_areas.append(full_areas[i])
            if a:
                ys, xs = np.nonzero(m)
                obj.centers.append((float(xs.mean()), float(ys.mean())))
                x0, y0 = int(xs.min()), int(ys.min())
                obj.boxes.append([float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)])
            else:
                obj.centers.append(None)
                obj.boxes.append(None)
    return rgbs, insts, smaps


def make_video(name: str, seed: int, size: tuple[int, int], frames: int, *,
               min_objects: int = 2, max_objects: int = 5, late_objects: bool = True,
               first_frame_all: bool = False, min_area: int = 12,
               shape_pools: tuple[tuple[str, ...], ...] = (), stuff_with: str | None = None,
               crowded: bool = False) -> SceneVideo:
    """Sample and render one video.

    Args:
        name: the video name written into files.
        seed: everything about the video follows from it.
        size: (height, width).
        frames: number of frames.
        min_objects, max_objects: number of things.
        late_objects: allow objects that enter after frame 0.
        first_frame_all: every object visible in frame 0 (DAVIS/MOSE semi-supervised
            protocol, where the first-frame mask defines the objects).
        min_area: the smallest visible area (pixels) an object must reach in some frame
            (and in frame 0 when ``first_frame_all``).
        shape_pools: the k-th object takes its shape from ``shape_pools[k]`` (e.g. to make
            sure a video holds a seen and an unseen category); later objects from all shapes.
        stuff_with: pick a stuff layout that holds this stuff kind.
        crowded: larger objects that start near the centre, so they occlude each other
            often (OVIS).
    """
    h, w = size
    rng = np.random.default_rng(seed)
    layouts = [lay for lay in _LAYOUTS if stuff_with is None or stuff_with in lay]
    stuff = layouts[int(rng.integers(len(layouts)))]
    bounds = []
    for k in range(1, len(stuff)):
        base = (k / len(stuff)) * rng.uniform(0.8, 1.1)
        bounds.append((float(base), float(rng.uniform(0.02, 0.08) * h), float(rng.uniform(0.5, 2.0)),
                       float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(-0.2, 0.2))))
    pan = float(rng.uniform(-1.5, 1.5))
    noise = rng.normal(0, 1, (h, w + 64)).astype(np.float32)
    min_objects = min(min_objects, max_objects)
    n = int(rng.integers(min_objects, max_objects + 1))
    for _attempt in range(30):
        objects = [_sample_object(rng, h, w, frames, late_objects, first_frame_all,
                                  shape_pools[k] if k < len(shape_pools) else SHAPES, crowded)
                   for k in range(n)]
        # Colour-shape pairs unique within a video, so that references can always succeed.
        if len({(o.color, o.shape) for o in objects}) < n:
            continue
        rgbs, insts, smaps = _render(objects, stuff, bounds, h, w, frames, pan, noise,
                                     np.random.default_rng(seed + 1))
        ok = all(max(o.areas) >= min_area and sum(a > 0 for a in o.areas) >= 2 for o in objects)
        if first_frame_all:
            ok = ok and all(o.areas[0] >= min_area for o in objects)
        if ok:
            break
        n = max(min_objects, n - (_attempt % 3 == 2))
    else:
        raise RuntimeError(f"synthetic video {name}: could not place {n} objects (seed {seed})")
    # Number objects by first appearance (ties: nearer first) and relabel the maps.
    order = sorted(range(len(objects)), key=lambda i: (objects[i].first_frame, -objects[i].depth))
    lut = np.zeros(256, np.uint8)
    for new, old in enumerate(order, start=1):
        lut[old + 1] = new
        objects[old].index = new
    insts = [lut[m] for m in insts]
    objects = [objects[i] for i in order]
    return SceneVideo(name=name, height=h, width=w, stuff=stuff, objects=objects, rgb=rgbs,
                      inst=insts, stuff_map=smaps)


# --------------------------------------------------------------------------- references
def _motion(obj: SceneObject) -> str | None:
    """Dominant direction of the visible centre's travel, when clear."""
    pts = [c for c in obj.centers if c is not None]
    if len(pts) < 2:
        return None
    dx, dy = pts[-1][0] - pts[0][0], pts[-1][1] - pts[0][1]
    if max(abs(dx), abs(dy)) < 6:
        return None
    if abs(dx) >= 2 * abs(dy):
        return "moving left" if dx < 0 else "moving right"
    if abs(dy) >= 2 * abs(dx):
        return "moving up" if dy < 0 else "moving down"
    return None


def _mean_center(obj: SceneObject) -> tuple[float, float]:
    pts = np.array([c for c in obj.centers if c is not None])
    return float(pts[:, 0].mean()), float(pts[:, 1].mean())


def _position(obj, objects, w, h) -> list[str]:
    """Relative positions that hold with a clear margin against every other object."""
    out = []
    cx, cy = _mean_center(obj)
    others = [_mean_center(o) for o in objects if o is not obj]
    if not others:
        return ["on the left" if cx < w / 2 else "on the right"]
    if all(cx + 0.12 * w < ox for ox, _ in others):
        out.append("on the left")
    if all(cx - 0.12 * w > ox for ox, _ in others):
        out.append("on the right")
    if all(cy + 0.12 * h < oy for _, oy in others):
        out.append("at the top")
    if all(cy - 0.12 * h > oy for _, oy in others):
        out.append("at the bottom")
    return out


def referring_expressions(video: SceneVideo, rng: np.random.Generator, per_object: int = 2,
                          first_frame_only: bool = False) -> dict[int, list[str]]:
    """Up to ``per_object`` distinct, true and unambiguous expressions per object index.

    An expression combines colour/shape nouns with an optional motion or position phrase; it
    is kept only if exactly one object of the video satisfies every part of it. With
    ``first_frame_only`` the expressions use only appearance (as for first-frame annotators).
    """
    objs = video.objects
    feats = {}
    for o in objs:
        feats[o.index] = {"color": o.color, "shape": o.shape, "motion": _motion(o),
                          "pos": set(_position(o, objs, video.width, video.height))}

    def matches(f, color, shape, motion, pos):
        return ((color is None or f["color"] == color) and (shape is None or f["shape"] == shape)
                and (motion is None or f["motion"] == motion) and (pos is None or pos in f["pos"]))

    out = {}
    for o in objs:
        f = feats[o.index]
        cands = []
        nouns = [(f["color"], f["shape"]), (None, f["shape"]), (f["color"], None)]
        extras = [(None, None)]
        if not first_frame_only:
            extras += [(f["motion"], None)] if f["motion"] else []
            extras += [(None, p) for p in sorted(f["pos"])]
        for color, shape in nouns:
            for motion, pos in extras:
                hits = [k for k, g in feats.items() if matches(g, color, shape, motion, pos)]
                if hits != [o.index]:
                    continue
                noun = " ".join(x for x in (color, shape or "object") if x)
                tail = " ".join(x for x in (motion, pos) if x)
                cands.append(f"the {noun} {tail}".strip())
        cands = list(dict.fromkeys(cands))
        if len(cands) > per_object:
            pick = sorted(rng.choice(len(cands), per_object, replace=False).tolist())
            cands = [cands[i] for i in pick]
        out[o.index] = cands
    return out
