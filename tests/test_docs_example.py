"""The model in docs/adding_a_model.md runs as printed."""
import json
import re
from pathlib import Path

from clitools import cli, doc_commands

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



def test_adding_a_model_runs_from_the_cli_as_the_doc_says(tmp_path):
    """The doc's code block saved as colour_model.py; its `univs-bench run --plugin ...` commands."""
    text = DOC.read_text()
    (tmp_path / "colour_model.py").write_text(re.search(r"```python\n(.*?)```", text, re.S).group(1))
    first, second = doc_commands(text, "univs-bench run --plugin")
    r = cli(first, tmp_path)  # exactly as printed: the synthetic suite, ./work_dirs
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\[davis17\] done J&F=\d+\.\d\d \(", r.stderr, re.M), r.stderr
    rec = json.loads((tmp_path / "work_dirs/colour_propagation/davis17/metrics.json").read_text())
    assert rec["metrics"]["J&F"] > 20  # nearest-colour propagation on the synthetic scenes
    assert (tmp_path / "work_dirs/colour_propagation/mose/metrics.json").is_file()
    # the second command on "real" data: /data stands for a folder of official layouts
    data = tmp_path / "data"
    assert cli(["synth", "--out", str(data), "--benchmarks", "davis17", "--videos", "2", "--frames", "5"],
               tmp_path).returncode == 0
    args = [str(data) if a == "/data" else a for a in second]
    r = cli(args, tmp_path)
    # davis17 is scored; mose has no folder under this data root: named, and the exit status says so
    assert r.returncode == 1 and re.search(r"^\[mose\] FAILED: .*mose: no data for mose under --data-root", r.stderr,
                                           re.M), r.stderr
    assert re.search(r"^\[davis17\] (recomputing|done)", r.stderr, re.M), r.stderr
    rec = json.loads((tmp_path / "work_dirs/colour_propagation/davis17/metrics.json").read_text())
    assert rec["provenance"]["model_cfg"] == {"threshold": 30}
    assert rec["provenance"]["data_root"] == str((data / "davis17").resolve())
    # a module name works too (importable from the current folder)
    r = cli(["run", "--plugin", "colour_model", "--model", "colour_propagation", "--benchmarks", "davis17",
             "--data-root", str(data), "--cfg-options", "threshold=30"], tmp_path)
    assert r.returncode == 0 and "[davis17] reused J&F=" in r.stderr, r.stderr


def test_models_of_installed_packages_register_through_the_entry_point_group(tmp_path):
    """A package declaring `univs_bench.models` entry points: listed and runnable with no flag."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "colour_model.py").write_text(re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1))
    dist = site / "colour_model-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: colour-model\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[univs_bench.models]\ncolour_propagation = colour_model\n")
    r = cli(["list", "models"], tmp_path, {"PYTHONPATH": str(site)})
    assert r.returncode == 0 and re.search(r"^colour_propagation\s+vos,pvos", r.stdout, re.M), r.stdout + r.stderr
    r = cli(["run", "--model", "colour_propagation", "--benchmarks", "davis17", "--synth-videos", "2",
             "--synth-frames", "5", "--work-dir", "w"], tmp_path, {"PYTHONPATH": str(site)})
    assert r.returncode == 0 and "[davis17] done J&F=" in r.stderr, r.stderr
