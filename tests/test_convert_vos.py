import json

import numpy as np
import pytest

from univs_bench.data_converters.vos import DAVISConverter, MOSEConverter, PaletteWriter, YouTubeVOSConverter
from univs_bench.errors import InputError
from univs_bench.io.png import read_label_png, write_palette_png
from univs_bench.schema import AnnotationFile


def _davis(root, frames=3, h=6, w=8, late=True):
    for seq in ("a", "b"):
        for f in range(frames):
            ids = np.zeros((h, w), np.uint8)
            ids[0:2, 0:2] = 1
            if f >= 1 and late:
                ids[4:6, 5:8] = 2  # object 2 appears on frame 1
            ids[3, 3] = 255        # void is not an object
            write_palette_png(root / "Annotations" / "480p" / seq / f"{f:05d}.png", ids)
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("a\nb\n")


def test_davis_tracks_prompts_and_writer_round_trip(tmp_path):
    _davis(tmp_path / "DAVIS")
    af = DAVISConverter().load(str(tmp_path / "DAVIS"), "val")
    assert [v.video.id for v in af.data_list] == ["a", "b"]
    v = af.data_list[0]
    assert (v.video.height, v.video.width, v.video.num_frames) == (6, 8, 3)
    assert [t.id for t in v.tracks] == [1, 2]
    assert v.tracks[1].masks[0] is None
    assert v.tracks[1].masks[1] == {"png": "Annotations/480p/a/00001.png", "id": 2}
    assert [(p.target, p.frame) for p in v.prompts] == [(1, 0), (2, 1)]
    out = PaletteWriter().write_all(af.data_list, tmp_path / "pred", af.metainfo)
    got = read_label_png(out / "a" / "00002.png")
    want = read_label_png(tmp_path / "DAVIS/Annotations/480p/a/00002.png")
    want[want == 255] = 0
    assert np.array_equal(got, want)


def test_convert_streams_a_valid_annotation_file(tmp_path):
    _davis(tmp_path / "DAVIS")
    rep = DAVISConverter().convert(str(tmp_path / "DAVIS"), "val", str(tmp_path / "ann.json"), progress=False)
    assert (rep.videos, rep.frames, rep.tracks, rep.prompts) == (2, 6, 4, 4)
    back = AnnotationFile.load(str(tmp_path / "ann.json"))
    assert back.validate() == []
    assert back.metainfo.root == str((tmp_path / "DAVIS").resolve())


def test_bad_inputs_name_the_file_and_skip_bad_lists_them(tmp_path):
    root = tmp_path / "DAVIS"
    _davis(root)
    write_palette_png(root / "Annotations/480p/b/00001.png", np.zeros((5, 8), np.uint8))
    with pytest.raises(InputError, match=r"b/00001.png: size 8x5 differs"):
        DAVISConverter().load(str(root), "val")
    rep = DAVISConverter().convert(str(root), "val", str(tmp_path / "ann.json"), skip_bad=True, progress=False)
    assert rep.videos == 1 and [v for v, _ in rep.skipped] == ["b"]
    (root / "ImageSets/2017/val.txt").write_text("a\nzz\n")
    with pytest.raises(InputError, match="zz"):
        DAVISConverter().load(str(root), "val")


def test_ytvos_meta_categories_and_unknown_object(tmp_path):
    base = tmp_path / "ytvos" / "valid"
    ids = np.zeros((4, 4), np.uint8)
    ids[:2, :2] = 1
    write_palette_png(base / "Annotations/v1/00000.png", ids)
    ids2 = ids.copy()
    ids2[2:, 2:] = 2
    write_palette_png(base / "Annotations/v1/00005.png", ids2)
    for f in ("00000", "00005", "00010"):
        (base / "JPEGImages/v1").mkdir(parents=True, exist_ok=True)
        (base / "JPEGImages/v1" / f"{f}.jpg").write_bytes(b"")
    meta = {"videos": {"v1": {"objects": {"1": {"category": "zebra", "frames": ["00000", "00005", "00010"]},
                                          "2": {"category": "ant", "frames": ["00005", "00010"]}}}}}
    (base / "meta.json").write_text(json.dumps(meta))
    af = YouTubeVOSConverter().load(str(tmp_path / "ytvos"), "valid")
    v = af.data_list[0]
    assert [c.name for c in af.metainfo.categories] == ["ant", "zebra"]
    assert [(t.id, t.category, t.first_frame()) for t in v.tracks] == [(1, 2, 0), (2, 1, 1)]
    assert v.video.annotated == [0, 1, 2]
    del meta["videos"]["v1"]["objects"]["2"]
    (base / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="object id 2 of video 'v1' is not in meta.json"):
        YouTubeVOSConverter().load(str(tmp_path / "ytvos"), "valid")


def test_mose_reads_golden_layout():
    from pathlib import Path
    gt = Path(__file__).resolve().parents[2] / "shared" / "golden" / "mose" / "basic" / "gt"
    if not gt.is_dir():
        pytest.skip("shared golden cases not present")
    af = MOSEConverter().load(str(gt), "valid")
    assert len(af.data_list) == 2 and all(v.tracks for v in af.data_list)
