"""Speed of the VIPSeg evaluator (VPQ + STQ) on a generated dataset, optionally against the official
ClipPanoFCN scripts.

    .venv/bin/python benchmarks/bench_vps.py --out /tmp/vps_bench [--videos 20 --frames 30 --size 360x640]
        [--official /tmp/vipseg_ref]

Writes a COCO-video GT (``panoptic_gt_VIPSeg_val.json`` + ``panomasksRGB/``) and a submission
(``pred.json`` + ``pan_pred/``) under ``--out``, times ``univs_bench.evaluators.vps.evaluate_files``
(one process) and, when ``--official`` names a throwaway folder holding the official
``eval_vpq_vspw.py``, ``eval_stq_vspw.py`` and ``segmentation_and_tracking_quality.py`` (fetched from
VIPSeg-Dataset/ClipPanoFCN, never part of this repository), times them on the same files with
``--num_processes 1`` and checks that the numbers agree.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from univs_bench.io.panoptic import id2rgb
from univs_bench.io.png import write_rgb_png
from univs_bench.metainfo.vipseg import VIPSEG_CATEGORIES


def _paint(h, w, shapes, t):
    ids = np.zeros((h, w), np.int64)
    yy, xx = np.mgrid[:h, :w]
    for sid, (cy, cx, ry, rx, vy, vx) in shapes:
        y, x = cy + vy * t, cx + vx * t
        ids[((yy - y) / ry) ** 2 + ((xx - x) / rx) ** 2 <= 1] = sid
    return ids


def make_dataset(out: str, videos: int, frames: int, h: int, w: int, seed: int = 0) -> tuple[str, str]:
    """Moving ellipses over stuff bands; the prediction is shifted, noisy, with id switches."""
    rng = np.random.default_rng(seed)
    things = [c["id"] for c in VIPSEG_CATEGORIES if c["isthing"]]
    stuff = [c["id"] for c in VIPSEG_CATEGORIES if not c["isthing"]]
    gt, pred = os.path.join(out, "gt"), os.path.join(out, "pred")
    vids, anns, preds = [], [], []
    for v in range(videos):
        name = f"{v:04d}_bench"
        n_st, n_th = int(rng.integers(3, 6)), int(rng.integers(4, 12))
        st_cats = rng.choice(stuff, n_st, replace=False)
        bands = np.sort(rng.choice(np.arange(1, h), n_st - 1, replace=False))
        shapes = [(int(rng.integers(1, 1 << 24)), (rng.uniform(0, h), rng.uniform(0, w), rng.uniform(10, h / 4),
                                                   rng.uniform(10, w / 4), rng.normal(0, 2), rng.normal(0, 3)))
                  for _ in range(n_th)]
        th_cats = {sid: int(rng.choice(things)) for sid, _ in shapes}
        st_ids = [int(rng.integers(1, 1 << 24)) for _ in range(n_st)]
        pred_id = {sid: int(rng.integers(1, 1 << 24)) for sid in st_ids + [s for s, _ in shapes]}
        pred_cat = {**{p: int(c) for p, c in zip((pred_id[s] for s in st_ids), st_cats)},
                    **{pred_id[s]: (th_cats[s] if rng.random() < 0.8 else int(rng.choice(things)))
                       for s, _ in shapes}}
        images, ga, pa = [], [], []
        for t in range(frames):
            band = np.searchsorted(bands, np.arange(h), side="right")
            g = np.repeat(np.asarray(st_ids)[band][:, None], w, axis=1)
            g[: h // 20] = 0  # a void strip
            th = _paint(h, w, shapes, t)
            g = np.where(th > 0, th, g)
            if rng.random() < 0.1:  # an id switch in the prediction
                s = shapes[int(rng.integers(n_th))][0]
                pred_id[s] = int(rng.integers(1, 1 << 24))
                pred_cat[pred_id[s]] = th_cats[s]
            keys = np.unique(g)
            p = np.array([pred_id.get(int(i), 0) for i in keys], np.int64)[np.searchsorted(keys, g)]
            p = np.roll(p, (int(rng.integers(-4, 5)), int(rng.integers(-6, 7))), axis=(0, 1))
            y0, x0 = int(rng.integers(0, h - 40)), int(rng.integers(0, w - 40))
            p[y0:y0 + 40, x0:x0 + 40] = 0
            fname = f"{t * 5:08d}.png"
            write_rgb_png(os.path.join(gt, "panomasksRGB", name, fname), id2rgb(g))
            write_rgb_png(os.path.join(pred, "pan_pred", name, fname), id2rgb(p))
            gi, gc = np.unique(g, return_counts=True)
            cat_of = {**dict(zip(st_ids, map(int, st_cats))), **th_cats}
            images.append({"id": fname[:-4], "file_name": fname, "width": w, "height": h})
            ga.append({"image_id": fname[:-4], "file_name": fname, "segments_info": [
                {"id": int(i), "category_id": cat_of[int(i)], "iscrowd": 0, "area": int(c)}
                for i, c in zip(gi, gc) if i]})
            pa.append({"image_id": fname[:-4], "file_name": fname, "segments_info": [
                {"id": int(i), "category_id": pred_cat[int(i)]} for i in np.unique(p) if i]})
        vids.append({"video_id": name, "images": images})
        anns.append({"video_id": name, "annotations": ga})
        preds.append({"video_id": name, "annotations": pa})
    cats = [{k: c[k] for k in ("id", "name", "isthing", "color")} for c in VIPSEG_CATEGORIES]
    with open(os.path.join(gt, "panoptic_gt_VIPSeg_val.json"), "w") as f:
        json.dump({"videos": vids, "annotations": anns, "categories": cats}, f)
    with open(os.path.join(pred, "pred.json"), "w") as f:
        json.dump({"annotations": preds}, f)
    return gt, pred


def run_official(ref: str, gt: str, pred: str) -> tuple[dict, float, float]:
    """Run the official VPQ and STQ scripts; their numbers (percent) and seconds of each."""
    args = ["--submit_dir", os.path.abspath(pred), "--truth_dir", os.path.join(os.path.abspath(gt), "panomasksRGB"),
            "--pan_gt_json_file", os.path.join(os.path.abspath(gt), "panoptic_gt_VIPSeg_val.json")]
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "eval_vpq_vspw.py", *args, "--num_processes", "1"], cwd=ref,
                       capture_output=True, text=True, check=True)
    t_vpq = time.perf_counter() - t0
    rows = [tuple(map(float, ln.split())) for ln in r.stdout.splitlines()
            if re.fullmatch(r"[-\d.e]+ [-\d.e]+ [-\d.e]+", ln.strip())]
    out = {f"VPQ@{n}": row[0] for n, row in zip((1, 2, 4, 6, 8), rows)}
    out["VPQ"] = sum(row[0] for row in rows) / len(rows)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "eval_stq_vspw.py", *args], cwd=ref, capture_output=True, text=True,
                       check=True)
    t_stq = time.perf_counter() - t0
    m = dict(re.findall(r"^(STQ|AQ|IoU)\s*:\s*(\S+)", r.stdout, re.MULTILINE))
    out.update(STQ=100 * float(m["STQ"]), AQ=100 * float(m["AQ"]), SQ=100 * float(m["IoU"]))
    return out, t_vpq, t_stq


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", default="360x640", help="HxW")
    ap.add_argument("--official", help="folder holding the official VIPSeg scripts")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    h, w = map(int, args.size.split("x"))
    gt, pred = os.path.join(args.out, "gt"), os.path.join(args.out, "pred")
    if not os.path.isfile(os.path.join(pred, "pred.json")):
        t0 = time.perf_counter()
        make_dataset(args.out, args.videos, args.frames, h, w, args.seed)
        print(f"generated {args.videos} videos x {args.frames} frames at {h}x{w} in {time.perf_counter() - t0:.1f}s")
    from univs_bench.evaluators.vps import evaluate_files
    t0 = time.perf_counter()
    ours = evaluate_files("vipseg", gt, pred).metrics
    t_ours = time.perf_counter() - t0
    print(f"univs-bench VPQ+STQ: {t_ours:.2f}s  " + " ".join(f"{k}={v:.4f}" for k, v in ours.items()))
    if args.official:
        ref, t_vpq, t_stq = run_official(args.official, gt, pred)
        worst = max(abs(ref[k] - ours[k]) for k in ref)
        print(f"official eval_vpq_vspw.py: {t_vpq:.2f}s  eval_stq_vspw.py: {t_stq:.2f}s  "
              f"total {t_vpq + t_stq:.2f}s  -> speed-up x{(t_vpq + t_stq) / t_ours:.1f}")
        print(f"largest |difference| over {sorted(ref)}: {worst:.2e}")


if __name__ == "__main__":
    main()
