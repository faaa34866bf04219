"""Render a :class:`~.leaderboard.Leaderboard` as Markdown, LaTeX, HTML, CSV or JSON.

LaTeX and HTML have the paper's header: the task (VIS, VSS, ...) spanning its columns, then
benchmark, then metric (``G^th`` as $\\mathcal{G}^{th}$ / G<sup>th</sup>). Markdown has one
header row (``VIS: YT19 mAP``). Row groups (the paper's backbone blocks, then measured rows)
get a label row in every format but CSV/JSON, where the group is a column.

The best value of each column is marked in bold (Markdown ``**``, LaTeX ``\\textbf``, HTML
``<b>``; CSV/JSON stay plain numbers). "Best" follows the paper: the highest value among the
non-grey rows of the same group (``scope='group'``), compared at the printed precision so
that ties are all marked; ``scope='table'`` compares all rows. Measured rows are compared only
with measured rows scored on the same data. Metrics named ``*_decay`` are lower-is-better.

Measured rows carry a footnote letter naming their data source, code version and date
(:func:`.leaderboard.source_footnotes`); CSV and JSON have it as columns. With ``--ci`` a
measured cell carries its 95% bootstrap interval ``[lo, hi]``, or ``[no CI]`` with the reason
in a note (CSV/JSON: ``ci_low``/``ci_high`` numbers, the reason in ``ci_note``).
"""
from __future__ import annotations

import csv
import html as _html
import io
import json
import re
from typing import Any

from ..errors import InputError
from .leaderboard import TASK_LABELS, Leaderboard, Row, row_source, source_footnotes

FORMATS = ("md", "latex", "html", "csv", "json")
LATEX_WIDTHS = ("column", "text")

LEGEND = ("'-': the model lacks this capability; '*': not reported; 'n/a': undefined on "
          "the data; 'n/r': not run; 'srv': written for the evaluation server, not scored "
          "locally; empty: left empty in the paper. Best per column and group in bold; "
          "grey rows (†) are listed but not compared.")
CI_LEGEND = ("[lo, hi]: 95% bootstrap interval of the reported metric, resampling videos and "
             "recomputing the benchmark's own metric (2000 resamples).")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def caption(board: Leaderboard) -> str:
    """``Table 2. Title`` (``Table 1(a). Part title``) for published tables, the title otherwise."""
    if str(board.table).isdigit():
        if board.part:
            return f"Table {board.table}({board.part}). {board.part_title}"
        return f"Table {board.table}. {board.title}"
    return board.title


def _caption_text(board: Leaderboard) -> str:
    """The caption without the 'Table N.' prefix (LaTeX numbers tables itself)."""
    if board.part:
        return f"{board.title}: ({board.part}) {board.part_title}"
    return board.title


def best_cells(board: Leaderboard, scope: str = "group") -> set[tuple[int, str]]:
    """(row index, column key) of the best value of each column (ties all marked)."""
    if scope not in ("group", "table"):
        raise InputError(f"best scope {scope!r}: choose group or table")
    out: set[tuple[int, str]] = set()
    for c in board.columns:
        pools: dict[tuple, list[tuple[int, float]]] = {}
        for i, r in enumerate(board.rows):
            v = r.values.get(c.key)
            if r.grey or not _is_num(v):
                continue
            src = r.data.get(c.key, {}).get("label") if r.measured else None
            key = ((r.group if scope == "group" else None), r.measured, src)
            pools.setdefault(key, []).append((i, round(v, board.decimals)))
        for vals in pools.values():
            pick = min if c.lower_is_better else max
            best = pick(v for _, v in vals)
            out.update((i, c.key) for i, v in vals if v == best)
    return out


def _fmt_value(v: Any, decimals: int) -> str:
    if _is_num(v):
        return f"{v:.{decimals}f}"
    return "" if v is None else str(v)


def _task_spans(board: Leaderboard) -> list[tuple[str, int]]:
    spans: list[tuple[str, int]] = []
    for c in board.columns:
        if spans and spans[-1][0] == c.task:
            spans[-1] = (c.task, spans[-1][1] + 1)
        else:
            spans.append((c.task, 1))
    return spans


def _task_label(t: str) -> str:
    return TASK_LABELS.get(t, t)


def _meta_text(v: Any, fmt: str) -> str:
    if isinstance(v, bool):
        if fmt == "latex":
            return r"\cmark" if v else r"\xmark"
        if fmt in ("csv", "json"):
            return "yes" if v else "no"
        return "✓" if v else "✗"
    return "" if v is None else str(v)


def _cells(board: Leaderboard, scope: str):
    best = best_cells(board, scope)
    for i, r in enumerate(board.rows):
        vals = []
        for c in board.columns:
            text = _fmt_value(r.values.get(c.key), board.decimals)
            note = r.notes.get(c.key, "")
            vals.append((text, note, (i, c.key) in best))
        yield i, r, vals


def _ci_reasons(board: Leaderboard) -> list[str]:
    out: list[str] = []
    for r in board.rows:
        for ci in r.ci.values():
            if isinstance(ci, str) and ci:
                text = f"{r.name or r.meta.get('Variant', '')}: {ci}"
                if text not in out:
                    out.append(text)
    return out


_MARKER_TEXT = (("-", "'-': the model lacks this capability"), ("*", "'*': not reported"),
                ("n/a", "'n/a': undefined on the data"), ("n/r", "'n/r': not run"),
                ("srv", "'srv': written for the evaluation server, not scored locally"),
                ("", "empty: left empty in the paper"))


def _legend(board: Leaderboard) -> list[str]:
    """Notes, then the meaning of the markers that occur, bold, grey rows and intervals."""
    lines = list(board.notes)
    present = {v for r in board.rows for v in r.values.values() if isinstance(v, str)}
    parts = [text for m, text in _MARKER_TEXT if m in present]
    if any(not r.measured for r in board.rows):
        parts.append("best per column and group in bold")
    elif len(board.rows) > 1:
        parts.append("best per column in bold (among rows scored on the same data)")
    if any(r.grey for r in board.rows):
        parts.append("grey rows (†) are listed but not compared")
    if parts:
        lines.append("; ".join(parts) + ".")
    if any(r.ci for r in board.rows):
        lines.append(CI_LEGEND)
        reasons = _ci_reasons(board)
        if reasons:
            lines.append("[no CI]: " + "; ".join(reasons))
    return lines


def _has_groups(board: Leaderboard) -> bool:
    return len(board.groups()) > 1 or any(g for g in board.groups())


# --------------------------------------------------------------------------- markdown
def _md_escape(s: str) -> str:
    if s == "*":  # a lone asterisk between spaces is literal in CommonMark; keep it readable
        return s
    return s.replace("|", r"\|").replace("*", r"\*")


def to_markdown(board: Leaderboard, scope: str = "group") -> str:
    """GitHub Markdown: one header row (``VIS: YT19 mAP``), a label row per row group."""
    meta = board.meta_columns
    marks, foot = source_footnotes(board)
    head = list(meta)
    first_of_task = {c.key for i, c in enumerate(board.columns)
                     if i == 0 or board.columns[i - 1].task != c.task}
    for c in board.columns:
        label = f"{c.benchmark_label} {c.metric_label}"
        head.append(f"{_task_label(c.task)}: {label}" if c.key in first_of_task else label)
    lines = [f"**{caption(board)}**", "",
             "| " + " | ".join(_md_escape(h) for h in head) + " |",
             "|" + "|".join([":---"] * len(meta) + [":---:"] * len(board.columns)) + "|"]
    group = None
    for i, r, vals in _cells(board, scope):
        if r.group != group and _has_groups(board):
            group = r.group
            lines.append("| " + " | ".join([f"*{_md_escape(group)}*"] + [""] * (len(head) - 1)) + " |")
        m = [_md_escape(_meta_text(r.meta.get(k), "md")) for k in meta]
        if r.grey:
            m[0] += " †"
        if i in marks:
            m[0] += f" ({marks[i]})"
        cells = []
        for k, (text, note, is_best) in enumerate(vals):
            s = _md_escape(text)
            if is_best and s:
                s = f"**{s}**"
            elif r.grey and s and _is_num(r.values.get(board.columns[k].key)):
                s = f"_{s}_"
            if note:
                s += f" {_md_escape(note)}"
            cells.append(s)
        lines.append("| " + " | ".join(m + cells) + " |")
    lines.append("")
    if foot:
        lines += ["Data of the measured rows:  "] + [f"({t.split(':', 1)[0]}){t.split(':', 1)[1]}  "
                                                     for t in foot]
    lines += [f"{n}  " for n in _legend(board)]
    if board.status == "missing":
        lines += ["", f"Not available: {board.missing}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- latex
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
                  "×": r"$\times$", "†": r"$^\dagger$", "\\": r"\textbackslash{}",
                  "→": r"$\rightarrow$", "✓": r"\cmark", "✗": r"\xmark"}
_MATH_TOKENS = re.compile(r"G\^\{?th&sf\}?|G\^\{?th\}?|mVC ?(\d+)")


def _tex(s: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)


def _tex_metric(label: str) -> str:
    """Paper metric labels in math: G^th -> $\\mathcal{G}^{th}$, G^th&sf, mVC8 -> mVC$_8$."""
    def sub(m: re.Match) -> str:
        tok = m.group(0)
        if tok.startswith("G"):
            return r"$\mathcal{G}^{th\&sf}$" if "sf" in tok else r"$\mathcal{G}^{th}$"
        return f"mVC$_{{{m.group(1)}}}$"
    out, pos = [], 0
    for m in _MATH_TOKENS.finditer(label):
        out.append(_tex(label[pos:m.start()]))
        out.append(sub(m))
        pos = m.end()
    out.append(_tex(label[pos:]))
    return "".join(out)


_SHORT_META = {"Joint Training": "Joint", "Universal": "Univ."}


def _split_at(board: Leaderboard, parts: int = 2) -> list[list[int]]:
    """Column index blocks for a split table: cut at the task boundary nearest the middle."""
    n = len(board.columns)
    if parts < 2 or n < 2:
        return [list(range(n))]
    bounds = [i for i in range(1, n) if board.columns[i].task != board.columns[i - 1].task]
    if not bounds:
        return [list(range(n))]
    cut = min(bounds, key=lambda i: abs(i - n / 2))
    return [list(range(cut)), list(range(cut, n))]


def _latex_tabular(board: Leaderboard, idx: list[int], scope: str, marks: dict[int, str],
                   short: bool) -> list[str]:
    meta = board.meta_columns
    nm = len(meta)
    cols = [board.columns[k] for k in idx]
    ncol = nm + len(cols)
    sub = Leaderboard(table=board.table, title=board.title, columns=cols, rows=board.rows,
                      meta_columns=meta, decimals=board.decimals)
    out = [r"\begin{tabular}{" + "l" * nm + "c" * len(cols) + "}", r"\toprule"]
    row1 = [""] * nm
    rules, col = [], nm + 1
    for t, n in _task_spans(sub):
        row1.append(rf"\multicolumn{{{n}}}{{c}}{{{_tex(_task_label(t))}}}")
        rules.append(rf"\cmidrule(lr){{{col}-{col + n - 1}}}")
        col += n
    out.append(" & ".join(row1) + r" \\")
    out.append(" ".join(rules))
    heads = [_tex_metric(_SHORT_META.get(m, m) if short else m) for m in meta]
    out.append(" & ".join(heads + [_tex(c.benchmark_label) for c in cols]) + r" \\")
    out.append(" & ".join([""] * nm + [_tex_metric(c.metric_label) for c in cols]) + r" \\")
    group = None
    best = best_cells(board, scope)
    for i, r in enumerate(board.rows):
        if group is None or r.group != group:
            out.append(r"\midrule")
            if _has_groups(board) and r.group:
                out.append(rf"\multicolumn{{{ncol}}}{{l}}{{\textit{{{_tex(r.group)}}}}} \\")
        group = r.group
        m = [_meta_text(r.meta.get(k), "latex") if isinstance(r.meta.get(k), bool)
             else _tex_metric(_meta_text(r.meta.get(k), "latex")) for k in meta]
        if r.grey:
            m[0] += r"$^\dagger$"
        if i in marks:
            m[0] += rf"$^{{\mathrm{{{marks[i]}}}}}$"
        cells = []
        for c in cols:
            s = _tex(_fmt_value(r.values.get(c.key), board.decimals))
            if (i, c.key) in best and s:
                s = rf"\textbf{{{s}}}"
            note = r.notes.get(c.key, "")
            if note:
                s += " {\\scriptsize " + _tex(note) + "}"
            cells.append(s)
        line = " & ".join(m + cells)
        if r.grey:
            line = " & ".join(rf"\textcolor{{gray}}{{{x}}}" if x else x for x in m + cells)
        out.append(line + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    return out


def to_latex(board: Leaderboard, scope: str = "group", width: str = "text") -> str:
    """A booktabs table that fits ``\\textwidth`` (``table*``) or ``\\columnwidth`` (``table``).

    Both are scaled with ``\\resizebox`` to the width; for ``column`` a table of more than
    eight value columns is split at a task boundary into two stacked tabulars (and the
    flag columns get short headers), so that its text stays readable. Needs ``booktabs``,
    ``amssymb``, ``pifont``, ``xcolor`` and ``graphicx``.
    """
    if width not in LATEX_WIDTHS:
        raise InputError(f"--latex-width {width!r}: choose column or text")
    marks, foot = source_footnotes(board)
    env = "table*" if width == "text" else "table"
    label = f"tab:univs-{board.table}{board.part}".replace(" ", "-")
    blocks = _split_at(board) if width == "column" and len(board.columns) > 8 else [
        list(range(len(board.columns)))]
    out = [r"% \usepackage{booktabs,amssymb,pifont,xcolor,graphicx}",
           r"\providecommand{\cmark}{\ding{51}}\providecommand{\xmark}{\ding{55}}",
           rf"\begin{{{env}}}[t]", r"\centering"]
    for k, idx in enumerate(blocks):
        if k:
            out.append(r"\par\medskip")
        out.append(rf"\resizebox{{\{width}width}}{{!}}{{%")
        out += _latex_tabular(board, idx, scope, marks, short=width == "column")
        out.append("}")
    legend = " ".join(_tex_metric(x) for x in _legend(board))
    if foot:
        legend = ("Measured rows: " + "; ".join(
            f"$^{{\\mathrm{{{t.split(':', 1)[0]}}}}}${_tex(t.split(':', 1)[1])}" for t in foot)
            + ". " + legend)
    cap = _tex_metric(_caption_text(board)) + ". " + legend
    out += [rf"\caption{{{cap}}}", rf"\label{{{label}}}", rf"\end{{{env}}}"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- html
def _html_metric(label: str) -> str:
    """G^th -> G<sup>th</sup>, G^th&sf -> G<sup>th&amp;sf</sup>, mVC8 -> mVC<sub>8</sub>."""
    e = _html.escape
    out, pos = [], 0
    for m in _MATH_TOKENS.finditer(label):
        out.append(e(label[pos:m.start()]))
        tok = m.group(0)
        if tok.startswith("G"):
            out.append("𝒢<sup>th&amp;sf</sup>" if "sf" in tok else "𝒢<sup>th</sup>")
        else:
            out.append(f"mVC<sub>{m.group(1)}</sub>")
        pos = m.end()
    out.append(e(label[pos:]))
    return "".join(out)


def to_html(board: Leaderboard, scope: str = "group", standalone: bool = False) -> str:
    """An HTML ``<table>`` (class ``leaderboard``) in a horizontally scrolling container."""
    e = _html.escape
    meta = board.meta_columns
    marks, foot = source_footnotes(board)
    h = ['<div class="table-scroll">',
         f'<table class="leaderboard" data-table="{e(str(board.table) + board.part)}">',
         f"<caption>{_html_metric(caption(board))}</caption>", "<thead>", "<tr>"]
    h += [f'<th rowspan="3" class="meta">{_html_metric(m)}</th>' for m in meta]
    h += [f'<th colspan="{n}" class="task">{e(_task_label(t))}</th>' for t, n in _task_spans(board)]
    h += ["</tr>", "<tr>"]
    h += [f'<th class="bench">{e(c.benchmark_label)}</th>' for c in board.columns]
    h += ["</tr>", "<tr>"]
    h += [f'<th class="metric">{_html_metric(c.metric_label)}</th>' for c in board.columns]
    h += ["</tr>", "</thead>"]
    group, first = None, True
    ncols = len(meta) + len(board.columns)
    for i, r, vals in _cells(board, scope):
        if first or r.group != group:
            h.append("<tbody>" if first else "</tbody><tbody>")
            first, group = False, r.group
            if _has_groups(board):
                h.append(f'<tr class="group"><td colspan="{ncols}">{e(str(group))}</td></tr>')
        cls = ' class="grey"' if r.grey else (' class="measured"' if r.measured else "")
        tds = [f"<td>{_html_metric(_meta_text(r.meta.get(k), 'html'))}</td>" for k in meta]
        if r.grey:
            tds[0] = tds[0][:-5] + " †</td>"
        if i in marks:
            tds[0] = tds[0][:-5] + f'<sup class="src">{e(marks[i])}</sup></td>'
        for text, note, is_best in vals:
            s = e(text)
            if is_best and s:
                s = f"<b>{s}</b>"
            if note:
                s += f' <span class="ci">{e(note)}</span>'
            tds.append(f"<td>{s}</td>")
        h.append(f"<tr{cls}>" + "".join(tds) + "</tr>")
    h.append("</tbody></table>" if not first else "</table>")
    h.append("</div>")
    if foot:
        h.append('<p class="note">Data of the measured rows: '
                 + "; ".join(f"<sup>{e(t.split(':', 1)[0])}</sup>{e(t.split(':', 1)[1])}" for t in foot)
                 + "</p>")
    h += [f'<p class="legend">{_html_metric(n)}</p>' for n in _legend(board)]
    if board.status == "missing":
        h.append(f'<p class="missing">Not available: {e(board.missing)}</p>')
    body = "\n".join(x for x in h if x)
    if not standalone:
        return body + "\n"
    from .html import CSS
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{e(caption(board))}"
            f"</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


# --------------------------------------------------------------------------- csv / json
def _ci_pair(r: Row, key: str) -> tuple[float | None, float | None, str]:
    ci = r.ci.get(key)
    if isinstance(ci, tuple):
        return ci[0], ci[1], ""
    return None, None, ci or ""


def to_csv(board: Leaderboard | list[Leaderboard]) -> str:
    """Data: one header row; a column per ``<benchmark>/<metric>`` (markers as text), and with
    intervals ``<key> ci_low`` / ``<key> ci_high`` numbers; row group, grey, measured, data
    source, code version and date as columns. Several parts (Table 1, 3) share one file with a
    ``table`` column (``1a``, ``1b``) and the union of their columns (empty where a part has none).
    """
    boards = board if isinstance(board, list) else [board]
    meta: list[str] = []
    keys: list[str] = []
    for b in boards:
        meta += [m for m in b.meta_columns if m not in meta]
        keys += [c.key for c in b.columns if c.key not in keys]
    with_ci = any(r.ci for b in boards for r in b.rows)
    parts = any(b.part for b in boards)
    head = (["table"] if parts else []) + meta + ["group", "grey", "measured", "data_source",
                                                   "code_version", "date"]
    for k in keys:
        head.append(k)
        if with_ci:
            head += [f"{k} ci_low", f"{k} ci_high"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for b in boards:
        own = {c.key for c in b.columns}
        for r in b.rows:
            src, code, date = row_source(r)
            line = [f"{b.table}{b.part}"] if parts else []
            line += [_meta_text(r.meta.get(k), "csv") for k in meta]
            line += [r.group, "yes" if r.grey else "no", "yes" if r.measured else "no", src, code, date]
            for k in keys:
                v = r.values.get(k) if k in own else None
                line.append(repr(round(float(v), 6)) if _is_num(v) else ("" if v is None else str(v)))
                if with_ci:
                    lo, hi, _ = _ci_pair(r, k)
                    line += ["" if lo is None else repr(round(lo, 6)), "" if hi is None else repr(round(hi, 6))]
            w.writerow(line)
    return buf.getvalue()


def board_data(board: Leaderboard) -> dict:
    """The board as plain data (what ``--format json`` writes)."""
    cols = [{"key": c.key, "task": c.task, "benchmark": c.benchmark, "metric": c.metric,
             "benchmark_label": c.benchmark_label, "metric_label": c.metric_label}
            for c in board.columns]
    rows = []
    for r in board.rows:
        src, code, date = row_source(r)
        cells = {}
        for c in board.columns:
            v = r.values.get(c.key)
            cell: dict[str, Any] = {"value": float(v) if _is_num(v) else None,
                                    "marker": None if _is_num(v) else ("" if v is None else str(v))}
            if r.measured:
                lo, hi, why = _ci_pair(r, c.key)
                cell.update(ci_low=lo, ci_high=hi)
                if why:
                    cell["ci_note"] = why
                if c.key in r.data:
                    cell["data_source"] = r.data[c.key]["label"]
            cells[c.key] = cell
        rows.append({"meta": {k: r.meta.get(k) for k in board.meta_columns}, "group": r.group,
                     "grey": r.grey, "measured": r.measured, "data_source": src,
                     "code_version": code or None, "date": date or None, "cells": cells})
    return {"table": str(board.table) + board.part, "caption": caption(board), "columns": cols,
            "rows": rows, "notes": _legend(board)}


def to_json(boards: list[Leaderboard]) -> str:
    """One board as an object; several parts as ``{"parts": [...]}``."""
    data = [board_data(b) for b in boards]
    doc = data[0] if len(data) == 1 else {"table": str(boards[0].table), "parts": data}
    return json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def render(board: Leaderboard, fmt: str = "md", scope: str = "group", latex_width: str = "text") -> str:
    """``board`` in ``fmt`` (md | latex | html | csv | json)."""
    if fmt == "md":
        return to_markdown(board, scope)
    if fmt == "latex":
        return to_latex(board, scope, width=latex_width)
    if fmt == "html":
        return to_html(board, scope, standalone=True)
    if fmt == "csv":
        return to_csv(board)
    if fmt == "json":
        return to_json([board])
    raise InputError(f"--format {fmt!r}: choose from {', '.join(FORMATS)}")


def render_all(boards: list[Leaderboard], fmt: str = "md", scope: str = "group",
               latex_width: str = "text") -> str:
    """Several boards (the parts of Table 1 or 3) in one output."""
    if fmt == "json":
        return to_json(boards)
    if fmt == "csv":
        return to_csv(list(boards))
    return "\n".join(render(b, fmt, scope, latex_width) for b in boards)


def rows_by_name(board: Leaderboard, method: str, backbone: str | None = None) -> list[Row]:
    """Rows whose Method (and Backbone) match, for tests and plots."""
    return [r for r in board.rows if r.meta.get("Method") == method
            and (backbone is None or r.meta.get("Backbone") == backbone)]
