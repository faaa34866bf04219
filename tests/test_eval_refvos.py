"""refdavis17 (DAVIS unsupervised + Hungarian, four anno sets) and refytvos on tiny cases."""
import json

import numpy as np
import pytest

from univs_bench.errors import InputError
from univs_bench.evaluators import refvos
from univs_bench.io.png import write_grey_png, write_palette_png


def sq(y0, y1, x0, x1, val=1, base=None):
    a = np.zeros((8, 8), np.uint8) if base is None else base.copy()
    a[y0:y1, x0:x1] = val
    return a


TWO = sq(0, 3, 0, 3, 1, sq(5, 8, 5, 8, 2))          # object 1 top-left, object 2 bottom-right
SWAPPED = sq(0, 3, 0, 3, 2, sq(5, 8, 5, 8, 1))


def refdavis(tmp_path, gt_frames, preds_per_set, seq="s"):
    gt = tmp_path / "gt"
    (gt / "ImageSets" / "2017").mkdir(parents=True)
    (gt / "ImageSets" / "2017" / "val.txt").write_text(seq + "\n")
    for t, a in enumerate(gt_frames):
        write_palette_png(gt / "Annotations_unsupervised" / "480p" / seq / f"{t:05d}.png", a)
    for k, frames in enumerate(preds_per_set):
        for t, a in enumerate(frames):
            write_palette_png(tmp_path / "pred" / f"anno_{k}" / seq / f"{t:05d}.png", a)
    return str(gt), str(tmp_path / "pred")


def test_hungarian_permutation_and_all_frames_scored(tmp_path):
    gt_frames = [TWO, TWO, TWO]
    perfect = [SWAPPED] * 3                       # ids permuted: Hungarian undoes it
    first_wrong = [np.zeros_like(TWO), SWAPPED, SWAPPED]  # frame 0 counts (nothing dropped)
    gt, pred = refdavis(tmp_path, gt_frames, [perfect, perfect, perfect, first_wrong])
    r = refvos.evaluate_files("refdavis17", gt, pred)
    m = r.metrics
    assert m["J&F_anno0"] == 100.0
    assert m["J&F_anno3"] == pytest.approx(100 * 2 / 3)
    assert m["J&F"] == pytest.approx((300 + 200 / 3) / 4)
    assert m["J_mean"] == m["F_mean"] == pytest.approx(m["J&F"])
    assert r.per_video["anno_0"]["s"]["1"]["proposal"] == 2


def test_extra_proposals_best_one_assigned(tmp_path):
    gt_frames = [sq(0, 4, 0, 4, 1)] * 2
    # proposal 3 is exact, proposal 2 elsewhere, proposal 1 empty
    p2 = sq(0, 4, 0, 4, 3, sq(6, 8, 6, 8, 2))
    gt, pred = refdavis(tmp_path, gt_frames, [[p2, p2]] * 4)
    r = refvos.evaluate_files("refdavis17", gt, pred)
    assert r.metrics["J&F"] == 100.0
    assert r.per_video["anno_2"]["s"]["1"]["proposal"] == 3


def test_void_excluded(tmp_path):
    g = sq(0, 4, 0, 4, 1)
    g[:, 6:] = 255
    p = sq(0, 4, 0, 4, 1)
    p[:, 6:] = 1                                  # wrong only on void pixels
    gt, pred = refdavis(tmp_path, [g, g], [[p, p]] * 4)
    assert refvos.evaluate_files("refdavis17", gt, pred).metrics["J&F"] == 100.0


def test_fewer_proposals_than_objects_pads_empty(tmp_path):
    gt, pred = refdavis(tmp_path, [TWO, TWO], [[sq(0, 3, 0, 3, 1)] * 2] * 4)
    r = refvos.evaluate_files("refdavis17", gt, pred)
    assert r.metrics["J_mean"] == 50.0 and r.metrics["F_mean"] == 50.0


def test_too_many_proposals_names_file(tmp_path):
    gt, pred = refdavis(tmp_path, [TWO, TWO], [[TWO, TWO * 11]] * 4, seq="seqx")
    with pytest.raises(InputError, match="seqx"):
        refvos.evaluate_files("refdavis17", gt, pred)


def test_missing_anno_set(tmp_path):
    gt, pred = refdavis(tmp_path, [TWO, TWO], [[TWO, TWO]] * 3)
    with pytest.raises(InputError, match="anno_3"):
        refvos.evaluate_files("refdavis17", gt, pred)


def test_missing_frame_names_file(tmp_path):
    gt, pred = refdavis(tmp_path, [TWO, TWO, TWO], [[TWO, TWO]] * 4, seq="seqm")
    with pytest.raises(InputError, match="seqm.*00002"):
        refvos.evaluate_files("refdavis17", gt, pred)


# ----------------------------------------------------------------------------- refytvos

def refytvos(tmp_path, pred_frames):
    gt = tmp_path / "gt"
    frames = [TWO, TWO]
    for t, a in enumerate(frames):
        write_palette_png(gt / "Annotations" / "vid" / f"{t:05d}.png", a)
    meta = {"videos": {"vid": {"expressions": {"0": {"exp": "a", "obj_id": "1"},
                                               "1": {"exp": "b", "obj_id": "2"}}}}}
    (gt / "meta_expressions.json").write_text(json.dumps(meta))
    for e, fr in pred_frames.items():
        for t, a in enumerate(fr):
            write_grey_png(tmp_path / "pred" / "Annotations" / "vid" / e / f"{t:05d}.png", a)
    return str(gt), str(tmp_path / "pred")


def test_refytvos_per_expression_all_frames(tmp_path):
    obj1 = (TWO == 1).astype(np.uint8) * 255
    gt, pred = refytvos(tmp_path, {"0": [obj1, obj1], "1": [obj1, np.zeros_like(obj1)]})
    r = refvos.evaluate_files("refytvos", gt, pred)
    assert r.metrics["J"] == 50.0 and r.metrics["F"] == 50.0 and r.metrics["J&F"] == 50.0
    assert r.per_video["vid"]["0"]["J"] == 100.0


def test_refytvos_missing_prediction(tmp_path):
    obj1 = (TWO == 1).astype(np.uint8) * 255
    gt, pred = refytvos(tmp_path, {"0": [obj1, obj1], "1": [obj1]})
    with pytest.raises(InputError, match="vid"):
        refvos.evaluate_files("refytvos", gt, pred)
