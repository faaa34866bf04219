# Training data of the three UniVS stages (official configs/univs/*_stage{1,2,3}.yaml, DATASETS).
#
# Every dataset is a converted annotation file in the unified schema (`univs-bench convert
# NAME --root RAW --split train --out FILE`); images count as one-frame videos. Each batch
# comes from one dataset drawn with the stage's ratios (MultiDatasetSampler; official
# combined_loader.py). Leaf configs set the frames per clip and the ratios.
from mmengine.dataset import ConcatDataset

from univs_bench.datasets import (
                                  ClipLargeScaleJitter,
                                  ClipRandomFlip,
                                  ClipResizeShortSide,
                                  MultiDatasetSampler,
                                  PackVideoInputs,
                                  UnifiedVideoDataset,
                                  video_collate,
)

ann_root = 'data/annotations/'

# Large-scale jitter (LSJ_AUG: IMAGE_SIZE 1024, scale 0.25..4.0), flip by clip; square crop
# and pad to 1024 (SQUARE_ENABLED True, stage 1 and the Swin stage-2 runs) ...
train_pipeline = [
    dict(type=ClipRandomFlip, prob=0.5),
    dict(type=ClipLargeScaleJitter, size=(1024, 1024), scale_range=(0.25, 4.0)),
    dict(type=PackVideoInputs),
]
# ... or, with SQUARE_ENABLED False (R50 stage 2, every stage-3 run), ResizeScale without the
# crop, then the short side from MIN_SIZE_TRAIN (choice by clip) capped by MAX_SIZE_TRAIN.
train_pipeline_nonsquare = [
    dict(type=ClipRandomFlip, prob=0.5),
    dict(type=ClipLargeScaleJitter, size=(1024, 1024), scale_range=(0.25, 4.0), crop=False,
         pad=False),
    dict(type=ClipResizeShortSide, short=(512, 544, 576, 608, 640, 672, 704, 736, 768, 800),
         max_size=1024),
    dict(type=PackVideoInputs),
]

# The official dataset names are in the comments; `task` overrides the file's own task.
# lvis_v1_train_video, coco_panoptic_train, rvos_refcoco-mixed, entityseg_panoptic_train, sa_1b_train_250k_1
lvis = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'lvis_v1_train.json', task='vis')
coco_panoptic = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'coco_panoptic_train.json', task='vps')
refcoco = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'refcoco_mixed_train.json', task='refvos')
entityseg = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'entityseg_train.json', task='vps')
sa1b = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'sa1b_train_250k_1.json', task='vos')
ovis = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'ovis_train.json')  # ovis_train
ytvis21 = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'ytvis21_train.json')  # ytvis_2021_train
vipseg = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'vipseg_train.json')  # vipseg_panoptic_train
refytvos = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'refytvos_train.json')  # rvos-refytb-train
ytvos18 = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'ytvos18_train.json')  # sot_ytbvos18_train
mose = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'mose_train.json')  # mots_mose_train
burst = dict(type=UnifiedVideoDataset, ann_file=ann_root + 'burst_train.json')  # mots_burst_train

# Stage 1 (image level): DATASET_RATIO of univs_*_stage1.yaml.
image_datasets = [lvis, coco_panoptic, refcoco, entityseg, sa1b]
stage1_ratios = [0.5, 1.0, 1.0, 1.0, 1.0]
# Stages 2 and 3 (video level), in the official order.
video_datasets = [lvis, ovis, ytvis21, entityseg, coco_panoptic, vipseg, refcoco, refytvos,
                  sa1b, ytvos18, mose, burst]
stage2_ratios = [0.15, 0.35, 0.25, 0.5, 0.25, 0.5, 0.5, 0.35, 0.25, 0.25, 0.15, 0.15]
# Stage 3 swaps the two referring ratios (refcoco 0.35, ref-ytvos 0.5); Swin-B uses 0.75 for
# refcoco (univs_swinb_stage3.yaml).
stage3_ratios = [0.15, 0.35, 0.25, 0.5, 0.25, 0.5, 0.35, 0.5, 0.25, 0.25, 0.15, 0.15]

# Stage 1: one frame per item (SAMPLING_FRAME_NUM 1, SAMPLING_FRAME_RANGE 10). One item per
# GPU: the official runs use IMS_PER_BATCH = number of GPUs (tools/run/*.sh).
train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    collate_fn=dict(type=video_collate),
    sampler=dict(type=MultiDatasetSampler, batch_size=1, ratios=stage1_ratios, infinite=True),
    dataset=dict(type=ConcatDataset,
                 datasets=[dict(d, num_frames=1, frame_range=10, pipeline=train_pipeline)
                           for d in image_datasets]))
