"""Speed of the davis17 evaluator against davis2017-evaluation and vos-benchmark (not a test).

Generates a DAVIS-size case (default 30 sequences x 70 frames at 480x854, 1-4 moving
ellipses per sequence, predictions = perturbed GT), then times, each in one process:

- univs-bench: ``univs_bench.evaluators.vos.evaluate_files('davis17', ...)``, workers=1;
- davis2017-evaluation: ``DAVISEvaluation(root, 'semi-supervised', 'val', codalab=True)``
  from a checkout given by ``--davis-eval`` (run with ``--davis-python``);
- vos-benchmark: ``vos_benchmark.benchmark.benchmark([...], [...], num_processes=1)`` with the
  interpreter given by ``--vosb-python`` (a venv where ``pip install vos-benchmark`` ran).

Third-party tools run from their own folders in subprocesses; nothing of theirs is imported
here. Example::

    python benchmarks/bench_vos.py --work /tmp/bench_vos \
        --davis-eval /tmp/off/davis2017-evaluation --vosb-python /tmp/vosb_venv/bin/python
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

_DAVIS_SNIPPET = r"""
import sys, time, json, io, contextlib, warnings
warnings.filterwarnings('ignore')
sys.path.insert(0, sys.argv[1])
import numpy as np
from davis2017.evaluation import DAVISEvaluation
t = time.perf_counter()
with contextlib.redirect_stderr(io.StringIO()):
    m = DAVISEvaluation(sys.argv[2], 'semi-supervised', 'val', codalab=True).evaluate(sys.argv[3])
dt = time.perf_counter() - t
J, F = m['J'], m['F']
print(json.dumps({'seconds': dt, 'J&F': 50 * (np.mean(J['M']) + np.mean(F['M'])),
                  'J_mean': 100 * np.mean(J['M']), 'F_mean': 100 * np.mean(F['M'])}))
"""

_VOSB_SNIPPET = r"""
import sys, time, json, io, contextlib
from vos_benchmark.benchmark import benchmark
t = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    jf, j, f, _ = benchmark([sys.argv[1]], [sys.argv[2]], num_processes=1, verbose=False)
dt = time.perf_counter() - t
print(json.dumps({'seconds': dt, 'J&F': float(jf[0]), 'J_mean': float(j[0]), 'F_mean': float(f[0])}))
"""


def make_case(root: Path, n_seq: int, n_frames: int, h: int, w: int, seed: int) -> tuple[Path, Path]:
    """Write GT (DAVIS layout) and predictions; return (gt_root, pred_root)."""
    import cv2

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from univs_bench.io.png import write_palette_png

    gt, pred = root / "gt", root / "pred"
    if (root / "done").exists():
        return gt, pred
    rng = np.random.default_rng(seed)
    names = [f"seq{s:02d}" for s in range(n_seq)]
    for name in names:
        k = int(rng.integers(1, 5))
        objs = [(rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h, rng.uniform(20, w / 6),
                 rng.uniform(20, h / 5), rng.uniform(-2, 2), rng.uniform(-2, 2)) for _ in range(k)]
        for t in range(n_frames):
            g = np.zeros((h, w), np.uint8)
            p = np.zeros((h, w), np.uint8)
            for i, (cx, cy, ax, ay, vx, vy) in enumerate(objs):
                c = (int(cx + vx * t), int(cy + vy * t))
                cv2.ellipse(g, c, (int(ax), int(ay)), 10.0 * i, 0, 360, i + 1, -1)
                if rng.random() < 0.95:
                    d = rng.integers(-6, 7, 2)
                    cv2.ellipse(p, (c[0] + int(d[0]), c[1] + int(d[1])),
                                (int(ax * rng.uniform(0.85, 1.15)), int(ay * rng.uniform(0.85, 1.15))),
                                10.0 * i + float(rng.uniform(-8, 8)), 0, 360, i + 1, -1)
            write_palette_png(gt / "Annotations" / "480p" / name / f"{t:05d}.png", g)
            write_palette_png(pred / name / f"{t:05d}.png", p)
    (gt / "ImageSets" / "2017").mkdir(parents=True, exist_ok=True)
    (gt / "ImageSets" / "2017" / "val.txt").write_text("\n".join(names) + "\n")
    (root / "done").write_text("ok")
    return gt, pred


def run_ours(gt: Path, pred: Path, repeat: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from univs_bench.evaluators.vos import evaluate_files

    best, res = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        res = evaluate_files("davis17", str(gt), str(pred), workers=1)
        best = min(best, time.perf_counter() - t)
    return {"seconds": best, **{k: res.metrics[k] for k in ("J&F", "J_mean", "F_mean")}}


def run_snippet(python: str, snippet: str, args: list[str]) -> dict:
    out = subprocess.run([python, "-c", snippet, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/bench_vos", help="folder for the generated case")
    ap.add_argument("--sequences", type=int, default=30)
    ap.add_argument("--frames", type=int, default=70)
    ap.add_argument("--size", default="480x854", help="HxW")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="best of N for univs-bench")
    ap.add_argument("--davis-eval", help="davis2017-evaluation checkout (folder holding davis2017/)")
    ap.add_argument("--davis-python", default=sys.executable)
    ap.add_argument("--vosb-python", help="python of a venv with vos-benchmark installed")
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.lower().split("x"))
    gt, pred = make_case(Path(args.work), args.sequences, args.frames, h, w, args.seed)
    rows = {"univs-bench": run_ours(gt, pred, args.repeat)}
    if args.davis_eval:
        rows["davis2017-evaluation"] = run_snippet(args.davis_python, _DAVIS_SNIPPET,
                                                   [args.davis_eval, str(gt), str(pred)])
    if args.vosb_python:
        rows["vos-benchmark"] = run_snippet(args.vosb_python, _VOSB_SNIPPET,
                                            [str(gt / "Annotations" / "480p"), str(pred)])
    ours = rows["univs-bench"]["seconds"]
    print(f"case: {args.sequences} sequences x {args.frames} frames at {h}x{w}, single process")
    print(f"{'tool':<22}{'seconds':>9}{'speed-up':>10}{'J&F':>10}{'J':>9}{'F':>9}")
    for name, r in rows.items():
        print(f"{name:<22}{r['seconds']:>9.2f}{r['seconds'] / ours:>9.1f}x"
              f"{r['J&F']:>10.4f}{r['J_mean']:>9.4f}{r['F_mean']:>9.4f}")


if __name__ == "__main__":
    main()
