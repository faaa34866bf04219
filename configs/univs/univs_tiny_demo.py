# univs_tiny for `make demo`: trained on the CPU (one thread, a few minutes) on a mixture of
# the synthetic suite's train splits, so that one model does every task of the suite:
#   category-specified detection/segmentation: ytvis21, ytvis19, ovis (things), vspw, vipseg
#     (things and stuff), with category prompts;
#   prompt-specified tracking: davis17, mose, ytvos18, burst, viposeg, with visual prompts
#     (mask, box or point of each object on the clip's first frame showing it).
# Label space: the synthetic world has 6 thing shapes and 5 stuff kinds, and each benchmark
# names them with its own category ids (univs_bench.synthetic.tables). The model gets ONE shared
# 11-class vocabulary (SHARED_CLASSES); `tiny_category_maps` maps each benchmark's category ids
# onto it, for training (the datasets' `category_map`) and for inference (stored in the
# checkpoint's meta['category_maps'] by univs_bench.models.univs_zoo.ensure_tiny_checkpoint).
# DAVIS/MOSE/YouTube-VOS train without a class loss (has_class=False, as UniVS for YouTube-VOS and
# MOSE); BURST and VIPOSeg keep theirs, so that tracked objects are classified too (a BURST
# track needs a category and exemplar prompts as converted carry none).
# RefVOS (refytvos, refdavis17): grounding clips with the expressions of the objects in the
# clip, read by the tiny trainable text encoder of univs_tiny.py (no class loss, as UniVS).
#
# The demo runs it through `ensure_tiny_checkpoint(work_dir)` (writes the suite, converts the
# train splits into <work_dir>/univs_tiny_train/data/ and points `ann_root` there). By hand:
#   python -c "from univs_bench.models.univs_zoo import ensure_tiny_checkpoint as e; print(e('work_dirs'))"
from mmengine.config import read_base
from mmengine.dataset import ConcatDataset

from univs_bench.datasets import MultiDatasetSampler, PackVideoInputs, UnifiedVideoDataset, video_collate
from univs_bench.datasets.transforms import ClipRandomFlip

with read_base():
    from .univs_tiny_synth import *  # noqa: F401,F403

synthetic = None  # the data comes from ensure_tiny_checkpoint (several benchmarks)

SHARED_CLASSES = ['circle', 'square', 'triangle', 'star', 'ring', 'diamond',
                  'sky', 'ground', 'water', 'wall', 'grass']
# benchmark -> {its category id: shared class}; ids from univs_bench.synthetic.tables
# (VSPW ids are the raw labels = VIPSeg id + 1; its diamonds are 'others').
tiny_category_maps = {
    'ytvis19': {1: 0, 6: 1, 28: 2, 16: 3, 19: 4, 34: 5},
    'ytvis21': {26: 0, 5: 1, 1: 2, 13: 3, 38: 4, 14: 5},
    'ovis': {1: 0, 25: 1, 23: 2, 19: 3, 20: 4, 24: 5},
    'vspw': {61: 0, 49: 1, 57: 2, 63: 3, 75: 4, 29: 6, 15: 7, 40: 8, 1: 9, 16: 10},
    'vipseg': {60: 0, 48: 1, 56: 2, 62: 3, 74: 4, 54: 5, 28: 6, 14: 7, 39: 8, 0: 9, 15: 10},
    'viposeg': {60: 0, 48: 1, 62: 2, 61: 3, 72: 4, 55: 5, 28: 6, 14: 7, 38: 8, 0: 9, 17: 10},
    'burst': {41: 0, 344: 1, 1140: 2, 1023: 3, 392: 4, 621: 5},
}

model.mask_decoder.num_classes = len(SHARED_CLASSES)  # noqa: F405
model.mask_decoder.num_queries = 16  # noqa: F405  (up to 4 things + 3 stuff per video)

ann_root = 'data/synth_demo/'  # ensure_tiny_checkpoint points this at <work_dir>/univs_tiny_train/data/
clip = dict(num_frames=3, frame_range=4)
train_pipeline = [dict(type=ClipRandomFlip, prob=0.5), dict(type=PackVideoInputs)]


# (benchmark, dataset kwargs, ratio)
demo_datasets = [
    ('ytvis21', dict(category_map=tiny_category_maps['ytvis21']), 0.15),
    ('ytvis19', dict(category_map=tiny_category_maps['ytvis19']), 0.1),
    ('ovis', dict(category_map=tiny_category_maps['ovis']), 0.1),
    ('vipseg', dict(category_map=tiny_category_maps['vipseg']), 0.2),
    ('vspw', dict(category_map=tiny_category_maps['vspw']), 0.15),
    ('davis17', dict(has_class=False), 0.07),
    ('mose', dict(has_class=False), 0.05),
    ('ytvos18', dict(has_class=False), 0.05),
    ('burst', dict(category_map=tiny_category_maps['burst']), 0.05),
    ('viposeg', dict(category_map=tiny_category_maps['viposeg']), 0.08),
    ('refytvos', dict(has_class=False), 0.12),
    ('refdavis17', dict(has_class=False), 0.08),
]
train_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    collate_fn=dict(type=video_collate),
    sampler=dict(type=MultiDatasetSampler, batch_size=1, infinite=True,
                 ratios=[r for _, _, r in demo_datasets]),
    dataset=dict(type=ConcatDataset,
                 datasets=[dict(type=UnifiedVideoDataset, ann_file=ann_root + n + '_train.json',
                                pipeline=train_pipeline, **clip, **kw) for n, kw, _ in demo_datasets]))

train_cfg.max_iters = 3000  # noqa: F405
param_scheduler[0].milestones = [2600]  # noqa: F405
default_hooks.logger.interval = 50  # noqa: F405
default_hooks.checkpoint.interval = 500  # noqa: F405
default_hooks.checkpoint.max_keep_ckpts = 1  # noqa: F405
