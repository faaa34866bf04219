"""Replay the category-guided bookkeeping of the official UniVS inference against ours.

The official ``InferenceVideoEntity`` methods (MinghanLi/UniVS@7415d31,
``univs/inference/inference_video_entity.py``; ``comm.py``) are loaded from a checkout given on
the command line (their source is executed with a stand-in ``self``; nothing is copied here) and
driven by the official ``inference_video`` clip loop; ours is ``StreamingInference`` with the same
decoder outputs (``decode_clip`` replaced by a deterministic script of learnable-query and
prompt-query outputs per clip). Compared: VIS results (class, score within 1e-4, every frame's
mask), VPS panoptic id maps and segment classes, VSS label maps. The network and the prompt
queries are not part of this check (the script stands for them).

    python tools/replay_entity_official.py --official /path/to/UniVS --videos 24
"""
import ast
import importlib.util
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


from univs_bench.models.univs import inference as inf  # noqa: E402
from univs_bench.models.univs.inference import InferenceConfig, StreamingInference, VideoInput  # noqa: E402
from univs_bench.models.univs_zoo import UniVSTiny, _vis_tracks  # noqa: E402


def load_official(root: str) -> dict:
    """The official functions this replay drives, from the checkout at ``root``."""
    global icomm, ucomm
    icomm = load(f"{root}/univs/inference/comm.py", "icomm")
    # univs/utils/comm.py imports torchvision, unused by the functions needed here
    sys.modules.setdefault("torchvision", types.ModuleType("torchvision"))
    ucomm = load(f"{root}/univs/utils/comm.py", "ucomm")
    src = open(f"{root}/univs/inference/inference_video_entity.py").read()
    ns.update({"torch": torch, "F": F, "np": np, "mask_util": mask_util,
               "linear_sum_assignment": linear_sum_assignment, "retry_if_cuda_oom": lambda f: f,
               "convert_mask_to_box": ucomm.convert_mask_to_box,
               "calculate_mask_quality_scores": ucomm.calculate_mask_quality_scores,
               "video_box_iou": ucomm.video_box_iou, "batched_mask_iou": ucomm.batched_mask_iou,
               "check_consistency_with_prev_frames": icomm.check_consistency_with_prev_frames,
               "match_from_learnable_embds": icomm.match_from_learnable_embds})
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.FunctionDef) and node.name in NAMES:
            exec(textwrap.dedent(ast.get_source_segment(src, node)), ns)
    return ns


NAMES = ["write_prompt_predictions_into_annotations_per_clip", "detect_newly_entities_per_clip_instance",
         "detect_newly_entities_per_clip_pixel", "write_newly_entities_into_annotations_per_clip",
         "pad_zero_annotations_for_next_clip", "save_results_vis", "save_results_vps", "vps_output_results",
         "save_results_vss"]
ns: dict = {}
icomm = ucomm = None


H, W, HP, WP, MH, MW, NQ, K, C = 32, 48, 32, 64, 8, 16, 10, 40, 32
THINGS = set(range(0, 20))          # class indices that are things (labels 1..20)


class Script:
    """Deterministic decoder outputs: learnable queries show drifting objects, prompt rows of
    entity e show object e % n_obj (so some are consistent)."""

    def __init__(self, seed, n_obj=4):
        g = torch.Generator().manual_seed(seed)
        self.seed, self.n_obj = seed, n_obj
        self.E = torch.randn(n_obj, C, generator=g) * 0.6
        self.cls = torch.randint(0, K, (n_obj,), generator=g)
        self.pos = torch.randint(0, 6, (n_obj, 2), generator=g)
        self.size = torch.randint(2, 5, (n_obj, 2), generator=g)
        self.vel = torch.randint(-1, 2, (n_obj, 2), generator=g)

    def obj_mask(self, o, f, g):
        m = torch.full((MH, MW), -4.0)
        y = int((self.pos[o, 0] + self.vel[o, 0] * f // 3) % (MH - 2))
        x = int((self.pos[o, 1] + self.vel[o, 1] * f // 3) % (MW - 4))
        m[y:y + int(self.size[o, 0]), x:x + int(self.size[o, 1])] = 4.0
        return m + torch.randn(MH, MW, generator=g) * 1.5

    def outputs(self, frames, n_prompts):
        g = torch.Generator().manual_seed(self.seed * 1000 + frames[0])
        t = len(frames)
        logits = torch.randn(NQ + n_prompts, K, generator=g) * 1.5 - 4
        masks = torch.randn(NQ + n_prompts, t, MH, MW, generator=g) * 2 - 2
        embds = torch.randn(NQ + n_prompts, t, C, generator=g) * 0.3
        for q in range(NQ + n_prompts):
            o = (q + frames[0] // 2) % (self.n_obj + 3) if q < NQ else (q - NQ) % self.n_obj
            if o >= self.n_obj:
                continue
            logits[q, self.cls[o]] = float(torch.rand(1, generator=g)) * 4 + 0.5
            for j, f in enumerate(frames):
                masks[q, j] = self.obj_mask(o, f, g)
            embds[q] += self.E[o]
        return logits, masks, embds

    def __call__(self, dec, levels, mf, fidx, prompts=None, task="detection", proca=True, extra_keys=None):
        p = len(prompts) if prompts is not None else 0
        logits, masks, embds = self.outputs(fidx.tolist(), p)
        return {"pred_logits": logits, "pred_masks": masks, "pred_embds": embds, "num_prompts": p}


def official(script, n, task, cfg):
    T, k, stride = cfg.clip_length, cfg.num_prev_frames_memory, 1
    W_out = (int(np.ceil(max(5, T) / 5)) + 1) * 5
    self = types.SimpleNamespace(
        device=torch.device("cpu"), num_queries=NQ, hidden_dim=C, num_frames=T, overlap_threshold=cfg.overlap_threshold,
        overlap_threshold_entity=cfg.entity_overlap_threshold, stability_score_thresh=cfg.stability_threshold,
        test_topk_per_image=cfg.topk, apply_cls_thres=cfg.score_threshold, box_nms_thresh=cfg.box_nms_threshold,
        detect_newly_object_threshold=cfg.newly_threshold, temporal_consistency_threshold=cfg.consistency_threshold,
        num_prev_frames_memory=k, num_frames_window_output=W_out, custom_videos_enable=False, use_quasi_track=True,
        metadata=types.SimpleNamespace(thing_dataset_id_to_contiguous_id={c + 1: c for c in THINGS}))
    for name in NAMES:
        setattr(self, name.split(".")[-1], types.MethodType(ns[name], self))
    targets = [{"dataset_name": "x", "sub_task": task, "video_len": n}]
    interim, image_size, out_size = (HP, WP), (H, W), (H, W)
    results, is_last = [], False
    step = T if task == "vss" else stride
    for i in range(0, n, step):
        if is_last and i + T > n:
            break
        is_last = i + T >= n
        frames = list(range(i, min(i + T, n)))
        n_p = len(targets[0]["ids"]) if "masks" in targets[0] and task != "vss" else 0
        logits, masks, embds = script.outputs(frames, n_p)
        out = {"pred_logits": logits.sigmoid(), "pred_masks": masks, "pred_embds": embds}
        out_learn = {kk: v[:NQ] for kk, v in out.items()}
        out_prompt = {kk: v[NQ:] for kk, v in out.items()}
        if task == "vss":
            results.append(self.save_results_vss(i, out_learn, interim, image_size, out_size, is_last, step))
            continue
        self.write_prompt_predictions_into_annotations_per_clip(i, out_prompt, targets, interim, image_size, stride)
        if task == "vis":
            self.detect_newly_entities_per_clip_instance(out_learn, targets, interim)
        else:
            self.detect_newly_entities_per_clip_pixel(out_learn, targets, interim)
        self.write_newly_entities_into_annotations_per_clip(i, out_learn, targets, interim)
        is_out = i > k and i % W_out == k
        if is_out or is_last:
            save = self.save_results_vis if task == "vis" else self.save_results_vps
            results.append(save(i, targets, interim, image_size, out_size, is_last))
            for key in ("mask_logits", "masks", "occurrence"):
                targets[0][key] = targets[0][key][:, W_out:]
        if not is_last and "masks" in targets[0]:
            self.pad_zero_annotations_for_next_clip(targets, min(stride, n - i - T))
    if task == "vis":
        return icomm.vis_clip_instances_to_coco_json_video(
            [{"video_id": 1, "video_len": n, "height": H, "width": W}], results, test_topk_per_video=cfg.topk)
    if task == "vps":
        return self.vps_output_results(targets, results, out_size)
    return torch.cat(results)


def ours(model, script, n, task, cfg):
    inf.decode_clip = script
    fr = [np.zeros((H, W, 3), np.uint8)] * n
    v = VideoInput(H, W, n, load=lambda f: fr[f], thing_classes=THINGS)
    return StreamingInference(model.net, cfg).run(v, task)


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official", required=True, help="checkout of MinghanLi/UniVS (7415d31)")
    ap.add_argument("--videos", type=int, default=8, help="scripted videos per task")
    args = ap.parse_args()
    load_official(args.official)
    from univs_bench.io.rle import decode
    nvid = args.videos
    torch.manual_seed(0)
    model = UniVSTiny(weights="random", device="cpu")
    real = inf.decode_clip
    for task in ("vis", "vps", "vss"):
        agree = []
        for seed in range(nvid):
            n = [7, 12, 23, 30, 5, 17, 41, 26][seed % 8]
            base = dict(clip_length=5, num_prev_frames_memory=5 + seed % 2, test_size=None)
            if task == "vis":
                cfg = InferenceConfig.for_benchmark("vis", "ytvis21", base=base, overrides={"test_size": None})
            elif task == "vps":
                cfg = InferenceConfig.for_benchmark("vps", "vipseg", base=base, overrides={"test_size": None})
            else:
                cfg = InferenceConfig.for_benchmark("vss", "vspw", base=base, overrides={"test_size": None})
            script = Script(seed)
            off = official(script, n, task, cfg)
            out = ours(model, script, n, task, cfg)
            inf.decode_clip = real
            if task == "vis":
                tracks = _vis_tracks(out["targets"], {c: c for c in range(K)}, n, topk=cfg.topk)
                o_rows = sorted([(round(r["score"], 5), r["category_id"],
                                  tuple(int(mask_util.decode(s).sum()) for s in r["segmentations"])) for r in off])
                u_rows = sorted([(round(t.score, 5), t.category,
                                  tuple(int(decode(m).sum()) if m is not None else 0 for m in t.masks)) for t in tracks])
                # mask identity per result
                same_masks = True
                for r in off:
                    cands = [t for t in tracks if t.category == r["category_id"] and abs(t.score - r["score"]) < 1e-4]
                    om = [mask_util.decode(s).astype(bool) for s in r["segmentations"]]
                    if not any(all(np.array_equal(a, decode(m).astype(bool) if m is not None else np.zeros_like(a))
                                   for a, m in zip(om, t.masks)) for t in cands):
                        same_masks = False
                scores_ok = len(o_rows) == len(u_rows) and all(
                    a[1] == b[1] and abs(a[0] - b[0]) <= 1e-4 for a, b in zip(o_rows, u_rows))
                agree.append((seed, n, len(off), len(tracks), scores_ok, same_masks, len(out["targets"])))
            elif task == "vps":
                pan = off["pred_masks"]
                ok = True
                ours_pan = torch.zeros_like(pan)
                for sg in out["segments"]:
                    for f, m in sg["masks"].items():
                        ours_pan[f][torch.from_numpy(decode(m).astype(bool))] = sg["id"]
                ok = torch.equal(ours_pan, pan)
                o_info = sorted((s["id"], s["category_id"] - 1, bool(s["isthing"])) for s in off["segments_infos"]
                                if (pan == s["id"]).any())
                u_info = sorted((s["id"], s["class"], bool(s["isthing"])) for s in out["segments"])
                agree.append((seed, n, ok, o_info == u_info, len(u_info), len(out["targets"])))
            else:
                sem = off
                ours_sem = torch.full_like(sem, -1)
                for c, fm in out["semantic"].items():
                    for f, m in fm.items():
                        ours_sem[f][torch.from_numpy(decode(m).astype(bool))] = c
                agree.append((seed, n, torch.equal(ours_sem, sem), float((ours_sem == sem).float().mean())))
        if task == "vis":
            same = sum(r[2] == r[3] and r[4] and r[5] for r in agree)
            print(f"vis: {same}/{len(agree)} videos identical ({sum(r[2] for r in agree)} official results, "
                  f"{sum(r[6] for r in agree)} entities)", flush=True)
        elif task == "vps":
            same = sum(r[2] and r[3] for r in agree)
            print(f"vps: {same}/{len(agree)} videos identical ({sum(r[4] for r in agree)} segments)", flush=True)
        else:
            same = sum(r[2] for r in agree)
            worst = min(r[3] for r in agree)
            print(f"vss: {same}/{len(agree)} videos identical; lowest pixel agreement {worst:.6f}", flush=True)
        for r in agree:
            print("   ", task, r, flush=True)


if __name__ == "__main__":
    main()
