"""Bootstrap confidence intervals over videos and paired tests between two runs.

The unit of resampling is the **video** (a cluster bootstrap; BURST: the sequence; Ref-*:
the video with all its expressions). A resample draws n videos with replacement from the n
scored videos and recomputes the benchmark's **own** metric from the drawn videos' sufficient
statistics, which the evaluators keep in ``per_video`` of their JSON (CONTRACT.md). A
resample is a vector of counts ``w`` (how often each video is drawn), so the point estimate is
the metric with ``w = 1`` (the full set, reproduced exactly; checked against the reported
value) and the interval is of the same quantity on the same scale (percent).

=====================  =================================================================
benchmark              per-video sufficient statistics (``per_video[video]``)
=====================  =================================================================
davis17, mose          per object ``J_mean``/``F_mean`` (and recall/decay): the metric is
                       the mean over all objects of the set
ytvos18                per object J, F and ``seen``: G is the mean of the four
                       seen/unseen object means
refytvos               per expression J, F (a video carries all its expressions)
refdavis17             per anno set and object J, F (a sequence carries its four sets)
viposeg                per object IoU, bIoU, subset and frames: pooled over (object, frame)
vspw                   ``confusion`` (per class intersection, GT and predicted pixels) and
                       ``vc`` (per length: sum and count of window accuracies)
vipseg                 ``pq`` (per class and window: IoU sum, TP, FP, FN), ``stq`` (per
                       class confusion diagonal, row and column sums), ``aq_sum``, ``tubes``
ytvis19/21, ovis       ``ap_stats``: per category detection scores, TP/ignore bitmasks over
                       the ten IoU thresholds and non-ignored GT count ((all, all) range);
                       AP/AR are recomputed with the cocoapi accumulation, a detection
                       weighted by its video's count (AP, AP50, AP75, AR1, AR10, AR100)
burst                  ``hota_stats``: per class TP/FN/FP and AssA x TP over the 19 alphas
                       and whether the GT has the class (HOTA/DetA/AssA, all/common/uncommon)
=====================  =================================================================

When a metric cannot be resampled (a metrics.json written before these statistics existed,
an area/occlusion AP range, OWTA, a single video) :func:`video_statistics` raises
:class:`~univs_bench.errors.InputError` whose message says why; tables print that reason.
A resample on which the metric is undefined (e.g. no unseen object drawn) is left out of the
percentiles; ``CI.undefined`` counts them.

Intervals are percentile intervals (2.5 and 97.5 percentiles of 2000 resamples by default),
deterministic for a given ``seed`` (numpy ``default_rng``). Pooled, nonlinear metrics (AP with
its precision envelope, mIoU over the classes present) have skewed and biased resampling
distributions: resampled AP is larger than the full-set AP on average, so the point estimate
can sit near (rarely just outside) an end of its interval. That is a property of the metric,
not of the resampling: a resample's AP is exactly cocoapi's AP of the drawn videos
(tests/test_report_stats.py).

Paired tests compare runs A and B on the videos both scored, applying the **same** video
resample to both (so the statistic is again the benchmark's own metric):

- ``method='bootstrap'`` (default): the paired bootstrap of Koehn (2004) / Berg-Kirkpatrick
  et al. (2012): ``d* = f_A(w) - f_B(w)``; the centred ``d* - d`` mimics the null, so the
  two-sided p-value is ``(1 + #{|d* - d| >= |d|}) / (B + 1)``.
- ``method='permutation'``: a paired sign-flip test (each video's statistics swapped between A
  and B with probability 1/2); only for additive statistics (all but VIS AP).

Identical runs give d = 0 and p = 1 under both.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

N_BOOT = 2000
_TOL = 1e-6  # percent points: a recomputed point estimate must reproduce the reported metric


@dataclass
class VideoStats:
    """Per-video statistics of one metric: ``fn(W)`` is the metric (percent) for each row of
    video counts ``W`` (m x n, columns in ``videos`` order), NaN where undefined.

    ``S``/``f`` are set when the metric is ``f(W @ S)`` of additive statistics (enables the
    permutation test)."""

    videos: list[str]
    fn: Callable[[np.ndarray], np.ndarray]
    quantity: str
    S: np.ndarray | None = None
    f: Callable[[np.ndarray], np.ndarray] | None = None

    def value(self, W: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.fn(np.atleast_2d(np.asarray(W, float))), float)

    def subset(self, ids: Sequence[str]) -> VideoStats:
        """The same metric restricted to (and with columns ordered as) ``ids``."""
        pos = {v: i for i, v in enumerate(self.videos)}
        idx = np.array([pos[v] for v in ids], dtype=np.int64)
        n, full = len(self.videos), self.fn

        def fn(W):
            big = np.zeros((W.shape[0], n))
            big[:, idx] = W
            return full(big)
        return VideoStats(list(ids), fn, self.quantity,
                          None if self.S is None else self.S[idx], self.f)


def _additive(videos: list[str], S: np.ndarray, f: Callable, quantity: str) -> VideoStats:
    S = np.asarray(S, float)
    return VideoStats(videos, lambda W: f(W @ S), quantity, S, f)


@dataclass
class CI:
    """A bootstrap interval: ``estimate`` (full set), ``low``/``high`` percentiles (percent)."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int
    n_boot: int
    quantity: str = "mean"
    exact: bool = True  # kept for callers: every interval here is of the reported metric
    reported: float | None = None
    undefined: int = 0


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


# --------------------------------------------------------------------------- helpers
def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if np.isfinite(x) else None


def _video_order(keys: Sequence[str]) -> list[str]:
    """The evaluators' video order: numeric ids numerically (YTVIS json ids), else by name."""
    keys = [str(k) for k in keys]
    if all(k.lstrip("-").isdigit() for k in keys):
        return sorted(keys, key=int)
    return sorted(keys)


def _no_stats(bench: str, metric: str, what: str) -> InputError:
    return InputError(f"{bench} {metric}: per_video has no {what} (written by an older "
                      "univs-bench; re-run evaluate to get intervals)")


def _ratio(a, b):
    return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


# --------------------------------------------------------------------------- per benchmark
_JF = {"J&F": ("J_mean", "F_mean"), "G": ("J_mean", "F_mean"), "J_mean": ("J_mean",),
       "F_mean": ("F_mean",), "J_recall": ("J_recall",), "F_recall": ("F_recall",),
       "J_decay": ("J_decay",), "F_decay": ("F_decay",), "J": ("J", "J_mean"),
       "F": ("F", "F_mean")}


def _obj_field(o: dict, key: str) -> float | None:
    v = o.get(key)
    if v is None and key in ("J", "F"):
        v = o.get(key + "_mean")
    return _num(v)


def _objects_mean(bench: str, metric: str, per_video: dict, kind: str) -> VideoStats:
    """Metrics that are means over all objects (DAVIS, MOSE) / expressions (Ref-YT-VOS)."""
    if metric not in _JF:
        raise InputError(f"{bench} {metric}: not a per-object mean; no interval")
    keys = ("J_mean", "F_mean") if metric in ("J&F", "G") else (metric,)
    if bench == "refytvos":
        keys = ("J", "F") if metric == "J&F" else (metric,)
    videos = _video_order(per_video)
    rows = []
    for v in videos:
        objs = per_video[v]
        if not isinstance(objs, dict):
            raise _no_stats(bench, metric, f"per-{kind} values for video {v!r}")
        s = [0.0] * len(keys)
        for o in objs.values():
            vals = [_obj_field(o, k) if isinstance(o, dict) else None for k in keys]
            if any(x is None for x in vals):
                raise _no_stats(bench, metric, f"per-{kind} {'/'.join(keys)} in video {v!r}")
            s = [a + b for a, b in zip(s, vals)]
        rows.append(s + [len(objs)])
    k = len(keys)
    return _additive(videos, np.array(rows), lambda m: m[:, :k].sum(1) / (k * m[:, k]),
                     f"mean over {kind}s of {'/'.join(keys)}")


def _ytvos(bench: str, metric: str, per_video: dict) -> VideoStats:
    names = ("J_seen", "F_seen", "J_unseen", "F_unseen")
    if metric != "G" and metric not in names:
        raise InputError(f"{bench} {metric}: unknown metric")
    videos = _video_order(per_video)
    rows = []
    for v in videos:
        r = np.zeros(6)
        for o in per_video[v].values():
            j, f, seen = _obj_field(o, "J"), _obj_field(o, "F"), o.get("seen")
            if j is None or f is None or not isinstance(seen, bool):
                raise _no_stats(bench, metric, f"per-object J, F and seen in video {v!r}")
            base = 0 if seen else 3
            r[base:base + 3] += (j, f, 1)
        rows.append(r)

    def f(m):
        js, fs, ju, fu = (_ratio(m[:, 0], m[:, 2]), _ratio(m[:, 1], m[:, 2]),
                          _ratio(m[:, 3], m[:, 5]), _ratio(m[:, 4], m[:, 5]))
        if metric == "G":
            return (js + fs + ju + fu) / 4
        return {"J_seen": js, "F_seen": fs, "J_unseen": ju, "F_unseen": fu}[metric]
    return _additive(videos, np.array(rows), f, "seen/unseen object means")


def _refdavis(bench: str, metric: str, per_video: dict) -> VideoStats:
    sets = sorted(k for k in per_video if str(k).startswith("anno_"))
    if not sets:
        raise _no_stats(bench, metric, "anno_<k> sets")
    videos = _video_order(per_video[sets[0]])
    rows = []
    for v in videos:
        r = []
        for a in sets:
            objs = (per_video[a] or {}).get(v)
            if not isinstance(objs, dict):
                raise _no_stats(bench, metric, f"sequence {v!r} in {a}")
            js = [_obj_field(o, "J_mean") for o in objs.values()]
            fs = [_obj_field(o, "F_mean") for o in objs.values()]
            if any(x is None for x in js + fs):
                raise _no_stats(bench, metric, f"per-object J/F of {v!r} in {a}")
            r += [sum(js), sum(fs), len(js)]
        rows.append(r)
    na = len(sets)

    def f(m):
        per = []
        for a in range(na):
            j, fm, n = m[:, 3 * a], m[:, 3 * a + 1], m[:, 3 * a + 2]
            per.append({"J&F": (j + fm) / (2 * n), "J_mean": j / n, "F_mean": fm / n})
        if metric.startswith("J&F_anno"):
            return per[int(metric[len("J&F_anno"):])]["J&F"]
        return np.mean([p[metric] for p in per], axis=0)
    if not (metric in ("J&F", "J_mean", "F_mean") or metric.startswith("J&F_anno")):
        raise InputError(f"{bench} {metric}: unknown metric")
    return _additive(videos, np.array(rows, float), f,
                     "per-set object means; a sequence carries its four sets")


_VIPOSEG_SUBSETS = ("thing_seen", "thing_unseen", "stuff_seen", "stuff_unseen")


def _viposeg(bench: str, metric: str, per_video: dict) -> VideoStats:
    videos = _video_order(per_video)
    rows = []
    for v in videos:
        r = np.zeros(3 * len(_VIPOSEG_SUBSETS))
        for o in per_video[v].values():
            iou, biou, n = _num(o.get("IoU")), _num(o.get("bIoU")), _num(o.get("frames"))
            s = o.get("subset")
            if iou is None or biou is None or n is None or s not in _VIPOSEG_SUBSETS:
                raise _no_stats(bench, metric, f"per-object IoU/bIoU/subset/frames in {v!r}")
            i = 3 * _VIPOSEG_SUBSETS.index(s)
            r[i:i + 3] += (iou * n, biou * n, n)
        rows.append(r)

    def f(m):
        out = {}
        gs = []
        for k, s in enumerate(_VIPOSEG_SUBSETS):
            iou, biou = _ratio(m[:, 3 * k], m[:, 3 * k + 2]), _ratio(m[:, 3 * k + 1], m[:, 3 * k + 2])
            out[f"IoU_{s}"], out[f"bIoU_{s}"], out[f"G_{s}"] = iou, biou, (iou + biou) / 2
            gs.append((iou + biou) / 2)
        out["G"] = sum(gs) / 4
        return out[metric]
    valid = {"G"} | {f"{p}_{s}" for p in ("G", "IoU", "bIoU") for s in _VIPOSEG_SUBSETS}
    if metric not in valid:
        raise InputError(f"{bench} {metric}: unknown metric")
    return _additive(videos, np.array(rows), f, "(object, frame) pairs pooled per subset")


def _dense(per_video: dict, videos: list[str], key: str, fields: Sequence[str], bench: str,
           metric: str) -> tuple[np.ndarray, list[int]]:
    """Per-class sparse lists of each video -> (n, len(fields) * C) over the union of classes."""
    cls: set[int] = set()
    for v in videos:
        d = per_video[v].get(key) if isinstance(per_video[v], dict) else None
        if not isinstance(d, dict) or "classes" not in d:
            raise _no_stats(bench, metric, f"'{key}' statistics for video {v!r}")
        cls.update(int(c) for c in d["classes"])
    order = sorted(cls)
    pos = {c: i for i, c in enumerate(order)}
    C = len(order)
    out = np.zeros((len(videos), len(fields) * C))
    for r, v in enumerate(videos):
        d = per_video[v][key]
        idx = np.array([pos[int(c)] for c in d["classes"]], dtype=np.int64)
        for k, fld in enumerate(fields):
            if len(idx):
                out[r, k * C + idx] = np.asarray(d[fld], float)
    return out, order


def _vspw(bench: str, metric: str, per_video: dict) -> VideoStats:
    videos = _video_order(per_video)
    if metric.startswith("mVC"):
        n = metric[3:]
        rows = []
        for v in videos:
            vc = (per_video[v].get("vc") or {}).get(n) if isinstance(per_video[v], dict) else None
            if not (isinstance(vc, list) and len(vc) == 2):
                raise _no_stats(bench, metric, f"'vc' window sums for video {v!r}")
            rows.append(vc)
        return _additive(videos, np.array(rows, float), lambda m: 100 * _ratio(m[:, 0], m[:, 1]),
                         "window accuracies pooled over videos")
    if metric not in ("mIoU", "pixel_acc", "mean_class_acc", "fwIoU"):
        raise InputError(f"{bench} {metric}: unknown metric")
    S, order = _dense(per_video, videos, "confusion", ("inter", "gt", "pred"), bench, metric)
    tot = np.array([[float(per_video[v]["confusion"].get("total", 0))] for v in videos])
    S = np.hstack([S, tot])
    C = len(order)

    def f(m):
        inter, gt, pred, total = m[:, :C], m[:, C:2 * C], m[:, 2 * C:3 * C], m[:, 3 * C]
        iou = _ratio(inter, gt + pred - inter)
        has = gt > 0
        cnt = has.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            if metric == "mIoU":
                r = np.where(has, iou, 0).sum(1) / cnt
            elif metric == "mean_class_acc":
                r = np.where(has, _ratio(inter, gt), 0).sum(1) / cnt
            elif metric == "pixel_acc":
                r = _ratio(inter.sum(1), total)
            else:
                r = np.where(has, _ratio(gt, total[:, None]) * np.nan_to_num(iou), 0).sum(1)
                r = np.where(total > 0, r, np.nan)
        return 100 * np.where(cnt > 0, r, np.nan) if metric != "pixel_acc" else 100 * r
    return _additive(videos, S, f, "confusion pooled over videos")


def _vipseg(bench: str, metric: str, per_video: dict) -> VideoStats:
    videos = _video_order(per_video)
    if metric in ("STQ", "AQ", "SQ"):
        S, order = _dense(per_video, videos, "stq", ("inter", "gt", "pred"), bench, metric)
        aq = []
        for v in videos:
            a, t = _num(per_video[v].get("aq_sum")), _num(per_video[v].get("tubes"))
            if a is None or t is None:
                raise _no_stats(bench, metric, f"aq_sum/tubes for video {v!r}")
            aq.append([a, t])
        S = np.hstack([S, np.array(aq)])
        C = len(order)

        def f(m):
            inter, gt, pred = m[:, :C], m[:, C:2 * C], m[:, 2 * C:3 * C]
            union = gt + pred - inter
            n = (union > 0).sum(1)
            sq = np.where(n > 0, (inter / np.maximum(union, 1e-15)).sum(1) / np.maximum(n, 1), np.nan)
            aqv = m[:, 3 * C] / np.maximum(m[:, 3 * C + 1], 1e-15)
            return 100 * {"STQ": np.sqrt(aqv * sq), "AQ": aqv, "SQ": sq}[metric]
        return _additive(videos, S, f, "STQ confusion and AQ pooled over videos")
    wins = None
    thing: dict[int, bool] = {}
    for v in videos:
        d = per_video[v].get("pq") if isinstance(per_video[v], dict) else None
        if not isinstance(d, dict) or "sums" not in d:
            raise _no_stats(bench, metric, f"'pq' statistics for video {v!r}")
        wins = d["windows"]
        thing.update({int(c): bool(t) for c, t in zip(d["classes"], d["thing"])})
    order = sorted(thing)
    pos = {c: i for i, c in enumerate(order)}
    C, Wn = len(order), len(wins)
    S = np.zeros((len(videos), Wn * 4 * C))
    for r, v in enumerate(videos):
        d = per_video[v]["pq"]
        for c, sums in zip(d["classes"], d["sums"]):
            arr = np.asarray(sums, float)  # [windows, 4]
            for w in range(Wn):
                S[r, (w * 4 + np.arange(4)) * C + pos[int(c)]] = arr[w]
    is_thing = np.array([thing[c] for c in order], dtype=bool)
    sel = {"VPQ": np.ones(C, bool), "VPQ_th": is_thing, "VPQ_st": ~is_thing}

    def pq(m, w, mask):
        b = w * 4 * C
        iou, tp, fp, fn = (m[:, b + k * C:b + (k + 1) * C][:, mask] for k in range(4))
        used = (tp + fp + fn) > 0
        val = np.where(used, iou / np.where(used, tp + 0.5 * fp + 0.5 * fn, 1), 0)
        cnt = used.sum(1)
        return np.where(cnt > 0, val.sum(1) / np.maximum(cnt, 1), np.nan)

    if metric.startswith("VPQ@"):
        w = list(wins).index(int(metric[4:]))
        return _additive(videos, S, lambda m: 100 * pq(m, w, sel["VPQ"]), "PQ sums pooled")
    if metric not in sel:
        raise InputError(f"{bench} {metric}: unknown metric")
    return _additive(videos, S, lambda m: 100 * np.mean([pq(m, w, sel[metric]) for w in range(Wn)], 0),
                     "per-window PQ sums pooled over videos")


def _burst(bench: str, metric: str, per_video: dict) -> VideoStats:
    from ..evaluators.burst import BURST_COMMON_IDS
    name, _, split = metric.partition("_")
    if name not in ("HOTA", "DetA", "AssA") or split not in ("all", "common", "uncommon"):
        raise InputError(f"{bench} {metric}: only HOTA/DetA/AssA have per-sequence statistics")
    videos = _video_order(per_video)
    classes: set[int] = set()
    for v in videos:
        h = per_video[v].get("hota_stats") if isinstance(per_video[v], dict) else None
        if not isinstance(h, dict):
            raise _no_stats(bench, metric, f"'hota_stats' for sequence {v!r}")
        classes.update(int(c) for c in h)
    common = set(BURST_COMMON_IDS)
    order = [c for c in sorted(classes) if split == "all" or (c in common) == (split == "common")]
    C = len(order)
    A = None
    for v in videos:
        for h in per_video[v]["hota_stats"].values():
            A = len(h["TP"])
            break
        if A:
            break
    A = A or 19
    S = np.zeros((len(videos), C * (4 * A + 1)))
    for r, v in enumerate(videos):
        for c, h in per_video[v]["hota_stats"].items():
            if int(c) not in order:
                continue
            b = order.index(int(c)) * (4 * A + 1)
            S[r, b:b + 4 * A] = np.concatenate([h["TP"], h["FN"], h["FP"], h["AssA_TP"]])
            S[r, b + 4 * A] = 1.0 if h.get("gt") else 0.0

    def f(m):
        vals = np.zeros((m.shape[0], C))
        used = np.zeros((m.shape[0], C), bool)
        for k in range(C):
            b = k * (4 * A + 1)
            tp, fn, fp, at = (m[:, b + i * A:b + (i + 1) * A] for i in range(4))
            det = tp / np.maximum(1, tp + fn + fp)
            ass = at / np.maximum(1.0, tp)
            per = {"HOTA": np.sqrt(det * ass), "DetA": det, "AssA": ass}[name]
            vals[:, k] = per.mean(1)
            used[:, k] = m[:, b + 4 * A] > 0
        cnt = used.sum(1)
        return np.where(cnt > 0, 100 * np.where(used, vals, 0).sum(1) / np.maximum(cnt, 1), np.nan)
    return _additive(videos, S, f, "per-class HOTA counts pooled over sequences")


def _vis_ap(bench: str, metric: str, per_video: dict) -> VideoStats:
    kinds = {"AP": ("ap", None, 100), "AP50": ("ap", 0, 100), "AP75": ("ap", 5, 100),
             "AR1": ("ar", None, 1), "AR10": ("ar", None, 10), "AR100": ("ar", None, 100)}
    if metric not in kinds:
        raise InputError(f"{bench} {metric}: per-video statistics cover the (all area, all "
                         "occlusion) range only; no interval")
    kind, thr, max_det = kinds[metric]
    videos = _video_order(per_video)
    cats: dict[str, list] = {}
    n_gt: dict[str, np.ndarray] = {}
    for i, v in enumerate(videos):
        st = per_video[v].get("ap_stats") if isinstance(per_video[v], dict) else None
        if not isinstance(st, dict):
            raise _no_stats(bench, metric, f"'ap_stats' for video {v!r}")
        for c, s in st.items():
            cats.setdefault(c, []).append((i, s))
            n_gt.setdefault(c, np.zeros(len(videos)))[i] = s["n_gt"]
    T, rec = 10, np.linspace(0.0, 1.0, 101, endpoint=True)
    bits = 1 << np.arange(T)
    prepared = []
    for c, lst in cats.items():
        sc, tp, ig, vid = [], [], [], []
        for i, s in lst:
            k = min(max_det, len(s["scores"]))
            sc += s["scores"][:k]
            tp += s["tp"][:k]
            ig += s["ig"][:k]
            vid += [i] * k
        o = np.argsort(-np.asarray(sc, float), kind="mergesort")
        tpb = (np.asarray(tp, np.int64)[o, None] & bits) > 0  # (D, T)
        igb = (np.asarray(ig, np.int64)[o, None] & bits) > 0
        prepared.append((np.asarray(vid, np.int64)[o], tpb.T.astype(float),
                         (~tpb & ~igb).T.astype(float), n_gt[c]))

    def fn(W):
        B = W.shape[0]
        per_cat = []
        for vid, tpm, fpm, ngt in prepared:
            npig = W @ ngt
            out = np.full(B, np.nan)
            ok = npig > 0
            if not ok.any():
                per_cat.append(out)
                continue
            D = len(vid)
            if D == 0:
                out[ok] = 0.0
                per_cat.append(out)
                continue
            step = max(1, int(4e6 // max(1, T * D)))
            for s0 in range(0, B, step):
                w = W[s0:s0 + step][:, vid]  # (b, D)
                tps = np.cumsum(w[:, None, :] * tpm[None], axis=2)
                fps = np.cumsum(w[:, None, :] * fpm[None], axis=2)
                ng = npig[s0:s0 + step, None, None]
                with np.errstate(divide="ignore", invalid="ignore"):
                    rc = tps / ng
                pr = tps / (fps + tps + np.spacing(1))
                if kind == "ar":
                    r = rc[:, :, -1].mean(1)
                else:
                    env = np.maximum.accumulate(pr[:, :, ::-1], axis=2)[:, :, ::-1]
                    b = env.shape[0]
                    rows = b * T
                    cnt = np.searchsorted(rec, rc.reshape(rows, D), side="right")  # thresholds <= rc
                    nb = len(rec) + 1
                    flat = (np.arange(rows)[:, None] * nb + cnt).ravel()
                    hist = np.bincount(flat, minlength=rows * nb).reshape(rows, nb)
                    idx = np.cumsum(hist, axis=1)[:, :len(rec)]  # #points with rc < rec[j]
                    e = env.reshape(rows, D)
                    q = np.where(idx < D, np.take_along_axis(e, np.minimum(idx, D - 1), 1), 0.0)
                    q = q.reshape(b, T, len(rec))
                    r = (q[:, thr] if thr is not None else q.reshape(b, -1)).mean(-1)
                out[s0:s0 + step] = np.where(ok[s0:s0 + step], r, np.nan)
            per_cat.append(out)
        if not per_cat:
            return np.full(B, np.nan)
        with np.errstate(invalid="ignore"):
            M = np.stack(per_cat, 1)
            cnt = np.isfinite(M).sum(1)
            return np.where(cnt > 0, 100 * np.nansum(M, 1) / np.maximum(cnt, 1), np.nan)
    return VideoStats(videos, fn, "cocoapi AP/AR of the drawn videos' detections")


_EXTRACTORS = {
    "davis17": lambda b, m, p: _objects_mean(b, m, p, "object"),
    "mose": lambda b, m, p: _objects_mean(b, m, p, "object"),
    "refytvos": lambda b, m, p: _objects_mean(b, m, p, "expression"),
    "ytvos18": _ytvos, "refdavis17": _refdavis, "viposeg": _viposeg, "vspw": _vspw,
    "vipseg": _vipseg, "ytvis19": _vis_ap, "ytvis21": _vis_ap, "ovis": _vis_ap, "burst": _burst,
}


def video_statistics(doc: dict, metric: str | None = None) -> VideoStats:
    """Per-video sufficient statistics of ``metric`` (default: headline) in a metrics.json.

    The full-set value is recomputed and must equal the reported metric. Raises InputError
    saying why when no interval can be computed.
    """
    from ..benchmarks import headline_metric as headline
    metric = metric or headline(doc)
    per_video = doc.get("per_video") or {}
    bench = doc.get("benchmark", "?")
    if not per_video:
        raise InputError(f"{bench}: metrics.json has no per_video numbers to resample")
    if bench not in _EXTRACTORS:
        raise InputError(f"{bench}: no resampling rule for this benchmark")
    vs = _EXTRACTORS[bench](bench, str(metric), per_video)
    reported = _num((doc.get("metrics") or {}).get(metric))
    est = float(vs.value(np.ones((1, len(vs.videos))))[0])
    if reported is not None and not (np.isfinite(est) and abs(est - reported) <= _TOL):
        raise InputError(f"{bench} {metric}: per-video statistics give {est:.6f}, the reported "
                         f"value is {reported:.6f}; no interval")
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
    """Percentile bootstrap interval of ``vs``'s metric resampling videos."""
    n = len(vs.videos)
    if n == 0:
        raise InputError("no videos to resample")
    est = float(vs.value(np.ones((1, n)))[0])
    rng = np.random.default_rng(seed)
    samples = vs.value(_weights(n, n_boot, rng))
    lo, hi = _interval(samples, alpha)
    return CI(est if np.isfinite(est) else None, lo, hi, n, n_boot, vs.quantity, True,
              undefined=int(np.count_nonzero(~np.isfinite(samples))))


def bootstrap_ci(values: Sequence[float], *, n_boot: int = N_BOOT, alpha: float = 0.05,
                 seed: int = 0) -> CI:
    """Bootstrap interval of the mean of per-video ``values`` (None/NaN dropped)."""
    x = np.array([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    vs = _additive([str(i) for i in range(len(x))], np.stack([x, np.ones_like(x)], 1),
                   lambda m: m[:, 0] / m[:, 1], "mean")
    return bootstrap_stats(vs, n_boot=n_boot, alpha=alpha, seed=seed)


def bootstrap_metric(doc: dict, metric: str | None = None, *, n_boot: int = N_BOOT,
                     alpha: float = 0.05, seed: int = 0) -> CI:
    """Bootstrap interval of a metric of a metrics.json (see the module table).

    Raises InputError (with the reason) when there is no interval: no statistics, or fewer
    than two videos.
    """
    from ..benchmarks import headline_metric as headline
    metric = metric or headline(doc)
    vs = video_statistics(doc, metric)
    if len(vs.videos) < 2:
        raise InputError(f"{doc.get('benchmark')} {metric}: 1 video; no interval")
    ci = bootstrap_stats(vs, n_boot=n_boot, alpha=alpha, seed=seed)
    ci.reported = (doc.get("metrics") or {}).get(metric)
    return ci


# --------------------------------------------------------------------------- paired tests
def paired_test_stats(a: VideoStats, b: VideoStats, *, method: str = "bootstrap",
                      n_boot: int = N_BOOT, alpha: float = 0.05, seed: int = 0) -> PairedResult:
    """Paired test of ``A - B`` on the videos both runs scored (module docstring)."""
    common = [v for v in a.videos if v in set(b.videos)]
    if not common:
        raise InputError("the two runs share no video: a paired test needs the same videos")
    a, b = a.subset(common), b.subset(common)
    n = len(common)
    one = np.ones((1, n))
    delta = float(a.value(one)[0] - b.value(one)[0])
    rng = np.random.default_rng(seed)
    W = _weights(n, n_boot, rng)
    boot = a.value(W) - b.value(W)
    lo, hi = _interval(boot, alpha)
    if method == "bootstrap":
        null = boot - delta
    elif method == "permutation":
        if a.S is None or b.S is None or a.S.shape[1] != b.S.shape[1]:
            raise InputError(f"a permutation test needs additive per-video statistics ({a.quantity}); "
                             "use the paired bootstrap")
        Z = rng.integers(0, 2, size=(n_boot, n)).astype(float)
        D = Z @ (a.S - b.S)  # statistics moved from A to B by the swaps
        ta, tb = a.S.sum(0), b.S.sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            null = a.f(ta - D) - b.f(tb + D)
    else:
        raise InputError(f"unknown paired test {method!r}; choose bootstrap or permutation")
    null = null[np.isfinite(null)]
    # a tiny tolerance so that float noise in "identical" runs does not count as a difference
    hits = np.count_nonzero(np.abs(null) >= abs(delta) - 1e-12)
    p = (1 + hits) / (len(null) + 1)
    return PairedResult(delta, float(min(1.0, p)), lo, hi, n, n_boot, method, a.quantity, True)


def paired_test(doc_a: dict, doc_b: dict, metric: str | None = None, *,
                method: str = "bootstrap", n_boot: int = N_BOOT, seed: int = 0) -> PairedResult:
    """Paired test between two metrics.json of the same benchmark (``delta = A - B``)."""
    from ..benchmarks import headline_metric as headline
    if doc_a.get("benchmark") != doc_b.get("benchmark"):
        raise InputError(f"cannot pair {doc_a.get('benchmark')} with {doc_b.get('benchmark')}")
    metric = metric or headline(doc_a)
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
        return _additive(ids, np.stack([x, np.ones_like(x)], 1), lambda m: m[:, 0] / m[:, 1], "mean")
    return paired_test_stats(mk(a), mk(b), method=method, n_boot=n_boot, seed=seed)


__all__ = [
    "CI",
    "PairedResult",
    "VideoStats",
    "bootstrap_ci",
    "bootstrap_metric",
    "bootstrap_stats",
    "paired_test",
    "paired_test_values",
    "video_statistics",
]
