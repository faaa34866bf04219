"""Two CPU processes (gloo) shard the videos and give the same metrics as one process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, env=None):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)



def _free_port() -> int:
    """A port nobody listens on now (a fixed one collides with concurrent test runs)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_run_matches_one_process(tmp_path):
    pytest.importorskip("torch")
    common = ["--model", "gt_shifted", "--benchmarks", "davis17", "ytvis19", "burst",
              "--synth-videos", "3", "--synth-frames", "6"]
    one = _run([sys.executable, "-m", "univs_bench.cli", "run", "--work-dir", str(tmp_path / "one")] + common)
    assert one.returncode == 0, one.stderr[-2000:]
    env = dict(os.environ, OMP_NUM_THREADS="1", PORT=str(_free_port()), PYTHON=sys.executable)
    two = _run(["bash", "tools/dist_run.sh", "2", "--work-dir", str(tmp_path / "two")] + common, env=env)
    assert two.returncode == 0, two.stderr[-3000:]
    for bench in ("davis17", "ytvis19", "burst"):
        a = json.loads((tmp_path / "one" / "gt_shifted" / bench / "metrics.json").read_text())
        b = json.loads((tmp_path / "two" / "gt_shifted" / bench / "metrics.json").read_text())
        assert a["metrics"] == b["metrics"], bench
        assert a["per_video"].keys() == b["per_video"].keys()
