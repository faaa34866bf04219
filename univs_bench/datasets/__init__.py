"""MMEngine datasets, clip transforms and the multi-dataset sampler over converted annotation files.

Importing this package registers ``UnifiedVideoDataset`` (DATASETS), the clip transforms
(TRANSFORMS), ``MultiDatasetSampler`` (DATA_SAMPLERS) and the ``video_collate`` function
(MMEngine FUNCTIONS).
"""
from .sampler import MultiDatasetSampler, video_collate  # noqa: F401
from .transforms import (  # noqa: F401
                         ClipLargeScaleJitter,
                         ClipRandomFlip,
                         ClipResizeShortSide,
                         PackVideoInputs,
)
from .video_dataset import MODEL_TASKS, UnifiedVideoDataset  # noqa: F401
