# UniVS Swin-T, stage 2: video-level joint training on short clips
# (univs_swint_stage2.yaml with tools/run/univs_swint_stage2.sh: 5 frames per clip, 8 GPUs x 1
# clip, lr 5e-5).
# Backbone frozen. The yaml's FREEZE_AT 5 leaves Swin's four output LayerNorms trainable and
# the run script's FREEZE_AT 4 also the last Swin stage; to follow the run script set
# frozen.backbone=['patch_embed','layers.0','layers.1','layers.2']. Load the stage-1
# checkpoint with --cfg-options load_from=... .
from mmengine.config import read_base

with read_base():
    from .univs_swint_stage1 import *  # noqa: F401,F403

frozen = dict(backbone=True, pixel_decoder=False, predictor=False)
# SAMPLING_FRAME_NUM 5, SAMPLING_FRAME_RANGE 40; square LSJ crop (SQUARE_ENABLED default True)
train_dataloader.sampler.ratios = stage2_ratios  # noqa: F405
train_dataloader.dataset.datasets = [  # noqa: F405
    dict(d, num_frames=5, frame_range=40, pipeline=train_pipeline)  # noqa: F405
    for d in video_datasets]  # noqa: F405
optim_wrapper.optimizer.lr = 5e-5  # noqa: F405
train_cfg.max_iters = 354000  # noqa: F405
param_scheduler[0].milestones = [324000]  # noqa: F405
