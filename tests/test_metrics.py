"""MMEngine metrics (evaluators.metrics): the numbers of `univs-bench evaluate` on written files,
from schema predictions in memory, for all twelve benchmarks."""
from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from univs_bench.benchmarks import BENCHMARKS
from univs_bench.errors import InputError
from univs_bench.synthetic import SynthConfig

CFG = SynthConfig(videos=2, frames=9, size=(48, 64))


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """The synthetic suite, its converted GT, gt_shifted predictions and the file-based scores."""
    from univs_bench.data_converters import bench_data
    from univs_bench.registry import CONVERTERS
    from univs_bench.runner import Runner
    work = tmp_path_factory.mktemp("metrics")
    runner = Runner("gt_shifted", work_dir=str(work), progress=False, synth_cfg=CFG)
    records = runner.run(list(BENCHMARKS.values()))  # writes each official format and scores the files
    CONVERTERS.import_from_location()
    data = {}
    for name, bench in BENCHMARKS.items():
        spec = bench_data(name)
        root = work / "_synthetic" / name
        name_, kw = spec.converter
        ann = CONVERTERS.build(dict(type=name_, **kw)).load(str(root / spec.data), spec.split)
        preds = [runner.model.predict_video(item, ann.metainfo, bench) for item in ann.data_list]
        data[name] = {"ann": ann, "preds": preds, "record": records[name], "root": root, "spec": spec}
    return data


def _score(metric, d, as_dicts=False):
    ann = d["ann"]
    for item, pred in zip(ann.data_list, d["preds"]):
        s = {"gt": item, "pred": pred, "meta": ann.metainfo}
        if as_dicts:  # the json forms are accepted too
            s = {"gt": item.to_dict(), "pred": pred.to_dict(), "meta": dataclasses.asdict(ann.metainfo)}
        metric.process(None, [s])
    return metric.compute_metrics(metric.results)


def _assert_same(got: dict, want: dict):
    assert list(got) == list(want)
    for k, v in want.items():
        if v is None:
            assert got[k] is None, k
        else:
            assert got[k] == pytest.approx(v, abs=1e-9, rel=0), k


def _build(name, **kw):
    from univs_bench.evaluators.metrics import METRIC_OF_BENCHMARK
    from univs_bench.registry import METRICS
    return METRICS.build(dict(type=METRIC_OF_BENCHMARK[name], benchmark=name, **kw))


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_metric_equals_file_evaluation(suite, name):
    d = suite[name]
    want = d["record"]["metrics"]
    assert want is not None and any(v not in (None, 0.0, 100.0) for v in want.values())  # a real test
    _assert_same(_score(_build(name), d, as_dicts=name in ("davis17", "vipseg", "burst")), want)


def test_burst_class_guided_equals_file_evaluation(suite):
    from univs_bench.evaluators.api import evaluate
    d = suite["burst"]
    gt_dir = str(d["root"] / d["spec"].gt)
    want = evaluate("burst", gt_dir, d["record"]["pred"], task="class_guided").metrics
    _assert_same(_score(_build("burst", task="class_guided", ann_file=gt_dir), d), want)
    with pytest.raises(InputError, match="neg_category_ids"):
        _score(_build("burst", task="class_guided"), d)
    with pytest.raises(InputError, match="open_world"):
        _build("burst", task="open_world")


def test_mmengine_evaluator_api(suite):
    from mmengine.evaluator import Evaluator

    from univs_bench.registry import METRICS
    evaluator = Evaluator([METRICS.build(dict(type="VOSMetric", benchmark="davis17")),
                           dict(type="univs_bench.VSSMetric", benchmark="vspw")])
    for name in ("davis17", "vspw"):
        d = suite[name]
        for item, pred in zip(d["ann"].data_list, d["preds"]):
            # each metric takes its own benchmark's samples; the other gets none of them
            evaluator.metrics[0 if name == "davis17" else 1].process(None, [
                {"gt": item, "pred": pred, "meta": d["ann"].metainfo}])
    out = evaluator.evaluate(size=2)
    assert out["davis17/J&F"] == pytest.approx(suite["davis17"]["record"]["metrics"]["J&F"], abs=1e-9)
    assert out["vspw/mIoU"] == pytest.approx(suite["vspw"]["record"]["metrics"]["mIoU"], abs=1e-9)

    # offline_evaluate through Evaluator.process, meta from dataset_meta
    d = suite["mose"]
    ev = Evaluator(dict(type="univs_bench.VOSMetric", benchmark="mose", prefix="val"))
    ev.dataset_meta = dataclasses.asdict(d["ann"].metainfo)
    samples = [{"gt": g, "pred": p} for g, p in zip(d["ann"].data_list, d["preds"])]
    out = ev.offline_evaluate(samples, chunk_size=1)
    _assert_same({k.split("/", 1)[1]: v for k, v in out.items()}, d["record"]["metrics"])


def test_bad_inputs(suite):
    d = suite["davis17"]
    item, pred = d["ann"].data_list[0], d["preds"][0]
    meta = d["ann"].metainfo
    m = _build("davis17")
    other = copy.deepcopy(pred)
    other.video.id = "elsewhere"
    with pytest.raises(InputError, match="elsewhere"):
        m.process(None, [{"gt": item, "pred": other, "meta": meta}])
    high = copy.deepcopy(pred)
    high.tracks[0].id = 9
    with pytest.raises(InputError, match=f"{item.video.id}.*object id 9"):
        m.process(None, [{"gt": item, "pred": high, "meta": meta}])
    with pytest.raises(InputError, match="'gt' and 'pred'"):
        m.process(None, [{"pred": pred}])
    with pytest.raises(InputError, match="no video"):
        m.compute_metrics([])

    d = suite["refytvos"]
    item, pred = d["ann"].data_list[0], copy.deepcopy(d["preds"][0])
    pred.tracks = pred.tracks[1:]
    with pytest.raises(InputError, match="expression"):
        _build("refytvos").process(None, [{"gt": item, "pred": pred, "meta": d["ann"].metainfo}])

    d = suite["ytvis21"]
    item, pred = d["ann"].data_list[0], copy.deepcopy(d["preds"][0])
    pred.tracks[0].category = 999
    with pytest.raises(InputError, match="category_id 999"):
        _build("ytvis21").process(None, [{"gt": item, "pred": pred, "meta": d["ann"].metainfo}])

    from univs_bench.evaluators.metrics import VOSMetric
    with pytest.raises(InputError, match="scores davis17"):
        VOSMetric(benchmark="vspw")


def test_frames_without_objects_are_scored(suite):
    """A GT PNG without objects is a scored frame (the file scorers list the folder), even where
    the converted item does not mark it annotated (YouTube-VOS/MOSE take ``annotated`` from the
    objects' frames)."""
    from univs_bench.evaluators.metrics.base import gt_png_frames
    d = suite["mose"]
    item = copy.deepcopy(d["ann"].data_list[0])
    n = item.video.num_frames
    item.video.annotated = [0, n - 1]
    frames, template = gt_png_frames(item, d["ann"].metainfo)
    assert frames == list(range(n))
    assert template == f"Annotations/{item.video.id}/{{frame}}.png"


def test_file_evaluators_stay_free_of_mmengine():
    code = ("import sys, univs_bench.evaluators.api, univs_bench.evaluators.vos, univs_bench.evaluators.vps, "
            "univs_bench.evaluators.burst; assert 'mmengine' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
