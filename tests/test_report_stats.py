"""Bootstrap intervals recompute each benchmark's own metric from per-video statistics."""
from __future__ import annotations

import numpy as np
import pytest

from univs_bench.errors import InputError
from univs_bench.report.stats import bootstrap_metric, paired_test, video_statistics

ALL_T = (1 << 10) - 1  # a TP (or ignore) bitmask at all ten IoU thresholds


def _vis_doc(per_video: dict, ap: float) -> dict:
    return {"benchmark": "ytvis19", "metrics": {"AP": ap}, "per_video": per_video}


def test_ap_recomputed_from_per_video_matches_by_hand():
    # one category; video 1: a TP at .9; video 2: an FP at .8 and a TP at .7; one GT each
    pv = {"1": {"ap_stats": {"3": {"scores": [0.9], "tp": [ALL_T], "ig": [0], "n_gt": 1}}},
          "2": {"ap_stats": {"3": {"scores": [0.8, 0.7], "tp": [0, ALL_T], "ig": [0, 0],
                                   "n_gt": 1}}}}
    # full set: recall .5,.5,1 precision 1,.5,2/3 -> 51 thresholds at 1, 50 at 2/3
    full = 100 * (51 * 1 + 50 * 2 / 3) / 101
    vs = video_statistics(_vis_doc(pv, full), "AP")
    assert vs.value(np.ones((1, 2)))[0] == pytest.approx(full, abs=1e-9)
    # video 1 drawn twice: one TP of weight 2 among 2 GT -> AP 100
    assert vs.value(np.array([[2.0, 0.0]]))[0] == pytest.approx(100.0)
    # video 2 drawn twice: FP (2) then TP (2), precision .5 at every recall -> 50
    assert vs.value(np.array([[0.0, 2.0]]))[0] == pytest.approx(50.0)
    ci = bootstrap_metric(_vis_doc(pv, full), "AP", seed=0, n_boot=300)
    assert 50.0 <= ci.low <= full <= ci.high <= 100.0
    with pytest.raises(InputError, match="range only"):
        video_statistics(_vis_doc(pv, full), "AP_s")


def test_ap_threshold_bits_and_ignored_detections():
    # TP only at IoU .5 and .55 (bits 0, 1); a second detection ignored at every threshold
    pv = {"1": {"ap_stats": {"1": {"scores": [0.9, 0.5], "tp": [0b11, 0], "ig": [0, ALL_T],
                                   "n_gt": 1}}},
          "2": {"ap_stats": {"1": {"scores": [], "tp": [], "ig": [], "n_gt": 0}}}}
    doc = {"benchmark": "ytvis19", "metrics": {"AP": 20.0, "AP50": 100.0, "AP75": 0.0},
           "per_video": pv}
    for m, want in (("AP", 20.0), ("AP50", 100.0), ("AP75", 0.0)):
        assert video_statistics(doc, m).value(np.ones((1, 2)))[0] == pytest.approx(want)
    # no GT drawn at all: AP undefined (left out of the percentiles)
    assert np.isnan(video_statistics(doc, "AP").value(np.array([[0.0, 2.0]]))[0])


def test_vspw_miou_pools_the_confusion_by_hand():
    def v(classes, inter, gt, pred):
        return {"confusion": {"classes": classes, "inter": inter, "gt": gt, "pred": pred,
                              "total": sum(gt)}}
    pv = {"a": v([0, 1], [8, 0], [10, 0], [8, 2]), "b": v([1], [3], [4], [5])}
    # pooled: class 0 IoU 8/10, class 1 IoU 3/(4+7-3) -> mean; per-video means would differ
    full = 100 * (0.8 + 3 / 8) / 2
    doc = {"benchmark": "vspw", "metrics": {"mIoU": full}, "per_video": pv}
    vs = video_statistics(doc, "mIoU")
    assert vs.value(np.ones((1, 2)))[0] == pytest.approx(full)
    # b twice: class 1 only, IoU 6/(8+10-6)
    assert vs.value(np.array([[0.0, 2.0]]))[0] == pytest.approx(100 * 6 / 12)


def test_burst_hota_class_average_by_hand():
    A = 19

    def cls(tp, fn, fp, ass, gt=True):
        return {"TP": [tp] * A, "FN": [fn] * A, "FP": [fp] * A, "AssA_TP": [ass * tp] * A, "gt": gt}
    # class 1 in s1 and s2; class 2 only predicted in s2 (no GT): not evaluated
    pv = {"s1": {"hota_stats": {"1": cls(4, 0, 0, 1.0)}},
          "s2": {"hota_stats": {"1": cls(0, 4, 0, 0.0), "2": cls(0, 0, 3, 0.0, gt=False)}}}
    det, ass = 4 / 8, 1.0
    full = 100 * np.sqrt(det * ass)
    doc = {"benchmark": "burst", "metrics": {"HOTA_all": full}, "per_video": pv}
    vs = video_statistics(doc, "HOTA_all")
    assert vs.value(np.ones((1, 2)))[0] == pytest.approx(full)
    assert vs.value(np.array([[2.0, 0.0]]))[0] == pytest.approx(100.0)
    assert vs.value(np.array([[0.0, 2.0]]))[0] == pytest.approx(0.0)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """gt_shifted and gt_swapped run on the synthetic suite: every benchmark's metrics.json."""
    from univs_bench.benchmarks import BENCHMARKS
    from univs_bench.runner import Runner
    from univs_bench.synthetic import write_suite
    root = tmp_path_factory.mktemp("stats")
    write_suite(str(root / "s"))
    out = {}
    for model in ("gt_shifted", "gt_swapped"):
        r = Runner(model, work_dir=str(root / "w"), data_root=str(root / "s"), progress=False)
        out[model] = r.run(list(BENCHMARKS.values()))
    out["_root"] = root
    return out


def test_every_benchmark_interval_contains_the_evaluators_metric(measured):
    from univs_bench.benchmarks import BENCHMARKS
    from univs_bench.report.leaderboard import headline
    checked = 0
    for name, docs in measured.items():
        if name == "_root":
            continue
        assert set(docs) == set(BENCHMARKS)
        for bench, doc in docs.items():
            for metric, value in doc["metrics"].items():
                try:
                    vs = video_statistics(doc, metric)
                except InputError as e:
                    # only the area/occlusion AP ranges and AR_* lack per-video statistics
                    assert bench in ("ytvis19", "ytvis21", "ovis") and "range only" in str(e), e
                    continue
                if value is None:
                    continue
                est = vs.value(np.ones((1, len(vs.videos))))[0]
                assert est == pytest.approx(value, abs=1e-6), (bench, metric)
                ci = bootstrap_metric(doc, metric, seed=0, n_boot=200)
                assert ci.low - 1e-9 <= value <= ci.high + 1e-9, (bench, metric, ci)
                checked += 1
            assert headline(doc) in doc["metrics"]
            bootstrap_metric(doc, headline(doc), seed=0, n_boot=50)  # every headline has one
    assert checked > 100


def test_paired_tests_use_the_same_resampling(measured):
    a, b = measured["gt_shifted"], measured["gt_swapped"]
    for bench in ("ytvis19", "vspw", "vipseg", "davis17", "burst", "refdavis17", "viposeg"):
        r = paired_test(a[bench], b[bench], seed=0, n_boot=300)
        from univs_bench.report.leaderboard import headline
        m = headline(a[bench])
        assert r.delta == pytest.approx(a[bench]["metrics"][m] - b[bench]["metrics"][m], abs=1e-6)
        assert r.low <= r.delta <= r.high and 0 < r.p_value <= 1
        same = paired_test(a[bench], a[bench], seed=0, n_boot=100)
        assert same.delta == 0 and same.p_value == 1.0


def test_report_json_ci_on_a_run_work_dir(measured, capsys):
    """`report --table 2 --format json --ci` on run's work dir: every measured cell has an
    interval containing its value, and its data source."""
    import json

    from univs_bench.cli import main
    assert main(["report", "--table", "2", "--format", "json", "--ci",
                 "--results", str(measured["_root"] / "w")]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = [r for r in doc["rows"] if r["measured"]]
    assert sorted(r["meta"]["Method"] for r in rows) == ["gt_shifted", "gt_swapped"]
    n = 0
    for r in rows:
        assert "synthetic suite" in r["data_source"] and r["code_version"].startswith("univs-bench")
        for key, c in r["cells"].items():
            assert c["value"] is not None, key  # every column of Table 2 (+ MOSE, BURST) was run
            assert c["ci_low"] <= c["value"] <= c["ci_high"], (key, c)
            assert "synthetic suite" in c["data_source"]
            n += 1
    assert n == 2 * 14


GOLDEN = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "golden"


def _golden_cases():
    import json
    if not GOLDEN.is_dir():
        return []
    out = []
    for case in sorted(GOLDEN.glob("*/*/case.json")):
        doc = json.loads(case.read_text())
        if "error" not in doc.get("expected", {}):
            out.append(case)
    return out


@pytest.mark.parametrize("case", _golden_cases(), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_golden_point_estimates_reproduce_the_official_numbers(case):
    """On the official-code golden cases, the metric recomputed from per-video statistics is the
    official number, and its interval contains it."""
    import json

    from univs_bench.evaluators.api import evaluate
    spec = json.loads(case.read_text())
    res = evaluate(spec["benchmark"], str(case.parent / spec["gt"]), str(case.parent / spec["pred"]),
                   task=spec.get("task"))
    doc = {"benchmark": spec["benchmark"], "metrics": res.metrics, "per_video": res.per_video}
    n = 0
    for metric, want in spec["expected"].items():
        try:
            vs = video_statistics(doc, metric)
        except InputError as e:
            assert "range only" in str(e) or "only HOTA" in str(e), e
            continue
        est = vs.value(np.ones((1, len(vs.videos))))[0]
        if want is None:
            assert not np.isfinite(est)
            continue
        assert est == pytest.approx(want, abs=spec.get("tolerance", 1e-3)), metric
        if len(vs.videos) >= 2:
            ci = bootstrap_metric(doc, metric, seed=0, n_boot=200)
            assert ci.low - 1e-9 <= want <= ci.high + 1e-9
        n += 1
    assert n >= 1


def test_resampled_ap_is_the_official_ap_of_the_replicated_videos():
    """A resample's AP (detections weighted by their video's count) equals cocoapi's
    accumulate/summarize run on the drawn videos, each copy a video of its own."""
    from univs_bench.evaluators.functional import vis as F
    rng = np.random.default_rng(0)
    pv = {}
    for v in range(40):
        st = {}
        for c in rng.choice(6, 3, replace=False):
            k = int(rng.integers(1, 6))
            st[str(c)] = {"scores": sorted(rng.random(k).tolist(), reverse=True),
                          "tp": rng.integers(0, 1024, k).tolist(), "ig": rng.integers(0, 2, k).tolist(),
                          "n_gt": int(rng.integers(0, 3))}
        pv[str(v + 1)] = st
    bits = 1 << np.arange(10)

    def official(videos):
        cats = sorted({c for st in videos for c in st}, key=int)
        per = []
        for c in cats:
            per.append([F.CategoryStats(np.array(st[c]["scores"]),
                                        ((np.array(st[c]["tp"])[:, None] & bits) > 0).T[None],
                                        ((np.array(st[c]["ig"])[:, None] & bits) > 0).T[None],
                                        np.array([st[c]["n_gt"]])) for st in videos if c in st])
        prec, rec = F.accumulate(per, 1)
        return {k: 100 * v for k, v in F.summarize(prec, rec, (("all", "all"),)).items()}
    doc = {"benchmark": "ytvis19", "metrics": {}, "per_video": {v: {"ap_stats": st} for v, st in pv.items()}}
    for metric in ("AP", "AP50", "AP75", "AR1", "AR10", "AR100"):
        vs = video_statistics(doc, metric)
        order = vs.videos
        assert vs.value(np.ones((1, 40)))[0] == pytest.approx(official([pv[v] for v in order])[metric], abs=1e-9)
        for _ in range(3):
            w = rng.multinomial(40, np.ones(40) / 40)
            rep = [pv[v] for v, k in zip(order, w) for _ in range(k)]
            assert vs.value(w[None].astype(float))[0] == pytest.approx(official(rep)[metric], abs=1e-9)


def test_flat_metrics_export_with_intervals(measured, capsys):
    """`report --table metrics --format csv --ci`: one header row, every metric of every model,
    numeric interval columns that contain their value."""
    import csv
    import io

    from univs_bench.cli import main
    assert main(["report", "--table", "metrics", "--format", "csv", "--ci",
                 "--results", str(measured["_root"] / "w")]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["Method"] for r in rows) == ["gt_shifted", "gt_swapped"]
    shifted = next(r for r in rows if r["Method"] == "gt_shifted")
    doc = measured["gt_shifted"]["davis17"]
    for m, v in doc["metrics"].items():
        assert float(shifted[f"davis17/{m}"]) == pytest.approx(v, abs=1e-5)
        lo, hi = float(shifted[f"davis17/{m} ci_low"]), float(shifted[f"davis17/{m} ci_high"])
        assert lo - 1e-5 <= v <= hi + 1e-5
    assert shifted["ytvis19/AP_s ci_low"] == ""  # no per-video statistics for area ranges
