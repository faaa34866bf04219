# MMEngine runtime: iteration-based logging and checkpoints, seeded, resumable.
from mmengine.hooks import CheckpointHook, DistSamplerSeedHook, IterTimerHook, LoggerHook, ParamSchedulerHook
from mmengine.model import MMDistributedDataParallel
from mmengine.runner import LogProcessor

default_scope = 'univs_bench'
default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=50),
    param_scheduler=dict(type=ParamSchedulerHook),
    # detectron2 CHECKPOINT_PERIOD 5000; keep the last 3 and always the latest
    checkpoint=dict(type=CheckpointHook, by_epoch=False, interval=5000, max_keep_ckpts=3,
                    save_last=True),
    sampler_seed=dict(type=DistSamplerSeedHook),
)
custom_hooks = []
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
# prompts of one task leave other prompt branches unused in a step
model_wrapper_cfg = dict(type=MMDistributedDataParallel, find_unused_parameters=True)
log_processor = dict(type=LogProcessor, window_size=50, by_epoch=False)
log_level = 'INFO'
randomness = dict(seed=0, deterministic=False)
load_from = None   # e.g. the previous stage's checkpoint (`univs-bench convert-checkpoint`)
resume = False

# Parts kept frozen in training (see univs_bench.train.freeze_modules): backbone,
# pixel_decoder, predictor -> True (the whole part, held in eval mode) or a list of parameter
# name prefixes inside it. Stage 1 trains everything.
frozen = dict(backbone=False, pixel_decoder=False, predictor=False)
# Stage 3 sets ema = dict(decay=0.9999): an EMA teacher (backbone_t / sem_seg_head_t).
ema = None
