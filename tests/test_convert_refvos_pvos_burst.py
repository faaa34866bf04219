"""Round trip and bad input of the VOS-like converters and writers on the synthetic suite.

For each benchmark: the raw root -> converter -> ``gt`` model -> official writer ->
``univs_bench.evaluators.api.evaluate`` against the benchmark's ``--gt`` gives every defined
metric its maximum; ``gt_shifted`` and ``gt_swapped`` score strictly lower on the headline.
Malformed raw input stops the conversion with an InputError naming the video and the file.
"""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from univs_bench.benchmarks import get_benchmark
from univs_bench.data_converters import bench_data, build_writer
from univs_bench.errors import InputError
from univs_bench.evaluators.api import evaluate
from univs_bench.io.png import read_label_png, write_palette_png
from univs_bench.models import zoo  # noqa: F401  (registers the models)
from univs_bench.registry import BENCHMARK_MODELS, CONVERTERS
from univs_bench.synthetic import SynthConfig, gt_path, write_suite

BENCHES = ("refytvos", "refdavis17", "viposeg", "burst", "davis17", "mose", "ytvos18")
CFG = SynthConfig(videos=2, frames=9, size=(48, 64))


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    write_suite(out, benchmarks=list(BENCHES), cfg=CFG)
    return out


def _convert(bench: str, root: Path, split: str | None = None):
    spec = bench_data(bench)
    name, kw = spec.converter
    return CONVERTERS.build({"type": name, **kw}).load(str(root / spec.data), split or spec.split)


def _predict_and_score(bench_name: str, ann, model: str, out: Path, gt: Path) -> dict:
    """``model`` over every video, written by the benchmark's writer; {task: metrics}."""
    bench, spec = get_benchmark(bench_name), bench_data(bench_name)
    m = BENCHMARK_MODELS.build({"type": model})
    writer = build_writer(spec)
    writer.open(out)
    for item in ann.data_list:
        writer.write_video(m.predict_video(item, ann.metainfo, bench), ann.metainfo)
    writer.close()
    tasks = list(bench.task_metrics) or [None]
    return {t: evaluate(bench_name, str(gt), str(writer.eval_target()), task=t, options=spec.options).metrics
            for t in tasks}


# --------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("bench", BENCHES)
def test_gt_round_trip_is_perfect_and_perturbed_gt_scores_lower(bench, suite, tmp_path):
    ann = _convert(bench, suite / bench)
    assert len(ann.data_list) == CFG.videos
    assert all(v.video.num_frames == CFG.frames and (v.video.height, v.video.width) == CFG.size
               for v in ann.data_list)
    gt = gt_path(suite, bench)
    perfect = _predict_and_score(bench, ann, "gt", tmp_path / "gt", gt)
    for task, metrics in perfect.items():
        headline = get_benchmark(bench).metrics_for(task)[0]
        assert metrics[headline] == pytest.approx(100.0, abs=1e-9), (task, metrics)
        for name, value in metrics.items():
            if value is None:  # undefined by the GT (e.g. no object of a subset)
                continue
            want = 0.0 if name.endswith("decay") else 100.0
            assert value == pytest.approx(want, abs=1e-9), (task, name, value)
    for model in ("gt_shifted", "gt_swapped"):
        worse = _predict_and_score(bench, ann, model, tmp_path / model, gt)
        for task, metrics in worse.items():
            headline = get_benchmark(bench).metrics_for(task)[0]
            # whether a metric is defined depends on the GT only
            assert [k for k, v in metrics.items() if v is None] == \
                   [k for k, v in perfect[task].items() if v is None], (model, task)
            assert metrics[headline] < perfect[task][headline] - 1.0, (model, task, metrics)


def test_writers_lay_out_official_files(suite, tmp_path):
    ann = _convert("refytvos", suite / "refytvos")
    _predict_and_score("refytvos", ann, "gt", tmp_path / "ry", gt_path(suite, "refytvos"))
    v = ann.data_list[0]
    exps = [p.id for p in v.prompts]
    assert sorted(p.name for p in (tmp_path / "ry" / "Annotations" / v.video.id).iterdir()) == sorted(exps)
    png = read_label_png(tmp_path / "ry" / "Annotations" / v.video.id / exps[0] / f"{v.video.frames[0]}.png")
    assert set(np.unique(png).tolist()) <= {0, 255}
    assert (tmp_path / "ry.zip").is_file()

    ann = _convert("refdavis17", suite / "refdavis17")
    _predict_and_score("refdavis17", ann, "gt", tmp_path / "rd", gt_path(suite, "refdavis17"))
    assert sorted(p.name for p in (tmp_path / "rd").iterdir()) == ["anno_0", "anno_1", "anno_2", "anno_3"]
    v = ann.data_list[0]
    assert {p.id.split(":")[0] for p in v.prompts} == {"0", "1", "2", "3"}
    assert len(list((tmp_path / "rd" / "anno_3" / v.video.id).glob("*.png"))) == CFG.frames

    ann = _convert("burst", suite / "burst")
    _predict_and_score("burst", ann, "gt", tmp_path / "b", gt_path(suite, "burst"))
    pred = json.loads((tmp_path / "b" / "pred.json").read_text())
    gt = json.loads((gt_path(suite, "burst") / "all_classes.json").read_text())
    assert pred["split"] == "val"
    assert [(s["dataset"], s["seq_name"], s["annotated_image_paths"], s["track_category_ids"])
            for s in pred["sequences"]] == \
           [(s["dataset"], s["seq_name"], s["annotated_image_paths"], s["track_category_ids"])
            for s in gt["sequences"]]
    kinds = {p.kind for v in ann.data_list for p in v.prompts}
    assert kinds == {"mask", "box", "point"}  # the exemplars of first_frame_annotations.json


# --------------------------------------------------------------------------- bad input
def _copy(suite: Path, bench: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(suite / bench, tmp_path / bench))


def _first_video(root: Path, bench: str) -> tuple[str, list[str]]:
    v = _convert(bench, root).data_list[0].video
    return v.id, v.frames


def _bad(bench: str, root: Path, *mentions: str, split: str | None = None) -> str:
    with pytest.raises(InputError) as e:
        _convert(bench, root, split)
    msg = str(e.value)
    for m in mentions:
        assert m in msg, (m, msg)
    return msg


def _resize_png(path: Path, h: int, w: int) -> None:
    write_palette_png(path, np.resize(read_label_png(path), (h, w)).astype(np.uint8))


def _edit_json(path: Path, fn) -> None:
    d = json.loads(path.read_text())
    fn(d)
    path.write_text(json.dumps(d))


def test_bad_davis17_and_mose(suite, tmp_path):
    root = _copy(suite, "davis17", tmp_path)
    vid, frames = _first_video(root, "davis17")
    (root / "DAVIS/JPEGImages/480p" / vid / f"{frames[3]}.jpg").unlink()
    _bad("davis17", root, f"Annotations/480p/{vid}/{frames[3]}.png", "annotation without a frame", vid)

    root = _copy(suite, "mose", tmp_path)
    vid, frames = _first_video(root, "mose")
    _resize_png(root / "valid_full/Annotations" / vid / f"{frames[4]}.png", 40, 64)
    _bad("mose", root, f"valid_full/Annotations/{vid}/{frames[4]}.png", "size 64x40 differs")
    (root / "valid/JPEGImages" / vid / f"{frames[0]}.jpg").unlink()  # its first-frame mask has no frame
    _bad("mose", root, f"valid/Annotations/{vid}/{frames[0]}.png", vid, split="valid")


def test_bad_ytvos18(suite, tmp_path):
    root = _copy(suite, "ytvos18", tmp_path)
    vid, _ = _first_video(root, "ytvos18")
    meta = root / "valid_full/meta.json"
    saved = meta.read_text()
    _edit_json(meta, lambda d: d["videos"][vid]["objects"].pop("2"))
    _bad("ytvos18", root, "meta.json", vid, "object id 2")
    meta.write_text(saved)
    # a frame meta.json lists, without its PNG (valid_full has no JPEGImages: PNGs are the frames)
    listed = json.loads(saved)["videos"][vid]["objects"]["1"]["frames"]
    (root / "valid_full/Annotations" / vid / f"{listed[2]}.png").unlink()
    _bad("ytvos18", root, f"valid_full/Annotations/{vid}/{listed[2]}.png", vid, "meta.json")
    # the released valid split: an image missing under a first-appearance mask, or listed in meta.json
    sparse = {d.name: sorted(p.name for p in d.glob("*.png")) for d in (root / "valid/Annotations").iterdir()}
    late, pngs = next((v, p) for v, p in sparse.items() if len(p) > 1)  # an object enters late
    _resize_png(root / "valid/Annotations" / late / pngs[1], 48, 60)
    _bad("ytvos18", root, f"valid/Annotations/{late}/{pngs[1]}", "size 60x48 differs", split="valid")
    shutil.copy(suite / "ytvos18/valid/Annotations" / late / pngs[1], root / "valid/Annotations" / late / pngs[1])
    later = [f for f in listed if f"{f}.png" not in sparse[vid]][-1]
    (root / "valid/JPEGImages" / vid / f"{later}.jpg").unlink()
    _bad("ytvos18", root, f"valid/JPEGImages/{vid}/{later}.jpg", vid, split="valid")


def test_bad_refytvos(suite, tmp_path):
    root = _copy(suite, "refytvos", tmp_path)
    vid, frames = _first_video(root, "refytvos")
    meta = root / "valid_full/meta_expressions.json"
    saved = meta.read_text()
    _edit_json(meta, lambda d: d["videos"][vid]["expressions"]["1"].update(obj_id="9"))
    _bad("refytvos", root, "valid_full/meta_expressions.json", vid, "expression 1", "object 9")
    meta.write_text(saved)
    (root / "valid_full/Annotations" / vid / f"{frames[5]}.png").unlink()
    _bad("refytvos", root, f"valid_full/Annotations/{vid}/{frames[5]}.png", vid)
    shutil.copy(suite / "refytvos/valid_full/Annotations" / vid / f"{frames[5]}.png",
                root / "valid_full/Annotations" / vid / f"{frames[5]}.png")
    _resize_png(root / "valid_full/Annotations" / vid / f"{frames[2]}.png", 50, 64)
    _bad("refytvos", root, f"valid_full/Annotations/{vid}/{frames[2]}.png", "size 64x50 differs")
    shutil.copy(suite / "refytvos/valid_full/Annotations" / vid / f"{frames[2]}.png",
                root / "valid_full/Annotations" / vid / f"{frames[2]}.png")
    (root / "valid/JPEGImages" / vid / f"{frames[7]}.jpg").unlink()
    _bad("refytvos", root, f"valid/JPEGImages/{vid}/{frames[7]}.jpg", vid)


def test_bad_refdavis17(suite, tmp_path):
    root = _copy(suite, "refdavis17", tmp_path)
    vid, frames = _first_video(root, "refdavis17")
    txt = root / "davis_text_annotations/Davis17_annot2.txt"
    saved = txt.read_text()
    txt.write_text(saved + f'{vid} 9 "a ghost"\n')
    _bad("refdavis17", root, "Davis17_annot2.txt", vid, "object 9")
    txt.write_text(saved + f'{vid} "the object without an id"\n')
    _bad("refdavis17", root, "Davis17_annot2.txt", vid, f":{len(saved.splitlines()) + 1}")
    txt.write_text(saved)
    ann = root / "DAVIS/Annotations_unsupervised/480p" / vid
    _resize_png(ann / f"{frames[6]}.png", 48, 70)
    _bad("refdavis17", root, f"Annotations_unsupervised/480p/{vid}/{frames[6]}.png", "size 70x48 differs")
    shutil.copy(suite / "refdavis17/DAVIS/Annotations_unsupervised/480p" / vid / f"{frames[6]}.png",
                ann / f"{frames[6]}.png")
    (root / "DAVIS/JPEGImages/480p" / vid / f"{frames[1]}.jpg").unlink()
    _bad("refdavis17", root, f"Annotations_unsupervised/480p/{vid}/{frames[1]}.png", vid)


def test_bad_viposeg(suite, tmp_path):
    root = _copy(suite, "viposeg", tmp_path)
    vid, frames = _first_video(root, "viposeg")
    oc = root / "valid/obj_class.json"
    saved = oc.read_text()
    _edit_json(oc, lambda d: d[vid].pop("2"))
    _bad("viposeg", root, "valid/obj_class.json", vid, "object 2")
    _edit_json(oc, lambda d: d.pop(vid))
    _bad("viposeg", root, "valid/obj_class.json", vid)
    oc.write_text(saved)
    ref = min((root / "valid/Annotations" / vid).glob("*.png"))
    _resize_png(ref, 40, 64)
    _bad("viposeg", root, f"valid/Annotations/{vid}/{ref.name}", "64x40")
    shutil.copy(suite / "viposeg/valid/Annotations" / vid / ref.name, ref)
    (root / "valid/JPEGImages" / vid / f"{frames[4]}.jpg").unlink()
    _bad("viposeg", root, f"valid/Annotations_gt/{vid}/{frames[4]}.png", vid)


def test_bad_burst(suite, tmp_path):
    root = _copy(suite, "burst", tmp_path)
    path = root / "annotations/val/all_classes.json"
    saved = path.read_text()
    seq = json.loads(saved)["sequences"][0]
    vid = f"{seq['dataset']}/{seq['seq_name']}"
    track = next(iter(seq["track_category_ids"]))

    def mutate(fn):
        d = json.loads(saved)
        fn(d["sequences"][0])
        path.write_text(json.dumps(d))

    mutate(lambda s: s["segmentations"].pop())
    _bad("burst", root, "all_classes.json", vid, "segmentation entries for")
    mutate(lambda s: s["track_category_ids"].pop(track))
    _bad("burst", root, "all_classes.json", vid, f"track {track} not in track_category_ids")
    mutate(lambda s: s["annotated_image_paths"].__setitem__(1, "frame9999.jpg"))
    _bad("burst", root, "all_classes.json", vid, "frame9999.jpg")
    mutate(lambda s: next(f for f in s["segmentations"] if track in f)[track].pop("rle"))
    _bad("burst", root, "all_classes.json", vid)
    mutate(lambda s: s.pop("height"))
    _bad("burst", root, "all_classes.json", vid, "height")
    path.write_text(saved)
    assert len(_convert("burst", root).data_list) == CFG.videos
