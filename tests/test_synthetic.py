"""The synthetic suite: every benchmark's layout is complete and self-consistent, and reproducible."""
from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from gt_predictions import gt_as_prediction
from PIL import Image

from univs_bench.benchmarks import BENCHMARKS
from univs_bench.errors import InputError
from univs_bench.io import rle as R
from univs_bench.io.panoptic import rgb2id
from univs_bench.synthetic import SynthConfig, gt_path, tables, write_suite
from univs_bench.synthetic.scene import make_video, referring_expressions

SMALL = SynthConfig(seed=0, videos=2, frames=5, size=(48, 64))


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """The default suite (timed: it must stay a few seconds)."""
    out = tmp_path_factory.mktemp("suite")
    t0 = time.perf_counter()
    written = write_suite(out, cfg=SynthConfig(seed=0))
    seconds = time.perf_counter() - t0
    return out, written, seconds


def _png(path: Path):
    with Image.open(path) as im:
        return im.mode, np.array(im)


def _stems(folder: Path, ext: str) -> list[str]:
    return sorted(p.stem for p in folder.glob(f"*{ext}"))


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- suite-wide
def test_default_suite_all_benchmarks_fast(suite):
    out, written, seconds = suite
    assert list(written) == list(BENCHMARKS)
    for name, path in written.items():
        assert path == out / name and (path / "README.txt").is_file()
        assert gt_path(out, name).exists(), name
        assert str(Path(gt_path(out, name)).relative_to(path)) in (path / "README.txt").read_text()
    assert seconds < 30, f"default suite took {seconds:.1f}s"
    assert not list(out.glob(".*")), "temporary folders left behind"


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    names = ["davis17", "ytvis19", "vipseg", "burst", "refdavis17"]
    write_suite(tmp_path / "a", names, SMALL)
    write_suite(tmp_path / "b", names, SMALL)
    write_suite(tmp_path / "c", names, SynthConfig(seed=1, videos=2, frames=5, size=(48, 64)))
    for n in names:
        assert _tree_hash(tmp_path / "a" / n) == _tree_hash(tmp_path / "b" / n), n
        assert _tree_hash(tmp_path / "a" / n) != _tree_hash(tmp_path / "c" / n), n
    # Rewriting replaces the folder: a stray file disappears.
    (tmp_path / "a" / "davis17" / "stray.txt").write_text("x")
    write_suite(tmp_path / "a", ["davis17"], SMALL)
    assert not (tmp_path / "a" / "davis17" / "stray.txt").exists()


def test_small_config_sizes(tmp_path):
    write_suite(tmp_path, ["mose", "viposeg"], SMALL)
    jpgs = list((tmp_path / "mose" / "train" / "JPEGImages").rglob("*.jpg"))
    assert len(jpgs) == 2 * 5
    with Image.open(jpgs[0]) as im:
        assert im.size == (64, 48) and im.mode == "RGB"


def test_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="nope"):
        write_suite(tmp_path, ["nope"], SMALL)
    with pytest.raises(InputError):
        write_suite(tmp_path, ["davis17"], SynthConfig(frames=1))
    with pytest.raises(InputError):
        write_suite(tmp_path, ["davis17"], SynthConfig(size=(8, 8)))


def test_category_tables_match_official_ids():
    from univs_bench.metainfo import burst, viposeg, vipseg, ytvis
    cats = {c["id"]: c for c in vipseg.VIPSEG_CATEGORIES}
    assert all(cats[c]["isthing"] for c in tables.VIPSEG_THING_SHAPES.values())
    assert not any(cats[c]["isthing"] for c in tables.VIPSEG_STUFF.values())
    assert cats[tables.VIPSEG_STUFF["sky"]]["name"] == "sky"
    unseen = viposeg.THING_UNSEEN | viposeg.STUFF_UNSEEN
    for c in tables.VIPOSEG_THING_SHAPES.values():
        assert c in viposeg.THING_CLASSES and (c in unseen) == (c in tables.VIPOSEG_UNSEEN)
    for c in tables.VIPOSEG_STUFF.values():
        assert c in viposeg.STUFF_CLASSES | viposeg.STUFF_UNSEEN and (c in unseen) == (c in tables.VIPOSEG_UNSEEN)
    for c in tables.BURST_SHAPES.values():
        assert c not in burst.BURST_DISTRACTOR_IDS and c not in burst.BURST_MERGED_IDS
    assert {tables.burst_is_common(c) for c in tables.BURST_SHAPES.values()} == {True, False}
    for d in ("ytvis19", "ytvis21", "ovis"):
        ids = {tables.ytvis_category(d, s) for s in ("circle", "square", "triangle", "star", "ring", "diamond")}
        assert len(ids) == 6 and ids <= set(range(1, len(ytvis.class_names(d)) + 1))
    assert ytvis.class_names("ytvis19")[5] == "sedan" and ytvis.class_names("ovis")[-1] == "Vehical"


# --------------------------------------------------------------------------- scene
def test_scene_properties():
    late = reenter = occluded = 0
    for seed in range(12):
        v = make_video(f"v{seed}", seed, (96, 160), 10)
        assert len(v.rgb) == len(v.inst) == len(v.stuff_map) == 10
        assert v.rgb[0].shape == (96, 160, 3) and v.rgb[0].dtype == np.uint8
        assert sorted(np.unique(np.concatenate([m.ravel() for m in v.inst])).tolist())[1:] == \
            [o.index for o in v.objects]
        firsts = [o.first_frame for o in v.objects]
        assert firsts == sorted(firsts)  # numbered by first appearance
        for o in v.objects:
            assert [int((m == o.index).sum()) for m in v.inst] == o.areas
            late += o.first_frame > 0
            vis = [a > 0 for a in o.areas]
            reenter += any(not vis[t] and any(vis[:t]) and any(vis[t + 1:]) for t in range(10))
            occluded += any(a < f for a, f in zip(o.areas, o.full_areas))
        exps = referring_expressions(v, np.random.default_rng(seed))
        flat = [e for k in exps for e in exps[k]]
        assert all(exps[o.index] for o in v.objects)
        assert len(flat) == len(set(flat)), "an expression names two objects"
    assert late and reenter and occluded
    v = make_video("d", 5, (96, 160), 10, first_frame_all=True, late_objects=False)
    assert all(o.areas[0] > 0 for o in v.objects)


def test_expressions_are_true_and_unambiguous():
    from univs_bench.synthetic.scene import COLORS, SHAPES, _motion, _position
    for seed in (3, 7, 11):
        v = make_video("e", seed, (96, 160), 10)
        exps = referring_expressions(v, np.random.default_rng(0), per_object=10)

        def fits(o, text, v=v):
            words = text.split()
            color = next((c for c in COLORS if c in words), None)
            shape = next((s for s in SHAPES if s in words), None)
            motion = next((m for m in ("moving left", "moving right", "moving up", "moving down")
                           if m in text), None)
            pos = next((p for p in ("on the left", "on the right", "at the top", "at the bottom")
                        if p in text), None)
            return ((color is None or o.color == color) and (shape is None or o.shape == shape)
                    and (motion is None or _motion(o) == motion)
                    and (pos is None or pos in _position(o, v.objects, v.width, v.height)))

        for o in v.objects:
            assert exps[o.index]
            for text in exps[o.index]:
                assert [p.index for p in v.objects if fits(p, text)] == [o.index], text


# --------------------------------------------------------------------------- per benchmark
@pytest.mark.parametrize("bench,json_name,server_json", [
    ("ytvis19", "valid_full/valid.json", "valid.json"),
    ("ytvis21", "valid_full/instances.json", "valid/instances.json"),
    ("ovis", "valid_full/annotations_valid.json", "annotations_valid.json"),
])
def test_vis_layout(suite, bench, json_name, server_json):
    root = suite[0] / bench
    gt = json.loads((root / json_name).read_text())
    server = json.loads((root / server_json).read_text())
    assert server["annotations"] == [] and server["videos"] == gt["videos"]
    n_cat = 25 if bench == "ovis" else 40
    assert [c["id"] for c in gt["categories"]] == list(range(1, n_cat + 1))
    img_root = root / ("valid" if bench == "ovis" else "valid/JPEGImages")
    videos = {v["id"]: v for v in gt["videos"]}
    assert len(videos) == 4 and gt["annotations"]
    for v in videos.values():
        assert len(v["file_names"]) == v["length"] == 10
        assert all((img_root / f).is_file() for f in v["file_names"])
    for a in gt["annotations"]:
        v = videos[a["video_id"]]
        assert 1 <= a["category_id"] <= n_cat
        assert len(a["segmentations"]) == len(a["areas"]) == len(a["bboxes"]) == v["length"]
        assert any(s is not None for s in a["segmentations"])
        for s, area, box in zip(a["segmentations"], a["areas"], a["bboxes"]):
            if s is None:
                assert area is None and box is None
                continue
            m = R.decode(s)
            assert m.shape == (v["height"], v["width"]) and m.sum() == area > 0
            ys, xs = np.nonzero(m)
            assert box == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        if bench == "ovis":
            assert [o is None for o in a["occlusion"]] == [s is None for s in a["segmentations"]]
            assert set(a["occlusion"]) <= {None, "no_occlusion", "slight_occlusion", "severe_occlusion"}
    train = json.loads((root / {"ytvis19": "train.json", "ytvis21": "train/instances.json",
                                "ovis": "annotations_train.json"}[bench]).read_text())
    assert train["annotations"] and len(train["videos"]) == 4


def test_vspw_layout(suite):
    base = suite[0] / "vspw" / "VSPW_480p"
    val = (base / "val.txt").read_text().split()
    assert len(val) == 4 and len((base / "train.txt").read_text().split()) == 4
    values = set()
    for v in val:
        stems = _stems(base / "data" / v / "mask", ".png")
        assert stems == _stems(base / "data" / v / "origin", ".jpg") and len(stems) == 10
        for s in stems:
            mode, a = _png(base / "data" / v / "mask" / f"{s}.png")
            assert mode == "P" and a.shape == (96, 160)
            values |= set(np.unique(a).tolist())
    assert values <= set(range(125)) | {255}
    assert 255 in values and 29 in values  # void seams and sky (raw 29)


def test_vipseg_layout(suite):
    root = suite[0] / "vipseg"
    coco = root / "VIPSeg_720P"
    gt = json.loads((coco / "panoptic_gt_VIPSeg_val.json").read_text())
    cats = {c["id"]: c for c in gt["categories"]}
    assert sorted(cats) == list(range(124))
    assert (root / "VIPSeg" / "val.txt").read_text().split() == [v["video_id"] for v in gt["videos"]]
    for vid, ann in zip(gt["videos"], gt["annotations"]):
        name = vid["video_id"]
        assert ann["video_id"] == name and len(ann["annotations"]) == len(vid["images"]) == 10
        thing_ids = {}
        for img, fa in zip(vid["images"], ann["annotations"]):
            assert fa["image_id"] == img["id"] and fa["file_name"] == f"{img['id']}.png"
            mode, rgb = _png(coco / "panomasksRGB" / name / fa["file_name"])
            assert mode == "RGB" and rgb.shape == (img["height"], img["width"], 3)
            ids = rgb2id(rgb)
            u, c = np.unique(ids[ids > 0], return_counts=True)
            segs = {s["id"]: s for s in fa["segments_info"]}
            assert sorted(segs) == u.tolist()
            assert [segs[i]["area"] for i in u.tolist()] == c.tolist()
            rmode, raw = _png(root / "VIPSeg" / "panomasks" / name / fa["file_name"])
            assert rmode.startswith("I;16") and np.array_equal(raw, _png(coco / "panomasks" / name / fa["file_name"])[1])
            assert (root / "VIPSeg" / "imgs" / name / f"{img['id']}.jpg").is_file()
            for i in u.tolist():
                vals = np.unique(raw[ids == i])
                assert len(vals) == 1
                val = int(vals[0])
                cat = segs[i]["category_id"]
                assert cat == (val if val < 125 else val // 100) - 1
                assert cats[cat]["isthing"] == (val >= 125)
                if val >= 125:
                    assert thing_ids.setdefault(val, i) == i  # one id per instance per video


@pytest.mark.parametrize("bench,ann,first_all", [
    ("davis17", "DAVIS/Annotations/480p", True), ("refdavis17", "DAVIS/Annotations_unsupervised/480p", False)])
def test_davis_layout(suite, bench, ann, first_all):
    root = suite[0] / bench / "DAVIS"
    val = (root / "ImageSets/2017/val.txt").read_text().split()
    assert len(val) == 4 and not set(val) & set((root / "ImageSets/2017/train.txt").read_text().split())
    late = False
    for seq in val:
        stems = _stems(root / ann.split("/", 1)[1] / seq, ".png")
        assert stems == _stems(root / "JPEGImages/480p" / seq, ".jpg") == [f"{i:05d}" for i in range(10)]
        maps = [_png(root / ann.split("/", 1)[1] / seq / f"{s}.png") for s in stems]
        assert all(m == "P" and a.shape == (96, 160) for m, a in maps)
        ids = set(np.unique(np.stack([a for _, a in maps])).tolist()) - {0}
        first = set(np.unique(maps[0][1]).tolist()) - {0}
        assert ids == set(range(1, len(ids) + 1))
        if first_all:
            assert first == ids
        late |= first != ids
    if bench == "refdavis17":
        texts = root.parent / "davis_text_annotations"
        for key in ("annot1", "annot1_full_video", "annot2", "annot2_full_video"):
            lines = (texts / f"Davis17_{key}.txt").read_text().splitlines()
            assert len(lines) > 8
            for line in lines:
                m = re.fullmatch(r'(\S+) (\d+) "(.+)"', line)
                assert m, line
                seq, oid = m.group(1), int(m.group(2))
                a = _png(root / ann.split("/", 1)[1] / seq / "00000.png")[1]
                assert oid >= 1 and (root / ann.split("/", 1)[1] / seq).is_dir()
                assert a.max() <= 255


def test_ytvos_layout(suite):
    root = suite[0] / "ytvos18"
    meta = json.loads((root / "valid_full/meta.json").read_text())["videos"]
    assert meta == json.loads((root / "valid/meta.json").read_text())["videos"]
    seen = tables.ytvos_seen()
    cats = set()
    for vid, info in meta.items():
        frames = _stems(root / "valid/JPEGImages" / vid, ".jpg")
        assert frames == _stems(root / "valid_full/Annotations" / vid, ".png") == [f"{5 * i:05d}" for i in range(10)]
        full = {f: _png(root / "valid_full/Annotations" / vid / f"{f}.png")[1] for f in frames}
        refs = {f: _png(root / "valid/Annotations" / vid / f"{f}.png")[1]
                for f in _stems(root / "valid/Annotations" / vid, ".png")}
        for oid, o in info["objects"].items():
            k = int(oid)
            cats.add(o["category"])
            present = [f for f in frames if (full[f] == k).any()]
            assert present == o["frames"]
            in_refs = [f for f, m in refs.items() if (m == k).any()]
            assert in_refs == [present[0]]
            assert np.array_equal(refs[present[0]] == k, full[present[0]] == k)
    assert cats & seen and cats - seen
    assert {tables.ytvos_category(s) for s in ("circle", "square", "triangle")} & cats


def test_mose_layout(suite):
    root = suite[0] / "mose"
    vids = sorted(p.name for p in (root / "valid/JPEGImages").iterdir())
    assert len(vids) == 4
    for v in vids:
        assert _stems(root / "valid/Annotations" / v, ".png") == ["00000"]
        stems = _stems(root / "valid_full/Annotations" / v, ".png")
        assert stems == _stems(root / "valid/JPEGImages" / v, ".jpg") and len(stems) == 10
        first = _png(root / "valid/Annotations" / v / "00000.png")
        assert first[0] == "P" and np.array_equal(first[1], _png(root / "valid_full/Annotations" / v / "00000.png")[1])
        ids = set(np.unique(np.stack([_png(root / "valid_full/Annotations" / v / f"{s}.png")[1] for s in stems])).tolist())
        assert ids == set(np.unique(first[1]).tolist())


def test_refytvos_layout(suite):
    root = suite[0] / "refytvos"
    server = json.loads((root / "meta_expressions/valid/meta_expressions.json").read_text())["videos"]
    full = json.loads((root / "valid_full/meta_expressions.json").read_text())["videos"]
    train = json.loads((root / "meta_expressions/train/meta_expressions.json").read_text())["videos"]
    assert set(server) == set(full) and len(full) == 4 and len(train) == 4
    assert all("obj_id" in e for v in train.values() for e in v["expressions"].values())
    for vid, info in full.items():
        assert all(set(e) == {"exp"} for e in server[vid]["expressions"].values())
        assert [e["exp"] for e in server[vid]["expressions"].values()] == \
            [e["exp"] for e in info["expressions"].values()]
        assert info["frames"] == _stems(root / "valid/JPEGImages" / vid, ".jpg") == \
            _stems(root / "valid_full/Annotations" / vid, ".png")
        ids = set(np.unique(np.stack([_png(root / "valid_full/Annotations" / vid / f"{f}.png")[1]
                                      for f in info["frames"]])).tolist()) - {0}
        assert {int(e["obj_id"]) for e in info["expressions"].values()} == ids
    assert (root / "train/meta.json").is_file() and any((root / "train/Annotations").iterdir())


def test_burst_layout(suite):
    root = suite[0] / "burst"
    ann = root / "annotations/val"
    full = json.loads((ann / "all_classes.json").read_text())
    common = json.loads((ann / "common_classes.json").read_text())
    uncommon = json.loads((ann / "uncommon_classes.json").read_text())
    first = json.loads((ann / "first_frame_annotations.json").read_text())
    assert full["split"] == "val" and len(full["sequences"]) == 4
    kinds = set()
    for s, c, u, f in zip(full["sequences"], common["sequences"], uncommon["sequences"], first["sequences"]):
        tracks = s["track_category_ids"]
        assert tracks and set(c["track_category_ids"]) | set(u["track_category_ids"]) == set(tracks)
        assert not set(c["track_category_ids"]) & set(u["track_category_ids"])
        kinds |= {tables.burst_is_common(cat) for cat in tracks.values()}
        assert len(s["segmentations"]) == len(s["annotated_image_paths"]) == len(f["segmentations"])
        for p in s["all_image_paths"]:
            assert (root / "frames/val" / s["dataset"] / s["seq_name"] / p).is_file()
        seen_first = []
        for frame, ff in zip(s["segmentations"], f["segmentations"]):
            assert set(frame) <= set(tracks)
            for _tid, d in frame.items():
                m = R.decode({"size": [s["height"], s["width"]], "counts": d["rle"]})
                assert m.any()
            for tid, d in ff.items():
                assert d["rle"] == frame[tid]["rle"] and len(d["bbox"]) == 4
                x, y = d["point"]
                assert R.decode({"size": [s["height"], s["width"]], "counts": d["rle"]})[y, x]
                seen_first.append(tid)
        assert sorted(seen_first) == sorted(tracks)
    assert kinds == {True, False}
    assert (root / "annotations/train/all_classes.json").is_file()


def test_viposeg_layout(suite):
    root = suite[0] / "viposeg" / "valid"
    obj_class = json.loads((root / "obj_class.json").read_text())
    meta = json.loads((root / "meta.json").read_text())["videos"]
    assert set(obj_class) == set(meta) and len(meta) == 4
    subsets = set()
    thing_classes = set(tables.VIPOSEG_THING_SHAPES.values())
    for vid, classes in obj_class.items():
        frames = _stems(root / "Annotations_gt" / vid, ".png")
        assert frames == _stems(root / "JPEGImages" / vid, ".jpg") == [f"{5 * i:08d}" for i in range(10)]
        gt = {f: _png(root / "Annotations_gt" / vid / f"{f}.png") for f in frames}
        assert all(m == "P" for m, _ in gt.values())
        ids = set(np.unique(np.stack([a for _, a in gt.values()])).tolist()) - {0}
        assert ids == {int(k) for k in classes}
        refs = {f: _png(root / "Annotations" / vid / f"{f}.png")[1] for f in _stems(root / "Annotations" / vid, ".png")}
        for k, cls in classes.items():
            present = [f for f in frames if (gt[f][1] == int(k)).any()]
            assert meta[vid]["objects"][k] == {"category": cls, "frames": present}
            assert [f for f, m in refs.items() if (m == int(k)).any()] == [present[0]]
            subsets.add((cls in thing_classes, cls in tables.VIPOSEG_UNSEEN))
    assert subsets == {(True, True), (True, False), (False, True), (False, False)}
    assert (root.parent / "train/obj_class.json").is_file()


_NOT_PERFECT = {"AR1", "J_decay", "F_decay"}  # AR1: several instances of a class per video


@pytest.fixture(scope="module")
def small_suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    write_suite(out, cfg=SynthConfig(seed=3, videos=2, frames=9, size=(48, 64)))
    return out


@pytest.mark.parametrize("bench,task", [(b, None) for b in BENCHMARKS if b != "burst"]
                         + [("burst", t) for t in ("class_guided", "exemplar_guided", "open_world")])
def test_gt_scores_perfectly_against_itself(small_suite, tmp_path, bench, task):
    try:
        import importlib

        from univs_bench.evaluators.api import evaluate
        importlib.import_module(BENCHMARKS[bench].evaluator.split(":")[0])
    except ImportError:
        pytest.skip(f"no evaluator for {bench} yet")
    gt = gt_path(small_suite, bench)
    pred = gt_as_prediction(bench, gt, tmp_path / "pred")
    metrics = evaluate(bench, str(gt), str(pred), task=task).metrics
    assert metrics
    for name, value in metrics.items():
        if value is None or name in _NOT_PERFECT:
            continue
        assert value == pytest.approx(100.0), (name, value)
    assert metrics[BENCHMARKS[bench].metrics_for(task)[0]] == pytest.approx(100.0)
