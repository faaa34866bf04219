"""YouTube-VIS 2019/2021, OVIS, VSPW and VIPSeg: converters, writers, GT round trip, dev split."""
import copy
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from univs_bench.benchmarks import get_benchmark
from univs_bench.data_converters.split import balanced_holdout, split_dataset
from univs_bench.data_converters.vis import (
    OVISConverter,
    ResultsJsonWriter,
    YTVIS19Converter,
    YTVIS21Converter,
)
from univs_bench.data_converters.vps import THING_ID_BASE, VIPSegConverter, VIPSegWriter
from univs_bench.data_converters.vss import VSPWConverter, VSPWWriter
from univs_bench.errors import InputError
from univs_bench.evaluators.api import evaluate
from univs_bench.io.panoptic import id2rgb, rgb2id
from univs_bench.io.png import (
    read_label_png,
    write_palette_png,
    write_png16,
    write_rgb_png,
)
from univs_bench.models.zoo import GroundTruthModel
from univs_bench.schema import AnnotationFile
from univs_bench.synthetic import SynthConfig, write_suite

# name: (benchmark, converter, data folder, split, --gt, writer)
CASES = {
    "ytvis19": ("ytvis19", YTVIS19Converter, ".", "valid_full", "valid_full/valid.json", ResultsJsonWriter),
    "ytvis21": ("ytvis21", YTVIS21Converter, ".", "valid_full", "valid_full/instances.json", ResultsJsonWriter),
    "ovis": ("ovis", OVISConverter, ".", "valid_full", "valid_full/annotations_valid.json", ResultsJsonWriter),
    "vspw": ("vspw", VSPWConverter, "VSPW_480p", "val", "VSPW_480p", VSPWWriter),
    "vipseg": ("vipseg", VIPSegConverter, "VIPSeg_720P", "val", "VIPSeg_720P", VIPSegWriter),
    "vipseg_raw": ("vipseg", VIPSegConverter, "VIPSeg", "val", "VIPSeg_720P", VIPSegWriter),
}
PERFECT = {
    "ytvis19": ("AP", "AP50", "AP75", "AR10", "AR100"),
    "ovis": ("AP", "AP50", "AP75", "AR10", "AR100", "AP_light", "AP_medium", "AP_heavy"),
    "vspw": ("mIoU", "mVC8", "pixel_acc", "mean_class_acc", "fwIoU"),
    "vipseg": ("VPQ", "VPQ_th", "VPQ_st", "VPQ@1", "VPQ@8", "STQ", "AQ", "SQ"),
}
PERFECT["ytvis21"] = PERFECT["ytvis19"]
HEADLINE = {"ytvis19": "AP", "ytvis21": "AP", "ovis": "AP", "vspw": "mIoU", "vipseg": "VPQ"}


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    write_suite(str(out), benchmarks=["ytvis19", "ytvis21", "ovis", "vspw", "vipseg"],
                cfg=SynthConfig(videos=2, frames=9))
    return out


def _convert(suite, name):
    bench, conv, data, split, _, _ = CASES[name]
    return conv().load(str(suite / bench / data), split)


def _write_and_score(suite, name, af, items, out: Path):
    bench, _, _, _, gt, writer = CASES[name]
    w = writer()
    w.open(out)
    for it in items:
        w.write_video(it, af.metainfo)
    w.close()
    return evaluate(bench, str(suite / bench / gt), str(w.eval_target())).metrics


def _gt_preds(af, bench):
    model = GroundTruthModel()
    return [model.predict_video(it, af.metainfo, get_benchmark(bench)) for it in af.data_list]


@pytest.mark.parametrize("name", list(CASES))
def test_gt_round_trip_is_perfect_and_a_shifted_copy_is_not(suite, tmp_path, name):
    bench = CASES[name][0]
    af = _convert(suite, name)
    assert af.validate() == [] and len(af.data_list) == 2 and all(v.tracks for v in af.data_list)
    preds = _gt_preds(af, bench)
    m = _write_and_score(suite, name, af, preds, tmp_path / "pred")
    for k in PERFECT[bench]:
        assert m[k] == pytest.approx(100.0), (k, m)
    shifted = copy.deepcopy(preds)
    for p in shifted:
        for t in p.tracks:
            t.masks = t.masks[1:] + [t.masks[-1]]  # every mask one frame early
    m2 = _write_and_score(suite, name, af, shifted, tmp_path / "shifted")
    assert m2[HEADLINE[bench]] < 99.0


def test_vis_category_swap_scores_lower_and_writer_format(suite, tmp_path):
    af = _convert(suite, "ytvis19")
    preds = _gt_preds(af, "ytvis19")
    swapped = copy.deepcopy(preds)
    for p in swapped:
        cats = [t.category for t in p.tracks]
        for t, c in zip(p.tracks, cats[1:] + cats[:1]):
            t.category = c
    assert _write_and_score(suite, "ytvis19", af, swapped, tmp_path / "sw")["AP"] < 100
    w = ResultsJsonWriter()
    w.open(tmp_path / "pred")
    w.write_video(preds[0], af.metainfo)
    assert w.is_done(preds[0].video.id) is False  # the runner marks; the part is already there
    assert (tmp_path / "pred.parts" / f"{preds[0].video.id}.json").is_file()
    w2 = ResultsJsonWriter()  # a resumed run: a new writer writes the rest, close merges both
    w2.open(tmp_path / "pred")
    w2.write_video(preds[1], af.metainfo)
    zpath = w2.close()
    res = json.loads((tmp_path / "pred" / "results.json").read_text())
    gt = json.loads((suite / "ytvis19" / "valid_full" / "valid.json").read_text())
    assert len(res) == len(gt["annotations"])
    assert {r["video_id"] for r in res} == {v["id"] for v in gt["videos"]}
    r = res[0]
    assert set(r) == {"video_id", "category_id", "score", "segmentations"} and r["score"] == 1.0
    assert len(r["segmentations"]) == 9
    assert all(s is None or isinstance(s["counts"], str) for s in r["segmentations"])
    assert zpath == tmp_path / "pred.zip"
    with zipfile.ZipFile(zpath) as zf:
        assert zf.namelist() == ["results.json"]
    mz = evaluate("ytvis19", str(suite / "ytvis19" / "valid_full" / "valid.json"), str(zpath)).metrics
    assert mz["AP"] == pytest.approx(100.0)


def test_vis_converter_keeps_attributes_and_json_ids(suite):
    af = _convert(suite, "ovis")
    gt = json.loads((suite / "ovis" / "valid_full" / "annotations_valid.json").read_text())
    a = gt["annotations"][0]
    v = af.data_list[0]
    t = next(t for t in v.tracks if t.id == a["id"])
    assert t.attributes["occlusion"] == a["occlusion"] and t.attributes["areas"] == a["areas"]
    assert t.category == a["category_id"] and t.iscrowd is False
    assert af.metainfo.extra["video_ids"][v.video.id] == a["video_id"]
    assert af.metainfo.extra["images"] == "valid/{video}/{frame}.jpg"
    assert v.video.frames[0] == "img_0000001"
    assert af.metainfo.image_path(v.video.id, v.video.frames[0]).endswith(
        f"ovis/valid/{v.video.id}/img_0000001.jpg")
    y = _convert(suite, "ytvis21")
    assert y.metainfo.extra["images"] == "valid/JPEGImages/{video}/{frame}.jpg"
    assert [c.name for c in y.metainfo.categories][:2] == ["airplane", "bear"]
    # the released valid json (no annotations) converts to videos without GT
    rel = YTVIS21Converter().load(str(suite / "ytvis21"), "valid")
    assert [v.video.id for v in rel.data_list] == [v.video.id for v in y.data_list]
    assert all(not v.tracks for v in rel.data_list)


def test_vspw_tracks_label_maps_and_class_shift(suite, tmp_path):
    af = _convert(suite, "vspw")
    v = af.data_list[0]
    raw = read_label_png(suite / "vspw" / "VSPW_480p" / "data" / v.video.id / "mask" / f"{v.video.frames[0]}.png")
    classes = sorted(int(c) for c in np.unique(raw) if c not in (0, 255))
    assert [t.id for t in v.tracks if t.masks[0] is not None] == classes
    assert all(t.id == t.category for t in v.tracks)
    assert v.label_maps[0].encoding == "vspw_raw" and len(v.label_maps) == 9
    w = VSPWWriter()
    w.write_all(_gt_preds(af, "vspw")[:1], tmp_path / "pred", af.metainfo)
    got = read_label_png(tmp_path / "pred" / v.video.id / f"{v.video.frames[0]}.png")
    lab = raw.astype(int)
    keep = (lab != 0) & (lab != 255)
    assert np.array_equal(got[keep], lab[keep] - 1)  # raw class c is prediction index c - 1
    assert (got[~keep] == 0).all()
    # label-map-only predictions (vspw_raw) give the same file
    lm_only = copy.deepcopy(_gt_preds(af, "vspw")[0])
    lm_only.tracks = []
    VSPWWriter().write_all([lm_only], tmp_path / "lm", af.metainfo)
    assert np.array_equal(read_label_png(tmp_path / "lm" / v.video.id / f"{v.video.frames[0]}.png"), got)


def test_vipseg_forms_agree_and_writer_ids(suite, tmp_path):
    coco, raw = _convert(suite, "vipseg"), _convert(suite, "vipseg_raw")
    assert coco.metainfo.extra["form"] == "coco" and raw.metainfo.extra["form"] == "raw"
    for a, b in zip(coco.data_list, raw.data_list):
        assert a.video.id == b.video.id and a.video.frames == b.video.frames
        assert sorted(t.category for t in a.tracks) == sorted(t.category for t in b.tracks)
    v = raw.data_list[0]
    isthing = {c.id: c.isthing for c in raw.metainfo.categories}
    for t in v.tracks:  # stuff: one track per class (id = raw class); thing: per raw value
        assert t.category == (t.id if t.id < 125 else t.id // 100) - 1
        assert isthing[t.category] or t.id == t.category + 1
    preds = _gt_preds(raw, "vipseg")
    VIPSegWriter().write_all(preds, tmp_path / "sub", raw.metainfo)
    doc = json.loads((tmp_path / "sub" / "pred.json").read_text())
    ann = {a["video_id"]: a["annotations"] for a in doc["annotations"]}[v.video.id]
    assert len(ann) == 9
    ids_per_cat = {}
    for fr in ann:
        png = rgb2id(read_label_png(tmp_path / "sub" / "pan_pred" / v.video.id / fr["file_name"], allow_rgb=True))
        assert sorted(s["id"] for s in fr["segments_info"]) == sorted(int(i) for i in np.unique(png) if i)
        for s in fr["segments_info"]:
            ids_per_cat.setdefault(s["category_id"], set()).add(s["id"])
            if not isthing[s["category_id"]]:
                assert s["id"] == s["category_id"] + 1
            else:
                assert s["id"] >= THING_ID_BASE
    n_things = sum(isthing[t.category] for t in v.tracks)
    assert sum(len(s) for c, s in ids_per_cat.items() if isthing[c]) == n_things  # one id per track
    # two thing tracks of one category exchanging identities half-way score lower
    swapped = copy.deepcopy(preds)
    for p in swapped:
        by = {}
        for t in p.tracks:
            if isthing[t.category]:
                by.setdefault(t.category, []).append(t)
        a, b = next((ts for ts in by.values() if len(ts) >= 2), None) or [ts[0] for ts in by.values()][:2]
        h = len(a.masks) // 2
        a.masks[h:], b.masks[h:] = b.masks[h:], a.masks[h:]
    m = _write_and_score(suite, "vipseg_raw", raw, swapped, tmp_path / "swapped")
    assert m["STQ"] < 100 and m["VPQ"] < 100


def test_convert_streams_valid_files(suite, tmp_path):
    for name in ("ytvis19", "vspw", "vipseg"):
        bench, conv, data, split, _, _ = CASES[name]
        rep = conv().convert(str(suite / bench / data), split, str(tmp_path / f"{name}.json"), progress=False)
        assert rep.videos == 2 and rep.frames == 18 and rep.tracks > 0
        back = AnnotationFile.load(str(tmp_path / f"{name}.json"))
        assert back.validate() == []


# --------------------------------------------------------------------------- bad inputs
def _copy(suite, tmp_path, bench):
    dst = tmp_path / bench
    shutil.copytree(suite / bench, dst)
    return dst


def _vis_json(root):
    p = root / "valid_full" / "valid.json"
    return p, json.loads(p.read_text())


def test_vis_bad_inputs(suite, tmp_path):
    root = _copy(suite, tmp_path, "ytvis19")
    p, doc = _vis_json(root)
    name = doc["videos"][1]["file_names"][0].split("/")[0]
    frame = root / "valid" / "JPEGImages" / doc["videos"][1]["file_names"][3]
    frame.unlink()
    with pytest.raises(InputError, match=rf"{name}/00015.jpg: frame of video '{name}'"):
        YTVIS19Converter().load(str(root), "valid_full")
    rep = YTVIS19Converter().convert(str(root), "valid_full", str(tmp_path / "a.json"), skip_bad=True,
                                     progress=False)
    assert rep.videos == 1 and [v for v, _ in rep.skipped] == [name]
    shutil.rmtree(root / "valid")  # GT only: frames come from the json
    assert len(YTVIS19Converter().load(str(root), "valid_full").data_list) == 2
    a = next(a for a in doc["annotations"] if a["video_id"] == doc["videos"][1]["id"])
    a["segmentations"] = a["segmentations"][:-1]
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=rf"video '{name}'.*8 segmentations for 9 frames"):
        YTVIS19Converter().load(str(root), "valid_full")
    p, doc = _vis_json(root)
    doc["annotations"] = json.loads((suite / "ytvis19" / "valid_full" / "valid.json").read_text())["annotations"]
    doc["annotations"][0]["category_id"] = 99
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"video '.*' \(video_id 1\) annotation 1: category_id 99 is absent"):
        YTVIS19Converter().load(str(root), "valid_full")
    doc["annotations"][0]["category_id"] = 1
    doc["annotations"][0]["video_id"] = 77
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"valid.json: annotation 1 refers to video_id 77"):
        YTVIS19Converter().load(str(root), "valid_full")
    doc["annotations"][0]["video_id"] = 1
    seg = next(s for s in doc["annotations"][0]["segmentations"] if s)
    seg["size"] = [10, 10]
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"annotation 1 frame \d+ \(\d+\): RLE size \[10, 10\] differs"):
        YTVIS19Converter().load(str(root), "valid_full")
    p.write_text("{not json")
    with pytest.raises(InputError, match=r"valid_full/valid.json: cannot read json"):
        YTVIS19Converter().load(str(root), "valid_full")
    with pytest.raises(InputError, match=r"no ytvis19 annotation json for split 'test'"):
        YTVIS19Converter().load(str(root), "test")


def test_vis_writer_bad_inputs(suite, tmp_path):
    af = _convert(suite, "ovis")
    pred = _gt_preds(af, "ovis")[0]
    pred.tracks[0].score = None
    w = ResultsJsonWriter()
    w.open(tmp_path / "p")
    with pytest.raises(InputError, match=rf"video '{pred.video.id}' track .*needs a category and a score"):
        w.write_video(pred, af.metainfo)
    meta = copy.deepcopy(af.metainfo)
    meta.extra = {}
    with pytest.raises(InputError, match=rf"video '{pred.video.id}': no YouTube-VIS video_id"):
        w.write_video(_gt_preds(af, "ovis")[0], meta)
    w2 = ResultsJsonWriter(ann_file=str(suite / "ovis" / "valid_full" / "annotations_valid.json"))
    w2.open(tmp_path / "q")
    w2.write_video(_gt_preds(af, "ovis")[0], meta)


def test_vspw_bad_inputs(suite, tmp_path):
    base = _copy(suite, tmp_path, "vspw") / "VSPW_480p"
    video = (base / "val.txt").read_text().split()[1]
    mdir = base / "data" / video / "mask"
    (mdir / "00000004.png").unlink()
    with pytest.raises(InputError, match=rf"mask/00000004.png: mask of frame 00000004 of video '{video}' not found"):
        VSPWConverter().load(str(base), "val")
    write_palette_png(mdir / "00000004.png", np.ones((20, 30), np.uint8))
    with pytest.raises(InputError, match=rf"00000004.png: size 30x20 differs from the video's 160x96 \(video '{video}'\)"):
        VSPWConverter().load(str(base), "val")
    write_palette_png(mdir / "00000004.png", np.full((96, 160), 200, np.uint8))
    with pytest.raises(InputError, match=r"00000004.png: raw label 200 is not a VSPW class"):
        VSPWConverter().load(str(base), "val")
    (mdir / "00000004.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"00000004.png: cannot read as PNG"):
        VSPWConverter().load(str(base), "val")
    (base / "val.txt").write_text("nosuchvideo\n")
    with pytest.raises(InputError, match=r"nosuchvideo.*not found"):
        VSPWConverter().load(str(base), "val")
    af = _convert(suite, "vspw")
    bad = _gt_preds(af, "vspw")[0]
    bad.tracks[0].category = 0
    with pytest.raises(InputError, match=rf"video '{bad.video.id}' track .*category 0 is not a VSPW class"):
        VSPWWriter().write_all([bad], tmp_path / "w", af.metainfo)


def test_vipseg_raw_bad_inputs(suite, tmp_path):
    base = _copy(suite, tmp_path, "vipseg") / "VIPSeg"
    video = (base / "val.txt").read_text().split()[0]
    pdir = base / "panomasks" / video
    first = sorted(pdir.iterdir())[2]
    first.unlink()
    with pytest.raises(InputError, match=rf"{first.name}: panomask of frame {first.stem} of video '{video}' not found"):
        VIPSegConverter().load(str(base), "val")
    write_png16(first, np.full((96, 100), 1, np.uint16))
    with pytest.raises(InputError, match=rf"{first.name}: size 100x96 differs"):
        VIPSegConverter().load(str(base), "val")
    write_png16(first, np.full((96, 160), 13000, np.uint16))
    with pytest.raises(InputError, match=rf"{first.name}: raw value 13000 is not a VIPSeg class"):
        VIPSegConverter().load(str(base), "val")
    first.write_bytes(b"\x89PNG garbage")
    with pytest.raises(InputError, match=rf"{first.name}: cannot read as PNG"):
        VIPSegConverter().load(str(base), "val")


def test_vipseg_coco_bad_inputs(suite, tmp_path):
    base = _copy(suite, tmp_path, "vipseg") / "VIPSeg_720P"
    doc = json.loads((base / "panoptic_gt_VIPSeg_val.json").read_text())
    video = doc["videos"][1]["video_id"]
    fn = doc["videos"][1]["images"][3]["file_name"]
    png = base / "panomasksRGB" / video / fn
    ids = rgb2id(read_label_png(png, allow_rgb=True))
    ids[:4, :4] = 4242
    write_rgb_png(png, id2rgb(ids))
    with pytest.raises(InputError, match=rf"{fn}: segment id 4242 is in the PNG but absent from segments_info"):
        VIPSegConverter().load(str(base), "val")
    write_rgb_png(png, id2rgb(ids[:50]))
    with pytest.raises(InputError, match=rf"{fn}: size 160x50 differs.*'{video}'"):
        VIPSegConverter().load(str(base), "val")
    png.unlink()
    with pytest.raises(InputError, match=rf"{video}/{fn}: file not found"):
        VIPSegConverter().load(str(base), "val")
    shutil.copy(base / "panomasksRGB" / video / doc["videos"][1]["images"][0]["file_name"], png)
    (base / "images" / video / (fn[:-4] + ".jpg")).unlink()
    with pytest.raises(InputError, match=rf"{fn[:-4]}.jpg: frame of video '{video}' listed in panoptic_gt_VIPSeg_val.json"):
        VIPSegConverter().load(str(base), "val")
    (base / "panoptic_gt_VIPSeg_val.json").write_text("[")
    with pytest.raises(InputError, match=r"panoptic_gt_VIPSeg_val.json: cannot read json"):
        VIPSegConverter().load(str(base), "val")


# --------------------------------------------------------------------------- dev split
def test_balanced_holdout_rule():
    rng = np.random.default_rng(0)
    cats = [{int(c) for c in rng.choice(8, size=rng.integers(1, 3), p=np.linspace(8, 1, 8) / 36)}
            for _ in range(60)]
    held = balanced_holdout(cats, 0.2, seed=3)
    assert held == balanced_holdout(cats, 0.2, seed=3) and held != balanced_holdout(cats, 0.2, seed=4)
    assert len(held) == 12
    counts = {c: sum(c in s for s in cats) for c in range(8)}
    for c in sorted(counts, key=counts.get)[:5]:  # rarest first: their quotas are met
        assert sum(c in cats[i] for i in held) >= int(0.2 * counts[c] + 0.5)
    assert all(any(c in cats[i] for i in held) for c in range(8))
    with pytest.raises(InputError, match="at least 2"):
        balanced_holdout([{1}], 0.5, 0)


@pytest.mark.parametrize("dataset", ["ytvis19", "ytvis21", "ovis"])
def test_split_dataset_layout_scores_locally(suite, tmp_path, dataset):
    out = tmp_path / "dev"
    s = split_dataset(dataset, str(suite / dataset), fraction=0.5, seed=1, out=str(out))
    assert (s["train_videos"], s["held_out_videos"]) == (1, 1)
    info = json.loads((out / "split_info.json").read_text())
    assert info["seed"] == 1 and len(info["held_out"]) == 1
    conv = CASES[dataset][1]
    train = conv().load(str(out), "train")
    dev = conv().load(str(out), "valid_full")
    assert {v.video.id for v in train.data_list}.isdisjoint(v.video.id for v in dev.data_list)
    assert dev.data_list[0].tracks and not conv().load(str(out), "valid").data_list[0].tracks
    frame = Path(dev.metainfo.image_path(dev.data_list[0].video.id, dev.data_list[0].video.frames[0]))
    assert frame.is_file() and frame.parent.is_symlink()
    w = ResultsJsonWriter()
    w.write_all(_gt_preds(dev, dataset), tmp_path / "pred", dev.metainfo)
    m = evaluate(dataset, s["gt"], str(w.eval_target())).metrics
    assert m["AP"] == pytest.approx(100.0)
    again = split_dataset(dataset, str(suite / dataset), fraction=0.5, seed=1, out=str(out))
    assert json.loads((out / "split_info.json").read_text())["held_out"] == info["held_out"] and again == s
    with pytest.raises(InputError, match="not an earlier dev split"):
        split_dataset(dataset, str(suite / dataset), 0.5, 1, str(suite / dataset))


# --------------------------------------------------------------------------- golden GTs (no images)
GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "golden"


@pytest.mark.parametrize("case", sorted(str(p.relative_to(GOLDEN)) for b in ("ytvis19", "ytvis21", "ovis", "vspw",
                                                                              "vipseg")
                                        for p in GOLDEN.glob(f"{b}/*") if (p / "gt").exists()))
def test_golden_gts_round_trip(tmp_path, case):
    d = GOLDEN / case
    c = json.loads((d / "case.json").read_text())
    bench, gt = c["benchmark"], d / c["gt"]
    conv = {"ytvis19": YTVIS19Converter, "ytvis21": YTVIS21Converter, "ovis": OVISConverter,
            "vspw": VSPWConverter, "vipseg": VIPSegConverter}[bench]
    root, split = (gt.parent, gt.stem.replace("annotations_", "")) if gt.is_file() else (gt, "val")
    af = conv().load(str(root), split)
    writer = {"vspw": VSPWWriter, "vipseg": VIPSegWriter}.get(bench, ResultsJsonWriter)()
    writer.write_all(_gt_preds(af, bench), tmp_path / "pred", af.metainfo)
    m = evaluate(bench, str(gt), str(writer.eval_target())).metrics
    assert m[HEADLINE[bench]] == pytest.approx(100.0)
