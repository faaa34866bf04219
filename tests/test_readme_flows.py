"""The README's flows (your data, a competitor's files, a plug-in model, then report) run exactly
as written, line by line, in a fresh folder."""
import json
import os
import re
import subprocess
import sys

from clitools import REPO, code_block


def test_readme_flow_runs_as_written(tmp_path):
    lines = [ln for ln in code_block((REPO / "README.md").read_text(), "sh").splitlines() if ln.strip()]
    assert any("--model results" in ln for ln in lines) and any("--plugin" in ln for ln in lines)
    # `univs-bench` on PATH runs this checkout; the doc's model saved as the README says
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "univs-bench"
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} -m univs_bench.cli "$@"\n')
    exe.chmod(0o755)
    (tmp_path / "colour_model.py").write_text(code_block((REPO / "docs/adding_a_model.md").read_text()))
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO),
           "OMP_NUM_THREADS": "1"}
    outs = []
    for ln in lines:
        r = subprocess.run(["bash", "-c", ln], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (ln, r.stderr)
        outs.append(r)
    work = tmp_path / "work_dirs"
    for name, benches in (("first_frame_copy", ["davis17", "ytvis19", "mose"]), ("competitor", ["davis17", "ytvis19"]),
                          ("colour_propagation", ["davis17", "mose"])):
        for b in benches:
            rec = json.loads((work / name / b / "metrics.json").read_text())
            assert rec["metrics"] is not None and rec["provenance"]["data_root"] == str(tmp_path / "data" / b)
    # the competitor (our baseline's files) scores what the baseline scored
    for b in ("davis17", "ytvis19"):
        assert json.loads((work / "competitor" / b / "metrics.json").read_text())["metrics"] == \
            json.loads((work / "first_frame_copy" / b / "metrics.json").read_text())["metrics"]
    run = outs[1]
    assert re.search(r"^\[davis17\] done J&F=\d+\.\d\d \(\d+\.\d s\)$", run.stderr, re.M)
    assert "next: univs-bench report --results work_dirs" in run.stdout
    report = outs[-1].stdout
    for name in ("first_frame_copy", "competitor", "colour_propagation"):
        assert re.search(rf"^\| {name} \(\d+\) \|", report, re.M), report  # (n): its data-source note
