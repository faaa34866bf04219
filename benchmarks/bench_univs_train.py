"""Time and peak memory of one UniVS R50 stage-2 training iteration at 1024x1024 (not a test).

Builds ``configs/univs/univs_r50_stage2.py`` (backbone frozen, 200 queries, 9 decoder layers,
12544-point losses, AMP) and trains on one synthetic 3-frame 1024x1024 clip with ``--objects``
moving objects and category prompts (one clip per GPU, as the official runs), through the same
optimizer wrapper as ``univs-bench train`` (AdamW groups, grad-norm clip 0.01, fp16 AMP).
Prints ``skipped: no GPU`` without CUDA. Example::

    python benchmarks/bench_univs_train.py --iters 20 --warmup 5
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def make_clip(frames: int, size: int, objects: int, num_classes: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    video = torch.randint(0, 256, (frames, 3, size, size), generator=g, dtype=torch.uint8)
    masks = torch.zeros(objects, frames, size, size, dtype=torch.bool)
    for k in range(objects):
        r = int(torch.randint(size // 16, size // 5, (1,), generator=g))
        cy, cx = (int(v) for v in torch.randint(r, size - r, (2,), generator=g))
        for f in range(frames):
            y, x = cy + 4 * f, cx + 3 * f
            masks[k, f, max(0, y - r):y + r, max(0, x - r):x + r] = True
    labels = torch.randint(0, num_classes, (objects,), generator=g)
    cats = labels.unique()
    sample = dict(task="detection", prompt_type="text", masks=masks, labels=labels,
                  ids=torch.arange(objects), frame_indices=torch.arange(frames),
                  prompt_labels=cats, prompt_target=torch.arange(len(cats)))
    return {"inputs": [video], "data_samples": [sample]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs/univs/univs_r50_stage2.py"))
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--objects", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("skipped: no GPU")
        return

    from mmengine.optim import build_optim_wrapper

    from univs_bench.registry import MODELS
    from univs_bench.train import configure, freeze_modules, load_config

    cfg = configure(load_config(args.config))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    frozen = freeze_modules(model, cfg["frozen"])
    model = model.cuda().train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    data = make_clip(args.frames, args.size, args.objects, cfg.model.mask_decoder.num_classes)

    def step() -> float:
        torch.cuda.synchronize()
        t = time.perf_counter()
        batch = model.data_preprocessor(data, True)
        with optim.optim_context(model):
            losses = model(**batch, mode="loss")
        loss, _ = model.parse_losses(losses)
        optim.update_params(loss)
        torch.cuda.synchronize()
        return time.perf_counter() - t

    for _ in range(args.warmup):
        step()
    torch.cuda.reset_peak_memory_stats()
    times = sorted(step() for _ in range(args.iters))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(json.dumps({
        "device": torch.cuda.get_device_name(),
        "config": Path(args.config).name, "optim_wrapper": type(optim).__name__,
        "clip": f"{args.frames}x{args.size}x{args.size}", "objects": args.objects,
        "frozen_tensors": len(frozen), "trainable_params_M": round(trainable / 1e6, 2),
        "median_s": round(times[len(times) // 2], 4), "min_s": round(times[0], 4),
        "peak_mem_GiB": round(torch.cuda.max_memory_allocated() / 2 ** 30, 2),
        "torch": torch.__version__}, indent=1))


if __name__ == "__main__":
    main()
