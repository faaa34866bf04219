"""Bootstrap confidence intervals over videos and paired tests between two runs.

The unit of resampling is always the **video** (a cluster bootstrap): a resample draws n
videos with replacement from the n scored videos and recomputes the benchmark statistic
from the drawn videos' per-video numbers (``per_video`` of a metrics.json, CONTRACT.md).
Every statistic is written as ``f(sum over videos of s_v)`` where ``s_v`` is a short vector
of per-video *sufficient statistics*; a resample is then a count-weighted sum, so one matrix
product gives all resamples. What ``s_v`` is, per benchmark (first match wins):

=====================  ==============================================  =====================
benchmark / metric     per-video quantity resampled                     exact?
=====================  ==============================================  =====================
davis17, mose          per-object J and F means of the video            yes: J&F is the mean
(J&F, J_mean, F_mean)  (keys ``J_mean``/``F_mean`` or ``J``/``F``,       over all objects of
                       list or {object: value}; or ``objects``)         the split, pooled
refytvos (J&F, J, F)   per-expression J and F (same keys)              yes: mean over
                                                                        expressions, pooled
vspw mIoU              per-class ``intersection`` and ``union`` (and    yes: pooled confusion,
                       ``gt_area``) arrays of the video                 classes present in GT
any benchmark          a per-video number under the metric's name       approximate when the
                       (e.g. ``per_video[v]["J&F"]``): mean over        metric is not a mean
                       videos                                           of per-video values
ytvis19/21, ovis AP    ``best_iou`` per GT track: mean best tube IoU    no: a proxy. AP ranks
                                                                        detections of all
                                                                        videos together
=====================  ==============================================  =====================

Metrics that are *not* means of per-video values: YouTube-VIS/OVIS AP (global ranking),
VSPW mIoU and mVC (pooled over videos), VIPSeg VPQ/STQ (per-class sums over all windows),
VIPOSeg G (pooled over (object, frame) pairs), BURST HOTA (summed counts), DAVIS J&F (mean
over objects, so videos with more objects weigh more). For these the interval is exact only
when the per-video sufficient statistics above are present; otherwise the mean of a
per-video number is resampled, which estimates the spread of a related quantity and is
flagged ``exact=False`` (rendered with a ``~`` in tables). Whatever the quantity, the
full-sample value recomputed from ``s_v`` is compared with the reported metric: ``exact`` is
True only when the quantity is an exact decomposition **and** it reproduces the reported
number within 0.05.

Intervals are percentile intervals (2.5 and 97.5 percentiles of 2000 resamples by default),
deterministic for a given ``seed`` (numpy ``default_rng``).

Paired tests compare run A and run B on the videos both scored (the intersection of their
``per_video`` ids):

- ``method='bootstrap'`` (default): the paired bootstrap of Koehn (2004) / Berg-Kirkpatrick
  et al. (2012). The same video resample is applied to both runs, giving
  ``d* = f_A* - f_B*``; under H0 the centred statistic ``d* - d`` mimics the null, so the
  two-sided p-value is ``(1 + #{|d* - d| >= |d|}) / (B + 1)``.
- ``method='permutation'``: a paired permutation (sign-flip) test: each video's statistics
  are swapped between A and B with probability 1/2 and the statistic recomputed;
  ``p = (1 + #{|d_perm| >= |d|}) / (B + 1)``. Exact in level for any f, no resampling
  assumption; preferred for few videos.

Identical runs give d = 0 and p = 1 under both.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

N_BOOT = 2000
_TOL = 0.05  # percent points: how close a recomputed value must be to the reported one


@dataclass
class VideoStats:
    """Per-video sufficient statistics ``S`` (n x k) and the statistic ``f`` of their sum."""

    videos: list[str]
    S: np.ndarray
    f: Callable[[np.ndarray], np.ndarray]  # (m, k) summed stats -> (m,) values
    quantity: str
    decomposable: bool  # f(sum) is the benchmark's definition, not an approximation
    scale: float = 1.0

    def value(self, sums: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.scale * self.f(np.atleast_2d(sums))

    def subset(self, ids: Sequence[str]) -> VideoStats:
        pos = {v: i for i, v in enumerate(self.videos)}
        idx = [pos[v] for v in ids]
        return VideoStats(list(ids), self.S[idx], self.f, self.quantity, self.decomposable,
                          self.scale)


@dataclass
class CI:
    """A bootstrap interval: ``estimate`` (full sample), ``low``/``high`` percentiles."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int
    n_boot: int
    quantity: str = "mean"
    exact: bool = True
    reported: float | None = None


@dataclass
class PairedResult:
    """A paired comparison: ``delta = A - B``, its bootstrap interval and the p-value."""

    delta: float
    p_value: float
    low: float
    high: float
    n: int
    n_boot: int
    method: str
    quantity: str = "mean"
    exact: bool = True


# --------------------------------------------------------------------------- extraction
def _numbers(x: Any) -> list[float] | None:
    """A scalar, list or {id: value} of numbers -> list of floats (None values dropped)."""
    if x is None or isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return [float(x)]
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(float(v))
            elif v is not None:
                return None
        return out
    return None


def _jf_lists(entry: dict) -> tuple[list[float], list[float]] | None:
    """Per-object (or per-expression) J and F of one video, in the same order."""
    if not isinstance(entry, dict):
        return None
    objs = entry.get("objects")
    if isinstance(objs, dict):
        objs = list(objs.values())
    if isinstance(objs, list) and objs and all(isinstance(o, dict) for o in objs):
        js = [o.get("J_mean", o.get("J")) for o in objs]
        fs = [o.get("F_mean", o.get("F")) for o in objs]
        if all(isinstance(v, (int, float)) for v in js + fs):
            return [float(v) for v in js], [float(v) for v in fs]
    for jk, fk in (("J_mean", "F_mean"), ("J", "F")):
        if jk in entry and fk in entry:
            j, f = _numbers(entry[jk]), _numbers(entry[fk])
            if j is not None and f is not None and len(j) == len(f):
                return j, f
    return None


def _f_ratio(a: int, b: int):
    return lambda m: m[:, a] / m[:, b]


def _jf_stats(per_video: dict, metric: str, kind: str) -> VideoStats | None:
    ids, rows = [], []
    for v, e in per_video.items():
        jf = _jf_lists(e)
        if jf is None:
            return None
        ids.append(str(v))
        rows.append([sum(jf[0]), sum(jf[1]), len(jf[0])])
    if not rows:
        return None
    if metric in ("J&F", "G"):
        def f(m):
            return (m[:, 0] + m[:, 1]) / (2 * m[:, 2])
    elif metric in ("J_mean", "J"):
        f = _f_ratio(0, 2)
    elif metric in ("F_mean", "F"):
        f = _f_ratio(1, 2)
    else:
        return None
    return VideoStats(ids, np.asarray(rows, float), f,
                      f"per-{kind} J and F pooled over videos", True)


def _class_iou_stats(per_video: dict) -> VideoStats | None:
    ids, rows = [], []
    for v, e in per_video.items():
        if not isinstance(e, dict) or "intersection" not in e or "union" not in e:
            return None
        inter, union = _numbers(e["intersection"]), _numbers(e["union"])
        gt = _numbers(e.get("gt_area", e.get("union")))
        if inter is None or union is None or gt is None or not len(inter) == len(union) == len(gt):
            return None
        ids.append(str(v))
        rows.append(inter + union + gt)
    if not rows:
        return None
    S = np.asarray(rows, float)
    k = S.shape[1] // 3

    def f(m):
        inter, union, gt = m[:, :k], m[:, k:2 * k], m[:, 2 * k:]
        iou = np.where(gt > 0, inter / np.where(union > 0, union, 1), np.nan)
        return np.nanmean(iou, axis=1)
    return VideoStats(ids, S, f, "per-class intersection/union pooled over videos", True)


def _scalar_stats(per_video: dict, metric: str) -> VideoStats | None:
    ids, rows = [], []
    for v, e in per_video.items():
        x = e.get(metric) if isinstance(e, dict) else e
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            if np.isfinite(x):
                ids.append(str(v))
                rows.append([float(x), 1.0])
        elif x is not None:
            return None
    if not rows:
        return None
    return VideoStats(ids, np.asarray(rows, float), _f_ratio(0, 1),
                      f"mean over videos of per-video {metric}", False)


def _best_iou_stats(per_video: dict) -> VideoStats | None:
    ids, rows = [], []
    for v, e in per_video.items():
        b = _numbers(e.get("best_iou")) if isinstance(e, dict) else None
        if b is None:
            return None
        ids.append(str(v))
        rows.append([sum(b), len(b)])
    if not rows or sum(r[1] for r in rows) == 0:
        return None
    return VideoStats(ids, np.asarray(rows, float), _f_ratio(0, 1),
                      "proxy: mean best tube IoU per GT track (not AP)", False)


def video_statistics(doc: dict, metric: str | None = None) -> VideoStats:
    """Per-video sufficient statistics of ``metric`` (default: headline) in a metrics.json.

    Raises InputError when ``per_video`` holds nothing that can be resampled.
    """
    from .leaderboard import headline
    metric = metric or headline(doc)
    per_video = doc.get("per_video") or {}
    bench = doc.get("benchmark", "?")
    if not per_video:
        raise InputError(f"{bench}: metrics.json has no per_video numbers to resample")
    vs = None
    if bench in ("davis17", "mose"):
        vs = _jf_stats(per_video, metric, "object")
    elif bench == "refytvos":
        vs = _jf_stats(per_video, metric, "expression")
    elif bench == "vspw" and metric == "mIoU":
        vs = _class_iou_stats(per_video)
    if vs is None:
        vs = _scalar_stats(per_video, metric)
    if vs is None and bench in ("ytvis19", "ytvis21", "ovis"):
        vs = _best_iou_stats(per_video)
    if vs is None:
        raise InputError(f"{bench}: per_video holds no per-video {metric!r} nor sufficient "
                         "statistics for it; cannot bootstrap")
    reported = (doc.get("metrics") or {}).get(metric)
    if reported is not None:
        est = float(vs.value(vs.S.sum(0))[0])
        if abs(100 * est - reported) < abs(est - reported):
            vs.scale = 100.0  # per-video numbers kept as fractions, metrics in percent
            est *= 100
        vs.decomposable = vs.decomposable and abs(est - reported) <= _TOL
    return vs


# --------------------------------------------------------------------------- bootstrap
def _weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) counts: how often each video is drawn in each resample."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)


def _interval(samples: np.ndarray, alpha: float) -> tuple[float | None, float | None]:
    s = samples[np.isfinite(samples)]
    if not len(s):
        return None, None
    lo, hi = np.percentile(s, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)


def bootstrap_stats(vs: VideoStats, *, n_boot: int = N_BOOT, alpha: float = 0.05,
                    seed: int = 0) -> CI:
    """Percentile bootstrap interval of ``vs.f`` resampling videos."""
    n = len(vs.videos)
    if n == 0:
        raise InputError("no videos to resample")
    est = float(vs.value(vs.S.sum(0))[0])
    rng = np.random.default_rng(seed)
    samples = vs.value(_weights(n, n_boot, rng) @ vs.S)
    lo, hi = _interval(samples, alpha)
    return CI(est if np.isfinite(est) else None, lo, hi, n, n_boot, vs.quantity, vs.decomposable)


def bootstrap_ci(values: Sequence[float], *, n_boot: int = N_BOOT, alpha: float = 0.05,
                 seed: int = 0) -> CI:
    """Bootstrap interval of the mean of per-video ``values`` (None/NaN dropped)."""
    x = np.array([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    vs = VideoStats([str(i) for i in range(len(x))], np.stack([x, np.ones_like(x)], 1),
                    _f_ratio(0, 1), "mean", True)
    return bootstrap_stats(vs, n_boot=n_boot, alpha=alpha, seed=seed)


def bootstrap_metric(doc: dict, metric: str | None = None, *, n_boot: int = N_BOOT,
                     alpha: float = 0.05, seed: int = 0) -> CI:
    """Bootstrap interval of a metric of a metrics.json (see the module table)."""
    vs = video_statistics(doc, metric)
    ci = bootstrap_stats(vs, n_boot=n_boot, alpha=alpha, seed=seed)
    ci.reported = (doc.get("metrics") or {}).get(metric or _headline(doc))
    return ci


def _headline(doc: dict) -> str | None:
    from .leaderboard import headline
    return headline(doc)


# --------------------------------------------------------------------------- paired tests
def paired_test_stats(a: VideoStats, b: VideoStats, *, method: str = "bootstrap",
                      n_boot: int = N_BOOT, alpha: float = 0.05, seed: int = 0) -> PairedResult:
    """Paired test of ``A - B`` on the videos both runs scored (module docstring)."""
    common = [v for v in a.videos if v in set(b.videos)]
    if not common:
        raise InputError("the two runs share no video: a paired test needs the same videos")
    a, b = a.subset(common), b.subset(common)
    if a.S.shape[1] != b.S.shape[1]:
        raise InputError("the two runs store different per-video statistics; cannot pair them")
    n = len(common)
    ta, tb = a.S.sum(0), b.S.sum(0)
    delta = float(a.value(ta)[0] - b.value(tb)[0])
    rng = np.random.default_rng(seed)
    W = _weights(n, n_boot, rng)
    boot = a.value(W @ a.S) - b.value(W @ b.S)
    lo, hi = _interval(boot, alpha)
    if method == "bootstrap":
        null = boot - delta
    elif method == "permutation":
        Z = rng.integers(0, 2, size=(n_boot, n)).astype(float)
        D = Z @ (a.S - b.S)  # statistics moved from A to B by the swaps
        null = a.value(ta - D) - b.value(tb + D)
    else:
        raise InputError(f"unknown paired test {method!r}; choose bootstrap or permutation")
    null = null[np.isfinite(null)]
    # a tiny tolerance so that float noise in "identical" runs does not count as a difference
    hits = np.count_nonzero(np.abs(null) >= abs(delta) - 1e-12)
    p = (1 + hits) / (len(null) + 1)
    return PairedResult(delta, float(min(1.0, p)), lo, hi, n, n_boot, method, a.quantity,
                        a.decomposable and b.decomposable)


def paired_test(doc_a: dict, doc_b: dict, metric: str | None = None, *,
                method: str = "bootstrap", n_boot: int = N_BOOT, seed: int = 0) -> PairedResult:
    """Paired test between two metrics.json of the same benchmark (``delta = A - B``)."""
    if doc_a.get("benchmark") != doc_b.get("benchmark"):
        raise InputError(f"cannot pair {doc_a.get('benchmark')} with {doc_b.get('benchmark')}")
    metric = metric or _headline(doc_a)
    return paired_test_stats(video_statistics(doc_a, metric), video_statistics(doc_b, metric),
                             method=method, n_boot=n_boot, seed=seed)


def paired_test_values(a: Sequence[float], b: Sequence[float], *, method: str = "bootstrap",
                       n_boot: int = N_BOOT, seed: int = 0) -> PairedResult:
    """Paired test of mean(a) - mean(b) for per-video values given in the same video order."""
    if len(a) != len(b):
        raise InputError(f"paired values differ in length ({len(a)} vs {len(b)})")
    ids = [str(i) for i in range(len(a))]

    def mk(x):
        x = np.asarray(x, float)
        return VideoStats(ids, np.stack([x, np.ones_like(x)], 1), _f_ratio(0, 1), "mean", True)
    return paired_test_stats(mk(a), mk(b), method=method, n_boot=n_boot, seed=seed)


__all__ = [
    "CI",
    "PairedResult",
    "VideoStats",
    "bootstrap_ci",
    "bootstrap_metric",
    "bootstrap_stats",
    "paired_test",
    "paired_test_stats",
    "paired_test_values",
    "video_statistics",
]
