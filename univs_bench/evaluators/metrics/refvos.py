"""Referring VOS (Ref-YouTube-VOS J&F; Ref-DAVIS 2017 J&F over four anno sets) as an MMEngine metric.

Per-frame J and F come from ``functional.jf.frame_jf`` / ``frame_jf_pairs``, per-object
statistics from ``evaluators.vos.object_stats``, per-set numbers from
``evaluators.refvos._set_summary``. The frame loops restate ``evaluators.refvos._refytvos_video``
and ``_unsup_video`` on in-memory arrays (those read folders).
"""
from __future__ import annotations

import numpy as np

from ...data_converters.base import MaskResolver
from ...errors import InputError
from ...registry import METRICS
from ..base import pct
from ..functional import jf
from ..refvos import MAX_PROPOSALS, N_ANNO_SETS, _set_summary
from ..vos import object_stats
from .base import VideoMetric, gt_labels, gt_png_frames, paint, track_score


def unsup_video_stats(video: str, frames, n_frames: int) -> dict:
    """DAVIS unsupervised protocol of one sequence from (name, GT ids, proposal ids) frames.

    Objects 1..K (K: largest id of the first GT frame, void 255 set to 0); proposals 1..P;
    Hungarian assignment on -(mean J + mean F) / 2; void excluded. {obj: object_stats}.
    """
    from scipy.optimize import linear_sum_assignment
    jm = fm = None
    n_obj = n_prop = 0
    gt_ids: list[int] = []
    radius = 0
    for t, (name, g, p) in enumerate(frames):
        if t == 0:
            n_obj = int(np.where(g == 255, 0, g).max(initial=0))
            gt_ids = list(range(1, n_obj + 1))
            radius = jf.boundary_radius(*g.shape)
            cap = max(MAX_PROPOSALS, n_obj)
            jm = np.zeros((cap, n_obj, n_frames))
            fm = np.zeros((cap, n_obj, n_frames))
        top = int(p.max(initial=0))
        if top > MAX_PROPOSALS:
            raise InputError(f"prediction of video {video!r} frame {name}: object id {top} > {MAX_PROPOSALS}, the "
                             f"most proposals the DAVIS unsupervised protocol allows")
        n_prop = max(n_prop, top)
        void = g == 255
        void = void if void.any() else None
        jt, ft = jf.frame_jf_pairs(g, p, gt_ids, list(range(1, top + 2)), radius, void)
        jm[:top, :, t], fm[:top, :, t] = jt[:top], ft[:top]
        jm[top:, :, t], fm[top:, :, t] = jt[top], ft[top]
    if jm is None or n_obj == 0:
        return {}
    n_rows = max(n_prop, n_obj)
    jm, fm = jm[:n_rows], fm[:n_rows]
    score = (np.mean(jm, axis=2) + np.mean(fm, axis=2)) / 2
    rows, cols = linear_sum_assignment(-score)
    out = {}
    for r, c in zip(rows, cols):
        st = object_stats(jm[r, c], fm[r, c])
        st["proposal"] = int(r + 1)
        out[str(c + 1)] = st
    return {k: out[k] for k in sorted(out, key=int)}


@METRICS.register_module()
class RefVOSMetric(VideoMetric):
    """Ref-YouTube-VOS (J&F, J, F) and Ref-DAVIS 2017 (J&F, J_mean, F_mean, J&F_anno0..3).

    ``process`` gets per video ``{'gt', 'pred', 'meta'}`` (schema objects or dicts; ``meta`` may
    come from ``dataset_meta``). Expressions are the GT's text prompts (``target`` = the referred
    track); a prediction answers an expression with a track whose ``prompt_id`` is the prompt's
    id (the last such track, as the writer's files would be overwritten).

    - ``refytvos``: per expression, J and F on every GT frame of the target against the
      prediction's non-zero pixels (``RefYouTubeVOSWriter``'s 0/255 PNGs); a missing answer is
      an error; J, F, J&F are means over expressions.
    - ``refdavis17``: prompt ids ``"<set>:<object>"``; each set is painted as ``RefDAVISWriter``
      paints ``anno_<set>`` (ids = objects, higher score on top) and scored with the DAVIS
      unsupervised protocol against the GT (void excluded); reported J&F/J_mean/F_mean are
      means over the four sets.

    Example config::

        val_evaluator = dict(type='RefVOSMetric', benchmark='refytvos')
    """

    benchmarks = ("refytvos", "refdavis17")

    def __init__(self, benchmark: str = "refytvos", **kwargs):
        super().__init__(benchmark, **kwargs)

    def process_video(self, gt, pred, meta):
        if self.benchmark == "refdavis17":
            return self._refdavis(gt, pred, meta)
        return self._refytvos(gt, pred, meta)

    def _refytvos(self, gt, pred, meta):
        v = gt.video
        exps = {p.id: p.target for p in gt.prompts if p.kind == "text" and p.target is not None}
        answers = {t.prompt_id: t for t in pred.tracks if t.prompt_id is not None}
        missing = [e for e in exps if e not in answers]
        if missing:
            raise InputError(f"prediction of video {v.id!r}: no track answers expression {missing[0]!r} "
                             f"(prompt_id)")
        resolver = MaskResolver(meta.root)
        radius = jf.boundary_radius(v.height, v.width)
        series = {e: ([], []) for e in exps}
        frames, template = gt_png_frames(gt, meta)
        for f in frames:
            g, _ = gt_labels(gt, f, resolver, template=template)
            for e, obj in exps.items():
                gm = (g == obj).view(np.uint8)
                pm = resolver.decode(answers[e].masks[f], v.height, v.width).view(np.uint8)
                j, fr = jf.frame_jf(gm, pm, [1], radius)
                series[e][0].append(j[0])
                series[e][1].append(fr[0])
            resolver.clear()
        return {"video": v.id, "exps": {e: (float(np.mean(js)), float(np.mean(fs)))
                                        for e, (js, fs) in series.items()}}

    def _refdavis(self, gt, pred, meta):
        v = gt.video
        per_set: dict[int, list] = {k: [] for k in range(N_ANNO_SETS)}
        for t in pred.tracks:
            try:
                k, obj = (int(x) for x in (t.prompt_id or "").split(":"))
            except ValueError:
                raise InputError(f"prediction of video {v.id!r}: track {t.id} prompt_id {t.prompt_id!r} is not "
                                 f"'<set>:<object>'") from None
            if k not in per_set:
                raise InputError(f"prediction of video {v.id!r}: track {t.id} names anno set {k} "
                                 f"(0..{N_ANNO_SETS - 1})")
            per_set[k].append((track_score(t), obj, t))
        frames, template = gt_png_frames(gt, meta, meta.extra.get("annotations"))
        resolver = MaskResolver(meta.root)
        sets = []
        for k in range(N_ANNO_SETS):
            order = [(obj, t) for _, obj, t in sorted(per_set[k], key=lambda x: x[0])]

            def gen(order=order):
                for f in frames:
                    g, _ = gt_labels(gt, f, resolver, template=template)
                    p = paint(order, f, resolver, v.height, v.width)
                    resolver.clear()
                    yield v.frames[f], g, p

            sets.append(unsup_video_stats(v.id, gen(), len(frames)))
        return {"video": v.id, "sets": sets}

    def compute_metrics(self, results):
        self._check_results(results)
        if self.benchmark == "refytvos":  # the CLI sorts videos; Ref-DAVIS follows the split file
            results = sorted(results, key=lambda r: r["video"])
            js = [j for r in results for j, _ in r["exps"].values()]
            fs = [f for r in results for _, f in r["exps"].values()]
            if not js:
                raise InputError("refytvos: no expressions to score")
            j, f = float(np.mean(js)), float(np.mean(fs))
            return {"J&F": pct((j + f) / 2.0), "J": pct(j), "F": pct(f)}
        metrics = {}
        sums = []
        for k in range(N_ANNO_SETS):
            jfm, jm, fm = _set_summary({r["video"]: r["sets"][k] for r in results})
            sums.append((jfm, jm, fm))
            metrics[f"J&F_anno{k}"] = pct(jfm)
        arr = np.array(sums)
        metrics["J&F"] = pct(arr[:, 0].mean())
        metrics["J_mean"] = pct(arr[:, 1].mean())
        metrics["F_mean"] = pct(arr[:, 2].mean())
        return {m: metrics[m] for m in self.bench.metrics}
