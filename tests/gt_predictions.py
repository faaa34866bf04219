"""The synthetic suite's GT written back as predictions in each benchmark's official format
(the input of the "GT scores 100" and fault-battery tests)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.array(im)


def gt_as_prediction(b: str, g: Path, p: Path, burst_name: str = "pred.json") -> Path:
    """Copy (or rename; VSPW/Ref-YTVOS also relabel) the GT of benchmark ``b`` at ``g`` into the
    prediction layout at ``p``; the path to pass as ``--pred``."""

    def copy_dirs(src, dst, names=None):
        for d in sorted(Path(src).iterdir()):
            if names is None or d.name in names:
                shutil.copytree(d, Path(dst) / d.name)

    p.mkdir(parents=True)
    if b in ("ytvis19", "ytvis21", "ovis"):
        d = json.loads(g.read_text())
        res = [{"video_id": a["video_id"], "category_id": a["category_id"], "score": 1.0,
                "segmentations": a["segmentations"]} for a in d["annotations"]]
        (p / "results.json").write_text(json.dumps(res))
        return p / "results.json"
    if b == "vspw":
        for v in (g / "val.txt").read_text().split():
            (p / v).mkdir()
            for f in sorted((g / "data" / v / "mask").glob("*.png")):
                a = _png(f).astype(np.int64)
                Image.fromarray(np.where((a >= 1) & (a <= 124), a - 1, 0).astype(np.uint8)).save(p / v / f.name)
    elif b == "vipseg":
        d = json.loads((g / "panoptic_gt_VIPSeg_val.json").read_text())
        (p / "pred.json").write_text(json.dumps({"annotations": d["annotations"]}))
        copy_dirs(g / "panomasksRGB", p / "pan_pred", {v["video_id"] for v in d["videos"]})
    elif b == "davis17":
        copy_dirs(g / "Annotations/480p", p, set((g / "ImageSets/2017/val.txt").read_text().split()))
    elif b in ("mose", "ytvos18"):
        copy_dirs(g / "Annotations", p)
    elif b == "viposeg":
        copy_dirs(g / "Annotations_gt", p)
    elif b == "refdavis17":
        for k in range(4):
            copy_dirs(g / "Annotations_unsupervised/480p", p / f"anno_{k}",
                      set((g / "ImageSets/2017/val.txt").read_text().split()))
    elif b == "refytvos":
        for v, info in json.loads((g / "meta_expressions.json").read_text())["videos"].items():
            for eid, e in info["expressions"].items():
                (p / "Annotations" / v / eid).mkdir(parents=True)
                for f in info["frames"]:
                    a = _png(g / "Annotations" / v / f"{f}.png")
                    Image.fromarray(((a == int(e["obj_id"])) * 255).astype(np.uint8)).save(
                        p / "Annotations" / v / eid / f"{f}.png")
    elif b == "burst":
        shutil.copy(g / "all_classes.json", p / burst_name)
        return p / burst_name
    return p
