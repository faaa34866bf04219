"""The built-in synthetic suite: every benchmark's official layout, filled with a learnable world.

``write_suite(out, cfg=SynthConfig(seed=0))`` writes ``<out>/<benchmark>/`` for each of the
twelve benchmarks (see :mod:`.layouts`), each with a README.txt naming its ``--gt`` path.
The same seed gives byte-identical files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["SynthConfig", "gt_path", "write_benchmark", "write_suite"]


@dataclass(frozen=True)
class SynthConfig:
    """What to write.

    Attributes:
        seed: every video follows from it (and from the benchmark, split and index).
        videos: videos per split (train and validation).
        frames: frames per video.
        size: frame (height, width).
        max_objects: most things per video (at least two).
        jpeg_quality: fixed, so that images are reproducible byte for byte.
    """

    seed: int = 0
    videos: int = 4
    frames: int = 10
    size: tuple[int, int] = (96, 160)
    max_objects: int = 4
    jpeg_quality: int = 90

    def check(self) -> None:
        h, w = self.size
        if self.videos < 1 or self.frames < 2:
            raise InputError(f"synthetic suite needs videos >= 1 and frames >= 2 (got {self.videos}, {self.frames})")
        if h < 32 or w < 32:
            raise InputError(f"synthetic frame size {h}x{w} is too small (at least 32x32)")
        if self.max_objects < 2:
            raise InputError(f"max_objects must be at least 2 (got {self.max_objects})")


def gt_path(root: str | os.PathLike, benchmark: str) -> Path:
    """The ``--gt`` path of ``benchmark`` inside a suite written under ``root``."""
    from .layouts import GT_PATHS
    return Path(root) / benchmark / GT_PATHS[benchmark]


def write_benchmark(out_dir: str | os.PathLike, benchmark: str, cfg: SynthConfig | None = None) -> Path:
    """Write one benchmark folder ``<out_dir>/<benchmark>`` (replacing it atomically)."""
    from ..io.atomic import atomic_dir
    from .layouts import WRITERS
    cfg = cfg or SynthConfig()
    cfg.check()
    if benchmark not in WRITERS:
        raise InputError(f"unknown benchmark {benchmark!r}; choose from {', '.join(WRITERS)}")
    target = Path(out_dir) / benchmark
    with atomic_dir(target) as tmp:
        WRITERS[benchmark](Path(tmp), cfg)
    return target


def write_suite(out_dir: str | os.PathLike, benchmarks: list[str] | None = None,
                cfg: SynthConfig | None = None) -> dict[str, Path]:
    """Write the suite; returns ``{benchmark: folder}`` in catalog order."""
    from ..benchmarks import BENCHMARKS
    cfg = cfg or SynthConfig()
    cfg.check()
    names = list(BENCHMARKS) if not benchmarks else list(dict.fromkeys(benchmarks))
    unknown = [b for b in names if b not in BENCHMARKS]
    if unknown:
        raise InputError(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    return {b: write_benchmark(out_dir, b, cfg) for b in names}
