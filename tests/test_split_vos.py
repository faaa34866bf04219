"""Dev splits of YouTube-VOS, MOSE and Ref-YouTube-VOS (``split_vos_dataset``)."""
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from univs_bench.benchmarks import get_benchmark
from univs_bench.data_converters import bench_data, build_writer
from univs_bench.data_converters.split_vos import balanced_holdout, split_vos_dataset
from univs_bench.data_converters.vos import YouTubeVOSConverter
from univs_bench.errors import InputError
from univs_bench.evaluators.api import evaluate
from univs_bench.io.png import read_label_png, write_palette_png
from univs_bench.models import zoo  # noqa: F401  (registers the models)
from univs_bench.registry import BENCHMARK_MODELS, CONVERTERS
from univs_bench.runner import Runner
from univs_bench.synthetic import SynthConfig, write_suite

DATASETS = {"ytvos": "ytvos18", "mose": "mose", "refytvos": "refytvos"}
CFG = SynthConfig(videos=10, frames=4, size=(32, 48))


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    write_suite(out, benchmarks=list(DATASETS.values()), cfg=CFG)
    return out


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _train_videos(dataset: str, root: Path) -> list[str]:
    if dataset == "refytvos":
        return sorted(json.loads((root / "meta_expressions/train/meta_expressions.json").read_text())["videos"])
    return sorted(p.name for p in (root / "train/Annotations").iterdir())


# --------------------------------------------------------------------------- the rule
def test_balanced_holdout_meets_every_quota_and_is_seeded():
    # single-label: 8 + 4 + 2 videos, half held out -> exactly 4, 2 and 1 of each
    cats = {f"v{i:02d}": {"a" if i < 8 else "b" if i < 12 else "c"} for i in range(14)}
    for seed in range(5):
        held = balanced_holdout(cats, 0.5, seed)
        assert Counter(next(iter(cats[v])) for v in held) == {"a": 4, "b": 2, "c": 1}
    assert balanced_holdout(cats, 0.5, 3) == balanced_holdout(dict(reversed(cats.items())), 0.5, 3)
    assert len({tuple(balanced_holdout(cats, 0.5, s)) for s in range(5)}) > 1
    # at 10 %, a category of 5 of 40 videos has quota 1 (represented), one of 4 has quota 0
    rare = {f"v{i:02d}" for i in (7, 13, 21, 30, 36)}
    for seed in range(5):
        cats = {f"v{i:02d}": {"rare" if f"v{i:02d}" in rare else "common"} for i in range(40)}
        held = balanced_holdout(cats, 0.1, seed)
        assert len(held) == 4 and len(rare & set(held)) == 1
    assert len(balanced_holdout({f"v{i}": set() for i in range(9)}, 0.5, 1)) == 4
    assert balanced_holdout({"a": set(), "b": set()}, 0.01, 0) in (["a"], ["b"])  # at least one, one left
    with pytest.raises(InputError, match="at least 2"):
        balanced_holdout({"a": set()}, 0.5, 0)


# --------------------------------------------------------------------------- the folders
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_split_is_deterministic_disjoint_and_sized(dataset, suite, tmp_path):
    src = suite / DATASETS[dataset]
    names = _train_videos(dataset, src)
    a = split_vos_dataset(dataset, str(src), 0.3, 7, str(tmp_path / "a"))
    b = split_vos_dataset(dataset, str(src), 0.3, 7, str(tmp_path / "b"))
    info = json.loads((tmp_path / "a/split_info.json").read_text())
    held = info["held_out"]
    assert held == json.loads((tmp_path / "b/split_info.json").read_text())["held_out"]
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert (a["held_out_videos"], a["train_videos"]) == (b["held_out_videos"], b["train_videos"]) == (3, 7)
    assert a["gt"] == str(tmp_path / "a" / "valid_full")
    rest = _train_videos(dataset, tmp_path / "a")
    assert sorted(rest + held) == names and not set(rest) & set(held)
    assert sorted(os.listdir(tmp_path / "a/valid/JPEGImages")) == held
    assert sorted(os.listdir(tmp_path / "a/valid_full/Annotations")) == held
    assert sorted(os.listdir(tmp_path / "a/train/JPEGImages")) == rest
    splits = {tuple(held)}
    for seed in range(3):
        split_vos_dataset(dataset, str(src), 0.3, seed, str(tmp_path / "other"))
        splits.add(tuple(json.loads((tmp_path / "other/split_info.json").read_text())["held_out"]))
    assert len(splits) > 1  # the seed matters
    # frames are hard links of the source files
    v = held[0]
    jpg = min((src / "train/JPEGImages" / v).iterdir())
    assert os.path.samefile(jpg, tmp_path / "a/valid/JPEGImages" / v / jpg.name)
    c = split_vos_dataset(dataset, str(src), 0.3, 7, str(tmp_path / "c"), copy=True)
    assert c["held_out_videos"] == 3
    assert not os.path.samefile(jpg, tmp_path / "c/valid/JPEGImages" / v / jpg.name)


def test_ytvos_split_is_balanced_and_keeps_the_released_form(suite, tmp_path):
    src = suite / "ytvos18"
    split_vos_dataset("ytvos", str(src), 0.3, 0, str(tmp_path / "dev"))
    dev = tmp_path / "dev"
    info = json.loads((dev / "split_info.json").read_text())
    meta = json.loads((src / "train/meta.json").read_text())["videos"]
    cats = {v: {o["category"] for o in m["objects"].values()} for v, m in meta.items()}
    assert info["held_out"] == balanced_holdout(cats, 0.3, 0)
    n = Counter(c for v in meta for c in cats[v])
    held = Counter(c for v in info["held_out"] for c in cats[v])
    assert info["category_videos_train_heldout"] == {c: [n[c] - held[c], held[c]] for c in sorted(n)}
    assert min(n.values()) >= 2 and set(held) == set(n)  # every category (quota >= 1) is represented
    assert sorted(json.loads((dev / "valid/meta.json").read_text())["videos"]) == info["held_out"]
    assert json.loads((dev / "valid_full/meta.json").read_text()) == \
           json.loads((dev / "valid/meta.json").read_text())
    # the released valid form: each object's mask on its first frame only, same prompts as full GT
    full = YouTubeVOSConverter().load(str(dev), "valid_full")
    released = YouTubeVOSConverter().load(str(dev), "valid")
    for f, r in zip(full.data_list, released.data_list):
        assert f.video.frames == r.video.frames
        assert [(p.target, p.frame) for p in f.prompts] == [(p.target, p.frame) for p in r.prompts]
        for t in r.tracks:
            assert sum(m is not None for m in t.masks) == 1
            k = t.first_frame()
            png = dev / "valid/Annotations" / f.video.id / f"{f.video.frames[k]}.png"
            gt = read_label_png(dev / "valid_full/Annotations" / f.video.id / png.name)
            assert np.array_equal(read_label_png(png) == t.id, gt == t.id)


def test_refytvos_split_has_released_and_full_expressions(suite, tmp_path):
    s = split_vos_dataset("refytvos", str(suite / "refytvos"), 0.3, 1, str(tmp_path / "dev"))
    dev = tmp_path / "dev"
    full = json.loads((dev / "valid_full/meta_expressions.json").read_text())["videos"]
    released = json.loads((dev / "meta_expressions/valid/meta_expressions.json").read_text())["videos"]
    assert sorted(full) == sorted(released)
    assert s["held_out_expressions"] == sum(len(v["expressions"]) for v in full.values())
    for v in full:
        assert {k: {"exp": e["exp"]} for k, e in full[v]["expressions"].items()} == released[v]["expressions"]
    assert all(e.get("obj_id") is None for v in released.values() for e in v["expressions"].values())
    conv = CONVERTERS.build({"type": "refytvos"})
    assert len(conv.load(str(dev), "valid").data_list) == 3  # the released form converts (no masks)
    assert sorted(json.loads((dev / "train/meta.json").read_text())["videos"]) == _train_videos("refytvos", dev)


# --------------------------------------------------------------------------- scoring a dev split
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_dev_split_converts_and_gt_scores_perfectly(dataset, suite, tmp_path):
    bench_name = DATASETS[dataset]
    dev = tmp_path / bench_name
    split_vos_dataset(dataset, str(suite / bench_name), 0.3, 2, str(dev))
    bench, spec = get_benchmark(bench_name), bench_data(bench_name)
    name, kw = spec.converter
    ann = CONVERTERS.build({"type": name, **kw}).load(str(dev / spec.data), spec.split)
    assert sorted(v.video.id for v in ann.data_list) == \
           json.loads((dev / "split_info.json").read_text())["held_out"]
    writer = build_writer(spec)
    writer.open(tmp_path / "pred")
    model = BENCHMARK_MODELS.build({"type": "gt"})
    for item in ann.data_list:
        writer.write_video(model.predict_video(item, ann.metainfo, bench), ann.metainfo)
    writer.close()
    metrics = evaluate(bench_name, str(dev / spec.gt), str(writer.eval_target()), options=spec.options).metrics
    defined = {k: v for k, v in metrics.items() if v is not None}
    # a dev split of YouTube-VOS may lack unseen categories: then J/F_unseen and G are null
    assert set(defined) >= ({"J_seen", "F_seen"} if bench_name == "ytvos18" else {bench.headline})
    assert all(v == pytest.approx(0.0 if k.endswith("decay") else 100.0, abs=1e-9) for k, v in defined.items())


def test_run_scores_a_dev_split_given_as_data_root(suite, tmp_path):
    split_vos_dataset("mose", str(suite / "mose"), 0.3, 0, str(tmp_path / "data/mose"))
    rec = Runner("gt", work_dir=str(tmp_path / "work"), data_root=str(tmp_path / "data"),
                 progress=False).run([get_benchmark("mose")])["mose"]
    assert rec["metrics"]["J&F"] == 100.0 and rec["provenance"]["videos"] == 3


# --------------------------------------------------------------------------- bad input
def test_split_refuses_bad_input(suite, tmp_path):
    src = suite / "ytvos18"
    with pytest.raises(InputError, match="supports ytvos, mose, refytvos"):
        split_vos_dataset("davis", str(src), 0.1, 0, str(tmp_path / "x"))
    with pytest.raises(InputError, match="fraction 1.5"):
        split_vos_dataset("ytvos", str(src), 1.5, 0, str(tmp_path / "x"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not an earlier dev split"):
        split_vos_dataset("ytvos", str(src), 0.3, 0, str(tmp_path / "mine"))
    assert (tmp_path / "mine/notes.txt").read_text() == "keep me"
    split_vos_dataset("ytvos", str(src), 0.3, 0, str(tmp_path / "dev"))
    split_vos_dataset("ytvos", str(src), 0.5, 0, str(tmp_path / "dev"))  # an earlier split is replaced
    assert json.loads((tmp_path / "dev/split_info.json").read_text())["held_out_videos"] == 5

    # a hand-made training folder: a video without masks, an object missing from meta.json
    train = tmp_path / "raw/train"
    meta = {"videos": {}}
    for i in range(4):
        v = f"vid{i}"
        ids = np.zeros((8, 8), np.uint8)
        ids[:4, :4] = 1
        ids[5:, 5:] = 2 if i == 0 else 0
        for f in ("00000", "00005"):
            write_palette_png(train / "Annotations" / v / f"{f}.png", ids)
            (train / "JPEGImages" / v).mkdir(parents=True, exist_ok=True)
            (train / "JPEGImages" / v / f"{f}.jpg").write_bytes(b"jpg")
        meta["videos"][v] = {"objects": {"1": {"category": "cat", "frames": ["00000", "00005"]}}}
    (train / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"vid0/00000.png: object id 2 of video 'vid0' is not in meta.json"):
        split_vos_dataset("ytvos", str(tmp_path / "raw"), 0.99, 0, str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()  # nothing half-written
    meta["videos"]["vid0"]["objects"]["2"] = {"category": "dog", "frames": ["00000"]}
    meta["videos"]["vid9"] = {"objects": {"1": {"category": "cat", "frames": ["00000"]}}}
    (train / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"JPEGImages/vid9: folder of video 'vid9' not found"):
        split_vos_dataset("ytvos", str(tmp_path / "raw"), 0.5, 0, str(tmp_path / "bad"))
    del meta["videos"]["vid9"]
    (train / "meta.json").write_text(json.dumps(meta))
    s = split_vos_dataset("ytvos", str(train), 0.5, 0, str(tmp_path / "ok"))  # the train folder itself
    assert s["held_out_videos"] == 2
    assert "vid0" in json.loads((tmp_path / "ok/split_info.json").read_text())["held_out"]  # the only dog
