"""The researcher's flow around reports: run -> report defaults, evaluate's API, CSV and summary."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from univs_bench.cli import main
from univs_bench.errors import InputError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    from univs_bench.synthetic import write_suite
    root = tmp_path_factory.mktemp("wf")
    write_suite(str(root / "s"), benchmarks=["davis17", "vspw", "refdavis17", "mose", "burst"])
    return root / "s"


def test_python_api_without_torch(suite):
    code = ("import sys; from univs_bench import evaluate; "
            f"r = evaluate('davis17', {str(suite / 'davis17' / 'DAVIS')!r}, "
            f"{str(suite / 'davis17' / 'DAVIS' / 'Annotations' / '480p')!r}); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(r.metrics['J&F'], len(r.per_video))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    jf, n = out.stdout.split()
    assert float(jf) == 100.0 and int(n) >= 2  # GT scored against itself


def test_evaluate_csv_and_summary_line(suite, tmp_path, capsys):
    gt = suite / "refdavis17" / "DAVIS"
    # the GT's own masks as a prediction of every expression set
    import shutil
    pred = tmp_path / "pred"
    for a in range(4):
        shutil.copytree(gt / "Annotations_unsupervised" / "480p", pred / f"anno_{a}")
    assert main(["evaluate", "refdavis17", "--gt", str(gt), "--pred", str(pred),
                 "--csv", str(tmp_path / "pv.csv")]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("univs-bench: ")]
    assert len(lines) == 1 and lines[0].startswith("univs-bench: refdavis17 J&F=")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "pv.csv").read_text())))
    assert {r["anno_set"] for r in rows} == {"anno_0", "anno_1", "anno_2", "anno_3"}
    assert rows and all(r["object"] and r["video"] for r in rows)  # one row per object
    assert {"J_mean", "F_mean"} <= set(rows[0])
    # an alias or another case names the benchmark as `list benchmarks` does, in every output
    assert main(["evaluate", "RefDAVIS", "--gt", str(gt), "--pred", str(pred), "--out", str(tmp_path / "e.json"),
                 "--csv", str(tmp_path / "pv2.csv")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("refdavis17\n") and "univs-bench: refdavis17 J&F=" in out
    assert json.loads((tmp_path / "e.json").read_text())["benchmark"] == "refdavis17"
    assert {r["benchmark"] for r in csv.DictReader(io.StringIO((tmp_path / "pv2.csv").read_text()))} == {"refdavis17"}


def _run(model, work, suite, names=("davis17", "vspw")):
    from univs_bench.benchmarks import get_benchmark
    from univs_bench.runner import Runner
    Runner(model, work_dir=str(work), data_root=str(suite), progress=False).run(
        [get_benchmark(b) for b in names])


def test_report_finds_runs_results_and_says_when_nothing_is_there(suite, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--table", "2"]) == 0  # no ./work_dirs: the paper's rows only
    assert "univs-bench (measured)" not in capsys.readouterr().out
    (tmp_path / "work_dirs").mkdir()
    assert main(["report", "--table", "2"]) == 2  # an empty work dir is an error naming it
    assert "work_dirs" in capsys.readouterr().err
    _run("first_frame_copy", tmp_path / "work_dirs", suite, ("davis17",))
    assert main(["report", "--table", "2"]) == 0  # run's default work dir, found by default
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("| first_frame_copy"))
    assert "n/r" in line and " * " not in line  # not run, rather than "not reported"
    assert "synthetic suite (univs-bench synth)" in out and "univs-bench 0.1.0" in out
    # the path run prints, WORK/<model>, is one model's folder
    assert main(["report", "--table", "2", "--results", "work_dirs/first_frame_copy"]) == 0
    assert "| first_frame_copy (1) |" in capsys.readouterr().out


def test_report_html_is_not_dumped_to_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["report", "--format", "html"]) == 2
    assert "--out" in capsys.readouterr().err


def test_ablation_plots_name_variants_and_keep_colours(suite, tmp_path):
    from univs_bench.report.ablation import ablation_table
    from univs_bench.report.commands import build_board, plot_rows
    from univs_bench.report.plots import radar_scores, row_colors, row_label
    work = tmp_path / "abl"
    for model in ("gt_shifted", "gt_swapped", "first_frame_copy"):
        _run(model, work, suite, ("davis17", "vspw", "refdavis17"))
    board = ablation_table(str(work))
    labels = [row_label(r) for r in board.rows]
    assert labels == ["first_frame_copy", "gt_shifted", "gt_swapped"]
    scores, tasks, _ = radar_scores(board, board.rows)
    assert list(scores) == labels and tasks == ["vss", "vos", "refvos"]  # one polygon each
    # a model keeps its colour whatever else is plotted beside it
    t2 = build_board(2, str(work))
    rows = plot_rows(t2)
    cols = row_colors(rows)
    assert len(set(map(tuple, cols.values()))) == len(cols)
    # Table 2's radar averages, per task, the paper's benchmarks only, for every row alike
    s2, _, used = radar_scores(t2, rows)
    assert "MOSE" not in used and s2["gt_shifted [measured]"]["vos"] is None  # YT18 not run
    with pytest.raises(InputError):
        build_board(2, str(tmp_path / "none"))


def test_vspw_strip_same_colour_for_same_class(suite, tmp_path):
    """VSPW GT (1..124) and 0-based predictions: a correct prediction looks identical."""
    from PIL import Image

    from univs_bench.evaluators.functional.vss import shift_vspw_labels
    from univs_bench.io.png import read_label_png, write_palette_png
    from univs_bench.report.commands import _GT_SUBDIRS, _find_dir, visualize_command
    from univs_bench.report.plots import _colorize
    root = suite / "vspw" / "VSPW_480p"
    video = (root / "val.txt").read_text().split()[0]
    gdir = _find_dir(str(root), video, _GT_SUBDIRS, "--gt")
    pred = tmp_path / "pred" / video
    for f in sorted(gdir.glob("*.png")):
        raw = read_label_png(f)
        g = shift_vspw_labels(raw)
        write_palette_png(pred / f.name, np.where(g == 255, 0, g).astype(np.uint8))  # a perfect one
    visualize_command(str(tmp_path / "strip.png"), gt=str(root), pred=str(tmp_path / "pred"),
                      video=video, max_frames=2)
    im = np.asarray(Image.open(tmp_path / "strip.png").convert("RGB"))
    assert im.shape[0] > 100
    # the GT and prediction rows hold the same colours wherever the GT is not void
    g = shift_vspw_labels(read_label_png(sorted(gdir.glob("*.png"))[0]))
    p = read_label_png(sorted(pred.glob("*.png"))[0])
    same = (_colorize(None, g, 0.55, True) == _colorize(None, p, 0.55, True)).all(-1)
    assert same[g != 255].all() and (g != 255).any()
    # unshifted, the raw GT would not match: the shift is what makes the colours agree
    raw = read_label_png(sorted(gdir.glob("*.png"))[0])
    assert not (_colorize(None, raw, 0.55, True) == _colorize(None, p, 0.55, True)).all(-1)[g != 255].all()


def test_vis_strip_from_json(tmp_path):
    """YouTube-VIS strips: GT and predicted tracks coloured by category; unknown videos listed."""
    from univs_bench.report.commands import visualize_command
    from univs_bench.report.plots import is_png
    from univs_bench.synthetic import write_suite
    write_suite(str(tmp_path / "s"), benchmarks=["ytvis19"])
    gt = tmp_path / "s" / "ytvis19" / "valid_full" / "valid.json"
    doc = json.loads(gt.read_text())
    res = [{"video_id": a["video_id"], "category_id": a["category_id"], "score": 1.0,
            "segmentations": a["segmentations"]} for a in doc["annotations"]]
    (tmp_path / "results.json").write_text(json.dumps(res))
    visualize_command(str(tmp_path / "vis.png"), gt=str(gt), pred=str(tmp_path / "results.json"))
    assert is_png(tmp_path / "vis.png")
    with pytest.raises(InputError, match="videos there: 1 "):
        visualize_command(str(tmp_path / "x.png"), gt=str(gt), pred=str(tmp_path / "results.json"),
                          video="nope")


def test_burst_column_sits_in_the_vos_group_and_names_its_sub_task(suite, tmp_path):
    from univs_bench.report.commands import build_board
    _run("first_frame_copy", tmp_path, suite, ("mose", "burst"))
    board = build_board(2, str(tmp_path))
    keys = [c.key for c in board.columns]
    burst = board.columns[keys.index("burst/HOTA_all")]
    assert burst.task == "vos" and "(exemplar)" in burst.benchmark_label
    # one VOS group: DAVIS, YT18, then the two extra VOS columns, before RefVOS
    assert [c.key for c in board.columns if c.task == "vos"][-2:] == ["mose/J&F", "burst/HOTA_all"]
    assert keys.index("burst/HOTA_all") == keys.index("mose/J&F") + 1
