"""Leaderboards, tables, statistics, plots and the HTML report (univs_bench.report)."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from univs_bench.errors import InputError
from univs_bench.report import NOT_CAPABLE, NOT_REPORTED, NOT_RUN
from univs_bench.report.commands import report_command, visualize_command
from univs_bench.report.leaderboard import (
    Column,
    Leaderboard,
    Row,
    load_results,
    load_table,
    merge_measured,
)
from univs_bench.report.stats import (
    bootstrap_ci,
    bootstrap_metric,
    paired_test,
    paired_test_values,
    video_statistics,
)
from univs_bench.report.tables import best_cells, render, rows_by_name

# Cells checked by hand against Table 2 of the UniVS paper (official repo image
# imgs/unified_results_cvpr.png): (method, backbone, column key) -> printed value.
KNOWN = {
    ("UniVS", "ResNet50", "ytvis19/AP"): 47.4,
    ("UniVS", "ResNet50", "vspw/mVC8"): 88.5,
    ("UniVS", "ResNet50", "viposeg/G"): 60.2,
    ("UniVS", "SwinL", "vspw/mVC8"): 92.3,
    ("UniVS", "SwinL", "vipseg/STQ"): 58.2,
    ("UniVS", "SwinL", "davis17/J&F"): 76.2,
    ("UniVS", "SwinB", "refytvos/J&F"): 57.4,
    ("TarVIS", "SwinL", "davis17/J&F"): 85.2,
    ("DVIS-off", "SwinL", "ovis/AP"): 49.9,
    ("UNINEXT", "ResNet50", "ytvis19/AP"): 53.0,
    ("UniRef", "SwinL", "ytvos18/G"): 82.6,
    ("Tube-Link", "ResNet50", "vspw/mIoU"): 42.3,
    ("UNINEXT", "ResNet50", "ytvis21/AP"): NOT_REPORTED,
    ("UniRef", "SwinL", "ytvis19/AP"): NOT_CAPABLE,
    ("TarVIS", "ResNet50", "ytvos18/G"): NOT_REPORTED,
    ("VideoK-Net", "ResNet50", "vipseg/STQ"): NOT_CAPABLE,
    ("VideoK-Net", "ResNet50", "viposeg/G"): "",  # left empty in the paper
}


def _cell(board, method, backbone, key):
    (row,) = rows_by_name(board, method, backbone)
    return row.values[key]


def test_table2_known_cells_and_flags():
    board = load_table(2)
    assert len(board.rows) == 20 and len(board.columns) == 12
    for (m, bb, key), want in KNOWN.items():
        assert _cell(board, m, bb, key) == want, (m, bb, key)
    (univs,) = rows_by_name(board, "UniVS", "ResNet50")
    assert univs.meta["Joint Training"] is True and univs.meta["Universal"] is True
    (tarvis,) = rows_by_name(board, "TarVIS", "SwinL")
    assert tarvis.meta["Joint Training"] is True and tarvis.meta["Universal"] is False
    assert all(r.source.get("table") == "UniVS (CVPR 2024) Table 2" for r in board.rows)
    assert [r.grey for r in board.rows].count(True) == 2


def test_table2_best_marks_reproduce_paper_bold():
    board = load_table(2)
    ours = best_cells(board, "group")
    paper = {(i, k) for i, r in enumerate(board.rows) for k in r.paper_bold}
    assert ours == paper


def test_table2_rendering_all_formats():
    board = load_table(2)
    md = render(board, "md")
    line = next(x for x in md.splitlines() if x.startswith("| UniVS | SwinL "))
    assert "**92.3**" in line and "**58.2**" in line and "| 60.0 |" in line
    line = next(x for x in md.splitlines() if x.startswith("| UniRef | SwinL "))
    assert "| ✓ | ✗ |" + " - |" * 7 + " * | **82.6** |" in line and "**67.4**" in line
    # one header row, no duplicated task groups; group label rows
    head = [x for x in md.splitlines() if x.startswith("| Method |")]
    assert len(head) == 1 and "| VIS: YT19 mAP | YT21 mAP |" in head[0]
    assert head[0].count("| VOS:") == 1 and "| *ResNet-50* |" in md and "| *Larger backbones* |" in md
    assert "| UniVS † | SwinT |" in md
    tex = render(board, "latex")
    assert r"\multicolumn{3}{c}{VIS}" in tex and r"\textbf{85.2}" in tex
    assert "A-R50$\\times$64" in tex
    html = render(board, "html")
    assert '<th colspan="3" class="task">VIS</th>' in html and "<b>68.6</b>" in html
    assert '<div class="table-scroll">' in html and "𝒢<sup>th</sup>" in html and "G^th" not in html
    rows = list(csv.DictReader(io.StringIO(render(board, "csv"))))
    univs = next(r for r in rows if r["Method"] == "UniVS" and r["Backbone"] == "SwinL")
    keys = [c.key for c in board.columns]
    assert keys[0] == "ytvis19/AP" and [univs[k] for k in keys] == [
        "60.0", "57.9", "41.7", "59.8", "92.3", "49.3", "58.2", "76.2", "71.5", "59.4", "58.0", "68.6"]
    uniref = next(r for r in rows if r["Method"] == "UniRef" and r["Backbone"] == "ResNet50")
    assert [uniref[k] for k in keys] == ["-"] * 7 + ["*", "81.4", "63.5", "60.6", "*"]
    assert univs["measured"] == "no" and "Table 2" in univs["data_source"]


def test_latex_is_paper_ready():
    board = load_table(2)
    for width, env in (("text", "table*"), ("column", "table")):
        tex = render(board, "latex", latex_width=width)
        assert rf"\begin{{{env}}}" in tex and rf"\resizebox{{\{width}width}}" in tex
        assert "|" not in tex.split(r"\begin{tabular}{")[1].split("}")[0]  # no vertical rules
        cap = tex.split(r"\caption{")[1]
        assert not cap.startswith("Table") and "G\\^{}" not in tex and r"$\mathcal{G}^{th}$" in cap
        assert r"\label{tab:univs-2}" in tex and r"\textit{ResNet-50}" in tex
        assert r"UniVS$^\dagger$" in tex
    # a column-wide Table 2 is split at a task boundary into two stacked tabulars
    col = render(board, "latex", latex_width="column")
    assert col.count(r"\begin{tabular}") == 2 and r"\multicolumn{3}{c}{VOS}" not in col


def test_tables_1_and_3_have_their_parts():
    from univs_bench.report.leaderboard import load_tables
    t1 = load_tables(1)
    assert [b.part for b in t1] == ["a", "b"] and [len(b.rows) for b in t1] == [10, 10]
    assert all(b.status == "ok" and not b.missing for b in t1 + load_tables(3))
    a, b = t1
    (genvis,) = rows_by_name(a, "GenVIS-off", "R50")
    assert [genvis.values[k] for k in ("ytvis19/AP", "ytvis21/AP", "ovis/AP")] == [51.3, 46.3, 34.5]
    (mdqe,) = rows_by_name(a, "MDQE")
    assert mdqe.values["ytvis19/AP"] == NOT_REPORTED and mdqe.values["vspw/mIoU"] == NOT_CAPABLE
    (paot,) = rows_by_name(b, "PAOT", "R50")
    assert paot.values["viposeg/G"] == 75.4 and paot.values["davis17/J&F"] == NOT_CAPABLE
    t3a, t3b = load_tables(3)
    assert t3a.meta_columns == ["P→Q", "ProCA"] and t3b.meta_columns == ["Stage 3", "Tracker"]
    assert t3a.rows[0].values["ytvos18/G"] == NOT_CAPABLE and t3b.rows[2].values["refytvos/J&F"] == 56.2
    assert t3b.rows[0].meta == {"Stage 3": False, "Tracker": "Similarity"}
    md = "".join(render(x, "md") for x in t1)
    assert "Not available" not in md and "**Table 1(a). Category-specified VS models**" in md
    assert load_table("1b").part == "b"
    from univs_bench.report.tables import render_all
    rows = list(csv.DictReader(io.StringIO(render_all(t1, "csv"))))
    assert len(rows) == 20 and {r["table"] for r in rows} == {"1a", "1b"}
    assert next(r for r in rows if r["Method"] == "XMem")["davis17/J&F"] == "86.2"
    data = json.loads(render_all(t1, "json"))
    assert [p["table"] for p in data["parts"]] == ["1a", "1b"]
    with pytest.raises(InputError, match="parts"):
        load_table(1)
    with pytest.raises(InputError):
        load_table(7)


def _toy() -> Leaderboard:
    cols = [Column("a/x", "vos", "A", "x", "a", "x"), Column("b/J_decay", "vos", "B", "J_decay",
                                                             "b", "J_decay")]
    rows = [Row({"Method": "m1"}, {"a/x": 50.04, "b/J_decay": 3.0}, group="g1"),
            Row({"Method": "m2"}, {"a/x": 50.0, "b/J_decay": NOT_REPORTED}, group="g1"),
            Row({"Method": "m3"}, {"a/x": 99.0, "b/J_decay": 1.0}, group="g1", grey=True),
            Row({"Method": "m4"}, {"a/x": 10.0, "b/J_decay": NOT_CAPABLE}, group="g2")]
    return Leaderboard(table="toy", title="toy", columns=cols, rows=rows, meta_columns=["Method"])


def test_best_marking_toy_table():
    board = _toy()
    # ties at the printed precision are all marked; grey rows never; decay: lower is better
    assert best_cells(board, "group") == {(0, "a/x"), (1, "a/x"), (0, "b/J_decay"), (3, "a/x")}
    assert best_cells(board, "table") == {(0, "a/x"), (1, "a/x"), (0, "b/J_decay")}
    md = render(board, "md")
    assert "| m1 | **50.0** | **3.0** |" in md and "| m4 | **10.0** | - |" in md
    assert "| m3 † | _99.0_ | _1.0_ |" in md and "| m2 | **50.0** | * |" in md


def test_bootstrap_ci_contains_mean_and_is_deterministic():
    vals = [61.0, 72.5, 55.0, 80.0, 67.5, 70.0, 58.0, 75.0, None, float("nan")]
    a = bootstrap_ci(vals, seed=3)
    b = bootstrap_ci(vals, seed=3)
    mean = float(np.mean([v for v in vals[:8]]))
    assert a.n == 8 and a.estimate == pytest.approx(mean)
    assert a.low < mean < a.high and (a.low, a.high) == (b.low, b.high)
    assert (bootstrap_ci(vals, seed=4).low, bootstrap_ci(vals, seed=4).high) != (a.low, a.high)
    assert min(vals[:8]) <= a.low and a.high <= max(vals[:8])
    one = bootstrap_ci([42.0])
    assert one.low == one.high == 42.0


def test_paired_tests():
    rng = np.random.default_rng(0)
    base = rng.uniform(40, 80, size=30)
    better = base + rng.uniform(3, 6, size=30)
    for method in ("bootstrap", "permutation"):
        r = paired_test_values(better, base, method=method, n_boot=999, seed=1)
        assert r.delta > 3 and r.p_value <= 0.002 and r.low > 0
        same = paired_test_values(base, base, method=method, n_boot=999, seed=1)
        assert same.delta == 0 and same.p_value == 1.0
        noisy = paired_test_values(base + rng.normal(0, 1, 30), base, method=method, seed=2)
        assert noisy.p_value > 0.01
    with pytest.raises(InputError):
        paired_test_values([1.0, 2.0], [1.0], method="bootstrap")


def _davis_doc(per_object: dict[str, list[tuple[float, float]]]) -> dict:
    """A davis17 metrics.json as the evaluator writes it: per video, per object J and F (percent)."""
    js = [j for v in per_object.values() for j, _ in v]
    fs = [f for v in per_object.values() for _, f in v]
    jf = 100 * (np.mean(js) + np.mean(fs)) / 2
    return {"benchmark": "davis17", "task": None,
            "metrics": {"J&F": jf, "J_mean": 100 * np.mean(js), "F_mean": 100 * np.mean(fs)},
            "per_video": {v: {str(k + 1): {"J_mean": 100 * j, "F_mean": 100 * f}
                              for k, (j, f) in enumerate(o)} for v, o in per_object.items()}}


def test_metric_bootstrap_resamples_videos_with_their_objects():
    doc = _davis_doc({"a": [(0.8, 0.9), (0.6, 0.7)], "b": [(0.5, 0.4)], "c": [(0.9, 0.95)],
                      "d": [(0.7, 0.6), (0.2, 0.3), (0.4, 0.5)]})
    vs = video_statistics(doc)
    # hand-computed: drawing a twice and d twice -> objects of a and d twice each
    w = np.array([[2, 0, 0, 2]], float)
    want = 100 * (0.8 + 0.9 + 0.6 + 0.7 + 0.7 + 0.6 + 0.2 + 0.3 + 0.4 + 0.5) / 10
    assert vs.value(w)[0] == pytest.approx(want)
    assert vs.value(np.ones((1, 4)))[0] == pytest.approx(doc["metrics"]["J&F"])
    ci = bootstrap_metric(doc, seed=0)
    assert ci.estimate == pytest.approx(doc["metrics"]["J&F"])
    assert ci.low <= ci.estimate <= ci.high
    # a per-video number alone is not the metric: no interval, and the reason is given
    doc2 = {"benchmark": "vipseg", "metrics": {"VPQ": 40.0},
            "per_video": {"v1": {"VPQ": 30.0}, "v2": {"VPQ": 50.0}, "v3": {"VPQ": 45.0}}}
    with pytest.raises(InputError, match="re-run evaluate"):
        bootstrap_metric(doc2, seed=0)
    with pytest.raises(InputError, match="per_video"):
        bootstrap_metric({"benchmark": "mose", "metrics": {"J&F": 1.0}, "per_video": {}})
    one = _davis_doc({"a": [(0.8, 0.9)]})
    with pytest.raises(InputError, match="1 video"):
        bootstrap_metric(one)
    # statistics that do not reproduce the reported value give no interval
    bad = dict(doc, metrics={"J&F": 12.0})
    with pytest.raises(InputError, match="reported"):
        bootstrap_metric(bad)
    # a paired test on two metrics.json of the same videos
    worse = _davis_doc({"a": [(0.7, 0.8), (0.5, 0.6)], "b": [(0.4, 0.3)], "c": [(0.8, 0.85)],
                        "d": [(0.6, 0.5), (0.1, 0.2), (0.3, 0.4)]})
    p = paired_test(doc, worse, method="permutation", seed=0)
    # 4 videos: 2 of the 16 swap patterns are as extreme as the observed difference
    assert p.delta == pytest.approx(10.0) and p.p_value == pytest.approx(2 / 16, abs=0.03)
    assert paired_test(doc, worse, method="bootstrap", seed=0).p_value < 0.01


def _write(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


@pytest.fixture
def work_dir(tmp_path):
    wd = tmp_path / "work"
    a = _davis_doc({"a": [(0.8, 0.9)], "b": [(0.5, 0.4)], "c": [(0.9, 0.95)], "d": [(0.7, 0.6)]})
    a["model"] = {"name": "copy-first-frame", "backbone": "none", "joint_training": False,
                  "universal": False, "variant": {"memory": False}, "baseline": True}
    _write(wd / "copy" / "davis17" / "metrics.json", a)
    b = _davis_doc({"a": [(0.9, 0.9)], "b": [(0.6, 0.6)], "c": [(0.95, 0.95)], "d": [(0.8, 0.7)]})
    b["model"] = {"name": "tracker", "variant": {"memory": True}}
    _write(wd / "tracker" / "davis17" / "metrics.json", b)
    mose = dict(b, benchmark="mose")
    _write(wd / "tracker" / "mose" / "metrics.json", mose)
    (wd / "tracker" / "vspw").mkdir()  # a run in progress: no metrics.json yet
    return wd


def test_merge_measured_rows(work_dir):
    board = merge_measured(load_table(2), str(work_dir), ci=True)
    keys = [c.key for c in board.columns]
    # a measured benchmark not in the paper: a column after the paper's VOS columns
    assert keys.index("mose/J&F") == keys.index("ytvos18/G") + 1
    assert board.rows[0].values["mose/J&F"] == NOT_REPORTED
    (copy,) = rows_by_name(board, "copy-first-frame")
    (tracker,) = rows_by_name(board, "tracker")
    assert copy.measured and copy.values["davis17/J&F"] == pytest.approx((72.5 + 71.25) / 2)
    # a measured model that did not run a benchmark: n/r, not the paper's '*'
    assert copy.values["mose/J&F"] == NOT_RUN and copy.values["ytvis19/AP"] == NOT_RUN
    assert tracker.values["mose/J&F"] == pytest.approx(tracker.values["davis17/J&F"])
    assert copy.notes["davis17/J&F"].startswith("[") and "~" not in copy.notes["davis17/J&F"]
    md = render(board, "md")
    assert "*univs-bench (measured)*" in md and "| copy-first-frame (1) | none | ✗ | ✗ |" in md
    assert "(1) no provenance" in md  # these toy metrics.json say nothing of their data
    # measured rows have their own group: the paper's bold is unchanged
    assert "**85.2**" in md


def test_ablation_table(work_dir):
    from univs_bench.report.ablation import ablation_table
    board = ablation_table(str(work_dir), test=True, method="permutation")
    assert board.meta_columns == ["Variant", "memory"]
    (tr,) = [r for r in board.rows if r.meta["Variant"] == "tracker"]
    assert tr.notes["davis17/J&F"].startswith("(+") and "p=" in tr.notes["davis17/J&F"]
    md = render(board, "md")
    assert "| tracker (1) | ✓ |" in md and "| copy-first-frame (1) | ✗ |" in md


def test_bad_results_name_the_file(tmp_path):
    bad = tmp_path / "w" / "m" / "davis17" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(InputError, match="davis17/metrics.json"):
        load_results(tmp_path / "w")
    with pytest.raises(InputError, match="no such folder"):
        load_results(tmp_path / "nowhere")


def test_plots_html_and_commands(work_dir, tmp_path):
    from univs_bench.io.png import write_palette_png
    from univs_bench.report.plots import is_png
    out = tmp_path / "out"
    for fmt in ("md", "latex", "csv", "html"):
        assert report_command("2", str(work_dir), fmt, str(out / f"t2.{fmt}"), ci=False) == 0
    page = (out / "t2.html").read_text()
    assert '<table class="leaderboard"' in page and "<b>92.3</b>" in page
    assert page.count('src="data:image/png;base64,') == 2 and "copy-first-frame" in page
    assert "http://" not in page and "https://" not in page  # self-contained
    assert "92.3" in (out / "t2.md").read_text()
    assert report_command("ablation", str(work_dir), "md", str(out / "abl.md"), ci=True) == 0
    for plot in ("bars", "radar"):
        visualize_command(str(out / f"{plot}.png"), plot=plot, table="2", results=str(work_dir))
        assert is_png(out / f"{plot}.png")
    # a frame strip from a DAVIS-like layout: 3 frames of 8x8
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for t in range(3):
        g = np.zeros((8, 8), np.uint8)
        g[2:6, t:t + 3] = 1
        write_palette_png(gt / "Annotations" / "480p" / "seq" / f"{t:05d}.png", g)
        write_palette_png(pred / "seq" / f"{t:05d}.png", np.roll(g, 1, axis=0))
    visualize_command(str(out / "strip.png"), gt=str(gt), pred=str(pred), video="seq")
    assert is_png(out / "strip.png")
    with pytest.raises(InputError, match="seqx"):
        visualize_command(str(out / "x.png"), gt=str(gt), pred=str(pred), video="seqx")


def test_data_source_from_provenance(tmp_path):
    from univs_bench.report.leaderboard import data_source
    base = {"univs_bench": "0.1.0", "git_commit": "abc1234", "time": "2026-12-07T09:00:00+0000",
            "videos": 30}
    # runner without --data-root: its coarse string and the SynthConfig (seed)
    d = data_source({"provenance": dict(base, data_source="synthetic suite", synthetic={"seed": 3},
                                        data_root=str(tmp_path / "_synthetic" / "davis17"))})
    assert d["kind"] == "synthetic" and d["label"] == "synthetic suite (univs-bench synth, seed 3), 30 videos"
    assert d["code"] == "univs-bench 0.1.0 (git abc1234)" and d["date"] == "2026-12-07"
    # a dev split made by `univs-bench split`
    dev = tmp_path / "dev" / "mose"
    dev.mkdir(parents=True)
    (dev / "split_info.json").write_text(json.dumps({"seed": 0, "fraction": 0.1}))
    d = data_source({"provenance": dict(base, data_source="data root", data_root=str(dev),
                                        gt_sha256="f" * 64)})
    assert d["kind"] == "dev split" and "seed 0, fraction 0.1" in d["label"] and "sha256 ffffffffffff" in d["label"]
    # any other data root: named with its split and hash
    real = tmp_path / "real" / "davis17"
    real.mkdir(parents=True)
    d = data_source({"provenance": dict(base, data_source="data root", data_root=str(real), split="val",
                                        gt_sha256="a" * 64)})
    assert d["kind"] == "official val" and d["label"] == f"data root {real}, split val, 30 videos, sha256 aaaaaaaaaaaa"
    # evaluate --out JSON: the GT path and hash
    d = data_source({"per_video": {"a": {}, "b": {}}, "provenance": {"gt": "/x/DAVIS", "gt_sha256": "b" * 64}})
    assert d["kind"] == "files" and d["label"] == "GT /x/DAVIS, 2 videos, sha256 bbbbbbbbbbbb"
