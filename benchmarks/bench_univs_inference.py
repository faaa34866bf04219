"""Frames per second of UniVS streaming inference (not a test).

CPU: ``univs_tiny`` (trained weights if cached, else random) on synthetic-suite-sized frames
(96x160) for VOS (3 prompted objects) and VIS, clip 5, stride 1. GPU (when present): R50 and
Swin-L (random weights; speed does not depend on them) at 640 short side (640x1138).
Writes ``benchmarks/results_univs_inference.md``.

    .venv/bin/python benchmarks/bench_univs_inference.py [--frames 20] [--gpu-frames 30] \
        [--official-univs /path/to/MinghanLi/UniVS]

``--official-univs``: also time the multi-scale deformable attention core against the official
pure-PyTorch reference (``ms_deform_attn_core_pytorch``, imported from that checkout, not copied)
on the R50 pixel decoder's shapes at 384x640 (5 frames; 8 rounds, interleaved; min and median).

``--official-univs U --official-detectron2 D [--official-site S] [--setup vos vis] [--size 120x160 384x640]
[--rounds 5] [--warmup 1]``: instead, time our ``univs_r50`` against the official R50 inference on the
oracle video of each setup (tools/oracle: same filled weights, official procedure on both sides; the
official code is imported from the checkouts by tools/oracle/official.py, not copied), after checking
that the outputs agree (tools/oracle/compare.py rule); rounds interleaved official, ours, ...; prints
min / median seconds and the ratio and rewrites the "R50 inference vs the official code" section of
``--out``. Sizes other than 120x160 resize the oracle video (frames bilinear, labels nearest).
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from univs_bench.models.univs.inference import (
    InferenceConfig,
    StreamingInference,
    VideoInput,
)


def synthetic_video(n: int, h: int, w: int, objects: bool, device_classes: int) -> VideoInput:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    frames = [np.roll(base, 2 * k, axis=1) for k in range(n)]
    objs = []
    if objects:
        for i, (y, x) in enumerate([(0.2, 0.2), (0.5, 0.5), (0.3, 0.7)]):
            r = np.zeros((h, w), dtype=bool)
            r[int(y * h):int(y * h) + h // 5, int(x * w):int(x * w) + w // 6] = True
            objs.append({"id": i + 1, "frame": 0, "region": r, "kind": "mask"})
    return VideoInput(h, w, n, load=lambda f: frames[f], objects=objs,
                      class_subset=torch.arange(min(device_classes, 40)))


def fps(net, task: str, n: int, h: int, w: int, cfg: InferenceConfig, repeats: int = 1) -> tuple[float, dict]:
    k = net.sem_seg_head.predictor.class_text_embeds.shape[0]
    engine = StreamingInference(net, cfg)
    engine.run(synthetic_video(min(n, cfg.clip_length + 1), h, w, task == "vos", k), task)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        video = synthetic_video(n, h, w, task == "vos", k)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        engine.run(video, task)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return n / best, dict(engine.stats)


def official_deform_core(univs: str):
    """The official ``ms_deform_attn_core_pytorch`` loaded from a checkout (the module itself
    imports the compiled op, so only the function's source is executed)."""
    import torch.nn.functional as F
    path = Path(univs) / "mask2former/modeling/pixel_decoder/ops/functions/ms_deform_attn_func.py"
    src = path.read_text()
    ns = {"torch": torch, "F": F}
    exec(compile(src[src.index("def ms_deform_attn_core_pytorch"):], str(path), "exec"), ns)
    return ns["ms_deform_attn_core_pytorch"]


def bench_deform(univs: str, rounds: int = 8) -> list[tuple[str, float, float, float]]:
    """(name, min s, median s, max |ours - official|) of one deformable-attention core call with
    the R50 pixel decoder's shapes at 384x640, 5 frames (queries = keys = 5040 tokens)."""
    import statistics

    from univs_bench.models.univs.ms_deform_attn import ms_deform_attn_core
    official = official_deform_core(univs)
    shapes = [(12, 20), (24, 40), (48, 80)]
    s = sum(h * w for h, w in shapes)
    g = torch.Generator().manual_seed(0)
    value = torch.randn(5, s, 8, 32, generator=g)
    loc = torch.rand(5, s, 8, 3, 4, 2, generator=g)
    w = torch.rand(5, s, 8, 3, 4, generator=g).softmax(-1)
    diff = float((official(value, shapes, loc, w) - ms_deform_attn_core(value, shapes, loc, w)).abs().max())
    times = {"official": [], "ours": []}
    for _ in range(rounds):
        for name, fn in (("official", official), ("ours", ms_deform_attn_core)):
            t0 = time.perf_counter()
            fn(value, shapes, loc, w)
            times[name].append(time.perf_counter() - t0)
    return [(k, min(v), statistics.median(v), diff) for k, v in times.items()]


# ----------------------------------------------------------------------------- R50 vs the official code
E2E = {"vos": ("davis17", "sot_davis17_val"), "vis": ("ytvis21", "ytvis_2021_dev")}


def _upscaled_scenes(h: int, w: int):
    """tools.oracle.scenes with ``render`` drawing the 120x160 oracle video and resizing it to
    (h, w) (frames bilinear, labels nearest), so both sides read the same larger video."""
    import types

    import cv2

    from tools.oracle import scenes

    def render(objs, _h, _w, n_frames, seed=0):
        frames, labels = scenes.render(objs, 120, 160, n_frames, seed)
        return (np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in frames]),
                np.stack([cv2.resize(x, (w, h), interpolation=cv2.INTER_NEAREST) for x in labels]))
    return types.SimpleNamespace(render=render, VOS_OBJECTS=scenes.VOS_OBJECTS, VIS_OBJECTS=scenes.VIS_OBJECTS)


def _official_side(args, setup: str, h: int, w: int, root: Path, out: Path, cls_emb: Path):
    """Lay the oracle video out for both sides and build the official model through the oracle's
    own setup function (tools/oracle/make_fixtures.py: official layout + json, official config
    and overrides, filled weights, one official run whose outputs land in ``out/official``).
    Returns (official run callable, our cfg-options)."""
    import shutil

    from tools.oracle import make_fixtures as mf
    got = {}
    saved = {k: getattr(mf, k) for k in ("H", "W", "TEST_SIZE", "scenes", "run_dataset",
                                         "capture_first_clip", "save_tensor_fixture")}

    def run_dataset(cfg, model, name):
        got.update(cfg=cfg, model=model, dataset=name)
        return saved["run_dataset"](cfg, model, name)
    mf.run_dataset, mf.capture_first_clip, mf.save_tensor_fixture = run_dataset, lambda m: {}, lambda *a: None
    if (h, w) != (mf.H, mf.W):
        mf.H, mf.W, mf.TEST_SIZE, mf.scenes = h, w, h, _upscaled_scenes(h, w)
    # the official registration reads DETECTRON2_DATASETS (bound at import) lazily: fresh per run
    shutil.rmtree(root / "datasets", ignore_errors=True)
    work = root / "work"
    shutil.rmtree(work, ignore_errors=True)
    (work / "datasets").mkdir(parents=True)
    try:
        info = mf.SETUPS[setup](argparse.Namespace(univs=args.official_univs), work, root, out, cls_emb)
    finally:
        for k, v in saved.items():
            setattr(mf, k, v)
    from detectron2.data import DatasetCatalog
    from univs.data import UniVidDatasetMapper
    cfg, model, name = got["cfg"], got["model"], got["dataset"]
    mapper = UniVidDatasetMapper(cfg, is_train=False, dataset_name=name)
    dicts = DatasetCatalog.get(name)

    def run():
        # what make_fixtures.run_dataset does per video: the official test mapper (frame reading,
        # resizing) and model([inputs]); the VOS model writes its PNGs itself
        for d in dicts:
            inputs = mapper(d)
            torch.manual_seed(mf.SEED)
            model([inputs])
    opts = list(info["our_cfg_options"])
    if args.draw == "identity":
        # our 'raster' token sampling = the official draw with randperm -> arange (make_fixtures --draw)
        opts.append("prompt_sampling=raster")
    return run, opts


def _our_side(setup: str, data_root: Path, opts: list[str], work: Path, tag: str):
    """Our univs_r50 on the same video, through the runner's own steps (tools/oracle/compare.py
    ``predict``): returns (timed predict callable without writing, write-once callable)."""
    from tools.oracle import compare
    from univs_bench.benchmarks import BENCHMARKS
    from univs_bench.data_converters import bench_data, build_writer
    from univs_bench.runner import Runner, model_inputs
    bench = BENCHMARKS[E2E[setup][0]]
    work.mkdir(parents=True, exist_ok=True)
    ckpt, cls = compare.write_weights(work)
    cfg = {"checkpoint": str(ckpt), "class_embeds": str(cls), "device": "cpu", **compare.parse_options(opts)}
    runner = Runner("univs_r50", work_dir=str(work / tag), data_root=str(data_root), model_cfg=cfg, progress=False)
    spec = bench_data(bench.name)
    ann = runner.annotations(bench, spec, runner.bench_root(bench))
    items = [item if runner.model.uses_gt else model_inputs(item) for item in ann.data_list]

    def run():
        return [runner.model.predict_video(x, ann.metainfo, bench) for x in items]

    def write(dst: Path):
        writer = build_writer(spec)
        writer.open(dst)
        for item, pred in zip(ann.data_list, run()):
            writer.write_video(pred, ann.metainfo)
            writer.mark_done(item.video.id)
        writer.close()
    return run, write


def bench_vs_official(args, sizes: list[tuple[int, int]], rounds: int) -> list[dict]:
    """Per (setup, size): the official R50 inference and ours on the same oracle video and
    filled weights, agreement of the written outputs (tools/oracle/compare.py rule), then
    ``rounds`` interleaved timings (official, ours, ...) after ``args.warmup`` untimed calls each
    (besides the first call of each side, which makes the outputs compared)."""
    import statistics
    import sys
    import tempfile
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tools.oracle import compare, fill, official
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_official_") as tmp:
        root = Path(tmp)
        official.bootstrap(args.official_univs, args.official_detectron2, args.official_site, str(root / "datasets"))
        from tools.oracle import make_fixtures
        make_fixtures.use_draw(args.draw)
        cls_emb = fill.save_class_embeddings(root / "combined_datasets_cls_emb_rn50x4.pth")
        fill.save_text_encoder(root / "regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth")
        for setup in args.setup:
            bench = E2E[setup][0]
            for h, w in sizes:
                out = root / f"{setup}_{h}x{w}"
                run_off, opts = _official_side(args, setup, h, w, root, out, cls_emb)
                run_ours, write = _our_side(setup, out / "inputs", opts, root / "ours", f"{setup}_{h}x{w}")
                ours_dir = root / "ours_pred" / f"{setup}_{h}x{w}"
                write(ours_dir)
                off_dir = out / "official" / bench
                res = (compare.compare_vis_json(off_dir / "results.json", ours_dir / "results.json")
                       if bench == "ytvis21" else compare.compare_label_pngs(off_dir, ours_dir))
                print(compare.summary(f"{setup} {h}x{w}", res), flush=True)
                for _ in range(args.warmup):   # extra: each side already ran once above
                    run_off()
                    run_ours()
                times = {"official": [], "ours": []}
                for _ in range(rounds):
                    for name, fn in (("official", run_off), ("ours", run_ours)):
                        t0 = time.perf_counter()
                        fn()
                        times[name].append(time.perf_counter() - t0)
                row = {"setup": setup, "size": f"{h}x{w}", "agrees": compare.agrees(res),
                       "summary": compare.summary(setup, res), "rounds": rounds,
                       **{f"{k}_{s}": f(v) for k, v in times.items()
                          for s, f in (("min", min), ("median", statistics.median))}}
                row["ratio_min"] = row["official_min"] / row["ours_min"]
                row["ratio_median"] = row["official_median"] / row["ours_median"]
                print(row, flush=True)
                rows.append(row)
    return rows


SECTION = "## R50 inference vs the official code"


def _official_section(rows: list[dict], args) -> str:
    import sys
    lines = [SECTION, "",
             (f"`benchmarks/bench_univs_inference.py --official-univs ... --official-detectron2 ...`, torch "
              f"{torch.__version__}, {args.threads} thread(s) (torch.set_num_threads; run with OMP_NUM_THREADS="
              f"{os.environ.get('OMP_NUM_THREADS', 'unset')}); univs_r50 and the official R50 model "
              "with the same filled weights (tools/oracle/fill.py) on the oracle video of each setup, the "
              "official procedure on both sides (tools/oracle/make_fixtures.py settings), fp32 CPU. Time of "
              "one whole video (frame reading, resizing, streaming inference; the official VOS model also "
              f"writes its PNGs), each side's first call (outputs compared) + {args.warmup} warm-up call(s) untimed, then "
              "rounds interleaved official, ours, ..."),
              "", "Command: `" + " ".join(["python"] + sys.argv) + "`", "",
              "| setup | input | frames | outputs agree | rounds | official min / median (s) | ours min / median (s) "
              "| official / ours (min) | (median) |",
              "|---|---|---:|---|---:|---|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['setup']} | {r['size']} | 7 | {'yes' if r['agrees'] else 'NO: ' + r['summary']} | "
                     f"{r['rounds']} | {r['official_min']:.2f} / {r['official_median']:.2f} | "
                     f"{r['ours_min']:.2f} / {r['ours_median']:.2f} | {r['ratio_min']:.2f}x | "
                     f"{r['ratio_median']:.2f}x |")
    return "\n".join(lines) + "\n"


def _write_section(path: Path, section: str) -> None:
    """Replace (or append) the R50-vs-official section of the results file, keeping the rest."""
    head = path.read_text().split(SECTION, 1)[0].rstrip("\n") + "\n\n" if path.exists() else ""
    path.write_text(head + section)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--gpu-frames", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--official-univs", default=None)
    ap.add_argument("--official-detectron2", default=None,
                    help="with --official-univs: time the official R50 inference against ours (only that)")
    ap.add_argument("--official-site", default=None, help="pip --target folder of detectron2's pure-Python deps")
    ap.add_argument("--setup", nargs="+", default=["vos", "vis"], choices=sorted(E2E))
    ap.add_argument("--size", nargs="+", default=["120x160"], help="HxW of the oracle video (upscaled)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1,
                    help="extra untimed calls per side (each side has already run once for the agreement check)")
    ap.add_argument("--draw", choices=["seeded", "identity"], default="seeded",
                    help="official mode: the official prompt encoder's torch.randperm draws, as "
                         "tools/oracle/make_fixtures.py --draw ('identity': randperm -> arange there, and "
                         "prompt_sampling=raster on our side)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_univs_inference.md")))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.official_detectron2:
        if not args.official_univs:
            ap.error("--official-detectron2 needs --official-univs")
        sizes = [tuple(int(x) for x in s.split("x")) for s in args.size]
        rows = bench_vs_official(args, sizes, args.rounds)
        _write_section(Path(args.out), _official_section(rows, args))
        print(f"wrote {args.out}")
        return
    from univs_bench.errors import InputError
    from univs_bench.models.univs_zoo import UniVSTiny
    try:
        tiny = UniVSTiny(device="cpu")
        weights = f"checkpoint {tiny.checkpoint}"
    except InputError:  # no cached training run
        tiny = UniVSTiny(weights="random", device="cpu")
        weights = "random weights"
    rows = []
    for task in ("vos", "vis"):
        cfg = InferenceConfig(clip_length=5, clip_stride=1, test_size=None)
        f, st = fps(tiny.net, task, args.frames, 96, 160, cfg)
        rows.append(("univs_tiny", "cpu", f"{args.threads} threads", task, "96x160", args.frames, f, st))
        print(rows[-1])
    if torch.cuda.is_available():
        from univs_bench.models.univs.checkpoint import build_variant
        for variant in ("r50", "swinl"):
            net = build_variant(variant, mask_decoder={"num_classes": 3938}).cuda().eval()
            for task in ("vos", "vis"):
                cfg = InferenceConfig(clip_length=5, clip_stride=1, test_size=640,
                                      num_prev_frames_memory=5 if variant == "r50" else 6)
                f, st = fps(net, task, args.gpu_frames, 720, 1280, cfg)
                rows.append((f"univs_{variant}", "cuda", torch.cuda.get_device_name(0), task, "640x1138",
                             args.gpu_frames, f, st))
                print(rows[-1])
            del net
            torch.cuda.empty_cache()
    lines = ["# UniVS streaming inference speed", "",
             (f"`benchmarks/bench_univs_inference.py`, torch {torch.__version__}, "
              f"{platform.processor() or platform.machine()}; univs_tiny with {weights}; clip 5, "
              "stride 1 (every frame is decoded in 5 clips)."), "",
             "| model | device | detail | task | input | frames | fps | peak state (KiB) |",
             "|---|---|---|---|---|---|---|---|"]
    for m, dev, detail, task, size, n, f, st in rows:
        lines.append(f"| {m} | {dev} | {detail} | {task} | {size} | {n} | {f:.2f} | {st['max_state_bytes'] / 1024:.0f} |")
    if not torch.cuda.is_available():
        lines += ["", "No GPU in this run: R50 and Swin-L at 640 short side were not measured."]
    if args.official_univs:
        lines += ["", "Deformable-attention core, R50 pixel-decoder shapes at 384x640, 5 frames, "
                  f"{args.threads} threads (8 interleaved rounds):", "",
                  "| implementation | min (s) | median (s) | max abs diff to official |", "|---|---|---|---|"]
        for name, mn, med, diff in bench_deform(args.official_univs):
            lines.append(f"| {name} | {mn:.3f} | {med:.3f} | {diff:.1e} |")
            print(name, mn, med, diff)
    out = Path(args.out)
    keep = out.read_text().split(SECTION, 1) if out.exists() else [""]
    out.write_text("\n".join(lines) + "\n" + (f"\n{SECTION}{keep[1]}" if len(keep) > 1 else ""))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
