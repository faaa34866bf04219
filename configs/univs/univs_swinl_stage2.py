# UniVS Swin-L, stage 2 (univs_swinl_stage2.yaml with tools/run/univs_swinl_stage2.sh): the Swin-T
# stage-2 recipe (5-frame clips, backbone frozen, 8 GPUs x 1 clip, lr 5e-5) with the Swin-L
# backbone. Load the stage-1 checkpoint with --cfg-options load_from=... .
from mmengine.config import read_base

with read_base():
    from ._base_.univs_swinl import model as swinl_model
    from .univs_swint_stage2 import *  # noqa: F401,F403

model.backbone = swinl_model.backbone  # noqa: F405
del swinl_model
