import json

import pytest

from univs_bench.benchmarks import get_benchmark
from univs_bench.evaluators.api import evaluate
from univs_bench.models.zoo import FirstFrameCopy
from univs_bench.registry import BENCHMARK_MODELS
from univs_bench.runner import Runner
from univs_bench.synthetic import SynthConfig


class Interrupt(Exception):
    pass


@BENCHMARK_MODELS.register_module("_test_flaky_copy", force=True)
class FlakyCopy(FirstFrameCopy):
    """first_frame_copy that dies after `fail_after` videos (a killed run)."""

    calls = []
    fail_after = None  # a class attribute, not an option: the resumed run has the same inputs

    def predict_video(self, item, meta, bench):
        if FlakyCopy.fail_after is not None and len(FlakyCopy.calls) >= FlakyCopy.fail_after:
            raise Interrupt()
        FlakyCopy.calls.append(item.video.id)
        return super().predict_video(item, meta, bench)


@pytest.fixture()
def synth_cfg():
    return SynthConfig(videos=3, frames=6, size=(48, 64))


def test_run_resumes_after_a_kill_and_matches_evaluate(tmp_path, synth_cfg):
    bench = get_benchmark("davis17")
    FlakyCopy.calls = []
    FlakyCopy.fail_after = 2
    r = Runner("_test_flaky_copy", work_dir=str(tmp_path), progress=False, synth_cfg=synth_cfg)
    with pytest.raises(Interrupt):
        r.run([bench], keep_going=False)
    assert len(FlakyCopy.calls) == 2
    FlakyCopy.fail_after = None
    assert not (tmp_path / "_test_flaky_copy" / "davis17" / "metrics.json").exists()
    first = list(FlakyCopy.calls)
    r2 = Runner("_test_flaky_copy", work_dir=str(tmp_path), progress=False, synth_cfg=synth_cfg)
    rec = r2.run([bench])["davis17"]
    assert FlakyCopy.calls[:2] == first and len(FlakyCopy.calls) == 3  # only the third video ran again
    # same numbers as scoring the written files with `univs-bench evaluate`
    res = evaluate("davis17", str(tmp_path / "_synthetic" / "davis17" / "DAVIS"), rec["pred"])
    assert rec["metrics"] == res.metrics
    saved = json.loads((tmp_path / "_test_flaky_copy" / "davis17" / "metrics.json").read_text())
    assert saved["metrics"] == res.metrics and saved["provenance"]["videos"] == 3
    # a finished benchmark is skipped
    FlakyCopy.calls = []
    r2.run([bench])
    assert FlakyCopy.calls == []


def test_gt_model_scores_perfectly_and_server_only_notes(tmp_path, synth_cfg):
    r = Runner("gt", work_dir=str(tmp_path), progress=False, synth_cfg=synth_cfg)
    out = r.run([get_benchmark("mose")])["mose"]
    assert out["metrics"]["J&F"] == 100.0
    assert out["submission"].endswith(".zip")
