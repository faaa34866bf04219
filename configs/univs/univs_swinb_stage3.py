# UniVS Swin-B, stage 3 (univs_swinb_stage3.yaml with tools/run/univs_swinb_stage3.sh): the Swin-T
# stage-3 recipe (7-frame clips as two 5-frame windows, inter-clip ReID, EMA teacher, backbone
# and pixel decoder frozen; see univs_swint_stage3.py) with the Swin-B backbone, RefCOCO ratio
# 0.75 and SAMPLING_FRAME_RANGE 20.
from mmengine.config import read_base

with read_base():
    from ._base_.univs_swinb import model as swinb_model
    from .univs_swint_stage3 import *  # noqa: F401,F403

model.backbone = swinb_model.backbone  # noqa: F405
del swinb_model
swinb_stage3_ratios = list(stage3_ratios)  # noqa: F405
swinb_stage3_ratios[6] = 0.75  # refcoco 0.35 -> 0.75 (univs_swinb_stage3.yaml)
train_dataloader.sampler.ratios = swinb_stage3_ratios  # noqa: F405
train_dataloader.dataset.datasets = [  # noqa: F405
    dict(d, frame_range=20) for d in train_dataloader.dataset.datasets]  # noqa: F405
