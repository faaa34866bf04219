# UniVS Swin-B, stage 2 (univs_swinb_stage2.yaml with tools/run/univs_swinb_stage2.sh): the Swin-T
# stage-2 recipe (5-frame clips, backbone frozen, lr 5e-5) with the Swin-B backbone, on 4 GPUs x 1
# clip for 89k iterations. Load the stage-1 checkpoint with --cfg-options load_from=... .
from mmengine.config import read_base

with read_base():
    from ._base_.univs_swinb import model as swinb_model
    from .univs_swint_stage2 import *  # noqa: F401,F403

model.backbone = swinb_model.backbone  # noqa: F405
del swinb_model
train_cfg.max_iters = 89000  # noqa: F405
param_scheduler[0].milestones = [81000]  # noqa: F405
