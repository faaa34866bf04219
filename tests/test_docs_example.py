"""The model in docs/adding_a_model.md runs as printed."""
import re
from pathlib import Path

from univs_bench.benchmarks import get_benchmark
from univs_bench.runner import Runner
from univs_bench.synthetic import SynthConfig

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding_a_model.md"


def test_adding_a_model_example_runs_and_scores(tmp_path):
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    assert len(code.strip().splitlines()) <= 40
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    r = Runner("colour_propagation", work_dir=str(tmp_path), progress=False,
               synth_cfg=SynthConfig(videos=2, frames=5, size=(48, 64)))
    rec = r.run([get_benchmark("davis17")])["davis17"]
    # better than predicting nothing (J&F of empty masks on these videos)
    from univs_bench.models.zoo import VideoModel
    from univs_bench.registry import BENCHMARK_MODELS
    from univs_bench.schema import VideoAnnotation

    @BENCHMARK_MODELS.register_module("_empty", force=True)
    class Empty(VideoModel):
        def predict_video(self, item, meta, bench):
            return VideoAnnotation(video=item.video)

    empty = Runner("_empty", work_dir=str(tmp_path), progress=False).run([get_benchmark("davis17")])["davis17"]
    assert rec["metrics"]["J&F"] > empty["metrics"]["J&F"] + 10
