"""YouTube-VIS / OVIS AP: tiny hand-computed cases and malformed input."""
import json
import zipfile

import numpy as np
import pytest

from univs_bench.errors import InputError, InputWarning
from univs_bench.evaluators.functional import vis as F
from univs_bench.evaluators.vis import evaluate_files
from univs_bench.io.rle import encode

H = W = 8


def box(y0, y1, x0, x1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


SQ = box(0, 4, 0, 4)                  # 16 px
SQ_SHIFT = box(0, 4, 2, 5)            # 12 px, 8 of them inside SQ
FAR = box(5, 8, 5, 8)                 # 9 px, disjoint from SQ


def rles(*masks):
    return [None if m is None else encode(m) for m in masks]


def gt_ann(aid, segs, cat=1, vid=1, crowd=0, occ=None):
    ann = {"id": aid, "video_id": vid, "category_id": cat, "segmentations": segs,
           "areas": [None if s is None else float(encode_area(s)) for s in segs],
           "iscrowd": crowd}
    if occ is not None:
        ann["occlusion"] = occ
    return ann


def encode_area(s):
    from univs_bench.io.rle import area
    return area(s)


def write_case(tmp_path, anns, preds, n_videos=1, n_frames=2, n_cats=2):
    videos = [{"id": v, "height": H, "width": W, "length": n_frames,
               "file_names": [f"vid{v}/{t:05d}.jpg" for t in range(n_frames)]}
              for v in range(1, n_videos + 1)]
    cats = [{"id": c, "name": f"c{c}"} for c in range(1, n_cats + 1)]
    gt = tmp_path / "valid.json"
    gt.write_text(json.dumps({"videos": videos, "categories": cats, "annotations": anns}))
    pred = tmp_path / "results.json"
    pred.write_text(json.dumps(preds))
    return str(gt), str(pred)


def det(segs, score=0.9, cat=1, vid=1):
    return {"video_id": vid, "category_id": cat, "score": score, "segmentations": segs}


# --- kernels ---------------------------------------------------------------------------

def test_tube_iou_sums_frames_and_handles_nulls():
    gt = [rles(SQ, SQ)]
    # frame 0: I=16 U=16; frame 1: I=8 U=20  -> 24/36
    assert F.tube_iou([rles(SQ, SQ_SHIFT)], gt)[0, 0] == pytest.approx(24 / 36)
    # GT null in frame 1: the prediction's 12 px join the union -> 16/28
    assert F.tube_iou([rles(SQ, SQ_SHIFT)], [rles(SQ, None)])[0, 0] == pytest.approx(16 / 28)
    # null on both sides adds nothing
    assert F.tube_iou([rles(SQ, None)], [rles(SQ, None)])[0, 0] == 1.0
    # prediction absent everywhere: 0; both absent everywhere (union 0): 0
    assert F.tube_iou([rles(None, None)], gt)[0, 0] == 0.0
    assert F.tube_iou([rles(None, None)], [rles(None, None)])[0, 0] == 0.0
    # several pairs per frame (the iou() path) agree with the pairwise path
    many = F.tube_iou([rles(SQ, SQ_SHIFT), rles(FAR, SQ), rles(SQ_SHIFT, FAR)],
                      [rles(SQ, SQ), rles(FAR, None)])
    np.testing.assert_allclose(many, [[24 / 36, 0], [16 / 41, 9 / 25], [8 / 45, 0]], rtol=1e-12)


def test_occlusion_score_takes_the_top_half():
    assert F.occlusion_score(["no_occlusion", "severe_occlusion", "slight_occlusion"]) == 0.5
    assert F.occlusion_score([None, "slight_occlusion"]) == 0.25
    assert F.occlusion_score(["no_occlusion"] * 3 + ["severe_occlusion"]) == 0.375


def test_accumulate_fp_before_tp():
    # two detections of one category, the higher-scored one is a FP; one GT
    T = len(F.IOU_THRESHOLDS)
    tp = np.zeros((1, T, 2), bool)
    tp[0, :, 1] = True
    st = F.CategoryStats(np.array([0.9, 0.8]), tp, np.zeros((1, T, 2), bool), np.array([1]))
    prec, rec = F.accumulate([[st]], 1)
    # precision 0 then 1/2, made monotone: 1/2 at every recall point
    assert np.allclose(prec[:, :, 0, 0, 2], 0.5)
    assert np.allclose(rec[:, 0, 0, 2], 1.0)
    assert np.allclose(rec[:, 0, 0, 0], 0.0)  # maxDets=1 keeps only the FP


# --- whole evaluations -----------------------------------------------------------------

def test_one_gt_one_det_known_iou(tmp_path):
    g, p = write_case(tmp_path, [gt_ann(1, rles(SQ, SQ))], [det(rles(SQ, SQ_SHIFT))])
    r = evaluate_files("ytvis19", g, p)
    m = r.metrics
    # IoU 2/3 matches at 0.50, 0.55, 0.60, 0.65: 4 of 10 thresholds with precision 1
    assert m["AP"] == pytest.approx(40.0)
    assert m["AP50"] == pytest.approx(100.0) and m["AP75"] == 0.0
    assert m["AP_s"] == pytest.approx(40.0)
    assert m["AP_m"] is None and m["AP_l"] is None and m["AR_m"] is None
    assert m["AR1"] == m["AR10"] == m["AR100"] == pytest.approx(40.0)
    v = r.per_video["1"]
    assert v["n_gt"] == 1 and v["n_pred"] == 1 and v["name"] == "vid1"
    assert v["best_iou"]["1"] == pytest.approx(2 / 3)


def test_empty_prediction_list_scores_zero(tmp_path):
    g, p = write_case(tmp_path, [gt_ann(1, rles(SQ, SQ))], [])
    with pytest.warns(InputWarning, match="no prediction at all"):
        m = evaluate_files("ytvis21", g, p).metrics
    assert m["AP"] == 0.0 and m["AR100"] == 0.0 and m["AP_m"] is None


def test_category_without_gt_is_left_out(tmp_path):
    preds = [det(rles(SQ, SQ)), det(rles(FAR, FAR), cat=2, score=0.95)]
    g, p = write_case(tmp_path, [gt_ann(1, rles(SQ, SQ))], preds)
    assert evaluate_files("ytvis19", g, p).metrics["AP"] == pytest.approx(100.0)


def test_crowd_gt_absorbs_detections(tmp_path):
    anns = [gt_ann(1, rles(SQ, SQ)), gt_ann(2, rles(FAR, FAR), crowd=1)]
    preds = [det(rles(FAR, FAR), 0.9), det(rles(FAR, FAR), 0.85), det(rles(SQ, SQ), 0.8)]
    g, p = write_case(tmp_path, anns, preds)
    # both crowd matches are ignored (a crowd GT may be matched many times), not FPs
    assert evaluate_files("ytvis19", g, p).metrics["AP"] == pytest.approx(100.0)
    only_crowd = [gt_ann(2, rles(FAR, FAR), crowd=1)]
    g, p = write_case(tmp_path, only_crowd, preds)
    assert evaluate_files("ytvis19", g, p).metrics["AP"] is None


def test_duplicate_detection_is_a_false_positive(tmp_path):
    preds = [det(rles(SQ, SQ), 0.9), det(rles(SQ, SQ), 0.8)]
    g, p = write_case(tmp_path, [gt_ann(1, rles(SQ, SQ))], preds)
    m = evaluate_files("ytvis19", g, p).metrics
    assert m["AP"] == pytest.approx(100.0)  # the FP comes after recall 1
    preds = [det(rles(FAR, FAR), 0.95), det(rles(SQ, SQ), 0.8)]
    g, p = write_case(tmp_path, [gt_ann(1, rles(SQ, SQ))], preds)
    assert evaluate_files("ytvis19", g, p).metrics["AP"] == pytest.approx(50.0)


def test_gt_id_zero_quirk(tmp_path):
    # ytvoseval.py stores the matched GT id and tests it for truth: id 0 never counts as a TP
    g, p = write_case(tmp_path, [gt_ann(0, rles(SQ, SQ))], [det(rles(SQ, SQ))])
    assert evaluate_files("ytvis19", g, p).metrics["AP"] == 0.0


def test_area_ranges_from_json_areas(tmp_path):
    ann = gt_ann(1, rles(SQ, SQ))
    ann["areas"] = [20000.0, None]  # medium by the json, whatever the masks say
    g, p = write_case(tmp_path, [ann], [det(rles(SQ, SQ))])
    m = evaluate_files("ytvis19", g, p).metrics
    assert m["AP_m"] == pytest.approx(100.0)
    assert m["AP_s"] is None and m["AP_l"] is None


def test_ovis_occlusion_ranges(tmp_path):
    anns = [gt_ann(1, rles(SQ, SQ), occ=["no_occlusion", "slight_occlusion"]),
            gt_ann(2, rles(FAR, FAR), occ=["severe_occlusion", "severe_occlusion"])]
    g, p = write_case(tmp_path, anns, [det(rles(SQ, SQ))])
    m = evaluate_files("ovis", g, p).metrics
    # the light GT (score 0.25) is found, the heavy one (0.75) is not; 0.25 is light and medium
    assert m["AP_light"] == pytest.approx(100.0) and m["AR_light"] == pytest.approx(100.0)
    assert m["AP_medium"] == pytest.approx(100.0)
    assert m["AP_heavy"] == 0.0 and m["AR_heavy"] == 0.0
    assert m["AR100"] == pytest.approx(50.0)


def test_polygon_and_uncompressed_gt_and_zip(tmp_path):
    unc = {"size": [H, W], "counts": [0, 4, 4, 4, 4, 4, 4, 4, 36]}  # column-major SQ
    poly = [[0.0, 0.0, 4.0, 0.0, 4.0, 4.0, 0.0, 4.0]]
    ann = gt_ann(1, rles(SQ, SQ))
    ann["segmentations"] = [unc, poly]
    g, p = write_case(tmp_path, [ann], [det(rles(SQ, SQ))])
    z = tmp_path / "sub.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(p, "results.json")
    r = evaluate_files("ytvis19", g, str(z))
    assert r.per_video["1"]["best_iou"]["1"] > 0.5
    assert r.metrics["AP50"] == pytest.approx(100.0)


# --- malformed input -------------------------------------------------------------------

@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.update(segmentations=d["segmentations"] + [None]), ["vid1", "3 segmentations"]),
    (lambda d: d.update(video_id=7), ["video_id 7"]),
    (lambda d: d.update(category_id=9), ["vid1", "category_id 9"]),
    (lambda d: d.update(score="high"), ["vid1", "score"]),
    (lambda d: d["segmentations"].__setitem__(0, encode(np.zeros((4, 4), bool))), ["vid1", "size"]),
    (lambda d: d["segmentations"].__setitem__(1, [[0, 0, 1, 1, 2, 2]]), ["vid1", "compressed RLE"]),
])
def test_bad_predictions_name_the_video_and_file(tmp_path, mutate, words):
    d = det(rles(SQ, SQ))
    mutate(d)
    g, p = write_case(tmp_path, [gt_ann(1, rles(SQ, SQ))], [d])
    with pytest.raises(InputError) as e:
        evaluate_files("ytvis19", g, p)
    assert "results.json" in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_malformed_json_names_the_file(tmp_path):
    g, p = write_case(tmp_path, [gt_ann(1, rles(SQ, SQ))], [])
    (tmp_path / "results.json").write_text('[{"video_id": 1,')
    with pytest.raises(InputError, match="results.json"):
        evaluate_files("ytvis19", g, p)
    (tmp_path / "results.json").write_text('{"video_id": 1}')
    with pytest.raises(InputError, match="results.json"):
        evaluate_files("ytvis19", g, p)


def test_bad_gt(tmp_path):
    ann = gt_ann(1, rles(SQ, SQ))
    g, p = write_case(tmp_path, [ann, dict(ann)], [])
    with pytest.raises(InputError, match="annotation id 1"):
        evaluate_files("ytvis19", g, p)
    g, p = write_case(tmp_path, [gt_ann(1, rles(SQ))], [])
    with pytest.raises(InputError, match="vid1"):
        evaluate_files("ytvis19", g, p)
    g, p = write_case(tmp_path, [gt_ann(1, rles(SQ, SQ))], [])
    with pytest.raises(InputError, match="occlusion"):
        evaluate_files("ovis", g, p)


def test_workers_give_the_same_numbers(tmp_path):
    anns = [gt_ann(1, rles(SQ, SQ), occ=["no_occlusion", None]),
            gt_ann(2, rles(FAR, None), vid=2, occ=["severe_occlusion", None])]
    preds = [det(rles(SQ, SQ_SHIFT)), det(rles(FAR, FAR), vid=2, score=0.5),
             det(rles(SQ, None), vid=2, score=0.7)]
    g, p = write_case(tmp_path, anns, preds, n_videos=2)
    one = evaluate_files("ovis", g, p, workers=1)
    two = evaluate_files("ovis", g, p, workers=2)
    assert one.metrics == two.metrics and one.per_video == two.per_video
    assert one.metrics["AP_heavy"] is not None and one.metrics["AP_medium"] is None
