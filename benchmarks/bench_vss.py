"""Speed of the VSPW evaluator (mIoU + mVC8 + mVC16) on a generated dataset, optionally against the
official VSPW_code scripts.

    .venv/bin/python benchmarks/bench_vss.py --out /tmp/vss_bench [--videos 20 --frames 30 --size 360x640]
        [--official /tmp/vspw_ref]

Writes a VSPW root (``data/<video>/mask/``, raw labels, ``val.txt``), the same GT shifted as the
official scripts expect it (``gt_shifted/``: 0 -> 255, v -> v - 1), and a prediction folder under
``--out``; times ``univs_bench.evaluators.vss.evaluate_files`` (one process) and, when ``--official``
names a throwaway folder holding ``evaluator_test.py``, ``utils.py`` and ``VC_perclip.py`` (fetched
from VSPW-dataset/VSPW_code, never part of this repository), times ``evaluator_test.py`` and
``VC_perclip.py`` for 16 and for 8 frames (a copy with ``clip_num=8`` written next to the data).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from univs_bench.evaluators.functional.vss import shift_vspw_labels
from univs_bench.io.png import write_grey_png, write_palette_png


def make_dataset(out: str, videos: int, frames: int, h: int, w: int, seed: int = 0) -> None:
    """Moving class blobs over class bands (with others/void); the prediction is shifted and noisy."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    names = [f"{v}_bench{v:03d}" for v in range(videos)]
    for name in names:
        bands = np.sort(rng.choice(np.arange(1, h), 3, replace=False))
        band_cls = rng.integers(1, 125, 4)
        blobs = [(int(rng.integers(1, 125)), rng.uniform(0, h), rng.uniform(0, w), rng.uniform(10, h / 4),
                  rng.uniform(10, w / 4), rng.normal(0, 2), rng.normal(0, 3)) for _ in range(int(rng.integers(3, 8)))]
        for t in range(frames):
            raw = np.repeat(band_cls[np.searchsorted(bands, np.arange(h), side="right")][:, None], w, axis=1)
            for c, cy, cx, ry, rx, vy, vx in blobs:
                raw[((yy - cy - vy * t) / ry) ** 2 + ((xx - cx - vx * t) / rx) ** 2 <= 1] = c
            raw[: h // 30] = 0
            raw[-h // 30:] = 255
            shift = (int(rng.integers(-3, 4)), int(rng.integers(-5, 6)))
            pred = np.roll(np.clip(raw.astype(np.int64) - 1, 0, 123), shift, axis=(0, 1))
            noise = rng.random((h, w)) < 0.01
            pred[noise] = rng.integers(0, 124, int(noise.sum()))
            fname = f"{t * 15:08d}.png"
            write_palette_png(os.path.join(out, "gt", "data", name, "mask", fname), raw)
            write_grey_png(os.path.join(out, "gt_shifted", "data", name, "mask", fname),
                           shift_vspw_labels(raw).astype(np.uint8))
            write_grey_png(os.path.join(out, "pred", name, fname), pred.astype(np.uint8))
    for d in ("gt", "gt_shifted"):
        with open(os.path.join(out, d, "val.txt"), "w") as f:
            f.write("".join(n + "\n" for n in names))


def run_official(ref: str, out: str) -> tuple[dict, dict]:
    """evaluator_test.py, VC_perclip.py (16) and its clip_num=8 copy on the shifted GT."""
    gt, pred = os.path.join(out, "gt_shifted"), os.path.join(out, "pred")
    with open(os.path.join(ref, "VC_perclip.py")) as f:
        vc8 = re.sub(r"^clip_num=16", "clip_num=8", f.read(), flags=re.MULTILINE)
    vc8_path = os.path.join(out, "VC8_official_copy.py")
    with open(vc8_path, "w") as f:
        f.write(vc8)
    metrics, seconds = {}, {}
    for key, script in (("miou", os.path.join(ref, "evaluator_test.py")), ("vc16", os.path.join(ref, "VC_perclip.py")),
                        ("vc8", vc8_path)):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, script, gt, pred], cwd=ref, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": ref})
        seconds[key] = time.perf_counter() - t0
        if key == "miou":
            m = re.search(r"Acc:(\S+), Acc_class:(\S+), mIoU:(\S+), fwIoU: (\S+)", r.stdout)
            metrics.update(pixel_acc=100 * float(m[1]), mean_class_acc=100 * float(m[2]), mIoU=100 * float(m[3]),
                           fwIoU=100 * float(m[4]))
        else:
            metrics["mVC" + key[2:]] = 100 * float(re.search(r"VC\d+ score: (\S+)", r.stdout)[1])
    return metrics, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", default="360x640", help="HxW")
    ap.add_argument("--official", help="folder holding the official VSPW_code scripts")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    h, w = map(int, args.size.split("x"))
    if not os.path.isfile(os.path.join(args.out, "gt", "val.txt")):
        t0 = time.perf_counter()
        make_dataset(args.out, args.videos, args.frames, h, w, args.seed)
        print(f"generated {args.videos} videos x {args.frames} frames at {h}x{w} in {time.perf_counter() - t0:.1f}s")
    from univs_bench.evaluators.vss import evaluate_files
    t0 = time.perf_counter()
    ours = evaluate_files("vspw", os.path.join(args.out, "gt"), os.path.join(args.out, "pred")).metrics
    t_ours = time.perf_counter() - t0
    print(f"univs-bench mIoU+mVC8+mVC16: {t_ours:.2f}s  " + " ".join(f"{k}={v:.4f}" for k, v in ours.items()))
    if args.official:
        ref, secs = run_official(args.official, args.out)
        total = sum(secs.values())
        print("official " + "  ".join(f"{k}: {v:.2f}s" for k, v in secs.items())
              + f"  total {total:.2f}s  -> speed-up x{total / t_ours:.1f}")
        print(f"largest |difference| over {sorted(ref)}: {max(abs(ref[k] - ours[k]) for k in ref):.2e}")


if __name__ == "__main__":
    main()
