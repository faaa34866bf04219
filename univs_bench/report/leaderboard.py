"""Published tables (``leaderboards/*.json``) and measured results, as one table model.

A :class:`Leaderboard` is what the renderers in :mod:`.tables` draw: columns grouped by
task (two-level header task / benchmark+metric), rows with a few descriptive cells
(method, backbone, flags) and one value per column. A value is a float (percent) or one of
the markers of :mod:`univs_bench.report`: ``'-'`` (cannot do the task), ``'*'`` (not
reported), ``'n/a'`` (measured, but the data does not define it) or ``''`` (left empty
in the paper).

Measured rows come from a results folder ``WORK_DIR/<model>/<benchmark>/metrics.json``
whose content is the ``univs-bench evaluate --out`` JSON (CONTRACT.md), optionally with a
``"model"`` object: ``{"name", "backbone", "joint_training", "universal", "variant": {...}}``.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import NOT_CAPABLE, NOT_DEFINED, NOT_REPORTED

TASK_LABELS = {"vis": "VIS", "vss": "VSS", "vps": "VPS", "vos": "VOS",
               "refvos": "RefVOS", "pvos": "PVOS"}
TASK_ORDER = ("vis", "vss", "vps", "vos", "refvos", "pvos")

TABLE_FILES = {1: "table1_individual.json", 2: "table2_unified.json", 3: "table3_ablation.json"}

MEASURED_GROUP = "univs-bench (measured)"


@dataclass
class Column:
    """One value column: ``task`` / ``benchmark_label`` / ``metric_label`` form the header."""

    key: str
    task: str
    benchmark_label: str
    metric_label: str
    benchmark: str | None = None
    metric: str | None = None

    @property
    def lower_is_better(self) -> bool:
        return bool(self.metric) and self.metric.endswith("_decay")


@dataclass
class Row:
    """One table row: descriptive ``meta`` cells, ``values`` by column key, provenance."""

    meta: dict[str, Any]
    values: dict[str, Any]
    group: str = ""
    grey: bool = False
    measured: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    paper_bold: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # per-column suffix: CI, delta, p

    @property
    def name(self) -> str:
        return str(self.meta.get("Method", ""))


@dataclass
class Leaderboard:
    """A table: columns, descriptive column names (``meta_columns``), rows in print order."""

    table: Any
    title: str
    columns: list[Column]
    rows: list[Row]
    meta_columns: list[str] = field(default_factory=lambda: ["Method", "Backbone",
                                                             "Joint Training", "Universal"])
    notes: list[str] = field(default_factory=list)
    status: str = "ok"
    missing: str = ""
    decimals: int = 1

    def groups(self) -> list[str]:
        seen: list[str] = []
        for r in self.rows:
            if r.group not in seen:
                seen.append(r.group)
        return seen

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)


def leaderboards_dir() -> Path:
    """The folder of published tables: ``$UNIVS_BENCH_LEADERBOARDS`` or ``<repo>/leaderboards``."""
    env = os.environ.get("UNIVS_BENCH_LEADERBOARDS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "leaderboards"


def load_table(table: int | str, root: str | os.PathLike | None = None) -> Leaderboard:
    """Load published Table 1, 2 or 3 of the UniVS paper from ``leaderboards/``.

    Tables whose numbers could not be verified load with ``status == 'missing'``, no rows
    and the reason in ``missing`` (see leaderboards/README.md).
    """
    try:
        n = int(table)
        fname = TABLE_FILES[n]
    except (ValueError, KeyError):
        raise InputError(f"--table {table!r}: choose from {', '.join(map(str, TABLE_FILES))} "
                         "or 'ablation'") from None
    path = Path(root) if root else leaderboards_dir()
    path = path / fname
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: leaderboard file not found") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    cols = [Column(c["key"], c["task"], c["benchmark_label"], c["metric_label"],
                   c.get("benchmark"), c.get("metric")) for c in doc.get("columns", [])]
    rows = []
    for r in doc.get("rows", []):
        meta = {"Method": r["model"], "Backbone": r.get("backbone", ""),
                "Joint Training": r.get("joint_training"), "Universal": r.get("universal")}
        values = {c.key: r["values"].get(c.key, NOT_REPORTED) for c in cols}
        rows.append(Row(meta=meta, values=values, group=r.get("group", ""),
                        grey=bool(r.get("grey")), source=r.get("source", {}),
                        paper_bold=list(r.get("paper_bold", []))))
    return Leaderboard(table=doc.get("table", n), title=doc.get("title", f"Table {n}"),
                       columns=cols, rows=rows, notes=list(doc.get("notes", [])),
                       status=doc.get("status", "ok"), missing=doc.get("missing", ""))


def load_results(work_dir: str | os.PathLike) -> dict[str, dict[str, dict]]:
    """Read ``WORK_DIR/<model>/<benchmark>/metrics.json`` -> ``{model: {benchmark: doc}}``.

    Folders without a metrics.json are skipped (a run in progress); a metrics.json that is
    not valid JSON or has no ``metrics`` raises InputError naming the file.
    """
    root = Path(work_dir)
    if not root.is_dir():
        raise InputError(f"--results {work_dir}: no such folder")
    out: dict[str, dict[str, dict]] = {}
    for model_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for bench_dir in sorted(p for p in model_dir.iterdir() if p.is_dir()):
            f = bench_dir / "metrics.json"
            if not f.is_file():
                continue
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise InputError(f"{f}: not valid JSON ({e})") from None
            if isinstance(doc, dict) and doc.get("metrics") is None and doc.get("note"):
                continue  # a server-only benchmark: submission written, nothing scored locally
            if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict):
                raise InputError(f"{f}: no 'metrics' object (expected the evaluate --out JSON)")
            doc.setdefault("benchmark", bench_dir.name)
            out.setdefault(model_dir.name, {})[bench_dir.name] = doc
    return out


def model_info(name: str, docs: dict[str, dict]) -> dict[str, Any]:
    """Merged ``"model"`` metadata of a model's metrics.json files (first value wins)."""
    info: dict[str, Any] = {}
    for doc in docs.values():
        m = doc.get("model")
        if isinstance(m, str):
            m = {"name": m}
        if isinstance(m, dict):
            for k, v in m.items():
                info.setdefault(k, v)
    info.setdefault("name", name)
    return info


def headline(doc: dict) -> str | None:
    """The headline metric of a metrics.json (the benchmark's first metric for its task)."""
    from ..benchmarks import BENCHMARKS
    b = BENCHMARKS.get(doc.get("benchmark", ""))
    if b is not None:
        try:
            return b.metrics_for(doc.get("task"))[0]
        except KeyError:
            pass
    return next(iter(doc.get("metrics", {})), None)


def metric_value(doc: dict | None, metric: str | None) -> Any:
    """A metric of a metrics.json as a float, or a marker when absent/undefined."""
    if doc is None or metric is None:
        return NOT_REPORTED
    if metric not in doc.get("metrics", {}):
        return NOT_REPORTED
    v = doc["metrics"][metric]
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return NOT_DEFINED
    return float(v)


def extra_columns(results: dict[str, dict[str, dict]], known: set[str]) -> list[Column]:
    """Columns for measured benchmarks that a published table does not have (headline metric)."""
    from ..benchmarks import BENCHMARKS
    cols: dict[str, Column] = {}
    for docs in results.values():
        for bench, doc in docs.items():
            if bench in known or bench in cols:
                continue
            b = BENCHMARKS.get(bench)
            task = b.task if b else "other"
            metric = headline(doc)
            label = b.title if b else bench
            cols[bench] = Column(f"{bench}/{metric}", task, label, str(metric), bench, metric)

    def order(c: Column):
        t = TASK_ORDER.index(c.task) if c.task in TASK_ORDER else len(TASK_ORDER)
        names = list(BENCHMARKS)
        return (t, names.index(c.benchmark) if c.benchmark in names else 99)
    return sorted(cols.values(), key=order)


def measured_rows(results: dict[str, dict[str, dict]], columns: list[Column], *,
                  ci: bool = False, group: str = MEASURED_GROUP, seed: int = 0) -> list[Row]:
    """One row per model of ``results``; ``ci`` adds bootstrap 95% intervals as notes."""
    rows = []
    for name, docs in results.items():
        info = model_info(name, docs)
        meta = {"Method": info.get("name", name), "Backbone": info.get("backbone", ""),
                "Joint Training": info.get("joint_training"), "Universal": info.get("universal")}
        values, notes = {}, {}
        for c in columns:
            doc = docs.get(c.benchmark) if c.benchmark else None
            values[c.key] = metric_value(doc, c.metric)
            if ci and isinstance(values[c.key], float):
                notes[c.key] = ci_note(doc, c.metric, seed=seed)
        src = {"measured": True, "work_dir_model": name,
               "benchmarks": {b: d.get("provenance", {}) for b, d in docs.items()}}
        rows.append(Row(meta=meta, values=values, group=group, measured=True, source=src,
                        notes={k: v for k, v in notes.items() if v}))
    return rows


def ci_note(doc: dict, metric: str, *, seed: int = 0, decimals: int = 1) -> str:
    """``[lo, hi]`` for a metric from the doc's per-video numbers; ``''`` when impossible.

    Approximate intervals (see :mod:`.stats`) are marked with a trailing ``~``.
    """
    from .stats import bootstrap_metric
    try:
        r = bootstrap_metric(doc, metric, seed=seed)
    except (InputError, ValueError):
        return ""
    if r is None or r.low is None:
        return ""
    mark = "" if r.exact else "~"
    return f"[{r.low:.{decimals}f}, {r.high:.{decimals}f}]{mark}"


def merge_measured(board: Leaderboard, work_dir: str | os.PathLike | None, *, ci: bool = False,
                   add_extra_columns: bool = True, seed: int = 0) -> Leaderboard:
    """``board`` with the models of ``work_dir`` added as rows of their own group.

    Benchmarks measured but absent from the published table get extra columns (their
    headline metric); published rows show ``'*'`` there (not reported in the paper).
    """
    if not work_dir:
        return board
    results = load_results(work_dir)
    cols = list(board.columns)
    if add_extra_columns:
        extra = extra_columns(results, {c.benchmark for c in cols if c.benchmark})
        cols += extra
        rows = []
        for r in board.rows:
            vals = dict(r.values)
            for c in extra:
                vals[c.key] = NOT_REPORTED
            rows.append(Row(**{**r.__dict__, "values": vals}))
    else:
        rows = list(board.rows)
    rows += measured_rows(results, cols, ci=ci, seed=seed)
    return Leaderboard(table=board.table, title=board.title, columns=cols, rows=rows,
                       meta_columns=list(board.meta_columns), notes=list(board.notes),
                       status=board.status, missing=board.missing, decimals=board.decimals)


def capability_marker(value: Any) -> bool:
    """True for cells that hold a marker rather than a number."""
    return not isinstance(value, (int, float)) or isinstance(value, bool)


__all__ = [
    "MEASURED_GROUP",
    "NOT_CAPABLE",
    "NOT_DEFINED",
    "NOT_REPORTED",
    "TASK_LABELS",
    "Column",
    "Leaderboard",
    "Row",
    "headline",
    "leaderboards_dir",
    "load_results",
    "load_table",
    "measured_rows",
    "merge_measured",
    "metric_value",
]
