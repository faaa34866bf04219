"""`univs-bench run` as a researcher uses it: results keyed by their inputs, competitors' files,
server-only benchmarks on official downloads, one failure never stopping the rest, names.

Most tests run the CLI in a fresh process (tests/clitools.py), exactly as a user would.
"""
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from clitools import cli

from univs_bench.benchmarks import BENCHMARKS
from univs_bench.evaluators.api import evaluate
from univs_bench.models.zoo import GroundTruthModel, VideoModel
from univs_bench.registry import BENCHMARK_MODELS
from univs_bench.runner import Runner
from univs_bench.synthetic import SynthConfig

SMALL = ["--synth-videos", "2", "--synth-frames", "5"]


def metrics(work: Path, name: str, bench: str) -> dict:
    return json.loads((work / name / bench / "metrics.json").read_text())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A folder of official layouts ("the user's downloaded data"), other than the default suite."""
    d = tmp_path_factory.mktemp("data") / "big"
    r = cli(["synth", "--out", d, "--benchmarks", "davis17", "ytvis19", "ovis", "burst", "mose", "--videos", "3",
             "--frames", "6", "--size", "48x64", "--seed", "3"], d.parent)
    assert r.returncode == 0, r.stderr
    return d


# --------------------------------------------------------------------------- H1: no stale results
def test_synthetic_then_data_root_in_the_same_work_dir_recomputes(tmp_path, data):
    r = cli(["run", "--model", "first_frame_copy", "--benchmarks", "davis17", *SMALL], tmp_path)
    assert r.returncode == 0, r.stderr
    synthetic = metrics(tmp_path / "work_dirs", "first_frame_copy", "davis17")["metrics"]["J&F"]
    r = cli(["run", "--model", "first_frame_copy", "--benchmarks", "davis17", "--data-root", data], tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\[davis17\] recomputing \(made with other data_root, data_sha256\): discarding ", r.stderr,
                     re.M), r.stderr
    rec = metrics(tmp_path / "work_dirs", "first_frame_copy", "davis17")
    true = evaluate("davis17", str(data / "davis17/DAVIS"), str(tmp_path / rec["pred"])).metrics["J&F"]
    assert rec["metrics"]["J&F"] == true != synthetic
    assert rec["provenance"]["data_root"] == str((data / "davis17").resolve())
    # the same value as a fresh work dir gives
    r = cli(["run", "--model", "first_frame_copy", "--benchmarks", "davis17", "--data-root", data,
             "--work-dir", "fresh"], tmp_path)
    assert metrics(tmp_path / "fresh", "first_frame_copy", "davis17")["metrics"]["J&F"] == true
    # same inputs: reused and said so; --force: recomputed
    r = cli(["run", "--model", "first_frame_copy", "--benchmarks", "davis17", "--data-root", data], tmp_path)
    assert f"[davis17] reused J&F={true:.2f} (same inputs as the run of " in r.stderr, r.stderr
    r = cli(["run", "--model", "first_frame_copy", "--benchmarks", "davis17", "--data-root", data, "--force"],
            tmp_path)
    assert "[davis17] recomputing (--force)" in r.stderr and f"[davis17] done J&F={true:.2f}" in r.stderr


@BENCHMARK_MODELS.register_module("_test_lagging_gt", force=True)
class LaggingGT(VideoModel):
    """The GT ``lag`` frames late; its "checkpoint" file holds an extra lag (weights that changed)."""

    uses_gt = True
    calls = []

    def __init__(self, lag: int = 0, checkpoint: str | None = None):
        self.lag = lag + (int(Path(checkpoint).read_text()) if checkpoint else 0)
        self.checkpoint = checkpoint

    def predict_video(self, item, meta, bench):
        LaggingGT.calls.append(item.video.id)
        out = GroundTruthModel().predict_video(item, meta, bench)
        for t in out.tracks:
            t.masks = [t.masks[0]] * self.lag + t.masks[:len(t.masks) - self.lag]
        return out


def _jf(tmp_path, work="w", **cfg):
    LaggingGT.calls = []
    logs = []
    rec = Runner("_test_lagging_gt", work_dir=str(tmp_path / work), model_cfg=cfg, progress=False,
                 synth_cfg=SynthConfig(videos=2, frames=6, size=(48, 64)), log=logs.append).run(
        [__import__("univs_bench.benchmarks", fromlist=["x"]).get_benchmark("davis17")], keep_going=False)
    return rec["davis17"]["metrics"]["J&F"], list(LaggingGT.calls), logs


def test_changed_options_or_checkpoint_recompute_and_never_reuse_old_predictions(tmp_path):
    ck = tmp_path / "weights.txt"
    ck.write_text("0")
    perfect, calls, _ = _jf(tmp_path, checkpoint=str(ck))
    assert perfect == 100.0 and len(calls) == 2
    # another option (like weights=random): recomputed, with the value of a fresh work dir
    lag1, calls, logs = _jf(tmp_path, checkpoint=str(ck), lag=1)
    fresh, _, _ = _jf(tmp_path, work="fresh", checkpoint=str(ck), lag=1)
    assert lag1 == fresh < 100.0 and len(calls) == 2
    assert any(re.match(r"\[davis17\] recomputing \(made with other model_cfg\)", m) for m in logs), logs
    # the same checkpoint path with other content
    ck.write_text("2")
    lag3, calls, logs = _jf(tmp_path, checkpoint=str(ck), lag=1)
    assert lag3 < lag1 and len(calls) == 2
    assert any("made with other checkpoint_sha256" in m for m in logs), logs
    # metrics.json deleted by hand, then other options: the old per-video predictions are not reused
    (tmp_path / "w/_test_lagging_gt/davis17/metrics.json").unlink()
    ck.write_text("0")
    again, calls, logs = _jf(tmp_path, checkpoint=str(ck))
    assert again == 100.0 and len(calls) == 2
    assert any("made with other checkpoint_sha256, model_cfg" in m for m in logs), logs
    # unchanged: reused, nothing predicted
    _, calls, logs = _jf(tmp_path, checkpoint=str(ck))
    assert calls == [] and not any("recomputing" in m for m in logs)


def _pred_dirs(tmp_path, data, models=("gt", "gt_shifted")):
    """PRED/<bench>/ and PRED_B/<bench>/: two competitors' official files (copies of run outputs)."""
    out = {}
    for model, dst in zip(models, ("PRED", "PRED_B")):
        r = cli(["run", "--model", model, "--benchmarks", "davis17", "ytvis19", "burst", "ovis",
                 "--data-root", data, "--work-dir", "gen"], tmp_path)
        assert r.returncode == 0, r.stderr
        for b in ("davis17", "ytvis19", "burst", "ovis"):
            shutil.copytree(tmp_path / "gen" / model / b / "pred", tmp_path / dst / b)
        out[dst] = tmp_path / dst
    return out


def test_a_second_competitor_is_scored_on_its_own_files(tmp_path, data):
    _pred_dirs(tmp_path, data)
    r = cli(["run", "--model", "results", "--cfg-options", "pred_root=PRED", "--data-root", data,
             "--benchmarks", "davis17", "--work-dir", "wr"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"[davis17] scoring PRED/davis17 against {data}/davis17/DAVIS" in r.stderr
    assert metrics(tmp_path / "wr", "results", "davis17")["metrics"]["J&F"] == 100.0
    r = cli(["run", "--model", "results", "--cfg-options", "pred_root=PRED_B", "--data-root", data,
             "--benchmarks", "davis17", "--work-dir", "wr"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "[davis17] recomputing (made with other pred_sha256, pred_source)" in r.stderr, r.stderr
    true = evaluate("davis17", str(data / "davis17/DAVIS"), str(tmp_path / "PRED_B/davis17")).metrics["J&F"]
    assert metrics(tmp_path / "wr", "results", "davis17")["metrics"]["J&F"] == true < 100.0
    # the competitor rewrote a file in place: re-scored
    png = sorted((tmp_path / "PRED_B/davis17").rglob("*.png"))[3]
    shutil.copy(sorted((tmp_path / "PRED/davis17").rglob("*.png"))[3], png)
    r = cli(["run", "--model", "results", "--cfg-options", "pred_root=PRED_B", "--data-root", data,
             "--benchmarks", "davis17", "--work-dir", "wr"], tmp_path)
    assert "[davis17] recomputing (made with other pred_sha256)" in r.stderr, r.stderr


# --------------------------------------------------------------------------- H3: competitors' files
def test_competitor_files_as_uploaded_folder_json_or_zip(tmp_path, data):
    pred = _pred_dirs(tmp_path, data, models=("gt",))["PRED"]
    # ovis as the upload zip the user already has, ytvis19 as a folder holding results.json
    shutil.rmtree(pred / "ovis")
    (pred / "ovis").mkdir()
    (pred / "ovis/submission.zip").write_bytes((tmp_path / "gen/gt/ovis/pred.zip").read_bytes())
    shutil.move(pred / "burst/pred.json", pred / "burst.json")  # PRED/<benchmark>.json
    shutil.rmtree(pred / "burst")
    # no --benchmarks: those PRED holds
    r = cli(["run", "--model", "results", "--cfg-options", "pred_root=PRED", "--data-root", data,
             "--name", "competitor"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "[results] submissions found in PRED: ytvis19, ovis, davis17, burst" in r.stderr
    assert f"[ytvis19] scoring PRED/ytvis19/results.json against {data}/ytvis19/valid_full/valid.json" in r.stderr
    assert "[ovis] scoring PRED/ovis/submission.zip against" in r.stderr and "[burst] scoring PRED/burst.json" in r.stderr
    for b, head in (("davis17", "J&F"), ("ytvis19", "AP"), ("ovis", "AP"), ("burst", "HOTA_all")):
        assert metrics(tmp_path / "work_dirs", "competitor", b)["metrics"][head] == pytest.approx(100.0), b


def test_results_refuses_the_synthetic_suite_and_names_its_option(tmp_path):
    (tmp_path / "PRED/davis17").mkdir(parents=True)
    r = cli(["run", "--model", "results", "--cfg-options", "pred_root=PRED", "--benchmarks", "davis17"], tmp_path)
    assert r.returncode == 2 and "give --data-root DIR" in r.stderr and "never scored against the built-in " \
        "synthetic suite" in r.stderr
    assert not (tmp_path / "work_dirs").exists()
    r = cli(["run", "--model", "results", "--cfg-options", "pred-root=PRED", "--data-root", "."], tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "univs-bench run: error: unknown option 'pred-root' for model results (did you mean pred_root?); "
        "accepted: pred_root"]
    # a repeated --cfg-options adds to the first instead of silently replacing it
    r = cli(["run", "--model", "results", "--cfg-options", "pred_root=PRED", "--data-root", ".",
             "--cfg-options", "pred_rot=x"], tmp_path)
    assert r.returncode == 2 and "unknown option 'pred_rot' for model results" in r.stderr
    # a model that takes no options names the option too (not "TypeError: ... takes no arguments")
    r = cli(["run", "--model", "first_frame_copy", "--cfg-options", "foo=1", "--benchmarks", "davis17"], tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "univs-bench run: error: unknown option 'foo' for model first_frame_copy; accepted: (none)"]
    (tmp_path / "davis17").mkdir()
    r = cli(["run", "--model", "results", "--data-root", ".", "--benchmarks", "davis17"], tmp_path)
    assert r.returncode == 1 and "needs --cfg-options pred_root=DIR" in r.stderr


# --------------------------------------------------------------------------- H2: official downloads
def test_server_only_benchmarks_on_an_official_download_write_the_upload_and_the_rest_goes_on(tmp_path, data):
    real = tmp_path / "real"
    r = cli(["synth", "--out", real, "--benchmarks", "ytvis19", "ytvis21", "ovis", "ytvos18", "mose", "refytvos",
             "davis17", "--videos", "2", "--frames", "5", "--size", "48x64"], tmp_path)
    assert r.returncode == 0
    for b in ("ytvis19", "ytvis21", "ovis", "ytvos18", "mose", "refytvos"):
        shutil.rmtree(real / b / "valid_full")  # what the official downloads hold
    (real / "vspw").mkdir()  # a benchmark whose data is broken
    benches = ["ytvis19", "ytvis21", "ovis", "ytvos18", "mose", "refytvos", "vspw", "davis17"]
    r = cli(["run", "--model", "first_frame_copy", "--data-root", real, "--benchmarks", *benches], tmp_path)
    assert r.returncode == 1, r.stderr
    work = tmp_path / "work_dirs/first_frame_copy"
    for b in benches[:6]:
        rec = metrics(tmp_path / "work_dirs", "first_frame_copy", b)
        assert rec["metrics"] is None and "server-only: upload" in rec["note"] and rec["provenance"]["split"] == "valid"
        assert f"[{b}] server-only: upload {work / b / 'pred.zip'}".replace(str(tmp_path) + "/", "") in r.stderr
        names = zipfile.ZipFile(work / b / "pred.zip").namelist()
        if b.startswith(("ytvis", "ovis")):
            assert names == ["results.json"]
        elif b in ("mose", "ytvos18"):
            frames = {f"Annotations/{v.name}/{f.stem}.png" for v in (real / b / "valid/JPEGImages").iterdir()
                      for f in v.iterdir()}
            assert set(names) == frames
    assert re.search(r"^\[davis17\] done J&F=\d", r.stderr, re.M)
    assert re.search(r"^\[vspw\] FAILED: .*vspw.*not found", r.stderr, re.M), r.stderr
    assert "1 of 8 benchmark(s) failed" in r.stderr and re.search(r"^  vspw: ", r.stderr, re.M)
    assert re.search(r"^\[run\] first_frame_copy: 1 scored, 0 reused, 6 server-only, 1 failed in \d+\.\d s$",
                     r.stderr, re.M), r.stderr
    # a dev split (valid_full) present: scored locally
    r = cli(["run", "--model", "gt", "--data-root", data, "--benchmarks", "mose"], tmp_path)
    assert r.returncode == 0 and "[mose] done J&F=100.00" in r.stderr, r.stderr


# --------------------------------------------------------------------------- names and selections
def test_every_command_takes_the_benchmark_names_and_both_split_spellings(tmp_path, data):
    for bench, root, split in (("davis17", data / "davis17", "valid"), ("DAVIS", data / "davis17/DAVIS", "val"),
                               ("mose", data / "mose", "val"), ("ytvis19", data / "ytvis19", "val")):
        r = cli(["convert", bench, "--root", root, "--split", split, "--out", "a.json"], tmp_path)
        assert r.returncode == 0, (bench, r.stderr)
        name = "davis17" if bench == "DAVIS" else bench
        assert re.match(rf"{name}/(val|valid): 3 videos", r.stdout), r.stdout  # the name `run` logs too
    r = cli(["convert", "mose", "--root", data / "mose", "--split", "test", "--out", "a.json"], tmp_path)
    assert r.returncode == 2 and r.stderr.strip().endswith(f"split 'test' not found: {data}/mose has train, valid, "
                                                           "valid_full"), r.stderr
    r = cli(["evaluate", "DAVIS", "--gt", data / "davis17/DAVIS", "--pred", data / "davis17/DAVIS/Annotations/480p"],
            tmp_path)
    assert r.returncode == 0 and "100.00" in r.stdout, r.stderr
    r = cli(["split", "davis17", "--root", data / "davis17", "--out", "sp"], tmp_path)
    assert r.returncode == 2 and "davis17 has public validation GT" in r.stderr and "split_vos" not in r.stderr
    r = cli(["split", "MOSE", "--root", data / "mose", "--out", "sp", "--fraction", "0.5"], tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli(["run", "--model", "first_fram_copy", "--benchmarks", "davis17"], tmp_path)
    assert r.returncode == 2 and "unknown model 'first_fram_copy' (did you mean first_frame_copy?)" in r.stderr
    r = cli(["run", "--model", "gt", "--benchmarks", "DAVIS17", "--data-root", data], tmp_path)
    assert r.returncode == 0 and "[davis17] done J&F=100.00" in r.stderr
    r = cli(["run", "--model", "gt", "--benchmarks", "davs17"], tmp_path)
    assert r.returncode == 2 and "(did you mean davis17?)" in r.stderr
    # a selection that selects nothing is an error, not an empty table
    r = cli(["run", "--model", "first_frame_copy", "--tasks", "vis", "--benchmarks", "davis17"], tmp_path)
    assert r.returncode == 2 and "davis17 is a vos benchmark, not in --tasks vis" in r.stderr
    r = cli(["run", "--model", "first_frame_copy", "--tasks", "vos", "--benchmarks", "davis17",
             "--launcher", "pytorch"], tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "univs-bench run: error: --launcher pytorch needs torchrun (RANK, WORLD_SIZE, MASTER_ADDR unset): "
        "use tools/dist_run.sh NPROC run-options..."]


def test_list_models_says_tasks_and_weights(tmp_path):
    r = cli(["list", "models"], tmp_path)
    assert r.returncode == 0
    rows = {ln.split()[0]: ln for ln in r.stdout.splitlines()[2:]}
    assert {"first_frame_copy", "gt", "gt_shifted", "results", "univs_r50", "univs_tiny"} <= set(rows)
    assert re.search(r"univs_r50\s+all\s+--checkpoint \(or weights=random\)", rows["univs_r50"])
    assert "pred_root=DIR, --data-root" in rows["results"] and "reads GT" in rows["gt"]
    assert not any(n.startswith("_") for n in rows)


def test_help_names_defaults(tmp_path):
    r = cli(["run", "--help"], tmp_path)
    text = " ".join(r.stdout.split())
    for s in ("(default work_dirs)", "--force", "--threads", "--plugin", "--wait", "torchrun", "(default all)"):
        assert s in text, s
    text = " ".join(cli(["split", "--help"], tmp_path).stdout.split())
    assert "(default 0.1)" in text and "(default 0)" in text
    assert "val (= valid" in " ".join(cli(["convert", "--help"], tmp_path).stdout.split())
    assert "videos per split" in " ".join(cli(["synth", "--help"], tmp_path).stdout.split())
    # evaluate's help lists the names and points at a file of the repository, not outside it
    text = " ".join(cli(["evaluate", "--help"], tmp_path).stdout.split())
    assert "ytvis19, ytvis21, ovis, vspw" in text and "docs/formats.md" in text and "CONTRACT.md" not in text
    formats = (Path(__file__).resolve().parents[1] / "docs" / "formats.md").read_text()
    for b in BENCHMARKS:
        assert f"| `{b}`" in formats, b
    text = " ".join(cli(["visualize", "--help"], tmp_path).stdout.split())
    assert "(default 6)" in text and "bars/radar: the table" in text and "bars/radar: the work dir" in text


# --------------------------------------------------------------------------- train, checkpoints
def test_train_writes_its_synthetic_data_under_the_work_dir(tmp_path, monkeypatch):
    from clitools import REPO

    from univs_bench.train import build_runner
    monkeypatch.chdir(tmp_path)
    runner = build_runner(REPO / "configs/univs/univs_tiny_synth.py", work_dir=tmp_path / "w",
                          cfg_options={"synthetic.videos": 1, "synthetic.frames": 3, "synthetic.size": (48, 48)})
    ann = tmp_path / "w/data/synth/ytvis21_train.json"
    assert ann.is_file() and not (tmp_path / "data").exists()
    assert runner.cfg.train_dataloader.dataset.ann_file == str(ann)


def test_train_names_a_missing_training_file_before_building_anything(tmp_path):
    from clitools import REPO
    r = cli(["train", REPO / "configs/univs/univs_r50_stage2.py", "--work-dir", "w"], tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    (line,) = r.stderr.strip().splitlines()
    assert re.fullmatch(rf"univs-bench train: error: {tmp_path}/data/annotations/(\w+)_train\w*\.json: training "
                        r"annotation file not found \(\d+ of \d+ training files missing\); .*", line), line
    assert "univs-bench has no converter for LVIS" in line or "make it with `univs-bench convert" in line


def test_convert_checkpoint_refuses_a_file_without_univs_weights(tmp_path):
    import torch
    torch.save({"model": {"foo.weight": torch.zeros(2)}}, tmp_path / "other.pth")
    r = cli(["convert-checkpoint", "other.pth", "out.pth"], tmp_path)
    assert r.returncode == 2 and "other.pth: no UniVS parameter in this file (1 key(s) dropped" in r.stderr
    assert not (tmp_path / "out.pth").exists()
    r = cli(["convert-checkpoint", "nonexist.pth", "out.pth"], tmp_path)
    assert r.stderr.strip() == "univs-bench convert-checkpoint: error: checkpoint not found: nonexist.pth"


def test_ablate_takes_plugins_and_the_run_options(tmp_path):
    (tmp_path / "abl.py").write_text(
        "from univs_bench.models.zoo import FirstFrameCopy\n"
        "from univs_bench.registry import BENCHMARK_MODELS\n\n\n"
        "@BENCHMARK_MODELS.register_module('abl_copy')\n"
        "class AblCopy(FirstFrameCopy):\n"
        "    def __init__(self, **switches):\n"
        "        self.switches = switches\n")
    r = cli(["ablate", "--plugin", "abl.py", "--model", "abl_copy", "--variants", "full", "no_proca",
             "--benchmarks", "davis17"], tmp_path)
    assert r.returncode == 0, r.stderr
    for v in ("full", "no_proca"):
        rec = metrics(tmp_path / "work_dirs/ablation", f"abl_copy-{v}", "davis17")
        assert rec["provenance"]["model_cfg"]["proca"] is (v == "full")
    assert len(re.findall(r"^\[davis17\] done J&F=", r.stderr, re.M)) == 2
    assert "Predictions (--pred), the official submission format: <seq>/<frame>.png" in \
        (tmp_path / "work_dirs/ablation/_synthetic/davis17/README.txt").read_text()


def test_train_launcher_outside_torchrun_is_one_line(tmp_path):
    from clitools import REPO
    r = cli(["train", REPO / "configs/univs/univs_tiny_synth.py", "--launcher", "pytorch"], tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "univs-bench train: error: --launcher pytorch needs torchrun (RANK, WORLD_SIZE, MASTER_ADDR unset): "
        "use tools/dist_train.sh CONFIG NUM_GPUS ..."]
