#!/usr/bin/env python
"""Peak memory of `univs-bench evaluate` does not grow with the number of videos.

For each benchmark, writes the synthetic suite twice (N and 4N videos per split, same frame
count and size), scores the GT against itself in a fresh process, and reports that process's
peak RSS. Bounded per-video state means the two peaks are close; a leak across videos would
show as growth proportional to the extra videos.

    .venv/bin/python benchmarks/bench_memory.py --videos 4 --frames 12 --size 240x427
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCHMARKS = ["davis17", "vspw", "vipseg", "ytvis21", "burst", "viposeg"]


def gt_as_pred(bench: str, root: Path, out: Path) -> tuple[str, str, list[str]]:
    """--gt, --pred and extra args of the GT scored against itself (prediction layout by copying)."""
    from univs_bench.benchmarks import get_benchmark
    from univs_bench.data_converters import bench_data, build_writer
    from univs_bench.models.zoo import GroundTruthModel
    from univs_bench.registry import CONVERTERS

    spec = bench_data(bench)
    CONVERTERS.import_from_location()
    conv = CONVERTERS.build(dict(type=spec.converter[0], **spec.converter[1]))
    ann = conv.load(str(root / spec.data), spec.split)
    writer = build_writer(spec)
    writer.open(out)
    model, b = GroundTruthModel(), get_benchmark(bench)
    for item in ann.data_list:
        writer.write_video(model.predict_video(item, ann.metainfo, b), ann.metainfo)
    writer.close()
    extra = ["--task", "exemplar_guided"] if bench == "burst" else []
    return str(root / spec.gt), str(writer.eval_target()), extra


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak RSS (MiB) of a command, by GNU time (a forked child's ru_maxrss would count the
    parent's pages at fork time)."""
    timer = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    if timer is None:
        raise SystemExit("needs GNU time (apt-get install time)")
    out = subprocess.run([timer, "-f", "%M"] + cmd, check=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--factor", type=int, default=4)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", default="240x427")
    ap.add_argument("--benchmarks", nargs="+", default=BENCHMARKS)
    ap.add_argument("--one", nargs=2, metavar=("BENCH", "VIDEOS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    h, w = (int(v) for v in args.size.split("x"))
    from univs_bench.synthetic import SynthConfig, write_suite

    if args.one:  # child mode: one benchmark at one size, prints its peak
        bench, n = args.one[0], int(args.one[1])
        tmp = Path(tempfile.mkdtemp(prefix="memb_"))
        try:
            write_suite(str(tmp / "s"), benchmarks=[bench], cfg=SynthConfig(videos=n, frames=args.frames, size=(h, w)))
            gt, pred, extra = gt_as_pred(bench, tmp / "s" / bench, tmp / "pred")
            cli = [sys.executable, "-m", "univs_bench.cli", "evaluate", bench, "--gt", gt, "--pred", pred] + extra
            print(f"{peak_rss_mb(cli):.1f}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return 0

    print(f"{'benchmark':10s} {'videos':>7s} {'peak MiB':>9s} {'videos':>7s} {'peak MiB':>9s}")
    for bench in args.benchmarks:
        peaks = []
        for n in (args.videos, args.videos * args.factor):
            out = subprocess.run([sys.executable, __file__, "--one", bench, str(n), "--frames", str(args.frames),
                                  "--size", args.size], capture_output=True, text=True, check=True,
                                 env=dict(os.environ, UNIVS_BENCH_NO_PROGRESS="1"))
            peaks.append(float(out.stdout.strip().splitlines()[-1]))
        print(f"{bench:10s} {args.videos:7d} {peaks[0]:9.1f} {args.videos * args.factor:7d} {peaks[1]:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
