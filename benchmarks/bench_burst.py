"""Speed of the BURST evaluator (all three tasks) on a generated case, optionally against the
official ``burstapi/eval/run.py``.

    .venv/bin/python benchmarks/bench_burst.py --out /tmp/burst_bench [--seqs 60] [--workers 2]
        [--official "python /tmp/burst_ref/run_official.py"]

Writes a GT folder (all/common/uncommon_classes.json) and a prediction json under ``--out``,
times ``univs_bench.evaluators.burst.evaluate_files`` for each task and, when ``--official`` is
given (a command that runs the official run.py, e.g. a wrapper in a throwaway folder: the
official code is never part of this repository), times it on the same files and prints both
sets of numbers. ``make_case`` is also the random case generator of the differential tests.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

COMMON = (235, 429, 502, 1018, 347, 4)
UNCOMMON = (849, 206, 468, 664, 612, 168, 554, 943)
QUIRKY = (504, 720, 20, 967, 207, 153, 1, 1300)  # distractors, merged ids, id 1, non-TAO id


def _mask(rng, h, w, kind):
    m = np.zeros((h, w), dtype=np.uint8)
    if kind == 0:
        return m  # empty masks still count as detections
    y0, x0 = rng.integers(0, h - 2), rng.integers(0, w - 2)
    y1, x1 = rng.integers(y0 + 1, h + 1), rng.integers(x0 + 1, w + 1)
    m[y0:y1, x0:x1] = 1
    if kind == 2 and y1 - y0 > 2 and x1 - x0 > 2:  # a hole: box IoU and mask IoU differ
        hy0, hx0 = rng.integers(y0 + 1, y1 - 1), rng.integers(x0 + 1, x1 - 1)
        m[hy0:rng.integers(hy0 + 1, y1), hx0:rng.integers(hx0 + 1, x1)] = 0
    return m


def _jitter(rng, m, p):
    """A perturbed copy: shifted by up to 3 px and with a chunk cut out (p = strength)."""
    if p == 0:
        return m.copy()
    h, w = m.shape
    out = np.roll(m, (int(rng.integers(-3, 4) * (p > 0.05)), int(rng.integers(-3, 4))), (0, 1))
    cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
    out[cy:cy + int(h * p), cx:cx + int(w * p)] = 0
    return out


def _rle(m):
    from pycocotools import mask as mask_utils
    r = mask_utils.encode(np.asfortranarray(m))
    return r["counts"].decode("ascii")


def make_case(seed: int, n_seqs: int = 4, h: int = 24, w: int = 32, max_frames: int = 6,
              max_tracks: int = 4, quirks: bool = True, crowd: int = 0) -> tuple[dict, dict]:
    """A random (GT all_classes dict, prediction dict) pair in the BURST schema.

    ``quirks`` mixes in distractor and merged categories, category 1, ids <= 0, per-frame
    ``category_id``, extra prediction frames, missing scores, neg / not-exhaustive lists;
    ``crowd`` adds that many extra detections to one frame (to pass the 300 limit).
    """
    rng = np.random.default_rng(seed)
    cats = COMMON + UNCOMMON + (QUIRKY if quirks else ())
    gt_seqs, pr_seqs = [], []
    for s in range(n_seqs):
        n_frames = int(rng.integers(1, max_frames + 1))
        step = int(rng.integers(1, 4))
        paths = [f"frame{1 + step * 2 * i:04d}.jpg" for i in range(n_frames)]
        n_tr = int(rng.integers(0, max_tracks + 1))
        tcat = {str(i + 1): int(rng.choice(cats)) for i in range(n_tr)}
        gsegs, psegs = [], []
        gmasks = {}
        for t in range(n_frames):
            fr = {}
            for k in tcat:
                if rng.random() < 0.75:
                    m = _mask(rng, h, w, int(rng.choice([0, 1, 2, 2], p=[0.05, 0.45, 0.25, 0.25])))
                    gmasks[(t, k)] = m
                    fr[k] = {"rle": _rle(m), "is_gt": True, "score": 1.0}
            gsegs.append(fr)
        # predictions: copies/jitters of GT tracks, swapped ids, false positives
        pcat, ptracks = {}, []
        next_id = int(rng.choice([-1, 0, 1, 1, 1, 1, 1, 7])) if quirks else 1
        for k, c in tcat.items():
            if rng.random() < 0.8:
                pid = str(next_id)
                next_id += 1
                pc = c if rng.random() < 0.8 else int(rng.choice(cats))
                pcat[pid] = pc
                ptracks.append((pid, k))
        for _ in range(int(rng.integers(0, 3))):
            pid = str(next_id)
            next_id += 1
            pcat[pid] = int(rng.choice(cats))
            ptracks.append((pid, None))
        base_score = {pid: round(float(rng.random()), 2) for pid, _ in ptracks}
        for t in range(n_frames):
            fr = {}
            for pid, k in ptracks:
                if rng.random() < 0.15:
                    continue
                if k is not None and (t, k) in gmasks and rng.random() < 0.85:
                    m = _jitter(rng, gmasks[(t, k)], float(rng.choice([0.0, 0.02, 0.1, 0.3])))
                else:
                    m = _mask(rng, h, w, int(rng.choice([0, 1, 2], p=[0.1, 0.5, 0.4])))
                det = {"rle": _rle(m)}
                if not quirks or rng.random() < 0.8:
                    det["score"] = (base_score[pid] if rng.random() < 0.5
                                    else round(float(rng.random()), 2))
                if quirks and rng.random() < 0.05:
                    det["category_id"] = int(rng.choice(cats))
                fr[pid] = det
            if crowd and s == 0 and t == 0:
                for j in range(crowd):
                    pid = str(1000 + j)
                    pcat.setdefault(pid, int(rng.choice(cats)))
                    fr[pid] = {"rle": _rle(_mask(rng, h, w, 1)),
                               "score": round(float(rng.random()), 3)}
            psegs.append(fr)
        ppaths, psegs2 = list(paths), list(psegs)
        if quirks and rng.random() < 0.3:  # a higher frame rate: extra frames are ignored
            ppaths.append("frame9999.jpg")
            psegs2.append({pid: {"rle": _rle(_mask(rng, h, w, 1)), "score": 0.5}
                           for pid in list(pcat)[:1]})
        neg = [int(c) for c in rng.choice(cats, size=int(rng.integers(0, 3)), replace=False)]
        nel = ([int(c) for c in rng.choice(cats, size=int(rng.integers(0, 2)), replace=False)]
               if quirks else [])
        seq = {"width": w, "height": h, "id": s + 1, "seq_name": f"seq_{s:03d}_{seed % 1000}",
               "dataset": ["ArgoVerse", "BDD", "Charades", "LaSOT"][s % 4], "fps": 30,
               "all_image_paths": paths, "annotated_image_paths": paths,
               "neg_category_ids": neg, "not_exhaustive_category_ids": nel,
               "track_category_ids": tcat, "segmentations": gsegs}
        gt_seqs.append(seq)
        pseq = dict(seq, track_category_ids=pcat, segmentations=psegs2,
                    annotated_image_paths=ppaths)
        pr_seqs.append(pseq)
    gt = {"split": "val", "categories": [], "sequences": gt_seqs}
    pred = {"split": "val", "categories": [], "sequences": pr_seqs}
    return gt, pred


def split_gt(gt: dict, common: bool) -> dict:
    """common_classes.json / uncommon_classes.json: the GT restricted to (un)common tracks."""
    from univs_bench.metainfo.burst import BURST_COMMON_IDS
    keep_ids = set(BURST_COMMON_IDS)
    seqs = []
    for s in gt["sequences"]:
        tcat = {k: c for k, c in s["track_category_ids"].items() if (c in keep_ids) == common}
        segs = [{k: v for k, v in fr.items() if k in tcat} for fr in s["segmentations"]]
        seqs.append(dict(s, track_category_ids=tcat, segmentations=segs))
    return dict(gt, sequences=seqs)


def write_case(root: str, gt: dict, pred: dict) -> tuple[str, str]:
    """Write ``root/gt/{all,common,uncommon}_classes.json`` and ``root/pred.json``."""
    os.makedirs(os.path.join(root, "gt"), exist_ok=True)
    for name, doc in (("all_classes.json", gt), ("common_classes.json", split_gt(gt, True)),
                      ("uncommon_classes.json", split_gt(gt, False))):
        with open(os.path.join(root, "gt", name), "w") as fh:
            json.dump(doc, fh)
    with open(os.path.join(root, "pred.json"), "w") as fh:
        json.dump(pred, fh)
    return os.path.join(root, "gt"), os.path.join(root, "pred.json")


def run_official(cmd: str, gt_dir: str, pred: str, task: str, out_json: str) -> dict:
    """Run the official run.py through ``cmd``; {metric name as CONTRACT.md: value}."""
    subprocess.run(f"{cmd} --gt {gt_dir} --pred {pred} --task {task} --nprocs 1 -o {out_json}",
                   shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out_json) as fh:
        doc = json.load(fh)
    names = {"HOTA": "HOTA", "DetA": "DetA", "AssA": "AssA", "AP": "AP", "OWTA": "OWTA"}
    out = {}
    for row, cols in doc.items():
        if row in names:
            for split, v in cols.items():
                out[f"{names[row]}_{split}"] = v
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/burst_bench")
    ap.add_argument("--seqs", type=int, default=60)
    ap.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--official", default=None, help="command running the official run.py")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from univs_bench.evaluators.burst import evaluate_files

    gt, pred = make_case(args.seed, n_seqs=args.seqs, h=args.size[0], w=args.size[1],
                         max_frames=args.frames, max_tracks=args.tracks)
    gt_dir, pred_path = write_case(args.out, gt, pred)
    n_gt = sum(len(f) for s in gt["sequences"] for f in s["segmentations"])
    n_pr = sum(len(f) for s in pred["sequences"] for f in s["segmentations"])
    print(f"case: {args.seqs} sequences, {args.size[0]}x{args.size[1]}, {n_gt} GT masks, "
          f"{n_pr} predicted masks")
    for task in ("class_guided", "exemplar_guided", "open_world"):
        t0 = time.perf_counter()
        res = evaluate_files("burst", gt_dir, pred_path, workers=args.workers, task=task)
        ours = time.perf_counter() - t0
        line = f"{task:16s} univs-bench {ours:6.2f}s (workers={args.workers})"
        if args.official:
            t0 = time.perf_counter()
            off = run_official(args.official, gt_dir, pred_path, task,
                               os.path.join(args.out, f"official_{task}.json"))
            line += f" | official {time.perf_counter() - t0:6.2f}s"
            diff = max(abs((res.metrics[k] or 0) - off[k]) for k in res.metrics if k in off)
            line += f" | max |diff| {diff:.2e}"
        print(line)
        print("   ", {k: (None if v is None else round(v, 4)) for k, v in res.metrics.items()})


if __name__ == "__main__":
    main()
