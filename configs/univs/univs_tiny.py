# A few-channel, two-layer UniVS for CPU tests and smoke training on the synthetic suite.
from mmengine.config import read_base

from univs_bench.models.univs.backbone_resnet import ResNet

with read_base():
    from ._base_.univs_model import *  # noqa: F401,F403

model.backbone = dict(type=ResNet, num_blocks=(1, 1, 1, 1), stem_channels=8,  # noqa: F405
                      res2_channels=16)
model.pixel_decoder = dict(conv_dim=32, mask_dim=32, num_groups=8, nheads=4,  # noqa: F405
                           dim_feedforward=64, enc_layers=1, n_points=2)
model.mask_decoder = dict(hidden_dim=32, num_queries=10, nheads=4, dim_feedforward=64,  # noqa: F405
                          num_layers=2, mask_dim=32, num_classes=8, text_dim=48,
                          self_attn_mask_type='sep', num_prompt_points=4, num_max_frames=128,
                          shuffle_frames_in_training=True)
# A small trainable text encoder with CLIP's interface and tokenizer (the real BPE vocabulary);
# trained with the model (its weights are saved in the checkpoint). One template, "{}.", in
# training and at test time (the 81 official templates are for the frozen CLIP encoder).
model.text_encoder = dict(embed_dim=48, width=48, layers=2, heads=4,  # noqa: F405
                          trainable=True, templates=('{}.',))
