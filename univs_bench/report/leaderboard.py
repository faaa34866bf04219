"""Published tables (``leaderboards/*.json``) and measured results, as one table model.

A :class:`Leaderboard` is what the renderers in :mod:`.tables` draw: columns grouped by
task (two-level header task / benchmark+metric), rows with a few descriptive cells
(method, backbone, flags) and one value per column. A value is a float (percent) or one of
the markers of :mod:`univs_bench.report`: ``'-'`` (cannot do the task), ``'*'`` (not
reported), ``'n/a'`` (measured, but the data does not define it) or ``''`` (left empty
in the paper).

Measured rows come from a results folder ``WORK_DIR/<model>/<benchmark>/metrics.json``
(or a single model folder ``WORK_DIR/<model>``) whose content is the ``univs-bench evaluate
--out`` JSON (CONTRACT.md), optionally with a ``"model"`` object: ``{"name", "backbone",
"joint_training", "universal", "variant": {...}}``. Each measured row carries where its numbers
come from (:func:`data_source`: synthetic suite, dev split or official val, with the data's
hash, the code version and the date), shown as a footnote in md/LaTeX/HTML and as columns in
CSV/JSON. A measured model that was not run on a benchmark shows ``n/r``.

Tables 1 and 3 of the paper have two sub-tables each (``1a``/``1b``, ``3a``/``3b``):
:func:`load_tables` returns all parts of a table, :func:`load_table` one board.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..benchmarks import headline_metric as headline
from ..errors import InputError
from . import NOT_CAPABLE, NOT_DEFINED, NOT_REPORTED, NOT_RUN, NOT_SCORED

TASK_LABELS = {"vis": "VIS", "vss": "VSS", "vps": "VPS", "vos": "VOS",
               "refvos": "RefVOS", "pvos": "PVOS"}
TASK_ORDER = ("vis", "vss", "vps", "vos", "refvos", "pvos")

TABLE_FILES = {1: "table1_individual.json", 2: "table2_unified.json", 3: "table3_ablation.json"}

MEASURED_GROUP = "univs-bench (measured)"
DEFAULT_WORK_DIR = "work_dirs"  # the default --work-dir of `univs-bench run`


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
    ci: dict[str, Any] = field(default_factory=dict)  # key -> (low, high) or the reason for none
    data: dict[str, dict] = field(default_factory=dict)  # key -> data_source() of the cell

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
    part: str = ""
    part_title: str = ""

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


def _table_doc(n: int, root: str | os.PathLike | None) -> dict:
    path = (Path(root) if root else leaderboards_dir()) / TABLE_FILES[n]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: leaderboard file not found") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def _board(doc: dict, n: int, part: dict | None) -> Leaderboard:
    src = part or doc
    cols = [Column(c["key"], c["task"], c["benchmark_label"], c["metric_label"],
                   c.get("benchmark"), c.get("metric")) for c in src.get("columns", [])]
    meta_cols = list(src.get("meta_columns") or ["Method", "Backbone", "Joint Training", "Universal"])
    rows = []
    for r in src.get("rows", []):
        if "meta" in r:
            meta = {k: r["meta"].get(k) for k in meta_cols}
        else:
            meta = {"Method": r["model"], "Backbone": r.get("backbone", ""),
                    "Joint Training": r.get("joint_training"), "Universal": r.get("universal")}
            meta = {k: meta.get(k) for k in meta_cols}
        values = {c.key: r["values"].get(c.key, NOT_REPORTED) for c in cols}
        rows.append(Row(meta=meta, values=values, group=r.get("group", ""),
                        grey=bool(r.get("grey")), source=r.get("source", {}),
                        paper_bold=list(r.get("paper_bold", []))))
    return Leaderboard(table=doc.get("table", n), title=doc.get("title", f"Table {n}"),
                       columns=cols, rows=rows, meta_columns=meta_cols,
                       notes=list(doc.get("notes", [])), status=doc.get("status", "ok"),
                       missing=doc.get("missing", ""),
                       part=(part or {}).get("part", ""), part_title=(part or {}).get("title", ""))


def _parse_table(table: int | str) -> tuple[int, str]:
    t = str(table).strip().lower()
    n, part = (t[:-1], t[-1]) if t[-1:].isalpha() and t[:-1].isdigit() else (t, "")
    try:
        n_int = int(n)
        TABLE_FILES[n_int]
    except (ValueError, KeyError):
        raise InputError(f"--table {table!r}: choose from 1, 1a, 1b, 2, 3, 3a, 3b "
                         "or 'ablation'") from None
    return n_int, part


def load_tables(table: int | str, root: str | os.PathLike | None = None) -> list[Leaderboard]:
    """All parts of published Table 1, 2 or 3 of the UniVS paper (``1a`` etc.: one part)."""
    n, want = _parse_table(table)
    doc = _table_doc(n, root)
    parts = doc.get("parts")
    if not parts:
        if want:
            raise InputError(f"--table {table!r}: Table {n} has no parts; use --table {n}")
        return [_board(doc, n, None)]
    boards = [_board(doc, n, p) for p in parts if not want or p.get("part") == want]
    if not boards:
        raise InputError(f"--table {table!r}: Table {n} has parts "
                         f"{', '.join(str(n) + p['part'] for p in parts)}")
    return boards


def load_table(table: int | str, root: str | os.PathLike | None = None) -> Leaderboard:
    """One published board: Table 2, or one part of Table 1 or 3 (``'1a'``, ``'3b'``, ...)."""
    boards = load_tables(table, root)
    if len(boards) > 1:
        raise InputError(f"Table {table} has parts "
                         f"{', '.join(f'{b.table}{b.part}' for b in boards)}; name one")
    return boards[0]


def _read_metrics(f: Path) -> dict | None:
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{f}: not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{f}: no 'metrics' object (expected the evaluate --out JSON)")
    if doc.get("metrics") is None and doc.get("note"):
        doc["server_only"] = True  # a server-only benchmark: submission written, nothing scored
        return doc
    if not isinstance(doc.get("metrics"), dict):
        raise InputError(f"{f}: no 'metrics' object (expected the evaluate --out JSON)")
    return doc


def load_results(work_dir: str | os.PathLike | None = None, *,
                 allow_empty: bool = False) -> dict[str, dict[str, dict]]:
    """Read ``WORK_DIR/<model>/<benchmark>/metrics.json`` -> ``{model: {benchmark: doc}}``.

    ``work_dir`` defaults to ``work_dirs`` (run's default). A single model folder
    (``WORK_DIR/<model>``, the path ``run`` prints) is read as that one model. Folders without
    a metrics.json are skipped (a run in progress); a metrics.json that is not valid JSON or
    has no ``metrics`` raises InputError naming the file, and so does finding nothing (unless
    ``allow_empty``).
    """
    from ..benchmarks import BENCHMARKS
    root = Path(work_dir or DEFAULT_WORK_DIR)
    if not root.is_dir():
        raise InputError(f"--results {root}: no such folder (give the --work-dir of "
                         "`univs-bench run`)")

    def bench_dirs(model_dir: Path):
        return sorted(p for p in model_dir.iterdir() if p.is_dir() and (p / "metrics.json").is_file())

    out: dict[str, dict[str, dict]] = {}
    direct = [p for p in bench_dirs(root) if p.name in BENCHMARKS]
    model_dirs = [root] if direct else sorted(p for p in root.iterdir() if p.is_dir())
    for model_dir in model_dirs:
        for bench_dir in bench_dirs(model_dir):
            doc = _read_metrics(bench_dir / "metrics.json")
            doc.setdefault("benchmark", bench_dir.name)
            out.setdefault(model_dir.name, {})[bench_dir.name] = doc
    if not out and not allow_empty:
        raise InputError(f"--results {root}: no <model>/<benchmark>/metrics.json found under "
                         f"{root.resolve()} (searched {root}/*/*/metrics.json and "
                         f"{root}/*/metrics.json); run `univs-bench run --work-dir {root}` first")
    return out


def data_source(doc: dict) -> dict[str, Any]:
    """Where a metrics.json's numbers come from, from its provenance.

    ``kind``: ``synthetic`` (univs-bench's synthetic suite), ``dev split`` (made by
    ``univs-bench split``), ``official val`` (any other data root) or ``files`` (an
    ``evaluate --out`` JSON: GT given directly); ``label`` says it in words, with the number
    of videos, the seed where known and the data's sha256 (first 12 hex digits); ``code``
    (univs-bench version and git commit) and ``date``.
    """
    prov = doc.get("provenance") or {}
    given = prov.get("data_source")
    n = prov.get("videos") or (len(doc.get("per_video") or {}) or None)
    root = prov.get("data_root") or prov.get("gt")
    sha = prov.get("data_root_sha256") or prov.get("gt_sha256") or prov.get("data_sha256")
    synth = prov.get("synthetic") if isinstance(prov.get("synthetic"), dict) else {}
    seed = synth.get("seed", prov.get("synth_seed"))
    kind, label = "official val", ""
    if isinstance(given, dict):
        kind = str(given.get("kind", kind))
        label = str(given.get("label", ""))
    elif isinstance(given, str) and "synthetic" in given.lower():
        kind = "synthetic"  # runner: "synthetic suite" (no --data-root) or "data root"
    if not label and kind != "synthetic" and root:
        r = Path(root)
        readme = r / "README.txt"
        split_info = r / "split_info.json"
        if "_synthetic" in r.parts or (readme.is_file() and "univs-bench synthetic suite"
                                       in readme.read_text(encoding="utf-8", errors="replace")[:400]):
            kind = "synthetic"
        elif split_info.is_file():
            kind = "dev split"
            try:
                info = json.loads(split_info.read_text(encoding="utf-8"))
                bits = [f"seed {info['seed']}" if "seed" in info else "",
                        f"fraction {info['fraction']}" if "fraction" in info else ""]
                label = "dev split (univs-bench split, " + ", ".join(b for b in bits if b) + ")"
            except (OSError, ValueError):
                pass
        elif not prov.get("data_root"):
            kind = "files"
    elif not root and not given:
        kind = "unknown"
    if not label:
        split = f", split {prov['split']}" if prov.get("split") else ""
        label = {"synthetic": "synthetic suite (univs-bench synth)", "dev split": "dev split",
                 "official val": f"data root {root}{split}", "files": f"GT {root}",
                 "unknown": "no provenance"}.get(kind, kind)
        if kind == "synthetic" and seed is not None:
            label = f"synthetic suite (univs-bench synth, seed {seed})"
    if n:
        label += f", {n} videos"
    if sha and kind not in ("synthetic",):
        label += f", sha256 {str(sha)[:12]}"
    code = f"univs-bench {prov.get('univs_bench', '?')}"
    if prov.get("git_commit"):
        code += f" (git {prov['git_commit']})"
    date = str(prov.get("time", ""))[:10]
    return {"kind": kind, "label": label, "videos": n, "sha256": sha, "code": code, "date": date}


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


def row_source(r: Row) -> tuple[str, str, str]:
    """(data source, code version, date) of a row: the paper, or the measured provenance."""
    if not r.measured:
        src = r.source
        return ("; ".join(str(src[k]) for k in ("table", "cite", "paper", "venue") if k in src)
                or "paper", "", "")
    labels = list(dict.fromkeys(d["label"] for d in r.data.values()))
    codes = list(dict.fromkeys(d["code"] for d in r.data.values()))
    dates = sorted({d["date"] for d in r.data.values() if d["date"]})
    return " | ".join(labels), " | ".join(codes), (dates[-1] if dates else "")


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
            if b is not None and b.task_metrics:  # BURST: name the sub-task scored (the column stays in VOS)
                sub = doc.get("task") if doc.get("task") in b.task_metrics else doc.get("subtask")
                sub = sub if sub in b.task_metrics else b.default_task
                label += f" ({str(sub).replace('_guided', '')})"
            cols[bench] = Column(f"{bench}/{metric}", task, label, str(metric), bench, metric)

    def order(c: Column):
        t = TASK_ORDER.index(c.task) if c.task in TASK_ORDER else len(TASK_ORDER)
        names = list(BENCHMARKS)
        return (t, names.index(c.benchmark) if c.benchmark in names else 99)
    return sorted(cols.values(), key=order)


def measured_rows(results: dict[str, dict[str, dict]], columns: list[Column], *,
                  ci: bool = False, group: str = MEASURED_GROUP, seed: int = 0) -> list[Row]:
    """One row per model of ``results``; ``ci`` adds bootstrap 95% intervals (``Row.ci``)."""
    rows = []
    for name, docs in results.items():
        info = model_info(name, docs)
        meta = {"Method": info.get("name", name), "Backbone": info.get("backbone", ""),
                "Joint Training": info.get("joint_training"), "Universal": info.get("universal")}
        values, notes, cis, data = {}, {}, {}, {}
        for c in columns:
            doc = docs.get(c.benchmark) if c.benchmark else None
            if doc is None:
                values[c.key] = NOT_RUN
                continue
            data[c.key] = data_source(doc)
            if doc.get("server_only"):
                values[c.key] = NOT_SCORED
                continue
            values[c.key] = metric_value(doc, c.metric)
            if ci and isinstance(values[c.key], float):
                cis[c.key] = cell_ci(doc, c.metric, seed=seed)
                notes[c.key] = ci_text(cis[c.key])
        src = {"measured": True, "work_dir_model": name,
               "benchmarks": {b: d.get("provenance", {}) for b, d in docs.items()}}
        rows.append(Row(meta=meta, values=values, group=group, measured=True, source=src,
                        notes=notes, ci=cis, data=data))
    return rows


def cell_ci(doc: dict, metric: str, *, seed: int = 0) -> tuple[float, float] | str:
    """``(low, high)`` of the metric's bootstrap interval, or the reason there is none."""
    from .stats import bootstrap_metric
    try:
        r = bootstrap_metric(doc, metric, seed=seed)
    except InputError as e:
        return str(e)
    if r.low is None:
        return f"{doc.get('benchmark')} {metric}: undefined on every resample"
    return (r.low, r.high)


def ci_text(ci: Any, decimals: int = 1) -> str:
    """``[lo, hi]``, or ``[no CI]`` when there is a reason instead of an interval."""
    if isinstance(ci, tuple):
        return f"[{ci[0]:.{decimals}f}, {ci[1]:.{decimals}f}]"
    return "[no CI]" if ci else ""


def merge_measured(board: Leaderboard, work_dir: str | os.PathLike | None, *, ci: bool = False,
                   add_extra_columns: bool = True, seed: int = 0,
                   results: dict[str, dict[str, dict]] | None = None) -> Leaderboard:
    """``board`` with the models of ``work_dir`` (or ``results``) added as rows of their own group.

    Benchmarks measured but absent from the published table get extra columns (their
    headline metric), placed after the columns of the same task; published rows show ``'*'``
    there (not reported in the paper).
    """
    if results is None:
        if not work_dir:
            return board
        results = load_results(work_dir)
    cols = list(board.columns)
    rows = list(board.rows)
    if add_extra_columns:
        extra = extra_columns(results, {c.benchmark for c in cols if c.benchmark})
        for c in extra:
            same = [i for i, x in enumerate(cols) if x.task == c.task]
            if same:
                pos = same[-1] + 1
            else:
                later = [i for i, x in enumerate(cols) if x.task in TASK_ORDER and c.task in TASK_ORDER
                         and TASK_ORDER.index(x.task) > TASK_ORDER.index(c.task)]
                pos = later[0] if later else len(cols)
            cols.insert(pos, c)
        rows = []
        for r in board.rows:
            vals = dict(r.values)
            for c in extra:
                vals[c.key] = NOT_REPORTED
            rows.append(Row(**{**r.__dict__, "values": vals}))
    rows += measured_rows(results, cols, ci=ci, seed=seed)
    return Leaderboard(table=board.table, title=board.title, columns=cols, rows=rows,
                       meta_columns=list(board.meta_columns), notes=list(board.notes),
                       status=board.status, missing=board.missing, decimals=board.decimals,
                       part=board.part, part_title=board.part_title)


def source_footnotes(board: Leaderboard) -> tuple[dict[int, str], list[str]]:
    """Footnote numbers of measured rows (row index -> '1', '2', ...) and the footnote texts.

    Rows with the same data source, code and date share a mark."""
    marks: dict[int, str] = {}
    texts: list[str] = []
    seen: dict[str, str] = {}
    for i, r in enumerate(board.rows):
        if not r.measured or not r.data:
            continue
        by_label: dict[str, list[str]] = {}
        for key, d in r.data.items():
            c = board.column(key) if any(x.key == key for x in board.columns) else None
            by_label.setdefault(f"{d['label']}; {d['code']}; {d['date']}", []).append(
                c.benchmark or key if c else key)
        if len(by_label) == 1:
            text = next(iter(by_label))
        else:
            text = " | ".join(f"{', '.join(dict.fromkeys(b))}: {lab}" for lab, b in by_label.items())
        if text not in seen:
            seen[text] = str(len(seen) + 1)
            texts.append(f"{seen[text]}: {text}")
        marks[i] = seen[text]
    return marks, texts


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
    "data_source",
    "load_results",
    "load_table",
    "load_tables",
    "measured_rows",
    "merge_measured",
    "metric_value",
]
