"""UniVS training: stage configs, freezing, optimizer groups, stage-3 windows, learning, resume."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper

from univs_bench.models.univs.checkpoint import load_checkpoint_file
from univs_bench.registry import DATASETS, MODELS
from univs_bench.train import (
    UniVSLongVideo,
    UniVSOptimWrapperConstructor,
    configure,
    freeze_modules,
    load_config,
    print_config,
    train,
    window_starts,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "univs"
STAGES = [(b, s) for b in ("r50", "swint", "swinb", "swinl") for s in (1, 2, 3)]
TEACHER = ("backbone_t.", "sem_seg_head_t.")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and several threads crawl on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------------------- configs
@pytest.mark.parametrize("backbone,stage", STAGES)
def test_stage_config_builds_and_freezes_exactly(backbone, stage):
    cfg = configure(load_config(CONFIGS / f"univs_{backbone}_stage{stage}.py"))
    with torch.device("meta"):
        model = MODELS.build(cfg.model)
    assert isinstance(model, UniVSLongVideo) == (stage == 3)
    frozen = set(freeze_modules(model, cfg["frozen"]))
    student = {n for n, _ in model.named_parameters() if not n.startswith(TEACHER)}
    prefixes = {1: (), 2: ("backbone.",), 3: ("backbone.", "sem_seg_head.pixel_decoder.")}[stage]
    expected = {n for n in student if prefixes and n.startswith(prefixes)}
    assert frozen == expected
    assert {n for n, p in model.named_parameters() if n in student and not p.requires_grad} == expected
    assert any(n.startswith("sem_seg_head.predictor.") for n in student - expected)

    datasets = cfg.train_dataloader.dataset.datasets
    frames = {d["num_frames"] for d in datasets}
    assert frames == {1: {1}, 2: {3 if backbone == "r50" else 5}, 3: {7}}[stage]
    assert len(cfg.train_dataloader.sampler.ratios) == len(datasets) == (5 if stage == 1 else 12)
    assert cfg.optim_wrapper.optimizer.lr == (2.5e-5 if stage == 3 else 5e-5)
    assert cfg.optim_wrapper.clip_grad.max_norm == 0.01
    assert cfg.model.criterion.reid_weight == (0.5 if backbone == "r50" else 0.25)
    if stage == 3:
        assert model.num_frames_window == 5 and cfg.model.criterion.long_video
        assert window_starts(7, 5) == [0, 2]
        teacher = [n for n, _ in model.named_parameters() if n.startswith(TEACHER)]
        assert len(teacher) == sum(1 for n in student if n.startswith(("backbone.", "sem_seg_head.")))
        assert [h["decay"] for h in cfg.custom_hooks] == [0.9999]


def test_stage3_ema_is_a_flag():
    cfg = configure(load_config(CONFIGS / "univs_r50_stage3.py", ["ema=None"]))
    assert cfg.custom_hooks == [] and cfg.model.ema_teacher is False
    with torch.device("meta"):
        model = MODELS.build(cfg.model)
    assert not hasattr(model, "backbone_t")
    on = configure(load_config(CONFIGS / "univs_r50_stage2.py", ["ema=0.999"]))
    assert [h["decay"] for h in on.custom_hooks] == [0.999]
    with pytest.raises(ValueError, match="ema must be"):
        configure(load_config(CONFIGS / "univs_r50_stage2.py", ["ema=dict(decay=0.9)"]))


def test_print_config_shows_overrides(capsys):
    text = print_config(CONFIGS / "univs_swint_stage2.py", {"train_cfg.max_iters": 7})
    assert "max_iters=7" in text and "SwinTransformer" in text and text in capsys.readouterr().out


def test_optimizer_groups_follow_official_rules():
    cfg = load_config(CONFIGS / "univs_swint_stage1.py")
    with torch.device("meta"):
        model = MODELS.build(cfg.model)
    ctor = UniVSOptimWrapperConstructor(
        dict(type=OptimWrapper, optimizer=cfg.optim_wrapper.optimizer),
        cfg.optim_wrapper.paramwise_cfg)
    groups = []
    ctor.add_params(groups, model)
    by_name = {}
    ids = {id(p): n for n, p in model.named_parameters()}
    for g in groups:
        by_name[ids[id(g["params"][0])]] = (g["lr"], g["weight_decay"])
    assert len(by_name) == len(groups) == sum(1 for _ in model.parameters())
    lr, wd = 5e-5, 0.05
    expect = {
        "backbone.layers.0.blocks.0.attn.qkv.weight": (lr * 0.1, wd),
        "backbone.layers.0.blocks.0.norm1.weight": (lr * 0.1, 0.0),
        "backbone.layers.0.blocks.0.attn.relative_position_bias_table": (lr * 0.1, 0.0),
        "sem_seg_head.predictor.query_feat.weight": (lr, 0.0),
        "sem_seg_head.predictor.cls_temp.weight": (lr, 0.0),
        "sem_seg_head.predictor.decoder_norm.weight": (lr, 0.0),
        "sem_seg_head.predictor.mask_embed.layers.0.weight": (lr, wd),
    }
    for name, (e_lr, e_wd) in expect.items():
        assert by_name[name] == pytest.approx((e_lr, e_wd), rel=1e-9), name
    gn = [n for n, m in model.sem_seg_head.pixel_decoder.named_modules() if isinstance(m, torch.nn.GroupNorm)]
    assert gn and by_name[f"sem_seg_head.pixel_decoder.{gn[0]}.weight"][1] == 0.0


# ----------------------------------------------------------------------------- freezing
def _tiny(**kw):
    cfg = load_config(CONFIGS / "univs_tiny.py")
    cfg.model.criterion = dict(num_points=256)
    cfg.model.mask_decoder.num_classes = 8
    cfg.model.update(kw)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def test_frozen_parts_stay_in_eval_mode_and_prefixes_freeze_only_them():
    model = _tiny()
    parts = ("backbone.stem.", "backbone.res2.", "sem_seg_head.pixel_decoder.")
    frozen = freeze_modules(model, {"backbone": ["stem", "res2"], "pixel_decoder": True})
    assert frozen and all(n.startswith(parts) for n in frozen)
    assert {n for n, p in model.named_parameters() if not p.requires_grad} == set(frozen)
    assert all(p.requires_grad for n, p in model.named_parameters() if n.startswith("backbone.res3."))
    ran = {}
    for name, m in model.named_modules():  # registered after freezing: sees its effect
        m.register_forward_pre_hook(lambda mod, args, name=name: ran.__setitem__(name + ".", mod.training))
    model.train()
    model(torch.zeros(1, 1, 3, 64, 64), mode="tensor")
    in_frozen = [mode for n, mode in ran.items() if n.startswith(parts)]
    assert in_frozen and not any(in_frozen)
    assert ran["backbone.res3."] and ran["sem_seg_head.predictor."]
    with pytest.raises(ValueError, match="unknown part"):
        freeze_modules(model, {"neck": True})
    with pytest.raises(ValueError, match="no parameter"):
        freeze_modules(model, {"backbone": ["res9"]})


# ----------------------------------------------------------------------------- stage 3
def test_window_starts_match_the_official_loop():
    assert window_starts(7, 5) == [0, 2]
    assert window_starts(5, 5) == [0] and window_starts(3, 5) == [0]
    assert window_starts(9, 5) == [0, 4] and window_starts(10, 5) == [0, 4, 5]


def _clip(t=7, size=64, visual=False):
    g = torch.Generator().manual_seed(0)
    masks = torch.zeros(2, t, size, size, dtype=torch.bool)
    for f in range(t):
        masks[0, f, 8 + f:30 + f, 8:30] = True
        masks[1, f, 36:60, 30 + f:54 + f] = True
    s = dict(masks=masks, labels=torch.tensor([1, 3]), ids=torch.tensor([5, 9]),
             frame_indices=torch.arange(t))
    if visual:
        s.update(task="sot", prompt_type="visual", has_class=False, prompt_frame=0,
                 prompt_regions=masks[:, 0].clone(), prompt_kinds=["mask", "mask"],
                 prompt_target=torch.tensor([0, 1]), prompt_frames=torch.tensor([0, 0]))
    else:
        s.update(task="detection", prompt_type="text", prompt_labels=torch.tensor([1, 3]),
                 prompt_target=torch.arange(2))
    video = torch.randint(0, 255, (t, 3, size, size), generator=g, dtype=torch.uint8)
    return {"inputs": [video], "data_samples": [s]}


@pytest.mark.parametrize("visual", [False, True])
def test_long_video_loss_runs_windows_and_interclip_reid(visual):
    model = _tiny(type=UniVSLongVideo, num_frames_window=5)
    model.criterion_cfg = dict(num_points=256, long_video=True)
    model.criterion = None
    model.train()
    data = model.data_preprocessor(_clip(visual=visual), True)
    losses = model(**data, mode="loss")
    assert {"loss_reid_interclip", "loss_reid_interclip_aux", "loss_mask", "loss_dice"} <= set(losses)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.stem.conv1.weight.grad is not None


def test_teacher_starts_from_student_when_checkpoint_has_none():
    student = _tiny().state_dict()
    model = _tiny(type=UniVSLongVideo, ema_teacher=True)
    model.load_state_dict(student, strict=True)
    for n, v in model.backbone_t.state_dict().items():
        assert torch.equal(v, student["backbone." + n])
    assert all(not p.requires_grad for p in model.sem_seg_head_t.parameters())


# ----------------------------------------------------------------------------- training runs
def _synth_options(tmp_path: Path, **extra) -> dict:
    ann = str(tmp_path / "synth" / "ytvis21_train.json")
    opts = {"synthetic.out": str(tmp_path / "synth"), "synthetic.ann_file": ann,
            "train_dataloader.dataset.ann_file": ann, "default_hooks.logger.interval": 50}
    opts.update(extra)
    return opts


def matched_mask_iou(model, ann_file: str, repeats: int = 3) -> list[float]:
    """IoU of the masks of the Hungarian-matched learnable queries with the GT objects
    (over the frames of each clip), on clips drawn from the training videos."""
    from univs_bench.datasets import video_collate
    ds = DATASETS.build(dict(type="UnifiedVideoDataset", ann_file=ann_file, num_frames=3,
                             frame_range=3, category_map={i: i - 1 for i in range(1, 41)}))
    np.random.seed(1)
    torch.manual_seed(1)
    model.eval()
    ious = []
    with torch.no_grad():
        for _ in range(repeats):
            for i in range(len(ds)):
                data = model.data_preprocessor(video_collate([ds[i]]), False)
                out = model(**data, mode="tensor")
                q = out["num_learnable_queries"]
                learn = {"pred_logits": out["pred_logits"][:, :q], "pred_masks": out["pred_masks"][:, :q]}
                s = data["data_samples"][0]
                (qi, gi), = model.criterion.matcher(learn, [dict(labels=s["labels"], masks=s["masks"])])
                (h, w), pad = s["image_size"], s["pad_size"]
                pred = F.interpolate(learn["pred_masks"][0, qi], size=pad, mode="bilinear",
                                     align_corners=False)[..., :h, :w] > 0
                gt = s["masks"][gi][..., :h, :w].bool()
                inter = (pred & gt).flatten(1).sum(1).float()
                union = (pred | gt).flatten(1).sum(1).float()
                ious += (inter / union.clamp(min=1)).tolist()
    return ious


@pytest.mark.slow
def test_tiny_overfits_synthetic_videos(tmp_path):
    runner = train(CONFIGS / "univs_tiny_synth.py", work_dir=tmp_path / "work",
                   cfg_options=_synth_options(tmp_path, **{"default_hooks.checkpoint.interval": 10 ** 6}))
    assert runner.iter == 300
    for key in ("loss", "loss_mask", "loss_dice"):
        values = runner.message_hub.get_scalar(f"train/{key}").data[0]
        assert len(values) == 300
        first, last = float(np.mean(values[:10])), float(np.mean(values[-10:]))
        assert last <= 0.5 * first, (key, first, last)
    ious = matched_mask_iou(runner.model, str(tmp_path / "synth" / "ytvis21_train.json"))
    assert len(ious) >= 20
    assert float(np.mean(ious)) > 0.8, ious


def test_checkpoint_save_and_resume_continue_from_saved_iteration(tmp_path):
    work = tmp_path / "work"
    opts = _synth_options(tmp_path, **{
        "synthetic.size": (64, 64), "synthetic.videos": 2, "train_cfg.max_iters": 4,
        "default_hooks.checkpoint.interval": 2,
        # stage-3 machinery: two windows per 3-frame clip, EMA teacher in the checkpoint
        "model.type": "UniVSLongVideo", "model.num_frames_window": 2,
        "model.criterion.long_video": True, "ema": dict(decay=0.9)})
    first = train(CONFIGS / "univs_tiny_synth.py", work_dir=work, cfg_options=opts)
    assert first.iter == 4 and {"loss_reid_interclip"} <= set(
        k.removeprefix("train/") for k in first.message_hub.log_scalars)
    ckpt = load_checkpoint_file(work / "iter_4.pth")  # weights_only under torch >= 2.6
    assert ckpt["meta"]["iter"] == 4
    assert any(k.startswith("backbone_t.") for k in ckpt["state_dict"])
    teacher = {k: v.clone() for k, v in first.model.backbone_t.state_dict().items()}

    opts["train_cfg.max_iters"] = 6
    second = train(CONFIGS / "univs_tiny_synth.py", work_dir=work, resume=True, cfg_options=opts)
    assert second.iter == 6 and (work / "iter_6.pth").is_file()
    # the run went on from iteration 4: 2 new losses after the 4 restored ones, AdamW at step 6
    assert len(second.message_hub.get_scalar("train/loss").data[0]) == 6
    steps = {int(s["step"]) for s in second.optim_wrapper.optimizer.state_dict()["state"].values()}
    assert steps == {6}
    resumed = second.model.backbone_t.state_dict()
    assert not all(torch.equal(teacher[k], resumed[k]) for k in teacher)  # EMA kept updating
