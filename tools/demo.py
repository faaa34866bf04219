#!/usr/bin/env python
"""`make demo`: the main job on the built-in synthetic suite.

1. writes the synthetic suite (all twelve benchmarks, official layouts) into OUT/work/_synthetic;
2. `univs-bench run` for each demo model over all twelve benchmarks (resumable: a rerun only
   does what is missing);
3. trains univs_tiny on the synthetic train splits (configs/univs/univs_tiny_demo.py, a few CPU
   minutes on one thread, cached in OUT/work/univs_tiny_train/) and runs it, when the
   UniVS training and inference pieces are installed (--no-univs skips it);
4. writes the leaderboard (OUT/leaderboard.md) and the HTML report with plots (OUT/report.html).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BASELINES = ["first_frame_copy", "gt_shifted", "gt_swapped"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="demo_out")
    ap.add_argument("--models", nargs="+", default=BASELINES)
    ap.add_argument("--no-univs", action="store_true", help="skip training and running univs_tiny")
    args = ap.parse_args(argv)

    from univs_bench.benchmarks import BENCHMARKS
    from univs_bench.io.lock import work_dir_lock
    from univs_bench.runner import Runner, summary_table
    out = Path(args.out)
    work = out / "work"
    with work_dir_lock(work, wait=True):  # one demo (or run) at a time in this work dir
        return _demo(args, out, work, Runner, summary_table, BENCHMARKS)


def _demo(args, out: Path, work: Path, Runner, summary_table, BENCHMARKS) -> int:
    t0 = time.time()
    models = list(args.models)
    model_cfgs: dict[str, dict] = {}
    if not args.no_univs:
        ckpt = _univs_tiny(work)
        if ckpt:
            models.append("univs_tiny")
            model_cfgs["univs_tiny"] = {"checkpoint": ckpt}
            import torch
            torch.set_num_threads(1)  # the tiny model runs far faster on one thread than on several
    failed: dict[str, str] = {}
    for name in models:
        print(f"\n=== {name} ===", flush=True)
        t1 = time.time()
        runner = Runner(name, work_dir=str(work), model_cfg=model_cfgs.get(name))
        results = runner.run(list(BENCHMARKS.values()))
        print(summary_table(results), flush=True)
        print(f"({name}: {time.time() - t1:.0f}s)", flush=True)
        failed.update({f"{name}/{k}": r["error"] for k, r in results.items() if r.get("error")})

    from univs_bench.report.commands import report_command
    report_command("2", str(work), "md", str(out / "leaderboard.md"), False)
    report_command("2", str(work), "html", str(out / "report.html"), True)
    print(f"\nleaderboard: {out / 'leaderboard.md'}\nreport:      {out / 'report.html'}")
    print(f"demo finished in {time.time() - t0:.0f}s")
    from univs_bench.runner import print_failures
    return print_failures("demo", failed)


def _univs_tiny(work: Path) -> str | None:
    """Train univs_tiny once (cached in WORK/univs_tiny_train/) and return its checkpoint, or
    None when the training pieces are unavailable."""
    try:
        from univs_bench.models.univs_zoo import ensure_tiny_checkpoint
    except ImportError as e:
        print(f"(univs_tiny skipped: {e})", file=sys.stderr)
        return None
    print("\n=== training univs_tiny (configs/univs/univs_tiny_demo.py, cached) ===", flush=True)
    t0 = time.time()
    ckpt = ensure_tiny_checkpoint(str(work))
    print(f"univs_tiny checkpoint: {ckpt} ({time.time() - t0:.0f}s)", flush=True)
    return ckpt


if __name__ == "__main__":
    sys.exit(main())
