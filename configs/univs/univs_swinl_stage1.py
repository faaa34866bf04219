# UniVS Swin-L, stage 1: image-level joint training (official configs/univs/univs_swinl_stage1.yaml).
# Single frames from LVIS, COCO panoptic, RefCOCO, EntitySeg and SA-1B; nothing frozen.
# Initialise from Mask2Former's COCO panoptic Swin-L (model_final_f07440.pkl) converted with
# `univs-bench convert-checkpoint`, then --cfg-options load_from=... .
from mmengine.config import read_base

with read_base():
    from ._base_.datasets import *  # noqa: F401,F403
    from ._base_.runtime import *  # noqa: F401,F403
    from ._base_.schedules import *  # noqa: F401,F403
    from ._base_.univs_swinl import *  # noqa: F401,F403

model.criterion = dict(  # noqa: F405  (UniVSCriterion; MASK_FORMER weights; REID_WEIGHT 0.25 for Swin)
    num_points=12544, oversample_ratio=3.0, importance_sample_ratio=0.5,
    class_weight=5.0, mask_weight=5.0, dice_weight=5.0, reid_weight=0.25,
    cost_class=3.0, cost_mask=5.0, cost_dice=5.0)
# SOLVER: BASE_LR 5e-5, MAX_ITER 354000, STEPS (342000,)
optim_wrapper.optimizer.lr = 5e-5  # noqa: F405
train_cfg.max_iters = 354000  # noqa: F405
param_scheduler[0].milestones = [342000]  # noqa: F405
