"""Evaluators: one module per task family, per-video numpy kernels in ``functional/``.

Nothing here imports torch. Each family module exposes
``evaluate_files(benchmark, gt, pred, *, workers=1, task=None, options=None) -> EvalResult``,
named by ``univs_bench.benchmarks.Benchmark.evaluator`` and imported only when used.
MMEngine ``BaseMetric`` wrappers live in ``univs_bench.evaluators.metrics`` (imports mmengine).
"""
from .base import EvalResult, map_videos, nan_to_none, pct

__all__ = ["EvalResult", "map_videos", "nan_to_none", "pct"]
