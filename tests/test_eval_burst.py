"""BURST evaluator: hand-computed tiny cases (8x8 frames), official quirks, bad inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from univs_bench.errors import InputError, InputWarning
from univs_bench.evaluators import burst as B
from univs_bench.evaluators.functional import hota as H
from univs_bench.evaluators.functional import trackmap as TM

A, C = 235, 849          # a common (cellular_telephone) and an uncommon (postcard) class
H8 = W8 = 8


def box(y0, x0, y1, x1, holes=False):
    m = np.zeros((H8, W8), dtype=np.uint8)
    m[y0:y1, x0:x1] = 1
    if holes:  # keep the bounding box, drop most pixels: box IoU 1, mask IoU small
        m[y0 + 1:y1 - 1, x0 + 1:x1 - 1] = 0
    return m


def rle(m):
    return mask_utils.encode(np.asfortranarray(m))["counts"].decode("ascii")


def seq(name, frames, cats, *, neg=(), nel=(), sid=1, scores=None):
    """A BURST sequence: ``frames`` is a list of {track id: mask}, ``cats`` {track id: class}."""
    segs = []
    for _t, fr in enumerate(frames):
        segs.append({str(k): {"rle": rle(m), "score": (scores or {}).get(k, 1.0)}
                     for k, m in fr.items()})
    paths = [f"frame{1 + 5 * t:04d}.jpg" for t in range(len(frames))]
    return {"id": sid, "dataset": "LaSOT", "seq_name": name, "width": W8, "height": H8,
            "annotated_image_paths": paths, "all_image_paths": paths,
            "neg_category_ids": list(neg), "not_exhaustive_category_ids": list(nel),
            "track_category_ids": {str(k): c for k, c in cats.items()}, "segmentations": segs}


def run(tmp_path, gt_seqs, pred_seqs, task="class_guided", split_files=None):
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir(exist_ok=True)
    (gt_dir / "all_classes.json").write_text(json.dumps({"split": "val", "sequences": gt_seqs}))
    for name, seqs in (split_files or {}).items():
        (gt_dir / name).write_text(json.dumps({"split": "val", "sequences": seqs}))
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"split": "val", "sequences": pred_seqs}))
    return B.evaluate_files("burst", str(gt_dir), str(pred), task=task).metrics


M1, M2 = box(0, 0, 4, 4), box(4, 4, 8, 8)
FAR = box(0, 5, 3, 8)


def test_perfect_prediction(tmp_path):
    g = seq("s", [{1: M1, 2: M2}, {1: M1}], {1: A, 2: C})
    m = run(tmp_path, [g], [g])
    assert all(v == pytest.approx(100.0) for v in m.values())
    m = run(tmp_path, [g], [g], task="exemplar_guided")
    assert set(m) == {f"{a}_{s}" for a in ("HOTA", "DetA", "AssA")
                      for s in ("all", "common", "uncommon")}
    assert all(v == pytest.approx(100.0) for v in m.values())


def test_one_false_positive(tmp_path):
    g = seq("s", [{1: M1}, {1: M1}], {1: A})
    p = seq("s", [{1: M1, 2: FAR}, {1: M1}], {1: A, 2: A}, scores={1: 0.8, 2: 0.9})
    m = run(tmp_path, [g], [p])
    # TP 2, FP 1 at every alpha: DetA 2/3, AssA 1
    assert m["DetA_all"] == pytest.approx(200 / 3)
    assert m["AssA_all"] == pytest.approx(100.0)
    assert m["HOTA_all"] == pytest.approx(100 * np.sqrt(2 / 3))
    # the FP track scores higher: precision 1/2 at every recall point
    assert m["AP_all"] == pytest.approx(50.0)
    assert m["HOTA_common"] == m["HOTA_all"] and m["HOTA_uncommon"] is None


def test_id_switch(tmp_path):
    g = seq("s", [{1: M1}] * 4, {1: A})
    p = seq("s", [{1: M1}, {1: M1}, {2: M1}, {2: M1}], {1: A, 2: A}, scores={1: 0.9, 2: 0.5})
    m = run(tmp_path, [g], [p])
    assert m["DetA_all"] == pytest.approx(100.0)
    assert m["AssA_all"] == pytest.approx(50.0)       # 2 * (2 / 4) + 2 * (2 / 4) over 4 TPs
    assert m["HOTA_all"] == pytest.approx(100 * np.sqrt(0.5))
    # each track has track IoU 0.5: a TP at threshold 0.5 only
    assert m["AP_all"] == pytest.approx(10.0)


def test_empty_prediction(tmp_path):
    g = seq("s", [{1: M1, 2: M2}, {1: M1}], {1: A, 2: C})
    p = seq("s", [{}, {}], {})
    with pytest.warns(InputWarning, match="no detection in any sequence"):
        m = run(tmp_path, [g], [p])
    assert all(v == 0.0 for v in m.values())


def test_class_without_gt_and_neg_category(tmp_path):
    g1 = seq("s1", [{1: M1}, {1: M1}], {1: A}, sid=1)
    g2 = seq("s2", [{1: M2}, {1: M2}], {1: C}, sid=2)
    p1 = seq("s1", [{1: M1, 2: M2}, {1: M1}], {1: A, 2: C}, sid=1)
    # class C has no GT in s1: its prediction there is dropped ...
    m = run(tmp_path, [g1, g2], [p1, g2])
    assert m["HOTA_all"] == pytest.approx(100.0) and m["AP_all"] == pytest.approx(100.0)
    # ... unless C is a negative category of s1: then it is a false positive
    g1n = seq("s1", [{1: M1}, {1: M1}], {1: A}, sid=1, neg=[C])
    m = run(tmp_path, [g1n, g2], [p1, g2])
    assert m["DetA_uncommon"] == pytest.approx(100 * 2 / 3)
    assert m["DetA_common"] == pytest.approx(100.0)
    assert m["DetA_all"] == pytest.approx((100 + 200 / 3) / 2)
    # a class with no GT anywhere is not evaluated at all
    p_other = seq("s1", [{1: M1, 2: M2}, {1: M1}], {1: A, 2: 664}, sid=1)
    m = run(tmp_path, [g1], [p_other])
    assert m["HOTA_all"] == pytest.approx(100.0) and m["HOTA_uncommon"] is None


def test_not_exhaustive_category(tmp_path):
    g = seq("s", [{1: M1}, {1: M1}], {1: A}, nel=[A])
    p = seq("s", [{1: M1, 2: M2}, {1: M1}], {1: A, 2: A}, scores={1: 0.5, 2: 0.9})
    m = run(tmp_path, [g], [p])
    # unmatched predictions of a not-exhaustively labelled class are dropped / ignored
    assert m["HOTA_all"] == pytest.approx(100.0)
    assert m["AP_all"] == pytest.approx(100.0)


def test_box_iou_for_hota_mask_iou_for_ap(tmp_path):
    full, hollow = box(0, 0, 8, 8), box(0, 0, 8, 8, holes=True)
    g = seq("s", [{1: full}, {1: full}], {1: A})
    p = seq("s", [{1: hollow}, {1: hollow}], {1: A})
    m = run(tmp_path, [g], [p])
    assert m["HOTA_all"] == pytest.approx(100.0)   # same bounding boxes
    assert m["AP_all"] == pytest.approx(0.0)       # mask IoU 28/64 < 0.5
    full6, hollow6 = box(0, 0, 6, 6), box(0, 0, 6, 6, holes=True)
    g2 = seq("s", [{1: full6}], {1: A})
    p2 = seq("s", [{1: hollow6}], {1: A})
    # mask IoU 20/36 = 0.556: a TP at thresholds 0.5 and 0.55 only
    assert run(tmp_path, [g2], [p2])["AP_all"] == pytest.approx(20.0)


def test_exemplar_keeps_unknown_tracks_and_skips_frames_without_gt(tmp_path):
    g = seq("s", [{1: M1}, {}, {1: M1}], {1: A})
    # track 9 is unknown to the GT: official run.py converts exemplar predictions like
    # class-guided ones (EXEMPLAR_GUIDED is set after reading), so it stays a false positive
    p = seq("s", [{1: M1, 9: FAR}, {1: M1}, {1: M1}], {1: A, 9: A})
    m = run(tmp_path, [g], [p], task="exemplar_guided")
    assert m["DetA_all"] == pytest.approx(100 * 2 / 3)   # the frame without GT is not scored
    m = run(tmp_path, [g], [p], task="class_guided")
    assert m["DetA_all"] == pytest.approx(100 * 2 / 3)   # FAR sits in a frame with GT of A


def test_distractor_and_merged_categories(tmp_path):
    cup, glass = 347, 504          # 504 (glass) is a distractor merged into 347 (cup)
    g = seq("s", [{1: M1, 2: M2}], {1: cup, 2: glass})
    p = seq("s", [{1: M1}], {1: glass})
    m = run(tmp_path, [g], [p])
    assert m["HOTA_all"] == pytest.approx(100.0) and m["AP_all"] == pytest.approx(100.0)
    assert m["HOTA_common"] == pytest.approx(100.0)


def test_open_world(tmp_path):
    g = seq("s", [{1: M1, 2: M2}, {1: M1}], {1: A, 2: C})
    p = seq("s", [{5: M1, 6: M2, 7: FAR}, {5: M1}], {5: 664, 6: 664, 7: 664})
    common = seq("s", [{1: M1}, {1: M1}], {1: A})
    uncommon = seq("s", [{2: M2}, {}], {2: C})
    m = run(tmp_path, [g], [p], task="open_world",
            split_files={"common_classes.json": [common],
                         "uncommon_classes.json": [uncommon]})
    # class-agnostic; FPs do not enter OWTA = sqrt(DetRe * AssA)
    assert m == pytest.approx({"OWTA_all": 100.0, "OWTA_common": 100.0, "OWTA_uncommon": 100.0})
    sub = tmp_path / "no_splits"
    sub.mkdir()
    m = run(sub, [g], [seq("s", [{5: M1}, {6: M1}], {5: 1, 6: 1})], task="open_world")
    # recall 2/3 (M2 missed), track 1 split over two ids: AssA 1/2
    assert m["OWTA_all"] == pytest.approx(100 * np.sqrt(2 / 3 * 0.5))
    assert m["OWTA_common"] is None and m["OWTA_uncommon"] is None  # files absent


# ------------------------------------------------------------------------ kernels

def test_hota_kernel_alignment_and_alpha():
    # one GT id, two tracker ids; IoU 0.62 in both frames
    sim = [np.array([[0.62]]), np.array([[0.62]])]
    res = H.hota_sequence([np.array([1]), np.array([1])], [np.array([3]), np.array([4])], sim)
    n_match = int(np.sum(H.ALPHAS <= 0.62))
    assert res["HOTA_TP"].tolist() == [2] * n_match + [0] * (19 - n_match)
    assert res["AssA"][0] == pytest.approx(0.5)
    comb = H.combine_sequences([res, H.empty_stats()])
    assert comb["DetA"][0] == 1.0 and comb["HOTA"][-1] == 0.0


def test_box_iou_matches_pycocotools():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 6, (5, 4)).astype(float)
    p = rng.integers(0, 6, (7, 4)).astype(float)
    ref = mask_utils.iou(g, p, [0] * len(p))
    assert np.array_equal(H.box_iou(g, p), ref)


def test_trackmap_id_zero_does_not_take_its_gt():
    ious = np.array([[0.9], [0.8]])
    args = {"gt_areas": [10.0], "gt_lengths": [2], "dt_areas": [10.0, 10.0], "dt_lengths": [2, 2]}
    pos = TM.trackmap_sequence(ious, [0.9, 0.8], [True, True], **args)["all"]
    zero = TM.trackmap_sequence(ious, [0.9, 0.8], [False, True], **args)["all"]
    assert pos["matched"][0].tolist() == [True, False]
    assert zero["matched"][0].tolist() == [True, True]   # the GT stays free after id 0
    ap = TM.combine_sequences([{"all": pos}])["AP"]
    assert ap[0] == pytest.approx(1.0) and ap[-1] == pytest.approx(0.0)


def test_trackmap_area_ranges():
    res = TM.trackmap_sequence(np.array([[0.7]]), [1.0], [True], gt_areas=[2000.0],
                               gt_lengths=[5], dt_areas=[2000.0], dt_lengths=[5])
    assert res["area_m"]["gt_ignored"].tolist() == [False]
    assert res["area_s"]["gt_ignored"].tolist() == [True]
    assert res["time_m"]["gt_ignored"].tolist() == [False]
    ap_s = TM.combine_sequences([res], "area_s")["AP"]
    assert (ap_s == -1).all()


def test_rle_totals():
    rng = np.random.default_rng(1)
    masks = [rng.random((13, 17)) < p for p in (0.0, 0.1, 0.5, 1.0)] + [box(1, 1, 3, 3)]
    strs = [rle(m.astype(np.uint8)) for m in masks]
    tot = B.rle_totals(strs + ["", "0", "\x7f", "P" * 3, "ÿ"])
    assert tot[:4].tolist() == [13 * 17] * 4 and tot[4] == 64
    assert tot[5] == 0 and tot[6] == 0 and (tot[7:] == -1).all()


# ----------------------------------------------------------------------- bad input

def _bad(tmp_path, gt_seqs, pred_seqs, task="class_guided"):
    with pytest.raises(InputError) as e:
        run(tmp_path, gt_seqs, pred_seqs, task=task)
    return str(e.value)


def test_bad_unknown_sequence(tmp_path):
    g = seq("s", [{1: M1}], {1: A})
    msg = _bad(tmp_path, [g], [g, seq("ghost", [{1: M1}], {1: A}, sid=2)])
    assert "ghost" in msg and "pred.json" in msg


def test_bad_missing_sequence_or_frame(tmp_path):
    g1, g2 = seq("s1", [{1: M1}], {1: A}, sid=1), seq("s2", [{1: M1}, {1: M1}], {1: A}, sid=2)
    assert "s2" in _bad(tmp_path, [g1, g2], [g1])
    p2 = dict(g2, annotated_image_paths=g2["annotated_image_paths"][:1],
              segmentations=g2["segmentations"][:1])
    assert "s2" in _bad(tmp_path, [g1, g2], [g1, p2])


def test_bad_frame_count(tmp_path):
    g = seq("s", [{1: M1}, {1: M1}], {1: A})
    p = dict(g, segmentations=g["segmentations"][:1])
    msg = _bad(tmp_path, [g], [p])
    assert "LaSOT/s" in msg and "1 segmentations for 2" in msg


def test_bad_rle_size(tmp_path):
    g = seq("s", [{1: M1}], {1: A})
    p = seq("s", [{1: M1}], {1: A})
    p["segmentations"][0]["1"]["rle"] = rle(np.ones((8, 9), dtype=np.uint8))
    msg = _bad(tmp_path, [g], [p])
    assert "pred.json" in msg and "LaSOT/s" in msg and "72 pixels" in msg


def test_bad_score_category_and_ids(tmp_path):
    g = seq("s", [{1: M1}], {1: A})
    p = seq("s", [{1: M1}], {1: A})
    p["segmentations"][0]["1"]["score"] = "high"
    assert "score" in _bad(tmp_path, [g], [p])
    p = seq("s", [{1: M1}], {})
    assert "no category" in _bad(tmp_path, [g], [p], task="exemplar_guided")
    p = seq("s", [{-3: M1}], {-3: A})
    assert "negative track id" in _bad(tmp_path, [g], [p])
    p = seq("s", [{1: M1}], {1: A})
    p["segmentations"][0]["x"] = p["segmentations"][0]["1"]
    p["track_category_ids"]["x"] = A
    assert "not an integer" in _bad(tmp_path, [g], [p])


def test_bad_split_and_gt(tmp_path):
    g = seq("s", [{1: M1}], {1: A})
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    (gt_dir / "all_classes.json").write_text(json.dumps({"split": "val", "sequences": [g]}))
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"split": "test", "sequences": [g]}))
    with pytest.raises(InputError, match="split"):
        B.evaluate_files("burst", str(gt_dir), str(pred), task="class_guided")
    with pytest.raises(InputError, match="all_classes.json"):
        B.evaluate_files("burst", str(tmp_path), str(pred), task="class_guided")
