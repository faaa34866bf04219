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
from pathlib import Path

from . import __version__
from .benchmarks import Benchmark, get_benchmark
from .data_converters.base import BenchData  # noqa: F401  (re-exported: runner.BenchData)
from .errors import InputError
from .io.atomic import atomic_write_text
from .io.files import file_sha256
from .schema import AnnotationFile, VideoAnnotation


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


JSON_SUBMISSIONS = ("ytvis19", "ytvis21", "ovis", "burst")  # one json (or a zip of it) per submission
_SKIP_FINGERPRINT = ("train",)  # folders a validation conversion never reads


class BenchmarkInterrupted(KeyboardInterrupt):
    """Ctrl-C inside a benchmark: says how far it got (``done`` of ``total`` videos saved)."""

    def __init__(self, bench: str, done: int, total: int, out_dir: Path):
        super().__init__(bench)
        self.bench, self.done, self.total, self.out_dir = bench, done, total, out_dir


def _jsonable(obj):
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def tree_fingerprint(root: Path) -> str:
    """sha256 of (relative path, size, mtime) of the files under ``root``, ``train*`` folders
    skipped: cheap enough for a real dataset, and changes when a file is added, removed or
    rewritten."""
    h = hashlib.sha256()
    if root.is_file():
        st = root.stat()
        h.update(f"{root.name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        return h.hexdigest()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(_SKIP_FINGERPRINT) and not d.startswith("."))
        rel = os.path.relpath(dirpath, root)
        for n in sorted(filenames):
            if n.startswith("."):
                continue
            try:
                st = os.stat(os.path.join(dirpath, n))
            except OSError:
                continue
            h.update(f"{rel}/{n}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def ensure_synthetic(synth_dir: str | os.PathLike, bench: str, cfg=None, log=None) -> Path:
    """``synth_dir/<bench>``: the synthetic suite's benchmark, written (atomically) unless its
    ``.complete`` marker records the same :class:`~univs_bench.synthetic.SynthConfig`. Callers
    hold the work dir's lock."""
    from dataclasses import asdict

    from .synthetic import SynthConfig, write_benchmark
    cfg = cfg or SynthConfig()
    root = Path(synth_dir) / bench
    want = json.dumps(_jsonable(asdict(cfg)), sort_keys=True)
    done = root / ".complete"
    if not done.is_file() or done.read_text().strip() != want:
        (log or _log)(f"[{bench}] no --data-root: writing the synthetic suite to {root}")
        write_benchmark(str(synth_dir), bench, cfg)  # replaces the folder atomically
        atomic_write_text(done, want + "\n")
    return root


def _code_version() -> str:
    import subprocess
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return f"{__version__}+{commit}" if commit else __version__


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Runner:
    """Run one model over benchmarks; see the module docstring.

    A finished benchmark (``WORK/<name>/<benchmark>/metrics.json``) and the per-video
    predictions of an interrupted one are reused only when their inputs (:meth:`inputs`: model
    and options, checkpoint sha256, data location and content, replayed predictions, code
    version) equal this run's; otherwise that benchmark's folder is discarded and recomputed,
    with one line saying why. ``force`` recomputes regardless. The work dir is locked for the
    run (:func:`univs_bench.io.lock.work_dir_lock`; ``wait`` waits for another holder).
    """

    def __init__(self, model_name: str, work_dir: str = "work_dirs", data_root: str | None = None,
                 model_cfg: dict | None = None, progress: bool = True, synth_cfg=None,
                 name: str | None = None, model_meta: dict | None = None, force: bool = False,
                 wait: bool = False, log=None, progress_every: int | None = None):
        from .registry import BENCHMARK_MODELS, find_model
        from .registry import build as build_in_scope
        self.model_name = model_name
        self.name = name or model_name  # results go to WORK/<name>/ (a variant gets its own name)
        self.model_meta = dict(model_meta or {})
        self.work_dir = Path(work_dir)
        self.data_root = Path(data_root) if data_root else None
        self.model_cfg = dict(model_cfg or {})
        cls = find_model(model_name)
        check_model_options(model_name, cls, self.model_cfg)
        if getattr(cls, "replays_files", False) and self.data_root is None:
            raise InputError(f"--model {model_name} scores existing prediction files: give --data-root DIR with "
                             "the data they answer (DIR/<benchmark>/ in the official layout); they are never "
                             "scored against the built-in synthetic suite")
        self.model = build_in_scope(BENCHMARK_MODELS, dict(type=model_name, **self.model_cfg))
        self.progress = progress
        self.synth_cfg = synth_cfg
        self.force, self.wait = force, wait
        self.log = log or _log
        self.progress_every = progress_every
        self._sha_cache: dict = {}
        self._code = None

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
        if rank == 0:
            ensure_synthetic(synth, bench.name, self.synth_cfg, self.log)
        barrier()
        return root

    def annotations(self, bench: Benchmark, spec: BenchData, root: Path) -> AnnotationFile:
        """The converted split, cached in the work dir keyed by the raw data's location and a
        fingerprint of its files (:func:`tree_fingerprint`)."""
        from .registry import CONVERTERS
        src = (root / spec.data).resolve()
        key = hashlib.sha256(f"{src}\0{spec.split}\0{tree_fingerprint(src)}".encode()).hexdigest()[:12]
        cache = self.work_dir / "_data" / f"{bench.name}_{spec.split}_{key}.json"
        rank, _ = dist_info()
        if not cache.exists() and rank == 0:
            name, kw = spec.converter
            CONVERTERS.import_from_location()
            conv = CONVERTERS.build(dict(type=name, **kw))
            rep = conv.convert(str(root / spec.data), spec.split, str(cache), progress=self.progress)
            self.log(f"[{bench.name}] converted {bench.name}/{rep.summary().split('/', 1)[1]}")
        barrier()
        self._ann_sha256 = file_sha256(cache)
        return AnnotationFile.load(str(cache))

    def replay_source(self, bench: Benchmark) -> Path:
        """The competitor's submission for ``bench``: ``PRED/<benchmark>`` (a folder, a json or a
        zip, as uploaded), ``PRED/<benchmark>.json|.zip``, or a folder holding only the zip; for
        the json benchmarks a folder must hold exactly one json or zip (``results.json``/
        ``pred.json`` preferred). Zips of PNG submissions need an evaluator that reads zips."""
        pred_root = getattr(self.model, "pred_root", None)
        if not pred_root:
            raise InputError(f"--model {self.model_name} needs --cfg-options pred_root=DIR, where "
                             f"DIR/<benchmark>/ holds each benchmark's official submission")
        base = Path(pred_root)
        if not base.is_dir():
            raise InputError(f"{base}: pred_root folder not found")
        cands = [base / bench.name, base / f"{bench.name}.json", base / f"{bench.name}.zip"]
        found = next((c for c in cands if c.exists()), None)
        if found is None:
            raise InputError(f"{base / bench.name}: no predictions of {bench.name} under pred_root "
                             f"(expected {bench.pred_layout}, as a folder, a json or a zip)")
        visible = [f for f in found.iterdir() if not f.name.startswith(".")] if found.is_dir() else []
        if len(visible) == 1 and visible[0].is_file() and visible[0].suffix.lower() == ".zip":
            return visible[0]  # the upload zip, kept in the benchmark's folder
        if found.is_dir() and bench.name in JSON_SUBMISSIONS:
            files = sorted(f for f in found.iterdir() if f.is_file() and not f.name.startswith(".")
                           and f.suffix.lower() in (".json", ".zip"))
            named = [f for f in files if f.name in ("results.json", "pred.json")]
            if len(named) == 1 or len(files) == 1:
                return (named or files)[0]
            raise InputError(f"{found}: expected one results json or zip of {bench.name} in this folder, "
                             f"found {[f.name for f in files] or 'none'}")
        return found

    # ------------------------------------------------------------------ what produced a result
    def _sha(self, path: str) -> str | None:
        p = Path(path)
        if not p.exists():
            return None
        st = p.stat()
        k = (str(p.resolve()), st.st_size, st.st_mtime_ns)
        if k not in self._sha_cache:
            from .evaluators.api import path_sha256
            self._sha_cache[k] = path_sha256(str(p))
        return self._sha_cache[k]

    def checkpoint_path(self) -> str | None:
        ck = self.model_cfg.get("checkpoint") or getattr(self.model, "checkpoint", None)
        if not ck and hasattr(self.model, "_default_checkpoint"):
            ck = self.model._default_checkpoint()
        return str(ck) if ck else None

    def inputs(self, bench: Benchmark, root: Path, spec: BenchData, pred_source: Path | None = None) -> dict:
        """Everything a benchmark's result depends on; a stored result is reused only if equal."""
        if self._code is None:
            self._code = _code_version()
        ck = self.checkpoint_path()
        # paths are keyed by what they hold (sha256 / resolved source), not by how they were spelled
        cfg = {k: v for k, v in self.model_cfg.items() if k not in ("checkpoint", "pred_root")}
        d = {"model": self.model_name, "model_cfg": _jsonable(cfg),
             "checkpoint_sha256": self._sha(ck) if ck else None,
             "data_root": str(root.resolve()), "split": spec.split, "code": self._code}
        if pred_source is not None:
            d["pred_source"] = str(pred_source.resolve())
            d["pred_sha256"] = self._sha(str(pred_source))
            d["gt_sha256"] = self._sha(str(root / spec.gt)) if spec.gt else None
        else:
            d["data_sha256"] = self._ann_sha256
        return d

    def _reconcile(self, bench: Benchmark, out_dir: Path, inputs: dict) -> None:
        """Discard ``out_dir`` when ``--force`` or when it was made from other inputs."""
        if not out_dir.exists() or not any(out_dir.iterdir()):
            return
        why = None
        if self.force:
            why = "--force"
        else:
            old = None
            for f in (out_dir / "inputs.json", out_dir / "metrics.json"):
                if f.is_file():
                    try:
                        doc = json.loads(f.read_text())
                    except ValueError:
                        continue
                    old = doc if f.name == "inputs.json" else doc.get("provenance", {}).get("inputs")
                    if old is not None:
                        break
            if old is None:
                why = "no record of the inputs that made it"
            elif old != inputs:
                changed = sorted(k for k in set(old) | set(inputs) if old.get(k) != inputs.get(k))
                why = "made with other " + ", ".join(changed)
        if why:
            import shutil
            self.log(f"[{bench.name}] recomputing ({why}): discarding {out_dir}")
            shutil.rmtree(out_dir)

    # ------------------------------------------------------------------ one benchmark
    def run_benchmark(self, bench: Benchmark) -> dict:
        from .data_converters import bench_data, build_writer
        out_dir = self.work_dir / self.name / bench.name
        metrics_path = out_dir / "metrics.json"
        rank, world = dist_info()
        root = self.bench_root(bench)
        spec = bench_data(bench.name, root)
        t0 = time.time()
        ann_file = n_videos = None
        if self.model.replays_files:
            pred_path = submission = self.replay_source(bench)
            inputs = self.inputs(bench, root, spec, pred_source=pred_path)
            gt_note = f"{root / spec.gt}" if spec.gt else f"{root} (server-only GT: nothing to score)"
            self.log(f"[{bench.name}] scoring {pred_path} against {gt_note}")
        else:
            if bench.task not in self.model.tasks:
                raise InputError(f"model {self.model_name!r} does not do task {bench.task!r} ({bench.name})")
            ann = ann_file = self.annotations(bench, spec, root)
            inputs = self.inputs(bench, root, spec)
        if rank == 0:
            self._reconcile(bench, out_dir, inputs)
        barrier()
        if metrics_path.exists():
            rec = json.loads(metrics_path.read_text())
            rec["reused"] = True
            return rec
        if rank == 0:
            atomic_write_text(out_dir / "inputs.json", json.dumps(inputs, indent=1))
        barrier()
        if not self.model.replays_files:
            writer = build_writer(spec)
            writer.open(out_dir / "pred")
            items = ann.data_list[rank::world]
            n_videos = len(ann.data_list)
            todo = [it for it in items if not writer.is_done(it.video.id)]
            done = len(items) - len(todo)
            if done and todo:
                self.log(f"[{bench.name}] resuming: {done}/{len(items)} videos done")
            self._predict(bench, ann, writer, items, todo, out_dir)
            barrier()
            if rank != 0:
                return {}
            submission = writer.close()
            pred_path = writer.eval_target()
        if rank != 0:
            return {}
        model = {"name": self.name, "model": self.model_name, **self.model_meta}
        record = {"benchmark": bench.name, "task": bench.task, "model": model,
                  "submission": str(submission), "pred": str(pred_path), "metrics": None, "per_video": {},
                  "provenance": self.provenance(bench, root, ann_file, n_videos, time.time() - t0)}
        record["provenance"]["inputs"] = inputs
        record["provenance"]["split"] = spec.split
        if spec.gt is None or not (root / spec.gt).exists():
            record["note"] = (f"{bench.title} val GT is server-only: upload {submission}; "
                              "give --data-root with a dev split (univs-bench split) to score locally")
        else:
            from .evaluators.api import evaluate
            t1 = time.time()
            task = bench.default_task if bench.task_metrics else None
            if task:
                record["subtask"] = task  # BURST: which of its protocols the numbers are
            res = evaluate(bench.name, str(root / spec.gt), str(pred_path), task=task, options=spec.options)
            record["metrics"], record["per_video"] = res.metrics, res.per_video
            record["provenance"]["eval_seconds"] = round(time.time() - t1, 3)
            record["provenance"]["gt_sha256"] = self._sha(str(root / spec.gt))  # cached: replay runs hashed it already
        atomic_write_text(metrics_path, json.dumps(record, indent=1, allow_nan=False))
        return record

    def _predict(self, bench, ann, writer, items, todo, out_dir) -> None:
        """Predict and write ``todo`` (a TTY bar, else a log line every ``progress_every`` videos)."""
        done0 = len(items) - len(todo)
        bar = None
        tty = sys.stderr.isatty()
        if self.progress and tty:
            from tqdm import tqdm
            bar = tqdm(total=len(items), initial=done0, desc=f"{self.name}/{bench.name}",
                       unit="video", file=sys.stderr)
        every = self.progress_every or max(5, len(items) // 10)
        t0 = time.time()
        n = 0
        try:
            for item in todo:
                inputs = item if self.model.uses_gt else model_inputs(item)
                pred = self.model.predict_video(inputs, ann.metainfo, bench)
                writer.write_video(pred, ann.metainfo)
                writer.mark_done(item.video.id)
                n += 1
                if bar is not None:
                    bar.update(1)
                elif self.progress and (n % every == 0) and n < len(todo):
                    dt = time.time() - t0
                    self.log(f"[{bench.name}] {done0 + n}/{len(items)} videos "
                             f"({dt:.1f} s, ~{dt / n * (len(todo) - n):.0f} s left)")
        except KeyboardInterrupt:
            raise BenchmarkInterrupted(bench.name, done0 + n, len(items), out_dir) from None
        finally:
            if bar is not None:
                bar.close()

    def provenance(self, bench, root, ann, n_videos, seconds) -> dict:
        if self._code is None:
            self._code = _code_version()
        version, _, commit = self._code.partition("+")
        prov = {"univs_bench": __version__, "git_commit": commit or None, "model": self.model.describe(),
                "model_cfg": self.model_cfg, "data_root": str(root.resolve()), "videos": n_videos,
                "seconds": round(seconds, 3), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "host": socket.gethostname(), "platform": platform.platform(),
                "python": platform.python_version(),
                "data_source": "synthetic suite" if self.data_root is None else "data root"}
        if self.data_root is None and self.synth_cfg is not None:
            from dataclasses import asdict
            prov["synthetic"] = _jsonable(asdict(self.synth_cfg))
        ck = self.checkpoint_path()
        if ck and os.path.isfile(ck):
            prov["checkpoint_sha256"] = self._sha(ck)
        if ann is not None:
            prov["data_sha256"] = self._ann_sha256  # of the converted annotation file
        if "torch" in sys.modules:
            import torch
            prov["torch"] = torch.__version__
            prov["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
            prov["threads"] = torch.get_num_threads()
        return prov

    def run(self, benchmarks: list[Benchmark], keep_going: bool = True) -> dict[str, dict]:
        """Run each benchmark under the work dir's lock; one line per benchmark on stderr.

        With ``keep_going`` a failing benchmark is recorded as ``{"error": reason}`` and the
        others still run (Ctrl-C always stops the run).
        """
        import contextlib

        from .io.atomic import remove_temp_files
        from .io.lock import work_dir_lock
        rank, _ = dist_info()
        lock = work_dir_lock(self.work_dir, wait=self.wait, log=self.log) if rank == 0 else contextlib.nullcontext()
        check = getattr(self.model, "check_benchmarks", None)
        if check is not None:  # a model that cannot answer a benchmark says so before any work
            check(benchmarks)
        out: dict[str, dict] = {}
        with lock:
            if rank == 0:
                gone = remove_temp_files(self.work_dir)
                if gone:
                    self.log(f"removed {len(gone)} temporary file(s) left by an interrupted run under {self.work_dir}")
            barrier()
            for b in benchmarks:
                t0 = time.time()
                try:
                    rec = self.run_benchmark(b)
                except InputError as e:
                    if not keep_going:
                        raise
                    rec = {"benchmark": b.name, "error": str(e)}
                except Exception as e:  # noqa: BLE001 -- one benchmark's bug must not cost the others
                    if not keep_going:
                        raise
                    rec = {"benchmark": b.name, "error": f"{type(e).__name__}: {e}"}
                out[b.name] = rec
                if rank == 0:
                    self.log(summary_line(b.name, rec, time.time() - t0))
        return out


def print_failures(prog: str, failed: dict[str, str], total: int | None = None) -> int:
    """Print the failed benchmarks, one line each, on stderr; the exit status (1 if any failed)."""
    if not failed:
        return 0
    of = f" of {total}" if total is not None else ""
    print(f"{prog}: {len(failed)}{of} benchmark(s) failed:", file=sys.stderr)
    for k, why in failed.items():
        print(f"  {k}: {why}", file=sys.stderr)
    return 1


def summary_line(name: str, rec: dict, seconds: float) -> str:
    """The greppable one-line outcome of a benchmark, e.g. ``[davis17] done J&F=45.74 (12.3 s)``."""
    if rec.get("error"):
        return f"[{name}] FAILED: {rec['error']}"
    if not rec:
        return f"[{name}] done (rank > 0)"
    m = rec.get("metrics")
    if m is None:
        return f"[{name}] server-only: upload {rec.get('submission')} ({seconds:.1f} s)"
    head = get_benchmark(name).metrics_for(None)[0]
    head = head if head in m else next(iter(m))
    val = f"{m[head]:.2f}" if m[head] is not None else "-"
    if rec.get("reused"):
        when = rec.get("provenance", {}).get("time", "?")
        return f"[{name}] reused {head}={val} (same inputs as the run of {when}; --force recomputes)"
    return f"[{name}] done {head}={val} ({seconds:.1f} s)"


def check_model_options(name: str, cls, cfg: dict) -> None:
    """InputError for an option ``cls.__init__`` does not take (``--cfg-options`` typos)."""
    import inspect
    if cls.__init__ is object.__init__:  # its signature reads (*args, **kwargs), yet it takes nothing
        params = {}
    else:
        try:
            params = inspect.signature(cls.__init__).parameters
        except (TypeError, ValueError):
            return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return  # the model checks its own options
    accepted = [k for k, p in params.items() if k != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    bad = [k for k in cfg if k not in accepted]
    if bad:
        from .benchmarks import suggest
        raise InputError(f"unknown option {bad[0]!r} for model {name}{suggest(bad[0].replace('-', '_'), accepted)}; "
                         f"accepted: {', '.join(accepted) or '(none)'}")


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
        if rec.get("error"):
            rows.append((name, bench.task, "FAILED", rec["error"][:100]))
            continue
        m = rec.get("metrics")
        if m is None:
            rows.append((name, bench.task, "-", "(server-only: submission written)"))
            continue
        # the headline, then the next metrics that are not recall/decay variants (J and F for DAVIS)
        heads = list(m)[:1] + [k for k in list(m)[1:] if not k.endswith(("recall", "decay"))][:3]
        rows.append((name, bench.task, f"{m[heads[0]]:.2f}" if m[heads[0]] is not None else "-",
                     "  ".join(f"{k}={m[k]:.2f}" if m[k] is not None else f"{k}=-" for k in heads[1:])))
    return tabulate(rows, headers=["benchmark", "task", "headline", "more"], disable_numparse=True)
