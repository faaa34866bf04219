# univs_tiny trained on the synthetic YouTube-VIS 2021 suite on the CPU (300 iterations, under a
# minute on one core; matched-query mask IoU on its training clips ~0.86): the
# stage-2 recipe (short clips, category prompts, matched learnable queries, ReID) at toy
# scale. On first use `univs-bench train` writes the suite and converts it (`synthetic`).
#   univs-bench train configs/univs/univs_tiny_synth.py --work-dir work_dirs/tiny_synth
from mmengine.config import read_base

from univs_bench.datasets import MultiDatasetSampler, PackVideoInputs, UnifiedVideoDataset, video_collate

with read_base():
    from ._base_.runtime import *  # noqa: F401,F403
    from ._base_.schedules import *  # noqa: F401,F403
    from .univs_tiny import *  # noqa: F401,F403

synthetic = dict(out='data/synth', benchmark='ytvis21', split='train',
                 ann_file='data/synth/ytvis21_train.json',
                 videos=3, frames=6, size=(96, 96), seed=0)

model.mask_decoder.num_classes = 40  # noqa: F405  (YouTube-VIS categories, labels id - 1)
model.criterion = dict(num_points=1024, reid_weight=0.5)  # noqa: F405
train_dataloader = dict(
    batch_size=1,  # UniVS rejects category-prompt batches with unequal prompt counts
    num_workers=0,
    persistent_workers=False,
    collate_fn=dict(type=video_collate),
    sampler=dict(type=MultiDatasetSampler, batch_size=1, infinite=True),
    dataset=dict(type=UnifiedVideoDataset, ann_file=synthetic['ann_file'], num_frames=3,
                 frame_range=3, category_map={i: i - 1 for i in range(1, 41)},
                 pipeline=[dict(type=PackVideoInputs)]))

optim_wrapper.optimizer.lr = 2e-3  # noqa: F405
optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult = 1.0  # noqa: F405  (random-init backbone)
amp = False
train_cfg.max_iters = 300  # noqa: F405
param_scheduler[0].milestones = [250]  # noqa: F405
default_hooks.logger.interval = 10  # noqa: F405
default_hooks.checkpoint.interval = 100  # noqa: F405
randomness = dict(seed=0, deterministic=False)
torch_threads = 1
