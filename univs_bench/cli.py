"""`univs-bench` command line: thin subcommands over the library.

Every subcommand imports what it needs inside its handler, so `univs-bench --help` and
`univs-bench evaluate` start without torch or mmengine models. Errors that name bad input
(:class:`univs_bench.errors.InputError`, a missing or unreadable file) become one line on
stderr and exit status 2; :class:`univs_bench.errors.InputWarning` one line too. Any other
exception prints one line and "(run with --debug for the traceback)", exit status 1;
`--debug` lets it propagate with its traceback.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import __version__
from .errors import InputError
from .options import parse_cfg_options

_COMMANDS: dict[str, tuple] = {}


def command(name: str, help: str):
    """Register ``fn(args)`` as subcommand ``name``; ``fn.configure(parser)`` adds its options."""
    def deco(fn):
        _COMMANDS[name] = (fn, help)
        return fn
    return deco


# --------------------------------------------------------------------------- version / list
@command("version", "print the univs-bench version")
def cmd_version(args):
    print(__version__)
    return 0


def _configure_list(p):
    p.add_argument("what", choices=["benchmarks", "models", "metrics", "tasks"],
                   help="benchmarks (names every command takes), models (with tasks and weights), metrics, tasks")


@command("list", "list benchmarks, models, metrics or tasks")
def cmd_list(args):
    from tabulate import tabulate

    from .benchmarks import BENCHMARKS, TASKS
    if args.what == "benchmarks":
        rows = [(b.name, b.title, b.task, b.headline, "public" if b.gt_public else "server-only")
                for b in BENCHMARKS.values()]
        print(tabulate(rows, headers=["benchmark", "title", "task", "headline", "val GT"]))
    elif args.what == "tasks":
        print(tabulate(sorted(TASKS.items()), headers=["task", "description"]))
    elif args.what == "metrics":
        rows = []
        for b in BENCHMARKS.values():
            if b.task_metrics:
                rows += [(f"{b.name} --task {t}", " ".join(m)) for t, m in b.task_metrics.items()]
            else:
                rows.append((b.name, " ".join(b.metrics)))
        print(tabulate(rows, headers=["benchmark", "metrics"]))
    elif args.what == "models":
        from .registry import BENCHMARK_MODELS, list_models
        rows = [_model_row(n, BENCHMARK_MODELS.module_dict[n]) for n in list_models() if not n.startswith("_")]
        print(tabulate(rows, headers=["model", "tasks", "weights", "description"]) if rows
              else "(no models registered)")
    return 0


def _model_row(name: str, cls) -> tuple:
    """`list models`: name, tasks, whether weights are needed, the docstring's first line."""
    from .benchmarks import TASKS
    tasks = [t for t in TASKS if t in getattr(cls, "tasks", ())]
    if getattr(cls, "replays_files", False):
        weights = "- (pred_root=DIR, --data-root)"
    elif name == "univs_tiny":
        weights = "trained on first use (or --checkpoint)"
    elif hasattr(cls, "_default_checkpoint"):
        weights = "--checkpoint (or weights=random)"
    else:
        weights = "-"
    doc = (cls.__doc__ or "").strip().splitlines()
    desc = doc[0].split(". ")[0].rstrip(".") + "." if doc else ""  # the first sentence
    if getattr(cls, "uses_gt", False):
        desc += " [reads GT: a reference, not a method]"
    return name, ",".join(tasks) if len(tasks) < len(TASKS) else "all", weights, desc


cmd_list.configure = _configure_list


# --------------------------------------------------------------------------- synth
def _configure_synth(p):
    p.add_argument("--out", required=True, help="output folder; one sub-folder per benchmark")
    p.add_argument("--benchmarks", nargs="+", default=None, help="subset (default: all twelve)")
    p.add_argument("--videos", type=int, default=None, help="videos per split (train and val each; default 4)")
    p.add_argument("--frames", type=int, default=None, help="frames per video (default 10)")
    p.add_argument("--size", default=None, help="frame size HxW, e.g. 96x160")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


@command("synth", "write the synthetic suite in every benchmark's official layout")
def cmd_synth(args):
    from .benchmarks import get_benchmark
    from .synthetic import SynthConfig, write_suite
    kw = {}
    if args.videos is not None:
        kw["videos"] = args.videos
    if args.frames is not None:
        kw["frames"] = args.frames
    if args.size:
        try:
            h, w = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            raise InputError(f"--size {args.size!r}: expected HxW such as 96x160") from None
        kw["size"] = (h, w)
    cfg = SynthConfig(seed=args.seed, **kw)
    benches = [get_benchmark(b).name for b in args.benchmarks] if args.benchmarks else None
    written = write_suite(args.out, benchmarks=benches, cfg=cfg)
    for name, path in written.items():
        print(f"{name:12s} {path}")
    return 0


cmd_synth.configure = _configure_synth


# --------------------------------------------------------------------------- evaluate
def _configure_evaluate(p):
    from .benchmarks import BENCHMARKS
    p.add_argument("benchmark", help=f"one of {', '.join(BENCHMARKS)} (dataset names such as davis are "
                                     "accepted too)")
    p.add_argument("--gt", required=True, help="ground truth, file or folder of the official layout (docs/formats.md; "
                   "the README.txt of each `univs-bench synth` benchmark names its --gt)")
    p.add_argument("--pred", required=True, help="predictions in the official submission format (docs/formats.md): "
                   "a folder, a json, or the upload zip")
    p.add_argument("--out", default=None, help="write metrics, per-video numbers and provenance as JSON "
                                               "(a regular file path, never a folder, link or device; "
                                               "'-': to stdout instead of the table)")
    p.add_argument("--workers", type=int, default=1, help="processes over videos (default 1)")
    p.add_argument("--task", default=None, help="sub-task (BURST: class_guided, exemplar_guided, open_world)")
    p.add_argument("--split", default=None, help="split file overriding the default (DAVIS, VSPW, VIPSeg)")
    p.add_argument("--resolution", default=None, help="DAVIS Annotations sub-folder (default 480p)")
    p.add_argument("--seen", default=None, help="YouTube-VOS: file of seen category names")
    p.add_argument("--csv", default=None, metavar="FILE",
                   help="write per-video numbers as CSV (per object where the metric is per object)")


@command("evaluate", "score official-format predictions against GT")
def cmd_evaluate(args):
    from .benchmarks import get_benchmark
    from .evaluators.api import evaluate, format_table, write_result_json
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: must be at least 1")
    args.benchmark = get_benchmark(args.benchmark).name  # an alias names the benchmark as `list` does
    if args.out and args.out != "-":  # refuse a folder, link or device before spending the time to score
        from .io.atomic import check_replaceable
        check_replaceable(args.out)
    options = {k: getattr(args, k) for k in ("split", "resolution", "seen") if getattr(args, k)}
    t0 = time.perf_counter()
    result = evaluate(args.benchmark, args.gt, args.pred, workers=args.workers,
                      task=args.task, options=options)
    seconds = time.perf_counter() - t0
    if args.out != "-":
        print(format_table(args.benchmark, result, task=args.task))
    if args.out:
        write_result_json(args.out, args.benchmark, args.task, args.gt, args.pred, result, seconds)
        if args.out != "-":
            print(f"wrote {args.out}")
    from .evaluators.api import summary_line, write_per_video_csv
    if args.csv:
        write_per_video_csv(args.csv, args.benchmark, result)
    # With --out - stdout carries the JSON alone.
    print(summary_line(args.benchmark, result, task=args.task), file=sys.stderr if args.out == "-" else sys.stdout)
    return 0


cmd_evaluate.configure = _configure_evaluate


# --------------------------------------------------------------------------- convert
def _configure_convert(p):
    p.add_argument("benchmark", help="a name of `univs-bench list benchmarks` (dataset names such as davis, "
                                     "ytvos, refdavis are accepted too)")
    p.add_argument("--root", required=True, help="the dataset's official raw layout (the folder `run --data-root "
                                                 "DIR` expects as DIR/<benchmark>, or its inner DAVIS/, "
                                                 "VSPW_480p/, VIPSeg_720P/ folder)")
    p.add_argument("--split", required=True, help="train, val (= valid: both name the validation split), "
                                                  "valid_full (a dev split), ...")
    p.add_argument("--out", required=True, help="MMEngine annotation file {metainfo, data_list}")
    p.add_argument("--skip-bad", action="store_true", help="skip (and list) malformed videos")
    p.add_argument("--cfg-options", nargs="*", action="extend", default=[], metavar="K=V",
                   help="converter options, e.g. unsupervised=True resolution=Full-Resolution")


@command("convert", "convert an official dataset layout to the unified schema")
def cmd_convert(args):
    from .benchmarks import get_benchmark
    from .data_converters import bench_data, canonical_split, converter_name
    from .registry import CONVERTERS
    CONVERTERS.import_from_location()
    bench = get_benchmark(args.benchmark)
    name = converter_name(bench.name)
    root = Path(args.root)
    inner = bench_data(bench.name).data
    if inner != "." and (root / inner).is_dir():
        root = root / inner  # the benchmark folder given: use its inner dataset folder
    conv = CONVERTERS.build(dict(type=name, **parse_cfg_options(args.cfg_options)))
    split = canonical_split(bench.name, args.split)
    try:
        report = conv.convert(str(root), split, args.out, skip_bad=args.skip_bad)
    except (InputError, FileNotFoundError) as e:
        found = _splits_present(root)
        if found and split not in found:
            raise InputError(f"{e}; split {split!r} not found: {root} has {', '.join(found)}") from None
        raise
    print(f"{bench.name}/{report.summary().split('/', 1)[1]}")  # as `run` logs it, not the converter's name
    for vid, why in report.skipped:
        print(f"skipped {vid}: {why}")
    return 0


cmd_convert.configure = _configure_convert


def _splits_present(root: Path) -> list[str]:
    """Split names a raw layout seems to hold: split folders/jsons, or DAVIS-style ImageSets lists."""
    names = set()
    for pat in ("ImageSets/*/*.txt", "*/ImageSets/*/*.txt", "*.txt"):
        names.update(p.stem for p in root.glob(pat))
    names.update(p.name for p in root.glob("annotations/*") if p.is_dir())  # BURST
    for p in root.iterdir() if root.is_dir() else []:
        stem = p.name.split(".")[0]
        for s in ("train", "valid_full", "valid", "val", "test"):
            if stem == s or stem.endswith("_" + s) or stem.startswith(s + "_"):
                names.add(s)
    return sorted(n for n in names if n.lower() not in ("readme",))


# --------------------------------------------------------------------------- split
def _configure_split(p):
    p.add_argument("benchmark", help="a server-only benchmark: ytvis19, ytvis21, ovis, ytvos18, mose or refytvos")
    p.add_argument("--root", required=True, help="the dataset's official raw layout (with its train split)")
    p.add_argument("--fraction", type=float, default=0.1, help="share of the train videos held out (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the held-out choice (default 0)")
    p.add_argument("--out", required=True, help="the dev-split dataset folder to write (usable as "
                                                "DIR/<benchmark> of `run --data-root DIR`)")
    p.add_argument("--copy", action="store_true", help="copy frames instead of linking them")


@command("split", "hold out a category-balanced dev split of a training set, with full GT, in the official layout")
def cmd_split(args):
    from .benchmarks import get_benchmark
    from .data_converters import SERVER_ONLY
    bench = get_benchmark(args.benchmark).name
    if bench not in SERVER_ONLY:
        raise InputError(f"split: {bench} has public validation GT; a dev split is made only for the "
                         f"server-only benchmarks {', '.join(SERVER_ONLY)}")
    if bench in ("ytvis19", "ytvis21", "ovis"):
        from .data_converters.split import split_dataset
        summary = split_dataset(bench, args.root, fraction=args.fraction, seed=args.seed,
                                out=args.out, copy=args.copy)
    else:
        from .data_converters.split_vos import split_vos_dataset
        name = {"ytvos18": "ytvos"}.get(bench, bench)
        summary = split_vos_dataset(name, args.root, args.fraction, args.seed, args.out, copy=args.copy)
    for k, v in summary.items():
        print(f"{k}: {v}")
    return 0


cmd_split.configure = _configure_split


# --------------------------------------------------------------------------- run
def _default_threads() -> int:
    """CPU threads for inference: half the cores, at most 4. More threads than that slow the small
    models down on a shared machine (univs_tiny ran 4-14x slower with torch's default)."""
    import os
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def _add_run_options(p, work_dir: str):
    p.add_argument("--tasks", default="all", help="all, or a comma list of vis,vss,vps,vos,refvos,pvos (default all)")
    p.add_argument("--benchmarks", nargs="+", default=None,
                   help="names from `univs-bench list benchmarks` (default: every benchmark of --tasks)")
    p.add_argument("--data-root", default=None, help="folder with one official raw layout per benchmark "
                                                     "(DIR/<benchmark>/); default: the built-in synthetic suite, "
                                                     "written under the work dir")
    p.add_argument("--checkpoint", default=None, help="model weights (.pth; an official UniVS checkpoint after "
                                                      "`univs-bench convert-checkpoint`, or one of `train`)")
    p.add_argument("--work-dir", default=work_dir, help=f"where everything is written (default {work_dir}); "
                                                        "results: WORK/<name>/<benchmark>/metrics.json")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE_OR_FILE.py",
                   help="import this module (dotted name or .py path) first, so that the models it registers "
                        "can be named by --model; repeatable")
    p.add_argument("--force", action="store_true",
                   help="recompute every selected benchmark even if its stored result has the same inputs")
    p.add_argument("--wait", action="store_true", help="if another run holds the work dir, wait for it "
                                                       "instead of exiting")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for inference (default: $OMP_NUM_THREADS if set, else half the cores, "
                        "at most 4)")


def _configure_run(p):
    p.add_argument("--model", required=True, help="a name from `univs-bench list models` (or one --plugin registers)")
    _add_run_options(p, "work_dirs")
    p.add_argument("--cfg-options", nargs="*", action="extend", default=[], metavar="K=V", help="model options, e.g. "
                   "pred_root=PRED for --model results, weights=random, tracker=similarity")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none",
                   help="distributed inference: pytorch under torchrun (tools/dist_run.sh), slurm under srun "
                        "(tools/slurm_run.sh); default none")
    p.add_argument("--name", default=None, help="results folder under the work dir (default: the model name); "
                                                "give each competitor of --model results its own")
    p.add_argument("--synth-videos", type=int, default=None, help="synthetic suite: videos per split (default 4)")
    p.add_argument("--synth-frames", type=int, default=None, help="synthetic suite: frames per video (default 10)")


def select_benchmarks(tasks: str, names: list[str] | None) -> list:
    """``--tasks``/``--benchmarks`` -> benchmarks; InputError when the selection is empty or a
    named benchmark is outside the named tasks."""
    from .benchmarks import benchmarks_for_tasks, get_benchmark
    in_tasks = benchmarks_for_tasks(tasks)
    if not names:
        if not in_tasks:
            raise InputError(f"--tasks {tasks}: no benchmark selected")
        return in_tasks
    wanted = [get_benchmark(n) for n in dict.fromkeys(get_benchmark(b).name for b in names)]
    outside = [b for b in wanted if b.name not in {t.name for t in in_tasks}]
    if outside:
        b = outside[0]
        raise InputError(f"{b.name} is a {b.task} benchmark, not in --tasks {tasks}; drop --tasks or add {b.task}")
    return wanted


def _set_threads(n: int | None) -> None:
    """Inference threads: ``n``, else $OMP_NUM_THREADS when set, else :func:`_default_threads`."""
    import os
    if n is None:
        if os.environ.get("OMP_NUM_THREADS"):
            return
        n = _default_threads()
    if n < 1:
        raise InputError(f"--threads {n}: must be at least 1")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    else:  # torch reads these when a model imports it later
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(n)


def _check_launcher(launcher: str, what: str = "run") -> None:
    """One line, not a torch.distributed traceback, when the launcher's environment is missing."""
    import os
    if launcher == "pytorch" and not all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR")):
        use = "tools/dist_run.sh NPROC run-options..." if what == "run" else "tools/dist_train.sh CONFIG NUM_GPUS ..."
        raise InputError(f"--launcher pytorch needs torchrun (RANK, WORLD_SIZE, MASTER_ADDR unset): use {use}")
    if launcher == "slurm" and "SLURM_PROCID" not in os.environ:
        raise InputError(f"--launcher slurm needs srun (SLURM_PROCID unset): use tools/slurm_{what}.sh")


def _submitted(pred_root: Path, benches: list) -> list:
    """``--model results`` without ``--benchmarks``: the benchmarks ``pred_root`` holds a submission of."""
    if not pred_root.is_dir():
        raise InputError(f"{pred_root}: pred_root folder not found")
    have = [b for b in benches if any((pred_root / f"{b.name}{ext}").exists() for ext in ("", ".json", ".zip"))]
    if not have:
        raise InputError(f"{pred_root} holds no submission named after a benchmark (<benchmark>/, "
                         f"<benchmark>.json or <benchmark>.zip with names from `univs-bench list benchmarks`)")
    print(f"[results] submissions found in {pred_root}: {', '.join(b.name for b in have)}", file=sys.stderr)
    return have


def _finish(results: dict, work_dir, name: str = "<name>", seconds: float | None = None) -> int:
    """Print the summary and the next command; exit status 1 if any benchmark failed."""
    from .runner import print_failures, summary_table
    print(summary_table(results))
    failed = {k: r["error"] for k, r in results.items() if r.get("error")}
    ok = [k for k, r in results.items() if r and not r.get("error")]
    counts = {"scored": sum(1 for k in ok if results[k].get("metrics") is not None and not results[k].get("reused")),
              "reused": sum(1 for k in ok if results[k].get("reused")),
              "server-only": sum(1 for k in ok if results[k].get("metrics") is None), "failed": len(failed)}
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    print(f"[run] {name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + took, file=sys.stderr)
    if ok:
        print(f"results: {work_dir}/{name}/<benchmark>/metrics.json\nnext: univs-bench report --results {work_dir}")
    return print_failures("univs-bench", failed, len(results))


@command("run", "run a model over benchmarks: predict, write official files, score (resumable; results are "
                "reused only when made from the same inputs)")
def cmd_run(args):
    from .registry import load_plugin
    from .runner import Runner, dist_info, init_launcher
    for spec in args.plugin:
        load_plugin(spec)
    benches = select_benchmarks(args.tasks, args.benchmarks)
    model_cfg = parse_cfg_options(args.cfg_options)
    if args.checkpoint:
        model_cfg["checkpoint"] = args.checkpoint
    synth_cfg = None
    if args.synth_videos or args.synth_frames:
        from .synthetic import SynthConfig
        kw = {k: v for k, v in (("videos", args.synth_videos), ("frames", args.synth_frames)) if v}
        synth_cfg = SynthConfig(**kw)
    from .registry import find_model
    cls = find_model(args.model)  # a typo fails before any launcher or training
    if getattr(cls, "replays_files", False) and not args.benchmarks and model_cfg.get("pred_root"):
        benches = _submitted(Path(str(model_cfg["pred_root"])), benches)
    _check_launcher(args.launcher)
    init_launcher(args.launcher)
    if args.model == "univs_tiny" and "checkpoint" not in model_cfg and model_cfg.get("weights") != "random":
        # trains on the synthetic suite once (a few CPU minutes), then loads the cached weights
        from .io.lock import work_dir_lock
        from .models.univs_zoo import ensure_tiny_checkpoint
        if dist_info()[0] == 0:
            with work_dir_lock(args.work_dir, wait=args.wait):
                model_cfg["checkpoint"] = ensure_tiny_checkpoint(args.work_dir)
        from .runner import barrier
        barrier()
        model_cfg.setdefault("checkpoint", str(Path(args.work_dir) / "univs_tiny_train" / "univs_tiny.pth"))
    runner = Runner(args.model, work_dir=args.work_dir, data_root=args.data_root, model_cfg=model_cfg,
                    synth_cfg=synth_cfg, name=args.name, force=args.force, wait=args.wait)
    _set_threads(args.threads)
    t0 = time.time()
    results = runner.run(benches)
    if dist_info()[0] != 0:
        return 0
    return _finish(results, runner.work_dir, runner.name, time.time() - t0)


cmd_run.configure = _configure_run


# --------------------------------------------------------------------------- report / visualize
def _configure_report(p):
    p.add_argument("--table", default="2", help="1, 2 or 3 (the UniVS paper's tables; 1a/1b/3a/3b: one "
                   "sub-table), 'ablation' (measured variants of `univs-bench ablate`) or 'metrics' (every metric of "
                   "every measured model: the flat export, best as --format csv or json)")
    p.add_argument("--results", default=None, help="work dir of `univs-bench run` (WORK/<model>/<benchmark>/"
                   "metrics.json) or one model folder WORK/<model>; default: ./work_dirs when it exists")
    p.add_argument("--format", default="md", choices=["md", "latex", "html", "csv", "json"],
                   help="md (default), latex, html (needs --out), csv or json (data, with ci_low/ci_high)")
    p.add_argument("--out", default=None, help="write to this file instead of printing")
    p.add_argument("--ci", action="store_true", help="bootstrap 95%% intervals (and paired tests in ablations)")
    p.add_argument("--latex-width", default="text", choices=["column", "text"],
                   help="latex: scale the table to \\textwidth (table*, default) or \\columnwidth (table)")


@command("report", "leaderboards: the paper's tables with this suite's measured rows")
def cmd_report(args):
    from .report.commands import report_command
    return report_command(args.table, args.results, args.format, args.out, args.ci,
                          latex_width=args.latex_width)


cmd_report.configure = _configure_report


def _configure_visualize(p):
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--plot", default="strip", choices=["strip", "bars", "radar"])
    p.add_argument("--gt", default=None, help="strip: the dataset root (masks over the frames) or a folder of GT "
                   "label PNGs (<video>/<frame>.png); YouTube-VIS/OVIS: the annotation json")
    p.add_argument("--pred", default=None, help="strip: folder of predicted label PNGs; YouTube-VIS/OVIS: "
                   "results.json, its zip or folder")
    p.add_argument("--video", default=None, help="strip: the video (default: the first one in both --gt and --pred)")
    p.add_argument("--frames", default=None, help="strip: comma list of frame names")
    p.add_argument("--max-frames", type=int, default=6, help="strip: at most this many frames, evenly spaced "
                   "(default 6)")
    p.add_argument("--benchmark", default=None, help="strip: the benchmark (vspw: GT classes shifted to the "
                   "predictions' 0-based ids; detected from VSPW's data/<video>/mask layout)")
    p.add_argument("--table", default="2", help="bars/radar: the table, as `report --table` (default 2)")
    p.add_argument("--results", default=None, help="bars/radar: the work dir of `univs-bench run` whose measured "
                   "rows are plotted beside the paper's (default: the paper's rows only)")


@command("visualize", "plots: a frame strip of one video (prediction vs GT), bars or radar of results")
def cmd_visualize(args):
    from .report.commands import visualize_command
    return visualize_command(args.out, gt=args.gt, pred=args.pred, video=args.video, frames=args.frames,
                             max_frames=args.max_frames, plot=args.plot, table=args.table,
                             results=args.results, benchmark=args.benchmark)


cmd_visualize.configure = _configure_visualize


# --------------------------------------------------------------------------- train / config
def _configure_train(p):
    p.add_argument("config", help="an MMEngine config, e.g. configs/univs/univs_r50_stage2.py")
    p.add_argument("--work-dir", default=None, help="checkpoints, logs and the config's synthetic data "
                                                    "(default work_dirs/<config name>)")
    p.add_argument("--resume", nargs="?", const=True, default=False,
                   help="resume from the latest checkpoint of the work dir, or from the given file")
    p.add_argument("--cfg-options", nargs="*", action="extend", default=[], metavar="K=V",
                   help="config overrides, e.g. train_cfg.max_iters=40")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none",
                   help="distributed training: pytorch under torchrun (tools/dist_train.sh), slurm under srun "
                        "(tools/slurm_train.sh); default none")


@command("train", "train a model from an MMEngine config (checkpoints save and resume under torch >= 2.6)")
def cmd_train(args):
    _check_launcher(args.launcher, "train")
    from .train import train
    train(args.config, work_dir=args.work_dir, resume=args.resume,
          cfg_options=parse_cfg_options(args.cfg_options), launcher=args.launcher)
    return 0


cmd_train.configure = _configure_train


def _configure_config(p):
    p.add_argument("action", choices=["print"])
    p.add_argument("config")
    p.add_argument("--cfg-options", nargs="*", action="extend", default=[], metavar="K=V")


@command("config", "`config print CONFIG`: the resolved config")
def cmd_config(args):
    from .train import print_config
    print_config(args.config, parse_cfg_options(args.cfg_options))
    return 0


cmd_config.configure = _configure_config


# --------------------------------------------------------------------------- checkpoints
def _configure_convert_checkpoint(p):
    p.add_argument("src", help="official UniVS checkpoint (detectron2 .pth/.pkl, weights under 'model')")
    p.add_argument("dst", help="converted state dict for univs-bench")
    ema = p.add_mutually_exclusive_group()
    ema.add_argument("--ema", action="store_true",
                     help="take the stage-3 EMA copies (backbone_t./sem_seg_head_t.) instead of the plain weights "
                          "that the official test loads")
    ema.add_argument("--no-ema", action="store_true", help="the plain weights (the default, as the official test)")


@command("convert-checkpoint", "convert an official UniVS checkpoint; reports renamed and dropped keys")
def cmd_convert_checkpoint(args):
    import torch

    from .io.atomic import atomic_path
    from .models.univs.checkpoint import convert_official_state_dict, load_checkpoint_file
    try:
        data = load_checkpoint_file(args.src)
    except ValueError as e:  # not a weights-only file
        raise InputError(str(e)) from None
    sd, report = convert_official_state_dict(data, use_ema=args.ema)
    if not sd:
        dropped = report.get("dropped", [])
        raise InputError(f"{args.src}: no UniVS parameter in this file ({len(dropped)} key(s) dropped, e.g. "
                         f"{dropped[:3]}); is it an official UniVS checkpoint? nothing written")
    with atomic_path(args.dst) as tmp:  # the layout of models.univs.checkpoint.convert_checkpoint_file
        torch.save({"state_dict": sd, "meta": {"source": str(args.src), "ema_used": report["ema_used"]}}, str(tmp))
    for k, v in report.items():
        print(f"{k}: {v}")
    return 0


cmd_convert_checkpoint.configure = _configure_convert_checkpoint


# --------------------------------------------------------------------------- ablate
ABLATION_DEFAULTS = {"prompt_as_queries": True, "proca": True, "tracker": "vs2p"}
ABLATIONS = {  # the switches of the UniVS paper's Table 3, one flag each
    "full": {},
    "no_prompt_as_queries": {"prompt_as_queries": False},
    "no_proca": {"proca": False},
    "similarity_tracker": {"tracker": "similarity"},
}


def _configure_ablate(p):
    p.add_argument("--model", required=True, help="e.g. univs_r50, univs_tiny")
    p.add_argument("--variants", nargs="+", default=list(ABLATIONS),
                   help=f"names from {list(ABLATIONS)} or NAME:k=v,k=v (the first is the baseline)")
    _add_run_options(p, "work_dirs/ablation")
    p.add_argument("--cfg-options", nargs="*", action="extend", default=[], metavar="K=V", help="options shared by all variants")


@command("ablate", "run model variants (Table 3 switches) over benchmarks; feed `report --table ablation`")
def cmd_ablate(args):
    from .registry import find_model, load_plugin
    from .runner import Runner
    for spec in args.plugin:
        load_plugin(spec)
    benches = select_benchmarks(args.tasks, args.benchmarks)
    find_model(args.model)
    common = parse_cfg_options(args.cfg_options)
    if args.checkpoint:
        common["checkpoint"] = args.checkpoint
    variants = []  # all checked before anything runs
    for spec in args.variants:
        name, _, opts = spec.partition(":")
        if opts:
            variants.append((name, {**ABLATION_DEFAULTS, **parse_cfg_options(opts.split(","))}))
        elif name in ABLATIONS:
            variants.append((name, {**ABLATION_DEFAULTS, **ABLATIONS[name]}))
        else:
            raise InputError(f"--variants {spec!r}: not one of {list(ABLATIONS)} and no NAME:k=v given")
    from .io.lock import work_dir_lock
    failed: dict = {}
    with work_dir_lock(args.work_dir, wait=args.wait):  # the variants are one experiment
        for i, (name, variant) in enumerate(variants):
            label = f"{args.model}-{name}"
            print(f"=== {label} {variant}", flush=True)
            runner = Runner(args.model, work_dir=args.work_dir, data_root=args.data_root,
                            model_cfg={**common, **variant}, name=label,
                            model_meta={"variant": variant, "baseline": i == 0}, force=args.force, wait=args.wait)
            _set_threads(args.threads)
            res = runner.run(benches)
            failed.update({f"{label}/{k}": r for k, r in res.items() if r.get("error")})
    from .report.commands import report_command
    rc = report_command("ablation", args.work_dir, "md", None, False)
    if failed:
        print(f"univs-bench: {len(failed)} run(s) failed:", file=sys.stderr)
        for k, r in failed.items():
            print(f"  {k}: {r['error']}", file=sys.stderr)
        return 1
    return rc


cmd_ablate.configure = _configure_ablate


# --------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="univs-bench",
        description="Benchmark and evaluation suite for unified video segmentation.")
    p.add_argument("--version", action="version", version=f"univs-bench {__version__}")
    p.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (fn, help_) in _COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an unexpected error")
        conf = getattr(fn, "configure", None)
        if conf is not None:
            conf(sp)
        sp.set_defaults(_handler=fn)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_handler", None) is None:
        parser.print_help()
        return 1
    t0 = time.time()
    prog = f"univs-bench {args.command}"
    with _one_line_warnings(prog):
        try:
            rc = args._handler(args)
        except InputError as e:
            _error(prog, str(e))
            return 2
        except FileNotFoundError as e:
            msg = f"{e.filename}: file not found" if e.filename else str(e)
            if "not found" not in msg:
                msg = f"file not found: {msg}"
            _error(prog, msg)
            return 2
        except OSError as e:
            if e.filename is None or args.debug:
                if args.debug:
                    raise
                _unexpected(prog, e)
                return 1
            _error(prog, f"{e.filename}: {e.strerror or e}")
            return 2
        except KeyboardInterrupt as e:
            where = ""
            if getattr(e, "bench", None):  # runner.BenchmarkInterrupted
                where = (f"; {e.bench}: {e.done}/{e.total} videos saved under {e.out_dir}; "
                         "rerun the same command to resume")
            print(f"{prog}: interrupted after {time.time() - t0:.1f}s{where}", file=sys.stderr)
            return 130
        except Exception as e:  # noqa: BLE001 (the last resort: one line, not a traceback)
            if args.debug:
                raise
            _unexpected(prog, e)
            return 1
    return int(rc or 0)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error(prog: str, msg: str) -> None:
    print(f"{prog}: error: {_one_line(msg)}", file=sys.stderr)


def _unexpected(prog: str, e: BaseException) -> None:
    print(f"{prog}: error: unexpected {type(e).__name__}: {_one_line(e)} "
          f"(run with --debug for the traceback)", file=sys.stderr)


class _one_line_warnings:
    """Show :class:`InputWarning` as one ``PROG: warning: ...`` line while a command runs."""

    def __init__(self, prog: str):
        self.prog = prog

    def __enter__(self):
        import warnings

        from .errors import InputWarning
        self._saved = warnings.showwarning
        self._filters = warnings.filters[:]
        warnings.simplefilter("always", InputWarning)

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, InputWarning):
                print(f"{self.prog}: warning: {_one_line(message)}", file=sys.stderr)
            else:
                self._saved(message, category, filename, lineno, file, line)
        warnings.showwarning = show
        return self

    def __exit__(self, *exc):
        import warnings
        warnings.showwarning = self._saved
        warnings.filters[:] = self._filters
        return False


if __name__ == "__main__":
    sys.exit(main())
