#!/usr/bin/env python
"""`make demo`: the main job on the built-in synthetic suite.

1. writes the synthetic suite (all twelve benchmarks, official layouts) into OUT/work/_synthetic;
2. `univs-bench run` for each demo model over all twelve benchmarks (resumable: a rerun only
   does what is missing);
3. trains univs_tiny on the synthetic suite (a few CPU minutes, cached) and runs it, when the
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
    from univs_bench.runner import Runner, summary_table

    out = Path(args.out)
    work = out / "work"
    t0 = time.time()
    models = list(args.models)
    if not args.no_univs:
        models += _univs_tiny(work)
    for name in models:
        print(f"\n=== {name} ===", flush=True)
        runner = Runner(name, work_dir=str(work))
        results = runner.run(list(BENCHMARKS.values()))
        print(summary_table(results), flush=True)

    from univs_bench.report.commands import report_command
    report_command("2", str(work), "md", str(out / "leaderboard.md"), False)
    report_command("2", str(work), "html", str(out / "report.html"), True)
    print(f"\nleaderboard: {out / 'leaderboard.md'}\nreport:      {out / 'report.html'}")
    print(f"demo finished in {time.time() - t0:.0f}s")
    return 0


def _univs_tiny(work: Path) -> list[str]:
    """Train univs_tiny once (cached checkpoint) and return ['univs_tiny'], or [] if unavailable."""
    try:
        from univs_bench.models.univs_zoo import ensure_tiny_checkpoint  # noqa: F401
    except ImportError as e:
        print(f"(univs_tiny skipped: {e})", file=sys.stderr)
        return []
    ensure_tiny_checkpoint(str(work))
    return ["univs_tiny"]


if __name__ == "__main__":
    sys.exit(main())
