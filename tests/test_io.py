import zipfile

import numpy as np
import pytest
from PIL import Image

from univs_bench.errors import InputError
from univs_bench.io import rle
from univs_bench.io.atomic import atomic_dir, atomic_path, atomic_write_text
from univs_bench.io.panoptic import id2rgb, rgb2id
from univs_bench.io.png import (
    davis_palette,
    read_label_png,
    read_rgb_png,
    write_grey_png,
    write_palette_png,
    write_png16,
    write_rgb_png,
)
from univs_bench.io.zip import zip_files, zip_folder


def test_rle_round_trip_area_and_iou():
    rng = np.random.default_rng(0)
    a = rng.random((13, 17)) > 0.5
    b = np.zeros_like(a)
    b[:6] = True
    ra, rb = rle.encode(a), rle.encode(b)
    assert isinstance(ra["counts"], str) and ra["size"] == [13, 17]
    assert np.array_equal(rle.decode(ra), a)
    assert rle.area(ra) == a.sum()
    inter, union = (a & b).sum(), (a | b).sum()
    assert rle.iou(ra, rb) == pytest.approx(inter / union)
    assert rle.iou(rle.encode(np.zeros((3, 3), bool)), rle.encode(np.zeros((3, 3), bool))) == 0.0


def test_rle_accepts_uncompressed_counts_and_polygons():
    m = np.zeros((4, 5), bool)
    m[1:3, 1:4] = True
    # column-major runs: col0 4 zeros; col1: 1 zero, 2 ones, 1 zero; ...
    counts = [5, 2, 2, 2, 2, 2, 5]
    assert np.array_equal(rle.decode({"size": [4, 5], "counts": counts}), m)
    poly = [[0.0, 0.0, 4.0, 0.0, 4.0, 2.0, 0.0, 2.0]]
    pm = rle.decode(poly, 4, 5)
    assert pm.shape == (4, 5) and pm[:2, :4].all() and not pm[3].any()


def test_rle_check_size_names_where():
    with pytest.raises(InputError, match="vid7 frame 2: RLE size"):
        rle.check_size(rle.encode(np.zeros((2, 2), bool)), 3, 3, "vid7 frame 2")


def test_palette_grey_and_16bit_round_trips(tmp_path):
    ids = np.arange(48, dtype=np.uint8).reshape(6, 8) % 7
    ids[0, 0] = 255
    write_palette_png(tmp_path / "p.png", ids)
    with Image.open(tmp_path / "p.png") as im:
        assert im.mode == "P"
        assert im.getpalette()[3:6] == [128, 0, 0]  # DAVIS object 1 is dark red
    assert np.array_equal(read_label_png(tmp_path / "p.png"), ids)
    write_grey_png(tmp_path / "g.png", ids)
    assert np.array_equal(read_label_png(tmp_path / "g.png"), ids)
    big = (np.arange(48, dtype=np.int64).reshape(6, 8) * 1371) % 65536
    write_png16(tmp_path / "s.png", big)
    back = read_label_png(tmp_path / "s.png")
    assert back.dtype == np.uint16 and np.array_equal(back, big)
    with pytest.raises(ValueError):
        write_palette_png(tmp_path / "x.png", np.full((2, 2), 300))


def test_davis_palette_known_entries():
    p = davis_palette()
    assert p[0].tolist() == [0, 0, 0] and p[2].tolist() == [0, 128, 0]
    assert p[255].tolist() == [224, 224, 192]


def test_rgb_label_is_rejected_unless_allowed(tmp_path):
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[1, 1] = (1, 2, 3)
    write_rgb_png(tmp_path / "c.png", rgb)
    with pytest.raises(InputError, match="c.png: RGB image"):
        read_label_png(tmp_path / "c.png")
    assert np.array_equal(read_label_png(tmp_path / "c.png", allow_rgb=True), rgb)
    assert np.array_equal(read_rgb_png(tmp_path / "c.png"), rgb)
    with pytest.raises(InputError, match="missing.png: file not found"):
        read_label_png(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="junk.png: cannot read"):
        read_label_png(tmp_path / "junk.png")


def test_panoptic_rgb_ids():
    ids = np.array([[0, 1, 256], [65536, 123456, 256 ** 3 - 1]])
    rgb = id2rgb(ids)
    assert rgb[0, 2].tolist() == [0, 1, 0] and rgb[1, 0].tolist() == [0, 0, 1]
    assert np.array_equal(rgb2id(rgb), ids)
    with pytest.raises(ValueError):
        id2rgb(np.array([256 ** 3]))


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    d = tmp_path / "dir"
    with atomic_dir(d) as t:
        (t / "a.txt").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_dir(d) as t:
            (t / "b.txt").write_text("2")
            raise RuntimeError("boom")
    assert sorted(p.name for p in d.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "out.json"]


def test_zip_folder_with_root_and_members(tmp_path):
    src = tmp_path / "preds"
    (src / "vid1").mkdir(parents=True)
    (src / "vid1" / "00000.png").write_bytes(b"x")
    zip_folder(src, tmp_path / "sub.zip", arc_root="Annotations")
    with zipfile.ZipFile(tmp_path / "sub.zip") as zf:
        assert zf.namelist() == ["Annotations/vid1/00000.png"]
    zip_files({"results.json": b"[]"}, tmp_path / "r.zip")
    with zipfile.ZipFile(tmp_path / "r.zip") as zf:
        assert zf.read("results.json") == b"[]"
