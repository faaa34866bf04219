# UniVS model (R50 by default), as in the official configs/univs/Base.yaml + univs_r50_stage*.yaml.
# Stage configs (training schedule, data) read this base and override what differs.
from univs_bench.models.univs.backbone_resnet import ResNet
from univs_bench.models.univs.univs import UniVS, UniVSDataPreprocessor

model = dict(
    type=UniVS,
    data_preprocessor=dict(
        type=UniVSDataPreprocessor,
        mean=[123.675, 116.28, 103.53],  # PIXEL_MEAN (RGB, 0..255)
        std=[58.395, 57.12, 57.375],
        size_divisibility=32),
    backbone=dict(type=ResNet, depth=50, freeze_at=0),
    pixel_decoder=dict(
        conv_dim=256, mask_dim=256, num_groups=32, nheads=8, dim_feedforward=1024,
        enc_layers=6, n_points=4, num_transformer_levels=3),
    mask_decoder=dict(
        hidden_dim=256, num_queries=200, nheads=8, dim_feedforward=2048,
        num_layers=9,                 # DEC_LAYERS 10 = 9 layers + the prediction before them
        mask_dim=256,
        num_classes=3938,             # combined category list of the official text embeddings
        text_dim=640,                 # RegionCLIP RN50x4 text width
        self_attn_mask_type='sep',    # MASKDEC_SELF_ATTN_MASK_TYPE
        num_prompt_points=32,         # VISUAL_PROMPT_PIXELS_PER_IMAGE
        num_max_frames=128,           # 'ArbitraryT' 3D sine: frame index / 128
        shuffle_frames_in_training=True),
    criterion=None,                   # set by the stage configs
    class_embeds_path=None,           # CLIP embeddings of the category names (K, 640)
    text_encoder=None,                # dict(weights=..., bpe_path=...) for expressions
)
