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
    p.add_argument("what", choices=["benchmarks", "models", "metrics", "tasks"])


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
        from .registry import list_models
        names = list_models()
        print("\n".join(names) if names else "(no models registered)")
    return 0


cmd_list.configure = _configure_list


# --------------------------------------------------------------------------- synth
def _configure_synth(p):
    p.add_argument("--out", required=True, help="output folder; one sub-folder per benchmark")
    p.add_argument("--benchmarks", nargs="+", default=None, help="subset (default: all twelve)")
    p.add_argument("--videos", type=int, default=None, help="videos per benchmark")
    p.add_argument("--frames", type=int, default=None, help="frames per video")
    p.add_argument("--size", default=None, help="frame size HxW, e.g. 96x160")
    p.add_argument("--seed", type=int, default=0)


@command("synth", "write the synthetic suite in every benchmark's official layout")
def cmd_synth(args):
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
    written = write_suite(args.out, benchmarks=args.benchmarks, cfg=cfg)
    for name, path in written.items():
        print(f"{name:12s} {path}")
    return 0


cmd_synth.configure = _configure_synth


# --------------------------------------------------------------------------- evaluate
def _configure_evaluate(p):
    p.add_argument("benchmark")
    p.add_argument("--gt", required=True, help="ground truth (file or folder, see CONTRACT.md)")
    p.add_argument("--pred", required=True, help="predictions in the official format")
    p.add_argument("--out", default=None, help="write metrics, per-video numbers and provenance as JSON "
                                               "(a regular file path, never a folder, link or device; "
                                               "'-': to stdout instead of the table)")
    p.add_argument("--workers", type=int, default=1, help="processes over videos (default 1)")
    p.add_argument("--task", default=None, help="sub-task (BURST: class_guided, exemplar_guided, open_world)")
    p.add_argument("--split", default=None, help="split file overriding the default (DAVIS, VSPW, VIPSeg)")
    p.add_argument("--resolution", default=None, help="DAVIS Annotations sub-folder (default 480p)")
    p.add_argument("--seen", default=None, help="YouTube-VOS: file of seen category names")


@command("evaluate", "score official-format predictions against GT")
def cmd_evaluate(args):
    from .evaluators.api import evaluate, format_table, write_result_json
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: must be at least 1")
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
    return 0


cmd_evaluate.configure = _configure_evaluate


# --------------------------------------------------------------------------- convert
def _configure_convert(p):
    p.add_argument("dataset", help="converter name: davis, mose, ytvos, ytvis19, ytvis21, ovis, vspw, vipseg, "
                                   "burst, refytvos, refdavis, viposeg")
    p.add_argument("--root", required=True, help="the dataset's official raw layout")
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True, help="MMEngine annotation file {metainfo, data_list}")
    p.add_argument("--skip-bad", action="store_true", help="skip (and list) malformed videos")
    p.add_argument("--cfg-options", nargs="*", default=[], metavar="K=V",
                   help="converter options, e.g. unsupervised=True resolution=Full-Resolution")


@command("convert", "convert an official dataset layout to the unified schema")
def cmd_convert(args):
    from .registry import CONVERTERS
    CONVERTERS.import_from_location()
    if CONVERTERS.get(args.dataset) is None:
        raise InputError(f"unknown dataset {args.dataset!r}; choose from {', '.join(sorted(CONVERTERS.module_dict))}")
    conv = CONVERTERS.build(dict(type=args.dataset, **parse_cfg_options(args.cfg_options)))
    report = conv.convert(args.root, args.split, args.out, skip_bad=args.skip_bad)
    print(report.summary())
    for vid, why in report.skipped:
        print(f"skipped {vid}: {why}")
    return 0


cmd_convert.configure = _configure_convert


# --------------------------------------------------------------------------- split
def _configure_split(p):
    p.add_argument("dataset", help="ytvis19, ytvis21, ovis, ytvos (ytvos18), mose or refytvos")
    p.add_argument("--root", required=True, help="the dataset's official raw layout (with its train split)")
    p.add_argument("--fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--copy", action="store_true", help="copy frames instead of linking them")


@command("split", "hold out a category-balanced dev split of a training set, with full GT, in the official layout")
def cmd_split(args):
    if args.dataset in ("ytvis19", "ytvis21", "ovis"):
        from .data_converters.split import split_dataset
        summary = split_dataset(args.dataset, args.root, fraction=args.fraction, seed=args.seed,
                                out=args.out, copy=args.copy)
    else:
        try:
            from .data_converters.split_vos import split_vos_dataset
        except ImportError:
            raise InputError(f"split: dataset {args.dataset!r} is not supported") from None
        name = {"ytvos18": "ytvos"}.get(args.dataset, args.dataset)
        summary = split_vos_dataset(name, args.root, args.fraction, args.seed, args.out, copy=args.copy)
    for k, v in summary.items():
        print(f"{k}: {v}")
    return 0


cmd_split.configure = _configure_split


# --------------------------------------------------------------------------- run
def _configure_run(p):
    p.add_argument("--model", required=True, help="a name from `univs-bench list models`")
    p.add_argument("--tasks", default="all", help="all, or a comma list of vis,vss,vps,vos,refvos,pvos")
    p.add_argument("--benchmarks", nargs="+", default=None, help="subset of the tasks' benchmarks")
    p.add_argument("--data-root", default=None, help="folder with one official raw layout per benchmark; "
                                                     "default: the built-in synthetic suite")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--work-dir", default="work_dirs")
    p.add_argument("--cfg-options", nargs="*", default=[], metavar="K=V", help="model options")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none")
    p.add_argument("--name", default=None, help="results folder name under the work dir (default: the model)")
    p.add_argument("--synth-videos", type=int, default=None, help="synthetic suite: videos per split")
    p.add_argument("--synth-frames", type=int, default=None, help="synthetic suite: frames per video")


@command("run", "run a model over benchmarks: predict, write official files, score (resumable)")
def cmd_run(args):
    from .benchmarks import benchmarks_for_tasks, get_benchmark
    from .runner import Runner, dist_info, init_launcher, summary_table
    benches = benchmarks_for_tasks(args.tasks)
    if args.benchmarks:
        wanted = [get_benchmark(b) for b in args.benchmarks]
        benches = [b for b in wanted if b in benches] if args.tasks != "all" else wanted
    model_cfg = parse_cfg_options(args.cfg_options)
    if args.checkpoint:
        model_cfg["checkpoint"] = args.checkpoint
    synth_cfg = None
    if args.synth_videos or args.synth_frames:
        from .synthetic import SynthConfig
        kw = {k: v for k, v in (("videos", args.synth_videos), ("frames", args.synth_frames)) if v}
        synth_cfg = SynthConfig(**kw)
    init_launcher(args.launcher)
    if args.model == "univs_tiny" and "checkpoint" not in model_cfg and model_cfg.get("weights") != "random":
        # trains on the synthetic suite once (a few CPU minutes), then loads the cached weights
        from .models.univs_zoo import ensure_tiny_checkpoint
        if dist_info()[0] == 0:
            model_cfg["checkpoint"] = ensure_tiny_checkpoint(args.work_dir)
        from .runner import barrier
        barrier()
        model_cfg.setdefault("checkpoint", str(Path(args.work_dir) / "univs_tiny_train" / "univs_tiny.pth"))
    runner = Runner(args.model, work_dir=args.work_dir, data_root=args.data_root, model_cfg=model_cfg,
                    synth_cfg=synth_cfg, name=args.name)
    results = runner.run(benches)
    if dist_info()[0] == 0:
        print(summary_table(results))
        print(f"results: {runner.work_dir / runner.name}/<benchmark>/metrics.json")
    return 0


cmd_run.configure = _configure_run


# --------------------------------------------------------------------------- report / visualize
def _configure_report(p):
    p.add_argument("--table", default="2", help="1, 2 or 3 (the UniVS paper's tables), or 'ablation'")
    p.add_argument("--results", default=None, help="work dir of `univs-bench run` (WORK/<model>/<benchmark>/)")
    p.add_argument("--format", default="md", choices=["md", "latex", "html", "csv"])
    p.add_argument("--out", default=None, help="write to this file instead of printing")
    p.add_argument("--ci", action="store_true", help="bootstrap 95%% intervals (and paired tests in ablations)")


@command("report", "leaderboards: the paper's tables with this suite's measured rows")
def cmd_report(args):
    from .report.commands import report_command
    return report_command(args.table, args.results, args.format, args.out, args.ci)


cmd_report.configure = _configure_report


def _configure_visualize(p):
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--plot", default="strip", choices=["strip", "bars", "radar"])
    p.add_argument("--gt", default=None, help="strip: folder of GT label PNGs (<video>/<frame>.png)")
    p.add_argument("--pred", default=None, help="strip: folder of predicted label PNGs")
    p.add_argument("--video", default=None)
    p.add_argument("--frames", default=None, help="strip: comma list of frame names")
    p.add_argument("--max-frames", type=int, default=6)
    p.add_argument("--table", default="2")
    p.add_argument("--results", default=None)


@command("visualize", "plots: a frame strip of one video (prediction vs GT), bars or radar of results")
def cmd_visualize(args):
    from .report.commands import visualize_command
    return visualize_command(args.out, gt=args.gt, pred=args.pred, video=args.video, frames=args.frames,
                             max_frames=args.max_frames, plot=args.plot, table=args.table,
                             results=args.results)


cmd_visualize.configure = _configure_visualize


# --------------------------------------------------------------------------- train / config
def _configure_train(p):
    p.add_argument("config", help="an MMEngine config, e.g. configs/univs/univs_r50_stage2.py")
    p.add_argument("--work-dir", default=None)
    p.add_argument("--resume", nargs="?", const=True, default=False,
                   help="resume from the latest checkpoint of the work dir, or from the given file")
    p.add_argument("--cfg-options", nargs="*", default=[], metavar="K=V")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none")


@command("train", "train a model from an MMEngine config (checkpoints save and resume under torch >= 2.6)")
def cmd_train(args):
    from .train import train
    train(args.config, work_dir=args.work_dir, resume=args.resume,
          cfg_options=parse_cfg_options(args.cfg_options), launcher=args.launcher)
    return 0


cmd_train.configure = _configure_train


def _configure_config(p):
    p.add_argument("action", choices=["print"])
    p.add_argument("config")
    p.add_argument("--cfg-options", nargs="*", default=[], metavar="K=V")


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
    p.add_argument("--no-ema", action="store_true", help="ignore stage-3 EMA copies (backbone_t./sem_seg_head_t.)")


@command("convert-checkpoint", "convert an official UniVS checkpoint; reports renamed and dropped keys")
def cmd_convert_checkpoint(args):
    from .models.univs.checkpoint import convert_checkpoint_file
    report = convert_checkpoint_file(args.src, args.dst, use_ema=not args.no_ema)
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
    p.add_argument("--tasks", default="all")
    p.add_argument("--benchmarks", nargs="+", default=None)
    p.add_argument("--data-root", default=None)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--work-dir", default="work_dirs/ablation")
    p.add_argument("--cfg-options", nargs="*", default=[], metavar="K=V", help="options shared by all variants")


@command("ablate", "run model variants (Table 3 switches) over benchmarks; feed `report --table ablation`")
def cmd_ablate(args):
    from .benchmarks import benchmarks_for_tasks, get_benchmark
    from .runner import Runner
    benches = [get_benchmark(b) for b in args.benchmarks] if args.benchmarks else benchmarks_for_tasks(args.tasks)
    common = parse_cfg_options(args.cfg_options)
    if args.checkpoint:
        common["checkpoint"] = args.checkpoint
    for i, spec in enumerate(args.variants):
        name, _, opts = spec.partition(":")
        if opts:
            variant = {**ABLATION_DEFAULTS, **parse_cfg_options(opts.split(","))}
        elif name in ABLATIONS:
            variant = {**ABLATION_DEFAULTS, **ABLATIONS[name]}
        else:
            raise InputError(f"--variants {spec!r}: not one of {list(ABLATIONS)} and no NAME:k=v given")
        label = f"{args.model}-{name}"
        print(f"=== {label} {variant}")
        Runner(args.model, work_dir=args.work_dir, data_root=args.data_root, model_cfg={**common, **variant},
               name=label, model_meta={"variant": variant, "baseline": i == 0}).run(benches)
    from .report.commands import report_command
    return report_command("ablation", args.work_dir, "md", None, False)


cmd_ablate.configure = _configure_ablate


def parse_cfg_options(items: list[str]) -> dict:
    """``["a=1", "b=x", "c=[1,2]"]`` -> ``{"a": 1, "b": "x", "c": [1, 2]}`` (Python literals, else str)."""
    import ast
    out = {}
    for it in items or []:
        if "=" not in it:
            raise InputError(f"--cfg-options {it!r}: expected KEY=VALUE")
        k, v = it.split("=", 1)
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out


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
            _error(prog, f"file not found: {e.filename}" if e.filename else str(e))
            return 2
        except OSError as e:
            if e.filename is None or args.debug:
                if args.debug:
                    raise
                _unexpected(prog, e)
                return 1
            _error(prog, f"{e.filename}: {e.strerror or e}")
            return 2
        except KeyboardInterrupt:
            print(f"{prog}: interrupted after {time.time() - t0:.1f}s", file=sys.stderr)
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
