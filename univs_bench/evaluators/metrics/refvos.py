"""Referring VOS (Ref-YouTube-VOS J&F; Ref-DAVIS 2017 J&F over four anno sets) as an MMEngine metric.

Each video is scored by ``evaluators.refvos.refytvos_video_stats`` / ``unsup_video_stats``, the
per-video kernels of ``univs-bench evaluate``, on in-memory frames; dataset numbers come from its
``refytvos_metrics`` / ``refdavis_metrics``. Ref-DAVIS predictions are rendered by ``RefDAVISWriter``.
"""
from __future__ import annotations

from ...data_converters.base import MaskResolver
from ...data_converters.refvos import RefDAVISWriter
from ...errors import InputError
from ...registry import METRICS
from ..refvos import N_ANNO_SETS, refdavis_metrics, refytvos_metrics, refytvos_video_stats, unsup_video_stats
from .base import VideoMetric, gt_labels, gt_png_frames


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
        frames, template = gt_png_frames(gt, meta)

        def gen():
            for f in frames:
                g, _ = gt_labels(gt, f, resolver, template=template)
                yield g, lambda e, f=f: resolver.decode(answers[e].masks[f], v.height, v.width)
                resolver.clear()

        return {"video": v.id, "exps": refytvos_video_stats(exps, gen())}

    def _refdavis(self, gt, pred, meta):
        v = gt.video
        per_set = RefDAVISWriter.anno_sets(pred)
        frames, template = gt_png_frames(gt, meta, meta.extra.get("annotations"))
        resolver = MaskResolver(meta.root)
        sets = []
        for k in range(N_ANNO_SETS):

            def gen(tracks=per_set[k]):
                for f in frames:
                    g, _ = gt_labels(gt, f, resolver, template=template)
                    p = RefDAVISWriter.render_frame(pred, tracks, f, resolver)
                    resolver.clear()
                    yield f"prediction of video {v.id!r} frame {v.frames[f]}", g, p

            sets.append(unsup_video_stats(v.id, gen(), len(frames)))
        return {"video": v.id, "sets": sets}

    def compute_metrics(self, results):
        self._check_results(results)
        if self.benchmark == "refytvos":  # the CLI sorts videos; Ref-DAVIS follows the split file
            results = sorted(results, key=lambda r: r["video"])
            return refytvos_metrics([r["exps"] for r in results], "refytvos")
        metrics = refdavis_metrics([{r["video"]: r["sets"][k] for r in results} for k in range(N_ANNO_SETS)])
        return {m: metrics[m] for m in self.bench.metrics}
