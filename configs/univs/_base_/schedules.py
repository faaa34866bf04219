# Optimisation as in the official UniVS training (train_net.py ``build_optimizer``, Base.yaml
# SOLVER, detectron2 WarmupMultiStepLR). Stage configs override lr, iterations and milestones.
from mmengine.optim import MultiStepLR, OptimWrapper
from mmengine.runner import IterBasedTrainLoop
from torch.optim import AdamW

from univs_bench.train import UniVSOptimWrapperConstructor

optim_wrapper = dict(
    # univs_bench.train.train() makes this an AmpOptimWrapper (fp16 autocast + grad scaler,
    # as detectron2's AMP: SOLVER.AMP.ENABLED True) when CUDA is available and amp=True.
    type=OptimWrapper,
    constructor=UniVSOptimWrapperConstructor,
    optimizer=dict(type=AdamW, lr=5e-5, weight_decay=0.05),  # BASE_LR, WEIGHT_DECAY
    # CLIP_GRADIENTS: full_model, CLIP_VALUE 0.01, NORM_TYPE 2 (one norm over all parameters)
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,   # WEIGHT_DECAY_NORM 0.0: every norm layer (GN, LN, BN)
        embed_decay_mult=0.0,  # WEIGHT_DECAY_EMBED 0.0: every nn.Embedding (queries, temperatures)
        custom_keys={
            'backbone': dict(lr_mult=0.1),  # BACKBONE_MULTIPLIER
            'relative_position_bias_table': dict(decay_mult=0.0),  # Swin
            'absolute_pos_embed': dict(decay_mult=0.0),
        }))
amp = True  # mixed precision on GPU only (CPU runs stay fp32)

# WARMUP_FACTOR 1.0 makes the 10 warm-up iterations a no-op, so only the step decay remains
# (detectron2 SOLVER.GAMMA 0.1).
train_cfg = dict(type=IterBasedTrainLoop, max_iters=354000, val_interval=10 ** 9)
param_scheduler = [dict(type=MultiStepLR, by_epoch=False, milestones=[342000], gamma=0.1)]
auto_scale_lr = dict(enable=False, base_batch_size=8)
