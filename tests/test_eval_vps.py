"""VIPSeg: tiny hand-computed VPQ/STQ cases (functional/vps.py) and the file readers (vps.py).

Categories used: 0 = wall (stuff), 2 = door (thing), 48 = car (thing).
"""
import json
import math
import os

import numpy as np
import pytest

from univs_bench.errors import InputError
from univs_bench.evaluators.functional.vps import (
    FrameTable,
    frame_segments,
    pair_table,
    pq_from_stats,
    stq_from_stats,
    vps_video_stats,
)
from univs_bench.evaluators.vps import evaluate_files
from univs_bench.io.panoptic import id2rgb
from univs_bench.io.png import write_png16, write_rgb_png
from univs_bench.metainfo.vipseg import VIPSEG_CATEGORIES

THINGS = [c["id"] for c in VIPSEG_CATEGORIES if c["isthing"]]
IDS = [c["id"] for c in VIPSEG_CATEGORIES]
ISTHING = [c["isthing"] == 1 for c in VIPSEG_CATEGORIES]


def frame(gt, gt_segs, pred, pred_segs):
    """gt_segs: [(id, cat)] or [(id, cat, iscrowd)]; pred_segs: [(id, cat)]; areas from the PNG."""
    gt, pred = np.asarray(gt, np.int64), np.asarray(pred, np.int64)
    area = {int(i): int(c) for i, c in zip(*np.unique(gt, return_counts=True))}
    g = frame_segments((s[0], s[1], s[2] if len(s) > 2 else 0, area.get(s[0], 0)) for s in gt_segs)
    return FrameTable(*pair_table(gt, pred), g, frame_segments((i, c, 0, 0) for i, c in pred_segs))


def stats(*frames, windows=(1,)):
    return vps_video_stats(list(frames), THINGS, windows)


def pq(s, i=0):
    return pq_from_stats(s.pq[i], IDS, ISTHING)


def test_pair_table():
    g, p, c = pair_table(np.array([[1, 1, 0]]), np.array([[7, 8, 8]]))
    assert list(zip(g.tolist(), p.tolist(), c.tolist())) == [(0, 8, 1), (1, 7, 1), (1, 8, 1)]


def test_iou_must_exceed_half_strictly():
    s = stats(frame([[1, 1, 1, 1]], [(1, 0)], [[10, 10, 20, 20]], [(10, 0), (20, 0)]))
    assert s.pq[0, :, 0].tolist() == [0.0, 0.0, 2.0, 1.0]      # IoU 0.5 is no match: FN 1, FP 2
    s = stats(frame([[1, 1, 1, 1]], [(1, 0)], [[10, 10, 10, 20]], [(10, 0), (20, 0)]))
    assert s.pq[0, :, 0].tolist() == [0.75, 1.0, 1.0, 0.0]
    assert pq(s)["All"] == pytest.approx(0.75 / 1.5) and math.isnan(pq(s)["Things"])


def test_void_is_removed_from_union_and_void_fps_ignored():
    # GT: void x3, segment 5 (wall) x3; pred 8 lies on void only, pred 9 on 1 void + all of 5
    s = stats(frame([[0, 0, 0, 5, 5, 5]], [(5, 0)], [[8, 8, 9, 9, 9, 9]], [(8, 0), (9, 0)]))
    assert s.pq[0, :, 0].tolist() == [1.0, 1.0, 0.0, 0.0]      # IoU 3 / (4 + 3 - 3 - 1) = 1; 8 ignored
    # exactly half on void is not "more than half": a false positive
    s = stats(frame([[0, 5, 5, 5]], [(5, 0)], [[8, 8, 9, 9]], [(8, 0), (9, 0)]))
    assert s.pq[0, 2, 0] == 1.0


def test_crowd_region_ignores_predictions_of_its_category_only():
    # GT 3 is a crowd door; preds 8 (door) and 9 (car) lie on it; the crowd itself is no FN
    s = stats(frame([[3, 3, 3, 3]], [(3, 2, 1)], [[8, 8, 9, 9]], [(8, 2), (9, 48)]))
    assert s.pq[0, :, 2].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert s.pq[0, :, 48].tolist() == [0.0, 0.0, 1.0, 0.0]


def test_tubes_over_windows_and_window_longer_than_video():
    # one GT tube (2 px per frame); the prediction switches id between the frames
    f0 = frame([[1, 1, 0]], [(1, 2)], [[10, 10, 0]], [(10, 2)])
    f1 = frame([[1, 1, 0]], [(1, 2)], [[11, 11, 0]], [(11, 2)])
    s = stats(f0, f1, windows=(1, 2, 4))
    assert s.pq[0, :, 2].tolist() == [2.0, 2.0, 0.0, 0.0]      # n=1: two windows, two perfect TPs
    assert s.pq[1, :, 2].tolist() == [0.0, 0.0, 2.0, 1.0]      # n=2: IoU 2/4 with either id: no TP
    assert not s.pq[2].any() and math.isnan(pq(s, 2)["All"])   # n=4 > T=2: no window


def test_tube_category_from_first_frame_of_window():
    # pred 10 is a door in frame 0 and a car in frame 1: the 2-frame tube is a door
    f0 = frame([[1, 1]], [(1, 2)], [[10, 10]], [(10, 2)])
    f1 = frame([[1, 1]], [(1, 2)], [[10, 10]], [(10, 48)])
    s = stats(f0, f1, windows=(2,))
    assert s.pq[0, :, 2].tolist() == [1.0, 1.0, 0.0, 0.0]


def test_things_and_stuff_subsets():
    s = stats(frame([[1, 1, 2, 2]], [(1, 0), (2, 2)], [[7, 7, 8, 8]], [(7, 0), (8, 48)]))
    r = pq(s)
    assert r["Stuff"] == pytest.approx(1.0)                      # wall matched
    assert r["Things"] == pytest.approx(0.0)                     # door FN and car FP: two classes at 0
    assert r["All"] == pytest.approx(1 / 3)


def test_stq_first_listed_thing_is_crowd():
    # door 1 is the first segment listed in the video: instance 0 -> crowd, left out of AQ
    f = frame([[1, 1, 2, 2]], [(1, 2), (2, 2)], [[5, 6, 6, 6]], [(5, 2), (6, 2)])
    s = stats(f)
    assert s.tubes == 1 and s.aq_sum == pytest.approx(1.0)      # pred 6 restricted to non-crowd: 2 px
    s = stats(frame([[9, 1, 1, 2, 2]], [(9, 0), (1, 2), (2, 2)], [[7, 5, 6, 6, 6]], [(7, 0), (5, 2), (6, 2)]))
    # a stuff segment listed first takes instance 0; both doors count now
    # door 1: 5 (1 px, IoU 1/2) and 6 (1 px, IoU 1/4); door 2: 6 (2 px, IoU 2/3)
    assert s.tubes == 2
    assert s.aq_sum == pytest.approx((1 * 0.5 + 1 * 0.25) / 2 + (2 * 2 / 3) / 2)


def test_stq_prediction_void_is_a_phantom_class():
    # GT wall on 2 px + 1 unlabelled px; pred void on one wall px, id 5 (wall) elsewhere
    s = stats(frame([[1, 1, 0]], [(1, 0)], [[0, 5, 5]], [(5, 0)]))
    r = stq_from_stats(s.stq_confusion, s.aq_sum, s.tubes)
    # wall IoU 1/2 (the GT-void pixel row is dropped); class "void" IoU 0 with non-zero union
    assert r["SQ"] == pytest.approx(0.25)
    assert r["AQ"] == 0.0 and r["STQ"] == 0.0                    # no thing tube: AQ 0, as officially


def test_gt_json_area_below_pixels_is_rejected():
    f = FrameTable(*pair_table(np.array([[1, 1]]), np.array([[5, 5]])),
                   frame_segments([(1, 0, 0, 1)]), frame_segments([(5, 0, 0, 0)]))
    with pytest.raises(ValueError, match="IoU"):
        stats(f)


# ---- files ----

def write_coco(root, videos, cats=None):
    """videos: {name: [(gt ids, gt segs [(id, cat)], pred ids, pred segs [(id, cat)])]}."""
    gt, pred = os.path.join(root, "gt"), os.path.join(root, "pred")
    vids, anns, preds = [], [], []
    for v, frames in videos.items():
        images, ga, pa = [], [], []
        for t, (g, gs, p, ps) in enumerate(frames):
            name = f"{t:08d}.png"
            write_rgb_png(os.path.join(gt, "panomasksRGB", v, name), id2rgb(np.array(g)))
            write_rgb_png(os.path.join(pred, "pan_pred", v, name), id2rgb(np.array(p)))
            area = {int(i): int(c) for i, c in zip(*np.unique(g, return_counts=True))}
            images.append({"id": name[:-4], "file_name": name})
            ga.append({"file_name": name, "segments_info": [
                {"id": i, "category_id": c, "iscrowd": 0, "area": area.get(i, 0)} for i, c in gs]})
            pa.append({"file_name": name, "segments_info": [{"id": i, "category_id": c} for i, c in ps]})
        vids.append({"video_id": v, "images": images})
        anns.append({"video_id": v, "annotations": ga})
        preds.append({"video_id": v, "annotations": pa})
    with open(os.path.join(gt, "panoptic_gt_VIPSeg_val.json"), "w") as f:
        json.dump({"videos": vids, "annotations": anns, "categories": cats or VIPSEG_CATEGORIES}, f)
    with open(os.path.join(pred, "pred.json"), "w") as f:
        json.dump({"annotations": preds}, f)
    return gt, pred


# raw values: 1 = wall (stuff, category 0), 300 = door instance 0, 301 = door instance 1
RAW = [[1, 1, 300, 301], [1, 0, 300, 301]]
COCO = {"vid": [([[1, 1, 7, 8], [1, 0, 7, 8]], [(1, 0), (7, 2), (8, 2)],
                 [[5, 5, 6, 6], [5, 5, 6, 0]], [(5, 0), (6, 2)])] * 3}


def test_coco_and_raw_forms_agree(tmp_path):
    gt, pred = write_coco(tmp_path, COCO)
    ours = evaluate_files("vipseg", gt, pred)
    raw = tmp_path / "raw"
    for t in range(3):
        write_png16(raw / "panomasks" / "vid" / f"{t:08d}.png", np.array(RAW))
    (raw / "val.txt").write_text("vid\n")
    assert evaluate_files("vipseg", str(raw), pred).metrics == ours.metrics
    m = ours.metrics
    # wall: pred 5 covers its 3 px + the void px: IoU 3 / (4 + 3 - 3 - 1) = 1 -> PQ 1
    # door 7 (2 px): pred 6 (3 px) IoU 2/3 -> TP; door 8: FN -> PQ (2/3) / 1.5 = 4/9
    assert m["VPQ@1"] == pytest.approx(100 * 13 / 18) and m["VPQ@2"] == pytest.approx(100 * 13 / 18)
    assert m["VPQ@4"] is None and m["VPQ"] is None               # 3 frames: no 4/6/8-frame window
    assert m["VPQ_th"] is None and m["VPQ_st"] is None


BAD = {
    "png_id_not_listed": "00000001.png",
    "listed_id_not_in_png": "00000001.png",
    "unknown_category": "category_id 124",
    "duplicate_id": "listed twice",
    "missing_video": "vid",
    "frame_count": "predicted frames",
    "size": "00000001.png",
}


@pytest.mark.parametrize("bad", sorted(BAD))
def test_bad_predictions_name_the_culprit(tmp_path, bad):
    gt, pred = write_coco(tmp_path, COCO)
    path = os.path.join(pred, "pred.json")
    with open(path) as f:
        doc = json.load(f)
    frames = doc["annotations"][0]["annotations"]
    png = os.path.join(pred, "pan_pred", "vid", "00000001.png")
    if bad == "png_id_not_listed":
        frames[1]["segments_info"].pop()
    elif bad == "listed_id_not_in_png":
        frames[1]["segments_info"].append({"id": 99, "category_id": 0})
    elif bad == "unknown_category":
        frames[1]["segments_info"][0]["category_id"] = 124
    elif bad == "duplicate_id":
        frames[1]["segments_info"].append(dict(frames[1]["segments_info"][0]))
    elif bad == "missing_video":
        doc["annotations"] = []
    elif bad == "frame_count":
        frames.pop()
    elif bad == "size":
        write_rgb_png(png, np.zeros((3, 4, 3), np.uint8))
    with open(path, "w") as f:
        json.dump(doc, f)
    with pytest.raises(InputError, match=BAD[bad]):
        evaluate_files("vipseg", gt, pred)


def test_bad_raw_value_names_the_file(tmp_path):
    _, pred = write_coco(tmp_path, COCO)
    raw = tmp_path / "raw"
    for t in range(3):
        write_png16(raw / "panomasks" / "vid" / f"{t:08d}.png", np.array(RAW) if t != 2 else np.full((2, 4), 12500))
    (raw / "val.txt").write_text("vid\n")
    with pytest.raises(InputError, match="00000002.png"):
        evaluate_files("vipseg", str(raw), pred)
