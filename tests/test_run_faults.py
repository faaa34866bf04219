"""`univs-bench run` under faults: SIGKILL at many points (mid-write included) then resume,
two processes on one work dir, Ctrl-C; and what the logs say meanwhile."""
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from clitools import REPO, cli, popen

from univs_bench.io.atomic import find_temp_files
from univs_bench.io.zip import zip_folder

BENCHES = ["mose", "ytvis19", "burst", "refytvos"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults") / "data"
    r = cli(["synth", "--out", d, "--benchmarks", *BENCHES, "davis17", "--videos", "3", "--frames", "5",
             "--size", "48x64"], d.parent)
    assert r.returncode == 0, r.stderr
    return d


def _all_metrics(work: Path, name="gt_shifted"):
    return {b: json.loads((work / name / b / "metrics.json").read_text())["metrics"] for b in BENCHES}


def _debris(work: Path) -> list[str]:
    return [str(p) for p in work.rglob("*") if p.name.endswith((".tmp", ".univs-tmp")) or ".tmp." in p.name]


# A run that SIGKILLs itself at the N-th os.replace (a temp file written, not yet renamed: the
# moment an atomic write is cut), or while writing a zip member, or after K predicted videos.
KILLER = textwrap.dedent("""
    import os, signal, sys, zipfile
    mode, n = sys.argv[1], int(sys.argv[2])
    count = [0]
    def hit():
        count[0] += 1
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
    if mode == "replace":
        real = os.replace
        def replace(a, b):
            hit()
            return real(a, b)
        os.replace = replace
    elif mode == "zip":
        real_write = zipfile.ZipFile.write
        def write(self, *a, **k):
            r = real_write(self, *a, **k)
            self.fp.flush()
            hit()
            return r
        zipfile.ZipFile.write = write
    elif mode == "video":
        from univs_bench.models.zoo import ShiftedGT
        real_pred = ShiftedGT.predict_video
        def predict(self, *a):
            hit()
            return real_pred(self, *a)
        ShiftedGT.predict_video = predict
    from univs_bench.cli import main
    sys.exit(main(sys.argv[3:]))
""")


def test_sigkill_anywhere_then_resume_gives_identical_metrics_no_debris_exact_zips(tmp_path, data):
    args = ["run", "--model", "gt_shifted", "--data-root", data, "--benchmarks", *BENCHES]
    ref = cli([*args, "--work-dir", "ref"], tmp_path)
    assert ref.returncode == 0, ref.stderr
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    killed, debris_seen, cleaned = 0, 0, 0
    # each run resumes the previous one and is killed a little further on
    for mode, n in [("replace", 2), ("video", 2), ("replace", 4), ("zip", 2), ("replace", 4), ("video", 3),
                    ("replace", 6), ("zip", 3), ("replace", 5), ("replace", 8)]:
        r = subprocess.run([sys.executable, str(script), mode, str(n), *args, "--work-dir", "w"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=300)
        if r.returncode == -signal.SIGKILL:
            killed += 1
            debris_seen += bool(find_temp_files(tmp_path / "w"))
        cleaned += "temporary file(s) left by an interrupted run" in r.stderr
    assert killed >= 6 and debris_seen >= 4 and cleaned >= 3, (killed, debris_seen, cleaned)
    r = cli([*args, "--work-dir", "w"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert _all_metrics(tmp_path / "w") == _all_metrics(tmp_path / "ref")
    assert _debris(tmp_path / "w") == []
    for b in ("mose", "refytvos"):
        got = sorted(zipfile.ZipFile(tmp_path / "w/gt_shifted" / b / "pred.zip").namelist())
        assert got == sorted(zipfile.ZipFile(tmp_path / "ref/gt_shifted" / b / "pred.zip").namelist())
        assert got and all(re.fullmatch(r"Annotations/[0-9a-f]+/(\d+/)?\d{5}\.png", m) for m in got), got[:3]
    assert zipfile.ZipFile(tmp_path / "w/gt_shifted/ytvis19/pred.zip").namelist() == ["results.json"]


def test_zips_hold_only_the_official_files(tmp_path):
    src = tmp_path / "pred"
    (src / "v1").mkdir(parents=True)
    for name in ("00000.png", ".00001.png.ab12.univs-tmp", ".DS_Store", "notes.txt"):
        (src / "v1" / name).write_bytes(b"x")
    (src / ".hidden").mkdir()
    (src / ".hidden/00000.png").write_bytes(b"x")
    zip_folder(src, tmp_path / "pred.zip", arc_root="Annotations", suffixes=(".png",))
    assert zipfile.ZipFile(tmp_path / "pred.zip").namelist() == ["Annotations/v1/00000.png"]
    assert find_temp_files(tmp_path) == [src / "v1/.00001.png.ab12.univs-tmp"]


HOLDER = textwrap.dedent("""
    import sys, time
    from univs_bench.io.lock import work_dir_lock
    with work_dir_lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.readline()
""")


def _holder(tmp_path, work):
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(work)], cwd=tmp_path, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.stdout.readline().strip() == "locked"
    return p


def test_a_second_run_into_a_locked_work_dir_is_refused_or_waits_and_dead_holders_are_taken_over(tmp_path, data):
    args = ["run", "--model", "gt", "--data-root", data, "--benchmarks", "davis17", "--work-dir", "w"]
    holder = _holder(tmp_path, tmp_path / "w")
    r = cli(args, tmp_path)
    assert r.returncode == 2
    line = r.stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"univs-bench run: error: w is in use by pid {holder.pid} on {re.escape(socket.gethostname())}"
                        r" since \S+ \(.*\); wait for it to finish, pass --wait, or use another --work-dir", line), line
    assert not (tmp_path / "w/gt").exists()
    # --wait: blocks until the holder leaves, then runs
    waiter = popen([*args, "--wait"], tmp_path)
    ready, _, _ = select.select([waiter.stderr], [], [], 120)
    first = waiter.stderr.readline() if ready else ""
    assert first.startswith(f"waiting for w: in use by pid {holder.pid} on "), first
    time.sleep(1)
    assert waiter.poll() is None  # still waiting
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(timeout=30)
    out, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 0 and "[davis17] done J&F=100.00" in err, err
    # a holder killed with SIGKILL leaves its record; the next run takes the lock over
    holder = _holder(tmp_path, tmp_path / "w")
    holder.kill()
    holder.wait()
    r = cli([*args, "--force"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"w: taking over the lock of pid {holder.pid} on" in r.stderr and "which is gone" in r.stderr


def test_concurrent_runs_into_one_work_dir_all_succeed_with_the_same_numbers(tmp_path):
    args = ["run", "--model", "gt_shifted", "--benchmarks", "mose", "ytvis19", "--synth-videos", "2",
            "--synth-frames", "5", "--work-dir", "w", "--wait"]
    procs = [popen(args, tmp_path) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outs]
    assert sum("[mose] done " in e for _, e in outs) == 1 and sum("[mose] reused " in e for _, e in outs) == 2
    assert _debris(tmp_path / "w") == []


# --------------------------------------------------------------------------- logs: progress, resume, Ctrl-C
SLOW = textwrap.dedent("""
    import time
    from univs_bench.models.zoo import FirstFrameCopy
    from univs_bench.registry import BENCHMARK_MODELS

    @BENCHMARK_MODELS.register_module("slow_copy")
    class SlowCopy(FirstFrameCopy):
        \"\"\"first_frame_copy at 0.25 s a video.\"\"\"
        def predict_video(self, item, meta, bench):
            time.sleep(0.25)
            import torch
            self.threads = torch.get_num_threads()
            return super().predict_video(item, meta, bench)
""")


def test_progress_lines_resume_announcement_and_ctrl_c_hint(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW)
    args = ["run", "--plugin", "slow.py", "--model", "slow_copy", "--benchmarks", "davis17", "--synth-videos", "12",
            "--synth-frames", "3"]
    p = popen(args, tmp_path)
    deadline = time.time() + 120
    err = ""
    while time.time() < deadline:  # wait for the first progress line (stderr is a pipe, not a TTY)
        line = p.stderr.readline()
        err += line
        if re.match(r"\[davis17\] 5/12 videos \(\d+\.\d s, ~\d+ s left\)", line):
            break
    p.send_signal(signal.SIGINT)
    _, rest = p.communicate(timeout=60)
    err += rest
    assert p.returncode == 130, err
    m = re.search(r"univs-bench run: interrupted after [\d.]+s; davis17: (\d+)/12 videos saved under "
                  r"work_dirs/slow_copy/davis17; rerun the same command to resume", err)
    assert m, err
    saved = int(m.group(1))
    assert 5 <= saved < 12
    r = cli(args + ["--threads", "2"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"[davis17] resuming: {saved}/12 videos done" in r.stderr
    assert re.search(r"^\[davis17\] done J&F=\d+\.\d\d \(\d+\.\d s\)$", r.stderr, re.M)
    assert "next: univs-bench report --results work_dirs" in r.stdout
    assert re.search(r"^davis17 +vos +\d+\.\d\d +J_mean=\d+\.\d\d  F_mean=\d+\.\d\d$", r.stdout, re.M), r.stdout
    # `--threads 2` reached torch; without it and without OMP_NUM_THREADS: half the cores, at most 4
    rec = json.loads((tmp_path / "work_dirs/slow_copy/davis17/metrics.json").read_text())
    assert rec["provenance"]["threads"] == 2
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    code = ("import sys; sys.argv=['x']; import torch; from univs_bench.cli import _set_threads; _set_threads(None); "
            "print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(REPO)}, capture_output=True,
                         text=True).stdout
    assert int(out) == max(1, min(4, (os.cpu_count() or 2) // 2))
