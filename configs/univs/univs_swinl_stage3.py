# UniVS Swin-L, stage 3 (univs_swinl_stage3.yaml with tools/run/univs_swinl_stage3.sh): the Swin-T
# stage-3 recipe (7-frame clips as two 5-frame windows, inter-clip ReID, EMA teacher, backbone
# and pixel decoder frozen; see univs_swint_stage3.py) with the Swin-L backbone.
from mmengine.config import read_base

with read_base():
    from ._base_.univs_swinl import model as swinl_model
    from .univs_swint_stage3 import *  # noqa: F401,F403

model.backbone = swinl_model.backbone  # noqa: F405
del swinl_model
