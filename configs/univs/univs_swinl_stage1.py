# UniVS Swin-L, stage 1 (official configs/univs/univs_swinl_stage1.yaml): the Swin-T stage-1 recipe
# with the Swin-L backbone. Initialise from Mask2Former's COCO panoptic Swin-L (model_final_f07440.pkl) converted
# with `univs-bench convert-checkpoint`, then --cfg-options load_from=... .
from mmengine.config import read_base

with read_base():
    from ._base_.univs_swinl import model as swinl_model
    from .univs_swint_stage1 import *  # noqa: F401,F403

model.backbone = swinl_model.backbone  # noqa: F405
del swinl_model
# SOLVER: STEPS (342000,)
param_scheduler[0].milestones = [342000]  # noqa: F405
