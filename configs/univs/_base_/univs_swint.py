# UniVS Swin-t (50.42 M parameters without the CLIP text encoder).
from mmengine.config import read_base

from univs_bench.models.univs.backbone_swin import SwinTransformer

with read_base():
    from .univs_model import *  # noqa: F401,F403

model.backbone = dict(  # noqa: F405
    type=SwinTransformer, embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
    window_size=7, patch_size=4, mlp_ratio=4.0, drop_path_rate=0.3, frozen_stages=-1)
