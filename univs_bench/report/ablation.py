"""Table-3-style ablation tables from runs of model variants.

Input: ``WORK_DIR/<variant>/<benchmark>/metrics.json`` (the ``evaluate --out`` JSON). The
optional ``"model"`` object of a metrics.json may carry ``"variant": {"ProCA": true,
"num_frames": 5, ...}``: each key becomes a descriptive column (booleans print as check
marks), as in the paper's ablation tables. One value column per benchmark (its headline
metric, or the metrics asked for). Against a baseline variant each cell gets its
difference, and with ``test=True`` the p-value of a paired test over the shared videos
(:func:`.stats.paired_test`).
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from ..errors import InputError
from . import NOT_RUN, NOT_SCORED
from .leaderboard import (
    TASK_ORDER,
    Column,
    Leaderboard,
    Row,
    cell_ci,
    ci_text,
    data_source,
    headline,
    load_results,
    metric_value,
    model_info,
)


def ablation_table(work_dir: str | os.PathLike, *, metrics: dict[str, Sequence[str]] | None = None,
                   baseline: str | None = None, ci: bool = False, test: bool = False,
                   method: str = "bootstrap", seed: int = 0,
                   variants: Sequence[str] | None = None) -> Leaderboard:
    """Build the ablation table of the variants under ``work_dir``.

    ``metrics`` maps benchmark -> metric names (default: each benchmark's headline).
    ``baseline`` is the variant the others are compared with (default: the one whose
    ``model.baseline`` is true, else none). ``variants`` fixes the row order.
    """
    from ..benchmarks import BENCHMARKS
    results = load_results(work_dir)
    names = list(variants) if variants else list(results)
    unknown = [v for v in names if v not in results]
    if unknown:
        raise InputError(f"{work_dir}: no results for variant(s) {unknown}")
    infos = {v: model_info(v, results[v]) for v in names}
    if baseline is None:
        baseline = next((v for v in names if infos[v].get("baseline")), None)
    if baseline is not None and baseline not in results:
        raise InputError(f"{work_dir}: baseline variant {baseline!r} has no results")

    benches = sorted({b for v in names for b in results[v]},
                     key=lambda b: (TASK_ORDER.index(BENCHMARKS[b].task)
                                    if b in BENCHMARKS else 99, list(BENCHMARKS).index(b)
                                    if b in BENCHMARKS else 99, b))
    cols: list[Column] = []
    for b in benches:
        doc = next(results[v][b] for v in names if b in results[v])
        wanted = list((metrics or {}).get(b) or [headline(doc)])
        bm = BENCHMARKS.get(b)
        for m in wanted:
            cols.append(Column(f"{b}/{m}", bm.task if bm else "other",
                               bm.title if bm else b, str(m), b, m))

    flag_keys: list[str] = []
    for v in names:
        for k in (infos[v].get("variant") or {}):
            if k not in flag_keys:
                flag_keys.append(k)

    rows = []
    for v in names:
        docs = results[v]
        meta = {"Variant": infos[v].get("name", v)}
        for k in flag_keys:
            meta[k] = (infos[v].get("variant") or {}).get(k)
        values, notes, cis, data = {}, {}, {}, {}
        for c in cols:
            doc = docs.get(c.benchmark)
            if doc is None:
                values[c.key] = NOT_RUN
                continue
            data[c.key] = data_source(doc)
            values[c.key] = NOT_SCORED if doc.get("server_only") else metric_value(doc, c.metric)
            parts = []
            if ci and isinstance(values[c.key], float):
                cis[c.key] = cell_ci(doc, c.metric, seed=seed)
                parts.append(ci_text(cis[c.key]))
            if baseline and v != baseline and isinstance(values[c.key], float):
                base_doc = results[baseline].get(c.benchmark)
                base = metric_value(base_doc, c.metric)
                if isinstance(base, float):
                    parts.append(f"({values[c.key] - base:+.1f})")
                    if test:
                        parts.append(_p_note(doc, base_doc, c.metric, method, seed))
            if parts:
                notes[c.key] = " ".join(p for p in parts if p)
        rows.append(Row(meta=meta, values=values, group="", measured=True,
                        source={"measured": True, "variant": v}, notes=notes, ci=cis, data=data))
    notes = [f"Differences against the baseline variant '{baseline}'."] if baseline else []
    if test:
        notes.append(f"p: two-sided paired {method} test over the shared videos, resampling videos and "
                     "recomputing the benchmark's metric (univs_bench.report.stats); p=n/a: no "
                     "per-video statistics.")
    return Leaderboard(table="ablation", title="Ablations (measured variants)", columns=cols,
                       rows=rows, meta_columns=["Variant"] + flag_keys, notes=notes)


def _p_note(doc_a: dict, doc_b: dict, metric: str, method: str, seed: int) -> str:
    from .stats import paired_test
    try:
        r = paired_test(doc_a, doc_b, metric, method=method, seed=seed)
    except (InputError, ValueError):
        return "p=n/a"
    return f"p={r.p_value:.3g}"
