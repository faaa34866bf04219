"""Render a :class:`~.leaderboard.Leaderboard` as Markdown, LaTeX, HTML or CSV.

The header has two levels as in the paper's Table 2: the task (VIS, VSS, ...) spanning its
columns, then benchmark and metric (LaTeX and HTML print benchmark and metric as two rows,
as the paper does; Markdown and CSV join them). Row groups (the paper's backbone blocks,
then measured rows) are separated by a rule (LaTeX, HTML) or a label row (Markdown).

The best value of each column is marked in bold (Markdown ``**``, LaTeX ``\\textbf``,
HTML ``<b>``; CSV stays plain numbers). "Best" follows the paper: the highest value among
the non-grey rows of the same group (``scope='group'``), compared at the printed precision
so that ties are all marked; ``scope='table'`` compares all rows. Metrics named ``*_decay``
are lower-is-better. Markers are printed verbatim: ``-`` cannot do the task, ``*`` not
reported, ``n/a`` undefined on the data, an empty cell where the paper left it empty.
"""
from __future__ import annotations

import csv
import html as _html
import io
from typing import Any

from ..errors import InputError
from .leaderboard import TASK_LABELS, Leaderboard, Row

FORMATS = ("md", "latex", "html", "csv")

LEGEND = ("'-': the model lacks this capability; '*': not reported; 'n/a': undefined on "
          "the data; empty: left empty in the paper. Best per column and group in bold; "
          "grey rows (†) are listed but not compared.")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def best_cells(board: Leaderboard, scope: str = "group") -> set[tuple[int, str]]:
    """(row index, column key) of the best value of each column (ties all marked)."""
    if scope not in ("group", "table"):
        raise InputError(f"best scope {scope!r}: choose group or table")
    out: set[tuple[int, str]] = set()
    groups = board.groups() if scope == "group" else [None]
    for g in groups:
        idx = [i for i, r in enumerate(board.rows)
               if not r.grey and (g is None or r.group == g)]
        for c in board.columns:
            vals = [(i, round(board.rows[i].values.get(c.key), board.decimals)) for i in idx
                    if _is_num(board.rows[i].values.get(c.key))]
            if not vals:
                continue
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


def caption(board: Leaderboard) -> str:
    """``Table 2. Title`` for published tables, the bare title otherwise."""
    return f"Table {board.table}. {board.title}" if str(board.table).isdigit() else board.title


def _task_label(t: str) -> str:
    return TASK_LABELS.get(t, t)


def _meta_text(v: Any, fmt: str) -> str:
    if isinstance(v, bool):
        if fmt == "latex":
            return r"\cmark" if v else r"\xmark"
        if fmt == "csv":
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
        yield r, vals


# --------------------------------------------------------------------------- markdown
def _md_escape(s: str) -> str:
    if s == "*":  # a lone asterisk between spaces is literal in CommonMark; keep it readable
        return s
    return s.replace("|", r"\|").replace("*", r"\*")


def to_markdown(board: Leaderboard, scope: str = "group") -> str:
    """GitHub Markdown: task row as the header, then a benchmark/metric row in bold."""
    meta = board.meta_columns
    head = list(meta)
    for t, n in _task_spans(board):
        head += [_task_label(t)] + [""] * (n - 1)
    sub = [""] * len(meta) + [f"**{c.benchmark_label} {c.metric_label}**" for c in board.columns]
    lines = [f"**{caption(board)}**", "",
             "| " + " | ".join(head) + " |",
             "|" + "|".join([":---"] * len(meta) + [":---:"] * len(board.columns)) + "|",
             "| " + " | ".join(sub) + " |"]
    group = None
    for r, vals in _cells(board, scope):
        if r.group != group and len(board.groups()) > 1:
            group = r.group
            lines.append("| " + " | ".join([f"*{group}*"] + [""] * (len(head) - 1)) + " |")
        m = [_md_escape(_meta_text(r.meta.get(k), "md")) for k in meta]
        if r.grey:
            m[0] += " †"
        cells = []
        for text, note, is_best in vals:
            s = _md_escape(text)
            if is_best and s:
                s = f"**{s}**"
            elif r.grey and s and _is_num(r.values.get(board.columns[len(cells)].key)):
                s = f"_{s}_"
            if note:
                s += f" {_md_escape(note)}"
            cells.append(s)
        lines.append("| " + " | ".join(m + cells) + " |")
    lines += [""] + [f"{n}  " for n in board.notes] + [LEGEND]
    if board.status == "missing":
        lines += ["", f"Not available: {board.missing}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- latex
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
                  "×": r"$\times$", "†": r"$^\dagger$", "\\": r"\textbackslash{}"}


def _tex(s: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)


def _tex_metric(label: str) -> str:
    # paper labels such as G^th, G^th&sf, mVC8: superscripts/subscripts in math mode
    if label.startswith("G^"):
        return "$\\mathcal{G}^{" + label[2:].replace("&", r"\&") + "}$"
    if label.startswith("mVC") and label[3:].isdigit():
        return f"mVC$_{{{label[3:]}}}$"
    return _tex(label)


def to_latex(board: Leaderboard, scope: str = "group") -> str:
    """A booktabs tabular (needs ``booktabs``, ``amssymb``, ``pifont``, ``xcolor``)."""
    meta = board.meta_columns
    nm = len(meta)
    out = [r"% \usepackage{booktabs,amssymb,pifont,xcolor}",
           r"\providecommand{\cmark}{\ding{51}}\providecommand{\xmark}{\ding{55}}",
           r"\begin{table*}[t]", r"\centering", r"\small",
           r"\begin{tabular}{" + "l" * nm + "|" + "|".join("c" * n for _, n in _task_spans(board))
           + "}", r"\toprule"]
    row1 = [""] * nm
    rules, col = [], nm + 1
    for t, n in _task_spans(board):
        row1.append(rf"\multicolumn{{{n}}}{{c}}{{{_tex(_task_label(t))}}}")
        rules.append(rf"\cmidrule(lr){{{col}-{col + n - 1}}}")
        col += n
    out.append(" & ".join(row1) + r" \\")
    out.append(" ".join(rules))
    out.append(" & ".join([_tex(m) for m in meta] + [_tex(c.benchmark_label) for c in board.columns])
               + r" \\")
    out.append(" & ".join([""] * nm + [_tex_metric(c.metric_label) for c in board.columns]) + r" \\")
    out.append(r"\midrule")
    group = None
    for r, vals in _cells(board, scope):
        if group is not None and r.group != group:
            out.append(r"\midrule")
        group = r.group
        m = [_tex(_meta_text(r.meta.get(k), "latex")) if not isinstance(r.meta.get(k), bool)
             else _meta_text(r.meta.get(k), "latex") for k in meta]
        cells = []
        for text, note, is_best in vals:
            s = _tex(text)
            if is_best and s:
                s = rf"\textbf{{{s}}}"
            if note:
                s += " {\\scriptsize " + _tex(note) + "}"
            cells.append(s)
        line = " & ".join(m + cells)
        if r.grey:
            line = " & ".join(rf"\textcolor{{gray}}{{{x}}}" if x else x for x in m + cells)
        out.append(line + r" \\")
    out += [r"\bottomrule", r"\end{tabular}",
            rf"\caption{{{_tex(caption(board))}. {_tex(' '.join(board.notes + [LEGEND]))}}}",
            r"\end{table*}"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- html
def to_html(board: Leaderboard, scope: str = "group", standalone: bool = False) -> str:
    """An HTML ``<table>`` (class ``leaderboard``); ``standalone`` wraps it in a page."""
    e = _html.escape
    meta = board.meta_columns
    h = [f'<table class="leaderboard" data-table="{e(str(board.table))}">',
         f"<caption>{e(caption(board))}</caption>", "<thead>", "<tr>"]
    h += [f'<th rowspan="3" class="meta">{e(m)}</th>' for m in meta]
    h += [f'<th colspan="{n}" class="task">{e(_task_label(t))}</th>' for t, n in _task_spans(board)]
    h += ["</tr>", "<tr>"]
    h += [f'<th class="bench">{e(c.benchmark_label)}</th>' for c in board.columns]
    h += ["</tr>", "<tr>"]
    h += [f'<th class="metric">{e(c.metric_label)}</th>' for c in board.columns]
    h += ["</tr>", "</thead>"]
    group, first = None, True
    ncols = len(meta) + len(board.columns)
    for r, vals in _cells(board, scope):
        if first or r.group != group:
            h.append("<tbody>" if first else "</tbody><tbody>")
            first, group = False, r.group
            if len(board.groups()) > 1:
                h.append(f'<tr class="group"><td colspan="{ncols}">{e(str(group))}</td></tr>')
        cls = ' class="grey"' if r.grey else (' class="measured"' if r.measured else "")
        tds = [f"<td>{e(_meta_text(r.meta.get(k), 'html'))}</td>" for k in meta]
        for text, note, is_best in vals:
            s = e(text)
            if is_best and s:
                s = f"<b>{s}</b>"
            if note:
                s += f' <span class="ci">{e(note)}</span>'
            tds.append(f"<td>{s}</td>")
        h.append(f"<tr{cls}>" + "".join(tds) + "</tr>")
    h.append("</tbody></table>" if not first else "</table>")
    h += [f'<p class="note">{e(n)}</p>' for n in board.notes]
    h.append(f'<p class="legend">{e(LEGEND)}</p>')
    if board.status == "missing":
        h.append(f'<p class="missing">Not available: {e(board.missing)}</p>')
    body = "\n".join(x for x in h if x)
    if not standalone:
        return body + "\n"
    from .html import CSS
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Table {e(str(board.table))}"
            f"</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


# --------------------------------------------------------------------------- csv
def to_csv(board: Leaderboard) -> str:
    """CSV with three header rows (task, benchmark, metric); values unrounded, no marking."""
    meta = board.meta_columns
    ci_keys = [c.key for c in board.columns if any(r.notes.get(c.key) for r in board.rows)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([""] * len(meta) + [_task_label(c.task) for c in board.columns]
               + ["" for _ in ci_keys] + ["", "", ""])
    w.writerow([""] * len(meta) + [c.benchmark_label for c in board.columns]
               + [f"{k} CI" for k in ci_keys] + ["", "", ""])
    w.writerow(meta + [c.metric_label for c in board.columns] + ["95% CI" for _ in ci_keys]
               + ["Group", "Grey", "Source"])
    for r in board.rows:
        vals = []
        for c in board.columns:
            v = r.values.get(c.key)
            vals.append(repr(round(float(v), 4)) if _is_num(v) else ("" if v is None else str(v)))
        src = r.source
        source = ("measured" if r.measured else
                  "; ".join(str(src[k]) for k in ("table", "cite", "paper", "venue") if k in src))
        w.writerow([_meta_text(r.meta.get(k), "csv") for k in meta] + vals
                   + [r.notes.get(k, "") for k in ci_keys]
                   + [r.group, "yes" if r.grey else "", source])
    return buf.getvalue()


def render(board: Leaderboard, fmt: str = "md", scope: str = "group") -> str:
    """``board`` in ``fmt`` (md | latex | html | csv)."""
    if fmt == "md":
        return to_markdown(board, scope)
    if fmt == "latex":
        return to_latex(board, scope)
    if fmt == "html":
        return to_html(board, scope, standalone=True)
    if fmt == "csv":
        return to_csv(board)
    raise InputError(f"--format {fmt!r}: choose from {', '.join(FORMATS)}")


def rows_by_name(board: Leaderboard, method: str, backbone: str | None = None) -> list[Row]:
    """Rows whose Method (and Backbone) match, for tests and plots."""
    return [r for r in board.rows if r.meta.get("Method") == method
            and (backbone is None or r.meta.get("Backbone") == backbone)]
