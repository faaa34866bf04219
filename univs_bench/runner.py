"""The main job: model x benchmarks -> official-format predictions -> scores.

``run(...)`` does, for each selected benchmark:

1. find the data (``--data-root``/<benchmark>, or the built-in synthetic suite written into the
   work dir) and convert it to the unified schema once (cached under ``WORK/_data``);
2. run the model video by video, writing each video's predictions in the official format as
   soon as it is done (atomically, with a per-video marker, so a killed run loses at most the
   video in progress and a rerun skips finished videos);
3. close the submission (json / zip), score it with the same evaluator as
   `univs-bench evaluate`, and store ``WORK/<model>/<benchmark>/metrics.json`` with provenance.

Videos are sharded across ranks when launched distributed; rank 0 closes and scores after a
barrier, reading every rank's per-video outputs by video id.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .benchmarks import Benchmark, get_benchmark
from .errors import InputError
from .io.atomic import atomic_write_text
from .schema import AnnotationFile, VideoAnnotation


@dataclass
class BenchData:
    """Where a benchmark's data lives under its root and how to read and write it.

    ``converter``/``writer`` are registered names with kwargs; ``data`` is the converter's
    root under the benchmark folder; ``split`` is the split converted
    for inference; ``gt`` is the path (relative to the root) that `univs-bench evaluate --gt`
    takes, or None when the GT is server-only and no local copy exists.
    """

    converter: tuple[str, dict]
    split: str
    gt: str | None
    writer: tuple[str, dict]
    data: str = "."  # the converter's root, relative to the benchmark's root
    options: dict = field(default_factory=dict)


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dist_info() -> tuple[int, int]:
    """(rank, world size) from an initialised torch.distributed group, else (0, 1)."""
    if "torch" not in sys.modules:
        return 0, 1
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier() -> None:
    rank, world = dist_info()
    if world > 1:
        import torch.distributed as dist
        dist.barrier()


def init_launcher(launcher: str) -> None:
    """Initialise distributed inference (``pytorch``: torchrun env vars; ``slurm``) on gloo or nccl."""
    if launcher == "none":
        return
    import torch
    if torch.cuda.is_available() or launcher == "slurm":
        from mmengine.dist import init_dist
        init_dist(launcher, backend="nccl" if torch.cuda.is_available() else "gloo")
    else:
        # mmengine's pytorch launcher calls torch.cuda.set_device, which a CPU build lacks;
        # torchrun's environment (MASTER_ADDR, RANK, WORLD_SIZE) is all gloo needs.
        import torch.distributed as dist
        dist.init_process_group(backend="gloo", init_method="env://")


class Runner:
    """Run one model over benchmarks; see the module docstring."""

    def __init__(self, model_name: str, work_dir: str = "work_dirs", data_root: str | None = None,
                 model_cfg: dict | None = None, progress: bool = True, synth_cfg=None,
                 name: str | None = None, model_meta: dict | None = None):
        from .registry import BENCHMARK_MODELS
        from .registry import build as build_in_scope
        self.model_name = model_name
        self.name = name or model_name  # results go to WORK/<name>/ (a variant gets its own name)
        self.model_meta = dict(model_meta or {})
        self.work_dir = Path(work_dir)
        self.data_root = Path(data_root) if data_root else None
        self.model_cfg = dict(model_cfg or {})
        if model_name not in BENCHMARK_MODELS.module_dict:
            BENCHMARK_MODELS.import_from_location()
        if BENCHMARK_MODELS.get(model_name) is None:
            raise InputError(f"unknown model {model_name!r}; `univs-bench list models` shows the choices")
        self.model = build_in_scope(BENCHMARK_MODELS, dict(type=model_name, **self.model_cfg))
        self.progress = progress
        self.synth_cfg = synth_cfg

    # ------------------------------------------------------------------ data
    def bench_root(self, bench: Benchmark) -> Path:
        if self.data_root is not None:
            root = self.data_root / bench.name
            if not root.is_dir():
                raise InputError(f"{root}: no data for {bench.name} under --data-root")
            return root
        synth = self.work_dir / "_synthetic"
        root = synth / bench.name
        rank, _ = dist_info()
        if not (root / ".complete").exists() and rank == 0:
            from .synthetic import SynthConfig, write_suite
            write_suite(str(synth), benchmarks=[bench.name], cfg=self.synth_cfg or SynthConfig())
            (root / ".complete").write_text("ok\n")
        barrier()
        return root

    def annotations(self, bench: Benchmark, spec: BenchData, root: Path) -> AnnotationFile:
        """The converted split, cached in the work dir keyed by the raw data's location."""
        from .registry import CONVERTERS
        key = hashlib.sha256(str((root / spec.data).resolve()).encode()).hexdigest()[:10]
        cache = self.work_dir / "_data" / f"{bench.name}_{spec.split}_{key}.json"
        rank, _ = dist_info()
        if not cache.exists() and rank == 0:
            name, kw = spec.converter
            CONVERTERS.import_from_location()
            conv = CONVERTERS.build(dict(type=name, **kw))
            rep = conv.convert(str(root / spec.data), spec.split, str(cache), progress=self.progress)
            print(f"[{bench.name}] converted {rep.summary()}", file=sys.stderr)
        barrier()
        self._ann_sha256 = _hash_file(cache)
        return AnnotationFile.load(str(cache))

    # ------------------------------------------------------------------ one benchmark
    def run_benchmark(self, bench: Benchmark) -> dict:
        from .data_converters import bench_data, build_writer
        out_dir = self.work_dir / self.name / bench.name
        metrics_path = out_dir / "metrics.json"
        if metrics_path.exists():
            return json.loads(metrics_path.read_text())
        rank, world = dist_info()
        spec = bench_data(bench.name)
        root = self.bench_root(bench)
        t0 = time.time()
        if self.model.replays_files:
            pred_root = Path(self.model.pred_root or "") / bench.name
            if not pred_root.exists():
                raise InputError(f"{pred_root}: no predictions of {bench.name} to replay")
            submission, ann_file, n_videos = pred_root, None, None
        else:
            ann = self.annotations(bench, spec, root)
            ann_file = ann
            if bench.task not in self.model.tasks:
                raise InputError(f"model {self.model_name!r} does not do task {bench.task!r} ({bench.name})")
            writer = build_writer(spec)
            writer.open(out_dir / "pred")
            items = ann.data_list[rank::world]
            n_videos = len(ann.data_list)
            todo = [it for it in items if not writer.is_done(it.video.id)]
            bar = None
            if self.progress and sys.stderr.isatty():
                from tqdm import tqdm
                bar = tqdm(total=len(items), initial=len(items) - len(todo), desc=f"{self.name}/{bench.name}",
                           unit="video", file=sys.stderr)
            for item in todo:
                inputs = item if self.model.uses_gt else model_inputs(item)
                pred = self.model.predict_video(inputs, ann.metainfo, bench)
                writer.write_video(pred, ann.metainfo)
                writer.mark_done(item.video.id)
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            barrier()
            if rank != 0:
                return {}
            submission = writer.close()
            pred_path = writer.eval_target()
        if rank != 0:
            return {}
        if self.model.replays_files:
            pred_path = submission
        model = {"name": self.name, "model": self.model_name, **self.model_meta}
        record = {"benchmark": bench.name, "task": bench.task, "model": model,
                  "submission": str(submission), "pred": str(pred_path), "metrics": None, "per_video": {},
                  "provenance": self.provenance(bench, root, ann_file, n_videos, time.time() - t0)}
        if spec.gt is None or not (root / spec.gt).exists():
            record["note"] = (f"{bench.title} val GT is server-only: upload {submission}; "
                              "give --data-root with a dev split (univs-bench split) to score locally")
        else:
            from .evaluators.api import evaluate, path_sha256
            t1 = time.time()
            task = bench.default_task if bench.task_metrics else None
            res = evaluate(bench.name, str(root / spec.gt), str(pred_path), task=task, options=spec.options)
            record["metrics"], record["per_video"] = res.metrics, res.per_video
            record["provenance"]["eval_seconds"] = round(time.time() - t1, 3)
            record["provenance"]["gt_sha256"] = path_sha256(str(root / spec.gt))
        atomic_write_text(metrics_path, json.dumps(record, indent=1, allow_nan=False))
        return record

    def provenance(self, bench, root, ann, n_videos, seconds) -> dict:
        import subprocess
        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                    cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            commit = None
        prov = {"univs_bench": __version__, "git_commit": commit, "model": self.model.describe(),
                "model_cfg": self.model_cfg, "data_root": str(root.resolve()), "videos": n_videos,
                "seconds": round(seconds, 3), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "host": socket.gethostname(), "platform": platform.platform(),
                "python": platform.python_version()}
        ckpt = self.model_cfg.get("checkpoint")
        if ckpt and os.path.isfile(ckpt):
            prov["checkpoint_sha256"] = _hash_file(Path(ckpt))
        if ann is not None:
            prov["data_sha256"] = self._ann_sha256  # of the converted annotation file
        if "torch" in sys.modules:
            import torch
            prov["torch"] = torch.__version__
            prov["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        return prov

    def run(self, benchmarks: list[Benchmark]) -> dict[str, dict]:
        check = getattr(self.model, "check_benchmarks", None)
        if check is not None:  # a model that cannot answer a benchmark says so before any work
            check(benchmarks)
        return {b.name: self.run_benchmark(b) for b in benchmarks}


def model_inputs(item: VideoAnnotation) -> VideoAnnotation:
    """What a model may see of a GT item: the video and its prompts, never the GT tracks."""
    return VideoAnnotation(video=item.video, tracks=[], label_maps=[], prompts=list(item.prompts))


def summary_table(results: dict[str, dict]) -> str:
    """One row per benchmark: headline metrics, or the note for server-only benchmarks."""
    from tabulate import tabulate
    rows = []
    for name, rec in results.items():
        if not rec:
            continue
        bench = get_benchmark(name)
        m = rec.get("metrics")
        if m is None:
            rows.append((name, bench.task, "-", "(server-only: submission written)"))
            continue
        heads = [k for k in list(m)[:3]]
        rows.append((name, bench.task, f"{m[heads[0]]:.2f}" if m[heads[0]] is not None else "-",
                     "  ".join(f"{k}={m[k]:.2f}" if m[k] is not None else f"{k}=-" for k in heads[1:])))
    return tabulate(rows, headers=["benchmark", "task", "headline", "more"], disable_numparse=True)
