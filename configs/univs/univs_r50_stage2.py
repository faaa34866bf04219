# UniVS R50, stage 2: video-level joint training on short clips (univs_r50_stage2.yaml with
# tools/run/univs_r50_stage2.sh: 3 frames per clip, 8 GPUs x 1 clip, lr 5e-5).
# Backbone frozen (FREEZE_AT 5: stem and res2..res5, the whole ResNet). Load the stage-1
# checkpoint with --cfg-options load_from=... .
from mmengine.config import read_base

with read_base():
    from .univs_r50_stage1 import *  # noqa: F401,F403

frozen = dict(backbone=True, pixel_decoder=False, predictor=False)
# SAMPLING_FRAME_NUM 3, SAMPLING_FRAME_RANGE 40; SQUARE_ENABLED False, MAX_SIZE_TRAIN 1024
train_dataloader.sampler.ratios = stage2_ratios  # noqa: F405
train_dataloader.dataset.datasets = [  # noqa: F405
    dict(d, num_frames=3, frame_range=40, pipeline=train_pipeline_nonsquare)  # noqa: F405
    for d in video_datasets]  # noqa: F405
optim_wrapper.optimizer.lr = 5e-5  # noqa: F405
train_cfg.max_iters = 354000  # noqa: F405
param_scheduler[0].milestones = [342000]  # noqa: F405
