"""Run the official UniVS inference on the oracle videos and write the official outputs.

    python tools/oracle/make_fixtures.py --univs /path/UniVS --detectron2 /path/detectron2 \\
        --site /path/site --out tests/fixtures/official_inference [--setups vos vis ...]

``--univs``: a checkout of MinghanLi/UniVS at 7415d31; ``--detectron2``: facebookresearch/detectron2
source (no compiled extension needed); ``--site``: a ``pip install --target`` folder with
detectron2's pure-Python dependencies (fvcore iopath yacs omegaconf antlr4-python3-runtime
portalocker cloudpickle einops ftfy regex wcwidth). Each setup writes
``<out>/<setup>/inputs/`` (the video in our raw benchmark layout, read by ``univs-bench run``)
and ``<out>/<setup>/official/`` (what the official code wrote, in the benchmark's submission
format), plus ``<out>/<setup>/setup.json`` (config, overrides, what our side must set).
See tests/fixtures/official_inference/README.md for the settings and stubs.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.oracle import fill, official, scenes  # noqa: E402

H, W, FRAMES = 120, 160, 7
SEED = 0
DRAW = "seeded"   # --draw: how the official prompt encoder's torch.randperm draws are made
TEST_SIZE = H   # short side at test time: frames keep their size (official scripts: 640)


def palette() -> list[int]:
    """The PASCAL/DAVIS palette (colour of id i from the bits of i)."""
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += [r, g, b]
    return pal


def save_jpg(arr, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=95)


def save_png(lab, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(lab.astype(np.uint8), mode="P")
    im.putpalette(palette())
    im.save(path)


def rle(mask: np.ndarray) -> dict:
    import pycocotools.mask as mask_util
    r = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    r["counts"] = r["counts"].decode()
    return r


def bbox(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def common_opts(out_dir: Path, cls_emb: Path) -> list[str]:
    """Overrides of every setup: the R50 stage-3 script flags, CPU, the small test size."""
    return ["MODEL.CLIP.WEIGHTS", str(cls_emb.parent / "regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth"),
            "MODEL.UniVS.TEST.NUM_PREV_FRAMES_MEMORY", "5", "INPUT.SAMPLING_FRAME_NUM", "5",
            "INPUT.MIN_SIZE_TEST", str(TEST_SIZE), "INPUT.LSJ_AUG.SQUARE_ENABLED", "False",
            "MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "", "MODEL.UniVS.CLIP_CLASS_EMBED_PATH", str(cls_emb),
            "OUTPUT_DIR", str(out_dir)]


def build_model(cfg):
    import torch
    from detectron2.modeling import build_model as d2_build
    model = d2_build(cfg)
    res = model.load_state_dict(fill.filled_state_dict("r50"), strict=False)
    missing = [k for k in res.missing_keys]
    if missing or res.unexpected_keys:
        raise RuntimeError(f"filled weights do not fit the official model: missing {missing[:5]}, "
                           f"unexpected {res.unexpected_keys[:5]}")
    model.eval()
    torch.set_grad_enabled(False)
    return model


class _IdentityDrawTorch:
    """``torch`` as seen by the official prompt_encoder.py under ``--draw identity``: every
    ``torch.randperm(n)`` there returns ``arange(n)``, the identity permutation (one possible
    outcome of the official random draw: the first R cells / pixels in raster order). Everything
    else is the real torch, and randperm calls in other official files are untouched."""

    def __getattr__(self, name):
        import torch
        return getattr(torch, name)

    @staticmethod
    def randperm(n, *, generator=None, dtype=None, device=None, **kwargs):
        import torch
        return torch.arange(int(n), dtype=dtype or torch.long, device=device)


def use_draw(draw: str):
    """Install the prompt-token draw of ``--draw`` in the official prompt encoder module:
    'seeded' = the real ``torch.randperm`` (seeded per video by ``run_dataset``), 'identity' =
    :class:`_IdentityDrawTorch`. Its randperm calls at inference: ``get_dense_features`` (R of a
    mask's 1/8 cells) and ``select_points_from_box_mask`` (the point of a mask prompt)."""
    import importlib

    import torch
    prompt_encoder = importlib.import_module("univs.modeling.prompt_encoder.prompt_encoder")
    prompt_encoder.torch = _IdentityDrawTorch() if draw == "identity" else torch


def run_dataset(cfg, model, dataset_name: str):
    """The official test loop for one dataset: builtin registration, the official test mapper
    (``UniVidDatasetMapper(is_train=False)``), ``model([inputs])`` per video (eval mode)."""
    from detectron2.data import DatasetCatalog
    from univs.data import UniVidDatasetMapper
    mapper = UniVidDatasetMapper(cfg, is_train=False, dataset_name=dataset_name)
    outs = []
    import torch
    for d in DatasetCatalog.get(dataset_name):
        inputs = mapper(d)
        # the official prompt encoder draws R of a mask's cells with torch.randperm when the mask
        # has more than R cells (prompt_encoder.py get_dense_features): seeded per video
        torch.manual_seed(SEED)
        outs.append((inputs, model([inputs])))
    return outs


# ----------------------------------------------------------------------------- VOS (DAVIS 2017)
VOS_SEQ = "twoobj"


def setup_vos(args, work: Path, root: Path, out: Path, cls_emb: Path):
    frames, labels = scenes.render(scenes.VOS_OBJECTS, H, W, FRAMES)
    inp = out / "inputs" / "davis17" / "DAVIS"
    for t in range(FRAMES):
        save_jpg(frames[t], inp / "JPEGImages" / "480p" / VOS_SEQ / f"{t:05d}.jpg")
        save_png(labels[t], inp / "Annotations" / "480p" / VOS_SEQ / f"{t:05d}.png")
    (inp / "ImageSets" / "2017").mkdir(parents=True, exist_ok=True)
    (inp / "ImageSets" / "2017" / "val.txt").write_text(VOS_SEQ + "\n")
    # official layout (builtin.py 'sot_davis17_val'): Full-Resolution frames, a YTVIS-style json
    # holding each object's mask on its first-appearance frame only (semi-supervised val).
    ds = root / "datasets" / "DAVIS"
    shutil.copytree(inp / "JPEGImages" / "480p", ds / "JPEGImages" / "Full-Resolution")
    shutil.copytree(inp / "Annotations" / "480p", ds / "Annotations" / "Full-Resolution")
    anns = []
    for k in sorted(set(np.unique(labels)) - {0}):
        m = labels == k
        first = int(np.nonzero(m.reshape(FRAMES, -1).any(1))[0][0])
        segs = [rle(m[t]) if t == first else None for t in range(FRAMES)]
        boxes = [bbox(m[t]) if t == first else None for t in range(FRAMES)]
        anns.append({"id": int(k), "video_id": 1, "category_id": 1, "iscrowd": 0, "segmentations": segs,
                     "bboxes": boxes, "areas": [float(m[t].sum()) if t == first else None for t in range(FRAMES)]})
    doc = {"videos": [{"id": 1, "file_names": [f"{VOS_SEQ}/{t:05d}.jpg" for t in range(FRAMES)],
                       "height": H, "width": W, "length": FRAMES}],
           "categories": [{"id": 1, "name": "object"}], "annotations": anns}
    (ds / "2017_val.json").write_text(json.dumps(doc))
    config = "configs/univs_inf/vids/vos/univs_R50_vos_davis17_c1+univs.yaml"
    opts = ["MODEL.UniVS.MASKDEC_SELF_ATTN_MASK_TYPE", "sep", *common_opts(work / "out", cls_emb),
            "DATASETS.TEST", '("sot_davis17_val", )']
    cfg = official.setup_cfg(args.univs, config, opts)
    model = build_model(cfg)
    captured = capture_first_clip(model)
    (inputs, _), = run_dataset(cfg, model, "sot_davis17_val")
    save_tensor_fixture(captured, inputs, cfg, out / "official" / "tensor_clip0.pt")
    res = work / "out" / "inference" / "Annotations"
    dst = out / "official" / "davis17"
    shutil.copytree(res, dst, dirs_exist_ok=True)
    return {"config": config, "overrides": opts_public(opts), "benchmark": "davis17",
            "our_cfg_options": [f"test_size={TEST_SIZE}"], "outputs": "official/davis17/<seq>/<frame>.png"}


N_LEARN_SAVED = 16   # learnable queries whose outputs the tensor fixture keeps (all prompt queries kept)


def capture_first_clip(model) -> dict:
    """Hooks on the official ``sem_seg_head``: its first eval call's prompt state and outputs."""
    import torch
    cap: dict = {}

    def pre(mod, args, kwargs):
        if cap:
            return
        t = kwargs["targets"][0]
        cap["prompt_masks"] = t["masks"].clone().bool()          # (N, T, Hp, Wp) written GT masks
        cap["first_appear_frame_idxs"] = t["first_appear_frame_idxs"].clone()
        cap["frame_indices"] = torch.as_tensor(t["frame_indices"]).clone()
        cap["ids"] = torch.as_tensor(t["ids"]).clone()

    def post(mod, args, kwargs, out):
        if "pred_logits" in cap:
            return
        q = out["pred_logits"].shape[1]
        keep = torch.cat([torch.arange(N_LEARN_SAVED), torch.arange(q - len(cap["ids"]), q)])
        cap["query_index"] = keep
        cap["num_queries"] = torch.tensor(q)
        for k in ("pred_logits", "pred_masks", "pred_embds"):
            cap[k] = out[k][0, keep].detach().float().clone()
    model.sem_seg_head.register_forward_pre_hook(pre, with_kwargs=True)
    model.sem_seg_head.register_forward_hook(post, with_kwargs=True)
    return cap


def save_tensor_fixture(cap: dict, inputs: dict, cfg, dst: Path):
    """The official decoder's eval forward on the first clip of the VOS video (issue 10: tensor
    mode within 1e-4): the clip's frames (uint8, before normalisation and padding), the prompt
    state the official code passed in, and the outputs of the kept queries (the first
    N_LEARN_SAVED learnable ones and every prompt query, ``query_index``)."""
    import torch
    t = int(cap["frame_indices"].numel())
    data = {"frames": torch.stack([x for x in inputs["image"][:t]]),      # (T, 3, H, W) uint8 RGB
            "pixel_mean": torch.tensor(cfg.MODEL.PIXEL_MEAN), "pixel_std": torch.tensor(cfg.MODEL.PIXEL_STD),
            "size_divisibility": torch.tensor(32),
            **{k: v for k, v in cap.items()}}
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, str(dst))


def opts_public(opts: list[str]) -> list[str]:
    """Overrides with the machine-specific paths blanked (for setup.json)."""
    out = []
    for i in range(0, len(opts), 2):
        k, v = opts[i], opts[i + 1]
        if k in ("OUTPUT_DIR", "MODEL.UniVS.CLIP_CLASS_EMBED_PATH", "MODEL.CLIP.WEIGHTS"):
            v = "<tmp>/" + Path(v).name
        out += [k, v]
    return out


# ----------------------------------------------------------------------------- VIS (YouTube-VIS 2021)
VIS_VIDEO = "a1b2c3d4e5"
VIS_CATEGORIES = {1: 1, 2: 7}   # object index -> YTVIS 2021 category id (GT only; VIS ignores it)


def ytvis21_categories() -> list[dict]:
    from univs.data.datasets.ytvis import YTVIS_CATEGORIES_2021
    return [{"id": c["id"], "name": c["name"], "supercategory": "object"} for c in YTVIS_CATEGORIES_2021]


def setup_vis(args, work: Path, root: Path, out: Path, cls_emb: Path):
    frames, labels = scenes.render(scenes.VIS_OBJECTS, H, W, FRAMES)
    inp = out / "inputs" / "ytvis21"
    names = [f"{VIS_VIDEO}/{5 * t:05d}.jpg" for t in range(FRAMES)]
    for t in range(FRAMES):
        save_jpg(frames[t], inp / "valid" / "JPEGImages" / names[t])
    video = {"id": 1, "width": W, "height": H, "length": FRAMES, "file_names": names}
    anns = []
    for k in sorted(set(np.unique(labels)) - {0}):
        m = labels == k
        present = m.reshape(FRAMES, -1).any(1)
        anns.append({"id": int(k), "video_id": 1, "category_id": VIS_CATEGORIES[int(k)], "iscrowd": 0,
                     "segmentations": [rle(m[t]) if present[t] else None for t in range(FRAMES)],
                     "bboxes": [bbox(m[t]) if present[t] else None for t in range(FRAMES)],
                     "areas": [float(m[t].sum()) if present[t] else None for t in range(FRAMES)]})
    cats = ytvis21_categories()
    for sub, a in (("valid", []), ("valid_full", anns)):
        (inp / sub).mkdir(parents=True, exist_ok=True)
        (inp / sub / "instances.json").write_text(json.dumps({"videos": [video], "categories": cats, "annotations": a}))
    # official layout (builtin.py 'ytvis_2021_dev'): train/JPEGImages + valid_sub.json
    ds = root / "datasets" / "ytvis_2021"
    shutil.copytree(inp / "valid" / "JPEGImages", ds / "train" / "JPEGImages")
    (ds / "valid_sub.json").write_text(json.dumps({"videos": [video], "categories": cats, "annotations": anns}))
    config = "configs/univs_inf/vids/vis/univs_R50_yt21_c1+univs_entity.yaml"
    opts = ["MODEL.UniVS.MASKDEC_SELF_ATTN_MASK_TYPE", "sep", *common_opts(work / "out", cls_emb),
            "DATASETS.TEST", '("ytvis_2021_dev", )']
    cfg = official.setup_cfg(args.univs, config, opts)
    model = build_model(cfg)
    from univs.evaluation import YTVISEvaluator
    ev = YTVISEvaluator("ytvis_2021_dev", distributed=False, output_dir=str(work / "out"))
    ev.reset()
    for inputs, outputs in run_dataset(cfg, model, "ytvis_2021_dev"):
        ev.process([inputs], outputs)
    ev.evaluate()   # writes results.json (category ids unmapped to the dataset's), then scores it
    dst = out / "official" / "ytvis21"
    dst.mkdir(parents=True)
    shutil.copy(work / "out" / "results.json", dst / "results.json")
    return {"config": config, "overrides": opts_public(opts), "benchmark": "ytvis21",
            "our_cfg_options": [f"test_size={TEST_SIZE}"], "outputs": "official/ytvis21/results.json"}


# ----------------------------------------------------------------------------- PVOS (VIPOSeg)
def synth(benchmark: str, dst: Path, seed: int = 0, frames: int = FRAMES) -> Path:
    """One video of our synthetic suite (``univs-bench synth``) in ``benchmark``'s raw layout."""
    from univs_bench.synthetic import SynthConfig, write_suite
    tmp = dst.parent / f".synth_{benchmark}"
    write_suite(str(tmp), benchmarks=[benchmark], cfg=SynthConfig(videos=1, frames=frames, size=(H, W), seed=seed))
    shutil.move(str(tmp / benchmark), str(dst))
    shutil.rmtree(tmp)
    (dst / "README.txt").unlink(missing_ok=True)
    return dst


def run_official_script(univs: str, script: str, cwd: Path, argv: list[str] | None = None):
    """Run one of the official dataset converters (``datasets/data_utils``) in ``cwd``."""
    import os
    import runpy
    old, old_argv = os.getcwd(), sys.argv
    os.chdir(cwd)
    sys.argv = [script, *(argv or [])]
    try:
        runpy.run_path(os.path.join(univs, script), run_name="__main__")
    finally:
        os.chdir(old)
        sys.argv = old_argv


def setup_pvos(args, work: Path, root: Path, out: Path, cls_emb: Path):
    inp = synth("viposeg", out / "inputs" / "viposeg")
    for sub in ("train",):
        shutil.rmtree(inp / sub, ignore_errors=True)
    # official layout and json: the official converter run on the same raw files
    ds = root / "datasets" / "viposeg" / "valid"
    shutil.copytree(inp / "valid", ds)
    run_official_script(args.univs, "datasets/data_utils/convert_viposeg_to_cocovid_val.py", root)
    config = "configs/univs_inf/vids/pvos/univs_R50_pvos_c1+univs.yaml"
    # the script's 'pvos_viposeg_dev' is the converter's first 10% of the videos (none of one
    # video); 'pvos_viposeg_val' is the same procedure on the whole split
    opts = ["MODEL.UniVS.MASKDEC_SELF_ATTN_MASK_TYPE", "sep", *common_opts(work / "out", cls_emb),
            "DATASETS.TEST", '("pvos_viposeg_val", )']
    cfg = official.setup_cfg(args.univs, config, opts)
    model = build_model(cfg)
    run_dataset(cfg, model, "pvos_viposeg_val")
    dst = out / "official" / "viposeg"
    shutil.copytree(work / "out" / "inference" / "Annotations", dst)
    return {"config": config, "overrides": opts_public(opts), "benchmark": "viposeg",
            "our_cfg_options": [f"test_size={TEST_SIZE}"], "outputs": "official/viposeg/<video>/<frame>.png"}


# ----------------------------------------------------------------------------- VSS (VSPW)
def setup_vss(args, work: Path, root: Path, out: Path, cls_emb: Path):
    inp = synth("vspw", out / "inputs" / "vspw")
    vsp = inp / "VSPW_480p"
    val = vsp.joinpath("val.txt").read_text().split()
    for v in vsp.joinpath("train.txt").read_text().split():   # keep the validation video only
        if v not in val:
            shutil.rmtree(vsp / "data" / v)
    vsp.joinpath("train.txt").write_text("")
    # official layout: the json of datasets/data_utils/convert_vspw_to_cocovid_dev.py (videos of
    # the val list; annotations None; categories id > 0), written here because that script
    # needs panopticapi.save_json and label_num_dic_final.json; images under VSPW_480p/data
    ds = root / "datasets" / "VSPW_480p"
    shutil.copytree(vsp / "data", ds / "data")
    shutil.copy(vsp / "val.txt", ds / "dev.txt")
    from univs.data.datasets.vss import CATEGORIES
    videos = []
    for v in val:
        names = sorted(p.name for p in (vsp / "data" / v / "origin").iterdir())
        h, w = np.array(Image.open(vsp / "data" / v / "origin" / names[0])).shape[:2]
        videos.append({"id": v, "length": len(names), "width": int(w), "height": int(h),
                       "file_names": [f"{v}/origin/{n}" for n in names]})
    cats = [{"id": c["id"], "name": c["name"]} for c in CATEGORIES if c["id"] > 0]
    (ds / "dev_cocovid.json").write_text(json.dumps({"videos": videos, "annotations": None, "categories": cats}))
    config = "configs/univs_inf/vids/vss/univs_R50_vss_c1+univs_entity.yaml"
    opts = ["MODEL.UniVS.MASKDEC_SELF_ATTN_MASK_TYPE", "sep", *common_opts(work / "out", cls_emb),
            "DATASETS.TEST", '("vspw_vss_video_dev", )']
    opts = [o for i, o in enumerate(opts) if not (opts[i - (i % 2)] == "MODEL.UniVS.TEST.NUM_PREV_FRAMES_MEMORY")]
    cfg = official.setup_cfg(args.univs, config, opts)
    model = build_model(cfg)
    from univs.evaluation import VSSEvaluator
    dst = out / "official" / "vspw"
    ev = VSSEvaluator("vspw_vss_video_dev", distributed=False, output_dir=str(dst))
    ev.reset()
    for inputs, outputs in run_dataset(cfg, model, "vspw_vss_video_dev"):
        ev.process([inputs], outputs)     # writes <video>/<frame>.png (class index 0..123)
    return {"config": config, "overrides": opts_public(opts), "benchmark": "vspw",
            "our_cfg_options": [f"test_size={TEST_SIZE}"], "outputs": "official/vspw/<video>/<frame>.png"}


# ----------------------------------------------------------------------------- VPS (VIPSeg)
def setup_vps(args, work: Path, root: Path, out: Path, cls_emb: Path):
    inp = synth("vipseg", out / "inputs" / "vipseg")
    vip = inp / "VIPSeg_720P"
    doc = json.loads((vip / "panoptic_gt_VIPSeg_val.json").read_text())
    val = [v["video_id"] for v in doc["videos"]]
    for d in ("images", "panomasks", "panomasksRGB"):       # keep the validation video only
        for p in (vip / d).iterdir():
            if p.name not in val:
                shutil.rmtree(p)
    (vip / "panoptic_gt_VIPSeg_train.json").unlink()
    shutil.rmtree(inp / "VIPSeg", ignore_errors=True)
    # official layout (builtin.py 'vipseg_panoptic_dev'): VIPSeg_720P/imgs, panomasksRGB and the
    # cocovid json of datasets/data_utils/convert_vipseg_to_cocovid.py (+ _valsub.py), written here
    # from the same panoptic PNGs because that script needs panopticapi; the evaluator reads the
    # VIPSeg-format json panoptic_gt_VIPSeg_val_sub.json for the categories
    ds = root / "datasets" / "vipseg" / "VIPSeg_720P"
    shutil.copytree(vip / "images", ds / "imgs")
    shutil.copytree(vip / "panomasksRGB", ds / "panomasksRGB")
    shutil.copy(vip / "panoptic_gt_VIPSeg_val.json", ds / "panoptic_gt_VIPSeg_val_sub.json")
    videos, anns = [], []
    for vid, (v, a) in enumerate(zip(doc["videos"], doc["annotations"])):
        names = [im["file_name"] for im in v["images"]]
        n = len(names)
        videos.append({"id": vid, "length": n, "width": v["images"][0]["width"], "height": v["images"][0]["height"],
                       "file_names": [f"{v['video_id']}/{x.replace('.png', '.jpg')}" for x in names]})
        segs: dict[int, dict] = {}
        for i, fr in enumerate(a["annotations"]):
            rgb = np.array(Image.open(vip / "panomasksRGB" / v["video_id"] / fr["file_name"]).convert("RGB")).astype(np.int64)
            ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
            for s in fr["segments_info"]:
                e = segs.setdefault(s["id"], {"video_id": vid, "length": n, "id": s["id"],
                                              "category_id": s["category_id"] + 1, "bboxes": [None] * n,
                                              "areas": [None] * n, "iscrowd": 0})
                m = ids == s["id"]
                e["areas"][i] = int(m.sum())
                e["bboxes"][i] = bbox(m)
        anns += list(segs.values())
    cats = [{**c, "id": c["id"] + 1} for c in doc["categories"]]   # category ids from 1, as its annotations
    (ds / "panoptic_gt_VIPSeg_val_sub_cocovid.json").write_text(
        json.dumps({"videos": videos, "annotations": anns, "categories": cats}))
    config = "configs/univs_inf/vids/vps/univs_R50_vps_c1+univs_entity.yaml"
    opts = ["MODEL.UniVS.MASKDEC_SELF_ATTN_MASK_TYPE", "sep", *common_opts(work / "out", cls_emb),
            "DATASETS.TEST", '("vipseg_panoptic_dev", )']
    cfg = official.setup_cfg(args.univs, config, opts)
    model = build_model(cfg)
    from univs.evaluation import VPSEvaluator
    dst = out / "official" / "vipseg"
    ev = VPSEvaluator("vipseg_panoptic_dev", cfg, False, str(dst))
    ev.reset()
    for inputs, outputs in run_dataset(cfg, model, "vipseg_panoptic_dev"):
        ev.process([inputs], outputs)     # pan_pred/<video>/<frame>.png
    ev._do_evaluation = False             # write pred.json only (no VPQ/STQ scoring here)
    ev.evaluate()
    return {"config": config, "overrides": opts_public(opts), "benchmark": "vipseg",
            "our_cfg_options": [f"test_size={TEST_SIZE}"], "outputs": "official/vipseg/{pred.json,pan_pred/}"}


# ----------------------------------------------------------------------------- BURST (exemplar-guided)
BURST_FRAMES = 11   # every second frame annotated: 6 annotated frames


def setup_burst(args, work: Path, root: Path, out: Path, cls_emb: Path):
    # seed 7: the suite's first video whose categories all exist in the official BURST->LVIS map
    # (univs/data/datasets/burst.py; the official loader fails on others): 2 tracks from frame 0
    inp = synth("burst", out / "inputs" / "burst", seed=7, frames=BURST_FRAMES)
    shutil.rmtree(inp / "frames" / "train")
    shutil.rmtree(inp / "annotations" / "train")
    # official layout: frames/val and the official converter's val_first_frame_uni.json
    # (datasets/data_utils/convert_burst_to_cocovid_val.py: annotated frames only)
    ds = root / "datasets" / "burst"
    shutil.copytree(inp / "frames" / "val", ds / "frames" / "val")
    (ds / "annotations" / "val").mkdir(parents=True)
    shutil.copy(inp / "annotations" / "val" / "first_frame_annotations.json", ds / "annotations" / "val")
    run_official_script(args.univs, "datasets/data_utils/convert_burst_to_cocovid_val.py", root)
    # the official VOS writer colours its PNGs with the palette of the first PNG it finds in
    # frames/val/Annotations/<seq>/ (dataset_mapper_uni_vid.py get_palette) and fails without
    # one; BURST has no such folder, so an empty palette PNG is put there (colours only)
    for seq in (ds / "frames" / "val").glob("*/*"):
        save_png(np.zeros((H, W), np.uint8), ds / "frames" / "val" / "Annotations" / seq.name / "00000.png")
    # no official BURST inference YAML or script: the DAVIS VOS YAML and R50 stage-3 flags
    config = "configs/univs_inf/vids/vos/univs_R50_vos_davis17_c1+univs.yaml"
    opts = ["MODEL.UniVS.MASKDEC_SELF_ATTN_MASK_TYPE", "sep", *common_opts(work / "out", cls_emb),
            "DATASETS.TEST", '("mots_burst_val_vos", )']
    cfg = official.setup_cfg(args.univs, config, opts)
    model = build_model(cfg)
    run_dataset(cfg, model, "mots_burst_val_vos")
    dst = out / "official" / "burst"
    shutil.copytree(work / "out" / "inference" / "Annotations", dst)
    return {"config": config, "overrides": opts_public(opts), "benchmark": "burst",
            "our_cfg_options": [f"test_size={TEST_SIZE}"],
            "outputs": "official/burst/<seq_name>/<frame>.png (track ids; the official VOS writer)"}


# ----------------------------------------------------------------------------- RefVOS (Ref-DAVIS 2017)
def setup_refvos(args, work: Path, root: Path, out: Path, cls_emb: Path):
    inp = synth("refdavis17", out / "inputs" / "refdavis17")
    dav = inp / "DAVIS"
    val = dav.joinpath("ImageSets", "2017", "val.txt").read_text().split()
    for v in dav.joinpath("ImageSets", "2017", "train.txt").read_text().split():
        if v not in val:
            for d in ("JPEGImages", "Annotations_unsupervised"):
                shutil.rmtree(dav / d / "480p" / v, ignore_errors=True)
    dav.joinpath("ImageSets", "2017", "train.txt").write_text("")
    # official layout (builtin.py 'rvos-refdavis-val-1': ref-davis/valid/JPEGImages + valid_1.json):
    # datasets/data_utils/convert_davis_to_refdavis.py moves the val frames and unsupervised
    # annotations to ref-davis/valid/{JPEGImages,Annotations} and orders each object's expressions
    # annot1-first, annot1-full, annot2-first, annot2-full (anno_0..anno_3); valid_1.json itself is
    # made by no script of the official repo: here, in the format of convert_refytvos_to_cocovid_val.py,
    # with the annot1 full-video expression of every object (exp_id = object id - 1)
    ds = root / "datasets" / "ref-davis" / "valid"
    shutil.copytree(dav / "JPEGImages" / "480p", ds / "JPEGImages")
    shutil.copytree(dav / "Annotations_unsupervised" / "480p", ds / "Annotations")
    exps = {}
    for line in (inp / "davis_text_annotations" / "Davis17_annot1_full_video.txt").read_text().splitlines():
        if line.strip():
            video, obj = line.split()[:2]
            exps.setdefault(video, []).append((int(obj), " ".join(line.split()[2:])[1:-1]))
    videos, anns = [], []
    for vid, v in enumerate(val):
        names = sorted(p.name for p in (ds / "JPEGImages" / v).iterdir())
        h, w = np.array(Image.open(ds / "JPEGImages" / v / names[0])).shape[:2]
        videos.append({"height": int(h), "width": int(w), "length": len(names), "file_names": [f"{v}/{n}" for n in names],
                       "id": vid})
        for obj, exp in sorted(exps.get(v, [])):
            anns.append({"video_id": vid, "id": len(anns), "category_id": 1, "exp_id": str(obj - 1), "expressions": [exp]})
    (ds.parent / "valid_1.json").write_text(json.dumps(
        {"videos": videos, "annotations": anns, "categories": [{"supercategory": "object", "id": 1, "name": "object"}]}))
    config = "configs/univs_inf/vids/refvos/univs_R50_refvos_davis_c1+univs.yaml"
    opts = ["MODEL.UniVS.MASKDEC_SELF_ATTN_MASK_TYPE", "sep-blocked",
            "MODEL.UniVS.TEST.ENABLED_PREV_VISUAL_PROMPTS_FOR_GROUNDING", "False",
            *common_opts(work / "out", cls_emb), "DATASETS.TEST", '("rvos-refdavis-val-1", )']
    cfg = official.setup_cfg(args.univs, config, opts)
    model = build_model(cfg)
    run_dataset(cfg, model, "rvos-refdavis-val-1")
    dst = out / "official" / "refdavis17"
    shutil.copytree(work / "out" / "inference" / "Annotations", dst)
    return {"config": config, "overrides": opts_public(opts), "benchmark": "refdavis17",
            "our_cfg_options": [f"test_size={TEST_SIZE}"], "our_subdir": "anno_1",
            "outputs": "official/refdavis17/<seq>/<frame>.png (object ids; annotator 1, full-video expressions)"}


SETUPS = {"vos": setup_vos, "vis": setup_vis, "pvos": setup_pvos, "vss": setup_vss, "vps": setup_vps,
          "burst": setup_burst, "refvos": setup_refvos}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--univs", required=True)
    ap.add_argument("--detectron2", required=True)
    ap.add_argument("--site", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0, help="torch seed set before each video")
    ap.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    ap.add_argument("--draw", choices=["seeded", "identity"], default="seeded",
                    help="the official prompt encoder's torch.randperm draws, for every setup of this run: "
                         "'seeded' (real randperm, torch seeded per video) or 'identity' (randperm -> arange "
                         "in prompt_encoder.py; setup.json records it and adds prompt_sampling=raster to "
                         "our side). The committed vps fixture is made with identity (see the README)")
    args = ap.parse_args(argv)
    global SEED, DRAW
    SEED = args.seed
    DRAW = args.draw
    with tempfile.TemporaryDirectory(prefix="oracle_") as tmp:
        root = Path(tmp)
        # the official registration binds every dataset to DETECTRON2_DATASETS once, at import
        official.bootstrap(args.univs, args.detectron2, args.site, str(root / "datasets"))
        cls_emb = fill.save_class_embeddings(root / "combined_datasets_cls_emb_rn50x4.pth")
        fill.save_text_encoder(root / "regionclip_pretrained-cc_rn50x4_only_lang_encoder.pth")
        use_draw(DRAW)
        for name in args.setups:
            work = root / name
            (work / "datasets").mkdir(parents=True)
            out = Path(args.out) / name
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            info = SETUPS[name](args, work, root, out, cls_emb)
            info["fill_digest"] = fill.digest("r50")
            info["torch_seed"] = SEED
            if DRAW == "identity":
                # our 'raster' token sampling = the official draw with randperm -> arange
                info["prompt_draw"] = "identity (torch.randperm -> torch.arange in prompt_encoder.py)"
                info["our_cfg_options"].append("prompt_sampling=raster")
            (out / "setup.json").write_text(json.dumps(info, indent=1) + "\n")
            print(f"{name}: wrote {out}")


if __name__ == "__main__":
    main()
