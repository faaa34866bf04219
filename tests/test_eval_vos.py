"""J&F kernels and the davis17 / mose / ytvos18 evaluators on tiny hand-computed cases."""
import json

import numpy as np
import pytest

from univs_bench.errors import InputError
from univs_bench.evaluators import vos
from univs_bench.evaluators.functional import jf
from univs_bench.io.png import write_palette_png


def square(h, w, y0, y1, x0, x1, val=1, base=None):
    a = np.zeros((h, w), np.uint8) if base is None else base.copy()
    a[y0:y1, x0:x1] = val
    return a


# ----------------------------------------------------------------------------- kernels

def test_radius_and_disk_match_official_convention():
    assert jf.boundary_radius(480, 854) == 8  # ceil(0.008 * 979.6)
    assert jf.boundary_radius(8, 8) == 1
    assert jf.boundary_radius(1080, 1920) == 18
    morph = pytest.importorskip("skimage.morphology")
    for r in range(1, 12):
        assert np.array_equal(jf.disk(r), morph.disk(float(r)).astype(np.uint8))


def test_seg2bmap_square_is_offset_ring():
    m = square(8, 8, 2, 4, 2, 4)
    b = jf.seg2bmap(m)
    ring = square(8, 8, 1, 4, 1, 4)
    ring[2, 2] = 0  # boundary sits half a pixel towards the origin: 3x3 ring minus centre
    assert np.array_equal(b, ring.astype(bool))


def test_seg2bmap_image_border_quirks():
    # a full-frame mask has no boundary at all (last row/column only compare east/south)
    assert not jf.seg2bmap(np.ones((8, 8), bool)).any()
    # a mask on the last column: the boundary is the column left of it, all rows
    m = square(8, 8, 0, 8, 7, 8)
    exp = square(8, 8, 0, 8, 6, 7).astype(bool)
    assert np.array_equal(jf.seg2bmap(m), exp)


def test_j_and_f_hand_computed():
    gt = square(8, 8, 2, 4, 2, 4)
    # pred shifted two columns: no overlap, 5 of 8 boundary pixels within r=1 each way
    pred = square(8, 8, 2, 4, 4, 6)
    j, f = jf.frame_jf(gt, pred, [1], radius=1)
    assert j[0] == 0.0
    assert f[0] == pytest.approx(0.625)
    # shifted one column: J = 2/6, boundaries all within the cross
    j, f = jf.frame_jf(gt, square(8, 8, 2, 4, 3, 5), [1], radius=1)
    assert j[0] == pytest.approx(1 / 3)
    assert f[0] == 1.0


def test_empty_cases():
    z = np.zeros((8, 8), np.uint8)
    g = square(8, 8, 2, 5, 2, 5)
    j, f = jf.frame_jf(z, z, [1], 1)
    assert (j[0], f[0]) == (1.0, 1.0)  # empty union: J = 1; no boundary both sides: F = 1
    j, f = jf.frame_jf(g, z, [1], 1)
    assert (j[0], f[0]) == (0.0, 0.0)  # one side only
    j, f = jf.frame_jf(z, g, [1], 1)
    assert (j[0], f[0]) == (0.0, 0.0)
    full = np.ones((8, 8), np.uint8)
    j, f = jf.frame_jf(full, z, [1], 1)
    assert (j[0], f[0]) == (0.0, 1.0)  # full frame has no boundary: F = 1 (official quirk)


def test_void_excluded_from_j_and_f():
    gt = square(8, 8, 2, 6, 2, 6)
    pred = square(8, 8, 2, 6, 2, 8)  # 8 extra pixels in columns 6-7
    void = np.zeros((8, 8), bool)
    void[:, 6:] = True
    j, f = jf.frame_jf(gt, pred, [1], 1, void=void)
    assert (j[0], f[0]) == (1.0, 1.0)
    j, _ = jf.frame_jf(gt, pred, [1], 1)
    assert j[0] == pytest.approx(16 / 24)


def test_pairs_matrix():
    gt = square(8, 8, 0, 3, 0, 3, 1, square(8, 8, 5, 8, 5, 8, 2))
    pred = square(8, 8, 0, 3, 0, 3, 2, square(8, 8, 5, 8, 5, 8, 1))
    j, f = jf.frame_jf_pairs(gt, pred, [1, 2], [1, 2, 3], 1)
    assert j.shape == (3, 2)
    assert np.array_equal(j, [[0, 1], [1, 0], [0, 0]])
    assert np.array_equal(f, [[0, 1], [1, 0], [0, 0]])


def test_crop_kernel_matches_full_frame_reference():
    import cv2
    rng = np.random.default_rng(0)
    for _ in range(30):
        h, w = rng.integers(5, 40, 2)
        g = (rng.random((h, w)) < 0.3).astype(np.uint8)
        p = (rng.random((h, w)) < 0.3).astype(np.uint8)
        r = int(rng.integers(1, 4))
        bg, bp = jf.seg2bmap(g), jf.seg2bmap(p)
        dg = cv2.dilate(bg.astype(np.uint8), jf.disk(r)).astype(bool)
        dp = cv2.dilate(bp.astype(np.uint8), jf.disk(r)).astype(bool)
        exp = jf.f_from_counts(int(bp.sum()), int(bg.sum()), int((bp & dg).sum()), int((bg & dp).sum()))
        assert jf.frame_jf(g, p, [1], r)[1][0] == exp


def test_statistics_and_decay_bins():
    assert jf.decay_bins(4) == [(0, 2), (1, 3), (2, 3), (2, 4)]
    m, r, d = jf.db_statistics(np.array([1.0, 0.5, 0.5, 0.0]))
    assert (m, r, d) == (0.5, 0.25, 0.5)
    assert jf.db_statistics(np.array([0.7])) == (0.7, 1.0, 0.0)
    bins = jf.decay_bins(300)  # no uint8 wrap: edges stay in range
    assert bins[0][0] == 0 and bins[3][1] == 300
    assert jf.decay_wraps(300) and not jf.decay_wraps(256)


# ----------------------------------------------------------------------------- davis17 / mose

def write_seq(folder, frames):
    for t, a in enumerate(frames):
        write_palette_png(folder / f"{t:05d}.png", a)


def davis_root(tmp_path, seqs, res="480p"):
    gt = tmp_path / "gt"
    (gt / "ImageSets" / "2017").mkdir(parents=True)
    (gt / "ImageSets" / "2017" / "val.txt").write_text("\n".join(seqs) + "\n")
    for name, frames in seqs.items():
        write_seq(gt / "Annotations" / res / name, frames)
    return gt


def test_davis_drops_first_and_last_and_uses_k_from_frame0(tmp_path):
    g0 = square(8, 8, 0, 3, 0, 3, 1)
    g0[6:, 6:] = 3                               # K = 3; object 2 absent from frame 0
    g1 = square(8, 8, 0, 3, 0, 3, 1, square(8, 8, 4, 6, 0, 2, 2))
    g1[7, 0:2] = 4                               # id 4 > K: never scored
    g2 = g1.copy()
    gt = davis_root(tmp_path, {"a": [g0, g1, g2, g0]})
    pred = tmp_path / "pred" / "a"
    p1 = square(8, 8, 0, 3, 0, 3, 1)             # object 1 perfect, 2 and 3 missed
    # first and last frames: anything (even missing) does not count
    write_palette_png(pred / "00001.png", p1)
    write_palette_png(pred / "00002.png", np.where(g1 == 4, 0, g1))  # perfect frame
    r = vos.evaluate_files("davis17", str(gt), str(tmp_path / "pred"))
    pv = r.per_video["a"]
    assert set(pv) == {"1", "2", "3"}
    assert pv["1"]["J_mean"] == 100.0
    assert pv["2"]["J_mean"] == 50.0 and pv["2"]["F_mean"] == 50.0
    assert pv["3"]["J_mean"] == 100.0          # absent in GT and pred: J = F = 1
    assert r.metrics["J_mean"] == pytest.approx(250 / 3)
    assert r.metrics["J_recall"] == pytest.approx(100 * (1 + 0.5 + 1) / 3)
    # decay with 2 frames: bins [0:1], [0:2], [1:2], [1:2] -> object 2: 0 - 1 = -1
    assert r.metrics["J_decay"] == pytest.approx(-100 / 3)


def test_davis_void_is_background_in_semi_supervised(tmp_path):
    g = square(8, 8, 0, 4, 0, 4, 1)
    gv = g.copy()
    gv[:, 6:] = 255
    gt = davis_root(tmp_path, {"v": [g, gv, g]})
    pred = tmp_path / "pred" / "v"
    p = g.copy()
    p[:, 6:] = 1                                 # covers the void area: penalised
    write_palette_png(pred / "00001.png", p)
    r = vos.evaluate_files("davis17", str(gt), str(tmp_path / "pred"))
    assert r.metrics["J_mean"] == pytest.approx(100 * 16 / 32)


def test_davis_split_and_resolution_options(tmp_path):
    g = square(8, 8, 0, 4, 0, 4, 1)
    gt = davis_root(tmp_path, {"s1": [g, g, g]}, res="Full-Resolution")
    write_palette_png(tmp_path / "pred" / "s1" / "00001.png", g)
    split = tmp_path / "mysplit.txt"
    split.write_text("s1\n")
    r = vos.evaluate_files("davis17", str(gt), str(tmp_path / "pred"),
                           options={"resolution": "Full-Resolution", "split": str(split)})
    assert r.metrics["J&F"] == 100.0


def test_mose_layout(tmp_path):
    g = square(8, 8, 2, 6, 2, 6, 1)
    for v in ("m1", "m2"):
        write_seq(tmp_path / "gt" / "Annotations" / v, [g, g, g, g])
        write_seq(tmp_path / "pred" / v, [g, g, np.zeros_like(g), g])
    r = vos.evaluate_files("mose", str(tmp_path / "gt"), str(tmp_path / "pred"))
    assert r.metrics["J_mean"] == 50.0 and r.metrics["F_mean"] == 50.0
    assert r.metrics["J_decay"] == 100.0


@pytest.mark.parametrize("case", ["missing", "id", "size", "short"])
def test_davis_bad_inputs_name_the_file(tmp_path, case):
    g = square(8, 8, 0, 4, 0, 4, 1)
    frames = [g, g] if case == "short" else [g, g, g]
    gt = davis_root(tmp_path, {"seqb": frames})
    pred = tmp_path / "pred" / "seqb"
    pred.mkdir(parents=True)
    if case == "id":
        write_palette_png(pred / "00001.png", g * 2)
    elif case == "size":
        write_palette_png(pred / "00001.png", np.zeros((8, 9), np.uint8))
    elif case == "short":
        write_palette_png(pred / "00001.png", g)
    with pytest.raises(InputError, match="seqb"):
        vos.evaluate_files("davis17", str(gt), str(tmp_path / "pred"))


# ----------------------------------------------------------------------------- ytvos18

def test_ytvos_scores_after_reference_frame_and_splits_seen(tmp_path):
    gt = tmp_path / "gt"
    a = square(8, 8, 0, 3, 0, 3, 1)
    b = square(8, 8, 0, 3, 0, 3, 1, square(8, 8, 5, 8, 5, 8, 2))
    # object 1 (person, seen) from frame 0; object 2 (unseen category) appears in frame 1
    write_seq(gt / "Annotations" / "v", [a, b, b, a])
    meta = {"videos": {"v": {"objects": {"1": {"category": "person"},
                                         "2": {"category": "mystery_thing"}}}}}
    (gt / "meta.json").write_text(json.dumps(meta))
    pred = tmp_path / "pred" / "v"
    write_palette_png(pred / "00001.png", a)           # object 1 right; 2 not yet scored
    write_palette_png(pred / "00002.png", a)           # object 2 missed
    write_palette_png(pred / "00003.png", a)           # last frame counts; 2 gone: J = 1
    r = vos.evaluate_files("ytvos18", str(gt), str(tmp_path / "pred"))
    m = r.metrics
    assert m["J_seen"] == 100.0 and m["F_seen"] == 100.0
    assert m["J_unseen"] == 50.0 and m["F_unseen"] == 50.0
    assert m["G"] == 75.0
    assert r.per_video["v"]["2"]["seen"] is False


def test_ytvos_seen_file_and_empty_subset(tmp_path):
    gt = tmp_path / "gt"
    a = square(8, 8, 0, 3, 0, 3, 1)
    write_seq(gt / "Annotations" / "v", [a, a])
    (gt / "meta.json").write_text(json.dumps({"videos": {"v": {"objects": {"1": {"category": "x"}}}}}))
    write_palette_png(tmp_path / "pred" / "v" / "00001.png", a)
    seen = tmp_path / "seen.txt"
    seen.write_text("x\n")
    r = vos.evaluate_files("ytvos18", str(gt), str(tmp_path / "pred"), options={"seen": str(seen)})
    assert r.metrics["J_seen"] == 100.0
    assert r.metrics["J_unseen"] is None and r.metrics["G"] is None


def test_ytvos_bad_id_names_file(tmp_path):
    gt = tmp_path / "gt"
    a = square(8, 8, 0, 3, 0, 3, 1)
    write_seq(gt / "Annotations" / "vidz", [a, a])
    (gt / "meta.json").write_text(json.dumps({"videos": {"vidz": {"objects": {"1": {"category": "x"}}}}}))
    write_palette_png(tmp_path / "pred" / "vidz" / "00001.png", a * 5)
    with pytest.raises(InputError, match="vidz"):
        vos.evaluate_files("ytvos18", str(gt), str(tmp_path / "pred"))


def test_ytvos_seen_list_has_65_names():
    from univs_bench.metainfo.ytvos import YTVOS18_SEEN
    assert len(set(YTVOS18_SEEN)) == 65 and "person" in YTVOS18_SEEN
