"""Score official-format files: dispatch by benchmark, print, and write CONTRACT.md JSON."""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
from pathlib import Path

from .. import __version__
from ..benchmarks import get_benchmark
from ..errors import InputError
from .base import EvalResult


def evaluate(benchmark: str, gt: str, pred: str, *, workers: int = 1, task: str | None = None,
             options: dict | None = None) -> EvalResult:
    """Score ``pred`` against ``gt`` for ``benchmark`` (layouts in CONTRACT.md).

    Raises InputError naming the file or video when the input is malformed or incomplete.
    ``pred`` may also be the server upload zip, or an unzipped upload whose root is
    ``Annotations/`` (``io.submission``); for the json benchmarks, a zip or a folder holding
    ``results.json`` / ``pred.json``.
    """
    bench = get_benchmark(benchmark)
    benchmark = bench.name  # aliases and any case ("DAVIS17", "davis") name one benchmark
    if bench.task_metrics:
        task = task or bench.default_task
        if task not in bench.task_metrics:
            raise InputError(f"{benchmark}: unknown --task {task!r}; choose from "
                             f"{', '.join(bench.task_metrics)}")
    elif task:
        raise InputError(f"{benchmark} has no sub-tasks; drop --task {task!r}")
    from ..io.files import file_kind
    for label, path in (("--gt", gt), ("--pred", pred)):
        kind = file_kind(path)
        if kind == "missing":
            raise InputError(f"{label} {path}: no such file or folder")
        if kind == "a dangling symbolic link":
            raise InputError(f"{label} {path}: is a dangling symbolic link (to {os.readlink(path)!r})")
    module_name, fn_name = bench.evaluator.split(":")
    fn = getattr(importlib.import_module(module_name), fn_name)
    from ..io.submission import prediction_folder
    with prediction_folder(benchmark, pred) as folder:
        result = fn(benchmark, gt, folder, workers=workers, task=task, options=dict(options or {}))
    wanted = bench.metrics_for(task)
    missing = [m for m in wanted if m not in result.metrics]
    if missing:  # a programming error, not an input error: never silently drop a metric
        raise RuntimeError(f"{benchmark}: evaluator did not produce {missing}")
    result.metrics = {m: result.metrics[m] for m in wanted}
    return result


def effective_task(benchmark: str, task: str | None) -> str | None:
    """The sub-task scored: ``task``, or the benchmark's default (BURST: exemplar_guided)."""
    bench = get_benchmark(benchmark)
    return (task or bench.default_task) if bench.task_metrics else task


def format_table(benchmark: str, result: EvalResult, task: str | None = None) -> str:
    """The metrics as a two-row table, values with 2 decimals (papers print 1)."""
    from tabulate import tabulate
    names = list(result.metrics)
    vals = ["-" if result.metrics[n] is None else f"{result.metrics[n]:.2f}" for n in names]
    task = effective_task(benchmark, task)
    title = benchmark + (f" ({task})" if task else "")
    return f"{title}\n" + tabulate([vals], headers=names, disable_numparse=True)


def summary_line(benchmark: str, result: EvalResult, task: str | None = None) -> str:
    """One greppable line: ``univs-bench: davis17 J&F=81.23 J_mean=78.90 ...`` (``-``: undefined;
    a sub-task as ``burst/exemplar_guided``)."""
    task = effective_task(benchmark, task)
    name = benchmark + (f"/{task}" if task else "")
    vals = " ".join(f"{k}={'-' if v is None else f'{v:.2f}'}" for k, v in result.metrics.items())
    return f"univs-bench: {name} {vals}"


_FLAT_SKIP = {"ap_stats", "confusion", "vc", "pq", "stq", "hota_stats", "best_iou"}


def per_video_rows(benchmark: str, result: EvalResult) -> list[dict]:
    """Per-video numbers as flat rows: one per object (or expression) where the metric is per
    object (DAVIS, MOSE, YT-VOS, Ref-*, VIPOSeg), else one per video; only scalar fields
    (the sufficient statistics kept for intervals are left out)."""
    rows: list[dict] = []

    def scalars(d: dict) -> dict:
        return {k: v for k, v in d.items() if k not in _FLAT_SKIP
                and (v is None or isinstance(v, (int, float, str, bool)))}

    def add(video, entry, extra):
        if isinstance(entry, dict) and entry and all(isinstance(v, dict) for v in entry.values()):
            for obj, o in entry.items():
                rows.append({"benchmark": benchmark, **extra, "video": video, "object": obj, **scalars(o)})
        elif isinstance(entry, dict):
            rows.append({"benchmark": benchmark, **extra, "video": video, "object": "", **scalars(entry)})
    for video, entry in result.per_video.items():
        if benchmark == "refdavis17" and str(video).startswith("anno_"):
            for seq, objs in entry.items():
                add(seq, objs, {"anno_set": video})
        else:
            add(video, entry, {})
    return rows


def write_per_video_csv(path: str, benchmark: str, result: EvalResult) -> None:
    """``evaluate --csv``: :func:`per_video_rows` as CSV (one header row), written atomically."""
    import csv
    import io

    from ..io.atomic import atomic_write_text
    rows = per_video_rows(benchmark, result)
    head: list[str] = []
    for r in rows:
        head += [k for k in r if k not in head]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=head, lineterminator="\n", restval="")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())


def path_sha256(path: str) -> str:
    """sha256 of a file, or of a folder's sorted relative paths and file contents."""
    from ..io.files import file_sha256
    p = Path(path)
    if p.is_file():
        return file_sha256(p)
    h = hashlib.sha256()
    for rel, f in sorted((str(f.relative_to(p)), f) for f in p.rglob("*") if f.is_file()):
        h.update(rel.encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def write_result_json(out: str, benchmark: str, task: str | None, gt: str, pred: str,
                      result: EvalResult, seconds: float) -> None:
    """Write the CONTRACT.md result JSON atomically (``out`` "-": to stdout)."""
    from ..io.atomic import atomic_write_text
    doc = {
        "benchmark": benchmark,
        "task": effective_task(benchmark, task),
        "metrics": result.metrics,
        "per_video": result.per_video,
        "provenance": {
            "gt": os.path.abspath(gt), "pred": os.path.abspath(pred),
            "gt_sha256": path_sha256(gt), "pred_sha256": path_sha256(pred),
            "univs_bench": __version__, "seconds": round(seconds, 4),
            "python": platform.python_version(), "host": platform.node(),
        },
    }
    if result.extra:
        doc["extra"] = result.extra
    text = json.dumps(doc, indent=1, allow_nan=False)
    if out == "-":
        import sys
        sys.stdout.write(text + "\n")
        return
    atomic_write_text(out, text)
