# UniVS Swin-B, stage 1 (official configs/univs/univs_swinb_stage1.yaml): the Swin-T stage-1 recipe
# with the Swin-B backbone. Initialise from Mask2Former's COCO panoptic Swin-B (model_final_54b88a.pkl) converted
# with `univs-bench convert-checkpoint`, then --cfg-options load_from=... .
from mmengine.config import read_base

with read_base():
    from ._base_.univs_swinb import model as swinb_model
    from .univs_swint_stage1 import *  # noqa: F401,F403

model.backbone = swinb_model.backbone  # noqa: F405
del swinb_model
# SOLVER: STEPS (342000,)
param_scheduler[0].milestones = [342000]  # noqa: F405
