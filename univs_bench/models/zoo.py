"""Models that `univs-bench run --model NAME` can run, registered in ``BENCHMARK_MODELS``.

A benchmark model answers one video at a time: ``predict_video(item, meta, bench)`` gets the
video's inputs in the unified schema (frames, size, and the prompts of the task: first masks
for VOS/PVOS, expressions for RefVOS, none for VIS/VSS/VPS, whose categories are in ``meta``)
and returns a prediction in the same schema (tracks with scores and per-frame masks).

This module stays free of torch: the UniVS entries import their network only when built.
Shipped here:

- ``first_frame_copy``: each target's first mask held still for the rest of the video. For
  VOS and PVOS it uses only the prompt (an honest lower bound). For VIS, VSS, VPS and RefVOS,
  which have no mask prompt, it reads the first annotated mask of every GT track (an oracle
  initialisation, flagged ``uses_gt``): it measures how much the scene moves.
- ``gt``: the ground truth itself (``uses_gt``), to check that a pipeline scores perfectly;
  ``gt_shifted`` (one frame late) and ``gt_swapped`` (identities rotated half-way) show how
  each metric reacts to lag and to identity switches.
- ``results``: replays a competitor's official submissions (``pred_root=DIR``, one per
  benchmark); the runner scores the files directly, with no model in the loop.
"""
from __future__ import annotations

import copy

from ..registry import BENCHMARK_MODELS
from ..schema import DatasetMeta, Track, VideoAnnotation


class VideoModel:
    """Interface of a benchmark model (see the module docstring).

    Example of a new model in a config-free way::

        @BENCHMARK_MODELS.register_module('my_model')
        class MyModel(VideoModel):
            tasks = frozenset({'vos'})
            def predict_video(self, item, meta, bench):
                ...  # return a VideoAnnotation with scored tracks
    """

    tasks: frozenset = frozenset({"vis", "vss", "vps", "vos", "refvos", "pvos"})
    uses_gt: bool = False  # True: sees the full GT item (oracles and oracle-initialised baselines)
    replays_files: bool = False

    def predict_video(self, item: VideoAnnotation, meta: DatasetMeta, bench) -> VideoAnnotation:
        raise NotImplementedError

    def describe(self) -> dict:
        """Provenance: what this model is (config, checkpoint, ...)."""
        return {"model": type(self).__name__}


@BENCHMARK_MODELS.register_module("gt")
class GroundTruthModel(VideoModel):
    """The GT as prediction (score 1): every benchmark must score its maximum."""

    uses_gt = True

    def predict_video(self, item, meta, bench):
        out = copy.deepcopy(item)
        for t in out.tracks:
            t.score = 1.0
            t.prompt_id = t.prompt_id or str(t.id)
        if bench.task == "refvos":
            out.tracks = per_expression(out.tracks, item.prompts)
        out.prompts = []
        return out


def per_expression(tracks: list[Track], prompts) -> list[Track]:
    """Referring tasks answer each expression: one copy of its target's track per text prompt."""
    by_id = {t.id: t for t in tracks}
    out = []
    for i, p in enumerate(q for q in prompts if q.kind == "text"):
        if p.target in by_id:
            t = copy.deepcopy(by_id[p.target])
            t.id, t.prompt_id = i + 1, p.id
            out.append(t)
    return out


@BENCHMARK_MODELS.register_module("gt_shifted")
class ShiftedGT(VideoModel):
    """The GT one frame late: frame t predicts the GT of frame t-1 (a lagging tracker)."""

    uses_gt = True

    def predict_video(self, item, meta, bench):
        out = GroundTruthModel().predict_video(item, meta, bench)
        for t in out.tracks:
            t.masks = [t.masks[0]] + t.masks[:-1]
        return out


@BENCHMARK_MODELS.register_module("gt_swapped")
class SwappedGT(VideoModel):
    """The GT with identities rotated among tracks from the middle frame on (an ID switch).

    Masks and categories stay correct per frame, so the drop measures how strictly a benchmark
    scores temporal association.
    """

    uses_gt = True

    def predict_video(self, item, meta, bench):
        out = GroundTruthModel().predict_video(item, meta, bench)
        ts = out.tracks
        if len(ts) > 1:
            mid = item.video.num_frames // 2
            late = [t.masks[mid:] for t in ts]
            for i, t in enumerate(ts):
                t.masks = t.masks[:mid] + late[(i + 1) % len(ts)]
        return out


@BENCHMARK_MODELS.register_module("first_frame_copy")
class FirstFrameCopy(VideoModel):
    """Hold each target's first mask still from its first frame to the end of the video."""

    uses_gt = True

    def predict_video(self, item, meta, bench):
        prompts = {}
        for p in item.prompts:  # an object's earliest mask prompt starts it
            if p.kind == "mask" and p.target is not None and (p.target not in prompts or p.frame < prompts[p.target].frame):
                prompts[p.target] = p
        tracks = []
        for t in item.tracks:
            if t.iscrowd:
                continue
            if t.id in prompts:  # prompt-specified: the prompt is all we use
                f0, m0 = prompts[t.id].frame, prompts[t.id].mask
            else:
                f0 = t.first_frame()
                if f0 is None:
                    continue
                m0 = t.masks[f0]
            masks = [None] * f0 + [m0] * (item.video.num_frames - f0)
            tracks.append(Track(id=t.id, category=t.category, masks=masks, score=1.0,
                                prompt_id=str(t.id), attributes=dict(t.attributes)))
        if bench.task == "refvos":
            tracks = per_expression(tracks, item.prompts)
        return VideoAnnotation(video=copy.deepcopy(item.video), tracks=tracks,
                               label_maps=[], prompts=[])


@BENCHMARK_MODELS.register_module("results")
class ResultsReplay(VideoModel):
    """Score a competitor from its own official-format prediction files.

    ``univs-bench run --model results --cfg-options pred_root=DIR --data-root DATA`` scores
    ``DIR/<benchmark>`` (the benchmark's official submission as uploaded: a folder, a json or a
    zip; see :meth:`univs_bench.runner.Runner.replay_source`) against ``DATA/<benchmark>``. A
    ``--data-root`` is required: external predictions are never scored against the synthetic suite.
    """

    replays_files = True

    def __init__(self, pred_root: str | None = None):
        self.pred_root = pred_root

    def describe(self):
        return {"model": "results", "pred_root": self.pred_root}
