"""What every evaluator shares: the result type, percent/NaN handling and the video pool."""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence


@dataclass
class EvalResult:
    """Numbers of one evaluation.

    ``metrics`` maps CONTRACT.md metric names to floats on the percent scale, or None where
    the data does not define the metric. ``per_video`` maps a video id to its own numbers
    (per object where the metric is per object).
    """

    metrics: dict[str, float | None]
    per_video: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def nan_to_none(x: Any) -> float | None:
    """A float, or None for NaN/None (JSON has no NaN; CONTRACT.md says null)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def pct(x: Any) -> float | None:
    """Fraction -> percent, keeping undefined values as None."""
    x = nan_to_none(x)
    return None if x is None else 100.0 * x




def map_videos(fn: Callable[[Any], Any], items: Sequence[Any] | Iterable[Any], workers: int = 1,
               desc: str = "videos", total: int | None = None) -> list[Any]:
    """Apply ``fn`` to every item (one video each), in order, over ``workers`` processes.

    A progress bar goes to stderr when stderr is a terminal. The first exception raised by
    ``fn`` (e.g. an InputError naming a bad file) propagates unchanged, so a run never
    returns numbers computed from partial input. ``fn`` must be a module-level function.
    """
    items = list(items)
    total = len(items) if total is None else total
    workers = max(1, int(workers or 1))
    show = sys.stderr.isatty() and total > 1 and not os.environ.get("UNIVS_BENCH_NO_PROGRESS")
    bar = None
    if show:
        from tqdm import tqdm
        bar = tqdm(total=total, desc=desc, unit="video", file=sys.stderr, leave=False)
    results = []
    try:
        if workers == 1 or len(items) <= 1:
            for it in items:
                results.append(fn(it))
                if bar is not None:
                    bar.update(1)
        else:
            import multiprocessing as mp
            ctx = mp.get_context("fork") if sys.platform != "win32" else mp.get_context()
            with ctx.Pool(min(workers, len(items))) as pool:
                for r in pool.imap(fn, items, chunksize=1):
                    results.append(r)
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return results
