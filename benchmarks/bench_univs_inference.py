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
"""
from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--gpu-frames", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--official-univs", default=None)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_univs_inference.md")))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
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
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
