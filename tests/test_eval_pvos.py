"""VIPOSeg: IoU / boundary-IoU kernel and the viposeg evaluator on tiny hand-computed cases."""
import json

import numpy as np
import pytest

from univs_bench.errors import InputError
from univs_bench.evaluators import pvos
from univs_bench.evaluators.functional import boundary_iou as B
from univs_bench.io.png import write_palette_png
from univs_bench.metainfo import viposeg as M


def sq(y0, y1, x0, x1, val=1, base=None):
    a = np.zeros((8, 8), np.uint8) if base is None else base.copy()
    a[y0:y1, x0:x1] = val
    return a


def test_erosion_iterations():
    assert B.erosion_iterations(8, 8) == 1          # max(1, round(0.226))
    assert B.erosion_iterations(720, 1280) == 29    # round(29.37)
    assert B.erosion_iterations(480, 854) == 20     # round(19.59)


def test_boundary_band_and_image_border():
    m = sq(1, 6, 1, 6)
    exp = m.astype(bool) & ~sq(2, 5, 2, 5).astype(bool)  # 25 - 9 = 16 pixels
    assert np.array_equal(B.mask_to_boundary(m, 1), exp)
    # the image border counts as outside: a full mask keeps a one-pixel frame
    full = B.mask_to_boundary(np.ones((8, 8), bool), 1)
    assert full.sum() == 64 - 36


def test_iou_biou_hand_computed():
    g, p = sq(1, 6, 1, 6), sq(1, 6, 2, 7)
    iou, biou = B.iou_biou(g, p, 1)
    assert iou == pytest.approx(20 / 30)
    assert biou == pytest.approx(8 / 24)


def test_empty_cases():
    z = np.zeros((8, 8), bool)
    g = sq(1, 4, 1, 4).astype(bool)
    assert B.iou_biou(z, z, 1) == (1.0, 1.0)
    assert B.iou_biou(g, z, 1) == (0.0, 0.0)
    assert B.iou_biou(z, g, 1) == (0.0, 0.0)


def test_subsets():
    assert M.viposeg_subset(98, "187_WUZUSD4477I") == "stuff_unseen"
    assert M.viposeg_subset(98, "9_other") == "stuff_seen"
    assert M.viposeg_subset(102, "v") == "thing_unseen"
    assert M.viposeg_subset(17, "v") == "stuff_unseen"   # in no base list, still unseen
    assert M.viposeg_subset(60, "v") == "thing_seen"
    assert M.viposeg_subset(0, "v") == "stuff_seen"
    assert M.viposeg_subset(500, "v") is None
    assert len(M.THING_UNSEEN) == len(M.STUFF_UNSEEN) == 17


def write_video(root, vid, gt_frames, refs, pred_frames, pred_names=None):
    for t, a in enumerate(gt_frames):
        write_palette_png(root / "gt" / "Annotations_gt" / vid / f"{5 * t:08d}.png", a)
    (root / "gt" / "Annotations" / vid).mkdir(parents=True, exist_ok=True)
    for t, a in refs.items():
        write_palette_png(root / "gt" / "Annotations" / vid / f"{5 * t:08d}.png", a)
    names = pred_names or [f"{5 * t:08d}.png" for t in range(len(pred_frames))]
    for n, a in zip(names, pred_frames):
        write_palette_png(root / "pred" / vid / n, a)


def test_late_objects_and_subsets(tmp_path):
    # object 1 (thing seen, class 60) referenced at frame 0; object 2 (class 98) at frame 1
    g0 = sq(0, 3, 0, 3, 1)
    g1 = sq(0, 3, 0, 3, 1, sq(5, 8, 5, 8, 2))
    gt = [g0, g1, g1, g1]
    refs = {0: g0, 1: sq(5, 8, 5, 8, 2)}
    pred = [g0, g0, g1, sq(0, 3, 0, 3, 1)]         # object 2 right in frame 2, missed in 3
    # prediction file names do not matter: frames pair by sorted position
    write_video(tmp_path, "187_WUZUSD4477I", gt, refs, pred, ["a.png", "b.png", "c.png", "d.png"])
    (tmp_path / "gt" / "obj_class.json").write_text(json.dumps({"187_WUZUSD4477I": {"1": 60, "2": 98}}))
    r = pvos.evaluate_files("viposeg", str(tmp_path / "gt"), str(tmp_path / "pred"))
    m = r.metrics
    assert m["IoU_thing_seen"] == 100.0 and m["bIoU_thing_seen"] == 100.0
    assert m["IoU_stuff_unseen"] == 50.0 and m["G_stuff_unseen"] == 50.0
    assert m["G_thing_unseen"] is None and m["G_stuff_seen"] is None and m["G"] is None
    assert r.per_video["187_WUZUSD4477I"]["1"]["frames"] == 3


def test_all_four_subsets_pool_object_frames(tmp_path):
    g = sq(0, 2, 0, 2, 1, sq(0, 2, 6, 8, 2, sq(6, 8, 0, 2, 3, sq(6, 8, 6, 8, 4))))
    gt = [g, g, g]
    pred = [g, g, np.where(g == 4, 0, g).astype(np.uint8)]
    write_video(tmp_path, "v1", gt, {0: g}, pred)
    classes = {"1": 60, "2": 102, "3": 0, "4": 5}   # thing seen/unseen, stuff seen/unseen
    (tmp_path / "gt" / "obj_class.json").write_text(json.dumps({"v1": classes}))
    m = pvos.evaluate_files("viposeg", str(tmp_path / "gt"), str(tmp_path / "pred")).metrics
    assert m["G_thing_seen"] == m["G_thing_unseen"] == m["G_stuff_seen"] == 100.0
    assert m["G_stuff_unseen"] == 50.0
    assert m["G"] == 87.5


def test_count_mismatch_names_video(tmp_path):
    g = sq(0, 3, 0, 3, 1)
    write_video(tmp_path, "vbad", [g, g, g], {0: g}, [g, g])
    (tmp_path / "gt" / "obj_class.json").write_text(json.dumps({"vbad": {"1": 60}}))
    with pytest.raises(InputError, match="vbad"):
        pvos.evaluate_files("viposeg", str(tmp_path / "gt"), str(tmp_path / "pred"))


def test_missing_prediction_video_and_unknown_object(tmp_path):
    g = sq(0, 3, 0, 3, 1)
    write_video(tmp_path, "vok", [g, g], {0: g}, [g, g])
    write_video(tmp_path, "vgone", [g, g], {0: g}, [])
    (tmp_path / "gt" / "obj_class.json").write_text(json.dumps({"vok": {"1": 60}, "vgone": {"1": 60}}))
    with pytest.raises(InputError, match="vgone"):
        pvos.evaluate_files("viposeg", str(tmp_path / "gt"), str(tmp_path / "pred"))
    write_palette_png(tmp_path / "pred" / "vgone" / "00000000.png", g)
    write_palette_png(tmp_path / "pred" / "vgone" / "00000005.png", g)
    (tmp_path / "gt" / "obj_class.json").write_text(json.dumps({"vok": {"1": 60}, "vgone": {}}))
    with pytest.raises(InputError, match="vgone"):
        pvos.evaluate_files("viposeg", str(tmp_path / "gt"), str(tmp_path / "pred"))
