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


def format_table(benchmark: str, result: EvalResult, task: str | None = None) -> str:
    """The metrics as a two-row table, values with 2 decimals (papers print 1)."""
    from tabulate import tabulate
    names = list(result.metrics)
    vals = ["-" if result.metrics[n] is None else f"{result.metrics[n]:.2f}" for n in names]
    title = benchmark + (f" ({task})" if task else "")
    return f"{title}\n" + tabulate([vals], headers=names, disable_numparse=True)


def path_sha256(path: str) -> str:
    """sha256 of a file, or of a folder's sorted relative paths and file contents."""
    h = hashlib.sha256()
    p = Path(path)
    if p.is_file():
        files = [(p.name, p)]
    else:
        files = sorted((str(f.relative_to(p)), f) for f in p.rglob("*") if f.is_file())
    for rel, f in files:
        if p.is_dir():
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
        "task": task,
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
