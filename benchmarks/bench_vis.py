"""Speed (and agreement) of the VIS evaluator against the official cocoapi forks.

The official code is not vendored: ``--setup-ref`` copies it from fetched git checkouts of
youtubevos/cocoapi and qjy981010/cocoapi into a throwaway folder (default /tmp/refvis) with
the numpy-2 fixes (np.float, float linspace counts) and pycocotools' compiled ``mask``.

    python benchmarks/bench_vis.py --setup-ref YTVOS_GIT_DIR OVIS_GIT_DIR
    python benchmarks/bench_vis.py --videos 100 --frames 20 --tubes 5      # timing
    python benchmarks/bench_vis.py --diff 40                                 # random agreement
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from pycocotools import mask as mask_utils

REF = "/tmp/refvis"
_OCC = ("no_occlusion", "slight_occlusion", "severe_occlusion")


def setup_ref(ytvos_git: str, ovis_git: str, dest: str = REF) -> None:
    """Copy the official evaluators into ``dest``/ytvisref, patched to run on numpy 2."""
    pkg = os.path.join(dest, "ytvisref")
    os.makedirs(pkg, exist_ok=True)
    files = [(ytvos_git, "ytvos.py"), (ytvos_git, "ytvoseval.py"),
             (ovis_git, "ovis.py"), (ovis_git, "oviseval.py")]
    for git, name in files:
        src = subprocess.run(["git", "-C", git, "show", f"HEAD:PythonAPI/pycocotools/{name}"],
                             check=True, capture_output=True, text=True).stdout
        src = src.replace("dtype=np.float)", "dtype=float)")
        for a, b in (("np.round((0.95 - .5) / .05) + 1", "10"), ("np.round((1.00 - .0) / .01) + 1", "101"),
                     ("int(round(np.round((0.95 - .5) / .05))) + 1", "10"),
                     ("int(round(np.round((1.00 - .0) / .01))) + 1", "101"),
                     ("import matplotlib.pyplot as plt", "plt = None"),
                     ("from matplotlib.collections import PatchCollection", ""),
                     ("from matplotlib.patches import Polygon", "")):
            src = src.replace(a, b)
        with open(os.path.join(pkg, name), "w") as f:
            f.write(src)
    with open(os.path.join(pkg, "__init__.py"), "w") as f:
        f.write("")
    with open(os.path.join(pkg, "mask.py"), "w") as f:
        f.write("from pycocotools.mask import merge, area, frPyObjects, iou, toBbox, decode, encode\n")


def run_official(bench: str, gt: str, pred: str, ref: str = REF) -> list[float]:
    """Official stats (fractions, -1 undefined) from the patched copy in ``ref``."""
    sys.path.insert(0, ref)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            if bench == "ovis":
                from ytvisref.ovis import OVIS as Api
                from ytvisref.oviseval import OVISeval as Ev
            else:
                from ytvisref.ytvos import YTVOS as Api
                from ytvisref.ytvoseval import YTVOSeval as Ev
            g = Api(gt)
            d = g.loadRes(pred)
            e = Ev(g, d, "segm")
            e.evaluate()
            e.accumulate()
            e.summarize()
    finally:
        sys.path.remove(ref)
    return [float(x) for x in e.stats]


def _rle(m: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": r["size"], "counts": r["counts"].decode("ascii")}


def _blob(rng, h, w):
    m = np.zeros((h, w), bool)
    y0, x0 = rng.integers(0, h), rng.integers(0, w)
    m[y0:y0 + rng.integers(1, h), x0:x0 + rng.integers(1, w)] = True
    return m


def make_case(rng: np.random.Generator, n_videos: int = 6, n_frames: int = 4, n_tubes: int = 3,
              n_cats: int = 4, size=None, ovis: bool = False, quirks: bool = True,
              max_preds: int | None = None):
    """A random (gt, results) pair: nulls, crowd, polygons, duplicates, empty videos, ties."""
    videos, anns, preds = [], [], []
    aid = 0 if quirks and rng.random() < 0.2 else 1  # id 0: matched dets count as FP
    for v in range(1, n_videos + 1):
        h, w = size or [(12, 16), (20, 24), (140, 130)][rng.integers(0, 3)]
        T = n_frames if size else int(rng.integers(1, n_frames + 1))
        videos.append({"id": v, "width": w, "height": h, "length": T,
                       "file_names": [f"vid{v:03d}/{t:05d}.jpg" for t in range(T)]})
        k = 0 if quirks and rng.random() < 0.15 else int(rng.integers(1, n_tubes + 1))
        gt_masks = []
        for _ in range(k):
            cat = int(rng.integers(1, n_cats + 1))
            masks = [None if rng.random() < 0.2 else _blob(rng, h, w) for _ in range(T)]
            segs, areas = [], []
            for m in masks:
                if m is None:
                    segs.append(None)
                    areas.append(None)
                    continue
                kind = rng.random() if quirks else 1.0
                if kind < 0.1:  # polygon of the box
                    ys, xs = np.nonzero(m)
                    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
                    segs.append([[float(x0), float(y0), float(x1), float(y0), float(x1), float(y1),
                                  float(x0), float(y1)]])
                elif kind < 0.2:  # uncompressed RLE
                    segs.append({"size": [h, w], "counts": _uncompressed_counts(m)})
                else:
                    segs.append(_rle(m))
                # json areas scaled so that every area range is hit
                areas.append(float(m.sum()) * float(rng.choice([1, 1, 300, 1500])))
            occ = [None if s is None else str(rng.choice(_OCC)) for s in segs]
            if all(o is None for o in occ):
                occ[0] = str(rng.choice(_OCC))
            ann = {"id": aid, "video_id": v, "category_id": cat, "segmentations": segs,
                   "areas": areas, "iscrowd": int(quirks and rng.random() < 0.1),
                   "height": h, "width": w, "length": 1}
            if ovis:
                ann["occlusion"] = occ
            anns.append(ann)
            aid += 1
            gt_masks.append((cat, masks))
        n_pred = int(rng.integers(0, (max_preds or 2 * n_tubes + 1) + 1))
        for _ in range(n_pred):
            if gt_masks and rng.random() < 0.7:
                cat, masks = gt_masks[rng.integers(0, len(gt_masks))]
                if rng.random() < 0.2:
                    cat = int(rng.integers(1, n_cats + 1))
                segs = []
                for m in masks:
                    if m is None:
                        segs.append(None if rng.random() < 0.7 else _rle(_blob(rng, h, w)))
                    else:
                        dy, dx = rng.integers(-2, 3, size=2)
                        j = np.roll(m, (dy, dx), axis=(0, 1))
                        j[:, :int(rng.integers(0, max(1, w // 6)))] = False  # smooth, as real masks
                        segs.append(_rle(j))
            else:
                cat = int(rng.integers(1, n_cats + 1))
                segs = [None if rng.random() < 0.3 else _rle(_blob(rng, h, w)) for _ in range(T)]
                if quirks and rng.random() < 0.2:  # a present but empty mask
                    segs[0] = _rle(np.zeros((h, w), bool))
            score = float(rng.choice([0.5, 0.9])) if quirks and rng.random() < 0.3 else round(float(rng.random()), 3)
            preds.append({"video_id": v, "category_id": cat, "score": score, "segmentations": segs})
            if quirks and rng.random() < 0.1:
                preds.append(dict(preds[-1]))  # exact duplicate
    if quirks:  # file order decides ties within a video
        preds = [preds[i] for i in rng.permutation(len(preds))]
    cats = [{"id": c, "name": f"c{c}", "supercategory": "object"} for c in range(1, n_cats + 1)]
    gt = {"info": {}, "licenses": [], "videos": videos, "categories": cats, "annotations": anns}
    return gt, preds


def _uncompressed_counts(m):
    flat = m.astype(np.uint8).flatten(order="F")
    runs, cur, n = [], 0, 0
    for v in flat:
        if v != cur:
            runs.append(n)
            cur, n = v, 0
        n += 1
    runs.append(n)
    return [int(x) for x in runs]


def _write(dirname, gt, preds):
    g, p = os.path.join(dirname, "gt.json"), os.path.join(dirname, "results.json")
    with open(g, "w") as f:
        json.dump(gt, f)
    with open(p, "w") as f:
        json.dump(preds, f)
    return g, p


def ours(bench, g, p, workers=1):
    from univs_bench.evaluators.vis import evaluate_files
    return evaluate_files(bench, g, p, workers=workers).metrics


_ORDER = {"ytvis19": ["AP", "AP50", "AP75", "AP_s", "AP_m", "AP_l", "AR1", "AR10", "AR100",
                      "AR_s", "AR_m", "AR_l"],
          "ovis": ["AP", "AP50", "AP75", "AP_s", "AP_m", "AP_l", "AP_light", "AP_medium",
                   "AP_heavy", "AR1", "AR10", "AR100", "AR_s", "AR_m", "AR_l", "AR_light",
                   "AR_medium", "AR_heavy"]}


def diff(n: int, seed: int = 0) -> int:
    """Score ``n`` random cases with both evaluators; print disagreements; return #agreeing."""
    rng = np.random.default_rng(seed)
    agree = 0
    for i in range(n):
        bench = "ovis" if i % 3 == 2 else "ytvis19"
        gt, preds = make_case(rng, n_videos=int(rng.integers(1, 8)), n_frames=int(rng.integers(1, 6)),
                              n_tubes=int(rng.integers(1, 9)), n_cats=int(rng.integers(1, 7)),
                              ovis=bench == "ovis", max_preds=130 if i % 10 == 9 else None,
                              size=(48, 64) if i % 4 == 3 else None)
        with tempfile.TemporaryDirectory() as td:
            g, p = _write(td, gt, preds)
            mine = ours(bench, g, p)
            if not preds:
                ref = None  # the official loadRes crashes on an empty list (anns[0])
            else:
                ref = run_official(bench, g, p)
        if ref is None:
            ok = all(v in (0.0, None) for v in mine.values())
        else:
            names = _ORDER["ovis" if bench == "ovis" else "ytvis19"]
            ok = all((r == -1 and mine[k] is None) or (mine[k] is not None and abs(100 * r - mine[k]) < 1e-9)
                     for k, r in zip(names, ref))
            if not ok:
                print(f"case {i} ({bench}) differs:", {k: (mine[k], 100 * r) for k, r in zip(names, ref)})
        agree += ok
    print(f"differential: {agree}/{n} random cases agree")
    return agree


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setup-ref", nargs=2, metavar=("YTVOS_GIT", "OVIS_GIT"))
    ap.add_argument("--ref", default=REF)
    ap.add_argument("--videos", type=int, default=100)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--tubes", type=int, default=5)
    ap.add_argument("--preds", type=int, default=None, help="at most this many predictions per video")
    ap.add_argument("--cats", type=int, default=10)
    ap.add_argument("--size", type=int, nargs=2, default=(360, 640), metavar=("H", "W"))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bench", default="ytvis19", choices=("ytvis19", "ovis"))
    ap.add_argument("--diff", type=int, default=0, help="run N random differential cases instead")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.setup_ref:
        setup_ref(*args.setup_ref, dest=args.ref)
        print(f"official evaluators copied to {args.ref}/ytvisref")
        return 0
    if args.diff:
        return 0 if diff(args.diff, args.seed) == args.diff else 1
    rng = np.random.default_rng(args.seed)
    gt, preds = make_case(rng, args.videos, args.frames, args.tubes, n_cats=args.cats,
                          size=tuple(args.size), ovis=args.bench == "ovis", quirks=False,
                          max_preds=args.preds)
    with tempfile.TemporaryDirectory() as td:
        g, p = _write(td, gt, preds)
        print(f"{args.videos} videos x {args.frames} frames {args.size[0]}x{args.size[1]}, "
              f"{len(gt['annotations'])} GT tubes, {len(preds)} predicted tubes")
        t_ours, t_ref = [], []
        for _ in range(args.repeat):  # best of N: the machine may be shared
            c0, w0 = time.process_time(), time.perf_counter()
            mine = ours(args.bench, g, p, args.workers)
            c1, w1 = time.process_time(), time.perf_counter()
            ref = run_official(args.bench, g, p, args.ref)
            c2, w2 = time.process_time(), time.perf_counter()
            t_ours.append((w1 - w0, c1 - c0))
            t_ref.append((w2 - w1, c2 - c1))
    (wo, co), (wr, cr) = min(t_ours), min(t_ref)
    print(f"univs-bench (workers={args.workers}): wall {wo:.2f} s, cpu {co:.2f} s   AP {mine['AP']:.4f}")
    print(f"official cocoapi:               wall {wr:.2f} s, cpu {cr:.2f} s   AP {100 * ref[0]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
